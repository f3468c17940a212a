//! RFC 9293 §3.3.2 connection states, as one endpoint holds them.

use serde::{Serialize, Serializer};
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

    /// State after this endpoint sends a FIN (RFC 9293 §3.10.4, CLOSE call).
    pub fn on_send_fin(self) -> State {
        match self {
            State::CloseWait => State::LastAck,
            State::SynReceived | State::Established | State::SynSent => State::FinWait1,
            s => s,
        }
    }

    /// State after this endpoint receives the peer's FIN (RFC 9293 §3.10.7.4,
    /// eighth step). `own_fin_acked`: the FIN also acknowledges ours.
    pub fn on_receive_fin(self, own_fin_acked: bool) -> State {
        match self {
            State::SynReceived | State::Established => State::CloseWait,
            State::FinWait1 if own_fin_acked => State::TimeWait,
            State::FinWait1 => State::Closing,
            State::FinWait2 => State::TimeWait,
            s => s,
        }
    }

    /// State after the peer acknowledges this endpoint's FIN.
    pub fn on_fin_acked(self) -> State {
        match self {
            State::FinWait1 => State::FinWait2,
            State::Closing => State::TimeWait,
            State::LastAck => State::Closed,
            s => s,
        }
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
