use super::completeness;
use super::state::State;
use super::transfer::{DirectionStats, Flags, Outcome, Transfer};
use super::verdict::{Close, ClosedBy, Handshake};
use super::zeek::ZeekConn;
use crate::capture::Timestamp;
use crate::decode::{IpAddress, TcpFlags, TcpSegment};
use crate::findings::{Finding, FindingKind as K, Side, Value};
use crate::seq::SeqNumber;
use serde::{Serialize, Serializer};
use std::fmt;

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: IpAddress,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.addr.is_v6() {
            write!(f, "[{}]:{}", self.addr, self.port)
        } else {
            write!(f, "{}:{}", self.addr, self.port)
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A finding to be worded: kind, message, expected and actual values.
type Note = (K, String, Option<(Value, Value)>);

/// Most findings kept per connection; the rest are counted.
const MAX_FINDINGS: usize = 256;

/// What one endpoint has shown of itself.
#[derive(Debug, Clone)]
struct Peer {
    isn: Option<SeqNumber>,
    /// An ISN this side used before it changed it (SYN or SYN-ACK sent again with another).
    old_isn: Option<SeqNumber>,
    /// Base for relative numbers (ISN, or first seq − 1, or the peer's ack − 1).
    base: Option<SeqNumber>,
    last_syn_ts: Option<Timestamp>,
    syn_data_len: u32,
    /// The SYN offered TCP Fast Open (cookie or data).
    tfo: bool,
    wscale: Option<u8>,
    sent_syn_segment: bool,
    next_seq: Option<SeqNumber>,
    max_ack: Option<SeqNumber>,
    /// Receive window as last advertised, scaled when the scale is known.
    window: u32,
    window_known: bool,
    fin_seq: Option<SeqNumber>,
    fin_frame: u64,
    fin_ts: Option<Timestamp>,
    /// The FIN was sent more than once.
    fin_resent: bool,
    /// The ack field carried by this side's first FIN.
    fin_ack: Option<SeqNumber>,
    fin_acked_frame: Option<u64>,
    /// This side acknowledged the peer's FIN before sending its own.
    acked_peer_fin: bool,
    /// Frame of a pure ACK that acknowledged the peer's FIN sequence number itself (not +1).
    acked_fin_seq_frame: Option<u64>,
    rst_frame: Option<u64>,
    state: State,
    /// RFC 9293 §3.10.7: once synchronized, every segment but RST carries ACK.
    synchronized: bool,
    packets: u64,
    payload_bytes: u64,
    reported_ack_nonzero: bool,
    last_ts: Option<Timestamp>,
}

impl Peer {
    fn new() -> Peer {
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
            max_ack: None,
            window: 0,
            window_known: false,
            fin_seq: None,
            fin_frame: 0,
            fin_ts: None,
            fin_resent: false,
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

/// What the previous connection on the same 4-tuple left behind.
#[derive(Debug, Clone, Copy)]
pub struct PreviousUse {
    pub ended: Timestamp,
    /// It ended with a FIN exchange: somebody is in TIME-WAIT until 2·MSL.
    pub fin_closed: bool,
    pub client_isn: Option<SeqNumber>,
    pub last_frame: u64,
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
    c: Peer,
    s: Peer,
    simultaneous_open: bool,
    synack_frame: Option<u64>,
    synack_ts: Option<Timestamp>,
    synack_ok: bool,
    /// A SYN-ACK seen before any SYN: its ack is checked when the SYN shows up.
    pending_synack_ack: Option<(u64, SeqNumber)>,
    third_ack_checked: bool,
    final_ack: Option<u64>,
    rtt_syn_synack: Option<f64>,
    rtt_synack_ack: Option<f64>,
    simultaneous_close: bool,
    first_fin_by: Option<Side>,
    reset_by: Option<Side>,
    /// Both FINs had been acknowledged when the RST came.
    reset_after_close: bool,
    client_sent_after_synack: bool,
    pending_early_server_data: Option<Finding>,
    zeek: ZeekConn,
    completeness: u8,
    transfer: Transfer,
    /// Wireshark's per-frame items, counted as tshark counts them.
    ws_counts: [u32; WS_ITEMS.len()],
    findings: Vec<Finding>,
    suppressed_findings: u64,
    pub evicted: bool,
}

/// Wireshark's expert items and connection items, by display-filter name.
pub const WS_ITEMS: [&str; 23] = [
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.ack_lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.zero_window_probe_ack",
    "tcp.analysis.window_full",
    "tcp.analysis.window_update",
    "tcp.analysis.keep_alive",
    "tcp.analysis.keep_alive_ack",
    "tcp.analysis.flags",
    "tcp.connection.syn",
    "tcp.connection.synack",
    "tcp.connection.fin",
    "tcp.connection.fin_active",
    "tcp.connection.fin_passive",
    "tcp.connection.rst",
    "tcp.ack.nonzero",
    "tcp.analysis.reused_ports",
];

/// Counts of Wireshark's items, serialized as a map of the non-zero ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WiresharkCounts(pub [u32; WS_ITEMS.len()]);

impl WiresharkCounts {
    /// The non-zero counts, by display-filter name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        WS_ITEMS
            .iter()
            .zip(self.0.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (*k, *n))
    }

    pub fn get(&self, name: &str) -> u32 {
        WS_ITEMS
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.0[i])
    }
}

impl Serialize for WiresharkCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

/// Indices into [`WS_ITEMS`], so counting an item costs no name lookup.
mod ws {
    pub const RETRANSMISSION: usize = 0;
    pub const FLAGS: usize = 14;
    pub const SYN: usize = 15;
    pub const SYNACK: usize = 16;
    pub const FIN: usize = 17;
    pub const FIN_ACTIVE: usize = 18;
    pub const FIN_PASSIVE: usize = 19;
    pub const RST: usize = 20;
    pub const ACK_NONZERO: usize = 21;
    pub const REUSED_PORTS: usize = 22;
}

/// Data-transfer figures per direction.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TransferReport {
    pub client: DirectionStats,
    pub server: DirectionStats,
}

