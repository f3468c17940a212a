//! The data-transfer analysis: RTT by Karn's rule, per-direction figures, and
//! the cap on remembered segments.

mod fixtures;
mod support;

use fixtures::testdata_path as td;

use fixtures::build::*;
use serde_json::Value;
use std::path::Path;

fn analyze(path: &Path) -> Value {
    let (code, json, stderr) = support::analyze_json(path);
    assert_eq!(code, 0, "{stderr}");
    json
}

#[test]
fn karn_no_rtt_sample_from_a_retransmitted_segment() {
    let v = analyze(&td("retransmission.pcap"));
    let c = &v["connections"][0]["transfer"]["client"];
    // SYN and FIN are sampled; the resent data segment is not.
    assert_eq!(c["rtt_samples"], 2, "{c}");
    assert_eq!(c["retransmitted_segments"], 1);
    assert_eq!(c["retransmitted_bytes"], 1000);
    assert!((c["rtt_min"].as_f64().unwrap() - 0.001).abs() < 1e-9);
    assert!((c["rtt_max"].as_f64().unwrap() - 0.001).abs() < 1e-9);
}

#[test]
fn per_direction_figures() {
    let v = analyze(&td("segment-gap.pcap"));
    let c = &v["connections"][0]["transfer"]["client"];
    assert_eq!(c["gaps"], 1);
    assert_eq!(c["missing_bytes"], 1000);
    let v = analyze(&td("out-of-order.pcap"));
    assert_eq!(v["connections"][0]["transfer"]["client"]["out_of_order"], 1);
    let v = analyze(&td("zero-window.pcap"));
    let t = v["connections"][0]["transfer"]["server"]["zero_window_time"]
        .as_f64()
        .unwrap();
    assert!((t - 0.503).abs() < 1e-6, "{t}");
    let v = analyze(&td("midstream.pcap"));
    // The handshake (and its window scale) was not seen: window checks say so.
    let c = &v["connections"][0]["transfer"];
    assert!(
        c["client"]["window_scale_unknown"].as_bool().unwrap()
            || c["server"]["window_scale_unknown"].as_bool().unwrap()
    );
}

#[test]
fn wireshark_item_counts_are_reported() {
    let v = analyze(&td("fast-retransmission.pcap"));
    let t = &v["connections"][0]["tcp_analysis"];
    assert_eq!(t["tcp.analysis.duplicate_ack"], 3);
    assert_eq!(t["tcp.analysis.fast_retransmission"], 1);
    assert_eq!(
        t["tcp.analysis.retransmission"], 1,
        "fast retransmissions also count as retransmissions"
    );
    assert_eq!(t["tcp.connection.fin_active"], 1);
    assert_eq!(t["tcp.connection.fin_passive"], 1);
}

#[test]
fn the_unacknowledged_list_is_capped_and_says_so() {
    let mut d = Dialog::basic();
    d.handshake();
    d.step = 0.000_01;
    for _ in 0..10_050 {
        d.c(PSH | ACK, 10);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.pcap");
    std::fs::write(&path, eth_pcap(&[&d])).unwrap();
    let v = analyze(&path);
    let c = &v["connections"][0];
    assert_eq!(c["transfer"]["client"]["unacked_cap_reached"], true);
    // Frames 10,004–10,053 were not tracked, and say so.
    assert_eq!(c["transfer"]["client"]["unacked_untracked"], 50);
    assert!(c["transfer"]["server"].get("unacked_untracked").is_none());
    let limits: Vec<&Value> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "analysis_limit")
        .collect();
    assert_eq!(limits.len(), 1);
    // The SYN-ACK retired the SYN; data frames 4–10,003 fill the list of
    // 10,000; frame 10,004 is the first not kept.
    assert_eq!(limits[0]["frame"], 10_004);
}
