//! Helpers shared by the conformance tests over ../shared/corpus.

#![allow(dead_code)]

/// `ip:port`, or `[v6]:port`, as tcpshake writes endpoints.
pub fn endpoint(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// `agree` of `total` as a percentage (100 when there is nothing to compare).
pub fn percent(agree: u32, total: u32) -> f64 {
    if total == 0 {
        100.0
    } else {
        100.0 * agree as f64 / total as f64
    }
}

/// Says loudly that a conformance comparison did not run: written straight to
/// the terminal (the test harness captures `println!`), so it shows in every
/// `cargo test` run, not only with `--nocapture`.
pub fn skipped(root: &std::path::Path, what: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: {what} comparison NOT RUN: {} not found. The agreement \
figures in README.md and docs/conformance.md were NOT checked. See \
docs/conformance.md for where the corpus comes from. ***\n",
        root.display()
    );
}
