//! Policy checks: `ValidatePolicy` (Tessera's linter, `tessera policy validate`, in Access
//! Analyzer's finding shape) and the custom policy checks `CheckNoPublicAccess`,
//! `CheckAccessNotGranted` and `CheckNoNewAccess`, each decided by the policy engine.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use tessera_policy::validate::{known_actions_matching, validate_policy};
use tessera_policy::{Context, PolicySet, PolicyType, Request};
use tessera_services::account::input::{invalid_field, Fields, Rule};
use tessera_services::{Call, Services};
use tessera_wire::AwsError;

use crate::analysis::{self, NoStore, Probe, Resource};
use crate::{authorize, page};

/// The account a policy checked on its own is taken to belong to.
const CHECKED_ACCOUNT: &str = "111111111111";

/// A policy document member (1 to 131,072 characters, as `AccessCheckPolicyDocument`).
const DOCUMENT: Rule = Rule { min: 1, max: 131_072, pattern: None };

/// `ValidatePolicy`: the linter's findings with `learnMoreLink` and `locations` (path and span
/// in the document), a page of `maxResults`.
pub fn validate(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let doc = f.string(input, "policyDocument", true, DOCUMENT);
    let ty = f.one_of(
        input,
        "policyType",
        &["IDENTITY_POLICY", "RESOURCE_POLICY", "SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"],
    );
    let resource_type = input.get("validatePolicyResourceType").and_then(Value::as_str);
    f.finish()?;
    let (Some(doc), Some(ty)) = (doc, ty) else { return Err(AwsError::internal()) };
    authorize(services, call, "*")?;
    let ty = match (ty, resource_type) {
        ("RESOURCE_POLICY", Some("AWS::IAM::AssumeRolePolicyDocument")) => PolicyType::Trust,
        ("RESOURCE_POLICY", _) => PolicyType::Resource,
        ("SERVICE_CONTROL_POLICY", _) => PolicyType::Scp,
        ("RESOURCE_CONTROL_POLICY", _) => PolicyType::Rcp,
        _ => PolicyType::Identity,
    };
    let (max, start) = page(input)?;
    let all: Vec<Value> = validate_policy(doc, ty)
        .into_iter()
        .map(|finding| {
            let severity = finding.severity.as_str();
            json!({
                "findingDetails": finding.message,
                "findingType": severity,
                "issueCode": finding.code,
                "learnMoreLink": format!(
                    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html#access-analyzer-reference-policy-checks-{}-{}",
                    severity.to_ascii_lowercase().replace('_', "-"),
                    finding.code.to_ascii_lowercase().replace('_', "-"),
                ),
                "locations": [location(doc, &finding.location)],
            })
        })
        .collect();
    Ok(crate::paged("findings", all, max, start))
}

/// A linter location (`Statement[0].Action[1]`, `Version`, empty for the document) as a
/// `Location`: its path elements and the span of that element in the document.
fn location(doc: &str, path: &str) -> Value {
    let mut elements = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            elements.push(PathStep::Key(key.to_string()));
        }
        for idx in rest.split('[').filter_map(|i| i.trim_end_matches(']').parse::<usize>().ok()) {
            elements.push(PathStep::Index(idx));
        }
    }
    let (start, end) = span(doc, &elements).unwrap_or((0, doc.len()));
    json!({
        "path": elements.iter().map(|e| match e {
            PathStep::Key(k) => json!({"key": k}),
            PathStep::Index(i) => json!({"index": i}),
        }).collect::<Vec<_>>(),
        "span": {"start": position(doc, start), "end": position(doc, end)},
    })
}

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// Line (1-based), column (0-based) and offset of a byte offset.
fn position(doc: &str, offset: usize) -> Value {
    let before = doc.get(..offset).unwrap_or(doc);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count());
    json!({"line": line, "column": column, "offset": before.chars().count()})
}

/// The byte span of the value at `path` in `doc`, following the JSON text (a `Statement`
/// object stands for index 0, as the linter counts it).
fn span(doc: &str, path: &[PathStep]) -> Option<(usize, usize)> {
    let b = doc.as_bytes();
    let mut pos = skip_ws(b, 0);
    for step in path {
        match (step, b.get(pos)?) {
            (PathStep::Key(k), b'{') => pos = member(b, pos, k)?,
            (PathStep::Index(i), b'[') => pos = element(b, pos, *i)?,
            (PathStep::Index(0), _) => {}
            _ => return None,
        }
    }
    Some((pos, end_of_value(b, pos)?))
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos).is_some_and(|c| c.is_ascii_whitespace()) {
        pos += 1;
    }
    pos
}

