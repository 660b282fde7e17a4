//! OpenID Connect ID tokens for `AssumeRoleWithWebIdentity` (see `docs/WEB_IDENTITY.md`).
//!
//! [`verify_token`] checks a JWT against the OIDC providers registered in an account:
//! - the `iss` names a provider of the role's account (`InvalidIdentityToken` "No OpenIDConnect
//!   provider found in your account for <iss>" otherwise);
//! - the signing key comes from the issuer's `/.well-known/openid-configuration` → `jwks_uri`,
//!   cached per issuer for [`JWKS_TTL_SECS`] and fetched again (at most every
//!   [`REFETCH_FLOOR_SECS`]) when a token names a key id the cached set lacks;
//! - the signature is verified by the `jsonwebtoken` crate (ring) with RS256/384/512,
//!   PS256/384/512, ES256 or ES384; no other algorithm is accepted (never `none` nor HMAC);
//! - `exp` (required), `nbf` and `iat` are checked against the injected clock with
//!   [`LEEWAY_SECS`] of clock skew, as IAM documents for `exp`;
//! - `azp` or `aud` must be one of the provider's client ids; `sub` is required.
//!
//! Nothing here logs a token or a claim.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tessera_wire::AwsError;

use crate::iam::credentials::providers::{self, OidcProvider};
use crate::{internal, Services};

/// Clock skew tolerated on `exp`, `nbf` and `iat` (IAM User Guide, "OIDC federation": five
/// minutes past `exp`).
pub const LEEWAY_SECS: i64 = 300;
/// How long an issuer's keys are used before they are fetched again.
pub const JWKS_TTL_SECS: i64 = 3600;
/// A token naming an unknown key id makes Tessera fetch the issuer's keys again, at most this
/// often per issuer (forged key ids cannot hammer the issuer).
pub const REFETCH_FLOOR_SECS: i64 = 10;
/// Timeout of one HTTP fetch (discovery document or key set), connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest discovery document or key set read.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024;
/// Most keys of a key set considered.
const MAX_KEYS: usize = 100;
/// Most issuers whose keys are cached (the cache is cleared when full).
const MAX_CACHED_ISSUERS: usize = 1024;

/// AWS's message when the keys cannot be had from a reachable issuer.
pub const KEY_RETRIEVAL_MESSAGE: &str = "Couldn't retrieve verification key from your identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements";
/// AWS's description of `InvalidIdentityToken`, used for malformed tokens and bad signatures.
pub const INVALID_TOKEN_MESSAGE: &str = "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.";

/// `InvalidIdentityToken` (400).
pub fn invalid_identity_token(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidIdentityToken", message)
}

/// `IDPCommunicationError` (400): the issuer could not be reached.
pub fn idp_communication_error() -> AwsError {
    AwsError::new(
        400,
        "IDPCommunicationError",
        "The request could not be fulfilled because the identity provider (IDP) that was asked to verify the incoming identity token could not be reached. This is often a transient error caused by network conditions. Retry the request a limited number of times and wait between attempts to be notified of the final result.",
    )
}

// ---------------------------------------------------------------------------------------------
// Fetching.

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No answer: connection refused, DNS, TLS, timeout (`IDPCommunicationError`).
    Unreachable(String),
    /// An answer that is not a usable document: status other than 200, too large, refused
    /// redirect (`InvalidIdentityToken`).
    Bad(String),
}

/// HTTP GET of the issuer's documents; replaced in tests.
pub trait Fetcher: Send + Sync {
    /// The body of a `200` answer to `GET url`.
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError>;
}

/// Whether a document URL may be fetched: `https://`, or `http://` on a loopback host
/// (shared/CONTRACT.md, "Web identity"). `Some(is_loopback)` when allowed.
pub fn url_allowed(url: &str) -> Option<bool> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let host = uri.host()?.to_ascii_lowercase();
    let loopback = providers::is_loopback_host(&host);
    match uri.scheme_str()? {
        "https" => Some(loopback),
        "http" if loopback => Some(true),
        _ => None,
    }
}

/// The real fetcher: `ureq` with a [`FETCH_TIMEOUT`] timeout and a [`MAX_DOCUMENT_BYTES`] limit.
/// Redirects: up to 3, https only, for remote issuers; none on loopback.
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpFetcher;

