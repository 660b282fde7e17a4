//! Policy types, policies, attachments and tags.

use serde_json::{json, Value};
use tessera_wire::AwsError;

use super::accounts::{org_for, root_json, with_token};
use super::input::{self, In};
use super::*;
use crate::authz::{validate_policy_document, PolicyDocKind};
use crate::ids;

/// Most policies of one type in an organization (AWS's quota).
const MAX_POLICIES_PER_TYPE: usize = 1000;

/// Most characters of a policy document of `policy_type` (SCPs and RCPs: 5,120).
fn max_content(policy_type: &str) -> usize {
    match policy_type {
        SERVICE_CONTROL_POLICY | RESOURCE_CONTROL_POLICY => 5120,
        "AISERVICES_OPT_OUT_POLICY" => 2500,
        _ => 10_000,
    }
}

/// Most policies of `policy_type` attached to one target (SCPs and RCPs: 5).
fn max_attachments(policy_type: &str) -> usize {
    match policy_type {
        SERVICE_CONTROL_POLICY | RESOURCE_CONTROL_POLICY => 5,
        _ => 10,
    }
}

fn policy_not_found() -> AwsError {
    err("PolicyNotFoundException", "We can't find a policy with the PolicyId that you specified.")
}

fn target_not_found() -> AwsError {
    err("TargetNotFoundException", "We can't find a root, OU, account, or policy with the TargetId that you specified.")
}

fn root_not_found() -> AwsError {
    err("RootNotFoundException", "We can't find a root with the RootId that you specified.")
}

fn immutable() -> AwsError {
    input::invalid("IMMUTABLE_POLICY", "You specified a policy that is managed by AWS and can't be modified.")
}

fn not_available() -> AwsError {
    err(
        "PolicyTypeNotAvailableForOrganizationException",
        "You can't use the specified policy type with the feature set currently enabled for this organization. For example, you can enable SCPs only after you enable all features in the organization.",
    )
}

fn check_policy_id(id: &str) -> Result<(), AwsError> {
    input::length(id, 0, 130)?;
    input::pattern(input::is_policy_id(id))
}

fn check_target_id(id: &str) -> Result<(), AwsError> {
    input::length(id, 0, 100)?;
    if input::is_root_id(id) || input::is_account_id(id) || input::is_ou_id(id) {
        Ok(())
    } else {
        Err(input::invalid(
            "INVALID_PATTERN_TARGET_ID",
            "You specified a policy target ID that doesn't match the required pattern.",
        ))
    }
}

/// Check a policy document of `policy_type`: size first (`ConstraintViolationException`
/// `POLICY_CONTENT_LIMIT_EXCEEDED`), then grammar (`MalformedPolicyDocumentException`).
fn check_content(content: &str, policy_type: &str, name: &str) -> Result<(), AwsError> {
    input::length(content, 1, usize::MAX)?;
    if content.chars().count() > max_content(policy_type) {
        return Err(constraint("POLICY_CONTENT_LIMIT_EXCEEDED"));
    }
    let kind = match policy_type {
        SERVICE_CONTROL_POLICY => Some(PolicyDocKind::Scp),
        RESOURCE_CONTROL_POLICY => Some(PolicyDocKind::Rcp),
        _ => None,
    };
    let malformed = |message: &str| {
        let message = if message.is_empty() {
            "The provided policy document doesn't meet the requirements of the specified policy type."
        } else {
            message
        };
        err("MalformedPolicyDocumentException", message)
    };
    match kind {
        Some(kind) => {
            validate_policy_document(content, kind, name).map_err(|e| match e.code.as_str() {
                "LimitExceeded" => constraint("POLICY_CONTENT_LIMIT_EXCEEDED"),
                "MalformedPolicyDocument" => malformed(&e.message),
                _ => e,
            })?;
            // The engine keeps a document with no statements (it allows and denies nothing), but
            // Organizations creates no SCP or RCP without one; and "the effect of Allow is only
            // supported for the RCPFullAWSAccess policy" (AWS Organizations, "RCP syntax").
            let ty = if kind == PolicyDocKind::Rcp {
                tessera_policy::PolicyType::Rcp
            } else {
                tessera_policy::PolicyType::Scp
            };
            let policy = tessera_policy::parse(content, ty).map_err(|e| malformed(&e.message))?;
            let statements = policy.statements();
            if statements.is_empty()
                || (kind == PolicyDocKind::Rcp && statements.iter().any(|s| s.effect == tessera_policy::Effect::Allow))
            {
                return Err(malformed(""));
            }
            Ok(())
        }
        None => super::effective::check_document(content, policy_type).map_err(|m| malformed(&m)),
    }
}

