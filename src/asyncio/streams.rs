//! Streams: Python's `asyncio.start_server`, `open_connection`,
//! `StreamReader` and `StreamWriter`, over TCP.
//!
//! A connection is one non-blocking `TcpStream` registered with the loop's
//! reactor (see `reactor.rs`: a direction is armed only while a task waits
//! on it; this module and the reactor are the only ones that name `AsFd`),
//! shared by its [`StreamReader`] and [`StreamWriter`].
//!
//! - **Reading** goes straight to the socket when the reader's own buffer
//!   is empty; the buffer only holds what `readuntil` / `readexactly` read
//!   ahead, never more than `limit` plus a separator. `readuntil` past the
//!   limit is [`StreamError::LimitOverrun`] (the bytes stay buffered, as in
//!   Python); EOF before the separator or before `n` bytes is
//!   [`StreamError::IncompleteRead`] with the partial bytes.
//! - **Writing** (`write`, not async, as Python's) sends at once what the
//!   socket takes; the rest waits in the writer's buffer and a small task
//!   sends it as the socket becomes writable. [`drain`](StreamWriter::drain)
//!   is the back-pressure: it waits while more than the high-water mark
//!   (64 KiB) is buffered, until the buffer is back at the low-water mark
//!   (16 KiB), Python's `pause_writing` / `resume_writing`. A peer that
//!   never reads blocks only the task that drains for it, and holds at most
//!   the high-water mark plus one write.
//! - **Closing**: `close` sends what is buffered, then closes (Python's
//!   `transport.close()`); `abort` drops the buffer and closes now; dropping
//!   the writer closes as `close` does. `write_eof` half-closes after the
//!   buffer is sent.
//!
//! Errors surface where Python raises them: a reset or broken pipe while
//! writing is returned by the next `drain` (and makes later writes no-ops).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::event_loop::Core;
use super::reactor::{Direction, IoKey};
use super::task::Task;

/// Python's default stream `limit`: 64 KiB.
pub const DEFAULT_LIMIT: usize = 64 * 1024;
/// The default high-water mark of a writer's buffer (Python's: 64 KiB).
pub const DEFAULT_HIGH_WATER: usize = 64 * 1024;
/// How many connections the server accepts per wake-up before it lets the
/// others run.
const ACCEPT_BATCH: usize = 64;
/// How long the server stops accepting when the process is out of
/// descriptors (it would fail again at once otherwise: a spin).
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Capacity kept by a drained write buffer; a larger one is freed.
const KEEP_CAPACITY: usize = 4 * 1024;

/// What a stream read or the server can fail with.
#[derive(Debug)]
pub enum StreamError {
    /// EOF came first (Python's `IncompleteReadError`): `partial` holds the
    /// bytes read before it; `expected` is how many `readexactly` wanted
    /// (`None` for `readuntil`).
    IncompleteRead {
        /// The bytes before EOF.
        partial: Vec<u8>,
        /// What `readexactly(n)` asked for.
        expected: Option<usize>,
    },
    /// No separator within `limit` bytes (Python's `LimitOverrunError`).
    /// For `readuntil` the bytes stay in the reader's buffer; `readline`
    /// discards the whole line.
    LimitOverrun {
        /// How many bytes were looked at.
        consumed: usize,
        /// The reader's limit.
        limit: usize,
    },
    /// The socket failed (a reset, ...).
    Io(io::Error),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::IncompleteRead { partial, expected } => match expected {
                Some(n) => write!(
                    f,
                    "the peer closed the stream after {} of {n} expected bytes",
                    partial.len()
                ),
                None => write!(
                    f,
                    "the peer closed the stream after {} bytes, before the separator",
                    partial.len()
                ),
            },
            StreamError::LimitOverrun { consumed, limit } => write!(
                f,
                "no separator within the stream limit of {limit} bytes ({consumed} looked at): \
                 raise the limit (StreamReader::set_limit) or read in chunks"
            ),
            StreamError::Io(e) => write!(f, "the connection failed: {e}"),
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> Self {
        StreamError::Io(e)
    }
}

/// Where the writer's side of a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// `close()`d: closes once the buffer is sent.
    Closing,
    Closed,
}

