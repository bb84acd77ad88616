//! The storage of a bounded [`Queue`](super::Queue): a lock-free
//! multi-producer multi-consumer ring buffer, Dmitry Vyukov's bounded MPMC
//! queue (the algorithm behind crossbeam's `ArrayQueue` and bounded
//! channels), with two shutdown marks added for Python's `shutdown`.
//!
//! # The stamp protocol
//!
//! A *position* packs a lap and an index: `lap * one_lap + index`, with
//! `index < cap`. `one_lap` is twice `mark`, the smallest power of two above
//! `cap`, so the bit `mark` is free in every position and used as a flag in
//! `head` and `tail` (never in a stamp). Positions only grow (wrapping after
//! 2^64 / `one_lap` laps, far beyond any program's life).
//!
//! - `tail` is the position of the next push, `head` of the next pop.
//! - Each slot has a *stamp* saying whose turn it is: `stamp == pos` means
//!   "free for the push at `pos`", `stamp == pos + 1` means "holds the item
//!   pushed at `pos`, for the pop at `pos`". Slot `i` starts at stamp `i`.
//! - A **push** at `tail = pos` checks `stamp == pos`, claims the position by
//!   moving `tail` to the next one with a CAS, writes the item, then publishes
//!   it with `stamp = pos + 1` (Release).
//! - A **pop** at `head = pos` checks `stamp == pos + 1` (Acquire: it sees the
//!   item), claims it by moving `head` with a CAS, reads the item, then frees
//!   the slot for the push one lap later with `stamp = pos + one_lap`
//!   (Release: that push writes after this read).
//! - **Full**: the slot at `tail` still holds the item of the previous lap and
//!   `head` is exactly one lap behind `tail`. **Empty**: the slot at `head` is
//!   not written yet and `tail == head`. When the slot says that another
//!   thread is half-way (a pop claimed the slot but has not freed it, or a
//!   push claimed it but has not written it), the ring answers `Busy`: the
//!   engine retries, and waits for it only while holding its lock, so at most
//!   one thread ever waits for another's half-done operation (a reservation
//!   is a promise that the slot is ready within a few instructions). A stale
//!   `head` or `tail` (another thread already took that position) is simply
//!   read again.
//!
//! Exactly one thread wins the CAS for a position, so each slot is written by
//! one push and read by one pop per lap, in that order, and the stamps'
//! Release/Acquire pairs order the item's bytes. Loom checks this with its
//! `UnsafeCell`, which panics on any unordered access.
//!
//! # Shutdown marks
//!
//! - `tail`'s mark, CLOSED, is set by every shutdown: no push can claim a
//!   position afterwards (the CAS of a push racing it fails and sees the mark),
//!   so a push either claimed its position before the shutdown, or fails.
//!   Pops go on until the ring is empty, then report `Closed`.
//! - `head`'s mark, DRAINED, is set first by an immediate shutdown: no pop can
//!   claim a position afterwards. Then CLOSED is set (the shutdown's
//!   linearisation point: a pop that sees DRAINED reports `Busy` until it
//!   sees CLOSED too), and the shutdown drains every position between the
//!   two marked values, waiting for the pushes that claimed a position before
//!   CLOSED to finish writing: no item survives, none is lost.

use std::mem::MaybeUninit;

use super::{Missing, Refused, Storage};
use crate::sync::atomic::AtomicU64;
// Acquire on stamps: see the item (or the freeing read) behind a stamp.
// Release on stamps: publish the item (or the freed slot) with the stamp.
// AcqRel on the CASes and marks of `head`/`tail`: every change of these two
// words is a read-modify-write, so each forms one release sequence; the
// engine's sleeper handshake (a registered waiter's no-op RMW against the
// waker's CAS) and the shutdown marks rely on it.
// Relaxed for first reads that a CAS or a stamp check validates.
use crate::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::sync::cell::UnsafeCell;
use crate::sync::{Backoff, CachePadded};

