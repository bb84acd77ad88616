//! Python's `ForkingTCPServer`, pre-forked: [`Limits::workers`] worker
//! processes on the one listener, each running the handlers it accepts on
//! threads, under caps shared by all of them.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::admission::{stats_of, table_len, Table};
use super::core::{Core, Mode, Serving};
use super::{BaseRequestHandler, Limits, Stats};
use crate::ipc::{Array, Entry, Process};
use crate::net::workers::{Handles, Supervisor, WorkerSide, STOP_LIMIT};
use crate::net::Shutdown;

/// Makes the [`Entry`](crate::ipc::Entry) of a
/// [`ForkingTcpServer`](crate::net::socketserver::ForkingTcpServer)'s
/// handler: a worker process finds the handler by this name. List it in the
/// table given to [`ipc::init`](crate::ipc::init) and pass it to
/// [`ForkingTcpServer::bind`](crate::net::socketserver::ForkingTcpServer::bind).
///
/// `handler!(f)` registers `f` (a function `fn(&mut Request<'_>) ->
/// io::Result<()>`) under its own name; `handler!("name" => value)` any
/// [`BaseRequestHandler`](crate::net::socketserver::BaseRequestHandler)
/// value that a constant expression makes (a function, a unit struct).
///
/// ```
/// use std::io::{self, Write};
/// use synclings::ipc::Entry;
/// use synclings::net::socketserver::{handler, Request};
///
/// fn hello(req: &mut Request<'_>) -> io::Result<()> {
///     req.request.write_all(b"hello from a worker process\n")
/// }
///
/// const HELLO: Entry = handler!(hello);
/// static ENTRIES: &[Entry] = &[HELLO];
/// assert_eq!(ENTRIES[0].name(), "hello");
/// ```
#[macro_export]
macro_rules! socketserver_handler {
    ($f:ident) => {
        $crate::socketserver_handler!(::core::stringify!($f) => $f)
    };
    ($name:expr => $handler:expr) => {
        $crate::ipc::Entry::__new($name, |args| {
            $crate::net::socketserver::__fork_worker($crate::ipc::__decode_args(args)?, $handler);
            ::core::result::Result::Ok(())
        })
    };
}

/// A worker's arguments (used by [`handler!`](crate::net::socketserver::handler)).
#[doc(hidden)]
#[derive(Deserialize)]
pub struct ForkArgs {
    handles: Handles,
    table: Array<u64>,
    limits: Limits,
}

/// [`ForkArgs`] as the parent sends them.
#[derive(Serialize)]
struct ForkArgsRef<'a> {
    handles: Handles,
    table: &'a Array<u64>,
    limits: &'a Limits,
}

/// The worker process of a handler (used by
/// [`handler!`](crate::net::socketserver::handler)): a threading server on
/// the inherited listener with the shared table, until the parent says stop.
#[doc(hidden)]
pub fn __fork_worker<H: BaseRequestHandler>(args: ForkArgs, handler: H) {
    let ForkArgs {
        handles,
        table,
        limits,
    } = args;
    let shutdown = Shutdown::new();
    let (side, listener) = WorkerSide::start(handles, &shutdown)
        .unwrap_or_else(|e| panic!("socketserver worker: cannot start: {e}"));
    let core = Core::new(
        listener,
        Box::new(handler),
        Table::Shared(table),
        limits,
        Mode::Thread,
        shutdown,
    )
    .map(Arc::new)
    .unwrap_or_else(|e| panic!("socketserver worker: the listener: {e}"));
    let served = core.serve_forever();
    core.shutdown();
    side.finish(&());
    if let Err(e) = served {
        panic!("socketserver worker: the accept loop failed: {e}");
    }
}

