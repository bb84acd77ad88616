//! Every in-process echo server model (blocking, thread pool, busy-poll,
//! selector, selector per core, `select(2)`, `poll(2)`, asyncio, sigio,
//! io_uring) against the same scenarios (`net_cases/`, shared with
//! `net_prefork.rs`), one test per model and scenario: many concurrent clients with random
//! payloads and split writes, half-close, abrupt resets, a client that never
//! reads, a connection flood, the idle timeout, a shutdown while busy; then
//! the descriptor limits (`FD_SETSIZE`, `EMFILE`). The selector server runs
//! the scenarios on every selector backend (`selector_on_poll`, ...).
//!
//! Loopback only; every loop is bounded in count, every wait by a deadline.
#![cfg(not(loom))]

#[path = "net_cases/mod.rs"]
#[macro_use]
mod net_cases;

use net_cases::*;
#[cfg(unix)]
use std::io::{Read, Write};
#[cfg(unix)]
use std::net::{SocketAddr, TcpStream};
#[cfg(target_os = "linux")]
use std::thread;
use synclings::net::Model;
#[cfg(unix)]
use synclings::net::ServerStats;
use synclings::selector::BackendKind;
#[cfg(target_os = "linux")]
use synclings::testing::{current_tid, eventually, within, DEADLINE};

