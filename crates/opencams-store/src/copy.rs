//! `opencams copy`: moves everything a SQLite install keeps into an empty PostgreSQL database —
//! accounts, keys, numbers, templates, messages, events, the pending queue, callback outboxes,
//! delivery log and cursor, fallback timers, web-console users — row for row, so the same master
//! key opens its secrets there (and the same passwords sign in).
//!
//! The source is read in one read transaction (a consistent snapshot, even while a server still
//! writes to it); the target is written in one transaction with binary COPY, so a failed copy
//! leaves it empty and running the copy again is safe. A target that holds any account or message
//! is refused. Column values are converted by the target column's type (SQLite keeps flags as
//! integers); a column only the target has is left NULL.

use std::path::Path;

use rusqlite::types::ValueRef;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use crate::{Cipher, Result, StoreError};

/// Every table, parents before children (foreign keys are checked row by row). Console sessions
/// are left behind: they are short-lived sign-ins to the server being replaced, and whoever
/// signs in again gets a new one.
const TABLES: &[&str] = &[
    "accounts",
    "console_users",
    "spaces",
    "access_keys",
    "account_settings",
    "numbers",
    "nonces",
    "templates",
    "policies",
    "messages",
    "queue",
    "windows",
    "events",
    "webhook_settings",
    "callback_secrets",
    "callback_endpoints",
    "callback_deliveries",
    "callback_attempts",
    "callback_cursor",
    "fallbacks",
    "fallback_sms",
];

/// Tables whose identity column must continue after the copied ids.
const IDENTITIES: &[&str] = &[
    "accounts",
    "console_users",
    "numbers",
    "templates",
    "events",
    "callback_endpoints",
    "callback_attempts",
];

/// A column's name in SQLite where it differs (`user` is reserved in PostgreSQL).
fn sqlite_column(table: &str, column: &str) -> String {
    match (table, column) {
        ("windows", "user_phone") => "\"user\"".into(),
        _ => format!("\"{column}\""),
    }
}

/// Rows copied per table, in [`TABLES`] order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

/// A column of the target.
struct Column {
    name: String,
    ty: Type,
}

/// Copies the SQLite database at `from` into the PostgreSQL database at `to`.
pub async fn sqlite_to_postgres(from: &Path, to: &str, cipher: Cipher) -> Result<CopyReport> {
    if !from.exists() {
        return Err(StoreError::Config(format!(
            "no SQLite database at {}",
            from.display()
        )));
    }
    // bring the source's schema up to this version (what we read assumes it) …
    crate::sqlite::SqliteStore::open(from, cipher.clone())?.shutdown();
    // … and create the target's
    let target = crate::postgres::PgStore::connect(to, cipher).await?;
    crate::Store::close(&target).await;

    let (mut client, conn) = tokio_postgres::connect(to, tokio_postgres::NoTls).await?;
    let conn = tokio::spawn(conn);
    let out = copy_all(from, &mut client).await;
    drop(client);
    let _ = conn.await;
    out
}

