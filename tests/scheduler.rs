//! `Scheduler` against the semantics of Python's `sched` (CPython's
//! `test_sched`: order by time, FIFO among equal times, cancel, `queue`
//! length), plus what a thread-safe scheduler adds: periodic timers, panic
//! isolation, shutdown, one thread for any number of timers.
#![cfg(not(loom))]

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use synclings::testing::{eventually, within, DEADLINE};
use synclings::{Scheduler, TimerId};

/// A long delay: a test cancels or shuts down long before it ends.
const HOUR: Duration = Duration::from_secs(3600);

/// Counts its drops: proves that a closure holding it was dropped.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A deterministic shuffle (xorshift + Fisher-Yates): no dependency needed.
fn shuffled(n: u64, mut seed: u64) -> Vec<u64> {
    let mut values: Vec<u64> = (0..n).collect();
    for i in (1..values.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        values.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    values
}

/// Blocks the scheduler thread in a callback until the returned sender is
/// dropped or sent to: meanwhile the test arranges timers with no race.
fn hold_the_thread(scheduler: &Scheduler) -> mpsc::Sender<()> {
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    scheduler.schedule(Duration::ZERO, move || {
        started_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(DEADLINE);
    });
    started_rx
        .recv_timeout(DEADLINE)
        .expect("the holding callback starts");
    release_tx
}

fn shutdown(scheduler: &Arc<Scheduler>) {
    let s = scheduler.clone();
    within(DEADLINE, "shutdown joins the scheduler thread", move || {
        s.shutdown()
    });
}

#[test]
fn scheduler_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scheduler>();
    assert_send_sync::<TimerId>();
}

#[test]
fn fires_in_deadline_order() {
    let scheduler = Arc::new(Scheduler::new());
    let fired = Arc::new(Mutex::new(Vec::new()));
    // Held, so that no timer fires before all are scheduled, however slowly.
    let release = hold_the_thread(&scheduler);
    let base = Instant::now();
    let delays = shuffled(50, 0x9e37_79b9_7f4a_7c15);
    for &ms in &delays {
        let deadline = base + Duration::from_millis(ms);
        let f = fired.clone();
        scheduler.schedule_at(deadline, move || {
            f.lock().unwrap().push((deadline, Instant::now()));
        });
    }
    drop(release);
    let f = fired.clone();
    eventually(DEADLINE, "all 50 timers fire", move || {
        f.lock().unwrap().len() == 50
    });
    let fired = fired.lock().unwrap();
    for pair in fired.windows(2) {
        assert!(pair[0].0 <= pair[1].0, "fired out of deadline order");
    }
    for &(deadline, ran_at) in fired.iter() {
        assert!(ran_at >= deadline, "a timer fired before its deadline");
    }
    assert_eq!(scheduler.pending(), 0);
    shutdown(&scheduler);
}

#[test]
fn equal_deadlines_fire_in_scheduling_order() {
    let scheduler = Arc::new(Scheduler::new());
    let (tx, rx) = mpsc::channel();
    let at = Instant::now() + Duration::from_millis(20);
    for i in 0..20 {
        let tx = tx.clone();
        scheduler.schedule_at(at, move || tx.send(i).unwrap());
    }
    let order: Vec<i32> = (0..20)
        .map(|_| rx.recv_timeout(DEADLINE).expect("a timer fires"))
        .collect();
    assert_eq!(
        order,
        (0..20).collect::<Vec<_>>(),
        "FIFO among equal deadlines"
    );
    shutdown(&scheduler);
}

#[test]
fn an_earlier_deadline_wakes_the_sleeping_thread() {
    let scheduler = Arc::new(Scheduler::new());
    scheduler.schedule(HOUR, || {});
    // The Debug output shows what the thread does: wait until it sleeps
    // for the hour, so that only a notify can make the next timer fire.
    let s = scheduler.clone();
    eventually(DEADLINE, "the thread sleeps until the hour", move || {
        format!("{s:?}").contains("Until(")
    });
    let (tx, rx) = mpsc::channel();
    scheduler.schedule(Duration::from_millis(10), move || tx.send(()).unwrap());
    rx.recv_timeout(DEADLINE)
        .expect("the earlier timer woke the thread");
    assert_eq!(scheduler.pending(), 1);
    shutdown(&scheduler);
}

