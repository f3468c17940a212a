//! Reports: a table for people, JSON / JSON Lines / CSV for machines.
//! The JSON shape is the contract documented in docs/json.md.

mod csv;
mod json;
mod table;
mod time;

pub use self::csv::CsvReporter;
pub(crate) use self::csv::{opt as csv_number, quote as csv_field};
pub use self::json::{JsonReporter, JsonlReporter};
pub use self::table::{TableReporter, connection_block};
pub use self::time::TimeFormat;
pub use crate::duration::human_duration;

use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use std::io;

/// Something that writes a report as the run goes.
pub trait Reporter {
    /// A connection finished.
    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()>;
    /// The run ended.
    fn finish(&mut self, files: &[FileReport], summary: &Summary) -> io::Result<()>;
    /// The input has nothing more buffered: what was written so far goes out
    /// now. Connections are written into a buffer and reach the output here
    /// (or when the buffer fills), not one `write` each, yet a reader of
    /// `tcpdump -w - | tcpshake analyze -` still sees every line as soon as
    /// the input pauses.
    fn idle(&mut self) -> io::Result<()> {
        Ok(())
    }
}
