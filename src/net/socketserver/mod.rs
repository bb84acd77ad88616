//! Python's `socketserver`: a request handler and the servers that run it,
//! with exam question 10's answer built in — a flood of connections is
//! refused, never a crash.
//!
//! | Python | synclings |
//! |---|---|
//! | `class H(BaseRequestHandler): def handle(self)` | `impl` [`BaseRequestHandler`] (`handle`, optional `setup`/`finish`), or any `Fn(&mut Request) -> io::Result<()>` |
//! | `self.request`, `self.client_address`, `self.server` | [`Request::request`] (`&mut TcpStream`), [`Request::client_address`], [`Request::server`] ([`ServerHandle`]) |
//! | `TCPServer(addr, H)` | [`TcpServer::bind`]`(addr, h)`: one request at a time, on the serving thread |
//! | `ThreadingTCPServer(addr, H)` (`ThreadingMixIn`) | [`ThreadingTcpServer::bind`]: a thread per request, at most [`Limits::max_children`] at once |
//! | `ForkingTCPServer(addr, H)` (`ForkingMixIn`, `max_children`) | [`ForkingTcpServer::bind`] (Unix): [`Limits::workers`] pre-forked processes, `H` registered with [`handler!`] |
//! | `serve_forever()`, `handle_request()`, `shutdown()`, `server_close()` | `serve_forever(&self)`, `handle_request(&self, timeout)`, `shutdown(&self) -> Stats`, `Drop` |
//! | `server_address` | `server_address()` (the real port when bound to port 0) |
//! | `handle_error` (prints the traceback, goes on) | an `Err` from the handler is printed and counted, a panic is caught and counted: [`Stats`] |
//!
//! # Question 10: a flood cannot bring the server down
//!
//! Python's `ThreadingMixIn` starts a thread per connection without limit,
//! and `ForkingMixIn` a process per connection (its `max_children` only
//! makes the accept loop wait): a client that opens thousands of
//! connections exhausts threads, processes or memory. Here every server
//! takes [`Limits`]:
//!
//! - **`max_children`**: at most that many handlers run at once, across
//!   all the threads, or all the worker processes, of the server. A
//!   connection over the cap is accepted and closed at once (its client
//!   reads EOF), and counted in [`Stats::refused`].
//! - **`max_per_client`**: at most that many at once from one client IP
//!   (ports differ per connection, so the IP is the client), so one client
//!   cannot take every slot; counted in [`Stats::refused_per_client`] too.
//! - **A handler's panic is contained**: caught, counted in
//!   [`Stats::handler_panics`]; the connection closes, the server goes on.
//!   A forking server's worker that dies anyway (killed, aborted) is
//!   replaced and counted in [`Stats::workers_replaced`].
//! - **`shutdown` never waits on a stuck client**: it stops accepting, shuts
//!   down the sockets of the running handlers (a handler blocked reading
//!   sees EOF) and waits at most [`Limits::close_grace`] for them.
//!
//! # Examples
//!
//! The seed's handler (program 10) on a [`ThreadingTcpServer`]:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//! use synclings::net::socketserver::{Limits, Request, ThreadingTcpServer};
//!
//! fn upper(req: &mut Request<'_>) -> std::io::Result<()> {
//!     let mut data = [0; 1024];
//!     loop {
//!         let n = req.request.read(&mut data)?;
//!         if n == 0 {
//!             return Ok(());
//!         }
//!         req.request.write_all(&data[..n].to_ascii_uppercase())?;
//!     }
//! }
//!
//! let limits = Limits { max_children: 8, max_per_client: Some(4), ..Limits::default() };
//! let server = ThreadingTcpServer::bind_with("127.0.0.1:0", upper, limits)?;
//! std::thread::scope(|s| {
//!     s.spawn(|| server.serve_forever());
//!     let mut client = TcpStream::connect(server.server_address())?;
//!     client.write_all(b"hello")?;
//!     let mut reply = [0; 5];
//!     client.read_exact(&mut reply)?;
//!     assert_eq!(&reply, b"HELLO");
//!     let stats = server.shutdown();
//!     assert_eq!(stats.accepted, 1);
//!     std::io::Result::Ok(())
//! })?;
//! # std::io::Result::Ok(())
//! ```
//!
//! # Threads and processes
//!
//! Every server is `Send + Sync`: `serve_forever` runs on one thread while
//! another calls `shutdown` (as in Python). A handler is `Send + Sync +
//! 'static` and shared by every request (`&self`): state per request lives
//! in `handle`'s locals, state across requests behind a lock or an atomic.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Shutdown;