#[test]
fn a_past_deadline_fires_at_once() {
    let scheduler = Scheduler::new();
    let (tx, rx) = mpsc::channel();
    let past = Instant::now();
    scheduler.schedule_at(past, move || tx.send(()).unwrap());
    rx.recv_timeout(DEADLINE).expect("a past deadline fires");
}

#[test]
fn cancel_prevents_running_and_drops_the_callback() {
    let scheduler = Arc::new(Scheduler::new());
    let release = hold_the_thread(&scheduler);
    let runs = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (r, guard) = (runs.clone(), DropCounter(drops.clone()));
    let id = scheduler.schedule(Duration::ZERO, move || {
        let _guard = &guard;
        r.fetch_add(1, SeqCst);
    });
    assert_eq!(scheduler.pending(), 1);
    assert!(scheduler.cancel(id), "a pending timer is cancelled");
    assert_eq!(drops.load(SeqCst), 1, "cancel dropped the callback");
    assert_eq!(scheduler.pending(), 0);
    assert!(!scheduler.cancel(id), "a second cancel stops nothing");
    // A later timer firing proves the thread went past the cancelled deadline.
    let (tx, rx) = mpsc::channel();
    scheduler.schedule(Duration::ZERO, move || tx.send(()).unwrap());
    drop(release);
    rx.recv_timeout(DEADLINE).expect("the later timer fires");
    assert_eq!(runs.load(SeqCst), 0, "the cancelled timer ran");
    shutdown(&scheduler);
}

#[test]
fn cancel_returns_false_after_it_ran() {
    let scheduler = Arc::new(Scheduler::new());
    let (tx, rx) = mpsc::channel();
    let id = scheduler.schedule(Duration::ZERO, move || tx.send(()).unwrap());
    rx.recv_timeout(DEADLINE).expect("the timer fires");
    assert!(!scheduler.cancel(id), "it already ran");
    assert_eq!(scheduler.pending(), 0);
    shutdown(&scheduler);
}

#[test]
fn cancel_returns_false_while_a_one_shot_runs() {
    let scheduler = Arc::new(Scheduler::new());
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let id = scheduler.schedule(Duration::ZERO, move || {
        started_tx.send(()).unwrap();
        release_rx
            .recv_timeout(DEADLINE)
            .expect("released by the test");
    });
    started_rx
        .recv_timeout(DEADLINE)
        .expect("the callback starts");
    assert!(
        !scheduler.cancel(id),
        "a running one-shot cannot be stopped"
    );
    release_tx.send(()).unwrap();
    shutdown(&scheduler);
}

