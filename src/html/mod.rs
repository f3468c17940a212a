//! `tcpshake report`: one self-contained HTML file — summary, per-listener
//! charts (the server view), the failing connections as a sortable table and
//! the worst of them as SVG ladders. Nothing is fetched: no script, style,
//! font or image comes from outside the file, and it reads without
//! JavaScript (a few lines of inline script sort the table).
//!
//! The size is bounded whatever the capture: aggregates, plus at most
//! [`ReportOptions::table_rows`] failing connections listed and
//! [`ReportOptions::ladders`] drawn; the page says how many were left out.

mod charts;
mod ladder_svg;
mod page;

pub use charts::{BUCKET_BOUNDS, Histogram};
pub use ladder_svg::render as ladder_svg;
pub use page::write_html;

use crate::findings::Severity;
use crate::flow::Endpoint;
use crate::judge::Config;
use crate::ladder::{self, Ladder};
use crate::model::connection::{Close, ConnectionReport, Handshake};
use crate::model::file::{FileReport, Summary};
use crate::servers::{ServerOptions, ServerView, ServersReport};
use rustc_hash::FxHashMap;
use std::path::{Path, PathBuf};

/// What the report keeps in detail.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Failing connections drawn as ladders, worst first.
    pub ladders: usize,
    /// Failing connections listed in the table, worst first.
    pub table_rows: usize,
    /// Listeners given their own charts, busiest first.
    pub listeners: usize,
    pub servers: ServerOptions,
    /// The page's title.
    pub title: String,
}

impl Default for ReportOptions {
    fn default() -> ReportOptions {
        ReportOptions {
            ladders: 50,
            table_rows: 1000,
            listeners: 20,
            servers: ServerOptions::default(),
            title: "tcpshake report".into(),
        }
    }
}

/// One failing connection's row in the table.
#[derive(Debug, Clone)]
pub struct Failing {
    /// Index of its file in [`Report::files`].
    pub file: usize,
    /// Its id within its file (as `ladder --conn` numbers it).
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub handshake: Handshake,
    pub close: Close,
    pub errors: u64,
    pub warnings: u64,
    /// Finding kinds and their counts, most frequent first.
    pub findings: Vec<(&'static str, u64)>,
    pub packets: u64,
    pub bytes: u64,
    pub duration: f64,
    pub time_to_establish: Option<f64>,
}

impl Failing {
    fn of(file: usize, c: &ConnectionReport) -> Failing {
        let mut errors = 0;
        let mut warnings = 0;
        let mut kinds: Vec<(&'static str, u64)> = Vec::new();
        for (kind, n) in c.finding_counts().iter() {
            match kind.severity() {
                Severity::Error => errors += n,
                Severity::Warning => warnings += n,
                Severity::Info => {}
            }
            kinds.push((kind.id(), n));
        }
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        Failing {
            file,
            id: c.id,
            client: c.client,
            server: c.server,
            handshake: c.handshake,
            close: c.close,
            errors,
            warnings,
            findings: kinds,
            packets: c.packets.client + c.packets.server,
            bytes: c.payload_bytes.client + c.payload_bytes.server,
            duration: c.duration,
            time_to_establish: c.time_to_establish,
        }
    }

    /// Worst first: errors, then warnings, then a failed handshake, then a reset.
    fn rank(
        &self,
    ) -> (
        std::cmp::Reverse<u64>,
        std::cmp::Reverse<u64>,
        bool,
        bool,
        usize,
        u64,
    ) {
        (
            std::cmp::Reverse(self.errors),
            std::cmp::Reverse(self.warnings),
            self.handshake.established(),
            self.close != Close::Reset,
            self.file,
            self.id,
        )
    }
}

/// Does `report` count this connection as failing? Its handshake failed, it
/// was reset, or it has an error or a warning.
pub fn failing_by_default(c: &ConnectionReport) -> bool {
    !c.handshake.established()
        || c.close == Close::Reset
        || c.findings
            .iter()
            .any(|f| matches!(f.severity, Severity::Error | Severity::Warning))
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub files: Vec<FileReport>,
    /// Files that could not be read, with why.
    pub unreadable: Vec<String>,
    pub summary: Summary,
    pub servers: ServersReport,
    /// Time-to-establish histogram per listener (`ip:port`), and `all`.
    pub histograms: FxHashMap<String, Histogram>,
    pub failing_total: u64,
    /// The worst failing connections, worst first, at most `table_rows`.
    pub failing: Vec<Failing>,
    /// Ladders of the first `ladders` entries of `failing`, in that order.
    pub ladders: Vec<(usize, Ladder)>,
    pub listeners_shown: usize,
}

/// Keeps the worst `cap` failing connections in bounded memory.
struct Worst {
    cap: usize,
    list: Vec<Failing>,
}

impl Worst {
    fn push(&mut self, f: Failing) {
        if self.cap == 0 {
            return;
        }
        self.list.push(f);
        if self.list.len() >= 2 * self.cap {
            self.settle();
        }
    }

