//! Progress on a terminal while a large file is read: percent, bytes, MB/s
//! and ETA when the size is known (a file), a spinner otherwise (standard
//! input), with the frame count in human numbers.

use crate::pipeline::Progress;
use indicatif::{HumanCount, ProgressBar, ProgressStyle};
use std::io::{self, IsTerminal};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The template with a known size.
pub const SIZED: &str =
    "{msg} [{bar:30}] {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}";
/// The template without one.
pub const UNSIZED: &str = "{spinner} {msg} {bytes} read {bytes_per_sec}";

/// Shown only on a terminal and only once a file takes a moment: quick runs
/// and redirected runs print nothing.
pub struct Spinner {
    started: Instant,
    bar: Option<ProgressBar>,
    enabled: bool,
    name: String,
    size: Option<u64>,
    read: Arc<AtomicU64>,
}

impl Spinner {
    pub fn new(name: &str) -> Spinner {
        let size = (name != "-")
            .then(|| std::fs::metadata(Path::new(name)).ok())
            .flatten()
            .map(|m| m.len())
            .filter(|&n| n > 0);
        Spinner {
            started: Instant::now(),
            bar: None,
            enabled: io::stderr().is_terminal(),
            name: name.to_string(),
            size,
            read: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// `name: 1,425,408 frames`.
pub fn message(name: &str, frames: u64) -> String {
    format!("{name}: {} frames", HumanCount(frames))
}

impl Progress for Spinner {
    fn byte_counter(&mut self) -> Option<Arc<AtomicU64>> {
        Some(self.read.clone())
    }

    fn frames(&mut self, n: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() > Duration::from_millis(500) {
            let (b, template) = match self.size {
                Some(size) => (ProgressBar::new(size), SIZED),
                None => (ProgressBar::new_spinner(), UNSIZED),
            };
            b.set_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_spinner())
                    .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(b);
        }
        if let Some(b) = &self.bar {
            b.set_position(self.read.load(Ordering::Relaxed));
            b.set_message(message(&self.name, n));
        }
    }

    /// Clears the bar, if it was ever shown.
    fn done(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_parse_and_numbers_are_human() {
        assert!(ProgressStyle::with_template(SIZED).is_ok());
        assert!(ProgressStyle::with_template(UNSIZED).is_ok());
        assert_eq!(message("big.pcap", 1_425_408), "big.pcap: 1,425,408 frames");
        // A sized bar renders percent, bytes and rate.
        let b = ProgressBar::with_draw_target(Some(1000), indicatif::ProgressDrawTarget::hidden());
        b.set_style(ProgressStyle::with_template(SIZED).unwrap());
        b.set_position(250);
        assert_eq!(b.position(), 250);
    }

    #[test]
    fn the_reader_counts_bytes() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/mixed.pcap");
        let mut s = Spinner::new(path);
        assert_eq!(s.size, std::fs::metadata(path).ok().map(|m| m.len()));
        let counter = s.byte_counter().unwrap();
        crate::capture::read_path_counted(
            Path::new(path),
            Some(counter.clone()),
            &mut |_: &crate::capture::Frame<'_>| {},
        )
        .unwrap();
        assert_eq!(Some(counter.load(Ordering::Relaxed)), s.size);
    }
}
