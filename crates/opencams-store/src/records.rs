//! The rows the store hands out.

use opencams_domain::message::FallBackRule;
use opencams_domain::template::AuditStatus;
use opencams_domain::{Direction, EventKind, FallbackState, MessageStatus, SendType};
use serde::Serialize;

use crate::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// The service is opened for the account.
    Active,
    /// The service is not opened: every call answers `Product.Unsubscript`.
    Unsubscribed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Unsubscribed => "unsubscribed",
        }
    }
    pub fn parse(s: &str) -> Self {
        if s == "unsubscribed" {
            Self::Unsubscribed
        } else {
            Self::Active
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub status: AccountStatus,
    /// The space calls act on when they give no `CustSpaceId`.
    pub default_space: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Space {
    /// `CustSpaceId`, e.g. `cams-3f9a…`.
    pub id: String,
    pub account_id: i64,
    pub name: String,
    pub created_at: i64,
}

/// A console user's role: what its pages let it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Operator,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// The role of a stored text; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A web-console user of one account. Its password hash (Argon2id, made by the caller) is
/// kept out of `Debug`, so that logging a user never hands out something to crack offline.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: i64,
    pub account_id: i64,
    /// Lowercased: emails are compared case-insensitively.
    pub email: String,
    pub role: Role,
    pub password_hash: String,
    pub enabled: bool,
    pub created_at: i64,
}

impl std::fmt::Debug for ConsoleUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleUser")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("password_hash", &"***")
            .field("enabled", &self.enabled)
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[derive(Clone)]
pub struct NewConsoleUser {
    pub account_id: i64,
    /// Stored lowercased.
    pub email: String,
    pub role: Role,
    pub password_hash: String,
}

impl std::fmt::Debug for NewConsoleUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewConsoleUser")
            .field("account_id", &self.account_id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("password_hash", &"***")
            .finish()
    }
}

/// A console sign-in. The store keeps only a hash of the session token (the cookie's value), so
/// its rows do not let anyone sign in; the CSRF token is the form token of the session's pages
/// and is kept out of `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub token_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSession")
            .field("token_hash", &self.token_hash)
            .field("user_id", &self.user_id)
            .field("csrf_token", &"***")
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct NewKey {
    pub account_id: i64,
    /// `None`: every action.
    pub actions: Option<Vec<String>>,
    /// `None`: every space of the account.
    pub spaces: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub id: String,
    pub secret: Secret,
    pub account_id: i64,
    pub account_name: String,
    pub enabled: bool,
    pub actions: Option<Vec<String>>,
    pub spaces: Option<Vec<String>>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NewNumber {
    pub account_id: i64,
    pub space_id: String,
    pub phone: String,
    pub channel: String,
    pub verified_name: String,
    /// Messages per second this number may send (Meta's default 80).
    pub throughput_mps: u32,
    /// `whatsapp-cloud` settings.
    pub cloud: Option<CloudSettings>,
}

/// Per-number settings of the WhatsApp Cloud API channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudSettings {
    pub phone_number_id: String,
    pub waba_id: String,
    pub access_token: Option<Secret>,
    pub app_secret: Option<Secret>,
    pub api_base: Option<String>,
    pub api_version: Option<String>,
}

/// What [`crate::NumberStore::update_number`] changes in a sender number: each `None` keeps the
/// stored value. The phone, channel, space and Graph API ids are not here: they name where the
/// number sends from, so changing them is removing the number and adding it again.
#[derive(Debug, Clone, Default)]
pub struct NumberUpdate {
    pub verified_name: Option<String>,
    /// Messages per second.
    pub throughput_mps: Option<u32>,
    /// The Cloud API access token (`whatsapp-cloud` numbers only: a number without Cloud API
    /// settings has nowhere to use one, and the update is refused with `Conflict`).
    pub access_token: Option<Secret>,
    /// The app secret that signs the Cloud API's webhooks (`whatsapp-cloud` numbers only, as
    /// `access_token`).
    pub app_secret: Option<Secret>,
}

impl NumberUpdate {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.verified_name.is_none()
            && self.throughput_mps.is_none()
            && self.access_token.is_none()
            && self.app_secret.is_none()
    }

    /// True when it sets a Cloud API secret.
    pub fn sets_secrets(&self) -> bool {
        self.access_token.is_some() || self.app_secret.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub id: i64,
    pub account_id: i64,
    pub space_id: String,
    pub phone: String,
    pub channel: String,
    /// Meta's phone number status vocabulary: `CONNECTED`, `PENDING`, `DISCONNECTED`, …
    pub status: String,
    pub verified_name: String,
    pub quality_rating: String,
    pub messaging_limit_tier: String,
    pub throughput_mps: u32,
    pub cloud: Option<CloudSettings>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct NumberFilter {
    pub account_id: Option<i64>,
    pub space_id: Option<String>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonceRecord {
    pub key_id: String,
    pub nonce: String,
    pub expires_at: i64,
}

/// One take from a shared token bucket ([`crate::LimitStore::take_tokens`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRequest {
    /// The bucket: one per key, full when first seen.
    pub key: String,
    /// Tokens the bucket holds at most (its burst).
    pub capacity: f64,
    /// Milliseconds per token: the bucket refills at `1 / per_ms` tokens a millisecond.
    pub per_ms: f64,
    /// Tokens wanted.
    pub want: u32,
}

/// What a [`TokenRequest`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenGrant {
    /// Tokens taken (at most `want`; fewer when the bucket ran short).
    pub granted: u32,
    /// When short: milliseconds until the bucket's next token; else 0.
    pub wait_ms: i64,
}

