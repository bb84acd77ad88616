//! IPC between processes: messages per second (64 B) and bytes per second
//! (64 KiB), one way and round trip, for `Connection` (a duplex socketpair,
//! and a one-way `pipe(2)`), the process `Queue`, and a raw socketpair loop
//! (one plain `write` / `read_exact` per fixed-size message: the limit).
//! Python's `multiprocessing.Pipe` and `Queue` run the same workloads in
//! `python/ipc_bench.py`; `report.py` puts them side by side.
//!
//! Every workload has a real child process (`Process::spawn`, re-executing
//! this binary: `main` calls `ipc::init` first), pinned to CPU 1; the parent
//! is pinned to CPU 0. The child lives for one benchmark: the parent sends it
//! one command per criterion sample on a control connection, and the sample's
//! time runs from the first message to the child's acknowledgement (one way)
//! or to the last echo (round trip). A round trip counts as one iteration.
//!
//! `ipc/contended` is the locks' contended path: three children (pinned to
//! CPUs 0, 1, 0) take turns at one `Lock` or one-permit `Semaphore`, or two
//! producers and two consumers share one `Queue` of 64 B messages; an
//! iteration is one turn of every child (three turns; two messages).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use synclings::ipc::{self, entry, pipe, Connection, Entry, Lock, Process, Queue, Semaphore};
use synclings_bench::pin;

static ENTRIES: &[Entry] = &[
    entry!(connection_child),
    entry!(queue_child),
    entry!(raw_child),
    entry!(contender),
];

/// The sizes measured: 64 B (messages/s) and 64 KiB (MB/s).
const SIZES: [(usize, &str); 2] = [(64, "64B"), (64 << 10, "64KiB")];

/// What the child does for one sample.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Receive `count` messages, then acknowledge on the control connection.
    OneWay,
    /// Receive and send back `count` messages.
    RoundTrip,
}

/// One sample's command: the mode, the message size, the count.
type Command = (Mode, usize, u64);

/// A byte buffer that serde encodes as bytes (one copy), not as a sequence of
/// `u8` (one call per byte): what Python's `bytes` is to pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

/// Runs commands from `ctl` until the parent closes it.
fn serve(mut ctl: Connection, mut sample: impl FnMut(Mode, usize, u64)) {
    pin(1);
    while let Ok((mode, size, count)) = ctl.recv::<Command>() {
        sample(mode, size, count);
        ctl.send(&count).expect("acknowledge");
    }
}

fn connection_child((mut data, ctl): (Connection, Connection)) {
    serve(ctl, |mode, size, count| {
        for _ in 0..count {
            let m = data.recv_bytes().expect("a message");
            assert_eq!(m.len(), size);
            if mode == Mode::RoundTrip {
                data.send_bytes(&m).expect("echo");
            }
        }
    });
}

fn queue_child((requests, replies, ctl): (Queue<Bytes>, Queue<Bytes>, Connection)) {
    serve(ctl, |mode, size, count| {
        for _ in 0..count {
            let m = requests.get().expect("a message");
            assert_eq!(m.0.len(), size);
            if mode == Mode::RoundTrip {
                replies.put(&m).expect("echo");
            }
        }
    });
}

fn raw_child((data, ctl): (Connection, Connection)) {
    let mut sock = UnixStream::from(data.as_fd().try_clone_to_owned().expect("dup"));
    let mut buf = vec![0u8; 64 << 10];
    serve(ctl, |mode, size, count| {
        for _ in 0..count {
            sock.read_exact(&mut buf[..size]).expect("a message");
            if mode == Mode::RoundTrip {
                sock.write_all(&buf[..size]).expect("echo");
            }
        }
    });
}

/// What an `ipc/contended` child does, with the lock, semaphore and queue
/// every one of them is given.
#[derive(Serialize, Deserialize, Clone, Copy)]
enum Turn {
    Lock,
    Semaphore,
    /// Puts a 64 B message.
    Put,
    /// Gets one.
    Get,
}

/// The lock, semaphore and queue of `ipc/contended`.
type SharedThings = (Lock, Semaphore, Queue<Bytes>);

