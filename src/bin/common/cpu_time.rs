//! Another process's CPU time, for `echo-bench --server-pid` (included with
//! `#[path]`). Linux only (`/proc`); elsewhere it is not measured.

use std::time::Duration;

/// utime + stime of process `pid` (all its threads, those that ended
/// too) and of its live descendants (a prefork server's workers); `None` if
/// `pid` cannot be read.
#[cfg(target_os = "linux")]
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let mut total = own_cpu(pid)?;
    let mut todo = children(pid);
    while let Some(child) = todo.pop() {
        total += own_cpu(child).unwrap_or_default();
        todo.extend(children(child));
    }
    Some(total)
}

/// The children of every thread of `pid` (`/proc/PID/task/TID/children`).
#[cfg(target_os = "linux")]
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// utime + stime of process `pid` alone.
#[cfg(target_os = "linux")]
fn own_cpu(pid: u32) -> Option<Duration> {
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
