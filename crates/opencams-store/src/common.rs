//! What both backends share below the SQL: id generation, the additional data that binds each
//! sealed secret to its row, the text forms of list columns, and the errors both give alike.

// --- accounts, keys and numbers ---

/// `n` random ASCII letters and digits.
pub(crate) fn random_alnum(n: usize) -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A new `CustSpaceId`: `cams-` and 12 lowercase letters or digits.
pub(crate) fn new_space_id() -> String {
    format!("cams-{}", random_alnum(12).to_ascii_lowercase())
}

/// A new access key id: `LTAI` and 20 letters or digits.
pub(crate) fn new_key_id() -> String {
    format!("LTAI{}", random_alnum(20))
}

/// A new access key secret: 30 letters or digits.
pub(crate) fn new_key_secret() -> String {
    random_alnum(30)
}

/// The additional data of an access key's sealed secret.
pub(crate) fn key_aad(id: &str) -> String {
    format!("access_key:{id}")
}

/// The additional data of a number's sealed channel credential (`what`: `access_token`,
/// `app_secret`).
pub(crate) fn number_aad(phone: &str, what: &str) -> String {
    format!("number:{phone}:{what}")
}

/// The text form of an optional list column (`actions`, `spaces` of a key): comma-separated.
pub(crate) fn list_to_text(list: &Option<Vec<String>>) -> Option<String> {
    list.as_ref().map(|l| l.join(","))
}

/// [`list_to_text`] read back (empty items dropped).
pub(crate) fn text_to_list(text: Option<String>) -> Option<Vec<String>> {
    text.map(|t| {
        t.split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    })
}

/// What both backends answer for a number that is not registered.
pub(crate) fn not_registered(phone: &str) -> crate::StoreError {
    crate::StoreError::NotFound(format!("number {phone} is not registered"))
}

/// What both backends answer for a Cloud API secret given to a number of `channel` that has no
/// Cloud API settings to keep it in.
pub(crate) fn no_cloud_settings(phone: &str, channel: &str) -> crate::StoreError {
    crate::StoreError::Conflict(format!(
        "number {phone} is on the {channel} channel, which takes no access token or app secret: \
         only whatsapp-cloud numbers (with a phone number id) do"
    ))
}

/// What both backends answer for removing a number whose messages still wait in the queue.
pub(crate) fn still_queued(phone: &str, waiting: i64) -> crate::StoreError {
    crate::StoreError::Conflict(format!(
        "number {phone} still has {waiting} message(s) waiting in the queue to be sent from it; \
         remove it once they are sent or have failed"
    ))
}

// --- events and callback delivery ---

/// The additional data of an account's sealed callback signing secret.
pub(crate) fn callback_secret_aad(account_id: i64) -> String {
    format!("callback_secret:{account_id}")
}

/// A new callback signing secret: `whsec_` and 40 letters or digits.
pub(crate) fn new_callback_secret() -> String {
    format!("whsec_{}", random_alnum(40))
}

/// The template code an audit event's payload names (its space is the template's).
pub(crate) fn audit_template_code(payload: &str) -> Option<String> {
    let payload: serde_json::Value =
        serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
    payload["TemplateCode"].as_str().map(String::from)
}

/// The URL an event of `kind` goes to, from its space's setting and (for message events) its
/// business number's: a number's setting overrides its space's; inbound messages go to the
/// UpCallbackUrl (else the space's status URL, the "account URL"); audits go to the space's
/// status URL. `HttpFlag=N` at the deciding level means no HTTP delivery.
pub(crate) fn callback_url(
    kind: opencams_domain::EventKind,
    space: Option<&crate::WebhookSetting>,
    number: Option<&crate::WebhookSetting>,
) -> Option<String> {
    use opencams_domain::EventKind;
    let http = number
        .and_then(|n| n.http_flag)
        .or_else(|| space.and_then(|s| s.http_flag))
        .unwrap_or(true);
    if !http {
        return None;
    }
    let num = |f: fn(&crate::WebhookSetting) -> &Option<String>| number.and_then(|n| f(n).clone());
    let sp = |f: fn(&crate::WebhookSetting) -> &Option<String>| space.and_then(|s| f(s).clone());
    match kind {
        EventKind::Audit => sp(|s| &s.status_url),
        EventKind::Inbound => num(|s| &s.up_url)
            .or_else(|| sp(|s| &s.up_url))
            .or_else(|| sp(|s| &s.status_url)),
        EventKind::Status => num(|s| &s.status_url).or_else(|| sp(|s| &s.status_url)),
    }
}

/// Why an endpoint is disabled after a failed attempt: `failures` consecutive ones (the first at
/// `first_failure_at`) reaching `disable_after` over at least `disable_span_ms`; `None` while
/// it stays enabled.
pub(crate) fn disable_reason(
    failures: i64,
    first_failure_at: i64,
    now: i64,
    disable_after: i64,
    disable_span_ms: i64,
    error: &str,
) -> Option<String> {
    (failures >= disable_after && now - first_failure_at >= disable_span_ms).then(|| {
        format!(
            "disabled after {failures} consecutive failed attempts over {} s; last error: {error}",
            (now - first_failure_at) / 1000
        )
    })
}

// --- messages and fallbacks ---

