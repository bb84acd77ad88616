//! The pool's dispatcher: one thread of the parent that owns the workers.
//!
//! Each worker has two pipes: one for its chunks (the dispatcher's end is
//! non-blocking, with a queue in front: `outbox.rs`), one for its replies
//! (which ends when the worker does). Pipes, not a socket pair: a write and
//! its read cost about half as much (~330 ns against ~620 ns for a 500-byte
//! reply on this machine), and a `map` of tiny tasks pays that at least once
//! per chunk (each reply is its own write).
//!
//! The dispatcher waits in one `poll` on every worker's reply pipe, on the
//! chunk pipes that have chunks waiting for room, and on a wake-up socket
//! (written when a chunk is submitted, or the pool is closed or
//! terminated), and per wake-up:
//!
//! - handles every reply already read (a connection reads ahead: one `read`
//!   takes every reply that has arrived; `poll` is only asked once none is
//!   left), leaving each in its job;
//! - tops every worker up to its depth in one write of all the chunks it
//!   gets: its fair share of what is queued and in flight, but at most
//!   [`DEPTH`] chunks, or for a worker whose chunks are fast, from `DEPTH`
//!   up to as many as take [`QUEUED_WORK`] (at most [`MAX_DEPTH`]), or for
//!   one whose chunks are long ([`LONG_CHUNK`]), one; and at most
//!   [`MAX_INFLIGHT_BYTES`] of chunk frames (beyond the first). So a busy
//!   worker finds its next chunks in its pipe, a wake-up handles many tiny
//!   chunks, a worker that is slow (or not timed yet) holds at most
//!   `DEPTH - 1` chunks waiting behind the one it runs, and one with long
//!   chunks none (only a long chunk in a run of fast ones can hold more,
//!   about a millisecond's worth of the fast ones). Replies come in order,
//!   so the first unanswered chunk of a dead worker is the one it was
//!   running, and the others never started;
//! - replaces a worker whose connection ended (it died, or was killed): the
//!   chunk it was running fails with [`PoolError::WorkerDied`] (or goes back
//!   to the front of the queue once, with `retry_on_worker_death`), the
//!   chunks queued behind it go back to the queue as they were, and every
//!   other chunk is untouched;
//! - retires a worker that ran `maxtasksperchild` chunks (closes its
//!   connection: it exits) and starts a fresh one;
//! - on `terminate`, kills every worker and fails what is pending or running
//!   with [`PoolError::Terminated`]; after `close`, once nothing is left to
//!   run, closes every worker's connection and reaps it.
//!
//! Workers are daemon children started from this thread, so they end with
//! the parent process, even when it is killed.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::job::Job;
use super::outbox::Outbox;
use super::wire::{FAILED, READY, RESULTS};
use super::worker::WORKER;
use super::PoolError;
use crate::ipc::{pipe, Connection, Process};

/// Chunks in flight (the one it runs and the ones waiting in its pipe)
/// for a worker not known to be fast, at most (fewer when its fair share of
/// the work is fewer); for a fast one, at least (unless they are over
/// [`MAX_INFLIGHT_BYTES`]).
pub(super) const DEPTH: usize = 3;

/// Chunks in flight per worker, at most: a long queue of fast chunks is sent
/// ahead in batches, so that each wake-up of the dispatcher (and of a
/// worker) handles many chunks. The rest of a short queue is shared fairly
/// instead.
///
/// On two cores the dispatcher mostly runs when a worker has run out of
/// work (they share the CPUs), so a worker's batch must last while the
/// dispatcher takes its turn: with at most 16, a trace of `pool-lab`'s
/// `map` (chunks of ~2 µs) found each worker idle, its 16 chunks done,
/// at every top-up, and busy for about 30 µs of every 65.
const MAX_DEPTH: usize = 64;

/// The work queued behind a worker's running chunk, at most, as far as its
/// (smoothed) chunk time tells: a worker gets more than [`DEPTH`] chunks
/// only while that many fit in this time. For slower chunks the wake-ups
/// do not matter, and a deep queue behind a chunk that turns out long
/// would keep the others waiting while another worker idles.
const QUEUED_WORK: Duration = Duration::from_millis(1);

