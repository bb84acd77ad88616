//! `ipc::Manager` and `ipc::connection`: every proxy kind; several client
//! processes updating one dict and one list under the manager's lock lose
//! no update; a wrong key, a replayed answer, a reflected challenge, bytes
//! that are not a handshake and an oversized frame are refused without
//! harming the server; a client killed in the middle of a call (blocked in
//! `get`, holding the lock, inside a frame) costs the server no object and
//! no connection; TCP needs a key beyond loopback; local proxies talk
//! through a shared-memory mailbox (values longer than it pass in pieces),
//! TCP ones through their socket.
//!
//! `harness = false`: `main` calls `ipc::init` first (the server and the
//! clients are children). Objects live in the server process, but a local
//! proxy's mailbox is shared memory of the current backend: the tests run
//! once per backend.

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use synclings::ipc::connection::{Address, Client, ConnectionError, Listener};
use synclings::ipc::manager::{DictProxy, ListProxy, LockProxy, QueueProxy};
use synclings::ipc::{self, entry, Connection, Entry, Manager, ManagerError, Process};
use synclings::testing::{eventually, run_test_variants, within, Test, DEADLINE};

static ENTRIES: &[Entry] = &[
    entry!(counter),
    entry!(blocked_getter),
    entry!(lock_holder),
    entry!(half_a_frame),
];

const TESTS: &[Test] = &[
    ("every_proxy_kind_works", every_proxy_kind_works),
    (
        "local_proxies_talk_through_a_mailbox",
        local_proxies_talk_through_a_mailbox,
    ),
    (
        "clients_under_the_lock_lose_no_update",
        clients_under_the_lock_lose_no_update,
    ),
    ("a_wrong_key_is_refused", a_wrong_key_is_refused),
    ("a_replayed_answer_is_refused", a_replayed_answer_is_refused),
    (
        "a_reflected_challenge_is_refused",
        a_reflected_challenge_is_refused,
    ),
    (
        "bytes_that_are_not_a_handshake_are_refused",
        not_a_handshake_is_refused,
    ),
    (
        "an_oversized_frame_is_refused",
        an_oversized_frame_is_refused,
    ),
    (
        "a_client_killed_in_get_loses_no_item",
        a_client_killed_in_get_loses_no_item,
    ),
    (
        "a_client_killed_holding_the_lock_frees_it",
        a_client_killed_holding_the_lock_frees_it,
    ),
    (
        "a_client_killed_inside_a_frame_leaks_no_connection",
        killed_inside_a_frame,
    ),
    (
        "tcp_needs_a_key_beyond_loopback",
        tcp_needs_a_key_beyond_loopback,
    ),
];

pub fn main() -> ExitCode {
    ipc::init(ENTRIES);
    run_test_variants(TESTS, ipc::BACKEND_VARIANTS)
}

/// `rounds` times, under the lock: read the count, write it plus one, and
/// append (me, round) to the list.
/// What a `counter` client gets: its number, its rounds, the shared dict,
/// list and lock.
type CounterArgs = (
    u32,
    u32,
    DictProxy<String, u32>,
    ListProxy<(u32, u32)>,
    LockProxy,
);

fn counter((me, rounds, counts, log, lock): CounterArgs) {
    let key = "n".to_string();
    for round in 0..rounds {
        let _held = lock.acquire().unwrap();
        let n = counts.get(&key).unwrap().unwrap_or(0);
        // Yield inside the critical section: without the lock, another
        // client's update would fall in between.
        std::thread::yield_now();
        counts.set(&key, &(n + 1)).unwrap();
        log.append(&(me, round)).unwrap();
    }
}

fn blocked_getter(queue: QueueProxy<String>) {
    let _ = queue.get();
    unreachable!("killed while it waits");
}

fn lock_holder((lock, mut conn): (LockProxy, Connection)) {
    let _held = lock.acquire().unwrap();
    conn.send(&"held").unwrap();
    loop {
        std::thread::park();
    }
}

