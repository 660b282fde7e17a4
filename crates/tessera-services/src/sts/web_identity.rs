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

use super::assume_role::{issue, note_role_used, DEFAULT_SECS};
use super::oidc::{self, VerifiedToken};
use super::params::{self, Check};
use super::write_credentials;
use crate::authz::AuthzRequest;
use crate::caller::{CallerKind, SessionInfo};
use crate::model::{self, table, Role, Tag};
use crate::{internal, Call, Services};

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
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 900, 43200);
    }
    let mut inputs = params::session_inputs(p, &mut check, false);
    // AssumeRoleWithWebIdentity takes no Tags parameter: session tags come from the token.
    inputs.tags.clear();
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
            let key_ok = (1..=128).contains(&key.chars().count()) && params::is_tag_text(key);
            let value_ok = value.chars().count() <= 256 && params::is_tag_text(&value);
            if !key_ok || !value_ok {
                return Err(bad());
            }
            tags.push(Tag { key: key.clone(), value });
        }
    }
    let mut transitive = Vec::new();
    if let Some(keys) = obj.get("transitive_tag_keys") {
        for k in keys.as_array().ok_or_else(bad)? {
            let k = k.as_str().ok_or_else(bad)?;
            if !tags.iter().any(|t| t.key.eq_ignore_ascii_case(k)) {
                return Err(AwsError::invalid_parameter_value(
                    "The specified transitive tag key must be included in the requested tags.",
                ));
            }
            transitive.push(k.to_string());
        }
    }
    if tags.len() > 50 {
        return Err(bad());
    }
    let mut seen = std::collections::HashSet::new();
    if !tags.iter().all(|t| seen.insert(t.key.to_lowercase())) {
        return Err(AwsError::invalid_parameter_value(
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        ));
    }
    Ok((tags, transitive))
}

/// The source identity from the token's `https://aws.amazon.com/source_identity` claim.
fn token_source_identity(token: &VerifiedToken) -> Result<Option<String>, AwsError> {
    match token.claims.get(SOURCE_IDENTITY_CLAIM) {
        None => Ok(None),
        Some(Value::String(s))
            if (2..=64).contains(&s.chars().count()) && params::is_session_name(s) && !s.starts_with("aws:") =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(oidc::invalid_identity_token(format!("The claim {SOURCE_IDENTITY_CLAIM} is not valid."))),
    }
}

/// The condition keys of the trust policy evaluation.
fn context(
    req: &Request<'_>,
    token: &VerifiedToken,
    tags: &[Tag],
    transitive: &[String],
    source_identity: Option<&str>,
) -> Vec<(String, Vec<String>)> {
    let prefix = token.provider.resource();
    let mut context: Vec<(String, Vec<String>)> = vec![
        ("sts:RoleSessionName".into(), vec![req.session_name.into()]),
        ("aws:FederatedProvider".into(), vec![token.provider.arn()]),
        (format!("{prefix}:aud"), vec![token.audience.clone()]),
        (format!("{prefix}:sub"), vec![token.subject.clone()]),
    ];
    if !token.original_audiences.is_empty() {
        context.push((format!("{prefix}:oaud"), token.original_audiences.clone()));
    }
    if !token.amr.is_empty() {
        context.push((format!("{prefix}:amr"), token.amr.clone()));
    }
    if let Some(s) = source_identity {
        context.push(("sts:SourceIdentity".into(), vec![s.into()]));
    }
    for t in tags {
        context.push((format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]));
    }
    if !tags.is_empty() {
        context.push(("aws:TagKeys".into(), tags.iter().map(|t| t.key.clone()).collect()));
    }
    if !transitive.is_empty() {
        context.push(("sts:TransitiveTagKeys".into(), transitive.to_vec()));
    }
    context
}

