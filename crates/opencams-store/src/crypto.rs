//! Secrets at rest: AES-256-GCM under a master key that never enters the database. The key comes
//! from `OPENCAMS_MASTER_KEY` (64 hex characters) or else a 0600 file `master.key` in the data
//! directory, created on first start.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::StoreError;

/// A secret value that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Encrypts and decrypts secrets; the associated data binds a ciphertext to its row.
#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Loads the master key from `env_key` (hex), else from `<data_dir>/master.key`, creating it
    /// (mode 0600) when absent.
    pub fn load_or_create(data_dir: &Path, env_key: Option<&str>) -> Result<Self, StoreError> {
        if let Some(hex_key) = env_key.filter(|k| !k.trim().is_empty()) {
            return Self::from_hex(hex_key.trim())
                .map_err(|e| StoreError::Config(format!("OPENCAMS_MASTER_KEY: {e}")));
        }
        let path = data_dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_hex(text.trim())
                .map_err(|e| StoreError::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                write_private(&path, &hex::encode(key))?;
                Ok(Self::from_key(&key))
            }
            Err(e) => Err(StoreError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    fn from_hex(text: &str) -> Result<Self, String> {
        let bytes = hex::decode(text)
            .map_err(|_| "the master key must be 64 hex characters".to_string())?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the master key must be 32 bytes (64 hex characters)".to_string())?;
        Ok(Self::from_key(&key))
    }

    /// `nonce ‖ ciphertext`.
    pub fn seal(&self, aad: &str, plain: &str) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(out)
    }

    pub fn open(&self, aad: &str, sealed: &[u8]) -> Result<Secret, StoreError> {
        if sealed.len() < 12 {
            return Err(StoreError::Crypto("sealed secret too short".into()));
        }
        let (nonce, ct) = sealed.split_at(12);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Crypto("cannot decrypt a secret: wrong master key?".into()))?;
        String::from_utf8(plain)
            .map(Secret)
            .map_err(|_| StoreError::Crypto("secret is not UTF-8".into()))
    }
}

fn write_private(path: &Path, contents: &str) -> Result<(), StoreError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(contents.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| StoreError::Config(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_binds_to_row() {
        let c = Cipher::from_key(&[7; 32]);
        let sealed = c.seal("key:A", "s3cret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(c.open("key:A", &sealed).unwrap().expose(), "s3cret");
        assert!(c.open("key:B", &sealed).is_err());
        assert!(Cipher::from_key(&[8; 32]).open("key:A", &sealed).is_err());
    }

    #[test]
    fn creates_a_private_key_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = Cipher::load_or_create(dir.path(), None).unwrap();
        let sealed = a.seal("x", "v").unwrap();
        let b = Cipher::load_or_create(dir.path(), None).unwrap();
        assert_eq!(b.open("x", &sealed).unwrap().expose(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(Cipher::load_or_create(dir.path(), Some("zz")).is_err());
    }
}
