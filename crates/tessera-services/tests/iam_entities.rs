//! IAM users, groups, roles, policies and instance profiles through `iam::handle`, on an
//! in-memory store.

use std::sync::Arc;

use tessera_services::caller::{Call, CallMeta, Caller, CallerKind};
use tessera_services::clock::ManualClock;
use tessera_services::iam::principal::principal_policies;
use tessera_services::{bootstrap, iam, Services};
use tessera_wire::{AwsError, QueryParams};

const ACCT: &str = "111122223333";

fn services() -> Services {
    let s = Services::in_memory(Arc::new(ManualClock::new(1_700_000_000_000))).unwrap();
    let mut txn = s.store.write().unwrap();
    bootstrap::create_account(txn.as_mut(), ACCT, "Test", "root@example.com", 1_600_000_000).unwrap();
    txn.commit().unwrap();
    s
}

fn root() -> Caller {
    Caller::root(ACCT, "AKIAROOT")
}

fn call_as(s: &Services, caller: &Caller, op: &str, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
    let call = Call {
        caller: caller.clone(),
        operation: op.to_string(),
        meta: CallMeta {
            request_id: "req-1".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            secure_transport: false,
            now_millis: 1_700_000_000_000,
        },
    };
    let params = QueryParams::from_pairs(pairs.iter().copied());
    iam::handle(s, &call, &params).map(|r| String::from_utf8(r.body.to_vec()).unwrap())
}

fn call(s: &Services, op: &str, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
    call_as(s, &root(), op, pairs)
}

fn err(r: Result<String, AwsError>) -> AwsError {
    r.expect_err("expected an error")
}

const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#;

#[test]
fn users_are_unique_case_insensitively_and_keep_their_case() {
    let s = services();
    let body = call(&s, "CreateUser", &[("UserName", "Sandy"), ("Path", "/team/")]).unwrap();
    assert!(body.contains("<UserName>Sandy</UserName>"), "{body}");
    assert!(body.contains("<Arn>arn:aws:iam::111122223333:user/team/Sandy</Arn>"), "{body}");
    assert!(body.contains("<UserId>AIDA"), "{body}");
    let e = err(call(&s, "CreateUser", &[("UserName", "SANDY")]));
    assert_eq!((e.status, e.code.as_str()), (409, "EntityAlreadyExists"));
    assert_eq!(e.message, "User with name SANDY already exists.");
    let body = call(&s, "GetUser", &[("UserName", "sandy")]).unwrap();
    assert!(body.contains("<UserName>Sandy</UserName>"));
    let e = err(call(&s, "GetUser", &[("UserName", "nobody")]));
    assert_eq!(
        (e.status, e.code.as_str(), e.message.as_str()),
        (404, "NoSuchEntity", "The user with name nobody cannot be found.")
    );
}

#[test]
fn validation_errors_have_aws_messages() {
    let s = services();
    let e = err(call(&s, "CreateUser", &[("UserName", "a/b")]));
    assert_eq!(e.code, "ValidationError");
    assert_eq!(
        e.message,
        r"1 validation error detected: Value 'a/b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+"
    );
    let e = err(call(
        &s,
        "CreateRole",
        &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST), ("MaxSessionDuration", "60")],
    ));
    assert!(e.message.contains("Value '60' at 'maxSessionDuration' failed to satisfy constraint: Member must have value greater than or equal to 3600"), "{}", e.message);
    let e = err(call(&s, "CreateRole", &[("RoleName", "r")]));
    assert!(e.message.contains("Value null at 'assumeRolePolicyDocument'"), "{}", e.message);
    // Nothing was created by the failed requests.
    assert_eq!(err(call(&s, "GetRole", &[("RoleName", "r")])).code, "NoSuchEntity");
}

#[test]
fn get_user_without_name_answers_for_the_caller() {
    let s = services();
    let body = call(&s, "GetUser", &[]).unwrap();
    assert!(body.contains("<UserId>111122223333</UserId>"), "{body}");
    assert!(body.contains("<Arn>arn:aws:iam::111122223333:root</Arn>"), "{body}");
    assert!(!body.contains("<UserName>"), "{body}");
}

