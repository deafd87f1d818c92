//! The RPC endpoint `POST /` and `GET /` exactly as the official SDKs call it: read the request,
//! authenticate, check version, action, account and key scope, claim the nonce and apply rate
//! limits (together), run the action, and answer with the CAMS envelope (cams-api.md §1).

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use opencams_protocol::{CamsError, Code, Params, VERSION, envelope};
use serde_json::Value;

use crate::actions;
use crate::auth::authenticate;
use crate::context::Ctx;
use crate::limits::{DEFAULT_API_QPS, default_qps};
use crate::state::AppState;

/// Bodies above this are refused (cams-api.md §1.3 asks for at least 1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

/// Why a call failed, and for RAM denials the action that was denied.
struct Failure {
    err: CamsError,
    denied_action: Option<String>,
}

impl From<CamsError> for Failure {
    fn from(err: CamsError) -> Self {
        Self {
            err,
            denied_action: None,
        }
    }
}

pub async fn rpc(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let request_id = envelope::request_id();
    let mut action_label = "unknown";
    let result = handle(&state, &method, &uri, &headers, body, &mut action_label).await;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("opencams");
    let (status, body, retry_after) = match result {
        Ok(fields) => (200, envelope::success(&request_id, fields), None),
        Err(f) => {
            let body = envelope::error(&request_id, host, &f.err, f.denied_action.as_deref());
            (f.err.http_status(), body, f.err.retry_after_ms)
        }
    };
    let code = body
        .get("Code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    metrics::counter!("opencams_requests_total", "action" => action_label, "code" => code)
        .increment(1);
    metrics::histogram!("opencams_request_duration_seconds", "action" => action_label)
        .record(started.elapsed().as_secs_f64());
    respond(status, &request_id, &body, retry_after)
}

/// Any other path: the gateway's 404.
pub async fn not_found(headers: HeaderMap) -> Response {
    let request_id = envelope::request_id();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("opencams");
    let err = CamsError::of(Code::InvalidActionNotFound);
    respond(
        404,
        &request_id,
        &envelope::error(&request_id, host, &err, None),
        None,
    )
}

fn respond(status: u16, request_id: &str, body: &Value, retry_after_ms: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-acs-request-id", v);
    }
    if let Some(ms) = retry_after_ms {
        h.insert("x-acs-retry-after", HeaderValue::from(ms.max(1)));
    }
    resp
}

async fn handle(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    action_label: &mut &'static str,
) -> Result<serde_json::Map<String, Value>, Failure> {
    if method != Method::POST && method != Method::GET {
        return Err(CamsError::of(Code::UnsupportedHttpMethod).into());
    }
    let body = to_bytes(body, MAX_BODY).await.map_err(|_| {
        CamsError::invalid(
            "body",
            format_args!("the request body is larger than {MAX_BODY} bytes or could not be read"),
        )
    })?;
    let raw_query = uri.query().unwrap_or("");
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let params = parse_params(raw_query, content_type, &body)?;

    let auth = authenticate(
        state,
        method.as_str(),
        uri.path(),
        raw_query,
        headers,
        &body,
        &params,
    )
    .await?;
    if auth.version != VERSION {
        return Err(CamsError::new(
            Code::InvalidVersion,
            format!(
                "Specified parameter Version is not valid: {:?}; this service speaks {VERSION}.",
                auth.version
            ),
        )
        .into());
    }
    let Some(action) = actions::ACTIONS.iter().find(|a| **a == auth.action) else {
        return Err(CamsError::new(
            Code::InvalidActionNotFound,
            format!("Specified api is not found, please check your url and method: unknown action {:?}.", auth.action),
        )
        .into());
    };
    *action_label = action;
    let principal = auth.principal;
    admit(&principal, action)?;
    // the nonce claim and the rate-limit take at once (see `auth`); a used nonce is the answer
    // even when the limits would have refused the call too
    let (claimed, limited) = tokio::join!(
        auth.nonce.claim(state),
        take_limits(state, &principal, action)
    );
    claimed?;
    limited?;
    let ctx = Ctx {
        state,
        principal,
        action,
        params: &params,
    };
    actions::run(&ctx).await.map_err(Failure::from)
}

