//! IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200 §4.5, RFC 5722)
//! with bounded memory and timeouts measured in capture time.
//!
//! The stateless [`decode_frame`](super::decode_frame) reports a fragment
//! as [`Decoded::Fragment`]; the pipeline passes that frame to
//! [`Reassembler::push`], which holds the fragment until its datagram is
//! whole and then decodes the datagram like any other packet. Only
//! fragmented datagrams own memory; unfragmented traffic never reaches here.

use super::addr::IpAddress;
use super::error::{DecodeError, Layer};
use super::ip::IpPayload;
use super::layer::At;
use super::tunnel::{TunnelKey, TunnelPath};
use super::walk::{self, Decoded, Walked};
use crate::capture::{Frame, Timestamp};
use serde::Serialize;
use std::collections::HashMap;

/// Limits on the fragments held at once.
#[derive(Debug, Clone, Copy)]
pub struct ReassemblyConfig {
    /// Datagrams being reassembled at once; more are dropped (and counted).
    pub max_datagrams: usize,
    /// Bytes of fragment payload held at once; more are dropped (and counted).
    pub max_bytes: usize,
    /// How long an IPv4 datagram may wait for its missing fragments, in
    /// capture time (Linux `ipfrag_time`: 30 s).
    pub timeout_v4: Timestamp,
    /// The same for IPv6 (RFC 8200 §4.5: 60 s).
    pub timeout_v6: Timestamp,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_datagrams: 1024,
            max_bytes: 16 << 20,
            timeout_v4: Timestamp(30 * Timestamp::NANOS_PER_SEC),
            timeout_v6: Timestamp(60 * Timestamp::NANOS_PER_SEC),
        }
    }
}

/// Which datagram a fragment belongs to: RFC 791's (source, destination,
/// protocol, identification), RFC 8200's (source, destination,
/// identification), and the virtual network it travelled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FragmentKey {
    pub src: IpAddress,
    pub dst: IpAddress,
    pub id: u32,
    /// IPv4 protocol, or the IPv6 fragment header's next header.
    pub proto: u8,
    #[serde(skip)]
    pub tunnel: TunnelKey,
}

/// Which limit of [`ReassemblyConfig`] was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    Datagrams,
    Bytes,
}

/// Why a datagram was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IncompleteReason {
    /// Its missing fragments did not come within the timeout.
    Timeout,
    /// The capture ended first.
    EndOfCapture,
}

/// Something reassembly noticed, for the findings of the connection (if the
/// datagram's first fragment names one) or of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FragmentEvent {
    /// Two fragments of a datagram carried different bytes for the same
    /// offsets. An IPv4 datagram keeps the bytes that came first; an IPv6
    /// datagram is discarded whole, as RFC 5722 §4 tells receivers to.
    OverlapConflict {
        key: FragmentKey,
        first_frame: u64,
        frame: u64,
        /// Payload offset where the bytes first differ.
        offset: u32,
        discarded: bool,
    },
    /// A datagram that never became whole.
    Incomplete {
        key: FragmentKey,
        first_frame: u64,
        last_frame: u64,
        fragments: u32,
        /// Payload bytes received, and the datagram's length if the last
        /// fragment came.
        received: u32,
        total: Option<u32>,
        reason: IncompleteReason,
    },
    /// A fragment dropped because a limit was reached.
    LimitReached {
        key: FragmentKey,
        frame: u64,
        limit: Limit,
    },
}

/// Counters over the reassembler's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReassemblyStats {
    pub fragments: u64,
    pub datagrams: u64,
    pub incomplete: u64,
    pub overlap_conflicts: u64,
    pub dropped_fragments: u64,
    /// Most bytes held at once.
    pub peak_bytes: u64,
}

/// What [`Reassembler::push`] made of a frame.
// Boxing the decoded datagram would allocate for every completed datagram;
// the value is returned once per fragment and never stored.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum Reassembled<'a> {
    /// The fragment is held until its datagram is whole.
    Held,
    /// The frame completed a datagram (or was no fragment at all): the
    /// decoded datagram, borrowing from the reassembler or the frame.
    Complete(Decoded<'a>),
    /// The fragment was dropped: a limit was reached or the datagram was
    /// discarded (see the events).
    Dropped,
}

struct Datagram {
    ip: IpPayload,
    tunnels: TunnelPath,
    first_frame: u64,
    last_frame: u64,
    first_ts: Timestamp,
    fragments: u32,
    /// Payload bytes at their offsets; gaps are zero until filled.
    buf: Vec<u8>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
    total: Option<u32>,
    /// The first overlap with different bytes, if any.
    conflict: Option<FragmentEvent>,
}

impl Datagram {
    fn received(&self) -> u32 {
        self.have.iter().map(|(a, b)| b - a).sum()
    }

    fn complete(&self) -> bool {
        matches!((self.total, self.have.as_slice()), (Some(t), [(0, e)]) if *e == t)
    }

