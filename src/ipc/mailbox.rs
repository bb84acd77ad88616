//! A mailbox: two parties pass whole messages of any length through two
//! slots in memory both of them map, one slot per direction, and sleep on
//! a doorbell ([`Bell`]) when they have to wait. A local Manager proxy and
//! the server's connection thread use one in shared memory, with their
//! Unix socket as the doorbell (`manager/wire.rs`); `tests/loom_mailbox.rs`
//! models the same code with two threads and a loom doorbell.
//!
//! # The protocol
//!
//! - A writer copies a message (or, if longer than a slot, its next piece)
//!   into its slot, then **publishes** it with one store to the slot's
//!   `seq`; the reader copies it out and stores `ack`. A writer starts a
//!   piece only once the previous one was acknowledged: a message of any
//!   length (up to the maximum) passes piece by piece, and a reply never
//!   overwrites an unread request.
//! - **Waiting** (for a piece, or for an ack): first a poll of the slot
//!   that yields the CPU between tries, for up to `spin` (a peer on this
//!   CPU runs at once; one on another CPU usually answers within it); then
//!   the waiter stores what it waits for in its `asleep` word, checks once
//!   more, and sleeps on the bell. A writer, after its store, rings only if
//!   the peer sleeps waiting for exactly that. No wake-up is lost: the
//!   sleeper's last check and the writer's store are read-modify-writes of
//!   one word (`seq` or `ack`), so one comes first in that word's order; if
//!   the check does, the writer's RMW reads from it and then sees the
//!   `asleep` word stored before it, and rings; otherwise the check sees the
//!   store. (A `SeqCst` store and load would do on hardware, but loom treats
//!   them as `AcqRel` and could not check the pair: `tests/loom_mailbox.rs`
//!   checks this one.) A ring reaches a peer that is awake only when it woke
//!   between the writer's two steps; it then finds its next sleep short.
//! - Every length read from the other side is checked: a corrupt slot ends
//!   the mailbox ([`RecvError::Io`] of kind `InvalidData`, then
//!   [`RecvError::Desynchronized`]), as does a message over the maximum
//!   ([`RecvError::TooLarge`], before anything is allocated for it).

use std::cell::Cell;
use std::io;
use std::time::{Duration, Instant};

use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use crate::sync::{Arc, CachePadded, Condvar, Mutex};

use super::{frame, RecvError, SendError};

/// How a side sleeps until the other rings, and rings the other.
pub trait Bell {
    /// Wakes the other side if it sleeps in [`sleep`](Bell::sleep) (or
    /// when it next does: a ring is not lost if nobody sleeps yet).
    fn ring(&self) -> io::Result<()>;
    /// Sleeps until the other side rings (or has rung since the last
    /// sleep); false: the other side is gone. May return early: callers
    /// check again.
    fn sleep(&self) -> io::Result<bool>;
}

/// A bell between two threads of one process (on the crate's sync facade:
/// loom models use it as it is). Dropping one side wakes the other for
/// good, as a closed socket does.
pub struct ThreadBell {
    shared: Arc<Bells>,
    me: usize,
}

/// Rings pending per side, and which side has left.
#[derive(Default)]
struct Bells {
    state: Mutex<([u32; 2], [bool; 2])>,
    changed: Condvar,
}

impl ThreadBell {
    /// The bells of side 0 and side 1.
    pub fn pair() -> [ThreadBell; 2] {
        let shared = Arc::new(Bells::default());
        [0, 1].map(|me| ThreadBell {
            shared: shared.clone(),
            me,
        })
    }
}

impl Bell for ThreadBell {
    fn ring(&self) -> io::Result<()> {
        self.shared.state.lock().0[1 - self.me] += 1;
        self.shared.changed.notify_all();
        Ok(())
    }

    fn sleep(&self) -> io::Result<bool> {
        let mut state = self.shared.state.lock();
        while state.0[self.me] == 0 && !state.1[1 - self.me] {
            state = self.shared.changed.wait(state);
        }
        state.0[self.me] = 0;
        Ok(!state.1[1 - self.me])
    }
}

impl Drop for ThreadBell {
    fn drop(&mut self) {
        self.shared.state.lock().1[self.me] = true;
        self.shared.changed.notify_all();
    }
}

