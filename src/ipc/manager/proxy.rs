//! Proxies: typed handles on the manager's objects. Each proxy has its own
//! connection to the server (opened at its first call), so a proxy blocked
//! in `get` or `acquire` never holds up another; every call is one round
//! trip. A proxy is `Send + Sync` and serde: pass it to a child process in
//! [`Process::spawn`](crate::ipc::Process::spawn)'s arguments (or in a
//! message), and the child reaches the same object.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Mutex;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::protocol::{Blob, Op, Request, Response};
use super::wire::{self, Wire};
use super::ManagerError;
use crate::ipc::connection::{Address, Client};
use crate::ipc::frame;

/// How to reach a manager's server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Remote {
    pub(crate) address: Address,
    pub(crate) authkey: Option<Vec<u8>>,
    pub(crate) max_message_len: usize,
}

/// A connection to the server, opened on first use (again after a failure):
/// a shared-memory mailbox beside a Unix socket, or a TCP socket
/// (`wire.rs`).
pub(crate) struct Link {
    pub(crate) remote: Remote,
    conn: Mutex<Option<Wire>>,
}

impl Link {
    pub(crate) fn new(remote: Remote) -> Link {
        Link {
            remote,
            conn: Mutex::new(None),
        }
    }

    /// One request, one response; a `Response::Error` becomes
    /// [`ManagerError::Remote`].
    pub(crate) fn request(&self, request: &Request) -> Result<Response, ManagerError> {
        let mut slot = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            let mut conn = Client::connect_with_max(
                &self.remote.address,
                self.remote.authkey.as_deref(),
                self.remote.max_message_len,
            )?;
            conn.set_spin(Some(super::SPIN));
            let local = matches!(self.remote.address, Address::Unix(_));
            *slot = Some(wire::client(conn, local)?);
        }
        let conn = slot.as_mut().expect("just connected");
        let result = conn
            .send(request)
            .map_err(ManagerError::from)
            .and_then(|()| conn.recv::<Response>().map_err(ManagerError::from));
        match result {
            Ok(Response::Error(message)) => Err(ManagerError::Remote(message)),
            Ok(response) => Ok(response),
            Err(e) => {
                *slot = None; // reconnect next time
                Err(e)
            }
        }
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Blob, ManagerError> {
    frame::encode(value)
        .map(Blob)
        .map_err(|e| ManagerError::Codec(e.to_string()))
}

fn decode<T: DeserializeOwned>(blob: &Blob) -> Result<T, ManagerError> {
    frame::decode(&blob.0).map_err(|e| ManagerError::Codec(e.to_string()))
}

fn unexpected(r: Response) -> ManagerError {
    ManagerError::Codec(format!("an unexpected response from the server: {r:?}"))
}

fn millis(timeout: Option<Duration>) -> Option<u64> {
    timeout.map(|t| t.as_millis().min(u64::MAX as u128) as u64)
}

/// The untyped part of every proxy: its link and its object's id.
pub(crate) struct Proxy {
    link: Link,
    id: u64,
}

impl Proxy {
    pub(crate) fn new(remote: Remote, id: u64) -> Proxy {
        Proxy {
            link: Link::new(remote),
            id,
        }
    }

    fn call(&self, op: Op) -> Result<Response, ManagerError> {
        self.link.request(&Request::Call { id: self.id, op })
    }

    fn done(&self, op: Op) -> Result<(), ManagerError> {
        match self.call(op)? {
            Response::Done => Ok(()),
            r => Err(unexpected(r)),
        }
    }

    fn len(&self) -> Result<usize, ManagerError> {
        match self.call(Op::Len)? {
            Response::Len(n) => Ok(n as usize),
            r => Err(unexpected(r)),
        }
    }

    fn boolean(&self, op: Op) -> Result<bool, ManagerError> {
        match self.call(op)? {
            Response::Bool(b) => Ok(b),
            r => Err(unexpected(r)),
        }
    }

    fn bytes<T: DeserializeOwned>(&self, op: Op) -> Result<T, ManagerError> {
        match self.call(op)? {
            Response::Bytes(b) => decode(&b),
            r => Err(unexpected(r)),
        }
    }

    fn maybe<T: DeserializeOwned>(&self, op: Op) -> Result<Option<T>, ManagerError> {
        match self.call(op)? {
            Response::Maybe(b) => b.as_ref().map(decode).transpose(),
            r => Err(unexpected(r)),
        }
    }
}

impl Serialize for Proxy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (&self.link.remote, self.id).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Proxy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (remote, id) = <(Remote, u64)>::deserialize(d)?;
        Ok(Proxy::new(remote, id))
    }
}

