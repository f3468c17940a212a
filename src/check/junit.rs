//! JUnit XML, as GitHub, GitLab and Jenkins test reporters read it: one
//! testsuite per capture, one testcase per judged connection. Passing
//! connections beyond the first hundred are aggregated; every failure is kept.

use super::{FileVerdict, LISTED_PASSES, Status};
use std::io::{self, Write};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

pub fn write_junit(out: &mut dyn Write, files: &[FileVerdict]) -> io::Result<()> {
    let count = |f: &FileVerdict| -> (u64, u64, u64) {
        let aggregated = f.passed_count > LISTED_PASSES as u64;
        let pass_cases = if aggregated {
            f.passed.len() as u64 + 1
        } else {
            f.passed.len() as u64
        };
        let tests = pass_cases + f.failed.len() as u64 + 1;
        let failures = f.failed.len() as u64 + (!f.capture_findings.is_empty()) as u64;
        let errors = (f.status == Status::Error) as u64;
        (tests, failures, errors)
    };
    let (mut t, mut fl, mut er) = (0, 0, 0);
    for f in files {
        let (a, b, c) = count(f);
        t += a;
        fl += b;
        er += c;
    }
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="tcpshake" tests="{t}" failures="{fl}" errors="{er}">"#
    )?;
    for f in files {
        let (tests, failures, errors) = count(f);
        let path = esc(&f.path);
        writeln!(
            out,
            r#"  <testsuite name="{path}" tests="{tests}" failures="{failures}" errors="{errors}">"#
        )?;
        // The capture as a whole: readable, and the connection count.
        write!(out, r#"    <testcase classname="{path}" name="capture""#)?;
        if let Some(e) = &f.error {
            writeln!(out, ">")?;
            writeln!(out, r#"      <error message="{}"/>"#, esc(e))?;
            writeln!(out, "    </testcase>")?;
        } else if !f.capture_findings.is_empty() {
            writeln!(out, ">")?;
            for v in &f.capture_findings {
                writeln!(
                    out,
                    r#"      <failure message="{}" type="{}"/>"#,
                    esc(&v.message),
                    esc(&v.kind)
                )?;
            }
            writeln!(out, "    </testcase>")?;
        } else {
            writeln!(out, "/>")?;
        }
        for c in &f.failed {
            writeln!(
                out,
                r#"    <testcase classname="{path}" name="{}">"#,
                esc(&c.name())
            )?;
            for v in &c.findings {
                writeln!(
                    out,
                    r#"      <failure message="frame {}: {}" type="{}">{}</failure>"#,
                    v.frame,
                    esc(&v.message),
                    esc(&v.kind),
                    esc(&format!(
                        "{} frame {}: {} (expected {}, saw {})",
                        c.name(),
                        v.frame,
                        v.message,
                        v.expected.as_ref().map_or("-".into(), |x| x.to_string()),
                        v.actual.as_ref().map_or("-".into(), |x| x.to_string())
                    ))
                )?;
            }
            writeln!(out, "    </testcase>")?;
        }
        for name in &f.passed {
            writeln!(
                out,
                r#"    <testcase classname="{path}" name="{}"/>"#,
                esc(&name.name())
            )?;
        }
        if f.passed_count > LISTED_PASSES as u64 {
            writeln!(
                out,
                r#"    <testcase classname="{path}" name="{} more connections passed"/>"#,
                f.passed_count - f.passed.len() as u64
            )?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")?;
    Ok(())
}
