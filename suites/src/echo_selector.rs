//! Exercise 19, `echo_selector`: the suite of the seed's `selectors` echo
//! server (accept and read callbacks, one thread).

/// Tests of `serve(listener: TcpListener, stop: &Shutdown) -> io::Result<()>`:
/// one thread, one `synclings::selector::Selector` watching the listener and
/// every connection, replying with the received bytes ASCII-uppercased,
/// sleeping in `select` while nothing is ready, until `stop` is requested
/// (which must wake the `select`); then it closes every connection and
/// returns `Ok(())`.
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::echo_selector_suite!(crate::serve);
/// ```
#[macro_export]
macro_rules! echo_selector_suite {
    ($serve:path) => {
        #[cfg(not(loom))]
        mod echo_selector_suite {
            use std::net::Shutdown as Direction;

            use $crate::synclings::testing::wait_until_parked;
            use $crate::DEADLINE;

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

            /// One thread serves everybody: it must never wait on one
            /// client; it reads a socket only when `select` says it is ready.
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

            /// The selector's point: with clients connected and silent, the
            /// server thread sleeps in `select` (asleep in the kernel), it
            /// does not poll.
            #[test]
            fn an_idle_server_sleeps_in_select() {
                let server = start();
                let clients = harness::connected_silent_clients(&server, 2);
                wait_until_parked(
                    DEADLINE,
                    "the server thread sleeps in select while every client is silent",
                    server.tid(),
                );
                harness::assert_echo(&clients[0], b"wake up");
                harness::assert_echo(&clients[1], b"me too");
                stop(server);
            }

            /// One client after another, each closed by the server after its
            /// EOF: descriptor numbers are reused at once, so a connection
            /// closed without `unregister` leaves a stale key that makes the
            /// next `register` of that number fail.
            #[test]
            fn closed_connections_are_unregistered() {
                let server = start();
                for i in 0..40 {
                    let client = server.connect();
                    harness::assert_echo(&client, format!("client number {i}").as_bytes());
                    client.shutdown(Direction::Write).expect("half-close");
                    assert!(
                        harness::closed_by_server(&client),
                        "client {i}: after its EOF the server closes the connection"
                    );
                }
                stop(server);
            }

            /// The shutdown must wake the thread asleep in `select` (a
            /// `Notifier`), then close every connection.
            #[test]
            fn shutdown_wakes_the_select_and_closes_every_connection() {
                let server = start();
                let clients = harness::connected_silent_clients(&server, 3);
                wait_until_parked(DEADLINE, "the server thread sleeps in select", server.tid());
                stop(server);
                harness::assert_all_closed_by_server(&clients);
            }
        }
    };
}
