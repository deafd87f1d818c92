//! Signature nonces on SQLite, kept until they expire.

use rusqlite::params;

use super::SqliteStore;
use crate::*;

#[async_trait::async_trait]
impl NonceStore for SqliteStore {
    async fn record_nonces(&self, nonces: Vec<NonceRecord>) -> Result<()> {
        if nonces.is_empty() {
            return Ok(());
        }
        self.write(move |c, _| {
            let mut ins = c.prepare_cached(
                "INSERT INTO nonces (key_id, nonce, expires_at) VALUES (?1, ?2, ?3)",
            )?;
            let mut min_exp = i64::MAX;
            for n in &nonces {
                ins.execute(params![n.key_id, n.nonce, n.expires_at])?;
                min_exp = min_exp.min(n.expires_at);
            }
            // expired nonces can go: anything that expired an hour before the oldest new one
            c.prepare_cached("DELETE FROM nonces WHERE expires_at < ?1")?
                .execute([min_exp - 3_600_000])?;
            Ok(())
        })
        .await
    }

    async fn live_nonces(&self, now: i64) -> Result<Vec<NonceRecord>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(
                "SELECT key_id, nonce, expires_at FROM nonces WHERE expires_at > ?1",
            )?;
            let rows = stmt.query_map([now], |r| {
                Ok(NonceRecord {
                    key_id: r.get(0)?,
                    nonce: r.get(1)?,
                    expires_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    /// One process uses a SQLite store (the server checks nonces in memory), so this scans the
    /// live nonces rather than keeping an index that would slow every request's write.
    async fn claim_nonces(&self, nonces: Vec<NonceRecord>, now: i64) -> Result<Vec<bool>> {
        self.write(move |c, _| {
            let mut live = c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM nonces WHERE expires_at > ?1 AND key_id = ?2 AND nonce = ?3)",
            )?;
            let mut ins = c.prepare_cached(
                "INSERT INTO nonces (key_id, nonce, expires_at) VALUES (?1, ?2, ?3)",
            )?;
            let mut out = Vec::with_capacity(nonces.len());
            for n in &nonces {
                let used: bool = live.query_row(params![now, n.key_id, n.nonce], |r| r.get(0))?;
                if !used {
                    ins.execute(params![n.key_id, n.nonce, n.expires_at])?;
                }
                out.push(!used);
            }
            Ok(out)
        })
        .await
    }
}
