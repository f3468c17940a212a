//! The hot path allocates nothing per packet: reading a frame and driving it
//! through the pipeline (decode, flow table, judge) costs no heap allocation
//! once its connection is known.

mod fixtures;

use fixtures::build::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::path::Path;
use tcpshake::capture::{Frame, read_capture};
use tcpshake::judge::Config;
use tcpshake::pipeline::Pipeline;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

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

/// Allocations made by reading a whole capture through the pipeline.
fn pipeline_allocations(bytes: Vec<u8>) -> (u64, u64) {
    let mut pipeline = Pipeline::new(Config::default(), 1, "mem");
    let start = allocations();
    {
        let mut sink = |f: &Frame<'_>| pipeline.frame(f, &mut |_| {});
        read_capture(Path::new("mem"), Cursor::new(bytes), &mut sink).unwrap();
    }
    (allocations() - start, pipeline.tally().tcp_segments)
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
