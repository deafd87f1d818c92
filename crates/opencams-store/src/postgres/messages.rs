//! Messages, their durable queue entries, provider statuses and the 24-hour window on
//! PostgreSQL.
//!
//! Accepted sends are the hot path: they are committed before the API answers. Concurrent
//! `insert_messages` calls are gathered by a [`super::batch::Batcher`] into one transaction (multi-row
//! inserts of messages, queue entries, fallback timers and events), and every caller is answered
//! after its commit; when such a transaction fails, each call runs again in a transaction of its
//! own, so that only the bad one fails. Queue claims lease rows picked with
//! `FOR UPDATE SKIP LOCKED`, so claimers on several nodes never wait on or share a row.

use std::future::Future;
use std::sync::LazyLock;

use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use opencams_domain::message::FallBackRule;
use opencams_domain::{Direction, MessageStatus, SendType};

use super::batch::Batched;
use super::fallbacks::{INSERT_TIMERS_SQL, Timers};
use super::{PgStore, append_events, append_events_at, enum_col, in_transaction, opt_enum_col};
use crate::common::{queued, status_change, status_moves_sql};
use crate::*;

/// The columns of a message, in [`message_row`]'s order.
const COLS: &str = "id, account_id, space_id, direction, sender, recipient, send_type, message_type, template_code, \
     template_name, language, body, task_id, tag, tracking_data, label, ttl_secs, fallback_id, fallback_content, \
     fallback_duration, fallback_rule, group_id, context_id, status, error_code, error_description, provider_id, \
     created_at, updated_at";

/// How many columns [`message_row`] reads.
const NCOLS: usize = 29;

/// The 1-based positions of the BIGINT columns in [`COLS`] (the others are TEXT).
const BIGINT_COLS: [usize; 5] = [2, 17, 20, 28, 29];

/// The columns of `cols` (a comma-separated list) qualified by the table alias `alias`.
pub(super) fn prefixed(cols: &str, alias: &str) -> String {
    cols.split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// [`COLS`] of the messages aliased `m`.
pub(super) static M_COLS: LazyLock<String> = LazyLock::new(|| prefixed(COLS, "m"));

/// A message read from `r`'s columns `at..at + NCOLS`.
pub(super) fn message_row(r: &Row, at: usize) -> Result<MessageRow> {
    Ok(MessageRow {
        id: r.try_get(at)?,
        account_id: r.try_get(at + 1)?,
        space_id: r.try_get(at + 2)?,
        direction: enum_col(r, at + 3, Direction::parse)?,
        sender: r.try_get(at + 4)?,
        recipient: r.try_get(at + 5)?,
        send_type: enum_col(r, at + 6, SendType::parse)?,
        message_type: r.try_get(at + 7)?,
        template_code: r.try_get(at + 8)?,
        template_name: r.try_get(at + 9)?,
        language: r.try_get(at + 10)?,
        body: r.try_get(at + 11)?,
        task_id: r.try_get(at + 12)?,
        tag: r.try_get(at + 13)?,
        tracking_data: r.try_get(at + 14)?,
        label: r.try_get(at + 15)?,
        ttl_secs: r.try_get(at + 16)?,
        fallback_id: r.try_get(at + 17)?,
        fallback_content: r.try_get(at + 18)?,
        fallback_duration: r.try_get(at + 19)?,
        fallback_rule: opt_enum_col(r, at + 20, FallBackRule::from_stored)?,
        group_id: r.try_get(at + 21)?,
        context_id: r.try_get(at + 22)?,
        status: enum_col(r, at + 23, MessageStatus::parse)?,
        error_code: r.try_get(at + 24)?,
        error_description: r.try_get(at + 25)?,
        provider_id: r.try_get(at + 26)?,
        created_at: r.try_get(at + 27)?,
        updated_at: r.try_get(at + 28)?,
    })
}

/// Inserts messages from one array per column.
static INSERT_SQL: LazyLock<String> = LazyLock::new(|| {
    let arrays: Vec<String> = (1..=NCOLS)
        .map(|i| {
            let ty = if BIGINT_COLS.contains(&i) {
                "bigint"
            } else {
                "text"
            };
            format!("${i}::{ty}[]")
        })
        .collect();
    format!(
        "INSERT INTO messages ({COLS}) SELECT * FROM UNNEST({})",
        arrays.join(", ")
    )
});

/// [`INSERT_SQL`] for inbound messages: one whose provider id is stored already (a duplicate
/// webhook, perhaps received by another node at the same time) is skipped, not a conflict.
static INSERT_INBOUND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{} ON CONFLICT (provider_id) WHERE provider_id IS NOT NULL DO NOTHING",
        *INSERT_SQL
    )
});

