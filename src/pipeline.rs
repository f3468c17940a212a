//! The pipeline driver: frames in → decode → flow table → judge → finished
//! connections out. Every command runs it: `analyze`, `check` and the ladder's
//! first pass over files ([`analyze_path`]), `live` over an interface.
//!
//! Per frame it decodes, tallies what the frame was and feeds TCP segments to
//! the flow table; nothing is allocated per frame on that path.

use crate::capture::{self, CaptureError, Frame, Timestamp};
use crate::decode::{self, DecodeError, Decoded};
use crate::flow::FlowTable;
use crate::judge::{Config, Connection};
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use crate::report::Reporter;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One run of the pipeline over one source of frames (a file or an interface).
///
/// Connections leave through the `out` callback of [`frame`](Pipeline::frame),
/// [`expire`](Pipeline::expire) and [`finish`](Pipeline::finish) the moment
/// they end, so memory is bounded by the live connections.
pub struct Pipeline {
    table: FlowTable<Config>,
    /// Names the source in every connection report (`file`).
    source: Arc<str>,
    /// What the frames were: counts, decode errors, first and last timestamp.
    tally: FileReport,
    connections: u64,
}

impl Pipeline {
    /// Connection ids start at `first_id`; `source` names the file or interface.
    pub fn new(config: Config, first_id: u64, source: &str) -> Pipeline {
        Pipeline {
            table: FlowTable::new(config, first_id),
            source: source.into(),
            tally: FileReport::new(source.to_string()),
            connections: 0,
        }
    }

    /// Feeds one frame; connections that end because of it go to `out`.
    #[inline]
    pub fn frame(&mut self, frame: &Frame<'_>, out: &mut dyn FnMut(ConnectionReport)) {
        let tally = &mut self.tally;
        if tally.first_ts.is_none() {
            tally.first_ts = Some(frame.ts);
        }
        tally.last_ts = Some(frame.ts);
        match decode::decode_frame(frame) {
            Ok(Decoded::Tcp(seg)) => {
                tally.tcp_segments += 1;
                let mut emit = emitter(&self.source, &mut self.connections, out);
                self.table.segment(frame.number, frame.ts, &seg, &mut emit);
            }
            // Not segments: counted until ICMP errors are attached to their connections.
            Ok(Decoded::OtherIp) | Ok(Decoded::NotIp) | Ok(Decoded::IcmpError(_)) => {
                tally.non_tcp += 1
            }
            Ok(Decoded::Fragment) => {
                tally.non_tcp += 1;
                tally.ip_fragments += 1;
            }
            Ok(Decoded::UnsupportedLink(lt)) => {
                *tally.unsupported_link_types.entry(lt).or_default() += 1;
            }
            Err(e) => {
                let e: DecodeError = e;
                tally.decode_error(frame.number, e.reason(), || e.to_string());
            }
        }
    }

    /// Ends the connections whose timeouts passed by `now`, though no frame
    /// arrived: a live capture on a quiet interface.
    pub fn expire(&mut self, now: Timestamp, out: &mut dyn FnMut(ConnectionReport)) {
        let mut emit = emitter(&self.source, &mut self.connections, out);
        self.table.expire(now, &mut emit);
    }

    /// End of input: every connection still open ends, in order of id.
    pub fn finish(&mut self, out: &mut dyn FnMut(ConnectionReport)) {
        let mut emit = emitter(&self.source, &mut self.connections, out);
        self.table.finish_all(&mut emit);
    }

    /// What the frames were, with the connection counts; the fields only the
    /// capture reader knows (format, frames, truncation) are left to the caller.
    pub fn into_report(self) -> FileReport {
        let mut r = self.tally;
        r.connections = self.connections;
        r.evicted_connections = self.table.evicted;
        r
    }

    /// What the frames so far were: counts and decode errors.
    pub fn tally(&self) -> &FileReport {
        &self.tally
    }

