//! The process `Queue` and `JoinableQueue`, with real child processes:
//! order from one producer, exactly-once delivery across 4 producers and 4
//! consumers, large messages, the timed and non-blocking calls, `join`
//! across processes, processes killed while holding the read lock or in
//! the middle of a message, and the edges of the shared-memory ring (wrap
//! around, a message exactly the ring's size, messages larger than it, a
//! producer killed while copying a record).
//!
//! `harness = false`: `main` calls `ipc::init` first (see
//! `synclings::ipc::process`).

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use synclings::ipc::{
    self, entry, pipe, Connection, Entry, GetError, JoinableQueue, Process, PutError, Queue,
    RecvError, SendError,
};
use synclings::testing::{eventually, run_test_variants, within, Test, DEADLINE};

static ENTRIES: &[Entry] = &[
    entry!(counts),
    entry!(producer),
    entry!(consumer),
    entry!(puts_bytes),
    entry!(holds_the_read_lock),
    entry!(dies_in_the_middle_of_a_get),
    entry!(dies_in_the_middle_of_a_put),
    entry!(dies_before_publishing),
    entry!(does_tasks),
    entry!(seed_producer),
    entry!(seed_consumer),
];

const TESTS: &[Test] = &[
    ("timed_and_non_blocking_calls", timed_and_non_blocking_calls),
    ("one_producer_keeps_its_order", one_producer_keeps_its_order),
    (
        "four_producers_four_consumers_exactly_once",
        four_producers_four_consumers_exactly_once,
    ),
    ("large_messages_cross_whole", large_messages_cross_whole),
    (
        "a_consumer_killed_holding_the_read_lock_does_not_wedge",
        killed_holding_the_read_lock,
    ),
    (
        "a_consumer_killed_mid_message_loses_only_that_message",
        killed_mid_get,
    ),
    (
        "a_producer_killed_mid_message_does_not_hang_readers",
        killed_mid_put,
    ),
    (
        "the_ring_wraps_and_carries_messages_of_every_size",
        ring_wraps_and_carries_every_size,
    ),
    (
        "a_producer_killed_while_copying_a_record_leaves_nothing_visible",
        killed_while_copying_a_record,
    ),
    (
        "joinable_queue_join_across_processes",
        joinable_queue_join_across_processes,
    ),
    (
        "seed_program_7_two_producers_three_consumers",
        seed_program_7,
    ),
];

pub fn main() -> ExitCode {
    ipc::init(ENTRIES);
    run_test_variants(TESTS, ipc::BACKEND_VARIANTS)
}

/// A message of the exactly-once test: who sent it, its number, and a
/// payload derived from both (so that a mixed-up or torn message shows).
#[derive(Serialize, Deserialize, Debug)]
struct Message {
    producer: u32,
    seq: u32,
    payload: Vec<u8>,
}

impl Message {
    fn new(producer: u32, seq: u32) -> Self {
        // Mostly small, every 25th over 128 KiB, every 100th over 1 MiB (more
        // than the queue's ring holds: it streams through it in records).
        let len = match seq {
            s if s % 100 == 99 => (1 << 20) + 3,
            s if s % 25 == 0 => 150_000 + s as usize,
            s => (s as usize * 37) % 700,
        };
        let payload = (0..len)
            .map(|i| (i as u32 ^ producer.wrapping_mul(101) ^ seq) as u8)
            .collect();
        Message {
            producer,
            seq,
            payload,
        }
    }

    fn is_intact(&self) -> bool {
        let expected = Message::new(self.producer, self.seq);
        self.payload == expected.payload
    }
}

const PER_PRODUCER: u32 = 200;

/// Never returns (until killed).
fn park_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn counts((q, n): (Queue<u32>, u32)) {
    for i in 0..n {
        q.put(&i).unwrap();
    }
}

fn producer((q, id): (Queue<Option<Message>>, u32)) {
    for seq in 0..PER_PRODUCER {
        q.put(&Some(Message::new(id, seq))).unwrap();
    }
}

/// Takes messages until `None`, then reports which it took.
fn consumer((q, mut report): (Queue<Option<Message>>, Connection)) {
    let mut taken = Vec::new();
    while let Some(m) = q.get().unwrap() {
        assert!(
            m.is_intact(),
            "message {}/{} arrived torn",
            m.producer,
            m.seq
        );
        taken.push((m.producer, m.seq));
    }
    report.send(&taken).unwrap();
}

