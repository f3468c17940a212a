//! Runs the real binary on every committed capture and checks the exact
//! verdicts, findings and counts stated in testdata/README.md.

mod fixtures;
mod support;

use fixtures::testdata_path as testdata;
use support::analyze_json;

#[test]
fn committed_captures_are_what_the_generator_writes() {
    let mut stale = Vec::new();
    for f in fixtures::catalog() {
        match std::fs::read(testdata(f.name)) {
            Ok(bytes) if bytes == f.bytes => {}
            _ => stale.push(f.name),
        }
    }
    let readme = std::fs::read_to_string(testdata("README.md")).unwrap_or_default();
    if readme != fixtures::readme() {
        stale.push("README.md");
    }
    assert!(
        stale.is_empty(),
        "testdata/ differs from the generator for {stale:?}; run `cargo run --example make-testdata`"
    );
}

#[test]
fn every_capture_gives_its_expected_verdict() {
    let mut failures = Vec::new();
    for f in fixtures::catalog() {
        let path = testdata(f.name);
        let (code, json, stderr) = analyze_json(&path);
        let e = &f.expect;
        let mut problems = Vec::new();
        if code != e.exit_code {
            problems.push(format!(
                "exit code {code}, expected {} ({stderr})",
                e.exit_code
            ));
        }
        if e.exit_code == 0 {
            let file = &json["files"][0];
            if file["frames"].as_u64() != Some(e.frames) {
                problems.push(format!("frames {}, expected {}", file["frames"], e.frames));
            }
            if file["truncated"].as_bool() != Some(e.truncated) {
                problems.push(format!("truncated {}", file["truncated"]));
            }
            let mut conns = json["connections"].as_array().cloned().unwrap_or_default();
            conns.sort_by_key(|c| c["id"].as_u64());
            let got: Vec<(String, String)> = conns
                .iter()
                .map(|c| {
                    (
                        c["handshake"].as_str().unwrap_or("?").to_string(),
                        c["close"].as_str().unwrap_or("?").to_string(),
                    )
                })
                .collect();
            let want: Vec<(String, String)> = e
                .conns
                .iter()
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect();
            if got != want {
                problems.push(format!("verdicts {got:?}, expected {want:?}"));
            }
            let findings: Vec<String> = conns
                .iter()
                .flat_map(|c| c["findings"].as_array().cloned().unwrap_or_default())
                .map(|a| format!("{}@{}", a["kind"].as_str().unwrap_or("?"), a["frame"]))
                .collect();
            if findings != e.findings {
                problems.push(format!("findings {findings:?}, expected {:?}", e.findings));
            }
            let errors: Vec<String> = file["decode_errors"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|d| format!("{}@{}", d["reason"].as_str().unwrap_or("?"), d["frame"]))
                .collect();
            if errors != e.decode_errors {
                problems.push(format!(
                    "decode errors {errors:?}, expected {:?}",
                    e.decode_errors
                ));
            }
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}", f.name, problems.join("; ")));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
