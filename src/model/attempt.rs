//! Per-connection facts about the opening attempt, for the server view
//! (`tcpshake servers`, docs/servers.md): how many SYNs it took, how long the
//! client waited, what the SYN and SYN-ACK offered, and where a RST fell.

use schemars::JsonSchema;
use serde::Serialize;

/// What a SYN or SYN-ACK offered (RFC 9293 §3.7.1 MSS, RFC 7323 window scale
/// and timestamps, RFC 2018 SACK-permitted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SynOptions {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack: bool,
    pub timestamps: bool,
}

/// Where in the connection's life a RST fell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RstPhase {
    /// Before the handshake completed, or in answer to its final ACK.
    Handshake,
    Established,
    /// After a FIN.
    Close,
}

impl RstPhase {
    pub const ALL: [RstPhase; 3] = [RstPhase::Handshake, RstPhase::Established, RstPhase::Close];

    pub fn as_str(self) -> &'static str {
        match self {
            RstPhase::Handshake => "handshake",
            RstPhase::Established => "established",
            RstPhase::Close => "close",
        }
    }
}

/// The opening attempt of a connection, as the wire showed it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, JsonSchema)]
pub struct AttemptFacts {
    /// Seconds from the first SYN to the last one (0 with a single SYN).
    pub last_syn_after: Option<f64>,
    /// SYN-ACKs the server sent (first and retransmitted).
    pub synacks: u32,
    /// SYN-ACKs the server sent again after the capture saw the client's
    /// final ACK: the server did not take that ACK (a full accept queue).
    pub synacks_after_final_ack: u32,
    /// The server's first word after the final ACK was a RST
    /// (Linux `tcp_abort_on_overflow = 1`).
    pub rst_answers_final_ack: bool,
    /// The server answered the SYN with a bare ACK of another sequence
    /// space (RFC 9293 §3.10.7.4 / RFC 5961 §4: a challenge ACK from TIME-WAIT).
    pub challenge_ack: bool,
    pub syn_options: Option<SynOptions>,
    pub synack_options: Option<SynOptions>,
    /// TSval of the first SYN (RFC 7323 §5, PAWS).
    pub syn_tsval: Option<u32>,
    pub rst_from: Option<crate::findings::Side>,
    pub rst_phase: Option<RstPhase>,
    /// Seconds from the start of the connection to its first accepted RST.
    pub rst_after: Option<f64>,
}
