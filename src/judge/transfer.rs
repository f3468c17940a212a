//! The data transfer between handshake and teardown: retransmissions, gaps,
//! duplicate ACKs, window conditions, RTT. By default the conditions and their
//! order are those of Wireshark 4.0's `tcp.analysis` (so counts agree with
//! tshark), with three deliberate corrections (docs/conformance.md):
//! an accepted zero-window probe advances the sequence space; a next expected
//! sequence number of 0 after wraparound is an ordinary number; port reuse is
//! judged by the connection tracker, not here.

use crate::capture::Timestamp;
use crate::decode::{TcpOption, TcpSegment};
use crate::findings::{ALL_KINDS, FindingKind as K};
pub use crate::model::connection::DirectionStats;
use crate::seq::SeqNumber;
use std::collections::VecDeque;

/// Most unacknowledged segments remembered per direction (Wireshark's cap).
pub const MAX_UNACKED: usize = 10_000;
/// RTT samples kept per direction for the median, inline (no allocation).
const MAX_RTT_SAMPLES: usize = 32;
/// Wireshark's fast-retransmission window.
const FAST_RETRANS_WINDOW: i64 = 20_000_000;
/// Wireshark's out-of-order threshold when the initial RTT is unknown.
const DEFAULT_OOO_THRESHOLD: i64 = 3_000_000;

/// Analysis flags of one segment: the set of transfer findings it raises, one
/// bit per kind of the catalogue (`FindingKind as u32`), so the flag, the
/// finding and its Wireshark item are one entry of `crate::findings`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(pub u64);

impl Flags {
    #[inline]
    fn bit(k: K) -> u64 {
        1 << (k as u32)
    }
    #[inline]
    pub fn has(self, k: K) -> bool {
        self.0 & Self::bit(k) != 0
    }
    #[inline]
    fn set(&mut self, k: K) {
        self.0 |= Self::bit(k);
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// How many flags are set.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }
    /// The kinds set, in catalogue order.
    pub fn kinds(self) -> impl Iterator<Item = K> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros();
            bits &= bits - 1;
            Some(ALL_KINDS[i as usize])
        })
    }
}

/// What the judge needs to word the findings of one segment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outcome {
    pub flags: Flags,
    /// The sender's next expected sequence number before this segment.
    pub expected_seq: Option<SeqNumber>,
    /// The receiver's highest byte seen, for an ACK of unseen data.
    pub peer_next_seq: Option<SeqNumber>,
    /// For `acked_unseen`: the highest sequence number the peer's segments
    /// had been seen to cover without a gap; the ack goes past it.
    pub acked_unseen_from: Option<SeqNumber>,
    /// Frame and time the resent bytes were first sent.
    pub first_sent: Option<(u64, Timestamp)>,
    pub dup_ack_count: i32,
    pub dup_of_frame: u64,
    /// Right edge of the receiver's window (before this segment for data, after it for a shrink).
    pub right_edge: Option<SeqNumber>,
    pub old_right_edge: Option<SeqNumber>,
}

/// Window-scale knowledge of one direction (RFC 7323 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    Unknown,
    NoScaling,
    Shift(u8),
}

#[derive(Debug, Clone, Copy)]
struct Unacked {
    seq: SeqNumber,
    end: SeqNumber,
    frame: u64,
    ts: Timestamp,
    retransmitted: bool,
}

/// RTT samples for the median: the first [`MAX_RTT_SAMPLES`], then a
/// deterministic spread.
#[derive(Debug, Clone, Default)]
struct RttSamples {
    v: [f32; MAX_RTT_SAMPLES],
    len: usize,
}

