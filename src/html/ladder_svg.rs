//! A connection's ladder as SVG: two vertical lines (client, server), one
//! arrow per drawn segment with its flags and relative numbers, both RFC 9293
//! states (§3.3.2) beside each row, findings under the row that raised them,
//! and the folded data transfer as one band, as in the terminal ladder.

use super::esc;
use crate::findings::{Finding, Severity, Side};
use crate::ladder::{Entry, Fold, Ladder, Row};
use std::fmt::Write as _;

const WIDTH: u32 = 900;
const CLIENT_X: u32 = 290;
const SERVER_X: u32 = 690;
const TOP: u32 = 44;
const ROW: u32 = 30;
const NOTE: u32 = 15;
const FOLD: u32 = 30;

fn label(r: &Row) -> String {
    let mut s = format!("{} seq={}", r.flags, r.seq);
    if let Some(a) = r.ack {
        let _ = write!(s, " ack={a}");
    }
    if r.len > 0 {
        let _ = write!(s, " len={}", r.len);
    }
    let _ = write!(s, " win={}", r.window);
    s
}

fn fold_text(f: &Fold) -> String {
    let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let mut s = format!("… {}, {} bytes", plural(f.segments, "segment"), f.bytes);
    if f.retransmissions > 0 {
        let _ = write!(s, ", {}", plural(f.retransmissions, "retransmission"));
    }
    if f.findings > 0 {
        let _ = write!(s, ", {} more", plural(f.findings, "finding"));
    }
    s.push_str(" …");
    s
}

fn finding_text(f: &Finding) -> String {
    let mark = match f.severity {
        Severity::Error => "✗",
        Severity::Warning => "!",
        Severity::Info => "·",
    };
    let mut text = format!("{mark} {}: {}", f.kind.id(), f.message());
    if f.count > 1 {
        let _ = write!(text, " ({} times, up to frame {})", f.count, f.last_frame);
    }
    text
}

fn height(l: &Ladder) -> u32 {
    let rows: u32 = l
        .entries
        .iter()
        .map(|e| match e {
            Entry::Segment(r) => ROW + NOTE * r.findings.len() as u32,
            Entry::Folded(_) => FOLD,
        })
        .sum();
    TOP + rows + 12
}

/// The ladder as one `<svg>` element. Each segment is a `<g class="seg">`,
/// each fold a `<g class="fold">`, each finding a `<text class="finding">`.
pub fn render(l: &Ladder) -> String {
    let r = &l.report;
    let h = height(l);
    // Findings are written in full: the drawing widens to hold the longest
    // (11 px monospace, about 6.7 px a character).
    let longest = l
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Segment(r) => r
                .findings
                .iter()
                .map(finding_text)
                .map(|t| t.chars().count())
                .max(),
            Entry::Folded(_) => None,
        })
        .max()
        .unwrap_or(0);
    let width = WIDTH.max(CLIENT_X + 16 + (longest as f64 * 6.7) as u32);
    let mut s = String::with_capacity(512 + 400 * l.entries.len());
    let _ = write!(
        s,
        r#"<svg class="ladder" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" viewBox="0 0 {width} {h}" role="img" aria-label="ladder of connection {id}">"#,
        id = r.id
    );
    let _ = write!(
        s,
        r#"<text x="{CLIENT_X}" y="16" text-anchor="middle" class="end">client {}</text><text x="{SERVER_X}" y="16" text-anchor="middle" class="end">server {}</text>"#,
        esc(&r.client.to_string()),
        esc(&r.server.to_string())
    );
    let _ = write!(
        s,
        r#"<text x="6" y="34" class="head">frame</text><text x="60" y="34" class="head">time (s)</text><text x="{}" y="34" text-anchor="end" class="head">client state</text><text x="{}" y="34" class="head">server state</text>"#,
        CLIENT_X - 8,
        SERVER_X + 8
    );
    for x in [CLIENT_X, SERVER_X] {
        let _ = write!(
            s,
            r#"<line x1="{x}" y1="22" x2="{x}" y2="{}" class="life"/>"#,
            h - 6
        );
    }
    let mut y = TOP;
    for e in &l.entries {
        match e {
            Entry::Folded(f) => {
                let _ = write!(
                    s,
                    r#"<g class="fold"><rect x="{}" y="{}" width="{}" height="{}" rx="4"/><text x="{}" y="{}" text-anchor="middle">{}</text></g>"#,
                    CLIENT_X - 4,
                    y + 3,
                    SERVER_X - CLIENT_X + 8,
                    FOLD - 8,
                    (CLIENT_X + SERVER_X) / 2,
                    y + 18,
                    esc(&fold_text(f))
                );
                y += FOLD;
            }
            Entry::Segment(row) => {
                let right = row.from == Side::Client;
                let (x1, x2) = if right {
                    (CLIENT_X, SERVER_X)
                } else {
                    (SERVER_X, CLIENT_X)
                };
                let ay = y + 20;
                let head = if right {
                    format!("{},{} {},{} {},{}", x2, ay, x2 - 9, ay - 4, x2 - 9, ay + 4)
                } else {
                    format!("{},{} {},{} {},{}", x2, ay, x2 + 9, ay - 4, x2 + 9, ay + 4)
                };
                let worst = row
                    .findings
                    .iter()
                    .map(|f| f.severity)
                    .min_by_key(|s| match s {
                        Severity::Error => 0,
                        Severity::Warning => 1,
                        Severity::Info => 2,
                    });
                let class = match worst {
                    Some(Severity::Error) => "seg error",
                    Some(Severity::Warning) => "seg warning",
                    _ if right => "seg c2s",
                    _ => "seg s2c",
                };
                let _ = write!(
                    s,
                    r#"<g class="{class}" data-frame="{frame}"><title>frame {frame}, {time:.6} s</title><text x="6" y="{ay}" class="num">{frame}</text><text x="60" y="{ay}" class="num">{time:.6}</text><text x="{sx}" y="{ay}" text-anchor="end" class="state">{cs}</text><text x="{tx}" y="{ay}" class="state">{ss}</text><line x1="{x1}" y1="{ay}" x2="{x2}" y2="{ay}"/><polygon points="{head}"/><text x="{mx}" y="{ly}" text-anchor="middle" class="label">{label}</text></g>"#,
                    frame = row.frame,
                    time = row.time,
                    sx = CLIENT_X - 8,
                    tx = SERVER_X + 8,
                    cs = row.client_state.as_str(),
                    ss = row.server_state.as_str(),
                    mx = (CLIENT_X + SERVER_X) / 2,
                    ly = ay - 5,
                    label = esc(&label(row)),
                );
                y += ROW;
                for f in &row.findings {
                    let class = match f.severity {
                        Severity::Error => "finding error",
                        Severity::Warning => "finding warning",
                        Severity::Info => "finding info",
                    };
                    let text = finding_text(f);
                    let _ = write!(
                        s,
                        r#"<text x="{}" y="{}" class="{class}">{}</text>"#,
                        CLIENT_X + 6,
                        y + 6,
                        esc(&text)
                    );
                    y += NOTE;
                }
            }
        }
    }
    s.push_str("</svg>");
    s
}
