//! Damaged regions: stretches of a capture that are not records, skipped so
//! that the records behind them are still read.
//!
//! What counts as damage:
//! - classic pcap: a record header whose captured length exceeds the limit
//!   (the snap length, at least 256 KiB, at most 64 MiB) or the length on the
//!   wire, that is all zeros (zero-filled regions; an empty frame with a
//!   timestamp is still a frame), or whose sub-second field is a second or
//!   more;
//! - pcapng: a block length below 12, not a multiple of 4 or above 16 MiB, a
//!   trailing length different from the leading one, a section header with an
//!   unknown byte-order magic, or a well-framed block whose body cannot be
//!   parsed;
//! - either format: a record whose header is plausible but which the end of
//!   the file cuts, when whole records still follow inside the bytes left (so
//!   its length was wrong, not the file cut).
//!
//! After damage the reader scans forward, byte by byte but skipping zero runs
//! word by word, for the next plausible record: for classic pcap a header that
//! passes the checks above (with the wire length bounded and not 0) and is
//! either within a minute before or a day after the last record read, or
//! followed by another such header or by the end of the file; for pcapng a known block
//! type with a sane length repeated in its trailer (and, for an enhanced
//! packet block, an interface the section defines). A file that merely ends
//! inside its last record is not damage: it is reported as truncated.
//!
//! Offsets count bytes of the capture stream, after gzip decompression.

use serde::Serialize;
use std::fmt;

/// How many damaged regions a summary lists; the rest are only counted.
pub const MAX_LISTED_DAMAGE: usize = 100;

/// One stretch of the capture that was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct DamagedRegion {
    /// Offset of the first skipped byte (the damaged record's first byte).
    pub offset: u64,
    /// Bytes skipped; reading resumed at `offset + skipped` (or the file ended).
    pub skipped: u64,
    /// Frames read before the region.
    pub frames_before: u64,
    /// Frames read after the region, up to the next damaged region or the end.
    pub frames_after: u64,
    /// What was wrong with the record at `offset` (`kind` and its values,
    /// flattened into the region).
    #[serde(flatten)]
    pub kind: DamageKind,
}

/// What made the record at the start of a damaged region impossible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DamageKind {
    /// Classic pcap: captured length beyond the limit or the wire length, or an all-zero header.
    RecordLength { caplen: u32, orig_len: u32 },
    /// Classic pcap: the microsecond or nanosecond field is a second or more.
    RecordTime { fraction: u32 },
    /// A plausible header whose record the end of the file cuts, with whole
    /// records after it: its length was wrong.
    RecordCut,
    /// pcapng: a block length that cannot be.
    BlockLength { len: u32 },
    /// pcapng: the trailing block length differs from the leading one.
    BlockTrailer { len: u32, trailer: u32 },
    /// pcapng: a section header block with an unknown byte-order magic.
    BlockType { block_type: u32 },
    /// pcapng: the framing holds but the block's body does not parse.
    BlockContent { reason: String },
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DamageKind::RecordLength { caplen, orig_len } => write!(
                f,
                "record header with captured length {caplen} and wire length {orig_len}"
            ),
            DamageKind::RecordTime { fraction } => {
                write!(f, "record header with sub-second field {fraction}")
            }
            DamageKind::RecordCut => write!(f, "record longer than the data before the next one"),
            DamageKind::BlockLength { len } => write!(f, "block length {len}"),
            DamageKind::BlockTrailer { len, trailer } => {
                write!(f, "block length {len} but trailing length {trailer}")
            }
            DamageKind::BlockType { block_type } => {
                write!(
                    f,
                    "block type {block_type:#010x} with a bad byte-order magic"
                )
            }
            DamageKind::BlockContent { reason } => write!(f, "unparseable block: {reason}"),
        }
    }
}

impl fmt::Display for DamagedRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes skipped at offset {} after frame {} ({})",
            self.skipped, self.offset, self.frames_before, self.kind
        )
    }
}

/// Collects regions, merging one that starts where the previous ended with
/// no frame between, and fills in `frames_after`.
#[derive(Debug, Default)]
pub(crate) struct DamageLog {
    listed: Vec<DamagedRegion>,
    count: u64,
    bytes: u64,
    /// `frames_before` and end offset of the last region, listed or not.
    last: Option<(u64, u64)>,
}

impl DamageLog {
    pub(crate) fn push(&mut self, r: DamagedRegion) {
        self.bytes += r.skipped;
        if let Some((before, end)) = self.last
            && end == r.offset
            && before == r.frames_before
        {
            let end = r.offset + r.skipped;
            self.last = Some((before, end));
            if self.count as usize <= MAX_LISTED_DAMAGE
                && let Some(prev) = self.listed.last_mut()
            {
                prev.skipped = end - prev.offset;
            }
            return;
        }
        self.close(r.frames_before);
        self.count += 1;
        self.last = Some((r.frames_before, r.offset + r.skipped));
        if self.listed.len() < MAX_LISTED_DAMAGE {
            self.listed.push(r);
        }
    }

    fn close(&mut self, frames_now: u64) {
        if let Some((before, _)) = self.last
            && self.count as usize <= MAX_LISTED_DAMAGE
            && let Some(prev) = self.listed.last_mut()
        {
            prev.frames_after = frames_now - before;
        }
    }

    pub(crate) fn finish(&mut self, frames_now: u64) {
        self.close(frames_now);
    }

    pub(crate) fn into_parts(self) -> (Vec<DamagedRegion>, u64, u64) {
        (self.listed, self.count, self.bytes)
    }
}
