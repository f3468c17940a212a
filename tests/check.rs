//! `tcpshake check`: every exit code and every flag, on the committed captures.

mod fixtures;

use fixtures::testdata_path as td;

use assert_cmd::Command;
use serde_json::Value;
use std::path::PathBuf;

fn check(args: &[&str], files: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .current_dir(dir.path())
        .arg("check")
        .args(args)
        .args(files.iter().map(|f| td(f)))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn clean_capture_passes() {
    let (code, out, _) = check(&[], &["handshake-graceful.pcap"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("PASS") && out.contains("1 connection judged"),
        "{out}"
    );
}

#[test]
fn errors_fail_with_connection_frame_and_expectation() {
    let (code, out, _) = check(&[], &["mixed.pcap"]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL"), "{out}");
    assert!(
        out.contains("#3 192.168.1.11:51002 → 192.168.1.20:443"),
        "{out}"
    );
    assert!(
        out.contains("frame 15  synack_wrong_ack (error): expected the SYN-ACK to acknowledge 1"),
        "{out}"
    );
    assert!(out.contains("frame 26  fin_not_counted"), "{out}");
    assert!(out.contains("handshake_invalid"), "{out}");
}

#[test]
fn unreadable_input_is_2_even_when_another_file_fails() {
    let (code, out, err) = check(
        &["--format", "json"],
        &["mixed.pcap", "empty.pcap", "handshake-graceful.pcap"],
    );
    assert_eq!(code, 2);
    // Reported once: in the report, not again on stderr.
    assert!(err.is_empty(), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["files"][1]["error"].as_str().unwrap().contains("empty"),
        "{v}"
    );
    let statuses: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["fail", "error", "pass"],
        "input order, every file judged"
    );
    assert_eq!(v["passed"], false);
    let (code, out, err) = check(&[], &["empty.pcap"]);
    assert_eq!(code, 2);
    assert!(out.contains("ERROR") && out.contains("empty"), "{out}");
    assert!(err.is_empty(), "{err}");
    // With -q there is no report: stderr says it.
    let (code, out, err) = check(&["-q"], &["empty.pcap"]);
    assert_eq!(code, 2);
    assert!(out.is_empty() && err.contains("empty"), "{out}{err}");
}

#[test]
fn truncated_capture_is_judged_not_an_error() {
    let (code, out, _) = check(&[], &["truncated.pcap"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("truncated"));
}

#[test]
fn fail_on_severity_kind_and_verdict() {
    assert_eq!(check(&[], &["syn-ladder.pcap"]).0, 0);
    assert_eq!(check(&["--fail-on", "warning"], &["syn-ladder.pcap"]).0, 1);
    assert_eq!(
        check(&["--fail-on", "syn_retransmission"], &["syn-ladder.pcap"]).0,
        1
    );
    assert_eq!(
        check(
            &["--fail-on", "synack_retransmission"],
            &["syn-ladder.pcap"]
        )
        .0,
        0
    );
    assert_eq!(check(&[], &["refused.pcap"]).0, 0);
    let (code, out, _) = check(&["--fail-on", "refused"], &["refused.pcap"]);
    assert_eq!(code, 1);
    assert!(out.contains("handshake_refused"), "{out}");
    assert_eq!(check(&["--fail-on", "reset"], &["reset.pcap"]).0, 1);
    assert_eq!(check(&[], &["retransmission.pcap"]).0, 0);
    let (code, out, _) = check(&["--fail-on", "retransmission"], &["retransmission.pcap"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("frame 5  retransmission (warning): the client resent bytes 1–1000"),
        "{out}"
    );
    assert_eq!(check(&["--fail-on", "info"], &["syn-with-data.pcap"]).0, 1);
    assert_eq!(check(&["--fail-on", "info"], &["tfo.pcap"]).0, 0);
    assert_eq!(check(&["--fail-on", "warning"], &["tfo.pcap"]).0, 0);
    let (code, _, err) = check(&["--fail-on", "sometimes"], &["tfo.pcap"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--fail-on") && err.contains("sometimes"),
        "{err}"
    );
}

#[test]
fn allow_silences_a_kind() {
    assert_eq!(check(&[], &["fin-not-counted.pcap"]).0, 1);
    assert_eq!(
        check(&["--allow", "fin_not_counted"], &["fin-not-counted.pcap"]).0,
        0
    );
    assert_eq!(
        check(&["--allow", "no_such_kind"], &["fin-not-counted.pcap"]).0,
        2
    );
}

#[test]
fn expected_verdicts() {
    assert_eq!(
        check(
            &["--expect-handshake", "complete"],
            &["handshake-graceful.pcap"]
        )
        .0,
        0
    );
    let (code, out, _) = check(&["--expect-handshake", "complete"], &["refused.pcap"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("expected handshake complete, saw refused"),
        "{out}"
    );
    assert_eq!(
        check(&["--expect-close", "graceful,reset"], &["reset.pcap"]).0,
        0
    );
    let (code, out, _) = check(
        &["--expect-close", "graceful", "--expect-close", "reset"],
        &["half-closed.pcap"],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("expected close graceful or reset, saw half_closed"),
        "{out}"
    );
}

#[test]
fn max_handshake_rtt() {
    // SYN → SYN-ACK 51 ms (from the last SYN retransmission), SYN-ACK → ACK 1 ms.
    assert_eq!(
        check(&["--max-handshake-rtt", "100ms"], &["syn-ladder.pcap"]).0,
        0
    );
    let (code, out, _) = check(&["--max-handshake-rtt", "10ms"], &["syn-ladder.pcap"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("handshake_rtt") && out.contains("52.0 ms"),
        "{out}"
    );
    assert_eq!(
        check(&["--max-handshake-rtt", "1.5s"], &["syn-ladder.pcap"]).0,
        0
    );
}

#[test]
fn expected_connection_count() {
    let allow = [
        "--allow",
        "synack_wrong_ack,fin_not_counted,synack_retransmission",
    ];
    let mut a = allow.to_vec();
    a.extend(["--expect-connections", "5"]);
    let (code, out, _) = check(&a, &["mixed.pcap"]);
    assert_eq!(code, 1, "handshake invalid still fails: {out}");
    let (code, out, _) = check(&["--expect-connections", "2..3"], &["time-wait-reuse.pcap"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("connection_count"), "{out}");
    let (code, out, _) = check(&["--expect-connections", "3.."], &["time-wait-reuse.pcap"]);
    assert_eq!(code, 1);
    assert!(out.contains("expected 3.. connections, saw 2"), "{out}");
    assert_eq!(
        check(&["--expect-connections", "..2"], &["time-wait-reuse.pcap"]).0,
        0
    );
    assert_eq!(
        check(&["--expect-connections", "many"], &["time-wait-reuse.pcap"]).0,
        2
    );
}

#[test]
fn narrowing_to_ports_and_hosts() {
    let (code, out, _) = check(&["--port", "8080"], &["mixed.pcap"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 connection judged"), "{out}");
    let (code, out, _) = check(&["--host", "192.168.1.11"], &["mixed.pcap"]);
    assert_eq!(code, 1);
    assert!(out.contains("1 connection judged, 1 failed"), "{out}");
    assert_eq!(check(&["--host", "not-an-ip"], &["mixed.pcap"]).0, 2);
}

#[test]
fn policy_file_and_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("policy.toml");
    std::fs::write(
        &good,
        "fail_on = [\"warning\"]\nallow = [\"syn_retransmission\"]\nexpect_handshake = [\"complete\"]\nmax_handshake_rtt = \"1s\"\nexpect_connections = 1\nports = [80]\n",
    )
    .unwrap();
    let p = good.to_str().unwrap();
    assert_eq!(check(&["--policy", p], &["syn-ladder.pcap"]).0, 0);
    assert_eq!(check(&["--policy", p], &["fin-retransmission.pcap"]).0, 1);

    let bad_key = dir.path().join("bad-key.toml");
    std::fs::write(
        &bad_key,
        "fail_on = [\"error\"]\n\nfial_on = [\"warning\"]\n",
    )
    .unwrap();
    let (code, _, err) = check(
        &["--policy", bad_key.to_str().unwrap()],
        &["syn-ladder.pcap"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("bad-key.toml:3") && err.contains("fial_on"),
        "{err}"
    );

    let bad_value = dir.path().join("bad-value.toml");
    std::fs::write(
        &bad_value,
        "fail_on = [\"error\"]\nexpect_close = [\"gracefully\"]\n",
    )
    .unwrap();
    let (code, _, err) = check(
        &["--policy", bad_value.to_str().unwrap()],
        &["syn-ladder.pcap"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("bad-value.toml:2") && err.contains("gracefully"),
        "{err}"
    );
}

#[test]
fn tcpshake_toml_in_the_working_directory_is_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tcpshake.toml"),
        "fail_on = [\"refused\"]\n",
    )
    .unwrap();
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .current_dir(dir.path())
        .arg("check")
        .arg(td("refused.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Not silently: stderr names the policy in effect.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcpshake: policy tcpshake.toml"), "{err}");
}

#[test]
fn a_missing_policy_file_names_no_line() {
    let (code, _, err) = check(&["--policy", "/nonexistent/p.toml"], &["refused.pcap"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/p.toml: cannot read"), "{err}");
    assert!(!err.contains(":0:"), "{err}");
}

/// One event, one failure.
#[test]
fn one_event_fails_once() {
    // A refused connection never opened: only its handshake is judged.
    let (code, out, _) = check(
        &["--format", "json", "--expect-close", "graceful"],
        &["refused.pcap"],
    );
    assert_eq!(code, 0, "{out}");
    // One RST: `close_reset` (fail-on) and not also `unexpected_close`.
    let (code, out, _) = check(
        &[
            "--format",
            "json",
            "--fail-on",
            "reset",
            "--expect-close",
            "graceful",
        ],
        &["reset.pcap"],
    );
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<&str> = v["files"][0]["failed"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["close_reset"], "{out}");
}

/// The sample policy passes a healthy transfer with flow control in it and
/// fails a refused connection.
#[test]
fn the_sample_policy_has_sensible_defaults() {
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/ci/tcpshake.toml");
    let p = sample.to_str().unwrap();
    for ok in [
        "window-full.pcap",
        "zero-window.pcap",
        "handshake-graceful.pcap",
    ] {
        let (code, out, _) = check(&["--policy", p], &[ok]);
        assert_eq!(code, 0, "{ok}: {out}");
    }
    let (code, out, _) = check(&["--policy", p], &["refused.pcap"]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn quiet_prints_nothing() {
    let (code, out, _) = check(&["-q"], &["mixed.pcap"]);
    assert_eq!(code, 1);
    assert!(out.is_empty(), "{out}");
}

#[test]
fn github_annotations() {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["check", "-q"])
        .arg(td("mixed.pcap"))
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    // `-q` prints nothing on stdout; the annotations go to stderr, which GitHub also reads.
    assert!(
        out.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("::error file="))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("title=tcpshake synack_wrong_ack::#3")),
        "{text}"
    );
}

#[test]
fn json_under_github_actions_is_parseable() {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["check", "--format", "json"])
        .arg(td("mixed.pcap"))
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(v["passed"], false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("::error file="), "{err}");
}

fn junit_counts(xml: &str) -> (usize, usize, usize, Vec<(String, String)>) {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(xml);
    let (mut suites, mut cases, mut failures) = (0, 0, 0);
    let mut suite_attrs = Vec::new();
    loop {
        match r.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => match e.name().0 {
                "testsuite" => {
                    suites += 1;
                    let mut name = String::new();
                    let mut tests = String::new();
                    for a in e.attributes() {
                        let a = a.unwrap();
                        let v = a.value.to_string();
                        match a.key.0 {
                            "name" => name = v,
                            "tests" => tests = v,
                            _ => {}
                        }
                    }
                    suite_attrs.push((name, tests));
                }
                "testcase" => cases += 1,
                "failure" => failures += 1,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    (suites, cases, failures, suite_attrs)
}

#[test]
fn junit_report_has_a_suite_per_capture_and_a_case_per_connection() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("report.xml");
    let (code, _, _) = check(
        &["--junit", junit.to_str().unwrap()],
        &["mixed.pcap", "handshake-graceful.pcap", "empty.pcap"],
    );
    assert_eq!(code, 2);
    let xml = std::fs::read_to_string(&junit).unwrap();
    let (suites, cases, failures, attrs) = junit_counts(&xml);
    assert_eq!(suites, 3);
    // mixed: capture + 5 connections; clean: capture + 1; empty: capture.
    assert_eq!(cases, 6 + 2 + 1);
    // synack_wrong_ack + handshake_invalid on #3, fin_not_counted on #4.
    assert_eq!(failures, 3);
    assert_eq!(attrs[0].1, "6");
    assert!(xml.contains("<error message="), "{xml}");
}

#[test]
fn junit_stays_small_on_many_connections() {
    use fixtures::build::*;
    let dialogs: Vec<Dialog> = (0..250u16)
        .map(|i| {
            let mut d =
                Dialog::v4([10, 1, 0, 1], 20000 + i, [10, 1, 0, 2], 443).start_at(i as f64 * 0.02);
            d.clean();
            d
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("many.pcap");
    std::fs::write(&cap, eth_pcap(&dialogs.iter().collect::<Vec<_>>())).unwrap();
    let junit = dir.path().join("report.xml");
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["check", "-q", "--junit", junit.to_str().unwrap()])
        .arg(&cap)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let (_, cases, failures, attrs) = junit_counts(&xml);
    assert_eq!(cases, 1 + 100 + 1, "capture + 100 listed + one aggregate");
    assert_eq!(failures, 0);
    assert_eq!(attrs[0].1, "102");
    assert!(xml.contains("150 more connections passed"));
}

#[test]
fn the_readme_ci_example_passes() {
    // The command the README's GitHub Actions and GitLab CI examples run.
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/ci/tcpshake.toml");
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("tcpshake.xml");
    let (code, out, err) = check(
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        &[
            "handshake-graceful.pcap",
            "close-three-way.pcap",
            "ipv6.pcap",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(junit.exists());
    // The same policy fails a refused connection.
    let (code, _, _) = check(&["--policy", policy.to_str().unwrap()], &["refused.pcap"]);
    assert_eq!(code, 1);
}

/// The gate `check` and `live --check` share: it counts what the policy
/// judged and failed, and the connection count, one connection at a time.
#[test]
fn the_gate_judges_connection_by_connection() {
    use tcpshake::check::{Gate, PolicyFlags};
    use tcpshake::judge::{Config, ConnectionReport};
    let mut conns: Vec<ConnectionReport> = Vec::new();
    tcpshake::pipeline::analyze_path(
        &td("refused-retry.pcap"),
        &Config::default(),
        &mut 1,
        &mut |c| conns.push(c),
        &mut (),
    )
    .unwrap();
    assert!(conns.iter().any(|c| c.handshake.as_str() == "refused"));
    let flags = PolicyFlags {
        policy: Some(td("no-such-policy.toml")),
        ..PolicyFlags::default()
    };
    let err = flags.build().unwrap_err().to_string();
    assert!(
        err.contains("no-such-policy.toml") && err.contains("cannot read"),
        "{err}"
    );
    let flags = PolicyFlags {
        policy: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")),
        ..PolicyFlags::default()
    };
    assert!(flags.build().is_err(), "Cargo.toml is no policy");
    let flags = PolicyFlags {
        fail_on: vec!["refused".into()],
        expect_connections: Some("0".into()),
        ..PolicyFlags::default()
    };
    let mut gate = Gate::new(flags.build().unwrap());
    let mut failed = 0;
    for c in &conns {
        let v = gate
            .judge(c)
            .expect("no ports or hosts: every connection is judged");
        assert_eq!(
            v.iter().any(|x| x.kind == "handshake_refused"),
            c.handshake.as_str() == "refused"
        );
        failed += !v.is_empty() as u64;
    }
    assert_eq!((gate.judged(), gate.failed()), (conns.len() as u64, failed));
    let count = gate.count_violation().expect("expected no connection");
    assert_eq!(count.kind, "connection_count");
    assert!(!gate.passed());

    let flags = PolicyFlags {
        port: vec![1],
        host: vec!["no-host".into()],
        ..PolicyFlags::default()
    };
    assert_eq!(
        flags.build().unwrap_err().to_string(),
        "--host: 'no-host' is not an IP address"
    );
    let mut gate = Gate::new(
        PolicyFlags {
            port: vec![1],
            ..PolicyFlags::default()
        }
        .build()
        .unwrap(),
    );
    assert!(conns.iter().all(|c| gate.judge(c).is_none()));
    assert_eq!(gate.judged(), 0);
    assert!(gate.passed());
}

#[test]
fn rate_policies_name_the_listener_and_the_numbers() {
    let f = ["servers-syn-queue-drops.pcap"];
    let (code, out, _) = check(&["--max-rate", "syn_retransmission=50%"], &f);
    assert_eq!(code, 0, "40% of attempts is within 50%: {out}");
    let (code, out, _) = check(&["--max-rate", "syn_retransmission=0.5%"], &f);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "rate_syn_retransmission: 10.1.0.1:80: syn_retransmission 40.00% of attempts (8 of 20), the policy allows at most 0.5%"
        ),
        "{out}"
    );
    // Scoped to another listener: nothing to judge there.
    let (code, out, _) = check(&["--max-rate", "10.9.9.9:80/syn_retransmission=0"], &f);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = check(
        &["--max-rate", "all/refused=0"],
        &["servers-listener-down.pcap"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("all: refused 33.33% of attempts (10 of 30)"),
        "{out}"
    );
}

#[test]
fn percentile_and_diagnosis_policies() {
    let f = ["servers-syn-queue-drops.pcap"];
    let (code, out, _) = check(&["--max-p99", "time_to_establish=200ms"], &f);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("p99_time_to_establish: 10.1.0.1:80: time_to_establish p99 is 2.9"),
        "{out}"
    );
    let (code, out, _) = check(&["--max-p50", "time_to_establish=200ms"], &f);
    assert_eq!(code, 0, "the median is a millisecond or two: {out}");
    let (code, out, _) = check(&["--fail-on-diagnosis", "accept_queue_overflow"], &f);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = check(
        &["--fail-on-diagnosis", "syn_queue_drops", "--format", "json"],
        &f,
    );
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let cv = &v["files"][0]["capture_findings"][0];
    assert_eq!(cv["kind"], "diagnosis_syn_queue_drops");
    assert!(
        cv["message"]
            .as_str()
            .unwrap()
            .starts_with("10.1.0.1:80: syn_queue_drops: 8 of 20"),
        "{cv}"
    );
    let (code, out, _) = check(
        &["--fail-on-diagnosis", "port_exhaustion"],
        &["servers-port-exhaustion.pcap"],
    );
    assert_eq!(code, 1);
    assert!(out.contains("10.3.0.1: port_exhaustion: 36 of 40"), "{out}");
}

#[test]
fn server_policies_from_toml_and_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.toml");
    std::fs::write(
        &p,
        "fail_on = []\nmax_rate = { \"all/syn_retransmission\" = \"1%\" }\nmax_p99 = { time_to_establish = \"5s\" }\nfail_on_diagnosis = [\"rst_storm\"]\n",
    )
    .unwrap();
    let ps = p.to_str().unwrap();
    let (code, out, _) = check(&["--policy", ps], &["servers-syn-queue-drops.pcap"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("rate_syn_retransmission: all: syn_retransmission 40.00%"),
        "{out}"
    );
    assert!(!out.contains("p99_time_to_establish"), "{out}");
    let (code, out, _) = check(&["--policy", ps], &["servers-rst-storm.pcap"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("diagnosis_rst_storm: 10.1.0.1:80: rst_storm: 30 RSTs"),
        "{out}"
    );
    std::fs::write(&p, "max_rate = { bogus = \"1%\" }\n").unwrap();
    let (code, _, err) = check(&["--policy", ps], &["servers-rst-storm.pcap"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("policy.toml:1: max_rate: 'bogus' is not a rate"),
        "{err}"
    );
    let (code, _, err) = check(&["--max-p99", "time_to_establish=soon"], &["mixed.pcap"]);
    assert_eq!(code, 2);
    assert!(err.contains("--max-p99"), "{err}");
    let (code, _, err) = check(&["--fail-on-diagnosis", "sadness"], &["mixed.pcap"]);
    assert_eq!(code, 2);
    assert!(err.contains("'sadness' is not a diagnosis"), "{err}");
}
