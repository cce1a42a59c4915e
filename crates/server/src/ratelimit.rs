//! Per-token rate limits: a token bucket per token name that holds `per_minute` requests and
//! refills at `per_minute` a minute. In memory, so each server instance limits on its own.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// Takes one request from `name`'s bucket at `now`; `Err(seconds)` to wait when empty.
    pub fn check(&self, name: &str, per_minute: u32, now: Instant) -> Result<(), u64> {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(name.to_owned()).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill_per_token() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("a", 3, t0).is_ok());
        }
        assert_eq!(limiter.check("a", 3, t0), Err(20));
        assert!(limiter.check("b", 3, t0).is_ok(), "buckets are per token");
        assert!(limiter.check("a", 3, t0 + Duration::from_secs(20)).is_ok());
        assert!(limiter.check("a", 3, t0 + Duration::from_secs(20)).is_err());
    }
}
