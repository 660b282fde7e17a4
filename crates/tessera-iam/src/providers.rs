//! Identity providers: OpenID Connect (`Create/Get/List/DeleteOpenIDConnectProvider`, client ids,
//! thumbprints, tags) and SAML (`Create/Get/Update/List/DeleteSAMLProvider`, tags), and the
//! look-ups STS uses for `AssumeRoleWithWebIdentity` and `AssumeRoleWithSAML`.
//!
//! Issuer URLs follow shared/CONTRACT.md ("Web identity"): `https://`, except on loopback hosts
//! (`127.0.0.0/8`, `::1`, `localhost`) where `http://` is accepted. The provider's ARN is
//! `arn:aws:iam::<acct>:oidc-provider/<host>[:port]<path>`, as on AWS.

use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, StoreError};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::{
    already_exists, arn_param, authorize_with, invalid_input, limit_exceeded, merge_tags, no_such_entity,
    parse_tag_keys, parse_tags, read, remove_tags, request_tag_context, respond, split_iam_arn, tags_page, write,
    write_tags, StoreResultExt,
};
use crate::authz::AuthzRequest;
use crate::clock::iso8601;
use crate::model::{self, Tag};
use crate::validate::{Checks, Page};
use crate::{ids, Call, Services};

/// [`OidcProvider`] by `<acct>/<host[:port]/path>`.
pub const OIDC_PROVIDER: &str = "iam_oidc_provider";
/// [`SamlProvider`] by `<acct>/<lower name>`.
pub const SAML_PROVIDER: &str = "iam_saml_provider";

/// Most OIDC providers in an account.
pub const OIDC_PROVIDERS_PER_ACCOUNT: u64 = 100;
/// Most client ids of one OIDC provider.
pub const CLIENT_IDS_PER_PROVIDER: usize = 100;
/// Most thumbprints of one OIDC provider.
pub const THUMBPRINTS_PER_PROVIDER: usize = 5;
/// Most SAML providers in an account.
pub const SAML_PROVIDERS_PER_ACCOUNT: u64 = 100;
/// Most private keys of one SAML provider.
pub const SAML_PRIVATE_KEYS: usize = 2;

/// An OpenID Connect identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    /// Account id.
    pub account: String,
    /// The issuer URL, normalized: scheme, lower-case host, port if any, path without a trailing `/`.
    pub url: String,
    /// Creation time.
    pub created: i64,
    /// Audiences (`aud`) accepted.
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// SHA-1 thumbprints of the issuer's certificates (40 hex characters each).
    #[serde(default)]
    pub thumbprints: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl OidcProvider {
    /// The URL without its scheme: `host[:port]/path`, what AWS returns as `Url` and uses in the
    /// ARN and in condition keys (`<resource>:aud`, `<resource>:sub`).
    pub fn resource(&self) -> &str {
        self.url.split_once("://").map_or(self.url.as_str(), |(_, r)| r)
    }
    /// `arn:aws:iam::<acct>:oidc-provider/<resource>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:oidc-provider/{}", self.account, self.resource())
    }
}

/// A private key a SAML provider decrypts assertions with (sealed at rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlPrivateKey {
    /// Key id (26 upper-case letters and digits).
    pub key_id: String,
    /// The PEM, sealed under `saml-key/<acct>/<lower name>/<key id>`.
    pub sealed: String,
    /// When it was added.
    pub timestamp: i64,
}

/// A SAML 2.0 identity provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlProvider {
    /// Account id.
    pub account: String,
    /// Name.
    pub name: String,
    /// The IdP's metadata document, as given.
    pub metadata: String,
    /// Creation time.
    pub created: i64,
    /// Expiry: the metadata's `validUntil`, else 100 years after creation.
    pub valid_until: i64,
    /// `SAMLProviderUUID`.
    pub uuid: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// `Required` or `Allowed`, when set.
    #[serde(default)]
    pub assertion_encryption_mode: Option<String>,
    /// Private keys (at most 2).
    #[serde(default)]
    pub private_keys: Vec<SamlPrivateKey>,
}

impl SamlProvider {
    /// `arn:aws:iam::<acct>:saml-provider/<name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:saml-provider/{}", self.account, self.name)
    }
}

// ---------------------------------------------------------------------------------------------
// Issuer URLs.

pub use tessera_core::sts::oidc::is_loopback_host;

