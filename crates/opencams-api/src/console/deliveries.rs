//! The "Callbacks pushed" section of a message's page: each logged attempt (one POST to an
//! endpoint, or one dropped record) that carried any of the message's events, with when, where,
//! which of its records, how it ended and the start of what the receiver answered. The attempts
//! come from the store's delivery log (kept seven days); this only draws them.

use maud::{Markup, html};
use opencams_domain::EventKind;
use opencams_store::{AttemptOutcome, DeliveryAttempt, EventRow};

/// The section: a table of `attempts` (oldest first), their records named from `events` (the
/// message's), or a line saying none was pushed.
pub fn section(attempts: &[DeliveryAttempt], events: &[EventRow]) -> Markup {
    html! {
        h2 { "Callbacks pushed" }
        @if attempts.is_empty() {
            p.muted { "No callback pushed yet." }
        } @else {
            div.table-wrap { table.callbacks {
                thead { tr {
                    th scope="col" { "Time (UTC)" }
                    th scope="col" { "Endpoint" }
                    th scope="col" { "Records" }
                    th scope="col" { "Outcome" }
                    th scope="col" class="num" { "HTTP status" }
                    th scope="col" { "Answer" }
                } }
                tbody { @for a in attempts { (row(a, events)) } }
            } }
        }
    }
}

fn row(a: &DeliveryAttempt, events: &[EventRow]) -> Markup {
    let names: Vec<String> = a.event_ids.iter().map(|id| record(*id, events)).collect();
    let others = a.records.saturating_sub(a.event_ids.len());
    html! {
        tr {
            td { time { (opencams_protocol::time_fmt::format(a.at.div_euclid(1000))) } }
            td { code { (a.url) } }
            td {
                (names.join(", "))
                @if others > 0 {
                    " " span.muted { "(in a batch of " (a.records) " records)" }
                }
            }
            td { span class=(badge(a.outcome)) { (a.outcome.as_str()) } }
            td.num { @match a.status { Some(s) => (s), None => span.muted { "none" } } }
            td {
                @if a.answer.is_empty() {
                    span.muted { "(empty)" }
                } @else {
                    code { (a.answer) }
                }
            }
        }
    }
}

fn badge(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Delivered => "badge pass",
        AttemptOutcome::Failed | AttemptOutcome::Dropped => "badge fail",
    }
}

/// What a record was: a status event's `Status` (as its callback reports it), else the event's
/// kind; an event not among `events` by its id.
fn record(id: i64, events: &[EventRow]) -> String {
    let Some(e) = events.iter().find(|e| e.id == id) else {
        return format!("event {id}");
    };
    match (e.kind, super::messages::event_status(&e.payload)) {
        (EventKind::Status, Some(s)) => s,
        (kind, _) => kind.as_str().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, kind: EventKind, payload: &str) -> EventRow {
        EventRow {
            id,
            account_id: 1,
            kind,
            message_id: Some("m1".into()),
            payload: payload.into(),
            created_at: 0,
        }
    }

    fn attempt(outcome: AttemptOutcome, status: Option<u16>, answer: &str) -> DeliveryAttempt {
        DeliveryAttempt {
            id: 1,
            endpoint_id: 1,
            url: "https://hooks.example/cb?a=1&b=2".into(),
            at: 1_700_000_000_123,
            outcome,
            status,
            answer: answer.into(),
            event_ids: vec![10, 11],
            records: 5,
        }
    }

    #[test]
    fn nothing_pushed_says_so() {
        let html = section(&[], &[]).into_string();
        assert!(html.contains("Callbacks pushed"), "{html}");
        assert!(html.contains("No callback pushed yet"), "{html}");
        assert!(!html.contains("<table"), "{html}");
    }

    #[test]
    fn attempts_are_drawn_with_their_records_and_escaped_answers() {
        let events = [
            event(
                10,
                EventKind::Status,
                r#"{"MessageId":"m1","Status":"Delivered"}"#,
            ),
            event(11, EventKind::Status, r#"{"Record":{"Status":"Read"}}"#),
        ];
        let attempts = [
            attempt(
                AttemptOutcome::Failed,
                Some(503),
                r#"<script>alert("x")</script> & more"#,
            ),
            attempt(AttemptOutcome::Delivered, Some(200), ""),
            attempt(AttemptOutcome::Dropped, None, "too large"),
        ];
        let html = section(&attempts, &events).into_string();
        // the receiver's answer is text, never markup
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains(
                "<code>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more</code>"
            ),
            "{html}"
        );
        assert!(
            html.contains("https://hooks.example/cb?a=1&amp;b=2"),
            "{html}"
        );
        assert!(html.contains("2023-11-14T22:13:20Z"), "{html}");
        assert!(html.contains("Delivered, Read"), "{html}");
        assert!(html.contains("(in a batch of 5 records)"), "{html}");
        assert!(
            html.contains(r#"<span class="badge fail">failed</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="badge pass">delivered</span>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="badge fail">dropped</span>"#),
            "{html}"
        );
        assert!(html.contains(">503<"), "{html}");
        assert!(html.contains("(empty)"), "{html}");
        assert!(
            html.contains(r#"<span class="muted">none</span>"#),
            "{html}"
        );
        assert_eq!(
            html.matches("<tr>").count(),
            4,
            "a header and three attempts"
        );
    }

    #[test]
    fn a_record_is_named_by_its_status_or_its_kind() {
        let events = [
            event(1, EventKind::Status, r#"{"Status":"Sent"}"#),
            event(2, EventKind::Inbound, r#"{"Status":"ignored"}"#),
            event(3, EventKind::Status, "not json"),
        ];
        assert_eq!(record(1, &events), "Sent");
        assert_eq!(record(2, &events), "inbound");
        assert_eq!(record(3, &events), "status");
        assert_eq!(record(9, &events), "event 9");
    }
}
