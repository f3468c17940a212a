//! What the judge says of one connection: verdicts (docs/verdicts.md), both
//! endpoints' RFC 9293 §3.3.2 states, figures and findings. Plain data that
//! `report`, `check` and `ladder` read.

use crate::capture::Timestamp;
use crate::decode::TunnelPath;
use crate::findings::{ALL_KINDS, Finding, FindingKind, KIND_COUNT, WS_ITEMS};
use crate::flow::Endpoint;
use crate::model::ids::{FlowIds, IsoTime};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// The state of one endpoint, reconstructed from the segments that went by.
/// Named as RFC 9293 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Closed,
    Listen,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN-SENT",
            State::SynReceived => "SYN-RECEIVED",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::CloseWait => "CLOSE-WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST-ACK",
            State::TimeWait => "TIME-WAIT",
        }
    }

    /// RFC 9293 §3.3.2: the synchronized states.
    pub fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynReceived
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for State {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl JsonSchema for State {
    fn schema_name() -> Cow<'static, str> {
        "State".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An RFC 9293 §3.3.2 connection state.",
            "type": "string",
            "enum": ["CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
                     "FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT"]
        })
    }
}

/// How the three-way handshake (RFC 9293 §3.5) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Handshake {
    Complete,
    SimultaneousOpen,
    Refused,
    Unanswered,
    NoFinalAck,
    Aborted,
    Invalid,
    NotObserved,
}

/// How the connection ended (RFC 9293 §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Close {
    Graceful,
    Simultaneous,
    HalfClosed,
    UnackedFin,
    Reset,
    Open,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBy {
    Client,
    Server,
    Both,
}

impl Handshake {
    pub const ALL: [Handshake; 8] = [
        Handshake::Complete,
        Handshake::SimultaneousOpen,
        Handshake::Refused,
        Handshake::Unanswered,
        Handshake::NoFinalAck,
        Handshake::Aborted,
        Handshake::Invalid,
        Handshake::NotObserved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Handshake::Complete => "complete",
            Handshake::SimultaneousOpen => "simultaneous_open",
            Handshake::Refused => "refused",
            Handshake::Unanswered => "unanswered",
            Handshake::NoFinalAck => "no_final_ack",
            Handshake::Aborted => "aborted",
            Handshake::Invalid => "invalid",
            Handshake::NotObserved => "not_observed",
        }
    }

    pub fn parse(s: &str) -> Option<Handshake> {
        Self::ALL.into_iter().find(|h| h.as_str() == s)
    }

    /// Did the connection reach a synchronized state (or was it already there)?
    pub fn established(self) -> bool {
        matches!(
            self,
            Handshake::Complete | Handshake::SimultaneousOpen | Handshake::NotObserved
        )
    }
}

impl Close {
    pub const ALL: [Close; 7] = [
        Close::Graceful,
        Close::Simultaneous,
        Close::HalfClosed,
        Close::UnackedFin,
        Close::Reset,
        Close::Open,
        Close::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Close::Graceful => "graceful",
            Close::Simultaneous => "simultaneous",
            Close::HalfClosed => "half_closed",
            Close::UnackedFin => "unacked_fin",
            Close::Reset => "reset",
            Close::Open => "open",
            Close::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Close> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl ClosedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Client => "client",
            ClosedBy::Server => "server",
            ClosedBy::Both => "both",
        }
    }
}

impl fmt::Display for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Close {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-direction figures in reports.
#[derive(Debug, Clone, Default, Serialize, PartialEq, JsonSchema)]
pub struct DirectionStats {
    pub retransmitted_segments: u64,
    pub retransmitted_bytes: u64,
    pub out_of_order: u64,
    pub gaps: u64,
    /// Bytes missing from the capture in those gaps.
    pub missing_bytes: u64,
    /// Seconds this side advertised a zero window.
    pub zero_window_time: f64,
    pub rtt_samples: u64,
    pub rtt_min: Option<f64>,
    pub rtt_median: Option<f64>,
    pub rtt_max: Option<f64>,
    /// The window scale was negotiated out of sight: window checks were skipped.
    pub window_scale_unknown: bool,
    /// The unacknowledged-segment list reached its cap.
    pub unacked_cap_reached: bool,
    /// Segments sent while the list was full, so not tracked: their RTT and
    /// whether their acknowledgement was seen are unknown.
    #[serde(skip_serializing_if = "is_zero")]
    pub unacked_untracked: u64,
}

/// Counts of Wireshark's items (indexed by [`crate::findings::WsItem`]),
/// serialized as a map of the non-zero ones.
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

/// Data-transfer figures per direction.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct TransferReport {
    pub client: DirectionStats,
    pub server: DirectionStats,
}

/// Per-direction numbers in reports.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, JsonSchema)]
pub struct PerSide {
    pub client: u64,
    pub server: u64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, JsonSchema)]
pub struct Isns {
    pub client: Option<u32>,
    pub server: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, JsonSchema)]
pub struct HandshakeRtt {
    pub syn_to_synack: Option<f64>,
    pub synack_to_ack: Option<f64>,
}

