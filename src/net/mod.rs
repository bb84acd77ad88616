//! The IO-models lab: one echo protocol served by one module per IO model,
//! from the seed article's blocking thread-per-connection server to a
//! selector on every core.
//!
//! | Model | Module | The article's point |
//! |---|---|---|
//! | [`Model::Blocking`] | `blocking` | a thread per connection: simple, but "occupies a lot of system resources" with thousands of clients |
//! | [`Model::ThreadPool`] | `thread_pool` | a fixed pool: "the pool has an upper limit", the (workers+1)-th client waits |
//! | [`Model::BusyPoll`] | `busy_poll` | non-blocking sockets polled in a loop: "pushes the CPU usage way up" |
//! | [`Model::Selector`] | `selector_server` | one thread, a selector and the seed's accept/read callbacks |
//! | [`Model::SelectorPerCore`] | `selector_per_core` | one selector thread per core |
//! | [`Model::Select`] | `select_loop` (Unix) | raw `select(2)`: `FD_SETSIZE` (1024) and an O(n) scan per call |
//! | [`Model::Poll`] | `poll_loop` (Unix) | raw `poll(2)`: no descriptor limit, still O(n) per call |
//! | [`Model::Asyncio`] | `asyncio_server` | the seed's program 11: `asyncio` streams, a task per connection |
//!
//! Every model speaks the same protocol ([`protocol::respond`]: the reply is
//! the received bytes ASCII-uppercased, as the seed's `data.upper()`, or the
//! bytes unchanged with [`EchoMode::Exact`]) and has the same limits
//! ([`ServerConfig`]): at most `max_connections` at once (more are accepted
//! and closed at once, counted in [`ServerStats::refused`]), at most
//! `max_buffered` bytes waiting per connection, an idle timeout, a graceful
//! [`Shutdown`], and a pause instead of a spin when `accept` runs out of
//! descriptors (`accept_pause`).
//!
//! The selector models run on [`ServerConfig::selector`]: the platform's
//! `DefaultSelector` unless another backend is asked for (`echo-server
//! --selector poll`), each statically dispatched. Every model exists on
//! every platform except the raw `select(2)` and `poll(2)` loops, which are
//! Unix only: elsewhere [`serve`] answers them with an `Unsupported` error.
//!
//! Python's `socketserver` (`TCPServer`, `ThreadingTCPServer`,
//! `ForkingTCPServer` and a `BaseRequestHandler`, with exam question 10's
//! caps: `max_children`, `max_per_client`) is [`socketserver`]; its
//! forking server shares the prefork model's worker supervision.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use synclings::net::{self, Model, ServerConfig};
//!
//! let server = net::start(Model::Blocking, ServerConfig::default())?;
//! let mut client = TcpStream::connect(server.local_addr())?;
//! client.write_all(b"hello")?;
//! let mut reply = [0; 5];
//! client.read_exact(&mut reply)?;
//! assert_eq!(&reply, b"HELLO");
//! drop(client);
//! let stats = server.shutdown()?;
//! assert_eq!(stats.accepted, 1);
//! # std::io::Result::Ok(())
//! ```

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
// SeqCst: the flag is set once and read rarely; the wakers' mutex orders
// everything that matters (see `Shutdown::request`).
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::selector::{BackendKind, Notifier};

pub mod protocol;
pub mod socketserver;

mod conn;
mod core;
#[cfg(unix)]
#[path = "os/unix.rs"]
mod os;
#[cfg(windows)]
#[path = "os/windows.rs"]
mod os;
mod unavailable;
#[cfg(unix)]
mod workers;

pub(crate) use self::core::accept_pause;

/// The entry points of the models that run in worker processes (the
/// prefork model): a binary that serves them calls
/// `synclings::ipc::init(synclings::net::ENTRIES)` first thing in `main`,
/// or lists them in its own table.
#[cfg(unix)]
pub static ENTRIES: &[crate::ipc::Entry] = &[prefork::WORKER];

