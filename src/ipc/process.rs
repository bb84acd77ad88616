//! Child processes: Python's `multiprocessing.Process` with the "spawn"
//! start method.
//!
//! | Python | synclings |
//! |---|---|
//! | `def task(conn): ...` at module level | `fn task(conn: Connection)`, listed in the binary's entry table with [`entry!`](crate::ipc::entry) |
//! | `if __name__ == '__main__':` | [`init(ENTRIES)`](init) first thing in `main`: in a child it runs the entry and exits |
//! | `p = Process(target=task, args=(conn,)); p.start()` | [`Process::spawn("task", &conn)`](Process::spawn) |
//! | `p.join()` / `p.join(timeout)` | [`Process::join`] / [`Process::join_timeout`] |
//! | `p.is_alive()` / `p.exitcode` / `p.pid` | [`Process::is_alive`] / [`Process::exit_code`] / [`Process::pid`] |
//! | `p.terminate()` / `p.kill()` | [`Process::terminate`] / [`Process::kill`] |
//! | `Process(target, daemon=True)` / `p.daemon` | [`Process::builder("task").daemon(true).spawn(&args)`](Builder::daemon) / [`Process::is_daemon`] |
//!
//! # How a child starts
//!
//! `fork` without `exec` is not safe in a multi-threaded program, so a child
//! is always a fresh run of the current executable (`std::env::current_exe`)
//! with two environment variables: the entry point's name and the number of a
//! status socket. [`init`] sees them, reads the arguments from the status
//! socket, runs the entry and exits; the child never reaches the rest of
//! `main`.
//!
//! The arguments are any serde value; handles ([`Connection`](super::Connection),
//! [`Queue`](super::Queue), …) inside them are passed as descriptors: exactly
//! those stay open across `exec`: after `fork`, in the child only, every
//! descriptor from 3 up is marked close-on-exec (`close_range`, which also
//! catches descriptors this process itself inherited without the flag), then
//! the flag is cleared on the passed ones (`fcntl`; both are
//! async-signal-safe system calls). Like Python's spawn, a child has stdin
//! on `/dev/null`, the parent's stdout and stderr, and nothing else.
//!
//! # What the parent learns
//!
//! [`ExitStatus`] tells how the child ended: its exit code, the signal that
//! killed it, and for a panic its message, sent over the status socket by a
//! panic hook before the child exits with [`EXIT_PANIC`]. Every child is
//! reaped: by `join`, or by `Drop`, which kills a child that was not joined
//! (Python leaves it running; here a forgotten child cannot outlive its
//! handle or become a zombie). A child whose parent dies keeps running until
//! it ends, as in Python, unless it was started as a daemon
//! ([`Builder::daemon`]): then it ends with its parent, even a parent killed
//! with `SIGKILL` (see the `daemon` module), and it may not start children.
//!
//! # Tests
//!
//! A test binary that starts children must call [`init`] before anything
//! else: use `harness = false` and a `main` that calls `init`, then runs the
//! tests with [`testing::run_tests`](crate::testing::run_tests) (see
//! `tests/ipc_process.rs`). Libtest's own `main` cannot call `init`.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::daemon::{self, DAEMON_VAR};
use super::frame::{self, RecvError};
use super::inherit;
use super::pipe::wait_fd;

/// The exit code of a child whose entry panicked (Rust's usual panic code).
pub const EXIT_PANIC: i32 = 101;

/// The exit code of a child that could not start its entry: unknown name,
/// arguments that do not decode as the entry's parameter, lost descriptors.
pub const EXIT_BOOT_FAILED: i32 = 102;

/// The environment variable naming the entry point a child runs.
const ENTRY_VAR: &str = "SYNCLINGS_IPC_ENTRY";
/// The environment variable giving the child's status socket descriptor.
const STATUS_VAR: &str = "SYNCLINGS_IPC_STATUS_FD";

/// The largest boot message (the arguments) and status message (a panic).
const MAX_BOOT_LEN: usize = frame::MAX_FRAME_LEN;

/// The entry table given to [`init`].
static ENTRIES: OnceLock<&'static [Entry]> = OnceLock::new();

/// A function another process can run, by name: a process entry point
/// (made with [`entry!`](crate::ipc::entry), started with [`Process::spawn`])
/// or a pool task (made with [`pool_task!`](crate::ipc::pool_task), run by
/// a [`Pool`](crate::ipc::Pool)'s workers). List it in the table given to
/// [`init`].
#[derive(Clone, Copy)]
pub struct Entry {
    name: &'static str,
    kind: EntryKind,
}

