//! `tessera policy simulate`: SimulateCustomPolicy's request in, its response out (shared/CONTRACT.md,
//! "Policy evaluation offline"; IAM API Reference, SimulateCustomPolicy).

use serde_json::{json, Value};
use tessera_policy::simulate::{run_cli, simulate, simulate_custom_policy};

const ALLOW_GET: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Get","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}]}"#;

fn results(v: &Value) -> &Vec<Value> {
    v["EvaluationResults"].as_array().unwrap()
}

#[test]
fn allowed_with_matched_statement() {
    let out = simulate(&json!({
        "PolicyInputList": [ALLOW_GET],
        "ActionNames": ["s3:GetObject", "s3:PutObject"],
        "ResourceArns": ["arn:aws:s3:::bucket/key"],
        "CallerArn": "arn:aws:iam::111122223333:user/alice"
    }))
    .unwrap();
    let r = results(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["EvalActionName"], "s3:GetObject");
    assert_eq!(r[0]["EvalResourceName"], "arn:aws:s3:::bucket/key");
    assert_eq!(r[0]["EvalDecision"], "allowed");
    assert_eq!(r[0]["MatchedStatements"][0]["SourcePolicyId"], "PolicyInputList.1");
    assert_eq!(r[0]["MatchedStatements"][0]["SourcePolicyType"], "IAM Policy");
    assert_eq!(r[0]["MatchedStatements"][0]["Sid"], "Get");
    assert_eq!(r[0]["MatchedStatements"][0]["StartPosition"], json!({"Line": 1, "Column": 38}));
    assert_eq!(r[0]["MatchedStatements"][0]["EndPosition"], json!({"Line": 1, "Column": 127}));
    assert_eq!(r[1]["EvalDecision"], "implicitDeny");
    assert_eq!(r[1]["MatchedStatements"], json!([]));
    assert_eq!(r[1]["DenyReason"], "because no identity-based policy allows the s3:PutObject action");
    assert_eq!(out["IsTruncated"], false);
}

#[test]
fn resource_star_is_literal() {
    let out =
        simulate(&json!({"PolicyInputList": [ALLOW_GET], "ActionNames": ["s3:GetObject"], "ResourceArns": ["*"]}))
            .unwrap();
    assert_eq!(results(&out)[0]["EvalDecision"], "implicitDeny");
    let out = simulate(&json!({"PolicyInputList": [ALLOW_GET], "ActionNames": ["s3:GetObject"]})).unwrap();
    assert_eq!(results(&out)[0]["EvalResourceName"], "*");
}

#[test]
fn explicit_deny_lists_the_deny() {
    let deny = r#"{"Version":"2012-10-17","Statement":{"Sid":"No","Effect":"Deny","Action":"s3:*","Resource":"*"}}"#;
    let out = simulate(&json!({"PolicyInputList": [ALLOW_GET, deny], "ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::bucket/k"]})).unwrap();
    let r = &results(&out)[0];
    assert_eq!(r["EvalDecision"], "explicitDeny");
    assert_eq!(r["MatchedStatements"].as_array().unwrap().len(), 1);
    assert_eq!(r["MatchedStatements"][0]["SourcePolicyId"], "PolicyInputList.2");
    assert_eq!(r["MatchedStatements"][0]["Effect"], "Deny");
}

#[test]
fn context_entries_and_missing_context_values() {
    let cond = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"},"StringEquals":{"aws:PrincipalTag/team":"blue"}}}}"#;
    let base =
        json!({"PolicyInputList": [cond], "ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::b/k"]});
    let out = simulate(&base).unwrap();
    assert_eq!(results(&out)[0]["EvalDecision"], "implicitDeny");
    assert_eq!(results(&out)[0]["MissingContextValues"], json!(["aws:PrincipalTag/team", "aws:SourceIp"]));
    let mut with = base.clone();
    with["ContextEntries"] = json!([
        {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["203.0.113.7"], "ContextKeyType": "ip"},
        {"ContextKeyName": "aws:PrincipalTag/team", "ContextKeyValues": ["blue"], "ContextKeyType": "string"}
    ]);
    let out = simulate(&with).unwrap();
    assert_eq!(results(&out)[0]["EvalDecision"], "allowed");
    assert_eq!(results(&out)[0]["MissingContextValues"], json!([]));
}

