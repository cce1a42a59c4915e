//! Progress of a dump on the console: a line every tenth of the way, since a capture kernel's
//! serial console cannot redraw a bar and a silent minute looks like a hang.

use std::time::Instant;

pub struct Console {
    quiet: bool,
    started: Instant,
    last_tenth: u64,
}

impl Console {
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            started: Instant::now(),
            last_tenth: 0,
        }
    }

    pub fn update(&mut self, done: u64, total: u64) {
        let tenth = tenths(done, total);
        if self.quiet || tenth <= self.last_tenth {
            return;
        }
        self.last_tenth = tenth;
        eprintln!(
            "lastgasp: dump {}% ({done}/{total} pages, {:.1}s)",
            tenth * 10,
            self.started.elapsed().as_secs_f64()
        );
    }

    pub fn finish(&self) {
        if !self.quiet {
            eprintln!(
                "lastgasp: dump done in {:.1}s",
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// Whole tenths of the way done, 0..=10.
fn tenths(done: u64, total: u64) -> u64 {
    if total == 0 {
        return 10;
    }
    (u128::from(done.min(total)) * 10 / u128::from(total)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_are_bounded() {
        assert_eq!(tenths(0, 100), 0);
        assert_eq!(tenths(9, 100), 0);
        assert_eq!(tenths(10, 100), 1);
        assert_eq!(tenths(100, 100), 10);
        assert_eq!(tenths(200, 100), 10);
        assert_eq!(tenths(0, 0), 10);
        assert_eq!(tenths(u64::MAX, u64::MAX), 10);
    }
}
