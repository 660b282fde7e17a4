//! The organization, its root, member accounts (`CreateAccount`), OUs and the tree.

use serde_json::{json, Value};
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use super::input::{self, In};
use super::*;
use crate::bootstrap;
use crate::ids;
use crate::managed::ADMINISTRATOR_ACCESS_ARN;
use crate::model::CreateAccountRequest;

/// Default `RoleName` of `CreateAccount`.
pub const DEFAULT_ROLE_NAME: &str = "OrganizationAccountAccessRole";
/// Most OUs in an organization (AWS's quota).
const MAX_OUS: usize = 2000;
/// Most levels of OUs under the root (AWS's quota).
const MAX_OU_DEPTH: usize = 5;

/// The caller's organization, read in a snapshot that is closed before authorization runs
/// (the authorizer reads the store too).
pub(super) fn org_for(s: &Services, call: &Call) -> Result<Organization, AwsError> {
    let r = st(s.store.read())?;
    caller_org(&*r, call)
}

/// The organization again inside the write transaction: it may have changed since [`org_for`].
pub(super) fn same_org<R: ReadTxn + ?Sized>(r: &R, call: &Call, org: &Organization) -> Result<Organization, AwsError> {
    let now = caller_org(r, call)?;
    if now.id != org.id {
        return Err(err(
            "ConcurrentModificationException",
            "The target of the operation is currently being modified by a different request. Try again later.",
        ));
    }
    Ok(now)
}

/// `Organization`.
pub(super) fn organization_json(org: &Organization) -> Value {
    let available = if org.feature_set == "ALL" {
        json!([{"Type": SERVICE_CONTROL_POLICY, "Status": "ENABLED"}])
    } else {
        json!([])
    };
    json!({
        "Id": org.id,
        "Arn": org.arn(),
        "FeatureSet": org.feature_set,
        "MasterAccountArn": account_arn(org, &org.management_account),
        "MasterAccountId": org.management_account,
        "MasterAccountEmail": org.management_email,
        "AvailablePolicyTypes": available,
    })
}

/// `Root`.
pub(super) fn root_json(org: &Organization) -> Value {
    let types: Vec<Value> = org.enabled_policy_types.iter().map(|t| json!({"Type": t, "Status": "ENABLED"})).collect();
    json!({"Id": org.root_id, "Arn": root_arn(org), "Name": "Root", "PolicyTypes": types})
}

/// `Account`.
pub(super) fn account_json<R: ReadTxn + ?Sized>(r: &R, org: &Organization, a: &Account) -> Result<Value, AwsError> {
    let parent = a.parent_id.as_deref().unwrap_or(&org.root_id);
    let path = format!("{}{}/", path_under(r, org, parent)?, a.id);
    let mut v = json!({
        "Id": a.id,
        "Arn": account_arn(org, &a.id),
        "Email": a.email,
        "Name": a.name,
        "Status": a.status,
        "State": if a.closed.is_some() { "CLOSED" } else { a.status.as_str() },
        "Paths": [path],
    });
    if let Some(m) = &a.joined_method {
        v["JoinedMethod"] = json!(m);
    }
    if let Some(t) = a.joined {
        v["JoinedTimestamp"] = json!(t);
    }
    Ok(v)
}

/// `OrganizationalUnit`.
fn ou_json<R: ReadTxn + ?Sized>(r: &R, org: &Organization, ou: &OrganizationalUnit) -> Result<Value, AwsError> {
    let path = format!("{}{}/", path_under(r, org, &ou.parent_id)?, ou.id);
    Ok(json!({"Id": ou.id, "Arn": ou_arn(org, &ou.id), "Name": ou.name, "Path": path}))
}

