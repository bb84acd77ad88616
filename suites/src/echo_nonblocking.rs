//! Exercise 18, `echo_nonblocking`: the suite of a non-blocking echo server
//! that busy-polls its sockets.

/// Tests of `serve(listener: TcpListener, stop: &Shutdown, turns: &AtomicU64)
/// -> io::Result<()>`: one thread, a non-blocking listener and non-blocking
/// connections tried in a loop (`accept`, then `read`/`write` on each
/// connection, `WouldBlock` meaning "not now"), replying with the received
/// bytes ASCII-uppercased, adding 1 to `turns` on every turn of the loop,
/// until `stop` is requested; then it closes every connection and returns
/// `Ok(())`.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::echo_nonblocking_suite!(crate::serve);
/// ```
#[macro_export]
macro_rules! echo_nonblocking_suite {
    ($serve:path) => {
        #[cfg(not(loom))]
        mod echo_nonblocking_suite {
            use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
            use std::sync::Arc;

            use $crate::synclings::testing::eventually;
            use $crate::DEADLINE;

            $crate::__echo_harness!();
            use harness::Server;

            /// The server, and its count of loop turns.
            fn start() -> (Server<std::io::Result<()>>, Arc<AtomicU64>) {
                let turns = Arc::new(AtomicU64::new(0));
                let counter = Arc::clone(&turns);
                let server = harness::start(move |listener, stop| $serve(listener, stop, &counter));
                (server, turns)
            }

            fn stop(server: Server<std::io::Result<()>>) {
                server
                    .stop()
                    .expect("serve returns Ok(()) once the shutdown is requested");
            }

            /// One client and no other connection: a blocking `accept` would
            /// wait for a second client and never read this one.
            #[test]
            fn one_client_gets_each_message_back_uppercased() {
                let (server, _) = start();
                harness::echoes_each_message_uppercased(&server);
                stop(server);
            }

            /// A connection left blocking would make the loop wait in its
            /// `read`: everybody else waits with it.
            #[test]
            fn a_silent_client_does_not_block_the_loop() {
                let (server, _) = start();
                harness::a_silent_client_does_not_block_the_others(&server);
                stop(server);
            }

            #[test]
            fn many_clients_at_once_each_get_their_own_replies() {
                let (server, _) = start();
                harness::many_clients_at_once(&server, 8);
                stop(server);
            }

            /// Large replies meet a full socket: `write` says `WouldBlock`
            /// (or takes part of it), and the rest must wait for a later turn.
            #[test]
            fn split_writes_and_large_payloads_come_back_whole() {
                let (server, _) = start();
                harness::large_payloads_in_pieces(&server);
                stop(server);
            }

            #[test]
            fn after_a_half_close_every_reply_arrives_then_eof() {
                let (server, _) = start();
                harness::half_close_gets_every_reply_then_eof(&server);
                stop(server);
            }

            #[test]
            fn clients_that_reset_do_not_stop_the_server() {
                let (server, _) = start();
                harness::resets_do_not_stop_the_server(&server);
                stop(server);
            }

            #[test]
            fn shutdown_closes_open_connections_and_returns() {
                let (server, _) = start();
                let clients = harness::connected_silent_clients(&server, 3);
                stop(server);
                harness::assert_all_closed_by_server(&clients);
            }

            /// Why busy-polling burns a core: with a client connected and
            /// nobody sending anything, the loop still goes round and round,
            /// asking every socket again. (A server that sleeps until a
            /// socket is ready would not turn at all.)
            #[test]
            fn the_loop_keeps_turning_while_nothing_happens() {
                let (server, turns) = start();
                let client = server.connect();
                harness::assert_echo(&client, b"anything new?");
                let before = turns.load(Relaxed);
                eventually(
                    DEADLINE,
                    "the loop turns 1000 more times while nobody sends anything (count every turn in `turns`)",
                    || turns.load(Relaxed) >= before + 1000,
                );
                harness::assert_echo(&client, b"still here");
                stop(server);
            }
        }
    };
}
