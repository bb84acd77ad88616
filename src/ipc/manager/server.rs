//! The manager's server: the process that holds the shared objects.
//!
//! One thread accepts; each connection (one per proxy) gets its own thread,
//! which authenticates the client, then answers its requests one at a time.
//! The objects live in one `Mutex<Store>`; blocking calls (a queue's get, a
//! lock's acquire, an event's wait) sleep on one `Condvar`, notified by
//! every change.
//!
//! A client that dies never costs the others anything:
//!
//! - a connection that ends (also inside a frame) ends its thread; the locks
//!   it held are released and the connection is no longer counted;
//! - a blocking call checks, every [`LIVENESS_CHECK`], that its client is
//!   still connected, and before it takes anything: a dead client's `get`
//!   takes no item, and its `acquire` takes no lock;
//! - if the reply cannot be delivered, what the call took is given back (the
//!   item to the front of the queue, the lock released).
//!
//! Objects belong to the server, not to a proxy: they live until the server
//! ends (Python counts proxies and deletes an object with its last one).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::protocol::{Blob, Kind, Op, Request, Response};
use super::wire::{self, Wire};
use crate::ipc::connection::{Address, Listener};
use crate::ipc::{frame, inherit, Connection};

/// The name of the server's entry point.
pub(crate) const SERVER: &str = "synclings::ipc::manager::server";

/// How often a blocking call checks that its client is still there.
const LIVENESS_CHECK: Duration = Duration::from_millis(100);

/// The most connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: u64 = 1024;

/// What the server process is started with: the listening socket (bound by
/// the parent, so that clients can connect as soon as `start` returns).
#[derive(Serialize, Deserialize)]
pub(super) struct ServerArgs {
    #[serde(with = "inherit::fd")]
    pub(super) socket: OwnedFd,
    pub(super) address: Address,
    pub(super) authkey: Option<Vec<u8>>,
    pub(super) max_message_len: usize,
}

/// The server process's entry point.
pub(super) fn main(args: ServerArgs) {
    let listener = Listener::from_parts(
        args.socket,
        args.address,
        args.authkey,
        args.max_message_len,
    );
    if let Err(e) = serve(listener) {
        eprintln!("synclings manager server: {e}");
        std::process::exit(1);
    }
}

enum Object {
    /// Dict and Namespace: encoded key → encoded value.
    Map(HashMap<Vec<u8>, Vec<u8>>),
    List(Vec<Vec<u8>>),
    Queue(VecDeque<Vec<u8>>),
    /// The connection holding it.
    Lock(Option<u64>),
    Event(bool),
    Value(Vec<u8>),
}

#[derive(Default)]
struct Store {
    objects: HashMap<u64, (Kind, Object)>,
    names: HashMap<String, u64>,
    next_id: u64,
}

struct Server {
    store: Mutex<Store>,
    changed: Condvar,
    connections: AtomicU64,
    /// Blocking calls waiting now.
    waiting: AtomicU64,
    /// Connections on a shared-memory mailbox now.
    mailboxes: AtomicU64,
}

/// Counts a connection in `mailboxes` while it is on one.
struct OnMailbox<'a>(Option<&'a AtomicU64>);

impl Drop for OnMailbox<'_> {
    fn drop(&mut self) {
        if let Some(count) = self.0 {
            count.fetch_sub(1, Relaxed);
        }
    }
}

