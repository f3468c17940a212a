//! A listener's timeline: counts per interval, in bounded memory. Events are
//! kept in buckets of a width from a ladder of whole multiples (1 ms, 2 ms,
//! 10 ms … 1 h); when there are more than [`MAX_BUCKETS`] the width moves one
//! step up and buckets merge, so counts stay exact whatever the capture length.

use std::collections::BTreeMap;

/// The series of a timeline, in output order.
pub const SERIES: [&str; 10] = [
    "attempts",
    "completed",
    "refused",
    "unanswered",
    "no_final_ack",
    "aborted",
    "invalid",
    "rst_client",
    "rst_server",
    "syn_retransmissions",
];

pub const ATTEMPTS: usize = 0;
pub const COMPLETED: usize = 1;
pub const REFUSED: usize = 2;
pub const UNANSWERED: usize = 3;
pub const NO_FINAL_ACK: usize = 4;
pub const ABORTED: usize = 5;
pub const INVALID: usize = 6;
pub const RST_CLIENT: usize = 7;
pub const RST_SERVER: usize = 8;
pub const SYN_RETRANSMISSIONS: usize = 9;

/// Most buckets kept per timeline before they are merged.
pub const MAX_BUCKETS: usize = 512;

/// Most intervals a report lists with a fixed `--interval`; past it the
/// interval doubles, so a long capture cannot make the output huge.
pub const MAX_FIXED_INTERVALS: i64 = 4096;

/// Bucket widths in nanoseconds; each a whole multiple of the one before.
const LADDER: [i64; 17] = [
    1_000_000,
    2_000_000,
    10_000_000,
    20_000_000,
    100_000_000,
    200_000_000,
    1_000_000_000,
    2_000_000_000,
    10_000_000_000,
    20_000_000_000,
    60_000_000_000,
    120_000_000_000,
    600_000_000_000,
    1_200_000_000_000,
    3_600_000_000_000,
    7_200_000_000_000,
    86_400_000_000_000,
];

/// Example connections of one kind of event in a bucket: the first and last
/// frame and the smallest ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Examples {
    pub first_frame: u64,
    pub last_frame: u64,
    pub ids: [u64; 3],
}

impl Examples {
    pub fn add(&mut self, id: u64, first: u64, last: u64) {
        if self.ids[0] == 0 || first < self.first_frame {
            self.first_frame = if self.ids[0] == 0 {
                first
            } else {
                self.first_frame.min(first)
            };
        }
        self.last_frame = self.last_frame.max(last);
        let mut v = id;
        for slot in &mut self.ids {
            if *slot == 0 {
                *slot = v;
                return;
            }
            if v < *slot {
                std::mem::swap(slot, &mut v);
            }
        }
    }

    pub fn merge(&mut self, o: &Examples) {
        for &id in o.ids.iter().filter(|&&i| i != 0) {
            self.add(id, o.first_frame, o.last_frame);
        }
    }

    pub fn ids(&self) -> Vec<u64> {
        self.ids.iter().copied().filter(|&i| i != 0).collect()
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Bucket {
    pub counts: [u32; SERIES.len()],
    pub rst: Examples,
    pub refused: Examples,
}

impl Bucket {
    fn merge(&mut self, o: &Bucket) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a = a.saturating_add(b);
        }
        self.rst.merge(&o.rst);
        self.refused.merge(&o.refused);
    }
}

#[derive(Debug, Clone)]
pub struct Timeline {
    /// Index into [`LADDER`], or a fixed width (`--interval`).
    step: usize,
    width: i64,
    fixed: bool,
    buckets: BTreeMap<i64, Bucket>,
}

impl Timeline {
    /// `interval`: a fixed width in nanoseconds (`--interval`); it still
    /// doubles when the buckets would pass [`MAX_BUCKETS`].
    pub fn new(interval: Option<i64>) -> Timeline {
        Timeline {
            step: 0,
            width: interval.unwrap_or(LADDER[0]).max(1),
            fixed: interval.is_some(),
            buckets: BTreeMap::new(),
        }
    }

    pub fn width(&self) -> i64 {
        self.width
    }

    pub fn bucket_mut(&mut self, t: i64) -> &mut Bucket {
        let k = t.div_euclid(self.width);
        if !self.buckets.contains_key(&k) && self.buckets.len() >= MAX_BUCKETS {
            self.coarsen();
            return self.bucket_mut(t);
        }
        self.buckets.entry(k).or_default()
    }

    pub fn add(&mut self, t: i64, series: usize, n: u32) {
        let b = self.bucket_mut(t);
        b.counts[series] = b.counts[series].saturating_add(n);
    }

