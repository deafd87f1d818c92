//! Signatures of the callbacks opencams pushes (svix-style): `X-Opencams-Timestamp: <unix s>` and
//! `X-Opencams-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. Binding the
//! timestamp into the MAC lets receivers reject replays of an old request; several signatures
//! separated by spaces allow a key rotation (any match is accepted). The MAC itself is
//! [`crate::hmac_sha256`]'s.

use crate::hmac_sha256;

pub const TIMESTAMP_HEADER: &str = "X-Opencams-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Opencams-Signature";
/// How far a receiver should accept a timestamp from its own clock.
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

/// The signed parts: `<timestamp>.<body>`.
fn parts<'a>(timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 3] {
    [timestamp.as_bytes(), b".", body]
}

/// The `X-Opencams-Signature` value of `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hmac_sha256::sign_header(secret, &parts(&timestamp.to_string(), body))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the timestamp is not a unix time in seconds")]
    BadTimestamp,
    #[error("the timestamp is outside the tolerance (a replay or a wrong clock)")]
    Expired,
    #[error("no signature matches")]
    Mismatch,
}

/// Checks a request as a receiver would: the timestamp within `tolerance_secs` of `now_secs`,
/// and one of the space-separated `sha256=` signatures made with one of `secrets`.
pub fn verify(
    secrets: &[&str],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    if (now_secs - ts).abs() > tolerance_secs {
        return Err(VerifyError::Expired);
    }
    let ts = ts.to_string();
    let parts = parts(&ts, body);
    for secret in secrets {
        if signature_header
            .split_whitespace()
            .any(|sig| hmac_sha256::verify_header(secret, &parts, sig))
        {
            return Ok(());
        }
    }
    Err(VerifyError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        // python3: hmac.new(b"whsec_test", b"1700000000.[]", hashlib.sha256).hexdigest()
        assert_eq!(
            sign("whsec_test", 1_700_000_000, b"[]"),
            "sha256=fb017425d6de061bb16bed88b001a6b5e9d14818e174cf67988a449825c5583f"
        );
        assert_eq!(sign("k", 1, b"x").len(), "sha256=".len() + 64);
    }

    #[test]
    fn verifies_and_rejects_forgeries_and_replays() {
        let body = br#"[{"MessageId":"m1","Status":"Sent"}]"#;
        let sig = sign("s1", 1000, body);
        assert_eq!(verify(&["s1"], "1000", &sig, body, 1010, 300), Ok(()));
        // key rotation: old and new secret, several signatures
        let both = format!("{} {}", sign("s0", 1000, body), sig);
        assert_eq!(verify(&["s1"], "1000", &both, body, 1000, 300), Ok(()));
        assert_eq!(verify(&["s9", "s1"], "1000", &sig, body, 1000, 300), Ok(()));
        // tampered body, wrong key, replayed later, timestamp swapped
        assert_eq!(
            verify(&["s1"], "1000", &sig, b"[]", 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&["s2"], "1000", &sig, body, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&["s1"], "1000", &sig, body, 2000, 300),
            Err(VerifyError::Expired)
        );
        assert_eq!(
            verify(&["s1"], "1001", &sig, body, 1000, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(&["s1"], "soon", &sig, body, 1000, 300),
            Err(VerifyError::BadTimestamp)
        );
        assert_eq!(
            verify(&["s1"], "1000", "sha256=zz", body, 1000, 300),
            Err(VerifyError::Mismatch)
        );
    }
}
