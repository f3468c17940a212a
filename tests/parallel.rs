//! `analyze -j N`: one capture split over threads gives the output of one
//! thread, byte for byte, in every format, for every test capture and for a
//! generated capture with all that orders connections: expiry sweeps, port
//! reuse, an idle timeout, capture-time jumps both ways, IP fragments and
//! ICMP errors.

mod fixtures;

use assert_cmd::Command;
use fixtures::build::*;
use fixtures::encap::ipv4;
use std::path::{Path, PathBuf};
use tcpshake::capture::Timestamp;
use tcpshake::filter::Filter;
use tcpshake::judge::Config;
use tcpshake::pipeline::analyze_files;
use tcpshake::report::{JsonReporter, JsonlReporter, Reporter, TableReporter, TimeFormat};

/// The output of `analyze_files` over `paths` on `jobs` threads, in `format`,
/// with the warnings after it.
fn analyze(paths: &[PathBuf], format: &str, jobs: usize, filter: &Filter) -> Vec<u8> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    {
        let mut reporter: Box<dyn Reporter + '_> = match format {
            "jsonl" => Box::new(JsonlReporter::new(&mut out)),
            "json" => Box::new(JsonReporter::new(&mut out)),
            _ => Box::new(TableReporter::new(&mut out, true, TimeFormat::Iso)),
        };
        analyze_files(
            paths,
            &Config::default(),
            filter,
            jobs,
            reporter.as_mut(),
            &mut |_| Box::new(()),
            &mut |w| warnings.push(w),
        )
        .unwrap();
    }
    for w in warnings {
        out.extend_from_slice(w.as_bytes());
        out.push(b'\n');
    }
    out
}

fn assert_same_on_any_threads(paths: &[PathBuf], filter: &Filter) {
    for format in ["jsonl", "json", "table"] {
        let one = analyze(paths, format, 1, filter);
        assert!(one.len() > 100, "{format}: too little output to compare");
        for jobs in [2, 3] {
            let many = analyze(paths, format, jobs, filter);
            if one != many {
                let (a, b) = (
                    String::from_utf8_lossy(&one),
                    String::from_utf8_lossy(&many),
                );
                let line = a.lines().zip(b.lines()).position(|(x, y)| x != y);
                panic!(
                    "{format} -j {jobs} differs from -j 1 at line {line:?} of {paths:?}:\n{:?}\nvs\n{:?}",
                    line.and_then(|l| a.lines().nth(l)),
                    line.and_then(|l| b.lines().nth(l)),
                );
            }
        }
    }
}

fn testdata() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_test_capture_alone_gives_the_same_output_on_any_number_of_threads() {
    let files = testdata();
    assert!(files.len() > 100, "{} test captures", files.len());
    for f in &files {
        assert_same_on_any_threads(std::slice::from_ref(f), &Filter::default());
    }
}

