//! Question 10's answer: who gets a handler. One table of counters decides
//! for a whole server (its threads, or its worker processes: then the table
//! is in shared memory), under one lock per accept and per close.
//!
//! The table is a flat `[u64]`:
//!
//! | index | what |
//! |---|---|
//! | [`OPEN`] | handlers running now (at most `max_children`) |
//! | [`ACCEPTED`] .. [`PEAK`] | the counts of [`Stats`] |
//! | [`HEADER`].. | one slot of three per client address: the IP (as two halves of a `u128`) and its open count; a count of 0 is a free slot |
//!
//! There are `max_children` client slots when `max_per_client` is set (no
//! more clients can be open at once than handlers), none otherwise; a
//! lookup scans them (a few dozen by default, as Python's
//! `ForkingMixIn.max_children` is 40).

use std::net::IpAddr;
use std::sync::Mutex;

use super::{Limits, Stats};

/// Handlers running now.
pub(crate) const OPEN: usize = 0;
/// Connections admitted.
pub(crate) const ACCEPTED: usize = 1;
/// Connections closed at once, over either cap.
pub(crate) const REFUSED: usize = 2;
/// Of those, over `max_per_client`.
pub(crate) const REFUSED_PER_CLIENT: usize = 3;
/// Handlers that returned an error.
pub(crate) const ERRORS: usize = 4;
/// Handlers that panicked.
pub(crate) const PANICS: usize = 5;
/// The most handlers at once.
pub(crate) const PEAK: usize = 6;
/// Where the client slots start.
pub(crate) const HEADER: usize = 8;
/// `u64`s per client slot: IP high half, IP low half, open count.
const SLOT: usize = 3;

/// The table's length for `limits`.
pub(crate) fn table_len(limits: &Limits) -> usize {
    match limits.max_per_client {
        Some(_) => HEADER + SLOT * limits.max_children,
        None => HEADER,
    }
}

/// Where the table lives: this process's memory, or shared memory for a
/// server of several processes.
pub(crate) enum Table {
    /// Threads of one process.
    Local(Mutex<Vec<u64>>),
    /// Worker processes (a `ForkingTcpServer`).
    #[cfg(unix)]
    Shared(crate::ipc::Array<u64>),
}

impl Table {
    /// A zeroed table in this process for `limits`.
    pub(crate) fn local(limits: &Limits) -> Table {
        Table::Local(Mutex::new(vec![0; table_len(limits)]))
    }

    /// Runs `f` on the table under its lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut [u64]) -> R) -> R {
        match self {
            Table::Local(m) => f(&mut m.lock().unwrap_or_else(|e| e.into_inner())),
            // A holder that died mid-update left at most one count off:
            // the table stays usable (the lock is robust).
            #[cfg(unix)]
            Table::Shared(a) => f(&mut a.lock()),
        }
    }

    /// Adds one to counter `i`.
    pub(crate) fn count(&self, i: usize) {
        self.with(|t| t[i] += 1);
    }

    /// The counts so far (`workers_replaced` is the caller's).
    pub(crate) fn stats(&self) -> Stats {
        self.with(|t| stats_of(t))
    }
}