macro_rules! proxy_type {
    ($(#[$doc:meta])* $name:ident $(<$($t:ident),*>)?) => {
        $(#[$doc])*
        #[derive(Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name $(<$($t),*>)? {
            proxy: Proxy,
            #[serde(skip)]
            _types: PhantomData<fn() -> ($($($t,)*)?)>,
        }

        impl $(<$($t),*>)? $name $(<$($t),*>)? {
            pub(crate) fn from_proxy(proxy: Proxy) -> Self {
                $name { proxy, _types: PhantomData }
            }
        }

        impl $(<$($t),*>)? fmt::Debug for $name $(<$($t),*>)? {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("address", &self.proxy.link.remote.address)
                    .field("id", &self.proxy.id)
                    .finish()
            }
        }
    };
}

proxy_type!(
    /// Python's `manager.dict()`: a `HashMap<K, V>` in the manager. Keys
    /// are compared by their encoding.
    DictProxy<K, V>
);
proxy_type!(
    /// Python's `manager.list()`.
    ListProxy<T>
);
proxy_type!(
    /// Python's `manager.Namespace()`: named attributes of any serde type.
    NamespaceProxy
);
proxy_type!(
    /// Python's `manager.Queue()`: unbounded, FIFO.
    QueueProxy<T>
);
proxy_type!(
    /// Python's `manager.Lock()`. Held by this proxy (its connection): if
    /// the process holding it dies, the server releases it.
    LockProxy
);
proxy_type!(
    /// Python's `manager.Event()`.
    EventProxy
);
proxy_type!(
    /// Python's `manager.Value(typecode, value)`: one value of any serde
    /// type (no `get_lock`: use a [`LockProxy`]).
    ValueProxy<T>
);

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> DictProxy<K, V> {
    /// `d.get(key)`.
    pub fn get(&self, key: &K) -> Result<Option<V>, ManagerError> {
        self.proxy.maybe(Op::Get(encode(key)?))
    }

    /// `d[key] = value`.
    pub fn set(&self, key: &K, value: &V) -> Result<(), ManagerError> {
        self.proxy.done(Op::Set(encode(key)?, encode(value)?))
    }

    /// `d.pop(key, None)`.
    pub fn remove(&self, key: &K) -> Result<Option<V>, ManagerError> {
        self.proxy.maybe(Op::Remove(encode(key)?))
    }

    /// `key in d`.
    pub fn contains_key(&self, key: &K) -> Result<bool, ManagerError> {
        self.proxy.boolean(Op::Contains(encode(key)?))
    }

    /// `len(d)`.
    pub fn len(&self) -> Result<usize, ManagerError> {
        self.proxy.len()
    }

    /// `len(d) == 0`.
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        Ok(self.len()? == 0)
    }

    /// `list(d.items())` (in no particular order).
    pub fn items(&self) -> Result<Vec<(K, V)>, ManagerError> {
        match self.proxy.call(Op::Items)? {
            Response::Pairs(pairs) => pairs
                .iter()
                .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
                .collect(),
            r => Err(unexpected(r)),
        }
    }

    /// `d.clear()`.
    pub fn clear(&self) -> Result<(), ManagerError> {
        self.proxy.done(Op::Clear)
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    /// `l.append(value)`.
    pub fn append(&self, value: &T) -> Result<(), ManagerError> {
        self.proxy.done(Op::Append(encode(value)?))
    }

    /// `l[i]` (negative: from the end).
    pub fn get(&self, i: i64) -> Result<T, ManagerError> {
        self.proxy.bytes(Op::Index(i))
    }

    /// `l[i] = value`.
    pub fn set(&self, i: i64, value: &T) -> Result<(), ManagerError> {
        self.proxy.done(Op::SetIndex(i, encode(value)?))
    }

    /// `l.pop()`.
    pub fn pop(&self) -> Result<T, ManagerError> {
        self.proxy.bytes(Op::Pop(None))
    }

    /// `len(l)`.
    pub fn len(&self) -> Result<usize, ManagerError> {
        self.proxy.len()
    }

    /// `len(l) == 0`.
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        Ok(self.len()? == 0)
    }

    /// `list(l)`: a copy of every item.
    pub fn to_vec(&self) -> Result<Vec<T>, ManagerError> {
        match self.proxy.call(Op::All)? {
            Response::List(items) => items.iter().map(decode).collect(),
            r => Err(unexpected(r)),
        }
    }

    /// `l.clear()`.
    pub fn clear(&self) -> Result<(), ManagerError> {
        self.proxy.done(Op::Clear)
    }
}

