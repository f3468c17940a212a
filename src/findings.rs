//! The catalogue of finding kinds: every kind tcpshake can report, its stable
//! id, its severity, the Wireshark item it corresponds to, whether the
//! data-transfer analysis raises it, and what it means. Everything else refers
//! to this table; the words of each message live in [`wording`] and are put
//! together only when a finding is printed.
//!
//! Severity rules: `error` = TCP (RFC 9293) says this must not happen, whatever
//! the capture missed; `warning` = abnormal, but loss, the capture point or the
//! peers' choices can explain it; `info` = notable, not wrong.

mod wording;

pub use wording::{Detail, FirstSent};

use crate::decode::TcpFlags;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
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
    ($($variant:ident => $id:literal, $sev:ident, $ws:expr, $transfer:literal, $once:literal, $meaning:literal;)*) => {
        /// A kind of finding. The id (snake_case) is stable: scripts and policies use it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FindingKind { $($variant,)* }

        /// Every kind, in catalogue order.
        pub const ALL_KINDS: &[FindingKind] = &[$(FindingKind::$variant,)*];

        /// How many kinds there are (`FindingKind as usize` indexes arrays of this length).
        pub const KIND_COUNT: usize = [$(FindingKind::$variant,)*].len();

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
            /// The Wireshark item flagged on exactly the frames this finding is about.
            pub fn wireshark_item(self) -> Option<WsItem> {
                use WsItem::*;
                match self { $(FindingKind::$variant => $ws,)* }
            }
            /// Raised by the data-transfer analysis (a flag of its per-segment outcome).
            pub fn is_transfer(self) -> bool {
                match self { $(FindingKind::$variant => $transfer,)* }
            }
            /// Repeats from the same side are consequences of one event (one FIN
            /// followed by more data): listed once per connection, with a count.
            pub fn reported_once(self) -> bool {
                match self { $(FindingKind::$variant => $once,)* }
            }
            pub fn from_id(id: &str) -> Option<FindingKind> {
                match id { $($id => Some(FindingKind::$variant),)* _ => None }
            }
        }
    };
}

macro_rules! wireshark_items {
    ($($variant:ident => $name:literal,)*) => {
        /// Wireshark's expert items and connection items that tcpshake counts,
        /// in the order of [`WS_ITEMS`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum WsItem { $($variant,)* }

        /// Display-filter names of Wireshark's items, indexed by [`WsItem`].
        pub const WS_ITEMS: [&str; [$($name,)*].len()] = [$($name,)*];

        impl WsItem {
            pub fn name(self) -> &'static str {
                WS_ITEMS[self as usize]
            }
        }
    };
}

wireshark_items! {
    Retransmission => "tcp.analysis.retransmission",
    FastRetransmission => "tcp.analysis.fast_retransmission",
    SpuriousRetransmission => "tcp.analysis.spurious_retransmission",
    OutOfOrder => "tcp.analysis.out_of_order",
    LostSegment => "tcp.analysis.lost_segment",
    AckLostSegment => "tcp.analysis.ack_lost_segment",
    DuplicateAck => "tcp.analysis.duplicate_ack",
    ZeroWindow => "tcp.analysis.zero_window",
    ZeroWindowProbe => "tcp.analysis.zero_window_probe",
    ZeroWindowProbeAck => "tcp.analysis.zero_window_probe_ack",
    WindowFull => "tcp.analysis.window_full",
    WindowUpdate => "tcp.analysis.window_update",
    KeepAlive => "tcp.analysis.keep_alive",
    KeepAliveAck => "tcp.analysis.keep_alive_ack",
    Flags => "tcp.analysis.flags",
    Syn => "tcp.connection.syn",
    Synack => "tcp.connection.synack",
    Fin => "tcp.connection.fin",
    FinActive => "tcp.connection.fin_active",
    FinPassive => "tcp.connection.fin_passive",
    Rst => "tcp.connection.rst",
    AckNonzero => "tcp.ack.nonzero",
    ReusedPorts => "tcp.analysis.reused_ports",
}

