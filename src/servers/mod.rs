//! The server view (`tcpshake servers`, `analyze --by server`): connections
//! grouped by listener (the endpoint that received SYNs) and by client
//! address, with verdict counts, time-to-establish percentiles, RSTs by sender
//! and phase, a timeline, and diagnoses of patterns across connections
//! (docs/servers.md). Memory is bounded whatever the number of connections.

pub mod diagnose;
pub mod stats;
pub mod timeline;
mod write;

pub use diagnose::{DIAGNOSES, Diagnosis};
pub use stats::Percentiles;
pub use write::{write_csv, write_json, write_jsonl, write_table};

use crate::capture::Timestamp;
use crate::decode::IpAddress;
use crate::flow::Endpoint;
use crate::model::connection::{Close, ConnectionReport, Handshake};
use rustc_hash::FxHashMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Serialize;
use stats::{ClientStats, ListenerStats};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Listeners tracked one by one; connections to more are counted in the
/// overall figures only, and the report says so.
pub const MAX_LISTENERS: usize = 1000;
/// Client addresses tracked one by one.
pub const MAX_CLIENTS: usize = 100_000;
/// Clients whose ports are tracked bit by bit (8 KiB each).
pub const MAX_PORT_BITMAPS: usize = 1024;
/// Intervals a timeline is cut into when no `--interval` is given.
pub const TARGET_INTERVALS: i64 = 60;
/// Clients listed in the report, busiest reusers first.
pub const LISTED_CLIENTS: usize = 20;

/// How the server view is built.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Timeline interval in nanoseconds; chosen from the capture's length when None.
    pub interval: Option<i64>,
    /// 2·MSL in nanoseconds.
    pub two_msl: i64,
    pub max_listeners: usize,
    pub max_clients: usize,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            interval: None,
            two_msl: 120_000_000_000,
            max_listeners: MAX_LISTENERS,
            max_clients: MAX_CLIENTS,
        }
    }
}

/// Aggregates finished connections into per-listener and per-client figures.
#[derive(Debug, Clone)]
pub struct ServerView {
    opts: ServerOptions,
    listeners: FxHashMap<Endpoint, ListenerStats>,
    /// Connections to listeners past the cap.
    untracked: ListenerStats,
    untracked_listeners: u64,
    clients: FxHashMap<IpAddress, ClientStats>,
    untracked_clients: u64,
    bitmaps_left: usize,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
}

impl ServerView {
    pub fn new(opts: ServerOptions) -> ServerView {
        ServerView {
            untracked: ListenerStats::new(opts.interval),
            opts,
            listeners: FxHashMap::default(),
            untracked_listeners: 0,
            clients: FxHashMap::default(),
            untracked_clients: 0,
            bitmaps_left: MAX_PORT_BITMAPS,
            first_ts: None,
            last_ts: None,
        }
    }

    /// Counts one finished connection.
    pub fn add(&mut self, c: &ConnectionReport) {
        let end = Timestamp(c.start.0 + (c.duration * 1e9) as i64);
        self.first_ts = Some(self.first_ts.map_or(c.start, |t| t.min(c.start)));
        self.last_ts = Some(self.last_ts.map_or(end, |t| t.max(end)));
        let two_msl = self.opts.two_msl as f64 / 1e9;
        let n_clients = self.clients.len();
        let paws = match self.clients.get_mut(&c.client.addr) {
            Some(cs) => cs.add(c, two_msl, &mut self.bitmaps_left),
            None if n_clients < self.opts.max_clients => {
                let mut cs = ClientStats::default();
                let p = cs.add(c, two_msl, &mut self.bitmaps_left);
                self.clients.insert(c.client.addr, cs);
                p
            }
            None => {
                self.untracked_clients += 1;
                None
            }
        };
        let n = self.listeners.len();
        match self.listeners.get_mut(&c.server) {
            Some(l) => l.add(c, paws),
            None if n < self.opts.max_listeners => {
                let mut l = ListenerStats::new(self.opts.interval);
                l.add(c, paws);
                self.listeners.insert(c.server, l);
            }
            None => {
                self.untracked_listeners += 1;
                self.untracked.add(c, paws);
            }
        }
    }