/// The ARN of a target of `org`, if it exists: (ARN, name, `TargetType`).
fn find_target<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    id: &str,
) -> Result<Option<(String, String, &'static str)>, AwsError> {
    if id == org.root_id {
        return Ok(Some((root_arn(org), "Root".into(), "ROOT")));
    }
    if let Some(ou) = load_ou(r, org, id)? {
        return Ok(Some((ou_arn(org, id), ou.name, "ORGANIZATIONAL_UNIT")));
    }
    if input::is_account_id(id) {
        if let Some(a) = load_member(r, org, id)? {
            return Ok(Some((account_arn(org, id), a.name, "ACCOUNT")));
        }
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// Policy types

/// `EnablePolicyType`: enabling a type that has an AWS managed default (`p-FullAWSAccess`,
/// `p-RCPFullAWSAccess`) attaches it to the root and to every OU and account.
pub(super) fn enable_policy_type(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let root = i.req_str("RootId")?;
    let policy_type = i.req_str("PolicyType")?;
    input::length(root, 0, 34)?;
    input::pattern(input::is_root_id(root))?;
    input::policy_type(policy_type)?;
    let org = org_for(s, call)?;
    let grant =
        authorize(s, call, "organizations:EnablePolicyType", &root_arn(&org), policy_type_context(policy_type))?;
    let mut txn = st(s.store.write())?;
    let mut org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    if root != org.root_id {
        return Err(root_not_found());
    }
    if org.feature_set != "ALL" {
        return Err(not_available());
    }
    if org.enabled_policy_types.iter().any(|t| t == policy_type) {
        return Err(err("PolicyTypeAlreadyEnabledException", "The specified policy type is already enabled."));
    }
    org.enabled_policy_types.push(policy_type.to_string());
    st(model::save(txn.as_mut(), table::ORGANIZATION, &org.id, &org))?;
    if let Some(p) = default_policy(policy_type) {
        let mut targets = vec![org.root_id.clone()];
        targets.extend(org_ous(&*txn, &org)?.into_iter().map(|ou| ou.id));
        targets.extend(org_accounts(&*txn, &org)?.into_iter().map(|a| a.id));
        for t in targets {
            attach(txn.as_mut(), &org, &t, p.id, p.policy_type)?;
        }
    }
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({"Root": root_json(&org)}))
}

/// `DisablePolicyType`: every policy of the type is detached from every target.
pub(super) fn disable_policy_type(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let root = i.req_str("RootId")?;
    let policy_type = i.req_str("PolicyType")?;
    input::length(root, 0, 34)?;
    input::pattern(input::is_root_id(root))?;
    input::policy_type(policy_type)?;
    let org = org_for(s, call)?;
    let grant =
        authorize(s, call, "organizations:DisablePolicyType", &root_arn(&org), policy_type_context(policy_type))?;
    let mut txn = st(s.store.write())?;
    let mut org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    if root != org.root_id {
        return Err(root_not_found());
    }
    if !org.enabled_policy_types.iter().any(|t| t == policy_type) {
        return Err(type_not_enabled());
    }
    org.enabled_policy_types.retain(|t| t != policy_type);
    st(model::save(txn.as_mut(), table::ORGANIZATION, &org.id, &org))?;
    let prefix = format!("{}/t/", org.id);
    let rows = st(txn.scan(table::ORG_ATTACHMENT, &prefix, None, usize::MAX))?;
    for (k, t) in st(model::decode_rows::<String>(table::ORG_ATTACHMENT, rows))? {
        if t == policy_type {
            if let Some((target, policy)) = k[prefix.len()..].split_once('/') {
                detach(txn.as_mut(), &org, target, policy)?;
            }
        }
    }
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({"Root": root_json(&org)}))
}

