//! The server view's writers: a table for people (one block per listener,
//! timelines as sparklines), JSON, JSON Lines and CSV for machines.

use super::timeline::SERIES;
use super::{ListenerReport, Percentiles, ServersReport};
use crate::duration::human_duration;
use crate::report::{csv_field, csv_number as opt};
use serde::Serialize;
use std::io::{self, Write};

fn to_json<T: Serialize>(out: &mut dyn Write, v: &T) -> io::Result<()> {
    serde_json::to_writer(&mut *out, v).map_err(io::Error::other)?;
    writeln!(out)
}

/// One JSON document.
pub fn write_json(out: &mut dyn Write, r: &ServersReport) -> io::Result<()> {
    to_json(out, r)
}

/// One line per listener, client and diagnosis, then the overall figures,
/// each with a `record` field.
pub fn write_jsonl(out: &mut dyn Write, r: &ServersReport) -> io::Result<()> {
    #[derive(Serialize)]
    struct Rec<'a, T: Serialize> {
        record: &'static str,
        #[serde(flatten)]
        body: &'a T,
    }
    for l in &r.listeners {
        to_json(
            out,
            &Rec {
                record: "listener",
                body: l,
            },
        )?;
    }
    for c in &r.clients {
        to_json(
            out,
            &Rec {
                record: "client",
                body: c,
            },
        )?;
    }
    for d in &r.diagnoses {
        to_json(
            out,
            &Rec {
                record: "diagnosis",
                body: d,
            },
        )?;
    }
    to_json(
        out,
        &Rec {
            record: "overall",
            body: &r.overall,
        },
    )?;
    to_json(
        out,
        &serde_json::json!({"record": "summary", "interval": r.interval, "start": r.start, "listeners": r.listeners.len(), "diagnoses": r.diagnoses.len(), "notes": r.notes}),
    )
}

