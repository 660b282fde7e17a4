//! What `AssumeRoleWithWebIdentity` and `AssumeRoleWithSAML` share once the token or assertion
//! is verified: session tags from the identity provider, the trust policy evaluation for the
//! federated principal, the session's duration, and the credentials.

use tessera_policy::Principal;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams};

use super::assume_role::{issue, note_role_used, DEFAULT_SECS};
use super::params::{self, Check};
use super::IssuedCredentials;
use crate::authz::AuthzRequest;
use crate::caller::{CallerKind, SessionInfo};
use crate::model::{self, table, Role, Tag};
use crate::{internal, Call, Services};

/// `DurationSeconds` (900-43,200), `Policy` and `PolicyArns` of a federated call, their model
/// constraints added to `check`. These calls take no `Tags`: session tags come from the
/// identity provider.
pub fn session_params(p: &QueryParams, check: &mut Check) -> Result<(Option<i64>, params::SessionInputs), AwsError> {
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 900, 43200);
    }
    let mut inputs = params::session_inputs(p, check, false);
    inputs.tags.clear();
    Ok((duration, inputs))
}

/// Validate session tags an identity provider asserts (key 1-128, value 0-256 characters of
/// the tag alphabet, at most 50, keys unique regardless of case) and transitive keys (each
/// one of the tags). `bad` is the error for a malformed tag.
pub fn session_tags(
    tags: Vec<Tag>,
    transitive: Vec<String>,
    bad: impl Fn() -> AwsError,
) -> Result<(Vec<Tag>, Vec<String>), AwsError> {
    for t in &tags {
        let key_ok = (1..=128).contains(&t.key.chars().count()) && params::is_tag_text(&t.key);
        let value_ok = t.value.chars().count() <= 256 && params::is_tag_text(&t.value);
        if !key_ok || !value_ok {
            return Err(bad());
        }
    }
    for k in &transitive {
        if !tags.iter().any(|t| t.key.eq_ignore_ascii_case(k)) {
            return Err(AwsError::invalid_parameter_value(
                "The specified transitive tag key must be included in the requested tags.",
            ));
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

/// Whether `s` is a valid source identity (2-64 of `[\w+=,.@-]`, not starting with `aws:`).
pub fn is_source_identity(s: &str) -> bool {
    (2..=64).contains(&s.chars().count()) && params::is_session_name(s) && !s.starts_with("aws:")
}

/// A federated role session to open.
pub struct FederatedSession<'a> {
    /// `sts:AssumeRoleWithWebIdentity` or `sts:AssumeRoleWithSAML`.
    pub action: &'static str,
    /// The role ARN as requested.
    pub role_arn: &'a str,
    /// The session name.
    pub session_name: &'a str,
    /// The federated principal (`Federated: <provider arn>`).
    pub principal: Principal,
    /// The provider's ARN (`aws:FederatedProvider` of the session).
    pub provider_arn: String,
    /// The provider's condition keys (`<provider>:sub`, `saml:aud`...).
    pub provider_keys: Vec<(String, Vec<String>)>,
    /// Session tags and transitive keys from the identity provider.
    pub tags: Vec<Tag>,
    /// Transitive tag keys.
    pub transitive: Vec<String>,
    /// Source identity from the identity provider.
    pub source_identity: Option<String>,
    /// `DurationSeconds`, when given.
    pub duration: Option<i64>,
    /// The latest expiry the identity provider allows (SAML's `SessionNotOnOrAfter`).
    pub expires_by: Option<i64>,
    /// The checked session policy (minified) and policy ARNs.
    pub policy: Option<String>,
    /// Managed session policy ARNs.
    pub policy_arns: Vec<String>,
}

/// An opened session.
pub struct Opened {
    /// The role.
    pub role: Role,
    /// The credentials.
    pub credentials: IssuedCredentials,
    /// `PackedPolicySize`, when a session policy, policy ARNs or tags were given.
    pub packed: Option<u32>,
}

/// The account of a role ARN (the ARN's account when it does not name a role).
pub fn role_account(role_arn: &str) -> Result<String, AwsError> {
    let arn = params::parse_arn(role_arn)?;
    Ok(params::role_arn_parts(&arn).map_or_else(|| arn.account.to_string(), |(a, _, _)| a))
}

fn load_role(services: &Services, role_arn: &str) -> Result<Option<Role>, AwsError> {
    let arn = params::parse_arn(role_arn)?;
    let Some((account, path, name)) = params::role_arn_parts(&arn) else {
        return Ok(None);
    };
    let r = services.store.read().map_err(internal)?;
    Ok(model::load::<Role>(r.as_ref(), table::ROLE, &model::name_key(&account, &name))
        .map_err(internal)?
        .filter(|role| role.name == name && role.path == path))
}

/// The condition keys every federated session request carries besides the provider's.
fn context(s: &FederatedSession<'_>) -> Vec<(String, Vec<String>)> {
    let mut context: Vec<(String, Vec<String>)> = vec![
        ("sts:RoleSessionName".into(), vec![s.session_name.into()]),
        ("aws:FederatedProvider".into(), vec![s.provider_arn.clone()]),
    ];
    context.extend(s.provider_keys.iter().cloned());
    if let Some(si) = &s.source_identity {
        context.push(("sts:SourceIdentity".into(), vec![si.clone()]));
    }
    for t in &s.tags {
        context.push((format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]));
    }
    if !s.tags.is_empty() {
        context.push(("aws:TagKeys".into(), s.tags.iter().map(|t| t.key.clone()).collect()));
    }
    if !s.transitive.is_empty() {
        context.push(("sts:TransitiveTagKeys".into(), s.transitive.clone()));
    }
    context
}

/// Evaluate the role's trust policy (and the role account's RCPs) for the federated principal
/// (`action`, plus `sts:TagSession` with tags and `sts:SetSourceIdentity` with a source
/// identity), then run `spend` (which may still refuse: a replayed assertion) and issue the
/// session's credentials. A missing role is refused exactly like a trust policy that does not
/// allow.
pub fn open_session(
    services: &Services,
    call: &Call,
    s: FederatedSession<'_>,
    spend: impl FnOnce() -> Result<(), AwsError>,
) -> Result<Opened, AwsError> {
    let now = call.now_secs();
    let account = role_account(s.role_arn)?;
    let role = load_role(services, s.role_arn)?;
    let ctx = context(&s);
    let trust = role.as_ref().map(|r| r.assume_role_policy_document.as_str());
    let denied = || AwsError::access_denied(format!("Not authorized to perform {}", s.action));
    let allowed = |action: &'static str| -> Result<bool, AwsError> {
        let request = AuthzRequest {
            action,
            resource: s.role_arn,
            resource_account: Some(account.as_str()),
            resource_policy: trust,
            is_trust_policy: true,
            context: ctx.clone(),
        };
        Ok(services.decide_federated(call, &s.principal, &request)?.is_allowed())
    };
    if !allowed(s.action)? {
        return Err(denied());
    }
    if (!s.tags.is_empty() || !s.transitive.is_empty()) && !allowed("sts:TagSession")? {
        return Err(denied());
    }
    if s.source_identity.is_some() && !allowed("sts:SetSourceIdentity")? {
        return Err(denied());
    }
    let Some(role) = role else {
        return Err(denied());
    };

    let duration = s.duration.unwrap_or(DEFAULT_SECS);
    if duration > role.max_session_duration {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let expires_at = s.expires_by.map_or(now + duration, |by| by.min(now + duration));
    let packed_size = params::packed_policy_size(s.policy.as_deref(), &s.policy_arns, &s.tags)?;
    let packed = (s.policy.is_some() || !s.policy_arns.is_empty() || !s.tags.is_empty()).then_some(packed_size);
    spend()?;
    let issued_by = s.action.trim_start_matches("sts:").to_string();
    let info = SessionInfo {
        issued_at: now,
        expires_at,
        mfa_authenticated: false,
        mfa_authenticated_at: None,
        source_identity: s.source_identity,
        tags: s.tags,
        transitive_tag_keys: s.transitive,
        session_policy: s.policy,
        session_policy_arns: s.policy_arns,
        chained: false,
        federated_provider: Some(s.provider_arn),
        issued_by,
        source_principal_arn: None,
        workload_identity: None,
        scope_policies: Vec::new(),
    };
    let kind = CallerKind::AssumedRole {
        role_name: role.name.clone(),
        role_path: role.path.clone(),
        role_id: role.role_id.clone(),
        session_name: s.session_name.to_string(),
    };
    let credentials = issue(services, &role.account, &kind, &info)?;
    note_role_used(services, &role, now, &call.meta.region);
    Ok(Opened { role, credentials, packed })
}

/// Write `<AssumedRoleUser>`.
pub fn write_assumed_role_user(w: &mut XmlWriter, role: &Role, session_name: &str) {
    w.open("AssumedRoleUser", None)
        .elem("AssumedRoleId", &format!("{}:{}", role.role_id, session_name))
        .elem("Arn", &format!("arn:aws:sts::{}:assumed-role/{}/{}", role.account, role.name, session_name))
        .close();
}
