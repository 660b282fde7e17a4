//! Trusted access (`EnableAWSServiceAccess`, ...) and delegated administrators
//! (`RegisterDelegatedAdministrator`, ...), and the two questions other services ask of them:
//! [`trusted_access_enabled`] and [`is_delegated_administrator`].
//!
//! Records live in the table [`ORG_DELEGATION`] under the organization's prefix (so
//! `DeleteOrganization` removes them with it): `<org>/s/<principal>` (trusted access, value its
//! `DateEnabled`) and `<org>/d/<account>/<principal>` (a delegation, value its
//! `DelegationEnabledDate`). Epoch seconds.

use serde_json::{json, Value};
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use super::accounts::{account_not_found, check_account_id, org_for, same_org, with_token};
use super::input::{self, In};
use super::*;
pub(crate) use tessera_core::org::ORG_DELEGATION;

/// Most delegated administrators per service principal (services allow one to a few; Tessera
/// allows this many).
const MAX_DELEGATED_ADMINISTRATORS_PER_SERVICE: usize = 20;

fn delegation_prefix(org: &str) -> String {
    format!("{org}/d/")
}

/// The enabled service principals of `org` with their `DateEnabled`, by principal.
fn enabled_services<R: ReadTxn + ?Sized>(r: &R, org: &Organization) -> Result<Vec<(String, i64)>, AwsError> {
    let prefix = service_key(&org.id, "");
    let rows = st(r.scan(ORG_DELEGATION, &prefix, None, usize::MAX))?;
    let rows: Vec<(String, i64)> = st(model::decode_rows(ORG_DELEGATION, rows))?;
    Ok(rows.into_iter().map(|(k, d)| (k[prefix.len()..].to_string(), d)).collect())
}

/// Every delegation of `org`: (account, principal, date), by account then principal.
fn delegations<R: ReadTxn + ?Sized>(r: &R, org: &Organization) -> Result<Vec<(String, String, i64)>, AwsError> {
    let prefix = delegation_prefix(&org.id);
    let rows = st(r.scan(ORG_DELEGATION, &prefix, None, usize::MAX))?;
    let rows: Vec<(String, i64)> = st(model::decode_rows(ORG_DELEGATION, rows))?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, d)| {
            let (account, principal) = k[prefix.len()..].split_once('/')?;
            Some((account.to_string(), principal.to_string(), d))
        })
        .collect())
}

/// Whether `account` is a delegated administrator of `org` for any service.
pub(super) fn delegates_anything<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    account: &str,
) -> Result<bool, AwsError> {
    let prefix = format!("{}{account}/", delegation_prefix(&org.id));
    Ok(st(r.count(ORG_DELEGATION, &prefix))? > 0)
}

/// `ConstraintViolationException` `CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG` when `account`
/// is still a delegated administrator (it must be deregistered before it leaves).
pub(super) fn check_not_delegated<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    account: &str,
) -> Result<(), AwsError> {
    if delegates_anything(r, org, account)? {
        return Err(constraint("CANNOT_REMOVE_DELEGATED_ADMINISTRATOR_FROM_ORG"));
    }
    Ok(())
}

/// The model's `ServicePrincipal`: 1-128 characters of `[\w+=,.@-]`.
fn check_principal(p: &str) -> Result<(), AwsError> {
    input::length(p, 1, 128)?;
    input::pattern(p.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)))
}

fn principal_context(principal: &str) -> Vec<(String, Vec<String>)> {
    vec![("organizations:ServicePrincipal".into(), vec![principal.to_string()])]
}

fn not_registered() -> AwsError {
    err(
        "AccountNotRegisteredException",
        "The provided account is not a registered delegated administrator for your organization.",
    )
}

/// The management account, or (for the list operations AWS opens to them) a member account
/// that is a delegated administrator for some service.
pub(super) fn require_management_or_delegate(
    s: &Services,
    call: &Call,
    org: &Organization,
    grant: Grant,
) -> Result<(), AwsError> {
    if call.caller.account == org.management_account {
        return Ok(());
    }
    let r = st(s.store.read())?;
    if delegates_anything(&*r, org, &call.caller.account)? {
        Ok(())
    } else {
        require_management(call, org, grant)
    }
}

