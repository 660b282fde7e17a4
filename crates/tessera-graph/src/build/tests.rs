//! The edge rules on small planted organizations, through the IAM and Organizations APIs.

use std::sync::Arc;

use serde_json::{json, Value};
use tessera_services::{Call, CallMeta, Caller, Dispatch, Input, ServiceName, Services};
use tessera_wire::QueryParams;

use crate::{EdgeKind, Graph};

const NOW: i64 = 1_700_000_000_000;

struct World {
    s: Services,
    mgmt: String,
    _dir: tempfile::TempDir,
}

fn call(account: &str, op: &str) -> Call {
    Call {
        caller: Caller::root(account, "AKIAROOT"),
        operation: op.into(),
        meta: CallMeta {
            request_id: "r".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "test".into(),
            secure_transport: true,
            now_millis: NOW,
        },
    }
}

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn allow(action: &str, resource: &str) -> String {
    doc(json!([{"Effect": "Allow", "Action": action, "Resource": resource}]))
}

impl World {
    fn new() -> World {
        let s = Services::in_memory(Arc::new(tessera_services::clock::ManualClock::new(NOW))).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mgmt = tessera_services::bootstrap::first_start(&s, dir.path()).unwrap();
        World { s, mgmt, _dir: dir }
    }

    fn iam(&self, account: &str, op: &str, params: &[(&str, &str)]) {
        let input = Input::Query(QueryParams::from_pairs(params.iter().map(|(k, v)| (k.to_string(), v.to_string()))));
        self.s.handle(ServiceName::Iam, &call(account, op), &input).unwrap_or_else(|e| panic!("{op}: {e:?}"));
    }

    fn org(&self, op: &str, input: Value) -> Value {
        let r = self
            .s
            .handle(ServiceName::Organizations, &call(&self.mgmt, op), &Input::Json(input))
            .unwrap_or_else(|e| panic!("{op}: {e:?}"));
        serde_json::from_slice(&r.body).unwrap()
    }

    fn user(&self, account: &str, name: &str, policy: Option<&str>) -> String {
        self.iam(account, "CreateUser", &[("UserName", name)]);
        if let Some(p) = policy {
            self.iam(account, "PutUserPolicy", &[("UserName", name), ("PolicyName", "p"), ("PolicyDocument", p)]);
        }
        format!("arn:aws:iam::{account}:user/{name}")
    }

    fn role(&self, account: &str, name: &str, trust: &str, policy: Option<&str>) -> String {
        self.iam(account, "CreateRole", &[("RoleName", name), ("AssumeRolePolicyDocument", trust)]);
        if let Some(p) = policy {
            self.iam(account, "PutRolePolicy", &[("RoleName", name), ("PolicyName", "p"), ("PolicyDocument", p)]);
        }
        format!("arn:aws:iam::{account}:role/{name}")
    }

    fn graph(&self) -> Graph {
        crate::build(&self.s, NOW).unwrap()
    }
}

fn trusting(principal: Value, condition: Option<Value>) -> String {
    let mut st = json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
    if let Some(c) = condition {
        st["Condition"] = c;
    }
    doc(json!([st]))
}

fn edge<'g>(g: &'g Graph, from: &str, to: &str, kind: EdgeKind) -> Option<&'g crate::Edge> {
    g.edges.iter().find(|e| e.from == from && e.to == to && e.kind == kind)
}

fn node<'g>(g: &'g Graph, arn: &str) -> &'g crate::Node {
    g.principals.iter().find(|n| n.arn == arn).unwrap_or_else(|| panic!("no node {arn}"))
}

const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

