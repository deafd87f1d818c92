//! SMS fallback timers on SQLite: created with their message, claimed with a lease like queue
//! entries (so several workers never fire one twice while it is held), settled in a new
//! transaction, and matched back from SMSC delivery reports.

use rusqlite::{Connection, OptionalExtension, Row, params};

use opencams_domain::FallbackState;

use super::{SqliteStore, enum_col};
use crate::common::{
    fallback_decidable_sql, fallback_timer, hourly_fallbacks_sql, policy_aad, policy_id,
    text_to_list,
};

use crate::*;

const COLS: &str =
    "message_id, account_id, policy_id, state, due_at, attempts, sms_ids, text, error, updated_at";

fn row(r: &Row<'_>) -> rusqlite::Result<FallbackRow> {
    let ids: Option<String> = r.get(6)?;
    Ok(FallbackRow {
        message_id: r.get(0)?,
        account_id: r.get(1)?,
        policy_id: r.get(2)?,
        state: enum_col(r, 3, FallbackState::parse)?,
        due_at: r.get(4)?,
        attempts: r.get(5)?,
        sms_ids: text_to_list(ids).unwrap_or_default(),
        text: r.get(7)?,
        error: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// The fallback row of a message accepted with a FallBackId (see [`fallback_timer`]).
pub(super) fn create_for(c: &Connection, m: &MessageRow) -> Result<()> {
    let Some((policy, state, due_at)) = fallback_timer(m) else {
        return Ok(());
    };
    c.prepare_cached(
        "INSERT INTO fallbacks (message_id, account_id, policy_id, state, due_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![m.id, m.account_id, policy, state.as_str(), due_at, m.created_at])?;
    Ok(())
}

/// The claim of fallbacks that must be decided now (see [`fallback_decidable_sql`]). Built once.
static CLAIM_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let decidable = fallback_decidable_sql("?3");
    format!(
        "UPDATE fallbacks SET lease_owner = ?1, lease_until = ?2 WHERE message_id IN ( \
           SELECT f.message_id FROM fallbacks f JOIN messages m ON m.id = f.message_id \
           WHERE {decidable} \
           LIMIT ?4) \
         RETURNING message_id"
    )
});

pub(super) fn claim(
    c: &Connection,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<(FallbackRow, MessageRow)>> {
    let ids: Vec<String> = c
        .prepare_cached(&CLAIM_SQL)?
        .query_map(params![owner, now + lease_ms, now, limit], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let f = c
            .prepare_cached(&format!(
                "SELECT {COLS} FROM fallbacks WHERE message_id = ?1"
            ))?
            .query_row([&id], row)?;
        if let Some(m) = super::messages::get(c, &id)? {
            out.push((f, m));
        }
    }
    Ok(out)
}

pub(super) fn settle(
    c: &Connection,
    id: &str,
    owner: &str,
    o: &FallbackOutcome,
    events: &[NewEvent],
    now: i64,
) -> Result<bool> {
    let n = c
        .prepare_cached(
            "UPDATE fallbacks SET state = ?1, due_at = ?2, sms_ids = ?3, text = COALESCE(?4, text), error = ?5, \
             attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, updated_at = ?6 \
             WHERE message_id = ?7 AND lease_owner = ?8",
        )?
        .execute(params![o.state.as_str(), o.due_at, o.sms_ids.join(","), o.text, o.error, now, id, owner])?;
    if n == 0 {
        return Ok(false);
    }
    let mut ins = c.prepare_cached(
        "INSERT OR IGNORE INTO fallback_sms (sms_id, message_id) VALUES (?1, ?2)",
    )?;
    for s in &o.sms_ids {
        ins.execute(params![s, id])?;
    }
    for e in events {
        super::events::insert_event(c, e, now)?;
    }
    Ok(true)
}

pub(super) fn report(
    c: &Connection,
    sms_id: &str,
    delivered: bool,
    events: &EventsFor,
    now: i64,
) -> Result<Option<(FallbackRow, MessageRow)>> {
    let Some(id) = c
        .prepare_cached("SELECT message_id FROM fallback_sms WHERE sms_id = ?1")?
        .query_row([sms_id], |r| r.get::<_, String>(0))
        .optional()?
    else {
        return Ok(None);
    };
    let state = if delivered {
        FallbackState::Delivered
    } else {
        FallbackState::Failed
    };
    let n = c
        .prepare_cached("UPDATE fallbacks SET state = ?1, updated_at = ?2 WHERE message_id = ?3 AND state = 'sent'")?
        .execute(params![state.as_str(), now, id])?;
    if n == 0 {
        return Ok(None);
    }
    let f = c
        .prepare_cached(&format!(
            "SELECT {COLS} FROM fallbacks WHERE message_id = ?1"
        ))?
        .query_row([&id], row)?;
    let Some(m) = super::messages::get(c, &id)? else {
        return Ok(None);
    };
    for e in events(&f, &m) {
        super::events::insert_event(c, &e, now)?;
    }
    Ok(Some((f, m)))
}

pub(super) fn get(c: &Connection, id: &str) -> Result<Option<FallbackRow>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {COLS} FROM fallbacks WHERE message_id = ?1"
    ))?
    .query_row([id], row)
    .optional()?)
}

