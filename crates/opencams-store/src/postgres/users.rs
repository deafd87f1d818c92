//! Web-console users and their sessions on PostgreSQL. Each write is one statement: the unique
//! email decides which of two creations wins, and a password change (or a disabling) ends the
//! user's sessions in the statement that makes it. Emails are lowercased here, before they are
//! stored or looked up, so that the plain UNIQUE is case-insensitive (PostgreSQL's `lower()`
//! would follow the database's locale; SQLite's knows only ASCII).

use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::{PgStore, enum_col};
use crate::*;

const USER_COLS: &str = "id, account_id, email, role, password_hash, enabled, created_at";

/// Users in the order SQLite lists them: emails compare bytewise (`COLLATE "C"`), not by the
/// database's locale.
const USER_ORDER: &str = r#"ORDER BY account_id, email COLLATE "C""#;

fn user_row(r: &Row) -> Result<ConsoleUser> {
    Ok(ConsoleUser {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        email: r.try_get(2)?,
        role: enum_col(r, 3, Role::parse)?,
        password_hash: r.try_get(4)?,
        enabled: r.try_get(5)?,
        created_at: r.try_get(6)?,
    })
}

fn session_row(r: &Row) -> Result<ConsoleSession> {
    Ok(ConsoleSession {
        token_hash: r.try_get(0)?,
        user_id: r.try_get(1)?,
        csrf_token: r.try_get(2)?,
        created_at: r.try_get(3)?,
        expires_at: r.try_get(4)?,
    })
}

/// `e` as a store error, where a foreign key violation means that the row the write refers to
/// (`parent`) does not exist: `NotFound`, as SQLite answers it, rather than a `Conflict`.
fn missing_parent(e: tokio_postgres::Error, parent: String) -> StoreError {
    if e.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::NotFound(parent)
    } else {
        e.into()
    }
}

impl PgStore {
    /// The users `sql` selects (its parameters `params`).
    async fn query_users(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<ConsoleUser>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(sql).await?;
        c.query(&stmt, params).await?.iter().map(user_row).collect()
    }

    /// Sets one column of user `id` (`set`: `column = $2`) and ends the user's sessions when
    /// `end_sessions` (a BOOLEAN expression over the parameters) holds, in one statement.
    async fn update_user(
        &self,
        id: i64,
        set: &str,
        end_sessions: &str,
        value: &(dyn ToSql + Sync),
    ) -> Result<ConsoleUser> {
        let params: [&(dyn ToSql + Sync); 2] = [&id, value];
        self.query_users(
            &format!(
                "WITH u AS (UPDATE console_users SET {set} WHERE id = $1 RETURNING {USER_COLS}), \
                      ended AS (DELETE FROM console_sessions \
                                WHERE {end_sessions} AND user_id IN (SELECT id FROM u)) \
                 SELECT {USER_COLS} FROM u"
            ),
            &params,
        )
        .await?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("console user {id}")))
    }
}

