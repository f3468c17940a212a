//! Throughput of the pipeline on a generated small-packet capture (not
//! committed; built in memory at bench time):
//! read → read + decode → read + decode + flow table + judge; and the
//! per-resend cost of a retransmission storm.
//!
//! Run: cargo bench --bench pipeline

#[path = "../tests/fixtures/build.rs"]
mod build;

#[path = "workload.rs"]
mod workload;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;
use tcpshake::capture::{Frame, read_capture};
use tcpshake::decode::{Decoded, decode_frame};
use tcpshake::judge::Config;
use tcpshake::pipeline::Pipeline;

fn bench(c: &mut Criterion) {
    let bytes: &'static [u8] = Box::leak(workload::capture().into_boxed_slice());
    let frames = count_frames(bytes);
    eprintln!(
        "bench capture: {frames} frames, {:.1} MB ({:.1} bytes/frame)",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / frames as f64
    );
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames));
    g.bench_function("read", |b| {
        b.iter(|| {
            let mut n = 0u64;
            read_capture(Path::new("bench"), Cursor::new(bytes), &mut |f: &Frame<
                '_,
            >| {
                n += f.data.len() as u64
            })
            .unwrap();
            black_box(n)
        })
    });
    g.bench_function("read+decode", |b| {
        b.iter(|| {
            let mut n = 0u64;
            read_capture(Path::new("bench"), Cursor::new(bytes), &mut |f: &Frame<
                '_,
            >| {
                if let Ok(Decoded::Tcp(s)) = decode_frame(f) {
                    n += s.payload_len as u64;
                }
            })
            .unwrap();
            black_box(n)
        })
    });
    judge(&mut g, bytes);
    g.finish();

    // Long connections: the per-segment cost of the judge without connection churn.
    let long: &'static [u8] = Box::leak(workload::long_capture().into_boxed_slice());
    let frames = count_frames(long);
    eprintln!(
        "long-connection capture: {frames} frames, {:.1} MB",
        long.len() as f64 / 1e6
    );
    let bytes = long;
    let mut g = c.benchmark_group("long-connections");
    g.sample_size(10);
    g.throughput(Throughput::Elements(frames));
    judge(&mut g, bytes);
    g.finish();

    retransmission_storm(c);
}

/// The retransmission storm of the scale workloads: one connection with
/// 10,000 segments outstanding, the last resent 10,000 times. Throughput is
/// counted in resent segments, so the time per element is the cost of one
/// resend (plus a share of the 10,008 other frames).
fn retransmission_storm(c: &mut Criterion) {
    let (bytes, resends) = workload::retransmission_storm_capture();
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    let mut g = c.benchmark_group("retransmission-storm");
    g.sample_size(10);
    g.throughput(Throughput::Elements(resends));
    judge(&mut g, bytes);
    g.finish();
}

fn count_frames(bytes: &'static [u8]) -> u64 {
    let mut frames = 0u64;
    read_capture(Path::new("bench"), Cursor::new(bytes), &mut |_: &Frame<
        '_,
    >| {
        frames += 1
    })
    .unwrap();
    frames
}

/// The whole pipeline: read, decode, flow table, judge, report objects.
fn judge(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    bytes: &'static [u8],
) {
    g.bench_function("read+decode+judge", |b| {
        b.iter(|| {
            let mut pipeline = Pipeline::new(Config::default(), 1, "bench");
            let mut out = |c| {
                black_box(c);
            };
            read_capture(Path::new("bench"), Cursor::new(bytes), &mut |f: &Frame<
                '_,
            >| {
                pipeline.frame(f, &mut out)
            })
            .unwrap();
            pipeline.finish(&mut out);
            black_box(pipeline.connections())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
