//! `Timer` against the semantics of Python's `threading.Timer` (CPython's
//! `TimerTests` and the `Thread.start`/`join` checks of `test_threading`).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use synclings::testing::{eventually, within, DEADLINE};
use synclings::{Timer, TimerError};

/// A long interval: a test cancels long before it ends.
const HOUR: Duration = Duration::from_secs(3600);

fn counting_timer(interval: Duration) -> (Arc<Timer>, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let timer = Timer::new(interval, move || {
        r.fetch_add(1, SeqCst);
    });
    (Arc::new(timer), runs)
}

fn join(timer: &Arc<Timer>) -> Result<(), TimerError> {
    let timer = timer.clone();
    within(DEADLINE, "the timer thread finishes", move || timer.join())
}

#[test]
fn timer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Timer>();
    assert_send_sync::<TimerError>();
}

#[test]
fn fires_once_after_the_interval() {
    let interval = Duration::from_millis(50);
    let elapsed = Arc::new(Mutex::new(Vec::new()));
    let e = elapsed.clone();
    let started = Instant::now();
    let timer = Arc::new(Timer::new(interval, move || {
        e.lock().unwrap().push(started.elapsed());
    }));
    timer.start().unwrap();
    join(&timer).unwrap();
    let elapsed = elapsed.lock().unwrap();
    assert_eq!(elapsed.len(), 1, "the callback runs exactly once");
    assert!(
        elapsed[0] >= interval,
        "the callback ran after {:?}, before the interval {interval:?}",
        elapsed[0]
    );
    assert!(timer.is_finished());
    assert!(!timer.is_cancelled());
}

#[test]
fn runs_on_a_thread_named_timer() {
    let (tx, rx) = mpsc::channel();
    let timer = Arc::new(Timer::new(Duration::ZERO, move || {
        let name = std::thread::current().name().map(str::to_owned);
        tx.send(name).unwrap();
    }));
    timer.start().unwrap();
    join(&timer).unwrap();
    assert_eq!(rx.recv().unwrap().as_deref(), Some("timer"));
}

#[test]
fn cancel_before_the_interval_ends_means_it_never_runs() {
    let (timer, runs) = counting_timer(HOUR);
    timer.start().unwrap();
    timer.cancel();
    // The cancel wakes the timer thread: join returns long before the hour.
    join(&timer).unwrap();
    assert_eq!(runs.load(SeqCst), 0, "a cancelled timer ran its callback");
    assert!(timer.is_cancelled());
    assert!(timer.is_finished());
}

#[test]
fn cancel_before_start_finishes_without_running() {
    let (timer, runs) = counting_timer(Duration::ZERO);
    timer.cancel();
    timer
        .start()
        .expect("a cancelled timer still starts (as in Python)");
    join(&timer).unwrap();
    assert_eq!(runs.load(SeqCst), 0);
    assert!(timer.is_cancelled());
    assert!(timer.is_finished());
}

#[test]
fn cancel_drops_the_callback() {
    let token = Arc::new(());
    let held = token.clone();
    let timer = Arc::new(Timer::new(HOUR, move || drop(held)));
    timer.start().unwrap();
    timer.cancel();
    join(&timer).unwrap();
    assert_eq!(
        Arc::strong_count(&token),
        1,
        "the cancelled callback was not dropped"
    );
}

#[test]
fn cancel_after_it_ran_is_harmless() {
    let (timer, runs) = counting_timer(Duration::ZERO);
    timer.start().unwrap();
    join(&timer).unwrap();
    timer.cancel();
    timer.cancel();
    assert_eq!(runs.load(SeqCst), 1);
    assert!(
        !timer.is_cancelled(),
        "a cancel after the run stopped nothing"
    );
    join(&timer).expect("join again after the cancel");
}

#[test]
fn cancel_while_it_runs_is_harmless() {
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let timer = Arc::new(Timer::new(Duration::ZERO, move || {
        started_tx.send(()).unwrap();
        release_rx
            .recv_timeout(DEADLINE)
            .expect("released by the test");
        d.fetch_add(1, SeqCst);
    }));
    timer.start().unwrap();
    started_rx
        .recv_timeout(DEADLINE)
        .expect("the callback starts");
    timer.cancel();
    assert!(!timer.is_finished(), "the callback is still running");
    release_tx.send(()).unwrap();
    join(&timer).unwrap();
    assert_eq!(done.load(SeqCst), 1, "the running callback completed");
    assert!(!timer.is_cancelled());
}

#[test]
fn start_twice_is_an_error() {
    let (timer, runs) = counting_timer(Duration::ZERO);
    timer.start().unwrap();
    let second = timer.start();
    assert!(
        matches!(second, Err(TimerError::AlreadyStarted)),
        "{second:?}"
    );
    join(&timer).unwrap();
    let third = timer.start();
    assert!(
        matches!(third, Err(TimerError::AlreadyStarted)),
        "{third:?}"
    );
    assert_eq!(runs.load(SeqCst), 1, "the callback ran once");
}