/// A process entry point's body: runs the child from its encoded argument.
pub(crate) type RunProcess = fn(&[u8]) -> Result<(), RecvError>;

/// What an [`Entry`] runs.
#[derive(Clone, Copy)]
pub(crate) enum EntryKind {
    /// A process's whole life, from its encoded argument.
    Process(RunProcess),
    /// A pool task: decodes a chunk of arguments, appends the encoded
    /// results (see `pool::worker`).
    Task(fn(&[u8], &mut Vec<u8>) -> Result<(), RecvError>),
}

impl Entry {
    /// Used by [`entry!`](crate::ipc::entry); not part of the API.
    #[doc(hidden)]
    pub const fn __new(name: &'static str, run: fn(&[u8]) -> Result<(), RecvError>) -> Entry {
        Entry {
            name,
            kind: EntryKind::Process(run),
        }
    }

    /// Used by [`pool_task!`](crate::ipc::pool_task); not part of the API.
    #[doc(hidden)]
    pub const fn __task(
        name: &'static str,
        run: fn(&[u8], &mut Vec<u8>) -> Result<(), RecvError>,
    ) -> Entry {
        Entry {
            name,
            kind: EntryKind::Task(run),
        }
    }

    /// The name a parent passes to [`Process::spawn`] or to a
    /// [`Pool`](crate::ipc::Pool)'s methods.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// True for a pool task ([`pool_task!`](crate::ipc::pool_task)), false
    /// for a process entry point ([`entry!`](crate::ipc::entry)).
    pub fn is_pool_task(&self) -> bool {
        matches!(self.kind, EntryKind::Task(_))
    }

    pub(crate) fn kind(&self) -> EntryKind {
        self.kind
    }
}

/// The entry points of the library itself (a pool's worker, a manager's
/// server), found before the program's own.
fn builtin_entries() -> &'static [Entry] {
    &[super::pool::WORKER_ENTRY, super::manager::SERVER_ENTRY]
}

/// The entry named `name`: the library's own first, then the table given to
/// [`init`].
pub(crate) fn find_entry(name: &str) -> Option<Entry> {
    let program = ENTRIES.get().copied().unwrap_or(&[]);
    builtin_entries()
        .iter()
        .chain(program)
        .find(|e| e.name == name)
        .copied()
}

/// The entry `name`, which must be a process entry point: `NotFound` (with
/// what to do) otherwise.
fn find_process_entry(name: &str) -> io::Result<RunProcess> {
    if ENTRIES.get().is_none() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "call synclings::ipc::init(ENTRIES) first thing in main before spawning processes",
        ));
    }
    match find_entry(name).map(|e| e.kind) {
        Some(EntryKind::Process(run)) => Ok(run),
        Some(EntryKind::Task(_)) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "`{name}` is a pool task (pool_task!): run it with a Pool, or register a \
                 process entry point with entry!"
            ),
        )),
        None => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no entry point named `{name}` in the table given to ipc::init"),
        )),
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry").field("name", &self.name).finish()
    }
}

/// Used by [`entry!`](crate::ipc::entry): decodes an entry's arguments (and
/// takes the descriptors they name).
#[doc(hidden)]
pub fn __decode_args<T: DeserializeOwned>(args: &[u8]) -> Result<T, RecvError> {
    let decoded = frame::decode(args);
    // The handles hold duplicates: close the descriptors as passed, before
    // the entry runs.
    inherit::finish();
    decoded
}

/// Registers the binary's entry points and, in a child started by
/// [`Process::spawn`], runs the requested one and exits.
///
/// Call it first thing in `main` (before any thread starts): in the parent it
/// only records `entries` and returns; in a child it never returns.
///
/// ```no_run
/// use synclings::ipc::{self, entry, Connection, Entry, Process};
///
/// static ENTRIES: &[Entry] = &[entry!(task)];
///
/// fn task(mut conn: Connection) {
///     conn.send("hello world").unwrap();
/// }
///
/// fn main() {
///     ipc::init(ENTRIES);
///     let (mut parent, child) = ipc::pipe(true).unwrap();
///     let mut p = Process::spawn("task", &child).unwrap();
///     drop(child); // the child has its own copy
///     println!("{}", parent.recv::<String>().unwrap());
///     assert!(p.join().unwrap().success());
/// }
/// ```
pub fn init(entries: &'static [Entry]) {
    let _ = ENTRIES.set(entries);
    let Ok(name) = std::env::var(ENTRY_VAR) else {
        return;
    };
    let status_fd = std::env::var(STATUS_VAR)
        .ok()
        .and_then(|v| v.parse::<RawFd>().ok());
    // Grandchildren must not believe they are children too. (Edition 2021:
    // safe to call; `init` runs before the program starts threads.)
    let daemon = std::env::var(DAEMON_VAR).ok();
    std::env::remove_var(ENTRY_VAR);
    std::env::remove_var(STATUS_VAR);
    std::env::remove_var(DAEMON_VAR);
    let code = match run_child(&name, status_fd, daemon.as_deref()) {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("synclings::ipc child `{name}`: {message}");
            report_to_parent(&message);
            EXIT_BOOT_FAILED
        }
    };
    std::process::exit(code);
}

