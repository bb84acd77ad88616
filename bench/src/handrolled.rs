//! The peers of the primitive benchmarks: the textbook parking_lot
//! `Mutex` + `Condvar` versions of a semaphore and an event, with no fast path.

use parking_lot::{Condvar, Mutex};

/// A counting semaphore that always takes the mutex.
#[derive(Default)]
pub struct PlSemaphore {
    count: Mutex<usize>,
    released: Condvar,
}

impl PlSemaphore {
    /// A semaphore with `n` permits.
    pub fn new(n: usize) -> Self {
        PlSemaphore {
            count: Mutex::new(n),
            released: Condvar::new(),
        }
    }
    /// Takes a permit if one is free.
    pub fn try_acquire(&self) -> bool {
        let mut c = self.count.lock();
        if *c > 0 {
            *c -= 1;
            true
        } else {
            false
        }
    }
    /// Takes a permit, blocking while none is free.
    pub fn acquire(&self) {
        let mut c = self.count.lock();
        while *c == 0 {
            self.released.wait(&mut c);
        }
        *c -= 1;
    }
    /// Gives a permit back.
    pub fn release(&self) {
        *self.count.lock() += 1;
        self.released.notify_one();
    }
}

/// An event flag that always takes the mutex.
#[derive(Default)]
pub struct PlEvent {
    flag: Mutex<bool>,
    changed: Condvar,
}

impl PlEvent {
    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        *self.flag.lock() = true;
        self.changed.notify_all();
    }
    /// Clears the flag.
    pub fn clear(&self) {
        *self.flag.lock() = false;
    }
    /// Reads the flag.
    pub fn is_set(&self) -> bool {
        *self.flag.lock()
    }
    /// Blocks until the flag is set.
    pub fn wait(&self) {
        let mut f = self.flag.lock();
        while !*f {
            self.changed.wait(&mut f);
        }
    }
}
