//! `echo-bench`: a closed-loop load generator for the echo servers.
//!
//! ```text
//! echo-bench [--addr 127.0.0.1:8080] [--connections N] [--size BYTES] [--pipeline K]
//!            [--duration SECS] [--warmup SECS] [--threads T] [--exact] [--json]
//!            [--server-pid PID]
//! ```
//!
//! Opens N connections, spread over T threads that each drive theirs with a
//! `polling` event loop (non-blocking sockets, level-triggered). Every
//! connection keeps K requests of BYTES random bytes in flight: as soon as a
//! reply is complete another request is sent. Every reply byte is checked
//! against the request (same length, ASCII-uppercased; unchanged with
//! `--exact`), and every request's latency, from queueing it to the last
//! byte of its reply, goes into a histogram (about 1.5% precision).
//!
//! Prints a progress line on stderr every second, then requests per second,
//! the p50/p99/p99.9 latency and the errors (a wrong reply, a connection
//! closed or reset, a failed connect); `--json` prints the summary as one
//! JSON line instead. The run is bounded: connecting gives up after 10 s
//! plus 3 ms per connection,
//! the load stops after warm-up + duration. Loopback addresses only.
//! Exits 0 when every request succeeded.
//!
//! With `--server-pid PID` (the lab's driver, `bench/lab.py`), it also reads
//! the server's CPU time (utime + stime of `/proc/PID/stat`, every thread)
//! when the warm-up ends and when the measured window ends, and reports the
//! difference (`server_cpu_s` in the JSON line): the server's CPU time per
//! request is that ÷ `requests`.

#[path = "common/cli.rs"]
mod cli;
#[path = "common/cpu_time.rs"]
mod cpu_time;
#[path = "common/limits.rs"]
mod limits;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
// Relaxed: the counters are progress figures; the final numbers travel
// through the threads' join.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use polling::{Event, Events, PollMode, Poller};
use synclings::net::{protocol, EchoMode};

const USAGE: &str = "\
usage: echo-bench [OPTIONS]

Loads an echo server on loopback and reports throughput and latency.
  --addr ADDR         the server (default 127.0.0.1:8080; loopback only)
  --connections N     connections (default 16)
  --size BYTES        bytes per request (default 64)
  --pipeline K        requests in flight per connection (default 1)
  --duration SECS     measured time (default 5)
  --warmup SECS       load before measuring (default 1)
  --threads T         client threads (default: min(connections, cores))
  --exact             expect a byte-exact echo instead of uppercase
  --json              print the summary as one JSON line
  --server-pid PID    also report that process's CPU time over the measured window
  -h, --help          this help
";

/// Largest `size × pipeline`: the request bytes one connection may have in
/// flight (one shared buffer holds them).
const MAX_IN_FLIGHT_BYTES: usize = 64 << 20;
/// Time allowed to open every connection: this, plus
/// [`CONNECT_PER_CONNECTION`] each (10 000 connections from one thread take
/// seconds when other programs hold many ports).
const CONNECT_BUDGET: Duration = Duration::from_secs(10);
/// See [`CONNECT_BUDGET`].
const CONNECT_PER_CONNECTION: Duration = Duration::from_millis(3);

/// The command line.
#[derive(Clone, Debug)]
struct Options {
    addr: SocketAddr,
    connections: usize,
    size: usize,
    pipeline: usize,
    duration: Duration,
    warmup: Duration,
    threads: usize,
    mode: EchoMode,
    json: bool,
    /// The server process whose CPU time is read over the measured window.
    server_pid: Option<u32>,
}

