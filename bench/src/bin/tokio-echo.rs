//! `tokio-echo`: the lab's tokio peer: the echo protocol (the reply is the
//! received bytes ASCII-uppercased) on a **current-thread** tokio runtime,
//! one task per connection, written the way tokio's own echo example is.
//!
//! ```text
//! tokio-echo [PORT]        # default 0: the system picks one
//! ```
//!
//! Prints `listening on ADDR` as its first line and serves until SIGTERM or
//! Ctrl-C. Every connection's task owns a 16 KiB read buffer (the read chunk
//! of the synclings servers), allocated when the connection is accepted.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bytes asked for per read call, as the synclings servers' default.
const READ_CHUNK: usize = 16 * 1024;

fn main() -> std::io::Result<()> {
    let port: u16 = match std::env::args().nth(1) {
        None => 0,
        Some(p) => p.parse().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "usage: tokio-echo [PORT]")
        })?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(serve(SocketAddr::from(([127, 0, 0, 1], port))))
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let stop = shutdown_signal()?;
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(echo(stream));
                }
                // Out of descriptors and the like: keep serving the others.
                Err(e) => eprintln!("tokio-echo: accept: {e}"),
            },
            _ = &mut stop => break,
        }
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C elsewhere).
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Reads up to 16 KiB, answers it uppercased, until EOF or an error.
async fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0; READ_CHUNK];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf[..n].make_ascii_uppercase();
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
