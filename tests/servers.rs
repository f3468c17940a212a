//! The server view (`tcpshake servers`): every generated capture gives exactly
//! its stated diagnoses (testdata/README.md, "Server view"), look-alikes stay
//! silent, and the formats agree.

mod fixtures;

use assert_cmd::Command;
use fixtures::testdata_path as testdata;
use serde_json::Value;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn servers_json(path: &std::path::Path, extra: &[&str]) -> Value {
    let p = path.to_str().unwrap();
    let mut args = vec!["servers", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(p);
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "{p}: {err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn committed_server_captures_are_what_the_generator_writes() {
    let stale: Vec<&str> = fixtures::servers::catalog()
        .into_iter()
        .filter(|f| std::fs::read(testdata(f.name)).ok().as_deref() != Some(&f.bytes[..]))
        .map(|f| f.name)
        .collect();
    assert!(
        stale.is_empty(),
        "run `cargo run --example make-testdata`: {stale:?}"
    );
}

#[test]
fn every_server_capture_gives_exactly_its_diagnoses() {
    let mut failures = Vec::new();
    for f in fixtures::servers::catalog() {
        let r = servers_json(&testdata(f.name), &[]);
        let got: Vec<(String, String, u64, u64)> = r["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["id"].as_str().unwrap().to_string(),
                    d["subject"].as_str().unwrap().to_string(),
                    d["count"].as_u64().unwrap(),
                    d["of"].as_u64().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, String, u64, u64)> = f
            .diagnoses
            .iter()
            .map(|(id, s, n, of)| (id.to_string(), s.to_string(), *n, *of))
            .collect();
        if got != want {
            failures.push(format!("{}: diagnoses {got:?}, expected {want:?}", f.name));
        }
        if r["overall"]["attempts"].as_u64() != Some(f.attempts) {
            failures.push(format!(
                "{}: {} attempts, expected {}",
                f.name, r["overall"]["attempts"], f.attempts
            ));
        }
        for d in r["diagnoses"].as_array().unwrap() {
            let ex = d["examples"].as_array().unwrap();
            let (a, b) = (d["first_frame"].as_u64(), d["last_frame"].as_u64());
            if ex.is_empty() || ex.len() > 3 || a > b || a == Some(0) {
                failures.push(format!("{}: bad evidence in {d}", f.name));
            }
            if !d["message"]
                .as_str()
                .unwrap()
                .chars()
                .any(|c| c.is_ascii_digit())
            {
                failures.push(format!("{}: a diagnosis without numbers: {d}", f.name));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn ordinary_captures_get_no_diagnosis() {
    for name in [
        "time-wait-reuse.pcap",
        "mixed.pcap",
        "refused-retry.pcap",
        "syn-ladder.pcap",
        "retransmission.pcap",
    ] {
        let r = servers_json(&testdata(name), &[]);
        assert_eq!(r["diagnoses"], Value::Array(vec![]), "{name}");
    }
}

#[test]
fn syn_queue_drops_figures() {
    let r = servers_json(&testdata("servers-syn-queue-drops.pcap"), &[]);
    let l = &r["listeners"][0];
    assert_eq!(l["server"], "10.1.0.1:80");
    assert_eq!(l["connections"], 20);
    assert_eq!(l["syns"], 32, "12 single SYNs, 4 × 2, 4 × 3");
    assert_eq!(l["distinct_clients"], 20);
    assert_eq!(l["syn_answered_on"], serde_json::json!([12, 4, 4]));
    assert_eq!(l["syn_never_answered"], 0);
    assert_eq!(l["handshake"]["complete"], 20);
    let tte = &l["time_to_establish"];
    assert_eq!(tte["count"], 20);
    // Answered on the 3rd SYN: 3 s after the first (within the sketch's 1%).
    let p99 = tte["p99"].as_f64().unwrap();
    assert!((2.95..=3.05).contains(&p99), "{tte}");
    assert!(tte["p50"].as_f64().unwrap() < 0.01, "{tte}");
    assert!((l["rates"]["syn_retransmission"].as_f64().unwrap() - 0.4).abs() < 1e-9);
    let msg = r["diagnoses"][0]["message"].as_str().unwrap();
    assert!(msg.starts_with("8 of 20 connections (40.0%)"), "{msg}");
    assert!(msg.contains("p99 2.9") || msg.contains("p99 3.0"), "{msg}");
}

#[test]
fn rsts_are_counted_by_sender_and_phase_and_the_timeline_shows_the_storm() {
    let r = servers_json(&testdata("servers-rst-storm.pcap"), &[]);
    let l = &r["listeners"][0];
    assert_eq!(l["rst"]["server"]["established"], 30);
    assert_eq!(l["rst"]["client"]["handshake"], 0);
    let t = &l["timeline"];
    assert_eq!(t["interval"], 1.0);
    let rst = t["rst_server"].as_array().unwrap();
    assert_eq!(rst.len(), t["start"].as_array().unwrap().len());
    assert_eq!(rst[10], 30);
    assert_eq!(rst.iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 30);
    let attempts: u64 = t["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(attempts, 50);
    // The first interval starts at the capture's first second.
    assert_eq!(t["start"][0], 1_704_067_200.0);
}

#[test]
fn a_fixed_interval_is_honoured() {
    let r = servers_json(
        &testdata("servers-listener-down.pcap"),
        &["--interval", "5s"],
    );
    let t = &r["listeners"][0]["timeline"];
    assert_eq!(t["interval"], 5.0);
    assert_eq!(t["refused"], serde_json::json!([0, 0, 5, 5, 0, 0]));
    // Coarser intervals still show the period: two of them all refused.
    assert_eq!(r["diagnoses"][0]["id"], "listener_down");
}

#[test]
fn connection_reports_carry_syn_count_and_time_to_establish() {
    let (code, out, _) = run(&[
        "analyze",
        "--format",
        "json",
        testdata("syn-ladder.pcap").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let c = &v["connections"][0];
    assert_eq!(c["syn_count"], 5);
    let tte = c["time_to_establish"].as_f64().unwrap();
    // The handshake RTT measures from the last SYN; the client waited from the first.
    assert!(tte > 15.0, "{tte}");
    assert!(c["handshake_rtt"]["syn_to_synack"].as_f64().unwrap() < 0.1);
}

#[test]
fn formats_agree() {
    let f = testdata("servers-accept-overflow.pcap");
    let p = f.to_str().unwrap();
    let json = servers_json(&f, &[]);
    let (code, by, _) = run(&["analyze", "--by", "server", "--format", "json", p]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(&by).unwrap(), json);
    let (_, jsonl, _) = run(&["servers", "--format", "jsonl", p]);
    let recs: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let listener = recs.iter().find(|r| r["record"] == "listener").unwrap();
    assert_eq!(listener["attempts"], json["listeners"][0]["attempts"]);
    assert_eq!(
        recs.iter().filter(|r| r["record"] == "diagnosis").count(),
        1
    );
    assert_eq!(recs.last().unwrap()["record"], "summary");
    let (_, csv, _) = run(&["servers", "--format", "csv", p]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "header, the listener, all");
    let head: Vec<&str> = rows[0].split(',').collect();
    let row: Vec<&str> = rows[1].split(',').collect();
    assert_eq!(head.len(), row.len());
    let col = |name: &str| row[head.iter().position(|h| *h == name).unwrap()];
    assert_eq!(col("server"), "10.1.0.1:80");
    assert_eq!(col("attempts"), "6");
    assert_eq!(col("diagnoses"), "accept_queue_overflow");
    let (_, table, _) = run(&["servers", p]);
    assert!(
        table.contains("! accept_queue_overflow: 4 of 6 attempts (66.7%)"),
        "{table}"
    );
    assert!(table.contains("e.g. #3, #4, #5"), "{table}");
    assert!(table.contains('█'), "{table}");
}

#[test]
fn an_example_connection_can_be_drawn() {
    let f = testdata("servers-time-wait-rejection.pcap");
    let r = servers_json(&f, &[]);
    let id = r["diagnoses"][0]["examples"][0]
        .as_u64()
        .unwrap()
        .to_string();
    let (code, ladder, err) = run(&["ladder", "--conn", &id, f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(ladder.contains("SYN"), "{ladder}");
}

#[test]
fn bad_interval_is_a_usage_error() {
    let p = testdata("mixed.pcap");
    let (code, _, err) = run(&["servers", "--interval", "0s", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--interval"), "{err}");
}

#[test]
fn paws_drops_are_stated_with_their_numbers() {
    let r = servers_json(&testdata("servers-paws.pcap"), &[]);
    let d = &r["diagnoses"][0];
    assert_eq!(d["id"], "time_wait_rejection");
    assert_eq!(
        d["examples"],
        serde_json::json!([6, 8]),
        "host B's attempts"
    );
    let msg = d["message"].as_str().unwrap();
    // Host B's SYN at 1 s read 101000; host A's answered SYN at 0 s read 4000000.
    assert!(
        msg.starts_with("2 attempts from 1 client address had their SYN dropped"),
        "{msg}"
    );
    assert!(msg.contains("up to 3899000 ticks behind"), "{msg}");
    assert!(msg.contains("PAWS"), "{msg}");
    assert!(!msg.contains("challenge"), "{msg}");
    let l = &r["listeners"][0];
    assert_eq!(l["syn_never_answered"], 2);
    assert_eq!(l["syns"], 12, "6 single SYNs, host B's 2 × 3");
}

#[test]
fn flood_sources_are_counted_past_the_former_cap_of_64() {
    let r = servers_json(&testdata("servers-syn-flood.pcap"), &[]);
    let msg = r["diagnoses"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("from 100 source addresses, none of which"),
        "{msg}"
    );
    assert!(!msg.contains('+'), "{msg}");
}