fn main() -> ExitCode {
    let options = match cli::options("echo-bench", USAGE, parse(std::env::args().skip(1))) {
        Ok(options) => options,
        Err(code) => return code,
    };
    limits::raise_descriptor_limit();
    let summary = run(&options);
    if options.json {
        println!("{}", summary.json(&options));
    } else {
        summary.print(&options);
    }
    if summary.errors == 0 && summary.requests > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Counters the threads publish for the progress line.
#[derive(Default)]
struct Progress {
    completed: AtomicU64,
    errors: AtomicU64,
}

/// What one thread (or, merged, the whole run) measured.
#[derive(Default)]
struct Summary {
    /// Requests completed inside the measured window.
    requests: u64,
    /// Failed connects, wrong replies, connections lost.
    errors: u64,
    latency: Histogram,
    /// The measured window's actual length.
    elapsed: Duration,
    /// The server's CPU time over the measured window (`--server-pid`).
    server_cpu: Option<Duration>,
}

fn run(options: &Options) -> Summary {
    if !options.json {
        eprintln!(
            "echo-bench: {} connections x {} B, pipeline {}, {:?} (+{:?} warm-up), {} threads, against {}",
            options.connections,
            options.size,
            options.pipeline,
            options.duration,
            options.warmup,
            options.threads,
            options.addr
        );
    }
    let mut payload = vec![0; options.size];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    rng.fill(&mut payload);
    let mut expected = payload.clone();
    protocol::respond(&mut expected, options.mode);
    // K copies back to back: one write can carry every request in flight.
    let batch: Arc<[u8]> = payload.repeat(options.pipeline).into();
    let expected: Arc<[u8]> = expected.into();

    let progress = Arc::new(Progress::default());
    let ready = Arc::new(Barrier::new(options.threads + 1));
    let connect_deadline =
        Instant::now() + CONNECT_BUDGET + CONNECT_PER_CONNECTION * options.connections as u32;
    let workers: Vec<_> = (0..options.threads)
        .map(|t| {
            let mine = (t..options.connections).step_by(options.threads).count();
            let (batch, expected) = (Arc::clone(&batch), Arc::clone(&expected));
            let (progress, ready, options) =
                (Arc::clone(&progress), Arc::clone(&ready), options.clone());
            std::thread::Builder::new()
                .name(format!("bench-{t}"))
                .spawn(move || {
                    let load = Load {
                        options: &options,
                        batch: &batch,
                        expected: &expected,
                        progress: &progress,
                        thread: t,
                    };
                    load.run(mine, connect_deadline, &ready)
                })
                .expect("start a bench thread")
        })
        .collect();

    ready.wait();
    let start = Instant::now();
    let end = start + options.warmup + options.duration;
    let sampler = options
        .server_pid
        .map(|pid| sample_cpu(pid, start + options.warmup, end));
    let mut last = (start, 0);
    // A progress line at every whole second of the run (the last one at
    // `end` when the run lasts whole seconds).
    for second in 1.. {
        let tick = start + Duration::from_secs(second);
        if tick > end {
            break;
        }
        std::thread::sleep(tick.saturating_duration_since(Instant::now()));
        let now = Instant::now();
        let completed = progress.completed.load(Relaxed);
        let rate = (completed - last.1) as f64 / (now - last.0).as_secs_f64();
        let phase = if tick <= start + options.warmup {
            " (warm-up)"
        } else {
            ""
        };
        eprintln!(
            "[{second:>3}s] {rate:>10.0} req/s  errors {}{phase}",
            progress.errors.load(Relaxed)
        );
        last = (now, completed);
    }
    let mut total = Summary::default();
    for worker in workers {
        let part = worker.join().expect("a bench thread panicked");
        total.requests += part.requests;
        total.errors += part.errors;
        total.latency.merge(&part.latency);
        total.elapsed = total.elapsed.max(part.elapsed);
    }
    total.server_cpu = sampler.and_then(|s| s.join().ok().flatten());
    total
}

/// Reads the CPU time of process `pid` at `from` and at `to` (on a thread of
/// its own, so that the progress lines do not delay it) and returns the
/// difference; `None` if `/proc/PID/stat` could not be read.
fn sample_cpu(pid: u32, from: Instant, to: Instant) -> std::thread::JoinHandle<Option<Duration>> {
    std::thread::spawn(move || {
        std::thread::sleep(from.saturating_duration_since(Instant::now()));
        let before = cpu_time::process_cpu(pid);
        std::thread::sleep(to.saturating_duration_since(Instant::now()));
        let after = cpu_time::process_cpu(pid);
        Some(after?.saturating_sub(before?))
    })
}

/// One thread's share of the load; shared, read-only parts.
struct Load<'a> {
    options: &'a Options,
    /// The request, `pipeline` times over.
    batch: &'a [u8],
    /// The reply to one request.
    expected: &'a [u8],
    progress: &'a Progress,
    /// This thread's number.
    thread: usize,
}

/// One connection's state.
struct Conn {
    stream: TcpStream,
    /// Offset in the request of the next byte to send.
    send_offset: usize,
    /// Request bytes queued but not yet written (at most size × pipeline).
    to_write: usize,
    /// Offset in the expected reply of the next byte to receive.
    recv_offset: usize,
    /// When each request in flight was queued, oldest first.
    sent_at: VecDeque<Instant>,
    /// Registered with write interest.
    wants_write: bool,
}