/// What a side sleeps waiting for (its `asleep` word).
const AWAKE: u32 = 0;
const FOR_MESSAGE: u32 = 1;
const FOR_ACK: u32 = 2;

/// One direction: the messages of one side to the other.
#[repr(C)]
#[derive(Default)]
struct Slot {
    /// Pieces published by the writer (wrapping).
    seq: AtomicU32,
    /// Pieces taken by the reader.
    ack: AtomicU32,
    /// Bytes in the piece published last.
    len: AtomicU32,
    /// Bytes of the whole message, set with its first piece.
    total: AtomicU64,
}

/// The mailbox's shared words; all zero (or [`Default`]) is its initial
/// state. The slots' bytes live elsewhere (see [`End::new`]).
#[repr(C)]
#[derive(Default)]
pub struct Slots {
    /// `slots[side]` carries that side's messages.
    slots: [CachePadded<Slot>; 2],
    /// `asleep[side]`: what that side sleeps waiting for.
    asleep: [CachePadded<AtomicU32>; 2],
}

impl Slots {
    /// True if `side` sleeps on its bell (for tests: what it waits for is
    /// the protocol's business).
    pub fn is_asleep(&self, side: usize) -> bool {
        self.asleep[side].load(SeqCst) != AWAKE
    }
}

/// One side of a mailbox.
pub struct End<B> {
    slots: *const Slots,
    /// The bytes of each side's slot, `piece` bytes each.
    bytes: [*mut u8; 2],
    piece: usize,
    /// This side: 0 or 1 (the other side is the other).
    me: usize,
    bell: B,
    spin: Duration,
    max_message_len: usize,
    /// Pieces of the incoming slot taken so far.
    taken: Cell<u32>,
    /// Set when a message could not be read whole: the slots are out of
    /// step for good.
    broken: Cell<bool>,
}

// SAFETY: the pointers are to memory valid in every thread (the caller's
// promise to `new`); the `Cell`s keep an `End` to one thread at a time.
unsafe impl<B: Send> Send for End<B> {}

impl<B: Bell> End<B> {
    /// Side `me` (0 or 1) of the mailbox `slots`, whose side `i` writes its
    /// pieces into `bytes[i]`; `bell` rings and sleeps for this side; a
    /// waiter polls for up to `spin` before it sleeps; messages longer than
    /// `max_message_len` are refused.
    ///
    /// # Safety
    ///
    /// `slots` and both `bytes[i]` (valid for reads and writes of `piece`
    /// bytes, not overlapping) stay valid as long as this `End` lives, and
    /// only this `End` and one other of side `1 - me` use them.
    pub unsafe fn new(
        slots: *const Slots,
        bytes: [*mut u8; 2],
        piece: usize,
        me: usize,
        bell: B,
        spin: Duration,
        max_message_len: usize,
    ) -> End<B> {
        assert!(me < 2 && piece > 0 && piece <= u32::MAX as usize);
        End {
            slots,
            bytes,
            piece,
            me,
            bell,
            spin,
            max_message_len,
            taken: Cell::new(0),
            broken: Cell::new(false),
        }
    }

    /// This side's bell.
    pub fn bell(&self) -> &B {
        &self.bell
    }

    /// The mailbox's shared words.
    pub fn slots(&self) -> &Slots {
        // SAFETY: valid while `self` lives (`new`'s contract).
        unsafe { &*self.slots }
    }

