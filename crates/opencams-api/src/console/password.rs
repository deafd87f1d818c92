//! Console passwords: Argon2id (RustCrypto's `argon2`, its default parameters: 19 MiB, 2
//! passes, OWASP's recommendation) stored as PHC strings, and the rules a new password meets.
//! Used by the console's sign-in and by `opencams user`.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::{Rng, RngCore};

/// The fewest characters a console password may have.
pub const MIN_LEN: usize = 12;
/// The most: an Argon2 input has no practical limit, but a form field should.
pub const MAX_LEN: usize = 256;

/// Why a new password is refused, as a sentence naming the rule.
pub fn check_new(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!(
            "the password must have at least {MIN_LEN} characters (it has {n})"
        ));
    }
    if n > MAX_LEN {
        return Err(format!(
            "the password must have at most {MAX_LEN} characters (it has {n})"
        ));
    }
    Ok(())
}

/// The PHC string of `password` under a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `phc` (false for a string that is not one).
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random password of 20 letters and digits (about 119 bits), for the first admin.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse battery").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify(&phc, "correct horse battery"));
        assert!(!verify(&phc, "correct horse batterY"));
        assert!(!verify("not a phc string", "correct horse battery"));
        // a fresh salt each time
        assert_ne!(phc, hash("correct horse battery").unwrap_or_default());
    }

    #[test]
    fn new_passwords_are_checked_by_length() {
        assert!(check_new("short").unwrap_err().contains("at least 12"));
        assert!(
            check_new(&"x".repeat(257))
                .unwrap_err()
                .contains("at most 256")
        );
        assert!(check_new("twelve chars").is_ok());
        let p = generate();
        assert_eq!(p.len(), 20);
        assert!(check_new(&p).is_ok());
    }
}
