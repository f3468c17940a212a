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
        "findings",
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
    assert_eq!(f["start"].as_f64(), Some(1_704_067_200.0));
    assert_eq!(f["start_iso"], "2024-01-01T00:00:00.000000Z");
    assert_eq!(c["start_iso"], "2024-01-01T00:00:00.000000Z");
    // Endpoints as separate fields (Zeek's id.orig_h …) and the Community ID.
    assert_eq!(c["client_ip"], "10.0.0.1");
    assert_eq!(c["client_port"], 40000);
    assert_eq!(c["server_ip"], "10.0.0.2");
    assert_eq!(c["server_port"], 80);
    assert!(c["community_id"].as_str().unwrap().starts_with("1:"));
    assert_eq!(v["summary"]["handshake"]["complete"], 1);
    assert_eq!(v["summary"]["close"]["graceful"], 1);
}

/// Window and ACK findings carry their numbers too, so nobody parses messages.
#[test]
fn window_and_ack_findings_carry_expected_and_actual() {
    for (file, kind, expected, actual) in [
        ("window-full.pcap", "window_full", 2001, 2001),
        ("out-of-order.pcap", "out_of_order", 3001, 1001),
        ("acked-unseen.pcap", "acked_unseen", 1001, 1501),
        ("data-beyond-window.pcap", "data_beyond_window", -1, -1),
    ] {
        let v = json(&["--format", "json"], file);
        let f = v["connections"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind)
            .unwrap_or_else(|| panic!("{file}: no {kind}"))
            .clone();
        assert!(
            f["expected"].is_u64() && f["actual"].is_u64(),
            "{file}: {f}"
        );
        if expected >= 0 {
            assert_eq!(f["expected"], expected, "{file}");
            assert_eq!(f["actual"], actual, "{file}");
        }
    }
}

#[test]
fn finding_carries_raw_expected_and_actual_values() {
    let v = json(&["--format", "json"], "synack-wrong-ack.pcap");
    let a = &v["connections"][0]["findings"][0];
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
    // The unreadable file is in the report, with its reason, as `check` reports it.
    let status: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["ok", "error", "ok"]);
    assert!(v["files"][1]["error"].as_str().unwrap().contains("empty"));
    assert_eq!(v["summary"]["files_unreadable"], 1);
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
    assert!(text.contains("Failed connections and connections with findings"));
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