const ENQUEUE_SQL: &str =
    "INSERT INTO queue (message_id, due_at) SELECT * FROM UNNEST($1::text[], $2::bigint[])";

/// One column of `messages`.
fn column<'a, T>(messages: &[&'a MessageRow], f: impl Fn(&'a MessageRow) -> T) -> Vec<T> {
    messages.iter().map(|m| f(m)).collect()
}

/// Inserts `messages` with their queue entries (outbound ones still `accepted`, due at once) and
/// fallback timers in `tx`, the three inserts pipelined; returns how many messages were
/// inserted. `inbound`: see [`INSERT_INBOUND_SQL`] (the caller rolls back when none was).
async fn insert_rows(
    tx: &impl GenericClient,
    messages: &[&MessageRow],
    inbound: bool,
) -> Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let ms = messages;
    let id = column(ms, |m| m.id.as_str());
    let account_id = column(ms, |m| m.account_id);
    let space_id = column(ms, |m| m.space_id.as_str());
    let direction = column(ms, |m| m.direction.as_str());
    let sender = column(ms, |m| m.sender.as_str());
    let recipient = column(ms, |m| m.recipient.as_str());
    let send_type = column(ms, |m| m.send_type.as_str());
    let message_type = column(ms, |m| m.message_type.as_str());
    let template_code = column(ms, |m| m.template_code.as_deref());
    let template_name = column(ms, |m| m.template_name.as_deref());
    let language = column(ms, |m| m.language.as_deref());
    let body = column(ms, |m| m.body.as_str());
    let task_id = column(ms, |m| m.task_id.as_deref());
    let tag = column(ms, |m| m.tag.as_deref());
    let tracking_data = column(ms, |m| m.tracking_data.as_deref());
    let label = column(ms, |m| m.label.as_deref());
    let ttl_secs = column(ms, |m| m.ttl_secs);
    let fallback_id = column(ms, |m| m.fallback_id.as_deref());
    let fallback_content = column(ms, |m| m.fallback_content.as_deref());
    let fallback_duration = column(ms, |m| m.fallback_duration);
    let fallback_rule = column(ms, |m| m.fallback_rule.map(FallBackRule::as_str));
    let group_id = column(ms, |m| m.group_id.as_deref());
    let context_id = column(ms, |m| m.context_id.as_deref());
    let status = column(ms, |m| m.status.as_str());
    let error_code = column(ms, |m| m.error_code.as_deref());
    let error_description = column(ms, |m| m.error_description.as_deref());
    let provider_id = column(ms, |m| m.provider_id.as_deref());
    let created_at = column(ms, |m| m.created_at);
    let updated_at = column(ms, |m| m.updated_at);
    let params: [&(dyn ToSql + Sync); NCOLS] = [
        &id,
        &account_id,
        &space_id,
        &direction,
        &sender,
        &recipient,
        &send_type,
        &message_type,
        &template_code,
        &template_name,
        &language,
        &body,
        &task_id,
        &tag,
        &tracking_data,
        &label,
        &ttl_secs,
        &fallback_id,
        &fallback_content,
        &fallback_duration,
        &fallback_rule,
        &group_id,
        &context_id,
        &status,
        &error_code,
        &error_description,
        &provider_id,
        &created_at,
        &updated_at,
    ];

    let waiting: Vec<&MessageRow> = ms.iter().copied().filter(|m| queued(m)).collect();
    let queue_ids = column(&waiting, |m| m.id.as_str());
    let queue_due = column(&waiting, |m| m.created_at);
    let queue_params: [&(dyn ToSql + Sync); 2] = [&queue_ids, &queue_due];
    let timers = Timers::of(ms);
    let timer_params = timers.params();

    let insert_sql: &str = if inbound {
        &INSERT_INBOUND_SQL
    } else {
        &INSERT_SQL
    };
    let (insert, enqueue, arm) = tokio::join!(
        tx.prepare_cached(insert_sql),
        tx.prepare_cached(ENQUEUE_SQL),
        tx.prepare_cached(INSERT_TIMERS_SQL)
    );
    let (insert, enqueue, arm) = (insert?, enqueue?, arm?);
    // pipelined, sent in this order on the first poll; the first error is the one to report (the
    // statements after a failed one only say that the transaction is aborted)
    let (inserted, enqueued, armed) = tokio::join!(
        tx.execute(&insert, &params),
        async {
            if waiting.is_empty() {
                return Ok(0);
            }
            tx.execute(&enqueue, &queue_params).await
        },
        async {
            if timers.is_empty() {
                return Ok(0);
            }
            tx.execute(&arm, &timer_params).await
        }
    );
    let inserted = inserted?;
    enqueued?;
    armed?;
    Ok(inserted)
}

