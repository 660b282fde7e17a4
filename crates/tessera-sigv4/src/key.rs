//! Signing key derivation and a small cache of derived keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::parse::{CredentialScope, TERMINATOR};

type HmacSha256 = Hmac<Sha256>;

pub(crate) fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any size"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A derived SigV4 signing key (`kSigning`).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(pub [u8; 32]);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Signs `data` with this key and returns the lowercase hex HMAC.
    pub fn sign(&self, data: &[u8]) -> String {
        crate::lower_hex(&hmac(&self.0, data))
    }
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> SigningKey {
    let mut k_secret = Vec::with_capacity(4 + secret_access_key.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac(&k_secret, date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    SigningKey(hmac(&k_service, TERMINATOR.as_bytes()))
}

#[derive(Hash, PartialEq, Eq)]
struct CacheKey {
    access_key_id: String,
    secret_fingerprint: [u8; 32],
    scope: CredentialScope,
}

/// A bounded, thread-safe cache of derived signing keys, keyed by access key
/// id, a SHA-256 fingerprint of the secret (so a rotated secret never hits a
/// stale entry) and the credential scope. When full it is cleared wholesale;
/// keys change daily anyway.
pub struct SigningKeyCache {
    capacity: usize,
    map: Mutex<HashMap<CacheKey, SigningKey>>,
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self::new(4096)
    }
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        SigningKeyCache { capacity: capacity.max(1), map: Mutex::new(HashMap::new()) }
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The signing key for `scope`, derived on a miss.
    pub fn get_or_derive(&self, access_key_id: &str, secret_access_key: &str, scope: &CredentialScope) -> SigningKey {
        let key = CacheKey {
            access_key_id: access_key_id.to_string(),
            secret_fingerprint: Sha256::digest(secret_access_key.as_bytes()).into(),
            scope: scope.clone(),
        };
        if let Ok(map) = self.map.lock() {
            if let Some(k) = map.get(&key) {
                return k.clone();
            }
        }
        let derived = derive_signing_key(secret_access_key, &scope.date, &scope.region, &scope.service);
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= self.capacity {
                map.clear();
            }
            map.insert(key, derived.clone());
        }
        derived
    }
}
