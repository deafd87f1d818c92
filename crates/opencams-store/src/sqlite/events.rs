//! The event log and callback delivery on SQLite: events appended and read back (status events
//! completed from their message), webhook settings, callback signing secrets, the callback outbox.
//!
//! The outbox is fed from the event log by a cursor: routing an event resolves its destination
//! (number setting over space setting) and inserts one pending delivery per (endpoint, event).
//! Deliveries are keyed by event id, so an endpoint's outbox is always read in event order.
//! Settling an attempt logs it (`callback_attempts`) in the same transaction.

use rusqlite::{Connection, OptionalExtension, Row, params};

use opencams_domain::{EventKind, SendType};

use super::{SqliteStore, enum_col};
use crate::common::{
    audit_template_code, callback_secret_aad, callback_url, disable_reason, new_callback_secret,
};
use crate::events::complete;
use crate::*;

const SETTING_COLS: &str =
    "space_id, phone, account_id, status_url, up_url, http_flag, queue_flag, updated_at";

fn setting_row(r: &Row<'_>) -> rusqlite::Result<WebhookSetting> {
    Ok(WebhookSetting {
        space_id: r.get(0)?,
        phone: r.get(1)?,
        account_id: r.get(2)?,
        status_url: r.get(3)?,
        up_url: r.get(4)?,
        http_flag: r.get::<_, Option<i64>>(5)?.map(|f| f != 0),
        queue_flag: r.get::<_, Option<i64>>(6)?.map(|f| f != 0),
        updated_at: r.get(7)?,
    })
}

fn setting(c: &Connection, space_id: &str, phone: &str) -> Result<Option<WebhookSetting>> {
    Ok(c.prepare_cached(&format!(
        "SELECT {SETTING_COLS} FROM webhook_settings WHERE space_id = ?1 AND phone = ?2"
    ))?
    .query_row([space_id, phone], setting_row)
    .optional()?)
}

const ENDPOINT_SELECT: &str = "SELECT e.id, e.account_id, e.url, e.enabled, e.disabled_reason, e.disabled_at, \
     e.failures, e.first_failure_at, e.last_error, e.last_attempt_at, e.last_success_at, e.delivered, e.due_at, \
     (SELECT COUNT(*) FROM callback_deliveries d WHERE d.endpoint_id = e.id) FROM callback_endpoints e";

fn endpoint_row(r: &Row<'_>) -> rusqlite::Result<Endpoint> {
    Ok(Endpoint {
        id: r.get(0)?,
        account_id: r.get(1)?,
        url: r.get(2)?,
        enabled: r.get::<_, i64>(3)? != 0,
        disabled_reason: r.get(4)?,
        disabled_at: r.get(5)?,
        failures: r.get(6)?,
        first_failure_at: r.get(7)?,
        last_error: r.get(8)?,
        last_attempt_at: r.get(9)?,
        last_success_at: r.get(10)?,
        delivered: r.get(11)?,
        due_at: r.get(12)?,
        pending: r.get(13)?,
    })
}

fn endpoint(c: &Connection, id: i64) -> Result<Option<Endpoint>> {
    Ok(
        c.prepare_cached(&format!("{ENDPOINT_SELECT} WHERE e.id = ?1"))?
            .query_row([id], endpoint_row)
            .optional()?,
    )
}

