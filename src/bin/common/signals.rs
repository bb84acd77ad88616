//! Ctrl-C (and SIGTERM on Unix) turned into a [`Shutdown`] request, for
//! `echo-server` (included with `#[path]`): the first one requests a
//! graceful shutdown, the second exits at once. One path per platform,
//! both in this file.

use std::io;

use synclings::net::Shutdown;

/// What the first stop signal prints before the shutdown.
fn first(name: &str, shutdown: &Shutdown) {
    eprintln!("echo-server: {name}: shutting down (again to exit at once)");
    shutdown.request();
}

/// What the second prints before exiting.
fn again(name: &str) -> ! {
    eprintln!("echo-server: {name} again: exiting now");
    std::process::exit(130);
}

#[cfg(unix)]
pub use self::unix::forward_to;
#[cfg(windows)]
pub use self::windows::forward_to;

/// Unix: a thread waits for SIGINT and SIGTERM with `sigwait`, so no code
/// runs in a signal handler.
#[cfg(unix)]
mod unix {
    use super::*;
    use std::mem::MaybeUninit;

    /// The signals that stop the server.
    const STOP: [libc::c_int; 2] = [libc::SIGINT, libc::SIGTERM];

    /// Blocks SIGINT and SIGTERM in the calling thread (and so in every
    /// thread it starts later) and starts a thread that requests `shutdown`
    /// on the first one and exits the process on the second. Call it before
    /// starting any thread.
    pub fn forward_to(shutdown: Shutdown) -> io::Result<()> {
        let set = stop_set();
        // SAFETY: `set` is an initialised sigset; the old mask is not wanted.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        std::thread::Builder::new()
            .name("signals".to_owned())
            .spawn(move || {
                let mut received = 0;
                loop {
                    let mut signal: libc::c_int = 0;
                    // SAFETY: `set` is an initialised sigset and `signal` a
                    // valid place for the result.
                    if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                        continue;
                    }
                    let name = if signal == libc::SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    received += 1;
                    if received == 1 {
                        first(name, &shutdown);
                    } else {
                        again(name);
                    }
                }
            })?;
        Ok(())
    }

    fn stop_set() -> libc::sigset_t {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given; sigaddset
        // then only adds valid signal numbers to the initialised set.
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            for signal in STOP {
                libc::sigaddset(set.as_mut_ptr(), signal);
            }
            set.assume_init()
        }
    }
}

/// Windows: a console control handler, which the system runs on a thread of
/// its own for Ctrl-C, Ctrl-Break and closing the console window.
#[cfg(windows)]
mod windows {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::OnceLock;

    /// The shutdown the handler requests (the handler takes no argument).
    static SHUTDOWN: OnceLock<Shutdown> = OnceLock::new();
    /// How many control events arrived.
    static RECEIVED: AtomicUsize = AtomicUsize::new(0);

    #[link(name = "kernel32")]
    extern "system" {
        /// `BOOL SetConsoleCtrlHandler(PHANDLER_ROUTINE, BOOL add)`.
        fn SetConsoleCtrlHandler(
            handler: Option<unsafe extern "system" fn(u32) -> i32>,
            add: i32,
        ) -> i32;
    }

    /// The handler: returns TRUE (handled) so that the process is not ended
    /// by the default handler, except on the second event.
    unsafe extern "system" fn on_control(_event: u32) -> i32 {
        if RECEIVED.fetch_add(1, SeqCst) == 0 {
            if let Some(shutdown) = SHUTDOWN.get() {
                first("Ctrl-C", shutdown);
            }
        } else {
            again("Ctrl-C");
        }
        1
    }

    /// Installs the handler: the first Ctrl-C requests `shutdown`, the
    /// second exits the process.
    pub fn forward_to(shutdown: Shutdown) -> io::Result<()> {
        if SHUTDOWN.set(shutdown).is_err() {
            return Err(io::Error::other("the Ctrl-C handler is installed already"));
        }
        // SAFETY: `on_control` has the signature the system calls, and stays
        // valid for the whole run (it is a function).
        if unsafe { SetConsoleCtrlHandler(Some(on_control), 1) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