/// Connects, authenticates, then writes the start of a frame and stops.
fn half_a_frame((address, key, mut conn): (Address, Vec<u8>, Connection)) {
    let manager_conn = Client::connect(&address, Some(&key)).unwrap();
    let mut raw = UnixStream::from(manager_conn.as_fd().try_clone_to_owned().unwrap());
    raw.write_all(&100u32.to_le_bytes()).unwrap();
    raw.write_all(b"0123456789").unwrap();
    conn.send(&"sent").unwrap();
    loop {
        std::thread::park();
    }
}

fn every_proxy_kind_works() {
    let m = Manager::start().unwrap();
    let d = m.dict::<String, Vec<u8>>().unwrap();
    assert_eq!(d.get(&"a".into()).unwrap(), None);
    d.set(&"a".into(), &vec![1, 2]).unwrap();
    assert!(d.contains_key(&"a".into()).unwrap());
    assert_eq!(d.items().unwrap(), vec![("a".to_string(), vec![1, 2])]);
    assert_eq!(d.remove(&"a".into()).unwrap(), Some(vec![1, 2]));
    assert!(d.is_empty().unwrap());

    let l = m.list::<i32>().unwrap();
    for x in [1, 2, 3] {
        l.append(&x).unwrap();
    }
    assert_eq!(l.get(-1).unwrap(), 3);
    l.set(0, &10).unwrap();
    assert_eq!(l.pop().unwrap(), 3);
    assert_eq!(l.to_vec().unwrap(), [10, 2]);
    let out_of_range = l.get(5).unwrap_err();
    assert!(
        matches!(&out_of_range, ManagerError::Remote(m) if m.contains("out of range")),
        "{out_of_range}"
    );

    let ns = m.namespace().unwrap();
    ns.set("x", &1.5f64).unwrap();
    ns.set("name", "alex").unwrap();
    assert_eq!(ns.get::<f64>("x").unwrap(), Some(1.5));
    assert_eq!(ns.get::<String>("name").unwrap().as_deref(), Some("alex"));
    assert_eq!(ns.get::<u8>("missing").unwrap(), None);

    let q = m.queue::<String>().unwrap();
    q.put(&"first".into()).unwrap();
    q.put(&"second".into()).unwrap();
    assert_eq!(q.len().unwrap(), 2);
    assert_eq!(q.get().unwrap(), "first");
    assert_eq!(q.get_timeout(DEADLINE).unwrap().as_deref(), Some("second"));
    assert_eq!(q.get_timeout(Duration::from_millis(10)).unwrap(), None);

    let e = m.event().unwrap();
    assert!(!e.is_set().unwrap());
    assert!(!e.wait_timeout(Duration::from_millis(10)).unwrap());
    e.set().unwrap();
    assert!(e.wait_timeout(DEADLINE).unwrap());
    e.clear().unwrap();
    assert!(!e.is_set().unwrap());

    let v = m.value(&7u64).unwrap();
    assert_eq!(v.get().unwrap(), 7);
    v.set(&8).unwrap();
    assert_eq!(v.get().unwrap(), 8);

    let lock = m.lock().unwrap();
    let held = lock.acquire().unwrap();
    let other = m.lock_named("shared").unwrap();
    assert!(
        other.acquire_timeout(Duration::ZERO).unwrap().is_some(),
        "another lock is free"
    );
    drop(held);
    assert!(lock.acquire_timeout(DEADLINE).unwrap().is_some());

    // Names find the same object; a name of another kind is refused.
    let a = m.dict_named::<u8, u8>("counts").unwrap();
    a.set(&1, &2).unwrap();
    assert_eq!(
        m.dict_named::<u8, u8>("counts").unwrap().get(&1).unwrap(),
        Some(2)
    );
    assert!(matches!(
        m.list_named::<u8>("counts"),
        Err(ManagerError::Remote(_))
    ));

    // Another handle reaches the same server and objects.
    let again = Manager::connect(m.address(), m.authkey()).unwrap();
    assert_eq!(
        again
            .dict_named::<u8, u8>("counts")
            .unwrap()
            .get(&1)
            .unwrap(),
        Some(2)
    );
    m.shutdown().unwrap();
    assert!(a.get(&1).is_err(), "the server is gone");
}

