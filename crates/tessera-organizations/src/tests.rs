//! Organizations against an in-memory store, with the stub authorizer (root may act in its
//! own account).

use std::sync::Arc;

use serde_json::{json, Value};
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;
use tessera_store::Store;
use tessera_wire::AwsError;

use super::*;
use crate::clock::ManualClock;
use crate::model::{CreateAccountRequest, Role};
use crate::{CallMeta, Caller, Config};

struct World {
    services: Services,
    clock: Arc<ManualClock>,
    mgmt: String,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let services = Services::new(
        store,
        SecretBox::new(&[7u8; 32]),
        clock.clone(),
        Config { endpoint: "http://127.0.0.1:1".into() },
    );
    let dir = tempfile::tempdir().unwrap();
    let mgmt = crate::bootstrap::first_start(&services, dir.path()).unwrap();
    World { services, clock, mgmt, _dir: dir }
}

impl World {
    fn call_as(&self, account: &str, op: &str, input: Value) -> Result<Value, AwsError> {
        let call = Call {
            caller: Caller::root(account, "AKIAEXAMPLEEXAMPLE01"),
            operation: op.to_string(),
            meta: CallMeta {
                request_id: "req".into(),
                region: "us-east-1".into(),
                source_ip: "127.0.0.1".into(),
                user_agent: "test".into(),
                secure_transport: false,
                now_millis: 1_700_000_000_000,
            },
        };
        let r = handle(&self.services, &call, &input)?;
        assert_eq!(r.status, 200);
        Ok(serde_json::from_slice(&r.body).unwrap())
    }

    fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.call_as(&self.mgmt.clone(), op, input)
    }

    fn ok(&self, op: &str, input: Value) -> Value {
        self.call(op, input).unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    fn code(&self, op: &str, input: Value) -> String {
        self.call(op, input).expect_err(op).code
    }

    fn org(&self) -> (String, String) {
        let org = self.ok("CreateOrganization", json!({}));
        let root = self.ok("ListRoots", json!({}));
        (org["Organization"]["Id"].as_str().unwrap().into(), root["Roots"][0]["Id"].as_str().unwrap().into())
    }

    fn account(&self, name: &str) -> String {
        let email = format!("{}@example.com", name.to_lowercase());
        let car = self.ok("CreateAccount", json!({"Email": email, "AccountName": name}));
        let id = car["CreateAccountStatus"]["Id"].as_str().unwrap().to_string();
        let st = self.ok("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": id}));
        assert_eq!(st["CreateAccountStatus"]["State"], "SUCCEEDED");
        st["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_string()
    }

    fn ou(&self, parent: &str, name: &str) -> String {
        let v = self.ok("CreateOrganizationalUnit", json!({"ParentId": parent, "Name": name}));
        v["OrganizationalUnit"]["Id"].as_str().unwrap().to_string()
    }

    fn levels(&self, account: &str, t: &str) -> Option<Vec<Vec<String>>> {
        let r = self.services.store.read().unwrap();
        scp_levels(&*r, account, t)
            .unwrap()
            .map(|levels| levels.into_iter().map(|l| l.into_iter().map(|(id, _)| id).collect()).collect())
    }
}

#[test]
fn create_describe_and_delete_an_organization() {
    let w = world();
    assert_eq!(w.code("DescribeOrganization", json!({})), "AWSOrganizationsNotInUseException");
    assert_eq!(w.code("CreateOrganization", json!({"FeatureSet": "SOME"})), "InvalidInputException");
    let org = w.ok("CreateOrganization", json!({}))["Organization"].clone();
    let id = org["Id"].as_str().unwrap();
    assert!(id.starts_with("o-") && id.len() == 12 && input::is_account_id(&w.mgmt));
    assert_eq!(org["Arn"], format!("arn:aws:organizations::{}:organization/{id}", w.mgmt));
    assert_eq!(org["MasterAccountId"], w.mgmt);
    assert_eq!(org["MasterAccountArn"], format!("arn:aws:organizations::{}:account/{id}/{}", w.mgmt, w.mgmt));
    assert_eq!(org["FeatureSet"], "ALL");
    assert_eq!(org["AvailablePolicyTypes"][0]["Type"], "SERVICE_CONTROL_POLICY");
    assert_eq!(w.code("CreateOrganization", json!({})), "AlreadyInOrganizationException");
    assert_eq!(w.ok("DescribeOrganization", json!({}))["Organization"], org);
    let roots = w.ok("ListRoots", json!({}));
    let root = &roots["Roots"][0];
    assert!(input::is_root_id(root["Id"].as_str().unwrap()));
    assert_eq!(root["Name"], "Root");
    assert_eq!(root["PolicyTypes"], json!([]));
    let me = w.ok("DescribeAccount", json!({"AccountId": w.mgmt}))["Account"].clone();
    assert_eq!(me["JoinedMethod"], "INVITED");
    assert_eq!(me["Paths"][0], format!("{id}/{}/{}/", root["Id"].as_str().unwrap(), w.mgmt));
    w.ok("DeleteOrganization", json!({}));
    assert_eq!(w.code("ListRoots", json!({})), "AWSOrganizationsNotInUseException");
    let again = w.ok("CreateOrganization", json!({"FeatureSet": "CONSOLIDATED_BILLING"}));
    assert_ne!(again["Organization"]["Id"], org["Id"]);
    assert_eq!(again["Organization"]["AvailablePolicyTypes"], json!([]));
}