    /// The report: listeners busiest first, the overall figures, the clients
    /// that matter, and every diagnosis.
    pub fn finish(self) -> ServersReport {
        let span = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => 0,
        };
        let origin = self.first_ts.unwrap_or_default();
        let end = self.last_ts.unwrap_or_default();
        let mut overall = ListenerStats::new(self.opts.interval);
        for l in self.listeners.values() {
            overall.merge(l);
        }
        overall.merge(&self.untracked);
        overall.timeline.settle(span, TARGET_INTERVALS);
        let width = overall.timeline.width();
        let mut listeners: Vec<(Endpoint, ListenerStats)> = self.listeners.into_iter().collect();
        listeners.sort_by(|a, b| {
            b.1.connections
                .cmp(&a.1.connections)
                .then((a.0.addr, a.0.port).cmp(&(b.0.addr, b.0.port)))
        });
        let mut diagnoses = Vec::new();
        let mut out = Vec::new();
        for (ep, mut l) in listeners {
            // Every timeline at one width, so the intervals line up.
            l.timeline.settle(span, TARGET_INTERVALS);
            l.timeline.coarsen_to(width);
            let r = listener_report(&ep.to_string(), &l, origin, end);
            diagnoses.extend(r.diagnoses.iter().cloned());
            out.push(r);
        }
        let mut overall_report = listener_report("all", &overall, origin, end);
        overall_report.diagnoses.clear();
        let mut clients: Vec<(IpAddress, ClientStats)> = self
            .clients
            .into_iter()
            .filter(|(_, c)| c.reused_within_2msl > 0 || c.distinct_ports().is_some())
            .collect();
        clients.sort_by(|a, b| {
            b.1.reused_within_2msl
                .cmp(&a.1.reused_within_2msl)
                .then(b.1.connections.cmp(&a.1.connections))
                .then(a.0.cmp(&b.0))
        });
        let mut client_reports = Vec::new();
        for (addr, c) in clients {
            let d = diagnose::client(&addr.to_string(), &c);
            if let Some(d) = &d {
                diagnoses.push(d.clone());
            }
            if client_reports.len() < LISTED_CLIENTS || d.is_some() {
                client_reports.push(ClientReport {
                    address: addr.to_string(),
                    connections: c.connections,
                    ports_per_second: c.ports_per_second(),
                    reused_within_2msl: c.reused_within_2msl,
                    distinct_ports: c.distinct_ports(),
                    diagnoses: d.into_iter().collect(),
                });
            }
        }
        let mut notes = Vec::new();
        if let Some(i) = self.opts.interval
            && i != width
        {
            notes.push(format!(
                "the capture is too long for {} intervals: they are {} wide",
                crate::duration::human_duration(i as f64 / 1e9),
                crate::duration::human_duration(width as f64 / 1e9)
            ));
        }
        if self.untracked_listeners > 0 {
            notes.push(format!(
                "more than {} listeners: {} connections to the others are in the overall figures only",
                self.opts.max_listeners, self.untracked_listeners
            ));
        }
        if self.untracked_clients > 0 {
            notes.push(format!(
                "more than {} client addresses: {} connections from the others are not in the client figures",
                self.opts.max_clients, self.untracked_clients
            ));
        }
        if out.iter().any(|l| l.distinct_clients_capped) {
            notes.push(format!(
                "distinct clients are counted up to {} per listener",
                stats::MAX_DISTINCT_CLIENTS
            ));
        }
        ServersReport {
            interval: width as f64 / 1e9,
            start: origin,
            listeners: out,
            overall: overall_report,
            clients: client_reports,
            diagnoses,
            notes,
        }
    }
}

/// Counts by name, only the non-zero ones.
fn named<T: Copy>(
    all: &[T],
    counts: &[u64],
    name: impl Fn(T) -> &'static str,
) -> BTreeMap<&'static str, u64> {
    all.iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (name(*k), *n))
        .collect()
}

fn rate(n: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { n as f64 / of as f64 }
}