/// The model table: one line per IO model, with its module and where it
/// exists. It makes [`Model`], [`Model::ALL`], the names and [`serve`]'s
/// dispatch; a model whose platform is not this one is an `Unsupported`
/// error (`unavailable.rs`). A new model is one module that exports
/// `serve(listener, &config, &shutdown)` and one line here.
macro_rules! models {
    ($(
        $(#[doc = $doc:literal])*
        $model:ident = $name:literal, $module:ident, [$($cfg:tt)*], $needs:literal
        $(, probe $probe:ident)?;
    )*) => {
        /// An IO model: which module serves the connections.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Model {
            $($(#[doc = $doc])* $model,)*
        }

        impl Model {
            /// Every model, in the article's order.
            pub const ALL: &'static [Model] = &[$(Model::$model),*];

            /// The command-line name (`"selector-per-core"`, ...).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Model::$model => $name,)*
                }
            }

            /// True if this platform has the model (where it does not,
            /// [`serve`] answers `Unsupported`).
            pub const fn is_available(self) -> bool {
                match self {
                    $(Model::$model => cfg!($($cfg)*),)*
                }
            }

            /// The platforms that have the model, in words.
            pub const fn needs(self) -> &'static str {
                match self {
                    $(Model::$model => $needs,)*
                }
            }

            /// The model's own check of this machine (a kernel feature, say).
            fn probe(self) -> io::Result<()> {
                match self {
                    $(Model::$model => {
                        $(return $module::$probe();)?
                        #[allow(unreachable_code)]
                        Ok(())
                    })*
                }
            }

            fn serve(
                self,
                listener: TcpListener,
                config: &ServerConfig,
                shutdown: &Shutdown,
            ) -> io::Result<ServerStats> {
                match self {
                    $(Model::$model => $module::serve(listener, config, shutdown),)*
                }
            }
        }

        $(
            #[cfg($($cfg)*)]
            mod $module;
            #[cfg(not($($cfg)*))]
            mod $module {
                use super::*;

                /// Not on this platform: an `Unsupported` error.
                pub(crate) fn serve(
                    _: TcpListener,
                    _: &ServerConfig,
                    _: &Shutdown,
                ) -> io::Result<ServerStats> {
                    Err(unavailable::error(Model::$model))
                }

                $(
                    /// Not on this platform: an `Unsupported` error.
                    pub(crate) fn $probe() -> io::Result<()> {
                        Err(unavailable::error(Model::$model))
                    }
                )?
            }
        )*
    };
}

models! {
    /// A thread per connection, blocking reads and writes.
    Blocking = "blocking", blocking, [all()], "every platform";
    /// A fixed pool of threads, each serving one connection at a time.
    ThreadPool = "threadpool", thread_pool, [all()], "every platform";
    /// Non-blocking sockets polled in a loop (the article's non-blocking IO).
    BusyPoll = "busypoll", busy_poll, [all()], "every platform";
    /// One thread, one selector (the seed's `selectors` server), on
    /// [`ServerConfig::selector`].
    Selector = "selector", selector_server, [all()], "every platform";
    /// One selector thread per core.
    SelectorPerCore = "selector-per-core", selector_per_core, [all()], "every platform";
    /// A raw `select(2)` loop (Unix only).
    Select = "select", select_loop, [unix], "Unix";
    /// A raw `poll(2)` loop (Unix only).
    Poll = "poll", poll_loop, [unix], "Unix";
    /// One event loop, a task per connection (the seed's asyncio server;
    /// Unix only: its reactor keys sources by descriptor).
    Asyncio = "asyncio", asyncio_server, [unix], "Unix (synclings::asyncio)";
    /// Signal-driven IO (the article's model 4): `O_ASYNC` sockets, a
    /// real-time signal per readiness change, consumed with `signalfd`
    /// (Linux only).
    Sigio = "sigio", sigio, [target_os = "linux"], "Linux (F_SETSIG, signalfd)";
    /// Asynchronous IO (the article's model 5): io_uring, the kernel does
    /// the reads and writes and reports completions (Linux only).
    Uring = "uring", uring, [target_os = "linux"], "Linux (io_uring)", probe probe;
    /// Pre-forked processes (exam question 10's ForkingMixIn):
    /// [`ServerConfig::workers`] processes, each a selector loop on the
    /// shared listener (Unix only).
    Prefork = "prefork", prefork, [unix], "Unix (synclings::ipc)";
}

