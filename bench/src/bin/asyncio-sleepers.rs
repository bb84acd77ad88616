//! `asyncio-sleepers`: 100 000 sleeping tasks on synclings' event loop and
//! tokio's: see `unix/asyncio_sleepers.rs` (`synclings::asyncio` exists on
//! Unix only).

#[cfg(unix)]
#[path = "unix/asyncio_sleepers.rs"]
mod imp;

#[cfg(unix)]
fn main() {
    imp::main();
}

#[cfg(not(unix))]
fn main() {
    eprintln!("asyncio-sleepers needs Unix (synclings::asyncio)");
    std::process::exit(2);
}
