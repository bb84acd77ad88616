//! **Asynchronous IO**, the article's model 5 (异步IO): "the kernel waits for
//! the data, copies it into user memory, and only then tells the process
//! that the read is done". On Linux that is io_uring: the program queues
//! requests in a ring shared with the kernel, and completions come back in
//! another ring; one `io_uring_enter` submits every queued request and
//! waits for completions.
//!
//! This server asks once and is told many times:
//!
//! - **multishot accept**: one request on the listener yields a completion
//!   (a new descriptor) per incoming connection;
//! - **multishot recv with a provided buffer ring**: one request per
//!   connection yields a completion per arrival of data, each in a buffer
//!   the kernel picked from a ring of buffers shared by every connection
//!   (so an idle connection holds no buffer: the ring's size is fixed);
//! - **sends batched**: a reply is queued as a send request; all the
//!   requests of one loop turn go to the kernel in the one
//!   `io_uring_enter` that also waits for the next completions;
//! - `IORING_SETUP_SINGLE_ISSUER` and `IORING_SETUP_DEFER_TASKRUN` where the
//!   kernel has them (6.1): completions are posted only when this thread
//!   enters the kernel to wait, not by interrupting it.
//!
//! So a request costs, in the steady state, a share of one system call:
//! the completions of a recv and of a send, and the send request, all
//! carried by the `io_uring_enter` of a turn that serves many connections.
//! What is left is the kernel's work: on loopback the TCP path (the
//! client's receive runs on the sender's CPU) is about 85% of this
//! server's CPU time per request, io_uring's own share about 7% (perf,
//! 100 connections, Linux 6.18); the bare epoll loop spends about twice
//! that share in epoll and the system-call layers, which is all that
//! io_uring can save against it (~7%).
//!
//! Tried and not kept (Linux 6.18, paired runs against the floor): sends
//! that post no completion when they succeed (`IOSQE_CQE_SKIP_SUCCESS`
//! with `MSG_WAITALL | MSG_DONTWAIT`, so that a short send still
//! completes): half the completions go, but each such send costs more to
//! submit (~50 ns) than its completion cost to post and read; registered
//! files for the sockets: `fget`/`fput` (~1% in the profile) go, below the
//! noise of paired runs, for a second descriptor path; `COOP_TASKRUN`
//! instead of `DEFER_TASKRUN`, and replies sent last-read-first: no gain.
//!
//! Where io_uring is missing or forbidden (a kernel before 6.0, where
//! multishot recv is missing; `kernel.io_uring_disabled`; a seccomp filter,
//! as in Docker's default profile; `RLIMIT_MEMLOCK` on kernels before
//! 5.12), [`probe`] and [`serve`] fail with an `Unsupported` error that
//! names the cause.
//!
//! The limits, as every model's: `max_connections` through the connection
//! core; `max_buffered`: a connection is read by a multishot recv only
//! while none of its replies wait, each shot at most `max_buffered / 256`
//! bytes; once its pending replies reach a quarter of `max_buffered` the
//! multishot is cancelled at once (what the kernel already delivered still
//! lands: about a hundred shots) and it is read by single recvs of at most
//! the room left, until its replies have drained; the idle timeout; the
//! pause on `EMFILE` (the multishot accept ends, and is re-armed after the
//! pause). A closing connection keeps its memory until the kernel has
//! finished every request that points into it.

use std::collections::HashMap;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering::Release};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::core::{ConnCount, Connection, Conns};
use super::{protocol, ServerConfig, ServerStats, Shutdown};

/// Submission queue entries (the completion queue is larger: multishot
/// requests complete many times).
const SQ_ENTRIES: u32 = 1024;
const CQ_ENTRIES: u32 = 8192;
/// The provided buffers: how many, shared by every connection.
const BUFFERS: u16 = 512;
/// The buffer group of the ring.
const BGID: u16 = 0;
/// How long a shutdown waits for the kernel to finish the requests that
/// point into connections' memory.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// What a completion is about: the low byte of its `user_data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Accept = 1,
    Recv = 2,
    Send = 3,
    Wake = 4,
    Cancel = 5,
}