    fn settle(&mut self) {
        self.list.sort_by_cached_key(|f| f.rank());
        self.list.truncate(self.cap);
    }
}

/// Reads `paths` (connection ids restart at 1 in each file, as `ladder` and
/// `check` number them) and builds the report; `failing(file index,
/// connection)` picks the connections listed and drawn. A file that cannot
/// be read is listed as such. Returns the report and whether every file was read.
pub fn build(
    paths: &[PathBuf],
    config: &Config,
    opts: &ReportOptions,
    failing: &dyn Fn(usize, &ConnectionReport) -> bool,
    progress: &mut dyn FnMut(&Path) -> Box<dyn crate::pipeline::Progress>,
) -> (Report, bool) {
    let mut view = ServerView::new(opts.servers.clone());
    let mut summary = Summary::default();
    let mut histograms: FxHashMap<String, Histogram> = FxHashMap::default();
    let mut worst = Worst {
        cap: opts.table_rows.max(opts.ladders),
        list: Vec::new(),
    };
    let mut failing_total = 0u64;
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    let mut all_read = true;
    for (i, path) in paths.iter().enumerate() {
        let mut next_id = 1;
        let mut p = progress(path);
        let result = crate::pipeline::analyze_path(
            path,
            config,
            &mut next_id,
            &mut |c| {
                summary.add(&c);
                view.add(&c);
                if let Some(t) = c.time_to_establish {
                    histograms.entry("all".into()).or_default().add(t);
                    let key = c.server.to_string();
                    let room = histograms.len() <= opts.servers.max_listeners;
                    if let Some(h) = histograms.get_mut(&key) {
                        h.add(t);
                    } else if room {
                        histograms.entry(key).or_default().add(t);
                    }
                }
                if failing(i, &c) {
                    failing_total += 1;
                    worst.push(Failing::of(i, &c));
                }
            },
            p.as_mut(),
        );
        p.done();
        match result {
            Ok(f) => files.push(f),
            Err(e) => {
                all_read = false;
                unreadable.push(e.to_string());
                files.push(FileReport::new(path.display().to_string()));
            }
        }
    }
    summary.files = paths.len() as u64;
    worst.settle();
    let mut failing_rows = worst.list;
    let mut ladders = Vec::new();
    let drawn = failing_rows.len().min(opts.ladders);
    for (i, path) in paths.iter().enumerate() {
        let ids: Vec<u64> = failing_rows[..drawn]
            .iter()
            .filter(|f| f.file == i)
            .map(|f| f.id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        if let Ok(ls) = ladder::ladders(
            path,
            config,
            &crate::filter::Filter::default(),
            &|c| ids.contains(&c.id),
            false,
            &[],
        ) {
            ladders.extend(ls.into_iter().map(|l| (i, l)));
        }
    }
    let order = |file: usize, id: u64| {
        failing_rows
            .iter()
            .position(|f| f.file == file && f.id == id)
            .unwrap_or(usize::MAX)
    };
    ladders.sort_by_key(|(file, l)| order(*file, l.report.id));
    failing_rows.truncate(opts.table_rows);
    let servers = view.finish();
    let listeners_shown = servers.listeners.len().min(opts.listeners);
    (
        Report {
            title: opts.title.clone(),
            files,
            unreadable,
            summary,
            servers,
            histograms,
            failing_total,
            failing: failing_rows,
            ladders,
            listeners_shown,
        },
        all_read,
    )
}

/// Escapes text for HTML and SVG content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
