//! `synclings::net::socketserver`'s tests: they are in `socketserver/mod.rs`
//! (a test binary of its own, `harness = false`: its `main` calls
//! `ipc::init` first). Not built under `--cfg loom` (the servers' threads and
//! sockets are no loom model).

#[cfg(not(loom))]
#[path = "socketserver/mod.rs"]
mod tests;

#[cfg(not(loom))]
use tests::main;

#[cfg(loom)]
fn main() {}
