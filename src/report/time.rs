//! How the table prints instants: ISO 8601 UTC (the default, for people),
//! epoch seconds (as in JSON), or seconds since the first connection printed.

use crate::capture::Timestamp;
use crate::model::IsoTime;

/// `--time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    #[default]
    Iso,
    Epoch,
    Relative,
}

impl TimeFormat {
    /// `t` in this format; `origin` is the reference of `Relative`. Six
    /// decimals in every format.
    pub fn show(self, t: Timestamp, origin: Timestamp) -> String {
        match self {
            TimeFormat::Iso => IsoTime(t).to_string(),
            TimeFormat::Epoch => format!("{:.6}", t.as_secs_f64()),
            TimeFormat::Relative => format!("+{:.6} s", t.secs_since(origin)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = Timestamp(1_796_025_440_450_067_000);
        let o = Timestamp(1_796_025_430_000_000_000);
        assert_eq!(TimeFormat::Iso.show(t, o), "2026-11-30T07:57:20.450067Z");
        assert_eq!(TimeFormat::Epoch.show(t, o), "1796025440.450067");
        assert_eq!(TimeFormat::Relative.show(t, o), "+10.450067 s");
    }
}
