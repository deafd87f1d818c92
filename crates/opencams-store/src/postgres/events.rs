//! The event log and callback delivery on PostgreSQL: events read back (status events completed
//! from their message), webhook settings, callback signing secrets, the callback outbox.
//!
//! The outbox is fed from the event log by one cursor shared by every node: routing locks it
//! first (`FOR UPDATE`), so two nodes never route the same events, and it stops at a missing
//! id until the id is committed or every transaction that might commit it has ended (see
//! [`routable`]), so the cursor never passes an id committed later. Routing an event resolves its destination (number setting over space setting) and
//! inserts one pending delivery per (endpoint, event); a pass resolves all its events with a few
//! set-wise statements rather than a round trip per event.
//!
//! Endpoints are leased (`FOR UPDATE SKIP LOCKED`) to one node at a time, which is what keeps an
//! endpoint's callbacks in event order, one batch at a time, across the cluster; only the lease
//! holder settles, and its settle logs the attempt (`callback_attempts`) in the same transaction.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use opencams_domain::{EventKind, SendType};

use super::{Client, PgStore, enum_col};
use crate::common::{
    audit_template_code, callback_secret_aad, callback_url, disable_reason, new_callback_secret,
};
use crate::events::complete;
use crate::*;

const SETTING_COLS: &str =
    "space_id, phone, account_id, status_url, up_url, http_flag, queue_flag, updated_at";

fn setting_row(r: &Row) -> Result<WebhookSetting> {
    Ok(WebhookSetting {
        space_id: r.try_get(0)?,
        phone: r.try_get(1)?,
        account_id: r.try_get(2)?,
        status_url: r.try_get(3)?,
        up_url: r.try_get(4)?,
        http_flag: r.try_get(5)?,
        queue_flag: r.try_get(6)?,
        updated_at: r.try_get(7)?,
    })
}

/// An endpoint's columns with its pending count, selected as `e`.
const ENDPOINT_COLS: &str = "e.id, e.account_id, e.url, e.enabled, e.disabled_reason, e.disabled_at, \
     e.failures, e.first_failure_at, e.last_error, e.last_attempt_at, e.last_success_at, e.delivered, e.due_at, \
     (SELECT COUNT(*) FROM callback_deliveries d WHERE d.endpoint_id = e.id)";

fn endpoint_row(r: &Row) -> Result<Endpoint> {
    Ok(Endpoint {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        url: r.try_get(2)?,
        enabled: r.try_get(3)?,
        disabled_reason: r.try_get(4)?,
        disabled_at: r.try_get(5)?,
        failures: r.try_get(6)?,
        first_failure_at: r.try_get(7)?,
        last_error: r.try_get(8)?,
        last_attempt_at: r.try_get(9)?,
        last_success_at: r.try_get(10)?,
        delivered: r.try_get(11)?,
        due_at: r.try_get(12)?,
        pending: r.try_get(13)?,
    })
}

async fn endpoint(c: &impl GenericClient, id: i64) -> Result<Option<Endpoint>> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {ENDPOINT_COLS} FROM callback_endpoints e WHERE e.id = $1"
        ))
        .await?;
    c.query_opt(&stmt, &[&id])
        .await?
        .map(|r| endpoint_row(&r))
        .transpose()
}

/// The account's callback secret, created on first use. Two nodes asking at once both insert;
/// the first insert stays and every node hands out that one.
async fn secret(c: &Client, cipher: &Cipher, account_id: i64, now: i64) -> Result<Secret> {
    let aad = callback_secret_aad(account_id);
    let read = c
        .prepare_cached("SELECT secret_sealed FROM callback_secrets WHERE account_id = $1")
        .await?;
    if let Some(row) = c.query_opt(&read, &[&account_id]).await? {
        return cipher.open(&aad, row.try_get(0)?);
    }
    let plain = new_callback_secret();
    let sealed = cipher.seal(&aad, &plain)?;
    let insert = c
        .prepare_cached(
            "INSERT INTO callback_secrets (account_id, secret_sealed, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (account_id) DO NOTHING",
        )
        .await?;
    if c.execute(&insert, &[&account_id, &sealed, &now]).await? == 1 {
        return Ok(Secret::new(plain));
    }
    // another node created it first: theirs is the secret
    let row = c.query_one(&read, &[&account_id]).await?;
    cipher.open(&aad, row.try_get(0)?)
}

/// What an event is about, as far as routing needs to know.
enum Subject {
    /// An audit: its template's space (looked up by template code).
    Template(String),
    /// A message event: its message's space and business number.
    Message { space: String, phone: String },
    /// Nothing routing can send anywhere.
    Nothing,
}

/// One event as routing sees it.
struct EventRef {
    id: i64,
    account_id: i64,
    kind: EventKind,
    subject: Subject,
}

