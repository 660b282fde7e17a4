//! The whole catalogue of AWS managed policies through `iam::handle`, on an in-memory store:
//! listing with pagination and filters, attaching, boundaries, the entity lists and counts, and
//! `GetAccountAuthorizationDetails`.

use std::collections::BTreeSet;
use std::sync::Arc;

use tessera_services::caller::{Call, CallMeta, Caller, CallerKind};
use tessera_services::clock::ManualClock;
use tessera_services::iam::principal::principal_policies;
use tessera_services::{bootstrap, iam, managed, Services};
use tessera_wire::{AwsError, QueryParams};

const ACCT: &str = "111122223333";
const SECURITY_AUDIT: &str = "arn:aws:iam::aws:policy/SecurityAudit";
const VIEW_ONLY: &str = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess";
const LAMBDA_BASIC: &str = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
const EKS_CLUSTER: &str = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy";
const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn services() -> Services {
    let s = Services::in_memory(Arc::new(ManualClock::new(1_700_000_000_000))).unwrap();
    let mut txn = s.store.write().unwrap();
    bootstrap::create_account(txn.as_mut(), ACCT, "Test", "root@example.com", 1_600_000_000).unwrap();
    txn.commit().unwrap();
    s
}

fn call(s: &Services, op: &str, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
    let call = Call {
        caller: Caller::root(ACCT, "AKIAROOT"),
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

/// The texts of every `<tag>` element, in order.
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open).skip(1).map(|s| s[..s.find(&close).unwrap()].to_string()).collect()
}

fn text(xml: &str, tag: &str) -> String {
    texts(xml, tag).into_iter().next().unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
}

/// Every page of `ListPolicies` with `params`: (ARNs, number of pages).
fn list_all(s: &Services, params: &[(&str, &str)], max_items: usize) -> (Vec<String>, usize) {
    let max = max_items.to_string();
    let (mut arns, mut pages, mut marker) = (Vec::new(), 0, None::<String>);
    loop {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        p.push(("MaxItems", &max));
        if let Some(m) = &marker {
            p.push(("Marker", m));
        }
        let body = call(s, "ListPolicies", &p).unwrap();
        pages += 1;
        let page = texts(&body, "Arn");
        assert!(page.len() <= max_items, "page of {} items", page.len());
        arns.extend(page);
        match text(&body, "IsTruncated").as_str() {
            "true" => {
                assert_eq!(texts(&body, "Arn").len(), max_items, "a truncated page is full");
                marker = Some(text(&body, "Marker"));
            }
            "false" => {
                assert!(texts(&body, "Marker").is_empty(), "{body}");
                return (arns, pages);
            }
            other => panic!("IsTruncated {other}"),
        }
        assert!(pages < 1000, "the markers do not advance");
    }
}

#[test]
fn list_policies_pages_through_the_whole_catalogue() {
    let s = services();
    let (arns, pages) = list_all(&s, &[("Scope", "AWS")], 100);
    let catalogue: Vec<String> = managed::all().iter().map(|p| p.arn().to_string()).collect();
    assert!(catalogue.len() > 1000);
    assert_eq!(arns, catalogue, "every AWS managed policy once, in the catalogue's order");
    assert_eq!(pages, catalogue.len().div_ceil(100));
    // Scope All: the same AWS managed policies, then the account's own.
    call(&s, "CreatePolicy", &[("PolicyName", "aaa-local"), ("PolicyDocument", DOC)]).unwrap();
    let (all, _) = list_all(&s, &[("Scope", "All")], 1000);
    assert_eq!(all.len(), catalogue.len() + 1);
    assert_eq!(all[..catalogue.len()], catalogue[..]);
    assert_eq!(all.last().unwrap(), &format!("arn:aws:iam::{ACCT}:policy/aaa-local"));
    let (local, _) = list_all(&s, &[("Scope", "Local")], 100);
    assert_eq!(local, [format!("arn:aws:iam::{ACCT}:policy/aaa-local")]);
    // Paths.
    for prefix in ["/job-function/", "/service-role/", "/aws-service-role/"] {
        let (got, _) = list_all(&s, &[("Scope", "AWS"), ("PathPrefix", prefix)], 7);
        let want: Vec<String> =
            managed::all().iter().filter(|p| p.path.starts_with(prefix)).map(|p| p.arn().to_string()).collect();
        assert!(!want.is_empty() && got == want, "{prefix}: {} listed, {} in the catalogue", got.len(), want.len());
    }
    assert!(texts(&call(&s, "ListPolicies", &[("Scope", "AWS"), ("PathPrefix", "/job-function/")]).unwrap(), "Arn")
        .contains(&VIEW_ONLY.to_string()));
}

