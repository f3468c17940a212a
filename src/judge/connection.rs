use super::completeness;
use super::state::State;
use super::transfer::Transfer;
use super::zeek::ZeekConn;
use crate::capture::Timestamp;
use crate::decode::{TcpFlags, TcpSegment, TunnelPath};
use crate::findings::{Detail as D, Finding, FindingKind, Side, Value, WS_ITEMS};
use crate::flow::{Endpoint, PreviousUse, Tracker};
use crate::model::connection::KindCounts;
use crate::seq::SeqNumber;

pub use crate::model::connection::MAX_FINDINGS;
/// Kinds reported once per side, times two sides.
pub(super) const ONCE_SLOTS: usize = 2;

/// What one endpoint has shown of itself.
#[derive(Debug, Clone)]
pub(super) struct Peer {
    pub(super) isn: Option<SeqNumber>,
    /// An ISN this side used before it changed it (SYN or SYN-ACK sent again with another).
    pub(super) old_isn: Option<SeqNumber>,
    /// Base for relative numbers (ISN, or first seq − 1, or the peer's ack − 1).
    pub(super) base: Option<SeqNumber>,
    pub(super) last_syn_ts: Option<Timestamp>,
    pub(super) syn_data_len: u32,
    /// The SYN offered TCP Fast Open (cookie or data).
    pub(super) tfo: bool,
    pub(super) wscale: Option<u8>,
    pub(super) sent_syn_segment: bool,
    pub(super) next_seq: Option<SeqNumber>,
    /// End of the highest data sent in segments without SYN (SYNs with
    /// foreign ISNs on the same ports must not move it): where a FIN belongs.
    pub(super) data_end: Option<SeqNumber>,
    pub(super) max_ack: Option<SeqNumber>,
    /// Receive window as last advertised, scaled when the scale is known.
    pub(super) window: u32,
    pub(super) window_known: bool,
    pub(super) fin_seq: Option<SeqNumber>,
    pub(super) fin_frame: u64,
    pub(super) fin_ts: Option<Timestamp>,
    /// The FIN was sent more than once.
    pub(super) fin_resent: bool,
    /// The first FIN lay inside data already sent (`fin_inside_data`).
    pub(super) fin_inside_data: bool,
    /// The ack field carried by this side's first FIN.
    pub(super) fin_ack: Option<SeqNumber>,
    pub(super) fin_acked_frame: Option<u64>,
    /// This side acknowledged the peer's FIN before sending its own.
    pub(super) acked_peer_fin: bool,
    /// Frame of a pure ACK that acknowledged the peer's FIN sequence number itself (not +1).
    pub(super) acked_fin_seq_frame: Option<u64>,
    pub(super) rst_frame: Option<u64>,
    pub(super) state: State,
    /// RFC 9293 §3.10.7: once synchronized, every segment but RST carries ACK.
    pub(super) synchronized: bool,
    pub(super) packets: u64,
    pub(super) payload_bytes: u64,
    pub(super) reported_ack_nonzero: bool,
    pub(super) last_ts: Option<Timestamp>,
}

impl Peer {
    pub(super) fn new() -> Peer {
        Peer {
            isn: None,
            old_isn: None,
            base: None,
            last_syn_ts: None,
            syn_data_len: 0,
            tfo: false,
            wscale: None,
            sent_syn_segment: false,
            next_seq: None,
            data_end: None,
            max_ack: None,
            window: 0,
            window_known: false,
            fin_seq: None,
            fin_frame: 0,
            fin_ts: None,
            fin_resent: false,
            fin_inside_data: false,
            fin_ack: None,
            fin_acked_frame: None,
            acked_peer_fin: false,
            acked_fin_seq_frame: None,
            rst_frame: None,
            state: State::Closed,
            synchronized: false,
            packets: 0,
            payload_bytes: 0,
            reported_ack_nonzero: false,
            last_ts: None,
        }
    }
}

