//! Managed policies: customer managed policies and their versions, AWS managed policies,
//! attachment to users, groups and roles, `ListEntitiesForPolicy`, permissions boundaries.

use tessera_store::ReadTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    already_exists, arn_or_default, aws_managed_read_only, boundary_context, check_boundary, check_tag_rules,
    delete_conflict, entity_arn, entity_context, index_use, is_policy_path, limit_exceeded, load_named, new_unique_id,
    no_such, no_such_entity, page_by_index, parse_policy_arn, parse_tags, policy_not_attachable, quota, quota_exceeded,
    release_unique_id, request_tags_context, require, resolve_policy, save_entity, unindex_use, url_encode,
    usage_counts, usage_counts_by_policy, write_tags, Context, Cx, Entity, PolicyRef, StoreResultExt,
    POLICY_PATH_PATTERN,
};
use crate::authz::{validate_policy_document, PolicyDocKind};
use crate::clock;
use crate::ids::IdKind;
use crate::managed;
use crate::model::{self, table, EntityKind, ManagedPolicy, PolicyAttachment, PolicyUsage, PolicyVersion};
use crate::validate::{self, Checks};

/// `v[1-9][0-9]*(\.[A-Za-z0-9-]*)?`: policy version ids.
pub const VERSION_ID_PATTERN: &str = r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?";

/// Whether `s` matches [`VERSION_ID_PATTERN`].
pub fn is_version_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let (num, suffix) = match rest.find('.') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    !num.is_empty()
        && !num.starts_with('0')
        && num.bytes().all(|b| b.is_ascii_digit())
        && suffix.is_none_or(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

fn policy_not_found(arn: &str) -> AwsError {
    no_such_entity(format!("Policy {arn} was not found."))
}

fn version_not_found(arn: &str, version: &str) -> AwsError {
    no_such_entity(format!("Policy {arn} version {version} does not exist or is not attachable."))
}

fn path_param(cx: &Cx<'_>, c: &mut Checks, param: &str) -> Option<String> {
    let v = cx.params.get(param)?;
    let field = tessera_wire::query::lower_first(param);
    c.length(&field, v, 1, 512).pattern(&field, v, POLICY_PATH_PATTERN, is_policy_path);
    Some(v.to_string())
}

fn version_param(cx: &Cx<'_>, c: &mut Checks) -> String {
    match cx.params.get("VersionId") {
        None => {
            c.not_null("versionId", false);
            String::new()
        }
        Some(v) => {
            c.pattern("versionId", v, VERSION_ID_PATTERN, is_version_id);
            v.to_string()
        }
    }
}

/// Write the members of a `Policy` element. `detail` adds the description and tags.
fn write_policy(w: &mut XmlWriter, p: &PolicyRef, counts: (u64, u64), detail: bool) {
    let (id, path, version, description, created, updated, tags): (&str, &str, &str, Option<&str>, i64, i64, &[_]) =
        match p {
            PolicyRef::Aws(a) => (a.policy_id, a.path, a.version_id, a.description, a.created, a.updated, &[]),
            PolicyRef::Local(l) => {
                (&l.policy_id, &l.path, &l.default_version_id, l.description.as_deref(), l.created, l.updated, &l.tags)
            }
        };
    w.elem("PolicyName", p.name())
        .elem("PolicyId", id)
        .elem("Arn", &p.arn())
        .elem("Path", path)
        .elem("DefaultVersionId", version)
        .elem("AttachmentCount", &counts.0.to_string())
        .elem("PermissionsBoundaryUsageCount", &counts.1.to_string())
        .elem("IsAttachable", "true");
    if detail {
        w.opt("Description", description);
    }
    w.elem("CreateDate", &clock::iso8601(created)).elem("UpdateDate", &clock::iso8601(updated));
    if detail {
        write_tags(w, tags);
    }
}

fn policy_xml(p: &PolicyRef, counts: (u64, u64)) -> String {
    let mut w = XmlWriter::fragment();
    w.open("Policy", None);
    write_policy(&mut w, p, counts, true);
    w.close();
    w.finish()
}

/// `CreatePolicy`: a customer managed policy with version `v1`.
pub(crate) fn create_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "PolicyName", 128);
    let path = path_param(cx, &mut c, "Path").unwrap_or_else(|| "/".into());
    let doc = cx.document(&mut c, "PolicyDocument");
    let description = cx.params.get("Description").map(str::to_string);
    c.length_opt("description", description.as_deref(), 0, 1000);
    let tags = parse_tags(&mut c, cx.params, "Tags");
    c.finish()?;
    check_tag_rules(&tags, false)?;
    let account = cx.account();
    let arn = entity_arn(account, "policy", &path, &name);
    cx.authorize("iam:CreatePolicy", &arn, request_tags_context(&tags))?;
    if !tags.is_empty() {
        cx.authorize("iam:TagPolicy", &arn, request_tags_context(&tags))?;
    }
    validate_policy_document(&doc, PolicyDocKind::Managed, &name)?;
    let now = cx.now();
    let policy = cx.write(|txn| {
        let key = model::name_key(account, &name);
        if txn.get(table::POLICY, &key).st()?.is_some() {
            return Err(already_exists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )));
        }
        if txn.count(table::POLICY, &format!("{account}/")).st()? >= quota::POLICIES_PER_ACCOUNT {
            return Err(quota_exceeded("PoliciesPerAccount", quota::POLICIES_PER_ACCOUNT));
        }
        let policy = ManagedPolicy {
            account: account.to_string(),
            name: name.clone(),
            path: path.clone(),
            policy_id: new_unique_id(txn, IdKind::Policy, table::POLICY, &key)?,
            description: description.clone().filter(|d| !d.is_empty()),
            created: now,
            updated: now,
            default_version_id: "v1".into(),
            versions: vec![PolicyVersion { version_id: "v1".into(), document: doc.clone(), created: now }],
            next_version: 2,
            tags: tags.clone(),
        };
        model::save(txn, table::POLICY, &key, &policy).st()?;
        Ok(policy)
    })?;
    Ok(cx.respond(Some(policy_xml(&PolicyRef::Local(Box::new(policy)), (0, 0)))))
}

