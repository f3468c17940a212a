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
