//! **Signal-driven IO**, the article's model 4 (信号驱动IO): the kernel
//! sends a signal when a socket becomes ready, and the program reads then.
//!
//! Every socket (the listener, each connection, the shutdown's wake pipe)
//! gets `O_ASYNC`, an owner (`F_SETOWN_EX` with `F_OWNER_TID`: this thread,
//! not the process, so no other thread of the program ever sees the signal)
//! and a real-time signal (`F_SETSIG`): each readiness change queues one
//! signal carrying the descriptor (`si_fd`) and what changed (`si_band`).
//! Nothing runs in a signal handler: the signals stay blocked in this thread
//! and are read, many per `read`, from a `signalfd`; the loop sleeps in a
//! `poll` of that one descriptor only when none is queued.
//!
//! A signal says that something *changed*, not that something is ready
//! (edge-triggered): a connection is then driven until neither reading nor
//! writing makes progress ([`Conn::drive`]), the listener is accepted from
//! until `accept` says `EWOULDBLOCK`, and a new connection is driven once
//! right after setup (bytes may have arrived before `O_ASYNC` was set).
//!
//! **Queue overflow.** Real-time signals queue up to `RLIMIT_SIGPENDING`;
//! past it the kernel sends a plain `SIGIO`, which carries no descriptor:
//! some event was lost, so every connection is driven and the listener
//! accepted from (a rescan, O(n) like `select`'s).
//!
//! **Why nobody uses it.** Every descriptor costs three `fcntl`s to set up;
//! every event costs a 128-byte `siginfo` in a queue that can overflow,
//! and an overflow costs a full rescan, so under load it degrades into
//! `select`; TCP raises a signal for every arriving segment and every bit
//! of freed send space, not once per request; signal numbers and masks are
//! process-wide state shared with every library in the program (a stray
//! unblocked real-time signal kills the process); thread direction needs
//! Linux's `F_SETOWN_EX`; and it says nothing that epoll does not say
//! better with fewer system calls. The article calls it "rarely used".
//!
//! Cost per request (steady state): the `read` and `write` of the echo,
//! plus a share of one `read` of the `signalfd` (many signals per read), a
//! `poll` when the queue was empty, and a second `read` that finds
//! `EWOULDBLOCK` (the edge-triggered drain). Linux only.

use std::io;
use std::mem::MaybeUninit;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use super::conn::{Conn, Next};
use super::core::{AcceptTurn, ConnCount, Conns};
use super::{ServerConfig, ServerStats, Shutdown};
use crate::selector::unix::SelfPipe;

// The fcntl commands and owner type of signal-driven IO (Linux's
// asm-generic values, those of x86, arm and riscv; not exported by libc).
const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;

/// `struct f_owner_ex`: who receives a descriptor's signals.
#[repr(C)]
struct OwnerEx {
    kind: libc::c_int,
    pid: libc::pid_t,
}

/// The real-time signal this server asks for (glibc keeps the first two
/// for itself; the others are free for programs).
fn io_signal() -> libc::c_int {
    libc::SIGRTMIN() + 3
}

/// How many signals one `read` of the signalfd takes at most.
const SIGNAL_BATCH: usize = 64;

/// Serves on the calling thread until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    listener.set_nonblocking(true)?;
    let signals = Signals::block()?;
    let result = serve_with(&signals, &listener, config, shutdown);
    // No descriptor of ours raises signals any more: stop the listener's,
    // close it, then drain what is queued before the mask is restored
    // (`Signals`' drop), so that nothing queued is delivered unblocked.
    let _ = set_async(listener.as_raw_fd(), false);
    drop(listener);
    signals.drain();
    result
}