#[derive(Debug, Clone)]
struct Dir {
    next_seq: Option<SeqNumber>,
    next_seq_ts: Timestamp,
    max_seq_to_be_acked: Option<SeqNumber>,
    last_ack: Option<SeqNumber>,
    last_window: Option<u16>,
    /// This side's advertised window predates a capture gap in the data it
    /// receives (the ACKs that opened it were lost with the data): no window
    /// judgement until its next ACK shows a fresh one.
    window_stale: bool,
    dup_acks: i32,
    last_nondup_ack_frame: u64,
    last_flags: Flags,
    last_ts: Option<Timestamp>,
    scale: Scale,
    /// Wireshark applies the shift only after this side's first ACK following its SYN.
    first_ack_seen: bool,
    /// Segments sent and not yet acknowledged, in the order they were sent.
    unacked: VecDeque<Unacked>,
    /// `unacked` is also in increasing, non-overlapping sequence order (the
    /// usual case: data goes out in order and a resent copy of a known range is
    /// not added), so a retransmission finds its ranges by binary search
    /// instead of a walk over every outstanding segment.
    unacked_sorted: bool,
    /// An accepted zero-window probe byte not yet acknowledged.
    probe: Option<SeqNumber>,
    right_edge: Option<SeqNumber>,
    zero_window_since: Option<Timestamp>,
    rtt: RttSamples,
    rtt_seen: u64,
    stats: DirectionStats,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            next_seq: None,
            next_seq_ts: Timestamp(0),
            max_seq_to_be_acked: None,
            last_ack: None,
            last_window: None,
            window_stale: false,
            dup_acks: 0,
            last_nondup_ack_frame: 0,
            last_flags: Flags(0),
            last_ts: None,
            scale: Scale::Unknown,
            first_ack_seen: false,
            unacked: VecDeque::new(),
            unacked_sorted: true,
            probe: None,
            right_edge: None,
            zero_window_since: None,
            rtt: RttSamples::default(),
            rtt_seen: 0,
            stats: DirectionStats::default(),
        }
    }

    /// The shift used for this side's windows in checks (Wireshark's rule).
    fn shift(&self) -> Option<u32> {
        match self.scale {
            Scale::Unknown => None,
            Scale::NoScaling => Some(0),
            Scale::Shift(s) if self.first_ack_seen => Some(s as u32),
            Scale::Shift(_) => Some(0),
        }
    }

    /// Index of the first outstanding range ending after `seq`, when sorted.
    fn first_ending_after(&self, seq: SeqNumber) -> usize {
        self.unacked.partition_point(|u| u.end.le(seq))
    }

    /// Marks every outstanding range overlapping `[seq, end)` as resent (Karn:
    /// no RTT sample from them) and returns when the byte at `seq` was first sent.
    fn mark_resent(&mut self, seq: SeqNumber, end: SeqNumber) -> Option<(u64, Timestamp)> {
        if !self.unacked_sorted {
            let first = self
                .unacked
                .iter()
                .find(|u| seq.ge(u.seq) && seq.lt(u.end))
                .map(|u| (u.frame, u.ts));
            for u in self.unacked.iter_mut() {
                if u.end.gt(seq) && u.seq.lt(end) {
                    u.retransmitted = true;
                }
            }
            return first;
        }
        let i = self.first_ending_after(seq);
        let first = self
            .unacked
            .get(i)
            .filter(|u| seq.ge(u.seq))
            .map(|u| (u.frame, u.ts));
        for u in self.unacked.range_mut(i..) {
            if !u.seq.lt(end) {
                break;
            }
            u.retransmitted = true;
        }
        first
    }

    /// The sorted outstanding ranges cover `[seq, end)` without a hole.
    fn covers(&self, seq: SeqNumber, end: SeqNumber) -> bool {
        let mut at = seq;
        for u in self.unacked.range(self.first_ending_after(seq)..) {
            if u.seq.gt(at) {
                return false;
            }
            at = u.end;
            if !at.lt(end) {
                return true;
            }
        }
        false
    }

    fn add_rtt(&mut self, secs: f64) {
        if secs < 0.0 {
            // The capture's clock went back: not a round trip.
            return;
        }
        self.stats.rtt_samples += 1;
        self.stats.rtt_min = Some(self.stats.rtt_min.map_or(secs, |m| m.min(secs)));
        self.stats.rtt_max = Some(self.stats.rtt_max.map_or(secs, |m| m.max(secs)));
        self.rtt_seen += 1;
        let r = &mut self.rtt;
        if r.len < MAX_RTT_SAMPLES {
            r.v[r.len] = secs as f32;
            r.len += 1;
        } else {
            // Keep a spread of samples over the whole connection, deterministically.
            let i = (self.rtt_seen.wrapping_mul(2_654_435_761) % MAX_RTT_SAMPLES as u64) as usize;
            r.v[i] = secs as f32;
        }
    }
}