/// A connection being followed.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_frame: u64,
    pub last_frame: u64,
    pub start: Timestamp,
    pub last_ts: Timestamp,
    pub(super) c: Peer,
    pub(super) s: Peer,
    pub(super) simultaneous_open: bool,
    pub(super) synack_frame: Option<u64>,
    pub(super) synack_ts: Option<Timestamp>,
    pub(super) synack_ok: bool,
    /// A SYN-ACK seen before any SYN: its ack is checked when the SYN shows up.
    pub(super) pending_synack_ack: Option<(u64, SeqNumber)>,
    pub(super) third_ack_checked: bool,
    /// The first third ACK: its frame, its ack, and how many server segments
    /// preceded it (to recognise the server's very next segment).
    pub(super) third_ack: Option<(u64, SeqNumber, u64)>,
    pub(super) final_ack: Option<u64>,
    pub(super) rtt_syn_synack: Option<f64>,
    pub(super) rtt_synack_ack: Option<f64>,
    pub(super) simultaneous_close: bool,
    pub(super) first_fin_by: Option<Side>,
    pub(super) reset_by: Option<Side>,
    /// Both FINs had been acknowledged when the RST came.
    pub(super) reset_after_close: bool,
    pub(super) client_sent_after_synack: bool,
    pub(super) pending_early_server_data: Option<Finding>,
    pub(super) zeek: ZeekConn,
    pub(super) completeness: u8,
    pub(super) transfer: Transfer,
    /// Wireshark's per-frame items, counted as tshark counts them.
    pub(super) ws_counts: [u32; WS_ITEMS.len()],
    pub(super) findings: Vec<Finding>,
    /// Listed findings per severity (error, warning, info).
    pub(super) listed: [u16; 3],
    /// Findings past the cap, by kind; boxed and made only when the cap first
    /// bites, so an ordinary connection stays small.
    pub(super) suppressed: Option<Box<KindCounts>>,
    /// Where the entry of each kind reported once per side is (index into `findings`).
    pub(super) once: [Option<(FindingKind, Side, u16)>; ONCE_SLOTS],
    pub evicted: bool,
    /// The tunnels the connection was carried in, from its first segment;
    /// boxed and made only for a tunnelled connection.
    pub(super) tunnels: Option<Box<TunnelPath>>,
    /// The opening attempt, for the server view.
    pub(super) attempt: super::attempt::AttemptTrack,
}

/// Invalid flag combinations (RFC 9293 §3.1; the "xmas" and "null" probes).
fn invalid_combination(f: TcpFlags) -> Option<&'static str> {
    const NINE: u16 = 0x1ff;
    if f.0 & NINE == 0 {
        Some("no flags at all")
    } else if f.syn() && f.fin() {
        Some("SYN and FIN together")
    } else if f.syn() && f.rst() {
        Some("SYN and RST together")
    } else if f.fin() && f.rst() {
        Some("FIN and RST together")
    } else if f.fin() && f.psh() && f.urg() && !f.ack() {
        Some("FIN, PSH and URG without ACK")
    } else {
        None
    }
}