/// Puts one message of each (length, byte).
fn puts_bytes((q, messages): (Queue<Vec<u8>>, Vec<(usize, u8)>)) {
    for (len, byte) in messages {
        q.put(&vec![byte; len]).unwrap();
    }
}

fn holds_the_read_lock((q, mut conn): (Queue<u32>, Connection)) {
    conn.send(&"ready").unwrap();
    let n = q.get().unwrap();
    panic!("the queue was empty, yet get returned {n}");
}

fn dies_in_the_middle_of_a_get((q, mut conn): (Queue<Vec<u8>>, Connection)) {
    let _ = q.get_pausing_after_first_packet(|| {
        conn.send(&"mid-message").unwrap();
        park_forever()
    });
}

fn dies_in_the_middle_of_a_put((q, mut conn, len): (JoinableQueue<Vec<u8>>, Connection, usize)) {
    let _ = q.put_pausing_after_first_packet(&vec![7; len], || {
        conn.send(&"mid-message").unwrap();
        park_forever()
    });
}

/// Puts a message of `len` bytes, stopping for good with record number
/// `record` copied into the ring but not published.
fn dies_before_publishing((q, mut conn, len, record): (Queue<Vec<u8>>, Connection, usize, usize)) {
    let _ = q.put_pausing_before_publishing(&vec![7; len], record, || {
        conn.send(&"mid-record").unwrap();
        park_forever()
    });
}

/// Takes numbers until `None`, marking each done; reports how many.
fn does_tasks((q, done): (JoinableQueue<Option<u32>>, Queue<u32>)) {
    let mut count = 0;
    while let Some(_n) = q.get().unwrap() {
        count += 1;
        q.task_done().unwrap();
    }
    q.task_done().unwrap();
    done.put(&count).unwrap();
}

/// The seed's program 7, producer side.
fn seed_producer((q, id): (Queue<Option<u32>>, u32)) {
    for i in 0..5 {
        println!("produced: {i} --- producer {id}");
        q.put(&Some(i)).unwrap();
    }
}

/// The seed's program 7, consumer side (reports to `results` too).
fn seed_consumer((q, results, id): (Queue<Option<u32>>, Queue<(u32, u32)>, u32)) {
    while let Some(i) = q.get().unwrap() {
        println!("consumed: {i} --- consumer {id}");
        results.put(&(id, i)).unwrap();
    }
}

fn join(mut p: Process, what: &str) {
    let status = within(DEADLINE, what, move || p.join().unwrap());
    assert!(status.success(), "{what}: {status}");
}

fn timed_and_non_blocking_calls() {
    let q = Queue::<u32>::new(1).unwrap();
    assert_eq!(q.maxsize(), 1);
    assert!(q.is_empty());
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    let t0 = Instant::now();
    assert!(matches!(
        q.get_timeout(Duration::from_millis(30)),
        Err(GetError::Empty)
    ));
    assert!(
        t0.elapsed() >= Duration::from_millis(30),
        "get_timeout gave up early"
    );

    q.put(&1).unwrap();
    assert!(!q.is_empty());
    assert!(matches!(q.try_put(&2), Err(PutError::Full)));
    let t0 = Instant::now();
    assert!(matches!(
        q.put_timeout(&2, Duration::from_millis(30)),
        Err(PutError::Full)
    ));
    assert!(
        t0.elapsed() >= Duration::from_millis(30),
        "put_timeout gave up early"
    );
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), 1);
    q.try_put(&3).unwrap();
    assert_eq!(q.try_get().unwrap(), 3);

    // A blocked put is released by a get from another thread.
    let q = Arc::new(q);
    q.put(&4).unwrap();
    let putter = {
        let q = Arc::clone(&q);
        std::thread::spawn(move || q.put(&5).unwrap())
    };
    assert_eq!(
        within(DEADLINE, "get 4", {
            let q = Arc::clone(&q);
            move || q.get().unwrap()
        }),
        4
    );
    within(DEADLINE, "the blocked put finishes", move || {
        putter.join().unwrap()
    });
    assert_eq!(q.try_get().unwrap(), 5);

    // Messages over the queue's limit are refused before anything is sent.
    let small = Queue::<Vec<u8>>::with_max_message_len(0, 100).unwrap();
    let err = small.put(&vec![0; 200]).unwrap_err();
    assert!(
        matches!(err, PutError::Send(SendError::TooLarge { max: 100, .. })),
        "{err}"
    );
    assert!(small.is_empty());
}

