//! Decision-time benchmarks (divan). Run: `cargo bench -p tessera-policy --bench eval`.
//! Results and method: docs/BENCHMARKS.md, section "Policy engine".

use tessera_policy::*;

fn main() {
    divan::main();
}

const SERVICES: &[&str] = &["ec2", "dynamodb", "sqs", "sns", "kms", "lambda", "logs", "ssm", "glue", "athena"];
const VERBS: &[&str] = &["Get", "Put", "List", "Describe", "Create", "Delete", "Update", "Tag", "Untag", "Start"];

/// Policy `i` of 10 statements, realistic mix: literal and wildcard actions, ARNs, some conditions.
fn policy_doc(i: usize) -> String {
    let mut sts = Vec::new();
    for j in 0..10 {
        let svc = SERVICES[(i + j) % SERVICES.len()];
        let verb = VERBS[j % VERBS.len()];
        let mut st = serde_json::json!({
            "Sid": format!("P{i}S{j}"),
            "Effect": if j == 9 && i.is_multiple_of(3) { "Deny" } else { "Allow" },
            "Action": [format!("{svc}:{verb}Thing{i}"), format!("{svc}:{verb}*Item{j}")],
            "Resource": [format!("arn:aws:{svc}:us-east-1:111122223333:thing/p{i}/*"), format!("arn:aws:{svc}:*:111122223333:item-{j}")],
        });
        if j.is_multiple_of(4) {
            st["Condition"] = serde_json::json!({"StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}, "Bool": {"aws:SecureTransport": "true"}});
        }
        sts.push(st);
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": sts}).to_string()
}

struct Fixture {
    identity: Vec<Policy>,
    boundary: Policy,
    trust: Policy,
    principal: Principal,
    context: Context,
}

fn fixture(n: usize) -> Fixture {
    let identity: Vec<Policy> =
        (0..n).map(|i| parse(&policy_doc(i), PolicyType::Identity).unwrap().with_label(format!("policy{i}"))).collect();
    let boundary = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","ec2:*","dynamodb:*","sqs:*","sns:*","kms:*","lambda:*","logs:*","ssm:*","glue:*","athena:*","sts:AssumeRole"],"Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}"#,
        PolicyType::PermissionsBoundary,
    )
    .unwrap();
    let trust = parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/app"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"x-123"}}},{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        PolicyType::Trust,
    )
    .unwrap();
    let principal = Principal::from_arn("arn:aws:sts::111122223333:assumed-role/app/session").unwrap();
    let mut context = Context::new();
    context.insert_one("aws:RequestedRegion", "us-east-1");
    context.insert_one("aws:SecureTransport", "true");
    context.insert_one("aws:SourceIp", "203.0.113.7");
    context.insert_one("sts:ExternalId", "x-123");
    context.insert_one("aws:PrincipalArn", "arn:aws:iam::111122223333:role/app");
    Fixture { identity, boundary, trust, principal, context }
}

/// A role with 10 attached policies of 10 statements, a boundary, and its trust policy as the
/// resource policy: a role-chaining AssumeRole decision consults all of them.
#[divan::bench]
fn role_10x10_trust_boundary_assume_role(b: divan::Bencher) {
    let f = fixture(10);
    let mut identity: Vec<&Policy> = f.identity.iter().collect();
    let extra = parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/*"}}"#, PolicyType::Identity).unwrap();
    identity.push(&extra);
    let set = PolicySet {
        identity,
        boundary: Some(&f.boundary),
        resource: Some(&f.trust),
        resource_is_trust: true,
        ..Default::default()
    };
    let req = Request {
        principal: &f.principal,
        action: "sts:AssumeRole",
        resource: "arn:aws:iam::111122223333:role/target",
        resource_account: None,
        context: &f.context,
    };
    assert!(evaluate(&set, &req).is_allowed());
    b.bench_local(|| divan::black_box(evaluate(divan::black_box(&set), divan::black_box(&req))));
}

/// The same role making an S3 call allowed by its last policy (identity + boundary + trust loaded).
#[divan::bench]
fn role_10x10_trust_boundary_s3(b: divan::Bencher) {
    let f = fixture(10);
    let set = PolicySet { identity: f.identity.iter().collect(), boundary: Some(&f.boundary), ..Default::default() };
    let req = Request {
        principal: &f.principal,
        action: &format!("{}:GetThing9", SERVICES[9]),
        resource: &format!("arn:aws:{}:us-east-1:111122223333:thing/p9/x", SERVICES[9]),
        resource_account: None,
        context: &f.context,
    };
    assert!(evaluate(&set, &req).is_allowed());
    b.bench_local(|| divan::black_box(evaluate(divan::black_box(&set), divan::black_box(&req))));
}

/// An implicit deny: every statement of the 10x10 role is consulted, none matches.
#[divan::bench]
fn role_10x10_implicit_deny(b: divan::Bencher) {
    let f = fixture(10);
    let set = PolicySet { identity: f.identity.iter().collect(), boundary: Some(&f.boundary), ..Default::default() };
    let req = Request {
        principal: &f.principal,
        action: "s3:GetObject",
        resource: "arn:aws:s3:::bucket/key",
        resource_account: None,
        context: &f.context,
    };
    assert!(!evaluate(&set, &req).is_allowed());
    b.bench_local(|| divan::black_box(evaluate(divan::black_box(&set), divan::black_box(&req))));
}

/// A principal with 100 policies of 10 statements (1,000 statements).
#[divan::bench]
fn principal_100_policies(b: divan::Bencher) {
    let f = fixture(100);
    let set = PolicySet { identity: f.identity.iter().collect(), ..Default::default() };
    let req = Request {
        principal: &f.principal,
        action: &format!("{}:GetThing99", SERVICES[9]),
        resource: &format!("arn:aws:{}:us-east-1:111122223333:thing/p99/x", SERVICES[9]),
        resource_account: None,
        context: &f.context,
    };
    assert!(evaluate(&set, &req).is_allowed());
    b.bench_local(|| divan::black_box(evaluate(divan::black_box(&set), divan::black_box(&req))));
}

/// Parse + compile one 10-statement policy.
#[divan::bench]
fn parse_10_statement_policy(b: divan::Bencher) {
    let doc = policy_doc(3);
    b.bench_local(|| divan::black_box(parse(divan::black_box(&doc), PolicyType::Identity).is_ok()));
}

/// Generated differential scenarios through the fast evaluator (policies pre-parsed).
#[divan::bench]
fn generated_scenarios(b: divan::Bencher) {
    let principals = testgen::principals();
    let scenarios: Vec<_> = (0..256).map(|s| testgen::scenario(&mut testgen::Rng::new(s), &principals)).collect();
    let mut i = 0usize;
    b.bench_local(|| {
        let s = &scenarios[i % scenarios.len()];
        i += 1;
        let req = Request {
            principal: &s.principal,
            action: s.action,
            resource: s.resource_arn,
            resource_account: s.resource_account,
            context: &s.context,
        };
        divan::black_box(evaluate(&s.set(), &req))
    });
}
