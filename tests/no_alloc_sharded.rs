//! A capture split over threads (`analyze -j N`) costs no heap allocation per
//! packet either: frames travel in reused batches, and what a shard hands the
//! merger per connection goes in reused vectors. Counted over all threads,
//! so this file holds one test.

mod alloc_count;
mod fixtures;

use alloc_count::all_allocations;
use fixtures::build::*;
use tcpshake::filter::Filter;
use tcpshake::judge::Config;
use tcpshake::pipeline::analyze_path_jobs;

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// Eight long connections: handshake, `n` request/ACK pairs each, no close.
fn long_connections(n: usize) -> Vec<u8> {
    let ds: Vec<Dialog> = (0..8u8)
        .map(|i| {
            let mut d = Dialog::v4([10, 0, 0, 10 + i], 40000, [10, 0, 0, 2], 80);
            d.handshake();
            for _ in 0..n {
                d.c(PSH | ACK, 200);
                d.s(ACK, 0);
            }
            d
        })
        .collect();
    eth_pcap(&ds.iter().collect::<Vec<_>>())
}

/// Allocations of one run over `bytes` on `jobs` threads, and the frames.
fn run(bytes: &[u8], jobs: usize) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.pcap");
    std::fs::write(&path, bytes).unwrap();
    let mut next_id = 1;
    let before = all_allocations();
    let report = analyze_path_jobs(
        &path,
        &Config::default(),
        &Filter::default(),
        jobs,
        &mut next_id,
        &mut |_| {},
        &mut (),
    )
    .unwrap();
    let n = all_allocations() - before;
    assert_eq!(report.connections, 8);
    (n, report.frames)
}

#[test]
fn cost_does_not_grow_with_the_number_of_packets_on_any_number_of_threads() {
    let (small, large) = (long_connections(500), long_connections(5_000));
    for jobs in [1, 2, 3] {
        let (a, fa) = run(&small, jobs);
        let (b, fb) = run(&large, jobs);
        let extra_frames = fb - fa;
        assert!(extra_frames > 70_000, "{extra_frames}");
        // A batch of 8,192 frames costs a handful of allocations (its shared
        // handle, the messages that carry it); a packet costs none.
        assert!(
            b.saturating_sub(a) * 100 < extra_frames,
            "-j {jobs}: {a} allocations for {fa} frames, {b} for {fb}"
        );
    }
}
