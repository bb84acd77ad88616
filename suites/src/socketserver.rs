//! Exercise 28, `socketserver`: the suite of question 10's admission check
//! (`max_children`, `max_per_client`) and a threading server's loop.

/// Tests of the exercise's `Admission` (`new(max_children,
/// max_per_client)`, `try_admit(ip) -> Result<(), Refused>`, `release(ip)`,
/// `peak()`) and `serve(listener, admission, handler, stop) -> Stats` (a
/// thread per admitted connection, refused ones closed at once, a handler's
/// panic caught and counted; returns once `stop` is set and a connection
/// wakes its `accept`, after every handler ended).
///
/// ```ignore
/// #[cfg(test)]
/// synclings_suites::socketserver_suite! {
///     admission: crate::Admission,
///     refused: crate::Refused,
///     serve: crate::serve,
/// }
/// ```
#[macro_export]
macro_rules! socketserver_suite {
    (admission: $admission:path, refused: $refused:path, serve: $serve:path $(,)?) => {
        #[cfg(not(loom))]
        mod socketserver_suite {
            use std::io::{self, Read, Write};
            use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
            use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
            use std::sync::Arc;

            use $admission as Admission;
            use $crate::synclings::testing::{eventually, within};
            use $crate::DEADLINE;
            use $refused as Refused;

            const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

            #[test]
            fn max_children_caps_every_client_together() {
                let a = Admission::new(2, 8);
                let other: IpAddr = "::1".parse().unwrap();
                assert_eq!(a.try_admit(LOCAL), Ok(()));
                assert_eq!(a.try_admit(other), Ok(()));
                assert_eq!(a.try_admit(LOCAL), Err(Refused::Full));
                a.release(other);
                assert_eq!(a.try_admit(LOCAL), Ok(()));
                assert_eq!(a.peak(), 2);
            }

            #[test]
            fn max_per_client_caps_one_address_alone() {
                let a = Admission::new(8, 1);
                let other: IpAddr = "10.0.0.1".parse().unwrap();
                assert_eq!(a.try_admit(LOCAL), Ok(()));
                assert_eq!(a.try_admit(LOCAL), Err(Refused::PerClient));
                assert_eq!(a.try_admit(other), Ok(()));
                a.release(LOCAL);
                assert_eq!(a.try_admit(LOCAL), Ok(()));
            }

            /// Handlers running now, counted by the suite.
            static NOW: AtomicUsize = AtomicUsize::new(0);
            static PEAK: AtomicUsize = AtomicUsize::new(0);

            /// Greets, then echoes uppercased until EOF; `panic` panics.
            fn greet(stream: &mut TcpStream) -> io::Result<()> {
                struct Running;
                impl Drop for Running {
                    fn drop(&mut self) {
                        NOW.fetch_sub(1, SeqCst); // also after a panic
                    }
                }
                let now = NOW.fetch_add(1, SeqCst) + 1;
                PEAK.fetch_max(now, SeqCst);
                let _running = Running;
                (|| {
                    stream.write_all(b"hi\n")?;
                    let mut data = [0; 64];
                    loop {
                        let n = stream.read(&mut data)?;
                        match &data[..n] {
                            [] => return Ok(()),
                            b"panic" => panic!("the client asked for a panic"),
                            bytes => stream.write_all(&bytes.to_ascii_uppercase())?,
                        }
                    }
                })()
            }

            /// True if the server greeted this client, false if it closed it.
            fn greeted(stream: &mut TcpStream) -> bool {
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut hi = [0; 3];
                match stream.read_exact(&mut hi) {
                    Ok(()) => true,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                        ) =>
                    {
                        false
                    }
                    Err(e) => panic!("neither greeted nor closed within {DEADLINE:?}: {e}"),
                }
            }

            #[test]
            fn a_flood_is_refused_past_the_cap_and_a_panic_is_contained() {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let addr: SocketAddr = listener.local_addr().unwrap();
                let admission = Arc::new(Admission::new(3, 8));
                let stop = Arc::new(AtomicBool::new(false));
                let server = {
                    let (admission, stop) = (admission.clone(), stop.clone());
                    std::thread::spawn(move || $serve(listener, admission, greet, stop))
                };
                let mut clients: Vec<TcpStream> = Vec::new();
                let mut refused = 0;
                for _ in 0..12 {
                    let mut c = TcpStream::connect(addr).unwrap();
                    if greeted(&mut c) {
                        clients.push(c)
                    } else {
                        refused += 1
                    }
                }
                assert_eq!(
                    clients.len(),
                    3,
                    "max_children = 3 while every handler is busy"
                );
                assert_eq!(refused, 9);
                assert!(PEAK.load(SeqCst) <= 3);
                clients[0].write_all(b"panic").unwrap();
                clients.remove(0);
                eventually(DEADLINE, "the panicked handler's slot frees", || {
                    NOW.load(SeqCst) < 3
                });
                let mut next = TcpStream::connect(addr).unwrap();
                assert!(
                    greeted(&mut next),
                    "the server goes on after a handler's panic"
                );
                drop((clients, next));
                eventually(DEADLINE, "every handler ends", || NOW.load(SeqCst) == 0);
                stop.store(true, SeqCst);
                let _wake = TcpStream::connect(addr).unwrap();
                let stats = within(DEADLINE, "serve returns", move || server.join().unwrap());
                assert_eq!(
                    (stats.accepted, stats.refused, stats.handler_panics),
                    (4, 9, 1)
                );
                assert!(PEAK.load(SeqCst) <= 3);
            }
        }
    };
}
