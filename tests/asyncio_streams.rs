//! asyncio streams over loopback: start_server / open_connection, the
//! StreamReader's readuntil / readexactly / readline edge cases
//! (LimitOverrun, IncompleteRead), drain's back-pressure against a peer
//! that never reads, half-close, resets, and a loop that does not spin on
//! a readable socket nobody reads.
#![cfg(all(unix, not(loom)))]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use synclings::asyncio::{self, StreamError, StreamReader, StreamWriter};
use synclings::testing::{current_tid, wait_until_parked, within, DEADLINE};

fn on_a_loop<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    within(DEADLINE, what, f)
}

/// A blocking client with deadlines on every call.
fn client(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// Runs a server whose handler is `handler` on its own loop thread; hands
/// back its address and a way to stop it.
fn serve<H, F>(handler: H) -> (SocketAddr, impl FnOnce())
where
    H: FnMut(StreamReader, StreamWriter) -> F + Send + 'static,
    F: std::future::Future<Output = ()> + 'static,
{
    let (tx, rx) = mpsc::channel();
    let stop = std::sync::Arc::new(asyncio::Event::new());
    let s = stop.clone();
    let thread = std::thread::spawn(move || {
        asyncio::run(async move {
            let server = asyncio::start_server(handler, "127.0.0.1:0").await.unwrap();
            tx.send((server.local_addr(), current_tid())).unwrap();
            s.wait().await;
            server.close();
        })
    });
    let (addr, _tid) = rx.recv_timeout(DEADLINE).expect("the server starts");
    (addr, move || {
        stop.set();
        within(DEADLINE, "the server stops", move || thread.join().unwrap());
    })
}

async fn echo_lines(mut reader: StreamReader, mut writer: StreamWriter) {
    while let Ok(line) = reader.readline().await {
        if line.is_empty() {
            return;
        }
        writer.write(&line.to_ascii_uppercase());
        if writer.drain().await.is_err() {
            return;
        }
    }
}

#[test]
fn start_server_and_open_connection_talk_lines() {
    let replies = on_a_loop("a line echo", || {
        asyncio::run(async {
            let server = asyncio::start_server(echo_lines, "127.0.0.1:0")
                .await
                .unwrap();
            let clients: Vec<_> = (0..5)
                .map(|i| {
                    let addr = server.local_addr();
                    asyncio::create_task(async move {
                        let (mut reader, mut writer) =
                            asyncio::open_connection(addr).await.unwrap();
                        let mut got = Vec::new();
                        for j in 0..3 {
                            writer.write(format!("client {i} line {j}\n").as_bytes());
                            writer.drain().await.unwrap();
                            got.push(String::from_utf8(reader.readline().await.unwrap()).unwrap());
                        }
                        got
                    })
                })
                .collect();
            let mut replies = Vec::new();
            for c in clients {
                replies.extend(c.await.unwrap());
            }
            assert_eq!(server.accepted(), 5);
            server.close();
            server.wait_closed().await;
            replies
        })
    });
    assert_eq!(replies.len(), 15);
    assert_eq!(replies[0], "CLIENT 0 LINE 0\n");
    assert_eq!(replies[14], "CLIENT 4 LINE 2\n");
}

#[test]
fn readuntil_over_the_limit_is_limit_overrun_and_keeps_the_bytes() {
    let (addr, stop) = serve(
        |mut reader: StreamReader, mut writer: StreamWriter| async move {
            reader.set_limit(16);
            let verdict = match reader.readuntil(b"\n").await {
                Err(StreamError::LimitOverrun { limit, .. }) => format!("overrun {limit}"),
                other => format!("unexpected {other:?}"),
            };
            // The bytes stayed buffered: they can still be read.
            let kept = reader.readexactly(20).await.unwrap();
            writer.write(format!("{verdict} kept {}\n", kept.len()).as_bytes());
            let _ = writer.drain().await;
        },
    );
    let mut c = client(addr);
    c.write_all(&[b'x'; 40]).unwrap();
    let mut reply = String::new();
    c.shutdown(Shutdown::Write).unwrap();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "overrun 16 kept 20\n");
    stop();
}

