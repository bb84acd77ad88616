//! Processes and what they share: Python's `multiprocessing`, with real OS
//! processes and real descriptors (Linux, macOS, the BSDs; not Windows).
//!
//! | Python | synclings |
//! |---|---|
//! | `Process(target=f, args=a).start()` | [`Process::spawn("f", &a)`](Process::spawn), `f` listed with [`entry!`] in the table given to [`init`] |
//! | `join()`, `is_alive()`, `exitcode`, `kill()`, `terminate()` | [`Process::join`], [`is_alive`](Process::is_alive), [`exit_code`](Process::exit_code), [`kill`](Process::kill), [`terminate`](Process::terminate) |
//! | `Pipe(duplex)` → `send`, `recv`, `send_bytes`, `recv_bytes`, `poll`, `close` | [`pipe()`] → [`Connection`] |
//! | `Queue(maxsize)` → `put`, `get`, `put_nowait`, `get_nowait`, `close` | [`Queue`]: `put`, `get`, `try_put`, `try_get`, `*_timeout`, `close` |
//! | `JoinableQueue` → `task_done`, `join` | [`JoinableQueue`] |
//! | `Lock()`, `Semaphore(n)`, `Value('i', 0)`, `Array('d', n)` | [`Lock`], [`Semaphore`], [`Value<T>`](Value), [`Array<T>`](Array) (in shared memory, robust to a holder's death) |
//! | `EOFError`, `queue.Full`, `queue.Empty` | [`RecvError::Closed`], [`PutError::Full`], [`GetError::Empty`] |
//! | `Process(daemon=True)`, `current_process().daemon` | [`Process::builder`]`(..).daemon(true)`, [`is_daemon`] (see `daemon/`: the child also ends when the parent is `SIGKILL`ed) |
//! | `Pool(n)`: `map`, `imap`, `imap_unordered`, `apply_async`, `close`, `join`, `terminate` | [`Pool`], tasks registered with [`pool_task!`] (see [`pool`]) |
//! | `Manager()`: `dict`, `list`, `Namespace`, `Queue`, `Lock`, `Event`, `Value` | [`Manager`] and its proxies (see [`manager`]) |
//! | `multiprocessing.connection.Listener` / `Client`, `AuthenticationError` | [`connection::Listener`] / [`connection::Client`], [`connection::ConnectionError::AuthenticationFailed`] |
//!
//! # A child process and a pipe (the seed's program 8)
//!
//! A child runs a registered function of the *same executable* (Python's
//! "spawn" start method; `fork` alone is unsafe in a threaded program), so
//! `main` begins with [`init`]:
//!
//! ```
//! use synclings::ipc::{self, entry, Connection, Entry, Process};
//!
//! static ENTRIES: &[Entry] = &[entry!(task)];
//!
//! fn task(mut conn: Connection) {
//!     conn.send("hello world").unwrap();
//!     conn.close();
//! }
//!
//! fn main() {
//!     ipc::init(ENTRIES); // in the child: runs `task` and exits
//!     let (mut parent_conn, child_conn) = ipc::pipe(true).unwrap();
//!     let mut p = Process::spawn("task", &child_conn).unwrap();
//!     drop(child_conn);
//!     let status = p.join().unwrap();
//!     assert!(status.success(), "{status}");
//!     println!("{}", parent_conn.recv::<String>().unwrap()); // hello world
//! }
//! ```
//!
//! # Design
//!
//! - [`frame`]: every message is a length-prefixed frame, encoded with serde
//!   and postcard; lengths over the maximum are refused before allocating;
//!   end of file at a boundary ([`RecvError::Closed`]) and inside a message
//!   ([`RecvError::Truncated`]) are different errors.
//! - [`process`]: children re-execute the current binary; handles inside the
//!   arguments are passed as inherited descriptors, every other descriptor is
//!   close-on-exec; a panic's message comes back to the parent; every child
//!   is reaped.
//! - [`queue`]: a byte ring plus locks and counters in shared memory that
//!   survive the death of a process holding them.
//! - [`shared`]: `Lock`, `Semaphore`, `Value`, `Array` in shared memory
//!   (`memfd` + `mmap`), locked by robust process-shared mutexes.
//! - [`pool`]: worker processes (daemons) running registered tasks, a
//!   chunk per frame, one dispatcher thread in the parent.
//! - [`manager`] and [`connection`]: a server process holding shared
//!   objects, reached over an HMAC-authenticated Unix socket or TCP
//!   connection.
//! - [`Backend`]: how the shared memory, its locks and its sleeps are
//!   made: futexes and robust priority-inheriting mutexes on Linux, a
//!   portable POSIX path (an unlinked file, `fcntl` record locks, pipes)
//!   everywhere else; the Linux tests run on both.
//!
//! This module uses `std` and the OS directly, not the [`sync`](crate::sync)
//! facade: loom cannot model processes. Its tests are `tests/ipc_*.rs`.

