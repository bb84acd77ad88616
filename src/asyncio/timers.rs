//! The loop's timer heap: Python's `loop._scheduled` (a `heapq` of
//! `TimerHandle`s), for [`sleep`](super::sleep) and
//! [`call_later`](super::LoopRef::call_later).
//!
//! A min-heap of `(deadline, key)` orders the timers; a slab holds them by
//! key (index and generation). Cancelling frees the slab entry only; its
//! heap item goes stale and is skipped when it surfaces, and the heap is
//! rebuilt when stale items outnumber live ones, so memory stays bounded
//! (Python does the same, with the same rule). A timer costs one heap item
//! (24 bytes) and one slab entry (24 bytes: the generation sits beside the
//! entry's variant tag, in what would be padding).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

/// What a timer does when it comes due.
pub(crate) enum Action {
    /// Wake a task (a [`Sleep`](super::Sleep)).
    Wake(Waker),
    /// Run a callback on the loop ([`call_later`](super::LoopRef::call_later)).
    Call(Box<dyn FnOnce()>),
}

/// A timer's key: slab index (low 32 bits) and generation (high 32 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey(u64);

impl TimerKey {
    fn new(index: usize, generation: u32) -> TimerKey {
        TimerKey((u64::from(generation) << 32) | index as u64)
    }

    fn index(self) -> usize {
        (self.0 & u64::from(u32::MAX)) as usize
    }

    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// A slab entry: free, or the action of a pending timer, with the slot's
/// generation in every variant (so that it shares the tag's word).
enum Entry {
    Free {
        generation: u32,
    },
    Wake {
        generation: u32,
        waker: Waker,
    },
    Call {
        generation: u32,
        call: Box<dyn FnOnce()>,
    },
}

impl Entry {
    fn generation(&self) -> u32 {
        match *self {
            Entry::Free { generation }
            | Entry::Wake { generation, .. }
            | Entry::Call { generation, .. } => generation,
        }
    }

    fn is_pending(&self, key: TimerKey) -> bool {
        !matches!(self, Entry::Free { .. }) && self.generation() == key.generation()
    }

    fn holding(generation: u32, action: Action) -> Entry {
        match action {
            Action::Wake(waker) => Entry::Wake { generation, waker },
            Action::Call(call) => Entry::Call { generation, call },
        }
    }

    /// The action, if pending; the slot is left free, one generation on.
    fn take(&mut self) -> Option<Action> {
        let generation = self.generation();
        let next = Entry::Free {
            generation: generation.wrapping_add(1),
        };
        match std::mem::replace(self, next) {
            Entry::Free { .. } => {
                *self = Entry::Free { generation };
                None
            }
            Entry::Wake { waker, .. } => Some(Action::Wake(waker)),
            Entry::Call { call, .. } => Some(Action::Call(call)),
        }
    }
}

/// The timers of one loop.
#[derive(Default)]
pub(crate) struct Timers {
    /// Earliest first; an item is live iff its key's slot holds an action
    /// of the same generation.
    heap: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    entries: Vec<Entry>,
    free: Vec<usize>,
    live: usize,
}

impl Timers {
    /// Schedules `action` at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, action: Action) -> TimerKey {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.entries.push(Entry::Free { generation: 0 });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        let generation = entry.generation();
        *entry = Entry::holding(generation, action);
        let key = TimerKey::new(index, generation);
        self.live += 1;
        if self.heap.len() > 2 * self.live + 64 {
            self.rebuild();
        }
        self.heap.push(Reverse((deadline, key)));
        key
    }

    fn entry(&mut self, key: TimerKey) -> Option<&mut Entry> {
        self.entries
            .get_mut(key.index())
            .filter(|e| e.is_pending(key))
    }

    /// True while the timer has neither fired nor been cancelled.
    pub(crate) fn is_pending(&mut self, key: TimerKey) -> bool {
        self.entry(key).is_some()
    }

    /// Replaces the waker a pending `Wake` timer will wake (if it would not
    /// wake the same task already).
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(Entry::Wake { waker: old, .. }) = self.entry(key) {
            if !old.will_wake(waker) {
                *old = waker.clone();
            }
        }
    }

    /// Cancels a pending timer and returns its action, for the caller to
    /// drop outside any borrow of the loop.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<Action> {
        let action = self.entry(key)?.take();
        self.free.push(key.index());
        self.live -= 1;
        action
    }

    /// The earliest pending deadline.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        while let Some(&Reverse((deadline, key))) = self.heap.peek() {
            if self.entry(key).is_some() {
                return Some(deadline);
            }
            self.heap.pop();
        }
        None
    }

    /// The action of the earliest timer due at `now`, removed.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Action> {
        while let Some(&Reverse((deadline, key))) = self.heap.peek() {
            if self.entry(key).is_none() {
                self.heap.pop();
                continue;
            }
            if deadline > now {
                return None;
            }
            self.heap.pop();
            return self.cancel(key);
        }
        None
    }

    /// How many timers are pending.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Takes every pending action out (the loop is closing).
    pub(crate) fn drain(&mut self) -> Vec<Action> {
        self.heap.clear();
        self.free.clear();
        self.live = 0;
        std::mem::take(&mut self.entries)
            .into_iter()
            .filter_map(|mut e| e.take())
            .collect()
    }

    fn rebuild(&mut self) {
        let entries = &self.entries;
        self.heap.retain(|Reverse((_, key))| {
            entries.get(key.index()).is_some_and(|e| e.is_pending(*key))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn call() -> Action {
        Action::Call(Box::new(|| {}))
    }

    #[test]
    fn due_timers_come_out_earliest_first_and_cancelled_ones_never() {
        let mut timers = Timers::default();
        let t0 = Instant::now();
        let late = timers.insert(t0 + Duration::from_secs(2), call());
        let early = timers.insert(t0 + Duration::from_secs(1), call());
        let gone = timers.insert(t0, call());
        assert!(timers.cancel(gone).is_some());
        assert!(
            timers.cancel(gone).is_none(),
            "a second cancel finds nothing"
        );
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert!(
            timers.pop_due(t0).is_none(),
            "nothing is due at t0 any more"
        );
        assert!(timers.pop_due(t0 + Duration::from_secs(1)).is_some());
        assert!(!timers.is_pending(early));
        assert!(timers.is_pending(late));
        assert_eq!(timers.len(), 1);
    }

    #[test]
    fn cancelled_timers_do_not_pile_up_in_the_heap() {
        let mut timers = Timers::default();
        let t0 = Instant::now();
        for i in 0..10_000 {
            let key = timers.insert(t0 + Duration::from_secs(i), call());
            timers.cancel(key);
        }
        assert!(
            timers.heap.len() <= 2 * timers.live + 65,
            "{}",
            timers.heap.len()
        );
        assert!(timers.entries.len() <= 1, "slots are reused");
    }

    #[test]
    fn a_slab_entry_is_24_bytes() {
        // The module's memory claim (and issue 12's 256 B per sleeping task).
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }

    #[test]
    fn a_reused_slot_does_not_answer_for_its_old_key() {
        let mut timers = Timers::default();
        let t0 = Instant::now();
        let old = timers.insert(t0, call());
        timers.cancel(old);
        let new = timers.insert(t0, call());
        assert_ne!(old, new);
        assert!(!timers.is_pending(old));
        assert!(timers.is_pending(new));
    }
}
