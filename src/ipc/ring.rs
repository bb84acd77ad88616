//! The wire of a process [`Queue`](super::Queue): a byte ring in shared
//! memory, with sleeping in the kernel when it is empty or full.
//!
//! - **Positions** `head` (next byte to read) and `tail` (one past the last
//!   published byte) are `u32` counters that only grow, wrapping; the ring's
//!   length is a power of two, so `tail - head` (wrapping) is the number of
//!   bytes waiting and `pos & (len - 1)` an index.
//! - **One writer and one reader at a time**: the queue's write lock orders
//!   the writers, its read lock the readers. The writer copies bytes in past
//!   `tail` and then *publishes* them with one store to `tail`; the reader
//!   copies bytes out from `head` and then *consumes* them with one store to
//!   `head`. A process killed before its store leaves nothing visible: the
//!   next writer overwrites its bytes, the next reader reads the same ones.
//! - **Waiting**: first a spin that checks the position after every
//!   `PAUSE` (about 3 µs), then `sched_yield` until about 50 µs have passed,
//!   then sleeps in the kernel (a futex, or the portable backend's pipe: see
//!   `shm`) until the position it waits for changes. A wake-up on the
//!   other core costs 25–45 µs on a small VM, so a peer that answers within
//!   the spin saves both sides that cost: a 64 B round trip between two
//!   pinned processes goes from ~40 K/s (an exponential backoff of about
//!   2 µs, then the futex) to ~1 M/s. Checking after every `PAUSE` matters:
//!   an exponential backoff checks only every 64 `PAUSE`s (~1 µs) at its
//!   end. Yields, not more `PAUSE`s, after the first few microseconds: a peer
//!   sharing this core gets it. A sleeper counts itself in `sleepers` before
//!   its last check; the other side, after its store, wakes only when the count
//!   is not zero (both `SeqCst`: a Dekker pair, so no wake-up is lost). A
//!   sleeper killed while counted leaves the count too high, which only
//!   costs needless wake-up calls.

use std::ptr;
use std::sync::atomic::AtomicU32;
// SeqCst: each store of a position and the load of the other side's
// `sleepers` form a Dekker pair with the sleeper's increment and re-check.
use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use crossbeam_utils::CachePadded;

use super::shm::{spin_then_yield, SharedMemory};

/// A position and the sleepers waiting for it to change, on a cache line of
/// their own (the writer's line and the reader's line do not bounce together).
#[repr(C)]
#[derive(Default)]
pub(crate) struct Position {
    /// The position (wrapping); the futex word.
    at: AtomicU32,
    /// Threads (of any process) asleep until `at` changes.
    sleepers: AtomicU32,
}

/// The ring's positions, to be placed in shared memory; all zero is an
/// empty ring.
#[repr(C)]
#[derive(Default)]
pub(crate) struct RingState {
    /// One past the last published byte; written by the write-lock holder.
    tail: CachePadded<Position>,
    /// The next byte to read; written by the read-lock holder.
    head: CachePadded<Position>,
}

/// A view of a ring: its positions and its bytes.
pub(crate) struct Ring<'a> {
    /// The region the ring lives in (its waits and wake-ups).
    shm: &'a SharedMemory,
    state: &'a RingState,
    bytes: *mut u8,
    /// The length in bytes, a power of two.
    len: u32,
}

impl<'a> Ring<'a> {
    /// A ring over `len` bytes at `bytes`.
    ///
    /// # Safety
    ///
    /// `len` is a power of two, and `bytes` is valid for reads and writes of
    /// `len` bytes for `'a` (shared memory that other processes may use the
    /// same way).
    pub(crate) unsafe fn new(
        shm: &'a SharedMemory,
        state: &'a RingState,
        bytes: *mut u8,
        len: u32,
    ) -> Self {
        debug_assert!(len.is_power_of_two());
        Ring {
            shm,
            state,
            bytes,
            len,
        }
    }

    /// The length in bytes.
    pub(crate) fn len(&self) -> u32 {
        self.len
    }

    /// The next byte to read.
    pub(crate) fn head(&self) -> u32 {
        self.state.head.at.load(SeqCst)
    }

    /// One past the last published byte.
    pub(crate) fn tail(&self) -> u32 {
        self.state.tail.at.load(SeqCst)
    }

    /// Bytes waiting between `head` and `tail` (more than [`len`](Self::len)
    /// only if the positions are corrupt).
    pub(crate) fn used(head: u32, tail: u32) -> u32 {
        tail.wrapping_sub(head)
    }