/// Python's `ForkingTCPServer` (`ForkingMixIn`), pre-forked (Unix only).
///
/// - **Workers, not a fork per request**: `fork` is unsafe in a threaded
///   program, and a process per connection is what a flood exhausts. So
///   [`serve_forever`](Self::serve_forever) starts [`Limits::workers`]
///   processes with [`ipc::Process`](crate::ipc::Process) (a fresh run of
///   this binary, as the prefork model does: `net`'s `workers` module is
///   shared by both); each accepts on the one listener and runs each
///   request's handler on a thread.
/// - **The handler is named**, since it runs in another process: register
///   it with [`handler!`](super::handler) in the table given to
///   [`ipc::init`](crate::ipc::init), first thing in `main`.
/// - **The caps hold across the processes**: the counts of
///   [`Limits::max_children`] and [`Limits::max_per_client`] (and the
///   [`Stats`]) live in shared memory, under one lock per accept and close.
/// - **A dead worker is replaced** (counted in [`Stats::workers_replaced`]);
///   its requests are lost with it, and the port stays bound throughout.
///
/// ```no_run
/// use std::io::{self, Read, Write};
/// use synclings::ipc::{self, Entry};
/// use synclings::net::socketserver::{handler, ForkingTcpServer, Limits, Request};
///
/// fn upper(req: &mut Request<'_>) -> io::Result<()> {
///     let mut data = [0; 1024];
///     loop {
///         let n = req.request.read(&mut data)?;
///         if n == 0 {
///             return Ok(());
///         }
///         req.request.write_all(&data[..n].to_ascii_uppercase())?;
///     }
/// }
///
/// const UPPER: Entry = handler!(upper);
/// static ENTRIES: &[Entry] = &[UPPER];
///
/// fn main() -> io::Result<()> {
///     ipc::init(ENTRIES); // a worker process runs `upper` from here
///     let limits = Limits { workers: 2, max_children: 16, max_per_client: Some(4), ..Limits::default() };
///     let server = ForkingTcpServer::bind_with("127.0.0.1:8080", UPPER, limits)?;
///     server.serve_forever() // until server.shutdown() from another thread
/// }
/// ```
pub struct ForkingTcpServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    handler: Entry,
    limits: Limits,
    table: Array<u64>,
    replaced: Arc<AtomicU64>,
    shutdown: Shutdown,
    serving: Serving,
}

impl ForkingTcpServer {
    /// Binds `addr` for the handler registered as `handler` (see
    /// [`handler!`](super::handler)), with the default [`Limits`]. No
    /// process starts before [`serve_forever`](Self::serve_forever).
    ///
    /// `NotFound` if `handler` is not in the table given to
    /// [`ipc::init`](crate::ipc::init).
    pub fn bind(addr: impl ToSocketAddrs, handler: Entry) -> io::Result<Self> {
        Self::bind_with(addr, handler, Limits::default())
    }

    /// [`bind`](Self::bind) with these caps; invalid ones are an
    /// `InvalidInput` error naming the field.
    pub fn bind_with(addr: impl ToSocketAddrs, handler: Entry, limits: Limits) -> io::Result<Self> {
        limits.validate()?;
        if crate::ipc::process::find_entry(handler.name()).is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "the handler `{}` is not registered: list it (handler!) in the table \
                     given to synclings::ipc::init, first thing in main",
                    handler.name()
                ),
            ));
        }
        let listener = super::bind(addr)?;
        Ok(ForkingTcpServer {
            local_addr: listener.local_addr()?,
            listener,
            handler,
            table: Array::new(table_len(&limits))?,
            limits,
            replaced: Arc::new(AtomicU64::new(0)),
            shutdown: Shutdown::new(),
            serving: Serving::default(),
        })
    }

    /// The address listened on (Python's `server_address`).
    pub fn server_address(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts the workers (each said it serves before the first one is
    /// replaced), replaces any that dies, until [`shutdown`](Self::shutdown);
    /// then stops them all. An error if a worker cannot start (the handler's
    /// entry is not a [`handler!`](super::handler) one, say).
    pub fn serve_forever(&self) -> io::Result<()> {
        let _serving = self.serving.enter()?;
        if self.shutdown.is_requested() {
            return Ok(());
        }
        let name = self.handler.name();
        let spawn = move |handles: Handles| -> io::Result<Process> {
            let args = ForkArgsRef {
                handles,
                table: &self.table,
                limits: &self.limits,
            };
            Process::spawn(name, &args)
        };
        let supervisor = Supervisor::start(
            self.listener.try_clone()?,
            self.limits.workers,
            Box::new(spawn),
            self.replaced.clone(),
        )?;
        supervisor.run::<()>(&self.shutdown).map(drop)
    }

    /// Stops [`serve_forever`](Self::serve_forever) and waits for it: every
    /// worker stops its handlers as a [`ThreadingTcpServer`](super::ThreadingTcpServer)
    /// does (within [`Limits::close_grace`]) or is killed; returns the
    /// counts of all the workers.
    pub fn shutdown(&self) -> Stats {
        self.shutdown.request();
        let workers = self.limits.workers as u32;
        self.serving.wait_stopped(
            Instant::now() + self.limits.close_grace + STOP_LIMIT * (2 * workers + 1),
        );
        self.stats()
    }

    /// The counts so far, of every worker.
    pub fn stats(&self) -> Stats {
        let mut stats = stats_of(&self.table.lock());
        stats.workers_replaced = self.replaced.load(Relaxed);
        stats
    }
}

/// Python's `server_close`: stops as [`shutdown`](Self::shutdown) does.
impl Drop for ForkingTcpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for ForkingTcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForkingTcpServer")
            .field("server_address", &self.local_addr)
            .field("handler", &self.handler.name())
            .field("stats", &self.stats())
            .finish()
    }
}