/// One place in the ring.
struct Slot<T> {
    /// Whose turn it is: `pos` = free for the push at `pos`; `pos + 1` =
    /// holds the item pushed at `pos`.
    stamp: AtomicU64,
    /// The item; initialised exactly while `stamp == pos + 1` for some `pos`
    /// (and while its pop reads it).
    item: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded lock-free FIFO of at most `cap` items (see the module docs).
pub(super) struct Ring<T> {
    /// The position of the next pop; bit `mark` = DRAINED (no pop may start).
    head: CachePadded<AtomicU64>,
    /// The position of the next push; bit `mark` = CLOSED (no push may start).
    tail: CachePadded<AtomicU64>,
    /// `cap` slots.
    slots: Box<[Slot<T>]>,
    /// The capacity, as a position-sized number.
    cap: u64,
    /// The flag bit of `head` and `tail`: the smallest power of two > `cap`.
    mark: u64,
    /// One lap: `2 * mark`, the unit of the lap part of a position.
    one_lap: u64,
}

// SAFETY: the ring owns its items and hands each to exactly one thread (the
// stamp protocol above), so it may move to and be shared by other threads
// exactly when `T` may be sent.
unsafe impl<T: Send> Send for Ring<T> {}
// SAFETY: see `Send`: shared access only ever moves a `T` in or out, never
// shares one.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Ring<T> {
    /// A ring of `cap` slots (`cap > 0`), all allocated now.
    pub(super) fn new(cap: usize) -> Self {
        assert!(cap > 0, "a ring needs at least one slot");
        let cap = cap as u64;
        let mark = (cap + 1).next_power_of_two();
        let one_lap = mark.checked_mul(2).expect("ring capacity too large");
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: AtomicU64::new(i),
                item: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded::new(AtomicU64::new(0)),
            tail: CachePadded::new(AtomicU64::new(0)),
            slots,
            cap,
            mark,
            one_lap,
        }
    }

    /// The slot of `pos` (an unmarked position).
    fn slot(&self, pos: u64) -> &Slot<T> {
        &self.slots[(pos & (self.mark - 1)) as usize]
    }

    /// The position after `pos` (unmarked): the next index, or index 0 of
    /// the next lap.
    fn next(&self, pos: u64) -> u64 {
        if (pos & (self.mark - 1)) + 1 < self.cap {
            pos + 1
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap)
        }
    }

    /// The position `k` places after `pos` (unmarked), `k < cap`: at most
    /// one lap further.
    fn advance(&self, pos: u64, k: u64) -> u64 {
        debug_assert!(k < self.cap);
        let index = (pos & (self.mark - 1)) + k;
        if index < self.cap {
            pos + k
        } else {
            (pos & !(self.one_lap - 1)).wrapping_add(self.one_lap) + (index - self.cap)
        }
    }

    /// How many positions come before `pos` (unmarked), from the start.
    fn count(&self, pos: u64) -> u64 {
        let laps = pos >> self.one_lap.trailing_zeros();
        laps.wrapping_mul(self.cap)
            .wrapping_add(pos & (self.mark - 1))
    }

    /// Reads the item out of `slot`, whose position this thread claimed for
    /// a pop, and frees the slot for the push one lap after `pos`.
    fn take(&self, slot: &Slot<T>, pos: u64) -> T {
        // SAFETY: the caller claimed `pos` after seeing `stamp == pos + 1`
        // (Acquire), so the item is initialised, its write happened before,
        // and no other thread touches the slot until the store below.
        let item = slot.item.with(|p| unsafe { p.read().assume_init() });
        slot.stamp.store(pos.wrapping_add(self.one_lap), Release);
        item
    }
}

impl<T> Storage for Ring<T> {
    type Item = T;

