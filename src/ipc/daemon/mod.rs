//! Daemon children: Python's `Process(daemon=True)`, whose child ends when
//! its parent does, also when the parent is killed with `SIGKILL` (Python
//! only terminates its daemons from an `atexit` handler, which a `SIGKILL`
//! never runs).
//!
//! One seam, a file per mechanism, chosen by the [`Backend`](super::Backend)
//! of the parent (so that the Linux CI tests both):
//!
//! | | [`Backend::Linux`](super::Backend::Linux) (`linux.rs`) | [`Backend::Posix`](super::Backend::Posix) (`posix.rs`) |
//! |---|---|---|
//! | how | `prctl(PR_SET_PDEATHSIG, SIGKILL)` between `fork` and `exec` | the read end of a pipe whose only write end the parent holds; a thread of the child waits for its end of file |
//! | parent exits or is killed | the kernel sends the child `SIGKILL` | the kernel closes the write end: the child's thread sees the end of file and kills its own process |
//! | catch | the signal follows the parent *thread* that forked: children are forked by one thread that lives as long as the process | one thread per daemon child |
//!
//! In the child, [`init`](super::init) calls [`watch`] with what the parent
//! put in the environment; [`is_daemon`] then answers `true`, and
//! [`Process::spawn`](super::Process::spawn) refuses to start children
//! (Python: `AssertionError: daemonic processes are not allowed to have
//! children`).

use std::io;
use std::os::fd::RawFd;
use std::process::{Child, Command};
use std::sync::atomic::AtomicBool;
// Relaxed: a flag set once by `init` before the program runs anything else.
use std::sync::atomic::Ordering::Relaxed;

use super::Backend;

#[cfg(target_os = "linux")]
mod linux;
mod posix;

/// The environment variable telling a child it is a daemon, and how:
/// `pdeathsig`, or `pipe:N` (N: the watched descriptor).
pub(super) const DAEMON_VAR: &str = "SYNCLINGS_IPC_DAEMON";

/// Set in a daemon child by [`watch`].
static IS_DAEMON: AtomicBool = AtomicBool::new(false);

/// True in a process started with [`Builder::daemon(true)`](super::process::Builder::daemon)
/// (Python's `current_process().daemon`).
pub fn is_daemon() -> bool {
    IS_DAEMON.load(Relaxed)
}

/// Makes `command` start a daemon child with the mechanism of `backend`:
/// the environment marker and what must happen between `fork` and `exec`.
/// Returns a descriptor the child must keep open, if the mechanism has one.
pub(super) fn prepare(backend: Backend, command: &mut Command) -> io::Result<Option<RawFd>> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::Linux => linux::prepare(command).map(|()| None),
        _ => posix::prepare(command).map(Some),
    }
}

/// Starts a `command` made ready by [`prepare`] with the same `backend`.
pub(super) fn spawn(backend: Backend, command: Command) -> io::Result<Child> {
    match backend {
        #[cfg(target_os = "linux")]
        Backend::Linux => linux::spawn(command),
        _ => {
            let mut command = command;
            command.spawn()
        }
    }
}

/// In a child, before its entry runs: if the parent made it a daemon (the
/// value of [`DAEMON_VAR`]), arranges for it to end with the parent.
pub(super) fn watch(how: &str) -> Result<(), String> {
    IS_DAEMON.store(true, Relaxed);
    if how == "pdeathsig" {
        return Ok(());
    }
    let fd = how
        .strip_prefix("pipe:")
        .and_then(|n| n.parse::<RawFd>().ok())
        .ok_or_else(|| format!("{DAEMON_VAR}={how} is neither `pdeathsig` nor `pipe:N`"))?;
    posix::watch(fd)
}
