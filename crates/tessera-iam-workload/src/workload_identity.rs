//! IAM workload identity (preview in AWS: "Agent and workload identity", IAM User Guide
//! `workload-identity-manage-providers.html`): workload identity providers, their tags, their
//! resource policy, their deletion status and the JWT outbound signers IAM creates with them.
//!
//! Each area lives in a file of its own beside this one (`workload_identity_providers.rs`,
//! `workload_identity_signers.rs`, `workload_identity_policy.rs`, `workload_identity_x509.rs`);
//! this module dispatches to them and holds what they share: the provider record, its ARN, the
//! checks of the model's shapes and the lookup that authorizes before it tells whether a provider
//! exists.
//!
//! Built: account- and organization-scoped providers, templates (`workload_identity_templates.rs`
//! holds the record and the lookups STS uses, `workload_identity_template_ops.rs` the
//! operations) and their attestation policies (`workload_identity_attestation.rs`); X.509
//! outbound signers over AWS Private CA certificate authorities (`workload_identity_x509*.rs`).

#[path = "workload_identity_attestation.rs"]
pub mod attestation;
#[path = "workload_identity_policy.rs"]
pub mod policy;
#[path = "workload_identity_providers.rs"]
pub mod providers;
#[path = "workload_identity_signers.rs"]
pub mod signers;
#[path = "workload_identity_template_ops.rs"]
pub mod template_ops;
#[path = "workload_identity_templates.rs"]
pub mod templates;
#[path = "workload_identity_x509.rs"]
pub mod x509;
#[path = "workload_identity_x509_signer.rs"]
pub mod x509_signer;
#[path = "workload_identity_x509_slots.rs"]
pub mod x509_slots;

use serde::{Deserialize, Serialize};
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::entities::{invalid_input, load_named, no_such_entity, Context, Cx};
use crate::model::Tag;
use crate::validate::Checks;
use crate::{Call, Services};

/// Providers by `<account>/<lowercased name>`.
pub const PROVIDER_TABLE: &str = "iam_workload_identity_provider";
/// Deletion tasks of `DeleteWorkloadIdentityProvider` by `<account>/<task id>`.
pub const DELETION_TASK_TABLE: &str = "iam_workload_identity_deletion_task";
/// Workload identity providers per account ("An account can have up to 50 providers").
pub const PROVIDERS_PER_ACCOUNT: u64 = 50;
/// Tags per provider (`tagListType`: 50).
pub const TAGS_PER_PROVIDER: usize = 50;

/// Run the operation if it belongs to workload identity.
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Option<Result<WireResponse, AwsError>> {
    let cx = Cx { services, call, params };
    let result = match call.operation.as_str() {
        "CreateWorkloadIdentityProvider" => providers::create(&cx),
        "GetWorkloadIdentityProvider" => providers::get(&cx),
        "ListWorkloadIdentityProviders" => providers::list(&cx),
        "DeleteWorkloadIdentityProvider" => providers::delete(&cx),
        "GetWorkloadIdentityProviderDeletionStatus" => providers::deletion_status(&cx),
        "ListWorkloadIdentityProviderOutboundSigners" => signers::list(&cx),
        "TagWorkloadIdentityProvider" => policy::tag(&cx),
        "UntagWorkloadIdentityProvider" => policy::untag(&cx),
        "ListWorkloadIdentityProviderTags" => policy::list_tags(&cx),
        "PutWorkloadIdentityProviderResourcePolicy" => policy::put_resource_policy(&cx),
        "GetWorkloadIdentityProviderResourcePolicy" => policy::get_resource_policy(&cx),
        "DeleteWorkloadIdentityProviderResourcePolicy" => policy::delete_resource_policy(&cx),
        "CreateWorkloadIdentityProviderOutboundSigner" => x509::create(&cx),
        "UpdateWorkloadIdentityProviderOutboundSigner" => x509::update(&cx),
        "DeleteWorkloadIdentityProviderOutboundSigner" => x509::delete(&cx),
        "EnableWorkloadIdentityProviderOutboundSigner" | "DisableWorkloadIdentityProviderOutboundSigner" => {
            x509::enable_or_disable(&cx)
        }
        "CreateWorkloadIdentityTemplate" => template_ops::create(&cx),
        "GetWorkloadIdentityTemplate" => template_ops::get(&cx),
        "ListWorkloadIdentityTemplates" => template_ops::list(&cx),
        "DeleteWorkloadIdentityTemplate" => template_ops::delete(&cx),
        "TagWorkloadIdentityTemplate" => template_ops::tag(&cx),
        "UntagWorkloadIdentityTemplate" => template_ops::untag(&cx),
        "ListWorkloadIdentityTemplateTags" => template_ops::list_tags(&cx),
        "EnableOrganizationLevelResources" => super::org_features::enable_organization_level_resources(&cx),
        "DisableOrganizationLevelResources" => {
            super::org_features::disable_organization_level_resources(&cx, organization_resources_exist)
        }
        "PutWorkloadIdentityTemplateAttestationPolicy" => attestation::put(&cx),
        "GetWorkloadIdentityTemplateAttestationPolicy" => attestation::get(&cx),
        "DeleteWorkloadIdentityTemplateAttestationPolicy" => attestation::delete(&cx),
        _ => return None,
    };
    Some(result)
}