struct WriteSide {
    /// Buffered bytes are `buf[sent..]`.
    buf: Vec<u8>,
    sent: usize,
    high: usize,
    low: usize,
    /// Above `high` since it was last at or below `low`: `drain` waits.
    paused: bool,
    drainers: Vec<Waker>,
    phase: Phase,
    closed_waiters: Vec<Waker>,
    /// `write_eof` once the buffer is sent.
    eof_pending: bool,
    /// The first send error: kind and message, for every later `drain`.
    error: Option<(io::ErrorKind, String)>,
    /// The flushing task runs.
    flushing: bool,
    /// Bytes handed to `write` (for statistics).
    written: u64,
}

impl WriteSide {
    fn pending(&self) -> usize {
        self.buf.len() - self.sent
    }
}

/// One TCP connection, shared by its reader, writer and flushing task.
struct Conn {
    socket: TcpStream,
    io: IoKey,
    core: Rc<Core>,
    write: RefCell<WriteSide>,
}

impl Conn {
    fn new(socket: TcpStream, core: Rc<Core>) -> io::Result<Conn> {
        socket.set_nonblocking(true)?;
        // Python's asyncio sets TCP_NODELAY too: a reply goes out at once.
        socket.set_nodelay(true)?;
        let io = core.reactor.borrow_mut().register(&socket)?;
        Ok(Conn {
            socket,
            io,
            core,
            write: RefCell::new(WriteSide {
                buf: Vec::new(),
                sent: 0,
                high: DEFAULT_HIGH_WATER,
                low: DEFAULT_HIGH_WATER / 4,
                paused: false,
                drainers: Vec::new(),
                phase: Phase::Open,
                closed_waiters: Vec::new(),
                eof_pending: false,
                error: None,
                flushing: false,
                written: 0,
            }),
        })
    }

    fn poll_ready(&self, direction: Direction, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.core
            .reactor
            .borrow_mut()
            .poll_ready(self.io, direction, cx)
    }

