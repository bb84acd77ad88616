//! `ipc` tests with real child processes: the tests are in `ipc/manager.rs`
//! (Unix only: `synclings::ipc` does not exist on Windows).
//!
//! `harness = false`: their `main` calls `ipc::init` first (see
//! `synclings::ipc::process`).

#[cfg(unix)]
#[path = "ipc/manager.rs"]
mod tests;

#[cfg(unix)]
use tests::main;

#[cfg(not(unix))]
fn main() {
    println!("skipped: synclings::ipc needs Unix");
}