/// A template language version as stored. Components and example are the CAMS JSON the domain
/// parses (`opencams_domain::template`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateRow {
    pub id: i64,
    pub account_id: i64,
    pub space_id: String,
    pub code: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub template_type: String,
    pub components: String,
    pub example: String,
    pub audit_status: AuditStatus,
    pub reason: String,
    pub quality_score: String,
    pub message_send_ttl: Option<i64>,
    pub category_change_paused: bool,
    pub product_set_id: Option<String>,
    /// The template's id at the reviewing channel (Meta's template id).
    pub provider_id: Option<String>,
    /// When the built-in simulator decides the review.
    pub review_due_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a create or modify writes.
#[derive(Debug, Clone, Default)]
pub struct TemplateWrite {
    pub account_id: i64,
    pub space_id: String,
    pub code: String,
    pub name: String,
    pub language: String,
    pub category: String,
    pub components: String,
    pub example: String,
    pub message_send_ttl: Option<i64>,
    pub category_change_paused: bool,
    pub product_set_id: Option<String>,
    pub review_due_at: Option<i64>,
    /// The template's id at the channel that reviews it (Meta), when submitted there.
    pub provider_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TemplateFilter {
    pub space_id: String,
    pub name: Option<String>,
    pub code: Option<String>,
    pub language: Option<String>,
    pub audit_status: Option<AuditStatus>,
    pub category: Option<String>,
    pub offset: u64,
    pub limit: u32,
}

/// An event in a message's or template's life, appended to the event log (the outbox the
/// receipts issue delivers from). `payload` is the CAMS callback record as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub account_id: i64,
    pub kind: EventKind,
    pub message_id: Option<String>,
    pub payload: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub account_id: i64,
    pub kind: EventKind,
    pub message_id: Option<String>,
    pub payload: String,
}

/// An accepted outbound message (or a recorded inbound one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageRow {
    pub id: String,
    pub account_id: i64,
    pub space_id: String,
    pub direction: Direction,
    pub sender: String,
    pub recipient: String,
    pub send_type: SendType,
    pub message_type: String,
    pub template_code: Option<String>,
    pub template_name: Option<String>,
    pub language: Option<String>,
    /// The validated request as JSON: content, template params, payload, actions.
    pub body: String,
    pub task_id: Option<String>,
    pub tag: Option<String>,
    pub tracking_data: Option<String>,
    pub label: Option<String>,
    pub ttl_secs: Option<i64>,
    pub fallback_id: Option<String>,
    pub fallback_content: Option<String>,
    pub fallback_duration: Option<i64>,
    pub fallback_rule: Option<FallBackRule>,
    pub group_id: Option<String>,
    pub context_id: Option<String>,
    pub status: MessageStatus,
    pub error_code: Option<String>,
    pub error_description: Option<String>,
    pub provider_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Failed sign-ins counted against one key (an email, a client address) in its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: u32,
    /// When the window began (unix ms).
    pub since: i64,
}

/// Messages of one status created in one hour (for the console's charts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyCount {
    /// The start of the hour, unix milliseconds (UTC).
    pub hour_ms: i64,
    pub status: MessageStatus,
    pub direction: Direction,
    pub count: u64,
}

/// The SMS fallbacks of messages created in one hour that are in one state (for the console's
/// charts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourlyFallbacks {
    /// The start of the hour the messages were created in, unix milliseconds (UTC).
    pub hour_ms: i64,
    pub state: FallbackState,
    pub count: u64,
}

/// What waits in the queue from one sender number (for the console's overview).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub sender: String,
    /// Messages in the queue: not sent yet, whether due, leased or waiting for a retry.
    pub count: u64,
    /// When the oldest of them was accepted, unix milliseconds.
    pub oldest_at: i64,
}

/// A fallback policy: where a message goes by SMS when WhatsApp does not deliver it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `S_000001`, numbered per account.
    pub id: String,
    pub account_id: i64,
    pub name: String,
    /// `sms`.
    pub channel: String,
    pub sender_id: String,
    /// The SMS connection (SMPP or HTTP) as JSON; holds credentials, so it is sealed at rest.
    pub connection: Secret,
    pub created_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub account_id: i64,
    pub name: String,
    pub channel: String,
    pub sender_id: String,
    pub connection: Secret,
}

/// A message claimed for sending, with its queue bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub message: MessageRow,
    /// Sends tried before this one.
    pub attempts: i64,
}

