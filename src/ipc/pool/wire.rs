//! The messages between a pool and its workers, a frame each, on two pipes
//! per worker (chunks one way, replies the other):
//!
//! | direction | frame payload |
//! |---|---|
//! | pool → worker | a chunk: `name length (u8)`, `task name`, then the chunk's arguments encoded as one `Vec<A>` |
//! | worker → pool | `READY`, or `FAILED` + a UTF-8 message (the initializer panicked), once at start |
//! | worker → pool | `RESULTS` + the chunk's results: `ALL_OK` + one `Vec<R>` when no item panicked, else `MIXED` + one `Vec<Result<R, String>>` (`Err`: the item's panic); or `FAILED` + a message (the task is unknown, the arguments do not decode) |
//!
//! One frame per chunk each way, whatever its number of items (frames that
//! are there together go in one write and come in one `read`). A worker
//! answers its chunks in the order they were sent, so a reply needs no
//! sequence number: it answers the oldest chunk not answered yet.

/// The first byte of a worker's reply: the chunk's results follow.
pub(super) const RESULTS: u8 = 0;
/// The first byte of a worker's reply: a UTF-8 message follows.
pub(super) const FAILED: u8 = 1;
/// The worker's first message: its initializer ran.
pub(super) const READY: u8 = 2;

/// After `RESULTS`: every item returned; a `Vec<R>` follows.
pub(super) const ALL_OK: u8 = 0;
/// After `RESULTS`: some item panicked; a `Vec<Result<R, String>>` follows.
pub(super) const MIXED: u8 = 1;

/// The header of a chunk frame for `task`.
pub(super) fn chunk_header(task: &str, out: &mut Vec<u8>) {
    debug_assert!(task.len() <= u8::MAX as usize, "checked by the pool");
    out.push(task.len() as u8);
    out.extend_from_slice(task.as_bytes());
}

/// Splits a chunk frame into the task name and the encoded arguments.
pub(super) fn split_chunk(frame: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = frame.split_first()?;
    let len = len as usize;
    if rest.len() < len {
        return None;
    }
    let name = std::str::from_utf8(&rest[..len]).ok()?;
    Some((name, &rest[len..]))
}
