//! A progress line for long work: drawn on a terminal, silent otherwise (pipes, CI).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

pub struct Progress {
    label: &'static str,
    total: u64,
    enabled: bool,
    started: Instant,
    drawn_at_ms: AtomicU64,
}

impl Progress {
    /// `total` of 0 means unknown: the line shows a count without a percentage.
    pub fn new(label: &'static str, total: u64) -> Self {
        Self {
            label,
            total,
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            drawn_at_ms: AtomicU64::new(0),
        }
    }

    pub fn set(&self, done: u64) {
        if !self.enabled {
            return;
        }
        // Redraw at most ten times a second.
        let now_ms = self.started.elapsed().as_millis() as u64;
        if now_ms < self.drawn_at_ms.load(Ordering::Relaxed) + 100 && done < self.total {
            return;
        }
        self.drawn_at_ms.store(now_ms, Ordering::Relaxed);
        let line = if self.total > 0 {
            format!("{} {done}/{} ({}%)", self.label, self.total, done * 100 / self.total.max(1))
        } else {
            format!("{} {done}", self.label)
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    pub fn finish(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
        }
    }
}
