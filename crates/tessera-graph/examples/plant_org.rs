//! Plant an organization for the `tessera graph` benchmark (bench/graph_scale.sh) into a new
//! data dir: `cargo run -p tessera-graph --example plant_org -- DIR [ACCOUNTS USERS ROLES POLICIES]`
//! (default 10 accounts, 1,000 users, 1,000 roles, 2,000 customer managed policies, spread evenly).
//!
//! Accounts, the organization and its SCPs are made through the Organizations API in process;
//! IAM records are written straight into the store in one transaction (the API would spend its
//! time on fsyncs, which the benchmark does not measure). The mix: each user has an inline policy
//! and two managed policies of its account and is in one of ten groups; each role trusts its
//! account (70%), a principal of another account (20%) or EC2 (10%) and has two managed policies;
//! one in twenty principals has an escalation right, one in thirty is admin; one trust policy in ten
//! needs MFA and one an external id.

use std::sync::Arc;

use serde_json::{json, Value};
use tessera_services::model::{self, table, Group, ManagedPolicy, PolicyVersion, Role, User};
use tessera_services::{Call, CallMeta, Caller, Config, Dispatch, Input, ServiceName, Services, SystemClock};
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;

fn call(account: &str, op: &str) -> Call {
    Call {
        caller: Caller::root(account, "AKIAPLANT"),
        operation: op.into(),
        meta: CallMeta {
            request_id: "plant".into(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "plant".into(),
            secure_transport: true,
            now_millis: 1_700_000_000_000,
        },
    }
}

fn org(s: &Services, mgmt: &str, op: &str, input: Value) -> Value {
    let r = s.handle(ServiceName::Organizations, &call(mgmt, op), &Input::Json(input)).expect(op);
    serde_json::from_slice(&r.body).expect("json")
}

fn doc(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: plant_org DIR [ACCOUNTS USERS ROLES POLICIES]"));
    let n = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let (accounts, users, roles, policies) = (n(2, 10), n(3, 1000), n(4, 1000), n(5, 2000));
    std::fs::create_dir_all(&dir).expect("data dir");
    let store = Arc::new(SqliteStore::open(&dir.join("tessera.db")).expect("store"));
    let s = Services::new(
        store,
        SecretBox::new(&SecretBox::generate_key()),
        Arc::new(SystemClock),
        Config { endpoint: String::new() },
    );
    let mgmt = tessera_services::bootstrap::first_start(&s, &dir).expect("first start");
    org(&s, &mgmt, "CreateOrganization", json!({}));
    let root = org(&s, &mgmt, "ListRoots", json!({}))["Roots"][0]["Id"].as_str().expect("root").to_string();
    org(&s, &mgmt, "EnablePolicyType", json!({"RootId": root, "PolicyType": "SERVICE_CONTROL_POLICY"}));
    let mut ids = vec![mgmt.clone()];
    for a in 1..accounts {
        let car = org(
            &s,
            &mgmt,
            "CreateAccount",
            json!({"Email": format!("a{a}@example.com"), "AccountName": format!("a{a}")}),
        );
        let car = car["CreateAccountStatus"]["Id"].as_str().expect("car").to_string();
        let st = org(&s, &mgmt, "DescribeCreateAccountStatus", json!({"CreateAccountRequestId": car}));
        ids.push(st["CreateAccountStatus"]["AccountId"].as_str().expect("id").to_string());
    }
    let scp = doc(
        json!([{"Effect": "Deny", "Action": ["iam:CreateAccessKey", "organizations:LeaveOrganization"], "Resource": "*"}]),
    );
    let p = org(
        &s,
        &mgmt,
        "CreatePolicy",
        json!({"Content": scp, "Description": "", "Name": "guard", "Type": "SERVICE_CONTROL_POLICY"}),
    );
    let p = p["Policy"]["PolicySummary"]["Id"].as_str().expect("policy").to_string();
    for id in ids.iter().skip(1).step_by(3) {
        org(&s, &mgmt, "AttachPolicy", json!({"PolicyId": p, "TargetId": id}));
    }

    let mut w = s.store.write().expect("write");
    let (per_users, per_roles, per_policies) = (users / accounts, roles / accounts, policies / accounts);
    for (ai, acct) in ids.iter().enumerate() {
        let other = &ids[(ai + 1) % ids.len()];
        let pol_arn = |i: usize| format!("arn:aws:iam::{acct}:policy/p{i}");
        for i in 0..per_policies {
            let statements = match i % 5 {
                0 => {
                    json!([{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [format!("arn:aws:s3:::bucket-{ai}-{i}"), format!("arn:aws:s3:::bucket-{ai}-{i}/*")]}])
                }
                1 => {
                    json!([{"Effect": "Allow", "Action": ["ec2:Describe*", "iam:Get*", "iam:List*"], "Resource": "*"}])
                }
                2 => {
                    json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::{other}:role/r{}", i % per_roles.max(1))}])
                }
                3 => {
                    json!([{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}])
                }
                _ => {
                    json!([{"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": format!("arn:aws:dynamodb:us-east-1:{acct}:table/t{i}")},
                             {"Effect": "Deny", "Action": "dynamodb:DeleteTable", "Resource": "*"}])
                }
            };
            let p = ManagedPolicy {
                account: acct.clone(),
                name: format!("p{i}"),
                path: "/".into(),
                policy_id: format!("ANPA{ai:04}{i:012}"),
                description: None,
                created: 0,
                updated: 0,
                default_version_id: "v1".into(),
                versions: vec![PolicyVersion { version_id: "v1".into(), document: doc(statements), created: 0 }],
                next_version: 2,
                tags: vec![],
            };
            model::save(w.as_mut(), table::POLICY, &model::name_key(acct, &p.name), &p).expect("policy");
        }
        for g in 0..10 {
            let group = Group {
                account: acct.clone(),
                name: format!("g{g}"),
                path: "/".into(),
                group_id: format!("AGPA{ai:04}{g:012}"),
                created: 0,
                inline_policies: vec![],
                attached_policies: if g == 0 {
                    vec!["arn:aws:iam::aws:policy/AdministratorAccess".into()]
                } else {
                    vec![pol_arn(g)]
                },
            };
            model::save(w.as_mut(), table::GROUP, &model::name_key(acct, &group.name), &group).expect("group");
        }
        for i in 0..per_users {
            let inline = match i % 60 {
                0 | 30 => json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
                3 => json!([{"Effect": "Allow", "Action": ["iam:PassRole", "ec2:RunInstances"], "Resource": "*"}]),
                6 => {
                    json!([{"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": format!("arn:aws:iam::{acct}:user/*")}])
                }
                9 => {
                    json!([{"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": format!("arn:aws:iam::{acct}:user/u{i}")}])
                }
                12 => {
                    json!([{"Effect": "Allow", "Action": "iam:AddUserToGroup", "Resource": format!("arn:aws:iam::{acct}:group/*")}])
                }
                _ => {
                    json!([{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::{acct}:role/r{}", i % per_roles.max(1))}])
                }
            };
            let user = User {
                account: acct.clone(),
                name: format!("u{i}"),
                path: "/".into(),
                user_id: format!("AIDA{ai:04}{i:012}"),
                created: 0,
                tags: vec![],
                permissions_boundary: None,
                inline_policies: vec![("p".into(), doc(inline))],
                attached_policies: vec![pol_arn((i * 7) % per_policies), pol_arn((i * 13 + 1) % per_policies)],
                groups: vec![format!("g{}", 1 + i % 9)],
                login_profile: None,
                password_last_used: None,
            };
            model::save(w.as_mut(), table::USER, &model::name_key(acct, &user.name), &user).expect("user");
        }
        for i in 0..per_roles {
            let principal = match i % 10 {
                0..=6 => json!({"AWS": format!("arn:aws:iam::{acct}:root")}),
                7 | 8 => json!({"AWS": format!("arn:aws:iam::{other}:user/u{}", i % per_users.max(1))}),
                _ => json!({"Service": "ec2.amazonaws.com"}),
            };
            let mut statement = json!({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"});
            match i % 10 {
                6 => statement["Condition"] = json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
                8 => statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": format!("x{i}")}}),
                _ => {}
            }
            let trust = doc(json!([statement]));
            let mut attached = vec![pol_arn((i * 11) % per_policies), pol_arn((i * 17 + 3) % per_policies)];
            if i % 30 == 5 {
                attached.push("arn:aws:iam::aws:policy/AdministratorAccess".into());
            }
            let role = Role {
                account: acct.clone(),
                name: format!("r{i}"),
                path: "/".into(),
                role_id: format!("AROA{ai:04}{i:012}"),
                created: 0,
                assume_role_policy_document: trust,
                description: None,
                max_session_duration: 3600,
                tags: vec![],
                permissions_boundary: None,
                inline_policies: vec![],
                attached_policies: attached,
                last_used: None,
                source_role_template: None,
            };
            model::save(w.as_mut(), table::ROLE, &model::name_key(acct, &role.name), &role).expect("role");
        }
    }
    w.commit().expect("commit");
    println!("planted {accounts} accounts, {users} users, {roles} roles, {policies} policies in {}", dir.display());
}
