//! AWS Organizations (JSON 1.1, `X-Amz-Target: AWSOrganizationsV20161128.<Op>`).
//!
//! The organization, its root, OUs, member accounts (`CreateAccount` makes a real Tessera
//! account with `OrganizationAccountAccessRole`), and policies (SCPs, RCPs and the other policy
//! types) with their attachments. [`scp_levels`] and [`organization_of`] give the authorizer
//! what it needs per request, from a cache rebuilt after every Organizations write.
//!
//! Every operation: decode and check the input, load the caller's organization
//! (`AWSOrganizationsNotInUseException`), authorize with the Service Authorization Reference's
//! action and resource, refuse member accounts where AWS does (`AccessDeniedException`), then
//! read or change state in one store transaction. Behaviour where AWS is silent is written in
//! `docs/ORGANIZATIONS.md`.

pub mod access_report;
pub mod account;
mod accounts;
mod all_features;
mod delegation;
mod effective;
mod govcloud;
mod handshakes;
mod input;
mod policies;
mod resource_policy;
mod transfers;

#[cfg(test)]
mod tests;

use serde_json::{json, Value};
use tessera_store::{ReadTxn, WriteTxn};
use tessera_wire::{AwsError, WireResponse};

use input::In;
use tessera_core::authz::AuthzRequest;
use tessera_core::model::{table, Account, OrgPolicy, Organization, OrganizationalUnit, Tag};

pub(crate) use tessera_core::org::{builtin, delegation_key, load_account, service_key, st, GENERATION_KEY};
pub use tessera_core::org::{
    is_delegated_administrator, org_of, organization_of, scp_levels, trusted_access_enabled, BuiltinPolicy,
    PolicyLevel, BUILTIN_POLICIES, RESOURCE_CONTROL_POLICY, SERVICE_CONTROL_POLICY,
};

// The paths these files had inside `tessera-services` (`crate::model`, `crate::organizations`, ...).
pub(crate) use crate as organizations;
pub(crate) use tessera_core::{access_record, authz, bootstrap, clock, ids, internal, managed, model, validate};
pub(crate) use tessera_core::{Call, Services};
#[cfg(test)]
pub(crate) use tessera_core::{CallMeta, Caller, Config};
pub(crate) use tessera_iam as iam;

/// Every policy type of the API model.
pub(crate) const POLICY_TYPES: &[&str] = &[
    SERVICE_CONTROL_POLICY,
    RESOURCE_CONTROL_POLICY,
    "TAG_POLICY",
    "BACKUP_POLICY",
    "AISERVICES_OPT_OUT_POLICY",
    "CHATBOT_POLICY",
    "DECLARATIVE_POLICY_EC2",
    "SECURITYHUB_POLICY",
    "SECURITYHUB_CSPM_POLICY",
    "INSPECTOR_POLICY",
    "UPGRADE_ROLLOUT_POLICY",
    "BEDROCK_POLICY",
    "S3_POLICY",
    "NETWORK_SECURITY_DIRECTOR_POLICY",
    "GUARDDUTY_POLICY",
];

/// The AWS managed policy attached by default when `policy_type` is enabled.
pub(crate) fn default_policy(policy_type: &str) -> Option<&'static BuiltinPolicy> {
    BUILTIN_POLICIES.iter().find(|p| p.policy_type == policy_type)
}

