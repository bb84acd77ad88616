//! The Windows side of the selector: sources are sockets (Windows has no
//! file descriptors; the `polling` crate waits on sockets through IOCP).

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::windows::io::{AsRawSocket, AsSocket, BorrowedSocket, OwnedSocket, RawSocket};

/// The number a registration is known by: a raw socket.
pub type RawSource = RawSocket;

/// A registered source, borrowed for one call.
pub type BorrowedSource<'a> = BorrowedSocket<'a>;

/// What [`register`](super::BaseSelector::register),
/// [`modify`](super::BaseSelector::modify) and
/// [`unregister`](super::BaseSelector::unregister) take: anything with a
/// socket (`AsSocket`): `TcpListener`, `TcpStream`, `UdpSocket`,
/// `OwnedSocket`, `BorrowedSocket`...
pub trait Source {
    /// The socket, borrowed.
    fn as_source(&self) -> BorrowedSource<'_>;
}

impl<T: AsSocket + ?Sized> Source for T {
    fn as_source(&self) -> BorrowedSource<'_> {
        self.as_socket()
    }
}

/// What [`get_key`](super::BaseSelector::get_key) takes: a socket or its
/// raw number (`&raw` with `raw: RawSocket`).
pub trait AsRawSource {
    /// The raw socket.
    fn as_raw_source(&self) -> RawSource;
}

impl AsRawSource for RawSocket {
    fn as_raw_source(&self) -> RawSource {
        *self
    }
}

impl<T: AsRawSource + ?Sized> AsRawSource for &T {
    fn as_raw_source(&self) -> RawSource {
        (**self).as_raw_source()
    }
}

/// `AsRawSource` for the socket types of std, by their `AsRawSocket`. (A
/// blanket impl over `AsRawSocket` would collide with the one for
/// `RawSocket`, which std might one day make `AsRawSocket`.)
macro_rules! as_raw_source_by_socket {
    ($($ty:ty),*) => {$(
        impl AsRawSource for $ty {
            fn as_raw_source(&self) -> RawSource {
                self.as_raw_socket()
            }
        }
    )*};
}

as_raw_source_by_socket!(
    TcpListener,
    TcpStream,
    UdpSocket,
    OwnedSocket,
    BorrowedSocket<'_>
);
