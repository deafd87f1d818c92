//! Accounts, their spaces and settings, and access keys on SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::common::{
    key_aad, list_to_text, new_key_id, new_key_secret, new_space_id, text_to_list,
};
use crate::*;

const ACCOUNT_COLS: &str = "id, name, status, default_space, created_at";

fn account_row(r: &Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        name: r.get(1)?,
        status: AccountStatus::parse(&r.get::<_, String>(2)?),
        default_space: r.get(3)?,
        created_at: r.get(4)?,
    })
}

fn space_row(r: &Row<'_>) -> rusqlite::Result<Space> {
    Ok(Space {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        created_at: r.get(3)?,
    })
}

const KEY_SELECT: &str = "SELECT k.id, k.secret_sealed, k.account_id, a.name, k.enabled, k.actions, k.spaces, k.created_at \
     FROM access_keys k JOIN accounts a ON a.id = k.account_id";

fn key_row(r: &Row<'_>, cipher: &Cipher) -> rusqlite::Result<Result<AccessKey>> {
    let id: String = r.get(0)?;
    let sealed: Vec<u8> = r.get(1)?;
    let secret = match cipher.open(&key_aad(&id), &sealed) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(AccessKey {
        id,
        secret,
        account_id: r.get(2)?,
        account_name: r.get(3)?,
        enabled: r.get::<_, i64>(4)? != 0,
        actions: text_to_list(r.get(5)?),
        spaces: text_to_list(r.get(6)?),
        created_at: r.get(7)?,
    }))
}

fn query_keys(
    conn: &Connection,
    cipher: &Cipher,
    filter: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<AccessKey>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{KEY_SELECT} {filter} ORDER BY k.created_at, k.id"
    ))?;
    let rows = stmt.query_map(p, |r| key_row(r, cipher))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

fn get_account(conn: &Connection, name: &str) -> Result<Option<Account>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ACCOUNT_COLS} FROM accounts WHERE name = ?1"
        ))?
        .query_row([name], account_row)
        .optional()?)
}

#[async_trait::async_trait]
impl AccountStore for SqliteStore {
    async fn create_account(&self, name: &str, now: i64) -> Result<Account> {
        let name = name.to_string();
        self.write(move |c, _| {
            if get_account(c, &name)?.is_some() {
                return Err(StoreError::Conflict(format!("account {name:?} already exists")));
            }
            let space = new_space_id();
            c.execute(
                "INSERT INTO accounts (name, status, default_space, created_at) VALUES (?1, 'active', ?2, ?3)",
                params![name, space, now],
            )?;
            let id = c.last_insert_rowid();
            c.execute(
                "INSERT INTO spaces (id, account_id, name, created_at) VALUES (?1, ?2, 'default', ?3)",
                params![space, id, now],
            )?;
            Ok(Account { id, name: name.clone(), status: AccountStatus::Active, default_space: space, created_at: now })
        })
        .await
    }

    async fn account(&self, name: &str) -> Result<Option<Account>> {
        let name = name.to_string();
        self.read(move |c, _| get_account(c, &name)).await
    }

    async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
        self.read(move |c, _| {
            Ok(c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"
            ))?
            .query_row([id], account_row)
            .optional()?)
        })
        .await
    }

    async fn list_accounts(&self) -> Result<Vec<Account>> {
        self.read(|c, _| {
            let mut stmt =
                c.prepare_cached(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY id"))?;
            let rows = stmt.query_map([], account_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn set_account_status(&self, name: &str, status: AccountStatus) -> Result<Account> {
        let name = name.to_string();
        self.write(move |c, _| {
            let n = c.execute(
                "UPDATE accounts SET status = ?1 WHERE name = ?2",
                params![status.as_str(), name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("account {name:?}")));
            }
            get_account(c, &name)?.ok_or_else(|| StoreError::NotFound(format!("account {name:?}")))
        })
        .await
    }

    async fn create_space(&self, account_id: i64, name: &str, now: i64) -> Result<Space> {
        let name = name.to_string();
        self.write(move |c, _| {
            let id = new_space_id();
            c.execute(
                "INSERT INTO spaces (id, account_id, name, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, account_id, name, now],
            )?;
            Ok(Space {
                id,
                account_id,
                name: name.clone(),
                created_at: now,
            })
        })
        .await
    }

    async fn space(&self, id: &str) -> Result<Option<Space>> {
        let id = id.to_string();
        self.read(move |c, _| {
            Ok(c.prepare_cached(
                "SELECT id, account_id, name, created_at FROM spaces WHERE id = ?1",
            )?
            .query_row([id], space_row)
            .optional()?)
        })
        .await
    }

    async fn list_spaces(&self, account_id: Option<i64>) -> Result<Vec<Space>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(
                "SELECT id, account_id, name, created_at FROM spaces WHERE ?1 IS NULL OR account_id = ?1 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map([account_id], space_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn account_settings(
        &self,
        account_id: i64,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        self.read(move |c, _| {
            let mut stmt =
                c.prepare_cached("SELECT key, value FROM account_settings WHERE account_id = ?1")?;
            let rows = stmt.query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
        .await
    }

    async fn set_account_setting(
        &self,
        account_id: i64,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let (key, value) = (key.to_string(), value.map(String::from));
        self.write(move |c, _| {
            match &value {
                Some(v) => c.execute(
                    "INSERT INTO account_settings (account_id, key, value) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (account_id, key) DO UPDATE SET value = excluded.value",
                    params![account_id, key, v],
                )?,
                None => c.execute(
                    "DELETE FROM account_settings WHERE account_id = ?1 AND key = ?2",
                    params![account_id, key],
                )?,
            };
            Ok(())
        })
        .await
    }

    async fn create_key(&self, key: NewKey, now: i64) -> Result<AccessKey> {
        self.write(move |c, cipher| {
            let id = new_key_id();
            let secret = new_key_secret();
            let sealed = cipher.seal(&key_aad(&id), &secret)?;
            c.execute(
                "INSERT INTO access_keys (id, account_id, secret_sealed, enabled, actions, spaces, created_at) \
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6)",
                params![id, key.account_id, sealed, list_to_text(&key.actions), list_to_text(&key.spaces), now],
            )?;
            let mut keys = query_keys(c, cipher, "WHERE k.id = ?1", &[&id])?;
            keys.pop().ok_or_else(|| StoreError::NotFound(format!("access key {id}")))
        })
        .await
    }

    async fn key(&self, id: &str) -> Result<Option<AccessKey>> {
        let id = id.to_string();
        self.read(move |c, cipher| Ok(query_keys(c, cipher, "WHERE k.id = ?1", &[&id])?.pop()))
            .await
    }

    async fn list_keys(&self, account_id: Option<i64>) -> Result<Vec<AccessKey>> {
        self.read(move |c, cipher| {
            query_keys(
                c,
                cipher,
                "WHERE ?1 IS NULL OR k.account_id = ?1",
                &[&account_id],
            )
        })
        .await
    }

    async fn set_key_enabled(&self, id: &str, enabled: bool) -> Result<AccessKey> {
        let id = id.to_string();
        self.write(move |c, cipher| {
            c.execute(
                "UPDATE access_keys SET enabled = ?1 WHERE id = ?2",
                params![enabled as i64, id],
            )?;
            query_keys(c, cipher, "WHERE k.id = ?1", &[&id])?
                .pop()
                .ok_or_else(|| StoreError::NotFound(format!("access key {id:?}")))
        })
        .await
    }
}
