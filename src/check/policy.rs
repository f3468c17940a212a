//! A CI policy: what makes a capture fail. From flags and/or a TOML file.

use super::servers::{Quantile, ServerRule};
use crate::decode::IpAddress;
use crate::duration::parse_positive_duration;
use crate::findings::{FindingKind, Severity};
use crate::model::connection::{Close, ConnectionReport, Handshake, MAX_FINDINGS};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// Something a connection can be failed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    /// Any finding of this severity or worse.
    Severity(Severity),
    Kind(FindingKind),
    Handshake(Handshake),
    Close(Close),
}

impl FailOn {
    pub fn parse(s: &str) -> Result<FailOn, String> {
        let s = s.trim();
        if let Some(sev) = Severity::parse(s) {
            return Ok(FailOn::Severity(sev));
        }
        if let Some(k) = FindingKind::from_id(s) {
            return Ok(FailOn::Kind(k));
        }
        if let Some(h) = Handshake::parse(s) {
            return Ok(FailOn::Handshake(h));
        }
        if let Some(c) = Close::parse(s) {
            return Ok(FailOn::Close(c));
        }
        Err(format!(
            "'{s}' is not a severity (error, warning, info), a finding kind, or a handshake/close verdict"
        ))
    }
}

/// The number of connections a capture must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountRange {
    pub min: u64,
    pub max: Option<u64>,
}

impl CountRange {
    /// `N`, `MIN..MAX`, `MIN..` or `..MAX`.
    pub fn parse(s: &str) -> Result<CountRange, String> {
        let bad = || format!("'{s}' is not a count (N, MIN..MAX, MIN.. or ..MAX)");
        let s = s.trim();
        if let Some((a, b)) = s.split_once("..") {
            let min = if a.is_empty() {
                0
            } else {
                a.parse().map_err(|_| bad())?
            };
            let max = if b.is_empty() {
                None
            } else {
                Some(b.parse().map_err(|_| bad())?)
            };
            if max.is_some_and(|m| m < min) {
                return Err(bad());
            }
            Ok(CountRange { min, max })
        } else {
            let n = s.parse().map_err(|_| bad())?;
            Ok(CountRange {
                min: n,
                max: Some(n),
            })
        }
    }

    pub fn contains(&self, n: u64) -> bool {
        n >= self.min && self.max.is_none_or(|m| n <= m)
    }
}

impl std::fmt::Display for CountRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.max {
            Some(m) if m == self.min => write!(f, "{m}"),
            Some(m) => write!(f, "{}..{m}", self.min),
            None => write!(f, "{}..", self.min),
        }
    }
}

/// The rules a capture is judged by.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub fail_on: Vec<FailOn>,
    pub allow: Vec<FindingKind>,
    pub expect_handshake: Vec<Handshake>,
    pub expect_close: Vec<Close>,
    /// Nanoseconds.
    pub max_handshake_rtt: Option<i64>,
    pub expect_connections: Option<CountRange>,
    /// Only connections with one of these ports (either end) are judged.
    pub ports: Vec<u16>,
    /// Only connections with one of these hosts (either end) are judged.
    pub hosts: Vec<IpAddress>,
    /// Rates, percentiles and diagnoses of the server view (docs/servers.md).
    pub server_rules: Vec<ServerRule>,
    /// 2·MSL in nanoseconds, for the server view's port reuse.
    pub two_msl: i64,
    /// A capture with damage in the middle is judged on what could be read
    /// past it, instead of being a read error.
    pub accept_damaged: bool,
    /// Most frames that may fail to decode, in percent of the capture's frames.
    pub max_decode_errors: f64,
}

/// Frames that may fail to decode before a capture fails, in percent.
pub const DEFAULT_MAX_DECODE_ERRORS: f64 = 1.0;

impl Default for Policy {
    /// Fail on any `error` finding and on an `invalid` handshake; damage is a
    /// read error; at most 1% of frames may fail to decode.
    fn default() -> Policy {
        Policy {
            fail_on: vec![
                FailOn::Severity(Severity::Error),
                FailOn::Handshake(Handshake::Invalid),
            ],
            allow: Vec::new(),
            expect_handshake: Vec::new(),
            expect_close: Vec::new(),
            max_handshake_rtt: None,
            expect_connections: None,
            ports: Vec::new(),
            hosts: Vec::new(),
            server_rules: Vec::new(),
            two_msl: 120_000_000_000,
            accept_damaged: false,
            max_decode_errors: DEFAULT_MAX_DECODE_ERRORS,
        }
    }
}

