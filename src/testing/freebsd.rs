//! Thread states on FreeBSD: `sysctl(KERN_PROC_PID | KERN_PROC_INC_THREAD)`
//! lists a `kinfo_proc` per thread of the process; `ki_stat == SSLEEP` is a
//! thread asleep on a wait channel.
//!
//! Compile-checked (`cargo clippy --target x86_64-unknown-freebsd`), not
//! run: no FreeBSD machine runs this crate's CI.

use std::mem::size_of;

/// The calling thread's id.
pub fn current_tid() -> u32 {
    // SAFETY: no precondition.
    unsafe { libc::pthread_getthreadid_np() as u32 }
}

/// (thread id, asleep) for every thread of this process.
fn threads() -> Vec<(u32, bool)> {
    // SAFETY: no precondition.
    let pid = unsafe { libc::getpid() };
    let mib = [
        libc::CTL_KERN,
        libc::KERN_PROC,
        libc::KERN_PROC_PID | libc::KERN_PROC_INC_THREAD,
        pid,
    ];
    let stride = size_of::<libc::kinfo_proc>();
    let mut buf: Vec<libc::kinfo_proc> = Vec::new();
    for _ in 0..8 {
        let mut len = 0usize;
        // SAFETY: a size query: no buffer, `len` receives the size needed.
        let rc = unsafe {
            libc::sysctl(
                mib.as_ptr(),
                4,
                std::ptr::null_mut(),
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        assert_eq!(rc, 0, "sysctl(KERN_PROC_PID) failed");
        // Room for a few threads more than now.
        let room = len / stride + 4;
        buf = Vec::with_capacity(room);
        let mut len = room * stride;
        // SAFETY: `buf` has room for `len` bytes of kinfo_proc; sysctl writes
        // at most `len` and says how many it wrote.
        let rc = unsafe {
            libc::sysctl(
                mib.as_ptr(),
                4,
                buf.as_mut_ptr().cast(),
                &mut len,
                std::ptr::null(),
                0,
            )
        };
        if rc == 0 {
            // SAFETY: sysctl initialised `len` bytes: whole records.
            unsafe { buf.set_len(len / stride) };
            break;
        }
        // ENOMEM: threads appeared between the two calls; ask again.
    }
    buf.iter()
        .map(|k| (k.ki_tid as u32, k.ki_stat == libc::SSLEEP))
        .collect()
}

/// True if thread `tid` of this process is asleep; false if it runs or is
/// gone.
pub fn is_parked(tid: u32) -> bool {
    threads().iter().any(|&(t, asleep)| t == tid && asleep)
}

/// True if every thread of this process but `me` is asleep.
pub fn others_asleep(me: u32) -> bool {
    threads().iter().all(|&(t, asleep)| t == me || asleep)
}
