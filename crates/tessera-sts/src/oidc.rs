//! Verification of OpenID Connect ID tokens for `AssumeRoleWithWebIdentity` (see
//! `docs/WEB_IDENTITY.md`; the module head of `tessera_core::sts::oidc` says what is checked).
//! The issuers' keys and their fetching are in `tessera_core::sts::oidc`, re-exported here.
//!
//! Nothing here logs a token or a claim.

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tessera_wire::AwsError;

pub use tessera_core::sts::oidc::*;

use crate::iam::credentials::providers::{self, OidcProvider};
use crate::{internal, Services};

// ---------------------------------------------------------------------------------------------
// Verification.

/// A verified token's facts.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The provider that vouches for it.
    pub provider: OidcProvider,
    /// `sub`.
    pub subject: String,
    /// The client id it was issued to: `azp` when it is a client id, else the `aud` that is.
    pub audience: String,
    /// `aud` values when the audience came from `azp` (`<provider>:oaud`).
    pub original_audiences: Vec<String>,
    /// `amr` values.
    pub amr: Vec<String>,
    /// Every claim (source identity and session tags come from AWS's claims).
    pub claims: Map<String, Value>,
}

fn algorithm_allowed(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
    )
}

/// Whether `key` can verify a signature made with `alg`.
fn key_fits(key: &Jwk, alg: Algorithm) -> bool {
    if matches!(key.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return false;
    }
    if let Some(key_alg) = key.common.key_algorithm {
        if key_alg.to_string() != format!("{alg:?}") {
            return false;
        }
    }
    match (&key.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        _ => false,
    }
}

/// The claims of a JWT, read without verification (to find its issuer).
fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    if rest.is_some() {
        return None;
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A NumericDate claim (integer or fractional seconds), when present and numeric.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AwsError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64().or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f.floor() as i64)) {
            Some(n) => Ok(Some(n)),
            None => Err(invalid_identity_token(INVALID_TOKEN_MESSAGE)),
        },
    }
}

/// A claim that is a string or an array of strings (other members are ignored).
fn strings(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// Verify `token` for a role of `account` at `now` (epoch seconds).
pub fn verify_token(services: &Services, account: &str, token: &str, now: i64) -> Result<VerifiedToken, AwsError> {
    let invalid = || invalid_identity_token(INVALID_TOKEN_MESSAGE);
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    if !algorithm_allowed(header.alg) {
        return Err(invalid());
    }
    let claims = unverified_claims(token).ok_or_else(invalid)?;
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_identity_token("Missing a required claim: iss"))?;
    let provider = {
        let r = services.store.read().map_err(internal)?;
        providers::find_oidc_provider(r.as_ref(), account, issuer).map_err(internal)?
    };
    let provider = provider.ok_or_else(|| {
        invalid_identity_token(format!("No OpenIDConnect provider found in your account for {issuer}"))
    })?;
    if url_allowed(&provider.url).is_none() {
        // A stored provider always passes; checked again so that no http remote is ever fetched.
        return Err(invalid_identity_token(KEY_RETRIEVAL_MESSAGE));
    }

    // The signature.
    let state = &services.sts.oidc;
    let kid = header.kid.as_deref();
    let keys = state.keys(&provider.url, kid, now)?;
    let candidates: Vec<&Jwk> = keys
        .keys
        .iter()
        .filter(|k| kid.is_none_or(|kid| k.common.key_id.as_deref() == Some(kid)))
        .filter(|k| key_fits(k, header.alg))
        .collect();
    if candidates.is_empty() {
        return Err(invalid_identity_token(KEY_RETRIEVAL_MESSAGE));
    }
    let mut validation = Validation::new(header.alg);
    // Times and audience are checked below, against the injected clock and the provider.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let verified = candidates.iter().any(|jwk| {
        DecodingKey::from_jwk(jwk)
            .is_ok_and(|key| jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).is_ok())
    });
    if !verified {
        return Err(invalid());
    }

    // Times.
    let exp = numeric_date(&claims, "exp")?.ok_or_else(|| invalid_identity_token("Missing a required claim: exp"))?;
    if now >= exp.saturating_add(LEEWAY_SECS) {
        return Err(AwsError::new(
            400,
            "ExpiredTokenException",
            format!("Token expired: current date/time {now} must be before the expiration date/time {exp}"),
        ));
    }
    if let Some(nbf) = numeric_date(&claims, "nbf")? {
        if nbf > now.saturating_add(LEEWAY_SECS) {
            return Err(invalid_identity_token(format!(
                "Token not yet valid: current date/time {now} must be after the not-before date/time {nbf}"
            )));
        }
    }
    if let Some(iat) = numeric_date(&claims, "iat")? {
        if iat > now.saturating_add(LEEWAY_SECS) {
            return Err(invalid_identity_token(format!(
                "Token issued in the future: current date/time {now} must be after the issued-at date/time {iat}"
            )));
        }
    }

    // Audience: `azp` when it is one of the client ids, else an `aud` that is.
    let auds = strings(&claims, "aud");
    let azp = claims.get("azp").and_then(Value::as_str);
    if auds.is_empty() && azp.is_none() {
        return Err(invalid_identity_token("Missing a required claim: aud"));
    }
    let is_client = |a: &str| provider.client_ids.iter().any(|c| c == a);
    let (audience, original_audiences) = match azp.filter(|a| is_client(a)) {
        Some(a) => (a.to_string(), auds.clone()),
        None => match auds.iter().find(|a| is_client(a)) {
            Some(a) => (a.clone(), Vec::new()),
            None => return Err(invalid_identity_token("Incorrect token audience")),
        },
    };
    let subject = match claims.get("sub").and_then(Value::as_str) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => return Err(invalid_identity_token("Missing a required claim: sub")),
    };
    let amr = strings(&claims, "amr");
    Ok(VerifiedToken { provider, subject, audience, original_audiences, amr, claims })
}