#[test]
fn all_test_captures_in_one_run_number_connections_the_same() {
    // Ids run on from file to file, unreadable files are skipped, the summary
    // covers them all.
    assert_same_on_any_threads(&testdata(), &Filter::default());
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 packet (20-byte header) in two fragments, cut at `cut` bytes of payload.
fn two_fragments(ip: &[u8], cut: usize) -> [Vec<u8>; 2] {
    let payload = &ip[20..];
    let part = |from: usize, to: usize, more: bool| {
        let mut h = ip[..20].to_vec();
        h[2..4].copy_from_slice(&((20 + to - from) as u16).to_be_bytes());
        let off = (from / 8) as u16 | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&off.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let c = ip_checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(&payload[from..to]);
        h
    };
    [part(0, cut, true), part(cut, payload.len(), false)]
}

/// ICMP port unreachable from `from` to `to`, quoting `quoted`.
fn port_unreachable(from: [u8; 4], to: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let mut m = vec![3, 3, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(quoted);
    let c = ip_checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    ipv4(from, to, 1, &m)
}

/// A busy capture: 1,200 connections over 12 s of capture, 100 open at a
/// time and closing in bursts (sweeps end many at one frame); every 40th
/// unanswered, every 30th its request in two IPv4 fragments; 60 4-tuples
/// used again a second after their close (port reuse: the new SYN ends the
/// old connection); ICMP errors quoting an attempt, a live connection and
/// nothing known; one connection idle for six minutes (idle timeout); and
/// two stray timestamps, ten hours ahead and an hour and a half back.
fn busy_capture() -> Vec<u8> {
    let mut dialogs = Vec::new();
    for i in 0..1200u32 {
        let client = [10, 1, (i >> 8) as u8, i as u8];
        let mut d = Dialog::v4(client, 20000 + (i % 7) as u16, [10, 0, 0, 2], 443)
            .isn(1000 + i * 7, 5000 + i * 11)
            .start_at((i / 100) as f64 + (i % 100) as f64 * 0.003);
        if i % 40 == 0 {
            d.c(SYN, 0);
        } else {
            d.handshake().exchange(100, 1000).close_client_first();
        }
        dialogs.push((i, d));
    }
    for i in 0..60u32 {
        let (_, earlier) = &dialogs[(i * 17 + 1) as usize];
        let start = earlier.segs.last().unwrap().t + 1.0;
        let mut d = Dialog {
            segs: Vec::new(),
            t: start,
            ..earlier.clone()
        }
        .isn(900_000 + i, 800_000 + i);
        d.clean();
        dialogs.push((10_000 + i, d));
    }
    let mut idle = Dialog::v4([10, 9, 9, 9], 33333, [10, 0, 0, 2], 443).start_at(0.5);
    idle.handshake()
        .wait(360.0)
        .exchange(10, 10)
        .close_client_first();
    dialogs.push((20_000, idle));

    let mut frames: Vec<(f64, usize, Vec<u8>)> = Vec::new();
    let mut push = |t: f64, ip: &[u8]| {
        let n = frames.len();
        frames.push((t, n, frame(Link::Ethernet, ip)));
    };
    for (i, d) in &dialogs {
        for (k, s) in d.segs.iter().enumerate() {
            let ip = ip_packet(d, s);
            if i % 30 == 7 && s.payload_len == 100 {
                let [a, b] = two_fragments(&ip, 48);
                push(s.t, &b);
                push(s.t, &a);
            } else {
                push(s.t, &ip);
            }
            // ICMP errors: for an attempt's SYN, for a request in flight.
            if (i % 80 == 0 && k == 0) || (i % 50 == 3 && s.payload_len == 100) {
                let server = [10, 0, 0, 2];
                let client = [10, 1, (i >> 8) as u8, *i as u8];
                push(s.t + 0.0001, &port_unreachable(server, client, &ip[..28]));
            }
        }
    }
    // An error quoting a flow nobody saw.
    let mut stranger = Dialog::v4([192, 0, 2, 1], 5555, [192, 0, 2, 2], 80).start_at(3.0);
    stranger.c(SYN, 0);
    let syn = ip_packet(&stranger, &stranger.segs[0]);
    push(3.0, &port_unreachable([192, 0, 2, 2], [192, 0, 2, 1], &syn));
    frames.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut out: Vec<(Timestamp, Vec<u8>)> =
        frames.into_iter().map(|(t, _, f)| (ts(t), f)).collect();
    // Stray timestamps, placed by position: the clock must absorb both.
    let mut stray = Dialog::v4([10, 7, 7, 7], 44444, [10, 0, 0, 2], 443);
    stray.c(SYN, 0);
    let at = out.len() / 3;
    let t = out[at].0;
    out.insert(
        at,
        (
            Timestamp(t.0 + 36_000_000_000_000),
            frame(Link::Ethernet, &ip_packet(&stray, &stray.segs[0])),
        ),
    );
    let mut back = Dialog::v4([10, 7, 7, 8], 44445, [10, 0, 0, 2], 443);
    back.c(SYN, 0);
    let at = out.len() * 2 / 3;
    let t = out[at].0;
    out.insert(
        at,
        (
            Timestamp(t.0 - 5_400_000_000_000),
            frame(Link::Ethernet, &ip_packet(&back, &back.segs[0])),
        ),
    );
    pcap(1, &out)
}

#[test]
fn a_busy_capture_gives_the_same_output_on_any_number_of_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.pcap");
    std::fs::write(&path, busy_capture()).unwrap();
    let paths = [path.clone()];

    // The capture has what it claims to have.
    let jsonl = String::from_utf8(analyze(&paths, "jsonl", 1, &Filter::default())).unwrap();
    let conns: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["record"] == "connection")
        .collect();
    assert!(conns.len() >= 1260, "{} connections", conns.len());
    let ids: Vec<u64> = conns.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).any(|w| w[0] > w[1]), "ended out of id order");
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=ids.len() as u64).collect::<Vec<_>>());
    let file: serde_json::Value = {
        let out = analyze(&paths, "json", 1, &Filter::default());
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        v["files"][0].clone()
    };
    assert_eq!(file["capture_time_jumps"], 4, "{file}");
    assert!(
        file["reassembled_datagrams"].as_u64().unwrap() >= 30,
        "{file}"
    );
    assert!(file["icmp_errors"].as_u64().unwrap() >= 30, "{file}");
    assert_eq!(file["icmp_errors_unmatched"], 1, "{file}");
    assert!(jsonl.contains("\"time_wait_reuse\"") || jsonl.contains("\"port_reuse\""));

    assert_same_on_any_threads(&paths, &Filter::default());
    // Filtered after the connections are numbered.
    let filter = Filter {
        ports: vec![20003],
        ..Default::default()
    };
    assert_same_on_any_threads(&paths, &filter);
    // A filter relative to the first frame's time.
    let since = Filter {
        since: Some(tcpshake::filter::parse_time("+6s").unwrap()),
        ..Default::default()
    };
    assert_same_on_any_threads(&paths, &since);
    let kept = analyze(&paths, "jsonl", 2, &filter);
    let n = String::from_utf8(kept).unwrap().lines().count();
    assert!(n > 100 && n < conns.len() / 4, "{n} kept");
}

#[test]
fn the_command_takes_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.pcap");
    std::fs::write(&path, busy_capture()).unwrap();
    let run = |args: &[&str]| {
        let out = Command::cargo_bin("tcpshake")
            .unwrap()
            .args(args)
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        out.stdout
    };
    let one = run(&["analyze", "--format", "jsonl", "-j", "1"]);
    assert!(one.len() > 10_000);
    assert_eq!(one, run(&["analyze", "--format", "jsonl", "-j", "2"]));
    assert_eq!(one, run(&["analyze", "--format", "jsonl"]));
    let servers = run(&["servers", "--format", "json", "-j", "1"]);
    assert_eq!(servers, run(&["servers", "--format", "json", "-j", "3"]));
    let bad = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["analyze", "-j", "0"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
