//! ACS3-HMAC-SHA256, the default scheme of the current SDKs (cams-api.md §2.2).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::encode::rfc3986_into;
use crate::{CamsError, Code};

pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";
/// SHA-256 of the empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Headers a request must sign for opencams to trust action, version, time and nonce.
pub const REQUIRED_SIGNED: [&str; 5] = [
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
];

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl Authorization {
    /// Parses `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=a;b,Signature=hex` (spaces after the
    /// commas tolerated).
    pub fn parse(header: &str) -> Result<Self, CamsError> {
        let incomplete = |why: &str| {
            CamsError::new(
                Code::IncompleteSignature,
                format!("The request signature does not conform to Aliyun standards: {why}."),
            )
        };
        let header = header.trim();
        let (alg, rest) = header.split_once(' ').unwrap_or((header, ""));
        if alg != ALGORITHM {
            return Err(incomplete(&format!(
                "unsupported signature algorithm {alg:?}; use {ALGORITHM}"
            )));
        }
        let (mut cred, mut signed, mut sig) = (None, None, None);
        for part in rest.split(',') {
            let part = part.trim();
            if let Some(v) = part.strip_prefix("Credential=") {
                cred = Some(v.trim());
            } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
                signed = Some(v.trim());
            } else if let Some(v) = part.strip_prefix("Signature=") {
                sig = Some(v.trim());
            }
        }
        let cred = cred
            .filter(|c| !c.is_empty())
            .ok_or_else(|| incomplete("Credential is missing"))?;
        let signed = signed
            .filter(|s| !s.is_empty())
            .ok_or_else(|| incomplete("SignedHeaders is missing"))?;
        let sig = sig
            .filter(|s| !s.is_empty())
            .ok_or_else(|| incomplete("Signature is missing"))?;
        let signed_headers: Vec<String> = signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        for required in REQUIRED_SIGNED {
            if !signed_headers.iter().any(|h| h == required) {
                return Err(incomplete(&format!(
                    "SignedHeaders must include {required}"
                )));
            }
        }
        Ok(Self {
            access_key_id: cred.to_string(),
            signed_headers,
            signature: sig.to_ascii_lowercase(),
        })
    }
}

/// CanonicalQueryString: decode each pair, re-encode (RFC 3986), sort by name (then value).
///
/// Every request is signed (bench, CLI) or checked (server) through here, so the pairs are
/// encoded into one buffer and sorted as ranges of it rather than as a pair of strings each.
pub fn canonical_query(raw_query: &str) -> String {
    let mut buf = String::with_capacity(raw_query.len() + 16);
    // (start of the name, end of the name = start of the value, end of the value) in `buf`
    let mut pairs: Vec<(usize, usize, usize)> = Vec::with_capacity(16);
    for (k, v) in form_urlencoded::parse(raw_query.as_bytes()) {
        let start = buf.len();
        rfc3986_into(&mut buf, &k);
        let mid = buf.len();
        rfc3986_into(&mut buf, &v);
        pairs.push((start, mid, buf.len()));
    }
    pairs.sort_unstable_by(|a, b| {
        (&buf[a.0..a.1], &buf[a.1..a.2]).cmp(&(&buf[b.0..b.1], &buf[b.1..b.2]))
    });
    let mut out = String::with_capacity(buf.len() + pairs.len());
    for (i, &(start, mid, end)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&buf[start..mid]);
        out.push('=');
        out.push_str(&buf[mid..end]);
    }
    out
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Builds the CanonicalRequest. `header_values(name)` returns every value of a header (lower-case
/// name); a signed header that is absent makes the signature impossible to match.
pub fn canonical_request<'a>(
    method: &str,
    path: &str,
    raw_query: &str,
    signed_headers: &[String],
    mut header_values: impl FnMut(&str) -> Vec<&'a str>,
    payload_hash: &str,
) -> Result<String, CamsError> {
    let mut out = String::with_capacity(512 + raw_query.len());
    out.push_str(method);
    out.push('\n');
    out.push_str(path);
    out.push('\n');
    out.push_str(&canonical_query(raw_query));
    out.push('\n');
    for name in signed_headers {
        let mut values: Vec<&str> = header_values(name).into_iter().map(str::trim).collect();
        if values.is_empty() {
            return Err(CamsError::new(
                Code::SignatureDoesNotMatch,
                format!(
                    "Specified signature is not matched with our calculation: signed header {name} is not in the request."
                ),
            ));
        }
        values.sort_unstable();
        out.push_str(name);
        out.push(':');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(v);
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out.push('\n');
    out.push_str(payload_hash);
    Ok(out)
}

pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Lower-case hex HMAC-SHA256 of the string to sign, keyed by the secret.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    // HMAC accepts keys of any length; an empty signature never matches anyway.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What a client needs to send a signed V3 request.
#[derive(Debug, Clone)]
pub struct SignedV3 {
    /// Encoded query string (RFC 3986) to put after `/?`.
    pub query: String,
    /// Headers to send, `authorization` included.
    pub headers: Vec<(String, String)>,
}

/// Signs a V3 request the way the Java/Go SDKs do (signed: host, content-type when a body is
/// sent, and every `x-acs-*`). Used by the CLI, the bench and the tests.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the fields of a V3 request one to one"
)]
pub fn sign(
    method: &str,
    host: &str,
    action: &str,
    version: &str,
    query: &[(String, String)],
    body: &[u8],
    content_type: Option<&str>,
    access_key_id: &str,
    secret: &str,
    date: &str,
    nonce: &str,
) -> SignedV3 {
    let query_str =
        crate::encode::encode_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let payload_hash = sha256_hex(body);
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), host.into()),
        ("x-acs-action".into(), action.into()),
        ("x-acs-content-sha256".into(), payload_hash.clone()),
        ("x-acs-date".into(), date.into()),
        ("x-acs-signature-nonce".into(), nonce.into()),
        ("x-acs-version".into(), version.into()),
    ];
    if let Some(ct) = content_type {
        headers.push(("content-type".into(), ct.into()));
    }
    headers.sort();
    let names: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    let canonical = canonical_request(
        method,
        "/",
        &query_str,
        &names,
        |n| {
            headers
                .iter()
                .filter(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .collect()
        },
        &payload_hash,
    )
    .unwrap_or_default(); // every signed header is present by construction
    let sig = signature(secret, &string_to_sign(&canonical));
    let auth = format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={},Signature={sig}",
        names.join(";")
    );
    headers.push(("authorization".into(), auth));
    SignedV3 {
        query: query_str,
        headers,
    }
}
