//! What `check` and `analyze` make of damaged, empty and undecodable
//! captures, of findings past the per-connection cap and of connections
//! evicted from a full flow table: each case with its exit code and report.

mod fixtures;

use assert_cmd::Command;
use fixtures::build::*;
use fixtures::{DAMAGED_MIDDLE_CONNS, damaged_middle, damaged_middle_ng, testdata_path};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Runs `tcpshake ARGS FILES` in an empty directory (no tcpshake.toml).
fn run(args: &[&str], files: &[&Path]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .current_dir(dir.path())
        .args(args)
        .args(files)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn damage_in_the_middle_is_a_read_error_by_default() {
    let (_, at) = damaged_middle();
    let file = testdata_path("damaged-middle.pcap");
    let (code, out, err) = run(&["check", "--no-ladder"], &[&file]);
    assert_eq!(code, 2, "{out}{err}");
    let first = format!("damaged region at byte {}", at.offset);
    // Reported once, in the report (stderr only carries it with -q).
    assert!(!err.contains(&first), "{err}");
    assert!(
        out.contains("damaged-middle.pcap") && out.contains("--accept-damaged"),
        "{out}"
    );
    assert!(out.starts_with("ERROR ") && out.contains(&first), "{out}");
    let (code, _, err) = run(&["check", "-q"], &[&file]);
    assert_eq!(code, 2);
    assert!(err.contains(&first), "{err}");
    assert!(out.contains("0 passed, 0 failed, 1 unreadable"), "{out}");

    let (code, out, _) = run(&["check", "--format", "json"], &[&file]);
    assert_eq!(code, 2);
    let v = json(&out);
    let f = &v["files"][0];
    assert_eq!(f["status"], "error");
    assert_eq!(f["damage_count"], 1);
    assert_eq!(f["damaged_bytes"], at.skipped);
    assert_eq!(f["damaged_regions"][0]["offset"], at.offset);
    assert_eq!(f["damaged_regions"][0]["kind"], "record_length");
    assert!(
        f["failed"].as_array().unwrap().is_empty(),
        "no verdict on connections"
    );

    // GitHub annotations and JUnit name the damage too.
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("j.xml");
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", "--no-ladder", "--junit"])
        .arg(&junit)
        .arg(&file)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Annotations go to stderr (GitHub reads both), never into the report.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("::error file=")
            && stderr.contains("title=tcpshake unreadable::")
            && stderr.contains(&first),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("::error"));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<error message=") && xml.contains(&first),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="0" errors="1""#), "{xml}");

    let ng = testdata_path("damaged-middle.pcapng");
    let (_, at_ng) = damaged_middle_ng();
    let (code, out, err) = run(&["check", "--no-ladder"], &[&ng]);
    assert_eq!(code, 2, "{err}");
    assert!(out.contains(&format!("at byte {}", at_ng.offset)), "{out}");
}

#[test]
fn accepted_damage_judges_the_connections_behind_it() {
    let file = testdata_path("damaged-middle.pcap");
    let (code, out, _) = run(&["check", "--accept-damaged", "--format", "json"], &[&file]);
    assert_eq!(code, 1, "{out}");
    let v = json(&out);
    let f = &v["files"][0];
    assert_eq!(f["status"], "fail");
    assert_eq!(f["judged"], DAMAGED_MIDDLE_CONNS as u64 + 1);
    let failed = f["failed"].as_array().unwrap();
    assert_eq!(failed.len(), DAMAGED_MIDDLE_CONNS);
    assert!(failed.iter().all(|c| {
        c["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "synack_wrong_ack")
    }));
    assert_eq!(f["damage_count"], 1);

    let (code, out, _) = run(&["check", "--accept-damaged", "--no-ladder"], &[&file]);
    assert_eq!(code, 1);
    assert!(
        out.contains("1001 connections judged, 1000 failed"),
        "{out}"
    );
    assert!(out.contains("note: 1 damaged region accepted"), "{out}");

    // The same from the policy file.
    let dir = tempfile::tempdir().unwrap();
    let policy = write(&dir, "p.toml", b"accept_damaged = true\n");
    let (code, _, _) = run(
        &["check", "--no-ladder", "--policy", policy.to_str().unwrap()],
        &[&file],
    );
    assert_eq!(code, 1);
}

#[test]
fn analyze_reports_damage_and_exits_0() {
    let (_, at) = damaged_middle();
    let file = testdata_path("damaged-middle.pcap");
    let (code, out, err) = run(&["analyze", "--format", "json"], &[&file]);
    assert_eq!(code, 0, "{err}");
    let want = format!(
        "warning: {}: 1 damaged region at byte {} ({} bytes skipped, {} frames before, {} after",
        file.display(),
        at.offset,
        at.skipped,
        at.frames_before,
        at.frames_after
    );
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("analysis went on past it"), "{err}");
    let v = json(&out);
    let f = &v["files"][0];
    assert_eq!(f["damage_count"], 1);
    assert_eq!(f["damaged_bytes"], at.skipped);
    let r = &f["damaged_regions"][0];
    assert_eq!(r["offset"], at.offset);
    assert_eq!(r["skipped"], at.skipped);
    assert_eq!(r["frames_before"], at.frames_before);
    assert_eq!(r["frames_after"], at.frames_after);
    assert_eq!(r["caplen"], u32::MAX);
    assert_eq!(f["truncated"], false);
    assert_eq!(
        v["summary"]["findings"]["synack_wrong_ack"],
        DAMAGED_MIDDLE_CONNS as u64
    );

    let (code, out, _) = run(&["analyze"], &[&file]);
    assert_eq!(code, 0);
    assert!(
        out.contains("DAMAGED") && out.contains(&format!("at byte {}", at.offset)),
        "{out}"
    );

    // An undamaged capture says nothing of damage.
    let (code, out, err) = run(
        &["analyze", "--format", "json"],
        &[&testdata_path("mixed.pcap")],
    );
    assert_eq!(code, 0);
    assert!(!err.contains("damaged"), "{err}");
    assert_eq!(json(&out)["files"][0]["damage_count"], 0);
}