// ---------------------------------------------------------------------------------------------
// Trusted access

/// `EnableAWSServiceAccess`: idempotent (enabling again keeps the first `DateEnabled`); needs
/// all features.
pub(super) fn enable_aws_service_access(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let principal = i.req_str("ServicePrincipal")?;
    check_principal(principal)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:EnableAWSServiceAccess", "*", principal_context(principal))?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    if org.feature_set != "ALL" {
        return Err(constraint("ORGANIZATION_NOT_IN_ALL_FEATURES_MODE"));
    }
    let key = service_key(&org.id, principal);
    if st(txn.get(ORG_DELEGATION, &key))?.is_none() {
        st(model::save(txn.as_mut(), ORG_DELEGATION, &key, &call.now_secs()))?;
        touch(txn.as_mut())?;
        st(txn.commit())?;
    }
    Ok(json!({}))
}

/// `DisableAWSServiceAccess`: idempotent; delegated administrators for the service stay
/// registered (as on AWS, where the service itself cleans up).
pub(super) fn disable_aws_service_access(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let principal = i.req_str("ServicePrincipal")?;
    check_principal(principal)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DisableAWSServiceAccess", "*", principal_context(principal))?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    if st(txn.delete(ORG_DELEGATION, &service_key(&org.id, principal)))? {
        touch(txn.as_mut())?;
        st(txn.commit())?;
    }
    Ok(json!({}))
}

/// `ListAWSServiceAccessForOrganization`, by service principal.
pub(super) fn list_aws_service_access_for_organization(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListAWSServiceAccessForOrganization", "*", vec![])?;
    require_management_or_delegate(s, call, &org, grant)?;
    let r = st(s.store.read())?;
    let (items, next) = page.apply(enabled_services(&*r, &org)?, |(p, _)| p.clone());
    let list: Vec<Value> = items.iter().map(|(p, d)| json!({"ServicePrincipal": p, "DateEnabled": d})).collect();
    Ok(with_token(json!({ "EnabledServicePrincipals": list }), next))
}

// ---------------------------------------------------------------------------------------------
// Delegated administrators

/// A `Register/DeregisterDelegatedAdministrator` under way: its open write transaction, the
/// organization, the member account and the service principal.
struct DelegationChange<'s, 'a> {
    txn: Box<dyn tessera_store::WriteTxn + 's>,
    org: Organization,
    account: &'a str,
    principal: &'a str,
}

/// The common start of `Register/DeregisterDelegatedAdministrator`: the input, authorization of
/// `action` on the account, then in the write transaction the management-account check and the
/// account's membership.
fn delegation_change<'s, 'a>(
    s: &'s Services,
    call: &Call,
    i: In<'a>,
    action: &str,
) -> Result<DelegationChange<'s, 'a>, AwsError> {
    let account = i.req_str("AccountId")?;
    let principal = i.req_str("ServicePrincipal")?;
    check_account_id(account)?;
    check_principal(principal)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, action, &account_arn(&org, account), principal_context(principal))?;
    let txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    load_member(&*txn, &org, account)?.ok_or_else(account_not_found)?;
    Ok(DelegationChange { txn, org, account, principal })
}