    /// Connections handed out so far.
    pub fn connections(&self) -> u64 {
        self.connections
    }

    /// Connections ended early so far because the flow table was full.
    pub fn evicted(&self) -> u64 {
        self.table.evicted
    }

    /// Connections open now.
    pub fn live(&self) -> usize {
        self.table.live()
    }

    /// The id the next connection will get.
    pub fn next_id(&self) -> u64 {
        self.table.next_id()
    }
}

/// Judges each connection the flow table ends and counts it.
fn emitter<'a>(
    source: &'a Arc<str>,
    connections: &'a mut u64,
    out: &'a mut dyn FnMut(ConnectionReport),
) -> impl FnMut(Box<Connection>) + 'a {
    move |c| {
        *connections += 1;
        out(c.finish(source))
    }
}

/// Observes progress (frames read so far); called every few thousand frames.
pub trait Progress {
    fn frames(&mut self, _n: u64) {}
    /// The file is read.
    fn done(&mut self) {}
}

impl Progress for () {}

/// Analyses one capture file. Connections are handed to `on_connection` as
/// they finish; ids start at `*next_id` and `*next_id` is advanced.
pub fn analyze_path(
    path: &Path,
    config: &Config,
    next_id: &mut u64,
    on_connection: &mut dyn FnMut(ConnectionReport),
    progress: &mut dyn Progress,
) -> Result<FileReport, CaptureError> {
    let mut pipeline = Pipeline::new(config.clone(), *next_id, &path.display().to_string());
    let summary = capture::read_path(path, &mut |frame: &Frame<'_>| {
        if frame.number & 0x3fff == 0 {
            progress.frames(frame.number);
        }
        pipeline.frame(frame, on_connection);
    })?;
    pipeline.finish(on_connection);
    *next_id = pipeline.next_id();
    let mut report = pipeline.into_report();
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
    report.damaged_regions = summary.damaged;
    report.damage_count = summary.damage_count;
    report.damaged_bytes = summary.damaged_bytes;
    report.damaged_regions_unlisted = report.damage_count - report.damaged_regions.len() as u64;
    report.decode_errors_unlisted = report.decode_error_count - report.decode_errors.len() as u64;
    Ok(report)
}

/// Analyses `paths` in turn into one report: connection ids run on across
/// files and the summary covers them all. A file that cannot be read is
/// skipped; `warn` gets its error, and a note on every truncated or damaged
/// file and on every file whose flow table overflowed.
/// `progress` gives the progress observer of each file.
///
/// Returns whether every file was read; an error is a failed write.
pub fn analyze_files(
    paths: &[PathBuf],
    config: &Config,
    reporter: &mut dyn Reporter,
    progress: &mut dyn FnMut(&Path) -> Box<dyn Progress>,
    warn: &mut dyn FnMut(String),
) -> io::Result<bool> {
    let mut summary = Summary::default();
    let mut files: Vec<FileReport> = Vec::new();
    let (mut next_id, mut all_read, mut write_error) = (1u64, true, None);
    for path in paths {
        let mut p = progress(path);
        let mut on_connection = |c: ConnectionReport| {
            summary.add(&c);
            if write_error.is_none() {
                write_error = reporter.connection(&c).err();
            }
        };
        let result = analyze_path(path, config, &mut next_id, &mut on_connection, p.as_mut());
        p.done();
        match result {
            Ok(report) => {
                if let Some(why) = &report.truncated_reason {
                    warn(format!(
                        "{}: truncated capture ({why}); everything before the cut was analysed",
                        report.path
                    ));
                }
                if let Some(w) = report.damage_warning() {
                    warn(format!("warning: {w}"));
                }
                if let Some(w) = report.eviction_warning(config.max_connections) {
                    warn(format!("warning: {w}"));
                }
                summary.files += 1;
                files.push(report);
            }
            Err(e) => {
                warn(e.to_string());
                all_read = false;
            }
        }
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    reporter.finish(&files, &summary)?;
    Ok(all_read)
}
