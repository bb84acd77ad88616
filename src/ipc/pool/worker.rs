//! The child side of a [`Pool`](super::Pool): the built-in entry point its
//! workers run, and the function [`pool_task!`](crate::ipc::pool_task)
//! wraps each task in.
//!
//! A worker runs the pool's initializer, says it is ready, then answers
//! chunks until the pool closes its chunk pipe. Every item runs under
//! `catch_unwind`: a panic becomes that item's `Err(message)` (the message
//! caught by this process's panic hook, with its location) and the worker
//! goes on with the next item.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::wire::{self, FAILED, READY, RESULTS};
use crate::ipc::frame::{self, RecvError};
use crate::ipc::process::{find_entry, panic_message, EntryKind};
use crate::ipc::Connection;

/// The name of the worker's entry point (not a valid Rust path, so that no
/// program's entry can take it).
pub(crate) const WORKER: &str = "synclings::ipc::pool::worker";

/// What a worker is started with: the pipe its chunks come on, the pipe
/// for its replies, and the initializer (a task name and its encoded
/// argument, run once).
pub(super) type WorkerArgs = (Connection, Connection, Option<(String, Vec<u8>)>);

thread_local! {
    /// The message of the last panic on this thread (set by the hook).
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The worker's life: see the module docs.
pub(super) fn main((mut chunks, mut replies, initializer): WorkerArgs) {
    // A pool task's panic is a result for the parent, not a line on stderr.
    std::panic::set_hook(Box::new(|info| {
        let _ = LAST_PANIC.try_with(|p| p.replace(Some(panic_message(info))));
    }));
    let mut out = Vec::new();
    let ready = match &initializer {
        None => Ok(()),
        Some((task, args)) => run(task, &encode_one(args), &mut out).and_then(|()| {
            // `out` is `MIXED` and a `Vec<Result<R, String>>` of one item:
            // its length (1), the variant (1: `Err`), then the panic message.
            match out.as_slice() {
                [wire::MIXED, 1, 1, message @ ..] => Err(format!(
                    "the initializer `{task}` panicked: {}",
                    frame::decode::<String>(message).unwrap_or_default()
                )),
                _ => Ok(()),
            }
        }),
    };
    out.clear();
    match ready {
        Ok(()) => out.push(READY),
        Err(message) => {
            out.push(FAILED);
            out.extend_from_slice(message.as_bytes());
        }
    }
    if replies.send_bytes(&out).is_err() || out[0] == FAILED {
        return;
    }
    loop {
        let chunk = match chunks.recv_bytes() {
            Ok(chunk) => chunk,
            // Closed: the pool is done with this worker. Anything else: the
            // pool is gone or broken; either way, exit.
            Err(_) => return,
        };
        out.clear();
        out.push(RESULTS);
        let outcome = match wire::split_chunk(&chunk) {
            Some((task, args)) => run(task, args, &mut out),
            None => Err("a chunk frame without a task name (a bug in the pool)".to_string()),
        };
        if let Err(message) = outcome {
            out.clear();
            out.push(FAILED);
            out.extend_from_slice(message.as_bytes());
        }
        // One write per reply, before the next chunk starts (even when the
        // next is already read ahead): so the first chunk a dead worker left
        // unanswered is the one it was running, and the dispatcher can put
        // the others back as never started. Batching replies would save this
        // write but lose that.
        if replies.send_bytes(&out).is_err() {
            return;
        }
    }
}

/// An initializer's argument as a chunk of one item.
fn encode_one(args: &[u8]) -> Vec<u8> {
    // A `Vec<A>` of one item: the length (postcard: varint 1) and the item.
    let mut chunk = Vec::with_capacity(args.len() + 1);
    chunk.push(1);
    chunk.extend_from_slice(args);
    chunk
}

/// Runs the task `name` over the encoded chunk `args`, appending its
/// encoded results to `out`.
fn run(name: &str, args: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    match find_entry(name).map(|e| e.kind()) {
        Some(EntryKind::Task(run)) => run(args, out).map_err(|e| match e {
            RecvError::Decode { .. } => {
                format!("the arguments do not decode as those of the task `{name}`: {e}")
            }
            other => format!("the task `{name}` failed: {other}"),
        }),
        Some(EntryKind::Process(_)) => Err(format!(
            "`{name}` is a process entry point (entry!), not a pool task (pool_task!)"
        )),
        None => Err(format!(
            "no pool task named `{name}` in the worker's table (ipc::init)"
        )),
    }
}

/// Used by [`pool_task!`](crate::ipc::pool_task): decodes a chunk of `A`s,
/// runs `f` on each (a panic becomes that item's `Err`), and appends the
/// encoded results to `out`: [`ALL_OK`](wire::ALL_OK) and a `Vec<R>` when
/// no item panicked (the common case, with no `Result` around each value
/// to encode and decode), else [`MIXED`](wire::MIXED) and a
/// `Vec<Result<R, String>>`.
#[doc(hidden)]
pub fn __run_chunk<A: DeserializeOwned, R: Serialize>(
    chunk: &[u8],
    out: &mut Vec<u8>,
    f: fn(A) -> R,
) -> Result<(), RecvError> {
    let items: Vec<A> = frame::decode(chunk)?;
    let run = |item| {
        catch_unwind(AssertUnwindSafe(|| f(item))).map_err(|_| {
            LAST_PANIC
                .try_with(|p| p.borrow_mut().take())
                .ok()
                .flatten()
                .unwrap_or_else(|| "the task panicked".to_string())
        })
    };
    let count = items.len();
    let mut items = items.into_iter();
    let mut values: Vec<R> = Vec::with_capacity(count);
    let mut mixed: Option<Vec<Result<R, String>>> = None;
    for item in items.by_ref() {
        match run(item) {
            Ok(value) => values.push(value),
            Err(message) => {
                let mut all: Vec<Result<R, String>> = Vec::with_capacity(count);
                all.extend(values.drain(..).map(Ok));
                all.push(Err(message));
                mixed = Some(all);
                break;
            }
        }
    }
    let mut buf = std::mem::take(out);
    let encoded = match mixed {
        None => {
            buf.push(wire::ALL_OK);
            frame::encode_into(&values, buf)
        }
        Some(mut all) => {
            all.extend(items.map(run));
            buf.push(wire::MIXED);
            frame::encode_into(&all, buf)
        }
    };
    match encoded {
        Ok(buf) => {
            *out = buf;
            Ok(())
        }
        Err(e) => Err(RecvError::Decode {
            type_name: std::any::type_name::<R>(),
            reason: format!("the results could not be encoded: {e}"),
        }),
    }
}