#[test]
fn create_account_makes_a_member_with_the_access_role() {
    let w = world();
    let (org_id, root) = w.org();
    let car =
        w.ok("CreateAccount", json!({"Email": "dev@example.com", "AccountName": "Dev"}))["CreateAccountStatus"].clone();
    assert_eq!(car["State"], "IN_PROGRESS");
    assert!(car.get("AccountId").is_none());
    let car_id = car["Id"].as_str().unwrap();
    assert!(car_id.starts_with("car-") && car_id.len() == 36);
    let st =
        w.ok("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": car_id}))["CreateAccountStatus"].clone();
    assert_eq!(st["State"], "SUCCEEDED");
    assert_eq!(st["AccountName"], "Dev");
    let id = st["AccountId"].as_str().unwrap().to_string();
    assert!(input::is_account_id(&id) && id != w.mgmt);

    let r = w.services.store.read().unwrap();
    let role: Role = model::load(&*r, table::ROLE, &model::name_key(&id, DEFAULT_ROLE)).unwrap().unwrap();
    assert!(role.role_id.starts_with("AROA"));
    assert_eq!(role.attached_policies, vec!["arn:aws:iam::aws:policy/AdministratorAccess".to_string()]);
    let trust: Value = serde_json::from_str(&role.assume_role_policy_document).unwrap();
    assert_eq!(trust["Statement"][0]["Principal"]["AWS"], format!("arn:aws:iam::{}:root", w.mgmt));
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    let back = r.get(table::UNIQUE_ID, &role.role_id).unwrap().unwrap();
    assert_eq!(String::from_utf8(back).unwrap(), format!("{}\n{}", table::ROLE, model::name_key(&id, DEFAULT_ROLE)));
    drop(r);

    let acct = w.ok("DescribeAccount", json!({"AccountId": id}))["Account"].clone();
    assert_eq!(acct["Arn"], format!("arn:aws:organizations::{}:account/{org_id}/{id}", w.mgmt));
    assert_eq!(acct["Email"], "dev@example.com");
    assert_eq!(acct["Status"], "ACTIVE");
    assert_eq!(acct["JoinedMethod"], "CREATED");
    assert_eq!(acct["Paths"][0], format!("{org_id}/{root}/{id}/"));

    // Duplicate email (any case): the request fails asynchronously, no account is made.
    let dup = w.ok("CreateAccount", json!({"Email": "DEV@example.com", "AccountName": "Dup"}));
    let dup_id = dup["CreateAccountStatus"]["Id"].as_str().unwrap();
    let st =
        w.ok("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": dup_id}))["CreateAccountStatus"].clone();
    assert_eq!(st["State"], "FAILED");
    assert_eq!(st["FailureReason"], "EMAIL_ALREADY_EXISTS");
    assert!(st.get("AccountId").is_none());
    assert_eq!(w.ok("ListAccounts", json!({}))["Accounts"].as_array().unwrap().len(), 2);
    let failed = w.ok("ListCreateAccountStatus", json!({"States": ["FAILED"]}));
    assert_eq!(failed["CreateAccountStatuses"].as_array().unwrap().len(), 1);
    let all = w.ok("ListCreateAccountStatus", json!({}));
    assert_eq!(all["CreateAccountStatuses"].as_array().unwrap().len(), 2);

    // A custom role name.
    let car = w.ok("CreateAccount", json!({"Email": "ops@example.com", "AccountName": "Ops", "RoleName": "Admin"}));
    let st = w.ok("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": car["CreateAccountStatus"]["Id"]}));
    let ops = st["CreateAccountStatus"]["AccountId"].as_str().unwrap();
    let r = w.services.store.read().unwrap();
    assert!(model::load::<Role>(&*r, table::ROLE, &model::name_key(ops, "admin")).unwrap().is_some());
}

const DEFAULT_ROLE: &str = accounts::DEFAULT_ROLE_NAME;

