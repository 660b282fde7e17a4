//! `CreateWorkloadIdentityProvider`, `GetWorkloadIdentityProvider`,
//! `ListWorkloadIdentityProviders`, `DeleteWorkloadIdentityProvider` and
//! `GetWorkloadIdentityProviderDeletionStatus` (IAM API Reference, and the IAM User Guide's
//! `workload-identity-manage-providers.html`).
//!
//! A provider's name is unique in its account (compared case-insensitively, as IAM names are);
//! a name conflict is `EntityAlreadyExists`. `Scheme` `SPIFFE` requires a
//! `WorkloadIdentityDomain` and `NONE` refuses one (`InvalidInput`). An account holds at most
//! 50 providers (`LimitExceeded`). The provider id is `AWPA` + 17 characters. The JWT outbound
//! signers are made with the provider (`workload_identity_signers.rs`).
//!
//! A provider that a template still references, or that still has X.509 outbound signers (any
//! entry, `INACTIVE` ones included), is `DeleteConflict`; otherwise the deletion
//! completes at once and its `DeletionTaskId` reads `SUCCEEDED` for 24 hours, to the account that
//! deleted it. `ResourceScope` `ORGANIZATION` (management account, organization-level resources
//! enabled) puts the organization id in the ARN's account field and `AWPO` in the id.

use serde::{Deserialize, Serialize};
use tessera_wire::query::lower_first;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::credentials::{request_tag_context, write_tags};
use super::super::entities::{
    already_exists, delete_conflict, invalid_input, is_role_description, no_such_entity, quota_exceeded, scan_page, Cx,
    StoreResultExt, ROLE_DESCRIPTION_PATTERN,
};
use super::template_ops::TEMPLATE_BY_PROVIDER_TABLE;
use super::{
    authorized_provider, is_provider_name, is_workload_identity_domain, provider_arn, provider_key, request_tags,
    resource_scope, scope_owner, signers, WorkloadIdentityProvider, DELETION_TASK_TABLE, PROVIDERS_PER_ACCOUNT,
    PROVIDER_TABLE, SCHEMES,
};
use crate::model::{self, Tag};
use crate::validate::{self, Checks};
use crate::{clock, ids};

/// How long a deletion task id can be read (24 hours).
pub const DELETION_TASK_TTL_SECS: i64 = 24 * 3600;

/// `^[A-Za-z0-9_.-]+$`.
const NAME_PATTERN: &str = "^[A-Za-z0-9_.-]+$";
/// `WorkloadIdentityDomainType`'s pattern, as the model prints it.
const DOMAIN_PATTERN: &str = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?){0,31}$";

/// Check tags of a request against what the model adds to IAM's tag rules: no key in the
/// reserved `aws:` namespace.
pub fn check_reserved_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<(), AwsError> {
    for k in keys {
        if k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(invalid_input(format!("Tag key '{k}' uses the reserved prefix 'aws:'.")));
        }
    }
    Ok(())
}

/// The input of `CreateWorkloadIdentityProvider`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProvider {
    /// `ProviderName`.
    pub name: String,
    /// `Description`.
    pub description: Option<String>,
    /// `Scheme`.
    pub scheme: String,
    /// `WorkloadIdentityDomain`.
    pub domain: Option<String>,
}

/// Check the members of a create request (shapes first, `ValidationError`; then the rules
/// between members, `InvalidInput`).
pub fn check_new_provider(
    name: Option<&str>,
    description: Option<&str>,
    scheme: Option<&str>,
    domain: Option<&str>,
    c: &mut Checks,
) -> Result<NewProvider, AwsError> {
    match name {
        None => c.not_null("providerName", false),
        Some(n) => c.length("providerName", n, 1, 128).pattern("providerName", n, NAME_PATTERN, is_provider_name),
    };
    c.length_opt("description", description, 0, 255).pattern_opt(
        "description",
        description,
        ROLE_DESCRIPTION_PATTERN,
        is_role_description,
    );
    c.not_null("scheme", scheme.is_some()).one_of("scheme", scheme, SCHEMES);
    c.length_opt("workloadIdentityDomain", domain, 1, 64).pattern_opt(
        "workloadIdentityDomain",
        domain,
        DOMAIN_PATTERN,
        is_workload_identity_domain,
    );
    c.finish()?;
    let scheme = scheme.unwrap_or_default();
    match (scheme, domain) {
        ("SPIFFE", None) => {
            return Err(invalid_input("WorkloadIdentityDomain is required when Scheme is SPIFFE."));
        }
        ("NONE", Some(_)) => {
            return Err(invalid_input("WorkloadIdentityDomain must not be specified when Scheme is NONE."));
        }
        _ => {}
    }
    Ok(NewProvider {
        name: name.unwrap_or_default().to_string(),
        description: description.map(str::to_string),
        scheme: scheme.to_string(),
        domain: domain.map(str::to_string),
    })
}

