//! Thread states where the crate cannot read them (no probe for this OS):
//! the tests that wait for a thread to block say so and fail.

const NO_PROBE: &str = "synclings::testing cannot see thread states on this platform \
     (probes exist for Linux, macOS, FreeBSD and Windows): the tests that wait for a thread \
     to block cannot run here";

/// The calling thread's id: not available here.
pub fn current_tid() -> u32 {
    panic!("{NO_PROBE}")
}

/// Not available here.
pub fn is_parked(_tid: u32) -> bool {
    panic!("{NO_PROBE}")
}

/// Not available here.
pub fn others_asleep(_me: u32) -> bool {
    panic!("{NO_PROBE}")
}
