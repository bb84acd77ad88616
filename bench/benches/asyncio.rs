//! `synclings::asyncio` against tokio's current-thread runtime: the bench
//! is in `unix/asyncio.rs` (`synclings::asyncio` exists on Unix only).

#[cfg(unix)]
#[path = "unix/asyncio.rs"]
mod imp;

#[cfg(unix)]
fn main() {
    imp::main();
}

#[cfg(not(unix))]
fn main() {
    println!("skipped: synclings::asyncio needs Unix");
}
