//! The benchmark workloads, shared by the criterion bench and the
//! bench-capture example.

#![allow(dead_code)]

use super::build::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use tcpshake::capture::PcapWriter;

const CONNECTIONS: u32 = 50_000;
const CONCURRENT: usize = 500;

/// 50,000 connections of 19 segments each (handshake, six 64-byte requests
/// with their ACKs, close), 500 at a time interleaved: 950,000 frames of 54–118 bytes.
pub fn capture() -> Vec<u8> {
    capture_with(CONNECTIONS, CONCURRENT, 6)
}

/// Long connections: 500 connections of 1,903 segments (950 requests each).
pub fn long_capture() -> Vec<u8> {
    capture_with(500, 500, 950)
}

/// `connections` connections, `concurrent` at a time, each with `requests` 64-byte
/// requests and their ACKs between a handshake and a four-way close.
pub fn capture_with(connections: u32, concurrent: usize, requests: usize) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), 1).unwrap();
    let mut t = 0f64;
    for batch in 0..(connections as usize / concurrent) {
        let dialogs: Vec<Dialog> = (0..concurrent)
            .map(|i| {
                let n = (batch * concurrent + i) as u32;
                let mut d = Dialog::v4(
                    [10, (n >> 16) as u8, (n >> 8) as u8, n as u8],
                    (1024 + n % 60000) as u16,
                    [192, 168, 0, 1],
                    443,
                )
                .isn(n.wrapping_mul(2_654_435_761), n.wrapping_mul(40_503));
                d.handshake();
                for _ in 0..requests {
                    d.c(PSH | ACK, 64);
                    d.s(ACK, 0);
                }
                d.close_client_first();
                d
            })
            .collect();
        let per = dialogs[0].segs.len();
        for k in 0..per {
            for d in &dialogs {
                let f = frame(Link::Ethernet, &ip_packet(d, &d.segs[k]));
                w.packet(ts(t), &f).unwrap();
                t += 1e-6;
            }
        }
    }
    w.into_inner()
}

// The busy-server scale workloads: written to a file by the bench-capture
// example and timed on the whole binary by benches/scale.sh. Each is streamed
// in time order, so the generator holds only the dialogs still open.

/// Snap length of every scale workload, as a header-only capture would use.
pub const SNAPLEN: u32 = 96;

/// Default number of SYNs of the hash-collision workloads and their controls.
pub const SYNS: u32 = 160_000;

/// The scale workloads: name and what it holds.
pub const SCALE: &[(&str, &str)] = &[
    (
        "busy-server",
        "100,000 connections x 11 segments, 5,000 open at once, 11 s",
    ),
    (
        "busy-server-10x",
        "busy-server ten times as long: 1,000,000 connections, 110 s",
    ),
    (
        "syn-flood",
        "1,000,000 unanswered SYNs from random sources over 10 s",
    ),
    (
        "half-open",
        "500,000 SYN + SYN-ACK, never the final ACK, over 10 s",
    ),
    (
        "short-2m",
        "2,000,000 short connections (handshake, three-way close) over 60 s",
    ),
    (
        "long-flows",
        "100 connections x 5,000 requests of 1,000 bytes and their ACKs over 60 s",
    ),
    (
        "retrans-storm",
        "one connection: 10,000 segments outstanding, the last resent 10,000 times",
    ),
    (
        "time-jump",
        "short-2m after one packet stamped 10 h in the future",
    ),
    (
        "fxhash-v4",
        "SYNs whose IPv4 4-tuples collide in FxHash (same bucket and tag)",
    ),
    ("fxhash-v6", "SYNs whose IPv6 4-tuples have the same FxHash"),
    ("random-v4", "SYNs from random IPv4 4-tuples (control)"),
    ("random-v6", "SYNs from random IPv6 4-tuples (control)"),
];

