//! The demos' kernel counters on Linux, read from `/proc`.

use std::fs::File;
use std::net::TcpStream;
use std::os::fd::OwnedFd;
use std::time::Duration;

use synclings::testing::{current_tid, wait_until_parked, DEADLINE};
use synclings::Event;

/// Linux reports CPU times in `/proc` in clock ticks of `USER_HZ`, which its
/// ABI fixes at 100 per second.
const TICKS_PER_SECOND: f64 = 100.0;

/// `stream` as a file: std's sockets call recv(2) and send(2), which
/// /proc/self/io does not count; a file over the same descriptor calls
/// read(2) and write(2), which it does.
pub fn counted(stream: TcpStream) -> Box<dyn crate::demo::Conn> {
    Box::new(File::from(OwnedFd::from(stream)))
}

/// This process's system-call and CPU-time counters.
pub struct Counters {
    /// Read-like system calls (read, recv, ...): `syscr` of /proc/self/io.
    reads: u64,
    /// Write-like system calls: `syscw`.
    writes: u64,
    /// CPU time in user mode, seconds (utime of /proc/self/stat).
    user: f64,
    /// CPU time in kernel mode, seconds (stime).
    kernel: f64,
}

/// The value after `key` in a `key: value` file such as /proc/self/io.
fn field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The fields of a /proc stat line after the command name (in parentheses,
/// which may contain spaces): the first is the state.
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rfind(')')
        .map(|i| stat[i + 1..].split_whitespace().collect())
        .unwrap_or_default()
}

impl Counters {
    /// The counters now, if /proc can be read.
    pub fn now() -> Option<Counters> {
        let io = std::fs::read_to_string("/proc/self/io").ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields = stat_fields(&stat);
        // utime and stime are fields 14 and 15 of stat; 12 and 13 after the name.
        let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
        Some(Counters {
            reads: field(&io, "syscr")?,
            writes: field(&io, "syscw")?,
            user: ticks(11)? / TICKS_PER_SECOND,
            kernel: ticks(12)? / TICKS_PER_SECOND,
        })
    }

    /// What changed between `before` and `after`, for `round_trips`.
    pub fn report(before: Option<Counters>, after: Option<Counters>, round_trips: usize) -> String {
        let (Some(b), Some(a)) = (before, after) else {
            return "Cannot read /proc/self/io or /proc/self/stat here (is /proc mounted?)."
                .to_owned();
        };
        let (reads, writes) = (a.reads - b.reads, a.writes - b.writes);
        let (user, kernel) = (a.user - b.user, a.kernel - b.kernel);
        format!(
            "System calls (from /proc/self/io): {reads} reads + {writes} writes = {:.1} per round trip \
             (the client's write and read, the server's read and write).\n\
             CPU time (from /proc/self/stat): {kernel:.2} s in kernel mode, {user:.2} s in user mode: \
             an echo does almost nothing but system calls, so its time is the kernel's.\n\
             The same with strace: strace -c -f target/debug/synclings-course quiz demo syscalls",
            (reads + writes) as f64 / round_trips as f64
        )
    }
}

/// A thread of this process, by its kernel id.
fn task_file(tid: u32, file: &str) -> Result<String, String> {
    let path = format!("/proc/self/task/{tid}/{file}");
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn describe(tid: u32) -> Result<String, String> {
    let stat = task_file(tid, "stat")?;
    let state = stat_fields(&stat)
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let status = task_file(tid, "status")?;
    let voluntary = field(&status, "voluntary_ctxt_switches").unwrap_or(0);
    let meaning = match state.as_str() {
        "R" => "running or ready",
        "S" => "sleeping: blocked, waiting for an event",
        "D" => "uninterruptible sleep: blocked in IO (disk)",
        _ => "see proc(5)",
    };
    Ok(format!(
        "state {state} ({meaning}), {voluntary} voluntary context switches (times it gave the CPU up to wait)"
    ))
}

/// Starts a thread that blocks on an Event, shows its state, then sets it.
pub fn blocked() -> Result<(), String> {
    let gate = std::sync::Arc::new(Event::new());
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            let _ = tx.send(current_tid());
            gate.wait();
        })
    };
    let tid = rx
        .recv()
        .map_err(|_| "the waiter did not start".to_owned())?;
    wait_until_parked(DEADLINE, "the waiter blocks in Event::wait", tid);
    println!("  thread {tid}, in Event::wait():  {}", describe(tid)?);
    println!(
        "  (see it yourself: cat /proc/{}/task/{tid}/stat while it waits)",
        std::process::id()
    );
    gate.set();
    waiter
        .join()
        .map_err(|_| "the waiter panicked".to_owned())?;
    println!(
        "  after set(): the kernel made it ready, it ran and returned; /proc/self/task/{tid} is gone: {}",
        !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
    );
    Ok(())
}

/// The interrupt counts of /proc/interrupts: (local timer, all), summed over
/// the CPUs.
fn interrupt_counts() -> Result<(u64, u64), String> {
    let text = std::fs::read_to_string("/proc/interrupts")
        .map_err(|e| format!("cannot read /proc/interrupts: {e}"))?;
    let (mut timer, mut all) = (0, 0);
    for line in text.lines().skip(1) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let count: u64 = rest
            .split_whitespace()
            .map_while(|w| w.parse::<u64>().ok())
            .sum();
        all += count;
        if name.trim() == "LOC" {
            timer += count;
        }
    }
    Ok((timer, all))
}

/// Sleeps one second (on an Event that nobody sets) and shows the interrupts
/// the CPUs took meanwhile.
pub fn interrupts() -> Result<(), String> {
    let (timer0, all0) = interrupt_counts()?;
    Event::new().wait_timeout(Duration::from_secs(1));
    let (timer1, all1) = interrupt_counts()?;
    println!(
        "  in 1 s: {} interrupts in all, {} of them the local timer (LOC): the clock that lets the \
         kernel preempt a running thread.\n  The rest are devices (network, disk) and other CPUs: \
         see them with cat /proc/interrupts",
        all1 - all0,
        timer1 - timer0
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_round_trip_is_counted_in_system_calls() {
        let before = Counters::now().expect("/proc/self/io and /proc/self/stat");
        crate::demo::echo_round_trips(100).expect("loopback echo");
        let after = Counters::now().expect("/proc/self/io and /proc/self/stat");
        // Each round trip reads and writes on both sides: at least 2 reads
        // and 2 writes (other tests of this binary may add more).
        assert!(
            after.reads - before.reads >= 200,
            "{} reads",
            after.reads - before.reads
        );
        assert!(
            after.writes - before.writes >= 200,
            "{} writes",
            after.writes - before.writes
        );
    }

    #[test]
    fn a_waiting_thread_reads_as_sleeping() {
        let gate = std::sync::Arc::new(Event::new());
        let (tx, rx) = std::sync::mpsc::channel();
        let g = gate.clone();
        let waiter = std::thread::spawn(move || {
            tx.send(current_tid()).unwrap();
            g.wait();
        });
        let tid = rx.recv().unwrap();
        wait_until_parked(DEADLINE, "the waiter blocks", tid);
        assert!(
            describe(tid).unwrap().starts_with("state S"),
            "{}",
            describe(tid).unwrap()
        );
        gate.set();
        waiter.join().unwrap();
    }
}
