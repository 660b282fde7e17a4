//! `AssumeRole`.

use std::sync::Arc;

use tessera_store::transact;
use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::params::{self, Check};
use super::tokens::{self, Claims};
use super::workload_context::{self, ContextClaims};
use super::{write_credentials, IssuedCredentials};
use crate::authz::AuthzRequest;
use crate::caller::{CallerKind, SessionInfo};
use crate::model::{self, table, Role, Tag};
use crate::{internal, Call, Services};

/// Longest session of a role assumed by role chaining.
pub const CHAINED_MAX_SECS: i64 = 3600;
/// Default session length of `AssumeRole`.
pub const DEFAULT_SECS: i64 = 3600;
/// How often, at most, `RoleLastUsed` is written per role.
const LAST_USED_EVERY_SECS: i64 = 60;

/// The validated request.
struct Request<'a> {
    role_arn: &'a str,
    session_name: &'a str,
    duration: Option<i64>,
    external_id: Option<&'a str>,
    source_identity: Option<&'a str>,
    serial: Option<&'a str>,
    code: Option<&'a str>,
    inputs: params::SessionInputs,
    /// `ProvidedContexts`: a workload identity context's provider ARN and assertion.
    workload: Option<(String, String)>,
}

fn read_request(p: &QueryParams) -> Result<Request<'_>, AwsError> {
    let role_arn = p.required("RoleArn")?;
    let session_name = p.required("RoleSessionName")?;
    let mut check = Check::default();
    params::role_and_session_name(&mut check, role_arn, session_name);
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 900, 43200);
    }
    let external_id = p.get("ExternalId");
    if let Some(x) = external_id {
        check.length("externalId", x, 2, 1224).pattern(
            "externalId",
            x,
            params::EXTERNAL_ID_PATTERN,
            x.chars().all(|c| params::is_session_name_char(c) || c == ':' || c == '/'),
        );
    }
    let source_identity = p.get("SourceIdentity");
    if let Some(s) = source_identity {
        check.length("sourceIdentity", s, 2, 64).pattern(
            "sourceIdentity",
            s,
            params::SESSION_NAME_PATTERN,
            params::is_session_name(s),
        );
    }
    let (serial, code) = params::mfa_inputs(p, &mut check);
    let inputs = params::session_inputs(p, &mut check, true);
    let contexts = p.structs("ProvidedContexts");
    check.count("providedContexts", "[...]", contexts.len(), 5);
    for (i, c) in contexts.iter().enumerate() {
        if let Some(arn) = c.get("ProviderArn") {
            check.length(&format!("providedContexts.{}.member.providerArn", i + 1), arn, 20, 2048);
        }
        if let Some(a) = c.get("ContextAssertion") {
            check.secret_length(&format!("providedContexts.{}.member.contextAssertion", i + 1), a, 4, 3072);
        }
    }
    check.finish()?;
    let workload = match contexts.as_slice() {
        [] => None,
        // A workload identity context (IssueWorkloadIdentityContext), the only entry.
        [c] if c.get("ProviderArn").is_some_and(workload_context::is_workload_provider_arn) => {
            let provider = c.get("ProviderArn").unwrap_or_default().to_string();
            let assertion = c
                .get("ContextAssertion")
                .ok_or_else(|| workload_context::invalid_assertion("The provided context assertion is missing."))?;
            Some((provider, assertion.to_string()))
        }
        _ if contexts.iter().any(|c| c.get("ProviderArn").is_some_and(workload_context::is_workload_provider_arn)) => {
            return Err(AwsError::invalid_parameter_value(
                "Pass a workload identity context as the only entry in ProvidedContexts.",
            ))
        }
        // Trusted identity propagation contexts come from AWS IAM Identity Center, which
        // Tessera does not have.
        _ => return Err(AwsError::invalid_parameter_value("ProvidedContexts are not supported by Tessera.")),
    };
    Ok(Request { role_arn, session_name, duration, external_id, source_identity, serial, code, inputs, workload })
}