// Columns: id, severity, Wireshark item on the same frames, raised by the
// data-transfer analysis, listed once per side with a count, meaning.
catalogue! {
    // Handshake (RFC 9293 §3.5).
    SynackWrongAck => "synack_wrong_ack", Error, None, false, false,
        "the SYN-ACK does not acknowledge the client's ISN+1 (plus SYN data for TFO)";
    HandshakeAckWrong => "handshake_ack_wrong", Error, None, false, false,
        "the third ACK's seq is not ISN_c+1 or its ack is not ISN_s+1";
    SynackIsnChanged => "synack_isn_changed", Error, None, false, false,
        "the SYN-ACK was sent again with a different ISN";
    SynackWrongDirection => "synack_wrong_direction", Error, None, false, false,
        "the client, which sent the SYN, sent a SYN-ACK without a SYN from the server";
    // Teardown (RFC 9293 §3.6).
    DataAfterFin => "data_after_fin", Error, None, false, true,
        "data beyond the sender's own FIN";
    FinInsideData => "fin_inside_data", Error, None, false, false,
        "a FIN placed before the end of data its sender had already sent (RFC 9293 §3.6: the FIN follows the last data octet)";
    FinNotCounted => "fin_not_counted", Error, None, false, false,
        "the peer acknowledged the FIN's own sequence number instead of FIN+1 and went on to close";
    // Every segment.
    MissingAckFlag => "missing_ack_flag", Error, None, false, false,
        "a segment without ACK after synchronization (only RST may omit it)";
    InvalidFlags => "invalid_flags", Error, None, false, false,
        "an impossible flag combination: SYN+FIN, SYN+RST, FIN+RST, no flags, or FIN+PSH+URG without ACK";
    ScanProbe => "scan_probe", Warning, None, false, false,
        "a segment without SYN, ACK or RST outside any connection (FIN, PSH, no flags, FIN+PSH+URG): a stealth port-scan probe";
    SynRetransmission => "syn_retransmission", Warning, None, false, false,
        "the SYN was sent again with the same ISN";
    SynackRetransmission => "synack_retransmission", Warning, None, false, false,
        "the SYN-ACK was sent again with the same ISN";
    SynIsnChanged => "syn_isn_changed", Warning, None, false, false,
        "the client sent a new SYN with a different ISN before the handshake completed";
    FinRetransmission => "fin_retransmission", Warning, None, false, false,
        "the FIN was sent again";
    DataBeforeEstablished => "data_before_established", Warning, None, false, false,
        "data sent before the sender could have been ESTABLISHED (and not TCP Fast Open)";
    UnexpectedSyn => "unexpected_syn", Warning, None, false, false,
        "a SYN inside an established connection";
    RstOutOfWindow => "rst_out_of_window", Warning, None, false, false,
        "a RST the receiver must ignore (RFC 5961 §3.2 / RFC 9293 §3.10.7): it did not end the connection";
    PortReuse => "port_reuse", Info, Some(ReusedPorts), false, false,
        "a new connection on a 4-tuple already used earlier in the capture";
    TimeWaitReuse => "time_wait_reuse", Info, None, false, false,
        "a new SYN on the 4-tuple within 2·MSL of the previous connection's close";
    SynWithData => "syn_with_data", Info, None, false, false,
        "a SYN carried data without a TCP Fast Open cookie, or a SYN-ACK carried data";
    AckNonzeroWithoutAckFlag => "ack_nonzero_without_ack_flag", Info, None, false, false,
        "the acknowledgment field is non-zero while the ACK flag is clear";
    // Data transfer (RFC 9293 §3.8-3.10; Wireshark's tcp.analysis).
    Retransmission => "retransmission", Warning, Some(Retransmission), true, false,
        "the segment resends sequence space already sent (the sender's timer fired)";
    FastRetransmission => "fast_retransmission", Warning, Some(FastRetransmission), true, false,
        "a retransmission right after two or more duplicate ACKs asked for it (RFC 5681 §3.2)";
    SpuriousRetransmission => "spurious_retransmission", Warning, Some(SpuriousRetransmission), true, false,
        "a retransmission of data the receiver had already acknowledged";
    OutOfOrder => "out_of_order", Warning, Some(OutOfOrder), true, false,
        "a segment older than the highest sent, arriving within one round trip: reordered, not resent";
    SegmentGap => "segment_gap", Warning, Some(LostSegment), true, false,
        "the segment starts beyond the next expected byte: the bytes in between were not captured";
    AckedUnseen => "acked_unseen", Warning, Some(AckLostSegment), true, false,
        "the peer acknowledges bytes that were never seen in the capture";
    DuplicateAck => "duplicate_ack", Info, Some(DuplicateAck), true, false,
        "a pure ACK repeating the previous ACK and window: the receiver is missing a segment";
    ZeroWindow => "zero_window", Warning, Some(ZeroWindow), true, false,
        "the receiver advertises a zero window: the sender must stop";
    ZeroWindowProbe => "zero_window_probe", Info, Some(ZeroWindowProbe), true, false,
        "one byte sent into a zero window to probe it (RFC 9293 §3.8.6.1)";
    ZeroWindowProbeAck => "zero_window_probe_ack", Info, Some(ZeroWindowProbeAck), true, false,
        "the answer to a zero-window probe";
    WindowFull => "window_full", Warning, Some(WindowFull), true, false,
        "the segment fills the receiver's advertised window exactly";
    WindowUpdate => "window_update", Info, Some(WindowUpdate), true, false,
        "a pure ACK that only changes the advertised window";
    KeepAlive => "keep_alive", Info, Some(KeepAlive), true, false,
        "a keep-alive: zero or one byte at the next sequence number minus one";
    KeepAliveAck => "keep_alive_ack", Info, Some(KeepAliveAck), true, false,
        "the answer to a keep-alive";
    DataBeyondWindow => "data_beyond_window", Warning, None, true, false,
        "data past the right edge of the receiver's advertised window (RFC 9293 §3.8.6)";
    WindowShrink => "window_shrink", Warning, None, true, false,
        "the receiver moved its window's right edge to the left, which RFC 9293 §3.8.6 says it should not";
    AnalysisLimit => "analysis_limit", Info, None, true, false,
        "the list of unacknowledged segments reached its cap; RTT and retransmission timing past it are not measured";
    // News from the network about the connection (RFC 792, RFC 4443, RFC 1191).
    IcmpFragNeeded => "icmp_frag_needed", Warning, None, false, false,
        "a router could not forward a segment without fragmenting it (ICMP fragmentation needed / packet too big, RFC 1191 / RFC 8201): path MTU discovery at work, or a black hole";
    IcmpUnreachable => "icmp_unreachable", Warning, None, false, false,
        "an ICMP destination unreachable (port, host, network, administratively prohibited) quoting a segment of the connection";
    IcmpTtlExceeded => "icmp_ttl_exceeded", Info, None, false, false,
        "an ICMP time exceeded quoting a segment of the connection: a routing loop, or a traceroute";
    // IP fragments (RFC 791 §3.2, RFC 8200 §4.5, RFC 5722).
    FragmentOverlap => "fragment_overlap", Error, None, false, false,
        "two fragments of a datagram carried different bytes for the same offsets: an evasion attempt (RFC 5722), which no sender does";
    FragmentsIncomplete => "fragments_incomplete", Warning, None, false, false,
        "a fragmented datagram never became whole (timeout or end of capture)";
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A raw 32-bit sequence or acknowledgment number.
    Seq(u32),
    Text(&'static str),
    /// A flag combination, written as Wireshark lists it (`SYN, FIN`).
    Flags(TcpFlags),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Seq(n) => write!(f, "{n}"),
            Value::Text(t) => f.write_str(t),
            Value::Flags(x) => write!(f, "{x}"),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Seq(n) => s.serialize_u32(*n),
            Value::Text(t) => s.serialize_str(t),
            Value::Flags(x) => s.collect_str(x),
        }
    }
}