/// `CreateAccountStatus`; `as_submitted` reports the state the `CreateAccount` response gives.
fn status_json(car: &CreateAccountRequest, as_submitted: bool) -> Value {
    if as_submitted {
        return json!({
            "Id": car.id,
            "AccountName": car.account_name,
            "State": "IN_PROGRESS",
            "RequestedTimestamp": car.requested,
        });
    }
    let mut v = json!({
        "Id": car.id,
        "AccountName": car.account_name,
        "State": car.state,
        "RequestedTimestamp": car.requested,
        "CompletedTimestamp": car.completed,
    });
    if let Some(a) = &car.account_id {
        v["AccountId"] = json!(a);
    }
    if let Some(f) = &car.failure_reason {
        v["FailureReason"] = json!(f);
    }
    v
}

fn parent_type(id: &str) -> &'static str {
    if id.starts_with("r-") {
        "ROOT"
    } else {
        "ORGANIZATIONAL_UNIT"
    }
}

fn parent_not_found() -> AwsError {
    err("ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
}

fn ou_not_found() -> AwsError {
    err("OrganizationalUnitNotFoundException", "We can't find an OU with the OrganizationalUnitId that you specified.")
}

pub(super) fn account_not_found() -> AwsError {
    err(
        "AccountNotFoundException",
        "We can't find an AWS account with the AccountId that you specified, or the account whose credentials you used to make this request isn't a member of an organization.",
    )
}

fn check_parent_id(id: &str) -> Result<(), AwsError> {
    input::length(id, 0, 100)?;
    input::pattern(input::is_root_id(id) || input::is_ou_id(id))
}

fn check_ou_id(id: &str) -> Result<(), AwsError> {
    input::length(id, 0, 68)?;
    input::pattern(input::is_ou_id(id))
}

pub(super) fn check_account_id(id: &str) -> Result<(), AwsError> {
    input::length(id, 0, 12)?;
    input::pattern(input::is_account_id(id))
}

fn check_ou_name(name: &str) -> Result<(), AwsError> {
    input::length(name, 1, 128)
}

// ---------------------------------------------------------------------------------------------
// Organization and root

/// `CreateOrganization`.
pub(super) fn create_organization(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let feature_set = i.opt_str("FeatureSet")?.unwrap_or("ALL");
    input::one_of(feature_set, &["ALL", "CONSOLIDATED_BILLING"])?;
    authorize(s, call, "organizations:CreateOrganization", "*", vec![])?;
    let mut txn = st(s.store.write())?;
    let mut acct = load_account(&*txn, &call.caller.account)?.ok_or_else(AwsError::internal)?;
    if acct.organization_id.is_some() {
        return Err(err(
            "AlreadyInOrganizationException",
            "This account is already a member of an organization. An account can belong to only one organization at a time.",
        ));
    }
    let now = call.now_secs();
    let mut org_id = format!("o-{}", ids::lower_alnum(10));
    while st(txn.get(table::ORGANIZATION, &org_id))?.is_some() {
        org_id = format!("o-{}", ids::lower_alnum(10));
    }
    let org = Organization {
        id: org_id.clone(),
        feature_set: feature_set.to_string(),
        management_account: acct.id.clone(),
        management_email: acct.email.clone(),
        root_id: format!("r-{}", ids::lower_alnum(4)),
        enabled_policy_types: Vec::new(),
        created: now,
    };
    st(model::save(txn.as_mut(), table::ORGANIZATION, &org.id, &org))?;
    acct.organization_id = Some(org_id);
    acct.parent_id = Some(org.root_id.clone());
    acct.joined_method = Some("INVITED".into());
    acct.joined = Some(now);
    st(model::save(txn.as_mut(), table::ACCOUNT, &acct.id, &acct))?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({"Organization": organization_json(&org)}))
}

/// `DescribeOrganization`: members may call it too.
pub(super) fn describe_organization(s: &Services, call: &Call, _i: In) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    authorize(s, call, "organizations:DescribeOrganization", "*", vec![])?;
    Ok(json!({"Organization": organization_json(&org)}))
}