/// Records an inbound message from `user` to `sender` at `at`: the window only moves forward.
async fn record_window(c: &impl GenericClient, sender: &str, user: &str, at: i64) -> Result<()> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO windows (sender, user_phone, last_inbound_at) VALUES ($1, $2, $3) \
             ON CONFLICT (sender, user_phone) DO UPDATE \
             SET last_inbound_at = GREATEST(windows.last_inbound_at, EXCLUDED.last_inbound_at)",
        )
        .await?;
    c.execute(&stmt, &[&sender, &user, &at]).await?;
    Ok(())
}

/// A message by its id, else by its provider id.
static GET_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLS} FROM messages WHERE id = $1 \
         UNION ALL \
         SELECT {COLS} FROM messages WHERE provider_id = $1 \
           AND NOT EXISTS (SELECT 1 FROM messages WHERE id = $1)"
    )
});

/// The message with id `id`, else the one with provider id `id`.
pub(super) async fn get(c: &impl GenericClient, id: &str) -> Result<Option<MessageRow>> {
    let stmt = c.prepare_cached(&GET_SQL).await?;
    c.query_opt(&stmt, &[&id])
        .await?
        .map(|r| message_row(&r, 0))
        .transpose()
}

// the hot path: accepted sends, batched

/// One `insert_messages` call.
pub(super) struct Insert {
    messages: Vec<MessageRow>,
    events: Vec<NewEvent>,
}

impl Batched for Insert {
    type Out = ();

    fn size(&self) -> usize {
        self.messages.len()
    }

    async fn commit(pool: &Pool, calls: &[&Self]) -> Result<Vec<()>> {
        insert_together(pool, calls).await?;
        Ok(vec![(); calls.len()])
    }
}

/// Stores the messages, queue entries, fallback timers and events of `inserts` in one
/// transaction. The events of a call are created at its first message's time.
async fn insert_together(pool: &Pool, inserts: &[&Insert]) -> Result<()> {
    let c = pool.get().await?;
    let messages: Vec<&MessageRow> = inserts.iter().flat_map(|i| &i.messages).collect();
    let events: Vec<(&NewEvent, i64)> = inserts
        .iter()
        .flat_map(|i| {
            let at = i.messages.first().map_or(0, |m| m.created_at);
            i.events.iter().map(move |e| (e, at))
        })
        .collect();
    in_transaction(&c, async {
        insert_rows(&c, &messages, false).await?;
        append_events_at(&c, &events).await
    })
    .await
}

// settlements

/// One `settle` call. The dispatcher settles every message it sends: concurrent settlements share
/// a transaction (a [`super::batch::Batcher`]), their statements pipelined, instead of a commit
/// each.
pub(super) struct Settle {
    id: String,
    owner: String,
    outcome: Settlement,
    now: i64,
}

impl Batched for Settle {
    type Out = bool;

    fn commit<'a>(
        pool: &'a Pool,
        calls: &'a [&'a Self],
    ) -> impl Future<Output = Result<Vec<bool>>> + Send + 'a {
        settle_together(pool, calls)
    }
}

