//! A job: the chunks one `map`/`imap`/`apply_async` call submitted, and the
//! slot where the dispatcher leaves each chunk's outcome for the caller.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::PoolError;

/// A chunk's outcome: its encoded results, or why it has none.
pub(super) type Outcome = Result<Vec<u8>, PoolError>;

/// Outcomes waiting for their caller, by chunk index.
#[derive(Default)]
pub(super) struct Job {
    done: Mutex<HashMap<u64, Outcome>>,
    ready: Condvar,
}

impl Job {
    /// Leaves chunk `index`'s outcome (dispatcher side).
    pub(super) fn deliver(&self, index: u64, outcome: Outcome) {
        self.done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index, outcome);
        self.ready.notify_all();
    }

    /// Waits until chunk `index` (`None`: any chunk) has an outcome, or
    /// `deadline` passes (`None`: never). `take`: removes and returns it;
    /// otherwise only says whether it is there.
    pub(super) fn wait(
        &self,
        index: Option<u64>,
        deadline: Option<Instant>,
        take: bool,
    ) -> Option<(u64, Option<Outcome>)> {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let found = match index {
                Some(i) => done.contains_key(&i).then_some(i),
                None => done.keys().next().copied(),
            };
            if let Some(i) = found {
                let outcome = if take { done.remove(&i) } else { None };
                return Some((i, outcome));
            }
            done = match deadline {
                None => self.ready.wait(done).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.ready
                        .wait_timeout(done, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}
