//! `Process`: children that are re-runs of this binary, handed connections;
//! how the parent learns that a child finished, panicked or was killed; that
//! no child is left behind; that a child inherits exactly the descriptors it
//! was given.
//!
//! `harness = false`: `main` calls `ipc::init` first (see
//! `synclings::ipc::process`).

use std::process::ExitCode;
use std::time::Duration;

use synclings::ipc::{
    self, entry, pipe, Connection, Entry, Process, RecvError, EXIT_BOOT_FAILED, EXIT_PANIC,
};
use synclings::testing::{eventually, run_tests, within, Test, DEADLINE};

static ENTRIES: &[Entry] = &[
    entry!(hello),
    entry!(panics),
    entry!(waits_for_a_word),
    entry!(counts_to),
    entry!(lists_descriptors),
    entry!("takes a number" => takes_a_number),
];

const TESTS: &[Test] = &[
    (
        "child_receives_a_connection_and_replies",
        child_receives_a_connection_and_replies,
    ),
    (
        "a_child_panic_is_reported_with_its_message",
        a_child_panic_is_reported_with_its_message,
    ),
    (
        "a_killed_child_is_reported_with_its_signal",
        a_killed_child_is_reported_with_its_signal,
    ),
    (
        "join_timeout_and_is_alive_while_running",
        join_timeout_and_is_alive_while_running,
    ),
    (
        "one_way_pipe_ends_when_the_child_exits",
        one_way_pipe_ends_when_the_child_exits,
    ),
    (
        "a_child_inherits_only_the_descriptors_it_is_given",
        a_child_inherits_only_what_it_is_given,
    ),
    ("spawn_errors_are_clear", spawn_errors_are_clear),
    (
        "dropping_an_unjoined_process_kills_and_reaps_it",
        dropping_kills_and_reaps,
    ),
];

pub fn main() -> ExitCode {
    ipc::init(ENTRIES);
    run_tests(TESTS)
}

/// The seed's program 8: `conn.send('hello world'); conn.close()`.
fn hello(mut conn: Connection) {
    conn.send("hello world").unwrap();
    conn.close();
}

fn panics(what: String) {
    panic!("boom: {what}");
}

/// Says it is ready, then waits for a word (or the end) from the parent.
fn waits_for_a_word(mut conn: Connection) {
    conn.send(&"ready").unwrap();
    let _ = conn.recv::<String>();
}

fn counts_to((mut writer, n): (Connection, u32)) {
    for i in 0..n {
        writer.send(&i).unwrap();
    }
}

/// Sends back the numbers of its open descriptors (but the one used to list them).
fn lists_descriptors(mut conn: Connection) {
    let dir = std::fs::read_dir("/proc/self/fd").unwrap();
    let mut fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    conn.send(&fds).unwrap();
}

fn takes_a_number(_: u64) {}

fn child_receives_a_connection_and_replies() {
    let (mut parent_conn, child_conn) = pipe(true).unwrap();
    let mut p = Process::spawn("hello", &child_conn).unwrap();
    drop(child_conn);
    let status = within(DEADLINE, "the child exits", move || p.join().unwrap());
    assert!(status.success() && status.message().is_none(), "{status}");
    assert_eq!(status.exitcode(), 0);
    let greeting: String = within(DEADLINE, "the greeting", move || {
        let g = parent_conn.recv().unwrap();
        assert!(matches!(
            parent_conn.recv::<String>(),
            Err(RecvError::Closed)
        ));
        g
    });
    println!("{greeting}");
    assert_eq!(greeting, "hello world");
}

fn a_child_panic_is_reported_with_its_message() {
    let mut p = Process::spawn("panics", "on purpose").unwrap();
    let status = within(DEADLINE, "the panicking child exits", move || {
        p.join().unwrap()
    });
    assert!(!status.success());
    assert!(status.panicked(), "{status}");
    assert_eq!(status.code(), Some(EXIT_PANIC));
    let message = status.message().unwrap();
    assert!(message.starts_with("boom: on purpose at "), "{message}");
    assert!(
        message.contains("ipc/process.rs"),
        "the location is reported: {message}"
    );
    assert!(status.to_string().starts_with("panicked: boom"), "{status}");
}