/// The issue's gzip of a pcap header and gigabytes of zeros, scaled to 64 MiB.
#[test]
fn gzipped_zeros_fail_check() {
    const ZEROS: usize = 64 << 20;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&pcap(1, &[])).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..ZEROS / chunk.len() {
        e.write_all(&chunk).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "zeros.pcap.gz", &e.finish().unwrap());

    let (code, out, err) = run(&["check"], &[&file]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("zeros.pcap.gz") && out.contains("at byte 24"),
        "{out}"
    );

    let (code, out, _) = run(&["check", "--accept-damaged"], &[&file]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL") && out.contains("no_connections"),
        "{out}"
    );

    let (code, out, _) = run(
        &["check", "--accept-damaged", "--expect-connections", "0"],
        &[&file],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_capture_without_connections_fails_unless_expected() {
    let file = testdata_path("header-only.pcap");
    let (code, out, _) = run(&["check"], &[&file]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL") && out.contains("no_connections: no connection was judged"),
        "{out}"
    );
    for range in ["0", "0..", "..3"] {
        let (code, out, _) = run(&["check", "--expect-connections", range], &[&file]);
        assert_eq!(code, 0, "{range}: {out}");
    }
    let (code, _, _) = run(&["check", "--expect-connections", "1.."], &[&file]);
    assert_eq!(code, 1);
    // A policy that selects no connection of a capture that has some.
    let (code, out, _) = run(
        &["check", "--port", "9"],
        &[&testdata_path("handshake-graceful.pcap")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no_connections"), "{out}");
}

/// A clean connection (11 frames) and `bad` Ethernet frames whose IPv4
/// header is cut short.
fn with_undecodable(bad: usize) -> Vec<u8> {
    let mut d = Dialog::basic();
    d.clean();
    let mut fs = frames(Link::Ethernet, &[&d]);
    let mut broken = fs[0].1[..14 + 10].to_vec();
    broken[12..14].copy_from_slice(&[0x08, 0x00]);
    for i in 0..bad {
        fs.push((ts(10.0 + i as f64), broken.clone()));
    }
    pcap(1, &fs)
}

#[test]
fn too_many_decode_errors_fail_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    // 1 of 12 frames: above 1%.
    let file = write(&dir, "bad.pcap", &with_undecodable(1));
    let (code, out, _) = run(&["check"], &[&file]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("decode_errors: 1 of 12 frames (8.33%) could not be decoded, more than 1%"),
        "{out}"
    );
    let (code, out, _) = run(&["check", "--format", "json"], &[&file]);
    assert_eq!(code, 1);
    let v = json(&out);
    let cv = &v["files"][0]["capture_findings"][0];
    assert_eq!(cv["kind"], "decode_errors");
    assert_eq!(cv["frame"], 12);
    let reason = cv["message"].as_str().unwrap();
    let a: Value = json(&run(&["analyze", "--format", "json"], &[&file]).1);
    let by_reason = a["files"][0]["decode_errors_by_reason"]
        .as_object()
        .unwrap();
    assert_eq!(by_reason.len(), 1);
    for (name, r) in by_reason {
        assert!(
            reason.contains(&format!("{name} {}", r["count"])),
            "{reason}"
        );
    }

    let (code, out, _) = run(&["check", "--max-decode-errors", "10"], &[&file]);
    assert_eq!(code, 0, "{out}");
    let policy = write(&dir, "p.toml", b"max_decode_errors = 9.5\n");
    let (code, out, _) = run(&["check", "--policy", policy.to_str().unwrap()], &[&file]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = run(&["check", "--max-decode-errors", "101"], &[&file]);
    assert_eq!(code, 2);
    assert!(err.contains("--max-decode-errors"), "{err}");

    // 1 of 100 frames: exactly 1%, which passes by default.
    let mut many = Vec::new();
    for i in 0..9u16 {
        let mut d = Dialog::v4([10, 0, 0, 1], 40000 + i, [10, 0, 0, 2], 80).start_at(i as f64);
        d.clean();
        many.push(d);
    }
    let mut fs = frames(Link::Ethernet, &many.iter().collect::<Vec<_>>());
    let broken = {
        let mut b = fs[0].1[..24].to_vec();
        b[12..14].copy_from_slice(&[0x08, 0x00]);
        b
    };
    fs.push((ts(200.0), broken));
    assert_eq!(fs.len(), 100);
    let file = write(&dir, "few.pcap", &pcap(1, &fs));
    let (code, out, _) = run(&["check", "--format", "json"], &[&file]);
    assert_eq!(code, 0, "{out}");
    let v = json(&out);
    assert_eq!(v["files"][0]["decode_errors"], 1);
    assert!(
        v["files"][0]["capture_findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["kind"] != "decode_errors"),
        "{out}"
    );
}

/// One connection: handshake, 100 bytes, `resent` retransmissions of them,
/// the client's FIN, then 10 bytes after that FIN (an error).
fn retransmissions_then_data_after_fin(resent: usize) -> Vec<u8> {
    let mut d = Dialog::basic().isn(1000, 5000);
    d.handshake();
    d.c(PSH | ACK, 100);
    for _ in 0..resent {
        d.c(PSH | ACK, 100).seq(1001);
    }
    d.s(ACK, 0).ack(1101);
    d.c(FIN | ACK, 0).seq(1101);
    d.s(ACK, 0).ack(1102);
    d.c(PSH | ACK, 10).seq(1102);
    eth_pcap(&[&d])
}

#[test]
fn an_error_after_many_warnings_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "retx.pcap", &retransmissions_then_data_after_fin(300));
    let a = json(&run(&["analyze", "--format", "json"], &[&file]).1);
    let c = &a["connections"][0];
    assert!(
        c["findings_suppressed"].as_u64().unwrap() > 0,
        "the warnings overflow the cap: {c}"
    );
    assert!(a["summary"]["findings"]["data_after_fin"].as_u64().unwrap() >= 1);
    let (code, out, _) = run(&["check", "--no-ladder"], &[&file]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("data_after_fin (error)"), "{out}");
}

/// One connection: handshake, `n` segments without ACK (an error each), the
/// client's FIN and data after it.
fn missing_acks_then_data_after_fin(n: usize) -> Vec<u8> {
    let mut d = Dialog::basic();
    d.handshake();
    for _ in 0..n {
        d.c(PSH, 10);
    }
    d.c(FIN | ACK, 0);
    d.c(PSH | ACK, 10);
    d.c(PSH | ACK, 10);
    eth_pcap(&[&d])
}

#[test]
fn a_failing_kind_only_among_the_suppressed_still_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "noack.pcap", &missing_acks_then_data_after_fin(300));
    let a = json(&run(&["analyze", "--format", "json"], &[&file]).1);
    let c = &a["connections"][0];
    let listed: Vec<&str> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&"data_after_fin"), "{listed:?}");
    assert!(
        c["suppressed"]["data_after_fin"].as_u64().unwrap() >= 1,
        "{c}"
    );
    assert!(a["summary"]["findings"]["data_after_fin"].as_u64().unwrap() >= 1);

    let (code, out, _) = run(
        &["check", "--no-ladder", "--allow", "missing_ack_flag"],
        &[&file],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("data_after_fin (error)") && out.contains("past the 256 listed"),
        "{out}"
    );
    assert!(!out.contains("missing_ack_flag"), "{out}");
    // CSV names the kinds past the cap with their count.
    let (_, csv, _) = run(&["analyze", "--format", "csv"], &[&file]);
    let suppressed = c["suppressed"]["missing_ack_flag"].as_u64().unwrap();
    assert!(
        csv.contains(&format!("missing_ack_flag+{suppressed}")) && csv.contains("data_after_fin+"),
        "{csv}"
    );
    // Allowing both passes: the suppressed kind is what failed it.
    let (code, out, _) = run(
        &[
            "check",
            "--no-ladder",
            "--allow",
            "missing_ack_flag,data_after_fin",
        ],
        &[&file],
    );
    assert_eq!(code, 0, "{out}");
}