#[test]
fn periodic_runs_until_it_cancels_itself() {
    // The third run cancels its own timer: exactly three runs, ever.
    let scheduler = Arc::new(Scheduler::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let own_id: Arc<Mutex<Option<TimerId>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel();
    let (r, id_slot, s) = (runs.clone(), own_id.clone(), scheduler.clone());
    let mut id_lock = own_id.lock().unwrap();
    let id = scheduler.schedule_periodic(Duration::from_millis(5), move || {
        if r.fetch_add(1, SeqCst) + 1 == 3 {
            let id = id_slot.lock().unwrap().expect("the test stored the id");
            tx.send(s.cancel(id)).unwrap();
        }
    });
    *id_lock = Some(id);
    drop(id_lock);
    let cancelled = rx.recv_timeout(DEADLINE).expect("the third run happens");
    assert!(
        cancelled,
        "cancel from the running periodic stops its next runs"
    );
    assert!(!scheduler.cancel(id), "already cancelled");
    assert_eq!(scheduler.pending(), 0);
    // Shutdown joins the thread: no run can be in flight after it.
    shutdown(&scheduler);
    assert_eq!(runs.load(SeqCst), 3, "the periodic ran after its cancel");
}

#[test]
fn periodic_cancelled_from_outside_stops() {
    let scheduler = Arc::new(Scheduler::new());
    let starts = Arc::new(AtomicUsize::new(0));
    let s = starts.clone();
    let id = scheduler.schedule_periodic(Duration::from_millis(2), move || {
        s.fetch_add(1, SeqCst);
    });
    let s = starts.clone();
    eventually(DEADLINE, "the periodic runs at least 3 times", move || {
        s.load(SeqCst) >= 3
    });
    assert!(scheduler.cancel(id), "the periodic was still scheduled");
    let at_cancel = starts.load(SeqCst);
    shutdown(&scheduler);
    // A run already taken out to run when cancel came may still finish.
    let after = starts.load(SeqCst);
    assert!(
        after <= at_cancel + 1,
        "the periodic kept running after cancel: {at_cancel} then {after}"
    );
}

#[test]
fn periodic_keeps_a_fixed_rate_and_skips_missed_periods() {
    let scheduler = Arc::new(Scheduler::new());
    let interval = Duration::from_millis(20);
    let times = Arc::new(Mutex::new(Vec::new()));
    let t = times.clone();
    let first = Instant::now();
    scheduler.schedule_periodic(interval, move || {
        let mut times = t.lock().unwrap();
        times.push(Instant::now());
        if times.len() == 1 {
            // Overrun by 2.5 periods: the missed ones are skipped.
            std::thread::sleep(interval * 5 / 2);
        }
    });
    let t = times.clone();
    eventually(DEADLINE, "the periodic runs 3 times", move || {
        t.lock().unwrap().len() >= 3
    });
    shutdown(&scheduler);
    let times = times.lock().unwrap();
    // No burst: after the overrun the next run waits for a period boundary,
    // at least 3 intervals after the first deadline (first + interval).
    assert!(times[0] >= first + interval);
    assert!(
        times[1] >= first + interval * 4,
        "missed periods were run in a burst: second run {:?} after the start",
        times[1] - first
    );
    assert!(times[2] >= first + interval * 5);
}

#[test]
#[should_panic(expected = "greater than zero")]
fn periodic_with_a_zero_interval_panics() {
    let scheduler = Scheduler::new();
    scheduler.schedule_periodic(Duration::ZERO, || {});
}

#[test]
fn one_hundred_thousand_timers_one_thread() {
    const N: usize = 100_000;
    let scheduler = Arc::new(Scheduler::new());
    let fired = Arc::new(AtomicUsize::new(0));
    let threads = Arc::new(Mutex::new(HashSet::new()));
    for i in 0..N {
        let (fired, threads) = (fired.clone(), threads.clone());
        scheduler.schedule(Duration::from_millis((i % 20) as u64), move || {
            threads.lock().unwrap().insert(std::thread::current().id());
            fired.fetch_add(1, SeqCst);
        });
    }
    let f = fired.clone();
    eventually(DEADLINE, "all 100 000 timers fire", move || {
        f.load(SeqCst) == N
    });
    assert_eq!(scheduler.pending(), 0);
    assert_eq!(
        threads.lock().unwrap().len(),
        1,
        "timers ran on several threads"
    );
    shutdown(&scheduler);
}

#[test]
fn many_cancellations_keep_working() {
    // Enough cancels to trigger heap rebuilds; survivors still fire in order.
    let scheduler = Arc::new(Scheduler::new());
    let (tx, rx) = mpsc::channel();
    let release = hold_the_thread(&scheduler);
    let base = Instant::now();
    let mut keep = Vec::new();
    for i in 0..1000u64 {
        let tx = tx.clone();
        let id =
            scheduler.schedule_at(base + Duration::from_micros(i), move || tx.send(i).unwrap());
        if i % 100 == 0 {
            keep.push(i);
        } else {
            assert!(scheduler.cancel(id));
        }
    }
    assert_eq!(scheduler.pending(), keep.len());
    drop(release);
    let fired: Vec<u64> = keep
        .iter()
        .map(|_| rx.recv_timeout(DEADLINE).expect("a kept timer fires"))
        .collect();
    assert_eq!(fired, keep);
    shutdown(&scheduler);
    assert!(rx.try_recv().is_err(), "a cancelled timer fired");
}

#[test]
fn a_panic_is_counted_and_later_timers_still_fire() {
    let scheduler = Arc::new(Scheduler::new());
    scheduler.schedule(Duration::ZERO, || panic!("boom in the scheduler"));
    let (tx, rx) = mpsc::channel();
    scheduler.schedule(Duration::from_millis(10), move || tx.send(()).unwrap());
    rx.recv_timeout(DEADLINE).expect("the later timer fires");
    assert_eq!(scheduler.panicked(), 1);

    // A panicking periodic timer is cancelled.
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let id = scheduler.schedule_periodic(Duration::from_millis(1), move || {
        r.fetch_add(1, SeqCst);
        panic!("boom in a periodic");
    });
    let s = scheduler.clone();
    eventually(DEADLINE, "the periodic panics", move || s.panicked() == 2);
    assert!(!scheduler.cancel(id), "the panic cancelled it");
    assert_eq!(scheduler.pending(), 0);
    shutdown(&scheduler);
    assert_eq!(runs.load(SeqCst), 1);
    assert_eq!(scheduler.panicked(), 2);
}

#[test]
fn shutdown_drops_pending_timers_without_running_them() {
    let scheduler = Arc::new(Scheduler::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let (r, guard) = (runs.clone(), DropCounter(drops.clone()));
        scheduler.schedule(HOUR, move || {
            let _guard = &guard;
            r.fetch_add(1, SeqCst);
        });
    }
    let guard = DropCounter(drops.clone());
    scheduler.schedule_periodic(HOUR, move || {
        let _guard = &guard;
    });
    assert_eq!(scheduler.pending(), 11);
    shutdown(&scheduler);
    assert_eq!(drops.load(SeqCst), 11, "every pending closure was dropped");
    assert_eq!(runs.load(SeqCst), 0);
    assert_eq!(scheduler.pending(), 0);
    assert!(scheduler.is_shutdown());

    // After shutdown, new timers are dropped at once and unknown to cancel.
    let guard = DropCounter(drops.clone());
    let id = scheduler.schedule(Duration::ZERO, move || drop(guard));
    assert_eq!(drops.load(SeqCst), 12);
    assert!(!scheduler.cancel(id));
    shutdown(&scheduler); // idempotent
}

#[test]
fn shutdown_waits_for_the_running_callback_and_the_thread() {
    let scheduler = Arc::new(Scheduler::new());
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    scheduler.schedule(Duration::ZERO, move || {
        started_tx.send(()).unwrap();
        release_rx
            .recv_timeout(DEADLINE)
            .expect("released by the test");
        d.fetch_add(1, SeqCst);
    });
    started_rx
        .recv_timeout(DEADLINE)
        .expect("the callback starts");
    let (s, d) = (scheduler.clone(), done.clone());
    let shutting_down = std::thread::spawn(move || {
        s.shutdown();
        // Shutdown returned: the callback must have completed.
        d.load(SeqCst)
    });
    release_tx.send(()).unwrap();
    let done_at_return = within(DEADLINE, "shutdown returns", move || {
        shutting_down.join().unwrap()
    });
    assert_eq!(
        done_at_return, 1,
        "shutdown returned before the callback did"
    );
}

#[test]
fn dropping_the_last_handle_from_a_callback_does_not_deadlock() {
    // The only handle lives in a callback: the scheduler is dropped on its own
    // thread, which cannot join itself.
    let scheduler = Arc::new(Scheduler::new());
    let (tx, rx) = mpsc::channel();
    let s = scheduler.clone();
    scheduler.schedule(Duration::from_millis(10), move || {
        s.shutdown();
        tx.send(s.is_shutdown()).unwrap();
        drop(s);
    });
    drop(scheduler);
    let shut = rx.recv_timeout(DEADLINE).expect("the callback runs");
    assert!(shut);
}

#[test]
fn runs_on_a_thread_named_scheduler() {
    let scheduler = Scheduler::new();
    let (tx, rx) = mpsc::channel();
    scheduler.schedule(Duration::ZERO, move || {
        tx.send(std::thread::current().name().map(str::to_owned))
            .unwrap()
    });
    let name = rx.recv_timeout(DEADLINE).expect("the timer fires");
    assert_eq!(name.as_deref(), Some("scheduler"));
}

#[test]
fn debug_shows_the_state() {
    let scheduler = Scheduler::default();
    scheduler.schedule(HOUR, || {});
    let debug = format!("{scheduler:?}");
    assert!(debug.contains("pending: 1"), "{debug}");
    assert!(debug.contains("shutdown: false"), "{debug}");
}
