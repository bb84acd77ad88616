//! Memory shared between processes, and the primitives that live in it,
//! behind one seam with a backend per platform family:
//!
//! | | [`Backend::Linux`] (`linux.rs`) | [`Backend::Posix`] (`posix.rs`: macOS, BSDs; Linux on request) |
//! |---|---|---|
//! | memory | a `memfd` | an unlinked file in the temporary directory |
//! | [`RobustMutex`] | glibc's robust, priority-inheriting, process-shared mutex | an `fcntl` record lock on one byte of the file, behind a per-process mutex |
//! | wait / wake a word | `FUTEX_WAIT` / `FUTEX_WAKE` on the shared page | a sleeper slot per waiting thread and a pipe per slot |
//!
//! Both survive the death of any process at any point: a dead holder's lock
//! is taken over (the next holder is told, `owner_died`), a dead waiter
//! takes no wake-up with it. A region records its backend, and a child
//! that receives it uses the same one, whatever its own default.
//!
//! - [`SharedMemory`]: the region, passed to a child as its descriptors.
//! - [`RobustMutex`]: lives in the region; locked through it.
//! - [`RawSemaphore`]: a counter and the region's wait/wake.

use std::ffi::CStr;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU8};
// SeqCst: the semaphore's count and waiters are a Dekker pair (a releaser
// checks for waiters after adding; a waiter registers before checking).
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::inherit;

#[cfg(target_os = "linux")]
mod linux;
mod posix;

#[cfg(target_os = "linux")]
pub(crate) use linux::cloexec_from;

/// Marks every descriptor from `from` up close-on-exec in one call; false:
/// the caller marks them one by one.
#[cfg(not(target_os = "linux"))]
pub(crate) fn cloexec_from(_from: u32) -> bool {
    false
}

/// How `ipc` objects are implemented.
///
/// | | `Linux` | `Posix` (macOS, BSDs; Linux on request) |
/// |---|---|---|
/// | memory | a `memfd` | an unlinked file in the temporary directory |
/// | locks | glibc's robust, priority-inheriting, process-shared mutexes | `fcntl` record locks on one byte of the file, behind a per-process mutex |
/// | sleeping until a word changes | `FUTEX_WAIT` / `FUTEX_WAKE` on the shared page | a sleeper slot per waiting thread and a pipe per slot |
///
/// Both survive the death of any process at any point: a dead holder's
/// lock is taken over (the next holder is told), a dead waiter takes no
/// wake-up with it. An object records its backend, and a child that
/// receives it uses the same one, whatever its own default. The Linux CI
/// runs every `ipc` test on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Backend {
    /// Linux only, and its default: a `memfd`, futexes, and glibc's robust
    /// priority-inheriting mutexes. No system call on any uncontended path.
    Linux,
    /// Every Unix (the only one on macOS and the BSDs): an unlinked file,
    /// `fcntl` record locks (a system call per lock and unlock), and pipes
    /// to wake sleepers. A timed lock wait may take the lock up to 1 ms
    /// after it was freed, and a timed sleep may end up to 1 ms late.
    Posix,
}

/// 0: not chosen yet; 1 + the `Backend` chosen.
static CHOSEN: AtomicU8 = AtomicU8::new(0);

impl Backend {
    /// True if this backend exists on this platform.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Linux => cfg!(target_os = "linux"),
            Backend::Posix => true,
        }
    }

    fn platform_default() -> Backend {
        if Backend::Linux.is_available() {
            Backend::Linux
        } else {
            Backend::Posix
        }
    }
}

/// The backend of the `ipc` objects this process creates from now on:
/// chosen with [`set_backend`], else by `SYNCLINGS_IPC_BACKEND=linux|posix`
/// in the environment, else [`Backend::Linux`] on Linux and
/// [`Backend::Posix`] elsewhere. (Objects received from another process keep
/// the backend they were made with.)
pub fn backend() -> Backend {
    match CHOSEN.load(SeqCst) {
        1 => Backend::Linux,
        2 => Backend::Posix,
        _ => {
            let chosen = match std::env::var("SYNCLINGS_IPC_BACKEND").as_deref() {
                Ok("posix") => Backend::Posix,
                Ok("linux") if Backend::Linux.is_available() => Backend::Linux,
                _ => Backend::platform_default(),
            };
            CHOSEN.store(chosen as u8 + 1, SeqCst);
            chosen
        }
    }
}