fn type_not_enabled() -> AwsError {
    err(
        "PolicyTypeNotEnabledException",
        "The specified policy type isn't currently enabled in this root. You can't attach policies of the specified type to entities in a root until you enable that type in the root.",
    )
}

// ---------------------------------------------------------------------------------------------
// Policies

/// `CreatePolicy`.
pub(super) fn create_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let content = i.req_str("Content")?;
    let description = i.req_str("Description")?;
    let name = i.req_str("Name")?;
    let policy_type = i.req_str("Type")?;
    let tags = i.tags("Tags")?.unwrap_or_default();
    input::length(name, 1, 128)?;
    input::length(description, 0, 512)?;
    input::policy_type(policy_type)?;
    check_content(content, policy_type, name)?;
    org_for(s, call)?;
    let mut ctx = tag_context(&tags);
    ctx.extend(policy_type_context(policy_type));
    let grant = authorize(s, call, "organizations:CreatePolicy", "*", ctx)?;
    let mut txn = st(s.store.write())?;
    let org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    if org.feature_set != "ALL" {
        return Err(not_available());
    }
    let same_type: Vec<OrgPolicy> =
        org_policies(&*txn, &org)?.into_iter().filter(|p| p.policy_type == policy_type).collect();
    if same_type.iter().any(|p| p.name == name) || default_policy(policy_type).is_some_and(|b| b.name == name) {
        return Err(err("DuplicatePolicyException", "A policy with the same name already exists."));
    }
    if same_type.len() >= MAX_POLICIES_PER_TYPE {
        return Err(constraint("POLICY_NUMBER_LIMIT_EXCEEDED"));
    }
    let mut id = format!("p-{}", ids::lower_alnum(8));
    while st(txn.get(table::ORG_ENTITY, &id))?.is_some() {
        id = format!("p-{}", ids::lower_alnum(8));
    }
    let p = OrgPolicy {
        id: id.clone(),
        organization_id: org.id.clone(),
        policy_type: policy_type.to_string(),
        name: name.to_string(),
        description: description.to_string(),
        content: content.to_string(),
        created: call.now_secs(),
    };
    st(model::save(txn.as_mut(), table::ORG_ENTITY, &id, &p))?;
    save_tags(txn.as_mut(), &id, &tags)?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({"Policy": Policy::Custom(p).full(&org)}))
}

/// The policy of a request (checked id), its ARN for authorization, and the organization.
fn policy_for(s: &Services, call: &Call, id: &str) -> Result<(Organization, Policy), AwsError> {
    check_policy_id(id)?;
    let org = org_for(s, call)?;
    let r = st(s.store.read())?;
    let p = load_policy(&*r, &org, id)?.ok_or_else(policy_not_found)?;
    Ok((org, p))
}

/// `DescribePolicy`.
pub(super) fn describe_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("PolicyId")?;
    let (org, p) = policy_for(s, call, id)?;
    let grant = authorize(s, call, "organizations:DescribePolicy", &p.arn(&org), policy_type_context(p.policy_type()))?;
    require_management(call, &org, grant)?;
    Ok(json!({"Policy": p.full(&org)}))
}