/// Both directions of one connection; index 0 is the client's.
#[derive(Debug, Clone)]
pub struct Transfer {
    dirs: [Dir; 2],
    /// The most recent pure SYN, and the initial RTT measured from it to the
    /// first pure ACK in either direction (Wireshark's `tcp.analysis.initial_rtt`).
    last_syn: Option<Timestamp>,
    irtt: Option<i64>,
}

impl Default for Transfer {
    fn default() -> Self {
        Transfer {
            dirs: [Dir::new(), Dir::new()],
            last_syn: None,
            irtt: None,
        }
    }
}

impl Transfer {
    /// Analyses one segment sent by side `from` (0 client, 1 server).
    pub fn segment(
        &mut self,
        from: usize,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
    ) -> Outcome {
        {
            let f = seg.flags;
            if f.syn() && !f.ack() {
                self.last_syn = Some(ts);
            } else if self.irtt.is_none()
                && f.ack()
                && !f.syn()
                && !f.fin()
                && !f.rst()
                && seg.payload_len == 0
                && let Some(t) = self.last_syn
            {
                // A timestamp that went back gives no measurement.
                self.irtt = Some(ts.nanos_since(t)).filter(|&n| n >= 0);
            }
        }
        let irtt = self.irtt;
        let (fwd, rev) = if from == 0 {
            let (a, b) = self.dirs.split_at_mut(1);
            (&mut a[0], &mut b[0])
        } else {
            let (a, b) = self.dirs.split_at_mut(1);
            (&mut b[0], &mut a[0])
        };
        let f = seg.flags;
        let seq = seg.seq;
        let ack = seg.ack;
        let len = seg.payload_len;
        let syn_fin_rst = f.syn() || f.fin() || f.rst();
        let mut out = Outcome {
            expected_seq: fwd.next_seq,
            ..Outcome::default()
        };
        let mut fl = Flags(0);

        // A SYN that is not a retransmission starts this direction's sequence
        // space afresh (a new ISN: the handshake tracker reports it).
        if f.syn() && fwd.next_seq.is_some_and(|n| n != seq + 1) {
            fwd.next_seq = None;
            fwd.max_seq_to_be_acked = None;
            fwd.unacked.clear();
            fwd.unacked_sorted = true;
            rev.last_ack = None;
        }
        // Window scaling from the SYNs (RFC 7323 §2.2; Wireshark's states).
        if f.syn() {
            match seg.options().window_scale() {
                Some(s) => {
                    if !(f.ack() && rev.scale == Scale::NoScaling) {
                        fwd.scale = Scale::Shift(s.min(14));
                    }
                }
                None => {
                    if !f.ack() || rev.scale != Scale::NoScaling {
                        fwd.scale = Scale::NoScaling;
                        rev.scale = Scale::NoScaling;
                    }
                }
            }
            fwd.first_ack_seen = false;
        } else if f.ack() && !fwd.first_ack_seen {
            fwd.first_ack_seen = true;
        }

        let same_ack = fwd.last_ack == Some(ack) && f.ack();
        let at_next = fwd.next_seq == Some(seq);
        // 1. zero-window probe
        let probe = len == 1 && at_next && rev.last_window == Some(0);
        if probe {
            fl.set(K::ZeroWindowProbe);
        } else {
            // 2. zero window
            if seg.window == 0 && !syn_fin_rst {
                fl.set(K::ZeroWindow);
            }
            // 3. previous segment not captured
            if let Some(n) = fwd.next_seq
                && seq.gt(n)
                && !f.rst()
            {
                // An accepted probe byte the receiver took: not a gap.
                if fwd.probe.is_some_and(|p| seq == p + 1) {
                    fwd.next_seq = Some(seq);
                } else {
                    fl.set(K::SegmentGap);
                    rev.window_stale = true;
                    fwd.stats.gaps += 1;
                    fwd.stats.missing_bytes += seq.diff(n) as u64;
                }
            }
            // 4. keep-alive
            if len <= 1 && !syn_fin_rst && fwd.next_seq.is_some_and(|n| seq == n - 1) {
                fl.set(K::KeepAlive);
            }
            let pure_same = len == 0 && !syn_fin_rst && at_next && same_ack;
            // 5. window update
            if len == 0
                && seg.window != 0
                && fwd.last_window.is_some_and(|w| w != seg.window)
                && !syn_fin_rst
                && at_next
                && same_ack
            {
                fl.set(K::WindowUpdate);
            }
            // 6. window full: the segment ends exactly at the right edge
            if len > 0
                && !syn_fin_rst
                && !rev.window_stale
                && let (Some(s), Some(la), Some(w)) = (rev.shift(), rev.last_ack, rev.last_window)
                && seq + len == la + ((w as u32) << s)
            {
                fl.set(K::WindowFull);
                out.right_edge = Some(la + ((w as u32) << s));
            }
            let same_window = fwd.last_window == Some(seg.window);
            let mut jump = false;
            // 7. keep-alive ACK
            if pure_same && seg.window != 0 && same_window && rev.last_flags.has(K::KeepAlive) {
                fl.set(K::KeepAliveAck);
                jump = true;
            }
            // 8. zero-window probe ACK
            if !jump
                && pure_same
                && seg.window == 0
                && same_window
                && rev.last_flags.has(K::ZeroWindowProbe)
            {
                fl.set(K::ZeroWindowProbeAck);
                jump = true;
            }
            // 9. duplicate ACK. Wireshark compares with the previous packet of the
            // same side only; RFC 5681 §2 also requires data outstanding from the
            // peer, without which a repeated ACK duplicates nothing.
            // A D-SACK (RFC 2883 §4) reports a segment received twice: the ACK it
            // rides on repeats the last one because of that duplicate, and
            // Wireshark counts it, so it is a duplicate ACK with nothing outstanding.
            let outstanding = rev.next_seq.is_none_or(|n| n.gt(ack))
                || (pure_same && same_window && carries_dsack(seg, ack));
            if !jump && pure_same && seg.window != 0 && same_window && outstanding {
                fl.set(K::DuplicateAck);
                fwd.dup_acks = if fwd.dup_acks < 0 {
                    1
                } else {
                    fwd.dup_acks + 1
                };
                out.dup_ack_count = fwd.dup_acks;
                out.dup_of_frame = fwd.last_nondup_ack_frame;
            }
        }
        // 10. a new ACK resets the duplicate count
        if f.ack() && fwd.last_ack != Some(ack) {
            fwd.dup_acks = 0;
            fwd.last_nondup_ack_frame = frame;
        }
        // 11. ACK of bytes never seen
        if f.ack() {
            // The receiver took an accepted probe byte: the probe counts as sent.
            if let Some(p) = rev.probe
                && ack.gt(p)
            {
                let end = p + 1;
                if rev.next_seq.is_none_or(|n| end.gt(n)) {
                    rev.next_seq = Some(end);
                }
                if rev.max_seq_to_be_acked.is_none_or(|m| end.gt(m)) {
                    rev.max_seq_to_be_acked = Some(end);
                }
                rev.probe = None;
            }
            if let Some(m) = rev.max_seq_to_be_acked
                && ack.gt(m)
            {
                out.peer_next_seq = rev.next_seq;
                out.acked_unseen_from = Some(m);
                if rev.next_seq.is_some_and(|n| m.lt(n)) {
                    rev.max_seq_to_be_acked = rev.next_seq;
                    fl.set(K::AckedUnseen);
                } else {
                    if rev.dup_acks == 0 {
                        fl.set(K::AckedUnseen);
                    }
                    rev.dup_acks = -1;
                }
            }
        }
        // 12. retransmissions
        if (len > 0 || f.syn() || f.fin()) && !fl.has(K::KeepAlive) && !probe {
            let mut not_advanced = fwd.next_seq.is_some_and(|n| seq.lt(n));
            if len > 1 && fwd.next_seq.is_some_and(|n| seq == n - 1) {
                not_advanced = false;
            }
            let end_with_flags = seq + len + f.syn() as u32 + f.fin() as u32;
            if len > 0 && rev.last_ack.is_some_and(|la| (seq + len).le(la)) {
                fl.set(K::SpuriousRetransmission);
                fl.set(K::Retransmission);
            } else if not_advanced {
                let fast = rev.dup_acks >= 2
                    && rev.last_ack == Some(seq)
                    && rev
                        .last_ts
                        .is_some_and(|t| ts.nanos_since(t) < FAST_RETRANS_WINDOW);
                let threshold = irtt.unwrap_or(DEFAULT_OOO_THRESHOLD);
                let ooo = ts.nanos_since(fwd.next_seq_ts) < threshold
                    && fwd.next_seq != Some(end_with_flags);
                if fast {
                    fl.set(K::FastRetransmission);
                    fl.set(K::Retransmission);
                } else if ooo {
                    fl.set(K::OutOfOrder);
                } else {
                    fl.set(K::Retransmission);
                }
            }
            if fl.has(K::Retransmission) {
                fwd.stats.retransmitted_segments += 1;
                fwd.stats.retransmitted_bytes += len as u64;
                out.first_sent = fwd.mark_resent(seq, end_with_flags);
            }
            if fl.has(K::OutOfOrder) {
                fwd.stats.out_of_order += 1;
            }
        }

        // Beyond the receiver's window (not in Wireshark): data past ack + window.
        if len > 0 && !probe && !f.syn() {
            match rev.right_edge {
                Some(edge) if rev.shift().is_some() => {
                    let end = seq + len;
                    if end.gt(edge) && rev.last_window != Some(0) && !rev.window_stale {
                        fl.set(K::DataBeyondWindow);
                        out.right_edge = Some(edge);
                    }
                }
                Some(_) => rev.stats.window_scale_unknown = true,
                None => {}
            }
        }

        // State updates.
        let end = seq + len + f.syn() as u32 + f.fin() as u32;
        if (len > 0 || f.syn() || f.fin()) && !probe {
            let resent = fl.has(K::Retransmission);
            if resent && fwd.unacked_sorted && fwd.covers(seq, end) {
                // A copy of ranges already outstanding (and now marked resent)
                // adds nothing: a storm of resends costs no memory and no walk.
            } else if fwd.unacked.len() < MAX_UNACKED {
                if fwd.unacked.is_empty() {
                    fwd.unacked_sorted = true;
                } else if fwd.unacked.back().is_some_and(|b| seq.lt(b.end)) {
                    fwd.unacked_sorted = false;
                }
                fwd.unacked.push_back(Unacked {
                    seq,
                    end,
                    frame,
                    ts,
                    retransmitted: resent,
                });
            } else {
                fwd.stats.unacked_untracked += 1;
                if !fwd.stats.unacked_cap_reached {
                    fwd.stats.unacked_cap_reached = true;
                    fl.set(K::AnalysisLimit);
                }
            }
        }
        if probe {
            fwd.probe = Some(seq);
        } else if !f.rst() {
            if fwd.next_seq.is_none_or(|n| end.gt(n)) {
                fwd.next_seq = Some(end);
                fwd.next_seq_ts = ts;
            }
            if fwd.max_seq_to_be_acked.is_none_or(|m| seq == m) {
                fwd.max_seq_to_be_acked = fwd.next_seq;
            }
        }
        // The advertised window and its right edge (RFC 9293 §3.8.6).
        if f.ack() && !f.rst() {
            if seg.window == 0 && !syn_fin_rst {
                fwd.zero_window_since.get_or_insert(ts);
            } else if let Some(t) = fwd.zero_window_since.take() {
                fwd.stats.zero_window_time += ts.secs_since(t).max(0.0);
            }
            if !f.syn() {
                if let Some(s) = fwd.shift() {
                    let edge = ack + ((seg.window as u32) << s);
                    if let Some(old) = fwd.right_edge {
                        // Scaling rounds the window down: allow one unit of slop.
                        let moved_back = edge.lt(old) && old.diff(edge) as u64 >= (1u64 << s);
                        let ack_forward = fwd.last_ack.is_none_or(|la| ack.ge(la));
                        if moved_back && ack_forward && !f.fin() && !fwd.window_stale {
                            fl.set(K::WindowShrink);
                            out.old_right_edge = Some(old);
                            out.right_edge = Some(edge);
                        }
                    }
                    fwd.right_edge = Some(edge);
                } else {
                    fwd.right_edge = Some(ack + seg.window as u32);
                }
                fwd.window_stale = false;
            }
        }
        if f.ack() {
            fwd.last_ack = Some(ack);
        }
        fwd.last_window = Some(seg.window);
        fwd.last_flags = fl;
        fwd.last_ts = Some(ts);
        // The ACK retires the peer's segments; an exact match is an RTT sample (Karn: none from retransmitted ones).
        if f.ack() {
            while let Some(u) = rev.unacked.front().copied() {
                if u.end.le(ack) {
                    rev.unacked.pop_front();
                    if u.end == ack && !u.retransmitted {
                        rev.add_rtt(ts.secs_since(u.ts));
                    }
                } else {
                    if u.seq.lt(ack)
                        && let Some(front) = rev.unacked.front_mut()
                    {
                        front.seq = ack;
                    }
                    break;
                }
            }
        }
        out.flags = fl;
        out
    }