/// Per-direction numbers in reports.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct PerSide {
    pub client: u64,
    pub server: u64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Isns {
    pub client: Option<u32>,
    pub server: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct HandshakeRtt {
    pub syn_to_synack: Option<f64>,
    pub synack_to_ack: Option<f64>,
}

/// The verdict on a finished connection: what reports print.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionReport {
    pub id: u64,
    pub file: std::sync::Arc<str>,
    pub client: Endpoint,
    pub server: Endpoint,
    pub first_frame: u64,
    pub last_frame: u64,
    pub start: Timestamp,
    pub duration: f64,
    pub handshake: Handshake,
    pub close: Close,
    pub closed_by: Option<ClosedBy>,
    pub client_state: State,
    pub server_state: State,
    pub conn_state: &'static str,
    pub history: String,
    pub completeness: u8,
    pub packets: PerSide,
    pub payload_bytes: PerSide,
    pub handshake_rtt: HandshakeRtt,
    /// Each side's initial sequence number (raw), when its SYN was seen.
    pub isn: Isns,
    pub transfer: TransferReport,
    /// Wireshark's `tcp.analysis.*` and `tcp.connection.*` items: frames carrying each.
    pub tcp_analysis: WiresharkCounts,
    pub anomalies: Vec<Finding>,
    /// Findings beyond the per-connection cap, counted but not listed.
    #[serde(skip_serializing_if = "is_zero")]
    pub anomalies_suppressed: u64,
    /// The table was full and this connection was ended early (`--max-connections`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub evicted: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
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
            suppressed_findings: 0,
            evicted: false,
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

    fn note_reuse(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        prev: PreviousUse,
        config: &super::Config,
    ) {
        if !seg.flags.syn() || seg.flags.ack() {
            return;
        }
        // The same SYN again after a refusal is a retry of that attempt, not a
        // reuse; Wireshark, whose conversation goes on, counts it a retransmission.
        if prev.client_isn == Some(seg.seq) {
            self.ws_counts[ws::RETRANSMISSION] += 1;
            self.ws_counts[ws::FLAGS] += 1;
            return;
        }
        self.ws_counts[ws::REUSED_PORTS] += 1;
        self.ws_counts[ws::FLAGS] += 1;
        let gap = ts.secs_since(prev.ended);
        self.push(Finding::new(
            K::PortReuse,
            frame,
            Side::Client,
            format!(
                "new connection on {} → {}, which connection ending at frame {} used {:.3} s earlier",
                self.client, self.server, prev.last_frame, gap
            ),
        ));
        if prev.fin_closed && ts.nanos_since(prev.ended) < config.two_msl {
            self.push(Finding::new(
                K::TimeWaitReuse,
                frame,
                Side::Client,
                format!(
                    "new SYN {:.3} s after the previous connection closed with FINs, within 2·MSL ({} s): the side that closed first may still be in TIME-WAIT",
                    gap,
                    config.two_msl / 1_000_000_000
                ),
            ));
        }
    }

    fn push(&mut self, f: Finding) {
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(f);
        } else {
            self.suppressed_findings += 1;
        }
    }

    fn peer(&self, side: Side) -> &Peer {
        match side {
            Side::Client => &self.c,
            Side::Server => &self.s,
        }
    }

    fn peer_mut(&mut self, side: Side) -> &mut Peer {
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

        if let Some(what) = invalid_combination(f) {
            self.push(
                Finding::new(
                    K::InvalidFlags,
                    frame,
                    from,
                    format!("{from} sent a segment with {what} [{f}] at frame {frame}"),
                )
                .values(
                    Value::Text("a valid flag combination".into()),
                    Value::Text(f.to_string()),
                ),
            );
            // Such a segment says nothing trustworthy about the connection's state.
            return;
        }
        if !f.ack() && seg.ack.0 != 0 && !self.peer(from).reported_ack_nonzero {
            self.peer_mut(from).reported_ack_nonzero = true;
            self.push(Finding::new(
                K::AckNonzeroWithoutAckFlag,
                frame,
                from,
                format!(
                    "{from} sent [{f}] with acknowledgment field {} while the ACK flag is clear, at frame {frame}",
                    seg.ack
                ),
            ));
        }
        if !f.ack() && !f.rst() && !f.syn() && self.peer(from).synchronized {
            self.push(Finding::new(
                K::MissingAckFlag,
                frame,
                from,
                format!("expected the ACK flag on every segment after synchronization, saw [{f}] from the {from} at frame {frame}"),
            ).values(Value::Text("ACK".into()), Value::Text(f.to_string())));
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
        if outcome.flags.0 != 0 {
            self.transfer_findings(frame, ts, seg, from, &outcome);
        }
        if f.rst() {
            self.on_rst(frame, seg, from);
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

    fn on_syn(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>, from: Side) -> bool {
        let established = self.handshake_done();
        let mut accepted = true;
        match from {
            Side::Client => match self.c.isn {
                None => {
                    self.c.isn = Some(seg.seq);
                    self.c.base = Some(seg.seq);
                    self.c.last_syn_ts = Some(ts);
                    self.c.syn_data_len = seg.payload_len;
                    let options = seg.options();
                    let cookie_option = options.fast_open_cookie();
                    // TCP Fast Open (RFC 7413) carries data in the SYN with a cookie:
                    // that is the protocol working. Data without a cookie is unusual.
                    let cookie = cookie_option.is_some_and(|c| !c.is_empty());
                    self.c.tfo = seg.payload_len > 0 || cookie;
                    self.c.wscale = options.window_scale();
                    self.c.sent_syn_segment = true;
                    self.c.state = State::SynSent;
                    self.c.synchronized = false;
                    self.s.synchronized = false;
                    if self.s.state == State::Closed || self.s.state == State::Established {
                        self.s.state = State::Listen;
                    }
                    if seg.payload_len > 0 && !cookie {
                        self.push(Finding::new(
                            K::SynWithData,
                            frame,
                            from,
                            format!(
                                "the SYN at frame {frame} carries {} bytes of data{}",
                                seg.payload_len,
                                if cookie_option.is_some() {
                                    " (with an empty TCP Fast Open cookie)"
                                } else {
                                    ""
                                }
                            ),
                        ));
                    }
                    if let Some((sa_frame, ack)) = self.pending_synack_ack.take() {
                        self.check_synack_ack(sa_frame, ack);
                    }
                }
                Some(isn) if isn == seg.seq => {
                    if established {
                        self.push(Finding::new(
                            K::UnexpectedSyn,
                            frame,
                            from,
                            format!("a SYN with the connection's own ISN arrived inside the established connection at frame {frame}"),
                        ));
                        accepted = false;
                    } else {
                        self.c.last_syn_ts = Some(ts);
                        self.push(Finding::new(
                            K::SynRetransmission,
                            frame,
                            from,
                            format!(
                                "the client sent its SYN again (same ISN {}) at frame {frame}",
                                isn
                            ),
                        ));
                    }
                }
                Some(isn) => {
                    if established {
                        self.push(Finding::new(
                            K::UnexpectedSyn,
                            frame,
                            from,
                            format!("a SYN with a new ISN {} arrived inside the established connection at frame {frame}", seg.seq),
                        ).values(Value::Seq(isn.0), Value::Seq(seg.seq.0)));
                        accepted = false;
                    } else {
                        self.push(Finding::new(
                            K::SynIsnChanged,
                            frame,
                            from,
                            format!("expected the SYN to be resent with ISN {isn}, saw ISN {} at frame {frame}", seg.seq),
                        ).values(Value::Seq(isn.0), Value::Seq(seg.seq.0)));
                        self.c.old_isn = Some(isn);
                        self.c.isn = Some(seg.seq);
                        self.c.base = Some(seg.seq);
                        self.c.last_syn_ts = Some(ts);
                        self.c.syn_data_len = seg.payload_len;
                    }
                }
            },
            Side::Server => {
                if self.c.isn.is_some() && self.s.isn.is_none() && !established {
                    // Both ends sent a SYN: simultaneous open (RFC 9293 §3.5, figure 8).
                    self.simultaneous_open = true;
                    self.s.isn = Some(seg.seq);
                    self.s.base = Some(seg.seq);
                    self.s.last_syn_ts = Some(ts);
                    self.s.wscale = seg.options().window_scale();
                    self.s.sent_syn_segment = true;
                    self.c.state = State::SynReceived;
                    self.s.state = State::SynReceived;
                } else if self.s.isn == Some(seg.seq) && !established {
                    self.push(Finding::new(
                        K::SynRetransmission,
                        frame,
                        from,
                        format!("the server sent its SYN again at frame {frame}"),
                    ));
                } else {
                    self.push(Finding::new(
                        K::UnexpectedSyn,
                        frame,
                        from,
                        format!(
                            "the server sent a SYN (ISN {}) inside the connection at frame {frame}",
                            seg.seq
                        ),
                    ));
                    accepted = false;
                }
            }
        }
        accepted
    }

    fn on_synack(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>, from: Side) -> bool {
        if from == Side::Client {
            if self.simultaneous_open && Some(seg.seq) == self.c.isn {
                // The client's half of a simultaneous open.
                if let Some(sisn) = self.s.isn
                    && seg.ack != sisn + 1
                {
                    self.push(Finding::new(
                            K::SynackWrongAck,
                            frame,
                            from,
                            format!("expected the SYN-ACK to acknowledge 1 (server ISN+1, raw {}), saw {} (raw {}) at frame {frame}",
                                sisn + 1, seg.ack.relative_to(sisn), seg.ack),
                        ).values(Value::Seq((sisn + 1).0), Value::Seq(seg.ack.0)));
                }
            } else if self.c.isn.is_some() {
                self.push(Finding::new(
                    K::SynackWrongDirection,
                    frame,
                    from,
                    format!("the client, which sent the SYN, sent a SYN-ACK at frame {frame}; the SYN-ACK must come from the server"),
                ).values(Value::Text("SYN-ACK from the server".into()), Value::Text("SYN-ACK from the client".into())));
                return false;
            }
            return true;
        }
        if seg.payload_len > 0 {
            self.push(Finding::new(
                K::SynWithData,
                frame,
                from,
                format!(
                    "the SYN-ACK at frame {frame} carries {} bytes of data",
                    seg.payload_len
                ),
            ));
        }
        match self.s.isn {
            Some(isn)
                if self.simultaneous_open && isn == seg.seq && self.synack_frame.is_none() =>
            {
                self.record_synack(frame, ts, seg);
            }
            None => {
                self.s.isn = Some(seg.seq);
                self.s.base = Some(seg.seq);
                self.record_synack(frame, ts, seg);
            }
            Some(isn) if isn == seg.seq => {
                self.synack_ts = Some(ts);
                self.push(Finding::new(
                    K::SynackRetransmission,
                    frame,
                    from,
                    format!("the server sent its SYN-ACK again (same ISN) at frame {frame}"),
                ));
                if !self.synack_ok && self.c.isn.is_some() && self.synack_ack_ok(seg.ack) {
                    self.synack_ok = true;
                    self.client_receives_synack();
                }
            }
            Some(isn) => {
                self.push(Finding::new(
                    K::SynackIsnChanged,
                    frame,
                    from,
                    format!("expected the SYN-ACK to be resent with ISN {isn}, saw ISN {} at frame {frame}", seg.seq),
                ).values(Value::Seq(isn.0), Value::Seq(seg.seq.0)));
                self.s.old_isn = Some(isn);
                self.s.isn = Some(seg.seq);
                self.s.base = Some(seg.seq);
                self.synack_ts = Some(ts);
                if self.c.isn.is_some() && self.synack_ack_ok(seg.ack) && !self.synack_ok {
                    self.synack_ok = true;
                    self.client_receives_synack();
                }
            }
        }
        true
    }

    fn record_synack(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>) {
        self.synack_frame = Some(frame);
        self.synack_ts = Some(ts);
        self.s.last_syn_ts = Some(ts);
        self.s.sent_syn_segment = true;
        let ws = seg.options().window_scale();
        if self.s.wscale.is_none() {
            self.s.wscale = ws;
        }
        if ws.is_none() {
            // RFC 7323 §2.2: scaling only when both sides offer it.
            self.c.wscale = None;
        }
        if !self.simultaneous_open {
            self.s.state = State::SynReceived;
            self.s.synchronized = false;
        }
        if let Some(syn_ts) = self.c.last_syn_ts {
            self.rtt_syn_synack = Some(ts.secs_since(syn_ts));
        }
        if self.c.isn.is_some() {
            self.check_synack_ack(frame, seg.ack);
        } else {
            self.pending_synack_ack = Some((frame, seg.ack));
            // The SYN was not captured; the client received this SYN-ACK.
            self.c.state = State::Established;
            self.c.synchronized = true;
        }
    }

    fn synack_ack_ok(&self, ack: SeqNumber) -> bool {
        let Some(isn) = self.c.isn else { return true };
        ack == isn + 1
            || ack == isn + 1 + self.c.syn_data_len
            || self.c.old_isn.is_some_and(|old| ack == old + 1)
    }

    fn check_synack_ack(&mut self, frame: u64, ack: SeqNumber) {
        if self.synack_ack_ok(ack) {
            self.synack_ok = true;
            self.client_receives_synack();
            return;
        }
        let isn = self.c.isn.unwrap_or_default();
        let tfo = if self.c.syn_data_len > 0 {
            format!(
                " or {} with the SYN's {} data bytes",
                1 + self.c.syn_data_len,
                self.c.syn_data_len
            )
        } else {
            String::new()
        };
        self.push(Finding::new(
            K::SynackWrongAck,
            frame,
            Side::Server,
            format!(
                "expected the SYN-ACK to acknowledge 1 (client ISN+1, raw {}){tfo}, saw ack {} (raw {}) at frame {frame}",
                isn + 1,
                ack.relative_to(isn) as i32,
                ack
            ),
        ).values(Value::Seq((isn + 1).0), Value::Seq(ack.0)));
    }

    fn client_receives_synack(&mut self) {
        if matches!(
            self.c.state,
            State::SynSent | State::SynReceived | State::Listen | State::Closed
        ) {
            self.c.state = State::Established;
        }
        self.c.synchronized = true;
    }

    fn on_rst(&mut self, frame: u64, seg: &TcpSegment<'_>, from: Side) {
        if self.reset_by.is_some() {
            return;
        }
        let to = from.other();
        let receiver = self.peer(to);
        let sender = self.peer(from);
        let mut acceptable = true;
        let mut why = String::new();
        if to == Side::Client && self.c.state == State::SynSent && self.s.isn.is_none() {
            // RFC 9293 §3.10.7.3: in SYN-SENT a RST counts only if it acknowledges the SYN.
            let isn = self.c.isn.unwrap_or_default();
            let ok =
                seg.flags.ack() && (seg.ack == isn + 1 || seg.ack == isn + 1 + self.c.syn_data_len);
            if !ok {
                acceptable = false;
                why = if seg.flags.ack() {
                    format!(
                        "expected a RST answering the SYN to acknowledge 1 (ISN+1, raw {}), saw ack {} at frame {frame}",
                        isn + 1,
                        seg.ack
                    )
                } else {
                    format!(
                        "a RST without ACK cannot answer a SYN (RFC 9293 §3.10.7.3), at frame {frame}"
                    )
                };
            }
        } else if let Some(rcv_nxt) = receiver.max_ack.or(sender.next_seq) {
            // RFC 5961 §3.2 / RFC 9293 §3.10.7.4: the RST's seq must fall in the receive window.
            let wnd = if receiver.window_known {
                receiver.window.max(1)
            } else {
                u32::MAX / 2
            };
            let ok = seg.seq == rcv_nxt
                || Some(seg.seq) == sender.next_seq
                || seg.seq.in_window(rcv_nxt, wnd);
            if !ok {
                acceptable = false;
                let base = sender.base.unwrap_or_default();
                why = format!(
                    "expected the RST's seq in the receive window [{}, {}), saw {} (raw {}) at frame {frame}; the {to} must ignore it",
                    rcv_nxt.relative_to(base),
                    (rcv_nxt + wnd).relative_to(base),
                    seg.seq.relative_to(base),
                    seg.seq
                );
            }
        }
        if !acceptable {
            let expected = receiver
                .max_ack
                .or(sender.next_seq)
                .map(|s| s.0)
                .unwrap_or(0);
            self.push(
                Finding::new(K::RstOutOfWindow, frame, from, why)
                    .values(Value::Seq(expected), Value::Seq(seg.seq.0)),
            );
            return;
        }
        self.reset_after_close =
            self.c.fin_acked_frame.is_some() && self.s.fin_acked_frame.is_some();
        self.reset_by = Some(from);
        self.peer_mut(from).rst_frame = Some(frame);
        if !self.reset_after_close {
            self.c.state = State::Closed;
            self.s.state = State::Closed;
        }
    }

    fn check_data(&mut self, frame: u64, seg: &TcpSegment<'_>, from: Side) {
        let me = self.peer(from);
        if let Some(fin) = me.fin_seq {
            let end = seg.seq + seg.payload_len;
            if end.gt(fin) {
                let base = me.base.unwrap_or_default();
                self.push(Finding::new(
                    K::DataAfterFin,
                    frame,
                    from,
                    format!(
                        "expected no data past the {from}'s FIN at {}, saw data up to {} ({} bytes) at frame {frame}",
                        fin.relative_to(base),
                        end.relative_to(base),
                        end.diff(fin)
                    ),
                ).values(Value::Seq(fin.0), Value::Seq(end.0)));
            }
        }
        if seg.flags.syn() || self.c.isn.is_none() {
            return;
        }
        let state = self.peer(from).state;
        match from {
            // A client segment that acknowledges something has seen the SYN-ACK,
            // even when the capture did not (a one-sided capture).
            Side::Client if self.s.isn.is_none() && !seg.flags.ack() => {
                self.push(Self::early_data(frame, from, seg.payload_len, state));
            }
            Side::Server
                if !self.c.tfo
                    && self.pending_early_server_data.is_none()
                    && (self.s.isn.is_none()
                        || (self.final_ack.is_none() && !self.simultaneous_open)) =>
            {
                // Judged at the end: only if the client's direction was captured
                // after the SYN-ACK is the missing third ACK more than the capture.
                self.pending_early_server_data =
                    Some(Self::early_data(frame, from, seg.payload_len, state));
            }
            _ => {}
        }
    }

    fn early_data(frame: u64, from: Side, len: u32, state: State) -> Finding {
        Finding::new(
            K::DataBeforeEstablished,
            frame,
            from,
            format!("the {from} sent {len} bytes at frame {frame} while still in {state}: expected data only after the handshake"),
        )
        .values(
            Value::Text(State::Established.as_str().into()),
            Value::Text(state.as_str().into()),
        )
    }

    fn on_ack(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>, from: Side) {
        // The third ACK (RFC 9293 §3.5): seq ISN_c+1, ack ISN_s+1.
        if from == Side::Client
            && !seg.flags.syn()
            && self.final_ack.is_none()
            && let Some(sisn) = self.s.isn
        {
            // Beyond ISN_s+1 (server data the capture did not show) or beyond
            // ISN_c+1 (client data sent earlier, captured later) loss can explain;
            // acknowledging the SYN's own number, or a seq before ISN_c+1, it cannot.
            let ack_ok = seg.ack.ge(sisn + 1) || self.s.old_isn.is_some_and(|o| seg.ack == o + 1);
            let expected_seq = self.c.isn.map(|i| i + 1);
            let seq_ok = match self.c.isn {
                None => true,
                Some(i) => seg.seq.ge(i + 1),
            };
            if !self.third_ack_checked {
                self.third_ack_checked = true;
                if !ack_ok {
                    self.push(Finding::new(
                            K::HandshakeAckWrong,
                            frame,
                            from,
                            format!(
                                "expected the third ACK to acknowledge 1 (server ISN+1, raw {}), saw ack {} (raw {}) at frame {frame}",
                                sisn + 1,
                                seg.ack.relative_to(sisn) as i32,
                                seg.ack
                            ),
                        ).values(Value::Seq((sisn + 1).0), Value::Seq(seg.ack.0)));
                } else if !seq_ok {
                    let e = expected_seq.unwrap_or_default();
                    let isn = self.c.isn.unwrap_or_default();
                    self.push(Finding::new(
                            K::HandshakeAckWrong,
                            frame,
                            from,
                            format!(
                                "expected the third ACK to carry seq 1 (client ISN+1, raw {e}), saw seq {} (raw {}) at frame {frame}",
                                seg.seq.relative_to(isn) as i32,
                                seg.seq
                            ),
                        ).values(Value::Seq(e.0), Value::Seq(seg.seq.0)));
                }
            }
            if ack_ok && seq_ok && self.synack_ok {
                self.final_ack = Some(frame);
                if let Some(t) = self.synack_ts {
                    self.rtt_synack_ack = Some(ts.secs_since(t));
                }
                if self.s.state == State::SynReceived {
                    self.s.state = State::Established;
                }
                self.s.synchronized = true;
                self.c.synchronized = true;
            }
        }
        if self.simultaneous_open
            && from == Side::Server
            && let Some(cisn) = self.c.isn
            && seg.ack.ge(cisn + 1)
        {
            self.s.synchronized = true;
            if self.s.state == State::SynReceived {
                self.s.state = State::Established;
            }
        }
        if self.simultaneous_open && from == Side::Client && seg.flags.syn() {
            // The client's SYN-ACK in a simultaneous open acknowledges the server's SYN.
            if let Some(sisn) = self.s.isn
                && seg.ack == sisn + 1
            {
                self.s.synchronized = true;
                self.c.synchronized = true;
                self.c.state = State::Established;
                self.s.state = State::Established;
            }
        }
        // Acknowledgment of the peer's FIN.
        let to = from.other();
        if let Some(pfin) = self.peer(to).fin_seq {
            if self.peer(to).fin_acked_frame.is_none() && seg.ack.ge(pfin + 1) {
                let p = self.peer_mut(to);
                p.fin_acked_frame = Some(frame);
                p.state = p.state.on_fin_acked();
                let me = self.peer_mut(from);
                if me.fin_seq.is_none() {
                    me.acked_peer_fin = true;
                }
            } else if seg.ack == pfin
                && seg.payload_len == 0
                && !seg.flags.fin()
                && self.peer(from).acked_fin_seq_frame.is_none()
                && frame > self.peer(to).fin_frame
            {
                self.peer_mut(from).acked_fin_seq_frame = Some(frame);
            }
        }
        let me = self.peer_mut(from);
        me.max_ack = Some(match me.max_ack {
            Some(a) => a.max_wrapping(seg.ack),
            None => seg.ack,
        });
        if !me.synchronized && me.state.is_synchronized() {
            me.synchronized = true;
        }
    }

    fn on_fin(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>, from: Side) {
        if self.reset_by.is_some() {
            // The RST destroyed both TCBs (RFC 9293 §3.10.7): a later FIN
            // closes nothing.
            return;
        }
        let fs = seg.seq + seg.payload_len;
        let to = from.other();
        match self.peer(from).fin_seq {
            None => {
                let peer_fin_sent = self.peer(to).fin_seq.is_some();
                let acked_peer = self.peer(from).acked_peer_fin;
                // Sent before the peer's FIN arrived: both sides are closing at once
                // (RFC 9293 §3.6, figure 13).
                // (A side that acknowledged the FIN's own number did receive it: that is
                // fin_not_counted, not a simultaneous close.)
                let simultaneous =
                    peer_fin_sent && !acked_peer && self.peer(from).acked_fin_seq_frame.is_none();
                if simultaneous {
                    self.simultaneous_close = true;
                }
                if self.first_fin_by.is_none() {
                    self.first_fin_by = Some(from);
                }
                let me = self.peer_mut(from);
                me.fin_seq = Some(fs);
                me.fin_frame = frame;
                me.fin_ts = Some(ts);
                me.fin_ack = seg.flags.ack().then_some(seg.ack);
                me.state = if simultaneous {
                    // FIN-WAIT-1, and the peer's FIN is already on its way: CLOSING.
                    State::Closing
                } else {
                    me.state.on_send_fin()
                };
                let p = self.peer_mut(to);
                let own_fin_acked = p.fin_acked_frame.is_some();
                p.state = p.state.on_receive_fin(own_fin_acked);
            }
            Some(prev) if prev == fs => {
                self.peer_mut(from).fin_resent = true;
                let base = self.peer(from).base.unwrap_or_default();
                self.push(Finding::new(
                    K::FinRetransmission,
                    frame,
                    from,
                    format!(
                        "the {from} sent its FIN (seq {}) again at frame {frame}",
                        fs.relative_to(base)
                    ),
                ));
            }
            Some(prev) => {
                if fs.gt(prev) && seg.payload_len == 0 {
                    let base = self.peer(from).base.unwrap_or_default();
                    self.push(Finding::new(
                        K::DataAfterFin,
                        frame,
                        from,
                        format!(
                            "expected the FIN to stay at {}, saw a FIN at {} at frame {frame}: sequence space used after the FIN",
                            prev.relative_to(base),
                            fs.relative_to(base)
                        ),
                    ).values(Value::Seq(prev.0), Value::Seq(fs.0)));
                }
            }
        }
    }

    fn count_wireshark_items(&mut self, seg: &TcpSegment<'_>, from: Side) {
        let f = seg.flags;
        let passive = self.peer(from.other()).fin_seq.is_some() && self.first_fin_by != Some(from);
        let c = &mut self.ws_counts;
        if f.syn() && !f.ack() {
            c[ws::SYN] += 1;
        }
        if f.syn() && f.ack() {
            c[ws::SYNACK] += 1;
        }
        if f.rst() {
            c[ws::RST] += 1;
        }
        if !f.ack() && seg.ack.0 != 0 {
            c[ws::ACK_NONZERO] += 1;
        }
        if f.fin() {
            c[ws::FIN] += 1;
            // Active unless the other side already sent a FIN (Wireshark's closing initiator).
            c[if passive {
                ws::FIN_PASSIVE
            } else {
                ws::FIN_ACTIVE
            }] += 1;
        }
    }

    /// Words for the data-transfer flags of one segment.
    fn transfer_findings(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        from: Side,
        o: &Outcome,
    ) {
        const MAP: [(u32, usize); 14] = [
            (Flags::RETRANSMISSION, 0),
            (Flags::FAST_RETRANSMISSION, 1),
            (Flags::SPURIOUS_RETRANSMISSION, 2),
            (Flags::OUT_OF_ORDER, 3),
            (Flags::SEGMENT_GAP, 4),
            (Flags::ACKED_UNSEEN, 5),
            (Flags::DUPLICATE_ACK, 6),
            (Flags::ZERO_WINDOW, 7),
            (Flags::ZERO_WINDOW_PROBE, 8),
            (Flags::ZERO_WINDOW_PROBE_ACK, 9),
            (Flags::WINDOW_FULL, 10),
            (Flags::WINDOW_UPDATE, 11),
            (Flags::KEEP_ALIVE, 12),
            (Flags::KEEP_ALIVE_ACK, 13),
        ];
        let mut any = false;
        for (bit, i) in MAP {
            if o.flags.has(bit) {
                self.ws_counts[i] += 1;
                any = true;
            }
        }
        if any {
            self.ws_counts[ws::FLAGS] += 1;
        }
        let fl = o.flags;
        if self.findings.len() >= MAX_FINDINGS {
            // Past the cap nothing is worded: no allocation on a busy path.
            let mut n = fl.0.count_ones() as u64;
            if fl.has(Flags::FAST_RETRANSMISSION) || fl.has(Flags::SPURIOUS_RETRANSMISSION) {
                n -= 1;
            }
            self.suppressed_findings += n;
            return;
        }
        let me = self.peer(from);
        let base = me.base.unwrap_or_default();
        let peer_base = self.peer(from.other()).base.unwrap_or_default();
        let rel = |v: SeqNumber| v.relative_to(base);
        let len = seg.payload_len;
        let start = rel(seg.seq);
        // The last byte, for "bytes a–b"; the next sequence number for data edges.
        let end = rel(seg.seq + len);
        let last = rel(seg.seq + len.saturating_sub(1));
        let first = |o: &Outcome| {
            o.first_sent
                .map(|(f0, t0)| {
                    format!(
                        " (first sent at frame {f0}, {} earlier)",
                        crate::report::human_duration(ts.secs_since(t0))
                    )
                })
                .unwrap_or_default()
        };
        let mut notes: Vec<Note> = Vec::new();
        // A resent SYN or bare FIN has its own finding (syn_/synack_/fin_retransmission).
        let control_only = seg.flags.syn() || (seg.flags.fin() && len == 0);
        if control_only {
        } else if fl.has(Flags::SPURIOUS_RETRANSMISSION) {
            notes.push((K::SpuriousRetransmission, format!("the {from} resent bytes {start}–{last}, which the {} had already acknowledged{}", from.other(), first(o)), None));
        } else if fl.has(Flags::FAST_RETRANSMISSION) {
            notes.push((
                K::FastRetransmission,
                format!(
                    "the {from} resent bytes {start}–{last} after {} duplicate ACKs{}",
                    o.dup_ack_count.max(2),
                    first(o)
                ),
                None,
            ));
        } else if fl.has(Flags::RETRANSMISSION) {
            notes.push((
                K::Retransmission,
                format!("the {from} resent bytes {start}–{last}{}", first(o)),
                None,
            ));
        }
        if fl.has(Flags::OUT_OF_ORDER) && !control_only {
            let exp = o.expected_seq.map(rel).unwrap_or(0);
            notes.push((K::OutOfOrder, format!("expected seq {exp} next, saw {start}: an older segment arriving late, within one round trip"), None));
        }
        if fl.has(Flags::SEGMENT_GAP) {
            let exp = o.expected_seq.unwrap_or(seg.seq);
            notes.push((
                K::SegmentGap,
                format!(
                    "expected seq {} next, saw {start}: {} bytes from the {from} were not captured",
                    rel(exp),
                    seg.seq.diff(exp)
                ),
                Some((Value::Seq(exp.0), Value::Seq(seg.seq.0))),
            ));
        }
        if fl.has(Flags::ACKED_UNSEEN) {
            let seen = o
                .peer_next_seq
                .map(|n| n.relative_to(peer_base))
                .unwrap_or(0);
            notes.push((
                K::AckedUnseen,
                format!(
                    "the {from} acknowledges {}, but the {}'s bytes were seen only up to {seen}",
                    seg.ack.relative_to(peer_base),
                    from.other()
                ),
                None,
            ));
        }
        if fl.has(Flags::DUPLICATE_ACK) {
            notes.push((
                K::DuplicateAck,
                format!(
                    "duplicate ACK #{} of ack {} (the original at frame {})",
                    o.dup_ack_count,
                    seg.ack.relative_to(peer_base),
                    o.dup_of_frame
                ),
                None,
            ));
        }
        if fl.has(Flags::ZERO_WINDOW) {
            notes.push((
                K::ZeroWindow,
                format!(
                    "the {from} advertises a zero window: the {} must stop sending",
                    from.other()
                ),
                None,
            ));
        }
        if fl.has(Flags::ZERO_WINDOW_PROBE) {
            notes.push((
                K::ZeroWindowProbe,
                format!("the {from} probes the zero window with byte {start}"),
                None,
            ));
        }
        if fl.has(Flags::ZERO_WINDOW_PROBE_ACK) {
            notes.push((
                K::ZeroWindowProbeAck,
                format!("the {from} answers the zero-window probe; its window is still 0"),
                None,
            ));
        }
        if fl.has(Flags::WINDOW_FULL) {
            notes.push((
                K::WindowFull,
                format!(
                    "the segment ends at {end}, exactly the {}'s right window edge",
                    from.other()
                ),
                None,
            ));
        }
        if fl.has(Flags::WINDOW_UPDATE) {
            notes.push((
                K::WindowUpdate,
                format!("the {from} updates its window to {}", seg.window),
                None,
            ));
        }
        if fl.has(Flags::KEEP_ALIVE) {
            notes.push((
                K::KeepAlive,
                format!("keep-alive from the {from} at seq {start}"),
                None,
            ));
        }
        if fl.has(Flags::KEEP_ALIVE_ACK) {
            notes.push((
                K::KeepAliveAck,
                format!("the {from} answers the keep-alive"),
                None,
            ));
        }
        if fl.has(Flags::DATA_BEYOND_WINDOW)
            && let Some(edge) = o.right_edge
        {
            notes.push((
                K::DataBeyondWindow,
                format!(
                    "expected data only up to {} (the {}'s ack + window), saw data up to {end}",
                    rel(edge),
                    from.other()
                ),
                Some((Value::Seq(edge.0), Value::Seq((seg.seq + len).0))),
            ));
        }
        if fl.has(Flags::WINDOW_SHRINK)
            && let (Some(old), Some(new)) = (o.old_right_edge, o.right_edge)
        {
            notes.push((
                    K::WindowShrink,
                    format!("expected the right window edge to stay at {} or move right, saw it move left to {}", old.relative_to(peer_base), new.relative_to(peer_base)),
                    Some((Value::Seq(old.0), Value::Seq(new.0))),
                ));
        }
        if fl.has(Flags::ANALYSIS_LIMIT) {
            notes.push((K::AnalysisLimit, format!("{} unacknowledged segments from the {from}: the analysis stops remembering more", super::transfer::MAX_UNACKED), None));
        }
        for (kind, msg, values) in notes {
            let f = Finding::new(kind, frame, from, format!("{msg}, at frame {frame}"));
            self.push(match values {
                Some((e, a)) => f.values(e, a),
                None => f,
            });
        }
    }

    /// Findings that need the whole connection: the FIN acknowledged without +1.
    fn final_checks(&mut self) {
        if let Some(f) = self.pending_early_server_data.take()
            && self.client_sent_after_synack
        {
            self.push(f);
        }
        for side in [Side::Client, Side::Server] {
            let x = self.peer(side);
            let y = self.peer(side.other());
            let (Some(fs), None) = (x.fin_seq, x.fin_acked_frame) else {
                continue;
            };
            // Only when nothing but the bug explains it: the peer's FIN left
            // more than a round trip after ours (so ours had arrived), and
            // ours was never resent (so it was not lost on the way).
            let rtt = self.transfer.rtt_estimate((side == Side::Server) as usize);
            let fin_arrived_first = match (x.fin_ts, y.fin_ts, rtt) {
                (Some(tx), Some(ty), Some(rtt)) => ty.nanos_since(tx) > rtt,
                _ => false,
            };
            if y.fin_seq.is_some()
                && y.fin_frame > x.fin_frame
                && y.fin_ack == Some(fs)
                && y.acked_fin_seq_frame.is_some()
                && !x.fin_resent
                && fin_arrived_first
            {
                let frame = y.fin_frame;
                let ack_frame = y.acked_fin_seq_frame.unwrap_or(frame);
                let base = x.base.unwrap_or_default();
                let other = side.other();
                self.push(Finding::new(
                    K::FinNotCounted,
                    frame,
                    other,
                    format!(
                        "expected the {other} to acknowledge the {side}'s FIN with {} (FIN+1, raw {}), saw {} (raw {}) at frames {ack_frame} and {frame}: the FIN takes one sequence number",
                        (fs + 1).relative_to(base),
                        fs + 1,
                        fs.relative_to(base),
                        fs
                    ),
                ).values(Value::Seq((fs + 1).0), Value::Seq(fs.0)));
            }
        }
    }

    fn handshake_verdict(&self) -> Handshake {
        if self.simultaneous_open {
            return if self.c.synchronized && self.s.synchronized {
                Handshake::SimultaneousOpen
            } else {
                Handshake::Invalid
            };
        }
        if self.c.isn.is_none() {
            return Handshake::NotObserved;
        }
        if self.synack_frame.is_none() {
            if self.reset_by == Some(Side::Server) {
                return Handshake::Refused;
            }
            return if self.s.packets == 0 {
                Handshake::Unanswered
            } else {
                Handshake::Invalid
            };
        }
        if self.final_ack.is_some() {
            return Handshake::Complete;
        }
        if !self.synack_ok {
            return Handshake::Invalid;
        }
        if self.reset_by == Some(Side::Client) {
            return Handshake::Aborted;
        }
        if self.client_sent_after_synack && self.third_ack_checked {
            return Handshake::Invalid;
        }
        Handshake::NoFinalAck
    }

    fn close_verdict(&self, hs: Handshake) -> (Close, Option<ClosedBy>) {
        if !hs.established() {
            return (Close::None, None);
        }
        let by = |s: Side| match s {
            Side::Client => ClosedBy::Client,
            Side::Server => ClosedBy::Server,
        };
        let first_fin = self.first_fin_by.map(by);
        if let Some(r) = self.reset_by
            && !self.reset_after_close
        {
            let both_rst = self.c.rst_frame.is_some() && self.s.rst_frame.is_some();
            return (
                Close::Reset,
                Some(if both_rst { ClosedBy::Both } else { by(r) }),
            );
        }
        match (self.c.fin_seq.is_some(), self.s.fin_seq.is_some()) {
            (true, true) => {
                let acked = self.c.fin_acked_frame.is_some() && self.s.fin_acked_frame.is_some();
                if !acked {
                    (Close::UnackedFin, first_fin)
                } else if self.simultaneous_close {
                    (Close::Simultaneous, Some(ClosedBy::Both))
                } else {
                    (Close::Graceful, first_fin)
                }
            }
            (true, false) | (false, true) => (Close::HalfClosed, first_fin),
            (false, false) => (Close::Open, None),
        }
    }

    /// Ends the connection and gives its verdict.
    pub fn finish(mut self: Box<Self>, file: &std::sync::Arc<str>) -> ConnectionReport {
        self.final_checks();
        let hs = self.handshake_verdict();
        let (close, closed_by) = self.close_verdict(hs);
        self.findings.sort_by_key(|f| f.frame);
        ConnectionReport {
            id: self.id,
            file: file.clone(),
            client: self.client,
            server: self.server,
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            start: self.start,
            duration: self.last_ts.secs_since(self.start),
            handshake: hs,
            close,
            closed_by,
            client_state: self.c.state,
            server_state: self.s.state,
            conn_state: self.zeek.conn_state(),
            history: self.zeek.history().to_string(),
            completeness: self.completeness,
            packets: PerSide {
                client: self.c.packets,
                server: self.s.packets,
            },
            payload_bytes: PerSide {
                client: self.c.payload_bytes,
                server: self.s.payload_bytes,
            },
            handshake_rtt: HandshakeRtt {
                syn_to_synack: self.rtt_syn_synack,
                synack_to_ack: self.rtt_synack_ack,
            },
            isn: Isns {
                client: self.c.isn.map(|s| s.0),
                server: self.s.isn.map(|s| s.0),
            },
            transfer: {
                let (client, server) = self.transfer.stats(self.last_ts);
                TransferReport { client, server }
            },
            tcp_analysis: WiresharkCounts(self.ws_counts),
            anomalies: self.findings,
            anomalies_suppressed: self.suppressed_findings,
            evicted: self.evicted,
        }
    }

    /// Both endpoints' RFC 9293 states now (client, server).
    pub fn states(&self) -> (State, State) {
        (self.c.state, self.s.state)
    }

    /// Base of each side's relative numbers (client, server), as far as known.
    pub fn bases(&self) -> (Option<SeqNumber>, Option<SeqNumber>) {
        (self.c.base, self.s.base)
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{WS_ITEMS, ws};

    #[test]
    fn wireshark_indices_name_their_items() {
        for (i, name) in [
            (ws::RETRANSMISSION, "tcp.analysis.retransmission"),
            (ws::FLAGS, "tcp.analysis.flags"),
            (ws::SYN, "tcp.connection.syn"),
            (ws::SYNACK, "tcp.connection.synack"),
            (ws::FIN, "tcp.connection.fin"),
            (ws::FIN_ACTIVE, "tcp.connection.fin_active"),
            (ws::FIN_PASSIVE, "tcp.connection.fin_passive"),
            (ws::RST, "tcp.connection.rst"),
            (ws::ACK_NONZERO, "tcp.ack.nonzero"),
            (ws::REUSED_PORTS, "tcp.analysis.reused_ports"),
        ] {
            assert_eq!(WS_ITEMS[i], name);
        }
    }
}
