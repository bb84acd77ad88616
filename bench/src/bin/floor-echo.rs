//! `floor-echo`: the system-call floor of the echo protocol over epoll (the
//! lab's peer, Linux only): see `linux/floor_echo.rs`.

#[cfg(target_os = "linux")]
#[path = "linux/floor_echo.rs"]
mod imp;

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    imp::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("floor-echo is Linux-only (it is the epoll floor of the IO-models lab)");
    std::process::exit(2);
}
