//! The PostgreSQL backend: several `opencams serve` nodes share one database, with no leader.
//!
//! Driver: tokio-postgres with a deadpool pool. It pipelines (queries issued concurrently on
//! one connection go out without waiting for each other's answers), prepares statements once
//! per connection, and maps our column types one to one; it builds lighter than sqlx (no
//! macros, no offline query cache) and is the driver sqlx's own PostgreSQL support was measured
//! against. Migrations are refinery's (versioned SQL files under `migrations/`, embedded at
//! build time), run at start under a session advisory lock so that nodes starting together do
//! not race them.
//!
//! Claims (queue, fallback timers, callback endpoints) use `FOR UPDATE SKIP LOCKED` with leases
//! owned by a node id, so nodes never wait for one another's rows. Event ids come from a
//! sequence before commit; the callback router never passes a missing id that a transaction in
//! flight may still commit (see `events.rs`), so no lock orders the writers. Accepted sends are committed before the answer, and
//! concurrent ones share a transaction (see `messages.rs`).

mod accounts;
mod batch;
mod events;
mod fallbacks;
mod limits;
mod messages;
mod nonces;
mod numbers;
mod templates;
pub mod testdb;
mod users;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::{Change, Cipher, NewEvent, Result, Store, StoreError};

mod embedded {
    refinery::embed_migrations!("src/postgres/migrations");
}

/// Connections kept per node. Each serves several pipelined queries at once.
const POOL_SIZE: usize = 16;

/// Connections kept per node for writes that need not wait for the WAL flush.
const VOLATILE_POOL_SIZE: usize = 4;

/// How every connection plans: with index scans and nested loops only. Every statement opencams
/// runs finds its rows by key (a batch of keys at most), and its prepared statements keep the
/// generic plan PostgreSQL makes once, from the tables' sizes at that moment. On a fresh database
/// those are a few rows, for which a sequential scan and a hash join are cheapest; that plan then
/// stayed while the tables grew to thousands of rows, until an ANALYZE a minute or more away: in
/// the e2e benchmark every token take scanned all the pair buckets (4 ms a call) and every status
/// update all the messages (1 ms). Without a choice, the planner takes the index. A table with
/// no index to use is still scanned, at a cost inflated past JIT's threshold, so JIT is off too:
/// it compiled each such statement for 100 ms (and pays off only for long analytic queries).
const PLAN_OPTIONS: &str =
    "-c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off -c jit=off";

/// The volatile pool's connections also commit without waiting for the WAL flush.
const VOLATILE_OPTIONS: &str = "-c synchronous_commit=off";

/// `config` with `options` after any the URL gave.
fn with_options(config: &tokio_postgres::Config, options: &str) -> tokio_postgres::Config {
    let mut config = config.clone();
    let given = config.get_options().unwrap_or_default();
    config.options(format!("{given} {options}").trim());
    config
}

/// The advisory lock key of migrations (any constant unique to opencams: "ocmig" in ASCII).
const MIGRATION_LOCK: i64 = 0x6f_63_6d_69_67;

/// The channel every node LISTENs on; payloads are [`Change::as_str`].
const CHANGES_CHANNEL: &str = "opencams_changes";

pub struct PgStore {
    pool: Pool,
    /// Connections whose commits do not wait for the WAL flush (`synchronous_commit = off`), for
    /// what a database crash may lose without harm: rate-limit tokens and nonce claims (a crash
    /// forgets at most the last moments of nonces, which each node also holds in memory).
    volatile: Pool,
    pub(crate) cipher: Cipher,
    changes: tokio::sync::broadcast::Sender<Change>,
    listener: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Gather concurrent `insert_messages`, `settle` and `apply_statuses` calls into shared
    /// transactions.
    inserts: batch::Batcher<messages::Insert>,
    settles: batch::Batcher<messages::Settle>,
    statuses: batch::Batcher<messages::Statuses>,
    /// When this node last swept idle rate-limit buckets (see `limits.rs`).
    buckets_swept_at: std::sync::atomic::AtomicI64,
    /// Rate-limit buckets known to exist (see `limits.rs`).
    known_buckets: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// A pooled connection.
pub(crate) type Client = deadpool_postgres::Object;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            // class 23: integrity constraint violation (unique, foreign key, check, not null)
            Some(db) if db.code().code().starts_with("23") => {
                StoreError::Conflict(db.message().to_string())
            }
            // class 08: connection exception; 57P01–57P03: the server shuts down or restarts;
            // 53300: too many connections
            Some(db)
                if db.code().code().starts_with("08")
                    || ["57P01", "57P02", "57P03", "53300"].contains(&db.code().code()) =>
            {
                StoreError::Unavailable(format!("{}: {}", db.code().code(), db.message()))
            }
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            // the connection is gone, or the server never answered
            None if e.is_closed()
                || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) =>
            {
                StoreError::Unavailable(e.to_string())
            }
            None => StoreError::Database(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            // no new connection could be made, whatever the server said: the database is not
            // available to this node now
            deadpool_postgres::PoolError::Backend(e) => {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}"))
            }
            deadpool_postgres::PoolError::Closed => StoreError::Closed,
            other => {
                StoreError::Unavailable(format!("cannot get a PostgreSQL connection: {other}"))
            }
        }
    }
}

