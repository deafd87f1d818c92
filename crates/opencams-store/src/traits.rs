//! The Store, by aggregate: one trait each for accounts (with their spaces, settings and access
//! keys), sender numbers, nonces, templates, messages (with the durable queue and the 24-hour
//! window), events (the log and the callback outboxes fed from it), fallbacks (policies and
//! SMS timers) and the web console's users and sessions. [`Store`] is all of them plus the
//! backend's own life (ping, close); callers hold an `Arc<dyn Store>` (whose methods include
//! every aggregate's).
//!
//! Times are unix milliseconds passed in by the caller: the clock is injected above this layer.
//! Every method is written against no particular database, and the conformance suite
//! (`tests/conformance/`) checks each backend against these contracts.

use std::collections::BTreeMap;

use opencams_domain::template::AuditStatus;

use crate::*;

/// Accounts, their spaces (`CustSpaceId`), per-account settings and access keys.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// A new account with its default space; `Conflict` if the name is taken.
    async fn create_account(&self, name: &str, now: i64) -> Result<Account>;
    async fn account(&self, name: &str) -> Result<Option<Account>>;
    async fn account_by_id(&self, id: i64) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    async fn set_account_status(&self, name: &str, status: AccountStatus) -> Result<Account>;
    async fn create_space(&self, account_id: i64, name: &str, now: i64) -> Result<Space>;
    async fn space(&self, id: &str) -> Result<Option<Space>>;
    async fn list_spaces(&self, account_id: Option<i64>) -> Result<Vec<Space>>;
    /// Per-account settings (`qps.<Action>`, `qps.api`, `session.window`, …).
    async fn account_settings(&self, account_id: i64) -> Result<BTreeMap<String, String>>;
    /// Sets (`Some`) or clears (`None`) one setting.
    async fn set_account_setting(
        &self,
        account_id: i64,
        key: &str,
        value: Option<&str>,
    ) -> Result<()>;

    /// A new access key; its secret is sealed at rest and returned once here.
    async fn create_key(&self, key: NewKey, now: i64) -> Result<AccessKey>;
    async fn key(&self, id: &str) -> Result<Option<AccessKey>>;
    async fn list_keys(&self, account_id: Option<i64>) -> Result<Vec<AccessKey>>;
    async fn set_key_enabled(&self, id: &str, enabled: bool) -> Result<AccessKey>;
}

/// Sender (business) numbers and their channel settings.
#[async_trait::async_trait]
pub trait NumberStore: Send + Sync {
    /// `Conflict` if the phone is registered already.
    async fn add_number(&self, number: NewNumber, now: i64) -> Result<Number>;
    async fn number(&self, phone: &str) -> Result<Option<Number>>;
    async fn list_numbers(&self, filter: NumberFilter) -> Result<Vec<Number>>;
    /// Changes what `update` sets (each `None` keeps the value) and returns the number as
    /// stored; an empty update changes nothing. `NotFound` if no such number; `Conflict` when it
    /// sets a secret on a number without Cloud API settings (a simulator number). Secrets are
    /// sealed as [`Self::add_number`]'s are.
    async fn update_number(&self, phone: &str, update: NumberUpdate, now: i64) -> Result<Number>;
    /// Removes a number. `NotFound` if there is none; `Conflict` (saying how many) while
    /// messages from it still wait in the queue, claimed or not: they would have nobody to send
    /// them. Its sent messages, their windows and its per-number webhook settings stay.
    async fn remove_number(&self, phone: &str) -> Result<()>;
}

/// Replay protection: the signature nonces seen, kept until they expire.
#[async_trait::async_trait]
pub trait NonceStore: Send + Sync {
    async fn record_nonces(&self, nonces: Vec<NonceRecord>) -> Result<()>;
    async fn live_nonces(&self, now: i64) -> Result<Vec<NonceRecord>>;
    /// Records nonces that must not be live already (expiring after `now`), in order: for each,
    /// whether it was new. On a store several nodes share, this is what refuses on one node a
    /// nonce used on another; a nonce twice in one call is new only the first time.
    async fn claim_nonces(&self, nonces: Vec<NonceRecord>, now: i64) -> Result<Vec<bool>>;
}

