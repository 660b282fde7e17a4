//! The signing keys of Tessera as an OpenID Connect issuer for outbound identity federation
//! (docs/OUTBOUND_FEDERATION.md), and the documents published under each issuer URL: the
//! discovery document ([`openid_configuration`]) and the JWKS ([`jwks`]). STS's
//! `GetWebIdentityToken` signs with the current key of the algorithm asked for.
//!
//! One current key per algorithm (`RS256`: RSA 2048 made with the `rsa` crate; `ES384`: ECDSA
//! P-384 made with `ring`) serves every account; each key is stored in [`SIGNING_KEY_TABLE`]
//! with its private half sealed by the data dir's SecretBox (context `sts-outbound-key/<kid>`)
//! and its public half as a JWK. [`rotate_signing_keys`] (run by `tessera keys rotate`) retires
//! the current keys and makes new ones; a retired key stays in the JWKS for [`MAX_TOKEN_SECS`]
//! more, until every token it signed has expired, and is then deleted.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_store::{transact, ReadTxn, StoreError};
use tessera_wire::AwsError;

use super::outbound_federation::issuer_of;
use crate::model;
use crate::{internal, Services};

/// Table of signing keys: `k/<kid>` → [`SigningKeyRecord`].
pub const SIGNING_KEY_TABLE: &str = "sts_outbound_signing_key";
/// Longest token (`DurationSeconds` at most 3,600).
pub const MAX_TOKEN_SECS: i64 = 3600;
/// Default token lifetime.
pub const DEFAULT_TOKEN_SECS: i64 = 300;
/// The namespace of AWS's own claims.
pub const CLAIMS_NAMESPACE: &str = "https://sts.amazonaws.com/";
/// The signing algorithms of the model (`jwtAlgorithmType`).
pub const ALGORITHMS: &[&str] = &["RS256", "ES384"];

/// A stored signing key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    /// Key id (`kid`), a UUID.
    pub kid: String,
    /// `RS256` or `ES384`.
    pub alg: String,
    /// When it was made (epoch seconds).
    pub created: i64,
    /// The private key (PKCS#1 DER for RSA, PKCS#8 DER for ECDSA), sealed.
    pub sealed: String,
    /// The public key as a JWK.
    pub jwk: Value,
    /// When it stopped signing new tokens, if it has.
    #[serde(default)]
    pub retired: Option<i64>,
}

pub fn seal_context(kid: &str) -> String {
    format!("sts-outbound-key/{kid}")
}

fn row_key(kid: &str) -> String {
    format!("k/{kid}")
}

pub fn signing_error<E: std::fmt::Display>(e: E) -> AwsError {
    tracing::error!(error = %e, "outbound federation signing key");
    AwsError::internal()
}

/// The JWK members `n` and `e` of an RSA public key (RFC 7518, section 6.3.1: base64url of the
/// big-endian integers).
pub fn rsa_jwk_members(key: &rsa::RsaPublicKey) -> (String, String) {
    use rsa::traits::PublicKeyParts;
    (B64.encode(key.n().to_bytes_be()), B64.encode(key.e().to_bytes_be()))
}

/// Make a new key for `alg` (RSA generation takes a moment: never inside a store transaction).
fn new_key(services: &Services, alg: &str, now: i64) -> Result<SigningKeyRecord, AwsError> {
    let kid = crate::ids::request_id();
    let (der, jwk) = match alg {
        "RS256" => {
            use rsa::pkcs1::EncodeRsaPrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(signing_error)?;
            let der = key.to_pkcs1_der().map_err(signing_error)?.as_bytes().to_vec();
            let (n, e) = rsa_jwk_members(&key.to_public_key());
            let jwk = json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e });
            (der, jwk)
        }
        _ => {
            use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING as P384};
            let rng = ring::rand::SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&P384, &rng).map_err(signing_error)?;
            let pair = EcdsaKeyPair::from_pkcs8(&P384, pkcs8.as_ref(), &rng).map_err(signing_error)?;
            // Uncompressed point: 0x04, x (48 bytes), y (48 bytes).
            let (x, y) = super::workload_identity::signers::ec_coordinates(pair.public_key().as_ref(), 48)
                .ok_or_else(|| signing_error("unexpected P-384 public key length"))?;
            let jwk = json!({
                "kty": "EC", "use": "sig", "alg": "ES384", "kid": kid, "crv": "P-384", "x": x, "y": y,
            });
            (pkcs8.as_ref().to_vec(), jwk)
        }
    };
    let sealed = services.secrets.seal(&seal_context(&kid), &der);
    Ok(SigningKeyRecord { kid, alg: alg.to_string(), created: now, sealed, jwk, retired: None })
}

