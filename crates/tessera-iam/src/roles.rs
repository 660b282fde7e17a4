//! IAM roles: CreateRole, GetRole, UpdateRole, UpdateRoleDescription, UpdateAssumeRolePolicy,
//! DeleteRole, ListRoles.

use tessera_store::WriteTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    already_exists, arn_or_default, boundary_context, check_boundary, check_tag_rules, delete_conflict, entity_arn,
    entity_context, index_use, invalid_input, is_role_description, load_named, new_unique_id, parse_tags, quota,
    quota_exceeded, release_unique_id, request_tags_context, require, save_entity, scan_page, unindex_use, write_role,
    Cx, Entity, StoreResultExt, ROLE_DESCRIPTION_PATTERN,
};
use crate::authz::{validate_policy_document, PolicyDocKind};
use crate::ids::IdKind;
use crate::model::{self, table, PolicyUsage, Role, Tag};
use crate::validate::{self, Checks};

/// Path prefix reserved for service-linked roles.
pub const SERVICE_LINKED_PATH: &str = "/aws-service-role/";

/// Default `MaxSessionDuration` (one hour).
pub const DEFAULT_MAX_SESSION_DURATION: i64 = 3600;

/// What a new role is made of.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Trust policy (already validated).
    pub trust_policy: String,
    /// Description.
    pub description: Option<String>,
    /// Maximum session duration in seconds.
    pub max_session_duration: i64,
    /// Permissions boundary ARN (already checked).
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Create a role inside a transaction: name uniqueness, the account's role quota, a unique id,
/// the boundary index. No authorization: for the IAM API after it authorized, and for code that
/// creates roles on an account's behalf (Organizations' `OrganizationAccountAccessRole`).
pub fn create_role_in_txn(txn: &mut dyn WriteTxn, account: &str, new: NewRole, now: i64) -> Result<Role, AwsError> {
    create_role_with_quota(txn, account, new, now, Some(quota::ROLES_PER_ACCOUNT))
}

/// [`create_role_in_txn`] with the account's role quota given, `None` for no quota: for bulk
/// loads past IAM's default quotas (the IAM scale benchmark's fill). The records are the same.
pub fn create_role_with_quota(
    txn: &mut dyn WriteTxn,
    account: &str,
    new: NewRole,
    now: i64,
    max_roles: Option<u64>,
) -> Result<Role, AwsError> {
    let key = model::name_key(account, &new.name);
    if txn.get(table::ROLE, &key).st()?.is_some() {
        return Err(already_exists(format!("Role with name {} already exists.", new.name)));
    }
    if let Some(max) = max_roles {
        if txn.count(table::ROLE, &format!("{account}/")).st()? >= max {
            return Err(quota_exceeded("RolesPerAccount", max));
        }
    }
    let role = Role {
        account: account.to_string(),
        name: new.name,
        path: new.path,
        role_id: new_unique_id(txn, IdKind::Role, table::ROLE, &key)?,
        created: now,
        assume_role_policy_document: new.trust_policy,
        description: new.description,
        max_session_duration: new.max_session_duration,
        tags: new.tags,
        permissions_boundary: new.permissions_boundary,
        inline_policies: Vec::new(),
        attached_policies: Vec::new(),
        last_used: None,
        source_role_template: None,
    };
    save_entity(txn, account, &role)?;
    if let Some(b) = role.boundary() {
        index_use(txn, account, b, PolicyUsage::PermissionsBoundary, &role)?;
    }
    Ok(role)
}

/// The optional role `Description` (0-1000, the model's pattern).
pub(crate) fn description_opt(cx: &Cx<'_>, c: &mut Checks) -> Option<String> {
    let d = cx.params.get("Description")?;
    c.length("description", d, 0, 1000).pattern("description", d, ROLE_DESCRIPTION_PATTERN, is_role_description);
    Some(d.to_string())
}

/// `<Role>` as Create/Get answer it.
pub fn role_xml(role: &Role) -> String {
    let mut w = XmlWriter::fragment();
    w.open("Role", None);
    write_role(&mut w, role, true);
    w.close();
    w.finish()
}