/// Normalize an issuer URL: `Some((scheme, resource))` where resource is `host[:port]/path`
/// (host lower case, no trailing `/`), or `None` when the URL breaks the contract's rules.
pub fn normalize_issuer(url: &str) -> Option<(&'static str, String)> {
    let lower = url.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    let (scheme, rest) = if lower.starts_with("https://") {
        ("https", &url[8..])
    } else if lower.starts_with("http://") {
        ("http", &url[7..])
    } else {
        return None;
    };
    if rest.is_empty()
        || rest.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '@' | '\\'))
    {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = authority.to_ascii_lowercase();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (inside, after) = v6.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{inside}]"), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.clone(), None),
        }
    };
    if host.is_empty()
        || (!host.starts_with('[') && !host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return None;
    }
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.parse::<u16>().map_or(true, |n| n == 0) {
            return None;
        }
    }
    if scheme == "http" && !is_loopback_host(&host) {
        return None;
    }
    let path = path.trim_end_matches('/');
    if path.contains("//") {
        return None;
    }
    let resource = match port {
        Some(p) => format!("{host}:{p}{path}"),
        None => format!("{host}{path}"),
    };
    Some((scheme, resource))
}

fn oidc_key(account: &str, resource: &str) -> String {
    // The host part is already lower case; paths are case-sensitive.
    format!("{account}/{resource}")
}

/// The OIDC provider of `account` whose issuer is `issuer_url` (the token's `iss`, with its
/// scheme), for `AssumeRoleWithWebIdentity`. `None` when none is registered (or the scheme
/// differs from the registered one).
pub fn find_oidc_provider(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
    issuer_url: &str,
) -> Result<Option<OidcProvider>, StoreError> {
    let Some((scheme, resource)) = normalize_issuer(issuer_url) else {
        return Ok(None);
    };
    let found: Option<OidcProvider> = model::load(r, OIDC_PROVIDER, &oidc_key(account, &resource))?;
    Ok(found.filter(|p| p.url.starts_with(&format!("{scheme}://"))))
}

/// The OIDC provider named by its ARN, if it exists.
pub fn oidc_provider_by_arn(r: &(impl ReadTxn + ?Sized), arn: &str) -> Result<Option<OidcProvider>, StoreError> {
    match split_iam_arn(arn, "oidc-provider/") {
        Some((account, resource)) if !resource.is_empty() => {
            let resource = match resource.split_once('/') {
                Some((host, path)) => format!("{}/{path}", host.to_ascii_lowercase()),
                None => resource.to_ascii_lowercase(),
            };
            model::load(r, OIDC_PROVIDER, &oidc_key(account, &resource))
        }
        _ => Ok(None),
    }
}

