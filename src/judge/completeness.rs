//! Wireshark's `tcp.completeness` bitmask (Wireshark 3.6+), computed by its rules.

pub const SYN: u8 = 1;
pub const SYN_ACK: u8 = 2;
pub const ACK: u8 = 4;
pub const DATA: u8 = 8;
pub const FIN: u8 = 16;
pub const RST: u8 = 32;

use crate::decode::TcpSegment;

/// Bits contributed by the first frame of a conversation: only a pure SYN counts.
pub fn first_frame(seg: &TcpSegment<'_>) -> u8 {
    let f = seg.flags;
    if f.syn() && !f.ack() {
        SYN | if seg.payload_len > 0 { DATA } else { 0 }
    } else {
        0
    }
}

/// Bits contributed by every later frame.
pub fn later_frame(seg: &TcpSegment<'_>) -> u8 {
    let f = seg.flags;
    let mut bits = 0;
    if f.syn() && f.ack() {
        bits |= SYN_ACK;
    }
    if f.ack() && !f.syn() {
        bits |= if seg.payload_len > 0 { DATA } else { ACK };
    }
    if f.fin() && f.ack() {
        bits |= FIN;
    }
    if f.rst() {
        bits |= RST;
    }
    bits
}

/// Wireshark's label for a completeness value.
pub fn label(v: u8) -> String {
    match v {
        1 => "Incomplete, SYN_SENT (1)".into(),
        3 => "Incomplete, CLIENT_ESTABLISHED (3)".into(),
        7 => "Incomplete, ESTABLISHED (7)".into(),
        15 => "Incomplete, DATA (15)".into(),
        31 | 47 | 63 => format!("Complete, WITH_DATA ({v})"),
        23 | 39 | 55 => format!("Complete, NO_DATA ({v})"),
        _ => format!("Incomplete ({v})"),
    }
}
