//! Random (policies, request) generation for the differential tests, benches and fuzz targets.
//! Deterministic from a seed; small vocabularies so that matches are frequent.

use serde_json::{json, Value};

use crate::{Context, Policy, PolicySet, PolicyType, Principal, PrincipalKind};

/// A small deterministic PRNG (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator (a zero seed is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next raw value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `p` percent.
    pub fn chance(&mut self, p: u32) -> bool {
        self.below(100) < p as usize
    }

    /// One element.
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The accounts used.
pub const ACCOUNTS: &[&str] = &["111122223333", "444455556666"];
/// Actions requested.
pub const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "iam:CreateUser",
    "iam:GetUser",
    "ec2:RunInstances",
    "sts:AssumeRole",
    "kms:Decrypt",
    "sts:GetCallerIdentity",
    "iam:CreatePolicyVersion",
    "iam:GetPolicy",
];
const ACTION_PATTERNS: &[&str] = &[
    "s3:GetObject",
    "s3:Get*",
    "s3:*",
    "S3:PUTOBJECT",
    "iam:*User",
    "iam:Get*",
    "ec2:Run?nstances",
    "*",
    "sts:AssumeRole",
    "kms:*",
    "s3:List*",
];
/// Resources requested.
pub const RESOURCES: &[&str] = &[
    "arn:aws:s3:::bucket/key",
    "arn:aws:s3:::bucket/home/alice/x",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::other/k",
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:ec2:us-east-1:111122223333:instance/i-1",
    "arn:aws:iam::111122223333:role/target",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
    "arn:aws:kms:us-east-1:111122223333:key/k1",
    "*",
];
const RESOURCE_PATTERNS: &[&str] = &[
    "*",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::bucket",
    "arn:aws:s3:::*",
    "arn:aws:s3:::bucket/home/${aws:username}/*",
    "arn:aws:iam::*:user/*",
    "arn:aws:ec2:*:111122223333:instance/*",
    "arn:aws:*:*:111122223333:*",
    "arn:aws:s3:::b?cket/*",
    "arn:aws:iam::111122223333:role/${aws:PrincipalTag/team, 'target'}",
];
const KEYS: &[&str] = &[
    "aws:SourceIp",
    "aws:PrincipalTag/team",
    "aws:TagKeys",
    "aws:SecureTransport",
    "s3:max-keys",
    "aws:CurrentTime",
    "aws:SourceArn",
    "aws:username",
];

/// The principals used (by index).
pub fn principals() -> Vec<Principal> {
    let mut out: Vec<Principal> = [
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:user/bob",
        "arn:aws:sts::111122223333:assumed-role/dev/s1",
        "arn:aws:iam::111122223333:root",
        "arn:aws:sts::111122223333:federated-user/fed",
        "arn:aws:iam::444455556666:user/carol",
        "arn:aws:sts::444455556666:assumed-role/ops/s2",
    ]
    .iter()
    .filter_map(|a| Principal::from_arn(a))
    .collect();
    out.push(Principal {
        arn: "ec2.amazonaws.com".into(),
        account: String::new(),
        kind: PrincipalKind::Service { name: "ec2.amazonaws.com".into() },
    });
    out.push(Principal { arn: "*".into(), account: String::new(), kind: PrincipalKind::Anonymous });
    out
}

const PRINCIPAL_VALUES: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::111122223333:assumed-role/dev/s1",
    "arn:aws:iam::111122223333:role/dev",
    "arn:aws:iam::111122223333:root",
    "111122223333",
    "444455556666",
    "arn:aws:iam::444455556666:user/carol",
    "arn:aws:iam::444455556666:role/ops",
    "arn:aws:sts::111122223333:federated-user/fed",
    "*",
];

fn one_or_many(rng: &mut Rng, xs: &[&str], max: usize) -> Value {
    let n = 1 + rng.below(max);
    let v: Vec<&str> = (0..n).map(|_| *rng.pick(xs)).collect();
    if n == 1 && rng.chance(50) {
        json!(v[0])
    } else {
        json!(v)
    }
}