/// Writes the scale workload `name` (`syns` sets the size of the SYN-only
/// hash workloads); returns the writer and the number of packets, or `None`
/// for an unknown name.
pub fn write_scale<W: Write>(name: &str, out: W, syns: u32) -> io::Result<Option<(W, u64)>> {
    let mut s = Stream::new(out, SNAPLEN)?;
    match name {
        "busy-server" => busy_server(&mut s, 100_000)?,
        "busy-server-10x" => busy_server(&mut s, 1_000_000)?,
        "syn-flood" => syn_flood(&mut s)?,
        "half-open" => half_open(&mut s)?,
        "short-2m" => short_connections(&mut s)?,
        "long-flows" => long_flows(&mut s)?,
        "retrans-storm" => retransmission_storm(&mut s)?,
        "time-jump" => {
            // A stray SYN ten hours ahead, then the ordinary capture.
            let mut d = Dialog::v4([172, 16, 0, 1], 5555, [192, 168, 0, 1], 443).start_at(36_000.0);
            let seg = d.c(SYN, 0).clone();
            s.write(&d, &seg)?;
            short_connections(&mut s)?
        }
        "fxhash-v4" => syn_only(&mut s, crafted_v4(syns as usize))?,
        "fxhash-v6" => syn_only(&mut s, crafted_v6(syns as usize))?,
        "random-v4" => syn_only(&mut s, random_v4(syns as usize))?,
        "random-v6" => syn_only(&mut s, random_v6(syns as usize))?,
        _ => return Ok(None),
    }
    s.finish().map(Some)
}

/// One retransmission storm (see [`SCALE`]) as an in-memory pcap, with the
/// number of resent segments.
pub fn retransmission_storm_capture() -> (Vec<u8>, u64) {
    let mut s = Stream::new(Vec::new(), SNAPLEN).unwrap();
    retransmission_storm(&mut s).unwrap();
    (s.finish().unwrap().0, STORM as u64)
}

/// Frames of dialogs written in time order. Dialogs are added in order of
/// their first segment; memory holds only the dialogs with segments left.
pub struct Stream<W: Write> {
    w: PcapWriter<W>,
    /// (time in ns, insertion order, slot) of each open dialog's next segment.
    next: BinaryHeap<Reverse<(i64, u64, usize)>>,
    open: Vec<Option<(Dialog, usize)>>,
    free: Vec<usize>,
    order: u64,
    packets: u64,
}

fn nanos(t: f64) -> i64 {
    (t * 1e9).round() as i64
}

impl<W: Write> Stream<W> {
    pub fn new(out: W, snaplen: u32) -> io::Result<Self> {
        Ok(Stream {
            w: PcapWriter::with_options(out, 1, false, false, snaplen)?,
            next: BinaryHeap::new(),
            open: Vec::new(),
            free: Vec::new(),
            order: 0,
            packets: 0,
        })
    }

    fn write(&mut self, d: &Dialog, seg: &Seg) -> io::Result<()> {
        self.packets += 1;
        self.w
            .packet(ts(seg.t), &frame(Link::Ethernet, &ip_packet(d, seg)))
    }

    /// Writes the queued segments earlier than `until` (all when `None`).
    fn drain(&mut self, until: Option<i64>) -> io::Result<()> {
        while let Some(&Reverse((t, _, slot))) = self.next.peek() {
            if until.is_some_and(|u| t >= u) {
                break;
            }
            self.next.pop();
            let (d, k) = self.open[slot].take().expect("queued dialog");
            self.write(&d, &d.segs[k])?;
            if let Some(seg) = d.segs.get(k + 1) {
                self.order += 1;
                self.next.push(Reverse((nanos(seg.t), self.order, slot)));
                self.open[slot] = Some((d, k + 1));
            } else {
                self.free.push(slot);
            }
        }
        Ok(())
    }

    /// Queues a dialog that starts no earlier than every dialog added before.
    pub fn add(&mut self, d: Dialog) -> io::Result<()> {
        let Some(first) = d.segs.first() else {
            return Ok(());
        };
        let t = nanos(first.t);
        self.drain(Some(t))?;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.open.push(None);
            self.open.len() - 1
        });
        self.open[slot] = Some((d, 0));
        self.order += 1;
        self.next.push(Reverse((t, self.order, slot)));
        Ok(())
    }

    /// Writes a dialog's segments now and forgets them, keeping its sequence
    /// state: for connections written round by round.
    fn flush_now(&mut self, d: &mut Dialog) -> io::Result<()> {
        let segs = std::mem::take(&mut d.segs);
        for seg in &segs {
            self.write(d, seg)?;
        }
        d.segs = segs;
        d.segs.clear();
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.drain(None)?;
        let mut w = self.w;
        w.flush()?;
        Ok((w.into_inner(), self.packets))
    }
}