#[test]
fn early_eof_is_incomplete_read_with_the_partial_bytes() {
    let (addr, stop) = serve(
        |mut reader: StreamReader, mut writer: StreamWriter| async move {
            let exactly = match reader.readexactly(10).await {
                Err(StreamError::IncompleteRead { partial, expected }) => {
                    format!("{}/{:?}", String::from_utf8_lossy(&partial), expected)
                }
                other => format!("unexpected {other:?}"),
            };
            writer.write(exactly.as_bytes());
            let _ = writer.drain().await;
        },
    );
    let mut c = client(addr);
    c.write_all(b"abc").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "abc/Some(10)");
    stop();

    let (addr, stop) = serve(
        |mut reader: StreamReader, mut writer: StreamWriter| async move {
            let until = reader.readuntil(b"END").await;
            let line = reader.readline().await;
            writer.write(format!("{until:?} {line:?}").as_bytes());
            let _ = writer.drain().await;
        },
    );
    let mut c = client(addr);
    c.write_all(b"no end").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with(
            "Err(IncompleteRead { partial: [110, 111, 32, 101, 110, 100], expected: None })"
        ),
        "{reply}"
    );
    assert!(
        reply.ends_with("Ok([])"),
        "readline at EOF gives the (empty) rest: {reply}"
    );
    stop();
}

#[test]
fn readline_past_the_limit_discards_the_line_and_goes_on() {
    let (addr, stop) = serve(
        |mut reader: StreamReader, mut writer: StreamWriter| async move {
            reader.set_limit(8);
            let long = reader.readline().await;
            let next = reader.readline().await.unwrap();
            writer.write(
                format!(
                    "{} {}",
                    matches!(long, Err(StreamError::LimitOverrun { .. })),
                    String::from_utf8_lossy(&next)
                )
                .as_bytes(),
            );
            let _ = writer.drain().await;
        },
    );
    let mut c = client(addr);
    c.write_all(b"0123456789abc\nshort\n").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "true short\n");
    stop();
}

/// A peer that never reads: `drain` blocks the writing task (only it), the
/// writer holds at most the high-water mark plus one write, and once the
/// peer reads, the task goes on.
#[test]
fn drain_applies_back_pressure_with_high_and_low_water_marks() {
    const HIGH: usize = 64 * 1024;
    const CHUNK: usize = 16 * 1024;
    let (tx, rx) = mpsc::channel();
    let (addr, stop) = serve(move |_reader: StreamReader, mut writer: StreamWriter| {
        let tx = tx.clone();
        async move {
            writer.set_write_buffer_limits(HIGH, HIGH / 4).unwrap();
            let chunk = vec![b'z'; CHUNK];
            let mut max_buffered = 0;
            let mut written = 0usize;
            // 64 MiB: far more than the kernel buffers hold.
            while written < 64 << 20 {
                writer.write(&chunk);
                written += CHUNK;
                max_buffered = max_buffered.max(writer.get_write_buffer_size());
                if asyncio::wait_for(writer.drain(), Duration::from_millis(200))
                    .await
                    .is_err()
                {
                    // Blocked in drain: report, then wait for the reader.
                    tx.send(("blocked", max_buffered, written)).unwrap();
                    writer.drain().await.unwrap();
                    tx.send(("resumed", writer.get_write_buffer_size(), written))
                        .unwrap();
                    return;
                }
            }
            tx.send(("never blocked", max_buffered, written)).unwrap();
        }
    });
    let mut c = client(addr);
    let (what, max_buffered, written) = rx.recv_timeout(DEADLINE).unwrap();
    assert_eq!(
        what, "blocked",
        "drain never applied back-pressure ({written} bytes)"
    );
    assert!(
        max_buffered <= HIGH + CHUNK,
        "the writer buffered {max_buffered} bytes (> high water + one write)"
    );
    // Read what is in flight: drain resumes once at the low-water mark.
    let mut sink = vec![0; 1 << 20];
    let mut total = 0;
    let resumed = loop {
        total += c.read(&mut sink).unwrap();
        if let Ok(msg) = rx.try_recv() {
            break msg;
        }
        assert!(
            total <= written + HIGH,
            "read everything and drain never resumed"
        );
    };
    assert_eq!(resumed.0, "resumed");
    assert!(resumed.1 <= HIGH / 4, "resumed at {} buffered", resumed.1);
    drop(c);
    stop();
}