/// The policy as given on a command line: a policy file (or ./tcpshake.toml
/// when present) with flags added on top. Values are the flags' raw text.
#[derive(Debug, Clone, Default)]
pub struct PolicyFlags {
    pub policy: Option<PathBuf>,
    pub fail_on: Vec<String>,
    pub allow: Vec<String>,
    pub expect_handshake: Vec<String>,
    pub expect_close: Vec<String>,
    /// Nanoseconds.
    pub max_handshake_rtt: Option<i64>,
    pub expect_connections: Option<String>,
    pub port: Vec<u16>,
    pub host: Vec<String>,
    /// `[SCOPE/]RATE=VALUE` each.
    pub max_rate: Vec<String>,
    /// `[SCOPE/]MEASURE=DURATION` each, per percentile.
    pub max_p50: Vec<String>,
    pub max_p90: Vec<String>,
    pub max_p99: Vec<String>,
    /// `[SCOPE/]DIAGNOSIS` each.
    pub fail_on_diagnosis: Vec<String>,
    pub accept_damaged: bool,
    /// Percent.
    pub max_decode_errors: Option<f64>,
}

/// Why the policy of a command line was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyBuildError {
    #[error(transparent)]
    File(#[from] PolicyError),
    #[error("--{flag}: {message}")]
    Flag { flag: &'static str, message: String },
}

impl PolicyFlags {
    /// The policy file to read: the one named, else ./tcpshake.toml if it exists.
    pub fn file(&self) -> Option<PathBuf> {
        match &self.policy {
            Some(p) => Some(p.clone()),
            None => {
                let p = PathBuf::from("tcpshake.toml");
                p.exists().then_some(p)
            }
        }
    }

    /// The file's policy (or the default one) with the flags added.
    pub fn build(&self) -> Result<Policy, PolicyBuildError> {
        let flag =
            |flag: &'static str| move |message: String| PolicyBuildError::Flag { flag, message };
        let mut policy = match self.file() {
            Some(p) => Policy::from_file(&p)?,
            None => Policy::default(),
        };
        for v in &self.fail_on {
            policy
                .fail_on
                .push(FailOn::parse(v).map_err(flag("fail-on"))?);
        }
        for v in &self.allow {
            policy.allow.push(
                FindingKind::from_id(v.trim())
                    .ok_or_else(|| format!("'{v}' is not a finding kind"))
                    .map_err(flag("allow"))?,
            );
        }
        for v in &self.expect_handshake {
            policy.expect_handshake.push(
                Handshake::parse(v.trim())
                    .ok_or_else(|| format!("'{v}' is not a handshake verdict"))
                    .map_err(flag("expect-handshake"))?,
            );
        }
        for v in &self.expect_close {
            policy.expect_close.push(
                Close::parse(v.trim())
                    .ok_or_else(|| format!("'{v}' is not a close verdict"))
                    .map_err(flag("expect-close"))?,
            );
        }
        if let Some(d) = self.max_handshake_rtt {
            policy.max_handshake_rtt = Some(d);
        }
        if let Some(n) = &self.expect_connections {
            policy.expect_connections =
                Some(CountRange::parse(n).map_err(flag("expect-connections"))?);
        }
        for v in &self.max_rate {
            policy
                .server_rules
                .push(ServerRule::parse_rate(v).map_err(flag("max-rate"))?);
        }
        for (q, vs, name) in [
            (Quantile::P50, &self.max_p50, "max-p50"),
            (Quantile::P90, &self.max_p90, "max-p90"),
            (Quantile::P99, &self.max_p99, "max-p99"),
        ] {
            for v in vs {
                policy
                    .server_rules
                    .push(ServerRule::parse_percentile(q, v).map_err(flag(name))?);
            }
        }
        for v in &self.fail_on_diagnosis {
            policy
                .server_rules
                .push(ServerRule::parse_diagnosis(v).map_err(flag("fail-on-diagnosis"))?);
        }
        policy.accept_damaged |= self.accept_damaged;
        if let Some(p) = self.max_decode_errors {
            policy.max_decode_errors = percent(p).map_err(flag("max-decode-errors"))?;
        }
        policy.ports.extend(&self.port);
        for h in &self.host {
            policy.hosts.push(
                h.trim()
                    .parse()
                    .map_err(|_| format!("'{h}' is not an IP address"))
                    .map_err(flag("host"))?,
            );
        }
        Ok(policy)
    }
}

/// Why a policy file was refused: names the file, the line and the key.
/// `line` is 0 when the file could not be read at all (no line to name).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.located())]
pub struct PolicyError {
    pub path: PathBuf,
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    fail_on: Option<Vec<Spanned<String>>>,
    allow: Option<Vec<Spanned<String>>>,
    expect_handshake: Option<Vec<Spanned<String>>>,
    expect_close: Option<Vec<Spanned<String>>>,
    max_handshake_rtt: Option<Spanned<toml::Value>>,
    expect_connections: Option<Spanned<toml::Value>>,
    ports: Option<Vec<Spanned<u16>>>,
    hosts: Option<Vec<Spanned<String>>>,
    max_rate: Option<Spanned<BTreeMap<String, String>>>,
    max_p50: Option<Spanned<BTreeMap<String, String>>>,
    max_p90: Option<Spanned<BTreeMap<String, String>>>,
    max_p99: Option<Spanned<BTreeMap<String, String>>>,
    fail_on_diagnosis: Option<Vec<Spanned<String>>>,
    accept_damaged: Option<bool>,
    max_decode_errors: Option<Spanned<toml::Value>>,
}

/// A share of frames in percent: 0 to 100.
fn percent(p: f64) -> Result<f64, String> {
    if (0.0..=100.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("'{p}' is not a percentage (0 to 100)"))
    }
}

