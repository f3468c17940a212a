//! The `tcpshake` command: parses flags, runs the library, prints, and turns
//! the outcome into an exit code (0 pass, 1 policy failure, 2 bad input).

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tcpshake::check::{self, PolicyFlags, Status};
use tcpshake::duration::parse_duration;
use tcpshake::judge::Config;
use tcpshake::ladder::{self, Selection, TextOptions, render_mermaid, render_text};
use tcpshake::model::{FileReport, Summary};
use tcpshake::pipeline;
use tcpshake::progress::Spinner;
use tcpshake::report::{CsvReporter, JsonReporter, JsonlReporter, Reporter, TableReporter};

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

impl PolicyArgs {
    fn flags(&self) -> PolicyFlags {
        PolicyFlags {
            policy: self.policy.clone(),
            fail_on: self.fail_on.clone(),
            allow: self.allow.clone(),
            expect_handshake: self.expect_handshake.clone(),
            expect_close: self.expect_close.clone(),
            max_handshake_rtt: self.max_handshake_rtt,
            expect_connections: self.expect_connections.clone(),
            port: self.port.clone(),
            host: self.host.clone(),
        }
    }
}

fn run_analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    let config = args.tracking.config().map_err(Usage)?;
    let out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut reporter: Box<dyn Reporter> = match args.format {
        Format::Table => Box::new(TableReporter::new(out, args.all)),
        Format::Json => Box::new(JsonReporter::new(out)),
        Format::Jsonl => Box::new(JsonlReporter::new(out)),
        Format::Csv => Box::new(CsvReporter::new(out)),
    };
    let (mut summary, mut files) = (Summary::default(), Vec::<FileReport>::new());
    let (mut next_id, mut failed, mut write_error) = (1u64, false, None);
    for path in &args.files {
        let mut spinner = Spinner::new(&path.display().to_string());
        let mut on_connection = |c| {
            summary.add(&c);
            if write_error.is_none() {
                write_error = reporter.connection(&c).err();
            }
        };
        let result = pipeline::analyze_path(
            path,
            &config,
            &mut next_id,
            &mut on_connection,
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
    write_error.map_or(Ok(()), Err)?;
    reporter.finish(&files, &summary)?;
    Ok(ExitCode::from(if failed { 2 } else { 0 }))
}

fn run_check(args: CheckArgs) -> Result<ExitCode> {
    let config = args.tracking.config().map_err(Usage)?;
    let policy = args.policy.flags().build()?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let verdicts = check::check_files(&args.files, &config, &policy, jobs);
    for v in verdicts.iter().filter(|v| v.status == Status::Error) {
        eprintln!("tcpshake: {}", v.error.as_deref().unwrap_or("unreadable"));
    }
    let mut out = io::stdout().lock();
    match args.format {
        _ if args.quiet => {}
        CheckFormat::Text => check::write_text(
            &mut out,
            &verdicts,
            &config,
            !args.no_ladder,
            text_options(),
        )?,
        CheckFormat::Json => check::write_json(&mut out, &verdicts)?,
    }
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        let _ = check::write_annotations(&mut out, &verdicts);
    }
    if let Some(path) = &args.junit {
        let written = std::fs::File::create(path).and_then(|f| {
            let mut w = io::BufWriter::new(f);
            check::write_junit(&mut w, &verdicts)?;
            w.flush()
        });
        if let Err(e) = written {
            let what = format!("{}: cannot write the JUnit report: {e}", path.display());
            return Err(Usage(what).into());
        }
    }
    let worst = verdicts.iter().map(|v| match v.status {
        Status::Error => 2,
        Status::Fail => 1,
        Status::Pass => 0,
    });
    Ok(ExitCode::from(worst.max().unwrap_or(0)))
}

