//! Loom models of the mailbox (`src/ipc/mailbox.rs`) that a local Manager
//! proxy and the server's connection thread share: the same `End` code with
//! two loom threads, 4-byte slots (so a 10-byte message passes in three
//! pieces) and the mailbox's `ThreadBell`, a loom mutex and condvar here.
//! Spinning is off (`Duration::ZERO`): every wait goes straight to the
//! `asleep` handshake, the part a lost wake-up would come from. A lost
//! wake-up is a loom deadlock; a torn hand-over shows as wrong bytes.
#![cfg(loom)]

use std::cell::UnsafeCell;
use std::time::Duration;

use synclings::ipc::mailbox::{End, Slots, ThreadBell};
use synclings::ipc::{RecvError, SendError};
use synclings::sync::{thread, Arc};

const PIECE: usize = 4;

/// What both ends point into.
#[derive(Default)]
struct Memory {
    slots: Slots,
    bytes: [UnsafeCell<[u8; PIECE]>; 2],
}

// SAFETY: the bytes are only touched through `End`s, whose protocol is what
// these models check.
unsafe impl Sync for Memory {}

/// One execution: side 1 runs `other` on a new thread while side 0 runs
/// `main`; each side's end is dropped when its closure returns (what a
/// process leaving does to its socket), and the memory after both.
fn model<R: Send + 'static>(
    main: impl FnOnce(End<ThreadBell>) + Send + Sync + Clone + 'static,
    other: impl FnOnce(End<ThreadBell>) -> R + Send + Sync + Clone + 'static,
    check: impl Fn(R) + Send + Sync + 'static,
) {
    loom::model(move || {
        let memory = Arc::new(Memory::default());
        let bytes = [memory.bytes[0].get().cast(), memory.bytes[1].get().cast()];
        let [bell0, bell1] = ThreadBell::pair();
        // SAFETY: `memory` lives until both threads are done with their
        // ends (joined below); each end is one side.
        let (end0, end1) = unsafe {
            (
                End::new(&memory.slots, bytes, PIECE, 0, bell0, Duration::ZERO, 64),
                End::new(&memory.slots, bytes, PIECE, 1, bell1, Duration::ZERO, 64),
            )
        };
        let other = other.clone();
        let side1 = thread::spawn(move || other(end1));
        main.clone()(end0);
        check(side1.join().unwrap());
        drop(memory);
    });
}

/// Race: a one-piece request and its reply, each side possibly going to
/// sleep just as the other publishes. Property: both messages arrive whole,
/// nobody sleeps forever.
#[test]
fn a_round_trip_loses_no_wake_up() {
    model(
        |client| {
            client.send(&[7]).unwrap();
            assert_eq!(client.recv().unwrap(), [8]);
        },
        |server| {
            let m = server.recv().unwrap();
            server.send(&[m[0] + 1]).unwrap();
        },
        |()| {},
    );
}

/// Race: a message of three pieces, where the writer waits for the ack of
/// each piece while the reader may sleep for the next. Property: the bytes
/// arrive in order, and neither the writer's ack wait nor the reader's
/// piece wait is lost.
#[test]
fn a_message_in_pieces_arrives_whole() {
    model(
        |client| client.send(&(1..=10).collect::<Vec<u8>>()).unwrap(),
        |server| server.recv().unwrap(),
        |got| assert_eq!(got, (1..=10).collect::<Vec<u8>>()),
    );
}

/// Race: the writer publishes its last message and leaves at once; the
/// reader may see the departure before or after the message. Property: the
/// message is still delivered (a departure does not swallow what was
/// published before it), and the next receive says `Closed`.
#[test]
fn a_peer_that_leaves_after_sending_is_read_then_closed() {
    model(
        |server| {
            assert_eq!(server.recv().unwrap(), [1, 2]);
            assert!(matches!(server.recv(), Err(RecvError::Closed)));
        },
        |client| client.send(&[1, 2]).unwrap(),
        |()| {},
    );
}

/// Race: the reader leaves while the writer is between the pieces of a
/// message, waiting for an ack. Property: the writer is told `Closed`
/// instead of waiting for ever.
#[test]
fn a_writer_whose_reader_leaves_is_told_closed() {
    model(
        |client| {
            let sent = client.send(&[0; 2 * PIECE]);
            assert!(matches!(sent, Err(SendError::Closed)), "{sent:?}");
        },
        drop,
        |()| {},
    );
}