/// The SAML provider named by its ARN (`arn:aws:iam::<acct>:saml-provider/<name>`), if it
/// exists, for `AssumeRoleWithSAML` (its metadata holds the IdP's signing certificates).
pub fn find_saml_provider(r: &(impl ReadTxn + ?Sized), arn: &str) -> Result<Option<SamlProvider>, StoreError> {
    match split_iam_arn(arn, "saml-provider/") {
        Some((account, name)) if !name.is_empty() && !name.contains('/') => {
            model::load(r, SAML_PROVIDER, &model::name_key(account, name))
        }
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// OpenID Connect operations.

fn no_such_oidc(arn: &str) -> AwsError {
    no_such_entity(format!("OpenIDConnect Provider not found for arn {arn}"))
}

fn client_id_checks(checks: &mut Checks, field: &str, id: &str) {
    checks.length(field, id, 1, 255);
}

fn thumbprints_param(params: &QueryParams) -> Result<Vec<String>, AwsError> {
    let list = params.list("ThumbprintList");
    let mut checks = Checks::new();
    for (i, t) in list.iter().enumerate() {
        checks.length(&format!("thumbprintList.{}.member", i + 1), t, 40, 40);
    }
    checks.finish()?;
    if list.len() > THUMBPRINTS_PER_PROVIDER {
        return Err(invalid_input(format!(
            "Thumbprint list must contain fewer than {} entries.",
            THUMBPRINTS_PER_PROVIDER + 1
        )));
    }
    let mut out: Vec<String> = Vec::new();
    for t in list {
        if !out.iter().any(|x| x.eq_ignore_ascii_case(t)) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// Load a provider of the caller's account by ARN and authorize `action` on it.
pub(crate) fn oidc_for(
    services: &Services,
    call: &Call,
    arn: &str,
    action: &str,
    context: Vec<(String, Vec<String>)>,
) -> Result<OidcProvider, AwsError> {
    let provider = read(services, |r| oidc_provider_by_arn(r, arn).ise())?.filter(|p| p.account == call.caller.account);
    match provider {
        Some(p) => {
            authorize_with(services, call, action, &p.arn(), &p.tags, context)?;
            Ok(p)
        }
        None => {
            services.authorize_request(call, &AuthzRequest { action, resource: arn, context, ..Default::default() })?;
            Err(no_such_oidc(arn))
        }
    }
}

/// Re-read `provider`, apply `f`, save it: one transaction.
fn update_oidc(
    services: &Services,
    provider: &OidcProvider,
    f: impl FnOnce(&mut OidcProvider) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let key = oidc_key(&provider.account, provider.resource());
    write(services, |txn| {
        let mut p: OidcProvider =
            model::load(txn, OIDC_PROVIDER, &key).ise()?.ok_or_else(|| no_such_oidc(&provider.arn()))?;
        f(&mut p)?;
        model::save(txn, OIDC_PROVIDER, &key, &p).ise()
    })
}

/// `CreateOpenIDConnectProvider`.
pub fn create_oidc_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let url = params.required("Url")?;
    let mut checks = Checks::new();
    checks.length("url", url, 1, 255);
    let client_ids = params.list("ClientIDList");
    for (i, id) in client_ids.iter().enumerate() {
        client_id_checks(&mut checks, &format!("clientIDList.{}.member", i + 1), id);
    }
    checks.finish()?;
    let thumbprints = thumbprints_param(params)?;
    let tags = parse_tags(params)?;
    let propagation = crate::iam::oidc_context::from_create(params)?;
    let (scheme, resource) =
        normalize_issuer(url).ok_or_else(|| invalid_input("Invalid Open ID Connect Provider URL"))?;
    let mut ids: Vec<String> = Vec::new();
    for id in client_ids {
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
    }
    if ids.len() > CLIENT_IDS_PER_PROVIDER {
        return Err(limit_exceeded(format!(
            "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_PER_PROVIDER}"
        )));
    }
    let account = call.caller.account.clone();
    let provider = OidcProvider {
        account: account.clone(),
        url: format!("{scheme}://{resource}"),
        created: call.now_secs(),
        client_ids: ids,
        thumbprints,
        tags: tags.clone(),
    };
    let arn = provider.arn();
    authorize_with(services, call, "iam:CreateOpenIDConnectProvider", &arn, &[], request_tag_context(&tags))?;
    write(services, |txn| {
        let key = oidc_key(&account, &resource);
        if txn.get(OIDC_PROVIDER, &key).ise()?.is_some() {
            return Err(already_exists(format!("Provider with url {url} already exists.")));
        }
        if txn.count(OIDC_PROVIDER, &format!("{account}/")).ise()? >= OIDC_PROVIDERS_PER_ACCOUNT {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for OpenIdConnectProvidersPerAccount: {OIDC_PROVIDERS_PER_ACCOUNT}"
            )));
        }
        crate::iam::oidc_context::save(txn, &arn, &propagation)?;
        model::save(txn, OIDC_PROVIDER, &key, &provider).ise()
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("OpenIDConnectProviderArn", &arn);
    if !tags.is_empty() {
        write_tags(&mut w, &tags);
    }
    respond(call, Some(w.finish()))
}

/// `GetOpenIDConnectProvider`.
pub fn get_oidc_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    let p = oidc_for(services, call, arn, "iam:GetOpenIDConnectProvider", Vec::new())?;
    let mut w = XmlWriter::fragment();
    w.elem("Url", p.resource());
    w.open("ClientIDList", None);
    for id in &p.client_ids {
        w.elem("member", id);
    }
    w.close();
    w.open("ThumbprintList", None);
    for t in &p.thumbprints {
        w.elem("member", t);
    }
    w.close();
    w.elem("CreateDate", &iso8601(p.created));
    write_tags(&mut w, &p.tags);
    let propagation = read(services, |r| crate::iam::oidc_context::load(r, &p.arn()))?;
    crate::iam::oidc_context::write(&mut w, &propagation);
    respond(call, Some(w.finish()))
}

/// `ListOpenIDConnectProviders`.
pub fn list_oidc_providers(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    services.authorize(call, "iam:ListOpenIDConnectProviders", "*")?;
    let account = call.caller.account.as_str();
    let providers = read(services, |r| {
        let rows = r.scan(OIDC_PROVIDER, &format!("{account}/"), None, usize::MAX).ise()?;
        model::decode_rows::<OidcProvider>(OIDC_PROVIDER, rows).ise()
    })?;
    let mut w = XmlWriter::fragment();
    w.open("OpenIDConnectProviderList", None);
    for (_, p) in &providers {
        w.open("member", None).elem("Arn", &p.arn()).close();
    }
    w.close();
    respond(call, Some(w.finish()))
}

/// `DeleteOpenIDConnectProvider`: idempotent, as on AWS (no error for a provider that does not exist).
pub fn delete_oidc_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    match oidc_for(services, call, arn, "iam:DeleteOpenIDConnectProvider", Vec::new()) {
        Ok(p) => {
            write(services, |txn| {
                crate::iam::oidc_context::save(txn, &p.arn(), &Default::default())?;
                txn.delete(OIDC_PROVIDER, &oidc_key(&p.account, p.resource())).ise().map(|_| ())
            })?;
        }
        Err(e) if e.code == "NoSuchEntity" => {}
        Err(e) => return Err(e),
    }
    respond(call, None)
}

fn client_id_param(params: &QueryParams) -> Result<&str, AwsError> {
    let id = params.required("ClientID")?;
    let mut checks = Checks::new();
    client_id_checks(&mut checks, "clientID", id);
    checks.finish()?;
    Ok(id)
}

