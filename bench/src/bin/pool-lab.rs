//! `pool-lab`: the GIL lab's Rust side (threads and `ipc::Pool`): see
//! `unix/pool_lab.rs` (`synclings::ipc` exists on Unix only).

#[cfg(unix)]
#[path = "unix/pool_lab.rs"]
mod imp;

#[cfg(unix)]
fn main() {
    imp::main();
}

#[cfg(not(unix))]
fn main() {
    eprintln!("pool-lab needs Unix (synclings::ipc)");
    std::process::exit(2);
}
