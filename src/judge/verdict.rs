//! Per-connection verdicts, from the state the judge reconstructed. Each value
//! is documented with an example in docs/verdicts.md; the enums themselves are
//! report data (`crate::model::connection`).

use super::Connection;
use crate::findings::Side;
use crate::model::connection::{Close, ClosedBy, Handshake};

impl Connection {
    /// How the three-way handshake went (RFC 9293 §3.5), from what the wire showed.
    pub(super) fn handshake_verdict(&self) -> Handshake {
        if self.simultaneous_open {
            return if self.c.synchronized && self.s.synchronized {
                Handshake::SimultaneousOpen
            } else {
                Handshake::Invalid
            };
        }
        if self.c.isn.is_none() {
            return Handshake::NotObserved;
        }
        if self.synack_frame.is_none() {
            if self.reset_by == Some(Side::Server) {
                return Handshake::Refused;
            }
            return if self.s.packets == 0 {
                Handshake::Unanswered
            } else {
                Handshake::Invalid
            };
        }
        if self.final_ack.is_some() {
            return Handshake::Complete;
        }
        if !self.synack_ok {
            return Handshake::Invalid;
        }
        if self.reset_by == Some(Side::Client) {
            return Handshake::Aborted;
        }
        if self.client_sent_after_synack && self.third_ack_checked {
            return Handshake::Invalid;
        }
        Handshake::NoFinalAck
    }

    /// How the connection ended (RFC 9293 §3.6; RST §3.10.7), given the handshake verdict.
    pub(super) fn close_verdict(&self, hs: Handshake) -> (Close, Option<ClosedBy>) {
        if !hs.established() {
            return (Close::None, None);
        }
        let by = |s: Side| match s {
            Side::Client => ClosedBy::Client,
            Side::Server => ClosedBy::Server,
        };
        let first_fin = self.first_fin_by.map(by);
        if let Some(r) = self.reset_by
            && !self.reset_after_close
        {
            let both_rst = self.c.rst_frame.is_some() && self.s.rst_frame.is_some();
            return (
                Close::Reset,
                Some(if both_rst { ClosedBy::Both } else { by(r) }),
            );
        }
        match (self.c.fin_seq.is_some(), self.s.fin_seq.is_some()) {
            (true, true) => {
                let acked = self.c.fin_acked_frame.is_some() && self.s.fin_acked_frame.is_some();
                // A FIN inside data already sent is not where RFC 9293 §3.6
                // puts a FIN, and a receiver drops it as an old duplicate
                // (§3.10.7.4): whatever acknowledged it, it closed nothing.
                let misplaced = self.c.fin_inside_data || self.s.fin_inside_data;
                if !acked || misplaced {
                    (Close::UnackedFin, first_fin)
                } else if self.simultaneous_close {
                    (Close::Simultaneous, Some(ClosedBy::Both))
                } else {
                    (Close::Graceful, first_fin)
                }
            }
            (true, false) | (false, true) => (Close::HalfClosed, first_fin),
            (false, false) => (Close::Open, None),
        }
    }
}
