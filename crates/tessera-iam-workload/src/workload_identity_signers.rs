//! The JWT outbound signers of a workload identity provider
//! (`API_WorkloadIdentityJwtOutboundSignerDetail.html`): "IAM creates one JSON Web Token (JWT)
//! outbound signer for each supported signing algorithm along with the provider". These keys are
//! never disabled, deleted or scheduled to stop, and carry no status.
//!
//! The algorithms are the IAM User Guide's (`workload-identity-signing-trust-bundle.html`):
//! `ES384` (`ECC_NIST_P384`, made with `ring`, private key PKCS #8) and `RS256` (`RSA_2048`, made
//! with the `rsa` crate as the outbound federation keys are, private key PKCS #1). The private
//! key is sealed with the data dir's [`SecretBox`](tessera_store::secrets::SecretBox) under
//! context `workload-identity-signer/<provider id>/<kid>` and is never returned, logged or
//! audited. The public key is kept as the EC point (uncompressed) or the PKCS #1
//! `RSAPublicKey`; `kid` is its RFC 7638 JWK thumbprint.
//!
//! Providers stored before `RS256` (with `ES256` and `ES384` signers) are brought to the current
//! set at start by [`upgrade_providers`]: they keep their `ES384` key, get an `RS256` key and
//! lose the `ES256` one, which never signed a token (`GetWebIdentityToken` takes `RS256` or
//! `ES384` only), so no token it signed can be outstanding.
//!
//! This file also answers the reads of every signer: `OutboundSigners` of
//! Create/GetWorkloadIdentityProvider and `ListWorkloadIdentityProviderOutboundSigners`, which
//! lists the JWT signers with the X.509 entries (`workload_identity_x509_signer.rs`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, EcdsaSigningAlgorithm, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_store::secrets::SecretBox;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::entities::{invalid_input, Cx};
use super::x509_signer::X509Signer;
use super::{authorized_provider_for, WorkloadIdentityProvider};
use crate::clock;
use crate::validate;

/// The key behind a JWT signing algorithm.
#[derive(Debug, Clone, Copy)]
enum KeyKind {
    /// ECDSA on a NIST curve.
    Ec {
        /// The JWK `crv`.
        curve: &'static str,
        /// Length of one coordinate, in bytes.
        coordinate_len: usize,
        ring: &'static EcdsaSigningAlgorithm,
    },
    /// RSA with a modulus of this many bits.
    Rsa { bits: usize },
}

/// One supported JWT signing algorithm.
#[derive(Debug, Clone, Copy)]
pub struct JwtAlgorithm {
    /// The JWS `alg` (`SigningAlgorithm`).
    pub alg: &'static str,
    /// The key's algorithm (`KeyAlgorithm`).
    pub key_algorithm: &'static str,
    kind: KeyKind,
}

/// The algorithms IAM creates a JWT signer for, in the order they are reported (the user
/// guide's table).
pub const JWT_ALGORITHMS: &[JwtAlgorithm] = &[
    JwtAlgorithm {
        alg: "ES384",
        key_algorithm: "ECC_NIST_P384",
        kind: KeyKind::Ec { curve: "P-384", coordinate_len: 48, ring: &ECDSA_P384_SHA384_FIXED_SIGNING },
    },
    JwtAlgorithm { alg: "RS256", key_algorithm: "RSA_2048", kind: KeyKind::Rsa { bits: 2048 } },
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
    /// The public key, base64url: the uncompressed curve point of an EC key, the PKCS #1
    /// `RSAPublicKey` DER of an RSA key.
    #[serde(rename = "public_point")]
    pub public_key: String,
    /// The private key (PKCS #8 for EC, PKCS #1 for RSA), sealed by the SecretBox (never
    /// returned).
    pub sealed_private_key: String,
    /// When it started signing (the provider's creation), epoch seconds.
    pub start: i64,
}

/// The SecretBox context a signer's private key is sealed under.
pub fn seal_context(provider_id: &str, kid: &str) -> String {
    format!("workload-identity-signer/{provider_id}/{kid}")
}

