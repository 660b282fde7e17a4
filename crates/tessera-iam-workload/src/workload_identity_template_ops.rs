//! `CreateWorkloadIdentityTemplate`, `GetWorkloadIdentityTemplate`,
//! `ListWorkloadIdentityTemplates`, `DeleteWorkloadIdentityTemplate` and the template's tags
//! (IAM API Reference of each; IAM User Guide `workload-identity-templates.html`).
//!
//! A template is addressed by its own ARN (`arn:aws:iam::<owner>:workload-identity-template/<name>`,
//! `<owner>` the account, or the organization id for an `ORGANIZATION`-scoped template). Every
//! operation authorizes on that ARN through the policy engine before it tells whether the
//! template exists. A member account that binds an `ACCOUNT`-scoped template to its
//! organization's provider also needs `iam:AssociateWorkloadIdentityTemplate` (on create) or
//! `iam:DisassociateWorkloadIdentityTemplate` (on delete) on the provider, allowed both by its
//! own identity policies and by the provider's resource policy (API reference of
//! `PutWorkloadIdentityProviderResourcePolicy`).
//!
//! Template definition mode answers `NoSuchEntity` for every definition ARN: the published
//! definitions' path patterns, attestation policies and open values are not documented in a
//! form Tessera could render faithfully (docs/WORKLOAD_IDENTITY.md).

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::credentials::{parse_tag_keys, request_tag_context, tags_page, write_tags};
use super::super::entities::{
    already_exists, invalid_input, is_role_description, no_such_entity, quota_exceeded, Context, Cx, StoreResultExt,
};
use super::attestation::{check_attestation_policy, check_placeholders};
use super::providers::merge_case_sensitive;
use super::templates::{
    is_path_segment, is_template_name, load_template, parse_pattern, parse_template_arn, template_arn, template_key,
    WorkloadIdentityTemplate, TEMPLATE_TABLE,
};
use super::{
    invalid_provider_arn, no_such_provider, parse_provider_arn, provider_key, request_tags, resource_scope,
    scope_owner, visible_owner, WorkloadIdentityProvider, PROVIDER_TABLE, TAGS_PER_PROVIDER,
};
use crate::authz::AuthzRequest;
use crate::model;
use crate::validate::{self, Checks};
use crate::{clock, ids};

/// Templates by provider: `<provider key>/<template key>` → the template's key, so that a
/// provider's templates are listed in name order and a provider still referenced is found.
pub const TEMPLATE_BY_PROVIDER_TABLE: &str = "iam_workload_identity_template_by_provider";
/// Templates per owner (account or organization). AWS publishes no number; Tessera's choice.
pub const TEMPLATES_PER_OWNER: u64 = 1000;

/// `WorkloadIdentityDescriptionType`'s pattern.
const DESCRIPTION_PATTERN: &str = r"^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$";
/// `WorkloadIdentityTemplateNameType`'s pattern.
const NAME_PATTERN: &str = "^[A-Za-z0-9_-]+$";
/// `WorkloadIdentityPathPrefixType`'s pattern.
const PATH_PREFIX_PATTERN: &str = r"^(?!\.{1,2}(?:/|$))[A-Za-z0-9._-]+(?:/(?!\.{1,2}(?:/|$))[A-Za-z0-9._-]+)*$";
/// `WorkloadIdentityTemplatePathPatternType`'s pattern.
const PATH_PATTERN_PATTERN: &str = r"^(?=.*\{)(?:\{[A-Za-z0-9:/._-]+\}|(?!\.{1,2}(?:/|$))[A-Za-z0-9._-]+)(?:/(?:\{[A-Za-z0-9:/._-]+\}|(?!\.{1,2}(?:/|$))[A-Za-z0-9._-]+))*$";

/// The members a template definition request may not carry.
const DIRECT_ONLY: &[&str] = &[
    "Name",
    "Description",
    "ResourceScope",
    "WorkloadIdentityProviderArn",
    "PathPrefix",
    "PathPattern",
    "AttestationPolicy",
];

/// The index key of a template under its provider.
pub fn by_provider_key(provider_arn: &str, template_owner: &str, template_name: &str) -> Option<String> {
    let (owner, name) = parse_provider_arn(provider_arn)?;
    Some(format!("{}/{}", provider_key(owner, name), template_key(template_owner, template_name)))
}

