//! The one HMAC-SHA256 signing module, for webhooks in and out: `sha256=<hex>` signatures over
//! one or more byte parts, verified with a constant-time comparison. It serves Meta's
//! `X-Hub-Signature-256` (checked on webhooks in, made by the built-in simulator) and opencams's
//! own `X-Opencams-Signature` on the callbacks it pushes ([`crate::callback_sign`]).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The prefix of a signature header value.
pub const PREFIX: &str = "sha256=";

/// HMAC-SHA256(`secret`, the concatenation of `parts`).
pub fn mac(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(secret) else {
        return [0; 32];
    };
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// The lower-case hex HMAC-SHA256 of `parts` under `secret`.
pub fn sign_hex(secret: &str, parts: &[&[u8]]) -> String {
    hex::encode(mac(secret.as_bytes(), parts))
}

/// `sha256=<hex>`: the header value of `parts` signed with `secret`.
pub fn sign_header(secret: &str, parts: &[&[u8]]) -> String {
    format!("{PREFIX}{}", sign_hex(secret, parts))
}

/// Whether the hex digest `given_hex` (surrounding whitespace ignored) is the HMAC-SHA256 of
/// `parts` under `secret`; compared in constant time.
pub fn verify(secret: &str, parts: &[&[u8]], given_hex: &str) -> bool {
    let Ok(given) = hex::decode(given_hex.trim()) else {
        return false;
    };
    let want = mac(secret.as_bytes(), parts);
    given.len() == want.len() && bool::from(given.as_slice().ct_eq(&want))
}

/// Whether a `sha256=<hex>` header value signs `parts` with `secret`.
pub fn verify_header(secret: &str, parts: &[&[u8]], header: &str) -> bool {
    header
        .strip_prefix(PREFIX)
        .is_some_and(|hex_sig| verify(secret, parts, hex_sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
        let fox = "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        assert_eq!(
            sign_hex("key", &[b"The quick brown fox jumps over the lazy dog"]),
            fox
        );
        // parts are concatenated
        assert_eq!(
            sign_hex(
                "key",
                &[b"The quick brown fox ", b"jumps over the lazy dog"]
            ),
            fox
        );
        assert_eq!(
            sign_header("whsec_test", &[b"1700000000", b".", b"[]"]),
            "sha256=fb017425d6de061bb16bed88b001a6b5e9d14818e174cf67988a449825c5583f"
        );
    }

    #[test]
    fn verifies_and_refuses() {
        let sig = sign_header("s", &[b"body"]);
        assert!(verify_header("s", &[b"body"], &sig));
        assert!(verify_header("s", &[b"body"], &format!("{sig} ")));
        assert!(!verify_header("s", &[b"bodY"], &sig));
        assert!(!verify_header("t", &[b"body"], &sig));
        assert!(!verify_header("s", &[b"body"], &sig["sha256=".len()..]));
        assert!(!verify_header("s", &[b"body"], "sha256=zz"));
        assert!(!verify_header("s", &[b"body"], "sha256=abcd"));
        assert!(!verify_header("s", &[b"body"], ""));
    }
}
