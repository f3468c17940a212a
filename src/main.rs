//! The `tcpshake` command: parses flags, runs the library, prints, and turns
//! the outcome into an exit code (0 pass, 1 policy failure, 2 bad input).

mod cli;
#[cfg(feature = "live")]
mod live_cmd;

use anyhow::Result;
use clap::{CommandFactory, Parser};
use cli::{
    AnalyzeArgs, CheckArgs, CheckFormat, Cli, Command, Format, LadderArgs, LadderFormat,
    ReportArgs, ServersArgs,
};
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use tcpshake::check::{self, Status};
use tcpshake::html;
use tcpshake::ladder::{self, Selection, TextOptions, render_mermaid, render_text};
use tcpshake::pipeline::{self, Progress};
use tcpshake::progress::Spinner;
use tcpshake::report::{CsvReporter, JsonReporter, JsonlReporter, Reporter, TableReporter};
use tcpshake::servers;

fn run_analyze(args: AnalyzeArgs) -> Result<ExitCode> {
    if let Some(cli::GroupBy::Server) = args.by {
        return run_servers(ServersArgs {
            files: args.files,
            format: args.format,
            interval: args.interval,
            jobs: args.jobs,
            tracking: args.tracking,
        });
    }
    let config = args.tracking.config().map_err(Usage)?;
    let out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut reporter: Box<dyn Reporter> = match args.format {
        Format::Table => Box::new(TableReporter::new(out, args.all, args.time.into())),
        Format::Json => Box::new(JsonReporter::new(out)),
        Format::Jsonl => Box::new(JsonlReporter::new(out)),
        Format::Csv => Box::new(CsvReporter::new(out)),
    };
    let all_read = pipeline::analyze_files(
        &args.files,
        &config,
        &args.filter.filter(),
        jobs(args.jobs),
        reporter.as_mut(),
        &mut spinner,
        &mut |message| eprintln!("tcpshake: {message}"),
    )?;
    Ok(ExitCode::from(if all_read { 0 } else { 2 }))
}

/// `-j`, or one thread per core.
fn jobs(asked: Option<u16>) -> usize {
    asked.map_or_else(pipeline::default_jobs, usize::from)
}

fn run_servers(args: ServersArgs) -> Result<ExitCode> {
    let config = args.tracking.config().map_err(Usage)?;
    if args.interval.is_some_and(|i| i <= 0) {
        return Err(Usage("--interval: must be more than zero".into()).into());
    }
    let opts = servers::ServerOptions {
        interval: args.interval,
        two_msl: config.two_msl,
        ..Default::default()
    };
    let (report, all_read) = servers::analyze_files(
        &args.files,
        &config,
        opts,
        jobs(args.jobs),
        &mut spinner,
        &mut |message| eprintln!("tcpshake: {message}"),
    );
    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.format {
        Format::Table => servers::write_table(&mut out, &report)?,
        Format::Json => servers::write_json(&mut out, &report)?,
        Format::Jsonl => servers::write_jsonl(&mut out, &report)?,
        Format::Csv => servers::write_csv(&mut out, &report)?,
    }
    out.flush()?;
    Ok(ExitCode::from(if all_read { 0 } else { 2 }))
}

