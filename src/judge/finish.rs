//! The end of a connection: the checks that need all of it, the verdicts, and
//! the report.

use super::Connection;
use super::state::State;
use crate::model::connection::{
    ConnectionReport, HandshakeRtt, Isns, PerSide, TransferReport, WiresharkCounts,
};
use crate::model::{FlowIds, IsoTime};
use crate::seq::SeqNumber;

impl Connection {
    /// Ends the connection and gives its verdict.
    pub fn finish(mut self: Box<Self>, file: &std::sync::Arc<str>) -> ConnectionReport {
        self.final_checks();
        let hs = self.handshake_verdict();
        let (close, closed_by) = self.close_verdict(hs);
        self.findings.sort_by_key(|f| f.frame);
        let (syn_count, time_to_establish, attempt) = self.attempt.report();
        ConnectionReport {
            id: self.id,
            file: file.clone(),
            client: self.client,
            server: self.server,
            ids: FlowIds {
                client: self.client,
                server: self.server,
            },
            first_frame: self.first_frame,
            last_frame: self.last_frame,
            start: self.start,
            start_iso: IsoTime(self.start),
            // Timestamps out of order end no earlier than they start.
            duration: self.last_ts.secs_since(self.start).max(0.0),
            handshake: hs,
            close,
            closed_by,
            client_state: self.c.state,
            server_state: self.s.state,
            conn_state: self.zeek.conn_state(),
            history: self.zeek.history().to_string(),
            completeness: self.completeness,
            packets: PerSide {
                client: self.c.packets,
                server: self.s.packets,
            },
            payload_bytes: PerSide {
                client: self.c.payload_bytes,
                server: self.s.payload_bytes,
            },
            handshake_rtt: HandshakeRtt {
                syn_to_synack: self.rtt_syn_synack,
                synack_to_ack: self.rtt_synack_ack,
            },
            isn: Isns {
                client: self.c.isn.map(|s| s.0),
                server: self.s.isn.map(|s| s.0),
            },
            transfer: {
                let (client, server) = self.transfer.stats(self.last_ts);
                TransferReport { client, server }
            },
            tcp_analysis: WiresharkCounts(self.ws_counts),
            findings: self.findings,
            findings_suppressed: self.suppressed.as_ref().map_or(0, |s| s.0.iter().sum()),
            suppressed: self.suppressed.map(|s| *s).unwrap_or_default(),
            evicted: self.evicted,
            tunnel: self.tunnels.as_deref().copied().unwrap_or_default(),
            syn_count,
            time_to_establish,
            attempt,
        }
    }

    /// Both endpoints' RFC 9293 states now (client, server).
    pub fn states(&self) -> (State, State) {
        (self.c.state, self.s.state)
    }

    /// Base of each side's relative numbers (client, server), as far as known.
    pub fn bases(&self) -> (Option<SeqNumber>, Option<SeqNumber>) {
        (self.c.base, self.s.base)
    }
}
