//! The message history the `console` scenario browses: `--messages` rows written straight into
//! the stopped server's `messages` table in large transactions, shaped as the store writes them
//! (ids as the server's id generator makes them, the stored texts of direction, send type and
//! status, template bodies copied from the message the server itself stored at setup), with the
//! queue entries of the ones still `accepted` and the 24-hour windows the inbound ones open.
//! The API could not build this: it stamps every message with the time it is sent, and leaves
//! its status to the provider. No events are written: the list page reads none, and the message
//! page is timed on the setup send, whose events the server wrote itself.
//!
//! Everything is a function of the row's index (a fixed pseudo-random sequence), so two runs seed
//! the same history and the searches can be picked from rows known to exist.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

/// The id generator's middle part (a server's is random per process; this one is the bench's).
const ID_PREFIX: u32 = 0x00be_4c4e;
const DAY_MS: i64 = 86_400_000;
/// How far back the history reaches.
pub const SPAN_MS: i64 = 30 * DAY_MS;
/// Rows per transaction.
const BATCH: u64 = 20_000;
/// The Ttl of the messages that expire (and the text the dispatcher stores for them).
const TTL_S: i64 = 3600;
const TTL_TEXT: &str = "not sent within its Ttl of 3600 s";
const TEXTS: [&str; 4] = [
    "Your order has shipped.",
    "Thanks, we got your message.",
    "Is there anything else we can help with?",
    "Your appointment is confirmed for tomorrow at 10:00.",
];
const REPLIES: [&str; 4] = [
    "hi",
    "where is my order?",
    "thanks!",
    "can I change the address?",
];

/// A template the seeded sends use, with its share of them (weights add up to 100).
pub struct Template {
    pub code: String,
    pub name: String,
    pub weight: u64,
}

/// What the history is made of.
pub struct History {
    pub messages: u64,
    pub account_id: i64,
    pub space_id: String,
    pub numbers: Vec<String>,
    pub users: Vec<String>,
    pub templates: Vec<Template>,
    pub language: String,
    /// `message_type` and body of a template send, as the server stored its setup send.
    pub template_type: String,
    pub template_body: String,
    /// The newest seeded message is a minute before this.
    pub now_ms: i64,
}

/// One seeded message.
pub struct Row<'a> {
    pub id: String,
    pub inbound: bool,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub send_type: &'static str,
    pub message_type: &'a str,
    pub template: Option<&'a Template>,
    pub body: Cow<'a, str>,
    pub task_id: Option<String>,
    pub ttl_secs: Option<i64>,
    pub status: &'static str,
    pub error: Option<(&'static str, &'static str)>,
    pub provider_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// splitmix64: a fixed sequence of well-mixed numbers from the row's index.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Outbound statuses and their shares (%).
const STATUSES: [(&str, u64); 6] = [
    ("read", 40),
    ("delivered", 35),
    ("failed", 12),
    ("sent", 9),
    ("expired", 3),
    ("accepted", 1),
];

impl History {
    pub fn start_ms(&self) -> i64 {
        self.now_ms - SPAN_MS
    }

    /// Row `i`'s creation time: evenly spread over the span, oldest first, so the rows go in in
    /// time order as a server writes them.
    pub fn created_at(&self, i: u64) -> i64 {
        let span = (SPAN_MS - 60_000) as i128;
        self.start_ms() + (i as i128 * span / self.messages.max(1) as i128) as i64
    }

    /// The first row created at or after `at_ms`.
    pub fn index_at(&self, at_ms: i64) -> u64 {
        let span = (SPAN_MS - 60_000) as i128;
        let from_start = (at_ms - self.start_ms()).max(0) as i128;
        let i = ((from_start * self.messages as i128 + span - 1) / span) as u64;
        i.min(self.messages.saturating_sub(1))
    }

