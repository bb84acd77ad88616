//! Exercise 24, `echo_asyncio`: the suite of the seed's asyncio echo server
//! (program 11): exercise 19's tests (it is the same server, written with
//! tasks instead of callbacks), and the back-pressure `drain` gives.

/// Tests of `serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()>`
/// built on `synclings::asyncio`: every test of
/// [`echo_selector_suite!`](crate::echo_selector_suite) (one thread,
/// replies uppercased, asleep while idle, woken by the shutdown), and a
/// client that never reads its replies must not stall the others.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::echo_asyncio_suite!(crate::serve);
/// ```
#[macro_export]
macro_rules! echo_asyncio_suite {
    ($serve:path) => {
        $crate::echo_selector_suite!($serve);

        #[cfg(not(loom))]
        mod echo_asyncio_suite {
            use std::io::Write;

            $crate::__echo_harness!();

            /// `write` only queues; without `drain` (or with a blocking
            /// write) one client that never reads would stall the loop.
            #[test]
            fn a_client_that_never_reads_stalls_only_its_own_task() {
                let server = harness::start(|listener, stop| $serve(listener, stop));
                let hog = server.connect();
                hog.set_nonblocking(true).expect("non-blocking");
                let chunk = vec![b'h'; 64 * 1024];
                // Far more than the kernel buffers hold: the server's replies
                // to it pile up unread (bounded: the writes fail once full).
                for _ in 0..256 {
                    if (&hog).write(&chunk).is_err() {
                        break;
                    }
                }
                let other = server.connect();
                harness::assert_echo(&other, b"still served");
                harness::assert_echo(&other, b"and again");
                drop(hog);
                server
                    .stop()
                    .expect("serve returns Ok(()) once the shutdown is requested");
            }
        }
    };
}
