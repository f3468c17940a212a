//! The flow table: groups segments into connections by 4-tuple, decides where
//! one connection ends and the next begins, and keeps memory bounded by the
//! connections that are live, never by the size of the input.

mod endpoint;
mod tracker;

pub use endpoint::Endpoint;
pub use tracker::{Limits, PreviousUse, Settings, Tracker};

use crate::capture::Timestamp;
use crate::decode::{IpAddress, TcpSegment, TunnelKey};
use rustc_hash::FxHashMap;

/// A connection's 4-tuple, the same in both directions.
///
/// Packed into plain integers (IPv4 as IPv4-mapped IPv6) so that hashing and
/// comparing it costs a few machine words per segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    lo: u128,
    hi: u128,
    /// Port of `lo` in the high half, of `hi` in the low half.
    ports: u32,
    /// The virtual network ([`crate::decode::TunnelKey`]; 0 for none): the
    /// same inner addresses in two VNIs or GRE keys are two connections.
    tunnel: u64,
}

#[inline]
fn addr_bits(a: IpAddress) -> u128 {
    match a {
        IpAddress::V4(b) => 0xffff_0000_0000 | u32::from_be_bytes(b) as u128,
        IpAddress::V6(b) => u128::from_be_bytes(b),
    }
}

impl FlowKey {
    #[inline]
    pub fn of(seg: &TcpSegment<'_>) -> FlowKey {
        Self::from_endpoints((seg.src, seg.src_port), (seg.dst, seg.dst_port)).in_tunnel(seg.tunnel)
    }

    /// The same 4-tuple inside the virtual network `tunnel`.
    #[inline]
    pub fn in_tunnel(self, tunnel: TunnelKey) -> FlowKey {
        FlowKey {
            tunnel: tunnel.0,
            ..self
        }
    }

    #[inline]
    pub fn from_endpoints(a: (IpAddress, u16), b: (IpAddress, u16)) -> FlowKey {
        let a = (addr_bits(a.0), a.1);
        let b = (addr_bits(b.0), b.1);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            lo: lo.0,
            hi: hi.0,
            ports: ((lo.1 as u32) << 16) | hi.1 as u32,
            tunnel: 0,
        }
    }
}

/// Who is the client, from a connection's first segment.
///
/// The sender of a SYN without ACK is the client; the receiver of a SYN-ACK is.
/// Otherwise (the capture began mid-stream) the server is the endpoint on a
/// well-known port (< 1024) when only one is, else the lower port, else the
/// destination.
pub fn roles(seg: &TcpSegment<'_>) -> (Endpoint, Endpoint) {
    let src = Endpoint {
        addr: seg.src,
        port: seg.src_port,
    };
    let dst = Endpoint {
        addr: seg.dst,
        port: seg.dst_port,
    };
    let f = seg.flags;
    if f.syn() && !f.ack() {
        return (src, dst);
    }
    if f.syn() && f.ack() {
        return (dst, src);
    }
    let (sp, dp) = (seg.src_port, seg.dst_port);
    let src_is_server = match (sp < 1024, dp < 1024) {
        (true, false) => true,
        (false, true) => false,
        _ => sp < dp,
    };
    if src_is_server {
        (dst, src)
    } else {
        (src, dst)
    }
}

/// Does `seg` start a new connection instead of joining `conn`?
fn ends_before<C: Tracker>(config: &Limits, conn: &C, seg: &TcpSegment<'_>, ts: Timestamp) -> bool {
    let f = seg.flags;
    let pure_syn = f.syn() && !f.ack() && !f.rst() && !f.fin();
    if pure_syn && conn.closed_for_reuse() {
        return true;
    }
    let idle = ts.nanos_since(conn.last_ts());
    if conn.close_complete() && idle > config.close_timeout {
        return true;
    }
    let same_syn = pure_syn && conn.sent_by_client(seg) && conn.client_isn() == Some(seg.seq);
    if same_syn && conn.unanswered_attempt() {
        // A SYN retransmission joins its attempt however late it comes.
        return false;
    }
    if idle > config.idle_timeout {
        return true;
    }
    if conn.unanswered_attempt()
        && let Some(syn_ts) = conn.last_syn_ts()
        && ts.nanos_since(syn_ts) >= config.attempt_timeout
    {
        return true;
    }
    false
}

/// Live connections plus a short memory of recently closed 4-tuples (for
/// port-reuse and TIME-WAIT findings), both bounded. Generic over the
/// connection state it keeps (`S::Conn`), which a later stage defines.
pub struct FlowTable<S: Settings> {
    settings: S,
    config: Limits,
    /// Boxed so the table's buckets stay small and hot; one allocation per connection.
    live: FxHashMap<FlowKey, Box<S::Conn>>,
    recent: FxHashMap<FlowKey, PreviousUse>,
    next_id: u64,
    last_sweep: Option<Timestamp>,
    scratch: Vec<(Timestamp, u64, FlowKey)>,
    /// Connections ended early because the table was full.
    pub evicted: u64,
}

