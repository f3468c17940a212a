//! Nothing panics on any input: random and mutated bytes through the reader,
//! the decoder and the whole pipeline give a result or an error.

use proptest::prelude::*;
use std::io::Cursor;
use std::path::Path;
use tcpshake::capture::{Frame, read_capture};
use tcpshake::decode::{Decoded, decode};
use tcpshake::flow::FlowTable;
use tcpshake::judge::Config;

const LINK_TYPES: [u32; 16] = [
    0, 1, 9, 10, 12, 14, 50, 101, 108, 113, 147, 228, 229, 276, 105, 127,
];

fn run_pipeline(bytes: Vec<u8>) {
    let mut table = FlowTable::new(Config::default(), 1);
    let mut emitted = 0u64;
    let mut sink = |f: &Frame<'_>| {
        if let Ok(Decoded::Tcp(seg)) = decode(f.link_type, f.data) {
            table.segment(f.number, f.ts, &seg, &mut |c| {
                let _ = c.finish(&"fuzz".into());
                emitted += 1;
            });
        }
    };
    let _ = read_capture(Path::new("fuzz"), Cursor::new(bytes), &mut sink);
    table.finish_all(&mut |c| {
        let _ = c.finish(&"fuzz".into());
    });
}

fn seed_capture() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mixed.pcap")).unwrap()
}

fn seed_pcapng() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/two-interfaces.pcapng"))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn decoder_never_panics(lt in proptest::sample::select(LINK_TYPES.to_vec()), data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(lt, &data);
    }

    #[test]
    fn decoder_never_panics_on_ip_like_frames(
        v6 in any::<bool>(),
        mut data in proptest::collection::vec(any::<u8>(), 20..120),
    ) {
        // Steer the random bytes into IP/TCP so the deep paths are exercised.
        data[0] = if v6 { 0x60 | (data[0] & 0x0f) } else { 0x40 | (data[0] & 0x0f) };
        if v6 {
            data[6] = [6u8, 0, 43, 44, 60, 51][data[6] as usize % 6];
        } else {
            data[9] = 6;
        }
        let _ = decode(101, &data);
    }

    #[test]
    fn reader_never_panics_on_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        run_pipeline(data);
    }

    #[test]
    fn pipeline_never_panics_on_mutated_pcap(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = seed_capture();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(24));
        run_pipeline(bytes);
    }

    #[test]
    fn pipeline_never_panics_on_mutated_pcapng(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
    ) {
        let mut bytes = seed_pcapng();
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        run_pipeline(bytes);
    }
}

#[test]
fn mutated_tcp_headers_still_give_verdicts() {
    // Every frame of a clean capture with its TCP flags byte set to each of
    // the 256 values: the pipeline judges them all without panicking.
    let bytes = seed_capture();
    for flags in 0..=255u8 {
        let mut b = bytes.clone();
        // Ethernet + IPv4 (20) + TCP flags at offset 13 of each record's frame.
        let mut pos = 24;
        while pos + 16 <= b.len() {
            let caplen = u32::from_le_bytes(b[pos + 8..pos + 12].try_into().unwrap()) as usize;
            let frame = pos + 16;
            if frame + 14 + 20 + 14 <= b.len() {
                b[frame + 14 + 20 + 13] = flags;
            }
            pos = frame + caplen;
        }
        run_pipeline(b);
    }
}
