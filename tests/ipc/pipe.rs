//! `pipe()` and `Connection`: message boundaries, the three ways a receive
//! can end badly (closed, truncated, too large), garbage on the wire, `poll`,
//! directions, and a 16 MiB message through a real child process.
//!
//! `harness = false`: `main` calls `ipc::init` first, because the children
//! are re-runs of this binary (see `synclings::ipc::process`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use synclings::ipc::{self, entry, pipe, Connection, Entry, Process, RecvError, SendError};
use synclings::testing::{run_tests, within, Test, DEADLINE};

static ENTRIES: &[Entry] = &[entry!(echo)];

const TESTS: &[Test] = &[
    (
        "boundaries_are_kept_empty_messages_too",
        boundaries_are_kept_empty_messages_too,
    ),
    (
        "sixteen_mib_round_trips_through_a_child",
        sixteen_mib_round_trips_through_a_child,
    ),
    (
        "closed_truncated_and_too_large_are_distinct",
        closed_truncated_and_too_large_are_distinct,
    ),
    (
        "garbage_on_the_wire_is_a_clear_error_without_a_huge_allocation",
        garbage_is_a_clear_error,
    ),
    (
        "poll_waits_and_does_not_consume",
        poll_waits_and_does_not_consume,
    ),
    ("wrong_direction_is_an_error", wrong_direction_is_an_error),
    (
        "oversized_send_writes_nothing",
        oversized_send_writes_nothing,
    ),
    (
        "handles_cannot_travel_inside_messages",
        handles_cannot_travel_inside_messages,
    ),
    (
        "an_end_holding_read_ahead_bytes_is_not_passed_to_a_child",
        an_end_holding_read_ahead_bytes_is_not_passed_to_a_child,
    ),
];

pub fn main() -> ExitCode {
    ipc::init(ENTRIES);
    run_tests(TESTS)
}

/// Records the largest single allocation while `TRACKING` is set, to show
/// that a lying length prefix does not make the receiver allocate it.
struct Tracking;

static TRACKING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACKING.load(SeqCst) {
            LARGEST.fetch_max(layout.size(), SeqCst);
        }
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if TRACKING.load(SeqCst) {
            LARGEST.fetch_max(new_size, SeqCst);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// The largest allocation made by `f`.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.store(0, SeqCst);
    TRACKING.store(true, SeqCst);
    let result = f();
    TRACKING.store(false, SeqCst);
    (result, LARGEST.load(SeqCst))
}

/// Child: sends back every message it receives, until the parent closes.
fn echo(mut conn: Connection) {
    while let Ok(bytes) = conn.recv_bytes() {
        conn.send_bytes(&bytes).unwrap();
    }
}

fn boundaries_are_kept_empty_messages_too() {
    for duplex in [true, false] {
        let (mut reader, mut writer) = pipe(duplex).unwrap();
        writer.send_bytes(b"").unwrap();
        writer.send(&"two").unwrap();
        writer.send(&String::new()).unwrap();
        writer.send_bytes(b"").unwrap();
        writer.send(&vec![1u64, 2, 3]).unwrap();
        drop(writer);
        assert_eq!(reader.recv_bytes().unwrap(), b"");
        assert_eq!(reader.recv::<String>().unwrap(), "two");
        assert_eq!(reader.recv::<String>().unwrap(), "");
        assert_eq!(reader.recv_bytes().unwrap(), b"");
        assert_eq!(reader.recv::<Vec<u64>>().unwrap(), [1, 2, 3]);
        assert!(
            matches!(reader.recv_bytes(), Err(RecvError::Closed)),
            "duplex = {duplex}"
        );
    }
}