/// One `#[test]` per scenario of [`for_each_case!`] for `$model`.
macro_rules! case_tests {
    ($model:expr; $($(#[$meta:meta])* $name:ident: $case:ident,)*) => {$(
        $(#[$meta])*
        #[test]
        fn $name() {
            if runs_here($model) {
                $case($model);
            }
        }
    )*};
}

macro_rules! model_tests {
    ($($(#[$meta:meta])* $module:ident: $model:expr;)*) => {$(
        $(#[$meta])*
        mod $module {
            use super::*;
            for_each_case!(case_tests, $model);
        }
    )*};
}

model_tests! {
    blocking: Model::Blocking;
    thread_pool: Model::ThreadPool;
    busy_poll: Model::BusyPoll;
    selector: Model::Selector;
    selector_per_core: Model::SelectorPerCore;
    #[cfg(unix)]
    select: Model::Select;
    #[cfg(unix)]
    poll: Model::Poll;
    asyncio: Model::Asyncio;
    #[cfg(target_os = "linux")]
    sigio: Model::Sigio;
    #[cfg(target_os = "linux")]
    uring: Model::Uring;
    // The selector server on every other backend (`selector` above runs on
    // the default: epoll on Linux).
    #[cfg(unix)]
    selector_on_poll: (Model::Selector, BackendKind::Poll);
    #[cfg(unix)]
    selector_on_select: (Model::Selector, BackendKind::Select);
    selector_on_polling: (Model::Selector, BackendKind::Polling);
    selector_per_core_on_polling: (Model::SelectorPerCore, BackendKind::Polling);
}

// ------------------------------------------------- the descriptor limits

/// The descriptor limits (`RLIMIT_NOFILE`, `FD_SETSIZE`, `EMFILE`) are Unix
/// notions; the `EMFILE` tests watch threads through Linux's `/proc`.
#[cfg(unix)]
mod descriptors {
    use super::*;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::sync::RwLockWriteGuard;

    fn exclusive() -> RwLockWriteGuard<'static, ()> {
        FD_TABLE.write().unwrap_or_else(|e| e.into_inner())
    }

    /// One round trip: the server is in its loop, with every descriptor it
    /// needs open. Keep the connection: closing it would free a descriptor of
    /// the server's later, at a moment the test does not choose.
    fn served_once(addr: SocketAddr) -> TcpStream {
        let stream = connect(addr);
        assert_eq!(echo(&stream, b"up?").unwrap(), b"UP?");
        stream
    }

    /// Soft `RLIMIT_NOFILE`, restored on drop.
    struct FdLimit {
        saved: libc::rlimit,
    }

    impl FdLimit {
        fn get() -> libc::rlimit {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // Safety: getrlimit writes one rlimit into the live local.
            assert_eq!(
                unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
                0
            );
            limit
        }

        fn set(limit: &libc::rlimit) -> bool {
            // Safety: setrlimit reads one rlimit from the live reference.
            unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, limit) == 0 }
        }

        /// Sets the soft limit to `soft` (at most the hard limit); `None`, with
        /// the reason printed, if the hard limit is below `soft`.
        fn soft(soft: libc::rlim_t) -> Option<FdLimit> {
            let saved = Self::get();
            if saved.rlim_max < soft {
                println!(
                    "skipped: the hard RLIMIT_NOFILE is {} (< {soft})",
                    saved.rlim_max
                );
                return None;
            }
            let new = libc::rlimit {
                rlim_cur: soft,
                rlim_max: saved.rlim_max,
            };
            assert!(Self::set(&new), "setrlimit");
            Some(FdLimit { saved })
        }
    }

    impl Drop for FdLimit {
        fn drop(&mut self) {
            Self::set(&self.saved);
        }
    }

    /// Duplicates `fd` until the duplicates take every free number below
    /// `below` (the kernel hands out the lowest free number) or the table is
    /// full.
    fn fill_descriptors(fd: &OwnedFd, below: i32) -> Vec<OwnedFd> {
        let mut taken = Vec::new();
        for _ in 0..100_000 {
            match fd.try_clone() {
                Ok(dup) => {
                    let number = dup.as_raw_fd();
                    taken.push(dup);
                    if number >= below - 1 {
                        break;
                    }
                }
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    break;
                }
            }
        }
        taken
    }

    /// A connection whose descriptor would be 1024 or more: the select server
    /// refuses it cleanly (an fd_set has 1024 bits), the poll and selector
    /// servers serve it.
    fn descriptor_past_fd_setsize(subject: impl Into<Subject>) -> ServerStats {
        let subject = subject.into();
        let _fd = exclusive();
        let Some(_limit) = FdLimit::soft(FdLimit::get().rlim_cur.max(1200)) else {
            return ServerStats::default();
        };
        let server = Server::start(subject, config());
        let addr = server.addr;
        let _up = served_once(addr);
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let filler = OwnedFd::from(a);
        let taken = fill_descriptors(&filler, 1030);
        assert!(
            taken.last().unwrap().as_raw_fd() >= 1029,
            "every number below 1030 is taken"
        );
        let client = connect(addr);
        let _ = (&client).write_all(b"high");
        let uses_select = matches!(
            (subject.model, subject.selector),
            (Model::Select, _) | (Model::Selector, BackendKind::Select)
        );
        let served = match uses_select {
            true => {
                assert!(
                    is_closed_by_server(&client),
                    "select cannot watch fd >= 1024: refused"
                );
                false
            }
            false => {
                let mut reply = [0u8; 4];
                (&client).read_exact(&mut reply).unwrap();
                assert_eq!(&reply, b"HIGH");
                true
            }
        };
        drop(client);
        drop(taken);
        // Low numbers are free again: served as usual.
        let low = connect(addr);
        assert_eq!(echo(&low, b"low").unwrap(), b"LOW");
        drop(low);
        let stats = server.stop();
        assert_eq!(stats.accepted, 2 + served as u64, "{stats:?}");
        stats
    }

    #[test]
    fn select_refuses_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Select);
        assert!(
            stats.refused >= 1 || stats == ServerStats::default(),
            "{stats:?}"
        );
    }

    #[test]
    fn poll_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Poll);
        assert_eq!(stats.refused, 0);
    }

    #[test]
    fn selector_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Selector);
        assert_eq!(stats.refused, 0);
    }

    #[test]
    fn selector_on_select_refuses_a_descriptor_past_fd_setsize() {
        // SelectSelector's register refuses it (OutOfRange): the server
        // closes the connection and counts it refused, not accepted.
        let stats = descriptor_past_fd_setsize((Model::Selector, BackendKind::Select));
        assert!(
            stats.refused >= 1 || stats == ServerStats::default(),
            "{stats:?}"
        );
    }

    #[test]
    fn selector_on_poll_and_polling_serve_a_descriptor_past_fd_setsize() {
        for backend in [BackendKind::Poll, BackendKind::Polling] {
            let stats = descriptor_past_fd_setsize((Model::Selector, backend));
            assert_eq!(stats.refused, 0, "{backend}");
        }
    }

    /// A `/proc` file opened once and read again from the start on demand: no
    /// descriptor is needed to read it while the table is full. `None` once the
    /// thread has exited.
    #[cfg(target_os = "linux")]
    struct ProcFile(std::fs::File);

    #[cfg(target_os = "linux")]
    impl ProcFile {
        fn open(path: String) -> Option<ProcFile> {
            std::fs::File::open(path).ok().map(ProcFile)
        }

        fn read(&mut self) -> Option<String> {
            use std::io::Seek;
            self.0.rewind().ok()?;
            let mut text = String::new();
            self.0.read_to_string(&mut text).ok()?;
            Some(text)
        }
    }

    /// A server thread watched through `/proc/self/task/TID/{stat,status}`.
    #[cfg(target_os = "linux")]
    struct Watched {
        stat: ProcFile,
        status: ProcFile,
    }

    #[cfg(target_os = "linux")]
    impl Watched {
        /// `None` if the thread is gone.
        fn new(tid: u32) -> Option<Watched> {
            Some(Watched {
                stat: ProcFile::open(format!("/proc/self/task/{tid}/stat"))?,
                status: ProcFile::open(format!("/proc/self/task/{tid}/status"))?,
            })
        }

        /// Asleep in the kernel (state S), or gone: not running or spinning.
        fn asleep(&mut self) -> bool {
            let Some(stat) = self.stat.read() else {
                return true;
            };
            stat.rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next())
                .is_some_and(|state| state == "S")
        }

        /// Voluntary context switches: one more each time it goes to sleep.
        fn sleeps(&mut self) -> Option<u64> {
            self.status
                .read()?
                .lines()
                .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|n| n.trim().parse().ok())
        }
    }

    /// Waits until every watched thread is asleep on three checks in a row.
    #[cfg(target_os = "linux")]
    fn all_stay_asleep(threads: &mut [Watched], what: &str) {
        let mut in_a_row = 0;
        eventually(DEADLINE, what, || {
            in_a_row = if threads.iter_mut().all(Watched::asleep) {
                in_a_row + 1
            } else {
                0
            };
            in_a_row >= 3
        });
    }

    /// With the descriptor table full, `accept` fails with `EMFILE` while a
    /// connection waits: the server pauses accepting (it sleeps, it does not
    /// spin on the ever-ready listener) and serves the client once descriptors
    /// are free again.
    #[cfg(target_os = "linux")]
    fn emfile_does_not_spin(model: impl Into<Subject>) {
        let _fd = exclusive();
        let server = Server::start(model, config());
        let addr = server.addr;
        let _up = served_once(addr);
        // Every other thread (the server's among them), watched through files
        // opened now: once the table is full nothing can be opened.
        let me = current_tid();
        let mut all: Vec<_> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&tid| tid != me)
            .filter_map(Watched::new)
            .collect();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let filler = OwnedFd::from(a);
        // A soft limit just above what is open, so that filling it is quick.
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::rlim_t>().ok())
            .max()
            .unwrap();
        let Some(limit) = FdLimit::soft(highest + 64) else {
            return;
        };
        let mut taken = fill_descriptors(&filler, i32::MAX);
        // One number for the client's socket; none for the server's accept.
        taken.pop();
        // Nothing runs now (the idle timeout is a minute away): the only wake-up
        // to come is the connection's.
        all_stay_asleep(&mut all, "every thread sleeps before the connection");
        let before: Vec<_> = all.iter_mut().map(Watched::sleeps).collect();
        let client = connect(addr);
        // The server woke for the connection, failed to accept it, and went back
        // to sleep (a server spinning on the ready listener never sleeps again)...
        eventually(
            DEADLINE,
            "a server thread sleeps again after EMFILE",
            || {
                all.iter_mut()
                    .zip(&before)
                    .any(|(thread, &before)| thread.sleeps() > before)
            },
        );
        // ...and stays asleep, as every other thread, until the pause ends.
        all_stay_asleep(&mut all, "no thread spins while accept fails");
        drop(taken);
        drop(limit);
        // The paused listener is watched again: the waiting client is served.
        assert_eq!(echo(&client, b"later").unwrap(), b"LATER");
        drop(client);
        let stats = server.stop();
        assert_eq!(stats.accepted, 2, "{stats:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn selector_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Selector);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn selector_per_core_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::SelectorPerCore);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn select_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Select);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn poll_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Poll);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn selector_on_poll_and_polling_pause_accept_on_emfile() {
        emfile_does_not_spin((Model::Selector, BackendKind::Poll));
        emfile_does_not_spin((Model::Selector, BackendKind::Polling));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn asyncio_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Asyncio);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sigio_pauses_accept_on_emfile() {
        emfile_does_not_spin(Model::Sigio);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sigio_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Sigio);
        assert_eq!(stats.refused, 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn uring_pauses_accept_on_emfile() {
        if runs_here(Model::Uring) {
            emfile_does_not_spin(Model::Uring);
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn uring_serves_a_descriptor_past_fd_setsize() {
        if runs_here(Model::Uring) {
            let stats = descriptor_past_fd_setsize(Model::Uring);
            assert_eq!(stats.refused, 0);
        }
    }

    /// With `RLIMIT_SIGPENDING` at 0 no real-time signal can be queued: the
    /// kernel sends a plain `SIGIO` instead, which names no descriptor, and
    /// the sigio server must rescan every connection. Without that fallback
    /// the events are lost and the clients wait for replies forever.
    #[cfg(target_os = "linux")]
    #[test]
    fn sigio_survives_an_overflowing_signal_queue() {
        let _fd = exclusive();
        let mut saved = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // Safety: getrlimit/setrlimit read and write one live rlimit.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_SIGPENDING, &mut saved) },
            0
        );
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: saved.rlim_max,
        };
        assert_eq!(
            unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &none) },
            0
        );
        struct Restore(libc::rlimit);
        impl Drop for Restore {
            fn drop(&mut self) {
                // Safety: as above.
                unsafe { libc::setrlimit(libc::RLIMIT_SIGPENDING, &self.0) };
            }
        }
        let _restore = Restore(saved);
        let server = Server::start(Model::Sigio, config());
        let addr = server.addr;
        within(
            DEADLINE,
            "8 clients served through SIGIO rescans",
            move || {
                let clients: Vec<_> = (0..8u64)
                    .map(|i| {
                        thread::spawn(move || {
                            let stream = connect(addr);
                            for request in 0..20 {
                                let payload = Rng(i * 100 + request + 1).payload(3000);
                                let reply = round_trip(&stream, &payload, i + request);
                                assert!(reply == payload.to_ascii_uppercase(), "client {i}");
                            }
                        })
                    })
                    .collect();
                for client in clients {
                    client.join().unwrap();
                }
            },
        );
        let stats = server.stop();
        assert_eq!(stats.accepted, 8, "{stats:?}");
        assert_eq!(stats.bytes_out, 8 * 20 * 3000, "{stats:?}");
    }

    #[test]
    fn asyncio_serves_a_descriptor_past_fd_setsize() {
        let stats = descriptor_past_fd_setsize(Model::Asyncio);
        assert_eq!(stats.refused, 0);
    }
}