impl Server {
    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves `listener` until a client asks for shutdown (then the process
/// exits). Python's `manager.get_server().serve_forever()`.
pub(crate) fn serve(listener: Listener) -> io::Result<()> {
    let listener = Arc::new(listener);
    let server = Arc::new(Server {
        store: Mutex::new(Store::default()),
        changed: Condvar::new(),
        connections: AtomicU64::new(0),
        waiting: AtomicU64::new(0),
        mailboxes: AtomicU64::new(0),
    });
    let next_connection = AtomicU64::new(1);
    loop {
        let stream = match listener.accept_unauthenticated() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if e.raw_os_error() == Some(libc::EMFILE)
                    || e.raw_os_error() == Some(libc::ENFILE) =>
            {
                // Out of descriptors: let connections end instead of spinning.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            Err(_) => continue, // the client went away before accept
        };
        if server.connections.load(Relaxed) >= MAX_CONNECTIONS {
            continue; // dropped: closed
        }
        server.connections.fetch_add(1, Relaxed);
        let id = next_connection.fetch_add(1, Relaxed);
        let (shared, listener) = (Arc::clone(&server), Arc::clone(&listener));
        let spawned = std::thread::Builder::new()
            .name(format!("manager-conn-{id}"))
            .spawn(move || {
                if let Ok(conn) = listener.authenticate(stream) {
                    serve_connection(&shared, conn, id);
                }
                shared.release_all(id);
                shared.connections.fetch_sub(1, Relaxed);
            });
        if spawned.is_err() {
            // Its stream was dropped (closed) with the closure.
            server.connections.fetch_sub(1, Relaxed);
        }
    }
}

/// What to give back if a reply cannot be delivered.
enum Undo {
    /// Put the item back at the front of queue `id`.
    Requeue(u64, Vec<u8>),
    /// Release lock `id`.
    Unlock(u64),
}

fn serve_connection(server: &Server, mut conn: Connection, me: u64) {
    conn.set_spin(Some(super::SPIN));
    let mut wire = Wire::Socket(conn);
    let mut on_mailbox = OnMailbox(None);
    loop {
        let Ok(bytes) = wire.recv_bytes() else {
            return; // closed, cut, oversized: the connection ends
        };
        let request = frame::decode::<Request>(&bytes);
        frame::recycle(bytes);
        let (response, undo) = match request {
            Ok(Request::Attach { backend }) => {
                match wire::attach(wire, backend) {
                    Some(attached) => wire = attached,
                    None => return,
                }
                if wire.is_mailbox() && on_mailbox.0.is_none() {
                    server.mailboxes.fetch_add(1, Relaxed);
                    on_mailbox.0 = Some(&server.mailboxes);
                }
                continue;
            }
            Ok(Request::Call { id, op }) => match server.call(wire.socket(), me, id, op) {
                Some(answer) => answer,
                None => return, // the client left during a blocking call
            },
            Ok(Request::Create { kind, name, init }) => (server.create(kind, name, init), None),
            Ok(Request::Stats) => (
                Response::Stats {
                    connections: server.connections.load(Relaxed),
                    waiting: server.waiting.load(Relaxed),
                    mailboxes: server.mailboxes.load(Relaxed),
                    objects: server.lock().objects.len() as u64,
                },
                None,
            ),
            Ok(Request::Shutdown) => {
                let _ = wire.send(&Response::Done);
                std::process::exit(0);
            }
            Err(e) => (Response::Error(format!("not a manager request: {e}")), None),
        };
        // A reply that took something must reach a live client: a mailbox
        // write always "succeeds", so ask the socket too.
        let sent = wire.send(&response).is_ok();
        if !sent || (undo.is_some() && !peer_alive(wire.socket())) {
            if let Some(undo) = undo {
                server.undo(undo);
            }
            return;
        }
    }
}

/// False if the peer of `conn` has closed its end (or the socket failed).
///
/// Asks the kernel, whatever `conn` has read ahead: a request the client
/// sent before it left may sit in the connection's buffer (invisible to
/// `poll`), but only the socket knows whether the client is still there.
/// Bytes in the kernel make the peek say "alive" unless a hang-up is
/// reported; nothing in the kernel and no hang-up is a connected client.
fn peer_alive(conn: &Connection) -> bool {
    let fd = conn.as_fd().as_raw_fd();
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout.
    if unsafe { libc::poll(&mut pfd, 1, 0) } <= 0 {
        return true; // nothing to read: connected
    }
    if pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
        return false;
    }
    let mut byte = 0u8;
    // SAFETY: peeks at most one byte into `byte`; consumes nothing.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n != 0
}

fn deadline(timeout_ms: Option<u64>) -> Option<Instant> {
    timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms))
}