/// Whether `s` matches `WorkloadIdentityPathPrefixType`: segments of `[A-Za-z0-9._-]+`, none `.`
/// or `..`, no empty one.
pub fn is_path_prefix(s: &str) -> bool {
    s.split('/').all(is_path_segment)
}

/// `InvalidInput` for an ARN that is not a workload identity template's.
pub fn invalid_template_arn(arn: &str) -> AwsError {
    invalid_input(format!("ARN {arn} is not valid."))
}

/// `NoSuchEntity` for a template that does not exist.
pub fn no_such_template(arn: &str) -> AwsError {
    no_such_entity(format!("The workload identity template with ARN {arn} cannot be found."))
}

/// The members shared by the create/get responses and the list entries.
fn write_common(w: &mut XmlWriter, t: &WorkloadIdentityTemplate) {
    w.elem("Name", &t.name)
        .elem("Arn", &t.arn())
        .elem("WorkloadIdentityProviderArn", &t.provider_arn)
        .elem("ResourceScope", &t.scope)
        .opt("Description", t.description.as_deref())
        .opt("PathPrefix", t.path_prefix.as_deref())
        .elem("PathPattern", &t.path_pattern);
}

/// The result of Create/GetWorkloadIdentityTemplate (`policy`: the attestation policy set by
/// this call, echoed by Create only).
fn template_result(t: &WorkloadIdentityTemplate, policy: Option<&str>) -> String {
    let mut w = XmlWriter::fragment();
    write_common(&mut w, t);
    w.elem("TemplateId", &t.id).opt("AttestationPolicy", policy);
    if !t.tags.is_empty() {
        write_tags(&mut w, &t.tags);
    }
    w.elem("CreateDate", &clock::iso8601(t.created));
    w.finish()
}

/// Read the `WorkloadIdentityTemplateArn` parameter, authorize `action` on it (with the
/// template's tags as `aws:ResourceTag/...` when it exists), then answer the template or
/// `NoSuchEntity`: an unauthorized caller learns nothing about whether it exists.
pub fn authorized_template(
    cx: &Cx<'_>,
    action: &str,
    context: Context,
    extra_checks: impl FnOnce(&mut Checks),
) -> Result<WorkloadIdentityTemplate, AwsError> {
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "WorkloadIdentityTemplateArn");
    extra_checks(&mut c);
    c.finish()?;
    let (owner, _) = parse_template_arn(&arn).ok_or_else(|| invalid_template_arn(&arn))?;
    let read = cx.read()?;
    let template =
        if visible_owner(cx, read.as_ref(), owner)? { load_template(read.as_ref(), &arn).st()? } else { None };
    drop(read);
    let mut context = context;
    if let Some(t) = &template {
        context.extend(t.tags.iter().map(|t| (format!("aws:ResourceTag/{}", t.key), vec![t.value.clone()])));
    }
    cx.authorize(action, &arn, context)?;
    template.ok_or_else(|| no_such_template(&arn))
}

/// Re-read `template` in one write transaction, apply `f`, save it.
pub fn update_template(
    cx: &Cx<'_>,
    template: &WorkloadIdentityTemplate,
    f: impl FnOnce(&mut WorkloadIdentityTemplate) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    let key = template_key(&template.owner, &template.name);
    cx.write(|txn| {
        let mut t: WorkloadIdentityTemplate = model::load(txn, TEMPLATE_TABLE, &key)
            .st()?
            .filter(|t: &WorkloadIdentityTemplate| t.id == template.id)
            .ok_or_else(|| no_such_template(&template.arn()))?;
        f(&mut t)?;
        model::save(txn, TEMPLATE_TABLE, &key, &t).st()
    })
}

/// Authorize a member account's binding to (or unbinding from) its organization's provider:
/// `action` on the provider, allowed by the caller's identity policies and by the provider's
/// resource policy (evaluated as a cross-account request to the management account).
fn authorize_binding(cx: &Cx<'_>, action: &str, provider: &WorkloadIdentityProvider) -> Result<(), AwsError> {
    let read = cx.read()?;
    let org = crate::organizations::org_of(read.as_ref(), cx.account())?;
    drop(read);
    let management = org.map(|o| o.management_account).unwrap_or_default();
    if management == cx.account() {
        return cx.authorize(action, &provider.arn(), Vec::new());
    }
    cx.services.authorize_request(
        cx.call,
        &AuthzRequest {
            action,
            resource: &provider.arn(),
            resource_account: Some(&management),
            resource_policy: provider.resource_policy.as_deref(),
            ..Default::default()
        },
    )
}