impl PolicyError {
    fn located(&self) -> String {
        match self.line {
            0 => format!("{}: {}", self.path.display(), self.message),
            n => format!("{}:{n}: {}", self.path.display(), self.message),
        }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Policy {
    /// Reads a policy file on top of the default policy.
    pub fn from_file(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            path: path.to_path_buf(),
            line: 0,
            message: format!("cannot read the policy: {e}"),
        })?;
        Self::from_toml(path, &text)
    }

    pub fn from_toml(path: &Path, text: &str) -> Result<Policy, PolicyError> {
        let err = |offset: usize, message: String| PolicyError {
            path: path.to_path_buf(),
            line: line_of(text, offset),
            message,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            err(offset, e.message().trim().to_string())
        })?;
        let mut p = Policy::default();
        for v in file.fail_on.unwrap_or_default() {
            let f = FailOn::parse(v.get_ref())
                .map_err(|m| err(v.span().start, format!("fail_on: {m}")))?;
            p.fail_on.push(f);
        }
        for v in file.allow.unwrap_or_default() {
            let k = FindingKind::from_id(v.get_ref()).ok_or_else(|| {
                err(
                    v.span().start,
                    format!("allow: '{}' is not a finding kind", v.get_ref()),
                )
            })?;
            p.allow.push(k);
        }
        for v in file.expect_handshake.unwrap_or_default() {
            let h = Handshake::parse(v.get_ref()).ok_or_else(|| {
                err(
                    v.span().start,
                    format!(
                        "expect_handshake: '{}' is not a handshake verdict",
                        v.get_ref()
                    ),
                )
            })?;
            p.expect_handshake.push(h);
        }
        for v in file.expect_close.unwrap_or_default() {
            let c = Close::parse(v.get_ref()).ok_or_else(|| {
                err(
                    v.span().start,
                    format!("expect_close: '{}' is not a close verdict", v.get_ref()),
                )
            })?;
            p.expect_close.push(c);
        }
        if let Some(v) = file.max_handshake_rtt {
            // A number is read as the flag reads it (refused without a unit).
            let text = match v.get_ref() {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            p.max_handshake_rtt = Some(
                parse_positive_duration(&text)
                    .map_err(|m| err(v.span().start, format!("max_handshake_rtt: {m}")))?,
            );
        }
        if let Some(v) = file.expect_connections {
            let s = match v.get_ref() {
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            p.expect_connections = Some(
                CountRange::parse(&s)
                    .map_err(|m| err(v.span().start, format!("expect_connections: {m}")))?,
            );
        }
        p.accept_damaged = file.accept_damaged.unwrap_or(false);
        if let Some(v) = file.max_decode_errors {
            let n = match v.get_ref() {
                toml::Value::Integer(n) => Ok(*n as f64),
                toml::Value::Float(f) => Ok(*f),
                other => Err(format!("'{other}' is not a percentage (0 to 100)")),
            };
            p.max_decode_errors = n
                .and_then(percent)
                .map_err(|m| err(v.span().start, format!("max_decode_errors: {m}")))?;
        }
        p.ports = file
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.into_inner())
            .collect();
        for v in file.hosts.unwrap_or_default() {
            let h: IpAddress = v.get_ref().parse().map_err(|_| {
                err(
                    v.span().start,
                    format!("hosts: '{}' is not an IP address", v.get_ref()),
                )
            })?;
            p.hosts.push(h);
        }
        // `max_rate = { refused = "1%", "all/syn_retransmission" = "0.5%" }`
        if let Some(t) = file.max_rate {
            for (k, v) in t.get_ref() {
                let rule = ServerRule::parse_rate(&format!("{k}={v}"))
                    .map_err(|m| err(t.span().start, format!("max_rate: {m}")))?;
                p.server_rules.push(rule);
            }
        }
        for (q, t, name) in [
            (Quantile::P50, file.max_p50, "max_p50"),
            (Quantile::P90, file.max_p90, "max_p90"),
            (Quantile::P99, file.max_p99, "max_p99"),
        ] {
            let Some(t) = t else { continue };
            for (k, v) in t.get_ref() {
                let rule = ServerRule::parse_percentile(q, &format!("{k}={v}"))
                    .map_err(|m| err(t.span().start, format!("{name}: {m}")))?;
                p.server_rules.push(rule);
            }
        }
        for v in file.fail_on_diagnosis.unwrap_or_default() {
            let rule = ServerRule::parse_diagnosis(v.get_ref())
                .map_err(|m| err(v.span().start, format!("fail_on_diagnosis: {m}")))?;
            p.server_rules.push(rule);
        }
        Ok(p)
    }