// policies: ids are numbered per account (`S_000001`, …) and never reused

fn create_policy(c: &Connection, cipher: &Cipher, p: &NewPolicy, now: i64) -> Result<Policy> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM policies WHERE account_id = ?1",
        [p.account_id],
        |r| r.get(0),
    )?;
    let id = policy_id(n + 1);
    let sealed = cipher.seal(&policy_aad(p.account_id, &id), p.connection.expose())?;
    c.execute(
        "INSERT INTO policies (id, account_id, name, channel, sender_id, connection_sealed, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, p.account_id, p.name, p.channel, p.sender_id, sealed, now],
    )?;
    Ok(Policy {
        id,
        account_id: p.account_id,
        name: p.name.clone(),
        channel: p.channel.clone(),
        sender_id: p.sender_id.clone(),
        connection: p.connection.clone(),
        created_at: now,
    })
}

fn select_policies(
    c: &Connection,
    cipher: &Cipher,
    account_id: i64,
    id: Option<&str>,
) -> Result<Vec<Policy>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, name, channel, sender_id, connection_sealed, created_at FROM policies \
         WHERE account_id = ?1 AND (?2 IS NULL OR id = ?2) AND deleted_at IS NULL ORDER BY id",
    )?;
    let rows = stmt.query_map(params![account_id, id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get::<_, Vec<u8>>(4)?,
            r.get(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, channel, sender_id, sealed, created_at) = row?;
        let connection = cipher.open(&policy_aad(account_id, &id), &sealed)?;
        out.push(Policy {
            id,
            account_id,
            name,
            channel,
            sender_id,
            connection,
            created_at,
        });
    }
    Ok(out)
}

fn delete_policy(c: &Connection, account_id: i64, id: &str, now: i64) -> Result<()> {
    let waiting: i64 = c.query_row(
        "SELECT COUNT(*) FROM fallbacks WHERE account_id = ?1 AND policy_id = ?2 \
         AND state IN ('armed', 'scheduled', 'sending')",
        params![account_id, id],
        |r| r.get(0),
    )?;
    if waiting > 0 {
        return Err(StoreError::Conflict(format!(
            "policy {id} is still named by {waiting} message(s) that may fall back; delete it once they are settled"
        )));
    }
    let n = c.execute(
        "UPDATE policies SET deleted_at = ?1 WHERE account_id = ?2 AND id = ?3 AND deleted_at IS NULL",
        params![now, account_id, id],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("policy {id}")));
    }
    Ok(())
}

#[async_trait::async_trait]
impl FallbackStore for SqliteStore {
    async fn create_policy(&self, p: NewPolicy, now: i64) -> Result<Policy> {
        self.write(move |c, cipher| create_policy(c, cipher, &p, now))
            .await
    }

    async fn policy(&self, account_id: i64, id: &str) -> Result<Option<Policy>> {
        let id = id.to_string();
        self.read(move |c, cipher| Ok(select_policies(c, cipher, account_id, Some(&id))?.pop()))
            .await
    }

    async fn list_policies(&self, account_id: i64) -> Result<Vec<Policy>> {
        self.read(move |c, cipher| select_policies(c, cipher, account_id, None))
            .await
    }

    async fn delete_policy(&self, account_id: i64, id: &str, now: i64) -> Result<()> {
        let id = id.to_string();
        self.write(move |c, _| delete_policy(c, account_id, &id, now))
            .await
    }

    async fn claim_fallbacks(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<(FallbackRow, MessageRow)>> {
        let owner = owner.to_string();
        self.write(move |c, _| claim(c, &owner, now, lease_ms, limit))
            .await
    }

    async fn settle_fallback(
        &self,
        message_id: &str,
        owner: &str,
        outcome: FallbackOutcome,
        events: Vec<NewEvent>,
        now: i64,
    ) -> Result<bool> {
        let (id, owner) = (message_id.to_string(), owner.to_string());
        self.write(move |c, _| settle(c, &id, &owner, &outcome, &events, now))
            .await
    }

    async fn fallback_report(
        &self,
        sms_id: &str,
        delivered: bool,
        events: EventsFor,
        now: i64,
    ) -> Result<Option<(FallbackRow, MessageRow)>> {
        let sms_id = sms_id.to_string();
        self.write(move |c, _| report(c, &sms_id, delivered, &events, now))
            .await
    }

    async fn fallback(&self, message_id: &str) -> Result<Option<FallbackRow>> {
        let id = message_id.to_string();
        self.read(move |c, _| get(c, &id)).await
    }

    async fn hourly_fallbacks(
        &self,
        account_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<HourlyFallbacks>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(&hourly_fallbacks_sql("?1", "?2", "?3", ""))?;
            let rows = stmt.query_map(params![account_id, from, to], |r| {
                Ok(HourlyFallbacks {
                    hour_ms: r.get(0)?,
                    state: enum_col(r, 1, FallbackState::parse)?,
                    count: r.get::<_, i64>(2)? as u64,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }
}
