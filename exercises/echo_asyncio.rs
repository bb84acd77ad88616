//! # Exercise 24 — the seed's asyncio echo server (program 11)
//!
//! **What to build.** `serve(listener, stop)`: exercise 19's server again,
//! with `synclings::asyncio` instead of callbacks. One thread, one
//! `EventLoop`; `Server::from_listener(listener, handle)` (Python's
//! `start_server`) runs `handle(reader, writer)` as a task for every
//! connection. `handle` loops: `reader.read(1024).await` (empty: EOF, or
//! an error: stop), reply uppercased with `respond(.., EchoMode::Upper)`,
//! `writer.write(..)`, `writer.drain().await`; at the end `writer.close()`.
//!
//! - **Stopping**: make an `Arc<asyncio::Event>`, `stop.on_request(move ||
//!   event.set())` (it is thread-safe: the set wakes the loop), and in the
//!   main future (`event_loop.run_until_complete(async { .. })`) await
//!   `event.wait()`, then `server.close()`. Dropping the loop afterwards
//!   cancels the connection tasks (their sockets close).
//! - **Why `drain`**: `write` only queues; `drain` waits while too much is
//!   queued, so a client that never reads stalls only its own task.
//!
//! **The Python it mirrors** (exam program 11: "write a socket server with
//! asyncio"; questions 33 and 34):
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
//! **How to check it.**
//! - `cargo test -p exercises --bin echo_asyncio` runs the suite (exercise
//!   19's tests, and a client that never reads);
//! - `cargo run -p exercises --bin echo_asyncio` runs the `main` below.
//! - Stuck? `cargo run -- hint echo_asyncio`.

// Keeps the untouched skeleton free of warnings; delete it when you start.
#![allow(unused_imports, dead_code, unused_variables, unused_mut)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use synclings::asyncio::{self, EventLoop, Server, StreamReader, StreamWriter};
use synclings::net::protocol::respond;
use synclings::net::{EchoMode, Shutdown};

/// One connection: the seed's `handle` coroutine.
async fn handle(mut reader: StreamReader, mut writer: StreamWriter) {
    // TODO: loop: read up to 1024 bytes (empty or an error: break), respond
    // uppercased, write, drain (an error: return); then close the writer.
    todo!()
}

/// Serves `listener` with an asyncio event loop on this thread until `stop`
/// is requested; then closes every connection and returns `Ok(())`.
pub fn serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()> {
    // TODO: an EventLoop; an Arc<asyncio::Event> set by stop.on_request;
    // run_until_complete(async { Server::from_listener(listener, handle)?;
    // wait for the event; close the server; Ok(()) }).
    todo!()
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