/// The counts of table `t` (`workers_replaced` is the caller's).
pub(crate) fn stats_of(t: &[u64]) -> Stats {
    Stats {
        accepted: t[ACCEPTED],
        refused: t[REFUSED],
        refused_per_client: t[REFUSED_PER_CLIENT],
        handler_errors: t[ERRORS],
        handler_panics: t[PANICS],
        peak_children: t[PEAK],
        workers_replaced: 0,
    }
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_children` handlers run already.
    Full,
    /// This client address has `max_per_client` connections open already.
    PerClient,
}

/// The IP as the two halves of a slot (IPv4 as its IPv6-mapped form).
fn key(ip: IpAddr) -> [u64; 2] {
    let v6 = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    let bits = u128::from(v6);
    [(bits >> 64) as u64, bits as u64]
}

/// Admits a connection from `ip` (counts it open and accepted) or refuses
/// it (counts it refused), under the table's one lock.
pub(crate) fn try_admit(table: &Table, limits: &Limits, ip: IpAddr) -> Result<(), Refused> {
    table.with(|t| {
        if t[OPEN] >= limits.max_children as u64 {
            t[REFUSED] += 1;
            return Err(Refused::Full);
        }
        if let Some(per_client) = limits.max_per_client {
            let k = key(ip);
            let slots = &mut t[HEADER..];
            let mut free = None;
            let mut mine = None;
            for (i, slot) in slots.chunks_exact(SLOT).enumerate() {
                if slot[2] == 0 {
                    free.get_or_insert(i);
                } else if slot[..2] == k {
                    mine = Some(i);
                    break;
                }
            }
            // There is always a free slot: fewer than max_children are open.
            let i = mine.or(free).expect("a client slot per handler");
            let slot = &mut slots[i * SLOT..][..SLOT];
            if slot[2] >= per_client as u64 {
                t[REFUSED] += 1;
                t[REFUSED_PER_CLIENT] += 1;
                return Err(Refused::PerClient);
            }
            slot[..2].copy_from_slice(&k);
            slot[2] += 1;
        }
        t[OPEN] += 1;
        t[ACCEPTED] += 1;
        t[PEAK] = t[PEAK].max(t[OPEN]);
        Ok(())
    })
}

/// Counts a handler from `ip` done: its slot and the open count go down.
pub(crate) fn release(table: &Table, limits: &Limits, ip: IpAddr) {
    table.with(|t| {
        t[OPEN] = t[OPEN].saturating_sub(1);
        if limits.max_per_client.is_some() {
            let k = key(ip);
            if let Some(slot) = t[HEADER..]
                .chunks_exact_mut(SLOT)
                .find(|s| s[2] > 0 && s[..2] == k)
            {
                slot[2] -= 1;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_children: usize, max_per_client: Option<usize>) -> Limits {
        Limits {
            max_children,
            max_per_client,
            ..Limits::default()
        }
    }

    #[test]
    fn max_children_caps_the_open_count() {
        let l = limits(2, None);
        let t = Table::local(&l);
        let ip: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(try_admit(&t, &l, ip), Ok(()));
        assert_eq!(try_admit(&t, &l, ip), Ok(()));
        assert_eq!(try_admit(&t, &l, ip), Err(Refused::Full));
        release(&t, &l, ip);
        assert_eq!(try_admit(&t, &l, ip), Ok(()));
        let s = t.stats();
        assert_eq!((s.accepted, s.refused, s.peak_children), (3, 1, 2));
    }

    #[test]
    fn max_per_client_caps_each_address_alone() {
        let l = limits(4, Some(1));
        let t = Table::local(&l);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = "::1".parse().unwrap();
        assert_eq!(try_admit(&t, &l, a), Ok(()));
        assert_eq!(try_admit(&t, &l, a), Err(Refused::PerClient));
        assert_eq!(try_admit(&t, &l, b), Ok(()));
        release(&t, &l, a);
        assert_eq!(try_admit(&t, &l, a), Ok(()));
        let s = t.stats();
        assert_eq!((s.refused, s.refused_per_client), (1, 1));
    }

    #[test]
    fn every_slot_frees_again() {
        let l = limits(3, Some(1));
        let t = Table::local(&l);
        for round in 0..3u8 {
            let ips: Vec<IpAddr> = (0..3).map(|i| [10, round, 0, i].into()).collect();
            for &ip in &ips {
                assert_eq!(try_admit(&t, &l, ip), Ok(()), "{ip}");
            }
            for &ip in &ips {
                release(&t, &l, ip);
            }
        }
        t.with(|t| assert!(t[HEADER..].chunks(SLOT).all(|s| s[2] == 0)));
    }
}
