//! Side-by-side timing input/driver for scripts/bench-policy-vs-iam-simulate.sh.
//!
//! `bench_compare emit` writes the decisions (SimulateCustomPolicy inputs, one per line): a role
//! session with 10 attached policies of 10 statements and a permissions boundary, asking real
//! actions on real resource ARNs (so that iam-simulate's validation accepts them).
//! `bench_compare run FILE` times Tessera on each decision: the engine with pre-parsed policies
//! (the server's path) and the whole offline simulator (JSON in, policies parsed, JSON out).
//! `bench_compare emit-generated N SEED` writes N generated SimulateCustomPolicy inputs (policies
//! from `testgen`: identity policies, boundaries, resource and trust policies with `Principal` and
//! `NotPrincipal`, SCPs, RCPs, session policies, conditions and context) for the differential run
//! against iam-simulate (scripts/diff-vs-iam-simulate.sh).

use std::time::Instant;

use serde_json::{json, Value};
use tessera_policy::*;

const ACCOUNT: &str = "111122223333";
/// (action, resource ARN template with {p} for the policy number and {k} for the item)
const ITEMS: &[(&str, &str)] = &[
    ("s3:GetObject", "arn:aws:s3:::bucket-{p}/data/{k}"),
    ("s3:PutObject", "arn:aws:s3:::bucket-{p}/upload/{k}"),
    ("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:table/table-{p}-{k}"),
    ("sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:queue-{p}-{k}"),
    ("sns:Publish", "arn:aws:sns:us-east-1:111122223333:topic-{p}-{k}"),
    ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:111122223333:secret:app-{p}-{k}"),
    ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:111122223333:function:fn-{p}-{k}"),
    ("ssm:GetParameter", "arn:aws:ssm:us-east-1:111122223333:parameter/app-{p}/{k}"),
    ("ec2:StartInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-{p}{k}"),
    ("logs:PutLogEvents", "arn:aws:logs:us-east-1:111122223333:log-group:grp-{p}:log-stream:{k}"),
];

fn arn(t: &str, p: usize, k: &str) -> String {
    t.replace("{p}", &p.to_string()).replace("{k}", k)
}

fn policy(p: usize) -> String {
    let sts: Vec<Value> = ITEMS
        .iter()
        .enumerate()
        .map(|(j, (action, tmpl))| {
            let mut st = json!({
                "Sid": format!("P{p}S{j}"),
                "Effect": if j == 9 && p % 4 == 3 { "Deny" } else { "Allow" },
                "Action": [action, format!("{}List*", &action[..action.find(':').unwrap_or(0) + 1])],
                "Resource": [arn(tmpl, p, "*"), arn(tmpl, p, "shared")],
            });
            if j.is_multiple_of(3) {
                st["Condition"] = json!({"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}, "Bool": {"aws:SecureTransport": "true"}});
            }
            st
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": sts}).to_string()
}

fn boundary() -> String {
    json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:*", "dynamodb:*", "sqs:*", "sns:*", "secretsmanager:*", "lambda:*", "ssm:*", "ec2:*", "logs:*"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}
    ]})
    .to_string()
}

fn emit() {
    let policies: Vec<String> = (0..10).map(policy).collect();
    let b = boundary();
    for i in 0..40usize {
        let p = (i * 7) % 10;
        let (action, tmpl) = ITEMS[i % ITEMS.len()];
        // Most requests are allowed by policy p; some fall outside every statement.
        let resource = if i % 5 == 4 { arn(tmpl, 99, "x") } else { arn(tmpl, p, &format!("item{i}")) };
        let input = json!({
            "PolicyInputList": policies,
            "PermissionsBoundaryPolicyInputList": [b],
            "ActionNames": [action],
            "ResourceArns": [resource],
            "ResourceOwner": format!("arn:aws:iam::{ACCOUNT}:root"),
            "CallerArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/session"),
            "ContextEntries": [
                {"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": ["us-east-1"], "ContextKeyType": "string"},
                {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["true"], "ContextKeyType": "boolean"}
            ]
        });
        println!("{input}");
    }
}

/// (action, resource ARN, resource policy kind) of the generated requests: actions paired with a
/// resource of a type they take (iam-simulate refuses other pairs).
const REQUESTS: &[(&str, &str, Option<PolicyType>)] = &[
    ("s3:GetObject", "arn:aws:s3:::bucket/key", Some(PolicyType::Resource)),
    ("s3:GetObject", "arn:aws:s3:::bucket/home/alice/x", Some(PolicyType::Resource)),
    ("s3:GetObject", "arn:aws:s3:::other/k", Some(PolicyType::Resource)),
    ("s3:PutObject", "arn:aws:s3:::bucket/key", Some(PolicyType::Resource)),
    ("s3:ListBucket", "arn:aws:s3:::bucket", Some(PolicyType::Resource)),
    ("iam:GetUser", "arn:aws:iam::111122223333:user/alice", None),
    ("iam:CreateUser", "arn:aws:iam::111122223333:user/alice", None),
    ("ec2:RunInstances", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", None),
    ("sts:AssumeRole", "arn:aws:iam::111122223333:role/target", Some(PolicyType::Trust)),
    ("kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k1", Some(PolicyType::Resource)),
    ("sts:GetCallerIdentity", "*", None),
    ("iam:GetPolicy", "arn:aws:iam::aws:policy/ReadOnlyAccess", None),
    ("iam:CreatePolicyVersion", "arn:aws:iam::aws:policy/ReadOnlyAccess", None),
];

/// Callers (`CallerArn`): users, role sessions, a role, the root user, a federated user, in two accounts.
const CALLERS: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::111122223333:user/bob",
    "arn:aws:sts::111122223333:assumed-role/dev/s1",
    "arn:aws:iam::111122223333:role/dev",
    "arn:aws:iam::111122223333:root",
    "arn:aws:sts::111122223333:federated-user/fed",
    "arn:aws:iam::444455556666:user/carol",
    "arn:aws:sts::444455556666:assumed-role/ops/s2",
];

