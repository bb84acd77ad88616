//! End-to-end tests of the lab's binaries, over loopback: `echo-server`
//! started on port 0 (every model, and the selector model on every selector
//! backend), `echo-client` with piped stdin, `echo-bench` for a second, then
//! SIGTERM: the server exits 0 and prints its statistics. The SIGTERM and
//! `RLIMIT_NOFILE` tests are Unix only (the `/proc` one Linux only); the
//! command-line errors are checked everywhere.
#![cfg(not(loom))]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use synclings::testing::{within, DEADLINE};

#[cfg(unix)]
use std::io::{BufRead, BufReader, Read};
#[cfg(target_os = "linux")]
use std::net::TcpStream;
#[cfg(unix)]
use std::os::unix::process::CommandExt;
#[cfg(unix)]
use std::process::{Child, ChildStdout};
#[cfg(target_os = "linux")]
use synclings::testing::eventually;

const SERVER: &str = env!("CARGO_BIN_EXE_echo-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_echo-client");
const BENCH: &str = env!("CARGO_BIN_EXE_echo-bench");

/// The models whose binaries are tested end to end: every Unix one, and
/// the Linux ones on Linux when this machine can run them (io_uring may be
/// missing or forbidden: then a `skipped:` line says why).
#[cfg(unix)]
fn models() -> Vec<&'static str> {
    synclings::net::Model::ALL
        .iter()
        .filter(|&&m| match synclings::net::check(m) {
            Ok(()) => true,
            Err(e) => {
                println!("skipped: {m}: {e}");
                false
            }
        })
        .map(|m| m.name())
        .collect()
}

/// The selector backends `--model selector --selector NAME` is tested on
/// (the default, epoll on Linux, is the `selector` model above).
#[cfg(unix)]
const SELECTORS: &[&str] = &["poll", "select", "polling"];

/// A running `echo-server`, killed if the test fails before stopping it.
#[cfg(unix)]
struct Server {
    child: Option<Child>,
    stdout: Option<BufReader<ChildStdout>>,
    addr: String,
}

#[cfg(unix)]
impl Server {
    /// Starts `echo-server --model MODEL --addr 127.0.0.1:0` and reads the
    /// address from its first line, `listening on ADDR`.
    fn start(model: &str) -> Server {
        Self::start_with(&["--model", model], None)
    }

    /// Starts `echo-server ARGS --addr 127.0.0.1:0 --workers 4`, with the
    /// descriptor limit (soft and hard) set to `nofile` if given.
    fn start_with(args: &[&str], nofile: Option<libc::rlim_t>) -> Server {
        let mut command = Command::new(SERVER);
        command
            .args(args)
            .args(["--addr", "127.0.0.1:0", "--workers", "4"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(n) = nofile {
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // Safety: the closure only calls setrlimit, which is
            // async-signal-safe, on a struct it owns.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command.spawn().expect("start echo-server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (line, stdout) = within(DEADLINE, "echo-server prints its address", move || {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read the first line");
            (line, stdout)
        });
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .trim()
            .to_owned();
        Server {
            child: Some(child),
            stdout: Some(stdout),
            addr,
        }
    }

    /// Sends SIGTERM and waits for the exit; returns (status, the rest of
    /// stdout, stderr).
    fn terminate(mut self) -> (std::process::ExitStatus, String, String) {
        let mut child = self.child.take().unwrap();
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // Safety: plain FFI call; `pid` is our own child, not yet reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let mut stdout = self.stdout.take().unwrap();
        within(DEADLINE, "echo-server exits after SIGTERM", move || {
            let mut out = String::new();
            stdout.read_to_string(&mut out).unwrap();
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            (child.wait().unwrap(), out, err)
        })
    }
}

#[cfg(target_os = "linux")]
impl Server {
    /// True if every thread of the server process is asleep in the kernel
    /// (state `S`), i.e. none is running or spinning.
    fn asleep(&self) -> bool {
        let pid = self.child.as_ref().unwrap().id();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return false;
        };
        tasks.filter_map(Result::ok).all(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // The state follows the command name, which is in parentheses.
            stat.rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .is_some_and(|state| state == "S")
        })
    }
}

#[cfg(unix)]
impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `program` with `args`, feeding `input` on stdin, within the deadline.
fn run(program: &'static str, args: &[&str], input: &'static [u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    within(DEADLINE, "the program finishes", move || {
        stdin.write_all(input).unwrap();
        drop(stdin); // EOF
        child.wait_with_output().unwrap()
    })
}

/// The number after `"key":` in a flat JSON line.
#[cfg(unix)]
fn json_number(line: &str, key: &str) -> f64 {
    let pattern = format!("\"{key}\":");
    let start = line
        .find(&pattern)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + pattern.len();
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end]
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {line}"))
}

#[cfg(unix)]
#[test]
fn server_client_bench_then_sigterm() {
    for model in models() {
        client_bench_then_sigterm(model, Server::start(model));
    }
}

#[cfg(unix)]
#[test]
fn the_selector_model_runs_on_every_selector_backend() {
    for backend in SELECTORS {
        let args = ["--model", "selector", "--selector", backend];
        let what = format!("selector on {backend}");
        client_bench_then_sigterm(&what, Server::start_with(&args, None));
    }
}

