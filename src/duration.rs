//! Durations on the command line and in policy files (`200ms`, `1.5s`, `5m`,
//! `2h`, `30us`), and durations as reports print them.

use std::fmt;

/// Seconds, printed as a person reads them: `1.250 s`, `12.0 ms`, `80 µs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HumanDuration(pub f64);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        let a = secs.abs();
        if a >= 1.0 {
            write!(f, "{secs:.3} s")
        } else if a >= 1e-3 {
            write!(f, "{:.1} ms", secs * 1e3)
        } else {
            write!(f, "{:.0} µs", secs * 1e6)
        }
    }
}

/// [`HumanDuration`] as a string.
pub fn human_duration(secs: f64) -> String {
    HumanDuration(secs).to_string()
}

/// Parses a duration into nanoseconds: `200ms`, `1.5s`, `5m30s`, `1h 2m`,
/// `30us`. Flags and policy files take the same forms. A unit is required:
/// a bare `5` could be seconds or milliseconds, so it is refused.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("'{s}' needs a unit: {t}s, {t}ms …"));
    }
    // One decimal number with a unit (`1.5s`), which humantime does not take …
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "s" | "sec" => Some(1e9),
        "ms" => Some(1e6),
        "us" | "µs" => Some(1e3),
        "ns" => Some(1.0),
        "m" | "min" => Some(60e9),
        "h" => Some(3600e9),
        _ => None,
    };
    if let (Some(scale), Ok(value)) = (scale, num.parse::<f64>()) {
        let nanos = value * scale;
        if !nanos.is_finite() || nanos < 0.0 || nanos > i64::MAX as f64 {
            return Err(format!("'{s}' is out of range"));
        }
        return Ok(nanos.round() as i64);
    }
    // … and compound durations (`5m30s`, `1h 2m`) by humantime.
    let d = humantime::parse_duration(t)
        .map_err(|e| format!("'{s}' is not a duration ({e}; try 200ms, 1.5s, 5m30s)"))?;
    i64::try_from(d.as_nanos()).map_err(|_| format!("'{s}' is out of range"))
}

/// [`parse_duration`] for settings where zero makes no sense (a timeout of
/// zero would end every connection at its first packet).
pub fn parse_positive_duration(s: &str) -> Result<i64, String> {
    match parse_duration(s)? {
        0 => Err(format!("'{s}': must be more than zero")),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn units() {
        assert_eq!(parse_duration("200ms"), Ok(200_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("5m"), Ok(300_000_000_000));
        assert_eq!(parse_duration("5m30s"), Ok(330_000_000_000));
        assert_eq!(parse_duration("1h 2m"), Ok(3_720_000_000_000));
        assert_eq!(parse_duration("0s"), Ok(0));
        assert!(parse_duration("2").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 parsecs").is_err());
        assert!(super::parse_positive_duration("0s").is_err());
        assert!(super::parse_positive_duration("0ms").is_err());
    }
}
