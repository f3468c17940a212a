//! The live session writes exactly what `analyze --format jsonl` writes: the
//! frames of a capture file, fed through the live code path (session, flow
//! expiry, JSON Lines output) from an in-memory source, give the same
//! connection records, byte for byte, as `analyze` on the file. Needs neither
//! libpcap nor privileges.

use assert_cmd::Command;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use tcpshake::capture::{Frame, Timestamp, read_path};
use tcpshake::judge::Config;
use tcpshake::live::{
    self, FrameSource, LiveError, LiveFormat, LiveOptions, LiveReport, Next, Packet,
};

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// A capture file's frames, handed out one by one like packets off a wire.
struct Replay {
    link_type: u32,
    frames: Vec<(Timestamp, u32, Vec<u8>)>,
    next: usize,
}

impl Replay {
    fn of(path: &Path) -> Replay {
        let mut link_types = Vec::new();
        let mut frames = Vec::new();
        read_path(path, &mut |f: &Frame<'_>| {
            if !link_types.contains(&f.link_type) {
                link_types.push(f.link_type);
            }
            frames.push((f.ts, f.orig_len, f.data.to_vec()));
        })
        .unwrap();
        assert_eq!(link_types.len(), 1, "{}: one link type", path.display());
        Replay {
            link_type: link_types[0],
            frames,
            next: 0,
        }
    }
}

impl FrameSource for Replay {
    fn link_type(&self) -> u32 {
        self.link_type
    }

    fn next_packet(&mut self) -> Result<Next<'_>, LiveError> {
        let Some((ts, orig_len, data)) = self.frames.get(self.next) else {
            return Ok(Next::End);
        };
        self.next += 1;
        Ok(Next::Packet(Packet {
            ts: *ts,
            orig_len: *orig_len,
            data,
        }))
    }
}