/// The provider a template names, if the caller can see it: its own account's provider, or an
/// organization-scoped provider of the caller's organization.
fn referenced_provider(cx: &Cx<'_>, arn: &str) -> Result<Option<WorkloadIdentityProvider>, AwsError> {
    let (owner, _) = parse_provider_arn(arn).ok_or_else(|| invalid_provider_arn(arn))?;
    let read = cx.read()?;
    let in_reach = owner == cx.account()
        || crate::organizations::org_of(read.as_ref(), cx.account())?.is_some_and(|o| o.id == owner);
    if !in_reach {
        return Ok(None);
    }
    super::templates::load_provider(read.as_ref(), arn).st()
}

/// The checked members of a direct authoring request.
struct Direct {
    name: String,
    description: Option<String>,
    provider_arn: String,
    path_prefix: Option<String>,
    path_pattern: String,
    policy: Option<String>,
}

fn check_direct(cx: &Cx<'_>, c: &mut Checks) -> Direct {
    let p = cx.params;
    let name = p.get("Name");
    match name {
        None => {}
        Some(n) => {
            c.length("name", n, 1, 128).pattern("name", n, NAME_PATTERN, is_template_name);
        }
    }
    let description = p.get("Description");
    optional(c, "description", description, (0, 1000), DESCRIPTION_PATTERN, is_role_description);
    let provider_arn = cx.arn_opt(c, "WorkloadIdentityProviderArn");
    let path_prefix = p.get("PathPrefix");
    optional(c, "pathPrefix", path_prefix, (1, 64), PATH_PREFIX_PATTERN, is_path_prefix);
    let path_pattern = p.get("PathPattern");
    optional(c, "pathPattern", path_pattern, (3, 16384), PATH_PATTERN_PATTERN, |s| parse_pattern(s).is_some());
    let policy = p.get("AttestationPolicy").map(|_| cx.document(c, "AttestationPolicy"));
    Direct {
        name: name.unwrap_or_default().to_string(),
        description: description.map(str::to_string),
        provider_arn: provider_arn.unwrap_or_default(),
        path_prefix: path_prefix.map(str::to_string),
        path_pattern: path_pattern.unwrap_or_default().to_string(),
        policy,
    }
}

/// Check an optional string member's length (`min`, `max`) and pattern.
fn optional(
    c: &mut Checks,
    field: &str,
    value: Option<&str>,
    (min, max): (usize, usize),
    pattern: &str,
    ok: impl Fn(&str) -> bool,
) {
    c.length_opt(field, value, min, max).pattern_opt(field, value, pattern, ok);
}

/// Whether the request names a template definition (any `TemplateDefinition.*` member).
fn names_definition(cx: &Cx<'_>) -> bool {
    cx.params.iter().any(|(k, _)| k == "TemplateDefinition" || k.starts_with("TemplateDefinition."))
}

