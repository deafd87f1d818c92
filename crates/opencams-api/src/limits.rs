//! Rate limits per account and action (cams-api.md: SendChatappMessage 250 calls/s,
//! SendChatappMassMessage 10/s, …), configurable per account with the `qps.<Action>` setting, and
//! a per-account ceiling over all actions (`qps.api`). The limiter is a trait so a multi-node
//! deployment can share its buckets: [`LocalRateLimiter`] keeps token buckets in this process's
//! memory (one node: no round trip), [`SharedRateLimiter`] keeps them in the store every node
//! shares, taken in batches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use opencams_store::limits::SharedBuckets;

/// The CAMS per-user QPS of an action.
pub fn default_qps(action: &str) -> u32 {
    match action {
        "SendChatappMessage" => 250,
        "SendChatappMassMessage" => 10,
        "CreateChatappTemplate" | "ModifyChatappTemplate" | "DeleteChatappTemplate" => 50,
        "ListChatappTemplate" => 5,
        "QueryChatappPhoneNumbers" => 10,
        "GetChatappPhoneNumberMetric" | "GetChatappTemplateMetric" => 50,
        _ => 100,
    }
}

/// The default ceiling on all calls of one account per second.
pub const DEFAULT_API_QPS: u32 = 1000;

#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one token from bucket `key` refilled at `rate`/s (burst `rate`); `Err(ms)` is how
    /// long until a token is available.
    async fn acquire(&self, key: &str, rate: u32) -> Result<(), u64>;

    /// Takes one token from each of two buckets (the account's ceiling, then the action's
    /// limit): `Err((0, ms))` when the first refuses (the second is then not asked), `Err((1,
    /// ms))` when the second does.
    async fn acquire_both(
        &self,
        first: (&str, u32),
        second: (&str, u32),
    ) -> Result<(), (usize, u64)> {
        self.acquire(first.0, first.1).await.map_err(|w| (0, w))?;
        self.acquire(second.0, second.1).await.map_err(|w| (1, w))
    }
}

#[derive(Default)]
pub struct LocalRateLimiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[async_trait::async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn acquire(&self, key: &str, rate: u32) -> Result<(), u64> {
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

/// Buckets in the store every node shares ([`opencams_store::LimitStore`]), so an account's
/// limits hold across the cluster; concurrent requests on this node share one round trip.
///
/// When the store cannot be asked (down, or slower than 2 s), [`SharedBuckets`] lets the
/// requests through and logs a warning: a limiter outage must not stop sends.
pub struct SharedRateLimiter {
    buckets: Arc<SharedBuckets>,
}

impl SharedRateLimiter {
    pub fn new(buckets: Arc<SharedBuckets>) -> Self {
        Self { buckets }
    }
}

#[async_trait::async_trait]
impl RateLimiter for SharedRateLimiter {
    async fn acquire(&self, key: &str, rate: u32) -> Result<(), u64> {
        if rate == 0 {
            return Err(1000);
        }
        let rate = f64::from(rate);
        // the store's buckets are shared with the dispatcher's: the API's are named `api:…`
        self.buckets
            .take(&format!("api:{key}"), rate, 1000.0 / rate, 1)
            .await
            .map_err(|wait| wait.max(1) as u64)
    }

    /// Both takes at once, so that they share one batch (one round trip to the database
    /// instead of two in turn). When the ceiling refuses, the action's token is spent anyway:
    /// a refused caller costs its action one token, which only tightens the limit it broke.
    async fn acquire_both(
        &self,
        first: (&str, u32),
        second: (&str, u32),
    ) -> Result<(), (usize, u64)> {
        let (a, b) = tokio::join!(
            self.acquire(first.0, first.1),
            self.acquire(second.0, second.1)
        );
        a.map_err(|w| (0, w))?;
        b.map_err(|w| (1, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bucket_allows_burst_then_refuses_with_a_wait() {
        let l = LocalRateLimiter::default();
        for _ in 0..10 {
            assert!(l.acquire("a", 10).await.is_ok());
        }
        let wait = l.acquire("a", 10).await.unwrap_err();
        assert!((1..=100).contains(&wait), "{wait}");
        assert!(l.acquire("b", 10).await.is_ok(), "buckets are independent");
        assert!(l.acquire("z", 0).await.is_err());
    }

    /// Buckets that never refill: enough to see what the limiter asks the store.
    #[derive(Default)]
    struct Burst(Mutex<HashMap<String, f64>>);

    #[async_trait::async_trait]
    impl opencams_store::LimitStore for Burst {
        async fn take_tokens(
            &self,
            requests: Vec<opencams_store::TokenRequest>,
            _now: i64,
        ) -> opencams_store::Result<Vec<opencams_store::TokenGrant>> {
            let mut taken = self.0.lock().unwrap();
            Ok(requests
                .into_iter()
                .map(|r| {
                    let used = taken.entry(r.key).or_default();
                    if *used + 1.0 <= r.capacity {
                        *used += 1.0;
                        opencams_store::TokenGrant {
                            granted: 1,
                            wait_ms: 0,
                        }
                    } else {
                        opencams_store::TokenGrant {
                            granted: 0,
                            wait_ms: r.per_ms as i64,
                        }
                    }
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn shared_buckets_allow_burst_then_refuse_with_a_wait() {
        let store = Arc::new(Burst::default());
        let clock = Arc::new(opencams_domain::ManualClock::new(1_000));
        let l = SharedRateLimiter::new(SharedBuckets::start(store.clone(), clock));
        for _ in 0..10 {
            assert!(l.acquire("a", 10).await.is_ok());
        }
        assert_eq!(l.acquire("a", 10).await, Err(100));
        assert!(l.acquire("b", 10).await.is_ok(), "buckets are independent");
        assert!(l.acquire("z", 0).await.is_err());
        let keys: std::collections::BTreeSet<String> =
            store.0.lock().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["api:a".to_string(), "api:b".to_string()].into());
    }
}
