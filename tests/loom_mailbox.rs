//! Loom models of the mailbox (`src/ipc/mailbox.rs`) that a local Manager
//! proxy and the server's connection thread share: the same `End` code with
//! two loom threads, 4-byte slots (so a 10-byte message passes in three
//! pieces) and a doorbell made of a loom mutex and condvar. Spinning is off
//! (`Duration::ZERO`): every wait goes straight to the `asleep` handshake,
//! the part a lost wake-up would come from. A lost wake-up is a loom
//! deadlock; a torn hand-over shows as wrong bytes.
#![cfg(loom)]

use std::cell::UnsafeCell;
use std::io;
use std::time::Duration;

use synclings::ipc::mailbox::{Bell, End, Slots};
use synclings::ipc::{RecvError, SendError};
use synclings::sync::{thread, Arc, Condvar, Mutex};

const PIECE: usize = 4;

/// The doorbell: rings pending per side, and which side has left.
#[derive(Default)]
struct Bells {
    state: Mutex<([u32; 2], [bool; 2])>,
    changed: Condvar,
}

struct LoomBell(Arc<Bells>, usize);

impl Bell for LoomBell {
    fn ring(&self) -> io::Result<()> {
        self.0.state.lock().0[1 - self.1] += 1;
        self.0.changed.notify_all();
        Ok(())
    }
    fn sleep(&self) -> io::Result<bool> {
        let mut s = self.0.state.lock();
        while s.0[self.1] == 0 && !s.1[1 - self.1] {
            s = self.0.changed.wait(s);
        }
        s.0[self.1] = 0;
        Ok(!s.1[1 - self.1])
    }
}

impl Drop for LoomBell {
    /// Leaving is what a closed socket says to the peer: it wakes.
    fn drop(&mut self) {
        self.0.state.lock().1[self.1] = true;
        self.0.changed.notify_all();
    }
}

/// What both ends point into.
#[derive(Default)]
struct Memory {
    slots: Slots,
    bytes: [UnsafeCell<[u8; PIECE]>; 2],
}

// SAFETY: the bytes are only touched through `End`s, whose protocol is what
// these models check.
unsafe impl Sync for Memory {}

/// The two ends (side 0, side 1) over one `Memory`, and the memory, which
/// must outlive both.
fn pair() -> (End<LoomBell>, End<LoomBell>, Arc<Memory>) {
    let memory = Arc::new(Memory::default());
    let bytes = [memory.bytes[0].get().cast(), memory.bytes[1].get().cast()];
    let bells = Arc::new(Bells::default());
    // SAFETY: `memory` is kept alive by each model until both ends are
    // dropped; each end is one side.
    let ends = unsafe {
        (
            End::new(
                &memory.slots,
                bytes,
                PIECE,
                0,
                LoomBell(bells.clone(), 0),
                Duration::ZERO,
                64,
            ),
            End::new(
                &memory.slots,
                bytes,
                PIECE,
                1,
                LoomBell(bells, 1),
                Duration::ZERO,
                64,
            ),
        )
    };
    (ends.0, ends.1, memory)
}

/// Race: a one-piece request and its reply, each side possibly going to
/// sleep just as the other publishes. Property: both messages arrive whole,
/// nobody sleeps forever.
#[test]
fn a_round_trip_loses_no_wake_up() {
    loom::model(|| {
        let (client, server, memory) = pair();
        let keep = memory.clone();
        let echo = thread::spawn(move || {
            let m = server.recv().unwrap();
            server.send(&[m[0] + 1]).unwrap();
            drop(server);
            drop(keep);
        });
        client.send(&[7]).unwrap();
        assert_eq!(client.recv().unwrap(), [8]);
        echo.join().unwrap();
        drop(client);
        drop(memory);
    });
}

/// Race: a message of three pieces, where the writer waits for the ack of
/// each piece while the reader may sleep for the next. Property: the bytes
/// arrive in order, and neither the writer's ack wait nor the reader's
/// piece wait is lost.
#[test]
fn a_message_in_pieces_arrives_whole() {
    loom::model(|| {
        let (client, server, memory) = pair();
        let keep = memory.clone();
        let reader = thread::spawn(move || {
            let m = server.recv().unwrap();
            drop(server);
            drop(keep);
            m
        });
        let sent: Vec<u8> = (1..=10).collect();
        client.send(&sent).unwrap();
        assert_eq!(reader.join().unwrap(), sent);
        drop(client);
        drop(memory);
    });
}

/// Race: the writer publishes its last message and leaves at once; the
/// reader may see the departure before or after the message. Property: the
/// message is still delivered (a departure does not swallow what was
/// published before it), and the next receive says `Closed`.
#[test]
fn a_peer_that_leaves_after_sending_is_read_then_closed() {
    loom::model(|| {
        let (client, server, memory) = pair();
        let keep = memory.clone();
        let writer = thread::spawn(move || {
            client.send(&[1, 2]).unwrap();
            drop(client);
            drop(keep);
        });
        assert_eq!(server.recv().unwrap(), [1, 2]);
        assert!(matches!(server.recv(), Err(RecvError::Closed)));
        writer.join().unwrap();
        drop(server);
        drop(memory);
    });
}

/// Race: the reader leaves while the writer is between the pieces of a
/// message, waiting for an ack. Property: the writer is told `Closed`
/// instead of waiting for ever.
#[test]
fn a_writer_whose_reader_leaves_is_told_closed() {
    loom::model(|| {
        let (client, server, memory) = pair();
        let keep = memory.clone();
        let leaver = thread::spawn(move || {
            drop(server);
            drop(keep);
        });
        let sent = client.send(&[0; 2 * PIECE]);
        assert!(matches!(sent, Err(SendError::Closed)), "{sent:?}");
        leaver.join().unwrap();
        drop(client);
        drop(memory);
    });
}