/// The end (exclusive) of the JSON value starting at `pos`.
fn end_of_value(b: &[u8], pos: usize) -> Option<usize> {
    match b.get(pos)? {
        b'"' => {
            let mut i = pos + 1;
            while *b.get(i)? != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            Some(i + 1)
        }
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                match *b.get(i)? {
                    b'"' => {
                        i = end_of_value(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = pos;
            while b.get(i).is_some_and(|c| !matches!(c, b',' | b'}' | b']') && !c.is_ascii_whitespace()) {
                i += 1;
            }
            Some(i)
        }
    }
}

/// The start of member `key`'s value in the object at `pos`.
fn member(b: &[u8], pos: usize, key: &str) -> Option<usize> {
    let mut i = skip_ws(b, pos + 1);
    while *b.get(i)? == b'"' {
        let key_end = end_of_value(b, i)?;
        let name: String = serde_json::from_slice(b.get(i..key_end)?).ok()?;
        let colon = skip_ws(b, key_end);
        let value = skip_ws(b, colon + 1);
        if name == key {
            return Some(value);
        }
        i = skip_ws(b, skip_ws(b, end_of_value(b, value)?) + 1);
    }
    None
}

/// The start of element `index` of the array at `pos`.
fn element(b: &[u8], pos: usize, index: usize) -> Option<usize> {
    let mut i = skip_ws(b, pos + 1);
    for _ in 0..index {
        i = skip_ws(b, skip_ws(b, end_of_value(b, i)?) + 1);
    }
    (*b.get(i)? != b']').then_some(i)
}

/// The policy document member `name`, which must parse as JSON.
fn document<'a>(input: &'a Value, name: &str) -> Result<(&'a str, Value), AwsError> {
    let mut f = Fields::default();
    let doc = f.string(input, name, true, DOCUMENT);
    f.finish()?;
    let doc = doc.ok_or_else(AwsError::internal)?;
    let v = serde_json::from_str::<Value>(doc)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| invalid_field(name, "The policy document is not valid JSON"))?;
    Ok((doc, v))
}

fn result(fail: bool, message: &str, reasons: Vec<Value>) -> Value {
    json!({
        "result": if fail { "FAIL" } else { "PASS" },
        "message": if fail { message.to_string() } else { "The policy document passes the check.".to_string() },
        "reasons": reasons,
    })
}

fn reason(description: &str, index: usize, statements: &[Value]) -> Value {
    let mut r = json!({"description": description, "statementIndex": index});
    if let Some(sid) = statements.get(index).and_then(|s| s.get("Sid")).and_then(Value::as_str) {
        r["statementId"] = json!(sid);
    }
    r
}

/// `CheckNoPublicAccess` for the resource types Tessera serves (`AWS::S3::Bucket`,
/// `AWS::IAM::AssumeRolePolicyDocument`): FAIL when the engine lets a caller from an unknown
/// account (or an unauthenticated one) in.
pub fn check_no_public_access(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (doc, v) = document(input, "policyDocument")?;
    let mut f = Fields::default();
    let resource_type = f.string(input, "resourceType", true, Rule { min: 1, max: 64, pattern: None });
    f.finish()?;
    let resource_type = resource_type.ok_or_else(AwsError::internal)?;
    authorize(services, call, "*")?;
    let statements = analysis::statements(&v);
    let (ty, arn, kind) = match resource_type {
        "AWS::IAM::AssumeRolePolicyDocument" => {
            (PolicyType::Trust, format!("arn:aws:iam::{CHECKED_ACCOUNT}:role/checked"), analysis::ROLE)
        }
        "AWS::S3::Bucket" => {
            let named = statements
                .iter()
                .flat_map(|s| s.get("Resource").map(analysis::strings).unwrap_or_default())
                .find_map(|r| r.strip_prefix("arn:aws:s3:::").map(|b| b.split('/').next().unwrap_or("").to_string()))
                .filter(|b| !b.is_empty() && !b.contains(['*', '?']));
            (PolicyType::Resource, format!("arn:aws:s3:::{}", named.unwrap_or_else(|| "checked".into())), analysis::BUCKET)
        }
        other => {
            return Err(AwsError::new(
                501,
                "NotImplemented",
                format!("access-analyzer:CheckNoPublicAccess for resource type {other} is not implemented by Tessera (it serves AWS::S3::Bucket and AWS::IAM::AssumeRolePolicyDocument)"),
            ))
        }
    };
    let zone = BTreeSet::from([CHECKED_ACCOUNT.to_string()]);
    let resource = Resource { arn: &arn, owner: CHECKED_ACCOUNT, resource_type: kind };
    let public: BTreeSet<usize> = analysis::policy_findings(&NoStore, &zone, None, &resource, doc, ty)
        .into_iter()
        .filter(|c| c.is_public)
        .flat_map(|c| c.statements)
        .collect();
    let reasons = public.iter().map(|i| reason("Public access granted in the following statement", *i, &statements));
    Ok(result(!public.is_empty(), "The resource policy grants public access.", reasons.collect()))
}

