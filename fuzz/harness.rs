//! What each fuzz target does with one input. Shared, through `#[path]`, by
//! the fuzz binaries (fuzz/src/bin/*.rs) and by the regression test
//! (tests/fuzz_regressions.rs), so a saved input replays exactly as the
//! fuzzer ran it. Each function panics only on a real bug: a panic inside
//! tcpshake, or a broken invariant checked here.

#![allow(dead_code)]

use std::io::Cursor;
use std::path::Path;
use tcpshake::capture::{self, CaptureSummary, DamagedRegion, Frame, FrameSink, Timestamp};
use tcpshake::check::{CountRange, FailOn, Gate, Policy};
use tcpshake::decode::{self, Decoded};
use tcpshake::judge::Config;
use tcpshake::model::Summary;
use tcpshake::model::connection::ConnectionReport;
use tcpshake::pipeline::Pipeline;

/// The targets, by the name of their fuzz binary and regression folder.
pub const TARGETS: [&str; 4] = ["reader", "decoder", "pipeline", "policy"];

pub fn run(target: &str, data: &[u8]) {
    match target {
        "reader" => reader(data),
        "decoder" => decoder(data),
        "pipeline" => pipeline(data),
        "policy" => policy(data),
        other => panic!("no fuzz target {other}"),
    }
}

/// Counts what the reader delivers, checking frame numbers rise.
#[derive(Default)]
struct Tally {
    delivered: u64,
    last_number: u64,
    bytes: u64,
    damage_events: u64,
}

impl FrameSink for Tally {
    fn frame(&mut self, f: &Frame<'_>) {
        assert!(f.number > self.last_number, "frame numbers must rise");
        self.last_number = f.number;
        self.delivered += 1;
        self.bytes += f.data.len() as u64;
    }

    fn damage(&mut self, r: &DamagedRegion) {
        assert!(r.skipped > 0, "a damaged region skips at least one byte");
        self.damage_events += 1;
    }
}

/// The summary agrees with what was delivered, and damaged regions lie in
/// the input, in order, without overlap.
fn check_summary(s: &CaptureSummary, t: &Tally, input_len: u64) {
    assert_eq!(s.frames, t.delivered + s.bad_frame_count);
    assert!(s.damage_count >= s.damaged.len() as u64);
    assert!(t.damage_events >= s.damage_count);
    let mut end = 0u64;
    let mut listed_bytes = 0u64;
    for r in &s.damaged {
        assert!(r.offset >= end, "damaged regions overlap or go backwards");
        end = r.offset + r.skipped;
        listed_bytes += r.skipped;
        assert!(r.frames_before + r.frames_after <= s.frames);
        if !s.gzip {
            assert!(end <= input_len, "damaged region beyond the input");
        }
    }
    assert!(listed_bytes <= s.damaged_bytes);
    if !s.gzip {
        assert!(s.damaged_bytes <= input_len);
        assert!(t.bytes <= input_len);
    }
}

/// The capture reader on a file's bytes (pcap, pcapng, gzip of either).
pub fn reader(data: &[u8]) {
    let mut t = Tally::default();
    if let Ok(s) = capture::read_capture(Path::new("fuzz"), Cursor::new(data.to_vec()), &mut t) {
        check_summary(&s, &t, data.len() as u64);
    }
}

/// Link types the decoder knows, picked by the input's first byte so the
/// fuzzer reaches each of them at once.
const LINK_TYPES: [u32; 15] = [
    1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 147, 9, 50, 51, 192,
];

/// One frame through the decoder: byte 0 picks the link type, bit 0 of byte
/// 1 says whether the capture cut the frame (snap length), the rest is the frame.
pub fn decoder(data: &[u8]) {
    let [pick, flags, frame @ ..] = data else {
        return;
    };
    let link_type = LINK_TYPES[*pick as usize % LINK_TYPES.len()];
    let cut = flags & 1 == 1;
    let f = Frame {
        number: 1,
        ts: Timestamp(0),
        link_type,
        orig_len: frame.len() as u32 + if cut { 100 } else { 0 },
        data: frame,
    };
    match decode::decode_frame(&f) {
        Ok(Decoded::Tcp(seg)) => {
            let _ = seg.seq_end();
            let options = seg.options().count();
            assert!(options <= frame.len(), "more options than bytes");
        }
        Ok(_) => {}
        Err(e) => {
            assert!(!e.reason().is_empty());
            let _ = e.to_string();
        }
    }
}

/// Reader, decoder, flow table and judge on a file's bytes, through the
/// driver every command uses ([`Pipeline`]), with the default policy and the
/// summary applied to each connection as `check` and `analyze` apply them.
pub fn pipeline(data: &[u8]) {
    let mut pipeline = Pipeline::new(Config::default(), 1, "fuzz");
    let mut gate = Gate::new(Policy::default());
    let mut summary = Summary::default();
    let mut connections = 0u64;
    let mut frames = 0u64;
    let mut out = |c: ConnectionReport| {
        assert!(c.id >= 1);
        assert!(
            c.first_frame <= c.last_frame,
            "a connection ends before it starts"
        );
        let listed: u64 = c.findings.iter().map(|f| f.count).sum();
        assert!(c.finding_counts().iter().map(|(_, n)| n).sum::<u64>() >= listed);
        summary.add(&c);
        let _ = gate.judge(&c);
        connections += 1;
    };
    let result = {
        let mut sink = |frame: &Frame<'_>| {
            frames += 1;
            pipeline.frame(frame, &mut out);
        };
        capture::read_capture(Path::new("fuzz"), Cursor::new(data.to_vec()), &mut sink)
    };
    pipeline.finish(&mut out);
    assert_eq!(pipeline.live(), 0, "connections left open after finish");
    let report = pipeline.into_report();
    assert_eq!(report.connections, connections);
    assert_eq!(summary.connections, connections);
    assert_eq!(gate.judged(), connections);
    let unsupported: u64 = report.unsupported_link_types.values().sum();
    assert_eq!(
        report.tcp_segments + report.non_tcp + report.decode_error_count + unsupported,
        frames,
        "every frame is counted once"
    );
    assert!(
        connections <= report.tcp_segments,
        "more connections than segments"
    );
    if let Ok(s) = result {
        assert_eq!(s.frames, frames + s.bad_frame_count);
    }
}

/// The CI policy parser (`tcpshake check --policy`) and its value parsers.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml(Path::new("fuzz.toml"), text) {
        Ok(_) => {}
        Err(e) => {
            assert!(
                e.line <= text.lines().count() + 1,
                "error line beyond the text"
            );
            let _ = e.to_string();
        }
    }
    let _ = FailOn::parse(text);
    if let Ok(r) = CountRange::parse(text) {
        let _ = r.contains(0);
        let _ = r.contains(u64::MAX);
    }
}
