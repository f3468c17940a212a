//! A closed connection waits out its close timeout packed (src/judge/packed.rs)
//! and must come back exactly as it was: after every segment of every testdata
//! capture (and of the shared corpus, when it is present), the connection the
//! segment belongs to is packed, unpacked and compared field by field (its
//! `Debug` form, which shows every field).

use std::path::{Path, PathBuf};
use tcpshake::capture::{Frame, read_path};
use tcpshake::decode::{Decoded, decode_frame};
use tcpshake::flow::{FlowKey, FlowTable};
use tcpshake::judge::{Config, PackedConnection};

/// Segments checked in `path`; panics on the first connection that changes.
/// `sizes` gets the packed size of each connection checked after its close.
fn round_trips(path: &Path, sizes: &mut Vec<usize>) -> u64 {
    let mut table = FlowTable::new(Config::default(), 1);
    let mut scratch = Vec::new();
    let mut checked = 0;
    let mut sink = |f: &Frame<'_>| {
        let Ok(Decoded::Tcp(seg)) = decode_frame(f) else {
            return;
        };
        table.segment(f.number, f.ts, &seg, &mut |_| {});
        let Some(c) = table.get_mut(&FlowKey::of(&seg)) else {
            return;
        };
        let before = format!("{c:?}");
        let packed = PackedConnection::pack(c.clone(), &mut scratch);
        if c.close_complete() {
            sizes.push(packed.packed_len());
        }
        let after = format!("{:?}", packed.unpack());
        assert_eq!(
            before,
            after,
            "{}: frame {}: the connection changed on the way through packing",
            path.display(),
            f.number
        );
        checked += 1;
    };
    // Damaged and broken fixtures are read as far as they go.
    let _ = read_path(path, &mut sink);
    checked
}

fn captures(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures(&p, out);
        } else if let Some(name) = p.file_name().and_then(|n| n.to_str())
            && [".pcap", ".pcapng", ".cap", ".pcap.gz", ".trace"]
                .iter()
                .any(|x| name.ends_with(x))
        {
            out.push(p);
        }
    }
}

#[test]
fn every_connection_of_every_testdata_capture_survives_packing() {
    let mut files = Vec::new();
    captures(Path::new("testdata"), &mut files);
    assert!(files.len() > 50, "{} testdata captures", files.len());
    let mut sizes = Vec::new();
    let segments: u64 = files.iter().map(|f| round_trips(f, &mut sizes)).sum();
    assert!(segments > 1000, "{segments} segments");
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    println!(
        "packing round trip: {segments} segments in {} testdata captures; closed connections packed in {median} bytes (median), {} at most",
        files.len(),
        sizes[sizes.len() - 1]
    );
    // What packing is for: a closed connection in a fraction of its size.
    let full = size_of::<tcpshake::judge::Connection>();
    assert!(median * 4 < full, "median {median} bytes against {full}");
}

#[test]
fn every_connection_of_the_corpus_survives_packing() {
    let root = Path::new("../shared/corpus");
    if !root.exists() {
        println!("../shared/corpus is not here: the corpus round trip did not run");
        return;
    }
    let mut files = Vec::new();
    captures(root, &mut files);
    let segments: u64 = files.iter().map(|f| round_trips(f, &mut Vec::new())).sum();
    assert!(segments > 1000, "{segments} segments");
    println!(
        "packing round trip: {segments} segments in {} corpus captures",
        files.len()
    );
}
