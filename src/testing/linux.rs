//! Thread states on Linux: `/proc/thread-self` and `/proc/self/task/TID/stat`.

/// The kernel's id of the calling thread.
pub fn current_tid() -> u32 {
    let link = std::fs::read_link("/proc/thread-self")
        .expect("current_tid reads /proc/thread-self (is /proc mounted?)");
    link.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse().ok())
        .expect("/proc/thread-self names the thread id")
}

/// True if thread `tid` of this process is asleep in the kernel (state `S`
/// or `D`); false if it runs or has exited.
pub fn is_parked(tid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .is_some_and(|state| state == "S" || state == "D")
}

/// True if every thread of this process but `me` is asleep or has exited.
pub fn others_asleep(me: u32) -> bool {
    let tasks = std::fs::read_dir("/proc/self/task")
        .expect("all_other_threads_asleep reads /proc/self/task (is /proc mounted?)");
    tasks
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&tid| tid != me)
        .all(|tid| {
            // A thread that exited between the listing and the check is not
            // running either.
            is_parked(tid) || !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists()
        })
}
