//! Daemon children on Linux: `PR_SET_PDEATHSIG`.
//!
//! The kernel sends the child `SIGKILL` when the thread that forked it ends,
//! not when the process does: a daemon started from a short-lived thread
//! would die with that thread. So every daemon child is forked by one
//! thread that lives as long as the process (the *spawner*), which is sent
//! the `Command` and hands back the `Child`.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock};

use super::DAEMON_VAR;

/// A request to the spawner: the command and where to send the child.
type Request = (Command, Sender<io::Result<Child>>);

/// The spawner's queue, started on first use.
static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();

/// Sets the marker and the `prctl` to run between `fork` and `exec`.
pub(super) fn prepare(command: &mut Command) -> io::Result<()> {
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    command.env(DAEMON_VAR, "pdeathsig");
    // SAFETY: runs between fork and exec: prctl, getppid and _exit are
    // async-signal-safe system calls on values computed before the fork.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before the prctl: then nobody will
            // send the signal, so end now, as it would have.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    Ok(())
}

/// Forks `command` on the spawner thread.
pub(super) fn spawn(command: Command) -> io::Result<Child> {
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("synclings-daemon-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("start the daemon spawner thread");
        Mutex::new(tx)
    });
    let (reply, answer) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send((command, reply))
        .map_err(|_| io::Error::other("the daemon spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the daemon spawner thread is gone"))?
}
