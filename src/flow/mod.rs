//! The flow table: groups segments into connections by 4-tuple, decides where
//! one connection ends and the next begins, and keeps memory bounded by the
//! connections that are live, never by the size of the input.

mod endpoint;
mod tracker;

pub use endpoint::Endpoint;
pub use tracker::{Limits, PreviousUse, Settings, Tracker};

mod attempt;
mod clock;
mod expiry;
mod recent;

pub use clock::TimeJump;

use crate::capture::Timestamp;
use crate::decode::{IpAddress, TcpSegment, TunnelKey};
use attempt::Attempt;
use clock::Clock;
use expiry::Due;
use recent::RecentTuples;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{Hash, Hasher};

/// The hasher of every map keyed by what came off the wire: seeded at random
/// per table, so a sender who chooses addresses and ports cannot aim them at
/// one bucket (Crosby and Wallach, "Denial of Service via Algorithmic
/// Complexity Attacks", 2003). Nothing depends on the seed: output follows
/// connection ids, never the order of a map.
pub type FlowHasher = foldhash::fast::SeedableRandomState;
/// What [`FlowTable::segment_with`] lets the caller do to the connection a
/// segment went to.
pub type Touch<'a, C> = &'a mut dyn FnMut(&mut C);

/// A map keyed by flow, with the per-run random hasher.
pub type FlowMap<V> = HashMap<FlowKey, V, FlowHasher>;

/// A hasher seeded with `seed` (tests: results must not depend on it).
pub fn seeded_hasher(seed: u64) -> FlowHasher {
    FlowHasher::with_seed(seed, foldhash::SharedSeed::global_fixed())
}

/// A connection's 4-tuple, the same in both directions.
///
/// Packed into plain integers (IPv4 as IPv4-mapped IPv6) so that hashing and
/// comparing it costs a few machine words per segment.
/// Kept as 64-bit words (48 bytes with the tunnel key, 8-aligned) rather than `u128`s, whose
/// 16-byte alignment would pad every table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlowKey {
    /// The lower endpoint's address, then the higher one's.
    addrs: [u64; 4],
    /// Port of the lower endpoint in the high half, of the higher in the low half.
    ports: u32,
    /// The virtual network ([`crate::decode::TunnelKey`]; 0 for none): the
    /// same inner addresses in two VNIs or GRE keys are two connections.
    tunnel: u64,
}

impl Hash for FlowKey {
    #[inline]
    fn hash<H: Hasher>(&self, h: &mut H) {
        for w in self.addrs {
            h.write_u64(w);
        }
        h.write_u32(self.ports);
        h.write_u64(self.tunnel);
    }
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
            addrs: [
                (lo.0 >> 64) as u64,
                lo.0 as u64,
                (hi.0 >> 64) as u64,
                hi.0 as u64,
            ],
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

/// Does `seg` start a new connection instead of joining `slot`'s? `now` and the
/// slot's times are table time.
fn ends_before<C: Tracker>(
    config: &Limits,
    conn: &C,
    (seen, syn_seen): (i64, i64),
    seg: &TcpSegment<'_>,
    now: i64,
) -> bool {
    let f = seg.flags;
    let pure_syn = f.syn() && !f.ack() && !f.rst() && !f.fin();
    if pure_syn && conn.closed_for_reuse() {
        return true;
    }
    let idle = now.saturating_sub(seen);
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
        && conn.last_syn_ts().is_some()
        && now.saturating_sub(syn_seen) >= config.attempt_timeout
    {
        return true;
    }
    false
}

/// [`ends_before`] for a segment without SYN-only flags on an attempt that is
/// its SYN alone (unanswered; neither closed nor in need of a reuse check).
fn unanswered_attempt_ends(config: &Limits, (seen, syn_seen): (i64, i64), now: i64) -> bool {
    now.saturating_sub(seen) > config.idle_timeout
        || now.saturating_sub(syn_seen) >= config.attempt_timeout
}

/// A live connection with its times in table time (see `clock`).
struct Slot<C: Tracker> {
    held: Held<C>,
    /// Table time of the last segment.
    seen: i64,
    /// Table time of the last SYN without ACK.
    syn_seen: i64,
    /// When its latest entry in the table's queue of due times comes due.
    due_at: i64,
}

/// A live connection's state: boxed so the table's buckets stay small (one
/// allocation per connection), a bare SYN while that is all it is, and packed
/// while its close is complete.
enum Held<C: Tracker> {
    Attempt(Box<Attempt>),
    Full(Box<C>),
    Closed(Box<C::Packed>),
    /// Only for the moment of packing.
    Moving,
}

impl<C: Tracker> Slot<C> {
    fn id(&self) -> u64 {
        match &self.held {
            Held::Attempt(a) => a.id,
            Held::Full(c) => c.id(),
            Held::Closed(p) => C::packed_id(p),
            Held::Moving => unreachable!("a slot is never seen while it is being packed"),
        }
    }

