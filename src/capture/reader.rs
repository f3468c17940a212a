use super::damage::{DamageKind, DamageLog, DamagedRegion};
use super::{CaptureError, Frame, Timestamp};
use flate2::read::MultiGzDecoder;
use pcap_parser::PcapError;
use pcap_parser::pcapng::{
    Block, CB_MAGIC, DCB_MAGIC, DSB_MAGIC, EPB_MAGIC, IDB_MAGIC, ISB_MAGIC, NRB_MAGIC, PIB_MAGIC,
    SHB_MAGIC, SJE_MAGIC, SPB_MAGIC, parse_block_be, parse_block_le, parse_sectionheaderblock,
};
use pcap_parser::traits::PcapNGPacketBlock;
use serde::Serialize;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

/// Starting size of the read window; it grows only while a record needs more
/// and the bytes are really there.
const INITIAL_BUFFER: usize = 256 << 10;
/// A classic pcap record may be this long even when the file's snap length is
/// smaller (some writers put 0 or a too small value there).
const PCAP_RECORD_FLOOR: usize = 256 << 10;
/// No classic record or pcapng block is believed beyond this, whatever the
/// header says.
const MAX_RECORD: usize = 64 << 20;
/// The largest pcapng block accepted (name resolution and secrets blocks can
/// be large; packet blocks are bounded by it too).
const MAX_PCAPNG_BLOCK: usize = 16 << 20;
/// A candidate record this close in time to the last good one (seconds
/// before, after) needs no second plausible header behind it.
const NEAR_BEFORE_SECS: i64 = 60;
const NEAR_AFTER_SECS: i64 = 86_400;
/// While scanning damage, skipped bytes are released in steps of this size so
/// the window does not grow with the damage.
const SCAN_STEP: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

impl CaptureFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::Pcapng => "pcapng",
        }
    }
}

/// What the reader learned about the file as a whole.
#[derive(Debug, Clone)]
pub struct CaptureSummary {
    pub format: CaptureFormat,
    pub gzip: bool,
    pub nanosecond: bool,
    pub frames: u64,
    /// Link types in order of first appearance.
    pub link_types: Vec<u32>,
    /// Set when the file ends inside a record (a clean cut at the end):
    /// everything before it was delivered. Damage in the middle of the file
    /// does not set it; see [`CaptureSummary::damage`].
    pub truncated: Option<String>,
    /// Packet blocks that could not be turned into frames (frame number, reason).
    pub bad_frames: Vec<(u64, String)>,
    pub bad_frame_count: u64,
    /// The first damaged regions, in file order (at most
    /// [`MAX_LISTED_DAMAGE`](super::MAX_LISTED_DAMAGE)); reading resumed after each.
    pub damaged: Vec<DamagedRegion>,
    /// Every damaged region, listed or not.
    pub damage_count: u64,
    /// Bytes skipped over all damaged regions.
    pub damaged_bytes: u64,
}

impl CaptureSummary {
    /// The damaged regions found, in file order (the first
    /// [`MAX_LISTED_DAMAGE`](super::MAX_LISTED_DAMAGE); [`Self::damage_count`]
    /// counts them all).
    pub fn damage(&self) -> &[DamagedRegion] {
        &self.damaged
    }
}

