//! IAM role manager (IAM User Guide, "Create roles automatically with role manager",
//! `id_roles_create_role-manager.html`, and "Manage access to role manager",
//! `id_roles_create_role-manager_enable-use.html`): `GetRoleTemplateVersion` and `AcquireRole`,
//! with the account switch of `account_properties` and the catalogue of `role_templates`.
//!
//! `AcquireRole` has no IAM action of its own: it "evaluates each underlying IAM action against
//! the user's permissions". A role that matches the template already → `iam:GetRole`, and the
//! role is returned; none → `iam:CreateRole`, plus `iam:PutRolePolicy` for each inline policy,
//! `iam:AttachRolePolicy` for each managed policy, `iam:PutRolePermissionsBoundary` and
//! `iam:TagRole` when the template sets a boundary or tags; the role and its policies are then
//! made in one store transaction. Every one of those requests carries `iam:RoleTemplateARN`
//! (the condition key of the User Guide's SCP examples). CloudTrail records the call as the one
//! `AcquireRole` event. See docs/ROLE_MANAGER.md for the choices where AWS is silent.

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::account_properties;
use super::entities::{
    attach_policy_in_txn, boundary_context, check_boundary, check_tag_rules, entity_arn, entity_context, invalid_input,
    is_role_description, load_named, policy_not_attachable, policy_size, quota, request_tags_context, resolve_policy,
    save_entity, Context, Cx,
};
use super::role_templates::{self, Rendered, Template, TemplateVersion};
use super::roles::{check_trust_principals, create_role_in_txn, role_xml, NewRole, SERVICE_LINKED_PATH};
use crate::authz::{validate_policy_document, PolicyDocKind};
use crate::model::{table, Role, SourceRoleTemplate};
use crate::validate::{self, Checks};

/// Run the operation if it belongs to role manager.
pub fn handle(cx: &Cx<'_>) -> Option<Result<WireResponse, AwsError>> {
    Some(match cx.call.operation.as_str() {
        "GetAccountProperties" => account_properties::get(cx),
        "PutAccountProperties" => account_properties::put(cx),
        "GetRoleTemplateVersion" => get_role_template_version(cx),
        "AcquireRole" => acquire_role(cx),
        _ => return None,
    })
}

/// `iam:RoleTemplateARN` of a request made for a template.
fn template_context(arn: &str) -> Context {
    vec![("iam:RoleTemplateARN".to_string(), vec![arn.to_string()])]
}

/// An optional 32-bit integer parameter (`integerType`, `minorVersionType`).
fn minor_version(cx: &Cx<'_>, c: &mut Checks, param: &str) -> Result<Option<i64>, AwsError> {
    cx.int_opt(c, param, i64::from(i32::MIN), i64::from(i32::MAX))
}

/// `GetRoleTemplateVersion`: authorized on the template's ARN.
pub(crate) fn get_role_template_version(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "TemplateArn");
    let minor = minor_version(cx, &mut c, "MinorVersion")?;
    c.finish()?;
    cx.authorize("iam:GetRoleTemplateVersion", &arn, template_context(&arn))?;
    let (template, version) = role_templates::lookup(&arn, minor)?;
    Ok(cx.respond(Some(template_version_xml(template, version))))
}