impl Load<'_> {
    /// Connects `count` connections, waits for every thread at `ready`, then
    /// runs the load until warm-up + duration have passed.
    fn run(&self, count: usize, connect_deadline: Instant, ready: &Barrier) -> Summary {
        // Connection `key` of thread `t` is connection `t + key * threads`.
        let name = |key: usize| self.thread + key * self.options.threads;
        let mut summary = Summary::default();
        let poller = match Poller::new() {
            Ok(poller) => poller,
            Err(e) => {
                // Every connection of this thread is lost; the others go on.
                for _ in 0..count {
                    self.error(&mut summary, &format!("creating a poller: {e}"));
                }
                ready.wait();
                return summary;
            }
        };
        let mut conns: Vec<Option<Conn>> = Vec::with_capacity(count);
        for key in 0..count {
            match self.connect(connect_deadline) {
                Ok(stream) => {
                    // Safety (polling's contract): every registered stream
                    // is deleted from the poller before it is dropped
                    // (`close` and the end of this function).
                    let added =
                        unsafe { poller.add_with_mode(&stream, Event::all(key), PollMode::Level) };
                    match added {
                        Ok(()) => conns.push(Some(Conn {
                            stream,
                            send_offset: 0,
                            to_write: 0,
                            recv_offset: 0,
                            sent_at: VecDeque::new(),
                            wants_write: true,
                        })),
                        Err(e) => {
                            self.error(&mut summary, &format!("registering a connection: {e}"));
                            conns.push(None);
                        }
                    }
                }
                Err(e) => {
                    self.error(
                        &mut summary,
                        &format!("connecting to {}: {e}", self.options.addr),
                    );
                    conns.push(None);
                }
            }
        }
        ready.wait();
        let start = Instant::now();
        let measure_from = start + self.options.warmup;
        let end = measure_from + self.options.duration;
        for conn in conns.iter_mut().flatten() {
            for _ in 0..self.options.pipeline {
                conn.sent_at.push_back(start);
            }
            conn.to_write = self.batch.len();
        }
        let mut buf = vec![0; 64 * 1024];
        let mut events = Events::new();
        loop {
            let now = Instant::now();
            if now >= end || conns.iter().all(Option::is_none) {
                break;
            }
            events.clear();
            if let Err(e) = poller.wait(
                &mut events,
                Some((end - now).min(Duration::from_millis(100))),
            ) {
                self.error(&mut summary, &format!("waiting for events: {e}"));
                break;
            }
            for event in events.iter() {
                let Some(conn) = conns[event.key].as_mut() else {
                    continue;
                };
                let step = (|| {
                    if event.readable {
                        self.receive(conn, &mut buf, measure_from, end, &mut summary)?;
                    }
                    self.send(conn)?;
                    let wants_write = conn.to_write > 0;
                    if wants_write != conn.wants_write {
                        let interest = Event::new(event.key, true, wants_write);
                        poller.modify_with_mode(&conn.stream, interest, PollMode::Level)?;
                        conn.wants_write = wants_write;
                    }
                    io::Result::Ok(())
                })();
                if let Err(e) = step {
                    self.error(
                        &mut summary,
                        &format!("connection {}: {e}", name(event.key)),
                    );
                    let _ = poller.delete(&conn.stream);
                    conns[event.key] = None;
                }
            }
        }
        for conn in conns.iter().flatten() {
            let _ = poller.delete(&conn.stream);
        }
        summary.elapsed = Instant::now()
            .min(end)
            .saturating_duration_since(measure_from);
        summary
    }

    fn connect(&self, deadline: Instant) -> io::Result<TcpStream> {
        // A connect that times out (a full accept queue drops SYNs) is tried
        // again until the deadline.
        let stream = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "out of connect time",
                ));
            }
            match TcpStream::connect_timeout(&self.options.addr, left.min(Duration::from_secs(5))) {
                Ok(stream) => break stream,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
                Err(e) => return Err(e),
            }
        };
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        Ok(stream)
    }

    /// Writes what the socket takes of the queued requests.
    fn send(&self, conn: &mut Conn) -> io::Result<()> {
        while conn.to_write > 0 {
            // The batch holds `pipeline` requests from any offset on.
            let len = conn.to_write.min(self.batch.len() - conn.send_offset);
            match conn
                .stream
                .write(&self.batch[conn.send_offset..conn.send_offset + len])
            {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    conn.to_write -= n;
                    conn.send_offset = (conn.send_offset + n) % self.options.size;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what has arrived, checks it, and completes (and replaces)
    /// every request whose reply is whole.
    fn receive(
        &self,
        conn: &mut Conn,
        buf: &mut [u8],
        measure_from: Instant,
        end: Instant,
        summary: &mut Summary,
    ) -> io::Result<()> {
        let n = match conn.stream.read(buf) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ))
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        let mut data = &buf[..n];
        let size = self.options.size;
        let mut done = 0;
        while !data.is_empty() {
            let take = data.len().min(size - conn.recv_offset);
            if data[..take] != self.expected[conn.recv_offset..conn.recv_offset + take] {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "wrong reply bytes",
                ));
            }
            data = &data[take..];
            conn.recv_offset += take;
            if conn.recv_offset == size {
                conn.recv_offset = 0;
                let now = Instant::now();
                let Some(sent) = conn.sent_at.pop_front() else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a reply nobody asked for",
                    ));
                };
                done += 1;
                if now >= measure_from && now < end {
                    summary.requests += 1;
                    summary.latency.record(now - sent);
                }
                if now < end {
                    conn.sent_at.push_back(now);
                    conn.to_write += size;
                }
            }
        }
        self.progress.completed.fetch_add(done, Relaxed);
        Ok(())
    }

    fn error(&self, summary: &mut Summary, what: &str) {
        if summary.errors < 3 {
            eprintln!("echo-bench: {what}");
        }
        summary.errors += 1;
        self.progress.errors.fetch_add(1, Relaxed);
    }
}

