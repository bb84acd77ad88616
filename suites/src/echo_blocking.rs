//! Exercise 17, `echo_blocking`: the suite of a blocking echo server with a
//! thread per connection; and the harness every echo-server suite (17–20)
//! shares.

/// Tests of `serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()>`:
/// a blocking echo server that answers every connection on a thread of its
/// own, replying with the received bytes ASCII-uppercased, until `stop` is
/// requested; then it closes every connection and returns `Ok(())`.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::echo_blocking_suite!(crate::serve);
/// ```
#[macro_export]
macro_rules! echo_blocking_suite {
    ($serve:path) => {
        #[cfg(not(loom))]
        mod echo_blocking_suite {
            $crate::__echo_harness!();
            use harness::Server;

            fn start() -> Server<std::io::Result<()>> {
                harness::start(|listener, stop| $serve(listener, stop))
            }

            fn stop(server: Server<std::io::Result<()>>) {
                server
                    .stop()
                    .expect("serve returns Ok(()) once the shutdown is requested");
            }

            #[test]
            fn one_client_gets_each_message_back_uppercased() {
                let server = start();
                harness::echoes_each_message_uppercased(&server);
                stop(server);
            }

            /// The point of a thread per connection: a client that says
            /// nothing blocks its own thread's `read`, nobody else's.
            #[test]
            fn a_silent_client_does_not_block_the_others() {
                let server = start();
                harness::a_silent_client_does_not_block_the_others(&server);
                stop(server);
            }

            #[test]
            fn many_clients_at_once_each_get_their_own_replies() {
                let server = start();
                harness::many_clients_at_once(&server, 8);
                stop(server);
            }

            #[test]
            fn split_writes_and_large_payloads_come_back_whole() {
                let server = start();
                harness::large_payloads_in_pieces(&server);
                stop(server);
            }

            #[test]
            fn after_a_half_close_every_reply_arrives_then_eof() {
                let server = start();
                harness::half_close_gets_every_reply_then_eof(&server);
                stop(server);
            }

            #[test]
            fn clients_that_reset_do_not_stop_the_server() {
                let server = start();
                harness::resets_do_not_stop_the_server(&server);
                stop(server);
            }

            /// Graceful shutdown: `serve` returns although clients are still
            /// connected (their threads are blocked in `read`), and each of
            /// them sees its connection closed.
            #[test]
            fn shutdown_closes_open_connections_and_returns() {
                let server = start();
                let clients = harness::connected_silent_clients(&server, 3);
                stop(server);
                harness::assert_all_closed_by_server(&clients);
            }
        }
    };
}

