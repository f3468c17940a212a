//! Writes the benchmark's generated capture to a file, for profiling or for
//! timing the binary:
//! cargo run --release --example bench-capture -- /tmp/bench.pcap [--long]

#[path = "../tests/fixtures/build.rs"]
mod build;

#[path = "../benches/workload.rs"]
mod workload;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let long = args.iter().any(|a| a == "--long");
    let path = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "bench.pcap".into());
    let bytes = if long {
        workload::long_capture()
    } else {
        workload::capture()
    };
    std::fs::write(&path, &bytes)?;
    eprintln!("wrote {path}: {} bytes", bytes.len());
    Ok(())
}
