//! `BoundedBuffer`: FIFO order, blocking when full and when empty (checked
//! with the blocked thread asleep in the kernel, not with a sleep), N
//! producers x M consumers delivering every item exactly once, timed and
//! non-blocking calls, and its errors.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use synclings::producer_consumer::{BoundedBuffer, Empty, Full, ZeroCapacity};
use synclings::testing::{current_tid, wait_until_parked, within, DEADLINE};

/// Spawns `f` on a thread and returns its handle once that thread is asleep
/// in the kernel (blocked in `f`).
fn spawn_and_wait_until_parked<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> thread::JoinHandle<T> {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        tx.send(current_tid()).unwrap();
        f()
    });
    let tid = rx.recv_timeout(DEADLINE).expect("the thread starts");
    wait_until_parked(DEADLINE, what, tid);
    handle
}

#[test]
fn items_come_out_in_the_order_they_went_in() {
    let buffer = BoundedBuffer::new(4);
    assert_eq!(buffer.capacity(), 4);
    assert!(buffer.is_empty());
    for i in 1..=4 {
        buffer.put(i);
    }
    assert_eq!(buffer.len(), 4);
    assert_eq!(buffer.try_put(5), Err(Full(5)), "full: the item comes back");
    let out: Vec<i32> = (0..4).map(|_| buffer.get()).collect();
    assert_eq!(out, [1, 2, 3, 4]);
    assert_eq!(buffer.try_get(), Err(Empty));
    // Wrapping around the slots keeps the order too.
    for round in 0..10 {
        buffer.try_put(round).unwrap();
        buffer.try_put(round + 100).unwrap();
        assert_eq!(buffer.try_get(), Ok(round));
        assert_eq!(buffer.try_get(), Ok(round + 100));
    }
    assert!(buffer.is_empty());
}

#[test]
fn put_blocks_while_full_until_a_get_frees_a_slot() {
    let buffer = Arc::new(BoundedBuffer::new(1));
    buffer.put("first");
    let b = Arc::clone(&buffer);
    let putter = spawn_and_wait_until_parked("the second put blocks on a full buffer", move || {
        b.put("second")
    });
    // Asleep in the kernel: it cannot have put its item.
    assert!(!putter.is_finished(), "put returned on a full buffer");
    assert_eq!(buffer.len(), 1, "nothing was added while full");
    assert_eq!(buffer.get(), "first");
    within(
        DEADLINE,
        "the blocked put finishes after the get",
        move || putter.join().unwrap(),
    );
    assert_eq!(buffer.try_get(), Ok("second"));
}

#[test]
fn get_blocks_while_empty_until_a_put() {
    let buffer = Arc::new(BoundedBuffer::new(2));
    let b = Arc::clone(&buffer);
    let getter = spawn_and_wait_until_parked("the get blocks on an empty buffer", move || b.get());
    assert!(!getter.is_finished(), "get returned on an empty buffer");
    buffer.put(42u64);
    let got = within(DEADLINE, "the blocked get returns the item", move || {
        getter.join().unwrap()
    });
    assert_eq!(got, 42);
    assert!(buffer.is_empty());
}

