//! `Condition<T>` against CPython's `ConditionTests` (Lib/test/lock_tests.py).
#![cfg(not(loom))]

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use synclings::testing::{eventually, spawn_blocked, within, DEADLINE};
use synclings::{Condition, ConditionGuard};

/// The value the tests share: who woke, in which order.
#[derive(Debug, Default)]
struct Log {
    /// The ids of the waiters whose `wait` returned, in the order they ran.
    woke: Vec<usize>,
    /// Set (under the lock) by the test right before it notifies.
    notify_sent: bool,
}

/// Starts waiter `id`: one plain `wait()`, then it records that it woke and
/// checks that the notify had been sent when it did.
fn spawn_plain_waiter(cond: &Arc<Condition<Log>>, id: usize) -> JoinHandle<()> {
    let cond = Arc::clone(cond);
    // Returns once the waiter is asleep (or, if `wait` is broken, finished).
    spawn_blocked(move || {
        let mut log = cond.lock();
        log.wait();
        assert!(log.notify_sent, "waiter {id} woke before any notify");
        log.woke.push(id);
    })
}

/// Starts `n` plain waiters one by one, each registered before the next
/// starts, so that their ids are their waiting order.
fn start_waiters_in_order(cond: &Arc<Condition<Log>>, n: usize) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|id| {
            let waiter = spawn_plain_waiter(cond, id);
            eventually(DEADLINE, "the waiter is registered", || {
                cond.waiters() == id + 1
            });
            waiter
        })
        .collect()
}

fn join_all(waiters: Vec<JoinHandle<()>>) {
    within(DEADLINE, "every woken waiter returns", move || {
        for waiter in waiters {
            waiter.join().unwrap();
        }
    });
}

#[test]
fn notify_one_wakes_the_longest_waiting_first() {
    let cond = Arc::new(Condition::new(Log::default()));
    let waiters = start_waiters_in_order(&cond, 5);
    for round in 0..5 {
        {
            let mut log = cond.lock();
            log.notify_sent = true;
            log.notify(1);
        }
        eventually(DEADLINE, "the notified waiter returns", || {
            cond.lock().woke.len() == round + 1
        });
        let log = cond.lock();
        assert_eq!(log.woke, (0..=round).collect::<Vec<_>>(), "FIFO order");
        assert_eq!(
            log.waiters(),
            5 - round - 1,
            "notify(1) chose exactly one waiter"
        );
    }
    join_all(waiters);
}

#[test]
fn notify_n_wakes_at_most_n() {
    let cond = Arc::new(Condition::new(Log::default()));
    let waiters = start_waiters_in_order(&cond, 6);
    let mut expected = 0;
    for n in [1, 3] {
        {
            let mut log = cond.lock();
            log.notify_sent = true;
            log.notify(n);
            assert_eq!(
                log.waiters(),
                6 - expected - n,
                "notify({n}) chose {n} waiters"
            );
        }
        expected += n;
        eventually(DEADLINE, "the notified waiters return", || {
            cond.lock().woke.len() == expected
        });
        let log = cond.lock();
        let mut woke = log.woke.clone();
        woke.sort();
        assert_eq!(
            woke,
            (0..expected).collect::<Vec<_>>(),
            "the oldest ones woke"
        );
        assert_eq!(log.waiters(), 6 - expected, "nobody else woke");
    }
    {
        // More than are waiting: wakes the 2 left.
        let log = cond.lock();
        log.notify(10);
        assert_eq!(log.waiters(), 0);
    }
    join_all(waiters);
    assert_eq!(cond.lock().woke.len(), 6);
}

#[test]
fn notify_with_no_waiters_is_not_remembered() {
    let cond = Arc::new(Condition::new(Log::default()));
    {
        let mut log = cond.lock();
        log.notify(1);
        log.notify_all();
        // A notify is not a permit: a wait after it times out.
        assert!(!log.wait_timeout(Duration::from_millis(10)));
    }
    assert_eq!(cond.waiters(), 0);
}

#[test]
fn notify_all_wakes_every_waiter() {
    let cond = Arc::new(Condition::new(Log::default()));
    let waiters = start_waiters_in_order(&cond, 5);
    {
        let mut log = cond.lock();
        log.notify_sent = true;
        log.notify_all();
        assert_eq!(log.waiters(), 0);
    }
    join_all(waiters);
    let mut woke = cond.lock().woke.clone();
    woke.sort();
    assert_eq!(woke, [0, 1, 2, 3, 4]);
}