    fn clear_ready(&self, direction: Direction) {
        self.core
            .reactor
            .borrow_mut()
            .clear_ready(self.io, direction);
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            match self.poll_ready(Direction::Read, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            match (&self.socket).read(buf) {
                Ok(n) => {
                    if n > 0 && n < buf.len() {
                        // Most likely drained: wait for the next report
                        // rather than pay a read that would block.
                        self.clear_ready(Direction::Read);
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_ready(Direction::Read)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Sends what the socket takes now; how much.
    fn send_some(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut sent = 0;
        while sent < bytes.len() {
            match (&self.socket).write(&bytes[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.clear_ready(Direction::Write);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }

    fn write(self: &Rc<Self>, data: &[u8]) {
        let mut w = self.write.borrow_mut();
        if w.phase != Phase::Open || w.error.is_some() || w.eof_pending || data.is_empty() {
            return;
        }
        w.written += data.len() as u64;
        let rest = if w.pending() == 0 {
            match self.send_some(data) {
                Ok(n) => &data[n..],
                Err(e) => {
                    drop(w);
                    self.fail(e);
                    return;
                }
            }
        } else {
            data
        };
        if rest.is_empty() {
            return;
        }
        if w.sent > 0 && w.sent == w.buf.len() {
            w.buf.clear();
            w.sent = 0;
        }
        w.buf.extend_from_slice(rest);
        if w.pending() > w.high {
            w.paused = true;
        }
        if !w.flushing {
            w.flushing = true;
            drop(w);
            let conn = Rc::clone(self);
            drop(
                self.core
                    .spawn(async move { poll_fn(|cx| conn.poll_flush(cx)).await }),
            );
        }
    }

    /// The flushing task: sends the buffer as the socket takes it.
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            {
                let w = self.write.borrow();
                if w.pending() == 0 || w.error.is_some() || w.phase == Phase::Closed {
                    break;
                }
            }
            match self.poll_ready(Direction::Write, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.fail(e);
                    break;
                }
                Poll::Ready(Ok(())) => {}
            }
            let result = {
                let w = self.write.borrow();
                self.send_some(&w.buf[w.sent..])
            };
            match result {
                Ok(n) => {
                    let mut w = self.write.borrow_mut();
                    w.sent += n;
                    if w.paused && w.pending() <= w.low {
                        w.paused = false;
                        let drainers = std::mem::take(&mut w.drainers);
                        drop(w);
                        drainers.into_iter().for_each(Waker::wake);
                    }
                }
                Err(e) => {
                    self.fail(e);
                    break;
                }
            }
        }
        let (eof, close) = {
            let mut w = self.write.borrow_mut();
            w.flushing = false;
            w.buf.clear();
            w.sent = 0;
            if w.buf.capacity() > KEEP_CAPACITY {
                w.buf = Vec::new();
            }
            (
                std::mem::take(&mut w.eof_pending),
                w.phase == Phase::Closing,
            )
        };
        if eof {
            let _ = self.socket.shutdown(Shutdown::Write);
        }
        if close {
            self.finish_close();
        }
        Poll::Ready(())
    }

    /// A send failed: the connection is lost. Later drains report `e`.
    fn fail(&self, e: io::Error) {
        {
            let mut w = self.write.borrow_mut();
            if w.error.is_none() {
                w.error = Some((e.kind(), e.to_string()));
            }
            w.buf.clear();
            w.sent = 0;
            w.paused = false;
        }
        self.finish_close();
    }

    fn finish_close(&self) {
        let wakers = {
            let mut w = self.write.borrow_mut();
            if w.phase == Phase::Closed {
                return;
            }
            w.phase = Phase::Closed;
            w.paused = false;
            let mut wakers = std::mem::take(&mut w.closed_waiters);
            wakers.append(&mut w.drainers);
            wakers
        };
        // The reader (if any) sees EOF or the error; the socket itself is
        // closed when the last handle drops.
        let _ = self.socket.shutdown(Shutdown::Both);
        wakers.into_iter().for_each(Waker::wake);
    }

    fn close(&self) {
        let now = {
            let mut w = self.write.borrow_mut();
            if w.phase != Phase::Open {
                return;
            }
            w.phase = Phase::Closing;
            !w.flushing
        };
        if now {
            self.finish_close();
        }
    }

    fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut w = self.write.borrow_mut();
        if let Some((kind, message)) = &w.error {
            return Poll::Ready(Err(io::Error::new(*kind, message.clone())));
        }
        if !w.paused {
            return Poll::Ready(Ok(()));
        }
        if !w.drainers.iter().any(|d| d.will_wake(cx.waker())) {
            w.drainers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // One last try for what is buffered (a shutdown cancelled the
        // flushing task), then deregister before the socket closes.
        let w = self.write.get_mut();
        if w.error.is_none() && w.pending() > 0 {
            let _ = (&self.socket).write(&w.buf[w.sent..]);
        }
        self.core
            .reactor
            .borrow_mut()
            .deregister(self.io, &self.socket);
    }
}

/// Wraps a connected stream for the running loop.
fn connection(socket: TcpStream, core: Rc<Core>) -> io::Result<(StreamReader, StreamWriter)> {
    let conn = Rc::new(Conn::new(socket, core)?);
    Ok((
        StreamReader {
            conn: Rc::clone(&conn),
            buf: Vec::new(),
            pos: 0,
            eof: false,
            limit: DEFAULT_LIMIT,
        },
        StreamWriter { conn },
    ))
}

/// The reading half of a connection: Python's `asyncio.StreamReader`.
/// `!Send` (it belongs to its loop).
pub struct StreamReader {
    conn: Rc<Conn>,
    /// Read ahead, not returned yet: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    limit: usize,
}

impl StreamReader {
    fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        out
    }

    /// Reads up to `max` more bytes into the buffer; 0 at EOF.
    async fn fill(&mut self, max: usize) -> io::Result<usize> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let start = self.buf.len();
        self.buf.resize(start + max.max(1), 0);
        let conn = Rc::clone(&self.conn);
        let buf = &mut self.buf;
        let result = poll_fn(|cx| conn.poll_read(cx, &mut buf[start..])).await;
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(start + n);
        if n == 0 && result.is_ok() {
            self.eof = true;
        }
        result
    }

    /// Reads into `out` what is available (waiting for at least one byte):
    /// the buffered bytes first, else one read of the socket. 0 at EOF.
    /// The low-level form of `read`, without allocating; the borrow of
    /// `out` lasts only for the call, so a buffer shared by many
    /// connections (the echo server's) can be passed.
    pub fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let buffered = self.buffered();
        if !buffered.is_empty() {
            let n = buffered.len().min(out.len());
            out[..n].copy_from_slice(&buffered[..n]);
            self.take(n);
            return Poll::Ready(Ok(n));
        }
        if self.eof {
            return Poll::Ready(Ok(0));
        }
        let polled = self.conn.poll_read(cx, out);
        if let Poll::Ready(Ok(0)) = polled {
            self.eof = true;
        }
        polled
    }

    /// `poll_read_into` as a future.
    pub async fn read_into(&mut self, out: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read_into(cx, out)).await
    }

    /// Up to `n` bytes, as soon as some are available (Python's
    /// `read(n)`); empty at EOF.
    pub async fn read(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut out = vec![0; n.min(self.limit.max(DEFAULT_LIMIT))];
        let got = self.read_into(&mut out).await?;
        out.truncate(got);
        Ok(out)
    }

    /// Everything until EOF (Python's `read()` / `read(-1)`).
    pub async fn read_to_end(&mut self) -> io::Result<Vec<u8>> {
        while self.fill(self.limit.max(1)).await? > 0 {}
        let n = self.buffered().len();
        Ok(self.take(n))
    }

    /// Exactly `n` bytes (Python's `readexactly`), or
    /// [`StreamError::IncompleteRead`] with what came before EOF.
    pub async fn readexactly(&mut self, n: usize) -> Result<Vec<u8>, StreamError> {
        while self.buffered().len() < n {
            if self.eof {
                let all = self.buffered().len();
                return Err(StreamError::IncompleteRead {
                    partial: self.take(all),
                    expected: Some(n),
                });
            }
            let missing = n - self.buffered().len();
            self.fill(missing).await?;
        }
        Ok(self.take(n))
    }

    /// The bytes up to and including `separator` (Python's `readuntil`).
    /// [`StreamError::LimitOverrun`] if it is not within `limit` bytes (the
    /// bytes stay buffered); [`StreamError::IncompleteRead`] if EOF comes
    /// first (the bytes are handed back). An empty separator is an
    /// `InvalidInput` error (Python's `ValueError`).
    pub async fn readuntil(&mut self, separator: &[u8]) -> Result<Vec<u8>, StreamError> {
        if separator.is_empty() {
            return Err(StreamError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "readuntil needs a separator of at least one byte",
            )));
        }
        let mut searched = 0;
        loop {
            let data = self.buffered();
            if let Some(at) = find(&data[searched..], separator) {
                let at = searched + at;
                if at > self.limit {
                    return Err(StreamError::LimitOverrun {
                        consumed: at,
                        limit: self.limit,
                    });
                }
                return Ok(self.take(at + separator.len()));
            }
            searched = data.len().saturating_sub(separator.len() - 1);
            if data.len() > self.limit {
                return Err(StreamError::LimitOverrun {
                    consumed: data.len(),
                    limit: self.limit,
                });
            }
            if self.eof {
                let all = data.len();
                return Err(StreamError::IncompleteRead {
                    partial: self.take(all),
                    expected: None,
                });
            }
            // Never buffer more than the limit and one separator.
            let room = (self.limit + separator.len()).saturating_sub(data.len());
            self.fill(room.max(1)).await?;
        }
    }

    /// One line, `\n` included (Python's `readline`): at EOF the partial
    /// line (maybe empty) is returned; past the limit the whole line is
    /// discarded, through its `\n`, and [`StreamError::LimitOverrun`]
    /// returned. (Python discards what its buffer happens to hold, so the
    /// tail of a very long line can come back as the next "line".)
    pub async fn readline(&mut self) -> Result<Vec<u8>, StreamError> {
        match self.readuntil(b"\n").await {
            Ok(line) => Ok(line),
            Err(StreamError::IncompleteRead { partial, .. }) => Ok(partial),
            Err(StreamError::LimitOverrun { consumed, limit }) => {
                // Discard the whole overlong line, through its `\n` (read
                // and dropped a limit at a time: memory stays bounded), so
                // the next readline starts at the next line.
                loop {
                    if let Some(at) = find(self.buffered(), b"\n") {
                        self.take(at + 1);
                        break;
                    }
                    let all = self.buffered().len();
                    self.take(all);
                    if self.eof || self.fill(self.limit).await? == 0 {
                        break;
                    }
                }
                Err(StreamError::LimitOverrun { consumed, limit })
            }
            Err(e) => Err(e),
        }
    }

    /// True once EOF was read and nothing is buffered (Python's
    /// `at_eof()`).
    pub fn at_eof(&self) -> bool {
        self.eof && self.buffered().is_empty()
    }

    /// The limit of `readuntil` / `readline` (default [`DEFAULT_LIMIT`]).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Changes the limit (Python's `limit=` argument).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }
}

