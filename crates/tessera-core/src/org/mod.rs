//! What other services read of AWS Organizations on every request: the account records, the
//! organization an account belongs to ([`org_of`]), the SCPs/RCPs that bound it
//! ([`scp_levels`], [`organization_of`], from the cached view in `view.rs`), trusted access and
//! delegated administrators. The operations that change them are in `tessera-organizations`.

mod view;

use tessera_store::{ReadTxn, StoreError};
use tessera_wire::AwsError;

use crate::internal;
use crate::model::{self, table, Account, Organization};

pub use view::{organization_of, scp_levels, PolicyLevel};

/// `SERVICE_CONTROL_POLICY`.
pub const SERVICE_CONTROL_POLICY: &str = "SERVICE_CONTROL_POLICY";
/// `RESOURCE_CONTROL_POLICY`.
pub const RESOURCE_CONTROL_POLICY: &str = "RESOURCE_CONTROL_POLICY";

/// An AWS managed Organizations policy.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinPolicy {
    /// `p-FullAWSAccess`, `p-RCPFullAWSAccess`.
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
    /// Description.
    pub description: &'static str,
    /// Policy type.
    pub policy_type: &'static str,
    /// The document.
    pub content: &'static str,
}

/// The AWS managed policies: attached to every root, OU and account when their type is enabled.
pub const BUILTIN_POLICIES: &[BuiltinPolicy] = &[
    BuiltinPolicy {
        id: "p-FullAWSAccess",
        name: "FullAWSAccess",
        description: "Allows access to every operation",
        policy_type: SERVICE_CONTROL_POLICY,
        content: "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": \"*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}",
    },
    BuiltinPolicy {
        id: "p-RCPFullAWSAccess",
        name: "RCPFullAWSAccess",
        description: "Allows access to every operation",
        policy_type: RESOURCE_CONTROL_POLICY,
        content: "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": \"*\",\n      \"Action\": \"*\",\n      \"Resource\": \"*\"\n    }\n  ]\n}",
    },
];

/// The AWS managed policy `id`.
pub fn builtin(id: &str) -> Option<&'static BuiltinPolicy> {
    BUILTIN_POLICIES.iter().find(|p| p.id == id)
}

/// Map a storage failure.
pub fn st<T>(r: Result<T, StoreError>) -> Result<T, AwsError> {
    r.map_err(internal)
}

/// Meta key whose random value changes with every Organizations write (cache validation).
pub const GENERATION_KEY: &str = "organizations_generation";

/// An account record.
pub fn load_account<R: ReadTxn + ?Sized>(r: &R, id: &str) -> Result<Option<Account>, AwsError> {
    st(model::load(r, table::ACCOUNT, id))
}

/// The organization `account` belongs to.
pub fn org_of<R: ReadTxn + ?Sized>(r: &R, account: &str) -> Result<Option<Organization>, AwsError> {
    let Some(acct) = load_account(r, account)? else { return Ok(None) };
    match acct.organization_id {
        None => Ok(None),
        Some(org) => st(model::load(r, table::ORGANIZATION, &org)),
    }
}

/// Trusted access and delegations, keyed by organization (see the module comment).
pub const ORG_DELEGATION: &str = "org_delegation";

/// The key of trusted access for `principal` in `org` (see [`ORG_DELEGATION`]).
pub fn service_key(org: &str, principal: &str) -> String {
    format!("{org}/s/{principal}")
}

/// The key of `account`'s delegation for `principal` in `org` (see [`ORG_DELEGATION`]).
pub fn delegation_key(org: &str, account: &str, principal: &str) -> String {
    format!("{org}/d/{account}/{principal}")
}

/// Whether trusted access for `principal` (e.g. `account.amazonaws.com`) is enabled in the
/// organization `account` belongs to (false when it belongs to none).
pub fn trusted_access_enabled<R: ReadTxn + ?Sized>(r: &R, account: &str, principal: &str) -> Result<bool, AwsError> {
    let Some(org) = org_of(r, account)? else { return Ok(false) };
    Ok(st(r.get(ORG_DELEGATION, &service_key(&org.id, principal)))?.is_some())
}

/// Whether `account` is a delegated administrator for `principal` in its organization.
pub fn is_delegated_administrator<R: ReadTxn + ?Sized>(
    r: &R,
    account: &str,
    principal: &str,
) -> Result<bool, AwsError> {
    let Some(org) = org_of(r, account)? else { return Ok(false) };
    Ok(st(r.get(ORG_DELEGATION, &delegation_key(&org.id, account, principal)))?.is_some())
}
