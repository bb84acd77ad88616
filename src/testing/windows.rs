//! Thread states on Windows: `NtQuerySystemInformation(SystemProcessInformation)`
//! lists every process with its threads; `ThreadState == 5` (Waiting) is a
//! thread blocked in the kernel.
//!
//! Compile-checked (`cargo clippy --target x86_64-pc-windows-gnu`), not run:
//! no Windows machine runs this crate's CI.

use std::mem::size_of;

use windows_sys::Wdk::System::SystemInformation::{
    NtQuerySystemInformation, SystemProcessInformation,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcessId, GetCurrentThreadId};
use windows_sys::Win32::System::WindowsProgramming::{
    SYSTEM_PROCESS_INFORMATION, SYSTEM_THREAD_INFORMATION,
};

/// `KTHREAD_STATE::Waiting`.
const WAITING: u32 = 5;
/// `STATUS_INFO_LENGTH_MISMATCH`: the buffer is too small.
const LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;

/// The calling thread's id.
pub fn current_tid() -> u32 {
    // SAFETY: no precondition.
    unsafe { GetCurrentThreadId() }
}

/// (thread id, waiting) for every thread of this process.
fn threads() -> Vec<(u32, bool)> {
    // SAFETY: no precondition.
    let pid = unsafe { GetCurrentProcessId() } as usize;
    // u64 units keep the records 8-byte aligned.
    let mut buf: Vec<u64> = vec![0; 64 * 1024];
    loop {
        let mut needed = 0u32;
        let bytes = (buf.len() * size_of::<u64>()) as u32;
        // SAFETY: `buf` is writable for `bytes` bytes.
        let status = unsafe {
            NtQuerySystemInformation(
                SystemProcessInformation,
                buf.as_mut_ptr().cast(),
                bytes,
                &mut needed,
            )
        };
        if status == LENGTH_MISMATCH {
            buf = vec![0; needed as usize / size_of::<u64>() + 4096];
            continue;
        }
        assert!(status >= 0, "NtQuerySystemInformation failed: {status:#x}");
        break;
    }
    let base = buf.as_ptr().cast::<u8>();
    let mut offset = 0usize;
    loop {
        // SAFETY: `offset` is the start of a process record the call wrote
        // (0, then each NextEntryOffset), aligned by the kernel.
        let process = unsafe { &*base.add(offset).cast::<SYSTEM_PROCESS_INFORMATION>() };
        if process.UniqueProcessId as usize == pid {
            // The process's threads follow its record.
            // SAFETY: the kernel wrote NumberOfThreads thread records there.
            let threads = unsafe {
                std::slice::from_raw_parts(
                    base.add(offset + size_of::<SYSTEM_PROCESS_INFORMATION>())
                        .cast::<SYSTEM_THREAD_INFORMATION>(),
                    process.NumberOfThreads as usize,
                )
            };
            return threads
                .iter()
                .map(|t| {
                    (
                        t.ClientId.UniqueThread as usize as u32,
                        t.ThreadState == WAITING,
                    )
                })
                .collect();
        }
        if process.NextEntryOffset == 0 {
            return Vec::new();
        }
        offset += process.NextEntryOffset as usize;
    }
}

/// True if thread `tid` of this process is waiting; false if it runs or is
/// gone.
pub fn is_parked(tid: u32) -> bool {
    threads().iter().any(|&(t, waiting)| t == tid && waiting)
}

/// True if every thread of this process but `me` is waiting.
pub fn others_asleep(me: u32) -> bool {
    threads().iter().all(|&(t, waiting)| t == me || waiting)
}