/// A worker whose chunks take at least this long gets one at a time, as
/// Python's workers take theirs from a shared queue: the dispatcher's round
/// trip between two chunks (tens of µs) is then under 2% of one, and no
/// chunk waits behind a long one while another worker idles at the end of
/// a `map`. (With up to two waiting, BENCHMARKS.md at 85e8947 had a
/// 2-worker speed-up of 1.81× for 16 tasks of 30 ms, Rust threads 1.88×.)
const LONG_CHUNK: Duration = Duration::from_millis(5);

/// Bytes of chunk frames in flight per worker, at most (one chunk always
/// goes, however large): so that large chunks are shared out as fairly as
/// slow ones. (Sending never blocks, whatever the size: see `outbox.rs`.)
const MAX_INFLIGHT_BYTES: usize = 64 << 10;

/// How long a retired or finished worker gets to exit once its connection
/// is closed, before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// A submitted chunk: its job, its index in the job, the frame for the
/// worker.
pub(super) struct Chunk {
    pub(super) job: Arc<Job>,
    pub(super) index: u64,
    pub(super) frame: Vec<u8>,
    /// Already re-queued once after its worker died.
    pub(super) retried: bool,
}

/// What the pool and the dispatcher share.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Written (one byte) to wake the dispatcher; non-blocking.
    wake: UnixStream,
}

/// The pool's state, under [`Shared::state`].
#[derive(Default)]
pub(super) struct State {
    /// Chunks waiting for a worker, in submission order.
    pub(super) pending: VecDeque<Chunk>,
    /// `close` was called: no new jobs.
    pub(super) closed: bool,
    /// `terminate` was called (or the pool dropped).
    pub(super) terminating: bool,
    /// Jobs still submitting chunks (an `imap` whose input is not used up):
    /// a closed pool waits for them.
    pub(super) open_jobs: usize,
    /// Set when the pool cannot run tasks any more (an initializer failed
    /// in a fresh worker, no worker can be started): every chunk fails so.
    pub(super) broken: Option<PoolError>,
    /// The workers' process ids now.
    pub(super) pids: Vec<u32>,
    /// The dispatcher has ended: nothing submitted now would ever run.
    pub(super) finished: bool,
    /// The dispatcher found a worker with room and nothing to send: the
    /// next submission must wake it. (Otherwise it is busy and will look at
    /// the queue when a reply comes: no wake-up, no system call.)
    pub(super) hungry: bool,
}

impl Shared {
    /// The shared state and the dispatcher's end of the wake-up socket.
    pub(super) fn new() -> io::Result<(Arc<Shared>, UnixStream)> {
        let (wake, wakee) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        wakee.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake,
        });
        Ok((shared, wakee))
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the dispatcher (a full socket already will).
    pub(super) fn wake(&self) {
        let _ = (&self.wake).write(&[1]);
    }
}

/// How the pool's workers are made.
#[derive(Clone, Debug)]
pub(super) struct Config {
    pub(super) processes: usize,
    pub(super) initializer: Option<(String, Vec<u8>)>,
    pub(super) max_tasks_per_child: Option<usize>,
    pub(super) retry_on_worker_death: bool,
}

struct Worker {
    process: Process,
    /// The pipe the worker reads its chunks from.
    tx: Outbox,
    /// The pipe its replies come on (and its end: closed when it exits).
    rx: Connection,
    /// Its READY has come.
    ready: bool,
    /// Chunks sent and not answered, oldest (the running one) first.
    inflight: VecDeque<Chunk>,
    /// The frame bytes of `inflight`.
    inflight_bytes: usize,
    /// When it started the chunk it runs now, as far as we know (its last
    /// answer with more in flight, or the send that woke it); `None` when
    /// idle.
    running_since: Option<Instant>,
    /// How long its chunks take (smoothed); `None` until one is timed.
    chunk_time: Option<Duration>,
    /// Chunks it has answered.
    tasks: usize,
}

impl Worker {
    /// How many more chunks it may be sent now, to reach `depth` in flight
    /// (and no more than `max_tasks` in its life).
    fn room(&self, depth: usize, max_tasks: Option<usize>) -> usize {
        if !self.ready {
            return 0;
        }
        let by_depth = depth.saturating_sub(self.inflight.len());
        match max_tasks {
            Some(max) => by_depth.min(max.saturating_sub(self.tasks + self.inflight.len())),
            None => by_depth,
        }
    }