#[test]
fn join_before_start_is_an_error() {
    let (timer, _runs) = counting_timer(Duration::ZERO);
    assert!(matches!(timer.join(), Err(TimerError::NotStarted)));
    assert!(matches!(
        timer.join_timeout(Duration::ZERO),
        Some(Err(TimerError::NotStarted))
    ));
    timer.cancel();
    assert!(
        matches!(timer.join(), Err(TimerError::NotStarted)),
        "a cancelled timer that was never started has nothing to join"
    );
}

#[test]
fn join_from_the_callback_is_an_error() {
    let slot: Arc<Mutex<Option<Arc<Timer>>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let s = slot.clone();
    let timer = Arc::new(Timer::new(Duration::ZERO, move || {
        let me = s.lock().unwrap().take().expect("the test stored the timer");
        tx.send(me.join()).unwrap();
    }));
    *slot.lock().unwrap() = Some(timer.clone());
    timer.start().unwrap();
    join(&timer).unwrap();
    let from_callback = rx.recv().unwrap();
    assert!(
        matches!(from_callback, Err(TimerError::JoinFromCallback)),
        "{from_callback:?}"
    );
}

#[test]
fn a_panicking_callback_is_reported_by_join_and_breaks_nothing() {
    let timer = Arc::new(Timer::new(Duration::ZERO, || panic!("boom in the timer")));
    timer.start().unwrap();
    match join(&timer) {
        Err(TimerError::Panicked(message)) => assert_eq!(message, "boom in the timer"),
        other => panic!("expected the panic to be reported, got {other:?}"),
    }
    // Reported again to every joiner, and the timer is finished.
    assert!(matches!(timer.join(), Err(TimerError::Panicked(_))));
    assert!(timer.is_finished());
    let message = timer.join().unwrap_err().to_string();
    assert!(message.contains("boom in the timer"), "{message}");

    // Another timer still works.
    let (second, runs) = counting_timer(Duration::ZERO);
    second.start().unwrap();
    join(&second).unwrap();
    assert_eq!(runs.load(SeqCst), 1);
}

#[test]
fn is_finished_follows_the_life_of_the_timer() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let timer = Arc::new(Timer::new(Duration::ZERO, move || {
        release_rx
            .recv_timeout(DEADLINE)
            .expect("released by the test");
    }));
    assert!(!timer.is_finished(), "not started");
    timer.start().unwrap();
    assert!(!timer.is_finished(), "the callback waits for the test");
    release_tx.send(()).unwrap();
    let t = timer.clone();
    eventually(DEADLINE, "the timer finishes", move || t.is_finished());
    join(&timer).unwrap();
}

#[test]
fn join_timeout_gives_up_then_succeeds_after_cancel() {
    let (timer, runs) = counting_timer(HOUR);
    timer.start().unwrap();
    let timeout = Duration::from_millis(30);
    let before = Instant::now();
    assert!(
        timer.join_timeout(timeout).is_none(),
        "the timer is still waiting"
    );
    assert!(before.elapsed() >= timeout, "join_timeout returned early");
    timer.cancel();
    let t = timer.clone();
    let result = within(DEADLINE, "join_timeout after cancel", move || {
        t.join_timeout(Duration::from_secs(3600))
    });
    assert!(matches!(result, Some(Ok(()))), "{result:?}");
    assert_eq!(runs.load(SeqCst), 0);
}

#[test]
fn several_threads_can_join() {
    let (timer, runs) = counting_timer(Duration::from_millis(20));
    timer.start().unwrap();
    let joiners: Vec<_> = (0..3)
        .map(|_| {
            let t = timer.clone();
            std::thread::spawn(move || t.join())
        })
        .collect();
    for joiner in joiners {
        within(DEADLINE, "a joiner returns", move || joiner.join().unwrap()).unwrap();
    }
    assert_eq!(runs.load(SeqCst), 1);
}

#[test]
fn dropping_a_started_timer_does_not_cancel_it() {
    let (timer, runs) = counting_timer(Duration::from_millis(10));
    timer.start().unwrap();
    drop(timer);
    eventually(DEADLINE, "the dropped timer still fires", || {
        runs.load(SeqCst) == 1
    });
}

#[test]
fn debug_and_display_say_what_matters() {
    let timer = Timer::new(Duration::from_secs(1), || {});
    let debug = format!("{timer:?}");
    assert!(debug.contains("Idle") && debug.contains("1s"), "{debug}");
    timer.cancel();
    assert!(format!("{timer:?}").contains("Cancelled"));
    assert_eq!(timer.interval(), Duration::from_secs(1));
    let message = TimerError::AlreadyStarted.to_string();
    assert!(message.contains("already started"), "{message}");
    let message = TimerError::NotStarted.to_string();
    assert!(message.contains("start()"), "{message}");
}
