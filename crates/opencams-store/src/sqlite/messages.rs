//! Messages, their durable queue entries, the 24-hour window and the event log on SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use opencams_domain::message::FallBackRule;
use opencams_domain::{Direction, MessageStatus, SendType};

use super::{SqliteStore, enum_col, opt_enum_col};
use crate::common::{
    SearchValue, hourly_counts_sql, number_metrics_sql, queued, status_change, status_moves_sql,
    template_metrics_sql, waiting_sql,
};

use crate::*;

const COLS: &str = "id, account_id, space_id, direction, sender, recipient, send_type, message_type, template_code, \
     template_name, language, body, task_id, tag, tracking_data, label, ttl_secs, fallback_id, fallback_content, \
     fallback_duration, fallback_rule, group_id, context_id, status, error_code, error_description, provider_id, \
     created_at, updated_at";

fn row(r: &Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        space_id: r.get(2)?,
        direction: enum_col(r, 3, Direction::parse)?,
        sender: r.get(4)?,
        recipient: r.get(5)?,
        send_type: enum_col(r, 6, SendType::parse)?,
        message_type: r.get(7)?,
        template_code: r.get(8)?,
        template_name: r.get(9)?,
        language: r.get(10)?,
        body: r.get(11)?,
        task_id: r.get(12)?,
        tag: r.get(13)?,
        tracking_data: r.get(14)?,
        label: r.get(15)?,
        ttl_secs: r.get(16)?,
        fallback_id: r.get(17)?,
        fallback_content: r.get(18)?,
        fallback_duration: r.get(19)?,
        fallback_rule: opt_enum_col(r, 20, FallBackRule::from_stored)?,
        group_id: r.get(21)?,
        context_id: r.get(22)?,
        status: enum_col(r, 23, MessageStatus::parse)?,
        error_code: r.get(24)?,
        error_description: r.get(25)?,
        provider_id: r.get(26)?,
        created_at: r.get(27)?,
        updated_at: r.get(28)?,
    })
}

pub(super) fn insert_all(
    c: &Connection,
    messages: &[MessageRow],
    events: &[NewEvent],
) -> Result<()> {
    let mut ins = c.prepare_cached(&format!(
        "INSERT INTO messages ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
         ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)"
    ))?;
    let mut enqueue = c.prepare_cached("INSERT INTO queue (message_id, due_at) VALUES (?1, ?2)")?;
    for m in messages {
        ins.execute(params![
            m.id,
            m.account_id,
            m.space_id,
            m.direction.as_str(),
            m.sender,
            m.recipient,
            m.send_type.as_str(),
            m.message_type,
            m.template_code,
            m.template_name,
            m.language,
            m.body,
            m.task_id,
            m.tag,
            m.tracking_data,
            m.label,
            m.ttl_secs,
            m.fallback_id,
            m.fallback_content,
            m.fallback_duration,
            m.fallback_rule.map(FallBackRule::as_str),
            m.group_id,
            m.context_id,
            m.status.as_str(),
            m.error_code,
            m.error_description,
            m.provider_id,
            m.created_at,
            m.updated_at
        ])?;
        if queued(m) {
            enqueue.execute(params![m.id, m.created_at])?;
        }
        super::fallbacks::create_for(c, m)?;
    }
    for e in events {
        super::events::insert_event(c, e, messages.first().map_or(0, |m| m.created_at))?;
    }
    Ok(())
}

pub(super) fn get(c: &Connection, id: &str) -> Result<Option<MessageRow>> {
    let by_id = c
        .prepare_cached(&format!("SELECT {COLS} FROM messages WHERE id = ?1"))?
        .query_row([id], row)
        .optional()?;
    if by_id.is_some() {
        return Ok(by_id);
    }
    Ok(c.prepare_cached(&format!(
        "SELECT {COLS} FROM messages WHERE provider_id = ?1"
    ))?
    .query_row([id], row)
    .optional()?)
}

pub(super) fn record_window(c: &Connection, sender: &str, user: &str, at: i64) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO windows (sender, user, last_inbound_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (sender, user) DO UPDATE SET last_inbound_at = max(last_inbound_at, excluded.last_inbound_at)",
    )?
    .execute(params![sender, user, at])?;
    Ok(())
}

pub(super) fn last_inbound(c: &Connection, sender: &str, user: &str) -> Result<Option<i64>> {
    Ok(
        c.prepare_cached("SELECT last_inbound_at FROM windows WHERE sender = ?1 AND user = ?2")?
            .query_row([sender, user], |r| r.get(0))
            .optional()?,
    )
}

