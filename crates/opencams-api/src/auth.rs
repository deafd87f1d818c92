//! Authentication of one call (cams-api.md §2): pick the scheme, look up the key, verify the
//! signature byte for byte, then the clock window and the nonce's form — in that order, so only
//! verified requests can use up a nonce. There is no way in without a valid signature. The nonce
//! itself is claimed by the caller ([`Nonce::claim`]), at the same time as the rate-limit take:
//! on a shared store each is a round trip, and a request waits for the slower of the two instead
//! of both in turn. A replayed request may so use up a rate-limit token, as any refused call does.

use std::sync::Arc;

use axum::http::HeaderMap;
use opencams_protocol::{CamsError, Code, Params, time_fmt, v1, v3};
use subtle::ConstantTimeEq;

use crate::principal::Principal;
use crate::state::AppState;

/// A verified caller and the action and version it asked for (from the signed source).
pub struct Authenticated {
    pub principal: Arc<Principal>,
    pub action: String,
    pub version: String,
    /// The signature nonce, still to be claimed.
    pub nonce: Nonce,
}

/// A verified request's signature nonce, within the clock window and well formed.
pub struct Nonce {
    key_id: String,
    nonce: String,
    at_ms: i64,
}

impl Nonce {
    /// Claims the nonce for its key: `SignatureNonceUsed` when it was used before (on any node
    /// of a shared store).
    pub async fn claim(self, state: &AppState) -> Result<(), CamsError> {
        match state
            .nonces
            .check_and_insert(&self.key_id, &self.nonce, self.at_ms)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(CamsError::of(Code::SignatureNonceUsed)),
            Err(e) => {
                tracing::error!(error = %e, "the nonce could not be checked");
                Err(CamsError::of(Code::ServiceUnavailable))
            }
        }
    }
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn incomplete(why: &str) -> CamsError {
    CamsError::new(
        Code::IncompleteSignature,
        format!("The request signature does not conform to Aliyun standards: {why}."),
    )
}

fn mismatch() -> CamsError {
    CamsError::of(Code::SignatureDoesNotMatch)
}

/// Looks up the key and checks it is usable. Unknown → 404 NotFound; disabled → Inactive.
async fn principal(state: &AppState, key_id: &str) -> Result<Arc<Principal>, CamsError> {
    let p = state.principals.get(state.store.as_ref(), key_id).await?;
    let p = p.ok_or_else(|| CamsError::of(Code::InvalidAccessKeyIdNotFound))?;
    if !p.key.enabled {
        return Err(CamsError::of(Code::InvalidAccessKeyIdInactive));
    }
    Ok(p)
}

/// Verifies the request; `params` already merges query and form body.
pub async fn authenticate(
    state: &AppState,
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    params: &Params,
) -> Result<Authenticated, CamsError> {
    if header(headers, "x-acs-bearer-token").is_some()
        || params.get("SignatureType") == Some("BEARERTOKEN")
    {
        return Err(incomplete(
            "bearer tokens are not supported; sign the request with an AccessKey",
        ));
    }
    if let Some(auth) = headers.get("authorization") {
        let auth = auth
            .to_str()
            .map_err(|_| incomplete("the Authorization header is not text"))?;
        verify_v3(state, method, path, raw_query, headers, body, params, auth).await
    } else if params.raw("Signature").is_some() {
        verify_v1(state, method, params).await
    } else {
        Err(incomplete(
            "no credentials: sign the request (ACS3-HMAC-SHA256 Authorization header or v1 Signature parameter)",
        ))
    }
}