    /// Takes the answer to its oldest chunk off `inflight` and times it.
    fn answered(&mut self) -> Chunk {
        let chunk = self.inflight.pop_front().expect("checked by the caller");
        self.inflight_bytes -= chunk.frame.len();
        let now = Instant::now();
        if let Some(start) = self.running_since {
            let took = now.saturating_duration_since(start);
            self.chunk_time = Some(self.chunk_time.map_or(took, |avg| (avg * 3 + took) / 4));
        }
        self.running_since = (!self.inflight.is_empty()).then_some(now);
        chunk
    }

    /// Whether a chunk frame of `len` bytes fits the bytes in flight, on top
    /// of `planned` bytes about to be sent (the first chunk always fits).
    fn fits(&self, planned: usize, len: usize) -> bool {
        let before = self.inflight_bytes + planned;
        before == 0 || before + len <= MAX_INFLIGHT_BYTES
    }
}

/// The depth to top a worker up to, given how long its chunks take (`None`:
/// not timed yet) and its fair `share` of the work.
fn depth(chunk_time: Option<Duration>, share: usize) -> usize {
    let fit = match chunk_time {
        Some(t) if t >= LONG_CHUNK => return 1,
        Some(t) => (QUEUED_WORK.as_nanos() / t.as_nanos().max(1)).min(MAX_DEPTH as u128) as usize,
        None => 0,
    };
    if fit > DEPTH {
        share.clamp(DEPTH, fit)
    } else {
        share.min(DEPTH)
    }
}

/// The fair share of the chunks queued and in flight per ready worker (at
/// least 1).
fn share(pending: usize, workers: &[Option<Worker>]) -> usize {
    let live = workers.iter().flatten().filter(|w| w.ready).count().max(1);
    let inflight: usize = workers.iter().flatten().map(|w| w.inflight.len()).sum();
    (pending + inflight).div_ceil(live).max(1)
}

/// Starts a worker (a daemon child running the built-in worker entry).
fn start_worker(config: &Config) -> Result<Worker, PoolError> {
    let spawn_error = |e: io::Error| PoolError::Spawn(e.to_string());
    let (chunks, tx) = pipe(false).map_err(spawn_error)?;
    let tx =
        Outbox::new(tx.into_sending_fd().expect("a pipe's sending end")).map_err(spawn_error)?;
    let (rx, replies) = pipe(false).map_err(spawn_error)?;
    let process = Process::builder(WORKER)
        .daemon(true)
        .spawn(&(&chunks, &replies, &config.initializer))
        .map_err(|e| PoolError::Spawn(e.to_string()))?;
    // The worker's ends are its own now: `rx` ends when the worker does.
    drop((chunks, replies));
    Ok(Worker {
        process,
        tx,
        rx,
        ready: false,
        inflight: VecDeque::new(),
        inflight_bytes: 0,
        running_since: None,
        chunk_time: None,
        tasks: 0,
    })
}

/// Reaps a worker whose connection is closed or broken: waits a little for
/// it to exit, then kills it. Returns how it ended.
fn reap(mut worker: Worker) -> String {
    drop(worker.tx);
    drop(worker.rx);
    match worker.process.join_timeout(EXIT_GRACE) {
        Ok(Some(status)) => status.to_string(),
        _ => {
            let _ = worker.process.kill();
            match worker.process.join() {
                Ok(status) => status.to_string(),
                Err(e) => format!("could not be reaped: {e}"),
            }
        }
    }
}

struct Dispatcher {
    shared: Arc<Shared>,
    config: Config,
    wakee: UnixStream,
    /// One slot per worker; `None`: to be (re)started.
    workers: Vec<Option<Worker>>,
}

/// The dispatcher thread's body. Reports on `started` once the first
/// workers are ready (or could not start).
pub(super) fn run(
    shared: Arc<Shared>,
    config: Config,
    wakee: UnixStream,
    started: Sender<Result<(), PoolError>>,
) {
    let mut d = Dispatcher {
        shared,
        workers: (0..config.processes).map(|_| None).collect(),
        config,
        wakee,
    };
    match d.start_all() {
        Ok(()) => {
            let _ = started.send(Ok(()));
            d.serve();
        }
        Err(e) => {
            d.kill_all();
            let _ = started.send(Err(e));
        }
    }
    let mut st = d.shared.lock();
    st.finished = true;
    st.pids.clear();
    // Whatever is still queued (a submission that raced the end) fails.
    let error = st.broken.clone().unwrap_or(PoolError::Terminated);
    for chunk in st.pending.drain(..) {
        chunk.job.deliver(chunk.index, Err(error.clone()));
    }
}

