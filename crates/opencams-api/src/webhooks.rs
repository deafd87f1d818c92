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
use opencams_store::{MessageRow, NewEvent, Number, NumberFilter, StatusUpdate};
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
    let Ok(doc) = serde_json::from_slice::<Value>(&raw) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let unknown_number = doc["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["changes"].as_array().into_iter().flatten())
        .filter_map(|c| c["value"]["metadata"]["phone_number_id"].as_str())
        .any(|pid| !known.by_graph_id.contains_key(pid));
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
    for entry in doc["entry"].as_array().into_iter().flatten() {
        let waba = entry["id"].as_str().unwrap_or("");
        for change in entry["changes"].as_array().into_iter().flatten() {
            let value = &change["value"];
            let result = match change["field"].as_str().unwrap_or("") {
                "messages" => messages(&state, numbers, value).await,
                "message_template_status_update" => {
                    template_status(&state, numbers, waba, value).await
                }
                other => {
                    tracing::debug!(field = other, "webhook field ignored");
                    Ok(())
                }
            };
            if let Err(e) = result {
                // a storage failure: ask the provider to deliver again later
                tracing::error!(error = %e, "processing a webhook failed");
                return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
            }
        }
    }
    (StatusCode::OK, "ok").into_response()
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
    value: &Value,
) -> Result<(), opencams_store::StoreError> {
    let pid = value["metadata"]["phone_number_id"].as_str().unwrap_or("");
    let Some(number) = numbers.get(pid) else {
        tracing::warn!(
            phone_number_id = pid,
            "webhook for an unknown phone number id"
        );
        return Ok(());
    };
    let mut updates = Vec::new();
    for s in value["statuses"].as_array().into_iter().flatten() {
        let status = s["status"].as_str().unwrap_or("");
        if !matches!(status, "sent" | "delivered" | "read" | "failed") {
            continue;
        }
        let at = secs_to_ms(&s["timestamp"]).unwrap_or_else(|| state.clock.now_ms());
        let err = s["errors"].get(0);
        let code = err.and_then(|e| e["code"].as_i64()).map(|c| c.to_string());
        let desc = err.map(|e| {
            let title = e["title"].as_str().or(e["message"].as_str()).unwrap_or("");
            let details = e["error_data"]["details"].as_str().unwrap_or("");
            format!("{title}({details})")
        });
        let conversation = (
            s["pricing"]["category"]
                .as_str()
                .or(s["conversation"]["origin"]["type"].as_str())
                .map(String::from),
            s["conversation"]["id"].as_str().map(String::from),
        );
        let update = StatusUpdate {
            provider_id: s["id"].as_str().unwrap_or("").to_string(),
            message_id: s["biz_opaque_callback_data"].as_str().map(String::from),
            status: status.to_string(),
            at,
            error_code: code.clone(),
            error_description: desc.clone(),
        };
        let builder: opencams_store::EventBuilder = Box::new(move |row: &MessageRow, st: &str| {
            let cams = match st {
                "sent" => "Sent",
                "delivered" => "Delivered",
                "read" => "Read",
                _ => "Failed",
            };
            let err = code.as_deref().zip(desc.as_deref());
            let mut rec = opencams_dispatch::events::status_record(row, cams, err, at);
            rec.conversation_type = conversation.0.clone();
            rec.conversation_id = conversation.1.clone();
            Some(opencams_dispatch::events::status_event(row, &rec))
        });
        updates.push((update, builder));
    }
    if !updates.is_empty() {
        // one write for the whole POST: Meta batches statuses, and so does the store
        state.store.apply_statuses(updates).await?;
    }
    let names: HashMap<&str, &str> = value["contacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c["wa_id"].as_str()?,
                c["profile"]["name"].as_str().unwrap_or(""),
            ))
        })
        .collect();
    for m in value["messages"].as_array().into_iter().flatten() {
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
    for e in value["errors"].as_array().into_iter().flatten() {
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
