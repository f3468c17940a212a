//! What tcpshake says of one capture file, and of a whole run.

use crate::capture::{CaptureFormat, DamagedRegion, Timestamp};
use crate::findings::{ALL_KINDS, Severity};
use crate::model::connection::{Close, ConnectionReport, Handshake};
use crate::report::thousands;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many decode errors a report lists one by one (all are counted).
pub const MAX_LISTED_ERRORS: usize = 1000;
/// How many frame numbers a report keeps per decode-error reason.
pub const FRAMES_PER_REASON: usize = 5;

#[derive(Debug, Clone, Serialize)]
pub struct DecodeErrorEntry {
    pub frame: u64,
    pub reason: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ReasonCount {
    pub count: u64,
    pub first_frames: Vec<u64>,
}

/// What one capture file held, before any connection is judged.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
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
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    pub connections: u64,
    pub evicted_connections: u64,
}

impl FileReport {
    /// An empty report for the capture at `path` (as given on the command line).
    pub fn new(path: String) -> FileReport {
        FileReport {
            path,
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
            first_ts: None,
            last_ts: None,
            connections: 0,
            evicted_connections: 0,
        }
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
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub files: u64,
    pub connections: u64,
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
            connections: 0,
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
