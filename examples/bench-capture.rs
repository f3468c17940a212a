//! Writes a benchmark's generated capture to a file, for profiling or for
//! timing the binary:
//!
//! cargo run --release --example bench-capture -- /tmp/bench.pcap [--long]
//! cargo run --release --example bench-capture -- /tmp/x.pcap --workload NAME [--syns N]
//! cargo run --release --example bench-capture -- --list
//!
//! The named workloads are the busy-server scale set timed by benches/scale.sh.

#[path = "../tests/fixtures/build.rs"]
mod build;

#[path = "../benches/workload.rs"]
mod workload;

use std::io::{BufWriter, Write};
use std::process::ExitCode;

fn main() -> std::io::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if flag("--list") {
        for (name, about) in workload::SCALE {
            println!("{name:14} {about}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let workload = value("--workload");
    let syns = match value("--syns").map(|v| v.parse::<u32>()) {
        None => workload::SYNS,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("--syns: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    // The path is the first argument that is neither a flag nor a flag's value.
    let path = args
        .iter()
        .enumerate()
        .find(|&(i, a)| {
            !a.starts_with("--")
                && (i == 0 || !matches!(args[i - 1].as_str(), "--workload" | "--syns"))
        })
        .map(|(_, a)| a.clone())
        .unwrap_or_else(|| "bench.pcap".into());

    let Some(name) = workload else {
        let bytes = if flag("--long") {
            workload::long_capture()
        } else {
            workload::capture()
        };
        std::fs::write(&path, &bytes)?;
        eprintln!("wrote {path}: {} bytes", bytes.len());
        return Ok(ExitCode::SUCCESS);
    };
    let out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let Some((out, packets)) = workload::write_scale(&name, out, syns)? else {
        std::fs::remove_file(&path)?;
        eprintln!("unknown workload {name:?}; --list shows them");
        return Ok(ExitCode::from(2));
    };
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all().ok();
    let bytes = file.metadata()?.len();
    drop(file);
    // One machine-readable line on stdout for scripts.
    println!("{packets} {bytes}");
    std::io::stdout().flush()?;
    eprintln!("wrote {path}: {name}, {packets} packets, {bytes} bytes");
    Ok(ExitCode::SUCCESS)
}
