//! The policy applied one connection at a time, as both `check` (per file) and
//! `live --check` (per capture session) apply it.

use super::{Policy, Violation};
use crate::model::connection::ConnectionReport;
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

    /// No connection failed and the count is as expected.
    pub fn passed(&self) -> bool {
        self.failed == 0 && self.count_violation().is_none()
    }
}
