//! The flow table under stress: results that must not depend on the hasher's
//! seed, a stray timestamp that must change nothing else, and timestamps out
//! of order that must never give a negative time.

mod fixtures;

use fixtures::build::*;
use serde_json::Value;
use std::io::Cursor;
use std::path::Path;
use tcpshake::capture::{Frame, Timestamp, read_capture};
use tcpshake::flow::seeded_hasher;
use tcpshake::judge::Config;
use tcpshake::model::FileReport;
use tcpshake::pipeline::Pipeline;

/// Every connection report (as JSON, in the order handed out) and the file
/// report of `frames` run through one pipeline with the hasher seeded `seed`.
fn run(frames: &[(Timestamp, Vec<u8>)], seed: u64) -> (Vec<Value>, FileReport, usize) {
    let mut p = Pipeline::with_hasher(Config::default(), 1, "t", seeded_hasher(seed));
    let mut out = Vec::new();
    let mut peak = 0;
    for (i, (ts, data)) in frames.iter().enumerate() {
        let f = Frame {
            number: i as u64 + 1,
            ts: *ts,
            link_type: 1,
            orig_len: data.len() as u32,
            data,
        };
        p.frame(&f, &mut |c| out.push(serde_json::to_value(&c).unwrap()));
        peak = peak.max(p.live());
    }
    p.finish(&mut |c| out.push(serde_json::to_value(&c).unwrap()));
    (out, p.into_report(), peak)
}

/// The frames of a capture, when it can be read (some fixtures are broken on purpose).
fn frames_of(bytes: &[u8]) -> Option<Vec<(Timestamp, Vec<u8>)>> {
    let mut v = Vec::new();
    let mut sink = |f: &Frame<'_>| v.push((f.ts, f.data.to_vec()));
    read_capture(Path::new("t"), Cursor::new(bytes.to_vec()), &mut sink).ok()?;
    Some(v)
}

/// 3,000 connections from distinct ports, 200 open at a time, closing in
/// bursts so that many expire at the same sweep.
fn many_connections() -> Vec<(Timestamp, Vec<u8>)> {
    let ds: Vec<Dialog> = (0..3000u32)
        .map(|i| {
            let mut d = Dialog::v4(
                [10, 1, (i >> 8) as u8, i as u8],
                20000 + i as u16,
                [10, 0, 0, 2],
                443,
            )
            .start_at((i / 200) as f64 * 0.5);
            d.clean();
            d
        })
        .collect();
    frames(Link::Ethernet, &ds.iter().collect::<Vec<_>>())
}

#[test]
fn output_does_not_depend_on_the_hasher_seed() {
    let mut captures: Vec<Vec<(Timestamp, Vec<u8>)>> = fixtures::catalog()
        .iter()
        .filter_map(|f| frames_of(&f.bytes))
        .collect();
    assert!(captures.len() > 40);
    captures.push(many_connections());
    for frames in &captures {
        let (a, fa, _) = run(frames, 1);
        let (b, fb, _) = run(frames, 0x9e37_79b9_7f4a_7c15);
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_value(&fa).unwrap(),
            serde_json::to_value(&fb).unwrap()
        );
        // Handed out in id order, whatever the table's bucket order.
        let ids: Vec<u64> = a.iter().map(|c| c["id"].as_u64().unwrap()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted);
    }
    assert_eq!(run(captures.last().unwrap(), 7).0.len(), 3000);
}

/// `v` without the fields that number frames (a stray frame shifts them).
fn without_frame_numbers(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.contains("frame"))
                .map(|(k, v)| (k.clone(), without_frame_numbers(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_frame_numbers).collect()),
        v => v.clone(),
    }
}