fn one_producer_keeps_its_order() {
    let q = Arc::new(Queue::<u32>::new(10).unwrap());
    let p = Process::spawn("counts", &(&*q, 5000u32)).unwrap();
    let got = within(DEADLINE, "5000 numbers in order", {
        let q = Arc::clone(&q);
        move || (0..5000).map(|_| q.get().unwrap()).collect::<Vec<u32>>()
    });
    assert_eq!(got, (0..5000).collect::<Vec<_>>());
    join(p, "the producer");
    assert!(q.is_empty());
}

fn four_producers_four_consumers_exactly_once() {
    let q = Queue::<Option<Message>>::new(16).unwrap();
    let mut reports = Vec::new();
    let mut consumers = Vec::new();
    for _ in 0..4 {
        let (report, child_end) = pipe(true).unwrap();
        consumers.push(Process::spawn("consumer", &(&q, &child_end)).unwrap());
        drop(child_end);
        reports.push(report);
    }
    let producers: Vec<Process> = (0..4)
        .map(|id| Process::spawn("producer", &(&q, id)).unwrap())
        .collect();
    for p in producers {
        join(p, "a producer");
    }
    for _ in 0..4 {
        q.put(&None).unwrap();
    }
    let mut seen = HashSet::new();
    let mut per_consumer = Vec::new();
    for mut report in reports {
        let taken: Vec<(u32, u32)> = within(DEADLINE, "a consumer's report", move || {
            report.recv().unwrap()
        });
        per_consumer.push(taken.len());
        for id in taken {
            assert!(seen.insert(id), "message {id:?} delivered twice");
        }
    }
    for c in consumers {
        join(c, "a consumer");
    }
    assert_eq!(seen.len(), 4 * PER_PRODUCER as usize, "messages lost");
    println!("messages per consumer: {per_consumer:?}");
    assert!(q.is_empty());
}

fn large_messages_cross_whole() {
    let q = Arc::new(Queue::<Vec<u8>>::new(1).unwrap());
    let sizes = vec![
        (16 << 20, 0xA5),
        (0, 0),
        (1 << 20, 0x5A),
        (65_000, 1),
        (200_000, 2),
    ];
    let p = Process::spawn("puts_bytes", &(&*q, &sizes)).unwrap();
    for (len, byte) in sizes {
        let m = within(DEADLINE, "a large message", {
            let q = Arc::clone(&q);
            move || q.get().unwrap()
        });
        assert_eq!(m.len(), len);
        assert!(
            m.iter().all(|&b| b == byte),
            "a {len}-byte message arrived altered"
        );
    }
    join(p, "the producer");
}

fn killed_holding_the_read_lock() {
    let q = Arc::new(Queue::<u32>::new(0).unwrap());
    let (conn, child_end) = pipe(true).unwrap();
    let mut c1 = Process::spawn("holds_the_read_lock", &(&*q, &child_end)).unwrap();
    drop(child_end);
    let mut conn = within(DEADLINE, "the consumer is ready", move || {
        let mut conn = conn;
        conn.recv::<String>().unwrap();
        conn
    });
    eventually(DEADLINE, "the consumer holds the read lock", || {
        q.read_lock_is_held()
    });
    c1.kill().unwrap();
    let status = within(DEADLINE, "the killed consumer is reaped", move || {
        c1.join().unwrap()
    });
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // Python would hang here forever: its lock died with the consumer.
    q.put(&42).unwrap();
    let got = within(DEADLINE, "another consumer gets the next message", {
        let q = Arc::clone(&q);
        move || q.get().unwrap()
    });
    assert_eq!(got, 42);
    assert!(!q.read_lock_is_held());
    assert!(matches!(conn.recv::<String>(), Err(RecvError::Closed)));
}

fn killed_mid_get() {
    let q = Arc::new(Queue::<Vec<u8>>::new(2).unwrap());
    let (conn, child_end) = pipe(true).unwrap();
    let mut c1 = Process::spawn("dies_in_the_middle_of_a_get", &(&*q, &child_end)).unwrap();
    drop(child_end);
    // 1 MiB does not fit the ring: it streams in records, and the consumer
    // stops after the first.
    let producer =
        Process::spawn("puts_bytes", &(&*q, vec![(1usize << 20, 1u8), (10, 2)])).unwrap();
    within(
        DEADLINE,
        "the consumer is in the middle of the message",
        move || {
            let mut conn = conn;
            assert_eq!(conn.recv::<String>().unwrap(), "mid-message");
        },
    );
    c1.kill().unwrap();
    within(DEADLINE, "the killed consumer is reaped", move || {
        c1.join().unwrap()
    });
    // The rest of the 1 MiB message is skipped; the next message is whole.
    let got = within(DEADLINE, "the next message", {
        let q = Arc::clone(&q);
        move || q.get().unwrap()
    });
    assert_eq!(got, vec![2; 10]);
    join(producer, "the producer");
    // Both places came back: two puts fit, a third does not.
    q.try_put(&vec![3]).unwrap();
    q.try_put(&vec![4]).unwrap();
    assert!(matches!(q.try_put(&vec![5]), Err(PutError::Full)));
    assert_eq!(q.try_get().unwrap(), [3]);
    assert_eq!(q.try_get().unwrap(), [4]);
}

