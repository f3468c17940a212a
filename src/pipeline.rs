//! The pipeline driver: frames in → decode → flow table → judge → finished
//! connections out. Every command runs it: `analyze`, `check` and the ladder's
//! first pass over files ([`analyze_path`]), `live` over an interface.
//!
//! Per frame it decodes, tallies what the frame was and feeds TCP segments to
//! the flow table; nothing is allocated per frame on that path.

use crate::capture::{Frame, Timestamp};
use crate::decode::{
    self, DecodeError, Decoded, FragmentEvent, IcmpError, IcmpKind, Reassembled, Reassembler,
    TunnelPath,
};
use crate::filter::Filter;
use crate::findings::{Detail, Finding, Side};
use crate::flow::{Endpoint, FlowHasher, FlowKey, FlowTable};
use crate::judge::{Config, Connection};
use crate::model::FileReport;
use crate::model::connection::ConnectionReport;
use std::sync::Arc;

mod files;
mod sharded;

pub use files::{
    Connections, Progress, analyze_files, analyze_path, analyze_path_filtered, analyze_path_jobs,
};

pub use sharded::{Sharder, default_jobs};

/// One run of the pipeline over one source of frames (a file or an interface).
///
/// Connections leave through the `out` callback of [`frame`](Pipeline::frame),
/// [`expire`](Pipeline::expire) and [`finish`](Pipeline::finish) the moment
/// they end, so memory is bounded by the live connections.
pub struct Pipeline {
    table: FlowTable<Config>,
    /// Names the source in every connection report (`file`).
    source: Arc<str>,
    /// What the frames were: counts, decode errors, first and last timestamp.
    tally: FileReport,
    connections: u64,
    /// Puts IP fragments back together; holds memory only while fragments wait.
    reassembler: Reassembler,
    /// Connections it rejects are judged and counted, but not handed out.
    filter: Filter,
    /// Set when this pipeline follows one shard of the flows (`analyze -j N`).
    shard: Option<Box<ShardPart>>,
}

/// Where in the run a connection opened or ended, so that what several
/// shards do can be put back into the order one table does it in: by frame,
/// then sweep before the segment's own work, then (within a sweep, at the
/// end and among evictions) by id, which frame ids order as run ids do. A
/// connection opens after the segment's ends (`opened` is `u64::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct EndKey {
    pub(crate) frame: u64,
    pub(crate) phase: u8,
    /// The frame that opened the connection (its provisional id).
    pub(crate) opened: u64,
}

/// A sweep (the once-a-second expiry of table time).
const PHASE_SWEEP: u8 = 0;
/// The segment itself: the connection it ends, or those it evicts, then the
/// one it opens.
const PHASE_SEGMENT: u8 = 1;
/// The end of the input.
const PHASE_FINISH: u8 = 2;

/// What a shard did, in order: a connection ended (with its report), or
/// one opened (`report` is `None`, `key.frame` opened it).
pub(crate) struct ShardEvent {
    pub(crate) key: EndKey,
    pub(crate) report: Option<ConnectionReport>,
}

/// Events a shard hands on at once: enough to make the hand-over cheap, few
/// enough that a sweep ending thousands of connections is never held whole.
pub(crate) const SHARD_CHUNK: usize = 256;

/// A shard's share of a sharded run: which flows it follows, and what it
/// did since it last handed its events on.
pub(crate) struct ShardPart {
    sharder: Sharder,
    index: usize,
    events: Vec<ShardEvent>,
    /// Hands a full vector of events on and gives an empty one back.
    hand_on: Box<dyn FnMut(Vec<ShardEvent>) -> Vec<ShardEvent> + Send>,
}

impl ShardPart {
    #[inline]
    fn owns(&self, key: &FlowKey) -> bool {
        self.sharder.shard(key) == self.index
    }

    fn push(&mut self, event: ShardEvent) {
        self.events.push(event);
        if self.events.len() >= SHARD_CHUNK {
            self.flush();
        }
    }

