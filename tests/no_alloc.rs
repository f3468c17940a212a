//! The hot path allocates nothing per packet: reading a frame and driving it
//! through the pipeline (decode, flow table, judge) costs no heap allocation
//! once its connection is known.

mod alloc_count;
mod fixtures;

use alloc_count::allocations;
use fixtures::build::*;
use std::io::Cursor;
use std::path::Path;
use tcpshake::capture::{Frame, read_capture};
use tcpshake::judge::Config;
use tcpshake::model::connection::ConnectionReport;
use tcpshake::pipeline::Pipeline;

#[global_allocator]
static GLOBAL: alloc_count::Counting = alloc_count::Counting;

/// One long connection: handshake, `n` request/ACK pairs, no close.
fn long_connection(n: usize) -> Vec<u8> {
    let mut d = Dialog::basic();
    d.handshake();
    for _ in 0..n {
        d.c(PSH | ACK, 200);
        d.s(ACK, 0);
    }
    eth_pcap(&[&d])
}

/// One connection flooded after its handshake with `n` segments of `flags`
/// that each raise a finding, far past the per-connection cap. Without payload,
/// so that the unacknowledged-segment list (bounded, but growing up to its own
/// cap) stays out of the count.
fn flood(n: usize, flags: u16, len: usize) -> Vec<u8> {
    let mut d = Dialog::basic();
    d.handshake();
    for _ in 0..n {
        d.c(flags, len);
    }
    eth_pcap(&[&d])
}

/// Allocations made by reading, decoding and judging a whole capture.
fn pipeline_allocations(bytes: Vec<u8>) -> (u64, u64) {
    let (allocs, segments, _) = judged(bytes);
    (allocs, segments)
}

/// Allocations while reading, decoding and judging through the pipeline (not
/// while reporting the connections still open at the end), segments seen, and
/// the reports of the connections.
fn judged(bytes: Vec<u8>) -> (u64, u64, Vec<ConnectionReport>) {
    let mut pipeline = Pipeline::new(Config::default(), 1, "mem");
    let mut ended = Vec::new();
    let start = allocations();
    {
        let mut sink = |f: &Frame<'_>| pipeline.frame(f, &mut |c| ended.push(c));
        read_capture(Path::new("mem"), Cursor::new(bytes), &mut sink).unwrap();
    }
    let allocs = allocations() - start;
    pipeline.finish(&mut |c| ended.push(c));
    (allocs, pipeline.tally().tcp_segments, ended)
}

#[test]
fn cost_does_not_grow_with_the_number_of_packets() {
    let (small, n_small) = pipeline_allocations(long_connection(100));
    let (large, n_large) = pipeline_allocations(long_connection(10_000));
    assert_eq!(n_small, 203);
    assert_eq!(n_large, 20_003);
    assert_eq!(
        small, large,
        "allocations grew with the packet count: {small} for {n_small} segments, {large} for {n_large}"
    );
}

#[test]
fn decoding_allocates_nothing() {
    let bytes =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tcp-options.pcap"))
            .unwrap();
    let mut frames: Vec<(u32, Vec<u8>)> = Vec::new();
    read_capture(Path::new("mem"), Cursor::new(bytes), &mut |f: &Frame<
        '_,
    >| {
        frames.push((f.link_type, f.data.to_vec()))
    })
    .unwrap();
    let before = allocations();
    let mut tcp = 0;
    for (lt, data) in &frames {
        if let Ok(tcpshake::decode::Decoded::Tcp(s)) = tcpshake::decode::decode(*lt, data) {
            tcp += 1;
            tcp += s.options().count();
        }
    }
    assert!(tcp > 11);
    assert_eq!(allocations(), before);
}

/// Findings past the per-connection cap are counted, never built: a flood of
/// invalid segments costs no more allocations than a short burst.
#[test]
fn dropped_findings_allocate_nothing() {
    for (what, flags, len, kind) in [
        ("missing ACK flag", PSH, 0, "missing_ack_flag"),
        ("SYN+FIN", SYN | FIN, 0, "invalid_flags"),
    ] {
        let (small, n_small, r_small) = judged(flood(1_000, flags, len));
        let (large, n_large, r_large) = judged(flood(20_000, flags, len));
        assert_eq!((n_small, n_large), (1_003, 20_003), "{what}");
        assert_eq!(
            small, large,
            "{what}: allocations grew with the flood: {small} for {n_small} segments, {large} for {n_large}"
        );
        // The flood really went past the cap, and every finding was counted.
        for (r, n) in [(&r_small[0], 1_000u64), (&r_large[0], 20_000)] {
            let flooded = r.findings.iter().filter(|f| f.kind.id() == kind).count() as u64;
            assert!(flooded > 0 && r.findings_suppressed > 0, "{what}");
            assert!(
                r.findings.len() as u64 + r.findings_suppressed >= n,
                "{what}: {} kept + {} suppressed < {n}",
                r.findings.len(),
                r.findings_suppressed
            );
        }
        assert_eq!(
            r_small[0].findings.len(),
            r_large[0].findings.len(),
            "{what}"
        );
    }
}
