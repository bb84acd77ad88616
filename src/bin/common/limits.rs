//! Process limits shared by `echo-server` and `echo-bench` (each includes
//! this file with `#[path]`). The descriptor limit is a Unix notion:
//! elsewhere this does nothing.

/// Raises the soft limit on open descriptors to the hard limit: a server
/// with `--max-connections` in the thousands is then not cut short by
/// `EMFILE` (which the servers survive, but by pausing), nor a load
/// generator opening thousands of connections.
#[cfg(unix)]
pub fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0
        && limit.rlim_cur < limit.rlim_max
    {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid rlimit struct; failure is harmless.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}

/// Windows has no descriptor limit to raise (sockets are handles, limited
/// by memory).
#[cfg(not(unix))]
pub fn raise_descriptor_limit() {}
