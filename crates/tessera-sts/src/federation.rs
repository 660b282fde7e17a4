//! `GetSessionToken` and `GetFederationToken`: temporary credentials of an IAM user (or root).

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::assume_role::issue;
use super::params::{self, Check};
use super::write_credentials;
use crate::authz::AuthzRequest;
use crate::caller::{CallerKind, SessionInfo};
use crate::{Call, Services};

/// Default session length of `GetSessionToken` and `GetFederationToken` (12 hours).
pub const DEFAULT_SECS: i64 = 43_200;
/// Longest session of either (36 hours).
pub const MAX_SECS: i64 = 129_600;
/// Longest session when the account root user asks (1 hour).
pub const ROOT_MAX_SECS: i64 = 3600;

fn session_credentials_refused(call: &Call) -> Option<AwsError> {
    call.caller
        .session
        .is_some()
        .then(|| AwsError::access_denied(format!("Cannot call {} with session credentials", call.operation)))
}

/// The requested duration, defaulted and (for root) capped at one hour as AWS does.
fn effective_duration(call: &Call, requested: Option<i64>) -> i64 {
    let d = requested.unwrap_or(DEFAULT_SECS);
    if call.caller.is_root() {
        d.min(ROOT_MAX_SECS)
    } else {
        d
    }
}

/// Run `GetSessionToken`. No permission is needed (it authenticates); session credentials are
/// refused.
pub fn get_session_token(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let mut check = Check::default();
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 900, MAX_SECS);
    }
    let (serial, code) = params::mfa_inputs(p, &mut check);
    check.finish()?;
    if let Some(e) = session_credentials_refused(call) {
        return Err(e);
    }
    let now = call.now_secs();
    let mfa = params::verify_mfa(services, &call.caller, serial, code, now)?;
    let duration = effective_duration(call, duration);
    let caller = &call.caller;
    let info = SessionInfo {
        issued_at: now,
        expires_at: now + duration,
        mfa_authenticated: mfa,
        mfa_authenticated_at: mfa.then_some(now),
        issued_by: "GetSessionToken".into(),
        source_principal_arn: Some(caller.arn.clone()),
        ..SessionInfo::default()
    };
    let creds = issue(services, &caller.account, &caller.kind, &info)?;
    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &creds);
    Ok(WireResponse::query(STS_XMLNS, "GetSessionToken", Some(&w.finish()), &call.meta.request_id))
}

/// Run `GetFederationToken`. The federated user's permissions are the intersection of the
/// calling user's policies and the session policies passed here (none passed: none granted).
pub fn get_federation_token(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let name = p.required("Name")?;
    let mut check = Check::default();
    check.length("name", name, 2, 32).pattern(
        "name",
        name,
        params::SESSION_NAME_PATTERN,
        params::is_session_name(name),
    );
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 900, MAX_SECS);
    }
    let inputs = params::session_inputs(p, &mut check, false);
    check.finish()?;
    if let Some(e) = session_credentials_refused(call) {
        return Err(e);
    }
    let caller = &call.caller;
    let user_name = match &caller.kind {
        CallerKind::User { name, .. } => name.clone(),
        CallerKind::Root => String::new(),
        _ => return Err(AwsError::access_denied("Cannot call GetFederationToken with session credentials")),
    };
    let policy = params::check_session_inputs(&inputs)?;
    let resource = format!("arn:aws:sts::{}:federated-user/{}", caller.account, name);
    let mut context: Vec<(String, Vec<String>)> = Vec::new();
    for t in &inputs.tags {
        context.push((format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]));
    }
    if !inputs.tags.is_empty() {
        context.push(("aws:TagKeys".into(), inputs.tags.iter().map(|t| t.key.clone()).collect()));
    }
    let authz = |action: &'static str| AuthzRequest {
        action,
        resource: &resource,
        resource_account: None,
        resource_policy: None,
        is_trust_policy: false,
        context: context.clone(),
    };
    services.authorize_request(call, &authz("sts:GetFederationToken"))?;
    if !inputs.tags.is_empty() {
        services.authorize_request(call, &authz("sts:TagSession"))?;
    }
    let packed = params::packed_policy_size(policy.as_deref(), &inputs.policy_arns, &inputs.tags)?;
    let now = call.now_secs();
    let duration = effective_duration(call, duration);
    let info = SessionInfo {
        issued_at: now,
        expires_at: now + duration,
        tags: inputs.tags.clone(),
        session_policy: policy,
        session_policy_arns: inputs.policy_arns.clone(),
        issued_by: "GetFederationToken".into(),
        source_principal_arn: Some(caller.arn.clone()),
        ..SessionInfo::default()
    };
    let kind = CallerKind::FederatedUser { name: name.to_string(), user_name };
    let creds = issue(services, &caller.account, &kind, &info)?;
    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &creds);
    w.open("FederatedUser", None)
        .elem("FederatedUserId", &format!("{}:{}", caller.account, name))
        .elem("Arn", &resource)
        .close();
    w.elem("PackedPolicySize", &packed.to_string());
    Ok(WireResponse::query(STS_XMLNS, "GetFederationToken", Some(&w.finish()), &call.meta.request_id))
}