/// `CreateWorkloadIdentityTemplate`.
pub(crate) fn create(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let tags = request_tags(cx.params)?;
    if names_definition(cx) {
        return create_from_definition(cx, tags);
    }
    let mut c = Checks::new();
    let scope = resource_scope(cx, &mut c);
    let d = check_direct(cx, &mut c);
    c.finish()?;
    for (member, present) in [
        ("Name", cx.params.get("Name").is_some()),
        ("WorkloadIdentityProviderArn", cx.params.get("WorkloadIdentityProviderArn").is_some()),
        ("PathPattern", cx.params.get("PathPattern").is_some()),
    ] {
        if !present {
            return Err(invalid_input(format!(
                "{member} is required in direct authoring mode (or name a TemplateDefinition)."
            )));
        }
    }
    check_placeholders(&d.path_pattern)?;
    if let Some(policy) = &d.policy {
        check_attestation_policy(policy, &d.path_pattern)?;
    }
    let owner = scope_owner(cx, &scope)?;
    let arn = template_arn(&owner, &d.name);
    cx.authorize("iam:CreateWorkloadIdentityTemplate", &arn, request_tag_context(&tags))?;
    let provider = referenced_provider(cx, &d.provider_arn)?.ok_or_else(|| no_such_provider(&d.provider_arn))?;
    if scope == "ORGANIZATION" && provider.scope != "ORGANIZATION" {
        return Err(invalid_input(
            "An ORGANIZATION-scoped template must reference an organization-scoped workload identity provider.",
        ));
    }
    if provider.scope == "ORGANIZATION" && scope == "ACCOUNT" {
        authorize_binding(cx, "iam:AssociateWorkloadIdentityTemplate", &provider)?;
    }
    let prefix = if scope == "ORGANIZATION" { "AWTO" } else { "AWTA" };
    let template = WorkloadIdentityTemplate {
        owner: owner.clone(),
        created_by: cx.account().to_string(),
        name: d.name,
        id: format!("{prefix}{}", ids::key_characters(17)),
        scope,
        provider_arn: provider.arn(),
        description: d.description,
        path_prefix: d.path_prefix,
        path_pattern: d.path_pattern,
        attestation_policy: d.policy.clone(),
        tags,
        template_definition_arn: None,
        created: cx.now(),
    };
    let key = template_key(&owner, &template.name);
    let index = by_provider_key(&template.provider_arn, &owner, &template.name)
        .ok_or_else(|| invalid_provider_arn(&template.provider_arn))?;
    let provider_store_key = {
        let (o, n) = parse_provider_arn(&template.provider_arn).ok_or_else(|| invalid_provider_arn(&d.provider_arn))?;
        provider_key(o, n)
    };
    cx.write(|txn| {
        let current: Option<WorkloadIdentityProvider> = model::load(txn, PROVIDER_TABLE, &provider_store_key).st()?;
        if current.is_none_or(|p| p.id != provider.id) {
            return Err(no_such_provider(&template.provider_arn));
        }
        if txn.get(TEMPLATE_TABLE, &key).st()?.is_some() {
            return Err(already_exists(format!(
                "Workload identity template with name {} already exists.",
                template.name
            )));
        }
        if txn.count(TEMPLATE_TABLE, &format!("{owner}/")).st()? >= TEMPLATES_PER_OWNER {
            return Err(quota_exceeded("WorkloadIdentityTemplatesPerAccount", TEMPLATES_PER_OWNER));
        }
        model::save(txn, TEMPLATE_TABLE, &key, &template).st()?;
        model::save(txn, TEMPLATE_BY_PROVIDER_TABLE, &index, &key).st()
    })?;
    Ok(cx.respond(Some(template_result(&template, d.policy.as_deref()))))
}

/// Template definition mode: the members of direct authoring are forbidden; the definition must
/// be one IAM knows. Tessera knows none (module comment), so after the input checks and the
/// authorization the answer is `NoSuchEntity`.
fn create_from_definition(cx: &Cx<'_>, tags: Vec<model::Tag>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let definition = match cx.params.get("TemplateDefinition.TemplateDefinitionArn") {
        None => {
            c.not_null("templateDefinition.templateDefinitionArn", false);
            String::new()
        }
        Some(v) => {
            c.length("templateDefinition.templateDefinitionArn", v, 20, 2048);
            v.to_string()
        }
    };
    let values = cx.params.structs("TemplateDefinition.ReplacementValues.entry");
    c.list_length("templateDefinition.replacementValues", "{...}", values.len(), 30);
    c.finish()?;
    if let Some(member) = DIRECT_ONLY.iter().find(|m| cx.params.get(m).is_some()) {
        return Err(invalid_input(format!("{member} cannot be specified in template definition mode.")));
    }
    cx.authorize("iam:CreateWorkloadIdentityTemplate", &template_arn(cx.account(), "*"), request_tag_context(&tags))?;
    Err(no_such_entity(format!("The workload identity template definition {definition} cannot be found.")))
}

/// `GetWorkloadIdentityTemplate`: the template and its tags, never its attestation policy.
pub(crate) fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let t = authorized_template(cx, "iam:GetWorkloadIdentityTemplate", Vec::new(), |_| {})?;
    Ok(cx.respond(Some(template_result(&t, None))))
}

