//! # Solution 17 — a blocking echo server, one thread per connection
//!
//! The article's first model, and what `socketserver.ThreadingTCPServer`
//! does: the main thread sleeps in `accept`; each connection gets a thread
//! that sleeps in `read` until its client sends, answers, and sleeps again.
//!
//! - A silent client blocks only its own thread: that is the whole point,
//!   and also the cost: a thread (a stack, a kernel task, two context
//!   switches per request) for every connection, idle or not. A thousand
//!   clients are a thousand threads (the article: "开启多进程或多线程的方式,
//!   在遇到要同时响应成百上千路的连接请求 ... 严重占据系统资源").
//! - Back-pressure is free: a client that never reads fills the socket
//!   buffers, our `write_all` blocks, and the thread stops reading it.
//! - Shutdown: a blocked `accept` does not look at any flag, so the
//!   shutdown's waker connects to the listener once; the accept loop wakes,
//!   sees the request and ends. Each open connection is then shut down
//!   (`shutdown(Both)` on a clone of its stream), which makes its thread's
//!   blocked `read` return 0; then every thread is joined.
//!
//! `cargo run -p solutions --bin echo_blocking` plays the seed's handler
//! with two clients talking at the same time: the server prints
//! `new connection:` and `client data:` as the Python does, the clients
//! print the replies.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use synclings::net::protocol::respond;
use synclings::net::{EchoMode, Shutdown};

/// How long to stop accepting after `accept` failed (out of descriptors:
/// retrying at once would fail at once, for ever: a spin).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves `listener` until `stop` is requested, a thread per connection;
/// then closes every connection, joins every thread and returns `Ok(())`.
pub fn serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()> {
    let addr = listener.local_addr()?;
    // Wakes the `accept` below: a connection of our own.
    stop.on_request(move || {
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    });
    // Each connection's stream (a clone, to shut it down) and its thread.
    let mut connections: Vec<(TcpStream, JoinHandle<()>)> = Vec::new();
    while !stop.is_requested() {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("accept failed: {e}; pausing");
                thread::sleep(ACCEPT_PAUSE);
                continue;
            }
        };
        if stop.is_requested() {
            break; // the waker's connection, or a client too late
        }
        // Forget the connections that are over (their threads have ended).
        connections.retain(|(_, thread)| !thread.is_finished());
        let Ok(clone) = stream.try_clone() else {
            continue; // out of descriptors: drop this client
        };
        let spawned = thread::Builder::new()
            .name(format!("echo {peer}"))
            .spawn(move || handle(stream, peer));
        match spawned {
            Ok(thread) => connections.push((clone, thread)),
            Err(e) => eprintln!("no thread for {peer}: {e}; closing it"),
        }
    }
    for (stream, _) in &connections {
        // Wakes the thread blocked in `read` (it reads 0) or `write`.
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    for (_, thread) in connections {
        let _ = thread.join();
    }
    Ok(())
}

/// One connection: read, uppercase, write back, until the client's EOF or
/// an error.
fn handle(mut stream: TcpStream, peer: SocketAddr) {
    println!("new connection: {peer}");
    // Replies go out at once, not after the client's delayed ACK.
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break, // the client closed its side
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                println!("{peer}: {e}");
                break;
            }
        };
        println!("client data: {}", preview(&buf[..n]));
        respond(&mut buf[..n], EchoMode::Upper);
        if let Err(e) = stream.write_all(&buf[..n]) {
            println!("{peer}: {e}");
            break;
        }
    }
    // The server keeps a clone of this stream (to shut it down at the end):
    // dropping ours would not close the socket. Shut it down now, so that
    // the client sees the end at once.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    println!("closing {peer}");
}

/// The first bytes of `data` as text (escaped), for the log.
fn preview(data: &[u8]) -> String {
    const SHOWN: usize = 40;
    let text = data[..data.len().min(SHOWN)].escape_ascii().to_string();
    if data.len() > SHOWN {
        format!("{text}... ({} bytes)", data.len())
    } else {
        text
    }
}

/// The seed's client, without `input()`: sends each message, prints the
/// reply.
fn client(addr: SocketAddr, messages: &[&str]) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    for msg in messages {
        stream.write_all(msg.as_bytes())?;
        let mut reply = vec![0; msg.len()];
        stream.read_exact(&mut reply)?;
        println!("{}", String::from_utf8_lossy(&reply));
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Shutdown::new();
    thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &stop));
        // Two clients at once: each has its own server thread.
        let a = s.spawn(move || client(addr, &["hello", "how are you"]));
        let b = s.spawn(move || client(addr, &["blocking io", "one thread each"]));
        a.join().expect("client a")?;
        b.join().expect("client b")?;
        stop.request();
        server.join().expect("the server thread")
    })
}

#[cfg(test)]
synclings_suites::echo_blocking_suite!(crate::serve);