fn run_check(args: CheckArgs) -> Result<ExitCode> {
    let config = args.tracking.config().map_err(Usage)?;
    let flags = args.policy.flags();
    let mut policy = flags.build()?;
    policy.two_msl = config.two_msl;
    if let Some(file) = flags.file().filter(|_| !args.quiet) {
        eprintln!("tcpshake: policy {}", file.display());
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let verdicts = check::check_files(&args.files, &config, &args.filter.filter(), &policy, jobs);
    for v in &verdicts {
        // An unreadable file is in the report; said on stderr only when no
        // report is printed.
        if v.status == Status::Error && args.quiet {
            eprintln!("tcpshake: {}", v.error.as_deref().unwrap_or("unreadable"));
        }
        let evicted = tcpshake::model::file::eviction_warning(
            &v.path,
            v.evicted_connections,
            config.max_connections,
        );
        if let Some(w) = evicted {
            eprintln!("tcpshake: warning: {w}");
        }
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
    // GitHub reads workflow commands from stderr too; stdout stays machine output.
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        let _ = check::write_annotations(&mut io::stderr().lock(), &verdicts);
    }
    if let Some(path) = &args.summary_md {
        // GitHub's step summary file is shared by the job's steps: append.
        write_file(path, true, "Markdown summary", |w| {
            check::write_summary_md(w, &verdicts, &config)
        })?;
    }
    if let Some(path) = &args.html {
        let failed: Vec<std::collections::HashSet<u64>> = verdicts
            .iter()
            .map(|v| v.failed.iter().map(|c| c.connection.id).collect())
            .collect();
        let opts = html::ReportOptions {
            title: "tcpshake check".into(),
            ..Default::default()
        };
        let failing = |file: usize, c: &tcpshake::model::connection::ConnectionReport| {
            failed[file].contains(&c.id)
        };
        write_html_report(path, &args.files, &config, &opts, &failing)?;
    }
    if let Some(path) = &args.junit {
        write_file(path, false, "JUnit report", |w| {
            check::write_junit(w, &verdicts)
        })?;
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
        client: args.client,
        server: args.server,
    };
    // The ladder reads its input twice: standard input is spooled to a
    // temporary file first.
    let spool;
    let path = if args.file.as_os_str() == "-" {
        let mut f = tempfile::NamedTempFile::new()?;
        io::copy(&mut io::stdin().lock(), &mut f)?;
        f.flush()?;
        spool = f;
        spool.path().to_path_buf()
    } else {
        args.file.clone()
    };
    let filter = args.filter.filter();
    let mut ladders = ladder::ladders(
        &path,
        &config,
        &filter,
        &|c| select.matches(c),
        args.full,
        &[],
    )?;
    if args.file.as_os_str() == "-" {
        for l in &mut ladders {
            l.report.file = "-".into();
        }
    }
    if ladders.is_empty() {
        let f = args.file.display();
        eprintln!("tcpshake: {f}: no connection matches; `tcpshake analyze --all {f}` lists them");
        return Ok(ExitCode::from(1));
    }
    let o = text_options();
    let mut out = io::stdout().lock();
    let fenced = args.fenced || ladders.len() > 1;
    for (i, l) in ladders.iter().enumerate() {
        let text = match args.format {
            LadderFormat::Text => render_text(l, o),
            LadderFormat::Mermaid if fenced => format!("```mermaid\n{}```\n", render_mermaid(l)),
            LadderFormat::Mermaid => render_mermaid(l),
        };
        write!(out, "{}{text}", if i > 0 { "\n" } else { "" })?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_report(args: ReportArgs) -> Result<ExitCode> {
    let config = args.tracking.config().map_err(Usage)?;
    if args.interval.is_some_and(|i| i <= 0) {
        return Err(Usage("--interval: must be more than zero".into()).into());
    }
    let mut opts = html::ReportOptions {
        ladders: args.ladders,
        table_rows: args.rows,
        ..Default::default()
    };
    opts.servers.interval = args.interval;
    opts.servers.two_msl = config.two_msl;
    let all_read = write_html_report(&args.output, &args.files, &config, &opts, &|_, c| {
        html::failing_by_default(c)
    })?;
    Ok(ExitCode::from(if all_read { 0 } else { 2 }))
}

/// Builds the HTML report of `files` and writes it to `path`; returns
/// whether every file was read.
/// The progress line shown while `path` is read.
fn spinner(path: &std::path::Path) -> Box<dyn Progress> {
    Box::new(Spinner::new(&path.display().to_string()))
}

fn write_html_report(
    path: &std::path::Path,
    files: &[std::path::PathBuf],
    config: &tcpshake::judge::Config,
    opts: &html::ReportOptions,
    failing: &dyn Fn(usize, &tcpshake::model::connection::ConnectionReport) -> bool,
) -> Result<bool> {
    let (report, all_read) = html::build(files, config, opts, failing, &mut spinner);
    for u in &report.unreadable {
        eprintln!("tcpshake: {u}");
    }
    write_file(path, false, "HTML report", |w| html::write_html(w, &report))?;
    Ok(all_read)
}

/// Writes an artifact (a report beside the main output) to `path`: a failure
/// names the file and what it was for.
fn write_file(
    path: &std::path::Path,
    append: bool,
    what: &str,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let written = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .and_then(|f| {
            let mut w = io::BufWriter::new(f);
            write(&mut w)?;
            w.flush()
        });
    written.map_err(|e| Usage(format!("{}: cannot write the {what}: {e}", path.display())).into())
}

fn print_schema() -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &tcpshake::schema::schema())?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// A wrong command line, policy or selection: its message, and exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Usage(pub(crate) String);

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Analyze(args) => run_analyze(args),
        Command::Check(args) => run_check(*args),
        Command::Ladder(args) => run_ladder(args),
        Command::Servers(args) => run_servers(args),
        Command::Report(args) => run_report(args),
        #[cfg(feature = "live")]
        Command::Live(args) => live_cmd::run(*args),
        #[cfg(not(feature = "live"))]
        Command::Live { .. } => Err(Usage(
            "this build has no live capture: build with `cargo build --release --features live` \
(needs libpcap: `apt install libpcap-dev`), or capture with tcpdump -w and run `tcpshake analyze`"
                .into(),
        )
        .into()),
        Command::Schema => print_schema(),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "tcpshake", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
    };
    result.unwrap_or_else(|e| {
        match e.downcast_ref::<io::Error>() {
            // `tcpshake ... | head` is not an error.
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
            Some(e) => eprintln!("tcpshake: cannot write the report: {e}"),
            None => eprintln!("tcpshake: {e}"),
        }
        ExitCode::from(2)
    })
}
