//! Every event-log entry is built here: status changes (and the fallback steps, which are status
//! events too), template review results (ChatAppAudit), and inbound messages (ChatAppInbound).
//! The CAMS record formats themselves are `opencams_protocol::callbacks`'; this module decides
//! what of them the log keeps.
//!
//! Status events: a ChatAppStatus record (cams-api.md §4.2) is mostly its message: ids, numbers,
//! content type, template, TaskId, Tag and TrackingData, none of which changes once the message
//! is accepted. A status event therefore stores only the facts of the change ([`StatusFacts`]:
//! status, description, time, error, conversation) and is completed from its message row
//! whenever it is read. That keeps an event at about a third of the full record's bytes, and a
//! message's two or three status events were most of what the database wrote for it.
//!
//! Events written before this form hold the full record (it starts with `MessageId`); they are
//! read as they are.

use opencams_protocol::callbacks::{self, StatusRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use opencams_domain::template::AuditStatus;
use opencams_domain::{EventKind, MessageStatus, SendType};

use crate::{MessageRow, NewEvent};

/// The facts of one status change: the part of a ChatAppStatus record that is not its message's.
/// Serialized with the record's own field names, so the stored payload reads like a short
/// record (`{"Status":"Delivered","StatusDescription":"delivered","Timestamp":…}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusFacts {
    /// `Sent`, `Delivered`, `Read`, `Failed` (and opencams's `Expired`, fallback events).
    pub status: String,
    pub status_description: String,
    /// Epoch milliseconds.
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

impl StatusFacts {
    /// `status` at `at_ms`; the description is the status in lower case, and an error
    /// `(code, description)` is reported as `code` and `code:description`.
    pub fn new(status: &str, error: Option<(&str, &str)>, at_ms: i64) -> Self {
        Self {
            status: status.to_string(),
            status_description: status.to_ascii_lowercase(),
            timestamp: at_ms,
            error_code: error.map(|(c, _)| c.to_string()),
            error_description: error.map(|(c, d)| format!("{c}:{d}")),
            conversation_type: None,
            conversation_id: None,
        }
    }
}

/// The `Type` field: `TEMPLATE` for template sends, else the upper-case message type.
fn kind(row: &MessageRow) -> String {
    if row.send_type == SendType::Template {
        "TEMPLATE".into()
    } else {
        row.message_type.to_ascii_uppercase()
    }
}

/// The ChatAppStatus record of `row` with `facts`.
pub fn status_record(row: &MessageRow, facts: &StatusFacts) -> StatusRecord {
    StatusRecord {
        message_id: row.id.clone(),
        from: row.sender.clone(),
        to: row.recipient.clone(),
        timestamp: facts.timestamp,
        status: facts.status.clone(),
        status_description: facts.status_description.clone(),
        error_code: facts.error_code.clone(),
        error_description: facts.error_description.clone(),
        msg_frame_type: row.send_type.as_str().to_string(),
        kind: kind(row),
        task_id: row.task_id.clone().unwrap_or_else(|| row.id.clone()),
        origin_phone_number: row.sender.clone(),
        template_code: row.template_code.clone(),
        template_name: row.template_name.clone(),
        language: row.language.clone(),
        tag: row.tag.clone(),
        tracking_data: row.tracking_data.clone(),
        conversation_type: facts.conversation_type.clone(),
        conversation_id: facts.conversation_id.clone(),
    }
}

/// The event-log entry of a status change of `row`.
pub fn status_event(row: &MessageRow, facts: &StatusFacts) -> NewEvent {
    status_event_of(row.account_id, &row.id, facts)
}

/// The event-log entry of a status change of the message `message_id` of `account_id`.
pub fn status_event_of(account_id: i64, message_id: &str, facts: &StatusFacts) -> NewEvent {
    NewEvent {
        account_id,
        kind: EventKind::Status,
        message_id: Some(message_id.to_string()),
        // plain strings and numbers: serializing cannot fail
        payload: serde_json::to_string(facts).unwrap_or_default(),
    }
}

/// A fallback step of `row` (`FallbackScheduled`, `FallbackSent`, …) as a status event, with
/// its own description.
pub fn fallback_event(
    row: &MessageRow,
    status: &str,
    description: String,
    error: Option<(&str, &str)>,
    at: i64,
) -> NewEvent {
    let mut facts = StatusFacts::new(status, error, at);
    facts.status_description = description;
    status_event(row, &facts)
}

/// What a template's ChatAppAudit events are filed under in the event log's `message_id`, so
/// that a template's review history is one index lookup ([`crate::Store::message_events`]); no
/// message id has this form.
pub fn template_subject(code: &str) -> String {
    format!("template:{code}")
}

/// The ChatAppAudit event (cams-api.md §4.4) of a template language version of `account_id`
/// getting `status` (`pass`, `fail`, …). `waba_id` is the WABA (or, for the simulator's reviews
/// and the template actions, the space) the record names.
pub fn audit_event(
    account_id: i64,
    waba_id: &str,
    code: &str,
    name: &str,
    language: &str,
    status: AuditStatus,
    reason: &str,
) -> NewEvent {
    NewEvent {
        account_id,
        kind: EventKind::Audit,
        message_id: Some(template_subject(code)),
        payload: callbacks::audit(waba_id, code, name, language, status.as_str(), reason)
            .to_string(),
    }
}

/// The ChatAppInbound event (cams-api.md §4.3) of the stored inbound message `row` (sent by
/// `row.recipient` to the business number `row.sender`, provider id = the record's MessageId)
/// on `waba_id`: `display_name` is the user's profile name, `cams_type` and `message` the CAMS
/// `Type` and `Message`, `context` what it replies to.
pub fn inbound_event(
    row: &MessageRow,
    waba_id: &str,
    display_name: &str,
    cams_type: &str,
    message: &str,
    context: Option<Value>,
) -> NewEvent {
    let record = callbacks::InboundRecord {
        message_id: row.provider_id.as_deref().unwrap_or(&row.id),
        cust_space_id: &row.space_id,
        waba_id,
        from: &row.recipient,
        to: &row.sender,
        timestamp: row.created_at,
        display_name,
        name: display_name,
        kind: cams_type,
        message,
        notice_type: "inbound",
        context,
    };
    NewEvent {
        account_id: row.account_id,
        kind: EventKind::Inbound,
        message_id: Some(row.id.clone()),
        payload: record.to_json_string(),
    }
}

/// The events a freshly accepted message starts with: `Failed` when it was refused at
/// verification under `FallBackRule=sentFailed`, and `FallbackScheduled` when a
/// `FallBackDuration` timer runs.
pub fn accepted_events(row: &MessageRow) -> Vec<NewEvent> {
    let mut out = Vec::new();
    if row.status == MessageStatus::Failed {
        let err = (
            row.error_code.as_deref().unwrap_or(""),
            row.error_description.as_deref().unwrap_or(""),
        );
        let facts = StatusFacts::new(MessageStatus::Failed.cams_name(), Some(err), row.created_at);
        out.push(status_event(row, &facts));
    }
    if let (Some(policy), Some(secs)) = (&row.fallback_id, row.fallback_duration) {
        let desc = format!("SMS fallback by policy {policy} in {secs} s unless delivered");
        out.push(fallback_event(
            row,
            "FallbackScheduled",
            desc,
            None,
            row.created_at,
        ));
    }
    out
}

/// The payload of an event as its readers get it: a status event's facts completed into the full
/// record from its message (`None` when the event has no message row). Anything else (another
/// kind, a full record written before, a payload that is not status facts) is returned as is.
pub(crate) fn complete(kind: EventKind, payload: String, message: Option<&MessageRow>) -> String {
    let Some(row) = message.filter(|_| kind == EventKind::Status) else {
        return payload;
    };
    match serde_json::from_str::<Stored>(&payload) {
        Ok(Stored {
            message_id: None,
            facts,
        }) => serde_json::to_string(&status_record(row, &facts)).unwrap_or(payload),
        _ => payload,
    }
}

/// A stored status payload: facts, or a full record (which has a `MessageId`).
#[derive(Deserialize)]
struct Stored {
    #[serde(rename = "MessageId", default)]
    message_id: Option<serde::de::IgnoredAny>,
    #[serde(flatten)]
    facts: StatusFacts,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> MessageRow {
        MessageRow {
            id: "m1".into(),
            account_id: 7,
            sender: "8613600000000".into(),
            recipient: "8613900000000".into(),
            send_type: SendType::Template,
            message_type: "text".into(),
            template_code: Some("C1".into()),
            template_name: Some("order".into()),
            language: Some("en_US".into()),
            tag: Some("t".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_status_event_stores_its_facts_and_reads_back_as_the_full_record() {
        let mut facts = StatusFacts::new("Failed", Some(("131026", "undeliverable")), 1_000);
        facts.conversation_type = Some("utility".into());
        let e = status_event(&row(), &facts);
        assert_eq!(
            e.payload,
            r#"{"Status":"Failed","StatusDescription":"failed","Timestamp":1000,"ErrorCode":"131026","ErrorDescription":"131026:undeliverable","ConversationType":"utility"}"#
        );
        let full = complete(EventKind::Status, e.payload, Some(&row()));
        assert_eq!(
            full,
            serde_json::to_string(&status_record(&row(), &facts)).unwrap()
        );
        assert!(full.starts_with(r#"{"MessageId":"m1","From":"8613600000000","To":"8613900000000","Timestamp":1000,"Status":"Failed""#));
        assert!(full.contains(r#""Type":"TEMPLATE","TaskId":"m1","OriginPhoneNumber":"8613600000000","TemplateCode":"C1""#));
    }

    #[test]
    fn fallback_audit_and_inbound_events() {
        let f = fallback_event(&row(), "FallbackSent", "by SMS".into(), None, 9);
        assert_eq!(
            (f.kind.as_str(), f.message_id.as_deref(), f.account_id),
            ("status", Some("m1"), 7)
        );
        assert_eq!(
            f.payload,
            r#"{"Status":"FallbackSent","StatusDescription":"by SMS","Timestamp":9}"#
        );

        let a = audit_event(7, "W1", "C1", "order", "en_US", AuditStatus::Fail, "why");
        assert_eq!(
            (a.kind.as_str(), a.message_id.as_deref(), a.account_id),
            ("audit", Some("template:C1"), 7)
        );
        assert_eq!(
            a.payload,
            callbacks::audit("W1", "C1", "order", "en_US", "fail", "why").to_string()
        );

        let inbound = MessageRow {
            id: "i1".into(),
            account_id: 7,
            space_id: "S1".into(),
            sender: "8613600000000".into(),
            recipient: "4477".into(),
            provider_id: Some("wamid.X".into()),
            created_at: 5,
            ..Default::default()
        };
        let ctx = serde_json::json!({"from": "8613600000000", "id": "wamid.P"});
        let e = inbound_event(&inbound, "W1", "Ada", "TEXT", "hi", Some(ctx.clone()));
        assert_eq!(
            (e.kind.as_str(), e.message_id.as_deref(), e.account_id),
            ("inbound", Some("i1"), 7)
        );
        assert_eq!(
            e.payload,
            r#"{"MessageId":"wamid.X","CustSpaceId":"S1","WabaId":"W1","From":"4477","To":"8613600000000","Timestamp":5,"DisplayName":"Ada","Name":"Ada","Type":"TEXT","Message":"hi","NoticeType":"inbound","Context":{"from":"8613600000000","id":"wamid.P"}}"#
        );
        let _ = ctx;
    }

    #[test]
    fn full_records_other_kinds_and_other_payloads_are_read_as_they_are() {
        let old = serde_json::to_string(&status_record(&row(), &StatusFacts::new("Sent", None, 5)))
            .unwrap();
        assert_eq!(complete(EventKind::Status, old.clone(), Some(&row())), old);
        let facts = r#"{"Status":"Sent","StatusDescription":"sent","Timestamp":5}"#;
        assert_eq!(
            complete(EventKind::Inbound, facts.into(), Some(&row())),
            facts
        );
        assert_eq!(complete(EventKind::Status, facts.into(), None), facts);
        assert_eq!(
            complete(EventKind::Status, "sent".into(), Some(&row())),
            "sent"
        );
    }
}
