//! Python's `multiprocessing.Manager`: a server process that holds shared
//! objects, reached through proxies, locally (a Unix socket) or over TCP.
//!
//! | Python | synclings |
//! |---|---|
//! | `with Manager() as m:` | [`Manager::start()`](Manager::start) (a daemon server process on a fresh Unix socket with a random key); drop or [`shutdown`](Manager::shutdown) ends it |
//! | `BaseManager(address=(host, port), authkey=k).start()` | [`Manager::builder()`](Manager::builder)`.address(Address::Tcp(..)).authkey(k).start()` |
//! | `BaseManager(address, authkey).connect()` | [`Manager::connect(&address, Some(k))`](Manager::connect) |
//! | `manager.get_server().serve_forever()` | [`Manager::serve(listener)`](Manager::serve) |
//! | `m.dict()`, `m.list()`, `m.Namespace()`, `m.Queue()`, `m.Lock()`, `m.Event()`, `m.Value(t, v)` | [`dict`](Manager::dict), [`list`](Manager::list), [`namespace`](Manager::namespace), [`queue`](Manager::queue), [`lock`](Manager::lock), [`event`](Manager::event), [`value`](Manager::value) (and `*_named` to share one by name between programs) |
//!
//! # Manager proxies vs `Value`/`Array` (exam questions 30 and 31)
//!
//! | | [`ipc::Value`/`Array`](crate::ipc::Value) | a Manager proxy |
//! |---|---|---|
//! | where the data is | shared memory, mapped by every process | the server process only |
//! | one access | a load/store (under a robust lock) | a round trip: request, server thread, response |
//! | types | plain data of fixed layout (`Plain`: numbers, arrays of them) | any serde type; dicts, lists, queues that grow |
//! | reach | processes started with it (descriptors passed at spawn) | any process that knows the address and the key, also on another machine |
//! | a client dies | a lock it held is taken over (robust mutexes) | the server releases its locks, gives back what an unfinished call took |
//!
//! `bench/benches/manager.rs` measures both (`cargo bench -p synclings-bench
//! --bench manager`), and Python's `Manager().dict()` as the peer
//! (`bench/python/manager_rounds.py` pairs the two round by round); the
//! figures are in BENCHMARKS.md.
//!
//! # The wire
//!
//! Each proxy has its own connection. On a Unix socket (every local
//! manager), right after the handshake the proxy hands the server a small
//! shared-memory **mailbox** (passed over the socket, `SCM_RIGHTS`) and
//! both sides then copy their messages through it: a round trip costs no
//! `sendmsg`/`recvmsg`, and the socket only rings a sleeping peer and tells
//! each side when the other is gone. Over TCP the messages are frames on the
//! socket. [`ManagerStats::mailboxes`] counts the connections on a mailbox.
//!
//! Between a call and its response, and between a response and the next
//! request, both sides poll for up to 50 µs (yielding the CPU between
//! tries) before they sleep: a quick peer then costs no sleep and wake-up,
//! which is most of a round trip's price (on a VM, tens of µs when the peer
//! is on another CPU). The price: up to 50 µs of CPU per request that comes
//! later than that.
//!
//! # Example
//!
//! ```no_run
//! use synclings::ipc::{self, Entry, Manager};
//!
//! static ENTRIES: &[Entry] = &[];
//!
//! fn main() -> Result<(), ipc::ManagerError> {
//!     ipc::init(ENTRIES); // the server process starts from here too
//!     let manager = Manager::start()?;
//!     let counts = manager.dict::<String, u64>()?;
//!     let lock = manager.lock()?;
//!     {
//!         let _held = lock.acquire()?;
//!         let n = counts.get(&"hits".to_string())?.unwrap_or(0);
//!         counts.set(&"hits".to_string(), &(n + 1))?;
//!     }
//!     assert_eq!(counts.get(&"hits".to_string())?, Some(1));
//!     manager.shutdown()
//! }
//! ```
//!
//! # Safety of the wire
//!
//! Every connection starts with the HMAC challenge-response of
//! [`connection`](super::connection) (both ways): a client without the key,
//! replaying an old answer, or sending anything that is not a handshake is
//! dropped before a single request is decoded. Frames have a maximum size
//! ([`ManagerBuilder::max_message_len`], 16 MiB by default) checked before
//! anything is allocated. The server runs one thread per connection (at
//! most [`MAX_CONNECTIONS`]); see `server.rs` for what happens when a client
//! dies mid-call.