    /// Hands on the events so far.
    pub(crate) fn flush(&mut self) {
        if !self.events.is_empty() {
            let full = std::mem::take(&mut self.events);
            self.events = (self.hand_on)(full);
        }
    }
}

impl Pipeline {
    /// Connection ids start at `first_id`; `source` names the file or interface.
    pub fn new(config: Config, first_id: u64, source: &str) -> Pipeline {
        Self::with_hasher(config, first_id, source, FlowHasher::random())
    }

    /// As [`new`](Self::new), with the flow table's hasher chosen (its seed
    /// must change nothing in the output: tests run the same capture with two).
    pub fn with_hasher(
        config: Config,
        first_id: u64,
        source: &str,
        hasher: FlowHasher,
    ) -> Pipeline {
        Pipeline {
            table: FlowTable::with_hasher(config, first_id, hasher),
            source: source.into(),
            tally: FileReport::new(source.to_string()),
            connections: 0,
            reassembler: Reassembler::default(),
            filter: Filter::default(),
            shard: None,
        }
    }

    /// A pipeline that follows only the flows `sharder` puts on shard
    /// `index`, while it decodes and tallies every frame and keeps its clock
    /// and sweeps on every segment. Connections are numbered by the frame
    /// that opened them, and what it does goes, unfiltered, to `hand_on` in
    /// order (see [`ShardEvent`]).
    pub(crate) fn shard(
        config: Config,
        source: &str,
        (sharder, index): (Sharder, usize),
        hand_on: Box<dyn FnMut(Vec<ShardEvent>) -> Vec<ShardEvent> + Send>,
    ) -> Pipeline {
        let mut p = Pipeline::new(config, 0, source);
        p.table.use_frame_ids();
        p.shard = Some(Box::new(ShardPart {
            sharder,
            index,
            events: Vec::with_capacity(SHARD_CHUNK),
            hand_on,
        }));
        p
    }

    /// The shard's part, in a sharded run.
    pub(crate) fn shard_part(&mut self) -> Option<&mut ShardPart> {
        self.shard.as_deref_mut()
    }

    /// Hands out only the connections `filter` keeps.
    pub fn with_filter(mut self, filter: Filter) -> Pipeline {
        self.filter = filter;
        self
    }

    /// Feeds one frame; connections that end because of it go to `out`.
    #[inline]
    pub fn frame(&mut self, frame: &Frame<'_>, out: &mut dyn FnMut(ConnectionReport)) {
        self.stamp(frame.ts);
        match decode::decode_frame(frame) {
            Ok(Decoded::Fragment) => self.fragment(frame, out),
            decoded => self.decoded(frame, decoded, None, out),
        }
    }

    /// The capture's first and last frame times.
    #[inline]
    fn stamp(&mut self, ts: Timestamp) {
        if self.tally.start.is_none() {
            self.tally.start = Some(ts);
        }
        self.tally.end = Some(ts);
    }

    /// Tallies one decoded frame (or reassembled datagram) and feeds what it
    /// carried on. `tunnels`: the path around a reassembled datagram, which
    /// the frame alone does not show.
    fn decoded(
        &mut self,
        frame: &Frame<'_>,
        decoded: Result<Decoded<'_>, DecodeError>,
        tunnels: Option<&TunnelPath>,
        out: &mut dyn FnMut(ConnectionReport),
    ) {
        let tally = &mut self.tally;
        match decoded {
            Ok(Decoded::Tcp(seg)) => {
                tally.tcp_segments += 1;
                if self.shard.is_some() {
                    self.shard_segment(frame, &seg, tunnels);
                    return;
                }
                let start = tally.start;
                let mut emit = emitter(
                    &self.source,
                    &mut self.connections,
                    (&self.filter, start),
                    out,
                );
                let mut tunnelled = |c: &mut Connection| keep_tunnels(c, frame, tunnels);
                let touch = (seg.tunnel_depth > 0).then_some(&mut tunnelled as _);
                self.table
                    .segment_with(frame.number, frame.ts, &seg, &mut emit, touch);
            }
            Ok(Decoded::IcmpError(e)) => {
                tally.non_tcp += 1;
                tally.icmp_errors += 1;
                self.icmp_error(frame.number, &e);
            }
            Ok(Decoded::OtherIp) | Ok(Decoded::NotIp) => tally.non_tcp += 1,
            // A fragment inside a reassembled datagram's tunnel: not followed further.
            Ok(Decoded::Fragment) => tally.non_tcp += 1,
            Ok(Decoded::UnsupportedLink(lt)) => {
                *tally.unsupported_link_types.entry(lt).or_default() += 1;
            }
            Err(e) => {
                let e: DecodeError = e;
                tally.decode_error(frame.number, e.reason(), || e.to_string());
            }
        }
    }

