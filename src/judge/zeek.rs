//! Zeek's `conn_state` and `history`, computed the way Zeek computes them: two
//! endpoint state machines, a decision table at the end, history letters with
//! Zeek's repetition rules, and its orientation flips. See docs/conformance.md.

use crate::decode::TcpSegment;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

impl ZState {
    fn inactive(self) -> bool {
        matches!(self, ZState::Inactive | ZState::Partial)
    }
}

// History-letter slots, as Zeek keeps them per endpoint.
const H_SYN: u16 = 1 << 0;
const H_FIN: u16 = 1 << 1;
const H_RST: u16 = 1 << 2;
const H_DATA: u16 = 1 << 3;
const H_ACK: u16 = 1 << 4;
const H_FIN_RST: u16 = 1 << 5;
const H_MULTI: u16 = 1 << 6;

#[derive(Debug, Clone)]
struct ZEnd {
    state: ZState,
    prev_state: ZState,
    start_seq: u32,
    last_seq: u32,
    hist_seen: u16,
    last_syn: u32,
    last_fin: u32,
    last_rst: u32,
    rxmit: u32,
    zero_windows: u32,
    payload: u64,
}

impl ZEnd {
    fn new() -> ZEnd {
        ZEnd {
            state: ZState::Inactive,
            prev_state: ZState::Inactive,
            start_seq: 0,
            last_seq: 0,
            hist_seen: 0,
            last_syn: 0,
            last_fin: 0,
            last_rst: 0,
            rxmit: 0,
            zero_windows: 0,
            payload: 0,
        }
    }

    fn set_state(&mut self, s: ZState) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
        }
    }
}

/// Zeek's view of one connection.
#[derive(Debug, Clone)]
pub struct ZeekConn {
    /// Zeek's originator is tcpshake's client (false once Zeek flipped the roles).
    pub orig_is_client: bool,
    ends: [ZEnd; 2],
    history: Vec<u8>,
    pub orig_pkts: u64,
    pub resp_pkts: u64,
}

fn bits(seg: &TcpSegment<'_>) -> u32 {
    seg.flags.syn() as u32 + seg.flags.fin() as u32 + seg.flags.rst() as u32
}

impl ZeekConn {
    /// Starts Zeek's view with the first packet. `from_client` tells who sent it;
    /// `likely_server_ports` is Zeek's list (empty when Zeek runs without scripts).
    pub fn new(seg: &TcpSegment<'_>, from_client: bool, likely_server_ports: &[u16]) -> ZeekConn {
        let f = seg.flags;
        let pure_syn = f.syn() && !f.ack();
        let mut orig_is_sender = true;
        let mut flipped = false;
        if !pure_syn {
            let src_likely = likely_server_ports.contains(&seg.src_port);
            let dst_likely = likely_server_ports.contains(&seg.dst_port);
            if src_likely && !dst_likely {
                flipped = true;
            } else if src_likely && dst_likely {
                let synack = f.syn() && f.ack();
                if !synack && seg.src_port < seg.dst_port {
                    flipped = true;
                }
            }
        }
        if flipped {
            orig_is_sender = false;
        }
        let orig_is_client = if orig_is_sender {
            from_client
        } else {
            !from_client
        };
        ZeekConn {
            orig_is_client,
            ends: [ZEnd::new(), ZEnd::new()],
            history: {
                // Room for a typical history ("ShADadFf" and more) in one allocation.
                let mut h = Vec::with_capacity(16);
                if flipped {
                    h.push(b'^');
                }
                h
            },
            orig_pkts: 0,
            resp_pkts: 0,
        }
    }

    pub fn history(&self) -> &str {
        // Only ASCII letters are ever pushed.
        std::str::from_utf8(&self.history).unwrap_or("")
    }

    fn flip(&mut self) {
        self.ends.swap(0, 1);
        self.orig_is_client = !self.orig_is_client;
        std::mem::swap(&mut self.orig_pkts, &mut self.resp_pkts);
    }