#[test]
fn caller_arn_derives_username_but_context_entries_win() {
    let home = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}}"#;
    let q = |ctx: Value| {
        let out = simulate(&json!({"PolicyInputList": [home], "ActionNames": ["s3:GetObject"],
            "ResourceArns": ["arn:aws:s3:::b/home/alice/x"], "CallerArn": "arn:aws:iam::111122223333:user/alice",
            "ContextEntries": ctx}))
        .unwrap();
        results(&out)[0]["EvalDecision"].as_str().unwrap().to_string()
    };
    assert_eq!(q(json!([])), "allowed");
    assert_eq!(
        q(json!([{"ContextKeyName": "aws:username", "ContextKeyValues": ["bob"], "ContextKeyType": "string"}])),
        "implicitDeny"
    );
}

#[test]
fn boundary_scp_rcp_session_and_resource_policy() {
    let all = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    let ec2 = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}"#;
    let base = json!({"PolicyInputList": [all], "ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::b/k"],
        "CallerArn": "arn:aws:sts::111122223333:assumed-role/dev/s"});
    let with = |k: &str, v: Value| {
        let mut x = base.clone();
        x[k] = v;
        let out = simulate(&x).unwrap();
        results(&out)[0].clone()
    };
    let r = with("PermissionsBoundaryPolicyInputList", json!([ec2]));
    assert_eq!(r["EvalDecision"], "implicitDeny");
    assert_eq!(r["PermissionsBoundaryDecisionDetail"]["AllowedByPermissionsBoundary"], false);
    let r = with("ServiceControlPolicyInputList", json!([ec2]));
    assert_eq!(r["EvalDecision"], "implicitDeny");
    assert_eq!(r["OrganizationsDecisionDetail"]["AllowedByOrganizations"], false);
    assert_eq!(r["DenyReason"], "because no service control policy allows the s3:GetObject action");
    let r = with("SessionPolicyInputList", json!([ec2]));
    assert_eq!(r["DenyReason"], "because no session policy allows the s3:GetObject action");
    let rcp =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
    let r = with("ResourceControlPolicyInputList", json!([rcp]));
    assert_eq!(r["EvalDecision"], "explicitDeny");
    let rp = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}}"#;
    let r = with("ResourcePolicy", json!(rp));
    assert_eq!(r["EvalDecision"], "explicitDeny");
    assert_eq!(r["EvalDecisionDetails"]["arn:aws:s3:::b/k"], "explicitDeny");
}

#[test]
fn cross_account_needs_resource_policy() {
    let all = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#;
    let rp = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject","Resource":"*"}}"#;
    let base = json!({"PolicyInputList": [all], "ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::b/k"],
        "CallerArn": "arn:aws:iam::444455556666:user/carol", "ResourceOwner": "arn:aws:iam::111122223333:root"});
    assert_eq!(results(&simulate(&base).unwrap())[0]["EvalDecision"], "implicitDeny");
    let mut x = base.clone();
    x["ResourcePolicy"] = json!(rp);
    assert_eq!(results(&simulate(&x).unwrap())[0]["EvalDecision"], "allowed");
}

#[test]
fn trust_policy_for_assume_role() {
    let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"sts:AssumeRole"}}"#;
    let out =
        simulate(&json!({"ActionNames": ["sts:AssumeRole"], "ResourceArns": ["arn:aws:iam::111122223333:role/r"],
        "ResourcePolicy": trust, "CallerArn": "arn:aws:iam::111122223333:user/alice"}))
        .unwrap();
    assert_eq!(results(&out)[0]["EvalDecision"], "allowed");
    assert_eq!(results(&out)[0]["MatchedStatements"][0]["SourcePolicyType"], "Resource Policy");
}

