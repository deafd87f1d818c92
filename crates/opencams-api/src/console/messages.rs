//! Messages: a search over one of the account's spaces (business number, user, status,
//! template, TaskId, direction, a time range in UTC) paged by keyset, newest first, so that a
//! deep page is an index seek; and a message's page with its fields, body and timeline of
//! events. Another account's message is answered as a missing one.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use opencams_domain::{Direction, MessageStatus};
use opencams_store::{MessageFilter, MessageRow};
use serde::Deserialize;

use super::layout::{error_page, page, unavailable};
use super::session::Signed;
use crate::AppState;

/// Messages per page.
const PAGE: u32 = 50;

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    space: String,
    #[serde(default)]
    sender: String,
    #[serde(default)]
    recipient: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    task: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `<created_at>.<id>` of the last message of the previous page.
    #[serde(default)]
    before: String,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// A `datetime-local` value (`YYYY-MM-DDThh:mm`, UTC) as unix ms.
pub(super) fn minute_ms(field: &str, raw: &str) -> Result<Option<i64>, String> {
    let Some(raw) = opt(raw) else {
        return Ok(None);
    };
    let full = if raw.len() == 16 {
        format!("{raw}:00Z")
    } else {
        format!("{raw}Z")
    };
    opencams_protocol::time_fmt::parse(&full)
        .map(|t| Some(t.unix_timestamp() * 1000))
        .map_err(|_| format!("{field}: {raw:?} is not a time like 2026-12-03T14:30 (UTC)"))
}

impl Search {
    /// The store's filter for `space`, or what is wrong with the search.
    fn filter(&self, space: String) -> Result<MessageFilter, String> {
        let statuses = match opt(&self.status) {
            None => None,
            Some(s) => Some(vec![MessageStatus::parse(&s).ok_or_else(|| {
                let all: Vec<&str> = MessageStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("status: {s:?} is not one of {}", all.join(", "))
            })?]),
        };
        let direction = match opt(&self.direction) {
            None => None,
            Some(d) => Some(
                Direction::parse(&d)
                    .ok_or_else(|| format!("direction: {d:?} is not one of in, out"))?,
            ),
        };
        let before = match opt(&self.before) {
            None => None,
            Some(b) => {
                let (at, id) = b
                    .split_once('.')
                    .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                    .ok_or_else(|| {
                        "before: not a page position; start again from the first page".to_string()
                    })?;
                Some((at, id))
            }
        };
        Ok(MessageFilter {
            space_id: space,
            sender: opt(&self.sender),
            recipient: opt(&self.recipient),
            direction,
            from_ms: minute_ms("from", &self.from)?,
            to_ms: minute_ms("to", &self.to)?,
            template_code: opt(&self.template),
            group_id: None,
            statuses,
            task_id: opt(&self.task),
            before,
            offset: 0,
            limit: PAGE + 1,
        })
    }

    /// This search's query string with `before` set to `next`.
    fn next_query(&self, space: &str, next: &str) -> String {
        let pairs = [
            ("space", space),
            ("sender", &self.sender),
            ("recipient", &self.recipient),
            ("status", &self.status),
            ("template", &self.template),
            ("task", &self.task),
            ("direction", &self.direction),
            ("from", &self.from),
            ("to", &self.to),
            ("before", next),
        ];
        let mut q = form_urlencoded_pairs(&pairs);
        q.insert(0, '?');
        q
    }
}

