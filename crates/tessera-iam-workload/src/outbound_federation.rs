//! Outbound identity federation (IAM User Guide, "Federate AWS identities to external
//! services", `id_roles_providers_outbound.html`): `EnableOutboundWebIdentityFederation`,
//! `DisableOutboundWebIdentityFederation` and `GetOutboundWebIdentityFederationInfo`.
//!
//! Each account that enables it gets an issuer URL of its own, `<endpoint>/_tessera/outbound/<id>`
//! (`<endpoint>`: the public URL set with [`set_public_url`], `tessera serve --public-url`, or
//! else the URL the server announced with [`set_public_endpoint`] when it bound its listener),
//! kept for the life of the account (disabling and enabling again gives the same URL, so that
//! relying parties keep their trust; every node of a cluster serves the stored URL). Tessera serves the issuer's OIDC discovery document and
//! JWKS under it without authentication; STS `GetWebIdentityToken` signs tokens for it
//! (`sts::web_identity_token`). Records live in table [`OUTBOUND_TABLE`]: `a/<account>` →
//! [`OutboundFederation`], `i/<issuer id>` → the account id. See `docs/OUTBOUND_FEDERATION.md`.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tessera_store::ReadTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{Cx, StoreResultExt};
use crate::model;
use crate::Services;

/// Table of the accounts' outbound federation settings (see the module comment).
pub const OUTBOUND_TABLE: &str = "iam_outbound_federation";

/// One account's outbound federation setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundFederation {
    /// Whether `GetWebIdentityToken` may issue tokens (`JwtVendingEnabled`).
    pub enabled: bool,
    /// The id in the account's issuer URL (a UUID).
    pub issuer_id: String,
    /// The issuer URL (`iss`), fixed when it was first enabled.
    pub issuer: String,
}

/// The base URL this server answers on, set once by the server after it binds.
static PUBLIC_ENDPOINT: OnceLock<String> = OnceLock::new();

/// The URL clients reach the server at (`tessera serve --public-url`: a load balancer's), which
/// takes precedence over [`PUBLIC_ENDPOINT`] for issuer URLs.
static PUBLIC_URL: OnceLock<String> = OnceLock::new();

/// Record the public URL (`--public-url`); issuer URLs made from now on are under it.
pub fn set_public_url(url: &str) {
    // As for `set_public_endpoint`, a second call keeps the first URL.
    let _ = PUBLIC_URL.set(url.trim_end_matches('/').to_string());
}

/// Check a `--public-url` value: an absolute `http://` or `https://` URL with a host, and no
/// query, fragment or user information (relying parties compare the issuer as a string, and
/// an OpenID issuer has none of those: OpenID Connect Discovery 1.0, section 3).
pub fn check_public_url(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return Err("expected an http:// or https:// URL".into());
    };
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("the URL has no host".into());
    }
    if url.contains(['?', '#', '@']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL must not have a query, a fragment, user information or spaces".into());
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Record the base URL this server answers on (issuer URLs are made under it).
pub fn set_public_endpoint(endpoint: &str) {
    // A second call (a second server in one process, as tests run) keeps the first URL.
    let _ = PUBLIC_ENDPOINT.set(endpoint.trim_end_matches('/').to_string());
}

fn account_key(account: &str) -> String {
    format!("a/{account}")
}

fn issuer_key(issuer_id: &str) -> String {
    format!("i/{issuer_id}")
}

/// The account's setting, if it ever enabled outbound federation.
pub fn setting<R: ReadTxn + ?Sized>(r: &R, account: &str) -> Result<Option<OutboundFederation>, AwsError> {
    model::load(r, OUTBOUND_TABLE, &account_key(account)).st()
}

/// The issuer URL of issuer id `issuer_id`, if an account has that issuer.
pub fn issuer_of<R: ReadTxn + ?Sized>(r: &R, issuer_id: &str) -> Result<Option<String>, AwsError> {
    let Some(account) = model::load::<String>(r, OUTBOUND_TABLE, &issuer_key(issuer_id)).st()? else {
        return Ok(None);
    };
    Ok(setting(r, &account)?.map(|s| s.issuer))
}

/// A new issuer URL for issuer id `issuer_id`.
fn new_issuer_url(services: &Services, issuer_id: &str) -> String {
    let base = PUBLIC_URL
        .get()
        .or(PUBLIC_ENDPOINT.get())
        .map_or(services.config.endpoint.trim_end_matches('/'), String::as_str);
    format!("{base}/_tessera/outbound/{issuer_id}")
}

fn feature_enabled() -> AwsError {
    AwsError::new(
        409,
        "FeatureEnabled",
        "Outbound identity federation is already enabled for this account. Use GetOutboundWebIdentityFederationInfo to fetch its configuration.",
    )
}

fn feature_disabled() -> AwsError {
    AwsError::new(404, "FeatureDisabled", "Outbound identity federation is disabled for this account.")
}

fn issuer_xml(cx: &Cx<'_>, issuer: &str, enabled: Option<bool>) -> WireResponse {
    let mut w = XmlWriter::fragment();
    w.elem("IssuerIdentifier", issuer);
    if let Some(on) = enabled {
        w.elem("JwtVendingEnabled", if on { "true" } else { "false" });
    }
    cx.respond(Some(w.finish()))
}

/// `EnableOutboundWebIdentityFederation`: `FeatureEnabled` (409) when it is on already.
pub(crate) fn enable(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.authorize("iam:EnableOutboundWebIdentityFederation", "*", Vec::new())?;
    let account = cx.account();
    let issuer = cx.write(|txn| {
        let record = match setting(&*txn, account)? {
            Some(s) if s.enabled => return Err(feature_enabled()),
            Some(s) => OutboundFederation { enabled: true, ..s },
            None => {
                let issuer_id = crate::ids::request_id();
                let issuer = new_issuer_url(cx.services, &issuer_id);
                OutboundFederation { enabled: true, issuer_id, issuer }
            }
        };
        model::save(txn, OUTBOUND_TABLE, &account_key(account), &record).st()?;
        model::save(txn, OUTBOUND_TABLE, &issuer_key(&record.issuer_id), &account.to_string()).st()?;
        Ok(record.issuer)
    })?;
    // The signing keys exist before the first token is asked for, so that the JWKS a relying
    // party fetches right away already lists them.
    super::outbound_keys::ensure_signing_keys(cx.services)?;
    Ok(issuer_xml(cx, &issuer, None))
}

/// `DisableOutboundWebIdentityFederation`: `FeatureDisabled` (404) when it is off. Tokens
/// issued before stay verifiable (the JWKS stays published), as AWS documents.
pub(crate) fn disable(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.authorize("iam:DisableOutboundWebIdentityFederation", "*", Vec::new())?;
    let account = cx.account();
    cx.write(|txn| match setting(&*txn, account)? {
        Some(mut s) if s.enabled => {
            s.enabled = false;
            model::save(txn, OUTBOUND_TABLE, &account_key(account), &s).st()
        }
        _ => Err(feature_disabled()),
    })?;
    Ok(cx.respond(None))
}

/// `GetOutboundWebIdentityFederationInfo`: `FeatureDisabled` (404) when the account never
/// enabled it; otherwise its issuer URL and whether tokens may be issued now.
pub(crate) fn get_info(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.authorize("iam:GetOutboundWebIdentityFederationInfo", "*", Vec::new())?;
    let read = cx.read()?;
    let s = setting(read.as_ref(), cx.account())?.ok_or_else(feature_disabled)?;
    Ok(issuer_xml(cx, &s.issuer, Some(s.enabled)))
}
