//! The connection judge: reconstructs both endpoints' RFC 9293 states from the
//! segments that went by, checks every handshake and teardown segment's
//! sequence and acknowledgment numbers, and gives each connection a verdict.

pub mod completeness;
mod connection;
mod state;
pub mod transfer;
mod verdict;
pub mod zeek;

pub use connection::{
    Connection, ConnectionReport, Endpoint, HandshakeRtt, Isns, PerSide, PreviousUse,
};
pub use state::State;
pub use verdict::{Close, ClosedBy, Handshake};

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
        const S: i64 = 1_000_000_000;
        Config {
            idle_timeout: 300 * S,
            close_timeout: 5 * S,
            attempt_timeout: 5 * S,
            two_msl: 120 * S,
            max_connections: 1_000_000,
            likely_server_ports: zeek::DEFAULT_LIKELY_SERVER_PORTS.to_vec(),
        }
    }
}