/// Reads a text column holding a domain vocabulary back into its value; a text the domain does
/// not know is an error, not a silent default.
pub(crate) fn enum_col<T>(r: &Row, idx: usize, parse: impl Fn(&str) -> Option<T>) -> Result<T> {
    let text: &str = r.try_get(idx)?;
    parse(text).ok_or_else(|| {
        StoreError::Database(format!("unknown stored value {text:?} in column {idx}"))
    })
}

/// [`enum_col`] of a nullable column.
pub(crate) fn opt_enum_col<T>(
    r: &Row,
    idx: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>> {
    match r.try_get::<_, Option<&str>>(idx)? {
        None => Ok(None),
        Some(text) => parse(text).map(Some).ok_or_else(|| {
            StoreError::Database(format!("unknown stored value {text:?} in column {idx}"))
        }),
    }
}

/// Runs `work` in a transaction on `c` and commits it, or rolls it back when `work` fails. BEGIN
/// goes out with `work`'s first statements instead of a round trip ahead of them (a
/// [`deadpool_postgres::Transaction`] waits for BEGIN's answer): `work` must run its statements
/// on `c`, which the server receives after BEGIN since it is sent on the first poll. The batched
/// writes use it; a `work` dropped halfway (only when the runtime stops) would leave the
/// connection in its transaction, so it is for tasks that run to their end.
pub(crate) async fn in_transaction<T>(
    c: &Client,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let (begun, out) = tokio::join!(c.batch_execute("BEGIN"), work);
    match (begun, out) {
        (Ok(()), Ok(out)) => {
            c.batch_execute("COMMIT").await?;
            Ok(out)
        }
        (begun, out) => {
            if let Err(e) = c.batch_execute("ROLLBACK").await {
                tracing::warn!(error = %e, "rolling back a failed batch failed");
            }
            begun?;
            out
        }
    }
}

/// Appends `events` (in order) inside `tx`. Call it last in the transaction, after the rows it
/// changes are locked: two writes to one message then append their events in the order they
/// committed (the second waited for the first's row lock), so its callbacks go out in order.
pub(crate) async fn append_events(
    tx: &deadpool_postgres::Transaction<'_>,
    events: &[NewEvent],
    now: i64,
) -> Result<()> {
    let timed: Vec<(&NewEvent, i64)> = events.iter().map(|e| (e, now)).collect();
    append_events_at(tx, &timed).await
}

/// [`append_events`] of events created at different times, as `(event, created_at)` in order:
/// the events of several writes that share one transaction.
pub(crate) async fn append_events_at(
    tx: &impl deadpool_postgres::GenericClient,
    events: &[(&NewEvent, i64)],
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let columns = EventColumns::of(events);
    let stmt = tx.prepare_cached(&APPEND_EVENTS_SQL).await?;
    tx.execute(&stmt, &columns.params()).await?;
    Ok(())
}

/// Appends events from one array per column (account, kind, message, payload, time) taken from
/// the placeholders `$first..$first + 4`, in the arrays' order: the ids say the order.
pub(crate) fn append_events_sql(first: usize) -> String {
    let p = |i: usize| first + i;
    format!(
        "INSERT INTO events (account_id, kind, message_id, payload, created_at) \
         SELECT a, k, m, p, c \
         FROM UNNEST(${}::bigint[], ${}::text[], ${}::text[], ${}::text[], ${}::bigint[]) \
         WITH ORDINALITY AS t(a, k, m, p, c, n) ORDER BY n",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4)
    )
}

static APPEND_EVENTS_SQL: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| append_events_sql(1));

/// The columns of events to append, as the parameters of [`append_events_sql`].
pub(crate) struct EventColumns<'a> {
    accounts: Vec<i64>,
    kinds: Vec<&'a str>,
    messages: Vec<Option<&'a str>>,
    payloads: Vec<&'a str>,
    created: Vec<i64>,
}

