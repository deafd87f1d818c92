//! SMS fallback timers and policies on PostgreSQL: timers are created with their message (in the
//! insert batches of `messages.rs`), claimed with `FOR UPDATE SKIP LOCKED` and a lease like queue
//! entries (so nodes never wait on or fire one twice while it is held), settled only by the
//! lease holder, and matched back from SMSC delivery reports.

use std::sync::LazyLock;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use opencams_domain::FallbackState;

use super::messages::{M_COLS, message_row};
use super::{PgStore, append_events, enum_col};
use crate::common::{
    fallback_decidable_sql, fallback_timer, hourly_fallbacks_sql, policy_aad, policy_id,
    text_to_list,
};
use crate::*;

/// The columns of a fallback, in [`fallback_row`]'s order.
const COLS: &str =
    "message_id, account_id, policy_id, state, due_at, attempts, sms_ids, text, error, updated_at";

/// How many columns [`fallback_row`] reads.
const NCOLS: usize = 10;

/// A fallback read from `r`'s columns `at..at + NCOLS`.
fn fallback_row(r: &Row, at: usize) -> Result<FallbackRow> {
    Ok(FallbackRow {
        message_id: r.try_get(at)?,
        account_id: r.try_get(at + 1)?,
        policy_id: r.try_get(at + 2)?,
        state: enum_col(r, at + 3, FallbackState::parse)?,
        due_at: r.try_get(at + 4)?,
        attempts: r.try_get(at + 5)?,
        sms_ids: text_to_list(r.try_get(at + 6)?).unwrap_or_default(),
        text: r.try_get(at + 7)?,
        error: r.try_get(at + 8)?,
        updated_at: r.try_get(at + 9)?,
    })
}

/// Inserts the fallback rows of a batch of messages (see [`Timers`]) from the placeholders
/// `$first..$first + 5`.
pub(super) fn insert_timers_sql(first: usize) -> String {
    let p = |i: usize| first + i;
    format!(
        "INSERT INTO fallbacks (message_id, account_id, policy_id, state, due_at, created_at, \
           updated_at) \
         SELECT m, a, p, s, d, c, c \
         FROM UNNEST(${}::text[], ${}::bigint[], ${}::text[], ${}::text[], ${}::bigint[], \
                     ${}::bigint[]) \
         AS t(m, a, p, s, d, c)",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    )
}

/// The fallback rows of the messages accepted with a FallBackId (see [`fallback_timer`]), as the
/// parameters of [`insert_timers_sql`].
pub(super) struct Timers<'a> {
    ids: Vec<&'a str>,
    accounts: Vec<i64>,
    policies: Vec<&'a str>,
    states: Vec<&'static str>,
    due: Vec<Option<i64>>,
    created: Vec<i64>,
}

impl<'a> Timers<'a> {
    pub(super) fn of(messages: &[&'a MessageRow]) -> Self {
        let mut t = Self {
            ids: Vec::new(),
            accounts: Vec::new(),
            policies: Vec::new(),
            states: Vec::new(),
            due: Vec::new(),
            created: Vec::new(),
        };
        for m in messages {
            if let Some((policy, state, due_at)) = fallback_timer(m) {
                t.ids.push(&m.id);
                t.accounts.push(m.account_id);
                t.policies.push(policy);
                t.states.push(state.as_str());
                t.due.push(due_at);
                t.created.push(m.created_at);
            }
        }
        t
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub(super) fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.ids,
            &self.accounts,
            &self.policies,
            &self.states,
            &self.due,
            &self.created,
        ]
    }
}

/// Leases up to `$4` fallbacks that must be decided at `$3` to `$1` until `$2` (see
/// [`fallback_decidable_sql`]), skipping those another claimer holds locked, and returns them
/// with their messages. Built once.
static CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    let decidable = fallback_decidable_sql("$3");
    let claimed_cols = super::messages::prefixed(COLS, "c");
    let m_cols = &*M_COLS;
    format!(
        "WITH due AS ( \
           SELECT f.message_id FROM fallbacks f JOIN messages m ON m.id = f.message_id \
           WHERE {decidable} \
           LIMIT $4 FOR UPDATE OF f SKIP LOCKED), \
         claimed AS ( \
           UPDATE fallbacks SET lease_owner = $1, lease_until = $2 FROM due \
           WHERE fallbacks.message_id = due.message_id \
           RETURNING fallbacks.*) \
         SELECT {claimed_cols}, {m_cols} FROM claimed c JOIN messages m ON m.id = c.message_id"
    )
});

