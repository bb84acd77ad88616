//! The demos' kernel counters where there is no Linux `/proc`: what to run
//! instead.

/// The stream as it is (no counters to feed).
pub fn counted(stream: std::net::TcpStream) -> Box<dyn crate::demo::Conn> {
    Box::new(stream)
}

/// Nothing to read here: no `/proc`.
pub struct Counters;

impl Counters {
    /// Not available on this platform.
    pub fn now() -> Option<Counters> {
        None
    }

    /// Says how to count the system calls on this platform.
    pub fn report(_: Option<Counters>, _: Option<Counters>, round_trips: usize) -> String {
        format!(
            "Done: {round_trips} round trips. This platform has no /proc to count them from; count them with\n\
             \x20 macOS:   sudo dtruss -c -f target/debug/synclings-course quiz demo syscalls\n\
             \x20 FreeBSD: truss -c -f target/debug/synclings-course quiz demo syscalls\n\
             \x20 Windows: Process Monitor (procmon), filtered on synclings-course.exe\n\
             and compare user and system time with `time` (Unix) or Task Manager's kernel time (Windows)."
        )
    }
}

/// Says how to watch a blocked thread on this platform.
pub fn blocked() -> Result<(), String> {
    println!(
        "This platform has no /proc/self/task. Watch a blocked thread with\n\
         \x20 macOS:   ps -M PID (a waiting thread shows state S)\n\
         \x20 FreeBSD: procstat -t PID (state sleep, with its wait channel)\n\
         \x20 Windows: Process Explorer, the process's Threads tab (state Wait)"
    );
    Ok(())
}

/// Says how to watch the interrupt counts on this platform.
pub fn interrupts() -> Result<(), String> {
    println!(
        "This platform has no /proc/interrupts. Watch the interrupt counts with\n\
         \x20 macOS:   sudo powermetrics --samplers interrupts -n 1\n\
         \x20 FreeBSD: vmstat -i\n\
         \x20 Windows: Performance Monitor, counter \\Processor(_Total)\\Interrupts/sec"
    );
    Ok(())
}
