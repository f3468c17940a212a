//! The whole pipeline for one capture: capture → decode → flow table → judge.

use crate::capture::{self, CaptureError, CaptureFormat, Frame, Timestamp};
use crate::decode::{self, DecodeError, Decoded};
use crate::flow::FlowTable;
use crate::judge::{Config, ConnectionReport};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

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
}

impl FileReport {
    fn new(path: &Path) -> FileReport {
        FileReport {
            path: path.display().to_string(),
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
        }
    }

    fn decode_error(&mut self, frame: u64, reason: &'static str, detail: impl FnOnce() -> String) {
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

/// Observes progress (frames read so far); called every few thousand frames.
pub trait Progress {
    fn frames(&mut self, _n: u64) {}
}

impl Progress for () {}

/// Analyses one capture. Connections are handed to `on_connection` as they
/// finish; ids start at `*next_id` and `*next_id` is advanced.
pub fn analyze_path(
    path: &Path,
    config: &Config,
    next_id: &mut u64,
    on_connection: &mut dyn FnMut(ConnectionReport),
    progress: &mut dyn Progress,
) -> Result<FileReport, CaptureError> {
    let mut report = FileReport::new(path);
    let mut table = FlowTable::new(config.clone(), *next_id);
    let file_name: std::sync::Arc<str> = report.path.as_str().into();
    let mut connections = 0u64;
    let summary = {
        let mut emit = |c: Box<crate::judge::Connection>| {
            connections += 1;
            on_connection(c.finish(&file_name));
        };
        let report = &mut report;
        let table = &mut table;
        let mut sink = |frame: &Frame<'_>| {
            if report.first_ts.is_none() {
                report.first_ts = Some(frame.ts);
            }
            report.last_ts = Some(frame.ts);
            if frame.number & 0x3fff == 0 {
                progress.frames(frame.number);
            }
            match decode::decode_frame(frame) {
                Ok(Decoded::Tcp(seg)) => {
                    report.tcp_segments += 1;
                    table.segment(frame.number, frame.ts, &seg, &mut emit);
                }
                Ok(Decoded::OtherIp) | Ok(Decoded::NotIp) | Ok(Decoded::IcmpError(_)) => {
                    report.non_tcp += 1
                }
                Ok(Decoded::Fragment) => {
                    report.non_tcp += 1;
                    report.ip_fragments += 1;
                }
                Ok(Decoded::UnsupportedLink(lt)) => {
                    *report.unsupported_link_types.entry(lt).or_default() += 1;
                }
                Err(e) => {
                    let e: DecodeError = e;
                    report.decode_error(frame.number, e.reason(), || e.to_string());
                }
            }
        };
        let summary = capture::read_path(path, &mut sink)?;
        table.finish_all(&mut emit);
        summary
    };
    report.format = summary.format;
    report.gzip = summary.gzip;
    report.link_types = summary.link_types;
    report.frames = summary.frames;
    for (frame, reason) in summary.bad_frames {
        report.decode_error(frame, "bad_capture_record", || reason);
    }
    let listed = report
        .decode_errors_by_reason
        .get("bad_capture_record")
        .map_or(0, |r| r.count);
    if summary.bad_frame_count > listed {
        let extra = summary.bad_frame_count - listed;
        report.decode_error_count += extra;
        if let Some(r) = report.decode_errors_by_reason.get_mut("bad_capture_record") {
            r.count += extra;
        }
    }
    report.decode_errors.sort_by_key(|e| e.frame);
    report.truncated = summary.truncated.is_some();
    report.truncated_reason = summary.truncated;
    report.connections = connections;
    report.evicted_connections = table.evicted;
    *next_id = table.next_id();
    Ok(report)
}
