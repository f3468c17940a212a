//! What is counted per listener and per client address, in bounded memory:
//! exact counts, quantile sketches (DDSketch, 1% relative error) for times,
//! capped sets for distinct addresses, and the evidence each diagnosis needs.

use super::timeline::{self as tl, Examples, Timeline};
use crate::capture::Timestamp;
use crate::decode::IpAddress;
use crate::findings::Detail;
use crate::findings::{FindingKind, Side};
use crate::model::attempt::RstPhase;
use crate::model::connection::{ConnectionReport, Handshake};
use cardinality_estimator::CardinalityEstimator;
use rustc_hash::FxHashSet;
use schemars::JsonSchema;
use serde::Serialize;
use sketches_ddsketch::{Config as SketchConfig, DDSketch};

/// Distinct client addresses counted exactly per listener; past this the
/// count is a lower bound (`distinct_clients_capped`).
pub const MAX_DISTINCT_CLIENTS: usize = 4096;
/// Distinct source addresses counted exactly per diagnosis; past this the
/// count is a HyperLogLog estimate ([`Sources`]).
pub const EXACT_SOURCES: usize = 256;
/// The relative standard error of that estimate: 1.04/√m with m = 2^12
/// registers (Flajolet et al., "HyperLogLog", 2007).
pub const ESTIMATE_ERROR_PCT: f64 = 1.625;
/// Linux's default ephemeral range, `net.ipv4.ip_local_port_range` 32768–60999.
pub const EPHEMERAL_RANGE: u32 = 28_232;

/// p50/p90/p99/max of one measure, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, JsonSchema)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// A quantile sketch of one measure.
#[derive(Clone)]
pub struct Sketch(DDSketch);

impl Default for Sketch {
    fn default() -> Sketch {
        // 1% relative accuracy, at most 1024 bins: bounded whatever the count.
        Sketch(DDSketch::new(SketchConfig::new(0.01, 1024, 1e-7)))
    }
}

impl std::fmt::Debug for Sketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sketch({} values)", self.0.count())
    }
}

impl Sketch {
    pub fn add(&mut self, v: f64) {
        if v.is_finite() {
            self.0.add(v.max(0.0));
        }
    }

    pub fn merge(&mut self, o: &Sketch) {
        let _ = self.0.merge(&o.0);
    }

    pub fn summary(&self) -> Percentiles {
        let (min, max) = (self.0.min(), self.0.max());
        // The sketch's value is within 1% of the true one; never outside the
        // values seen.
        let q = |p| {
            let v = self.0.quantile(p).ok().flatten()?;
            Some(v.clamp(min.unwrap_or(v), max.unwrap_or(v)))
        };
        Percentiles {
            count: self.0.count() as u64,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max,
        }
    }
}

/// Addresses, exactly up to a cap.
#[derive(Debug, Clone, Default)]
pub struct AddrSet {
    set: FxHashSet<IpAddress>,
    pub capped: bool,
}

impl AddrSet {
    pub fn add(&mut self, a: IpAddress, cap: usize) {
        if self.set.len() < cap {
            self.set.insert(a);
        } else if !self.set.contains(&a) {
            self.capped = true;
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn merge(&mut self, o: &AddrSet, cap: usize) {
        for a in &o.set {
            self.add(*a, cap);
        }
        self.capped |= o.capped;
    }
}

/// A HyperLogLog++ sketch of addresses; the crate's defaults: 2^12 six-bit
/// registers (3 KiB), exact hashes below 128 entries.
type Estimator = CardinalityEstimator<IpAddress>;

/// Distinct source addresses in bounded memory: an exact set up to
/// [`EXACT_SOURCES`], then a HyperLogLog estimate seeded with that set
/// (relative standard error [`ESTIMATE_ERROR_PCT`]), never a silent cap.
#[derive(Clone)]
pub enum Sources {
    Exact(FxHashSet<IpAddress>),
    Estimated(Box<Estimator>),
}

impl Default for Sources {
    fn default() -> Sources {
        Sources::Exact(FxHashSet::default())
    }
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sources::Exact(s) => write!(f, "Sources({} exact)", s.len()),
            Sources::Estimated(e) => write!(f, "Sources(about {})", e.estimate()),
        }
    }
}