/// Read `PolicyArn`, authorize `action` on it, and resolve it in a fresh snapshot.
fn authorized_policy(cx: &Cx<'_>, c: &mut Checks, action: &str) -> Result<(String, Option<PolicyRef>), AwsError> {
    let arn = cx.arn(c, "PolicyArn");
    c.finish()?;
    parse_policy_arn(&arn)?;
    let read = cx.read()?;
    let found = resolve_policy(read.as_ref(), cx.account(), &arn)?;
    drop(read);
    let ctx: Context = match &found {
        Some(PolicyRef::Local(p)) => super::entities::resource_tags_context(&p.tags),
        _ => Context::new(),
    };
    cx.authorize(action, &arn, ctx)?;
    Ok((arn, found))
}

/// The customer managed policy `arn` in a write transaction, or the error AWS gives.
fn local_policy(cx: &Cx<'_>, r: &(impl ReadTxn + ?Sized), action: &str, arn: &str) -> Result<ManagedPolicy, AwsError> {
    match resolve_policy(r, cx.account(), arn)? {
        Some(PolicyRef::Local(p)) => Ok(*p),
        Some(PolicyRef::Aws(_)) => Err(aws_managed_read_only(cx, action, arn)),
        None if arn.starts_with(managed::ARN_PREFIX) => Err(aws_managed_read_only(cx, action, arn)),
        None => Err(policy_not_found(arn)),
    }
}

fn save_policy(txn: &mut dyn tessera_store::WriteTxn, p: &ManagedPolicy) -> Result<(), AwsError> {
    model::save(txn, table::POLICY, &model::name_key(&p.account, &p.name), p).st()
}

/// `GetPolicy`: customer or AWS managed.
pub(crate) fn get_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let (arn, found) = authorized_policy(cx, &mut c, "iam:GetPolicy")?;
    let policy = found.ok_or_else(|| policy_not_found(&arn))?;
    let read = cx.read()?;
    let counts = usage_counts(read.as_ref(), cx.account(), &arn)?;
    Ok(cx.respond(Some(policy_xml(&policy, counts))))
}