fn secret(c: &Connection, cipher: &Cipher, account_id: i64, now: i64) -> Result<Secret> {
    let sealed: Option<Vec<u8>> = c
        .prepare_cached("SELECT secret_sealed FROM callback_secrets WHERE account_id = ?1")?
        .query_row([account_id], |r| r.get(0))
        .optional()?;
    if let Some(sealed) = sealed {
        return cipher.open(&callback_secret_aad(account_id), &sealed);
    }
    let plain = new_callback_secret();
    let sealed = cipher.seal(&callback_secret_aad(account_id), &plain)?;
    c.prepare_cached(
        "INSERT INTO callback_secrets (account_id, secret_sealed, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![account_id, sealed, now])?;
    Ok(Secret::new(plain))
}

/// One event as routing sees it.
struct EventRef {
    id: i64,
    account_id: i64,
    kind: EventKind,
    message_id: Option<String>,
    /// Read for audits only (their template code is in it); empty for other events.
    payload: String,
    /// The space and business number of the event's message (read with the event).
    message: Option<(String, String)>,
}

/// What an event is about: its space and, for message events, the business number.
fn subject(c: &Connection, e: &EventRef) -> Result<Option<(String, Option<String>)>> {
    Ok(Some(match (e.kind, &e.message_id) {
        (EventKind::Audit, _) => {
            let Some(code) = audit_template_code(&e.payload) else {
                return Ok(None);
            };
            let space: Option<String> = c
                .prepare_cached("SELECT space_id FROM templates WHERE code = ?1 LIMIT 1")?
                .query_row([code], |r| r.get(0))
                .optional()?;
            match space {
                Some(s) => (s, None),
                None => return Ok(None),
            }
        }
        (_, Some(_)) => match &e.message {
            Some((s, p)) => (s.clone(), Some(p.clone())),
            None => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

/// Destinations already resolved in one routing pass, by (kind, space, number): a pass routes
/// up to a thousand events, mostly of the same few numbers.
type Destinations = std::collections::HashMap<(EventKind, String, Option<String>), Option<String>>;

/// The URL an event goes to (see [`callback_url`]).
fn destination(c: &Connection, e: &EventRef, seen: &mut Destinations) -> Result<Option<String>> {
    let Some((space_id, phone)) = subject(c, e)? else {
        return Ok(None);
    };
    // audits, inbound and statuses differ in the URL they take
    let key = (e.kind, space_id, phone);
    if let Some(url) = seen.get(&key) {
        return Ok(url.clone());
    }
    let url = url_for(c, e.kind, &key.1, key.2.as_deref())?;
    seen.insert(key, url.clone());
    Ok(url)
}

fn url_for(
    c: &Connection,
    kind: EventKind,
    space_id: &str,
    phone: Option<&str>,
) -> Result<Option<String>> {
    let space = setting(c, space_id, "")?;
    let number = match phone {
        Some(p) => setting(c, space_id, p)?,
        None => None,
    };
    Ok(callback_url(kind, space.as_ref(), number.as_ref()))
}

/// Puts one event in the outbox of its endpoint; false when it has no destination or is pending.
fn enqueue(c: &Connection, e: &EventRef, now: i64, seen: &mut Destinations) -> Result<bool> {
    let Some(url) = destination(c, e, seen)? else {
        return Ok(false);
    };
    c.prepare_cached(
        "INSERT INTO callback_endpoints (account_id, url, created_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (account_id, url) DO NOTHING",
    )?
    .execute(params![e.account_id, url, now])?;
    let endpoint_id: i64 = c
        .prepare_cached("SELECT id FROM callback_endpoints WHERE account_id = ?1 AND url = ?2")?
        .query_row(params![e.account_id, url], |r| r.get(0))?;
    let n = c
        .prepare_cached(
            "INSERT OR IGNORE INTO callback_deliveries (endpoint_id, event_id, enqueued_at) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![endpoint_id, e.id, now])?;
    Ok(n > 0)
}

fn event_refs(
    mut stmt: rusqlite::CachedStatement<'_>,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<EventRef>> {
    let rows = stmt.query_map(p, |r| {
        Ok(EventRef {
            id: r.get(0)?,
            account_id: r.get(1)?,
            kind: enum_col(r, 2, EventKind::parse)?,
            message_id: r.get(3)?,
            payload: r.get(4)?,
            message: match (r.get(5)?, r.get(6)?) {
                (Some(space), Some(sender)) => Some((space, sender)),
                _ => None,
            },
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn route(c: &Connection, limit: u32, now: i64) -> Result<usize> {
    let cursor: i64 = c.query_row(
        "SELECT event_id FROM callback_cursor WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    // With no callback URL set anywhere, every event's destination is none: pass over them
    // without reading them (and their messages), exactly as routing each would end
    let any_url: bool = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM webhook_settings WHERE status_url IS NOT NULL OR up_url IS NOT NULL)",
        )?
        .query_row([], |r| r.get(0))?;
    if !any_url {
        let (last, n): (Option<i64>, i64) = c
            .prepare_cached(
                "SELECT MAX(id), COUNT(*) FROM (SELECT id FROM events WHERE id > ?1 ORDER BY id LIMIT ?2)",
            )?
            .query_row(params![cursor, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if let Some(last) = last {
            c.prepare_cached("UPDATE callback_cursor SET event_id = ?1 WHERE id = 1")?
                .execute([last])?;
        }
        return Ok(n as usize);
    }
    let events = event_refs(
        c.prepare_cached(
            "SELECT e.id, e.account_id, e.kind, e.message_id, iif(e.kind = 'audit', e.payload, ''), m.space_id, m.sender \
             FROM events e LEFT JOIN messages m ON m.id = e.message_id WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
        )?,
        &[&cursor, &limit],
    )?;
    let mut seen = Destinations::new();
    for e in &events {
        enqueue(c, e, now, &mut seen)?;
    }
    if let Some(last) = events.last() {
        c.prepare_cached("UPDATE callback_cursor SET event_id = ?1 WHERE id = 1")?
            .execute([last.id])?;
    }
    Ok(events.len())
}

fn replay(c: &Connection, since: i64, account_id: Option<i64>, now: i64) -> Result<u64> {
    // only events routing has passed: later ones are routed by the cursor anyway
    let events = event_refs(
        c.prepare_cached(
            "SELECT e.id, e.account_id, e.kind, e.message_id, iif(e.kind = 'audit', e.payload, ''), m.space_id, m.sender \
             FROM events e LEFT JOIN messages m ON m.id = e.message_id WHERE e.created_at >= ?1 \
             AND (?2 IS NULL OR e.account_id = ?2) AND e.id <= (SELECT event_id FROM callback_cursor WHERE id = 1) ORDER BY e.id",
        )?,
        &[&since, &account_id],
    )?;
    let mut n = 0;
    let mut seen = Destinations::new();
    for e in &events {
        if enqueue(c, e, now, &mut seen)? {
            n += 1;
        }
    }
    Ok(n)
}

fn claim(
    c: &Connection,
    cipher: &Cipher,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: u32,
    batch: u32,
) -> Result<Vec<ClaimedEndpoint>> {
    let ids: Vec<i64> = c
        .prepare_cached(
            "UPDATE callback_endpoints SET lease_owner = ?1, lease_until = ?2 WHERE id IN ( \
               SELECT e.id FROM callback_endpoints e WHERE e.enabled = 1 AND e.due_at <= ?3 \
               AND (e.lease_until IS NULL OR e.lease_until <= ?3) \
               AND EXISTS (SELECT 1 FROM callback_deliveries d WHERE d.endpoint_id = e.id) \
               ORDER BY e.due_at LIMIT ?4) RETURNING id",
        )?
        .query_map(params![owner, now + lease_ms, now, limit], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(endpoint) = endpoint(c, id)? else {
            continue;
        };
        let records = c
            .prepare_cached(&format!(
                "SELECT d.event_id, e.kind, e.payload, {} FROM callback_deliveries d \
                 JOIN events e ON e.id = d.event_id \
                 LEFT JOIN messages m ON m.id = e.message_id AND e.kind = 'status' \
                 WHERE d.endpoint_id = ?1 ORDER BY d.event_id LIMIT ?2",
                MESSAGE_COLS
            ))?
            .query_map(params![id, batch], |r| {
                let kind = enum_col(r, 1, EventKind::parse)?;
                let message = message_cols(r, 3)?;
                Ok(PendingRecord {
                    event_id: r.get(0)?,
                    payload: complete(kind, r.get(2)?, message.as_ref()),
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let secret = secret(c, cipher, endpoint.account_id, now)?;
        out.push(ClaimedEndpoint {
            endpoint,
            secret,
            records,
        });
    }
    Ok(out)
}

fn remove(c: &Connection, endpoint_id: i64, event_ids: &[i64]) -> Result<()> {
    let mut del = c.prepare_cached(
        "DELETE FROM callback_deliveries WHERE endpoint_id = ?1 AND event_id = ?2",
    )?;
    for e in event_ids {
        del.execute([endpoint_id, *e])?;
    }
    Ok(())
}

/// Adds an attempt to the delivery log (nothing when it carried no event) and, on one attempt
/// in [`ATTEMPTS_PURGE_EVERY`], purges old ones; in the settle's transaction.
fn record_attempt(
    c: &Connection,
    endpoint_id: i64,
    outcome: &DeliveryOutcome,
    now: i64,
) -> Result<()> {
    let Some(a) = outcome.attempt_row() else {
        return Ok(());
    };
    c.prepare_cached(
        "INSERT INTO callback_attempts (endpoint_id, first_event_id, last_event_id, span_class, \
         event_ids, at, outcome, status, answer) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        endpoint_id,
        a.first_event_id,
        a.last_event_id,
        a.span_class,
        a.event_ids,
        now,
        a.outcome.as_str(),
        a.status,
        a.answer
    ])?;
    if c.last_insert_rowid() % ATTEMPTS_PURGE_EVERY == 0 {
        purge_attempts(c, now)?;
    }
    Ok(())
}

/// Deletes up to [`ATTEMPTS_PURGE_BATCH`] attempts older than [`ATTEMPTS_KEPT_MS`], from the
/// oldest. Ids follow time, so the candidates are the first ids of the table: a bounded read of
/// the primary key (`at < cutoff` alone would read on until the first young attempt, or to the
/// end when none is old), at the cost of leaving an attempt whose time went backwards for later.
fn purge_attempts(c: &Connection, now: i64) -> Result<usize> {
    Ok(c.prepare_cached(
        "DELETE FROM callback_attempts WHERE id IN \
             (SELECT id FROM callback_attempts ORDER BY id LIMIT ?1) AND at < ?2",
    )?
    .execute(params![
        ATTEMPTS_PURGE_BATCH,
        now.saturating_sub(ATTEMPTS_KEPT_MS)
    ])?)
}

/// The logged attempts that carried any of `event_ids`: per endpoint of the events' accounts,
/// one index range of `callback_attempts_events` per span class and group of nearby ids (see
/// [`probes`]), confirmed by each attempt's id list.
fn deliveries(c: &Connection, event_ids: &[i64]) -> Result<Vec<DeliveryAttempt>> {
    let mut accounts: Vec<i64> = Vec::new();
    let mut account_of = c.prepare_cached("SELECT account_id FROM events WHERE id = ?1")?;
    for id in event_ids {
        if let Some(a) = account_of.query_row([id], |r| r.get(0)).optional()?
            && !accounts.contains(&a)
        {
            accounts.push(a);
        }
    }
    let mut endpoints: Vec<(i64, String)> = Vec::new();
    let mut of_account =
        c.prepare_cached("SELECT id, url FROM callback_endpoints WHERE account_id = ?1")?;
    for a in accounts {
        let rows = of_account.query_map([a], |r| Ok((r.get(0)?, r.get(1)?)))?;
        endpoints.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
    }
    let mut top =
        c.prepare_cached("SELECT MAX(span_class) FROM callback_attempts WHERE endpoint_id = ?1")?;
    let mut range = c.prepare_cached(
        "SELECT id, at, outcome, status, answer, event_ids FROM callback_attempts \
         WHERE endpoint_id = ?1 AND span_class = ?2 AND first_event_id BETWEEN ?3 AND ?4 \
         AND last_event_id >= ?5",
    )?;
    let mut out = Vec::new();
    for (endpoint_id, url) in endpoints {
        let Some(max_class) = top.query_row([endpoint_id], |r| r.get::<_, Option<i64>>(0))? else {
            continue;
        };
        for p in probes(event_ids, max_class) {
            let mut rows = range.query(params![endpoint_id, p.class, p.lo, p.hi, p.min_id])?;
            while let Some(r) = rows.next()? {
                let list: String = r.get(5)?;
                let (carried, records) = carried(&list, event_ids);
                if carried.is_empty() {
                    continue;
                }
                let status = r
                    .get::<_, Option<i64>>(3)?
                    .map(|s| {
                        u16::try_from(s).map_err(|_| {
                            StoreError::Database(format!("stored HTTP status {s} is out of range"))
                        })
                    })
                    .transpose()?;
                out.push(DeliveryAttempt {
                    id: r.get(0)?,
                    endpoint_id,
                    url: url.clone(),
                    at: r.get(1)?,
                    outcome: enum_col(r, 2, AttemptOutcome::parse)?,
                    status,
                    answer: r.get(4)?,
                    event_ids: carried,
                    records,
                });
            }
        }
    }
    Ok(latest_attempts(out))
}

fn settle(
    c: &Connection,
    id: i64,
    owner: &str,
    outcome: &DeliveryOutcome,
    now: i64,
) -> Result<Option<Endpoint>> {
    let held: Option<String> = c
        .prepare_cached("SELECT lease_owner FROM callback_endpoints WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .flatten();
    if held.as_deref() != Some(owner) {
        return Ok(None);
    }
    record_attempt(c, id, outcome, now)?;
    match outcome {
        DeliveryOutcome::Delivered { event_ids, .. } => {
            remove(c, id, event_ids)?;
            c.prepare_cached(
                "UPDATE callback_endpoints SET failures = 0, first_failure_at = NULL, last_error = NULL, \
                 last_attempt_at = ?1, last_success_at = ?1, delivered = delivered + ?2, due_at = ?1, \
                 lease_owner = NULL, lease_until = NULL WHERE id = ?3",
            )?
            .execute(params![now, event_ids.len() as i64, id])?;
        }
        DeliveryOutcome::Dropped { event_ids, reason } => {
            remove(c, id, event_ids)?;
            c.prepare_cached(
                "UPDATE callback_endpoints SET last_error = ?1, lease_owner = NULL, lease_until = NULL WHERE id = ?2",
            )?
            .execute(params![reason, id])?;
        }
        DeliveryOutcome::Failed {
            error,
            retry_at,
            disable_after,
            disable_span_ms,
            ..
        } => {
            c.prepare_cached(
                "UPDATE callback_endpoints SET failures = failures + 1, first_failure_at = COALESCE(first_failure_at, ?1), \
                 last_error = ?2, last_attempt_at = ?1, due_at = ?3, lease_owner = NULL, lease_until = NULL WHERE id = ?4",
            )?
            .execute(params![now, error, retry_at, id])?;
            let (failures, first): (i64, i64) = c
                .prepare_cached(
                    "SELECT failures, COALESCE(first_failure_at, ?2) FROM callback_endpoints WHERE id = ?1",
                )?
                .query_row(params![id, now], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if let Some(reason) = disable_reason(
                failures,
                first,
                now,
                *disable_after,
                *disable_span_ms,
                error,
            ) {
                c.prepare_cached(
                    "UPDATE callback_endpoints SET enabled = 0, disabled_reason = ?1, disabled_at = ?2 WHERE id = ?3",
                )?
                .execute(params![reason, now, id])?;
            }
        }
    }
    endpoint(c, id)
}

pub(super) fn events_after(c: &Connection, after: i64, limit: u32) -> Result<Vec<EventRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT e.id, e.account_id, e.kind, e.message_id, e.payload, e.created_at, {} \
         FROM events e LEFT JOIN messages m ON m.id = e.message_id AND e.kind = 'status' \
         WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
        MESSAGE_COLS
    ))?;
    collect_events(stmt.query(params![after, limit])?)
}

pub(super) fn message_events(c: &Connection, message_id: &str) -> Result<Vec<EventRow>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT e.id, e.account_id, e.kind, e.message_id, e.payload, e.created_at, {} \
         FROM events e LEFT JOIN messages m ON m.id = e.message_id AND e.kind = 'status' \
         WHERE e.message_id = ?1 ORDER BY e.id",
        MESSAGE_COLS
    ))?;
    collect_events(stmt.query([message_id])?)
}

/// Events with their message's columns after theirs; status payloads come out completed.
fn collect_events(rows: rusqlite::Rows<'_>) -> Result<Vec<EventRow>> {
    let rows = rows.mapped(|r| {
        let kind = enum_col(r, 2, EventKind::parse)?;
        let message = message_cols(r, 6)?;
        Ok(EventRow {
            id: r.get(0)?,
            account_id: r.get(1)?,
            message_id: r.get(3)?,
            payload: complete(kind, r.get(4)?, message.as_ref()),
            created_at: r.get(5)?,
            kind,
        })
    });
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The message columns [`complete`] needs, selected as `m` joined to status events only:
/// `… FROM events e LEFT JOIN messages m ON m.id = e.message_id AND e.kind = 'status'`.
const MESSAGE_COLS: &str = "m.id, m.account_id, m.sender, m.recipient, m.send_type, \
     m.message_type, m.task_id, m.template_code, m.template_name, m.language, m.tag, m.tracking_data";

/// Reads [`MESSAGE_COLS`] from `r` starting at column `at`; `None` when the event has no message.
fn message_cols(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Option<MessageRow>> {
    let Some(id) = r.get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(MessageRow {
        id,
        account_id: r.get(at + 1)?,
        sender: r.get(at + 2)?,
        recipient: r.get(at + 3)?,
        send_type: enum_col(r, at + 4, SendType::parse)?,
        message_type: r.get(at + 5)?,
        task_id: r.get(at + 6)?,
        template_code: r.get(at + 7)?,
        template_name: r.get(at + 8)?,
        language: r.get(at + 9)?,
        tag: r.get(at + 10)?,
        tracking_data: r.get(at + 11)?,
        ..Default::default()
    }))
}

pub(super) fn insert_event(c: &Connection, e: &NewEvent, now: i64) -> Result<()> {
    c.prepare_cached("INSERT INTO events (account_id, kind, message_id, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?
        .execute(params![e.account_id, e.kind.as_str(), e.message_id, e.payload, now])?;
    Ok(())
}

#[async_trait::async_trait]
impl EventStore for SqliteStore {
    async fn events_after(&self, after_id: i64, limit: u32) -> Result<Vec<EventRow>> {
        self.read(move |c, _| events_after(c, after_id, limit))
            .await
    }

    async fn message_events(&self, message_id: &str) -> Result<Vec<EventRow>> {
        let id = message_id.to_string();
        self.read(move |c, _| message_events(c, &id)).await
    }

    async fn set_webhook(&self, u: WebhookUpdate, now: i64) -> Result<WebhookSetting> {
        self.write(move |c, _| {
            c.prepare_cached(
                "INSERT INTO webhook_settings (space_id, phone, account_id, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (space_id, phone) DO NOTHING",
            )?
            .execute(params![u.space_id, u.phone, u.account_id, now])?;
            let set = |col: &str, v: &dyn rusqlite::ToSql| -> Result<()> {
                c.execute(
                    &format!("UPDATE webhook_settings SET {col} = ?1, updated_at = ?2 WHERE space_id = ?3 AND phone = ?4"),
                    params![v, now, u.space_id, u.phone],
                )?;
                Ok(())
            };
            if let Some(v) = &u.status_url {
                set("status_url", v)?;
            }
            if let Some(v) = &u.up_url {
                set("up_url", v)?;
            }
            if let Some(v) = u.http_flag {
                set("http_flag", &(v as i64))?;
            }
            if let Some(v) = u.queue_flag {
                set("queue_flag", &(v as i64))?;
            }
            setting(c, &u.space_id, &u.phone)?
                .ok_or_else(|| StoreError::NotFound(format!("webhook setting of {}", u.space_id)))
        })
        .await
    }

    async fn webhooks(&self, space_id: &str) -> Result<Vec<WebhookSetting>> {
        let space_id = space_id.to_string();
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {SETTING_COLS} FROM webhook_settings WHERE space_id = ?1 ORDER BY phone"
            ))?;
            let rows = stmt.query_map([space_id], setting_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn callback_secret(&self, account_id: i64, now: i64) -> Result<Secret> {
        self.write(move |c, cipher| secret(c, cipher, account_id, now))
            .await
    }

    async fn route_events(&self, limit: u32, now: i64) -> Result<usize> {
        self.write(move |c, _| route(c, limit, now)).await
    }

    async fn replay_events(&self, since_ms: i64, account_id: Option<i64>, now: i64) -> Result<u64> {
        self.write(move |c, _| replay(c, since_ms, account_id, now))
            .await
    }

    async fn claim_endpoints(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
        batch: u32,
    ) -> Result<Vec<ClaimedEndpoint>> {
        let owner = owner.to_string();
        self.write(move |c, cipher| claim(c, cipher, &owner, now, lease_ms, limit, batch))
            .await
    }

    async fn settle_endpoint(
        &self,
        endpoint_id: i64,
        owner: &str,
        outcome: DeliveryOutcome,
        now: i64,
    ) -> Result<Option<Endpoint>> {
        let owner = owner.to_string();
        self.write(move |c, _| settle(c, endpoint_id, &owner, &outcome, now))
            .await
    }

    async fn message_deliveries(&self, event_ids: &[i64]) -> Result<Vec<DeliveryAttempt>> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = event_ids.to_vec();
        self.read(move |c, _| deliveries(c, &ids)).await
    }

    async fn list_endpoints(&self, account_id: Option<i64>) -> Result<Vec<Endpoint>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(&format!(
                "{ENDPOINT_SELECT} WHERE ?1 IS NULL OR e.account_id = ?1 ORDER BY e.id"
            ))?;
            let rows = stmt.query_map([account_id], endpoint_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn enable_endpoints(&self, url: &str, account_id: Option<i64>, now: i64) -> Result<u64> {
        let url = url.to_string();
        self.write(move |c, _| {
            let n = c.execute(
                "UPDATE callback_endpoints SET enabled = 1, disabled_reason = NULL, disabled_at = NULL, \
                 failures = 0, first_failure_at = NULL, due_at = ?1 WHERE url = ?2 AND (?3 IS NULL OR account_id = ?3)",
                params![now, url, account_id],
            )?;
            Ok(n as u64)
        })
        .await
    }
}