pub mod connection;
mod daemon;
mod fdpass;
pub mod frame;
mod inherit;
#[doc(hidden)]
pub mod mailbox;
pub mod manager;
pub mod pipe;
pub mod pool;
pub mod process;
pub mod queue;
mod ring;
pub mod shared;
mod shm;

pub use daemon::is_daemon;
pub use frame::{RecvError, SendError, DEFAULT_MAX_MESSAGE_LEN};
pub use manager::{Manager, ManagerBuilder, ManagerError};
pub use pipe::{pipe, Connection};
pub use pool::{AsyncResult, Imap, Pool, PoolBuilder, PoolError};
pub use process::{init, Builder, Entry, ExitStatus, Process, EXIT_BOOT_FAILED, EXIT_PANIC};
pub use queue::{GetError, JoinableQueue, PutError, Queue, TaskDoneError};
pub use shared::{Array, ArrayGuard, Lock, LockGuard, Permit, Plain, Semaphore, Value, ValueGuard};
pub use shm::{backend, set_backend, Backend, BACKEND_VARIANTS};

#[doc(inline)]
pub use crate::ipc_entry as entry;
#[doc(inline)]
pub use crate::ipc_pool_task as pool_task;

#[doc(hidden)]
pub use pool::__run_chunk;
#[doc(hidden)]
pub use process::__decode_args;

/// Makes `fd` non-blocking (`O_NONBLOCK`, its other status flags kept): for
/// the pipes that the POSIX shared-memory backend wakes sleepers with and
/// the pool's chunk pipes, which `std` cannot set for a pipe.
pub(crate) fn set_nonblocking(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = fd.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor the caller holds open change
    // its flags; no memory is passed.
    let ok = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) >= 0
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Makes an [`Entry`](crate::ipc::Entry) for a function a child process can
/// run; list it in the table given to [`init`](crate::ipc::init).
///
/// The function takes one argument, any serde type (a tuple for several,
/// `()` for none), which the parent passes to
/// [`Process::spawn`](crate::ipc::Process::spawn). `entry!(f)` registers `f`
/// under its own name; `entry!("name" => path::to::f)` under another.
///
/// ```
/// use synclings::ipc::{entry, Connection, Entry};
///
/// fn producer((mut conn, count): (Connection, u32)) {
///     for n in 0..count {
///         conn.send(&n).unwrap();
///     }
/// }
/// fn idle(_: ()) {}
///
/// static ENTRIES: &[Entry] = &[entry!(producer), entry!("nothing" => idle)];
/// assert_eq!(ENTRIES[1].name(), "nothing");
/// ```
#[macro_export]
macro_rules! ipc_entry {
    ($f:ident) => {
        $crate::ipc_entry!(::core::stringify!($f) => $f)
    };
    ($name:expr => $f:path) => {
        $crate::ipc::Entry::__new($name, |args| {
            $f($crate::ipc::__decode_args(args)?);
            ::core::result::Result::Ok(())
        })
    };
}

/// Makes an [`Entry`](crate::ipc::Entry) for a function a
/// [`Pool`](crate::ipc::Pool)'s workers can run on items; list it in the
/// table given to [`init`](crate::ipc::init), next to the process entry
/// points.
///
/// The function takes one argument (any serde type: a tuple for several)
/// and returns any serde type. `pool_task!(f)` registers `f` under its own
/// name; `pool_task!("name" => path::to::f)` under another.
///
/// ```
/// use synclings::ipc::{pool_task, Entry};
///
/// fn count_primes(below: u64) -> u64 {
///     (2..below).filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)).count() as u64
/// }
///
/// static ENTRIES: &[Entry] = &[pool_task!(count_primes), pool_task!("primes" => count_primes)];
/// assert!(ENTRIES[0].is_pool_task());
/// assert_eq!(ENTRIES[1].name(), "primes");
/// ```
#[macro_export]
macro_rules! ipc_pool_task {
    ($f:ident) => {
        $crate::ipc_pool_task!(::core::stringify!($f) => $f)
    };
    ($name:expr => $f:path) => {
        $crate::ipc::Entry::__task($name, |chunk, out| {
            $crate::ipc::__run_chunk(chunk, out, $f)
        })
    };
}