/// `DeleteOrganization`: only without member accounts; OUs, policies, attachments and tags go too.
pub(super) fn delete_organization(s: &Services, call: &Call, _i: In) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DeleteOrganization", "*", vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    let accounts = org_accounts(&*txn, &org)?;
    if accounts.iter().any(|a| a.id != org.management_account) {
        return Err(err(
            "OrganizationNotEmptyException",
            "The organization isn't empty. To delete an organization, you must first remove all accounts except the management account.",
        ));
    }
    super::transfers::check_no_transfer(&*txn, &org, s.clock.now_secs())?;
    let prefix = format!("{}/", org.id);
    for (k, _) in st(txn.scan(table::ORG_ATTACHMENT, &prefix, None, usize::MAX))? {
        st(txn.delete(table::ORG_ATTACHMENT, &k))?;
    }
    for (k, _) in st(txn.scan(super::delegation::ORG_DELEGATION, &prefix, None, usize::MAX))? {
        st(txn.delete(super::delegation::ORG_DELEGATION, &k))?;
    }
    super::resource_policy::delete_with(txn.as_mut(), &org)?;
    for ou in org_ous(&*txn, &org)? {
        st(txn.delete(table::ORG_ENTITY, &ou.id))?;
        save_tags(txn.as_mut(), &ou.id, &[])?;
    }
    for p in org_policies(&*txn, &org)? {
        st(txn.delete(table::ORG_ENTITY, &p.id))?;
        save_tags(txn.as_mut(), &p.id, &[])?;
    }
    let rows = st(txn.scan(table::ORG_ENTITY, "car-", None, usize::MAX))?;
    for (k, car) in st(model::decode_rows::<CreateAccountRequest>(table::ORG_ENTITY, rows))? {
        if car.organization_id == org.id {
            st(txn.delete(table::ORG_ENTITY, &k))?;
        }
    }
    save_tags(txn.as_mut(), &org.root_id, &[])?;
    for mut a in accounts {
        save_tags(txn.as_mut(), &a.id, &[])?;
        a.organization_id = None;
        a.parent_id = None;
        a.joined_method = None;
        a.joined = None;
        st(model::save(txn.as_mut(), table::ACCOUNT, &a.id.clone(), &a))?;
    }
    st(txn.delete(table::ORGANIZATION, &org.id))?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `ListRoots`.
pub(super) fn list_roots(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListRoots", "*", vec![])?;
    require_management(call, &org, grant)?;
    let (roots, next) = page.apply(vec![root_json(&org)], |_| org.root_id.clone());
    Ok(with_token(json!({ "Roots": roots }), next))
}