/// `DeletePolicy`: refused while attached or used as a boundary, or while it has versions
/// besides the default.
pub(crate) fn delete_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let (arn, _) = authorized_policy(cx, &mut c, "iam:DeletePolicy")?;
    let account = cx.account();
    cx.write(|txn| {
        let policy = local_policy(cx, txn, "iam:DeletePolicy", &arn)?;
        let (attached, boundary) = usage_counts(txn, account, &arn)?;
        if attached > 0 || boundary > 0 {
            return Err(delete_conflict("Cannot delete a policy attached to entities."));
        }
        if policy.versions.len() > 1 {
            return Err(delete_conflict(
                "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.",
            ));
        }
        txn.delete(table::POLICY, &model::name_key(account, &policy.name)).st()?;
        release_unique_id(txn, &policy.policy_id)
    })?;
    Ok(cx.respond(None))
}

/// `ListPolicies`: AWS managed (Scope `AWS`), customer managed (`Local`) or both (`All`).
pub(crate) fn list_policies(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let scope = cx.params.get("Scope");
    c.one_of("scope", scope, &["All", "AWS", "Local"]);
    let usage = cx.params.get("PolicyUsageFilter");
    c.one_of("policyUsageFilter", usage, &["PermissionsPolicy", "PermissionsBoundary"]);
    let prefix = path_param(cx, &mut c, "PathPrefix");
    c.finish()?;
    let only_attached = cx.bool_opt("OnlyAttached")?.unwrap_or(false);
    let page = cx.page()?;
    let account = cx.account();
    cx.authorize("iam:ListPolicies", &entity_arn(account, "policy", prefix.as_deref().unwrap_or("/"), ""), Vec::new())?;
    let scope = scope.unwrap_or("All");
    let read = cx.read()?;
    let mut items: Vec<(String, PolicyRef)> = Vec::new();
    if scope != "Local" {
        for p in managed::all() {
            items.push((format!("0{}", p.name.to_ascii_lowercase()), PolicyRef::Aws(p)));
        }
    }
    if scope != "AWS" {
        let rows = read.scan(table::POLICY, &format!("{account}/"), None, usize::MAX).st()?;
        for (_, p) in model::decode_rows::<ManagedPolicy>(table::POLICY, rows).st()? {
            items.push((format!("1{}", p.name.to_ascii_lowercase()), PolicyRef::Local(Box::new(p))));
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    items.retain(|(_, p)| prefix.as_deref().is_none_or(|pre| p.path().starts_with(pre)));
    // The catalogue holds well over a thousand AWS managed policies: count uses with one scan of
    // the account's uses when every policy's counts decide what is listed (`OnlyAttached`), and
    // otherwise only for the page returned.
    let kept: Vec<(String, PolicyRef, (u64, u64))> = if only_attached {
        let counts = usage_counts_by_policy(read.as_ref(), account)?;
        items
            .into_iter()
            .filter_map(|(key, p)| {
                let c = counts.get(&p.arn()).copied().unwrap_or_default();
                let used = match usage {
                    Some("PermissionsPolicy") => c.0 > 0,
                    Some("PermissionsBoundary") => c.1 > 0,
                    _ => c.0 > 0 || c.1 > 0,
                };
                used.then_some((key, p, c))
            })
            .collect()
    } else {
        items.into_iter().map(|(key, p)| (key, p, (0, 0))).collect()
    };
    let (mut kept, marker) = page.apply(kept, |(k, _, _)| k.clone());
    if !only_attached {
        for (_, p, counts) in &mut kept {
            *counts = usage_counts(read.as_ref(), account, &p.arn())?;
        }
    }
    let mut w = XmlWriter::fragment();
    w.open("Policies", None);
    for (_, p, counts) in &kept {
        w.open("member", None);
        write_policy(&mut w, p, *counts, false);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

fn write_version(w: &mut XmlWriter, v: &PolicyVersion, is_default: bool, with_document: bool) {
    if with_document {
        w.elem("Document", &url_encode(&v.document));
    }
    w.elem("VersionId", &v.version_id)
        .elem("IsDefaultVersion", if is_default { "true" } else { "false" })
        .elem("CreateDate", &clock::iso8601(v.created));
}

/// The versions of a policy, oldest first (AWS managed: the one shipped version).
fn versions_of(p: &PolicyRef) -> (Vec<PolicyVersion>, String) {
    match p {
        PolicyRef::Aws(a) => (
            vec![PolicyVersion { version_id: a.version_id.into(), document: a.document.into(), created: a.updated }],
            a.version_id.into(),
        ),
        PolicyRef::Local(l) => (l.versions.clone(), l.default_version_id.clone()),
    }
}

/// `CreatePolicyVersion` (at most 5 versions; `SetAsDefault`).
pub(crate) fn create_policy_version(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let doc = cx.document(&mut c, "PolicyDocument");
    let (arn, found) = authorized_policy(cx, &mut c, "iam:CreatePolicyVersion")?;
    let set_default = cx.bool_opt("SetAsDefault")?.unwrap_or(false);
    if let Some(p) = &found {
        validate_policy_document(&doc, PolicyDocKind::Managed, p.name())?;
    }
    let now = cx.now();
    let version = cx.write(|txn| {
        let mut policy = local_policy(cx, txn, "iam:CreatePolicyVersion", &arn)?;
        if policy.versions.len() >= quota::VERSIONS_PER_POLICY {
            return Err(limit_exceeded(format!(
                "A managed policy can have up to {} versions. Before you create a new version, you must delete an existing version.",
                quota::VERSIONS_PER_POLICY
            )));
        }
        let version =
            PolicyVersion { version_id: format!("v{}", policy.next_version), document: doc.clone(), created: now };
        policy.next_version += 1;
        policy.versions.push(version.clone());
        if set_default {
            policy.default_version_id = version.version_id.clone();
        }
        policy.updated = now;
        save_policy(txn, &policy)?;
        Ok(version)
    })?;
    let mut w = XmlWriter::fragment();
    w.open("PolicyVersion", None);
    write_version(&mut w, &version, set_default, false);
    w.close();
    Ok(cx.respond(Some(w.finish())))
}

/// `GetPolicyVersion`: the document URL-encoded.
pub(crate) fn get_policy_version(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let version_id = version_param(cx, &mut c);
    let (arn, found) = authorized_policy(cx, &mut c, "iam:GetPolicyVersion")?;
    let policy = found.ok_or_else(|| policy_not_found(&arn))?;
    let (versions, default) = versions_of(&policy);
    let v = versions.iter().find(|v| v.version_id == version_id).ok_or_else(|| version_not_found(&arn, &version_id))?;
    let mut w = XmlWriter::fragment();
    w.open("PolicyVersion", None);
    write_version(&mut w, v, v.version_id == default, true);
    w.close();
    Ok(cx.respond(Some(w.finish())))
}

/// `ListPolicyVersions`: newest first, without documents.
pub(crate) fn list_policy_versions(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let (arn, found) = authorized_policy(cx, &mut c, "iam:ListPolicyVersions")?;
    let page = cx.page()?;
    let policy = found.ok_or_else(|| policy_not_found(&arn))?;
    let (mut versions, default) = versions_of(&policy);
    versions.reverse();
    let (versions, marker) = page_by_index(&page, versions);
    let mut w = XmlWriter::fragment();
    w.open("Versions", None);
    for v in &versions {
        w.open("member", None);
        write_version(&mut w, v, v.version_id == default, false);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// `DeletePolicyVersion` (never the default version).
pub(crate) fn delete_policy_version(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let version_id = version_param(cx, &mut c);
    let (arn, _) = authorized_policy(cx, &mut c, "iam:DeletePolicyVersion")?;
    let now = cx.now();
    cx.write(|txn| {
        let mut policy = local_policy(cx, txn, "iam:DeletePolicyVersion", &arn)?;
        let i = policy
            .versions
            .iter()
            .position(|v| v.version_id == version_id)
            .ok_or_else(|| version_not_found(&arn, &version_id))?;
        if policy.default_version_id == version_id {
            return Err(delete_conflict("Cannot delete the default version of a policy."));
        }
        policy.versions.remove(i);
        policy.updated = now;
        save_policy(txn, &policy)
    })?;
    Ok(cx.respond(None))
}

/// `SetDefaultPolicyVersion`.
pub(crate) fn set_default_policy_version(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let version_id = version_param(cx, &mut c);
    let (arn, _) = authorized_policy(cx, &mut c, "iam:SetDefaultPolicyVersion")?;
    let now = cx.now();
    cx.write(|txn| {
        let mut policy = local_policy(cx, txn, "iam:SetDefaultPolicyVersion", &arn)?;
        if !policy.versions.iter().any(|v| v.version_id == version_id) {
            return Err(version_not_found(&arn, &version_id));
        }
        policy.default_version_id = version_id.clone();
        policy.updated = now;
        save_policy(txn, &policy)
    })?;
    Ok(cx.respond(None))
}

fn attach_name_max(kind: EntityKind) -> usize {
    match kind {
        EntityKind::Group => 128,
        EntityKind::User | EntityKind::Role => 64,
    }
}

/// Read the entity named by `<Word>Name` and authorize `action` on it with `extra` context.
fn entity_for<E: Entity>(
    cx: &Cx<'_>,
    c: &mut Checks,
    name_max: usize,
    action: &str,
    extra: impl FnOnce(&mut Checks) -> Context,
) -> Result<(String, Option<E>), AwsError> {
    let name = cx.name(c, &format!("{}Name", E::OP_WORD), name_max);
    let mut ctx = extra(c);
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let e: Option<E> = load_named(read.as_ref(), E::TABLE, account, &name)?;
    drop(read);
    // Context the operation supplies (a new boundary) takes precedence over the entity's own.
    for (k, v) in entity_context(e.as_ref()) {
        if !ctx.iter().any(|(have, _)| have.eq_ignore_ascii_case(&k)) {
            ctx.push((k, v));
        }
    }
    cx.authorize(action, &arn_or_default(account, e.as_ref(), &name), ctx)?;
    Ok((name, e))
}

/// `Attach{User,Group,Role}Policy` (idempotent; at most 10 managed policies per entity).
pub(crate) fn attach<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let mut arn = String::new();
    let (name, _) =
        entity_for::<E>(cx, &mut c, attach_name_max(E::KIND), &format!("iam:Attach{}Policy", E::OP_WORD), |c| {
            arn = cx.arn(c, "PolicyArn");
            vec![("iam:PolicyARN".to_string(), vec![arn.clone()])]
        })?;
    let account = cx.account();
    cx.write(|txn| {
        let mut e: E = require(txn, account, &name)?;
        if resolve_policy(txn, account, &arn)?.is_none() {
            return Err(policy_not_attachable(&arn));
        }
        // AWS managed policies for service-linked roles belong to those roles alone.
        if arn.starts_with(&format!("{}{}", managed::ARN_PREFIX, super::roles::SERVICE_LINKED_PATH)) {
            return Err(AwsError::new(
                400,
                "PolicyNotAttachable",
                "Cannot attach a Service Role Policy to a Customer Role.",
            ));
        }
        if e.attached().contains(&arn) {
            return Ok(());
        }
        if e.attached().len() >= quota::MANAGED_POLICIES_PER_ENTITY {
            return Err(quota_exceeded(&format!("PoliciesPer{}", E::OP_WORD), quota::MANAGED_POLICIES_PER_ENTITY));
        }
        e.attached_mut().push(arn.clone());
        save_entity(txn, account, &e)?;
        index_use(txn, account, &arn, PolicyUsage::PermissionsPolicy, &e)
    })?;
    Ok(cx.respond(None))
}

/// `Detach{User,Group,Role}Policy`.
pub(crate) fn detach<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let mut arn = String::new();
    let (name, _) =
        entity_for::<E>(cx, &mut c, attach_name_max(E::KIND), &format!("iam:Detach{}Policy", E::OP_WORD), |c| {
            arn = cx.arn(c, "PolicyArn");
            vec![("iam:PolicyARN".to_string(), vec![arn.clone()])]
        })?;
    parse_policy_arn(&arn)?;
    let account = cx.account();
    cx.write(|txn| {
        let mut e: E = require(txn, account, &name)?;
        let i = e.attached().iter().position(|a| *a == arn).ok_or_else(|| policy_not_found(&arn))?;
        e.attached_mut().remove(i);
        save_entity(txn, account, &e)?;
        unindex_use(txn, account, &arn, PolicyUsage::PermissionsPolicy, &e)
    })?;
    Ok(cx.respond(None))
}

/// `ListAttached{User,Group,Role}Policies`.
pub(crate) fn list_attached<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let mut prefix = None;
    let (name, e) = entity_for::<E>(
        cx,
        &mut c,
        attach_name_max(E::KIND),
        &format!("iam:ListAttached{}Policies", E::OP_WORD),
        |c| {
            prefix = path_param(cx, c, "PathPrefix");
            Context::new()
        },
    )?;
    let page = cx.page()?;
    let e = e.ok_or_else(|| no_such(E::KIND, &name))?;
    let mut attached = Vec::new();
    for arn in e.attached() {
        let Ok((_, path, pname)) = parse_policy_arn(arn) else {
            continue;
        };
        if prefix.as_deref().is_none_or(|p| path.starts_with(p)) {
            attached.push((pname, arn.clone()));
        }
    }
    let (attached, marker) = page_by_index(&page, attached);
    let mut w = XmlWriter::fragment();
    w.open("AttachedPolicies", None);
    for (pname, arn) in &attached {
        w.open("member", None).elem("PolicyName", pname).elem("PolicyArn", arn).close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// `ListEntitiesForPolicy`: the users, groups and roles that use a managed policy.
pub(crate) fn list_entities_for_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let filter = cx.params.get("EntityFilter");
    c.one_of("entityFilter", filter, &["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]);
    let usage = cx.params.get("PolicyUsageFilter");
    c.one_of("policyUsageFilter", usage, &["PermissionsPolicy", "PermissionsBoundary"]);
    let prefix = cx.path_opt(&mut c, "PathPrefix");
    let (arn, found) = authorized_policy(cx, &mut c, "iam:ListEntitiesForPolicy")?;
    let page = cx.page()?;
    if found.is_none() {
        return Err(policy_not_found(&arn));
    }
    let account = cx.account();
    let read = cx.read()?;
    let key_prefix = model::attachment_prefix(account, &arn);
    let kind = match filter {
        Some("User") => Some(Some(EntityKind::User)),
        Some("Role") => Some(Some(EntityKind::Role)),
        Some("Group") => Some(Some(EntityKind::Group)),
        Some(_) => Some(None),
        None => None,
    };
    let usage = match usage {
        Some("PermissionsPolicy") => Some(PolicyUsage::PermissionsPolicy),
        Some("PermissionsBoundary") => Some(PolicyUsage::PermissionsBoundary),
        _ => None,
    };
    let (rows, marker) = super::entities::scan_page::<PolicyAttachment>(
        read.as_ref(),
        table::POLICY_ATTACHMENT,
        &key_prefix,
        &page,
        |a| {
            kind.is_none_or(|k| k == Some(a.kind))
                && usage.is_none_or(|u| u == a.usage)
                && prefix.as_deref().is_none_or(|p| a.path.starts_with(p))
        },
    )?;
    let mut w = XmlWriter::fragment();
    for (elem, k, name_elem, id_elem) in [
        ("PolicyGroups", EntityKind::Group, "GroupName", "GroupId"),
        ("PolicyUsers", EntityKind::User, "UserName", "UserId"),
        ("PolicyRoles", EntityKind::Role, "RoleName", "RoleId"),
    ] {
        w.open(elem, None);
        for a in rows.iter().filter(|a| a.kind == k) {
            w.open("member", None).elem(name_elem, &a.name).elem(id_elem, &a.id).close();
        }
        w.close();
    }
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// `Put{User,Role}PermissionsBoundary`.
pub(crate) fn put_boundary<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let mut arn = String::new();
    let (name, _) = entity_for::<E>(cx, &mut c, 64, &format!("iam:Put{}PermissionsBoundary", E::OP_WORD), |c| {
        arn = cx.arn(c, "PermissionsBoundary");
        boundary_context(Some(&arn))
    })?;
    let account = cx.account();
    cx.write(|txn| {
        let mut e: E = require(txn, account, &name)?;
        check_boundary(txn, account, &arn)?;
        if let Some(old) = e.boundary().map(str::to_string) {
            unindex_use(txn, account, &old, PolicyUsage::PermissionsBoundary, &e)?;
        }
        e.set_boundary(Some(arn.clone()));
        save_entity(txn, account, &e)?;
        index_use(txn, account, &arn, PolicyUsage::PermissionsBoundary, &e)
    })?;
    Ok(cx.respond(None))
}

/// `Delete{User,Role}PermissionsBoundary` (a no-op when none is set).
pub(crate) fn delete_boundary<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let (name, _) =
        entity_for::<E>(cx, &mut c, 64, &format!("iam:Delete{}PermissionsBoundary", E::OP_WORD), |_| Context::new())?;
    let account = cx.account();
    cx.write(|txn| {
        let mut e: E = require(txn, account, &name)?;
        if let Some(old) = e.boundary().map(str::to_string) {
            unindex_use(txn, account, &old, PolicyUsage::PermissionsBoundary, &e)?;
            e.set_boundary(None);
            save_entity(txn, account, &e)?;
        }
        Ok(())
    })?;
    Ok(cx.respond(None))
}
