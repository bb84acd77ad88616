//! `cargo run -- quiz demo NAME`: something to run for each of the exam's
//! conceptual questions (interrupts, kernel and user mode, system calls,
//! process states), measured on this very process.
//!
//! What is portable lives here (the loopback echo round trips); reading the
//! kernel's counters is per OS, behind one seam: `demo/linux.rs` reads
//! `/proc`, `demo/other.rs` says which tool shows the same elsewhere.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

#[cfg_attr(target_os = "linux", path = "demo/linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "demo/other.rs")]
mod os;

/// How many round trips `syscalls` makes.
pub const ROUND_TRIPS: usize = 10_000;

/// `cargo run -- quiz demo NAME`.
pub fn run(name: &str) -> Result<bool, String> {
    match name {
        "syscalls" => {
            println!(
                "Questions 2 and 6: {ROUND_TRIPS} echo round trips over loopback, client and server in this process."
            );
            let before = os::Counters::now();
            echo_round_trips(ROUND_TRIPS).map_err(|e| format!("the loopback echo failed: {e}"))?;
            let after = os::Counters::now();
            println!("{}", os::Counters::report(before, after, ROUND_TRIPS));
            Ok(true)
        }
        "blocked" => {
            println!("Question 27: a thread waits on an Event; its state, as the kernel sees it.");
            os::blocked()?;
            Ok(true)
        }
        "interrupts" => {
            println!(
                "Question 1: the interrupts the CPUs take while this process sleeps one second."
            );
            os::interrupts()?;
            Ok(true)
        }
        _ => {
            println!(
                "cargo run -- quiz demo syscalls     system calls and kernel vs user time of {ROUND_TRIPS} echo round trips (q. 2, 6)\n\
                 cargo run -- quiz demo blocked      a blocked thread's state and context switches (q. 27)\n\
                 cargo run -- quiz demo interrupts   the interrupts taken while this process sleeps (q. 1)"
            );
            Ok(name.is_empty())
        }
    }
}

/// A connection the demo reads and writes.
pub trait Conn: Read + Write + Send {}

impl<T: Read + Write + Send> Conn for T {}

/// `n` round trips of 64 bytes to an echo thread over loopback TCP: each is
/// one write and one read on each side (through [`os::counted`], so that the
/// kernel's counters see them).
pub fn echo_round_trips(n: usize) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> io::Result<()> {
        let mut conn = os::counted(listener.accept()?.0);
        let mut buf = [0u8; 64];
        loop {
            match conn.read(&mut buf)? {
                0 => return Ok(()),
                len => {
                    buf[..len].make_ascii_uppercase();
                    conn.write_all(&buf[..len])?;
                }
            }
        }
    });
    let client = TcpStream::connect(addr)?;
    client.set_nodelay(true)?;
    let mut client = os::counted(client);
    let request = [b'a'; 64];
    let mut reply = [0u8; 64];
    for _ in 0..n {
        client.write_all(&request)?;
        client.read_exact(&mut reply)?;
    }
    drop(client);
    server
        .join()
        .map_err(|_| io::Error::other("the echo thread panicked"))?
}
