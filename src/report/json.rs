use super::Reporter;
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use serde::Serialize;
use std::io::{self, Write};

/// One JSON document: `{"connections": [...], "files": [...], "summary": {...}}`.
/// Connections are written as they finish, so memory stays bounded.
pub struct JsonReporter<W: Write> {
    out: W,
    started: bool,
    first: bool,
}

impl<W: Write> JsonReporter<W> {
    pub fn new(out: W) -> Self {
        JsonReporter {
            out,
            started: false,
            first: true,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.out.write_all(b"{\"connections\":[")?;
            self.started = true;
        }
        Ok(())
    }
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()> {
        self.start()?;
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        self.out.write_all(b"\n")?;
        serde_json::to_writer(&mut self.out, c)?;
        Ok(())
    }

    fn idle(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, files: &[FileReport], summary: &Summary) -> io::Result<()> {
        self.start()?;
        self.out.write_all(b"\n],\n\"files\":")?;
        serde_json::to_writer(&mut self.out, files)?;
        self.out.write_all(b",\n\"summary\":")?;
        serde_json::to_writer(&mut self.out, summary)?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

/// JSON Lines: one object per line, each with a `record` field
/// (`connection`, `file` or `summary`). Connections are written the moment
/// they finish and flushed whenever the input pauses ([`Reporter::idle`]), so
/// the output works on endless input without a system call per line.
pub struct JsonlReporter<W: Write> {
    out: W,
}

impl<W: Write> JsonlReporter<W> {
    pub fn new(out: W) -> Self {
        JsonlReporter { out }
    }
}

#[derive(Serialize)]
struct Tagged<'a, T: Serialize> {
    record: &'static str,
    #[serde(flatten)]
    inner: &'a T,
}

impl<W: Write> Reporter for JsonlReporter<W> {
    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()> {
        serde_json::to_writer(
            &mut self.out,
            &Tagged {
                record: "connection",
                inner: c,
            },
        )?;
        self.out.write_all(b"\n")
    }

    fn idle(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, files: &[FileReport], summary: &Summary) -> io::Result<()> {
        for f in files {
            serde_json::to_writer(
                &mut self.out,
                &Tagged {
                    record: "file",
                    inner: f,
                },
            )?;
            self.out.write_all(b"\n")?;
        }
        serde_json::to_writer(
            &mut self.out,
            &Tagged {
                record: "summary",
                inner: summary,
            },
        )?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}
