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
    let hour = hour_of("created_at");
    format!(
        "SELECT {hour}, status, direction, COUNT(*) FROM messages \
         WHERE space_id IN (SELECT id FROM spaces WHERE account_id = {account}) \
         AND account_id = {account} AND created_at >= {from} AND created_at < {to} \
         GROUP BY 1, 2, 3 ORDER BY 1, status {bytewise}, direction {bytewise}"
    )
}

/// The start of the UTC hour of the unix-ms `column`, in SQL. Floored, not truncated: `%` takes
/// the dividend's sign on both backends, so a time before 1970 would otherwise land in the hour
/// after its own.
fn hour_of(column: &str) -> String {
    const HOUR_MS: i64 = 3_600_000;
    format!("{column} - (({column} % {HOUR_MS}) + {HOUR_MS}) % {HOUR_MS}")
}

/// The statement of [`crate::FallbackStore::hourly_fallbacks`]: hour, state and count, with the
/// placeholders `account`, `from` and `to` and `bytewise` as in [`hourly_counts_sql`]. A
/// fallback's `created_at` is its message's, so the hours are the ones the message counts use;
/// the (account, created_at, state) index answers it without reading the table.
pub(crate) fn hourly_fallbacks_sql(account: &str, from: &str, to: &str, bytewise: &str) -> String {
    let hour = hour_of("created_at");
    format!(
        "SELECT {hour}, state, COUNT(*) FROM fallbacks \
         WHERE account_id = {account} AND created_at >= {from} AND created_at < {to} \
         GROUP BY 1, 2 ORDER BY 1, state {bytewise}"
    )
}

