//! **asyncio**: the seed's program 11, "a socket server with asyncio":
//! [`asyncio::Server`](crate::asyncio::Server) (`start_server`) runs one
//! task per connection, each a loop of `read` → uppercase → `write` →
//! `drain`, on one thread and one event loop.
//!
//! The exam's questions 33 and 34 in one server: the tasks are coroutines
//! scheduled in user space, switching only at IO; the event loop sleeps in
//! the reactor's `epoll_wait` and wakes the tasks whose sockets are ready.
//! Under the hood it is the selector server's loop (`selector_server`)
//! with the callbacks turned into tasks: in the steady state a request
//! costs the same system calls, a share of an `epoll_wait`, one `read`
//! and one `write` (the reactor re-arms nothing while a task keeps
//! waiting on the same socket).
//!
//! The limits, as every model's:
//!
//! - `max_connections`: the connection task of one over the cap aborts it
//!   at once (counted in `refused`);
//! - `max_buffered`: a task reads only as much as leaves its writer's
//!   buffer within `max_buffered`, and waits in `drain` (the writer's
//!   high-water mark is `max_buffered - 1`) while that much is buffered: a
//!   peer that does not read is not read either;
//! - the idle timeout: one timer per connection, re-armed only when it
//!   fires early (activity moved the deadline), so a request costs no
//!   timer operation;
//! - `EMFILE`: the server pauses accepting (`asyncio::ACCEPT_PAUSE`);
//! - the shutdown: an [`asyncio::Event`](crate::asyncio::Event) set from
//!   the requesting thread wakes the loop through its notifier; closing the
//!   loop cancels every connection task, whose sockets make one last write
//!   of what is pending and close.
//!
//! Every connection's reads land in one scratch buffer owned by the
//! server (the borrow lasts for one poll, never across an `.await`), so an
//! idle connection holds no buffer.

use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::{protocol, ServerConfig, ServerStats, Shutdown};
use crate::asyncio::{self, EventLoop, Server, Sleep, StreamReader, StreamWriter};

/// What all the connection tasks of one server share.
struct Shared {
    config: ServerConfig,
    stats: RefCell<ServerStats>,
    open: Cell<usize>,
    /// Where every read lands.
    scratch: RefCell<Vec<u8>>,
}

/// Serves on the calling thread until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    let event_loop = EventLoop::new()?;
    let stop = Arc::new(asyncio::Event::new());
    let request = Arc::clone(&stop);
    shutdown.on_request(move || request.set());
    let shared = Rc::new(Shared {
        config: config.clone(),
        stats: RefCell::new(ServerStats::default()),
        open: Cell::new(0),
        scratch: RefCell::new(vec![0; config.read_chunk.max(1)]),
    });
    let for_server = Rc::clone(&shared);
    let served = event_loop.run_until_complete(async move {
        let server = Server::from_listener(listener, move |reader, writer| {
            Connection::new(Rc::clone(&for_server), reader, writer).run()
        })?;
        stop.wait().await;
        server.close();
        io::Result::Ok(())
    });
    // Cancels every connection task: each socket writes what it can of
    // what is pending, then closes.
    drop(event_loop);
    served?;
    let stats = shared.stats.borrow().clone();
    Ok(stats)
}

/// What a step of a connection came to.
enum Step {
    /// Read and answered something: go on.
    Progress,
    /// The peer sent EOF.
    Eof,
    /// Idle for the whole timeout.
    Idle,
    /// A reset or another error.
    Failed,
}

/// One client: its streams and idle timer.
struct Connection {
    shared: Rc<Shared>,
    reader: StreamReader,
    writer: StreamWriter,
    /// The idle timeout and its timer (`None`: no timeout).
    idle: Option<(Duration, Sleep)>,
    last_activity: Instant,
    /// The writer's buffer when the idle timer last looked: less since
    /// means the peer took some (activity).
    pending_seen: usize,
    /// Counted as open (and to be counted out on drop).
    admitted: bool,
}

