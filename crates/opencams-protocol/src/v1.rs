//! V1 RPC signatures, HMAC-SHA1 over the merged query and form parameters (cams-api.md §2.3),
//! as `aliyun-python-sdk-core` and hand-written clients send them.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::encode::{encode_pairs, rfc3986};

/// Parameters a V1 request must carry besides the business ones.
pub const REQUIRED: [&str; 7] = [
    "AccessKeyId",
    "Action",
    "Version",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
];

/// `METHOD&%2F&` + the encoded canonicalized query of every parameter except `Signature`.
pub fn string_to_sign<'a>(
    method: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, _)| *k != "Signature")
        .map(|(k, v)| (rfc3986(k), rfc3986(v)))
        .collect();
    pairs.sort();
    let canonical = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!("{method}&%2F&{}", rfc3986(&canonical))
}

/// Base64 HMAC-SHA1 keyed by `secret&`.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    // HMAC accepts keys of any length; an empty signature never matches anyway.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Adds the V1 common parameters and the signature to `params`; returns the encoded query.
#[expect(
    clippy::too_many_arguments,
    reason = "mirrors the fields of a V1 request one to one"
)]
pub fn sign(
    method: &str,
    action: &str,
    version: &str,
    mut params: Vec<(String, String)>,
    access_key_id: &str,
    secret: &str,
    timestamp: &str,
    nonce: &str,
) -> String {
    for (k, v) in [
        ("AccessKeyId", access_key_id),
        ("Action", action),
        ("Version", version),
        ("Format", "JSON"),
        ("Timestamp", timestamp),
        ("SignatureNonce", nonce),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ] {
        params.push((k.into(), v.into()));
    }
    let sts = string_to_sign(method, params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    params.push(("Signature".into(), signature(secret, &sts)));
    encode_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}
