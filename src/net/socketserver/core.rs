//! The one serving loop of every socketserver: accept, admit (or refuse),
//! run the handler (inline or on a thread), contain its panic, count; and
//! the shutdown that stops the loop and unblocks the running handlers.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Shutdown as Half, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use super::admission::{self, Table, ERRORS, PANICS, REFUSED};
use super::{BaseRequestHandler, Limits, Request, ServerHandle, Stats};
use crate::net::blocking::accept_loop;
use crate::net::{accept_pause, Shutdown};
use crate::selector::{DefaultSelector, Interest};

/// Where a handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// On the serving thread, one request at a time (`TCPServer`).
    Inline,
    /// On a thread of its own (`ThreadingMixIn`).
    Thread,
}

/// Who runs `serve_forever` now, so that `shutdown` can wait for it.
#[derive(Default)]
pub(crate) struct Serving {
    by: Mutex<Option<ThreadId>>,
    stopped: Condvar,
}

impl Serving {
    fn lock(&self) -> MutexGuard<'_, Option<ThreadId>> {
        self.by.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks this thread as the one serving; an error if another is.
    pub(crate) fn enter(&self) -> io::Result<ServingGuard<'_>> {
        let mut by = self.lock();
        if by.is_some() {
            return Err(io::Error::other(
                "serve_forever is already running on another thread: call it once",
            ));
        }
        *by = Some(thread::current().id());
        Ok(ServingGuard(self))
    }

    /// Waits until nobody serves, or `deadline`; returns at once when
    /// called from the serving thread itself (a handler of a `TcpServer`:
    /// it would wait for itself). True if nobody serves.
    pub(crate) fn wait_stopped(&self, deadline: Instant) -> bool {
        let mut by = self.lock();
        while let Some(id) = *by {
            let now = Instant::now();
            if id == thread::current().id() || now >= deadline {
                return false;
            }
            by = self
                .stopped
                .wait_timeout(by, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// Clears [`Serving`] when `serve_forever` returns (also by a panic).
pub(crate) struct ServingGuard<'a>(&'a Serving);

impl Drop for ServingGuard<'_> {
    fn drop(&mut self) {
        *self.0.lock() = None;
        self.0.stopped.notify_all();
    }
}

/// The handlers running in this process: a duplicate of each request's
/// socket, to shut it down at the server's shutdown.
#[derive(Default)]
struct Children {
    open: HashMap<u64, TcpStream>,
    next: u64,
}

/// One server of this process: the listener, the handler, the limits.
pub(crate) struct Core {
    listener: TcpListener,
    local_addr: SocketAddr,
    handler: Box<dyn BaseRequestHandler>,
    table: Table,
    limits: Limits,
    mode: Mode,
    shutdown: Shutdown,
    serving: Serving,
    children: Mutex<Children>,
    /// Signalled when a handler of this process ends.
    child_done: Condvar,
}

impl Core {
    /// A server on `listener` (made non-blocking here).
    pub(crate) fn new(
        listener: TcpListener,
        handler: Box<dyn BaseRequestHandler>,
        table: Table,
        limits: Limits,
        mode: Mode,
        shutdown: Shutdown,
    ) -> io::Result<Core> {
        listener.set_nonblocking(true)?;
        Ok(Core {
            local_addr: listener.local_addr()?,
            listener,
            handler,
            table,
            limits,
            mode,
            shutdown,
            serving: Serving::default(),
            children: Mutex::new(Children::default()),
            child_done: Condvar::new(),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub(crate) fn handle(&self) -> ServerHandle {
        ServerHandle {
            server_address: self.local_addr,
            shutdown: self.shutdown.clone(),
        }
    }

    pub(crate) fn stats(&self) -> Stats {
        self.table.stats()
    }

    fn children(&self) -> MutexGuard<'_, Children> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Python's `serve_forever`: accepts until the shutdown is requested
    /// (the echo servers' accept loop: a selector with the shutdown's
    /// notifier, a pause when out of descriptors).
    pub(crate) fn serve_forever(self: &Arc<Self>) -> io::Result<()> {
        let _serving = self.serving.enter()?;
        accept_loop(&self.listener, &self.shutdown, |stream, addr| {
            self.dispatch(stream, addr)
        })
    }

    /// Python's `handle_request`: waits up to `timeout` (`None`: without
    /// limit) for one connection and serves it (or refuses it). False if
    /// the time passed or the shutdown was requested first.
    pub(crate) fn handle_request(self: &Arc<Self>, timeout: Option<Duration>) -> io::Result<bool> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut sel = DefaultSelector::<()>::new()?;
        sel.register(&self.listener, Interest::READ, ())?;
        self.shutdown.notify_on_request(sel.notifier());
        let mut ready = Vec::new();
        while !self.shutdown.is_requested() {
            match self.listener.accept() {
                Ok((stream, addr)) => {
                    self.dispatch(stream, addr);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => match accept_pause(&e) {
                    Some(_) => return Err(e),
                    None => continue,
                },
            }
            let wait = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return Ok(false),
                },
            };
            sel.select_into(wait, &mut ready)?;
        }
        Ok(false)
    }

    /// Admits `stream` and runs its handler, or closes it at once.
    fn dispatch(self: &Arc<Self>, stream: TcpStream, addr: SocketAddr) {
        let ip = addr.ip();
        if admission::try_admit(&self.table, &self.limits, ip).is_err() {
            return; // counted; dropping the stream closes it
        }
        let id = {
            let mut children = self.children();
            // Under the lock: a shutdown that already closed the children
            // must not miss this one.
            let copy = match stream.try_clone() {
                Ok(copy) if !self.shutdown.is_requested() => copy,
                _ => {
                    drop(children);
                    self.refuse_admitted(ip);
                    return;
                }
            };
            let id = children.next;
            children.next += 1;
            children.open.insert(id, copy);
            id
        };
        match self.mode {
            Mode::Inline => self.run(stream, addr, id),
            Mode::Thread => {
                let core = self.clone();
                let spawned = thread::Builder::new()
                    .name(format!("handler-{addr}"))
                    .spawn(move || core.run(stream, addr, id));
                if spawned.is_err() {
                    // No thread for it (the stream went with the closure).
                    self.children().open.remove(&id);
                    self.refuse_admitted(ip);
                    self.child_done.notify_all();
                }
            }
        }
    }

    /// Undoes an admission: the connection is refused after all.
    fn refuse_admitted(&self, ip: IpAddr) {
        admission::release(&self.table, &self.limits, ip);
        self.table.with(|t| {
            t[admission::ACCEPTED] -= 1;
            t[REFUSED] += 1;
        });
    }

    /// One request: setup, handle, finish (always, as Python's `finally`);
    /// an error or a panic is counted and the server goes on.
    fn run(&self, mut stream: TcpStream, addr: SocketAddr, id: u64) {
        let server = self.handle();
        let mut req = Request {
            request: &mut stream,
            client_address: addr,
            server: &server,
        };
        let handled = catch_unwind(AssertUnwindSafe(|| {
            // A listener made non-blocking may pass that on (BSD, macOS).
            req.request.set_nonblocking(false)?;
            self.handler.setup(&mut req)?;
            self.handler.handle(&mut req)
        }));
        // `finish` runs whatever `handle` did, as Python's `finally`.
        let finished = catch_unwind(AssertUnwindSafe(|| self.handler.finish(&mut req)));
        for outcome in [handled, finished] {
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    // Python's handle_error: say it, go on.
                    eprintln!("socketserver: the handler for {addr} failed: {e}");
                    self.table.count(ERRORS);
                }
                // The panic hook has printed it.
                Err(_) => self.table.count(PANICS),
            }
        }
        drop(stream);
        admission::release(&self.table, &self.limits, addr.ip());
        self.children().open.remove(&id);
        self.child_done.notify_all();
    }

    /// Stops the loop, shuts down the sockets of the running handlers (a
    /// handler blocked reading sees EOF) and waits up to
    /// `limits.close_grace` for them; returns the counts.
    pub(crate) fn shutdown(&self) -> Stats {
        self.shutdown.request();
        let deadline = Instant::now() + self.limits.close_grace;
        // First the sockets: an inline handler holds the loop.
        self.close_children();
        self.serving.wait_stopped(deadline);
        self.close_children();
        let mut children = self.children();
        while !children.open.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            children = self
                .child_done
                .wait_timeout(children, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(children);
        self.stats()
    }

    fn close_children(&self) {
        for stream in self.children().open.values() {
            let _ = stream.shutdown(Half::Both);
        }
    }
}