/// `user_data`: operation (8 bits), slab id (24 bits), serial (32 bits).
fn tag(op: Op, id: usize, serial: u64) -> u64 {
    (op as u64) | ((id as u64 & 0xFF_FFFF) << 8) | ((serial & 0xFFFF_FFFF) << 32)
}

fn untag(data: u64) -> (u8, usize, u32) {
    (
        data as u8,
        ((data >> 8) & 0xFF_FFFF) as usize,
        (data >> 32) as u32,
    )
}

/// One client connection: the kernel reads into the shared buffer ring
/// and writes from `sending`.
pub(crate) struct UringConn {
    stream: TcpStream,
    /// Replies not yet handed to the kernel.
    out: Vec<u8>,
    /// Replies in a send request; `sending[sent..]` is not yet sent. Never
    /// touched while `send_in_flight`: the kernel reads it.
    sending: Vec<u8>,
    sent: usize,
    send_in_flight: bool,
    /// A recv is armed (or its cancel is on its way).
    recv_armed: bool,
    /// The armed recv is the multishot one.
    multishot: bool,
    peer_closed: bool,
    last_activity: Instant,
    serial: u64,
}

impl Connection for UringConn {
    fn open(stream: TcpStream, serial: u64, now: Instant) -> io::Result<Self> {
        stream.set_nodelay(true)?;
        Ok(UringConn {
            stream,
            out: Vec::new(),
            sending: Vec::new(),
            sent: 0,
            send_in_flight: false,
            recv_armed: false,
            multishot: false,
            peer_closed: false,
            last_activity: now,
            serial,
        })
    }

    fn serial(&self) -> u64 {
        self.serial
    }

    fn last_activity(&self) -> Instant {
        self.last_activity
    }
}

impl UringConn {
    fn pending(&self) -> usize {
        self.out.len() + self.sending.len() - self.sent
    }

    /// Nothing of the kernel's points into this connection.
    fn idle_in_kernel(&self) -> bool {
        !self.send_in_flight && !self.recv_armed
    }

    fn finished(&self) -> bool {
        self.peer_closed && self.pending() == 0
    }
}

/// The shared receive buffers and the ring that hands them to the kernel.
struct BufRing {
    /// The ring of `BUFFERS` entries (page-aligned: mmap'ed).
    ring: *mut types::BufRingEntry,
    ring_len: usize,
    /// The buffers themselves, `buf_len` bytes each.
    bufs: Vec<u8>,
    buf_len: usize,
    /// The tail we publish (the kernel consumes from the head).
    tail: u16,
}

impl BufRing {
    fn new(buf_len: usize) -> io::Result<BufRing> {
        let ring_len = usize::from(BUFFERS) * std::mem::size_of::<types::BufRingEntry>();
        // SAFETY: an anonymous private mapping; no file, no fixed address.
        let ring = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ring == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut this = BufRing {
            ring: ring.cast(),
            ring_len,
            bufs: vec![0; buf_len * usize::from(BUFFERS)],
            buf_len,
            tail: 0,
        };
        for bid in 0..BUFFERS {
            this.give(bid);
        }
        this.publish();
        Ok(this)
    }