impl Fetcher for HttpFetcher {
    fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let loopback =
            url_allowed(url).ok_or_else(|| FetchError::Bad("the URL must be https (or http on loopback)".into()))?;
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(FETCH_TIMEOUT))
            .http_status_as_error(false)
            .https_only(!loopback)
            .max_redirects(if loopback { 0 } else { 3 })
            .proxy(if loopback { None } else { ureq::Proxy::try_from_env() })
            .user_agent("tessera-oidc")
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let mut response = agent.get(url).call().map_err(|e| match e {
            ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::HostNotFound
            | ureq::Error::ConnectionFailed
            | ureq::Error::Tls(_) => FetchError::Unreachable(e.to_string()),
            other => FetchError::Bad(other.to_string()),
        })?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(FetchError::Bad(format!("HTTP status {status}")));
        }
        response.body_mut().with_config().limit(MAX_DOCUMENT_BYTES).read_to_vec().map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::Timeout(_) => FetchError::Unreachable(e.to_string()),
            other => FetchError::Bad(other.to_string()),
        })
    }
}

/// One issuer's keys.
#[derive(Debug)]
struct CachedKeys {
    fetched_at: i64,
    keys: Vec<Jwk>,
}

/// What `AssumeRoleWithWebIdentity` keeps in memory: the keys of each issuer, and the fetcher.
pub struct OidcState {
    fetcher: RwLock<Arc<dyn Fetcher>>,
    cache: Mutex<HashMap<String, Arc<CachedKeys>>>,
}

impl Default for OidcState {
    fn default() -> Self {
        OidcState { fetcher: RwLock::new(Arc::new(HttpFetcher)), cache: Mutex::new(HashMap::new()) }
    }
}

impl std::fmt::Debug for OidcState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OidcState(..)")
    }
}

impl OidcState {
    /// Use `fetcher` for every later fetch (tests; embedding).
    pub fn set_fetcher(&self, fetcher: Arc<dyn Fetcher>) {
        *self.fetcher.write().unwrap_or_else(|e| e.into_inner()) = fetcher;
    }

    /// Forget every cached key set.
    pub fn clear(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    fn fetcher(&self) -> Arc<dyn Fetcher> {
        self.fetcher.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn cached(&self, issuer: &str) -> Option<Arc<CachedKeys>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).get(issuer).cloned()
    }

    fn store(&self, issuer: &str, keys: Arc<CachedKeys>) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED_ISSUERS && !cache.contains_key(issuer) {
            cache.clear();
        }
        cache.insert(issuer.to_string(), keys);
    }

    /// Fetch the issuer's discovery document, then its key set.
    fn fetch(&self, issuer: &str, now: i64) -> Result<Arc<CachedKeys>, AwsError> {
        let fetcher = self.fetcher();
        let failed = |what: &str, e: FetchError| match e {
            FetchError::Unreachable(detail) => {
                tracing::warn!(%issuer, %detail, "OIDC issuer unreachable ({what})");
                idp_communication_error()
            }
            FetchError::Bad(detail) => {
                tracing::warn!(%issuer, %detail, "OIDC issuer gave no usable {what}");
                invalid_identity_token(KEY_RETRIEVAL_MESSAGE)
            }
        };
        let unusable = |what: &str| {
            tracing::warn!(%issuer, "OIDC issuer's {what} is not usable");
            invalid_identity_token(KEY_RETRIEVAL_MESSAGE)
        };
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let body = fetcher.get(&discovery_url).map_err(|e| failed("discovery document", e))?;
        let discovery: Value = serde_json::from_slice(&body).map_err(|_| unusable("discovery document"))?;
        let jwks_uri = discovery.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| unusable("jwks_uri"))?;
        if url_allowed(jwks_uri).is_none() {
            return Err(unusable("jwks_uri (not https)"));
        }
        let body = fetcher.get(jwks_uri).map_err(|e| failed("key set", e))?;
        let set: Value = serde_json::from_slice(&body).map_err(|_| unusable("key set"))?;
        let keys: Vec<Jwk> = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| unusable("key set"))?
            .iter()
            .take(MAX_KEYS)
            // Keys of kinds the crate does not know are skipped, not fatal.
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .collect();
        let keys = Arc::new(CachedKeys { fetched_at: now, keys });
        self.store(issuer, keys.clone());
        Ok(keys)
    }

    /// The keys of `issuer`: cached when fresh; fetched again when stale, or when `kid` is not
    /// among them and the last fetch is older than [`REFETCH_FLOOR_SECS`].
    fn keys(&self, issuer: &str, kid: Option<&str>, now: i64) -> Result<Arc<CachedKeys>, AwsError> {
        match self.cached(issuer) {
            Some(c) if now >= c.fetched_at && now - c.fetched_at < JWKS_TTL_SECS => {
                let known = kid.is_none_or(|kid| c.keys.iter().any(|k| k.common.key_id.as_deref() == Some(kid)));
                if known || now - c.fetched_at < REFETCH_FLOOR_SECS {
                    Ok(c)
                } else {
                    self.fetch(issuer, now)
                }
            }
            _ => self.fetch(issuer, now),
        }
    }
}

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
