//! Outgoing webhooks: the envelopes of whatsapp-cloud-api.md §3.4/§3.6/§3.7, Meta's wire form
//! (non-ASCII as `\uXXXX` escapes), the `X-Hub-Signature-256` HMAC over those exact bytes, one
//! HTTP attempt, and the compressed retry schedule. The HMAC is `opencams_protocol::hmac_sha256`'s,
//! the same that checks webhooks in.

use std::time::Duration;

use opencams_protocol::hmac_sha256;
use serde::Serialize;
use serde_json::{Value, json};

use super::config::SimNumber;
use super::errors::webhook_error;
use super::state::StatusEvent;

/// Rewrites every non-ASCII character as a `\uXXXX` escape (surrogate pairs above U+FFFF),
/// as Meta sends it. Non-ASCII can only occur inside JSON strings, so this keeps the JSON
/// equivalent while changing its bytes — receivers must hash the raw body.
pub fn escape_non_ascii(json_text: &str) -> String {
    let mut out = String::with_capacity(json_text.len());
    for c in json_text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `sha256=<hex>` of HMAC-SHA256(app_secret, body).
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    hmac_sha256::sign_header(app_secret, &[body])
}

/// Delay before attempt `next_attempt` (2, 3, …): 200 ms doubling, capped at 10 s.
pub fn backoff_ms(next_attempt: u32) -> i64 {
    let exp = next_attempt.saturating_sub(2).min(16);
    (200_i64 << exp).min(10_000)
}

pub fn secs(ms: i64) -> String {
    (ms.div_euclid(1000)).to_string()
}

/// The `messages`-field envelope for one business number.
pub fn messages_envelope(number: &SimNumber, value_extra: Value) -> Value {
    let mut value = json!({
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": number.display_phone_number,
            "phone_number_id": number.phone_number_id,
        },
    });
    if let (Some(v), Value::Object(extra)) = (value.as_object_mut(), value_extra) {
        v.extend(extra);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [ { "id": number.waba_id, "changes": [ { "value": value, "field": "messages" } ] } ],
    })
}

/// A WABA-level event (template status, quality, category): `value` without metadata.
pub fn waba_envelope(waba_id: &str, now_ms: i64, field: &str, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [ { "id": waba_id, "time": now_ms.div_euclid(1000), "changes": [ { "value": value, "field": field } ] } ],
    })
}

// Status webhooks are most of what the simulator sends, so their bodies are serialized from
// these types straight to text instead of being built as `Value` trees first. Field order is
// Meta's (and the order the tests' receivers see).

/// The body of one status POST: `statuses` of one business number, with their `contacts`.
#[derive(Serialize)]
pub struct StatusBody<'a> {
    object: &'static str,
    entry: [StatusEntry<'a>; 1],
}

#[derive(Serialize)]
struct StatusEntry<'a> {
    id: &'a str,
    changes: [StatusChange<'a>; 1],
}

#[derive(Serialize)]
struct StatusChange<'a> {
    value: StatusValue<'a>,
    field: &'static str,
}

#[derive(Serialize)]
struct StatusValue<'a> {
    messaging_product: &'static str,
    metadata: Metadata<'a>,
    contacts: Vec<Contact<'a>>,
    statuses: Vec<StatusObject<'a>>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    display_phone_number: &'a str,
    phone_number_id: &'a str,
}

#[derive(Serialize)]
struct Contact<'a> {
    profile: Profile,
    wa_id: &'a str,
    user_id: String,
}

#[derive(Serialize)]
struct Profile {
    name: &'static str,
}

/// One `statuses[]` object.
#[derive(Serialize)]
pub struct StatusObject<'a> {
    id: &'a str,
    status: &'a str,
    timestamp: String,
    recipient_id: &'a str,
    recipient_user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    biz_opaque_callback_data: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<[Value; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<ConversationObject<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pricing: Option<PricingObject<'a>>,
}

#[derive(Serialize)]
struct ConversationObject<'a> {
    id: &'a str,
    expiration_timestamp: String,
    origin: Origin<'a>,
}

#[derive(Serialize)]
struct Origin<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct PricingObject<'a> {
    billable: bool,
    pricing_model: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    category: &'a str,
}

/// One `statuses[]` object. `conversation` is (id, expiry ms) for non-failed statuses.
pub fn status_object<'a>(
    ev: &'a StatusEvent,
    now_ms: i64,
    conversation: Option<(&'a str, i64)>,
) -> StatusObject<'a> {
    let mut s = StatusObject {
        id: &ev.wamid,
        status: ev.status,
        timestamp: secs(now_ms),
        recipient_id: &ev.recipient,
        recipient_user_id: super::ids::bsuid(&ev.recipient),
        biz_opaque_callback_data: ev.biz_opaque.as_deref(),
        errors: None,
        conversation: None,
        pricing: None,
    };
    if let Some((code, details)) = &ev.error {
        s.errors = Some([webhook_error(*code, details)]);
        return s;
    }
    let category = ev.category.as_deref().unwrap_or("service");
    s.conversation = conversation.map(|(id, expiry)| ConversationObject {
        id,
        expiration_timestamp: secs(expiry),
        origin: Origin { kind: category },
    });
    let service = category == "service";
    s.pricing = Some(PricingObject {
        billable: !service,
        pricing_model: "PMP",
        kind: if service {
            "free_customer_service"
        } else {
            "regular"
        },
        category,
    });
    s
}