#[test]
fn create_account_input_is_checked_and_changes_nothing() {
    let w = world();
    w.org();
    let reason = |input: Value| {
        let e = w.call("CreateAccount", input).unwrap_err();
        (e.code, e.reason.unwrap_or_default())
    };
    let inv = |r: &str| ("InvalidInputException".to_string(), r.to_string());
    assert_eq!(reason(json!({"AccountName": "x"})), inv("INPUT_REQUIRED"));
    assert_eq!(reason(json!({"Email": "a@b.c", "AccountName": "x"})), inv("MIN_LENGTH_EXCEEDED"));
    let long = format!("{}@example.com", "a".repeat(60));
    assert_eq!(reason(json!({"Email": long, "AccountName": "x"})), inv("MAX_LENGTH_EXCEEDED"));
    assert_eq!(reason(json!({"Email": "nobody.example.com", "AccountName": "x"})), inv("INVALID_PATTERN"));
    assert_eq!(reason(json!({"Email": "a@example.com", "AccountName": ""})), inv("MIN_LENGTH_EXCEEDED"));
    assert_eq!(reason(json!({"Email": "a@example.com", "AccountName": "n".repeat(51)})), inv("MAX_LENGTH_EXCEEDED"));
    assert_eq!(reason(json!({"Email": "a@example.com", "AccountName": "tab\there"})), inv("INVALID_PATTERN"));
    assert_eq!(
        reason(json!({"Email": "a@example.com", "AccountName": "x", "RoleName": "a b"})),
        inv("INVALID_PATTERN")
    );
    assert_eq!(
        reason(json!({"Email": "a@example.com", "AccountName": "x", "RoleName": "AWSServiceRoleForX"})),
        inv("INVALID_ROLE_NAME")
    );
    assert_eq!(
        reason(json!({"Email": "a@example.com", "AccountName": "x", "IamUserAccessToBilling": "MAYBE"})),
        inv("INVALID_ENUM")
    );
    assert_eq!(
        reason(json!({"Email": "a@example.com", "AccountName": "x", "Tags": [{"Key": "k", "Value": "v*"}]})),
        inv("INVALID_PATTERN")
    );
    assert_eq!(w.code("CreateAccount", json!({"Email": 5, "AccountName": "x"})), "SerializationException");
    assert_eq!(w.ok("ListAccounts", json!({}))["Accounts"].as_array().unwrap().len(), 1);
    assert_eq!(w.ok("ListCreateAccountStatus", json!({}))["CreateAccountStatuses"], json!([]));
    // An address the model accepts but AWS's rules do not: FAILED with INVALID_EMAIL.
    let car = w.ok("CreateAccount", json!({"Email": "(x)@example.com", "AccountName": "x"}));
    let st = w.ok("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": car["CreateAccountStatus"]["Id"]}));
    assert_eq!(st["CreateAccountStatus"]["FailureReason"], "INVALID_EMAIL");
    assert_eq!(
        w.code("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": "car-0123456789abcdef"})),
        "CreateAccountStatusNotFoundException"
    );
    assert_eq!(w.code("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": "x"})), "InvalidInputException");
}

#[test]
fn member_accounts_are_refused_management_calls() {
    let w = world();
    w.org();
    let member = w.account("Member");
    let denied = |op: &str, input: Value| w.call_as(&member, op, input).unwrap_err().code;
    assert_eq!(denied("ListAccounts", json!({})), "AccessDeniedException");
    assert_eq!(denied("ListRoots", json!({})), "AccessDeniedException");
    assert_eq!(
        denied("CreateAccount", json!({"Email": "m2@example.com", "AccountName": "m2"})),
        "AccessDeniedException"
    );
    assert_eq!(denied("DescribeAccount", json!({"AccountId": member})), "AccessDeniedException");
    assert_eq!(denied("CreateOrganization", json!({})), "AlreadyInOrganizationException");
    assert_eq!(denied("DeleteOrganization", json!({})), "AccessDeniedException");
    let org = w.call_as(&member, "DescribeOrganization", json!({})).unwrap();
    assert_eq!(org["Organization"]["MasterAccountId"], w.mgmt);
    assert_eq!(
        w.call_as(&w.mgmt, "LeaveOrganization", json!({})).unwrap_err().code,
        "MasterCannotLeaveOrganizationException"
    );
}

/// What the resource policy granted one call never reaches the next, even with the same
/// request id on the same thread (the grant used to travel in a per-thread flag).
#[test]
fn a_resource_policy_grant_does_not_outlive_its_call() {
    let w = world();
    w.org();
    let member = w.account("Member");
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{member}:root")},
        "Action": "organizations:ListAccounts", "Resource": "*"}]});
    w.ok("PutResourcePolicy", json!({"Content": policy.to_string()}));
    // Granted through the policy (every call of this world has the request id "req").
    let listed = w.call_as(&member, "ListAccounts", json!({})).unwrap();
    assert_eq!(listed["Accounts"].as_array().map(Vec::len), Some(2));
    // Once the policy is gone, the next call is not granted: nothing of the first remains.
    w.ok("DeleteResourcePolicy", json!({}));
    assert_eq!(w.call_as(&member, "ListAccounts", json!({})).unwrap_err().code, "AccessDeniedException");
    // Nor does a grant to one operation open another: ListRoots is not in the policy, and
    // CreateAccount is kept for the management account whatever the policy says.
    w.ok("PutResourcePolicy", json!({"Content": policy.to_string()}));
    w.call_as(&member, "ListAccounts", json!({})).unwrap();
    assert_eq!(w.call_as(&member, "ListRoots", json!({})).unwrap_err().code, "AccessDeniedException");
    w.call_as(&member, "ListAccounts", json!({})).unwrap();
    let code = w.call_as(&member, "CreateAccount", json!({"Email": "x@example.com", "AccountName": "X"}));
    assert_eq!(code.unwrap_err().code, "AccessDeniedException");
}