fn sixteen_mib_round_trips_through_a_child() {
    let (mut parent, child) = pipe(true).unwrap();
    let mut process = Process::spawn("echo", &child).unwrap();
    drop(child);
    let message: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let expected = message.clone();
    // The echo sends while we still send: read on another thread.
    let mut reader = parent.try_clone().unwrap();
    let received = std::thread::spawn(move || {
        let first = reader.recv_bytes().unwrap();
        let second = reader.recv::<Vec<u8>>().unwrap();
        (first, second)
    });
    parent.send_bytes(&message).unwrap();
    parent.send(&message).unwrap();
    let (first, second) = within(DEADLINE, "16 MiB comes back twice", move || {
        received.join().unwrap()
    });
    assert!(
        first == expected,
        "the raw 16 MiB message came back altered"
    );
    assert!(
        second == expected,
        "the encoded 16 MiB message came back altered"
    );
    drop(parent);
    let status = within(DEADLINE, "the echo child exits", move || {
        process.join().unwrap()
    });
    assert!(status.success(), "{status}");
}

fn closed_truncated_and_too_large_are_distinct() {
    // Closed: the peer is gone at a boundary.
    let (mut a, b) = pipe(true).unwrap();
    drop(b);
    assert!(matches!(a.recv_bytes(), Err(RecvError::Closed)));

    // Truncated: the stream ends inside the header, then inside the payload.
    for partial in [&[5u8, 0][..], &[5, 0, 0, 0, b'a', b'b'][..]] {
        let (raw, theirs) = UnixStream::pair().unwrap();
        let mut conn = Connection::from(theirs);
        (&raw).write_all(partial).unwrap();
        drop(raw);
        let err = conn.recv_bytes().unwrap_err();
        assert!(matches!(err, RecvError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("inside a message"), "{err}");
    }

    // TooLarge: over the receiver's maximum; then the stream is out of step.
    let (mut a, mut b) = pipe(true).unwrap();
    b.set_max_message_len(10);
    a.send_bytes(&[1; 11]).unwrap();
    a.send_bytes(b"next").unwrap();
    assert!(matches!(
        b.recv_bytes(),
        Err(RecvError::TooLarge { len: 11, max: 10 })
    ));
    assert!(matches!(b.recv_bytes(), Err(RecvError::Desynchronized)));
}

fn garbage_is_a_clear_error() {
    // Text where a length should be: "GARB" is 1.1 GB as a little-endian u32.
    let (raw, theirs) = UnixStream::pair().unwrap();
    let mut conn = Connection::from(theirs);
    (&raw).write_all(b"GARBAGE, NOT A FRAME").unwrap();
    drop(raw);
    let (result, largest) = largest_allocation(|| conn.recv_bytes());
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            RecvError::TooLarge {
                len: 0x4252_4147,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("over the maximum"), "{err}");
    // The connection's read-ahead buffer (16 KiB, allocated at its first
    // receive) and nothing near the claimed 1.1 GB.
    assert!(
        largest <= 16 << 10,
        "refusing a huge length allocated {largest} bytes"
    );

    // A length just under the maximum, then the end: only what came is kept.
    let (raw, theirs) = UnixStream::pair().unwrap();
    let mut conn = Connection::from(theirs);
    let len = (conn.max_message_len() - 1) as u32;
    (&raw).write_all(&len.to_le_bytes()).unwrap();
    (&raw).write_all(b"only a little").unwrap();
    drop(raw);
    let (result, largest) = largest_allocation(|| conn.recv_bytes());
    assert!(matches!(result, Err(RecvError::Truncated { .. })));
    assert!(
        largest <= 2 << 20,
        "a 64 MiB claim allocated {largest} bytes before the data came"
    );

    // A well-framed payload that is not the asked type.
    let (mut a, mut b) = pipe(true).unwrap();
    a.send_bytes(&[0xff, 0xff, 0xff]).unwrap();
    let err = b.recv::<String>().unwrap_err();
    assert!(
        matches!(
            err,
            RecvError::Decode {
                type_name: "alloc::string::String",
                ..
            }
        ),
        "{err}"
    );
    // The stream stays in step after a decode error.
    a.send(&7u8).unwrap();
    assert_eq!(b.recv::<u8>().unwrap(), 7);
}

fn poll_waits_and_does_not_consume() {
    let (mut a, mut b) = pipe(true).unwrap();
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    let t0 = Instant::now();
    assert!(!b.poll(Some(Duration::from_millis(30))).unwrap());
    assert!(
        t0.elapsed() >= Duration::from_millis(30),
        "poll returned before its timeout"
    );

    a.send(&1u32).unwrap();
    a.send(&2u32).unwrap();
    assert!(b.poll(None).unwrap());
    assert!(
        b.poll(Some(Duration::ZERO)).unwrap(),
        "poll consumed the message"
    );
    assert_eq!(b.recv::<u32>().unwrap(), 1);
    assert!(b.poll(Some(Duration::ZERO)).unwrap());
    assert_eq!(b.recv::<u32>().unwrap(), 2);
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());

    // A poll that waits is woken by a message from another thread.
    let waiter = std::thread::spawn(move || {
        let ready = b.poll(Some(DEADLINE)).unwrap();
        (ready, b)
    });
    a.send(&3u32).unwrap();
    let (ready, mut b) = within(DEADLINE, "poll wakes on a message", move || {
        waiter.join().unwrap()
    });
    assert!(ready);
    assert_eq!(b.recv::<u32>().unwrap(), 3);

    // The end of the stream also makes poll true (recv then says Closed).
    drop(a);
    assert!(b.poll(Some(Duration::ZERO)).unwrap());
    assert!(matches!(b.recv::<u32>(), Err(RecvError::Closed)));
}