impl Sources {
    pub fn add(&mut self, a: IpAddress) {
        match self {
            Sources::Exact(set) if set.len() < EXACT_SOURCES || set.contains(&a) => {
                set.insert(a);
            }
            Sources::Exact(_) => {
                self.estimate_from_now_on().insert(&a);
            }
            Sources::Estimated(e) => e.insert(&a),
        }
    }

    /// Turns the exact set into an estimator holding the same addresses.
    fn estimate_from_now_on(&mut self) -> &mut Estimator {
        if let Sources::Exact(set) = self {
            let mut e = Box::new(Estimator::new());
            for a in set.iter() {
                e.insert(a);
            }
            *self = Sources::Estimated(e);
        }
        match self {
            Sources::Estimated(e) => e,
            Sources::Exact(_) => unreachable!("just replaced"),
        }
    }

    /// The number of distinct addresses: exact unless [`Sources::is_estimate`].
    pub fn count(&self) -> u64 {
        match self {
            Sources::Exact(s) => s.len() as u64,
            Sources::Estimated(e) => e.estimate() as u64,
        }
    }

    pub fn is_estimate(&self) -> bool {
        matches!(self, Sources::Estimated(_))
    }

    /// The count with its noun as a diagnosis states it: "60 source
    /// addresses", or past the exact bound "about 5012 source addresses
    /// (counted exactly up to 256, then estimated by HyperLogLog with a
    /// standard error of 1.6%)".
    pub fn describe(&self, one: &str, many: &str) -> String {
        match self {
            Sources::Exact(s) if s.len() == 1 => format!("1 {one}"),
            Sources::Exact(s) => format!("{} {many}", s.len()),
            Sources::Estimated(e) => format!(
                "about {} {many} (counted exactly up to {EXACT_SOURCES}, then estimated by HyperLogLog with a standard error of {ESTIMATE_ERROR_PCT:.1}%)",
                e.estimate()
            ),
        }
    }

    pub fn merge(&mut self, o: &Sources) {
        match o {
            Sources::Exact(set) => {
                for a in set {
                    self.add(*a);
                }
            }
            Sources::Estimated(e) => self.estimate_from_now_on().merge(e),
        }
    }
}

/// The connections that support one diagnosis.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub count: u64,
    pub examples: Examples,
    pub sources: Sources,
}

impl Evidence {
    pub fn add(&mut self, c: &ConnectionReport) {
        self.count += 1;
        self.examples.add(c.id, c.first_frame, c.last_frame);
        self.sources.add(c.client.addr);
    }

    fn merge(&mut self, o: &Evidence) {
        self.count += o.count;
        self.examples.merge(&o.examples);
        self.sources.merge(&o.sources);
    }
}

/// Evidence gathered per listener, one field per diagnosis signal.
#[derive(Debug, Clone, Default)]
pub struct ListenerEvidence {
    /// Answered only after SYN retransmissions on a backoff ladder.
    pub syn_backoff: Evidence,
    pub syn_backoff_max_retries: u32,
    /// SYN-ACK sent again after the final ACK.
    pub synack_after_ack: Evidence,
    /// ... of which the client's data was retransmitted.
    pub synack_after_ack_data_retx: u64,
    /// RST in answer to the final ACK.
    pub rst_on_final_ack: Evidence,
    /// Unanswered or no-final-ACK attempts with one SYN and no retry.
    pub flood: Evidence,
    /// Unanswered or no-final-ACK attempts with SYN retries.
    pub failed_with_retries: u64,
    /// SYN-ACKs that dropped the SYN's window scale or SACK, no timestamps,
    /// MSS from the cookie table.
    pub cookie_like: Evidence,
    /// SYN-ACKs that honoured the SYN's window scale or SACK.
    pub synack_full_options: u64,
    /// Challenge ACK to a SYN.
    pub challenge_ack: Evidence,
    /// Dropped SYNs whose TSval went backwards for the client address.
    pub paws: Evidence,
    /// The most a PAWS-dropped SYN's TSval was behind (timestamp ticks).
    pub paws_max_behind: u32,
}

