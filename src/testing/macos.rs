//! Thread states on macOS: Mach's `thread_info(THREAD_BASIC_INFO)`, whose
//! `run_state` is `TH_STATE_WAITING` for a thread blocked in the kernel, and
//! `task_threads` for the list of the process's threads. A thread is named by
//! its Mach port in this task.
//!
//! Compile-checked (`cargo clippy --target x86_64-apple-darwin`), not run:
//! no macOS machine runs this crate's CI.

use std::mem::{size_of, zeroed};

use libc::{kern_return_t, mach_port_t, KERN_SUCCESS};

// libSystem's Mach calls that libc lacks or has deprecated in favour of the
// mach2 crate (one more dependency for three declarations).
extern "C" {
    /// The task's own port (what the `mach_task_self()` macro reads).
    static mach_task_self_: mach_port_t;
    /// The calling thread's port, with one more user reference.
    fn mach_thread_self() -> mach_port_t;
    /// Releases one user reference of a port right.
    fn mach_port_deallocate(task: mach_port_t, name: mach_port_t) -> kern_return_t;
}

fn task() -> mach_port_t {
    // SAFETY: libSystem sets the task's own port before main and never
    // changes it: a plain read.
    unsafe { mach_task_self_ }
}

/// The calling thread's port name.
pub fn current_tid() -> u32 {
    // SAFETY: no precondition; it returns the calling thread's port, with one
    // more user reference.
    let port = unsafe { mach_thread_self() };
    // SAFETY: gives back the reference mach_thread_self just added; the
    // thread library keeps its own, so the name stays valid while the thread
    // lives.
    unsafe { mach_port_deallocate(task(), port) };
    port
}

/// True if thread `port` is waiting in the kernel; false if it runs or is
/// gone.
pub fn is_parked(port: u32) -> bool {
    // SAFETY: thread_basic_info is plain integers: all zeros is a value.
    let mut info: libc::thread_basic_info = unsafe { zeroed() };
    let mut count = libc::THREAD_BASIC_INFO_COUNT;
    // SAFETY: `info` is a writable thread_basic_info, `count` says how many
    // integers it holds; thread_info writes at most that many.
    let kr = unsafe {
        libc::thread_info(
            port,
            libc::THREAD_BASIC_INFO as libc::thread_flavor_t,
            (&mut info as *mut libc::thread_basic_info).cast(),
            &mut count,
        )
    };
    kr == KERN_SUCCESS && info.run_state == libc::TH_STATE_WAITING
}

/// True if every thread of this process but `me` is waiting in the kernel.
pub fn others_asleep(me: u32) -> bool {
    let mut list: libc::thread_act_array_t = std::ptr::null_mut();
    let mut count: libc::mach_msg_type_number_t = 0;
    // SAFETY: task_threads fills `list` with `count` send rights, in memory
    // it allocated in this task: both are released below.
    let kr = unsafe { libc::task_threads(task(), &mut list, &mut count) };
    assert_eq!(kr, KERN_SUCCESS, "task_threads failed: {kr}");
    // SAFETY: task_threads returned `count` ports at `list`.
    let ports = unsafe { std::slice::from_raw_parts(list, count as usize) };
    let asleep = ports.iter().filter(|&&p| p != me).all(|&p| is_parked(p));
    for &port in ports {
        // SAFETY: each is a send right task_threads gave us.
        unsafe { mach_port_deallocate(task(), port) };
    }
    // SAFETY: the array task_threads allocated, of `count` ports.
    unsafe {
        libc::vm_deallocate(
            task(),
            list as libc::vm_address_t,
            count as usize * size_of::<libc::thread_act_t>(),
        )
    };
    asleep
}