impl Dispatcher {
    /// Starts every worker and waits for each one's READY.
    fn start_all(&mut self) -> Result<(), PoolError> {
        for slot in 0..self.workers.len() {
            self.workers[slot] = Some(start_worker(&self.config)?);
        }
        for slot in 0..self.workers.len() {
            let worker = self.workers[slot].as_mut().expect("just started");
            match worker.rx.recv_bytes() {
                Ok(m) if m.first() == Some(&READY) => worker.ready = true,
                Ok(m) if m.first() == Some(&FAILED) => {
                    return Err(PoolError::Initializer(
                        String::from_utf8_lossy(&m[1..]).into_owned(),
                    ))
                }
                _ => {
                    let worker = self.workers[slot].take().expect("there");
                    return Err(PoolError::Spawn(format!(
                        "a worker ended before it was ready: {}",
                        reap(worker)
                    )));
                }
            }
        }
        self.publish_pids();
        Ok(())
    }

    fn publish_pids(&self) {
        let pids = self
            .workers
            .iter()
            .flatten()
            .map(|w| w.process.pid())
            .collect();
        self.shared.lock().pids = pids;
    }

    /// The main loop: see the module docs.
    fn serve(&mut self) {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut sends: Vec<Vec<Chunk>> = Vec::new();
        loop {
            self.drain();
            sends.clear();
            sends.resize_with(self.workers.len(), Vec::new);
            {
                let mut st = self.shared.lock();
                if st.terminating {
                    drop(st);
                    return self.terminate();
                }
                if let Some(error) = st.broken.clone() {
                    for chunk in st.pending.drain(..) {
                        chunk.job.deliver(chunk.index, Err(error.clone()));
                    }
                }
                let max = self.config.max_tasks_per_child;
                let share = share(st.pending.len(), &self.workers);
                for (worker, batch) in self.workers.iter().zip(sends.iter_mut()) {
                    let Some(worker) = worker else { continue };
                    let mut planned = 0;
                    for _ in 0..worker.room(depth(worker.chunk_time, share), max) {
                        match st.pending.front() {
                            Some(next) if worker.fits(planned, next.frame.len()) => {
                                let chunk = st.pending.pop_front().expect("looked at");
                                planned += chunk.frame.len();
                                batch.push(chunk);
                            }
                            _ => break,
                        }
                    }
                }
                // A worker below the least depth with nothing to send: the
                // next submission must wake us (the others will reply).
                st.hungry = st.pending.is_empty()
                    && self
                        .workers
                        .iter()
                        .zip(&sends)
                        .filter_map(|(w, batch)| w.as_ref().map(|w| (w, batch.len())))
                        .any(|(w, sent)| w.room(DEPTH, max) > sent);
                let busy = self
                    .workers
                    .iter()
                    .flatten()
                    .any(|w| !w.inflight.is_empty());
                if st.closed
                    && st.open_jobs == 0
                    && st.pending.is_empty()
                    && sends.iter().all(Vec::is_empty)
                    && !busy
                {
                    drop(st);
                    return self.finish();
                }
            }
            for (slot, batch) in sends.iter_mut().enumerate() {
                if !batch.is_empty() {
                    self.send(slot, std::mem::take(batch));
                }
            }
            self.restart_vacant();
            // Never sleep on a reply already read ahead (`poll` cannot see
            // it); nothing read since the drain, but this keeps it so.
            if self
                .workers
                .iter()
                .flatten()
                .any(|w| w.rx.has_buffered_message())
            {
                continue;
            }

            fds.clear();
            fds.push(pollfd(self.wakee.as_raw_fd(), libc::POLLIN));
            let slots: Vec<usize> = (0..self.workers.len())
                .filter(|&s| self.workers[s].is_some())
                .collect();
            for &slot in &slots {
                let worker = self.workers[slot].as_ref().expect("listed");
                fds.push(pollfd(worker.rx.as_fd().as_raw_fd(), libc::POLLIN));
            }
            // Chunks waiting for room in a worker's pipe: poll for it too.
            let waiting: Vec<usize> = slots
                .iter()
                .copied()
                .filter(|&s| !self.workers[s].as_ref().expect("listed").tx.is_empty())
                .collect();
            for &slot in &waiting {
                let worker = self.workers[slot].as_ref().expect("listed");
                fds.push(pollfd(worker.tx.fd(), libc::POLLOUT));
            }
            // SAFETY: `fds` is a valid array of `fds.len()` pollfds.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
            if n < 0 {
                continue; // EINTR; nothing else can fail with valid descriptors
            }
            if fds[0].revents != 0 {
                let mut buf = [0u8; 64];
                while matches!((&self.wakee).read(&mut buf), Ok(n) if n > 0) {}
            }
            for (i, &slot) in slots.iter().enumerate() {
                if fds[i + 1].revents != 0 && self.workers[slot].is_some() {
                    self.readable(slot);
                }
            }
            for (i, &slot) in waiting.iter().enumerate() {
                if fds[1 + slots.len() + i].revents != 0 {
                    self.writable(slot);
                }
            }
        }
    }

