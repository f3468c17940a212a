//! Data segments: data before the handshake allowed it (RFC 9293 §3.5), data
//! past a FIN (§3.6), and the findings of the data-transfer analysis
//! (§3.8-3.10, `transfer`).

use super::Connection;
use super::state::State;
use super::transfer::Outcome;
use crate::capture::Timestamp;
use crate::decode::TcpSegment;
use crate::findings::{Detail as D, Finding, FindingKind as K, FirstSent, Side, Value, WsItem};
use crate::seq::SeqNumber;

impl Connection {
    /// Data past the sender's own FIN (RFC 9293 §3.6), and data before the
    /// sender could be ESTABLISHED (§3.5, except TCP Fast Open).
    pub(super) fn check_data(&mut self, frame: u64, seg: &TcpSegment<'_>, from: Side) {
        let me = self.peer(from);
        if let Some(fin) = me.fin_seq {
            let end = seg.seq + seg.payload_len;
            if end.gt(fin) {
                let base = me.base;
                self.push(
                    Finding::new(
                        frame,
                        from,
                        D::DataAfterFin {
                            fin: fin.shown(base),
                            end: end.shown(base),
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

    /// A `data_before_established` finding.
    pub(super) fn early_data(frame: u64, from: Side, len: u32, state: State) -> Finding {
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

    /// The findings and Wireshark items of one segment's data-transfer flags
    /// (RFC 9293 §3.8-3.10, as Wireshark's `tcp.analysis` flags them).
    pub(super) fn transfer_findings(
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
        let base = self.peer(from).base;
        let peer_base = self.peer(from.other()).base;
        let rel = |v: SeqNumber| v.shown(base);
        let len = seg.payload_len;
        let start = rel(seg.seq);
        // The last byte, for "bytes a–b"; the next sequence number for data edges.
        let end = rel(seg.seq + len);
        let last = rel(seg.seq + len.saturating_sub(1));
        let first_sent = o.first_sent.map(|(f0, t0)| FirstSent {
            frame: f0,
            earlier: ts.secs_since(t0).max(0.0),
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
                    o.expected_seq
                        .map(|e| (Value::Seq(e.0), Value::Seq(seg.seq.0))),
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
                        ack: seg.ack.shown(peer_base),
                        seen: o.peer_next_seq.map_or(0, |n| n.shown(peer_base)),
                        from: o.acked_unseen_from.map_or(0, |n| n.shown(peer_base)),
                    },
                    o.peer_next_seq
                        .map(|n| (Value::Seq(n.0), Value::Seq(seg.ack.0))),
                ),
                K::DuplicateAck => (
                    D::DuplicateAck {
                        count: o.dup_ack_count,
                        ack: seg.ack.shown(peer_base),
                        original: o.dup_of_frame,
                    },
                    None,
                ),
                K::ZeroWindow => (D::ZeroWindow, None),
                K::ZeroWindowProbe => (D::ZeroWindowProbe { byte: start }, None),
                K::ZeroWindowProbeAck => (D::ZeroWindowProbeAck, None),
                K::WindowFull => (
                    D::WindowFull { end },
                    o.right_edge
                        .map(|edge| (Value::Seq(edge.0), Value::Seq((seg.seq + len).0))),
                ),
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
                            old: old.shown(peer_base),
                            new: new.shown(peer_base),
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
}
