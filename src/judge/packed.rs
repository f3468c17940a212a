//! A connection whose close is complete, packed while it waits out the close
//! timeout.
//!
//! After both FINs (or a RST) a connection is kept for the close timeout
//! (5 s, Zeek's `tcp_close_delay`) so that late segments (a resent FIN, the
//! last ACK, a RST) are judged with it. On a busy server that wait holds ten
//! times more connections than are open, and a [`Connection`] is about 2 KB of
//! mostly empty options, zeros and fixed arrays. Packed, each field takes the
//! bytes its value needs (LEB128 integers, times relative to the connection's
//! start), a few hundred bytes in all; a late segment unpacks it, exactly as
//! it was, and the connection is judged on as if it had never been packed.
//!
//! Every field of every packed type is named in one [`packed!`] list, and the
//! lists destructure without `..`, so a field added to a type and not to its
//! list does not compile.

use super::Connection;
use crate::capture::Timestamp;
use crate::decode::{IpAddress, TunnelPath};
use crate::findings::{ALL_KINDS, Finding, FindingKind, Side};
use crate::flow::Endpoint;
use crate::model::attempt::{AttemptFacts, RstPhase, SynOptions};
use crate::model::connection::{DirectionStats, KindCounts, State};
use crate::seq::SeqNumber;
use std::collections::VecDeque;

/// Bytes being written, with the time all timestamps are relative to.
pub(super) struct Writer {
    pub(super) out: Vec<u8>,
    base: i64,
}

/// Bytes being read back: written by [`Writer`] in this run, never taken
/// from the input.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    base: i64,
}