/// `RegisterDelegatedAdministrator`.
pub(super) fn register_delegated_administrator(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let DelegationChange { mut txn, org, account, principal } =
        delegation_change(s, call, i, "organizations:RegisterDelegatedAdministrator")?;
    if account == org.management_account {
        return Err(constraint("CANNOT_REGISTER_MASTER_AS_DELEGATED_ADMINISTRATOR"));
    }
    if st(txn.get(ORG_DELEGATION, &service_key(&org.id, principal)))?.is_none() {
        return Err(constraint("SERVICE_ACCESS_NOT_ENABLED"));
    }
    let key = delegation_key(&org.id, account, principal);
    if st(txn.get(ORG_DELEGATION, &key))?.is_some() {
        return Err(err(
            "AccountAlreadyRegisteredException",
            "The provided account is already a delegated administrator for your organization.",
        ));
    }
    if delegations(&*txn, &org)?.iter().filter(|(_, p, _)| p == principal).count()
        >= MAX_DELEGATED_ADMINISTRATORS_PER_SERVICE
    {
        return Err(constraint("MAX_DELEGATED_ADMINISTRATORS_FOR_SERVICE_LIMIT_EXCEEDED"));
    }
    st(model::save(txn.as_mut(), ORG_DELEGATION, &key, &call.now_secs()))?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `DeregisterDelegatedAdministrator`.
pub(super) fn deregister_delegated_administrator(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let DelegationChange { mut txn, org, account, principal } =
        delegation_change(s, call, i, "organizations:DeregisterDelegatedAdministrator")?;
    if !st(txn.delete(ORG_DELEGATION, &delegation_key(&org.id, account, principal)))? {
        return Err(not_registered());
    }
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `DelegatedAdministrator`.
fn delegated_administrator_json(org: &Organization, a: &Account, date: i64) -> Value {
    let mut v = json!({
        "Id": a.id,
        "Arn": account_arn(org, &a.id),
        "Email": a.email,
        "Name": a.name,
        "Status": a.status,
        "DelegationEnabledDate": date,
    });
    if let Some(m) = &a.joined_method {
        v["JoinedMethod"] = json!(m);
    }
    if let Some(t) = a.joined {
        v["JoinedTimestamp"] = json!(t);
    }
    v
}

/// `ListDelegatedAdministrators`, by account id; with `ServicePrincipal`, only that service's.
/// An account delegated for several services appears once, with its earliest delegation date.
pub(super) fn list_delegated_administrators(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let principal = i.opt_str("ServicePrincipal")?;
    if let Some(p) = principal {
        check_principal(p)?;
    }
    let page = i.page()?;
    let org = org_for(s, call)?;
    let context = principal.map(principal_context).unwrap_or_default();
    let grant = authorize(s, call, "organizations:ListDelegatedAdministrators", "*", context)?;
    require_management_or_delegate(s, call, &org, grant)?;
    let r = st(s.store.read())?;
    let mut admins: Vec<(String, i64)> = Vec::new();
    for (account, p, date) in delegations(&*r, &org)? {
        if principal.is_some_and(|want| want != p) {
            continue;
        }
        match admins.last_mut() {
            Some((last, d)) if *last == account => *d = (*d).min(date),
            _ => admins.push((account, date)),
        }
    }
    let (admins, next) = page.apply(admins, |(a, _)| a.clone());
    let mut list = Vec::with_capacity(admins.len());
    for (id, date) in admins {
        if let Some(a) = load_member(&*r, &org, &id)? {
            list.push(delegated_administrator_json(&org, &a, date));
        }
    }
    Ok(with_token(json!({ "DelegatedAdministrators": list }), next))
}

/// `ListDelegatedServicesForAccount`, by service principal.
pub(super) fn list_delegated_services_for_account(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let account = i.req_str("AccountId")?;
    check_account_id(account)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant =
        authorize(s, call, "organizations:ListDelegatedServicesForAccount", &account_arn(&org, account), vec![])?;
    require_management_or_delegate(s, call, &org, grant)?;
    let r = st(s.store.read())?;
    load_member(&*r, &org, account)?.ok_or_else(account_not_found)?;
    let services: Vec<(String, i64)> =
        delegations(&*r, &org)?.into_iter().filter(|(a, _, _)| a == account).map(|(_, p, d)| (p, d)).collect();
    if services.is_empty() {
        return Err(not_registered());
    }
    let (services, next) = page.apply(services, |(p, _)| p.clone());
    let list: Vec<Value> =
        services.iter().map(|(p, d)| json!({"ServicePrincipal": p, "DelegationEnabledDate": d})).collect();
    Ok(with_token(json!({ "DelegatedServices": list }), next))
}
