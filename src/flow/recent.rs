//! The memory of closed 4-tuples (RFC 9293 §3.4.2: TIME-WAIT lasts 2·MSL), in
//! 40 bytes a tuple plus a few bytes of index.
//!
//! A busy server closes tens of thousands of connections a second and each
//! closed 4-tuple must be remembered for 2·MSL (120 s by default), so this is
//! the table's largest part on connection churn. A tuple is remembered by a
//! 64-bit fingerprint of its key, hashed with a per-table random seed, instead
//! of the 48-byte key: two tuples share a fingerprint with probability 2⁻⁶⁴
//! per pair (about 3·10⁻⁸ in a run that remembers a million at once), and a
//! sender cannot aim for it without the seed. Entries sit in a ring in the
//! order they were remembered, indexed by a hash table of ring positions.

use super::{FlowHasher, FlowKey, PreviousUse};
use crate::capture::Timestamp;
use crate::seq::SeqNumber;
use hashbrown::HashTable;
use std::collections::VecDeque;
use std::hash::BuildHasher;

/// One remembered closed 4-tuple: 40 bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    fingerprint: u64,
    /// Capture time of the last segment.
    ended: i64,
    /// The same in table time, for the 2·MSL.
    ended_at: i64,
    last_frame: u64,
    client_isn: u32,
    /// Bit 0: the client's ISN is known; bit 1: it ended with a FIN exchange;
    /// bit 2: a later entry replaced this one.
    bits: u8,
}

const ISN_KNOWN: u8 = 1;
const FIN_CLOSED: u8 = 2;
const REPLACED: u8 = 4;

impl Entry {
    fn previous_use(&self) -> PreviousUse {
        PreviousUse {
            ended: Timestamp(self.ended),
            fin_closed: self.bits & FIN_CLOSED != 0,
            client_isn: (self.bits & ISN_KNOWN != 0).then_some(SeqNumber(self.client_isn)),
            last_frame: self.last_frame,
        }
    }
}

/// Closed 4-tuples, oldest first, at most `limit` of them.
pub(super) struct RecentTuples {
    ring: VecDeque<Entry>,
    /// Ring positions (counted from the first entry ever pushed, modulo 2³²)
    /// of the live entries, by fingerprint.
    index: HashTable<u32>,
    /// Position of `ring[0]`, modulo 2³².
    base: u32,
    hasher: FlowHasher,
    /// Live entries (the ring also holds replaced ones until they leave it).
    live: usize,
}

