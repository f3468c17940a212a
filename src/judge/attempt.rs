//! The facts of a connection's opening attempt kept for the server view
//! (docs/servers.md): SYN count and times, the options of the SYN and the
//! SYN-ACK, SYN-ACKs resent after the final ACK, challenge ACKs, and where the
//! RST fell. Small and fixed-size; filled from the handshake and RST paths.

use crate::capture::Timestamp;
use crate::decode::{TcpOption, TcpSegment};
use crate::findings::Side;
use crate::model::attempt::{AttemptFacts, RstPhase, SynOptions};

/// What the judge records of the opening attempt while the connection runs.
#[derive(Debug, Clone, Default)]
pub(super) struct AttemptTrack {
    pub(super) syns: u32,
    pub(super) first_syn: Option<Timestamp>,
    pub(super) last_syn: Option<Timestamp>,
    pub(super) established: Option<Timestamp>,
    /// The server sent something other than a SYN-ACK after the final ACK.
    pub(super) server_spoke_after_final_ack: bool,
    pub(super) facts: AttemptFacts,
}

/// The options a SYN or SYN-ACK carried, and its TSval.
pub(super) fn syn_options(seg: &TcpSegment<'_>) -> (SynOptions, Option<u32>) {
    let mut o = SynOptions::default();
    let mut tsval = None;
    for opt in seg.options() {
        match opt {
            TcpOption::Mss(m) => o.mss = Some(m),
            TcpOption::WindowScale(s) => o.wscale = Some(s),
            TcpOption::SackPermitted => o.sack = true,
            TcpOption::Timestamps { value, .. } => {
                o.timestamps = true;
                tsval = Some(value);
            }
            _ => {}
        }
    }
    (o, tsval)
}

impl AttemptTrack {
    /// A client SYN that belongs to the attempt (the first or a retry).
    pub(super) fn syn(&mut self, ts: Timestamp, seg: &TcpSegment<'_>) {
        self.syns = self.syns.saturating_add(1);
        self.last_syn = Some(ts);
        if self.first_syn.is_none() {
            self.first_syn = Some(ts);
            let (o, tsval) = syn_options(seg);
            self.facts.syn_options = Some(o);
            self.facts.syn_tsval = tsval;
        }
    }

    /// A SYN-ACK from the server; `after_final_ack` when the client's final
    /// ACK was already seen.
    pub(super) fn synack(&mut self, seg: &TcpSegment<'_>, after_final_ack: bool) {
        self.facts.synacks = self.facts.synacks.saturating_add(1);
        if after_final_ack && !self.server_spoke_after_final_ack {
            self.facts.synacks_after_final_ack += 1;
        }
        if self.facts.synack_options.is_none() {
            self.facts.synack_options = Some(syn_options(seg).0);
        }
    }

    /// The first accepted RST, `start` being the connection's first frame time.
    pub(super) fn rst(&mut self, ts: Timestamp, start: Timestamp, from: Side, phase: RstPhase) {
        if self.facts.rst_phase.is_none() {
            self.facts.rst_from = Some(from);
            self.facts.rst_phase = Some(phase);
            self.facts.rst_after = Some(ts.secs_since(start).max(0.0));
        }
    }

    /// Client SYNs seen, time to establish (first SYN → the final ACK), facts.
    pub(super) fn report(&self) -> (u32, Option<f64>, AttemptFacts) {
        let mut f = self.facts;
        if let (Some(a), Some(b)) = (self.first_syn, self.last_syn) {
            f.last_syn_after = Some(b.secs_since(a).max(0.0));
        }
        let tte = match (self.first_syn, self.established) {
            (Some(a), Some(b)) => Some(b.secs_since(a).max(0.0)),
            _ => None,
        };
        (self.syns, tte, f)
    }
}

impl super::Connection {
    /// A server segment other than SYN or RST: after the final ACK it shows the
    /// server took the connection; before any SYN-ACK, to a client in
    /// SYN-SENT, it is a challenge ACK (RFC 5961 §4, RFC 9293 §3.10.7.4).
    pub(super) fn note_server_segment(&mut self, f: crate::decode::TcpFlags) {
        if self.final_ack.is_some() {
            self.attempt.server_spoke_after_final_ack = true;
        } else if f.ack()
            && self.synack_frame.is_none()
            && self.c.isn.is_some()
            && self.c.state == super::State::SynSent
        {
            self.attempt.facts.challenge_ack = true;
        }
    }

    /// The RST that ended the connection: who sent it, and in which phase.
    pub(super) fn note_rst(&mut self, ts: Timestamp, from: Side, handshake_done: bool) {
        let phase = if !handshake_done {
            RstPhase::Handshake
        } else if from == Side::Server
            && self.final_ack.is_some()
            && !self.attempt.server_spoke_after_final_ack
            && self.s.payload_bytes == 0
        {
            self.attempt.facts.rst_answers_final_ack = true;
            RstPhase::Handshake
        } else if self.c.fin_seq.is_some() || self.s.fin_seq.is_some() {
            RstPhase::Close
        } else {
            RstPhase::Established
        };
        let start = self.start;
        self.attempt.rst(ts, start, from, phase);
    }
}

super::packed::packed!(AttemptTrack {
    syns,
    first_syn,
    last_syn,
    established,
    server_spoke_after_final_ack,
    facts,
});