/// `n` connections open at once, each SYN-ACK acknowledging the wrong
/// number (an error at its second frame), none closed.
fn concurrent_wrong_acks(n: u16) -> Vec<u8> {
    let dialogs: Vec<Dialog> = (0..n)
        .map(|i| {
            let mut d = Dialog::v4([10, 0, 0, 1], 40000 + i, [10, 0, 0, 2], 80)
                .isn(1000, 5000)
                .start_at(i as f64 * 0.01);
            d.c(SYN, 0);
            d.s(SYN | ACK, 0).ack(1000);
            d
        })
        .collect();
    eth_pcap(&dialogs.iter().collect::<Vec<_>>())
}

#[test]
fn evicted_connections_are_announced_and_keep_their_findings() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "many.pcap", &concurrent_wrong_acks(10));
    // On one thread: over N, each thread's table holds the bound / N.
    let (code, out, err) = run(
        &[
            "analyze",
            "--format",
            "json",
            "--max-connections",
            "2",
            "-j",
            "1",
        ],
        &[&file],
    );
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    let evicted = v["files"][0]["evicted_connections"].as_u64().unwrap();
    assert_eq!(evicted, 8, "{}", v["files"]);
    assert!(!err.contains("threads"), "{err}");
    assert!(
        err.contains(&format!(
            "warning: {}: {evicted} connections were ended early because more than 2 were open at once; raise --max-connections",
            file.display()
        )),
        "{err}"
    );
    let conns = v["connections"].as_array().unwrap();
    let with_error: Vec<&Value> = conns
        .iter()
        .filter(|c| c["evicted"] == true)
        .filter(|c| {
            c["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["kind"] == "synack_wrong_ack")
        })
        .collect();
    assert_eq!(
        with_error.len() as u64,
        evicted,
        "every evicted one kept its error"
    );
    assert_eq!(v["summary"]["findings"]["synack_wrong_ack"], 10);

    let (code, _, err) = run(
        &["check", "--no-ladder", "--max-connections", "2"],
        &[&file],
    );
    assert_eq!(code, 1);
    assert!(err.contains("raise --max-connections"), "{err}");

    // Split over threads, an overflow also says the output may differ from -j 1.
    let (code, _, err) = run(&["analyze", "--max-connections", "2", "-j", "2"], &[&file]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("split over 2 threads (--max-connections / 2 each) and overflowed"),
        "{err}"
    );

    // Within the bound: no warning. (Two threads hold 10 each; at 10 and
    // -j 2, one thread's share of the 10 flows could pass 5.)
    let (_, _, err) = run(&["analyze", "--max-connections", "10", "-j", "1"], &[&file]);
    assert!(!err.contains("max-connections"), "{err}");
    let (_, _, err) = run(&["analyze", "--max-connections", "20", "-j", "2"], &[&file]);
    assert!(!err.contains("max-connections"), "{err}");
}

