//! `Lock`, `Semaphore`, `Value` and `Array` shared by processes: Python's
//! `multiprocessing.Lock`, `Semaphore`, `Value` and `Array`.
//!
//! | Python | synclings |
//! |---|---|
//! | `Lock()`: `acquire()`, `acquire(False)`, `acquire(timeout=t)`, `release()` | [`Lock::new`]: [`acquire`](Lock::acquire), [`try_acquire`](Lock::try_acquire), [`acquire_timeout`](Lock::acquire_timeout) → a guard that releases on drop |
//! | `Semaphore(n)`: `acquire`, `release`, `get_value()` | [`Semaphore::new`]: [`acquire`](Semaphore::acquire) (→ a [`Permit`]), [`try_acquire`](Semaphore::try_acquire), [`acquire_timeout`](Semaphore::acquire_timeout), [`release`](Semaphore::release), [`value`](Semaphore::value) |
//! | `Value('i', 0)`: `.value`, `get_lock()` | [`Value::new(0i32)`](Value::new): [`get`](Value::get), [`set`](Value::set), [`lock`](Value::lock) (read-modify-write under the lock) |
//! | `Array('d', n)` / `Array('i', [1, 2])` | [`Array::new(n)`](Array::new) / [`Array::from_slice`]: [`get`](Array::get), [`set`](Array::set), [`to_vec`](Array::to_vec), [`lock`](Array::lock) |
//!
//! Each lives in its own shared memory (a `memfd`, or a file: see
//! [`Backend`](super::Backend)), passed to children as an
//! argument of [`Process::spawn`](super::Process::spawn) like a queue.
//!
//! # A holder that dies
//!
//! The lock (also the one inside `Value` and `Array`) is a robust
//! process-shared mutex: if its holder dies, the next `acquire` gets it
//! instead of hanging forever (Python hangs), and its guard's
//! [`owner_died`](LockGuard::owner_died) says so: whatever the dead holder
//! was updating may be half-done. A process killed while it *waits* strands
//! nobody either: the kernel hands the lock to the next live waiter
//! (priority-inheritance futexes), and a semaphore's release wakes every
//! waiter, so a wake-up that dies with its process is not the only one.
//! A semaphore cannot know which process holds which permit: a permit taken
//! by a process that dies is lost, as in Python.
//!
//! # Plain data only
//!
//! `Value<T>` and `Array<T>` hold [`Plain`] types: numbers and arrays of
//! them, which mean the same in every process (no pointers) and for which
//! every bit pattern is valid (so even a value torn by a holder's death is
//! safe to read).
//!
//! # Example
//!
//! ```
//! use synclings::ipc::{Array, Lock, Semaphore, Value};
//!
//! let counter = Value::new(0u64).unwrap();
//! *counter.lock() += 1; // read-modify-write under the lock
//! assert_eq!(counter.get(), 1);
//!
//! let samples = Array::from_slice(&[1.5f64, 2.5]).unwrap();
//! samples.set(1, 4.0);
//! assert_eq!(samples.to_vec(), [1.5, 4.0]);
//!
//! let lock = Lock::new().unwrap();
//! let guard = lock.acquire();
//! assert!(lock.try_acquire().is_none());
//! drop(guard);
//!
//! let sem = Semaphore::new(1).unwrap();
//! let permit = sem.acquire();
//! assert!(sem.try_acquire().is_none());
//! drop(permit);
//! assert_eq!(sem.value(), 1);
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::inherit;
use super::shm::{Locked, RawSemaphore, RobustGuard, RobustMutex, SharedMemory};

/// Types that can live in memory shared by processes.
///
/// # Safety
///
/// An implementor has no pointers or references (its bytes mean the same in
/// every process), no drop glue, and every bit pattern of its size is a valid
/// value (zero included: a new `Array` is zeroed, and a holder killed in the
/// middle of a write can leave any mix of old and new bytes).
pub unsafe trait Plain: Copy + Send + Sync + 'static {}

macro_rules! plain {
    ($($t:ty),*) => {
        $(
            // SAFETY: a primitive number: no pointers, any bit pattern valid.
            unsafe impl Plain for $t {}
        )*
    };
}

plain!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: an array of plain values is plain.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

/// Reads and checks the header of a received shared object.
fn check_header(shm: &SharedMemory, magic: u64, what: &str) -> Result<(), String> {
    if shm.len() < size_of::<Header>() {
        return Err(format!("the shared memory is too small for a {what}"));
    }
    // SAFETY: the mapping is at least a `Header` long and page-aligned.
    let header = unsafe { &*shm.as_ptr().cast::<Header>() };
    if header.magic != magic {
        return Err(format!("the shared memory does not hold a {what}"));
    }
    Ok(())
}