    /// Handles every reply already read ahead, worker by worker.
    fn drain(&mut self) {
        for slot in 0..self.workers.len() {
            while self.workers[slot]
                .as_ref()
                .is_some_and(|w| w.rx.has_buffered_message())
            {
                self.readable(slot);
            }
        }
    }

    /// Sends `batch` to worker `slot` in one write (its chunks become in
    /// flight, in order); a worker that cannot be written to is lost.
    fn send(&mut self, slot: usize, batch: Vec<Chunk>) {
        let Some(worker) = self.workers[slot].as_mut() else {
            // Lost meanwhile: back to the queue, in order.
            let mut st = self.shared.lock();
            for chunk in batch.into_iter().rev() {
                st.pending.push_front(chunk);
            }
            return;
        };
        let frames: Vec<&[u8]> = batch.iter().map(|c| c.frame.as_slice()).collect();
        let sent = worker.tx.send(&frames);
        drop(frames);
        if worker.inflight.is_empty() {
            worker.running_since = Some(Instant::now());
        }
        for chunk in batch {
            worker.inflight_bytes += chunk.frame.len();
            worker.inflight.push_back(chunk);
        }
        if sent.is_err() {
            self.lost(slot);
        }
    }

    /// Worker `slot`'s chunk pipe has room (or is broken): send more of
    /// what waits; a broken pipe is a lost worker.
    fn writable(&mut self, slot: usize) {
        let Some(worker) = self.workers[slot].as_mut() else {
            return; // lost meanwhile
        };
        if worker.tx.flush().is_err() {
            self.lost(slot);
        }
    }

    /// Worker `slot`'s connection has a message or its end.
    fn readable(&mut self, slot: usize) {
        let worker = self.workers[slot].as_mut().expect("polled");
        let message = match worker.rx.recv_bytes() {
            Ok(m) => m,
            Err(_) => return self.lost(slot),
        };
        match (worker.ready, message.first().copied()) {
            (false, Some(READY)) => worker.ready = true,
            (false, Some(FAILED)) => {
                let why = String::from_utf8_lossy(&message[1..]).into_owned();
                self.shared.lock().broken = Some(PoolError::Initializer(why));
                let worker = self.workers[slot].take().expect("there");
                reap(worker);
                self.publish_pids();
            }
            (true, Some(RESULTS)) if !worker.inflight.is_empty() => {
                let chunk = worker.answered();
                let mut results = message;
                results.remove(0);
                chunk.job.deliver(chunk.index, Ok(results));
                self.done_one(slot);
            }
            (true, Some(FAILED)) if !worker.inflight.is_empty() => {
                let chunk = worker.answered();
                let why = String::from_utf8_lossy(&message[1..]).into_owned();
                chunk.job.deliver(chunk.index, Err(PoolError::Failed(why)));
                self.done_one(slot);
            }
            // Out of protocol: treat it as a dead worker.
            _ => self.lost(slot),
        }
    }

    /// Worker `slot` answered a chunk: retire it if it has done its share.
    fn done_one(&mut self, slot: usize) {
        let worker = self.workers[slot].as_mut().expect("there");
        worker.tasks += 1;
        let done = self
            .config
            .max_tasks_per_child
            .is_some_and(|max| worker.tasks >= max);
        if done && worker.inflight.is_empty() {
            let worker = self.workers[slot].take().expect("there");
            reap(worker);
            // restart_vacant starts its successor.
        }
    }