#[expect(clippy::too_many_arguments, reason = "the parts of one HTTP request")]
async fn verify_v3(
    state: &AppState,
    method: &str,
    path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    body: &[u8],
    params: &Params,
    auth: &str,
) -> Result<Authenticated, CamsError> {
    let auth = v3::Authorization::parse(auth)?;
    if !body.is_empty() && !auth.signed_headers.iter().any(|h| h == "content-type") {
        return Err(incomplete(
            "SignedHeaders must include content-type when the request has a body",
        ));
    }
    let date = header(headers, "x-acs-date")
        .ok_or_else(|| incomplete("the x-acs-date header is missing"))?;
    let nonce = header(headers, "x-acs-signature-nonce")
        .ok_or_else(|| incomplete("the x-acs-signature-nonce header is missing"))?;
    let action = header(headers, "x-acs-action")
        .ok_or_else(|| incomplete("the x-acs-action header is missing"))?;
    let version = header(headers, "x-acs-version")
        .ok_or_else(|| incomplete("the x-acs-version header is missing"))?;
    let principal = principal(state, &auth.access_key_id).await?;

    let payload_hash = v3::sha256_hex(body);
    if let Some(claimed) = header(headers, "x-acs-content-sha256")
        && !claimed.trim().eq_ignore_ascii_case(&payload_hash)
    {
        return Err(CamsError::new(
            Code::SignatureDoesNotMatch,
            "Specified signature is not matched with our calculation: x-acs-content-sha256 is not the SHA-256 of the body.",
        ));
    }
    let canonical = v3::canonical_request(
        method,
        path,
        raw_query,
        &auth.signed_headers,
        |n| header_values(headers, n),
        &payload_hash,
    )?;
    let string_to_sign = v3::string_to_sign(&canonical);
    let expected = v3::signature(principal.key.secret.expose(), &string_to_sign);
    if !bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        if state.config.debug_signatures {
            return Err(CamsError::new(
                Code::SignatureDoesNotMatch,
                format!(
                    "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
                ),
            ));
        }
        return Err(mismatch());
    }
    if let Some(a) = params.get("Action")
        && a != action
    {
        return Err(CamsError::invalid(
            "Action",
            format_args!("{a:?} disagrees with the signed x-acs-action {action:?}"),
        ));
    }
    if let Some(v) = params.get("Version")
        && v != version
    {
        return Err(CamsError::invalid(
            "Version",
            format_args!("{v:?} disagrees with the signed x-acs-version {version:?}"),
        ));
    }
    let nonce = check_time_and_nonce(state, &principal.key.id, date, nonce)?;
    Ok(Authenticated {
        principal,
        action: action.to_string(),
        version: version.to_string(),
        nonce,
    })
}

async fn verify_v1(
    state: &AppState,
    method: &str,
    params: &Params,
) -> Result<Authenticated, CamsError> {
    for name in v1::REQUIRED {
        if params.get(name).is_none() {
            return Err(CamsError::missing(name));
        }
    }
    let get = |n: &str| params.get(n).unwrap_or_default();
    if get("SignatureMethod") != "HMAC-SHA1" {
        return Err(incomplete("SignatureMethod must be HMAC-SHA1"));
    }
    if get("SignatureVersion") != "1.0" {
        return Err(incomplete("SignatureVersion must be 1.0"));
    }
    if params.get("SecurityToken").is_some() {
        return Err(CamsError::of(Code::InvalidAccessKeyIdNotFound));
    }
    let principal = principal(state, get("AccessKeyId")).await?;
    let string_to_sign = v1::string_to_sign(
        method,
        params
            .as_map()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let expected = v1::signature(principal.key.secret.expose(), &string_to_sign);
    let given = params.raw("Signature").unwrap_or_default();
    // a careless client sending a raw '+' gets it decoded to a space: compare once more with it restored
    let ok = bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
        || bool::from(
            expected
                .as_bytes()
                .ct_eq(given.replace(' ', "+").as_bytes()),
        );
    if !ok {
        return Err(mismatch());
    }
    let nonce = check_time_and_nonce(
        state,
        &principal.key.id,
        get("Timestamp"),
        get("SignatureNonce"),
    )?;
    Ok(Authenticated {
        principal,
        action: get("Action").to_string(),
        version: get("Version").to_string(),
        nonce,
    })
}

/// Checks the request's time against the clock window and the nonce's form; the nonce to claim.
fn check_time_and_nonce(
    state: &AppState,
    key_id: &str,
    date: &str,
    nonce: &str,
) -> Result<Nonce, CamsError> {
    let ts = time_fmt::parse(date)?;
    let now_ms = state.clock.now_ms();
    time_fmt::check_window(ts, now_ms.div_euclid(1000))?;
    if nonce.is_empty() || nonce.len() > 128 {
        return Err(incomplete(
            "the signature nonce must be 1 to 128 characters",
        ));
    }
    Ok(Nonce {
        key_id: key_id.to_string(),
        nonce: nonce.to_string(),
        at_ms: now_ms,
    })
}
