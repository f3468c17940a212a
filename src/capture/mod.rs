//! Capture files in, frames out: classic pcap (µs and ns, either byte order),
//! pcapng (sections, interfaces, per-interface resolution and offset), gzip
//! and standard input. The reader streams: memory does not grow with the file,
//! and never with what a corrupt header claims. Damage in the middle of a file
//! is skipped and recorded (see [`damage`](DamagedRegion)), not the end of it.

mod damage;
mod reader;
mod time;
mod writer;

pub use damage::{DamageKind, DamagedRegion, MAX_LISTED_DAMAGE};
pub use reader::FrameSink;
pub use reader::{CaptureFormat, CaptureSummary, read_capture, read_path, read_path_counted};
pub use time::Timestamp;
pub use writer::{PcapWriter, PcapngWriter};

use std::path::PathBuf;

/// One captured frame, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based, per file, as Wireshark numbers frames.
    pub number: u64,
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub link_type: u32,
    /// Length on the wire, which may exceed `data.len()` (snaplen).
    pub orig_len: u32,
    pub data: &'a [u8],
}

/// Why a capture could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: read failed: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error(
        "{path}: not a pcap or pcapng capture (first bytes {magic}); tcpshake reads pcap, pcapng and their .gz forms"
    )]
    NotACapture { path: PathBuf, magic: String },
    #[error("{path}: the capture header is cut short ({len} bytes)")]
    HeaderTruncated { path: PathBuf, len: usize },
    #[error("{path}: bad capture header: {reason}")]
    BadHeader { path: PathBuf, reason: String },
}
