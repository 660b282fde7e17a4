//! `AssumeRoleWithSAML` (see `docs/SAML.md`).
//!
//! The call is unsigned: the IdP's signed SAML response is the only credential. The signature is
//! verified by libxmlsec1 against the signing certificates of the SAML provider's metadata;
//! everything else is read from the signed content only ([`saml_xml`]). The role's trust policy
//! (and the role account's RCPs) then decide, for the principal `Federated: <provider ARN>` with
//! the `saml:` condition keys, through the same path as `AssumeRoleWithWebIdentity`.

use tessera_policy::{Principal, PrincipalKind};
use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::federated_role::{self, FederatedSession};
use super::oidc::invalid_identity_token;
use super::params::{self, Check};
use super::saml_decrypt;
use super::saml_xml::{self, Assertion};
use super::write_credentials;
use crate::iam::credentials::providers::{self, SamlProvider};
use crate::model::Tag;
use crate::{internal, Call, Services};

/// Table of assertion ids already exchanged: `id/<sha256(issuer, id)>` holds the time the
/// record may be forgotten; `exp/<time, 20 digits>/<hash>` indexes the records by that time.
pub const USED_ASSERTION: &str = "sts_saml_used_assertion";
/// Most expired replay records removed per call.
const PRUNE_PER_CALL: usize = 20;

/// The validated request.
struct Request<'a> {
    role_arn: &'a str,
    principal_arn: &'a str,
    assertion: &'a str,
    duration: Option<i64>,
    inputs: params::SessionInputs,
}

fn read_request(p: &QueryParams) -> Result<Request<'_>, AwsError> {
    let role_arn = p.required("RoleArn")?;
    let principal_arn = p.required("PrincipalArn")?;
    let assertion = p.required("SAMLAssertion")?;
    let mut check = Check::default();
    for (field, arn) in [("roleArn", role_arn), ("principalArn", principal_arn)] {
        check.length(field, arn, 20, 2048).pattern(field, arn, params::ARN_PATTERN, params::is_arn_text(arn));
    }
    check.secret_length("sAMLAssertion", assertion, 4, 100_000);
    let (duration, inputs) = federated_role::session_params(p, &mut check)?;
    check.finish()?;
    Ok(Request { role_arn, principal_arn, assertion, duration, inputs })
}

/// The provider named by `PrincipalArn`.
fn load_provider(services: &Services, arn: &str) -> Result<SamlProvider, AwsError> {
    let r = services.store.read().map_err(internal)?;
    providers::find_saml_provider(r.as_ref(), arn)
        .map_err(internal)?
        .ok_or_else(|| invalid_identity_token("Specified provider doesn't exist"))
}

