//! Reading a capture as a stream: detection of the format (and gzip), the
//! shared read state and the damage bookkeeping. Record framing lives in
//! [`pcap`] (classic records) and [`pcapng`] (blocks); [`window`] holds the
//! sliding read window both walk and resynchronise on.

mod pcap;
mod pcapng;
mod window;

use self::pcap::{MAX_RECORD, PCAP_RECORD_FLOOR, Pcap};
use self::pcapng::{Pcapng, describe};
use self::window::{Window, read_u32};
use super::damage::{DamageKind, DamageLog, DamagedRegion};
use super::{CaptureError, Frame, Timestamp};
use flate2::read::MultiGzDecoder;
use pcap_parser::PcapError;
use pcap_parser::pcapng::parse_sectionheaderblock;
use serde::Serialize;
use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

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

    /// Called when the reader has used up what it buffered and is about to
    /// wait for more input: the moment for a streaming consumer to flush.
    fn idle(&mut self) {}
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

    /// After a damaged stretch from `at` that the scan ended with `end`:
    /// notes it, and tells whether reading goes on.
    fn skip_damage<R: Read>(
        &mut self,
        w: &Window<R>,
        at: u64,
        kind: DamageKind,
        end: Resync,
        sink: &mut dyn FrameSink,
    ) -> bool {
        self.damaged(w, at, kind, sink);
        match end {
            Resync::Found => true,
            Resync::End => false,
            Resync::Failed(e) => {
                self.read_failed(&e);
                false
            }
        }
    }

    /// The file ends inside the record at `at`, unless the scan (`end`) found
    /// whole records after it: then its header lied about its length, and
    /// that is damage. Tells whether reading goes on.
    fn cut_or_skip<R: Read>(
        &mut self,
        w: &Window<R>,
        at: u64,
        end: Resync,
        sink: &mut dyn FrameSink,
    ) -> bool {
        match end {
            Resync::Found => {
                self.damaged(w, at, DamageKind::RecordCut, sink);
                true
            }
            Resync::End => {
                self.cut();
                false
            }
            Resync::Failed(e) => {
                self.read_failed(&e);
                false
            }
        }
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
}
