//! Length-prefixed frames over a byte stream, the encoding of messages, and
//! the errors of sending and receiving.
//!
//! A frame is a 4-byte little-endian length `n` followed by `n` payload
//! bytes; `n` may be 0 (an empty message is a frame too). What the reader
//! can meet, and what it reports:
//!
//! | on the wire | result |
//! |---|---|
//! | end of file before the first header byte | [`RecvError::Closed`]: the peer closed at a boundary |
//! | end of file inside the header or the payload | [`RecvError::Truncated`] |
//! | a length over the maximum | [`RecvError::TooLarge`], before anything is allocated |
//! | a whole frame that does not decode as the asked type | [`RecvError::Decode`] |
//!
//! The maximum ([`DEFAULT_MAX_MESSAGE_LEN`] unless configured) is checked on
//! both sides: a sender refuses an oversized message before writing a byte,
//! so the stream stays in step; a reader refuses an oversized length before
//! allocating, and since the stream is then out of step (its payload is
//! still unread) every later receive reports [`RecvError::Desynchronized`].
//!
//! The payload buffer grows as bytes arrive (it is not allocated from the
//! header's word), so garbage that claims a large but allowed length and then
//! ends costs only what was really sent.
//!
//! Messages are encoded with [postcard](https://docs.rs/postcard): a compact,
//! documented and stable wire format (1.x), a small crate that is maintained,
//! which never preallocates from a length it read (it takes bytes from the
//! frame it was given), and is strict about truncated input. The decoder also
//! refuses trailing bytes, so two messages can never be read as one.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The default largest message a [`Connection`](super::Connection) or a
/// [`Queue`](super::Queue) accepts: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 64 << 20;

/// The largest maximum a frame header can express (`u32::MAX` bytes).
pub const MAX_FRAME_LEN: usize = u32::MAX as usize;

/// Bytes of the length prefix.
const HEADER_LEN: usize = 4;

/// The most a reader allocates ahead of the bytes it has received.
const READ_AHEAD: u64 = 1 << 20;

/// Why a message could not be received.
#[derive(Debug)]
pub enum RecvError {
    /// The peer closed its end at a message boundary (Python's `EOFError`):
    /// nothing more will come.
    Closed,
    /// The stream ended inside a message: the peer died or closed while
    /// sending it. Counts are bytes of the frame, header included.
    Truncated {
        /// Bytes the frame should have had.
        expected: u64,
        /// Bytes that arrived before the end.
        received: u64,
    },
    /// The announced length is over the receiver's maximum; nothing was
    /// allocated. Garbage on the wire usually shows up as this.
    TooLarge {
        /// The announced length of the message.
        len: u64,
        /// The receiver's maximum.
        max: usize,
    },
    /// A whole message arrived but does not decode as the asked type.
    Decode {
        /// The type the receiver asked for.
        type_name: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// An earlier [`TooLarge`](RecvError::TooLarge) left the stream inside a
    /// message: the connection cannot find the next boundary any more.
    Desynchronized,
    /// This end cannot receive: it is the writing end of a one-way pipe.
    WrongDirection,
    /// The operating system refused the read.
    Io(io::Error),
}

/// Why a message could not be sent.
#[derive(Debug)]
pub enum SendError {
    /// The peer has closed its end (`EPIPE`/`ECONNRESET`): nobody will read.
    Closed,
    /// The encoded message is over the maximum; nothing was written.
    TooLarge {
        /// The encoded length of the message.
        len: u64,
        /// The sender's maximum.
        max: usize,
    },
    /// The value could not be encoded (a serde `Serialize` impl failed, or
    /// it tried to pass a descriptor outside [`Process::spawn`](super::Process::spawn)).
    Encode {
        /// The type of the value.
        type_name: &'static str,
        /// What the encoder said.
        reason: String,
    },
    /// This end cannot send: it is the reading end of a one-way pipe.
    WrongDirection,
    /// The operating system refused the write.
    Io(io::Error),
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Closed => {
                write!(f, "the peer closed the connection (at a message boundary)")
            }
            RecvError::Truncated { expected, received } => write!(
                f,
                "the connection ended inside a message: {received} of {expected} bytes arrived \
                 (did the sender die mid-message?)"
            ),
            RecvError::TooLarge { len, max } => write!(
                f,
                "a message of {len} bytes announced, over the maximum of {max} (garbage on the \
                 wire, or raise the receiver's maximum); nothing was allocated"
            ),
            RecvError::Decode { type_name, reason } => {
                write!(f, "the message does not decode as `{type_name}`: {reason}")
            }
            RecvError::Desynchronized => write!(
                f,
                "an earlier oversized message left the stream out of step; open a new connection"
            ),
            RecvError::WrongDirection => {
                write!(f, "cannot receive on the writing end of a one-way pipe")
            }
            RecvError::Io(e) => write!(f, "receiving failed: {e}"),
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => write!(f, "the peer closed the connection: nobody will read"),
            SendError::TooLarge { len, max } => write!(
                f,
                "the message is {len} bytes, over the maximum of {max}; nothing was sent"
            ),
            SendError::Encode { type_name, reason } => {
                write!(f, "a `{type_name}` could not be encoded: {reason}")
            }
            SendError::WrongDirection => {
                write!(f, "cannot send on the reading end of a one-way pipe")
            }
            SendError::Io(e) => write!(f, "sending failed: {e}"),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for RecvError {
    fn from(e: io::Error) -> Self {
        RecvError::Io(e)
    }
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => SendError::Closed,
            _ => SendError::Io(e),
        }
    }
}