/// The statement of [`crate::MessageStore::waiting`]: sender, count and oldest `created_at` of
/// the queued messages of the account `account` (a placeholder); `bytewise` as in
/// [`hourly_counts_sql`]. The queue is the outer side: on SQLite `CROSS JOIN` keeps it there (its
/// planner has no statistics to tell a short queue from a long history); PostgreSQL plans it as
/// the inner join it is. Each queued message is then found by its primary key, so the cost
/// follows the queue's length, never the history's.
pub(crate) fn waiting_sql(account: &str, bytewise: &str) -> String {
    format!(
        "SELECT m.sender, COUNT(*), MIN(m.created_at) FROM queue q CROSS JOIN messages m \
         WHERE m.id = q.message_id AND m.account_id = {account} \
         GROUP BY m.sender ORDER BY m.sender {bytewise}"
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

/// A value of a [`message_search`] statement, for the backend to bind as its driver wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchValue<'a> {
    Text(&'a str),
    Int(i64),
    /// The statuses asked for (bound as an array, or as JSON on SQLite).
    Texts(Vec<&'a str>),
}

/// The search of [`crate::MessageStore::list_messages`]: `select` (everything before `WHERE`)
/// with only the conditions the filter gives, numbered placeholders from `placeholder(n)` (1
/// based), the status condition from `statuses(placeholder)`, and the values in placeholder
/// order. Only what is given is written: a condition `(? IS NULL OR col = ?)` cannot bound an
/// index scan, so every search walked the space's messages newest first until a page matched
/// (350 ms for a user's messages among a million); written plainly, the user, the TaskId and a
/// time range become index ranges. The keyset is written as a range for the same reason. `ids`
/// follows `id` wherever ids are compared (` COLLATE "C"` on PostgreSQL: bytewise, as on SQLite).
pub(crate) fn message_search<'a>(
    f: &'a crate::MessageFilter,
    select: &str,
    placeholder: impl Fn(usize) -> String,
    statuses: impl Fn(&str) -> String,
    ids: &str,
) -> (String, Vec<SearchValue<'a>>) {
    let mut values: Vec<SearchValue<'a>> = Vec::new();
    let mut conditions: Vec<String> = Vec::new();
    // binds `$v` and writes the condition `$c` with `{p}`, its placeholder
    macro_rules! condition {
        ($c:literal, $v:expr) => {{
            values.push($v);
            let p = placeholder(values.len());
            conditions.push(format!($c, p = p));
            p
        }};
    }
    condition!("space_id = {p}", SearchValue::Text(&f.space_id));
    if let Some(v) = &f.sender {
        condition!("sender = {p}", SearchValue::Text(v));
    }
    if let Some(v) = &f.recipient {
        condition!("recipient = {p}", SearchValue::Text(v));
    }
    if let Some(d) = f.direction {
        condition!("direction = {p}", SearchValue::Text(d.as_str()));
    }
    if let Some(v) = f.from_ms {
        condition!("created_at >= {p}", SearchValue::Int(v));
    }
    if let Some(v) = f.to_ms {
        condition!("created_at <= {p}", SearchValue::Int(v));
    }
    if let Some(v) = &f.template_code {
        condition!("template_code = {p}", SearchValue::Text(v));
    }
    if let Some(v) = &f.group_id {
        condition!("group_id = {p}", SearchValue::Text(v));
    }
    if let Some(v) = &f.task_id {
        condition!("task_id = {p}", SearchValue::Text(v));
    }
    if let Some(list) = &f.statuses {
        values.push(SearchValue::Texts(
            list.iter().map(|s| s.as_str()).collect(),
        ));
        conditions.push(statuses(&placeholder(values.len())));
    }
    if let Some((at, id)) = &f.before {
        let at = condition!("created_at <= {p}", SearchValue::Int(*at));
        values.push(SearchValue::Text(id));
        let id = placeholder(values.len());
        conditions.push(format!("(created_at < {at} OR id{ids} < {id}{ids})"));
    }
    values.push(SearchValue::Int(i64::from(f.limit)));
    let limit = placeholder(values.len());
    values.push(SearchValue::Int(
        i64::try_from(f.offset).unwrap_or(i64::MAX),
    ));
    let offset = placeholder(values.len());
    let sql = format!(
        "{select} WHERE {} ORDER BY created_at DESC, id{ids} DESC LIMIT {limit} OFFSET {offset}",
        conditions.join(" AND ")
    );
    (sql, values)
}

/// The statement counting a failed sign-in against a key (placeholders `key`, `now`,
/// `window`): a new row, or one more failure in a live window, or a new window.
pub(crate) fn login_failure_sql(key: &str, now: &str, window: &str) -> String {
    let ended = format!("login_failures.since + {window} <= {now}");
    format!(
        "INSERT INTO login_failures (key, failures, since) VALUES ({key}, 1, {now}) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN {ended} THEN 1 ELSE login_failures.failures + 1 END, \
           since = CASE WHEN {ended} THEN {now} ELSE login_failures.since END"
    )
}

// --- metrics (GetChatappPhoneNumberMetric, GetChatappTemplateMetric) ---

/// The start of the `bucket_ms`-long bucket of the unix-ms `column`, in SQL: buckets start at
/// multiples of `bucket_ms` since the epoch (UTC days and half hours), floored as [`hour_of`].
fn bucket_of(column: &str, bucket_ms: i64) -> String {
    let b = bucket_ms.max(1);
    format!("{column} - (({column} % {b}) + {b}) % {b}")
}

/// The three sums of a metric over the messages aliased `m`: sent (the Cloud API took the
/// message: it reached `sent` or beyond, or failed after it was given a wamid), delivered
/// (delivered or read) and read. A message still `accepted` with a wamid waits for its `sent`
/// receipt and is not counted yet.
fn metric_sums(m: &str) -> String {
    use opencams_domain::MessageStatus;
    let list = |keep: fn(&MessageStatus) -> bool| {
        let set: Vec<MessageStatus> = MessageStatus::ALL.iter().copied().filter(keep).collect();
        MessageStatus::sql_list(&set)
    };
    let sent = list(|s| s.rank() >= MessageStatus::Sent.rank());
    let delivered = list(|s| s.reached_user());
    let read = MessageStatus::Read.as_str();
    let failed = MessageStatus::Failed.as_str();
    format!(
        "SUM(CASE WHEN {m}.status IN {sent} \
           OR ({m}.status = '{failed}' AND {m}.provider_id IS NOT NULL) THEN 1 ELSE 0 END), \
         SUM(CASE WHEN {m}.status IN {delivered} THEN 1 ELSE 0 END), \
         SUM(CASE WHEN {m}.status = '{read}' THEN 1 ELSE 0 END)"
    )
}

/// The statement of [`crate::MessageStore::number_metrics`] and its values: sender, bucket and
/// the sums of [`metric_sums`], with numbered placeholders from `placeholder(n)` and `bytewise`
/// as in [`hourly_counts_sql`]. The period is a range of the (space, time) index that the
/// message history reads; the sender (when given) and the direction filter that range.
pub(crate) fn number_metrics_sql<'a>(
    q: &'a crate::MetricQuery,
    sender: Option<&'a str>,
    placeholder: impl Fn(usize) -> String,
    bytewise: &str,
) -> (String, Vec<SearchValue<'a>>) {
    let (p1, p2, p3) = (placeholder(1), placeholder(2), placeholder(3));
    let mut values = vec![
        SearchValue::Text(&q.space_id),
        SearchValue::Int(q.from),
        SearchValue::Int(q.to),
    ];
    let mut by_sender = String::new();
    if let Some(s) = sender {
        values.push(SearchValue::Text(s));
        by_sender = format!(" AND m.sender = {}", placeholder(4));
    }
    let out = opencams_domain::Direction::Out.as_str();
    let sql = format!(
        "SELECT m.sender, {bucket}, {sums} FROM messages m \
         WHERE m.space_id = {p1} AND m.created_at >= {p2} AND m.created_at < {p3} \
         AND m.direction = '{out}'{by_sender} \
         GROUP BY 1, 2 ORDER BY m.sender {bytewise}, 2",
        bucket = bucket_of("m.created_at", q.bucket_ms),
        sums = metric_sums("m"),
    );
    (sql, values)
}

/// The two statements of [`crate::MessageStore::template_metrics`] and their values (the same
/// for both): the template's messages as (language, bucket, sums), and the taps on its
/// quick-reply buttons as (language, bucket, button text, count). `button_text` is the backend's
/// SQL for the tapped button's text in the inbound body `i.body` (`{"inbound": <the Cloud API
/// message>}`, whose `button.text` is the label); the rest as in [`number_metrics_sql`].
///
/// A tap is an inbound `button` message (what WhatsApp sends for a template's quick reply) whose
/// context is the wamid of one of the template's messages; it counts in the bucket of the tap,
/// not of the message. The replies of the period are a range of the (space, time) index, each
/// finding the message it answers by its wamid (the unique provider-id index); on SQLite `CROSS
/// JOIN` keeps the replies outside, as in [`waiting_sql`].
pub(crate) fn template_metrics_sql<'a>(
    q: &'a crate::MetricQuery,
    code: &'a str,
    language: Option<&'a str>,
    placeholder: impl Fn(usize) -> String,
    bytewise: &str,
    button_text: &str,
) -> (String, String, Vec<SearchValue<'a>>) {
    use opencams_domain::Direction;
    let (p1, p2, p3, p4) = (
        placeholder(1),
        placeholder(2),
        placeholder(3),
        placeholder(4),
    );
    let mut values = vec![
        SearchValue::Text(&q.space_id),
        SearchValue::Int(q.from),
        SearchValue::Int(q.to),
        SearchValue::Text(code),
    ];
    let (mut m_lang, mut o_lang) = (String::new(), String::new());
    if let Some(l) = language {
        values.push(SearchValue::Text(l));
        let p5 = placeholder(5);
        m_lang = format!(" AND m.language = {p5}");
        o_lang = format!(" AND o.language = {p5}");
    }
    let (out, inb) = (Direction::Out.as_str(), Direction::In.as_str());
    let counts = format!(
        "SELECT COALESCE(m.language, ''), {bucket}, {sums} FROM messages m \
         WHERE m.space_id = {p1} AND m.created_at >= {p2} AND m.created_at < {p3} \
         AND m.direction = '{out}' AND m.template_code = {p4}{m_lang} \
         GROUP BY 1, 2 ORDER BY COALESCE(m.language, '') {bytewise}, 2",
        bucket = bucket_of("m.created_at", q.bucket_ms),
        sums = metric_sums("m"),
    );
    let clicks = format!(
        "SELECT COALESCE(o.language, ''), {bucket}, COALESCE({button_text}, ''), COUNT(*) \
         FROM messages i CROSS JOIN messages o \
         WHERE i.space_id = {p1} AND i.created_at >= {p2} AND i.created_at < {p3} \
         AND i.direction = '{inb}' AND i.message_type = 'button' AND i.context_id IS NOT NULL \
         AND o.provider_id IS NOT NULL AND o.provider_id = i.context_id \
         AND o.space_id = i.space_id AND o.direction = '{out}' AND o.template_code = {p4}{o_lang} \
         GROUP BY 1, 2, 3 \
         ORDER BY COALESCE(o.language, '') {bytewise}, 2, COALESCE({button_text}, '') {bytewise}",
        bucket = bucket_of("i.created_at", q.bucket_ms),
    );
    (counts, clicks, values)
}

#[cfg(test)]
mod search_tests {
    use super::*;
    use crate::MessageFilter;

    #[test]
    fn a_search_writes_only_what_it_is_given() {
        let f = MessageFilter {
            space_id: "sp".into(),
            recipient: Some("8613900000001".into()),
            statuses: Some(vec![opencams_domain::MessageStatus::Read]),
            before: Some((5, "m9".into())),
            limit: 51,
            ..Default::default()
        };
        let (sql, values) = message_search(
            &f,
            "SELECT id FROM messages",
            |n| format!("${n}"),
            |p| format!("status = ANY({p})"),
            "",
        );
        assert_eq!(
            sql,
            "SELECT id FROM messages WHERE space_id = $1 AND recipient = $2 AND status = ANY($3) \
             AND created_at <= $4 AND (created_at < $4 OR id < $5) \
             ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7"
        );
        assert_eq!(values.len(), 7);
        assert_eq!(values[2], SearchValue::Texts(vec!["read"]));
        assert_eq!(values[6], SearchValue::Int(0));
    }
}
