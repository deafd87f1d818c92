//! Webhooks in from the Cloud API (whatsapp-cloud-api.md §3): the `X-Hub-Signature-256` check
//! over the raw body, and the `entry[].changes[]` document read into typed [`ProviderEvent`]s —
//! message statuses, inbound messages, template status updates, provider errors. Meta's names
//! and shapes end here; what the events do to the store is the ingest's (`opencams-dispatch`).

use opencams_domain::MessageStatus;
use opencams_domain::template::AuditStatus;
use opencams_protocol::hmac_sha256;
use serde_json::{Value, json};

/// Whether `header` (`sha256=<hex>`) signs `body` with one of `secrets`.
pub fn signature_ok<S: AsRef<str>>(secrets: &[S], body: &[u8], header: &str) -> bool {
    secrets
        .iter()
        .any(|s| hmac_sha256::verify_header(s.as_ref(), &[body], header))
}

/// A body that is not a WhatsApp Business Account webhook.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ParseError(#[from] serde_json::Error);

/// One thing a webhook reports, in the order the body holds them.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    /// A message we sent moved (`sent`, `delivered`, `read`, `failed`).
    Status(StatusReport),
    /// A user wrote to a business number.
    Inbound(InboundMessage),
    /// A template language version was reviewed, paused, disabled, … (Meta's `event` mapped to
    /// the CAMS audit status).
    TemplateStatus {
        waba_id: String,
        name: String,
        language: String,
        status: AuditStatus,
        /// Meta's reason; empty for none (Meta's `NONE`).
        reason: String,
    },
    /// An error Meta reports about a number, not about one message.
    ProviderError {
        phone_number_id: String,
        error: Value,
    },
}

impl ProviderEvent {
    /// The business number the event is about (template events are about a WABA).
    pub fn phone_number_id(&self) -> Option<&str> {
        match self {
            Self::Status(s) => Some(&s.phone_number_id),
            Self::Inbound(m) => Some(&m.phone_number_id),
            Self::ProviderError {
                phone_number_id, ..
            } => Some(phone_number_id),
            Self::TemplateStatus { .. } => None,
        }
    }
}

/// One `statuses[]` entry we track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub phone_number_id: String,
    /// The wamid.
    pub provider_id: String,
    /// Our MessageId, echoed as `biz_opaque_callback_data`.
    pub message_id: Option<String>,
    pub status: MessageStatus,
    /// When it happened, epoch ms; `None` when the body does not say.
    pub at_ms: Option<i64>,
    /// The first of `errors`.
    pub error: Option<StatusError>,
    /// The pricing category, else the conversation's origin type.
    pub conversation_type: Option<String>,
    pub conversation_id: Option<String>,
}

/// The error of a failed status: Meta's numeric code (when it has one) and
/// `title(details)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusError {
    pub code: Option<String>,
    pub description: String,
}

/// One `messages[]` entry: what the stored message and its ChatAppInbound record are made of.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub phone_number_id: String,
    pub wamid: String,
    /// The user's number, without `+`.
    pub user: String,
    /// Epoch ms; `None` when the body does not say.
    pub at_ms: Option<i64>,
    /// The Cloud API `type` (`text`, `image`, …; `unknown` when absent).
    pub cloud_type: String,
    /// The CAMS `Type` (cams-api.md §4.3).
    pub cams_type: &'static str,
    /// The CAMS `Message`: the text for TEXT, else the JSON text of the content.
    pub text: String,
    /// What it replies to: `{"from", "id"}`.
    pub context: Option<Value>,
    /// The wamid it replies to.
    pub context_id: Option<String>,
    /// The sender's profile name from `contacts`; empty when unknown.
    pub profile_name: String,
    /// The message object as Meta sent it.
    pub raw: Value,
}

// The body is read into these types rather than into a `Value` tree: statuses are most of the
// webhook traffic, and building (and dropping) a generic tree for each POST was the largest
// share of the handler's time. Fields we do not read are skipped; inbound messages, contacts
// and errors, rarer and read more loosely, stay `Value`s.

#[derive(serde::Deserialize)]
struct Doc<'a> {
    #[serde(default, borrow, deserialize_with = "null_default")]
    entry: Vec<Entry<'a>>,
}