/// The order settlements lock their messages in: by provider id first, as status updates lock
/// theirs (see `apply_statuses`), so the two cannot deadlock, then by message id.
fn lock_order(s: &Settle) -> (&str, &str) {
    match &s.outcome {
        Settlement::Submitted { provider_id } => (provider_id.as_str(), s.id.as_str()),
        _ => ("", s.id.as_str()),
    }
}

/// Settles `settles` in one transaction (statements pipelined), appending the events of those
/// that ended last; for each, whether its owner still held the lease.
async fn settle_together(pool: &Pool, settles: &[&Settle]) -> Result<Vec<bool>> {
    let c = pool.get().await?;
    in_transaction(&c, settle_on(&c, settles)).await
}

/// [`settle_together`]'s statements, on `tx` (in its transaction).
async fn settle_on(tx: &super::Client, settles: &[&Settle]) -> Result<Vec<bool>> {
    let (submitted, retry, ended) = tokio::join!(
        tx.prepare_cached(SETTLE_SUBMITTED_SQL),
        tx.prepare_cached(SETTLE_RETRY_SQL),
        tx.prepare_cached(SETTLE_ENDED_SQL)
    );
    let (submitted, retry, ended) = (submitted?, retry?, ended?);
    let mut order: Vec<usize> = (0..settles.len()).collect();
    order.sort_by(|&a, &b| lock_order(settles[a]).cmp(&lock_order(settles[b])));
    let statuses: Vec<Option<&str>> = settles
        .iter()
        .map(|s| match &s.outcome {
            Settlement::Ended { status, .. } => Some(status.as_str()),
            _ => None,
        })
        .collect();
    let runs = order.iter().map(|&i| {
        let s = settles[i];
        let (tx, submitted, retry, ended, status) = (tx, &submitted, &retry, &ended, statuses[i]);
        async move {
            let row = match &s.outcome {
                Settlement::Submitted { provider_id } => {
                    let params: [&(dyn ToSql + Sync); 4] = [&s.id, &s.owner, provider_id, &s.now];
                    tx.query_one(submitted, &params).await?
                }
                Settlement::Retry { due_at, error } => {
                    let params: [&(dyn ToSql + Sync); 5] = [&s.id, &s.owner, due_at, error, &s.now];
                    tx.query_one(retry, &params).await?
                }
                Settlement::Ended {
                    error_code,
                    error_description,
                    ..
                } => {
                    let params: [&(dyn ToSql + Sync); 6] = [
                        &s.id,
                        &s.owner,
                        &status,
                        error_code,
                        error_description,
                        &s.now,
                    ];
                    tx.query_one(ended, &params).await?
                }
            };
            let released: i64 = row.try_get(0)?;
            Ok::<_, StoreError>((i, released > 0))
        }
    });
    // pipelined: every statement goes out before the first answer comes back
    let results = futures_util::future::join_all(runs).await;
    let mut released = vec![false; settles.len()];
    for r in results {
        let (i, ok) = r?;
        released[i] = ok;
    }
    let events: Vec<(&NewEvent, i64)> = order
        .iter()
        .filter(|&&i| released[i])
        .filter_map(|&i| match &settles[i].outcome {
            Settlement::Ended { event: Some(e), .. } => Some((e, settles[i].now)),
            _ => None,
        })
        .collect();
    append_events_at(tx, &events).await?;
    Ok(released)
}

// the queue

/// Leases up to `$4` due messages (oldest first) to `$1` until `$2`, skipping those another
/// claimer holds locked, and returns them with their attempts. Built once.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    let m_cols = &*M_COLS;
    format!(
        "WITH due AS ( \
           SELECT message_id FROM queue \
           WHERE due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3) \
           ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED), \
         claimed AS ( \
           UPDATE queue SET lease_owner = $1, lease_until = $2 FROM due \
           WHERE queue.message_id = due.message_id \
           RETURNING queue.message_id, queue.attempts, queue.due_at) \
         SELECT {m_cols}, c.attempts FROM claimed c JOIN messages m ON m.id = c.message_id \
         ORDER BY c.due_at, m.id COLLATE \"C\""
    )
});

// a settlement ends or releases the queue entry only for the lease holder, and changes the
// message only when that happened, in one statement; each returns how many entries it released