/// The events routing reads, with the space and sender of their message (payloads of audits only:
/// their template code is in it).
const ROUTE_SELECT: &str = "SELECT e.id, e.account_id, e.kind, e.message_id IS NOT NULL, \
     CASE WHEN e.kind = 'audit' THEN e.payload ELSE '' END, m.space_id, m.sender \
     FROM events e LEFT JOIN messages m ON m.id = e.message_id";

fn event_ref(r: &Row) -> Result<EventRef> {
    let kind = enum_col(r, 2, EventKind::parse)?;
    let has_message: bool = r.try_get(3)?;
    let subject = if kind == EventKind::Audit {
        audit_template_code(r.try_get(4)?).map_or(Subject::Nothing, Subject::Template)
    } else if has_message {
        match (r.try_get(5)?, r.try_get(6)?) {
            (Some(space), Some(phone)) => Subject::Message { space, phone },
            _ => Subject::Nothing,
        }
    } else {
        Subject::Nothing
    };
    Ok(EventRef {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        kind,
        subject,
    })
}

/// Puts each event in the outbox of its endpoint (creating endpoints as needed); events with no
/// destination, or already pending there, are passed over. Returns how many deliveries were
/// enqueued.
async fn enqueue(tx: &Transaction<'_>, events: &[EventRef], now: i64) -> Result<u64> {
    // the spaces of audits' templates
    let mut codes: Vec<&str> = Vec::new();
    for e in events {
        if let Subject::Template(code) = &e.subject
            && !codes.contains(&code.as_str())
        {
            codes.push(code);
        }
    }
    let mut template_space: HashMap<String, String> = HashMap::new();
    if !codes.is_empty() {
        let stmt = tx
            .prepare_cached(
                "SELECT DISTINCT ON (code) code, space_id FROM templates WHERE code = ANY($1) \
                 ORDER BY code, id",
            )
            .await?;
        for r in tx.query(&stmt, &[&codes]).await? {
            template_space.insert(r.try_get(0)?, r.try_get(1)?);
        }
    }
    // each event's (space, business number)
    let subjects: Vec<Option<(&str, Option<&str>)>> = events
        .iter()
        .map(|e| match &e.subject {
            Subject::Template(code) => template_space.get(code).map(|s| (s.as_str(), None)),
            Subject::Message { space, phone } => Some((space.as_str(), Some(phone.as_str()))),
            Subject::Nothing => None,
        })
        .collect();
    let mut wanted: HashSet<(&str, &str)> = HashSet::new();
    for (space, phone) in subjects.iter().flatten() {
        wanted.insert((space, ""));
        if let Some(p) = phone {
            wanted.insert((space, p));
        }
    }
    if wanted.is_empty() {
        return Ok(0);
    }
    // the settings of those spaces and numbers, by space then number ("" for the space's own)
    let (spaces, phones): (Vec<&str>, Vec<&str>) = wanted.into_iter().unzip();
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {SETTING_COLS} FROM webhook_settings \
             WHERE (space_id, phone) IN (SELECT * FROM UNNEST($1::text[], $2::text[]))"
        ))
        .await?;
    let mut settings: HashMap<String, HashMap<String, WebhookSetting>> = HashMap::new();
    for r in tx.query(&stmt, &[&spaces, &phones]).await? {
        let s = setting_row(&r)?;
        settings
            .entry(s.space_id.clone())
            .or_default()
            .insert(s.phone.clone(), s);
    }
    // each event's URL; endpoints in the order their first event names them
    let mut endpoints: Vec<(i64, String)> = Vec::new();
    let mut endpoint_at: HashMap<(i64, String), usize> = HashMap::new();
    let mut deliveries: Vec<(usize, i64)> = Vec::new();
    for (e, subject) in events.iter().zip(&subjects) {
        let Some((space, phone)) = subject else {
            continue;
        };
        let of_space = settings.get(*space);
        let space_setting = of_space.and_then(|m| m.get(""));
        let number_setting = phone.and_then(|p| of_space.and_then(|m| m.get(p)));
        let Some(url) = callback_url(e.kind, space_setting, number_setting) else {
            continue;
        };
        let key = (e.account_id, url);
        let at = match endpoint_at.get(&key) {
            Some(at) => *at,
            None => {
                endpoint_at.insert(key.clone(), endpoints.len());
                endpoints.push(key);
                endpoints.len() - 1
            }
        };
        deliveries.push((at, e.id));
    }
    if deliveries.is_empty() {
        return Ok(0);
    }

    let accounts: Vec<i64> = endpoints.iter().map(|(a, _)| *a).collect();
    let urls: Vec<&str> = endpoints.iter().map(|(_, u)| u.as_str()).collect();
    let (insert, select) = tokio::join!(
        tx.prepare_cached(
            "INSERT INTO callback_endpoints (account_id, url, created_at) \
             SELECT a, u, $3 FROM UNNEST($1::bigint[], $2::text[]) WITH ORDINALITY AS t(a, u, n) \
             ORDER BY n ON CONFLICT (account_id, url) DO NOTHING",
        ),
        tx.prepare_cached(
            "SELECT e.id, e.account_id, e.url FROM callback_endpoints e \
             JOIN UNNEST($1::bigint[], $2::text[]) AS k(a, u) ON e.account_id = k.a AND e.url = k.u",
        ),
    );
    let (insert, select) = (insert?, select?);
    let (ins_params, sel_params): ([&(dyn ToSql + Sync); 3], [&(dyn ToSql + Sync); 2]) =
        ([&accounts, &urls, &now], [&accounts, &urls]);
    // pipelined: the select runs after the insert, and sees the endpoints it made
    let (inserted, found) = tokio::join!(
        tx.execute(&insert, &ins_params),
        tx.query(&select, &sel_params)
    );
    inserted?;
    let mut ids: HashMap<(i64, String), i64> = HashMap::new();
    for r in found? {
        ids.insert((r.try_get(1)?, r.try_get(2)?), r.try_get(0)?);
    }
    let mut endpoint_ids = Vec::with_capacity(deliveries.len());
    let mut event_ids = Vec::with_capacity(deliveries.len());
    for (at, event_id) in deliveries {
        let id = ids.get(&endpoints[at]).copied().ok_or_else(|| {
            StoreError::Database(format!("callback endpoint {} vanished", endpoints[at].1))
        })?;
        endpoint_ids.push(id);
        event_ids.push(event_id);
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO callback_deliveries (endpoint_id, event_id, enqueued_at) \
             SELECT d, v, $3 FROM UNNEST($1::bigint[], $2::bigint[]) AS t(d, v) \
             ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .await?;
    Ok(tx
        .execute(&stmt, &[&endpoint_ids, &event_ids, &now])
        .await?)
}

