//! RFC 9293 §3.3.2 state transitions of one endpoint, as the wire shows them.
//! The [`State`] enum itself is report data (`crate::model::connection`).

pub use crate::model::connection::State;

impl State {
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