    fn close_complete(&self) -> bool {
        match &self.held {
            Held::Attempt(_) => false,
            Held::Full(c) => c.close_complete(),
            Held::Closed(_) => true,
            Held::Moving => unreachable!("a slot is never seen while it is being packed"),
        }
    }

    /// The full connection, made from the attempt's SYN or unpacked if need be.
    fn full(&mut self, settings: &C::Settings) -> &mut C {
        match std::mem::replace(&mut self.held, Held::Moving) {
            Held::Attempt(a) => self.held = Held::Full(a.promote(settings)),
            Held::Closed(p) => self.held = Held::Full(C::unpack(p)),
            held => self.held = held,
        }
        match &mut self.held {
            Held::Full(c) => c,
            _ => unreachable!("made full above"),
        }
    }

    /// Packs a full connection (its close is complete).
    fn pack(&mut self, scratch: &mut Vec<u8>) {
        self.held = match std::mem::replace(&mut self.held, Held::Moving) {
            Held::Full(c) => Held::Closed(c.pack(scratch)),
            held => held,
        };
    }

    fn into_full(self, settings: &C::Settings) -> Box<C> {
        match self.held {
            Held::Attempt(a) => a.promote(settings),
            Held::Full(c) => c,
            Held::Closed(p) => C::unpack(p),
            Held::Moving => unreachable!("a slot is never seen while it is being packed"),
        }
    }
}

/// Live connections plus a short memory of recently closed 4-tuples (for
/// port-reuse and TIME-WAIT findings), both bounded. Generic over the
/// connection state it keeps (`S::Conn`), which a later stage defines.
///
/// Expiry runs in time order from a min-heap of due times, once per second
/// of table time, and costs the connections that come due, not the table.
pub struct FlowTable<S: Settings> {
    settings: S,
    config: Limits,
    live: FlowMap<Slot<S::Conn>>,
    due: BinaryHeap<Reverse<Due>>,
    /// Closed 4-tuples, forgotten after 2·MSL, or the oldest first when the
    /// memory is full.
    recent: RecentTuples,
    next_id: u64,
    /// Number each connection by the frame that opened it instead of by
    /// `next_id` (a sharded run renumbers them once the shards are merged).
    frame_ids: bool,
    clock: Clock,
    last_sweep: Option<i64>,
    scratch: Vec<(u64, FlowKey)>,
    /// Reused by every packing.
    scratch_bytes: Vec<u8>,
    /// Reused by every eviction: idle time, id and key of every live slot.
    evict_order: Vec<(i64, u64, FlowKey)>,
    /// Connections ended early because the table was full.
    pub evicted: u64,
    /// Closed 4-tuples forgotten before 2·MSL because their memory was full.
    pub forgotten: u64,
}

const SWEEP_EVERY: i64 = 1_000_000_000;
/// Capture time that moves further than this in one frame is a jump, unless
/// the idle timeout or 2·MSL is longer (then twice that).
const MIN_JUMP: i64 = 3600 * 1_000_000_000;

impl<S: Settings> FlowTable<S> {
    /// `first_id` numbers the first connection (ids are unique across files).
    pub fn new(settings: S, first_id: u64) -> FlowTable<S> {
        Self::with_hasher(settings, first_id, FlowHasher::random())
    }