/// splitmix64: reproducible pseudo-random numbers for spoofed sources.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A unicast IPv4 address in 11.0.0.0–223.255.255.255 (above the servers).
    fn v4(&mut self) -> [u8; 4] {
        let a = 11 + (self.next() % (224 - 11)) as u32;
        ((a << 24) | (self.next() as u32 & 0x00ff_ffff)).to_be_bytes()
    }

    fn port(&mut self) -> u16 {
        1024 + (self.next() % (65536 - 1024)) as u16
    }
}

fn numbered_v4(n: u32) -> [u8; 4] {
    [10, (n >> 16) as u8, (n >> 8) as u8, n as u8]
}

fn busy_server<W: Write>(s: &mut Stream<W>, connections: u32) -> io::Result<()> {
    for n in 0..connections {
        let mut d = Dialog::v4(
            numbered_v4(n),
            (1024 + n % 60_000) as u16,
            [192, 168, 0, 1],
            443,
        )
        .isn(n.wrapping_mul(2_654_435_761), n.wrapping_mul(40_503))
        .start_at(n as f64 * 105e-6);
        // 10 steps of 52.5 ms: each connection lasts 0.525 s, 5,000 overlap.
        d.step = 0.0525;
        d.handshake();
        d.c(PSH | ACK, 200);
        d.s(PSH | ACK, 1400);
        d.s(PSH | ACK, 1400);
        d.c(ACK, 0);
        d.close_client_first();
        s.add(d)?;
    }
    Ok(())
}

fn syn_flood<W: Write>(s: &mut Stream<W>) -> io::Result<()> {
    let mut rng = Rng(1);
    for n in 0..1_000_000u32 {
        let mut d = Dialog::v4(rng.v4(), rng.port(), [192, 168, 0, 1], 80)
            .isn(rng.next() as u32, 0)
            .start_at(n as f64 * 10e-6);
        d.c(SYN, 0);
        s.add(d)?;
    }
    Ok(())
}

fn half_open<W: Write>(s: &mut Stream<W>) -> io::Result<()> {
    let mut rng = Rng(2);
    for n in 0..500_000u32 {
        let mut d = Dialog::v4(rng.v4(), rng.port(), [192, 168, 0, 1], 80)
            .isn(rng.next() as u32, rng.next() as u32)
            .start_at(n as f64 * 20e-6);
        d.c(SYN, 0);
        d.s(SYN | ACK, 0);
        s.add(d)?;
    }
    Ok(())
}

fn short_connections<W: Write>(s: &mut Stream<W>) -> io::Result<()> {
    for n in 0..2_000_000u32 {
        let mut d = Dialog::v4(
            numbered_v4(n),
            (1024 + n % 60_000) as u16,
            [192, 168, 0, 1],
            443,
        )
        .isn(n.wrapping_mul(2_654_435_761), n.wrapping_mul(40_503))
        .start_at(n as f64 * 30e-6);
        d.handshake();
        d.c(FIN | ACK, 0);
        d.s(FIN | ACK, 0);
        d.c(ACK, 0);
        s.add(d)?;
    }
    Ok(())
}

