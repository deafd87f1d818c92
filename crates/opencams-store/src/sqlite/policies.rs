//! Fallback policies on SQLite. Ids are numbered per account (`S_000001`, …) and never reused.

use rusqlite::{Connection, params};

use crate::*;

fn aad(account_id: i64, id: &str) -> String {
    format!("policy:{account_id}:{id}")
}

pub(super) fn create(c: &Connection, cipher: &Cipher, p: &NewPolicy, now: i64) -> Result<Policy> {
    let n: i64 = c.query_row(
        "SELECT COUNT(*) FROM policies WHERE account_id = ?1",
        [p.account_id],
        |r| r.get(0),
    )?;
    let id = format!("S_{:06}", n + 1);
    let sealed = cipher.seal(&aad(p.account_id, &id), p.connection.expose())?;
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

pub(super) fn select(
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
        let connection = cipher.open(&aad(account_id, &id), &sealed)?;
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

pub(super) fn delete(c: &Connection, account_id: i64, id: &str, now: i64) -> Result<()> {
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
