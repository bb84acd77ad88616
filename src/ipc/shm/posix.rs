//! The portable POSIX backend (macOS, the BSDs; also built and tested on
//! Linux with [`Backend::Posix`](super::Backend::Posix)): no `memfd`, no
//! futex, no robust mutexes.
//!
//! - **Memory**: a file created in the temporary directory and unlinked at
//!   once, sized with `ftruncate` and mapped `MAP_SHARED`. Its descriptor is
//!   what a child inherits. One descriptor per file per process (a registry
//!   keyed by device and inode), because closing *any* descriptor of a file
//!   drops the process's record locks on it.
//! - **Locks**: `fcntl` record locks on one byte of that file (the byte at
//!   the mutex's offset): the kernel releases them when their process dies.
//!   They belong to a process, not a thread, so a per-process mutex orders
//!   the threads first. A `holder` word in shared memory (the holder's pid,
//!   cleared before unlocking) tells the next holder that the previous one
//!   died holding the lock. A wait without a deadline sleeps in `F_SETLKW`;
//!   a timed wait has no system call to sleep in, so it retries `F_SETLK`
//!   with a backoff of 20 µs doubling to 1 ms: it may take the lock up to
//!   1 ms after it was freed.
//! - **Wake-ups**: a region at the end of the mapping holds [`SLOTS`] sleeper
//!   slots, and every process holds a pipe per slot (created with the
//!   memory, inherited with it). A sleeper claims a free slot (its pid),
//!   drains the slot's pipe, writes the offset of the word it sleeps on,
//!   re-checks the word and `poll`s the pipe; a waker, after its store,
//!   writes a byte into the pipe of every slot sleeping on that word. A
//!   sleeper killed in its slot leaves it claimed; a sleeper that finds no
//!   free slot takes over one whose process is dead (`kill(pid, 0)`). With
//!   more live sleepers than slots, the extra ones sleep in steps of 1 ms
//!   (a bounded stall, no lost wake-up). `poll` counts in milliseconds: a
//!   timed sleep may end up to 1 ms late.

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;
// SeqCst: a sleeper's slot stores and its re-check of the word, and a
// waker's store of the word and its scan of the slots, are a Dekker pair.
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::{Mapping, RawLock};
use crate::ipc::set_nonblocking;

/// Sleeper slots (and pipes: two descriptors each per process) per shared
/// region that has wake-ups.
pub(super) const SLOTS: usize = 8;

/// The POSIX backend's part of a [`RobustMutex`](super::RobustMutex).
#[repr(C)]
#[derive(Default)]
pub(super) struct MutexState {
    /// The pid of the process holding the lock; 0 when free. Written by the
    /// holder only (after it took the record lock, before it releases it).
    holder: AtomicU32,
}

/// A sleeper slot in shared memory.
#[repr(C)]
struct Slot {
    /// The pid of the sleeper that claimed it; 0: free.
    owner: AtomicU32,
    /// 1 + the offset of the word the sleeper waits on; 0: none yet.
    word: AtomicU32,
}

/// The region after the caller's bytes.
#[repr(C)]
struct Tail {
    /// The caller's length in bytes.
    len: u64,
    /// 1 if the region has sleeper slots (and pipes).
    has_slots: u64,
    slots: [Slot; SLOTS],
}

/// A file of shared memory as this process holds it: one per file.
pub(super) struct File {
    fd: Arc<OwnedFd>,
    /// The per-process half of each lock, by the mutex's offset.
    locals: Mutex<HashMap<usize, Arc<LocalLock>>>,
}

/// The files this process holds, by (device, inode).
type Registry = Vec<((u64, u64), Weak<File>)>;
static FILES: Mutex<Registry> = Mutex::new(Vec::new());

fn identity(fd: RawFd) -> io::Result<(u64, u64)> {
    // SAFETY: fstat fills the zeroed struct for a descriptor we hold.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((st.st_dev as u64, st.st_ino as u64))
}

/// The process's `File` for `fd`'s file: an existing one (and `fd` is
/// closed: this runs while a child decodes its arguments, before it can hold
/// a lock that the close would drop) or a new one.
fn register(fd: OwnedFd) -> io::Result<Arc<File>> {
    let id = identity(fd.as_raw_fd())?;
    let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
    files.retain(|(_, f)| f.strong_count() > 0);
    if let Some(file) = files
        .iter()
        .find(|(i, _)| *i == id)
        .and_then(|(_, f)| f.upgrade())
    {
        return Ok(file);
    }
    let file = Arc::new(File {
        fd: Arc::new(fd),
        locals: Mutex::new(HashMap::new()),
    });
    files.push((id, Arc::downgrade(&file)));
    Ok(file)
}