/// Templates, one row per language version; deleted rows are kept so codes are never reused.
#[async_trait::async_trait]
pub trait TemplateStore: Send + Sync {
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
    /// Replaces content and sends the version back to review (`auditing`, its new review time,
    /// no lease).
    async fn modify_template(
        &self,
        id: i64,
        t: TemplateWrite,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow>;
    /// Records a review outcome or quality change; clears the simulator's review time and lease.
    async fn set_template_status(
        &self,
        id: i64,
        status: AuditStatus,
        reason: &str,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<TemplateRow>;
    /// Records the outcome of a review that `owner` claimed ([`Self::claim_template_reviews`]),
    /// as [`Self::set_template_status`] does, only while `owner` still holds it: `None` when its
    /// lease passed to another reviewer, or the template was modified (back to review, with no
    /// lease) or deleted meanwhile, so that a late decision about old content is never recorded.
    async fn finish_template_review(
        &self,
        id: i64,
        owner: &str,
        status: AuditStatus,
        reason: &str,
        event: Option<NewEvent>,
        now: i64,
    ) -> Result<Option<TemplateRow>>;
    /// Marks language versions deleted (their codes stay reserved).
    async fn delete_templates(&self, ids: Vec<i64>, now: i64) -> Result<()>;
    /// A page of live templates and the total count.
    async fn list_templates(&self, filter: TemplateFilter) -> Result<(u64, Vec<TemplateRow>)>;
    /// Claims up to `limit` templates whose simulated review is due (`review_due_at <= now`, not
    /// deleted) for `owner` until `now + lease_ms`, earliest due first; expired leases are
    /// claimed again. A review is never held by two owners while its lease holds, and recording
    /// its outcome ([`Self::set_template_status`]) ends it, so it is decided once.
    async fn claim_template_reviews(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<TemplateRow>>;
}

/// Messages, their durable queue, provider statuses and the 24-hour customer-service window.
#[async_trait::async_trait]
pub trait MessageStore: Send + Sync {
    /// Stores accepted messages, their queue entries (for `accepted` outbound ones), their
    /// fallback timers and events, all in one transaction: either everything is durable or
    /// nothing is.
    async fn insert_messages(&self, messages: Vec<MessageRow>, events: Vec<NewEvent>)
    -> Result<()>;
    /// A message by its MessageId or its provider id (wamid).
    async fn message(&self, id: &str) -> Result<Option<MessageRow>>;
    /// How many messages exist (any direction).
    async fn count_messages(&self) -> Result<u64>;
    /// A page of a space's messages, newest first.
    async fn list_messages(&self, filter: MessageFilter) -> Result<Vec<MessageRow>>;

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
    /// How many messages wait in the queue.
    async fn queue_len(&self) -> Result<u64>;

    /// Applies a provider status in the forward-only order of
    /// [`opencams_domain::MessageStatus::may_become`]; returns the message's status as it left
    /// it and whether it changed. The event is built by `event` and appended only when it changed.
    async fn apply_status(
        &self,
        update: StatusUpdate,
        event: EventBuilder,
    ) -> Result<Option<(MessageStatusRow, bool)>>;
    /// [`MessageStore::apply_status`] for every update of one provider webhook, in order, in
    /// one write (all or none).
    async fn apply_statuses(
        &self,
        updates: Vec<(StatusUpdate, EventBuilder)>,
    ) -> Result<Vec<Option<(MessageStatusRow, bool)>>>;
    /// Stores an inbound message (once per provider id), opens the window, appends its event.
    /// False when it was already stored (a duplicate webhook).
    async fn record_inbound(&self, message: MessageRow, event: Option<NewEvent>) -> Result<bool>;

    /// Moves the window of (sender, user) forward to `at` (never back).
    async fn record_inbound_window(&self, sender: &str, user: &str, at: i64) -> Result<()>;
    async fn last_inbound(&self, sender: &str, user: &str) -> Result<Option<i64>>;

    /// Messages of `account_id` created in `[from, to)` counted per UTC hour (by `created_at`),
    /// status and direction, ordered by hour (then status and direction, by their stored text).
    /// Hours without messages are absent. For the console's overview charts.
    async fn hourly_counts(&self, account_id: i64, from: i64, to: i64) -> Result<Vec<HourlyCount>>;
    /// The messages of `account_id` waiting in the queue (accepted, not sent yet: due, leased or
    /// waiting for a retry), counted per sender number with the time the oldest was accepted,
    /// ordered by sender. Senders with nothing waiting are absent. Reads the queue, not the
    /// message history: its cost follows the queue's length.
    async fn waiting(&self, account_id: i64) -> Result<Vec<Waiting>>;

    /// The outbound messages of `q`'s space created in its period, of one `sender` or of every
    /// sender, counted per sender and bucket (see [`MetricCount`]), ordered by sender (bytewise),
    /// then bucket; buckets without messages are absent. Reads the period's range of the
    /// space's (space, time) index, so its cost follows the space's messages in the period.
    async fn number_metrics(
        &self,
        q: MetricQuery,
        sender: Option<String>,
    ) -> Result<Vec<MetricCount>>;
    /// The outbound messages of template `code` in `q`'s space (of one `language`, or of every
    /// language) created in its period, counted per language and bucket; and the taps on its
    /// quick-reply buttons made in the period (inbound `button` replies whose context is one of
    /// those messages, whenever it was sent), per language, bucket and button text. Each list
    /// is ordered by language (bytewise), bucket (then button text); empty buckets are absent.
    async fn template_metrics(
        &self,
        q: MetricQuery,
        code: String,
        language: Option<String>,
    ) -> Result<TemplateMetrics>;
}

/// The event log and the callback delivery fed from it: webhook settings, signing secrets, the
/// per-endpoint outboxes.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync {
    async fn events_after(&self, after_id: i64, limit: u32) -> Result<Vec<EventRow>>;
    /// The events of one message, oldest first.
    async fn message_events(&self, message_id: &str) -> Result<Vec<EventRow>>;

    /// Applies a partial webhook update and returns the stored setting.
    async fn set_webhook(&self, update: WebhookUpdate, now: i64) -> Result<WebhookSetting>;
    /// The space-level setting and the per-number settings of a space.
    async fn webhooks(&self, space_id: &str) -> Result<Vec<WebhookSetting>>;
    /// The account's callback signing secret, created (sealed) on first use.
    async fn callback_secret(&self, account_id: i64, now: i64) -> Result<Secret>;
    /// Routes up to `limit` events after the routing cursor to their endpoints' outboxes and
    /// moves the cursor, in one transaction; returns how many events were looked at.
    async fn route_events(&self, limit: u32, now: i64) -> Result<usize>;
    /// Routes again every event created at or after `since_ms` (of one account or all); events
    /// still pending are not doubled. Returns how many deliveries were enqueued.
    async fn replay_events(&self, since_ms: i64, account_id: Option<i64>, now: i64) -> Result<u64>;
    /// Leases up to `limit` enabled, due endpoints with pending records to `owner` until
    /// `now + lease_ms`, each with up to `batch` of its oldest records.
    async fn claim_endpoints(
        &self,
        owner: &str,
        now: i64,
        lease_ms: i64,
        limit: u32,
        batch: u32,
    ) -> Result<Vec<ClaimedEndpoint>>;
    /// Records an attempt's outcome if `owner` still holds the lease; returns the endpoint. In
    /// the same transaction the attempt (when it carried any event) joins the delivery log with
    /// its answer cut to [`ATTEMPT_ANSWER_MAX`] bytes, and now and then (one settle in
    /// [`ATTEMPTS_PURGE_EVERY`]) up to [`ATTEMPTS_PURGE_BATCH`] attempts older than
    /// [`ATTEMPTS_KEPT_MS`] leave it. A settle without the lease records nothing.
    async fn settle_endpoint(
        &self,
        endpoint_id: i64,
        owner: &str,
        outcome: DeliveryOutcome,
        now: i64,
    ) -> Result<Option<Endpoint>>;
    /// The logged attempts that carried any of `event_ids` (a message's events), with their
    /// endpoint's URL and which of those events each carried; the latest
    /// [`MESSAGE_ATTEMPTS_MAX`], oldest first. Reads a few short index ranges per endpoint of
    /// the events' account, however long the log (see `receipts.rs`).
    async fn message_deliveries(&self, event_ids: &[i64]) -> Result<Vec<DeliveryAttempt>>;
    /// Endpoints (of one account or all) with their pending counts.
    async fn list_endpoints(&self, account_id: Option<i64>) -> Result<Vec<Endpoint>>;
    /// Enables the endpoints with this URL (of one account or all) and makes them due now;
    /// returns how many were changed.
    async fn enable_endpoints(&self, url: &str, account_id: Option<i64>, now: i64) -> Result<u64>;
}

/// Fallback policies and the SMS fallback timers of messages (created with the message when it
/// names a FallBackId).
#[async_trait::async_trait]
pub trait FallbackStore: Send + Sync {
    async fn create_policy(&self, p: NewPolicy, now: i64) -> Result<Policy>;
    async fn policy(&self, account_id: i64, id: &str) -> Result<Option<Policy>>;
    async fn list_policies(&self, account_id: i64) -> Result<Vec<Policy>>;
    /// Deletes a policy; `Conflict` while messages waiting for a fallback still name it.
    async fn delete_policy(&self, account_id: i64, id: &str, now: i64) -> Result<()>;

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
    /// The fallbacks of `account_id`'s messages created in `[from, to)` counted per UTC hour (of
    /// the message's `created_at`, as [`MessageStore::hourly_counts`] counts the messages) and
    /// state, ordered by hour, then state (by its stored text). Hours without any are absent.
    async fn hourly_fallbacks(
        &self,
        account_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<HourlyFallbacks>>;
}

/// Web-console users (per account, with a role) and their sign-in sessions. Passwords arrive
/// hashed (Argon2id, by the caller) and session tokens as their hashes: the store never sees
/// either in the clear.
#[async_trait::async_trait]
pub trait UserStore: Send + Sync {
    /// A new user; `Conflict` if the email (compared case-insensitively; stored lowercased) is
    /// taken, `NotFound` if the account does not exist.
    async fn create_user(&self, user: NewConsoleUser, now: i64) -> Result<ConsoleUser>;
    /// By email, case-insensitively.
    async fn user_by_email(&self, email: &str) -> Result<Option<ConsoleUser>>;
    async fn user(&self, id: i64) -> Result<Option<ConsoleUser>>;
    /// Every user, or one account's; ordered by account, then email.
    async fn list_users(&self, account_id: Option<i64>) -> Result<Vec<ConsoleUser>>;
    /// `NotFound` if no such user. Also ends every session of the user (a changed password signs
    /// it out everywhere), in the same transaction.
    async fn set_user_password(&self, id: i64, password_hash: &str) -> Result<ConsoleUser>;
    /// `NotFound` if no such user. Disabling also ends every session of the user; enabling
    /// brings none back.
    async fn set_user_enabled(&self, id: i64, enabled: bool) -> Result<ConsoleUser>;
    /// `Conflict` if the token hash is in use, `NotFound` if the user does not exist.
    async fn create_session(&self, session: ConsoleSession) -> Result<()>;
    /// The session if it exists and `expires_at > now`.
    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<ConsoleSession>>;
    /// Ends a session (nothing happens if there is none: signing out twice is fine).
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Deletes sessions with `expires_at <= now`; returns how many.
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64>;
    /// Counts a failed sign-in against each key (an email's, a client address's) in a fixed
    /// window of `window_ms`: a key whose window began `window_ms` or more before `now` starts a
    /// new one at `now`. Windows that ended are deleted. Kept in the store so that every node
    /// counts alike.
    async fn record_login_failure(&self, keys: Vec<String>, now: i64, window_ms: i64)
    -> Result<()>;
    /// The failures counted against each key in its live window, and when the window began;
    /// `None` for a key without one.
    async fn login_failures(
        &self,
        keys: Vec<String>,
        now: i64,
        window_ms: i64,
    ) -> Result<Vec<Option<LoginFailures>>>;
    /// Forgets a key's failures (a successful sign-in clears its email's).
    async fn clear_login_failures(&self, key: &str) -> Result<()>;
}

/// Token buckets that every node sharing the store shares: the API's per-account limits and the
/// dispatcher's send rates hold across a cluster. Callers batch their takes (see
/// [`crate::limits::SharedBuckets`]): one call serves many requests.
#[async_trait::async_trait]
pub trait LimitStore: Send + Sync {
    /// Takes tokens for each request, in order, at `now`: a bucket per key, full (`capacity`)
    /// when first seen, refilled at `1 / per_ms` tokens a millisecond up to its capacity, and
    /// never moved back in time (a `now` before the bucket's last take refills nothing). Requests
    /// for one key in one call are served in order from the same bucket, each getting what is
    /// left up to its `want`; a short one is told how long until the next token. Buckets idle
    /// for over 10 minutes may be forgotten (they would be full again by then for any rate above
    /// capacity per 10 minutes). One grant per request, in order.
    async fn take_tokens(&self, requests: Vec<TokenRequest>, now: i64) -> Result<Vec<TokenGrant>>;
}

/// Everything the server and the CLI keep: every aggregate, and the backend's own life.
#[async_trait::async_trait]
pub trait Store:
    AccountStore
    + NumberStore
    + NonceStore
    + TemplateStore
    + MessageStore
    + EventStore
    + FallbackStore
    + LimitStore
    + UserStore
    + Send
    + Sync
{
    /// True when several processes may use this store at once (PostgreSQL): nonces are claimed
    /// in it, and what nodes cache of it is invalidated by its change notifications.
    fn shared(&self) -> bool {
        false
    }
    /// What other nodes change, as the store's notifications tell it (`None`: no other node can
    /// write to this store). Caches clear what a [`Change`] names.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }
    /// True when no account exists yet (first start).
    async fn is_empty(&self) -> Result<bool>;
    /// Liveness of the database (readiness probe).
    async fn ping(&self) -> Result<()>;
    /// Finishes queued writes and closes the database cleanly.
    async fn close(&self);
}
