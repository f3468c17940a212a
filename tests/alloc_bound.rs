//! Memory is bounded by the bytes that exist, never by what a header claims:
//! peak heap use while reading captures whose records claim up to 4 GiB.

mod fixtures;

use fixtures::build::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Cursor, Write};
use std::path::Path;
use tcpshake::capture::{CaptureSummary, Frame, read_capture};

struct Peak;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(n: usize) {
    LIVE.with(|l| {
        let now = l.get() + n;
        l.set(now);
        PEAK.with(|p| p.set(p.get().max(now)));
    });
}

fn shrank(n: usize) {
    LIVE.with(|l| l.set(l.get().saturating_sub(n)));
}

unsafe impl GlobalAlloc for Peak {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        shrank(layout.size());
        p
    }
}

#[global_allocator]
static GLOBAL: Peak = Peak;

/// Reads `bytes` and returns the summary and the peak heap growth (bytes)
/// on this thread while reading.
fn read_peak(bytes: Vec<u8>) -> (CaptureSummary, usize) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let s = read_capture(Path::new("test"), Cursor::new(bytes), &mut |_: &Frame<
        '_,
    >| {})
    .expect("readable");
    (s, PEAK.with(|p| p.get()) - base)
}

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

fn syn_record() -> Vec<u8> {
    let f = frames(
        Link::Ethernet,
        &[&{
            let mut d = Dialog::basic();
            d.c(SYN, 0);
            d
        }],
    );
    pcap(1, &f)[24..].to_vec()
}

fn pcap_header(snaplen: u32) -> Vec<u8> {
    pcap_with(1, &[], false, false, snaplen)
}

fn record_header(caplen: u32, orig_len: u32) -> Vec<u8> {
    let mut h = 1_700_000_000u32.to_le_bytes().to_vec();
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&caplen.to_le_bytes());
    h.extend_from_slice(&orig_len.to_le_bytes());
    h
}

#[test]
fn records_claiming_more_than_exists_cost_only_what_exists() {
    let rec = syn_record();
    let window = 256 * KIB;

    // 4 GiB claimed in the middle: skipped, never allocated.
    let mut b = pcap_header(65535);
    b.extend_from_slice(&rec);
    b.extend_from_slice(&record_header(u32::MAX, u32::MAX));
    b.extend_from_slice(&rec);
    let (s, peak) = read_peak(b);
    assert_eq!((s.frames, s.damage_count), (2, 1));
    assert!(peak < window + 64 * KIB, "4 GiB claim: peak {peak}");

    // The file's snap length allows 4 GiB and a record claims 60 MiB with
    // 10 KiB behind it: a cut record, and the window never grew.
    let mut b = pcap_header(u32::MAX);
    b.extend_from_slice(&record_header(60 * MIB as u32, 60 * MIB as u32));
    b.extend(std::iter::repeat_n(0x55u8, 10 * KIB));
    let (s, peak) = read_peak(b);
    assert!(s.truncated.is_some());
    assert!(
        peak < window + 64 * KIB,
        "60 MiB claim, 10 KiB present: peak {peak}"
    );

    // Same claim with 1 MiB present: the window grows with the bytes, by
    // doubling, so it holds at most twice them (three times while a
    // reallocation copies the old window into the new).
    let mut b = pcap_header(u32::MAX);
    b.extend_from_slice(&record_header(60 * MIB as u32, 60 * MIB as u32));
    b.extend(std::iter::repeat_n(0x55u8, MIB));
    let (s, peak) = read_peak(b);
    assert!(s.truncated.is_some());
    assert!(
        peak <= 3 * (MIB + 16) + 64 * KIB,
        "60 MiB claim, 1 MiB present: peak {peak}"
    );
    assert!(peak >= MIB, "the bytes present were read: peak {peak}");
}

#[test]
fn pcapng_blocks_claiming_more_than_exists_cost_only_what_exists() {
    let window = 256 * KIB;
    let mut w = pcapng_writer();
    w.interface(1, 65535, 6, 0).unwrap();
    let head = w.into_inner();

    // A block claiming 4 GiB - 16.
    let mut b = head.clone();
    for word in [6u32, 0xffff_fff0, 0, 0, 0] {
        b.extend_from_slice(&word.to_le_bytes());
    }
    let (s, peak) = read_peak(b);
    assert_eq!(s.damage_count, 1);
    assert!(peak < window + 64 * KIB, "4 GiB block: peak {peak}");

    // A block claiming 15 MiB (allowed) with 1 KiB present.
    let mut b = head;
    for word in [6u32, 15 * MIB as u32, 0, 0, 0] {
        b.extend_from_slice(&word.to_le_bytes());
    }
    b.extend(std::iter::repeat_n(0x55u8, KIB));
    let (s, peak) = read_peak(b);
    assert!(s.truncated.is_some());
    assert!(
        peak < window + 64 * KIB,
        "15 MiB block, 1 KiB present: peak {peak}"
    );
}

#[test]
fn gzipped_zeros_are_read_in_constant_memory() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&pcap_header(65535)).unwrap();
    let chunk = vec![0u8; MIB];
    for _ in 0..16 {
        e.write_all(&chunk).unwrap();
    }
    let gz = e.finish().unwrap();
    let (s, peak) = read_peak(gz);
    assert_eq!(
        (s.frames, s.damage_count, s.damaged_bytes),
        (0, 1, 16 * MIB as u64)
    );
    assert!(peak < MIB, "16 MiB of gzipped zeros: peak {peak}");
}
