use super::completeness;
use super::state::State;
use super::transfer::{Outcome, Transfer};
use super::zeek::ZeekConn;
use crate::capture::Timestamp;
use crate::decode::{TcpFlags, TcpSegment};
use crate::findings::{
    Detail as D, Finding, FindingKind as K, FirstSent, Side, Value, WS_ITEMS, WsItem,
};
use crate::flow::{Endpoint, PreviousUse, Tracker};
use crate::model::connection::{
    ConnectionReport, HandshakeRtt, Isns, PerSide, TransferReport, WiresharkCounts,
};
use crate::seq::SeqNumber;

/// Most findings kept per connection; the rest are counted.
const MAX_FINDINGS: usize = 256;

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
    pub(super) max_ack: Option<SeqNumber>,
    /// Receive window as last advertised, scaled when the scale is known.
    pub(super) window: u32,
    pub(super) window_known: bool,
    pub(super) fin_seq: Option<SeqNumber>,
    pub(super) fin_frame: u64,
    pub(super) fin_ts: Option<Timestamp>,
    /// The FIN was sent more than once.
    pub(super) fin_resent: bool,
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
    pub(super) suppressed_findings: u64,
    pub evicted: bool,
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
            self.count(WsItem::Retransmission);
            self.count(WsItem::Flags);
            return;
        }
        self.count(WsItem::ReusedPorts);
        self.count(WsItem::Flags);
        let gap = ts.secs_since(prev.ended);
        self.push(Finding::new(
            frame,
            Side::Client,
            D::PortReuse {
                client: self.client,
                server: self.server,
                last_frame: prev.last_frame,
                gap,
            },
        ));
        if prev.fin_closed && ts.nanos_since(prev.ended) < config.two_msl {
            self.push(Finding::new(
                frame,
                Side::Client,
                D::TimeWaitReuse {
                    gap,
                    two_msl_secs: config.two_msl / 1_000_000_000,
                },
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
                            frame,
                            from,
                            D::SynWithData {
                                bytes: seg.payload_len,
                                empty_cookie: cookie_option.is_some(),
                            },
                        ));
                    }
                    if let Some((sa_frame, ack)) = self.pending_synack_ack.take() {
                        self.check_synack_ack(sa_frame, ack);
                    }
                }
                Some(isn) if isn == seg.seq => {
                    if established {
                        self.push(Finding::new(frame, from, D::UnexpectedSynSameIsn));
                        accepted = false;
                    } else {
                        self.c.last_syn_ts = Some(ts);
                        self.push(Finding::new(
                            frame,
                            from,
                            D::SynRetransmission { isn: isn.0 },
                        ));
                    }
                }
                Some(isn) => {
                    if established {
                        self.push(
                            Finding::new(frame, from, D::UnexpectedSynNewIsn { isn: seg.seq.0 })
                                .values(Value::Seq(isn.0), Value::Seq(seg.seq.0)),
                        );
                        accepted = false;
                    } else {
                        self.push(
                            Finding::new(
                                frame,
                                from,
                                D::SynIsnChanged {
                                    isn: isn.0,
                                    saw: seg.seq.0,
                                },
                            )
                            .values(Value::Seq(isn.0), Value::Seq(seg.seq.0)),
                        );
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
                    self.push(Finding::new(frame, from, D::ServerSynRetransmission));
                } else {
                    self.push(Finding::new(
                        frame,
                        from,
                        D::UnexpectedServerSyn { isn: seg.seq.0 },
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
                    self.push(
                        Finding::new(
                            frame,
                            from,
                            D::SimultaneousSynackWrongAck {
                                expected_raw: (sisn + 1).0,
                                saw: seg.ack.relative_to(sisn),
                                saw_raw: seg.ack.0,
                            },
                        )
                        .values(Value::Seq((sisn + 1).0), Value::Seq(seg.ack.0)),
                    );
                }
            } else if self.c.isn.is_some() {
                self.push(Finding::new(frame, from, D::SynackWrongDirection).values(
                    Value::Text("SYN-ACK from the server"),
                    Value::Text("SYN-ACK from the client"),
                ));
                return false;
            }
            return true;
        }
        if seg.payload_len > 0 {
            self.push(Finding::new(
                frame,
                from,
                D::SynackWithData {
                    bytes: seg.payload_len,
                },
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
                self.push(Finding::new(frame, from, D::SynackRetransmission));
                if !self.synack_ok && self.c.isn.is_some() && self.synack_ack_ok(seg.ack) {
                    self.synack_ok = true;
                    self.client_receives_synack();
                }
            }
            Some(isn) => {
                self.push(
                    Finding::new(
                        frame,
                        from,
                        D::SynackIsnChanged {
                            isn: isn.0,
                            saw: seg.seq.0,
                        },
                    )
                    .values(Value::Seq(isn.0), Value::Seq(seg.seq.0)),
                );
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
        self.push(
            Finding::new(
                frame,
                Side::Server,
                D::SynackWrongAck {
                    expected_raw: (isn + 1).0,
                    syn_data: self.c.syn_data_len,
                    saw: ack.relative_to(isn) as i32,
                    saw_raw: ack.0,
                },
            )
            .values(Value::Seq((isn + 1).0), Value::Seq(ack.0)),
        );
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
        let mut why = None;
        if to == Side::Client && self.c.state == State::SynSent && self.s.isn.is_none() {
            // RFC 9293 §3.10.7.3: in SYN-SENT a RST counts only if it acknowledges the SYN.
            let isn = self.c.isn.unwrap_or_default();
            let ok =
                seg.flags.ack() && (seg.ack == isn + 1 || seg.ack == isn + 1 + self.c.syn_data_len);
            if !ok {
                why = Some(if seg.flags.ack() {
                    D::RstNotAckingSyn {
                        expected_raw: (isn + 1).0,
                        saw_raw: seg.ack.0,
                    }
                } else {
                    D::RstWithoutAckInSynSent
                });
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
                let base = sender.base.unwrap_or_default();
                why = Some(D::RstOutOfWindow {
                    low: rcv_nxt.relative_to(base),
                    high: (rcv_nxt + wnd).relative_to(base),
                    saw: seg.seq.relative_to(base),
                    saw_raw: seg.seq.0,
                });
            }
        }
        if let Some(why) = why {
            let expected = receiver
                .max_ack
                .or(sender.next_seq)
                .map(|s| s.0)
                .unwrap_or(0);
            self.push(
                Finding::new(frame, from, why).values(Value::Seq(expected), Value::Seq(seg.seq.0)),
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
                self.push(
                    Finding::new(
                        frame,
                        from,
                        D::DataAfterFin {
                            fin: fin.relative_to(base),
                            end: end.relative_to(base),
                            bytes: end.diff(fin),
                        },
                    )
                    .values(Value::Seq(fin.0), Value::Seq(end.0)),
                );
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
            frame,
            from,
            D::DataBeforeEstablished {
                bytes: len,
                state: state.as_str(),
            },
        )
        .values(
            Value::Text(State::Established.as_str()),
            Value::Text(state.as_str()),
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
                    self.push(
                        Finding::new(
                            frame,
                            from,
                            D::ThirdAckWrongAck {
                                expected_raw: (sisn + 1).0,
                                saw: seg.ack.relative_to(sisn) as i32,
                                saw_raw: seg.ack.0,
                            },
                        )
                        .values(Value::Seq((sisn + 1).0), Value::Seq(seg.ack.0)),
                    );
                } else if !seq_ok {
                    let e = expected_seq.unwrap_or_default();
                    let isn = self.c.isn.unwrap_or_default();
                    self.push(
                        Finding::new(
                            frame,
                            from,
                            D::ThirdAckWrongSeq {
                                expected_raw: e.0,
                                saw: seg.seq.relative_to(isn) as i32,
                                saw_raw: seg.seq.0,
                            },
                        )
                        .values(Value::Seq(e.0), Value::Seq(seg.seq.0)),
                    );
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
                    frame,
                    from,
                    D::FinRetransmission {
                        seq: fs.relative_to(base),
                    },
                ));
            }
            Some(prev) => {
                if fs.gt(prev) && seg.payload_len == 0 {
                    let base = self.peer(from).base.unwrap_or_default();
                    self.push(
                        Finding::new(
                            frame,
                            from,
                            D::FinMoved {
                                fin: prev.relative_to(base),
                                saw: fs.relative_to(base),
                            },
                        )
                        .values(Value::Seq(prev.0), Value::Seq(fs.0)),
                    );
                }
            }
        }
    }

    #[inline]
    fn count(&mut self, item: WsItem) {
        self.ws_counts[item as usize] += 1;
    }

    /// Wireshark's `tcp.connection.*` items and `tcp.ack.nonzero`, counted per frame.
    fn count_wireshark_items(&mut self, seg: &TcpSegment<'_>, from: Side) {
        let f = seg.flags;
        let passive = self.peer(from.other()).fin_seq.is_some() && self.first_fin_by != Some(from);
        if f.syn() && !f.ack() {
            self.count(WsItem::Syn);
        }
        if f.syn() && f.ack() {
            self.count(WsItem::Synack);
        }
        if f.rst() {
            self.count(WsItem::Rst);
        }
        if !f.ack() && seg.ack.0 != 0 {
            self.count(WsItem::AckNonzero);
        }
        if f.fin() {
            self.count(WsItem::Fin);
            // Active unless the other side already sent a FIN (Wireshark's closing initiator).
            self.count(if passive {
                WsItem::FinPassive
            } else {
                WsItem::FinActive
            });
        }
    }

    /// The findings and Wireshark items of one segment's data-transfer flags
    /// (RFC 9293 §3.8-3.10, as Wireshark's `tcp.analysis` flags them).
    fn transfer_findings(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        from: Side,
        o: &Outcome,
    ) {
        let fl = o.flags;
        let mut any = false;
        for k in fl.kinds() {
            if let Some(item) = k.wireshark_item() {
                self.count(item);
                any = true;
            }
        }
        if any {
            self.count(WsItem::Flags);
        }
        if self.findings.len() >= MAX_FINDINGS {
            // Past the cap, one per flag; a fast or spurious retransmission
            // also carries the plain retransmission flag, counted once.
            let mut n = fl.len() as u64;
            if fl.has(K::FastRetransmission) || fl.has(K::SpuriousRetransmission) {
                n -= 1;
            }
            self.suppressed_findings += n;
            return;
        }
        let base = self.peer(from).base.unwrap_or_default();
        let peer_base = self.peer(from.other()).base.unwrap_or_default();
        let rel = |v: SeqNumber| v.relative_to(base);
        let len = seg.payload_len;
        let start = rel(seg.seq);
        // The last byte, for "bytes a–b"; the next sequence number for data edges.
        let end = rel(seg.seq + len);
        let last = rel(seg.seq + len.saturating_sub(1));
        let first_sent = o.first_sent.map(|(f0, t0)| FirstSent {
            frame: f0,
            earlier: ts.secs_since(t0),
        });
        // A resent SYN or bare FIN has its own finding (syn_/synack_/fin_retransmission).
        let control_only = seg.flags.syn() || (seg.flags.fin() && len == 0);
        for kind in fl.kinds() {
            let (detail, values) = match kind {
                K::Retransmission
                    if !control_only
                        && !fl.has(K::FastRetransmission)
                        && !fl.has(K::SpuriousRetransmission) =>
                {
                    (
                        D::Retransmission {
                            first: start,
                            last,
                            first_sent,
                        },
                        None,
                    )
                }
                K::FastRetransmission if !control_only && !fl.has(K::SpuriousRetransmission) => (
                    D::FastRetransmission {
                        first: start,
                        last,
                        dup_acks: o.dup_ack_count.max(2),
                        first_sent,
                    },
                    None,
                ),
                K::SpuriousRetransmission if !control_only => (
                    D::SpuriousRetransmission {
                        first: start,
                        last,
                        first_sent,
                    },
                    None,
                ),
                K::OutOfOrder if !control_only => (
                    D::OutOfOrder {
                        expected: o.expected_seq.map(rel).unwrap_or(0),
                        saw: start,
                    },
                    None,
                ),
                K::SegmentGap => {
                    let exp = o.expected_seq.unwrap_or(seg.seq);
                    (
                        D::SegmentGap {
                            expected: rel(exp),
                            saw: start,
                            bytes: seg.seq.diff(exp),
                        },
                        Some((Value::Seq(exp.0), Value::Seq(seg.seq.0))),
                    )
                }
                K::AckedUnseen => (
                    D::AckedUnseen {
                        ack: seg.ack.relative_to(peer_base),
                        seen: o
                            .peer_next_seq
                            .map(|n| n.relative_to(peer_base))
                            .unwrap_or(0),
                    },
                    None,
                ),
                K::DuplicateAck => (
                    D::DuplicateAck {
                        count: o.dup_ack_count,
                        ack: seg.ack.relative_to(peer_base),
                        original: o.dup_of_frame,
                    },
                    None,
                ),
                K::ZeroWindow => (D::ZeroWindow, None),
                K::ZeroWindowProbe => (D::ZeroWindowProbe { byte: start }, None),
                K::ZeroWindowProbeAck => (D::ZeroWindowProbeAck, None),
                K::WindowFull => (D::WindowFull { end }, None),
                K::WindowUpdate => (D::WindowUpdate { window: seg.window }, None),
                K::KeepAlive => (D::KeepAlive { seq: start }, None),
                K::KeepAliveAck => (D::KeepAliveAck, None),
                K::DataBeyondWindow => match o.right_edge {
                    Some(edge) => (
                        D::DataBeyondWindow {
                            edge: rel(edge),
                            end,
                        },
                        Some((Value::Seq(edge.0), Value::Seq((seg.seq + len).0))),
                    ),
                    None => continue,
                },
                K::WindowShrink => match (o.old_right_edge, o.right_edge) {
                    (Some(old), Some(new)) => (
                        D::WindowShrink {
                            old: old.relative_to(peer_base),
                            new: new.relative_to(peer_base),
                        },
                        Some((Value::Seq(old.0), Value::Seq(new.0))),
                    ),
                    _ => continue,
                },
                K::AnalysisLimit => (
                    D::AnalysisLimit {
                        segments: super::transfer::MAX_UNACKED,
                    },
                    None,
                ),
                _ => continue,
            };
            let f = Finding::new(frame, from, detail);
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
                self.push(
                    Finding::new(
                        frame,
                        other,
                        D::FinNotCounted {
                            expected: (fs + 1).relative_to(base),
                            expected_raw: (fs + 1).0,
                            saw: fs.relative_to(base),
                            saw_raw: fs.0,
                            ack_frame,
                        },
                    )
                    .values(Value::Seq((fs + 1).0), Value::Seq(fs.0)),
                );
            }
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
    fn from_client(&self, seg: &TcpSegment<'_>) -> bool {
        self.side_of(seg) == Side::Client
    }
    fn closed_for_reuse(&self) -> bool {
        Connection::closed_for_reuse(self)
    }
    fn close_complete(&self) -> bool {
        Connection::close_complete(self)
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