    /// Puts buffer `bid` back at the tail (visible at the next `publish`).
    fn give(&mut self, bid: u16) {
        let slot = usize::from(self.tail & (BUFFERS - 1));
        let addr = self.bufs[usize::from(bid) * self.buf_len..].as_mut_ptr();
        // SAFETY: `slot` < BUFFERS entries of the mapping; the kernel reads
        // an entry only between the head and the published tail, and this
        // one is past the tail.
        unsafe {
            let entry = &mut *self.ring.add(slot);
            entry.set_addr(addr as u64);
            entry.set_len(self.buf_len as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publishes the buffers given back since the last call.
    fn publish(&self) {
        // SAFETY: the tail field lives in the first entry of the mapping;
        // the kernel reads it, we alone write it. Release: the entries
        // written before are visible to the kernel before the new tail.
        unsafe {
            let tail = types::BufRingEntry::tail(self.ring).cast_mut();
            (*(tail as *const AtomicU16)).store(self.tail, Release);
        }
    }

    /// The bytes the kernel wrote into buffer `bid`.
    fn data(&mut self, bid: u16, len: usize) -> &mut [u8] {
        let start = usize::from(bid) * self.buf_len;
        &mut self.bufs[start..start + len.min(self.buf_len)]
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unregistered (or the ring
        // closed) before this drop.
        unsafe { libc::munmap(self.ring.cast(), self.ring_len) };
    }
}

/// Makes the ring: with SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1), else
/// COOP_TASKRUN (5.19), else plain; errors name their cause.
fn new_ring() -> io::Result<IoUring> {
    let attempts: [fn(&mut io_uring::Builder) ; 3] = [
        |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        },
        |b| {
            b.setup_coop_taskrun();
        },
        |_| {},
    ];
    let mut last = None;
    for setup in attempts {
        let mut builder = IoUring::builder();
        builder.setup_cqsize(CQ_ENTRIES);
        setup(&mut builder);
        match builder.build(SQ_ENTRIES) {
            Ok(ring) => return Ok(ring),
            // A flag this kernel does not know: try with fewer.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(setup_error(e)),
        }
    }
    Err(setup_error(last.expect("three attempts")))
}

/// `io_uring_setup`'s error, with its likely cause in words.
fn setup_error(e: io::Error) -> io::Error {
    let cause = match e.raw_os_error() {
        Some(libc::ENOSYS) => "this kernel has no io_uring (Linux 6.0 or later is needed), or a \
                               seccomp filter blocks io_uring_setup (Docker's default profile does)"
            .to_owned(),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|_| "unreadable".to_owned());
            format!(
                "io_uring is forbidden: kernel.io_uring_disabled is {disabled} (0 allows it, 1 \
                 only for the io_uring_group) or a seccomp filter or LSM refuses it"
            )
        }
        Some(libc::ENOMEM) => "the ring cannot be locked in memory: RLIMIT_MEMLOCK is too low \
                               (ulimit -l; kernels before 5.12 charge rings to it)"
            .to_owned(),
        Some(libc::EINVAL) => "this kernel's io_uring is too old for this server (Linux 6.0 or \
                               later is needed)"
            .to_owned(),
        _ => "io_uring_setup failed".to_owned(),
    };
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("the uring model cannot run: {cause} ({e}); use --model selector"),
    )
}

/// Checks that io_uring here has what the server needs (a ring, a provided
/// buffer ring, multishot accept and recv), by using them once on a socket
/// pair; `Unsupported`, naming the cause, if not.
pub(crate) fn probe() -> io::Result<()> {
    let unsupported = |what: &str, e: io::Error| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the uring model cannot run: {what} ({e}); use --model selector"),
        )
    };
    let mut ring = new_ring()?;
    let bufs = BufRing::new(64)?;
    register(&ring, &bufs)
        .map_err(|e| unsupported("provided buffer rings need Linux 5.19", e))?;
    let (a, b) = std::os::unix::net::UnixStream::pair()?;
    io::Write::write_all(&mut &b, b"?")?;
    let entry = opcode::RecvMulti::new(types::Fd(a.as_raw_fd()), BGID)
        .build()
        .user_data(1);
    push(&mut ring, &entry)?;
    ring.submit_and_wait(1)?;
    let res = ring.completion().next().map_or(-libc::EAGAIN, |c| c.result());
    // Closing the pair ends the multishot; its last completion (and the
    // buffer it holds) goes with the ring, before the buffers.
    drop((a, b));
    let _ = ring.submit_and_wait(1);
    ring.completion().for_each(drop);
    let _ = ring.submitter().unregister_buf_ring(BGID);
    drop(ring);
    drop(bufs);
    match res {
        1 => Ok(()),
        r if r < 0 => Err(unsupported(
            "multishot recv needs Linux 6.0",
            io::Error::from_raw_os_error(-r),
        )),
        r => Err(io::Error::other(format!("probe recv returned {r}"))),
    }
}

/// Registers the buffer ring with the kernel.
fn register(ring: &IoUring, bufs: &BufRing) -> io::Result<()> {
    // SAFETY: the mapping of `BUFFERS` entries lives until after the ring is
    // dropped or the group unregistered (`Server` drops them in that order).
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(bufs.ring as u64, BUFFERS, BGID, 0)
    }
}

