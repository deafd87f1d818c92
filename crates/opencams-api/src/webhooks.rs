//! Provider webhooks in (whatsapp-cloud-api.md §3): the `GET` verification handshake and signed
//! `POST`s. The signature is checked over the raw body before anything is parsed; statuses move
//! messages forward monotonically, inbound messages are stored once and open the 24-hour
//! window, template status updates feed the review lifecycle. Duplicates change nothing twice.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use opencams_channels::ids::{simulated_phone_number_id, simulated_waba_id};
use opencams_protocol::callbacks;
use opencams_store::{MessageRow, MessageStatus, NewEvent, Number, NumberFilter, StatusUpdate};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// Webhook bodies above this are refused.
pub const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// `GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`
pub async fn verify(
    State(state): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = state.webhooks.verify_token.as_deref().unwrap_or("");
    let given = q.get("hub.verify_token").map(String::as_str).unwrap_or("");
    let ok = q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && !token.is_empty()
        && bool::from(token.as_bytes().ct_eq(given.as_bytes()));
    match (ok, q.get("hub.challenge")) {
        (true, Some(challenge)) => (StatusCode::OK, challenge.clone()).into_response(),
        _ => (StatusCode::FORBIDDEN, "verification failed").into_response(),
    }
}

fn signature_ok(secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    bool::from(mac.finalize().into_bytes().as_slice().ct_eq(&given))
}

/// The numbers a webhook can be about, and the secrets it can be signed with.
pub struct WebhookNumbers {
    /// Every number, keyed by its Graph phone-number id.
    by_graph_id: HashMap<String, Number>,
    /// The numbers' own app secrets, then the configured ones.
    secrets: Vec<String>,
}

/// The numbers and secrets, cached for a second; `fresh` reads them again (a webhook for a
/// number the cache does not know yet, or signed with a secret it does not hold).
async fn webhook_numbers(
    state: &AppState,
    fresh: bool,
) -> Result<Arc<WebhookNumbers>, opencams_store::StoreError> {
    if !fresh && let Some(n) = state.webhook_numbers.get(&()) {
        return Ok(n);
    }
    let list = state.store.list_numbers(NumberFilter::default()).await?;
    let by_graph_id: HashMap<String, Number> = list
        .into_iter()
        .map(|n| {
            let id = match &n.cloud {
                Some(c) => c.phone_number_id.clone(),
                None => simulated_phone_number_id(&n.phone),
            };
            (id, n)
        })
        .collect();
    let mut secrets: Vec<String> = by_graph_id
        .values()
        .filter_map(|n| n.cloud.as_ref()?.app_secret.as_ref())
        .map(|s| s.expose().to_string())
        .collect();
    secrets.extend(state.webhooks.app_secrets.iter().cloned());
    let numbers = Arc::new(WebhookNumbers {
        by_graph_id,
        secrets,
    });
    state.webhook_numbers.put((), numbers.clone());
    Ok(numbers)
}