/// Chooses the backend of the `ipc` objects this process creates from now
/// on. Fails (changing nothing) if it does not exist on this platform.
///
/// ```
/// use synclings::ipc::{self, Backend};
///
/// ipc::set_backend(Backend::Posix)?; // every Unix has it
/// let q = ipc::Queue::<u32>::new(1)?;
/// q.put(&7)?;
/// assert_eq!(q.get()?, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_backend(backend: Backend) -> io::Result<()> {
    if !backend.is_available() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "the {backend:?} ipc backend does not exist on this platform: use Backend::Posix"
            ),
        ));
    }
    CHOSEN.store(backend as u8 + 1, SeqCst);
    Ok(())
}

/// For test binaries (`synclings::testing::run_test_variants`): every test
/// once per backend this platform has; the POSIX one's tests are named
/// `posix/NAME` where Linux's also runs.
#[doc(hidden)]
pub const BACKEND_VARIANTS: &[(&str, fn())] = &[
    #[cfg(target_os = "linux")]
    ("", || set_backend(Backend::Linux).expect("Linux has it")),
    #[cfg(target_os = "linux")]
    ("posix", || {
        set_backend(Backend::Posix).expect("every Unix has it")
    }),
    #[cfg(not(target_os = "linux"))]
    ("", || {
        set_backend(Backend::Posix).expect("every Unix has it")
    }),
];

/// A file mapped `MAP_SHARED`, whole.
pub(super) struct Mapping {
    fd: Arc<OwnedFd>,
    ptr: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps the first `len` bytes of `fd`'s file.
    fn new(fd: Arc<OwnedFd>, len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh shared mapping of the file; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).expect("mmap does not return null on success");
        Ok(Mapping { fd, ptr, len })
    }

    fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; nothing borrows it any more
        // (the handles that point into it are dropped with it).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The backend's state of one region in this process.
enum Imp {
    #[cfg(target_os = "linux")]
    Linux,
    Posix(posix::Region),
}

/// A shared, zero-initialised memory region of `len` bytes.
pub(crate) struct SharedMemory {
    // Field order: the backend's state points into the mapping.
    imp: Imp,
    map: Mapping,
    /// The caller's length (the POSIX backend keeps its own bytes after it).
    len: usize,
}

