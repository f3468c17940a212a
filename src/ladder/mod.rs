//! Ladder diagrams: the two-column picture of a connection, one row per
//! segment with both endpoints' RFC 9293 states after it.
//!
//! The rows come from a second pass over the file: only the selected
//! connections' segments are replayed through a fresh judge, so no per-packet
//! history is ever kept for the others.

mod render;

pub use render::{TextOptions, render_mermaid, render_text};

use crate::capture::{self, CaptureError, Frame, Timestamp};
use crate::decode::{Decoded, TcpFlags, decode_frame};
use crate::findings::{Finding, FindingKind, Severity, Side};
use crate::flow::{FlowKey, FlowMap, roles};
use crate::judge::{Config, Connection};
use crate::model::connection::{ConnectionReport, State};
use std::path::Path;

/// One segment of the ladder.
#[derive(Debug, Clone)]
pub struct Row {
    pub frame: u64,
    /// Seconds since the connection's first segment.
    pub time: f64,
    pub from: Side,
    pub flags: TcpFlags,
    pub seq: u32,
    /// Relative ack, when the ACK flag is set.
    pub ack: Option<u32>,
    pub len: u32,
    /// The advertised window in bytes: scaled by the sender's window scale
    /// once both SYNs negotiated it (RFC 7323 §2.2), never on a SYN itself.
    pub window: u32,
    /// The window field was not scaled because the handshake (and so the
    /// scale) was not seen.
    pub window_unscaled: bool,
    /// The SYN or SYN-ACK's options (MSS, window scale, SACK permitted,
    /// timestamps, TFO), as `mss=1460 ws=7 sack_perm ts tfo`.
    pub options: Option<String>,
    pub client_state: State,
    pub server_state: State,
    pub findings: Vec<Finding>,
}

/// The data transfer between handshake and teardown, summarised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fold {
    pub segments: u64,
    pub bytes: u64,
    /// Segments that resent bytes already sent.
    pub retransmissions: u64,
    /// Findings on the folded segments (their rows are not drawn).
    pub findings: u64,
}

/// A ladder entry: a segment, or a run of folded segments.
#[derive(Debug, Clone)]
pub enum Entry {
    Segment(Box<Row>),
    Folded(Fold),
}

/// The ladder of one connection.
#[derive(Debug, Clone)]
pub struct Ladder {
    pub report: ConnectionReport,
    pub entries: Vec<Entry>,
}

/// Keeps the rows of one connection, folding the middle unless `full`.
struct Collector {
    report: ConnectionReport,
    conn: Option<Box<Connection>>,
    start: Timestamp,
    entries: Vec<Entry>,
    full: bool,
    handshake_done: bool,
    teardown: bool,
    highest: [Option<crate::seq::SeqNumber>; 2],
    /// Each side's SYN: seen, and the window scale it offered.
    syn_scale: [Option<Option<u8>>; 2],
    /// Frames whose rows must be shown even inside the fold.
    keep: Vec<u64>,
    /// Rows with warnings drawn inside the fold so far.
    middle_rows: usize,
}

/// Rows with warnings drawn inside a fold; the rest are counted in it.
const MIDDLE_WARNING_ROWS: usize = 10;

impl Collector {
    fn push_folded(&mut self, len: u32, retrans: bool, findings: usize) {
        if let Some(Entry::Folded(f)) = self.entries.last_mut() {
            f.segments += 1;
            f.bytes += len as u64;
            f.retransmissions += retrans as u64;
            f.findings += findings as u64;
            return;
        }
        self.entries.push(Entry::Folded(Fold {
            segments: 1,
            bytes: len as u64,
            retransmissions: retrans as u64,
            findings: findings as u64,
        }));
    }

