//! GitHub Actions annotations: one `::error` workflow command per violation,
//! so failures show on the run's summary page.

use super::FileVerdict;
use std::io::{self, Write};

/// GitHub's workflow-command escaping: data escapes `%`, CR and LF; property
/// values also `:` and `,`.
fn escape(s: &str, property: bool) -> String {
    let mut o = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    if property {
        o = o.replace(':', "%3A").replace(',', "%2C");
    }
    o
}

/// An `::error file=…,title=…::message` line for every capture-wide and
/// every connection violation.
pub fn write_annotations(out: &mut dyn Write, verdicts: &[FileVerdict]) -> io::Result<()> {
    for v in verdicts {
        let file = escape(&v.path, true);
        if let Some(e) = &v.error {
            writeln!(
                out,
                "::error file={file},title=tcpshake unreadable::{}",
                escape(e, false)
            )?;
        }
        for cv in &v.capture_findings {
            writeln!(
                out,
                "::error file={file},title={}::{}",
                escape(&format!("tcpshake {}", cv.kind), true),
                escape(&cv.message, false)
            )?;
        }
        for c in &v.failed {
            for viol in &c.findings {
                writeln!(
                    out,
                    "::error file={file},title={}::{}",
                    escape(&format!("tcpshake {}", viol.kind), true),
                    escape(
                        &format!("{} frame {}: {}", c.name(), viol.frame, viol.message),
                        false
                    )
                )?;
            }
        }
    }
    Ok(())
}