fn long_flows<W: Write>(s: &mut Stream<W>) -> io::Result<()> {
    const STEP: f64 = 60e-6;
    let mut flows: Vec<Dialog> = (0..100u32)
        .map(|n| {
            let mut d = Dialog::v4(numbered_v4(n), 40_000 + n as u16, [192, 168, 0, 1], 443)
                .isn(n.wrapping_mul(2_654_435_761), n.wrapping_mul(40_503));
            d.step = STEP;
            d
        })
        .collect();
    // Round by round across the flows, so the frames stay in time order.
    let mut t = 0.0;
    let mut round = |s: &mut Stream<W>, f: &dyn Fn(&mut Dialog)| -> io::Result<()> {
        for d in flows.iter_mut() {
            d.t = t;
            f(d);
            t = d.t;
            s.flush_now(d)?;
        }
        Ok(())
    };
    round(s, &|d| {
        d.handshake();
    })?;
    for _ in 0..5_000 {
        round(s, &|d| {
            d.c(PSH | ACK, 1000);
            d.s(ACK, 0);
        })?;
    }
    round(s, &|d| {
        d.close_client_first();
    })
}

/// Outstanding segments and resends of the retransmission storm.
const STORM: usize = 10_000;

fn retransmission_storm<W: Write>(s: &mut Stream<W>) -> io::Result<()> {
    let mut d = Dialog::basic();
    d.handshake();
    d.step = 10e-6;
    for _ in 0..STORM {
        d.c(PSH | ACK, 100);
    }
    let mut last = d.segs.last().expect("a segment").clone();
    s.flush_now(&mut d)?;
    // The last segment again, every millisecond after a 200 ms pause: each
    // resend is a retransmission that the judge matches against the list of
    // unacknowledged segments.
    last.t = d.t + 0.2;
    for _ in 0..STORM {
        s.write(&d, &last)?;
        last.t += 0.001;
    }
    d.t = last.t;
    d.step = 0.001;
    d.s(ACK, 0);
    d.close_client_first();
    s.flush_now(&mut d)
}

/// Writes one SYN per 4-tuple, 10 µs apart, to port 80.
fn syn_only<W: Write>(s: &mut Stream<W>, clients: Vec<(Addr, u16)>) -> io::Result<()> {
    for (n, (addr, port)) in clients.into_iter().enumerate() {
        let mut d = match addr {
            Addr::V4(a) => Dialog::v4(a, port, SERVER_V4, 80),
            Addr::V6(a) => Dialog::v6(a, port, SERVER_V6, 80),
        }
        .isn((n as u32).wrapping_mul(2_654_435_761), 0)
        .start_at(n as f64 * 10e-6);
        d.c(SYN, 0);
        s.add(d)?;
    }
    Ok(())
}

const SERVER_V4: [u8; 4] = [10, 0, 0, 1];
const SERVER_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn random_v4(n: usize) -> Vec<(Addr, u16)> {
    let mut rng = Rng(3);
    (0..n).map(|_| (Addr::V4(rng.v4()), rng.port())).collect()
}

fn random_v6(n: usize) -> Vec<(Addr, u16)> {
    let mut rng = Rng(4);
    (0..n)
        .map(|_| {
            let a = (0x2001_0db8_0001_0000u128 << 64) | rng.next() as u128;
            (Addr::V6(a.to_be_bytes()), rng.port())
        })
        .collect()
}

// Crafting 4-tuples against FxHash (rustc-hash 2.x) as used by the flow
// table's `FxHashMap<FlowKey, _>`. FlowKey (src/flow/mod.rs at the time these
// workloads were written) hashes five words: the lower endpoint's address as a
// u128 (IPv4 as ::ffff:a.b.c.d; low 64 bits first, then high), the higher
// endpoint's address, then the ports as a u32 (lower endpoint's port in the
// high half). FxHasher folds each word w as h = (h + w) * K and its `finish`
// rotates left by 26, so the state is affine in every word. hashbrown takes a
// bucket from the low bits of the hash (state bits 38 and up) and a 7-bit tag
// from the top bits (state bits 31–37). The server here is the lower endpoint.

const FX_K: u64 = 0xf135_7aea_2e62_a9c5;

/// FxHasher's state (before the final rotation) after hashing `words`.
fn fx_state(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(0u64, |h, &w| h.wrapping_add(w).wrapping_mul(FX_K))
}

fn v4_words(server: [u8; 4], client: [u8; 4], client_port: u16) -> [u64; 5] {
    let mapped = |a: [u8; 4]| 0xffff_0000_0000 | u32::from_be_bytes(a) as u64;
    [
        mapped(server),
        0,
        mapped(client),
        0,
        (80u64 << 16) | client_port as u64,
    ]
}