#[test]
fn errors() {
    let e = simulate(&json!({"PolicyInputList": ["{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3\",\"Resource\":\"*\"}}"], "ActionNames": ["s3:GetObject"]})).unwrap_err();
    assert_eq!(e.code, "MalformedPolicyDocument");
    assert_eq!(e.message, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.");
    let e = simulate(&json!({"PolicyInputList": [ALLOW_GET]})).unwrap_err();
    assert_eq!(e.code, "InvalidInput");
    let e = simulate_custom_policy(
        &json!({"PolicyInputList": [ALLOW_GET], "ActionNames": ["s3:GetObject"], "CallerArn": "nope"}),
    )
    .unwrap_err();
    assert!(e.starts_with("InvalidInput: "), "{e}");
}

#[test]
fn cli_single_and_jsonl() {
    let input = json!({"PolicyInputList": [ALLOW_GET], "ActionNames": ["s3:GetObject"], "ResourceArns": ["arn:aws:s3:::bucket/k"]}).to_string();
    let mut out = Vec::new();
    assert_eq!(run_cli(input.as_bytes(), &mut out, false).unwrap(), 0);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(results(&v)[0]["EvalDecision"], "allowed");

    let lines = format!("{input}\n\n{{not json\n{input}\n");
    let mut out = Vec::new();
    assert_eq!(run_cli(lines.as_bytes(), &mut out, true).unwrap(), 1);
    let text = String::from_utf8(out).unwrap();
    let outs: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(outs.len(), 3);
    assert_eq!(results(&outs[0])[0]["EvalDecision"], "allowed");
    assert_eq!(outs[1]["Error"]["Code"], "InvalidInput");
    assert_eq!(results(&outs[2])[0]["EvalDecision"], "allowed");
}

const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn decision(input: Value) -> String {
    let out = simulate(&input).unwrap_or_else(|e| panic!("{e} for {input}"));
    results(&out)[0]["EvalDecision"].as_str().unwrap().to_string()
}

/// shared/CONTRACT.md: `CallerArn` may name a role, evaluated as a session of that role, with
/// the role's ARN matching `Principal` entries that name the role.
#[test]
fn a_role_caller_is_a_session_of_that_role() {
    let role = "arn:aws:iam::111122223333:role/team/Deployer";
    let bucket_policy = |principal: &str| {
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":principal},
            "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]})
        .to_string()
    };
    // Named by the role's ARN: a role grant, still limited by the boundary.
    let boundary =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;
    let base = json!({"ActionNames":["s3:GetObject"],"ResourceArns":["arn:aws:s3:::b/k"],"CallerArn":role,
        "ResourcePolicy":bucket_policy(role)});
    assert_eq!(decision(base.clone()), "allowed");
    let mut bounded = base.clone();
    bounded["PermissionsBoundaryPolicyInputList"] = json!([boundary]);
    assert_eq!(decision(bounded), "implicitDeny");
    // The role's own identity policy applies; aws:PrincipalArn is the role's ARN.
    let cond = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetRole","Resource":"*",
        "Condition":{"ArnEquals":{"aws:PrincipalArn":role}}}]})
    .to_string();
    assert_eq!(decision(json!({"PolicyInputList":[cond],"ActionNames":["iam:GetRole"],"CallerArn":role})), "allowed");
    // A role ARN of another kind of resource or a malformed account is still refused.
    let e = simulate(&json!({"ActionNames":["s3:GetObject"],"CallerArn":"arn:aws:iam::1111:role/R"})).unwrap_err();
    assert_eq!(e.code, "InvalidInput");
}

/// STS API Reference, GetCallerIdentity: no permission needed, an explicit deny does not block it.
#[test]
fn get_caller_identity_is_allowed_whatever_the_policies_say() {
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
    let d = decision(json!({"PolicyInputList":[deny],"ActionNames":["sts:GetCallerIdentity"],
        "CallerArn":"arn:aws:iam::111122223333:user/alice"}));
    assert_eq!(d, "allowed");
    let d = decision(json!({"ActionNames":["sts:GetCallerIdentity"],"SessionPolicyInputList":[deny],
        "CallerArn":"arn:aws:sts::111122223333:assumed-role/R/s"}));
    assert_eq!(d, "allowed");
}