/// `CreateRole`.
pub(crate) fn create_role(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "RoleName", 64);
    let path = cx.path_opt(&mut c, "Path").unwrap_or_else(|| "/".into());
    let trust = cx.document(&mut c, "AssumeRolePolicyDocument");
    let description = description_opt(cx, &mut c);
    let max_session = cx.int_opt(&mut c, "MaxSessionDuration", 3600, 43200)?;
    let boundary = cx.arn_opt(&mut c, "PermissionsBoundary");
    let tags = parse_tags(&mut c, cx.params, "Tags");
    c.finish()?;
    check_tag_rules(&tags, true)?;
    if path.starts_with(SERVICE_LINKED_PATH) {
        return Err(invalid_input(format!(
            "Path prefix '{SERVICE_LINKED_PATH}' can only be used for AWS Service linked Roles"
        )));
    }
    let account = cx.account();
    let arn = entity_arn(account, "role", &path, &name);
    let mut ctx = request_tags_context(&tags);
    ctx.extend(boundary_context(boundary.as_deref()));
    cx.authorize("iam:CreateRole", &arn, ctx)?;
    if !tags.is_empty() {
        cx.authorize("iam:TagRole", &arn, request_tags_context(&tags))?;
    }
    validate_policy_document(&trust, PolicyDocKind::Trust, &name)?;
    let role = cx.write(|txn| {
        check_trust_principals(txn, account, &trust)?;
        if let Some(b) = &boundary {
            check_boundary(txn, account, b)?;
        }
        let new = NewRole {
            name: name.clone(),
            path: path.clone(),
            trust_policy: trust.clone(),
            description: description.clone().filter(|d| !d.is_empty()),
            max_session_duration: max_session.unwrap_or(DEFAULT_MAX_SESSION_DURATION),
            permissions_boundary: boundary.clone(),
            tags: tags.clone(),
        };
        create_role_in_txn(txn, account, new, cx.now())
    })?;
    Ok(cx.respond(Some(role_xml(&role))))
}

/// Load the role `name` (if it exists) and authorize `action` on it (on its ARN at `/` when it
/// does not exist, so that an unauthorized caller learns nothing).
pub(crate) fn authorized_role(cx: &Cx<'_>, name: &str, action: &str) -> Result<Option<Role>, AwsError> {
    let account = cx.account();
    let read = cx.read()?;
    let role: Option<Role> = load_named(read.as_ref(), table::ROLE, account, name)?;
    drop(read);
    cx.authorize(action, &arn_or_default(account, role.as_ref(), name), entity_context(role.as_ref()))?;
    Ok(role)
}

/// `GetRole`: with the trust policy URL-encoded, `RoleLastUsed`, boundary and tags.
pub(crate) fn get_role(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "RoleName", 64);
    c.finish()?;
    let role = authorized_role(cx, &name, "iam:GetRole")?;
    let role = role.ok_or_else(|| super::entities::no_such(model::EntityKind::Role, &name))?;
    Ok(cx.respond(Some(role_xml(&role))))
}

/// `UpdateRole` (description, max session duration) and `UpdateRoleDescription`.
pub(crate) fn update_role(cx: &Cx<'_>, description_only: bool) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "RoleName", 64);
    let description = description_opt(cx, &mut c);
    if description_only {
        c.not_null("description", description.is_some());
    }
    let max_session = if description_only { None } else { cx.int_opt(&mut c, "MaxSessionDuration", 3600, 43200)? };
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let role: Option<Role> = load_named(read.as_ref(), table::ROLE, account, &name)?;
    drop(read);
    let action = if description_only { "iam:UpdateRoleDescription" } else { "iam:UpdateRole" };
    cx.authorize(action, &arn_or_default(account, role.as_ref(), &name), entity_context(role.as_ref()))?;
    // A service-linked role's description may be edited, nothing else ("Update a service-linked
    // role", IAM User Guide).
    if max_session.is_some() && role.as_ref().is_some_and(super::service_linked_roles::is_service_linked) {
        return Err(super::service_linked_roles::unmodifiable(&name));
    }
    let role = cx.write(|txn| {
        let mut role: Role = require(txn, account, &name)?;
        if let Some(d) = &description {
            role.description = Some(d.clone()).filter(|d| !d.is_empty());
        }
        if let Some(m) = max_session {
            role.max_session_duration = m;
        }
        save_entity(txn, account, &role)?;
        Ok(role)
    })?;
    if description_only {
        Ok(cx.respond(Some(role_xml(&role))))
    } else {
        Ok(cx.respond(Some(String::new())))
    }
}