/// What the echo servers send back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EchoMode {
    /// The received bytes ASCII-uppercased (the seed's `data.upper()`);
    /// other bytes, UTF-8 included, pass unchanged.
    #[default]
    Upper,
    /// The received bytes unchanged (a byte-exact echo).
    Exact,
}

/// The limits and knobs every model honours.
///
/// ```
/// use std::time::Duration;
/// use synclings::net::ServerConfig;
///
/// let config = ServerConfig {
///     max_connections: 8,
///     idle_timeout: Some(Duration::from_millis(200)),
///     ..ServerConfig::default()
/// };
/// assert_eq!(config.addr.to_string(), "127.0.0.1:0");
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where to listen ([`start`] binds it). Default `127.0.0.1:0`: loopback,
    /// a port the system picks.
    pub addr: SocketAddr,
    /// At most this many connections are served at once (default 1024);
    /// past it a new connection is accepted and closed at once, and counted
    /// in [`ServerStats::refused`]: a flood is refused, not a crash.
    pub max_connections: usize,
    /// At most this many bytes wait to be written per connection (default
    /// 64 KiB): while that much waits, the server stops reading from the
    /// peer, so a peer that never reads cannot make it use unbounded memory.
    pub max_buffered: usize,
    /// Close a connection idle (nothing read, nothing written) that long
    /// (default 60 s; `None`: never). Counted in [`ServerStats::closed_idle`].
    pub idle_timeout: Option<Duration>,
    /// Uppercase or byte-exact echo.
    pub mode: EchoMode,
    /// Threads of the thread pool, or selector threads of the
    /// selector-per-core model (default: the available parallelism).
    pub workers: usize,
    /// Bytes asked for per read call (default 16 KiB).
    pub read_chunk: usize,
    /// The selector backend of the selector models (default: the
    /// platform's `DefaultSelector`, [`BackendKind::DEFAULT`]). One this
    /// platform lacks makes [`start`] and [`serve`] fail with `Unsupported`.
    pub selector: BackendKind,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            max_connections: 1024,
            max_buffered: 64 * 1024,
            idle_timeout: Some(Duration::from_secs(60)),
            mode: EchoMode::Upper,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            read_chunk: 16 * 1024,
            selector: BackendKind::DEFAULT,
        }
    }
}

impl ServerConfig {
    /// Rejects the settings no model can run with, naming the field.
    fn validate(&self) -> io::Result<()> {
        let invalid =
            |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()));
        if self.read_chunk == 0 {
            return invalid("read_chunk must be at least 1 byte");
        }
        if self.max_buffered == 0 {
            return invalid("max_buffered must be at least 1 byte (0 would never read)");
        }
        if self.workers == 0 {
            return invalid("workers must be at least 1");
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return invalid("idle_timeout must be positive: use None for no timeout");
        }
        Ok(())
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of [`Model::ALL`]'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownModel(pub String);

impl fmt::Display for UnknownModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown model {:?}: use one of ", self.0)?;
        for (i, model) in Model::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(model.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownModel {}

impl FromStr for Model {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Model::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownModel(s.to_owned()))
    }
}

/// A waker run by [`Shutdown::request`].
type Waker = Box<dyn Fn() + Send + Sync>;

