//! Accounts, their spaces and settings, and access keys on PostgreSQL. Each write is one
//! statement (an account and its default space go in together), so nodes writing at the same
//! time need no locks of ours: the unique name decides which of two creations wins.

use std::collections::BTreeMap;

use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::PgStore;
use crate::common::{
    key_aad, list_to_text, new_key_id, new_key_secret, new_space_id, text_to_list,
};
use crate::*;

const ACCOUNT_COLS: &str = "id, name, status, default_space, created_at";

fn account_row(r: &Row) -> Result<Account> {
    Ok(Account {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        status: AccountStatus::parse(r.try_get(2)?),
        default_space: r.try_get(3)?,
        created_at: r.try_get(4)?,
    })
}

const SPACE_COLS: &str = "id, account_id, name, created_at";

fn space_row(r: &Row) -> Result<Space> {
    Ok(Space {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        name: r.try_get(2)?,
        created_at: r.try_get(3)?,
    })
}

/// The columns of a key with its account's name, from `k` (access_keys or a CTE over it) joined
/// to `a` (accounts).
const KEY_COLS: &str =
    "k.id, k.secret_sealed, k.account_id, a.name, k.enabled, k.actions, k.spaces, k.created_at";

/// Keys in the order SQLite lists them: ids compare bytewise (`COLLATE "C"`), not by the
/// database's locale.
const KEY_ORDER: &str = r#"ORDER BY k.created_at, k.id COLLATE "C""#;

fn key_row(r: &Row, cipher: &Cipher) -> Result<AccessKey> {
    let id: String = r.try_get(0)?;
    let sealed: &[u8] = r.try_get(1)?;
    let secret = cipher.open(&key_aad(&id), sealed)?;
    Ok(AccessKey {
        id,
        secret,
        account_id: r.try_get(2)?,
        account_name: r.try_get(3)?,
        enabled: r.try_get(4)?,
        actions: text_to_list(r.try_get(5)?),
        spaces: text_to_list(r.try_get(6)?),
        created_at: r.try_get(7)?,
    })
}

impl PgStore {
    /// The keys `sql` selects (its parameters `params`), their secrets opened.
    async fn query_keys(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<AccessKey>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await?;
        c.query(&stmt, params)
            .await?
            .iter()
            .map(|r| key_row(r, &self.cipher))
            .collect()
    }

    async fn account_where(
        &self,
        filter: &str,
        param: &(dyn ToSql + Sync),
    ) -> Result<Option<Account>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE {filter}"
            ))
            .await?;
        c.query_opt(&stmt, &[param])
            .await?
            .map(|r| account_row(&r))
            .transpose()
    }
}

#[async_trait::async_trait]
impl AccountStore for PgStore {
    async fn create_account(&self, name: &str, now: i64) -> Result<Account> {
        let space = new_space_id();
        let c = self.client().await?;
        // one statement: the account (unless the name is taken) and its default space
        let stmt = c
            .prepare_cached(
                "WITH a AS ( \
                     INSERT INTO accounts (name, status, default_space, created_at) \
                     VALUES ($1, 'active', $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id) \
                 INSERT INTO spaces (id, account_id, name, created_at) \
                 SELECT $2, id, 'default', $3 FROM a RETURNING account_id",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 3] = [&name, &space, &now];
        let Some(row) = c.query_opt(&stmt, &params).await? else {
            return Err(StoreError::Conflict(format!(
                "account {name:?} already exists"
            )));
        };
        Ok(Account {
            id: row.try_get(0)?,
            name: name.to_string(),
            status: AccountStatus::Active,
            default_space: space,
            created_at: now,
        })
    }