/// Python's list index: negative counts from the end.
fn index(len: usize, i: i64) -> Option<usize> {
    let i = if i < 0 { len as i64 + i } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

impl Server {
    fn create(&self, kind: Kind, name: Option<String>, init: Blob) -> Response {
        let mut store = self.lock();
        if let Some(name) = &name {
            if let Some(&id) = store.names.get(name) {
                let existing = store.objects[&id].0;
                return if existing == kind {
                    Response::Created(id)
                } else {
                    Response::Error(format!("`{name}` is a {existing:?}, not a {kind:?}"))
                };
            }
        }
        let object = match kind {
            Kind::Dict | Kind::Namespace => Object::Map(HashMap::new()),
            Kind::List => Object::List(Vec::new()),
            Kind::Queue => Object::Queue(VecDeque::new()),
            Kind::Lock => Object::Lock(None),
            Kind::Event => Object::Event(false),
            Kind::Value => Object::Value(init.0),
        };
        store.next_id += 1;
        let id = store.next_id;
        store.objects.insert(id, (kind, object));
        if let Some(name) = name {
            store.names.insert(name, id);
        }
        Response::Created(id)
    }

    /// Runs `op` on object `id` for connection `me`. `None`: the client
    /// left while the call waited.
    fn call(
        &self,
        conn: &Connection,
        me: u64,
        id: u64,
        op: Op,
    ) -> Option<(Response, Option<Undo>)> {
        match op {
            Op::Take(t) => self.wait_for(
                conn,
                deadline(t),
                |obj| match obj {
                    Object::Queue(q) => q.pop_front().map(|item| {
                        (
                            Response::Bytes(Blob(item.clone())),
                            Some(Undo::Requeue(id, item)),
                        )
                    }),
                    _ => Some((wrong("get"), None)),
                },
                id,
            ),
            Op::Acquire(t) => self.wait_for(
                conn,
                deadline(t),
                |obj| match obj {
                    Object::Lock(holder @ None) => {
                        *holder = Some(me);
                        Some((Response::Done, Some(Undo::Unlock(id))))
                    }
                    Object::Lock(Some(h)) if *h == me => Some((
                        Response::Error(
                            "this proxy already holds the lock (it is not an RLock)".into(),
                        ),
                        None,
                    )),
                    Object::Lock(Some(_)) => None,
                    _ => Some((wrong("acquire"), None)),
                },
                id,
            ),
            Op::Wait(t) => self.wait_for(
                conn,
                deadline(t),
                |obj| match obj {
                    Object::Event(true) => Some((Response::Bool(true), None)),
                    Object::Event(false) => None,
                    _ => Some((wrong("wait"), None)),
                },
                id,
            ),
            op => {
                let mut store = self.lock();
                let Some((_, obj)) = store.objects.get_mut(&id) else {
                    return Some((no_such(id), None));
                };
                let response = apply(obj, op, me);
                drop(store);
                self.changed_for_waiters();
                Some((response, None))
            }
        }
    }

    /// Wakes the blocking calls after a change made under the store's lock
    /// (called after that lock was taken): none waiting, no system call (a
    /// `Condvar`'s `notify_all` always makes one). A waiter counts itself
    /// before it takes the lock to check the state, so if it checked before
    /// this change, its count happened before the change's lock and is seen
    /// here; if after, it saw the change and does not wait.
    fn changed_for_waiters(&self) {
        if self.waiting.load(Relaxed) > 0 {
            self.changed.notify_all();
        }
    }

    /// Waits until `attempt` on object `id` gives an answer, the deadline
    /// passes (`TimedOut`) or the client leaves (`None`).
    fn wait_for(
        &self,
        conn: &Connection,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(&mut Object) -> Option<(Response, Option<Undo>)>,
        id: u64,
    ) -> Option<(Response, Option<Undo>)> {
        struct Waiting<'a>(&'a AtomicU64);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Relaxed);
            }
        }
        self.waiting.fetch_add(1, Relaxed);
        let _waiting = Waiting(&self.waiting);
        let mut store = self.lock();
        loop {
            let Some((_, obj)) = store.objects.get_mut(&id) else {
                return Some((no_such(id), None));
            };
            // A client that left takes nothing.
            if !peer_alive(conn) {
                return None;
            }
            if let Some(answer) = attempt(obj) {
                return Some(answer);
            }
            let mut slice = LIVENESS_CHECK;
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Some((Response::TimedOut, None));
                }
                slice = slice.min(left);
            }
            store = self
                .changed
                .wait_timeout(store, slice)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn undo(&self, undo: Undo) {
        let mut store = self.lock();
        match undo {
            Undo::Requeue(id, item) => {
                if let Some((_, Object::Queue(q))) = store.objects.get_mut(&id) {
                    q.push_front(item);
                }
            }
            Undo::Unlock(id) => {
                if let Some((_, Object::Lock(holder))) = store.objects.get_mut(&id) {
                    *holder = None;
                }
            }
        }
        drop(store);
        self.changed_for_waiters();
    }

    /// Releases every lock connection `me` holds (it ended).
    fn release_all(&self, me: u64) {
        let mut store = self.lock();
        for (_, obj) in store.objects.values_mut() {
            if let Object::Lock(holder) = obj {
                if *holder == Some(me) {
                    *holder = None;
                }
            }
        }
        drop(store);
        self.changed_for_waiters();
    }
}