/// Whether organization `org_id` owns a workload identity provider or template.
fn organization_resources_exist(r: &dyn tessera_store::WriteTxn, org_id: &str) -> Result<bool, AwsError> {
    use super::entities::StoreResultExt;
    let prefix = format!("{org_id}/");
    Ok(r.count(PROVIDER_TABLE, &prefix).st()? > 0 || r.count(templates::TEMPLATE_TABLE, &prefix).st()? > 0)
}

/// The scope a provider is created at (`workloadIdentityProviderScopeType`).
pub const SCOPES: &[&str] = &["ACCOUNT", "ORGANIZATION"];
/// The naming schemes (`workloadIdentityProviderSchemeType`).
pub const SCHEMES: &[&str] = &["NONE", "SPIFFE"];

/// A workload identity provider of one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadIdentityProvider {
    /// The owner: the account, or the organization id (`o-...`) of an organization-scoped
    /// provider (the account field of its ARN).
    pub account: String,
    /// `ProviderName`, as given.
    pub name: String,
    /// `ProviderId` (`AWPA` + 17 characters for an account-scoped provider, `AWPO` + 17 for an
    /// organization-scoped one).
    pub id: String,
    /// `ACCOUNT` or `ORGANIZATION`.
    pub scope: String,
    /// `SPIFFE` or `NONE`.
    pub scheme: String,
    /// `WorkloadIdentityDomain` (only with `SPIFFE`).
    #[serde(default)]
    pub domain: Option<String>,
    /// `Description`.
    #[serde(default)]
    pub description: Option<String>,
    /// Tags, in the order they were added.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The resource policy, exactly as given.
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// The JWT outbound signers IAM created with the provider.
    #[serde(default)]
    pub jwt_signers: Vec<signers::JwtSigner>,
    /// The X.509 outbound signers attached to it (AWS Private CA certificate authorities), every
    /// entry of every slot, retired ones included, in the order they were recorded.
    #[serde(default)]
    pub x509_signers: Vec<x509_signer::X509Signer>,
    /// Creation time, epoch seconds.
    pub created: i64,
}

impl WorkloadIdentityProvider {
    /// `arn:aws:iam::<account>:workload-identity-provider/<name>`.
    pub fn arn(&self) -> String {
        provider_arn(&self.account, &self.name)
    }
}

/// The ARN of an account's provider named `name`.
pub fn provider_arn(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:workload-identity-provider/{name}")
}

/// The store key of a provider.
pub fn provider_key(account: &str, name: &str) -> String {
    crate::model::name_key(account, name)
}

/// Whether `s` matches `^[A-Za-z0-9_.-]+$` (`workloadIdentityProviderNameType`).
pub fn is_provider_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Whether `s` matches `WorkloadIdentityDomainType`: dot-separated DNS labels of lowercase
/// letters, digits and inner hyphens, each 1-63 characters, at most 32 labels.
pub fn is_workload_identity_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() <= 32
        && labels.iter().all(|l| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b.first() != Some(&b'-')
                && b.last() != Some(&b'-')
        })
}

/// The owner (account id, or organization id for an organization-scoped provider) and name of
/// a provider ARN, or `None` when it is not one.
pub fn parse_provider_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    if !templates::is_owner(account) {
        return None;
    }
    let name = resource.strip_prefix("workload-identity-provider/")?;
    (name.len() <= 128 && is_provider_name(name)).then_some((account, name))
}

/// `InvalidInput` for an ARN that is not a workload identity provider's.
pub fn invalid_provider_arn(arn: &str) -> AwsError {
    invalid_input(format!("ARN {arn} is not valid."))
}

