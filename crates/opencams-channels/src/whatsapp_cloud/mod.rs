//! The `whatsapp-cloud` channel: Meta's Graph API (`POST /{version}/{phone-number-id}/messages`)
//! over reqwest with rustls, and the mapping of its answers to `Sent` / `SendError` using Meta's
//! retry guidance (whatsapp-cloud-api.md §2.3, §4.8); and template submission to the WABA's
//! template API ([`templates`]). Every exchange is logged with the token redacted. Meta's
//! webhooks in, verified and parsed into typed events, are [`webhooks`]'.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::channel::{Channel, NumberConfig, SendError, Sent};

pub mod templates;
pub mod webhooks;

pub use templates::{TemplateRefused, WabaConfig, created_id, edit_body};

pub const DEFAULT_API_BASE: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v23.0";

/// Codes Meta uses for rate limits.
const THROTTLED: &[i64] = &[4, 80007, 130429, 131056, 133016, 613];
/// Codes worth retrying: transient server trouble, and one more try for media fetches.
const TRANSIENT: &[i64] = &[1, 2, 131000, 131016, 131057, 133004, 131053];

#[derive(Clone)]
pub struct WhatsAppCloud {
    http: reqwest::Client,
}

impl WhatsAppCloud {
    pub fn new(timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .pool_max_idle_per_host(64)
                .build()?,
        })
    }
}

/// Maps a Graph error answer (or its absence) to our error.
pub fn classify(status: u16, body: &Value) -> SendError {
    let err = body.get("error");
    let code = err.and_then(|e| e.get("code")).and_then(Value::as_i64);
    let title = err
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(|m| m.split_once(") ").map_or(m, |(_, t)| t))
        .unwrap_or("");
    let details = err
        .and_then(|e| e.get("error_data"))
        .and_then(|d| d.get("details").or(Some(d)))
        .and_then(Value::as_str)
        .unwrap_or("");
    let throttled = status == 429 || code.is_some_and(|c| THROTTLED.contains(&c));
    let retryable = throttled || status >= 500 || code.is_some_and(|c| TRANSIENT.contains(&c));
    SendError {
        code: code.map_or_else(|| format!("http_{status}"), |c| c.to_string()),
        description: if title.is_empty() && details.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("{title}({details})")
        },
        retryable,
        throttled,
    }
}

#[async_trait::async_trait]
impl Channel for WhatsAppCloud {
    async fn send(&self, number: &NumberConfig, payload: &Value) -> Result<Sent, SendError> {
        let url = format!(
            "{}{}",
            number.api_base.trim_end_matches('/'),
            send_path(number)
        );
        let started = Instant::now();
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&number.access_token)
            .json(payload)
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(%url, elapsed_ms = started.elapsed().as_millis() as u64, error = %e, "Cloud API request failed");
                let code = if e.is_timeout() { "timeout" } else { "network" };
                return Err(SendError {
                    code: code.into(),
                    description: e.to_string(),
                    retryable: true,
                    throttled: false,
                });
            }
        };
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        tracing::debug!(%url, status, elapsed_ms = started.elapsed().as_millis() as u64, response = %body, "Cloud API exchange");
        send_answer(status, &body)
    }
}

/// The path of a send under the API base: `/{version}/{phone-number-id}/messages`.
pub fn send_path(number: &NumberConfig) -> String {
    format!(
        "/{}/{}/messages",
        number.api_version, number.phone_number_id
    )
}

/// Maps the answer to a send (`POST …/messages`): the message id, or the classified error.
pub fn send_answer(status: u16, body: &Value) -> Result<Sent, SendError> {
    if (200..300).contains(&status) {
        if let Some(id) = body.pointer("/messages/0/id").and_then(Value::as_str) {
            return Ok(Sent {
                provider_id: id.to_string(),
            });
        }
        return Err(SendError {
            code: "http_200".into(),
            description: "the Cloud API answered without a message id".into(),
            retryable: true,
            throttled: false,
        });
    }
    Err(classify(status, body))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn meta(code: i64, title: &str) -> Value {
        json!({"error": {"message": format!("(#{code}) {title}"), "type": "OAuthException", "code": code,
                         "error_data": {"messaging_product": "whatsapp", "details": "why"}, "fbtrace_id": "A"}})
    }

    #[test]
    fn classification_follows_metas_retry_guidance() {
        let cases = [
            (400, meta(130429, "Rate limit hit"), true, true, "130429"),
            (
                400,
                meta(131056, "pair rate limit hit"),
                true,
                true,
                "131056",
            ),
            (429, json!({}), true, true, "http_429"),
            (
                500,
                meta(131000, "Something went wrong"),
                true,
                false,
                "131000",
            ),
            (503, Value::Null, true, false, "http_503"),
            (
                400,
                meta(131053, "Media upload error"),
                true,
                false,
                "131053",
            ),
            (
                400,
                meta(131026, "Message undeliverable"),
                false,
                false,
                "131026",
            ),
            (
                404,
                meta(132001, "Template name does not exist in the translation"),
                false,
                false,
                "132001",
            ),
            (
                401,
                meta(190, "Access token has expired"),
                false,
                false,
                "190",
            ),
            (400, meta(100, "Invalid parameter"), false, false, "100"),
        ];
        for (status, body, retryable, throttled, code) in cases {
            let e = classify(status, &body);
            assert_eq!(
                (e.retryable, e.throttled, e.code.as_str()),
                (retryable, throttled, code),
                "{body}"
            );
        }
        assert_eq!(
            classify(400, &meta(131026, "Message undeliverable")).description,
            "Message undeliverable(why)"
        );
    }
}
