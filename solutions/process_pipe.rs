//! # Solution 14 — a pipe between two processes
//!
//! Three conversations over `synclings::ipc` pipes, each with a child entry
//! (run in a child process, a re-run of this program) and a parent half.
//!
//! - The end of a stream is the only "goodbye" a pipe has: a receive reports
//!   `RecvError::Closed` once every copy of the other end is closed. So the
//!   parent drops its copy of the child's end right after `spawn` (the child
//!   has its own), and `shout` stops when the parent closes its end.
//! - A pipe holds about 64 KiB: a child that writes more waits for a reader.
//!   The parent reads everything first and joins after; the seed's
//!   join-then-read order works only because "hello world" is small.
//! - A child's `todo!()` or panic does not vanish: `join` reports it
//!   (`ExitStatus` shows the message), and the parent halves fail with it.
//!
//! `cargo run -p solutions --bin process_pipe` prints what seed program 8
//! prints (`hello world`), then the two other conversations.

use synclings::ipc::{entry, pipe, Connection, Entry, Process, RecvError};

/// The functions a child process may run (Python's `target=`), by name.
pub static ENTRIES: &[Entry] = &[entry!(task), entry!(shout), entry!(count_to)];

/// Child: sends `"hello world"` and closes its end (seed program 8).
fn task(mut conn: Connection) {
    conn.send("hello world").expect("send the greeting");
    conn.close();
}

/// Waits for `child` and panics with its status if it did not end well.
fn join(mut child: Process) {
    let status = child.join().expect("wait for the child");
    assert!(status.success(), "the child did not end well: {status}");
}

/// Parent: starts `task` with one end of a duplex pipe, joins it, and returns
/// what it sent.
pub fn hello_from_a_child() -> String {
    let (mut parent_conn, child_conn) = pipe(true).expect("make a pipe");
    let child = Process::spawn("task", &child_conn).expect("start the child");
    drop(child_conn);
    // As in the seed: join first, then read (the greeting fits in the pipe).
    join(child);
    parent_conn.recv().expect("the greeting")
}

/// Child: answers every line with the line in upper case, until the parent
/// closes its end.
fn shout(mut conn: Connection) {
    loop {
        match conn.recv::<String>() {
            Ok(line) => conn.send(&line.to_uppercase()).expect("send the answer"),
            Err(RecvError::Closed) => return,
            Err(e) => panic!("receiving a line: {e}"),
        }
    }
}

/// Parent: sends each line to a `shout` child and returns its answers, in
/// order; the child has exited when this returns.
pub fn converse(lines: &[&str]) -> Vec<String> {
    let (mut conn, child_conn) = pipe(true).expect("make a pipe");
    let child = Process::spawn("shout", &child_conn).expect("start the child");
    drop(child_conn);
    let answers = lines
        .iter()
        .map(|line| {
            conn.send(line).expect("send a line");
            conn.recv().expect("the child's answer")
        })
        .collect();
    // Closing our end tells the child to stop; joining first would wait for
    // a child that waits for us.
    conn.close();
    join(child);
    answers
}

/// Child: sends `0, 1, ..., n - 1` on the writing end of a one-way pipe.
fn count_to((mut writer, n): (Connection, u64)) {
    for i in 0..n {
        writer.send(&i).expect("send a number");
    }
}

/// Parent: starts `count_to` with the writing end of a one-way pipe and
/// returns every number it sent, in order.
pub fn collect_count(n: u64) -> Vec<u64> {
    let (mut reader, writer) = pipe(false).expect("make a pipe");
    let child = Process::spawn("count_to", &(&writer, n)).expect("start the child");
    // Our copy of the writing end would keep the pipe open for ever.
    drop(writer);
    let mut numbers = Vec::new();
    loop {
        match reader.recv::<u64>() {
            Ok(i) => numbers.push(i),
            Err(RecvError::Closed) => break,
            Err(e) => panic!("receiving a number: {e}"),
        }
    }
    // Everything is read: the child is done (or about to be).
    join(child);
    numbers
}

// Under `cargo test` the suite brings its own `main` (which also calls
// `ipc::init` first): this one is for `cargo run`.
#[cfg(not(test))]
fn main() {
    // In a child process this runs the requested entry and exits.
    synclings::ipc::init(ENTRIES);
    println!("{}", hello_from_a_child());
    println!("{:?}", converse(&["hello", "pipe"]));
    let numbers = collect_count(100_000);
    println!(
        "{} numbers through a one-way pipe, the last {:?}",
        numbers.len(),
        numbers.last()
    );
}

#[cfg(test)]
synclings_suites::process_pipe_suite! {
    entries: crate::ENTRIES,
    hello_from_a_child: crate::hello_from_a_child,
    converse: crate::converse,
    collect_count: crate::collect_count,
}