impl NamespaceProxy {
    /// `getattr(ns, name, None)`, decoded as a `T`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ManagerError> {
        self.proxy.maybe(Op::Get(encode(name)?))
    }

    /// `setattr(ns, name, value)`.
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<(), ManagerError> {
        self.proxy.done(Op::Set(encode(name)?, encode(value)?))
    }
}

impl<T: Serialize + DeserializeOwned> QueueProxy<T> {
    /// `q.put(value)`.
    pub fn put(&self, value: &T) -> Result<(), ManagerError> {
        self.proxy.done(Op::Put(encode(value)?))
    }

    /// `q.get()`: waits for an item.
    pub fn get(&self) -> Result<T, ManagerError> {
        self.get_until(None)?.ok_or(ManagerError::TimedOut)
    }

    /// `q.get(timeout=t)`: `None` if no item came in time.
    pub fn get_timeout(&self, timeout: Duration) -> Result<Option<T>, ManagerError> {
        self.get_until(Some(timeout))
    }

    fn get_until(&self, timeout: Option<Duration>) -> Result<Option<T>, ManagerError> {
        match self.proxy.call(Op::Take(millis(timeout)))? {
            Response::Bytes(b) => decode(&b).map(Some),
            Response::TimedOut => Ok(None),
            r => Err(unexpected(r)),
        }
    }

    /// `q.qsize()`.
    pub fn len(&self) -> Result<usize, ManagerError> {
        self.proxy.len()
    }

    /// `q.empty()`.
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        Ok(self.len()? == 0)
    }
}

/// Holds a [`LockProxy`]'s lock; dropping it releases the lock (one round
/// trip; if the server cannot be reached, the connection's end releases it).
#[must_use = "the lock is released when the guard is dropped"]
pub struct ManagerLockGuard<'a> {
    lock: &'a LockProxy,
}

impl Drop for ManagerLockGuard<'_> {
    fn drop(&mut self) {
        let _ = self.lock.proxy.done(Op::Release);
    }
}

impl fmt::Debug for ManagerLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagerLockGuard")
            .field("lock", self.lock)
            .finish()
    }
}

impl LockProxy {
    /// `with lock:`: waits for the lock.
    pub fn acquire(&self) -> Result<ManagerLockGuard<'_>, ManagerError> {
        self.acquire_until(None)?.ok_or(ManagerError::TimedOut)
    }

    /// `lock.acquire(timeout=t)`: `None` if it was not free in time.
    pub fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<ManagerLockGuard<'_>>, ManagerError> {
        self.acquire_until(Some(timeout))
    }

    fn acquire_until(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<ManagerLockGuard<'_>>, ManagerError> {
        match self.proxy.call(Op::Acquire(millis(timeout)))? {
            Response::Done => Ok(Some(ManagerLockGuard { lock: self })),
            Response::TimedOut => Ok(None),
            r => Err(unexpected(r)),
        }
    }
}

impl EventProxy {
    /// `e.set()`.
    pub fn set(&self) -> Result<(), ManagerError> {
        self.proxy.done(Op::SetEvent)
    }

    /// `e.clear()`.
    pub fn clear(&self) -> Result<(), ManagerError> {
        self.proxy.done(Op::ClearEvent)
    }

    /// `e.is_set()`.
    pub fn is_set(&self) -> Result<bool, ManagerError> {
        self.proxy.boolean(Op::IsSet)
    }

    /// `e.wait()`.
    pub fn wait(&self) -> Result<(), ManagerError> {
        self.wait_until(None).map(drop)
    }

    /// `e.wait(timeout)`: true if the flag was set in time.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, ManagerError> {
        self.wait_until(Some(timeout))
    }

    fn wait_until(&self, timeout: Option<Duration>) -> Result<bool, ManagerError> {
        match self.proxy.call(Op::Wait(millis(timeout)))? {
            Response::Bool(b) => Ok(b),
            Response::TimedOut => Ok(false),
            r => Err(unexpected(r)),
        }
    }
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// `v.value`.
    pub fn get(&self) -> Result<T, ManagerError> {
        self.proxy.bytes(Op::Load)
    }

    /// `v.value = x`.
    pub fn set(&self, value: &T) -> Result<(), ManagerError> {
        self.proxy.done(Op::Store(encode(value)?))
    }
}