/// Run an Organizations operation.
pub fn handle(services: &Services, call: &Call, input: &Value) -> Result<WireResponse, AwsError> {
    let i = In(input);
    let s = services;
    let out = match call.operation.as_str() {
        "CreateOrganization" => accounts::create_organization(s, call, i),
        "DescribeOrganization" => accounts::describe_organization(s, call, i),
        "DeleteOrganization" => accounts::delete_organization(s, call, i),
        "ListRoots" => accounts::list_roots(s, call, i),
        "CreateAccount" => accounts::create_account(s, call, i),
        "DescribeCreateAccountStatus" => accounts::describe_create_account_status(s, call, i),
        "ListCreateAccountStatus" => accounts::list_create_account_status(s, call, i),
        "DescribeAccount" => accounts::describe_account(s, call, i),
        "ListAccounts" => accounts::list_accounts(s, call, i),
        "ListAccountsForParent" => accounts::list_accounts_for_parent(s, call, i),
        "ListParents" => accounts::list_parents(s, call, i),
        "ListChildren" => accounts::list_children(s, call, i),
        "CreateOrganizationalUnit" => accounts::create_organizational_unit(s, call, i),
        "DescribeOrganizationalUnit" => accounts::describe_organizational_unit(s, call, i),
        "UpdateOrganizationalUnit" => accounts::update_organizational_unit(s, call, i),
        "DeleteOrganizationalUnit" => accounts::delete_organizational_unit(s, call, i),
        "ListOrganizationalUnitsForParent" => accounts::list_organizational_units_for_parent(s, call, i),
        "MoveAccount" => accounts::move_account(s, call, i),
        "RemoveAccountFromOrganization" => accounts::remove_account_from_organization(s, call, i),
        "LeaveOrganization" => accounts::leave_organization(s, call, i),
        "CloseAccount" => accounts::close_account(s, call, i),
        "InviteAccountToOrganization" => handshakes::invite(s, call, i),
        "AcceptHandshake" => handshakes::accept(s, call, i),
        "DeclineHandshake" => handshakes::decline(s, call, i),
        "CancelHandshake" => handshakes::cancel(s, call, i),
        "DescribeHandshake" => handshakes::describe(s, call, i),
        "ListHandshakesForAccount" => handshakes::list_for_account(s, call, i),
        "ListHandshakesForOrganization" => handshakes::list_for_organization(s, call, i),
        "EnablePolicyType" => policies::enable_policy_type(s, call, i),
        "DisablePolicyType" => policies::disable_policy_type(s, call, i),
        "CreatePolicy" => policies::create_policy(s, call, i),
        "DescribePolicy" => policies::describe_policy(s, call, i),
        "UpdatePolicy" => policies::update_policy(s, call, i),
        "DeletePolicy" => policies::delete_policy(s, call, i),
        "ListPolicies" => policies::list_policies(s, call, i),
        "AttachPolicy" => policies::attach_policy(s, call, i),
        "DetachPolicy" => policies::detach_policy(s, call, i),
        "ListPoliciesForTarget" => policies::list_policies_for_target(s, call, i),
        "ListTargetsForPolicy" => policies::list_targets_for_policy(s, call, i),
        "TagResource" => policies::tag_resource(s, call, i),
        "UntagResource" => policies::untag_resource(s, call, i),
        "ListTagsForResource" => policies::list_tags_for_resource(s, call, i),
        "EnableAWSServiceAccess" => delegation::enable_aws_service_access(s, call, i),
        "DisableAWSServiceAccess" => delegation::disable_aws_service_access(s, call, i),
        "ListAWSServiceAccessForOrganization" => delegation::list_aws_service_access_for_organization(s, call, i),
        "RegisterDelegatedAdministrator" => delegation::register_delegated_administrator(s, call, i),
        "DeregisterDelegatedAdministrator" => delegation::deregister_delegated_administrator(s, call, i),
        "ListDelegatedAdministrators" => delegation::list_delegated_administrators(s, call, i),
        "ListDelegatedServicesForAccount" => delegation::list_delegated_services_for_account(s, call, i),
        "DescribeEffectivePolicy" => effective::describe_effective_policy(s, call, i),
        "ListEffectivePolicyValidationErrors" => effective::list_effective_policy_validation_errors(s, call, i),
        "ListAccountsWithInvalidEffectivePolicy" => effective::list_accounts_with_invalid_effective_policy(s, call, i),
        "PutResourcePolicy" => resource_policy::put(s, call, i),
        "DescribeResourcePolicy" => resource_policy::describe(s, call, i),
        "DeleteResourcePolicy" => resource_policy::delete(s, call, i),
        "CreateGovCloudAccount" => accounts::create_account(s, call, i),
        "EnableAllFeatures" => all_features::enable_all_features(s, call, i),
        "InviteOrganizationToTransferResponsibility" => transfers::invite(s, call, i),
        "DescribeResponsibilityTransfer" => transfers::describe(s, call, i),
        "ListInboundResponsibilityTransfers" => transfers::list_inbound(s, call, i),
        "ListOutboundResponsibilityTransfers" => transfers::list_outbound(s, call, i),
        "UpdateResponsibilityTransfer" => transfers::update(s, call, i),
        "TerminateResponsibilityTransfer" => transfers::terminate(s, call, i),
        op => Err(AwsError::not_implemented("organizations", op)),
    }?;
    Ok(WireResponse::json(&out, &call.meta.request_id))
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An Organizations exception (HTTP 400, as AWS answers them all).
pub(crate) fn err(code: &str, message: &str) -> AwsError {
    AwsError::new(400, code, message)
}

/// `ConstraintViolationException` with `reason` and AWS's description of it.
pub(crate) fn constraint(reason: &str) -> AwsError {
    let message = match reason {
        "POLICY_CONTENT_LIMIT_EXCEEDED" => "You attempted to create a policy that is larger than the maximum size.",
        "POLICY_NUMBER_LIMIT_EXCEEDED" => {
            "You attempted to exceed the number of policies that you can have in an organization."
        }
        "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED" => {
            "You attempted to exceed the number of policies of a certain type that can be attached to an entity at one time."
        }
        "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED" => {
            "You attempted to detach a policy from an entity that would cause the entity to have fewer than the minimum number of policies of a certain type required."
        }
        "OU_DEPTH_LIMIT_EXCEEDED" => "You attempted to create an OU tree that is too many levels deep.",
        "OU_NUMBER_LIMIT_EXCEEDED" => "You attempted to exceed the number of OUs that you can have in an organization.",
        "ACCOUNT_NUMBER_LIMIT_EXCEEDED" => {
            "You attempted to exceed the limit on the number of accounts in an organization."
        }
        "MAX_TAG_LIMIT_EXCEEDED" => "You have exceeded the number of tags allowed on this resource.",
        "CANNOT_CLOSE_MANAGEMENT_ACCOUNT" => "You attempted to close the management account. To close the management account for the organization, you must first either remove or close all member accounts in the organization. Follow standard account closure process using root credentials.",
        "CLOSE_ACCOUNT_QUOTA_EXCEEDED" => "You have exceeded close account quota for the past 30-day period.",
        "ORGANIZATION_NOT_IN_ALL_FEATURES_MODE" => {
            "You attempted to perform an operation that requires the organization to be configured to support all features."
        }
        "CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR" => {
            "You attempted to register the management account of the organization as a delegated administrator for an Amazon Web Services service integrated with Organizations. You can designate only a member account as a delegated administrator."
        }
        "SERVICE_ACCESS_NOT_ENABLED" => {
            "You attempted to register a delegated administrator before you enabled service access. Call the EnableAWSServiceAccess API first."
        }
        "CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG" => {
            "You attempted to remove an account that is registered as a delegated administrator for a service integrated with your organization. To complete this operation, you must first deregister this account as a delegated administrator."
        }
        "ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS" => {
            "You cannot delete organization due to an ongoing responsibility transfer process. For example, a pending invitation or an in-progress transfer. To delete the organization, you must resolve the current transfer process."
        }
        "TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED" => {
            "You cannot update this transfer because it is no longer active. Transfers that have been withdrawn, declined, expired, or cancelled cannot be modified."
        }
        "TRANSFER_RESPONSIBILITY_TARGET_DELETION_IN_PROGRESS" => {
            "The source organization cannot accept this transfer invitation because target organization is marked for deletion."
        }
        "MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED" => {
            "You attempted to register more delegated administrators than allowed for the service principal."
        }
        _ => "The requested operation would violate a constraint of the organization.",
    };
    err("ConstraintViolationException", message).with_reason(reason)
}

fn not_in_use() -> AwsError {
    err(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization. To make this request, you must use the credentials of an account that belongs to an organization.",
    )
}

fn member_denied() -> AwsError {
    err("AccessDeniedException", "You don't have permissions to access this resource.")
}

/// How [`authorize`] allowed a request: through the organization's resource policy (a member
/// account's call the policy grants) or through the caller's own policies. It is a value each
/// operation passes on to [`require_management`], so nothing of one call can reach another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Allowed by the organization's resource policy, for an operation it may open to members.
    through_resource_policy: bool,
}

