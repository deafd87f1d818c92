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
use super::fallbacks::{Timers, insert_timers_sql};
use super::{
    EventColumns, PgStore, append_events, append_events_at, append_events_sql, enum_col,
    in_transaction, opt_enum_col,
};
use crate::common::{
    SearchValue, hourly_counts_sql, number_metrics_sql, queued, status_change, status_moves_sql,
    template_metrics_sql, waiting_sql,
};
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

/// The columns of messages to insert, one array each, as the parameters of [`INSERT_SQL`] (in
/// [`COLS`]' order).
struct MessageColumns<'a> {
    id: Vec<&'a str>,
    account_id: Vec<i64>,
    space_id: Vec<&'a str>,
    direction: Vec<&'static str>,
    sender: Vec<&'a str>,
    recipient: Vec<&'a str>,
    send_type: Vec<&'static str>,
    message_type: Vec<&'a str>,
    template_code: Vec<Option<&'a str>>,
    template_name: Vec<Option<&'a str>>,
    language: Vec<Option<&'a str>>,
    body: Vec<&'a str>,
    task_id: Vec<Option<&'a str>>,
    tag: Vec<Option<&'a str>>,
    tracking_data: Vec<Option<&'a str>>,
    label: Vec<Option<&'a str>>,
    ttl_secs: Vec<Option<i64>>,
    fallback_id: Vec<Option<&'a str>>,
    fallback_content: Vec<Option<&'a str>>,
    fallback_duration: Vec<Option<i64>>,
    fallback_rule: Vec<Option<&'static str>>,
    group_id: Vec<Option<&'a str>>,
    context_id: Vec<Option<&'a str>>,
    status: Vec<&'static str>,
    error_code: Vec<Option<&'a str>>,
    error_description: Vec<Option<&'a str>>,
    provider_id: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
}

impl<'a> MessageColumns<'a> {
    fn of(messages: &[&'a MessageRow]) -> Self {
        Self {
            id: messages.iter().map(|m| m.id.as_str()).collect(),
            account_id: messages.iter().map(|m| m.account_id).collect(),
            space_id: messages.iter().map(|m| m.space_id.as_str()).collect(),
            direction: messages.iter().map(|m| m.direction.as_str()).collect(),
            sender: messages.iter().map(|m| m.sender.as_str()).collect(),
            recipient: messages.iter().map(|m| m.recipient.as_str()).collect(),
            send_type: messages.iter().map(|m| m.send_type.as_str()).collect(),
            message_type: messages.iter().map(|m| m.message_type.as_str()).collect(),
            template_code: messages
                .iter()
                .map(|m| m.template_code.as_deref())
                .collect(),
            template_name: messages
                .iter()
                .map(|m| m.template_name.as_deref())
                .collect(),
            language: messages.iter().map(|m| m.language.as_deref()).collect(),
            body: messages.iter().map(|m| m.body.as_str()).collect(),
            task_id: messages.iter().map(|m| m.task_id.as_deref()).collect(),
            tag: messages.iter().map(|m| m.tag.as_deref()).collect(),
            tracking_data: messages
                .iter()
                .map(|m| m.tracking_data.as_deref())
                .collect(),
            label: messages.iter().map(|m| m.label.as_deref()).collect(),
            ttl_secs: messages.iter().map(|m| m.ttl_secs).collect(),
            fallback_id: messages.iter().map(|m| m.fallback_id.as_deref()).collect(),
            fallback_content: messages
                .iter()
                .map(|m| m.fallback_content.as_deref())
                .collect(),
            fallback_duration: messages.iter().map(|m| m.fallback_duration).collect(),
            fallback_rule: messages
                .iter()
                .map(|m| m.fallback_rule.map(FallBackRule::as_str))
                .collect(),
            group_id: messages.iter().map(|m| m.group_id.as_deref()).collect(),
            context_id: messages.iter().map(|m| m.context_id.as_deref()).collect(),
            status: messages.iter().map(|m| m.status.as_str()).collect(),
            error_code: messages.iter().map(|m| m.error_code.as_deref()).collect(),
            error_description: messages
                .iter()
                .map(|m| m.error_description.as_deref())
                .collect(),
            provider_id: messages.iter().map(|m| m.provider_id.as_deref()).collect(),
            created_at: messages.iter().map(|m| m.created_at).collect(),
            updated_at: messages.iter().map(|m| m.updated_at).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); NCOLS] {
        [
            &self.id,
            &self.account_id,
            &self.space_id,
            &self.direction,
            &self.sender,
            &self.recipient,
            &self.send_type,
            &self.message_type,
            &self.template_code,
            &self.template_name,
            &self.language,
            &self.body,
            &self.task_id,
            &self.tag,
            &self.tracking_data,
            &self.label,
            &self.ttl_secs,
            &self.fallback_id,
            &self.fallback_content,
            &self.fallback_duration,
            &self.fallback_rule,
            &self.group_id,
            &self.context_id,
            &self.status,
            &self.error_code,
            &self.error_description,
            &self.provider_id,
            &self.created_at,
            &self.updated_at,
        ]
    }
}

/// The queue entries of the outbound messages still `accepted` (due at once), as the parameters
/// of [`ENQUEUE_SQL`].
struct QueueColumns<'a> {
    ids: Vec<&'a str>,
    due: Vec<i64>,
}

