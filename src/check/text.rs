//! `check`'s output for people (one line a file, the failing connections
//! with their ladders) and for machines (one JSON document).

use super::{FileVerdict, Status};
use crate::judge::Config;
use crate::ladder::{TextOptions, render_text};
use std::collections::HashMap;
use std::io::{self, Write};

/// Failing connections drawn per file in the text output; the rest are only listed.
pub const LADDERS_PER_FILE: usize = 20;

/// `PASS`/`FAIL`/`ERROR` per file, each failing connection with its
/// violations and (with `ladders`) its folded ladder, then a total line.
/// Ladders are drawn from a second read of the file, with `config`.
pub fn write_text(
    out: &mut dyn Write,
    verdicts: &[FileVerdict],
    config: &Config,
    ladders: bool,
    o: TextOptions,
) -> io::Result<()> {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    for v in verdicts {
        match v.status {
            Status::Error => {
                writeln!(out, "ERROR {}", v.error.as_deref().unwrap_or("unreadable"))?;
                continue;
            }
            Status::Pass => writeln!(
                out,
                "PASS  {}  {} connection{} judged",
                v.path,
                v.judged,
                plural(v.judged)
            )?,
            Status::Fail => writeln!(
                out,
                "FAIL  {}  {} connection{} judged, {} failed",
                v.path,
                v.judged,
                plural(v.judged),
                v.failed.len()
            )?,
        }
        for cv in &v.capture_findings {
            writeln!(out, "      {}: {}", cv.kind, cv.message)?;
        }
        // The folded ladder of each failing connection, around its failing frames.
        let drawn = if ladders {
            super::failing_ladders(v, config, LADDERS_PER_FILE)
        } else {
            HashMap::new()
        };
        for c in &v.failed {
            writeln!(out, "      {}", c.name())?;
            for viol in &c.findings {
                let sev = viol
                    .severity
                    .map(|s| format!(" ({})", s.as_str()))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "        frame {}  {}{}: {}",
                    viol.frame, viol.kind, sev, viol.message
                )?;
            }
            if let Some(l) = drawn.get(&c.connection.id) {
                // Drawn 8 columns in: narrower by as much.
                let inner = TextOptions {
                    width: o.width.saturating_sub(8),
                    ..o
                };
                for line in render_text(l, inner).lines().skip(1) {
                    writeln!(out, "        {line}")?;
                }
            }
        }
        if ladders && v.failed.len() > LADDERS_PER_FILE {
            writeln!(
                out,
                "      (ladders drawn for the first {LADDERS_PER_FILE} failing connections; `tcpshake ladder --conn ID` draws any)"
            )?;
        }
        if let Some(t) = &v.truncated {
            writeln!(out, "      note: truncated capture ({t})")?;
        }
        if let Some(first) = v.damaged_regions.first() {
            writeln!(
                out,
                "      note: {} damaged region{} accepted ({} bytes skipped), the first at byte {}: {}",
                v.damage_count,
                if v.damage_count == 1 { "" } else { "s" },
                v.damaged_bytes,
                first.offset,
                first.kind
            )?;
        }
    }
    let n = verdicts.len();
    let passed = verdicts.iter().filter(|v| v.status == Status::Pass).count();
    let failed = verdicts.iter().filter(|v| v.status == Status::Fail).count();
    let errors = n - passed - failed;
    writeln!(
        out,
        "{n} file{}: {passed} passed, {failed} failed{}",
        if n == 1 { "" } else { "s" },
        if errors > 0 {
            format!(", {errors} unreadable")
        } else {
            String::new()
        }
    )
}

/// One [`super::CheckReport`] on one line.
pub fn write_json(out: &mut dyn Write, verdicts: &[FileVerdict]) -> io::Result<()> {
    let report = super::CheckReport {
        passed: verdicts.iter().all(|v| v.status == Status::Pass),
        files: verdicts.to_vec(),
    };
    serde_json::to_writer(&mut *out, &report).map_err(io::Error::other)?;
    writeln!(out)
}
