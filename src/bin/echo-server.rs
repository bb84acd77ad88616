//! `echo-server`: serves the lab's echo protocol with one IO model.
//!
//! ```text
//! echo-server [--model M] [--addr 127.0.0.1:PORT] [--max-connections N]
//!             [--max-buffered BYTES] [--idle-timeout SECS] [--exact] [--workers N]
//!             [--read-chunk BYTES] [--selector epoll|poll|select|polling]
//! ```
//!
//! Prints `listening on ADDR` as its first line (port 0 picks a free port),
//! serves until Ctrl-C or SIGTERM, then shuts down gracefully, prints the
//! statistics and exits 0. A second Ctrl-C exits at once. (On Windows:
//! Ctrl-C only, through a console control handler.)

#[path = "common/cli.rs"]
mod cli;
#[path = "common/limits.rs"]
mod limits;
#[path = "common/signals.rs"]
mod signals;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use synclings::net::{self, EchoMode, Model, ServerConfig, Shutdown};
use synclings::selector::BackendKind;

const USAGE: &str = "\
usage: echo-server [OPTIONS]

Serves the echo protocol (the reply is the received bytes ASCII-uppercased)
with one IO model, until Ctrl-C or SIGTERM.

options:
  --model M              blocking, threadpool, busypoll, selector (default),
                         selector-per-core, select, poll, asyncio, sigio
                         (Linux), uring (Linux), prefork (Unix)
  --addr ADDR            where to listen (default 127.0.0.1:8080; port 0 picks one)
  --max-connections N    connections served at once; more are closed at once (default 1024)
  --max-buffered BYTES   bytes waiting per connection before the server stops reading (default 65536)
  --idle-timeout SECS    close connections idle that long; 0 = never (default 60)
  --exact                echo the bytes unchanged instead of uppercased
  --workers N            thread-pool / selector-per-core threads, prefork
                         processes (default: the cores)
  --read-chunk BYTES     bytes per read call (default 16384)
  --selector S           the selector models' backend: epoll, poll, select or
                         polling (default: the platform's DefaultSelector)
  -h, --help             this help
";

/// What the command line asks for.
struct Options {
    model: Model,
    config: ServerConfig,
}

fn main() -> ExitCode {
    // The prefork model's workers are runs of this binary: in one, this
    // runs the worker and exits.
    #[cfg(unix)]
    synclings::ipc::init(synclings::net::ENTRIES);
    let options = match cli::options("echo-server", USAGE, parse(std::env::args().skip(1))) {
        Ok(options) => options,
        Err(code) => return code,
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("echo-server: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(Options { model, config }: Options) -> Result<(), String> {
    // Signals first, before any thread exists, so that every thread
    // inherits the blocked mask and only the signal thread receives them.
    let shutdown = Shutdown::new();
    signals::forward_to(shutdown.clone()).map_err(|e| format!("cannot set up signals: {e}"))?;
    limits::raise_descriptor_limit();
    // The selector backend is checked before anything is bound.
    if !config.selector.is_available() {
        return Err(format!(
            "--selector {}: not available on this platform: use {}",
            config.selector,
            BackendKind::DEFAULT
        ));
    }
    net::check(model).map_err(|e| e.to_string())?;
    let listener =
        net::bind(config.addr).map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {addr}");
    if !addr.ip().is_loopback() {
        eprintln!(
            "echo-server: warning: {addr} is not a loopback address: other hosts can connect"
        );
    }
    let backend = match model {
        Model::Selector | Model::SelectorPerCore => format!(" on {}", config.selector),
        _ => String::new(),
    };
    eprintln!(
        "echo-server: model {model}{backend}, at most {} connections, {} bytes buffered each, idle timeout {}, {} echo; Ctrl-C to stop",
        config.max_connections,
        config.max_buffered,
        config
            .idle_timeout
            .map_or("none".to_owned(), |t| format!("{t:?}")),
        match config.mode {
            EchoMode::Upper => "uppercase",
            EchoMode::Exact => "exact",
        },
    );
    let stats = net::serve(model, listener, &config, &shutdown)
        .map_err(|e| format!("the {model} server failed: {e}"))?;
    println!(
        "stopped: accepted {}, refused {}, closed idle {}, bytes in {}, bytes out {}, peak connections {}, workers replaced {}",
        stats.accepted,
        stats.refused,
        stats.closed_idle,
        stats.bytes_in,
        stats.bytes_out,
        stats.peak_connections,
        stats.workers_replaced
    );
    Ok(())
}

/// Parses the arguments; `Ok(None)` means `--help`.
fn parse(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut model = Model::Selector;
    let mut config = ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
        ..ServerConfig::default()
    };
    let mut args = args.peekable();
    // `--flag=value` or `--flag value`.
    while let Some((flag, inline)) = cli::next_flag(&mut args) {
        let mut value = |what: &str| cli::value(&flag, &inline, &mut args, what);
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--model" => {
                model = value("a model name")?
                    .parse()
                    .map_err(|e| format!("--model: {e}"))?;
            }
            "--addr" => {
                let v = value("an address like 127.0.0.1:8080")?;
                config.addr = v.parse().map_err(|_| {
                    format!("--addr expects an address like 127.0.0.1:8080, got {v:?}")
                })?;
            }
            "--max-connections" => config.max_connections = number(&flag, &value("a number")?)?,
            "--max-buffered" => {
                config.max_buffered = positive(&flag, &value("a number of bytes")?)?
            }
            "--workers" => config.workers = positive(&flag, &value("a number")?)?,
            "--read-chunk" => config.read_chunk = positive(&flag, &value("a number of bytes")?)?,
            "--selector" => {
                config.selector = value("a selector backend")?
                    .parse()
                    .map_err(|e| format!("--selector: {e}"))?;
            }
            "--idle-timeout" => {
                let v = value("a number of seconds")?;
                let secs: f64 = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 1e9)
                    .ok_or_else(|| {
                        format!("--idle-timeout expects seconds (0 = never), got {v:?}")
                    })?;
                config.idle_timeout = (secs > 0.0).then(|| Duration::from_secs_f64(secs));
            }
            "--exact" => {
                if inline.is_some() {
                    return Err("--exact takes no value".to_owned());
                }
                config.mode = EchoMode::Exact;
            }
            _ => {
                return Err(format!(
                    "unknown option {:?}",
                    cli::as_given(&flag, &inline)
                ))
            }
        }
    }
    Ok(Some(Options { model, config }))
}

fn number(flag: &str, v: &str) -> Result<usize, String> {
    v.parse()
        .map_err(|_| format!("{flag} expects a whole number, got {v:?}"))
}

fn positive(flag: &str, v: &str) -> Result<usize, String> {
    match number(flag, v)? {
        0 => Err(format!("{flag} must be at least 1")),
        n => Ok(n),
    }
}
