//! What tcpshake says of one capture file, and of a whole run.

use crate::capture::{CaptureFormat, DamagedRegion, Timestamp};
use crate::findings::{ALL_KINDS, Severity};
use crate::flow::TimeJump;
use crate::model::IsoTime;
use crate::model::connection::{Close, ConnectionReport, Handshake};
use crate::numbers::thousands;
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many decode errors a report lists one by one (all are counted).
pub const MAX_LISTED_ERRORS: usize = 1000;
/// How many frame numbers a report keeps per decode-error reason.
pub const FRAMES_PER_REASON: usize = 5;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DecodeErrorEntry {
    pub frame: u64,
    pub reason: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Default, JsonSchema)]
pub struct ReasonCount {
    pub count: u64,
    pub first_frames: Vec<u64>,
}

/// Whether a capture could be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Read to the end (or to a truncation, see `truncated`).
    Ok,
    /// Could not be read at all: see `error`.
    Error,
}

/// What one capture file held, before any connection is judged.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileReport {
    /// As given on the command line (`-` for standard input).
    pub path: String,
    pub status: FileStatus,
    /// Why the file could not be read (with `status` `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub error: Option<String>,
    #[schemars(with = "String")]
    pub format: CaptureFormat,
    pub gzip: bool,
    pub link_types: Vec<u32>,
    pub frames: u64,
    pub tcp_segments: u64,
    /// Frames that are not TCP: other IP protocols, non-IP frames and IP fragments.
    pub non_tcp: u64,
    pub ip_fragments: u64,
    /// Frames on link types tcpshake does not decode, by link type.
    pub unsupported_link_types: BTreeMap<u32, u64>,
    pub decode_errors: Vec<DecodeErrorEntry>,
    pub decode_error_count: u64,
    /// Decode errors counted but not in `decode_errors` (past [`MAX_LISTED_ERRORS`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub decode_errors_unlisted: u64,
    pub decode_errors_by_reason: BTreeMap<&'static str, ReasonCount>,
    /// The file ends inside its last record: a clean cut at the end.
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(default)]
    pub truncated_reason: Option<String>,
    /// Stretches in the middle that were not records and were skipped, in
    /// file order: the first [`MAX_LISTED_DAMAGE`](crate::capture::MAX_LISTED_DAMAGE).
    pub damaged_regions: Vec<DamagedRegion>,
    /// Every damaged region, listed or not.
    pub damage_count: u64,
    /// Damaged regions counted but not in `damaged_regions`.
    #[serde(skip_serializing_if = "is_zero")]
    pub damaged_regions_unlisted: u64,
    /// Bytes skipped over every damaged region.
    pub damaged_bytes: u64,
    /// Epoch seconds of the first and last frame.
    #[schemars(with = "Option<f64>")]
    pub start: Option<Timestamp>,
    #[schemars(with = "Option<f64>")]
    pub end: Option<Timestamp>,
    /// The same instants, ISO 8601 UTC.
    #[schemars(with = "Option<String>")]
    pub start_iso: Option<IsoTime>,
    #[schemars(with = "Option<String>")]
    pub end_iso: Option<IsoTime>,
    pub connections: u64,
    pub evicted_connections: u64,
    /// Fragmented datagrams put back together (their segments count in
    /// `tcp_segments`, at the frame that completed them).
    #[serde(skip_serializing_if = "is_zero")]
    pub reassembled_datagrams: u64,
    /// Datagrams whose fragments overlapped with different bytes
    /// (`fragment_overlap`, RFC 5722).
    #[serde(skip_serializing_if = "is_zero")]
    pub fragment_overlaps: u64,
    /// Datagrams that never became whole (`fragments_incomplete`).
    #[serde(skip_serializing_if = "is_zero")]
    pub fragments_incomplete: u64,
    /// ICMP errors quoting a TCP segment (not segments themselves: counted
    /// in `non_tcp`), and those that quoted no connection of the capture.
    #[serde(skip_serializing_if = "is_zero")]
    pub icmp_errors: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub icmp_errors_unmatched: u64,
    /// Closed 4-tuples forgotten before 2·MSL had passed because their
    /// memory (bounded by `--max-connections`) was full: a TIME-WAIT reuse on
    /// one of them goes unnoticed.
    #[serde(skip_serializing_if = "is_zero")]
    pub forgotten_closed_tuples: u64,
    /// Jumps in capture time (a stray timestamp, spliced files, a clock step),
    /// taken out of the timeouts; see `capture_time_jump` for the first.
    #[serde(skip_serializing_if = "is_zero")]
    pub capture_time_jumps: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_time_jump: Option<TimeJump>,
}

impl FileReport {
    /// An empty report for the capture at `path` (as given on the command line).
    pub fn new(path: String) -> FileReport {
        FileReport {
            path,
            status: FileStatus::Ok,
            error: None,
            format: CaptureFormat::Pcap,
            gzip: false,
            link_types: Vec::new(),
            frames: 0,
            tcp_segments: 0,
            non_tcp: 0,
            ip_fragments: 0,
            unsupported_link_types: BTreeMap::new(),
            decode_errors: Vec::new(),
            decode_error_count: 0,
            decode_errors_unlisted: 0,
            decode_errors_by_reason: BTreeMap::new(),
            truncated: false,
            truncated_reason: None,
            damaged_regions: Vec::new(),
            damage_count: 0,
            damaged_regions_unlisted: 0,
            damaged_bytes: 0,
            start: None,
            end: None,
            start_iso: None,
            end_iso: None,
            connections: 0,
            evicted_connections: 0,
            reassembled_datagrams: 0,
            fragment_overlaps: 0,
            fragments_incomplete: 0,
            icmp_errors: 0,
            icmp_errors_unmatched: 0,
            forgotten_closed_tuples: 0,
            capture_time_jumps: 0,
            capture_time_jump: None,
        }
    }

