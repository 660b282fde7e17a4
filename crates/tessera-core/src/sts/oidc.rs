//! OpenID Connect ID tokens for `AssumeRoleWithWebIdentity` (see `docs/WEB_IDENTITY.md`): the
//! issuers' keys kept in [`OidcState`] (part of [`crate::Services`]) and how they are fetched;
//! `tessera_sts::oidc::verify_token` verifies the tokens.
//!
//! `verify_token` checks a JWT against the OIDC providers registered in an account:
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

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use tessera_wire::AwsError;

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

/// Whether `host` (lower case, IPv6 in brackets) is a loopback host.
pub fn is_loopback_host(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets[0] == "127"
        && octets.iter().all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// Whether a document URL may be fetched: `https://`, or `http://` on a loopback host
/// (shared/CONTRACT.md, "Web identity"). `Some(is_loopback)` when allowed.
pub fn url_allowed(url: &str) -> Option<bool> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    let host = uri.host()?.to_ascii_lowercase();
    let loopback = is_loopback_host(&host);
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
pub struct CachedKeys {
    fetched_at: i64,
    /// The key set.
    pub keys: Vec<Jwk>,
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
    pub fn keys(&self, issuer: &str, kid: Option<&str>, now: i64) -> Result<Arc<CachedKeys>, AwsError> {
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