mod protocol;
mod proxy;
mod server;
mod wire;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use self::protocol::{Blob, Kind, Request, Response};
pub use self::proxy::{
    DictProxy, EventProxy, ListProxy, LockProxy, ManagerLockGuard, NamespaceProxy, QueueProxy,
    ValueProxy,
};
use self::proxy::{Link, Proxy, Remote};
pub use self::server::MAX_CONNECTIONS;
use super::connection::{Address, ConnectionError, Listener};
use super::process::{Entry, Process};
use super::{RecvError, SendError};

/// The built-in entry point of a manager's server process.
pub(crate) const SERVER_ENTRY: Entry = Entry::__new(server::SERVER, |args| {
    server::main(super::process::__decode_args(args)?);
    Ok(())
});

/// How long a proxy waiting for its response, and a server connection
/// waiting for the next request, poll before they sleep (on a mailbox, or
/// [`Connection::set_spin`](super::Connection) on a socket): a round trip that
/// completes within it costs neither side a sleep and a wake-up.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// The default largest request or response: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_LEN: usize = 16 << 20;

/// Why a manager call failed.
#[derive(Debug)]
pub enum ManagerError {
    /// Connecting or authenticating failed (a wrong key, a server that is
    /// gone, ...).
    Connection(ConnectionError),
    /// The connection failed during the call (the server died?).
    Io(io::Error),
    /// The server refused the call: an index out of range, a name used by
    /// an object of another kind, ...
    Remote(String),
    /// A value did not encode, or did not decode as the proxy's type.
    Codec(String),
    /// The server process could not be started.
    Spawn(io::Error),
    /// Never returned by a call without a timeout (kept for exhaustive
    /// matches of the blocking calls).
    TimedOut,
}

impl fmt::Display for ManagerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagerError::Connection(e) => write!(f, "cannot reach the manager: {e}"),
            ManagerError::Io(e) => write!(f, "the manager connection failed: {e}"),
            ManagerError::Remote(m) => write!(f, "the manager refused the call: {m}"),
            ManagerError::Codec(m) => write!(f, "a manager value could not be (de)coded: {m}"),
            ManagerError::Spawn(e) => {
                write!(f, "could not start the manager's server process: {e}")
            }
            ManagerError::TimedOut => f.write_str("the manager call timed out"),
        }
    }
}

impl std::error::Error for ManagerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ManagerError::Connection(e) => Some(e),
            ManagerError::Io(e) | ManagerError::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConnectionError> for ManagerError {
    fn from(e: ConnectionError) -> Self {
        ManagerError::Connection(e)
    }
}

impl From<SendError> for ManagerError {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Encode { .. } | SendError::TooLarge { .. } => {
                ManagerError::Codec(e.to_string())
            }
            other => ManagerError::Io(other.into()),
        }
    }
}

impl From<RecvError> for ManagerError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Decode { .. } => ManagerError::Codec(e.to_string()),
            other => ManagerError::Io(other.into()),
        }
    }
}

/// What [`Manager::stats`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerStats {
    /// Connections the server has open now (one per live proxy that has
    /// called, plus the one asking).
    pub connections: u64,
    /// Objects the server holds.
    pub objects: u64,
    /// Calls blocked in the server now (a queue's `get`, a lock's
    /// `acquire`, an event's `wait`).
    pub waiting: u64,
    /// Of the connections, those on a shared-memory mailbox (every proxy
    /// of a manager on a Unix socket; see "The wire" in the module docs).
    pub mailboxes: u64,
}

/// Options of a manager's server: [`Manager::builder`].
#[derive(Debug, Clone, Default)]
pub struct ManagerBuilder {
    address: Option<Address>,
    authkey: Option<Vec<u8>>,
    max_message_len: Option<usize>,
}

impl ManagerBuilder {
    /// Listens on `address` instead of a fresh Unix socket. A TCP address
    /// other than loopback also needs an explicit [`authkey`](Self::authkey).
    pub fn address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    /// The key clients must know (default: 32 random bytes; see
    /// [`Manager::authkey`]).
    pub fn authkey(mut self, key: &[u8]) -> Self {
        self.authkey = Some(key.to_vec());
        self
    }

    /// The largest request or response, in bytes (default
    /// [`DEFAULT_MAX_MESSAGE_LEN`]).
    pub fn max_message_len(mut self, max: usize) -> Self {
        self.max_message_len = Some(max);
        self
    }

    fn listener(&self) -> Result<Listener, ManagerError> {
        let address = self.address.clone();
        let key = match (&self.authkey, &address) {
            (Some(k), _) => k.clone(),
            (None, Some(a)) if !a.is_local() => {
                return Err(ConnectionError::KeyRequired(a.clone()).into())
            }
            (None, _) => super::connection::random_bytes::<32>()
                .map_err(|e| ManagerError::Connection(e.into()))?
                .to_vec(),
        };
        let mut listener = match &address {
            Some(a) => Listener::bind(a, Some(&key))?,
            None => Listener::bind_local(Some(&key))?,
        };
        listener.set_max_message_len(self.max_message_len.unwrap_or(DEFAULT_MAX_MESSAGE_LEN));
        Ok(listener)
    }

