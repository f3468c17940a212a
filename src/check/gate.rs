//! The policy applied one connection at a time, as both `check` (per file) and
//! `live --check` (per capture session) apply it, and to the whole run once it
//! ended.

use super::{Observed, Policy, Violation};
use crate::model::connection::ConnectionReport;
use crate::model::file::FileReport;
use crate::servers::{ServerOptions, ServerView};

/// Counts the connections a policy judged and failed, and tells whether the
/// run passes.
#[derive(Debug, Clone)]
pub struct Gate {
    policy: Policy,
    judged: u64,
    failed: u64,
    /// The server view of the judged connections, when the policy has rules on it.
    servers: Option<Box<ServerView>>,
}

impl Gate {
    pub fn new(policy: Policy) -> Gate {
        let servers = (!policy.server_rules.is_empty()).then(|| {
            Box::new(ServerView::new(ServerOptions {
                two_msl: policy.two_msl,
                ..ServerOptions::default()
            }))
        });
        Gate {
            policy,
            judged: 0,
            failed: 0,
            servers,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Judges one connection: `None` when the policy does not apply to it
    /// (`ports`/`hosts`), else every way it breaks the policy (empty: it passed).
    pub fn judge(&mut self, c: &ConnectionReport) -> Option<Vec<Violation>> {
        if !self.policy.selects(c) {
            return None;
        }
        self.judged += 1;
        if let Some(view) = &mut self.servers {
            view.add(c);
        }
        let v = self.policy.violations(c);
        self.failed += !v.is_empty() as u64;
        Some(v)
    }

    /// Connections the policy applied to.
    pub fn judged(&self) -> u64 {
        self.judged
    }

    /// Connections that broke the policy.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    /// The violation of the whole run: a connection count outside `expect_connections`.
    pub fn count_violation(&self) -> Option<Violation> {
        let range = self.policy.expect_connections?;
        (!range.contains(self.judged)).then(|| Violation {
            frame: 0,
            kind: "connection_count".into(),
            severity: None,
            expected: Some(super::Observed::Text(range.to_string())),
            actual: Some(super::Observed::Integer(self.judged)),
            message: format!(
                "expected {range} connection{}, saw {}",
                if range.to_string() == "1" { "" } else { "s" },
                self.judged
            ),
        })
    }

    /// The violations of the server rules (rates, percentiles, diagnoses)
    /// over the connections judged so far; the view is consumed.
    pub fn server_violations(&mut self) -> Vec<Violation> {
        match self.servers.take() {
            Some(view) => super::servers::violations(&self.policy.server_rules, &view.finish()),
            None => Vec::new(),
        }
    }

    /// The violations of a run that ended (a file read, a capture session
    /// stopped), `tally` being what its frames were: the connection count
    /// (`expect_connections`; without it, no connection at all is a failure),
    /// the server rules (the view is consumed), and decode errors over
    /// `max_decode_errors`. `check` and `live --check` apply the same ones.
    pub fn end_violations(&mut self, tally: &FileReport) -> Vec<Violation> {
        let mut v: Vec<Violation> = self.count_violation().into_iter().collect();
        v.extend(self.server_violations());
        if self.policy.expect_connections.is_none() && self.judged == 0 {
            v.push(Violation {
                frame: 0,
                kind: "no_connections".into(),
                severity: None,
                expected: Some(Observed::Text("1..".into())),
                actual: Some(Observed::Integer(0)),
                message: "no connection was judged; --expect-connections 0 accepts that".into(),
            });
        }
        v.extend(decode_error_violation(tally, self.policy.max_decode_errors));
        v
    }

    /// No connection failed and the count is as expected.
    pub fn passed(&self) -> bool {
        self.failed == 0 && self.count_violation().is_none()
    }
}

/// More than `max_percent` of the frames could not be decoded: the violation,
/// with the count of each reason.
fn decode_error_violation(report: &FileReport, max_percent: f64) -> Option<Violation> {
    let (errors, frames) = (report.decode_error_count, report.frames);
    if errors == 0 || frames == 0 || errors as f64 * 100.0 <= max_percent * frames as f64 {
        return None;
    }
    let share = errors as f64 * 100.0 / frames as f64;
    let reasons: Vec<String> = report
        .decode_errors_by_reason
        .iter()
        .map(|(reason, r)| format!("{reason} {}", r.count))
        .collect();
    Some(Violation {
        frame: report.decode_errors.first().map_or(0, |e| e.frame),
        kind: "decode_errors".into(),
        severity: None,
        expected: Some(Observed::Text(format!("≤ {max_percent}%"))),
        actual: Some(Observed::Text(format!("{share:.2}%"))),
        message: format!(
            "{errors} of {frames} frames ({share:.2}%) could not be decoded, more than {max_percent}% ({}); --max-decode-errors raises the bound",
            reasons.join(", ")
        ),
    })
}
