//! `Event` against the semantics of CPython's `test_threading.EventTests`.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use synclings::testing::{eventually, within, DEADLINE};
use synclings::Event;

const N: usize = 5;

#[test]
fn is_set_set_and_clear() {
    let event = Event::new();
    assert!(!event.is_set(), "a new event is not set");
    event.set();
    assert!(event.is_set());
    event.set();
    assert!(event.is_set(), "setting twice keeps it set");
    event.clear();
    assert!(!event.is_set());
    event.clear();
    assert!(!event.is_set(), "clearing twice keeps it clear");
    assert!(!Event::default().is_set());
}

#[test]
fn wait_on_a_set_event_returns_true_at_once() {
    let event = Arc::new(Event::new());
    event.set();
    let e = Arc::clone(&event);
    let result = within(
        DEADLINE,
        "wait and wait_timeout on a set event",
        move || {
            e.wait();
            (
                e.wait_timeout(Duration::ZERO),
                e.wait_timeout(Duration::MAX),
            )
        },
    );
    assert_eq!(result, (true, true));
    assert_eq!(event.waiters(), 0, "no waiter was registered");
}

/// Starts `N` threads, half calling `wait`, half `wait_timeout` with a
/// timeout that does not pass during the test; each counts itself done and
/// returns what its wait returned.
fn start_waiters(event: &Arc<Event>, done: &Arc<AtomicUsize>) -> Vec<thread::JoinHandle<bool>> {
    (0..N)
        .map(|i| {
            let event = Arc::clone(event);
            let done = Arc::clone(done);
            thread::spawn(move || {
                let result = if i % 2 == 0 {
                    event.wait();
                    true
                } else {
                    event.wait_timeout(Duration::from_secs(3600))
                };
                done.fetch_add(1, SeqCst);
                result
            })
        })
        .collect()
}

fn join_all(handles: Vec<thread::JoinHandle<bool>>) -> Vec<bool> {
    within(DEADLINE, "every waiter returns", move || {
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn set_wakes_every_waiter() {
    let event = Arc::new(Event::new());
    let done = Arc::new(AtomicUsize::new(0));
    let handles = start_waiters(&event, &done);
    eventually(DEADLINE, "all waiters are blocked in wait", || {
        event.waiters() == N
    });
    assert_eq!(done.load(SeqCst), 0, "a waiter returned before set");
    event.set();
    assert_eq!(join_all(handles), vec![true; N]);
    assert_eq!(done.load(SeqCst), N);
    assert_eq!(event.waiters(), 0);
}

#[test]
fn set_then_clear_at_once_still_wakes_the_waiters_with_true() {
    let event = Arc::new(Event::new());
    let done = Arc::new(AtomicUsize::new(0));
    let handles = start_waiters(&event, &done);
    eventually(DEADLINE, "all waiters are blocked in wait", || {
        event.waiters() == N
    });
    event.set();
    event.clear();
    assert!(!event.is_set());
    assert_eq!(
        join_all(handles),
        vec![true; N],
        "a set happened while they waited"
    );
    assert!(!event.is_set(), "the waiters do not set the flag again");
}

#[test]
fn timed_wait_returns_false_no_earlier_than_its_timeout() {
    let event = Arc::new(Event::new());
    let e = Arc::clone(&event);
    let timeout = Duration::from_millis(100);
    let (result, elapsed) = within(DEADLINE, "a timed wait on a clear event", move || {
        let start = Instant::now();
        let result = e.wait_timeout(timeout);
        (result, start.elapsed())
    });
    assert!(!result, "nobody set the event");
    assert!(
        elapsed >= timeout,
        "returned after {elapsed:?}, before {timeout:?}"
    );
    assert_eq!(event.waiters(), 0, "a timed-out waiter unregisters");
}

#[test]
fn timed_waiters_all_time_out_then_a_set_is_seen() {
    // CPython's test_timeout: many threads time out together, with false.
    let event = Arc::new(Event::new());
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let e = Arc::clone(&event);
            thread::spawn(move || e.wait_timeout(Duration::from_millis(20)))
        })
        .collect();
    assert_eq!(join_all(handles), vec![false; N]);
    event.set();
    assert!(event.wait_timeout(Duration::from_millis(20)));
}

#[test]
fn a_huge_timeout_means_no_timeout() {
    let event = Arc::new(Event::new());
    let e = Arc::clone(&event);
    let waiter = thread::spawn(move || e.wait_timeout(Duration::MAX));
    eventually(DEADLINE, "the waiter is blocked", || event.waiters() == 1);
    event.set();
    assert!(within(DEADLINE, "the waiter returns", move || waiter
        .join()
        .unwrap()));
}

#[test]
fn debug_shows_the_flag() {
    let event = Event::new();
    assert_eq!(format!("{event:?}"), "Event { is_set: false }");
    event.set();
    assert_eq!(format!("{event:?}"), "Event { is_set: true }");
}

#[test]
fn event_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Event>();
}