/// Refused, reset and unanswered connections are listed by default, with
/// file, packets, bytes and duration; blocks come as connections finish,
/// before the per-file tables and the summary.
#[test]
fn table_lists_failed_connections_with_their_figures() {
    let out = tcpshake()
        .arg("analyze")
        .arg(testdata("refused.pcap"))
        .arg(testdata("reset.pcap"))
        .arg(testdata("unanswered.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for (verdict, file) in [
        ("handshake refused", "refused.pcap"),
        ("close reset", "reset.pcap"),
        ("handshake unanswered", "unanswered.pcap"),
    ] {
        let block = text
            .split("\n#")
            .find(|b| b.contains(verdict))
            .unwrap_or_else(|| panic!("{verdict} not listed: {text}"));
        assert!(block.contains("FAILED") && block.contains(file), "{block}");
        assert!(
            block.contains("packets ") && block.contains("bytes ") && block.contains("duration "),
            "{block}"
        );
    }
    let first_block = text.find("\n#1 ").unwrap();
    let first_table = text.find("╭").unwrap();
    assert!(
        first_block < first_table,
        "connections stream before the tables: {text}"
    );
    assert!(text.contains("start 2024-01-01T00:00:00.000000Z"), "{text}");
}

#[test]
fn time_formats() {
    for (flag, want) in [
        ("iso", "first packet   │ 2024-01-01T00:00:00.000000Z"),
        ("epoch", "first packet   │ 1704067200.000000"),
        ("relative", "first packet   │ +0.000000 s"),
    ] {
        let out = tcpshake()
            .args(["analyze", "--time", flag])
            .arg(testdata("refused.pcap"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(want), "{flag}: {text}");
    }
}

#[test]
fn max_connections_evicts_and_counts() {
    // One thread: split over N, each thread's table holds max / N, and which
    // connections an overflow ends depends on N (README, `-j`).
    let v = json(
        &["--format", "json", "--max-connections", "1", "-j", "1"],
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

/// The filters, as `analyze`, `ladder` and `check` take them.
#[test]
fn filters() {
    let ids = |args: &[&str]| -> Vec<u64> {
        let v = json(&[&["--format", "json"][..], args].concat(), "mixed.pcap");
        let mut ids: Vec<u64> = v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_u64().unwrap())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&[]), [1, 2, 3, 4, 5]);
    assert_eq!(ids(&["--host", "192.168.1.10/31"]), [1, 2, 3]);
    assert_eq!(ids(&["--host", "192.168.1.12"]), [4]);
    assert_eq!(ids(&["--port", "8080"]), [2]);
    assert_eq!(ids(&["--verdict", "refused"]), [2]);
    assert_eq!(ids(&["--verdict", "failed"]), [2, 3, 4, 5]);
    assert_eq!(ids(&["--min-severity", "error"]), [3, 4]);
    assert_eq!(ids(&["--since", "+0.35s"]), [4, 5]);
    assert_eq!(ids(&["--until", "2024-01-01T00:00:00.15Z"]), [1, 2]);
    assert_eq!(ids(&["--since", "1704067200.25", "--until", "+0.35s"]), [4]);
    // The summary counts what is kept.
    let v = json(&["--format", "json", "--verdict", "refused"], "mixed.pcap");
    assert_eq!(v["summary"]["connections"], 1);
    // ladder and check take the same flags.
    let out = tcpshake()
        .args(["ladder", "--verdict", "refused"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().filter(|l| l.starts_with('#')).count(),
        1,
        "{text}"
    );
    assert!(text.starts_with("#2 "), "{text}");
    let out = tcpshake()
        .args(["check", "--host", "192.168.1.10/32"])
        .arg(testdata("mixed.pcap"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 connections judged"));
    let out = tcpshake()
        .args(["analyze", "--host", "10.0.0.0/33"])
        .arg(testdata("mixed.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Compound durations; the same rules in flags and policy files; no zero
/// where zero would split every packet into its own connection.
#[test]
fn durations() {
    let run = |args: &[&str]| {
        tcpshake()
            .arg("analyze")
            .args(args)
            .arg(testdata("mixed.pcap"))
            .output()
            .unwrap()
    };
    assert!(run(&["--idle-timeout", "5m30s"]).status.success());
    assert!(run(&["--idle-timeout", "1h 2m"]).status.success());
    for bad in ["0s", "0", "5"] {
        let out = run(&["--idle-timeout", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    let err = String::from_utf8_lossy(&run(&["--idle-timeout", "5"]).stderr).into_owned();
    assert!(err.contains("needs a unit"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    for (toml, ok) in [
        ("max_handshake_rtt = \"1m30s\"\n", true),
        ("max_handshake_rtt = 5\n", false),
        ("max_handshake_rtt = \"0ms\"\n", false),
    ] {
        let p = dir.path().join("p.toml");
        std::fs::write(&p, toml).unwrap();
        let out = tcpshake()
            .args(["check", "--policy"])
            .arg(&p)
            .arg(testdata("handshake-graceful.pcap"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(if ok { 0 } else { 2 }), "{toml}");
        if !ok {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("p.toml:1") && err.contains("max_handshake_rtt"),
                "{err}"
            );
        }
    }
    let out = tcpshake()
        .args(["check", "--max-handshake-rtt", "5"])
        .arg(testdata("handshake-graceful.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Counts in plain words: "1 frame: 6", "1 connection", and a port reuse
/// said the way a person says it.
#[test]
fn wording() {
    let out = tcpshake()
        .arg("analyze")
        .arg(testdata("malformed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 frame: 6"), "{text}");
    assert!(!text.contains("(frames"), "{text}");
    let out = tcpshake()
        .arg("analyze")
        .arg(testdata("time-wait-reuse.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("9.990 s after the previous connection on these ports ended at frame 11"),
        "{text}"
    );
    let out = tcpshake()
        .args(["check", "--expect-connections", "1"])
        .arg(testdata("mixed.pcap"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("expected 1 connection, saw 5"), "{text}");
}

/// Completions, a man page, a `live` that says how to get it, and expert
/// flags under their own heading.
#[test]
fn discoverability() {
    for shell in ["bash", "zsh", "fish"] {
        let out = tcpshake().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("analyze") && text.contains("idle-timeout"),
            "{shell}"
        );
    }
    let out = tcpshake().arg("man").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(".TH tcpshake 1"), "{text}");
    if !cfg!(feature = "live") {
        let out = tcpshake().args(["live", "-i", "eth0"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--features live"), "{err}");
    }
    let out = tcpshake().args(["analyze", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let expert = help.find("Expert:").expect("an Expert heading");
    let zeek = help.find("--zeek-server-ports").unwrap();
    let filters = help.find("Filters:").expect("a Filters heading");
    assert!(
        zeek > expert && help.find("--host").unwrap() > filters,
        "{help}"
    );
    assert!(help.find("--format").unwrap() < filters, "{help}");
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
