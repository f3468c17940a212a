//! Which connections a command reports: by host (address or CIDR), port,
//! verdict, finding severity and time. One filter for `analyze`, `ladder`,
//! `check` (and any command that flattens [`FilterArgs`]).

use crate::capture::Timestamp;
use crate::decode::IpAddress;
use crate::duration::parse_duration;
use crate::findings::Severity;
use crate::model::connection::{Close, ConnectionReport, Handshake};
use ipnet::IpNet;
use std::net::IpAddr;

/// An instant: absolute, or an offset from the capture's first packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    At(Timestamp),
    /// Nanoseconds after the first packet of the capture.
    AfterStart(i64),
}

impl TimeBound {
    fn resolve(self, start: Option<Timestamp>) -> Option<Timestamp> {
        match self {
            TimeBound::At(t) => Some(t),
            TimeBound::AfterStart(d) => start.map(|s| Timestamp(s.0.saturating_add(d))),
        }
    }
}

/// `2024-01-01T00:00:05Z` (RFC 3339), `1704067205.5` (epoch seconds), or
/// `+5s` / `+1m30s` (after the capture's first packet).
pub fn parse_time(s: &str) -> Result<TimeBound, String> {
    let t = s.trim();
    if let Some(rel) = t.strip_prefix('+') {
        return parse_duration(rel).map(TimeBound::AfterStart);
    }
    if let Ok(secs) = t.parse::<f64>()
        && secs.is_finite()
    {
        return Ok(TimeBound::At(Timestamp((secs * 1e9).round() as i64)));
    }
    t.parse::<jiff::Timestamp>()
        .map(|ts| TimeBound::At(Timestamp(ts.as_nanosecond() as i64)))
        .map_err(|_| {
            format!("'{s}' is not a time (2024-01-01T00:00:05Z, epoch seconds, or +30s from the first packet)")
        })
}

/// A verdict name as `--verdict` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerdictName {
    Handshake(Handshake),
    Close(Close),
    /// Any failed connection ([`ConnectionReport::failed`]).
    Failed,
}

pub fn parse_verdict(s: &str) -> Result<VerdictName, String> {
    let s = s.trim();
    if s == "failed" {
        return Ok(VerdictName::Failed);
    }
    Handshake::parse(s)
        .map(VerdictName::Handshake)
        .or_else(|| Close::parse(s).map(VerdictName::Close))
        .ok_or_else(|| {
            format!("'{s}' is not a verdict (refused, reset, unanswered, graceful, failed …)")
        })
}

pub fn parse_host(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("'{s}' is not an address or CIDR block (10.0.0.5, 10.0.0.0/8, 2001:db8::/32)")
        })
}

pub fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s.trim()).ok_or_else(|| format!("'{s}' is not error, warning or info"))
}

/// The connections to keep. Empty keeps all.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Either endpoint in one of these.
    pub hosts: Vec<IpNet>,
    /// Either endpoint on one of these ports.
    pub ports: Vec<u16>,
    /// The handshake or close verdict is one of these.
    pub verdicts: Vec<VerdictName>,
    /// At least one finding this severe (error is the most severe).
    pub min_severity: Option<Severity>,
    /// The connection was alive at or after this instant …
    pub since: Option<TimeBound>,
    /// … and began at or before this one.
    pub until: Option<TimeBound>,
}

fn ip(a: IpAddress) -> IpAddr {
    match a {
        IpAddress::V4(x) => IpAddr::from(x),
        IpAddress::V6(x) => IpAddr::from(x),
    }
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
            && self.ports.is_empty()
            && self.verdicts.is_empty()
            && self.min_severity.is_none()
            && self.since.is_none()
            && self.until.is_none()
    }

    /// Whether `c` is kept; `start` is the capture's first packet (for
    /// relative times).
    pub fn matches(&self, c: &ConnectionReport, start: Option<Timestamp>) -> bool {
        let host = self.hosts.is_empty()
            || self
                .hosts
                .iter()
                .any(|n| n.contains(&ip(c.client.addr)) || n.contains(&ip(c.server.addr)));
        let port = self.ports.is_empty()
            || self.ports.contains(&c.client.port)
            || self.ports.contains(&c.server.port);
        let verdict = self.verdicts.is_empty()
            || self.verdicts.iter().any(|v| match *v {
                VerdictName::Handshake(h) => c.handshake == h,
                VerdictName::Close(cl) => c.close == cl,
                VerdictName::Failed => c.failed(),
            });
        let severity = self
            .min_severity
            .is_none_or(|min| c.finding_counts().iter().any(|(k, _)| k.severity() <= min));
        let end = Timestamp(c.start.0.saturating_add((c.duration * 1e9) as i64));
        let since = self
            .since
            .and_then(|b| b.resolve(start))
            .is_none_or(|t| end >= t);
        let until = self
            .until
            .and_then(|b| b.resolve(start))
            .is_none_or(|t| c.start <= t);
        host && port && verdict && severity && since && until
    }
}

/// The filter flags, for any subcommand to flatten.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only connections with an endpoint in this address or CIDR block. Repeatable, or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "IP|CIDR", value_parser = parse_host)]
    pub host: Vec<IpNet>,
    /// Only connections with this port at either end. Repeatable, or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "PORT")]
    pub port: Vec<u16>,
    /// Only connections with this handshake or close verdict (or `failed`). Repeatable.
    #[arg(long, value_delimiter = ',', value_name = "VERDICT", value_parser = parse_verdict)]
    pub verdict: Vec<VerdictName>,
    /// Only connections with a finding at least this severe: error, warning or info.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    /// Only connections still alive at this time: RFC 3339, epoch seconds, or +DURATION after the first packet.
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub since: Option<TimeBound>,
    /// Only connections begun by this time (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = parse_time, allow_hyphen_values = true)]
    pub until: Option<TimeBound>,
}

impl FilterArgs {
    pub fn filter(&self) -> Filter {
        Filter {
            hosts: self.host.clone(),
            ports: self.port.clone(),
            verdicts: self.verdict.clone(),
            min_severity: self.min_severity,
            since: self.since,
            until: self.until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            parse_time("2024-01-01T00:00:05Z"),
            Ok(TimeBound::At(Timestamp(1_704_067_205_000_000_000)))
        );
        assert_eq!(
            parse_time("1704067205.5"),
            Ok(TimeBound::At(Timestamp(1_704_067_205_500_000_000)))
        );
        assert_eq!(
            parse_time("+1m30s"),
            Ok(TimeBound::AfterStart(90_000_000_000))
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn hosts_and_verdicts() {
        assert!(parse_host("10.0.0.0/8").is_ok());
        assert!(parse_host("2001:db8::1").is_ok());
        assert!(parse_host("10.0.0.0/33").is_err());
        assert_eq!(parse_verdict("failed"), Ok(VerdictName::Failed));
        assert_eq!(parse_verdict("reset"), Ok(VerdictName::Close(Close::Reset)));
        assert!(parse_verdict("meh").is_err());
    }
}
