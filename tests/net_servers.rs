//! Integration tests of the echo servers: one harness, run against every
//! model in [`MODELS`], over loopback only.
//!
//! Each test starts a server with small limits, drives it with a few
//! clients, shuts it down and checks the returned `ServerStats`. Every
//! client socket has `DEADLINE` read/write timeouts and every wait is
//! `within`/`eventually`, so a broken server fails a test, never hangs it.
#![cfg(not(loom))]

use std::io::{self, Read, Write};
use std::net::{Shutdown as Direction, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use synclings::net::{self, protocol, EchoMode, Model, RunningServer, ServerConfig, ServerStats};
use synclings::testing::{eventually, spawn_blocked, within, DEADLINE};

/// The models this harness runs against. Engineer J's readiness models
/// (busy-poll, selector, selector-per-core, select, poll) are stubs in this
/// copy: once they are merged, this becomes `&Model::ALL`.
const MODELS: &[Model] = &Model::ALL;

/// Runs `test` against every model, naming the model in the output.
fn for_each_model(test: impl Fn(Model)) {
    for &model in MODELS {
        eprintln!("--- model {model}");
        test(model);
    }
}

/// A small configuration for tests: 4 workers (so the thread pool serves a
/// few clients at once), generous idle timeout.
fn config() -> ServerConfig {
    ServerConfig {
        workers: 4,
        ..ServerConfig::default()
    }
}

fn start(model: Model, config: ServerConfig) -> RunningServer {
    net::start(model, config).unwrap_or_else(|e| panic!("start the {model} server: {e}"))
}

/// Shuts `server` down, within the deadline, and returns its stats.
fn stop(server: RunningServer) -> ServerStats {
    within(DEADLINE, "the server shuts down", move || server.shutdown())
        .expect("the server returns its stats")
}

/// A client socket whose every read and write gives up after `DEADLINE`.
fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// xorshift64: seeded, reproducible random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A number in `1..=max`.
    fn upto(&mut self, max: usize) -> usize {
        1 + (self.next() % max as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn upper(data: &[u8]) -> Vec<u8> {
    let mut reply = data.to_vec();
    protocol::respond(&mut reply, EchoMode::Upper);
    reply
}

/// Sends `payload` in random pieces of at most `max_piece` bytes (one
/// thread) while reading the reply (this thread), as a client must: the
/// server answers while the request is still arriving.
fn round_trip(stream: &TcpStream, payload: &[u8], rng: &mut Rng, max_piece: usize) -> Vec<u8> {
    let mut pieces = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let len = rng.upto(max_piece).min(payload.len() - at);
        pieces.push(&payload[at..at + len]);
        at += len;
    }
    let mut reply = vec![0; payload.len()];
    std::thread::scope(|s| {
        let mut writer = stream;
        s.spawn(move || {
            for piece in pieces {
                writer.write_all(piece).expect("send a piece");
            }
        });
        let mut reader = stream;
        reader.read_exact(&mut reply).expect("read the whole reply");
    });
    reply
}

/// True if the server closed `stream` without a reply (EOF or reset).
fn closed_by_server(mut stream: &TcpStream) -> bool {
    let mut byte = [0; 1];
    match stream.read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => true,
        Err(e) => panic!("expected the server to close the connection, got {e}"),
    }
}

/// Closes `stream` with a reset (SO_LINGER 0) instead of a FIN.
fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // Safety: `linger` is a valid struct of the size passed, alive for the
    // call; the descriptor is open (owned by `stream`).
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "set SO_LINGER: {}", io::Error::last_os_error());
    drop(stream);
}

#[test]
fn concurrent_clients_get_their_bytes_uppercased() {
    for_each_model(|model| {
        let server = start(model, config());
        let addr = server.local_addr();
        let sent = Arc::new(AtomicU64::new(0));
        let clients: Vec<_> = (0..20u64)
            .map(|i| {
                let sent = Arc::clone(&sent);
                std::thread::spawn(move || {
                    let mut rng = Rng(0x5EED_0000 + i);
                    let stream = connect(addr);
                    // Two clients carry 1 MiB payloads; the rest a few KiB.
                    let (sizes, max_piece) = if i < 2 {
                        (vec![1 << 20], 64 * 1024)
                    } else {
                        (vec![rng.upto(8 * 1024), rng.upto(16 * 1024), 1], 1500)
                    };
                    for size in sizes {
                        let payload = rng.bytes(size);
                        let reply = round_trip(&stream, &payload, &mut rng, max_piece);
                        assert!(
                            reply == upper(&payload),
                            "client {i}: wrong reply to {size} bytes"
                        );
                        sent.fetch_add(size as u64, SeqCst);
                    }
                })
            })
            .collect();
        for client in clients {
            within(DEADLINE, "a client finishes", move || {
                client.join().unwrap()
            });
        }
        let stats = stop(server);
        assert_eq!(stats.accepted, 20, "{model}: {stats:?}");
        assert_eq!(stats.refused, 0, "{model}: {stats:?}");
        assert_eq!(stats.bytes_in, sent.load(SeqCst), "{model}: {stats:?}");
        assert_eq!(stats.bytes_out, stats.bytes_in, "{model}: {stats:?}");
    });
}