/// The POST of `statuses` for `number`, one contact per recipient (wa_id and BSUID, as the 2026
/// Cloud API sends with statuses).
pub fn status_body<'a>(number: &'a SimNumber, statuses: Vec<StatusObject<'a>>) -> StatusBody<'a> {
    let mut contacts: Vec<Contact<'a>> = Vec::new();
    for s in &statuses {
        if !contacts.iter().any(|c| c.wa_id == s.recipient_id) {
            contacts.push(Contact {
                profile: Profile { name: "" },
                wa_id: s.recipient_id,
                user_id: s.recipient_user_id.clone(),
            });
        }
    }
    StatusBody {
        object: "whatsapp_business_account",
        entry: [StatusEntry {
            id: &number.waba_id,
            changes: [StatusChange {
                value: StatusValue {
                    messaging_product: "whatsapp",
                    metadata: Metadata {
                        display_phone_number: &number.display_phone_number,
                        phone_number_id: &number.phone_number_id,
                    },
                    contacts,
                    statuses,
                },
                field: "messages",
            }],
        }],
    }
}

/// Outcome of one POST.
pub struct AttemptOutcome {
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

impl AttemptOutcome {
    pub fn ok(&self) -> bool {
        self.http_status.is_some_and(|s| (200..300).contains(&s))
    }
}

pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &str,
    signature: &str,
    timeout_ms: u64,
) -> AttemptOutcome {
    let req = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .header("user-agent", "facebookexternalua")
        .timeout(Duration::from_millis(timeout_ms))
        .body(body.to_string());
    match req.send().await {
        Ok(resp) => AttemptOutcome {
            http_status: Some(resp.status().as_u16()),
            error: None,
        },
        Err(e) if e.is_timeout() => AttemptOutcome {
            http_status: None,
            error: Some("timeout".into()),
        },
        Err(e) => AttemptOutcome {
            http_status: None,
            error: Some(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_bodies_have_meta_field_order() {
        let number = SimNumber {
            phone_number_id: "PN".into(),
            display_phone_number: "15550001".into(),
            waba_id: "WABA".into(),
            access_token: String::new(),
            throughput_mps: 0,
        };
        let ev = |wamid: &str, status: &'static str, error: Option<(u32, String)>| StatusEvent {
            wamid: wamid.into(),
            number: number.clone(),
            recipient: "4477".into(),
            status,
            biz_opaque: Some("m1".into()),
            category: Some("utility".into()),
            error,
        };
        let sent = ev("wamid.A", "sent", None);
        let failed = ev("wamid.B", "failed", Some((131026, "gone".into())));
        let body = status_body(
            &number,
            vec![
                status_object(&sent, 1_700_000_000_500, Some(("c1", 1_700_086_400_000))),
                status_object(&failed, 1_700_000_001_000, None),
            ],
        );
        let text = serde_json::to_string(&body).unwrap();
        let user = super::super::ids::bsuid("4477");
        let error = serde_json::to_string(&webhook_error(131026, "gone")).unwrap();
        let expected = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"WABA","changes":[{{"value":{{"messaging_product":"whatsapp","metadata":{{"display_phone_number":"15550001","phone_number_id":"PN"}},"contacts":[{{"profile":{{"name":""}},"wa_id":"4477","user_id":"{user}"}}],"statuses":[{{"id":"wamid.A","status":"sent","timestamp":"1700000000","recipient_id":"4477","recipient_user_id":"{user}","biz_opaque_callback_data":"m1","conversation":{{"id":"c1","expiration_timestamp":"1700086400","origin":{{"type":"utility"}}}},"pricing":{{"billable":true,"pricing_model":"PMP","type":"regular","category":"utility"}}}},{{"id":"wamid.B","status":"failed","timestamp":"1700000001","recipient_id":"4477","recipient_user_id":"{user}","biz_opaque_callback_data":"m1","errors":[{error}]}}]}},"field":"messages"}}]}}]}}"#
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn escapes_like_meta() {
        assert_eq!(escape_non_ascii(r#"{"a":"äö"}"#), r#"{"a":"\u00e4\u00f6"}"#);
        assert_eq!(escape_non_ascii("👍"), "\\ud83d\\udc4d");
        let escaped = escape_non_ascii(&json!({"t": "Grüße 👍"}).to_string());
        let back: Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["t"], "Grüße 👍");
    }

    #[test]
    fn signature_matches_known_vector() {
        // RFC 4231-style check computed independently: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        assert_eq!(
            sign("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(2), 200);
        assert_eq!(backoff_ms(3), 400);
        assert_eq!(backoff_ms(4), 800);
        assert_eq!(backoff_ms(30), 10_000);
    }
}