/// Terminal width and colour, from stdout and NO_COLOR.
fn text_options() -> TextOptions {
    let tty = io::stdout().is_terminal();
    let width = match terminal_size::terminal_size() {
        Some((w, _)) if tty => w.0 as usize,
        _ => 110,
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    TextOptions {
        width,
        color: tty && !no_color,
    }
}

fn run_ladder(args: LadderArgs) -> Result<ExitCode> {
    let config = args.tracking.config().map_err(Usage)?;
    let select = Selection {
        id: args.conn,
        client: args.client.clone(),
        server: args.server.clone(),
    };
    let ladders = ladder::ladders(&args.file, &config, &|c| select.matches(c), args.full, &[])?;
    if ladders.is_empty() {
        let f = args.file.display();
        let why = format!("{f}: no connection matches; `tcpshake analyze --all {f}` lists them");
        return Err(Usage(why).into());
    }
    let o = text_options();
    let mut out = io::stdout().lock();
    for (i, l) in ladders.iter().enumerate() {
        let text = match args.format {
            LadderFormat::Text => render_text(l, o),
            LadderFormat::Mermaid => render_mermaid(l),
        };
        write!(out, "{}{text}", if i > 0 { "\n" } else { "" })?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "live")]
fn run_live(args: LiveArgs) -> Result<ExitCode> {
    use std::sync::{Arc, atomic::AtomicBool};
    use tcpshake::live::{self, LiveOptions, LiveReport};
    if args.list {
        for (name, desc) in live::list_interfaces()? {
            println!(
                "{name}{}",
                desc.map(|d| format!("\t{d}")).unwrap_or_default()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = args.tracking.config().map_err(Usage)?;
    let gate = match args.check {
        true => Some(check::Gate::new(args.policy.flags().build()?)),
        false => None,
    };
    let opts = LiveOptions {
        interface: args.interface.clone().unwrap_or_default(),
        filter: args.filter.clone(),
        duration: args
            .duration
            .map(|d| std::time::Duration::from_nanos(d as u64)),
        count: args.count,
        write: args.write.clone(),
        snaplen: args.snaplen,
    };
    let format = match args.format {
        LiveFormat::Table => live::LiveFormat::Table,
        LiveFormat::Jsonl => live::LiveFormat::Jsonl,
    };
    let mut source = live::open(&opts)?;
    let stop = Arc::new(AtomicBool::new(false));
    live::stop_on_ctrl_c(stop.clone());
    let tty = io::stderr().is_terminal();
    let mut report = LiveReport::new(io::stdout().lock(), format, gate);
    let status_shown = std::cell::Cell::new(false);
    let clear_status = || {
        if tty && status_shown.get() {
            eprint!("\r\x1b[2K");
        }
    };
    let filter = args.filter.as_deref().map(|f| format!(" (filter: {f})"));
    let status = live::run(
        &mut source,
        &opts,
        &config,
        &stop,
        &mut || {
            eprintln!(
                "tcpshake: capturing on {}{}",
                opts.interface,
                filter.as_deref().unwrap_or("")
            )
        },
        &mut |c| {
            clear_status();
            let _ = report.connection(&c, &mut io::stderr());
        },
        &mut |s| {
            if tty {
                status_shown.set(true);
                eprint!("\r\x1b[2K{}", live::status_line(s));
            }
        },
    );
    if tty && status_shown.get() {
        eprintln!();
    }
    let status = status?;
    let _ = report.finish(&status);
    if status.kernel_dropped > 0 || status.interface_dropped > 0 {
        eprintln!(
            "tcpshake: WARNING: {} packets were dropped by the kernel and {} by the interface: gaps, unacknowledged FINs and missing handshakes may be capture loss, not the network",
            status.kernel_dropped, status.interface_dropped
        );
    }
    let Some(gate) = report.gate() else {
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(v) = gate.count_violation() {
        eprintln!("tcpshake: FAIL {}", v.message);
    }
    Ok(ExitCode::from(if gate.passed() { 0 } else { 1 }))
}

/// A wrong command line, policy or selection: its message, and exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Usage(String);

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Analyze(args) => run_analyze(args),
        Command::Check(args) => run_check(*args),
        Command::Ladder(args) => run_ladder(args),
        #[cfg(feature = "live")]
        Command::Live(args) => run_live(*args),
    };
    result.unwrap_or_else(|e| {
        let broken_pipe = e
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
        if broken_pipe {
            // `tcpshake ... | head` is not an error.
            return ExitCode::SUCCESS;
        }
        if e.is::<io::Error>() {
            eprintln!("tcpshake: cannot write the report: {e}");
        } else {
            eprintln!("tcpshake: {e}");
        }
        ExitCode::from(2)
    })
}
