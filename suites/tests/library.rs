//! The "build X" suites run against the library's own X: the production
//! version must pass exactly what the learner's and the solution's pass.

synclings_suites::event_suite!(synclings::Event);
synclings_suites::semaphore_suite!(synclings::Semaphore);
synclings_suites::rlock_suite!(synclings::RLock);
synclings_suites::condition_suite!(synclings::Condition);
synclings_suites::timer_suite!(synclings::Timer);
synclings_suites::queue_suite!(synclings::Queue);
synclings_suites::thread_pool_suite!(synclings::ThreadPool);
synclings_suites::block_on_suite!(synclings::asyncio::run);
