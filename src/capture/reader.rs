use super::{CaptureError, Frame, Timestamp};
use flate2::read::MultiGzDecoder;
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};
use serde::Serialize;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::{Path, PathBuf};

/// Reader buffer; records larger than this grow it up to [`MAX_BUFFER`].
const INITIAL_BUFFER: usize = 1 << 20;
/// No real record is this large; beyond it the file is treated as corrupt.
const MAX_BUFFER: usize = 256 << 20;

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
    /// Set when the file ends inside a record or a record is corrupt: everything
    /// before it was delivered.
    pub truncated: Option<String>,
    /// Packet blocks that could not be turned into frames (frame number, reason).
    pub bad_frames: Vec<(u64, String)>,
    pub bad_frame_count: u64,
}

/// Receives frames as the reader produces them.
pub trait FrameSink {
    fn frame(&mut self, frame: &Frame<'_>);
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
    let header_error = |e: PcapError<&[u8]>, path: PathBuf| match e {
        PcapError::Incomplete(_) | PcapError::UnexpectedEof | PcapError::Eof => {
            CaptureError::HeaderTruncated {
                path,
                len: head.len(),
            }
        }
        PcapError::ReadError => CaptureError::Read {
            path,
            source: io::Error::other("read failed"),
        },
        other => CaptureError::BadHeader {
            path,
            reason: format!("{other:?}"),
        },
    };
    // The readers parse the file header from their first read, so make that one full.
    let header_len = match format {
        CaptureFormat::Pcap => 24,
        // The section header block's length, in the byte order its magic gives.
        CaptureFormat::Pcapng => head
            .get(4..12)
            .map(|b| {
                let len = [b[0], b[1], b[2], b[3]];
                if b[4..8] == [0x4d, 0x3c, 0x2b, 0x1a] {
                    u32::from_le_bytes(len)
                } else {
                    u32::from_be_bytes(len)
                }
            })
            .map_or(28, |l| (l as usize).clamp(28, 64 << 10)),
    };
    let src = FirstReadFull {
        inner: src,
        first: true,
        want: header_len,
    };
    let mut state = ReadState::new(format, gzip);
    match format {
        CaptureFormat::Pcap => {
            let rdr = LegacyPcapReader::new(INITIAL_BUFFER, src)
                .map_err(|e| header_error(e, path.clone()))?;
            state.drive(rdr, sink);
        }
        CaptureFormat::Pcapng => {
            let rdr = PcapNGReader::new(INITIAL_BUFFER, src)
                .map_err(|e| header_error(e, path.clone()))?;
            state.drive(rdr, sink);
        }
    }
    if state.summary.frames == 0
        && state.summary.truncated.is_some()
        && state.summary.link_types.is_empty()
    {
        return Err(CaptureError::HeaderTruncated {
            path,
            len: head.len(),
        });
    }
    Ok(state.summary)
}

/// Reads up to `n` bytes without losing them: returns them and a reader that
/// yields them again followed by the rest.
/// The bytes read ahead, and a reader that yields them again before the rest.
type Peeked<R> = (Vec<u8>, io::Chain<Cursor<Vec<u8>>, R>);

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

/// Makes the first `read` return at least the file header (the readers parse
/// it from their first read); later reads pass through, so a slow pipe
/// (`tcpdump -w - | tcpshake analyze -`) streams packet by packet.
struct FirstReadFull<R> {
    inner: R,
    first: bool,
    want: usize,
}

impl<R: Read> Read for FirstReadFull<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.first {
            return self.inner.read(buf);
        }
        self.first = false;
        let want = self.want.min(buf.len());
        let mut got = 0;
        while got < want {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(got)
    }
}

#[derive(Clone, Copy)]
struct Interface {
    link_type: u32,
    /// Timestamp units per second.
    resolution: u64,
    offset_secs: i64,
}

struct ReadState {
    summary: CaptureSummary,
    interfaces: Vec<Interface>,
    legacy_link_type: u32,
    legacy_nanos: bool,
    last_ts: Timestamp,
}

const MAX_LISTED_BAD_FRAMES: usize = 100;

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
            },
            interfaces: Vec::new(),
            legacy_link_type: 0,
            legacy_nanos: false,
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

    fn drive<P: PcapReaderIterator>(&mut self, mut rdr: P, sink: &mut dyn FrameSink) {
        let mut capacity = INITIAL_BUFFER;
        loop {
            match rdr.next() {
                Ok((offset, block)) => {
                    self.block(block, sink);
                    rdr.consume(offset);
                }
                Err(PcapError::Eof) => break,
                Err(PcapError::Incomplete(_)) => {
                    if rdr.refill().is_err() {
                        self.summary.truncated =
                            Some("read error in the middle of the file".to_string());
                        break;
                    }
                }
                Err(PcapError::UnexpectedEof) => {
                    self.summary.truncated = Some(format!(
                        "the file ends inside a record after frame {}",
                        self.summary.frames
                    ));
                    break;
                }
                Err(PcapError::BufferTooSmall) => {
                    if capacity >= MAX_BUFFER || !rdr.grow(capacity * 2) {
                        self.summary.truncated = Some(format!(
                            "record after frame {} claims more than {} MiB: corrupt",
                            self.summary.frames,
                            MAX_BUFFER >> 20
                        ));
                        break;
                    }
                    capacity *= 2;
                }
                Err(e) => {
                    self.summary.truncated = Some(format!(
                        "corrupt record after frame {} ({})",
                        self.summary.frames,
                        describe(&e)
                    ));
                    break;
                }
            }
        }
    }

    fn block(&mut self, block: PcapBlockOwned<'_>, sink: &mut dyn FrameSink) {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy_link_type = h.network.0 as u32;
                self.legacy_nanos = h.is_nanosecond_precision();
                self.summary.nanosecond = self.legacy_nanos;
                self.note_link_type(self.legacy_link_type);
            }
            PcapBlockOwned::Legacy(b) => {
                self.summary.frames += 1;
                let frac = if self.legacy_nanos {
                    b.ts_usec as i64
                } else {
                    b.ts_usec as i64 * 1000
                };
                let ts = Timestamp::from_parts(b.ts_sec as i64, frac);
                self.last_ts = ts;
                let len = (b.caplen as usize).min(b.data.len());
                sink.frame(&Frame {
                    number: self.summary.frames,
                    ts,
                    link_type: self.legacy_link_type,
                    orig_len: b.origlen,
                    data: &b.data[..len],
                });
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                // Interface ids are scoped to their section.
                self.interfaces.clear();
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                let resolution = ts_resolution(idb.if_tsresol).unwrap_or(1_000_000);
                if resolution > 1_000_000 {
                    self.summary.nanosecond = true;
                }
                let link_type = idb.linktype.0 as u32;
                self.interfaces.push(Interface {
                    link_type,
                    resolution: resolution.max(1),
                    offset_secs: idb.ts_offset(),
                });
                self.note_link_type(link_type);
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                self.summary.frames += 1;
                let Some(iface) = self.interfaces.get(epb.if_id as usize).copied() else {
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
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                self.summary.frames += 1;
                let Some(iface) = self.interfaces.first().copied() else {
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
            PcapBlockOwned::NG(_) => {}
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