#[test]
fn deleting_is_refused_while_attached_never_cascades() {
    let s = services();
    call(&s, "CreateUser", &[("UserName", "u")]).unwrap();
    call(&s, "CreateGroup", &[("GroupName", "g")]).unwrap();
    call(&s, "AddUserToGroup", &[("GroupName", "g"), ("UserName", "u")]).unwrap();
    call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")])
        .unwrap();
    call(&s, "PutUserPolicy", &[("UserName", "u"), ("PolicyName", "p"), ("PolicyDocument", DOC)]).unwrap();

    let e = err(call(&s, "DeleteUser", &[("UserName", "u")]));
    assert_eq!((e.status, e.code.as_str()), (409, "DeleteConflict"));
    assert_eq!(e.message, "Cannot delete entity, must delete policies first.");
    call(&s, "DeleteUserPolicy", &[("UserName", "u"), ("PolicyName", "p")]).unwrap();
    assert_eq!(
        err(call(&s, "DeleteUser", &[("UserName", "u")])).message,
        "Cannot delete entity, must detach all policies first."
    );
    call(&s, "DetachUserPolicy", &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")])
        .unwrap();
    assert_eq!(
        err(call(&s, "DeleteUser", &[("UserName", "u")])).message,
        "Cannot delete entity, must remove users from group first."
    );
    assert_eq!(
        err(call(&s, "DeleteGroup", &[("GroupName", "g")])).message,
        "Cannot delete entity, must remove users from group first."
    );
    call(&s, "RemoveUserFromGroup", &[("GroupName", "g"), ("UserName", "u")]).unwrap();
    call(&s, "DeleteUser", &[("UserName", "u")]).unwrap();
    call(&s, "DeleteGroup", &[("GroupName", "g")]).unwrap();
}

#[test]
fn policy_versions_follow_aws_rules() {
    let s = services();
    let body = call(&s, "CreatePolicy", &[("PolicyName", "P"), ("PolicyDocument", DOC)]).unwrap();
    assert!(body.contains("<DefaultVersionId>v1</DefaultVersionId>"), "{body}");
    let arn = "arn:aws:iam::111122223333:policy/P";
    for _ in 2..=5 {
        call(&s, "CreatePolicyVersion", &[("PolicyArn", arn), ("PolicyDocument", DOC)]).unwrap();
    }
    let e = err(call(&s, "CreatePolicyVersion", &[("PolicyArn", arn), ("PolicyDocument", DOC)]));
    assert_eq!((e.status, e.code.as_str()), (409, "LimitExceeded"));
    let e = err(call(&s, "DeletePolicyVersion", &[("PolicyArn", arn), ("VersionId", "v1")]));
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("DeleteConflict", "Cannot delete the default version of a policy.")
    );
    call(&s, "SetDefaultPolicyVersion", &[("PolicyArn", arn), ("VersionId", "v3")]).unwrap();
    call(&s, "DeletePolicyVersion", &[("PolicyArn", arn), ("VersionId", "v1")]).unwrap();
    let body =
        call(&s, "CreatePolicyVersion", &[("PolicyArn", arn), ("PolicyDocument", DOC), ("SetAsDefault", "true")])
            .unwrap();
    assert!(body.contains("<VersionId>v6</VersionId><IsDefaultVersion>true</IsDefaultVersion>"), "{body}");
    assert_eq!(err(call(&s, "DeletePolicy", &[("PolicyArn", arn)])).code, "DeleteConflict");
    let body = call(&s, "GetPolicyVersion", &[("PolicyArn", arn), ("VersionId", "v6")]).unwrap();
    assert!(body.contains("<Document>%7B%22Version%22"), "{body}");
    let e = err(call(&s, "GetPolicyVersion", &[("PolicyArn", arn), ("VersionId", "v1")]));
    assert_eq!(e.code, "NoSuchEntity");
    for v in ["v2", "v3", "v4", "v5"] {
        call(&s, "DeletePolicyVersion", &[("PolicyArn", arn), ("VersionId", v)]).unwrap();
    }
    call(&s, "DeletePolicy", &[("PolicyArn", arn)]).unwrap();
    assert_eq!(err(call(&s, "GetPolicy", &[("PolicyArn", arn)])).code, "NoSuchEntity");
}