/// The POSIX backend's handle state: the file and the sleepers' pipes.
pub(super) struct Region {
    file: Arc<File>,
    /// (read end, write end) per slot; empty without wake-ups.
    pipes: Vec<(OwnedFd, OwnedFd)>,
    tail: *const Tail,
    /// The start of the mapping (for the offsets of words).
    base: *const u8,
}

// SAFETY: `tail` and `base` point into the mapping owned by the same
// `SharedMemory`; what they reach is atomics.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

fn tail_offset(len: usize) -> usize {
    len.next_multiple_of(std::mem::align_of::<Tail>())
}

/// A new region of `len` bytes (zeroed), with sleeper slots and pipes if
/// `wakeups`.
pub(super) fn create(name: &CStr, len: usize, wakeups: bool) -> io::Result<(Mapping, Region)> {
    let fd = unlinked_file(name)?;
    let total = tail_offset(len) + std::mem::size_of::<Tail>();
    // SAFETY: ftruncate on our own descriptor; the new bytes read as zero.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), total as libc::off_t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let file = register(fd)?;
    let mapping = Mapping::new(file.fd.clone(), total)?;
    // SAFETY: the tail lies inside the fresh, zeroed mapping, aligned, and
    // nobody else sees the mapping yet.
    unsafe {
        let tail = mapping.as_ptr().add(tail_offset(len)).cast::<Tail>();
        (*tail).len = len as u64;
        (*tail).has_slots = u64::from(wakeups);
    }
    let pipes = if wakeups {
        (0..SLOTS)
            .map(|_| nonblocking_pipe())
            .collect::<io::Result<_>>()?
    } else {
        Vec::new()
    };
    let region = Region::new(file, pipes, &mapping, len);
    Ok((mapping, region))
}

/// Maps a region received from another process, with the pipes it came
/// with; returns the mapping, the caller's length and the region.
pub(super) fn open(fd: OwnedFd, pipes: Vec<OwnedFd>) -> io::Result<(Mapping, usize, Region)> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    let file = register(fd)?;
    // SAFETY: fstat fills the zeroed struct for a descriptor we hold.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    if unsafe { libc::fstat(file.fd.as_raw_fd(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let total = st.st_size as usize;
    if total < std::mem::size_of::<Tail>() {
        return Err(bad("the shared memory is too small"));
    }
    let mapping = Mapping::new(file.fd.clone(), total)?;
    let tail_at = total - std::mem::size_of::<Tail>();
    // SAFETY: the tail's place is inside the mapping; only its plain fields
    // are read here.
    let (len, has_slots) = unsafe {
        let tail = mapping.as_ptr().add(tail_at).cast::<Tail>();
        ((*tail).len as usize, (*tail).has_slots != 0)
    };
    if tail_offset(len) != tail_at {
        return Err(bad("the shared memory's length does not match its header"));
    }
    if has_slots == pipes.is_empty() || (has_slots && pipes.len() != 2 * SLOTS) {
        return Err(bad("the shared memory came without its wake-up pipes"));
    }
    let mut pipes = pipes.into_iter();
    let mut pairs = Vec::new();
    while let (Some(r), Some(w)) = (pipes.next(), pipes.next()) {
        pairs.push((r, w));
    }
    let region = Region::new(file, pairs, &mapping, len);
    Ok((mapping, len, region))
}

/// A file in the temporary directory, unlinked as soon as it is open.
fn unlinked_file(name: &CStr) -> io::Result<OwnedFd> {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir();
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(
            "{}-{}-{n}-{nanos:x}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in TMPDIR"))?;
        // SAFETY: a valid C path and flags; the result is checked.
        let raw = unsafe {
            libc::open(
                c_path.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                0o600 as libc::c_uint,
            )
        };
        if raw < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::AlreadyExists {
                continue;
            }
            return Err(e);
        }
        // SAFETY: open returned a fresh descriptor that we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: unlinking the path we just created; the open file stays.
        unsafe { libc::unlink(c_path.as_ptr()) };
        return Ok(fd);
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name for shared memory in the temporary directory",
    ))
}

fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = std::io::pipe()?;
    let (r, w) = (OwnedFd::from(r), OwnedFd::from(w));
    set_nonblocking(r.as_fd())?;
    set_nonblocking(w.as_fd())?;
    Ok((r, w))
}

impl Region {
    fn new(file: Arc<File>, pipes: Vec<(OwnedFd, OwnedFd)>, mapping: &Mapping, len: usize) -> Self {
        // SAFETY: the tail is inside the mapping (checked by the callers).
        let tail = unsafe { mapping.as_ptr().add(tail_offset(len)).cast::<Tail>() };
        Region {
            file,
            pipes,
            tail,
            base: mapping.as_ptr(),
        }
    }

    /// The descriptors a child needs besides the file's: every pipe end.
    pub(super) fn pipe_fds(&self) -> impl Iterator<Item = &OwnedFd> {
        self.pipes.iter().flat_map(|(r, w)| [r, w])
    }

    fn slots(&self) -> &[Slot; SLOTS] {
        // SAFETY: the tail lives as long as the mapping, which outlives
        // `self`'s use (both belong to one `SharedMemory`).
        unsafe { &(*self.tail).slots }
    }

    fn word_key(&self, word: &AtomicU32) -> u32 {
        (word as *const AtomicU32 as usize - self.base as usize) as u32 + 1
    }

