//! Reports: a table for people, JSON / JSON Lines / CSV for machines.
//! The JSON shape is the contract documented in docs/json.md.

mod csv;
mod json;
mod table;

pub use self::csv::CsvReporter;
pub use self::json::{JsonReporter, JsonlReporter};
pub use self::table::{TableReporter, connection_block};
pub use crate::duration::human_duration;

use crate::analyze::FileReport;
use crate::findings::{ALL_KINDS, Severity};
use crate::model::connection::{Close, ConnectionReport, Handshake};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;

/// Counts over every connection of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub files: u64,
    pub connections: u64,
    pub handshake: BTreeMap<&'static str, u64>,
    pub close: BTreeMap<&'static str, u64>,
    pub findings: BTreeMap<&'static str, u64>,
    pub findings_by_severity: BTreeMap<&'static str, u64>,
    pub connections_with_errors: u64,
    pub connections_with_warnings: u64,
}

impl Default for Summary {
    fn default() -> Summary {
        Summary {
            files: 0,
            connections: 0,
            handshake: Handshake::ALL.iter().map(|h| (h.as_str(), 0)).collect(),
            close: Close::ALL.iter().map(|c| (c.as_str(), 0)).collect(),
            findings: BTreeMap::new(),
            findings_by_severity: [Severity::Error, Severity::Warning, Severity::Info]
                .iter()
                .map(|s| (s.as_str(), 0))
                .collect(),
            connections_with_errors: 0,
            connections_with_warnings: 0,
        }
    }
}

impl Summary {
    pub fn add(&mut self, c: &ConnectionReport) {
        self.connections += 1;
        *self.handshake.entry(c.handshake.as_str()).or_default() += 1;
        *self.close.entry(c.close.as_str()).or_default() += 1;
        let mut err = false;
        let mut warn = false;
        // Every finding counts, listed or not.
        for (k, n) in c.finding_counts().iter() {
            *self.findings.entry(k.id()).or_default() += n;
            *self
                .findings_by_severity
                .entry(k.severity().as_str())
                .or_default() += n;
            err |= k.severity() == Severity::Error;
            warn |= k.severity() == Severity::Warning;
        }
        self.connections_with_errors += err as u64;
        self.connections_with_warnings += warn as u64;
    }

    /// Finding counts in catalogue order.
    pub fn findings_in_order(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        ALL_KINDS
            .iter()
            .filter_map(|k| self.findings.get(k.id()).map(|&n| (k.id(), n)))
    }
}

/// Something that writes a report as the run goes.
pub trait Reporter {
    /// A connection finished.
    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()>;
    /// The run ended.
    fn finish(&mut self, files: &[FileReport], summary: &Summary) -> io::Result<()>;
}