/// IAM User Guide, "AWS managed policies": customers cannot change them; reading needs only an
/// identity policy. The server refuses the same (tests/e2e/test_one_decider.py).
#[test]
fn aws_managed_policies_cannot_be_changed_by_any_customer_policy() {
    let p = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let input = |action: &str| {
        json!({"PolicyInputList":[ALLOW_ALL],"ActionNames":[action],"ResourceArns":[p],
            "CallerArn":"arn:aws:iam::111122223333:user/admin"})
    };
    assert_eq!(decision(input("iam:CreatePolicyVersion")), "implicitDeny");
    assert_eq!(decision(input("iam:DeletePolicy")), "implicitDeny");
    assert_eq!(decision(input("iam:GetPolicy")), "allowed");
    let slr = "arn:aws:iam::111122223333:role/aws-service-role/x.amazonaws.com/AWSServiceRoleForX";
    let d = decision(json!({"PolicyInputList":[ALLOW_ALL],"ActionNames":["iam:UpdateAssumeRolePolicy"],
        "ResourceArns":[slr],"CallerArn":"arn:aws:iam::111122223333:user/admin"}));
    assert_eq!(d, "implicitDeny");
}

/// AWS KMS Developer Guide, "Key policies in AWS KMS": a key is usable only if its key policy
/// allows, directly or by delegating to the account's IAM policies.
#[test]
fn a_key_policy_must_allow_even_inside_the_account() {
    let key = "arn:aws:kms:us-east-1:111122223333:key/k1";
    let key_policy = |principal: &str| {
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":principal},
            "Action":"kms:*","Resource":"*"}]})
        .to_string()
    };
    let input = |policy: String, identity: Vec<&str>| {
        json!({"PolicyInputList":identity,"ActionNames":["kms:Decrypt"],"ResourceArns":[key],
            "ResourcePolicy":policy,"CallerArn":"arn:aws:iam::111122223333:user/alice"})
    };
    // Naming someone else: the identity policy alone does not suffice.
    assert_eq!(decision(input(key_policy("arn:aws:iam::111122223333:user/bob"), vec![ALLOW_ALL])), "implicitDeny");
    // Delegating to the account: the identity policy decides.
    assert_eq!(decision(input(key_policy("arn:aws:iam::111122223333:root"), vec![ALLOW_ALL])), "allowed");
    assert_eq!(decision(input(key_policy("arn:aws:iam::111122223333:root"), vec![])), "implicitDeny");
    // Naming the caller: allowed with no identity policy.
    assert_eq!(decision(input(key_policy("arn:aws:iam::111122223333:user/alice"), vec![])), "allowed");
}

/// AWS Organizations, "RCP syntax": RCPFullAWSAccess sits on every level, so an RCP level that does
/// not mention the action does not deny it; an SCP level must allow.
#[test]
fn rcp_lists_only_deny_scp_lists_must_allow() {
    let sqs_only =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:*","Resource":"*"}]}"#;
    let input = json!({"PolicyInputList":[ALLOW_ALL],"ActionNames":["s3:GetObject"],
        "ResourceControlPolicyInputList":[sqs_only],"CallerArn":"arn:aws:iam::111122223333:user/alice"});
    assert_eq!(decision(input), "allowed");
    let scp = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#;
    let input = json!({"PolicyInputList":[ALLOW_ALL],"ActionNames":["s3:GetObject"],
        "ServiceControlPolicyInputList":[scp],"CallerArn":"arn:aws:iam::111122223333:user/alice"});
    assert_eq!(decision(input), "implicitDeny");
}

/// A session ARN carries no role path: `aws:PrincipalArn` in `ContextEntries` supplies it, so a
/// `Principal` naming the role with its path matches the session, as on the server.
#[test]
fn a_session_of_a_role_with_a_path_takes_the_path_from_aws_principal_arn() {
    let role = "arn:aws:iam::111122223333:role/team/r";
    let input = |entries: Value| {
        json!({"ActionNames":["s3:GetObject"],"ResourceArns":["arn:aws:s3:::b/k"],
            "CallerArn":"arn:aws:sts::111122223333:assumed-role/r/s1","ContextEntries":entries,
            "ResourcePolicy": json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":role},
                "Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}).to_string()})
    };
    assert_eq!(decision(input(json!([]))), "implicitDeny");
    let with_path = json!([{"ContextKeyName":"aws:PrincipalArn","ContextKeyValues":[role],"ContextKeyType":"string"}]);
    assert_eq!(decision(input(with_path)), "allowed");
    // A role of another name does not lend its path.
    let other = json!([{"ContextKeyName":"aws:PrincipalArn","ContextKeyValues":["arn:aws:iam::111122223333:role/team/x"],
        "ContextKeyType":"string"}]);
    assert_eq!(decision(input(other)), "implicitDeny");
}