    /// A TCP segment (decoded by the reader) of a flow another shard
    /// follows: counted and moving the clock, as [`frame`](Self::frame)
    /// would, without decoding it again.
    pub(crate) fn foreign_segment(&mut self, frame: &Frame<'_>) {
        self.stamp(frame.ts);
        self.tally.tcp_segments += 1;
        let Some(part) = self.shard.as_deref_mut() else {
            return;
        };
        let at = (frame.number, PHASE_SWEEP);
        let mut sweep = collector(&self.source, &mut self.connections, part, at);
        self.table.tick(frame.number, frame.ts, &mut sweep);
    }

    /// A segment in a sharded run: every shard's clock and sweeps see it,
    /// only the shard that owns its flow follows it.
    fn shard_segment(
        &mut self,
        frame: &Frame<'_>,
        seg: &decode::TcpSegment<'_>,
        tunnels: Option<&TunnelPath>,
    ) {
        let Some(part) = self.shard.as_deref_mut() else {
            return;
        };
        let (source, n) = (&self.source, &mut self.connections);
        let at = |phase| (frame.number, phase);
        {
            let mut sweep = collector(source, &mut *n, &mut *part, at(PHASE_SWEEP));
            self.table.tick(frame.number, frame.ts, &mut sweep);
        }
        // A frame decoded to this segment reached this shard because the
        // reader found it owns the flow; only a datagram reassembled here
        // (every shard reassembles) may belong to another.
        if tunnels.is_some() && !part.owns(&FlowKey::of(seg)) {
            return;
        }
        let opened = self.table.next_id();
        {
            let mut end = collector(source, n, &mut *part, at(PHASE_SEGMENT));
            let mut tunnelled = |c: &mut Connection| keep_tunnels(c, frame, tunnels);
            let touch = (seg.tunnel_depth > 0).then_some(&mut tunnelled as _);
            self.table
                .segment_with(frame.number, frame.ts, seg, &mut end, touch);
        }
        if self.table.next_id() != opened {
            part.push(ShardEvent {
                key: EndKey {
                    frame: frame.number,
                    phase: PHASE_SEGMENT,
                    opened: u64::MAX,
                },
                report: None,
            });
        }
    }

    /// An IP fragment: held until its datagram is whole; the frame that
    /// completes it carries the datagram's segment (as Wireshark shows it).
    #[cold]
    fn fragment(&mut self, frame: &Frame<'_>, out: &mut dyn FnMut(ConnectionReport)) {
        self.tally.ip_fragments += 1;
        let mut tunnels = TunnelPath::EMPTY;
        // The reassembler lends the datagram; a copy of the segment's frame
        // view is not needed because `decoded` is done with it before the
        // next push.
        let mut reassembler = std::mem::take(&mut self.reassembler);
        match reassembler.push_tunnelled(frame, &mut tunnels) {
            Ok(Reassembled::Complete(d)) => {
                if !matches!(d, Decoded::Fragment) {
                    self.tally.reassembled_datagrams += 1;
                }
                let segment = match &d {
                    Decoded::Tcp(seg) => Some((FlowKey::of(seg), seg.src, seg.src_port)),
                    _ => None,
                };
                self.decoded(frame, Ok(d), Some(&tunnels), out);
                if let Some(conflict) = reassembler.completed_conflict()
                    && let Some((key, addr, port)) = segment
                {
                    self.fragment_conflict(&key, Endpoint { addr, port }, conflict);
                }
            }
            Ok(Reassembled::Held) | Ok(Reassembled::Dropped) => self.tally.non_tcp += 1,
            Err(e) => self.decoded(frame, Err(e), None, out),
        }
        self.reassembler = reassembler;
        self.fragment_events();
    }