pub(super) fn with_token(mut v: Value, next: Option<String>) -> Value {
    if let Some(t) = next {
        v["NextToken"] = json!(t);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Accounts

/// `CreateAccount`. The account is made (or the request fails) within the call; the response
/// says `IN_PROGRESS` as AWS's does, and `DescribeCreateAccountStatus` gives the outcome. Its
/// input checks serve `CreateGovCloudAccount` too (`govcloud.rs`).
pub(super) fn create_account(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let email = i.req_str("Email")?;
    let name = i.req_str("AccountName")?;
    let role_name = i.opt_str("RoleName")?;
    let billing = i.opt_str("IamUserAccessToBilling")?;
    let tags = i.tags("Tags")?.unwrap_or_default();
    input::length(email, 6, 64)?;
    input::pattern(input::is_email(email))?;
    input::length(name, 1, 50)?;
    input::pattern(input::is_printable_ascii(name))?;
    if let Some(r) = role_name {
        input::length(r, 0, 64)?;
        input::pattern((1..=64).contains(&r.len()) && crate::validate::is_name(r))?;
        if r.starts_with("AWSServiceRoleFor") {
            return Err(input::invalid(
                "INVALID_ROLE_NAME",
                "You provided a role name that isn't valid. A role name can't begin with the reserved prefix 'AWSServiceRoleFor'.",
            ));
        }
    }
    if let Some(b) = billing {
        input::one_of(b, &["ALLOW", "DENY"])?;
    }
    let role_name = role_name.unwrap_or(DEFAULT_ROLE_NAME);
    if call.operation == "CreateGovCloudAccount" {
        return super::govcloud::create_gov_cloud_account(s, call, &tags);
    }

    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:CreateAccount", "*", tag_context(&tags))?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;

    let now = call.now_secs();
    let mut car_id = format!("car-{}", ids::lower_alnum(32));
    while st(txn.get(table::ORG_ENTITY, &car_id))?.is_some() {
        car_id = format!("car-{}", ids::lower_alnum(32));
    }
    let mut car = CreateAccountRequest {
        id: car_id.clone(),
        organization_id: org.id.clone(),
        account_name: name.to_string(),
        state: "FAILED".into(),
        requested: now,
        completed: now,
        account_id: None,
        failure_reason: None,
    };
    let rows = st(txn.scan(table::ACCOUNT, "", None, usize::MAX))?;
    let all: Vec<(String, Account)> = st(model::decode_rows(table::ACCOUNT, rows))?;
    if !input::is_deliverable_email(email) {
        car.failure_reason = Some("INVALID_EMAIL".into());
    } else if all.iter().any(|(_, a)| a.email.eq_ignore_ascii_case(email)) {
        car.failure_reason = Some("EMAIL_ALREADY_EXISTS".into());
    } else {
        let id = st(bootstrap::unused_account_id(&*txn))?;
        let mut acct = st(bootstrap::create_account(txn.as_mut(), &id, name, email, now))?;
        acct.organization_id = Some(org.id.clone());
        acct.parent_id = Some(org.root_id.clone());
        acct.joined_method = Some("CREATED".into());
        acct.joined = Some(now);
        st(model::save(txn.as_mut(), table::ACCOUNT, &id, &acct))?;
        create_access_role(txn.as_mut(), &org, &id, role_name, now)?;
        save_tags(txn.as_mut(), &id, &tags)?;
        attach_defaults(txn.as_mut(), &org, &id)?;
        car.state = "SUCCEEDED".into();
        car.account_id = Some(id);
    }
    st(model::save(txn.as_mut(), table::ORG_ENTITY, &car_id, &car))?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({"CreateAccountStatus": status_json(&car, true)}))
}

/// The trust policy of the role `CreateAccount` makes: the management account may assume it.
pub fn access_role_trust_policy(management_account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{management_account}:root")},
            "Action": "sts:AssumeRole",
        }],
    })
    .to_string()
}

/// `OrganizationAccountAccessRole` (or `RoleName`) in a new member account: trusts the management
/// account's root, has `AdministratorAccess`; its `AROA` id is registered like IAM's.
fn create_access_role(
    txn: &mut dyn WriteTxn,
    org: &Organization,
    account: &str,
    role_name: &str,
    now: i64,
) -> Result<(), AwsError> {
    let new = crate::iam::roles::NewRole {
        name: role_name.to_string(),
        path: "/".into(),
        trust_policy: access_role_trust_policy(&org.management_account),
        description: None,
        max_session_duration: 3600,
        permissions_boundary: None,
        tags: Vec::new(),
    };
    let mut role = crate::iam::roles::create_role_in_txn(txn, account, new, now)?;
    crate::iam::entities::attach_policy_in_txn(txn, account, &mut role, ADMINISTRATOR_ACCESS_ARN)
}

/// `DescribeCreateAccountStatus`.
pub(super) fn describe_create_account_status(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("CreateAccountRequestId")?;
    input::length(id, 0, 36)?;
    input::pattern(input::is_create_account_request_id(id))?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DescribeCreateAccountStatus", "*", vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let car: Option<CreateAccountRequest> = st(model::load(&*r, table::ORG_ENTITY, id))?;
    let car = car.filter(|c| c.organization_id == org.id).ok_or_else(|| {
        err(
            "CreateAccountStatusNotFoundException",
            "We can't find an create account request with the CreateAccountRequestId that you specified.",
        )
    })?;
    Ok(json!({"CreateAccountStatus": status_json(&car, false)}))
}