/// `AddClientIDToOpenIDConnectProvider`: no change when the id is already there.
pub fn add_client_id(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    let id = client_id_param(params)?;
    let p = oidc_for(services, call, arn, "iam:AddClientIDToOpenIDConnectProvider", Vec::new())?;
    update_oidc(services, &p, |p| {
        if p.client_ids.iter().any(|x| x == id) {
            return Ok(());
        }
        if p.client_ids.len() >= CLIENT_IDS_PER_PROVIDER {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_PER_PROVIDER}"
            )));
        }
        p.client_ids.push(id.to_string());
        Ok(())
    })?;
    respond(call, None)
}

/// `RemoveClientIDFromOpenIDConnectProvider`: no error when the id is not there.
pub fn remove_client_id(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    let id = client_id_param(params)?;
    let p = oidc_for(services, call, arn, "iam:RemoveClientIDFromOpenIDConnectProvider", Vec::new())?;
    update_oidc(services, &p, |p| {
        p.client_ids.retain(|x| x != id);
        Ok(())
    })?;
    respond(call, None)
}

/// `UpdateOpenIDConnectProviderThumbprint`: replace the thumbprint list.
pub fn update_thumbprint(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    if !params.has_list("ThumbprintList") {
        return Err(tessera_wire::query::null_member("ThumbprintList"));
    }
    let thumbprints = thumbprints_param(params)?;
    let p = oidc_for(services, call, arn, "iam:UpdateOpenIDConnectProviderThumbprint", Vec::new())?;
    update_oidc(services, &p, |p| {
        p.thumbprints = thumbprints;
        Ok(())
    })?;
    respond(call, None)
}

/// `TagOpenIDConnectProvider`.
pub fn tag_oidc_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    if !params.has_list("Tags") {
        return Err(tessera_wire::query::null_member("Tags"));
    }
    let tags = parse_tags(params)?;
    let p = oidc_for(services, call, arn, "iam:TagOpenIDConnectProvider", request_tag_context(&tags))?;
    update_oidc(services, &p, |p| merge_tags(&mut p.tags, tags))?;
    respond(call, None)
}

/// `UntagOpenIDConnectProvider`.
pub fn untag_oidc_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    let keys = parse_tag_keys(params)?;
    let ctx = vec![("aws:TagKeys".to_string(), keys.clone())];
    let p = oidc_for(services, call, arn, "iam:UntagOpenIDConnectProvider", ctx)?;
    update_oidc(services, &p, |p| {
        remove_tags(&mut p.tags, &keys);
        Ok(())
    })?;
    respond(call, None)
}

/// `ListOpenIDConnectProviderTags`.
pub fn list_oidc_provider_tags(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "OpenIDConnectProviderArn")?;
    Page::from_params(params)?;
    let p = oidc_for(services, call, arn, "iam:ListOpenIDConnectProviderTags", Vec::new())?;
    respond(call, Some(tags_page(params, &p.tags)?))
}

// ---------------------------------------------------------------------------------------------
// SAML operations.

fn no_such_saml(arn: &str) -> AwsError {
    no_such_entity(format!("Manifest not found for arn {arn}"))
}

/// `validUntil` of the metadata's root element, if present and parseable.
fn metadata_valid_until(metadata: &str) -> Option<i64> {
    let i = metadata.find("validUntil=")?;
    let rest = &metadata[i + "validUntil=".len()..];
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = rest[1..].split(quote).next()?;
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

/// Check of an IdP metadata document as `AssumeRoleWithSAML` will read it: well-formed XML
/// without a DTD, an `EntityDescriptor` with an `entityID` and an `IDPSSODescriptor` carrying
/// at least one signing certificate (base64).
fn check_metadata(metadata: &str) -> Result<(), AwsError> {
    crate::saml_xml::idp_metadata(metadata).map(|_| ()).map_err(|_| invalid_input("Could not parse metadata"))
}

fn metadata_param(params: &QueryParams, required: bool) -> Result<Option<&str>, AwsError> {
    let doc =
        if required { Some(params.required("SAMLMetadataDocument")?) } else { params.get("SAMLMetadataDocument") };
    if let Some(d) = doc {
        let n = d.chars().count();
        if !(1000..=10_000_000).contains(&n) {
            let c = if n < 1000 {
                "have length greater than or equal to 1000"
            } else {
                "have length less than or equal to 10000000"
            };
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value at 'sAMLMetadataDocument' failed to satisfy constraint: Member must {c}"
            )));
        }
        check_metadata(d)?;
    }
    Ok(doc)
}

fn encryption_mode_param(params: &QueryParams) -> Result<Option<&str>, AwsError> {
    match params.get("AssertionEncryptionMode") {
        None => Ok(None),
        Some(m @ ("Required" | "Allowed")) => Ok(Some(m)),
        Some(m) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{m}' at 'assertionEncryptionMode' failed to satisfy constraint: Member must satisfy enum value set: [Required, Allowed]"
        ))),
    }
}

