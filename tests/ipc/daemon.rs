//! Daemon children (`Process::builder(..).daemon(true)`): a daemon ends when
//! its parent ends, also when the parent is killed with `SIGKILL`; a daemon
//! may not start children; a non-daemon child outlives its parent (as in
//! Python). Every test runs on both backends: `PR_SET_PDEATHSIG` (Linux)
//! and the watched pipe (POSIX).
//!
//! `harness = false`: `main` calls `ipc::init` first.

use std::process::ExitCode;

use synclings::ipc::{self, entry, Backend, Connection, Entry, Process};
use synclings::testing::{eventually, run_test_variants, within, Test, DEADLINE};

static ENTRIES: &[Entry] = &[
    entry!(middle),
    entry!(sleeper),
    entry!(daemon_tries_a_child),
];

const TESTS: &[Test] = &[
    (
        "a_killed_parents_daemon_child_is_gone",
        a_killed_parents_daemon_child_is_gone,
    ),
    (
        "an_exiting_parents_daemon_child_is_gone",
        an_exiting_parents_daemon_child_is_gone,
    ),
    (
        "a_non_daemon_child_outlives_its_parent",
        a_non_daemon_child_outlives_its_parent,
    ),
    (
        "a_daemon_may_not_start_children",
        a_daemon_may_not_start_children,
    ),
];

pub fn main() -> ExitCode {
    ipc::init(ENTRIES);
    run_test_variants(TESTS, ipc::BACKEND_VARIANTS)
}

/// What the middle process does after starting its child.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, PartialEq)]
enum Then {
    /// Waits until killed.
    Hang,
    /// Exits once the test has seen the child running (without dropping the
    /// child's handle, which would kill it).
    Exit,
}

/// Starts a `sleeper` child (a daemon or not) with the test's backend, sends
/// its pid, then hangs or exits.
fn middle((mut conn, backend, daemon, then): (Connection, Backend, bool, Then)) {
    ipc::set_backend(backend).unwrap();
    let child = Process::builder("sleeper")
        .daemon(daemon)
        .spawn(&())
        .unwrap();
    assert_eq!(child.is_daemon(), daemon);
    conn.send(&child.pid()).unwrap();
    if then == Then::Exit {
        // Exiting before the test has checked that the child runs would let
        // the child's end race that check.
        let _go: () = conn.recv().unwrap();
        std::process::exit(0);
    }
    loop {
        std::thread::park();
    }
}

fn sleeper(_: ()) {
    loop {
        std::thread::park();
    }
}

fn daemon_tries_a_child(mut conn: Connection) {
    assert!(ipc::is_daemon());
    let refused = Process::spawn("sleeper", &()).map(drop);
    conn.send(&refused.map_err(|e| e.to_string())).unwrap();
}

/// True while `pid` runs (a zombie waiting for a reaper does not run).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        // No /proc (not Linux): signal 0 tells whether it exists.
        // SAFETY: signal 0 checks existence only.
        Err(_) => (unsafe { libc::kill(pid as i32, 0) }) == 0,
    }
}

/// Kills the grandchild when a test ends, passed or failed: an orphan that
/// outlived a failed test would hold the test's output open.
struct Reap(u32);

impl Drop for Reap {
    fn drop(&mut self) {
        // SAFETY: signalling the test's own grandchild, at worst already gone
        // (its pid is not reused while its zombie waits to be reaped; a
        // reaped one's pid could be, within the test's few milliseconds).
        unsafe { libc::kill(self.0 as i32, libc::SIGKILL) };
    }
}

/// Starts `middle`, returns it and its child's pid once the child is seen
/// running; then lets a `Then::Exit` middle exit.
fn start_middle(daemon: bool, then: Then) -> (Process, u32) {
    let (mut ours, theirs) = ipc::pipe(true).unwrap();
    let args = (&theirs, ipc::backend(), daemon, then);
    let middle = Process::spawn("middle", &args).unwrap();
    drop(theirs);
    let (pid, mut ours): (u32, Connection) = within(
        DEADLINE,
        "the middle process reports its child",
        move || (ours.recv().unwrap(), ours),
    );
    assert!(running(pid), "the child {pid} runs");
    if then == Then::Exit {
        ours.send(&()).unwrap();
    }
    (middle, pid)
}

fn a_killed_parents_daemon_child_is_gone() {
    let (mut middle, child) = start_middle(true, Then::Hang);
    let _reap = Reap(child);
    middle.kill().unwrap();
    let status = within(DEADLINE, "the parent dies", move || middle.join().unwrap());
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    eventually(
        DEADLINE,
        "the daemon child of a SIGKILLed parent ends",
        || !running(child),
    );
}

fn an_exiting_parents_daemon_child_is_gone() {
    let (mut middle, child) = start_middle(true, Then::Exit);
    let _reap = Reap(child);
    let status = within(DEADLINE, "the parent exits", move || middle.join().unwrap());
    assert!(status.success(), "{status}");
    eventually(
        DEADLINE,
        "the daemon child of an exited parent ends",
        || !running(child),
    );
}

fn a_non_daemon_child_outlives_its_parent() {
    let (mut middle, child) = start_middle(false, Then::Hang);
    let reap = Reap(child);
    middle.kill().unwrap();
    within(DEADLINE, "the parent dies", move || middle.join().unwrap());
    // The orphan is still running: that is Python's behaviour too. Its
    // daemon siblings are gone by now in the other test; this one must be
    // ended by hand.
    assert!(running(child), "a non-daemon child keeps running");
    drop(reap);
    eventually(DEADLINE, "the orphan ends once killed", || !running(child));
}

fn a_daemon_may_not_start_children() {
    let (mut ours, theirs) = ipc::pipe(true).unwrap();
    let mut p = Process::builder("daemon_tries_a_child")
        .daemon(true)
        .spawn(&theirs)
        .unwrap();
    drop(theirs);
    let refused: Result<(), String> = within(DEADLINE, "the daemon's answer", move || {
        ours.recv().unwrap()
    });
    let message = refused.unwrap_err();
    assert!(
        message.contains("daemon process may not start children"),
        "{message}"
    );
    let status = within(DEADLINE, "the daemon exits", move || p.join().unwrap());
    assert!(status.success(), "{status}");
}