fn docs(rng: &mut testgen::Rng, ty: PolicyType, n: usize, max_statements: usize) -> Vec<String> {
    (0..n).map(|_| valid_doc(rng, ty, max_statements)).collect()
}

/// A generated document Tessera parses as `ty`. RCPs are made to follow Organizations' RCP syntax
/// (AWS Organizations User Guide, "RCP syntax"): customer RCPs only deny, name actions (no
/// `NotAction`, no lone `*`) and use Version 2012-10-17.
fn valid_doc(rng: &mut testgen::Rng, ty: PolicyType, max_statements: usize) -> String {
    loop {
        let mut doc = testgen::policy_doc(rng, ty, max_statements);
        if ty == PolicyType::Rcp {
            doc = rcp_syntax(&doc);
        }
        if parse(&doc, ty).is_ok() {
            return doc;
        }
    }
}

fn rcp_syntax(doc: &str) -> String {
    let Ok(mut v) = serde_json::from_str::<Value>(doc) else { return doc.to_string() };
    v["Version"] = json!("2012-10-17");
    for st in v["Statement"].as_array_mut().into_iter().flatten() {
        let Some(st) = st.as_object_mut() else { continue };
        st.insert("Effect".into(), json!("Deny"));
        let actions = st.remove("NotAction").or_else(|| st.remove("Action")).unwrap_or(json!("s3:*"));
        let star_to_s3 = |a: &Value| if a == "*" { json!("s3:*") } else { a.clone() };
        let actions = match &actions {
            Value::Array(items) => Value::Array(items.iter().map(star_to_s3).collect()),
            one => star_to_s3(one),
        };
        st.insert("Action".into(), actions);
    }
    v.to_string()
}

/// The condition keys AWS puts in every request of `caller`, as the request context holds them
/// (IAM User Guide, "AWS global condition context keys"): given explicitly so that both simulators
/// see the same context (iam-simulate derives none of them). `aws:username` is present for IAM
/// users only ("IAM policy elements: Variables and tags", "Principal key values"); Tessera's
/// simulator would also derive it for a federated user, so it is left out there.
fn caller_keys(caller: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let Some(p) = simulate::simulated_principal(caller) else { return out };
    let mut ctx = Context::new();
    simulate::caller_context(&p, &mut ctx);
    for (key, name) in [
        ("aws:principalarn", "aws:PrincipalArn"),
        ("aws:principalaccount", "aws:PrincipalAccount"),
        ("aws:principaltype", "aws:PrincipalType"),
        ("aws:username", "aws:username"),
    ] {
        if key == "aws:username" && !caller.contains(":user/") {
            continue;
        }
        if let Some(values) = ctx.get(key) {
            out.push(json!({"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": "string"}));
        }
    }
    out
}

