//! Decode-only throughput: the benchmark workload's frames decoded in a loop,
//! best of 15 rounds (`ROUNDS` overrides), for comparing two builds on a busy
//! machine: cargo run --release --example decode-loop
//!
//! Instruction counts per frame, which a busy machine does not disturb:
//! the difference between `ROUNDS=1` and `ROUNDS=0` under
//! `valgrind --tool=callgrind`, divided by 20 × the frame count.
#[path = "../tests/fixtures/build.rs"]
mod build;
#[path = "../benches/workload.rs"]
mod workload;
use std::io::Cursor;
use std::path::Path;
use tcpshake::capture::{Frame, read_capture};
use tcpshake::decode::{Decoded, decode_frame};
fn main() {
    let bytes = workload::capture();
    let mut frames: Vec<(u64, u32, u32, Vec<u8>)> = Vec::new();
    read_capture(Path::new("m"), Cursor::new(bytes), &mut |f: &Frame<'_>| {
        frames.push((f.number, f.link_type, f.orig_len, f.data.to_vec()))
    })
    .unwrap();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        let mut n = 0u64;
        for _ in 0..20 {
            for (num, lt, ol, d) in &frames {
                let f = Frame {
                    number: *num,
                    ts: Default::default(),
                    link_type: *lt,
                    orig_len: *ol,
                    data: d,
                };
                if let Ok(Decoded::Tcp(s)) = decode_frame(std::hint::black_box(&f)) {
                    n += s.payload_len as u64 + s.seq.0 as u64;
                }
            }
        }
        std::hint::black_box(n);
        let e = t.elapsed().as_secs_f64() / (20 * frames.len()) as f64;
        best = best.min(e);
    }
    println!(
        "{} frames, best {:.2} ns/frame = {:.1} M frames/s",
        frames.len(),
        best * 1e9,
        1e-6 / best
    );
}