/// The `Filter` of `ListWorkloadIdentityTemplates`: `service_principal = "<principal>"`.
pub fn parse_filter(filter: &str) -> Result<String, AwsError> {
    let bad =
        || invalid_input(format!("The filter {filter} is not valid: use service_principal = \"<service principal>\"."));
    let (attr, value) = filter.split_once('=').ok_or_else(bad)?;
    if attr.trim() != "service_principal" {
        return Err(bad());
    }
    let value = value.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(bad)?;
    if !is_service_principal(value) {
        return Err(invalid_input(format!("{value} is not a recognized service principal.")));
    }
    Ok(value.to_string())
}

/// Whether `s` reads as an AWS service principal (`<name>.amazonaws.com`, lowercase DNS labels).
pub fn is_service_principal(s: &str) -> bool {
    s.strip_suffix(".amazonaws.com").is_some_and(|name| {
        !name.is_empty()
            && name
                .split('.')
                .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
    })
}

/// Whether an attestation policy has an `Allow` statement whose `Principal` names `service`.
pub fn policy_admits_service(policy: &str, service: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else { return false };
    let statements = match doc.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s) => vec![s.clone()],
        None => return false,
    };
    statements.iter().any(|s| {
        s.get("Effect").and_then(|e| e.as_str()) == Some("Allow")
            && match s.get("Principal").and_then(|p| p.get("Service")) {
                Some(serde_json::Value::String(v)) => v == service,
                Some(serde_json::Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(service)),
                _ => false,
            }
    })
}

