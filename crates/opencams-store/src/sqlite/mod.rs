//! The embedded SQLite backend: WAL, `synchronous=FULL` (a commit is on disk when it returns),
//! one group-commit writer thread and a small pool of reader connections.

mod accounts;
mod events;
mod fallbacks;
mod limits;
mod messages;
mod nonces;
mod numbers;
mod schema;
mod templates;
mod users;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use crate::{Cipher, Result, Store, StoreError};
use writer::Writer;

/// Reader connections kept open. Reads wait for one rather than opening a throwaway connection:
/// opening parses the whole schema, which under load cost more than the reads themselves.
const READERS: usize = 4;

pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: Mutex<Vec<Connection>>,
    /// One permit per reader connection (open or not yet opened).
    reader_permits: tokio::sync::Semaphore,
    pub(crate) cipher: Cipher,
    /// The rate-limit token buckets (in memory: one process uses this store).
    buckets: crate::limits::MemoryBuckets,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;",
    )
}

/// Reads a text column holding a domain vocabulary (stored as its `as_str`) back into its value;
/// a text the domain does not know is a conversion error, not a silent default.
pub(crate) fn enum_col<T>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text = r.get_ref(idx)?.as_str()?;
    parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unknown stored value {text:?}").into(),
        )
    })
}

/// [`enum_col`] of a nullable column.
pub(crate) fn opt_enum_col<T>(
    r: &rusqlite::Row<'_>,
    idx: usize,
    parse: impl Fn(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    match r.get_ref(idx)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => enum_col(r, idx, parse).map(Some),
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(msg.unwrap_or_else(|| f.to_string()))
            }
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl SqliteStore {
    pub fn open(path: &Path, cipher: Cipher) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        configure(&conn)?;
        schema::migrate(&conn)?;
        Ok(Self {
            path: path.to_path_buf(),
            writer: Writer::start(conn, path),
            readers: Mutex::new(Vec::new()),
            reader_permits: tokio::sync::Semaphore::new(READERS),
            cipher,
            buckets: Default::default(),
        })
    }

    /// Runs `f` on a reader connection off the async runtime.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &Cipher) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self
            .reader_permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let pooled = self.readers.lock().map_err(|_| StoreError::Closed)?.pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c.execute_batch("PRAGMA temp_store=MEMORY;")?;
                c
            }
        };
        let cipher = self.cipher.clone();
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn, &cipher);
            (conn, out)
        })
        .await
        .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?;
        if let Ok(mut pool) = self.readers.lock() {
            pool.push(conn);
        }
        out
    }

    /// Runs `f` in the next group-commit transaction.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl Fn(&Connection, &Cipher) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let cipher = self.cipher.clone();
        self.writer.write(move |c| f(c, &cipher)).await
    }

    pub(crate) fn shutdown(&self) {
        self.reader_permits.close();
        if let Ok(mut pool) = self.readers.lock() {
            pool.clear();
        }
        self.writer.close();
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn is_empty(&self) -> Result<bool> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))? == 0)
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c, _| {
            Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
                .map(|_| ())?)
        })
        .await
    }

    async fn close(&self) {
        self.shutdown();
    }
}
