//! The `tcpshake` command: parses flags, runs the library, prints.

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tcpshake::analyze::{self, FileReport, Progress};
use tcpshake::check::{self, CountRange, FailOn, FileVerdict, Policy, Status};
use tcpshake::duration::parse_duration;
use tcpshake::findings::FindingKind;
use tcpshake::judge::Config;
use tcpshake::judge::{Close, Handshake};
use tcpshake::ladder::{self, Selection, TextOptions, render_mermaid, render_text};
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
    /// Judge captures against a policy: exit 0 when all pass, 1 when one fails, 2 on bad input.
    Check(Box<CheckArgs>),
    /// Draw connections as ladder diagrams (text or Mermaid).
    Ladder(LadderArgs),
    /// Capture from a network interface and judge connections as they finish.
    #[cfg(feature = "live")]
    Live(Box<LiveArgs>),
}

#[cfg(feature = "live")]
#[derive(Clone, Copy, ValueEnum)]
enum LiveFormat {
    Table,
    Jsonl,
}

#[cfg(feature = "live")]
#[derive(Args)]
struct LiveArgs {
    /// Interface to capture on (`--list` shows them).
    #[arg(short, long, value_name = "IFACE", required_unless_present = "list")]
    interface: Option<String>,
    /// List the interfaces and exit.
    #[arg(long)]
    list: bool,
    /// BPF capture filter, e.g. "tcp port 443".
    #[arg(short, long, value_name = "BPF")]
    filter: Option<String>,
    /// Stop after this long (e.g. 30s). Ctrl-C also stops.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    duration: Option<i64>,
    /// Stop after this many packets.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Save what was captured as pcap (replay it with `tcpshake analyze`).
    #[arg(short, long, value_name = "FILE")]
    write: Option<PathBuf>,
    /// Bytes captured per packet.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES")]
    snaplen: i32,
    #[arg(long, value_enum, default_value = "table")]
    format: LiveFormat,
    /// Apply the check policy: exit 1 when a connection failed it.
    #[arg(long)]
    check: bool,
    #[command(flatten)]
    policy: PolicyArgs,
    #[command(flatten)]
    tracking: TrackingArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum LadderFormat {
    Text,
    Mermaid,
}

#[derive(Args)]
struct LadderArgs {
    /// Capture file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The connection with this id (as `analyze` numbers them).
    #[arg(long, value_name = "ID")]
    conn: Option<u64>,
    /// Connections whose client is this ip:port ([v6]:port for IPv6).
    #[arg(long, value_name = "IP:PORT")]
    client: Option<String>,
    /// Connections whose server is this ip:port.
    #[arg(long, value_name = "IP:PORT")]
    server: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: LadderFormat,
    /// Draw every segment instead of folding the data transfer.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    tracking: TrackingArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Json,
}

#[derive(Args)]
struct CheckArgs {
    /// Capture files (pcap, pcapng, optionally .gz).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Print nothing; the exit code says it all.
    #[arg(short, long)]
    quiet: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: CheckFormat,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Do not draw the ladder of each failing connection.
    #[arg(long)]
    no_ladder: bool,
    /// Files judged at once (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    #[command(flatten)]
    tracking: TrackingArgs,
}

/// The policy knobs, shared by `check` and `live --check`.
#[derive(Args)]
struct PolicyArgs {
    /// Policy file (TOML). Without it, ./tcpshake.toml is used when present.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Also fail on this severity (and worse), finding kind, or verdict. Repeatable, or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "SEVERITY|KIND|VERDICT")]
    fail_on: Vec<String>,
    /// Never fail on this finding kind.
    #[arg(long, value_delimiter = ',', value_name = "KIND")]
    allow: Vec<String>,
    /// Every judged connection's handshake must be one of these.
    #[arg(long, value_delimiter = ',', value_name = "VERDICT")]
    expect_handshake: Vec<String>,
    /// Every judged connection's close must be one of these.
    #[arg(long, value_delimiter = ',', value_name = "VERDICT")]
    expect_close: Vec<String>,
    /// Fail a connection whose SYN → SYN-ACK → ACK took longer (e.g. 200ms, 1.5s).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    max_handshake_rtt: Option<i64>,
    /// The number of judged connections: N, MIN..MAX, MIN.. or ..MAX.
    #[arg(long, value_name = "N|MIN..MAX")]
    expect_connections: Option<String>,
    /// Judge only connections with this port at either end. Repeatable.
    #[arg(long, value_delimiter = ',', value_name = "PORT")]
    port: Vec<u16>,
    /// Judge only connections with this host at either end. Repeatable.
    #[arg(long, value_delimiter = ',', value_name = "IP")]
    host: Vec<String>,
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
        Err(e) => return Ok(usage_error(&e)),
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

fn build_policy(args: &PolicyArgs) -> Result<(Policy, Option<PathBuf>), String> {
    let file = match &args.policy {
        Some(p) => Some(p.clone()),
        None => {
            let p = PathBuf::from("tcpshake.toml");
            p.exists().then_some(p)
        }
    };
    let mut policy = match &file {
        Some(p) => Policy::from_file(p).map_err(|e| e.to_string())?,
        None => Policy::default(),
    };
    for v in &args.fail_on {
        policy
            .fail_on
            .push(FailOn::parse(v).map_err(|e| format!("--fail-on: {e}"))?);
    }
    for v in &args.allow {
        policy.allow.push(
            FindingKind::from_id(v.trim())
                .ok_or_else(|| format!("--allow: '{v}' is not a finding kind"))?,
        );
    }
    for v in &args.expect_handshake {
        policy.expect_handshake.push(
            Handshake::parse(v.trim())
                .ok_or_else(|| format!("--expect-handshake: '{v}' is not a handshake verdict"))?,
        );
    }
    for v in &args.expect_close {
        policy.expect_close.push(
            Close::parse(v.trim())
                .ok_or_else(|| format!("--expect-close: '{v}' is not a close verdict"))?,
        );
    }
    if let Some(d) = args.max_handshake_rtt {
        policy.max_handshake_rtt = Some(d);
    }
    if let Some(n) = &args.expect_connections {
        policy.expect_connections =
            Some(CountRange::parse(n).map_err(|e| format!("--expect-connections: {e}"))?);
    }
    policy.ports.extend(&args.port);
    for h in &args.host {
        policy.hosts.push(
            h.trim()
                .parse()
                .map_err(|_| format!("--host: '{h}' is not an IP address"))?,
        );
    }
    Ok((policy, file))
}

/// GitHub's workflow-command escaping.
fn gh_escape(s: &str, property: bool) -> String {
    let mut o = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        o = o.replace(':', "%3A").replace(',', "%2C");
    }
    o
}

/// Failing connections drawn per file in `check`'s text output; the rest are only listed.
const LADDERS_PER_FILE: usize = 20;

fn print_check_text(
    out: &mut dyn Write,
    verdicts: &[FileVerdict],
    config: &tcpshake::judge::Config,
    ladders_on: bool,
) -> io::Result<()> {
    let o = text_options();
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    for v in verdicts {
        match v.status {
            Status::Error => {
                writeln!(out, "ERROR {}", v.error.as_deref().unwrap_or("unreadable"))?;
                continue;
            }
            Status::Pass => writeln!(
                out,
                "PASS  {}  {} connection{} judged",
                v.path,
                v.judged,
                plural(v.judged)
            )?,
            Status::Fail => writeln!(
                out,
                "FAIL  {}  {} connection{} judged, {} failed",
                v.path,
                v.judged,
                plural(v.judged),
                v.failed.len()
            )?,
        }
        for cv in &v.capture_violations {
            writeln!(out, "      {}: {}", cv.kind, cv.message)?;
        }
        // The folded ladder of each failing connection, around its failing frames.
        let mut drawn = std::collections::HashMap::new();
        if ladders_on && !v.failed.is_empty() {
            let ids: Vec<u64> = v
                .failed
                .iter()
                .take(LADDERS_PER_FILE)
                .map(|c| c.id)
                .collect();
            let keep: Vec<u64> = v
                .failed
                .iter()
                .flat_map(|c| c.violations.iter().map(|x| x.frame))
                .collect();
            let path = std::path::Path::new(&v.path);
            if let Ok(ls) = ladder::ladders(path, config, &|c| ids.contains(&c.id), false, &keep) {
                for l in ls {
                    drawn.insert(l.report.id, l);
                }
            }
        }
        for c in &v.failed {
            writeln!(out, "      {}", c.name())?;
            for viol in &c.violations {
                let sev = viol
                    .severity
                    .map(|s| format!(" ({})", s.as_str()))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "        frame {}  {}{}: {}",
                    viol.frame, viol.kind, sev, viol.message
                )?;
            }
            if let Some(l) = drawn.get(&c.id) {
                for line in render_text(l, o).lines().skip(1) {
                    writeln!(out, "        {line}")?;
                }
            }
        }
        if ladders_on && v.failed.len() > LADDERS_PER_FILE {
            writeln!(
                out,
                "      (ladders drawn for the first {LADDERS_PER_FILE} failing connections; `tcpshake ladder --conn ID` draws any)"
            )?;
        }
        if let Some(t) = &v.truncated {
            writeln!(out, "      note: truncated capture ({t})")?;
        }
    }
    let n = verdicts.len();
    let passed = verdicts.iter().filter(|v| v.status == Status::Pass).count();
    let failed = verdicts.iter().filter(|v| v.status == Status::Fail).count();
    let errors = n - passed - failed;
    writeln!(
        out,
        "{n} file{}: {passed} passed, {failed} failed{}",
        if n == 1 { "" } else { "s" },
        if errors > 0 {
            format!(", {errors} unreadable")
        } else {
            String::new()
        }
    )
}

