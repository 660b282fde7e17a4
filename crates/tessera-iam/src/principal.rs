//! What the authorizer needs to know about a principal: its identity-based policies (inline
//! and managed, its groups' too), its permissions boundary and its tags.

use tessera_store::{ReadTxn, StoreError};

use super::entities::parse_policy_arn;
use crate::caller::CallerKind;
use crate::managed;
use crate::model::{self, table, Group, ManagedPolicy, Role, Tag, User};

/// A policy document and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabeledPolicy {
    /// `user/<user>/<policy>`, `group/<group>/<policy>`, `role/<role>/<policy>` for inline
    /// policies; the policy ARN for managed policies.
    pub label: String,
    /// The document (the default version of a managed policy).
    pub document: String,
}

/// The policies of one principal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrincipalPolicies {
    /// Identity-based policies: the principal's inline and attached managed policies, then
    /// those of each group of a user. Each managed policy appears once.
    pub identity: Vec<LabeledPolicy>,
    /// The permissions boundary (label: its ARN), if one is set.
    pub boundary: Option<LabeledPolicy>,
    /// The principal's tags (`aws:PrincipalTag/...`; session tags of a role session are the
    /// authorizer's to merge on top).
    pub tags: Vec<Tag>,
}

/// The default document of managed policy `arn` as seen from `account`: AWS managed policies
/// from the built-in catalog, customer managed policies of `account` from the store.
pub fn managed_policy_document(read: &dyn ReadTxn, account: &str, arn: &str) -> Result<Option<String>, StoreError> {
    if let Some(p) = managed::by_arn(arn) {
        return Ok(Some(p.document.to_string()));
    }
    let Ok((owner, path, name)) = parse_policy_arn(arn) else {
        return Ok(None);
    };
    if owner != account {
        return Ok(None);
    }
    let policy: Option<ManagedPolicy> = model::load(read, table::POLICY, &model::name_key(account, &name))?;
    Ok(policy.filter(|p| p.path == path && p.name == name).and_then(|p| p.default_document().map(str::to_string)))
}

fn add_managed(
    read: &dyn ReadTxn,
    account: &str,
    arns: &[String],
    out: &mut Vec<LabeledPolicy>,
) -> Result<(), StoreError> {
    for arn in arns {
        if out.iter().any(|p| p.label == *arn) {
            continue;
        }
        if let Some(document) = managed_policy_document(read, account, arn)? {
            out.push(LabeledPolicy { label: arn.clone(), document });
        }
    }
    Ok(())
}

fn add_inline(word: &str, entity: &str, inline: &[(String, String)], out: &mut Vec<LabeledPolicy>) {
    for (name, doc) in inline {
        out.push(LabeledPolicy { label: format!("{word}/{entity}/{name}"), document: doc.clone() });
    }
}

fn boundary(read: &dyn ReadTxn, account: &str, arn: Option<&str>) -> Result<Option<LabeledPolicy>, StoreError> {
    let Some(arn) = arn else {
        return Ok(None);
    };
    // A boundary that no longer resolves allows nothing: an empty statement list.
    let document = managed_policy_document(read, account, arn)?
        .unwrap_or_else(|| r#"{"Version":"2012-10-17","Statement":[]}"#.to_string());
    Ok(Some(LabeledPolicy { label: arn.to_string(), document }))
}

fn user_policies(read: &dyn ReadTxn, account: &str, name: &str) -> Result<PrincipalPolicies, StoreError> {
    let Some(user) = model::load::<User>(read, table::USER, &model::name_key(account, name))? else {
        return Ok(PrincipalPolicies::default());
    };
    let mut identity = Vec::new();
    add_inline("user", &user.name, &user.inline_policies, &mut identity);
    add_managed(read, account, &user.attached_policies, &mut identity)?;
    for g in &user.groups {
        if let Some(group) = model::load::<Group>(read, table::GROUP, &model::name_key(account, g))? {
            add_inline("group", &group.name, &group.inline_policies, &mut identity);
            add_managed(read, account, &group.attached_policies, &mut identity)?;
        }
    }
    Ok(PrincipalPolicies {
        identity,
        boundary: boundary(read, account, user.permissions_boundary.as_deref())?,
        tags: user.tags,
    })
}

fn role_policies(read: &dyn ReadTxn, account: &str, name: &str) -> Result<PrincipalPolicies, StoreError> {
    let Some(role) = model::load::<Role>(read, table::ROLE, &model::name_key(account, name))? else {
        return Ok(PrincipalPolicies::default());
    };
    let mut identity = Vec::new();
    add_inline("role", &role.name, &role.inline_policies, &mut identity);
    add_managed(read, account, &role.attached_policies, &mut identity)?;
    Ok(PrincipalPolicies {
        identity,
        boundary: boundary(read, account, role.permissions_boundary.as_deref())?,
        tags: role.tags,
    })
}

/// Everything the authorizer needs about the principal `kind` of `account`. The root user has
/// no identity policies (it is allowed by being root); a federated user has the policies of the
/// IAM user that called `GetFederationToken`. A principal whose entity no longer exists has none.
pub fn principal_policies(
    read: &dyn ReadTxn,
    account: &str,
    kind: &CallerKind,
) -> Result<PrincipalPolicies, StoreError> {
    match kind {
        CallerKind::Root => Ok(PrincipalPolicies::default()),
        CallerKind::User { name, .. } => user_policies(read, account, name),
        CallerKind::FederatedUser { user_name, .. } => user_policies(read, account, user_name),
        CallerKind::AssumedRole { role_name, .. } => role_policies(read, account, role_name),
    }
}