#[test]
fn admin_is_what_the_engine_allows_and_a_self_attach_reaches_it() {
    let w = World::new();
    let a = w.mgmt.clone();
    let admin = w.user(&a, "admin", Some(ADMIN));
    let almost = w.user(&a, "almost", Some(&doc(json!([{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]))));
    let me = w.user(&a, "me", Some(&allow("iam:AttachUserPolicy", &format!("arn:aws:iam::{a}:user/me"))));
    let g = w.graph();
    assert!(node(&g, &admin).admin && node(&g, &admin).reaches_admin);
    assert!(!node(&g, &almost).admin && !node(&g, &almost).reaches_admin, "NotAction iam:* is not * on *");
    assert!(node(&g, &format!("arn:aws:iam::{a}:root")).admin, "the management account's root");
    let e = edge(&g, &me, &me, EdgeKind::AttachPolicy).expect("self attach");
    assert_eq!(e.actions, ["iam:AttachUserPolicy"]);
    assert!(e.conditions.is_empty());
    assert!(!node(&g, &me).admin && node(&g, &me).reaches_admin);
    assert!(g.edges.iter().all(|e| e.from != admin || e.kind == EdgeKind::AssumeRole), "an admin needs no moves");
}

#[test]
fn a_boundary_blocks_the_move_and_the_ceiling() {
    let w = World::new();
    let a = w.mgmt.clone();
    let s3_only = doc(json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]));
    w.iam(&a, "CreatePolicy", &[("PolicyName", "s3only"), ("PolicyDocument", &s3_only)]);
    let boundary = format!("arn:aws:iam::{a}:policy/s3only");
    let blocked = w.user(&a, "blocked", Some(&allow("iam:*", "*")));
    w.iam(&a, "PutUserPermissionsBoundary", &[("UserName", "blocked"), ("PermissionsBoundary", &boundary)]);
    let iam_boundary = doc(json!([{"Effect": "Allow", "Action": ["iam:*", "s3:*"], "Resource": "*"}]));
    w.iam(&a, "CreatePolicy", &[("PolicyName", "iamok"), ("PolicyDocument", &iam_boundary)]);
    let capped = w.user(&a, "capped", Some(&allow("iam:PutUserPolicy", "*")));
    w.iam(
        &a,
        "PutUserPermissionsBoundary",
        &[("UserName", "capped"), ("PermissionsBoundary", &format!("arn:aws:iam::{a}:policy/iamok"))],
    );
    let g = w.graph();
    assert!(g.edges.iter().all(|e| e.from != blocked), "{:?}", g.edges);
    let e = edge(&g, &capped, &capped, EdgeKind::PutPolicy).expect("the boundary allows the move");
    assert!(!e.makes_admin, "but not admin after it");
    assert!(!node(&g, &capped).reaches_admin);
}

#[test]
fn assume_role_needs_both_sides_and_labels_mfa_and_external_id() {
    let w = World::new();
    let a = w.mgmt.clone();
    let assumer = w.user(&a, "assumer", Some(&allow("sts:AssumeRole", "*")));
    let nobody = w.user(&a, "nobody", None);
    let root = json!({"AWS": format!("arn:aws:iam::{a}:root")});
    let plain = w.role(&a, "plain", &trusting(root.clone(), None), Some(ADMIN));
    let mfa =
        w.role(&a, "mfa", &trusting(root.clone(), Some(json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}))), None);
    let ext = w.role(&a, "ext", &trusting(root, Some(json!({"StringEquals": {"sts:ExternalId": "xyz"}}))), None);
    let direct = w.role(&a, "direct", &trusting(json!({"AWS": nobody.clone()}), None), None);
    let g = w.graph();
    assert!(edge(&g, &assumer, &plain, EdgeKind::AssumeRole).unwrap().conditions.is_empty());
    assert_eq!(edge(&g, &assumer, &mfa, EdgeKind::AssumeRole).unwrap().conditions, ["aws:MultiFactorAuthPresent"]);
    assert_eq!(edge(&g, &assumer, &ext, EdgeKind::AssumeRole).unwrap().conditions, ["sts:ExternalId"]);
    assert!(edge(&g, &nobody, &plain, EdgeKind::AssumeRole).is_none(), "an account grant needs the identity side");
    assert!(edge(&g, &nobody, &direct, EdgeKind::AssumeRole).is_some(), "a direct grant does not");
    assert!(node(&g, &plain).admin && node(&g, &assumer).reaches_admin && !node(&g, &nobody).reaches_admin);
}

