//! The command line: formats, exit codes, messages, standard input.

mod fixtures;

use assert_cmd::Command;
use fixtures::testdata_path as testdata;
use serde_json::Value;

fn tcpshake() -> Command {
    Command::cargo_bin("tcpshake").unwrap()
}

fn json(args: &[&str], file: &str) -> Value {
    let out = tcpshake()
        .arg("analyze")
        .args(args)
        .arg(testdata(file))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn json_connection_has_every_documented_field() {
    let v = json(&["--format", "json"], "handshake-graceful.pcap");
    let c = &v["connections"][0];
    for key in [
        "id",
        "file",
        "client",
        "server",
        "first_frame",
        "last_frame",
        "start",
        "duration",
        "handshake",
        "close",
        "closed_by",
        "client_state",
        "server_state",
        "conn_state",
        "history",
        "completeness",
        "packets",
        "payload_bytes",
        "handshake_rtt",
        "anomalies",
    ] {
        assert!(c.get(key).is_some(), "missing {key}");
    }
    assert_eq!(c["client"], "10.0.0.1:40000");
    assert_eq!(c["server"], "10.0.0.2:80");
    assert_eq!(c["closed_by"], "client");
    assert_eq!(c["client_state"], "TIME-WAIT");
    assert_eq!(c["server_state"], "CLOSED");
    assert_eq!(c["conn_state"], "SF");
    assert_eq!(c["history"], "ShADadFf");
    assert_eq!(c["completeness"], 31);
    assert_eq!(c["isn"]["client"], 1000);
    assert_eq!(c["isn"]["server"], 5000);
    assert_eq!(c["packets"]["client"], 6);
    assert_eq!(c["packets"]["server"], 5);
    assert_eq!(c["payload_bytes"]["client"], 100);
    assert_eq!(c["payload_bytes"]["server"], 1000);
    assert_eq!(c["start"].as_f64(), Some(1_704_067_200.0));
    assert!((c["duration"].as_f64().unwrap() - 0.010).abs() < 1e-9);
    assert!((c["handshake_rtt"]["syn_to_synack"].as_f64().unwrap() - 0.001).abs() < 1e-9);
    assert!((c["handshake_rtt"]["synack_to_ack"].as_f64().unwrap() - 0.001).abs() < 1e-9);
    let f = &v["files"][0];
    assert_eq!(f["format"], "pcap");
    assert_eq!(f["link_types"], serde_json::json!([1]));
    assert_eq!(f["tcp_segments"], 11);
    assert_eq!(f["non_tcp"], 0);
    assert_eq!(f["first_ts"].as_f64(), Some(1_704_067_200.0));
    assert_eq!(v["summary"]["handshake"]["complete"], 1);
    assert_eq!(v["summary"]["close"]["graceful"], 1);
}

#[test]
fn finding_carries_raw_expected_and_actual_values() {
    let v = json(&["--format", "json"], "synack-wrong-ack.pcap");
    let a = &v["connections"][0]["anomalies"][0];
    assert_eq!(a["kind"], "synack_wrong_ack");
    assert_eq!(a["severity"], "error");
    assert_eq!(a["frame"], 2);
    assert_eq!(a["from"], "server");
    assert_eq!(a["expected"], 1001);
    assert_eq!(a["actual"], 1000);
    let msg = a["message"].as_str().unwrap();
    assert!(msg.contains("expected") && msg.contains("frame 2"), "{msg}");
}

#[test]
fn snaplen_and_padding_do_not_change_lengths() {
    for file in [
        "snaplen96.pcap",
        "ethernet-padding.pcap",
        "snaplen-options.pcap",
    ] {
        let v = json(&["--format", "json"], file);
        let c = &v["connections"][0];
        assert_eq!(c["payload_bytes"]["client"], 100, "{file}");
        assert_eq!(c["payload_bytes"]["server"], 1000, "{file}");
    }
}

#[test]
fn pcapng_interfaces_link_types_and_time_resolution() {
    let v = json(&["--format", "json"], "two-interfaces.pcapng");
    let f = &v["files"][0];
    assert_eq!(f["format"], "pcapng");
    assert_eq!(f["link_types"], serde_json::json!([1, 228, 113]));
    let mut starts: Vec<f64> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["start"].as_f64().unwrap() - 1_704_067_200.0)
        .collect();
    starts.sort_by(f64::total_cmp);
    assert!((starts[0] - 0.0).abs() < 1e-6);
    assert!(
        (starts[1] - 0.0005).abs() < 1e-6,
        "ns interface with offset: {}",
        starts[1]
    );
    assert!(
        (starts[2] - 1.0).abs() < 1e-5,
        "2^-20 s interface: {}",
        starts[2]
    );
}

#[test]
fn fragments_and_unsupported_links_are_counted() {
    let v = json(&["--format", "json"], "fragments.pcap");
    assert_eq!(v["files"][0]["ip_fragments"], 2);
    assert_eq!(v["files"][0]["non_tcp"], 2);
    let v = json(&["--format", "json"], "unsupported-link.pcap");
    assert_eq!(v["files"][0]["unsupported_link_types"]["147"], 3);
    assert_eq!(v["connections"], serde_json::json!([]));
}

