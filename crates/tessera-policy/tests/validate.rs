//! `tessera policy validate`: Access Analyzer-style findings.

use tessera_policy::validate::{known_actions, validate_policy, Severity};
use tessera_policy::PolicyType;

fn codes(doc: &str, ty: PolicyType) -> Vec<(Severity, String)> {
    validate_policy(doc, ty).into_iter().map(|f| (f.severity, f.code)).collect()
}

fn has(doc: &str, ty: PolicyType, sev: Severity, code: &str) -> bool {
    codes(doc, ty).iter().any(|(s, c)| *s == sev && c == code)
}

#[test]
fn clean_policy_has_no_findings() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:List*"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"StringLike":{"s3:prefix":"home/*"},"Bool":{"aws:SecureTransport":"true"}}}]}"#;
    assert_eq!(validate_policy(doc, PolicyType::Identity), vec![]);
}

#[test]
fn grammar_errors_carry_iam_messages() {
    let f = validate_policy("{", PolicyType::Identity);
    assert_eq!(
        (f[0].severity, f[0].code.as_str(), f[0].message.as_str()),
        (Severity::Error, "JSON_SYNTAX_ERROR", "Syntax errors in policy.")
    );
    let f = validate_policy(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject"}}"#,
        PolicyType::Identity,
    );
    assert_eq!(f[0].code, "MALFORMED_POLICY_DOCUMENT");
    assert_eq!(f[0].message, "Policy statement must contain resources.");
}

#[test]
fn unknown_services_actions_and_keys() {
    let t = PolicyType::Identity;
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"nosuchsvc:Get","Resource":"*"}}"#,
        t,
        Severity::Error,
        "INVALID_SERVICE_IN_ACTION"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObjekt","Resource":"*"}}"#,
        t,
        Severity::Error,
        "INVALID_ACTION"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Frobnicate*","Resource":"*"}}"#,
        t,
        Severity::Error,
        "INVALID_ACTION"
    ));
    assert!(!has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"S3:getobject","Resource":"*"}}"#,
        t,
        Severity::Error,
        "INVALID_ACTION"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:NoSuchKey":"x"}}}}"#,
        t,
        Severity::Error,
        "INVALID_GLOBAL_CONDITION_KEY"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:nosuchkey":"x"}}}}"#,
        t,
        Severity::Error,
        "INVALID_SERVICE_CONDITION_KEY"
    ));
    assert!(!has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"x","s3:ExistingObjectTag/k":"v"}}}}"#,
        t,
        Severity::Error,
        "INVALID_SERVICE_CONDITION_KEY"
    ));
}

#[test]
fn arns_values_and_never_matching_statements() {
    let t = PolicyType::Identity;
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:StartInstances","Resource":"arn:aws:ec2:us-east-1:12345:instance/i-1"}}"#,
        t,
        Severity::Error,
        "INVALID_ARN_ACCOUNT"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3"}}"#,
        t,
        Severity::Error,
        "MISSING_ARN_FIELD"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:ec2:us-east-1:111122223333:instance/i-1"}}"#,
        t,
        Severity::Warning,
        "STATEMENT_NEVER_MATCHES"
    ));
    // sts:AssumeRole acts on IAM role ARNs (seed 004's AssumeRolePolicy).
    assert!(!has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::111122223333:role/r"}}"#,
        t,
        Severity::Warning,
        "STATEMENT_NEVER_MATCHES"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"*","Resource":"*"}}"#,
        t,
        Severity::Error,
        "STATEMENT_NEVER_MATCHES"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1"}}}}"#,
        t,
        Severity::Error,
        "INVALID_CONDITION_VALUE"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:GetObject","s3:getobject"],"Resource":"*"}}"#,
        t,
        Severity::Suggestion,
        "REDUNDANT_ACTION"
    ));
}

#[test]
fn security_warnings_and_version() {
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:GetObject","Resource":"*"}}"#,
        PolicyType::Resource,
        Severity::SecurityWarning,
        "ALLOW_WITH_NOT_PRINCIPAL"
    ));
    assert!(has(
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}}"#,
        PolicyType::Identity,
        Severity::SecurityWarning,
        "PASS_ROLE_WITH_STAR_IN_RESOURCE"
    ));
    assert!(has(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        PolicyType::Identity,
        Severity::Warning,
        "MISSING_VERSION"
    ));
    let f = validate_policy(
        r#"{"Statement":{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}}"#,
        PolicyType::Identity,
    );
    assert!(f.windows(2).all(|w| w[0].severity <= w[1].severity), "findings ordered by severity");
}

#[test]
fn iam_data_table_is_loaded() {
    let known = known_actions();
    assert!(known.len() > 15_000, "{}", known.len());
    assert!(known.contains(&"s3:GetObject"));
    assert!(known.contains(&"sts:AssumeRole"));
    assert!(known.contains(&"iam:CreateUser"));
}

// IAM User Guide, "IAM JSON policy elements: Action": action names are case-insensitive, so
// `IAM:list*` names the same actions as `iam:List*`.
#[test]
fn action_patterns_match_known_actions_case_insensitively() {
    use tessera_policy::validate::known_actions_matching;
    let exact = known_actions_matching("iam:List*");
    assert!(exact.contains(&"iam:ListUsers"), "{exact:?}");
    assert_eq!(known_actions_matching("IAM:list*"), exact);
    assert_eq!(known_actions_matching("iam:ListUser?"), vec!["iam:ListUsers"]);
    assert!(known_actions_matching("nosuchservice:Do*").is_empty());
    assert!(known_actions_matching("*").len() > exact.len());
}
