//! Memory shared between processes, and the two primitives that live in it.
//!
//! - [`SharedMemory`]: a `memfd` mapped `MAP_SHARED`; passed to a child as
//!   its descriptor, which the child maps again.
//! - [`RobustMutex`]: a POSIX mutex with `PTHREAD_PROCESS_SHARED`,
//!   `PTHREAD_MUTEX_ERRORCHECK`, `PTHREAD_PRIO_INHERIT` (the kernel hands
//!   it to the next waiter) and `PTHREAD_MUTEX_ROBUST`: when its owner dies (thread or whole process),
//!   the kernel marks it, and the next locker gets it with `owner_died =
//!   true` and repairs what the dead owner left half-done.
//! - [`RawSemaphore`]: a counter and a futex word. Waiting sleeps in the
//!   kernel (`FUTEX_WAIT` on the shared page, not the private variant), with a
//!   monotonic timeout.

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;
// SeqCst: the semaphore's count and waiters are a Dekker pair (a releaser
// checks for waiters after adding; a waiter registers before checking).
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::inherit;

/// A shared, zero-initialised memory region of `len` bytes.
pub(crate) struct SharedMemory {
    fd: OwnedFd,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory valid in every thread of the process;
// what lives in it is made of atomics and process-shared pthread objects.
unsafe impl Send for SharedMemory {}
// SAFETY: as above.
unsafe impl Sync for SharedMemory {}

impl SharedMemory {
    /// Creates a region of `len` bytes (zeroed) named `name` (for
    /// `/proc/PID/maps`).
    pub(crate) fn create(name: &std::ffi::CStr, len: usize) -> io::Result<Self> {
        // SAFETY: a valid C string and flags; the result is checked.
        let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: memfd_create returned a fresh descriptor that we own.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) };
        // SAFETY: ftruncate on our own descriptor; the new pages read as zero.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Self::map(fd, len)
    }

    /// Maps a region received from another process; it must be at least
    /// `min_len` bytes.
    pub(crate) fn open(fd: OwnedFd, min_len: usize) -> io::Result<Self> {
        // SAFETY: fstat fills the zeroed struct for our descriptor.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let len = st.st_size as usize;
        if len < min_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("shared memory of {len} bytes, {min_len} expected"),
            ));
        }
        Self::map(fd, len)
    }

    fn map(fd: OwnedFd, len: usize) -> io::Result<Self> {
        // SAFETY: a fresh shared mapping of the whole file; checked below.
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
        Ok(SharedMemory { fd, ptr, len })
    }

    /// The start of the region (page-aligned).
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The region's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; nothing borrows it any more
        // (the handles that point into it are dropped with it).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

impl AsFd for SharedMemory {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Serialize for SharedMemory {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        inherit::fd::serialize(&self.fd, s)
    }
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fd: OwnedFd = inherit::fd::deserialize(d)?;
        SharedMemory::open(fd, 0)
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
    inner: std::cell::UnsafeCell<libc::pthread_mutex_t>,
}

/// The result of a lock attempt that did not fail.
pub(crate) enum Locked<'a> {
    /// The mutex is ours; `owner_died` is true if its previous owner died
    /// holding it (the caller repairs the state it guards).
    Acquired(RobustGuard<'a>, bool),
    /// The deadline passed (or, for a try, the mutex was held).
    TimedOut,
}

