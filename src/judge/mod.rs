//! The connection judge: reconstructs both endpoints' RFC 9293 states from the
//! segments that went by, checks every handshake and teardown segment's
//! sequence and acknowledgment numbers, and gives each connection a verdict.
//!
//! One file a concern, each an `impl Connection` block: [`connection`]
//! (per-peer state and the per-segment dispatch), `handshake` (§3.5),
//! `data` (data checks and the transfer findings), `teardown` (§3.6 and RST,
//! §3.10.7), `wireshark` (Wireshark's item counters), `verdict` and `finish`
//! (the report).

mod attempt;
pub mod completeness;
mod connection;
mod data;
mod finish;
mod handshake;
mod packed;
mod state;
mod teardown;
#[cfg(test)]
mod tests;
pub mod transfer;
mod verdict;
mod wireshark;
pub mod zeek;

pub use connection::{Connection, MAX_FINDINGS};
pub use packed::PackedConnection;
pub use state::State;
// Report data lives in `crate::model` and flow types in `crate::flow`; these
// names stay here for callers that take everything from the judge.
pub use crate::flow::{Endpoint, PreviousUse};
pub use crate::model::connection::{
    Close, ClosedBy, ConnectionReport, Handshake, HandshakeRtt, Isns, PerSide,
};

use crate::flow::{Limits, Settings};

/// Timeouts and limits. Times are capture time, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Config {
    /// A connection silent this long ends (Zeek's `tcp_inactivity_timeout`, 5 min).
    pub idle_timeout: i64,
    /// After a complete close (both FINs, or a RST), a connection lingers this
    /// long for late segments (Zeek's `tcp_close_delay`, 5 s).
    pub close_timeout: i64,
    /// A SYN that nothing answered ends this long after its last retransmission
    /// (Zeek's `tcp_attempt_delay`, 5 s). Retransmissions of that SYN always join it.
    pub attempt_timeout: i64,
    /// 2·MSL (RFC 9293 §3.4.2): a new SYN this soon after a close is a TIME-WAIT reuse.
    pub two_msl: i64,
    /// Most live connections kept; beyond it the longest-idle ones are evicted.
    pub max_connections: usize,
    /// Zeek's `likely_server_ports`, used only for the Zeek-compatible fields.
    pub likely_server_ports: Vec<u16>,
}

impl Default for Config {
    fn default() -> Config {
        let l = Limits::default();
        Config {
            idle_timeout: l.idle_timeout,
            close_timeout: l.close_timeout,
            attempt_timeout: l.attempt_timeout,
            two_msl: l.two_msl,
            max_connections: l.max_connections,
            likely_server_ports: zeek::DEFAULT_LIKELY_SERVER_PORTS.to_vec(),
        }
    }
}

impl Settings for Config {
    type Conn = Connection;

    fn limits(&self) -> Limits {
        Limits {
            idle_timeout: self.idle_timeout,
            close_timeout: self.close_timeout,
            attempt_timeout: self.attempt_timeout,
            two_msl: self.two_msl,
            max_connections: self.max_connections,
        }
    }
}
