//! Exercise 23, `timer_reactor`: the suite of `sleep` on a timer heap and a
//! reactor turn over the `Selector`.

/// Tests of a runtime type with `new() -> io::Result<Self>`, `sleep(&self,
/// Duration)` and `readable(&self, &impl AsFd)` (futures: ready once the
/// time has passed / the source is readable, `io::Result<()>`), and
/// `block_on(&self, future)`, which sleeps in the selector while the
/// future waits.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::timer_reactor_suite!(crate::Runtime);
/// ```
#[macro_export]
macro_rules! timer_reactor_suite {
    ($runtime:ty) => {
        #[cfg(not(loom))]
        mod timer_reactor_suite {
            use std::cell::RefCell;
            use std::future::{poll_fn, Future};
            use std::io::{Read, Write};
            use std::os::unix::net::UnixStream;
            use std::pin::Pin;
            use std::rc::Rc;
            use std::sync::mpsc;
            use std::task::Poll;
            use std::time::{Duration, Instant};

            use $crate::synclings::testing::{current_tid, wait_until_parked, within};
            use $crate::DEADLINE;

            type Subject = $runtime;

            /// Polls every future whenever woken, until all are done.
            async fn join_all(mut futures: Vec<Pin<Box<dyn Future<Output = ()> + '_>>>) {
                poll_fn(|cx| {
                    futures.retain_mut(|f| f.as_mut().poll(cx).is_pending());
                    if futures.is_empty() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await
            }

            #[test]
            fn a_sleep_never_ends_early() {
                let waited = within(DEADLINE, "sleep(30 ms)", || {
                    let rt = <Subject>::new().expect("a runtime");
                    let start = Instant::now();
                    rt.block_on(rt.sleep(Duration::from_millis(30)));
                    start.elapsed()
                });
                assert!(waited >= Duration::from_millis(30), "woke after {waited:?}");
            }

            #[test]
            fn concurrent_sleeps_end_in_deadline_order() {
                let order = within(DEADLINE, "three sleeps at once", || {
                    let rt = <Subject>::new().expect("a runtime");
                    let order = Rc::new(RefCell::new(Vec::new()));
                    let sleeps: Vec<Pin<Box<dyn Future<Output = ()>>>> = [30u64, 10, 20]
                        .into_iter()
                        .map(|ms| {
                            let (rt, order) = (rt.clone(), order.clone());
                            Box::pin(async move {
                                rt.sleep(Duration::from_millis(ms)).await;
                                order.borrow_mut().push(ms);
                            }) as Pin<Box<dyn Future<Output = ()>>>
                        })
                        .collect();
                    rt.block_on(join_all(sleeps));
                    let order = order.borrow().clone();
                    order
                });
                assert_eq!(order, [10, 20, 30]);
            }

            /// 500 timers, after 50 dropped before they fired (stale heap
            /// entries): every one fires, none before its time.
            #[test]
            fn many_timers_all_fire_on_time_and_dropped_ones_are_skipped() {
                let order = within(DEADLINE, "500 sleeps", || {
                    let rt = <Subject>::new().expect("a runtime");
                    let order = Rc::new(RefCell::new(Vec::new()));
                    let mut dropped = Vec::new();
                    for i in 0..50u64 {
                        let mut s = Box::pin(rt.sleep(Duration::from_millis(1 + i)));
                        // Registered, then dropped below: a stale heap entry.
                        let _ = rt.block_on(poll_fn(|cx| Poll::Ready(s.as_mut().poll(cx))));
                        dropped.push(s);
                    }
                    drop(dropped);
                    let sleeps: Vec<Pin<Box<dyn Future<Output = ()>>>> = (0..500u64)
                        .map(|i| {
                            let (rt, order) = (rt.clone(), order.clone());
                            let ms = (i * 7919) % 40;
                            Box::pin(async move {
                                let start = Instant::now();
                                rt.sleep(Duration::from_millis(ms)).await;
                                order.borrow_mut().push((ms, start.elapsed()));
                            }) as Pin<Box<dyn Future<Output = ()>>>
                        })
                        .collect();
                    rt.block_on(join_all(sleeps));
                    let order = order.borrow().clone();
                    order
                });
                assert_eq!(order.len(), 500, "every timer fired");
                for (ms, waited) in order {
                    assert!(
                        waited >= Duration::from_millis(ms),
                        "a {ms} ms sleep ended after {waited:?}"
                    );
                }
            }

            /// The reactor's other half: a task waits for a socket, the
            /// thread sleeps in `select` until a peer writes.
            #[test]
            fn readable_ends_when_the_peer_writes_and_the_thread_sleeps_meanwhile() {
                let (mut ours, mut theirs) = UnixStream::pair().expect("a socket pair");
                let (tx, rx) = mpsc::channel();
                let peer = std::thread::spawn(move || {
                    let tid = rx.recv().expect("the runtime's thread id");
                    wait_until_parked(DEADLINE, "the runtime sleeps in select", tid);
                    theirs.write_all(b"ping").expect("write");
                    theirs
                });
                let got = within(DEADLINE, "wait for the socket", move || {
                    let rt = <Subject>::new().expect("a runtime");
                    tx.send(current_tid()).unwrap();
                    rt.block_on(rt.readable(&ours)).expect("readable");
                    let mut buf = [0u8; 4];
                    ours.read_exact(&mut buf).expect("the data is there");
                    buf
                });
                assert_eq!(&got, b"ping");
                drop(peer.join().unwrap());
            }

            /// A far timer and a socket at once: the socket wins, one turn
            /// handles both kinds of wake-up.
            #[test]
            fn a_socket_and_a_far_timer_at_once_the_socket_wins() {
                let (ours, mut theirs) = UnixStream::pair().expect("a socket pair");
                let (tx, rx) = mpsc::channel();
                let peer = std::thread::spawn(move || {
                    let tid = rx.recv().expect("the runtime's thread id");
                    wait_until_parked(DEADLINE, "the runtime sleeps in select", tid);
                    theirs.write_all(b"x").expect("write");
                    theirs
                });
                let first = within(DEADLINE, "socket or timer", move || {
                    let rt = <Subject>::new().expect("a runtime");
                    tx.send(current_tid()).unwrap();
                    let mut sleep = Box::pin(rt.sleep(Duration::from_secs(3600)));
                    let mut readable = Box::pin(rt.readable(&ours));
                    rt.block_on(poll_fn(|cx| {
                        if let Poll::Ready(r) = readable.as_mut().poll(cx) {
                            r.expect("readable");
                            return Poll::Ready("socket");
                        }
                        if sleep.as_mut().poll(cx).is_ready() {
                            return Poll::Ready("timer");
                        }
                        Poll::Pending
                    }))
                });
                assert_eq!(first, "socket");
                drop(peer.join().unwrap());
            }
        }
    };
}
