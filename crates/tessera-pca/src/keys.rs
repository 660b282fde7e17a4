//! The key algorithms and signing algorithms of AWS Private CA, and a CA's key pair.
//!
//! Keys are made here: ECDSA with `ring`, RSA with the `rsa` crate (`ring` signs RSA but does
//! not generate it); both as PKCS #8, which [`signing_key`] turns into an `rcgen` key pair.
//! Tessera signs with what `ring` signs: RSA PKCS #1 v1.5 with SHA-256/384/512, ECDSA P-256
//! with SHA-256 and P-384 with SHA-384. The other algorithms of the API model (`EC_secp521r1`,
//! the `_PSS` and ML-DSA signatures, SM2) are refused with `InvalidArgsException` naming the
//! limitation (docs/PRIVATE_CA.md).

use rcgen::{KeyPair, SignatureAlgorithm};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING};
use rsa::pkcs8::EncodePrivateKey;
use tessera_wire::AwsError;

/// A CA key algorithm Tessera makes keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// `RSA_2048`, `RSA_3072`, `RSA_4096`: the modulus length in bits.
    Rsa(usize),
    /// `EC_prime256v1`.
    EcP256,
    /// `EC_secp384r1`.
    EcP384,
}

/// Every `KeyAlgorithm` value of the API model.
pub const MODEL_KEY_ALGORITHMS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "EC_prime256v1",
    "EC_secp384r1",
    "EC_secp521r1",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "SM2",
];

/// Every `SigningAlgorithm` value of the API model.
pub const MODEL_SIGNING_ALGORITHMS: &[&str] = &[
    "SHA256WITHECDSA",
    "SHA384WITHECDSA",
    "SHA512WITHECDSA",
    "SHA256WITHRSA",
    "SHA384WITHRSA",
    "SHA512WITHRSA",
    "SHA256WITHRSA_PSS",
    "SHA384WITHRSA_PSS",
    "SHA512WITHRSA_PSS",
    "SM3WITHSM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
];

fn invalid_args(message: String) -> AwsError {
    AwsError::new(400, "InvalidArgsException", message)
}

impl KeyAlgorithm {
    /// From the API's name; `InvalidArgsException` for one Tessera does not make keys for.
    pub fn parse(name: &str) -> Result<Self, AwsError> {
        Ok(match name {
            "RSA_2048" => KeyAlgorithm::Rsa(2048),
            "RSA_3072" => KeyAlgorithm::Rsa(3072),
            "RSA_4096" => KeyAlgorithm::Rsa(4096),
            "EC_prime256v1" => KeyAlgorithm::EcP256,
            "EC_secp384r1" => KeyAlgorithm::EcP384,
            other => {
                return Err(invalid_args(format!(
                    "The key algorithm {other} is not supported by Tessera: use RSA_2048, RSA_3072, RSA_4096, EC_prime256v1 or EC_secp384r1."
                )))
            }
        })
    }