/// How a send attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The channel accepted it: record the provider id, leave the queue.
    Submitted { provider_id: String },
    /// Try again at `due_at` (a retryable failure).
    Retry { due_at: i64, error: String },
    /// Permanently failed (`status` is `Failed` or `Expired`), with the event to append.
    Ended {
        status: MessageStatus,
        error_code: String,
        error_description: String,
        event: Option<NewEvent>,
    },
}

/// Builds the event of a status change from the updated message (kept in the store's
/// transaction).
pub type EventBuilder = Box<
    dyn for<'a> Fn(&'a MessageStatusRow, MessageStatus) -> Option<NewEvent> + Send + Sync + 'static,
>;

/// A message as a provider status found and left it: the columns the status path reads and
/// writes, not the whole row (a status changes none of the others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageStatusRow {
    pub id: String,
    pub account_id: i64,
    pub status: MessageStatus,
    pub error_code: Option<String>,
    pub error_description: Option<String>,
    pub provider_id: Option<String>,
    pub updated_at: i64,
}

/// A status reported by the provider for one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub provider_id: String,
    /// Our MessageId when the provider echoes it (`biz_opaque_callback_data`): a status can
    /// arrive before the send's settlement recorded the provider id.
    pub message_id: Option<String>,
    /// `Sent`, `Delivered`, `Read` or `Failed`.
    pub status: MessageStatus,
    pub at: i64,
    pub error_code: Option<String>,
    pub error_description: Option<String>,
}

/// A message's SMS fallback (see [`FallbackState`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackRow {
    pub message_id: String,
    pub account_id: i64,
    pub policy_id: String,
    pub state: FallbackState,
    pub due_at: Option<i64>,
    pub attempts: i64,
    pub sms_ids: Vec<String>,
    pub text: Option<String>,
    pub error: Option<String>,
    pub updated_at: i64,
}

/// How a claimed fallback ended (or when to try again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackOutcome {
    pub state: FallbackState,
    pub due_at: Option<i64>,
    pub sms_ids: Vec<String>,
    pub text: Option<String>,
    pub error: Option<String>,
}

/// Builds the events of a change from the rows it touched (kept in the store's transaction).
pub type EventsFor =
    Box<dyn for<'a> Fn(&'a FallbackRow, &'a MessageRow) -> Vec<NewEvent> + Send + 'static>;

impl From<opencams_domain::send::NewOutbound> for MessageRow {
    fn from(m: opencams_domain::send::NewOutbound) -> Self {
        let (error_code, error_description) = m.error.unzip();
        let fallback = m.fallback;
        Self {
            id: m.id,
            account_id: m.account_id,
            space_id: m.space_id,
            direction: Direction::Out,
            sender: m.sender,
            recipient: m.recipient,
            send_type: m.send_type,
            message_type: m.message_type,
            template_code: m.template_code,
            template_name: m.template_name,
            language: m.language,
            body: m.body,
            task_id: m.task_id,
            tag: m.tag,
            tracking_data: m.tracking_data,
            label: m.label,
            ttl_secs: m.ttl_secs,
            fallback_id: fallback.as_ref().map(|f| f.id.clone()),
            fallback_content: fallback.as_ref().and_then(|f| f.content.clone()),
            fallback_duration: fallback.as_ref().and_then(|f| f.duration.map(i64::from)),
            fallback_rule: fallback.as_ref().map(|f| f.rule),
            group_id: m.group_id,
            context_id: m.context_id,
            status: m.status,
            error_code,
            error_description,
            provider_id: None,
            created_at: m.created_at,
            updated_at: m.created_at,
        }
    }
}

/// The period and granularity of a metric (GetChatappPhoneNumberMetric,
/// GetChatappTemplateMetric): one space's messages created in `[from, to)`, counted per bucket
/// of `bucket_ms` (at least 1). Buckets start at multiples of `bucket_ms` since the epoch, so
/// day-long ones are UTC days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricQuery {
    pub space_id: String,
    pub from: i64,
    pub to: i64,
    pub bucket_ms: i64,
}

/// The outbound messages of one sender number (or one template language) created in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricCount {
    /// The sender number, or the template's language.
    pub key: String,
    /// The start of the bucket, unix milliseconds.
    pub bucket_ms: i64,
    /// Taken by the Cloud API: `sent`, `delivered` or `read`, or failed after it had a wamid.
    pub sent: u64,
    /// Delivered or read.
    pub delivered: u64,
    pub read: u64,
}

/// The taps on one quick-reply button (by its text) of one template language's messages, made in
/// one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonClicks {
    pub language: String,
    /// The start of the bucket the taps were made in, unix milliseconds.
    pub bucket_ms: i64,
    /// The button's text, as the user's reply carries it.
    pub text: String,
    pub count: u64,
}

/// What [`crate::MessageStore::template_metrics`] counts of one template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateMetrics {
    /// Per language and bucket, ordered so.
    pub counts: Vec<MetricCount>,
    /// Per language, bucket and button text, ordered so.
    pub clicks: Vec<ButtonClicks>,
}
