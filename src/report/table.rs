use super::{Reporter, human_duration};
use crate::decode::link_type_name;
use crate::findings::Severity;
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use std::io::{self, Write};
use tabled::builder::Builder;
use tabled::settings::Style;

/// The human report: per file, then the summary, then the connections with
/// findings (every connection with `all`), each finding in plain words.
pub struct TableReporter<W: Write> {
    out: W,
    all: bool,
    kept: Vec<ConnectionReport>,
}

impl<W: Write> TableReporter<W> {
    pub fn new(out: W, all: bool) -> Self {
        TableReporter {
            out,
            all,
            kept: Vec::new(),
        }
    }
}

fn ts(t: Option<crate::capture::Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".into())
}

fn file_table(f: &FileReport) -> String {
    let mut b = Builder::default();
    b.push_record(["file", &f.path]);
    let mut fmt = f.format.as_str().to_string();
    if f.gzip {
        fmt.push_str(" (gzip)");
    }
    b.push_record(["format", &fmt]);
    let lts: Vec<String> = f
        .link_types
        .iter()
        .map(|&lt| format!("{lt} ({})", link_type_name(lt)))
        .collect();
    b.push_record(["link types", &lts.join(", ")]);
    b.push_record(["frames", &f.frames.to_string()]);
    b.push_record(["TCP segments", &f.tcp_segments.to_string()]);
    let mut non_tcp = f.non_tcp.to_string();
    if f.ip_fragments > 0 {
        non_tcp.push_str(&format!(
            " ({} IP fragments, {} datagrams reassembled)",
            f.ip_fragments, f.reassembled_datagrams
        ));
    }
    b.push_record(["non-TCP frames", &non_tcp]);
    if f.fragment_overlaps + f.fragments_incomplete > 0 {
        b.push_record([
            "fragment findings".to_string(),
            format!(
                "{} overlapping with different bytes (error), {} incomplete (warning)",
                f.fragment_overlaps, f.fragments_incomplete
            ),
        ]);
    }
    if f.icmp_errors > 0 {
        b.push_record([
            "ICMP errors about TCP".to_string(),
            format!(
                "{} ({} matching no connection)",
                f.icmp_errors, f.icmp_errors_unmatched
            ),
        ]);
    }
    for (lt, n) in &f.unsupported_link_types {
        b.push_record([
            "unsupported link type".to_string(),
            format!("{lt} ({}): {n} frames skipped", link_type_name(*lt)),
        ]);
    }
    b.push_record(["decode errors", &f.decode_error_count.to_string()]);
    for (reason, r) in &f.decode_errors_by_reason {
        let frames: Vec<String> = r.first_frames.iter().map(|n| n.to_string()).collect();
        let more = if r.count as usize > r.first_frames.len() {
            ", …"
        } else {
            ""
        };
        b.push_record([
            format!("  {reason}"),
            format!("{} (frames {}{more})", r.count, frames.join(", ")),
        ]);
    }
    if let Some(why) = &f.truncated_reason {
        b.push_record(["truncated", &format!("yes: {why}")]);
    }
    b.push_record(["first packet", &ts(f.first_ts)]);
    b.push_record(["last packet", &ts(f.last_ts)]);
    b.push_record(["connections", &f.connections.to_string()]);
    if f.evicted_connections > 0 {
        b.push_record(["evicted (table full)", &f.evicted_connections.to_string()]);
    }
    b.build().with(Style::rounded()).to_string()
}

fn summary_table(s: &Summary) -> String {
    let mut b = Builder::default();
    b.push_record(["connections", &s.connections.to_string(), ""]);
    for (k, v) in &s.handshake {
        if *v > 0 {
            b.push_record(["handshake", k, &v.to_string()]);
        }
    }
    for (k, v) in &s.close {
        if *v > 0 {
            b.push_record(["close", k, &v.to_string()]);
        }
    }
    for (k, v) in s.findings_in_order() {
        let sev = crate::findings::FindingKind::from_id(k)
            .map(|k| k.severity().as_str())
            .unwrap_or("");
        b.push_record([&format!("finding ({sev})"), k, &v.to_string()]);
    }
    b.build().with(Style::rounded()).to_string()
}

pub fn connection_block(c: &ConnectionReport) -> String {
    let mut s = format!(
        "#{} {} → {}  handshake {}  close {}{}  frames {}–{}  {} / {}  [{} {}]\n",
        c.id,
        c.client,
        c.server,
        c.handshake,
        c.close,
        c.closed_by
            .map(|b| format!(" by {}", b.as_str()))
            .unwrap_or_default(),
        c.first_frame,
        c.last_frame,
        c.client_state,
        c.server_state,
        c.conn_state,
        if c.history.is_empty() {
            "-"
        } else {
            &c.history
        },
    );
    if !c.tunnel.is_empty() {
        s.push_str(&format!("    tunnel: {}\n", c.tunnel));
    }
    if let Some(rtt) = c.handshake_rtt.syn_to_synack {
        s.push_str(&format!(
            "    handshake RTT: SYN→SYN-ACK {}",
            human_duration(rtt)
        ));
        if let Some(r2) = c.handshake_rtt.synack_to_ack {
            s.push_str(&format!(", SYN-ACK→ACK {}", human_duration(r2)));
        }
        s.push('\n');
    }
    for f in &c.anomalies {
        let mark = match f.severity {
            Severity::Error => "✗",
            Severity::Warning => "!",
            Severity::Info => "·",
        };
        s.push_str(&format!(
            "    {mark} {:<7} {:<28} frame {:<7} {}",
            f.severity.as_str(),
            f.kind.id(),
            f.frame,
            f.message()
        ));
        if f.count > 1 {
            s.push_str(&format!(
                " ({} times, frames {}–{})",
                thousands(f.count),
                f.frame,
                f.last_frame
            ));
        }
        s.push('\n');
    }
    // The cap bites here: say what it left out, kind by kind.
    for (k, n) in c.suppressed.iter() {
        s.push_str(&format!(
            "    … and {} more {} findings not listed (each severity lists its first {})\n",
            thousands(n),
            k.id(),
            crate::model::connection::MAX_FINDINGS
        ));
    }
    s
}

impl<W: Write> Reporter for TableReporter<W> {
    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()> {
        if self.all || !c.anomalies.is_empty() {
            self.kept.push(c.clone());
        }
        Ok(())
    }

    fn finish(&mut self, files: &[FileReport], summary: &Summary) -> io::Result<()> {
        for f in files {
            writeln!(self.out, "{}", file_table(f))?;
        }
        writeln!(self.out, "{}", summary_table(summary))?;
        self.kept.sort_by_key(|c| c.id);
        if !self.kept.is_empty() {
            writeln!(
                self.out,
                "\n{}:",
                if self.all {
                    "Connections"
                } else {
                    "Connections with findings"
                }
            )?;
        }
        for c in &self.kept {
            write!(self.out, "{}", connection_block(c))?;
        }
        self.out.flush()
    }
}

/// `10641` → `10,641`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10641), "10,641");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