/// What the parent sends a child on its status socket.
#[derive(Serialize, Deserialize)]
struct Boot {
    /// The descriptors kept open for it.
    fds: Vec<RawFd>,
    /// The entry's encoded arguments.
    args: Vec<u8>,
}

/// The child's end of the status socket, for the panic hook.
static STATUS: OnceLock<UnixStream> = OnceLock::new();

thread_local! {
    /// Set while the panic hook reports, so that a panic inside it does not
    /// recurse.
    static REPORTING: Cell<bool> = const { Cell::new(false) };
}

/// The child side: take the descriptors, decode the arguments, run the entry.
/// A panic of the entry exits from here with `EXIT_PANIC`.
fn run_child(name: &str, status_fd: Option<RawFd>, daemon: Option<&str>) -> Result<(), String> {
    if let Some(how) = daemon {
        daemon::watch(how)?;
    }
    let status_fd = status_fd.ok_or("no status descriptor in the environment")?;
    // SAFETY: the parent passed this descriptor for us alone (it cleared
    // close-on-exec on it after fork); it is checked to be open first.
    if unsafe { libc::fcntl(status_fd, libc::F_GETFD) } < 0 {
        return Err(format!("status descriptor {status_fd} is not open"));
    }
    // SAFETY: see above: open, passed to this process, owned by nobody else.
    let status = UnixStream::from(unsafe { OwnedFd::from_raw_fd(status_fd) });
    inherit::set_cloexec(status.as_fd()).map_err(|e| e.to_string())?;
    let boot_bytes = frame::read_frame(&status, MAX_BOOT_LEN)
        .map_err(|e| format!("reading the arguments: {e}"))?;
    let _ = STATUS.set(status);
    let boot: Boot =
        frame::decode(&boot_bytes).map_err(|e| format!("reading the arguments: {e}"))?;
    // SAFETY: the parent lists exactly the descriptors it kept open for us,
    // and nothing in this process has touched them (init runs first).
    unsafe { inherit::receive(&boot.fds) }.map_err(|e| e.to_string())?;
    let run = find_process_entry(name).map_err(|e| e.to_string())?;

    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        previous_hook(info);
        if !REPORTING.with(|r| r.replace(true)) {
            report_to_parent(&panic_message(info));
        }
    }));
    let outcome = std::panic::catch_unwind(|| run(&boot.args));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "the arguments do not match the entry `{name}`: {e}"
        )),
        Err(_) => std::process::exit(EXIT_PANIC),
    }
}

/// A panic's message and where it happened: "message at file:line:col".
pub(crate) fn panic_message(info: &std::panic::PanicHookInfo<'_>) -> String {
    let message = match info.payload().downcast_ref::<&str>() {
        Some(s) => (*s).to_string(),
        None => match info.payload().downcast_ref::<String>() {
            Some(s) => s.clone(),
            None => "a panic with a non-string payload".to_string(),
        },
    };
    let location = info
        .location()
        .map(|l| format!(" at {l}"))
        .unwrap_or_default();
    format!("{message}{location}")
}

/// One past the highest descriptor number this process may have open.
fn fd_limit() -> libc::c_int {
    // SAFETY: sysconf has no preconditions.
    let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) };
    if max <= 0 {
        1 << 16
    } else {
        max.min(1 << 20) as libc::c_int
    }
}

/// Sends `message` to the parent on the status socket (child side).
fn report_to_parent(message: &str) {
    if let Some(status) = STATUS.get() {
        let _ = frame::write_frame(status, message.as_bytes(), MAX_BOOT_LEN);
    }
}

/// How a child process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    status: std::process::ExitStatus,
    message: Option<String>,
}

impl ExitStatus {
    /// True if the child's entry returned normally (exit code 0).
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, if the child exited (rather than being killed).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// True if the child's entry panicked.
    pub fn panicked(&self) -> bool {
        self.code() == Some(EXIT_PANIC) && self.message.is_some()
    }

