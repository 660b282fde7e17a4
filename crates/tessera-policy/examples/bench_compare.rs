//! Side-by-side timing input/driver for scripts/bench-policy-vs-iam-simulate.sh.
//!
//! `bench_compare emit` writes the decisions (SimulateCustomPolicy inputs, one per line): a role
//! session with 10 attached policies of 10 statements and a permissions boundary, asking real
//! actions on real resource ARNs (so that iam-simulate's validation accepts them).
//! `bench_compare run FILE` times Tessera on each decision: the engine with pre-parsed policies
//! (the server's path) and the whole offline simulator (JSON in, policies parsed, JSON out).

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
        _ => Err("usage: bench_compare emit | run FILE".into()),
    }
}