/// `UpdateAssumeRolePolicy`.
pub(crate) fn update_assume_role_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "RoleName", 64);
    let doc = cx.document(&mut c, "PolicyDocument");
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let role: Option<Role> = load_named(read.as_ref(), table::ROLE, account, &name)?;
    drop(read);
    cx.authorize(
        "iam:UpdateAssumeRolePolicy",
        &arn_or_default(account, role.as_ref(), &name),
        entity_context(role.as_ref()),
    )?;
    if role.is_none() {
        return Err(super::entities::no_such(model::EntityKind::Role, &name));
    }
    validate_policy_document(&doc, PolicyDocKind::Trust, &name)?;
    cx.write(|txn| {
        check_trust_principals(txn, account, &doc)?;
        let mut role: Role = require(txn, account, &name)?;
        role.assume_role_policy_document = doc.clone();
        save_entity(txn, account, &role)
    })?;
    Ok(cx.respond(None))
}

/// IAM refuses a trust policy naming an IAM user or role that does not exist ("Invalid principal
/// in policy", IAM User Guide, "Troubleshooting IAM policies"): it stores the principal's unique
/// id. Checked for users and roles of every account this Tessera holds (the role's own and, for
/// cross-account trust, the other's), exactly as named (with path); ARNs with wildcards, and those
/// of accounts Tessera does not hold, are left to evaluation.
pub fn check_trust_principals(
    r: &(impl tessera_store::ReadTxn + ?Sized),
    own_account: &str,
    document: &str,
) -> Result<(), AwsError> {
    let Ok(policy) = tessera_policy::parse(document, tessera_policy::PolicyType::Trust) else { return Ok(()) };
    for arn in policy.principal_arns() {
        let Some((account, rest)) = arn.strip_prefix("arn:aws:iam::").and_then(|x| x.split_once(':')) else {
            continue;
        };
        if arn.contains(['*', '?']) || account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if account != own_account && crate::organizations::load_account(r, account)?.is_none() {
            continue;
        }
        let (table, resource) = if let Some(r) = rest.strip_prefix("user/") {
            (table::USER, r)
        } else if let Some(r) = rest.strip_prefix("role/") {
            (table::ROLE, r)
        } else {
            continue;
        };
        let (path, name) = match resource.rfind('/') {
            Some(i) => (format!("/{}", &resource[..=i]), &resource[i + 1..]),
            None => ("/".to_string(), resource),
        };
        let found_path = if table == table::USER {
            load_named::<model::User>(r, table, account, name)?.map(|u| (u.path, u.name))
        } else {
            load_named::<Role>(r, table, account, name)?.map(|x| (x.path, x.name))
        };
        if found_path.as_ref().is_none_or(|(p, n)| *p != path || !n.eq_ignore_ascii_case(name)) {
            return Err(AwsError::new(
                400,
                "MalformedPolicyDocument",
                format!("Invalid principal in policy: \"AWS\":\"{arn}\""),
            ));
        }
    }
    Ok(())
}

/// Key prefix of a role's instance profile memberships.
pub(crate) fn role_profiles_prefix(account: &str, role: &str) -> String {
    format!("{account}/{}/", role.to_ascii_lowercase())
}

/// `DeleteRole`: refused while the role is in an instance profile or has policies.
pub(crate) fn delete_role(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "RoleName", 64);
    c.finish()?;
    let account = cx.account();
    authorized_role(cx, &name, "iam:DeleteRole")?;
    cx.write(|txn| {
        let role: Role = require(txn, account, &name)?;
        if txn.count(table::ROLE_INSTANCE_PROFILE, &role_profiles_prefix(account, &role.name)).st()? > 0 {
            return Err(delete_conflict("Cannot delete entity, must remove roles from instance profile first."));
        }
        if !role.inline_policies.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must delete policies first."));
        }
        if !role.attached_policies.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        if let Some(b) = role.boundary() {
            unindex_use(txn, account, b, PolicyUsage::PermissionsBoundary, &role)?;
        }
        txn.delete(table::ROLE, &model::name_key(account, &role.name)).st()?;
        release_unique_id(txn, &role.role_id)?;
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// `ListRoles` (without tags, boundary and last use, as AWS lists them).
pub(crate) fn list_roles(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let prefix = cx.path_prefix_opt(&mut c);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    cx.authorize("iam:ListRoles", &entity_arn(account, "role", prefix.as_deref().unwrap_or("/"), ""), Vec::new())?;
    let read = cx.read()?;
    let (roles, marker) = scan_page::<Role>(read.as_ref(), table::ROLE, &format!("{account}/"), &page, |r| {
        prefix.as_deref().is_none_or(|p| r.path.starts_with(p))
    })?;
    let mut w = XmlWriter::fragment();
    w.open("Roles", None);
    for r in &roles {
        w.open("member", None);
        write_role(&mut w, r, false);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}
