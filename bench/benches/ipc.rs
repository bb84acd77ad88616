//! IPC between processes (`Connection`, the process `Queue`, a raw
//! socketpair; the contended locks): the bench is in `unix/ipc.rs`
//! (`synclings::ipc` exists on Unix only).

#[cfg(unix)]
#[path = "unix/ipc.rs"]
mod imp;

#[cfg(unix)]
fn main() {
    imp::main();
}

#[cfg(not(unix))]
fn main() {
    println!("skipped: synclings::ipc needs Unix");
}