pub fn all_keys(r: &dyn ReadTxn) -> Result<Vec<(String, SigningKeyRecord)>, StoreError> {
    let rows = r.scan(SIGNING_KEY_TABLE, "k/", None, usize::MAX)?;
    model::decode_rows(SIGNING_KEY_TABLE, rows)
}

pub fn current_key(r: &dyn ReadTxn, alg: &str) -> Result<Option<SigningKeyRecord>, AwsError> {
    let keys = all_keys(r).map_err(internal)?;
    Ok(keys.into_iter().map(|(_, k)| k).filter(|k| k.alg == alg && k.retired.is_none()).max_by_key(|k| k.created))
}

/// Make a current key for each algorithm that has none.
pub fn ensure_signing_keys(services: &Services) -> Result<(), AwsError> {
    for alg in ALGORITHMS {
        let present = {
            let r = services.store.read().map_err(internal)?;
            current_key(r.as_ref(), alg)?.is_some()
        };
        if !present {
            let key = new_key(services, alg, services.clock.now_secs())?;
            transact(services.store.as_ref(), |txn| -> Result<(), StoreError> {
                let exists = all_keys(&*txn)?.iter().any(|(_, k)| k.alg == *alg && k.retired.is_none());
                if !exists {
                    model::save(txn, SIGNING_KEY_TABLE, &row_key(&key.kid), &key)?;
                }
                Ok(())
            })
            .map_err(internal)?;
        }
    }
    Ok(())
}

/// Retire the current signing keys, make new ones, and delete keys retired longer ago than
/// the longest token. Returns the new key ids.
pub fn rotate_signing_keys(services: &Services) -> Result<Vec<String>, AwsError> {
    let now = services.clock.now_secs();
    let fresh: Vec<SigningKeyRecord> =
        ALGORITHMS.iter().map(|alg| new_key(services, alg, now)).collect::<Result<_, _>>()?;
    transact(services.store.as_ref(), |txn| -> Result<(), StoreError> {
        for (row, mut key) in all_keys(&*txn)? {
            match key.retired {
                None => {
                    key.retired = Some(now);
                    model::save(txn, SIGNING_KEY_TABLE, &row, &key)?;
                }
                Some(at) if at + MAX_TOKEN_SECS < now => {
                    txn.delete(SIGNING_KEY_TABLE, &row)?;
                }
                Some(_) => {}
            }
        }
        for key in &fresh {
            model::save(txn, SIGNING_KEY_TABLE, &row_key(&key.kid), key)?;
        }
        Ok(())
    })
    .map_err(internal)?;
    let ids: Vec<String> = fresh.into_iter().map(|k| k.kid).collect();
    tracing::info!(key_ids = ?ids, "rotated the outbound federation signing keys");
    Ok(ids)
}

/// The OIDC discovery document of issuer `issuer_id`, or `None` if no account has that issuer.
pub fn openid_configuration(services: &Services, issuer_id: &str) -> Result<Option<String>, AwsError> {
    let r = services.store.read().map_err(internal)?;
    let Some(issuer) = issuer_of(r.as_ref(), issuer_id)? else {
        return Ok(None);
    };
    let doc = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ALGORITHMS,
        "scopes_supported": ["openid"],
        "claims_supported": ["aud", "exp", "iat", "iss", "jti", "sub", CLAIMS_NAMESPACE],
    });
    Ok(Some(doc.to_string()))
}

/// The JWKS of issuer `issuer_id` (the current keys and the retired keys whose tokens may not
/// have expired yet), or `None` if no account has that issuer.
pub fn jwks(services: &Services, issuer_id: &str) -> Result<Option<String>, AwsError> {
    let r = services.store.read().map_err(internal)?;
    if issuer_of(r.as_ref(), issuer_id)?.is_none() {
        return Ok(None);
    }
    let now = services.clock.now_secs();
    let keys: Vec<Value> = all_keys(r.as_ref())
        .map_err(internal)?
        .into_iter()
        .filter(|(_, k)| k.retired.is_none_or(|at| at + MAX_TOKEN_SECS >= now))
        .map(|(_, k)| k.jwk)
        .collect();
    Ok(Some(json!({ "keys": keys }).to_string()))
}