/// The message columns [`complete`] needs, selected as `m` joined to status events only:
/// `… LEFT JOIN messages m ON m.id = e.message_id AND e.kind = 'status'`.
const MESSAGE_COLS: &str = "m.id, m.account_id, m.sender, m.recipient, m.send_type, \
     m.message_type, m.task_id, m.template_code, m.template_name, m.language, m.tag, m.tracking_data";

/// Reads [`MESSAGE_COLS`] from `r` starting at column `at`; `None` when the event has no message.
fn message_cols(r: &Row, at: usize) -> Result<Option<MessageRow>> {
    let Some(id) = r.try_get::<_, Option<String>>(at)? else {
        return Ok(None);
    };
    Ok(Some(MessageRow {
        id,
        account_id: r.try_get(at + 1)?,
        sender: r.try_get(at + 2)?,
        recipient: r.try_get(at + 3)?,
        send_type: enum_col(r, at + 4, SendType::parse)?,
        message_type: r.try_get(at + 5)?,
        task_id: r.try_get(at + 6)?,
        template_code: r.try_get(at + 7)?,
        template_name: r.try_get(at + 8)?,
        language: r.try_get(at + 9)?,
        tag: r.try_get(at + 10)?,
        tracking_data: r.try_get(at + 11)?,
        ..Default::default()
    }))
}

/// An event with its message's columns after its own; a status payload comes out completed.
fn event_row(r: &Row) -> Result<EventRow> {
    let kind = enum_col(r, 2, EventKind::parse)?;
    let message = message_cols(r, 6)?;
    Ok(EventRow {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        message_id: r.try_get(3)?,
        payload: complete(kind, r.try_get(4)?, message.as_ref()),
        created_at: r.try_get(5)?,
        kind,
    })
}

async fn remove(tx: &Transaction<'_>, endpoint_id: i64, event_ids: &[i64]) -> Result<()> {
    let stmt = tx
        .prepare_cached(
            "DELETE FROM callback_deliveries WHERE endpoint_id = $1 AND event_id = ANY($2)",
        )
        .await?;
    tx.execute(&stmt, &[&endpoint_id, &event_ids]).await?;
    Ok(())
}