    fn segment(&mut self, frame: &Frame<'_>, seg: &crate::decode::TcpSegment<'_>, config: &Config) {
        let conn = self.conn.get_or_insert_with(|| {
            let (client, server) = roles(seg);
            Box::new(Connection::new(
                self.report.id,
                frame.number,
                frame.ts,
                seg,
                client,
                server,
                None,
                config,
            ))
        });
        conn.process(frame.number, frame.ts, seg);
        let from = if seg.src == self.report.client.addr && seg.src_port == self.report.client.port
        {
            Side::Client
        } else {
            Side::Server
        };
        let (client_state, server_state) = conn.states();
        let (cb, sb) = conn.bases();
        let (own, other) = match from {
            Side::Client => (cb, sb),
            Side::Server => (sb, cb),
        };
        let f = seg.flags;
        let idx = (from == Side::Server) as usize;
        let opts = crate::decode::TcpOptions::new(seg.options);
        if f.syn() {
            self.syn_scale[idx] = Some(opts.window_scale());
        }
        let (window, window_unscaled) = match (self.syn_scale[0], self.syn_scale[1]) {
            _ if f.syn() => (seg.window as u32, false),
            (Some(Some(a)), Some(Some(b))) => {
                let shift = if idx == 0 { a } else { b }.min(14);
                ((seg.window as u32) << shift, false)
            }
            // No SYN seen: the connection was picked up mid-stream and the
            // scale is unknown.
            (None, None) => (seg.window as u32, true),
            // Not negotiated by both SYNs (or not yet): windows are not scaled.
            _ => (seg.window as u32, false),
        };
        let options = f.syn().then(|| syn_options(opts));
        let end = seg.seq + seg.payload_len;
        let retrans = seg.payload_len > 0 && self.highest[idx].is_some_and(|h| end.le(h));
        if seg.payload_len > 0 || f.syn() || f.fin() {
            let e = seg.seq_end();
            self.highest[idx] = Some(self.highest[idx].map_or(e, |h| h.max_wrapping(e)));
        }
        if f.fin() || f.rst() {
            self.teardown = true;
        }
        let findings: Vec<Finding> = self
            .report
            .findings
            .iter()
            .filter(|a| a.frame == frame.number)
            .cloned()
            .collect();
        // Inside the fold, rows with findings stay visible, but only errors
        // always: a lossy transfer's warnings would otherwise undo the fold.
        let has_error = findings.iter().any(|f| f.severity == Severity::Error);
        let has_warning = findings.iter().any(|f| f.severity == Severity::Warning);
        let middle_row = has_warning && self.middle_rows < MIDDLE_WARNING_ROWS;
        let show = self.full
            || !self.handshake_done
            || self.teardown
            || has_error
            || middle_row
            || self.keep.contains(&frame.number);
        if show && self.handshake_done && !self.teardown && !self.full && !findings.is_empty() {
            self.middle_rows += 1;
        }
        let retrans = retrans
            || findings.iter().any(|f| {
                matches!(
                    f.kind,
                    FindingKind::Retransmission
                        | FindingKind::FastRetransmission
                        | FindingKind::SpuriousRetransmission
                )
            });
        if show {
            self.entries.push(Entry::Segment(Box::new(Row {
                frame: frame.number,
                time: frame.ts.secs_since(self.start),
                from,
                flags: f,
                seq: own.map_or(seg.seq.0, |b| seg.seq.relative_to(b)),
                ack: f
                    .ack()
                    .then(|| other.map_or(seg.ack.0, |b| seg.ack.relative_to(b))),
                len: seg.payload_len,
                window,
                window_unscaled,
                options,
                client_state,
                server_state,
                findings,
            })));
        } else {
            let n = findings.len();
            self.push_folded(seg.payload_len, retrans, n);
        }
        // The handshake is shown in full: it ends with the first segment other
        // than a SYN after which both sides are synchronized (the third ACK).
        if !self.handshake_done
            && !f.syn()
            && client_state.is_synchronized()
            && server_state.is_synchronized()
        {
            self.handshake_done = true;
        }
    }
}