/// Runs `action` for a caller known by other means than a signature: the web console, whose
/// signed-in users act with their account's rights (`principal` carries no key limits). The same
/// checks as a signed call make after authentication: the account's subscription, the key's
/// actions, the account's rate limits; then the action itself.
pub async fn call(
    state: &AppState,
    principal: std::sync::Arc<crate::principal::Principal>,
    action: &'static str,
    params: &Params,
) -> Result<serde_json::Map<String, Value>, CamsError> {
    admit(&principal, action).map_err(|f| f.err)?;
    take_limits(state, &principal, action).await?;
    let ctx = Ctx {
        state,
        principal,
        action,
        params,
    };
    actions::run(&ctx).await
}

/// An unsubscribed account, or a key that may not call `action`, is refused.
fn admit(principal: &crate::principal::Principal, action: &str) -> Result<(), Failure> {
    if principal.account.status == opencams_store::AccountStatus::Unsubscribed {
        return Err(CamsError::new(
            Code::ProductUnsubscript,
            format!(
                "The product is not activated for account {:?}; ask the operator to enable it.",
                principal.account.name
            ),
        )
        .into());
    }
    if let Some(allowed) = &principal.key.actions
        && !allowed.iter().any(|a| a == action)
    {
        return Err(Failure {
            err: CamsError::new(
                Code::RamPermissionDeny,
                format!(
                    "This AccessKey is not authorized to call {action}; it may call: {}.",
                    allowed.join(", ")
                ),
            ),
            denied_action: Some(action.to_string()),
        });
    }
    Ok(())
}

/// Takes a token from the account's overall bucket and from `action`'s (crate::limits).
async fn take_limits(
    state: &AppState,
    principal: &crate::principal::Principal,
    action: &str,
) -> Result<(), CamsError> {
    let account = principal.account.id;
    let api_qps = principal.setting_u32("qps.api").unwrap_or(DEFAULT_API_QPS);
    let qps = principal
        .setting_u32(&format!("qps.{action}"))
        .unwrap_or_else(|| default_qps(action));
    let (all_calls, this_action) = (format!("{account}:*"), format!("{account}:{action}"));
    match state
        .limiter
        .acquire_both((&all_calls, api_qps), (&this_action, qps))
        .await
    {
        Ok(()) => Ok(()),
        Err((0, wait)) => Err(CamsError::of(Code::ThrottlingUser).with_retry_after(wait)),
        Err((_, wait)) => Err(CamsError::new(
            Code::SystemLimitControl,
            format!("The system is under flow control: {action} is limited to {qps} calls per second for this account."),
        )
        .with_retry_after(wait)),
    }
}

/// Query parameters merged with a form or JSON body (JSON values that are not strings are kept
/// as their JSON text, the "shrink" form).
fn parse_params(raw_query: &str, content_type: &str, body: &[u8]) -> Result<Params, CamsError> {
    let ct = content_type.to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") {
        return Params::from_parts(raw_query, Some(body));
    }
    let mut params = Params::from_parts(raw_query, None)?;
    if ct.starts_with("application/json") && !body.is_empty() {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            CamsError::invalid("body", format_args!("the JSON body is not valid JSON: {e}"))
        })?;
        let Value::Object(obj) = v else {
            return Err(CamsError::invalid(
                "body",
                "the JSON body must be an object of parameters",
            ));
        };
        for (k, v) in obj {
            let text = match v {
                Value::String(s) => s,
                Value::Null => continue,
                other => other.to_string(),
            };
            params.insert_new(k, text)?;
        }
    }
    Ok(params)
}
