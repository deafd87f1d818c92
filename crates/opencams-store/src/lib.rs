//! opencams storage. One `Store` trait, grouped by aggregate, with the SQLite backend (embedded
//! default: WAL, one group-commit writer thread, a pool of readers); the backend is chosen from the
//! database URL. All SQL lives in this crate, and so do secrets at rest (AES-256-GCM).
//! It never speaks HTTP and knows no channel formats; every event-log entry (status, fallback,
//! audit, inbound) is built in [`events`], which also completes status events into the CAMS
//! status record as they are read.

pub mod cache;
pub mod crypto;
pub mod events;
mod receipts;
mod records;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

pub use crypto::{Cipher, Secret};
pub use receipts::*;
pub use records::*;

/// Storage failures. Callers map `Conflict`/`NotFound` to user errors; the rest are internal.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("secret error: {0}")]
    Crypto(String),
    #[error("configuration error: {0}")]
    Config(String),
    #[error("the store is closed")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e {
            rusqlite::Error::SqliteFailure(f, msg)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Conflict(msg.unwrap_or_else(|| f.to_string()))
            }
            other => StoreError::Sqlite(other.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the server and the CLI keep. Times are unix milliseconds passed in by the caller
/// (the clock is injected above this layer).
#[async_trait::async_trait]
pub trait Store: ReceiptStore + Send + Sync {
    /// True when no account exists yet (first start).
    async fn is_empty(&self) -> Result<bool>;
    /// Liveness of the database (readiness probe).
    async fn ping(&self) -> Result<()>;

    // accounts and spaces
    async fn create_account(&self, name: &str, now: i64) -> Result<Account>;
    async fn account(&self, name: &str) -> Result<Option<Account>>;
    async fn account_by_id(&self, id: i64) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    async fn set_account_status(&self, name: &str, status: AccountStatus) -> Result<Account>;
    async fn create_space(&self, account_id: i64, name: &str, now: i64) -> Result<Space>;
    async fn space(&self, id: &str) -> Result<Option<Space>>;
    async fn list_spaces(&self, account_id: Option<i64>) -> Result<Vec<Space>>;
    /// Per-account settings (`qps.<Action>`, `qps.api`, `session.window`, …).
    async fn account_settings(
        &self,
        account_id: i64,
    ) -> Result<std::collections::BTreeMap<String, String>>;
    /// Sets (`Some`) or clears (`None`) one setting.
    async fn set_account_setting(
        &self,
        account_id: i64,
        key: &str,
        value: Option<&str>,
    ) -> Result<()>;

    // access keys
    async fn create_key(&self, key: NewKey, now: i64) -> Result<AccessKey>;
    async fn key(&self, id: &str) -> Result<Option<AccessKey>>;
    async fn list_keys(&self, account_id: Option<i64>) -> Result<Vec<AccessKey>>;
    async fn set_key_enabled(&self, id: &str, enabled: bool) -> Result<AccessKey>;

    // sender numbers
    async fn add_number(&self, number: NewNumber, now: i64) -> Result<Number>;
    async fn number(&self, phone: &str) -> Result<Option<Number>>;
    async fn list_numbers(&self, filter: NumberFilter) -> Result<Vec<Number>>;

    // replay protection: nonces seen, kept until `expires_at`
    async fn record_nonces(&self, nonces: Vec<NonceRecord>) -> Result<()>;
    async fn live_nonces(&self, now: i64) -> Result<Vec<NonceRecord>>;

    // templates (one row per language version; deleted rows are kept so codes are never reused)
    /// Inserts a new template language version; `Conflict` if the name+language is taken in the space.
    async fn insert_template(
        &self,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow>;
    /// Live language versions of a template code in a space.
    async fn templates_by_code(&self, space_id: &str, code: &str) -> Result<Vec<TemplateRow>>;
    /// Live language versions of a template name in a space.
    async fn templates_by_name(&self, space_id: &str, name: &str) -> Result<Vec<TemplateRow>>;
    /// Replaces content and sends the version back to review (`auditing`).
    async fn modify_template(
        &self,
        id: i64,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow>;
    /// Records a review outcome or quality change; clears the simulator's review time.
    async fn set_template_status(
        &self,
        id: i64,
        status: &str,
        reason: &str,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow>;
    /// Marks language versions deleted (their codes stay reserved).
    async fn delete_templates(&self, ids: Vec<i64>, now: i64) -> Result<()>;
    /// A page of live templates and the total count.
    async fn list_templates(&self, filter: TemplateFilter) -> Result<(u64, Vec<TemplateRow>)>;
    /// Templates whose simulated review is due.
    async fn due_template_reviews(&self, now: i64, limit: u32) -> Result<Vec<TemplateRow>>;

    // messages
    /// Stores accepted messages, their queue entries (for `accepted` outbound ones) and events,
    /// all in one transaction: either everything is durable or nothing is.
    async fn insert_messages(&self, messages: Vec<MessageRow>, events: Vec<NewEvent>)
    -> Result<()>;
    /// A message by its MessageId or its provider id (wamid).
    async fn message(&self, id: &str) -> Result<Option<MessageRow>>;
    /// How many messages exist (any direction).
    async fn count_messages(&self) -> Result<u64>;

    // the durable queue
    /// Claims up to `limit` due messages for `owner` until `now + lease_ms`; expired leases are
    /// claimed again. A message is never held by two owners while its lease holds.
    async fn claim_due(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<Claimed>>;
    /// Records how an attempt ended, only if `owner` still holds the lease (false otherwise).
    async fn settle(&self, id: &str, owner: &str, outcome: Settlement, now: i64) -> Result<bool>;
    /// Applies a provider status monotonically (accepted < sent < delivered < read; failed ends
    /// unless a later delivered/read arrives); returns the message's status as it left it and
    /// whether it changed. The event is built by `event` and appended only when it changed.
    async fn apply_status(
        &self,
        update: StatusUpdate,
        event: EventBuilder,
    ) -> Result<Option<(MessageStatus, bool)>>;
    /// [`Store::apply_status`] for every update of one provider webhook, in order, in one
    /// write (all or none).
    async fn apply_statuses(
        &self,
        updates: Vec<(StatusUpdate, EventBuilder)>,
    ) -> Result<Vec<Option<(MessageStatus, bool)>>>;
    /// Stores an inbound message (once per provider id), opens the window, appends its event.
    /// False when it was already stored (a duplicate webhook).
    async fn record_inbound(&self, message: MessageRow, event: Option<NewEvent>) -> Result<bool>;
    /// How many messages wait in the queue.
    async fn queue_len(&self) -> Result<u64>;

    // the 24-hour customer-service window
    async fn record_inbound_window(&self, sender: &str, user: &str, at: i64) -> Result<()>;
    async fn last_inbound(&self, sender: &str, user: &str) -> Result<Option<i64>>;

    // the event log
    async fn events_after(&self, after_id: i64, limit: u32) -> Result<Vec<EventRow>>;
    /// The events of one message, oldest first.
    async fn message_events(&self, message_id: &str) -> Result<Vec<EventRow>>;

    // fallback policies
    async fn create_policy(&self, p: NewPolicy, now: i64) -> Result<Policy>;
    async fn policy(&self, account_id: i64, id: &str) -> Result<Option<Policy>>;
    async fn list_policies(&self, account_id: i64) -> Result<Vec<Policy>>;
    /// Deletes a policy; `Conflict` while messages waiting for a fallback still name it.
    async fn delete_policy(&self, account_id: i64, id: &str, now: i64) -> Result<()>;

    // SMS fallback timers (created with the message when it names a FallBackId)
    /// Claims fallbacks that must be decided now: due timers, armed ones whose message failed or
    /// expired, active ones whose message was delivered (to cancel), lapsed leases.
    async fn claim_fallbacks(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<(FallbackRow, MessageRow)>>;
    /// Settles a claimed fallback if `owner` still holds it; appends `events`.
    async fn settle_fallback(
        &self,
        message_id: &str,
        owner: &str,
        outcome: FallbackOutcome,
        events: Vec<NewEvent>,
        now: i64,
    ) -> Result<bool>;
    /// Records an SMS delivery report; returns the fallback and its message when the id is ours
    /// and the fallback was still `sent` (a report changes it once).
    async fn fallback_report(
        &self,
        sms_id: &str,
        delivered: bool,
        events: EventsFor,
        now: i64,
    ) -> Result<Option<(FallbackRow, MessageRow)>>;
    async fn fallback(&self, message_id: &str) -> Result<Option<FallbackRow>>;

    /// Finishes queued writes and closes the database cleanly.
    async fn close(&self);
}

/// Opens the store named by `database_url` (`sqlite:PATH`, or empty for `<data_dir>/opencams.db`).
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
    cipher: Cipher,
) -> Result<Arc<dyn Store>> {
    match database_url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(Arc::new(sqlite::SqliteStore::open(&data_dir.join("opencams.db"), cipher)?)),
        Some(url) if url.starts_with("sqlite:") => {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path), cipher)?))
        }
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Err(StoreError::Config(
            "the PostgreSQL backend is not built yet; use sqlite:PATH or leave --database-url unset".into(),
        )),
        Some(url) => Err(StoreError::Config(format!(
            "unsupported database URL {url:?}: use sqlite:PATH (or postgres:// once available)"
        ))),
    }
}