fn killed_mid_put() {
    let q = Arc::new(JoinableQueue::<Vec<u8>>::new(1).unwrap());
    let (conn, child_end) = pipe(true).unwrap();
    let mut p1 = Process::spawn(
        "dies_in_the_middle_of_a_put",
        &(&*q, &child_end, 300_000usize),
    )
    .unwrap();
    drop(child_end);
    within(
        DEADLINE,
        "the producer is in the middle of its message",
        move || {
            let mut conn = conn;
            assert_eq!(conn.recv::<String>().unwrap(), "mid-message");
        },
    );
    assert_eq!(q.unfinished_tasks(), 1);
    p1.kill().unwrap();
    within(DEADLINE, "the killed producer is reaped", move || {
        p1.join().unwrap()
    });
    // A reader takes the first record, waits for the rest, notices the
    // writer is dead and drops the partial message: no hang.
    let t0 = Instant::now();
    let result = within(DEADLINE, "a get after the producer's death", {
        let q = Arc::clone(&q);
        move || q.get_timeout(Duration::from_millis(300))
    });
    assert!(matches!(result, Err(GetError::Empty)), "{result:?}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Its place and its task were given back.
    assert_eq!(q.unfinished_tasks(), 0);
    assert!(q.join_timeout(Duration::ZERO));
    q.try_put(&vec![1, 2, 3]).unwrap();
    assert!(matches!(q.try_put(&vec![4]), Err(PutError::Full)));
    assert_eq!(q.try_get().unwrap(), [1, 2, 3]);
    q.task_done().unwrap();
    assert!(q.join_timeout(Duration::ZERO));
}

fn ring_wraps_and_carries_every_size() {
    // A 4 KiB ring: small messages wrap around it many times; one message
    // fills it exactly (header included); the ones after it do not fit and
    // stream through it in records.
    let q = Arc::new(Queue::<Vec<u8>>::with_ring_len(0, 4096).unwrap());
    let (ring_len, header) = q.ring_layout();
    assert_eq!(ring_len, 4096);
    // postcard writes a Vec<u8> of 128..16384 bytes as 2 length bytes, then
    // the bytes.
    let exactly_the_ring = ring_len - header - 2;
    let mut sizes: Vec<(usize, u8)> = (0..600).map(|i| ((i * 37) % 300, i as u8)).collect();
    for len in [
        exactly_the_ring - 1,
        exactly_the_ring,
        exactly_the_ring,
        exactly_the_ring + 1,
        3 * ring_len + 5,
        0,
        100_000,
        1,
    ] {
        sizes.push((len, (len % 251) as u8));
    }
    let p = Process::spawn("puts_bytes", &(&*q, &sizes)).unwrap();
    let got = within(DEADLINE, "every message", {
        let q = Arc::clone(&q);
        let n = sizes.len();
        move || (0..n).map(|_| q.get().unwrap()).collect::<Vec<_>>()
    });
    for (m, (len, byte)) in got.iter().zip(&sizes) {
        assert_eq!(m.len(), *len);
        assert!(
            m.iter().all(|b| b == byte),
            "a {len}-byte message arrived altered"
        );
    }
    join(p, "the producer");
    assert!(q.is_empty());

    // The same in one process: the ring exactly full, then emptied.
    q.put(&vec![9; exactly_the_ring]).unwrap();
    assert!(matches!(
        q.put_timeout(&vec![], Duration::from_millis(10)),
        Err(PutError::Full)
    ));
    assert_eq!(q.try_get().unwrap(), vec![9; exactly_the_ring]);
    q.try_put(&vec![]).unwrap();
    assert_eq!(q.try_get().unwrap(), Vec::<u8>::new());
}

fn killed_while_copying_a_record() {
    // Killed while copying its first record: nothing of the message shows.
    let q = Arc::new(Queue::<Vec<u8>>::with_ring_len(1, 4096).unwrap());
    let (conn, child_end) = pipe(true).unwrap();
    let mut p1 = Process::spawn(
        "dies_before_publishing",
        &(&*q, &child_end, 1000usize, 0usize),
    )
    .unwrap();
    drop(child_end);
    let conn = within(DEADLINE, "the producer is copying its record", move || {
        let mut conn = conn;
        assert_eq!(conn.recv::<String>().unwrap(), "mid-record");
        conn
    });
    assert!(q.is_empty());
    assert!(matches!(q.try_get(), Err(GetError::Empty)));
    p1.kill().unwrap();
    within(DEADLINE, "the killed producer is reaped", move || {
        p1.join().unwrap()
    });
    drop(conn);
    // Its place came back (the next put repairs): one put fits, not two.
    q.try_put(&vec![1, 2, 3]).unwrap();
    assert!(matches!(q.try_put(&vec![4]), Err(PutError::Full)));
    assert_eq!(q.try_get().unwrap(), [1, 2, 3]);

    // Killed while copying its third record, a reader having taken the
    // first two: the reader drops the partial message and takes the next.
    let (conn, child_end) = pipe(true).unwrap();
    let mut p2 = Process::spawn(
        "dies_before_publishing",
        &(&*q, &child_end, 20_000usize, 2usize),
    )
    .unwrap();
    drop(child_end);
    let reader = {
        let q = Arc::clone(&q);
        std::thread::spawn(move || q.get().unwrap())
    };
    within(
        DEADLINE,
        "the producer is copying its third record",
        move || {
            let mut conn = conn;
            assert_eq!(conn.recv::<String>().unwrap(), "mid-record");
        },
    );
    p2.kill().unwrap();
    within(DEADLINE, "the killed producer is reaped", move || {
        p2.join().unwrap()
    });
    q.put(&vec![42]).unwrap();
    let got = within(DEADLINE, "the reader gets the next message", move || {
        reader.join().unwrap()
    });
    assert_eq!(got, [42]);
    assert!(q.is_empty());
    q.try_put(&vec![5]).unwrap();
    assert!(matches!(q.try_put(&vec![6]), Err(PutError::Full)));
    assert_eq!(q.try_get().unwrap(), [5]);
}

fn joinable_queue_join_across_processes() {
    let q = Arc::new(JoinableQueue::<Option<u32>>::new(0).unwrap());
    let done = Queue::<u32>::new(0).unwrap();
    for n in 0..100 {
        q.put(&Some(n)).unwrap();
    }
    assert_eq!(q.unfinished_tasks(), 100);
    assert!(
        !q.join_timeout(Duration::from_millis(20)),
        "no consumer yet: join must wait"
    );
    let consumers: Vec<Process> = (0..2)
        .map(|_| Process::spawn("does_tasks", &(&*q, &done)).unwrap())
        .collect();
    within(DEADLINE, "join returns once every item is done", {
        let q = Arc::clone(&q);
        move || q.join()
    });
    assert_eq!(q.unfinished_tasks(), 0);
    q.put(&None).unwrap();
    q.put(&None).unwrap();
    for c in consumers {
        join(c, "a consumer");
    }
    let counts: u32 = (0..2).map(|_| done.try_get().unwrap()).sum();
    assert_eq!(counts, 100);
    assert!(q.join_timeout(Duration::ZERO));
    assert!(q.task_done().is_err(), "task_done past zero is an error");
}

fn seed_program_7() {
    let q = Queue::<Option<u32>>::new(0).unwrap();
    let results = Queue::<(u32, u32)>::new(0).unwrap();
    let producers: Vec<Process> = (1..=2)
        .map(|id| Process::spawn("seed_producer", &(&q, id)).unwrap())
        .collect();
    let consumers: Vec<Process> = (1..=3)
        .map(|id| Process::spawn("seed_consumer", &(&q, &results, id)).unwrap())
        .collect();
    for p in producers {
        join(p, "a producer");
    }
    // One end signal per consumer, once every producer is done.
    for _ in 0..3 {
        q.put(&None).unwrap();
    }
    println!("main");
    for c in consumers {
        join(c, "a consumer");
    }
    let mut values: Vec<u32> = std::iter::from_fn(|| results.try_get().ok())
        .map(|(_, v)| v)
        .collect();
    values.sort_unstable();
    assert_eq!(values, [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
}