#[async_trait::async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: NewConsoleUser, now: i64) -> Result<ConsoleUser> {
        let email = user.email.to_lowercase();
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO console_users (account_id, email, role, password_hash, enabled, created_at) \
                 VALUES ($1, $2, $3, $4, TRUE, $5) ON CONFLICT (email) DO NOTHING RETURNING id",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 5] = [
            &user.account_id,
            &email,
            &user.role.as_str(),
            &user.password_hash,
            &now,
        ];
        let row = c
            .query_opt(&stmt, &params)
            .await
            .map_err(|e| missing_parent(e, format!("account {}", user.account_id)))?;
        let Some(row) = row else {
            return Err(StoreError::Conflict(format!(
                "console user {email:?} already exists"
            )));
        };
        Ok(ConsoleUser {
            id: row.try_get(0)?,
            account_id: user.account_id,
            email,
            role: user.role,
            password_hash: user.password_hash,
            enabled: true,
            created_at: now,
        })
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<ConsoleUser>> {
        let email = email.to_lowercase();
        Ok(self
            .query_users(
                &format!("SELECT {USER_COLS} FROM console_users WHERE email = $1"),
                &[&email],
            )
            .await?
            .pop())
    }

    async fn user(&self, id: i64) -> Result<Option<ConsoleUser>> {
        Ok(self
            .query_users(
                &format!("SELECT {USER_COLS} FROM console_users WHERE id = $1"),
                &[&id],
            )
            .await?
            .pop())
    }

    async fn list_users(&self, account_id: Option<i64>) -> Result<Vec<ConsoleUser>> {
        self.query_users(
            &format!(
                "SELECT {USER_COLS} FROM console_users \
                 WHERE $1::bigint IS NULL OR account_id = $1 {USER_ORDER}"
            ),
            &[&account_id],
        )
        .await
    }

    async fn set_user_password(&self, id: i64, password_hash: &str) -> Result<ConsoleUser> {
        self.update_user(id, "password_hash = $2", "TRUE", &password_hash)
            .await
    }

    async fn set_user_enabled(&self, id: i64, enabled: bool) -> Result<ConsoleUser> {
        self.update_user(id, "enabled = $2", "NOT $2", &enabled)
            .await
    }

    async fn create_session(&self, session: ConsoleSession) -> Result<()> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "INSERT INTO console_sessions (token_hash, user_id, csrf_token, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 5] = [
            &session.token_hash,
            &session.user_id,
            &session.csrf_token,
            &session.created_at,
            &session.expires_at,
        ];
        c.execute(&stmt, &params)
            .await
            .map_err(|e| missing_parent(e, format!("console user {}", session.user_id)))?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<ConsoleSession>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT token_hash, user_id, csrf_token, created_at, expires_at \
                 FROM console_sessions WHERE token_hash = $1 AND expires_at > $2",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 2] = [&token_hash, &now];
        c.query_opt(&stmt, &params)
            .await?
            .map(|r| session_row(&r))
            .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<()> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("DELETE FROM console_sessions WHERE token_hash = $1")
            .await?;
        c.execute(&stmt, &[&token_hash]).await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("DELETE FROM console_sessions WHERE expires_at <= $1")
            .await?;
        Ok(c.execute(&stmt, &[&now]).await?)
    }

    async fn record_login_failure(
        &self,
        keys: Vec<String>,
        now: i64,
        window_ms: i64,
    ) -> Result<()> {
        let c = self.client().await?;
        let upsert = c
            .prepare_cached(&crate::common::login_failure_sql("$1", "$2", "$3"))
            .await?;
        for k in &keys {
            c.execute(&upsert, &[k, &now, &window_ms]).await?;
        }
        let purge = c
            .prepare_cached("DELETE FROM login_failures WHERE since <= $1")
            .await?;
        c.execute(&purge, &[&(now - window_ms)]).await?;
        Ok(())
    }

    async fn login_failures(
        &self,
        keys: Vec<String>,
        now: i64,
        window_ms: i64,
    ) -> Result<Vec<Option<LoginFailures>>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT key, failures, since FROM login_failures WHERE key = ANY($1) AND since > $2",
            )
            .await?;
        let rows = c.query(&stmt, &[&keys, &(now - window_ms)]).await?;
        let mut found = std::collections::HashMap::new();
        for r in &rows {
            let failures: i64 = r.try_get(1)?;
            found.insert(
                r.try_get::<_, String>(0)?,
                LoginFailures {
                    failures: failures.clamp(0, i64::from(u32::MAX)) as u32,
                    since: r.try_get(2)?,
                },
            );
        }
        Ok(keys.iter().map(|k| found.get(k).copied()).collect())
    }

    async fn clear_login_failures(&self, key: &str) -> Result<()> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("DELETE FROM login_failures WHERE key = $1")
            .await?;
        c.execute(&stmt, &[&key]).await?;
        Ok(())
    }
}
