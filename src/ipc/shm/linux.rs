//! The Linux backend: a `memfd`, futexes on the shared pages, and glibc's
//! robust, priority-inheriting, process-shared mutexes.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;
use std::time::Instant;

use super::{Mapping, RawLock};

/// A `memfd` of `len` bytes (zeroed), mapped.
pub(super) fn create(name: &CStr, len: usize) -> io::Result<Mapping> {
    // SAFETY: a valid C string and flags; the result is checked.
    let raw = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a fresh descriptor that we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ftruncate on our own descriptor; the new pages read as zero.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Mapping::new(std::sync::Arc::new(fd), len)
}

/// The Linux backend's part of a [`RobustMutex`](super::RobustMutex).
#[repr(C)]
pub(super) struct MutexState {
    pthread: std::cell::UnsafeCell<libc::pthread_mutex_t>,
}

/// Initialises the mutex in place: process-shared, robust, error-checking,
/// priority-inheriting (see [`RobustMutex`](super::RobustMutex) for why).
///
/// # Safety
///
/// `this` points to writable, suitably aligned memory that nothing else uses
/// yet, and stays mapped while the mutex is used.
pub(super) unsafe fn init_mutex(this: *mut MutexState) -> io::Result<()> {
    // SAFETY: the attribute object is initialised by pthread_mutexattr_init
    // before any other use, and destroyed at the end; `this` is valid (the
    // caller's promise).
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
            // The kernel owns the hand-over (FUTEX_LOCK_PI / FUTEX_UNLOCK_PI).
            .and_then(|()| {
                check(libc::pthread_mutexattr_setprotocol(
                    &mut attr,
                    libc::PTHREAD_PRIO_INHERIT,
                ))
            })
            // Relocking from the holding thread fails (EDEADLK) instead of
            // hanging forever.
            .and_then(|()| {
                check(libc::pthread_mutexattr_settype(
                    &mut attr,
                    libc::PTHREAD_MUTEX_ERRORCHECK,
                ))
            })
            .and_then(|()| check(libc::pthread_mutex_init((*this).pthread.get(), &attr)));
        libc::pthread_mutexattr_destroy(&mut attr);
        result
    }
}

impl RawLock for MutexState {
    fn try_lock(&self) -> libc::c_int {
        // SAFETY: the mutex was initialised by `init_mutex` and is mapped.
        unsafe { libc::pthread_mutex_trylock(self.pthread.get()) }
    }

    fn lock_until(&self, deadline: Option<Instant>) -> libc::c_int {
        let m = self.pthread.get();
        match deadline {
            // SAFETY: as above.
            None => unsafe { libc::pthread_mutex_lock(m) },
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return self.try_lock();
                }
                // POSIX times the wait on CLOCK_REALTIME: convert the
                // monotonic deadline (a clock step shortens or stretches it).
                let abs = realtime_after(left);
                // SAFETY: as above; `abs` is a valid timespec.
                unsafe { libc::pthread_mutex_timedlock(m, &abs) }
            }
        }
    }

    fn mark_consistent(&self) {
        // SAFETY: called by the owner after EOWNERDEAD (the mutex is ours).
        unsafe { libc::pthread_mutex_consistent(self.pthread.get()) };
    }

    fn unlock(&self) {
        // SAFETY: called by the thread that holds the mutex.
        unsafe { libc::pthread_mutex_unlock(self.pthread.get()) };
    }
}

/// Sleeps while `*word == expected`, at most until `deadline`. Returns on a
/// wake-up, a timeout, a signal or a changed value: callers re-check.
pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) {
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
    // is in memory shared with other processes.
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

/// Wakes every sleeper in [`wait`] on `word`.
pub(super) fn wake_all(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            libc::c_int::MAX,
        );
    }
}

/// Marks every descriptor from `from` up close-on-exec in one call; false
/// if the kernel cannot (before 5.11).
pub(crate) fn cloexec_from(from: u32) -> bool {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes flags; it is
    // async-signal-safe (a plain system call).
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            from,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) == 0
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