#[test]
fn quotas_of_attachments_and_inline_sizes() {
    let s = services();
    call(&s, "CreateUser", &[("UserName", "u")]).unwrap();
    for i in 0..10 {
        let name = format!("P{i}");
        call(&s, "CreatePolicy", &[("PolicyName", name.as_str()), ("PolicyDocument", DOC)]).unwrap();
        let arn = format!("arn:aws:iam::111122223333:policy/{name}");
        call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", arn.as_str())]).unwrap();
    }
    // Attaching again is a no-op; an 11th policy is over the quota.
    call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::111122223333:policy/P0")]).unwrap();
    let e = err(call(
        &s,
        "AttachUserPolicy",
        &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess")],
    ));
    assert_eq!((e.code.as_str(), e.message.as_str()), ("LimitExceeded", "Cannot exceed quota for PoliciesPerUser: 10"));

    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}]}}"#,
        "a".repeat(1100)
    );
    call(&s, "PutUserPolicy", &[("UserName", "u"), ("PolicyName", "one"), ("PolicyDocument", big.as_str())]).unwrap();
    // Replacing the same policy does not count it twice.
    call(&s, "PutUserPolicy", &[("UserName", "u"), ("PolicyName", "one"), ("PolicyDocument", big.as_str())]).unwrap();
    let e =
        err(call(&s, "PutUserPolicy", &[("UserName", "u"), ("PolicyName", "two"), ("PolicyDocument", big.as_str())]));
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("LimitExceeded", "Maximum policy size of 2048 bytes exceeded for user u")
    );
    // A role takes 10,240.
    call(&s, "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    for n in ["a", "b", "c"] {
        call(&s, "PutRolePolicy", &[("RoleName", "r"), ("PolicyName", n), ("PolicyDocument", big.as_str())]).unwrap();
    }
    let e =
        err(call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::111122223333:policy/Nope")]));
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("NoSuchEntity", "Policy arn:aws:iam::111122223333:policy/Nope does not exist or is not attachable.")
    );
    let e = err(call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::nope:policy/x")]));
    assert_eq!(e.code, "InvalidInput");
}