fn listener_report(
    subject: &str,
    l: &ListenerStats,
    origin: Timestamp,
    end: Timestamp,
) -> ListenerReport {
    let width = l.timeline.width();
    let buckets = l.timeline.dense(origin.0, end.0);
    let diagnoses = diagnose::listener(subject, l, &buckets, width);
    let hs = |h: Handshake| l.handshake[h as usize];
    let mut answered_on: Vec<u64> = l.answered_on.to_vec();
    while answered_on.last() == Some(&0) {
        answered_on.pop();
    }
    let rst = |s: usize| RstCounts {
        handshake: l.rst[s][0],
        established: l.rst[s][1],
        close: l.rst[s][2],
    };
    ListenerReport {
        server: subject.to_string(),
        connections: l.connections,
        attempts: l.attempts,
        established: l.established,
        syns: l.syns,
        distinct_clients: l.clients.len() as u64,
        distinct_clients_capped: l.clients.capped,
        handshake: named(&Handshake::ALL, &l.handshake, Handshake::as_str),
        close: named(&Close::ALL, &l.close, Close::as_str),
        syn_answered_on: answered_on,
        syn_never_answered: l.never_answered,
        time_to_establish: l.time_to_establish.summary(),
        syn_to_synack: l.syn_to_synack.summary(),
        synack_to_ack: l.synack_to_ack.summary(),
        rst: RstReport {
            client: rst(0),
            server: rst(1),
        },
        rates: Rates {
            refused: rate(hs(Handshake::Refused), l.attempts),
            unanswered: rate(hs(Handshake::Unanswered), l.attempts),
            no_final_ack: rate(hs(Handshake::NoFinalAck), l.attempts),
            aborted: rate(hs(Handshake::Aborted), l.attempts),
            syn_retransmission: rate(l.syn_retransmitted, l.attempts),
            retransmission: rate(l.retransmitting, l.connections),
            zero_window: rate(l.zero_window, l.connections),
        },
        time_wait_reuse: l.time_wait_reuse,
        port_reuse: l.port_reuse,
        timeline: TimelineReport {
            interval: width as f64 / 1e9,
            start: buckets.iter().map(|(t, _)| *t as f64 / 1e9).collect(),
            series: timeline::SERIES
                .iter()
                .enumerate()
                .map(|(i, name)| (*name, buckets.iter().map(|(_, b)| b.counts[i]).collect()))
                .collect(),
        },
        diagnoses,
    }
}

/// RSTs of one sender by phase.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, JsonSchema)]
pub struct RstCounts {
    pub handshake: u64,
    pub established: u64,
    pub close: u64,
}

impl RstCounts {
    pub fn total(&self) -> u64 {
        self.handshake + self.established + self.close
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, JsonSchema)]
pub struct RstReport {
    pub client: RstCounts,
    pub server: RstCounts,
}

/// Shares (0–1): handshake outcomes of the attempts; retransmission and
/// zero-window of the connections.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, JsonSchema)]
pub struct Rates {
    pub refused: f64,
    pub unanswered: f64,
    pub no_final_ack: f64,
    pub aborted: f64,
    /// Attempts whose SYN was sent more than once.
    pub syn_retransmission: f64,
    /// Connections with a retransmitted data segment.
    pub retransmission: f64,
    /// Connections where a side advertised a zero window.
    pub zero_window: f64,
}

impl Rates {
    pub const NAMES: [&'static str; 7] = [
        "refused",
        "unanswered",
        "no_final_ack",
        "aborted",
        "syn_retransmission",
        "retransmission",
        "zero_window",
    ];

    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "refused" => self.refused,
            "unanswered" => self.unanswered,
            "no_final_ack" => self.no_final_ack,
            "aborted" => self.aborted,
            "syn_retransmission" => self.syn_retransmission,
            "retransmission" => self.retransmission,
            "zero_window" => self.zero_window,
            _ => return None,
        })
    }
}

/// Counts per interval; `start` holds each interval's start (Unix seconds).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimelineReport {
    /// Seconds.
    pub interval: f64,
    pub start: Vec<f64>,
    #[serde(flatten)]
    pub series: BTreeMap<&'static str, Vec<u32>>,
}