#[test]
fn a_stray_future_timestamp_changes_no_other_verdict() {
    let plain = fixtures::time_jump_frames(false);
    let stray = fixtures::time_jump_frames(true);
    let at = stray.iter().position(|f| !plain.contains(f)).unwrap() as u64 + 1;
    let (a, fa, peak_a) = run(&plain, 3);
    let (b, fb, peak_b) = run(&stray, 3);
    assert_eq!(a.len(), 2);
    assert_eq!(b.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["handshake"], y["handshake"]);
        assert_eq!(x["close"], y["close"]);
        assert_eq!(without_frame_numbers(x), without_frame_numbers(y));
    }
    assert_eq!(b[2]["handshake"], "unanswered");
    assert_eq!(fb.evicted_connections, 0);
    assert_eq!(fa.capture_time_jumps, 0);
    // There and back.
    assert_eq!(fb.capture_time_jumps, 2);
    let jump = fb.capture_time_jump.unwrap();
    assert_eq!(jump.frame, at);
    assert!(
        (35_999.0..36_001.0).contains(&jump.seconds),
        "{}",
        jump.seconds
    );
    // The stray attempt is the only extra state.
    assert!(peak_b <= peak_a + 1, "{peak_b} vs {peak_a}");
    let json = serde_json::to_value(&fb).unwrap();
    assert_eq!(json["capture_time_jump"]["frame"], at);
}

/// Every number under a key naming a time span or RTT.
fn spans(v: &Value, key: &str, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| spans(v, k, out)),
        Value::Array(a) => a.iter().for_each(|v| spans(v, key, out)),
        Value::Number(n) => {
            let k = key.to_ascii_lowercase();
            if ["rtt", "duration", "earlier", "time", "synack", "gap"]
                .iter()
                .any(|w| k.contains(w))
            {
                out.push((key.to_string(), n.as_f64().unwrap()));
            }
        }
        _ => {}
    }
}

#[test]
fn timestamps_running_backward_give_no_negative_time() {
    // Handshake, data, a resend, a zero window and a close, every frame
    // stamped 0.1 s before the one before it.
    let mut d = Dialog::basic();
    d.handshake().exchange(100, 1000);
    d.c(PSH | ACK, 100);
    d.c(PSH | ACK, 100).seq(1101);
    d.s(ACK, 0).window(0);
    d.s(ACK, 0);
    d.close_client_first();
    let n = d.segs.len();
    let frames: Vec<(Timestamp, Vec<u8>)> = d
        .segs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            (
                ts(10.0 - i as f64 * 0.1),
                frame(Link::Ethernet, &ip_packet(&d, s)),
            )
        })
        .collect();
    let (out, _, _) = run(&frames, 5);
    assert_eq!(out.len(), 1);
    let mut found = Vec::new();
    spans(&out[0], "", &mut found);
    assert!(found.iter().any(|(k, _)| k == "duration"), "{found:?}");
    for (k, v) in &found {
        assert!(*v >= 0.0, "{k} = {v} in {}", out[0]);
    }
    let packets = &out[0]["packets"];
    assert_eq!(
        packets["client"].as_u64().unwrap() + packets["server"].as_u64().unwrap(),
        n as u64
    );
}

/// Counts what reaches the operating system: each `write` would be a system call.
#[derive(Default, Clone)]
struct Syscalls(std::rc::Rc<std::cell::Cell<(usize, usize)>>);

impl std::io::Write for Syscalls {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (w, b) = self.0.get();
        self.0.set((w + 1, b + buf.len()));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// JSON Lines output goes out in large writes, not one per connection: the
/// buffer is flushed when it fills or the input pauses (the streaming test in
/// tests/cli.rs checks the pause).
#[test]
fn jsonl_output_is_written_in_blocks() {
    use tcpshake::pipeline::analyze_files;
    use tcpshake::report::JsonlReporter;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.pcap");
    std::fs::write(&path, pcap(1, &many_connections())).unwrap();
    let sys = Syscalls::default();
    let mut reporter = JsonlReporter::new(std::io::BufWriter::with_capacity(1 << 16, sys.clone()));
    let ok = analyze_files(
        &[path],
        &Config::default(),
        &Default::default(),
        &mut reporter,
        &mut |_| Box::new(()),
        &mut |m| panic!("{m}"),
    )
    .unwrap();
    assert!(ok);
    drop(reporter);
    let (writes, bytes) = sys.0.get();
    // 3,000 connection lines, a file line and a summary line.
    assert!(bytes > 3000 * 500, "{bytes} bytes");
    assert!(
        writes <= bytes / (1 << 16) + 20,
        "{writes} writes for {bytes} bytes of 3,002 lines"
    );
}