fn local_proxies_talk_through_a_mailbox() {
    let m = Manager::builder().max_message_len(1 << 20).start().unwrap();
    let d = m.dict::<u32, Vec<u8>>().unwrap();
    // Longer than one piece of the mailbox (32 KiB), and empty.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    d.set(&1, &big).unwrap();
    d.set(&2, &Vec::new()).unwrap();
    assert_eq!(d.get(&1).unwrap(), Some(big));
    assert_eq!(d.get(&2).unwrap(), Some(Vec::new()));
    let s = m.stats().unwrap();
    assert_eq!(s.connections, 2, "the dict's and the stats' connections");
    assert_eq!(s.mailboxes, 2, "both on a mailbox: {s:?}");
    // Over the maximum: refused on the proxy's side; the proxy goes on.
    let over = d.set(&3, &vec![0; 2 << 20]).unwrap_err();
    assert!(matches!(over, ManagerError::Codec(_)), "{over}");
    assert_eq!(d.get(&2).unwrap(), Some(Vec::new()));
    // A proxy in a child process gets its own mailbox; its end frees it.
    let q = m.queue::<String>().unwrap();
    let mut child = Process::spawn("blocked_getter", &q).unwrap();
    eventually(DEADLINE, "the child waits in get", || {
        m.stats().unwrap().waiting == 1
    });
    // The dict's, the stats' and the child's queue proxy's (ours has not
    // called yet).
    assert_eq!(m.stats().unwrap().mailboxes, 3);
    sigkill(&mut child);
    eventually(DEADLINE, "the child's mailbox is gone", || {
        let s = m.stats().unwrap();
        s.mailboxes == 2 && s.connections == 2
    });
}

fn clients_under_the_lock_lose_no_update() {
    const CLIENTS: u32 = 3;
    const ROUNDS: u32 = 40;
    let m = Manager::start().unwrap();
    let counts = m.dict::<String, u32>().unwrap();
    let log = m.list::<(u32, u32)>().unwrap();
    let lock = m.lock().unwrap();
    let mut children: Vec<Process> = (0..CLIENTS)
        .map(|me| Process::spawn("counter", &(me, ROUNDS, &counts, &log, &lock)).unwrap())
        .collect();
    within(DEADLINE, "the clients finish", move || {
        for child in &mut children {
            let status = child.join().unwrap();
            assert!(status.success(), "{status}");
        }
    });
    assert_eq!(
        counts.get(&"n".into()).unwrap(),
        Some(CLIENTS * ROUNDS),
        "no update lost"
    );
    let mut entries = log.to_vec().unwrap();
    assert_eq!(entries.len(), (CLIENTS * ROUNDS) as usize);
    entries.sort_unstable();
    let want: Vec<(u32, u32)> = (0..CLIENTS)
        .flat_map(|c| (0..ROUNDS).map(move |r| (c, r)))
        .collect();
    assert_eq!(entries, want, "every append exactly once");
}

fn a_wrong_key_is_refused() {
    let m = Manager::builder().authkey(b"right").start().unwrap();
    let err = Client::connect(m.address(), Some(b"wrong")).unwrap_err();
    assert!(
        matches!(err, ConnectionError::AuthenticationFailed(_)),
        "{err}"
    );
    assert!(err.to_string().contains("authkey"), "{err}");
    assert!(Manager::connect(m.address(), Some(b"wrong")).is_err());
    assert!(
        Manager::connect(m.address(), None).is_err(),
        "no key: no handshake, refused"
    );
    let ok = Manager::connect(m.address(), Some(b"right")).unwrap();
    ok.dict::<u8, u8>().unwrap().set(&1, &1).unwrap();
}

type Mac256 = Hmac<Sha256>;

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

fn read_frame(s: &mut UnixStream) -> Option<Vec<u8>> {
    let mut header = [0u8; 4];
    s.read_exact(&mut header).ok()?;
    let mut payload = vec![0u8; u32::from_le_bytes(header) as usize];
    s.read_exact(&mut payload).ok()?;
    Some(payload)
}