/// What every shared object starts with.
#[repr(C)]
struct Header {
    magic: u64,
    /// `Value`/`Array`: the size of an element and the number of elements.
    elem_size: u64,
    len: u64,
    lock: RobustMutex,
    semaphore: RawSemaphore,
}

const LOCK_MAGIC: u64 = u64::from_le_bytes(*b"synLock_");
const SEMAPHORE_MAGIC: u64 = u64::from_le_bytes(*b"synSema_");
const ARRAY_MAGIC: u64 = u64::from_le_bytes(*b"synArray");

/// Creates shared memory with a header (`lock` initialised) and room for
/// `len` elements of `elem_size` bytes aligned to `align` after it.
fn create(magic: u64, elem_size: usize, align: usize, len: usize) -> std::io::Result<SharedMemory> {
    let bytes = data_offset(align)
        .checked_add(elem_size.checked_mul(len).ok_or_else(too_large)?)
        .ok_or_else(too_large)?;
    let shm = SharedMemory::create(c"synclings-shared", bytes, magic == SEMAPHORE_MAGIC)?;
    let header = shm.as_ptr().cast::<Header>();
    // SAFETY: the fresh mapping is zeroed, page-aligned, large enough, and
    // not yet visible to anyone else.
    unsafe {
        shm.init_mutex(std::ptr::addr_of_mut!((*header).lock))?;
        (*header).elem_size = elem_size as u64;
        (*header).len = len as u64;
        (*header).magic = magic;
    }
    Ok(shm)
}

fn too_large() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "the shared array is too large",
    )
}

/// Where the elements start: after the header, aligned for them.
fn data_offset(align: usize) -> usize {
    size_of::<Header>().next_multiple_of(align)
}

fn header(shm: &SharedMemory) -> &Header {
    // SAFETY: every shared object's memory starts with an initialised
    // `Header` (checked when received); its mutable parts are atomics and a
    // process-shared mutex.
    unsafe { &*shm.as_ptr().cast::<Header>() }
}

/// The robust mutex of `shm`, as a guard.
fn lock_until(shm: &SharedMemory, deadline: Option<Instant>) -> Option<(RobustGuard<'_>, bool)> {
    match shm.lock(&header(shm).lock, deadline) {
        Ok(Locked::Acquired(guard, owner_died)) => Some((guard, owner_died)),
        Ok(Locked::TimedOut) => None,
        // This thread holds it already: a try or a timed wait fails (it cannot
        // become free while we wait), a wait without deadline would hang.
        Err(e) if e.raw_os_error() == Some(libc::EDEADLK) && deadline.is_some() => None,
        Err(e) => {
            panic!("locking a process-shared lock failed: {e} (does this thread hold it already?)")
        }
    }
}

/// A lock shared by processes (Python's `multiprocessing.Lock`), robust to
/// the death of its holder.
pub struct Lock {
    shm: SharedMemory,
}

/// Holds a [`Lock`] (or the lock of a [`Value`]/[`Array`]); releases it on
/// drop. Not `Send`: it is released by the thread that took it.
pub struct LockGuard<'a> {
    _guard: RobustGuard<'a>,
    owner_died: bool,
}

impl LockGuard<'_> {
    /// True if the previous holder died holding the lock: what it was
    /// updating may be half-done. (Also true, with nothing half-done, when a
    /// process was killed in the instant the kernel handed it the lock.)
    pub fn owner_died(&self) -> bool {
        self.owner_died
    }
}

impl Lock {
    /// A new, unlocked lock.
    pub fn new() -> std::io::Result<Lock> {
        Ok(Lock {
            shm: create(LOCK_MAGIC, 0, 1, 0)?,
        })
    }

    /// Takes the lock, waiting as long as needed.
    ///
    /// # Panics
    ///
    /// If this thread holds it already (it would wait forever).
    pub fn acquire(&self) -> LockGuard<'_> {
        self.acquire_until(None)
            .expect("a wait without a deadline does not time out")
    }

    /// Takes the lock if it is free (`None` also if this thread holds it).
    pub fn try_acquire(&self) -> Option<LockGuard<'_>> {
        self.acquire_until(Some(Instant::now()))
    }

    /// Takes the lock, waiting at most `timeout` (`None` at once if this
    /// thread holds it: it cannot become free while this thread waits).
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<LockGuard<'_>> {
        self.acquire_until(Some(Instant::now() + timeout))
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Option<LockGuard<'_>> {
        lock_until(&self.shm, deadline).map(|(guard, owner_died)| LockGuard {
            _guard: guard,
            owner_died,
        })
    }
}

/// A counting semaphore shared by processes (Python's
/// `multiprocessing.Semaphore`).
pub struct Semaphore {
    shm: SharedMemory,
}