/// Run `AssumeRoleWithWebIdentity`.
pub fn assume_role_with_web_identity(
    services: &Services,
    call: &Call,
    p: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let req = read_request(p)?;
    let arn = params::parse_arn(req.role_arn)?;
    let policy = params::check_session_inputs(&req.inputs)?;
    let now = call.now_secs();

    // The token, against the providers of the role's account.
    let role_parts = params::role_arn_parts(&arn);
    let role_account = role_parts.as_ref().map_or(arn.account, |(a, _, _)| a.as_str()).to_string();
    let token = oidc::verify_token(services, &role_account, req.token, now)?;
    let (tags, transitive) = token_tags(&token)?;
    let source_identity = token_source_identity(&token)?;

    let role: Option<Role> = match &role_parts {
        None => None,
        Some((account, path, name)) => {
            let r = services.store.read().map_err(internal)?;
            model::load::<Role>(r.as_ref(), table::ROLE, &model::name_key(account, name))
                .map_err(internal)?
                .filter(|role| role.name == *name && role.path == *path)
        }
    };

    // The trust policy, for the web identity principal. A missing role is evaluated against no
    // trust policy: the same AccessDenied as a trust policy that does not allow.
    let provider_arn = token.provider.arn();
    let principal = Principal {
        arn: provider_arn.clone(),
        account: String::new(),
        kind: PrincipalKind::WebIdentity { provider: provider_arn.clone() },
    };
    let ctx = context(&req, &token, &tags, &transitive, source_identity.as_deref());
    let trust = role.as_ref().map(|r| r.assume_role_policy_document.as_str());
    let denied = || AwsError::access_denied("Not authorized to perform sts:AssumeRoleWithWebIdentity");
    let allowed = |action: &'static str| -> Result<bool, AwsError> {
        let request = AuthzRequest {
            action,
            resource: req.role_arn,
            resource_account: Some(role_account.as_str()),
            resource_policy: trust,
            is_trust_policy: true,
            context: ctx.clone(),
        };
        Ok(services.decide_federated(call, &principal, &request)?.is_allowed())
    };
    if !allowed("sts:AssumeRoleWithWebIdentity")? {
        return Err(denied());
    }
    if (!tags.is_empty() || !transitive.is_empty()) && !allowed("sts:TagSession")? {
        return Err(denied());
    }
    if source_identity.is_some() && !allowed("sts:SetSourceIdentity")? {
        return Err(denied());
    }
    let Some(role) = role else {
        return Err(denied());
    };

    let duration = req.duration.unwrap_or(DEFAULT_SECS);
    if duration > role.max_session_duration {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let packed = params::packed_policy_size(policy.as_deref(), &req.inputs.policy_arns, &tags)?;

    let info = SessionInfo {
        issued_at: now,
        expires_at: now + duration,
        mfa_authenticated: false,
        mfa_authenticated_at: None,
        source_identity: source_identity.clone(),
        tags: tags.clone(),
        transitive_tag_keys: transitive,
        session_policy: policy.clone(),
        session_policy_arns: req.inputs.policy_arns.clone(),
        chained: false,
        federated_provider: Some(provider_arn.clone()),
        issued_by: "AssumeRoleWithWebIdentity".into(),
        source_principal_arn: None,
    };
    let kind = CallerKind::AssumedRole {
        role_name: role.name.clone(),
        role_path: role.path.clone(),
        role_id: role.role_id.clone(),
        session_name: req.session_name.to_string(),
    };
    let creds = issue(services, &role.account, &kind, &info)?;
    note_role_used(services, &role, now, &call.meta.region);

    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &creds);
    w.elem("SubjectFromWebIdentityToken", &token.subject);
    w.open("AssumedRoleUser", None)
        .elem("AssumedRoleId", &format!("{}:{}", role.role_id, req.session_name))
        .elem("Arn", &format!("arn:aws:sts::{}:assumed-role/{}/{}", role.account, role.name, req.session_name))
        .close();
    if policy.is_some() || !req.inputs.policy_arns.is_empty() || !tags.is_empty() {
        w.elem("PackedPolicySize", &packed.to_string());
    }
    w.elem("Provider", &provider_arn);
    w.elem("Audience", &token.audience);
    w.opt("SourceIdentity", source_identity.as_deref());
    Ok(WireResponse::query(STS_XMLNS, "AssumeRoleWithWebIdentity", Some(&w.finish()), &call.meta.request_id))
}