#[derive(serde::Deserialize)]
struct Entry<'a> {
    #[serde(default)]
    id: String,
    #[serde(default, borrow, deserialize_with = "null_default")]
    changes: Vec<RawChange<'a>>,
}

#[derive(serde::Deserialize)]
struct RawChange<'a> {
    #[serde(default)]
    field: String,
    /// Read once `field` is known (Meta sends `value` first).
    #[serde(borrow)]
    value: Option<&'a serde_json::value::RawValue>,
}

#[derive(serde::Deserialize, Default)]
struct MessagesValue {
    #[serde(default, deserialize_with = "null_default")]
    metadata: Metadata,
    #[serde(default, deserialize_with = "null_default")]
    statuses: Vec<StatusIn>,
    #[serde(default, deserialize_with = "null_default")]
    contacts: Vec<Value>,
    #[serde(default, deserialize_with = "null_default")]
    messages: Vec<Value>,
    #[serde(default, deserialize_with = "null_default")]
    errors: Vec<Value>,
}

#[derive(serde::Deserialize, Default)]
struct Metadata {
    #[serde(default)]
    phone_number_id: String,
}

#[derive(serde::Deserialize)]
struct StatusIn {
    #[serde(default)]
    id: String,
    #[serde(default)]
    status: String,
    /// Seconds, as a string (Meta) or a number.
    #[serde(default)]
    timestamp: Value,
    #[serde(default)]
    biz_opaque_callback_data: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    errors: Vec<Value>,
    #[serde(default)]
    pricing: Option<Pricing>,
    #[serde(default)]
    conversation: Option<Conversation>,
}

#[derive(serde::Deserialize)]
struct Pricing {
    #[serde(default)]
    category: Option<String>,
}

#[derive(serde::Deserialize)]
struct Conversation {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    origin: Option<Origin>,
}

#[derive(serde::Deserialize)]
struct Origin {
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// `null` reads as the default, as a missing field does.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(d)?.unwrap_or_default())
}

/// Reads a webhook body. Either the whole body is read or none of it: a malformed change
/// anywhere refuses the body.
pub fn parse(raw: &[u8]) -> Result<Vec<ProviderEvent>, ParseError> {
    let doc: Doc<'_> = serde_json::from_slice(raw)?;
    let mut out = Vec::new();
    for entry in doc.entry {
        for change in entry.changes {
            let value = change.value.map_or("null", |v| v.get());
            match change.field.as_str() {
                "messages" => {
                    let v = match value {
                        "null" => MessagesValue::default(),
                        v => serde_json::from_str(v)?,
                    };
                    messages(v, &mut out);
                }
                "message_template_status_update" => {
                    let v: Value = serde_json::from_str(value)?;
                    out.extend(template_status(&entry.id, &v));
                }
                other => tracing::debug!(field = other, "webhook field ignored"),
            }
        }
    }
    Ok(out)
}

fn secs_to_ms(v: &Value) -> Option<i64> {
    let s = v
        .as_str()
        .map(str::to_string)
        .or_else(|| v.as_i64().map(|n| n.to_string()))?;
    let n: i64 = s.parse().ok()?;
    Some(if n > 100_000_000_000 { n } else { n * 1000 })
}