/// The series are a flattened map; their names are fixed ([`timeline::SERIES`]).
impl JsonSchema for TimelineReport {
    fn schema_name() -> Cow<'static, str> {
        "TimelineReport".into()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let counts = generator.subschema_for::<Vec<u32>>();
        let mut properties = serde_json::Map::new();
        properties.insert(
            "interval".into(),
            serde_json::json!({"description": "Seconds.", "type": "number"}),
        );
        properties.insert(
            "start".into(),
            serde_json::json!({"description": "Each interval's start, epoch seconds.", "type": "array", "items": {"type": "number"}}),
        );
        for name in timeline::SERIES {
            properties.insert(name.into(), counts.clone().to_value());
        }
        let required: Vec<&str> = ["interval", "start"]
            .into_iter()
            .chain(timeline::SERIES)
            .collect();
        json_schema!({
            "description": "Counts per interval; `start` holds each interval's start (Unix seconds).",
            "type": "object",
            "properties": properties,
            "required": required,
        })
    }
}

/// One listener (server ip:port), or `all`.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct ListenerReport {
    pub server: String,
    pub connections: u64,
    /// Connections whose SYN was seen.
    pub attempts: u64,
    pub established: u64,
    /// Client SYNs, retransmissions included.
    pub syns: u64,
    pub distinct_clients: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schemars(default)]
    pub distinct_clients_capped: bool,
    #[schemars(with = "BTreeMap<String, u64>")]
    pub handshake: BTreeMap<&'static str, u64>,
    #[schemars(with = "BTreeMap<String, u64>")]
    pub close: BTreeMap<&'static str, u64>,
    /// Attempts answered on the 1st, 2nd, … SYN (the 8th slot: the 8th or later).
    pub syn_answered_on: Vec<u64>,
    pub syn_never_answered: u64,
    pub time_to_establish: Percentiles,
    pub syn_to_synack: Percentiles,
    pub synack_to_ack: Percentiles,
    pub rst: RstReport,
    pub rates: Rates,
    pub time_wait_reuse: u64,
    pub port_reuse: u64,
    pub timeline: TimelineReport,
    pub diagnoses: Vec<Diagnosis>,
}

impl ListenerReport {
    /// A percentile measure by name.
    pub fn measure(&self, name: &str) -> Option<&Percentiles> {
        match name {
            "time_to_establish" => Some(&self.time_to_establish),
            "syn_to_synack" => Some(&self.syn_to_synack),
            "synack_to_ack" => Some(&self.synack_to_ack),
            _ => None,
        }
    }
}

pub const MEASURES: [&str; 3] = ["time_to_establish", "syn_to_synack", "synack_to_ack"];

/// One client address.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct ClientReport {
    pub address: String,
    pub connections: u64,
    /// New connections a second over the span they started in.
    pub ports_per_second: Option<f64>,
    pub reused_within_2msl: u64,
    /// Distinct ports, counted once the address had many connections.
    pub distinct_ports: Option<u32>,
    pub diagnoses: Vec<Diagnosis>,
}

/// The whole server view.
#[derive(Debug, Clone, Serialize, PartialEq, JsonSchema)]
pub struct ServersReport {
    /// Timeline interval, seconds.
    pub interval: f64,
    /// Epoch seconds.
    #[schemars(with = "f64")]
    pub start: Timestamp,
    pub listeners: Vec<ListenerReport>,
    pub overall: ListenerReport,
    pub clients: Vec<ClientReport>,
    /// Every diagnosis of every listener and client.
    pub diagnoses: Vec<Diagnosis>,
    /// Where a memory bound bit.
    pub notes: Vec<String>,
}