impl Summary {
    fn req_per_s(&self) -> f64 {
        match self.elapsed.as_secs_f64() {
            0.0 => 0.0,
            secs => self.requests as f64 / secs,
        }
    }

    fn print(&self, options: &Options) {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "requests  {} in {:.2} s = {:.0} req/s ({:.1} MB/s each way)",
            self.requests,
            self.elapsed.as_secs_f64(),
            self.req_per_s(),
            self.req_per_s() * options.size as f64 / 1e6
        );
        println!(
            "latency   p50 {:.1} us  p99 {:.1} us  p99.9 {:.1} us  max {:.1} us",
            us(self.latency.percentile(0.50)),
            us(self.latency.percentile(0.99)),
            us(self.latency.percentile(0.999)),
            us(self.latency.max())
        );
        println!("errors    {}", self.errors);
        if let Some(cpu) = self.server_cpu {
            println!(
                "server    {:.3} s CPU = {:.2} us per request",
                cpu.as_secs_f64(),
                self.server_cpu_per_request_us().unwrap_or(0.0)
            );
        }
    }

    /// The server's CPU µs per measured request (`--server-pid`).
    fn server_cpu_per_request_us(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }

    fn json(&self, options: &Options) -> String {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let null = || "null".to_owned();
        format!(
            "{{\"connections\":{},\"size\":{},\"pipeline\":{},\"threads\":{},\"duration_s\":{:.3},\"requests\":{},\"req_per_s\":{:.1},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"max_us\":{:.1},\"errors\":{},\"server_cpu_s\":{},\"server_cpu_us_per_req\":{}}}",
            options.connections,
            options.size,
            options.pipeline,
            options.threads,
            self.elapsed.as_secs_f64(),
            self.requests,
            self.req_per_s(),
            us(self.latency.percentile(0.50)),
            us(self.latency.percentile(0.99)),
            us(self.latency.percentile(0.999)),
            us(self.latency.max()),
            self.errors,
            self.server_cpu
                .map_or_else(null, |c| format!("{:.3}", c.as_secs_f64())),
            self.server_cpu_per_request_us()
                .map_or_else(null, |c| format!("{c:.3}")),
        )
    }
}

/// A log-linear latency histogram in nanoseconds: exact below 128 ns, then
/// 64 buckets per power of two (at most ~1.5% off), 3776 buckets in all.
struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; Self::bucket(u64::MAX) + 1],
            total: 0,
            max: 0,
        }
    }
}

impl Histogram {
    /// The bucket of `v`: `v` itself below 128, else 64 per power of two.
    fn bucket(v: u64) -> usize {
        if v < 128 {
            v as usize
        } else {
            let shift = 63 - v.leading_zeros() - 6;
            ((shift as usize) << 6) + (v >> shift) as usize
        }
    }

