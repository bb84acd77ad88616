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
    done: Mutex<Done>,
    ready: Condvar,
}

#[derive(Default)]
struct Done {
    outcomes: HashMap<u64, Outcome>,
    /// Callers asleep in [`Job::wait`]: with none, a delivery makes no
    /// system call (a `Condvar`'s `notify_all` always makes one).
    waiting: usize,
    /// A caller asleep in [`Job::take_run`] until there are this many
    /// outcomes: woken once, by the delivery that makes the count.
    count_wanted: Option<u64>,
}

impl Job {
    /// Leaves chunk `index`'s outcome (dispatcher side).
    pub(super) fn deliver(&self, index: u64, outcome: Outcome) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        done.outcomes.insert(index, outcome);
        let wake = done.waiting > 0
            || done
                .count_wanted
                .is_some_and(|c| done.outcomes.len() as u64 >= c);
        drop(done);
        if wake {
            self.ready.notify_all();
        }
    }

    /// Waits until chunk `index`'s outcome is there and at least `batch`
    /// outcomes are (the caller took every one before `index`, so `batch`
    /// must be at most the chunks from `index` on), then takes the run of
    /// outcomes from `index` on that are there, in order. `map` consumes its
    /// results so: decoding a batch while the workers run the next, woken
    /// about once per `batch` chunks rather than once per chunk.
    pub(super) fn take_run(&self, index: u64, batch: u64) -> Vec<Outcome> {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let have = done.outcomes.len() as u64;
            if have >= batch && done.outcomes.contains_key(&index) {
                break;
            }
            // Enough of them but not `index` (they came out of order): the
            // next delivery may be it.
            done.count_wanted = Some(if have >= batch { have + 1 } else { batch });
            done = self.ready.wait(done).unwrap_or_else(|e| e.into_inner());
        }
        done.count_wanted = None;
        let mut run = Vec::new();
        let mut next = index;
        while let Some(outcome) = done.outcomes.remove(&next) {
            run.push(outcome);
            next += 1;
        }
        run
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
                Some(i) => done.outcomes.contains_key(&i).then_some(i),
                None => done.outcomes.keys().next().copied(),
            };
            if let Some(i) = found {
                let outcome = if take { done.outcomes.remove(&i) } else { None };
                return Some((i, outcome));
            }
            done.waiting += 1;
            done = match deadline {
                None => self.ready.wait(done).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        done.waiting -= 1;
                        return None;
                    }
                    self.ready
                        .wait_timeout(done, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            done.waiting -= 1;
        }
    }
}
