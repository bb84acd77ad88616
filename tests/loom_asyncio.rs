//! Loom models of asyncio's two cross-thread races:
//!
//! - the loop going to sleep in `select` while another thread hands it a
//!   wake-up ([`Handshake`]; the selector's `Notifier` is played by an
//!   [`Event`](synclings::Event), which, like the eventfd, stays rung until
//!   cleared): the loop must never sleep with an item waiting and nobody
//!   ringing;
//! - an async `Semaphore` / `Lock` waiter dropped (cancelled) on one thread
//!   while another thread hands it the permit: the permit must go on to
//!   the next waiter or back to the count, never vanish (the bpo-45997
//!   class of bug).
#![cfg(all(unix, loom))]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use synclings::asyncio::{Handshake, Lock, Semaphore};
use synclings::sync::{thread, Arc};
use synclings::Event;

/// One loop iteration as `Core::turn` does it: take what was handed over,
/// sleep only if there was nothing, wake up, take what came meanwhile.
fn loop_until_it_has(handshake: &Handshake<u32>, bell: &Event, want: usize) -> Vec<u32> {
    let mut got = Vec::new();
    while got.len() < want {
        if handshake.before_sleep(&mut got) {
            bell.wait(); // asleep in select until rung
            bell.clear(); // the selector reads the eventfd
            handshake.after_sleep(&mut got);
        }
    }
    got
}

/// Race: a thread hands the loop a wake-up while the loop decides to
/// sleep. If the loop could sleep after the push without a ring, loom
/// reports the deadlock.
#[test]
fn a_cross_thread_wake_up_never_meets_a_sleeping_loop_unrung() {
    loom::model(|| {
        let handshake = Arc::new(Handshake::new());
        let bell = Arc::new(Event::new());
        let (h, b) = (Arc::clone(&handshake), Arc::clone(&bell));
        let waker = thread::spawn(move || {
            if h.push(7).unwrap() {
                b.set(); // Notifier::notify
            }
        });
        let got = loop_until_it_has(&handshake, &bell, 1);
        waker.join().unwrap();
        assert_eq!(got, [7]);
    });
}

/// Race: two threads wake the loop at once: both items arrive, and the
/// loop is rung at most once per sleep.
#[test]
fn two_wakers_racing_the_sleep_both_get_through() {
    loom::model(|| {
        let handshake = Arc::new(Handshake::new());
        let bell = Arc::new(Event::new());
        let wakers: Vec<_> = [1, 2]
            .into_iter()
            .map(|item| {
                let (h, b) = (Arc::clone(&handshake), Arc::clone(&bell));
                thread::spawn(move || {
                    if h.push(item).unwrap() {
                        b.set();
                    }
                })
            })
            .collect();
        let mut got = loop_until_it_has(&handshake, &bell, 2);
        for w in wakers {
            w.join().unwrap();
        }
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Race: a queued acquirer is dropped (its task cancelled) while another
/// thread releases the permit, which may be handed to it first. Either
/// way the permit must be back at the end.
#[test]
fn a_semaphore_waiter_cancelled_while_handed_the_permit_loses_nothing() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let mut acquire = Box::pin(sem.acquire());
        assert!(poll_once(acquire.as_mut()).is_pending(), "queued");
        let s = Arc::clone(&sem);
        let releaser = thread::spawn(move || s.release(1));
        drop(acquire); // cancelled, racing the hand-over
        releaser.join().unwrap();
        assert_eq!(sem.available(), 1, "the permit was lost");
        assert!(sem.try_acquire().is_some());
    });
}

/// The same with a second waiter behind: the permit handed to the
/// cancelled one must reach it.
#[test]
fn a_permit_handed_to_a_cancelled_waiter_reaches_the_next_one() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let mut first = Box::pin(sem.acquire());
        let mut second = Box::pin(sem.acquire());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        let s = Arc::clone(&sem);
        let releaser = thread::spawn(move || s.release(1));
        drop(first);
        releaser.join().unwrap();
        match poll_once(second.as_mut()) {
            Poll::Ready(permit) => permit.forget(),
            Poll::Pending => panic!("the permit vanished with the cancelled waiter"),
        }
        assert_eq!(sem.available(), 0);
    });
}

/// Race: the holder of a `Lock` releases it on one thread while the
/// waiter it is handed to is cancelled on another: the lock ends free.
#[test]
fn a_lock_waiter_cancelled_while_handed_the_lock_leaves_it_free() {
    loom::model(|| {
        let lock = Arc::new(Lock::new(0u32));
        let (held, queued) = (Arc::new(Event::new()), Arc::new(Event::new()));
        let holder = {
            let (lock, held, queued) = (Arc::clone(&lock), Arc::clone(&held), Arc::clone(&queued));
            thread::spawn(move || {
                let mut guard = lock.try_acquire().expect("free at first");
                *guard += 1;
                held.set();
                queued.wait();
                drop(guard); // hands the lock to the waiter...
            })
        };
        held.wait();
        {
            let mut waiter = pin!(lock.acquire());
            assert!(poll_once(waiter.as_mut()).is_pending(), "the lock is held");
            queued.set();
            // ...which is dropped here, cancelled, racing the hand-over.
        }
        holder.join().unwrap();
        assert!(
            lock.try_acquire().is_some(),
            "the lock stayed taken by nobody"
        );
    });
}
