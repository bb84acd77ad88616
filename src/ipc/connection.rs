//! Python's `multiprocessing.connection`: a [`Listener`] and a [`Client`]
//! that authenticate each other with a shared key, over a Unix socket or
//! TCP, and hand over an ordinary [`Connection`].
//!
//! | Python | synclings |
//! |---|---|
//! | `Listener(address, authkey=key)` | [`Listener::bind(&address, Some(key))`](Listener::bind) |
//! | `Listener(authkey=key)` (a fresh local address) | [`Listener::bind_local(Some(key))`](Listener::bind_local): a Unix socket in the temporary directory |
//! | `listener.accept()` / `listener.address` | [`Listener::accept`] / [`Listener::address`] |
//! | `Client(address, authkey=key)` | [`Client::connect(&address, Some(key))`](Client::connect) |
//! | `AuthenticationError` | [`ConnectionError::AuthenticationFailed`] |
//!
//! # The handshake
//!
//! As in CPython, each side proves it knows the key by answering a random
//! challenge of the other, so neither trusts a peer that merely replays
//! what it saw before:
//!
//! 1. the listener sends `#CHALLENGE#` and 32 fresh random bytes; the client
//!    answers HMAC-SHA256(key, `"client"` ‖ challenge); the listener checks
//!    it (in constant time, `hmac`'s `verify_slice`) and sends `#WELCOME#`
//!    or `#FAILURE#`;
//! 2. then the other way: the client sends its own challenge, the listener
//!    answers HMAC-SHA256(key, `"server"` ‖ challenge), the client checks.
//!
//! The `"client"`/`"server"` tags keep an answer of one direction from being
//! reflected as an answer in the other, and a listener refuses a client
//! challenge equal to its own. HMAC and SHA-256 are the `hmac` and `sha2`
//! crates (RustCrypto), not code of ours. Every handshake frame is at most
//! [`HANDSHAKE_MAX`] bytes: bytes that are not a handshake (an HTTP request,
//! garbage) are refused at their first 4-byte length, before anything is
//! decoded or allocated, and a peer that says nothing is dropped after
//! [`HANDSHAKE_TIMEOUT`]. Without a key there is no handshake (Python's
//! `authkey=None`), which is allowed only on a Unix socket or loopback.
//!
//! # Example
//!
//! ```
//! use synclings::ipc::connection::{Address, Client, Listener};
//!
//! let listener = Listener::bind(&Address::loopback(0), Some(b"secret"))?;
//! let address = listener.address().clone();
//! let server = std::thread::spawn(move || {
//!     let mut conn = listener.accept().unwrap();
//!     let n: u32 = conn.recv().unwrap();
//!     conn.send(&(n + 1)).unwrap();
//! });
//! let mut conn = Client::connect(&address, Some(b"secret"))?;
//! conn.send(&41u32)?;
//! assert_eq!(conn.recv::<u32>()?, 42);
//! server.join().unwrap();
//! // The wrong key is refused.
//! assert!(Client::connect(&address, Some(b"guess")).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `Listener` is `Send + Sync` (accept from several threads); the
//! `Connection`s it hands over are those of [`pipe()`](super::pipe()), whose
//! [`max_message_len`](Connection::max_message_len) bounds every frame.

use std::fmt;
use std::io::{self, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::frame::{self, RecvError};
use super::Connection;

/// The largest handshake frame: a challenge is 11 + 32 bytes.
pub const HANDSHAKE_MAX: usize = 64;

/// How long a handshake may take before the peer is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
const NONCE_LEN: usize = 32;

/// Where a [`Listener`] listens: a Unix socket's path, or a TCP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Address {
    /// A Unix domain socket (Python's `AF_UNIX` family): local only.
    Unix(PathBuf),
    /// A TCP address (Python's `AF_INET`).
    Tcp(SocketAddr),
}