/// One of the `ipc/contended` children: per command, `count` turns.
fn contender(
    (turn, (lock, semaphore, queue), cpu, mut ctl): (Turn, SharedThings, usize, Connection),
) {
    pin(cpu);
    let message = Bytes(vec![0x5Au8; 64]);
    while let Ok(count) = ctl.recv::<u64>() {
        for _ in 0..count {
            match turn {
                Turn::Lock => drop(lock.acquire()),
                Turn::Semaphore => drop(semaphore.acquire()),
                Turn::Put => queue.put(&message).expect("put"),
                Turn::Get => assert_eq!(queue.get().expect("get").0.len(), 64),
            }
        }
        ctl.send(&count).expect("acknowledge");
    }
}

/// Children sharing one lock, semaphore or queue, for one benchmark.
struct Contenders {
    children: Vec<(Process, Connection)>,
}

impl Contenders {
    fn spawn(shared: &SharedThings, turns: &[Turn]) -> Contenders {
        let (lock, semaphore, queue) = shared;
        let children = turns
            .iter()
            .enumerate()
            .map(|(i, turn)| {
                let (ctl, child_ctl) = pipe(true).expect("control pipe");
                let args = (turn, (lock, semaphore, queue), i % 2, &child_ctl);
                let child = Process::spawn("contender", &args).expect("spawn");
                (child, ctl)
            })
            .collect();
        Contenders { children }
    }

    /// One sample: `iters` turns of every child.
    fn sample(&mut self, iters: u64) -> Duration {
        let each = iters;
        let t0 = Instant::now();
        for (_, ctl) in &mut self.children {
            ctl.send(&each).expect("command");
        }
        for (_, ctl) in &mut self.children {
            let acked: u64 = ctl.recv().expect("acknowledgement");
            assert_eq!(acked, each);
        }
        t0.elapsed()
    }

    fn finish(self) {
        for (mut child, ctl) in self.children {
            drop(ctl);
            let status = child.join().expect("join the child");
            assert!(status.success(), "bench child: {status}");
        }
    }
}

fn contended_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("ipc/contended");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let shared = (
        Lock::new().expect("lock"),
        Semaphore::new(1).expect("semaphore"),
        Queue::<Bytes>::new(64).expect("queue"),
    );
    let workloads: [(&str, &[Turn]); 3] = [
        ("lock_3procs", &[Turn::Lock; 3]),
        ("semaphore_3procs", &[Turn::Semaphore; 3]),
        (
            "queue_64B_2x2",
            &[Turn::Put, Turn::Get, Turn::Put, Turn::Get],
        ),
    ];
    for (name, turns) in workloads {
        let mut contenders = Contenders::spawn(&shared, turns);
        g.bench_function(name, |b| b.iter_custom(|iters| contenders.sample(iters)));
        contenders.finish();
    }
    g.finish();
}

/// The parent's side of one transport: sends (and for a round trip
/// receives) one message.
trait Transport {
    fn send(&mut self, m: &[u8]);
    fn recv(&mut self, size: usize);
}

struct Conn {
    /// Sends (and, duplex, receives).
    tx: Connection,
}

impl Transport for Conn {
    fn send(&mut self, m: &[u8]) {
        self.tx.send_bytes(m).expect("send");
    }
    fn recv(&mut self, size: usize) {
        let m = self.tx.recv_bytes().expect("echo");
        assert_eq!(m.len(), size);
    }
}

struct QueuePair {
    requests: Queue<Bytes>,
    replies: Queue<Bytes>,
    /// The message put, encoded once per put like any other.
    message: Bytes,
}

impl Transport for QueuePair {
    fn send(&mut self, m: &[u8]) {
        if self.message.0.len() != m.len() {
            self.message = Bytes(m.to_vec());
        }
        self.requests.put(&self.message).expect("put");
    }
    fn recv(&mut self, size: usize) {
        let m = self.replies.get().expect("echo");
        assert_eq!(m.0.len(), size);
    }
}

struct Raw {
    sock: UnixStream,
    buf: Vec<u8>,
}

impl Transport for Raw {
    fn send(&mut self, m: &[u8]) {
        self.sock.write_all(m).expect("write");
    }
    fn recv(&mut self, size: usize) {
        self.sock.read_exact(&mut self.buf[..size]).expect("read");
    }
}