    /// Waits until the tail differs from `tail` (new bytes were published),
    /// at most until `deadline` (a passed one: just checks); false if it
    /// passed first.
    pub(crate) fn wait_published(&self, tail: u32, deadline: Option<Instant>) -> bool {
        wait_change(self.shm, &self.state.tail, tail, deadline)
    }

    /// Waits until the head differs from `head` (bytes were consumed); false
    /// if `deadline` passed first.
    pub(crate) fn wait_consumed(&self, head: u32, deadline: Option<Instant>) -> bool {
        wait_change(self.shm, &self.state.head, head, deadline)
    }

    /// Copies `src` into the ring from position `pos` (not yet published).
    /// The caller holds the write lock and has checked that the bytes are
    /// free (between `tail` and `head + len`).
    pub(crate) fn write(&self, pos: u32, src: &[u8]) {
        debug_assert!(src.len() <= self.len as usize);
        let at = (pos & (self.len - 1)) as usize;
        let first = src.len().min(self.len as usize - at);
        // SAFETY: `at + first <= len` and `src.len() - first <= len - first`
        // (the wrapped part starts at 0): both copies stay inside the ring,
        // which does not overlap `src` (local memory).
        unsafe {
            ptr::copy_nonoverlapping(src.as_ptr(), self.bytes.add(at), first);
            ptr::copy_nonoverlapping(src.as_ptr().add(first), self.bytes, src.len() - first);
        }
    }

    /// Copies `dst.len()` bytes out of the ring from position `pos`.
    pub(crate) fn read(&self, pos: u32, dst: &mut [u8]) {
        // SAFETY: `dst` is valid for writes of its length.
        unsafe { self.read_raw(pos, dst.as_mut_ptr(), dst.len()) }
    }

    /// Appends `n` bytes from position `pos` to `out`, copied straight into
    /// its spare capacity (no zero-filling).
    pub(crate) fn read_append(&self, pos: u32, n: usize, out: &mut Vec<u8>) {
        out.reserve(n);
        // SAFETY: `reserve` made room for `n` more bytes; `read_raw` writes
        // exactly `n`, after which they are initialised.
        unsafe {
            self.read_raw(pos, out.as_mut_ptr().add(out.len()), n);
            out.set_len(out.len() + n);
        }
    }

    /// # Safety
    ///
    /// `dst` is valid for writes of `n` bytes and does not point into the ring.
    unsafe fn read_raw(&self, pos: u32, dst: *mut u8, n: usize) {
        assert!(n <= self.len as usize, "a read larger than the ring");
        let at = (pos & (self.len - 1)) as usize;
        let first = n.min(self.len as usize - at);
        // SAFETY: both copies stay inside the ring (as in `write`) and inside
        // `dst` (the caller's promise); the two do not overlap.
        unsafe {
            ptr::copy_nonoverlapping(self.bytes.add(at), dst, first);
            ptr::copy_nonoverlapping(self.bytes, dst.add(first), n - first);
        }
    }

    /// Makes everything up to `tail` visible to readers, and wakes a sleeping
    /// reader.
    pub(crate) fn publish(&self, tail: u32) {
        store_and_wake(self.shm, &self.state.tail, tail);
    }

    /// Frees everything before `head` for writers, and wakes a sleeping
    /// writer.
    pub(crate) fn consume(&self, head: u32) {
        store_and_wake(self.shm, &self.state.head, head);
    }
}

fn store_and_wake(shm: &SharedMemory, position: &Position, value: u32) {
    position.at.store(value, SeqCst);
    if position.sleepers.load(SeqCst) > 0 {
        shm.wake_all(&position.at);
    }
}

/// Spins, then yields (both bounded: [`spin_then_yield`]), then sleeps until
/// `position` differs from `seen` or the deadline passes.
fn wait_change(
    shm: &SharedMemory,
    position: &Position,
    seen: u32,
    deadline: Option<Instant>,
) -> bool {
    if spin_then_yield(deadline, || position.at.load(SeqCst) != seen) {
        return true;
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return false;
    }
    position.sleepers.fetch_add(1, SeqCst);
    let changed = loop {
        if position.at.load(SeqCst) != seen {
            break true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break false;
        }
        shm.wait(&position.at, seen, deadline);
    };
    position.sleepers.fetch_sub(1, SeqCst);
    changed
}