const SETTLE_SUBMITTED_SQL: &str = "WITH released AS ( \
       DELETE FROM queue WHERE message_id = $1 AND lease_owner = $2 RETURNING message_id), \
     changed AS ( \
       UPDATE messages SET provider_id = $3, updated_at = GREATEST(updated_at, $4) \
       WHERE id IN (SELECT message_id FROM released) RETURNING id) \
     SELECT COUNT(*) FROM released";

const SETTLE_RETRY_SQL: &str = "WITH released AS ( \
       UPDATE queue SET due_at = $3, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL \
       WHERE message_id = $1 AND lease_owner = $2 RETURNING message_id), \
     changed AS ( \
       UPDATE messages SET error_description = $4, updated_at = $5 \
       WHERE id IN (SELECT message_id FROM released) RETURNING id) \
     SELECT COUNT(*) FROM released";

const SETTLE_ENDED_SQL: &str = "WITH released AS ( \
       DELETE FROM queue WHERE message_id = $1 AND lease_owner = $2 RETURNING message_id), \
     changed AS ( \
       UPDATE messages SET status = $3, error_code = $4, error_description = $5, updated_at = $6 \
       WHERE id IN (SELECT message_id FROM released) RETURNING id) \
     SELECT COUNT(*) FROM released";

// provider statuses

/// The columns a status reads and writes, in [`status_row`]'s order.
const STATUS_COLS: &str =
    "id, account_id, status, error_code, error_description, provider_id, updated_at";

fn status_row(r: &Row) -> Result<MessageStatusRow> {
    Ok(MessageStatusRow {
        id: r.try_get(0)?,
        account_id: r.try_get(1)?,
        status: enum_col(r, 2, MessageStatus::parse)?,
        error_code: r.try_get(3)?,
        error_description: r.try_get(4)?,
        provider_id: r.try_get(5)?,
        updated_at: r.try_get(6)?,
    })
}

/// Finds, checks and updates in one statement, in the order of [`status_moves_sql`]. Built
/// once: it runs twice per delivered message. A status can overtake the settlement that records
/// the provider id: the provider echoes our MessageId (`$8`) in `biz_opaque_callback_data`, so a
/// message without a provider id is found by it too, and the id recorded. When that settlement
/// holds the row, the UPDATE waits for its commit and then finds the row by the provider id.
static CHANGE_STATUS_SQL: LazyLock<String> = LazyLock::new(|| {
    let moves = status_moves_sql("$6", "$7");
    format!(
        "UPDATE messages SET status = $2, \
           error_code = CASE WHEN $6 THEN $3 ELSE error_code END, \
           error_description = CASE WHEN $6 THEN $4 ELSE error_description END, \
           updated_at = GREATEST(updated_at, $5), provider_id = $1 \
         WHERE (provider_id = $1 \
                OR ($8::text IS NOT NULL AND id = $8 AND direction = 'out' AND provider_id IS NULL)) \
           AND {moves} \
         RETURNING {STATUS_COLS}"
    )
});

static STATUS_BY_PROVIDER_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {STATUS_COLS} FROM messages WHERE provider_id = ANY($1::text[])")
});

/// One `apply_statuses` call (the statuses of one webhook POST). Concurrent calls share a
/// transaction (a [`super::batch::Batcher`]): under load Meta's webhooks arrive by the dozen at
/// once, and a commit each kept rows locked while the next webhook about them waited.
pub(super) struct Statuses {
    updates: Vec<StatusUpdate>,
    builders: Vec<EventBuilder>,
}

impl Batched for Statuses {
    type Out = Vec<Option<(MessageStatusRow, bool)>>;

    fn size(&self) -> usize {
        self.updates.len()
    }

    fn commit<'a>(
        pool: &'a Pool,
        calls: &'a [&'a Self],
    ) -> impl Future<Output = Result<Vec<Self::Out>>> + Send + 'a {
        apply_together(pool, calls)
    }
}

/// Applies the statuses of `calls` in one transaction: every change pipelined in provider-id
/// order (stable: one message's statuses keep theirs), so that two transactions touching the
/// same messages lock their rows in the same order (settlements too) and cannot deadlock; then
/// the messages a status did not change read back; then the events of the changes, in the order
/// applied. Answered per call, in the order given.
async fn apply_together(
    pool: &Pool,
    calls: &[&Statuses],
) -> Result<Vec<Vec<Option<(MessageStatusRow, bool)>>>> {
    let c = pool.get().await?;
    in_transaction(&c, apply_on(&c, calls)).await
}

