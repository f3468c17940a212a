//! `check --summary-md`: the Markdown job summary, as snapshots.

use std::path::PathBuf;
use tcpshake::check::{self, Policy};
use tcpshake::judge::Config;

fn summary(files: &[&str]) -> String {
    let paths: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    let policy = Policy::default();
    let config = Config::default();
    let verdicts = check::check_files(
        &paths,
        &config,
        &tcpshake::filter::Filter::default(),
        &policy,
        1,
    );
    let mut out = Vec::new();
    check::write_summary_md(&mut out, &verdicts, &config).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn failing_capture_in_words_with_its_mermaid_ladders() {
    // mixed.pcap fails the default policy on #3 (invalid handshake,
    // synack_wrong_ack) and #4 (fin_not_counted); the graceful one passes.
    let md = summary(&["testdata/mixed.pcap", "testdata/handshake-graceful.pcap"]);
    assert_eq!(md.matches("```mermaid").count(), 2);
    insta::assert_snapshot!("summary_md_failing", md);
}

#[test]
fn passing_captures_give_a_table_only() {
    let md = summary(&[
        "testdata/handshake-graceful.pcap",
        "testdata/close-three-way.pcap",
    ]);
    assert!(!md.contains("```"));
    insta::assert_snapshot!("summary_md_passing", md);
}

#[test]
fn an_unreadable_capture_is_said_so() {
    let md = summary(&["testdata/not-a-capture.pcap"]);
    assert!(md.contains("⚠️ unreadable"), "{md}");
    assert!(md.contains("Could not be read:"), "{md}");
}