/// Reads `paths` in turn (connection ids run on across files, as `analyze`
/// numbers them) into one server view. A file that cannot be read is skipped
/// and `warn` gets its error. Returns the report and whether every file was read.
pub fn analyze_files(
    paths: &[std::path::PathBuf],
    config: &crate::judge::Config,
    opts: ServerOptions,
    progress: &mut dyn FnMut(&std::path::Path) -> Box<dyn crate::pipeline::Progress>,
    warn: &mut dyn FnMut(String),
) -> (ServersReport, bool) {
    let mut view = ServerView::new(opts);
    let (mut next_id, mut all_read) = (1u64, true);
    for path in paths {
        let mut p = progress(path);
        let result = crate::pipeline::analyze_path(
            path,
            config,
            &mut next_id,
            &mut |c| view.add(&c),
            p.as_mut(),
        );
        p.done();
        match result {
            Ok(report) => {
                if let Some(why) = &report.truncated_reason {
                    warn(format!(
                        "{}: truncated capture ({why}); everything before the cut was analysed",
                        report.path
                    ));
                }
            }
            Err(e) => {
                warn(e.to_string());
                all_read = false;
            }
        }
    }
    (view.finish(), all_read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(name)
    }

    #[test]
    fn the_listener_cap_is_announced_and_overall_counts_stay_exact() {
        let opts = ServerOptions {
            max_listeners: 1,
            ..ServerOptions::default()
        };
        let (r, ok) = analyze_files(
            &[testdata("mixed.pcap")],
            &crate::judge::Config::default(),
            opts,
            &mut |_| Box::new(()),
            &mut |_| {},
        );
        assert!(ok);
        assert_eq!(r.listeners.len(), 1);
        assert_eq!(r.overall.connections, 5);
        assert!(
            r.notes.iter().any(|n| n.contains("more than 1 listeners")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn backoff_ladder() {
        assert!(stats::on_backoff_ladder(2, 1.0));
        assert!(stats::on_backoff_ladder(3, 3.01));
        assert!(stats::on_backoff_ladder(2, 3.0), "3 s initial RTO");
        assert!(!stats::on_backoff_ladder(2, 0.2));
        assert!(!stats::on_backoff_ladder(1, 0.0));
        assert!(stats::on_backoff_ladder(3, 2.1), "linear timeouts");
        assert!(stats::on_backoff_ladder(6, 6.0), "4 linear, then 2 s");
        assert!(!stats::on_backoff_ladder(3, 5.0));
    }

    fn v4(i: u32) -> IpAddress {
        IpAddress::V4(i.to_be_bytes())
    }

    #[test]
    fn sources_are_exact_up_to_the_bound_then_estimated() {
        let mut s = stats::Sources::default();
        for round in 0..3 {
            for i in 0..stats::EXACT_SOURCES as u32 {
                s.add(v4(i));
            }
            assert_eq!(s.count(), stats::EXACT_SOURCES as u64, "round {round}");
            assert!(!s.is_estimate());
        }
        assert_eq!(s.describe("source", "sources"), "256 sources");
        for i in 0..100_000 {
            s.add(v4(i));
        }
        assert!(s.is_estimate());
        let n = s.count() as f64;
        // Four standard errors of the 2^12-register estimate.
        let tolerance = 4.0 * stats::ESTIMATE_ERROR_PCT / 100.0;
        assert!((n - 1e5).abs() / 1e5 < tolerance, "{n}");
        let said = s.describe("source", "sources");
        assert!(said.starts_with("about ") && said.contains(" sources (counted exactly up to 256, then estimated by HyperLogLog with a standard error of 1.6%)"), "{said}");
    }

    #[test]
    fn merged_sources_count_each_address_once() {
        // Tolerances are four standard errors of the estimate.
        let (mut a, mut b) = (stats::Sources::default(), stats::Sources::default());
        for i in 0..200 {
            a.add(v4(i));
            b.add(v4(i + 100));
        }
        let mut exact = a.clone();
        exact.merge(&b);
        assert!(
            exact.is_estimate(),
            "300 addresses are past the exact bound"
        );
        let n = exact.count() as f64;
        assert!((n - 300.0).abs() / 300.0 < 0.065, "{n}");
        let mut within = a.clone();
        within.merge(&a);
        assert_eq!(within.count(), 200);
        assert!(!within.is_estimate());
        let (mut big, mut other) = (stats::Sources::default(), stats::Sources::default());
        for i in 0..50_000 {
            big.add(v4(i));
            other.add(v4(i + 25_000));
        }
        big.merge(&other);
        let n = big.count() as f64;
        assert!((n - 75_000.0).abs() / 75_000.0 < 0.065, "{n}");
        let mut small = stats::Sources::default();
        small.add(v4(1));
        small.merge(&a);
        assert_eq!(small.count(), 200);
        assert!(!small.is_estimate());
    }

    #[test]
    fn sketches_stay_bounded() {
        let mut s = stats::Sketch::default();
        for i in 0..200_000 {
            s.add(1e-6 * (1.0 + (i % 10_000) as f64));
        }
        let p = s.summary();
        assert_eq!(p.count, 200_000);
        let p50 = p.p50.unwrap();
        assert!((p50 - 0.005).abs() / 0.005 < 0.02, "{p50}");
    }
}
