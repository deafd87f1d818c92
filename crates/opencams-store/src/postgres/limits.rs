//! Token buckets on PostgreSQL, shared by every node: one row per bucket, taken in one call per
//! batch of requests (see [`crate::limits::SharedBuckets`]).
//!
//! A call is two pipelined statements on one connection, each its own transaction: an
//! INSERT … ON CONFLICT DO NOTHING that creates the buckets not seen yet (full), then one
//! UPDATE that refills and takes from every bucket of the batch and returns what each got. The
//! INSERT is left out when every bucket of the batch is one this node has met before. The
//! UPDATE locks its rows in key order first (and the INSERT inserts in key order), so
//! concurrent nodes wait for one another but never deadlock. The grants of a bucket are split
//! between its requests in order here. Once a minute a call also starts a sweep of the buckets
//! idle for over 10 minutes, on a connection of its own so that no take waits for it; it skips
//! locked rows and so never waits either.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::limits::{EPSILON, IDLE_MS, MIN_PER_MS, split};
use crate::*;

/// Creates the buckets not seen yet, full, in key order.
const INSERT: &str = "INSERT INTO rate_buckets (key, tokens, at_ms) \
     SELECT DISTINCT ON (k) k, c, $3 FROM UNNEST($1::text[], $2::float8[]) AS t(k, c) ORDER BY k \
     ON CONFLICT (key) DO NOTHING";

/// Refills and takes from every bucket of the batch (wants summed per key), locking the rows
/// in key order; returns each bucket's grant and the tokens left.
const TAKE: &str = "WITH wanted AS ( \
         SELECT k, MAX(c) AS c, MAX(p) AS p, SUM(w)::float8 AS w \
         FROM UNNEST($1::text[], $2::float8[], $3::float8[], $4::bigint[]) AS t(k, c, p, w) \
         GROUP BY k \
     ), locked AS MATERIALIZED ( \
         SELECT b.key, wanted.w, \
                LEAST(wanted.c, b.tokens + GREATEST($5 - b.at_ms, 0) / wanted.p) AS avail \
         FROM rate_buckets b JOIN wanted ON wanted.k = b.key \
         ORDER BY b.key \
         FOR UPDATE OF b \
     ), taken AS ( \
         SELECT key, avail, GREATEST(LEAST(FLOOR(avail + $6), w), 0) AS granted FROM locked \
     ) \
     UPDATE rate_buckets r \
     SET tokens = GREATEST(taken.avail - taken.granted, 0), at_ms = GREATEST(r.at_ms, $5) \
     FROM taken WHERE r.key = taken.key \
     RETURNING r.key, taken.granted::bigint, r.tokens";

/// Deletes the buckets idle since before `$1`, skipping those being taken from.
const SWEEP: &str = "DELETE FROM rate_buckets WHERE key IN ( \
         SELECT key FROM rate_buckets WHERE at_ms < $1 FOR UPDATE SKIP LOCKED)";

/// How often a node sweeps idle buckets.
const SWEEP_EVERY_MS: i64 = 60_000;

/// The most bucket keys a node remembers as existing (then it forgets them all and creates them
/// again as it meets them).
const KNOWN_BUCKETS: usize = 100_000;

/// A bucket deleted by another node's sweep between our INSERT and UPDATE is missing from the
/// UPDATE's answer: its requests are taken again, this many times at most.
const ATTEMPTS: usize = 3;

