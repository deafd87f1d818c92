//! The callback records CAMS pushes to customers (cams-api.md §4): flat PascalCase JSON objects,
//! sent as arrays. Built here so every part of the server writes them the same way.

use serde_json::{Value, json};

/// ChatAppAudit (§4.4): a template language version's review status.
pub fn audit(
    waba_id: &str,
    code: &str,
    name: &str,
    language: &str,
    status: &str,
    reason: &str,
) -> Value {
    json!({
        "WabaId": waba_id,
        "TemplateCode": code,
        "TemplateName": name,
        "Language": language,
        "AuditStatus": status,
        "Reason": reason,
    })
}

/// ChatAppStatus (§4.2): the status of an outbound message.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusRecord {
    pub message_id: String,
    pub from: String,
    pub to: String,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// `Sent`, `Delivered`, `Read`, `Failed` (and opencams's `Expired`, fallback events).
    pub status: String,
    pub status_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// `message` or `template`.
    pub msg_frame_type: String,
    /// Kind of content: `TEMPLATE`, `TEXT`, `IMAGE`, …
    #[serde(rename = "Type")]
    pub kind: String,
    /// The caller's TaskId, else the MessageId.
    pub task_id: String,
    pub origin_phone_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
}

impl StatusRecord {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// ChatAppInbound (§4.3): a message from an end user, serialized in CAMS's field order.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundRecord<'a> {
    /// The provider's message id (wamid).
    pub message_id: &'a str,
    pub cust_space_id: &'a str,
    pub waba_id: &'a str,
    /// The end user.
    pub from: &'a str,
    /// The business number.
    pub to: &'a str,
    /// Epoch milliseconds.
    pub timestamp: i64,
    /// The user's profile name (also sent as `Name`).
    pub display_name: &'a str,
    pub name: &'a str,
    /// `TEXT`, `IMAGE`, …, `REPLY`, `SYSTEM`.
    #[serde(rename = "Type")]
    pub kind: &'a str,
    /// The text for TEXT, else the JSON text of the content.
    pub message: &'a str,
    /// Always `inbound`.
    pub notice_type: &'a str,
    /// What the message replies to (`{"from", "id"}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

impl InboundRecord<'_> {
    pub fn to_json_string(&self) -> String {
        // strings, numbers and a JSON value: serializing cannot fail
        serde_json::to_string(self).unwrap_or_default()
    }
}
