//! The JWT outbound signers of a workload identity provider
//! (`API_WorkloadIdentityJwtOutboundSignerDetail.html`): "IAM creates one JSON Web Token (JWT)
//! outbound signer for each supported signing algorithm along with the provider". These keys are
//! never disabled, deleted or scheduled to stop, and carry no status.
//!
//! Tessera supports ES256 (`ECC_NIST_P256`) and ES384 (`ECC_NIST_P384`). Each key pair is
//! generated with `ring`; the private key (PKCS#8) is sealed with the data dir's
//! [`SecretBox`](tessera_store::secrets::SecretBox) under context
//! `workload-identity-signer/<provider id>/<kid>` and is never returned, logged or audited. The
//! public key is kept as its uncompressed curve point; `kid` is its RFC 7638 JWK thumbprint.
//!
//! This file also answers the reads of every signer: `OutboundSigners` of
//! Create/GetWorkloadIdentityProvider and `ListWorkloadIdentityProviderOutboundSigners`, which
//! lists the JWT signers with the X.509 entries (`workload_identity_x509_signer.rs`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::ECDSA_P384_SHA384_FIXED_SIGNING;
use ring::signature::{EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_store::secrets::SecretBox;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::entities::{invalid_input, Cx};
use super::x509_signer::X509Signer;
use super::{authorized_provider, WorkloadIdentityProvider};
use crate::clock;
use crate::validate;

/// One supported JWT signing algorithm.
#[derive(Debug, Clone, Copy)]
pub struct JwtAlgorithm {
    /// The JWS `alg` (`SigningAlgorithm`).
    pub alg: &'static str,
    /// The key's algorithm (`KeyAlgorithm`).
    pub key_algorithm: &'static str,
    /// The JWK `crv`.
    pub curve: &'static str,
    /// Length of one coordinate, in bytes.
    coordinate_len: usize,
    /// The DER `AlgorithmIdentifier` of the curve's `SubjectPublicKeyInfo`, up to the bit string.
    spki_prefix: &'static [u8],
    ring: &'static EcdsaSigningAlgorithm,
}

/// The algorithms IAM creates a JWT signer for, in the order they are reported.
pub const JWT_ALGORITHMS: &[JwtAlgorithm] = &[
    JwtAlgorithm {
        alg: "ES256",
        key_algorithm: "ECC_NIST_P256",
        curve: "P-256",
        coordinate_len: 32,
        spki_prefix: &[
            0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
        ],
        ring: &ECDSA_P256_SHA256_FIXED_SIGNING,
    },
    JwtAlgorithm {
        alg: "ES384",
        key_algorithm: "ECC_NIST_P384",
        curve: "P-384",
        coordinate_len: 48,
        spki_prefix: &[
            0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
            0x00, 0x22, 0x03, 0x62, 0x00,
        ],
        ring: &ECDSA_P384_SHA384_FIXED_SIGNING,
    },
];

/// One JWT outbound signer of a provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JwtSigner {
    /// The JWS `alg`, e.g. `ES384`.
    pub signing_algorithm: String,
    /// The key's algorithm, e.g. `ECC_NIST_P384`.
    pub key_algorithm: String,
    /// RFC 7638 thumbprint of the public JWK (base64url), the JWKS `kid`.
    pub kid: String,
    /// The public key: the uncompressed curve point, base64url.
    pub public_point: String,
    /// The PKCS#8 private key, sealed by the SecretBox (never returned).
    pub sealed_private_key: String,
    /// When it started signing (the provider's creation), epoch seconds.
    pub start: i64,
}

/// The SecretBox context a signer's private key is sealed under.
pub fn seal_context(provider_id: &str, kid: &str) -> String {
    format!("workload-identity-signer/{provider_id}/{kid}")
}

/// Generate one signer per supported algorithm for the provider `provider_id`.
pub fn generate(secrets: &SecretBox, provider_id: &str, now: i64) -> Result<Vec<JwtSigner>, AwsError> {
    let rng = SystemRandom::new();
    JWT_ALGORITHMS
        .iter()
        .map(|a| {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(a.ring, &rng).map_err(|_| AwsError::internal())?;
            let pair = EcdsaKeyPair::from_pkcs8(a.ring, pkcs8.as_ref(), &rng).map_err(|_| AwsError::internal())?;
            let point = pair.public_key().as_ref().to_vec();
            let (x, y) = coordinates(a, &point).ok_or_else(AwsError::internal)?;
            let kid = thumbprint(a.curve, &x, &y);
            Ok(JwtSigner {
                signing_algorithm: a.alg.to_string(),
                key_algorithm: a.key_algorithm.to_string(),
                sealed_private_key: secrets.seal(&seal_context(provider_id, &kid), pkcs8.as_ref()),
                kid,
                public_point: URL_SAFE_NO_PAD.encode(&point),
                start: now,
            })
        })
        .collect()
}