fn key_error<E: std::fmt::Display>(e: E) -> AwsError {
    tracing::error!(error = %e, "workload identity JWT signer key");
    AwsError::internal()
}

/// A new signer of algorithm `a` for the provider `provider_id` (RSA generation takes a
/// moment: never inside a store transaction).
fn new_signer(secrets: &SecretBox, a: &JwtAlgorithm, provider_id: &str, now: i64) -> Result<JwtSigner, AwsError> {
    let (private, public) = match a.kind {
        KeyKind::Ec { ring, .. } => {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(ring, &rng).map_err(key_error)?;
            let pair = EcdsaKeyPair::from_pkcs8(ring, pkcs8.as_ref(), &rng).map_err(key_error)?;
            (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
        }
        KeyKind::Rsa { bits } => {
            use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).map_err(key_error)?;
            let private = key.to_pkcs1_der().map_err(key_error)?.as_bytes().to_vec();
            let public = key.to_public_key().to_pkcs1_der().map_err(key_error)?.as_bytes().to_vec();
            (private, public)
        }
    };
    let mut signer = JwtSigner {
        signing_algorithm: a.alg.to_string(),
        key_algorithm: a.key_algorithm.to_string(),
        kid: String::new(),
        public_key: URL_SAFE_NO_PAD.encode(&public),
        sealed_private_key: String::new(),
        start: now,
    };
    signer.kid = signer.thumbprint().ok_or_else(|| key_error("a new public key cannot be read back"))?;
    signer.sealed_private_key = secrets.seal(&seal_context(provider_id, &signer.kid), &private);
    Ok(signer)
}

/// Generate the signers of a new provider `provider_id` of `scheme`: one per supported
/// algorithm for `SPIFFE`, none for `NONE` ([`algorithms_for`]).
pub fn generate(secrets: &SecretBox, provider_id: &str, scheme: &str, now: i64) -> Result<Vec<JwtSigner>, AwsError> {
    algorithms_for(scheme).iter().map(|a| new_signer(secrets, a, provider_id, now)).collect()
}

/// The base64url `x` and `y` (JWK members) of an uncompressed EC point (`0x04 || x || y`)
/// whose coordinates are `n` bytes long; `None` for any other shape.
pub fn ec_coordinates(point: &[u8], n: usize) -> Option<(String, String)> {
    if point.len() != 1 + 2 * n || point.first() != Some(&0x04) {
        return None;
    }
    Some((URL_SAFE_NO_PAD.encode(point.get(1..1 + n)?), URL_SAFE_NO_PAD.encode(point.get(1 + n..)?)))
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 of its required members (`crv`, `kty`,
/// `x`, `y` for EC; `e`, `kty`, `n` for RSA) in lexicographic order, base64url.
pub fn thumbprint(jwk: &serde_json::Value) -> Option<String> {
    let s = |k: &str| jwk.get(k).and_then(serde_json::Value::as_str);
    let canonical = match s("kty")? {
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, s("crv")?, s("x")?, s("y")?),
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e")?, s("n")?),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

impl JwtSigner {
    fn algorithm(&self) -> Option<&'static JwtAlgorithm> {
        JWT_ALGORITHMS.iter().find(|a| a.alg == self.signing_algorithm)
    }

    /// The public key's JWK members (`kty` and `crv`/`x`/`y` or `n`/`e`), or `None` when the
    /// stored key is damaged or of an algorithm no longer supported.
    fn key_members(&self) -> Option<serde_json::Value> {
        let a = self.algorithm()?;
        let public = URL_SAFE_NO_PAD.decode(&self.public_key).ok()?;
        match a.kind {
            KeyKind::Ec { curve, coordinate_len, .. } => {
                let (x, y) = ec_coordinates(&public, coordinate_len)?;
                Some(serde_json::json!({ "kty": "EC", "crv": curve, "x": x, "y": y }))
            }
            KeyKind::Rsa { .. } => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                let key = rsa::RsaPublicKey::from_pkcs1_der(&public).ok()?;
                let (n, e) = crate::outbound_keys::rsa_jwk_members(&key);
                Some(serde_json::json!({ "kty": "RSA", "n": n, "e": e }))
            }
        }
    }

    fn thumbprint(&self) -> Option<String> {
        thumbprint(&self.key_members()?)
    }

    /// The public key as a JWK (`kty`, `crv`/`x`/`y` or `n`/`e`, `kid`, `alg`, `use`), or
    /// `None` when the stored key is damaged.
    pub fn jwk(&self, use_: &str) -> Option<serde_json::Value> {
        let mut jwk = self.key_members()?;
        let obj = jwk.as_object_mut()?;
        obj.insert("kid".into(), self.kid.clone().into());
        obj.insert("alg".into(), self.signing_algorithm.clone().into());
        obj.insert("use".into(), use_.into());
        Some(jwk)
    }
}

/// Whether a provider's JWT signers are the current set: one per [`JWT_ALGORITHMS`] entry and
/// nothing else.
fn is_current(signers: &[JwtSigner], wanted: &[JwtAlgorithm]) -> bool {
    signers.len() == wanted.len() && wanted.iter().all(|a| signers.iter().any(|s| s.signing_algorithm == a.alg))
}

/// The JWT signing algorithms a provider of `scheme` has signers for: every one for `SPIFFE`,
/// none for `NONE` ("A NONE provider has no signing keys and publishes no trust bundle", IAM
/// User Guide, "Configure signing and the trust bundle").
pub fn algorithms_for(scheme: &str) -> &'static [JwtAlgorithm] {
    if scheme == "SPIFFE" {
        JWT_ALGORITHMS
    } else {
        &[]
    }
}