#[async_trait::async_trait]
impl LimitStore for PgStore {
    async fn take_tokens(&self, requests: Vec<TokenRequest>, now: i64) -> Result<Vec<TokenGrant>> {
        let mut grants = vec![TokenGrant::default(); requests.len()];
        // the indexes of the requests still to serve
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let c = self.volatile_client().await?;
        let insert = c.prepare_cached(INSERT).await?;
        let take = c.prepare_cached(TAKE).await?;
        self.sweep_buckets(now);
        for _ in 0..ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            let batch: Vec<&TokenRequest> = pending.iter().map(|&i| &requests[i]).collect();
            let keys: Vec<&str> = batch.iter().map(|r| r.key.as_str()).collect();
            let capacities: Vec<f64> = batch.iter().map(|r| r.capacity.max(0.0)).collect();
            let pers: Vec<f64> = batch.iter().map(|r| r.per_ms.max(MIN_PER_MS)).collect();
            let wants: Vec<i64> = batch.iter().map(|r| i64::from(r.want)).collect();
            let insert_params: [&(dyn ToSql + Sync); 3] = [&keys, &capacities, &now];
            let take_params: [&(dyn ToSql + Sync); 6] =
                [&keys, &capacities, &pers, &wants, &now, &EPSILON];
            // buckets this node created or took from before need no INSERT (one that another
            // node swept meanwhile comes back missing, and the next attempt creates it)
            let all_known = self
                .known_buckets
                .lock()
                .is_ok_and(|known| keys.iter().all(|k| known.contains(*k)));
            // pipelined, in this order: both go out before the first answer comes back
            let (inserted, taken) = tokio::join!(
                async {
                    if all_known {
                        return Ok(0);
                    }
                    c.execute(&insert, &insert_params).await
                },
                c.query(&take, &take_params),
            );
            inserted?;
            let mut by_key: HashMap<String, (u64, f64)> = HashMap::with_capacity(keys.len());
            for row in taken? {
                let granted: i64 = row.try_get(1)?;
                by_key.insert(row.try_get(0)?, (granted.max(0) as u64, row.try_get(2)?));
            }
            // each bucket's grant, split between its requests in order
            let mut missing = Vec::new();
            let mut of_key: HashMap<&str, Vec<usize>> = HashMap::new();
            for &i in &pending {
                of_key.entry(requests[i].key.as_str()).or_default().push(i);
            }
            for (key, indexes) in of_key {
                let Some(&(granted, tokens)) = by_key.get(key) else {
                    missing.extend(indexes);
                    continue;
                };
                let wants: Vec<u32> = indexes.iter().map(|&i| requests[i].want).collect();
                // as the statement refilled: the largest per_ms of the key's requests
                let per_ms = indexes
                    .iter()
                    .map(|&i| requests[i].per_ms)
                    .fold(MIN_PER_MS, f64::max);
                let wait = crate::limits::wait_ms(tokens, per_ms);
                for (i, g) in indexes.into_iter().zip(split(&wants, granted, wait)) {
                    grants[i] = g;
                }
            }
            if let Ok(mut known) = self.known_buckets.lock() {
                if known.len() > KNOWN_BUCKETS {
                    known.clear();
                }
                for key in by_key.keys() {
                    known.insert(key.clone());
                }
                for &i in &missing {
                    known.remove(requests[i].key.as_str());
                }
            }
            missing.sort_unstable();
            pending = missing;
        }
        // still missing after every attempt (swept each time): let them through
        for i in pending {
            grants[i] = TokenGrant {
                granted: requests[i].want,
                wait_ms: 0,
            };
        }
        Ok(grants)
    }
}

impl PgStore {
    /// Starts a sweep of the buckets idle at `now` for over 10 minutes when this node has not
    /// swept for a minute (in the background: the takes never wait for it).
    fn sweep_buckets(&self, now: i64) {
        let last = self.buckets_swept_at.load(Ordering::Relaxed);
        if now - last < SWEEP_EVERY_MS
            || self
                .buckets_swept_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            let swept = async {
                let c = pool.get().await?;
                let sweep = c.prepare_cached(SWEEP).await?;
                c.execute(&sweep, &[&(now - IDLE_MS)]).await?;
                Ok::<_, StoreError>(())
            };
            if let Err(e) = swept.await {
                // idle rows stay a minute longer: they cost room, not correctness
                tracing::warn!(error = %e, "sweeping idle rate-limit buckets failed");
            }
        });
    }
}
