//! Sealing secrets at rest with a key-encryption key (KEK) kept in the data dir (mode 0600).
//!
//! Sealed form: `v1:` + base64(nonce(12) || AES-256-GCM ciphertext+tag). The table and key of
//! the record are bound as associated data, so a sealed value cannot be moved to another record.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::RngCore;

use crate::StoreError;

/// Seals and opens secrets with the KEK.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// A box over a 32-byte key.
    pub fn new(kek: &[u8; 32]) -> Self {
        SecretBox { cipher: Aes256Gcm::new(kek.into()) }
    }

    /// Fresh random key material.
    pub fn generate_key() -> [u8; 32] {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        k
    }

    /// Seal `plaintext`, bound to `context` (e.g. `"access-key/AKIA..."`).
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
            .expect("AES-GCM encryption of in-memory data cannot fail");
        let mut raw = Vec::with_capacity(12 + ct.len());
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&ct);
        format!("v1:{}", B64.encode(raw))
    }

    /// Open a value sealed with the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Vec<u8>, StoreError> {
        let b64 = sealed.strip_prefix("v1:").ok_or(StoreError::Unseal)?;
        let raw = B64.decode(b64).map_err(|_| StoreError::Unseal)?;
        if raw.len() < 12 + 16 {
            return Err(StoreError::Unseal);
        }
        let (nonce, ct) = raw.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad: context.as_bytes() })
            .map_err(|_| StoreError::Unseal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_context_binding() {
        let b = SecretBox::new(&SecretBox::generate_key());
        let s = b.seal("ak/AKIA1", b"secret");
        assert!(!s.contains("secret"));
        assert_eq!(b.open("ak/AKIA1", &s).unwrap(), b"secret");
        assert!(b.open("ak/AKIA2", &s).is_err());
        let other = SecretBox::new(&SecretBox::generate_key());
        assert!(other.open("ak/AKIA1", &s).is_err());
        assert!(b.open("ak/AKIA1", "v1:!!!").is_err());
    }
}