/// One child and the parent's ends, for the length of one benchmark.
struct Peer<T> {
    transport: T,
    ctl: Connection,
    child: Process,
}

impl<T: Transport> Peer<T> {
    /// One sample: `iters` messages (or round trips) of `size` bytes.
    fn sample(&mut self, mode: Mode, size: usize, iters: u64) -> Duration {
        let message = vec![0xA5u8; size];
        self.ctl.send(&(mode, size, iters)).expect("command");
        let t0 = Instant::now();
        for _ in 0..iters {
            self.transport.send(&message);
            if mode == Mode::RoundTrip {
                self.transport.recv(size);
            }
        }
        let acked: u64 = self.ctl.recv().expect("acknowledgement");
        let elapsed = t0.elapsed();
        assert_eq!(acked, iters);
        elapsed
    }

    fn finish(self) {
        drop(self.ctl);
        let mut child = self.child;
        let status = child.join().expect("join the child");
        assert!(status.success(), "bench child: {status}");
    }
}

fn spawn_connection(duplex: bool) -> Peer<Conn> {
    let (ctl, child_ctl) = pipe(true).expect("control pipe");
    let (parent_end, child_end) = if duplex {
        pipe(true).expect("socketpair")
    } else {
        // pipe(false) gives (reader, writer): the child reads.
        let (r, w) = pipe(false).expect("pipe");
        (w, r)
    };
    let child = Process::spawn("connection_child", &(&child_end, &child_ctl)).expect("spawn");
    Peer {
        transport: Conn { tx: parent_end },
        ctl,
        child,
    }
}

fn spawn_queue() -> Peer<QueuePair> {
    let (ctl, child_ctl) = pipe(true).expect("control pipe");
    let requests = Queue::<Bytes>::new(0).expect("queue");
    let replies = Queue::<Bytes>::new(0).expect("queue");
    let child = Process::spawn("queue_child", &(&requests, &replies, &child_ctl)).expect("spawn");
    Peer {
        transport: QueuePair {
            requests,
            replies,
            message: Bytes(Vec::new()),
        },
        ctl,
        child,
    }
}

fn spawn_raw() -> Peer<Raw> {
    let (ctl, child_ctl) = pipe(true).expect("control pipe");
    let (parent_end, child_end) = pipe(true).expect("socketpair");
    let child = Process::spawn("raw_child", &(&child_end, &child_ctl)).expect("spawn");
    let sock = UnixStream::from(parent_end.as_fd().try_clone_to_owned().expect("dup"));
    Peer {
        transport: Raw {
            sock,
            buf: vec![0u8; 64 << 10],
        },
        ctl,
        child,
    }
}

fn bench_peer<T: Transport>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mode: Mode,
    size: usize,
    mut peer: Peer<T>,
) {
    g.bench_function(name, |b| {
        b.iter_custom(|iters| peer.sample(mode, size, iters))
    });
    peer.finish();
}

fn ipc_benches(c: &mut Criterion) {
    for (size, size_name) in SIZES {
        for (mode, mode_name) in [(Mode::OneWay, "one_way"), (Mode::RoundTrip, "round_trip")] {
            let mut g = c.benchmark_group(format!("ipc/{size_name}/{mode_name}"));
            if size < 1024 {
                g.throughput(Throughput::Elements(1));
            } else {
                g.throughput(Throughput::Bytes(size as u64));
            }
            g.sample_size(10);
            g.warm_up_time(Duration::from_millis(500));
            g.measurement_time(Duration::from_secs(2));
            bench_peer(&mut g, "connection", mode, size, spawn_connection(true));
            if mode == Mode::OneWay {
                bench_peer(
                    &mut g,
                    "connection_pipe",
                    mode,
                    size,
                    spawn_connection(false),
                );
            }
            bench_peer(&mut g, "queue", mode, size, spawn_queue());
            bench_peer(&mut g, "raw_socketpair", mode, size, spawn_raw());
            g.finish();
        }
    }
}

pub fn main() {
    // In a child: runs its entry and exits.
    ipc::init(ENTRIES);
    pin(0);
    let mut c = Criterion::default().configure_from_args();
    ipc_benches(&mut c);
    contended_benches(&mut c);
    c.final_summary();
}