impl ListenerEvidence {
    fn merge(&mut self, o: &ListenerEvidence) {
        self.syn_backoff.merge(&o.syn_backoff);
        self.syn_backoff_max_retries = self.syn_backoff_max_retries.max(o.syn_backoff_max_retries);
        self.synack_after_ack.merge(&o.synack_after_ack);
        self.synack_after_ack_data_retx += o.synack_after_ack_data_retx;
        self.rst_on_final_ack.merge(&o.rst_on_final_ack);
        self.flood.merge(&o.flood);
        self.failed_with_retries += o.failed_with_retries;
        self.cookie_like.merge(&o.cookie_like);
        self.synack_full_options += o.synack_full_options;
        self.challenge_ack.merge(&o.challenge_ack);
        self.paws.merge(&o.paws);
        self.paws_max_behind = self.paws_max_behind.max(o.paws_max_behind);
    }
}

/// The MSS values a Linux SYN cookie can encode (`msstab` in
/// net/ipv4/syncookies.c).
pub const COOKIE_MSS: [u16; 4] = [536, 1300, 1440, 1460];

/// Seconds from the first SYN to its `retries`-th retransmission when the
/// timeout starts at `initial` seconds, stays there for the first `linear`
/// retries and doubles after each later one.
fn syn_schedule(initial: f64, linear: u32, retries: u32) -> f64 {
    let (mut t, mut rto) = (0.0, initial);
    for k in 1..=retries.min(16) {
        t += rto;
        if k >= linear {
            rto *= 2.0;
        }
    }
    t
}

/// Does `after` seconds between the first and the `syns`-th SYN fit a client's
/// SYN retransmission schedule? Exponential backoff from an initial RTO of
/// 1 s (RFC 6298, Linux) or 3 s (RFC 1122, older stacks), or recent Linux's
/// linear timeouts (1 s for the first `net.ipv4.tcp_syn_linear_timeouts`
/// retries, 4 by default, then exponential). Within 25% plus 50 ms.
pub fn on_backoff_ladder(syns: u32, after: f64) -> bool {
    if syns < 2 {
        return false;
    }
    let n = syns - 1;
    [(1.0, 0), (3.0, 0), (1.0, 4)]
        .iter()
        .any(|&(initial, linear)| {
            let want = syn_schedule(initial, linear, n);
            (after - want).abs() <= want * 0.25 + 0.05
        })
}

/// Everything counted for one listener (or for all of them).
#[derive(Debug, Clone)]
pub struct ListenerStats {
    pub connections: u64,
    pub attempts: u64,
    pub established: u64,
    pub syns: u64,
    pub handshake: [u64; 8],
    pub close: [u64; 7],
    pub clients: AddrSet,
    /// Attempts answered on the 1st, 2nd … SYN (the last slot: that many or more).
    pub answered_on: [u64; 8],
    pub never_answered: u64,
    pub syn_retransmitted: u64,
    pub time_to_establish: Sketch,
    pub syn_to_synack: Sketch,
    pub synack_to_ack: Sketch,
    /// RSTs by sender (client, server) and phase.
    pub rst: [[u64; 3]; 2],
    pub retransmitting: u64,
    pub zero_window: u64,
    pub time_wait_reuse: u64,
    pub port_reuse: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub evidence: ListenerEvidence,
    pub timeline: Timeline,
}