#[test]
fn timed_out_waiters_are_not_counted() {
    #[derive(Default)]
    struct State {
        a_waiting: bool,
        b_waiting: bool,
        b_woke: bool,
    }
    let cond = Arc::new(Condition::new(State::default()));
    let a = {
        let cond = Arc::clone(&cond);
        thread::spawn(move || {
            let mut state = cond.lock();
            state.a_waiting = true;
            state.wait_timeout(Duration::from_millis(200))
        })
    };
    // A registers first (in the same lock hold as it sets the flag), so it
    // is the longest-waiting unless it has already timed out.
    eventually(DEADLINE, "A is registered", || cond.lock().a_waiting);
    let b = {
        let cond = Arc::clone(&cond);
        thread::spawn(move || {
            let mut state = cond.lock();
            state.b_waiting = true;
            state.wait();
            state.b_woke = true;
        })
    };
    eventually(DEADLINE, "B is registered", || cond.lock().b_waiting);
    let a_notified = within(DEADLINE, "A times out", move || a.join().unwrap());
    assert!(!a_notified, "nobody notified A");
    assert_eq!(cond.waiters(), 1, "A left the queue, B is in it");
    cond.lock().notify(1);
    within(DEADLINE, "notify(1) wakes B, not the gone A", move || {
        b.join().unwrap()
    });
    assert!(cond.lock().b_woke);
}

#[test]
fn wait_timeout_returns_false_no_earlier_than_its_timeout() {
    let cond = Arc::new(Condition::new(()));
    let (notified, elapsed) = within(DEADLINE, "a timed wait returns", move || {
        let mut guard = cond.lock();
        let start = Instant::now();
        let notified = guard.wait_timeout(Duration::from_millis(100));
        (notified, start.elapsed())
    });
    assert!(!notified);
    assert!(
        elapsed >= Duration::from_millis(100),
        "returned after {elapsed:?}"
    );
}

#[test]
fn wait_timeout_returns_true_when_notified() {
    let cond = Arc::new(Condition::new(false));
    let waiter = {
        let cond = Arc::clone(&cond);
        thread::spawn(move || {
            let mut ready = cond.lock();
            let notified = ready.wait_timeout(DEADLINE * 2);
            (notified, *ready)
        })
    };
    eventually(DEADLINE, "the waiter is registered", || cond.waiters() == 1);
    {
        let mut ready = cond.lock();
        *ready = true;
        ready.notify(1);
    }
    let (notified, ready) = within(DEADLINE, "the waiter returns", move || {
        waiter.join().unwrap()
    });
    assert!(notified);
    assert!(ready, "the waiter sees the change made before the notify");
}

#[test]
fn an_untimed_wait_blocks_until_the_notify() {
    let cond = Arc::new(Condition::new(Log::default()));
    let waiter = spawn_plain_waiter(&cond, 7);
    eventually(DEADLINE, "the waiter is registered", || cond.waiters() == 1);
    assert!(cond.lock().woke.is_empty());
    {
        let mut log = cond.lock();
        log.notify_sent = true;
        log.notify(1);
    }
    join_all(vec![waiter]);
    assert_eq!(cond.lock().woke, [7]);
}

#[test]
fn wait_for_returns_once_the_predicate_holds() {
    let cond = Arc::new(Condition::new(0_u32));
    let waiter = {
        let cond = Arc::clone(&cond);
        thread::spawn(move || {
            let mut count = cond.lock();
            let mut checks = 0;
            count.wait_for(|&count| {
                checks += 1;
                count == 5
            });
            (*count, checks)
        })
    };
    for _ in 0..5 {
        eventually(DEADLINE, "the waiter waits again", || cond.waiters() == 1);
        let mut count = cond.lock();
        *count += 1;
        count.notify_all();
    }
    let (count, checks) = within(DEADLINE, "wait_for returns", move || waiter.join().unwrap());
    assert_eq!(count, 5);
    assert_eq!(checks, 6, "checked once first, then after each notify");
}