/// Settles the fallback `$7` if `$8` holds its lease and records its SMS ids `$9`, in one
/// statement; returns how many fallbacks it settled.
const SETTLE_SQL: &str = "WITH settled AS ( \
       UPDATE fallbacks SET state = $1, due_at = $2, sms_ids = $3, text = COALESCE($4, text), \
         error = $5, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL, updated_at = $6 \
       WHERE message_id = $7 AND lease_owner = $8 RETURNING message_id), \
     sms AS ( \
       INSERT INTO fallback_sms (sms_id, message_id) \
       SELECT s, settled.message_id FROM settled, UNNEST($9::text[]) AS s \
       ON CONFLICT DO NOTHING) \
     SELECT COUNT(*) FROM settled";

/// Moves the fallback that sent SMS `$3` from `sent` to `$1` and returns it. Built once.
static REPORT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE fallbacks SET state = $1, updated_at = $2 \
         WHERE message_id = (SELECT message_id FROM fallback_sms WHERE sms_id = $3) AND state = 'sent' \
         RETURNING {COLS}"
    )
});

static GET_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {COLS} FROM fallbacks WHERE message_id = $1"));

/// Deletes policy `$2` of account `$1` at `$3` unless messages that may still fall back name it;
/// returns (how many such messages, how many policies it deleted).
const DELETE_POLICY_SQL: &str = "WITH waiting AS ( \
       SELECT COUNT(*) AS n FROM fallbacks WHERE account_id = $1 AND policy_id = $2 \
       AND state IN ('armed', 'scheduled', 'sending')), \
     deleted AS ( \
       UPDATE policies SET deleted_at = $3 \
       WHERE account_id = $1 AND id = $2 AND deleted_at IS NULL AND (SELECT n FROM waiting) = 0 \
       RETURNING id) \
     SELECT (SELECT n FROM waiting), (SELECT COUNT(*) FROM deleted)";

/// How often a policy is numbered again when another node took its number at the same time.
const NUMBERING_TRIES: usize = 8;

impl PgStore {
    async fn select_policies(&self, account_id: i64, id: Option<&str>) -> Result<Vec<Policy>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "SELECT id, name, channel, sender_id, connection_sealed, created_at FROM policies \
                 WHERE account_id = $1 AND ($2::text IS NULL OR id = $2) AND deleted_at IS NULL \
                 ORDER BY id COLLATE \"C\"",
            )
            .await?;
        c.query(&stmt, &[&account_id, &id])
            .await?
            .iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let sealed: &[u8] = r.try_get(4)?;
                let connection = self.cipher.open(&policy_aad(account_id, &id), sealed)?;
                Ok(Policy {
                    id,
                    account_id,
                    name: r.try_get(1)?,
                    channel: r.try_get(2)?,
                    sender_id: r.try_get(3)?,
                    connection,
                    created_at: r.try_get(5)?,
                })
            })
            .collect()
    }
}

/// The fallback of message `id`.
async fn get(c: &impl GenericClient, id: &str) -> Result<Option<FallbackRow>> {
    let stmt = c.prepare_cached(&GET_SQL).await?;
    c.query_opt(&stmt, &[&id])
        .await?
        .map(|r| fallback_row(&r, 0))
        .transpose()
}

