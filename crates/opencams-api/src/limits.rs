//! Rate limits per account and action (cams-api.md: SendChatappMessage 250 calls/s,
//! SendChatappMassMessage 10/s, …), configurable per account with the `qps.<Action>` setting, and
//! a per-account ceiling over all actions (`qps.api`). The limiter is a trait so a multi-node
//! deployment can share its buckets; this one keeps token buckets in memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The CAMS per-user QPS of an action.
pub fn default_qps(action: &str) -> u32 {
    match action {
        "SendChatappMessage" => 250,
        "SendChatappMassMessage" => 10,
        "CreateChatappTemplate" | "ModifyChatappTemplate" | "DeleteChatappTemplate" => 50,
        "ListChatappTemplate" => 5,
        "QueryChatappPhoneNumbers" => 10,
        _ => 100,
    }
}

/// The default ceiling on all calls of one account per second.
pub const DEFAULT_API_QPS: u32 = 1000;

pub trait RateLimiter: Send + Sync {
    /// Takes one token from bucket `key` refilled at `rate`/s (burst `rate`); `Err(ms)` is how
    /// long until a token is available.
    fn acquire(&self, key: &str, rate: u32) -> Result<(), u64>;
}

#[derive(Default)]
pub struct LocalRateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter for LocalRateLimiter {
    fn acquire(&self, key: &str, rate: u32) -> Result<(), u64> {
        if rate == 0 {
            return Err(1000);
        }
        let rate = f64::from(rate);
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err((((1.0 - b.tokens) / rate) * 1000.0).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses_with_a_wait() {
        let l = LocalRateLimiter::default();
        for _ in 0..10 {
            assert!(l.acquire("a", 10).is_ok());
        }
        let wait = l.acquire("a", 10).unwrap_err();
        assert!((1..=100).contains(&wait), "{wait}");
        assert!(l.acquire("b", 10).is_ok(), "buckets are independent");
        assert!(l.acquire("z", 0).is_err());
    }
}