impl From<RecvError> for io::Error {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Io(e) => e,
            RecvError::Closed | RecvError::Truncated { .. } => {
                io::Error::new(io::ErrorKind::UnexpectedEof, e)
            }
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

impl From<SendError> for io::Error {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Io(e) => e,
            SendError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, e),
            other => io::Error::new(io::ErrorKind::InvalidInput, other),
        }
    }
}

/// Encodes `value` as a message payload.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, SendError> {
    postcard::to_allocvec(value).map_err(|e| SendError::Encode {
        type_name: std::any::type_name::<T>(),
        reason: super::inherit::take_error().unwrap_or_else(|| e.to_string()),
    })
}

thread_local! {
    /// Buffers this thread kept between messages ([`buffer`] / [`recycle`]),
    /// so that a small message costs no allocation.
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// The largest buffer kept for reuse.
const KEEP_UP_TO: usize = 1 << 20;

/// An empty buffer, with the capacity of one used before if there is one.
pub(crate) fn buffer() -> Vec<u8> {
    SPARE
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `buf` for a later [`buffer`] of this thread (a few, not too large).
pub(crate) fn recycle(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > KEEP_UP_TO {
        return;
    }
    buf.clear();
    let _ = SPARE.try_with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < 2 {
            s.push(buf);
        }
    });
}

/// Encodes `value` at the end of `buf` (which keeps its capacity: no
/// reallocation as the message grows, once the buffer has served).
pub(crate) fn encode_into<T: Serialize + ?Sized>(
    value: &T,
    buf: Vec<u8>,
) -> Result<Vec<u8>, SendError> {
    postcard::to_extend(value, buf).map_err(|e| SendError::Encode {
        type_name: std::any::type_name::<T>(),
        reason: super::inherit::take_error().unwrap_or_else(|| e.to_string()),
    })
}

/// Decodes a whole message payload as a `T`; trailing bytes are an error.
pub(crate) fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, RecvError> {
    let error = |reason: String| RecvError::Decode {
        type_name: std::any::type_name::<T>(),
        reason,
    };
    match postcard::take_from_bytes(payload) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(error(format!(
            "{} trailing bytes after the value",
            rest.len()
        ))),
        Err(e) => Err(error(
            super::inherit::take_error().unwrap_or_else(|| e.to_string()),
        )),
    }
}

/// Checks a message length against a maximum.
pub(crate) fn check_len(len: usize, max: usize) -> Result<(), SendError> {
    if len > max.min(MAX_FRAME_LEN) {
        return Err(SendError::TooLarge {
            len: len as u64,
            max,
        });
    }
    Ok(())
}

/// Writes one frame (header and payload, in as few `writev` calls as the
/// kernel allows), retrying partial writes and `EINTR`.
pub(crate) fn write_frame<W: Write>(w: W, payload: &[u8], max: usize) -> Result<(), SendError> {
    write_frames(w, &[payload], max)
}

