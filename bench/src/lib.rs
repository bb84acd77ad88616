//! Shared helpers of the synclings benchmarks: CPU pinning and the workloads
//! that several bench targets run.
//!
//! Method (see `BENCHMARKS.md`): producer threads are pinned to CPU 0 and
//! consumer threads to CPU 1 (this machine has two cores; waking a thread on
//! the other core is the expensive case we measure), every workload runs in
//! one process against its peers, criterion takes at least 10 samples, and
//! `report.py` reports the median with min and max per sample.

pub mod handrolled;

use std::time::{Duration, Instant};

/// Pins the calling thread to `cpu` (modulo the CPUs online on this
/// machine). The count is the machine's, not the caller's affinity mask: a
/// child process inherits the mask of its pinned parent and must still be
/// able to pin itself to another CPU.
pub fn pin(cpu: usize) {
    let online = online_cpus();
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu % online });
}

/// The CPUs online on this machine (not the caller's affinity mask).
#[cfg(unix)]
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online).unwrap_or(1).max(1)
}

/// The CPUs this process may use (Windows: the machine's, unless the
/// process was started with an affinity mask).
#[cfg(not(unix))]
fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The machine's core-to-core hand-over cost: the mean time of one round
/// trip of a counter between a thread pinned to CPU 0 and one pinned to
/// CPU 1, both spinning on an atomic. On this VM it is bimodal: about 280 ns
/// most of the time, about 30 ns when the host happens to run both vCPUs on
/// one physical core. A queue at capacity 1 hands over every item, so its
/// rate follows this figure; the queue rounds record it per round.
pub fn core_to_core_round_trip(round_trips: u64) -> Duration {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use std::sync::{Arc, Barrier};
    /// One counter per cache line.
    #[repr(align(128))]
    #[derive(Default)]
    struct Line(AtomicU64);
    let lines = Arc::new([Line::default(), Line::default()]);
    let ready = Arc::new(Barrier::new(2));
    let (l2, r2) = (lines.clone(), ready.clone());
    let peer = std::thread::spawn(move || {
        pin(1);
        r2.wait();
        for i in 1..=round_trips {
            while l2[0].0.load(SeqCst) != i {
                std::hint::spin_loop();
            }
            l2[1].0.store(i, SeqCst);
        }
    });
    let took = std::thread::spawn(move || {
        pin(0);
        ready.wait();
        let t0 = Instant::now();
        for i in 1..=round_trips {
            lines[0].0.store(i, SeqCst);
            while lines[1].0.load(SeqCst) != i {
                std::hint::spin_loop();
            }
        }
        t0.elapsed()
    })
    .join()
    .expect("probe");
    peer.join().expect("probe peer");
    took / u32::try_from(round_trips.max(1)).unwrap_or(u32::MAX)
}

/// The sending and receiving halves of a bounded queue under test.
pub trait Channel: Send + Sync + 'static {
    /// Makes a queue holding at most `cap` items.
    fn with_capacity(cap: usize) -> Self;
    /// Blocking send.
    fn send(&self, v: u64);
    /// Blocking receive.
    fn recv(&self) -> u64;
}

/// `synclings::Queue`.
pub struct Synclings(pub synclings::Queue<u64>);
impl Channel for Synclings {
    fn with_capacity(cap: usize) -> Self {
        Synclings(synclings::Queue::new(cap))
    }
    fn send(&self, v: u64) {
        self.0.put(v).expect("queue open");
    }
    fn recv(&self) -> u64 {
        self.0.get().expect("queue open")
    }
}

/// `std::sync::mpsc::sync_channel`, with the receiver behind a mutex for
/// several consumers (the std receiver is not `Sync`).
pub struct StdSync(
    pub std::sync::mpsc::SyncSender<u64>,
    pub std::sync::Mutex<std::sync::mpsc::Receiver<u64>>,
);
impl Channel for StdSync {
    fn with_capacity(cap: usize) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(cap);
        StdSync(tx, std::sync::Mutex::new(rx))
    }
    fn send(&self, v: u64) {
        self.0.send(v).expect("receiver alive");
    }
    fn recv(&self) -> u64 {
        self.1.lock().unwrap().recv().expect("sender alive")
    }
}