/// One row per listener and one for `all`.
pub fn write_csv(out: &mut dyn Write, r: &ServersReport) -> io::Result<()> {
    let mut head = vec![
        "server",
        "connections",
        "attempts",
        "established",
        "syns",
        "distinct_clients",
        "refused",
        "unanswered",
        "no_final_ack",
        "aborted",
        "invalid",
        "syn_never_answered",
        "rst_client",
        "rst_server",
        "rate_refused",
        "rate_unanswered",
        "rate_no_final_ack",
        "rate_aborted",
        "rate_syn_retransmission",
        "rate_retransmission",
        "rate_zero_window",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>();
    for m in super::MEASURES {
        for q in ["p50", "p90", "p99", "max"] {
            head.push(format!("{m}_{q}"));
        }
    }
    head.extend(["time_wait_reuse", "port_reuse", "diagnoses"].map(String::from));
    writeln!(out, "{}", head.join(","))?;
    for l in r.listeners.iter().chain(std::iter::once(&r.overall)) {
        let h = |k: &str| l.handshake.get(k).copied().unwrap_or(0).to_string();
        let mut row = vec![
            l.server.clone(),
            l.connections.to_string(),
            l.attempts.to_string(),
            l.established.to_string(),
            l.syns.to_string(),
            l.distinct_clients.to_string(),
            h("refused"),
            h("unanswered"),
            h("no_final_ack"),
            h("aborted"),
            h("invalid"),
            l.syn_never_answered.to_string(),
            l.rst.client.total().to_string(),
            l.rst.server.total().to_string(),
        ];
        for name in super::Rates::NAMES {
            row.push(format!("{:.6}", l.rates.get(name).unwrap_or(0.0)));
        }
        for m in super::MEASURES {
            let p = l.measure(m).copied().unwrap_or_default();
            row.extend([opt(p.p50), opt(p.p90), opt(p.p99), opt(p.max)]);
        }
        row.push(l.time_wait_reuse.to_string());
        row.push(l.port_reuse.to_string());
        let ids: Vec<&str> = l.diagnoses.iter().map(|d| d.id).collect();
        row.push(ids.join(";"));
        let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}

/// The values as a line of block characters, scaled to the largest.
pub fn sparkline(values: &[u32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                BARS[((v as u64 * 7).div_ceil(max as u64) as usize).min(7)]
            }
        })
        .collect()
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn percentiles(p: &Percentiles) -> String {
    let d = |v: Option<f64>| v.map_or("-".to_string(), human_duration);
    if p.count == 0 {
        return "-".to_string();
    }
    format!(
        "p50 {}  p90 {}  p99 {}  max {}  ({} measured)",
        d(p.p50),
        d(p.p90),
        d(p.p99),
        d(p.max),
        p.count
    )
}

fn ordinal(n: usize) -> String {
    match n {
        1 => "1st".into(),
        2 => "2nd".into(),
        3 => "3rd".into(),
        8 => "8th+".into(),
        _ => format!("{n}th"),
    }
}

fn listener_block(out: &mut dyn Write, l: &ListenerReport) -> io::Result<()> {
    writeln!(
        out,
        "{}  {} connections, {} attempts ({} SYNs), {} established, from {}{} client addresses",
        l.server,
        l.connections,
        l.attempts,
        l.syns,
        l.established,
        l.distinct_clients,
        if l.distinct_clients_capped { "+" } else { "" }
    )?;
    let join = |m: &std::collections::BTreeMap<&str, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "  handshake   {}", join(&l.handshake))?;
    writeln!(out, "  close       {}", join(&l.close))?;
    if l.attempts > 0 {
        let on: Vec<String> = l
            .syn_answered_on
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{} SYN {n}", ordinal(i + 1)))
            .collect();
        writeln!(
            out,
            "  answered    {}{}never {}",
            on.join(", "),
            if on.is_empty() { "" } else { "; " },
            l.syn_never_answered
        )?;
    }
    writeln!(out, "  to establish {}", percentiles(&l.time_to_establish))?;
    writeln!(out, "  SYN→SYN-ACK  {}", percentiles(&l.syn_to_synack))?;
    writeln!(out, "  SYN-ACK→ACK  {}", percentiles(&l.synack_to_ack))?;
    let rst = |r: &super::RstCounts| {
        format!(
            "{} (handshake {}, established {}, close {})",
            r.total(),
            r.handshake,
            r.established,
            r.close
        )
    };
    writeln!(
        out,
        "  RSTs        from clients {}; from the server {}",
        rst(&l.rst.client),
        rst(&l.rst.server)
    )?;
    let r = &l.rates;
    writeln!(
        out,
        "  rates       refused {}, unanswered {}, no final ACK {}, aborted {}, SYN retransmitted {}, retransmitting {}, zero window {}",
        pct(r.refused),
        pct(r.unanswered),
        pct(r.no_final_ack),
        pct(r.aborted),
        pct(r.syn_retransmission),
        pct(r.retransmission),
        pct(r.zero_window)
    )?;
    writeln!(
        out,
        "  reuse       TIME-WAIT {}, port {}",
        l.time_wait_reuse, l.port_reuse
    )?;
    let t = &l.timeline;
    writeln!(
        out,
        "  timeline    {} intervals of {}",
        t.start.len(),
        human_duration(t.interval)
    )?;
    for name in SERIES {
        let v = &t.series[name];
        let total: u64 = v.iter().map(|&x| x as u64).sum();
        if total > 0 {
            writeln!(out, "    {name:<20} |{}| {total}", sparkline(v))?;
        }
    }
    for d in &l.diagnoses {
        write_diagnosis(out, d)?;
    }
    Ok(())
}

fn write_diagnosis(out: &mut dyn Write, d: &super::Diagnosis) -> io::Result<()> {
    let ex: Vec<String> = d.examples.iter().map(|i| format!("#{i}")).collect();
    writeln!(out, "  ! {}: {}", d.id, d.message)?;
    writeln!(
        out,
        "      frames {}–{}; e.g. {} (tcpshake ladder --conn ID)",
        d.first_frame,
        d.last_frame,
        ex.join(", ")
    )
}

/// Listeners busiest first, then the clients that matter and notes.
pub fn write_table(out: &mut dyn Write, r: &ServersReport) -> io::Result<()> {
    if r.listeners.is_empty() {
        writeln!(out, "no connections")?;
    }
    for (i, l) in r.listeners.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        listener_block(out, l)?;
    }
    if !r.clients.is_empty() {
        writeln!(out, "\nclient addresses")?;
        for c in &r.clients {
            writeln!(
                out,
                "  {}  {} connections, {} new ports/s, {} reused within 2·MSL{}",
                c.address,
                c.connections,
                c.ports_per_second
                    .map_or("-".to_string(), |p| format!("{p:.1}")),
                c.reused_within_2msl,
                c.distinct_ports
                    .map_or(String::new(), |p| format!(", {p} distinct ports"))
            )?;
            for d in &c.diagnoses {
                write_diagnosis(out, d)?;
            }
        }
    }
    writeln!(
        out,
        "\n{} listener{}, {} connections, {} diagnos{}",
        r.listeners.len(),
        if r.listeners.len() == 1 { "" } else { "s" },
        r.overall.connections,
        r.diagnoses.len(),
        if r.diagnoses.len() == 1 { "is" } else { "es" }
    )?;
    for n in &r.notes {
        writeln!(out, "note: {n}")?;
    }
    Ok(())
}