/// Queues `entry`, submitting what is queued if the queue is full.
fn push(ring: &mut IoUring, entry: &squeue::Entry) -> io::Result<()> {
    loop {
        // SAFETY: every entry this server queues points into memory that
        // lives until its completion: the shared buffers, a connection's
        // `sending` (kept until its send completes), the wake counter.
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
}

/// Serves on the calling thread until `shutdown` is requested.
pub(crate) fn serve(
    listener: TcpListener,
    config: &ServerConfig,
    shutdown: &Shutdown,
) -> io::Result<ServerStats> {
    let ring = new_ring()?;
    let bufs = BufRing::new(config.read_chunk.clamp(64, 64 * 1024))?;
    register(&ring, &bufs).map_err(|e| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the uring model cannot run: provided buffer rings need Linux 5.19 ({e})"),
        )
    })?;
    // SAFETY: eventfd makes a new descriptor, owned here.
    let wake_fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if wake_fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: just made, owned by nobody else.
    let wake = Arc::new(unsafe { OwnedFd::from_raw_fd(wake_fd) });
    let waker = Arc::clone(&wake);
    shutdown.on_request(move || {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to the eventfd we hold.
        unsafe { libc::write(waker.as_raw_fd(), (&one as *const u64).cast(), 8) };
    });
    let count = ConnCount::new(config.max_connections);
    let mut server = Server {
        ring,
        bufs,
        listener: &listener,
        wake,
        conns: Conns::new(config, &count),
        closing: HashMap::new(),
        accept_armed: false,
        rearm: Vec::new(),
        cqes: Vec::new(),
    };
    let result = server.run(shutdown);
    let stats = server.stop();
    result.map(|()| stats)
}

struct Server<'a> {
    ring: IoUring,
    bufs: BufRing,
    listener: &'a TcpListener,
    wake: Arc<OwnedFd>,
    conns: Conns<'a, UringConn>,
    /// Connections closed while the kernel still had requests pointing
    /// into them, by (slab id, low serial): dropped when the last one ends.
    closing: HashMap<(usize, u32), UringConn>,
    accept_armed: bool,
    /// Connections whose multishot recv ended and must be armed again.
    rearm: Vec<usize>,
    /// This turn's completions: (user_data, result, flags).
    cqes: Vec<(u64, i32, u32)>,
}

