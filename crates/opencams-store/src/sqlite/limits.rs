//! Token buckets on SQLite: one process uses the store, so they live in its memory (no table,
//! no write per request).

use super::SqliteStore;
use crate::*;

#[async_trait::async_trait]
impl LimitStore for SqliteStore {
    async fn take_tokens(&self, requests: Vec<TokenRequest>, now: i64) -> Result<Vec<TokenGrant>> {
        Ok(self.buckets.take(requests, now))
    }
}