    /// Copies `bytes` to `start`, keeping bytes already received; returns
    /// the first offset where an overlap carried different bytes.
    fn insert(&mut self, start: u32, bytes: &[u8]) -> Option<u32> {
        let end = start + bytes.len() as u32;
        if self.buf.len() < end as usize {
            self.buf.resize(end as usize, 0);
        }
        let mut conflict = None;
        let mut pos = start;
        for &(a, b) in &self.have {
            if b <= pos || a >= end {
                continue;
            }
            if a > pos {
                self.buf[pos as usize..a as usize]
                    .copy_from_slice(&bytes[(pos - start) as usize..(a - start) as usize]);
            }
            let (s, e) = (a.max(pos), b.min(end));
            let old = &self.buf[s as usize..e as usize];
            let new = &bytes[(s - start) as usize..(e - start) as usize];
            if conflict.is_none()
                && let Some(i) = old.iter().zip(new).position(|(x, y)| x != y)
            {
                conflict = Some(s + i as u32);
            }
            pos = e;
        }
        if pos < end {
            self.buf[pos as usize..end as usize].copy_from_slice(&bytes[(pos - start) as usize..]);
        }
        self.have.push((start, end));
        self.have.sort_unstable();
        // Merge touching and overlapping ranges in place: each range joins
        // the kept one before it when it starts inside it.
        self.have.dedup_by(|next, kept| {
            let joins = next.0 <= kept.1;
            if joins {
                kept.1 = kept.1.max(next.1);
            }
            joins
        });
        conflict
    }
}

/// Puts IP fragments back together. Owned by the pipeline, one per capture.
pub struct Reassembler {
    config: ReassemblyConfig,
    /// Keyed by what came off the wire: a per-run random hasher, so that
    /// chosen addresses and IDs cannot be aimed at one bucket.
    pending: HashMap<FragmentKey, Datagram, foldhash::fast::RandomState>,
    bytes: usize,
    /// The last completed datagram, which a returned segment borrows.
    out: Vec<u8>,
    events: Vec<FragmentEvent>,
    /// The overlap conflict of the datagram the last push completed.
    completed_conflict: Option<FragmentEvent>,
    stats: ReassemblyStats,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(ReassemblyConfig::default())
    }
}

impl Reassembler {
    pub fn new(config: ReassemblyConfig) -> Reassembler {
        Reassembler {
            config,
            pending: HashMap::default(),
            bytes: 0,
            out: Vec::new(),
            events: Vec::new(),
            completed_conflict: None,
            stats: ReassemblyStats::default(),
        }
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Datagrams waiting for fragments.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Bytes of datagram buffers held.
    pub fn held_bytes(&self) -> usize {
        self.bytes
    }

    /// The [`FragmentEvent::OverlapConflict`] of the datagram the last push
    /// completed, if its fragments overlapped with different bytes: the
    /// datagram's segment names the connection the conflict belongs to. The
    /// event is among the drained events as well.
    pub fn completed_conflict(&self) -> Option<FragmentEvent> {
        self.completed_conflict
    }

    /// Events since the last call, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, FragmentEvent> {
        self.events.drain(..)
    }

    /// Takes in one frame (normally one that `decode_frame` called a
    /// fragment). A segment of a completed datagram belongs to this frame:
    /// the one that made the datagram whole, as Wireshark attributes it.
    pub fn push<'r>(&'r mut self, frame: &Frame<'r>) -> Result<Reassembled<'r>, DecodeError> {
        let mut tunnels = TunnelPath::EMPTY;
        self.push_tunnelled(frame, &mut tunnels)
    }