/// `ListCreateAccountStatus`, oldest first.
pub(super) fn list_create_account_status(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let states = i.opt_str_list("States")?;
    if let Some(states) = &states {
        for st in states {
            input::one_of(st, &["IN_PROGRESS", "SUCCEEDED", "FAILED"])?;
        }
    }
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListCreateAccountStatus", "*", vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let rows = st(r.scan(table::ORG_ENTITY, "car-", None, usize::MAX))?;
    let mut cars: Vec<CreateAccountRequest> = st(model::decode_rows(table::ORG_ENTITY, rows))?
        .into_iter()
        .map(|(_, c)| c)
        .filter(|c: &CreateAccountRequest| c.organization_id == org.id)
        .filter(|c| states.as_ref().is_none_or(|s| s.contains(&c.state.as_str())))
        .collect();
    let key = |c: &CreateAccountRequest| format!("{:020}/{}", c.requested, c.id);
    cars.sort_by_key(key);
    let (cars, next) = page.apply(cars, key);
    let list: Vec<Value> = cars.iter().map(|c| status_json(c, false)).collect();
    Ok(with_token(json!({ "CreateAccountStatuses": list }), next))
}

/// `DescribeAccount`.
pub(super) fn describe_account(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("AccountId")?;
    check_account_id(id)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DescribeAccount", &account_arn(&org, id), vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let a = load_member(&*r, &org, id)?.ok_or_else(account_not_found)?;
    Ok(json!({"Account": account_json(&*r, &org, &a)?}))
}

/// `ListAccounts`, by account id.
pub(super) fn list_accounts(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListAccounts", "*", vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let (accounts, next) = page.apply(org_accounts(&*r, &org)?, |a| a.id.clone());
    let list = accounts.iter().map(|a| account_json(&*r, &org, a)).collect::<Result<Vec<_>, _>>()?;
    Ok(with_token(json!({ "Accounts": list }), next))
}

/// `ListAccountsForParent`.
pub(super) fn list_accounts_for_parent(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let parent = i.req_str("ParentId")?;
    check_parent_id(parent)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListAccountsForParent", &target_arn(&org, parent), vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    if !parent_exists(&*r, &org, parent)? {
        return Err(parent_not_found());
    }
    let accounts: Vec<Account> = org_accounts(&*r, &org)?
        .into_iter()
        .filter(|a| a.parent_id.as_deref().unwrap_or(&org.root_id) == parent)
        .collect();
    let (accounts, next) = page.apply(accounts, |a| a.id.clone());
    let list = accounts.iter().map(|a| account_json(&*r, &org, a)).collect::<Result<Vec<_>, _>>()?;
    Ok(with_token(json!({ "Accounts": list }), next))
}

/// `ListParents` of an account or OU.
pub(super) fn list_parents(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let child = i.req_str("ChildId")?;
    input::length(child, 0, 100)?;
    input::pattern(input::is_account_id(child) || input::is_ou_id(child))?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListParents", &target_arn(&org, child), vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let parent = if input::is_ou_id(child) {
        load_ou(&*r, &org, child)?.map(|ou| ou.parent_id)
    } else {
        load_member(&*r, &org, child)?.map(|a| a.parent_id.unwrap_or_else(|| org.root_id.clone()))
    };
    let parent = parent.ok_or_else(|| {
        err(
            "ChildNotFoundException",
            "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
        )
    })?;
    let (parents, next) = page.apply(vec![parent], Clone::clone);
    let list: Vec<Value> = parents.iter().map(|p| json!({"Id": p, "Type": parent_type(p)})).collect();
    Ok(with_token(json!({ "Parents": list }), next))
}