impl Connection {
    /// Starts following a connection at its first segment. `client_sent` tells
    /// whether that segment came from the endpoint judged to be the client.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u64,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        client: Endpoint,
        server: Endpoint,
        previous: Option<PreviousUse>,
        config: &super::Config,
    ) -> Connection {
        let from_client = seg.src == client.addr && seg.src_port == client.port;
        let mut conn = Connection {
            id,
            client,
            server,
            first_frame: frame,
            last_frame: frame,
            start: ts,
            last_ts: ts,
            c: Peer::new(),
            s: Peer::new(),
            simultaneous_open: false,
            synack_frame: None,
            synack_ts: None,
            synack_ok: false,
            pending_synack_ack: None,
            third_ack_checked: false,
            third_ack: None,
            final_ack: None,
            rtt_syn_synack: None,
            rtt_synack_ack: None,
            simultaneous_close: false,
            first_fin_by: None,
            reset_by: None,
            reset_after_close: false,
            client_sent_after_synack: false,
            pending_early_server_data: None,
            zeek: ZeekConn::new(seg, from_client, &config.likely_server_ports),
            completeness: completeness::first_frame(seg),
            transfer: Transfer::default(),
            ws_counts: [0; WS_ITEMS.len()],
            findings: Vec::new(),
            listed: [0; 3],
            suppressed: None,
            once: [None; ONCE_SLOTS],
            evicted: false,
            tunnels: None,
            attempt: Default::default(),
        };
        let f = seg.flags;
        if !(f.syn() || f.fin() || f.rst()) || (f.ack() && !f.syn()) {
            // Picked up mid-stream: both ends are already synchronized.
            conn.c.state = State::Established;
            conn.s.state = State::Established;
            conn.c.synchronized = true;
            conn.s.synchronized = true;
        }
        if let Some(prev) = previous {
            conn.note_reuse(frame, ts, seg, prev, config);
        }
        conn
    }

    /// Keeps a finding: the first [`MAX_FINDINGS`] of each severity are listed,
    /// so errors are never crowded out by warnings; the rest are counted by
    /// kind. A kind reported once per side adds to its first entry instead.
    pub(super) fn push(&mut self, f: Finding) {
        if f.kind.reported_once()
            && let Some(&(_, _, i)) = self
                .once
                .iter()
                .flatten()
                .find(|&&(k, side, _)| k == f.kind && side == f.from)
        {
            let first = &mut self.findings[i as usize];
            first.count += 1;
            first.last_frame = f.frame;
            return;
        }
        let listed = &mut self.listed[f.severity as usize];
        if (*listed as usize) < MAX_FINDINGS {
            *listed += 1;
            if f.kind.reported_once()
                && let Some(slot) = self.once.iter_mut().find(|s| s.is_none())
            {
                *slot = Some((f.kind, f.from, self.findings.len() as u16));
            }
            self.findings.push(f);
        } else {
            self.suppressed
                .get_or_insert_with(Box::default)
                .add(f.kind, 1);
        }
    }

    pub(super) fn peer(&self, side: Side) -> &Peer {
        match side {
            Side::Client => &self.c,
            Side::Server => &self.s,
        }
    }

    pub(super) fn peer_mut(&mut self, side: Side) -> &mut Peer {
        match side {
            Side::Client => &mut self.c,
            Side::Server => &mut self.s,
        }
    }

    /// Which side sent `seg`.
    pub fn side_of(&self, seg: &TcpSegment<'_>) -> Side {
        if seg.src == self.client.addr && seg.src_port == self.client.port {
            Side::Client
        } else {
            Side::Server
        }
    }

    pub fn handshake_done(&self) -> bool {
        self.final_ack.is_some()
            || (self.c.state.is_synchronized() && self.s.state.is_synchronized())
    }

    /// Either side has sent a FIN or an accepted RST: a new SYN starts a new connection.
    pub fn closed_for_reuse(&self) -> bool {
        self.c.fin_seq.is_some() || self.s.fin_seq.is_some() || self.reset_by.is_some()
    }

    /// The close is complete: a RST, both FINs, or a FIN from one side while the other never spoke.
    pub fn close_complete(&self) -> bool {
        self.reset_by.is_some()
            || (self.c.fin_seq.is_some() && self.s.fin_seq.is_some())
            || (self.c.fin_seq.is_some() && self.s.packets == 0)
            || (self.s.fin_seq.is_some() && self.c.packets == 0)
    }

    /// The client sent a SYN and the server has sent nothing at all.
    pub fn unanswered_attempt(&self) -> bool {
        self.c.isn.is_some() && self.s.packets == 0
    }

    pub fn client_isn(&self) -> Option<SeqNumber> {
        self.c.isn
    }

    pub fn last_syn_ts(&self) -> Option<Timestamp> {
        self.c.last_syn_ts
    }

    pub fn previous_use(&self) -> PreviousUse {
        PreviousUse {
            ended: self.last_ts,
            fin_closed: self.c.fin_seq.is_some() && self.s.fin_seq.is_some(),
            client_isn: self.c.isn,
            last_frame: self.last_frame,
        }
    }

    /// Judges one segment (RFC 9293 §3.10.7, "SEGMENT ARRIVES", seen from the wire).
    pub fn process(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>) {
        let from = self.side_of(seg);
        let first = frame == self.first_frame;
        self.last_frame = frame;
        self.last_ts = ts;
        self.zeek.packet(seg, from == Side::Client);
        if !first {
            self.completeness |= completeness::later_frame(seg);
        }
        let f = seg.flags;
        {
            let me = self.peer_mut(from);
            me.packets += 1;
            me.last_ts = Some(ts);
            if !f.rst() {
                me.payload_bytes += seg.payload_len as u64;
            }
            if me.base.is_none() {
                me.base = Some(if f.syn() { seg.seq } else { seg.seq - 1 });
            }
        }
        if f.ack() && self.peer(from.other()).base.is_none() {
            self.peer_mut(from.other()).base = Some(seg.ack - 1);
        }
        self.count_wireshark_items(seg, from);

        if !f.ack() && !f.syn() && !f.rst() && self.outside_any_connection() {
            // FIN, PSH, no flags, FIN+PSH+URG (Xmas): stealth port-scan probes
            // (RFC 9293 §3.10.7.1 makes a closed port answer them with RST).
            // Alike whatever their flags, and no connection's state is moved.
            self.push(Finding::new(frame, from, D::ScanProbe { flags: f }));
            return;
        }
        if let Some(what) = invalid_combination(f) {
            self.push(
                Finding::new(frame, from, D::InvalidFlags { what, flags: f })
                    .values(Value::Text("a valid flag combination"), Value::Flags(f)),
            );
            // Such a segment says nothing trustworthy about the connection's state.
            return;
        }
        if !f.ack() && seg.ack.0 != 0 && !self.peer(from).reported_ack_nonzero {
            self.peer_mut(from).reported_ack_nonzero = true;
            self.push(Finding::new(
                frame,
                from,
                D::AckNonzeroWithoutAckFlag {
                    flags: f,
                    ack_raw: seg.ack.0,
                },
            ));
        }
        if !f.ack() && !f.rst() && !f.syn() && self.peer(from).synchronized {
            self.push(
                Finding::new(frame, from, D::MissingAckFlag { flags: f })
                    .values(Value::Text("ACK"), Value::Flags(f)),
            );
        }

        if f.syn() {
            let accepted = if f.ack() {
                self.on_synack(frame, ts, seg, from)
            } else {
                self.on_syn(frame, ts, seg, from)
            };
            if !accepted {
                // A SYN that does not belong to this connection's sequence space
                // must not move its numbers.
                return;
            }
        }
        let outcome = self
            .transfer
            .segment((from == Side::Server) as usize, frame, ts, seg);
        if !outcome.flags.is_empty() {
            self.transfer_findings(frame, ts, seg, from, &outcome);
        }
        if from == Side::Server && !f.syn() && !f.rst() {
            self.note_server_segment(f);
        }
        if f.rst() && from == Side::Server {
            self.rst_answers_third_ack(seg);
        }
        if f.rst() {
            self.on_rst(frame, ts, seg, from);
            return;
        }
        if from == Side::Client && self.synack_frame.is_some() && !f.syn() {
            self.client_sent_after_synack = true;
        }
        if seg.payload_len > 0 {
            self.check_data(frame, seg, from);
        }
        if f.ack() {
            self.on_ack(frame, ts, seg, from);
        }
        if f.fin() {
            self.on_fin(frame, ts, seg, from);
        }
        let end = seg.seq_end();
        let scaling_agreed = self.c.wscale.is_some() && self.s.wscale.is_some();
        let handshake_seen = self.c.sent_syn_segment && self.s.sent_syn_segment;
        let me = self.peer_mut(from);
        me.next_seq = Some(match me.next_seq {
            Some(n) => n.max_wrapping(end),
            None => end,
        });
        if seg.payload_len > 0 && !f.syn() {
            let data_end = seg.seq + seg.payload_len;
            me.data_end = Some(me.data_end.map_or(data_end, |n| n.max_wrapping(data_end)));
        }
        me.window = if f.syn() {
            seg.window as u32
        } else if scaling_agreed {
            (seg.window as u32) << me.wscale.unwrap_or(0).min(14)
        } else if handshake_seen {
            seg.window as u32
        } else {
            // The scale was negotiated out of sight: assume the largest (RFC 7323 §2.3).
            (seg.window as u32) << 14
        };
        me.window_known = true;
    }

    /// The ACK field (RFC 9293 §3.10.7.4, fifth step): the handshake's last
    /// step, the acknowledgment of a FIN, and the highest ack so far.
    pub(super) fn on_ack(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>, from: Side) {
        self.ack_in_handshake(frame, ts, seg, from);
        self.ack_of_fin(frame, seg, from);
        let me = self.peer_mut(from);
        me.max_ack = Some(match me.max_ack {
            Some(a) => a.max_wrapping(seg.ack),
            None => seg.ack,
        });
        if !me.synchronized && me.state.is_synchronized() {
            me.synchronized = true;
        }
    }
}

