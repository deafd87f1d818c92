//! Send-side rate limits as Meta applies them: a per-number throughput bucket (messages/s) and a
//! per-(number, user) pair bucket (capacity 45, one more every 6 s). [`SendLimits`] holds them
//! either in this process ([`Buckets`], one node) or in the store every node shares
//! ([`SharedBuckets`]), so that a number's rate holds across a cluster.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use opencams_store::limits::SharedBuckets;

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Token buckets keyed by string, driven by an injected clock.
#[derive(Default)]
pub struct Buckets {
    inner: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    /// Takes a token from `key` (capacity `cap`, `per_ms` per token); `Err(wait_ms)` when empty.
    pub fn take(&self, key: &str, cap: f64, per_ms: f64, now_ms: i64) -> Result<(), i64> {
        let Ok(mut map) = self.inner.lock() else {
            return Ok(());
        };
        if map.len() > 200_000 {
            map.retain(|_, b| now_ms - b.at_ms < 600_000);
        }
        let b = map.entry(key.to_string()).or_insert(Bucket {
            tokens: cap,
            at_ms: now_ms,
        });
        b.tokens = (b.tokens + (now_ms - b.at_ms).max(0) as f64 / per_ms).min(cap);
        b.at_ms = now_ms;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) * per_ms).ceil().max(1.0) as i64)
        }
    }
}

/// Where the dispatcher takes its send tokens.
pub enum SendLimits {
    /// Buckets in this process, on the dispatcher's clock.
    Local { throughput: Buckets, pairs: Buckets },
    /// Buckets every node sharing the store shares, taken in batches on the clock the
    /// [`SharedBuckets`] was started with; a store outage lets sends through.
    Shared(Arc<SharedBuckets>),
}

impl Default for SendLimits {
    fn default() -> Self {
        SendLimits::Local {
            throughput: Buckets::default(),
            pairs: Buckets::default(),
        }
    }
}

impl SendLimits {
    /// Takes a token of `sender`'s throughput (`cap` tokens, `per_ms` per token);
    /// `Err(wait_ms)` when empty.
    pub async fn take_throughput(
        &self,
        sender: &str,
        cap: f64,
        per_ms: f64,
        now_ms: i64,
    ) -> Result<(), i64> {
        match self {
            SendLimits::Local { throughput, .. } => throughput.take(sender, cap, per_ms, now_ms),
            SendLimits::Shared(b) => b.take(&format!("tput:{sender}"), cap, per_ms, 1).await,
        }
    }

    /// Takes a token of the (`sender`, `recipient`) pair rate; `Err(wait_ms)` when empty.
    pub async fn take_pair(
        &self,
        sender: &str,
        recipient: &str,
        cap: f64,
        per_ms: f64,
        now_ms: i64,
    ) -> Result<(), i64> {
        match self {
            SendLimits::Local { pairs, .. } => {
                pairs.take(&format!("{sender}:{recipient}"), cap, per_ms, now_ms)
            }
            SendLimits::Shared(b) => {
                b.take(&format!("pair:{sender}:{recipient}"), cap, per_ms, 1)
                    .await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_holds_within_five_percent_over_ten_seconds() {
        // 80 msg/s for 10 s on a fake clock: at most 80 (burst) + 800 sends
        let b = Buckets::default();
        let mut sent = 0;
        for ms in 0..10_000 {
            while b.take("n", 80.0, 1000.0 / 80.0, ms).is_ok() {
                sent += 1;
            }
        }
        let steady = sent - 80;
        assert!((760..=840).contains(&steady), "{steady}");
    }

    #[tokio::test]
    async fn shared_limits_keep_pairs_and_throughput_apart() {
        let dir = tempfile::tempdir().unwrap();
        let cipher = opencams_store::Cipher::from_key(&[7; 32]);
        let store = opencams_store::open(None, dir.path(), cipher)
            .await
            .unwrap();
        let clock = opencams_domain::ManualClock::new(1_000);
        let limits = SendLimits::Shared(SharedBuckets::start(store, Arc::new(clock.clone())));
        for _ in 0..45 {
            assert!(limits.take_pair("n", "u", 45.0, 6000.0, 0).await.is_ok());
        }
        assert_eq!(limits.take_pair("n", "u", 45.0, 6000.0, 0).await, Err(6000));
        // another user, and the number's throughput, are other buckets
        assert!(limits.take_pair("n", "v", 45.0, 6000.0, 0).await.is_ok());
        assert!(limits.take_throughput("n", 1.0, 1000.0, 0).await.is_ok());
        assert_eq!(limits.take_throughput("n", 1.0, 1000.0, 0).await, Err(1000));
        clock.advance_ms(1000);
        assert!(limits.take_throughput("n", 1.0, 1000.0, 0).await.is_ok());
    }

    #[test]
    fn pair_rate_borrows_then_refuses() {
        let b = Buckets::default();
        for _ in 0..45 {
            assert!(b.take("p", 45.0, 6000.0, 0).is_ok());
        }
        let wait = b.take("p", 45.0, 6000.0, 0).unwrap_err();
        assert_eq!(wait, 6000);
        assert!(b.take("p", 45.0, 6000.0, 6000).is_ok());
    }
}