/// Run `AssumeRole`.
pub fn assume_role(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let req = read_request(p)?;
    let arn = params::parse_arn(req.role_arn)?;
    let caller = &call.caller;
    if caller.is_root() {
        return Err(AwsError::access_denied("Roles may not be assumed by root accounts."));
    }
    let now = call.now_secs();
    let policy = params::check_session_inputs(&req.inputs)?;
    // A workload identity context: the caller speaks for the service that asked for it, so
    // the session is the service's (nothing passes on from the calling session).
    let workload: Option<ContextClaims> = match &req.workload {
        None => None,
        Some((provider, assertion)) => {
            Some(workload_context::redeem(services, call, provider, assertion, req.role_arn)?)
        }
    };

    // What the calling session passes on: source identity, transitive tags, MFA.
    let parent = caller.session.as_ref().filter(|_| workload.is_none());
    let chained = workload.is_none() && matches!(caller.kind, CallerKind::AssumedRole { .. });
    let inherited_source = parent.and_then(|s| s.source_identity.clone());
    if let (Some(old), Some(new)) = (&inherited_source, req.source_identity) {
        if old != new {
            return Err(AwsError::invalid_parameter_value(format!(
                "SourceIdentity cannot be changed: the calling session has source identity '{old}'."
            )));
        }
    }
    let inherited_tags: Vec<Tag> = match parent {
        Some(s) if chained => s
            .tags
            .iter()
            .filter(|t| s.transitive_tag_keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    if req.inputs.tags.iter().any(|t| inherited_tags.iter().any(|i| i.key.to_lowercase() == t.key.to_lowercase())) {
        return Err(AwsError::invalid_parameter_value(
            "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
        ));
    }
    let mfa_now = params::verify_mfa(services, caller, req.serial, req.code, now)?;
    let mfa_at = if mfa_now {
        Some(now)
    } else {
        parent.filter(|s| s.mfa_authenticated).map(|s| s.mfa_authenticated_at.unwrap_or(s.issued_at))
    };

    // The role (absent roles are authorized against no trust policy: the same AccessDenied).
    let role_parts = params::role_arn_parts(&arn);
    let role_account = role_parts.as_ref().map_or(arn.account, |(a, _, _)| a.as_str()).to_string();
    let role: Option<Arc<Role>> = match &role_parts {
        None => None,
        Some((account, path, name)) => {
            let key = model::name_key(account, name);
            let generation = services.store.generation();
            services
                .caches
                .role
                .get_or_load(generation, &key, || {
                    let r = services.store.read().map_err(internal)?;
                    model::load::<Role>(r.as_ref(), table::ROLE, &key).map(|role| role.map(Arc::new)).map_err(internal)
                })?
                .filter(|role| role.name == *name && role.path == *path)
        }
    };

    let mut context: Vec<(String, Vec<String>)> = vec![("sts:RoleSessionName".into(), vec![req.session_name.into()])];
    if let Some(x) = req.external_id {
        context.push(("sts:ExternalId".into(), vec![x.into()]));
    }
    if let Some(s) = req.source_identity {
        context.push(("sts:SourceIdentity".into(), vec![s.into()]));
    }
    for t in &req.inputs.tags {
        context.push((format!("aws:RequestTag/{}", t.key), vec![t.value.clone()]));
    }
    if !req.inputs.tags.is_empty() {
        context.push(("aws:TagKeys".into(), req.inputs.tags.iter().map(|t| t.key.clone()).collect()));
    }
    if !req.inputs.transitive_tag_keys.is_empty() {
        context.push(("sts:TransitiveTagKeys".into(), req.inputs.transitive_tag_keys.clone()));
    }
    if mfa_now {
        context.push(("aws:MultiFactorAuthPresent".into(), vec!["true".into()]));
        context.push(("aws:MultiFactorAuthAge".into(), vec!["0".into()]));
    }
    let trust = role.as_ref().map(|r| r.assume_role_policy_document.as_str());
    let authz = |action: &'static str| AuthzRequest {
        action,
        resource: req.role_arn,
        resource_account: Some(role_account.as_str()),
        resource_policy: trust,
        is_trust_policy: true,
        context: context.clone(),
    };
    // STS words every denial the same way, without the engine's reason: whether the role
    // exists, and which of its policies refused, is not revealed.
    let plain = |action: &'static str| {
        move |e: AwsError| {
            if e.code == "AccessDenied" {
                AwsError::access_denied(crate::authz::denied_message(call, action, req.role_arn))
            } else {
                e
            }
        }
    };
    let mut actions = vec!["sts:AssumeRole"];
    if !req.inputs.tags.is_empty() || !req.inputs.transitive_tag_keys.is_empty() || !inherited_tags.is_empty() {
        actions.push("sts:TagSession");
    }
    if req.source_identity.is_some() || inherited_source.is_some() {
        actions.push("sts:SetSourceIdentity");
    }
    for action in actions {
        match &workload {
            None => services.authorize_request(call, &authz(action)).map_err(plain(action))?,
            // The trust policy must allow the service that asked for the context (IssueWorkloadIdentityContext:
            // "The trust policy of the role must allow the sts:AssumeRole action for the calling
            // service"), and the caller's own policies must allow it to assume the role.
            Some(w) => {
                let request = AuthzRequest { resource_policy: None, is_trust_policy: false, ..authz(action) };
                services.authorize_request(call, &request).map_err(plain(action))?;
                let mut keys: Vec<(String, String)> = vec![
                    ("aws:SourceAccount".into(), w.source_account.clone()),
                    ("aws:SourceArn".into(), w.source_arn.clone()),
                    ("aws:ResourceAccount".into(), role_account.clone()),
                ];
                keys.extend(context.iter().filter_map(|(k, v)| match v.as_slice() {
                    [one] => Some((k.clone(), one.clone())),
                    _ => None,
                }));
                let mut ctx = workload_context::service_context(call, &w.service, &keys);
                if !req.inputs.tags.is_empty() {
                    ctx.insert("aws:TagKeys", req.inputs.tags.iter().map(|t| t.key.clone()));
                }
                if !req.inputs.transitive_tag_keys.is_empty() {
                    ctx.insert("sts:TransitiveTagKeys", req.inputs.transitive_tag_keys.iter().cloned());
                }
                let allowed = match trust {
                    None => false,
                    Some(document) => {
                        let request = workload_context::ServiceRequest {
                            service: &w.service,
                            document,
                            trust: true,
                            action,
                            resource: req.role_arn,
                            resource_account: &role_account,
                        };
                        workload_context::service_allowed(call, &request, &ctx)?
                    }
                };
                if !allowed {
                    return Err(AwsError::access_denied(format!(
                        "User: {} is not authorized to perform: {action} on resource: {}",
                        w.service, req.role_arn
                    )));
                }
            }
        }
    }
    let Some(role) = role else {
        // Only reachable if an authorizer allowed a missing role; never issue for it.
        return Err(AwsError::access_denied(crate::authz::denied_message(call, "sts:AssumeRole", req.role_arn)));
    };

    let duration = req.duration.unwrap_or(DEFAULT_SECS);
    let session_end =
        workload.as_ref().and_then(|w| w.session_expires_at).map_or(now + duration, |by| by.min(now + duration));
    if chained && duration > CHAINED_MAX_SECS {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        ));
    }
    if duration > role.max_session_duration {
        return Err(AwsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }

    let mut tags = inherited_tags.clone();
    tags.extend(req.inputs.tags.iter().cloned());
    let mut transitive: Vec<String> = inherited_tags.iter().map(|t| t.key.clone()).collect();
    transitive.extend(req.inputs.transitive_tag_keys.iter().cloned());
    let packed = params::packed_policy_size(policy.as_deref(), &req.inputs.policy_arns, &tags)?;

    let source_identity = req.source_identity.map(str::to_string).or(inherited_source);
    let info = SessionInfo {
        issued_at: now,
        expires_at: session_end,
        mfa_authenticated: mfa_at.is_some(),
        mfa_authenticated_at: mfa_at,
        source_identity: source_identity.clone(),
        tags,
        transitive_tag_keys: transitive,
        session_policy: policy.clone(),
        session_policy_arns: req.inputs.policy_arns.clone(),
        chained,
        federated_provider: None,
        issued_by: "AssumeRole".into(),
        source_principal_arn: Some(workload.as_ref().map_or_else(|| caller.arn.clone(), |w| w.service.clone())),
        // A workload identity stays with the sessions its session chains to ("set once and
        // never replaced").
        workload_identity: match &workload {
            Some(w) => Some(w.identity.clone()),
            None => parent.filter(|_| chained).and_then(|s| s.workload_identity.clone()),
        },
        // A role session starts without the caller's scope-down layers (as without its session policy).
        scope_policies: Vec::new(),
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
    w.open("AssumedRoleUser", None)
        .elem("AssumedRoleId", &format!("{}:{}", role.role_id, req.session_name))
        .elem("Arn", &format!("arn:aws:sts::{}:assumed-role/{}/{}", role.account, role.name, req.session_name))
        .close();
    if policy.is_some() || !req.inputs.policy_arns.is_empty() || !info.tags.is_empty() {
        w.elem("PackedPolicySize", &packed.to_string());
    }
    w.opt("SourceIdentity", source_identity.as_deref());
    Ok(WireResponse::query(STS_XMLNS, "AssumeRole", Some(&w.finish()), &call.meta.request_id))
}

/// Issue temporary credentials for a session of `kind` in `account`.
pub fn issue(
    services: &Services,
    account: &str,
    kind: &CallerKind,
    info: &SessionInfo,
) -> Result<IssuedCredentials, AwsError> {
    let access_key_id = tokens::temporary_access_key_id(account);
    let secret = crate::ids::secret_access_key();
    let claims = Claims::new(secret.clone(), account, kind, info);
    let session_token = tokens::issue_token(services, &access_key_id, &claims)?;
    Ok(IssuedCredentials { access_key_id, secret, session_token, expires_at: info.expires_at })
}

/// Record `RoleLastUsed`, at most once a minute per role; failures are logged, not returned.
pub(crate) fn note_role_used(services: &Services, role: &Role, now: i64, region: &str) {
    let key = model::name_key(&role.account, &role.name);
    if role.last_used.as_ref().is_some_and(|(t, _)| now - t < LAST_USED_EVERY_SECS) {
        return;
    }
    {
        let mut seen = services.sts.role_last_used.lock().unwrap_or_else(|e| e.into_inner());
        if seen.get(&key).is_some_and(|t| now - t < LAST_USED_EVERY_SECS) {
            return;
        }
        seen.insert(key.clone(), now);
    }
    let result = transact(services.store.as_ref(), |txn| -> Result<(), tessera_store::StoreError> {
        if let Some(mut current) = model::load::<Role>(txn, table::ROLE, &key)? {
            if current.role_id == role.role_id {
                current.last_used = Some((now, region.to_string()));
                model::save(txn, table::ROLE, &key, &current)?;
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not record RoleLastUsed");
    }
}