/// The provider's private keys (`AddPrivateKey`), unsealed, for encrypted assertions. A key
/// that is not an RSA private key decrypts nothing and is skipped.
fn private_keys(services: &Services, provider: &SamlProvider) -> Result<Vec<rsa::RsaPrivateKey>, AwsError> {
    let mut keys = Vec::new();
    for k in &provider.private_keys {
        let context = providers::saml_key_context(&provider.account, &provider.name, &k.key_id);
        let pem = services.secrets.open(&context, &k.sealed).map_err(internal)?;
        if let Some(key) = std::str::from_utf8(&pem).ok().and_then(providers::parse_saml_private_key) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Verify the response and return its signed assertion (envelope status, then signature and
/// decryption, then the assertion's own checks). Returns the assertion and its bearer
/// `Recipient`.
pub fn verified_assertion(
    services: &Services,
    provider: &SamlProvider,
    encoded: &str,
    now: i64,
) -> Result<(Assertion, String), AwsError> {
    let xml = saml_xml::decode_response(encoded)?;
    let envelope = saml_xml::envelope(&xml)?;
    if !envelope.encrypted && provider.assertion_encryption_mode.as_deref() == Some("Required") {
        return Err(invalid_identity_token(
            "The SAML provider requires encrypted assertions (AssertionEncryptionMode Required) and this one is not \
             encrypted",
        ));
    }
    if let Some(status) = envelope.status.as_deref().filter(|s| *s != saml_xml::STATUS_SUCCESS) {
        return Err(saml_xml::idp_rejected_claim(format!(
            "The identity provider did not authenticate the user (StatusCode {status})"
        )));
    }
    let meta = saml_xml::idp_metadata(&provider.metadata)?;
    let assertion = if envelope.encrypted {
        saml_decrypt::encrypted_assertion(&xml, &meta.certificates, &private_keys(services, provider)?)?
    } else {
        if !envelope.signed {
            return Err(invalid_identity_token(saml_xml::SIGNATURE_INVALID));
        }
        saml_xml::signed_assertion(&saml_xml::verify_signature(&xml, &meta.certificates)?)?
    };
    let recipient = saml_xml::check_assertion(&assertion, &meta, &provider.uuid, now)?;
    Ok((assertion, recipient))
}

/// Most providers a console sign-in verifies one response against.
const MAX_CONSOLE_PROVIDERS: usize = 5;

/// For console sign-in from an IdP-initiated POST: the `(role ARN, provider ARN)` pairs a SAML
/// response offers, read from its assertion as verified against the provider the pairs name
/// (the assertion is not spent: the chosen role is then assumed with `AssumeRoleWithSAML`), and
/// the console session length its `SessionDuration` attribute asks for (900-43,200 s, default
/// 3,600).
pub fn console_offer(services: &Services, encoded: &str, now: i64) -> Result<(Vec<(String, String)>, i64), AwsError> {
    let xml = saml_xml::decode_response(encoded)?;
    let mut error = invalid_identity_token("The SAML response names no SAML provider in its Role attribute.");
    for provider_arn in saml_xml::named_providers(&xml).into_iter().take(MAX_CONSOLE_PROVIDERS) {
        let checked =
            load_provider(services, &provider_arn).and_then(|p| verified_assertion(services, &p, encoded, now));
        match checked {
            Ok((a, _)) => {
                let roles: Vec<(String, String)> =
                    saml_xml::role_pairs(&a).into_iter().filter(|(_, p)| *p == provider_arn).collect();
                let secs = match a.attribute(saml_xml::SESSION_DURATION_ATTRIBUTE).as_slice() {
                    [s] => s.trim().parse::<i64>().ok().filter(|d| (900..=43200).contains(d)),
                    _ => None,
                };
                return Ok((roles, secs.unwrap_or(3600)));
            }
            Err(e) => error = e,
        }
    }
    Err(error)
}

/// Session tags (`PrincipalTag:<key>`, one value each) and transitive keys from the assertion.
fn assertion_tags(a: &Assertion) -> Result<(Vec<Tag>, Vec<String>), AwsError> {
    let bad = || invalid_identity_token("The SAML assertion's session tag attributes are not valid.");
    let mut tags = Vec::new();
    for (name, values) in &a.attributes {
        if let Some(key) = name.strip_prefix(saml_xml::PRINCIPAL_TAG_PREFIX) {
            let [value] = values.as_slice() else {
                return Err(bad());
            };
            tags.push(Tag { key: key.to_string(), value: value.clone() });
        }
    }
    let transitive = a.attribute(saml_xml::TRANSITIVE_TAG_KEYS_ATTRIBUTE).into_iter().map(str::to_string).collect();
    federated_role::session_tags(tags, transitive, bad)
}

/// The source identity from the `SourceIdentity` attribute.
fn assertion_source_identity(a: &Assertion) -> Result<Option<String>, AwsError> {
    match a.attribute(saml_xml::SOURCE_IDENTITY_ATTRIBUTE).as_slice() {
        [] => Ok(None),
        [s] if federated_role::is_source_identity(s) => Ok(Some(s.to_string())),
        _ => Err(invalid_identity_token("The SAML assertion's SourceIdentity attribute is not valid.")),
    }
}

/// The session name from the `RoleSessionName` attribute (2-64 of `[\w+=,.@-]`).
pub fn assertion_session_name(a: &Assertion) -> Result<String, AwsError> {
    match a.attribute(saml_xml::ROLE_SESSION_NAME_ATTRIBUTE).as_slice() {
        [s] if (2..=64).contains(&s.chars().count()) && params::is_session_name(s) => Ok(s.to_string()),
        [] => Err(invalid_identity_token("RoleSessionName is required in AuthnResponse")),
        _ => Err(invalid_identity_token("The SAML assertion's RoleSessionName attribute is not valid.")),
    }
}

/// The SAML facts a session reports and its trust policy reads.
pub struct SamlIdentity {
    /// `Issuer`.
    pub issuer: String,
    /// `NameID`.
    pub subject: String,
    /// `persistent`, `transient` or the format URI.
    pub subject_type: String,
    /// `base64(sha1(issuer + account + "/" + provider name))`.
    pub name_qualifier: String,
    /// The bearer confirmation's `Recipient`.
    pub audience: String,
    /// `<account>/<provider name>`.
    pub doc: String,
}

impl SamlIdentity {
    /// From a verified assertion and its provider.
    pub fn new(a: &Assertion, recipient: String, provider: &SamlProvider) -> SamlIdentity {
        SamlIdentity {
            issuer: a.issuer.clone(),
            subject: a.name_id.clone(),
            subject_type: saml_xml::subject_type(a.name_id_format.as_deref()),
            name_qualifier: saml_xml::name_qualifier(&a.issuer, &provider.account, &provider.name),
            audience: recipient,
            doc: format!("{}/{}", provider.account, provider.name),
        }
    }

    /// The `saml:` condition keys.
    pub fn keys(&self, a: &Assertion) -> Vec<(String, Vec<String>)> {
        let mut keys: Vec<(String, Vec<String>)> = vec![
            ("saml:aud".into(), vec![self.audience.clone()]),
            ("saml:iss".into(), vec![self.issuer.clone()]),
            ("saml:sub".into(), vec![self.subject.clone()]),
            ("saml:sub_type".into(), vec![self.subject_type.clone()]),
            ("saml:namequalifier".into(), vec![self.name_qualifier.clone()]),
            ("saml:doc".into(), vec![self.doc.clone()]),
        ];
        keys.extend(saml_xml::attribute_keys(a));
        keys
    }
}

/// Remember an assertion as used until `horizon`; `Err` when it already was (and its record has
/// not expired). Also forgets a few records whose time has passed. The store is shared by
/// every node, so a replay is refused whichever node it reaches.
fn record_use(services: &Services, a: &Assertion, now: i64) -> Result<(), AwsError> {
    let hash = replay_key(a);
    let horizon = saml_xml::replay_horizon(a).max(now);
    crate::iam::credentials::write(services, |txn| {
        let id_key = format!("id/{hash}");
        if let Some(v) = txn.get(USED_ASSERTION, &id_key).map_err(internal)? {
            if record_time(&v).unwrap_or(i64::MAX) > now {
                return Err(invalid_identity_token("The SAML assertion has already been used"));
            }
        }
        let expired = txn.scan(USED_ASSERTION, "exp/", None, PRUNE_PER_CALL).map_err(internal)?;
        for (key, _) in expired {
            let mut parts = key.splitn(3, '/').skip(1);
            let (Some(t), Some(old)) = (parts.next(), parts.next()) else { continue };
            let Ok(t) = t.parse::<i64>() else { continue };
            if t > now {
                break;
            }
            txn.delete(USED_ASSERTION, &key).map_err(internal)?;
            // The id record goes only if it is this one (a reused id may have a later record).
            let old_key = format!("id/{old}");
            if txn.get(USED_ASSERTION, &old_key).map_err(internal)?.and_then(|v| record_time(&v)) == Some(t) {
                txn.delete(USED_ASSERTION, &old_key).map_err(internal)?;
            }
        }
        txn.put(USED_ASSERTION, &id_key, horizon.to_string().as_bytes()).map_err(internal)?;
        txn.put(USED_ASSERTION, &format!("exp/{horizon:020}/{hash}"), b"").map_err(internal)?;
        Ok(())
    })
}

/// The time stored in a replay record.
fn record_time(value: &[u8]) -> Option<i64> {
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The replay record's key of an assertion: hex SHA-1 of its issuer and id (ids are chosen by
/// the IdP, hence bounded and hashed; a collision would only merge two records).
fn replay_key(a: &Assertion) -> String {
    use sha1::Digest;
    let digest = sha1::Sha1::digest(format!("{}\n{}", a.issuer, a.id).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run `AssumeRoleWithSAML`.
pub fn assume_role_with_saml(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let req = read_request(p)?;
    federated_role::role_account(req.role_arn)?;
    let policy = params::check_session_inputs(&req.inputs)?;
    let now = call.now_secs();

    let provider = load_provider(services, req.principal_arn)?;
    let (assertion, recipient) = verified_assertion(services, &provider, req.assertion, now)?;
    let provider_arn = provider.arn();
    let denied = || AwsError::access_denied("Not authorized to perform sts:AssumeRoleWithSAML");
    if !saml_xml::offers_role(&assertion, req.role_arn, &provider_arn) {
        return Err(denied());
    }
    let session_name = assertion_session_name(&assertion)?;
    let (tags, transitive) = assertion_tags(&assertion)?;
    let source_identity = assertion_source_identity(&assertion)?;
    let identity = SamlIdentity::new(&assertion, recipient, &provider);

    let session = FederatedSession {
        action: "sts:AssumeRoleWithSAML",
        role_arn: req.role_arn,
        session_name: &session_name,
        principal: Principal {
            arn: provider_arn.clone(),
            account: String::new(),
            kind: PrincipalKind::Saml { provider: provider_arn.clone() },
        },
        provider_arn: provider_arn.clone(),
        provider_keys: identity.keys(&assertion),
        tags,
        transitive,
        source_identity: source_identity.clone(),
        duration: req.duration,
        expires_by: assertion.session_not_on_or_after,
        policy,
        policy_arns: req.inputs.policy_arns.clone(),
    };
    // The assertion is spent only by a call that gets credentials; a refused call leaves it
    // usable (until it expires) for a corrected request.
    let opened = federated_role::open_session(services, call, session, || record_use(services, &assertion, now))?;

    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &opened.credentials);
    federated_role::write_assumed_role_user(&mut w, &opened.role, &session_name);
    if let Some(packed) = opened.packed {
        w.elem("PackedPolicySize", &packed.to_string());
    }
    w.elem("Subject", &identity.subject)
        .elem("SubjectType", &identity.subject_type)
        .elem("Issuer", &identity.issuer)
        .elem("Audience", &identity.audience)
        .elem("NameQualifier", &identity.name_qualifier);
    w.opt("SourceIdentity", source_identity.as_deref());
    Ok(WireResponse::query(STS_XMLNS, "AssumeRoleWithSAML", Some(&w.finish()), &call.meta.request_id))
}
