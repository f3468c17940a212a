//! `check --summary-md`: Markdown for a CI job summary (GitHub's
//! `$GITHUB_STEP_SUMMARY`) or a merge-request comment (GitLab, Gitea): a
//! pass/fail table per capture, each failure in words, and the failing
//! connections' ladders as ```mermaid blocks, which those sites draw.

use super::{FileVerdict, Status};
use crate::judge::Config;
use crate::ladder::render_mermaid;
use std::io::{self, Write};

/// Failing connections described per capture; the rest are counted.
pub const LISTED_PER_FILE: usize = 20;
/// Failing connections drawn per capture (GitHub caps a step summary at 1 MiB).
pub const MERMAID_PER_FILE: usize = 5;

/// Text inside a Markdown table cell or inline code: no pipe or backtick
/// breaks out of it, no newline ends the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('`', "'")
        .replace(['\n', '\r'], " ")
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Writes the summary. Ladders are drawn from a second read of each failing
/// file, with `config`.
pub fn write_summary_md(
    out: &mut dyn Write,
    verdicts: &[FileVerdict],
    config: &Config,
) -> io::Result<()> {
    let failed = verdicts.iter().filter(|v| v.status != Status::Pass).count();
    let n = verdicts.len();
    if failed == 0 {
        writeln!(
            out,
            "## tcpshake check: all {n} capture{} passed\n",
            plural(n as u64)
        )?;
    } else {
        writeln!(
            out,
            "## tcpshake check: {failed} of {n} capture{} failed\n",
            plural(n as u64)
        )?;
    }
    writeln!(out, "| capture | result | connections judged | failed |")?;
    writeln!(out, "| --- | --- | ---: | ---: |")?;
    for v in verdicts {
        let result = match v.status {
            Status::Pass => "✅ pass",
            Status::Fail => "❌ fail",
            Status::Error => "⚠️ unreadable",
        };
        writeln!(
            out,
            "| `{}` | {result} | {} | {} |",
            cell(&v.path),
            v.judged,
            v.failed.len()
        )?;
    }
    for v in verdicts.iter().filter(|v| v.status != Status::Pass) {
        writeln!(out, "\n### `{}`\n", cell(&v.path))?;
        if v.status == Status::Error {
            writeln!(
                out,
                "Could not be read: {}",
                cell(v.error.as_deref().unwrap_or("unreadable"))
            )?;
            continue;
        }
        for cv in &v.capture_findings {
            writeln!(out, "- **{}**: {}", cell(&cv.kind), cell(&cv.message))?;
        }
        let drawn = super::failing_ladders(v, config, MERMAID_PER_FILE);
        for c in v.failed.iter().take(LISTED_PER_FILE) {
            writeln!(out, "- **{}**", cell(&c.name()))?;
            for x in &c.findings {
                let sev = x
                    .severity
                    .map(|s| format!(" ({})", s.as_str()))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  - frame {}: `{}`{sev}: {}",
                    x.frame,
                    cell(&x.kind),
                    cell(&x.message)
                )?;
            }
            if let Some(l) = drawn.get(&c.connection.id) {
                writeln!(out, "\n```mermaid\n{}```\n", render_mermaid(l))?;
            }
        }
        let listed = v.failed.len().min(LISTED_PER_FILE);
        if v.failed.len() > listed {
            let more = (v.failed.len() - listed) as u64;
            writeln!(
                out,
                "- … and {more} more failing connection{}; `tcpshake check {}` lists them all",
                plural(more),
                cell(&v.path)
            )?;
        }
        if v.failed.len() > MERMAID_PER_FILE {
            writeln!(
                out,
                "\nLadders drawn for the first {MERMAID_PER_FILE}; `tcpshake ladder FILE --conn ID` draws any."
            )?;
        }
        if let Some(t) = &v.truncated {
            writeln!(out, "\nNote: truncated capture ({})", cell(t))?;
        }
    }
    Ok(())
}