fn condition(rng: &mut Rng) -> Value {
    let set = *rng.pick(&["", "", "", "ForAllValues:", "ForAnyValue:"]);
    let ifx = if rng.chance(20) { "IfExists" } else { "" };
    let key = *rng.pick(KEYS);
    let (op, vals): (&str, Value) = match rng.below(12) {
        0 => ("StringEquals", one_or_many(rng, &["blue", "red", "alice", "${aws:username}", "a"], 2)),
        1 => ("StringNotEquals", one_or_many(rng, &["blue", "red", "a"], 2)),
        2 => ("StringLike", one_or_many(rng, &["b*", "*e*", "?ed", "home/${aws:username}/*"], 2)),
        3 => ("StringNotLike", one_or_many(rng, &["b*", "r?d"], 2)),
        4 => ("StringEqualsIgnoreCase", one_or_many(rng, &["BLUE", "Red"], 2)),
        5 => ("NumericLessThan", one_or_many(rng, &["10", "5.5", "-1"], 2)),
        6 => ("NumericGreaterThanEquals", one_or_many(rng, &["10", "0"], 1)),
        7 => ("Bool", one_or_many(rng, &["true", "false"], 1)),
        8 => ("IpAddress", one_or_many(rng, &["10.0.0.0/8", "203.0.113.0/24", "2001:db8::/32"], 2)),
        9 => ("NotIpAddress", one_or_many(rng, &["10.0.0.0/8"], 1)),
        10 => ("ArnLike", one_or_many(rng, &["arn:aws:sns:*:111122223333:*", "arn:aws:s3:::b*"], 2)),
        _ => ("DateLessThan", one_or_many(rng, &["2024-01-01T00:00:00Z", "1700000000"], 1)),
    };
    if rng.chance(8) {
        return json!({"Null": {key: *rng.pick(&["true", "false"])}});
    }
    json!({ format!("{set}{op}{ifx}"): { key: vals } })
}

fn statement(rng: &mut Rng, with_principal: bool, with_resource: bool, star_principal_only: bool) -> Value {
    let mut st = serde_json::Map::new();
    if rng.chance(30) {
        st.insert("Sid".into(), json!(format!("S{}", rng.below(1000))));
    }
    st.insert("Effect".into(), json!(if rng.chance(70) { "Allow" } else { "Deny" }));
    if with_principal {
        if star_principal_only || rng.chance(15) {
            st.insert("Principal".into(), json!("*"));
        } else {
            let key = if rng.chance(20) { "NotPrincipal" } else { "Principal" };
            let v = if rng.chance(10) {
                json!({"Service": "ec2.amazonaws.com"})
            } else {
                json!({"AWS": one_or_many(rng, PRINCIPAL_VALUES, 3)})
            };
            st.insert(key.into(), v);
        }
    }
    let akey = if rng.chance(15) { "NotAction" } else { "Action" };
    st.insert(akey.into(), one_or_many(rng, ACTION_PATTERNS, 3));
    if with_resource {
        let rkey = if rng.chance(10) { "NotResource" } else { "Resource" };
        st.insert(rkey.into(), one_or_many(rng, RESOURCE_PATTERNS, 2));
    }
    if rng.chance(35) {
        let mut cond = serde_json::Map::new();
        for _ in 0..1 + rng.below(2) {
            if let Value::Object(c) = condition(rng) {
                for (k, v) in c {
                    cond.insert(k, v);
                }
            }
        }
        st.insert("Condition".into(), Value::Object(cond));
    }
    Value::Object(st)
}

/// A random policy document of type `ty` with up to `max_statements` statements.
pub fn policy_doc(rng: &mut Rng, ty: PolicyType, max_statements: usize) -> String {
    let n = 1 + rng.below(max_statements);
    let with_principal = matches!(ty, PolicyType::Resource | PolicyType::Trust | PolicyType::Rcp);
    let with_resource = ty != PolicyType::Trust;
    let sts: Vec<Value> =
        (0..n).map(|_| statement(rng, with_principal, with_resource, ty == PolicyType::Rcp)).collect();
    let version = if rng.chance(90) { "2012-10-17" } else { "2008-10-17" };
    json!({"Version": version, "Statement": sts}).to_string()
}