fn generated(rng: &mut testgen::Rng) -> Value {
    let (action, resource, resource_policy) = *rng.pick(REQUESTS);
    let caller = *rng.pick(CALLERS);
    let caller_account = caller.split(':').nth(4).unwrap_or(ACCOUNT);
    let owner = match resource.split(':').nth(4) {
        Some("") if rng.chance(25) => "444455556666",
        Some("") => ACCOUNT,
        Some("aws") | None => caller_account,
        Some(account) => account,
    };
    let n_identity = rng.below(4);
    let mut input = json!({
        "PolicyInputList": docs(rng, PolicyType::Identity, n_identity, 4),
        "ActionNames": [action],
        "ResourceArns": [resource],
        "ResourceOwner": owner,
        "CallerArn": caller,
    });
    if rng.chance(30) {
        input["PermissionsBoundaryPolicyInputList"] = json!(docs(rng, PolicyType::PermissionsBoundary, 1, 3));
    }
    let session_caller =
        caller.contains(":assumed-role/") || caller.contains(":role/") || caller.contains(":federated-user/");
    if session_caller && rng.chance(30) {
        input["SessionPolicyInputList"] = json!(docs(rng, PolicyType::Session, 1, 3));
    }
    if rng.chance(30) {
        let levels = 1 + rng.below(3);
        input["ServiceControlPolicyInputList"] = json!(docs(rng, PolicyType::Scp, levels, 2));
    }
    if rng.chance(30) {
        let levels = 1 + rng.below(3);
        input["ResourceControlPolicyInputList"] = json!(docs(rng, PolicyType::Rcp, levels, 2));
    }
    if let Some(ty) = resource_policy {
        if rng.chance(70) {
            input["ResourcePolicy"] = json!(valid_doc(rng, ty, 4));
        }
    }
    let mut entries = caller_keys(caller);
    let mut add = |name: &str, values: Vec<&str>, ty: &str| {
        entries.push(json!({"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": ty}));
    };
    if rng.chance(60) {
        add("aws:SourceIp", vec![*rng.pick(&["10.1.2.3", "203.0.113.9", "192.0.2.1", "2001:db8::1"])], "ip");
    }
    if rng.chance(50) {
        add("aws:PrincipalTag/team", vec![*rng.pick(&["blue", "red", "Blue", "target"])], "string");
    }
    if rng.chance(50) {
        add("aws:SecureTransport", vec![*rng.pick(&["true", "false"])], "boolean");
    }
    if rng.chance(40) {
        add("aws:CurrentTime", vec![*rng.pick(&["2023-06-01T00:00:00Z", "2025-01-01T00:00:00Z"])], "date");
    }
    if rng.chance(30) {
        add("aws:SourceArn", vec![*rng.pick(&["arn:aws:sns:us-east-1:111122223333:t", "arn:aws:s3:::bucket"])], "arn");
    }
    // Keys only some actions send: aws:TagKeys with tagging actions, s3:max-keys with ListBucket.
    if matches!(action, "iam:CreateUser" | "ec2:RunInstances") && rng.chance(50) {
        let n = rng.below(3);
        let tags: Vec<&str> = (0..n).map(|_| *rng.pick(&["blue", "red", "a", "bed"])).collect();
        add("aws:TagKeys", tags, "stringList");
    }
    if action == "s3:ListBucket" && rng.chance(50) {
        add("s3:max-keys", vec![*rng.pick(&["3", "10", "12"])], "numeric");
    }
    input["ContextEntries"] = json!(entries);
    input
}

fn emit_generated(n: usize, seed: u64) {
    let mut rng = testgen::Rng::new(seed);
    for _ in 0..n {
        println!("{}", generated(&mut rng));
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn run(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    let inputs: Vec<Value> =
        text.lines().filter(|l| !l.trim().is_empty()).map(serde_json::from_str).collect::<Result<_, _>>()?;
    let mut eval_ns = Vec::new();
    let mut sim_ns = Vec::new();
    let mut decisions = Vec::new();
    for input in &inputs {
        // Pre-parsed path.
        let docs = |k: &str| -> Vec<String> {
            input[k]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        let identity: Vec<Policy> =
            docs("PolicyInputList").iter().map(|d| parse(d, PolicyType::Identity)).collect::<Result<_, _>>()?;
        let boundary = docs("PermissionsBoundaryPolicyInputList")
            .first()
            .map(|d| parse(d, PolicyType::PermissionsBoundary))
            .transpose()?;
        let principal = Principal::from_arn(input["CallerArn"].as_str().unwrap_or_default()).ok_or("CallerArn")?;
        let mut ctx = Context::new();
        for e in input["ContextEntries"].as_array().into_iter().flatten() {
            let vals: Vec<String> = e["ContextKeyValues"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            ctx.insert(e["ContextKeyName"].as_str().unwrap_or_default(), vals);
        }
        simulate::caller_context(&principal, &mut ctx);
        let action = input["ActionNames"][0].as_str().unwrap_or_default();
        let resource = input["ResourceArns"][0].as_str().unwrap_or_default();
        let set = PolicySet { identity: identity.iter().collect(), boundary: boundary.as_ref(), ..Default::default() };
        let req = Request { principal: &principal, action, resource, resource_account: Some(ACCOUNT), context: &ctx };
        let d = evaluate(&set, &req);
        decisions.push(d.decision.as_str());
        let batch = 200;
        let mut samples = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            for _ in 0..batch {
                std::hint::black_box(evaluate(std::hint::black_box(&set), std::hint::black_box(&req)));
            }
            samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
        }
        eval_ns.push(median(samples));
        // Whole simulator path.
        let mut samples = Vec::new();
        for _ in 0..100 {
            let t = Instant::now();
            let out = simulate::simulate(std::hint::black_box(input))?;
            samples.push(t.elapsed().as_nanos() as f64);
            std::hint::black_box(out);
        }
        sim_ns.push(median(samples));
    }
    println!(
        "{}",
        json!({"decisions": decisions, "median_ns_evaluate": median(eval_ns), "median_ns_simulate_json": median(sim_ns)})
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("emit") => {
            emit();
            Ok(())
        }
        Some("run") => run(args.get(2).ok_or("usage: bench_compare run FILE")?),
        Some("emit-generated") => {
            let n = args.get(2).map_or(Ok(3000), |a| a.parse())?;
            let seed = args.get(3).map_or(Ok(1), |a| a.parse())?;
            emit_generated(n, seed);
            Ok(())
        }
        _ => Err("usage: bench_compare emit | run FILE | emit-generated [N [SEED]]".into()),
    }
}
