//! `AssumeRoot`: a short privileged session as the root user of a member account
//! (STS API reference, `API_AssumeRoot.html`; IAM User Guide, "Perform a privileged task on an
//! AWS Organizations member account", `id_root-user-privileged-task.html`).
//!
//! The caller is an IAM user or role session of the organization's management account or of
//! IAM's delegated administrator (never a root user), allowed `sts:AssumeRoot` on the target's
//! `arn:aws:iam::<target>:root` (condition key `sts:TaskPolicyArn`), in an organization where
//! `RootSessions` is enabled. The session is the member account's root user, limited by the
//! task policy: root's full permissions with the task policy's denies as the session policy.
//! See `docs/ROOT_ACCESS.md`.

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::assume_role::issue;
use super::params::{self, Check};
use super::write_credentials;
use crate::authz::AuthzRequest;
use crate::caller::{CallerKind, SessionInfo};
use crate::iam::org_features::{root_sessions_enabled, IAM_PRINCIPAL};
use crate::organizations::org_of;
use crate::{internal, Call, Services};

/// Longest (and default) privileged session.
pub const MAX_SECS: i64 = 900;

/// The AWS managed policies a root session may be scoped to (the `TaskPolicyArn` documentation).
pub const TASK_POLICIES: &[&str] = &[
    "arn:aws:iam::aws:policy/root-task/IAMAuditRootUserCredentials",
    "arn:aws:iam::aws:policy/root-task/IAMCreateRootUserPassword",
    "arn:aws:iam::aws:policy/root-task/IAMDeleteRootUserCredentials",
    "arn:aws:iam::aws:policy/root-task/S3UnlockBucketPolicy",
    "arn:aws:iam::aws:policy/root-task/SQSUnlockQueuePolicy",
];

/// The inline half of a root session's policies: everything root may do. The task policy (only
/// denies) is the other half, so the session may do what root may do less what the task denies.
const ROOT_SESSION_ALLOW: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// `TargetPrincipal`: a 12-digit account id or `arn:aws:iam::<id>:root`.
fn target_account(target: &str) -> Option<&str> {
    let id = target.strip_prefix("arn:aws:iam::").and_then(|r| r.strip_suffix(":root")).unwrap_or(target);
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

fn denied(message: &str) -> AwsError {
    AwsError::access_denied(message.to_string())
}

/// Run `AssumeRoot`.
pub fn assume_root(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let target = p.required("TargetPrincipal")?;
    let task_policy = p.required("TaskPolicyArn.arn")?;
    let duration = params::duration(p)?;
    let mut check = Check::default();
    check.length("targetPrincipal", target, 12, 2048);
    check.length("taskPolicyArn.arn", task_policy, 20, 2048).pattern(
        "taskPolicyArn.arn",
        task_policy,
        params::ARN_PATTERN,
        params::is_arn_text(task_policy),
    );
    if let Some(d) = duration {
        check.range("durationSeconds", d, 0, MAX_SECS);
    }
    check.finish()?;
    let account = target_account(target).ok_or_else(|| {
        AwsError::validation(format!("TargetPrincipal '{target}' is not a member account id or its root user ARN."))
    })?;
    if !TASK_POLICIES.contains(&task_policy) {
        return Err(AwsError::validation(format!(
            "TaskPolicyArn '{task_policy}' is not one of the AWS managed root-task policies."
        )));
    }
    let caller = &call.caller;
    // "You cannot use root user credentials to make this call."
    if caller.is_root() {
        return Err(denied("Root users cannot call AssumeRoot."));
    }
    let resource = format!("arn:aws:iam::{account}:root");
    services.authorize_request(
        call,
        &AuthzRequest {
            action: "sts:AssumeRoot",
            resource: &resource,
            context: vec![("sts:TaskPolicyArn".into(), vec![task_policy.to_string()])],
            ..Default::default()
        },
    )?;

    // The organization: the caller's account is its management account or IAM's delegated
    // administrator, RootSessions is enabled, and the target is one of its member accounts.
    let read = services.store.read().map_err(internal)?;
    let org = org_of(read.as_ref(), &caller.account)?
        .ok_or_else(|| denied("The caller's account is not in an organization."))?;
    if org.management_account != caller.account
        && !crate::organizations::is_delegated_administrator(read.as_ref(), &caller.account, IAM_PRINCIPAL)?
    {
        return Err(denied(
            "AssumeRoot can only be called from the management account or IAM's delegated administrator account.",
        ));
    }
    if !root_sessions_enabled(read.as_ref(), &org.id)? {
        return Err(denied("Centralized root access (RootSessions) is not enabled for the organization."));
    }
    if account == org.management_account {
        return Err(denied("AssumeRoot cannot target the organization's management account."));
    }
    let target_org = org_of(read.as_ref(), account)?;
    if target_org.as_ref().map(|o| o.id.as_str()) != Some(org.id.as_str()) {
        return Err(denied("The target account is not a member account of the caller's organization."));
    }
    drop(read);

    let now = call.now_secs();
    let duration = duration.unwrap_or(MAX_SECS);
    let source_identity = caller.session.as_ref().and_then(|s| s.source_identity.clone());
    let info = SessionInfo {
        issued_at: now,
        expires_at: now + duration,
        source_identity: source_identity.clone(),
        session_policy: Some(ROOT_SESSION_ALLOW.into()),
        session_policy_arns: vec![task_policy.to_string()],
        issued_by: "AssumeRoot".into(),
        source_principal_arn: Some(caller.arn.clone()),
        ..SessionInfo::default()
    };
    let creds = issue(services, account, &CallerKind::Root, &info)?;
    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &creds);
    w.opt("SourceIdentity", source_identity.as_deref());
    Ok(WireResponse::query(STS_XMLNS, "AssumeRoot", Some(&w.finish()), &call.meta.request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_principal_forms() {
        assert_eq!(target_account("123456789012"), Some("123456789012"));
        assert_eq!(target_account("arn:aws:iam::123456789012:root"), Some("123456789012"));
        assert_eq!(target_account("arn:aws:iam::123456789012:user/x"), None);
        assert_eq!(target_account("12345678901a"), None);
        assert_eq!(target_account("1234567890123"), None);
    }
}