/// Receives frames as the reader produces them.
pub trait FrameSink {
    fn frame(&mut self, frame: &Frame<'_>);

    /// Called once per damaged stretch, as soon as reading has resumed after
    /// it (or the file has ended inside it). `frames_after` is not known yet
    /// and is 0 here. Stretches that follow each other with no frame between
    /// come as separate calls but are one region in the summary, which has
    /// the final figures.
    fn damage(&mut self, _region: &DamagedRegion) {}
}

impl<F: FnMut(&Frame<'_>)> FrameSink for F {
    fn frame(&mut self, frame: &Frame<'_>) {
        self(frame)
    }
}

/// Opens `path` (`-` is standard input) and streams its frames into `sink`.
pub fn read_path(path: &Path, sink: &mut dyn FrameSink) -> Result<CaptureSummary, CaptureError> {
    read_path_counted(path, None, sink)
}

/// [`read_path`], adding the bytes read from the file (compressed bytes for
/// gzip) to `counter` as it goes, for progress.
pub fn read_path_counted(
    path: &Path,
    counter: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
    sink: &mut dyn FrameSink,
) -> Result<CaptureSummary, CaptureError> {
    if path.as_os_str() == "-" {
        return read_capture(path, io::stdin(), sink);
    }
    let file = File::open(path).map_err(|source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    match counter {
        Some(count) => read_capture(path, Counting { inner: file, count }, sink),
        None => read_capture(path, file, sink),
    }
}

/// Counts the bytes that pass (one atomic add per buffer fill, not per frame).
struct Counting<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Streams the frames of a capture read from `src`. `name` is only used in messages.
///
/// Damage in the middle of the file (see [`DamageKind`]) does not end the
/// reading: the reader scans forward to the next plausible record, notes the
/// region in the summary and goes on. Memory stays bounded by the largest
/// record really present, never by what a corrupt header claims.
pub fn read_capture<R: Read + Send + 'static>(
    name: &Path,
    src: R,
    sink: &mut dyn FrameSink,
) -> Result<CaptureSummary, CaptureError> {
    let path = name.to_path_buf();
    let (head, src) = peek(src, 12).map_err(|source| CaptureError::Read {
        path: path.clone(),
        source,
    })?;
    if head.is_empty() {
        return Err(CaptureError::Empty { path });
    }
    let (head, src, gzip): (Vec<u8>, Box<dyn Read + Send>, bool) =
        if head.starts_with(&[0x1f, 0x8b]) {
            let (head, src) =
                peek(MultiGzDecoder::new(src), 12).map_err(|source| CaptureError::Read {
                    path: path.clone(),
                    source,
                })?;
            if head.is_empty() {
                return Err(CaptureError::Empty { path });
            }
            (head, Box::new(src), true)
        } else {
            (head, Box::new(src), false)
        };
    let format = match head.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => CaptureFormat::Pcapng,
        Some([0xa1, 0xb2, 0xc3, 0xd4])
        | Some([0xd4, 0xc3, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0x3c, 0x4d])
        | Some([0x4d, 0x3c, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0xcd, 0x34])
        | Some([0x34, 0xcd, 0xb2, 0xa1]) => CaptureFormat::Pcap,
        _ => {
            return Err(CaptureError::NotACapture {
                path,
                magic: head.iter().map(|b| format!("{b:02x}")).collect(),
            });
        }
    };
    let mut w = Window::new(src);
    let mut state = ReadState::new(format, gzip);
    let read_error = |source: io::Error, path: &Path| CaptureError::Read {
        path: path.to_path_buf(),
        source,
    };
    let truncated = |w: &Window<_>, path: &Path| CaptureError::HeaderTruncated {
        path: path.to_path_buf(),
        len: w.len(),
    };
    let bad_header =
        |e: pcap_parser::nom::Err<PcapError<&[u8]>>, path: &Path| CaptureError::BadHeader {
            path: path.to_path_buf(),
            reason: match e {
                pcap_parser::nom::Err::Error(e) | pcap_parser::nom::Err::Failure(e) => describe(&e),
                pcap_parser::nom::Err::Incomplete(_) => "incomplete".to_string(),
            },
        };
    match format {
        CaptureFormat::Pcap => {
            if !w.fill(24).map_err(|e| read_error(e, &path))? {
                return Err(truncated(&w, &path));
            }
            let (_, h) = pcap_parser::parse_pcap_header(&w.data()[..24])
                .map_err(|e| bad_header(e, &path))?;
            w.consume(24);
            let mut pcap = Pcap {
                big_endian: h.is_bigendian(),
                record_len: if h.is_modified_format() { 24 } else { 16 },
                nanos: h.is_nanosecond_precision(),
                limit: (h.snaplen as usize).clamp(PCAP_RECORD_FLOOR, MAX_RECORD),
                link_type: h.network.0 as u32,
            };
            state.summary.nanosecond = pcap.nanos;
            state.note_link_type(pcap.link_type);
            state.pcap(&mut pcap, &mut w, sink);
        }
        CaptureFormat::Pcapng => {
            if !w.fill(12).map_err(|e| read_error(e, &path))? {
                return Err(truncated(&w, &path));
            }
            let d = w.data();
            let big_endian = match d[8..12] {
                [0x1a, 0x2b, 0x3c, 0x4d] => true,
                [0x4d, 0x3c, 0x2b, 0x1a] => false,
                _ => {
                    return Err(CaptureError::BadHeader {
                        path,
                        reason: "section header byte-order magic not recognised".to_string(),
                    });
                }
            };
            let len = read_u32(d, 4, big_endian) as usize;
            if !(28..=(64 << 10)).contains(&len) || !len.is_multiple_of(4) {
                return Err(CaptureError::BadHeader {
                    path,
                    reason: format!("section header block length {len}"),
                });
            }
            if !w.fill(len).map_err(|e| read_error(e, &path))? {
                return Err(truncated(&w, &path));
            }
            parse_sectionheaderblock(&w.data()[..len]).map_err(|e| bad_header(e, &path))?;
            let mut ng = Pcapng {
                big_endian,
                interfaces: Vec::new(),
            };
            w.consume(len);
            state.pcapng(&mut ng, &mut w, sink);
        }
    }
    // A pcapng cut before its first interface has no frame to give: as unreadable as a cut header.
    if state.summary.frames == 0
        && state.summary.truncated.is_some()
        && state.summary.link_types.is_empty()
    {
        return Err(CaptureError::HeaderTruncated {
            path,
            len: head.len(),
        });
    }
    state.damage.finish(state.summary.frames);
    let (listed, count, bytes) = state.damage.into_parts();
    state.summary.damaged = listed;
    state.summary.damage_count = count;
    state.summary.damaged_bytes = bytes;
    Ok(state.summary)
}