/// The `x` and `y` of an uncompressed point (`0x04 || x || y`) of algorithm `a`.
fn coordinates(a: &JwtAlgorithm, point: &[u8]) -> Option<(String, String)> {
    ec_coordinates(point, a.coordinate_len)
}

/// The base64url `x` and `y` (JWK members) of an uncompressed EC point (`0x04 || x || y`)
/// whose coordinates are `n` bytes long; `None` for any other shape.
pub fn ec_coordinates(point: &[u8], n: usize) -> Option<(String, String)> {
    if point.len() != 1 + 2 * n || point.first() != Some(&0x04) {
        return None;
    }
    Some((URL_SAFE_NO_PAD.encode(point.get(1..1 + n)?), URL_SAFE_NO_PAD.encode(point.get(1 + n..)?)))
}

/// The RFC 7638 thumbprint of an EC public JWK: SHA-256 of its required members in
/// lexicographic order, base64url.
fn thumbprint(curve: &str, x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"{curve}","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

impl JwtSigner {
    fn algorithm(&self) -> Option<&'static JwtAlgorithm> {
        JWT_ALGORITHMS.iter().find(|a| a.alg == self.signing_algorithm)
    }

    /// The public key as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `alg`, `use`), or `None` when
    /// the stored point is damaged.
    pub fn jwk(&self, use_: &str) -> Option<serde_json::Value> {
        let a = self.algorithm()?;
        let point = URL_SAFE_NO_PAD.decode(&self.public_point).ok()?;
        let (x, y) = coordinates(a, &point)?;
        Some(serde_json::json!({
            "kty": "EC", "crv": a.curve, "x": x, "y": y, "kid": self.kid, "alg": a.alg, "use": use_,
        }))
    }

    /// The public key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub fn public_key_pem(&self) -> Option<String> {
        let a = self.algorithm()?;
        let point = URL_SAFE_NO_PAD.decode(&self.public_point).ok()?;
        coordinates(a, &point)?;
        let mut der = a.spki_prefix.to_vec();
        der.extend_from_slice(&point);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        Some(pem)
    }
}

/// X.509 entries reported per format by Create/GetWorkloadIdentityProvider, at most.
pub const DETAILS_PER_FORMAT: usize = 10;

/// The X.509 entries `OutboundSigners` reports at `now`: no `INACTIVE` entry, at most
/// [`DETAILS_PER_FORMAT`], signing first, then incoming, then validating (each in the order
/// recorded).
pub fn reported_x509(p: &WorkloadIdentityProvider, now: i64) -> Vec<&X509Signer> {
    let rank = |s: &X509Signer| match s.status(now) {
        "ACTIVE" => 0,
        "IN_TRANSITION" => 1,
        _ => 2,
    };
    let mut out: Vec<&X509Signer> = p.x509_signers.iter().filter(|s| s.status(now) != "INACTIVE").collect();
    out.sort_by_key(|s| rank(s));
    out.truncate(DETAILS_PER_FORMAT);
    out
}

/// An X.509 entry's members shared by the detail and the summary: `Configuration` (with
/// `wrapper` around the CA when given), `Status` and the times.
fn write_x509(w: &mut XmlWriter, s: &X509Signer, now: i64, wrapper: Option<&'static str>) {
    w.open("Configuration", None);
    if let Some(wr) = wrapper {
        w.open(wr, None);
    }
    w.elem("CertificateAuthorityId", &s.ca_id).elem("AccountId", &s.ca_account);
    if wrapper.is_some() {
        w.close();
    }
    w.close()
        .elem("Status", s.status(now))
        .elem("StartSigningTime", &clock::iso8601(s.start))
        .opt("EndSigningTime", s.end.map(clock::iso8601).as_deref())
        .opt("DiscoveryExpirationTime", s.discovery_expiration.map(clock::iso8601).as_deref());
}

/// `<OutboundSigners>` of Create/GetWorkloadIdentityProvider at `now`: the X.509 entries
/// [`reported_x509`] picks and the JWT signers. The issuer and bundle endpoint URLs are
/// omitted: Tessera does not publish discovery documents for workload identity providers.
pub fn write_outbound_signers(w: &mut XmlWriter, p: &WorkloadIdentityProvider, now: i64) {
    if p.jwt_signers.is_empty() && p.x509_signers.is_empty() {
        return;
    }
    w.open("OutboundSigners", None);
    w.open("X509", None);
    for s in reported_x509(p, now) {
        w.open("member", None);
        write_x509(w, s, now, None);
        w.close();
    }
    w.close();
    w.open("Jwt", None);
    for s in p.jwt_signers.iter().take(DETAILS_PER_FORMAT) {
        w.open("member", None)
            .elem("SigningAlgorithm", &s.signing_algorithm)
            .open("Configuration", None)
            .elem("KeyAlgorithm", &s.key_algorithm)
            .close()
            .elem("StartSigningTime", &clock::iso8601(s.start))
            .close();
    }
    w.close();
    w.close();
}