pub(super) fn claim(
    c: &Connection,
    owner: &str,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<Claimed>> {
    // one statement picks and leases, so two claimers can never take the same row
    let mut stmt = c.prepare_cached(
        "UPDATE queue SET lease_owner = ?1, lease_until = ?2 WHERE message_id IN ( \
           SELECT message_id FROM queue WHERE due_at <= ?3 AND (lease_until IS NULL OR lease_until <= ?3) \
           ORDER BY due_at LIMIT ?4) \
         RETURNING message_id, attempts",
    )?;
    let claimed: Vec<(String, i64)> = stmt
        .query_map(params![owner, now + lease_ms, now, limit], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::with_capacity(claimed.len());
    let mut get = c.prepare_cached(&format!("SELECT {COLS} FROM messages WHERE id = ?1"))?;
    for (id, attempts) in claimed {
        if let Some(message) = get.query_row([&id], row).optional()? {
            out.push(Claimed { message, attempts });
        }
    }
    Ok(out)
}

pub(super) fn settle(
    c: &Connection,
    id: &str,
    owner: &str,
    outcome: &Settlement,
    now: i64,
) -> Result<bool> {
    // the queue entry is ended or released only by the lease holder (one statement finds,
    // checks and changes it); the message is changed only when that happened
    let released = match outcome {
        Settlement::Retry { due_at, .. } => c
            .prepare_cached(
                "UPDATE queue SET due_at = ?1, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL \
                 WHERE message_id = ?2 AND lease_owner = ?3",
            )?
            .execute(params![due_at, id, owner])?,
        _ => c
            .prepare_cached("DELETE FROM queue WHERE message_id = ?1 AND lease_owner = ?2")?
            .execute([id, owner])?,
    };
    if released == 0 {
        return Ok(false);
    }
    match outcome {
        Settlement::Submitted { provider_id } => {
            c.prepare_cached(
                "UPDATE messages SET provider_id = ?1, updated_at = max(updated_at, ?2) WHERE id = ?3",
            )?
            .execute(params![provider_id, now, id])?;
        }
        Settlement::Retry { error, .. } => {
            c.prepare_cached(
                "UPDATE messages SET error_description = ?1, updated_at = ?2 WHERE id = ?3",
            )?
            .execute(params![error, now, id])?;
        }
        Settlement::Ended {
            status,
            error_code,
            error_description,
            event,
        } => {
            c.prepare_cached(
                "UPDATE messages SET status = ?1, error_code = ?2, error_description = ?3, updated_at = ?4 WHERE id = ?5",
            )?
            .execute(params![status.as_str(), error_code, error_description, now, id])?;
            if let Some(e) = event {
                super::events::insert_event(c, e, now)?;
            }
        }
    }
    Ok(true)
}

/// The columns a status reads and writes, in [`status_row`]'s order.
const STATUS_COLS: &str =
    "id, account_id, status, error_code, error_description, provider_id, updated_at";

fn status_row(r: &Row<'_>) -> rusqlite::Result<MessageStatusRow> {
    Ok(MessageStatusRow {
        id: r.get(0)?,
        account_id: r.get(1)?,
        status: enum_col(r, 2, MessageStatus::parse)?,
        error_code: r.get(3)?,
        error_description: r.get(4)?,
        provider_id: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// Finds, checks and updates in one statement, in the order of [`status_moves_sql`]. Built
/// once: it runs twice per delivered message.
static CHANGE_STATUS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let moves = status_moves_sql("status", "?6", "?7");
    format!(
        "UPDATE messages SET status = ?2, \
           error_code = CASE WHEN ?6 THEN ?3 ELSE error_code END, \
           error_description = CASE WHEN ?6 THEN ?4 ELSE error_description END, \
           updated_at = max(updated_at, ?5) \
         WHERE provider_id = ?1 AND {moves} \
         RETURNING {STATUS_COLS}"
    )
});

/// Changes the status of the message with `u`'s provider id when the monotonic order allows it
/// (one statement finds, checks and updates it); `None` when there is no such message or the
/// status does not change it.
fn change_status(c: &Connection, u: &StatusUpdate) -> Result<Option<MessageStatusRow>> {
    let Some((failed, new_rank)) = status_change(u) else {
        return Ok(None);
    };
    Ok(c.prepare_cached(&CHANGE_STATUS_SQL)?
        .query_row(
            params![
                u.provider_id,
                u.status.as_str(),
                u.error_code,
                u.error_description,
                u.at,
                failed,
                new_rank
            ],
            status_row,
        )
        .optional()?)
}

pub(super) fn apply_status(
    c: &Connection,
    u: &StatusUpdate,
    event: &EventBuilder,
) -> Result<Option<(MessageStatusRow, bool)>> {
    // the second round only after recording the provider id of a message found by our id
    for round in 0..2 {
        if let Some(m) = change_status(c, u)? {
            if let Some(e) = event(&m, u.status) {
                super::events::insert_event(c, &e, u.at)?;
            }
            return Ok(Some((m, true)));
        }
        let found = c
            .prepare_cached(&format!(
                "SELECT {STATUS_COLS} FROM messages WHERE provider_id = ?1"
            ))?
            .query_row([&u.provider_id], status_row)
            .optional()?;
        if found.is_some() || round == 1 {
            return Ok(found.map(|m| (m, false)));
        }
        // a status can overtake the settlement that records the provider id: the provider
        // echoes our MessageId in `biz_opaque_callback_data`, so find the message by it and
        // record the id
        let Some(id) = u
            .message_id
            .as_deref()
            .filter(|_| !u.provider_id.is_empty())
        else {
            return Ok(None);
        };
        let recorded = c
            .prepare_cached(
                "UPDATE messages SET provider_id = ?1 WHERE id = ?2 AND direction = 'out' AND provider_id IS NULL",
            )?
            .execute(params![u.provider_id, id])?;
        if recorded == 0 {
            return Ok(None);
        }
    }
    Ok(None)
}

pub(super) fn record_inbound(
    c: &Connection,
    m: &MessageRow,
    event: Option<&NewEvent>,
) -> Result<bool> {
    let exists: Option<String> = c
        .prepare_cached("SELECT id FROM messages WHERE provider_id = ?1")?
        .query_row([&m.provider_id], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Ok(false);
    }
    insert_all(c, std::slice::from_ref(m), &[])?;
    record_window(c, &m.sender, &m.recipient, m.created_at)?;
    if let Some(e) = event {
        super::events::insert_event(c, e, m.created_at)?;
    }
    Ok(true)
}

fn list_messages(c: &Connection, f: &MessageFilter) -> Result<Vec<MessageRow>> {
    use crate::common::{SearchValue, message_search};
    let (sql, values) = message_search(
        f,
        "SELECT id FROM messages",
        |n| format!("?{n}"),
        |p| format!("status IN (SELECT value FROM json_each({p}))"),
        "",
    );
    let values: Vec<rusqlite::types::Value> = values
        .into_iter()
        .map(|v| match v {
            SearchValue::Text(t) => rusqlite::types::Value::Text(t.to_string()),
            SearchValue::Int(i) => rusqlite::types::Value::Integer(i),
            SearchValue::Texts(l) => {
                rusqlite::types::Value::Text(serde_json::Value::from_iter(l).to_string())
            }
        })
        .collect();
    let ids: Vec<String> = c
        .prepare_cached(&sql)?
        .query_map(rusqlite::params_from_iter(values), |r| r.get(0))?
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
impl MessageStore for SqliteStore {
    async fn insert_messages(
        &self,
        messages: Vec<MessageRow>,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        self.write(move |c, _| insert_all(c, &messages, &events))
            .await
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRow>> {
        let id = id.to_string();
        self.read(move |c, _| get(c, &id)).await
    }

    async fn count_messages(&self) -> Result<u64> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT COUNT(*) FROM messages", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    async fn claim_due(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        let owner = owner.to_string();
        self.write(move |c, _| claim(c, &owner, now, lease_ms, limit))
            .await
    }

    async fn settle(&self, id: &str, owner: &str, outcome: Settlement, now: i64) -> Result<bool> {
        let (id, owner) = (id.to_string(), owner.to_string());
        self.write(move |c, _| settle(c, &id, &owner, &outcome, now))
            .await
    }

    async fn apply_status(
        &self,
        update: StatusUpdate,
        event: EventBuilder,
    ) -> Result<Option<(MessageStatusRow, bool)>> {
        self.write(move |c, _| apply_status(c, &update, &event))
            .await
    }

    async fn apply_statuses(
        &self,
        updates: Vec<(StatusUpdate, EventBuilder)>,
    ) -> Result<Vec<Option<(MessageStatusRow, bool)>>> {
        self.write(move |c, _| {
            updates
                .iter()
                .map(|(u, event)| apply_status(c, u, event))
                .collect()
        })
        .await
    }

    async fn record_inbound(&self, message: MessageRow, event: Option<NewEvent>) -> Result<bool> {
        self.write(move |c, _| record_inbound(c, &message, event.as_ref()))
            .await
    }

    async fn queue_len(&self) -> Result<u64> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get::<_, i64>(0))? as u64)
        })
        .await
    }

    async fn record_inbound_window(&self, sender: &str, user: &str, at: i64) -> Result<()> {
        let (s, u) = (sender.to_string(), user.to_string());
        self.write(move |c, _| record_window(c, &s, &u, at)).await
    }

    async fn last_inbound(&self, sender: &str, user: &str) -> Result<Option<i64>> {
        let (s, u) = (sender.to_string(), user.to_string());
        self.read(move |c, _| last_inbound(c, &s, &u)).await
    }

    async fn list_messages(&self, filter: MessageFilter) -> Result<Vec<MessageRow>> {
        self.read(move |c, _| list_messages(c, &filter)).await
    }

    async fn hourly_counts(&self, account_id: i64, from: i64, to: i64) -> Result<Vec<HourlyCount>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(&hourly_counts_sql("?1", "?2", "?3", ""))?;
            let rows = stmt.query_map(params![account_id, from, to], |r| {
                Ok(HourlyCount {
                    hour_ms: r.get(0)?,
                    status: enum_col(r, 1, MessageStatus::parse)?,
                    direction: enum_col(r, 2, Direction::parse)?,
                    count: r.get::<_, i64>(3)? as u64,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn waiting(&self, account_id: i64) -> Result<Vec<Waiting>> {
        self.read(move |c, _| {
            let mut stmt = c.prepare_cached(&waiting_sql("?1", ""))?;
            let rows = stmt.query_map([account_id], |r| {
                Ok(Waiting {
                    sender: r.get(0)?,
                    count: r.get::<_, i64>(1)? as u64,
                    oldest_at: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn number_metrics(
        &self,
        q: MetricQuery,
        sender: Option<String>,
    ) -> Result<Vec<MetricCount>> {
        self.read(move |c, _| {
            let (sql, values) = number_metrics_sql(&q, sender.as_deref(), |n| format!("?{n}"), "");
            let rows = c
                .prepare_cached(&sql)?
                .query_map(bound(values), metric_count)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn template_metrics(
        &self,
        q: MetricQuery,
        code: String,
        language: Option<String>,
    ) -> Result<TemplateMetrics> {
        self.read(move |c, _| {
            // an inbound body is always the JSON ingest wrote; json_valid keeps a stray one
            // from failing the whole count
            let text = "CASE WHEN json_valid(i.body) \
                        THEN json_extract(i.body, '$.inbound.button.text') END";
            let (counts_sql, clicks_sql, values) = template_metrics_sql(
                &q,
                &code,
                language.as_deref(),
                |n| format!("?{n}"),
                "",
                text,
            );
            let counts = c
                .prepare_cached(&counts_sql)?
                .query_map(bound(values.clone()), metric_count)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let clicks = c
                .prepare_cached(&clicks_sql)?
                .query_map(bound(values), |r| {
                    Ok(ButtonClicks {
                        language: r.get(0)?,
                        bucket_ms: r.get(1)?,
                        text: r.get(2)?,
                        count: r.get::<_, i64>(3)? as u64,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(TemplateMetrics { counts, clicks })
        })
        .await
    }
}

/// The values of a statement built in `common`, as rusqlite binds them.
fn bound(values: Vec<SearchValue<'_>>) -> rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>> {
    use rusqlite::types::Value;
    let values: Vec<Value> = values
        .into_iter()
        .map(|v| match v {
            SearchValue::Text(t) => Value::Text(t.to_string()),
            SearchValue::Int(i) => Value::Integer(i),
            SearchValue::Texts(l) => Value::Text(serde_json::Value::from_iter(l).to_string()),
        })
        .collect();
    rusqlite::params_from_iter(values)
}

/// A [`MetricCount`] from (key, bucket, sent, delivered, read).
fn metric_count(r: &Row<'_>) -> rusqlite::Result<MetricCount> {
    Ok(MetricCount {
        key: r.get(0)?,
        bucket_ms: r.get(1)?,
        sent: r.get::<_, i64>(2)? as u64,
        delivered: r.get::<_, i64>(3)? as u64,
        read: r.get::<_, i64>(4)? as u64,
    })
}
