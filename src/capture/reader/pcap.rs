//! Classic pcap records: header plausibility, the record loop and the scan
//! for the next plausible record after damage.

use super::window::{Probe, Window, read_u32, scan};
use super::{FrameSink, ReadState, Resync};
use crate::capture::damage::DamageKind;
use crate::capture::{Frame, Timestamp};
use std::io::Read;

/// A classic pcap record may be this long even when the file's snap length is
/// smaller (some writers put 0 or a too small value there).
pub(super) const PCAP_RECORD_FLOOR: usize = 256 << 10;
/// No classic record is believed beyond this, whatever the header says.
pub(super) const MAX_RECORD: usize = 64 << 20;
/// A candidate record this close in time to the last good one (seconds
/// before, after) needs no second plausible header behind it.
const NEAR_BEFORE_SECS: i64 = 60;
const NEAR_AFTER_SECS: i64 = 86_400;

/// A classic pcap file's record format.
pub(super) struct Pcap {
    pub(super) big_endian: bool,
    /// 16, or 24 for the "modified" (Kuznetzov) format.
    pub(super) record_len: usize,
    pub(super) nanos: bool,
    /// The longest record believed: the snap length, at least
    /// [`PCAP_RECORD_FLOOR`], at most [`MAX_RECORD`].
    pub(super) limit: usize,
    pub(super) link_type: u32,
}

struct RecordHeader {
    ts_sec: u32,
    frac: u32,
    caplen: u32,
    orig_len: u32,
}

impl Pcap {
    #[inline]
    fn header(&self, d: &[u8]) -> RecordHeader {
        RecordHeader {
            ts_sec: read_u32(d, 0, self.big_endian),
            frac: read_u32(d, 4, self.big_endian),
            caplen: read_u32(d, 8, self.big_endian),
            orig_len: read_u32(d, 12, self.big_endian),
        }
    }

    /// Why a record header cannot be real, if it cannot: a captured length
    /// beyond the limit or beyond the length on the wire, an all-zero header
    /// (what zero-filled regions look like; an empty frame with a time is
    /// allowed), or a sub-second field of a second or more.
    #[inline]
    fn implausible(&self, h: &RecordHeader) -> Option<DamageKind> {
        let frac_limit = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        let zeros = h.orig_len == 0 && h.caplen == 0 && h.ts_sec == 0 && h.frac == 0;
        if h.caplen as usize > self.limit || h.caplen > h.orig_len || zeros {
            Some(DamageKind::RecordLength {
                caplen: h.caplen,
                orig_len: h.orig_len,
            })
        } else if h.frac >= frac_limit {
            Some(DamageKind::RecordTime { fraction: h.frac })
        } else {
            None
        }
    }

    /// Stricter than [`Self::implausible`], for candidates found by scanning:
    /// the wire length is bounded and not 0.
    #[inline]
    fn candidate(&self, d: &[u8]) -> Option<usize> {
        let h = self.header(d);
        (self.implausible(&h).is_none() && h.orig_len != 0 && h.orig_len as usize <= self.limit)
            .then_some(self.record_len + h.caplen as usize)
    }
}

impl ReadState {
    pub(super) fn pcap<R: Read>(
        &mut self,
        p: &mut Pcap,
        w: &mut Window<R>,
        sink: &mut dyn FrameSink,
    ) {
        let rl = p.record_len;
        loop {
            match w.fill_or_wait(rl, sink) {
                Ok(true) => {}
                Ok(false) => {
                    if w.len() > 0 {
                        self.cut();
                    }
                    return;
                }
                Err(e) => return self.read_failed(&e),
            }
            let h = p.header(w.data());
            if let Some(kind) = p.implausible(&h) {
                let at = w.offset();
                let end = self.scan_pcap(p, w);
                if self.skip_damage(w, at, kind, end, sink) {
                    continue;
                }
                return;
            }
            let total = rl + h.caplen as usize;
            match w.fill_or_wait(total, sink) {
                Ok(true) => {}
                Ok(false) => {
                    let at = w.offset();
                    let end = self.scan_pcap(p, w);
                    if self.cut_or_skip(w, at, end, sink) {
                        continue;
                    }
                    return;
                }
                Err(e) => return self.read_failed(&e),
            }
            self.summary.frames += 1;
            let frac = if p.nanos {
                h.frac as i64
            } else {
                h.frac as i64 * 1000
            };
            let ts = Timestamp::from_parts(h.ts_sec as i64, frac);
            self.last_ts = ts;
            sink.frame(&Frame {
                number: self.summary.frames,
                ts,
                link_type: p.link_type,
                orig_len: h.orig_len,
                data: &w.data()[rl..total],
            });
            w.consume(total);
        }
    }

    /// Moves the window to the next plausible record after the one at its
    /// start: a header that passes [`Pcap::candidate`] and either is close in
    /// time to the last record read or is followed by another header that
    /// passes it, or by the end of the file.
    pub(super) fn scan_pcap<R: Read>(&self, p: &Pcap, w: &mut Window<R>) -> Resync {
        let rl = p.record_len;
        let near_sec = (self.summary.frames > 0).then(|| {
            let last = self.last_ts.0.div_euclid(1_000_000_000);
            (last - NEAR_BEFORE_SECS, last + NEAR_AFTER_SECS)
        });
        // A real header has a non-zero wire length in its bytes 12..16.
        scan(w, rl, 15, |w, at| {
            let Some(len) = p.candidate(&w.data()[at..]) else {
                return Probe::Next;
            };
            // Close in time to the last good record is proof enough (damage
            // may come thick, record after record); otherwise the next header
            // must be plausible too.
            let near = near_sec.is_some_and(|(lo, hi)| {
                (lo..=hi).contains(&(p.header(&w.data()[at..]).ts_sec as i64))
            });
            let next = at + len;
            let plausible = near
                || match w.fill(next + rl) {
                    Ok(true) => p.candidate(&w.data()[next..]).is_some(),
                    // The end of the file right after it, or a header cut by it.
                    Ok(false) => w.len() >= next,
                    Err(e) => return Probe::Failed(e),
                };
            if plausible { Probe::Found } else { Probe::Next }
        })
    }
}