/// `POST /webhooks/whatsapp`
pub async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(raw) = to_bytes(body, MAX_WEBHOOK_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "webhook body too large").into_response();
    };
    let Some(sig) = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
    else {
        return (StatusCode::UNAUTHORIZED, "missing X-Hub-Signature-256").into_response();
    };
    let mut known = None;
    for fresh in [false, true] {
        let numbers = match webhook_numbers(&state, fresh).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "reading numbers for a webhook failed");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        };
        if numbers.secrets.iter().any(|s| signature_ok(s, &raw, sig)) {
            known = Some(numbers);
            break;
        }
    }
    let Some(mut known) = known else {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    };
    let changes = match parse(&raw) {
        Ok(c) => c,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a WhatsApp Business Account webhook: {e}"),
            )
                .into_response();
        }
    };
    let unknown_number = changes.iter().any(|c| match c {
        Change::Messages(v) => !known.by_graph_id.contains_key(&v.metadata.phone_number_id),
        _ => false,
    });
    if unknown_number {
        match webhook_numbers(&state, true).await {
            Ok(n) => known = n,
            Err(e) => {
                tracing::error!(error = %e, "reading numbers for a webhook failed");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        }
    }
    let numbers = &known.by_graph_id;
    for change in changes {
        let result = match change {
            Change::Messages(value) => messages(&state, numbers, value).await,
            Change::TemplateStatus { waba, value } => {
                template_status(&state, numbers, &waba, &value).await
            }
            Change::Other(field) => {
                tracing::debug!(field, "webhook field ignored");
                Ok(())
            }
        };
        if let Err(e) = result {
            // a storage failure: ask the provider to deliver again later
            tracing::error!(error = %e, "processing a webhook failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
        }
    }
    (StatusCode::OK, "ok").into_response()
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

/// One change of a webhook, read according to its `field`.
enum Change {
    Messages(MessagesValue),
    TemplateStatus { waba: String, value: Value },
    Other(String),
}

fn parse(raw: &[u8]) -> Result<Vec<Change>, serde_json::Error> {
    let doc: Doc<'_> = serde_json::from_slice(raw)?;
    let mut out = Vec::new();
    for entry in doc.entry {
        for change in entry.changes {
            let value = change.value.map_or("null", |v| v.get());
            out.push(match change.field.as_str() {
                "messages" => Change::Messages(match value {
                    "null" => MessagesValue::default(),
                    v => serde_json::from_str(v)?,
                }),
                "message_template_status_update" => Change::TemplateStatus {
                    waba: entry.id.clone(),
                    value: serde_json::from_str(value)?,
                },
                _ => Change::Other(change.field),
            });
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

async fn messages(
    state: &AppState,
    numbers: &HashMap<String, Number>,
    value: MessagesValue,
) -> Result<(), opencams_store::StoreError> {
    let pid = value.metadata.phone_number_id.as_str();
    let Some(number) = numbers.get(pid) else {
        tracing::warn!(
            phone_number_id = pid,
            "webhook for an unknown phone number id"
        );
        return Ok(());
    };
    let mut updates = Vec::new();
    for s in value.statuses {
        let status = s.status.as_str();
        if !matches!(status, "sent" | "delivered" | "read" | "failed") {
            continue;
        }
        let at = secs_to_ms(&s.timestamp).unwrap_or_else(|| state.clock.now_ms());
        let err = s.errors.first();
        let code = err.and_then(|e| e["code"].as_i64()).map(|c| c.to_string());
        let desc = err.map(|e| {
            let title = e["title"].as_str().or(e["message"].as_str()).unwrap_or("");
            let details = e["error_data"]["details"].as_str().unwrap_or("");
            format!("{title}({details})")
        });
        let (conversation_id, origin) = match s.conversation {
            Some(c) => (c.id, c.origin.and_then(|o| o.kind)),
            None => (None, None),
        };
        let conversation = (
            s.pricing.and_then(|p| p.category).or(origin),
            conversation_id,
        );
        let update = StatusUpdate {
            provider_id: s.id,
            message_id: s.biz_opaque_callback_data,
            status: status.to_string(),
            at,
            error_code: code.clone(),
            error_description: desc.clone(),
        };
        let builder: opencams_store::EventBuilder = Box::new(move |m: &MessageStatus, st: &str| {
            let cams = match st {
                "sent" => "Sent",
                "delivered" => "Delivered",
                "read" => "Read",
                _ => "Failed",
            };
            let err = code.as_deref().zip(desc.as_deref());
            let mut facts = opencams_store::events::StatusFacts::new(cams, err, at);
            facts.conversation_type = conversation.0.clone();
            facts.conversation_id = conversation.1.clone();
            Some(opencams_store::events::status_event_of(
                m.account_id,
                &m.id,
                &facts,
            ))
        });
        updates.push((update, builder));
    }
    if !updates.is_empty() {
        // one write for the whole POST: Meta batches statuses, and so does the store
        state.store.apply_statuses(updates).await?;
    }
    let names: HashMap<&str, &str> = value
        .contacts
        .iter()
        .filter_map(|c| {
            Some((
                c["wa_id"].as_str()?,
                c["profile"]["name"].as_str().unwrap_or(""),
            ))
        })
        .collect();
    for m in &value.messages {
        let Some(wamid) = m["id"].as_str() else {
            continue;
        };
        let Some(user) = m["from"].as_str() else {
            continue;
        };
        let user = user.trim_start_matches('+');
        let at = secs_to_ms(&m["timestamp"]).unwrap_or_else(|| state.clock.now_ms());
        let kind = m["type"].as_str().unwrap_or("unknown");
        let (cams_type, text) = inbound_content(m, kind);
        let context = m
            .get("context")
            .filter(|c| c.is_object())
            .map(|c| json!({"from": c["from"], "id": c["id"]}));
        let waba = number
            .cloud
            .as_ref()
            .map(|c| c.waba_id.clone())
            .unwrap_or_else(|| simulated_waba_id(&number.space_id));
        let record = callbacks::inbound(
            wamid,
            &number.space_id,
            &waba,
            user,
            &number.phone,
            at,
            names.get(user).copied().unwrap_or(""),
            cams_type,
            &text,
            context,
        );
        let row = MessageRow {
            id: state.ids.next(at),
            account_id: number.account_id,
            space_id: number.space_id.clone(),
            direction: "in".into(),
            sender: number.phone.clone(),
            recipient: user.to_string(),
            send_type: "message".into(),
            message_type: kind.to_string(),
            body: json!({"inbound": m}).to_string(),
            context_id: m["context"]["id"].as_str().map(String::from),
            status: "received".into(),
            provider_id: Some(wamid.to_string()),
            created_at: at,
            updated_at: at,
            ..Default::default()
        };
        let event = NewEvent {
            account_id: number.account_id,
            kind: "inbound".into(),
            message_id: Some(row.id.clone()),
            payload: record.to_string(),
        };
        state.store.record_inbound(row, Some(event)).await?;
    }
    for e in &value.errors {
        tracing::warn!(error = %e, phone_number_id = pid, "the provider reported an error");
    }
    Ok(())
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

async fn template_status(
    state: &AppState,
    numbers: &HashMap<String, Number>,
    waba: &str,
    v: &Value,
) -> Result<(), opencams_store::StoreError> {
    let status = match v["event"].as_str().unwrap_or("") {
        "APPROVED" | "REINSTATED" | "UNPAUSED" => "pass",
        "REJECTED" => "fail",
        "PAUSED" => "paused",
        "DISABLED" => "disabled",
        "PENDING" => "auditing",
        other => {
            tracing::debug!(event = other, "template event ignored");
            return Ok(());
        }
    };
    let name = v["message_template_name"].as_str().unwrap_or("");
    let language = v["message_template_language"].as_str().unwrap_or("");
    let reason = v["reason"].as_str().filter(|r| *r != "NONE").unwrap_or("");
    let spaces: std::collections::BTreeSet<&str> = numbers
        .values()
        .filter(|n| {
            n.cloud
                .as_ref()
                .map(|c| c.waba_id.as_str())
                .unwrap_or(&simulated_waba_id(&n.space_id))
                == waba
        })
        .map(|n| n.space_id.as_str())
        .collect();
    for space in spaces {
        for row in state.store.templates_by_name(space, name).await? {
            if row.language != language || row.audit_status == status {
                continue;
            }
            let audit = callbacks::audit(waba, &row.code, &row.name, &row.language, status, reason);
            let event = NewEvent {
                account_id: row.account_id,
                kind: "audit".into(),
                message_id: None,
                payload: audit.to_string(),
            };
            state
                .store
                .set_template_status(row.id, status, reason, Some(event), state.clock.now_ms())
                .await?;
            state.templates.clear();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_bodies_are_read_by_field() {
        // Meta's order: `value` before `field`; a failed and a priced status, a template event,
        // a field we ignore, and nulls where arrays are expected
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [
                { "id": "WABA1", "changes": [
                    { "value": {
                        "messaging_product": "whatsapp",
                        "metadata": { "display_phone_number": "15550001", "phone_number_id": "PN1" },
                        "contacts": [ { "profile": { "name": "Ada" }, "wa_id": "4477" } ],
                        "statuses": [
                            { "id": "wamid.A", "status": "delivered", "timestamp": "1700000000",
                              "recipient_id": "4477", "biz_opaque_callback_data": "m1",
                              "conversation": { "id": "c1", "origin": { "type": "utility" } },
                              "pricing": { "billable": true, "category": "marketing" } },
                            { "id": "wamid.B", "status": "failed", "timestamp": 1700000001,
                              "errors": [ { "code": 131026, "title": "Message undeliverable" } ] }
                        ],
                        "messages": null
                      }, "field": "messages" },
                    { "value": { "event": "APPROVED", "message_template_name": "t" },
                      "field": "message_template_status_update" },
                    { "value": { "anything": [1, 2] }, "field": "account_update" }
                ] },
                { "id": "WABA2", "changes": null }
            ]
        });
        let changes = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(changes.len(), 3);
        let Change::Messages(m) = &changes[0] else {
            panic!("a messages change first")
        };
        assert_eq!(m.metadata.phone_number_id, "PN1");
        assert_eq!(m.contacts.len(), 1);
        assert!(m.messages.is_empty());
        let s = &m.statuses[0];
        assert_eq!((s.id.as_str(), s.status.as_str()), ("wamid.A", "delivered"));
        assert_eq!(secs_to_ms(&s.timestamp), Some(1_700_000_000_000));
        assert_eq!(s.biz_opaque_callback_data.as_deref(), Some("m1"));
        let conv = s.conversation.as_ref().unwrap();
        assert_eq!(conv.id.as_deref(), Some("c1"));
        assert_eq!(
            conv.origin.as_ref().and_then(|o| o.kind.as_deref()),
            Some("utility")
        );
        assert_eq!(
            s.pricing.as_ref().and_then(|p| p.category.as_deref()),
            Some("marketing")
        );
        let f = &m.statuses[1];
        assert_eq!(secs_to_ms(&f.timestamp), Some(1_700_000_001_000));
        assert_eq!(f.errors[0]["code"], 131026);
        match &changes[1] {
            Change::TemplateStatus { waba, value } => {
                assert_eq!(waba, "WABA1");
                assert_eq!(value["event"], "APPROVED");
            }
            _ => panic!("the template event second"),
        }
        assert!(matches!(&changes[2], Change::Other(f) if f == "account_update"));
    }

    #[test]
    fn malformed_webhook_bodies_are_refused_not_half_read() {
        for bad in [
            &b"not json"[..],
            br#"{"entry": 5}"#,
            br#"{"entry": [{"changes": [{"field": "messages", "value": {"statuses": "x"}}]}]}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // an empty document is a webhook about nothing
        assert!(parse(b"{}").unwrap().is_empty());
    }
}
