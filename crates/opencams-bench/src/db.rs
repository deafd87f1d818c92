//! Read-only looks into the server's database: queue length and delivery counts. On the default
//! SQLite backend the bench opens the server's file read-only (WAL lets a reader run beside the
//! writer); on PostgreSQL it connects to the bench's database with tokio-postgres and runs the
//! same queries (the tables and columns are the same on both backends). The bench never writes to
//! either through these (the `console` scenario's seeding has its own connection).
//!
//! Also, on PostgreSQL: the database a run is given ([`PgDatabase`], created fresh on the server
//! of `--database-url` and dropped at the end) and the server's own counters of it
//! ([`PgCounters`]: commits, statements, the backends' CPU).

use std::path::Path;

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use rusqlite::{Connection, OpenFlags};

pub enum Db {
    Sqlite(Connection),
    Postgres(tokio_postgres::Client),
}

/// What the messages table says about deliveries.
pub struct Deliveries {
    pub delivered: u64,
    /// Earliest `created_at` and latest delivered `updated_at`, ms.
    pub first_created_ms: i64,
    pub last_delivered_ms: i64,
    /// `updated_at - created_at` of delivered messages, µs.
    pub latency: Histogram<u64>,
}

impl Deliveries {
    fn add(&mut self, created: i64, updated: i64) {
        self.delivered += 1;
        self.first_created_ms = self.first_created_ms.min(created);
        self.last_delivered_ms = self.last_delivered_ms.max(updated);
        self.latency
            .saturating_record(((updated - created).max(0) as u64 * 1000).max(1));
    }
}

const DELIVERED_SQL: &str =
    "SELECT created_at, updated_at FROM messages WHERE direction = 'out' AND status = 'delivered'";

impl Db {
    /// The SQLite file of a data directory, read-only.
    pub fn open_sqlite(data_dir: &Path) -> anyhow::Result<Db> {
        let conn = Connection::open_with_flags(
            data_dir.join("opencams.db"),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Ok(Db::Sqlite(conn))
    }

    /// A PostgreSQL database (the bench's, see [`PgDatabase`]).
    pub async fn open_postgres(url: &str) -> anyhow::Result<Db> {
        Ok(Db::Postgres(pg_connect(url).await?))
    }

    pub async fn queue_len(&self) -> anyhow::Result<u64> {
        let n = match self {
            Db::Sqlite(conn) => {
                conn.query_row("SELECT count(*) FROM queue", [], |r| r.get::<_, i64>(0))?
            }
            Db::Postgres(c) => c.query_one("SELECT count(*) FROM queue", &[]).await?.get(0),
        };
        Ok(n.max(0) as u64)
    }

    /// `Delivered` status events after event `after` (the server's event log, read by id so a
    /// poll costs only the new rows; counting `messages` by status scans the whole table, which
    /// at 100 ms intervals cost the bench a quarter of a core): how many, and the last id read.
    /// On PostgreSQL event ids are handed out in commit order, so reading by id misses none.
    pub async fn delivered_events_after(&self, after: i64) -> anyhow::Result<(u64, i64)> {
        let (mut n, mut last) = (0, after);
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, instr(payload, '\"Status\":\"Delivered\"') > 0 FROM events \
                     WHERE id > ?1 AND kind = 'status' ORDER BY id",
                )?;
                let mut rows = stmt.query([after])?;
                while let Some(r) = rows.next()? {
                    last = r.get(0)?;
                    if r.get::<_, bool>(1)? {
                        n += 1;
                    }
                }
            }
            Db::Postgres(c) => {
                let rows = c
                    .query(
                        "SELECT id, strpos(payload, '\"Status\":\"Delivered\"') > 0 FROM events \
                         WHERE id > $1 AND kind = 'status' ORDER BY id",
                        &[&after],
                    )
                    .await?;
                for r in rows {
                    last = r.get(0);
                    if r.get::<_, bool>(1) {
                        n += 1;
                    }
                }
            }
        }
        Ok((n, last))
    }

    /// Outbound messages by status.
    pub async fn count(&self, status: &str) -> anyhow::Result<u64> {
        const SQL: &str = "SELECT count(*) FROM messages WHERE direction = 'out' AND status = ";
        let n = match self {
            Db::Sqlite(conn) => {
                conn.query_row(&format!("{SQL}?1"), [status], |r| r.get::<_, i64>(0))?
            }
            Db::Postgres(c) => c.query_one(&format!("{SQL}$1"), &[&status]).await?.get(0),
        };
        Ok(n.max(0) as u64)
    }

    pub async fn deliveries(&self) -> anyhow::Result<Deliveries> {
        let mut d = Deliveries {
            delivered: 0,
            first_created_ms: i64::MAX,
            last_delivered_ms: 0,
            latency: crate::load::new_histogram(),
        };
        match self {
            Db::Sqlite(conn) => {
                let mut stmt = conn.prepare(DELIVERED_SQL)?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    d.add(r.get(0)?, r.get(1)?);
                }
            }
            Db::Postgres(c) => {
                for r in c.query(DELIVERED_SQL, &[]).await? {
                    d.add(r.get(0), r.get(1));
                }
            }
        }
        Ok(d)
    }

    /// PostgreSQL's counters of this database (`None` on SQLite).
    pub async fn pg_counters(&self) -> anyhow::Result<Option<PgCounters>> {
        let Db::Postgres(c) = self else {
            return Ok(None);
        };
        let r = c
            .query_one(
                "SELECT xact_commit, xact_rollback FROM pg_stat_database \
                 WHERE datname = current_database()",
                &[],
            )
            .await?;
        // only when the server preloads it (the extension is created in the bench's database
        // then); the view fails otherwise
        let has_statements: bool = c
            .query_one("SELECT to_regclass('pg_stat_statements') IS NOT NULL", &[])
            .await?
            .get(0);
        let statements = match has_statements {
            true => c
                .query_one(
                    "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements \
                     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    &[],
                )
                .await
                .ok()
                .map(|s| s.get::<_, i64>(0)),
            false => None,
        };
        let backends: Vec<u32> = c
            .query(
                "SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get::<_, i32>(0) as u32)
            .collect();
        Ok(Some(PgCounters {
            commits: r.get(0),
            rollbacks: r.get(1),
            statements,
            backends,
        }))
    }
}