fn private_key_param<'a>(params: &'a QueryParams, name: &str) -> Result<Option<&'a str>, AwsError> {
    let Some(pem) = params.get(name) else {
        return Ok(None);
    };
    let n = pem.chars().count();
    if !(1..=16384).contains(&n) || !crate::validate::is_policy_document_text(pem) {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to 16384",
            super::lower_first(name)
        )));
    }
    if parse_saml_private_key(pem).is_none() {
        return Err(invalid_input("The private key is not a valid PEM-encoded private key."));
    }
    Ok(Some(pem))
}

/// A SAML provider's private key from its PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE
/// KEY`); `None` when it is not an RSA private key (encrypted assertions carry their content key
/// under RSA-OAEP: see `sts::saml_decrypt`).
pub fn parse_saml_private_key(pem: &str) -> Option<rsa::RsaPrivateKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let pem = pem.trim();
    rsa::RsaPrivateKey::from_pkcs8_pem(pem).ok().or_else(|| rsa::RsaPrivateKey::from_pkcs1_pem(pem).ok())
}

/// The sealing context of a SAML provider's private key.
pub fn saml_key_context(account: &str, name: &str, key_id: &str) -> String {
    format!("saml-key/{account}/{}/{key_id}", name.to_ascii_lowercase())
}

fn new_key_id() -> String {
    ids::lower_alnum(26).to_ascii_uppercase()
}

/// Load a SAML provider of the caller's account by ARN and authorize `action` on it.
fn saml_for(
    services: &Services,
    call: &Call,
    arn: &str,
    action: &str,
    context: Vec<(String, Vec<String>)>,
) -> Result<SamlProvider, AwsError> {
    let provider = read(services, |r| find_saml_provider(r, arn).ise())?.filter(|p| p.account == call.caller.account);
    match provider {
        Some(p) => {
            authorize_with(services, call, action, &p.arn(), &p.tags, context)?;
            Ok(p)
        }
        None => {
            services.authorize_request(call, &AuthzRequest { action, resource: arn, context, ..Default::default() })?;
            Err(no_such_saml(arn))
        }
    }
}

fn update_saml(
    services: &Services,
    provider: &SamlProvider,
    f: impl FnOnce(&mut SamlProvider) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let key = model::name_key(&provider.account, &provider.name);
    write(services, |txn| {
        let mut p: SamlProvider =
            model::load(txn, SAML_PROVIDER, &key).ise()?.ok_or_else(|| no_such_saml(&provider.arn()))?;
        f(&mut p)?;
        model::save(txn, SAML_PROVIDER, &key, &p).ise()
    })
}

fn required_key_check(p: &SamlProvider) -> Result<(), AwsError> {
    if p.assertion_encryption_mode.as_deref() == Some("Required") && p.private_keys.is_empty() {
        return Err(invalid_input("AssertionEncryptionMode Required needs at least one private key."));
    }
    Ok(())
}

/// `CreateSAMLProvider`.
pub fn create_saml_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let name = params.required("Name")?;
    Checks::new()
        .length("name", name, 1, 128)
        .pattern("name", name, r"[\w._-]+", |s| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        })
        .finish()?;
    let metadata = metadata_param(params, true)?.unwrap_or_default();
    let mode = encryption_mode_param(params)?;
    let pem = private_key_param(params, "AddPrivateKey")?;
    let tags = parse_tags(params)?;
    let account = call.caller.account.clone();
    let now = call.now_secs();
    let mut provider = SamlProvider {
        account: account.clone(),
        name: name.to_string(),
        metadata: metadata.to_string(),
        created: now,
        valid_until: metadata_valid_until(metadata).unwrap_or(now + 100 * 365 * 86_400),
        uuid: new_key_id(),
        tags: tags.clone(),
        assertion_encryption_mode: mode.map(str::to_string),
        private_keys: Vec::new(),
    };
    if let Some(pem) = pem {
        let key_id = new_key_id();
        let sealed = services.secrets.seal(&saml_key_context(&account, name, &key_id), pem.as_bytes());
        provider.private_keys.push(SamlPrivateKey { key_id, sealed, timestamp: now });
    }
    required_key_check(&provider)?;
    let arn = provider.arn();
    authorize_with(services, call, "iam:CreateSAMLProvider", &arn, &[], request_tag_context(&tags))?;
    write(services, |txn| {
        let key = model::name_key(&account, name);
        if txn.get(SAML_PROVIDER, &key).ise()?.is_some() {
            return Err(already_exists(format!("SAMLProvider {name} already exists")));
        }
        if txn.count(SAML_PROVIDER, &format!("{account}/")).ise()? >= SAML_PROVIDERS_PER_ACCOUNT {
            return Err(limit_exceeded(format!(
                "Cannot exceed quota for SamlProvidersPerAccount: {SAML_PROVIDERS_PER_ACCOUNT}"
            )));
        }
        model::save(txn, SAML_PROVIDER, &key, &provider).ise()
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("SAMLProviderArn", &arn);
    if !tags.is_empty() {
        write_tags(&mut w, &tags);
    }
    respond(call, Some(w.finish()))
}

/// `GetSAMLProvider`.
pub fn get_saml_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "SAMLProviderArn")?;
    let p = saml_for(services, call, arn, "iam:GetSAMLProvider", Vec::new())?;
    let mut w = XmlWriter::fragment();
    w.elem("SAMLProviderUUID", &p.uuid)
        .elem("SAMLMetadataDocument", &p.metadata)
        .elem("CreateDate", &iso8601(p.created))
        .elem("ValidUntil", &iso8601(p.valid_until));
    write_tags(&mut w, &p.tags);
    w.opt("AssertionEncryptionMode", p.assertion_encryption_mode.as_deref());
    if !p.private_keys.is_empty() {
        w.open("PrivateKeyList", None);
        for k in &p.private_keys {
            w.open("member", None).elem("KeyId", &k.key_id).elem("Timestamp", &iso8601(k.timestamp)).close();
        }
        w.close();
    }
    respond(call, Some(w.finish()))
}

