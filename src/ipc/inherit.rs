//! Passing descriptors to a child as part of its serde arguments.
//!
//! Python pickles a `Connection` for a spawned child by duplicating its
//! handle into the child. Here a handle type serializes its descriptors with
//! [`fd`] (`#[serde(with = "inherit::fd")]`):
//!
//! - in the parent, [`Process::spawn`](super::Process::spawn) serializes the
//!   arguments inside [`collect`]: each descriptor's number is written into the
//!   arguments and recorded; the child keeps exactly the recorded descriptors
//!   across `exec` (their close-on-exec flag is cleared after `fork`, in the
//!   child only) at the same numbers;
//! - in the child, [`receive`] takes ownership of those numbers (close-on-exec
//!   again), deserializing a handle takes a duplicate of its descriptor, and
//!   [`finish`] closes the originals.
//!
//! Serializing a handle anywhere else (into a `Connection::send`, say) is an
//! error: a descriptor number means nothing in another process unless it is
//! passed this way.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

thread_local! {
    /// The descriptors recorded by the `collect` running on this thread.
    static OUTGOING: RefCell<Option<Vec<RawFd>>> = const { RefCell::new(None) };
    /// Why the last handle on this thread failed to (de)serialize: postcard
    /// keeps only "custom error", this keeps the words.
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records `message` as the reason of a failing (de)serialization, and
/// returns it for the serde error.
pub(crate) fn fail(message: String) -> String {
    LAST_ERROR.with(|e| e.replace(Some(message.clone())));
    message
}

/// The reason recorded by the last failing handle (de)serialization on this
/// thread, if any.
pub(crate) fn take_error() -> Option<String> {
    LAST_ERROR.with(|e| e.take())
}

/// The descriptors this child received, by number, until `finish`.
static INCOMING: Mutex<Option<HashMap<RawFd, OwnedFd>>> = Mutex::new(None);

/// Runs `serialize` while recording the descriptors it serializes; returns
/// its result and the recorded descriptors, sorted and without duplicates.
pub(crate) fn collect<T>(serialize: impl FnOnce() -> T) -> (T, Vec<RawFd>) {
    let previous = OUTGOING.with(|o| o.replace(Some(Vec::new())));
    let result = serialize();
    let mut fds = OUTGOING.with(|o| o.replace(previous)).unwrap_or_default();
    fds.sort_unstable();
    fds.dedup();
    (result, fds)
}

/// Takes ownership of the descriptors the parent passed (child side, once,
/// before the arguments are deserialized).
///
/// # Safety
///
/// Every number in `fds` must be a descriptor that the parent left open for
/// this process and that nothing else in it owns.
pub(crate) unsafe fn receive(fds: &[RawFd]) -> io::Result<()> {
    let mut owned = HashMap::with_capacity(fds.len());
    for &fd in fds {
        // SAFETY: querying flags of any number is harmless; it fails with
        // EBADF if the descriptor is not open.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("descriptor {fd} announced by the parent is not open in the child"),
            ));
        }
        // SAFETY: the caller guarantees the number is ours to own; it was
        // just checked to be open.
        let fd_owned = unsafe { OwnedFd::from_raw_fd(fd) };
        set_cloexec(fd_owned.as_fd())?;
        owned.insert(fd, fd_owned);
    }
    *INCOMING.lock().unwrap_or_else(|e| e.into_inner()) = Some(owned);
    Ok(())
}

/// Closes the received descriptors (their handles hold duplicates).
pub(crate) fn finish() {
    INCOMING.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// Sets the close-on-exec flag of `fd`.
pub(crate) fn set_cloexec(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: F_SETFD on a descriptor we borrow changes only its flags.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `#[serde(with = "inherit::fd")]` for a field holding a descriptor
/// (`OwnedFd`, `File`, `UnixStream`, …): see the module docs.
pub(crate) mod fd {
    use super::*;
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<F: AsFd, S: Serializer>(f: &F, s: S) -> Result<S::Ok, S::Error> {
        let raw = f.as_fd().as_raw_fd();
        let recorded = OUTGOING.with(|o| match o.borrow_mut().as_mut() {
            Some(fds) => {
                fds.push(raw);
                true
            }
            None => false,
        });
        if !recorded {
            return Err(S::Error::custom(fail(
                "a descriptor (Connection, Queue, Lock, …) can only be passed to a child \
                 as an argument of Process::spawn"
                    .to_string(),
            )));
        }
        raw.serialize(s)
    }

    pub(crate) fn deserialize<'de, F: From<OwnedFd>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<F, D::Error> {
        let raw = RawFd::deserialize(d)?;
        let incoming = INCOMING.lock().unwrap_or_else(|e| e.into_inner());
        let fd = incoming.as_ref().and_then(|m| m.get(&raw)).ok_or_else(|| {
            D::Error::custom(fail(format!(
                "descriptor {raw} was not passed to this process (handles only decode \
                 in a child started by Process::spawn)"
            )))
        })?;
        // A duplicate, so that the same handle may be decoded twice.
        let dup = fd
            .try_clone()
            .map_err(|e| D::Error::custom(fail(format!("dup({raw}): {e}"))))?;
        Ok(F::from(dup))
    }
}