/// Bring every stored provider's JWT signers to the current set (run once at start): keep the
/// signers of a supported algorithm, add one for each algorithm missing (`RS256` for providers
/// stored with `ES256` and `ES384`), and drop the others (`ES256`, which never signed a token).
/// Keys are made outside the store transaction, and each provider is re-read inside it, so two
/// servers starting on one database change it once. Returns how many providers changed.
pub fn upgrade_providers(services: &crate::Services) -> Result<usize, AwsError> {
    use tessera_store::{transact, StoreError};
    let stale: Vec<(String, WorkloadIdentityProvider)> = {
        let r = services.store.read().map_err(crate::internal)?;
        let rows = r.scan(super::PROVIDER_TABLE, "", None, usize::MAX).map_err(crate::internal)?;
        crate::model::decode_rows::<WorkloadIdentityProvider>(super::PROVIDER_TABLE, rows)
            .map_err(crate::internal)?
            .into_iter()
            .filter(|(_, p)| !is_current(&p.jwt_signers, algorithms_for(&p.scheme)))
            .collect()
    };
    let mut changed = 0;
    for (key, p) in stale {
        let now = services.clock.now_secs();
        let wanted = algorithms_for(&p.scheme);
        let fresh: Vec<JwtSigner> = wanted
            .iter()
            .filter(|a| !p.jwt_signers.iter().any(|s| s.signing_algorithm == a.alg))
            .map(|a| new_signer(&services.secrets, a, &p.id, now))
            .collect::<Result<_, _>>()?;
        let done = transact(services.store.as_ref(), |txn| -> Result<bool, StoreError> {
            let Some(mut current) = crate::model::load::<WorkloadIdentityProvider>(&*txn, super::PROVIDER_TABLE, &key)?
            else {
                return Ok(false);
            };
            if current.id != p.id || is_current(&current.jwt_signers, wanted) {
                return Ok(false);
            }
            current.jwt_signers.retain(|s| wanted.iter().any(|a| a.alg == s.signing_algorithm));
            for s in &fresh {
                if !current.jwt_signers.iter().any(|k| k.signing_algorithm == s.signing_algorithm) {
                    current.jwt_signers.push(s.clone());
                }
            }
            crate::model::save(txn, super::PROVIDER_TABLE, &key, &current)?;
            Ok(true)
        })
        .map_err(crate::internal)?;
        if done {
            tracing::info!(provider = %p.arn(), "workload identity provider JWT signers brought to the current set");
            changed += 1;
        }
    }
    Ok(changed)
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
    let p = authorized_provider_for(
        cx,
        "iam:ListWorkloadIdentityProviderOutboundSigners",
        Vec::new(),
        |_| {},
        super::Reach::Member,
    )?;
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
    fn signers_are_es384_and_rs256_sealed_and_exported() {
        let secrets = SecretBox::new(&[3u8; 32]);
        assert!(generate(&secrets, "AWPAEXAMPLE", "NONE", 100).unwrap_or_default().is_empty());
        let signers = generate(&secrets, "AWPAEXAMPLE", "SPIFFE", 100).unwrap_or_default();
        let algs: Vec<&str> = signers.iter().map(|s| s.signing_algorithm.as_str()).collect();
        assert_eq!(algs, ["ES384", "RS256"]);
        let keys: Vec<&str> = signers.iter().map(|s| s.key_algorithm.as_str()).collect();
        assert_eq!(keys, ["ECC_NIST_P384", "RSA_2048"]);
        for s in &signers {
            let jwk = s.jwk("jwt-svid").unwrap_or_default();
            assert_eq!(jwk["kid"], s.kid.as_str());
            assert_eq!(jwk["use"], "jwt-svid");
            assert_eq!(jwk["alg"], s.signing_algorithm.as_str());
            // The kid is the thumbprint of the published key.
            assert_eq!(thumbprint(&jwk).as_deref(), Some(s.kid.as_str()));
            // The private key opens under its own context only, and is a usable key.
            let sealed = &s.sealed_private_key;
            assert!(secrets.open(&seal_context("AWPAOTHER", &s.kid), sealed).is_err());
            let private = secrets.open(&seal_context("AWPAEXAMPLE", &s.kid), sealed).unwrap_or_default();
            if s.signing_algorithm == "ES384" {
                assert_eq!((jwk["kty"].as_str(), jwk["crv"].as_str()), (Some("EC"), Some("P-384")));
                let a = &ECDSA_P384_SHA384_FIXED_SIGNING;
                assert!(EcdsaKeyPair::from_pkcs8(a, &private, &SystemRandom::new()).is_ok());
            } else {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                use rsa::traits::PublicKeyParts;
                assert_eq!((jwk["kty"].as_str(), jwk["e"].as_str()), (Some("RSA"), Some("AQAB")));
                let key = rsa::RsaPrivateKey::from_pkcs1_der(&private).map_err(|e| e.to_string());
                assert_eq!(key.map(|k| k.n().bits()), Ok(2048));
            }
        }
    }

    #[test]
    fn damaged_keys_export_nothing() {
        let mut s = JwtSigner {
            signing_algorithm: "ES384".into(),
            key_algorithm: "ECC_NIST_P384".into(),
            kid: "k".into(),
            public_key: URL_SAFE_NO_PAD.encode([4u8; 10]),
            sealed_private_key: String::new(),
            start: 0,
        };
        assert!(s.jwk("jwt-svid").is_none());
        s.signing_algorithm = "RS256".into();
        assert!(s.jwk("jwt-svid").is_none());
        s.public_key = "!!!".into();
        assert!(s.jwk("jwt-svid").is_none());
        // ES256 is no longer an algorithm of the set: an old key exports nothing.
        s.signing_algorithm = "ES256".into();
        assert!(s.jwk("jwt-svid").is_none());
    }

    #[test]
    fn thumbprints_follow_rfc7638() {
        // RFC 7638, section 3.1: the example RSA key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"});
        assert_eq!(thumbprint(&jwk).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert_ne!(
            thumbprint(&serde_json::json!({"kty": "EC", "crv": "P-384", "x": "a", "y": "b"})),
            thumbprint(&serde_json::json!({"kty": "EC", "crv": "P-384", "x": "a", "y": "c"}))
        );
        assert_eq!(thumbprint(&serde_json::json!({"kty": "oct", "k": "a"})), None);
    }
}