/// The members shared by the create/get responses and the list entries.
fn write_common(w: &mut XmlWriter, p: &WorkloadIdentityProvider) {
    w.elem("Arn", &p.arn())
        .elem("ResourceScope", &p.scope)
        .elem("ProviderName", &p.name)
        .elem("ProviderId", &p.id)
        .opt("Description", p.description.as_deref())
        .elem("Scheme", &p.scheme)
        .opt("WorkloadIdentityDomain", p.domain.as_deref());
}

/// The result of Create/GetWorkloadIdentityProvider.
fn provider_result(p: &WorkloadIdentityProvider, now: i64) -> String {
    let mut w = XmlWriter::fragment();
    write_common(&mut w, p);
    signers::write_outbound_signers(&mut w, p, now);
    if !p.tags.is_empty() {
        write_tags(&mut w, &p.tags);
    }
    w.elem("CreateDate", &clock::iso8601(p.created));
    w.finish()
}

/// `CreateWorkloadIdentityProvider`.
pub(crate) fn create(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let p = cx.params;
    let mut c = Checks::new();
    let scope = resource_scope(cx, &mut c);
    let new = check_new_provider(
        p.get("ProviderName"),
        p.get("Description"),
        p.get("Scheme"),
        p.get("WorkloadIdentityDomain"),
        &mut c,
    )?;
    let tags = request_tags(p)?;
    // The owner segment of the ARN: the account, or the organization id (management account,
    // organization-level resources enabled).
    let owner = scope_owner(cx, &scope)?;
    let account = owner.as_str();
    let arn = provider_arn(account, &new.name);
    cx.authorize("iam:CreateWorkloadIdentityProvider", &arn, request_tag_context(&tags))?;
    let now = cx.now();
    let id = format!("{}{}", if scope == "ORGANIZATION" { "AWPO" } else { "AWPA" }, ids::key_characters(17));
    let jwt_signers = signers::generate(&cx.services.secrets, &id, &new.scheme, now)?;
    let provider = WorkloadIdentityProvider {
        account: account.to_string(),
        name: new.name,
        id,
        scope,
        scheme: new.scheme,
        domain: new.domain,
        description: new.description,
        tags,
        resource_policy: None,
        jwt_signers,
        x509_signers: Vec::new(),
        created: now,
    };
    let key = provider_key(account, &provider.name);
    cx.write(|txn| {
        if txn.get(PROVIDER_TABLE, &key).st()?.is_some() {
            return Err(already_exists(format!(
                "Workload identity provider with name {} already exists.",
                provider.name
            )));
        }
        if txn.count(PROVIDER_TABLE, &format!("{account}/")).st()? >= PROVIDERS_PER_ACCOUNT {
            return Err(quota_exceeded("WorkloadIdentityProvidersPerAccount", PROVIDERS_PER_ACCOUNT));
        }
        model::save(txn, PROVIDER_TABLE, &key, &provider).st()
    })?;
    Ok(cx.respond(Some(provider_result(&provider, now))))
}

/// `GetWorkloadIdentityProvider`.
pub(crate) fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let p = authorized_provider(cx, "iam:GetWorkloadIdentityProvider", Vec::new(), |_| {})?;
    Ok(cx.respond(Some(provider_result(&p, cx.now()))))
}