/// `UpdateSAMLProvider`: new metadata, encryption mode, private keys.
pub fn update_saml_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "SAMLProviderArn")?;
    let metadata = metadata_param(params, false)?;
    let mode = encryption_mode_param(params)?;
    let add = private_key_param(params, "AddPrivateKey")?;
    let remove = params.get("RemovePrivateKey");
    if let Some(r) = remove {
        Checks::new()
            .length("removePrivateKey", r, 22, 64)
            .pattern("removePrivateKey", r, "[A-Z0-9]+", |s| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            })
            .finish()?;
    }
    let p = saml_for(services, call, arn, "iam:UpdateSAMLProvider", Vec::new())?;
    let now = call.now_secs();
    let sealed_new = add.map(|pem| {
        let key_id = new_key_id();
        let sealed = services.secrets.seal(&saml_key_context(&p.account, &p.name, &key_id), pem.as_bytes());
        SamlPrivateKey { key_id, sealed, timestamp: now }
    });
    update_saml(services, &p, |p| {
        if let Some(m) = metadata {
            p.metadata = m.to_string();
            if let Some(v) = metadata_valid_until(m) {
                p.valid_until = v;
            }
        }
        if let Some(m) = mode {
            p.assertion_encryption_mode = Some(m.to_string());
        }
        if let Some(id) = remove {
            let before = p.private_keys.len();
            p.private_keys.retain(|k| k.key_id != id);
            if p.private_keys.len() == before {
                return Err(invalid_input(format!("The private key {id} does not exist.")));
            }
        }
        if let Some(k) = sealed_new {
            if p.private_keys.len() >= SAML_PRIVATE_KEYS {
                return Err(limit_exceeded(format!(
                    "Cannot exceed quota for PrivateKeysPerSamlProvider: {SAML_PRIVATE_KEYS}"
                )));
            }
            p.private_keys.push(k);
        }
        required_key_check(p)
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("SAMLProviderArn", &p.arn());
    respond(call, Some(w.finish()))
}

/// `DeleteSAMLProvider`.
pub fn delete_saml_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "SAMLProviderArn")?;
    let p = saml_for(services, call, arn, "iam:DeleteSAMLProvider", Vec::new())?;
    write(services, |txn| {
        if txn.delete(SAML_PROVIDER, &model::name_key(&p.account, &p.name)).ise()? {
            Ok(())
        } else {
            Err(no_such_saml(arn))
        }
    })?;
    respond(call, None)
}

/// `ListSAMLProviders`.
pub fn list_saml_providers(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    services.authorize(call, "iam:ListSAMLProviders", "*")?;
    let account = call.caller.account.as_str();
    let providers = read(services, |r| {
        let rows = r.scan(SAML_PROVIDER, &format!("{account}/"), None, usize::MAX).ise()?;
        model::decode_rows::<SamlProvider>(SAML_PROVIDER, rows).ise()
    })?;
    let mut w = XmlWriter::fragment();
    w.open("SAMLProviderList", None);
    for (_, p) in &providers {
        w.open("member", None)
            .elem("Arn", &p.arn())
            .elem("ValidUntil", &iso8601(p.valid_until))
            .elem("CreateDate", &iso8601(p.created))
            .close();
    }
    w.close();
    respond(call, Some(w.finish()))
}

/// `TagSAMLProvider`.
pub fn tag_saml_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "SAMLProviderArn")?;
    if !params.has_list("Tags") {
        return Err(tessera_wire::query::null_member("Tags"));
    }
    let tags = parse_tags(params)?;
    let p = saml_for(services, call, arn, "iam:TagSAMLProvider", request_tag_context(&tags))?;
    update_saml(services, &p, |p| merge_tags(&mut p.tags, tags))?;
    respond(call, None)
}