/// `UpdatePolicy`: name, description and/or content of a customer managed policy.
pub(super) fn update_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("PolicyId")?;
    let name = i.opt_str("Name")?;
    let description = i.opt_str("Description")?;
    let content = i.opt_str("Content")?;
    if let Some(n) = name {
        input::length(n, 1, 128)?;
    }
    if let Some(d) = description {
        input::length(d, 0, 512)?;
    }
    let (org, p) = policy_for(s, call, id)?;
    let grant = authorize(s, call, "organizations:UpdatePolicy", &p.arn(&org), policy_type_context(p.policy_type()))?;
    let mut txn = st(s.store.write())?;
    let org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    let mut p = match load_policy(&*txn, &org, id)?.ok_or_else(policy_not_found)? {
        Policy::Builtin(_) => return Err(immutable()),
        Policy::Custom(p) => p,
    };
    if let Some(c) = content {
        check_content(c, &p.policy_type, name.unwrap_or(&p.name))?;
        p.content = c.to_string();
    }
    if let Some(n) = name {
        let taken =
            org_policies(&*txn, &org)?.iter().any(|o| o.policy_type == p.policy_type && o.name == n && o.id != p.id)
                || default_policy(&p.policy_type).is_some_and(|b| b.name == n);
        if taken {
            return Err(err("DuplicatePolicyException", "A policy with the same name already exists."));
        }
        p.name = n.to_string();
    }
    if let Some(d) = description {
        p.description = d.to_string();
    }
    st(model::save(txn.as_mut(), table::ORG_ENTITY, id, &p))?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({"Policy": Policy::Custom(p).full(&org)}))
}

/// `DeletePolicy`: only a detached customer managed policy.
pub(super) fn delete_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("PolicyId")?;
    let (org, p) = policy_for(s, call, id)?;
    let grant = authorize(s, call, "organizations:DeletePolicy", &p.arn(&org), policy_type_context(p.policy_type()))?;
    let mut txn = st(s.store.write())?;
    let org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    match load_policy(&*txn, &org, id)?.ok_or_else(policy_not_found)? {
        Policy::Builtin(_) => return Err(immutable()),
        Policy::Custom(_) => {}
    }
    if !targets_of(&*txn, &org, id)?.is_empty() {
        return Err(err(
            "PolicyInUseException",
            "The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.",
        ));
    }
    st(txn.delete(table::ORG_ENTITY, id))?;
    save_tags(txn.as_mut(), id, &[])?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `ListPolicies` of one type: the AWS managed one first, then the organization's by id.
pub(super) fn list_policies(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let filter = i.req_str("Filter")?;
    input::policy_type(filter)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListPolicies", "*", policy_type_context(filter))?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let mut all: Vec<Policy> = default_policy(filter).map(Policy::Builtin).into_iter().collect();
    let mut custom: Vec<OrgPolicy> = org_policies(&*r, &org)?.into_iter().filter(|p| p.policy_type == filter).collect();
    custom.sort_by(|a, b| a.id.cmp(&b.id));
    all.extend(custom.into_iter().map(Policy::Custom));
    let (list, next) = page.apply(all, sort_key);
    let list: Vec<Value> = list.iter().map(|p| p.summary(&org)).collect();
    Ok(with_token(json!({ "Policies": list }), next))
}

/// AWS managed policies sort before the organization's.
fn sort_key(p: &Policy) -> String {
    format!("{}{}", if p.aws_managed() { "0" } else { "1" }, p.id())
}

/// `AttachPolicy`.
pub(super) fn attach_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("PolicyId")?;
    let target = i.req_str("TargetId")?;
    check_target_id(target)?;
    let (org, p) = policy_for(s, call, id)?;
    let ctx = policy_type_context(p.policy_type());
    let grant = authorize(s, call, "organizations:AttachPolicy", &p.arn(&org), ctx.clone())?;
    let grant = grant.and(authorize(s, call, "organizations:AttachPolicy", &target_arn(&org, target), ctx)?);
    let mut txn = st(s.store.write())?;
    let org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    let p = load_policy(&*txn, &org, id)?.ok_or_else(policy_not_found)?;
    find_target(&*txn, &org, target)?.ok_or_else(target_not_found)?;
    if !org.enabled_policy_types.iter().any(|t| t == p.policy_type()) {
        return Err(type_not_enabled());
    }
    let attached = attachments_of(&*txn, &org, target)?;
    if attached.iter().any(|(pid, _)| pid == id) {
        return Err(err(
            "DuplicatePolicyAttachmentException",
            "The selected policy is already attached to the specified target.",
        ));
    }
    if attached.iter().filter(|(_, t)| t == p.policy_type()).count() >= max_attachments(p.policy_type()) {
        return Err(constraint("MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"));
    }
    attach(txn.as_mut(), &org, target, p.id(), p.policy_type())?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `DetachPolicy`: an SCP is refused when it is the target's last one; `p-RCPFullAWSAccess`