impl Writer {
    pub(super) fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.out.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.out.push(v as u8);
    }
}

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.buf[0];
        self.buf = &self.buf[1..];
        b
    }

    pub(super) fn varint(&mut self) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        loop {
            let b = self.byte();
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// A value that packs into bytes and comes back the same.
pub(super) trait Pack: Sized {
    fn pack(&self, w: &mut Writer);
    fn unpack(r: &mut Reader<'_>) -> Self;
}

/// Implements [`Pack`] for a struct from the list of all its fields; the
/// fields after `skip` are left out and come back as their `Default`.
macro_rules! packed {
    ($ty:ident { $($f:ident),* $(,)? } $(skip { $($s:ident),* $(,)? })?) => {
        impl $crate::judge::packed::Pack for $ty {
            fn pack(&self, w: &mut $crate::judge::packed::Writer) {
                let $ty { $($f,)* $($($s: _,)*)? } = self;
                $($crate::judge::packed::Pack::pack($f, w);)*
            }
            fn unpack(r: &mut $crate::judge::packed::Reader<'_>) -> Self {
                $ty {
                    $($f: $crate::judge::packed::Pack::unpack(r),)*
                    $($($s: Default::default(),)*)?
                }
            }
        }
    };
}
pub(super) use packed;

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Pack for $t {
            fn pack(&self, w: &mut Writer) {
                w.varint(*self as u64)
            }
            fn unpack(r: &mut Reader<'_>) -> Self {
                r.varint() as $t
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);

impl Pack for i32 {
    fn pack(&self, w: &mut Writer) {
        w.varint(zigzag(*self as i64))
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        unzigzag(r.varint()) as i32
    }
}

impl Pack for i64 {
    fn pack(&self, w: &mut Writer) {
        w.varint(zigzag(*self))
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        unzigzag(r.varint())
    }
}

impl Pack for bool {
    fn pack(&self, w: &mut Writer) {
        w.out.push(*self as u8)
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        r.byte() != 0
    }
}

impl Pack for f32 {
    fn pack(&self, w: &mut Writer) {
        w.out.extend_from_slice(&self.to_bits().to_le_bytes())
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        f32::from_bits(u32::from_le_bytes(std::array::from_fn(|_| r.byte())))
    }
}

impl Pack for f64 {
    fn pack(&self, w: &mut Writer) {
        w.out.extend_from_slice(&self.to_bits().to_le_bytes())
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        f64::from_bits(u64::from_le_bytes(std::array::from_fn(|_| r.byte())))
    }
}

impl<T: Pack> Pack for Option<T> {
    fn pack(&self, w: &mut Writer) {
        match self {
            None => w.out.push(0),
            Some(v) => {
                w.out.push(1);
                v.pack(w)
            }
        }
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        (r.byte() != 0).then(|| T::unpack(r))
    }
}

impl<T: Pack, const N: usize> Pack for [T; N] {
    fn pack(&self, w: &mut Writer) {
        for v in self {
            v.pack(w)
        }
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        std::array::from_fn(|_| T::unpack(r))
    }
}

impl<T: Pack> Pack for VecDeque<T> {
    fn pack(&self, w: &mut Writer) {
        self.len().pack(w);
        for v in self {
            v.pack(w)
        }
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        let n = usize::unpack(r);
        let mut d = VecDeque::new();
        if n > 0 {
            d.reserve_exact(n);
        }
        for _ in 0..n {
            d.push_back(T::unpack(r));
        }
        d
    }
}

impl Pack for Vec<u8> {
    fn pack(&self, w: &mut Writer) {
        self.len().pack(w);
        w.out.extend_from_slice(self);
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        let n = usize::unpack(r);
        let (v, rest) = r.buf.split_at(n);
        r.buf = rest;
        // The history's room for more letters, as a fresh connection has it.
        let mut out = Vec::with_capacity(n.max(16));
        out.extend_from_slice(v);
        out
    }
}

impl<A: Pack, B: Pack> Pack for (A, B) {
    fn pack(&self, w: &mut Writer) {
        self.0.pack(w);
        self.1.pack(w);
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        (A::unpack(r), B::unpack(r))
    }
}

impl<A: Pack, B: Pack, C: Pack> Pack for (A, B, C) {
    fn pack(&self, w: &mut Writer) {
        self.0.pack(w);
        self.1.pack(w);
        self.2.pack(w);
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        (A::unpack(r), B::unpack(r), C::unpack(r))
    }
}

impl Pack for Timestamp {
    /// Relative to the connection's start: a few bytes instead of nine.
    fn pack(&self, w: &mut Writer) {
        w.varint(zigzag(self.0.wrapping_sub(w.base)))
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        Timestamp(unzigzag(r.varint()).wrapping_add(r.base))
    }
}

impl Pack for SeqNumber {
    fn pack(&self, w: &mut Writer) {
        // Sequence numbers are random: four bytes, not five.
        w.out.extend_from_slice(&self.0.to_le_bytes())
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        SeqNumber(u32::from_le_bytes(std::array::from_fn(|_| r.byte())))
    }
}

impl Pack for IpAddress {
    fn pack(&self, w: &mut Writer) {
        match self {
            IpAddress::V4(b) => {
                w.out.push(4);
                w.out.extend_from_slice(b);
            }
            IpAddress::V6(b) => {
                w.out.push(6);
                w.out.extend_from_slice(b);
            }
        }
    }
    fn unpack(r: &mut Reader<'_>) -> Self {
        if r.byte() == 4 {
            IpAddress::V4(std::array::from_fn(|_| r.byte()))
        } else {
            IpAddress::V6(std::array::from_fn(|_| r.byte()))
        }
    }
}

packed!(Endpoint { addr, port });

/// Packs a field-less enum as its position in `ALL`.
macro_rules! by_position {
    ($ty:ty, $all:expr) => {
        impl Pack for $ty {
            fn pack(&self, w: &mut Writer) {
                let i = $all.iter().position(|v| v == self).unwrap_or(0);
                w.varint(i as u64)
            }
            fn unpack(r: &mut Reader<'_>) -> Self {
                $all[r.varint() as usize]
            }
        }
    };
}
pub(super) use by_position;

by_position!(
    State,
    [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynReceived,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ]
);
by_position!(Side, [Side::Client, Side::Server]);
by_position!(FindingKind, ALL_KINDS);
by_position!(RstPhase, RstPhase::ALL);

packed!(SynOptions {
    mss,
    wscale,
    sack,
    timestamps
});
packed!(AttemptFacts {
    last_syn_after,
    synacks,
    synacks_after_final_ack,
    rst_answers_final_ack,
    challenge_ack,
    syn_options,
    synack_options,
    syn_tsval,
    rst_from,
    rst_phase,
    rst_after,
});
packed!(DirectionStats {
    retransmitted_segments,
    retransmitted_bytes,
    out_of_order,
    gaps,
    missing_bytes,
    zero_window_time,
    rtt_samples,
    rtt_min,
    rtt_median,
    rtt_max,
    window_scale_unknown,
    unacked_cap_reached,
    unacked_untracked,
});

/// What stays unpacked: the findings as they are (their wording is lazy and
/// refers to static text), and what is rarely there.
#[derive(Debug)]
pub struct PackedConnection {
    id: u64,
    start: Timestamp,
    bytes: Box<[u8]>,
    findings: Vec<Finding>,
    rare: Option<Box<Rare>>,
}

#[derive(Debug)]
struct Rare {
    pending_early_server_data: Option<Finding>,
    suppressed: Option<Box<KindCounts>>,
    tunnels: Option<Box<TunnelPath>>,
}

impl PackedConnection {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Packs `c` (its `findings` and rare parts move over as they are).
    pub fn pack(mut c: Connection, scratch: &mut Vec<u8>) -> PackedConnection {
        let rare = Rare {
            pending_early_server_data: c.pending_early_server_data.take(),
            suppressed: c.suppressed.take(),
            tunnels: c.tunnels.take(),
        };
        let rare = (rare.pending_early_server_data.is_some()
            || rare.suppressed.is_some()
            || rare.tunnels.is_some())
        .then(|| Box::new(rare));
        let mut w = Writer {
            out: std::mem::take(scratch),
            base: c.start.0,
        };
        w.out.clear();
        c.pack(&mut w);
        let bytes = w.out.as_slice().into();
        *scratch = w.out;
        let mut findings = std::mem::take(&mut c.findings);
        findings.shrink_to_fit();
        PackedConnection {
            id: c.id,
            start: c.start,
            bytes,
            findings,
            rare,
        }
    }

    /// The connection exactly as it was packed.
    pub fn unpack(self) -> Connection {
        let mut r = Reader {
            buf: &self.bytes,
            base: self.start.0,
        };
        let mut c = Connection::unpack(&mut r);
        debug_assert!(r.buf.is_empty(), "{} bytes left", r.buf.len());
        c.findings = self.findings;
        if let Some(rare) = self.rare {
            c.pending_early_server_data = rare.pending_early_server_data;
            c.suppressed = rare.suppressed;
            c.tunnels = rare.tunnels;
        }
        c
    }

    /// Bytes held, for the tests and the benchmark's accounting.
    pub fn packed_len(&self) -> usize {
        self.bytes.len()
    }
}
