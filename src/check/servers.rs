//! Policies on the server view (docs/servers.md): rates, percentiles and
//! diagnoses, for each listener, one listener, or all of them together.
//! Written `[SCOPE/]NAME=VALUE` (`refused=1%`, `all/syn_retransmission=0.5%`,
//! `10.0.0.2:80/time_to_establish=200ms`) or `[SCOPE/]DIAGNOSIS`.

use super::Violation;
use super::policy::Observed;
use crate::duration::human_duration;
use crate::servers::{DIAGNOSES, ListenerReport, MEASURES, Rates, ServersReport};

/// Which listeners a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Each listener on its own (no prefix).
    EachListener,
    /// All listeners together (`all/`).
    Overall,
    /// One listener (`ip:port/`).
    Listener(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantile {
    P50,
    P90,
    P99,
}

impl Quantile {
    pub fn as_str(self) -> &'static str {
        match self {
            Quantile::P50 => "p50",
            Quantile::P90 => "p90",
            Quantile::P99 => "p99",
        }
    }
}

/// One rule on the server view.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerRule {
    /// A rate (0–1) at most this.
    MaxRate {
        scope: Scope,
        rate: &'static str,
        max: f64,
    },
    /// A percentile of a measure at most this many nanoseconds.
    MaxPercentile {
        scope: Scope,
        measure: &'static str,
        q: Quantile,
        max: i64,
    },
    /// Fail when the diagnosis is given.
    FailOnDiagnosis { scope: Scope, id: &'static str },
}

fn split_scope(s: &str) -> (Scope, &str) {
    match s.trim().rsplit_once('/') {
        Some(("all", rest)) => (Scope::Overall, rest.trim()),
        Some((l, rest)) => (Scope::Listener(l.trim().to_string()), rest.trim()),
        None => (Scope::EachListener, s.trim()),
    }
}

