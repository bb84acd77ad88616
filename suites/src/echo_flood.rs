//! Exercise 20, `echo_flood`: the suite of an echo server that survives a
//! flood: a connection cap, an idle timeout and bounded buffers.

/// Tests of `serve(listener: TcpListener, config: &ServerConfig, stop:
/// &Shutdown) -> io::Result<ServerStats>` (`synclings::net`'s types): a
/// selector echo server replying with the received bytes ASCII-uppercased
/// that honours `config.max_connections` (past it, a new connection is
/// accepted and closed at once), `config.idle_timeout` (a connection with no
/// byte read or written for that long is closed), `config.max_buffered` (at
/// most that many reply bytes wait per connection: past it, stop reading
/// that client) and `config.read_chunk` (bytes per read), until `stop` is
/// requested; then it closes every connection and returns its counts:
/// `accepted`, `refused`, `closed_idle`, `bytes_in`, `bytes_out`.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::echo_flood_suite!(crate::serve);
/// ```
#[macro_export]
macro_rules! echo_flood_suite {
    ($serve:path) => {
        #[cfg(not(loom))]
        mod echo_flood_suite {
            use std::io::{Read, Write};
            use std::net::TcpStream;
            use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
            use std::sync::Arc;
            use std::time::Duration;

            use $crate::synclings::net::{ServerConfig, ServerStats};
            use $crate::synclings::testing::{current_tid, eventually, is_parked, wait_until_parked, within};
            use $crate::DEADLINE;

            $crate::__echo_harness!();
            use harness::{Rng, Server};

            /// Roomy limits: each test tightens the one it is about.
            fn config() -> ServerConfig {
                ServerConfig {
                    max_connections: 64,
                    max_buffered: 64 * 1024,
                    read_chunk: 16 * 1024,
                    idle_timeout: Some(Duration::from_secs(60)),
                    ..ServerConfig::default()
                }
            }

            fn start(config: ServerConfig) -> Server<std::io::Result<ServerStats>> {
                harness::start(move |listener, stop| $serve(listener, &config, stop))
            }

            fn stop(server: Server<std::io::Result<ServerStats>>) -> ServerStats {
                server
                    .stop()
                    .expect("serve returns Ok(stats) once the shutdown is requested")
            }

            #[test]
            fn one_client_gets_each_message_back_uppercased() {
                let server = start(config());
                harness::echoes_each_message_uppercased(&server);
                stop(server);
            }

            #[test]
            fn a_silent_client_does_not_block_the_others() {
                let server = start(config());
                harness::a_silent_client_does_not_block_the_others(&server);
                stop(server);
            }

            #[test]
            fn many_clients_at_once_each_get_their_own_replies() {
                let server = start(config());
                harness::many_clients_at_once(&server, 8);
                stop(server);
            }

            /// Replies larger than `max_buffered` come back whole: the server
            /// stops reading while its buffer is full, and reads again once
            /// the socket took the replies.
            #[test]
            fn split_writes_and_large_payloads_come_back_whole() {
                let server = start(config());
                harness::large_payloads_in_pieces(&server);
                stop(server);
            }

            #[test]
            fn after_a_half_close_every_reply_arrives_then_eof() {
                let server = start(config());
                harness::half_close_gets_every_reply_then_eof(&server);
                stop(server);
            }

            #[test]
            fn clients_that_reset_do_not_stop_the_server() {
                let server = start(config());
                harness::resets_do_not_stop_the_server(&server);
                stop(server);
            }

            /// Question 10's flood: past `max_connections`, a new client is
            /// accepted and closed at once (never served), while the clients
            /// already in keep being served; a freed slot is reused.
            #[test]
            fn a_flood_past_max_connections_is_refused_while_the_others_keep_working() {
                let max = 4;
                let server = start(ServerConfig {
                    max_connections: max,
                    ..config()
                });
                let mut connects = 0u64;
                let mut held: Vec<TcpStream> = (0..max)
                    .map(|i| {
                        connects += 1;
                        let client = server.connect();
                        harness::assert_echo(&client, format!("held {i}").as_bytes());
                        client
                    })
                    .collect();
                for _ in 0..2 * max {
                    connects += 1;
                    let extra = server.connect();
                    // A server without a cap answers this; a full one has
                    // closed the connection (the send may fail: fine).
                    let _ = (&extra).write_all(b"let me in");
                    assert!(
                        harness::closed_by_server(&extra),
                        "connection {connects} was served although {max} (max_connections) were open: it must be accepted and closed at once"
                    );
                }
                for client in &held {
                    harness::assert_echo(client, b"still served during the flood");
                }
                drop(held.pop());
                eventually(DEADLINE, "a new client is served once a slot is free", || {
                    connects += 1;
                    let client = server.connect();
                    if (&client).write_all(b"again").is_err() {
                        return false;
                    }
                    let mut reply = [0; 5];
                    match (&client).read_exact(&mut reply) {
                        Ok(()) if reply == *b"AGAIN" => {
                            held.push(client);
                            true
                        }
                        _ => false,
                    }
                });
                drop(held);
                let stats = stop(server);
                assert_eq!(
                    stats.accepted,
                    max as u64 + 1,
                    "accepted counts the connections served: {stats:?}"
                );
                assert_eq!(
                    stats.accepted + stats.refused,
                    connects,
                    "every connection is either accepted or refused: {stats:?}"
                );
            }

            /// A client silent for `idle_timeout` is closed (counted in
            /// `closed_idle`); a client that keeps talking is not, however
            /// long it has been connected. No upper bound on when: only the
            /// order of events.
            #[test]
            fn an_idle_client_is_closed_an_active_one_is_not() {
                let server = start(ServerConfig {
                    idle_timeout: Some(Duration::from_secs(1)),
                    ..config()
                });
                // The talker connects first: a server that closes connections
                // by age, not by silence, would close it first.
                let talker = server.connect();
                harness::assert_echo(&talker, b"hi");
                let silent = server.connect();
                let silent_closed = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&silent_closed);
                let watcher = std::thread::spawn(move || {
                    let closed = harness::closed_by_server(&silent);
                    flag.store(true, SeqCst);
                    closed
                });
                let mut rounds = 0;
                while !watcher.is_finished() && !silent_closed.load(SeqCst) {
                    let reply = harness::exchange(&talker, b"still talking");
                    assert_eq!(reply, b"STILL TALKING", "the talker is served");
                    rounds += 1;
                    // Pacing only: the talker stays active all along.
                    std::thread::sleep(Duration::from_millis(5));
                }
                let closed = within(DEADLINE, "the watcher of the silent client returns", move || {
                    watcher.join().unwrap()
                });
                assert!(closed, "the silent client was sent bytes instead of being closed");
                assert!(rounds > 0);
                harness::assert_echo(&talker, b"i talked all along");
                // Now the talker goes quiet: closed in its turn.
                assert!(
                    harness::closed_by_server(&talker),
                    "the talker, silent now, is closed too"
                );
                let stats = stop(server);
                assert_eq!(stats.closed_idle, 2, "closed_idle counts both: {stats:?}");
            }

            /// A client that sends and never reads: once `max_buffered` reply
            /// bytes wait for it, the server stops reading it (its writes then
            /// block in the kernel), while the other clients are served as
            /// usual. What the server holds for it is bounded:
            /// `bytes_in - bytes_out <= max_buffered + read_chunk`.
            #[test]
            fn a_client_that_never_reads_holds_at_most_max_buffered() {
                let config = config();
                let bound = (config.max_buffered + config.read_chunk) as u64;
                let server = start(config);
                let hog = server.connect();
                let mut hog_writer = hog.try_clone().expect("clone the hog's socket");
                // Up to 256 MiB, never reading a byte: once the buffers are
                // full, the server must stop reading, so this blocks.
                let (tx, rx) = std::sync::mpsc::channel();
                let writer = std::thread::spawn(move || {
                    tx.send(current_tid()).expect("the test waits for the tid");
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
                let writer_tid = rx.recv_timeout(DEADLINE).expect("the hog's writer starts");
                // The quiet state: the server asleep in select and the hog's
                // writer blocked, three checks in a row. It comes once the
                // server has stopped reading the hog and the buffers are
                // full; a server that keeps reading never sleeps while the
                // hog has more to send.
                let mut in_a_row = 0;
                eventually(
                    DEADLINE,
                    "the server sleeps in select while the hog's writes are blocked",
                    || {
                        let quiet = is_parked(server.tid())
                            && (is_parked(writer_tid) || writer.is_finished());
                        in_a_row = if quiet { in_a_row + 1 } else { 0 };
                        in_a_row >= 3
                    },
                );
                let mut rng = Rng(3);
                let mut others = 0;
                for i in 0..3 {
                    let other = server.connect();
                    let payload = rng.bytes(32 * 1024);
                    let reply = harness::round_trip(&other, &payload, &mut rng, 4096);
                    assert!(reply == harness::upper(&payload), "client {i} is served while the hog waits");
                    others += payload.len() as u64;
                }
                assert!(
                    !writer.is_finished(),
                    "the server read 256 MiB from a client that never reads"
                );
                let stats = stop(server);
                assert!(
                    stats.bytes_in >= others && stats.bytes_out >= others,
                    "bytes_in and bytes_out count every byte read and written: {stats:?}"
                );
                assert!(stats.bytes_out <= stats.bytes_in, "{stats:?}");
                let held = stats.bytes_in - stats.bytes_out;
                assert!(
                    held <= bound,
                    "the server held {held} bytes for a client that never reads (bound: max_buffered + read_chunk = {bound}): {stats:?}"
                );
                let written = within(DEADLINE, "the hog's writes fail once the server is gone", move || {
                    writer.join().unwrap()
                });
                assert!(written < 256 << 20);
                drop(hog);
            }

            /// With clients connected and silent, the server sleeps in
            /// `select` (its timeout is the next idle deadline): the idle
            /// timer must not turn the loop into a busy poll.
            #[test]
            fn an_idle_server_sleeps_in_select() {
                let server = start(config());
                let clients = harness::connected_silent_clients(&server, 2);
                wait_until_parked(
                    DEADLINE,
                    "the server thread sleeps in select while every client is silent",
                    server.tid(),
                );
                harness::assert_echo(&clients[0], b"wake up");
                stop(server);
            }

            /// The shutdown wakes the `select`, closes every connection and
            /// returns the counts.
            #[test]
            fn shutdown_closes_every_connection_and_returns_the_counts() {
                let server = start(config());
                let clients = harness::connected_silent_clients(&server, 3);
                let sent: u64 = (0..3).map(|i| format!("client {i}").len() as u64).sum();
                wait_until_parked(DEADLINE, "the server thread sleeps in select", server.tid());
                let stats = stop(server);
                harness::assert_all_closed_by_server(&clients);
                assert_eq!(stats.accepted, 3, "{stats:?}");
                assert_eq!(stats.refused, 0, "{stats:?}");
                assert_eq!(stats.closed_idle, 0, "{stats:?}");
                assert_eq!(stats.bytes_in, sent, "{stats:?}");
                assert_eq!(stats.bytes_out, sent, "{stats:?}");
            }
        }
    };
}
