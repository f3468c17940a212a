//! pcapng blocks: framing, the block loop, the scan for the next plausible
//! block after damage, and interface timestamps.

use super::window::{Probe, Window, read_u32, scan};
use super::{FrameSink, ReadState, Resync};
use crate::capture::damage::DamageKind;
use crate::capture::{Frame, Timestamp};
use pcap_parser::PcapError;
use pcap_parser::pcapng::{
    Block, CB_MAGIC, DCB_MAGIC, DSB_MAGIC, EPB_MAGIC, IDB_MAGIC, ISB_MAGIC, NRB_MAGIC, PIB_MAGIC,
    SHB_MAGIC, SJE_MAGIC, SPB_MAGIC, parse_block_be, parse_block_le,
};
use pcap_parser::traits::PcapNGPacketBlock;
use std::io::Read;

/// The largest pcapng block accepted (name resolution and secrets blocks can
/// be large; packet blocks are bounded by it too).
const MAX_PCAPNG_BLOCK: usize = 16 << 20;

#[derive(Clone, Copy)]
pub(super) struct Interface {
    pub(super) link_type: u32,
    /// Timestamp units per second.
    pub(super) resolution: u64,
    pub(super) offset_secs: i64,
}

/// The current pcapng section.
pub(super) struct Pcapng {
    pub(super) big_endian: bool,
    pub(super) interfaces: Vec<Interface>,
}

const KNOWN_BLOCKS: [u32; 12] = [
    IDB_MAGIC, 2, SPB_MAGIC, NRB_MAGIC, ISB_MAGIC, EPB_MAGIC, SJE_MAGIC, DSB_MAGIC, CB_MAGIC,
    DCB_MAGIC, PIB_MAGIC, SHB_MAGIC,
];

impl Pcapng {
    /// Block type, length and byte order of the block at the start of `d`
    /// (12 bytes), or why its framing is impossible. A section header block
    /// carries its own byte order.
    #[inline]
    fn frame(&self, d: &[u8]) -> Result<(u32, usize, bool), DamageKind> {
        let mut be = self.big_endian;
        let ty = read_u32(d, 0, be);
        if ty == SHB_MAGIC {
            be = match d[8..12] {
                [0x1a, 0x2b, 0x3c, 0x4d] => true,
                [0x4d, 0x3c, 0x2b, 0x1a] => false,
                _ => return Err(DamageKind::BlockType { block_type: ty }),
            };
        }
        let len = read_u32(d, 4, be);
        if len < 12 || !len.is_multiple_of(4) || len as usize > MAX_PCAPNG_BLOCK {
            return Err(DamageKind::BlockLength { len });
        }
        Ok((ty, len as usize, be))
    }
}

