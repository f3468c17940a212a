//! The sliding read window over the stream and the byte scanning used to
//! resynchronise after damage.

use super::{FrameSink, Resync};
use std::io::{self, Read};

/// Starting size of the read window; it grows only while a record needs more
/// and the bytes are really there.
const INITIAL_BUFFER: usize = 256 << 10;
/// While scanning damage, skipped bytes are released in steps of this size so
/// the window does not grow with the damage.
pub(super) const SCAN_STEP: usize = 64 << 10;

/// A sliding window over the stream. Reads only what the next record needs,
/// so a slow pipe (`tcpdump -w - | tcpshake analyze -`) streams record by
/// record, and grows only when a record is longer than the window *and* its
/// bytes have arrived: a header claiming gigabytes costs nothing until the
/// gigabytes exist (at most twice the bytes present are ever allocated).
pub(super) struct Window<R> {
    src: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
}

impl<R: Read> Window<R> {
    pub(super) fn new(src: R) -> Self {
        Window {
            src,
            buf: vec![0; INITIAL_BUFFER],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
        }
    }

    #[inline]
    pub(super) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    #[inline]
    pub(super) fn len(&self) -> usize {
        self.end - self.start
    }

    /// Stream offset of the first unconsumed byte.
    pub(super) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    #[inline]
    pub(super) fn consume(&mut self, n: usize) {
        self.start += n.min(self.len());
    }

    /// Makes `n` bytes available; `false` if the stream ends first (what
    /// there is stays available).
    #[inline]
    pub(super) fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.len() >= n {
            return Ok(true);
        }
        self.fill_slow(n)
    }

    /// [`fill`](Self::fill), first telling `sink` when it must wait for
    /// input (what is buffered is used up): the moment a streaming consumer
    /// flushes.
    #[inline]
    pub(super) fn fill_or_wait(&mut self, n: usize, sink: &mut dyn FrameSink) -> io::Result<bool> {
        if self.len() < n && !self.eof {
            sink.idle();
        }
        self.fill(n)
    }

    fn fill_slow(&mut self, n: usize) -> io::Result<bool> {
        while self.len() < n {
            if self.eof {
                return Ok(false);
            }
            if self.end == self.buf.len() {
                if self.start > 0 {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.base += self.start as u64;
                    self.end -= self.start;
                    self.start = 0;
                } else {
                    // Full of real bytes: only now is growing justified.
                    let cap = self.buf.len();
                    self.buf
                        .resize(n.min(cap.saturating_mul(2)).max(cap + 1), 0);
                }
            }
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

#[inline]
pub(super) fn read_u32(d: &[u8], at: usize, big_endian: bool) -> u32 {
    let b = [d[at], d[at + 1], d[at + 2], d[at + 3]];
    if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    }
}

/// Where the first non-zero byte of `d` is. Runs of zeros (a pre-allocated
/// file never written, a zeroed disk block) are skipped word by word.
#[inline]
pub(super) fn first_nonzero(d: &[u8]) -> Option<usize> {
    let mut chunks = d.chunks_exact(32);
    let mut base = 0;
    for c in &mut chunks {
        if c.iter().fold(0u8, |a, &b| a | b) != 0 {
            return c.iter().position(|&b| b != 0).map(|i| base + i);
        }
        base += 32;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b != 0)
        .map(|i| base + i)
}

/// What a scan makes of a position in the window.
pub(super) enum Probe {
    /// A plausible record starts here.
    Found,
    /// Not here: try the next byte.
    Next,
    /// The stream could not be read.
    Failed(io::Error),
}

/// Scans the window, from the byte after its start, for the next plausible
/// record: `header` bytes are made available at each position tried, and a
/// position whose first non-zero byte comes after `nonzero_at` is skipped at
/// once (a real header has a non-zero field there). `probe` judges the rest.
/// Skipped bytes are released as the scan goes, so the window does not grow
/// with the damage.
pub(super) fn scan<R: Read>(
    w: &mut Window<R>,
    header: usize,
    nonzero_at: usize,
    mut probe: impl FnMut(&mut Window<R>, usize) -> Probe,
) -> Resync {
    let mut at = 1usize;
    loop {
        if at >= SCAN_STEP {
            w.consume(at);
            at = 0;
        }
        match w.fill(at + header) {
            Ok(true) => {}
            Ok(false) => {
                w.consume(w.len());
                return Resync::End;
            }
            Err(e) => {
                // What was read before the failure is part of the damage.
                w.consume(w.len());
                return Resync::Failed(e);
            }
        }
        match first_nonzero(&w.data()[at..]) {
            None => {
                at = w.len();
                continue;
            }
            Some(q) if q > nonzero_at => {
                at += q - nonzero_at;
                continue;
            }
            Some(_) => {}
        }
        match probe(w, at) {
            Probe::Found => {
                w.consume(at);
                return Resync::Found;
            }
            Probe::Next => at += 1,
            Probe::Failed(e) => {
                w.consume(w.len());
                return Resync::Failed(e);
            }
        }
    }
}
