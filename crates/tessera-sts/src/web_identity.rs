//! `AssumeRoleWithWebIdentity` (see `docs/WEB_IDENTITY.md`).
//!
//! The call is unsigned: the web identity token is the only credential. No identity policy is
//! consulted; the role's trust policy (and the role account's RCPs) decide, with the principal
//! `Federated: <OIDC provider ARN>` and the provider's condition keys.

use serde_json::Value;
use tessera_policy::{Principal, PrincipalKind};
use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::federated_role::{self, FederatedSession};
use super::oidc::{self, VerifiedToken};
use super::params::{self, Check};
use super::write_credentials;
use crate::model::Tag;
use crate::{Call, Services};

/// The claim AWS reads a source identity from.
pub const SOURCE_IDENTITY_CLAIM: &str = "https://aws.amazon.com/source_identity";
/// The claim AWS reads session tags from (`principal_tags`, `transitive_tag_keys`).
pub const TAGS_CLAIM: &str = "https://aws.amazon.com/tags";

/// The validated request.
struct Request<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    token: &'a str,
    duration: Option<i64>,
    inputs: params::SessionInputs,
}

fn read_request(p: &QueryParams) -> Result<Request<'_>, AwsError> {
    let role_arn = p.required("RoleArn")?;
    let session_name = p.required("RoleSessionName")?;
    let token = p.required("WebIdentityToken")?;
    let mut check = Check::default();
    params::role_and_session_name(&mut check, role_arn, session_name);
    check.secret_length("webIdentityToken", token, 4, 20000);
    if let Some(provider_id) = p.get("ProviderId") {
        check.length("providerId", provider_id, 4, 2048);
    }
    let (duration, inputs) = federated_role::session_params(p, &mut check)?;
    check.finish()?;
    if p.get("ProviderId").is_some() {
        // ProviderId names an OAuth 2.0 provider (Login with Amazon, Facebook) whose access
        // tokens STS validates by calling it; Tessera trusts registered OIDC providers only.
        return Err(AwsError::invalid_parameter_value(
            "ProviderId is for OAuth 2.0 access tokens of Login with Amazon and Facebook, which Tessera does not \
             support; pass an OpenID Connect ID token without ProviderId.",
        ));
    }
    Ok(Request { role_arn, session_name, token, duration, inputs })
}

/// Session tags and transitive keys from the token's `https://aws.amazon.com/tags` claim.
fn token_tags(token: &VerifiedToken) -> Result<(Vec<Tag>, Vec<String>), AwsError> {
    let Some(claim) = token.claims.get(TAGS_CLAIM) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let bad = || oidc::invalid_identity_token(format!("The claim {TAGS_CLAIM} is not valid."));
    let obj = claim.as_object().ok_or_else(bad)?;
    let mut tags = Vec::new();
    if let Some(principal_tags) = obj.get("principal_tags") {
        for (key, value) in principal_tags.as_object().ok_or_else(bad)? {
            // Each value is a one-element array of strings (AWS's format); a plain string is accepted.
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Array(a) if a.len() == 1 => a[0].as_str().ok_or_else(bad)?.to_string(),
                _ => return Err(bad()),
            };
            tags.push(Tag { key: key.clone(), value });
        }
    }
    let mut transitive = Vec::new();
    if let Some(keys) = obj.get("transitive_tag_keys") {
        for k in keys.as_array().ok_or_else(bad)? {
            transitive.push(k.as_str().ok_or_else(bad)?.to_string());
        }
    }
    federated_role::session_tags(tags, transitive, bad)
}

/// The source identity from the token's `https://aws.amazon.com/source_identity` claim.
fn token_source_identity(token: &VerifiedToken) -> Result<Option<String>, AwsError> {
    match token.claims.get(SOURCE_IDENTITY_CLAIM) {
        None => Ok(None),
        Some(Value::String(s)) if federated_role::is_source_identity(s) => Ok(Some(s.clone())),
        Some(_) => Err(oidc::invalid_identity_token(format!("The claim {SOURCE_IDENTITY_CLAIM} is not valid."))),
    }
}

/// The provider's condition keys of the trust policy evaluation.
fn provider_keys(token: &VerifiedToken) -> Vec<(String, Vec<String>)> {
    let prefix = token.provider.resource();
    let mut keys: Vec<(String, Vec<String>)> = vec![
        (format!("{prefix}:aud"), vec![token.audience.clone()]),
        (format!("{prefix}:sub"), vec![token.subject.clone()]),
    ];
    if !token.original_audiences.is_empty() {
        keys.push((format!("{prefix}:oaud"), token.original_audiences.clone()));
    }
    if !token.amr.is_empty() {
        keys.push((format!("{prefix}:amr"), token.amr.clone()));
    }
    keys
}

/// Run `AssumeRoleWithWebIdentity`.
pub fn assume_role_with_web_identity(
    services: &Services,
    call: &Call,
    p: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let req = read_request(p)?;
    let role_account = federated_role::role_account(req.role_arn)?;
    let policy = params::check_session_inputs(&req.inputs)?;
    let now = call.now_secs();

    // The token, against the providers of the role's account.
    let token = oidc::verify_token(services, &role_account, req.token, now)?;
    let (tags, transitive) = token_tags(&token)?;
    let source_identity = token_source_identity(&token)?;

    let provider_arn = token.provider.arn();
    let session = FederatedSession {
        action: "sts:AssumeRoleWithWebIdentity",
        role_arn: req.role_arn,
        session_name: req.session_name,
        principal: Principal {
            arn: provider_arn.clone(),
            account: String::new(),
            kind: PrincipalKind::WebIdentity { provider: provider_arn.clone() },
        },
        provider_arn: provider_arn.clone(),
        provider_keys: provider_keys(&token),
        tags,
        transitive,
        source_identity: source_identity.clone(),
        duration: req.duration,
        expires_by: None,
        policy,
        policy_arns: req.inputs.policy_arns.clone(),
    };
    let opened = federated_role::open_session(services, call, session, || Ok(()))?;

    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &opened.credentials);
    w.elem("SubjectFromWebIdentityToken", &token.subject);
    federated_role::write_assumed_role_user(&mut w, &opened.role, req.session_name);
    if let Some(packed) = opened.packed {
        w.elem("PackedPolicySize", &packed.to_string());
    }
    w.elem("Provider", &provider_arn);
    w.elem("Audience", &token.audience);
    w.opt("SourceIdentity", source_identity.as_deref());
    Ok(WireResponse::query(STS_XMLNS, "AssumeRoleWithWebIdentity", Some(&w.finish()), &call.meta.request_id))
}