impl Server<'_> {
    fn run(&mut self, shutdown: &Shutdown) -> io::Result<()> {
        let wake = opcode::PollAdd::new(types::Fd(self.wake.as_raw_fd()), libc::POLLIN as u32)
            .multi(true)
            .build()
            .user_data(tag(Op::Wake, 0, 0));
        push(&mut self.ring, &wake)?;
        while !shutdown.is_requested() {
            let now = Instant::now();
            if !self.accept_armed && self.conns.accepting(now) {
                self.arm_accept()?;
            }
            for id in std::mem::take(&mut self.rearm) {
                self.arm_recv(id)?;
            }
            self.bufs.publish();
            // The one system call of the turn: every queued request goes
            // in, and it waits for at least one completion (or the next
            // idle deadline, or the end of an accept pause).
            self.enter(self.conns.timeout(now))?;
            let now = Instant::now();
            self.cqes.clear();
            self.cqes.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            for i in 0..self.cqes.len() {
                let (data, res, flags) = self.cqes[i];
                self.complete(data, res, flags, now)?;
            }
            while let Some((id, conn)) = self.conns.expire_idle(now) {
                self.retire(id, conn)?;
            }
        }
        Ok(())
    }

    /// `io_uring_enter`: submit, wait for one completion or `timeout`.
    fn enter(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let submitted = match timeout {
            None => self.ring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match submitted {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        let entry = opcode::AcceptMulti::new(types::Fd(self.listener.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(tag(Op::Accept, 0, 0));
        push(&mut self.ring, &entry)?;
        self.accept_armed = true;
        Ok(())
    }

    /// Arms connection `id`'s recv. While it keeps up with its replies
    /// (none pending): a multishot recv, each shot at most `max_buffered /
    /// 256` bytes, so that what the kernel delivers between two looks of
    /// ours (about a hundred shots, measured on 6.18) stays within half of
    /// `max_buffered`. Once replies wait:
    /// one recv of at most the room left, none while full, armed again when
    /// a send makes room.
    fn arm_recv(&mut self, id: usize) -> io::Result<()> {
        let max = self.conns.config().max_buffered;
        let buf_len = self.bufs.buf_len;
        let Some((conn, _)) = self.conns.get_mut(id) else {
            return Ok(());
        };
        if conn.recv_armed || conn.peer_closed {
            return Ok(());
        }
        let fd = types::Fd(conn.stream.as_raw_fd());
        let entry = if conn.pending() == 0 {
            conn.multishot = true;
            let shot = (max / 256).clamp(1, buf_len) as u32;
            opcode::RecvMulti::new(fd, BGID).len(shot).build()
        } else {
            conn.multishot = false;
            let room = max.saturating_sub(conn.pending()).min(buf_len);
            if room == 0 {
                return Ok(());
            }
            opcode::Recv::new(fd, std::ptr::null_mut(), room as u32)
                .buf_group(BGID)
                .build()
                .flags(squeue::Flags::BUFFER_SELECT)
        };
        conn.recv_armed = true;
        push(&mut self.ring, &entry.user_data(tag(Op::Recv, id, conn.serial)))
    }

    fn complete(&mut self, data: u64, res: i32, flags: u32, now: Instant) -> io::Result<()> {
        let (op, id, serial) = untag(data);
        let more = cqueue::more(flags);
        match op {
            x if x == Op::Accept as u8 => self.on_accept(res, more, now),
            x if x == Op::Wake as u8 => {
                let mut counter = [0u8; 8];
                // SAFETY: reads 8 bytes into a live local from our eventfd.
                unsafe { libc::read(self.wake.as_raw_fd(), counter.as_mut_ptr().cast(), 8) };
                Ok(())
            }
            x if x == Op::Cancel as u8 => Ok(()),
            x if x == Op::Recv as u8 => {
                let bid = cqueue::buffer_select(flags);
                let result = self.on_recv(id, serial, res, bid, more, now);
                if let Some(bid) = bid {
                    self.bufs.give(bid);
                }
                result
            }
            x if x == Op::Send as u8 => self.on_send(id, serial, res, now),
            _ => Ok(()),
        }
    }

    fn on_accept(&mut self, res: i32, more: bool, now: Instant) -> io::Result<()> {
        if !more {
            // The multishot ended (an error, or out of descriptors).
            self.accept_armed = false;
        }
        if res < 0 {
            let e = io::Error::from_raw_os_error(-res);
            if super::accept_pause(&e).is_some() {
                self.conns.pause_accept(now);
            }
            return Ok(());
        }
        // SAFETY: the kernel made this descriptor for us: ours alone.
        let stream = TcpStream::from(unsafe { OwnedFd::from_raw_fd(res as RawFd) });
        if let Some(id) = self.conns.admit(stream, now, |_, _| true) {
            self.arm_recv(id)?;
        }
        Ok(())
    }

    /// A recv completion of connection `id`; its buffer is given back by
    /// the caller.
    fn on_recv(
        &mut self,
        id: usize,
        serial: u32,
        res: i32,
        bid: Option<u16>,
        more: bool,
        now: Instant,
    ) -> io::Result<()> {
        let Some(conn) = self.live(id, serial) else {
            if !more {
                self.settle(id, serial, |c| c.recv_armed = false);
            }
            return Ok(());
        };
        if !more {
            conn.recv_armed = false;
        }
        let config = self.conns.config();
        match res {
            0 => {
                // EOF: finish writing, then close.
                let Some(conn) = self.live(id, serial) else {
                    return Ok(());
                };
                conn.peer_closed = true;
                if conn.finished() {
                    return self.close(id);
                }
                Ok(())
            }
            n if n > 0 => {
                let Some(bid) = bid else {
                    return self.close(id);
                };
                let data = self.bufs.data(bid, n as usize);
                protocol::respond(data, config.mode);
                let Some((conn, stats)) = self.conns.get_mut(id) else {
                    return Ok(());
                };
                stats.bytes_in += n as u64;
                conn.last_activity = now;
                conn.out.extend_from_slice(data);
                self.send(id)?;
                let Some((conn, _)) = self.conns.get_mut(id) else {
                    return Ok(());
                };
                if conn.recv_armed
                    && conn.multishot
                    && conn.pending() >= config.max_buffered.div_ceil(4)
                {
                    // The peer does not read its replies as fast as it
                    // sends: end the multishot at once (a round already on
                    // its way still lands) and read no more than there is
                    // room for, one recv at a time.
                    let cancel = opcode::AsyncCancel::new(tag(Op::Recv, id, conn.serial))
                        .build()
                        .user_data(tag(Op::Cancel, id, conn.serial));
                    push(&mut self.ring, &cancel)?;
                    self.ring.submit()?;
                } else if !conn.recv_armed {
                    // A single shot done, or out of provided buffers.
                    self.rearm.push(id);
                }
                Ok(())
            }
            e if e == -libc::ENOBUFS => {
                self.rearm.push(id);
                Ok(())
            }
            e if e == -libc::ECANCELED => {
                self.rearm.push(id);
                Ok(())
            }
            _ => self.close(id), // ECONNRESET and the like
        }
    }

    /// Hands pending replies to the kernel, if no send is in flight.
    fn send(&mut self, id: usize) -> io::Result<()> {
        let Some((conn, _)) = self.conns.get_mut(id) else {
            return Ok(());
        };
        if conn.send_in_flight {
            return Ok(());
        }
        if conn.sent == conn.sending.len() {
            conn.sending.clear();
            conn.sent = 0;
            std::mem::swap(&mut conn.out, &mut conn.sending);
        }
        let rest = &conn.sending[conn.sent..];
        if rest.is_empty() {
            return Ok(());
        }
        let entry = opcode::Send::new(
            types::Fd(conn.stream.as_raw_fd()),
            rest.as_ptr(),
            rest.len().min(u32::MAX as usize) as u32,
        )
        .flags(libc::MSG_NOSIGNAL)
        .build()
        .user_data(tag(Op::Send, id, conn.serial));
        conn.send_in_flight = true;
        push(&mut self.ring, &entry)
    }

    fn on_send(&mut self, id: usize, serial: u32, res: i32, now: Instant) -> io::Result<()> {
        let Some(conn) = self.live(id, serial) else {
            self.settle(id, serial, |c| c.send_in_flight = false);
            return Ok(());
        };
        conn.send_in_flight = false;
        if res <= 0 {
            return self.close(id); // EPIPE, ECONNRESET...
        }
        let Some((conn, stats)) = self.conns.get_mut(id) else {
            return Ok(());
        };
        stats.bytes_out += res as u64;
        conn.sent += res as usize;
        conn.last_activity = now;
        self.send(id)?;
        let Some((conn, _)) = self.conns.get_mut(id) else {
            return Ok(());
        };
        if conn.finished() {
            return self.close(id);
        }
        // Memory back to the allocator once a large burst is sent.
        if !conn.send_in_flight && conn.pending() == 0 && conn.sending.capacity() > 64 * 1024 {
            conn.sending = Vec::new();
            conn.out = Vec::new();
            conn.sent = 0;
        }
        if !conn.recv_armed {
            // A send made room: read again (`arm_recv` decides how much).
            self.rearm.push(id);
        }
        Ok(())
    }

    /// Connection `id` if it is still the one `serial` names.
    fn live(&mut self, id: usize, serial: u32) -> Option<&mut UringConn> {
        self.conns
            .get_mut(id)
            .map(|(c, _)| c)
            .filter(|c| c.serial as u32 == serial)
    }

    /// A completion of a connection already closed: updates it, and drops it
    /// once the kernel has nothing of it any more.
    fn settle(&mut self, id: usize, serial: u32, done: impl FnOnce(&mut UringConn)) {
        if let Some(conn) = self.closing.get_mut(&(id, serial)) {
            done(conn);
            if conn.idle_in_kernel() {
                self.closing.remove(&(id, serial));
            }
        }
    }

    fn close(&mut self, id: usize) -> io::Result<()> {
        match self.conns.close(id) {
            Some(conn) => self.retire(id, conn),
            None => Ok(()),
        }
    }

    /// Ends a closed connection's requests (shutting the socket makes the
    /// recv end with EOF and a send with an error); keeps its memory until
    /// they have completed.
    fn retire(&mut self, id: usize, conn: UringConn) -> io::Result<()> {
        if conn.idle_in_kernel() {
            return Ok(()); // dropped: closed
        }
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        if conn.recv_armed {
            let cancel = opcode::AsyncCancel::new(tag(Op::Recv, id, conn.serial))
                .build()
                .user_data(tag(Op::Cancel, id, conn.serial));
            push(&mut self.ring, &cancel)?;
        }
        self.closing.insert((id & 0xFF_FFFF, conn.serial as u32), conn);
        Ok(())
    }

    /// Closes everything, waits (bounded) for the kernel to finish with the
    /// connections' memory, and returns the counts.
    fn stop(mut self) -> ServerStats {
        let ids: Vec<usize> = self.conns.iter().map(|(id, _)| id).collect();
        for id in ids {
            let _ = self.close(id);
        }
        // The multishot accept holds the listener: until it ends, the port
        // stays bound even after the listener is closed.
        if self.accept_armed {
            let cancel = opcode::AsyncCancel::new(tag(Op::Accept, 0, 0))
                .build()
                .user_data(tag(Op::Cancel, 0, 0));
            if push(&mut self.ring, &cancel).is_err() {
                self.accept_armed = false;
            }
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        while (!self.closing.is_empty() || self.accept_armed) && Instant::now() < deadline {
            if self.enter(Some(Duration::from_millis(10))).is_err() {
                break;
            }
            self.cqes.clear();
            self.cqes.extend(
                self.ring
                    .completion()
                    .map(|c| (c.user_data(), c.result(), c.flags())),
            );
            for i in 0..self.cqes.len() {
                let (data, _, flags) = self.cqes[i];
                let (op, id, serial) = untag(data);
                if let Some(bid) = cqueue::buffer_select(flags) {
                    self.bufs.give(bid);
                }
                if op == Op::Accept as u8 {
                    let res = self.cqes[i].1;
                    if res >= 0 {
                        // SAFETY: a descriptor the kernel made for us.
                        drop(unsafe { OwnedFd::from_raw_fd(res as RawFd) });
                    }
                    if !cqueue::more(flags) {
                        self.accept_armed = false;
                    }
                } else if op == Op::Send as u8 {
                    self.settle(id, serial, |c| c.send_in_flight = false);
                } else if op == Op::Recv as u8 && !cqueue::more(flags) {
                    self.settle(id, serial, |c| c.recv_armed = false);
                }
            }
            self.bufs.publish();
        }
        let Server {
            ring,
            bufs,
            conns,
            closing,
            ..
        } = self;
        let stats = conns.finish();
        // Dropping the ring cancels what is left; memory the kernel might
        // still read is leaked rather than freed under it.
        drop(ring);
        if closing.is_empty() {
            drop(bufs);
        } else {
            std::mem::forget(bufs);
            std::mem::forget(closing);
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_errors_name_their_cause() {
        let cases = [
            (libc::ENOSYS, "seccomp"),
            (libc::EPERM, "io_uring_disabled"),
            (libc::ENOMEM, "RLIMIT_MEMLOCK"),
            (libc::EINVAL, "Linux 6.0"),
        ];
        for (errno, cause) in cases {
            let e = setup_error(io::Error::from_raw_os_error(errno));
            assert_eq!(e.kind(), io::ErrorKind::Unsupported);
            let message = e.to_string();
            assert!(message.contains(cause), "{errno}: {message}");
            assert!(message.contains("--model selector"), "{message}");
        }
    }

    #[test]
    fn user_data_round_trips() {
        let data = tag(Op::Send, 0xAB_CDEF, 0x1_2345_6789);
        assert_eq!(untag(data), (Op::Send as u8, 0xAB_CDEF, 0x2345_6789));
    }
}
