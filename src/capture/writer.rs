//! Writing captures: classic pcap and pcapng. Used to save live captures and
//! by the project's fixture generator.

use super::Timestamp;
use std::io::{self, Write};

/// Classic pcap writer (any byte order, µs or ns timestamps).
pub struct PcapWriter<W: Write> {
    out: W,
    big_endian: bool,
    nanos: bool,
    snaplen: u32,
}

impl<W: Write> PcapWriter<W> {
    pub fn new(out: W, link_type: u32) -> io::Result<Self> {
        Self::with_options(out, link_type, false, false, 262_144)
    }

    pub fn with_options(
        mut out: W,
        link_type: u32,
        big_endian: bool,
        nanos: bool,
        snaplen: u32,
    ) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = Vec::with_capacity(24);
        let u32b = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let u16b = |v: u16| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        h.extend_from_slice(&u32b(magic));
        h.extend_from_slice(&u16b(2));
        h.extend_from_slice(&u16b(4));
        h.extend_from_slice(&u32b(0));
        h.extend_from_slice(&u32b(0));
        h.extend_from_slice(&u32b(snaplen));
        h.extend_from_slice(&u32b(link_type));
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            big_endian,
            nanos,
            snaplen,
        })
    }

    /// Writes one record; data beyond the snaplen is cut, as a capture would.
    pub fn record(&mut self, ts: Timestamp, data: &[u8], orig_len: u32) -> io::Result<()> {
        let cap = data.len().min(self.snaplen as usize);
        let secs = ts.0.div_euclid(Timestamp::NANOS_PER_SEC) as u32;
        let frac = ts.0.rem_euclid(Timestamp::NANOS_PER_SEC) as u32;
        let frac = if self.nanos { frac } else { frac / 1000 };
        for v in [secs, frac, cap as u32, orig_len.max(cap as u32)] {
            let b = if self.big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            };
            self.out.write_all(&b)?;
        }
        self.out.write_all(&data[..cap])
    }

    /// Writes a whole frame as captured.
    pub fn packet(&mut self, ts: Timestamp, data: &[u8]) -> io::Result<()> {
        self.record(ts, data, data.len() as u32)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// pcapng writer: sections, interfaces (each with its own link type,
/// timestamp resolution and offset), enhanced and simple packet blocks.
pub struct PcapngWriter<W: Write> {
    out: W,
    big_endian: bool,
    /// (units per second, offset seconds) per interface of the current section.
    interfaces: Vec<(u64, i64)>,
}

impl<W: Write> PcapngWriter<W> {
    pub fn new(out: W, big_endian: bool) -> io::Result<Self> {
        let mut w = PcapngWriter {
            out,
            big_endian,
            interfaces: Vec::new(),
        };
        w.section()?;
        Ok(w)
    }

    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        let pad = (4 - body.len() % 4) % 4;
        let total = (12 + body.len() + pad) as u32;
        let mut b = Vec::with_capacity(total as usize);
        b.extend_from_slice(&self.u32b(block_type));
        b.extend_from_slice(&self.u32b(total));
        b.extend_from_slice(body);
        b.extend(std::iter::repeat_n(0u8, pad));
        b.extend_from_slice(&self.u32b(total));
        self.out.write_all(&b)
    }

    /// Starts a new section; interfaces must be declared again.
    pub fn section(&mut self) -> io::Result<()> {
        self.interfaces.clear();
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32b(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16b(1));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body)
    }

    /// Declares an interface; returns its id. `tsresol` is the pcapng option
    /// byte (6 = µs, 9 = ns); `tsoffset` is in seconds.
    pub fn interface(
        &mut self,
        link_type: u16,
        snaplen: u32,
        tsresol: u8,
        tsoffset: i64,
    ) -> io::Result<u32> {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16b(link_type));
        body.extend_from_slice(&self.u16b(0));
        body.extend_from_slice(&self.u32b(snaplen));
        if tsresol != 6 {
            body.extend_from_slice(&self.u16b(9));
            body.extend_from_slice(&self.u16b(1));
            body.extend_from_slice(&[tsresol, 0, 0, 0]);
        }
        if tsoffset != 0 {
            body.extend_from_slice(&self.u16b(14));
            body.extend_from_slice(&self.u16b(8));
            let b = if self.big_endian {
                tsoffset.to_be_bytes()
            } else {
                tsoffset.to_le_bytes()
            };
            body.extend_from_slice(&b);
        }
        if tsresol != 6 || tsoffset != 0 {
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        self.block(1, &body)?;
        let units = if tsresol & 0x80 != 0 {
            1u64 << (tsresol & 0x7f)
        } else {
            10u64.pow(tsresol as u32)
        };
        self.interfaces.push((units, tsoffset));
        Ok(self.interfaces.len() as u32 - 1)
    }

    /// An enhanced packet block on interface `if_id`.
    pub fn packet(
        &mut self,
        if_id: u32,
        ts: Timestamp,
        data: &[u8],
        orig_len: u32,
    ) -> io::Result<()> {
        let (units, offset) = self
            .interfaces
            .get(if_id as usize)
            .copied()
            .unwrap_or((1_000_000, 0));
        let rel = ts.0 as i128 - offset as i128 * 1_000_000_000;
        let t = (rel * units as i128 / 1_000_000_000).max(0) as u64;
        let mut body = Vec::with_capacity(20 + data.len());
        body.extend_from_slice(&self.u32b(if_id));
        body.extend_from_slice(&self.u32b((t >> 32) as u32));
        body.extend_from_slice(&self.u32b(t as u32));
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(&self.u32b(orig_len.max(data.len() as u32)));
        body.extend_from_slice(data);
        self.block(6, &body)
    }

    /// A simple packet block (interface 0, no timestamp).
    pub fn simple_packet(&mut self, data: &[u8]) -> io::Result<()> {
        let mut body = Vec::with_capacity(4 + data.len());
        body.extend_from_slice(&self.u32b(data.len() as u32));
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
