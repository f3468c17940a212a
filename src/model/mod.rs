//! The report model: plain data that the judge produces and that `report`,
//! `check` and `ladder` consume. A leaf module: it imports nothing further down
//! the pipeline than itself, so every consumer can depend on it.

pub mod attempt;
pub mod connection;
pub mod file;
pub mod ids;

pub use ids::{FlowIds, IsoTime};

pub use file::{
    DecodeErrorEntry, FRAMES_PER_REASON, FileReport, FileStatus, MAX_LISTED_ERRORS, ReasonCount,
    Summary,
};
