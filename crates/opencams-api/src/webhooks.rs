//! The HTTP edge of provider webhooks (whatsapp-cloud-api.md §3): the `GET` verification
//! handshake, and signed `POST`s read with a size limit and handed, with their
//! `X-Hub-Signature-256`, to a [`WebhookIngest`]. Verifying, parsing and applying them is not the
//! API's (the Cloud API adapter reads Meta's formats; the ingest in `opencams-dispatch` applies
//! them); this file only maps the ingest's answer to the HTTP status the provider gets.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// Webhook bodies above this are refused.
pub const MAX_WEBHOOK_BODY: usize = 1024 * 1024;

/// What became of a webhook POST, as the HTTP edge answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestAnswer {
    /// Applied: 200. `templates_changed` clears the API's template cache.
    Ok { templates_changed: bool },
    /// 401: no signature header.
    MissingSignature,
    /// 401: signed with no secret we hold.
    BadSignature,
    /// 400, with the reason the body is not a WhatsApp Business Account webhook.
    Malformed(String),
    /// 503: storage failed; the provider should deliver again later.
    Unavailable,
}

/// Verifies, parses and applies one webhook POST.
#[async_trait::async_trait]
pub trait WebhookIngest: Send + Sync {
    /// `signature`: the `X-Hub-Signature-256` header, if any; `body`: the raw bytes it signs.
    async fn receive(&self, signature: Option<&str>, body: &[u8]) -> IngestAnswer;
}

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

/// `POST /webhooks/whatsapp`
pub async fn receive(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(raw) = to_bytes(body, MAX_WEBHOOK_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "webhook body too large").into_response();
    };
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    match state.ingest.receive(sig, &raw).await {
        IngestAnswer::Ok { templates_changed } => {
            if templates_changed {
                state.cache.clear_templates();
            }
            (StatusCode::OK, "ok").into_response()
        }
        IngestAnswer::MissingSignature => {
            (StatusCode::UNAUTHORIZED, "missing X-Hub-Signature-256").into_response()
        }
        IngestAnswer::BadSignature => (StatusCode::UNAUTHORIZED, "bad signature").into_response(),
        IngestAnswer::Malformed(e) => (
            StatusCode::BAD_REQUEST,
            format!("not a WhatsApp Business Account webhook: {e}"),
        )
            .into_response(),
        IngestAnswer::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response(),
    }
}