    /// The panic message (with its location) of a child that panicked, or
    /// the reason a child could not start its entry.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// Python's `exitcode`: the exit code, or `-N` for a child killed by
    /// signal `N`.
    pub fn exitcode(&self) -> i32 {
        match (self.code(), self.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => -signal,
            (None, None) => i32::MIN,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code(), self.signal(), &self.message) {
            (Some(EXIT_PANIC), _, Some(m)) => write!(f, "panicked: {m}"),
            (Some(EXIT_BOOT_FAILED), _, Some(m)) => write!(f, "could not start: {m}"),
            (Some(code), _, _) => write!(f, "exited with code {code}"),
            (None, Some(signal), _) => write!(f, "killed by signal {signal}"),
            _ => write!(f, "{}", self.status),
        }
    }
}

/// A child process running one of the binary's entry points (Python's
/// `multiprocessing.Process`, already started).
///
/// Dropping a `Process` that was not joined kills and reaps the child.
pub struct Process {
    child: Child,
    /// The parent's end of the status socket: the boot message goes out on
    /// it, a panic message comes back, and its end of file means the child
    /// has exited (it is the child's only copy).
    status: UnixStream,
    message: Option<String>,
    exited: Option<ExitStatus>,
    daemon: bool,
}

impl Process {
    /// Starts a child that runs the entry point `entry` with `args`
    /// (Python's `Process(target, args).start()`); the same as
    /// [`Process::builder(entry).spawn(args)`](Builder::spawn).
    ///
    /// `args` is any serde value; [`Connection`](super::Connection)s,
    /// [`Queue`](super::Queue)s and the other handles of this module inside
    /// it are passed to the child (the parent keeps its own: drop the ends it
    /// does not use, or the other side never sees the end of the stream).
    ///
    /// Errors: `NotFound` if [`init`] was not called with a table holding
    /// `entry`; `InvalidInput` if `args` cannot be encoded; `Unsupported` in
    /// a daemon process (which may not have children); the errors of
    /// starting a process.
    pub fn spawn<A: Serialize + ?Sized>(entry: &str, args: &A) -> io::Result<Process> {
        Process::builder(entry).spawn(args)
    }