#[test]
fn exact_mode_echoes_every_byte_value() {
    for_each_model(|model| {
        let server = start(
            model,
            ServerConfig {
                mode: EchoMode::Exact,
                ..config()
            },
        );
        let stream = connect(server.local_addr());
        let payload: Vec<u8> = (0..=255).cycle().take(4096).collect();
        let reply = round_trip(&stream, &payload, &mut Rng(7), 100);
        assert!(reply == payload, "{model}: the exact echo changed bytes");
        drop(stream);
        stop(server);
    });
}

#[test]
fn half_close_still_gets_every_reply() {
    for_each_model(|model| {
        let server = start(model, config());
        let stream = connect(server.local_addr());
        let payload = Rng(42).bytes(300 * 1024);
        let mut reply = Vec::new();
        std::thread::scope(|s| {
            let (stream, payload) = (&stream, &payload);
            s.spawn(move || {
                let mut writer = stream;
                writer.write_all(payload).expect("send");
                // Half-close: "I am done sending, go on answering".
                stream.shutdown(Direction::Write).expect("half-close");
            });
            // Reads to EOF: the server closes once every reply is written.
            let mut reader = stream;
            reader
                .read_to_end(&mut reply)
                .expect("read until the server closes");
        });
        assert!(
            reply == upper(&payload),
            "{model}: {} of {} bytes",
            reply.len(),
            payload.len()
        );
        let stats = stop(server);
        assert_eq!(stats.bytes_out, payload.len() as u64, "{model}: {stats:?}");
    });
}

#[test]
fn abrupt_resets_leave_the_server_serving_others() {
    for_each_model(|model| {
        let server = start(model, config());
        let addr = server.local_addr();
        let mut rng = Rng(99);
        let survivor = connect(addr);
        assert_eq!(round_trip(&survivor, b"before", &mut rng, 3), b"BEFORE");
        for i in 0..5 {
            let victim = connect(addr);
            // Some reset at once, some mid-exchange with data in flight.
            if i % 2 == 1 {
                (&victim).write_all(&rng.bytes(64 * 1024)).unwrap_or(());
            }
            reset(victim);
        }
        assert_eq!(round_trip(&survivor, b"after", &mut rng, 2), b"AFTER");
        let late = connect(addr);
        assert_eq!(round_trip(&late, b"late", &mut rng, 4), b"LATE");
        drop((survivor, late));
        let stats = stop(server);
        assert_eq!(stats.accepted, 7, "{model}: {stats:?}");
    });
}

#[test]
fn a_client_that_never_reads_stalls_only_itself() {
    for_each_model(|model| {
        let config = ServerConfig {
            max_buffered: 64 * 1024,
            read_chunk: 16 * 1024,
            ..config()
        };
        let bound = (config.max_buffered + config.read_chunk) as u64;
        let server = start(model, config);
        let addr = server.local_addr();
        let hog = connect(addr);
        let mut hog_writer = hog.try_clone().unwrap();
        // Writes up to 256 MiB and never reads a byte: once the socket
        // buffers are full, the server must stop reading, so this blocks.
        let writer = spawn_blocked(move || {
            let chunk = vec![b'a'; 1 << 20];
            let mut written = 0u64;
            for _ in 0..256 {
                if hog_writer.write_all(&chunk).is_err() {
                    break;
                }
                written += chunk.len() as u64;
            }
            written
        });
        // Meanwhile, others are served as usual.
        let mut rng = Rng(3);
        for i in 0..3 {
            let other = connect(addr);
            let payload = rng.bytes(32 * 1024);
            assert!(
                round_trip(&other, &payload, &mut rng, 4096) == upper(&payload),
                "{model}: client {i}"
            );
        }
        assert!(
            !writer.is_finished(),
            "{model}: the server read 256 MiB from a client that never reads"
        );
        let stats = stop(server);
        // What was read but not written back is what the server held.
        let held = stats.bytes_in - stats.bytes_out;
        assert!(
            held <= bound,
            "{model}: held {held} bytes for one client (bound {bound}): {stats:?}"
        );
        let written = within(
            DEADLINE,
            "the hog's writes fail once the server is gone",
            move || writer.join().unwrap(),
        );
        assert!(written < 256 << 20, "{model}: {written}");
        drop(hog);
    });
}

