//! Summaries of wall-time samples: median and minimum, and the ratio of two medians.

use std::time::Duration;

/// What one tool's samples on one set come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub runs: usize,
    pub median: Duration,
    pub min: Duration,
}

impl Summary {
    /// None for no samples. An even count takes the mean of the two middle samples.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            *sorted.get(mid)?
        } else {
            let (a, b) = (sorted.get(mid.checked_sub(1)?)?, sorted.get(mid)?);
            (*a + *b) / 2
        };
        Some(Self {
            runs: sorted.len(),
            median,
            min: *sorted.first()?,
        })
    }
}

/// `a / b`, None when `b` is zero.
pub fn ratio(a: Duration, b: Duration) -> Option<f64> {
    (!b.is_zero()).then(|| a.as_secs_f64() / b.as_secs_f64())
}

/// `(a - base) / (b - base)`: the ratio once a cost both pay is taken out. None when either
/// difference is not positive, where the ratio would mean nothing.
pub fn net_ratio(a: Duration, b: Duration, base: Duration) -> Option<f64> {
    let a = a.checked_sub(base).filter(|d| !d.is_zero())?;
    let b = b.checked_sub(base).filter(|d| !d.is_zero())?;
    ratio(a, b)
}

/// Milliseconds with two decimals, the unit of every table.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn odd_count_takes_the_middle() {
        let s = Summary::of(&ms_list(&[9, 1, 5])).unwrap();
        assert_eq!(s.median, Duration::from_millis(5));
        assert_eq!(s.min, Duration::from_millis(1));
        assert_eq!(s.runs, 3);
    }

    #[test]
    fn even_count_averages_the_two_middle() {
        let s = Summary::of(&ms_list(&[4, 1, 10, 2])).unwrap();
        assert_eq!(s.median, Duration::from_millis(3));
        assert_eq!(s.min, Duration::from_millis(1));
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn ratios() {
        let d = Duration::from_millis;
        assert_eq!(ratio(d(3), d(6)), Some(0.5));
        assert_eq!(ratio(d(3), d(0)), None);
        assert_eq!(net_ratio(d(7), d(9), d(5)), Some(0.5));
        assert_eq!(net_ratio(d(5), d(9), d(5)), None);
        assert_eq!(net_ratio(d(7), d(4), d(5)), None);
    }

    #[test]
    fn milliseconds_have_two_decimals() {
        assert_eq!(ms(Duration::from_micros(12_346)), "12.35");
        assert_eq!(ms(Duration::ZERO), "0.00");
    }
}