/// `ListWorkloadIdentityProviders`: the account's providers in name order. IAM authorizes it on
/// every provider of the account (`workload-identity-provider/*`).
pub(crate) fn list(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let scope = resource_scope(cx, &mut c);
    c.finish()?;
    let page = cx.page()?;
    cx.authorize("iam:ListWorkloadIdentityProviders", &provider_arn(cx.account(), "*"), Vec::new())?;
    let read = cx.read()?;
    // `ORGANIZATION`: the providers of the caller's organization, which any member can bind to
    // (none outside an organization).
    let owner = if scope == "ORGANIZATION" {
        crate::organizations::org_of(read.as_ref(), cx.account())?.map(|o| o.id).unwrap_or_else(|| "o-none".into())
    } else {
        cx.account().to_string()
    };
    let account = owner.as_str();
    let (items, next) =
        scan_page::<WorkloadIdentityProvider>(read.as_ref(), PROVIDER_TABLE, &format!("{account}/"), &page, |_| true)?;
    let mut w = XmlWriter::fragment();
    w.open("WorkloadIdentityProviders", None);
    for p in &items {
        w.open("member", None);
        write_common(&mut w, p);
        w.elem("CreateDate", &clock::iso8601(p.created)).close();
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// A deletion of `DeleteWorkloadIdentityProvider`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletionTask {
    /// The provider's ARN.
    pub provider_arn: String,
    /// `SUCCEEDED` (deletions complete at once).
    pub status: String,
    /// When the task id stops being readable, epoch seconds.
    pub expires: i64,
}

/// `DeleteWorkloadIdentityProvider`: the provider, its signers (their sealed keys with it), its
/// tags and resource policy go in one transaction.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let p = authorized_provider(cx, "iam:DeleteWorkloadIdentityProvider", Vec::new(), |_| {})?;
    let account = p.account.as_str();
    let task_id = format!("task/workload-identity-provider/{}/{}", p.name, uuid_like());
    let task = DeletionTask {
        provider_arn: p.arn(),
        status: "SUCCEEDED".into(),
        expires: cx.now().saturating_add(DELETION_TASK_TTL_SECS),
    };
    cx.write(|txn| {
        let key = provider_key(account, &p.name);
        let current: Option<WorkloadIdentityProvider> = model::load(txn, PROVIDER_TABLE, &key).st()?;
        let current = current.filter(|c| c.id == p.id);
        if current.is_none() {
            return Err(super::no_such_provider(&p.arn()));
        }
        let templates = txn.count(TEMPLATE_BY_PROVIDER_TABLE, &format!("{key}/")).st()?;
        if templates > 0 {
            return Err(delete_conflict(format!(
                "Cannot delete workload identity provider {}: {templates} workload identity template(s) reference it. Delete the templates first.",
                p.arn()
            )));
        }
        if let Some(c) = current.filter(|c| !c.x509_signers.is_empty()) {
            return Err(delete_conflict(format!(
                "Cannot delete workload identity provider {}: it has {} X.509 outbound signer(s). Delete every X.509 outbound signer first.",
                p.arn(),
                c.x509_signers.len()
            )));
        }
        txn.delete(PROVIDER_TABLE, &key).st()?;
        model::save(txn, DELETION_TASK_TABLE, &format!("{}/{task_id}", cx.account()), &task).st()
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("DeletionTaskId", &task_id);
    Ok(cx.respond(Some(w.finish())))
}

/// A random 36-character identifier in the UUID layout.
fn uuid_like() -> String {
    let hex = ids::key_characters(32).to_ascii_lowercase();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// `GetWorkloadIdentityProviderDeletionStatus`: authorized on the deleted provider's ARN; a
/// task of another account, an expired one or an unknown id is `NoSuchEntity`.
pub(crate) fn deletion_status(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let id = match cx.params.get("DeletionTaskId") {
        None => {
            c.not_null(&lower_first("DeletionTaskId"), false);
            ""
        }
        Some(v) => {
            c.length("deletionTaskId", v, 1, 1000);
            v
        }
    };
    c.finish()?;
    let account = cx.account();
    let task: Option<DeletionTask> =
        model::load(cx.read()?.as_ref(), DELETION_TASK_TABLE, &format!("{account}/{id}")).st()?;
    let not_found = || no_such_entity(format!("Deletion task {id} cannot be found."));
    let Some(task) = task.filter(|t: &DeletionTask| t.expires > cx.now()) else {
        cx.authorize("iam:GetWorkloadIdentityProviderDeletionStatus", &provider_arn(account, "*"), Vec::new())?;
        return Err(not_found());
    };
    cx.authorize("iam:GetWorkloadIdentityProviderDeletionStatus", &task.provider_arn, Vec::new())?;
    let mut w = XmlWriter::fragment();
    w.elem("WorkloadIdentityProviderArn", &task.provider_arn).elem("Status", &task.status);
    Ok(cx.respond(Some(w.finish())))
}

/// Tags whose keys differ from an existing key only in case are refused (the model: "two tag
/// keys that differ only in case are rejected with InvalidInputException"); a key spelled
/// exactly as an existing one replaces its value.
pub fn merge_case_sensitive(existing: &mut Vec<Tag>, new: Vec<Tag>, max: usize) -> Result<(), AwsError> {
    let mut merged = existing.clone();
    for tag in new {
        if let Some(t) = merged.iter_mut().find(|t| t.key == tag.key) {
            t.value = tag.value;
        } else if let Some(t) = merged.iter().find(|t| t.key.eq_ignore_ascii_case(&tag.key)) {
            return Err(invalid_input(format!(
                "Tag key '{}' differs only in case from the attached tag key '{}'.",
                tag.key, t.key
            )));
        } else {
            merged.push(tag);
        }
    }
    if merged.len() > max {
        return Err(super::super::entities::limit_exceeded("The number of tags has reached the maximum limit."));
    }
    *existing = merged;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        name: Option<&str>,
        scheme: Option<&str>,
        domain: Option<&str>,
    ) -> Result<NewProvider, tessera_wire::AwsError> {
        check_new_provider(name, None, scheme, domain, &mut Checks::new())
    }

    #[test]
    fn create_input_follows_the_model() {
        assert!(check(Some("p"), Some("NONE"), None).is_ok());
        assert!(check(Some("p"), Some("SPIFFE"), Some("example.org")).is_ok());
        let code = |r: Result<NewProvider, AwsError>| r.err().map(|e| e.code.to_string());
        assert_eq!(code(check(None, Some("NONE"), None)).as_deref(), Some("ValidationError"));
        assert_eq!(code(check(Some("p"), None, None)).as_deref(), Some("ValidationError"));
        assert_eq!(code(check(Some("p"), Some("JWT"), None)).as_deref(), Some("ValidationError"));
        assert_eq!(code(check(Some("bad name"), Some("NONE"), None)).as_deref(), Some("ValidationError"));
        assert_eq!(code(check(Some(&"a".repeat(129)), Some("NONE"), None)).as_deref(), Some("ValidationError"));
        assert_eq!(code(check(Some("p"), Some("SPIFFE"), Some("Upper.org"))).as_deref(), Some("ValidationError"));
        assert_eq!(code(check(Some("p"), Some("SPIFFE"), None)).as_deref(), Some("InvalidInput"));
        assert_eq!(code(check(Some("p"), Some("NONE"), Some("example.org"))).as_deref(), Some("InvalidInput"));
        let long = "é".repeat(256);
        let r = check_new_provider(Some("p"), Some(&long), Some("NONE"), None, &mut Checks::new());
        assert_eq!(code(r).as_deref(), Some("ValidationError"));
    }

    #[test]
    fn tag_keys_are_case_sensitive_and_case_twins_are_refused() {
        let t = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
        let mut tags = vec![t("Env", "prod")];
        assert!(merge_case_sensitive(&mut tags, vec![t("Env", "dev"), t("Team", "a")], 50).is_ok());
        assert_eq!(tags, vec![t("Env", "dev"), t("Team", "a")]);
        let before = tags.clone();
        assert!(merge_case_sensitive(&mut tags, vec![t("env", "x")], 50).is_err());
        assert_eq!(tags, before, "a refused request changes nothing");
        assert!(merge_case_sensitive(&mut tags, vec![t("New", "x")], 2).is_err());
        assert_eq!(tags, before);
    }

    #[test]
    fn reserved_prefix_is_refused() {
        assert!(check_reserved_keys(["aws:x"]).is_err());
        assert!(check_reserved_keys(["AWS:x"]).is_err());
        assert!(check_reserved_keys(["awsx", "é", "a", "aaaé"]).is_ok());
    }
}