/// Adds an attempt to the delivery log (nothing when it carried no event) and, on one attempt
/// in [`ATTEMPTS_PURGE_EVERY`], purges old ones; in the settle's transaction.
async fn record_attempt(
    tx: &Transaction<'_>,
    endpoint_id: i64,
    outcome: &DeliveryOutcome,
    now: i64,
) -> Result<()> {
    let Some(a) = outcome.attempt_row() else {
        return Ok(());
    };
    let stmt = tx
        .prepare_cached(
            "INSERT INTO callback_attempts (endpoint_id, first_event_id, last_event_id, span_class, \
             event_ids, at, outcome, status, answer) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id",
        )
        .await?;
    let params: [&(dyn ToSql + Sync); 9] = [
        &endpoint_id,
        &a.first_event_id,
        &a.last_event_id,
        &a.span_class,
        &a.event_ids,
        &now,
        &a.outcome.as_str(),
        &a.status,
        &a.answer,
    ];
    let id: i64 = tx.query_one(&stmt, &params).await?.try_get(0)?;
    if id % ATTEMPTS_PURGE_EVERY == 0 {
        purge_attempts(tx, now).await?;
    }
    Ok(())
}

/// Deletes up to [`ATTEMPTS_PURGE_BATCH`] attempts older than [`ATTEMPTS_KEPT_MS`], from the
/// oldest. Ids follow time, so the candidates are the first ids of the table: a bounded read of
/// the primary key (`at < cutoff` alone would read on until the first young attempt, or to the
/// end when none is old). Rows another node's purge is deleting are skipped, not waited for.
async fn purge_attempts(tx: &Transaction<'_>, now: i64) -> Result<u64> {
    let stmt = tx
        .prepare_cached(
            "DELETE FROM callback_attempts WHERE id IN ( \
               SELECT id FROM callback_attempts \
               WHERE id IN (SELECT id FROM callback_attempts ORDER BY id LIMIT $1) AND at < $2 \
               FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    let cutoff = now.saturating_sub(ATTEMPTS_KEPT_MS);
    Ok(tx.execute(&stmt, &[&ATTEMPTS_PURGE_BATCH, &cutoff]).await?)
}

/// Records an attempt's outcome; the caller holds the endpoint's lease (and its row lock).
async fn settle(
    tx: &Transaction<'_>,
    id: i64,
    outcome: &DeliveryOutcome,
    now: i64,
) -> Result<Option<Endpoint>> {
    match outcome {
        DeliveryOutcome::Delivered { event_ids, .. } => {
            remove(tx, id, event_ids).await?;
            let delivered = i64::try_from(event_ids.len()).unwrap_or(i64::MAX);
            let stmt = tx
                .prepare_cached(
                    "UPDATE callback_endpoints SET failures = 0, first_failure_at = NULL, last_error = NULL, \
                     last_attempt_at = $1, last_success_at = $1, delivered = delivered + $2, due_at = $1, \
                     lease_owner = NULL, lease_until = NULL WHERE id = $3",
                )
                .await?;
            tx.execute(&stmt, &[&now, &delivered, &id]).await?;
        }
        DeliveryOutcome::Dropped { event_ids, reason } => {
            remove(tx, id, event_ids).await?;
            let stmt = tx
                .prepare_cached(
                    "UPDATE callback_endpoints SET last_error = $1, lease_owner = NULL, lease_until = NULL \
                     WHERE id = $2",
                )
                .await?;
            tx.execute(&stmt, &[reason, &id]).await?;
        }
        DeliveryOutcome::Failed {
            error,
            retry_at,
            disable_after,
            disable_span_ms,
            ..
        } => {
            let stmt = tx
                .prepare_cached(
                    "UPDATE callback_endpoints SET failures = failures + 1, \
                     first_failure_at = COALESCE(first_failure_at, $1), last_error = $2, last_attempt_at = $1, \
                     due_at = $3, lease_owner = NULL, lease_until = NULL WHERE id = $4 \
                     RETURNING failures, first_failure_at",
                )
                .await?;
            let row = tx.query_one(&stmt, &[&now, error, retry_at, &id]).await?;
            let failures: i64 = row.try_get(0)?;
            let first = row.try_get::<_, Option<i64>>(1)?.unwrap_or(now);
            if let Some(reason) = disable_reason(
                failures,
                first,
                now,
                *disable_after,
                *disable_span_ms,
                error,
            ) {
                let stmt = tx
                    .prepare_cached(
                        "UPDATE callback_endpoints SET enabled = FALSE, disabled_reason = $1, disabled_at = $2 \
                         WHERE id = $3",
                    )
                    .await?;
                tx.execute(&stmt, &[&reason, &now, &id]).await?;
            }
        }
    }
    endpoint(tx, id).await
}

/// The first missing event id after the cursor, as the router last saw it: `closed` once every
/// transaction that was running when it was first seen has ended (so the id was rolled back, or
/// is visible by now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gap {
    id: Option<i64>,
    closed: bool,
}