    /// [`push`](Reassembler::push), also giving the tunnels around the
    /// completed datagram in `tunnels` (outermost first): a segment keeps
    /// only their key and depth.
    pub fn push_tunnelled<'r>(
        &'r mut self,
        frame: &Frame<'r>,
        tunnels: &mut TunnelPath,
    ) -> Result<Reassembled<'r>, DecodeError> {
        self.completed_conflict = None;
        self.expire(frame.ts);
        *tunnels = TunnelPath::EMPTY;
        let wire_len = super::wire_len(frame);
        let (ip, frag) = match super::walk_frame(frame.link_type, frame.data, wire_len, tunnels)? {
            Walked::Done(d) => {
                return Ok(Reassembled::Complete(d));
            }
            Walked::Fragment(ip, frag) => (ip, frag),
        };
        self.stats.fragments += 1;
        let layer = if ip.src.is_v6() {
            Layer::Ipv6
        } else {
            Layer::Ipv4
        };
        let payload = frame
            .data
            .get(ip.off..ip.off + ip.len as usize)
            .ok_or_else(|| DecodeError::truncated(layer, ip.off, ip.len as usize, frame.data))?;
        let end = frag.offset as usize + payload.len();
        if end > 65535 {
            return Err(DecodeError::ReassembledTooLong { len: end });
        }
        let key = FragmentKey {
            src: ip.src,
            dst: ip.dst,
            id: frag.id,
            proto: ip.proto,
            tunnel: tunnels.key(),
        };
        let held = self.pending.get(&key).map(|d| d.buf.len());
        if held.is_none() && self.pending.len() >= self.config.max_datagrams {
            return Ok(self.drop_fragment(key, frame.number, Limit::Datagrams));
        }
        if self.bytes + end.saturating_sub(held.unwrap_or(0)) > self.config.max_bytes {
            return Ok(self.drop_fragment(key, frame.number, Limit::Bytes));
        }
        let d = self.pending.entry(key).or_insert_with(|| Datagram {
            ip,
            tunnels: *tunnels,
            first_frame: frame.number,
            last_frame: frame.number,
            first_ts: frame.ts,
            fragments: 0,
            buf: Vec::new(),
            have: Vec::new(),
            total: None,
            conflict: None,
        });
        d.fragments += 1;
        d.last_frame = frame.number;
        if frag.offset == 0 {
            // The first fragment's header is the datagram's (RFC 791 §3.2).
            d.ip = ip;
        }
        if !frag.more && d.total.is_none() {
            d.total = Some(end as u32);
        }
        let before = d.buf.len();
        let conflict = d.insert(frag.offset, payload);
        self.bytes += d.buf.len() - before;
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.bytes as u64);
        if let Some(offset) = conflict
            && d.conflict.is_none()
        {
            self.stats.overlap_conflicts += 1;
            let discarded = ip.src.is_v6();
            let event = FragmentEvent::OverlapConflict {
                key,
                first_frame: d.first_frame,
                frame: frame.number,
                offset,
                discarded,
            };
            d.conflict = Some(event);
            self.events.push(event);
            if discarded {
                self.remove(&key);
                return Ok(Reassembled::Dropped);
            }
        }
        if !d.complete() {
            return Ok(Reassembled::Held);
        }
        let d = self.remove(&key).expect("the datagram is pending");
        self.stats.datagrams += 1;
        self.completed_conflict = d.conflict;
        let total = d.total.unwrap_or(0);
        self.out = d.buf;
        self.out.truncate(total as usize);
        let p = IpPayload {
            off: 0,
            len: total,
            frag: None,
            ..d.ip
        };
        let out = &self.out[..];
        *tunnels = d.tunnels;
        Ok(
            match walk::walk(out, At::Transport(p), out.len(), false, tunnels)? {
                Walked::Done(decoded) => Reassembled::Complete(decoded),
                // A fragment tunnelled inside a reassembled datagram: not followed further.
                Walked::Fragment(..) => Reassembled::Complete(Decoded::Fragment),
            },
        )
    }

    fn drop_fragment(
        &mut self,
        key: FragmentKey,
        frame: u64,
        limit: Limit,
    ) -> Reassembled<'static> {
        self.stats.dropped_fragments += 1;
        self.events
            .push(FragmentEvent::LimitReached { key, frame, limit });
        Reassembled::Dropped
    }

    fn remove(&mut self, key: &FragmentKey) -> Option<Datagram> {
        let d = self.pending.remove(key)?;
        self.bytes -= d.buf.len();
        Some(d)
    }

    /// Gives up datagrams whose timeout passed by capture time `now`.
    pub fn expire(&mut self, now: Timestamp) {
        if self.pending.is_empty() {
            return;
        }
        let (t4, t6) = (self.config.timeout_v4.0, self.config.timeout_v6.0);
        let mut expired: Vec<FragmentKey> = self
            .pending
            .iter()
            .filter(|(k, d)| {
                let t = if k.src.is_v6() { t6 } else { t4 };
                now.0.saturating_sub(d.first_ts.0) > t
            })
            .map(|(k, _)| *k)
            .collect();
        expired.sort_by_key(|k| self.pending[k].first_frame);
        for k in expired {
            self.give_up(k, IncompleteReason::Timeout);
        }
    }

    /// At the end of a capture: every datagram still waiting is incomplete.
    pub fn finish(&mut self) {
        let mut keys: Vec<FragmentKey> = self.pending.keys().copied().collect();
        keys.sort_by_key(|k| self.pending[k].first_frame);
        for k in keys {
            self.give_up(k, IncompleteReason::EndOfCapture);
        }
    }

    fn give_up(&mut self, key: FragmentKey, reason: IncompleteReason) {
        if let Some(d) = self.remove(&key) {
            self.stats.incomplete += 1;
            self.events.push(FragmentEvent::Incomplete {
                key,
                first_frame: d.first_frame,
                last_frame: d.last_frame,
                fragments: d.fragments,
                received: d.received(),
                total: d.total,
                reason,
            });
        }
    }
}