/// [`apply_together`]'s statements, on `tx` (in its transaction).
async fn apply_on(
    tx: &super::Client,
    calls: &[&Statuses],
) -> Result<Vec<Vec<Option<(MessageStatusRow, bool)>>>> {
    // (call, status) positions, in provider-id order
    let mut order: Vec<(usize, usize)> = calls
        .iter()
        .enumerate()
        .flat_map(|(c, call)| (0..call.updates.len()).map(move |i| (c, i)))
        .collect();
    let update = |&(c, i): &(usize, usize)| &calls[c].updates[i];
    order.sort_by(|a, b| update(a).provider_id.cmp(&update(b).provider_id));
    let (change, by_provider) = tokio::join!(
        tx.prepare_cached(&CHANGE_STATUS_SQL),
        tx.prepare_cached(&STATUS_BY_PROVIDER_SQL)
    );
    let (change, by_provider) = (change?, by_provider?);
    // pipelined: every statement goes out before the first answer comes back, and the server
    // runs them in this order
    let changes = order.iter().map(|at| {
        let (tx, change, u) = (tx, &change, update(at));
        async move {
            let Some((failed, new_rank)) = status_change(u) else {
                return Ok(None);
            };
            let params: [&(dyn ToSql + Sync); 8] = [
                &u.provider_id,
                &u.status.as_str(),
                &u.error_code,
                &u.error_description,
                &u.at,
                &failed,
                &new_rank,
                &u.message_id,
            ];
            tx.query_opt(change, &params)
                .await?
                .map(|r| status_row(&r))
                .transpose()
        }
    });
    let changed: Vec<Option<MessageStatusRow>> =
        futures_util::future::try_join_all(changes).await?;
    // the messages left unchanged, as they are now
    let unchanged: Vec<&str> = order
        .iter()
        .zip(&changed)
        .filter(|(_, m)| m.is_none())
        .map(|(at, _)| update(at).provider_id.as_str())
        .collect();
    let mut now_by_provider = std::collections::HashMap::new();
    if !unchanged.is_empty() {
        for r in tx.query(&by_provider, &[&unchanged]).await? {
            let m = status_row(&r)?;
            if let Some(pid) = m.provider_id.clone() {
                now_by_provider.insert(pid, m);
            }
        }
    }
    let mut out: Vec<Vec<Option<(MessageStatusRow, bool)>>> =
        calls.iter().map(|c| vec![None; c.updates.len()]).collect();
    // appended last in the transaction, in the order applied
    let mut events: Vec<(NewEvent, i64)> = Vec::new();
    for (&(c, i), m) in order.iter().zip(changed) {
        let u = &calls[c].updates[i];
        out[c][i] = match m {
            Some(m) => {
                if let Some(e) = (calls[c].builders[i])(&m, u.status) {
                    events.push((e, u.at));
                }
                Some((m, true))
            }
            None => now_by_provider
                .get(&u.provider_id)
                .map(|m| (m.clone(), false)),
        };
    }
    let events: Vec<(&NewEvent, i64)> = events.iter().map(|(e, at)| (e, *at)).collect();
    append_events_at(tx, &events).await?;
    Ok(out)
}

/// A page of a space's messages, newest first.
static LIST_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLS} FROM messages WHERE space_id = $1 AND ($2::text IS NULL OR sender = $2) \
         AND ($3::text IS NULL OR recipient = $3) AND ($4::text IS NULL OR direction = $4) \
         AND ($5::bigint IS NULL OR created_at >= $5) AND ($6::bigint IS NULL OR created_at <= $6) \
         AND ($7::text IS NULL OR template_code = $7) AND ($8::text IS NULL OR group_id = $8) \
         AND ($9::text[] IS NULL OR status = ANY($9)) \
         ORDER BY created_at DESC, id COLLATE \"C\" DESC LIMIT $10 OFFSET $11"
    )
});

