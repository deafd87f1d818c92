//! The records of callback delivery: where callbacks go (per space and per business number),
//! the callback outbox (endpoints with their retry state and their pending deliveries, fed from
//! the event log), and the message history query's filter.

use opencams_domain::{Direction, MessageStatus};
use serde::Serialize;

use crate::Secret;

/// Where one space (`phone` empty) or one business number sends its callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookSetting {
    pub space_id: String,
    /// The business number, or `""` for the space-level setting.
    pub phone: String,
    pub account_id: i64,
    pub status_url: Option<String>,
    pub up_url: Option<String>,
    /// `None`: not set at this level (a number inherits its space's; the default is HTTP on).
    pub http_flag: Option<bool>,
    /// `None`: not set at this level (the default is off).
    pub queue_flag: Option<bool>,
    pub updated_at: i64,
}

/// A partial update: `None` keeps the stored value; `Some(None)` clears a URL.
#[derive(Debug, Clone, Default)]
pub struct WebhookUpdate {
    pub space_id: String,
    pub phone: String,
    pub account_id: i64,
    pub status_url: Option<Option<String>>,
    pub up_url: Option<Option<String>>,
    pub http_flag: Option<bool>,
    pub queue_flag: Option<bool>,
}

/// One callback destination of one account, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    pub id: i64,
    pub account_id: i64,
    pub url: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    /// Consecutive failed attempts.
    pub failures: i64,
    pub first_failure_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<i64>,
    pub last_success_at: Option<i64>,
    /// Records delivered so far.
    pub delivered: i64,
    /// The next attempt is not made before this time.
    pub due_at: i64,
    /// Records waiting.
    pub pending: i64,
}

/// A record waiting in an endpoint's outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    pub event_id: i64,
    /// The callback record (JSON object text).
    pub payload: String,
}

/// An endpoint leased to one deliverer with the head of its outbox, oldest event first.
#[derive(Debug, Clone)]
pub struct ClaimedEndpoint {
    pub endpoint: Endpoint,
    pub secret: Secret,
    pub records: Vec<PendingRecord>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx: these events leave the outbox.
    Delivered { event_ids: Vec<i64> },
    /// Anything else: try again at `retry_at`; disable the endpoint once `disable_after`
    /// consecutive failures spanning at least `disable_span_ms` are reached.
    Failed {
        error: String,
        retry_at: i64,
        disable_after: i64,
        disable_span_ms: i64,
    },
    /// Records that can never be delivered (larger than any allowed body) are dropped.
    Dropped { event_ids: Vec<i64>, reason: String },
}

/// ListChatappMessage filters (all optional but the space).
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub space_id: String,
    /// The business number.
    pub sender: Option<String>,
    /// The end user's number.
    pub recipient: Option<String>,
    pub direction: Option<Direction>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub template_code: Option<String>,
    pub group_id: Option<String>,
    /// Stored statuses to match (any of).
    pub statuses: Option<Vec<MessageStatus>>,
    pub task_id: Option<String>,
    /// Keyset paging: only messages listed after this one, given as its (`created_at`, id); an
    /// index seek however deep the page, where `offset` reads and skips every row before it.
    pub before: Option<(i64, String)>,
    pub offset: u64,
    pub limit: u32,
}