/// `UntagSAMLProvider`.
pub fn untag_saml_provider(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "SAMLProviderArn")?;
    let keys = parse_tag_keys(params)?;
    let ctx = vec![("aws:TagKeys".to_string(), keys.clone())];
    let p = saml_for(services, call, arn, "iam:UntagSAMLProvider", ctx)?;
    update_saml(services, &p, |p| {
        remove_tags(&mut p.tags, &keys);
        Ok(())
    })?;
    respond(call, None)
}

/// `ListSAMLProviderTags`.
pub fn list_saml_provider_tags(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "SAMLProviderArn")?;
    Page::from_params(params)?;
    let p = saml_for(services, call, arn, "iam:ListSAMLProviderTags", Vec::new())?;
    respond(call, Some(tags_page(params, &p.tags)?))
}

/// Identity providers of an account (OIDC + SAML), for `GetAccountSummary`'s `Providers`.
pub(crate) fn count_providers(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<u64, StoreError> {
    Ok(r.count(OIDC_PROVIDER, &format!("{account}/"))? + r.count(SAML_PROVIDER, &format!("{account}/"))?)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn run(services: &Services, call: &Call, p: &[(&str, &str)]) -> Result<String, AwsError> {
        let r = super::super::handle(services, call, &params(p)).expect("handled")?;
        Ok(body(&r))
    }

    #[test]
    fn issuer_urls_follow_the_contract() {
        assert_eq!(normalize_issuer("https://Token.Example.com/"), Some(("https", "token.example.com".to_string())));
        assert_eq!(
            normalize_issuer("https://example.com/tenant/Path"),
            Some(("https", "example.com/tenant/Path".to_string()))
        );
        assert_eq!(normalize_issuer("http://127.0.0.1:8080/x"), Some(("http", "127.0.0.1:8080/x".to_string())));
        assert_eq!(normalize_issuer("http://localhost:9000"), Some(("http", "localhost:9000".to_string())));
        assert_eq!(normalize_issuer("http://[::1]:9000/a"), Some(("http", "[::1]:9000/a".to_string())));
        assert_eq!(normalize_issuer("http://127.1.2.3"), Some(("http", "127.1.2.3".to_string())));
        for bad in [
            "http://example.com",
            "http://128.0.0.1",
            "http://127.0.0.1.example.com",
            "ftp://example.com",
            "example.com",
            "https://",
            "https://example.com?x=1",
            "https://example.com/#f",
            "https://user@example.com",
            "https://example.com:0",
            "https://example.com:99999",
            "https://exa mple.com",
        ] {
            assert_eq!(normalize_issuer(bad), None, "{bad}");
        }
    }

    #[test]
    fn oidc_lifecycle() {
        let s = services_at(1_700_000_000);
        let c = |op| root_call(op, 1_700_000_000);
        let thumb = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
        let created = run(
            &s,
            &c("CreateOpenIDConnectProvider"),
            &[
                ("Url", "https://token.actions.example.com"),
                ("ClientIDList.member.1", "sts.amazonaws.com"),
                ("ThumbprintList.member.1", thumb),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "ci"),
            ],
        )
        .unwrap();
        let arn = elem(&created, "OpenIDConnectProviderArn").unwrap();
        assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.example.com"));
        let e =
            run(&s, &c("CreateOpenIDConnectProvider"), &[("Url", "https://token.actions.example.com/")]).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("EntityAlreadyExists", 409));
        let e = run(&s, &c("CreateOpenIDConnectProvider"), &[("Url", "http://example.org")]).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidInput", "Invalid Open ID Connect Provider URL"));
        let e = run(
            &s,
            &c("CreateOpenIDConnectProvider"),
            &[("Url", "https://a.example"), ("ThumbprintList.member.1", "ab")],
        )
        .unwrap_err();
        assert_eq!(e.code, "ValidationError");

        let got = run(&s, &c("GetOpenIDConnectProvider"), &[("OpenIDConnectProviderArn", &arn)]).unwrap();
        assert_eq!(elem(&got, "Url").as_deref(), Some("token.actions.example.com"));
        assert!(got.contains("<ClientIDList><member>sts.amazonaws.com</member></ClientIDList>"));
        run(&s, &c("AddClientIDToOpenIDConnectProvider"), &[("OpenIDConnectProviderArn", &arn), ("ClientID", "app")])
            .unwrap();
        run(&s, &c("AddClientIDToOpenIDConnectProvider"), &[("OpenIDConnectProviderArn", &arn), ("ClientID", "app")])
            .unwrap();
        run(
            &s,
            &c("RemoveClientIDFromOpenIDConnectProvider"),
            &[("OpenIDConnectProviderArn", &arn), ("ClientID", "sts.amazonaws.com")],
        )
        .unwrap();
        run(
            &s,
            &c("UpdateOpenIDConnectProviderThumbprint"),
            &[("OpenIDConnectProviderArn", &arn), ("ThumbprintList.member.1", &"a".repeat(40))],
        )
        .unwrap();
        let got = run(&s, &c("GetOpenIDConnectProvider"), &[("OpenIDConnectProviderArn", &arn)]).unwrap();
        assert!(got.contains("<ClientIDList><member>app</member></ClientIDList>"), "{got}");
        assert!(got.contains(&"a".repeat(40)) && !got.contains(thumb));

        let found = find_oidc_provider(s.store.read().unwrap().as_ref(), ACCOUNT, "https://token.actions.example.com")
            .unwrap()
            .unwrap();
        assert_eq!(found.arn(), arn);
        assert!(find_oidc_provider(s.store.read().unwrap().as_ref(), ACCOUNT, "http://token.actions.example.com")
            .unwrap()
            .is_none());

        let list = run(&s, &c("ListOpenIDConnectProviders"), &[]).unwrap();
        assert!(list.contains(&arn));
        run(&s, &c("DeleteOpenIDConnectProvider"), &[("OpenIDConnectProviderArn", &arn)]).unwrap();
        run(&s, &c("DeleteOpenIDConnectProvider"), &[("OpenIDConnectProviderArn", &arn)]).unwrap();
        let e = run(&s, &c("GetOpenIDConnectProvider"), &[("OpenIDConnectProviderArn", &arn)]).unwrap_err();
        assert_eq!(e.message, format!("OpenIDConnect Provider not found for arn {arn}"));
    }

    fn metadata() -> String {
        let cert = "MIIC".to_string() + &"A".repeat(1200);
        format!(
            r#"<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com" validUntil="2030-01-01T00:00:00Z"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.com/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    #[test]
    fn saml_lifecycle() {
        let s = services_at(1_700_000_000);
        let c = |op| root_call(op, 1_700_000_000);
        let md = metadata();
        let created = run(&s, &c("CreateSAMLProvider"), &[("Name", "okta"), ("SAMLMetadataDocument", &md)]).unwrap();
        let arn = elem(&created, "SAMLProviderArn").unwrap();
        assert_eq!(arn, format!("arn:aws:iam::{ACCOUNT}:saml-provider/okta"));
        let e = run(&s, &c("CreateSAMLProvider"), &[("Name", "okta"), ("SAMLMetadataDocument", &md)]).unwrap_err();
        assert_eq!(e.code, "EntityAlreadyExists");
        let e = run(&s, &c("CreateSAMLProvider"), &[("Name", "x"), ("SAMLMetadataDocument", &"x".repeat(1000))])
            .unwrap_err();
        assert_eq!(e.code, "InvalidInput");
        let e = run(&s, &c("CreateSAMLProvider"), &[("Name", "x"), ("SAMLMetadataDocument", "<a/>")]).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let got = run(&s, &c("GetSAMLProvider"), &[("SAMLProviderArn", &arn)]).unwrap();
        assert_eq!(elem(&got, "ValidUntil").as_deref(), Some("2030-01-01T00:00:00Z"));
        assert!(got.contains("IDPSSODescriptor"));
        let fake = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
        let e = run(&s, &c("UpdateSAMLProvider"), &[("SAMLProviderArn", &arn), ("AddPrivateKey", fake)]).unwrap_err();
        assert_eq!(e.code, "InvalidInput", "not an RSA private key");
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let pem = rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(&key, rsa::pkcs8::LineEnding::LF).unwrap();
        let body = pem.lines().nth(1).unwrap().to_string();
        let pem = pem.as_str();
        run(
            &s,
            &c("UpdateSAMLProvider"),
            &[("SAMLProviderArn", &arn), ("AddPrivateKey", pem), ("AssertionEncryptionMode", "Required")],
        )
        .unwrap();
        let got = run(&s, &c("GetSAMLProvider"), &[("SAMLProviderArn", &arn)]).unwrap();
        assert!(!got.contains(&body));
        let key_id = elem(&got, "KeyId").unwrap();
        let e =
            run(&s, &c("UpdateSAMLProvider"), &[("SAMLProviderArn", &arn), ("RemovePrivateKey", &key_id)]).unwrap_err();
        assert_eq!(e.code, "InvalidInput", "Required needs a key");
        let stored = find_saml_provider(s.store.read().unwrap().as_ref(), &arn).unwrap().unwrap();
        assert_eq!(stored.private_keys.len(), 1);
        assert!(!stored.private_keys[0].sealed.contains(&body));
        let list = run(&s, &c("ListSAMLProviders"), &[]).unwrap();
        assert!(list.contains(&arn));
        run(&s, &c("DeleteSAMLProvider"), &[("SAMLProviderArn", &arn)]).unwrap();
        let e = run(&s, &c("DeleteSAMLProvider"), &[("SAMLProviderArn", &arn)]).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("NoSuchEntity", format!("Manifest not found for arn {arn}").as_str())
        );
    }
}