impl RobustMutex {
    /// Initialises the mutex in place.
    ///
    /// # Safety
    ///
    /// `this` points to writable, suitably aligned memory that nothing else
    /// uses yet, and stays mapped while the mutex is used.
    pub(crate) unsafe fn init(this: *mut RobustMutex) -> io::Result<()> {
        // SAFETY: the attribute object is initialised by pthread_mutexattr_init
        // before any other use, and destroyed at the end.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut attr))?;
            let shared = libc::PTHREAD_PROCESS_SHARED;
            let result = check(libc::pthread_mutexattr_setpshared(&mut attr, shared))
                .and_then(|()| {
                    check(libc::pthread_mutexattr_setrobust(
                        &mut attr,
                        libc::PTHREAD_MUTEX_ROBUST,
                    ))
                })
                // The kernel owns the hand-over (FUTEX_LOCK_PI /
                // FUTEX_UNLOCK_PI): see the type's docs.
                .and_then(|()| {
                    check(libc::pthread_mutexattr_setprotocol(
                        &mut attr,
                        libc::PTHREAD_PRIO_INHERIT,
                    ))
                })
                // Relocking from the holding thread fails (EDEADLK) instead
                // of hanging forever.
                .and_then(|()| {
                    check(libc::pthread_mutexattr_settype(
                        &mut attr,
                        libc::PTHREAD_MUTEX_ERRORCHECK,
                    ))
                })
                .and_then(|()| check(libc::pthread_mutex_init((*this).inner.get(), &attr)));
            libc::pthread_mutexattr_destroy(&mut attr);
            result
        }
    }

    /// Locks, waiting until `deadline` (`None`: forever; a passed deadline:
    /// just tries).
    ///
    /// A busy mutex is retried for a while ([`spin_then_yield`]) before the
    /// thread sleeps in the kernel: the kernel hands a priority-inheriting
    /// mutex straight to a sleeper, so once waiters sleep, every unlock is a
    /// wake-up and a context switch (a convoy: ~80× fewer acquisitions per
    /// second with three processes on two cores than the barging
    /// non-inheriting mutex), while a short critical section is usually over
    /// within the spin.
    pub(crate) fn lock(&self, deadline: Option<Instant>) -> io::Result<Locked<'_>> {
        let m = self.inner.get();
        // SAFETY: the mutex was initialised by `init` and is mapped.
        let try_lock = || unsafe { libc::pthread_mutex_trylock(m) };
        let mut rc = try_lock();
        if rc == libc::EBUSY {
            spin_then_yield(deadline, || {
                rc = try_lock();
                rc != libc::EBUSY
            });
        }
        if rc == libc::EBUSY {
            rc = match deadline {
                // SAFETY: as above.
                None => unsafe { libc::pthread_mutex_lock(m) },
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        try_lock()
                    } else {
                        // POSIX times the wait on CLOCK_REALTIME: convert the
                        // monotonic deadline (a clock step shortens or
                        // stretches it).
                        let abs = realtime_after(left);
                        // SAFETY: as above; `abs` is a valid timespec.
                        unsafe { libc::pthread_mutex_timedlock(m, &abs) }
                    }
                }
            };
        }
        let guard = || RobustGuard {
            mutex: self,
            _not_send: PhantomData,
        };
        match rc {
            0 => Ok(Locked::Acquired(guard(), false)),
            libc::EOWNERDEAD => {
                // SAFETY: we own the mutex (EOWNERDEAD means acquired); mark it
                // usable again. The caller repairs the guarded state.
                unsafe { libc::pthread_mutex_consistent(m) };
                Ok(Locked::Acquired(guard(), true))
            }
            libc::ETIMEDOUT | libc::EBUSY => Ok(Locked::TimedOut),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// Holds a [`RobustMutex`]; unlocks on drop. Not `Send`: a pthread mutex is
/// unlocked by the thread that locked it.
pub(crate) struct RobustGuard<'a> {
    mutex: &'a RobustMutex,
    _not_send: PhantomData<*const ()>,
}

impl Drop for RobustGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread holds the mutex (the guard exists).
        unsafe { libc::pthread_mutex_unlock(self.mutex.inner.get()) };
    }
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// The CLOCK_REALTIME time `left` from now.
fn realtime_after(left: std::time::Duration) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills `now`.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let nanos = now.tv_nsec as u64 + u64::from(left.subsec_nanos());
    libc::timespec {
        tv_sec: now
            .tv_sec
            .saturating_add(left.as_secs().min(i64::MAX as u64 / 2) as libc::time_t)
            .saturating_add((nanos / 1_000_000_000) as libc::time_t),
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
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

/// Sleeps while `*word == expected`, at most until `deadline`. Returns on a
/// wake-up, a timeout, a signal or a changed value: callers re-check.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) {
    let timeout = deadline.map(|d| {
        let left = d.saturating_duration_since(Instant::now());
        libc::timespec {
            tv_sec: left.as_secs().min(i64::MAX as u64) as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        }
    });
    let timeout_ptr = timeout
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: FUTEX_WAIT reads the aligned u32 behind `word` (valid for the
    // call) and takes a relative timeout or null. Not FUTEX_PRIVATE: the word
    // may be in memory shared with other processes.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            timeout_ptr,
        );
    }
}

/// Wakes up to `n` sleepers in [`futex_wait`] on `word`.
pub(crate) fn futex_wake(word: &AtomicU32, n: u32) {
    let n = n.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n);
    }
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
    /// Available permits; the futex word.
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
    /// the deadline passed first.
    pub(crate) fn acquire(&self, deadline: Option<Instant>) -> bool {
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
            futex_wait(&self.count, 0, deadline);
        };
        self.waiters.fetch_sub(1, SeqCst);
        acquired
    }

    /// Returns `n` permits and wakes every waiter (see the type's docs: waking
    /// only `n` loses the permits when a woken waiter is killed).
    pub(crate) fn release(&self, n: u32) {
        self.count.fetch_add(n, SeqCst);
        if self.waiters.load(SeqCst) > 0 {
            futex_wake(&self.count, u32::MAX);
        }
    }
}