#[test]
fn organizational_units_and_moves() {
    let w = world();
    let (org_id, root) = w.org();
    let a = w.account("A");
    let prod = w.ou(&root, "Prod");
    assert!(prod.starts_with(&format!("ou-{}-", &root[2..])) && input::is_ou_id(&prod));
    let ou = w.ok("DescribeOrganizationalUnit", json!({"OrganizationalUnitId": prod}))["OrganizationalUnit"].clone();
    assert_eq!(ou["Arn"], format!("arn:aws:organizations::{}:ou/{org_id}/{prod}", w.mgmt));
    assert_eq!(ou["Path"], format!("{org_id}/{root}/{prod}/"));
    assert_eq!(
        w.code("CreateOrganizationalUnit", json!({"ParentId": root, "Name": "Prod"})),
        "DuplicateOrganizationalUnitException"
    );
    assert_eq!(
        w.code("CreateOrganizationalUnit", json!({"ParentId": "ou-zzzz-zzzzzzzz", "Name": "x"})),
        "ParentNotFoundException"
    );
    assert_eq!(w.code("CreateOrganizationalUnit", json!({"ParentId": "bad", "Name": "x"})), "InvalidInputException");
    assert_eq!(w.code("CreateOrganizationalUnit", json!({"ParentId": root, "Name": ""})), "InvalidInputException");
    let web = w.ou(&prod, "Web");

    // Five levels below the root at most.
    let mut parent = web.clone();
    for n in 3..=5 {
        parent = w.ou(&parent, &format!("L{n}"));
    }
    let e = w.call("CreateOrganizationalUnit", json!({"ParentId": parent, "Name": "L6"})).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.reason.as_deref()),
        ("ConstraintViolationException", Some("OU_DEPTH_LIMIT_EXCEEDED"))
    );

    // Moves: the source must be the account's parent.
    let mv = |src: &str, dst: &str| {
        w.call("MoveAccount", json!({"AccountId": a, "SourceParentId": src, "DestinationParentId": dst}))
    };
    assert_eq!(mv(&prod, &web).unwrap_err().code, "SourceParentNotFoundException");
    assert_eq!(mv(&root, "ou-zzzz-zzzzzzzz").unwrap_err().code, "DestinationParentNotFoundException");
    assert_eq!(mv(&root, &root).unwrap_err().code, "DuplicateAccountException");
    mv(&root, &web).unwrap();
    let parents = w.ok("ListParents", json!({"ChildId": a}));
    assert_eq!(parents["Parents"], json!([{"Id": web, "Type": "ORGANIZATIONAL_UNIT"}]));
    assert_eq!(w.ok("ListParents", json!({"ChildId": prod}))["Parents"], json!([{"Id": root, "Type": "ROOT"}]));
    assert_eq!(w.code("ListParents", json!({"ChildId": "999999999999"})), "ChildNotFoundException");
    let desc = w.ok("DescribeAccount", json!({"AccountId": a}))["Account"].clone();
    assert_eq!(desc["Paths"][0], format!("{org_id}/{root}/{prod}/{web}/{a}/"));
    let kids = w.ok("ListChildren", json!({"ParentId": web, "ChildType": "ACCOUNT"}));
    assert_eq!(kids["Children"], json!([{"Id": a, "Type": "ACCOUNT"}]));
    let kids = w.ok("ListChildren", json!({"ParentId": root, "ChildType": "ORGANIZATIONAL_UNIT"}));
    assert_eq!(kids["Children"], json!([{"Id": prod, "Type": "ORGANIZATIONAL_UNIT"}]));
    let accts = w.ok("ListAccountsForParent", json!({"ParentId": root}));
    assert_eq!(accts["Accounts"].as_array().unwrap().len(), 1);
    assert_eq!(accts["Accounts"][0]["Id"], w.mgmt);
    let ous = w.ok("ListOrganizationalUnitsForParent", json!({"ParentId": prod}));
    assert_eq!(ous["OrganizationalUnits"][0]["Id"], web);

    let r = w.services.store.read().unwrap();
    let (oid, path) = organization_of(&*r, &a).unwrap().unwrap();
    assert_eq!((oid.as_str(), path), (org_id.as_str(), format!("{org_id}/{root}/{prod}/{web}/")));
    assert_eq!(organization_of(&*r, &w.mgmt).unwrap().unwrap().1, format!("{org_id}/{root}/"));
    assert!(organization_of(&*r, "999999999999").unwrap().is_none());
    drop(r);

    // Rename; delete only when empty.
    let renamed = w.ok("UpdateOrganizationalUnit", json!({"OrganizationalUnitId": web, "Name": "Frontend"}));
    assert_eq!(renamed["OrganizationalUnit"]["Name"], "Frontend");
    assert_eq!(
        w.code("DeleteOrganizationalUnit", json!({"OrganizationalUnitId": web})),
        "OrganizationalUnitNotEmptyException"
    );
    assert_eq!(
        w.code("DeleteOrganizationalUnit", json!({"OrganizationalUnitId": prod})),
        "OrganizationalUnitNotEmptyException"
    );
    mv(&web, &root).unwrap();
    let l3 = w.ok("ListOrganizationalUnitsForParent", json!({"ParentId": web}))["OrganizationalUnits"][0]["Id"].clone();
    assert_eq!(
        w.code("DeleteOrganizationalUnit", json!({"OrganizationalUnitId": web})),
        "OrganizationalUnitNotEmptyException"
    );
    let _ = l3;
    assert_eq!(
        w.code("DeleteOrganizationalUnit", json!({"OrganizationalUnitId": "ou-zzzz-zzzzzzzz"})),
        "OrganizationalUnitNotFoundException"
    );

    // The organization cannot go while it has members.
    assert_eq!(w.code("DeleteOrganization", json!({})), "OrganizationNotEmptyException");
    w.ok("RemoveAccountFromOrganization", json!({"AccountId": a}));
    assert_eq!(w.code("DescribeAccount", json!({"AccountId": a})), "AccountNotFoundException");
    assert_eq!(w.call_as(&a, "DescribeOrganization", json!({})).unwrap_err().code, "AWSOrganizationsNotInUseException");
    w.ok("DeleteOrganization", json!({}));
}