#[test]
fn moves_on_other_principals() {
    let w = World::new();
    let a = w.mgmt.clone();
    let admin = w.user(&a, "admin", Some(ADMIN));
    let keys = w.user(&a, "keys", Some(&allow("iam:CreateAccessKey", &admin)));
    let joiner = w.user(&a, "joiner", Some(&allow("iam:AddUserToGroup", "*")));
    w.iam(&a, "CreateGroup", &[("GroupName", "admins")]);
    w.iam(&a, "PutGroupPolicy", &[("GroupName", "admins"), ("PolicyName", "all"), ("PolicyDocument", ADMIN)]);
    w.iam(&a, "CreateGroup", &[("GroupName", "readers")]);
    let reader = w.user(&a, "reader", Some(&allow("iam:AddUserToGroup", &format!("arn:aws:iam::{a}:group/readers"))));
    let ec2 = trusting(json!({"Service": "ec2.amazonaws.com"}), None);
    let instance = w.role(&a, "instance", &ec2, Some(ADMIN));
    w.iam(&a, "CreateInstanceProfile", &[("InstanceProfileName", "ip")]);
    w.iam(&a, "AddRoleToInstanceProfile", &[("InstanceProfileName", "ip"), ("RoleName", "instance")]);
    let passer = w.user(
        &a,
        "passer",
        Some(&doc(json!([{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]))),
    );
    let half = w.user(&a, "half", Some(&allow("iam:PassRole", "*")));
    let retruster = w.user(&a, "retruster", Some(&allow("iam:UpdateAssumeRolePolicy", &instance)));
    let pwd = w.user(&a, "pwd", Some(&allow("iam:*LoginProfile", &admin)));
    let weak = w.role(&a, "weak", &trusting(json!({"AWS": format!("arn:aws:iam::{a}:root")}), None), None);
    let tinkerer = w.user(
        &a,
        "tinkerer",
        Some(&doc(json!([{"Effect": "Allow", "Action": ["sts:AssumeRole", "iam:PutRolePolicy"], "Resource": weak}]))),
    );
    let g = w.graph();
    let e = edge(&g, &pwd, &admin, EdgeKind::LoginProfile).expect("login-profile");
    assert_eq!(e.actions, ["iam:CreateLoginProfile"], "the admin has no password yet");
    assert!(edge(&g, &tinkerer, &weak, EdgeKind::AssumeRole).is_some());
    let e = edge(&g, &tinkerer, &weak, EdgeKind::PutPolicy).expect("a role it can assume");
    assert!(e.makes_admin && node(&g, &tinkerer).reaches_admin && !node(&g, &weak).reaches_admin);
    assert!(edge(&g, &keys, &admin, EdgeKind::AccessKey).is_some());
    assert!(edge(&g, &keys, &joiner, EdgeKind::AccessKey).is_none(), "the policy names one user");
    assert!(edge(&g, &joiner, &joiner, EdgeKind::Group).unwrap().makes_admin);
    let e = edge(&g, &reader, &reader, EdgeKind::Group).expect("joins readers");
    assert!(!e.makes_admin && !node(&g, &reader).reaches_admin, "readers have no permissions");
    let e = edge(&g, &passer, &instance, EdgeKind::Passrole).expect("passrole");
    assert_eq!(e.actions, ["ec2:RunInstances", "iam:PassRole"]);
    assert!(edge(&g, &half, &instance, EdgeKind::Passrole).is_none(), "nothing to launch with");
    let e = edge(&g, &retruster, &instance, EdgeKind::TrustPolicy).expect("trust-policy");
    assert_eq!(e.actions, ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"]);
    for arn in [&keys, &joiner, &passer, &retruster] {
        assert!(node(&g, arn).reaches_admin, "{arn}");
    }
    assert!(!node(&g, &half).reaches_admin);
}

#[test]
fn an_scp_limits_member_accounts_and_cross_account_chains() {
    let w = World::new();
    let mgmt = w.mgmt.clone();
    w.org("CreateOrganization", json!({}));
    let root = w.org("ListRoots", json!({}))["Roots"][0]["Id"].as_str().unwrap().to_string();
    w.org("EnablePolicyType", json!({"RootId": root, "PolicyType": "SERVICE_CONTROL_POLICY"}));
    let mut members = Vec::new();
    for name in ["a", "b"] {
        let car = w.org("CreateAccount", json!({"Email": format!("{name}@example.com"), "AccountName": name}));
        let id = car["CreateAccountStatus"]["Id"].as_str().unwrap().to_string();
        let st = w.org("DescribeCreateAccountStatus", json!({"CreateAccountRequestId": id}));
        members.push(st["CreateAccountStatus"]["AccountId"].as_str().unwrap().to_string());
    }
    let deny_iam = doc(json!([{"Effect": "Deny", "Action": "iam:AttachUserPolicy", "Resource": "*"}]));
    let p = w.org(
        "CreatePolicy",
        json!({"Content": deny_iam, "Description": "", "Name": "no-attach", "Type": "SERVICE_CONTROL_POLICY"}),
    );
    let p = p["Policy"]["PolicySummary"]["Id"].as_str().unwrap().to_string();
    w.org("AttachPolicy", json!({"PolicyId": p, "TargetId": members[1]}));
    let ops = w.user(&mgmt, "ops", Some(&allow("sts:AssumeRole", "*")));
    let oaar = |m: &str| format!("arn:aws:iam::{m}:role/OrganizationAccountAccessRole");
    let self_attach = |m: &str| allow("iam:AttachUserPolicy", &format!("arn:aws:iam::{m}:user/dev"));
    let dev_a = w.user(&members[0], "dev", Some(&self_attach(&members[0])));
    let dev_b = w.user(&members[1], "dev", Some(&self_attach(&members[1])));
    let g = w.graph();
    assert!(edge(&g, &ops, &oaar(&members[0]), EdgeKind::AssumeRole).is_some(), "across accounts");
    assert!(node(&g, &oaar(&members[0])).admin && node(&g, &ops).reaches_admin);
    assert!(!node(&g, &oaar(&members[1])).admin, "the SCP denies an action of * on *");
    assert!(edge(&g, &dev_a, &dev_a, EdgeKind::AttachPolicy).is_some());
    assert!(edge(&g, &dev_b, &dev_b, EdgeKind::AttachPolicy).is_none(), "the SCP denies the move");
    assert!(node(&g, &format!("arn:aws:iam::{}:root", members[0])).admin);
    assert!(!node(&g, &format!("arn:aws:iam::{}:root", members[1])).admin, "a member root under an SCP");
    let mut only = g.clone();
    only.only_account(&members[0]);
    assert!(only.principals.iter().all(|n| n.arn.contains(&members[0])));
    assert!(!only.principals.is_empty() && only.edges.iter().all(|e| e.from.contains(&members[0])));
}

#[test]
fn reach_asks_identity_policies_and_the_resource_policy_with_their_conditions() {
    let w = World::new();
    let a = w.mgmt.clone();
    let reader = w.user(&a, "reader", Some(&allow("s3:GetObject", "arn:aws:s3:::b/*")));
    let named = w.user(&a, "named", None);
    let _nobody = w.user(&a, "nobody", Some(&allow("s3:GetObject", "arn:aws:s3:::other/*")));
    let bucket_policy = doc(json!([{"Effect": "Allow", "Principal": {"AWS": named.clone()}, "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::b", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]));
    let policy = tessera_policy::parse(&bucket_policy, tessera_policy::PolicyType::Resource).unwrap();
    let questions = [("s3:GetObject", "arn:aws:s3:::b/*".to_string()), ("s3:ListBucket", "arn:aws:s3:::b".to_string())];
    let mut reach = crate::Reach::new(&w.s, NOW, &std::collections::BTreeSet::from([a.clone()])).unwrap();
    let found = reach.who(&crate::Target { account: &a, policy: Some(&policy), questions: &questions }).unwrap();
    let of = |arn: &str| found.iter().find(|x| x.principal == arn);
    assert_eq!(of(&reader).map(|x| x.actions.clone()), Some(vec!["s3:GetObject".to_string()]));
    let n = of(&named).expect("the bucket policy names it");
    assert_eq!(n.actions, vec!["s3:ListBucket".to_string()]);
    assert_eq!(n.conditions.get("aws:MultiFactorAuthPresent").map(String::as_str), Some("true"));
    assert!(!n.is_role && n.account == a);
    assert!(of(&format!("arn:aws:iam::{a}:user/nobody")).is_none());
}