#[test]
fn catalogue_policies_attach_count_and_list_their_entities() {
    let s = services();
    call(&s, "CreateUser", &[("UserName", "u")]).unwrap();
    call(&s, "CreateGroup", &[("GroupName", "g")]).unwrap();
    call(&s, "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", SECURITY_AUDIT)]).unwrap();
    call(&s, "AttachRolePolicy", &[("RoleName", "r"), ("PolicyArn", SECURITY_AUDIT)]).unwrap();
    call(&s, "AttachRolePolicy", &[("RoleName", "r"), ("PolicyArn", LAMBDA_BASIC)]).unwrap();
    call(&s, "AttachGroupPolicy", &[("GroupName", "g"), ("PolicyArn", EKS_CLUSTER)]).unwrap();

    let got = call(&s, "GetPolicy", &[("PolicyArn", SECURITY_AUDIT)]).unwrap();
    assert_eq!(text(&got, "AttachmentCount"), "2");
    assert_eq!(text(&got, "Path"), "/");
    let listed = call(&s, "ListEntitiesForPolicy", &[("PolicyArn", SECURITY_AUDIT)]).unwrap();
    assert_eq!(texts(&listed, "UserName"), ["u"]);
    assert_eq!(texts(&listed, "RoleName"), ["r"]);
    assert!(texts(&listed, "GroupName").is_empty());
    let listed = call(&s, "ListEntitiesForPolicy", &[("PolicyArn", EKS_CLUSTER)]).unwrap();
    assert_eq!(texts(&listed, "GroupName"), ["g"]);
    let attached = call(&s, "ListAttachedRolePolicies", &[("RoleName", "r")]).unwrap();
    assert_eq!(texts(&attached, "PolicyArn"), [SECURITY_AUDIT, LAMBDA_BASIC]);

    // OnlyAttached: exactly the used ones, with their counts, in catalogue order.
    let body = call(&s, "ListPolicies", &[("Scope", "AWS"), ("OnlyAttached", "true")]).unwrap();
    assert_eq!(texts(&body, "Arn"), [EKS_CLUSTER, LAMBDA_BASIC, SECURITY_AUDIT]);
    assert_eq!(texts(&body, "AttachmentCount"), ["1", "1", "2"]);
    let body = call(&s, "ListPolicies", &[("Scope", "AWS"), ("OnlyAttached", "true"), ("MaxItems", "2")]).unwrap();
    assert_eq!(texts(&body, "Arn"), [EKS_CLUSTER, LAMBDA_BASIC]);
    let marker = text(&body, "Marker");
    let body = call(&s, "ListPolicies", &[("Scope", "AWS"), ("OnlyAttached", "true"), ("Marker", &marker)]).unwrap();
    assert_eq!(texts(&body, "Arn"), [SECURITY_AUDIT]);
    assert_eq!(text(&body, "IsTruncated"), "false");
    // Unfiltered pages count too.
    let body =
        call(&s, "ListPolicies", &[("Scope", "AWS"), ("PathPrefix", "/service-role/"), ("MaxItems", "1000")]).unwrap();
    let arns = texts(&body, "Arn");
    let i = arns.iter().position(|a| a == LAMBDA_BASIC).unwrap();
    assert_eq!(texts(&body, "AttachmentCount")[i], "1");
    assert_eq!(texts(&body, "AttachmentCount").iter().filter(|c| *c != "0").count(), 1);

    // The principal's policies carry the real document.
    let policies = principal_policies(
        s.store.read().unwrap().as_ref(),
        ACCT,
        &CallerKind::User { name: "u".into(), path: "/".into(), user_id: String::new() },
    )
    .unwrap();
    let found = policies.identity.iter().find(|p| p.label == SECURITY_AUDIT).unwrap();
    assert_eq!(found.document, managed::by_arn(SECURITY_AUDIT).unwrap().document);

    call(&s, "DetachUserPolicy", &[("UserName", "u"), ("PolicyArn", SECURITY_AUDIT)]).unwrap();
    let got = call(&s, "GetPolicy", &[("PolicyArn", SECURITY_AUDIT)]).unwrap();
    assert_eq!(text(&got, "AttachmentCount"), "1");
    // The path is part of the ARN.
    let e = call(&s, "AttachUserPolicy", &[("UserName", "u"), ("PolicyArn", "arn:aws:iam::aws:policy/ViewOnlyAccess")])
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.status), ("NoSuchEntity", 404), "{}", e.message);
}