#[test]
fn a_half_closed_client_gets_every_reply_then_eof() {
    let (addr, stop) = serve(
        |mut reader: StreamReader, mut writer: StreamWriter| async move {
            let mut buf = vec![0; 4096];
            loop {
                match reader.read_into(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        writer.write(&buf[..n].to_ascii_uppercase());
                        if writer.drain().await.is_err() {
                            return;
                        }
                    }
                }
            }
            writer.close();
            writer.wait_closed().await;
        },
    );
    let c = client(addr);
    let payload: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let reply = std::thread::scope(|s| {
        s.spawn(|| {
            (&c).write_all(&payload).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
        });
        let mut reply = Vec::new();
        (&c).read_to_end(&mut reply).unwrap();
        reply
    });
    assert!(
        reply == payload.to_ascii_uppercase(),
        "{} of {} bytes",
        reply.len(),
        payload.len()
    );
    stop();
}

#[test]
fn a_reset_peer_surfaces_as_an_error_and_the_server_goes_on() {
    let (tx, rx) = mpsc::channel();
    let (addr, stop) = serve(move |mut reader: StreamReader, mut writer: StreamWriter| {
        let tx = tx.clone();
        async move {
            let mut buf = [0u8; 64];
            let first = reader.read_into(&mut buf).await;
            // Keep writing into the reset connection until it says so.
            let mut outcome = "no error";
            for _ in 0..1000 {
                writer.write(&[b'y'; 4096]);
                if writer.drain().await.is_err() {
                    outcome = "drain error";
                    break;
                }
                asyncio::yield_now().await;
            }
            let _ = tx.send((first.map(|n| n > 0).unwrap_or(false), outcome));
        }
    });
    let c = client(addr);
    (&c).write_all(b"hi").unwrap();
    // SO_LINGER 0: close sends a reset.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    use std::os::fd::AsRawFd;
    // SAFETY: the socket is open and the option is a live linger struct.
    let rc = unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    // Wait for the server to have read "hi" (it then writes): read a little.
    let mut first = [0u8; 1];
    (&c).read_exact(&mut first).unwrap();
    drop(c);
    let (read_ok, outcome) = rx.recv_timeout(DEADLINE).unwrap();
    assert!(read_ok);
    assert_eq!(outcome, "drain error");
    // Still serving.
    let mut again = client(addr);
    again.write_all(b"x").unwrap();
    stop();
}

/// Level-triggered without spinning: a handler that read once and now
/// waits on something else leaves its socket readable and unread; the
/// reactor disarms it, and the loop sleeps.
#[test]
fn a_readable_socket_nobody_reads_does_not_make_the_loop_spin() {
    let (tx, rx) = mpsc::channel();
    let (addr, stop) = serve(move |mut reader: StreamReader, writer: StreamWriter| {
        let tx = tx.clone();
        async move {
            // Kept open: a dropped writer closes the connection, and the
            // client's next write would fail.
            let _writer = writer;
            let mut buf = [0u8; 1];
            reader.read_into(&mut buf).await.unwrap(); // arms READ
            tx.send(current_tid()).unwrap();
            std::future::pending::<()>().await; // never reads again
        }
    });
    let mut c = client(addr);
    c.write_all(b"1").unwrap();
    let tid = rx.recv_timeout(DEADLINE).unwrap();
    c.write_all(b"more bytes that nobody will read").unwrap();
    wait_until_parked(DEADLINE, "the loop sleeps despite the unread bytes", tid);
    stop();
}

#[test]
fn the_listener_is_closed_when_the_server_closes() {
    let addr = on_a_loop("server close", || {
        asyncio::run(async {
            let server = asyncio::start_server(echo_lines, "127.0.0.1:0")
                .await
                .unwrap();
            let addr = server.local_addr();
            assert!(server.is_serving());
            server.close();
            assert!(!server.is_serving());
            addr
        })
    });
    TcpListener::bind(addr).expect("the port is free again");
}
