//! Agreement with Zeek's conn.log `conn_state` and `history` on the traces of
//! Zeek's own test suite (read from ../shared/corpus/zeek when it is present).
//! Every disagreement is listed in docs/conformance.md with its reason.

use std::collections::HashMap;
mod corpus;

use corpus::{endpoint, percent};
use std::path::Path;
use tcpshake::judge::{Config, ConnectionReport};
use tcpshake::pipeline::analyze_path;

struct Row {
    trace: String,
    ts: f64,
    orig: String,
    resp: String,
    conn_state: String,
    history: String,
}

/// Zeek run bare (`-b`) knows only the server ports of the protocol scripts it
/// was told to load (traces.tsv names them).
fn bare_mode_ports(invocation: &str) -> Vec<u16> {
    let mut ports = Vec::new();
    let has = |name: &str| {
        invocation
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == name)
    };
    if has("http") {
        ports.extend([80, 81, 631, 1080, 3128, 8000, 8080, 8888]);
    }
    if has("ssl") {
        ports.extend([443, 563, 585, 614, 636, 989, 990, 992, 993, 994, 995, 5223]);
    }
    if has("ftp") {
        ports.extend([21, 2811]);
    }
    if has("irc") {
        ports.extend([6666, 6667, 6668, 6669]);
    }
    if has("pop3") {
        ports.push(110);
    }
    if has("dns") {
        ports.push(53);
    }
    if has("ssh") {
        ports.push(22);
    }
    ports
}

#[test]
fn zeek_conn_state_and_history() {
    let root = Path::new("../shared/corpus/zeek");
    if !root.exists() {
        corpus::skipped(root, "Zeek");
        return;
    }
    let expected = std::fs::read_to_string(root.join("expected.tsv")).unwrap();
    let traces = std::fs::read_to_string(root.join("traces.tsv")).unwrap();
    let mut bare: HashMap<String, Vec<u16>> = HashMap::new();
    for line in traces.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() > 9 && cols[9].contains(" -b ") {
            bare.insert(cols[0].to_string(), bare_mode_ports(cols[9]));
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for line in expected.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        if c.len() < 9 || c[6] != "tcp" {
            continue;
        }
        rows.push(Row {
            trace: c[0].to_string(),
            ts: c[1].parse().unwrap_or(0.0),
            orig: endpoint(c[2], c[3]),
            resp: endpoint(c[4], c[5]),
            conn_state: c[7].to_string(),
            history: c[8].to_string(),
        });
    }
    let mut by_trace: Vec<String> = rows.iter().map(|r| r.trace.clone()).collect();
    by_trace.sort();
    by_trace.dedup();

    let (mut state_ok, mut state_n, mut hist_ok, mut hist_n) = (0, 0, 0, 0);
    let (mut llc_ok, mut llc_n) = (0, 0);
    let mut unmatched = 0;
    let mut port_dependent = 0;
    let mut tunnel = 0;
    let mut disagreements = Vec::new();
    for trace in &by_trace {
        let mut config = Config::default();
        if let Some(ports) = bare.get(trace) {
            config.likely_server_ports = ports.clone();
        }
        let path = root.join("traces").join(trace);
        let run = |config: &Config| {
            let mut conns: Vec<ConnectionReport> = Vec::new();
            let mut next = 1;
            analyze_path(&path, config, &mut next, &mut |c| conns.push(c), &mut ())
                .unwrap_or_else(|e| panic!("{trace}: {e}"));
            conns
        };
        let conns = run(&config);
        // Rows whose values depend on Zeek's server-port list: they change when
        // the list is emptied.
        let mut no_ports = config.clone();
        no_ports.likely_server_ports.clear();
        let alt = run(&no_ports);
        port_dependent += conns
            .iter()
            .zip(alt.iter())
            .filter(|(a, b)| a.history != b.history || a.conn_state != b.conn_state)
            .count();
        let mut used = vec![false; conns.len()];
        for row in rows.iter().filter(|r| &r.trace == trace) {
            let found = conns.iter().enumerate().position(|(i, c)| {
                !used[i]
                    && ((c.client.to_string() == row.orig && c.server.to_string() == row.resp)
                        || (c.client.to_string() == row.resp && c.server.to_string() == row.orig))
                    && (c.start.as_secs_f64() - row.ts).abs() < 0.001
            });
            let Some(i) = found else {
                // Teredo (on ports 3797/32900, found by content) is decapsulated
                // and its inner row compared like any other; a GTP-U row not found
                // is set aside, and counted in the printed figures.
                if trace.contains("tunnels/gtp") {
                    tunnel += 1;
                } else {
                    unmatched += 1;
                    disagreements.push(format!(
                        "{trace} {} {} {}: no such connection",
                        row.ts, row.orig, row.resp
                    ));
                }
                continue;
            };
            used[i] = true;
            let c = &conns[i];
            let llc = trace == "llc.pcap";
            if row.conn_state != "-" {
                let ok = c.conn_state == row.conn_state;
                if llc {
                    llc_n += 1;
                    llc_ok += ok as u32;
                } else {
                    state_n += 1;
                    state_ok += ok as u32;
                }
                if !ok {
                    disagreements.push(format!(
                        "{trace} {} {} {}: conn_state {} (Zeek {}), history {} (Zeek {})",
                        row.ts,
                        row.orig,
                        row.resp,
                        c.conn_state,
                        row.conn_state,
                        c.history,
                        row.history
                    ));
                }
            }
            if row.history != "-" && !llc {
                hist_n += 1;
                // Zeek's 'g' (reassembly gap) and 'X' (analysis limit) are not wire events.
                let zeek_hist: String = row
                    .history
                    .chars()
                    .filter(|ch| !matches!(ch, 'g' | 'G' | 'X'))
                    .collect();
                let ok = c.history == zeek_hist;
                hist_ok += ok as u32;
                if !ok && row.conn_state == c.conn_state {
                    disagreements.push(format!(
                        "{trace} {} {} {}: history {} (Zeek {})",
                        row.ts, row.orig, row.resp, c.history, row.history
                    ));
                }
            }
        }
    }
    for d in &disagreements {
        println!("disagreement: {d}");
    }
    println!(
        "zeek conformance: conn_state {state_ok}/{state_n} rows ({:.1}%), history {hist_ok}/{hist_n} rows ({:.1}%); llc.pcap conn_state {llc_ok}/{llc_n}; unmatched {unmatched}; tunnelled rows skipped {tunnel}; connections whose fields depend on the server-port list {port_dependent}",
        percent(state_ok, state_n),
        percent(hist_ok, hist_n)
    );
    assert!(
        percent(state_ok, state_n) >= 95.0,
        "conn_state agreement below 95%"
    );
    assert!(
        percent(hist_ok, hist_n) >= 90.0,
        "history agreement below 90%"
    );
}
