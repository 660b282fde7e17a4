//! Digest files: the signed, hash-chained summaries of delivered log files.
//!
//! The format is CloudTrail's: a gzip JSON document per region and period listing each log file
//! with the SHA-256 of its uncompressed content, the previous digest's hash and signature, and
//! a `SHA256withRSA` (RSASSA-PKCS1-v1_5, 2048-bit key) signature kept as the object's
//! `signature` metadata. The signed string is AWS's:
//!
//! ```text
//! <digestEndTime>\n<digestS3Bucket>/<digestS3Object>\n<hex SHA-256 of the uncompressed digest>\n<previousDigestSignature or "null">
//! ```

use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::AuditError;

/// `digestSignatureAlgorithm`.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// `hashAlgorithm`.
pub const HASH_ALGORITHM: &str = "SHA-256";
/// Object metadata holding the hex signature.
pub const SIGNATURE_METADATA: &str = "signature";
/// Object metadata holding the algorithm.
pub const SIGNATURE_ALGORITHM_METADATA: &str = "signature-algorithm";
/// RSA modulus size.
const KEY_BITS: usize = 2048;

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// A public key: DER (PKCS#1 `RSAPublicKey`), fingerprint and validity (ListPublicKeys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// Hex fingerprint (first 16 bytes of the SHA-256 of the DER).
    pub fingerprint: String,
    /// PKCS#1 DER.
    pub der: Vec<u8>,
    /// Valid from (epoch ms).
    pub valid_from_millis: i64,
    /// Valid until (epoch ms), `None` while current.
    pub valid_to_millis: Option<i64>,
}

impl PublicKeyInfo {
    /// Verify a hex signature over `message`.
    pub fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(sig_bytes) = hex::decode(signature_hex) else {
            return false;
        };
        let Ok(public) = RsaPublicKey::from_pkcs1_der(&self.der) else {
            return false;
        };
        let Ok(sig) = Signature::try_from(sig_bytes.as_slice()) else {
            return false;
        };
        VerifyingKey::<Sha256>::new(public).verify(message, &sig).is_ok()
    }
}

/// The fingerprint of a public key DER.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(&Sha256::digest(der)[..16])
}

/// The private signing key of digest files.
#[derive(Clone)]
pub struct DigestSigner {
    key: RsaPrivateKey,
    /// The public half.
    pub public: PublicKeyInfo,
}

impl std::fmt::Debug for DigestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestSigner").field("fingerprint", &self.public.fingerprint).finish()
    }
}

impl DigestSigner {
    /// A new random key.
    pub fn generate(now_millis: i64) -> Result<DigestSigner, AuditError> {
        let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)
            .map_err(|e| AuditError::Storage(format!("generating the digest key: {e}")))?;
        Self::from_key(key, now_millis)
    }

    fn from_key(key: RsaPrivateKey, valid_from_millis: i64) -> Result<DigestSigner, AuditError> {
        let der = key
            .to_public_key()
            .to_pkcs1_der()
            .map_err(|e| AuditError::Storage(format!("encoding the digest key: {e}")))?
            .as_bytes()
            .to_vec();
        let public = PublicKeyInfo { fingerprint: fingerprint(&der), der, valid_from_millis, valid_to_millis: None };
        Ok(DigestSigner { key, public })
    }

    /// The private key as PKCS#8 DER (to be sealed before it is stored).
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, AuditError> {
        Ok(self
            .key
            .to_pkcs8_der()
            .map_err(|e| AuditError::Storage(format!("encoding the digest key: {e}")))?
            .as_bytes()
            .to_vec())
    }

    /// A key from PKCS#8 DER.
    pub fn from_pkcs8(der: &[u8], valid_from_millis: i64) -> Result<DigestSigner, AuditError> {
        let key = RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|e| AuditError::Storage(format!("decoding the digest key: {e}")))?;
        Self::from_key(key, valid_from_millis)
    }

    /// Hex signature of `message` (RSASSA-PKCS1-v1_5 with SHA-256, blinded).
    pub fn sign(&self, message: &[u8]) -> String {
        let signer = SigningKey::<Sha256>::new(self.key.clone());
        hex::encode(signer.sign_with_rng(&mut rand::rngs::OsRng, message).to_bytes())
    }
}

/// The string a digest signature covers.
pub fn signing_string(
    end_time: &str,
    bucket: &str,
    object: &str,
    digest_hash_hex: &str,
    previous: Option<&str>,
) -> String {
    format!("{end_time}\n{bucket}/{object}\n{digest_hash_hex}\n{}", previous.unwrap_or("null"))
}

/// One log file listed in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestLogFile {
    /// Bucket.
    pub s3_bucket: String,
    /// Key.
    pub s3_object: String,
    /// Hex SHA-256 of the uncompressed content.
    pub hash_value: String,
    /// `SHA-256`.
    pub hash_algorithm: String,
    /// Newest event time in the file.
    pub newest_event_time: String,
    /// Oldest event time in the file.
    pub oldest_event_time: String,
}

/// A digest file's JSON, field for field as CloudTrail writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    /// Account the trail belongs to.
    pub aws_account_id: String,
    /// Start of the period.
    pub digest_start_time: String,
    /// End of the period.
    pub digest_end_time: String,
    /// Where this digest is.
    #[serde(rename = "digestS3Bucket")]
    pub digest_s3_bucket: String,
    /// Key of this digest.
    #[serde(rename = "digestS3Object")]
    pub digest_s3_object: String,
    /// Fingerprint of the signing key.
    pub digest_public_key_fingerprint: String,
    /// `SHA256withRSA`.
    pub digest_signature_algorithm: String,
    /// Newest event time over the listed log files.
    pub newest_event_time: Option<String>,
    /// Oldest event time over the listed log files.
    pub oldest_event_time: Option<String>,
    /// Bucket of the previous digest (null for the first of a chain).
    #[serde(rename = "previousDigestS3Bucket")]
    pub previous_digest_s3_bucket: Option<String>,
    /// Key of the previous digest.
    #[serde(rename = "previousDigestS3Object")]
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest's uncompressed content.
    pub previous_digest_hash_value: Option<String>,
    /// `SHA-256`.
    pub previous_digest_hash_algorithm: Option<String>,
    /// Hex signature of the previous digest.
    pub previous_digest_signature: Option<String>,
    /// The log files delivered in the period.
    pub log_files: Vec<DigestLogFile>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip() {
        let s = DigestSigner::generate(1).unwrap();
        let msg = signing_string("2024-01-01T00:00:00Z", "b", "k", &sha256_hex(b"x"), None);
        assert!(msg.ends_with("\nnull"));
        let sig = s.sign(msg.as_bytes());
        assert!(s.public.verify(msg.as_bytes(), &sig));
        assert!(!s.public.verify(b"other", &sig));
        assert!(!s.public.verify(msg.as_bytes(), "zz"));
        let again = DigestSigner::from_pkcs8(&s.to_pkcs8().unwrap(), 1).unwrap();
        assert_eq!(again.public, s.public);
        assert_eq!(s.public.fingerprint.len(), 32);
    }
}