fn wrong_direction_is_an_error() {
    let (mut reader, mut writer) = pipe(false).unwrap();
    assert!(reader.readable() && !reader.writable());
    assert!(writer.writable() && !writer.readable());
    assert!(matches!(reader.send(&1u8), Err(SendError::WrongDirection)));
    assert!(matches!(
        writer.recv::<u8>(),
        Err(RecvError::WrongDirection)
    ));
    let err = writer.poll(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    writer.send(&9u8).unwrap();
    assert_eq!(reader.recv::<u8>().unwrap(), 9);

    let (a, b) = pipe(true).unwrap();
    assert!(a.readable() && a.writable() && b.readable() && b.writable());
}

fn oversized_send_writes_nothing() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.set_max_message_len(10);
    let err = a.send_bytes(&[0; 11]).unwrap_err();
    assert!(
        matches!(err, SendError::TooLarge { len: 11, max: 10 }),
        "{err}"
    );
    assert!(
        !b.poll(Some(Duration::ZERO)).unwrap(),
        "a refused message left bytes on the wire"
    );
    a.send_bytes(&[0; 10]).unwrap();
    assert_eq!(b.recv_bytes().unwrap().len(), 10);
}

fn handles_cannot_travel_inside_messages() {
    let (mut a, _b) = pipe(true).unwrap();
    let (c, _d) = pipe(true).unwrap();
    let err = a.send(&c).unwrap_err();
    assert!(matches!(err, SendError::Encode { .. }), "{err}");
    assert!(err.to_string().contains("Process::spawn"), "{err}");
}

/// A receive reads ahead: a message already read is in this process, not in
/// the descriptor, so passing the end to a child then is an error (never a
/// silent loss); once the message is received, the end can go.
fn an_end_holding_read_ahead_bytes_is_not_passed_to_a_child() {
    let (mut a, mut b) = pipe(true).unwrap();
    a.send(&1u32).unwrap();
    a.send(&2u32).unwrap();
    // A socketpair's send is in the peer's queue when it returns: the
    // first receive reads both frames.
    assert_eq!(b.recv::<u32>().unwrap(), 1);
    let err = Process::spawn("echo", &b).unwrap_err().to_string();
    assert!(err.contains("read ahead"), "{err}");
    assert_eq!(
        b.recv::<u32>().unwrap(),
        2,
        "the read-ahead message is kept"
    );
    let mut child = Process::spawn("echo", &b).unwrap();
    drop(b);
    a.send(&3u32).unwrap();
    let echoed = within(DEADLINE, "the child echoes", move || {
        a.recv::<u32>().unwrap()
    });
    assert_eq!(echoed, 3);
    within(DEADLINE, "the child exits", move || child.join().unwrap());
}