    /// The report of a capture that could not be read.
    pub fn unreadable(path: String, error: String) -> FileReport {
        FileReport {
            status: FileStatus::Error,
            error: Some(error),
            ..FileReport::new(path)
        }
    }

    /// Fills the ISO 8601 forms of `start` and `end`.
    pub fn stamp_times(&mut self) {
        self.start_iso = self.start.map(IsoTime);
        self.end_iso = self.end.map(IsoTime);
    }

    /// Counts a malformed frame; the first [`MAX_LISTED_ERRORS`] are listed
    /// with their `detail`, which is only formatted for those.
    pub fn decode_error(
        &mut self,
        frame: u64,
        reason: &'static str,
        detail: impl FnOnce() -> String,
    ) {
        self.decode_error_count += 1;
        let r = self.decode_errors_by_reason.entry(reason).or_default();
        r.count += 1;
        if r.first_frames.len() < FRAMES_PER_REASON {
            r.first_frames.push(frame);
        }
        if self.decode_errors.len() < MAX_LISTED_ERRORS {
            self.decode_errors.push(DecodeErrorEntry {
                frame,
                reason,
                detail: detail(),
            });
        }
    }

    /// The damage in the middle of the capture, naming the first region:
    /// `1 damaged region at byte 1894 (16 bytes skipped, …)`; `None` when
    /// there was none.
    pub fn damage_description(&self) -> Option<String> {
        let first = self.damaged_regions.first()?;
        let n = self.damage_count;
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        Some(if n == 1 {
            format!(
                "1 damaged region at byte {} ({} byte{} skipped, {} frame{} before, {} after: {})",
                first.offset,
                first.skipped,
                plural(first.skipped),
                first.frames_before,
                plural(first.frames_before),
                first.frames_after,
                first.kind,
            )
        } else {
            format!(
                "{n} damaged regions, the first at byte {} ({} byte{} skipped in all, {} frame{} before the first: {})",
                first.offset,
                self.damaged_bytes,
                plural(self.damaged_bytes),
                first.frames_before,
                plural(first.frames_before),
                first.kind,
            )
        })
    }

    /// The warning for a capture with damage in the middle; `None` when there
    /// was none.
    pub fn damage_warning(&self) -> Option<String> {
        let d = self.damage_description()?;
        let them = if self.damage_count == 1 { "it" } else { "them" };
        Some(format!("{}: {d}; analysis went on past {them}", self.path))
    }

    /// The warning for a file whose flow table was full, with the bound that
    /// was hit; `None` when no connection was evicted.
    pub fn eviction_warning(&self, max_connections: usize) -> Option<String> {
        eviction_warning(&self.path, self.evicted_connections, max_connections)
    }
}

/// `n` connections of `source` were ended early because more than
/// `max_connections` were open at once; `None` when `n` is 0.
pub fn eviction_warning(source: &str, n: u64, max_connections: usize) -> Option<String> {
    (n > 0).then(|| {
        format!(
            "{source}: {} connection{} ended early because more than {} were open at once; raise --max-connections",
            thousands(n),
            if n == 1 { " was" } else { "s were" },
            thousands(max_connections as u64),
        )
    })
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Counts over every connection of a run.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Summary {
    /// Files given, read or not.
    pub files: u64,
    /// Files that could not be read (listed in `files` with `status` `error`).
    pub files_unreadable: u64,
    pub connections: u64,
    /// Connections whose handshake or close went wrong (see docs/json.md).
    pub connections_failed: u64,
    pub handshake: BTreeMap<&'static str, u64>,
    pub close: BTreeMap<&'static str, u64>,
    pub findings: BTreeMap<&'static str, u64>,
    pub findings_by_severity: BTreeMap<&'static str, u64>,
    pub connections_with_errors: u64,
    pub connections_with_warnings: u64,
}

impl Default for Summary {
    fn default() -> Summary {
        Summary {
            files: 0,
            files_unreadable: 0,
            connections: 0,
            connections_failed: 0,
            handshake: Handshake::ALL.iter().map(|h| (h.as_str(), 0)).collect(),
            close: Close::ALL.iter().map(|c| (c.as_str(), 0)).collect(),
            findings: BTreeMap::new(),
            findings_by_severity: [Severity::Error, Severity::Warning, Severity::Info]
                .iter()
                .map(|s| (s.as_str(), 0))
                .collect(),
            connections_with_errors: 0,
            connections_with_warnings: 0,
        }
    }
}

impl Summary {
    pub fn add(&mut self, c: &ConnectionReport) {
        self.connections += 1;
        self.connections_failed += c.failed() as u64;
        *self.handshake.entry(c.handshake.as_str()).or_default() += 1;
        *self.close.entry(c.close.as_str()).or_default() += 1;
        let mut err = false;
        let mut warn = false;
        // Every finding counts, listed or not.
        for (k, n) in c.finding_counts().iter() {
            *self.findings.entry(k.id()).or_default() += n;
            *self
                .findings_by_severity
                .entry(k.severity().as_str())
                .or_default() += n;
            err |= k.severity() == Severity::Error;
            warn |= k.severity() == Severity::Warning;
        }
        self.connections_with_errors += err as u64;
        self.connections_with_warnings += warn as u64;
    }

    /// Finding counts in catalogue order.
    pub fn findings_in_order(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        ALL_KINDS
            .iter()
            .filter_map(|k| self.findings.get(k.id()).map(|&n| (k.id(), n)))
    }
}