// SAFETY: the mapping is plain memory valid in every thread of the process;
// what lives in it is made of atomics and process-shared lock state.
unsafe impl Send for SharedMemory {}
// SAFETY: as above.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// Creates a region of `len` bytes (zeroed) named `name`, with the
    /// current [`backend`]; `wakeups`: [`wait`](Self::wait) and
    /// [`wake_all`](Self::wake_all) will be used on it (the POSIX backend
    /// then makes its sleeper pipes).
    pub(crate) fn create(name: &CStr, len: usize, wakeups: bool) -> io::Result<Self> {
        match backend() {
            #[cfg(target_os = "linux")]
            Backend::Linux => Ok(SharedMemory {
                imp: Imp::Linux,
                map: linux::create(name, len)?,
                len,
            }),
            _ => {
                let (map, region) = posix::create(name, len, wakeups)?;
                Ok(SharedMemory {
                    imp: Imp::Posix(region),
                    map,
                    len,
                })
            }
        }
    }

    /// The backend the region was made with.
    pub(crate) fn backend(&self) -> Backend {
        match self.imp {
            #[cfg(target_os = "linux")]
            Imp::Linux => Backend::Linux,
            Imp::Posix(_) => Backend::Posix,
        }
    }

    /// The start of the region (page-aligned).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.map.as_ptr()
    }

    /// The region's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Sleeps while `*word == expected` (a word inside this region), at most
    /// until `deadline`. Returns on a wake-up, a timeout, a signal or a
    /// changed value: callers re-check.
    pub(crate) fn wait(&self, word: &AtomicU32, expected: u32, deadline: Option<Instant>) {
        match &self.imp {
            #[cfg(target_os = "linux")]
            Imp::Linux => linux::wait(word, expected, deadline),
            Imp::Posix(region) => region.wait(word, expected, deadline),
        }
    }

    /// Wakes every thread (of any process) in [`wait`](Self::wait) on `word`.
    pub(crate) fn wake_all(&self, word: &AtomicU32) {
        match &self.imp {
            #[cfg(target_os = "linux")]
            Imp::Linux => linux::wake_all(word),
            Imp::Posix(region) => region.wake_all(word),
        }
    }

    /// Initialises a mutex in place.
    ///
    /// # Safety
    ///
    /// `m` points into this region, to writable, suitably aligned memory
    /// that nothing else uses yet.
    pub(crate) unsafe fn init_mutex(&self, m: *mut RobustMutex) -> io::Result<()> {
        match &self.imp {
            // SAFETY: the caller's promise.
            #[cfg(target_os = "linux")]
            Imp::Linux => unsafe { linux::init_mutex(std::ptr::addr_of_mut!((*m).linux)) },
            // The all-zero state is a free lock.
            Imp::Posix(_) => {
                let _ = m;
                Ok(())
            }
        }
    }

    /// Locks `mutex` (which lives in this region), waiting until `deadline`
    /// (`None`: forever; a passed deadline: just tries).
    ///
    /// A busy mutex is retried for a while ([`spin_then_yield`]) before the
    /// thread sleeps: the kernel hands a priority-inheriting mutex straight
    /// to a sleeper, so once waiters sleep, every unlock is a wake-up and a
    /// context switch (a convoy: ~80× fewer acquisitions per second with
    /// three processes on two cores than the barging non-inheriting mutex),
    /// while a short critical section is usually over within the spin.
    pub(crate) fn lock<'a>(
        &'a self,
        mutex: &'a RobustMutex,
        deadline: Option<Instant>,
    ) -> io::Result<Locked<'a>> {
        let lock = match &self.imp {
            #[cfg(target_os = "linux")]
            Imp::Linux => AnyLock::Linux(&mutex.linux),
            Imp::Posix(region) => AnyLock::Posix(region.lock(&mutex.posix)),
        };
        let mut rc = lock.try_lock();
        if rc == libc::EBUSY {
            spin_then_yield(deadline, || {
                rc = lock.try_lock();
                rc != libc::EBUSY
            });
        }
        if rc == libc::EBUSY {
            rc = lock.lock_until(deadline);
        }
        let guard = |lock| RobustGuard {
            lock,
            _not_send: PhantomData,
        };
        match rc {
            0 => Ok(Locked::Acquired(guard(lock), false)),
            libc::EOWNERDEAD => {
                // We own the mutex (EOWNERDEAD means acquired): usable again.
                // The caller repairs the guarded state.
                lock.mark_consistent();
                Ok(Locked::Acquired(guard(lock), true))
            }
            libc::ETIMEDOUT | libc::EBUSY => Ok(Locked::TimedOut),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }

    /// Maps a region received from another process (with the wake-up
    /// pipes it came with, if it was made with `wakeups`).
    pub(crate) fn open(backend: Backend, fd: OwnedFd, pipes: Vec<OwnedFd>) -> io::Result<Self> {
        match backend {
            #[cfg(target_os = "linux")]
            Backend::Linux => {
                // SAFETY: fstat fills the zeroed struct for our descriptor.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: as above.
                if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
                    return Err(io::Error::last_os_error());
                }
                let len = st.st_size as usize;
                Ok(SharedMemory {
                    imp: Imp::Linux,
                    map: Mapping::new(Arc::new(fd), len)?,
                    len,
                })
            }
            Backend::Posix => {
                let (map, len, region) = posix::open(fd, pipes)?;
                Ok(SharedMemory {
                    imp: Imp::Posix(region),
                    map,
                    len,
                })
            }
            #[cfg(not(target_os = "linux"))]
            Backend::Linux => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "shared memory of the Linux ipc backend reached a process on another platform",
            )),
        }
    }
}

impl AsFd for SharedMemory {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.map.fd.as_fd()
    }
}

/// A descriptor passed to a child (see `inherit`).
struct Passed<F>(F);

impl<F: AsFd> Serialize for Passed<F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        inherit::fd::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Passed<OwnedFd> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        inherit::fd::deserialize(d).map(Passed)
    }
}

impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (backend, pipes): (Backend, Vec<Passed<&OwnedFd>>) = match &self.imp {
            #[cfg(target_os = "linux")]
            Imp::Linux => (Backend::Linux, Vec::new()),
            Imp::Posix(region) => (Backend::Posix, region.pipe_fds().map(Passed).collect()),
        };
        (backend, Passed(&*self.map.fd), pipes).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (backend, fd, pipes): (Backend, Passed<OwnedFd>, Vec<Passed<OwnedFd>>) =
            Deserialize::deserialize(d)?;
        let pipes = pipes.into_iter().map(|p| p.0).collect();
        SharedMemory::open(backend, fd.0, pipes)
            .map_err(|e| serde::de::Error::custom(inherit::fail(e.to_string())))
    }
}

/// A robust, process-shared, priority-inheriting mutex, to be placed in
/// [`SharedMemory`].
///
/// # Why priority inheritance: the kernel hands the lock over
///
/// A plain robust mutex (glibc's default protocol) hands the lock over in
/// user space: the unlocker stores 0 and, if the word had the "waiters" bit,
/// wakes *one* sleeper with `FUTEX_WAKE`, which then takes the lock and sets
/// the bit again for the others. If that sleeper is killed after the wake-up
/// and before it takes the lock, another process may grab the free word on
/// the fast path, without the bit, and the remaining sleepers are never
/// woken: they sleep next to a free lock forever. (Seen: a survivor asleep in
/// `FUTEX_WAIT` expecting "tid | waiters", the word holding "tid" alone;
/// `tests/ipc_kill.rs` stranded its survivors within 20 rounds.) The
/// kernel's robust list repairs a dead *owner*, not a dead *waiter*.
///
/// With `PTHREAD_PRIO_INHERIT` the contended paths are `FUTEX_LOCK_PI` and
/// `FUTEX_UNLOCK_PI`: the kernel keeps the waiters in its own queue and, at
/// unlock, makes the first of them the owner (it writes that waiter's thread
/// id into the word) before waking it. A waiter killed while queued is
/// dequeued by the kernel; a waiter killed right after it was made the owner
/// is a dead owner, which the robust list repairs (the next owner gets
/// `EOWNERDEAD`). No wake-up can be lost. The uncontended paths are the same
/// single compare-and-swap as before.
#[repr(C)]
pub(crate) struct RobustMutex {
    #[cfg(target_os = "linux")]
    linux: linux::MutexState,
    posix: posix::MutexState,
}

/// The result of a lock attempt that did not fail.
pub(crate) enum Locked<'a> {
    /// The mutex is ours; `owner_died` is true if its previous owner died
    /// holding it (the caller repairs the state it guards).
    Acquired(RobustGuard<'a>, bool),
    /// The deadline passed (or, for a try, the mutex was held).
    TimedOut,
}

/// What a backend's lock does; each returns 0, `EOWNERDEAD` (acquired from a
/// dead owner), `EBUSY`/`ETIMEDOUT`, or another error number (`EDEADLK`: the
/// calling thread holds it).
trait RawLock {
    fn try_lock(&self) -> libc::c_int;
    fn lock_until(&self, deadline: Option<Instant>) -> libc::c_int;
    fn mark_consistent(&self);
    fn unlock(&self);
}

enum AnyLock<'a> {
    #[cfg(target_os = "linux")]
    Linux(&'a linux::MutexState),
    Posix(posix::Lock<'a>),
}

impl RawLock for AnyLock<'_> {
    fn try_lock(&self) -> libc::c_int {
        match self {
            #[cfg(target_os = "linux")]
            AnyLock::Linux(m) => m.try_lock(),
            AnyLock::Posix(l) => l.try_lock(),
        }
    }

    fn lock_until(&self, deadline: Option<Instant>) -> libc::c_int {
        match self {
            #[cfg(target_os = "linux")]
            AnyLock::Linux(m) => m.lock_until(deadline),
            AnyLock::Posix(l) => l.lock_until(deadline),
        }
    }

    fn mark_consistent(&self) {
        match self {
            #[cfg(target_os = "linux")]
            AnyLock::Linux(m) => m.mark_consistent(),
            AnyLock::Posix(l) => l.mark_consistent(),
        }
    }

    fn unlock(&self) {
        match self {
            #[cfg(target_os = "linux")]
            AnyLock::Linux(m) => m.unlock(),
            AnyLock::Posix(l) => l.unlock(),
        }
    }
}

