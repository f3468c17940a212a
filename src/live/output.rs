//! What a live session writes: each connection as it finishes (the table
//! block, or the very JSON Lines record `analyze --format jsonl` writes), the
//! policy's failures, and a closing summary.

use super::session::LiveStatus;
use crate::check::Gate;
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use crate::report::{JsonlReporter, Reporter, connection_block};
use serde::Serialize;
use std::cell::Cell;
use std::io::{self, IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveFormat {
    Table,
    Jsonl,
}

/// The closing JSON Lines record: `analyze`'s summary record with the
/// capture counters added.
#[derive(Serialize)]
struct SummaryRecord<'a> {
    record: &'static str,
    #[serde(flatten)]
    summary: &'a Summary,
    capture: &'a LiveStatus,
}

/// Writes a session's output to `out` as it goes, and applies the policy.
pub struct LiveReport<W: Write> {
    out: W,
    format: LiveFormat,
    summary: Summary,
    gate: Option<Gate>,
}

impl<W: Write> LiveReport<W> {
    /// `gate`: the policy of `live --check`.
    pub fn new(out: W, format: LiveFormat, gate: Option<Gate>) -> Self {
        LiveReport {
            out,
            format,
            summary: Summary::default(),
            gate,
        }
    }

    /// Writes one finished connection and flushes; each way it breaks the
    /// policy goes to `fails` as a `tcpshake: FAIL` line. A write error is
    /// returned after the connection has been judged and counted.
    pub fn connection(&mut self, c: &ConnectionReport, fails: &mut dyn Write) -> io::Result<()> {
        self.summary.add(c);
        let written = match self.format {
            LiveFormat::Table => write!(self.out, "{}", connection_block(c)),
            LiveFormat::Jsonl => JsonlReporter::new(&mut self.out).connection(c),
        };
        let flushed = self.out.flush();
        if let Some(g) = &mut self.gate
            && let Some(violations) = g.judge(c)
        {
            for x in violations {
                writeln!(
                    fails,
                    "tcpshake: FAIL #{} {} → {} frame {}: {}: {}",
                    c.id, c.client, c.server, x.frame, x.kind, x.message
                )?;
            }
        }
        written.and(flushed)
    }

    /// The closing summary: two lines in the table format, a `summary` record
    /// in JSON Lines.
    pub fn finish(&mut self, status: &LiveStatus) -> io::Result<()> {
        let s = &self.summary;
        match self.format {
            LiveFormat::Table => {
                let counts = |m: &std::collections::BTreeMap<&str, u64>| {
                    m.iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                writeln!(
                    self.out,
                    "{} packets, {} TCP segments, {} connection{}; handshakes: {}; closes: {}",
                    status.packets,
                    status.tcp_segments,
                    s.connections,
                    if s.connections == 1 { "" } else { "s" },
                    counts(&s.handshake),
                    counts(&s.close)
                )?;
                writeln!(
                    self.out,
                    "libpcap: {} dropped by the kernel, {} by the interface",
                    status.kernel_dropped, status.interface_dropped
                )?;
            }
            LiveFormat::Jsonl => {
                let record = SummaryRecord {
                    record: "summary",
                    summary: s,
                    capture: status,
                };
                serde_json::to_writer(&mut self.out, &record)?;
                writeln!(self.out)?;
            }
        }
        self.out.flush()
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The policy's verdict so far, under `--check`.
    pub fn gate(&self) -> Option<&Gate> {
        self.gate.as_ref()
    }

    /// Under `--check`, once the session ended: the rules `check` applies to
    /// a whole file (connection count, server rules, decode errors over
    /// `tally`), each failure written to `fails` as a `tcpshake: FAIL` line.
    /// Whether the session passed the policy; None without `--check`.
    pub fn end_check(
        &mut self,
        tally: &FileReport,
        fails: &mut dyn Write,
    ) -> io::Result<Option<bool>> {
        let Some(g) = &mut self.gate else {
            return Ok(None);
        };
        let violations = g.end_violations(tally);
        for x in &violations {
            writeln!(fails, "tcpshake: FAIL {}: {}", x.kind, x.message)?;
        }
        Ok(Some(g.failed() == 0 && violations.is_empty()))
    }
}

/// The status line on stderr while capturing, refreshed in place; only on a
/// terminal. Output written meanwhile clears it first.
pub struct StatusLine {
    tty: bool,
    shown: Cell<bool>,
}

impl Default for StatusLine {
    fn default() -> Self {
        StatusLine {
            tty: io::stderr().is_terminal(),
            shown: Cell::new(false),
        }
    }
}

impl StatusLine {
    pub fn show(&self, s: &LiveStatus) {
        if self.tty {
            self.shown.set(true);
            eprint!(
                "\r\x1b[2K{} packets  {} live connections  {} finished  {} findings  {} dropped by the kernel",
                s.packets, s.live_connections, s.connections, s.findings, s.kernel_dropped
            );
        }
    }

    /// Erases the line before other output.
    pub fn clear(&self) {
        if self.tty && self.shown.get() {
            eprint!("\r\x1b[2K");
        }
    }

    /// Ends the line for good, once the capture stopped.
    pub fn end(&self) {
        if self.tty && self.shown.get() {
            eprintln!();
        }
    }
}
