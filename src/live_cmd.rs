//! `tcpshake live`: flags to the library's live session (feature `live`).

use super::Usage;
use super::cli;
use anyhow::Result;
use std::io;
use std::process::ExitCode;
use tcpshake::check;

pub fn run(args: cli::LiveArgs) -> Result<ExitCode> {
    use std::sync::{Arc, atomic::AtomicBool};
    use tcpshake::live::{self, LiveFormat, LiveOptions, LiveReport, StatusLine};
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
        interface: match args.interface.clone() {
            Some(i) => i,
            None => live::default_interface()?,
        },
        filter: args.filter.clone(),
        duration: args
            .duration
            .map(|d| std::time::Duration::from_nanos(d as u64)),
        count: args.count,
        write: args.write.clone(),
        snaplen: args.snaplen,
    };
    let format = match args.format {
        cli::LiveFormat::Table => LiveFormat::Table,
        cli::LiveFormat::Jsonl => LiveFormat::Jsonl,
    };
    let mut source = live::open(&opts)?;
    let stop = Arc::new(AtomicBool::new(false));
    live::stop_on_ctrl_c(stop.clone());
    let mut report = LiveReport::new(io::stdout().lock(), format, gate);
    let status_line = StatusLine::default();
    let filter = args.filter.as_deref().map(|f| format!(" (filter: {f})"));
    let status = live::run_with_tally(
        &mut source,
        &opts,
        &config,
        &stop,
        &mut || {
            let filter = filter.as_deref().unwrap_or("");
            eprintln!("tcpshake: capturing on {}{filter}", opts.interface)
        },
        &mut |c| {
            status_line.clear();
            let _ = report.connection(&c, &mut io::stderr());
        },
        &mut |s| status_line.show(s),
    );
    status_line.end();
    let (status, tally) = status?;
    let _ = report.finish(&status);
    if let Some(w) = status.drop_warning() {
        eprintln!("tcpshake: {w}");
    }
    if let Some(w) = status.eviction_warning(&opts.interface, config.max_connections) {
        eprintln!("tcpshake: {w}");
    }
    let passed = report.end_check(&tally, &mut io::stderr())?;
    Ok(ExitCode::from(if passed == Some(false) { 1 } else { 0 }))
}