#[test]
fn four_producers_three_consumers_deliver_every_item_exactly_once() {
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 3;
    const PER_PRODUCER: u64 = 2_000;
    let buffer = Arc::new(BoundedBuffer::<Option<u64>>::new(3));
    let received = within(DEADLINE, "every producer and consumer finishes", {
        let buffer = Arc::clone(&buffer);
        move || {
            thread::scope(|s| {
                let consumers: Vec<_> = (0..CONSUMERS)
                    .map(|_| {
                        s.spawn(|| {
                            let mut got = Vec::new();
                            while let Some(item) = buffer.get() {
                                got.push(item);
                            }
                            got
                        })
                    })
                    .collect();
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let buffer = &buffer;
                        s.spawn(move || {
                            for i in 0..PER_PRODUCER {
                                buffer.put(Some(p * PER_PRODUCER + i));
                            }
                        })
                    })
                    .collect();
                for p in producers {
                    p.join().unwrap();
                }
                for _ in 0..CONSUMERS {
                    buffer.put(None);
                }
                consumers
                    .into_iter()
                    .map(|c| c.join().unwrap())
                    .collect::<Vec<Vec<u64>>>()
            })
        }
    });
    let total = PRODUCERS * PER_PRODUCER;
    let mut seen = vec![0u32; total as usize];
    for &item in received.iter().flatten() {
        seen[item as usize] += 1;
    }
    let wrong: Vec<(usize, u32)> = seen
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, n)| n != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "items not received exactly once (item, times): {wrong:?}"
    );
    // FIFO: each consumer sees each producer's items in production order.
    for list in &received {
        for p in 0..PRODUCERS {
            let from_p: Vec<u64> = list
                .iter()
                .copied()
                .filter(|item| item / PER_PRODUCER == p)
                .collect();
            assert!(
                from_p.windows(2).all(|w| w[0] < w[1]),
                "producer {p} out of order"
            );
        }
    }
    assert!(buffer.is_empty(), "every pill was taken");
    let text = format!("{buffer:?}");
    assert!(
        text.contains("free_slots: 3") && text.contains("filled_slots: 0"),
        "{text}"
    );
}

#[test]
fn timed_calls_give_up_no_earlier_than_their_timeout() {
    let timeout = Duration::from_millis(50);
    let buffer = BoundedBuffer::new(1);

    let t0 = Instant::now();
    assert_eq!(buffer.get_timeout(timeout), Err(Empty));
    let waited = t0.elapsed();
    assert!(
        waited >= timeout,
        "get_timeout gave up after {waited:?}, before {timeout:?}"
    );

    buffer.put_timeout('a', timeout).unwrap();
    let t0 = Instant::now();
    let err = buffer.put_timeout('b', timeout).unwrap_err();
    let waited = t0.elapsed();
    assert!(
        waited >= timeout,
        "put_timeout gave up after {waited:?}, before {timeout:?}"
    );
    assert_eq!(
        err.into_inner(),
        'b',
        "the item that was not put comes back"
    );

    // A timed-out put took no slot: the buffer still holds one item and has
    // one slot.
    assert_eq!(buffer.get_timeout(timeout), Ok('a'));
    buffer.try_put('c').unwrap();
    assert_eq!(buffer.try_put('d'), Err(Full('d')));
    assert_eq!(buffer.len(), 1);
}

#[test]
fn a_timed_get_returns_an_item_put_while_it_waits() {
    let buffer = Arc::new(BoundedBuffer::new(1));
    let b = Arc::clone(&buffer);
    let getter = spawn_and_wait_until_parked("get_timeout waits on an empty buffer", move || {
        b.get_timeout(DEADLINE)
    });
    buffer.put(7);
    let got = within(DEADLINE, "the timed get returns the item", move || {
        getter.join().unwrap()
    });
    assert_eq!(got, Ok(7));
}

#[test]
fn errors_say_what_happened_and_what_to_do() {
    assert_eq!(BoundedBuffer::<u8>::try_new(0).unwrap_err(), ZeroCapacity);
    assert!(ZeroCapacity.to_string().contains("at least 1 slot"));
    assert!(Full(()).to_string().contains("full"));
    assert!(Empty.to_string().contains("empty"));
    assert_eq!(format!("{:?}", Full(vec![1, 2])), "Full(..)");
    let buffer = BoundedBuffer::new(2);
    buffer.put(1);
    let text = format!("{buffer:?}");
    assert!(
        text.contains("len: 1") && text.contains("capacity: 2"),
        "{text}"
    );
    let caught = std::panic::catch_unwind(|| BoundedBuffer::<u8>::new(0));
    assert!(caught.is_err(), "BoundedBuffer::new(0) panics");
}
