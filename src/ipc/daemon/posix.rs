//! Daemon children everywhere (and on Linux with the POSIX backend): a pipe.
//!
//! The parent makes one pipe for all its daemon children and keeps its
//! write end for its whole life (close-on-exec, so no child inherits it);
//! each daemon child inherits the read end. When the parent process ends, by
//! any means, the kernel closes its descriptors: the write end had no other
//! copy, so each child's read sees the end of file, and the thread waiting
//! in it kills its process with `SIGKILL`.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::sync::OnceLock;

use super::DAEMON_VAR;

/// This process's daemon pipe: (read end, write end), both kept open for
/// the life of the process.
static PIPE: OnceLock<(OwnedFd, OwnedFd)> = OnceLock::new();

/// Sets the marker; returns the read end the child must keep.
pub(super) fn prepare(command: &mut Command) -> io::Result<RawFd> {
    let (reader, _writer) = match PIPE.get() {
        Some(pipe) => pipe,
        None => {
            let (reader, writer) = std::io::pipe()?;
            // A race between two first spawns loses one pipe: harmless.
            let _ = PIPE.set((OwnedFd::from(reader), OwnedFd::from(writer)));
            PIPE.get().expect("just set")
        }
    };
    let fd = reader.as_raw_fd();
    command.env(DAEMON_VAR, format!("pipe:{fd}"));
    Ok(fd)
}

/// In the child: takes the inherited read end `fd` and starts the thread
/// that ends this process when the parent's write end closes.
pub(super) fn watch(fd: RawFd) -> Result<(), String> {
    // SAFETY: checking whether a number is an open descriptor is harmless.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(format!("daemon pipe descriptor {fd} is not open"));
    }
    // SAFETY: the parent passed this descriptor for this purpose alone; it
    // was just checked to be open, and nothing else in this process owns it.
    let reader = unsafe { OwnedFd::from_raw_fd(fd) };
    super::super::inherit::set_cloexec(std::os::fd::AsFd::as_fd(&reader))
        .map_err(|e| e.to_string())?;
    let mut reader = std::fs::File::from(reader);
    std::thread::Builder::new()
        .name("synclings-daemon-watch".into())
        .spawn(move || {
            let mut byte = [0u8; 1];
            // Nobody writes: this returns at the end of file (the parent is
            // gone), or on an error, which can only mean the same.
            loop {
                match reader.read(&mut byte) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    _ => break,
                }
            }
            // SAFETY: signalling our own process.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        })
        .map(drop)
        .map_err(|e| format!("cannot start the daemon watch thread: {e}"))
}