/// `ListWorkloadIdentityTemplates`: the templates under a provider at one scope (`ACCOUNT`: the
/// caller's account's; `ORGANIZATION`: its organization's), in name order. Authorized on the
/// provider's ARN.
pub(crate) fn list(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let provider_arn = cx.arn(&mut c, "WorkloadIdentityProviderArn");
    let scope = resource_scope(cx, &mut c);
    let filter = cx.params.get("Filter");
    c.length_opt("filter", filter, 1, 256);
    c.finish()?;
    let page = cx.page()?;
    let service = match filter {
        Some(f) if f.trim().is_empty() => return Err(invalid_input("The filter must not be blank.")),
        Some(f) => Some(parse_filter(f)?),
        None => None,
    };
    let (p_owner, p_name) = parse_provider_arn(&provider_arn).ok_or_else(|| invalid_provider_arn(&provider_arn))?;
    cx.authorize("iam:ListWorkloadIdentityTemplates", &provider_arn, Vec::new())?;
    let provider = referenced_provider(cx, &provider_arn)?.ok_or_else(|| no_such_provider(&provider_arn))?;
    let owner = scope_owner_for_list(cx, &scope)?;
    let read = cx.read()?;
    let prefix = format!("{}/{}/", provider_key(p_owner, p_name), owner.to_ascii_lowercase());
    let (keys, next) =
        super::super::entities::scan_page::<String>(read.as_ref(), TEMPLATE_BY_PROVIDER_TABLE, &prefix, &page, |_| {
            true
        })?;
    let mut w = XmlWriter::fragment();
    w.open("WorkloadIdentityTemplates", None);
    for key in keys {
        let Some(t) = model::load::<WorkloadIdentityTemplate>(read.as_ref(), TEMPLATE_TABLE, &key).st()? else {
            continue;
        };
        if t.provider_arn != provider.arn() {
            continue;
        }
        if let Some(s) = &service {
            if !t.attestation_policy().is_some_and(|p| policy_admits_service(p, s)) {
                continue;
            }
        }
        w.open("member", None);
        write_common(&mut w, &t);
        w.elem("CreateDate", &clock::iso8601(t.created)).close();
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// The owner whose templates a list at `scope` shows: the caller's account, or its
/// organization (an account outside any organization has no organization-scoped templates: an
/// empty page).
fn scope_owner_for_list(cx: &Cx<'_>, scope: &str) -> Result<String, AwsError> {
    if scope != "ORGANIZATION" {
        return Ok(cx.account().to_string());
    }
    let read = cx.read()?;
    Ok(crate::organizations::org_of(read.as_ref(), cx.account())?.map(|o| o.id).unwrap_or_else(|| "o-none".into()))
}

/// `DeleteWorkloadIdentityTemplate`: the template, its tags and its attestation policy go in
/// one transaction; the answer carries `Status` `SUCCEEDED`.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let t = authorized_template(cx, "iam:DeleteWorkloadIdentityTemplate", Vec::new(), |_| {})?;
    if !t.is_organization_scoped() && parse_provider_arn(&t.provider_arn).is_some_and(|(o, _)| o.starts_with("o-")) {
        let provider = referenced_provider(cx, &t.provider_arn)?;
        if let Some(provider) = provider {
            authorize_binding(cx, "iam:DisassociateWorkloadIdentityTemplate", &provider)?;
        }
    }
    let key = template_key(&t.owner, &t.name);
    let index = by_provider_key(&t.provider_arn, &t.owner, &t.name);
    cx.write(|txn| {
        let current: Option<WorkloadIdentityTemplate> = model::load(txn, TEMPLATE_TABLE, &key).st()?;
        if current.is_none_or(|c| c.id != t.id) {
            return Err(no_such_template(&t.arn()));
        }
        txn.delete(TEMPLATE_TABLE, &key).st()?;
        if let Some(index) = &index {
            txn.delete(TEMPLATE_BY_PROVIDER_TABLE, index).st()?;
        }
        Ok(())
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("WorkloadIdentityTemplateArn", &t.arn()).elem("Status", "SUCCEEDED");
    Ok(cx.respond(Some(w.finish())))
}

/// `TagWorkloadIdentityTemplate`: keys case sensitive, case twins and `aws:` keys refused.
pub(crate) fn tag(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    if !cx.params.has_list("Tags") {
        return Err(tessera_wire::query::null_member("Tags"));
    }
    let tags = request_tags(cx.params)?;
    let t = authorized_template(cx, "iam:TagWorkloadIdentityTemplate", request_tag_context(&tags), |_| {})?;
    update_template(cx, &t, |t| merge_case_sensitive(&mut t.tags, tags, TAGS_PER_PROVIDER))?;
    Ok(cx.respond(None))
}

/// `UntagWorkloadIdentityTemplate`: keys not attached are ignored.
pub(crate) fn untag(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let keys = parse_tag_keys(cx.params)?;
    let context = vec![("aws:TagKeys".to_string(), keys.clone())];
    let t = authorized_template(cx, "iam:UntagWorkloadIdentityTemplate", context, |_| {})?;
    update_template(cx, &t, |t| {
        t.tags.retain(|tag| !keys.contains(&tag.key));
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// `ListWorkloadIdentityTemplateTags`.
pub(crate) fn list_tags(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.page()?;
    let t = authorized_template(cx, "iam:ListWorkloadIdentityTemplateTags", Vec::new(), |_| {})?;
    Ok(cx.respond(Some(tags_page(cx.params, &t.tags)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefixes_follow_the_model() {
        assert!(is_path_prefix("analytics/jobs"));
        assert!(is_path_prefix("a.b"));
        for bad in ["", "/a", "a/", "a//b", ".", "..", "a/../b", "a b", "é"] {
            assert!(!is_path_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn filters_read_service_principals() {
        assert_eq!(
            parse_filter("service_principal = \"eks.amazonaws.com\"").ok().as_deref(),
            Some("eks.amazonaws.com")
        );
        assert_eq!(
            parse_filter("service_principal=\"pods.eks.amazonaws.com\"").ok().as_deref(),
            Some("pods.eks.amazonaws.com")
        );
        for bad in [
            "service_principal",
            "name = \"x\"",
            "service_principal = eks.amazonaws.com",
            "service_principal = \"example.com\"",
            "service_principal = \"é\"",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn service_admission_reads_allow_statements() {
        let p = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["pods.eks.amazonaws.com"]},"Action":"sts:IssueWorkloadIdentityContext"}]}"#;
        assert!(policy_admits_service(p, "pods.eks.amazonaws.com"));
        assert!(!policy_admits_service(p, "eks.amazonaws.com"));
        assert!(!policy_admits_service(&p.replace("Allow", "Deny"), "pods.eks.amazonaws.com"));
        assert!(!policy_admits_service("not json", "pods.eks.amazonaws.com"));
    }
}