/// `<RoleTemplateVersion>`, its members in the model's order. Documents are JSON text, as the
/// API Reference's example shows them (not percent-encoded).
fn template_version_xml(t: &Template, v: &TemplateVersion) -> String {
    let mut w = XmlWriter::fragment();
    w.open("RoleTemplateVersion", None)
        .elem("TemplateArn", &t.arn)
        .elem("TemplateName", &t.name)
        .elem("TemplateVersionId", &v.version_id);
    w.opt("Description", t.description.as_deref());
    w.elem("MajorVersion", &t.major_version().to_string())
        .elem("DefaultMinorVersion", &t.default_minor.to_string())
        .elem("ManagedByType", "Service")
        .elem("ManagedByValue", &t.managed_by)
        .elem("Enabled", bool_text(t.enabled))
        .elem("MinorVersion", &v.minor.to_string())
        .elem("RoleNamePattern", &v.role_name_pattern)
        .elem("RolePathPattern", &v.role_path_pattern);
    w.opt("RoleDescriptionPattern", v.role_description_pattern.as_deref());
    w.elem("AssumeRolePolicyDocumentTemplate", &v.assume_role_policy_document.to_string());
    w.open("InlinePolicyTemplates", None);
    for p in &v.inline_policies {
        w.open("member", None).elem("PolicyName", &p.name).elem("PolicyDocument", &p.document.to_string()).close();
    }
    w.close();
    w.open("ManagedPolicyArns", None);
    for a in &v.managed_policy_arns {
        w.elem("member", a);
    }
    w.close();
    w.opt("PermissionBoundaryArn", v.permissions_boundary_arn.as_deref());
    w.open("ParametersDefinition", None);
    for p in &v.parameters {
        w.open("member", None).elem("Name", &p.name).elem("Type", &p.kind);
        w.opt("SubType", p.sub_type.as_deref()).opt("Description", p.description.as_deref());
        w.elem("IsRequired", bool_text(p.is_required));
        w.opt("DefaultValue", p.default_value.as_deref());
        w.elem("Immutable", bool_text(p.immutable));
        w.close();
    }
    w.close();
    w.open("RoleTagsTemplate", None);
    for tag in &v.tags {
        w.open("member", None).elem("Key", &tag.key).elem("Value", &tag.value).close();
    }
    w.close();
    w.elem("MaxSessionDuration", &v.max_session_duration.to_string()).elem("VersionEnabled", bool_text(v.enabled));
    w.opt("CreateTimestamp", t.created.as_deref()).opt("UpdateTimestamp", t.created.as_deref());
    w.close();
    w.finish()
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// `ReplacementValues`: `ReplacementValues.entry.N.key` and
/// `ReplacementValues.entry.N.value.Values.member.M`, in entry order.
fn replacement_values(cx: &Cx<'_>, c: &mut Checks) -> Result<Vec<(String, Vec<String>)>, AwsError> {
    const PREFIX: &str = "ReplacementValues.entry.";
    let mut indexes: Vec<u32> =
        cx.params.iter().filter_map(|(k, _)| k.strip_prefix(PREFIX)?.split('.').next()?.parse().ok()).collect();
    indexes.sort_unstable();
    indexes.dedup();
    c.list_length("replacementValues", &format!("{} entries", indexes.len()), indexes.len(), 30);
    let mut out: Vec<(String, Vec<String>)> = Vec::with_capacity(indexes.len());
    for n in indexes {
        let key = cx.params.get(&format!("{PREFIX}{n}.key"));
        c.not_null(&format!("replacementValues.{n}.key"), key.is_some());
        let values: Vec<String> =
            cx.params.list(&format!("{PREFIX}{n}.value.Values")).into_iter().map(str::to_string).collect();
        let field = format!("replacementValues.{n}.value.values");
        if values.is_empty() {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '[]' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
            )));
        }
        c.list_length(
            &field,
            &format!("[{}]", values.join(", ")),
            values.len(),
            role_templates::MAX_VALUES_PER_PARAMETER,
        );
        let Some(key) = key else { continue };
        if out.iter().any(|(k, _)| k == key) {
            return Err(invalid_input(format!("The parameter {key} is given more than once.")));
        }
        out.push((key.to_string(), values));
    }
    Ok(out)
}

/// Check what a rendering gives against the rules of `CreateRole`.
fn check_rendered(r: &Rendered) -> Result<(), AwsError> {
    let bad =
        |what: &str, value: &str| invalid_input(format!("The role template gives an invalid role {what}: {value}"));
    if r.name.is_empty() || r.name.chars().count() > 64 || !validate::is_name(&r.name) {
        return Err(bad("name", &r.name));
    }
    if r.path.len() > 512 || !validate::is_path(&r.path) || r.path.starts_with(SERVICE_LINKED_PATH) {
        return Err(bad("path", &r.path));
    }
    if let Some(d) = &r.description {
        if d.chars().count() > 1000 || !is_role_description(d) {
            return Err(bad("description", d));
        }
    }
    if r.managed_policies.len() > quota::MANAGED_POLICIES_PER_ENTITY {
        return Err(invalid_input(format!(
            "The role template attaches more than {} managed policies.",
            quota::MANAGED_POLICIES_PER_ENTITY
        )));
    }
    check_tag_rules(&r.tags, true)?;
    validate_policy_document(&r.trust_policy, PolicyDocKind::Trust, &r.name)?;
    for (name, doc) in &r.inline_policies {
        if name.is_empty() || name.len() > 128 || !validate::is_name(name) {
            return Err(bad("inline policy name", name));
        }
        validate_policy_document(doc, PolicyDocKind::InlineRole, &r.name)?;
    }
    let inline_size: usize = r.inline_policies.iter().map(|(_, d)| policy_size(d)).sum();
    if inline_size > quota::ROLE_INLINE_BYTES {
        return Err(super::entities::limit_exceeded(format!(
            "Maximum policy size of {} bytes exceeded for role {}",
            quota::ROLE_INLINE_BYTES,
            r.name
        )));
    }
    Ok(())
}

/// `NameConflict` (409): a role of the rendered name exists and is not this rendering of the
/// template.
fn name_conflict(name: &str, arn: &str) -> AwsError {
    AwsError::new(
        409,
        "NameConflict",
        format!("The role name {name} conflicts with an existing role in the account that does not match role template {arn} with these replacement values."),
    )
}