/// The harness of the echo-server suites (exercises 17–20): it expands to
/// `mod harness` inside a suite, so that no file or module of this crate
/// beyond the suites' own is needed.
///
/// - `start` binds `127.0.0.1:0`, runs the learner's server on a thread
///   of its own (whose kernel id the test knows) and gives back a handle that
///   connects clients and finally requests the shutdown and joins the server
///   under the deadline. Dropping the handle (a failed test) requests the
///   shutdown too.
/// - Every client socket has `DEADLINE` read and write timeouts: a broken
///   server fails a test, never hangs it.
/// - The shared test bodies each assert a reply or a server-side effect, so
///   they fail against a `todo!()` skeleton.
#[doc(hidden)]
#[macro_export]
macro_rules! __echo_harness {
    () => {
        #[allow(dead_code)]
        mod harness {
            use std::io::{self, Read, Write};
            use std::net::{Shutdown as Direction, SocketAddr, TcpListener, TcpStream};
            use std::thread::JoinHandle;

            use $crate::synclings::net::{protocol, EchoMode, Shutdown};
            use $crate::synclings::testing::{current_tid, within};
            use $crate::DEADLINE;

            /// The learner's server, running on its own thread.
            pub struct Server<T> {
                addr: SocketAddr,
                stop: Shutdown,
                /// The kernel id of the thread that runs `serve`.
                tid: u32,
                /// `None` once joined.
                thread: Option<JoinHandle<T>>,
            }

            /// Binds a listener on loopback and calls `serve(listener, &stop)`
            /// on a new thread.
            pub fn start<T, F>(serve: F) -> Server<T>
            where
                T: Send + 'static,
                F: FnOnce(TcpListener, &Shutdown) -> T + Send + 'static,
            {
                let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
                let addr = listener.local_addr().expect("the listener's address");
                let stop = Shutdown::new();
                let stop_for_server = stop.clone();
                let (tx, rx) = std::sync::mpsc::channel();
                let thread = std::thread::Builder::new()
                    .name("server under test".to_owned())
                    .spawn(move || {
                        tx.send(current_tid()).expect("the test waits for the tid");
                        serve(listener, &stop_for_server)
                    })
                    .expect("spawn the server thread");
                let tid = rx.recv_timeout(DEADLINE).expect("the server thread starts");
                Server {
                    addr,
                    stop,
                    tid,
                    thread: Some(thread),
                }
            }

            impl<T: Send + 'static> Server<T> {
                /// Where the server listens.
                pub fn addr(&self) -> SocketAddr {
                    self.addr
                }

                /// The kernel id of the thread running `serve`.
                pub fn tid(&self) -> u32 {
                    self.tid
                }

                /// A client socket whose reads and writes give up after
                /// `DEADLINE`.
                pub fn connect(&self) -> TcpStream {
                    let stream = TcpStream::connect(self.addr).unwrap_or_else(|e| {
                        panic!("connect to the server: {e}{}", self.state())
                    });
                    stream.set_read_timeout(Some(DEADLINE)).unwrap();
                    stream.set_write_timeout(Some(DEADLINE)).unwrap();
                    stream.set_nodelay(true).unwrap();
                    stream
                }

                /// Why a client may have failed: the server thread is gone.
                fn state(&self) -> &'static str {
                    match &self.thread {
                        Some(t) if t.is_finished() => {
                            " (the server thread has already ended: did `serve` panic, e.g. on a todo!(), or return early?)"
                        }
                        _ => "",
                    }
                }

                /// Requests the shutdown and waits (under the deadline) for
                /// `serve` to return; gives back what it returned. A panic of
                /// the server thread fails the test with its message.
                pub fn stop(mut self) -> T {
                    self.stop.request();
                    let thread = self.thread.take().expect("stopped once");
                    let joined = within(
                        DEADLINE,
                        "serve returns once the shutdown is requested",
                        move || thread.join(),
                    );
                    match joined {
                        Ok(value) => value,
                        Err(panic) => std::panic::resume_unwind(panic),
                    }
                }
            }

            impl<T> Drop for Server<T> {
                fn drop(&mut self) {
                    // A test that failed half-way leaves no server running.
                    self.stop.request();
                }
            }

            /// The reply the protocol gives to `data`.
            pub fn upper(data: &[u8]) -> Vec<u8> {
                let mut reply = data.to_vec();
                protocol::respond(&mut reply, EchoMode::Upper);
                reply
            }

            /// xorshift64: seeded, reproducible random numbers.
            pub struct Rng(pub u64);

            impl Rng {
                pub fn next_u64(&mut self) -> u64 {
                    self.0 ^= self.0 << 13;
                    self.0 ^= self.0 >> 7;
                    self.0 ^= self.0 << 17;
                    self.0
                }

                /// A number in `1..=max`.
                pub fn upto(&mut self, max: usize) -> usize {
                    1 + (self.next_u64() % max as u64) as usize
                }

                /// Random bytes, letters among them (so that uppercasing
                /// shows).
                pub fn bytes(&mut self, len: usize) -> Vec<u8> {
                    (0..len).map(|_| self.next_u64() as u8).collect()
                }
            }

            /// Reads exactly `len` bytes, or panics saying how many came.
            pub fn read_reply(mut stream: &TcpStream, len: usize) -> Vec<u8> {
                let mut reply = vec![0; len];
                let mut got = 0;
                while got < len {
                    match stream.read(&mut reply[got..]) {
                        Ok(0) => panic!(
                            "the server closed the connection after {got} of the {len} bytes of the reply"
                        ),
                        Ok(n) => got += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => panic!(
                            "reading the reply: {got} of {len} bytes, then {e} (a read times out after {DEADLINE:?})"
                        ),
                    }
                }
                reply
            }

            /// Sends `message` whole and reads its reply.
            pub fn exchange(mut stream: &TcpStream, message: &[u8]) -> Vec<u8> {
                stream.write_all(message).expect("send a message");
                read_reply(stream, message.len())
            }

            /// Sends `message`, asserts that the reply is `message` uppercased.
            pub fn assert_echo(stream: &TcpStream, message: &[u8]) {
                let reply = exchange(stream, message);
                assert!(
                    reply == upper(message),
                    "sent {:?}, got back {:?}",
                    String::from_utf8_lossy(message),
                    String::from_utf8_lossy(&reply)
                );
            }

            /// Sends `payload` in random pieces of at most `max_piece` bytes
            /// (from a thread of its own) while reading the reply (on this
            /// thread), as a client must: the server answers while the
            /// request is still arriving.
            pub fn round_trip(
                stream: &TcpStream,
                payload: &[u8],
                rng: &mut Rng,
                max_piece: usize,
            ) -> Vec<u8> {
                let mut pieces = Vec::new();
                let mut at = 0;
                while at < payload.len() {
                    let len = rng.upto(max_piece).min(payload.len() - at);
                    pieces.push(&payload[at..at + len]);
                    at += len;
                }
                std::thread::scope(|s| {
                    let mut writer = stream;
                    s.spawn(move || {
                        for piece in pieces {
                            writer.write_all(piece).expect("send a piece");
                        }
                    });
                    read_reply(stream, payload.len())
                })
            }

            /// True if the server closed `stream` (EOF or reset) without
            /// sending anything more; false if a byte came.
            pub fn closed_by_server(mut stream: &TcpStream) -> bool {
                let mut byte = [0; 1];
                loop {
                    match stream.read(&mut byte) {
                        Ok(0) => return true,
                        Ok(_) => return false,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                        Err(e) => panic!(
                            "expected the server to close the connection; after {DEADLINE:?}: {e}"
                        ),
                    }
                }
            }

            pub fn assert_all_closed_by_server(clients: &[TcpStream]) {
                for (i, client) in clients.iter().enumerate() {
                    assert!(
                        closed_by_server(client),
                        "client {i}: the server sent bytes nobody asked for instead of closing"
                    );
                }
            }

            /// `n` clients, each served once (so each is surely accepted),
            /// then silent.
            pub fn connected_silent_clients<T: Send + 'static>(
                server: &Server<T>,
                n: usize,
            ) -> Vec<TcpStream> {
                (0..n)
                    .map(|i| {
                        let client = server.connect();
                        assert_echo(&client, format!("client {i}").as_bytes());
                        client
                    })
                    .collect()
            }

            // ----- Test bodies shared by the suites -----

            /// Several messages, one after the other, on one connection.
            pub fn echoes_each_message_uppercased<T: Send + 'static>(server: &Server<T>) {
                let client = server.connect();
                assert_echo(&client, b"hello");
                assert_echo(&client, b"Hello, World! 123");
                // Only a-z change; other bytes (UTF-8 here) pass unchanged.
                assert_echo(&client, "h\u{e9}llo w\u{f6}rld".as_bytes());
                assert_echo(&client, b"x");
                let block: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
                assert_echo(&client, &block);
            }

            /// A client served once and then silent does not keep the
            /// server from serving others, nor from serving it again.
            pub fn a_silent_client_does_not_block_the_others<T: Send + 'static>(
                server: &Server<T>,
            ) {
                let silent = server.connect();
                assert_echo(&silent, b"i will say no more");
                for i in 0..3 {
                    let other = server.connect();
                    assert_echo(&other, format!("meanwhile, client {i}").as_bytes());
                }
                assert_echo(&silent, b"well, one more thing");
            }

            /// `clients` clients at once, each sending a few payloads in
            /// random pieces.
            pub fn many_clients_at_once<T: Send + 'static>(server: &Server<T>, clients: u64) {
                let addr = server.addr();
                let threads: Vec<_> = (0..clients)
                    .map(|i| {
                        let stream = server.connect();
                        std::thread::spawn(move || {
                            let mut rng = Rng(0x5EED_0000 + i);
                            for round in 0..3 {
                                let size = rng.upto(16 * 1024);
                                let payload = rng.bytes(size);
                                let reply = round_trip(&stream, &payload, &mut rng, 1500);
                                assert!(
                                    reply == upper(&payload),
                                    "client {i} of {addr}, round {round}: wrong reply to {} bytes",
                                    payload.len()
                                );
                            }
                        })
                    })
                    .collect();
                for (i, thread) in threads.into_iter().enumerate() {
                    within(DEADLINE, &format!("client {i} gets its replies"), move || {
                        thread.join().unwrap()
                    });
                }
            }

            /// A request arriving in pieces of any size, the reply too: the
            /// protocol has no framing, every byte is answered.
            pub fn large_payloads_in_pieces<T: Send + 'static>(server: &Server<T>) {
                let client = server.connect();
                let mut rng = Rng(17);
                for (size, max_piece) in [(10, 1), (64 * 1024, 777), (1 << 20, 64 * 1024)] {
                    let payload = rng.bytes(size);
                    let reply = round_trip(&client, &payload, &mut rng, max_piece);
                    assert!(
                        reply == upper(&payload),
                        "wrong reply to {size} bytes sent in pieces of at most {max_piece}"
                    );
                }
            }

            /// The client shuts its writing side ("I am done sending"): the
            /// server answers everything, then closes (the client reads EOF).
            pub fn half_close_gets_every_reply_then_eof<T: Send + 'static>(server: &Server<T>) {
                let client = server.connect();
                let payload = Rng(42).bytes(300 * 1024);
                let mut reply = Vec::new();
                std::thread::scope(|s| {
                    let (client, payload) = (&client, &payload);
                    s.spawn(move || {
                        let mut writer = client;
                        writer.write_all(payload).expect("send");
                        client.shutdown(Direction::Write).expect("half-close");
                    });
                    let mut reader = client;
                    if let Err(e) = reader.read_to_end(&mut reply) {
                        panic!(
                            "read the replies until the server closes: {e} after {} of {} bytes",
                            reply.len(),
                            payload.len()
                        );
                    }
                });
                assert_eq!(
                    reply.len(),
                    payload.len(),
                    "after the client's EOF the server must send every reply, then close"
                );
                assert!(reply == upper(&payload), "the replies are the payload uppercased");
            }

            /// Clients that vanish with a reset (RST), one way or another,
            /// close their connection only: the others, and new ones, are
            /// served.
            pub fn resets_do_not_stop_the_server<T: Send + 'static>(server: &Server<T>) {
                let survivor = server.connect();
                assert_echo(&survivor, b"before");
                for i in 0..4 {
                    let victim = server.connect();
                    let message = vec![b'r'; 32 * 1024];
                    (&victim).write_all(&message).expect("the victim sends");
                    if i % 2 == 0 {
                        // Wait until the reply is here, unread: closing a
                        // socket with unread data sends a reset.
                        let mut byte = [0; 1];
                        let _ = victim.peek(&mut byte);
                    }
                    // Otherwise: close at once; the reply the server sends
                    // then meets a reset.
                    drop(victim);
                }
                assert_echo(&survivor, b"after");
                let late = server.connect();
                assert_echo(&late, b"late");
            }
        }
    };
}
