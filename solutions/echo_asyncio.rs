//! # Solution 24 — the seed's asyncio echo server (program 11)
//!
//! Exercise 19's selector server with the callbacks turned into
//! coroutines: `Server::from_listener` (asyncio's `start_server`) accepts
//! on the event loop and starts `handle(reader, writer)` as a task per
//! connection; `handle` is a plain loop that *reads as if it blocked*: each
//! `.await` suspends only this task, and the loop runs the others (exam
//! question 33: switching happens only where a task waits for IO).
//!
//! - `reader.read(1024).await`: empty at EOF (or an error) ends the loop;
//! - `writer.write(..)` is not async, `writer.drain().await` is the
//!   back-pressure (a client that never reads stalls only its own task);
//! - the shutdown: an `asyncio::Event` (thread-safe) set by the `Shutdown`
//!   waker, awaited by the main future; dropping the loop cancels every
//!   connection task, whose sockets close.
//!
//! The seed's program 11 gives no code (only a link): this is the server
//! it asks for, in Python:
//!
//! ```python
//! async def handle(reader, writer):
//!     while data := await reader.read(1024):
//!         writer.write(data.upper())
//!         await writer.drain()
//!     writer.close()
//! async def main():
//!     server = await asyncio.start_server(handle, '127.0.0.1', 8080)
//!     async with server:
//!         await server.serve_forever()
//! asyncio.run(main())
//! ```
//!
//! `cargo run -p solutions --bin echo_asyncio` runs the `main` below: the
//! server and a client, printing the replies.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use synclings::asyncio::{self, EventLoop, Server, StreamReader, StreamWriter};
use synclings::net::protocol::respond;
use synclings::net::{EchoMode, Shutdown};

/// One connection: the seed's `handle` coroutine.
async fn handle(mut reader: StreamReader, mut writer: StreamWriter) {
    loop {
        let mut data = match reader.read(1024).await {
            Ok(data) if !data.is_empty() => data,
            _ => break, // EOF or an error (a reset)
        };
        respond(&mut data, EchoMode::Upper);
        writer.write(&data);
        if writer.drain().await.is_err() {
            return;
        }
    }
    writer.close();
}

/// Serves `listener` with an asyncio event loop on this thread until `stop`
/// is requested; then closes every connection and returns `Ok(())`.
pub fn serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()> {
    let event_loop = EventLoop::new()?;
    let stopped = Arc::new(asyncio::Event::new());
    let set = Arc::clone(&stopped);
    stop.on_request(move || set.set());
    event_loop.run_until_complete(async {
        let server = Server::from_listener(listener, handle)?;
        stopped.wait().await;
        server.close();
        io::Result::Ok(())
    })
    // `event_loop` drops here: the connection tasks are cancelled and
    // their sockets closed.
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let stop = Shutdown::new();
    std::thread::scope(|s| {
        let server = s.spawn(|| serve(listener, &stop));
        let mut client = TcpStream::connect(addr)?;
        for msg in ["hello", "asyncio"] {
            client.write_all(msg.as_bytes())?;
            let mut reply = vec![0; msg.len()];
            client.read_exact(&mut reply)?;
            println!("{}", String::from_utf8_lossy(&reply));
        }
        stop.request();
        server.join().expect("the server thread")
    })
}

#[cfg(test)]
synclings_suites::echo_asyncio_suite!(crate::serve);