impl Grant {
    /// Allowed by the caller's own policies.
    pub(crate) const OWN: Grant = Grant { through_resource_policy: false };
    /// Allowed by the organization's resource policy.
    pub(crate) const RESOURCE_POLICY: Grant = Grant { through_resource_policy: true };

    /// The grant of an operation that needed both authorizations (`AttachPolicy` asks for the
    /// policy and the target): through the resource policy only if both were.
    pub(crate) fn and(self, other: Grant) -> Grant {
        Grant { through_resource_policy: self.through_resource_policy && other.through_resource_policy }
    }
}

/// Authorize `action` on `resource` with condition keys; IAM's `AccessDenied` becomes JSON
/// 1.1's `AccessDeniedException`. The [`Grant`] says how the request was allowed.
pub(crate) fn authorize(
    services: &Services,
    call: &Call,
    action: &str,
    resource: &str,
    context: Vec<(String, Vec<String>)>,
) -> Result<Grant, AwsError> {
    // A member account's call may be granted through the organization's resource policy.
    if action.starts_with("organizations:")
        && resource_policy::authorize_through(services, call, action, resource, &context)?
    {
        return Ok(Grant::RESOURCE_POLICY);
    }
    let req = AuthzRequest { action, resource, context, ..Default::default() };
    services.authorize_request(call, &req).map_err(|e| {
        if e.code == "AccessDenied" {
            AwsError { code: "AccessDeniedException".into(), status: 400, ..e }
        } else {
            e
        }
    })?;
    Ok(Grant::OWN)
}

