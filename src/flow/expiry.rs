//! What the table keeps to end connections in time order.

use super::FlowKey;

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
