//! Sequence-number arithmetic (RFC 9293 §3.4): every comparison is modulo 2^32.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// A TCP sequence or acknowledgment number.
///
/// Deliberately not `Ord`: sequence space is circular, so "less than" only
/// means something for two numbers less than 2^31 apart. Use [`SeqNumber::cmp_wrapping`]
/// or the `lt`/`le`/`gt`/`ge` helpers, which follow RFC 9293 §3.4 (and RFC 1982
/// serial-number arithmetic).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Signed distance `self - other` in sequence space.
    #[inline]
    pub fn diff(self, other: SeqNumber) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    #[inline]
    pub fn cmp_wrapping(self, other: SeqNumber) -> Ordering {
        self.diff(other).cmp(&0)
    }

    #[inline]
    pub fn lt(self, other: SeqNumber) -> bool {
        self.diff(other) < 0
    }

    #[inline]
    pub fn le(self, other: SeqNumber) -> bool {
        self.diff(other) <= 0
    }

    #[inline]
    pub fn gt(self, other: SeqNumber) -> bool {
        self.diff(other) > 0
    }

    #[inline]
    pub fn ge(self, other: SeqNumber) -> bool {
        self.diff(other) >= 0
    }

    /// The later of two numbers in sequence space.
    #[inline]
    pub fn max_wrapping(self, other: SeqNumber) -> SeqNumber {
        if self.ge(other) { self } else { other }
    }

    /// `low <= self < low + len`, the RFC 9293 §3.10.7.4 window test.
    #[inline]
    pub fn in_window(self, low: SeqNumber, len: u32) -> bool {
        (self.0.wrapping_sub(low.0)) < len
    }

    /// Number relative to a base (Wireshark's "relative sequence number").
    #[inline]
    pub fn relative_to(self, base: SeqNumber) -> u32 {
        self.0.wrapping_sub(base.0)
    }

    /// The number as a message prints it: relative to `base` and signed, or
    /// raw when there is no base. Sequence numbers are compared within 2^31
    /// of each other (RFC 9293 §3.4), so a number just before the base (a
    /// resent SYN's octet, an ack of something older than the capture) is a
    /// small negative number rather than one near 2^32.
    #[inline]
    pub fn shown(self, base: Option<SeqNumber>) -> i64 {
        match base {
            Some(b) => self.0.wrapping_sub(b.0) as i32 as i64,
            None => self.0 as i64,
        }
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    #[inline]
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

impl fmt::Debug for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seq({})", self.0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap() {
        let a = SeqNumber(0xffff_fff0);
        let b = a + 0x20;
        assert_eq!(b.0, 0x10);
        assert!(a.lt(b));
        assert!(b.gt(a));
        assert_eq!(b.diff(a), 0x20);
        assert_eq!(a.max_wrapping(b), b);
        assert!(SeqNumber(5).in_window(a, 0x20));
        assert!(!SeqNumber(0x10).in_window(a, 0x20));
    }

    #[test]
    fn relative_numbers_wrap() {
        assert_eq!(SeqNumber(3).relative_to(SeqNumber(0xffff_fffe)), 5);
    }

    #[test]
    fn shown_numbers_before_the_base_are_negative() {
        let base = SeqNumber(1000);
        assert_eq!(SeqNumber(995).shown(Some(base)), -5);
        assert_eq!(SeqNumber(1005).shown(Some(base)), 5);
        assert_eq!(SeqNumber(3).shown(Some(SeqNumber(0xffff_fffe))), 5);
        // Without a base the raw number, however large.
        assert_eq!(SeqNumber(0xffff_fff0).shown(None), 0xffff_fff0);
    }
}