pub(crate) use tessera_core::model::request_tag_context as tag_context;

/// `organizations:PolicyType`.
pub(crate) fn policy_type_context(policy_type: &str) -> Vec<(String, Vec<String>)> {
    vec![("organizations:PolicyType".into(), vec![policy_type.to_string()])]
}

// ---------------------------------------------------------------------------------------------
// Transactions

/// Mark the organization data as changed, in the write transaction that changes it.
pub(crate) fn touch(txn: &mut dyn WriteTxn) -> Result<(), AwsError> {
    st(model::save(txn, table::META, GENERATION_KEY, &crate::ids::lower_alnum(20)))
}

// ---------------------------------------------------------------------------------------------
// The caller's organization

/// The caller's organization, or `AWSOrganizationsNotInUseException`.
pub(crate) fn caller_org<R: ReadTxn + ?Sized>(r: &R, call: &Call) -> Result<Organization, AwsError> {
    org_of(r, &call.caller.account)?.ok_or_else(not_in_use)
}

/// Only the management account may run this operation (or a member account the organization's
/// resource policy granted it to: `grant`, what [`authorize`] returned for this operation).
pub(crate) fn require_management(call: &Call, org: &Organization, grant: Grant) -> Result<(), AwsError> {
    if call.caller.account == org.management_account || grant.through_resource_policy {
        Ok(())
    } else {
        Err(member_denied())
    }
}

// ---------------------------------------------------------------------------------------------
// ARNs