impl Connection {
    fn new(shared: Rc<Shared>, reader: StreamReader, writer: StreamWriter) -> Connection {
        let now = Instant::now();
        let idle = shared
            .config
            .idle_timeout
            .map(|timeout| (timeout, asyncio::sleep_until(now + timeout)));
        Connection {
            shared,
            reader,
            writer,
            idle,
            last_activity: now,
            pending_seen: 0,
            admitted: false,
        }
    }

    async fn run(mut self) {
        let shared = Rc::clone(&self.shared);
        if shared.open.get() >= shared.config.max_connections {
            shared.stats.borrow_mut().refused += 1;
            self.writer.abort();
            return;
        }
        self.admitted = true;
        shared.open.set(shared.open.get() + 1);
        {
            let mut stats = shared.stats.borrow_mut();
            stats.accepted += 1;
            stats.peak_connections = stats.peak_connections.max(shared.open.get());
        }
        let high = shared.config.max_buffered.max(1) - 1;
        let _ = self.writer.set_write_buffer_limits(high, high / 4);
        loop {
            match poll_fn(|cx| self.poll_step(cx)).await {
                Step::Progress => {}
                Step::Eof => break,
                Step::Idle => {
                    shared.stats.borrow_mut().closed_idle += 1;
                    self.writer.abort();
                    return;
                }
                Step::Failed => {
                    self.writer.abort();
                    return;
                }
            }
        }
        // EOF: send what is pending, then close (still under the idle
        // timeout: a peer that half-closed and never reads cannot pin us).
        self.writer.close();
        let closed = poll_fn(|cx| {
            if self.writer.poll_wait_closed(cx).is_ready() {
                return Poll::Ready(true);
            }
            match self.poll_idle(cx) {
                Poll::Ready(()) => Poll::Ready(false),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        if !closed {
            shared.stats.borrow_mut().closed_idle += 1;
            self.writer.abort();
        }
    }

    /// Waits for room in the writer, reads a chunk into the shared scratch
    /// buffer, answers it and writes the answer, all in one poll.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        let config = &self.shared.config;
        let max = config.max_buffered.max(1);
        if self.writer.get_write_buffer_size() >= max {
            match self.writer.poll_drain(cx) {
                Poll::Ready(Err(_)) => return Poll::Ready(Step::Failed),
                Poll::Ready(Ok(())) => {}
                Poll::Pending => return self.poll_idle(cx).map(|()| Step::Idle),
            }
        }
        let room = (max - self.writer.get_write_buffer_size()).min(config.read_chunk.max(1));
        let mut scratch = self.shared.scratch.borrow_mut();
        match self.reader.poll_read_into(cx, &mut scratch[..room]) {
            Poll::Ready(Ok(0)) => Poll::Ready(Step::Eof),
            Poll::Ready(Ok(n)) => {
                let reply = &mut scratch[..n];
                protocol::respond(reply, config.mode);
                self.writer.write(reply);
                self.shared.stats.borrow_mut().bytes_in += n as u64;
                self.last_activity = Instant::now();
                Poll::Ready(Step::Progress)
            }
            Poll::Ready(Err(_)) => Poll::Ready(Step::Failed),
            Poll::Pending => {
                drop(scratch);
                self.poll_idle(cx).map(|()| Step::Idle)
            }
        }
    }

    /// Ready once the connection has been idle for the whole timeout; a
    /// timer that fires early (there was activity since) is moved to the
    /// real deadline.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let pending = self.writer.get_write_buffer_size();
        let Some((timeout, timer)) = &mut self.idle else {
            return Poll::Pending;
        };
        loop {
            if Pin::new(&mut *timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            if pending < self.pending_seen {
                // The peer took some of the replies: that is activity.
                self.last_activity = now;
            }
            self.pending_seen = pending;
            let deadline = self.last_activity + *timeout;
            if deadline <= now {
                return Poll::Ready(());
            }
            timer.reset(deadline);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.admitted {
            return;
        }
        self.shared.open.set(self.shared.open.get() - 1);
        // What the socket took: what was written minus what still waits.
        let sent = self.writer.bytes_written() - self.writer.get_write_buffer_size() as u64;
        self.shared.stats.borrow_mut().bytes_out += sent;
    }
}