    /// A child to be started with options (Python's keyword arguments of
    /// `Process(...)`): [`daemon`](Builder::daemon).
    pub fn builder(entry: &str) -> Builder<'_> {
        Builder {
            entry,
            daemon: false,
        }
    }

    /// True if this child was started as a daemon (Python's `p.daemon`).
    pub fn is_daemon(&self) -> bool {
        self.daemon
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child to end and returns how it ended.
    pub fn join(&mut self) -> io::Result<ExitStatus> {
        match self.join_until(None)? {
            Some(status) => Ok(status),
            None => unreachable!("a wait without a deadline does not time out"),
        }
    }

    /// Waits at most `timeout` for the child to end: `None` if it is still
    /// running (Python's `join(timeout)`, which then leaves `exitcode` None).
    pub fn join_timeout(&mut self, timeout: Duration) -> io::Result<Option<ExitStatus>> {
        self.join_until(Some(Instant::now() + timeout))
    }

    fn join_until(&mut self, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = &self.exited {
            return Ok(Some(status.clone()));
        }
        // The status socket reaches end of file when the child's last
        // descriptor closes, i.e. when it exits; a panic message comes first.
        loop {
            if !wait_fd(self.status.as_fd(), libc::POLLIN, deadline)? {
                return Ok(None);
            }
            match frame::read_frame(&self.status, MAX_BOOT_LEN) {
                Ok(message) => self.message = Some(String::from_utf8_lossy(&message).into_owned()),
                Err(RecvError::Io(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                // End of file (or a message cut by the child's death): it is exiting.
                Err(_) => break,
            }
        }
        let status = self.child.wait()?;
        Ok(Some(self.record(status)))
    }

    fn record(&mut self, status: std::process::ExitStatus) -> ExitStatus {
        let exit = ExitStatus {
            status,
            message: self.message.take(),
        };
        self.exited = Some(exit.clone());
        exit
    }

    /// True while the child has not ended (Python's `is_alive`). Reaps it
    /// if it has.
    pub fn is_alive(&mut self) -> bool {
        self.exit_code().is_none()
    }

    /// Python's `exitcode`: `None` while the child runs, its exit code once
    /// it exited, `-N` if signal `N` killed it. Never blocks.
    pub fn exit_code(&mut self) -> Option<i32> {
        if self.exited.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Collect a panic message that is already there.
                while let Ok(true) =
                    wait_fd(self.status.as_fd(), libc::POLLIN, Some(Instant::now()))
                {
                    match frame::read_frame(&self.status, MAX_BOOT_LEN) {
                        Ok(m) => self.message = Some(String::from_utf8_lossy(&m).into_owned()),
                        Err(_) => break,
                    }
                }
                self.record(status);
            }
        }
        self.exited.as_ref().map(ExitStatus::exitcode)
    }

    /// Kills the child with `SIGKILL` (Python's `kill`); `join` then reports
    /// the signal. Does nothing if it has already been reaped.
    pub fn kill(&mut self) -> io::Result<()> {
        if self.exited.is_some() {
            return Ok(());
        }
        self.child.kill()
    }

    /// Asks the child to stop with `SIGTERM` (Python's `terminate`).
    pub fn terminate(&mut self) -> io::Result<()> {
        if self.exited.is_some() {
            return Ok(());
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: sending a signal to our own unreaped child: its pid cannot
        // have been reused by another process.
        if unsafe { libc::kill(pid, libc::SIGTERM) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Options of a child process before it starts (Python's `Process(...)`
/// keyword arguments): [`Process::builder`].
#[derive(Debug, Clone)]
pub struct Builder<'a> {
    entry: &'a str,
    daemon: bool,
}

impl Builder<'_> {
    /// Python's `daemon=True`: the child ends when this process ends, also
    /// when this process is killed with `SIGKILL` (see the `daemon` module
    /// docs for how), and it may not start children of its own.
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// Starts the child, running its entry point with `args`: see
    /// [`Process::spawn`].
    ///
    /// `args` is any serde value; [`Connection`](super::Connection)s,
    /// [`Queue`](super::Queue)s and the other handles of this module inside
    /// it are passed to the child (the parent keeps its own: drop the ends it
    /// does not use, or the other side never sees the end of the stream).
    ///
    /// Errors: `NotFound` if [`init`] was not called with a table holding
    /// `entry`; `InvalidInput` if `args` cannot be encoded; the errors of
    /// starting a process.
    pub fn spawn<A: Serialize + ?Sized>(self, args: &A) -> io::Result<Process> {
        let entry = self.entry;
        if daemon::is_daemon() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "a daemon process may not start children (Python: \"daemonic processes are \
                     not allowed to have children\"); cannot start `{entry}`: start this \
                     process with daemon(false)"
                ),
            ));
        }
        find_process_entry(entry)?;
        let (encoded, fds) = inherit::collect(|| frame::encode(args));
        let boot = frame::encode(&Boot {
            fds: fds.clone(),
            args: encoded?,
        })?;

        let (status, child_status) = UnixStream::pair()?;
        let child_status_fd = child_status.as_raw_fd();
        let mut keep = fds;
        keep.push(child_status_fd);
        let mut command = Command::new(std::env::current_exe()?);
        let backend = super::backend();
        if self.daemon {
            // The mechanism may pass a descriptor: it must be in `keep`
            // before the closure below captures it.
            keep.extend(daemon::prepare(backend, &mut command)?);
        }
        command
            .env(ENTRY_VAR, entry)
            .env(STATUS_VAR, child_status_fd.to_string())
            .stdin(Stdio::null());
        let fd_limit = fd_limit();
        // SAFETY: the closure runs in the child between fork and exec, where
        // only async-signal-safe calls are allowed: it makes system calls
        // (close_range, fcntl) on numbers computed before the fork, and
        // allocates nothing.
        unsafe {
            command.pre_exec(move || {
                // Descriptors this process inherited without close-on-exec
                // must not leak either: mark every one from 3 up...
                if !super::shm::cloexec_from(3) {
                    // (kernels before 5.11, other systems)
                    for fd in 3..fd_limit {
                        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    }
                }
                // ...then keep exactly the ones passed.
                for &fd in &keep {
                    if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let child = if self.daemon {
            daemon::spawn(backend, command)?
        } else {
            command.spawn()?
        };
        drop(child_status);
        let process = Process {
            child,
            status,
            message: None,
            exited: None,
            daemon: self.daemon,
        };
        // A child that dies before reading its arguments makes this fail;
        // dropping `process` then reaps it.
        frame::write_frame(&process.status, &boot, MAX_BOOT_LEN)?;
        Ok(process)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.child.id())
            .field("exited", &self.exited)
            .finish()
    }
}