/// One entry of `ListWorkloadIdentityProviderOutboundSigners`.
enum Listed<'a> {
    Jwt(&'a JwtSigner),
    X509(&'a X509Signer),
}

/// The sort key of a listed entry: a digest of the request's provider ARN (so a marker only
/// resumes a listing of that ARN, spelled the same) and of the entry's identity (so the order
/// is the same on every call and entries added or removed do not move the page boundary).
fn list_key(arn_tag: &str, identity: &str) -> String {
    format!("{arn_tag}{}", &hex_digest(identity)[..16])
}

fn hex_digest(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `ListWorkloadIdentityProviderOutboundSigners`: every signer, X.509 (every status) and JWT, in
/// a stable order that is not chronological.
pub(crate) fn list(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let page = cx.page()?;
    let p = authorized_provider(cx, "iam:ListWorkloadIdentityProviderOutboundSigners", Vec::new(), |_| {})?;
    let arn_tag = hex_digest(cx.params.get("WorkloadIdentityProviderArn").unwrap_or_default())[..8].to_string();
    if page.after.as_ref().is_some_and(|a| !a.starts_with(&arn_tag)) {
        return Err(invalid_input("The marker does not belong to a listing of this WorkloadIdentityProviderArn."));
    }
    let mut entries: Vec<(String, Listed<'_>)> = p
        .jwt_signers
        .iter()
        .map(|s| (list_key(&arn_tag, &format!("jwt/{}", s.kid)), Listed::Jwt(s)))
        .chain(p.x509_signers.iter().map(|s| (list_key(&arn_tag, &format!("x509/{}", s.ca_arn())), Listed::X509(s))))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let (items, next) = page.apply(entries, |(k, _)| k.clone());
    let now = cx.now();
    let mut w = XmlWriter::fragment();
    w.open("OutboundSigners", None);
    for (_, item) in &items {
        w.open("member", None);
        match item {
            Listed::Jwt(s) => {
                w.elem("SignerType", "JWT")
                    .open("Configuration", None)
                    .open("Jwt", None)
                    .elem("KeyAlgorithm", &s.key_algorithm)
                    .close()
                    .close()
                    .elem("SigningAlgorithm", &s.signing_algorithm)
                    .elem("StartSigningTime", &clock::iso8601(s.start));
            }
            Listed::X509(s) => {
                w.elem("SignerType", "X509");
                write_x509(&mut w, s, now, Some("X509"));
            }
        }
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signers_are_generated_sealed_and_exported() {
        let secrets = SecretBox::new(&[3u8; 32]);
        let signers = generate(&secrets, "AWPAEXAMPLE", 100).unwrap_or_default();
        assert_eq!(signers.len(), 2);
        for s in &signers {
            let jwk = s.jwk("jwt-svid").unwrap_or_default();
            assert_eq!(jwk["kid"], s.kid.as_str());
            assert_eq!(jwk["use"], "jwt-svid");
            let pem = s.public_key_pem().unwrap_or_default();
            assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
            // The private key opens under its own context only, and is a usable key pair.
            let sealed = &s.sealed_private_key;
            assert!(secrets.open(&seal_context("AWPAOTHER", &s.kid), sealed).is_err());
            let pkcs8 = secrets.open(&seal_context("AWPAEXAMPLE", &s.kid), sealed).unwrap_or_default();
            let a = s.algorithm().map(|a| a.ring);
            assert!(a.is_some_and(|a| EcdsaKeyPair::from_pkcs8(a, &pkcs8, &SystemRandom::new()).is_ok()));
        }
        assert_ne!(signers[0].kid, signers[1].kid);
    }

    #[test]
    fn damaged_points_export_nothing() {
        let mut s = JwtSigner {
            signing_algorithm: "ES256".into(),
            key_algorithm: "ECC_NIST_P256".into(),
            kid: "k".into(),
            public_point: URL_SAFE_NO_PAD.encode([4u8; 10]),
            sealed_private_key: String::new(),
            start: 0,
        };
        assert!(s.jwk("jwt-svid").is_none());
        assert!(s.public_key_pem().is_none());
        s.public_point = "!!!".into();
        assert!(s.jwk("jwt-svid").is_none());
        s.signing_algorithm = "HS256".into();
        assert!(s.public_key_pem().is_none());
    }

    #[test]
    fn thumbprint_matches_rfc7638_example_shape() {
        // Same input, same thumbprint; different coordinates, different thumbprint.
        assert_eq!(thumbprint("P-256", "a", "b"), thumbprint("P-256", "a", "b"));
        assert_ne!(thumbprint("P-256", "a", "b"), thumbprint("P-256", "a", "c"));
        assert_eq!(thumbprint("P-256", "a", "b").len(), 43);
    }
}
