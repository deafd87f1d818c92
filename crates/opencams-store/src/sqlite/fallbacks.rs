//! SMS fallback timers on SQLite: created with their message, claimed with a lease like queue
//! entries (so several workers never fire one twice while it is held), settled in a new
//! transaction, and matched back from SMSC delivery reports.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::*;

const COLS: &str =
    "message_id, account_id, policy_id, state, due_at, attempts, sms_ids, text, error, updated_at";

fn row(r: &Row<'_>) -> rusqlite::Result<FallbackRow> {
    let ids: Option<String> = r.get(6)?;
    Ok(FallbackRow {
        message_id: r.get(0)?,
        account_id: r.get(1)?,
        policy_id: r.get(2)?,
        state: r.get(3)?,
        due_at: r.get(4)?,
        attempts: r.get(5)?,
        sms_ids: ids
            .map(|s| {
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        text: r.get(7)?,
        error: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// The fallback row of a message accepted with a FallBackId: a timer when it has a duration,
/// else armed until the message fails (a message refused at verification fails at once).
pub(super) fn create_for(c: &Connection, m: &MessageRow) -> Result<()> {
    let Some(policy) = &m.fallback_id else {
        return Ok(());
    };
    if m.direction != "out" {
        return Ok(());
    }
    let (state, due_at) = match m.fallback_duration {
        Some(secs) => ("scheduled", Some(m.created_at + secs * 1000)),
        None => ("armed", None),
    };
    c.prepare_cached(
        "INSERT INTO fallbacks (message_id, account_id, policy_id, state, due_at, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )?
    .execute(params![m.id, m.account_id, policy, state, due_at, m.created_at])?;
    Ok(())
}

pub(super) fn claim(
    c: &Connection,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<(FallbackRow, MessageRow)>> {
    let ids: Vec<String> = c
        .prepare_cached(
            "UPDATE fallbacks SET lease_owner = ?1, lease_until = ?2 WHERE message_id IN ( \
               SELECT f.message_id FROM fallbacks f JOIN messages m ON m.id = f.message_id \
               WHERE (f.lease_until IS NULL OR f.lease_until <= ?3) AND ( \
                 (f.state = 'scheduled' AND f.due_at <= ?3) \
                 OR (f.state = 'armed' AND m.status IN ('failed', 'expired')) \
                 OR (f.state IN ('scheduled', 'armed') AND m.status IN ('delivered', 'read')) \
                 OR (f.state = 'sending')) \
               LIMIT ?4) \
             RETURNING message_id",
        )?
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
        .execute(params![o.state, o.due_at, o.sms_ids.join(","), o.text, o.error, now, id, owner])?;
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
        super::templates::insert_event(c, e, now)?;
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
    let state = if delivered { "delivered" } else { "failed" };
    let n = c
        .prepare_cached("UPDATE fallbacks SET state = ?1, updated_at = ?2 WHERE message_id = ?3 AND state = 'sent'")?
        .execute(params![state, now, id])?;
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
        super::templates::insert_event(c, &e, now)?;
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