/// Whether an inserted message waits in the send queue (due at its creation): an outbound one
/// still `accepted`.
pub(crate) fn queued(m: &crate::MessageRow) -> bool {
    m.direction == opencams_domain::Direction::Out
        && m.status == opencams_domain::MessageStatus::Accepted
}

/// The fallback row an inserted message starts, as (policy, state, due time): an outbound
/// message with a FallBackId gets a timer when it has a duration, else it is armed until the
/// message fails (a message refused at verification fails at once); `None` for the others.
pub(crate) fn fallback_timer(
    m: &crate::MessageRow,
) -> Option<(&str, opencams_domain::FallbackState, Option<i64>)> {
    use opencams_domain::FallbackState;
    let policy = m.fallback_id.as_deref()?;
    if m.direction != opencams_domain::Direction::Out {
        return None;
    }
    Some(match m.fallback_duration {
        Some(secs) => (
            policy,
            FallbackState::Scheduled,
            Some(m.created_at + secs * 1000),
        ),
        None => (policy, FallbackState::Armed, None),
    })
}

/// Where a provider status stands in the forward-only order, as (is it `failed`, its rank):
/// `None` when it can change no message (outside the order and not a failure).
pub(crate) fn status_change(u: &crate::StatusUpdate) -> Option<(bool, i32)> {
    let failed = u.status == opencams_domain::MessageStatus::Failed;
    let rank = u.status.rank();
    (failed || rank > 0).then_some((failed, rank))
}

/// The SQL condition under which a message's `status` moves to a reported one, in the order of
/// [`opencams_domain::MessageStatus::may_become`]: failed ends a message that has not been
/// delivered (a late failed after delivery is ignored); a later delivered/read wins even over
/// failed (whose rank is below every other); a late sent never moves a message back. `failed`
/// and `rank` are the placeholders (or columns) of [`status_change`]'s two values, `status` the
/// message's status column. The order comes from the domain's
/// [`opencams_domain::MessageStatus::rank_sql`].
pub(crate) fn status_moves_sql(status: &str, failed: &str, rank: &str) -> String {
    use opencams_domain::MessageStatus;
    let order = MessageStatus::rank_sql(status);
    let failable: Vec<MessageStatus> = MessageStatus::ALL
        .iter()
        .copied()
        .filter(|s| s.may_become(MessageStatus::Failed))
        .collect();
    let failable = MessageStatus::sql_list(&failable);
    format!("CASE WHEN {failed} THEN {status} IN {failable} ELSE {order} < {rank} END")
}

/// The statement of [`crate::MessageStore::hourly_counts`]: hour (its start), status, direction
/// and count, with the placeholders `account`, `from` and `to`; `bytewise` is what makes text
/// order bytewise in ORDER BY (PostgreSQL's `COLLATE "C"`; nothing on SQLite, which compares
/// so), so both backends list in one order. The account's spaces are the way in: the messages
/// are read through the (space, time) index that the message history uses, not through an
/// index of their own that every accepted send would have to write to. The account filter on
/// top keeps the count to the account's own messages whatever the spaces say.
pub(crate) fn hourly_counts_sql(account: &str, from: &str, to: &str, bytewise: &str) -> String {
    const HOUR_MS: i64 = 3_600_000;
    // floored, not truncated, to the hour: `%` takes the dividend's sign on both backends, so a
    // time before 1970 would otherwise land in the hour after its own
    let hour = format!("created_at - ((created_at % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS}");
    format!(
        "SELECT {hour}, status, direction, COUNT(*) FROM messages \
         WHERE space_id IN (SELECT id FROM spaces WHERE account_id = {account}) \
         AND account_id = {account} AND created_at >= {from} AND created_at < {to} \
         GROUP BY 1, 2, 3 ORDER BY 1, status {bytewise}, direction {bytewise}"
    )
}

/// The SQL condition of a fallback `f` (of message `m`) that must be decided at `now` (a
/// placeholder), with the statuses that decide it taken from the domain: a due timer; an armed
/// one whose message will never be delivered (fires); a waiting one whose message reached the
/// user (cancels); one left `sending`; and only when no live lease holds it.
pub(crate) fn fallback_decidable_sql(now: &str) -> String {
    use opencams_domain::MessageStatus;
    let statuses = |keep: fn(&MessageStatus) -> bool| {
        let set: Vec<MessageStatus> = MessageStatus::ALL.iter().copied().filter(keep).collect();
        MessageStatus::sql_list(&set)
    };
    let undeliverable = statuses(|s| s.undeliverable());
    let reached = statuses(|s| s.reached_user());
    format!(
        "(f.lease_until IS NULL OR f.lease_until <= {now}) AND ( \
           (f.state = 'scheduled' AND f.due_at <= {now}) \
           OR (f.state = 'armed' AND m.status IN {undeliverable}) \
           OR (f.state IN ('scheduled', 'armed') AND m.status IN {reached}) \
           OR (f.state = 'sending'))"
    )
}

/// The id of an account's `n`th policy (`S_000001`, …): counted over deleted ones too, so ids
/// are never reused.
pub(crate) fn policy_id(n: i64) -> String {
    format!("S_{n:06}")
}

/// The additional data of a policy's sealed SMS connection.
pub(crate) fn policy_aad(account_id: i64, id: &str) -> String {
    format!("policy:{account_id}:{id}")
}
