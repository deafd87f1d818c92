//! Replay protection: a nonce may be used once per access key within the 15-minute window. The
//! check-and-insert is atomic in memory; accepted nonces are also written to the store in batches
//! so a restart inside the window still refuses a replay (they are loaded back at start).
//! A multi-node deployment swaps this for a shared table with a unique key.

use std::collections::HashMap;
use std::sync::Mutex;

use opencams_store::{NonceRecord, Store};
use tokio::sync::mpsc;

/// How long a nonce is remembered: the whole ±15 min window.
pub const KEEP_MS: i64 = 30 * 60 * 1000;

/// Two independent random hash keys: 128 bits of fingerprint per (key, nonce).
type Hashers = (
    std::collections::hash_map::RandomState,
    std::collections::hash_map::RandomState,
);

pub struct NonceCache {
    /// A 128-bit keyed hash of (key, nonce) → expiry: ~24 bytes an entry instead of two
    /// strings, since every request adds one for 30 minutes. The hash keys are random per
    /// process, so a client cannot aim for collisions.
    seen: Mutex<HashMap<u128, i64>>,
    hashers: Hashers,
    persist: mpsc::UnboundedSender<NonceRecord>,
}

fn fingerprint(h: &Hashers, key_id: &str, nonce: &str) -> u128 {
    use std::hash::BuildHasher;
    (u128::from(h.0.hash_one((key_id, nonce))) << 64) | u128::from(h.1.hash_one((key_id, nonce)))
}

impl NonceCache {
    /// Loads live nonces and returns the cache and the receiver of nonces to persist.
    pub async fn load(
        store: &dyn Store,
        now_ms: i64,
    ) -> (Self, mpsc::UnboundedReceiver<NonceRecord>) {
        let mut seen = HashMap::new();
        let hashers = Hashers::default();
        match store.live_nonces(now_ms).await {
            Ok(list) => {
                for n in list {
                    seen.insert(fingerprint(&hashers, &n.key_id, &n.nonce), n.expires_at);
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not load recent nonces"),
        }
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Self {
                seen: Mutex::new(seen),
                hashers,
                persist: tx,
            },
            rx,
        )
    }

    /// Records the nonce; false if it was already used and is still inside the window.
    pub fn check_and_insert(&self, key_id: &str, nonce: &str, now_ms: i64) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        let k = fingerprint(&self.hashers, key_id, nonce);
        if let Some(&exp) = seen.get(&k)
            && exp > now_ms
        {
            return false;
        }
        let expires_at = now_ms + KEEP_MS;
        seen.insert(k, expires_at);
        if seen.len() > 50_000 && seen.len() % 4096 == 0 {
            seen.retain(|_, exp| *exp > now_ms);
        }
        drop(seen);
        let _ = self.persist.send(NonceRecord {
            key_id: key_id.into(),
            nonce: nonce.into(),
            expires_at,
        });
        true
    }
}

/// Writes accepted nonces to the store in batches until the channel closes.
pub async fn persist_loop(
    store: std::sync::Arc<dyn Store>,
    mut rx: mpsc::UnboundedReceiver<NonceRecord>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(n) = rx.try_recv() {
            batch.push(n);
            if batch.len() >= 4096 {
                break;
            }
        }
        if let Err(e) = store.record_nonces(batch).await {
            tracing::warn!(error = %e, "persisting nonces failed");
        }
    }
}