#[test]
fn pagination_of_accounts() {
    let w = world();
    w.org();
    for n in 0..3 {
        w.account(&format!("P{n}"));
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"MaxResults": 1});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let page = w.ok("ListAccounts", input);
        assert_eq!(page["Accounts"].as_array().unwrap().len(), 1);
        seen.push(page["Accounts"][0]["Id"].as_str().unwrap().to_string());
        match page.get("NextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(w.code("ListAccounts", json!({"MaxResults": 0})), "InvalidInputException");
    assert_eq!(w.code("ListAccounts", json!({"NextToken": "nope"})), "InvalidInputException");
}

const SCP: &str = SERVICE_CONTROL_POLICY;
const DENY_S3: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;

#[test]
fn service_control_policies() {
    let w = world();
    let (org_id, root) = w.org();
    let a = w.account("A");
    let prod = w.ou(&root, "Prod");
    w.ok("MoveAccount", json!({"AccountId": a, "SourceParentId": root, "DestinationParentId": prod}));
    assert!(w.levels(&a, SCP).is_none(), "type not enabled");

    let p = w.ok("CreatePolicy", json!({"Content": DENY_S3, "Description": "no s3", "Name": "DenyS3", "Type": SCP}));
    let pid = p["Policy"]["PolicySummary"]["Id"].as_str().unwrap().to_string();
    assert!(input::is_policy_id(&pid));
    assert_eq!(
        p["Policy"]["PolicySummary"]["Arn"],
        format!("arn:aws:organizations::{}:policy/{org_id}/service_control_policy/{pid}", w.mgmt)
    );
    assert_eq!(p["Policy"]["PolicySummary"]["AwsManaged"], false);
    assert_eq!(p["Policy"]["Content"], DENY_S3);
    assert_eq!(
        w.code("CreatePolicy", json!({"Content": DENY_S3, "Description": "", "Name": "DenyS3", "Type": SCP})),
        "DuplicatePolicyException"
    );
    assert_eq!(w.code("AttachPolicy", json!({"PolicyId": pid, "TargetId": prod})), "PolicyTypeNotEnabledException");

    let enabled = w.ok("EnablePolicyType", json!({"RootId": root, "PolicyType": SCP}));
    assert_eq!(enabled["Root"]["PolicyTypes"], json!([{"Type": SCP, "Status": "ENABLED"}]));
    assert_eq!(
        w.code("EnablePolicyType", json!({"RootId": root, "PolicyType": SCP})),
        "PolicyTypeAlreadyEnabledException"
    );
    assert_eq!(w.code("EnablePolicyType", json!({"RootId": "r-zzzz", "PolicyType": SCP})), "RootNotFoundException");
    let e = w.call("EnablePolicyType", json!({"RootId": root, "PolicyType": "NOPE"})).unwrap_err();
    assert_eq!(e.reason.as_deref(), Some("INVALID_ENUM_POLICY_TYPE"));
    for target in [&root, &prod, &a, &w.mgmt] {
        let l = w.ok("ListPoliciesForTarget", json!({"TargetId": target, "Filter": SCP}));
        assert_eq!(l["Policies"][0]["Id"], "p-FullAWSAccess", "{target}");
        assert_eq!(l["Policies"][0]["Arn"], "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess");
    }
    let full = vec!["p-FullAWSAccess".to_string()];
    assert_eq!(w.levels(&a, SCP), Some(vec![full.clone(), full.clone(), full.clone()]));
    assert!(w.levels(&w.mgmt, SCP).is_none(), "the management account is exempt");
    assert!(w.levels(&a, RESOURCE_CONTROL_POLICY).is_none());

    // Attach to the OU: the account's levels change at once (the cache follows writes).
    w.ok("AttachPolicy", json!({"PolicyId": pid, "TargetId": prod}));
    assert_eq!(
        w.code("AttachPolicy", json!({"PolicyId": pid, "TargetId": prod})),
        "DuplicatePolicyAttachmentException"
    );
    assert_eq!(
        w.code("AttachPolicy", json!({"PolicyId": pid, "TargetId": "ou-zzzz-zzzzzzzz"})),
        "TargetNotFoundException"
    );
    assert_eq!(w.code("AttachPolicy", json!({"PolicyId": "p-zzzzzzzz", "TargetId": prod})), "PolicyNotFoundException");
    let e = w.call("AttachPolicy", json!({"PolicyId": pid, "TargetId": "x"})).unwrap_err();
    assert_eq!(e.reason.as_deref(), Some("INVALID_PATTERN_TARGET_ID"));
    let mut ou_level = full.clone();
    ou_level.push(pid.clone());
    ou_level.sort();
    assert_eq!(w.levels(&a, SCP), Some(vec![full.clone(), ou_level, full.clone()]));
    {
        let r = w.services.store.read().unwrap();
        let docs = scp_levels(&*r, &a, SCP).unwrap().unwrap();
        assert!(docs[1].iter().any(|(id, doc)| id == &pid && doc == DENY_S3));
    }
    let targets = w.ok("ListTargetsForPolicy", json!({"PolicyId": pid}));
    assert_eq!(
        targets["Targets"],
        json!([{"TargetId": prod, "Arn": format!("arn:aws:organizations::{}:ou/{org_id}/{prod}", w.mgmt), "Name": "Prod", "Type": "ORGANIZATIONAL_UNIT"}])
    );
    assert_eq!(w.code("DeletePolicy", json!({"PolicyId": pid})), "PolicyInUseException");

    // The last SCP of a target stays.
    w.ok("DetachPolicy", json!({"PolicyId": "p-FullAWSAccess", "TargetId": prod}));
    let e = w.call("DetachPolicy", json!({"PolicyId": pid, "TargetId": prod})).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.reason.as_deref()),
        ("ConstraintViolationException", Some("MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"))
    );
    assert_eq!(
        w.code("DetachPolicy", json!({"PolicyId": "p-FullAWSAccess", "TargetId": prod})),
        "PolicyNotAttachedException"
    );
    w.ok("AttachPolicy", json!({"PolicyId": "p-FullAWSAccess", "TargetId": prod}));
    w.ok("DetachPolicy", json!({"PolicyId": pid, "TargetId": prod}));
    w.ok("DeletePolicy", json!({"PolicyId": pid}));
    assert_eq!(w.code("DescribePolicy", json!({"PolicyId": pid})), "PolicyNotFoundException");

    // AWS managed policies are immutable.
    let full_policy = w.ok("DescribePolicy", json!({"PolicyId": "p-FullAWSAccess"}));
    assert_eq!(full_policy["Policy"]["PolicySummary"]["AwsManaged"], true);
    let e = w.call("UpdatePolicy", json!({"PolicyId": "p-FullAWSAccess", "Name": "x"})).unwrap_err();
    assert_eq!(e.reason.as_deref(), Some("IMMUTABLE_POLICY"));
    assert_eq!(
        w.call("DeletePolicy", json!({"PolicyId": "p-FullAWSAccess"})).unwrap_err().reason.as_deref(),
        Some("IMMUTABLE_POLICY")
    );

    // New OUs and accounts get FullAWSAccess; disabling the type detaches everything.
    let dev = w.ou(&root, "Dev");
    let b = w.account("B");
    assert_eq!(
        w.ok("ListPoliciesForTarget", json!({"TargetId": dev, "Filter": SCP}))["Policies"][0]["Id"],
        "p-FullAWSAccess"
    );
    assert_eq!(
        w.ok("ListPoliciesForTarget", json!({"TargetId": b, "Filter": SCP}))["Policies"][0]["Id"],
        "p-FullAWSAccess"
    );
    w.ok("DisablePolicyType", json!({"RootId": root, "PolicyType": SCP}));
    assert_eq!(w.ok("ListPoliciesForTarget", json!({"TargetId": b, "Filter": SCP}))["Policies"], json!([]));
    assert_eq!(w.ok("ListTargetsForPolicy", json!({"PolicyId": "p-FullAWSAccess"}))["Targets"], json!([]));
    assert_eq!(
        w.code("DisablePolicyType", json!({"RootId": root, "PolicyType": SCP})),
        "PolicyTypeNotEnabledException"
    );
    assert!(w.levels(&a, SCP).is_none());
}