    /// Sleeps while `*word == expected`, at most until `deadline`; returns on
    /// a wake-up, a timeout or a changed value: callers re-check.
    pub(super) fn wait(&self, word: &AtomicU32, expected: u32, deadline: Option<Instant>) {
        let Some(i) = self.claim() else {
            // More sleepers than slots (or none): sleep a step.
            let step = Duration::from_millis(1);
            let left = deadline.map_or(step, |d| d.saturating_duration_since(Instant::now()));
            std::thread::sleep(left.min(step));
            return;
        };
        let slot = &self.slots()[i];
        let (r, _) = &self.pipes[i];
        drain(r);
        slot.word.store(self.word_key(word), SeqCst);
        if word.load(SeqCst) == expected {
            let timeout_ms = deadline.map_or(-1, |d| {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up: never back before the deadline for nothing.
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int
            });
            let mut pfd = libc::pollfd {
                fd: r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd; poll only writes its `revents`.
            unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        }
        slot.word.store(0, SeqCst);
        slot.owner.store(0, SeqCst);
    }

    /// A free slot, claimed for this process; or one whose process died.
    fn claim(&self) -> Option<usize> {
        if self.pipes.is_empty() {
            return None;
        }
        let me = std::process::id();
        let slots = self.slots();
        (0..SLOTS)
            .find(|&i| {
                slots[i]
                    .owner
                    .compare_exchange(0, me, SeqCst, SeqCst)
                    .is_ok()
            })
            .or_else(|| {
                (0..SLOTS).find(|&i| {
                    let owner = slots[i].owner.load(SeqCst);
                    owner != me
                        && !alive(owner)
                        && slots[i]
                            .owner
                            .compare_exchange(owner, me, SeqCst, SeqCst)
                            .is_ok()
                })
            })
    }

    /// Wakes every sleeper in [`wait`](Self::wait) on `word`.
    pub(super) fn wake_all(&self, word: &AtomicU32) {
        let key = self.word_key(word);
        for (slot, (_, w)) in self.slots().iter().zip(&self.pipes) {
            if slot.owner.load(SeqCst) != 0 && slot.word.load(SeqCst) == key {
                // A full pipe (EAGAIN) already holds a wake-up.
                // SAFETY: writing one byte from a valid buffer.
                unsafe { libc::write(w.as_raw_fd(), b"!".as_ptr().cast(), 1) };
            }
        }
    }

    /// The lock of the mutex `state` at its offset in this region.
    pub(super) fn lock<'a>(&'a self, state: &'a MutexState) -> Lock<'a> {
        let offset = state as *const MutexState as usize - self.base as usize;
        let local = self
            .file
            .locals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(offset)
            .or_default()
            .clone();
        Lock {
            fd: self.file.fd.as_raw_fd(),
            offset,
            state,
            local,
        }
    }
}

/// Reads every byte waiting in a non-blocking pipe.
fn drain(r: &OwnedFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reading into a valid buffer of its length.
    while unsafe { libc::read(r.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// True unless process `pid` is known to be gone.
fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
    exists || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The per-process half of a lock: which thread of this process holds it.
#[derive(Default)]
pub(super) struct LocalLock {
    owner: Mutex<Option<ThreadId>>,
    freed: Condvar,
}

/// One lock of a region: the record lock on byte `offset` of the file,
/// behind the per-process lock.
pub(super) struct Lock<'a> {
    fd: RawFd,
    offset: usize,
    state: &'a MutexState,
    local: Arc<LocalLock>,
}

impl Lock<'_> {
    /// Takes the per-process half; EBUSY / ETIMEDOUT / EDEADLK on failure.
    fn lock_local(&self, deadline: Option<Instant>) -> libc::c_int {
        let me = std::thread::current().id();
        let mut owner: MutexGuard<'_, Option<ThreadId>> =
            self.local.owner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *owner {
                None => {
                    *owner = Some(me);
                    return 0;
                }
                Some(t) if t == me => {
                    return if deadline.is_some() {
                        libc::EBUSY
                    } else {
                        libc::EDEADLK
                    };
                }
                Some(_) => {
                    owner = match deadline {
                        None => self
                            .local
                            .freed
                            .wait(owner)
                            .unwrap_or_else(|e| e.into_inner()),
                        Some(d) => {
                            let left = d.saturating_duration_since(Instant::now());
                            if left.is_zero() {
                                return libc::EBUSY;
                            }
                            self.local
                                .freed
                                .wait_timeout(owner, left)
                                .unwrap_or_else(|e| e.into_inner())
                                .0
                        }
                    }
                }
            }
        }
    }

    fn unlock_local(&self) {
        *self.local.owner.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.local.freed.notify_one();
    }

    /// `fcntl` on the lock's byte: `F_SETLK` or `F_SETLKW`, a lock type.
    fn record(&self, cmd: libc::c_int, kind: libc::c_int) -> libc::c_int {
        // SAFETY: a zeroed flock is a valid starting value on every platform.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind as _;
        fl.l_whence = libc::SEEK_SET as _;
        fl.l_start = self.offset as libc::off_t;
        fl.l_len = 1;
        loop {
            // SAFETY: fcntl with a valid flock on a descriptor this region
            // holds open.
            if unsafe { libc::fcntl(self.fd, cmd, &fl) } == 0 {
                return 0;
            }
            let e = io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            if e != libc::EINTR {
                return e;
            }
        }
    }

    /// After the record lock was taken: marks this process the holder, and
    /// says whether a dead holder left it.
    fn taken(&self) -> libc::c_int {
        if self.state.holder.swap(std::process::id(), SeqCst) == 0 {
            0
        } else {
            libc::EOWNERDEAD
        }
    }
}

impl RawLock for Lock<'_> {
    fn try_lock(&self) -> libc::c_int {
        // A held lock is seen without a system call (a dead holder's stale
        // pid only sends this to the slow path).
        if self.state.holder.load(SeqCst) != 0 {
            return libc::EBUSY;
        }
        let rc = self.lock_local(Some(Instant::now()));
        if rc != 0 {
            return rc;
        }
        match self.record(libc::F_SETLK, libc::F_WRLCK as libc::c_int) {
            0 => self.taken(),
            _ => {
                self.unlock_local();
                libc::EBUSY
            }
        }
    }

    fn lock_until(&self, deadline: Option<Instant>) -> libc::c_int {
        let rc = self.lock_local(deadline);
        if rc != 0 {
            return if rc == libc::EBUSY {
                libc::ETIMEDOUT
            } else {
                rc
            };
        }
        let wrlck = libc::F_WRLCK as libc::c_int;
        let rc = match deadline {
            None => self.record(libc::F_SETLKW, wrlck),
            Some(d) => {
                let mut pause = Duration::from_micros(20);
                loop {
                    if self.record(libc::F_SETLK, wrlck) == 0 {
                        break 0;
                    }
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break libc::ETIMEDOUT;
                    }
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(1));
                }
            }
        };
        if rc == 0 {
            self.taken()
        } else {
            self.unlock_local();
            rc
        }
    }

    fn mark_consistent(&self) {}

    fn unlock(&self) {
        self.state.holder.store(0, SeqCst);
        self.record(libc::F_SETLK, libc::F_UNLCK as libc::c_int);
        self.unlock_local();
    }
}