fn known(name: &str, list: &[&'static str], what: &str) -> Result<&'static str, String> {
    list.iter()
        .copied()
        .find(|n| *n == name)
        .ok_or_else(|| format!("'{name}' is not {what} ({})", list.join(", ")))
}

/// `1%`, `0.5%`, or a fraction like `0.01`.
pub fn parse_rate_value(v: &str) -> Result<f64, String> {
    let v = v.trim();
    let bad = || format!("'{v}' is not a rate (try 1% or 0.01)");
    let x = match v.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
        None => v.parse::<f64>().map_err(|_| bad())?,
    };
    if !(0.0..=1.0).contains(&x) {
        return Err(bad());
    }
    Ok(x)
}

impl ServerRule {
    /// `[SCOPE/]RATE=VALUE`.
    pub fn parse_rate(s: &str) -> Result<ServerRule, String> {
        let (scope, rest) = split_scope(s);
        let (name, value) = rest
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not NAME=RATE (e.g. refused=1%)"))?;
        Ok(ServerRule::MaxRate {
            scope,
            rate: known(name.trim(), &Rates::NAMES, "a rate")?,
            max: parse_rate_value(value)?,
        })
    }

    /// `[SCOPE/]MEASURE=DURATION`.
    pub fn parse_percentile(q: Quantile, s: &str) -> Result<ServerRule, String> {
        let (scope, rest) = split_scope(s);
        let (name, value) = rest.split_once('=').ok_or_else(|| {
            format!("'{s}' is not MEASURE=DURATION (e.g. time_to_establish=200ms)")
        })?;
        Ok(ServerRule::MaxPercentile {
            scope,
            measure: known(name.trim(), &MEASURES, "a measure")?,
            q,
            max: crate::duration::parse_duration(value)?,
        })
    }

    /// `[SCOPE/]DIAGNOSIS`.
    pub fn parse_diagnosis(s: &str) -> Result<ServerRule, String> {
        let (scope, rest) = split_scope(s);
        Ok(ServerRule::FailOnDiagnosis {
            scope,
            id: known(rest, &DIAGNOSES, "a diagnosis")?,
        })
    }

    fn scope(&self) -> &Scope {
        match self {
            ServerRule::MaxRate { scope, .. }
            | ServerRule::MaxPercentile { scope, .. }
            | ServerRule::FailOnDiagnosis { scope, .. } => scope,
        }
    }

    fn check(&self, l: &ListenerReport, out: &mut Vec<Violation>) {
        let denominator = |rate: &str| match rate {
            "retransmission" | "zero_window" => ("connections", l.connections),
            _ => ("attempts", l.attempts),
        };
        match self {
            ServerRule::MaxRate { rate, max, .. } => {
                let x = l.rates.get(rate).unwrap_or(0.0);
                if x > *max {
                    let (what, of) = denominator(rate);
                    let n = (x * of as f64).round() as u64;
                    out.push(Violation {
                        frame: 0,
                        kind: format!("rate_{rate}"),
                        severity: None,
                        expected: Some(Observed::Text(format!("≤ {}%", max * 100.0))),
                        actual: Some(Observed::Text(format!("{:.2}%", x * 100.0))),
                        message: format!(
                            "{}: {rate} {:.2}% of {what} ({n} of {of}), the policy allows at most {}%",
                            l.server,
                            x * 100.0,
                            max * 100.0
                        ),
                    });
                }
            }
            ServerRule::MaxPercentile {
                measure, q, max, ..
            } => {
                let Some(p) = l.measure(measure) else { return };
                let v = match q {
                    Quantile::P50 => p.p50,
                    Quantile::P90 => p.p90,
                    Quantile::P99 => p.p99,
                };
                let limit = *max as f64 / 1e9;
                if let Some(v) = v
                    && v > limit
                {
                    out.push(Violation {
                        frame: 0,
                        kind: format!("{}_{measure}", q.as_str()),
                        severity: None,
                        expected: Some(Observed::Text(format!("≤ {}", human_duration(limit)))),
                        actual: Some(Observed::Seconds(v)),
                        message: format!(
                            "{}: {measure} {} is {} over {} connections (max {}), the policy allows at most {}",
                            l.server,
                            q.as_str(),
                            human_duration(v),
                            p.count,
                            p.max.map_or("-".into(), human_duration),
                            human_duration(limit)
                        ),
                    });
                }
            }
            // Diagnoses are checked once over the whole view, in `violations`.
            ServerRule::FailOnDiagnosis { .. } => {}
        }
    }
}

/// Every violation of `rules` in a server view.
pub fn violations(rules: &[ServerRule], r: &ServersReport) -> Vec<Violation> {
    let mut out = Vec::new();
    for rule in rules {
        if let ServerRule::FailOnDiagnosis { scope, id } = rule {
            // Each listener or all of them: any subject, the client addresses'
            // port_exhaustion included; a named listener: its own.
            let found = r.diagnoses.iter().filter(|d| {
                d.id == *id
                    && match scope {
                        Scope::Listener(name) => &d.subject == name,
                        Scope::EachListener | Scope::Overall => true,
                    }
            });
            out.extend(found.map(|d| Violation {
                frame: d.first_frame,
                kind: format!("diagnosis_{id}"),
                severity: None,
                expected: None,
                actual: Some(Observed::Integer(d.count)),
                message: format!("{}: {id}: {}", d.subject, d.message),
            }));
            continue;
        }
        match rule.scope() {
            Scope::Overall => rule.check(&r.overall, &mut out),
            Scope::EachListener => {
                for l in &r.listeners {
                    rule.check(l, &mut out);
                }
            }
            Scope::Listener(name) => {
                for l in r.listeners.iter().filter(|l| &l.server == name) {
                    rule.check(l, &mut out);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_and_without_scope() {
        assert_eq!(
            ServerRule::parse_rate("refused=1%").unwrap(),
            ServerRule::MaxRate {
                scope: Scope::EachListener,
                rate: "refused",
                max: 0.01
            }
        );
        assert_eq!(
            ServerRule::parse_rate("all/syn_retransmission=0.5%").unwrap(),
            ServerRule::MaxRate {
                scope: Scope::Overall,
                rate: "syn_retransmission",
                max: 0.005
            }
        );
        assert_eq!(
            ServerRule::parse_percentile(Quantile::P99, "10.0.0.2:80/time_to_establish=200ms")
                .unwrap(),
            ServerRule::MaxPercentile {
                scope: Scope::Listener("10.0.0.2:80".into()),
                measure: "time_to_establish",
                q: Quantile::P99,
                max: 200_000_000
            }
        );
        assert!(ServerRule::parse_rate("refused=150%").is_err());
        assert!(ServerRule::parse_rate("bogus=1%").is_err());
        assert!(ServerRule::parse_diagnosis("nope").is_err());
        assert!(ServerRule::parse_diagnosis("accept_queue_overflow").is_ok());
    }
}
