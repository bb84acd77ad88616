//! The cost of one readiness wait with 1 active and N idle descriptors, per
//! selector backend: the bench is in `linux/wait.rs` (Linux only, the lab's
//! machine: it compares epoll with poll, select and the polling crate).

#[cfg(target_os = "linux")]
#[path = "linux/wait.rs"]
mod imp;

#[cfg(target_os = "linux")]
fn main() {
    imp::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("skipped: the wait bench is Linux-only (it measures epoll against poll and select)");
}