#[test]
fn thousands_are_grouped_in_the_eviction_warning() {
    let w = tcpshake::model::file::eviction_warning("f.pcap", 1234, 1000).unwrap();
    assert_eq!(
        w,
        "f.pcap: 1,234 connections were ended early because more than 1,000 were open at once; raise --max-connections"
    );
    assert!(tcpshake::model::file::eviction_warning("f.pcap", 0, 1000).is_none());
    let one = tcpshake::model::file::eviction_warning("f.pcap", 1, 2).unwrap();
    assert!(one.contains("1 connection was ended early"), "{one}");
}

#[test]
fn damaged_regions_past_the_list_are_counted() {
    // 150 frames of one connection, each followed by an impossible record header.
    let mut d = Dialog::basic();
    d.handshake();
    for _ in 0..147 {
        d.c(PSH | ACK, 10);
    }
    let fs = frames(Link::Ethernet, &[&d]);
    assert_eq!(fs.len(), 150);
    let mut bytes = pcap(1, &[]);
    for (t, f) in &fs {
        let one = pcap(1, &[(*t, f.clone())]);
        bytes.extend_from_slice(&one[24..]);
        bytes.extend_from_slice(&one[24..32]);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        bytes.extend_from_slice(&60u32.to_le_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "scarred.pcap", &bytes);
    let (code, out, err) = run(&["analyze", "--format", "json"], &[&file]);
    assert_eq!(code, 0, "{err}");
    let f = &json(&out)["files"][0];
    assert_eq!(f["frames"], 150);
    let count = f["damage_count"].as_u64().unwrap();
    let listed = f["damaged_regions"].as_array().unwrap().len() as u64;
    assert_eq!(listed, tcpshake::capture::MAX_LISTED_DAMAGE as u64);
    assert!(count > listed, "{count}");
    assert_eq!(f["damaged_regions_unlisted"], count - listed);
    assert!(
        err.contains(&format!("{count} damaged regions, the first at byte")),
        "{err}"
    );
    let (_, table, _) = run(&["analyze"], &[&file]);
    assert!(
        table.contains(&format!("{} more not shown", count - 5)),
        "{table}"
    );
}
