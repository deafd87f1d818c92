//! opencams storage. The `Store` is one trait per aggregate (accounts, numbers, nonces,
//! templates, messages with the durable queue, events with callback delivery, fallbacks, the web
//! console's users and sessions; see [`traits`]), with the SQLite backend (embedded default: WAL,
//! one group-commit writer thread, a pool of readers, one file per aggregate under `sqlite/`);
//! the backend is chosen from the database URL. All SQL lives in this crate, and so do secrets at
//! rest (AES-256-GCM). Errors name no database. The domain's vocabularies (statuses, kinds,
//! states) are stored as their text and read back into their enums; the status order the SQL
//! applies comes from the domain.
//! It never speaks HTTP and knows no channel formats; of the CAMS formats it knows the event
//! records, built in [`events`] (status events are completed from their message as they are read),
//! and [`cache::StoreCache`] is the one read-through cache the hot paths share.

pub mod cache;
mod common;
pub mod copy;
pub mod crypto;
pub mod events;
pub mod limits;
pub mod postgres;
mod receipts;
mod records;
pub mod sqlite;
pub mod traits;

use std::path::Path;
use std::sync::Arc;

pub use crypto::{Cipher, Secret};
pub use receipts::*;
pub use records::*;
pub use traits::*;

pub mod prelude {
    pub use crate::traits::{
        AccountStore, EventStore, FallbackStore, LimitStore, MessageStore, NonceStore, NumberStore,
        Store, TemplateStore, UserStore,
    };
}

/// What a write changed that nodes may cache, as a shared store notifies it to every node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Accounts' status or settings.
    Accounts,
    /// Access keys (created, enabled, disabled).
    Keys,
    Numbers,
    Templates,
    /// Webhook (callback) settings.
    Webhooks,
    /// Notifications may have been missed (the listener reconnected): everything.
    Everything,
}

impl Change {
    /// The notification payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Accounts => "accounts",
            Change::Keys => "keys",
            Change::Numbers => "numbers",
            Change::Templates => "templates",
            Change::Webhooks => "webhooks",
            Change::Everything => "everything",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Change::Accounts,
            Change::Keys,
            Change::Numbers,
            Change::Templates,
            Change::Webhooks,
            Change::Everything,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// Storage failures. Callers map `Conflict`/`NotFound` to user errors; the rest are internal.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed or could not be reached (the backend's own message).
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached now (no connection, or it went away mid-call): worth
    /// retrying later, unlike [`StoreError::Database`].
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("secret error: {0}")]
    Crypto(String),
    #[error("configuration error: {0}")]
    Config(String),
    #[error("the store is closed")]
    Closed,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens the store named by `database_url` (`sqlite:PATH`, `postgres://user@host:port/db`, or
/// empty for `<data_dir>/opencams.db`).
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
    cipher: Cipher,
) -> Result<Arc<dyn Store>> {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(Arc::new(sqlite::SqliteStore::open(
            &data_dir.join("opencams.db"),
            cipher,
        )?)),
        Some(url) if url.starts_with("sqlite:") => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            Ok(Arc::new(sqlite::SqliteStore::open(
                Path::new(path),
                cipher,
            )?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PgStore::connect(url, cipher).await?))
        }
        Some(url) => Err(StoreError::Config(format!(
            "unsupported database URL {url:?}: use sqlite:PATH or postgres://user@host:port/db"
        ))),
    }
}