/// Holds a [`RobustMutex`]; unlocks on drop. Not `Send`: a pthread mutex is
/// unlocked by the thread that locked it.
pub(crate) struct RobustGuard<'a> {
    lock: AnyLock<'a>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for RobustGuard<'_> {
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

/// Checks of a condition, one `PAUSE` apart, before yielding.
const SPINS: u32 = 200;
/// How long a waiter yields (checking after each yield) before it sleeps in
/// the kernel, counted from the end of the spin.
const YIELD_FOR: Duration = Duration::from_micros(50);

/// Waits for `ready()` without sleeping in the kernel: checks it after every
/// `PAUSE`, [`SPINS`] times (about 3 µs), then after every `sched_yield`
/// until [`YIELD_FOR`] has passed; false if it never held (or the deadline
/// passed first: a passed deadline gives one check).
///
/// Why this long: a wake-up on the other core costs 25–45 µs on a small VM,
/// so a peer that answers within the spin saves both sides that cost.
/// Checking after every `PAUSE` matters: an exponential backoff checks only
/// every 64 `PAUSE`s (~1 µs) at its end. Yields, not more `PAUSE`s, after the
/// first microseconds: a peer sharing this core gets it.
pub(crate) fn spin_then_yield(deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
    if ready() {
        return true;
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return false;
    }
    for _ in 0..SPINS {
        std::hint::spin_loop();
        if ready() {
            return true;
        }
    }
    let start = Instant::now();
    while start.elapsed() < YIELD_FOR {
        std::thread::yield_now();
        if ready() {
            return true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
    }
    false
}

/// A counting semaphore for shared memory. The all-zero value is a
/// semaphore with count 0.
///
/// A release wakes *every* sleeper, not one per permit. `FUTEX_WAKE` takes a
/// sleeper off the kernel's queue; if that process is killed before it runs
/// again, the wake-up dies with it, the permit stays in `count`, and the
/// other sleepers (already asleep, so they never see the count change) sleep
/// on. Waking all of them costs the losers a return to sleep (a thundering
/// herd, as many wake-ups as waiters per release), but no death can strand
/// a live waiter next to a free permit. (`tests/ipc_kill.rs` stranded the
/// survivors within 10 rounds with one wake-up per permit.)
#[repr(C)]
pub(crate) struct RawSemaphore {
    /// Available permits; the word sleepers wait on.
    count: AtomicU32,
    /// Threads (of any process) inside `acquire`'s sleep loop. A waiter
    /// killed while registered leaves this too high, which only costs
    /// needless wake-up calls.
    waiters: AtomicU32,
}

impl RawSemaphore {
    /// Sets the count (before the memory is shared).
    pub(crate) fn set(&self, count: u32) {
        self.count.store(count, SeqCst);
    }

    /// The count now (a snapshot).
    pub(crate) fn value(&self) -> u32 {
        self.count.load(SeqCst)
    }

    /// Takes a permit if one is free, without waiting.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut current = self.count.load(SeqCst);
        while current > 0 {
            match self
                .count
                .compare_exchange_weak(current, current - 1, SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(actual) => current = actual,
            }
        }
        false
    }

    /// Takes a permit, waiting until `deadline` (`None`: forever); false if
    /// the deadline passed first. `shm` is the region this semaphore lives in.
    pub(crate) fn acquire(&self, shm: &SharedMemory, deadline: Option<Instant>) -> bool {
        if self.try_acquire() {
            return true;
        }
        self.waiters.fetch_add(1, SeqCst);
        let acquired = loop {
            if self.try_acquire() {
                break true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break false;
            }
            shm.wait(&self.count, 0, deadline);
        };
        self.waiters.fetch_sub(1, SeqCst);
        acquired
    }

    /// Returns `n` permits and wakes every waiter (see the type's docs: waking
    /// only `n` loses the permits when a woken waiter is killed).
    pub(crate) fn release(&self, shm: &SharedMemory, n: u32) {
        self.count.fetch_add(n, SeqCst);
        if self.waiters.load(SeqCst) > 0 {
            shm.wake_all(&self.count);
        }
    }
}