impl fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReader")
            .field("peer", &self.conn.socket.peer_addr().ok())
            .field("buffered", &self.buffered().len())
            .field("eof", &self.eof)
            .field("limit", &self.limit)
            .finish()
    }
}

/// Where `needle` starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() == 1 {
        return haystack.iter().position(|&b| b == needle[0]);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The writing half of a connection: Python's `asyncio.StreamWriter`.
/// `!Send`. Dropping it closes the connection as [`close`](Self::close)
/// does (what is buffered is still sent).
pub struct StreamWriter {
    conn: Rc<Conn>,
}

impl StreamWriter {
    /// Queues `data` (Python's `write`, not a coroutine): sent at once as
    /// far as the socket takes it, the rest in the background. Call
    /// [`drain`](Self::drain) after it to respect back-pressure. Ignored
    /// after `close`, `write_eof` or a send error (which `drain` reports).
    pub fn write(&mut self, data: &[u8]) {
        self.conn.write(data);
    }

    /// Queues every buffer (Python's `writelines`).
    pub fn writelines<'a>(&mut self, lines: impl IntoIterator<Item = &'a [u8]>) {
        for line in lines {
            self.write(line);
        }
    }

    /// Waits while the buffer is over the high-water mark, until it is back
    /// at the low-water mark (Python's `await drain()`); the send error if
    /// the connection was lost.
    pub async fn drain(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.conn.poll_drain(cx)).await
    }

    /// `drain`, polled by hand.
    pub fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.conn.poll_drain(cx)
    }

    /// Bytes buffered, not yet taken by the socket (Python's
    /// `transport.get_write_buffer_size()`).
    pub fn get_write_buffer_size(&self) -> usize {
        self.conn.write.borrow().pending()
    }

    /// Bytes handed to `write` so far (sent or buffered).
    pub fn bytes_written(&self) -> u64 {
        self.conn.write.borrow().written
    }

    /// Sets the high- and low-water marks (Python's
    /// `transport.set_write_buffer_limits(high, low)`); `low` must not be
    /// above `high` (Python's `ValueError`).
    pub fn set_write_buffer_limits(&mut self, high: usize, low: usize) -> io::Result<()> {
        if low > high {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the low-water mark ({low}) must not be above the high one ({high})"),
            ));
        }
        let mut w = self.conn.write.borrow_mut();
        w.high = high;
        w.low = low;
        w.paused = w.pending() > high;
        Ok(())
    }

    /// `(high, low)` water marks.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        let w = self.conn.write.borrow();
        (w.high, w.low)
    }

    /// Half-closes: the peer reads EOF once the buffer is sent (Python's
    /// `write_eof`); reading goes on.
    pub fn write_eof(&mut self) {
        let now = {
            let mut w = self.conn.write.borrow_mut();
            if w.phase != Phase::Open {
                return;
            }
            if w.flushing {
                w.eof_pending = true;
                false
            } else {
                true
            }
        };
        if now {
            let _ = self.conn.socket.shutdown(Shutdown::Write);
        }
    }

    /// True: TCP can half-close (Python's `can_write_eof`).
    pub fn can_write_eof(&self) -> bool {
        true
    }

    /// Closes after the buffer is sent (Python's `close`).
    pub fn close(&mut self) {
        self.conn.close();
    }

    /// Drops the buffer and closes now (Python's `transport.abort()`).
    pub fn abort(&mut self) {
        {
            let mut w = self.conn.write.borrow_mut();
            w.buf.clear();
            w.sent = 0;
        }
        self.conn.finish_close();
    }

    /// True once `close`, `abort` or a send error started closing.
    pub fn is_closing(&self) -> bool {
        self.conn.write.borrow().phase != Phase::Open
    }

    /// Waits until the connection is closed (Python's `wait_closed`).
    pub async fn wait_closed(&self) {
        poll_fn(|cx| self.poll_wait_closed(cx)).await
    }

    /// `wait_closed`, polled by hand.
    pub fn poll_wait_closed(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut w = self.conn.write.borrow_mut();
        if w.phase == Phase::Closed {
            return Poll::Ready(());
        }
        if !w.closed_waiters.iter().any(|x| x.will_wake(cx.waker())) {
            w.closed_waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// The peer's address (Python's `get_extra_info('peername')`).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.conn.socket.peer_addr()
    }

    /// This end's address (`get_extra_info('sockname')`).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.conn.socket.local_addr()
    }
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        self.conn.close();
    }
}