mod admission;
mod core;
#[cfg(unix)]
mod forking;

use self::admission::Table;
use self::core::{Core, Mode};
#[cfg(unix)]
pub use self::forking::ForkingTcpServer;
#[doc(hidden)]
#[cfg(unix)]
pub use self::forking::{__fork_worker, ForkArgs};

#[doc(inline)]
#[cfg(unix)]
pub use crate::socketserver_handler as handler;

/// A request handler: Python's `BaseRequestHandler` subclass.
///
/// `handle` serves one connection; `setup` runs before it and `finish`
/// after it (also when `handle` failed, as Python's `finally`). An `Err`
/// from any of them is printed and counted ([`Stats::handler_errors`]); a
/// panic is caught and counted ([`Stats::handler_panics`]). The connection
/// closes when they return.
///
/// A closure or function `Fn(&mut Request<'_>) -> io::Result<()>` is a
/// handler (its `handle`).
///
/// ```
/// use std::io::{self, Write};
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
/// use synclings::net::socketserver::{BaseRequestHandler, Request};
///
/// /// Greets each client with its number.
/// #[derive(Default)]
/// struct Greeter {
///     served: AtomicU64,
/// }
///
/// impl BaseRequestHandler for Greeter {
///     fn handle(&self, req: &mut Request<'_>) -> io::Result<()> {
///         let n = self.served.fetch_add(1, Relaxed) + 1;
///         writeln!(req.request, "hello {}, you are number {n}", req.client_address)
///     }
/// }
/// ```
pub trait BaseRequestHandler: Send + Sync + 'static {
    /// Before `handle` (Python's `setup`); nothing by default.
    fn setup(&self, _req: &mut Request<'_>) -> io::Result<()> {
        Ok(())
    }

    /// Serves the connection `req.request` (Python's `handle`).
    fn handle(&self, req: &mut Request<'_>) -> io::Result<()>;

    /// After `handle`, even if it failed (Python's `finish`); nothing by
    /// default.
    fn finish(&self, _req: &mut Request<'_>) -> io::Result<()> {
        Ok(())
    }
}

impl<F> BaseRequestHandler for F
where
    F: Fn(&mut Request<'_>) -> io::Result<()> + Send + Sync + 'static,
{
    fn handle(&self, req: &mut Request<'_>) -> io::Result<()> {
        self(req)
    }
}

/// One connection, as a handler sees it (Python's handler attributes).
pub struct Request<'a> {
    /// The connected socket (Python's `self.request`), blocking.
    pub request: &'a mut TcpStream,
    /// The peer's address (Python's `self.client_address`).
    pub client_address: SocketAddr,
    /// The server (Python's `self.server`): its address, and its shutdown.
    pub server: &'a ServerHandle,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("client_address", &self.client_address)
            .field("server", &self.server)
            .finish()
    }
}

/// What a handler may do with its server (Python's `self.server`).
#[derive(Clone, Debug)]
pub struct ServerHandle {
    server_address: SocketAddr,
    shutdown: Shutdown,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn server_address(&self) -> SocketAddr {
        self.server_address
    }

    /// Asks the server to stop accepting (it does not wait: a handler that
    /// waited for its own server would wait for itself). The server's
    /// owner's `shutdown` then finishes the stop.
    pub fn request_shutdown(&self) {
        self.shutdown.request();
    }
}