impl ListenerStats {
    pub fn new(interval: Option<i64>) -> ListenerStats {
        ListenerStats {
            connections: 0,
            attempts: 0,
            established: 0,
            syns: 0,
            handshake: [0; 8],
            close: [0; 7],
            clients: AddrSet::default(),
            answered_on: [0; 8],
            never_answered: 0,
            syn_retransmitted: 0,
            time_to_establish: Sketch::default(),
            syn_to_synack: Sketch::default(),
            synack_to_ack: Sketch::default(),
            rst: [[0; 3]; 2],
            retransmitting: 0,
            zero_window: 0,
            time_wait_reuse: 0,
            port_reuse: 0,
            first_ts: None,
            last_ts: None,
            evidence: ListenerEvidence::default(),
            timeline: Timeline::new(interval),
        }
    }

    /// Counts one finished connection. `paws`: its SYN was dropped while its
    /// TSval was that far behind the client address's last answered SYN.
    pub fn add(&mut self, c: &ConnectionReport, paws: Option<u32>) {
        self.connections += 1;
        let start = c.start.0;
        let end = start + (c.duration * 1e9) as i64;
        self.first_ts = Some(self.first_ts.map_or(c.start, |t| t.min(c.start)));
        self.last_ts = Some(
            self.last_ts
                .map_or(Timestamp(end), |t| t.max(Timestamp(end))),
        );
        let hs = c.handshake;
        self.handshake[hs as usize] += 1;
        self.close[c.close as usize] += 1;
        if hs.established() {
            self.established += 1;
        }
        self.clients.add(c.client.addr, MAX_DISTINCT_CLIENTS);
        let t = c.transfer.client.retransmitted_segments + c.transfer.server.retransmitted_segments;
        if t > 0 {
            self.retransmitting += 1;
        }
        if c.transfer.client.zero_window_time > 0.0 || c.transfer.server.zero_window_time > 0.0 {
            self.zero_window += 1;
        }
        for f in &c.findings {
            match f.kind {
                FindingKind::TimeWaitReuse => self.time_wait_reuse += 1,
                FindingKind::PortReuse => self.port_reuse += 1,
                _ => {}
            }
        }
        let a = &c.attempt;
        if let (Some(from), Some(phase)) = (a.rst_from, a.rst_phase) {
            let s = (from == Side::Server) as usize;
            let p = RstPhase::ALL.iter().position(|&x| x == phase).unwrap_or(0);
            self.rst[s][p] += 1;
            let at = start + (a.rst_after.unwrap_or(0.0) * 1e9) as i64;
            let b = self.timeline.bucket_mut(at);
            let series = if s == 1 {
                tl::RST_SERVER
            } else {
                tl::RST_CLIENT
            };
            b.counts[series] = b.counts[series].saturating_add(1);
            b.rst.add(c.id, c.first_frame, c.last_frame);
        }
        if c.syn_count > 0 && hs != Handshake::NotObserved {
            self.attempts += 1;
            self.syns += c.syn_count as u64;
            self.timeline.add(start, tl::ATTEMPTS, 1);
            if c.syn_count > 1 {
                self.syn_retransmitted += 1;
                let at = start + (a.last_syn_after.unwrap_or(0.0) * 1e9) as i64;
                self.timeline
                    .add(at, tl::SYN_RETRANSMISSIONS, c.syn_count - 1);
            }
            let answered = a.synacks > 0;
            if answered {
                self.answered_on[(c.syn_count as usize - 1).min(7)] += 1;
            } else {
                self.never_answered += 1;
            }
            let failed = match hs {
                Handshake::Complete | Handshake::SimultaneousOpen => None,
                Handshake::Refused => Some(tl::REFUSED),
                Handshake::Unanswered => Some(tl::UNANSWERED),
                Handshake::NoFinalAck => Some(tl::NO_FINAL_ACK),
                Handshake::Aborted => Some(tl::ABORTED),
                Handshake::Invalid | Handshake::NotObserved => Some(tl::INVALID),
            };
            match failed {
                None => {
                    let at = start + (c.time_to_establish.unwrap_or(0.0) * 1e9) as i64;
                    self.timeline.add(at, tl::COMPLETED, 1);
                }
                Some(tl::REFUSED) => {
                    let b = self.timeline.bucket_mut(start);
                    b.counts[tl::REFUSED] = b.counts[tl::REFUSED].saturating_add(1);
                    b.refused.add(c.id, c.first_frame, c.last_frame);
                }
                Some(s) => self.timeline.add(start, s, 1),
            }
            if let Some(v) = c.time_to_establish {
                self.time_to_establish.add(v);
            }
            self.evidence_of(c, paws);
        }
        if let Some(v) = c.handshake_rtt.syn_to_synack {
            self.syn_to_synack.add(v);
        }
        if let Some(v) = c.handshake_rtt.synack_to_ack {
            self.synack_to_ack.add(v);
        }
    }

