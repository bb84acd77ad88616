//! # Exercise 14 — a pipe between two processes
//!
//! **What to build.** Both halves of three conversations between a parent
//! process and a child process, over `synclings::ipc` pipes:
//!
//! 1. The seed's program: the child entry `task` sends `"hello world"` and
//!    closes its end; the parent half `hello_from_a_child` makes a duplex
//!    pipe, starts `task` with one end, joins it and returns what it received.
//! 2. A conversation: the child entry `shout` answers every line it receives
//!    with the line in upper case (`str::to_uppercase`) until the parent closes
//!    its end (the receive then reports `RecvError::Closed`: return). The parent
//!    half `converse(lines)` sends each line, receives each answer, then
//!    closes its end, joins the child and returns the answers.
//! 3. A one-way pipe (`pipe(false)`: the reading end first, the writing end
//!    second): the child entry `count_to((writer, n))` sends `0, 1, ..., n-1`;
//!    the parent half `collect_count(n)` receives until the end of the pipe
//!    and returns the numbers. `n` may be 150 000: far more than a pipe holds.
//!
//! Two rules of pipes (exam questions 9 and 22) decide whether your parent
//! halves finish or hang:
//!
//! - *The reader sees the end only when every copy of the writing end is
//!   closed.* `Process::spawn` gives the child its own copy of the ends you
//!   pass; the parent still holds one. Drop it right after `spawn`, or your
//!   `recv` waits for a writer that is yourself.
//! - *A pipe holds about 64 KiB.* A child writing more blocks until someone
//!   reads. The seed `join`s before it reads: fine for "hello world", a
//!   deadlock for 150 000 numbers. Read first, join after.
//!
//! Each end may both send and receive in a duplex pipe, but two processes
//! using the *same* end would interleave their messages: give each process
//! its own end.
//!
//! **The Python it mirrors** (seed program 8, and exam questions 8, 9, 20, 22):
//!
//! ```python
//! from multiprocessing import Process, Pipe
//! def task(conn):
//!     conn.send('hello world')
//!     conn.close()
//! if __name__ == '__main__':
//!     parent_conn, child_conn = Pipe()
//!     p = Process(target=task, args=(child_conn,))
//!     p.start()
//!     p.join()
//!     print(parent_conn.recv())
//! ```
//!
//! **Use** `synclings::ipc`: `pipe(duplex) -> io::Result<(Connection,
//! Connection)>`; `Connection::send(&value)`, `recv::<T>()`, `close()` (or
//! drop); `Process::spawn("entry name", &args)` and `join() ->
//! io::Result<ExitStatus>` (`status.success()`). A child runs a function of
//! this same program, listed in `ENTRIES` with `entry!`: Python's
//! `if __name__ == '__main__':` is the `ipc::init(ENTRIES)` at the top of
//! `main` (in a child, it runs the entry and exits).
//!
//! **How to check it.**
//! - `cargo test -p exercises --bin process_pipe` runs the suite against your
//!   code (its children are this test binary, re-run: that is why the suite
//!   brings its own `main` under `cargo test`, which calls `ipc::init` too);
//! - `cargo run -p exercises --bin process_pipe` runs the `main` below.
//! - Stuck? `cargo run -- hint process_pipe`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables)]

use synclings::ipc::{entry, pipe, Connection, Entry, Process, RecvError};

/// The functions a child process may run (Python's `target=`), by name.
pub static ENTRIES: &[Entry] = &[entry!(task), entry!(shout), entry!(count_to)];

/// Child: sends `"hello world"` and closes its end (seed program 8).
fn task(conn: Connection) {
    // TODO: send "hello world", then close the connection.
    todo!()
}

/// Parent: starts `task` with one end of a duplex pipe, joins it, and returns
/// what it sent.
pub fn hello_from_a_child() -> String {
    // TODO: `pipe(true)`; `Process::spawn("task", &child_conn)`; drop your
    // copy of `child_conn`; join (check the status); `recv` the greeting.
    todo!()
}

/// Child: answers every line with the line in upper case, until the parent
/// closes its end.
fn shout(conn: Connection) {
    // TODO: loop on `conn.recv::<String>()`: `Ok(line)` -> send
    // `line.to_uppercase()`; `Err(RecvError::Closed)` -> return; any other
    // error -> panic with it.
    todo!()
}

/// Parent: sends each line to a `shout` child and returns its answers, in
/// order; the child has exited when this returns.
pub fn converse(lines: &[&str]) -> Vec<String> {
    // TODO: a duplex pipe and a `shout` child; for each line, send it and
    // `recv` the answer. Then close your end (the child's signal to stop)
    // BEFORE you join the child.
    todo!()
}

/// Child: sends `0, 1, ..., n - 1` on the writing end of a one-way pipe.
fn count_to((writer, n): (Connection, u64)) {
    // TODO: send each number (as a u64).
    todo!()
}

/// Parent: starts `count_to` with the writing end of a one-way pipe and
/// returns every number it sent, in order.
pub fn collect_count(n: u64) -> Vec<u64> {
    // TODO: `let (mut reader, writer) = pipe(false).expect(..)`; spawn "count_to" with
    // `&(&writer, n)`; drop `writer`; `recv::<u64>()` until
    // `Err(RecvError::Closed)`; only then join the child.
    todo!()
}

// Under `cargo test` the suite brings its own `main` (which also calls
// `ipc::init` first): this one is for `cargo run`.
#[cfg(not(test))]
fn main() {
    // First thing: in a child process this runs the requested entry and
    // exits; in the parent it returns at once.
    synclings::ipc::init(ENTRIES);
    println!("{}", hello_from_a_child());
    println!("{:?}", converse(&["hello", "pipe"]));
    println!(
        "{} numbers through a one-way pipe",
        collect_count(100_000).len()
    );
}

#[cfg(test)]
synclings_suites::process_pipe_suite! {
    entries: crate::ENTRIES,
    hello_from_a_child: crate::hello_from_a_child,
    converse: crate::converse,
    collect_count: crate::collect_count,
}
