//! Exercise 10, `timer`: the suite of a `threading.Timer` with cancel.

/// Tests (and, under `--cfg loom`, loom models) of a `Timer` type with
/// `new(Duration, impl FnOnce() + Send + 'static)`,
/// `start(&self) -> Result<(), synclings::TimerError>` (a second start is
/// `TimerError::AlreadyStarted`), `cancel(&self)`,
/// `join(&self) -> Result<(), TimerError>` (`TimerError::NotStarted` before
/// `start`) and `is_finished(&self) -> bool`. `Timer` must be `Send + Sync`.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::timer_suite!(crate::Timer);
/// ```
#[macro_export]
macro_rules! timer_suite {
    ($timer:ty) => {
        #[cfg(not(loom))]
        mod timer_suite {
            use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
            use std::sync::{mpsc, Arc};
            use std::time::{Duration, Instant};
            use $crate::synclings::testing::within;
            use $crate::synclings::TimerError;
            use $crate::DEADLINE;

            type Subject = $timer;

            /// A timer whose callback counts its runs.
            fn counting_timer(interval: Duration) -> (Arc<Subject>, Arc<AtomicUsize>) {
                let runs = Arc::new(AtomicUsize::new(0));
                let r = runs.clone();
                let timer = <Subject>::new(interval, move || {
                    r.fetch_add(1, SeqCst);
                });
                (Arc::new(timer), runs)
            }

            fn start(timer: &Arc<Subject>) -> Result<(), TimerError> {
                let t = timer.clone();
                within(DEADLINE, "start() returns (it must not wait for the interval)", move || t.start())
            }

            fn join(timer: &Arc<Subject>) -> Result<(), TimerError> {
                let t = timer.clone();
                within(DEADLINE, "join() returns", move || t.join())
            }

            #[test]
            fn fires_once_after_the_interval_on_another_thread() {
                let interval = Duration::from_millis(50);
                let (tx, rx) = mpsc::channel();
                let timer = Arc::new(<Subject>::new(interval, move || {
                    tx.send((std::thread::current().id(), Instant::now())).unwrap();
                }));
                let t = timer.clone();
                let (caller, started_at) = within(DEADLINE, "start() returns", move || {
                    let started_at = Instant::now();
                    t.start().expect("a new timer starts");
                    (std::thread::current().id(), started_at)
                });
                join(&timer).expect("join() after the callback ran is Ok");
                assert!(timer.is_finished(), "is_finished() once join() returned");
                let (runner, fired_at) = rx.try_recv().expect("the callback ran before join() returned");
                assert_ne!(runner, caller, "the callback runs on the timer's own thread, not in start()");
                let after = fired_at.duration_since(started_at);
                assert!(after >= interval, "fired {after:?} after start(), before its interval {interval:?}");
                assert!(rx.try_recv().is_err(), "the callback ran once");
            }

            #[test]
            fn cancel_before_it_fires_means_it_never_runs() {
                let (timer, runs) = counting_timer(Duration::from_secs(3600));
                start(&timer).expect("a new timer starts");
                assert!(!timer.is_finished(), "an hour to go: not finished");
                timer.cancel();
                join(&timer).expect("join() after cancel() is Ok");
                assert!(timer.is_finished(), "a cancelled timer is finished once joined");
                assert_eq!(runs.load(SeqCst), 0, "cancelled in time: the callback never runs");
            }

            #[test]
            fn cancel_after_it_fired_is_harmless() {
                let (timer, runs) = counting_timer(Duration::from_millis(1));
                start(&timer).expect("a new timer starts");
                join(&timer).expect("the callback ran");
                timer.cancel();
                timer.cancel();
                join(&timer).expect("join() again is Ok");
                assert!(timer.is_finished());
                assert_eq!(runs.load(SeqCst), 1, "ran once; the late cancels changed nothing");
            }

            #[test]
            fn cancel_while_the_callback_runs_is_harmless() {
                let (began_tx, began_rx) = mpsc::channel();
                let (go_tx, go_rx) = mpsc::channel::<()>();
                let runs = Arc::new(AtomicUsize::new(0));
                let r = runs.clone();
                let timer = Arc::new(<Subject>::new(Duration::from_millis(1), move || {
                    began_tx.send(()).unwrap();
                    // Bounded: a broken test must not leave this thread stuck.
                    let _ = go_rx.recv_timeout(DEADLINE);
                    r.fetch_add(1, SeqCst);
                }));
                start(&timer).expect("a new timer starts");
                began_rx.recv_timeout(DEADLINE).expect("the callback begins");
                let t = timer.clone();
                within(DEADLINE, "cancel() returns while the callback runs (run it outside your lock)", move || {
                    t.cancel()
                });
                go_tx.send(()).unwrap();
                join(&timer).expect("the callback finished");
                assert_eq!(runs.load(SeqCst), 1, "a cancel after the callback began does not stop it");
                assert!(timer.is_finished());
            }

            #[test]
            fn starting_twice_is_an_error() {
                let (timer, runs) = counting_timer(Duration::from_millis(1));
                start(&timer).expect("a new timer starts");
                let again = start(&timer);
                assert!(
                    matches!(again, Err(TimerError::AlreadyStarted)),
                    "a second start() is Err(AlreadyStarted), got {again:?}"
                );
                join(&timer).expect("the callback ran");
                let late = start(&timer);
                assert!(
                    matches!(late, Err(TimerError::AlreadyStarted)),
                    "a timer runs once: start() after it finished is Err(AlreadyStarted), got {late:?}"
                );
                assert_eq!(runs.load(SeqCst), 1, "the callback ran once");
            }

            #[test]
            fn join_before_start_is_an_error() {
                let (timer, runs) = counting_timer(Duration::from_millis(1));
                assert!(!timer.is_finished(), "not started: not finished");
                let early = join(&timer);
                assert!(
                    matches!(early, Err(TimerError::NotStarted)),
                    "join() before start() is Err(NotStarted), got {early:?}"
                );
                start(&timer).expect("the failed join changed nothing: it starts");
                join(&timer).expect("the callback ran");
                assert_eq!(runs.load(SeqCst), 1);
            }

            #[test]
            fn a_timer_cancelled_before_start_never_runs() {
                let (timer, runs) = counting_timer(Duration::from_millis(1));
                timer.cancel();
                start(&timer).expect("a cancelled timer still starts (Python: it finishes at once)");
                join(&timer).expect("join() is Ok");
                assert!(timer.is_finished());
                assert_eq!(runs.load(SeqCst), 0, "cancelled before start: the callback never runs");
            }

            #[test]
            fn every_joiner_returns_once_it_fired() {
                let (timer, runs) = counting_timer(Duration::from_millis(20));
                start(&timer).expect("a new timer starts");
                let joiners: Vec<_> = (0..3)
                    .map(|_| {
                        let (timer, runs) = (timer.clone(), runs.clone());
                        std::thread::spawn(move || {
                            timer.join().expect("join() is Ok");
                            runs.load(SeqCst)
                        })
                    })
                    .collect();
                let seen = within(DEADLINE, "all 3 joiners return", move || {
                    joiners.into_iter().map(|j| j.join().unwrap()).collect::<Vec<_>>()
                });
                assert_eq!(seen, [1, 1, 1], "each joiner returned after the callback ran");
            }
        }

        #[cfg(loom)]
        mod timer_loom {
            use std::collections::BTreeSet;
            use $crate::synclings::sync::atomic::{AtomicUsize, Ordering::SeqCst};
            use $crate::synclings::sync::{thread, Arc, Duration};

            type Subject = $timer;

            /// A timer whose callback counts its runs. Its interval is long,
            /// but under loom a timed wait may "time out" at any point.
            fn counting_timer() -> (Arc<Subject>, Arc<AtomicUsize>) {
                let runs = Arc::new(AtomicUsize::new(0));
                let r = runs.clone();
                let timer = <Subject>::new(Duration::from_secs(3600), move || {
                    r.fetch_add(1, SeqCst);
                });
                (Arc::new(timer), runs)
            }

            /// Runs `model` under loom and checks that, across executions, it
            /// returned every one of `expected` (the race was explored).
            fn model_covering(expected: &[&'static str], model: fn() -> &'static str) {
                let seen = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
                let s = seen.clone();
                $crate::loom::model(move || {
                    let outcome = model();
                    s.lock().unwrap().insert(outcome);
                });
                let seen = seen.lock().unwrap();
                for outcome in expected {
                    assert!(seen.contains(outcome), "loom never saw: {outcome} (saw {seen:?})");
                }
            }

            /// `cancel` on another thread against the timer thread's timeout,
            /// while the main thread joins: join returns (no lost wake-up),
            /// the callback runs at most once, and both outcomes happen
            /// (a cancel that does nothing would never give "not run").
            #[test]
            fn cancel_races_the_fire() {
                model_covering(&["ran", "not run"], || {
                    let (timer, runs) = counting_timer();
                    timer.start().unwrap();
                    let t = timer.clone();
                    let canceller = thread::spawn(move || t.cancel());
                    timer.join().unwrap();
                    canceller.join().unwrap();
                    assert!(timer.is_finished());
                    match runs.load(SeqCst) {
                        0 => "not run",
                        1 => "ran",
                        n => panic!("the callback ran {n} times"),
                    }
                });
            }

            /// Two joiners going to sleep against the timer thread finishing:
            /// both return (a finish that wakes one joiner strands the other),
            /// and each sees the callback's run.
            #[test]
            fn joiners_race_the_finish() {
                model_covering(&["joined"], || {
                    let (timer, runs) = counting_timer();
                    timer.start().unwrap();
                    let (t, r) = (timer.clone(), runs.clone());
                    let joiner = thread::spawn(move || {
                        t.join().unwrap();
                        assert_eq!(r.load(SeqCst), 1, "joined before the callback ran");
                    });
                    timer.join().unwrap();
                    assert_eq!(runs.load(SeqCst), 1, "joined before the callback ran");
                    joiner.join().unwrap();
                    "joined"
                });
            }
        }
    };
}