fn wrong(what: &str) -> Response {
    Response::Error(format!(
        "this object has no `{what}` (a proxy of the wrong kind?)"
    ))
}

fn no_such(id: u64) -> Response {
    Response::Error(format!("the manager has no object {id}"))
}

/// The non-blocking operations.
fn apply(obj: &mut Object, op: Op, me: u64) -> Response {
    match (obj, op) {
        (Object::Map(m), Op::Get(k)) => Response::Maybe(m.get(&k.0).cloned().map(Blob)),
        (Object::Map(m), Op::Set(k, v)) => {
            m.insert(k.0, v.0);
            Response::Done
        }
        (Object::Map(m), Op::Remove(k)) => Response::Maybe(m.remove(&k.0).map(Blob)),
        (Object::Map(m), Op::Contains(k)) => Response::Bool(m.contains_key(&k.0)),
        (Object::Map(m), Op::Len) => Response::Len(m.len() as u64),
        (Object::Map(m), Op::Items) => Response::Pairs(
            m.iter()
                .map(|(k, v)| (Blob(k.clone()), Blob(v.clone())))
                .collect(),
        ),
        (Object::Map(m), Op::Clear) => {
            m.clear();
            Response::Done
        }
        (Object::List(l), Op::Append(v)) => {
            l.push(v.0);
            Response::Done
        }
        (Object::List(l), Op::Index(i)) => match index(l.len(), i) {
            Some(i) => Response::Bytes(Blob(l[i].clone())),
            None => Response::Error("list index out of range".into()),
        },
        (Object::List(l), Op::SetIndex(i, v)) => match index(l.len(), i) {
            Some(i) => {
                l[i] = v.0;
                Response::Done
            }
            None => Response::Error("list assignment index out of range".into()),
        },
        (Object::List(l), Op::Pop(i)) => match index(l.len(), i.unwrap_or(-1)) {
            Some(i) => Response::Bytes(Blob(l.remove(i))),
            None => Response::Error("pop from an empty list or an index out of range".into()),
        },
        (Object::List(l), Op::All) => Response::List(l.iter().cloned().map(Blob).collect()),
        (Object::List(l), Op::Len) => Response::Len(l.len() as u64),
        (Object::List(l), Op::Clear) => {
            l.clear();
            Response::Done
        }
        (Object::Queue(q), Op::Put(v)) => {
            q.push_back(v.0);
            Response::Done
        }
        (Object::Queue(q), Op::Len) => Response::Len(q.len() as u64),
        (Object::Queue(q), Op::Clear) => {
            q.clear();
            Response::Done
        }
        (Object::Lock(holder), Op::Release) => {
            if *holder == Some(me) {
                *holder = None;
                Response::Done
            } else {
                Response::Error("release of a lock this proxy does not hold".into())
            }
        }
        (Object::Event(flag), Op::SetEvent) => {
            *flag = true;
            Response::Done
        }
        (Object::Event(flag), Op::ClearEvent) => {
            *flag = false;
            Response::Done
        }
        (Object::Event(flag), Op::IsSet) => Response::Bool(*flag),
        (Object::Value(v), Op::Load) => Response::Bytes(Blob(v.clone())),
        (Object::Value(v), Op::Store(new)) => {
            *v = new.0;
            Response::Done
        }
        (_, op) => Response::Error(format!(
            "this object has no {op:?} (a proxy of the wrong kind?)"
        )),
    }
}