/// `arn:aws:organizations::<mgmt>:account/<org>/<id>`.
pub(crate) fn account_arn(org: &Organization, id: &str) -> String {
    format!("arn:aws:organizations::{}:account/{}/{id}", org.management_account, org.id)
}

/// `arn:aws:organizations::<mgmt>:root/<org>/<root>`.
pub(crate) fn root_arn(org: &Organization) -> String {
    format!("arn:aws:organizations::{}:root/{}/{}", org.management_account, org.id, org.root_id)
}

/// `arn:aws:organizations::<mgmt>:ou/<org>/<ou>`.
pub(crate) fn ou_arn(org: &Organization, id: &str) -> String {
    format!("arn:aws:organizations::{}:ou/{}/{id}", org.management_account, org.id)
}

/// The ARN of a root, OU or account id.
pub(crate) fn target_arn(org: &Organization, id: &str) -> String {
    if id.starts_with("r-") {
        root_arn(org)
    } else if id.starts_with("ou-") {
        ou_arn(org, id)
    } else {
        account_arn(org, id)
    }
}

// ---------------------------------------------------------------------------------------------
// Policies

/// A policy: AWS managed or the organization's own.
#[derive(Debug, Clone)]
pub(crate) enum Policy {
    /// `p-FullAWSAccess`, `p-RCPFullAWSAccess`.
    Builtin(&'static BuiltinPolicy),
    /// A customer managed policy.
    Custom(OrgPolicy),
}

impl Policy {
    pub(crate) fn id(&self) -> &str {
        match self {
            Policy::Builtin(p) => p.id,
            Policy::Custom(p) => &p.id,
        }
    }
    pub(crate) fn policy_type(&self) -> &str {
        match self {
            Policy::Builtin(p) => p.policy_type,
            Policy::Custom(p) => &p.policy_type,
        }
    }
    pub(crate) fn name(&self) -> &str {
        match self {
            Policy::Builtin(p) => p.name,
            Policy::Custom(p) => &p.name,
        }
    }
    pub(crate) fn content(&self) -> &str {
        match self {
            Policy::Builtin(p) => p.content,
            Policy::Custom(p) => &p.content,
        }
    }
    pub(crate) fn aws_managed(&self) -> bool {
        matches!(self, Policy::Builtin(_))
    }
    /// Customer: `arn:aws:organizations::<mgmt>:policy/<org>/<type>/<id>`; AWS managed:
    /// `arn:aws:organizations::aws:policy/<type>/<id>`.
    pub(crate) fn arn(&self, org: &Organization) -> String {
        let kind = self.policy_type().to_ascii_lowercase();
        match self {
            Policy::Builtin(p) => format!("arn:aws:organizations::aws:policy/{kind}/{}", p.id),
            Policy::Custom(p) => {
                format!("arn:aws:organizations::{}:policy/{}/{kind}/{}", org.management_account, org.id, p.id)
            }
        }
    }
    /// `PolicySummary`.
    pub(crate) fn summary(&self, org: &Organization) -> Value {
        let description = match self {
            Policy::Builtin(p) => p.description,
            Policy::Custom(p) => &p.description,
        };
        json!({
            "Id": self.id(),
            "Arn": self.arn(org),
            "Name": self.name(),
            "Description": description,
            "Type": self.policy_type(),
            "AwsManaged": self.aws_managed(),
        })
    }
    /// `Policy`.
    pub(crate) fn full(&self, org: &Organization) -> Value {
        json!({"PolicySummary": self.summary(org), "Content": self.content()})
    }
}

/// The policy `id` visible to `org`.
pub(crate) fn load_policy<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    id: &str,
) -> Result<Option<Policy>, AwsError> {
    if let Some(p) = builtin(id) {
        return Ok(Some(Policy::Builtin(p)));
    }
    if !id.starts_with("p-") {
        return Ok(None);
    }
    let p: Option<OrgPolicy> = st(model::load(r, table::ORG_ENTITY, id))?;
    Ok(p.filter(|p| p.organization_id == org.id).map(Policy::Custom))
}