fn answer(key: &[u8], tag: &[u8], challenge: &[u8]) -> Vec<u8> {
    let nonce = challenge.strip_prefix(b"#CHALLENGE#").expect("a challenge");
    let mut mac = Mac256::new_from_slice(key).unwrap();
    mac.update(tag);
    mac.update(nonce);
    mac.finalize().into_bytes().to_vec()
}

fn unix_path(m: &Manager) -> std::path::PathBuf {
    match m.address() {
        Address::Unix(p) => p.clone(),
        other => panic!("a local manager listens on a Unix socket, not {other}"),
    }
}

fn a_replayed_answer_is_refused() {
    let m = Manager::builder().authkey(b"key").start().unwrap();
    let path = unix_path(&m);
    within(DEADLINE, "an honest answer, then its replay", move || {
        // An honest client's first step, recorded.
        let mut honest = UnixStream::connect(&path).unwrap();
        let challenge = read_frame(&mut honest).unwrap();
        let recorded = answer(b"key", b"client", &challenge);
        honest.write_all(&frame(&recorded)).unwrap();
        assert_eq!(read_frame(&mut honest).unwrap(), b"#WELCOME#");
        // An eavesdropper replays it: the new challenge is different.
        let mut replay = UnixStream::connect(&path).unwrap();
        let fresh = read_frame(&mut replay).unwrap();
        assert_ne!(fresh, challenge, "every challenge is fresh");
        replay.write_all(&frame(&recorded)).unwrap();
        assert_eq!(read_frame(&mut replay).unwrap(), b"#FAILURE#");
        assert_eq!(read_frame(&mut replay), None, "then the server hangs up");
    });
    assert!(m.stats().is_ok(), "the server still serves");
}

fn a_reflected_challenge_is_refused() {
    let m = Manager::builder().authkey(b"key").start().unwrap();
    let path = unix_path(&m);
    within(
        DEADLINE,
        "a client that sends the server's challenge back",
        move || {
            let mut s = UnixStream::connect(&path).unwrap();
            let challenge = read_frame(&mut s).unwrap();
            s.write_all(&frame(&answer(b"key", b"client", &challenge)))
                .unwrap();
            assert_eq!(read_frame(&mut s).unwrap(), b"#WELCOME#");
            // Our turn to challenge: we send the server's own challenge, hoping
            // it answers it for us.
            s.write_all(&frame(&challenge)).unwrap();
            assert_eq!(
                read_frame(&mut s),
                None,
                "refused: the server hangs up without an answer"
            );
        },
    );
    assert!(m.stats().is_ok());
}

fn not_a_handshake_is_refused() {
    let m = Manager::start().unwrap();
    let path = unix_path(&m);
    let before = m.stats().unwrap().connections;
    within(DEADLINE, "an HTTP request at the manager", move || {
        let mut s = UnixStream::connect(&path).unwrap();
        let _challenge = read_frame(&mut s).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut rest = Vec::new();
        match s.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty(), "nothing but a hang-up: {rest:?}"),
            // The server closed with our bytes unread: a reset is a hang-up too.
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
        }
    });
    eventually(DEADLINE, "the refused connection is gone", || {
        m.stats().unwrap().connections == before
    });
}

fn an_oversized_frame_is_refused() {
    let m = Manager::builder().max_message_len(1 << 20).start().unwrap();
    let d = m.dict::<u8, Vec<u8>>().unwrap();
    d.set(&1, &vec![7; 10]).unwrap();
    let before = m.stats().unwrap().connections;
    let conn = Client::connect(m.address(), m.authkey()).unwrap();
    let mut raw = UnixStream::from(conn.as_fd().try_clone_to_owned().unwrap());
    drop(conn);
    within(DEADLINE, "a 1 GiB frame header", move || {
        raw.write_all(&(1u32 << 30).to_le_bytes()).unwrap();
        let mut rest = Vec::new();
        let _ = raw.read_to_end(&mut rest);
        assert!(rest.is_empty(), "refused without a reply");
    });
    eventually(DEADLINE, "the oversized connection is gone", || {
        m.stats().unwrap().connections == before
    });
    // A proxy's own oversized value is refused on its side, before sending.
    let big = d.set(&2, &vec![0; 2 << 20]).unwrap_err();
    assert!(matches!(big, ManagerError::Codec(_)), "{big}");
    assert_eq!(d.get(&1).unwrap(), Some(vec![7; 10]), "no object lost");
}