impl fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.conn.write.borrow();
        f.debug_struct("StreamWriter")
            .field("peer", &self.conn.socket.peer_addr().ok())
            .field("buffered", &w.pending())
            .field("phase", &w.phase)
            .finish()
    }
}

/// Connects to `addr` (Python's `asyncio.open_connection(host, port)`).
/// The connect itself (and the name lookup) runs on the loop's default
/// executor, as Python runs `getaddrinfo` there.
///
/// # Panics
///
/// Outside a running loop.
pub async fn open_connection(
    addr: impl ToSocketAddrs + Send + 'static,
) -> io::Result<(StreamReader, StreamWriter)> {
    let core = Core::expect_current("asyncio::open_connection");
    let connected = super::ToThread::submit(&core, move || TcpStream::connect(addr)).await;
    let socket = connected.map_err(io::Error::other)??;
    connection(socket, core)
}

/// A listening server: Python's `asyncio.Server`. Dropping it stops
/// accepting (the connections already made go on). `!Send`.
pub struct Server {
    inner: Rc<Listening>,
    accept: Task<()>,
}

struct Listening {
    /// `None` once closed.
    listener: RefCell<Option<TcpListener>>,
    io: IoKey,
    core: Rc<Core>,
    addr: SocketAddr,
    closed_waiters: RefCell<Vec<Waker>>,
    accepted: Cell<u64>,
}

