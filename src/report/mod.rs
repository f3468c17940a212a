//! Reports: a table for people, JSON / JSON Lines / CSV for machines.
//! The JSON shape is the contract documented in docs/json.md.

mod csv;
mod json;
mod table;

pub use self::csv::CsvReporter;
pub use self::json::{JsonReporter, JsonlReporter};
pub use self::table::{TableReporter, connection_block};

use crate::judge::ConnectionReport;
use crate::model::{FileReport, Summary};
use std::io;

/// Something that writes a report as the run goes.
pub trait Reporter {
    /// A connection finished.
    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()>;
    /// The run ended.
    fn finish(&mut self, files: &[FileReport], summary: &Summary) -> io::Result<()>;
}

/// Formats seconds for people: `1.234 s`, `12.3 ms`, `45 µs`.
pub fn human_duration(secs: f64) -> String {
    let a = secs.abs();
    if a >= 1.0 {
        format!("{secs:.3} s")
    } else if a >= 1e-3 {
        format!("{:.1} ms", secs * 1e3)
    } else {
        format!("{:.0} µs", secs * 1e6)
    }
}