    /// Sends `bytes` as one message, piece by piece.
    pub fn send(&self, bytes: &[u8]) -> Result<(), SendError> {
        frame::check_len(bytes.len(), self.max_message_len)?;
        let out = &self.slots().slots[self.me];
        let mut rest = bytes;
        let mut first = true;
        loop {
            let seq = out.seq.load(SeqCst);
            // The previous piece was taken (in a round trip it always was,
            // except between the pieces of one message).
            match self.wait(FOR_ACK, &out.ack, |ack| ack == seq) {
                Ok(true) => {}
                Ok(false) => return Err(SendError::Closed),
                Err(e) => return Err(SendError::Io(e)),
            }
            let n = rest.len().min(self.piece);
            // SAFETY: `n <= piece`: inside this side's slot, which the
            // reader does not read until `seq` moves; `rest` is local.
            unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), self.bytes[self.me], n) };
            out.len.store(n as u32, SeqCst);
            if first {
                out.total.store(bytes.len() as u64, SeqCst);
            }
            // A read-modify-write: the other half of the sleeper handshake.
            out.seq.fetch_add(1, SeqCst);
            self.ring_if(FOR_MESSAGE).map_err(|e| match e.kind() {
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => SendError::Closed,
                _ => SendError::Io(e),
            })?;
            rest = &rest[n..];
            first = false;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Receives one message, piece by piece.
    pub fn recv(&self) -> Result<Vec<u8>, RecvError> {
        if self.broken.get() {
            return Err(RecvError::Desynchronized);
        }
        let result = self.take_message();
        if result.is_err() {
            self.broken.set(true);
        }
        result
    }

    fn take_message(&self) -> Result<Vec<u8>, RecvError> {
        let peer = 1 - self.me;
        let slot = &self.slots().slots[peer];
        let corrupt = |why: &str| {
            RecvError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the mailbox is corrupt: {why}"),
            ))
        };
        let mut message = frame::buffer();
        let mut total = None;
        loop {
            let taken = self.taken.get();
            if !self
                .wait(FOR_MESSAGE, &slot.seq, |seq| seq != taken)
                .map_err(RecvError::Io)?
            {
                return Err(match total {
                    None => RecvError::Closed,
                    Some(expected) => RecvError::Truncated {
                        expected,
                        received: message.len() as u64,
                    },
                });
            }
            if slot.seq.load(SeqCst) != taken.wrapping_add(1) {
                return Err(corrupt("pieces were skipped"));
            }
            let n = slot.len.load(SeqCst) as usize;
            let expected = match total {
                Some(t) => t,
                None => {
                    let t = slot.total.load(SeqCst);
                    if t > self.max_message_len as u64 {
                        return Err(RecvError::TooLarge {
                            len: t,
                            max: self.max_message_len,
                        });
                    }
                    message.reserve_exact(t as usize);
                    *total.insert(t)
                }
            };
            if n > self.piece || (message.len() + n) as u64 > expected {
                return Err(corrupt("a piece is longer than its message"));
            }
            message.reserve(n);
            // SAFETY: `n <= piece`: inside the peer's slot, which its writer
            // leaves alone until `ack` moves; `reserve` made room for `n`
            // more bytes, initialised by the copy.
            unsafe {
                let end = message.as_mut_ptr().add(message.len());
                std::ptr::copy_nonoverlapping(self.bytes[peer], end, n);
                message.set_len(message.len() + n);
            }
            self.taken.set(taken.wrapping_add(1));
            // A read-modify-write, as the writer's `seq` (see `wait`).
            slot.ack.swap(taken.wrapping_add(1), SeqCst);
            // Only a writer between the pieces of one message waits for
            // this; a failure shows at the next wait.
            let _ = self.ring_if(FOR_ACK);
            if message.len() as u64 == expected {
                return Ok(message);
            }
        }
    }

    /// After a store the peer may wait for: rings it if it sleeps waiting
    /// for `what`.
    fn ring_if(&self, what: u32) -> io::Result<()> {
        if self.slots().asleep[1 - self.me].load(SeqCst) == what {
            self.bell.ring()
        } else {
            Ok(())
        }
    }

    /// Waits until `ready(word)`, where the peer changes `word` with a
    /// read-modify-write and then rings if this side sleeps for `what`:
    /// polls, yielding, for up to `spin`, then sleeps on the bell with
    /// `asleep` saying `what`, each sleep preceded by a check that is itself
    /// a read-modify-write of `word` (the handshake). False: the peer is
    /// gone (and `word` still not ready).
    fn wait(&self, what: u32, word: &AtomicU32, ready: impl Fn(u32) -> bool) -> io::Result<bool> {
        let ready_now = || ready(word.load(SeqCst));
        if ready_now() {
            return Ok(true);
        }
        if !self.spin.is_zero() {
            let deadline = Instant::now() + self.spin;
            loop {
                std::thread::yield_now();
                if ready_now() {
                    return Ok(true);
                }
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
        let asleep = &self.slots().asleep[self.me];
        let result = loop {
            asleep.store(what, SeqCst);
            // A no-op RMW: ordered against the peer's change of `word`.
            if ready(word.fetch_add(0, SeqCst)) {
                break Ok(true);
            }
            match self.bell.sleep() {
                Ok(true) => {}                      // rung (or woken early): check again
                Ok(false) => break Ok(ready_now()), // gone, unless it finished first
                Err(e) => break Err(e),
            }
        };
        asleep.store(AWAKE, SeqCst);
        result
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::thread;

    const PIECE: usize = 8;

    /// Both ends over leaked memory (the test's whole life); side `i`
    /// sends and accepts messages of up to `max[i]` bytes.
    fn pair(spin: Duration, max: [usize; 2]) -> (End<ThreadBell>, End<ThreadBell>, &'static Slots) {
        let slots: &'static Slots = Box::leak(Box::default());
        let a = Box::leak(Box::new([0u8; PIECE])).as_mut_ptr();
        let b = Box::leak(Box::new([0u8; PIECE])).as_mut_ptr();
        let [bell0, bell1] = ThreadBell::pair();
        // SAFETY: leaked memory lives for ever; each end is one side.
        let ends = unsafe {
            (
                End::new(slots, [a, b], PIECE, 0, bell0, spin, max[0]),
                End::new(slots, [a, b], PIECE, 1, bell1, spin, max[1]),
            )
        };
        (ends.0, ends.1, slots)
    }

    #[test]
    fn messages_of_every_size_pass_both_ways_in_order_with_and_without_spin() {
        for spin in [Duration::ZERO, Duration::from_micros(50)] {
            let (client, server, _) = pair(spin, [1 << 20; 2]);
            let sizes = [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 7, 1000];
            let echo = thread::spawn(move || {
                for _ in 0..sizes.len() {
                    let m = server.recv().unwrap();
                    server.send(&m).unwrap();
                }
            });
            for (i, &n) in sizes.iter().enumerate() {
                let sent: Vec<u8> = (0..n).map(|b| (b * 7 + i) as u8).collect();
                client.send(&sent).unwrap();
                assert_eq!(client.recv().unwrap(), sent, "{n} bytes, spin {spin:?}");
            }
            echo.join().unwrap();
        }
    }

    #[test]
    fn a_peer_that_leaves_ends_a_wait_with_closed_or_truncated() {
        let (client, server, _) = pair(Duration::ZERO, [1 << 20; 2]);
        let receiver = thread::spawn(move || server.recv());
        drop(client);
        assert!(matches!(receiver.join().unwrap(), Err(RecvError::Closed)));

        // Gone after the first piece of two (written by hand: `send` would
        // wait for its ack): the rest never comes.
        let (client, server, slots) = pair(Duration::ZERO, [1 << 20; 2]);
        let slot = &slots.slots[0];
        slot.len.store(PIECE as u32, SeqCst);
        slot.total.store(PIECE as u64 + 1, SeqCst);
        slot.seq.store(1, SeqCst);
        drop(client);
        assert!(matches!(
            server.recv(),
            Err(RecvError::Truncated { expected, received })
                if expected == PIECE as u64 + 1 && received == PIECE as u64
        ));
        // A sender whose reader left mid-message is told.
        let (client, server, _) = pair(Duration::ZERO, [1 << 20; 2]);
        drop(server);
        assert!(matches!(
            client.send(&[0; 2 * PIECE]),
            Err(SendError::Closed)
        ));
    }

    #[test]
    fn an_oversized_or_corrupt_message_is_refused_and_the_mailbox_stays_broken() {
        let (client, server, _) = pair(Duration::ZERO, [1 << 20, 10]);
        // Two pieces: the sender waits for an ack that never comes, and
        // is told `Closed` when the reader leaves.
        let sender = thread::spawn(move || client.send(&[0; 11]));
        assert!(matches!(
            server.recv(),
            Err(RecvError::TooLarge { len: 11, max: 10 })
        ));
        assert!(matches!(server.recv(), Err(RecvError::Desynchronized)));
        drop(server);
        assert!(matches!(sender.join().unwrap(), Err(SendError::Closed)));
        // A length over the slot, written by a misbehaving peer.
        let (_client, server, slots) = pair(Duration::ZERO, [1 << 20; 2]);
        let slot = &slots.slots[0];
        slot.len.store(PIECE as u32 + 1, SeqCst);
        slot.total.store(PIECE as u64 + 1, SeqCst);
        slot.seq.store(1, SeqCst);
        assert!(matches!(server.recv(), Err(RecvError::Io(_))));
    }
}
