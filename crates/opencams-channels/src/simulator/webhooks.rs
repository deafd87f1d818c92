//! Outgoing webhooks: the envelopes of whatsapp-cloud-api.md §3.4/§3.6/§3.7, Meta's wire form
//! (non-ASCII as `\uXXXX` escapes), the `X-Hub-Signature-256` HMAC over those exact bytes, one
//! HTTP attempt, and the compressed retry schedule.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

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
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
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

/// One `statuses[]` object. `conversation` is (id, expiry ms) for non-failed statuses.
pub fn status_object(ev: &StatusEvent, now_ms: i64, conversation: Option<(&str, i64)>) -> Value {
    let mut s = json!({
        "id": ev.wamid,
        "status": ev.status,
        "timestamp": secs(now_ms),
        "recipient_id": ev.recipient,
        "recipient_user_id": super::ids::bsuid(&ev.recipient),
    });
    if let Some(data) = &ev.biz_opaque {
        s["biz_opaque_callback_data"] = json!(data);
    }
    if let Some((code, details)) = &ev.error {
        s["errors"] = json!([webhook_error(*code, details)]);
        return s;
    }
    let category = ev.category.clone().unwrap_or_else(|| "service".into());
    if let Some((id, expiry)) = conversation {
        s["conversation"] = json!({ "id": id, "expiration_timestamp": secs(expiry), "origin": { "type": category } });
    }
    let service = category == "service";
    s["pricing"] = json!({
        "billable": !service,
        "pricing_model": "PMP",
        "type": if service { "free_customer_service" } else { "regular" },
        "category": category,
    });
    s
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
