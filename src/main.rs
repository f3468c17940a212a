//! The `tcpshake` command: parses flags, runs the library, prints.

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tcpshake::analyze::{self, FileReport, Progress};
use tcpshake::duration::parse_duration;
use tcpshake::judge::Config;
use tcpshake::report::{
    CsvReporter, JsonReporter, JsonlReporter, Reporter, Summary, TableReporter,
};

#[derive(Parser)]
#[command(
    name = "tcpshake",
    version,
    about = "Judge every TCP handshake and teardown in a packet capture",
    long_about = "tcpshake reads pcap and pcapng captures (also gzip-compressed, or - for standard input), \
follows every TCP connection, and says whether its three-way handshake and its FIN/RST teardown \
went the way RFC 9293 says they must."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse captures and report every connection's handshake and teardown.
    Analyze(AnalyzeArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Jsonl,
    Csv,
}

#[derive(Args)]
struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally .gz); - reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// In the table, list every connection, not only those with findings.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    tracking: TrackingArgs,
}

#[derive(Args)]
struct TrackingArgs {
    /// A connection silent this long (capture time) ends.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    idle_timeout: i64,
    /// How long a closed connection lingers for late segments.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    close_timeout: i64,
    /// An unanswered SYN ends this long after its last retransmission.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    attempt_timeout: i64,
    /// Maximum segment lifetime; a SYN within 2·MSL of a close is a TIME-WAIT reuse.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    msl: i64,
    /// Most connections tracked at once; the longest-idle are evicted beyond it.
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    max_connections: usize,
    /// Zeek's likely server ports for the conn_state/history fields:
    /// `default`, `none` (Zeek run with -b), or a comma-separated list.
    #[arg(long, default_value = "default", value_name = "PORTS")]
    zeek_server_ports: String,
}

impl TrackingArgs {
    fn config(&self) -> Result<Config, String> {
        let mut c = Config {
            idle_timeout: self.idle_timeout,
            close_timeout: self.close_timeout,
            attempt_timeout: self.attempt_timeout,
            two_msl: self.msl.saturating_mul(2),
            max_connections: self.max_connections.max(1),
            ..Config::default()
        };
        c.likely_server_ports = match self.zeek_server_ports.as_str() {
            "default" => c.likely_server_ports,
            "none" => Vec::new(),
            list => list
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<u16>()
                        .map_err(|_| format!("--zeek-server-ports: '{p}' is not a port"))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(c)
    }
}

/// A spinner on stderr, shown only on a terminal and only once a file takes a moment.
struct Spinner {
    started: Instant,
    bar: Option<ProgressBar>,
    enabled: bool,
    name: String,
}

impl Spinner {
    fn new(name: &str) -> Spinner {
        Spinner {
            started: Instant::now(),
            bar: None,
            enabled: io::stderr().is_terminal(),
            name: name.to_string(),
        }
    }
    fn done(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Spinner {
    fn frames(&mut self, n: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() > Duration::from_millis(500) {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {pos} frames ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_message(self.name.clone());
            b.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(b);
        }
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }
}

fn run_analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    let config = match args.tracking.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tcpshake: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let stdout = io::stdout().lock();
    let out = io::BufWriter::with_capacity(1 << 16, stdout);
    let mut reporter: Box<dyn Reporter> = match args.format {
        Format::Table => Box::new(TableReporter::new(out, args.all)),
        Format::Json => Box::new(JsonReporter::new(out)),
        Format::Jsonl => Box::new(JsonlReporter::new(out)),
        Format::Csv => Box::new(CsvReporter::new(out)),
    };
    let mut summary = Summary::default();
    let mut files: Vec<FileReport> = Vec::new();
    let mut next_id = 1u64;
    let mut failed = false;
    let mut write_error: Option<io::Error> = None;
    for path in &args.files {
        let mut spinner = Spinner::new(&path.display().to_string());
        let result = analyze::analyze_path(
            path,
            &config,
            &mut next_id,
            &mut |c| {
                summary.add(&c);
                if write_error.is_none()
                    && let Err(e) = reporter.connection(&c)
                {
                    write_error = Some(e);
                }
            },
            &mut spinner,
        );
        spinner.done();
        match result {
            Ok(report) => {
                if let Some(why) = &report.truncated_reason {
                    eprintln!(
                        "tcpshake: {}: truncated capture ({why}); everything before the cut was analysed",
                        report.path
                    );
                }
                summary.files += 1;
                files.push(report);
            }
            Err(e) => {
                eprintln!("tcpshake: {e}");
                failed = true;
            }
        }
    }
    if let Some(e) = write_error {
        return handle_write_error(e);
    }
    if let Err(e) = reporter.finish(&files, &summary) {
        return handle_write_error(e);
    }
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn handle_write_error(e: io::Error) -> Result<ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        // `tcpshake ... | head` is not an error.
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("tcpshake: cannot write the report: {e}");
    Ok(ExitCode::from(2))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => run_analyze(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io::stderr(), "tcpshake: {e:#}");
            ExitCode::from(2)
        }
    }
}