    /// Is this connection judged at all (`ports` / `hosts` narrow the set)?
    pub fn selects(&self, c: &ConnectionReport) -> bool {
        let port_ok = self.ports.is_empty()
            || self.ports.contains(&c.client.port)
            || self.ports.contains(&c.server.port);
        let host_ok = self.hosts.is_empty()
            || self.hosts.contains(&c.client.addr)
            || self.hosts.contains(&c.server.addr);
        port_ok && host_ok
    }

    fn fails_finding(&self, kind: FindingKind, severity: Severity) -> bool {
        if self.allow.contains(&kind) {
            return false;
        }
        self.fail_on.iter().any(|f| match f {
            // Severity orders error < warning < info: "warning" also fails on errors.
            FailOn::Severity(s) => severity <= *s,
            FailOn::Kind(k) => *k == kind,
            _ => false,
        })
    }

    /// Every way this connection breaks the policy.
    pub fn violations(&self, c: &ConnectionReport) -> Vec<Violation> {
        let mut v = Vec::new();
        for f in &c.findings {
            if self.fails_finding(f.kind, f.severity) {
                v.push(Violation {
                    frame: f.frame,
                    kind: f.kind.id().to_string(),
                    severity: Some(f.severity),
                    expected: f.expected.as_ref().map(value_text),
                    actual: f.actual.as_ref().map(value_text),
                    message: f.message().to_string(),
                });
            }
        }
        // Findings past the per-connection cap are not listed but count alike.
        for (kind, n) in c.suppressed.iter() {
            if self.fails_finding(kind, kind.severity()) {
                v.push(Violation {
                    frame: c.last_frame,
                    kind: kind.id().to_string(),
                    severity: Some(kind.severity()),
                    expected: None,
                    actual: Some(Observed::Integer(n)),
                    message: format!(
                        "{n} more {} finding{} past the {MAX_FINDINGS} listed per severity",
                        kind.id(),
                        if n == 1 { "" } else { "s" }
                    ),
                });
            }
        }
        let verdict_frame = c.first_frame;
        for f in &self.fail_on {
            match *f {
                FailOn::Handshake(h) if h == c.handshake => v.push(Violation {
                    frame: verdict_frame,
                    kind: format!("handshake_{}", h.as_str()),
                    severity: None,
                    expected: None,
                    actual: Some(Observed::Text(h.as_str().to_string())),
                    message: format!("the handshake is {h}, which the policy fails on"),
                }),
                FailOn::Close(cl) if cl == c.close => v.push(Violation {
                    frame: c.last_frame,
                    kind: format!("close_{}", cl.as_str()),
                    severity: None,
                    expected: None,
                    actual: Some(Observed::Text(cl.as_str().to_string())),
                    message: format!("the close is {cl}, which the policy fails on"),
                }),
                _ => {}
            }
        }
        // One event, one failure: a verdict the policy already failed on is
        // not reported again as unexpected.
        let failed_handshake = v.iter().any(|x| x.kind.starts_with("handshake_"));
        let failed_close = v.iter().any(|x| x.kind.starts_with("close_"));
        if !failed_handshake
            && !self.expect_handshake.is_empty()
            && !self.expect_handshake.contains(&c.handshake)
        {
            let want: Vec<&str> = self.expect_handshake.iter().map(|h| h.as_str()).collect();
            v.push(Violation {
                frame: verdict_frame,
                kind: "unexpected_handshake".into(),
                severity: None,
                expected: Some(Observed::Text(want.join(" or "))),
                actual: Some(Observed::Text(c.handshake.as_str().into())),
                message: format!(
                    "expected handshake {}, saw {}",
                    want.join(" or "),
                    c.handshake
                ),
            });
        }
        // A connection that never opened (refused, unanswered) has no close to
        // judge: its handshake is what failed, if the policy says so.
        if !failed_close
            && c.handshake.established()
            && !self.expect_close.is_empty()
            && !self.expect_close.contains(&c.close)
        {
            let want: Vec<&str> = self.expect_close.iter().map(|h| h.as_str()).collect();
            v.push(Violation {
                frame: c.last_frame,
                kind: "unexpected_close".into(),
                severity: None,
                expected: Some(Observed::Text(want.join(" or "))),
                actual: Some(Observed::Text(c.close.as_str().into())),
                message: format!("expected close {}, saw {}", want.join(" or "), c.close),
            });
        }
        if let (Some(max), Some(rtt)) = (self.max_handshake_rtt, handshake_time(c))
            && rtt > max as f64 / 1e9
        {
            v.push(Violation {
                frame: verdict_frame,
                kind: "handshake_rtt".into(),
                severity: None,
                expected: Some(Observed::Seconds(max as f64 / 1e9)),
                actual: Some(Observed::Seconds(rtt)),
                message: format!(
                    "expected the handshake within {}, it took {} (SYN→SYN-ACK→ACK)",
                    crate::report::human_duration(max as f64 / 1e9),
                    crate::report::human_duration(rtt)
                ),
            });
        }
        v
    }
}