/// One deviation, tied to the frame where it was seen.
///
/// Plain `Copy` data: the numbers are kept as they were seen and the message
/// is worded by the catalogue ([`Finding::message`]) only when printed, so a
/// finding that a cap drops costs nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub frame: u64,
    pub from: Side,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
    /// The numbers the message is worded from (relative numbers: ISN = 0).
    pub detail: Detail,
    /// Occurrences this entry stands for: more than 1 for a kind reported
    /// once per side ([`FindingKind::reported_once`]).
    pub count: u64,
    /// The frame of the last occurrence.
    pub last_frame: u64,
}

impl Finding {
    pub fn new(frame: u64, from: Side, detail: Detail) -> Finding {
        let kind = detail.kind();
        Finding {
            kind,
            severity: kind.severity(),
            frame,
            from,
            expected: None,
            actual: None,
            detail,
            count: 1,
            last_frame: frame,
        }
    }

    pub fn values(mut self, expected: Value, actual: Value) -> Finding {
        self.expected = Some(expected);
        self.actual = Some(actual);
        self
    }

    /// The message in plain words, with relative numbers (ISN = 0).
    pub fn message(&self) -> Message<'_> {
        Message(self)
    }
}

/// A finding's message, worded when displayed.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a>(&'a Finding);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        wording::write(f, self.0)
    }
}

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let repeated = self.count > 1;
        let mut st = s.serialize_struct("Finding", if repeated { 9 } else { 7 })?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("frame", &self.frame)?;
        st.serialize_field("from", &self.from)?;
        st.serialize_field("expected", &self.expected)?;
        st.serialize_field("actual", &self.actual)?;
        st.serialize_field("message", &self.message())?;
        if repeated {
            st.serialize_field("count", &self.count)?;
            st.serialize_field("last_frame", &self.last_frame)?;
        }
        st.end()
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

    #[test]
    fn transfer_kinds_fit_one_flag_word() {
        // The transfer analysis keeps its flags as one bit per kind.
        assert!(ALL_KINDS.len() <= 64);
        // Only transfer kinds (and port reuse, counted by the tracker) name a Wireshark item.
        for &k in ALL_KINDS {
            if k.wireshark_item().is_some() {
                assert!(k.is_transfer() || k == FindingKind::PortReuse, "{k}");
            }
        }
        assert_eq!(WsItem::ReusedPorts.name(), "tcp.analysis.reused_ports");
        assert_eq!(WS_ITEMS[WsItem::Flags as usize], "tcp.analysis.flags");
    }
}