fn serve_with(
    signals: &Signals,
    listener: &TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    let wake = SelfPipe::new()?;
    arm(wake.fd(), signals.tid)?;
    shutdown.notify_on_request(wake.notifier());
    arm(listener.as_raw_fd(), signals.tid)?;
    let count = ConnCount::new(config.max_connections);
    let mut server = Loop {
        conns: Conns::new(config, &count),
        by_fd: Vec::new(),
        scratch: vec![0; config.read_chunk.max(1)],
        tid: signals.tid,
    };
    let mut infos = [empty_info(); SIGNAL_BATCH];
    let mut ready: Vec<RawFd> = Vec::new();
    // Connections may be waiting already (before the listener was armed).
    let mut accept_pending = true;
    let mut rescan = false;
    while !shutdown.is_requested() {
        let now = Instant::now();
        let n = signals.read(&mut infos)?;
        // Nothing queued and nothing left over: sleep (during an accept
        // pause the pending accept waits for the pause's end, not in a spin).
        let can_accept = accept_pending && server.conns.accepting(now);
        if n == 0 && !can_accept && !rescan {
            signals.wait(server.conns.timeout(now))?;
            let now = Instant::now();
            while server.conns.expire_idle(now).is_some() {}
            continue;
        }
        let now = Instant::now();
        ready.clear();
        for info in &infos[..n] {
            if info.ssi_signo == libc::SIGIO as u32 {
                // The real-time queue overflowed: some events are lost.
                rescan = true;
            } else if info.ssi_fd == listener.as_raw_fd() {
                accept_pending = true;
            } else if info.ssi_fd == wake.fd() {
                wake.drain();
            } else {
                ready.push(info.ssi_fd);
            }
        }
        if rescan {
            ready.clear();
            ready.extend(server.conns.iter().map(|(_, c)| c.stream().as_raw_fd()));
            accept_pending = true;
            rescan = false;
        }
        // A connection may have queued several signals: drive it once.
        ready.sort_unstable();
        ready.dedup();
        for &fd in &ready {
            if let Some(id) = server.id_of(fd) {
                server.drive(id, now);
            }
        }
        if accept_pending && server.conns.accepting(now) {
            // Until EWOULDBLOCK: no new signal comes for connections that
            // are already waiting. After a pause, come back here at its end.
            accept_pending = server.accept(listener, now) != AcceptTurn::Drained;
        }
        while server.conns.expire_idle(now).is_some() {}
    }
    Ok(server.conns.finish())
}

struct Loop<'a> {
    conns: Conns<'a, Conn>,
    /// The slab id of each armed descriptor (`usize::MAX`: none), so that a
    /// signal's `si_fd` finds its connection. An entry left by a connection
    /// the idle timeout closed is caught by `id_of`, which checks the
    /// descriptor.
    by_fd: Vec<usize>,
    scratch: Vec<u8>,
    tid: libc::pid_t,
}

impl Loop<'_> {
    fn id_of(&self, fd: RawFd) -> Option<usize> {
        let id = *self.by_fd.get(usize::try_from(fd).ok()?)?;
        // The descriptor may have been closed, or reused by a connection
        // accepted since (then driving it is harmless).
        self.conns
            .get(id)
            .filter(|c| c.stream().as_raw_fd() == fd)
            .map(|_| id)
    }

    /// Reads and writes until neither makes progress; closes when done.
    fn drive(&mut self, id: usize, now: Instant) {
        let config = self.conns.config();
        let Some((conn, stats)) = self.conns.get_mut(id) else {
            return;
        };
        if conn.drive(&mut self.scratch, config, stats, now) == Next::Close {
            self.close(id);
        }
    }

    fn close(&mut self, id: usize) {
        if let Some(conn) = self.conns.close(id) {
            if let Some(slot) = usize::try_from(conn.stream().as_raw_fd())
                .ok()
                .and_then(|fd| self.by_fd.get_mut(fd))
            {
                *slot = usize::MAX;
            }
        }
    }

    /// One accept batch; each new connection is armed, then driven once.
    fn accept(&mut self, listener: &TcpListener, now: Instant) -> AcceptTurn {
        let tid = self.tid;
        let mut new = Vec::new();
        let turn = self.conns.accept_batch(listener, now, |id, conn| {
            let fd = conn.stream().as_raw_fd();
            if arm(fd, tid).is_err() {
                return false;
            }
            new.push((id, fd));
            true
        });
        for (id, fd) in new {
            let slot = usize::try_from(fd).expect("descriptors are not negative");
            if self.by_fd.len() <= slot {
                self.by_fd.resize(slot + 1, usize::MAX);
            }
            self.by_fd[slot] = id;
            self.drive(id, now);
        }
        turn
    }
}

