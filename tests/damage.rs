//! Damage in the middle of a capture is skipped and recorded, not the end of
//! the reading: the reader API driven directly on the damaged-* fixtures and
//! on damage made here (zero runs, garbage, gzip, trickling input).

mod fixtures;

use fixtures::build::*;
use fixtures::{DAMAGED_MIDDLE_CONNS, DamageAt, damaged_middle, damaged_middle_ng, testdata_path};
use std::io::{self, Cursor, Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};
use tcpshake::capture::{
    CaptureSummary, DamageKind, DamagedRegion, Frame, FrameSink, read_capture, read_path,
};
use tcpshake::decode::{Decoded, decode_frame};

/// What a reading delivered: frames (number, first data byte count), TCP
/// flows seen (client port of each SYN) and the damage events.
#[derive(Default)]
struct Collect {
    numbers: Vec<u64>,
    syn_ports: Vec<u16>,
    events: Vec<DamagedRegion>,
}

impl FrameSink for Collect {
    fn frame(&mut self, f: &Frame<'_>) {
        self.numbers.push(f.number);
        if let Ok(Decoded::Tcp(seg)) = decode_frame(f)
            && seg.flags.syn()
            && !seg.flags.ack()
        {
            self.syn_ports.push(seg.src_port);
        }
    }
    fn damage(&mut self, r: &DamagedRegion) {
        self.events.push(r.clone());
    }
}

fn read_bytes<R: Read + Send + 'static>(src: R) -> (CaptureSummary, Collect) {
    let mut c = Collect::default();
    let s = read_capture(Path::new("test"), src, &mut c).expect("readable");
    (s, c)
}

fn assert_one_region(s: &CaptureSummary, at: &DamageAt) -> DamagedRegion {
    assert_eq!(s.damage_count, 1, "{:?}", s.damaged);
    let r = s.damage()[0].clone();
    assert_eq!(
        (r.offset, r.skipped, r.frames_before, r.frames_after),
        (at.offset, at.skipped, at.frames_before, at.frames_after),
        "{r}"
    );
    assert_eq!(s.damaged_bytes, at.skipped);
    assert!(s.truncated.is_none(), "{:?}", s.truncated);
    r
}