#[async_trait::async_trait]
impl FallbackStore for PgStore {
    async fn create_policy(&self, p: NewPolicy, now: i64) -> Result<Policy> {
        let c = self.client().await?;
        let (count, insert) = tokio::join!(
            c.prepare_cached("SELECT COUNT(*) FROM policies WHERE account_id = $1"),
            c.prepare_cached(
                "INSERT INTO policies (id, account_id, name, channel, sender_id, connection_sealed, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
        );
        let (count, insert) = (count?, insert?);
        let mut tries = 0;
        loop {
            let n: i64 = c.query_one(&count, &[&p.account_id]).await?.try_get(0)?;
            let id = policy_id(n + 1);
            let sealed = self
                .cipher
                .seal(&policy_aad(p.account_id, &id), p.connection.expose())?;
            let params: [&(dyn ToSql + Sync); 7] = [
                &id,
                &p.account_id,
                &p.name,
                &p.channel,
                &p.sender_id,
                &sealed,
                &now,
            ];
            match c.execute(&insert, &params).await {
                Ok(_) => {
                    return Ok(Policy {
                        id,
                        account_id: p.account_id,
                        name: p.name.clone(),
                        channel: p.channel.clone(),
                        sender_id: p.sender_id.clone(),
                        connection: p.connection.clone(),
                        created_at: now,
                    });
                }
                // another node numbered a policy of this account at the same time: count again
                Err(e)
                    if tries + 1 < NUMBERING_TRIES
                        && e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
                {
                    tries += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn policy(&self, account_id: i64, id: &str) -> Result<Option<Policy>> {
        Ok(self.select_policies(account_id, Some(id)).await?.pop())
    }

    async fn list_policies(&self, account_id: i64) -> Result<Vec<Policy>> {
        self.select_policies(account_id, None).await
    }

    async fn delete_policy(&self, account_id: i64, id: &str, now: i64) -> Result<()> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(DELETE_POLICY_SQL).await?;
        let r = c.query_one(&stmt, &[&account_id, &id, &now]).await?;
        let (waiting, deleted): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        if waiting > 0 {
            return Err(StoreError::Conflict(format!(
                "policy {id} is still named by {waiting} message(s) that may fall back; delete it once they are settled"
            )));
        }
        if deleted == 0 {
            return Err(StoreError::NotFound(format!("policy {id}")));
        }
        Ok(())
    }

    async fn claim_fallbacks(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<(FallbackRow, MessageRow)>> {
        let c = self.client().await?;
        let stmt = c.prepare_cached(&CLAIM_SQL).await?;
        let (until, limit) = (now + lease_ms, i64::from(limit));
        let params: [&(dyn ToSql + Sync); 4] = [&owner, &until, &now, &limit];
        c.query(&stmt, &params)
            .await?
            .iter()
            .map(|r| Ok((fallback_row(r, 0)?, message_row(r, NCOLS)?)))
            .collect()
    }

    async fn settle_fallback(
        &self,
        message_id: &str,
        owner: &str,
        outcome: FallbackOutcome,
        events: Vec<NewEvent>,
        now: i64,
    ) -> Result<bool> {
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let stmt = tx.prepare_cached(SETTLE_SQL).await?;
        let o = &outcome;
        let sms_ids = o.sms_ids.join(",");
        let params: [&(dyn ToSql + Sync); 9] = [
            &o.state.as_str(),
            &o.due_at,
            &sms_ids,
            &o.text,
            &o.error,
            &now,
            &message_id,
            &owner,
            &o.sms_ids,
        ];
        let settled: i64 = tx.query_one(&stmt, &params).await?.try_get(0)?;
        if settled == 0 {
            return Ok(false);
        }
        append_events(&tx, &events, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn fallback_report(
        &self,
        sms_id: &str,
        delivered: bool,
        events: EventsFor,
        now: i64,
    ) -> Result<Option<(FallbackRow, MessageRow)>> {
        let state = if delivered {
            FallbackState::Delivered
        } else {
            FallbackState::Failed
        };
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let stmt = tx.prepare_cached(&REPORT_SQL).await?;
        let Some(r) = tx
            .query_opt(&stmt, &[&state.as_str(), &now, &sms_id])
            .await?
        else {
            return Ok(None);
        };
        let f = fallback_row(&r, 0)?;
        let Some(m) = super::messages::get(&tx, &f.message_id).await? else {
            // the report is recorded even so
            tx.commit().await?;
            return Ok(None);
        };
        append_events(&tx, &events(&f, &m), now).await?;
        tx.commit().await?;
        Ok(Some((f, m)))
    }

    async fn fallback(&self, message_id: &str) -> Result<Option<FallbackRow>> {
        let c = self.client().await?;
        get(&c, message_id).await
    }

    async fn hourly_fallbacks(
        &self,
        account_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<HourlyFallbacks>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&hourly_fallbacks_sql("$1", "$2", "$3", r#"COLLATE "C""#))
            .await?;
        let params: [&(dyn ToSql + Sync); 3] = [&account_id, &from, &to];
        c.query(&stmt, &params)
            .await?
            .iter()
            .map(|r| {
                Ok(HourlyFallbacks {
                    hour_ms: r.try_get(0)?,
                    state: enum_col(r, 1, FallbackState::parse)?,
                    count: r.try_get::<_, i64>(2)? as u64,
                })
            })
            .collect()
    }
}
