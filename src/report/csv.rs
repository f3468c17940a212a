use super::Reporter;
use crate::findings::Severity;
use crate::model::connection::ConnectionReport;
use crate::model::{FileReport, Summary};
use std::io::{self, Write};

/// One row per connection (RFC 4180 quoting).
pub struct CsvReporter<W: Write> {
    out: W,
    header_written: bool,
}

impl<W: Write> CsvReporter<W> {
    pub fn new(out: W) -> Self {
        CsvReporter {
            out,
            header_written: false,
        }
    }

    fn header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.header_written = true;
            writeln!(
                self.out,
                "id,file,client,server,client_ip,client_port,server_ip,server_port,community_id,first_frame,last_frame,start,start_iso,duration,handshake,close,closed_by,client_state,server_state,conn_state,history,completeness,client_packets,server_packets,client_payload_bytes,server_payload_bytes,syn_to_synack,synack_to_ack,errors,warnings,infos,findings,tunnel"
            )?;
        }
        Ok(())
    }
}

/// A CSV field, quoted when it must be (RFC 4180 §2).
pub(crate) fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An optional number, empty when absent.
pub(crate) fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

impl<W: Write> Reporter for CsvReporter<W> {
    fn connection(&mut self, c: &ConnectionReport) -> io::Result<()> {
        self.header()?;
        let all = c.finding_counts();
        let count = |s: Severity| -> u64 {
            all.iter()
                .filter(|(k, _)| k.severity() == s)
                .map(|(_, n)| n)
                .sum()
        };
        // Findings past the per-connection cap are named with their count.
        let kinds: Vec<String> = c
            .findings
            .iter()
            .map(|f| format!("{}@{}", f.kind.id(), f.frame))
            .chain(c.suppressed.iter().map(|(k, n)| format!("{}+{n}", k.id())))
            .collect();
        let tunnel: Vec<String> = c.tunnel.labels().map(|l| l.to_string()).collect();
        writeln!(
            self.out,
            "{},{},{},{},{},{},{},{},{},{},{},{:.6},{},{:.6},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            c.id,
            quote(&c.file),
            quote(&c.client.to_string()),
            quote(&c.server.to_string()),
            c.client.addr,
            c.client.port,
            c.server.addr,
            c.server.port,
            c.ids.community_id(),
            c.first_frame,
            c.last_frame,
            c.start.as_secs_f64(),
            c.start_iso,
            c.duration,
            c.handshake,
            c.close,
            c.closed_by.map(|b| b.as_str()).unwrap_or(""),
            c.client_state,
            c.server_state,
            c.conn_state,
            quote(&c.history),
            c.completeness,
            c.packets.client,
            c.packets.server,
            c.payload_bytes.client,
            c.payload_bytes.server,
            opt(c.handshake_rtt.syn_to_synack),
            opt(c.handshake_rtt.synack_to_ack),
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info),
            quote(&kinds.join(";")),
            quote(&tunnel.join(";"))
        )
    }

    fn idle(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(&mut self, _files: &[FileReport], _summary: &Summary) -> io::Result<()> {
        self.header()?;
        self.out.flush()
    }
}