#[test]
fn catalogue_policies_are_boundaries() {
    let s = services();
    call(&s, "CreateUser", &[("UserName", "u")]).unwrap();
    call(&s, "PutUserPermissionsBoundary", &[("UserName", "u"), ("PermissionsBoundary", VIEW_ONLY)]).unwrap();
    call(
        &s,
        "CreateRole",
        &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST), ("PermissionsBoundary", VIEW_ONLY)],
    )
    .unwrap();
    let role = call(&s, "GetRole", &[("RoleName", "r")]).unwrap();
    assert_eq!(text(&role, "PermissionsBoundaryArn"), VIEW_ONLY);
    let got = call(&s, "GetPolicy", &[("PolicyArn", VIEW_ONLY)]).unwrap();
    assert_eq!(
        (text(&got, "AttachmentCount").as_str(), text(&got, "PermissionsBoundaryUsageCount").as_str()),
        ("0", "2")
    );
    assert_eq!(text(&got, "Path"), "/job-function/");
    let listed =
        call(&s, "ListEntitiesForPolicy", &[("PolicyArn", VIEW_ONLY), ("PolicyUsageFilter", "PermissionsBoundary")])
            .unwrap();
    assert_eq!(
        (texts(&listed, "UserName"), texts(&listed, "RoleName")),
        (vec!["u".to_string()], vec!["r".to_string()])
    );
    let body = call(
        &s,
        "ListPolicies",
        &[("Scope", "AWS"), ("OnlyAttached", "true"), ("PolicyUsageFilter", "PermissionsBoundary")],
    )
    .unwrap();
    assert_eq!(texts(&body, "Arn"), [VIEW_ONLY]);
    let body = call(
        &s,
        "ListPolicies",
        &[("Scope", "AWS"), ("OnlyAttached", "true"), ("PolicyUsageFilter", "PermissionsPolicy")],
    )
    .unwrap();
    assert!(texts(&body, "Arn").is_empty(), "{body}");

    let policies = principal_policies(
        s.store.read().unwrap().as_ref(),
        ACCT,
        &CallerKind::User { name: "u".into(), path: "/".into(), user_id: String::new() },
    )
    .unwrap();
    assert_eq!(policies.boundary.unwrap().document, managed::by_arn(VIEW_ONLY).unwrap().document);

    let e = call(
        &s,
        "PutUserPermissionsBoundary",
        &[("UserName", "u"), ("PermissionsBoundary", "arn:aws:iam::aws:policy/ViewOnlyAccess")],
    )
    .unwrap_err();
    assert_eq!(e.code, "NoSuchEntity");
    assert_eq!(e.message, "Scope ARN: arn:aws:iam::aws:policy/ViewOnlyAccess does not exist or is not attachable.");
}

#[test]
fn versions_and_authorization_details_of_catalogue_policies() {
    let s = services();
    let p = managed::by_arn(LAMBDA_BASIC).unwrap();
    let got = call(&s, "GetPolicy", &[("PolicyArn", LAMBDA_BASIC)]).unwrap();
    assert_eq!(text(&got, "PolicyName"), "AWSLambdaBasicExecutionRole");
    assert_eq!(text(&got, "Path"), "/service-role/");
    assert_eq!(text(&got, "PolicyId"), p.policy_id);
    assert_eq!(text(&got, "DefaultVersionId"), p.version_id);
    let versions = call(&s, "ListPolicyVersions", &[("PolicyArn", LAMBDA_BASIC)]).unwrap();
    assert_eq!(texts(&versions, "VersionId"), [p.version_id]);
    let version = call(&s, "GetPolicyVersion", &[("PolicyArn", SECURITY_AUDIT), ("VersionId", "v92")]).unwrap();
    let doc = text(&version, "Document");
    assert!(doc.contains("iam%3AGenerateCredentialReport"), "{doc}");
    let e = call(&s, "GetPolicyVersion", &[("PolicyArn", SECURITY_AUDIT), ("VersionId", "v1")]).unwrap_err();
    assert_eq!(e.code, "NoSuchEntity");

    call(&s, "CreateRole", &[("RoleName", "r"), ("AssumeRolePolicyDocument", TRUST)]).unwrap();
    call(&s, "AttachRolePolicy", &[("RoleName", "r"), ("PolicyArn", LAMBDA_BASIC)]).unwrap();
    let details = call(&s, "GetAccountAuthorizationDetails", &[("Filter.member.1", "AWSManagedPolicy")]).unwrap();
    let names: BTreeSet<String> = texts(&details, "PolicyName").into_iter().collect();
    assert!(names.contains("AWSLambdaBasicExecutionRole"), "{details}");
    assert!(!names.contains("SecurityAudit"), "only policies in use are listed");
    assert!(texts(&details, "Path").contains(&"/service-role/".to_string()));
}