    fn letter(&mut self, is_orig: bool, code: u8) {
        self.history.push(if is_orig {
            code.to_ascii_uppercase()
        } else {
            code.to_ascii_lowercase()
        });
    }

    /// Records the letter once; returns true if it had been seen before.
    fn check(&mut self, idx: usize, mask: u16, code: u8) -> bool {
        if self.ends[idx].hist_seen & mask == 0 {
            self.ends[idx].hist_seen |= mask;
            self.letter(idx == 0, code);
            false
        } else {
            true
        }
    }

    /// Letters that Zeek appends at the 1st, 10th, 100th, ... occurrence.
    fn scaled(&mut self, idx: usize, count: u32, code: u8) {
        let mut threshold = 1u32;
        while threshold < count {
            match threshold.checked_mul(10) {
                Some(t) => threshold = t,
                None => return,
            }
        }
        if threshold == count {
            self.letter(idx == 0, code);
        }
    }

    /// Feeds one packet. `from_client` is in tcpshake's orientation.
    pub fn packet(&mut self, seg: &TcpSegment<'_>, from_client: bool) {
        let f = seg.flags;
        // A lone SYN-ACK followed by an ACK or data: Zeek decides the SYN-ACK's
        // receiver is the originator.
        if self.history == b"H" && bits(seg) == 0 && (f.ack() || seg.payload_len > 0) {
            self.flip();
            self.history.clear();
            self.history.extend_from_slice(b"^h");
        }
        let is_orig = from_client == self.orig_is_client;
        let (me, peer) = if is_orig { (0, 1) } else { (1, 0) };
        if is_orig {
            self.orig_pkts += 1;
        } else {
            self.resp_pkts += 1;
        }
        let len = if f.rst() { 0 } else { seg.payload_len };
        let seg_len = len + f.syn() as u32 + f.fin() as u32;
        let base = seg.seq.0;
        let past = base.wrapping_add(seg_len);

        // init_endpoint
        {
            let e = &mut self.ends[me];
            match e.state {
                ZState::Inactive => {
                    if f.syn() {
                        e.start_seq = base;
                        e.last_seq = past;
                    } else {
                        e.start_seq = base.wrapping_sub(1);
                        e.last_seq = base;
                    }
                }
                ZState::SynSent | ZState::SynAckSent => {
                    if f.syn() && base != e.start_seq {
                        e.start_seq = base;
                        e.last_seq = past;
                    }
                }
                ZState::Established | ZState::Partial => {
                    if f.syn() {
                        e.start_seq = base;
                        e.last_seq = past;
                    }
                }
                ZState::Reset => {
                    if f.syn() && e.prev_state == ZState::Inactive {
                        e.start_seq = base;
                        e.last_seq = past;
                    }
                }
                ZState::Closed => {}
            }
        }
        let rel = base.wrapping_sub(self.ends[me].start_seq);

        // History letters.
        let n = bits(seg);
        if n > 1 {
            if f.fin() && f.rst() {
                self.check(me, H_FIN_RST, b'I');
            } else {
                self.check(me, H_MULTI, b'Q');
            }
        } else if n == 1 {
            if f.syn() {
                let code = if f.ack() { b'H' } else { b'S' };
                if self.check(me, H_SYN, code) && rel != self.ends[me].last_syn {
                    self.letter(is_orig, code);
                }
                self.ends[me].last_syn = rel;
            }
            if f.fin() {
                let end = rel.wrapping_add(len);
                if self.check(me, H_FIN, b'F') && end != self.ends[me].last_fin {
                    self.letter(is_orig, b'F');
                }
                self.ends[me].last_fin = end;
            }
            if f.rst() {
                if self.check(me, H_RST, b'R') && rel != self.ends[me].last_rst {
                    self.letter(is_orig, b'R');
                }
                self.ends[me].last_rst = rel;
            }
        } else if len > 0 {
            self.check(me, H_DATA, b'D');
        } else if f.ack() {
            self.check(me, H_ACK, b'A');
        }

        // Zero windows are only interesting while both directions are alive.
        if seg.window == 0
            && !f.rst()
            && self.ends[peer].state != ZState::Closed
            && self.ends[me].state != ZState::Reset
        {
            self.ends[me].zero_windows += 1;
            let c = self.ends[me].zero_windows;
            self.scaled(me, c, b'W');
        }

        if f.ack() && self.ends[peer].state == ZState::Inactive {
            let p = &mut self.ends[peer];
            p.start_seq = seg.ack.0.wrapping_sub(1);
            p.last_seq = seg.ack.0.wrapping_sub(1);
        }

        // update_last_seq: payload that does not advance the sender is a retransmission.
        {
            let e = &mut self.ends[me];
            let delta = past.wrapping_sub(e.last_seq) as i32;
            const TOO_LARGE: i32 = 1 << 20;
            if (f.syn() || f.rst()) && !(-TOO_LARGE..=TOO_LARGE).contains(&delta) {
            } else if f.fin() && e.last_seq == e.start_seq.wrapping_add(1) {
                e.last_seq = past;
            } else if e.state == ZState::Reset {
            } else if delta > 0 {
                e.last_seq = past;
            } else if len > 0 {
                e.rxmit += 1;
                let c = e.rxmit;
                self.scaled(me, c, b'T');
            }
        }
        self.ends[me].payload += len as u64;

        self.state_machine(me, peer, is_orig, seg, len);
    }