impl RecentTuples {
    pub(super) fn new(hasher: FlowHasher) -> RecentTuples {
        RecentTuples {
            ring: VecDeque::new(),
            index: HashTable::new(),
            base: 0,
            hasher,
            live: 0,
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.live
    }

    fn fingerprint(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_one(key)
    }

    fn slot(&self, pos: u32) -> usize {
        pos.wrapping_sub(self.base) as usize
    }

    /// What the last connection on `key` left, with its end in table time.
    pub(super) fn get(&self, key: &FlowKey) -> Option<(PreviousUse, i64)> {
        let fp = self.fingerprint(key);
        let pos = self
            .index
            .find(fp, |&p| self.ring[self.slot(p)].fingerprint == fp)?;
        let e = &self.ring[self.slot(*pos)];
        Some((e.previous_use(), e.ended_at))
    }

    /// Remembers `key`; returns how many older tuples were forgotten to stay
    /// within `limit`.
    pub(super) fn insert(
        &mut self,
        key: &FlowKey,
        p: PreviousUse,
        ended_at: i64,
        limit: usize,
    ) -> u64 {
        let fp = self.fingerprint(key);
        let mut forgotten = 0;
        if let Ok(old) = self.index.find_entry(fp, |&p| {
            self.ring[p.wrapping_sub(self.base) as usize].fingerprint == fp
        }) {
            let (pos, _) = old.remove();
            let slot = self.slot(pos);
            self.ring[slot].bits |= REPLACED;
            self.live -= 1;
        }
        while self.live >= limit.max(1) {
            if self.pop_front() {
                forgotten += 1;
            }
        }
        let pos = self.base.wrapping_add(self.ring.len() as u32);
        self.ring.push_back(Entry {
            fingerprint: fp,
            ended: p.ended.0,
            ended_at,
            last_frame: p.last_frame,
            client_isn: p.client_isn.map_or(0, |s| s.0),
            bits: p.client_isn.is_some() as u8 * ISN_KNOWN + p.fin_closed as u8 * FIN_CLOSED,
        });
        let (ring, base) = (&self.ring, self.base);
        self.index.insert_unique(fp, pos, |&p| {
            ring[p.wrapping_sub(base) as usize].fingerprint
        });
        self.live += 1;
        forgotten
    }

    /// Drops the oldest entry; whether it was live.
    fn pop_front(&mut self) -> bool {
        let Some(e) = self.ring.pop_front() else {
            return false;
        };
        let pos = self.base;
        self.base = self.base.wrapping_add(1);
        if e.bits & REPLACED != 0 {
            return false;
        }
        if let Ok(found) = self.index.find_entry(e.fingerprint, |&p| p == pos) {
            found.remove();
        }
        self.live -= 1;
        true
    }

    /// Forgets the tuples that ended more than `two_msl` before `now` (table
    /// time), oldest first: an entry that ended earlier than one before it
    /// waits for that one, and lookups check the time themselves.
    pub(super) fn expire(&mut self, now: i64, two_msl: i64) {
        while let Some(e) = self.ring.front() {
            if e.bits & REPLACED == 0 && now.saturating_sub(e.ended_at) <= two_msl {
                break;
            }
            self.pop_front();
        }
        if self.ring.capacity() > 64 && self.ring.len() < self.ring.capacity() / 4 {
            self.ring.shrink_to(self.ring.len() * 2);
            self.index.shrink_to(self.live * 2, |&p| {
                self.ring[p.wrapping_sub(self.base) as usize].fingerprint
            });
        }
    }

    pub(super) fn clear(&mut self) {
        self.ring.clear();
        self.index.clear();
        self.live = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::IpAddress;

    fn key(port: u16) -> FlowKey {
        FlowKey::from_endpoints(
            (IpAddress::V4([10, 0, 0, 1]), port),
            (IpAddress::V4([10, 0, 0, 2]), 80),
        )
    }

    fn used(frame: u64) -> PreviousUse {
        PreviousUse {
            ended: Timestamp(frame as i64),
            fin_closed: frame.is_multiple_of(2),
            client_isn: Some(SeqNumber(frame as u32 * 7)),
            last_frame: frame,
        }
    }

    #[test]
    fn an_entry_is_40_bytes() {
        assert_eq!(size_of::<Entry>(), 40);
    }

    #[test]
    fn remembers_replaces_forgets_and_expires() {
        let mut r = RecentTuples::new(super::super::seeded_hasher(7));
        for p in 0..100u16 {
            assert_eq!(r.insert(&key(p), used(p as u64), p as i64, 1000), 0);
        }
        assert_eq!(r.len(), 100);
        let (u, at) = r.get(&key(42)).unwrap();
        assert_eq!(
            (u.last_frame, at, u.client_isn),
            (42, 42, Some(SeqNumber(294)))
        );
        // A later close on the same tuple replaces the entry.
        r.insert(&key(42), used(500), 500, 1000);
        assert_eq!(r.len(), 100);
        assert_eq!(r.get(&key(42)).unwrap().0.last_frame, 500);
        // Full: the oldest live entries go first, and are counted.
        assert_eq!(r.insert(&key(1000), used(1), 600, 100), 1);
        assert!(r.get(&key(0)).is_none());
        assert!(r.get(&key(1)).is_some());
        // 2·MSL of 50 at time 120: entries that ended at 70 or before go,
        // the replaced 42 (now ended at 500) stays.
        r.expire(120, 50);
        assert!(r.get(&key(69)).is_none());
        assert!(r.get(&key(70)).is_some());
        assert_eq!(r.get(&key(42)).unwrap().0.last_frame, 500);
        // 70..99, the replaced 42 and 1000.
        assert_eq!(r.len(), 32);
        r.clear();
        assert!(r.get(&key(42)).is_none());
    }
}