/// A random request context.
pub fn context(rng: &mut Rng) -> Context {
    let mut c = Context::new();
    if rng.chance(60) {
        c.insert_one("aws:SourceIp", *rng.pick(&["10.1.2.3", "203.0.113.9", "192.0.2.1", "2001:db8::1"]));
    }
    if rng.chance(50) {
        c.insert_one("aws:PrincipalTag/team", *rng.pick(&["blue", "red", "Blue", "target"]));
    }
    if rng.chance(40) {
        let n = rng.below(3);
        let tags: Vec<&str> = (0..n).map(|_| *rng.pick(&["blue", "red", "a", "bed"])).collect();
        c.insert("aws:TagKeys", tags);
    }
    if rng.chance(50) {
        c.insert_one("aws:SecureTransport", *rng.pick(&["true", "false"]));
    }
    if rng.chance(40) {
        c.insert_one("s3:max-keys", *rng.pick(&["3", "10", "12.5", "x"]));
    }
    if rng.chance(40) {
        c.insert_one("aws:CurrentTime", *rng.pick(&["2023-06-01T00:00:00Z", "2025-01-01T00:00:00Z", "1600000000"]));
    }
    if rng.chance(30) {
        c.insert_one("aws:SourceArn", *rng.pick(&["arn:aws:sns:us-east-1:111122223333:t", "arn:aws:s3:::bucket"]));
    }
    if rng.chance(60) {
        c.insert_one("aws:username", *rng.pick(&["alice", "bob"]));
    }
    c
}

/// A generated scenario: documents by role plus a request.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub identity: Vec<Policy>,
    pub boundary: Option<Policy>,
    pub session: Option<Vec<Policy>>,
    pub scps: Vec<Vec<Policy>>,
    pub rcps: Vec<Vec<Policy>>,
    pub resource: Option<Policy>,
    pub resource_is_trust: bool,
    pub principal: Principal,
    pub action: &'static str,
    pub resource_arn: &'static str,
    pub resource_account: Option<&'static str>,
    pub context: Context,
}

impl Scenario {
    /// The policy set borrowing this scenario's policies.
    pub fn set(&self) -> PolicySet<'_> {
        PolicySet {
            identity: self.identity.iter().collect(),
            boundary: self.boundary.as_ref(),
            session: self.session.as_ref().map(|s| s.iter().collect()),
            scps: self.scps.iter().map(|l| l.iter().collect()).collect(),
            rcps: self.rcps.iter().map(|l| l.iter().collect()).collect(),
            resource: self.resource.as_ref(),
            resource_is_trust: self.resource_is_trust,
        }
    }
}

fn parsed(rng: &mut Rng, ty: PolicyType, max: usize) -> Policy {
    loop {
        if let Ok(p) = crate::parse(&policy_doc(rng, ty, max), ty) {
            return p;
        }
    }
}

/// A random scenario.
pub fn scenario(rng: &mut Rng, principals: &[Principal]) -> Scenario {
    let n_id = rng.below(4);
    let identity = (0..n_id).map(|_| parsed(rng, PolicyType::Identity, 4)).collect();
    let boundary = rng.chance(30).then(|| parsed(rng, PolicyType::PermissionsBoundary, 3));
    let session = rng.chance(25).then(|| (0..1 + rng.below(2)).map(|_| parsed(rng, PolicyType::Session, 3)).collect());
    let levels = |rng: &mut Rng, ty| -> Vec<Vec<Policy>> {
        if rng.chance(70) {
            return vec![];
        }
        (0..1 + rng.below(3)).map(|_| (0..1 + rng.below(2)).map(|_| parsed(rng, ty, 2)).collect()).collect()
    };
    let scps = levels(rng, PolicyType::Scp);
    let rcps = levels(rng, PolicyType::Rcp);
    let resource_is_trust = rng.chance(20);
    let resource = rng.chance(60).then(|| {
        let ty = if resource_is_trust { PolicyType::Trust } else { PolicyType::Resource };
        parsed(rng, ty, 4)
    });
    let principal = rng.pick(principals).clone();
    let action = *rng.pick(ACTIONS);
    let resource_arn = *rng.pick(RESOURCES);
    let resource_account = match rng.below(3) {
        0 => None,
        1 => Some(ACCOUNTS[0]),
        _ => Some(ACCOUNTS[1]),
    };
    Scenario {
        identity,
        boundary,
        session,
        scps,
        rcps,
        resource,
        resource_is_trust,
        principal,
        action,
        resource_arn,
        resource_account,
        context: context(rng),
    }
}
