//! `cargo run -- tour`: every seed program runs as its solution binary and
//! prints what the seed program printed, in the exam's order.

use std::process::Command;

use synclings::testing::within;

/// Building every solution binary can take minutes on a fresh machine.
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(900);

#[test]
fn the_tour_replays_the_seed_programs_in_order() {
    let output = within(DEADLINE, "cargo run -- tour", || {
        Command::new(env!("CARGO_BIN_EXE_synclings-course"))
            .arg("tour")
            .output()
            .expect("run the tour")
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the tour failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // What each seed program printed, in the exam's order; on a platform
    // that lacks what a program needs, the tour says so instead.
    let expected: [&[&str]; 11] = [
        &[
            "thread name: Thread-1 0",
            "active threads: ",
            "main, ---end---",
        ],
        &["alex_0 is running", "----main-----"],
        &[
            "produce: 0\nconsume: 0\nproduce: 1\nconsume: 1",
            "consume: 9",
        ],
        &["time: "],
        &["0-- Thread-1", "end"],
        &["alex say  Hello World!"],
        &["produce: 0 --- producer-0", "consumed: ", "main"],
        &["hello world", "[\"HELLO\", \"PIPE\"]"],
        &["HELLO", "closing.."],
        &[
            "new connection: 127.0.0.1:",
            "client data: hello from client 0",
            "client 2: refused (max_children = 2)",
        ],
        &["HELLO", "ASYNCIO"],
    ];
    let mut rest = &stdout[..];
    for (i, lines) in expected.iter().enumerate() {
        let header = format!("== program {}:", i + 1);
        let start = rest
            .find(&header)
            .unwrap_or_else(|| panic!("no {header:?} in order; the tour printed:\n{stdout}"));
        rest = &rest[start + header.len()..];
        let end = rest.find("\n== program ").unwrap_or(rest.len());
        let section = &rest[..end];
        if section.contains("not on this platform") {
            continue;
        }
        for line in *lines {
            assert!(
                section.contains(line),
                "{header} did not print {line:?}; it printed:\n{section}"
            );
        }
    }
}
