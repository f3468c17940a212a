//! The driver over capture files: one file ([`analyze_path`], on one thread
//! or split over several), or a list of them into one report
//! ([`analyze_files`]), with progress and the writer's pauses.

use super::{Pipeline, shard_warning, sharded};
use crate::capture::{self, CaptureError, Frame};
use crate::filter::Filter;
use crate::judge::Config;
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use crate::report::Reporter;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Observes progress (frames read so far); called every few thousand frames.
pub trait Progress {
    /// A counter for the reader to add the bytes it reads to, when this
    /// observer shows them.
    fn byte_counter(&mut self) -> Option<Arc<std::sync::atomic::AtomicU64>> {
        None
    }
    fn frames(&mut self, _n: u64) {}
    /// The file is read.
    fn done(&mut self) {}
}

impl Progress for () {}

/// Where a run's finished connections go: any `FnMut(ConnectionReport)`, or a
/// writer that also wants to know when the input pauses.
pub trait Connections {
    fn connection(&mut self, c: ConnectionReport);
    /// The reader has used up its input and waits for more: buffered output
    /// should go out now ([`Reporter::idle`]).
    fn idle(&mut self) {}
}

impl<F: FnMut(ConnectionReport) + ?Sized> Connections for F {
    fn connection(&mut self, c: ConnectionReport) {
        self(c)
    }
}

/// The reader's sink: frames into the pipeline, pauses to the consumer.
struct Feed<'a> {
    pipeline: &'a mut Pipeline,
    out: &'a mut dyn Connections,
    progress: &'a mut dyn Progress,
}

impl capture::FrameSink for Feed<'_> {
    #[inline]
    fn frame(&mut self, frame: &Frame<'_>) {
        if frame.number & 0x3fff == 0 {
            self.progress.frames(frame.number);
        }
        let out = &mut *self.out;
        self.pipeline.frame(frame, &mut |c| out.connection(c));
    }

    fn idle(&mut self) {
        self.out.idle();
    }
}

/// Analyses one capture file. Connections are handed to `on_connection` as
/// they finish; ids start at `*next_id` and `*next_id` is advanced.
pub fn analyze_path(
    path: &Path,
    config: &Config,
    next_id: &mut u64,
    on_connection: &mut dyn Connections,
    progress: &mut dyn Progress,
) -> Result<FileReport, CaptureError> {
    analyze_path_filtered(
        path,
        config,
        &Filter::default(),
        next_id,
        on_connection,
        progress,
    )
}

/// [`analyze_path`], handing out only the connections `filter` keeps.
pub fn analyze_path_filtered(
    path: &Path,
    config: &Config,
    filter: &Filter,
    next_id: &mut u64,
    on_connection: &mut dyn Connections,
    progress: &mut dyn Progress,
) -> Result<FileReport, CaptureError> {
    let mut pipeline = Pipeline::new(config.clone(), *next_id, &path.display().to_string())
        .with_filter(filter.clone());
    let counter = progress.byte_counter();
    let mut feed = Feed {
        pipeline: &mut pipeline,
        out: on_connection,
        progress,
    };
    let summary = capture::read_path_counted(path, counter, &mut feed)?;
    pipeline.finish(&mut |c| on_connection.connection(c));
    *next_id = pipeline.next_id();
    Ok(complete_report(pipeline.into_report(), summary))
}

/// [`analyze_path_filtered`] on `jobs` threads: flows are split among them
/// and the output is the same as on one, connection for connection, unless
/// the flow table overflows (each thread holds `--max-connections / jobs`).
/// One job, or standard input (whose connections must come out as they
/// end, not a batch later), runs on the calling thread alone.
pub fn analyze_path_jobs(
    path: &Path,
    config: &Config,
    filter: &Filter,
    jobs: usize,
    next_id: &mut u64,
    on_connection: &mut dyn Connections,
    progress: &mut dyn Progress,
) -> Result<FileReport, CaptureError> {
    if jobs <= 1 || path.as_os_str() == "-" {
        return analyze_path_filtered(path, config, filter, next_id, on_connection, progress);
    }
    sharded::analyze(path, config, filter, jobs, next_id, on_connection, progress)
}

/// Adds what only the capture reader knows (format, frames, truncation,
/// damaged records) to a pipeline's report.
pub(super) fn complete_report(
    mut report: FileReport,
    summary: capture::CaptureSummary,
) -> FileReport {
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
    report.stamp_times();
    report
}

/// Counts each connection into the summary and writes it; the first write
/// error is kept (and the run goes on counting).
struct Reporting<'a> {
    summary: &'a mut Summary,
    reporter: &'a mut dyn Reporter,
    write_error: &'a mut Option<io::Error>,
}

impl Connections for Reporting<'_> {
    fn connection(&mut self, c: ConnectionReport) {
        self.summary.add(&c);
        if self.write_error.is_none() {
            *self.write_error = self.reporter.connection(&c).err();
        }
    }

    fn idle(&mut self) {
        if self.write_error.is_none() {
            *self.write_error = self.reporter.idle().err();
        }
    }
}

/// Analyses `paths` in turn into one report: connection ids run on across
/// files and the summary covers them all. A file that cannot be read is
/// skipped; `warn` gets its error, and a note on every truncated or damaged
/// file and on every file whose flow table overflowed.
/// `progress` gives the progress observer of each file. Each file is split
/// over `jobs` threads ([`analyze_path_jobs`]), one file after the other, as
/// ids run on from file to file.
///
/// Returns whether every file was read; an error is a failed write.
pub fn analyze_files(
    paths: &[PathBuf],
    config: &Config,
    filter: &Filter,
    jobs: usize,
    reporter: &mut dyn Reporter,
    progress: &mut dyn FnMut(&Path) -> Box<dyn Progress>,
    warn: &mut dyn FnMut(String),
) -> io::Result<bool> {
    let mut summary = Summary::default();
    let mut files: Vec<FileReport> = Vec::new();
    let (mut next_id, mut all_read, mut write_error) = (1u64, true, None);
    for path in paths {
        let mut p = progress(path);
        let mut on_connection = Reporting {
            summary: &mut summary,
            reporter: &mut *reporter,
            write_error: &mut write_error,
        };
        let result = analyze_path_jobs(
            path,
            config,
            filter,
            jobs,
            &mut next_id,
            &mut on_connection,
            p.as_mut(),
        );
        p.done();
        match result {
            Ok(report) => {
                if report.forgotten_closed_tuples > 0 {
                    warn(format!(
                        "{}: {} closed 4-tuples forgotten before 2·MSL (memory full at --max-connections); TIME-WAIT reuse on them goes unreported",
                        report.path, report.forgotten_closed_tuples
                    ));
                }
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
                if let Some(w) = shard_warning(&report, jobs) {
                    warn(format!("warning: {w}"));
                }
                summary.files += 1;
                files.push(report);
            }
            Err(e) => {
                warn(e.to_string());
                summary.files += 1;
                summary.files_unreadable += 1;
                files.push(FileReport::unreadable(
                    path.display().to_string(),
                    e.to_string(),
                ));
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