    /// The API's name.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa(3072) => "RSA_3072",
            KeyAlgorithm::Rsa(4096) => "RSA_4096",
            KeyAlgorithm::Rsa(_) => "RSA_2048",
            KeyAlgorithm::EcP256 => "EC_prime256v1",
            KeyAlgorithm::EcP384 => "EC_secp384r1",
        }
    }

    /// The signature `rcgen` writes for this key with the API's `signing_algorithm`, when a
    /// key of this kind can make it; `InvalidArgsException` otherwise.
    pub fn signature(self, signing_algorithm: &str) -> Result<&'static SignatureAlgorithm, AwsError> {
        Ok(match (self, signing_algorithm) {
            (KeyAlgorithm::Rsa(_), "SHA256WITHRSA") => &rcgen::PKCS_RSA_SHA256,
            (KeyAlgorithm::Rsa(_), "SHA384WITHRSA") => &rcgen::PKCS_RSA_SHA384,
            (KeyAlgorithm::Rsa(_), "SHA512WITHRSA") => &rcgen::PKCS_RSA_SHA512,
            (KeyAlgorithm::EcP256, "SHA256WITHECDSA") => &rcgen::PKCS_ECDSA_P256_SHA256,
            (KeyAlgorithm::EcP384, "SHA384WITHECDSA") => &rcgen::PKCS_ECDSA_P384_SHA384,
            (KeyAlgorithm::Rsa(_), s) if s.ends_with("WITHECDSA") || s == "SM3WITHSM2" || s.starts_with("ML_DSA") => {
                return Err(invalid_args(format!(
                    "The signing algorithm {s} cannot be used with an RSA key."
                )))
            }
            (KeyAlgorithm::EcP256 | KeyAlgorithm::EcP384, s) if s.contains("WITHRSA") || s.starts_with("ML_DSA") || s == "SM3WITHSM2" => {
                return Err(invalid_args(format!("The signing algorithm {s} cannot be used with an EC key.")))
            }
            (k, s) => {
                return Err(invalid_args(format!(
                    "The signing algorithm {s} with key algorithm {} is not supported by Tessera: RSA keys sign with SHA256WITHRSA, SHA384WITHRSA or SHA512WITHRSA, EC_prime256v1 with SHA256WITHECDSA and EC_secp384r1 with SHA384WITHECDSA.",
                    k.name()
                )))
            }
        })
    }

    /// The signature IAM uses for an X.509 outbound signer of this key algorithm
    /// (`CreateWorkloadIdentityProviderOutboundSigner`: IAM chooses it from the key algorithm,
    /// not from the CA's configured signing algorithm).
    pub fn workload_identity_signature(self) -> &'static SignatureAlgorithm {
        match self {
            KeyAlgorithm::Rsa(2048) => &rcgen::PKCS_RSA_SHA256,
            KeyAlgorithm::Rsa(_) => &rcgen::PKCS_RSA_SHA384,
            KeyAlgorithm::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }

    /// A new private key, PKCS #8 DER.
    pub fn generate_pkcs8(self) -> Result<Vec<u8>, AwsError> {
        let rng = SystemRandom::new();
        match self {
            KeyAlgorithm::Rsa(bits) => {
                let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits).map_err(|_| AwsError::internal())?;
                Ok(key.to_pkcs8_der().map_err(|_| AwsError::internal())?.as_bytes().to_vec())
            }
            KeyAlgorithm::EcP256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| AwsError::internal()),
            KeyAlgorithm::EcP384 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng)
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| AwsError::internal()),
        }
    }
}

/// The private key of `ca`, unsealed, as an `rcgen` key pair signing with `signature`.
pub fn open_ca_key(
    services: &tessera_core::Services,
    ca: &crate::model::CertificateAuthority,
    signature: &'static SignatureAlgorithm,
) -> Result<KeyPair, AwsError> {
    let pkcs8 = services.secrets.open(&ca.seal_context(), &ca.sealed_private_key).map_err(tessera_core::internal)?;
    signing_key(&pkcs8, signature)
}

/// The `rcgen` key pair of a PKCS #8 key, signing with `signature`.
pub fn signing_key(pkcs8: &[u8], signature: &'static SignatureAlgorithm) -> Result<KeyPair, AwsError> {
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.to_vec());
    KeyPair::from_pkcs8_der_and_sign_algo(&der, signature).map_err(|e| {
        tracing::error!(error = %e, "a certificate authority key cannot be loaded");
        AwsError::internal()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_key_algorithm_is_made_or_refused_by_name() {
        for name in MODEL_KEY_ALGORITHMS {
            match KeyAlgorithm::parse(name) {
                Ok(k) => assert_eq!(k.name(), *name),
                Err(e) => {
                    assert_eq!(e.code, "InvalidArgsException");
                    assert!(e.message.contains(name), "{}", e.message);
                }
            }
        }
    }

    #[test]
    fn ec_keys_load_and_sign_with_their_curve() {
        for (k, sig) in [(KeyAlgorithm::EcP256, "SHA256WITHECDSA"), (KeyAlgorithm::EcP384, "SHA384WITHECDSA")] {
            let pkcs8 = k.generate_pkcs8().expect("generate");
            let alg = k.signature(sig).expect("supported");
            assert!(signing_key(&pkcs8, alg).is_ok());
        }
        assert!(KeyAlgorithm::EcP256.signature("SHA384WITHECDSA").is_err());
        assert!(KeyAlgorithm::EcP256.signature("SHA256WITHRSA").is_err());
        assert!(KeyAlgorithm::Rsa(2048).signature("SHA256WITHRSA_PSS").is_err());
    }

    #[test]
    fn rsa_keys_load_for_every_rsa_signature() {
        let pkcs8 = KeyAlgorithm::Rsa(2048).generate_pkcs8().expect("generate");
        for sig in ["SHA256WITHRSA", "SHA384WITHRSA", "SHA512WITHRSA"] {
            let alg = KeyAlgorithm::Rsa(2048).signature(sig).expect("supported");
            assert!(signing_key(&pkcs8, alg).is_ok(), "{sig}");
        }
    }
}
