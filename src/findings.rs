//! The catalogue of finding kinds: every kind tcpshake can report, its stable
//! id, its severity and what it means. Everything else refers to this table.
//!
//! Severity rules: `error` = TCP (RFC 9293) says this must not happen, whatever
//! the capture missed; `warning` = abnormal, but loss, the capture point or the
//! peers' choices can explain it; `info` = notable, not wrong.

use serde::{Serialize, Serializer};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            _ => None,
        }
    }
}

macro_rules! catalogue {
    ($($variant:ident => $id:literal, $sev:ident, $meaning:literal;)*) => {
        /// A kind of finding. The id (snake_case) is stable: scripts and policies use it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FindingKind { $($variant,)* }

        /// Every kind, in catalogue order.
        pub const ALL_KINDS: &[FindingKind] = &[$(FindingKind::$variant,)*];

        impl FindingKind {
            pub fn id(self) -> &'static str {
                match self { $(FindingKind::$variant => $id,)* }
            }
            pub fn severity(self) -> Severity {
                match self { $(FindingKind::$variant => Severity::$sev,)* }
            }
            /// One line: what the finding means.
            pub fn meaning(self) -> &'static str {
                match self { $(FindingKind::$variant => $meaning,)* }
            }
            pub fn from_id(id: &str) -> Option<FindingKind> {
                match id { $($id => Some(FindingKind::$variant),)* _ => None }
            }
        }
    };
}

catalogue! {
    // Handshake (RFC 9293 §3.5).
    SynackWrongAck => "synack_wrong_ack", Error,
        "the SYN-ACK does not acknowledge the client's ISN+1 (plus SYN data for TFO)";
    HandshakeAckWrong => "handshake_ack_wrong", Error,
        "the third ACK's seq is not ISN_c+1 or its ack is not ISN_s+1";
    SynackIsnChanged => "synack_isn_changed", Error,
        "the SYN-ACK was sent again with a different ISN";
    SynackWrongDirection => "synack_wrong_direction", Error,
        "the client, which sent the SYN, sent a SYN-ACK without a SYN from the server";
    // Teardown (RFC 9293 §3.6).
    DataAfterFin => "data_after_fin", Error,
        "data beyond the sender's own FIN";
    FinNotCounted => "fin_not_counted", Error,
        "the peer acknowledged the FIN's own sequence number instead of FIN+1 and went on to close";
    // Every segment.
    MissingAckFlag => "missing_ack_flag", Error,
        "a segment without ACK after synchronization (only RST may omit it)";
    InvalidFlags => "invalid_flags", Error,
        "an impossible flag combination: SYN+FIN, SYN+RST, FIN+RST, no flags, or FIN+PSH+URG without ACK";
    SynRetransmission => "syn_retransmission", Warning,
        "the SYN was sent again with the same ISN";
    SynackRetransmission => "synack_retransmission", Warning,
        "the SYN-ACK was sent again with the same ISN";
    SynIsnChanged => "syn_isn_changed", Warning,
        "the client sent a new SYN with a different ISN before the handshake completed";
    FinRetransmission => "fin_retransmission", Warning,
        "the FIN was sent again";
    DataBeforeEstablished => "data_before_established", Warning,
        "data sent before the sender could have been ESTABLISHED (and not TCP Fast Open)";
    UnexpectedSyn => "unexpected_syn", Warning,
        "a SYN inside an established connection";
    RstOutOfWindow => "rst_out_of_window", Warning,
        "a RST the receiver must ignore (RFC 5961 §3.2 / RFC 9293 §3.10.7): it did not end the connection";
    PortReuse => "port_reuse", Info,
        "a new connection on a 4-tuple already used earlier in the capture";
    TimeWaitReuse => "time_wait_reuse", Info,
        "a new SYN on the 4-tuple within 2·MSL of the previous connection's close";
    SynWithData => "syn_with_data", Info,
        "a SYN carried data without a TCP Fast Open cookie, or a SYN-ACK carried data";
    AckNonzeroWithoutAckFlag => "ack_nonzero_without_ack_flag", Info,
        "the acknowledgment field is non-zero while the ACK flag is clear";
    // Data transfer (RFC 9293 §3.8-3.10; Wireshark's tcp.analysis).
    Retransmission => "retransmission", Warning,
        "the segment resends sequence space already sent (the sender's timer fired)";
    FastRetransmission => "fast_retransmission", Warning,
        "a retransmission right after two or more duplicate ACKs asked for it (RFC 5681 §3.2)";
    SpuriousRetransmission => "spurious_retransmission", Warning,
        "a retransmission of data the receiver had already acknowledged";
    OutOfOrder => "out_of_order", Warning,
        "a segment older than the highest sent, arriving within one round trip: reordered, not resent";
    SegmentGap => "segment_gap", Warning,
        "the segment starts beyond the next expected byte: the bytes in between were not captured";
    AckedUnseen => "acked_unseen", Warning,
        "the peer acknowledges bytes that were never seen in the capture";
    DuplicateAck => "duplicate_ack", Info,
        "a pure ACK repeating the previous ACK and window: the receiver is missing a segment";
    ZeroWindow => "zero_window", Warning,
        "the receiver advertises a zero window: the sender must stop";
    ZeroWindowProbe => "zero_window_probe", Info,
        "one byte sent into a zero window to probe it (RFC 9293 §3.8.6.1)";
    ZeroWindowProbeAck => "zero_window_probe_ack", Info,
        "the answer to a zero-window probe";
    WindowFull => "window_full", Warning,
        "the segment fills the receiver's advertised window exactly";
    WindowUpdate => "window_update", Info,
        "a pure ACK that only changes the advertised window";
    KeepAlive => "keep_alive", Info,
        "a keep-alive: zero or one byte at the next sequence number minus one";
    KeepAliveAck => "keep_alive_ack", Info,
        "the answer to a keep-alive";
    DataBeyondWindow => "data_beyond_window", Warning,
        "data past the right edge of the receiver's advertised window (RFC 9293 §3.8.6)";
    WindowShrink => "window_shrink", Warning,
        "the receiver moved its window's right edge to the left, which RFC 9293 §3.8.6 says it should not";
    AnalysisLimit => "analysis_limit", Info,
        "the list of unacknowledged segments reached its cap; RTT and retransmission timing past it are not measured";
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for FindingKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

/// Which endpoint sent the segment a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// An expected or actual value in a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A raw 32-bit sequence or acknowledgment number.
    Seq(u32),
    Text(String),
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Seq(n) => s.serialize_u32(*n),
            Value::Text(t) => s.serialize_str(t),
        }
    }
}

/// One deviation, tied to the frame where it was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub frame: u64,
    pub from: Side,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
    /// Plain words, with relative numbers (ISN = 0).
    pub message: String,
}

impl Finding {
    pub fn new(kind: FindingKind, frame: u64, from: Side, message: String) -> Finding {
        Finding {
            kind,
            severity: kind.severity(),
            frame,
            from,
            expected: None,
            actual: None,
            message,
        }
    }

    pub fn values(mut self, expected: Value, actual: Value) -> Finding {
        self.expected = Some(expected);
        self.actual = Some(actual);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &k in ALL_KINDS {
            assert_eq!(FindingKind::from_id(k.id()), Some(k));
            assert!(seen.insert(k.id()), "duplicate id {}", k.id());
            assert!(!k.meaning().is_empty());
        }
    }
}
