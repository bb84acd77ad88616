//! Exercise 21, `block_on`: the suite of a thread-parking waker and
//! `block_on` for one future.

/// Tests of `block_on<F: Future>(future: F) -> F::Output`: polls the future
/// on the calling thread until it is ready, sleeping (not spinning) while it
/// waits, and wakes when its `Waker` is called, from any thread.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::block_on_suite!(crate::block_on);
/// ```
#[macro_export]
macro_rules! block_on_suite {
    ($block_on:path) => {
        #[cfg(not(loom))]
        mod block_on_suite {
            use std::future::{poll_fn, Future};
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use std::sync::{mpsc, Arc};
            use std::task::{Poll, Waker};

            use $crate::synclings::testing::{current_tid, wait_until_parked, within};
            use $crate::DEADLINE;

            /// Pending `times` times, waking itself each time (a yield).
            fn yields(times: usize, polls: Arc<AtomicUsize>) -> impl Future<Output = usize> {
                let mut left = times;
                poll_fn(move |cx| {
                    polls.fetch_add(1, SeqCst);
                    if left == 0 {
                        return Poll::Ready(times);
                    }
                    left -= 1;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                })
            }

            #[test]
            fn a_ready_future_gives_its_output() {
                let out = within(DEADLINE, "block_on(async { 42 })", || {
                    $block_on(async { 42 })
                });
                assert_eq!(out, 42);
                let text = within(
                    DEADLINE,
                    "block_on of an async block awaiting another",
                    || $block_on(async { async { "in" }.await.to_owned() + "ner" }),
                );
                assert_eq!(text, "inner");
            }

            /// A future that wakes itself before returning Pending: the
            /// wake-up comes before the thread waits, and must not be lost.
            #[test]
            fn a_future_that_wakes_itself_is_polled_again() {
                let polls = Arc::new(AtomicUsize::new(0));
                let p = polls.clone();
                let out = within(DEADLINE, "a future that yields 1000 times", move || {
                    $block_on(yields(1000, p))
                });
                assert_eq!(out, 1000);
                assert_eq!(
                    polls.load(SeqCst),
                    1001,
                    "one poll per wake-up, plus the last"
                );
            }

            /// The point of a waker: the thread sleeps until another thread
            /// says the future can go on.
            #[test]
            fn a_wake_from_another_thread_ends_the_wait_and_the_thread_sleeps_meanwhile() {
                let (tx, rx) = mpsc::channel::<(u32, Waker)>();
                let ready = Arc::new(AtomicBool::new(false));
                let r = ready.clone();
                let waker_thread = std::thread::spawn(move || {
                    let (tid, waker) = rx.recv().expect("the future sends its waker");
                    // block_on must be asleep, not polling in a loop.
                    wait_until_parked(DEADLINE, "block_on sleeps while the future waits", tid);
                    r.store(true, SeqCst);
                    waker.wake();
                });
                let polls = within(DEADLINE, "a future woken by another thread", move || {
                    let tid = current_tid();
                    let mut sent = Some(tx);
                    let mut polls = 0;
                    $block_on(poll_fn(move |cx| {
                        polls += 1;
                        if ready.load(SeqCst) {
                            return Poll::Ready(polls);
                        }
                        if let Some(tx) = sent.take() {
                            tx.send((tid, cx.waker().clone())).unwrap();
                        }
                        Poll::Pending
                    }))
                });
                waker_thread.join().unwrap();
                assert!(polls >= 2, "polled again after the wake-up");
                assert!(
                    polls <= 10,
                    "{polls} polls: block_on polls in a loop instead of waiting"
                );
            }

            /// Many round trips with a thread: every wake-up gets through.
            #[test]
            fn a_thousand_cross_thread_wake_ups_all_get_through() {
                let rounds = within(DEADLINE, "1000 ping-pongs with a waker thread", || {
                    let (tx, rx) = mpsc::channel::<Option<Waker>>();
                    let helper = std::thread::spawn(move || {
                        while let Ok(Some(waker)) = rx.recv() {
                            waker.wake();
                        }
                    });
                    let done = $block_on(async move {
                        for _ in 0..1000 {
                            let mut sent = false;
                            poll_fn(|cx| {
                                if sent {
                                    return Poll::Ready(());
                                }
                                sent = true;
                                tx.send(Some(cx.waker().clone())).unwrap();
                                Poll::Pending
                            })
                            .await;
                        }
                        tx.send(None).unwrap();
                        1000
                    });
                    helper.join().unwrap();
                    done
                });
                assert_eq!(rounds, 1000);
            }
        }
    };
}
