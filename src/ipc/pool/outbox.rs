//! The dispatcher's end of a worker's chunk pipe: a non-blocking pipe with
//! a queue in front of it, so that sending never blocks the dispatcher.
//!
//! A blocking write could deadlock: the dispatcher stuck writing chunks to
//! a worker whose pipe is full, the worker stuck writing a reply that the
//! dispatcher is not there to read. Pipes are small (16 KiB by default on
//! macOS and the BSDs, 64 KiB on Linux, less when a user has many), so
//! instead the frames go into a queue, the pipe takes what it can, and the
//! dispatcher polls the pipe for room while some are left.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use crate::ipc::frame::{self, SendError, DEFAULT_MAX_MESSAGE_LEN};
use crate::ipc::set_nonblocking;

pub(super) struct Outbox {
    pipe: File,
    /// Frames (header and payload) the pipe has not taken yet, from `at`.
    unsent: Vec<u8>,
    at: usize,
}

impl Outbox {
    /// Makes `fd` (a pipe's write end) non-blocking and queues in front of it.
    pub(super) fn new(fd: OwnedFd) -> io::Result<Outbox> {
        set_nonblocking(fd.as_fd())?;
        Ok(Outbox {
            pipe: File::from(fd),
            unsent: Vec::new(),
            at: 0,
        })
    }

    /// Queues `payloads` as frames (the worker's connection reads them as
    /// messages) and writes what the pipe takes now. An error: a payload
    /// over the worker's maximum message length (nothing of the call is
    /// queued), or the pipe is broken (the worker is gone).
    pub(super) fn send(&mut self, payloads: &[&[u8]]) -> Result<(), SendError> {
        let before = self.unsent.len();
        if let Err(e) = frame::write_frames(&mut self.unsent, payloads, DEFAULT_MAX_MESSAGE_LEN) {
            self.unsent.truncate(before);
            return Err(e);
        }
        Ok(self.flush()?)
    }

    /// Writes what the pipe takes of the queue; `Ok` also when some is left
    /// ([`is_empty`](Self::is_empty) says).
    pub(super) fn flush(&mut self) -> io::Result<()> {
        while self.at < self.unsent.len() {
            match (&self.pipe).write(&self.unsent[self.at..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.at += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.unsent.clear();
        self.at = 0;
        Ok(())
    }

    /// Nothing is waiting for room in the pipe.
    pub(super) fn is_empty(&self) -> bool {
        self.at == self.unsent.len()
    }

    /// The pipe, to poll for room.
    pub(super) fn fd(&self) -> RawFd {
        self.pipe.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::{pipe, Connection};
    use std::time::{Duration, Instant};

    fn pair() -> (Connection, Outbox) {
        let (reader, writer) = pipe(false).unwrap();
        (
            reader,
            Outbox::new(writer.into_sending_fd().unwrap()).unwrap(),
        )
    }

    #[test]
    fn more_than_a_pipe_holds_is_queued_not_blocked_on() {
        let (mut reader, mut out) = pair();
        // 4 MiB: far over any pipe's buffer. `send` returns at once.
        let big = vec![7u8; 4 << 20];
        out.send(&[&big, b"after"]).unwrap();
        assert!(!out.is_empty(), "the pipe cannot have taken it all");
        // Drain on another thread while this one flushes when there is room.
        let drain = std::thread::spawn(move || {
            let first = reader.recv_bytes().unwrap();
            let second = reader.recv_bytes().unwrap();
            (first.len(), second)
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !out.is_empty() {
            assert!(Instant::now() < deadline, "the queue never drained");
            let mut fds = [libc::pollfd {
                fd: out.fd(),
                events: libc::POLLOUT,
                revents: 0,
            }];
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(fds.as_mut_ptr(), 1, 1000) };
            out.flush().unwrap();
        }
        let (len, second) = drain.join().unwrap();
        assert_eq!(len, big.len());
        assert_eq!(second, b"after");
    }

    #[test]
    fn an_oversized_payload_queues_nothing_and_a_gone_reader_is_an_error() {
        let (reader, mut out) = pair();
        let huge = vec![0u8; DEFAULT_MAX_MESSAGE_LEN + 1];
        assert!(matches!(
            out.send(&[b"fits", &huge]),
            Err(SendError::TooLarge { .. })
        ));
        assert!(out.is_empty(), "not even the payload that fits");
        drop(reader);
        assert!(out.send(&[b"x"]).is_err(), "EPIPE, not a hang");
    }

    #[test]
    fn only_a_sending_end_gives_up_its_descriptor() {
        let (reader, writer) = pipe(false).unwrap();
        assert!(
            reader.into_sending_fd().is_none(),
            "it may hold read-ahead bytes"
        );
        assert!(writer.into_sending_fd().is_some());
        let (duplex, _) = pipe(true).unwrap();
        assert!(duplex.into_sending_fd().is_none());
    }
}
