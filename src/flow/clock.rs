//! The table's clock: capture time with its jumps taken out, so that expiry
//! keeps running when a timestamp is wrong.
//!
//! Timeouts (RFC 9293 §3.4.2's 2·MSL, the idle and close timeouts) are
//! measured in *table time*: capture time minus a skew. A frame whose time is
//! further than the jump limit from the latest table time, either way, is a
//! jump (a stray timestamp, spliced files, a clock step): the skew absorbs it,
//! so the frame lands at the latest table time and the frames after it go on
//! from there. A single stray frame thus makes two jumps, there and back, and
//! leaves every other connection's timing as it was.

use crate::capture::Timestamp;
use schemars::JsonSchema;
use serde::Serialize;

/// The first jump in capture time of a file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct TimeJump {
    /// The frame whose timestamp jumped.
    pub frame: u64,
    /// How far, in seconds, from the capture time before it (negative: backward).
    pub seconds: f64,
}

#[derive(Debug, Clone)]
pub(super) struct Clock {
    /// Capture time minus table time, in nanoseconds.
    skew: i64,
    /// Latest table time.
    now: Option<i64>,
    /// A move larger than this, either way, is a jump.
    limit: i64,
    pub(super) jumps: u64,
    pub(super) first_jump: Option<TimeJump>,
}

impl Clock {
    pub(super) fn new(limit: i64) -> Clock {
        Clock {
            skew: 0,
            now: None,
            limit,
            jumps: 0,
            first_jump: None,
        }
    }

    /// Table time of frame `frame`, stamped `ts`.
    #[inline]
    pub(super) fn frame(&mut self, frame: u64, ts: Timestamp) -> i64 {
        let t = ts.0.saturating_sub(self.skew);
        let Some(now) = self.now else {
            self.now = Some(t);
            return t;
        };
        let moved = t.saturating_sub(now);
        if moved > self.limit || moved < -self.limit {
            self.skew = self.skew.saturating_add(moved);
            self.jumps += 1;
            self.first_jump.get_or_insert(TimeJump {
                frame,
                seconds: moved as f64 / 1e9,
            });
            return now;
        }
        if t > now {
            self.now = Some(t);
        }
        t
    }

    /// Table time of `ts` without a frame (a quiet live interface's clock).
    pub(super) fn table_time(&self, ts: Timestamp) -> i64 {
        ts.0.saturating_sub(self.skew)
    }
}