    /// As [`new`](Self::new) with a chosen hasher (tests: results do not depend on it).
    pub fn with_hasher(settings: S, first_id: u64, hasher: FlowHasher) -> FlowTable<S> {
        let config = settings.limits();
        let jump = MIN_JUMP.max(config.idle_timeout.max(config.two_msl).saturating_mul(2));
        FlowTable {
            config,
            settings,
            live: FlowMap::with_hasher(hasher.clone()),
            due: BinaryHeap::new(),
            recent: RecentTuples::new(hasher),
            next_id: first_id,
            frame_ids: false,
            clock: Clock::new(jump),
            last_sweep: None,
            scratch: Vec::new(),
            scratch_bytes: Vec::new(),
            evict_order: Vec::new(),
            evicted: 0,
            forgotten: 0,
        }
    }

    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Numbers each connection by the frame that opened it (at most one opens
    /// per frame, so the order of ids is that of [`new`](Self::new)'s ids, and
    /// every ordering by id inside the table is unchanged). `next_id` still
    /// counts the connections opened. For a table that sees only some flows:
    /// the caller turns frame ids into run ids once all tables are merged.
    pub fn use_frame_ids(&mut self) {
        self.frame_ids = true;
    }

    /// A segment of a flow this table does not follow: only moves the clock
    /// and sweeps, so that this table ends its connections at the instants
    /// a table seeing every flow would.
    pub fn tick(&mut self, frame: u64, ts: Timestamp, emit: &mut dyn FnMut(Box<S::Conn>)) {
        let now = self.clock.frame(frame, ts);
        self.maybe_sweep(now, emit);
    }

    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Jumps in capture time so far, and the first of them.
    pub fn time_jumps(&self) -> (u64, Option<TimeJump>) {
        (self.clock.jumps, self.clock.first_jump)
    }

    /// Feeds one segment; connections that end are handed to `emit`.
    pub fn segment(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        emit: &mut dyn FnMut(Box<S::Conn>),
    ) {
        self.segment_with(frame, ts, seg, emit, None)
    }

    /// [`segment`](Self::segment); `touch` sees the connection the segment
    /// went to right after it, before the table packs it (the caller adds
    /// what only it knows, such as the tunnel path).
    pub fn segment_with(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        emit: &mut dyn FnMut(Box<S::Conn>),
        mut touch: Option<Touch<'_, S::Conn>>,
    ) {
        let now = self.clock.frame(frame, ts);
        self.maybe_sweep(now, emit);
        let key = FlowKey::of(seg);
        let f = seg.flags;
        let syn = f.syn() && !f.ack();
        // One hash lookup on the common path: the segment joins its connection.
        let mut previous = None;
        if let Some(slot) = self.live.get_mut(&key) {
            let times = (slot.seen, slot.syn_seen);
            if let Held::Attempt(a) = &mut slot.held
                && a.unanswered()
                && !unanswered_attempt_ends(&self.config, times, now)
                && a.answer(frame, ts, seg)
            {
                // Half-open: still only headers, until a third segment.
                slot.seen = now;
                return;
            }
            let conn = slot.full(&self.settings);
            if !ends_before(&self.config, &*conn, times, seg, now) {
                let was_closed = conn.close_complete();
                conn.process(frame, ts, seg);
                if let Some(t) = touch.as_mut() {
                    t(conn);
                }
                let closed = conn.close_complete();
                let rest = closed && conn.at_rest();
                let id = conn.id();
                slot.seen = now;
                if syn {
                    slot.syn_seen = now;
                }
                if rest {
                    // The close timeout's wait is where a busy server holds
                    // most of its connections: they wait packed (once the
                    // last ACK is in, so a packed connection rarely unpacks
                    // before it ends).
                    slot.pack(&mut self.scratch_bytes);
                }
                let at = now.saturating_add(self.config.close_timeout);
                if !was_closed && closed && slot.due_at > at {
                    // Once per connection: its close timeout starts now. An
                    // earlier entry (the usual case: a short connection's
                    // first check) finds the deadline itself when it comes due.
                    slot.due_at = at;
                    self.due.push(Reverse(Due { at, id, key }));
                }
                return;
            }
            if let Some(old) = self.live.remove(&key) {
                let old = old.into_full(&self.settings);
                previous = Some(old.previous_use());
                emit(old);
            }
        } else {
            previous = self
                .recent
                .get(&key)
                .filter(|&(_, ended_at)| now.saturating_sub(ended_at) <= self.config.two_msl)
                .map(|(p, _)| p);
            if self.live.len() >= self.config.max_connections {
                self.evict(emit);
            }
        }
        let (client, server) = roles(seg);
        let id = if self.frame_ids { frame } else { self.next_id };
        self.next_id += 1;
        let attempt = match previous {
            None => Attempt::of(id, frame, ts, seg, client, server),
            Some(_) => None,
        };
        let held = match attempt {
            Some(a) => Held::Attempt(Box::new(a)),
            None => {
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
                if let Some(t) = touch.as_mut() {
                    t(&mut conn);
                }
                Held::Full(conn)
            }
        };
        let at = now.saturating_add(self.first_check());
        self.due.push(Reverse(Due { at, id, key }));
        self.live.insert(
            key,
            Slot {
                held,
                due_at: at,
                seen: now,
                syn_seen: now,
            },
        );
    }

    /// The live connection on `key`, made full if it was held compact.
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut S::Conn> {
        let settings = &self.settings;
        self.live.get_mut(key).map(|slot| slot.full(settings))
    }

    /// How long after its first segment a connection is first looked at: the
    /// close timeout (most connections are closed by then and end at once),
    /// or the idle timeout if shorter. Later checks are pushed as they come due.
    fn first_check(&self) -> i64 {
        let c = &self.config;
        c.close_timeout.min(c.idle_timeout)
    }

    fn remember(&mut self, key: FlowKey, conn: &S::Conn, seen: i64) {
        if !(conn.closed_for_reuse() || conn.client_isn().is_some()) {
            return;
        }
        let limit = self.config.max_connections;
        self.forgotten += self.recent.insert(&key, conn.previous_use(), seen, limit);
    }

    /// Ends connections whose timeouts passed by `now`, even when no segment
    /// arrives (live capture on a quiet interface).
    ///
    /// `now` is a wall clock, trusted however far it is from the frames' times
    /// (a replayed capture); it does not move the time of the last sweep, so
    /// the frames' own sweeps go on.
    pub fn expire(&mut self, now: Timestamp, emit: &mut dyn FnMut(Box<S::Conn>)) {
        let t = self.clock.table_time(now);
        if self
            .last_sweep
            .is_some_and(|s| t.saturating_sub(s) >= SWEEP_EVERY)
        {
            self.sweep(t, emit);
        }
    }

    fn maybe_sweep(&mut self, now: i64, emit: &mut dyn FnMut(Box<S::Conn>)) {
        match self.last_sweep {
            None => {
                self.last_sweep = Some(now);
                return;
            }
            Some(t) if now.saturating_sub(t) < SWEEP_EVERY => return,
            _ => {}
        }
        self.last_sweep = Some(now);
        self.sweep(now, emit);
    }

    fn sweep(&mut self, now: i64, emit: &mut dyn FnMut(Box<S::Conn>)) {
        self.recent.expire(now, self.config.two_msl);
        let (close_to, idle_to) = (self.config.close_timeout, self.config.idle_timeout);
        self.scratch.clear();
        while let Some(Reverse(d)) = self.due.peek().copied() {
            if d.at >= now {
                break;
            }
            self.due.pop();
            let Some(slot) = self.live.get_mut(&d.key).filter(|s| s.id() == d.id) else {
                continue;
            };
            let closed = slot.close_complete();
            let idle = now.saturating_sub(slot.seen);
            if (closed && idle > close_to) || idle > idle_to {
                self.scratch.push((d.id, d.key));
            } else {
                let wait = if closed {
                    close_to.min(idle_to)
                } else {
                    idle_to
                };
                let at = slot.seen.saturating_add(wait);
                slot.due_at = at;
                self.due.push(Reverse(Due { at, ..d }));
            }
        }
        self.scratch.sort_unstable_by_key(|&(id, _)| id);
        self.scratch.dedup_by_key(|&mut (id, _)| id);
        let expired = std::mem::take(&mut self.scratch);
        for &(_, k) in &expired {
            if let Some(slot) = self.live.remove(&k) {
                let seen = slot.seen;
                let conn = slot.into_full(&self.settings);
                self.remember(k, &conn, seen);
                emit(conn);
            }
        }
        self.scratch = expired;
    }

    /// Ends the longest-idle sixteenth of the table.
    fn evict(&mut self, emit: &mut dyn FnMut(Box<S::Conn>)) {
        let mut order = std::mem::take(&mut self.evict_order);
        order.clear();
        order.extend(self.live.iter().map(|(k, s)| (s.seen, s.id(), *k)));
        let n = (order.len() / 16).max(1);
        if n < order.len() {
            order.select_nth_unstable_by_key(n, |&(t, id, _)| (t, id));
        }
        order.truncate(n);
        order.sort_unstable_by_key(|&(_, id, _)| id);
        for &(_, _, k) in &order {
            if let Some(slot) = self.live.remove(&k) {
                let mut conn = slot.into_full(&self.settings);
                conn.mark_evicted();
                self.evicted += 1;
                emit(conn);
            }
        }
        self.evict_order = order;
    }

    /// End of input: every live connection ends, in order of id.
    pub fn finish_all(&mut self, emit: &mut dyn FnMut(Box<S::Conn>)) {
        // Ids read once, not at every comparison (each read follows a box).
        let mut all: Vec<(u64, Slot<S::Conn>)> =
            self.live.drain().map(|(_, s)| (s.id(), s)).collect();
        all.sort_unstable_by_key(|&(id, _)| id);
        for (_, s) in all {
            emit(s.into_full(&self.settings));
        }
        self.recent.clear();
        self.due.clear();
    }
}