/// A server's caps (question 10's answer); see the [module docs](self).
///
/// ```
/// use synclings::net::socketserver::Limits;
///
/// let limits = Limits { max_children: 100, max_per_client: Some(10), ..Limits::default() };
/// assert_eq!(Limits::default().max_children, 40); // Python's ForkingMixIn.max_children
/// # let _ = limits;
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// At most this many handlers at once across the whole server (default
    /// 40, Python's `ForkingMixIn.max_children`); more are refused.
    /// ([`TcpServer`] runs one at a time and ignores it.)
    pub max_children: usize,
    /// At most this many handlers at once per client IP (default `None`:
    /// only `max_children`); more are refused.
    pub max_per_client: Option<usize>,
    /// How long `shutdown` waits for the running handlers after shutting
    /// their sockets down (default 5 s); a handler still running then is
    /// left to finish on its own (Python's `daemon_threads`).
    pub close_grace: Duration,
    /// Worker processes of a [`ForkingTcpServer`] (default: the available
    /// parallelism); ignored by the others.
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_children: 40,
            max_per_client: None,
            close_grace: Duration::from_secs(5),
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl Limits {
    /// Rejects the caps no server can run with, naming the field.
    fn validate(&self) -> io::Result<()> {
        let invalid =
            |what: &str| Err(io::Error::new(io::ErrorKind::InvalidInput, what.to_owned()));
        if self.max_children == 0 {
            return invalid("max_children must be at least 1 (0 would refuse everybody)");
        }
        if self.max_per_client == Some(0) {
            return invalid("max_per_client must be at least 1: use None for no per-client cap");
        }
        if self.workers == 0 {
            return invalid("workers must be at least 1");
        }
        Ok(())
    }
}

/// What a server did: returned by `shutdown`, read any time with `stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Connections admitted: a handler ran for each.
    pub accepted: u64,
    /// Connections accepted and closed at once: over a cap (or no thread
    /// could be started for them).
    pub refused: u64,
    /// Of `refused`, those over `max_per_client`.
    pub refused_per_client: u64,
    /// Handlers that returned an error (printed, as Python's `handle_error`).
    pub handler_errors: u64,
    /// Handlers that panicked (caught; the server went on).
    pub handler_panics: u64,
    /// The most handlers at once.
    pub peak_children: u64,
    /// Worker processes that died and were replaced (a [`ForkingTcpServer`]).
    pub workers_replaced: u64,
}

/// Binds `addr` with the lab's listen backlog ([`super::bind`]).
fn bind(addr: impl ToSocketAddrs) -> io::Result<std::net::TcpListener> {
    super::bind(addr)
}