/// The policy type of a custom check (`IDENTITY_POLICY` or `RESOURCE_POLICY`).
fn check_type(input: &Value) -> Result<PolicyType, AwsError> {
    let mut f = Fields::default();
    let ty = f.one_of(input, "policyType", &["IDENTITY_POLICY", "RESOURCE_POLICY"]);
    f.finish()?;
    Ok(if ty == Some("RESOURCE_POLICY") { PolicyType::Resource } else { PolicyType::Identity })
}

/// Who asks when a policy is checked on its own: for an identity policy a user of the
/// checked account; for a resource policy every principal it names and the public.
fn askers(ty: PolicyType, statements: &[Value]) -> Vec<Probe> {
    if ty == PolicyType::Identity {
        let p = analysis::root(CHECKED_ACCOUNT);
        let context = analysis::identity_context(&p, Context::new());
        return vec![Probe { shown: BTreeMap::new(), principal: p, context, is_public: false }];
    }
    let mut all = analysis::probes(&NoStore, &BTreeSet::new(), None, statements);
    all.extend(analysis::probes(&NoStore, &BTreeSet::new(), None, &[json!({"Effect": "Allow", "Principal": "*"})]));
    all
}

/// The statements of `doc` (relaxed: conditions on caller keys count as met) that allow
/// `action` on `resource` to one of `askers`, or `None` when none does.
fn allowing(
    policy: &tessera_policy::Policy,
    ty: PolicyType,
    askers: &[Probe],
    action: &str,
    resource: &str,
) -> Option<BTreeSet<usize>> {
    let allow_all = tessera_policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyType::Identity,
    )
    .ok()?;
    for probe in askers {
        let set = if ty == PolicyType::Identity {
            PolicySet { identity: vec![policy], ..Default::default() }
        } else {
            PolicySet {
                identity: if probe.principal.has_identity_side() { vec![&allow_all] } else { Vec::new() },
                resource: Some(policy),
                ..Default::default()
            }
        };
        let owner = if ty == PolicyType::Identity { None } else { Some(CHECKED_ACCOUNT) };
        let req =
            Request { principal: &probe.principal, action, resource, resource_account: owner, context: &probe.context };
        let d = tessera_policy::evaluate(&set, &req);
        if d.is_allowed() {
            return Some(d.matched.iter().filter(|m| m.policy_type == ty).map(|m| m.statement_index).collect());
        }
    }
    None
}

/// A policy relaxed for checking (conditions on caller keys taken out), parsed.
fn relaxed(v: &Value, ty: PolicyType, name: &str) -> Result<tessera_policy::Policy, AwsError> {
    let (doc, _) = analysis::relax(v);
    tessera_policy::parse(&doc.to_string(), ty).map_err(|e| invalid_field(name, &e.message))
}

/// The resources to ask about: those given, else every `Resource` the policies name and `*`.
fn resources_of(given: &[String], policies: &[&Value]) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    let mut out = BTreeSet::from(["*".to_string()]);
    for p in policies {
        for s in analysis::statements(p) {
            out.extend(s.get("Resource").map(analysis::strings).unwrap_or_default());
        }
    }
    out.into_iter().collect()
}

/// The concrete actions an `Action` list stands for (wildcards expanded over the known actions).
fn actions_of(policies: &[&Value]) -> Vec<String> {
    let mut patterns = BTreeSet::new();
    for p in policies {
        for s in analysis::statements(p) {
            patterns.extend(s.get("Action").map(analysis::strings).unwrap_or_default());
        }
    }
    let mut out = BTreeSet::new();
    for pat in patterns {
        if pat.contains(['*', '?']) {
            out.extend(known_actions_matching(&pat).into_iter().map(str::to_string));
        } else {
            out.insert(pat);
        }
    }
    out.into_iter().collect()
}