/// A permit of a [`Semaphore`]; given back on drop (or
/// [`forget`](Permit::forget) it and [`release`](Semaphore::release) later,
/// from any process).
pub struct Permit<'a> {
    semaphore: &'a Semaphore,
}

impl Permit<'_> {
    /// Keeps the permit taken: someone calls [`Semaphore::release`] later.
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.semaphore.release(1);
    }
}

impl Semaphore {
    /// A semaphore with `value` permits.
    pub fn new(value: u32) -> std::io::Result<Semaphore> {
        let shm = create(SEMAPHORE_MAGIC, 0, 1, 0)?;
        header(&shm).semaphore.release(&shm, value);
        Ok(Semaphore { shm })
    }

    fn raw(&self) -> &RawSemaphore {
        &header(&self.shm).semaphore
    }

    /// Takes a permit, waiting as long as needed.
    pub fn acquire(&self) -> Permit<'_> {
        self.raw().acquire(&self.shm, None);
        Permit { semaphore: self }
    }

    /// Takes a permit if one is free.
    pub fn try_acquire(&self) -> Option<Permit<'_>> {
        // `then`, not `then_some`: a `Permit` made and dropped would release.
        self.raw().try_acquire().then(|| Permit { semaphore: self })
    }

    /// Takes a permit, waiting at most `timeout`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<Permit<'_>> {
        self.raw()
            .acquire(&self.shm, Some(Instant::now() + timeout))
            .then(|| Permit { semaphore: self })
    }

    /// Adds `n` permits, waking as many waiters (in any process).
    pub fn release(&self, n: u32) {
        self.raw().release(&self.shm, n);
    }

    /// The free permits now (Python's `get_value`; a snapshot).
    pub fn value(&self) -> u32 {
        self.raw().value()
    }
}

/// A `T` in shared memory with a lock (Python's `multiprocessing.Value`).
pub struct Value<T: Plain> {
    array: Array<T>,
}

impl<T: Plain> Value<T> {
    /// A shared value, initially `value`.
    pub fn new(value: T) -> std::io::Result<Self> {
        Ok(Value {
            array: Array::from_slice(&[value])?,
        })
    }

    /// The value (read under the lock; Python's `.value`).
    pub fn get(&self) -> T {
        self.array.get(0)
    }

    /// Replaces the value (under the lock; Python's `.value = v`).
    pub fn set(&self, value: T) {
        self.array.set(0, value);
    }

    /// Locks the value for a read-modify-write (Python's
    /// `with v.get_lock(): v.value += 1`).
    pub fn lock(&self) -> ValueGuard<'_, T> {
        let guard = self.array.lock();
        ValueGuard { guard }
    }
}

/// Access to a [`Value`] under its lock.
pub struct ValueGuard<'a, T: Plain> {
    guard: ArrayGuard<'a, T>,
}

impl<T: Plain> ValueGuard<'_, T> {
    /// True if the previous holder died holding the lock.
    pub fn owner_died(&self) -> bool {
        self.guard.owner_died()
    }
}

impl<T: Plain> Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard[0]
    }
}

impl<T: Plain> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard[0]
    }
}

/// A fixed-length array of `T` in shared memory with a lock (Python's
/// `multiprocessing.Array`).
pub struct Array<T: Plain> {
    shm: SharedMemory,
    _items: PhantomData<T>,
}

/// Access to an [`Array`]'s elements under its lock (a slice).
pub struct ArrayGuard<'a, T: Plain> {
    lock: LockGuard<'a>,
    array: &'a Array<T>,
}

impl<T: Plain> ArrayGuard<'_, T> {
    /// True if the previous holder died holding the lock.
    pub fn owner_died(&self) -> bool {
        self.lock.owner_died()
    }
}

impl<T: Plain> Array<T> {
    /// `len` elements, all zero (Python's `Array(typecode, n)`).
    pub fn new(len: usize) -> std::io::Result<Self> {
        Ok(Array {
            shm: create(ARRAY_MAGIC, size_of::<T>(), align_of::<T>(), len)?,
            _items: PhantomData,
        })
    }

    /// A copy of `values` (Python's `Array(typecode, [..])`).
    pub fn from_slice(values: &[T]) -> std::io::Result<Self> {
        let array = Self::new(values.len())?;
        array.lock().copy_from_slice(values);
        Ok(array)
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        header(&self.shm).len as usize
    }

    /// True if the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `i`, read under the lock.
    ///
    /// # Panics
    ///
    /// If `i` is out of bounds.
    pub fn get(&self, i: usize) -> T {
        self.lock()[i]
    }