/// A graceful-shutdown signal shared by a server and whoever stops it
/// (a test, `RunningServer::shutdown`, echo-server's Ctrl-C handler).
///
/// A server polls [`is_requested`](Self::is_requested) between steps and
/// registers a waker with [`on_request`](Self::on_request) to interrupt its
/// blocking wait (write to a wake pipe, `Poller::notify`, ...). Clones share
/// the same flag.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use synclings::net::Shutdown;
///
/// let shutdown = Shutdown::new();
/// let woken = Arc::new(AtomicUsize::new(0));
/// let w = woken.clone();
/// shutdown.on_request(move || { w.fetch_add(1, Ordering::SeqCst); });
/// shutdown.clone().request();
/// shutdown.request(); // a second request runs nothing again
/// assert!(shutdown.is_requested());
/// assert_eq!(woken.load(Ordering::SeqCst), 1);
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    /// Set once, never cleared.
    requested: Arc<AtomicBool>,
    /// The wakers not yet run; emptied (and run) by the first request.
    wakers: Arc<Mutex<Vec<Waker>>>,
}

impl Shutdown {
    /// A signal not yet requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once [`request`](Self::request) was called.
    pub fn is_requested(&self) -> bool {
        self.requested.load(SeqCst)
    }

    /// Requests the shutdown: sets the flag and runs every registered waker,
    /// once. Later calls do nothing.
    pub fn request(&self) {
        let wakers = {
            let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            // Under the mutex: `on_request` either sees the flag or has
            // pushed its waker before we take the list.
            if self.requested.swap(true, SeqCst) {
                return;
            }
            std::mem::take(&mut *wakers)
        };
        for wake in wakers {
            wake();
        }
    }

    /// Wakes `notifier`'s selector on the first [`request`](Self::request)
    /// (at once if it was already requested).
    pub(crate) fn notify_on_request(&self, notifier: Notifier) {
        self.on_request(move || {
            // A closed selector's notifier does nothing; a failed write
            // leaves the loop to see the flag at its next wake-up.
            let _ = notifier.notify();
        });
    }

    /// Registers `waker` to run on the first [`request`](Self::request); runs
    /// it at once if the shutdown was already requested.
    pub fn on_request(&self, waker: impl Fn() + Send + Sync + 'static) {
        {
            let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            if !self.requested.load(SeqCst) {
                wakers.push(Box::new(waker));
                return;
            }
        }
        waker();
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("requested", &self.is_requested())
            .finish()
    }
}

/// What a server did, returned when it stops.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServerStats {
    /// Connections admitted (served, or queued to be served).
    pub accepted: u64,
    /// Connections accepted and closed at once: over `max_connections`, or
    /// no thread could be started for them.
    pub refused: u64,
    /// Connections closed by the idle timeout.
    pub closed_idle: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
    /// The most connections open at once.
    pub peak_connections: usize,
    /// Worker processes that died and were replaced (the prefork model).
    pub workers_replaced: u64,
}

/// A server running on its own thread, from [`start`].
///
/// Dropping it requests the shutdown without waiting; call
/// [`shutdown`](Self::shutdown) to wait and get the [`ServerStats`].
pub struct RunningServer {
    /// The address actually bound (the real port when `addr` had port 0).
    local_addr: SocketAddr,
    /// Requested by `shutdown` and by `Drop`.
    shutdown: Shutdown,
    /// The server thread; `None` once joined.
    thread: Option<JoinHandle<io::Result<ServerStats>>>,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle to request the shutdown from elsewhere.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Requests the shutdown and waits for the server: every connection is
    /// closed and the port is free when this returns.
    pub fn shutdown(mut self) -> io::Result<ServerStats> {
        self.shutdown.request();
        let thread = self.thread.take().expect("joined only here");
        thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the server thread panicked")))
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown.request();
    }
}

impl fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningServer")
            .field("local_addr", &self.local_addr)
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

/// Binds `config.addr` and runs `model` on a new thread.
///
/// Fails if the address cannot be bound or the configuration is invalid
/// (zero `read_chunk`, `max_buffered` or `workers`, a zero idle timeout).
pub fn start(model: Model, config: ServerConfig) -> io::Result<RunningServer> {
    config.validate()?;
    check(model)?;
    let listener = bind(config.addr)?;
    let local_addr = listener.local_addr()?;
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let thread = std::thread::Builder::new()
        .name(format!("echo-{model}"))
        .spawn(move || serve(model, listener, &config, &stop))?;
    Ok(RunningServer {
        local_addr,
        shutdown,
        thread: Some(thread),
    })
}