impl Tracker for Connection {
    type Settings = super::Config;

    fn open(
        id: u64,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        client: Endpoint,
        server: Endpoint,
        previous: Option<PreviousUse>,
        config: &super::Config,
    ) -> Connection {
        Connection::new(id, frame, ts, seg, client, server, previous, config)
    }
    fn process(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>) {
        Connection::process(self, frame, ts, seg)
    }
    fn id(&self) -> u64 {
        self.id
    }
    fn last_ts(&self) -> Timestamp {
        self.last_ts
    }
    fn sent_by_client(&self, seg: &TcpSegment<'_>) -> bool {
        self.side_of(seg) == Side::Client
    }
    fn closed_for_reuse(&self) -> bool {
        Connection::closed_for_reuse(self)
    }
    fn close_complete(&self) -> bool {
        Connection::close_complete(self)
    }
    fn at_rest(&self) -> bool {
        self.reset_by.is_some()
            || (self.c.fin_acked_frame.is_some() && self.s.fin_acked_frame.is_some())
    }
    type Packed = super::PackedConnection;
    fn pack(self: Box<Self>, scratch: &mut Vec<u8>) -> Box<Self::Packed> {
        Box::new(super::PackedConnection::pack(*self, scratch))
    }
    fn unpack(packed: Box<Self::Packed>) -> Box<Self> {
        Box::new(packed.unpack())
    }
    fn packed_id(packed: &Self::Packed) -> u64 {
        packed.id()
    }
    fn client_isn(&self) -> Option<SeqNumber> {
        Connection::client_isn(self)
    }
    fn unanswered_attempt(&self) -> bool {
        Connection::unanswered_attempt(self)
    }
    fn last_syn_ts(&self) -> Option<Timestamp> {
        Connection::last_syn_ts(self)
    }
    fn previous_use(&self) -> PreviousUse {
        Connection::previous_use(self)
    }
    fn mark_evicted(&mut self) {
        self.evicted = true;
    }
}