    /// Starts the server process (a daemon child: it ends with this
    /// process) listening on the address; returns once clients can connect.
    pub fn start(self) -> Result<Manager, ManagerError> {
        let mut listener = self.listener()?;
        let socket = listener
            .socket_fd()
            .try_clone_to_owned()
            .map_err(ManagerError::Spawn)?;
        let args = server::ServerArgs {
            socket,
            address: listener.address().clone(),
            authkey: listener.authkey().map(<[u8]>::to_vec),
            max_message_len: listener.max_message_len(),
        };
        let process = Process::builder(server::SERVER)
            .daemon(true)
            .spawn(&args)
            .map_err(ManagerError::Spawn)?;
        listener.keep_socket_file();
        let socket_file = match listener.address() {
            Address::Unix(p) => Some(p.clone()),
            Address::Tcp(_) => None,
        };
        let remote = Remote {
            address: listener.address().clone(),
            authkey: listener.authkey().map(<[u8]>::to_vec),
            max_message_len: listener.max_message_len(),
        };
        Ok(Manager {
            control: Link::new(remote),
            server: Some(process),
            socket_file,
        })
    }

    /// Runs the server in this process, on this builder's address (Python's
    /// `get_server().serve_forever()`); returns only on an error. A client's
    /// [`Manager::shutdown`] exits the process.
    pub fn serve(self) -> Result<(), ManagerError> {
        let listener = self.listener()?;
        Manager::serve(listener)
    }
}

/// A handle on a manager's server: makes shared objects and hands out their
/// proxies. See the [module docs](self).
///
/// `Manager` is `Send + Sync`.
pub struct Manager {
    /// The connection for creating objects and asking for stats.
    control: Link,
    /// The server process, if this handle started it.
    server: Option<Process>,
    /// The Unix socket file to remove at the end.
    socket_file: Option<PathBuf>,
}

impl Manager {
    /// Starts a server process on a fresh Unix socket with a random key
    /// (Python's `Manager()`); `init` must have been called first in `main`.
    pub fn start() -> Result<Manager, ManagerError> {
        ManagerBuilder::default().start()
    }

    /// A manager with options: see [`ManagerBuilder`].
    pub fn builder() -> ManagerBuilder {
        ManagerBuilder::default()
    }

    /// A handle on a server started elsewhere (Python's `connect()`);
    /// checks the address and the key at once. Dropping it leaves the
    /// server running.
    pub fn connect(address: &Address, authkey: Option<&[u8]>) -> Result<Manager, ManagerError> {
        let manager = Manager {
            control: Link::new(Remote {
                address: address.clone(),
                authkey: authkey.map(<[u8]>::to_vec),
                max_message_len: DEFAULT_MAX_MESSAGE_LEN,
            }),
            server: None,
            socket_file: None,
        };
        manager.stats()?;
        Ok(manager)
    }

    /// Serves the manager's objects on `listener` in this process, forever
    /// (Python's `get_server().serve_forever()`).
    pub fn serve(listener: Listener) -> Result<(), ManagerError> {
        server::serve(listener).map_err(ManagerError::Io)
    }

    /// The server's address.
    pub fn address(&self) -> &Address {
        &self.control.remote.address
    }

    /// The key clients must present (give it to the programs that
    /// [`connect`](Self::connect)).
    pub fn authkey(&self) -> Option<&[u8]> {
        self.control.remote.authkey.as_deref()
    }

    /// The server's open connections and objects.
    pub fn stats(&self) -> Result<ManagerStats, ManagerError> {
        match self.control.request(&Request::Stats)? {
            Response::Stats {
                connections,
                objects,
                waiting,
                mailboxes,
            } => Ok(ManagerStats {
                connections,
                objects,
                waiting,
                mailboxes,
            }),
            r => Err(ManagerError::Codec(format!(
                "an unexpected response: {r:?}"
            ))),
        }
    }

    fn create(&self, kind: Kind, name: Option<&str>, init: Blob) -> Result<Proxy, ManagerError> {
        let request = Request::Create {
            kind,
            name: name.map(str::to_string),
            init,
        };
        match self.control.request(&request)? {
            Response::Created(id) => Ok(Proxy::new(self.control.remote.clone(), id)),
            r => Err(ManagerError::Codec(format!(
                "an unexpected response: {r:?}"
            ))),
        }
    }

    fn make<P>(
        &self,
        kind: Kind,
        name: Option<&str>,
        wrap: fn(Proxy) -> P,
    ) -> Result<P, ManagerError> {
        self.create(kind, name, Blob::default()).map(wrap)
    }

