//! Teardown (RFC 9293 §3.6): FIN, the acknowledgment of a FIN, simultaneous
//! close (figure 13), RST (§3.10.7 and RFC 5961 §3.2), the checks that need the
//! whole connection, and a new connection on a 4-tuple in TIME-WAIT (§3.4.2).

use super::Connection;
use super::state::State;
use crate::capture::Timestamp;
use crate::decode::TcpSegment;
use crate::findings::{Detail as D, Finding, Side, Value, WsItem};
use crate::flow::PreviousUse;
use crate::seq::SeqNumber;

impl Connection {
    /// A SYN on a 4-tuple used earlier in the capture: port reuse, and within
    /// 2·MSL of a FIN close a possible TIME-WAIT reuse (RFC 9293 §3.4.2, §3.6).
    pub(super) fn note_reuse(
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
        let gap = ts.secs_since(prev.ended).max(0.0);
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

    /// A RST (RFC 9293 §3.10.7.3 in SYN-SENT, §3.10.7.4 otherwise, with RFC
    /// 5961 §3.2): acceptable only in the receive window; it closes both ends.
    pub(super) fn on_rst(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>, from: Side) {
        if self.reset_by.is_some() {
            return;
        }
        // Where the RST falls, for the attempt facts, is told by the states
        // it finds, not those it leaves.
        let handshake_done = self.handshake_done();
        let to = from.other();
        let receiver = self.peer(to);
        let sender = self.peer(from);
        let mut why = None;
        if to == Side::Client && self.c.state == State::SynSent && self.s.isn.is_none() {
            // RFC 9293 §3.10.7.3: in SYN-SENT a RST counts only if it acknowledges the SYN.
            let isn = self.c.isn.unwrap_or_default();
            // A RST without ACK whose seq is the ack of an ACK the client sent
            // answers that ACK, as a port with no connection for it does
            // (RFC 9293 §3.10.7.1: <SEQ=SEG.ACK><CTL=RST>): the client had
            // left SYN-SENT on a SYN-ACK the capture missed.
            let answers_ack = !seg.flags.ack() && self.c.max_ack == Some(seg.seq);
            let ok = answers_ack
                || seg.flags.ack()
                    && (seg.ack == isn + 1 || seg.ack == isn + 1 + self.c.syn_data_len);
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
                let base = sender.base;
                let low = rcv_nxt.shown(base);
                why = Some(D::RstOutOfWindow {
                    low,
                    // The edge is `wnd` past the low end, even when the
                    // assumed window (2^31) reaches the sign bit.
                    high: low + wnd as i64,
                    saw: seg.seq.shown(base),
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
        self.note_rst(ts, from, handshake_done);
    }

    /// A FIN (RFC 9293 §3.6, §3.10.7.4 eighth step): the first moves the sender
    /// to FIN-WAIT-1 or LAST-ACK and the receiver to CLOSE-WAIT, CLOSING or
    /// TIME-WAIT; crossing FINs are a simultaneous close (figure 13).
    pub(super) fn on_fin(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>, from: Side) {
        if self.reset_by.is_some() {
            // The RST destroyed both TCBs (RFC 9293 §3.10.7): a later FIN
            // closes nothing.
            return;
        }
        let fs = seg.seq + seg.payload_len;
        let to = from.other();
        match self.peer(from).fin_seq {
            None => {
                self.check_fin_inside_data(frame, fs, from);
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
                let base = self.peer(from).base;
                self.push(Finding::new(
                    frame,
                    from,
                    D::FinRetransmission {
                        seq: fs.shown(base),
                    },
                ));
            }
            Some(prev) => {
                if fs.gt(prev) && seg.payload_len == 0 {
                    let base = self.peer(from).base;
                    self.push(
                        Finding::new(
                            frame,
                            from,
                            D::FinMoved {
                                fin: prev.shown(base),
                                saw: fs.shown(base),
                            },
                        )
                        .values(Value::Seq(prev.0), Value::Seq(fs.0)),
                    );
                }
            }
        }
    }

    /// A first FIN below the end of data its sender already sent: RFC 9293 §3.6
    /// puts the FIN at the sequence number after the last data octet. A resent
    /// FIN (same number) never reaches here, and a FIN at the right edge after
    /// resent data is at `data_end`, not below it.
    fn check_fin_inside_data(&mut self, frame: u64, fs: SeqNumber, from: Side) {
        let me = self.peer(from);
        let Some(end) = me.data_end else { return };
        if !fs.lt(end) || me.isn.is_some_and(|isn| fs.le(isn)) {
            return;
        }
        let base = me.base;
        self.peer_mut(from).fin_inside_data = true;
        self.push(
            Finding::new(
                frame,
                from,
                D::FinInsideData {
                    fin: fs.shown(base),
                    end: end.shown(base),
                },
            )
            .values(Value::Seq(end.0), Value::Seq(fs.0)),
        );
    }

    /// Findings that need the whole connection: the FIN acknowledged without +1.
    pub(super) fn final_checks(&mut self) {
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
                let base = x.base;
                let other = side.other();
                self.push(
                    Finding::new(
                        frame,
                        other,
                        D::FinNotCounted {
                            expected: (fs + 1).shown(base),
                            expected_raw: (fs + 1).0,
                            saw: fs.shown(base),
                            saw_raw: fs.0,
                            ack_frame,
                        },
                    )
                    .values(Value::Seq((fs + 1).0), Value::Seq(fs.0)),
                );
            }
        }
    }

    /// Acknowledgment of the peer's FIN (RFC 9293 §3.10.7.4, fifth step:
    /// FIN-WAIT-1, CLOSING and LAST-ACK).
    pub(super) fn ack_of_fin(&mut self, frame: u64, seg: &TcpSegment<'_>, from: Side) {
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
    }
}
