//! The Graph HTTP surface: routing of `/{version}/{id}[/{edge}]`, bearer-token auth per phone
//! number or WABA, and the media download route. Handlers are thin; the work is in `send.rs`,
//! `media.rs` and `template_api.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, OriginalUri, Path, Query, Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::Simulator;
use super::config::SimNumber;
use super::errors::GraphError;
use super::media::{MAX_UPLOAD, unknown_object};

type Sim = State<Arc<Simulator>>;

impl Simulator {
    /// Graph routes relative to the mount point: `/{version}/{phone_number_id}/messages`,
    /// `/{version}/{phone_number_id}/media`, `/{version}/{media_id}`,
    /// `/{version}/{waba_id}/message_templates`, `/{version}/{template_id}` (and `/unpause`),
    /// `/{version}/{phone_number_id}`, and `/sim-media/{media_id}` for downloads.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/sim-media/{media_id}", get(download))
            .route("/{version}/{id}/{edge}", get(edge).post(edge).delete(edge))
            .route("/{version}/{id}", get(node).post(node).delete(node))
            .fallback(unknown_path)
            .layer(DefaultBodyLimit::max(MAX_UPLOAD))
            .with_state(Arc::clone(self))
    }

    pub(super) async fn auth_number(
        &self,
        headers: &HeaderMap,
        phone_number_id: &str,
    ) -> Result<SimNumber, GraphError> {
        let token = bearer(headers)?;
        self.auth_token(&token, phone_number_id).await
    }

    /// The number `phone_number_id`, when `token` is its access token.
    pub(super) async fn auth_token(
        &self,
        token: &str,
        phone_number_id: &str,
    ) -> Result<SimNumber, GraphError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(no_token());
        }
        let number = self
            .numbers
            .lookup(phone_number_id)
            .await
            .ok_or_else(|| unknown_object(phone_number_id))?;
        {
            // remembered for WABA auth; kept as is when unchanged (the common case, every send)
            let mut st = self.lock();
            if st.seen_numbers.get(&number.phone_number_id) != Some(&number) {
                st.seen_numbers
                    .insert(number.phone_number_id.clone(), number.clone());
            }
        }
        if token != number.access_token {
            return Err(bad_token());
        }
        Ok(number)
    }

    async fn auth_waba(&self, headers: &HeaderMap, waba_id: &str) -> Result<(), GraphError> {
        let token = bearer(headers)?;
        let mut numbers = self.numbers.waba_numbers(waba_id).await;
        numbers.extend(
            self.lock()
                .seen_numbers
                .values()
                .filter(|n| n.waba_id == waba_id)
                .cloned(),
        );
        if numbers.is_empty() {
            return Err(unknown_object(waba_id));
        }
        if !numbers.iter().any(|n| n.access_token == token) {
            return Err(bad_token());
        }
        Ok(())
    }

    fn base_url(&self, headers: &HeaderMap, original: &Uri, inner: &Uri) -> String {
        if let Some(base) = &self.cfg.public_base_url {
            return base.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("http");
        let prefix = original.path().strip_suffix(inner.path()).unwrap_or("");
        format!("{proto}://{host}{prefix}")
    }
}

fn bearer(headers: &HeaderMap) -> Result<String, GraphError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    match value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    {
        Some(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => Err(no_token()),
    }
}

fn no_token() -> GraphError {
    GraphError::new(
        190,
        "An active access token must be used to query information about the current user.",
    )
}

fn bad_token() -> GraphError {
    GraphError::new(
        190,
        "Error validating access token: the session is invalid or has expired.",
    )
}

pub(super) fn check_version(v: &str) -> Result<(), GraphError> {
    let ok = v
        .strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.chars().all(|c| c.is_ascii_digit())
                && b.chars().all(|c| c.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(GraphError::new(
            2500,
            format!("Unknown path components: /{v}"),
        ))
    }
}