    /// A new shared dict (Python's `m.dict()`).
    pub fn dict<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned>(
        &self,
    ) -> Result<DictProxy<K, V>, ManagerError> {
        self.make(Kind::Dict, None, DictProxy::from_proxy)
    }

    /// The dict named `name`, made on first use.
    pub fn dict_named<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<DictProxy<K, V>, ManagerError> {
        self.make(Kind::Dict, Some(name), DictProxy::from_proxy)
    }

    /// A new shared list (Python's `m.list()`).
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<ListProxy<T>, ManagerError> {
        self.make(Kind::List, None, ListProxy::from_proxy)
    }

    /// The list named `name`, made on first use.
    pub fn list_named<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<ListProxy<T>, ManagerError> {
        self.make(Kind::List, Some(name), ListProxy::from_proxy)
    }

    /// A new namespace (Python's `m.Namespace()`).
    pub fn namespace(&self) -> Result<NamespaceProxy, ManagerError> {
        self.make(Kind::Namespace, None, NamespaceProxy::from_proxy)
    }

    /// The namespace named `name`, made on first use.
    pub fn namespace_named(&self, name: &str) -> Result<NamespaceProxy, ManagerError> {
        self.make(Kind::Namespace, Some(name), NamespaceProxy::from_proxy)
    }

    /// A new unbounded queue (Python's `m.Queue()`).
    pub fn queue<T: Serialize + DeserializeOwned>(&self) -> Result<QueueProxy<T>, ManagerError> {
        self.make(Kind::Queue, None, QueueProxy::from_proxy)
    }

    /// The queue named `name`, made on first use.
    pub fn queue_named<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<QueueProxy<T>, ManagerError> {
        self.make(Kind::Queue, Some(name), QueueProxy::from_proxy)
    }

    /// A new lock (Python's `m.Lock()`).
    pub fn lock(&self) -> Result<LockProxy, ManagerError> {
        self.make(Kind::Lock, None, LockProxy::from_proxy)
    }

    /// The lock named `name`, made on first use.
    pub fn lock_named(&self, name: &str) -> Result<LockProxy, ManagerError> {
        self.make(Kind::Lock, Some(name), LockProxy::from_proxy)
    }

    /// A new event (Python's `m.Event()`).
    pub fn event(&self) -> Result<EventProxy, ManagerError> {
        self.make(Kind::Event, None, EventProxy::from_proxy)
    }

    /// The event named `name`, made on first use.
    pub fn event_named(&self, name: &str) -> Result<EventProxy, ManagerError> {
        self.make(Kind::Event, Some(name), EventProxy::from_proxy)
    }

    /// A new value holding `init` (Python's `m.Value(typecode, init)`).
    pub fn value<T: Serialize + DeserializeOwned>(
        &self,
        init: &T,
    ) -> Result<ValueProxy<T>, ManagerError> {
        let init = super::frame::encode(init).map_err(|e| ManagerError::Codec(e.to_string()))?;
        self.create(Kind::Value, None, Blob(init))
            .map(ValueProxy::from_proxy)
    }

    /// The value named `name`, holding `init` if it is made now.
    pub fn value_named<T: Serialize + DeserializeOwned>(
        &self,
        name: &str,
        init: &T,
    ) -> Result<ValueProxy<T>, ManagerError> {
        let init = super::frame::encode(init).map_err(|e| ManagerError::Codec(e.to_string()))?;
        self.create(Kind::Value, Some(name), Blob(init))
            .map(ValueProxy::from_proxy)
    }

    /// Ends the server process (Python's `shutdown()`); its objects are
    /// gone, and their proxies' calls fail from now on.
    pub fn shutdown(mut self) -> Result<(), ManagerError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<(), ManagerError> {
        let asked = self.control.request(&Request::Shutdown);
        if let Some(mut server) = self.server.take() {
            match server.join_timeout(Duration::from_secs(5)) {
                Ok(Some(_)) => {}
                _ => {
                    let _ = server.kill();
                    let _ = server.join();
                }
            }
        }
        if let Some(path) = self.socket_file.take() {
            let _ = std::fs::remove_file(path);
        }
        asked.map(drop)
    }
}

impl Drop for Manager {
    /// A manager that started its server shuts it down.
    fn drop(&mut self) {
        if self.server.is_some() {
            let _ = self.stop();
        }
    }
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("address", self.address())
            .field("server_pid", &self.server.as_ref().map(Process::pid))
            .finish()
    }
}

#[allow(unused)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Manager>();
    is::<DictProxy<String, u64>>();
    is::<LockProxy>();
}