    /// Worker `slot` died (or broke the protocol): reap it; the chunk it
    /// was running fails or is retried once, the ones queued behind it go
    /// back to the queue.
    fn lost(&mut self, slot: usize) {
        let mut worker = self.workers[slot].take().expect("there");
        let pid = worker.process.pid();
        let _ = worker.process.kill();
        let mut inflight = std::mem::take(&mut worker.inflight);
        let status = reap(worker);
        let running = inflight.pop_front();
        {
            let mut st = self.shared.lock();
            // Never started: back to the front, in their order.
            while let Some(chunk) = inflight.pop_back() {
                st.pending.push_front(chunk);
            }
            if let Some(mut chunk) = running {
                if self.config.retry_on_worker_death && !chunk.retried {
                    chunk.retried = true;
                    st.pending.push_front(chunk);
                } else {
                    chunk
                        .job
                        .deliver(chunk.index, Err(PoolError::WorkerDied { pid, status }));
                }
            }
        }
        self.publish_pids();
    }

    /// Starts a worker in every empty slot, unless the pool is winding down.
    fn restart_vacant(&mut self) {
        if self.workers.iter().all(Option::is_some) {
            return;
        }
        {
            let st = self.shared.lock();
            if st.broken.is_some() || (st.closed && st.open_jobs == 0 && st.pending.is_empty()) {
                return;
            }
        }
        for slot in 0..self.workers.len() {
            if self.workers[slot].is_none() {
                match start_worker(&self.config) {
                    Ok(worker) => self.workers[slot] = Some(worker),
                    Err(e) => {
                        if self.workers.iter().all(Option::is_none) {
                            self.shared.lock().broken = Some(e);
                        }
                        break;
                    }
                }
            }
        }
        self.publish_pids();
    }

    /// `terminate`: kill every worker; fail what is running or pending.
    fn terminate(&mut self) {
        for worker in self.workers.iter_mut().flatten() {
            let _ = worker.process.kill();
        }
        for slot in 0..self.workers.len() {
            if let Some(mut worker) = self.workers[slot].take() {
                for chunk in worker.inflight.drain(..) {
                    chunk.job.deliver(chunk.index, Err(PoolError::Terminated));
                }
                reap(worker);
            }
        }
        let mut st = self.shared.lock();
        for chunk in st.pending.drain(..) {
            chunk.job.deliver(chunk.index, Err(PoolError::Terminated));
        }
    }

    /// Kills every worker (a failed start).
    fn kill_all(&mut self) {
        for worker in self.workers.iter_mut().flatten() {
            let _ = worker.process.kill();
        }
        for worker in self.workers.drain(..).flatten() {
            reap(worker);
        }
    }

    /// After `close`, with nothing left: every worker exits.
    fn finish(&mut self) {
        for worker in self.workers.drain(..).flatten() {
            reap(worker);
        }
    }
}

fn pollfd(fd: std::os::fd::RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_chunks_queue_up_to_a_millisecond_of_work() {
        let us = Duration::from_micros;
        // A long queue of 2 µs chunks: as deep as allowed.
        assert_eq!(depth(Some(us(2)), 500), MAX_DEPTH);
        // 100 µs chunks: a millisecond's worth.
        assert_eq!(depth(Some(us(100)), 500), 10);
        // Slow, or not timed yet: DEPTH at most.
        assert_eq!(depth(Some(us(400)), 500), DEPTH);
        assert_eq!(depth(None, 500), DEPTH);
        // Long chunks: one at a time, none waiting behind the running one.
        assert_eq!(depth(Some(Duration::from_millis(30)), 500), 1);
        assert_eq!(depth(Some(LONG_CHUNK), 2), 1);
        // A short queue is shared: fewer than DEPTH only for slow chunks.
        assert_eq!(depth(Some(us(2)), 1), DEPTH);
        assert_eq!(depth(None, 1), 1);
        assert_eq!(depth(Some(us(2)), 20), 20);
        // A chunk timed at zero (a coarse clock) is fast, not a division by zero.
        assert_eq!(depth(Some(Duration::ZERO), 500), MAX_DEPTH);
    }
}
