//! Who else may use a CA: its resource-based policy (`PutPolicy`, `GetPolicy`, `DeletePolicy`),
//! which [`crate::authorize_on_ca`] evaluates for callers of other accounts, and the permissions
//! granted to the ACM service principal (`CreatePermission`, `DeletePermission`,
//! `ListPermissions`), which Tessera records and lists (no ACM calls it).

use serde_json::{json, Value};
use tessera_core::authz::{validate_policy_document, AuthzRequest, PolicyDocKind};
use tessera_core::validate::Checks;
use tessera_core::{Call, Services};
use tessera_wire::AwsError;

use crate::common::{
    authorized_ca, empty_list, epoch, err, finish, invalid_request, object, optional_list, optional_str, paged,
    require_status, required_str, update_ca, NOT_DELETED,
};
use crate::model::Permission;

/// The only service principal `CreatePermission` grants to.
const ACM_PRINCIPAL: &str = "acm.amazonaws.com";
/// The actions it may be granted.
const PERMISSION_ACTIONS: &[&str] = &["IssueCertificate", "GetCertificate", "ListPermissions"];

/// `PutPolicy`: a resource policy (validated as one; `InvalidPolicyException` otherwise) that
/// must still let the caller put a policy (`LockoutPreventedException`).
pub fn put_policy(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "ResourceArn", "acm-pca:PutPolicy")?;
    let policy = required_str(input, "Policy")?;
    let mut c = Checks::new();
    c.length("policy", policy, 1, 81_920).pattern("policy", policy, r"[\u0009\u000A\u000D\u0020-\u00FF]+", |p| {
        p.chars().all(|ch| matches!(ch, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}'))
    });
    finish(&mut c)?;
    validate_policy_document(policy, PolicyDocKind::Resource, "")
        .map_err(|e| err("InvalidPolicyException", format!("The resource policy is not valid: {}", e.message)))?;
    require_status(&ca, NOT_DELETED)?;
    let arn = ca.arn();
    let after = services.decide(
        call,
        &AuthzRequest {
            action: "acm-pca:PutPolicy",
            resource: &arn,
            resource_account: Some(&ca.account),
            resource_policy: Some(policy),
            ..Default::default()
        },
    )?;
    if !after.is_allowed() {
        return Err(err(
            "LockoutPreventedException",
            "The policy would deny you acm-pca:PutPolicy on this certificate authority.",
        ));
    }
    update_ca(services, &ca, |_, stored| {
        stored.policy = Some(policy.to_string());
        Ok(())
    })?;
    Ok(json!({}))
}

/// `GetPolicy` (`ResourceNotFoundException` when the CA has none).
pub fn get_policy(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "ResourceArn", "acm-pca:GetPolicy")?;
    require_status(&ca, NOT_DELETED)?;
    match &ca.policy {
        Some(p) => Ok(json!({ "Policy": p })),
        None => Err(no_policy(&ca.arn())),
    }
}

fn no_policy(arn: &str) -> AwsError {
    err("ResourceNotFoundException", format!("The certificate authority {arn} has no resource policy."))
}

/// `DeletePolicy` (`ResourceNotFoundException` when the CA has none).
pub fn delete_policy(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "ResourceArn", "acm-pca:DeletePolicy")?;
    require_status(&ca, NOT_DELETED)?;
    if ca.policy.is_none() {
        return Err(no_policy(&ca.arn()));
    }
    update_ca(services, &ca, |_, stored| {
        stored.policy = None;
        Ok(())
    })?;
    Ok(json!({}))
}

/// `Principal` and `SourceAccount` of a permission request.
fn principal_and_source(input: &Value) -> Result<(String, Option<String>), AwsError> {
    let principal = required_str(input, "Principal")?;
    let source = optional_str(input, "SourceAccount")?;
    let mut c = Checks::new();
    c.length("principal", principal, 0, 128)
        .pattern("principal", principal, "[^*]+", |p| !p.is_empty() && !p.contains('*'))
        .length_opt("sourceAccount", source, 12, 12)
        .pattern_opt("sourceAccount", source, "[0-9]+", |s| s.bytes().all(|b| b.is_ascii_digit()));
    finish(&mut c)?;
    if principal != ACM_PRINCIPAL {
        return Err(invalid_request(format!("Permissions can be granted only to {ACM_PRINCIPAL}, not {principal}.")));
    }
    Ok((principal.to_string(), source.map(str::to_string)))
}

