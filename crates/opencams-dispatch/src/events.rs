//! Events in a message's life, as the ChatAppStatus records customers receive (cams-api.md
//! §4.2), carrying the message's TaskId, Tag and TrackingData.

use opencams_protocol::callbacks::StatusRecord;
use opencams_store::{MessageRow, NewEvent};

/// The `Type` field: `TEMPLATE` for template sends, else the upper-case message type.
fn kind(row: &MessageRow) -> String {
    if row.send_type == "template" {
        "TEMPLATE".into()
    } else {
        row.message_type.to_ascii_uppercase()
    }
}

/// A ChatAppStatus record for `row` reaching `status` at `at_ms`.
pub fn status_record(
    row: &MessageRow,
    status: &str,
    error: Option<(&str, &str)>,
    at_ms: i64,
) -> StatusRecord {
    StatusRecord {
        message_id: row.id.clone(),
        from: row.sender.clone(),
        to: row.recipient.clone(),
        timestamp: at_ms,
        status: status.to_string(),
        status_description: status.to_ascii_lowercase(),
        error_code: error.map(|(c, _)| c.to_string()),
        error_description: error.map(|(c, d)| format!("{c}:{d}")),
        msg_frame_type: row.send_type.clone(),
        kind: kind(row),
        task_id: row.task_id.clone().unwrap_or_else(|| row.id.clone()),
        origin_phone_number: row.sender.clone(),
        template_code: row.template_code.clone(),
        template_name: row.template_name.clone(),
        language: row.language.clone(),
        tag: row.tag.clone(),
        tracking_data: row.tracking_data.clone(),
        conversation_type: None,
        conversation_id: None,
    }
}

/// The event-log entry of a status record.
pub fn status_event(row: &MessageRow, record: &StatusRecord) -> NewEvent {
    NewEvent {
        account_id: row.account_id,
        kind: "status".into(),
        message_id: Some(row.id.clone()),
        // straight to text: the same JSON as `to_json().to_string()` without the tree between
        // (plain strings and numbers: serializing cannot fail)
        payload: serde_json::to_string(record).unwrap_or_default(),
    }
}
