//! Token buckets: the arithmetic every backend of [`LimitStore`] applies, the in-memory buckets
//! of a store one process uses (SQLite), and [`SharedBuckets`], which gathers the takes of
//! concurrent callers on one node into one [`LimitStore::take_tokens`] call so that a bucket
//! shared by every node costs one round trip per batch, not one per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opencams_domain::Clock;
use tokio::sync::{mpsc, oneshot};

use crate::{LimitStore, Result, TokenGrant, TokenRequest};

/// Buckets idle this long are forgotten.
pub const IDLE_MS: i64 = 10 * 60 * 1000;

/// Float slack when counting whole tokens: a refill of exactly one token computed as
/// 0.9999999999 still counts as one.
pub(crate) const EPSILON: f64 = 1e-9;

/// The fastest refill a bucket takes: one token a microsecond (keeps refills finite).
pub(crate) const MIN_PER_MS: f64 = 1e-3;

/// The tokens of a bucket holding `tokens` at `at_ms`, refilled until `now` (not before `at_ms`).
pub(crate) fn refill(tokens: f64, at_ms: i64, now: i64, capacity: f64, per_ms: f64) -> f64 {
    let elapsed = now.saturating_sub(at_ms).max(0) as f64;
    (tokens + elapsed / per_ms.max(MIN_PER_MS)).min(capacity.max(0.0))
}

/// Milliseconds until a bucket left with `tokens` (under one) holds a whole one again.
pub(crate) fn wait_ms(tokens: f64, per_ms: f64) -> i64 {
    ((1.0 - tokens).max(0.0) * per_ms).ceil().max(1.0) as i64
}

/// Splits `granted` tokens taken from one bucket between its requests in order: each gets what
/// is left up to its `want`; a short one waits `wait` ms.
pub(crate) fn split(wants: &[u32], mut granted: u64, wait: i64) -> Vec<TokenGrant> {
    wants
        .iter()
        .map(|&want| {
            let got = granted.min(u64::from(want));
            granted -= got;
            TokenGrant {
                granted: got as u32,
                wait_ms: if got < u64::from(want) { wait } else { 0 },
            }
        })
        .collect()
}

struct Bucket {
    tokens: f64,
    at_ms: i64,
}

/// Token buckets in this process's memory, with the semantics of [`LimitStore::take_tokens`]:
/// the buckets of a store no other process uses.
#[derive(Default)]
pub(crate) struct MemoryBuckets {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    buckets: HashMap<String, Bucket>,
    swept_at: i64,
}

impl MemoryBuckets {
    pub(crate) fn take(&self, requests: Vec<TokenRequest>, now: i64) -> Vec<TokenGrant> {
        let Ok(mut inner) = self.inner.lock() else {
            // a panic elsewhere poisoned the map: let everything through rather than stop
            return requests
                .iter()
                .map(|r| TokenGrant {
                    granted: r.want,
                    wait_ms: 0,
                })
                .collect();
        };
        if now - inner.swept_at >= 60_000 {
            inner.buckets.retain(|_, b| now - b.at_ms <= IDLE_MS);
            inner.swept_at = now;
        }
        requests
            .into_iter()
            .map(|r| {
                let b = inner.buckets.entry(r.key).or_insert(Bucket {
                    tokens: r.capacity,
                    at_ms: now,
                });
                b.tokens = refill(b.tokens, b.at_ms, now, r.capacity, r.per_ms);
                b.at_ms = b.at_ms.max(now);
                let whole = (b.tokens + EPSILON).floor().max(0.0) as u64;
                let got = whole.min(u64::from(r.want));
                b.tokens = (b.tokens - got as f64).max(0.0);
                split(&[r.want], got, wait_ms(b.tokens, r.per_ms.max(MIN_PER_MS)))[0]
            })
            .collect()
    }
}

/// The longest one batch may take before its takers are let through (see [`SharedBuckets`]).
const TAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Requests gathered into one call at most.
const MAX_BATCH: usize = 4096;

struct Pending {
    request: TokenRequest,
    answer: oneshot::Sender<Result<(), i64>>,
}

