//! Every JSON output, of every command, validated against the published
//! schema (docs/schema.json), and the published schema equal to the one the
//! types generate.

mod fixtures;

use assert_cmd::Command;
use fixtures::testdata_path as td;
use serde_json::Value;
use std::path::PathBuf;

fn tcpshake() -> Command {
    let mut c = Command::cargo_bin("tcpshake").unwrap();
    c.env_remove("GITHUB_ACTIONS");
    c
}

/// Every committed capture, the unreadable ones included.
fn all_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(td(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".pcap") || n.ends_with(".pcapng") || n.ends_with(".gz")
        })
        .collect();
    v.sort();
    assert!(v.len() > 50, "{} captures", v.len());
    v
}

fn published() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validator(name: &str) -> jsonschema::Validator {
    let mut s = published();
    let o = s.as_object_mut().unwrap();
    o.remove("anyOf");
    o.insert("$ref".into(), Value::String(format!("#/$defs/{name}")));
    jsonschema::validator_for(&s).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

#[test]
fn published_schema_is_the_generated_one() {
    let generated = tcpshake::schema::schema();
    assert_eq!(
        published(),
        generated,
        "docs/schema.json is stale: run `cargo run -- schema > docs/schema.json`"
    );
    let out = tcpshake().arg("schema").output().unwrap();
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, generated);
}

#[test]
fn analyze_json_matches_the_schema() {
    let out = tcpshake()
        .args(["analyze", "--format", "json"])
        .args(all_captures())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "some captures are unreadable");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&validator("AnalyzeDocument"), &doc, "analyze --format json");
    // Unreadable files are in the report, as `check` reports them.
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), all_captures().len());
    assert!(
        files
            .iter()
            .any(|f| f["status"] == "error" && f["error"].is_string())
    );
    let with_findings = doc["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["findings"].as_array().unwrap().is_empty())
        .count();
    assert!(with_findings > 20, "{with_findings}");
}

#[test]
fn analyze_jsonl_matches_the_schema() {
    let out = tcpshake()
        .args(["analyze", "--format", "jsonl"])
        .args(all_captures())
        .output()
        .unwrap();
    let v = validator("JsonlRecord");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for line in text.lines() {
        let doc: Value = serde_json::from_str(line).unwrap();
        kinds.insert(doc["record"].as_str().unwrap().to_string());
        assert_valid(&v, &doc, line);
    }
    assert_eq!(kinds.len(), 3, "{kinds:?}");
}

#[test]
fn check_json_matches_the_schema() {
    for extra in [
        &[][..],
        &["--fail-on", "info"][..],
        &["--expect-connections", "3"][..],
    ] {
        let out = tcpshake()
            .args(["check", "--format", "json"])
            .args(extra)
            .args(all_captures())
            .output()
            .unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_valid(&validator("CheckReport"), &doc, "check --format json");
        let files = doc["files"].as_array().unwrap();
        let failed = files.iter().flat_map(|f| f["failed"].as_array().unwrap());
        // Failed entries carry their verdicts, passed ones are records, not strings.
        for c in failed {
            assert!(c["handshake"].is_string() && c["close"].is_string(), "{c}");
        }
        for f in files {
            for p in f["passed"].as_array().unwrap() {
                assert!(p["id"].is_u64() && p["handshake"].is_string(), "{p}");
            }
        }
    }
}

/// CSV has no nesting: every column is a connection field of the schema, a
/// per-side figure (`client_packets` for `packets.client`), or a count by
/// severity.
#[test]
fn csv_columns_are_schema_fields() {
    let out = tcpshake()
        .args(["analyze", "--format", "csv"])
        .arg(td("mixed.pcap"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let schema = published();
    let conn = &schema["$defs"]["ConnectionReport"]["properties"];
    let rtt = &schema["$defs"]["HandshakeRtt"]["properties"];
    for col in header {
        let ok = conn.get(col).is_some()
            || rtt.get(col).is_some()
            || ["errors", "warnings", "infos"].contains(&col)
            || ["client_", "server_"].iter().any(|p| {
                col.strip_prefix(p)
                    .is_some_and(|rest| conn.get(rest).is_some())
            });
        assert!(ok, "CSV column {col} is not in the schema");
    }
}

/// The captures the server view is built for, each read on its own so that
/// its diagnoses are not diluted by the others.
fn server_captures() -> Vec<PathBuf> {
    let v: Vec<PathBuf> = all_captures()
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("servers-")
        })
        .collect();
    assert!(v.len() >= 10, "{} servers-* captures", v.len());
    v
}