/// `ListChildren`: accounts or OUs directly under a root or OU.
pub(super) fn list_children(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let parent = i.req_str("ParentId")?;
    let child_type = i.req_str("ChildType")?;
    check_parent_id(parent)?;
    input::one_of(child_type, &["ACCOUNT", "ORGANIZATIONAL_UNIT"])?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListChildren", &target_arn(&org, parent), vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    if !parent_exists(&*r, &org, parent)? {
        return Err(parent_not_found());
    }
    let mut ids: Vec<String> = if child_type == "ACCOUNT" {
        org_accounts(&*r, &org)?
            .into_iter()
            .filter(|a| a.parent_id.as_deref().unwrap_or(&org.root_id) == parent)
            .map(|a| a.id)
            .collect()
    } else {
        org_ous(&*r, &org)?.into_iter().filter(|ou| ou.parent_id == parent).map(|ou| ou.id).collect()
    };
    ids.sort();
    let (ids, next) = page.apply(ids, Clone::clone);
    let list: Vec<Value> = ids.iter().map(|c| json!({"Id": c, "Type": child_type})).collect();
    Ok(with_token(json!({ "Children": list }), next))
}

/// `MoveAccount`.
pub(super) fn move_account(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("AccountId")?;
    let source = i.req_str("SourceParentId")?;
    let dest = i.req_str("DestinationParentId")?;
    check_account_id(id)?;
    check_parent_id(source)?;
    check_parent_id(dest)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:MoveAccount", &account_arn(&org, id), vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    let mut acct = load_member(&*txn, &org, id)?.ok_or_else(account_not_found)?;
    let current = acct.parent_id.clone().unwrap_or_else(|| org.root_id.clone());
    if !parent_exists(&*txn, &org, source)? || current != source {
        return Err(err(
            "SourceParentNotFoundException",
            "We can't find a source root or OU with the ParentId that you specified.",
        ));
    }
    if !parent_exists(&*txn, &org, dest)? {
        return Err(err(
            "DestinationParentNotFoundException",
            "We can't find the destination container (a root or OU) with the ParentId that you specified.",
        ));
    }
    if dest == current {
        return Err(err("DuplicateAccountException", "That account is already present in the specified destination."));
    }
    acct.parent_id = Some(dest.to_string());
    st(model::save(txn.as_mut(), table::ACCOUNT, id, &acct))?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

fn master_cannot_leave() -> AwsError {
    err(
        "MasterCannotLeaveOrganizationException",
        "You can't remove a management account from an organization. If you want the management account to become a member account in another organization, you must first delete the current organization of the management account.",
    )
}

/// Take a member account out of its organization: it becomes a standalone account (its
/// `OrganizationAccountAccessRole` stays, as on AWS).
fn remove_member(txn: &mut dyn WriteTxn, org: &Organization, mut acct: Account) -> Result<(), AwsError> {
    super::delegation::check_not_delegated(txn, org, &acct.id)?;
    detach_all(txn, org, &acct.id)?;
    save_tags(txn, &acct.id, &[])?;
    acct.organization_id = None;
    acct.parent_id = None;
    acct.joined_method = None;
    acct.joined = None;
    st(model::save(txn, table::ACCOUNT, &acct.id.clone(), &acct))?;
    touch(txn)
}

/// `RemoveAccountFromOrganization`.
pub(super) fn remove_account_from_organization(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("AccountId")?;
    check_account_id(id)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:RemoveAccountFromOrganization", &account_arn(&org, id), vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    let acct = load_member(&*txn, &org, id)?.ok_or_else(account_not_found)?;
    if acct.id == org.management_account {
        return Err(master_cannot_leave());
    }
    remove_member(txn.as_mut(), &org, acct)?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// At most this many accounts closed in a rolling 30 days: the higher of 250 and 20% of the
/// member accounts, up to 1,000 (Organizations API reference, `CloseAccount`).
fn close_quota(members: usize) -> usize {
    (members / 5).clamp(250, 1000)
}

/// `CloseAccount`, by the management account of an organization with all features: the member
/// account is closed at once (Tessera closes synchronously, so `PENDING_CLOSURE` is never
/// seen): status `SUSPENDED`, state `CLOSED`; it stays in the organization, and its users',
/// roles' and root's credentials, sessions included, no longer authenticate
/// (`InvalidClientTokenId`). There is no reopening (AWS's is through Support).
pub(super) fn close_account(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("AccountId")?;
    check_account_id(id)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:CloseAccount", &account_arn(&org, id), vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    if org.feature_set != "ALL" {
        return Err(constraint("ORGANIZATION_NOT_IN_ALL_FEATURES_MODE"));
    }
    let mut acct = load_member(&*txn, &org, id)?.ok_or_else(account_not_found)?;
    if acct.id == org.management_account {
        return Err(constraint("CANNOT_CLOSE_MANAGEMENT_ACCOUNT"));
    }
    if acct.closed.is_some() {
        return Err(err("AccountAlreadyClosedException", "You attempted to close an account that is already closed."));
    }
    let now = s.clock.now_secs();
    let members = org_accounts(&*txn, &org)?;
    let recent = members.iter().filter(|a| a.closed.is_some_and(|c| now - c < 30 * 86_400)).count();
    if recent >= close_quota(members.len().saturating_sub(1)) {
        return Err(constraint("CLOSE_ACCOUNT_QUOTA_EXCEEDED"));
    }
    acct.status = "SUSPENDED".into();
    acct.closed = Some(now);
    st(model::save(txn.as_mut(), table::ACCOUNT, &acct.id, &acct))?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `LeaveOrganization`, called by a member account.
pub(super) fn leave_organization(s: &Services, call: &Call, _i: In) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    authorize(s, call, "organizations:LeaveOrganization", "*", vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    if call.caller.account == org.management_account {
        return Err(master_cannot_leave());
    }
    let acct = load_member(&*txn, &org, &call.caller.account)?.ok_or_else(account_not_found)?;
    remove_member(txn.as_mut(), &org, acct)?;
    st(txn.commit())?;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------------
// Organizational units

/// `CreateOrganizationalUnit`: `ou-<root suffix>-<8>`, unique name among its siblings, at most
/// five levels deep; the default policies of the enabled types are attached.
pub(super) fn create_organizational_unit(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let parent = i.req_str("ParentId")?;
    let name = i.req_str("Name")?;
    let tags = i.tags("Tags")?.unwrap_or_default();
    check_parent_id(parent)?;
    check_ou_name(name)?;
    let org = org_for(s, call)?;
    let grant =
        authorize(s, call, "organizations:CreateOrganizationalUnit", &target_arn(&org, parent), tag_context(&tags))?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    if !parent_exists(&*txn, &org, parent)? {
        return Err(parent_not_found());
    }
    let ous = org_ous(&*txn, &org)?;
    if ous.iter().any(|ou| ou.parent_id == parent && ou.name == name) {
        return Err(err("DuplicateOrganizationalUnitException", "An OU with the same name already exists."));
    }
    if ous.len() >= MAX_OUS {
        return Err(constraint("OU_NUMBER_LIMIT_EXCEEDED"));
    }
    if ou_chain(&*txn, &org, parent)?.len() >= MAX_OU_DEPTH {
        return Err(constraint("OU_DEPTH_LIMIT_EXCEEDED"));
    }
    let suffix = org.root_id.trim_start_matches("r-");
    let mut id = format!("ou-{suffix}-{}", ids::lower_alnum(8));
    while st(txn.get(table::ORG_ENTITY, &id))?.is_some() {
        id = format!("ou-{suffix}-{}", ids::lower_alnum(8));
    }
    let ou = OrganizationalUnit {
        id: id.clone(),
        organization_id: org.id.clone(),
        parent_id: parent.to_string(),
        name: name.to_string(),
        created: call.now_secs(),
    };
    st(model::save(txn.as_mut(), table::ORG_ENTITY, &id, &ou))?;
    save_tags(txn.as_mut(), &id, &tags)?;
    attach_defaults(txn.as_mut(), &org, &id)?;
    touch(txn.as_mut())?;
    let out = ou_json(&*txn, &org, &ou)?;
    st(txn.commit())?;
    Ok(json!({ "OrganizationalUnit": out }))
}

/// `DescribeOrganizationalUnit`.
pub(super) fn describe_organizational_unit(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("OrganizationalUnitId")?;
    check_ou_id(id)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DescribeOrganizationalUnit", &ou_arn(&org, id), vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    let ou = load_ou(&*r, &org, id)?.ok_or_else(ou_not_found)?;
    Ok(json!({"OrganizationalUnit": ou_json(&*r, &org, &ou)?}))
}

/// `UpdateOrganizationalUnit` (renames it).
pub(super) fn update_organizational_unit(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("OrganizationalUnitId")?;
    let name = i.opt_str("Name")?;
    check_ou_id(id)?;
    if let Some(n) = name {
        check_ou_name(n)?;
    }
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:UpdateOrganizationalUnit", &ou_arn(&org, id), vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    let mut ou = load_ou(&*txn, &org, id)?.ok_or_else(ou_not_found)?;
    if let Some(n) = name {
        if org_ous(&*txn, &org)?.iter().any(|o| o.parent_id == ou.parent_id && o.name == n && o.id != ou.id) {
            return Err(err("DuplicateOrganizationalUnitException", "An OU with the same name already exists."));
        }
        ou.name = n.to_string();
        st(model::save(txn.as_mut(), table::ORG_ENTITY, id, &ou))?;
        touch(txn.as_mut())?;
    }
    let out = ou_json(&*txn, &org, &ou)?;
    st(txn.commit())?;
    Ok(json!({ "OrganizationalUnit": out }))
}

/// `DeleteOrganizationalUnit`: only an empty OU (no accounts, no child OUs).
pub(super) fn delete_organizational_unit(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("OrganizationalUnitId")?;
    check_ou_id(id)?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:DeleteOrganizationalUnit", &ou_arn(&org, id), vec![])?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    let ou = load_ou(&*txn, &org, id)?.ok_or_else(ou_not_found)?;
    let has_ous = org_ous(&*txn, &org)?.iter().any(|o| o.parent_id == ou.id);
    let has_accounts = org_accounts(&*txn, &org)?.iter().any(|a| a.parent_id.as_deref() == Some(ou.id.as_str()));
    if has_ous || has_accounts {
        return Err(err(
            "OrganizationalUnitNotEmptyException",
            "The specified OU is not empty. Move all accounts to another root or to other OUs, remove all child OUs, and try the operation again.",
        ));
    }
    detach_all(txn.as_mut(), &org, id)?;
    save_tags(txn.as_mut(), id, &[])?;
    st(txn.delete(table::ORG_ENTITY, id))?;
    touch(txn.as_mut())?;
    st(txn.commit())?;
    Ok(json!({}))
}

/// `ListOrganizationalUnitsForParent`.
pub(super) fn list_organizational_units_for_parent(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let parent = i.req_str("ParentId")?;
    check_parent_id(parent)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant =
        authorize(s, call, "organizations:ListOrganizationalUnitsForParent", &target_arn(&org, parent), vec![])?;
    require_management(call, &org, grant)?;
    let r = st(s.store.read())?;
    if !parent_exists(&*r, &org, parent)? {
        return Err(parent_not_found());
    }
    let mut ous: Vec<OrganizationalUnit> =
        org_ous(&*r, &org)?.into_iter().filter(|ou| ou.parent_id == parent).collect();
    ous.sort_by(|a, b| a.id.cmp(&b.id));
    let (ous, next) = page.apply(ous, |ou| ou.id.clone());
    let list = ous.iter().map(|ou| ou_json(&*r, &org, ou)).collect::<Result<Vec<_>, _>>()?;
    Ok(with_token(json!({ "OrganizationalUnits": list }), next))
}