/// `k=v&…` with the values percent-encoded, empty ones left out. By hand rather than with
/// `form_urlencoded`, which writes a space as `+` (valid in a query only): `%20` reads the same
/// wherever the link is pasted.
pub(super) fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| {
            let enc: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={enc}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `GET /console/messages`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Query(q): Query<Search>,
) -> Response {
    let spaces = match state.store.list_spaces(Some(signed.account.id)).await {
        Ok(s) => s,
        Err(e) => return unavailable("listing spaces", &e),
    };
    let space = opt(&q.space).unwrap_or_else(|| signed.account.default_space.clone());
    if !spaces.iter().any(|s| s.id == space) {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("space: {space:?} is not a space of your account"),
        );
    }
    let (rows, error) = match q.filter(space.clone()) {
        Err(e) => (Vec::new(), Some(e)),
        Ok(f) => match state.store.list_messages(f).await {
            Ok(rows) => (rows, None),
            Err(e) => return unavailable("listing messages", &e),
        },
    };
    let more = rows.len() > PAGE as usize;
    let rows = &rows[..rows.len().min(PAGE as usize)];
    let next = more
        .then(|| rows.last())
        .flatten()
        .map(|m| q.next_query(&space, &format!("{}.{}", m.created_at, m.id)));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = html! {
        h1 { "Messages" }
        form.search method="get" action="/console/messages" {
            @if spaces.len() > 1 {
                label for="space" { "Space"
                    select id="space" name="space" {
                        @for s in &spaces { option value=(s.id) selected[s.id == space] { (s.id) " (" (s.name) ")" } }
                    }
                }
            }
            (field("sender", "Business number", &q.sender))
            (field("recipient", "User number", &q.recipient))
            label for="status" { "Status"
                select id="status" name="status" {
                    option value="" { "any" }
                    @for s in MessageStatus::ALL { option value=(s.as_str()) selected[q.status == s.as_str()] { (s.as_str()) } }
                }
            }
            label for="direction" { "Direction"
                select id="direction" name="direction" {
                    option value="" { "both" }
                    option value="out" selected[q.direction == "out"] { "out" }
                    option value="in" selected[q.direction == "in"] { "in" }
                }
            }
            (field("template", "Template code", &q.template))
            (field("task", "TaskId", &q.task))
            label for="from" { "From (UTC)" input type="datetime-local" id="from" name="from" value=(q.from); }
            label for="to" { "To (UTC)" input type="datetime-local" id="to" name="to" value=(q.to); }
            button.primary type="submit" { "Search" }
        }
        @if let Some(e) = &error {
            p.error role="alert" { (e) }
        } @else if rows.is_empty() {
            p.muted { "No messages match." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Created (UTC)" } th { "Dir." } th { "From" } th { "To" } th { "Type" } th { "Status" } th { "MessageId" } } }
                tbody { @for m in rows { (row(m)) } }
            } }
            @if let Some(n) = &next { p { a rel="next" href={ "/console/messages" (n) } { "Older messages →" } } }
        }
    };
    page(status, "Messages", Some(&signed), body)
}

fn field(name: &str, label: &str, value: &str) -> Markup {
    html! { label for=(name) { (label) input type="text" id=(name) name=(name) value=(value); } }
}

fn row(m: &MessageRow) -> Markup {
    html! { tr {
        td { (opencams_protocol::time_fmt::format(m.created_at / 1000)) }
        td { (m.direction.as_str()) }
        td { (m.sender) } td { (m.recipient) }
        td { (m.message_type) @if let Some(t) = &m.template_name { " · " (t) } }
        td { (m.status.as_str()) }
        td { a href={ "/console/messages/" (m.id) } { code { (m.id) } } }
    } }
}

/// `GET /console/messages/{id}`: by our MessageId or the provider's id.
pub async fn show(
    State(state): State<Arc<AppState>>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let m = match state.store.message(&id).await {
        Ok(m) => m.filter(|m| m.account_id == signed.account.id),
        Err(e) => return unavailable("reading a message", &e),
    };
    let Some(m) = m else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("No message {id:?} in your account."),
        );
    };
    let events = match state.store.message_events(&m.id).await {
        Ok(e) => e,
        Err(e) => return unavailable("reading a message's events", &e),
    };
    let event_ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let attempts = match state.store.message_deliveries(&event_ids).await {
        Ok(a) => a,
        Err(e) => return unavailable("reading a message's callbacks", &e),
    };
    let drawn = match drawn(&state, &m).await {
        Ok(d) => d,
        Err(e) => return unavailable("reading a message's template", &e),
    };
    let body_json = serde_json::from_str::<serde_json::Value>(&m.body)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| m.body.clone());
    let fields: Vec<(&str, String)> = vec![
        ("MessageId", m.id.clone()),
        ("Provider id", m.provider_id.clone().unwrap_or_default()),
        ("Direction", m.direction.as_str().into()),
        ("From", m.sender.clone()),
        ("To", m.recipient.clone()),
        ("Type", m.message_type.clone()),
        (
            "Template",
            m.template_name
                .clone()
                .map(|n| format!("{n} ({})", m.template_code.clone().unwrap_or_default()))
                .unwrap_or_default(),
        ),
        ("Language", m.language.clone().unwrap_or_default()),
        ("Status", m.status.as_str().into()),
        (
            "Error",
            [m.error_code.clone(), m.error_description.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
        ),
        ("TaskId", m.task_id.clone().unwrap_or_default()),
        ("FallBackId", m.fallback_id.clone().unwrap_or_default()),
        (
            "Created (UTC)",
            opencams_protocol::time_fmt::format(m.created_at / 1000),
        ),
        (
            "Updated (UTC)",
            opencams_protocol::time_fmt::format(m.updated_at / 1000),
        ),
    ];
    let body = html! {
        p { a href="/console/messages" { "← Messages" } }
        h1 { "Message " code { (m.id) } }
        div.table-wrap { table { tbody {
            @for (k, v) in &fields { @if !v.is_empty() { tr { th scope="row" { (k) } td { (v) } } } }
        } } }
        h2 { "Timeline" }
        ol.timeline {
            li { time { (opencams_protocol::time_fmt::format(m.created_at / 1000)) } " accepted" }
            @for e in &events {
                li {
                    time { (opencams_protocol::time_fmt::format(e.created_at / 1000)) }
                    " " (e.kind.as_str())
                    @if let Some(s) = event_status(&e.payload) { ": " strong { (s) } }
                }
            }
        }
        (super::deliveries::section(&attempts, &events))
        h2 { "As the user saw it" }
        div.wa-preview { (drawn.bubble) }
        @if m.direction == Direction::Out {
            h2 { "Cloud API request" }
            @match &drawn.request {
                Ok(r) => {
                    p.muted { "POST /{version}/{phone-number-id}/messages, as the dispatcher builds it from the stored message:" }
                    pre { code { (r) } }
                }
                Err(why) => { p { "Not sendable: " (why) } }
            }
            h2 { "Cloud API answer" }
            @if let Some(wamid) = &m.provider_id {
                p { "Accepted: Meta's message id " code { (wamid) } "." }
            } @else if let Some(code) = &m.error_code {
                p.error { "Refused: error " (code) @if let Some(d) = &m.error_description { " — " (d) } }
            } @else {
                p.muted { "Not sent yet." }
            }
        }
        h2 { "Body as stored" }
        pre { code { (body_json) } }
    };
    page(StatusCode::OK, "Message", Some(&signed), body)
}