impl ReadState {
    pub(super) fn pcapng<R: Read>(
        &mut self,
        ng: &mut Pcapng,
        w: &mut Window<R>,
        sink: &mut dyn FrameSink,
    ) {
        loop {
            match w.fill_or_wait(12, sink) {
                Ok(true) => {}
                Ok(false) => {
                    if w.len() > 0 {
                        self.cut();
                    }
                    return;
                }
                Err(e) => return self.read_failed(&e),
            }
            let (len, be) = match ng.frame(w.data()) {
                Ok((_, len, be)) => match w.fill_or_wait(len, sink) {
                    Ok(true) => {
                        let trailer = read_u32(w.data(), len - 4, be);
                        if trailer as usize == len {
                            (len, be)
                        } else {
                            let at = w.offset();
                            let end = self.scan_pcapng(ng, w);
                            let kind = DamageKind::BlockTrailer {
                                len: len as u32,
                                trailer,
                            };
                            if self.skip_damage(w, at, kind, end, sink) {
                                continue;
                            }
                            return;
                        }
                    }
                    Ok(false) => {
                        let at = w.offset();
                        let end = self.scan_pcapng(ng, w);
                        if self.cut_or_skip(w, at, end, sink) {
                            continue;
                        }
                        return;
                    }
                    Err(e) => return self.read_failed(&e),
                },
                Err(kind) => {
                    let at = w.offset();
                    let end = self.scan_pcapng(ng, w);
                    if self.skip_damage(w, at, kind, end, sink) {
                        continue;
                    }
                    return;
                }
            };
            let parsed = {
                let d = &w.data()[..len];
                let r = if be {
                    parse_block_be(d)
                } else {
                    parse_block_le(d)
                };
                match r {
                    Ok((_, block)) => {
                        self.block(ng, block, be, sink);
                        None
                    }
                    Err(pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e)) => {
                        Some(describe(&e))
                    }
                    Err(pcap_parser::nom::Err::Incomplete(_)) => {
                        Some("incomplete block".to_string())
                    }
                }
            };
            if let Some(reason) = parsed {
                // The framing holds, so the next block is where it says.
                let at = w.offset();
                w.consume(len);
                self.damaged(w, at, DamageKind::BlockContent { reason }, sink);
                continue;
            }
            w.consume(len);
        }
    }

    /// Moves the window to the next plausible block after the one at its
    /// start: a known block type whose length is sane and repeated in its
    /// trailer (and, for an enhanced packet block, whose interface exists).
    pub(super) fn scan_pcapng<R: Read>(&self, ng: &Pcapng, w: &mut Window<R>) -> Resync {
        // A real block has a non-zero type in its first four bytes.
        scan(w, 12, 3, |w, at| {
            let d = &w.data()[at..];
            let Ok((ty, len, be)) = ng.frame(d) else {
                return Probe::Next;
            };
            if !KNOWN_BLOCKS.contains(&ty)
                || (ty == EPB_MAGIC && read_u32(d, 8, be) as usize >= ng.interfaces.len())
            {
                return Probe::Next;
            }
            match w.fill(at + len) {
                Ok(true) if read_u32(w.data(), at + len - 4, be) as usize == len => Probe::Found,
                Ok(_) => Probe::Next,
                Err(e) => Probe::Failed(e),
            }
        })
    }

    fn block(&mut self, ng: &mut Pcapng, block: Block<'_>, be: bool, sink: &mut dyn FrameSink) {
        match block {
            Block::SectionHeader(_) => {
                // Interface ids are scoped to their section, and so is the byte order.
                ng.interfaces.clear();
                ng.big_endian = be;
            }
            Block::InterfaceDescription(idb) => {
                let resolution = ts_resolution(idb.if_tsresol).unwrap_or(1_000_000);
                if resolution > 1_000_000 {
                    self.summary.nanosecond = true;
                }
                let link_type = idb.linktype.0 as u32;
                ng.interfaces.push(Interface {
                    link_type,
                    resolution: resolution.max(1),
                    offset_secs: idb.ts_offset(),
                });
                self.note_link_type(link_type);
            }
            Block::EnhancedPacket(epb) => {
                self.summary.frames += 1;
                let Some(iface) = ng.interfaces.get(epb.if_id as usize).copied() else {
                    self.bad_frame(format!(
                        "packet refers to interface {} which the section does not define",
                        epb.if_id
                    ));
                    return;
                };
                let units = ((epb.ts_high as u64) << 32) | epb.ts_low as u64;
                let ts = ng_timestamp(units, iface);
                self.last_ts = ts;
                sink.frame(&Frame {
                    number: self.summary.frames,
                    ts,
                    link_type: iface.link_type,
                    orig_len: epb.origlen,
                    data: epb.packet_data(),
                });
            }
            Block::SimplePacket(spb) => {
                self.summary.frames += 1;
                let Some(iface) = ng.interfaces.first().copied() else {
                    self.bad_frame("simple packet block before any interface".to_string());
                    return;
                };
                // Simple packet blocks carry no time; the previous frame's is the best guess.
                sink.frame(&Frame {
                    number: self.summary.frames,
                    ts: self.last_ts,
                    link_type: iface.link_type,
                    orig_len: spb.origlen,
                    data: spb.packet_data(),
                });
            }
            _ => {}
        }
    }
}

/// Units per second from pcapng's `if_tsresol` byte: 10^n, or 2^n with the top bit set.
fn ts_resolution(tsresol: u8) -> Option<u64> {
    let n = (tsresol & 0x7f) as u32;
    if tsresol & 0x80 != 0 {
        (n <= 63).then(|| 1u64 << n)
    } else {
        10u64.checked_pow(n)
    }
}

fn ng_timestamp(units: u64, iface: Interface) -> Timestamp {
    let nanos: i128 = match iface.resolution {
        1_000_000_000 => units as i128,
        1_000_000 => units as i128 * 1000,
        res => units as i128 * 1_000_000_000 / res as i128,
    };
    let total = nanos + iface.offset_secs as i128 * 1_000_000_000;
    Timestamp(total.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
}

pub(super) fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("parse error: {kind:?}"),
        PcapError::OwnedNomError(_, kind) => format!("parse error: {kind:?}"),
        PcapError::HeaderNotRecognized => "unrecognised block".to_string(),
        PcapError::ReadError => "read error".to_string(),
        other => format!("{other:?}"),
    }
}