/// `RoleModified` (409): the role was made from the template and changed since.
fn role_modified(name: &str, arn: &str) -> AwsError {
    AwsError::new(
        409,
        "RoleModified",
        format!("The role {name} was created from role template {arn}, but its trust policy or permissions have been modified since; role manager no longer manages it."),
    )
}

/// `AcquireRole`.
pub(crate) fn acquire_role(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "TemplateArn");
    let minor = minor_version(cx, &mut c, "TemplateMinorVersion")?;
    let given = replacement_values(cx, &mut c)?;
    c.finish()?;
    let (template, version) = role_templates::lookup(&arn, minor)?;
    if !template.enabled || !version.enabled {
        return Err(AwsError::new(
            400,
            "RoleTemplateDisabled",
            format!("The role template {arn} (minor version {}) is disabled.", version.minor),
        ));
    }
    let rendered = role_templates::render(version, &given)?;
    check_rendered(&rendered)?;
    let account = cx.account();
    let read = cx.read()?;
    let existing: Option<Role> = load_named(read.as_ref(), table::ROLE, account, &rendered.name)?;
    drop(read);
    // Role manager's account switch is not consulted: "you can also use role templates without
    // role manager ... When you create a role from a template directly with the IAM API, you
    // supply these parameters" (IAM User Guide, "Overview of role templates").
    if let Some(role) = existing {
        return existing_role(cx, role, &arn, &rendered);
    }
    let role_arn = entity_arn(account, "role", &rendered.path, &rendered.name);
    let with_template = |mut ctx: Context| {
        ctx.extend(template_context(&arn));
        ctx
    };
    let mut create_ctx = request_tags_context(&rendered.tags);
    create_ctx.extend(boundary_context(rendered.permissions_boundary.as_deref()));
    cx.authorize("iam:CreateRole", &role_arn, with_template(create_ctx))?;
    for _ in &rendered.inline_policies {
        cx.authorize("iam:PutRolePolicy", &role_arn, with_template(Context::new()))?;
    }
    for m in &rendered.managed_policies {
        cx.authorize(
            "iam:AttachRolePolicy",
            &role_arn,
            with_template(vec![("iam:PolicyARN".into(), vec![m.clone()])]),
        )?;
    }
    if let Some(b) = &rendered.permissions_boundary {
        cx.authorize("iam:PutRolePermissionsBoundary", &role_arn, with_template(boundary_context(Some(b))))?;
    }
    if !rendered.tags.is_empty() {
        cx.authorize("iam:TagRole", &role_arn, with_template(request_tags_context(&rendered.tags)))?;
    }
    let source = SourceRoleTemplate {
        template_arn: arn.clone(),
        template_minor_version: version.minor,
        fingerprint: rendered.fingerprint(),
    };
    let role = cx.write(|txn| {
        check_trust_principals(&*txn, account, &rendered.trust_policy)?;
        if let Some(b) = &rendered.permissions_boundary {
            check_boundary(&*txn, account, b)?;
        }
        for m in &rendered.managed_policies {
            if resolve_policy(&*txn, account, m)?.is_none() {
                return Err(policy_not_attachable(m));
            }
        }
        let new = NewRole {
            name: rendered.name.clone(),
            path: rendered.path.clone(),
            trust_policy: rendered.trust_policy.clone(),
            description: rendered.description.clone().filter(|d| !d.is_empty()),
            max_session_duration: rendered.max_session_duration,
            permissions_boundary: rendered.permissions_boundary.clone(),
            tags: rendered.tags.clone(),
        };
        let mut role = create_role_in_txn(txn, account, new, cx.now())?;
        role.inline_policies = rendered.inline_policies.clone();
        role.source_role_template = Some(source.clone());
        save_entity(txn, account, &role)?;
        for m in &rendered.managed_policies {
            attach_policy_in_txn(txn, account, &mut role, m)?;
        }
        Ok(role)
    })?;
    Ok(cx.respond(Some(role_xml(&role))))
}

/// A role of the rendered name exists: returned when it matches the template ("If a role that
/// matches the template already exists in the account, AcquireRole returns that role. This
/// requires the iam:GetRole permission."), else `RoleModified` when it came from this template
/// and was changed since, else `NameConflict`.
fn existing_role(cx: &Cx<'_>, role: Role, arn: &str, rendered: &Rendered) -> Result<WireResponse, AwsError> {
    let mut ctx = entity_context(Some(&role));
    ctx.extend(template_context(arn));
    cx.authorize("iam:GetRole", &role.arn(), ctx)?;
    let Some(source) = role.source_role_template.as_ref().filter(|s| s.template_arn == arn) else {
        return Err(name_conflict(&role.name, arn));
    };
    let now = role_templates::role_fingerprint(&role);
    if now == rendered.fingerprint() {
        return Ok(cx.respond(Some(role_xml(&role))));
    }
    if now != source.fingerprint {
        return Err(role_modified(&role.name, arn));
    }
    Err(name_conflict(&role.name, arn))
}