    /// The round trip from the capture point to the receiver of side `from`'s
    /// segments and back, in nanoseconds: the initial RTT, else the smallest
    /// time in which the peer acknowledged one of `from`'s segments.
    pub fn rtt_estimate(&self, from: usize) -> Option<i64> {
        self.irtt
            .or_else(|| self.dirs[from].stats.rtt_min.map(|s| (s * 1e9) as i64))
    }

    /// Per-direction figures at the end of the connection (client, server).
    pub fn stats(&mut self, end: Timestamp) -> (DirectionStats, DirectionStats) {
        for d in &mut self.dirs {
            if let Some(t) = d.zero_window_since.take() {
                d.stats.zero_window_time += end.secs_since(t).max(0.0);
            }
            if d.rtt.len > 0 {
                let mut v = d.rtt.v;
                let v = &mut v[..d.rtt.len];
                v.sort_by(f32::total_cmp);
                // Microsecond resolution: the samples are kept as f32.
                d.stats.rtt_median = Some((v[v.len() / 2] as f64 * 1e6).round() / 1e6);
            }
        }
        (self.dirs[0].stats.clone(), self.dirs[1].stats.clone())
    }
}

/// RFC 2883 §4 as Wireshark reads it: the first SACK block lies at or below
/// the cumulative ack, or the second block covers the first one's right edge.
fn carries_dsack(seg: &TcpSegment<'_>, ack: SeqNumber) -> bool {
    seg.options().any(|o| {
        let TcpOption::Sack(b) = o else { return false };
        let word = |i: usize| {
            b.get(i..i + 4)
                .map(|w| SeqNumber(u32::from_be_bytes([w[0], w[1], w[2], w[3]])))
        };
        let Some(right1) = word(4) else { return false };
        if right1.le(ack) {
            return true;
        }
        match (word(8), word(12)) {
            (Some(l2), Some(r2)) => l2.lt(right1) && right1.le(r2),
            _ => false,
        }
    })
}