    fn evidence_of(&mut self, c: &ConnectionReport, paws: Option<u32>) {
        let a = &c.attempt;
        let e = &mut self.evidence;
        if a.synacks > 0
            && c.syn_count > 1
            && on_backoff_ladder(c.syn_count, a.last_syn_after.unwrap_or(0.0))
        {
            e.syn_backoff.add(c);
            e.syn_backoff_max_retries = e.syn_backoff_max_retries.max(c.syn_count - 1);
        }
        if a.synacks_after_final_ack > 0 {
            e.synack_after_ack.add(c);
            if c.transfer.client.retransmitted_segments > 0 {
                e.synack_after_ack_data_retx += 1;
            }
        }
        if a.rst_answers_final_ack {
            e.rst_on_final_ack.add(c);
        }
        if matches!(c.handshake, Handshake::Unanswered | Handshake::NoFinalAck) {
            if c.syn_count == 1 {
                e.flood.add(c);
            } else {
                e.failed_with_retries += 1;
            }
        }
        if let (Some(syn), Some(sa)) = (a.syn_options, a.synack_options) {
            let offered = syn.wscale.is_some() || syn.sack;
            let dropped = (syn.wscale.is_some() && sa.wscale.is_none()) || (syn.sack && !sa.sack);
            if offered
                && dropped
                && !sa.timestamps
                && sa.mss.is_some_and(|m| COOKIE_MSS.contains(&m))
            {
                e.cookie_like.add(c);
            } else if offered && !dropped {
                e.synack_full_options += 1;
            }
        }
        if a.challenge_ack {
            e.challenge_ack.add(c);
        }
        if let Some(behind) = paws {
            e.paws.add(c);
            e.paws_max_behind = e.paws_max_behind.max(behind);
        }
    }