/// Listen backlog asked for by [`bind`] (the kernel caps it at
/// `net.core.somaxconn` on Linux).
pub const BACKLOG: i32 = 4096;

/// Binds a listener to `addr` with a listen backlog of [`BACKLOG`] instead
/// of std's 128 (on Unix; Windows keeps std's): a model that accepts slowly
/// (poll's O(n) loop, a thread per connection) must not lose connects when
/// thousands arrive at once, as the lab's 10 000 do.
///
/// ```
/// let listener = synclings::net::bind("127.0.0.1:0")?;
/// assert!(listener.local_addr()?.port() > 0);
/// # std::io::Result::Ok(())
/// ```
pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    os::set_backlog(&listener, BACKLOG);
    Ok(listener)
}

/// Runs `model` on the calling thread until `shutdown` is requested
/// (echo-server wires Ctrl-C/SIGTERM to it), then closes every connection
/// and returns the statistics.
pub fn serve(
    model: Model,
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    config.validate()?;
    check(model)?;
    model.serve(listener, config, shutdown)
}

/// Checks that `model` can run here: on this platform, and with what it
/// needs of the kernel (io_uring with multishot recv, for
/// [`Model::Uring`]). The error (`Unsupported`) names the cause; [`start`]
/// and [`serve`] check first.
///
/// ```
/// use synclings::net::{self, Model};
///
/// assert!(net::check(Model::Selector).is_ok());
/// if let Err(e) = net::check(Model::Uring) {
///     println!("no io_uring here: {e}");
/// }
/// ```
pub fn check(model: Model) -> io::Result<()> {
    if !model.is_available() {
        return Err(unavailable::error(model));
    }
    model.probe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_round_trip() {
        for &model in Model::ALL {
            assert_eq!(model.to_string().parse::<Model>(), Ok(model));
        }
        let err = "epoll".parse::<Model>().unwrap_err();
        assert!(err.to_string().contains("selector-per-core"), "{err}");
    }

    #[test]
    fn accept_pause_only_for_exhaustion() {
        for errno in os::EXHAUSTION {
            assert!(accept_pause(&io::Error::from_raw_os_error(errno)).is_some());
        }
        for errno in os::NOT_EXHAUSTION {
            assert_eq!(accept_pause(&io::Error::from_raw_os_error(errno)), None);
        }
        assert_eq!(accept_pause(&io::ErrorKind::WouldBlock.into()), None);
    }

    #[test]
    fn an_unavailable_selector_is_an_error_not_a_crash() {
        for kind in BackendKind::ALL {
            let config = ServerConfig {
                selector: kind,
                ..ServerConfig::default()
            };
            let result = start(Model::Selector, config).and_then(|s| s.shutdown());
            match result {
                Ok(_) => assert!(kind.is_available(), "{kind}"),
                Err(e) => {
                    assert!(!kind.is_available(), "{kind}: {e}");
                    assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
                }
            }
        }
    }

    #[test]
    fn shutdown_runs_late_wakers_at_once() {
        let shutdown = Shutdown::new();
        shutdown.request();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        shutdown.on_request(move || r.store(true, SeqCst));
        assert!(ran.load(SeqCst));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let bad = [
            ServerConfig {
                read_chunk: 0,
                ..ServerConfig::default()
            },
            ServerConfig {
                max_buffered: 0,
                ..ServerConfig::default()
            },
            ServerConfig {
                workers: 0,
                ..ServerConfig::default()
            },
            ServerConfig {
                idle_timeout: Some(Duration::ZERO),
                ..ServerConfig::default()
            },
        ];
        for config in bad {
            let err = start(Model::Blocking, config).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }
}