impl<'a> EventColumns<'a> {
    pub(crate) fn of(events: &[(&'a NewEvent, i64)]) -> Self {
        Self {
            accounts: events.iter().map(|(e, _)| e.account_id).collect(),
            kinds: events.iter().map(|(e, _)| e.kind.as_str()).collect(),
            messages: events
                .iter()
                .map(|(e, _)| e.message_id.as_deref())
                .collect(),
            payloads: events.iter().map(|(e, _)| e.payload.as_str()).collect(),
            created: events.iter().map(|(_, at)| *at).collect(),
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.accounts,
            &self.kinds,
            &self.messages,
            &self.payloads,
            &self.created,
        ]
    }
}

impl PgStore {
    /// Connects to `url`, runs the migrations not yet applied (one node at a time) and keeps a
    /// pool of connections.
    pub async fn connect(url: &str, cipher: Cipher) -> Result<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
        let where_ = describe(&config);
        let planned = with_options(&config, PLAN_OPTIONS);
        let manager = Manager::from_config(
            planned.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Config(format!("cannot set up the PostgreSQL pool: {e}")))?;
        let volatile_config = with_options(&planned, VOLATILE_OPTIONS);
        let volatile = Pool::builder(Manager::from_config(
            volatile_config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        ))
        .max_size(VOLATILE_POOL_SIZE)
        .build()
        .map_err(|e| StoreError::Config(format!("cannot set up the PostgreSQL pool: {e}")))?;
        let mut client = pool.get().await.map_err(|e| {
            StoreError::Config(format!("cannot connect to PostgreSQL at {where_}: {e}"))
        })?;
        migrate(&mut client).await?;
        drop(client);
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        let listener = tokio::spawn(listen(config, changes.clone()));
        let inserts = batch::Batcher::start(pool.clone());
        let settles = batch::Batcher::start(pool.clone());
        let statuses = batch::Batcher::start(pool.clone());
        Ok(Self {
            pool,
            volatile,
            cipher,
            changes,
            listener: std::sync::Mutex::new(Some(listener)),
            inserts,
            settles,
            statuses,
            buckets_swept_at: Default::default(),
            known_buckets: Default::default(),
        })
    }

    pub(crate) async fn client(&self) -> Result<Client> {
        Ok(self.pool.get().await?)
    }

    /// A connection of the volatile pool (see [`PgStore::volatile`]).
    pub(crate) async fn volatile_client(&self) -> Result<Client> {
        Ok(self.volatile.get().await?)
    }

    /// Runs `write`; once it succeeded, tells every node that `change` happened.
    pub(crate) async fn notifying<T>(
        &self,
        change: Change,
        write: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let out = write.await;
        if out.is_ok() {
            self.changed(change).await;
        }
        out
    }

    /// Tells every node (this one too) that `change` was just committed. The write stands even
    /// if the notification cannot be sent (then other nodes' caches catch up by their TTL).
    pub(crate) async fn changed(&self, change: Change) {
        let sent = async {
            let c = self.client().await?;
            c.execute(
                "SELECT pg_notify($1, $2)",
                &[&CHANGES_CHANNEL, &change.as_str()],
            )
            .await?;
            Ok::<_, StoreError>(())
        };
        if let Err(e) = sent.await {
            tracing::warn!(error = %e, change = change.as_str(), "cannot notify the other nodes");
        }
    }
}

/// LISTENs for changes on a connection of its own and passes them on, until the store closes.
/// When the connection is lost, notifications may have been missed: it passes on
/// [`Change::Everything`] once it is back.
async fn listen(config: tokio_postgres::Config, out: tokio::sync::broadcast::Sender<Change>) {
    use futures_util::StreamExt;
    let mut first = true;
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, mut conn)) => {
                let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
                let sql = format!("LISTEN {CHANGES_CHANNEL}");
                let listening = client.batch_execute(&sql);
                // the LISTEN only completes while the connection is being polled
                let mut listening = std::pin::pin!(listening);
                let ok = loop {
                    tokio::select! {
                        r = &mut listening => break r.is_ok(),
                        m = messages.next() => if m.is_none() { break false },
                    }
                };
                if ok {
                    if !first {
                        let _ = out.send(Change::Everything);
                    }
                    while let Some(Ok(m)) = messages.next().await {
                        if let tokio_postgres::AsyncMessage::Notification(n) = m
                            && let Some(change) = Change::parse(n.payload())
                        {
                            let _ = out.send(change);
                        }
                    }
                }
                tracing::warn!("the PostgreSQL change listener lost its connection; reconnecting");
            }
            Err(e) => tracing::warn!(error = %e, "the PostgreSQL change listener cannot connect"),
        }
        first = false;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// `host:port/db` of a configuration, for error messages (never the password).
fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// Runs the pending migrations while holding the migration lock: a second node starting at the
/// same time waits here, then finds nothing left to do.
async fn migrate(client: &mut Client) -> Result<()> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let ran = embedded::migrations::runner()
        .set_migration_table_name("opencams_migrations")
        .run_async(&mut ***client)
        .await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    ran.map_err(|e| StoreError::Database(format!("PostgreSQL migration failed: {e}")))?;
    unlocked?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        Some(self.changes.subscribe())
    }

    async fn is_empty(&self) -> Result<bool> {
        let c = self.client().await?;
        let row = c
            .query_one("SELECT NOT EXISTS (SELECT 1 FROM accounts)", &[])
            .await?;
        Ok(row.try_get(0)?)
    }

    async fn ping(&self) -> Result<()> {
        let c = self.client().await?;
        c.execute("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn close(&self) {
        if let Some(listener) = self.listener.lock().ok().and_then(|mut l| l.take()) {
            listener.abort();
        }
        self.pool.close();
        self.volatile.close();
    }
}