/// Token buckets in a [`LimitStore`], taken in batches: concurrent takers on this node share one
/// `take_tokens` call (a task drains the queue; while a call is out, the next batch gathers).
///
/// A bucket found empty is remembered until its next token is due, and takes from it are
/// refused here without asking the store: no node can add tokens to a bucket before then, so
/// a client flooding past its limit costs the database nothing more.
///
/// When the store fails or does not answer within 2 s, the batch's takers are let through and
/// a warning is logged (at most once a second): a limiter outage must not stop the traffic it
/// limits.
pub struct SharedBuckets {
    queue: mpsc::UnboundedSender<Pending>,
    clock: Arc<dyn Clock>,
    /// Buckets known to be empty, and until when (the clock's ms).
    empty: Arc<Mutex<HashMap<String, i64>>>,
}

impl std::fmt::Debug for SharedBuckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBuckets").finish_non_exhaustive()
    }
}

impl SharedBuckets {
    /// Starts the task that takes from `store` (on the current tokio runtime); it ends when this
    /// is dropped.
    pub fn start<S>(store: Arc<S>, clock: Arc<dyn Clock>) -> Arc<Self>
    where
        S: LimitStore + ?Sized + 'static,
    {
        let (queue, rx) = mpsc::unbounded_channel();
        let empty = Arc::new(Mutex::new(HashMap::new()));
        tokio::spawn(take_loop(store, rx, clock.clone(), empty.clone()));
        Arc::new(Self {
            queue,
            clock,
            empty,
        })
    }

