//! Web-console users and their sessions on SQLite. Emails are lowercased here, before they are
//! stored or looked up, so the table's plain UNIQUE (and SQLite's bytewise comparison) is
//! case-insensitive for every email, not only ASCII ones as `lower()` would be.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, enum_col};
use crate::*;

const USER_COLS: &str = "id, account_id, email, role, password_hash, enabled, created_at";

fn user_row(r: &Row<'_>) -> rusqlite::Result<ConsoleUser> {
    Ok(ConsoleUser {
        id: r.get(0)?,
        account_id: r.get(1)?,
        email: r.get(2)?,
        role: enum_col(r, 3, Role::parse)?,
        password_hash: r.get(4)?,
        enabled: r.get::<_, i64>(5)? != 0,
        created_at: r.get(6)?,
    })
}

fn get_user(c: &Connection, id: i64) -> Result<Option<ConsoleUser>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {USER_COLS} FROM console_users WHERE id = ?1"
    ))?
    .query_row([id], user_row)
    .optional()?)
}

fn user_by_email(c: &Connection, email: &str) -> Result<Option<ConsoleUser>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {USER_COLS} FROM console_users WHERE email = ?1"
    ))?
    .query_row([email], user_row)
    .optional()?)
}

fn end_sessions(c: &Connection, user_id: i64) -> Result<()> {
    c.prepare_cached("DELETE FROM console_sessions WHERE user_id = ?1")?
        .execute([user_id])?;
    Ok(())
}

#[async_trait::async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: NewConsoleUser, now: i64) -> Result<ConsoleUser> {
        let email = user.email.to_lowercase();
        self.write(move |c, _| {
            // checked first so that each failure says what was wrong (the constraints alone
            // would answer both with a bare "constraint failed")
            let account: Option<i64> = c
                .prepare_cached("SELECT id FROM accounts WHERE id = ?1")?
                .query_row([user.account_id], |r| r.get(0))
                .optional()?;
            if account.is_none() {
                return Err(StoreError::NotFound(format!("account {}", user.account_id)));
            }
            if user_by_email(c, &email)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "console user {email:?} already exists"
                )));
            }
            c.prepare_cached(
                "INSERT INTO console_users (account_id, email, role, password_hash, enabled, created_at) \
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
            )?
            .execute(params![
                user.account_id,
                email,
                user.role.as_str(),
                user.password_hash,
                now
            ])?;
            Ok(ConsoleUser {
                id: c.last_insert_rowid(),
                account_id: user.account_id,
                email: email.clone(),
                role: user.role,
                password_hash: user.password_hash.clone(),
                enabled: true,
                created_at: now,
            })
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<ConsoleUser>> {
        let email = email.to_lowercase();
        self.read(move |c, _| user_by_email(c, &email)).await
    }

    async fn user(&self, id: i64) -> Result<Option<ConsoleUser>> {
        self.read(move |c, _| get_user(c, id)).await
    }

    async fn list_users(&self, account_id: Option<i64>) -> Result<Vec<ConsoleUser>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {USER_COLS} FROM console_users WHERE ?1 IS NULL OR account_id = ?1 \
                 ORDER BY account_id, email"
            ))?;
            let rows = stmt.query_map([account_id], user_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn set_user_password(&self, id: i64, password_hash: &str) -> Result<ConsoleUser> {
        let password_hash = password_hash.to_string();
        self.write(move |c, _| {
            let n = c
                .prepare_cached("UPDATE console_users SET password_hash = ?1 WHERE id = ?2")?
                .execute(params![password_hash, id])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("console user {id}")));
            }
            end_sessions(c, id)?;
            get_user(c, id)?.ok_or_else(|| StoreError::NotFound(format!("console user {id}")))
        })
        .await
    }

    async fn set_user_enabled(&self, id: i64, enabled: bool) -> Result<ConsoleUser> {
        self.write(move |c, _| {
            let n = c
                .prepare_cached("UPDATE console_users SET enabled = ?1 WHERE id = ?2")?
                .execute(params![enabled as i64, id])?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("console user {id}")));
            }
            if !enabled {
                end_sessions(c, id)?;
            }
            get_user(c, id)?.ok_or_else(|| StoreError::NotFound(format!("console user {id}")))
        })
        .await
    }

    async fn create_session(&self, session: ConsoleSession) -> Result<()> {
        self.write(move |c, _| {
            if get_user(c, session.user_id)?.is_none() {
                return Err(StoreError::NotFound(format!(
                    "console user {}",
                    session.user_id
                )));
            }
            c.prepare_cached(
                "INSERT INTO console_sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                session.token_hash,
                session.user_id,
                session.csrf_token,
                session.created_at,
                session.expires_at
            ])?;
            Ok(())
        })
        .await
    }

    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<ConsoleSession>> {
        let token_hash = token_hash.to_string();
        self.read(move |c, _| {
            Ok(c.prepare_cached(
                "SELECT token_hash, user_id, csrf_token, created_at, expires_at \
                 FROM console_sessions WHERE token_hash = ?1 AND expires_at > ?2",
            )?
            .query_row(params![token_hash, now], |r| {
                Ok(ConsoleSession {
                    token_hash: r.get(0)?,
                    user_id: r.get(1)?,
                    csrf_token: r.get(2)?,
                    created_at: r.get(3)?,
                    expires_at: r.get(4)?,
                })
            })
            .optional()?)
        })
        .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let token_hash = token_hash.to_string();
        self.write(move |c, _| {
            c.prepare_cached("DELETE FROM console_sessions WHERE token_hash = ?1")?
                .execute([&token_hash])?;
            Ok(())
        })
        .await
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        self.write(move |c, _| {
            let n = c
                .prepare_cached("DELETE FROM console_sessions WHERE expires_at <= ?1")?
                .execute([now])?;
            Ok(n as u64)
        })
        .await
    }

    async fn record_login_failure(
        &self,
        keys: Vec<String>,
        now: i64,
        window_ms: i64,
    ) -> Result<()> {
        self.write(move |c, _| {
            let sql = crate::common::login_failure_sql("?1", "?2", "?3");
            let mut upsert = c.prepare_cached(&sql)?;
            for k in &keys {
                upsert.execute(params![k, now, window_ms])?;
            }
            c.prepare_cached("DELETE FROM login_failures WHERE since <= ?1")?
                .execute([now - window_ms])?;
            Ok(())
        })
        .await
    }

    async fn login_failures(
        &self,
        keys: Vec<String>,
        now: i64,
        window_ms: i64,
    ) -> Result<Vec<Option<LoginFailures>>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(
                "SELECT failures, since FROM login_failures WHERE key = ?1 AND since > ?2",
            )?;
            keys.iter()
                .map(|k| {
                    Ok(stmt
                        .query_row(params![k, now - window_ms], |r| {
                            Ok(LoginFailures {
                                failures: r.get::<_, i64>(0)?.clamp(0, i64::from(u32::MAX)) as u32,
                                since: r.get(1)?,
                            })
                        })
                        .optional()?)
                })
                .collect()
        })
        .await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        let key = key.to_string();
        self.write(move |c, _| {
            c.prepare_cached("DELETE FROM login_failures WHERE key = ?1")?
                .execute([&key])?;
            Ok(())
        })
        .await
    }
}