/// `tcpshake live --format jsonl` over the frames of `path`, named as
/// `analyze` names the file: (output, capture counters as JSON).
fn live_jsonl(path: &Path) -> (String, String) {
    let mut source = Replay::of(path);
    let opts = LiveOptions {
        interface: path.display().to_string(),
        filter: None,
        duration: None,
        count: None,
        write: None,
        snaplen: 262_144,
    };
    let mut out = Vec::new();
    let mut fails = Vec::new();
    let mut report = LiveReport::new(&mut out, LiveFormat::Jsonl, None);
    let status = live::run(
        &mut source,
        &opts,
        &Config::default(),
        &AtomicBool::new(false),
        &mut || {},
        &mut |c| report.connection(&c, &mut fails).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    report.finish(&status).unwrap();
    assert!(fails.is_empty());
    assert_eq!(status.packets, source.frames.len() as u64);
    (
        String::from_utf8(out).unwrap(),
        serde_json::to_string(&status).unwrap(),
    )
}

fn analyze_jsonl(path: &Path) -> String {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["analyze", "--format", "jsonl"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", path.display());
    String::from_utf8(out.stdout).unwrap()
}

fn jsonl_schema() -> jsonschema::Validator {
    let mut s = tcpshake::schema::schema_of("JsonlRecord");
    s.as_object_mut().unwrap().remove("title");
    jsonschema::validator_for(&s).unwrap()
}

const CONNECTION: &str = "{\"record\":\"connection\",";

#[test]
fn live_jsonl_is_analyze_jsonl() {
    for name in [
        "mixed.pcap",
        "handshake-graceful.pcap",
        "refused-retry.pcap",
        "time-wait-reuse.pcap",
        "retransmission.pcap",
        "ipv6.pcap",
        "open.pcap",
        "link-sll2.pcap",
        "clean.pcap.gz",
    ] {
        let path = testdata(name);
        let (live, capture) = live_jsonl(&path);
        let analyze = analyze_jsonl(&path);
        let live: Vec<&str> = live.lines().collect();
        let analyze: Vec<&str> = analyze.lines().collect();
        let (live_summary, live_connections) = live.split_last().unwrap();
        let analyze_connections: Vec<&str> = analyze
            .iter()
            .copied()
            .filter(|l| l.starts_with(CONNECTION))
            .collect();
        assert!(!analyze_connections.is_empty(), "{name}");
        assert_eq!(live_connections, analyze_connections.as_slice(), "{name}");
        // The summary record is analyze's (no file was read: `files` is 0)
        // with the capture counters added.
        let analyze_summary = analyze
            .last()
            .unwrap()
            .replace("\"files\":1,", "\"files\":0,");
        let expected = format!(
            "{},\"capture\":{capture}}}",
            analyze_summary.strip_suffix('}').unwrap()
        );
        assert_eq!(*live_summary, expected, "{name}");
        // Every record matches the published schema.
        for line in &live {
            let doc: serde_json::Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = jsonl_schema()
                .iter_errors(&doc)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }
}

#[test]
fn live_table_writes_analyze_table_blocks() {
    let path = testdata("mixed.pcap");
    let mut source = Replay::of(&path);
    let opts = LiveOptions {
        interface: "lo".into(),
        filter: None,
        duration: None,
        count: Some(1_000_000),
        write: None,
        snaplen: 262_144,
    };
    let mut out = Vec::new();
    let mut report = LiveReport::new(&mut out, LiveFormat::Table, None);
    let status = live::run(
        &mut source,
        &opts,
        &Config::default(),
        &AtomicBool::new(false),
        &mut || {},
        &mut |c| report.connection(&c, &mut std::io::sink()).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    report.finish(&status).unwrap();
    let text = String::from_utf8(out).unwrap();
    let n = status.connections as usize;
    assert!(n > 3);
    assert_eq!(
        text.lines().filter(|l| l.starts_with('#')).count(),
        n,
        "{text}"
    );
    assert!(text.contains(&format!(
        "{} packets, {} TCP segments, {n} connections; handshakes: ",
        source.frames.len(),
        status.tcp_segments
    )));
}

/// A source that goes quiet after its frames, then ends.
struct QuietAfter {
    replay: Replay,
    quiet: bool,
    ended: std::rc::Rc<std::cell::Cell<bool>>,
}

impl FrameSource for QuietAfter {
    fn link_type(&self) -> u32 {
        self.replay.link_type
    }

    fn next_packet(&mut self) -> Result<Next<'_>, LiveError> {
        if self.replay.next < self.replay.frames.len() {
            return self.replay.next_packet();
        }
        if !self.quiet {
            self.quiet = true;
            return Ok(Next::Quiet);
        }
        self.ended.set(true);
        Ok(Next::End)
    }
}

/// On a quiet interface time still passes: a connection idle (by the wall
/// clock) beyond the idle timeout ends before the capture does.
#[test]
fn quiet_source_expires_idle_connections_by_the_clock() {
    let ended = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut source = QuietAfter {
        replay: Replay::of(&testdata("open.pcap")),
        quiet: false,
        ended: ended.clone(),
    };
    let opts = LiveOptions {
        interface: "test".into(),
        filter: None,
        duration: None,
        count: None,
        write: None,
        snaplen: 262_144,
    };
    let mut before_end = 0;
    let mut after_end = 0;
    let status = live::run(
        &mut source,
        &opts,
        &Config::default(),
        &AtomicBool::new(false),
        &mut || {},
        &mut |_| {
            if ended.get() {
                after_end += 1
            } else {
                before_end += 1
            }
        },
        &mut |_| {},
    )
    .unwrap();
    // The capture's timestamps are years old: by the clock, idle for long.
    assert!(before_end > 0);
    assert_eq!(after_end, 0);
    assert_eq!(status.connections, before_end);
}

#[test]
fn a_full_flow_table_is_counted_and_announced() {
    let path = testdata("mixed.pcap");
    let mut source = Replay::of(&path);
    let opts = LiveOptions {
        interface: "eth9".into(),
        filter: None,
        duration: None,
        count: None,
        write: None,
        snaplen: 262_144,
    };
    let config = Config {
        max_connections: 2,
        ..Config::default()
    };
    let mut evicted_with_findings = 0;
    let status = live::run(
        &mut source,
        &opts,
        &config,
        &AtomicBool::new(false),
        &mut || {},
        &mut |c| evicted_with_findings += (c.evicted && !c.findings.is_empty()) as u32,
        &mut |_| {},
    )
    .unwrap();
    // Connections 1–3 are ended early (as `analyze --max-connections 2`
    // ends them); #3 keeps its synack_wrong_ack.
    assert_eq!(status.evicted_connections, 3);
    assert_eq!(evicted_with_findings, 1);
    assert_eq!(
        status.eviction_warning("eth9", 2).unwrap(),
        "warning: eth9: 3 connections were ended early because more than 2 were open at once; raise --max-connections"
    );
    let quiet = live::LiveStatus::default();
    assert!(quiet.eviction_warning("eth9", 2).is_none());
}

/// `live --check` over the frames of `path` with `flags`: the FAIL lines
/// written once the session ended, and whether it passed.
fn live_end_check(path: &Path, flags: tcpshake::check::PolicyFlags) -> (Vec<String>, bool) {
    let mut source = Replay::of(path);
    let opts = LiveOptions {
        interface: "test".into(),
        filter: None,
        duration: None,
        count: None,
        write: None,
        snaplen: 262_144,
    };
    let gate = tcpshake::check::Gate::new(flags.build().unwrap());
    let mut report = LiveReport::new(std::io::sink(), LiveFormat::Jsonl, Some(gate));
    let mut per_connection = Vec::new();
    let (status, tally) = live::run_with_tally(
        &mut source,
        &opts,
        &Config::default(),
        &AtomicBool::new(false),
        &mut || {},
        &mut |c| report.connection(&c, &mut per_connection).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    report.finish(&status).unwrap();
    let mut fails = Vec::new();
    let passed = report.end_check(&tally, &mut fails).unwrap().unwrap();
    let lines = String::from_utf8(fails)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (lines, passed)
}

/// The whole-capture rules of `tcpshake check FILE` (`capture_findings`) as
/// `live --check` writes them.
fn check_capture_findings(path: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["check", "--format", "json"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["files"][0]["capture_findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "tcpshake: FAIL {}: {}",
                f["kind"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

/// At the end of a session `live --check` applies the rules `check` applies
/// to each file: no connection judged, too many decode errors, the
/// connection count, and the server rules.
#[test]
fn live_check_ends_with_the_rules_check_applies_to_a_file() {
    use tcpshake::check::PolicyFlags;
    let cases: [(&str, PolicyFlags, &[&str], &str); 5] = [
        (
            "unsupported-link.pcap",
            PolicyFlags::default(),
            &[],
            "no_connections",
        ),
        (
            "malformed.pcap",
            PolicyFlags::default(),
            &[],
            "decode_errors",
        ),
        (
            "mixed.pcap",
            PolicyFlags {
                expect_connections: Some("1".into()),
                ..PolicyFlags::default()
            },
            &["--expect-connections", "1"],
            "connection_count",
        ),
        (
            "servers-accept-overflow.pcap",
            PolicyFlags {
                fail_on_diagnosis: vec!["accept_queue_overflow".into()],
                ..PolicyFlags::default()
            },
            &["--fail-on-diagnosis", "accept_queue_overflow"],
            "diagnosis_accept_queue_overflow",
        ),
        (
            "servers-syn-queue-drops.pcap",
            PolicyFlags {
                max_rate: vec!["syn_retransmission=10%".into()],
                ..PolicyFlags::default()
            },
            &["--max-rate", "syn_retransmission=10%"],
            "rate_syn_retransmission",
        ),
    ];
    for (name, flags, args, kind) in cases {
        let path = testdata(name);
        let (live, passed) = live_end_check(&path, flags);
        assert!(!passed, "{name}: {live:?}");
        assert!(
            live.iter()
                .any(|l| l.starts_with(&format!("tcpshake: FAIL {kind}: "))),
            "{name}: {live:?}"
        );
        assert_eq!(live, check_capture_findings(&path, args), "{name}");
    }
    // A capture that meets the policy passes.
    let (live, passed) =
        live_end_check(&testdata("handshake-graceful.pcap"), PolicyFlags::default());
    assert!(passed && live.is_empty(), "{live:?}");
}