#[test]
fn policy_documents_and_limits() {
    let w = world();
    let (_, root) = w.org();
    let create = |name: &str, content: &str| {
        w.call("CreatePolicy", json!({"Content": content, "Description": "", "Name": name, "Type": SCP}))
    };
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":"s3:*","Resource":"*","Sid":"{}"}}]}}"#,
        "a".repeat(5100)
    );
    let e = create("Big", &big).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.reason.as_deref()),
        ("ConstraintViolationException", Some("POLICY_CONTENT_LIMIT_EXCEEDED"))
    );
    assert_eq!(create("Bad", "{not json").unwrap_err().code, "MalformedPolicyDocumentException");
    assert_eq!(create("", DENY_S3).unwrap_err().code, "InvalidInputException");
    let tag_policy = w
        .ok("CreatePolicy", json!({"Content": "{\"tags\":{}}", "Description": "t", "Name": "T", "Type": "TAG_POLICY"}));
    let tid = tag_policy["Policy"]["PolicySummary"]["Id"].as_str().unwrap().to_string();
    let listed = w.ok("ListPolicies", json!({"Filter": "TAG_POLICY"}));
    assert_eq!(listed["Policies"].as_array().unwrap().len(), 1);
    let listed = w.ok("ListPolicies", json!({"Filter": SCP}));
    assert_eq!(listed["Policies"][0]["Id"], "p-FullAWSAccess");

    let updated = w.ok("UpdatePolicy", json!({"PolicyId": tid, "Name": "T2", "Description": "d2"}));
    assert_eq!(updated["Policy"]["PolicySummary"]["Name"], "T2");
    assert_eq!(updated["Policy"]["Content"], "{\"tags\":{}}");
    assert_eq!(w.code("UpdatePolicy", json!({"PolicyId": tid, "Content": "[]"})), "MalformedPolicyDocumentException");

    // At most five SCPs on one target.
    w.ok("EnablePolicyType", json!({"RootId": root, "PolicyType": SCP}));
    for n in 0..4 {
        let p = create(&format!("P{n}"), DENY_S3).unwrap();
        w.ok("AttachPolicy", json!({"PolicyId": p["Policy"]["PolicySummary"]["Id"], "TargetId": root}));
    }
    let sixth = create("P5", DENY_S3).unwrap();
    let e = w
        .call("AttachPolicy", json!({"PolicyId": sixth["Policy"]["PolicySummary"]["Id"], "TargetId": root}))
        .unwrap_err();
    assert_eq!(e.reason.as_deref(), Some("MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"));

    // Consolidated billing only: no policies.
    let w2 = world();
    w2.ok("CreateOrganization", json!({"FeatureSet": "CONSOLIDATED_BILLING"}));
    let root2 = w2.ok("ListRoots", json!({}))["Roots"][0]["Id"].clone();
    assert_eq!(
        w2.code("EnablePolicyType", json!({"RootId": root2, "PolicyType": SCP})),
        "PolicyTypeNotAvailableForOrganizationException"
    );
}

