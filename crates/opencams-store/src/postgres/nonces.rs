//! Signature nonces on PostgreSQL: unique per (key, nonce) until they expire, so a nonce used on
//! one node is refused on every other.

use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::*;

/// The first record of each (key, nonce): ON CONFLICT cannot touch one row twice in a
/// statement, and of a nonce twice in one call the first one is what counts.
fn first_of_each(nonces: &[NonceRecord]) -> Vec<&NonceRecord> {
    let mut seen = std::collections::HashSet::new();
    nonces
        .iter()
        .filter(|n| seen.insert((n.key_id.as_str(), n.nonce.as_str())))
        .collect()
}

#[async_trait::async_trait]
impl NonceStore for PgStore {
    async fn record_nonces(&self, nonces: Vec<NonceRecord>) -> Result<()> {
        if nonces.is_empty() {
            return Ok(());
        }
        let firsts = first_of_each(&nonces);
        let keys: Vec<&str> = firsts.iter().map(|n| n.key_id.as_str()).collect();
        let values: Vec<&str> = firsts.iter().map(|n| n.nonce.as_str()).collect();
        let expiries: Vec<i64> = firsts.iter().map(|n| n.expires_at).collect();
        let min_exp = expiries.iter().copied().min().unwrap_or(i64::MAX);
        let c = self.volatile_client().await?;
        let ins = c
            .prepare_cached(
                "INSERT INTO nonces (key_id, nonce, expires_at) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) \
                 ON CONFLICT (key_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at",
            )
            .await?;
        let del = c
            .prepare_cached("DELETE FROM nonces WHERE expires_at < $1")
            .await?;
        // expired nonces can go: anything that expired an hour before the oldest new one
        let horizon = min_exp - 3_600_000;
        let (ins_params, del_params): ([&(dyn ToSql + Sync); 3], [&(dyn ToSql + Sync); 1]) =
            ([&keys, &values, &expiries], [&horizon]);
        // pipelined: both go out before either answer comes back
        let (inserted, deleted) =
            tokio::join!(c.execute(&ins, &ins_params), c.execute(&del, &del_params));
        inserted?;
        deleted?;
        Ok(())
    }

    async fn live_nonces(&self, now: i64) -> Result<Vec<NonceRecord>> {
        let c = self.volatile_client().await?;
        let stmt = c
            .prepare_cached("SELECT key_id, nonce, expires_at FROM nonces WHERE expires_at > $1")
            .await?;
        c.query(&stmt, &[&now])
            .await?
            .iter()
            .map(|r| {
                Ok(NonceRecord {
                    key_id: r.try_get(0)?,
                    nonce: r.try_get(1)?,
                    expires_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn claim_nonces(&self, nonces: Vec<NonceRecord>, now: i64) -> Result<Vec<bool>> {
        let firsts = first_of_each(&nonces);
        let keys: Vec<&str> = firsts.iter().map(|n| n.key_id.as_str()).collect();
        let values: Vec<&str> = firsts.iter().map(|n| n.nonce.as_str()).collect();
        let expiries: Vec<i64> = firsts.iter().map(|n| n.expires_at).collect();
        let c = self.volatile_client().await?;
        // an expired row is taken over; a live one is left alone and not returned
        let stmt = c
            .prepare_cached(
                "INSERT INTO nonces (key_id, nonce, expires_at) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) \
                 ON CONFLICT (key_id, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                 WHERE nonces.expires_at <= $4 \
                 RETURNING key_id, nonce",
            )
            .await?;
        let rows = c.query(&stmt, &[&keys, &values, &expiries, &now]).await?;
        let mut fresh = std::collections::HashSet::with_capacity(rows.len());
        for r in &rows {
            fresh.insert((r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?));
        }
        Ok(nonces
            .iter()
            .map(|n| fresh.remove(&(n.key_id.clone(), n.nonce.clone())))
            .collect())
    }
}