/// cannot be detached.
pub(super) fn detach_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("PolicyId")?;
    let target = i.req_str("TargetId")?;
    check_target_id(target)?;
    let (org, p) = policy_for(s, call, id)?;
    let ctx = policy_type_context(p.policy_type());
    let grant = authorize(s, call, "organizations:DetachPolicy", &p.arn(&org), ctx.clone())?;
    let grant = grant.and(authorize(s, call, "organizations:DetachPolicy", &target_arn(&org, target), ctx)?);
    let mut txn = st(s.store.write())?;
    let org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    let p = load_policy(&*txn, &org, id)?.ok_or_else(policy_not_found)?;
    find_target(&*txn, &org, target)?.ok_or_else(target_not_found)?;
    let attached = attachments_of(&*txn, &org, target)?;
    if !attached.iter().any(|(pid, _)| pid == id) {
        return Err(err(
            "PolicyNotAttachedException",
            "The policy isn't attached to the specified target in the specified root.",
        ));
    }
    if p.aws_managed() && p.policy_type() == RESOURCE_CONTROL_POLICY {
        return Err(input::invalid("NON_DETACHABLE_POLICY", "You can't detach this AWS managed policy."));
    }
    if p.policy_type() == SERVICE_CONTROL_POLICY
        && attached.iter().filter(|(_, t)| t == SERVICE_CONTROL_POLICY).count() <= 1
    {
        return Err(constraint("MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"));
    }
    detach(txn.as_mut(), &org, target, id)?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `ListPoliciesForTarget`.
pub(super) fn list_policies_for_target(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let target = i.req_str("TargetId")?;
    let filter = i.req_str("Filter")?;
    check_target_id(target)?;
    input::policy_type(filter)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(
        s,
        call,
        "organizations:ListPoliciesForTarget",
        &target_arn(&org, target),
        policy_type_context(filter),
    )?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    find_target(&*r, &org, target)?.ok_or_else(target_not_found)?;
    let mut list = Vec::new();
    for (pid, t) in attachments_of(&*r, &org, target)? {
        if t == filter {
            if let Some(p) = load_policy(&*r, &org, &pid)? {
                list.push(p);
            }
        }
    }
    list.sort_by_key(sort_key);
    let (list, next) = page.apply(list, sort_key);
    let list: Vec<Value> = list.iter().map(|p| p.summary(&org)).collect();
    Ok(with_token(json!({ "Policies": list }), next))
}

/// `ListTargetsForPolicy`.
pub(super) fn list_targets_for_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("PolicyId")?;
    let page = i.page()?;
    let (org, p) = policy_for(s, call, id)?;
    let grant =
        authorize(s, call, "organizations:ListTargetsForPolicy", &p.arn(&org), policy_type_context(p.policy_type()))?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let mut targets = targets_of(&*r, &org, id)?;
    targets.sort();
    let (targets, next) = page.apply(targets, Clone::clone);
    let mut list = Vec::new();
    for t in targets {
        if let Some((arn, name, kind)) = find_target(&*r, &org, &t)? {
            list.push(json!({"TargetId": t, "Arn": arn, "Name": name, "Type": kind}));
        }
    }
    Ok(with_token(json!({ "Targets": list }), next))
}

// ---------------------------------------------------------------------------------------------
// Tags

