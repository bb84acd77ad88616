//! Exercise 14, `process_pipe`: the suite of a pipe between two processes.

/// Tests of the two halves of a pipe conversation between a parent and a
/// child process (`synclings::ipc`: `pipe`, `Connection`, `Process`).
///
/// The exercise provides:
///
/// - `ENTRIES: &[Entry]`, its table for `ipc::init`, listing the child
///   entries `task(Connection)`, `shout(Connection)` and
///   `count_to((Connection, u64))` under those names (the tests start them
///   with `Process::spawn`);
/// - the parent halves `hello_from_a_child() -> String`,
///   `converse(&[&str]) -> Vec<String>` and `collect_count(u64) -> Vec<u64>`.
///
/// A child is the test binary itself, re-run: its `main` must call
/// `ipc::init` first, which libtest's generated `main` cannot do. So the
/// exercise's `[[bin]]` has `harness = false`, its own `main` is
/// `#[cfg(not(test))]`, and this macro brings the test build's `main`: it
/// calls `ipc::init(ENTRIES)`, then runs the tests with
/// `synclings::testing::run_tests`, which speaks libtest's command line
/// (`--list`, `--exact`, ...). Under `--cfg loom` it runs no test: loom
/// cannot model processes.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::process_pipe_suite! {
///     entries: crate::ENTRIES,
///     hello_from_a_child: crate::hello_from_a_child,
///     converse: crate::converse,
///     collect_count: crate::collect_count,
/// }
/// ```
#[macro_export]
macro_rules! process_pipe_suite {
    (
        entries: $entries:path,
        hello_from_a_child: $hello:path,
        converse: $converse:path,
        collect_count: $collect:path $(,)?
    ) => {
        fn main() -> ::std::process::ExitCode {
            // In a child: runs the requested entry and exits.
            $crate::synclings::ipc::init($entries);
            #[cfg(not(loom))]
            let tests = process_pipe_suite::TESTS;
            // Loom cannot model processes: no test runs under `--cfg loom`
            // (the subject is still named, so that nothing is unused).
            #[cfg(loom)]
            let tests: &[$crate::synclings::testing::Test] = {
                let _ = ($hello, $converse, $collect);
                &[]
            };
            $crate::synclings::testing::run_tests(tests)
        }

        #[cfg(not(loom))]
        mod process_pipe_suite {
            use $crate::synclings::ipc::{pipe, Connection, Process, RecvError};
            use $crate::synclings::testing::{within, Test};
            use $crate::{joined, started, DEADLINE};

            pub(crate) const TESTS: &[Test] = &[
                (
                    "process_pipe_suite::task_sends_hello_world_then_closes",
                    task_sends_hello_world_then_closes,
                ),
                (
                    "process_pipe_suite::hello_from_a_child_returns_what_the_child_sent",
                    hello_from_a_child_returns_what_the_child_sent,
                ),
                (
                    "process_pipe_suite::shout_answers_each_line_in_upper_case_until_the_pipe_closes",
                    shout_answers_each_line_in_upper_case_until_the_pipe_closes,
                ),
                (
                    "process_pipe_suite::converse_gets_one_reply_per_line_in_order",
                    converse_gets_one_reply_per_line_in_order,
                ),
                (
                    "process_pipe_suite::converse_with_nothing_to_say_still_ends_the_child",
                    converse_with_nothing_to_say_still_ends_the_child,
                ),
                (
                    "process_pipe_suite::count_to_sends_every_number_on_a_one_way_pipe",
                    count_to_sends_every_number_on_a_one_way_pipe,
                ),
                (
                    "process_pipe_suite::collect_count_reads_more_than_a_pipe_holds",
                    collect_count_reads_more_than_a_pipe_holds,
                ),
            ];


            /// Everything `conn` receives (with `recv`) until the other side
            /// closes.
            fn receive_all<T: Send + 'static>(
                mut conn: Connection,
                what: &str,
                recv: fn(&mut Connection) -> Result<T, RecvError>,
            ) -> Vec<T> {
                within(DEADLINE, what, move || {
                    let mut got = Vec::new();
                    loop {
                        match recv(&mut conn) {
                            Ok(value) => got.push(value),
                            Err(RecvError::Closed) => break got,
                            Err(e) => panic!("a receive failed: {e}"),
                        }
                    }
                })
            }

            fn task_sends_hello_world_then_closes() {
                let (parent_conn, child_conn) = pipe(true).unwrap();
                let child = started("task", Process::spawn("task", &child_conn));
                // Our copy of the child's end would keep the pipe open.
                drop(child_conn);
                let got = receive_all(
                    parent_conn,
                    "everything `task` sends, then the end of the pipe",
                    Connection::recv::<String>,
                );
                assert_eq!(got, ["hello world"], "task sends exactly one message, 'hello world'");
                joined(child, "task");
            }

            fn hello_from_a_child_returns_what_the_child_sent() {
                let greeting = within(DEADLINE, "hello_from_a_child() returns", $hello);
                assert_eq!(greeting, "hello world");
            }

            fn shout_answers_each_line_in_upper_case_until_the_pipe_closes() {
                let (mut conn, child_conn) = pipe(true).unwrap();
                let child = started("shout", Process::spawn("shout", &child_conn));
                drop(child_conn);
                let conn = within(DEADLINE, "shout answers every line", move || {
                    for line in ["hello", "Pipe between 2 processes", "", "ÄÖ déjà"] {
                        conn.send(line).unwrap_or_else(|e| {
                            panic!("cannot send {line:?} (did the child stop?): {e}")
                        });
                        let answer: String = conn.recv().unwrap_or_else(|e| {
                            panic!("no answer to {line:?} (did the child stop?): {e}")
                        });
                        assert_eq!(answer, line.to_uppercase(), "the answer to {line:?}");
                    }
                    conn
                });
                // Closing our end is the only "goodbye": the child must see
                // the end of the pipe, stop and exit.
                drop(conn);
                joined(child, "shout, once the parent closed its end");
            }

            fn converse_gets_one_reply_per_line_in_order() {
                let replies = within(
                    DEADLINE,
                    "converse(&[\"hello\", \"world\", \"from\", \"the parent\"]) returns (a hang here: did the parent close its end before joining?)",
                    || $converse(&["hello", "world", "from", "the parent"]),
                );
                assert_eq!(replies, ["HELLO", "WORLD", "FROM", "THE PARENT"]);
            }

            fn converse_with_nothing_to_say_still_ends_the_child() {
                let replies = within(
                    DEADLINE,
                    "converse(&[]) returns (a hang here: did the parent close its end before joining?)",
                    || $converse(&[]),
                );
                assert!(replies.is_empty(), "no line, no reply: {replies:?}");
            }

            fn count_to_sends_every_number_on_a_one_way_pipe() {
                let (reader, writer) = pipe(false).unwrap();
                let child = started("count_to", Process::spawn("count_to", &(&writer, 1000u64)));
                // Else our own copy of the writing end keeps the pipe open.
                drop(writer);
                let got = receive_all(
                    reader,
                    "count_to's numbers, then the end of the pipe",
                    Connection::recv::<u64>,
                );
                assert_eq!(got, (0..1000).collect::<Vec<u64>>(), "0, 1, ..., 999 in order");
                joined(child, "count_to");
            }

            fn collect_count_reads_more_than_a_pipe_holds() {
                // ~1 MB of messages: far more than a pipe's 64 KiB buffer.
                // A parent that joins the child before reading waits for a
                // child that waits for room in the pipe.
                let got = within(
                    DEADLINE,
                    "collect_count(150_000) returns (a hang here: joined before reading, or kept a copy of the writing end?)",
                    || $collect(150_000),
                );
                assert_eq!(got.len(), 150_000, "every number arrives");
                assert!(
                    got.iter().copied().eq(0..150_000u64),
                    "the numbers arrive in order, each once"
                );
                let none = within(DEADLINE, "collect_count(0) returns", || $collect(0));
                assert!(none.is_empty(), "collect_count(0): {none:?}");
            }
        }
    };
}