    /// Takes `want` tokens from bucket `key` (capacity `capacity`, one token per `per_ms` ms);
    /// `Err(wait_ms)` when the bucket is short. A short take keeps the tokens it got (only a
    /// `want` above one can be short after getting some).
    pub async fn take(&self, key: &str, capacity: f64, per_ms: f64, want: u32) -> Result<(), i64> {
        if want == 0 {
            return Ok(());
        }
        if let Some(wait) = self.known_empty(key) {
            return Err(wait);
        }
        let (answer, rx) = oneshot::channel();
        let pending = Pending {
            request: TokenRequest {
                key: key.to_string(),
                capacity,
                per_ms,
                want,
            },
            answer,
        };
        if self.queue.send(pending).is_err() {
            // the taking task is gone (shutting down): nothing to limit with
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// How long until `key`'s next token, when it was found empty and that time has not come.
    fn known_empty(&self, key: &str) -> Option<i64> {
        let now = self.clock.now_ms();
        let mut empty = self.empty.lock().ok()?;
        match empty.get(key) {
            Some(&until) if until > now => Some(until - now),
            Some(_) => {
                empty.remove(key);
                None
            }
            None => None,
        }
    }
}

/// Drains the queue in batches, one `take_tokens` call each, until every [`SharedBuckets`]
/// handle is dropped.
async fn take_loop<S>(
    store: Arc<S>,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    clock: Arc<dyn Clock>,
    empty: Arc<Mutex<HashMap<String, i64>>>,
) where
    S: LimitStore + ?Sized + 'static,
{
    let mut warned_at: Option<std::time::Instant> = None;
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (requests, answers): (Vec<_>, Vec<_>) =
            batch.drain(..).map(|p| (p.request, p.answer)).unzip();
        let now = clock.now_ms();
        let taken = tokio::time::timeout(TAKE_TIMEOUT, store.take_tokens(requests.clone(), now))
            .await
            .unwrap_or_else(|_| {
                Err(crate::StoreError::Database(
                    "taking rate-limit tokens timed out".into(),
                ))
            });
        let grants = match taken {
            Ok(grants) if grants.len() == answers.len() => grants,
            other => {
                let error = match other {
                    Err(e) => e.to_string(),
                    Ok(_) => "the store answered a different number of grants".into(),
                };
                if warned_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(
                        %error,
                        requests = answers.len(),
                        "shared rate limits unavailable: letting requests through"
                    );
                    warned_at = Some(std::time::Instant::now());
                }
                for answer in answers {
                    let _ = answer.send(Ok(()));
                }
                continue;
            }
        };
        let mut empties = Vec::new();
        for ((request, answer), grant) in requests.into_iter().zip(answers).zip(grants) {
            if grant.granted >= request.want {
                let _ = answer.send(Ok(()));
            } else {
                empties.push((request.key, now + grant.wait_ms));
                let _ = answer.send(Err(grant.wait_ms.max(1)));
            }
        }
        if !empties.is_empty()
            && let Ok(mut empty) = empty.lock()
        {
            if empty.len() > 100_000 {
                empty.retain(|_, until| *until > now);
            }
            empty.extend(empties);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
    use super::*;
    use opencams_domain::ManualClock;

    fn req(key: &str, capacity: f64, per_ms: f64, want: u32) -> TokenRequest {
        TokenRequest {
            key: key.into(),
            capacity,
            per_ms,
            want,
        }
    }

    fn grant(granted: u32, wait_ms: i64) -> TokenGrant {
        TokenGrant { granted, wait_ms }
    }

    #[test]
    fn memory_buckets_serve_in_order_refill_and_never_go_back() {
        let b = MemoryBuckets::default();
        let got = b.take(
            vec![
                req("k", 3.0, 100.0, 2),
                req("k", 3.0, 100.0, 2),
                req("k", 3.0, 100.0, 1),
                req("j", 1.0, 50.0, 1),
            ],
            1000,
        );
        assert_eq!(
            got,
            vec![grant(2, 0), grant(1, 100), grant(0, 100), grant(1, 0)]
        );
        assert_eq!(
            b.take(vec![req("k", 3.0, 100.0, 1)], 1050),
            vec![grant(0, 50)]
        );
        assert_eq!(
            b.take(vec![req("k", 3.0, 100.0, 1)], 1100),
            vec![grant(1, 0)]
        );
        // back in time: nothing refills, and the bucket keeps its time
        assert_eq!(
            b.take(vec![req("k", 3.0, 100.0, 1)], 500),
            vec![grant(0, 100)]
        );
        assert_eq!(
            b.take(vec![req("k", 3.0, 100.0, 2)], 1200),
            vec![grant(1, 100)]
        );
        // refills stop at the capacity
        assert_eq!(
            b.take(vec![req("k", 3.0, 100.0, 5)], 1_000_000),
            vec![grant(3, 100)]
        );
    }

    #[derive(Default)]
    struct Counting {
        calls: std::sync::atomic::AtomicUsize,
        buckets: MemoryBuckets,
    }

    #[async_trait::async_trait]
    impl LimitStore for Counting {
        async fn take_tokens(
            &self,
            requests: Vec<TokenRequest>,
            now: i64,
        ) -> Result<Vec<TokenGrant>> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(self.buckets.take(requests, now))
        }
    }

    #[tokio::test]
    async fn concurrent_takes_share_calls_and_empty_buckets_are_refused_locally() {
        let store = Arc::new(Counting::default());
        let clock = ManualClock::new(0);
        let shared = SharedBuckets::start(store.clone(), Arc::new(clock.clone()));
        let mut takes = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let shared = shared.clone();
            takes.spawn(async move { shared.take("k", 50.0, 20.0, 1).await });
        }
        let results = takes.join_all().await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 50);
        assert!(results.iter().all(|r| r.is_ok() || *r == Err(20)));
        let calls = store.calls.load(std::sync::atomic::Ordering::SeqCst);
        assert!(calls < 10, "{calls} calls for 100 takes");
        // known empty until its next token: no call
        clock.advance_ms(5);
        assert_eq!(shared.take("k", 50.0, 20.0, 1).await, Err(15));
        assert_eq!(store.calls.load(std::sync::atomic::Ordering::SeqCst), calls);
        clock.advance_ms(15);
        assert_eq!(shared.take("k", 50.0, 20.0, 1).await, Ok(()));
    }

    struct Failing;

    #[async_trait::async_trait]
    impl LimitStore for Failing {
        async fn take_tokens(&self, _: Vec<TokenRequest>, _: i64) -> Result<Vec<TokenGrant>> {
            Err(crate::StoreError::Database("down".into()))
        }
    }

    #[tokio::test]
    async fn a_store_failure_lets_takes_through() {
        let shared = SharedBuckets::start(Arc::new(Failing), Arc::new(ManualClock::new(0)));
        for _ in 0..3 {
            assert_eq!(shared.take("k", 1.0, 1000.0, 1).await, Ok(()));
        }
    }
}
