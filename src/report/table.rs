use super::time::TimeFormat;
use super::{Reporter, human_duration};
use crate::capture::Timestamp;
use crate::decode::link_type_name;
use crate::findings::Severity;
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use crate::numbers::thousands;
use std::io::{self, Write};
use tabled::builder::Builder;
use tabled::settings::Style;

/// The human report, as tshark prints: each connection that failed or has
/// findings (every connection with `all`) as it finishes, then per file and
/// the summary at the end. Nothing is kept, so endless input is fine.
pub struct TableReporter<W: Write> {
    out: W,
    all: bool,
    time: TimeFormat,
    /// The first connection's start: the origin of relative times.
    origin: Option<Timestamp>,
    printed: u64,
}

impl<W: Write> TableReporter<W> {
    pub fn new(out: W, all: bool, time: TimeFormat) -> Self {
        TableReporter {
            out,
            all,
            time,
            origin: None,
            printed: 0,
        }
    }
}

fn file_table(f: &FileReport, time: TimeFormat) -> String {
    let ts = |t: Option<Timestamp>| match (t, f.start) {
        (Some(t), Some(o)) => time.show(t, o),
        _ => "-".to_string(),
    };
    let mut b = Builder::default();
    b.push_record(["file", &f.path]);
    if let Some(e) = &f.error {
        b.push_record(["unreadable", e]);
        return b.build().with(Style::rounded()).to_string();
    }
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
            format!(
                "{} frame{}: {}{more}",
                thousands(r.count),
                if r.count == 1 { "" } else { "s" },
                frames.join(", ")
            ),
        ]);
    }
    if let Some(why) = &f.truncated_reason {
        b.push_record(["truncated", &format!("yes: {why}")]);
    }
    if f.damage_count > 0 {
        b.push_record([
            "DAMAGED".to_string(),
            format!(
                "{} region{}, {} bytes skipped; read on past {}",
                f.damage_count,
                if f.damage_count == 1 { "" } else { "s" },
                f.damaged_bytes,
                if f.damage_count == 1 { "it" } else { "them" },
            ),
        ]);
        for r in f.damaged_regions.iter().take(DAMAGE_ROWS) {
            b.push_record([
                format!("  at byte {}", r.offset),
                format!(
                    "{} bytes skipped, {} frames before, {} after: {}",
                    r.skipped, r.frames_before, r.frames_after, r.kind
                ),
            ]);
        }
        let shown = f.damaged_regions.len().min(DAMAGE_ROWS) as u64;
        if f.damage_count > shown {
            b.push_record([
                "  …".to_string(),
                format!(
                    "{} more not shown (JSON lists the first {})",
                    f.damage_count - shown,
                    crate::capture::MAX_LISTED_DAMAGE
                ),
            ]);
        }
    }
    b.push_record(["first packet", &ts(f.start)]);
    b.push_record(["last packet", &ts(f.end)]);
    if let (Some(a), Some(z)) = (f.start, f.end) {
        b.push_record(["duration", &human_duration(z.secs_since(a))]);
    }
    b.push_record(["connections", &f.connections.to_string()]);
    if f.evicted_connections > 0 {
        b.push_record(["evicted (table full)", &f.evicted_connections.to_string()]);
    }
    if f.forgotten_closed_tuples > 0 {
        let n = f.forgotten_closed_tuples.to_string();
        b.push_record(["closed 4-tuples forgotten early", &n]);
    }
    if let Some(j) = &f.capture_time_jump {
        let what = format!(
            "{} (first at frame {}, {:+.3} s)",
            f.capture_time_jumps, j.frame, j.seconds
        );
        b.push_record(["capture time jumps", &what]);
    }
    b.build().with(Style::rounded()).to_string()
}

/// Damaged regions drawn one per row in the file table.
const DAMAGE_ROWS: usize = 5;

fn summary_table(s: &Summary) -> String {
    let mut b = Builder::default();
    b.push_record(["connections", &thousands(s.connections), ""]);
    b.push_record([
        "failed",
        "handshake or close",
        &thousands(s.connections_failed),
    ]);
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

/// One connection in words: who, verdicts, where in the file, the figures
/// tshark's conv,tcp gives (packets, bytes, duration), then its findings.
pub fn connection_block(c: &ConnectionReport) -> String {
    connection_block_at(c, TimeFormat::Iso, c.start)
}

fn connection_block_at(c: &ConnectionReport, time: TimeFormat, origin: Timestamp) -> String {
    let mut s = format!(
        "#{} {} → {}  handshake {}  close {}{}{}\n",
        c.id,
        c.client,
        c.server,
        c.handshake,
        c.close,
        c.closed_by
            .map(|b| format!(" by {}", b.as_str()))
            .unwrap_or_default(),
        if c.failed() { "  FAILED" } else { "" },
    );
    s.push_str(&format!(
        "    {}  frames {}–{}  start {}  duration {}  packets {} → / {} ←  bytes {} → / {} ←\n",
        c.file,
        c.first_frame,
        c.last_frame,
        time.show(c.start, origin),
        human_duration(c.duration),
        thousands(c.packets.client),
        thousands(c.packets.server),
        thousands(c.payload_bytes.client),
        thousands(c.payload_bytes.server),
    ));
    s.push_str(&format!(
        "    states {} / {}  zeek [{} {}]\n",
        c.client_state,
        c.server_state,
        c.conn_state,
        if c.history.is_empty() {
            "-"
        } else {
            &c.history
        },
    ));
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
    for f in &c.findings {
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
        if !self.all && !c.failed() && c.findings.is_empty() && c.suppressed.is_empty() {
            return Ok(());
        }
        let origin = *self.origin.get_or_insert(c.start);
        if self.printed == 0 {
            let title = if self.all {
                "Connections, as they finish"
            } else {
                "Failed connections and connections with findings, as they finish"
            };
            writeln!(self.out, "{title}:")?;
        }
        self.printed += 1;
        write!(self.out, "{}", connection_block_at(c, self.time, origin))
    }

    fn idle(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, files: &[FileReport], summary: &Summary) -> io::Result<()> {
        if self.printed > 0 {
            writeln!(self.out)?;
        }
        for f in files {
            writeln!(self.out, "{}", file_table(f, self.time))?;
        }
        writeln!(self.out, "{}", summary_table(summary))?;
        self.out.flush()
    }
}