/// `NoSuchEntity` for a provider that does not exist.
pub fn no_such_provider(arn: &str) -> AwsError {
    no_such_entity(format!("The workload identity provider with ARN {arn} cannot be found."))
}

/// `NoSuchEntity` for a provider without a resource policy.
pub fn no_such_entity_policy(arn: &str) -> AwsError {
    no_such_entity(format!("The workload identity provider with ARN {arn} has no resource policy."))
}

/// The `ResourceScope` parameter: `ACCOUNT` when omitted.
pub fn resource_scope(cx: &Cx<'_>, c: &mut Checks) -> String {
    let scope = cx.params.get("ResourceScope");
    c.one_of("resourceScope", scope, SCOPES);
    scope.unwrap_or("ACCOUNT").to_string()
}

/// The owner segment of the ARN of a resource created at `scope`: the caller's account for
/// `ACCOUNT`; for `ORGANIZATION`, the caller's organization's id, when the caller is its
/// management account and organization-level resources are enabled (`InvalidInput` otherwise).
pub fn scope_owner(cx: &Cx<'_>, scope: &str) -> Result<String, AwsError> {
    if scope != "ORGANIZATION" {
        return Ok(cx.account().to_string());
    }
    let read = cx.read()?;
    let org = crate::organizations::org_of(read.as_ref(), cx.account())?;
    let Some(org) = org.filter(|o| o.management_account == cx.account()) else {
        return Err(invalid_input(
            "Only the management account of an organization can create organization-scoped resources.",
        ));
    };
    if !super::org_features::organization_resources_enabled(read.as_ref(), &org.id)? {
        return Err(invalid_input(format!(
            "Organization-level resources are not enabled for organization {}: call EnableOrganizationLevelResources first.",
            org.id
        )));
    }
    Ok(org.id)
}

/// Whether the caller manages resources owned by `owner`: its own account's, or its
/// organization's when it is the management account or a delegated administrator for IAM
/// ("For an organization-scoped provider, only the organization's management account or a
/// delegated administrator can call this operation", the outbound signer operations).
pub fn visible_owner(
    cx: &Cx<'_>,
    read: &(impl tessera_store::ReadTxn + ?Sized),
    owner: &str,
) -> Result<bool, AwsError> {
    owner_reach(cx, read, owner, Reach::Manager)
}

/// Who may reach an organization's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The management account or a delegated administrator for IAM.
    Manager,
    /// Any account of the organization (`ListWorkloadIdentityProviderOutboundSigners`: "any
    /// account in the organization can call this operation").
    Member,
}

/// Whether the caller reaches resources owned by `owner` (its account, or an organization id)
/// as `reach` allows.
pub fn owner_reach(
    cx: &Cx<'_>,
    read: &(impl tessera_store::ReadTxn + ?Sized),
    owner: &str,
    reach: Reach,
) -> Result<bool, AwsError> {
    if owner == cx.account() {
        return Ok(true);
    }
    if !templates::is_organization_id(owner) {
        return Ok(false);
    }
    let Some(org) = crate::organizations::org_of(read, cx.account())?.filter(|o| o.id == owner) else {
        return Ok(false);
    };
    Ok(reach == Reach::Member
        || org.management_account == cx.account()
        || crate::organizations::is_delegated_administrator(read, cx.account(), super::org_features::IAM_PRINCIPAL)?)
}

/// The `Tags` of a create or tag request: IAM's tag rules, no key in the reserved `aws:`
/// namespace, no two keys differing only in case.
pub fn request_tags(params: &QueryParams) -> Result<Vec<Tag>, AwsError> {
    let tags = super::credentials::parse_tags(params)?;
    providers::check_reserved_keys(tags.iter().map(|t| t.key.as_str()))?;
    let mut checked = Vec::new();
    providers::merge_case_sensitive(&mut checked, tags, TAGS_PER_PROVIDER)?;
    Ok(checked)
}

/// Read the `WorkloadIdentityProviderArn` parameter, authorize `action` on it (with the
/// provider's tags as `aws:ResourceTag/...` when it exists, and `context`), then answer the
/// provider or `NoSuchEntity`. Authorization comes first, as on AWS: an unauthorized caller
/// learns nothing about whether the provider exists.
pub fn authorized_provider(
    cx: &Cx<'_>,
    action: &str,
    context: Context,
    extra_checks: impl FnOnce(&mut Checks),
) -> Result<WorkloadIdentityProvider, AwsError> {
    authorized_provider_for(cx, action, context, extra_checks, Reach::Manager)
}

