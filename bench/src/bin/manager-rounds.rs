//! `manager-rounds`: one timed window of `ipc::Manager` dict get/set, for
//! `bench/python/manager_rounds.py` (which alternates it with Python's
//! `Manager().dict()`, paired by round): see `unix/manager_rounds.rs`
//! (`synclings::ipc` exists on Unix only).

#[cfg(unix)]
#[path = "unix/manager_rounds.rs"]
mod imp;

#[cfg(unix)]
fn main() {
    imp::main();
}

#[cfg(not(unix))]
fn main() {
    eprintln!("manager-rounds needs Unix (synclings::ipc)");
    std::process::exit(2);
}