#[async_trait::async_trait]
impl MessageStore for PgStore {
    async fn insert_messages(
        &self,
        messages: Vec<MessageRow>,
        events: Vec<NewEvent>,
    ) -> Result<()> {
        if messages.is_empty() && events.is_empty() {
            return Ok(());
        }
        self.inserts.call(Insert { messages, events }).await
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRow>> {
        let c = self.client().await?;
        get(&c, id).await
    }

    async fn count_messages(&self) -> Result<u64> {
        let c = self.client().await?;
        let stmt = c.prepare_cached("SELECT COUNT(*) FROM messages").await?;
        let n: i64 = c.query_one(&stmt, &[]).await?.try_get(0)?;
        Ok(n as u64)
    }

    async fn claim_due(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&CLAIM_SQL).await?;
        let (until, limit) = (now + lease_ms, i64::from(limit));
        let params: [&(dyn ToSql + Sync); 4] = [&owner, &until, &now, &limit];
        c.query(&stmt, &params)
            .await?
            .iter()
            .map(|r| {
                Ok(Claimed {
                    message: message_row(r, 0)?,
                    attempts: r.try_get(NCOLS)?,
                })
            })
            .collect()
    }

    async fn settle(&self, id: &str, owner: &str, outcome: Settlement, now: i64) -> Result<bool> {
        self.settles
            .call(Settle {
                id: id.to_string(),
                owner: owner.to_string(),
                outcome,
                now,
            })
            .await
    }

    async fn apply_status(
        &self,
        update: StatusUpdate,
        event: EventBuilder,
    ) -> Result<Option<(MessageStatusRow, bool)>> {
        Ok(self
            .apply_statuses(vec![(update, event)])
            .await?
            .pop()
            .flatten())
    }

    async fn apply_statuses(
        &self,
        updates: Vec<(StatusUpdate, EventBuilder)>,
    ) -> Result<Vec<Option<(MessageStatusRow, bool)>>> {
        if updates.is_empty() {
            return Ok(Vec::new());
        }
        let (updates, builders) = updates.into_iter().unzip();
        self.statuses.call(Statuses { updates, builders }).await
    }

    async fn record_inbound(&self, message: MessageRow, event: Option<NewEvent>) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // stored already (a duplicate webhook): the transaction rolls back as it drops
        if insert_rows(&tx, &[&message], true).await? == 0 {
            return Ok(false);
        }
        record_window(&tx, &message.sender, &message.recipient, message.created_at).await?;
        if let Some(e) = &event {
            append_events(&tx, std::slice::from_ref(e), message.created_at).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn queue_len(&self) -> Result<u64> {
        let c = self.client().await?;
        let stmt = c.prepare_cached("SELECT COUNT(*) FROM queue").await?;
        let n: i64 = c.query_one(&stmt, &[]).await?.try_get(0)?;
        Ok(n as u64)
    }

    async fn record_inbound_window(&self, sender: &str, user: &str, at: i64) -> Result<()> {
        let c = self.client().await?;
        record_window(&c, sender, user, at).await
    }

    async fn last_inbound(&self, sender: &str, user: &str) -> Result<Option<i64>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT last_inbound_at FROM windows WHERE sender = $1 AND user_phone = $2",
            )
            .await?;
        Ok(c.query_opt(&stmt, &[&sender, &user])
            .await?
            .map(|r| r.try_get(0))
            .transpose()?)
    }

    async fn list_messages(&self, f: MessageFilter) -> Result<Vec<MessageRow>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&LIST_SQL).await?;
        let statuses: Option<Vec<&str>> = f
            .statuses
            .as_ref()
            .map(|s| s.iter().map(|s| s.as_str()).collect());
        let direction = f.direction.map(Direction::as_str);
        let limit = i64::from(f.limit);
        let offset = i64::try_from(f.offset).unwrap_or(i64::MAX);
        let params: [&(dyn ToSql + Sync); 11] = [
            &f.space_id,
            &f.sender,
            &f.recipient,
            &direction,
            &f.from_ms,
            &f.to_ms,
            &f.template_code,
            &f.group_id,
            &statuses,
            &limit,
            &offset,
        ];
        c.query(&stmt, &params)
            .await?
            .iter()
            .map(|r| message_row(r, 0))
            .collect()
    }
}