#[test]
fn renaming_a_user_carries_memberships_and_attachments() {
    let s = services();
    call(&s, "CreateUser", &[("UserName", "old")]).unwrap();
    call(&s, "CreateGroup", &[("GroupName", "g")]).unwrap();
    call(&s, "AddUserToGroup", &[("GroupName", "g"), ("UserName", "old")]).unwrap();
    call(&s, "AttachUserPolicy", &[("UserName", "old"), ("PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")])
        .unwrap();
    call(&s, "UpdateUser", &[("UserName", "old"), ("NewUserName", "New"), ("NewPath", "/p/")]).unwrap();
    assert_eq!(err(call(&s, "GetUser", &[("UserName", "old")])).code, "NoSuchEntity");
    let body = call(&s, "GetGroup", &[("GroupName", "g")]).unwrap();
    assert!(body.contains("<UserName>New</UserName>") && body.contains("user/p/New"), "{body}");
    let body =
        call(&s, "ListEntitiesForPolicy", &[("PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")]).unwrap();
    assert!(body.contains("<PolicyUsers><member><UserName>New</UserName>"), "{body}");
    let body = call(&s, "GetPolicy", &[("PolicyArn", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")]).unwrap();
    assert!(body.contains("<AttachmentCount>1</AttachmentCount>"), "{body}");
    let body = call(&s, "ListGroupsForUser", &[("UserName", "new")]).unwrap();
    assert!(body.contains("<GroupName>g</GroupName>"), "{body}");
}

#[test]
fn roles_trust_policy_is_url_encoded_and_service_linked_paths_refused() {
    let s = services();
    let body = call(&s, "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST), ("Description", "d")])
        .unwrap();
    assert!(body.contains("<AssumeRolePolicyDocument>%7B%22Version%22%3A%222012-10-17%22"), "{body}");
    assert!(
        body.contains("<MaxSessionDuration>3600</MaxSessionDuration>")
            && body.contains("<RoleLastUsed></RoleLastUsed>"),
        "{body}"
    );
    let e = err(call(
        &s,
        "CreateRole",
        &[("RoleName", "x"), ("Path", "/aws-service-role/ec2.amazonaws.com/"), ("AssumeRolePolicyDocument", TRUST)],
    ));
    assert_eq!(e.code, "InvalidInput");
    let e = err(call(&s, "CreateRole", &[("RoleName", "y"), ("AssumeRolePolicyDocument", "{not json")]));
    assert_eq!(e.code, "MalformedPolicyDocument");
    call(&s, "UpdateRole", &[("RoleName", "r"), ("MaxSessionDuration", "43200")]).unwrap();
    let body = call(&s, "GetRole", &[("RoleName", "r")]).unwrap();
    assert!(body.contains("<MaxSessionDuration>43200</MaxSessionDuration>"), "{body}");
}

#[test]
fn instance_profiles_hold_one_role_and_block_role_deletion() {
    let s = services();
    call(&s, "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    call(&s, "CreateRole", &[("RoleName", "r2"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    call(&s, "CreateInstanceProfile", &[("InstanceProfileName", "ip")]).unwrap();
    call(&s, "AddRoleToInstanceProfile", &[("InstanceProfileName", "ip"), ("RoleName", "r")]).unwrap();
    let e = err(call(&s, "AddRoleToInstanceProfile", &[("InstanceProfileName", "ip"), ("RoleName", "r2")]));
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1")
    );
    assert_eq!(
        err(call(&s, "DeleteRole", &[("RoleName", "r")])).message,
        "Cannot delete entity, must remove roles from instance profile first."
    );
    assert_eq!(err(call(&s, "DeleteInstanceProfile", &[("InstanceProfileName", "ip")])).code, "DeleteConflict");
    let body = call(&s, "ListInstanceProfilesForRole", &[("RoleName", "r")]).unwrap();
    assert!(
        body.contains("<InstanceProfileName>ip</InstanceProfileName>") && body.contains("<RoleName>r</RoleName>"),
        "{body}"
    );
    call(&s, "RemoveRoleFromInstanceProfile", &[("InstanceProfileName", "ip"), ("RoleName", "r")]).unwrap();
    call(&s, "DeleteRole", &[("RoleName", "r")]).unwrap();
    call(&s, "DeleteInstanceProfile", &[("InstanceProfileName", "ip")]).unwrap();
}

#[test]
fn principal_policies_gather_user_group_and_boundary() {
    let s = services();
    call(&s, "CreatePolicy", &[("PolicyName", "B"), ("PolicyDocument", DOC)]).unwrap();
    call(&s, "CreateUser", &[("UserName", "u"), ("PermissionsBoundary", "arn:aws:iam::111122223333:policy/B")])
        .unwrap();
    call(&s, "CreateGroup", &[("GroupName", "g")]).unwrap();
    call(&s, "AddUserToGroup", &[("GroupName", "g"), ("UserName", "u")]).unwrap();
    call(&s, "PutUserPolicy", &[("UserName", "u"), ("PolicyName", "mine"), ("PolicyDocument", DOC)]).unwrap();
    call(&s, "PutGroupPolicy", &[("GroupName", "g"), ("PolicyName", "theirs"), ("PolicyDocument", DOC)]).unwrap();
    call(&s, "AttachGroupPolicy", &[("GroupName", "g"), ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess")])
        .unwrap();
    call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess")])
        .unwrap();
    let read = s.store.read().unwrap();
    let kind = CallerKind::User { name: "U".into(), path: "/".into(), user_id: "x".into() };
    let p = principal_policies(read.as_ref(), ACCT, &kind).unwrap();
    let labels: Vec<&str> = p.identity.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, ["user/u/mine", "arn:aws:iam::aws:policy/AdministratorAccess", "group/g/theirs"]);
    assert_eq!(p.boundary.as_ref().map(|b| b.label.as_str()), Some("arn:aws:iam::111122223333:policy/B"));
    assert_eq!(p.boundary.unwrap().document, DOC);
    drop(read);
    let e = err(call(&s, "DeletePolicy", &[("PolicyArn", "arn:aws:iam::111122223333:policy/B")]));
    assert_eq!(e.message, "Cannot delete a policy attached to entities.");
    let body = call(
        &s,
        "ListPolicies",
        &[("Scope", "Local"), ("OnlyAttached", "true"), ("PolicyUsageFilter", "PermissionsBoundary")],
    )
    .unwrap();
    assert!(body.contains("<PolicyName>B</PolicyName>"), "{body}");
    let body = call(
        &s,
        "ListPolicies",
        &[("Scope", "Local"), ("OnlyAttached", "true"), ("PolicyUsageFilter", "PermissionsPolicy")],
    )
    .unwrap();
    assert!(!body.contains("<PolicyName>B</PolicyName>"), "{body}");
}

#[test]
fn tags_have_aws_limits() {
    let s = services();
    call(
        &s,
        "CreateRole",
        &[
            ("RoleName", "r"),
            ("AssumeRolePolicyDocument", TRUST),
            ("Tags.member.1.Key", "Dept"),
            ("Tags.member.1.Value", "a"),
        ],
    )
    .unwrap();
    call(&s, "TagRole", &[("RoleName", "r"), ("Tags.member.1.Key", "dept"), ("Tags.member.1.Value", "b")]).unwrap();
    let body = call(&s, "ListRoleTags", &[("RoleName", "r")]).unwrap();
    assert!(body.contains("<Key>dept</Key><Value>b</Value>") && !body.contains("Dept"), "{body}");
    let e =
        err(call(&s, "TagRole", &[("RoleName", "r"), ("Tags.member.1.Key", "aws:x"), ("Tags.member.1.Value", "b")]));
    assert_eq!(e.code, "InvalidInput");
    let mut pairs: Vec<(String, String)> = Vec::new();
    for i in 1..=50 {
        pairs.push((format!("Tags.member.{i}.Key"), format!("k{i}")));
        pairs.push((format!("Tags.member.{i}.Value"), "v".into()));
    }
    let mut p: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    p.push(("RoleName", "r"));
    let e = err(call(&s, "TagRole", &p));
    assert_eq!(e.code, "LimitExceeded");
    call(&s, "UntagRole", &[("RoleName", "r"), ("TagKeys.member.1", "DEPT")]).unwrap();
    call(&s, "TagRole", &p).unwrap();
    let body = call(&s, "ListRoleTags", &[("RoleName", "r"), ("MaxItems", "10")]).unwrap();
    assert!(body.contains("<IsTruncated>true</IsTruncated>"), "{body}");
}

#[test]
fn non_root_callers_go_through_the_authorizer() {
    let s = services();
    call(&s, "CreateUser", &[("UserName", "alice")]).unwrap();
    let alice = Caller {
        account: ACCT.into(),
        arn: format!("arn:aws:iam::{ACCT}:user/alice"),
        user_id: "AIDAX".into(),
        kind: CallerKind::User { name: "alice".into(), path: "/".into(), user_id: "AIDAX".into() },
        access_key_id: "AKIAX".into(),
        session: None,
    };
    let e = err(call_as(&s, &alice, "CreateUser", &[("UserName", "bob")]));
    assert_eq!(e.code, "AccessDenied");
    assert!(e.message.contains("iam:CreateUser on resource: arn:aws:iam::111122223333:user/bob"), "{}", e.message);
    assert_eq!(err(call(&s, "GetUser", &[("UserName", "bob")])).code, "NoSuchEntity");
}

#[test]
fn pagination_with_marker() {
    let s = services();
    for i in 0..5 {
        call(&s, "CreateUser", &[("UserName", format!("user{i}").as_str())]).unwrap();
    }
    let body = call(&s, "ListUsers", &[("MaxItems", "2")]).unwrap();
    assert!(body.contains("<IsTruncated>true</IsTruncated>"));
    let marker = body.split("<Marker>").nth(1).unwrap().split("</Marker>").next().unwrap().to_string();
    let body = call(&s, "ListUsers", &[("MaxItems", "3"), ("Marker", marker.as_str())]).unwrap();
    assert!(body.contains("user2") && body.contains("user4") && !body.contains("user1"), "{body}");
    assert!(body.contains("<IsTruncated>false</IsTruncated>"));
}

#[test]
fn odd_input_never_panics_and_changes_nothing_when_refused() {
    let s = services();
    let ops = [
        "CreateUser",
        "GetUser",
        "UpdateUser",
        "DeleteUser",
        "ListUsers",
        "CreateGroup",
        "GetGroup",
        "UpdateGroup",
        "DeleteGroup",
        "ListGroups",
        "AddUserToGroup",
        "RemoveUserFromGroup",
        "ListGroupsForUser",
        "CreateRole",
        "GetRole",
        "UpdateRole",
        "UpdateRoleDescription",
        "UpdateAssumeRolePolicy",
        "DeleteRole",
        "ListRoles",
        "TagUser",
        "UntagUser",
        "ListUserTags",
        "TagRole",
        "UntagRole",
        "ListRoleTags",
        "TagPolicy",
        "UntagPolicy",
        "ListPolicyTags",
        "TagInstanceProfile",
        "UntagInstanceProfile",
        "ListInstanceProfileTags",
        "PutUserPolicy",
        "GetUserPolicy",
        "DeleteUserPolicy",
        "ListUserPolicies",
        "PutGroupPolicy",
        "PutRolePolicy",
        "CreatePolicy",
        "GetPolicy",
        "DeletePolicy",
        "ListPolicies",
        "CreatePolicyVersion",
        "GetPolicyVersion",
        "ListPolicyVersions",
        "DeletePolicyVersion",
        "SetDefaultPolicyVersion",
        "AttachUserPolicy",
        "DetachRolePolicy",
        "ListAttachedGroupPolicies",
        "ListEntitiesForPolicy",
        "PutUserPermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "CreateInstanceProfile",
        "GetInstanceProfile",
        "DeleteInstanceProfile",
        "ListInstanceProfiles",
        "AddRoleToInstanceProfile",
        "RemoveRoleFromInstanceProfile",
        "ListInstanceProfilesForRole",
    ];
    let long = "\u{1F642}".repeat(70);
    let values = [
        "",
        "\u{e9}",
        long.as_str(),
        "/",
        "//",
        "arn:aws:iam::aws:policy/",
        "arn:aws:iam::111122223333:policy/\u{e9}/x",
        "v0",
        "v1.",
        "-1",
        "99999999999999999999",
        "a\u{e9}\u{e9}",
        "aws:x",
        "%zz",
        "{",
    ];
    let params = [
        "UserName",
        "GroupName",
        "RoleName",
        "PolicyName",
        "InstanceProfileName",
        "Path",
        "NewPath",
        "NewUserName",
        "NewGroupName",
        "PathPrefix",
        "PolicyArn",
        "PermissionsBoundary",
        "PolicyDocument",
        "AssumeRolePolicyDocument",
        "Description",
        "MaxSessionDuration",
        "VersionId",
        "Marker",
        "MaxItems",
        "Scope",
        "OnlyAttached",
        "EntityFilter",
        "PolicyUsageFilter",
        "SetAsDefault",
        "Tags.member.1.Key",
        "Tags.member.1.Value",
        "TagKeys.member.1",
    ];
    for op in ops {
        for v in values {
            let pairs: Vec<(&str, &str)> = params.iter().map(|p| (*p, v)).collect();
            let _ = call(&s, op, &pairs);
        }
    }
    let body = call(&s, "ListUsers", &[]).unwrap();
    assert!(!body.contains("<member>"), "{body}");
}
