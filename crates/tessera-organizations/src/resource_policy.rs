//! The organization's resource policy (AWS Organizations User Guide, "Delegated administrator
//! for AWS Organizations"): `PutResourcePolicy`, `DescribeResourcePolicy`,
//! `DeleteResourcePolicy`. The management account writes it; it grants principals of member
//! accounts Organizations actions on the organization's resources, and the authorizer consults it
//! as the resource-based policy of every Organizations call from a member account: the
//! management account owns the resources, so the request is cross-account and both the caller's
//! identity policies and this policy must allow it.
//!
//! What it can open to members: the read operations (`Describe*`, `List*`) and policy
//! management (`CreatePolicy`, `UpdatePolicy`, `DeletePolicy`, `AttachPolicy`, `DetachPolicy`,
//! `EnablePolicyType`, `DisablePolicyType`, `TagResource`, `UntagResource`), the actions AWS
//! lets a delegated administrator of Organizations perform. Anything else stays the management
//! account's.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use super::accounts::{org_for, same_org};
use super::delegation::require_management_or_delegate;
use super::input::{self, In};
use super::*;
use crate::authz::{validate_policy_document, PolicyDocKind};

/// The resource policy of each organization, by organization id.
pub(crate) const ORG_RESOURCE_POLICY: &str = "org_resource_policy";
/// `ResourcePolicyContent` maximum.
const MAX_CONTENT: usize = 40_000;

/// The operations a resource policy can open to member accounts.
const DELEGABLE: &[&str] = &[
    "CreatePolicy",
    "UpdatePolicy",
    "DeletePolicy",
    "AttachPolicy",
    "DetachPolicy",
    "EnablePolicyType",
    "DisablePolicyType",
    "TagResource",
    "UntagResource",
];

fn delegable(operation: &str) -> bool {
    operation.starts_with("Describe") || operation.starts_with("List") || DELEGABLE.contains(&operation)
}

/// A stored resource policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ResourcePolicy {
    /// `rp-` + 8.
    pub id: String,
    /// The document.
    pub content: String,
}

impl ResourcePolicy {
    fn json(&self, org: &Organization) -> Value {
        json!({
            "ResourcePolicySummary": {
                "Id": self.id,
                "Arn": format!("arn:aws:organizations::{}:resourcepolicy/{}/{}", org.management_account, org.id, self.id),
            },
            "Content": self.content,
        })
    }
}

/// The resource policy of `org`, if it has one.
pub(crate) fn load<R: ReadTxn + ?Sized>(r: &R, org: &Organization) -> Result<Option<ResourcePolicy>, AwsError> {
    st(model::load(r, ORG_RESOURCE_POLICY, &org.id))
}

/// Remove the resource policy of `org` (with the organization).
pub(crate) fn delete_with(txn: &mut dyn WriteTxn, org: &Organization) -> Result<(), AwsError> {
    if let Some(p) = load(txn, org)? {
        save_tags(txn, &p.id, &[])?;
        st(txn.delete(ORG_RESOURCE_POLICY, &org.id))?;
    }
    Ok(())
}

fn not_found() -> AwsError {
    err(
        "ResourcePolicyNotFoundException",
        "We can't find a resource policy request with the parameter that you specified.",
    )
}

/// Check a resource policy: the IAM grammar of a resource-based policy
/// (`INVALID_RESOURCE_POLICY_JSON`), a `Principal` in every statement (`INVALID_PRINCIPAL`),
/// and only `organizations:` actions (`UNSUPPORTED_ACTION_IN_RESOURCE_POLICY`).
fn check_content(content: &str) -> Result<(), AwsError> {
    input::length(content, 1, MAX_CONTENT)?;
    let json_error =
        || input::invalid("INVALID_RESOURCE_POLICY_JSON", "The provided resource policy isn't valid JSON.");
    validate_policy_document(content, PolicyDocKind::Resource, "").map_err(|_| json_error())?;
    let doc: Value = serde_json::from_str(content).map_err(|_| json_error())?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    for st in statements {
        if st.get("Principal").is_none() && st.get("NotPrincipal").is_none() {
            return Err(input::invalid(
                "INVALID_PRINCIPAL",
                "The resource policy has a statement without a principal.",
            ));
        }
        let actions: Vec<&Value> = match st.get("Action").or_else(|| st.get("NotAction")) {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(one) => vec![one],
            None => Vec::new(),
        };
        let unsupported = actions
            .iter()
            .any(|a| a.as_str().is_none_or(|a| !a.get(..14).is_some_and(|p| p.eq_ignore_ascii_case("organizations:"))));
        if unsupported {
            return Err(input::invalid(
                "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY",
                "The resource policy names an action that is not an Organizations action.",
            ));
        }
    }
    Ok(())
}