/// `pg_stat_database` (and `pg_stat_statements`, when available) for the bench's database, and
/// the pids of the backends serving the nodes.
///
/// A backend publishes its counts at most once a second while busy, and 10 s after it went idle
/// (PostgreSQL 15's `PGSTAT_MIN_INTERVAL`, `PGSTAT_IDLE_INTERVAL`), or when it exits: a reading
/// right after a run misses up to a second of it, one after the nodes stopped none. See
/// [`settle`].
pub struct PgCounters {
    pub commits: i64,
    pub rollbacks: i64,
    /// Statements executed (`pg_stat_statements` calls), when the extension is loaded.
    pub statements: Option<i64>,
    pub backends: Vec<u32>,
}

/// Waits until no backend serves the bench's database but this one (the nodes were stopped: a
/// backend publishes its counts as it exits), at most 15 s.
pub async fn settle(db: &Db) -> anyhow::Result<()> {
    let Db::Postgres(c) = db else { return Ok(()) };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .await?
            .get(0);
        if n == 0 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn pg_connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("PostgreSQL is not reachable at {}", redacted(url)))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The URL with its password, if any, replaced by `***` (for messages).
pub fn redacted(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].find(':') {
            Some(colon) => format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &rest[..colon],
                &rest[at..]
            ),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// The URL of database `name` on the server of `url` (its path replaced, its query kept).
pub fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!(
            "--database-url {:?} is not a PostgreSQL URL: give postgres://user@host:port/db \
             (SQLite is what the bench runs without it)",
            redacted(url)
        );
    }
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

/// `n` random bytes as hex, from the kernel.
pub fn random_hex(n: usize) -> anyhow::Result<String> {
    use std::fmt::Write;
    use std::io::Read;
    let mut bytes = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// A fresh database `opencams_bench_<random>` on the server of `--database-url`, dropped (with
/// `FORCE`, which ends its connections) when this is dropped, unless `--keep`.
pub struct PgDatabase {
    /// The URL of the new database.
    pub url: String,
    pub name: String,
    admin_url: String,
    keep: bool,
}

impl PgDatabase {
    pub async fn create(admin_url: &str, keep: bool) -> anyhow::Result<PgDatabase> {
        let name = format!("opencams_bench_{}", random_hex(6)?);
        let url = with_database(admin_url, &name)?;
        let admin = pg_connect(admin_url).await?;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| {
                format!(
                    "cannot create the bench's database on {} (the user needs CREATEDB)",
                    redacted(admin_url)
                )
            })?;
        let db = PgDatabase {
            url,
            name,
            admin_url: admin_url.to_string(),
            keep,
        };
        // statements per message, when the server preloads pg_stat_statements (the view only
        // works then); created before the nodes start, so opencams never sees it appear
        let preloaded: String = admin
            .query_one("SELECT current_setting('shared_preload_libraries')", &[])
            .await?
            .get(0);
        if preloaded.contains("pg_stat_statements") {
            let c = pg_connect(&db.url).await?;
            if let Err(e) = c
                .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                .await
            {
                eprintln!("pg_stat_statements is preloaded but cannot be created: {e}");
            }
        }
        Ok(db)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("kept PostgreSQL database {}", self.name);
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop cannot await, and may run on a runtime thread: a thread of its own with its own
        // small runtime
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let admin = pg_connect(&admin_url).await?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                anyhow::Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop the bench database {}: {e:#}", self.name),
            Err(_) => eprintln!("could not drop the bench database {}", self.name),
        }
    }
}