impl<'a> QueueColumns<'a> {
    fn of(messages: &[&'a MessageRow]) -> Self {
        let waiting = messages.iter().filter(|m| queued(m));
        Self {
            ids: waiting.clone().map(|m| m.id.as_str()).collect(),
            due: waiting.map(|m| m.created_at).collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 2] {
        [&self.ids, &self.due]
    }
}

/// Inserts `messages` with their queue entries and fallback timers in `tx`, the three inserts
/// pipelined; returns how many messages were inserted. `inbound`: see [`INSERT_INBOUND_SQL`]
/// (the caller rolls back when none was).
async fn insert_rows(
    tx: &impl GenericClient,
    messages: &[&MessageRow],
    inbound: bool,
) -> Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let columns = MessageColumns::of(messages);
    let queue = QueueColumns::of(messages);
    let timers = Timers::of(messages);
    let insert_sql: &str = if inbound {
        &INSERT_INBOUND_SQL
    } else {
        &INSERT_SQL
    };
    let (insert, enqueue, arm) = tokio::join!(
        tx.prepare_cached(insert_sql),
        tx.prepare_cached(ENQUEUE_SQL),
        tx.prepare_cached(&INSERT_TIMERS_SQL)
    );
    let (insert, enqueue, arm) = (insert?, enqueue?, arm?);
    let params = columns.params();
    // pipelined, sent in this order on the first poll; the first error is the one to report (the
    // statements after a failed one only say that the transaction is aborted)
    let (inserted, enqueued, armed) = tokio::join!(
        tx.execute(&insert, &params),
        async {
            if queue.ids.is_empty() {
                return Ok(0);
            }
            tx.execute(&enqueue, &queue.params()).await
        },
        async {
            if timers.is_empty() {
                return Ok(0);
            }
            tx.execute(&arm, &timers.params()).await
        }
    );
    let inserted = inserted?;
    enqueued?;
    armed?;
    Ok(inserted)
}

static INSERT_TIMERS_SQL: LazyLock<String> = LazyLock::new(|| insert_timers_sql(1));

/// Accepted sends in one statement, committed on its own: the messages, their queue entries,
/// fallback timers and events, each a data-modifying CTE, from [`MessageColumns`],
/// [`QueueColumns`], [`Timers`] and [`EventColumns`] in that order. One statement instead of a
/// transaction of four saves PostgreSQL three answers, each a socket write (BENCHMARKS.md).
static INSERT_ACCEPTED_SQL: LazyLock<String> = LazyLock::new(|| {
    let (q, t, e) = (NCOLS + 1, NCOLS + 3, NCOLS + 9);
    format!(
        "WITH inserted AS ({} RETURNING 1), \
           enqueued AS (INSERT INTO queue (message_id, due_at) \
             SELECT * FROM UNNEST(${q}::text[], ${}::bigint[])), \
           armed AS ({}), \
           appended AS ({}) \
         SELECT COUNT(*) FROM inserted",
        *INSERT_SQL,
        q + 1,
        insert_timers_sql(t),
        append_events_sql(e)
    )
});

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

/// Stores the messages, queue entries, fallback timers and events of `inserts` in one statement
/// ([`INSERT_ACCEPTED_SQL`]). The events of a call are created at its first message's time.
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
    let (columns, queue, timers, events) = (
        MessageColumns::of(&messages),
        QueueColumns::of(&messages),
        Timers::of(&messages),
        EventColumns::of(&events),
    );
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(NCOLS + 13);
    params.extend(columns.params());
    params.extend(queue.params());
    params.extend(timers.params());
    params.extend(events.params());
    let stmt = c.prepare_cached(&INSERT_ACCEPTED_SQL).await?;
    c.query_one(&stmt, &params).await?;
    Ok(())
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

/// Settles `settles` in one transaction, appending the events of those that ended last; for
/// each, whether its owner still held the lease.
async fn settle_together(pool: &Pool, settles: &[&Settle]) -> Result<Vec<bool>> {
    let c = pool.get().await?;
    // the usual batch, submissions of distinct messages, is one statement that commits alone
    let submissions = settles
        .iter()
        .all(|s| matches!(s.outcome, Settlement::Submitted { .. }));
    let distinct = || {
        let ids: std::collections::HashSet<&str> = settles.iter().map(|s| s.id.as_str()).collect();
        ids.len() == settles.len()
    };
    if submissions && distinct() {
        return settle_on(&c, settles).await;
    }
    in_transaction(&c, settle_on(&c, settles)).await
}

/// [`settle_together`]'s statements, on `tx` (in its transaction): one set-based statement per
/// kind of outcome and [`rounds`] round (one round unless a message is settled twice in the
/// batch), pipelined. A statement per settlement cost PostgreSQL more in statement overhead and
/// socket writes than the rows' work (BENCHMARKS.md).
async fn settle_on(tx: &super::Client, settles: &[&Settle]) -> Result<Vec<bool>> {
    let (submitted, retry, ended) = tokio::join!(
        tx.prepare_cached(SETTLE_SUBMITTED_SQL),
        tx.prepare_cached(SETTLE_RETRY_SQL),
        tx.prepare_cached(SETTLE_ENDED_SQL)
    );
    let (submitted, retry, ended) = (submitted?, retry?, ended?);
    let mut order: Vec<usize> = (0..settles.len()).collect();
    order.sort_by(|&a, &b| lock_order(settles[a]).cmp(&lock_order(settles[b])));
    // per round, the settlements of each kind in lock order: those without a provider id come
    // first in that order, so retries and ends run before submissions
    let round_of = rounds(
        order
            .iter()
            .map(|&i| [Some((0, settles[i].id.as_str())), None]),
    );
    let mut groups: Vec<[Vec<usize>; 3]> = Vec::new();
    for (&i, &r) in order.iter().zip(&round_of) {
        if groups.len() <= r {
            groups.resize_with(r + 1, Default::default);
        }
        let kind = match settles[i].outcome {
            Settlement::Retry { .. } => 0,
            Settlement::Ended { .. } => 1,
            Settlement::Submitted { .. } => 2,
        };
        groups[r][kind].push(i);
    }
    let runs = groups
        .iter()
        .flat_map(|g| g.iter().enumerate())
        .filter(|(_, group)| !group.is_empty())
        .map(|(kind, group)| {
            let (submitted, retry, ended) = (&submitted, &retry, &ended);
            async move {
                let of = |i: &usize| settles[*i];
                let ids: Vec<&str> = group.iter().map(|i| of(i).id.as_str()).collect();
                let owners: Vec<&str> = group.iter().map(|i| of(i).owner.as_str()).collect();
                let nows: Vec<i64> = group.iter().map(|i| of(i).now).collect();
                let rows = match kind {
                    0 => {
                        let (mut dues, mut errors) = (Vec::new(), Vec::new());
                        for i in group {
                            if let Settlement::Retry { due_at, error } = &of(i).outcome {
                                dues.push(*due_at);
                                errors.push(error.as_str());
                            }
                        }
                        let params: [&(dyn ToSql + Sync); 5] =
                            [&ids, &owners, &dues, &errors, &nows];
                        tx.query(retry, &params).await?
                    }
                    1 => {
                        let (mut statuses, mut codes, mut descriptions) =
                            (Vec::new(), Vec::new(), Vec::new());
                        for i in group {
                            if let Settlement::Ended {
                                status,
                                error_code,
                                error_description,
                                ..
                            } = &of(i).outcome
                            {
                                statuses.push(status.as_str());
                                codes.push(error_code.as_str());
                                descriptions.push(error_description.as_str());
                            }
                        }
                        let params: [&(dyn ToSql + Sync); 6] =
                            [&ids, &owners, &statuses, &codes, &descriptions, &nows];
                        tx.query(ended, &params).await?
                    }
                    _ => {
                        let providers: Vec<&str> = group
                            .iter()
                            .filter_map(|i| match &of(i).outcome {
                                Settlement::Submitted { provider_id } => Some(provider_id.as_str()),
                                _ => None,
                            })
                            .collect();
                        let params: [&(dyn ToSql + Sync); 4] = [&ids, &owners, &providers, &nows];
                        tx.query(submitted, &params).await?
                    }
                };
                let released = rows
                    .iter()
                    .map(|r| r.try_get::<_, String>(0))
                    .collect::<std::result::Result<std::collections::HashSet<_>, _>>()?;
                Ok::<_, StoreError>(
                    group
                        .iter()
                        .map(|&i| (i, released.contains(&settles[i].id)))
                        .collect::<Vec<_>>(),
                )
            }
        });
    // pipelined: every statement goes out before the first answer comes back, and the server
    // runs them in this order
    let results = futures_util::future::try_join_all(runs).await?;
    let mut released = vec![false; settles.len()];
    for (i, ok) in results.into_iter().flatten() {
        released[i] |= ok;
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

/// The round of each of a batch's items (given in order by their keys, up to two each): the one
/// after the last round holding any of its keys. No round holds two items sharing a key, and the
/// items of one key keep their order across rounds. Each round is one set-based statement, in
/// which a row matched by two items would be changed only once.
fn rounds<'a>(keys: impl Iterator<Item = [Option<(u8, &'a str)>; 2]>) -> Vec<usize> {
    let mut last: std::collections::HashMap<(u8, &str), usize> = std::collections::HashMap::new();
    keys.map(|item| {
        let round = item
            .iter()
            .flatten()
            .filter_map(|k| last.get(k).map(|r| r + 1))
            .max()
            .unwrap_or(0);
        for k in item.into_iter().flatten() {
            last.insert(k, round);
        }
        round
    })
    .collect()
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

// a settlement ends or releases the queue entries only for their lease holders, and changes
// the messages only where that happened, in one statement per kind of outcome; each returns the
// ids of the messages it released

const SETTLE_SUBMITTED_SQL: &str = "WITH released AS ( \
       DELETE FROM queue q \
       USING UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[]) AS s(id, owner, pid, at) \
       WHERE q.message_id = s.id AND q.lease_owner = s.owner \
       RETURNING q.message_id, s.pid, s.at), \
     changed AS ( \
       UPDATE messages m SET provider_id = r.pid, updated_at = GREATEST(m.updated_at, r.at) \
       FROM released r WHERE m.id = r.message_id RETURNING m.id) \
     SELECT message_id FROM released";

const SETTLE_RETRY_SQL: &str = "WITH released AS ( \
       UPDATE queue q SET due_at = s.due, attempts = q.attempts + 1, lease_owner = NULL, \
         lease_until = NULL \
       FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[]) \
         AS s(id, owner, due, error, at) \
       WHERE q.message_id = s.id AND q.lease_owner = s.owner \
       RETURNING q.message_id, s.error, s.at), \
     changed AS ( \
       UPDATE messages m SET error_description = r.error, updated_at = r.at \
       FROM released r WHERE m.id = r.message_id RETURNING m.id) \
     SELECT message_id FROM released";

const SETTLE_ENDED_SQL: &str = "WITH released AS ( \
       DELETE FROM queue q \
       USING UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) \
         AS s(id, owner, status, code, description, at) \
       WHERE q.message_id = s.id AND q.lease_owner = s.owner \
       RETURNING q.message_id, s.status, s.code, s.description, s.at), \
     changed AS ( \
       UPDATE messages m SET status = r.status, error_code = r.code, \
         error_description = r.description, updated_at = r.at \
       FROM released r WHERE m.id = r.message_id RETURNING m.id) \
     SELECT message_id FROM released";

// provider statuses

/// The columns a status reads and writes, in [`status_row`]'s order.
const STATUS_COLS: &str =
    "id, account_id, status, error_code, error_description, provider_id, updated_at";
const STATUS_NCOLS: usize = 7;

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

/// Finds, checks and updates a round of statuses (no two for one message: [`rounds`]) in one
/// statement, in the order of [`status_moves_sql`], and returns each changed message with the
/// status's position in the round (last). Built once. A status can overtake the settlement that
/// records the provider id: the provider echoes our MessageId (`mid`) in
/// `biz_opaque_callback_data`, so a message without a provider id is found by it too, and the id
/// recorded. When that settlement holds the row, the UPDATE waits for its commit and then finds
/// the row by the provider id.
static CHANGE_STATUS_SQL: LazyLock<String> = LazyLock::new(|| {
    let moves = status_moves_sql("m.status", "u.failed", "u.rank");
    let cols = prefixed(STATUS_COLS, "m");
    format!(
        "UPDATE messages m SET status = u.status, \
           error_code = CASE WHEN u.failed THEN u.code ELSE m.error_code END, \
           error_description = CASE WHEN u.failed THEN u.description ELSE m.error_description END, \
           updated_at = GREATEST(m.updated_at, u.at), provider_id = u.pid \
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bool[], \
                     $7::int4[], $8::text[]) \
           WITH ORDINALITY AS u(pid, status, code, description, at, failed, rank, mid, n) \
         WHERE (m.provider_id = u.pid \
                OR (u.mid IS NOT NULL AND m.id = u.mid AND m.direction = 'out' \
                    AND m.provider_id IS NULL)) \
           AND {moves} \
         RETURNING {cols}, u.n"
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
    // the statuses that may change their message (positions in `order`), in rounds
    let moving: Vec<(usize, bool, i32)> = order
        .iter()
        .enumerate()
        .filter_map(|(k, at)| status_change(update(at)).map(|(failed, rank)| (k, failed, rank)))
        .collect();
    let round_of = rounds(moving.iter().map(|&(k, ..)| {
        let u = update(&order[k]);
        [
            Some((0, u.provider_id.as_str())),
            u.message_id.as_deref().map(|m| (1, m)),
        ]
    }));
    let mut groups: Vec<Vec<(usize, bool, i32)>> = Vec::new();
    for (&m, &r) in moving.iter().zip(&round_of) {
        if groups.len() <= r {
            groups.resize_with(r + 1, Vec::new);
        }
        groups[r].push(m);
    }
    // pipelined: every round goes out before the first answer comes back, and the server runs
    // them in this order
    let runs = groups.iter().map(|group| {
        let (change, order) = (&change, &order);
        async move {
            let of = |k: usize| update(&order[k]);
            let providers: Vec<&str> = group.iter().map(|g| of(g.0).provider_id.as_str()).collect();
            let statuses: Vec<&str> = group.iter().map(|g| of(g.0).status.as_str()).collect();
            let codes: Vec<Option<&str>> = group
                .iter()
                .map(|g| of(g.0).error_code.as_deref())
                .collect();
            let descriptions: Vec<Option<&str>> = group
                .iter()
                .map(|g| of(g.0).error_description.as_deref())
                .collect();
            let ats: Vec<i64> = group.iter().map(|g| of(g.0).at).collect();
            let failed: Vec<bool> = group.iter().map(|g| g.1).collect();
            let ranks: Vec<i32> = group.iter().map(|g| g.2).collect();
            let mids: Vec<Option<&str>> = group
                .iter()
                .map(|g| of(g.0).message_id.as_deref())
                .collect();
            let params: [&(dyn ToSql + Sync); 8] = [
                &providers,
                &statuses,
                &codes,
                &descriptions,
                &ats,
                &failed,
                &ranks,
                &mids,
            ];
            let mut out = Vec::new();
            for r in tx.query(change, &params).await? {
                let n: i64 = r.try_get(STATUS_NCOLS)?;
                let at = usize::try_from(n - 1)
                    .ok()
                    .and_then(|i| group.get(i))
                    .ok_or_else(|| StoreError::Database(format!("status round: no input {n}")))?;
                out.push((at.0, status_row(&r)?));
            }
            Ok::<_, StoreError>(out)
        }
    });
    let mut changed: Vec<Option<MessageStatusRow>> = vec![None; order.len()];
    for (k, m) in futures_util::future::try_join_all(runs)
        .await?
        .into_iter()
        .flatten()
    {
        changed[k] = Some(m);
    }
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
        use crate::common::{SearchValue, message_search};
        let c = self.client().await?;
        // a statement per combination of filters given, each prepared once per connection
        let (sql, values) = message_search(
            &f,
            &format!("SELECT {COLS} FROM messages"),
            |n| format!("${n}"),
            |p| format!("status = ANY({p}::text[])"),
            r#" COLLATE "C""#,
        );
        let stmt = c.prepare_cached(&sql).await?;
        let owned: Vec<Box<dyn ToSql + Sync + Send + '_>> = values
            .into_iter()
            .map(|v| -> Box<dyn ToSql + Sync + Send + '_> {
                match v {
                    SearchValue::Text(t) => Box::new(t),
                    SearchValue::Int(i) => Box::new(i),
                    SearchValue::Texts(l) => Box::new(l),
                }
            })
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = owned
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect();
        c.query(&stmt, &params)
            .await?
            .iter()
            .map(|r| message_row(r, 0))
            .collect()
    }

    async fn hourly_counts(&self, account_id: i64, from: i64, to: i64) -> Result<Vec<HourlyCount>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&hourly_counts_sql("$1", "$2", "$3", r#"COLLATE "C""#))
            .await?;
        let params: [&(dyn ToSql + Sync); 3] = [&account_id, &from, &to];
        c.query(&stmt, &params)
            .await?
            .iter()
            .map(|r| {
                Ok(HourlyCount {
                    hour_ms: r.try_get(0)?,
                    status: enum_col(r, 1, MessageStatus::parse)?,
                    direction: enum_col(r, 2, Direction::parse)?,
                    count: r.try_get::<_, i64>(3)? as u64,
                })
            })
            .collect()
    }

    async fn waiting(&self, account_id: i64) -> Result<Vec<Waiting>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&waiting_sql("$1", r#"COLLATE "C""#))
            .await?;
        c.query(&stmt, &[&account_id])
            .await?
            .iter()
            .map(|r| {
                Ok(Waiting {
                    sender: r.try_get(0)?,
                    count: r.try_get::<_, i64>(1)? as u64,
                    oldest_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn number_metrics(
        &self,
        q: MetricQuery,
        sender: Option<String>,
    ) -> Result<Vec<MetricCount>> {
        let c = self.client().await?;
        let (sql, values) =
            number_metrics_sql(&q, sender.as_deref(), |n| format!("${n}"), r#"COLLATE "C""#);
        let stmt = c.prepare_cached(&sql).await?;
        let owned = bound(values);
        c.query(&stmt, &params_of(&owned))
            .await?
            .iter()
            .map(metric_count)
            .collect()
    }

    async fn template_metrics(
        &self,
        q: MetricQuery,
        code: String,
        language: Option<String>,
    ) -> Result<TemplateMetrics> {
        let c = self.client().await?;
        // an inbound body is always the JSON ingest wrote (`{"inbound": <message>}`)
        let text = "(i.body::jsonb) #>> '{inbound,button,text}'";
        let (counts_sql, clicks_sql, values) = template_metrics_sql(
            &q,
            &code,
            language.as_deref(),
            |n| format!("${n}"),
            r#"COLLATE "C""#,
            text,
        );
        let owned = bound(values);
        let params = params_of(&owned);
        let stmt = c.prepare_cached(&counts_sql).await?;
        let counts = c
            .query(&stmt, &params)
            .await?
            .iter()
            .map(metric_count)
            .collect::<Result<Vec<_>>>()?;
        let stmt = c.prepare_cached(&clicks_sql).await?;
        let clicks = c
            .query(&stmt, &params)
            .await?
            .iter()
            .map(|r| {
                Ok(ButtonClicks {
                    language: r.try_get(0)?,
                    bucket_ms: r.try_get(1)?,
                    text: r.try_get(2)?,
                    count: r.try_get::<_, i64>(3)? as u64,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TemplateMetrics { counts, clicks })
    }
}

/// The values of a statement built in `common`, boxed for binding.
fn bound(values: Vec<SearchValue<'_>>) -> Vec<Box<dyn ToSql + Sync + Send + '_>> {
    values
        .into_iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send + '_> {
            match v {
                SearchValue::Text(t) => Box::new(t),
                SearchValue::Int(i) => Box::new(i),
                SearchValue::Texts(l) => Box::new(l),
            }
        })
        .collect()
}

/// [`bound`]'s values as `query` takes them.
fn params_of<'a>(owned: &'a [Box<dyn ToSql + Sync + Send + 'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    owned
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// A [`MetricCount`] from (key, bucket, sent, delivered, read).
fn metric_count(r: &Row) -> Result<MetricCount> {
    Ok(MetricCount {
        key: r.try_get(0)?,
        bucket_ms: r.try_get(1)?,
        sent: r.try_get::<_, i64>(2)? as u64,
        delivered: r.try_get::<_, i64>(3)? as u64,
        read: r.try_get::<_, i64>(4)? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::rounds;

    #[test]
    fn rounds_keep_each_keys_order_and_never_share_a_key() {
        let k = |a: &'static str, b: Option<&'static str>| [Some((0, a)), b.map(|b| (1, b))];
        let items = [
            k("p1", Some("m1")),
            k("p2", None),
            k("p1", None),       // after the first p1
            k("p3", Some("m1")), // m1 again: after the first item
            k("p1", Some("m9")), // after the second p1
            k("p4", None),
        ];
        assert_eq!(rounds(items.into_iter()), vec![0, 0, 1, 1, 2, 0]);
        // the same text as a different kind of key is another key
        let apart = [[Some((0, "x")), None], [Some((1, "x")), None]];
        assert_eq!(rounds(apart.into_iter()), vec![0, 0]);
        assert!(rounds(std::iter::empty()).is_empty());
    }
}