/// The organization's customer managed policies.
pub(crate) fn org_policies<R: ReadTxn + ?Sized>(r: &R, org: &Organization) -> Result<Vec<OrgPolicy>, AwsError> {
    let rows = st(r.scan(table::ORG_ENTITY, "p-", None, usize::MAX))?;
    let all: Vec<(String, OrgPolicy)> = st(model::decode_rows(table::ORG_ENTITY, rows))?;
    Ok(all.into_iter().map(|(_, p)| p).filter(|p| p.organization_id == org.id).collect())
}

// ---------------------------------------------------------------------------------------------
// The tree

/// The OU `id` of `org`.
pub(crate) fn load_ou<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    id: &str,
) -> Result<Option<OrganizationalUnit>, AwsError> {
    if !id.starts_with("ou-") {
        return Ok(None);
    }
    let ou: Option<OrganizationalUnit> = st(model::load(r, table::ORG_ENTITY, id))?;
    Ok(ou.filter(|ou| ou.organization_id == org.id))
}

/// Every OU of `org`.
pub(crate) fn org_ous<R: ReadTxn + ?Sized>(r: &R, org: &Organization) -> Result<Vec<OrganizationalUnit>, AwsError> {
    let rows = st(r.scan(table::ORG_ENTITY, "ou-", None, usize::MAX))?;
    let all: Vec<(String, OrganizationalUnit)> = st(model::decode_rows(table::ORG_ENTITY, rows))?;
    Ok(all.into_iter().map(|(_, ou)| ou).filter(|ou| ou.organization_id == org.id).collect())
}

/// Every account of `org`, by id.
pub(crate) fn org_accounts<R: ReadTxn + ?Sized>(r: &R, org: &Organization) -> Result<Vec<Account>, AwsError> {
    let rows = st(r.scan(table::ACCOUNT, "", None, usize::MAX))?;
    let all: Vec<(String, Account)> = st(model::decode_rows(table::ACCOUNT, rows))?;
    Ok(all.into_iter().map(|(_, a)| a).filter(|a| a.organization_id.as_deref() == Some(org.id.as_str())).collect())
}

/// The account `id` if it is in `org`.
pub(crate) fn load_member<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    id: &str,
) -> Result<Option<Account>, AwsError> {
    Ok(load_account(r, id)?.filter(|a| a.organization_id.as_deref() == Some(org.id.as_str())))
}

/// Whether `id` is the root or an OU of `org`.
pub(crate) fn parent_exists<R: ReadTxn + ?Sized>(r: &R, org: &Organization, id: &str) -> Result<bool, AwsError> {
    Ok(id == org.root_id || load_ou(r, org, id)?.is_some())
}

/// The chain of OU ids from the root down to `parent_id` (inclusive; empty for the root).
pub(crate) fn ou_chain<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    parent_id: &str,
) -> Result<Vec<String>, AwsError> {
    let mut chain = Vec::new();
    let mut at = parent_id.to_string();
    while at != org.root_id {
        if chain.len() > 64 {
            tracing::error!(ou = %parent_id, "organizational unit tree has a cycle");
            return Err(AwsError::internal());
        }
        let Some(ou) = load_ou(r, org, &at)? else { break };
        chain.push(ou.id.clone());
        at = ou.parent_id;
    }
    chain.reverse();
    Ok(chain)
}