/// The in-process servers: [`TcpServer`] and [`ThreadingTcpServer`].
macro_rules! in_process_server {
    ($(#[$doc:meta])* $name:ident, $mode:expr) => {
        $(#[$doc])*
        pub struct $name {
            core: Arc<Core>,
        }

        impl $name {
            /// Binds `addr` (Python's `server_bind` and `server_activate`)
            /// with the default [`Limits`]. Serve with
            /// [`serve_forever`](Self::serve_forever).
            pub fn bind(
                addr: impl ToSocketAddrs,
                handler: impl BaseRequestHandler,
            ) -> io::Result<Self> {
                Self::bind_with(addr, handler, Limits::default())
            }

            /// [`bind`](Self::bind) with these caps; invalid ones are an
            /// `InvalidInput` error naming the field.
            pub fn bind_with(
                addr: impl ToSocketAddrs,
                handler: impl BaseRequestHandler,
                limits: Limits,
            ) -> io::Result<Self> {
                limits.validate()?;
                let mode = $mode;
                let limits = if mode == Mode::Inline {
                    Limits { max_children: usize::MAX, max_per_client: None, ..limits }
                } else {
                    limits
                };
                let core = Core::new(
                    bind(addr)?,
                    Box::new(handler),
                    Table::local(&limits),
                    limits,
                    mode,
                    Shutdown::new(),
                )?;
                Ok($name { core: Arc::new(core) })
            }

            /// The address listened on (Python's `server_address`).
            pub fn server_address(&self) -> SocketAddr {
                self.core.local_addr()
            }

            /// Serves until [`shutdown`](Self::shutdown) (Python's
            /// `serve_forever`). An error if it already runs on another
            /// thread, or if the listener fails.
            pub fn serve_forever(&self) -> io::Result<()> {
                self.core.serve_forever()
            }

            /// Waits up to `timeout` (`None`: without limit) for one
            /// connection and serves it (Python's `handle_request`). False
            /// if the time passed, or the shutdown came first.
            pub fn handle_request(&self, timeout: Option<Duration>) -> io::Result<bool> {
                self.core.handle_request(timeout)
            }

            /// Stops [`serve_forever`](Self::serve_forever) and waits for
            /// it; shuts down the sockets of the running handlers and waits
            /// up to [`Limits::close_grace`] for them; returns the counts.
            /// The server serves no more after it.
            pub fn shutdown(&self) -> Stats {
                self.core.shutdown()
            }

            /// The counts so far.
            pub fn stats(&self) -> Stats {
                self.core.stats()
            }

            /// What handlers get as `req.server`: the address and a way to
            /// request the shutdown from elsewhere.
            pub fn handle(&self) -> ServerHandle {
                self.core.handle()
            }
        }

        /// Python's `server_close`: stops as [`shutdown`](Self::shutdown)
        /// does and closes the listener.
        impl Drop for $name {
            fn drop(&mut self) {
                self.core.shutdown();
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("server_address", &self.server_address())
                    .field("stats", &self.stats())
                    .finish()
            }
        }
    };
}

in_process_server! {
    /// Python's `TCPServer`: one request at a time, on the thread that runs
    /// [`serve_forever`](Self::serve_forever); the others wait in the listen
    /// backlog (no cap applies: one at a time is the cap).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::net::TcpStream;
    /// use synclings::net::socketserver::{Request, TcpServer};
    ///
    /// let server = TcpServer::bind("127.0.0.1:0", |req: &mut Request<'_>| {
    ///     let mut data = [0; 16];
    ///     let n = req.request.read(&mut data)?;
    ///     req.request.write_all(&data[..n].to_ascii_uppercase())
    /// })?;
    /// let mut client = TcpStream::connect(server.server_address())?;
    /// client.write_all(b"hi")?;
    /// assert!(server.handle_request(None)?); // serves that one connection
    /// let mut reply = String::new();
    /// client.read_to_string(&mut reply)?;
    /// assert_eq!(reply, "HI");
    /// assert_eq!(server.shutdown().accepted, 1);
    /// # std::io::Result::Ok(())
    /// ```
    TcpServer, Mode::Inline
}

in_process_server! {
    /// Python's `ThreadingTCPServer`: a thread per request, at most
    /// [`Limits::max_children`] at once (and [`Limits::max_per_client`] per
    /// client IP); connections over a cap are closed at once and counted.
    /// See the [module example](self).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::TcpStream;
    /// use synclings::net::socketserver::{Limits, Request, ThreadingTcpServer};
    ///
    /// // A handler that waits for its client to close: one slot only.
    /// let limits = Limits { max_children: 1, ..Limits::default() };
    /// let server = ThreadingTcpServer::bind_with("127.0.0.1:0", |req: &mut Request<'_>| {
    ///     req.request.read_to_end(&mut Vec::new()).map(drop)
    /// }, limits)?;
    /// let addr = server.server_address();
    /// let first = TcpStream::connect(addr)?;
    /// assert!(server.handle_request(None)?); // `first` has the slot
    /// let mut second = TcpStream::connect(addr)?;
    /// assert!(server.handle_request(None)?); // refused: closed at once
    /// assert_eq!(second.read(&mut [0; 1])?, 0);
    /// let stats = server.shutdown(); // unblocks `first`'s handler
    /// assert_eq!((stats.accepted, stats.refused), (1, 1));
    /// # drop(first);
    /// # std::io::Result::Ok(())
    /// ```
    ThreadingTcpServer, Mode::Thread
}