#[test]
fn resource_control_policies_keep_their_full_access_policy() {
    let w = world();
    let (_, root) = w.org();
    let a = w.account("A");
    w.ok("EnablePolicyType", json!({"RootId": root, "PolicyType": RESOURCE_CONTROL_POLICY}));
    let l = w.ok("ListPoliciesForTarget", json!({"TargetId": a, "Filter": RESOURCE_CONTROL_POLICY}));
    assert_eq!(l["Policies"][0]["Id"], "p-RCPFullAWSAccess");
    let e = w.call("DetachPolicy", json!({"PolicyId": "p-RCPFullAWSAccess", "TargetId": a})).unwrap_err();
    assert_eq!(e.reason.as_deref(), Some("NON_DETACHABLE_POLICY"));
    let rcp = vec!["p-RCPFullAWSAccess".to_string()];
    assert_eq!(w.levels(&a, RESOURCE_CONTROL_POLICY), Some(vec![rcp.clone(), rcp]));
}

#[test]
fn tags_on_organizations_resources() {
    let w = world();
    let (_, root) = w.org();
    let car = w.ok(
        "CreateAccount",
        json!({"Email": "t@example.com", "AccountName": "T", "Tags": [{"Key": "team", "Value": "a"}]}),
    );
    let st = w.ok("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": car["CreateAccountStatus"]["Id"]}));
    let a = st["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_string();
    assert_eq!(w.ok("ListTagsForResource", json!({"ResourceId": a}))["Tags"], json!([{"Key": "team", "Value": "a"}]));
    w.ok(
        "TagResource",
        json!({"ResourceId": a, "Tags": [{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}]}),
    );
    assert_eq!(
        w.ok("ListTagsForResource", json!({"ResourceId": a}))["Tags"],
        json!([{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "dev"}])
    );
    w.ok("UntagResource", json!({"ResourceId": a, "TagKeys": ["team"]}));
    assert_eq!(w.ok("ListTagsForResource", json!({"ResourceId": a}))["Tags"], json!([{"Key": "env", "Value": "dev"}]));
    w.ok("TagResource", json!({"ResourceId": root, "Tags": [{"Key": "k", "Value": ""}]}));
    assert_eq!(w.code("TagResource", json!({"ResourceId": "999999999999", "Tags": []})), "TargetNotFoundException");
    assert_eq!(w.code("TagResource", json!({"ResourceId": "p-FullAWSAccess", "Tags": []})), "TargetNotFoundException");
    assert_eq!(w.code("TagResource", json!({"ResourceId": "nope", "Tags": []})), "InvalidInputException");
    let many: Vec<Value> = (0..50).map(|n| json!({"Key": format!("k{n}"), "Value": ""})).collect();
    let e = w.call("TagResource", json!({"ResourceId": a, "Tags": many})).unwrap_err();
    assert_eq!(e.reason.as_deref(), Some("MAX_TAG_LIMIT_EXCEEDED"));
    assert_eq!(w.ok("ListTagsForResource", json!({"ResourceId": a}))["Tags"].as_array().unwrap().len(), 1);
}

#[test]
fn create_account_request_records_survive_in_the_store() {
    let w = world();
    w.org();
    w.account("Kept");
    let r = w.services.store.read().unwrap();
    let rows = r.scan(table::ORG_ENTITY, "car-", None, 10).unwrap();
    let cars: Vec<(String, CreateAccountRequest)> = model::decode_rows(table::ORG_ENTITY, rows).unwrap();
    assert_eq!(cars.len(), 1);
    assert_eq!(cars[0].1.state, "SUCCEEDED");
}

