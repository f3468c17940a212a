//! What the flow table needs from the per-connection state it stores, so that
//! the table depends on no later stage: the judge implements [`Tracker`] for
//! its connection and [`Settings`] for its configuration.

use super::Endpoint;
use crate::capture::Timestamp;
use crate::decode::TcpSegment;
use crate::seq::SeqNumber;

/// Timeouts and limits of the flow table. Times are capture time, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A connection silent this long ends (Zeek's `tcp_inactivity_timeout`, 5 min).
    pub idle_timeout: i64,
    /// After a complete close (both FINs, or a RST), a connection lingers this
    /// long for late segments (Zeek's `tcp_close_delay`, 5 s).
    pub close_timeout: i64,
    /// A SYN that nothing answered ends this long after its last retransmission
    /// (Zeek's `tcp_attempt_delay`, 5 s). Retransmissions of that SYN always join it.
    pub attempt_timeout: i64,
    /// 2·MSL (RFC 9293 §3.4.2): a closed 4-tuple is remembered this long, and a
    /// new SYN this soon after a close is a TIME-WAIT reuse.
    pub two_msl: i64,
    /// Most live connections kept; beyond it the longest-idle ones are evicted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        const S: i64 = 1_000_000_000;
        Limits {
            idle_timeout: 300 * S,
            close_timeout: 5 * S,
            attempt_timeout: 5 * S,
            two_msl: 120 * S,
            max_connections: 1_000_000,
        }
    }
}

/// What the previous connection on the same 4-tuple left behind.
#[derive(Debug, Clone, Copy)]
pub struct PreviousUse {
    pub ended: Timestamp,
    /// It ended with a FIN exchange: somebody is in TIME-WAIT until 2·MSL.
    pub fin_closed: bool,
    pub client_isn: Option<SeqNumber>,
    pub last_frame: u64,
}

/// A connection's configuration, as the table sees it: its limits, and which
/// connection type it makes.
pub trait Settings: Clone {
    type Conn: Tracker<Settings = Self>;
    fn limits(&self) -> Limits;
}

/// Per-connection state kept in the table (RFC 9293 §3.3.2's TCB, as seen on the wire).
pub trait Tracker {
    type Settings;

    /// Starts following a connection at its first segment (not yet processed).
    #[allow(clippy::too_many_arguments)]
    fn open(
        id: u64,
        frame: u64,
        ts: Timestamp,
        seg: &TcpSegment<'_>,
        client: Endpoint,
        server: Endpoint,
        previous: Option<PreviousUse>,
        settings: &Self::Settings,
    ) -> Self;
    /// Takes in one segment of this connection.
    fn process(&mut self, frame: u64, ts: Timestamp, seg: &TcpSegment<'_>);
    /// Connection number, unique across files.
    fn id(&self) -> u64;
    /// Time of the last segment.
    fn last_ts(&self) -> Timestamp;
    /// `seg` came from the endpoint judged to be the client.
    fn sent_by_client(&self, seg: &TcpSegment<'_>) -> bool;
    /// Either side has sent a FIN or an accepted RST: a new SYN starts a new connection.
    fn closed_for_reuse(&self) -> bool;
    /// The close is complete: only late segments can still come.
    fn close_complete(&self) -> bool;
    /// The client's ISN, when its SYN was seen.
    fn client_isn(&self) -> Option<SeqNumber>;
    /// The client sent a SYN and the server has sent nothing at all.
    fn unanswered_attempt(&self) -> bool;
    /// Time of the client's last SYN.
    fn last_syn_ts(&self) -> Option<Timestamp>;
    /// What this connection leaves behind for the next one on its 4-tuple.
    fn previous_use(&self) -> PreviousUse;
    /// The table was full and ended this connection early.
    fn mark_evicted(&mut self);
    /// The close is complete and acknowledged both ways (or reset): no
    /// segment is expected any more, so it is worth packing.
    fn at_rest(&self) -> bool {
        self.close_complete()
    }
    /// The connection in compact form, while its close is complete and it
    /// waits out the close timeout (most of a busy server's table).
    type Packed;
    /// Packs a connection whose close is complete; `scratch` is reused between calls.
    fn pack(self: Box<Self>, scratch: &mut Vec<u8>) -> Box<Self::Packed>;
    /// The connection exactly as it was packed.
    fn unpack(packed: Box<Self::Packed>) -> Box<Self>;
    /// The id of a packed connection.
    fn packed_id(packed: &Self::Packed) -> u64;
}
