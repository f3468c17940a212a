//! Per-stage cost of one capture, for reasoning about how `analyze -j N`
//! scales: each stage is timed on one thread, adding one stage at a time.
//!
//! cargo run --release --example stage-costs -- FILE
//!
//! Stages: read (the capture reader handing out frames), + copy (into the
//! batches the threaded driver passes around), + decode, + flow and judge
//! (the whole pipeline, reports made but dropped), + JSONL (the reports
//! serialized into a sink, as `analyze --format jsonl` does).

use std::path::Path;
use std::time::Instant;
use tcpshake::capture::{Frame, read_path};
use tcpshake::decode::decode_frame;
use tcpshake::judge::Config;
use tcpshake::pipeline::Pipeline;
use tcpshake::report::{JsonlReporter, Reporter};

fn best(mut run: impl FnMut() -> u64) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut n = 0;
    for _ in 0..3 {
        let t = Instant::now();
        n = run();
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, n)
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: stage-costs FILE");
    let path = Path::new(&path);
    let (read, frames) = best(|| {
        let mut n = 0u64;
        read_path(path, &mut |f: &Frame<'_>| n += f.data.len() as u64 & 1).unwrap();
        n
    });
    let mut arena: Vec<u8> = Vec::with_capacity(1 << 20);
    let (copy, _) = best(|| {
        let mut n = 0u64;
        read_path(path, &mut |f: &Frame<'_>| {
            if arena.len() + f.data.len() > arena.capacity() {
                arena.clear();
            }
            arena.extend_from_slice(f.data);
            n += 1;
        })
        .unwrap();
        n
    });
    let (decode, _) = best(|| {
        let mut n = 0u64;
        read_path(path, &mut |f: &Frame<'_>| {
            n += decode_frame(f).is_ok() as u64;
        })
        .unwrap();
        n
    });
    let config = Config::default();
    let (judge, conns) = best(|| {
        let mut p = Pipeline::new(config.clone(), 1, "f");
        let mut n = 0u64;
        read_path(path, &mut |f: &Frame<'_>| p.frame(f, &mut |_| n += 1)).unwrap();
        p.finish(&mut |_| n += 1);
        n
    });
    let (jsonl, _) = best(|| {
        let mut p = Pipeline::new(config.clone(), 1, "f");
        let mut r = JsonlReporter::new(std::io::sink());
        let mut n = 0u64;
        read_path(path, &mut |f: &Frame<'_>| {
            p.frame(f, &mut |c| {
                r.connection(&c).unwrap();
                n += 1
            })
        })
        .unwrap();
        p.finish(&mut |c| r.connection(&c).unwrap());
        n
    });
    let _ = frames;
    println!("{conns} connections; best of 3, seconds on one thread:");
    println!("read                 {read:.3}");
    println!("read+copy            {copy:.3}  (copy {:.3})", copy - read);
    println!(
        "read+decode          {decode:.3}  (decode {:.3})",
        decode - read
    );
    println!(
        "pipeline             {judge:.3}  (flow+judge {:.3})",
        judge - decode
    );
    println!(
        "pipeline+jsonl       {jsonl:.3}  (jsonl {:.3})",
        jsonl - judge
    );
}