/// Talks to `server` with echo-client and echo-bench, then stops it with
/// SIGTERM: every step succeeds and the statistics count 5 connections.
#[cfg(unix)]
fn client_bench_then_sigterm(model: &str, server: Server) {
    let addr = server.addr.clone();

    let client = run(CLIENT, &["--addr", &addr], b"hello\n\nworld 42\n");
    assert!(
        client.status.success(),
        "{model}: echo-client failed: {client:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&client.stdout),
        "HELLO\nWORLD 42\n",
        "{model}"
    );

    let bench = run(
        BENCH,
        &[
            "--addr",
            &addr,
            "--connections",
            "4",
            "--size",
            "512",
            "--pipeline",
            "2",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--json",
        ],
        b"",
    );
    let stdout = String::from_utf8_lossy(&bench.stdout);
    let line = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("{model}: no summary: {bench:?}"));
    assert_eq!(json_number(line, "errors"), 0.0, "{model}: {line}");
    assert!(json_number(line, "requests") > 0.0, "{model}: {line}");
    assert!(bench.status.success(), "{model}: {bench:?}");
    assert!(
        String::from_utf8_lossy(&bench.stderr).contains("req/s"),
        "{model}: no progress line: {bench:?}"
    );

    let (status, out, err) = server.terminate();
    assert!(status.success(), "{model}: exit {status:?}, stderr {err}");
    assert!(out.contains("stopped: accepted 5,"), "{model}: {out}");
}

#[test]
fn bad_flags_are_reported_not_panics() {
    let cases: [(&'static str, &[&str], &str); 6] = [
        (SERVER, &["--max-connections", "many"], "--max-connections"),
        (SERVER, &["--model", "epoll"], "unknown model"),
        (SERVER, &["--selector", "kqueue"], "unknown selector"),
        (SERVER, &["--bogus"], "unknown option"),
        (CLIENT, &["--addr"], "--addr"),
        // The load generator refuses to aim anywhere but this machine.
        (BENCH, &["--addr", "192.0.2.1:80"], "loopback"),
    ];
    for (program, args, expected) in cases {
        let out = run(program, args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{program} {args:?}: {stderr}");
        assert!(stderr.contains(expected), "{program} {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{program} {args:?}: {stderr}");
    }
}

/// With too few descriptors, `accept` fails with EMFILE while connections
/// wait; the server must pause and retry, not spin, and recover once
/// descriptors are free again.
#[cfg(target_os = "linux")]
#[test]
fn descriptor_exhaustion_pauses_instead_of_spinning() {
    // The busy-poll model spins by design: it has nothing to show here.
    for model in models().into_iter().filter(|&m| m != "busypoll") {
        let server = Server::start_with(&["--model", model], Some(48));
        let addr = server.addr.clone();
        // More connections than the server has descriptors: some wait in
        // the listen queue while accept reports EMFILE.
        let clients: Vec<TcpStream> = (0..80)
            .map(|_| {
                let mut stream =
                    TcpStream::connect(&addr).unwrap_or_else(|e| panic!("{model}: connect: {e}"));
                stream.write_all(b"ping").unwrap();
                stream
            })
            .collect();
        // A spinning accept loop is always running: never asleep three
        // checks in a row.
        let mut in_a_row = 0;
        eventually(
            DEADLINE,
            &format!("{model}: the out-of-descriptors server sleeps"),
            || {
                in_a_row = if server.asleep() { in_a_row + 1 } else { 0 };
                in_a_row >= 3
            },
        );
        drop(clients);
        // Descriptors are freed: the server serves again.
        eventually(
            DEADLINE,
            &format!("{model}: the server serves again"),
            || {
                let Ok(mut stream) = TcpStream::connect(&addr) else {
                    return false;
                };
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut reply = [0; 4];
                stream.write_all(b"pong").is_ok()
                    && stream.read_exact(&mut reply).is_ok()
                    && reply == *b"PONG"
            },
        );
        let (status, out, err) = server.terminate();
        assert!(status.success(), "{model}: exit {status:?}, stderr {err}");
        assert!(out.contains("stopped: accepted"), "{model}: {out}");
    }
}

/// The prefork server: a worker killed with SIGKILL is replaced, the
/// server goes on serving, and the statistics count the replacement.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_prefork_worker_is_replaced() {
    let server = Server::start_with(&["--model", "prefork"], None);
    let addr = server.addr.clone();
    let pid = server.child.as_ref().unwrap().id();
    let workers = || -> Vec<i32> {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let serves = || {
        let Ok(mut stream) = TcpStream::connect(&addr) else {
            return false;
        };
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut reply = [0; 4];
        stream.write_all(b"ping").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && reply == *b"PING"
    };
    eventually(DEADLINE, "4 workers are running", || workers().len() == 4);
    assert!(serves());
    let victim = workers()[0];
    // Safety: plain FFI call on a pid of our child's child.
    assert_eq!(unsafe { libc::kill(victim, libc::SIGKILL) }, 0);
    eventually(DEADLINE, "the killed worker is replaced", || {
        let now = workers();
        now.len() == 4 && !now.contains(&victim)
    });
    for _ in 0..8 {
        assert!(serves(), "served after the replacement");
    }
    let last = workers();
    assert_eq!(last.len(), 4);
    let (status, out, err) = server.terminate();
    assert!(status.success(), "exit {status:?}, stderr {err}");
    assert!(out.contains("workers replaced 1"), "{out}");
    // The shutdown reached every worker: none is left running.
    for w in last {
        assert!(
            !std::path::Path::new(&format!("/proc/{w}")).exists(),
            "worker {w} outlived the server"
        );
    }
}