/// A message drawn as the user saw it, and, outbound, its Cloud API request.
struct Drawn {
    bubble: Markup,
    request: Result<String, String>,
}

async fn drawn(state: &AppState, m: &MessageRow) -> Result<Drawn, opencams_store::StoreError> {
    use opencams_domain::message::request::{Stored, TemplateView, cloud_request};
    use opencams_domain::template::{Category, parse_components};
    let template = match (&m.template_code, &m.language) {
        (Some(code), Some(language)) => state
            .store
            .templates_by_code(&m.space_id, code)
            .await?
            .into_iter()
            .find(|t| &t.language == language),
        _ => None,
    };
    let context = match &m.context_id {
        Some(id) => state.store.message(id).await?.and_then(|c| c.provider_id),
        None => None,
    };
    let components = template
        .as_ref()
        .and_then(|t| parse_components(&t.components).ok())
        .unwrap_or_default();
    let view = template.as_ref().map(|t| TemplateView {
        name: &t.name,
        language: &t.language,
        category: Category::parse(&t.category).unwrap_or(Category::Utility),
        components: &components,
    });
    let stored = Stored {
        id: &m.id,
        recipient: &m.recipient,
        send_type: m.send_type,
        body: &m.body,
    };
    let request = cloud_request(&stored, view.as_ref(), context.as_deref())
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
        .map_err(|e| format!("{} {}", e.code, e.description));
    Ok(Drawn {
        bubble: super::bubble::message(m, template.as_ref()),
        request,
    })
}

/// The `Status` of a status event's record (what the callback reports).
pub(super) fn event_status(payload: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let record = v.get("Record").unwrap_or(&v);
    record
        .get("Status")
        .and_then(|s| s.as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_becomes_the_stores_filter_or_names_its_bad_field() {
        let q = Search {
            status: "delivered".into(),
            direction: "out".into(),
            from: "2026-12-03T14:30".into(),
            task: " t-1 ".into(),
            before: "1700.m-9".into(),
            ..Default::default()
        };
        let f = q.filter("cams-1".into()).unwrap_or_default();
        assert_eq!(f.statuses, Some(vec![MessageStatus::Delivered]));
        assert_eq!(f.direction, Some(Direction::Out));
        assert_eq!(f.from_ms, Some(1_796_308_200_000));
        assert_eq!(f.task_id.as_deref(), Some("t-1"));
        assert_eq!(f.before, Some((1700, "m-9".to_string())));
        assert_eq!(f.limit, PAGE + 1);
        let bad = |q: Search| q.filter("s".into()).err().unwrap_or_default();
        assert!(
            bad(Search {
                status: "gone".into(),
                ..Default::default()
            })
            .starts_with("status: \"gone\" is not one of accepted")
        );
        assert!(
            bad(Search {
                to: "yesterday".into(),
                ..Default::default()
            })
            .starts_with("to: \"yesterday\"")
        );
        assert!(
            bad(Search {
                before: "x".into(),
                ..Default::default()
            })
            .starts_with("before:")
        );
        assert_eq!(
            q.next_query("cams-1", "5.a b"),
            "?space=cams-1&status=delivered&task=%20t-1%20&direction=out&from=2026-12-03T14%3A30&before=5.a%20b"
        );
    }
}