/// Directs `fd`'s signals to thread `tid` as [`io_signal`], then turns on
/// `O_ASYNC` (in that order: the first signal already has its owner).
fn arm(fd: RawFd, tid: libc::pid_t) -> io::Result<()> {
    let owner = OwnerEx {
        kind: F_OWNER_TID,
        pid: tid,
    };
    // SAFETY: fcntl on a descriptor the caller owns; F_SETOWN_EX reads one
    // live `f_owner_ex`, F_SETSIG takes an integer.
    unsafe {
        if libc::fcntl(fd, F_SETOWN_EX, &owner as *const OwnerEx) < 0
            || libc::fcntl(fd, F_SETSIG, io_signal()) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    set_async(fd, true)
}

/// Turns `O_ASYNC` (and `O_NONBLOCK`) on or off.
fn set_async(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = match on {
            true => flags | libc::O_ASYNC | libc::O_NONBLOCK,
            false => flags & !libc::O_ASYNC,
        };
        if libc::fcntl(fd, libc::F_SETFL, flags) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn empty_info() -> libc::signalfd_siginfo {
    // SAFETY: a plain C struct of integers: all zeroes is a valid value.
    unsafe { MaybeUninit::zeroed().assume_init() }
}

/// The server thread's signals: [`io_signal`] and `SIGIO` blocked in this
/// thread and read from a `signalfd`; the old mask comes back on drop.
struct Signals {
    fd: OwnedFd,
    old_mask: libc::sigset_t,
    tid: libc::pid_t,
}

impl Signals {
    fn block() -> io::Result<Signals> {
        // SAFETY: sigemptyset/sigaddset initialise and fill a local set;
        // pthread_sigmask changes this thread's mask only and writes the old
        // one into a local; signalfd gets a valid set.
        unsafe {
            let mut set = MaybeUninit::<libc::sigset_t>::uninit();
            libc::sigemptyset(set.as_mut_ptr());
            libc::sigaddset(set.as_mut_ptr(), io_signal());
            libc::sigaddset(set.as_mut_ptr(), libc::SIGIO);
            let set = set.assume_init();
            let mut old_mask = MaybeUninit::<libc::sigset_t>::uninit();
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, old_mask.as_mut_ptr());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            let old_mask = old_mask.assume_init();
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                let e = io::Error::last_os_error();
                libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut());
                return Err(e);
            }
            Ok(Signals {
                fd: OwnedFd::from_raw_fd(fd),
                old_mask,
                tid: libc::gettid(),
            })
        }
    }

    /// The signals queued for this thread, up to `infos.len()`, without
    /// waiting (0: none).
    fn read(&self, infos: &mut [libc::signalfd_siginfo]) -> io::Result<usize> {
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        loop {
            // SAFETY: the buffer is `infos`, live and writable, of the length
            // given; signalfd writes whole siginfo structs.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    infos.as_mut_ptr().cast(),
                    std::mem::size_of_val(infos),
                )
            };
            if n >= 0 {
                return Ok(n as usize / size);
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::WouldBlock => return Ok(0),
                io::ErrorKind::Interrupted => continue,
                _ => return Err(e),
            }
        }
    }

    /// Sleeps until a signal is queued or `timeout` passes.
    fn wait(&self, timeout: Option<std::time::Duration>) -> io::Result<()> {
        let mut fds = [libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = crate::selector::unix::timeout_ms(timeout);
        // SAFETY: one live pollfd, its length given.
        if unsafe { libc::poll(fds.as_mut_ptr(), 1, ms) } < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Reads and forgets every queued signal.
    fn drain(&self) {
        let mut infos = [empty_info(); SIGNAL_BATCH];
        while matches!(self.read(&mut infos), Ok(n) if n > 0) {}
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        self.drain();
        // SAFETY: restores the mask saved by `block`, on the same thread
        // (`serve` never moves across threads).
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}
