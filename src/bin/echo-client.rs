//! `echo-client`: the seed's interactive client.
//!
//! ```text
//! echo-client [--addr 127.0.0.1:8080] [--timeout SECS]
//! ```
//!
//! Like the seed's `while True: msg = input('>>: ') ...`: reads a line,
//! sends it (without the newline), prints the reply. Empty lines are skipped
//! (the seed's `if not msg: continue`); end of input exits. With stdin piped
//! the prompt is not printed, so `printf 'a\nb\n' | echo-client` prints one
//! reply per line.
//!
//! Unlike the seed's single `recv(1024)`, it reads the whole reply: the
//! protocol's reply has exactly the length of the request.

#[path = "common/cli.rs"]
mod cli;

use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: echo-client [--addr ADDR] [--timeout SECS]

Sends each line of input to an echo server and prints the reply.
  --addr ADDR       the server (default 127.0.0.1:8080)
  --timeout SECS    give up on a reply after that long (default 10)
  -h, --help        this help
";

fn main() -> ExitCode {
    let (addr, timeout) = match cli::options("echo-client", USAGE, parse(std::env::args().skip(1)))
    {
        Ok(options) => options,
        Err(code) => return code,
    };
    match run(addr, timeout) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("echo-client: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(addr: SocketAddr, timeout: Duration) -> Result<(), String> {
    let mut conn = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    conn.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    conn.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    let interactive = io::stdin().is_terminal();
    let mut input = io::stdin().lock();
    let mut out = io::stdout().lock();
    let mut line = Vec::new();
    let mut reply = Vec::new();
    loop {
        if interactive {
            write!(out, ">>: ")
                .and_then(|()| out.flush())
                .map_err(|e| e.to_string())?;
        }
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading input: {e}"))?
            == 0
        {
            return Ok(()); // end of input
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        if line.is_empty() {
            continue;
        }
        conn.write_all(&line).map_err(|e| format!("sending: {e}"))?;
        reply.resize(line.len(), 0);
        conn.read_exact(&mut reply).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => "the server closed the connection".to_owned(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                format!("no reply within {timeout:?}")
            }
            _ => format!("receiving: {e}"),
        })?;
        out.write_all(&reply)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
            .map_err(|e| e.to_string())?;
    }
}

/// Parses the arguments; `Ok(None)` means `--help`.
fn parse(args: impl Iterator<Item = String>) -> Result<Option<(SocketAddr, Duration)>, String> {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 8080));
    let mut timeout = Duration::from_secs(10);
    let mut args = args;
    // `--flag=value` or `--flag value`.
    while let Some((flag, inline)) = cli::next_flag(&mut args) {
        let mut value = || cli::value(&flag, &inline, &mut args, "a value");
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--addr" => {
                let v = value()?;
                addr = v.parse().map_err(|_| {
                    format!("--addr expects an address like 127.0.0.1:8080, got {v:?}")
                })?;
            }
            "--timeout" => {
                let v = value()?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0 && *s < 1e9)
                    .ok_or_else(|| {
                        format!("--timeout expects a positive number of seconds, got {v:?}")
                    })?;
                timeout = Duration::from_secs_f64(secs);
            }
            _ => {
                return Err(format!(
                    "unknown option {:?}",
                    cli::as_given(&flag, &inline)
                ))
            }
        }
    }
    Ok(Some((addr, timeout)))
}
