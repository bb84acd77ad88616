//! `cargo run -- tour`: a tour of the library that replays the seed's Python
//! programs with synclings' primitives, printing what the Python printed.
//!
//! Each step names the Python it mirrors. Delays are shortened (the seed
//! sleeps 10 s or 30 s; the tour waits fractions of a second).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use synclings::thread::{active_count, current_name, spawn_named, ThreadPool};
use synclings::{Event, Lock, Queue, Scheduler, Semaphore, Timer};

/// Runs every step of the tour.
pub fn run() {
    let steps: [(&str, fn()); 8] = [
        (
            "seed 1: ten threads, the main thread joins them all",
            ten_threads,
        ),
        (
            "seed 2: a thread-local `name` per thread",
            thread_local_names,
        ),
        ("q. 18: a shared counter behind a Lock", shared_counter),
        (
            "seed 4: ten threads wait for the main thread's Event",
            event_gate,
        ),
        ("seed 5: ten threads, Semaphore(5)", bounded_concurrency),
        (
            "seed 6: say hello after a delay with a Timer (no sleep)",
            timer_hello,
        ),
        (
            "q. 32: producer-consumer over a bounded Queue with poison pills",
            producer_consumer,
        ),
        (
            "q. 23: a thread pool with a bounded backlog; many timers on one thread",
            pool_and_scheduler,
        ),
    ];
    for (i, (title, step)) in steps.iter().enumerate() {
        println!("\n== {}. {title}", i + 1);
        step();
    }
    println!("\nDone. README.md maps every Python name to Rust; `cargo run` shows the course.");
}

/// `Thread(target=task).start()` ten times, then `join()` each.
fn ten_threads() {
    let handles: Vec<_> = (0..10)
        .map(|n| {
            spawn_named(format!("Thread-{}", n + 1), move || {
                println!("thread name: {} {n}", current_name());
                // Each thread reports the live count, as `activeCount()` does.
                println!("active threads: {}", active_count());
            })
            .expect("spawn a thread")
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
    println!(
        "main ({}), ---end---, active threads now: {}",
        current_name(),
        active_count()
    );
}

thread_local! {
    /// Python's `threading.local()` with a `name` attribute.
    static NAME: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn thread_local_names() {
    let handles: Vec<_> = (0..10)
        .map(|i| {
            spawn_named(format!("worker-{i}"), move || {
                NAME.with(|n| *n.borrow_mut() = format!("alex_{i}"));
                NAME.with(|n| println!("{} is running", n.borrow()));
            })
            .expect("spawn a thread")
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
    NAME.with(|n| println!("----main---- (its own name is still {:?})", n.borrow()));
}

fn shared_counter() {
    let li = Arc::new(Lock::new(vec![1, 2, 3, 4]));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let li = li.clone();
            spawn_named(format!("adder-{i}"), move || {
                for _ in 0..1000 {
                    li.acquire().push(i);
                }
            })
            .expect("spawn a thread")
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
    println!(
        "4 threads × 1000 pushes: li has {} items (4 + 4000: no update lost). \
         A function that touches li without the lock does not compile: the list lives inside the Lock.",
        li.acquire().len()
    );
}

fn now() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", t.as_secs(), t.subsec_micros())
}

fn event_gate() {
    let gate = Arc::new(Event::new());
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let gate = gate.clone();
            spawn_named(format!("waiter-{i}"), move || {
                gate.wait();
                println!("time: {}", now());
            })
            .expect("spawn a thread")
        })
        .collect();
    let opened = Instant::now();
    // The seed sleeps 10 s; a Timer opens the gate after 300 ms instead.
    let g = gate.clone();
    let opener = Timer::new(Duration::from_millis(300), move || g.set());
    opener.start().expect("first start");
    for h in handles {
        h.join().expect("thread finished");
    }
    println!(
        "all ten released {:?} after the gate timer started",
        opened.elapsed()
    );
}

fn bounded_concurrency() {
    let sem = Arc::new(Semaphore::new(5));
    let inside = Arc::new(Lock::new((0usize, 0usize))); // (now, peak)
    let handles: Vec<_> = (0..10)
        .map(|n| {
            let (sem, inside) = (sem.clone(), inside.clone());
            spawn_named(format!("Thread-{}", n + 1), move || {
                let _permit = sem.acquire();
                {
                    let mut c = inside.acquire();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                println!("{n}-- {}", current_name());
                std::thread::sleep(Duration::from_millis(50));
                inside.acquire().0 -= 1;
                println!("end");
            })
            .expect("spawn a thread")
        })
        .collect();
    for h in handles {
        h.join().expect("thread finished");
    }
    println!(
        "peak concurrency: {} (the Semaphore allows 5)",
        inside.acquire().1
    );
}

fn timer_hello() {
    let t = Timer::new(Duration::from_millis(200), || {
        println!("alex say Hello World!")
    });
    t.start().expect("first start");
    println!("timer started; the main thread goes on without sleeping");
    t.join().expect("the callback ran");
}

fn producer_consumer() {
    let q: Arc<Queue<Option<u32>>> = Arc::new(Queue::new(3));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = q.clone();
            spawn_named(format!("producer-{p}"), move || {
                for i in 0..5 {
                    println!("produce: {i} --- {}", current_name());
                    q.put(Some(i)).expect("queue open");
                }
            })
            .expect("spawn a thread")
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|c| {
            let q = q.clone();
            spawn_named(format!("consumer-{c}"), move || {
                let mut got = 0;
                while let Ok(Some(item)) = q.get() {
                    println!("consumed: {item} --- {}", current_name());
                    got += 1;
                }
                got
            })
            .expect("spawn a thread")
        })
        .collect();
    for p in producers {
        p.join().expect("producer finished");
    }
    for _ in 0..3 {
        q.put(None).expect("queue open"); // one poison pill per consumer
    }
    let total: u32 = consumers
        .into_iter()
        .map(|c| c.join().expect("consumer finished"))
        .sum();
    println!("main: {total} items consumed (2 producers × 5)");
}

fn pool_and_scheduler() {
    let pool = ThreadPool::new(4, 8).expect("4 workers");
    let squares: Vec<u64> = pool
        .map(|x: u64| x * x, 0..10)
        .map(|r| r.expect("task ran"))
        .collect();
    println!("pool.map(square, range(10)) = {squares:?}");
    let boom = pool
        .submit(|| -> u32 { panic!("task failed on purpose") })
        .expect("pool open");
    println!(
        "a panicking task is reported, not fatal: {:?}",
        boom.join().err()
    );
    pool.shutdown(true);

    let sched = Scheduler::new();
    let fired = Arc::new(Lock::new(0usize));
    let done = Arc::new(Event::new());
    const N: usize = 100_000;
    let t0 = Instant::now();
    for i in 0..N {
        let (fired, done) = (fired.clone(), done.clone());
        sched.schedule(Duration::from_micros((i % 1000) as u64), move || {
            let mut f = fired.acquire();
            *f += 1;
            if *f == N {
                done.set();
            }
        });
    }
    done.wait();
    println!(
        "{N} timers fired on one scheduler thread in {:?}",
        t0.elapsed()
    );
}
