//! What tcpshake says of one capture file, and of a whole run.

use crate::capture::{CaptureFormat, Timestamp};
use crate::findings::{ALL_KINDS, Severity};
use crate::model::connection::{Close, ConnectionReport, Handshake};
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
    pub decode_errors_by_reason: BTreeMap<&'static str, ReasonCount>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated_reason: Option<String>,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
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
}

fn is_zero(v: &u64) -> bool {
    *v == 0
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
            decode_errors_by_reason: BTreeMap::new(),
            truncated: false,
            truncated_reason: None,
            first_ts: None,
            last_ts: None,
            connections: 0,
            evicted_connections: 0,
            reassembled_datagrams: 0,
            fragment_overlaps: 0,
            fragments_incomplete: 0,
            icmp_errors: 0,
            icmp_errors_unmatched: 0,
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