const SWEEP_EVERY: i64 = 1_000_000_000;

impl<S: Settings> FlowTable<S> {
    /// `first_id` numbers the first connection (ids are unique across files).
    pub fn new(settings: S, first_id: u64) -> FlowTable<S> {
        FlowTable {
            config: settings.limits(),
            settings,
            live: FxHashMap::default(),
            recent: FxHashMap::default(),
            next_id: first_id,
            last_sweep: None,
            scratch: Vec::new(),
            evicted: 0,
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Feeds one segment; connections that end are handed to `emit`.
    /// Returns the connection the segment opened, if it opened one.
    pub fn segment(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        emit: &mut dyn FnMut(Box<S::Conn>),
    ) -> Option<&mut S::Conn> {
        self.maybe_sweep(ts, emit);
        let key = FlowKey::of(seg);
        // One hash lookup on the common path: the segment joins its connection.
        let mut previous = None;
        if let Some(conn) = self.live.get_mut(&key) {
            if !ends_before(&self.config, conn.as_ref(), seg, ts) {
                conn.process(frame, ts, seg);
                return None;
            }
            if let Some(old) = self.live.remove(&key) {
                previous = Some(old.previous_use());
                emit(old);
            }
        } else {
            previous = self.recent.get(&key).copied();
            if self.live.len() >= self.config.max_connections {
                self.evict(emit);
            }
        }
        let (client, server) = roles(seg);
        let id = self.next_id;
        self.next_id += 1;
        let mut conn = Box::new(S::Conn::open(
            id,
            frame,
            ts,
            seg,
            client,
            server,
            previous,
            &self.settings,
        ));
        conn.process(frame, ts, seg);
        Some(self.live.entry(key).insert_entry(conn).into_mut())
    }

    /// The live connection on `key`.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut S::Conn> {
        self.live.get_mut(key).map(|c| c.as_mut())
    }

    fn remember(&mut self, key: FlowKey, conn: &S::Conn) {
        if conn.closed_for_reuse() || conn.client_isn().is_some() {
            self.recent.insert(key, conn.previous_use());
        }
    }

    /// Ends connections whose timeouts passed by `now`, even when no segment
    /// arrives (live capture on a quiet interface).
    pub fn expire(&mut self, now: Timestamp, emit: &mut dyn FnMut(Box<S::Conn>)) {
        self.maybe_sweep(now, emit);
    }

    fn maybe_sweep(&mut self, now: Timestamp, emit: &mut dyn FnMut(Box<S::Conn>)) {
        match self.last_sweep {
            None => {
                self.last_sweep = Some(now);
                return;
            }
            Some(t) if now.nanos_since(t) < SWEEP_EVERY => return,
            _ => {}
        }
        self.last_sweep = Some(now);
        let two_msl = self.config.two_msl;
        self.recent
            .retain(|_, p| now.nanos_since(p.ended) <= two_msl);
        let (close_to, idle_to) = (self.config.close_timeout, self.config.idle_timeout);
        self.scratch.clear();
        for (k, c) in &self.live {
            let idle = now.nanos_since(c.last_ts());
            if (c.close_complete() && idle > close_to) || idle > idle_to {
                self.scratch.push((c.last_ts(), c.id(), *k));
            }
        }
        self.scratch.sort_unstable_by_key(|&(_, id, _)| id);
        let expired = std::mem::take(&mut self.scratch);
        for &(_, _, k) in &expired {
            if let Some(c) = self.live.remove(&k) {
                self.remember(k, &c);
                emit(c);
            }
        }
        self.scratch = expired;
    }

    /// Ends the longest-idle sixteenth of the table.
    fn evict(&mut self, emit: &mut dyn FnMut(Box<S::Conn>)) {
        self.scratch.clear();
        self.scratch
            .extend(self.live.iter().map(|(k, c)| (c.last_ts(), c.id(), *k)));
        let n = (self.scratch.len() / 16).max(1);
        if n < self.scratch.len() {
            self.scratch
                .select_nth_unstable_by_key(n, |&(t, id, _)| (t, id));
        }
        self.scratch.truncate(n);
        self.scratch.sort_unstable_by_key(|&(_, id, _)| id);
        let victims = std::mem::take(&mut self.scratch);
        for &(_, _, k) in &victims {
            if let Some(mut c) = self.live.remove(&k) {
                c.mark_evicted();
                self.evicted += 1;
                emit(c);
            }
        }
        self.scratch = victims;
    }

    /// End of input: every live connection ends, in order of id.
    pub fn finish_all(&mut self, emit: &mut dyn FnMut(Box<S::Conn>)) {
        let mut all: Vec<Box<S::Conn>> = self.live.drain().map(|(_, c)| c).collect();
        all.sort_unstable_by_key(|c| c.id());
        for c in all {
            emit(c);
        }
        self.recent.clear();
    }
}