#[test]
fn unreadable_files_exit_2_naming_file_and_reason() {
    for (file, reason) in [
        ("empty.pcap", "empty"),
        ("not-a-capture.pcap", "not a pcap or pcapng"),
        ("cut-header.pcap", "cut short"),
        ("does-not-exist.pcap", "cannot open"),
    ] {
        let out = tcpshake()
            .arg("analyze")
            .arg(testdata(file))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(file) && err.contains(reason), "{file}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn a_bad_file_among_good_ones_still_reports_the_good_ones() {
    let out = tcpshake()
        .args(["analyze", "--format", "json"])
        .arg(testdata("handshake-graceful.pcap"))
        .arg(testdata("empty.pcap"))
        .arg(testdata("refused.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    assert_eq!(v["connections"].as_array().unwrap().len(), 2);
    let ids: Vec<u64> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2], "ids are unique across files");
}

#[test]
fn truncated_file_is_reported_and_succeeds() {
    let out = tcpshake()
        .args(["analyze"])
        .arg(testdata("truncated.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated"), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("truncated"), "{text}");
}

#[test]
fn standard_input_is_read_with_dash() {
    let bytes = std::fs::read(testdata("clean.pcap.gz")).unwrap();
    let out = tcpshake()
        .args(["analyze", "--format", "jsonl", "-"])
        .write_stdin(bytes)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["record"], "connection");
    assert_eq!(lines[0]["handshake"], "complete");
    assert_eq!(lines[1]["record"], "file");
    assert_eq!(lines[1]["path"], "-");
    assert_eq!(lines[1]["gzip"], true);
    assert_eq!(lines[2]["record"], "summary");
    assert_eq!(lines.len(), 3);
}

#[test]
fn csv_has_a_header_and_a_row_per_connection() {
    let out = tcpshake()
        .args(["analyze", "--format", "csv"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("id,file,client,server,"));
    assert_eq!(lines.len(), 6);
    assert!(lines.iter().any(|l| l.contains(",refused,none,")));
    assert!(lines.iter().any(|l| l.contains("fin_not_counted@26")));
}

#[test]
fn table_lists_findings_in_words_and_all_lists_everything() {
    let out = tcpshake()
        .arg("analyze")
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Connections with findings"));
    assert!(text.contains("synack_wrong_ack"));
    assert!(text.contains("expected the SYN-ACK to acknowledge 1"));
    assert!(
        !text.contains("#1 192.168.1.10"),
        "the clean connection is not listed without --all"
    );
    let out = tcpshake()
        .args(["analyze", "--all"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("#1 192.168.1.10:51000 → 192.168.1.20:443"));
}

#[test]
fn max_connections_evicts_and_counts() {
    let v = json(
        &["--format", "json", "--max-connections", "1"],
        "invalid-flags.pcap",
    );
    assert_eq!(v["files"][0]["evicted_connections"], 3);
    let evicted = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["evicted"] == true)
        .count();
    assert_eq!(evicted, 3);
}

#[test]
fn bad_duration_is_a_usage_error() {
    let out = tcpshake()
        .args(["analyze", "--idle-timeout", "soon"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
}

#[test]
fn jsonl_streams_a_connection_before_the_input_ends() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command as Std, Stdio};
    // time-wait-reuse.pcap: the first connection closes, and the second one's
    // SYN 10 s later ends it (5 s close timeout). Send up to that SYN only.
    let data = std::fs::read(testdata("time-wait-reuse.pcap")).unwrap();
    let mut off = 24;
    for _ in 0..12 {
        let cap = u32::from_le_bytes(data[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + cap;
    }
    let mut child = Std::new(env!("CARGO_BIN_EXE_tcpshake"))
        .args(["analyze", "--format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&data[..off]).unwrap();
    stdin.flush().unwrap();
    // Read on another thread so that a broken stream fails the test instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let first = match rx.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("no connection was written while the input stayed open");
        }
    };
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["record"], "connection");
    assert_eq!(v["id"], 1);
    assert_eq!(v["close"], "graceful");
    stdin.write_all(&data[off..]).unwrap();
    drop(stdin);
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(rest.len(), 3, "{rest:?}");
    assert!(child.wait().unwrap().success());
}

#[test]
fn mermaid_ladders_are_fenced_on_request_and_when_several() {
    let one = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["ladder", "--format", "mermaid", "--conn", "1"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    let one = String::from_utf8(one.stdout).unwrap();
    assert!(one.starts_with("sequenceDiagram\n"), "{one}");
    let fenced = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["ladder", "--format", "mermaid", "--fenced", "--conn", "1"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    let fenced = String::from_utf8(fenced.stdout).unwrap();
    assert_eq!(fenced, format!("```mermaid\n{one}```\n"));
    let all = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["ladder", "--format", "mermaid"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    let all = String::from_utf8(all.stdout).unwrap();
    assert_eq!(all.matches("```mermaid\nsequenceDiagram\n").count(), 5);
    assert_eq!(all.matches("\n```\n").count(), 5);
}

#[test]
fn report_writes_one_html_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let status = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["report", "-o"])
        .arg(&out)
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let page = std::fs::read_to_string(&out).unwrap();
    assert_eq!(page.matches("<svg class=\"ladder\"").count(), 4);
    // An unreadable file is exit code 2, and the page says so.
    let status = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["report", "-o"])
        .arg(&out)
        .arg(testdata("not-a-capture.pcap"))
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(2));
    assert!(
        std::fs::read_to_string(&out)
            .unwrap()
            .contains("Unreadable")
    );
}