    fn state_machine(
        &mut self,
        me: usize,
        peer: usize,
        is_orig: bool,
        seg: &TcpSegment<'_>,
        len: u32,
    ) {
        let f = seg.flags;
        let (me, peer) = (me, peer);
        match self.ends[me].state {
            ZState::Inactive => {
                let mut me = me;
                let mut peer = peer;
                if f.syn() {
                    if is_orig {
                        let s = if f.ack() {
                            ZState::SynAckSent
                        } else {
                            ZState::SynSent
                        };
                        self.ends[me].set_state(s);
                    } else {
                        if !f.ack() && self.ends[peer].state == ZState::SynAckSent {
                            // SYN after its SYN-ACK (capture reordering): Zeek flips.
                            self.flip();
                            self.history.push(b'^');
                            std::mem::swap(&mut me, &mut peer);
                            self.ends[peer].set_state(ZState::Established);
                        }
                        if self.ends[peer].state == ZState::SynSent {
                            self.ends[peer].set_state(ZState::Established);
                        }
                        self.ends[me].set_state(ZState::Established);
                    }
                }
                if f.fin() {
                    self.ends[me].set_state(ZState::Closed);
                }
                if f.rst() {
                    self.ends[me].set_state(ZState::Reset);
                }
                if self.ends[me].state == ZState::Inactive {
                    let orig_state = self.ends[0].state;
                    if !is_orig && len == 0 && orig_state == ZState::SynSent {
                        // An ACK of the SYN before the SYN-ACK: not a partial connection.
                    } else if f.ack() && self.ends[peer].state == ZState::Established {
                        self.ends[me].set_state(ZState::Established);
                    } else {
                        self.ends[me].set_state(ZState::Partial);
                    }
                }
            }
            ZState::SynSent | ZState::SynAckSent => {
                if f.fin() {
                    self.ends[me].set_state(ZState::Closed);
                }
                if f.rst() {
                    self.ends[me].set_state(ZState::Reset);
                }
            }
            ZState::Established | ZState::Partial => {
                if f.syn()
                    && self.ends[me].state == ZState::Partial
                    && self.ends[peer].state == ZState::Inactive
                    && !f.ack()
                {
                    self.ends[me].set_state(ZState::SynSent);
                }
                if f.fin() && !f.rst() {
                    self.ends[me].set_state(ZState::Closed);
                    if self.ends[peer].state == ZState::Reset
                        && self.ends[peer].prev_state == ZState::Closed
                    {
                        self.ends[peer].set_state(ZState::Closed);
                    }
                }
                if f.rst() {
                    self.ends[me].set_state(ZState::Reset);
                }
            }
            ZState::Closed => {
                if f.rst() && self.ends[peer].state != ZState::Closed {
                    self.ends[me].set_state(ZState::Reset);
                }
            }
            ZState::Reset => {}
        }
    }