use super::packed::{Pack, Reader, Writer, packed};

impl Pack for Flags {
    fn pack(&self, w: &mut Writer) {
        self.0.pack(w)
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        Flags(u64::unpack(r))
    }
}

impl Pack for Scale {
    fn pack(&self, w: &mut Writer) {
        match *self {
            Scale::Unknown => 0u16.pack(w),
            Scale::NoScaling => 1u16.pack(w),
            Scale::Shift(s) => (2 + s as u16).pack(w),
        }
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        match u16::unpack(r) {
            0 => Scale::Unknown,
            1 => Scale::NoScaling,
            s => Scale::Shift((s - 2) as u8),
        }
    }
}

packed!(Unacked {
    seq,
    end,
    frame,
    ts,
    retransmitted
});
packed!(Transfer {
    dirs,
    last_syn,
    irtt
});

impl Pack for RttSamples {
    /// Only the samples taken, not all the slots.
    fn pack(&self, w: &mut Writer) {
        self.len.pack(w);
        for v in &self.v[..self.len] {
            v.pack(w);
        }
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        let mut s = RttSamples {
            len: usize::unpack(r),
            ..Default::default()
        };
        for v in &mut s.v[..s.len] {
            *v = f32::unpack(r);
        }
        s
    }
}

packed!(Dir {
    next_seq,
    next_seq_ts,
    max_seq_to_be_acked,
    last_ack,
    last_window,
    window_stale,
    dup_acks,
    last_nondup_ack_frame,
    last_flags,
    last_ts,
    scale,
    first_ack_seen,
    unacked,
    unacked_sorted,
    probe,
    right_edge,
    zero_window_since,
    rtt,
    rtt_seen,
    stats,
});