/// `mss=1460 ws=7 sack_perm ts tfo`: the options a SYN negotiates.
fn syn_options(opts: crate::decode::TcpOptions<'_>) -> String {
    use crate::decode::TcpOption as O;
    let mut parts: Vec<String> = Vec::new();
    for o in opts {
        match o {
            O::Mss(m) => parts.push(format!("mss={m}")),
            O::WindowScale(s) => parts.push(format!("ws={s}")),
            O::SackPermitted => parts.push("sack_perm".into()),
            O::Timestamps { .. } => parts.push("ts".into()),
            O::FastOpenCookie([]) => parts.push("tfo=request".into()),
            O::FastOpenCookie(_) => parts.push("tfo".into()),
            _ => {}
        }
    }
    parts.join(" ")
}

/// Which connections to draw. Endpoints are compared as addresses, so
/// `[2001:db8:0::1]:80` matches `[2001:db8::1]:80`.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub id: Option<u64>,
    pub client: Option<std::net::SocketAddr>,
    pub server: Option<std::net::SocketAddr>,
}

/// `ip:port`, `[v6]:port`: the form `--client` and `--server` take.
pub fn parse_endpoint(s: &str) -> Result<std::net::SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("'{s}' is not ip:port (use [v6]:port for IPv6)"))
}

fn same(e: &crate::flow::Endpoint, a: &std::net::SocketAddr) -> bool {
    let ip = match a.ip() {
        std::net::IpAddr::V4(v) => crate::decode::IpAddress::V4(v.octets()),
        std::net::IpAddr::V6(v) => crate::decode::IpAddress::V6(v.octets()),
    };
    e.addr == ip && e.port == a.port()
}

impl Selection {
    pub fn matches(&self, c: &ConnectionReport) -> bool {
        self.id.is_none_or(|id| c.id == id)
            && self.client.as_ref().is_none_or(|a| same(&c.client, a))
            && self.server.as_ref().is_none_or(|a| same(&c.server, a))
    }
}

/// Draws the connections of `path` that `select` picks: a first pass judges
/// the whole file, a second replays only the picked connections' segments.
/// `keep` lists frames shown even inside a fold.
pub fn ladders(
    path: &Path,
    config: &Config,
    filter: &crate::filter::Filter,
    select: &dyn Fn(&ConnectionReport) -> bool,
    full: bool,
    keep: &[u64],
) -> Result<Vec<Ladder>, CaptureError> {
    let mut picked: Vec<ConnectionReport> = Vec::new();
    let mut next = 1;
    crate::pipeline::analyze_path_filtered(
        path,
        config,
        filter,
        &mut next,
        &mut |c| {
            if select(&c) {
                picked.push(c)
            }
        },
        &mut (),
    )?;
    picked.sort_by_key(|c| c.id);
    let mut collectors: Vec<Collector> = picked
        .into_iter()
        .map(|report| Collector {
            start: report.start,
            report,
            conn: None,
            entries: Vec::new(),
            full,
            handshake_done: false,
            teardown: false,
            highest: [None, None],
            syn_scale: [None, None],
            keep: keep.to_vec(),
            middle_rows: 0,
        })
        .collect();
    let mut by_key: FlowMap<Vec<usize>> = FlowMap::default();
    let key_of = |c: &ConnectionReport| {
        FlowKey::from_endpoints(
            (c.client.addr, c.client.port),
            (c.server.addr, c.server.port),
        )
        .in_tunnel(c.tunnel.key())
    };
    for (i, c) in collectors.iter().enumerate() {
        by_key.entry(key_of(&c.report)).or_default().push(i);
    }
    if collectors.is_empty() {
        return Ok(Vec::new());
    }
    let mut sink = |frame: &Frame<'_>| {
        let Ok(Decoded::Tcp(seg)) = decode_frame(frame) else {
            return;
        };
        let Some(list) = by_key.get(&FlowKey::of(&seg)) else {
            return;
        };
        for &i in list {
            let c = &mut collectors[i];
            if (c.report.first_frame..=c.report.last_frame).contains(&frame.number) {
                c.segment(frame, &seg, config);
                break;
            }
        }
    };
    capture::read_path(path, &mut sink)?;
    Ok(collectors
        .into_iter()
        .map(|c| Ladder {
            report: c.report,
            entries: c.entries,
        })
        .collect())
}