    /// Row `i`: 20 % inbound texts; of the outbound, three in four template sends (four in five
    /// of those in a campaign with a TaskId: four campaigns a day, one per 6 hours), the others
    /// texts; uniform over the business numbers and users.
    pub fn row(&self, i: u64) -> Row<'_> {
        let mut r = Rng(i ^ 0x5eed_c0de);
        let created_at = self.created_at(i);
        let id = format!(
            "{:012x}{ID_PREFIX:08x}{:08x}",
            (created_at.max(0) as u64) & 0xffff_ffff_ffff,
            i as u32
        );
        let sender = self.numbers[r.below(self.numbers.len() as u64) as usize].as_str();
        let recipient = self.users[r.below(self.users.len() as u64) as usize].as_str();
        let provider_id = || format!("wamid.HBgM{id}");
        if r.below(100) < 20 {
            let text = REPLIES[r.below(REPLIES.len() as u64) as usize];
            let wamid = provider_id();
            let body = json!({"inbound": {
                "from": recipient, "id": wamid, "timestamp": (created_at / 1000).to_string(),
                "type": "text", "text": {"body": text},
            }});
            return Row {
                inbound: true,
                sender,
                recipient,
                send_type: "message",
                message_type: "text",
                template: None,
                body: Cow::Owned(body.to_string()),
                task_id: None,
                ttl_secs: None,
                status: "received",
                error: None,
                provider_id: Some(wamid),
                created_at,
                updated_at: created_at,
                id,
            };
        }
        let (template, task_id) = if r.below(4) < 3 {
            let mut pick = r.below(100);
            let t = self
                .templates
                .iter()
                .find(|t| {
                    let hit = pick < t.weight;
                    pick = pick.saturating_sub(t.weight);
                    hit
                })
                .or(self.templates.last());
            let age = created_at - self.start_ms();
            let task = (r.below(5) < 4)
                .then(|| format!("task-{:02}-{}", age / DAY_MS, (age % DAY_MS) / (DAY_MS / 4)));
            (t, task)
        } else {
            (None, None)
        };
        let mut pick = r.below(100);
        let status = STATUSES
            .iter()
            .find(|(_, share)| {
                let hit = pick < *share;
                pick = pick.saturating_sub(*share);
                hit
            })
            .map_or("delivered", |(s, _)| *s);
        let (error, ttl_secs, provider_id, after_ms) = match status {
            "accepted" => (None, None, None, 0),
            "expired" => (
                Some(("ttl_expired", TTL_TEXT)),
                Some(TTL_S),
                None,
                TTL_S * 1000 + 500,
            ),
            "failed" => (
                Some(("131026", "Message undeliverable")),
                None,
                Some(provider_id()),
                2_000,
            ),
            "sent" => (None, None, Some(provider_id()), 1_200),
            "delivered" => (None, None, Some(provider_id()), 3_000),
            _ => (
                None,
                None,
                Some(provider_id()),
                60_000 + r.below(3_600_000) as i64,
            ),
        };
        let (send_type, message_type, body) = match template {
            Some(_) => (
                "template",
                self.template_type.as_str(),
                Cow::Borrowed(self.template_body.as_str()),
            ),
            None => {
                let text = TEXTS[r.below(TEXTS.len() as u64) as usize];
                let body = json!({"content": {"type": "text", "cloud": {"body": text}}});
                ("message", "text", Cow::Owned(body.to_string()))
            }
        };
        Row {
            inbound: false,
            sender,
            recipient,
            send_type,
            message_type,
            template,
            body,
            task_id,
            ttl_secs,
            status,
            error,
            provider_id,
            created_at,
            updated_at: created_at + after_ms,
            id,
        }
    }
}

/// What seeding wrote and how long it took.
pub struct Seeded {
    pub rows: u64,
    pub queued: u64,
    pub windows: u64,
    pub seconds: f64,
    /// PostgreSQL: `VACUUM ANALYZE` of the seeded tables afterwards (what autovacuum would have
    /// done by the time a server holds that many messages), seconds.
    pub analyze_s: Option<f64>,
}

