//! Running the real binary from integration tests.

#![allow(dead_code)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::Path;

/// `tcpshake analyze --format json FILE`: exit code, parsed output (Null when
/// it is not JSON) and standard error.
pub fn analyze_json(path: &Path) -> (i32, Value, String) {
    let out = Command::cargo_bin("tcpshake")
        .unwrap()
        .args(["analyze", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