/// The ARN of a taggable resource (account, root, OU, customer managed policy) of `org`.
fn taggable<R: ReadTxn + ?Sized>(r: &R, org: &Organization, id: &str) -> Result<Option<String>, AwsError> {
    if id.starts_with("p-") {
        return Ok(match load_policy(r, org, id)? {
            Some(p @ Policy::Custom(_)) => Some(p.arn(org)),
            _ => None,
        });
    }
    Ok(find_target(r, org, id)?.map(|(arn, _, _)| arn))
}

fn check_resource_id(id: &str) -> Result<(), AwsError> {
    input::length(id, 0, 130)?;
    input::pattern(input::is_root_id(id) || input::is_account_id(id) || input::is_ou_id(id) || input::is_policy_id(id))
}

/// The ARN to authorize for a tagging call on `id`: the resource's when it exists.
fn tag_target(s: &Services, call: &Call, id: &str) -> Result<(Organization, String), AwsError> {
    let org = org_for(s, call)?;
    let r = st(s.store.read())?;
    let arn = taggable(&*r, &org, id)?.ok_or_else(target_not_found)?;
    Ok((org, arn))
}

/// `TagResource`: adds or overwrites tags (at most 50 per resource).
pub(super) fn tag_resource(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("ResourceId")?;
    check_resource_id(id)?;
    let tags = i.tags("Tags")?.ok_or_else(|| {
        input::invalid(
            "INPUT_REQUIRED",
            "You must specify a value for Tags. Include a value for all required parameters.",
        )
    })?;
    let (_, arn) = tag_target(s, call, id)?;
    let grant = authorize(s, call, "organizations:TagResource", &arn, tag_context(&tags))?;
    let mut txn = st(s.store.write())?;
    let org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    taggable(&*txn, &org, id)?.ok_or_else(target_not_found)?;
    let mut current = load_tags(&*txn, id)?;
    for t in tags {
        match current.iter_mut().find(|c| c.key == t.key) {
            Some(c) => c.value = t.value,
            None => current.push(t),
        }
    }
    if current.len() > input::MAX_TAGS {
        return Err(constraint("MAX_TAG_LIMIT_EXCEEDED"));
    }
    save_tags(txn.as_mut(), id, &current)?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `UntagResource`.
pub(super) fn untag_resource(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("ResourceId")?;
    check_resource_id(id)?;
    let keys = i.opt_str_list("TagKeys")?.ok_or_else(|| {
        input::invalid(
            "INPUT_REQUIRED",
            "You must specify a value for TagKeys. Include a value for all required parameters.",
        )
    })?;
    for k in &keys {
        input::check_tag_key(k)?;
    }
    let (_, arn) = tag_target(s, call, id)?;
    let ctx = vec![("aws:TagKeys".to_string(), keys.iter().map(|k| k.to_string()).collect())];
    let grant = authorize(s, call, "organizations:UntagResource", &arn, ctx)?;
    let mut txn = st(s.store.write())?;
    let org = caller_org(&*txn, call)?;
    require_management(call, &org, grant)?;
    taggable(&*txn, &org, id)?.ok_or_else(target_not_found)?;
    let mut current = load_tags(&*txn, id)?;
    current.retain(|t| !keys.contains(&t.key.as_str()));
    save_tags(txn.as_mut(), id, &current)?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `ListTagsForResource`: every tag in one page (a resource has at most 50).
pub(super) fn list_tags_for_resource(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("ResourceId")?;
    check_resource_id(id)?;
    let mut page = i.page()?;
    page.max = input::MAX_TAGS;
    let (org, arn) = tag_target(s, call, id)?;
    let grant = authorize(s, call, "organizations:ListTagsForResource", &arn, vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let tags = load_tags(&*r, id)?;
    let (tags, next) = page.apply(tags.into_iter().enumerate().collect(), |(n, _)| format!("{n:04}"));
    let tags: Vec<Tag> = tags.into_iter().map(|(_, t)| t).collect();
    Ok(with_token(json!({ "Tags": tags_json(&tags) }), next))
}
