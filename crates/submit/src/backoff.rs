//! When to try a report again after a failed attempt: exponential backoff (one minute, doubling
//! per attempt, at most a day) with jitter, so machines that lost the server at the same moment
//! do not all come back at the same second.

/// The first retry's delay.
pub const BASE_SECS: u64 = 60;
/// The longest delay between two attempts.
pub const MAX_SECS: u64 = 24 * 60 * 60;

/// The delay before the attempt after `attempts` failed ones (1 or more): the full
/// exponential delay `d` capped at a day, then a uniform pick in [d/2, d] ("equal jitter"),
/// `unit` in [0, 1) being the random draw.
pub fn delay(attempts: u32, unit: f64) -> u64 {
    let exponent = attempts.saturating_sub(1).min(20);
    let full = BASE_SECS.saturating_mul(1 << exponent).min(MAX_SECS);
    let half = full / 2;
    // Truncation is fine: the delay is whole seconds.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let jitter = ((half as f64) * unit.clamp(0.0, 1.0)) as u64;
    half + jitter.min(full - half)
}

/// `delay` with a fresh random draw.
pub fn next_delay(attempts: u32) -> u64 {
    delay(attempts, fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_attempt_within_half_and_full() {
        for attempts in 1..=12u32 {
            let full = (BASE_SECS << (attempts - 1)).min(MAX_SECS);
            assert_eq!(delay(attempts, 0.0), full / 2, "attempt {attempts}");
            assert_eq!(delay(attempts, 0.999_999_9), full - 1, "attempt {attempts}");
            for _ in 0..50 {
                let d = next_delay(attempts);
                assert!((full / 2..=full).contains(&d), "{d} for attempt {attempts}");
            }
        }
        assert_eq!(delay(1, 0.0), 30);
        assert_eq!(delay(2, 0.0), 60);
        assert_eq!(delay(200, 0.0), MAX_SECS / 2);
    }

    #[test]
    fn jitter_spreads_machines_out() {
        let draws: std::collections::BTreeSet<u64> = (0..100).map(|_| next_delay(5)).collect();
        assert!(draws.len() > 20, "only {} distinct delays", draws.len());
    }
}
