//! Loom models of `BoundedBuffer`: the two blocking hand-overs lose no
//! wake-up, and a timed get racing a put neither loses nor duplicates the
//! item. Run with `LOOM_MAX_PREEMPTIONS=2` in `--release`.
#![cfg(loom)]

use synclings::producer_consumer::BoundedBuffer;
use synclings::sync::{thread, Arc, Duration};

/// Race: a getter finds the buffer empty and goes to sleep on `full` while
/// a put stores its item and releases `full`. If the getter's sleep could
/// miss that release, it would sleep for ever: loom reports the deadlock.
#[test]
fn a_get_blocked_on_empty_wakes_for_a_put() {
    loom::model(|| {
        let buffer = Arc::new(BoundedBuffer::new(1));
        let b = Arc::clone(&buffer);
        let getter = thread::spawn(move || b.get());
        buffer.put(7);
        assert_eq!(getter.join().unwrap(), 7);
        assert!(buffer.is_empty());
    });
}

/// Race: a putter finds every slot full and sleeps on `empty` while a get
/// takes the item and releases `empty`. A lost wake-up deadlocks; a slot
/// counted twice would let the second item in before the first left.
#[test]
fn a_put_blocked_on_full_wakes_for_a_get() {
    loom::model(|| {
        let buffer = Arc::new(BoundedBuffer::new(1));
        buffer.put(1);
        let b = Arc::clone(&buffer);
        let putter = thread::spawn(move || b.put(2));
        assert_eq!(buffer.get(), 1);
        putter.join().unwrap();
        assert_eq!(buffer.try_get(), Ok(2));
        assert!(buffer.try_get().is_err());
    });
}

/// Race: a timed get against a put, the timeout firing at any point. The
/// item is either taken by the get or still in the buffer, never both,
/// never neither.
#[test]
fn a_timed_get_racing_a_put_keeps_the_item_exactly_once() {
    loom::model(|| {
        let buffer = Arc::new(BoundedBuffer::new(1));
        let b = Arc::clone(&buffer);
        let getter = thread::spawn(move || b.get_timeout(Duration::from_secs(1)).ok());
        buffer.put(5);
        let taken = getter.join().unwrap();
        let left = buffer.try_get().ok();
        assert_eq!(
            (taken.is_some() as u8) + (left.is_some() as u8),
            1,
            "taken {taken:?}, left {left:?}"
        );
        assert_eq!(taken.or(left), Some(5));
    });
}
