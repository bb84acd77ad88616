//! Loom models of `Event`: no lost wake-up, and the result of a wait is
//! consistent with the sets that happened.
#![cfg(loom)]

use std::sync::atomic::Ordering::SeqCst;

use synclings::sync::atomic::AtomicBool;
use synclings::sync::{thread, Arc, Duration};
use synclings::Event;

/// Race: two waiters check the flag and go to sleep while `set` flips it and
/// notifies. A wake-up lost between a waiter's check and its sleep leaves it
/// asleep for ever: loom reports the deadlock.
#[test]
fn set_wakes_every_waiter() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let e = Arc::clone(&event);
                thread::spawn(move || e.wait())
            })
            .collect();
        event.set();
        for w in waiters {
            w.join().unwrap();
        }
        assert!(event.is_set());
    });
}

/// Race: `set` immediately followed by `clear` while a waiter sleeps. The
/// waiter must still return (CPython: `wait` is true when a set happened while
/// it waited), even though it may only run once the flag is clear again.
#[test]
fn set_then_clear_still_releases_a_registered_waiter() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let e = Arc::clone(&event);
        let waiter = thread::spawn(move || e.wait());
        // Set only once the waiter is registered (asleep or about to be).
        while event.waiters() == 0 {
            thread::yield_now();
        }
        event.set();
        event.clear();
        waiter.join().unwrap();
        assert!(!event.is_set());
    });
}

/// Race: `set` against a timed wait whose timeout (modelled by the facade)
/// may fire at any point. A wait that starts after `set` returned must report
/// true; one that reports true must see the flag set; and loom must explore
/// both "the set wins" and "the timeout wins".
#[test]
fn set_racing_wait_timeout_gives_a_consistent_result() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new((false, false)));
    let seen2 = seen.clone();
    loom::model(move || {
        let event = Arc::new(Event::new());
        let set_done = Arc::new(AtomicBool::new(false));
        let (e, done) = (Arc::clone(&event), Arc::clone(&set_done));
        let setter = thread::spawn(move || {
            e.set();
            done.store(true, SeqCst);
        });
        let set_before = set_done.load(SeqCst);
        let result = event.wait_timeout(Duration::from_secs(1));
        assert!(!set_before || result, "set returned before the wait began");
        assert!(!result || event.is_set(), "true without the flag set");
        setter.join().unwrap();
        let mut seen = seen2.lock().unwrap();
        if result {
            seen.0 = true;
        } else {
            seen.1 = true;
        }
    });
    let seen = *seen.lock().unwrap();
    assert!(seen.0, "loom never explored the set winning");
    assert!(seen.1, "loom never explored the timeout winning");
}