impl Connection {
    /// Whether the tunnel path is recorded.
    pub fn has_tunnels(&self) -> bool {
        self.tunnels.is_some()
    }

    /// Records the tunnels the connection's first segment came through.
    pub fn set_tunnels(&mut self, path: &TunnelPath) {
        self.tunnels = (!path.is_empty()).then(|| Box::new(*path));
    }

    /// Nothing so far shows a connection: no SYN and no ACK from either side.
    fn outside_any_connection(&self) -> bool {
        self.c.isn.is_none()
            && self.s.isn.is_none()
            && self.c.max_ack.is_none()
            && self.s.max_ack.is_none()
    }

    /// `seq` of a segment `side` sent, relative to that side's base (signed:
    /// a number before the base stays negative instead of wrapping).
    pub fn relative_seq(&self, side: Side, seq: SeqNumber) -> i64 {
        let p = match side {
            Side::Client => &self.c,
            Side::Server => &self.s,
        };
        seq.shown(p.base)
    }

    /// Takes in a finding that comes from outside the segments (an ICMP
    /// error quoting the connection, a fragment event).
    pub fn add_finding(&mut self, f: Finding) {
        self.push(f);
    }
}

super::packed::packed!(Peer {
    isn,
    old_isn,
    base,
    last_syn_ts,
    syn_data_len,
    tfo,
    wscale,
    sent_syn_segment,
    next_seq,
    data_end,
    max_ack,
    window,
    window_known,
    fin_seq,
    fin_frame,
    fin_ts,
    fin_resent,
    fin_inside_data,
    fin_ack,
    fin_acked_frame,
    acked_peer_fin,
    acked_fin_seq_frame,
    rst_frame,
    state,
    synchronized,
    packets,
    payload_bytes,
    reported_ack_nonzero,
    last_ts,
});
super::packed::packed!(Connection {
    id,
    client,
    server,
    first_frame,
    last_frame,
    start,
    last_ts,
    c,
    s,
    simultaneous_open,
    synack_frame,
    synack_ts,
    synack_ok,
    pending_synack_ack,
    third_ack_checked,
    third_ack,
    final_ack,
    rtt_syn_synack,
    rtt_synack_ack,
    simultaneous_close,
    first_fin_by,
    reset_by,
    reset_after_close,
    client_sent_after_synack,
    zeek,
    completeness,
    transfer,
    ws_counts,
    listed,
    once,
    evicted,
    attempt,
} skip {
    pending_early_server_data,
    findings,
    suppressed,
    tunnels,
});