async fn copy_all(from: &Path, client: &mut tokio_postgres::Client) -> Result<CopyReport> {
    let tx = client.transaction().await?;
    let used: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM messages)",
            &[],
        )
        .await?
        .try_get(0)?;
    if used {
        return Err(StoreError::Conflict(
            "the target database already holds accounts or messages; copy into an empty one".into(),
        ));
    }
    // rows the migrations seed (the routing cursor) are replaced by the source's
    tx.batch_execute("DELETE FROM callback_cursor").await?;

    let mut targets = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let cols = tx
            .query(
                "SELECT a.attname::text, a.atttypid FROM pg_attribute a \
                 WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped \
                 ORDER BY a.attnum",
                &[table],
            )
            .await?
            .iter()
            .map(|r| {
                let oid: u32 = r.try_get(1)?;
                Ok(Column {
                    name: r.try_get(0)?,
                    ty: Type::from_oid(oid).unwrap_or(Type::TEXT),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        targets.push((table.to_string(), cols));
    }

    // the source is read on a thread of its own (rusqlite blocks), one table after the other,
    // in chunks, inside one read transaction
    let (rows_tx, mut rows_rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let reader = {
        let path = from.to_path_buf();
        let targets: Vec<(String, Vec<(String, Type)>)> = targets
            .iter()
            .map(|(t, cols)| {
                (
                    t.clone(),
                    cols.iter()
                        .map(|c| (c.name.clone(), c.ty.clone()))
                        .collect(),
                )
            })
            .collect();
        std::thread::spawn(move || read_source(&path, &targets, &rows_tx))
    };

    let mut report = CopyReport::default();
    for (table, cols) in &targets {
        let names: Vec<String> = cols.iter().map(|c| format!("\"{}\"", c.name)).collect();
        let types: Vec<Type> = cols.iter().map(|c| c.ty.clone()).collect();
        let sink = tx
            .copy_in(&format!(
                "COPY {table} ({}) FROM STDIN BINARY",
                names.join(", ")
            ))
            .await?;
        let writer = BinaryCopyInWriter::new(sink, &types);
        let mut writer = std::pin::pin!(writer);
        loop {
            let chunk = rows_rx.recv().await.ok_or_else(|| {
                StoreError::Database("the SQLite reader stopped before the end".into())
            })?;
            match chunk {
                Chunk::Rows(rows) => {
                    for row in rows {
                        let refs: Vec<&(dyn ToSql + Sync)> =
                            row.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                        writer.as_mut().write(&refs).await?;
                    }
                }
                Chunk::End => break,
                Chunk::Failed(e) => return Err(e),
            }
        }
        let copied = writer.as_mut().finish().await?;
        report.tables.push((table.clone(), copied));
    }
    match reader.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err(StoreError::Database("the SQLite reader panicked".into())),
    }
    for table in IDENTITIES {
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 GREATEST((SELECT MAX(id) FROM {table}), 1), (SELECT MAX(id) FROM {table}) IS NOT NULL)"
            ),
            &[],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// A value read from SQLite, typed for its target column.
#[derive(Debug)]
enum Value {
    Int(Option<i64>),
    Bool(Option<bool>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>>
    {
        match self {
            Value::Int(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT8, Type::BOOL, Type::TEXT, Type::BYTEA].contains(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

enum Chunk {
    Rows(Vec<Vec<Value>>),
    /// The current table is done.
    End,
    Failed(StoreError),
}

const CHUNK_ROWS: usize = 2_000;

fn read_source(
    path: &Path,
    targets: &[(String, Vec<(String, Type)>)],
    out: &tokio::sync::mpsc::Sender<Chunk>,
) -> Result<()> {
    let result = read_tables(path, targets, out);
    if let Err(e) = &result {
        let _ = out.blocking_send(Chunk::Failed(e.clone()));
    }
    result
}

fn read_tables(
    path: &Path,
    targets: &[(String, Vec<(String, Type)>)],
    out: &tokio::sync::mpsc::Sender<Chunk>,
) -> Result<()> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // one snapshot for every table
    conn.execute_batch("BEGIN")?;
    let closed = || StoreError::Database("the copy stopped".into());
    for (table, cols) in targets {
        let present: std::collections::HashSet<String> = conn
            .prepare(&format!("PRAGMA table_info({table})"))?
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<rusqlite::Result<_>>()?;
        let select: Vec<String> = cols
            .iter()
            .map(|(name, _)| {
                let src = sqlite_column(table, name);
                if present.contains(src.trim_matches('"')) {
                    src
                } else {
                    "NULL".into()
                }
            })
            .collect();
        let mut stmt = conn.prepare(&format!("SELECT {} FROM {table}", select.join(", ")))?;
        let mut rows = stmt.query([])?;
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(cols.len());
            for (i, (name, ty)) in cols.iter().enumerate() {
                row.push(
                    convert(r.get_ref(i)?, ty)
                        .map_err(|why| StoreError::Database(format!("{table}.{name}: {why}")))?,
                );
            }
            chunk.push(row);
            if chunk.len() == CHUNK_ROWS {
                out.blocking_send(Chunk::Rows(std::mem::take(&mut chunk)))
                    .map_err(|_| closed())?;
            }
        }
        if !chunk.is_empty() {
            out.blocking_send(Chunk::Rows(chunk))
                .map_err(|_| closed())?;
        }
        out.blocking_send(Chunk::End).map_err(|_| closed())?;
    }
    Ok(())
}

/// A SQLite value as the target column's type.
fn convert(v: ValueRef<'_>, ty: &Type) -> std::result::Result<Value, String> {
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|e| e.to_string());
    Ok(match (ty, v) {
        (t, ValueRef::Null) if *t == Type::INT8 => Value::Int(None),
        (t, ValueRef::Null) if *t == Type::BOOL => Value::Bool(None),
        (t, ValueRef::Null) if *t == Type::BYTEA => Value::Bytes(None),
        (_, ValueRef::Null) => Value::Text(None),
        (t, ValueRef::Integer(i)) if *t == Type::INT8 => Value::Int(Some(i)),
        (t, ValueRef::Integer(i)) if *t == Type::BOOL => Value::Bool(Some(i != 0)),
        (t, ValueRef::Integer(i)) if *t == Type::TEXT => Value::Text(Some(i.to_string())),
        (t, ValueRef::Text(b)) if *t == Type::TEXT => Value::Text(Some(text(b)?)),
        (t, ValueRef::Text(b)) if *t == Type::INT8 => Value::Int(Some(
            text(b)?
                .trim()
                .parse()
                .map_err(|_| "not an integer".to_string())?,
        )),
        (t, ValueRef::Blob(b)) if *t == Type::BYTEA => Value::Bytes(Some(b.to_vec())),
        (t, ValueRef::Text(b)) if *t == Type::BYTEA => Value::Bytes(Some(b.to_vec())),
        (t, other) => {
            return Err(format!(
                "a {:?} cannot go into a {t} column",
                other.data_type()
            ));
        }
    })
}
