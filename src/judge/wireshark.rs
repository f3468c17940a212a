//! Wireshark's per-frame items (`tcp.connection.*`, `tcp.ack.nonzero`),
//! counted as tshark counts them; the `tcp.analysis.*` items come with the
//! transfer findings of the same frames (`crate::findings` names each kind's item).

use super::Connection;
use crate::decode::TcpSegment;
use crate::findings::{Side, WsItem};

impl Connection {
    #[inline]
    pub(super) fn count(&mut self, item: WsItem) {
        self.ws_counts[item as usize] += 1;
    }

    /// Wireshark's `tcp.connection.*` items and `tcp.ack.nonzero`, counted per frame.
    pub(super) fn count_wireshark_items(&mut self, seg: &TcpSegment<'_>, from: Side) {
        let f = seg.flags;
        let passive = self.peer(from.other()).fin_seq.is_some() && self.first_fin_by != Some(from);
        if f.syn() && !f.ack() {
            self.count(WsItem::Syn);
        }
        if f.syn() && f.ack() {
            self.count(WsItem::Synack);
        }
        if f.rst() {
            self.count(WsItem::Rst);
        }
        if !f.ack() && seg.ack.0 != 0 {
            self.count(WsItem::AckNonzero);
        }
        if f.fin() {
            self.count(WsItem::Fin);
            // Active unless the other side already sent a FIN (Wireshark's closing initiator).
            self.count(if passive {
                WsItem::FinPassive
            } else {
                WsItem::FinActive
            });
        }
    }
}