/// Progress on stderr every 10 %.
fn progress(done: u64, total: u64, t0: Instant) {
    let step = (total / 10).max(1);
    if done % step < BATCH.min(step) || done == total {
        let s = t0.elapsed().as_secs_f64();
        eprintln!(
            "  seeded {done} of {total} messages ({s:.1} s, {:.0}/s)",
            done as f64 / s.max(1e-9)
        );
    }
}

/// One column of a batch, for an `UNNEST` parameter.
fn col<'r, 'a: 'r, T>(rows: &'r [Row<'a>], f: impl Fn(&'r Row<'a>) -> T) -> Vec<T> {
    rows.iter().map(f).collect()
}

/// Latest inbound time per (business number, user), as `record_window` keeps it.
type Windows<'a> = HashMap<(&'a str, &'a str), i64>;

const COLS: &str = "id, account_id, space_id, direction, sender, recipient, send_type, \
     message_type, template_code, template_name, language, body, task_id, ttl_secs, status, \
     error_code, error_description, provider_id, created_at, updated_at";

/// Seeds the SQLite database of a stopped server (blocking: run it off the async runtime).
pub fn sqlite(db: &Path, h: &History) -> anyhow::Result<Seeded> {
    let mut c =
        rusqlite::Connection::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    // the fixture is rebuilt if the machine dies mid-way: no fsync per batch
    c.execute_batch("PRAGMA synchronous=OFF;")?;
    let t0 = Instant::now();
    let (mut queued, mut windows) = (0, Windows::new());
    let mut i = 0;
    while i < h.messages {
        let end = (i + BATCH).min(h.messages);
        let tx = c.transaction()?;
        {
            let mut ins = tx.prepare_cached(&format!(
                "INSERT INTO messages ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
                 ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))?;
            let mut enqueue =
                tx.prepare_cached("INSERT INTO queue (message_id, due_at) VALUES (?1, ?2)")?;
            for n in i..end {
                let m = h.row(n);
                ins.execute(rusqlite::params![
                    m.id,
                    h.account_id,
                    h.space_id,
                    if m.inbound { "in" } else { "out" },
                    m.sender,
                    m.recipient,
                    m.send_type,
                    m.message_type,
                    m.template.map(|t| t.code.as_str()),
                    m.template.map(|t| t.name.as_str()),
                    m.template.map(|_| h.language.as_str()),
                    m.body,
                    m.task_id,
                    m.ttl_secs,
                    m.status,
                    m.error.map(|e| e.0),
                    m.error.map(|e| e.1),
                    m.provider_id,
                    m.created_at,
                    m.updated_at,
                ])?;
                if m.status == "accepted" {
                    enqueue.execute(rusqlite::params![m.id, m.created_at])?;
                    queued += 1;
                }
                if m.inbound {
                    windows.insert((m.sender, m.recipient), m.created_at);
                }
            }
        }
        tx.commit()?;
        i = end;
        progress(i, h.messages, t0);
    }
    let tx = c.transaction()?;
    {
        let mut w = tx.prepare_cached(
            "INSERT INTO windows (sender, user, last_inbound_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (sender, user) DO UPDATE \
             SET last_inbound_at = max(last_inbound_at, excluded.last_inbound_at)",
        )?;
        for ((s, u), at) in &windows {
            w.execute(rusqlite::params![s, u, at])?;
        }
    }
    tx.commit()?;
    // the server starts on a checkpointed file, as after a quiet night
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(Seeded {
        rows: h.messages,
        queued,
        windows: windows.len() as u64,
        seconds: t0.elapsed().as_secs_f64(),
        analyze_s: None,
    })
}