/// How many of `events` (ids after `cursor`, ascending) may be routed now, and the gap routing
/// stops at (`None`: none). Event ids come from a sequence, handed out before commit: a missing
/// id may still be committed by a transaction in flight, so routing stops there rather than pass
/// it, until it is seen or the gap is known closed (the transactions that might hold it ended).
/// No global lock orders the writers, and the cursor never skips an event.
fn routable(cursor: i64, gap: Gap, events: &[EventRef]) -> (usize, Option<i64>) {
    for (n, (e, expected)) in events.iter().zip(cursor + 1..).enumerate() {
        if e.id == expected {
            continue;
        }
        if !(gap.closed && gap.id == Some(expected)) {
            return (n, Some(expected));
        }
        // a closed gap is passed once; a second gap after it is seen anew
        return match events[n + 1..]
            .iter()
            .zip(e.id + 1..)
            .position(|(next, want)| next.id != want)
        {
            Some(more) => (n + 1 + more, Some(events[n + more].id + 1)),
            None => (events.len(), None),
        };
    }
    (events.len(), None)
}

#[async_trait::async_trait]
impl EventStore for PgStore {
    async fn events_after(&self, after_id: i64, limit: u32) -> Result<Vec<EventRow>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT e.id, e.account_id, e.kind, e.message_id, e.payload, e.created_at, {MESSAGE_COLS} \
                 FROM events e LEFT JOIN messages m ON m.id = e.message_id AND e.kind = 'status' \
                 WHERE e.id > $1 ORDER BY e.id LIMIT $2"
            ))
            .await?;
        c.query(&stmt, &[&after_id, &i64::from(limit)])
            .await?
            .iter()
            .map(event_row)
            .collect()
    }

    async fn message_events(&self, message_id: &str) -> Result<Vec<EventRow>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT e.id, e.account_id, e.kind, e.message_id, e.payload, e.created_at, {MESSAGE_COLS} \
                 FROM events e LEFT JOIN messages m ON m.id = e.message_id AND e.kind = 'status' \
                 WHERE e.message_id = $1 ORDER BY e.id"
            ))
            .await?;
        c.query(&stmt, &[&message_id])
            .await?
            .iter()
            .map(event_row)
            .collect()
    }

    async fn set_webhook(&self, u: WebhookUpdate, now: i64) -> Result<WebhookSetting> {
        let c = self.client().await?;
        // one statement: a new row takes the given fields; an existing one changes only those
        // given (and its update time only when some is)
        let stmt = c
            .prepare_cached(&format!(
                "INSERT INTO webhook_settings \
                 (space_id, phone, account_id, status_url, up_url, http_flag, queue_flag, updated_at) \
                 VALUES ($1, $2, $3, $5, $7, $8, $9, $10) \
                 ON CONFLICT (space_id, phone) DO UPDATE SET \
                 status_url = CASE WHEN $4 THEN EXCLUDED.status_url ELSE webhook_settings.status_url END, \
                 up_url = CASE WHEN $6 THEN EXCLUDED.up_url ELSE webhook_settings.up_url END, \
                 http_flag = COALESCE(EXCLUDED.http_flag, webhook_settings.http_flag), \
                 queue_flag = COALESCE(EXCLUDED.queue_flag, webhook_settings.queue_flag), \
                 updated_at = CASE WHEN $4 OR $6 OR EXCLUDED.http_flag IS NOT NULL \
                   OR EXCLUDED.queue_flag IS NOT NULL THEN EXCLUDED.updated_at \
                   ELSE webhook_settings.updated_at END \
                 RETURNING {SETTING_COLS}"
            ))
            .await?;
        let set_status = u.status_url.is_some();
        let set_up = u.up_url.is_some();
        let status_url = u.status_url.clone().flatten();
        let up_url = u.up_url.clone().flatten();
        let params: [&(dyn ToSql + Sync); 10] = [
            &u.space_id,
            &u.phone,
            &u.account_id,
            &set_status,
            &status_url,
            &set_up,
            &up_url,
            &u.http_flag,
            &u.queue_flag,
            &now,
        ];
        match c.query_opt(&stmt, &params).await? {
            Some(r) => setting_row(&r),
            None => Err(StoreError::NotFound(format!(
                "webhook setting of {}",
                u.space_id
            ))),
        }
    }

    async fn webhooks(&self, space_id: &str) -> Result<Vec<WebhookSetting>> {
        let c = self.client().await?;
        // byte order, as SQLite sorts
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {SETTING_COLS} FROM webhook_settings WHERE space_id = $1 ORDER BY phone COLLATE \"C\""
            ))
            .await?;
        c.query(&stmt, &[&space_id])
            .await?
            .iter()
            .map(setting_row)
            .collect()
    }

    async fn callback_secret(&self, account_id: i64, now: i64) -> Result<Secret> {
        let c = self.client().await?;
        secret(&c, &self.cipher, account_id, now).await
    }

    async fn route_events(&self, limit: u32, now: i64) -> Result<usize> {
        let limit = i64::from(limit);
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let (lock, any) = tokio::join!(
            tx.prepare_cached(
                "SELECT event_id, gap_id, \
                   pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= gap_xmax \
                 FROM callback_cursor WHERE id = 1 FOR UPDATE"
            ),
            tx.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM webhook_settings WHERE status_url IS NOT NULL OR up_url IS NOT NULL)",
            ),
        );
        let (lock, any) = (lock?, any?);
        // pipelined: the cursor is locked (routers on other nodes wait here) before the check
        let (cursor, any_url) = tokio::join!(tx.query_one(&lock, &[]), tx.query_one(&any, &[]));
        let cursor = cursor?;
        let gap = Gap {
            id: cursor.try_get(1)?,
            closed: cursor.try_get::<_, Option<bool>>(2)?.unwrap_or(false),
        };
        let cursor: i64 = cursor.try_get(0)?;
        let any_url: bool = any_url?.try_get(0)?;
        // With no callback URL set anywhere, every event's destination is none: pass over them
        // without reading them (and their messages), exactly as routing each would end
        let events = if any_url {
            let stmt = tx
                .prepare_cached(&format!(
                    "{ROUTE_SELECT} WHERE e.id > $1 ORDER BY e.id LIMIT $2"
                ))
                .await?;
            tx.query(&stmt, &[&cursor, &limit])
                .await?
                .iter()
                .map(event_ref)
                .collect::<Result<Vec<_>>>()?
        } else {
            let stmt = tx
                .prepare_cached("SELECT id FROM events WHERE id > $1 ORDER BY id LIMIT $2")
                .await?;
            tx.query(&stmt, &[&cursor, &limit])
                .await?
                .iter()
                .map(|r| {
                    Ok(EventRef {
                        id: r.try_get(0)?,
                        account_id: 0,
                        kind: EventKind::Status,
                        subject: Subject::Nothing,
                    })
                })
                .collect::<Result<Vec<_>>>()?
        };
        let (ready, open_gap) = routable(cursor, gap, &events);
        let events = &events[..ready];
        let last = events.last().map_or(cursor, |e| e.id);
        let stmt = tx
            .prepare_cached(
                "UPDATE callback_cursor SET event_id = $1, gap_id = $2, \
                   gap_xmax = CASE WHEN $2::bigint IS NULL THEN NULL \
                     WHEN gap_id IS NOT DISTINCT FROM $2 THEN gap_xmax \
                     ELSE pg_snapshot_xmax(pg_current_snapshot())::text::bigint END \
                 WHERE id = 1",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 2] = [&last, &open_gap];
        if any_url && !events.is_empty() {
            // pipelined with the routing's first statements (the transaction commits both)
            let (moved, enqueued) =
                tokio::join!(tx.execute(&stmt, &params), enqueue(&tx, events, now));
            moved?;
            enqueued?;
        } else {
            tx.execute(&stmt, &params).await?;
        }
        tx.commit().await?;
        Ok(events.len())
    }

    async fn replay_events(&self, since_ms: i64, account_id: Option<i64>, now: i64) -> Result<u64> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // only events routing has passed: later ones are routed by the cursor anyway
        let stmt = tx
            .prepare_cached(&format!(
                "{ROUTE_SELECT} WHERE e.created_at >= $1 AND ($2::bigint IS NULL OR e.account_id = $2) \
                 AND e.id <= (SELECT event_id FROM callback_cursor WHERE id = 1) ORDER BY e.id"
            ))
            .await?;
        let events = tx
            .query(&stmt, &[&since_ms, &account_id])
            .await?
            .iter()
            .map(event_ref)
            .collect::<Result<Vec<_>>>()?;
        let n = enqueue(&tx, &events, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn claim_endpoints(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
        batch: u32,
    ) -> Result<Vec<ClaimedEndpoint>> {
        let c = self.client().await?;
        // due endpoints no other node holds (locked rows are skipped, not waited for), leased in
        // the same statement
        let stmt = c
            .prepare_cached(&format!(
                "WITH due AS ( \
                   SELECT e.id FROM callback_endpoints e WHERE e.enabled AND e.due_at <= $3 \
                   AND (e.lease_until IS NULL OR e.lease_until <= $3) \
                   AND EXISTS (SELECT 1 FROM callback_deliveries d WHERE d.endpoint_id = e.id) \
                   ORDER BY e.due_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
                 UPDATE callback_endpoints e SET lease_owner = $1, lease_until = $2 \
                 FROM due WHERE e.id = due.id RETURNING {ENDPOINT_COLS}"
            ))
            .await?;
        let until = now + lease_ms;
        let mut endpoints = c
            .query(&stmt, &[&owner, &until, &now, &i64::from(limit)])
            .await?
            .iter()
            .map(endpoint_row)
            .collect::<Result<Vec<_>>>()?;
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        endpoints.sort_by_key(|e| (e.due_at, e.id));
        let ids: Vec<i64> = endpoints.iter().map(|e| e.id).collect();
        let mut accounts: Vec<i64> = endpoints.iter().map(|e| e.account_id).collect();
        accounts.sort_unstable();
        accounts.dedup();

        // the head of each claimed outbox (all in one statement) and the accounts' secrets
        let heads_sql = format!(
            "SELECT c.id, r.event_id, r.kind, r.payload, {MESSAGE_COLS} \
                 FROM UNNEST($1::bigint[]) AS c(id) CROSS JOIN LATERAL ( \
                   SELECT d.event_id, e.kind, e.payload, e.message_id FROM callback_deliveries d \
                   JOIN events e ON e.id = d.event_id WHERE d.endpoint_id = c.id \
                   ORDER BY d.event_id LIMIT $2) AS r \
                 LEFT JOIN messages m ON m.id = r.message_id AND r.kind = 'status' \
                 ORDER BY c.id, r.event_id"
        );
        let (records, secrets) = tokio::join!(
            c.prepare_cached(&heads_sql),
            c.prepare_cached(
                "SELECT account_id, secret_sealed FROM callback_secrets WHERE account_id = ANY($1)"
            ),
        );
        let (records, secrets) = (records?, secrets?);
        let batch = i64::from(batch);
        let (rec_params, sec_params): ([&(dyn ToSql + Sync); 2], [&(dyn ToSql + Sync); 1]) =
            ([&ids, &batch], [&accounts]);
        let (records, secrets) = tokio::join!(
            c.query(&records, &rec_params),
            c.query(&secrets, &sec_params)
        );
        let mut heads: HashMap<i64, Vec<PendingRecord>> = HashMap::new();
        for r in records? {
            let kind = enum_col(&r, 2, EventKind::parse)?;
            let message = message_cols(&r, 4)?;
            heads.entry(r.try_get(0)?).or_default().push(PendingRecord {
                event_id: r.try_get(1)?,
                payload: complete(kind, r.try_get(3)?, message.as_ref()),
            });
        }
        let mut keys: HashMap<i64, Secret> = HashMap::new();
        for r in secrets? {
            let account_id: i64 = r.try_get(0)?;
            let secret = self
                .cipher
                .open(&callback_secret_aad(account_id), r.try_get(1)?)?;
            keys.insert(account_id, secret);
        }
        let mut out = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let secret = match keys.get(&endpoint.account_id) {
                Some(s) => s.clone(),
                None => {
                    let s = secret(&c, &self.cipher, endpoint.account_id, now).await?;
                    keys.insert(endpoint.account_id, s.clone());
                    s
                }
            };
            out.push(ClaimedEndpoint {
                records: heads.remove(&endpoint.id).unwrap_or_default(),
                endpoint,
                secret,
            });
        }
        Ok(out)
    }

    async fn settle_endpoint(
        &self,
        endpoint_id: i64,
        owner: &str,
        outcome: DeliveryOutcome,
        now: i64,
    ) -> Result<Option<Endpoint>> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // the row stays locked to the end: no claim can take it over meanwhile
        let stmt = tx
            .prepare_cached("SELECT lease_owner FROM callback_endpoints WHERE id = $1 FOR UPDATE")
            .await?;
        let held: Option<String> = match tx.query_opt(&stmt, &[&endpoint_id]).await? {
            Some(r) => r.try_get(0)?,
            None => None,
        };
        if held.as_deref() != Some(owner) {
            tx.rollback().await?;
            return Ok(None);
        }
        // pipelined: the log's insert goes out with the outcome's statements
        let (logged, out) = tokio::join!(
            record_attempt(&tx, endpoint_id, &outcome, now),
            settle(&tx, endpoint_id, &outcome, now)
        );
        logged?;
        let out = out?;
        tx.commit().await?;
        Ok(out)
    }

    async fn message_deliveries(&self, event_ids: &[i64]) -> Result<Vec<DeliveryAttempt>> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        // every class a span can have; per endpoint only those up to its widest attempt's are
        // read (one backward step of the index). `OFFSET 0` keeps the inner select a subquery
        // run once per probe with every bound in its index condition: flattened into a join,
        // the planner would rather hash-join all of an endpoint's attempts against the probes
        let probes = probes(event_ids, 63);
        let classes: Vec<i64> = probes.iter().map(|p| p.class).collect();
        let los: Vec<i64> = probes.iter().map(|p| p.lo).collect();
        let his: Vec<i64> = probes.iter().map(|p| p.hi).collect();
        let mins: Vec<i64> = probes.iter().map(|p| p.min_id).collect();
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT a.id, e.id, e.url, a.at, a.outcome, a.status, a.answer, a.event_ids \
                 FROM callback_endpoints e \
                 CROSS JOIN LATERAL (SELECT MAX(m.span_class) AS top FROM callback_attempts m \
                   WHERE m.endpoint_id = e.id) t \
                 CROSS JOIN UNNEST($2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS q(k, lo, hi, p) \
                 CROSS JOIN LATERAL (SELECT a.id, a.at, a.outcome, a.status, a.answer, a.event_ids \
                   FROM callback_attempts a WHERE a.endpoint_id = e.id AND a.span_class = q.k \
                   AND a.first_event_id BETWEEN q.lo AND q.hi AND a.last_event_id >= q.p OFFSET 0) a \
                 WHERE e.account_id IN (SELECT account_id FROM events WHERE id = ANY($1)) \
                 AND q.k <= t.top",
            )
            .await?;
        let params: [&(dyn ToSql + Sync); 5] = [&event_ids, &classes, &los, &his, &mins];
        let mut out = Vec::new();
        for r in c.query(&stmt, &params).await? {
            let list: &str = r.try_get(7)?;
            let (carried, records) = carried(list, event_ids);
            if carried.is_empty() {
                continue;
            }
            let status = r
                .try_get::<_, Option<i64>>(5)?
                .map(|s| {
                    u16::try_from(s).map_err(|_| {
                        StoreError::Database(format!("stored HTTP status {s} is out of range"))
                    })
                })
                .transpose()?;
            out.push(DeliveryAttempt {
                id: r.try_get(0)?,
                endpoint_id: r.try_get(1)?,
                url: r.try_get(2)?,
                at: r.try_get(3)?,
                outcome: enum_col(&r, 4, AttemptOutcome::parse)?,
                status,
                answer: r.try_get(6)?,
                event_ids: carried,
                records,
            });
        }
        Ok(latest_attempts(out))
    }

    async fn list_endpoints(&self, account_id: Option<i64>) -> Result<Vec<Endpoint>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT {ENDPOINT_COLS} FROM callback_endpoints e \
                 WHERE $1::bigint IS NULL OR e.account_id = $1 ORDER BY e.id"
            ))
            .await?;
        c.query(&stmt, &[&account_id])
            .await?
            .iter()
            .map(endpoint_row)
            .collect()
    }

    async fn enable_endpoints(&self, url: &str, account_id: Option<i64>, now: i64) -> Result<u64> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "UPDATE callback_endpoints SET enabled = TRUE, disabled_reason = NULL, disabled_at = NULL, \
                 failures = 0, first_failure_at = NULL, due_at = $1 \
                 WHERE url = $2 AND ($3::bigint IS NULL OR account_id = $3)",
            )
            .await?;
        Ok(c.execute(&stmt, &[&now, &url, &account_id]).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[i64]) -> Vec<EventRef> {
        list.iter()
            .map(|&id| EventRef {
                id,
                account_id: 1,
                kind: EventKind::Status,
                subject: Subject::Nothing,
            })
            .collect()
    }

    const NO_GAP: Gap = Gap {
        id: None,
        closed: false,
    };

    #[test]
    fn routing_stops_at_a_missing_id_until_its_gap_is_closed() {
        // contiguous: everything
        assert_eq!(routable(10, NO_GAP, &ids(&[11, 12, 13])), (3, None));
        // 12 is missing (in flight, or rolled back): stop before it and remember it
        assert_eq!(routable(10, NO_GAP, &ids(&[11, 13, 14])), (1, Some(12)));
        // still open (a transaction that might hold it still runs): wait
        let open = Gap {
            id: Some(12),
            closed: false,
        };
        assert_eq!(routable(11, open, &ids(&[13, 14])), (0, Some(12)));
        // it came: on through
        assert_eq!(routable(11, open, &ids(&[12, 13, 14])), (3, None));
        // closed without it (rolled back): passed, up to the next gap, seen anew
        let closed = Gap {
            id: Some(12),
            closed: true,
        };
        assert_eq!(routable(11, closed, &ids(&[13, 14])), (2, None));
        assert_eq!(routable(11, closed, &ids(&[14, 15, 17])), (2, Some(16)));
        // a closed gap at another id does not pass this one
        let elsewhere = Gap {
            id: Some(9),
            closed: true,
        };
        assert_eq!(routable(11, elsewhere, &ids(&[13])), (0, Some(12)));
        assert_eq!(routable(11, NO_GAP, &[]), (0, None));
    }
}
