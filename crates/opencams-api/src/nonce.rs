//! Replay protection: a nonce may be used once per access key within the 15-minute window. The
//! check-and-insert is atomic in memory; accepted nonces are also written to the store in batches
//! so a restart inside the window still refuses a replay (they are loaded back at start).
//! On a store that several nodes share ([`Store::shared`], PostgreSQL), a nonce new to this node
//! is also claimed in the store's unique table before the request goes on, so a nonce used on
//! one node is refused on every other; concurrent claims share one statement.

use std::collections::{HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::Mutex;

use opencams_store::{NonceRecord, Store};
use tokio::sync::{mpsc, oneshot};

/// How long a nonce is remembered: the whole ±15 min window.
pub const KEEP_MS: i64 = 30 * 60 * 1000;

/// Nonces are kept in sets of this span each, dropped whole once all of their nonces expired.
const SPAN_MS: i64 = 5 * 60 * 1000;

/// The nonces first seen in one span of time.
struct Span {
    start_ms: i64,
    seen: HashSet<u64>,
}

pub struct NonceCache {
    /// A 64-bit keyed hash of (key, nonce) per request, grouped by the span it arrived in: about
    /// 9 bytes a request instead of two strings and an expiry, since every request adds one for
    /// 30 minutes (1,000,000 requests: ~16 MB). The hash key is random per process, so a client
    /// cannot aim for collisions; by chance a fresh nonce is refused as a replay with a
    /// probability of (live nonces / 2^64), under 10^-12 with 10^7 live ones.
    spans: Mutex<VecDeque<Span>>,
    hasher: std::collections::hash_map::RandomState,
    persist: mpsc::UnboundedSender<Persist>,
    /// The store is shared with other nodes: new nonces are claimed there, not just persisted.
    shared: bool,
}

/// A nonce on its way to the store: persisted (one node), or claimed with an answer (shared).
pub struct Persist {
    record: NonceRecord,
    claimed: Option<oneshot::Sender<Result<bool, opencams_store::StoreError>>>,
}

impl NonceCache {
    fn fingerprint(&self, key_id: &str, nonce: &str) -> u64 {
        self.hasher.hash_one((key_id, nonce))
    }

    /// Adds `fp`, first seen at `at_ms`; false if it is already there.
    fn insert(spans: &mut VecDeque<Span>, fp: u64, at_ms: i64) -> bool {
        if spans.iter().any(|s| s.seen.contains(&fp)) {
            return false;
        }
        let start_ms = at_ms - at_ms.rem_euclid(SPAN_MS);
        match spans.iter_mut().find(|s| s.start_ms == start_ms) {
            Some(s) => s.seen.insert(fp),
            None => {
                let mut seen = HashSet::new();
                seen.insert(fp);
                let at = spans.partition_point(|s| s.start_ms < start_ms);
                spans.insert(at, Span { start_ms, seen });
                true
            }
        }
    }

    /// Drops the spans whose every nonce is past its window.
    fn expire(spans: &mut VecDeque<Span>, now_ms: i64) {
        while spans
            .front()
            .is_some_and(|s| s.start_ms + SPAN_MS + KEEP_MS <= now_ms)
        {
            spans.pop_front();
        }
    }
}

impl NonceCache {
    /// Loads live nonces and returns the cache and the receiver of nonces to persist.
    pub async fn load(store: &dyn Store, now_ms: i64) -> (Self, mpsc::UnboundedReceiver<Persist>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let cache = Self {
            spans: Mutex::new(VecDeque::new()),
            hasher: std::collections::hash_map::RandomState::new(),
            persist: tx,
            shared: store.shared(),
        };
        match store.live_nonces(now_ms).await {
            Ok(list) => {
                if let Ok(mut spans) = cache.spans.lock() {
                    for n in list {
                        let fp = cache.fingerprint(&n.key_id, &n.nonce);
                        Self::insert(&mut spans, fp, n.expires_at - KEEP_MS);
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not load recent nonces"),
        }
        (cache, rx)
    }

    /// Records the nonce in this node's memory; false if it was already used here and is still
    /// inside the window.
    fn check_local(&self, key_id: &str, nonce: &str, now_ms: i64) -> bool {
        let fp = self.fingerprint(key_id, nonce);
        let Ok(mut spans) = self.spans.lock() else {
            return false;
        };
        Self::expire(&mut spans, now_ms);
        Self::insert(&mut spans, fp, now_ms)
    }

    /// Records the nonce; false if it was already used (on any node sharing the store) and is
    /// still inside the window. An error when the shared store could not be asked.
    pub async fn check_and_insert(
        &self,
        key_id: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<bool, opencams_store::StoreError> {
        if !self.check_local(key_id, nonce, now_ms) {
            return Ok(false);
        }
        let record = NonceRecord {
            key_id: key_id.into(),
            nonce: nonce.into(),
            expires_at: now_ms + KEEP_MS,
        };
        if !self.shared {
            let _ = self.persist.send(Persist {
                record,
                claimed: None,
            });
            return Ok(true);
        }
        let (tx, rx) = oneshot::channel();
        self.persist
            .send(Persist {
                record,
                claimed: Some(tx),
            })
            .map_err(|_| opencams_store::StoreError::Closed)?;
        rx.await.map_err(|_| opencams_store::StoreError::Closed)?
    }
}

/// Writes accepted nonces to the store in batches until the channel closes; claims on a shared
/// store are answered once their batch's statement returns.
pub async fn persist_loop(
    store: std::sync::Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<Persist>,
    clock: std::sync::Arc<dyn opencams_domain::Clock>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(n) = rx.try_recv() {
            batch.push(n);
            if batch.len() >= 4096 {
                break;
            }
        }
        let (claims, records): (Vec<Persist>, Vec<Persist>) =
            batch.into_iter().partition(|p| p.claimed.is_some());
        if !records.is_empty() {
            let records = records.into_iter().map(|p| p.record).collect();
            if let Err(e) = store.record_nonces(records).await {
                tracing::warn!(error = %e, "persisting nonces failed");
            }
        }
        if claims.is_empty() {
            continue;
        }
        let (records, answers): (Vec<_>, Vec<_>) =
            claims.into_iter().map(|p| (p.record, p.claimed)).unzip();
        match store.claim_nonces(records, clock.now_ms()).await {
            Ok(fresh) => {
                for (answer, fresh) in answers.into_iter().zip(fresh) {
                    if let Some(a) = answer {
                        let _ = a.send(Ok(fresh));
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming nonces failed");
                for a in answers.into_iter().flatten() {
                    let _ = a.send(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> NonceCache {
        let (tx, _rx) = mpsc::unbounded_channel();
        NonceCache {
            spans: Mutex::new(VecDeque::new()),
            hasher: std::collections::hash_map::RandomState::new(),
            persist: tx,
            shared: false,
        }
    }

    fn check(c: &NonceCache, key: &str, nonce: &str, at: i64) -> bool {
        c.check_local(key, nonce, at)
    }

    #[test]
    fn a_nonce_is_refused_inside_the_window_and_forgotten_after_it() {
        let c = cache();
        assert!(check(&c, "k", "n1", 1_000));
        assert!(!check(&c, "k", "n1", 2_000));
        // the same nonce under another key is another request
        assert!(check(&c, "k2", "n1", 2_000));
        // still refused at the end of the window, in a later span
        assert!(!check(&c, "k", "n1", 1_000 + KEEP_MS - 1));
        // spans are dropped whole once every nonce in them is past its window
        assert!(check(&c, "k", "n1", SPAN_MS + KEEP_MS));
        assert_eq!(c.spans.lock().unwrap().len(), 1);
    }

    #[test]
    fn many_nonces_spread_over_spans() {
        let c = cache();
        for i in 0..10_000i64 {
            assert!(check(&c, "k", &i.to_string(), i * 100));
        }
        for i in 0..10_000i64 {
            assert!(!check(&c, "k", &i.to_string(), 1_000_000));
        }
        assert_eq!(c.spans.lock().unwrap().len(), 4);
    }
}