/// `servers` and `analyze --by server` write the same view.
const SERVER_VIEWS: [&[&str]; 2] = [&["servers"], &["analyze", "--by", "server"]];

fn server_view(view: &[&str], format: &str, files: &[PathBuf]) -> String {
    let out = tcpshake()
        .args(view)
        .args(["--format", format])
        .args(files)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "{view:?} {files:?}: {:?}",
        out.status
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every capture alone, every servers-* capture alone, and all of them at once.
fn server_inputs() -> Vec<Vec<PathBuf>> {
    let mut inputs: Vec<Vec<PathBuf>> = all_captures().into_iter().map(|p| vec![p]).collect();
    inputs.push(all_captures());
    inputs.push(server_captures());
    inputs
}

#[test]
fn servers_json_matches_the_schema() {
    let v = validator("ServersReport");
    let mut listeners = 0;
    let mut diagnoses = std::collections::BTreeSet::new();
    for files in server_inputs() {
        let servers = server_view(SERVER_VIEWS[0], "json", &files);
        let by_server = server_view(SERVER_VIEWS[1], "json", &files);
        assert_eq!(servers, by_server, "{files:?}");
        let what = format!("servers --format json {files:?}");
        let doc: Value = serde_json::from_str(&servers).expect(&what);
        assert_valid(&v, &doc, &what);
        listeners += doc["listeners"].as_array().unwrap().len();
        for d in doc["diagnoses"].as_array().unwrap() {
            diagnoses.insert(d["id"].as_str().unwrap().to_string());
        }
    }
    assert!(listeners > 50, "{listeners} listeners");
    // The servers-* captures are made to show most diagnoses.
    assert!(diagnoses.len() >= 8, "{diagnoses:?}");
}

#[test]
fn servers_jsonl_matches_the_schema() {
    let v = validator("ServersJsonlRecord");
    let mut kinds = std::collections::BTreeSet::new();
    for files in server_inputs() {
        for view in SERVER_VIEWS {
            let text = server_view(view, "jsonl", &files);
            let lines: Vec<&str> = text.lines().collect();
            assert!(!lines.is_empty(), "{view:?} {files:?}");
            for line in &lines {
                let doc: Value = serde_json::from_str(line).unwrap();
                kinds.insert(doc["record"].as_str().unwrap().to_string());
                assert_valid(&v, &doc, line);
            }
            let last: Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
            assert_eq!(last["record"], "summary", "{view:?} {files:?}");
        }
    }
    let expected = ["client", "diagnosis", "listener", "overall", "summary"];
    assert_eq!(
        kinds.iter().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
}

/// The server CSV flattens a listener: every column is a listener field, a
/// handshake outcome count, RSTs by sender (`rst_client`), a rate
/// (`rate_refused`) or a percentile of a measure (`syn_to_synack_p90`).
#[test]
fn servers_csv_columns_are_schema_fields() {
    let text = server_view(SERVER_VIEWS[0], "csv", &server_captures());
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let schema = published();
    let defs = &schema["$defs"];
    let listener = &defs["ListenerReport"]["properties"];
    let rst = &defs["RstReport"]["properties"];
    let rates = &defs["Rates"]["properties"];
    let percentiles = &defs["Percentiles"]["properties"];
    let outcomes = defs["Handshake"]["enum"].as_array().unwrap();
    assert!(header.len() > 30, "{header:?}");
    for col in header {
        let ok = listener.get(col).is_some()
            || outcomes.iter().any(|o| o == col)
            || col
                .strip_prefix("rst_")
                .is_some_and(|side| rst.get(side).is_some())
            || col
                .strip_prefix("rate_")
                .is_some_and(|r| rates.get(r).is_some())
            || col.rsplit_once('_').is_some_and(|(m, q)| {
                listener[m]["$ref"] == "#/$defs/Percentiles" && percentiles.get(q).is_some()
            });
        assert!(ok, "CSV column {col} is not in the schema");
    }
}