    fn try_push(&self, item: T) -> Result<(), Refused<T>> {
        let backoff = Backoff::new();
        let mut tail = self.tail.load(Relaxed);
        loop {
            if tail & self.mark != 0 {
                return Err(Refused::Closed(item));
            }
            let slot = self.slot(tail);
            // How far the slot's turn is ahead of our position.
            let ahead = slot.stamp.load(Acquire).wrapping_sub(tail) as i64;
            if ahead == 0 {
                // Free for us: claim the position.
                match self
                    .tail
                    .compare_exchange_weak(tail, self.next(tail), AcqRel, Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: we won `tail` while `stamp == tail`: the
                        // previous lap's pop has read the slot (its Release
                        // store of the stamp, which we Acquired, came after
                        // the read) and no other push can claim this position.
                        slot.item
                            .with_mut(|p| unsafe { p.write(MaybeUninit::new(item)) });
                        slot.stamp.store(tail + 1, Release);
                        return Ok(());
                    }
                    Err(current) => {
                        tail = current;
                        backoff.spin();
                    }
                }
            } else if ahead > 0 {
                // Another push took this position: our `tail` is stale.
                backoff.spin();
                tail = self.tail.load(Relaxed);
            } else if ahead == 1 - self.one_lap as i64 {
                // The slot still holds the previous lap's item: full if the
                // head is a whole lap behind, else its pop is half-way.
                let head = self.head.load(Acquire) & !self.mark;
                return Err(if head.wrapping_add(self.one_lap) == tail {
                    Refused::Full(item)
                } else {
                    Refused::Busy(item)
                });
            } else {
                // The previous lap's push here claimed its position and is
                // still writing: a whole lap of positions is claimed, full.
                return Err(Refused::Full(item));
            }
        }
    }

    fn try_pop(&self) -> Result<T, Missing> {
        let backoff = Backoff::new();
        let mut head = self.head.load(Relaxed);
        loop {
            if head & self.mark != 0 {
                // An immediate shutdown is draining. Report it once the tail
                // is closed too (its linearisation point; Acquire: whoever
                // learns of this failure also sees the ring closed), so that
                // no put can succeed after a get saw the shutdown.
                return Err(if self.tail.load(Acquire) & self.mark != 0 {
                    Missing::Closed
                } else {
                    Missing::Busy
                });
            }
            let slot = self.slot(head);
            // How far the slot's turn is ahead of our position.
            let ahead = slot.stamp.load(Acquire).wrapping_sub(head) as i64;
            if ahead == 1 {
                // Written for us: claim the position.
                match self
                    .head
                    .compare_exchange_weak(head, self.next(head), AcqRel, Relaxed)
                {
                    Ok(_) => return Ok(self.take(slot, head)),
                    Err(current) => {
                        head = current;
                        backoff.spin();
                    }
                }
            } else if ahead > 1 {
                // Another pop took this position: our `head` is stale.
                backoff.spin();
                head = self.head.load(Relaxed);
            } else {
                // Not written for this position: empty if no push claimed
                // it, else that push is half-way.
                let tail = self.tail.load(Acquire);
                return Err(if tail & !self.mark != head {
                    Missing::Busy
                } else if tail & self.mark != 0 {
                    Missing::Closed
                } else {
                    Missing::Empty
                });
            }
        }
    }

    fn sync_with_pushes(&self) {
        // The no-op RMW of a registered getter: ordered in `tail`'s release
        // sequence with every push's claim (see the engine's handshake).
        self.tail.fetch_or(0, AcqRel);
    }

    fn sync_with_pops(&self) {
        // The no-op RMW of a registered putter, against every pop's claim.
        self.head.fetch_or(0, AcqRel);
    }

    fn close(&self, drain: bool) -> Vec<T> {
        if !drain {
            self.tail.fetch_or(self.mark, AcqRel);
            return Vec::new();
        }
        // DRAINED first: from here on no pop claims a position; then CLOSED:
        // no push does. Both values are final, so `[head, tail)` is ours.
        let head = self.head.fetch_or(self.mark, AcqRel) & !self.mark;
        let tail = self.tail.fetch_or(self.mark, AcqRel) & !self.mark;
        let mut items =
            Vec::with_capacity(self.count(tail).wrapping_sub(self.count(head)) as usize);
        let mut pos = head;
        while pos != tail {
            let slot = self.slot(pos);
            let mut backoff = Backoff::new();
            // A push that claimed `pos` before CLOSED may still be writing.
            while slot.stamp.load(Acquire) != pos + 1 {
                backoff.snooze();
            }
            items.push(self.take(slot, pos));
            pos = self.next(pos);
        }
        // Everything is out: the head (still DRAINED) catches up with the
        // tail. A swap, not a store: `head` changes by RMWs only.
        self.head.swap(tail | self.mark, AcqRel);
        items
    }

    fn is_closed(&self) -> bool {
        // Acquire: whoever sees CLOSED also sees an immediate shutdown's
        // DRAINED, set before it.
        self.tail.load(Acquire) & self.mark != 0
    }

    fn len(&self) -> usize {
        loop {
            // Acquire on both: a head newer than the tail read first is
            // impossible when the tail is unchanged after reading the head.
            let tail = self.tail.load(Acquire);
            let head = self.head.load(Acquire);
            if self.tail.load(Acquire) == tail {
                let items = self
                    .count(tail & !self.mark)
                    .wrapping_sub(self.count(head & !self.mark));
                return items.min(self.cap) as usize;
            }
        }
    }

    fn pushed(&self) -> u64 {
        // Relaxed: a push that happened before the caller is seen by
        // coherence; a concurrent one may or may not count.
        self.count(self.tail.load(Relaxed) & !self.mark)
    }

    fn cheap_hints(&self) -> bool {
        true
    }

    // The hints read `head` (or `tail`), written by the own side only, and
    // the stamp of the one slot the awaited change lands in: no word that
    // the other side writes on every item. `try_pop`'s empty check reads
    // `tail`, and `try_push`'s full check reads `head`: polled by a waiting
    // side, those two lines would bounce between the cores on every item
    // (each of the other side's CASes then waits for the line to come
    // back), about one more core-to-core round trip per item at capacity 1.
    // Relaxed: a hint orders nothing; the try that follows it does.

    fn pop_ready(&self) -> bool {
        let head = self.head.load(Relaxed);
        if head & self.mark != 0 {
            // Being drained: let the try report it.
            return true;
        }
        // Written for this position (1), or already taken and our `head` is
        // stale (more): either way a try has something to find out.
        self.slot(head).stamp.load(Relaxed).wrapping_sub(head) as i64 >= 1
    }

    fn push_ready(&self, room: usize) -> bool {
        let tail = self.tail.load(Relaxed);
        if tail & self.mark != 0 {
            // Closed: let the try report it.
            return true;
        }
        // The slot `room - 1` places ahead is free for its push of this lap
        // (0), or our `tail` is stale (more). Pops free slots in about the
        // order of their positions, so the slots before it are free too.
        let k = (room.max(1) as u64 - 1).min(self.cap - 1);
        let pos = self.advance(tail, k);
        self.slot(pos).stamp.load(Relaxed).wrapping_sub(pos) as i64 >= 0
    }
}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // `&mut self`: no other thread is left, every claimed position was
        // written; drop the items between head and tail.
        let mut pos = self.head.load(Relaxed) & !self.mark;
        let tail = self.tail.load(Relaxed) & !self.mark;
        while pos != tail {
            let slot = self.slot(pos);
            // SAFETY: positions in `[head, tail)` hold initialised items that
            // nobody else can reach any more (exclusive access).
            slot.item.with_mut(|p| unsafe { (*p).assume_init_drop() });
            pos = self.next(pos);
        }
    }
}
