//! The receipts aggregate on SQLite: webhook settings, callback signing secrets, the callback
//! outbox and the message history query.
//!
//! The outbox is fed from the event log by a cursor: routing an event resolves its destination
//! (number setting over space setting) and inserts one pending delivery per (endpoint, event).
//! Deliveries are keyed by event id, so an endpoint's outbox is always read in event order.

use rand::Rng;
use rand::distributions::Alphanumeric;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use crate::receipts::*;
use crate::{Cipher, MessageRow, Result, Secret, StoreError};

fn secret_aad(account_id: i64) -> String {
    format!("callback_secret:{account_id}")
}

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
        return cipher.open(&secret_aad(account_id), &sealed);
    }
    let plain: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    let plain = format!("whsec_{plain}");
    let sealed = cipher.seal(&secret_aad(account_id), &plain)?;
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
    kind: String,
    message_id: Option<String>,
    /// Read for audits only (their template code is in it); empty for other events.
    payload: String,
    /// The space and business number of the event's message (read with the event).
    message: Option<(String, String)>,
}

/// What an event is about: its space and, for message events, the business number.
fn subject(c: &Connection, e: &EventRef) -> Result<Option<(String, Option<String>)>> {
    Ok(Some(match (e.kind.as_str(), &e.message_id) {
        ("audit", _) => {
            let payload: serde_json::Value =
                serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null);
            let Some(code) = payload["TemplateCode"].as_str() else {
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
type Destinations = std::collections::HashMap<(String, String, Option<String>), Option<String>>;

/// The URL an event goes to: a number's setting overrides its space's; inbound messages go to
/// the UpCallbackUrl (else the space's status URL, the "account URL"); audits go to the space's
/// status URL. `HttpFlag=N` at the deciding level means no HTTP delivery.
fn destination(c: &Connection, e: &EventRef, seen: &mut Destinations) -> Result<Option<String>> {
    let Some((space_id, phone)) = subject(c, e)? else {
        return Ok(None);
    };
    // audits, inbound and statuses differ in the URL they take
    let class = match e.kind.as_str() {
        k @ ("audit" | "inbound") => k,
        _ => "status",
    };
    let key = (class.to_string(), space_id, phone);
    if let Some(url) = seen.get(&key) {
        return Ok(url.clone());
    }
    let url = url_for(c, class, &key.1, key.2.as_deref())?;
    seen.insert(key, url.clone());
    Ok(url)
}

fn url_for(
    c: &Connection,
    class: &str,
    space_id: &str,
    phone: Option<&str>,
) -> Result<Option<String>> {
    let space = setting(c, space_id, "")?;
    let number = match phone {
        Some(p) => setting(c, space_id, p)?,
        None => None,
    };
    let http = number
        .as_ref()
        .and_then(|n| n.http_flag)
        .or_else(|| space.as_ref().and_then(|s| s.http_flag))
        .unwrap_or(true);
    if !http {
        return Ok(None);
    }
    let num =
        |f: fn(&WebhookSetting) -> &Option<String>| number.as_ref().and_then(|n| f(n).clone());
    let sp = |f: fn(&WebhookSetting) -> &Option<String>| space.as_ref().and_then(|s| f(s).clone());
    Ok(match class {
        "audit" => sp(|s| &s.status_url),
        "inbound" => num(|s| &s.up_url)
            .or_else(|| sp(|s| &s.up_url))
            .or_else(|| sp(|s| &s.status_url)),
        _ => num(|s| &s.status_url).or_else(|| sp(|s| &s.status_url)),
    })
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
            kind: r.get(2)?,
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
                crate::events::MESSAGE_COLS
            ))?
            .query_map(params![id, batch], |r| {
                let kind: String = r.get(1)?;
                let message = crate::events::message_cols(r, 3)?;
                Ok(PendingRecord {
                    event_id: r.get(0)?,
                    payload: crate::events::complete(&kind, r.get(2)?, message.as_ref()),
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
    match outcome {
        DeliveryOutcome::Delivered { event_ids } => {
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
            if failures >= *disable_after && now - first >= *disable_span_ms {
                let reason = format!(
                    "disabled after {failures} consecutive failed attempts over {} s; last error: {error}",
                    (now - first) / 1000
                );
                c.prepare_cached(
                    "UPDATE callback_endpoints SET enabled = 0, disabled_reason = ?1, disabled_at = ?2 WHERE id = ?3",
                )?
                .execute(params![reason, now, id])?;
            }
        }
    }
    endpoint(c, id)
}

fn list_messages(c: &Connection, f: &MessageFilter) -> Result<Vec<MessageRow>> {
    let statuses = f
        .statuses
        .as_ref()
        .map(|s| serde_json::Value::from(s.clone()).to_string());
    let ids: Vec<String> = c
        .prepare_cached(
            "SELECT id FROM messages WHERE space_id = ?1 AND (?2 IS NULL OR sender = ?2) \
             AND (?3 IS NULL OR recipient = ?3) AND (?4 IS NULL OR direction = ?4) \
             AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at <= ?6) \
             AND (?7 IS NULL OR template_code = ?7) AND (?8 IS NULL OR group_id = ?8) \
             AND (?9 IS NULL OR status IN (SELECT value FROM json_each(?9))) \
             ORDER BY created_at DESC, id DESC LIMIT ?10 OFFSET ?11",
        )?
        .query_map(
            params![
                f.space_id,
                f.sender,
                f.recipient,
                f.direction,
                f.from_ms,
                f.to_ms,
                f.template_code,
                f.group_id,
                statuses,
                f.limit,
                f.offset as i64
            ],
            |r| r.get(0),
        )?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(m) = super::messages::get(c, &id)? {
            out.push(m);
        }
    }
    Ok(out)
}

#[async_trait::async_trait]
impl ReceiptStore for SqliteStore {
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

    async fn list_messages(&self, filter: MessageFilter) -> Result<Vec<MessageRow>> {
        self.read(move |c, _| list_messages(c, &filter)).await
    }
}