    /// Fragment events become file-level findings: a fragment carries no
    /// ports, so it names no connection until its datagram is whole.
    fn fragment_events(&mut self) {
        for e in self.reassembler.drain_events() {
            match e {
                FragmentEvent::OverlapConflict { .. } => self.tally.fragment_overlaps += 1,
                FragmentEvent::Incomplete { .. } => self.tally.fragments_incomplete += 1,
                FragmentEvent::LimitReached { .. } => {}
            }
        }
    }

    /// An overlap conflict in a datagram whose segment belongs to a known
    /// connection is that connection's finding too, from the segment's
    /// sender (RFC 5722: no sender overlaps fragments with different bytes).
    /// It stays counted per file with the others.
    fn fragment_conflict(&mut self, key: &FlowKey, sender: Endpoint, e: FragmentEvent) {
        let FragmentEvent::OverlapConflict {
            first_frame,
            frame,
            offset,
            discarded,
            ..
        } = e
        else {
            return;
        };
        let Some(conn) = self.table.get_mut(key) else {
            return;
        };
        let from = if sender == conn.client {
            Side::Client
        } else {
            Side::Server
        };
        conn.add_finding(Finding::new(
            frame,
            from,
            Detail::FragmentOverlap {
                first_frame,
                offset,
                discarded,
            },
        ));
    }

    /// Attaches an ICMP error to the connection whose segment it quotes:
    /// the quoted segment went from one endpoint of the connection to the
    /// other, inside the same virtual network as the ICMP message.
    fn icmp_error(&mut self, frame: u64, e: &IcmpError) {
        let key =
            FlowKey::from_endpoints((e.src, e.src_port), (e.dst, e.dst_port)).in_tunnel(e.tunnel);
        if self.shard.as_ref().is_some_and(|part| !part.owns(&key)) {
            // Matched or not, the shard that owns the quoted flow says so.
            return;
        }
        // The kinds a connection hears of, and the wording of the unreachable ones.
        let unreachable = match e.kind {
            IcmpKind::FragmentationNeeded | IcmpKind::PacketTooBig | IcmpKind::TimeExceeded => "",
            IcmpKind::PortUnreachable => "port unreachable",
            IcmpKind::AdminProhibited => "communication administratively prohibited",
            IcmpKind::Unreachable if e.code == 0 => "network unreachable",
            IcmpKind::Unreachable => "host unreachable",
            _ => {
                self.tally.icmp_errors_unmatched += 1;
                return;
            }
        };
        let Some(conn) = self.table.get_mut(&key) else {
            self.tally.icmp_errors_unmatched += 1;
            return;
        };
        let sender = Endpoint {
            addr: e.src,
            port: e.src_port,
        };
        let from = if sender == conn.client {
            Side::Client
        } else {
            Side::Server
        };
        let seq = conn.relative_seq(from, e.seq);
        let reporter = e.reporter;
        let detail = match e.kind {
            IcmpKind::FragmentationNeeded | IcmpKind::PacketTooBig => Detail::IcmpFragNeeded {
                reporter,
                mtu: e.mtu,
                seq,
            },
            IcmpKind::TimeExceeded => Detail::IcmpTtlExceeded { reporter, seq },
            _ => Detail::IcmpUnreachable {
                reporter,
                what: unreachable,
                seq,
            },
        };
        conn.add_finding(Finding::new(frame, from, detail));
    }