    /// Sets element `i` under the lock.
    ///
    /// # Panics
    ///
    /// If `i` is out of bounds.
    pub fn set(&self, i: usize, value: T) {
        self.lock()[i] = value;
    }

    /// A copy of every element, read under the lock.
    pub fn to_vec(&self) -> Vec<T> {
        self.lock().to_vec()
    }

    /// Locks the array: the guard is a mutable slice of its elements.
    pub fn lock(&self) -> ArrayGuard<'_, T> {
        let (guard, owner_died) = lock_until(&self.shm, None).expect("no deadline");
        ArrayGuard {
            lock: LockGuard {
                _guard: guard,
                owner_died,
            },
            array: self,
        }
    }

    fn data(&self) -> *mut T {
        // SAFETY: the elements start `data_offset` bytes into the mapping,
        // which is large enough (checked at creation and on receipt).
        unsafe {
            self.shm
                .as_ptr()
                .add(data_offset(align_of::<T>()))
                .cast::<T>()
        }
    }
}

impl<T: Plain> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised elements (any bit pattern is a valid `T`)
        // at an aligned address; the lock is held, so no other thread or
        // process accesses them while this borrow lives.
        unsafe { std::slice::from_raw_parts(self.array.data(), self.array.len()) }
    }
}

impl<T: Plain> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; the guard is borrowed mutably, so this is
        // the only borrow of the elements.
        unsafe { std::slice::from_raw_parts_mut(self.array.data(), self.array.len()) }
    }
}

/// Serializes the shared memory of a handle (its descriptor).
macro_rules! pass_as_shared_memory {
    ($ty:ident $(<$t:ident>)?, $magic:expr, $what:literal, |$shm:ident| $build:expr, |$this:ident| $check:expr) => {
        impl$(<$t: Plain>)? Serialize for $ty$(<$t>)? {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $this = self;
                $this.shm().serialize(s)
            }
        }

        impl<'de $(, $t: Plain)?> Deserialize<'de> for $ty$(<$t>)? {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let $shm = SharedMemory::deserialize(d)?;
                let fail = |m: String| serde::de::Error::custom(inherit::fail(m));
                check_header(&$shm, $magic, $what).map_err(fail)?;
                let $this = $build;
                $check.map_err(fail)?;
                Ok($this)
            }
        }
    };
}

impl Lock {
    fn shm(&self) -> &SharedMemory {
        &self.shm
    }
}

impl Semaphore {
    fn shm(&self) -> &SharedMemory {
        &self.shm
    }
}

impl<T: Plain> Array<T> {
    fn shm(&self) -> &SharedMemory {
        &self.shm
    }

    /// The memory is large enough for `len` elements of this `T`.
    fn check(&self) -> Result<(), String> {
        let h = header(&self.shm);
        let fits = (h.len as usize)
            .checked_mul(size_of::<T>())
            .and_then(|b| b.checked_add(data_offset(align_of::<T>())))
            .is_some_and(|b| b <= self.shm.len());
        if h.elem_size != size_of::<T>() as u64 || !fits {
            return Err(format!(
                "the shared array holds {}-byte elements, not `{}`",
                h.elem_size,
                std::any::type_name::<T>()
            ));
        }
        Ok(())
    }
}

impl<T: Plain> Value<T> {
    fn shm(&self) -> &SharedMemory {
        &self.array.shm
    }
}

pass_as_shared_memory!(Lock, LOCK_MAGIC, "Lock", |shm| Lock { shm }, |this| Ok::<
    (),
    String,
>(()));
pass_as_shared_memory!(
    Semaphore,
    SEMAPHORE_MAGIC,
    "Semaphore",
    |shm| Semaphore { shm },
    |this| Ok::<(), String>(())
);
pass_as_shared_memory!(
    Array<T>,
    ARRAY_MAGIC,
    "Array",
    |shm| Array {
        shm,
        _items: PhantomData
    },
    |this| this.check()
);
pass_as_shared_memory!(
    Value<T>,
    ARRAY_MAGIC,
    "Value",
    |shm| Value {
        array: Array {
            shm,
            _items: PhantomData
        }
    },
    |this| this.array.check().and_then(|()| match this.array.len() {
        1 => Ok(()),
        n => Err(format!("a shared array of {n} elements is not a Value")),
    })
);

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("owner_died", &self.owner_died)
            .finish()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.value())
            .finish()
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

// Not the contents: formatting must not take the lock (the thread may hold it).
impl<T: Plain> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("type", &std::any::type_name::<T>())
            .finish_non_exhaustive()
    }
}

impl<T: Plain> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("type", &std::any::type_name::<T>())
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl<T: Plain + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueGuard")
            .field("value", &**self)
            .finish()
    }
}

impl<T: Plain + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
