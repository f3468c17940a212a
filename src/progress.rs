//! Progress on a terminal: a spinner on stderr while a large file is read.

use crate::pipeline::Progress;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

/// A spinner on stderr, shown only on a terminal and only once a file takes a
/// moment: quick runs and redirected runs print nothing.
pub struct Spinner {
    started: Instant,
    bar: Option<ProgressBar>,
    enabled: bool,
    name: String,
}

impl Spinner {
    pub fn new(name: &str) -> Spinner {
        Spinner {
            started: Instant::now(),
            bar: None,
            enabled: io::stderr().is_terminal(),
            name: name.to_string(),
        }
    }
}

impl Progress for Spinner {
    fn frames(&mut self, n: u64) {
        if !self.enabled {
            return;
        }
        if self.bar.is_none() && self.started.elapsed() > Duration::from_millis(500) {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {msg} {pos} frames ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_message(self.name.clone());
            b.enable_steady_tick(Duration::from_millis(120));
            self.bar = Some(b);
        }
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }

    /// Clears the spinner, if it was ever shown.
    fn done(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
