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
//! Built: account-scoped providers. Organization-scoped providers (`ResourceScope=ORGANIZATION`)
//! answer `NotImplemented`, as do the operations of templates and attestation policies; X.509
//! outbound signers need AWS Private CA, which Tessera does not serve
//! (docs/WORKLOAD_IDENTITY.md says why).

#[path = "workload_identity_policy.rs"]
pub mod policy;
#[path = "workload_identity_providers.rs"]
pub mod providers;
#[path = "workload_identity_signers.rs"]
pub mod signers;
#[path = "workload_identity_templates.rs"]
pub mod templates;
#[path = "workload_identity_x509.rs"]
pub mod x509;

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
        "CreateWorkloadIdentityProviderOutboundSigner" | "UpdateWorkloadIdentityProviderOutboundSigner" => {
            x509::attach(&cx)
        }
        "DeleteWorkloadIdentityProviderOutboundSigner" => x509::delete(&cx),
        "EnableWorkloadIdentityProviderOutboundSigner" | "DisableWorkloadIdentityProviderOutboundSigner" => {
            x509::enable_or_disable(&cx)
        }
        _ => return None,
    };
    Some(result)
}

/// The scope a provider is created at (`workloadIdentityProviderScopeType`).
pub const SCOPES: &[&str] = &["ACCOUNT", "ORGANIZATION"];
/// The naming schemes (`workloadIdentityProviderSchemeType`).
pub const SCHEMES: &[&str] = &["NONE", "SPIFFE"];

/// A workload identity provider of one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkloadIdentityProvider {
    /// The owning account.
    pub account: String,
    /// `ProviderName`, as given.
    pub name: String,
    /// `ProviderId` (`AWPA` + 17 characters for an account-scoped provider).
    pub id: String,
    /// `ACCOUNT` (organization scope is not built).
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

/// The `ResourceScope` parameter: `ACCOUNT` when omitted; `ORGANIZATION` answers
/// `NotImplemented` (organization-level resources are not built).
pub fn resource_scope(cx: &Cx<'_>, c: &mut Checks) -> Result<String, AwsError> {
    let scope = cx.params.get("ResourceScope");
    c.one_of("resourceScope", scope, SCOPES);
    if scope == Some("ORGANIZATION") && c.is_ok() {
        return Err(organization_scope_not_implemented(cx));
    }
    Ok(scope.unwrap_or("ACCOUNT").to_string())
}

/// `NotImplemented` for organization-scoped workload identity resources.
pub fn organization_scope_not_implemented(cx: &Cx<'_>) -> AwsError {
    AwsError::new(
        501,
        "NotImplemented",
        format!(
            "iam:{} with ResourceScope ORGANIZATION is not implemented by Tessera: organization-scoped workload identity providers are not built",
            cx.call.operation
        ),
    )
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
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "WorkloadIdentityProviderArn");
    extra_checks(&mut c);
    c.finish()?;
    let (account, name) = parse_provider_arn(&arn).ok_or_else(|| invalid_provider_arn(&arn))?;
    let provider: Option<WorkloadIdentityProvider> =
        if account == cx.account() { load_named(cx.read()?.as_ref(), PROVIDER_TABLE, account, name)? } else { None };
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
    use super::entities::StoreResultExt;
    let key = provider_key(&provider.account, &provider.name);
    cx.write(|txn| {
        let mut p: WorkloadIdentityProvider = crate::model::load(txn, PROVIDER_TABLE, &key)
            .st()?
            .filter(|p: &WorkloadIdentityProvider| p.id == provider.id)
            .ok_or_else(|| no_such_provider(&provider.arn()))?;
        f(&mut p)?;
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
