//! Identifiers that look like Meta's: `wamid.` message ids, numeric object ids (media and
//! templates share one counter so `GET /{id}` is never ambiguous), fbtrace ids, and a stable
//! hash used wherever the simulator must be "random" yet reproducible.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

static COUNTER: AtomicU64 = AtomicU64::new(1);

fn next() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A fresh `wamid.` id. Meta's are base64 of a small binary record that embeds the recipient;
/// this mimics the look (`HBgM…`) while a process-wide counter guarantees uniqueness.
pub fn wamid(to: &str) -> String {
    let n = next();
    let nonce = stable_hash(&[to, &n.to_string(), &process_salt()]);
    let mut raw = vec![0x1c, 0x18, to.len().min(255) as u8];
    raw.extend_from_slice(to.as_bytes());
    raw.extend_from_slice(&[0x15, 0x02, 0x00, 0x11, 0x18, 0x12]);
    raw.extend_from_slice(format!("{nonce:016X}{n:02X}").as_bytes());
    raw.push(0x00);
    format!("wamid.{}", STANDARD.encode(raw))
}

/// A numeric id as Meta uses for media and templates (15–16 digits).
pub fn object_id() -> u64 {
    1_000_000_000_000_000 + (stable_hash(&[&process_salt()]) % 1_000_000_000) * 1000 + next()
}

pub fn fbtrace_id() -> String {
    let h = stable_hash(&[&next().to_string(), &process_salt()]);
    let mut s = STANDARD.encode(h.to_be_bytes());
    s.retain(|c| c.is_ascii_alphanumeric());
    format!("A{s}{:04}", next() % 10_000)
}

/// Differs per process so ids from two runs do not collide in a shared database.
fn process_salt() -> String {
    static SALT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SALT.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        format!("{t}-{}", std::process::id())
    })
    .clone()
}

/// The business-scoped user id (BSUID, 2026) of a user: stable per phone number, shaped like
/// Meta's (`<country>.<digits>`).
pub fn bsuid(wa_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(wa_id.as_bytes());
    let mut n = [0u8; 8];
    n.copy_from_slice(&h[..8]);
    format!("US.{}", u64::from_be_bytes(n) % 10_000_000_000_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wamids_are_unique_and_prefixed() {
        let a = wamid("447700900123");
        let b = wamid("447700900123");
        assert!(a.starts_with("wamid.HBg"));
        assert_ne!(a, b);
    }

    #[test]
    fn stable_hash_separates_parts() {
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
        assert_eq!(stable_hash(&["x"]), stable_hash(&["x"]));
    }
}