fn run_check(args: CheckArgs) -> Result<ExitCode> {
    let config = match args.tracking.config() {
        Ok(c) => c,
        Err(e) => return Ok(usage_error(&e)),
    };
    let (policy, _policy_file) = match build_policy(&args.policy) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tcpshake: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let verdicts = check::check_files(&args.files, &config, &policy, jobs);
    for v in verdicts.iter().filter(|v| v.status == Status::Error) {
        eprintln!("tcpshake: {}", v.error.as_deref().unwrap_or("unreadable"));
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if !args.quiet {
        let r = match args.format {
            CheckFormat::Text => print_check_text(&mut out, &verdicts, &config, !args.no_ladder),
            CheckFormat::Json => {
                let passed = verdicts.iter().all(|v| v.status == Status::Pass);
                serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"passed": passed, "files": verdicts}),
                )
                .map_err(io::Error::other)
                .and_then(|_| writeln!(out))
            }
        };
        if let Err(e) = r {
            return handle_write_error(e);
        }
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        for v in &verdicts {
            for cv in &v.capture_violations {
                let _ = writeln!(
                    out,
                    "::error file={},title={}::{}",
                    gh_escape(&v.path, true),
                    gh_escape(&format!("tcpshake {}", cv.kind), true),
                    gh_escape(&cv.message, false)
                );
            }
            for c in &v.failed {
                for viol in &c.violations {
                    let _ = writeln!(
                        out,
                        "::error file={},title={}::{}",
                        gh_escape(&v.path, true),
                        gh_escape(&format!("tcpshake {}", viol.kind), true),
                        gh_escape(
                            &format!("{} frame {}: {}", c.name(), viol.frame, viol.message),
                            false
                        )
                    );
                }
            }
        }
    }
    if let Some(path) = &args.junit {
        let written = std::fs::File::create(path).and_then(|f| {
            let mut w = io::BufWriter::new(f);
            check::write_junit(&mut w, &verdicts)?;
            w.flush()
        });
        if let Err(e) = written {
            eprintln!(
                "tcpshake: {}: cannot write the JUnit report: {e}",
                path.display()
            );
            return Ok(ExitCode::from(2));
        }
    }
    Ok(if verdicts.iter().any(|v| v.status == Status::Error) {
        ExitCode::from(2)
    } else if verdicts.iter().any(|v| v.status == Status::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Terminal width and colour, from stdout and NO_COLOR.
fn text_options() -> TextOptions {
    let tty = io::stdout().is_terminal();
    let width = if tty {
        terminal_size::terminal_size().map_or(110, |(w, _)| w.0 as usize)
    } else {
        110
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    TextOptions {
        width,
        color: tty && !no_color,
    }
}

fn run_ladder(args: LadderArgs) -> Result<ExitCode> {
    let config = match args.tracking.config() {
        Ok(c) => c,
        Err(e) => return Ok(usage_error(&e)),
    };
    let select = Selection {
        id: args.conn,
        client: args.client.clone(),
        server: args.server.clone(),
    };
    let ladders = match ladder::ladders(&args.file, &config, &|c| select.matches(c), args.full, &[])
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("tcpshake: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    if ladders.is_empty() {
        eprintln!(
            "tcpshake: {}: no connection matches; `tcpshake analyze --all {}` lists them",
            args.file.display(),
            args.file.display()
        );
        return Ok(ExitCode::from(2));
    }
    let o = text_options();
    let mut out = io::stdout().lock();
    for (i, l) in ladders.iter().enumerate() {
        let text = match args.format {
            LadderFormat::Text => render_text(l, o),
            LadderFormat::Mermaid => render_mermaid(l),
        };
        let sep = if i > 0 { "\n" } else { "" };
        if let Err(e) = write!(out, "{sep}{text}") {
            return handle_write_error(e);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "live")]
fn run_live(args: LiveArgs) -> Result<ExitCode> {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use tcpshake::live::{self, LiveOptions};
    if args.list {
        return match live::list_interfaces() {
            Ok(list) => {
                for (name, desc) in list {
                    match desc {
                        Some(d) => println!("{name}\t{d}"),
                        None => println!("{name}"),
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("tcpshake: {e}");
                Ok(ExitCode::from(2))
            }
        };
    }
    let config = match args.tracking.config() {
        Ok(c) => c,
        Err(e) => return Ok(usage_error(&e)),
    };
    let policy = if args.check {
        match build_policy(&args.policy) {
            Ok((p, _)) => Some(p),
            Err(e) => {
                eprintln!("tcpshake: {e}");
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        None
    };
    let interface = args.interface.clone().unwrap_or_default();
    let opts = LiveOptions {
        interface: interface.clone(),
        filter: args.filter.clone(),
        duration: args.duration.map(|d| Duration::from_nanos(d as u64)),
        count: args.count,
        write: args.write.clone(),
        snaplen: args.snaplen,
    };
    let stop = Arc::new(AtomicBool::new(false));
    live::stop_on_ctrl_c(stop.clone());
    let tty = io::stderr().is_terminal();
    let mut summary = Summary::default();
    let mut judged = 0u64;
    let mut failed = 0u64;
    let mut out = io::stdout().lock();
    let status_shown = std::cell::Cell::new(false);
    let result = live::run(
        &opts,
        &config,
        stop,
        &mut || {
            eprintln!(
                "tcpshake: capturing on {interface}{}",
                args.filter
                    .as_deref()
                    .map(|f| format!(" (filter: {f})"))
                    .unwrap_or_default()
            );
        },
        &mut |c| {
            summary.add(&c);
            if tty && status_shown.get() {
                eprint!("\r\x1b[2K");
            }
            let _ = match args.format {
                LiveFormat::Table => write!(out, "{}", tcpshake::report::connection_block(&c)),
                LiveFormat::Jsonl => serde_json::to_writer(
                    &mut out,
                    &serde_json::json!({"record": "connection", "connection": &c}),
                )
                .map_err(io::Error::other)
                .and_then(|_| writeln!(out)),
            };
            let _ = out.flush();
            if let Some(p) = &policy
                && p.selects(&c)
            {
                judged += 1;
                let v = p.violations(&c);
                if !v.is_empty() {
                    failed += 1;
                    for x in v {
                        eprintln!(
                            "tcpshake: FAIL #{} {} → {} frame {}: {}: {}",
                            c.id, c.client, c.server, x.frame, x.kind, x.message
                        );
                    }
                }
            }
        },
        &mut |s| {
            if tty {
                status_shown.set(true);
                eprint!(
                    "\r\x1b[2K{} packets  {} live connections  {} finished  {} findings  {} dropped by the kernel",
                    s.packets, s.live_connections, s.connections, s.findings, s.kernel_dropped
                );
            }
        },
    );
    if tty && status_shown.get() {
        eprintln!();
    }
    let status = match result {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tcpshake: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    match args.format {
        LiveFormat::Table => {
            let _ = writeln!(
                out,
                "{} packets, {} TCP segments, {} connections; handshakes: {}; closes: {}",
                status.packets,
                status.tcp_segments,
                summary.connections,
                summary
                    .handshake
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                summary
                    .close
                    .iter()
                    .filter(|(_, n)| **n > 0)
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let _ = writeln!(
                out,
                "libpcap: {} dropped by the kernel, {} by the interface",
                status.kernel_dropped, status.interface_dropped
            );
        }
        LiveFormat::Jsonl => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::json!({"record": "summary", "summary": &summary, "capture": &status})
            );
        }
    }
    let _ = out.flush();
    if status.kernel_dropped > 0 || status.interface_dropped > 0 {
        eprintln!(
            "tcpshake: WARNING: {} packets were dropped by the kernel and {} by the interface: gaps, unacknowledged FINs and missing handshakes may be capture loss, not the network",
            status.kernel_dropped, status.interface_dropped
        );
    }
    if let Some(p) = &policy {
        let count_ok = p.expect_connections.is_none_or(|r| r.contains(judged));
        if !count_ok {
            eprintln!(
                "tcpshake: FAIL expected {} connections, saw {judged}",
                p.expect_connections
                    .map(|r| r.to_string())
                    .unwrap_or_default()
            );
        }
        if failed > 0 || !count_ok {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A wrong command line or policy: the message, and exit code 2.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("tcpshake: {message}");
    ExitCode::from(2)
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
        Command::Check(args) => run_check(*args),
        Command::Ladder(args) => run_ladder(args),
        #[cfg(feature = "live")]
        Command::Live(args) => run_live(*args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io::stderr(), "tcpshake: {e:#}");
            ExitCode::from(2)
        }
    }
}