/// AWS Organizations User Guide, "Resource control policies (RCPs)": RCPs apply to the
/// resources of the services it lists (S3 and STS among Tessera's), not to IAM's.
#[test]
fn rcps_limit_the_services_they_cover_only() {
    let s = Services::in_memory(Arc::new(ManualClock::new(1_700_000_000_000))).unwrap();
    let call = |caller: Caller| Call {
        caller,
        operation: "Test".into(),
        meta: CallMeta {
            request_id: "r".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            secure_transport: false,
            now_millis: 1_700_000_000_000,
        },
    };
    let dir = tempfile::tempdir().unwrap();
    let mgmt = crate::bootstrap::first_start(&s, dir.path()).unwrap();
    let org = |account: &str, op: &str, input: serde_json::Value| {
        let mut c = call(Caller::root(account, "AKIAROOT"));
        c.operation = op.into();
        let r = handle(&s, &c, &input).unwrap_or_else(|e| panic!("{op}: {e}"));
        serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()
    };
    org(&mgmt, "CreateOrganization", serde_json::json!({}));
    let root = org(&mgmt, "ListRoots", serde_json::json!({}))["Roots"][0]["Id"].as_str().unwrap().to_string();
    org(&mgmt, "EnablePolicyType", serde_json::json!({"RootId": root, "PolicyType": "RESOURCE_CONTROL_POLICY"}));
    let car = org(&mgmt, "CreateAccount", serde_json::json!({"Email": "m@example.com", "AccountName": "M"}));
    let car = car["CreateAccountStatus"]["Id"].as_str().unwrap().to_string();
    let st = org(&mgmt, "DescribeCreateAccountStatus", serde_json::json!({"CreateAccountRequestId": car}));
    let member = st["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_string();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":["iam:*","s3:*","sts:*"],"Resource":"*"}]}"#;
    let p = org(
        &mgmt,
        "CreatePolicy",
        serde_json::json!({"Content": deny, "Description": "", "Name": "deny", "Type": "RESOURCE_CONTROL_POLICY"}),
    );
    let p = p["Policy"]["PolicySummary"]["Id"].as_str().unwrap().to_string();
    org(&mgmt, "AttachPolicy", serde_json::json!({"PolicyId": p, "TargetId": member}));

    let c = call(Caller::root(&member, "AKIAMEMBER"));
    assert!(s.authorize(&c, "iam:GetUser", &format!("arn:aws:iam::{member}:user/u")).is_ok());
    assert!(s.authorize(&c, "iam:ListUsers", &format!("arn:aws:iam::{member}:user/")).is_ok());
    let get = crate::authz::AuthzRequest {
        action: "s3:GetObject",
        resource: "arn:aws:s3:::b/k",
        resource_account: Some(&member),
        ..Default::default()
    };
    let err = s.authorize_request(&c, &get).unwrap_err();
    assert!(err.message.ends_with("with an explicit deny in a resource control policy"), "{}", err.message);
    let err = s.authorize(&c, "sts:GetSessionToken", "*").unwrap_err();
    assert!(err.message.ends_with("with an explicit deny in a resource control policy"), "{}", err.message);
}

/// A second organization whose management account left the first (`RemoveAccountFromOrganization`).
fn second_organization(w: &World, name: &str) -> String {
    let a = w.account(name);
    w.ok("RemoveAccountFromOrganization", json!({"AccountId": a}));
    w.call_as(&a, "CreateOrganization", json!({})).unwrap();
    a
}

/// 2023-11-01T00:00:00Z, the first day of the world's month.
const NOVEMBER_2023: i64 = 1_698_796_800;

#[test]
fn responsibility_transfer_follows_its_handshake() {
    let w = world();
    w.org();
    let b = second_organization(&w, "B");
    let invite = |start: i64| {
        w.call(
            "InviteOrganizationToTransferResponsibility",
            json!({"Type": "BILLING", "Target": {"Id": b, "Type": "ACCOUNT"}, "StartTimestamp": start, "SourceName": "n"}),
        )
    };
    let h = invite(NOVEMBER_2023).unwrap()["Handshake"].clone();
    let rt = h["Resources"][0]["Value"].as_str().unwrap().to_string();
    let describe = |account: &str, rt: &str| {
        w.call_as(account, "DescribeResponsibilityTransfer", json!({"Id": rt}))
            .map(|v| v["ResponsibilityTransfer"].clone())
    };
    assert_eq!(describe(&b, &rt).unwrap()["Status"], "REQUESTED");
    // Neither side's organization can go while the invitation is open.
    assert_eq!(
        w.call_as(&b, "DeleteOrganization", json!({})).unwrap_err().reason.as_deref(),
        Some("ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS")
    );
    // The invitation expires after 15 days, and the transfer with it.
    w.clock.advance_secs(15 * 86_400);
    assert_eq!(describe(&b, &rt).unwrap()["Status"], "EXPIRED");
    assert_eq!(describe(&w.mgmt, &rt).unwrap()["Status"], "EXPIRED");
    let code = w.call_as(&b, "AcceptHandshake", json!({"HandshakeId": h["Id"]})).unwrap_err().code;
    assert_eq!(code, "InvalidHandshakeTransitionException");
    // A month on (mid-December): November is too early, December is fine.
    w.clock.advance_secs(15 * 86_400);
    assert_eq!(invite(NOVEMBER_2023).unwrap_err().reason.as_deref(), Some("START_DATE_TOO_EARLY"));
    let december = NOVEMBER_2023 + 30 * 86_400;
    let h = invite(december).unwrap()["Handshake"].clone();
    let rt2 = h["Resources"][0]["Value"].as_str().unwrap().to_string();
    w.call_as(&b, "AcceptHandshake", json!({"HandshakeId": h["Id"]})).unwrap();
    let t =
        w.call_as(&b, "TerminateResponsibilityTransfer", json!({"Id": rt2})).unwrap()["ResponsibilityTransfer"].clone();
    // It starts in December, so it ends at the end of December at the earliest.
    assert_eq!(
        (t["Status"].as_str(), t["EndTimestamp"].as_i64()),
        (Some("WITHDRAWN"), Some(december + 31 * 86_400 - 1))
    );
    // Until then the organizations stay; afterwards they may go.
    assert!(w.call_as(&b, "DeleteOrganization", json!({})).is_err());
    w.clock.advance_secs(60 * 86_400);
    w.call_as(&b, "DeleteOrganization", json!({})).unwrap();
    // The record stays, and B (in no organization now) cannot read it.
    assert_eq!(describe(&w.mgmt, &rt2).unwrap()["Status"], "WITHDRAWN");
    assert_eq!(describe(&b, &rt2).unwrap_err().code, "AWSOrganizationsNotInUseException");
}