    /// Adds another listener's counts (for the overall figures).
    pub fn merge(&mut self, o: &ListenerStats) {
        self.connections += o.connections;
        self.attempts += o.attempts;
        self.established += o.established;
        self.syns += o.syns;
        for (a, b) in self.handshake.iter_mut().zip(o.handshake) {
            *a += b;
        }
        for (a, b) in self.close.iter_mut().zip(o.close) {
            *a += b;
        }
        self.clients.merge(&o.clients, MAX_DISTINCT_CLIENTS);
        for (a, b) in self.answered_on.iter_mut().zip(o.answered_on) {
            *a += b;
        }
        self.never_answered += o.never_answered;
        self.syn_retransmitted += o.syn_retransmitted;
        self.time_to_establish.merge(&o.time_to_establish);
        self.syn_to_synack.merge(&o.syn_to_synack);
        self.synack_to_ack.merge(&o.synack_to_ack);
        for s in 0..2 {
            for p in 0..3 {
                self.rst[s][p] += o.rst[s][p];
            }
        }
        self.retransmitting += o.retransmitting;
        self.zero_window += o.zero_window;
        self.time_wait_reuse += o.time_wait_reuse;
        self.port_reuse += o.port_reuse;
        self.first_ts = match (self.first_ts, o.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts = match (self.last_ts, o.last_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.evidence.merge(&o.evidence);
        self.timeline.merge(&o.timeline);
    }
}

/// What is counted per client address.
#[derive(Debug, Clone, Default)]
pub struct ClientStats {
    pub connections: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// New connections on a 4-tuple used less than 2·MSL before.
    pub reused_within_2msl: u64,
    /// Made at the first reuse, so an ordinary address stays small.
    pub reuse: Option<Box<Evidence>>,
    /// Ports used, one bit each; made once the client has many connections.
    pub ports: Option<Box<[u64; 1024]>>,
    /// The TSval of the earliest- and of the latest-starting answered SYN,
    /// with when each started: connections are counted as they finish, not
    /// as they start, so a dropped SYN is compared with both.
    pub answered_tsval: [Option<(u32, Timestamp)>; 2],
}

/// Connections from one address before its ports are tracked one by one.
pub const PORT_BITMAP_AFTER: u64 = 64;

impl ClientStats {
    /// Counts one connection; `bitmaps_left` limits how many clients get a
    /// port bitmap. When the SYN looks dropped by PAWS (RFC 7323 §5): how far
    /// its TSval was behind the last answered SYN from the address.
    pub fn add(
        &mut self,
        c: &ConnectionReport,
        two_msl: f64,
        bitmaps_left: &mut usize,
    ) -> Option<u32> {
        self.connections += 1;
        self.first = Some(self.first.map_or(c.start, |t| t.min(c.start)));
        self.last = Some(self.last.map_or(c.start, |t| t.max(c.start)));
        for f in &c.findings {
            if let Detail::PortReuse { gap, .. } = f.detail
                && gap < two_msl
            {
                self.reused_within_2msl += 1;
                self.reuse.get_or_insert_with(Box::default).add(c);
            }
        }
        if self.ports.is_none() && self.connections >= PORT_BITMAP_AFTER && *bitmaps_left > 0 {
            *bitmaps_left -= 1;
            self.ports = Some(Box::new([0; 1024]));
        }
        if let Some(p) = &mut self.ports {
            let port = c.client.port as usize;
            p[port / 64] |= 1 << (port % 64);
        }
        let mut paws = None;
        if let Some(tsval) = c.attempt.syn_tsval {
            // RFC 7323 §5: a server that keeps the last timestamp per peer
            // drops a SYN whose TSval is older; the client retries or gives up.
            let dropped = c.syn_count > 1 || c.handshake == Handshake::Unanswered;
            if dropped {
                paws = self
                    .answered_tsval
                    .iter()
                    .flatten()
                    .filter(|(_, when)| *when < c.start)
                    .map(|(prev, _)| prev.wrapping_sub(tsval) as i32)
                    .filter(|behind| *behind > 0)
                    .max()
                    .map(|behind| behind as u32);
            }
            // Only an answered SYN tells what the server accepted.
            if c.attempt.synacks > 0 {
                let [first, last] = &mut self.answered_tsval;
                if first.is_none_or(|(_, when)| c.start < when) {
                    *first = Some((tsval, c.start));
                }
                if last.is_none_or(|(_, when)| c.start > when) {
                    *last = Some((tsval, c.start));
                }
            }
        }
        paws
    }

    pub fn distinct_ports(&self) -> Option<u32> {
        self.ports
            .as_ref()
            .map(|p| p.iter().map(|w| w.count_ones()).sum())
    }

    pub fn ports_per_second(&self) -> Option<f64> {
        let (a, b) = (self.first?, self.last?);
        let span = b.secs_since(a);
        (span > 0.0).then(|| self.connections as f64 / span)
    }
}
