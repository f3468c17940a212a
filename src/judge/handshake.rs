//! The three-way handshake (RFC 9293 §3.5): SYN, SYN-ACK, the third ACK, and
//! simultaneous open (figure 8); retransmitted and changed SYNs.

use super::Connection;
use super::state::State;
use crate::capture::Timestamp;
use crate::decode::TcpSegment;
use crate::findings::{Detail as D, Finding, Side, Value};
use crate::seq::SeqNumber;

impl Connection {
    /// A SYN without ACK (RFC 9293 §3.5, §3.10.7.2-3): the client's first or
    /// resent SYN, the server's SYN of a simultaneous open, or a SYN that does
    /// not belong. Returns whether the SYN joins this connection's sequence space.
    pub(super) fn on_syn(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        from: Side,
    ) -> bool {
        let established = self.handshake_done();
        let mut accepted = true;
        match from {
            Side::Client => match self.c.isn {
                None => {
                    self.attempt.syn(ts, seg);
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
                        self.attempt.syn(ts, seg);
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
                        self.attempt.syn(ts, seg);
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

    /// A SYN-ACK (RFC 9293 §3.5, figure 6 step 3; figure 8 for simultaneous
    /// open). Returns whether it joins this connection's sequence space.
    pub(super) fn on_synack(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        from: Side,
    ) -> bool {
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
                                saw: seg.ack.relative_to(sisn) as i32,
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
        self.attempt.synack(seg, self.final_ack.is_some());
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

    /// The server's first SYN-ACK: LISTEN → SYN-RECEIVED (RFC 9293 §3.5), and
    /// window scaling only when both sides offered it (RFC 7323 §2.2).
    pub(super) fn record_synack(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>) {
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
            // A clock that stepped back between them gives no measurement.
            let rtt = ts.secs_since(syn_ts);
            self.rtt_syn_synack = (rtt >= 0.0).then_some(rtt);
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

    /// The SYN-ACK acknowledges the client's ISN+1, or ISN+1 plus SYN data
    /// (TCP Fast Open, RFC 7413), or the ISN of a SYN the client replaced.
    pub(super) fn synack_ack_ok(&self, ack: SeqNumber) -> bool {
        let Some(isn) = self.c.isn else { return true };
        ack == isn + 1
            || ack == isn + 1 + self.c.syn_data_len
            || self.c.old_isn.is_some_and(|old| ack == old + 1)
    }

    /// RFC 9293 §3.10.7.3: a SYN-ACK that does not acknowledge the SYN is not
    /// acceptable to the client.
    pub(super) fn check_synack_ack(&mut self, frame: u64, ack: SeqNumber) {
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

    /// SYN-SENT → ESTABLISHED on an acceptable SYN-ACK (RFC 9293 §3.10.7.3).
    pub(super) fn client_receives_synack(&mut self) {
        if matches!(
            self.c.state,
            State::SynSent | State::SynReceived | State::Listen | State::Closed
        ) {
            self.c.state = State::Established;
        }
        self.c.synchronized = true;
    }

    /// A RST with seq = the third ACK's ack, as the server's very next segment,
    /// is the reply RFC 9293 §3.10.7.3 prescribes in SYN-RECEIVED for an
    /// unacceptable ACK: whatever side of ISN_s+1 the ack lay, the server
    /// rejected it, and the handshake never completed.
    pub(super) fn rst_answers_third_ack(&mut self, seg: &TcpSegment<'_>) {
        let (Some((frame, ack, before)), Some(sisn)) = (self.third_ack, self.s.isn) else {
            return;
        };
        // This RST is already counted in `packets`.
        if self.reset_by.is_some()
            || seg.seq != ack
            || ack == sisn + 1
            || self.s.packets != before + 1
        {
            return;
        }
        self.third_ack = None;
        if self.final_ack.take().is_some() {
            self.attempt.established = None;
            self.rtt_synack_ack = None;
            self.push(
                Finding::new(
                    frame,
                    Side::Client,
                    D::ThirdAckWrongAck {
                        expected_raw: (sisn + 1).0,
                        saw: ack.relative_to(sisn) as i32,
                        saw_raw: ack.0,
                    },
                )
                .values(Value::Seq((sisn + 1).0), Value::Seq(ack.0)),
            );
        }
    }

    /// The third ACK (RFC 9293 §3.5, figure 6): seq ISN_c+1, ack ISN_s+1; and the
    /// ACKs that synchronize a simultaneous open.
    pub(super) fn ack_in_handshake(
        &mut self,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        from: Side,
    ) {
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
                self.third_ack = Some((frame, seg.ack, self.s.packets));
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
                self.attempt.established = Some(ts);
                if let Some(t) = self.synack_ts {
                    let rtt = ts.secs_since(t);
                    self.rtt_synack_ack = (rtt >= 0.0).then_some(rtt);
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
    }
}