/// `crossbeam_channel::bounded`.
pub struct Crossbeam(
    pub crossbeam_channel::Sender<u64>,
    pub crossbeam_channel::Receiver<u64>,
);
impl Channel for Crossbeam {
    fn with_capacity(cap: usize) -> Self {
        let (tx, rx) = crossbeam_channel::bounded(cap);
        Crossbeam(tx, rx)
    }
    fn send(&self, v: u64) {
        self.0.send(v).expect("receiver alive");
    }
    fn recv(&self) -> u64 {
        self.1.recv().expect("sender alive")
    }
}

/// `kanal::bounded`: at capacity 1 (and whenever a receiver waits) it hands
/// an item straight to a waiting receiver's slot.
pub struct Kanal(pub kanal::Sender<u64>, pub kanal::Receiver<u64>);
impl Channel for Kanal {
    fn with_capacity(cap: usize) -> Self {
        let (tx, rx) = kanal::bounded(cap);
        Kanal(tx, rx)
    }
    fn send(&self, v: u64) {
        self.0.send(v).expect("receiver alive");
    }
    fn recv(&self) -> u64 {
        self.1.recv().expect("sender alive")
    }
}

/// `flume::bounded`.
pub struct Flume(pub flume::Sender<u64>, pub flume::Receiver<u64>);
impl Channel for Flume {
    fn with_capacity(cap: usize) -> Self {
        let (tx, rx) = flume::bounded(cap);
        Flume(tx, rx)
    }
    fn send(&self, v: u64) {
        self.0.send(v).expect("receiver alive");
    }
    fn recv(&self) -> u64 {
        self.1.recv().expect("sender alive")
    }
}

/// Moves `messages` through a fresh queue of capacity `cap` from `producers`
/// threads (pinned to CPU 0) to `consumers` threads (pinned to CPU 1) and
/// returns the wall time from the start signal to the last receive.
/// Every message is checked: the sum received must equal the sum sent.
pub fn run_workload<C: Channel>(
    cap: usize,
    producers: usize,
    consumers: usize,
    messages: u64,
) -> Duration {
    let per_producer = messages.div_ceil(producers as u64);
    let total = per_producer * producers as u64;
    let per_consumer = total / consumers as u64;
    assert_eq!(
        per_consumer * consumers as u64,
        total,
        "messages split evenly"
    );
    let chan = std::sync::Arc::new(C::with_capacity(cap));
    // Two barriers: every thread is spawned and pinned at `ready`; the clock
    // starts before `go` releases them, so a main thread that gets the CPU
    // late cannot start it after the work (it only adds the release).
    let ready = std::sync::Arc::new(std::sync::Barrier::new(producers + consumers + 1));
    let start = std::sync::Arc::new(std::sync::Barrier::new(producers + consumers + 1));
    let mut handles = Vec::new();
    for p in 0..producers {
        let (chan, ready, start) = (chan.clone(), ready.clone(), start.clone());
        handles.push(std::thread::spawn(move || {
            pin(0);
            ready.wait();
            start.wait();
            for i in 0..per_producer {
                chan.send(p as u64 * per_producer + i);
            }
            0u64
        }));
    }
    for _ in 0..consumers {
        let (chan, ready, start) = (chan.clone(), ready.clone(), start.clone());
        handles.push(std::thread::spawn(move || {
            pin(1);
            ready.wait();
            start.wait();
            let mut sum = 0u64;
            for _ in 0..per_consumer {
                sum = sum.wrapping_add(chan.recv());
            }
            sum
        }));
    }
    ready.wait();
    let t0 = Instant::now();
    start.wait();
    let sum = handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .fold(0u64, u64::wrapping_add);
    let elapsed = t0.elapsed();
    assert_eq!(
        sum,
        (0..total).fold(0u64, u64::wrapping_add),
        "lost or duplicated messages"
    );
    // Report per requested message so criterion's count stays right.
    elapsed.mul_f64(messages as f64 / total as f64)
}
