//! What the table keeps to end connections in time order, and to remember
//! closed 4-tuples compactly.

use super::{FlowKey, PreviousUse};
use crate::capture::Timestamp;
use crate::seq::SeqNumber;

/// When a live connection must next be looked at (table time), in a min-heap.
///
/// Entries are lazy: one is pushed when a connection opens and when its close
/// completes, never per segment; when it comes due the connection's real
/// deadline is worked out and, if that is later, the entry is pushed again.
/// An entry whose connection has gone is dropped when it comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Due {
    pub(super) at: i64,
    pub(super) id: u64,
    pub(super) key: FlowKey,
}

/// A closed 4-tuple, remembered for 2·MSL (RFC 9293 §3.4.2): 32 bytes plus
/// its key in the table.
#[derive(Debug, Clone, Copy)]
pub(super) struct Recent {
    /// Capture time of the last segment.
    ended: i64,
    /// The same in table time, for the 2·MSL.
    pub(super) ended_at: i64,
    last_frame: u64,
    client_isn: u32,
    /// Bit 0: the client's ISN is known; bit 1: it ended with a FIN exchange.
    bits: u8,
}

impl Recent {
    pub(super) fn of(p: PreviousUse, ended_at: i64) -> Recent {
        Recent {
            ended: p.ended.0,
            ended_at,
            last_frame: p.last_frame,
            client_isn: p.client_isn.map_or(0, |s| s.0),
            bits: p.client_isn.is_some() as u8 | (p.fin_closed as u8) << 1,
        }
    }

    pub(super) fn previous_use(self) -> PreviousUse {
        PreviousUse {
            ended: Timestamp(self.ended),
            fin_closed: self.bits & 2 != 0,
            client_isn: (self.bits & 1 != 0).then_some(SeqNumber(self.client_isn)),
            last_frame: self.last_frame,
        }
    }
}

impl PartialOrd for FlowKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for FlowKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.addrs, self.ports).cmp(&(other.addrs, other.ports))
    }
}
