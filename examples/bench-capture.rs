//! Writes the benchmark's generated capture to a file, for profiling or for
//! timing the binary: cargo run --release --example bench-capture -- /tmp/bench.pcap

#[path = "../tests/fixtures/build.rs"]
mod build;

#[path = "../benches/workload.rs"]
mod workload;

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench.pcap".into());
    let bytes = workload::capture();
    std::fs::write(&path, &bytes)?;
    eprintln!("wrote {path}: {} bytes", bytes.len());
    Ok(())
}
