//! Per-connection verdicts. Each value is documented with an example in docs/verdicts.md.

use serde::Serialize;
use std::fmt;

/// How the three-way handshake (RFC 9293 §3.5) went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