/// The verdict on a finished connection: what reports print.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConnectionReport {
    /// Unique in the run, in order of the connection's first frame.
    pub id: u64,
    /// The capture file (or interface) it was found in.
    #[schemars(with = "String")]
    pub file: std::sync::Arc<str>,
    /// `ip:port` (`[v6]:port`) of the side that sent the first SYN.
    #[schemars(with = "String")]
    pub client: Endpoint,
    #[schemars(with = "String")]
    pub server: Endpoint,
    /// The endpoints as separate fields (Zeek's `id.orig_h` …) and the Community ID.
    #[serde(flatten)]
    #[schemars(with = "crate::model::ids::FlowIdsSchema")]
    pub ids: FlowIds,
    /// 1-based frame numbers, as Wireshark counts them.
    pub first_frame: u64,
    pub last_frame: u64,
    /// Epoch seconds of the first frame.
    #[schemars(with = "f64")]
    pub start: Timestamp,
    /// The same instant, ISO 8601 UTC.
    #[schemars(with = "String")]
    pub start_iso: IsoTime,
    /// Seconds from the first to the last frame.
    pub duration: f64,
    pub handshake: Handshake,
    pub close: Close,
    pub closed_by: Option<ClosedBy>,
    pub client_state: State,
    pub server_state: State,
    /// Zeek's `conn_state`.
    pub conn_state: &'static str,
    /// Zeek's `history`.
    pub history: String,
    /// Wireshark's `tcp.completeness` bitmask.
    pub completeness: u8,
    pub packets: PerSide,
    pub payload_bytes: PerSide,
    pub handshake_rtt: HandshakeRtt,
    /// Each side's initial sequence number (raw), when its SYN was seen.
    pub isn: Isns,
    pub transfer: TransferReport,
    /// Wireshark's `tcp.analysis.*` and `tcp.connection.*` items: frames carrying each.
    #[schemars(with = "BTreeMap<String, u32>")]
    pub tcp_analysis: WiresharkCounts,
    /// Ordered by frame; at most [`MAX_FINDINGS`] of each severity.
    #[schemars(with = "Vec<crate::model::ids::FindingSchema>")]
    pub findings: Vec<Finding>,
    /// Findings beyond the per-connection cap, counted but not listed.
    #[serde(skip_serializing_if = "is_zero")]
    #[schemars(default)]
    pub findings_suppressed: u64,
    /// The same, by kind.
    #[serde(skip_serializing_if = "KindCounts::is_empty")]
    #[schemars(with = "BTreeMap<String, u64>", default)]
    pub suppressed: KindCounts,
    /// The table was full and this connection was ended early (`--max-connections`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schemars(default)]
    pub evicted: bool,
    /// The tunnels the connection was carried in, innermost first (e.g.
    /// `["vxlan:vni=42", "ipv4:10.0.0.1→10.0.0.2"]`); omitted when none.
    #[serde(skip_serializing_if = "TunnelPath::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub tunnel: TunnelPath,
    /// SYNs the client sent for this connection (1 when answered on the first).
    pub syn_count: u32,
    /// Seconds from the client's first SYN to the ACK that completed the
    /// handshake: how long the client waited, SYN retransmissions included.
    pub time_to_establish: Option<f64>,
    /// The opening attempt in detail, for the server view (docs/servers.md).
    pub attempt: crate::model::attempt::AttemptFacts,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Most findings listed per connection and severity; the rest are counted by
/// kind in [`ConnectionReport::suppressed`].
pub const MAX_FINDINGS: usize = 256;

/// A count per finding kind, serialized as a map of the non-zero ones in
/// catalogue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindCounts(pub [u64; KIND_COUNT]);

impl Default for KindCounts {
    fn default() -> KindCounts {
        KindCounts([0; KIND_COUNT])
    }
}

impl KindCounts {
    pub fn add(&mut self, kind: FindingKind, n: u64) {
        self.0[kind as usize] += n;
    }

    pub fn get(&self, kind: FindingKind) -> u64 {
        self.0[kind as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&n| n == 0)
    }

    /// The non-zero counts, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = (FindingKind, u64)> + '_ {
        ALL_KINDS
            .iter()
            .map(|&k| (k, self.0[k as usize]))
            .filter(|&(_, n)| n > 0)
    }
}

impl Serialize for KindCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.iter() {
            m.serialize_entry(k.id(), &v)?;
        }
        m.end()
    }
}

impl ConnectionReport {
    /// The handshake or the close went wrong: refused, unanswered, reset,
    /// half-closed … Still-open connections (the capture ended) and
    /// connections picked up mid-stream are not failures.
    pub fn failed(&self) -> bool {
        let hs_ok = matches!(
            self.handshake,
            Handshake::Complete | Handshake::SimultaneousOpen | Handshake::NotObserved
        );
        let close_ok = matches!(
            self.close,
            Close::Graceful | Close::Simultaneous | Close::Open
        );
        !(hs_ok && close_ok)
    }

    /// Every finding of the connection by kind: listed ones (with their
    /// repeats) and those past the cap.
    pub fn finding_counts(&self) -> KindCounts {
        let mut all = self.suppressed;
        for f in &self.findings {
            all.add(f.kind, f.count);
        }
        all
    }
}