    /// The middle of bucket `i`.
    fn value(i: usize) -> u64 {
        if i < 128 {
            i as u64
        } else {
            let shift = (i >> 6) - 1;
            let mantissa = (i - (shift << 6)) as u64;
            (mantissa << shift) + (1u64 << shift) / 2
        }
    }

    fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(ns)] += 1;
        self.total += 1;
        self.max = self.max.max(ns);
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The latency below which a fraction `p` of the requests fall.
    fn percentile(&self, p: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((p * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(Self::value(i).min(self.max));
            }
        }
        Duration::from_nanos(self.max)
    }

    fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }
}

/// xorshift64: random payload bytes without a dependency.
struct XorShift(u64);

impl XorShift {
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            chunk.copy_from_slice(&self.0.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Parses the arguments; `Ok(None)` means `--help`.
fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        connections: 16,
        size: 64,
        pipeline: 1,
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(1),
        threads: 0,
        mode: EchoMode::Upper,
        json: false,
        server_pid: None,
    };
    let mut args = args;
    // `--flag=value` or `--flag value`.
    while let Some((flag, inline)) = cli::next_flag(&mut args) {
        let mut value = || cli::value(&flag, &inline, &mut args, "a value");
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => {
                let v = value()?;
                options.addr = v.parse().map_err(|_| {
                    format!("--addr expects an address like 127.0.0.1:8080, got {v:?}")
                })?;
            }
            "--connections" => options.connections = count(&flag, &value()?, 100_000)?,
            "--size" => options.size = count(&flag, &value()?, MAX_IN_FLIGHT_BYTES)?,
            "--pipeline" => options.pipeline = count(&flag, &value()?, 1 << 20)?,
            "--threads" => options.threads = count(&flag, &value()?, 1024)?,
            "--duration" => options.duration = seconds(&flag, &value()?, false)?,
            "--warmup" => options.warmup = seconds(&flag, &value()?, true)?,
            "--exact" => options.mode = EchoMode::Exact,
            "--json" => options.json = true,
            "--server-pid" => {
                let v = value()?;
                options.server_pid = Some(
                    v.parse()
                        .map_err(|_| format!("--server-pid expects a process id, got {v:?}"))?,
                );
            }
            _ => {
                return Err(format!(
                    "unknown option {:?}",
                    cli::as_given(&flag, &inline)
                ))
            }
        }
    }
    if !options.addr.ip().is_loopback() {
        return Err(format!(
            "{} is not a loopback address: echo-bench only loads servers on this machine (127.0.0.1, ::1)",
            options.addr
        ));
    }
    if options.size.saturating_mul(options.pipeline) > MAX_IN_FLIGHT_BYTES {
        return Err(format!(
            "--size x --pipeline must be at most {MAX_IN_FLIGHT_BYTES} bytes in flight per connection"
        ));
    }
    if options.threads == 0 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        options.threads = cores.min(options.connections);
    }
    options.threads = options.threads.min(options.connections);
    Ok(Some(options))
}

/// A whole number in `1..=max`.
fn count(flag: &str, v: &str, max: usize) -> Result<usize, String> {
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{flag} expects a whole number from 1 to {max}, got {v:?}"
        )),
    }
}

/// Seconds, positive (or zero when `zero_ok`), at most a day.
fn seconds(flag: &str, v: &str, zero_ok: bool) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s.is_finite() && s <= 86_400.0 && (s > 0.0 || (zero_ok && s == 0.0)) => {
            Ok(Duration::from_secs_f64(s))
        }
        _ => Err(format!(
            "{flag} expects a number of seconds{} up to 86400, got {v:?}",
            if zero_ok { "" } else { " above 0" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_contiguous_and_close() {
        for v in [
            0,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            123_456,
            10_000_000_000,
            u64::MAX,
        ] {
            let i = Histogram::bucket(v);
            let mid = Histogram::value(i) as f64;
            assert!(
                (mid - v as f64).abs() <= v as f64 / 64.0 + 1.0,
                "{v} -> bucket {i} ~ {mid}"
            );
        }
        for i in 1..Histogram::bucket(u64::MAX) {
            assert!(Histogram::value(i) > Histogram::value(i - 1));
        }
    }

    #[test]
    fn percentiles() {
        let mut h = Histogram::default();
        for us in 1..=1000 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.percentile(0.5).as_micros() as i64;
        assert!((p50 - 500).abs() <= 10, "{p50}");
        assert_eq!(h.max(), Duration::from_micros(1000));
    }
}