/// `CheckAccessNotGranted`: FAIL when the policy allows any of the listed actions on any of
/// the listed resources (on any resource it names, when none are listed).
pub fn check_access_not_granted(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (_, v) = document(input, "policyDocument")?;
    let ty = check_type(input)?;
    let Some(Value::Array(access)) = input.get("access") else {
        return Err(invalid_field("access", "Member must not be null"));
    };
    if access.is_empty() || access.len() > 1 {
        return Err(invalid_field("access", "Member must have length between 1 and 1, inclusive"));
    }
    let listed = |a: &Value, name: &str| a.get(name).map(analysis::strings).unwrap_or_default();
    let (actions, resources) = (listed(&access[0], "actions"), listed(&access[0], "resources"));
    if actions.is_empty() && resources.is_empty() {
        return Err(invalid_field("access", "Specify at least one action or resource"));
    }
    authorize(services, call, "*")?;
    let policy = relaxed(&v, ty, "policyDocument")?;
    let statements = analysis::statements(&v);
    let askers = askers(ty, &statements);
    let actions = if actions.is_empty() { actions_of(&[&v]) } else { actions };
    let mut granted = BTreeSet::new();
    for action in &actions {
        for res in resources_of(&resources, &[&v]) {
            if let Some(s) = allowing(&policy, ty, &askers, action, &res) {
                granted.extend(s);
            }
        }
    }
    let reasons = granted
        .iter()
        .map(|i| reason("One of the listed actions or resources in the statement is granted", *i, &statements));
    Ok(result(
        !granted.is_empty(),
        "The policy document grants access to perform one or more of the listed actions or resources.",
        reasons.collect(),
    ))
}

/// `CheckNoNewAccess`: FAIL when the new policy allows some action on some resource (to some
/// principal, for resource policies) that the existing one does not.
pub fn check_no_new_access(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (_, new) = document(input, "newPolicyDocument")?;
    let (_, old) = document(input, "existingPolicyDocument")?;
    let ty = check_type(input)?;
    authorize(services, call, "*")?;
    let new_policy = relaxed(&new, ty, "newPolicyDocument")?;
    let old_policy = relaxed(&old, ty, "existingPolicyDocument")?;
    let statements = analysis::statements(&new);
    let mut all_statements = statements.clone();
    all_statements.extend(analysis::statements(&old));
    let askers = askers(ty, &all_statements);
    let mut added = BTreeSet::new();
    for action in actions_of(&[&new]) {
        for res in resources_of(&[], &[&new, &old]) {
            for probe in &askers {
                let one = std::slice::from_ref(probe);
                if let Some(s) = allowing(&new_policy, ty, one, &action, &res) {
                    if allowing(&old_policy, ty, one, &action, &res).is_none() {
                        added.extend(s);
                    }
                }
            }
        }
    }
    let reasons = added.iter().map(|i| reason("New access in the statement", *i, &statements));
    Ok(result(
        !added.is_empty(),
        "The modified permissions grant new access compared to your existing policy.",
        reasons.collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // CheckNoNewAccess and CheckAccessNotGranted expand the policy's wildcards over the known
    // actions as IAM matches actions: case-insensitively, so `IAM:create*` is new access too.
    #[test]
    fn wildcard_actions_expand_whatever_their_case() {
        let policy =
            json!({"Statement": [{"Effect": "Allow", "Action": ["IAM:create*", "s3:GetObject"], "Resource": "*"}]});
        let actions = actions_of(&[&policy]);
        assert!(actions.iter().any(|a| a == "iam:CreateUser"), "{actions:?}");
        assert!(actions.iter().any(|a| a == "s3:GetObject"));
        assert!(!actions.iter().any(|a| a.starts_with("iam:Delete")));
    }

    #[test]
    fn spans_follow_the_path() {
        let doc = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": [\"s3:GetObject\", \"s3:Bogus\"]}]\n}";
        let v = location(doc, "Statement[0].Action[1]");
        let start = v["span"]["start"]["offset"].as_u64().unwrap() as usize;
        let end = v["span"]["end"]["offset"].as_u64().unwrap() as usize;
        assert_eq!(&doc[start..end], "\"s3:Bogus\"");
        assert_eq!(v["span"]["start"]["line"], 3);
        assert_eq!(v["path"], json!([{"key": "Statement"}, {"index": 0}, {"key": "Action"}, {"index": 1}]));
        let v = location(doc, "Version");
        let start = v["span"]["start"]["offset"].as_u64().unwrap() as usize;
        assert_eq!(&doc[start..start + 12], "\"2012-10-17\"");
    }
}
