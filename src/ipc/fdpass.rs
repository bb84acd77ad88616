//! Passing a descriptor to another process over a connected Unix socket
//! (`SCM_RIGHTS`): the receiver gets its own descriptor of the same open
//! file. A local Manager client hands its shared-memory mailbox to the
//! server this way (see `manager/wire.rs`).
//!
//! Each passing is one byte of data with the descriptor beside it; the
//! receiver must not read that byte with a plain `read` (the descriptor
//! would be dropped with the control message), so both sides pass it only
//! at a point of their protocol where nothing else is in flight.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The one byte sent with the descriptor.
const MARK: u8 = b'F';

/// Room for the control message of one descriptor.
const SPACE: usize = 64;

/// `CMSG_SPACE(sizeof(int))` fits in `SPACE`, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct Control([u8; SPACE]);

/// An iovec of the one byte `byte`.
fn one_byte(byte: &mut u8) -> libc::iovec {
    libc::iovec {
        iov_base: std::ptr::from_mut(byte).cast(),
        iov_len: 1,
    }
}

/// A msghdr of the data `iov` and the control buffer `control` (all of
/// it); the caller keeps both alive while the kernel uses it.
fn message(iov: &mut libc::iovec, control: &mut Control) -> libc::msghdr {
    // SAFETY: a zeroed msghdr is a valid empty one (no name, no buffers).
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = SPACE as _;
    msg
}

/// Sends `fd` over the Unix socket `socket`.
pub(crate) fn send_fd(socket: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut byte = MARK;
    let mut iov = one_byte(&mut byte);
    let mut control = Control([0; SPACE]);
    let mut msg = message(&mut iov, &mut control);
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(mem::size_of::<RawFd>() as u32) } as usize;
    assert!(space <= SPACE);
    msg.msg_controllen = space as _;
    // SAFETY: `msg` has a control buffer of `msg_controllen` bytes, so the
    // first header is inside it, aligned (`Control` is 8-aligned); its data
    // has room for one descriptor (CMSG_SPACE above).
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd.as_raw_fd());
    }
    loop {
        // SAFETY: `msg` is filled in above and its buffers are alive.
        let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, 0) };
        if n == 1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if n < 0 && e.kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Err(if n < 0 {
            e
        } else {
            io::Error::new(io::ErrorKind::WriteZero, "a descriptor could not be sent")
        });
    }
}

/// Receives one descriptor sent with [`send_fd`] (blocking), close-on-exec.
/// Anything else (a plain byte, several descriptors, a closed socket) is an
/// error, and every descriptor that came with it is closed.
pub(crate) fn recv_fd(socket: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidData, why.to_string());
    let mut byte = 0u8;
    let mut iov = one_byte(&mut byte);
    let mut control = Control([0; SPACE]);
    let mut msg = message(&mut iov, &mut control);
    #[cfg(any(target_os = "linux", target_os = "freebsd"))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    let flags = 0;
    let n = loop {
        // SAFETY: `msg` points at live buffers of the lengths it gives.
        let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, flags) };
        if n >= 0 {
            break n;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    // Take every descriptor that came, so that none leaks, then judge.
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `control` with `msg_controllen` bytes of
    // headers; CMSG_FIRSTHDR/NXTHDR walk them without leaving the buffer,
    // and each SCM_RIGHTS header's data holds (cmsg_len - CMSG_LEN(0)) / 4
    // descriptors, now ours.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<RawFd>();
                let bytes = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                for i in 0..bytes / mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
    }
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the peer closed the socket before sending a descriptor",
        ));
    }
    if byte != MARK || msg.msg_flags & libc::MSG_CTRUNC != 0 || fds.len() != 1 {
        return Err(bad("expected exactly one descriptor"));
    }
    let fd = fds.pop().expect("one descriptor");
    #[cfg(not(any(target_os = "linux", target_os = "freebsd")))]
    // SAFETY: sets a flag on a descriptor we own.
    unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_passed_descriptor_reaches_the_same_file() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile_in_tmp();
        file.write_all(b"shared").unwrap();
        send_fd(a.as_fd(), file.as_fd()).unwrap();
        let got = recv_fd(b.as_fd()).unwrap();
        let mut got = std::fs::File::from(got);
        got.rewind().unwrap();
        let mut text = String::new();
        got.read_to_string(&mut text).unwrap();
        assert_eq!(text, "shared");
    }

    #[test]
    fn a_plain_byte_or_a_closed_socket_is_refused() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"F").unwrap();
        let e = recv_fd(b.as_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        drop(a);
        let e = recv_fd(b.as_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e}");
    }

    fn tempfile_in_tmp() -> std::fs::File {
        let path = std::env::temp_dir().join(format!("synclings-fdpass-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }
}