/// [`authorized_provider`] for callers that reach an organization's provider as `reach` allows.
pub fn authorized_provider_for(
    cx: &Cx<'_>,
    action: &str,
    context: Context,
    extra_checks: impl FnOnce(&mut Checks),
    reach: Reach,
) -> Result<WorkloadIdentityProvider, AwsError> {
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "WorkloadIdentityProviderArn");
    extra_checks(&mut c);
    c.finish()?;
    let (account, name) = parse_provider_arn(&arn).ok_or_else(|| invalid_provider_arn(&arn))?;
    let read = cx.read()?;
    let provider: Option<WorkloadIdentityProvider> = if owner_reach(cx, read.as_ref(), account, reach)? {
        load_named(read.as_ref(), PROVIDER_TABLE, account, name)?
    } else {
        None
    };
    drop(read);
    let mut context = context;
    if let Some(p) = &provider {
        context.extend(p.tags.iter().map(|t| (format!("aws:ResourceTag/{}", t.key), vec![t.value.clone()])));
    }
    cx.authorize(action, &arn, context)?;
    provider.ok_or_else(|| no_such_provider(&arn))
}

/// Re-read `provider` in one write transaction, apply `f`, save it.
pub fn update_provider(
    cx: &Cx<'_>,
    provider: &WorkloadIdentityProvider,
    f: impl FnOnce(&mut WorkloadIdentityProvider) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    update_provider_with(cx, provider, |_, p| f(p))
}

/// [`update_provider`], `f` also writing other records in the same transaction.
pub fn update_provider_with(
    cx: &Cx<'_>,
    provider: &WorkloadIdentityProvider,
    f: impl FnOnce(&mut dyn tessera_store::WriteTxn, &mut WorkloadIdentityProvider) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    use super::entities::StoreResultExt;
    let key = provider_key(&provider.account, &provider.name);
    cx.write(|txn| {
        let mut p: WorkloadIdentityProvider = crate::model::load(txn, PROVIDER_TABLE, &key)
            .st()?
            .filter(|p: &WorkloadIdentityProvider| p.id == provider.id)
            .ok_or_else(|| no_such_provider(&provider.arn()))?;
        f(txn, &mut p)?;
        crate::model::save(txn, PROVIDER_TABLE, &key, &p).st()
    })
}

#[cfg(test)]
#[path = "workload_identity_tests.rs"]
mod handler_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_follow_the_model_pattern() {
        assert!(is_provider_name("PaymentsProd"));
        assert!(is_provider_name("a.b_c-1"));
        assert!(!is_provider_name(""));
        assert!(!is_provider_name("has space"));
        assert!(!is_provider_name("slash/name"));
        assert!(!is_provider_name("ünicode"));
    }

    #[test]
    fn domains_are_lowercase_dns_names() {
        assert!(is_workload_identity_domain("example.org"));
        assert!(is_workload_identity_domain("111122223333.aws.internal"));
        assert!(is_workload_identity_domain("a"));
        assert!(!is_workload_identity_domain("Example.org"));
        assert!(!is_workload_identity_domain("-bad.org"));
        assert!(!is_workload_identity_domain("bad-.org"));
        assert!(!is_workload_identity_domain("a..b"));
        assert!(!is_workload_identity_domain(""));
        assert!(!is_workload_identity_domain(&"a".repeat(64)));
        assert!(!is_workload_identity_domain(&vec!["a"; 33].join(".")));
    }

    #[test]
    fn provider_arns_parse_and_reject_garbage() {
        assert_eq!(
            parse_provider_arn("arn:aws:iam::111122223333:workload-identity-provider/PaymentsProd"),
            Some(("111122223333", "PaymentsProd"))
        );
        assert_eq!(parse_provider_arn("arn:aws:iam::11112222333:workload-identity-provider/x"), None);
        assert_eq!(parse_provider_arn("arn:aws:iam::111122223333:oidc-provider/x"), None);
        assert_eq!(parse_provider_arn("arn:aws:iam::111122223333:workload-identity-provider/"), None);
        assert_eq!(parse_provider_arn("arn:aws:iam::111122223333:workload-identity-provider/a/b"), None);
        assert_eq!(parse_provider_arn("xxxxxxxxxxxxxxxxxxxxxxxx"), None);
        assert_eq!(parse_provider_arn("arn:aws:iam::ééééééééééé:workload-identity-provider/x"), None);
    }
}