    /// Zeek's `conn_state`, by its end-of-connection decision table.
    pub fn conn_state(&self) -> &'static str {
        let os = self.ends[0].state;
        let rs = self.ends[1].state;
        let no_payload = self.ends[0].payload == 0 && self.ends[1].payload == 0;
        if rs == ZState::Reset {
            if matches!(os, ZState::SynSent | ZState::SynAckSent)
                || (os == ZState::Reset && no_payload)
            {
                return "REJ";
            }
            if os.inactive() {
                return "RSTRH";
            }
            return "RSTR";
        }
        if os == ZState::Reset {
            if rs.inactive() {
                return if rstos0_history(&self.history) {
                    "RSTOS0"
                } else {
                    "OTH"
                };
            }
            return "RSTO";
        }
        if os == ZState::Closed && rs == ZState::Closed {
            return "SF";
        }
        if os == ZState::Closed {
            return if rs.inactive() { "SH" } else { "S2" };
        }
        if rs == ZState::Closed {
            return if os.inactive() { "SHR" } else { "S3" };
        }
        if os == ZState::SynSent && rs == ZState::Inactive {
            return "S0";
        }
        if os == ZState::Established && rs == ZState::Established {
            return "S1";
        }
        "OTH"
    }
}

/// Zeek's `/^?S[^HAFGIQ]*R.*/` on the whole history.
fn rstos0_history(h: &[u8]) -> bool {
    let h = h.strip_prefix(b"^").unwrap_or(h);
    let Some(rest) = h.strip_prefix(b"S") else {
        return false;
    };
    for &c in rest {
        match c {
            b'R' => return true,
            b'H' | b'A' | b'F' | b'G' | b'I' | b'Q' => return false,
            _ => {}
        }
    }
    false
}

/// Ports that Zeek's default scripts register analyzers for (its
/// `likely_server_ports` for TCP when run with the default scripts).
pub const DEFAULT_LIKELY_SERVER_PORTS: &[u16] = &[
    21, 22, 25, 53, 80, 81, 88, 102, 110, 135, 139, 143, 389, 443, 445, 502, 563, 585, 587, 614,
    631, 636, 989, 990, 992, 993, 994, 995, 1080, 1883, 2811, 3128, 3268, 3306, 3389, 5222, 5223,
    5269, 5432, 6666, 6667, 6668, 6669, 8000, 8080, 8443, 8888, 20000,
];

#[cfg(test)]
mod tests {
    use super::rstos0_history;

    #[test]
    fn rstos0_pattern() {
        assert!(rstos0_history(b"SR"));
        assert!(rstos0_history(b"SaR"));
        assert!(!rstos0_history(b"SaFR"));
        assert!(rstos0_history(b"ShR"));
        assert!(!rstos0_history(b"SHR"));
        assert!(!rstos0_history(b"R"));
    }
}

use super::packed::{Pack, Reader, Writer, by_position, packed};

by_position!(
    ZState,
    [
        ZState::Inactive,
        ZState::SynSent,
        ZState::SynAckSent,
        ZState::Partial,
        ZState::Established,
        ZState::Closed,
        ZState::Reset,
    ]
);
packed!(ZEnd {
    state,
    prev_state,
    start_seq,
    last_seq,
    hist_seen,
    last_syn,
    last_fin,
    last_rst,
    rxmit,
    zero_windows,
    payload,
});
packed!(ZeekConn {
    orig_is_client,
    ends,
    history,
    orig_pkts,
    resp_pkts,
});
