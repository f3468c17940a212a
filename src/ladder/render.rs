use super::{Entry, Fold, Ladder, Row};
use crate::findings::{Severity, Side};
use crate::numbers::thousands;
use std::fmt::Write as _;

/// How the text ladder is drawn.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// Terminal width in columns.
    pub width: usize,
    pub color: bool,
}

impl Default for TextOptions {
    fn default() -> TextOptions {
        TextOptions {
            width: 110,
            color: false,
        }
    }
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1} GB", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1} kB", n as f64 / 1e3),
        n => format!("{n} bytes"),
    }
}

fn fold_text(f: &Fold) -> String {
    let mut s = format!(
        "… {} segment{}, {}",
        thousands(f.segments),
        if f.segments == 1 { "" } else { "s" },
        bytes(f.bytes)
    );
    if f.retransmissions > 0 {
        let _ = write!(
            s,
            ", {} retransmission{}",
            thousands(f.retransmissions),
            if f.retransmissions == 1 { "" } else { "s" }
        );
    }
    if f.findings > 0 {
        let _ = write!(
            s,
            ", {} more finding{}",
            thousands(f.findings),
            if f.findings == 1 { "" } else { "s" }
        );
    }
    s.push_str(" …");
    s
}

fn label(r: &Row) -> String {
    let mut s = format!("{} seq={}", r.flags, r.seq);
    if let Some(a) = r.ack {
        let _ = write!(s, " ack={a}");
    }
    if r.len > 0 {
        let _ = write!(s, " len={}", r.len);
    }
    let _ = write!(s, " win={}", r.window);
    if r.window_unscaled {
        s.push_str(" (unscaled)");
    }
    if let Some(o) = r.options.as_deref().filter(|o| !o.is_empty()) {
        let _ = write!(s, " [{o}]");
    }
    s
}

/// Splits `text` into lines of at most `width` characters at spaces (a word
/// longer than the width gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(20);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && needed > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

fn mark(sev: Severity) -> &'static str {
    match sev {
        Severity::Error => "✗",
        Severity::Warning => "!",
        Severity::Info => "·",
    }
}

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// A horizontal arrow `width` columns wide carrying `text` (never cut: the
/// caller makes the arrows wide enough for the longest label).
fn arrow(text: &str, width: usize, right: bool) -> String {
    let inner = width.saturating_sub(3);
    let t = text;
    let pad = inner.saturating_sub(t.chars().count());
    if right {
        format!("─{t}{}─▶", "─".repeat(pad))
    } else {
        format!("◀─{}{t}─", "─".repeat(pad))
    }
}

/// The ladder as text, one row per segment, folded unless the collector was asked for every row.
pub fn render_text(l: &Ladder, o: TextOptions) -> String {
    let r = &l.report;
    let mut out = String::new();
    let closed_by = r
        .closed_by
        .map(|b| format!(" by {}", b.as_str()))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} {} → {}  handshake {}, close {}{}  ({}, start {})",
        paint(&format!("#{}", r.id), "1", o.color),
        r.client,
        r.server,
        r.handshake,
        r.close,
        closed_by,
        r.file,
        r.start_iso
    );
    const STATE_W: usize = 13;
    let fixed = 8 + 11 + 2 * (STATE_W + 1) + 2;
    // Wide enough for the longest label: a cut label loses its numbers.
    let longest = l
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::Segment(row) => Some(label(row).chars().count() + 3),
            Entry::Folded(_) => None,
        })
        .max()
        .unwrap_or(0);
    let arrow_w = o.width.saturating_sub(fixed).clamp(30, 90).max(longest);
    let head_c = format!("client {}", r.client);
    let head_s = format!("server {}", r.server);
    let gap = arrow_w
        .saturating_sub(head_c.chars().count() + head_s.chars().count())
        .max(1);
    let _ = writeln!(
        out,
        "{:>7} {:>10}  {head_c}{}{head_s}  {:<STATE_W$} {:<STATE_W$}",
        "frame",
        "time",
        " ".repeat(gap),
        "client",
        "server"
    );
    trim_line_end(&mut out);
    let indent = " ".repeat(8 + 11 + 2);
    for e in &l.entries {
        match e {
            Entry::Folded(f) => {
                let _ = writeln!(out, "{indent}{}", paint(&fold_text(f), "2", o.color));
            }
            Entry::Segment(row) => {
                let right = row.from == Side::Client;
                let a = arrow(&label(row), arrow_w, right);
                let a = paint(&a, if right { "36" } else { "35" }, o.color);
                let _ = writeln!(
                    out,
                    "{:>7} {:>10.6}  {a}  {:<STATE_W$} {:<STATE_W$}",
                    row.frame,
                    row.time,
                    row.client_state.as_str(),
                    row.server_state.as_str()
                );
                trim_line_end(&mut out);
                for f in &row.findings {
                    let code = match f.severity {
                        Severity::Error => "31",
                        Severity::Warning => "33",
                        Severity::Info => "2",
                    };
                    let mut line = format!("{} {}: {}", mark(f.severity), f.kind.id(), f.message());
                    if f.count > 1 {
                        let _ = write!(line, " ({} times, up to frame {})", f.count, f.last_frame);
                    }
                    // Long findings wrap under their indent, past the mark.
                    let room = o.width.saturating_sub(indent.len() + 2);
                    for (i, part) in wrap(&line, room).iter().enumerate() {
                        let lead = if i == 0 { "" } else { "  " };
                        let _ = writeln!(out, "{indent}{lead}{}", paint(part, code, o.color));
                    }
                }
            }
        }
    }
    out
}

/// Drops the padding at the end of the last line (keeps its newline).
fn trim_line_end(out: &mut String) {
    if out.ends_with('\n') {
        out.pop();
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    }
}

/// Mermaid leaves a message at `;` and reads `#` as an entity.
fn mermaid_text(s: &str) -> String {
    s.replace(';', ",").replace('#', "no. ")
}

/// The ladder as a Mermaid `sequenceDiagram` (renders on GitHub and GitLab).
pub fn render_mermaid(l: &Ladder) -> String {
    let r = &l.report;
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(out, "    participant C as client {}", r.client);
    let _ = writeln!(out, "    participant S as server {}", r.server);
    let mut last = None;
    for e in &l.entries {
        match e {
            Entry::Folded(f) => {
                let _ = writeln!(out, "    Note over C,S: {}", mermaid_text(&fold_text(f)));
            }
            Entry::Segment(row) => {
                let (a, b) = if row.from == Side::Client {
                    ("C", "S")
                } else {
                    ("S", "C")
                };
                let _ = writeln!(
                    out,
                    "    {a}->>{b}: frame {} {}",
                    row.frame,
                    mermaid_text(&label(row))
                );
                let now = (row.client_state, row.server_state);
                if last.map(|(c, _)| c) != Some(now.0) {
                    let _ = writeln!(out, "    Note left of C: {}", now.0);
                }
                if last.map(|(_, s)| s) != Some(now.1) {
                    let _ = writeln!(out, "    Note right of S: {}", now.1);
                }
                last = Some(now);
                for f in &row.findings {
                    let side = if f.from == Side::Client {
                        "left of C"
                    } else {
                        "right of S"
                    };
                    let _ = writeln!(
                        out,
                        "    Note {side}: {} {}: {}",
                        mark(f.severity),
                        f.kind.id(),
                        mermaid_text(&f.message().to_string())
                    );
                }
            }
        }
    }
    out
}