    fn next_width(&self) -> i64 {
        if self.fixed {
            return self.width.saturating_mul(2);
        }
        LADDER
            .get(self.step + 1)
            .copied()
            .unwrap_or(self.width.saturating_mul(2))
    }

    fn coarsen(&mut self) {
        self.regroup(self.next_width());
        if !self.fixed {
            self.step += 1;
        }
    }

    fn regroup(&mut self, width: i64) {
        let old = std::mem::take(&mut self.buckets);
        let w = self.width;
        for (k, b) in old {
            let nk = (k * w).div_euclid(width);
            self.buckets.entry(nk).or_default().merge(&b);
        }
        self.width = width;
    }

    /// The width from the ladder that gives at most `target` intervals over
    /// `span` nanoseconds (never finer than the buckets already are); merges
    /// down to it. A fixed interval stays as it is.
    pub fn settle(&mut self, span: i64, target: i64) {
        if self.fixed {
            while span / self.width > MAX_FIXED_INTERVALS {
                self.coarsen();
            }
            return;
        }
        let mut step = self.step;
        while step + 1 < LADDER.len() && span / LADDER[step] > target {
            step += 1;
        }
        if step > self.step {
            self.regroup(LADDER[step]);
            self.step = step;
        }
        // Past the ladder's end (timestamps years apart): doubling.
        while span / self.width > target {
            self.coarsen();
        }
    }

    /// Merges buckets until they are at least `width` wide (a width this
    /// timeline's ladder reaches, or a doubling of a fixed interval).
    pub fn coarsen_to(&mut self, width: i64) {
        while self.width < width {
            self.coarsen();
        }
    }

    /// Merges another timeline of the same width into this one.
    pub fn merge(&mut self, o: &Timeline) {
        self.coarsen_to(o.width);
        for (&k, b) in &o.buckets {
            let t = k * o.width;
            self.bucket_mut(t).merge(b);
        }
    }

    /// Every bucket from `from` to `to` (nanoseconds), empty ones included.
    pub fn dense(&self, from: i64, to: i64) -> Vec<(i64, Bucket)> {
        let (a, b) = (from.div_euclid(self.width), to.div_euclid(self.width));
        let a = self.buckets.keys().next().map_or(a, |&k| k.min(a));
        let b = self.buckets.keys().next_back().map_or(b, |&k| k.max(b));
        (a..=b)
            .map(|k| {
                (
                    k * self.width,
                    self.buckets.get(&k).copied().unwrap_or_default(),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_stay_exact_when_buckets_merge() {
        let mut t = Timeline::new(None);
        for i in 0..10_000i64 {
            t.add(i * 3_000_000, ATTEMPTS, 1);
        }
        assert!(t.buckets.len() <= MAX_BUCKETS);
        let total: u32 = t.buckets.values().map(|b| b.counts[ATTEMPTS]).sum();
        assert_eq!(total, 10_000);
        t.settle(30_000_000_000, 60);
        assert_eq!(t.width(), 1_000_000_000);
        let total: u32 = t.buckets.values().map(|b| b.counts[ATTEMPTS]).sum();
        assert_eq!(total, 10_000);
    }

    #[test]
    fn a_fixed_interval_doubles_past_its_limit_and_years_stay_few_intervals() {
        let mut t = Timeline::new(Some(1_000_000));
        t.add(0, ATTEMPTS, 1);
        t.add(3_600_000_000_000, ATTEMPTS, 1);
        t.settle(3_600_000_000_000, 60);
        assert!(3_600_000_000_000 / t.width() <= MAX_FIXED_INTERVALS);
        assert_eq!(
            t.dense(0, 3_600_000_000_000).len() as i64,
            3_600_000_000_000 / t.width() + 1
        );
        let mut t = Timeline::new(None);
        let years = 50 * 365 * 86_400_000_000_000i64;
        t.add(0, ATTEMPTS, 1);
        t.add(years, ATTEMPTS, 1);
        t.settle(years, 60);
        assert!(t.dense(0, years).len() <= 61);
        let total: u32 = t.buckets.values().map(|b| b.counts[ATTEMPTS]).sum();
        assert_eq!(total, 2);
    }

    #[test]
    fn examples_keep_the_smallest_ids_and_frame_range() {
        let mut e = Examples::default();
        for (id, f) in [(9, 90), (4, 40), (7, 70), (2, 20)] {
            e.add(id, f, f + 1);
        }
        assert_eq!(e.ids(), [2, 4, 7]);
        assert_eq!((e.first_frame, e.last_frame), (20, 91));
    }
}
