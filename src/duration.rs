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

/// Parses a duration into nanoseconds. A bare number is seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (try 200ms, 1.5s, 5m)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" => 1e9,
        "ms" => 1e6,
        "us" | "µs" => 1e3,
        "ns" => 1.0,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        other => {
            return Err(format!(
                "'{s}': unknown unit '{other}' (use ns, us, ms, s, m or h)"
            ));
        }
    };
    let nanos = value * scale;
    if !nanos.is_finite() || nanos < 0.0 || nanos > i64::MAX as f64 {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(nanos.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn units() {
        assert_eq!(parse_duration("200ms"), Ok(200_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("5m"), Ok(300_000_000_000));
        assert_eq!(parse_duration("2"), Ok(2_000_000_000));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 parsecs").is_err());
    }
}