/// `PutResourcePolicy` (management account): creates the policy, or replaces its content
/// (keeping its id).
pub(super) fn put(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let content = i.req_str("Content")?;
    let tags = i.tags("Tags")?;
    check_content(content)?;
    let org = org_for(s, call)?;
    let grant =
        authorize(s, call, "organizations:PutResourcePolicy", "*", tag_context(tags.as_deref().unwrap_or(&[])))?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    let policy = match load(&*txn, &org)? {
        Some(mut p) => {
            p.content = content.to_string();
            p
        }
        None => ResourcePolicy { id: format!("rp-{}", crate::ids::lower_alnum(8)), content: content.to_string() },
    };
    st(model::save(txn.as_mut(), ORG_RESOURCE_POLICY, &org.id, &policy))?;
    if let Some(tags) = tags {
        save_tags(txn.as_mut(), &policy.id, &tags)?;
    }
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({"ResourcePolicy": policy.json(&org)}))
}

/// `DescribeResourcePolicy` (management account or a delegated administrator).
pub(super) fn describe(s: &Services, call: &Call, _i: In) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DescribeResourcePolicy", "*", vec![])?;
    require_management_or_delegate(s, call, &org, grant)?;
    let r = st(s.store.read())?;
    let p = load(&*r, &org)?.ok_or_else(not_found)?;
    Ok(json!({"ResourcePolicy": p.json(&org)}))
}

/// `DeleteResourcePolicy` (management account).
pub(super) fn delete(s: &Services, call: &Call, _i: In) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DeleteResourcePolicy", "*", vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    if load(&*txn, &org)?.is_none() {
        return Err(not_found());
    }
    delete_with(txn.as_mut(), &org)?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------------
// For the authorizer

/// For a member account's caller in an organization with a resource policy: decide `action` on
/// `resource` with that policy as the resource's policy and the management account as the
/// resource's owner. `true` when it allows the request and the operation is one the policy may
/// open to members.
pub(super) fn authorize_through(
    s: &Services,
    call: &Call,
    action: &str,
    resource: &str,
    context: &[(String, Vec<String>)],
) -> Result<bool, AwsError> {
    let (org, policy) = {
        let r = st(s.store.read())?;
        let Some(org) = org_of(&*r, &call.caller.account)? else { return Ok(false) };
        if org.management_account == call.caller.account {
            return Ok(false);
        }
        let Some(policy) = load(&*r, &org)? else { return Ok(false) };
        (org, policy)
    };
    let req = AuthzRequest {
        action,
        resource,
        resource_account: Some(&org.management_account),
        resource_policy: Some(&policy.content),
        context: context.to_vec(),
        ..Default::default()
    };
    let decision = s.decide(call, &req)?;
    let allowed = decision.is_allowed() && delegable(&call.operation);
    if allowed {
        crate::access_record::note_decision(call, &decision);
    }
    Ok(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegable_operations_are_reads_and_policy_management() {
        for op in ["ListAccounts", "DescribeOrganization", "CreatePolicy", "AttachPolicy", "TagResource"] {
            assert!(delegable(op), "{op}");
        }
        for op in ["CreateAccount", "CreateOrganizationalUnit", "MoveAccount", "PutResourcePolicy", "CloseAccount"] {
            assert!(!delegable(op), "{op}");
        }
    }

    #[test]
    fn resource_policy_content_checks() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":["organizations:List*","ORGANIZATIONS:DescribeOrganization"],"Resource":"*"}]}"#;
        assert!(check_content(ok).is_ok());
        let reason = |doc: &str| check_content(doc).err().and_then(|e| e.reason).unwrap_or_default();
        assert_eq!(reason("{nope"), "INVALID_RESOURCE_POLICY_JSON");
        assert_eq!(
            reason(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#
            ),
            "UNSUPPORTED_ACTION_IN_RESOURCE_POLICY"
        );
        assert_eq!(reason(""), "MIN_LENGTH_EXCEEDED");
    }
}