/// The bytes read ahead, and a reader that yields them again before the rest.
type Peeked<R> = (Vec<u8>, io::Chain<Cursor<Vec<u8>>, R>);

/// Reads up to `n` bytes without losing them.
fn peek<R: Read>(mut src: R, n: usize) -> io::Result<Peeked<R>> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match src.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head.clone(), Cursor::new(head).chain(src)))
}

/// A sliding window over the stream. Reads only what the next record needs,
/// so a slow pipe (`tcpdump -w - | tcpshake analyze -`) streams record by
/// record, and grows only when a record is longer than the window *and* its
/// bytes have arrived: a header claiming gigabytes costs nothing until the
/// gigabytes exist (at most twice the bytes present are ever allocated).
struct Window<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
}

impl<R: Read> Window<R> {
    fn new(src: R) -> Self {
        Window {
            src,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
        }
    }

    #[inline]
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    #[inline]
    fn len(&self) -> usize {
        self.end - self.start
    }

    /// Stream offset of the first unconsumed byte.
    fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
    }

    /// Makes `n` bytes available; `false` if the stream ends first (what
    /// there is stays available).
    #[inline]
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.len() >= n {
            return Ok(true);
        }
        self.fill_slow(n)
    }

    fn fill_slow(&mut self, n: usize) -> io::Result<bool> {
        while self.len() < n {
            if self.eof {
                return Ok(false);
            }
            if self.end == self.buf.len() {
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.base += self.start as u64;
                    self.end -= self.start;
                    self.start = 0;
                } else {
                    // Full of real bytes: only now is growing justified.
                    let cap = self.buf.len();
                    self.buf
                        .resize(n.min(cap.saturating_mul(2)).max(cap + 1), 0);
                }
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

#[inline]
fn read_u32(d: &[u8], at: usize, big_endian: bool) -> u32 {
    let b = [d[at], d[at + 1], d[at + 2], d[at + 3]];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Where the first non-zero byte of `d` is. Runs of zeros (a pre-allocated
/// file never written, a zeroed disk block) are skipped word by word.
#[inline]
fn first_nonzero(d: &[u8]) -> Option<usize> {
    let mut chunks = d.chunks_exact(32);
    let mut base = 0;
    for c in &mut chunks {
        if c.iter().fold(0u8, |a, &b| a | b) != 0 {
            return c.iter().position(|&b| b != 0).map(|i| base + i);
        }
        base += 32;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b != 0)
        .map(|i| base + i)
}

/// A classic pcap file's record format.
struct Pcap {
    big_endian: bool,
    /// 16, or 24 for the "modified" (Kuznetzov) format.
    record_len: usize,
    nanos: bool,
    /// The longest record believed: the snap length, at least
    /// [`PCAP_RECORD_FLOOR`], at most [`MAX_RECORD`].
    limit: usize,
    link_type: u32,
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

#[derive(Clone, Copy)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    resolution: u64,
    offset_secs: i64,
}

/// The current pcapng section.
struct Pcapng {
    big_endian: bool,
    interfaces: Vec<Interface>,
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

struct ReadState {
    summary: CaptureSummary,
    damage: DamageLog,
    last_ts: Timestamp,
}

const MAX_LISTED_BAD_FRAMES: usize = 100;

/// How a scan for the next record ended.
enum Resync {
    /// The window starts at a plausible record.
    Found,
    /// The stream ended first; everything was skipped.
    End,
    /// The stream could not be read.
    Failed(io::Error),
}

impl ReadState {
    fn new(format: CaptureFormat, gzip: bool) -> ReadState {
        ReadState {
            summary: CaptureSummary {
                format,
                gzip,
                nanosecond: false,
                frames: 0,
                link_types: Vec::new(),
                truncated: None,
                bad_frames: Vec::new(),
                bad_frame_count: 0,
                damaged: Vec::new(),
                damage_count: 0,
                damaged_bytes: 0,
            },
            damage: DamageLog::default(),
            last_ts: Timestamp(0),
        }
    }

    fn note_link_type(&mut self, lt: u32) {
        if !self.summary.link_types.contains(&lt) {
            self.summary.link_types.push(lt);
        }
    }

    fn bad_frame(&mut self, reason: String) {
        self.summary.bad_frame_count += 1;
        if self.summary.bad_frames.len() < MAX_LISTED_BAD_FRAMES {
            self.summary.bad_frames.push((self.summary.frames, reason));
        }
    }

    fn read_failed(&mut self, e: &io::Error) {
        self.summary.truncated = Some(format!(
            "read error after frame {}: {e}",
            self.summary.frames
        ));
    }

    fn cut(&mut self) {
        self.summary.truncated = Some(format!(
            "the file ends inside a record after frame {}",
            self.summary.frames
        ));
    }

    /// Notes the region from `offset` to the window's start as damaged.
    fn damaged<R: Read>(
        &mut self,
        w: &Window<R>,
        offset: u64,
        kind: DamageKind,
        sink: &mut dyn FrameSink,
    ) {
        let region = DamagedRegion {
            offset,
            skipped: w.offset() - offset,
            frames_before: self.summary.frames,
            frames_after: 0,
            kind,
        };
        sink.damage(&region);
        self.damage.push(region);
    }

    fn pcap<R: Read>(&mut self, p: &mut Pcap, w: &mut Window<R>, sink: &mut dyn FrameSink) {
        let rl = p.record_len;
        loop {
            match w.fill(rl) {
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
                self.damaged(w, at, kind, sink);
                match end {
                    Resync::Found => continue,
                    Resync::End => return,
                    Resync::Failed(e) => return self.read_failed(&e),
                }
            }
            let total = rl + h.caplen as usize;
            match w.fill(total) {
                Ok(true) => {}
                Ok(false) => {
                    // Cut at the end, unless whole records follow inside what
                    // is left: then this header lied about its length.
                    let at = w.offset();
                    match self.scan_pcap(p, w) {
                        Resync::Found => {
                            self.damaged(w, at, DamageKind::RecordCut, sink);
                            continue;
                        }
                        Resync::End => return self.cut(),
                        Resync::Failed(e) => return self.read_failed(&e),
                    }
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
    fn scan_pcap<R: Read>(&self, p: &Pcap, w: &mut Window<R>) -> Resync {
        let rl = p.record_len;
        let near_sec = (self.summary.frames > 0).then(|| {
            let last = self.last_ts.0.div_euclid(1_000_000_000);
            (last - NEAR_BEFORE_SECS, last + NEAR_AFTER_SECS)
        });
        let mut at = 1usize;
        loop {
            if at >= SCAN_STEP {
                w.consume(at);
                at = 0;
            }
            match w.fill(at + rl) {
                Ok(true) => {}
                Ok(false) => {
                    w.consume(w.len());
                    return Resync::End;
                }
                Err(e) => {
                    // What was read before the failure is part of the damage.
                    w.consume(w.len());
                    return Resync::Failed(e);
                }
            }
            // A real header has a non-zero wire length in its bytes 12..16.
            match first_nonzero(&w.data()[at..]) {
                None => {
                    at = w.len();
                    continue;
                }
                Some(q) if q > 15 => {
                    at += q - 15;
                    continue;
                }
                Some(_) => {}
            }
            let Some(len) = p.candidate(&w.data()[at..]) else {
                at += 1;
                continue;
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
                    Err(e) => {
                        w.consume(w.len());
                        return Resync::Failed(e);
                    }
                };
            if plausible {
                w.consume(at);
                return Resync::Found;
            }
            at += 1;
        }
    }

    fn pcapng<R: Read>(&mut self, ng: &mut Pcapng, w: &mut Window<R>, sink: &mut dyn FrameSink) {
        loop {
            match w.fill(12) {
                Ok(true) => {}
                Ok(false) => {
                    if w.len() > 0 {
                        self.cut();
                    }
                    return;
                }
                Err(e) => return self.read_failed(&e),
            }
            let framing = ng.frame(w.data());
            let (len, be) = match framing {
                Ok((_, len, be)) => match w.fill(len) {
                    Ok(true) => {
                        let trailer = read_u32(w.data(), len - 4, be);
                        if trailer as usize == len {
                            (len, be)
                        } else {
                            let at = w.offset();
                            let end = self.scan_pcapng(ng, w);
                            self.damaged(
                                w,
                                at,
                                DamageKind::BlockTrailer {
                                    len: len as u32,
                                    trailer,
                                },
                                sink,
                            );
                            match end {
                                Resync::Found => continue,
                                Resync::End => return,
                                Resync::Failed(e) => return self.read_failed(&e),
                            }
                        }
                    }
                    Ok(false) => {
                        let at = w.offset();
                        match self.scan_pcapng(ng, w) {
                            Resync::Found => {
                                self.damaged(w, at, DamageKind::RecordCut, sink);
                                continue;
                            }
                            Resync::End => return self.cut(),
                            Resync::Failed(e) => return self.read_failed(&e),
                        }
                    }
                    Err(e) => return self.read_failed(&e),
                },
                Err(kind) => {
                    let at = w.offset();
                    let end = self.scan_pcapng(ng, w);
                    self.damaged(w, at, kind, sink);
                    match end {
                        Resync::Found => continue,
                        Resync::End => return,
                        Resync::Failed(e) => return self.read_failed(&e),
                    }
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
    fn scan_pcapng<R: Read>(&self, ng: &Pcapng, w: &mut Window<R>) -> Resync {
        let mut at = 1usize;
        loop {
            if at >= SCAN_STEP {
                w.consume(at);
                at = 0;
            }
            match w.fill(at + 12) {
                Ok(true) => {}
                Ok(false) => {
                    w.consume(w.len());
                    return Resync::End;
                }
                Err(e) => {
                    // What was read before the failure is part of the damage.
                    w.consume(w.len());
                    return Resync::Failed(e);
                }
            }
            // A real block has a non-zero type in its first four bytes.
            match first_nonzero(&w.data()[at..]) {
                None => {
                    at = w.len();
                    continue;
                }
                Some(q) if q > 3 => {
                    at += q - 3;
                    continue;
                }
                Some(_) => {}
            }
            let d = &w.data()[at..];
            let Ok((ty, len, be)) = ng.frame(d) else {
                at += 1;
                continue;
            };
            if !KNOWN_BLOCKS.contains(&ty)
                || (ty == EPB_MAGIC && read_u32(d, 8, be) as usize >= ng.interfaces.len())
            {
                at += 1;
                continue;
            }
            match w.fill(at + len) {
                Ok(true) => {}
                Ok(false) => {
                    at += 1;
                    continue;
                }
                Err(e) => {
                    w.consume(w.len());
                    return Resync::Failed(e);
                }
            }
            if read_u32(w.data(), at + len - 4, be) as usize == len {
                w.consume(at);
                return Resync::Found;
            }
            at += 1;
        }
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

fn describe(e: &PcapError<&[u8]>) -> String {
    match e {
        PcapError::NomError(_, kind) => format!("parse error: {kind:?}"),
        PcapError::OwnedNomError(_, kind) => format!("parse error: {kind:?}"),
        PcapError::HeaderNotRecognized => "unrecognised block".to_string(),
        PcapError::ReadError => "read error".to_string(),
        other => format!("{other:?}"),
    }
}