/// Least x ≥ 0 with l ≤ (a·x mod m) ≤ r, for 0 ≤ l ≤ r < m (Euclid-like
/// recursion on (m mod a, a)).
fn least(a: u128, m: u128, l: u128, r: u128) -> Option<u128> {
    if l == 0 {
        return Some(0);
    }
    let a = a % m;
    if a == 0 {
        return None;
    }
    let k = l.div_ceil(a);
    if a * k <= r {
        return Some(k);
    }
    // No multiple of a lies in [l, r]: find the least y with
    // a·x − m·y in [l, r], i.e. (m·y mod a) in [a − r mod a, a − l mod a].
    let y = least(m % a, a, a - r % a, a - l % a)?;
    Some((l + m * y).div_ceil(a))
}

/// IPv4 clients (address, port) whose 4-tuples with SERVER_V4:80 agree in
/// FxHash state bits 31–56: the same tag and the same bucket in any table of
/// up to 2^19 buckets. The address has 32 free bits and the port 16, too few
/// for whole-hash collisions; for each port, the addresses that land in the
/// target window are found with [`least`].
fn crafted_v4(n: usize) -> Vec<(Addr, u16)> {
    const M: u128 = 1 << 57;
    const WINDOW: u128 = 1 << 31;
    let target: u128 = 0x155_5555 << 31;
    // The client's address enters as c·K³ and its port as p·K.
    let a = (FX_K.wrapping_mul(FX_K).wrapping_mul(FX_K)) as u128 % M;
    let (lowest, highest) = (11u128 << 24, 224u128 << 24);
    let mut out = Vec::with_capacity(n);
    'ports: for port in (1024..=u16::MAX).cycle() {
        let base = fx_state(&v4_words(SERVER_V4, [0; 4], port)) as u128 % M;
        let mut c = lowest;
        while out.len() < n {
            // Least c' ≥ c with (base + a·c') mod M in [target, target + WINDOW).
            let l = (target + 2 * M - base - a * c % M) % M;
            let r = l + WINDOW - 1;
            let y = if r < M {
                least(a, M, l, r)
            } else {
                [least(a, M, l, M - 1), least(a, M, 0, r - M)]
                    .into_iter()
                    .flatten()
                    .min()
            };
            match y {
                Some(y) if c + y < highest => {
                    let addr = ((c + y) as u32).to_be_bytes();
                    out.push((Addr::V4(addr), port));
                    c += y + 1;
                }
                _ => continue 'ports,
            }
        }
        break;
    }
    out
}

/// The inverse of an odd number modulo 2^64 (Newton's iteration).
fn inverse(a: u64) -> u64 {
    let mut x = a;
    for _ in 0..6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x
}

/// IPv6 clients whose 4-tuples with SERVER_V6:80 have exactly the same FxHash:
/// for each (port, upper 64 bits) the lower 64 bits of the address are solved
/// for, since they enter the state as iid·K³ and K is odd.
fn crafted_v6(n: usize) -> Vec<(Addr, u16)> {
    let target = 0x5555_5555_5555_5555u64;
    let k3 = FX_K.wrapping_mul(FX_K).wrapping_mul(FX_K);
    let k3_inv = inverse(k3);
    let server = u128::from_be_bytes(SERVER_V6);
    let ports = 1024..=u16::MAX;
    let per_prefix = ports.len();
    (0..n)
        .map(|i| {
            let port = 1024 + (i % per_prefix) as u16;
            let upper = 0x2001_0db8_0001_0000u64 + (i / per_prefix) as u64;
            let state = fx_state(&[
                server as u64,
                (server >> 64) as u64,
                0,
                upper,
                (80u64 << 16) | port as u64,
            ]);
            let iid = target.wrapping_sub(state).wrapping_mul(k3_inv);
            let addr = ((upper as u128) << 64) | iid as u128;
            (Addr::V6(addr.to_be_bytes()), port)
        })
        .collect()
}
