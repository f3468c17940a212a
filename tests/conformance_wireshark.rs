//! Agreement with Wireshark 4.0's `tcp.analysis` counts and `tcp.completeness`
//! on the captures of its test suite and the synthetic cases, read from
//! ../shared/corpus/wireshark when it is present. Every disagreement is
//! listed in docs/conformance.md with its reason.

use std::collections::{BTreeMap, BTreeSet};
mod corpus;

use corpus::{endpoint, percent};
use std::path::Path;
use tcpshake::judge::{Config, ConnectionReport};
use tcpshake::pipeline::analyze_path;

/// Items tcpshake does not compute (TCP option details, not connection state).
const NOT_COMPARED: [&str; 4] = [
    "tcp.options.sack.dsack",
    "tcp.option.len.invalid",
    "tcp.options.mss.absent",
    "tcp.urgent_pointer.non_zero",
];

type Tuple = (String, String);

fn tuple(a: &str, b: &str) -> Tuple {
    if a <= b {
        (a.into(), b.into())
    } else {
        (b.into(), a.into())
    }
}

#[test]
fn wireshark_analysis_counts_and_completeness() {
    let root = Path::new("../shared/corpus/wireshark");
    if !root.exists() {
        corpus::skipped(root, "Wireshark");
        return;
    }
    // (capture path, tuple) -> flag -> expected count; and completeness per stream.
    let mut expected: BTreeMap<(String, Tuple), BTreeMap<String, u64>> = BTreeMap::new();
    let mut streams: BTreeMap<(String, Tuple), BTreeSet<String>> = BTreeMap::new();
    let mut completeness: BTreeMap<(String, Tuple), u64> = BTreeMap::new();
    for (file, dir) in [
        ("expected.tsv", "captures"),
        ("synthetic/expected.tsv", "synthetic/cases"),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for line in text.lines().skip(1) {
            let c: Vec<&str> = line.split('\t').collect();
            if c.len() < 9 {
                continue;
            }
            let cap = format!("{dir}/{}", c[0]);
            let key = (cap, tuple(&endpoint(c[2], c[3]), &endpoint(c[4], c[5])));
            streams
                .entry(key.clone())
                .or_default()
                .insert(c[1].to_string());
            completeness.insert(key.clone(), c[6].parse().unwrap_or(0));
            *expected
                .entry(key)
                .or_default()
                .entry(c[7].to_string())
                .or_default() += c[8].parse::<u64>().unwrap_or(0);
        }
    }
    let captures: BTreeSet<String> = expected.keys().map(|(c, _)| c.clone()).collect();
    let mut ours: BTreeMap<(String, Tuple), BTreeMap<String, u64>> = BTreeMap::new();
    let mut our_conns: BTreeMap<(String, Tuple), Vec<u8>> = BTreeMap::new();
    for cap in &captures {
        let mut conns: Vec<ConnectionReport> = Vec::new();
        let mut next = 1;
        analyze_path(
            &root.join(cap),
            &Config::default(),
            &mut next,
            &mut |c| conns.push(c),
            &mut (),
        )
        .unwrap_or_else(|e| panic!("{cap}: {e}"));
        for c in conns {
            let key = (
                cap.clone(),
                tuple(&c.client.to_string(), &c.server.to_string()),
            );
            let m = ours.entry(key.clone()).or_default();
            *m.entry("frames".into()).or_default() += c.packets.client + c.packets.server;
            for (k, v) in c.tcp_analysis.iter() {
                *m.entry(k.to_string()).or_default() += v as u64;
            }
            our_conns.entry(key).or_default().push(c.completeness);
        }
    }
    let (mut agree, mut total) = (0u32, 0u32);
    let mut not_compared = 0;
    let mut disagreements = Vec::new();
    let keys: BTreeSet<(String, Tuple)> = expected.keys().chain(ours.keys()).cloned().collect();
    for key in &keys {
        let empty = BTreeMap::new();
        let want = expected.get(key).unwrap_or(&empty);
        let got = ours.get(key).unwrap_or(&empty);
        let flags: BTreeSet<&String> = want.keys().chain(got.keys()).collect();
        for flag in flags {
            if flag == "flag" {
                continue;
            }
            if NOT_COMPARED.contains(&flag.as_str()) {
                not_compared += 1;
                continue;
            }
            let (w, g) = (
                want.get(flag).copied().unwrap_or(0),
                got.get(flag).copied().unwrap_or(0),
            );
            total += 1;
            if w == g {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{} {} {}: {flag} tcpshake {g}, Wireshark {w}",
                    key.0, key.1.0, key.1.1
                ));
            }
        }
    }
    let (mut c_agree, mut c_total) = (0u32, 0u32);
    for (key, want) in &completeness {
        if streams.get(key).map_or(0, |s| s.len()) != 1 {
            continue;
        }
        let Some(got) = our_conns.get(key) else {
            continue;
        };
        if got.len() != 1 {
            continue;
        }
        c_total += 1;
        if got[0] as u64 == *want {
            c_agree += 1;
        } else {
            disagreements.push(format!(
                "{} {} {}: completeness tcpshake {}, Wireshark {want}",
                key.0, key.1.0, key.1.1, got[0]
            ));
        }
    }
    for d in &disagreements {
        println!("disagreement: {d}");
    }
    println!(
        "wireshark conformance: (stream, flag) counts {agree}/{total} pairs ({:.1}%); completeness {c_agree}/{c_total} streams ({:.1}%); {not_compared} option-level pairs not compared",
        percent(agree, total),
        percent(c_agree, c_total)
    );
    assert!(
        percent(agree, total) >= 95.0,
        "flag-count agreement below 95%"
    );
}
