//! Shared memory (`ipc::Value`/`Array`) against `ipc::Manager` proxies: the
//! bench is in `unix/manager.rs` (`synclings::ipc` exists on Unix only).

#[cfg(unix)]
#[path = "unix/manager.rs"]
mod imp;

#[cfg(unix)]
fn main() {
    imp::main();
}

#[cfg(not(unix))]
fn main() {
    println!("skipped: synclings::ipc needs Unix");
}