impl Address {
    /// `127.0.0.1:port` (0: any free port, known after binding).
    pub fn loopback(port: u16) -> Address {
        Address::Tcp(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))
    }

    /// True for a Unix socket or a loopback TCP address: reachable from this
    /// machine only.
    pub fn is_local(&self) -> bool {
        match self {
            Address::Unix(_) => true,
            Address::Tcp(a) => a.ip().is_loopback(),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(p) => write!(f, "unix:{}", p.display()),
            Address::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Why a listener, an accept or a connect failed.
#[derive(Debug)]
pub enum ConnectionError {
    /// The peer does not know the key, answered a challenge wrongly, replayed
    /// a challenge, or sent bytes that are not a handshake (Python's
    /// `AuthenticationError`). Nothing it sent was decoded.
    AuthenticationFailed(String),
    /// Listening beyond this machine (not a Unix socket, not loopback)
    /// without a key: pass a key, or bind to `127.0.0.1`.
    KeyRequired(Address),
    /// The operating system refused (or the peer closed the connection).
    Io(io::Error),
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::AuthenticationFailed(why) => {
                write!(
                    f,
                    "authentication failed: {why} (do both sides use the same authkey?)"
                )
            }
            ConnectionError::KeyRequired(a) => write!(
                f,
                "{a} is reachable from other machines: listening there needs an authkey \
                 (or bind to a loopback address)"
            ),
            ConnectionError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConnectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectionError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ConnectionError {
    fn from(e: io::Error) -> Self {
        ConnectionError::Io(e)
    }
}

impl From<ConnectionError> for io::Error {
    fn from(e: ConnectionError) -> Self {
        match e {
            ConnectionError::Io(e) => e,
            ConnectionError::AuthenticationFailed(_) => {
                io::Error::new(io::ErrorKind::PermissionDenied, e)
            }
            ConnectionError::KeyRequired(_) => io::Error::new(io::ErrorKind::InvalidInput, e),
        }
    }
}

/// The listening socket.
#[derive(Debug)]
pub(crate) enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// A listening socket that authenticates the clients it accepts (Python's
/// `multiprocessing.connection.Listener`).
#[derive(Debug)]
pub struct Listener {
    socket: Socket,
    address: Address,
    authkey: Option<Vec<u8>>,
    max_message_len: usize,
    /// Remove the socket file on drop (the listener that created it).
    unlink: bool,
}

impl Listener {
    /// Listens on `address` (a Unix socket path, created; or a TCP address,
    /// port 0 for any free one). Clients must know `authkey`; `None` (no
    /// handshake) is refused unless the address is local
    /// ([`Address::is_local`]).
    pub fn bind(address: &Address, authkey: Option<&[u8]>) -> Result<Listener, ConnectionError> {
        if authkey.is_none() && !address.is_local() {
            return Err(ConnectionError::KeyRequired(address.clone()));
        }
        let (socket, address, unlink) = match address {
            Address::Unix(path) => (
                Socket::Unix(UnixListener::bind(path)?),
                address.clone(),
                true,
            ),
            Address::Tcp(a) => {
                let l = TcpListener::bind(a)?;
                let bound = Address::Tcp(l.local_addr()?);
                (Socket::Tcp(l), bound, false)
            }
        };
        Ok(Listener {
            socket,
            address,
            authkey: authkey.map(<[u8]>::to_vec),
            max_message_len: frame::DEFAULT_MAX_MESSAGE_LEN,
            unlink,
        })
    }

    /// Listens on a fresh Unix socket in the temporary directory (Python's
    /// `Listener()` without an address).
    pub fn bind_local(authkey: Option<&[u8]>) -> Result<Listener, ConnectionError> {
        let name = format!(
            "synclings-{}-{}.sock",
            std::process::id(),
            hex(&random_bytes::<8>()?)
        );
        Listener::bind(&Address::Unix(std::env::temp_dir().join(name)), authkey)
    }

    /// The address clients connect to (with the real port if 0 was asked).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The largest message the accepted connections send or receive (the
    /// default is [`DEFAULT_MAX_MESSAGE_LEN`](super::DEFAULT_MAX_MESSAGE_LEN)).
    pub fn set_max_message_len(&mut self, max: usize) {
        self.max_message_len = max.min(frame::MAX_FRAME_LEN);
    }

    /// Waits for a client and authenticates it (Python's `accept()`).
    /// A client that fails the handshake is dropped and reported as
    /// [`ConnectionError::AuthenticationFailed`]: call `accept` again for
    /// the next one.
    pub fn accept(&self) -> Result<Connection, ConnectionError> {
        let stream = self.accept_unauthenticated()?;
        self.authenticate(stream)
    }

    /// Accepts a client without running the handshake (a server that
    /// authenticates on another thread; see [`authenticate`](Self::authenticate)).
    pub(crate) fn accept_unauthenticated(&self) -> io::Result<Stream> {
        Ok(match &self.socket {
            Socket::Unix(l) => Stream::Unix(l.accept()?.0),
            Socket::Tcp(l) => {
                let (s, _) = l.accept()?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
        })
    }

    /// The server side of the handshake on an accepted stream.
    pub(crate) fn authenticate(&self, stream: Stream) -> Result<Connection, ConnectionError> {
        if let Some(key) = &self.authkey {
            stream.set_timeout(Some(HANDSHAKE_TIMEOUT))?;
            let mine = deliver_challenge(&stream, key, CLIENT_TAG)?;
            answer_challenge(&stream, key, SERVER_TAG, Some(&mine))?;
            stream.set_timeout(None)?;
        }
        Ok(stream.into_connection(self.max_message_len))
    }

    /// Passes the listening socket to a child process (the manager's server).
    pub(crate) fn socket_fd(&self) -> BorrowedFd<'_> {
        match &self.socket {
            Socket::Unix(l) => l.as_fd(),
            Socket::Tcp(l) => l.as_fd(),
        }
    }

    /// A listener on a socket received from the parent (no unlink on drop).
    pub(crate) fn from_parts(
        fd: OwnedFd,
        address: Address,
        authkey: Option<Vec<u8>>,
        max_message_len: usize,
    ) -> Listener {
        let socket = match address {
            Address::Unix(_) => Socket::Unix(UnixListener::from(fd)),
            Address::Tcp(_) => Socket::Tcp(TcpListener::from(fd)),
        };
        Listener {
            socket,
            address,
            authkey,
            max_message_len,
            unlink: false,
        }
    }

    /// Keeps the socket file when this listener is dropped (another process
    /// serves it; its owner removes it).
    pub(crate) fn keep_socket_file(&mut self) {
        self.unlink = false;
    }

    pub(crate) fn authkey(&self) -> Option<&[u8]> {
        self.authkey.as_deref()
    }

    pub(crate) fn max_message_len(&self) -> usize {
        self.max_message_len
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let (true, Address::Unix(path)) = (self.unlink, &self.address) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Connects to a [`Listener`] (Python's `multiprocessing.connection.Client`).
#[derive(Debug, Clone, Copy)]
pub struct Client;

impl Client {
    /// Connects to `address` and, with a key, runs the client side of the
    /// handshake: the listener must prove it knows the key too.
    pub fn connect(
        address: &Address,
        authkey: Option<&[u8]>,
    ) -> Result<Connection, ConnectionError> {
        Client::connect_with_max(address, authkey, frame::DEFAULT_MAX_MESSAGE_LEN)
    }

    pub(crate) fn connect_with_max(
        address: &Address,
        authkey: Option<&[u8]>,
        max_message_len: usize,
    ) -> Result<Connection, ConnectionError> {
        let stream = match address {
            Address::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
            Address::Tcp(a) => {
                let s = TcpStream::connect(a)?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
        };
        if let Some(key) = authkey {
            stream.set_timeout(Some(HANDSHAKE_TIMEOUT))?;
            answer_challenge(&stream, key, CLIENT_TAG, None)?;
            deliver_challenge(&stream, key, SERVER_TAG)?;
            stream.set_timeout(None)?;
        }
        Ok(stream.into_connection(max_message_len))
    }
}

/// An accepted or connected stream, before it becomes a [`Connection`].
pub(crate) enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn set_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)),
            Stream::Tcp(s) => s.set_read_timeout(t).and_then(|()| s.set_write_timeout(t)),
        }
    }

    fn into_connection(self, max_message_len: usize) -> Connection {
        let fd = match self {
            Stream::Unix(s) => OwnedFd::from(s),
            Stream::Tcp(s) => OwnedFd::from(s),
        };
        let mut conn = Connection::from_socket(fd);
        conn.set_max_message_len(max_message_len);
        conn
    }

    fn write_frame(&self, payload: &[u8]) -> Result<(), ConnectionError> {
        let r = match self {
            Stream::Unix(s) => frame::write_frame(s, payload, HANDSHAKE_MAX),
            Stream::Tcp(s) => frame::write_frame(s, payload, HANDSHAKE_MAX),
        };
        r.map_err(|e| ConnectionError::Io(e.into()))
    }

    fn read_frame(&self) -> Result<Vec<u8>, ConnectionError> {
        let r = match self {
            Stream::Unix(s) => frame::read_frame(s, HANDSHAKE_MAX),
            Stream::Tcp(s) => frame::read_frame(s, HANDSHAKE_MAX),
        };
        r.map_err(|e| match e {
            RecvError::TooLarge { len, .. } => ConnectionError::AuthenticationFailed(format!(
                "the peer's first bytes are not a handshake (a frame of {len} bytes announced, \
                 over {HANDSHAKE_MAX})"
            )),
            RecvError::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                ConnectionError::AuthenticationFailed(format!(
                    "the peer did not complete the handshake within {HANDSHAKE_TIMEOUT:?}"
                ))
            }
            other => ConnectionError::Io(other.into()),
        })
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

const CLIENT_TAG: &[u8] = b"client";
const SERVER_TAG: &[u8] = b"server";

/// HMAC-SHA256(key, tag ‖ nonce).
fn mac(key: &[u8], tag: &[u8], nonce: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(tag);
    mac.update(nonce);
    mac
}

/// Sends a fresh challenge, checks the answer (HMAC with the other side's
/// `tag`), says welcome or failure. Returns the challenge's nonce.
fn deliver_challenge(
    stream: &Stream,
    key: &[u8],
    tag: &[u8],
) -> Result<[u8; NONCE_LEN], ConnectionError> {
    let nonce = random_bytes::<NONCE_LEN>()?;
    stream.write_frame(&[CHALLENGE, &nonce].concat())?;
    let answer = stream.read_frame()?;
    if mac(key, tag, &nonce).verify_slice(&answer).is_err() {
        let _ = stream.write_frame(FAILURE);
        return Err(ConnectionError::AuthenticationFailed(
            "the peer's answer to our challenge is wrong".into(),
        ));
    }
    stream.write_frame(WELCOME)?;
    Ok(nonce)
}

/// Answers the peer's challenge with `tag`; `refuse`: our own nonce, which
/// the peer may not send back to us (a reflected challenge).
fn answer_challenge(
    stream: &Stream,
    key: &[u8],
    tag: &[u8],
    refuse: Option<&[u8; NONCE_LEN]>,
) -> Result<(), ConnectionError> {
    let challenge = stream.read_frame()?;
    let nonce = match challenge.strip_prefix(CHALLENGE) {
        Some(n) if n.len() == NONCE_LEN => n,
        _ => {
            return Err(ConnectionError::AuthenticationFailed(
                "the peer's message is not a challenge".into(),
            ))
        }
    };
    if refuse.is_some_and(|mine| mine[..] == *nonce) {
        return Err(ConnectionError::AuthenticationFailed(
            "the peer replayed our own challenge".into(),
        ));
    }
    let answer = mac(key, tag, nonce).finalize().into_bytes();
    stream.write_frame(&answer)?;
    match stream.read_frame()?.as_slice() {
        WELCOME => Ok(()),
        _ => Err(ConnectionError::AuthenticationFailed(
            "the peer refused our answer".into(),
        )),
    }
}

/// `N` random bytes from the operating system (`/dev/urandom`).
pub(crate) fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