/// Seeds the PostgreSQL database of the stopped nodes: one `INSERT … SELECT * FROM UNNEST(…)`
/// of column arrays per transaction, as the store's own batched inserts.
pub async fn postgres(url: &str, h: &History) -> anyhow::Result<Seeded> {
    let (mut c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c.batch_execute("SET synchronous_commit = off").await?;
    let insert = c
        .prepare(&format!(
            "INSERT INTO messages ({COLS}) SELECT * FROM UNNEST($1::text[], $2::bigint[], \
             $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], \
             $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[], \
             $16::text[], $17::text[], $18::text[], $19::bigint[], $20::bigint[])"
        ))
        .await?;
    let enqueue = c
        .prepare(
            "INSERT INTO queue (message_id, due_at) SELECT * FROM UNNEST($1::text[], $2::bigint[])",
        )
        .await?;
    let t0 = Instant::now();
    let (mut queued, mut windows) = (0, Windows::new());
    let mut i = 0;
    while i < h.messages {
        let end = (i + BATCH).min(h.messages);
        let rows: Vec<Row<'_>> = (i..end).map(|n| h.row(n)).collect();
        let n = rows.len();
        let ids = col(&rows, |m| m.id.as_str());
        let account = vec![h.account_id; n];
        let space = vec![h.space_id.as_str(); n];
        let direction = col(&rows, |m| if m.inbound { "in" } else { "out" });
        let sender = col(&rows, |m| m.sender);
        let recipient = col(&rows, |m| m.recipient);
        let send_type = col(&rows, |m| m.send_type);
        let message_type = col(&rows, |m| m.message_type);
        let code = col(&rows, |m| m.template.map(|t| t.code.as_str()));
        let name = col(&rows, |m| m.template.map(|t| t.name.as_str()));
        let language = col(&rows, |m| m.template.map(|_| h.language.as_str()));
        let body = col(&rows, |m| m.body.as_ref());
        let task = col(&rows, |m| m.task_id.as_deref());
        let ttl = col(&rows, |m| m.ttl_secs);
        let status = col(&rows, |m| m.status);
        let err_code = col(&rows, |m| m.error.map(|e| e.0));
        let err_text = col(&rows, |m| m.error.map(|e| e.1));
        let provider = col(&rows, |m| m.provider_id.as_deref());
        let created = col(&rows, |m| m.created_at);
        let updated = col(&rows, |m| m.updated_at);
        let (q_ids, q_due): (Vec<&str>, Vec<i64>) = rows
            .iter()
            .filter(|m| m.status == "accepted")
            .map(|m| (m.id.as_str(), m.created_at))
            .unzip();
        for m in rows.iter().filter(|m| m.inbound) {
            windows.insert((m.sender, m.recipient), m.created_at);
        }
        let tx = c.transaction().await?;
        tx.execute(
            &insert,
            &[
                &ids,
                &account,
                &space,
                &direction,
                &sender,
                &recipient,
                &send_type,
                &message_type,
                &code,
                &name,
                &language,
                &body,
                &task,
                &ttl,
                &status,
                &err_code,
                &err_text,
                &provider,
                &created,
                &updated,
            ],
        )
        .await?;
        tx.execute(&enqueue, &[&q_ids, &q_due]).await?;
        tx.commit().await?;
        queued += q_ids.len() as u64;
        i = end;
        progress(i, h.messages, t0);
    }
    let (w_sender, (w_user, w_at)): (Vec<&str>, (Vec<&str>, Vec<i64>)) =
        windows.iter().map(|((s, u), at)| (*s, (*u, *at))).unzip();
    c.execute(
        "INSERT INTO windows (sender, user_phone, last_inbound_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) \
         ON CONFLICT (sender, user_phone) DO UPDATE \
         SET last_inbound_at = GREATEST(windows.last_inbound_at, EXCLUDED.last_inbound_at)",
        &[&w_sender, &w_user, &w_at],
    )
    .await?;
    let seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    c.batch_execute("VACUUM ANALYZE messages, queue, windows")
        .await?;
    Ok(Seeded {
        rows: h.messages,
        queued,
        windows: windows.len() as u64,
        seconds,
        analyze_s: Some(t1.elapsed().as_secs_f64()),
    })
}