fn a_killed_child_is_reported_with_its_signal() {
    let (mut conn, child_conn) = pipe(true).unwrap();
    let mut p = Process::spawn("waits_for_a_word", &child_conn).unwrap();
    drop(child_conn);
    let (ready, conn) = within(DEADLINE, "the child is ready", move || {
        (conn.recv::<String>().unwrap(), conn)
    });
    assert_eq!(ready, "ready");
    assert!(p.is_alive());
    p.kill().unwrap();
    let status = within(DEADLINE, "the killed child is reaped", move || {
        let status = p.join().unwrap();
        (status, p.is_alive(), p.exit_code())
    });
    let (status, alive, exit_code) = status;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(status.code(), None);
    assert!(!alive);
    assert_eq!(
        exit_code,
        Some(-libc::SIGKILL),
        "Python's exitcode is -SIGKILL"
    );
    assert!(!status.panicked() && status.message().is_none());
    assert!(status.to_string().contains("signal 9"), "{status}");
    drop(conn);
}

fn join_timeout_and_is_alive_while_running() {
    let (mut conn, child_conn) = pipe(true).unwrap();
    let mut p = Process::spawn("waits_for_a_word", &child_conn).unwrap();
    drop(child_conn);
    let mut conn = within(DEADLINE, "ready", move || {
        conn.recv::<String>().unwrap();
        conn
    });
    assert!(
        p.join_timeout(Duration::from_millis(20)).unwrap().is_none(),
        "the child is still waiting"
    );
    assert!(p.is_alive());
    assert_eq!(p.exit_code(), None);
    conn.send(&"go").unwrap();
    let status = within(DEADLINE, "the child exits after the word", move || {
        let s = p.join_timeout(DEADLINE).unwrap();
        (s, p.exit_code())
    });
    assert!(status.0.unwrap().success());
    assert_eq!(status.1, Some(0));
}

fn one_way_pipe_ends_when_the_child_exits() {
    let (mut reader, writer) = pipe(false).unwrap();
    let mut p = Process::spawn("counts_to", &(&writer, 1000u32)).unwrap();
    drop(writer); // else our own copy keeps the pipe open
    let received = within(DEADLINE, "the numbers, then the end", move || {
        let mut got = Vec::new();
        loop {
            match reader.recv::<u32>() {
                Ok(n) => got.push(n),
                Err(RecvError::Closed) => break got,
                Err(e) => panic!("{e}"),
            }
        }
    });
    assert_eq!(received, (0..1000).collect::<Vec<_>>());
    assert!(within(DEADLINE, "join", move || p.join().unwrap()).success());
}

fn a_child_inherits_only_what_it_is_given() {
    // Descriptors the child is not given: they must not reach it.
    let (_a, _b) = pipe(true).unwrap();
    let (_c, _d) = pipe(false).unwrap();
    let (mut conn, child_conn) = pipe(true).unwrap();
    let mut p = Process::spawn("lists_descriptors", &child_conn).unwrap();
    drop(child_conn);
    let fds: Vec<i32> = within(DEADLINE, "the child's descriptors", move || {
        conn.recv().unwrap()
    });
    assert!(within(DEADLINE, "join", move || p.join().unwrap()).success());
    // stdin, stdout, stderr, the status socket, the connection, and the one
    // reading /proc/self/fd.
    assert_eq!(
        fds.len(),
        6,
        "the child has descriptors it was not given: {fds:?}"
    );
    assert_eq!(&fds[..3], [0, 1, 2]);
}

fn spawn_errors_are_clear() {
    let err = Process::spawn("no such entry", &()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("no such entry"), "{err}");

    // Arguments of the wrong type: the child cannot start, and says why.
    let mut p = Process::spawn("takes a number", "not a number").unwrap();
    let status = within(DEADLINE, "the child gives up", move || p.join().unwrap());
    assert_eq!(status.code(), Some(EXIT_BOOT_FAILED));
    let message = status.message().expect("the reason comes back");
    assert!(
        message.contains("do not match the entry `takes a number`"),
        "{message}"
    );
}

fn dropping_kills_and_reaps() {
    let (mut conn, child_conn) = pipe(true).unwrap();
    let p = Process::spawn("waits_for_a_word", &child_conn).unwrap();
    drop(child_conn);
    let mut conn = within(DEADLINE, "ready", move || {
        conn.recv::<String>().unwrap();
        conn
    });
    let pid = p.pid();
    drop(p); // kills and reaps: no zombie, no orphan
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} still exists after its handle was dropped"
    );
    // Its end of the connection is closed with it.
    eventually(DEADLINE, "the connection reports the end", || {
        conn.poll(Some(Duration::ZERO)).unwrap()
    });
    assert!(matches!(conn.recv::<String>(), Err(RecvError::Closed)));
}