/// Reads at most a few bytes per call, as a pipe may.
struct Trickle<R> {
    inner: R,
    step: usize,
    n: usize,
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.n += 1;
        let k = 1 + self.n % self.step;
        let k = k.min(buf.len());
        self.inner.read(&mut buf[..k])
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn bad_record_header_in_the_middle_hides_nothing() {
    let mut c = Collect::default();
    let s = read_path(&testdata_path("damaged-middle.pcap"), &mut c).unwrap();
    let (_, at) = damaged_middle();
    let r = assert_one_region(&s, &at);
    assert_eq!(
        r.kind,
        DamageKind::RecordLength {
            caplen: u32::MAX,
            orig_len: 60
        }
    );
    assert_eq!(s.frames, 11 + 3 * DAMAGED_MIDDLE_CONNS as u64);
    assert_eq!(c.numbers, (1..=s.frames).collect::<Vec<_>>());
    // Every connection's SYN was read: the clean one's and the thousand behind the damage.
    let mut want = vec![40000u16];
    want.extend((0..DAMAGED_MIDDLE_CONNS).map(|i| 40000 + i as u16));
    assert_eq!(c.syn_ports, want);
    // The event came once, with what was known at the time.
    assert_eq!(c.events.len(), 1);
    assert_eq!(
        (c.events[0].offset, c.events[0].skipped),
        (at.offset, at.skipped)
    );
    assert_eq!(c.events[0].frames_before, 11);
}

#[test]
fn damage_reads_the_same_gzipped_and_trickled() {
    let (bytes, at) = damaged_middle();
    let (plain, _) = read_bytes(Cursor::new(bytes.clone()));
    let (s, c) = read_bytes(Cursor::new(gz(&bytes)));
    assert!(s.gzip);
    assert_one_region(&s, &at);
    assert_eq!(s.frames, plain.frames);
    assert_eq!(c.syn_ports.len(), DAMAGED_MIDDLE_CONNS + 1);
    let (s, c) = read_bytes(Trickle {
        inner: Cursor::new(bytes),
        step: 7,
        n: 0,
    });
    assert_one_region(&s, &at);
    assert_eq!(c.syn_ports.len(), DAMAGED_MIDDLE_CONNS + 1);
}

#[test]
fn pcapng_block_with_mismatched_trailer_is_skipped() {
    let mut c = Collect::default();
    let s = read_path(&testdata_path("damaged-middle.pcapng"), &mut c).unwrap();
    let (bytes, at) = damaged_middle_ng();
    let r = assert_one_region(&s, &at);
    assert_eq!(
        r.kind,
        DamageKind::BlockTrailer {
            len: 20,
            trailer: 24
        }
    );
    assert_eq!(s.frames, 22);
    assert_eq!(c.syn_ports, vec![40000, 50000]);
    let (s, _) = read_bytes(Trickle {
        inner: Cursor::new(bytes),
        step: 5,
        n: 0,
    });
    assert_one_region(&s, &at);
}

#[test]
fn header_only_pcap_is_read_with_nothing_in_it() {
    let s = read_path(&testdata_path("header-only.pcap"), &mut |_: &Frame<'_>| {}).unwrap();
    assert_eq!(s.frames, 0);
    assert_eq!(s.damage_count, 0);
    assert!(s.truncated.is_none());
    assert_eq!(s.link_types, vec![1]);
}

#[test]
fn a_cut_at_the_end_stays_a_truncation() {
    let s = read_path(&testdata_path("truncated.pcap"), &mut |_: &Frame<'_>| {}).unwrap();
    assert_eq!(s.frames, 10);
    assert_eq!(s.damage_count, 0);
    assert!(s.truncated.is_some());
}

/// Clean records of one connection, split after `split` frames.
fn halves(split: usize) -> (Vec<u8>, Vec<u8>, u64) {
    let all = frames(
        Link::Ethernet,
        &[&{
            let mut d = Dialog::basic();
            d.clean();
            d
        }],
    );
    let a = pcap(1, &all[..split]);
    let b = pcap(1, &all[split..]);
    (a, b[24..].to_vec(), all.len() as u64)
}

#[test]
fn zero_run_in_the_middle_is_one_region() {
    let (mut bytes, tail, total) = halves(4);
    let offset = bytes.len() as u64;
    bytes.extend(std::iter::repeat_n(0u8, 1 << 20));
    bytes.extend_from_slice(&tail);
    let (s, c) = read_bytes(Cursor::new(bytes));
    let at = DamageAt {
        offset,
        skipped: 1 << 20,
        frames_before: 4,
        frames_after: total - 4,
    };
    let r = assert_one_region(&s, &at);
    assert_eq!(
        r.kind,
        DamageKind::RecordLength {
            caplen: 0,
            orig_len: 0
        }
    );
    assert_eq!(c.numbers.len() as u64, total);
}

#[test]
fn garbage_in_the_middle_is_skipped_exactly() {
    let (mut bytes, tail, total) = halves(6);
    let offset = bytes.len() as u64;
    // Deterministic noise (xorshift), long enough to hold false candidates.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push(x as u8);
    }
    bytes.extend_from_slice(&tail);
    let (s, c) = read_bytes(Cursor::new(bytes));
    assert_one_region(
        &s,
        &DamageAt {
            offset,
            skipped: 100_000,
            frames_before: 6,
            frames_after: total - 6,
        },
    );
    assert_eq!(c.numbers.len() as u64, total);
}

#[test]
fn record_longer_than_what_is_left_with_records_behind_it_is_damage() {
    // A header whose length runs past the end although whole records follow.
    let (mut bytes, tail, total) = halves(3);
    let offset = bytes.len() as u64;
    let t = ts(0.0);
    bytes.extend_from_slice(&((t.0 / 1_000_000_000) as u32).to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&200_000u32.to_le_bytes());
    bytes.extend_from_slice(&200_000u32.to_le_bytes());
    bytes.extend_from_slice(&tail);
    let (s, c) = read_bytes(Cursor::new(bytes));
    let r = assert_one_region(
        &s,
        &DamageAt {
            offset,
            skipped: 16,
            frames_before: 3,
            frames_after: total - 3,
        },
    );
    assert_eq!(r.kind, DamageKind::RecordCut);
    assert_eq!(c.numbers.len() as u64, total);
}

#[test]
fn big_endian_nanosecond_pcap_resynchronises() {
    let all = frames(
        Link::Ethernet,
        &[&{
            let mut d = Dialog::basic();
            d.clean();
            d
        }],
    );
    let a = pcap_with(1, &all[..5], true, true, 65535);
    let b = pcap_with(1, &all[5..], true, true, 65535);
    let mut bytes = a.clone();
    // Nanoseconds field of a full second: impossible.
    bytes.extend_from_slice(&1u32.to_be_bytes());
    bytes.extend_from_slice(&1_000_000_000u32.to_be_bytes());
    bytes.extend_from_slice(&60u32.to_be_bytes());
    bytes.extend_from_slice(&60u32.to_be_bytes());
    bytes.extend_from_slice(&b[24..]);
    let (s, _) = read_bytes(Cursor::new(bytes));
    let r = assert_one_region(
        &s,
        &DamageAt {
            offset: a.len() as u64,
            skipped: 16,
            frames_before: 5,
            frames_after: all.len() as u64 - 5,
        },
    );
    assert_eq!(
        r.kind,
        DamageKind::RecordTime {
            fraction: 1_000_000_000
        }
    );
}

#[test]
fn pcapng_zero_run_and_bad_length_resynchronise() {
    let (bytes, at) = damaged_middle_ng();
    // Replace the damaged block with 64 KiB of zeros.
    let mut z = bytes[..at.offset as usize].to_vec();
    z.extend(std::iter::repeat_n(0u8, 64 << 10));
    z.extend_from_slice(&bytes[(at.offset + at.skipped) as usize..]);
    let (s, c) = read_bytes(Cursor::new(z));
    let r = assert_one_region(
        &s,
        &DamageAt {
            skipped: 64 << 10,
            ..at
        },
    );
    assert_eq!(r.kind, DamageKind::BlockLength { len: 0 });
    assert_eq!(c.syn_ports, vec![40000, 50000]);
}

#[test]
fn damage_running_to_the_end_is_one_region_and_no_truncation() {
    let (mut bytes, _, _) = halves(4);
    let offset = bytes.len() as u64;
    bytes.extend(std::iter::repeat_n(0xffu8, 5000));
    let (s, _) = read_bytes(Cursor::new(bytes));
    assert_one_region(
        &s,
        &DamageAt {
            offset,
            skipped: 5000,
            frames_before: 4,
            frames_after: 0,
        },
    );
}

/// The gzip of a pcap header and gigabytes of zeros, scaled to 64 MiB:
/// one damaged region, no frame, quickly.
#[test]
fn gzipped_zeros_are_one_region_read_quickly() {
    const ZEROS: usize = 64 << 20;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&pcap(1, &[])).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..ZEROS / chunk.len() {
        e.write_all(&chunk).unwrap();
    }
    let gz = e.finish().unwrap();
    let started = Instant::now();
    let (s, c) = read_bytes(Cursor::new(gz));
    let took = started.elapsed();
    assert_eq!(s.frames, 0);
    assert!(c.numbers.is_empty());
    assert_one_region(
        &s,
        &DamageAt {
            offset: 24,
            skipped: ZEROS as u64,
            frames_before: 0,
            frames_after: 0,
        },
    );
    // Debug build on a shared machine: generous, yet far below reading
    // four million empty records one by one through the whole pipeline.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn regions_beyond_the_listed_ones_are_counted() {
    // 150 damaged regions (one bad header after each of 150 good records).
    let one = frames(
        Link::Ethernet,
        &[&{
            let mut d = Dialog::basic();
            d.c(SYN, 0);
            d
        }],
    );
    let rec = &pcap(1, &one)[24..];
    let mut bytes = pcap(1, &[]);
    for _ in 0..150 {
        bytes.extend_from_slice(rec);
        bytes.extend_from_slice(&[0xff; 16]);
    }
    bytes.extend_from_slice(rec);
    let (s, c) = read_bytes(Cursor::new(bytes));
    assert_eq!(s.frames, 151);
    assert_eq!(s.damage_count, 150);
    assert_eq!(s.damaged.len(), tcpshake::capture::MAX_LISTED_DAMAGE);
    assert_eq!(s.damaged_bytes, 150 * 16);
    assert_eq!(c.events.len(), 150);
    for (i, r) in s.damaged.iter().enumerate() {
        assert_eq!(r.frames_before, i as u64 + 1);
        assert_eq!(r.frames_after, 1);
        assert_eq!(r.skipped, 16);
    }
}

#[test]
fn damage_is_skipped_on_a_pipe() {
    // As standard input: an OS pipe written in small pieces by another thread.
    let (bytes, at) = damaged_middle();
    let (rx, mut tx) = std::io::pipe().unwrap();
    let writer = std::thread::spawn(move || {
        for piece in bytes.chunks(1000) {
            tx.write_all(piece).unwrap();
        }
    });
    let (s, c) = read_bytes(rx);
    writer.join().unwrap();
    assert_one_region(&s, &at);
    assert_eq!(c.syn_ports.len(), DAMAGED_MIDDLE_CONNS + 1);
}