fn reply(r: Result<Value, GraphError>) -> Response {
    match r {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

fn query(uri: &Uri) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

async fn json_body(req: Request) -> Result<Value, GraphError> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_UPLOAD)
        .await
        .map_err(|e| GraphError::param(format!("Could not read the request body: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| GraphError::param(format!("The request body is not valid JSON: {e}")))
}

async fn edge(
    State(sim): Sim,
    Path((version, id, edge)): Path<(String, String, String)>,
    OriginalUri(original): OriginalUri,
    req: Request,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let headers = req.headers().clone();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let result = async {
        match (edge.as_str(), method.as_str()) {
            ("messages", "POST") => {
                let number = sim.auth_number(&headers, &id).await?;
                let bytes: Bytes = axum::body::to_bytes(req.into_body(), MAX_UPLOAD)
                    .await
                    .map_err(|e| {
                        GraphError::param(format!("Could not read the request body: {e}"))
                    })?;
                sim.send(number, &bytes).await
            }
            ("media", "POST") => {
                sim.auth_number(&headers, &id).await?;
                let form = axum::extract::Multipart::from_request(req, &())
                    .await
                    .map_err(|e| {
                        GraphError::param(format!(
                            "Media upload needs a multipart/form-data body: {e}"
                        ))
                    })?;
                sim.upload(&id, form).await
            }
            ("message_templates", m) => {
                sim.auth_waba(&headers, &id).await?;
                match m {
                    "POST" => sim.create_template(&id, &json_body(req).await?),
                    "GET" => {
                        let self_url =
                            format!("{}{}", sim.base_url(&headers, &original, &uri), uri.path());
                        Ok(sim.list_templates(&id, &query(&uri), &self_url))
                    }
                    _ => sim.delete_templates(&id, &query(&uri)),
                }
            }
            ("unpause", "POST") => {
                let waba = sim.template_waba(&id).ok_or_else(|| unknown_object(&id))?;
                sim.auth_waba(&headers, &waba).await?;
                sim.unpause_template(&id)
            }
            _ => Err(GraphError::new(
                2500,
                format!("Unknown path components: /{edge}"),
            )),
        }
    }
    .await;
    reply(result)
}

async fn node(
    State(sim): Sim,
    Path((version, id)): Path<(String, String)>,
    OriginalUri(original): OriginalUri,
    req: Request,
) -> Response {
    if let Err(e) = check_version(&version) {
        return e.into_response();
    }
    let headers = req.headers().clone();
    let method = req.method().clone();
    let uri = req.uri().clone();
    let result = async {
        bearer(&headers)?;
        if let Some(owner) = sim.media_owner(&id) {
            sim.auth_number(&headers, &owner).await?;
            return match method.as_str() {
                "GET" => sim.media_info(&id, &sim.base_url(&headers, &original, &uri)),
                "DELETE" => sim.delete_media(&id),
                _ => Err(GraphError::param("Media objects cannot be edited.")),
            };
        }
        if let Some(waba) = sim.template_waba(&id) {
            sim.auth_waba(&headers, &waba).await?;
            return match method.as_str() {
                "GET" => sim
                    .get_template(&id, &query(&uri))
                    .ok_or_else(|| unknown_object(&id)),
                "POST" => sim.edit_template(&id, &json_body(req).await?),
                _ => Err(GraphError::param(
                    "Delete templates through /{waba-id}/message_templates.",
                )),
            };
        }
        if method == "GET" && sim.numbers.lookup(&id).await.is_some() {
            let n = sim.auth_number(&headers, &id).await?;
            return Ok(json!({
                "verified_name": "opencams simulator",
                "code_verification_status": "VERIFIED",
                "display_phone_number": n.display_phone_number,
                "quality_rating": "GREEN",
                "platform_type": "CLOUD_API",
                "throughput": { "level": "STANDARD" },
                "id": n.phone_number_id,
            }));
        }
        Err(unknown_object(&id))
    }
    .await;
    reply(result)
}

async fn download(
    State(sim): Sim,
    Path(media_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let q = query(&uri);
    let exp = q.get("exp").and_then(|e| e.parse().ok()).unwrap_or(0);
    let sig = q.get("sig").map(String::as_str).unwrap_or("");
    sim.download(&media_id, exp, sig, &headers).await
}

async fn unknown_path(uri: Uri) -> Response {
    GraphError::new(2500, format!("Unknown path components: {}", uri.path())).into_response()
}