/// SYN → SYN-ACK → ACK as seen at the capture point: the round trip whichever
/// end the capture was taken at.
pub fn handshake_time(c: &ConnectionReport) -> Option<f64> {
    match (c.handshake_rtt.syn_to_synack, c.handshake_rtt.synack_to_ack) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

fn value_text(v: &crate::findings::Value) -> Observed {
    match v {
        crate::findings::Value::Seq(n) => Observed::Integer(*n as u64),
        other => Observed::Text(other.to_string()),
    }
}

/// An expected or actual value of a [`Violation`], as findings write theirs:
/// a raw sequence number or count, seconds, or words.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Observed {
    Integer(u64),
    Seconds(f64),
    Text(String),
}

impl std::fmt::Display for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Observed::Integer(n) => write!(f, "{n}"),
            Observed::Seconds(s) => write!(f, "{}", crate::duration::HumanDuration(*s)),
            Observed::Text(t) => f.write_str(t),
        }
    }
}

/// One reason a connection (or capture) fails the policy.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Violation {
    pub frame: u64,
    /// A finding kind, or `handshake_<verdict>`, `close_<verdict>`,
    /// `unexpected_handshake`, `unexpected_close`, `handshake_rtt`, `connection_count`.
    pub kind: String,
    pub severity: Option<Severity>,
    pub expected: Option<Observed>,
    pub actual: Option<Observed>,
    pub message: String,
}