    async fn account(&self, name: &str) -> Result<Option<Account>> {
        self.account_where("name = $1", &name).await
    }

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.account_where("id = $1", &id).await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id"))
            .await?;
        c.query(&stmt, &[]).await?.iter().map(account_row).collect()
    }

    async fn set_account_status(&self, name: &str, status: AccountStatus) -> Result<Account> {
        self.notifying(Change::Accounts, async {
            let c = self.client().await?;
            let stmt = c
                .prepare_cached(&format!(
                    "UPDATE accounts SET status = $1 WHERE name = $2 RETURNING {ACCOUNT_COLS}"
                ))
                .await?;
            let params: [&(dyn ToSql + Sync); 2] = [&status.as_str(), &name];
            c.query_opt(&stmt, &params)
                .await?
                .map(|r| account_row(&r))
                .transpose()?
                .ok_or_else(|| StoreError::NotFound(format!("account {name:?}")))
        })
        .await
    }

    async fn create_space(&self, account_id: i64, name: &str, now: i64) -> Result<Space> {
        let id = new_space_id();
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO spaces (id, account_id, name, created_at) VALUES ($1, $2, $3, $4)",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 4] = [&id, &account_id, &name, &now];
        c.execute(&stmt, &params).await?;
        Ok(Space {
            id,
            account_id,
            name: name.to_string(),
            created_at: now,
        })
    }

    async fn space(&self, id: &str) -> Result<Option<Space>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {SPACE_COLS} FROM spaces WHERE id = $1"))
            .await?;
        c.query_opt(&stmt, &[&id])
            .await?
            .map(|r| space_row(&r))
            .transpose()
    }

    async fn list_spaces(&self, account_id: Option<i64>) -> Result<Vec<Space>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                r#"SELECT {SPACE_COLS} FROM spaces WHERE $1::bigint IS NULL OR account_id = $1
                   ORDER BY created_at, id COLLATE "C""#
            ))
            .await?;
        c.query(&stmt, &[&account_id])
            .await?
            .iter()
            .map(space_row)
            .collect()
    }

    async fn account_settings(&self, account_id: i64) -> Result<BTreeMap<String, String>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT key, value FROM account_settings WHERE account_id = $1")
            .await?;
        c.query(&stmt, &[&account_id])
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    async fn set_account_setting(
        &self,
        account_id: i64,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        self.notifying(Change::Accounts, async {
            let c = self.client().await?;
            match value {
                Some(v) => {
                    let stmt = c
                        .prepare_cached(
                            "INSERT INTO account_settings (account_id, key, value) VALUES ($1, $2, $3) \
                             ON CONFLICT (account_id, key) DO UPDATE SET value = EXCLUDED.value",
                        )
                        .await?;
                    let params: [&(dyn ToSql + Sync); 3] = [&account_id, &key, &v];
                    c.execute(&stmt, &params).await?;
                }
                None => {
                    let stmt = c
                        .prepare_cached(
                            "DELETE FROM account_settings WHERE account_id = $1 AND key = $2",
                        )
                        .await?;
                    let params: [&(dyn ToSql + Sync); 2] = [&account_id, &key];
                    c.execute(&stmt, &params).await?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn create_key(&self, key: NewKey, now: i64) -> Result<AccessKey> {
        self.notifying(Change::Keys, async {
            let id = new_key_id();
            let sealed = self.cipher.seal(&key_aad(&id), &new_key_secret())?;
            let (actions, spaces) = (list_to_text(&key.actions), list_to_text(&key.spaces));
            let params: [&(dyn ToSql + Sync); 6] =
                [&id, &key.account_id, &sealed, &actions, &spaces, &now];
            self.query_keys(
                &format!(
                    "WITH k AS ( \
                         INSERT INTO access_keys (id, account_id, secret_sealed, enabled, actions, spaces, created_at) \
                         VALUES ($1, $2, $3, TRUE, $4, $5, $6) RETURNING *) \
                     SELECT {KEY_COLS} FROM k JOIN accounts a ON a.id = k.account_id"
                ),
                &params,
            )
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("access key {id}")))
        })
        .await
    }

    async fn key(&self, id: &str) -> Result<Option<AccessKey>> {
        Ok(self
            .query_keys(
                &format!(
                    "SELECT {KEY_COLS} FROM access_keys k JOIN accounts a ON a.id = k.account_id \
                     WHERE k.id = $1"
                ),
                &[&id],
            )
            .await?
            .pop())
    }

    async fn list_keys(&self, account_id: Option<i64>) -> Result<Vec<AccessKey>> {
        self.query_keys(
            &format!(
                "SELECT {KEY_COLS} FROM access_keys k JOIN accounts a ON a.id = k.account_id \
                 WHERE $1::bigint IS NULL OR k.account_id = $1 {KEY_ORDER}"
            ),
            &[&account_id],
        )
        .await
    }

    async fn set_key_enabled(&self, id: &str, enabled: bool) -> Result<AccessKey> {
        self.notifying(Change::Keys, async {
            let params: [&(dyn ToSql + Sync); 2] = [&enabled, &id];
            self.query_keys(
                &format!(
                    "WITH k AS (UPDATE access_keys SET enabled = $1 WHERE id = $2 RETURNING *) \
                     SELECT {KEY_COLS} FROM k JOIN accounts a ON a.id = k.account_id"
                ),
                &params,
            )
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("access key {id:?}")))
        })
        .await
    }
}