/// `o-x/r-x/ou-a/.../` of an entity whose parent is `parent_id`.
pub(crate) fn path_under<R: ReadTxn + ?Sized>(r: &R, org: &Organization, parent_id: &str) -> Result<String, AwsError> {
    let mut path = format!("{}/{}/", org.id, org.root_id);
    for ou in ou_chain(r, org, parent_id)? {
        path.push_str(&ou);
        path.push('/');
    }
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// Attachments and tags

fn target_key(org: &str, target: &str, policy: &str) -> String {
    format!("{org}/t/{target}/{policy}")
}

fn policy_key(org: &str, policy: &str, target: &str) -> String {
    format!("{org}/p/{policy}/{target}")
}

/// Attach `policy` (of `policy_type`) to `target`.
pub(crate) fn attach(
    txn: &mut dyn WriteTxn,
    org: &Organization,
    target: &str,
    policy: &str,
    policy_type: &str,
) -> Result<(), AwsError> {
    st(model::save(txn, table::ORG_ATTACHMENT, &target_key(&org.id, target, policy), &policy_type))?;
    st(model::save(txn, table::ORG_ATTACHMENT, &policy_key(&org.id, policy, target), &policy_type))
}

/// Detach `policy` from `target`.
pub(crate) fn detach(txn: &mut dyn WriteTxn, org: &Organization, target: &str, policy: &str) -> Result<(), AwsError> {
    st(txn.delete(table::ORG_ATTACHMENT, &target_key(&org.id, target, policy)))?;
    st(txn.delete(table::ORG_ATTACHMENT, &policy_key(&org.id, policy, target))).map(|_| ())
}

/// The policies attached to `target`: (policy id, type), by policy id.
pub(crate) fn attachments_of<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    target: &str,
) -> Result<Vec<(String, String)>, AwsError> {
    let prefix = format!("{}/t/{target}/", org.id);
    let rows = st(r.scan(table::ORG_ATTACHMENT, &prefix, None, usize::MAX))?;
    let rows: Vec<(String, String)> = st(model::decode_rows(table::ORG_ATTACHMENT, rows))?;
    Ok(rows.into_iter().map(|(k, t)| (k[prefix.len()..].to_string(), t)).collect())
}

/// The targets `policy` is attached to.
pub(crate) fn targets_of<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    policy: &str,
) -> Result<Vec<String>, AwsError> {
    let prefix = format!("{}/p/{policy}/", org.id);
    let rows = st(r.scan(table::ORG_ATTACHMENT, &prefix, None, usize::MAX))?;
    Ok(rows.into_iter().map(|(k, _)| k[prefix.len()..].to_string()).collect())
}

/// Detach every policy from `target`.
pub(crate) fn detach_all(txn: &mut dyn WriteTxn, org: &Organization, target: &str) -> Result<(), AwsError> {
    for (policy, _) in attachments_of(txn, org, target)? {
        detach(txn, org, target, &policy)?;
    }
    Ok(())
}

/// Attach the AWS managed default policy of every enabled type that has one (a new OU or account).
pub(crate) fn attach_defaults(txn: &mut dyn WriteTxn, org: &Organization, target: &str) -> Result<(), AwsError> {
    for t in &org.enabled_policy_types {
        if let Some(p) = default_policy(t) {
            attach(txn, org, target, p.id, p.policy_type)?;
        }
    }
    Ok(())
}

/// The tags of a resource.
pub(crate) fn load_tags<R: ReadTxn + ?Sized>(r: &R, id: &str) -> Result<Vec<Tag>, AwsError> {
    Ok(st(model::load(r, table::ORG_TAG, id))?.unwrap_or_default())
}

/// Replace the tags of a resource.
pub(crate) fn save_tags(txn: &mut dyn WriteTxn, id: &str, tags: &[Tag]) -> Result<(), AwsError> {
    if tags.is_empty() {
        st(txn.delete(table::ORG_TAG, id)).map(|_| ())
    } else {
        st(model::save(txn, table::ORG_TAG, id, &tags))
    }
}

/// Tags as the API writes them.
pub(crate) fn tags_json(tags: &[Tag]) -> Value {
    Value::Array(tags.iter().map(|t| json!({"Key": t.key, "Value": t.value})).collect())
}