#[test]
fn wait_for_timeout_returns_the_predicates_last_value() {
    let cond = Arc::new(Condition::new(false));

    // Already true: no wait at all, even with a zero timeout.
    *cond.lock() = true;
    assert!(cond.lock().wait_for_timeout(|&ready| ready, Duration::ZERO));

    // Never true: false, and not before the timeout.
    *cond.lock() = false;
    let (ready, elapsed) = {
        let cond = Arc::clone(&cond);
        within(DEADLINE, "wait_for_timeout times out", move || {
            let start = Instant::now();
            let ready = cond
                .lock()
                .wait_for_timeout(|&ready| ready, Duration::from_millis(100));
            (ready, start.elapsed())
        })
    };
    assert!(!ready);
    assert!(
        elapsed >= Duration::from_millis(100),
        "returned after {elapsed:?}"
    );

    // Made true by another thread: true.
    let waiter = {
        let cond = Arc::clone(&cond);
        thread::spawn(move || cond.lock().wait_for_timeout(|&ready| ready, DEADLINE * 2))
    };
    eventually(DEADLINE, "the waiter is registered", || cond.waiters() == 1);
    {
        let ready = cond.lock();
        ready.notify(1); // spurious for the predicate: it waits again
    }
    eventually(DEADLINE, "the waiter waits again", || cond.waiters() == 1);
    {
        let mut ready = cond.lock();
        *ready = true;
        ready.notify(1);
    }
    assert!(within(DEADLINE, "the waiter returns", move || waiter
        .join()
        .unwrap()));
}

#[test]
fn many_producers_and_consumers_lose_no_wake_up() {
    const ITEMS: usize = 2_000;
    #[derive(Default)]
    struct Shared {
        items: Vec<usize>,
        produced: usize,
        consumed: Vec<usize>,
    }
    let cond = Arc::new(Condition::new(Shared::default()));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let cond = Arc::clone(&cond);
            thread::spawn(move || loop {
                let mut shared = cond.lock();
                shared.wait_for(|s| !s.items.is_empty() || s.produced == ITEMS);
                match shared.items.pop() {
                    Some(item) => shared.consumed.push(item),
                    None => return,
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let cond = Arc::clone(&cond);
            thread::spawn(move || {
                for i in (p..ITEMS).step_by(2) {
                    let mut shared = cond.lock();
                    shared.items.push(i);
                    shared.produced += 1;
                    if shared.produced == ITEMS {
                        shared.notify_all();
                    } else {
                        shared.notify(1);
                    }
                }
            })
        })
        .collect();
    within(DEADLINE, "every item is consumed", move || {
        for thread in producers.into_iter().chain(consumers) {
            thread.join().unwrap();
        }
    });
    let mut consumed = std::mem::take(&mut cond.lock().consumed);
    consumed.sort();
    assert_eq!(consumed, (0..ITEMS).collect::<Vec<_>>());
}

#[test]
fn try_lock_and_lock_timeout_fail_while_held() {
    let cond = Condition::new(1);
    let guard = cond.lock();
    assert!(cond.try_lock().is_none());
    let start = Instant::now();
    assert!(cond.lock_timeout(Duration::from_millis(20)).is_none());
    assert!(start.elapsed() >= Duration::from_millis(20));
    drop(guard);
    assert_eq!(*cond.try_lock().expect("free"), 1);
    assert_eq!(
        *cond.lock_timeout(Duration::from_millis(20)).expect("free"),
        1
    );
    assert_eq!(*cond.lock_timeout(Duration::MAX).expect("free"), 1);
}

#[test]
fn the_guard_gives_access_to_the_value() {
    let mut cond = Condition::new(vec![1]);
    cond.lock().push(2);
    cond.get_mut().push(3);
    assert_eq!(cond.lock().len(), 3);
    assert_eq!(cond.into_inner(), [1, 2, 3]);
    assert_eq!(Condition::<u8>::default().into_inner(), 0);
}

#[test]
fn a_huge_timeout_means_no_deadline() {
    let cond = Arc::new(Condition::new(false));
    let waiter = {
        let cond = Arc::clone(&cond);
        thread::spawn(move || cond.lock().wait_timeout(Duration::MAX))
    };
    eventually(DEADLINE, "the waiter is registered", || cond.waiters() == 1);
    cond.lock().notify(1);
    assert!(within(DEADLINE, "the waiter returns", move || waiter
        .join()
        .unwrap()));
}

#[test]
fn debug_shows_the_value_and_the_waiters() {
    let cond = Condition::new(5);
    assert_eq!(format!("{cond:?}"), "Condition { value: 5, waiters: 0 }");
    let guard = cond.lock();
    assert_eq!(
        format!("{guard:?}"),
        "ConditionGuard { value: 5, waiters: 0 }"
    );
    assert_eq!(format!("{cond:?}"), "Condition { value: <locked> }");
}

#[test]
fn condition_is_send_and_sync_when_its_value_is_send() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_sync<T: Sync>() {}
    assert_send_sync::<Condition<std::cell::Cell<u8>>>();
    assert_send_sync::<Condition<Vec<String>>>();
    assert_sync::<ConditionGuard<'static, u8>>();
}
