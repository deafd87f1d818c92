//! A plain HTTP connector for REST SMS aggregators: `POST {url}` with the JSON body
//! `{"from","to","text","reference"}` and a Bearer token. 2xx is accepted (the id from the
//! answer's `id` or `message_id`); 5xx, 429, timeouts and network failures are worth a retry;
//! any other answer is permanent, with its status and the start of its body.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Sms, SmsError, SmsSender, SmsSubmitted, encoding};

/// How much of an error body goes into the error description.
const BODY_EXCERPT_CHARS: usize = 200;

#[derive(Clone)]
pub struct HttpSmsConfig {
    pub url: String,
    pub token: Option<String>,
}

impl fmt::Debug for HttpSmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSmsConfig")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct HttpSms {
    cfg: HttpSmsConfig,
    http: reqwest::Client,
}

impl HttpSms {
    pub fn new(cfg: HttpSmsConfig, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            cfg,
            http: reqwest::Client::builder().timeout(timeout).build()?,
        })
    }
}

/// The aggregator's id: `id` or `message_id`, as a string or a number.
fn answer_id(body: &Value) -> Option<String> {
    ["id", "message_id"]
        .iter()
        .filter_map(|k| body.get(k))
        .find_map(|v| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

#[async_trait::async_trait]
impl SmsSender for HttpSms {
    async fn send(&self, sms: &Sms) -> Result<SmsSubmitted, SmsError> {
        let (from, to) = super::check_addresses(sms)?;
        // The aggregator splits the text itself; our count is what it will most likely bill.
        let parts = encoding::encode_with_reference(&sms.text, 0)
            .map_err(|e| SmsError::permanent("too_long", e))?
            .parts
            .len();
        let payload = json!({"from": from, "to": to, "text": sms.text, "reference": sms.reference});
        let started = Instant::now();
        let mut request = self.http.post(&self.cfg.url).json(&payload);
        if let Some(token) = &self.cfg.token {
            request = request.bearer_auth(token);
        }
        let resp = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(url = %self.cfg.url, reference = %sms.reference,
                    elapsed_ms = started.elapsed().as_millis() as u64, error = %e, "SMS HTTP request failed");
                let code = if e.is_timeout() { "timeout" } else { "network" };
                return Err(SmsError::retryable(code, e));
            }
        };
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        tracing::debug!(url = %self.cfg.url, reference = %sms.reference, status,
            elapsed_ms = started.elapsed().as_millis() as u64, response = %text, "SMS HTTP exchange");
        if (200..300).contains(&status) {
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            // Without an id from the aggregator our own reference is the best key for its logs.
            let id = answer_id(&body).unwrap_or_else(|| format!("ref-{}", sms.reference));
            return Ok(SmsSubmitted {
                ids: vec![id],
                parts,
            });
        }
        let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
        let code = format!("http_{status}");
        let description = format!("HTTP {status}: {excerpt}");
        if status >= 500 || status == 429 || status == 408 {
            Err(SmsError::retryable(&code, description))
        } else {
            Err(SmsError::permanent(&code, description))
        }
    }
}