    /// Ends the connections whose timeouts passed by `now`, though no frame
    /// arrived: a live capture on a quiet interface.
    pub fn expire(&mut self, now: Timestamp, out: &mut dyn FnMut(ConnectionReport)) {
        let start = self.tally.start;
        let mut emit = emitter(
            &self.source,
            &mut self.connections,
            (&self.filter, start),
            out,
        );
        self.table.expire(now, &mut emit);
    }

    /// End of input: every connection still open ends, in order of id.
    pub fn finish(&mut self, out: &mut dyn FnMut(ConnectionReport)) {
        self.reassembler.finish();
        self.fragment_events();
        if let Some(part) = self.shard.as_deref_mut() {
            let at = (u64::MAX, PHASE_FINISH);
            let mut end = collector(&self.source, &mut self.connections, part, at);
            self.table.finish_all(&mut end);
            return;
        }
        let start = self.tally.start;
        let mut emit = emitter(
            &self.source,
            &mut self.connections,
            (&self.filter, start),
            out,
        );
        self.table.finish_all(&mut emit);
    }

    /// What the frames were, with the connection counts; the fields only the
    /// capture reader knows (format, frames, truncation) are left to the caller.
    pub fn into_report(self) -> FileReport {
        let mut r = self.tally;
        r.connections = self.connections;
        r.evicted_connections = self.table.evicted;
        r.forgotten_closed_tuples = self.table.forgotten;
        (r.capture_time_jumps, r.capture_time_jump) = self.table.time_jumps();
        r
    }

    /// What the frames so far were: counts and decode errors.
    pub fn tally(&self) -> &FileReport {
        &self.tally
    }

    /// Connections handed out so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Connections ended early so far because the flow table was full.
    pub fn evicted(&self) -> u64 {
        self.table.evicted
    }

    /// Connections open now.
    pub fn live(&self) -> usize {
        self.table.live()
    }

    /// The id the next connection will get.
    pub fn next_id(&self) -> u64 {
        self.table.next_id()
    }
}

/// Gives a tunnelled connection its tunnel path, from its first tunnelled
/// segment: rebuilt only then, once per connection. `tunnels`: the path
/// around a reassembled datagram, which the frame alone does not show.
fn keep_tunnels(conn: &mut Connection, frame: &Frame<'_>, tunnels: Option<&TunnelPath>) {
    if !conn.has_tunnels() {
        match tunnels {
            Some(path) => conn.set_tunnels(path),
            None => conn.set_tunnels(&decode::tunnel_path(frame)),
        }
    }
}

/// When a file split over threads filled a thread's share of the flow table,
/// its output may differ from one thread's: says so.
pub fn shard_warning(report: &FileReport, jobs: usize) -> Option<String> {
    let full = report.evicted_connections > 0 || report.forgotten_closed_tuples > 0;
    (jobs > 1 && full && report.path != "-").then(|| {
        format!(
            "{}: the flow table was split over {jobs} threads (--max-connections / {jobs} each) and overflowed; which connections were ended early can differ from -j 1",
            report.path
        )
    })
}

/// Judges each connection the flow table ends and counts it.
fn emitter<'a>(
    source: &'a Arc<str>,
    connections: &'a mut u64,
    (filter, start): (&'a Filter, Option<Timestamp>),
    out: &'a mut dyn FnMut(ConnectionReport),
) -> impl FnMut(Box<Connection>) + 'a {
    move |c| {
        *connections += 1;
        let report = c.finish(source);
        if filter.is_empty() || filter.matches(&report, start) {
            out(report)
        }
    }
}

/// Judges each connection a shard's table ends, counts it and hands it on
/// with the key that orders it among the other shards' (`at`: frame and phase).
fn collector<'a>(
    source: &'a Arc<str>,
    connections: &'a mut u64,
    part: &'a mut ShardPart,
    (frame, phase): (u64, u8),
) -> impl FnMut(Box<Connection>) + 'a {
    move |c| {
        *connections += 1;
        let report = c.finish(source);
        let key = EndKey {
            frame,
            phase,
            opened: report.id,
        };
        part.push(ShardEvent {
            key,
            report: Some(report),
        });
    }
}
