//! Another process's CPU time, for `echo-bench --server-pid` (included with
//! `#[path]`). Linux only (`/proc`); elsewhere it is not measured.

use std::time::Duration;

/// utime + stime of process `pid` (all its threads, those that ended too);
/// `None` if it cannot be read.
#[cfg(target_os = "linux")]
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces: count from its `)`.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&hz| hz > 0)?;
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz))
}

/// Not measured off Linux: `echo-bench` then reports no server CPU time.
#[cfg(not(target_os = "linux"))]
pub fn process_cpu(_pid: u32) -> Option<Duration> {
    None
}