/// `CreatePermission`: one permission per principal (`PermissionAlreadyExistsException`).
pub fn create_permission(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:CreatePermission")?;
    let (principal, source) = principal_and_source(input)?;
    let actions = optional_list(input, "Actions")?.ok_or_else(|| crate::common::missing("Actions"))?;
    if actions.is_empty() {
        return Err(empty_list("actions"));
    }
    let mut c = Checks::new();
    c.list_length("actions", "[...]", actions.len(), 4);
    let mut names = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let name = a.as_str().unwrap_or("");
        c.one_of(
            &format!("actions.{}.member", i + 1),
            Some(name),
            &[
                "IssueCertificate",
                "GetCertificate",
                "ListPermissions",
                "CreateCertificateAuthorityAssociation",
                "DescribeCertificateAuthority",
                "GetCertificateAuthorityCertificate",
                "DeleteCertificateAuthorityAssociation",
            ],
        );
        if !names.contains(&name.to_string()) {
            names.push(name.to_string());
        }
    }
    finish(&mut c)?;
    if let Some(other) = names.iter().find(|n| !PERMISSION_ACTIONS.contains(&n.as_str())) {
        return Err(invalid_request(format!(
            "{other} cannot be granted to {ACM_PRINCIPAL}: grant {}.",
            PERMISSION_ACTIONS.join(", ")
        )));
    }
    require_status(&ca, NOT_DELETED)?;
    let now = call.meta.now_millis;
    update_ca(services, &ca, |_, stored| {
        if stored.permissions.iter().any(|p| p.principal == principal && p.source_account == source) {
            return Err(err(
                "PermissionAlreadyExistsException",
                format!("A permission for {principal} already exists on {}.", stored.arn()),
            ));
        }
        stored.permissions.push(Permission { principal, source_account: source, actions: names, created_at: now });
        Ok(())
    })?;
    Ok(json!({}))
}

/// `DeletePermission` (`ResourceNotFoundException` when there is no such permission).
pub fn delete_permission(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:DeletePermission")?;
    let (principal, source) = principal_and_source(input)?;
    require_status(&ca, NOT_DELETED)?;
    update_ca(services, &ca, |_, stored| {
        let before = stored.permissions.len();
        stored.permissions.retain(|p| !(p.principal == principal && p.source_account == source));
        if stored.permissions.len() == before {
            return Err(err(
                "ResourceNotFoundException",
                format!("No permission for {principal} exists on {}.", stored.arn()),
            ));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// The policy AWS shows a permission as (what it lets the principal do on the CA).
fn permission_policy(arn: &str, p: &Permission) -> String {
    let mut statement = json!({
        "Sid": format!("{}-{}", p.principal, p.created_at),
        "Effect": "Allow",
        "Principal": {"Service": p.principal},
        "Action": p.actions.iter().map(|a| format!("acm-pca:{a}")).collect::<Vec<_>>(),
        "Resource": arn,
    });
    if let Some(s) = &p.source_account {
        statement["Condition"] = json!({"StringEquals": {"aws:SourceAccount": s}});
    }
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

/// `ListPermissions`.
pub fn list_permissions(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:ListPermissions")?;
    require_status(&ca, NOT_DELETED)?;
    let arn = ca.arn();
    let items = ca
        .permissions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let v = object(vec![
                ("CertificateAuthorityArn", Some(json!(arn))),
                ("CreatedAt", Some(epoch(p.created_at))),
                ("Principal", Some(json!(p.principal))),
                ("SourceAccount", p.source_account.as_ref().map(|s| json!(s))),
                ("Actions", Some(json!(p.actions))),
                ("Policy", Some(json!(permission_policy(&arn, p)))),
            ]);
            (format!("{i:04}"), v)
        })
        .collect();
    paged(input, "Permissions", items, 100, 1000)
}