/// Why one `accept` gave no connection.
enum NotAccepted {
    /// Out of descriptors or memory: stop accepting for a while.
    Pause,
    /// The server was closed.
    Closed,
}

impl Listening {
    fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<TcpStream, NotAccepted>> {
        loop {
            let listener = self.listener.borrow();
            let Some(listener) = listener.as_ref() else {
                return Poll::Ready(Err(NotAccepted::Closed));
            };
            match self
                .core
                .reactor
                .borrow_mut()
                .poll_ready(self.io, Direction::Read, cx)
            {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(Err(NotAccepted::Closed)),
                Poll::Ready(Ok(())) => {}
            }
            match listener.accept() {
                Ok((stream, _peer)) => return Poll::Ready(Ok(stream)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self
                    .core
                    .reactor
                    .borrow_mut()
                    .clear_ready(self.io, Direction::Read),
                Err(e) if out_of_resources(&e) => return Poll::Ready(Err(NotAccepted::Pause)),
                // ECONNABORTED, EINTR, a peer that reset first...: go on.
                Err(_) => {}
            }
        }
    }

    fn close(&self) {
        let listener = self.listener.borrow_mut().take();
        if let Some(listener) = listener {
            self.core
                .reactor
                .borrow_mut()
                .deregister(self.io, &listener);
        }
        let waiters = std::mem::take(&mut *self.closed_waiters.borrow_mut());
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// `accept` failed for lack of descriptors or memory: retrying at once
/// would fail at once (the connection stays queued), so pause.
fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.close();
    }
}

/// Listens on `addr` and runs `client_connected(reader, writer)` as a new
/// task for each connection (Python's `await asyncio.start_server(cb,
/// host, port)`).
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// The seed's program 11: an asyncio echo server (the reply uppercased),
/// and a client.
///
/// ```
/// use synclings::asyncio::{self, StreamReader, StreamWriter};
///
/// async fn handle(mut reader: StreamReader, mut writer: StreamWriter) {
///     while let Ok(line) = reader.readline().await {
///         if line.is_empty() {
///             break; // EOF
///         }
///         writer.write(&line.to_ascii_uppercase());
///         if writer.drain().await.is_err() {
///             break;
///         }
///     }
/// }
///
/// let reply = asyncio::run(async {
///     let server = asyncio::start_server(handle, "127.0.0.1:0").await?;
///     let (mut reader, mut writer) = asyncio::open_connection(server.local_addr()).await?;
///     writer.write(b"hello asyncio\n");
///     writer.drain().await?;
///     let reply = reader.readline().await.map_err(std::io::Error::other)?;
///     server.close();
///     std::io::Result::Ok(reply)
/// })?;
/// assert_eq!(reply, b"HELLO ASYNCIO\n");
/// # std::io::Result::Ok(())
/// ```
pub async fn start_server<C, F>(client_connected: C, addr: impl ToSocketAddrs) -> io::Result<Server>
where
    C: FnMut(StreamReader, StreamWriter) -> F + 'static,
    F: Future<Output = ()> + 'static,
{
    Server::from_listener(TcpListener::bind(addr)?, client_connected)
}

impl Server {
    /// Serves an already bound listener (made non-blocking here), as
    /// [`start_server`] does; `echo-server --model asyncio` passes its
    /// own.
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    pub fn from_listener<C, F>(listener: TcpListener, mut client_connected: C) -> io::Result<Server>
    where
        C: FnMut(StreamReader, StreamWriter) -> F + 'static,
        F: Future<Output = ()> + 'static,
    {
        let core = Core::expect_current("asyncio::start_server");
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let io = core.reactor.borrow_mut().register(&listener)?;
        let inner = Rc::new(Listening {
            listener: RefCell::new(Some(listener)),
            io,
            core: Rc::clone(&core),
            addr,
            closed_waiters: RefCell::new(Vec::new()),
            accepted: Cell::new(0),
        });
        let listening = Rc::clone(&inner);
        let accept = core.spawn(async move {
            loop {
                for _ in 0..ACCEPT_BATCH {
                    match poll_fn(|cx| listening.poll_accept(cx)).await {
                        Ok(stream) => {
                            listening.accepted.set(listening.accepted.get() + 1);
                            // A socket we cannot set up is dropped (closed).
                            if let Ok((reader, writer)) =
                                connection(stream, Rc::clone(&listening.core))
                            {
                                drop(listening.core.spawn(client_connected(reader, writer)));
                            }
                        }
                        Err(NotAccepted::Pause) => {
                            // The listener stays armed but unwatched: the
                            // reactor disarms it at its next report.
                            super::sleep(ACCEPT_PAUSE).await;
                        }
                        Err(NotAccepted::Closed) => return,
                    }
                }
                super::yield_now().await;
            }
        });
        Ok(Server { inner, accept })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// True until closed (Python's `is_serving()`).
    pub fn is_serving(&self) -> bool {
        self.inner.listener.borrow().is_some()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.inner.accepted.get()
    }

    /// Stops listening (Python's `close()`): the listening socket is
    /// closed now; connections already accepted go on.
    pub fn close(&self) {
        self.accept.cancel();
        self.inner.close();
    }

    /// Waits until the server is closed (Python's `wait_closed`).
    pub async fn wait_closed(&self) {
        poll_fn(|cx| {
            if self.is_serving() {
                self.inner
                    .closed_waiters
                    .borrow_mut()
                    .push(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await
    }

    /// Serves until closed (Python's `serve_forever()`).
    pub async fn serve_forever(&self) {
        self.wait_closed().await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.inner.addr)
            .field("serving", &self.is_serving())
            .field("accepted", &self.accepted())
            .finish()
    }
}