/// The most frames given to one `writev` (two slices each; Linux takes at
/// most 1024 slices per call).
const FRAMES_PER_WRITE: usize = 256;

/// Writes several frames back to back, in one `writev` when the kernel
/// takes them all (a batch of small frames costs one system call, not one
/// each), retrying partial writes and `EINTR`. Every length is checked
/// first: an oversized payload fails the call before a byte is written.
pub(crate) fn write_frames<W: Write>(
    mut w: W,
    payloads: &[&[u8]],
    max: usize,
) -> Result<(), SendError> {
    for payload in payloads {
        check_len(payload.len(), max)?;
    }
    for batch in payloads.chunks(FRAMES_PER_WRITE) {
        let headers: Vec<[u8; HEADER_LEN]> = batch
            .iter()
            .map(|p| (p.len() as u32).to_le_bytes())
            .collect();
        let mut slices: Vec<IoSlice<'_>> = headers
            .iter()
            .zip(batch)
            .flat_map(|(h, p)| [IoSlice::new(h), IoSlice::new(p)])
            .collect();
        let mut slices = &mut slices[..];
        IoSlice::advance_slices(&mut slices, 0); // drops leading empty slices
        while !slices.is_empty() {
            match w.write_vectored(slices) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => IoSlice::advance_slices(&mut slices, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Reads one frame's payload; see the module docs for what each end of
/// input means.
pub(crate) fn read_frame<R: Read>(r: R, max: usize) -> Result<Vec<u8>, RecvError> {
    // `read_to_end` retries EINTR and grows the buffer only as bytes arrive.
    read_frame_with(r, max, |r, payload, len| {
        r.take(len).read_to_end(payload).map(drop)
    })
}

/// Reads the header, checks the length, then has `read_payload` append the
/// payload's bytes (up to `len`, fewer only at the end of input).
fn read_frame_with<R: Read>(
    mut r: R,
    max: usize,
    read_payload: impl FnOnce(&mut R, &mut Vec<u8>, u64) -> io::Result<()>,
) -> Result<Vec<u8>, RecvError> {
    let mut header = [0u8; HEADER_LEN];
    let got = read_full(&mut r, &mut header)?;
    if got == 0 {
        return Err(RecvError::Closed);
    }
    if got < HEADER_LEN {
        return Err(RecvError::Truncated {
            expected: HEADER_LEN as u64,
            received: got as u64,
        });
    }
    let len = u64::from(u32::from_le_bytes(header));
    if len > max as u64 {
        return Err(RecvError::TooLarge { len, max });
    }
    let mut payload = Vec::with_capacity(len.min(READ_AHEAD) as usize);
    read_payload(&mut r, &mut payload, len)?;
    if (payload.len() as u64) < len {
        return Err(RecvError::Truncated {
            expected: HEADER_LEN as u64 + len,
            received: (HEADER_LEN + payload.len()) as u64,
        });
    }
    Ok(payload)
}

/// The size of a [`FrameReader`]'s buffer: the most one `read` asks for.
/// Frames up to this size (header included) are gathered there; longer ones
/// are read straight into their own buffer.
const READ_BUF: usize = 16 << 10;

/// Frames from a descriptor, read ahead: one `read` takes the header, as
/// much of the payload as has arrived, and of the frames after it; the
/// bytes past the frame returned stay here for the next
/// [`read_frame`](FrameReader::read_frame). A burst of small frames costs one
/// system call, not two per frame.
///
/// A frame longer than the buffer is read straight into the message's own
/// buffer after its buffered prefix, with no zero-filling first and, on a
/// socket, each call waiting for the whole rest (`MSG_WAITALL`).
///
/// Whoever waits for the descriptor to be readable must first ask
/// [`has_frame`](FrameReader::has_frame): a frame already read ahead leaves
/// nothing in the kernel, so `poll` would sleep while a message is waiting.
#[derive(Default)]
pub(crate) struct FrameReader {
    /// Allocated at the first read (empty until then).
    buf: Box<[u8]>,
    /// `buf[start..end]`: bytes read and not yet returned.
    start: usize,
    end: usize,
}

impl FrameReader {
    /// Bytes read from the descriptor and not yet returned as frames.
    pub(crate) fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// True if the next [`read_frame`](Self::read_frame) returns without a
    /// system call: a whole frame is buffered, or a header announcing more
    /// than `max` (which is refused at once).
    pub(crate) fn has_frame(&self, max: usize) -> bool {
        let bytes = &self.buf[self.start..self.end];
        match bytes.first_chunk::<HEADER_LEN>() {
            None => false,
            Some(header) => {
                let len = u64::from(u32::from_le_bytes(*header));
                len > max as u64 || (bytes.len() - HEADER_LEN) as u64 >= len
            }
        }
    }

    /// Reads one frame's payload from `r` (a `socket` waits for a long
    /// payload's rest in one call); see the module docs for what each end of
    /// input means. After a `TooLarge` the reader is out of step, as the
    /// stream is: the caller must not read again.
    pub(crate) fn read_frame<R: Read + AsFd>(
        &mut self,
        mut r: R,
        max: usize,
        socket: bool,
    ) -> Result<Vec<u8>, RecvError> {
        while self.buffered() < HEADER_LEN {
            if self.fill(&mut r)? == 0 {
                let got = self.buffered() as u64;
                self.consume(self.buffered());
                return Err(if got == 0 {
                    RecvError::Closed
                } else {
                    RecvError::Truncated {
                        expected: HEADER_LEN as u64,
                        received: got,
                    }
                });
            }
        }
        let header = self.buf[self.start..]
            .first_chunk::<HEADER_LEN>()
            .expect("buffered");
        let len = u64::from(u32::from_le_bytes(*header));
        if len > max as u64 {
            return Err(RecvError::TooLarge { len, max });
        }
        let len = len as usize;
        let truncated = |received: usize| RecvError::Truncated {
            expected: (HEADER_LEN + len) as u64,
            received: received as u64,
        };
        if HEADER_LEN + len <= READ_BUF {
            // A small frame: gather it here (with whatever follows it).
            while self.buffered() < HEADER_LEN + len {
                if self.fill(&mut r)? == 0 {
                    let got = self.buffered();
                    self.consume(got);
                    return Err(truncated(got));
                }
            }
            let body = self.start + HEADER_LEN;
            let payload = self.buf[body..body + len].to_vec();
            self.consume(HEADER_LEN + len);
            return Ok(payload);
        }
        // A long frame: its buffered prefix, then the rest read in place.
        let mut payload = Vec::with_capacity((len as u64).min(READ_AHEAD) as usize);
        payload.extend_from_slice(&self.buf[self.start + HEADER_LEN..self.end]);
        self.consume(self.buffered());
        read_fd_to_end(r.as_fd(), &mut payload, len as u64, socket)?;
        if payload.len() < len {
            return Err(truncated(HEADER_LEN + payload.len()));
        }
        Ok(payload)
    }

    /// Allocates the buffer at first use and moves the unread bytes to its
    /// front.
    fn make_room(&mut self) {
        if self.buf.is_empty() {
            self.buf = vec![0; READ_BUF].into_boxed_slice();
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// One `recv(MSG_DONTWAIT)` from the socket `fd` into the free end of
    /// the buffer: true if it read bytes or found the end of input (the
    /// next [`read_frame`](Self::read_frame) sees it), false if nothing has
    /// arrived (or the call failed: the blocking read reports it).
    pub(crate) fn try_fill(&mut self, fd: BorrowedFd<'_>) -> bool {
        self.make_room();
        let room = self.buf.len() - self.end;
        if room == 0 {
            return true;
        }
        let spare = self.buf[self.end..].as_mut_ptr().cast();
        // SAFETY: `spare` points at the `room` bytes of `buf` past `end`;
        // `recv` writes at most `room` bytes there.
        let n = unsafe { libc::recv(fd.as_raw_fd(), spare, room, libc::MSG_DONTWAIT) };
        match n {
            0 => true,
            n if n > 0 => {
                self.end += n as usize;
                true
            }
            _ => false,
        }
    }

    /// One `read` into the free end of the buffer (the unread bytes moved to
    /// its front first); returns the bytes read, 0 at the end of input.
    /// Retries `EINTR`.
    fn fill<R: Read>(&mut self, r: &mut R) -> io::Result<usize> {
        self.make_room();
        loop {
            match r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Drops the first `n` buffered bytes.
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

/// Appends bytes read from `fd` to `buf` until it holds `len` bytes or the
/// input ends, growing it by at most [`READ_AHEAD`] ahead of what arrived.
/// Retries `EINTR`.
fn read_fd_to_end(
    fd: BorrowedFd<'_>,
    buf: &mut Vec<u8>,
    len: u64,
    mut socket: bool,
) -> io::Result<()> {
    while (buf.len() as u64) < len {
        let want = (len - buf.len() as u64).min(READ_AHEAD) as usize;
        if buf.capacity() == buf.len() {
            buf.reserve_exact(want);
        }
        let room = (buf.capacity() - buf.len()).min(want);
        let spare = buf.spare_capacity_mut().as_mut_ptr().cast();
        // SAFETY: the spare capacity is `room` writable bytes owned by `buf`;
        // `recv` and `read` write at most `room` bytes there.
        let n = unsafe {
            if socket {
                libc::recv(fd.as_raw_fd(), spare, room, libc::MSG_WAITALL)
            } else {
                libc::read(fd.as_raw_fd(), spare, room)
            }
        };
        match n {
            0 => break,
            n if n > 0 => {
                // SAFETY: the kernel initialised the first `n <= room` spare
                // bytes.
                unsafe { buf.set_len(buf.len() + n as usize) };
            }
            _ => {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::ENOTSOCK) {
                    socket = false;
                } else if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, payload, DEFAULT_MAX_MESSAGE_LEN).unwrap();
        out
    }

    #[test]
    fn boundaries_are_kept_empty_frames_too() {
        let mut wire = framed(b"");
        wire.extend(framed(b"ab"));
        wire.extend(framed(b""));
        let mut r = &wire[..];
        assert_eq!(read_frame(&mut r, 16).unwrap(), b"");
        assert_eq!(read_frame(&mut r, 16).unwrap(), b"ab");
        assert_eq!(read_frame(&mut r, 16).unwrap(), b"");
        assert!(matches!(read_frame(&mut r, 16), Err(RecvError::Closed)));
    }

    #[test]
    fn a_descriptor_reads_whole_frames_and_reports_truncation() {
        use std::os::unix::net::UnixStream;
        let (a, b) = UnixStream::pair().unwrap();
        let big = vec![9u8; 3 << 20];
        let writer = std::thread::spawn(move || {
            write_frame(&a, &big, DEFAULT_MAX_MESSAGE_LEN).unwrap();
            write_frame(&a, b"", DEFAULT_MAX_MESSAGE_LEN).unwrap();
            (&a).write_all(&100u32.to_le_bytes()).unwrap();
            (&a).write_all(b"short").unwrap();
        });
        let mut reader = FrameReader::default();
        let got = reader
            .read_frame(&b, DEFAULT_MAX_MESSAGE_LEN, true)
            .unwrap();
        assert!(got.len() == 3 << 20 && got.iter().all(|&x| x == 9));
        assert_eq!(
            reader
                .read_frame(&b, DEFAULT_MAX_MESSAGE_LEN, true)
                .unwrap(),
            b""
        );
        writer.join().unwrap();
        assert!(matches!(
            reader.read_frame(&b, DEFAULT_MAX_MESSAGE_LEN, true),
            Err(RecvError::Truncated {
                expected: 104,
                received: 9
            })
        ));
        assert!(matches!(
            reader.read_frame(&b, DEFAULT_MAX_MESSAGE_LEN, true),
            Err(RecvError::Closed)
        ));
    }

    /// A descriptor that counts the `read`s made on it.
    struct Counted<'a>(&'a std::os::unix::net::UnixStream, usize);

    impl Read for Counted<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 += 1;
            (&mut &*self.0).read(buf)
        }
    }

    impl AsFd for Counted<'_> {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0.as_fd()
        }
    }

    #[test]
    fn a_burst_of_small_frames_costs_one_read() {
        use std::os::unix::net::UnixStream;
        let (a, b) = UnixStream::pair().unwrap();
        let frames: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; i as usize * 7]).collect();
        let slices: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        write_frames(&a, &slices, DEFAULT_MAX_MESSAGE_LEN).unwrap();
        let mut reader = FrameReader::default();
        let mut counted = Counted(&b, 0);
        assert!(!reader.has_frame(DEFAULT_MAX_MESSAGE_LEN));
        for frame in &frames {
            let got = reader.read_frame(&mut counted, DEFAULT_MAX_MESSAGE_LEN, true);
            assert_eq!(&got.unwrap(), frame);
        }
        assert_eq!(counted.1, 1, "50 frames written at once are read at once");
        assert_eq!(reader.buffered(), 0);
        assert!(!reader.has_frame(DEFAULT_MAX_MESSAGE_LEN));
    }

    #[test]
    fn leftover_bytes_wait_for_the_next_read_and_are_seen_by_has_frame() {
        use std::os::unix::net::UnixStream;
        let (a, b) = UnixStream::pair().unwrap();
        let long = vec![5u8; READ_BUF * 3];
        write_frames(&a, &[&b"one"[..], b"two", &long], DEFAULT_MAX_MESSAGE_LEN).unwrap();
        // Half of a fourth frame: buffered, but not whole.
        (&a).write_all(&10u32.to_le_bytes()).unwrap();
        (&a).write_all(b"hal").unwrap();
        let mut reader = FrameReader::default();
        assert_eq!(reader.read_frame(&b, 1 << 20, true).unwrap(), b"one");
        assert!(reader.has_frame(1 << 20), "`two` is buffered");
        assert!(reader.buffered() > 4);
        assert_eq!(reader.read_frame(&b, 1 << 20, true).unwrap(), b"two");
        // The long frame: its buffered prefix, then the rest in place.
        assert_eq!(reader.read_frame(&b, 1 << 20, true).unwrap(), long);
        assert!(!reader.has_frame(1 << 20), "three bytes of ten");
        (&a).write_all(b"f-frame").unwrap();
        assert_eq!(reader.read_frame(&b, 1 << 20, true).unwrap(), b"half-frame");
        // A header announcing more than the maximum counts as ready: the
        // read refuses it without a system call.
        let mut wire = framed(b"x");
        wire.extend((2u32 << 20).to_le_bytes());
        (&a).write_all(&wire).unwrap();
        assert_eq!(reader.read_frame(&b, 1 << 20, true).unwrap(), b"x");
        assert!(reader.has_frame(1 << 20));
        let mut counted = Counted(&b, 0);
        assert!(matches!(
            reader.read_frame(&mut counted, 1 << 20, true),
            Err(RecvError::TooLarge { len, max: 1_048_576 }) if len == 2 << 20
        ));
        assert_eq!(counted.1, 0);
        drop(a);
    }

    #[test]
    fn eof_inside_a_frame_is_truncated_not_closed() {
        let wire = framed(b"hello");
        for cut in 1..wire.len() {
            let err = read_frame(&wire[..cut], 16).unwrap_err();
            assert!(
                matches!(err, RecvError::Truncated { .. }),
                "cut at {cut}: {err}"
            );
        }
    }

    #[test]
    fn oversized_lengths_are_refused_on_both_sides() {
        let wire = framed(&[7; 100]);
        assert!(matches!(
            read_frame(&wire[..], 99),
            Err(RecvError::TooLarge { len: 100, max: 99 })
        ));
        let mut out = Vec::new();
        assert!(matches!(
            write_frame(&mut out, &[7; 100], 99),
            Err(SendError::TooLarge { .. })
        ));
        assert!(out.is_empty(), "nothing is written for a refused message");
    }

    #[test]
    fn decode_refuses_trailing_bytes_and_wrong_types() {
        let bytes = encode(&(1u8, 2u8)).unwrap();
        assert_eq!(decode::<(u8, u8)>(&bytes).unwrap(), (1, 2));
        assert!(matches!(
            decode::<u8>(&bytes),
            Err(RecvError::Decode { .. })
        ));
        assert!(matches!(
            decode::<String>(&[200, 1]),
            Err(RecvError::Decode { .. })
        ));
    }
}