fn sigkill(p: &mut Process) {
    p.kill().unwrap();
    let status = p.join().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
}

fn a_client_killed_in_get_loses_no_item() {
    let m = Manager::start().unwrap();
    let q = m.queue::<String>().unwrap();
    let before = m.stats().unwrap().connections;
    let mut child = Process::spawn("blocked_getter", &q).unwrap();
    eventually(DEADLINE, "the child waits in get", || {
        m.stats().unwrap().waiting == 1
    });
    sigkill(&mut child);
    q.put(&"precious".into()).unwrap();
    assert_eq!(
        q.get_timeout(DEADLINE).unwrap().as_deref(),
        Some("precious"),
        "the dead client's get took nothing"
    );
    eventually(DEADLINE, "the dead client's connection is gone", || {
        let s = m.stats().unwrap();
        s.connections == before + 1 && s.waiting == 0 // + our queue proxy
    });
}

fn a_client_killed_holding_the_lock_frees_it() {
    let m = Manager::start().unwrap();
    let lock = m.lock().unwrap();
    let (mut ours, theirs) = ipc::pipe(true).unwrap();
    let mut child = Process::spawn("lock_holder", &(&lock, &theirs)).unwrap();
    drop(theirs);
    let said: String = within(DEADLINE, "the child holds the lock", move || {
        ours.recv().unwrap()
    });
    assert_eq!(said, "held");
    assert!(
        lock.acquire_timeout(Duration::ZERO).unwrap().is_none(),
        "held by the child"
    );
    sigkill(&mut child);
    assert!(
        lock.acquire_timeout(DEADLINE).unwrap().is_some(),
        "the server released the dead client's lock"
    );
}

fn killed_inside_a_frame() {
    let m = Manager::start().unwrap();
    let d = m.dict::<u8, u8>().unwrap();
    d.set(&1, &1).unwrap();
    let before = m.stats().unwrap().connections;
    let (mut ours, theirs) = ipc::pipe(true).unwrap();
    let key = m.authkey().unwrap().to_vec();
    let mut child = Process::spawn("half_a_frame", &(m.address(), key, &theirs)).unwrap();
    drop(theirs);
    let said: String = within(DEADLINE, "the child is inside a frame", move || {
        ours.recv().unwrap()
    });
    assert_eq!(said, "sent");
    assert_eq!(m.stats().unwrap().connections, before + 1);
    sigkill(&mut child);
    eventually(DEADLINE, "the cut connection is gone", || {
        m.stats().unwrap().connections == before
    });
    assert_eq!(d.get(&1).unwrap(), Some(1), "no object lost");
}

fn tcp_needs_a_key_beyond_loopback() {
    let everywhere = Address::Tcp("0.0.0.0:0".parse().unwrap());
    let refused = Listener::bind(&everywhere, None).unwrap_err();
    assert!(
        matches!(refused, ConnectionError::KeyRequired(_)),
        "{refused}"
    );
    let refused = Manager::builder().address(everywhere).start().unwrap_err();
    assert!(refused.to_string().contains("authkey"), "{refused}");
    // Loopback TCP with an explicit key: a real manager over TCP.
    let m = Manager::builder()
        .address(Address::loopback(0))
        .authkey(b"tcp key")
        .start()
        .unwrap();
    assert!(matches!(m.address(), Address::Tcp(a) if a.ip().is_loopback() && a.port() != 0));
    let remote = Manager::connect(m.address(), Some(b"tcp key")).unwrap();
    let v = remote.value(&1u32).unwrap();
    v.set(&2).unwrap();
    assert_eq!(v.get().unwrap(), 2);
    let s = remote.stats().unwrap();
    assert_eq!(
        (s.connections, s.mailboxes),
        (2, 0),
        "TCP stays on its socket"
    );
    assert!(Manager::connect(m.address(), Some(b"nope")).is_err());
}