/// The events of one `messages` change: its statuses, then its messages, then its errors.
fn messages(value: MessagesValue, out: &mut Vec<ProviderEvent>) {
    let pid = value.metadata.phone_number_id;
    for s in value.statuses {
        let Some(status) = MessageStatus::from_cloud(&s.status) else {
            continue;
        };
        let error = s.errors.first().map(|e| {
            let title = e["title"].as_str().or(e["message"].as_str()).unwrap_or("");
            let details = e["error_data"]["details"].as_str().unwrap_or("");
            StatusError {
                code: e["code"].as_i64().map(|c| c.to_string()),
                description: format!("{title}({details})"),
            }
        });
        let (conversation_id, origin) = match s.conversation {
            Some(c) => (c.id, c.origin.and_then(|o| o.kind)),
            None => (None, None),
        };
        out.push(ProviderEvent::Status(StatusReport {
            phone_number_id: pid.clone(),
            provider_id: s.id,
            message_id: s.biz_opaque_callback_data,
            status,
            at_ms: secs_to_ms(&s.timestamp),
            error,
            conversation_type: s.pricing.and_then(|p| p.category).or(origin),
            conversation_id,
        }));
    }
    for m in value.messages {
        let (Some(wamid), Some(user)) = (m["id"].as_str(), m["from"].as_str()) else {
            continue;
        };
        let user = user.trim_start_matches('+');
        let profile_name = value
            .contacts
            .iter()
            .rev() // the last of duplicates wins, as it always has
            .find(|c| c["wa_id"].as_str() == Some(user))
            .map(|c| c["profile"]["name"].as_str().unwrap_or(""))
            .unwrap_or("");
        let kind = m["type"].as_str().unwrap_or("unknown");
        let (cams_type, text) = inbound_content(&m, kind);
        let context = m
            .get("context")
            .filter(|c| c.is_object())
            .map(|c| json!({"from": c["from"], "id": c["id"]}));
        out.push(ProviderEvent::Inbound(InboundMessage {
            phone_number_id: pid.clone(),
            wamid: wamid.to_string(),
            user: user.to_string(),
            at_ms: secs_to_ms(&m["timestamp"]),
            cloud_type: kind.to_string(),
            cams_type,
            text,
            context,
            context_id: m["context"]["id"].as_str().map(String::from),
            profile_name: profile_name.to_string(),
            raw: m,
        }));
    }
    for error in value.errors {
        out.push(ProviderEvent::ProviderError {
            phone_number_id: pid.clone(),
            error,
        });
    }
}

/// The CAMS `Type` and `Message` of an inbound message (cams-api.md §4.3).
fn inbound_content(m: &Value, kind: &str) -> (&'static str, String) {
    let obj = &m[kind];
    match kind {
        "text" => ("TEXT", obj["body"].as_str().unwrap_or("").to_string()),
        "image" => ("IMAGE", json!({"id": obj["id"], "mimeType": obj["mime_type"], "caption": obj["caption"]}).to_string()),
        "video" => ("VIDEO", json!({"id": obj["id"], "mimeType": obj["mime_type"]}).to_string()),
        "audio" => ("AUDIO", json!({"id": obj["id"], "mimeType": obj["mime_type"]}).to_string()),
        "document" => ("DOCUMENT", json!({"id": obj["id"], "mimeType": obj["mime_type"], "fileName": obj["filename"]}).to_string()),
        "sticker" => ("IMAGE", json!({"id": obj["id"], "mimeType": obj["mime_type"]}).to_string()),
        "location" => (
            "LOCATION",
            json!({"latitude": obj["latitude"].to_string(), "longitude": obj["longitude"].to_string(), "name": obj["name"], "address": obj["address"]}).to_string(),
        ),
        "contacts" => ("CONTACTS", m["contacts"].to_string()),
        "button" => ("REPLY", json!({"payload": obj["payload"], "text": obj["text"]}).to_string()),
        "interactive" => {
            let reply = obj.get("button_reply").or(obj.get("list_reply")).or(obj.get("nfm_reply")).cloned().unwrap_or(Value::Null);
            ("REPLY", json!({"payload": reply["id"], "text": reply["title"], "reply": reply}).to_string())
        }
        "reaction" => ("TEXT", obj["emoji"].as_str().unwrap_or("").to_string()),
        _ => ("SYSTEM", m.to_string()),
    }
}

/// A `message_template_status_update` of the WABA `waba_id`; `None` for events we do not track.
fn template_status(waba_id: &str, v: &Value) -> Option<ProviderEvent> {
    let status = match v["event"].as_str().unwrap_or("") {
        "APPROVED" | "REINSTATED" | "UNPAUSED" => AuditStatus::Pass,
        "REJECTED" => AuditStatus::Fail,
        "PAUSED" => AuditStatus::Paused,
        "DISABLED" => AuditStatus::Disabled,
        "PENDING" => AuditStatus::Auditing,
        other => {
            tracing::debug!(event = other, "template event ignored");
            return None;
        }
    };
    Some(ProviderEvent::TemplateStatus {
        waba_id: waba_id.to_string(),
        name: v["message_template_name"].as_str().unwrap_or("").into(),
        language: v["message_template_language"].as_str().unwrap_or("").into(),
        status,
        reason: v["reason"]
            .as_str()
            .filter(|r| *r != "NONE")
            .unwrap_or("")
            .into(),
    })
}

#[cfg(test)]
mod tests;
