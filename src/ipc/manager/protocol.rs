//! The manager's messages: one [`Request`] frame from a proxy, one
//! [`Response`] frame back, on the proxy's own authenticated connection.
//! Keys and values travel as the bytes of their postcard encoding
//! ([`Blob`]): the server stores bytes and never needs the types.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ipc::shm::Backend;

/// Bytes that serde encodes as one byte string (one copy), not as a
/// sequence of `u8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

/// The kinds of shared object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    Dict,
    List,
    Namespace,
    Queue,
    Lock,
    Event,
    Value,
}

/// A timeout in milliseconds; `None`: wait forever.
pub(crate) type TimeoutMs = Option<u64>;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Makes an object (or, with a name, finds the one of that name and
    /// kind, making it the first time); `init`: a Value's first value.
    Create {
        kind: Kind,
        name: Option<String>,
        init: Blob,
    },
    /// An operation on object `id`.
    Call { id: u64, op: Op },
    /// How many connections and objects the server has.
    Stats,
    /// Ends the server process.
    Shutdown,
    /// Asks to go on over a shared-memory mailbox (a local client, right
    /// after the handshake): `Done`, then the client passes the region
    /// (`SCM_RIGHTS`), then `Done` again; an `Error` at either step means
    /// "go on over the socket". See `wire.rs`.
    Attach { backend: Backend },
}

/// Operations; each is valid on the kinds named.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    /// Dict, Namespace.
    Get(Blob),
    /// Dict, Namespace.
    Set(Blob, Blob),
    /// Dict, Namespace: the removed value.
    Remove(Blob),
    /// Dict, Namespace.
    Contains(Blob),
    /// Dict, Namespace, List, Queue.
    Len,
    /// Dict, Namespace: every (key, value).
    Items,
    /// Dict, List, Namespace, Queue.
    Clear,
    /// List.
    Append(Blob),
    /// List: Python's index (negative from the end).
    Index(i64),
    /// List.
    SetIndex(i64, Blob),
    /// List: the last item, or the one at the index.
    Pop(Option<i64>),
    /// List: every item.
    All,
    /// Queue.
    Put(Blob),
    /// Queue: waits for an item.
    Take(TimeoutMs),
    /// Lock: waits for the lock (held by this connection until `Release`
    /// or until the connection ends).
    Acquire(TimeoutMs),
    /// Lock.
    Release,
    /// Event.
    SetEvent,
    /// Event.
    ClearEvent,
    /// Event.
    IsSet,
    /// Event: waits for the flag.
    Wait(TimeoutMs),
    /// Value.
    Load,
    /// Value.
    Store(Blob),
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    Done,
    Created(u64),
    Bytes(Blob),
    Maybe(Option<Blob>),
    Bool(bool),
    Len(u64),
    List(Vec<Blob>),
    Pairs(Vec<(Blob, Blob)>),
    Stats {
        connections: u64,
        objects: u64,
        waiting: u64,
        mailboxes: u64,
    },
    /// A blocking call's timeout passed.
    TimedOut,
    /// The request could not be carried out (wrong kind, bad index, ...).
    Error(String),
}