#[test]
fn a_flood_past_max_connections_is_refused_not_a_crash() {
    for_each_model(|model| {
        let max = 8;
        let server = start(
            model,
            ServerConfig {
                max_connections: max,
                workers: max,
                ..config()
            },
        );
        let addr = server.local_addr();
        let mut rng = Rng(11);
        let mut connects = 0u64;
        let mut held: Vec<TcpStream> = (0..max)
            .map(|_| {
                connects += 1;
                let stream = connect(addr);
                assert_eq!(round_trip(&stream, b"in", &mut rng, 2), b"IN", "{model}");
                stream
            })
            .collect();
        for _ in 0..max {
            connects += 1;
            let extra = connect(addr);
            assert!(
                closed_by_server(&extra),
                "{model}: connection {connects} was not refused"
            );
        }
        // The held ones still work, and a freed slot is reused.
        assert_eq!(
            round_trip(&held[0], b"still", &mut rng, 5),
            b"STILL",
            "{model}"
        );
        drop(held.pop());
        eventually(
            DEADLINE,
            "a new connection is served once a slot is free",
            || {
                connects += 1;
                let stream = connect(addr);
                if (&stream).write_all(b"again").is_err() {
                    return false;
                }
                let mut reply = [0; 5];
                match (&stream).read_exact(&mut reply) {
                    Ok(()) => {
                        held.push(stream);
                        reply == *b"AGAIN"
                    }
                    Err(_) => false,
                }
            },
        );
        drop(held);
        let stats = stop(server);
        assert_eq!(
            stats.accepted + stats.refused,
            connects,
            "{model}: {stats:?}"
        );
        assert!(stats.refused >= max as u64, "{model}: {stats:?}");
        assert_eq!(stats.peak_connections, max, "{model}: {stats:?}");
    });
}

#[test]
fn idle_connections_are_closed() {
    for_each_model(|model| {
        let server = start(
            model,
            ServerConfig {
                idle_timeout: Some(Duration::from_millis(200)),
                ..config()
            },
        );
        let addr = server.local_addr();
        let talker = connect(addr);
        assert_eq!(round_trip(&talker, b"hi", &mut Rng(5), 1), b"HI");
        let silent = connect(addr);
        // Both are closed by the server once idle (no upper bound checked:
        // the read timeout is only the test's deadline).
        assert!(
            closed_by_server(&talker),
            "{model}: the talker was not closed"
        );
        assert!(
            closed_by_server(&silent),
            "{model}: the silent one was not closed"
        );
        let stats = stop(server);
        assert_eq!(stats.closed_idle, 2, "{model}: {stats:?}");
    });
}

#[test]
fn shutdown_while_busy_returns_stats_and_frees_the_port() {
    for_each_model(|model| {
        let server = start(model, config());
        let addr = server.local_addr();
        let rounds: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
        let clients: Vec<_> = (0..4)
            .map(|i| {
                let rounds = Arc::clone(&rounds);
                std::thread::spawn(move || {
                    let mut stream = connect(addr);
                    let payload = Rng(i as u64 + 1).bytes(16 * 1024);
                    let mut reply = vec![0; payload.len()];
                    // Busy until the server goes away (bounded all the same).
                    for _ in 0..1_000_000 {
                        if stream.write_all(&payload).is_err()
                            || stream.read_exact(&mut reply).is_err()
                        {
                            return;
                        }
                        assert!(reply == upper(&payload));
                        rounds[i].fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        eventually(DEADLINE, "every client is busy", || {
            rounds.iter().all(|r| r.load(SeqCst) > 0)
        });
        let stats = stop(server);
        assert_eq!(stats.accepted, 4, "{model}: {stats:?}");
        assert!(stats.bytes_out >= 4 * 16 * 1024, "{model}: {stats:?}");
        for client in clients {
            within(DEADLINE, "a busy client sees the server go", move || {
                client.join().unwrap()
            });
        }
        let rebound = TcpListener::bind(addr).expect("the port is free after the shutdown");
        drop(rebound);
    });
}
