//! Offline `SimulateCustomPolicy` (`tessera policy simulate`).
//!
//! Input: the request of IAM's `SimulateCustomPolicy` with AWS's field names (`PolicyInputList`,
//! `PermissionsBoundaryPolicyInputList`, `ActionNames`, `ResourceArns`, `ResourcePolicy`,
//! `ResourceOwner`, `CallerArn`, `ContextEntries`), plus `ServiceControlPolicyInputList`,
//! `ResourceControlPolicyInputList` and `SessionPolicyInputList`. Output: the JSON of the
//! response (`EvaluationResults`, `IsTruncated`).
//!
//! Choices where AWS is silent (see docs/POLICY_ENGINE.md): `CallerArn` defaults to
//! `arn:aws:iam::123456789012:user/SimulatedUser` (or a user in `ResourceOwner`'s account);
//! `ResourceArns` defaults to `["*"]`; each SCP/RCP list entry is one level (every entry must
//! allow); `ResourceOwner` (an account id or `arn:aws:iam::ACCOUNT:root`) defaults to the
//! caller's account; a `ResourcePolicy` without `Resource` elements, simulated for an
//! `sts:AssumeRole*` action, is evaluated as the role's trust policy.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};

use serde_json::{json, Map, Value};

use crate::{evaluate, parse, Context, EvalDecision, Policy, PolicySet, PolicyType, Principal, PrincipalKind, Request};

/// An error answered instead of a result: AWS's error code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulateError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for SimulateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SimulateError {}

impl SimulateError {
    fn invalid(msg: impl Into<String>) -> Self {
        SimulateError { code: "InvalidInput".into(), message: msg.into() }
    }

    /// The error as JSON (`{"Error":{"Code":..,"Message":..}}`).
    pub fn to_json(&self) -> Value {
        json!({"Error": {"Code": self.code, "Message": self.message}})
    }
}

fn str_list(input: &Value, key: &str) -> Result<Vec<String>, SimulateError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| SimulateError::invalid(format!("{key} must hold strings")))
            })
            .collect(),
        Some(_) => Err(SimulateError::invalid(format!("{key} must be a list of strings"))),
    }
}

fn opt_str<'a>(input: &'a Value, key: &str) -> Result<Option<&'a str>, SimulateError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SimulateError::invalid(format!("{key} must be a string"))),
    }
}

/// Statement spans per policy label, for `StartPosition` / `EndPosition`, computed on first use.
type Spans = Vec<(crate::json::Position, crate::json::Position)>;

fn spans_for<'a>(
    cache: &'a mut std::collections::HashMap<String, Spans>,
    labelled: &[(String, String)],
    label: &str,
) -> &'a Spans {
    cache.entry(label.to_string()).or_insert_with(|| {
        labelled.iter().find(|(l, _)| l == label).map(|(_, d)| crate::json::statement_spans(d)).unwrap_or_default()
    })
}

/// Compiled policies by (type, document), reused across the inputs of one `--jsonl` stream.
#[derive(Debug, Default)]
pub struct PolicyCache {
    map: std::collections::HashMap<PolicyType, std::collections::HashMap<String, Policy>>,
    len: usize,
}

impl PolicyCache {
    /// The most documents kept; the cache is emptied when it would grow past this.
    pub const MAX_ENTRIES: usize = 4096;

    fn get(&mut self, doc: &str, ty: PolicyType) -> Result<Policy, SimulateError> {
        if let Some(p) = self.map.get(&ty).and_then(|m| m.get(doc)) {
            return Ok(p.clone());
        }
        let p =
            parse(doc, ty).map_err(|e| SimulateError { code: "MalformedPolicyDocument".into(), message: e.message })?;
        if self.len >= Self::MAX_ENTRIES {
            self.map.clear();
            self.len = 0;
        }
        self.map.entry(ty).or_default().insert(doc.to_string(), p.clone());
        self.len += 1;
        Ok(p)
    }
}

fn parse_list(
    cache: &mut PolicyCache,
    docs: &[String],
    ty: PolicyType,
    name: &str,
) -> Result<Vec<Policy>, SimulateError> {
    docs.iter().enumerate().map(|(i, d)| cache.get(d, ty).map(|p| p.with_label(format!("{name}.{}", i + 1)))).collect()
}

fn account_of(owner: &str) -> String {
    if let Some(rest) = owner.strip_prefix("arn:") {
        rest.split(':').nth(3).unwrap_or("").to_string()
    } else {
        owner.to_string()
    }
}

/// The session name a role `CallerArn` is simulated with.
pub const SIMULATED_SESSION_NAME: &str = "SimulatedSession";

/// The principal a `CallerArn` names: any ARN [`Principal::from_arn`] takes, or a role
/// (`arn:aws:iam::ACCOUNT:role/PATH/NAME`), evaluated as a session of that role named
/// [`SIMULATED_SESSION_NAME`], so that `Principal` entries naming the role match it as they match
/// the role's sessions (shared/CONTRACT.md, "Policy evaluation offline").
pub fn simulated_principal(caller_arn: &str) -> Option<Principal> {
    if let Some(p) = Principal::from_arn(caller_arn) {
        return Some(p);
    }
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    let [arn, partition, "iam", "", account, resource] = parts[..] else { return None };
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next().filter(|n| !n.is_empty())?;
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if arn != "arn" || partition.is_empty() || !account_ok {
        return None;
    }
    Some(Principal {
        arn: format!("arn:{partition}:sts::{account}:assumed-role/{name}/{SIMULATED_SESSION_NAME}"),
        account: account.to_string(),
        kind: PrincipalKind::AssumedRole { role_arn: caller_arn.to_string() },
    })
}

/// The condition keys IAM derives from the caller (overridden by `ContextEntries`).
pub fn caller_context(p: &Principal, ctx: &mut Context) {
    ctx.insert_default("aws:PrincipalArn", principal_arn_key(p));
    if !p.account.is_empty() {
        ctx.insert_default("aws:PrincipalAccount", p.account.clone());
    }
    let ty = match &p.kind {
        PrincipalKind::Root => Some("Account"),
        PrincipalKind::User => Some("User"),
        PrincipalKind::AssumedRole { .. } => Some("AssumedRole"),
        PrincipalKind::FederatedUser => Some("FederatedUser"),
        PrincipalKind::Anonymous => Some("Anonymous"),
        _ => None,
    };
    if let Some(t) = ty {
        ctx.insert_default("aws:PrincipalType", t);
    }
    if p.kind == PrincipalKind::User {
        if let Some(name) = p.arn.rsplit('/').next() {
            ctx.insert_default("aws:username", name);
        }
    }
    if p.kind == PrincipalKind::FederatedUser {
        if let Some(name) = p.arn.rsplit('/').next() {
            ctx.insert_default("aws:username", name);
        }
    }
}

/// `aws:PrincipalArn` is the role ARN for role sessions.
fn principal_arn_key(p: &Principal) -> String {
    match &p.kind {
        PrincipalKind::AssumedRole { role_arn } => role_arn.clone(),
        _ => p.arn.clone(),
    }
}

fn context_entries(input: &Value, ctx: &mut Context) -> Result<(), SimulateError> {
    let Some(entries) = input.get("ContextEntries") else { return Ok(()) };
    let Some(entries) = entries.as_array() else {
        return Err(SimulateError::invalid("ContextEntries must be a list"));
    };
    for e in entries {
        let name = e
            .get("ContextKeyName")
            .and_then(Value::as_str)
            .ok_or_else(|| SimulateError::invalid("ContextKeyName is required"))?;
        let values: Vec<String> = match e.get("ContextKeyValues") {
            Some(Value::Array(vs)) => vs
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect(),
            None => Vec::new(),
            Some(_) => return Err(SimulateError::invalid("ContextKeyValues must be a list")),
        };
        ctx.insert(name, values);
    }
    Ok(())
}

fn resource_policy_is_trust(doc: &str) -> bool {
    match serde_json::from_str::<Value>(doc) {
        Ok(v) => {
            let sts: Vec<&Value> = match v.get("Statement") {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(o @ Value::Object(_)) => vec![o],
                _ => return false,
            };
            sts.iter().all(|s| s.get("Resource").is_none() && s.get("NotResource").is_none())
        }
        Err(_) => false,
    }
}

/// Evaluate a `SimulateCustomPolicy` request, answering AWS's error code and message on failure.
pub fn simulate(input: &Value) -> Result<Value, SimulateError> {
    simulate_cached(input, &mut PolicyCache::default())
}

/// [`simulate`] reusing compiled policies from `cache`.
pub fn simulate_cached(input: &Value, cache: &mut PolicyCache) -> Result<Value, SimulateError> {
    if !input.is_object() {
        return Err(SimulateError::invalid("input must be a JSON object"));
    }
    let identity = parse_list(cache, &str_list(input, "PolicyInputList")?, PolicyType::Identity, "PolicyInputList")?;
    let boundaries = parse_list(
        cache,
        &str_list(input, "PermissionsBoundaryPolicyInputList")?,
        PolicyType::PermissionsBoundary,
        "PermissionsBoundaryPolicyInputList",
    )?;
    let scps = parse_list(
        cache,
        &str_list(input, "ServiceControlPolicyInputList")?,
        PolicyType::Scp,
        "ServiceControlPolicyInputList",
    )?;
    let rcps = parse_list(
        cache,
        &str_list(input, "ResourceControlPolicyInputList")?,
        PolicyType::Rcp,
        "ResourceControlPolicyInputList",
    )?;
    let session_docs = str_list(input, "SessionPolicyInputList")?;
    let sessions = parse_list(cache, &session_docs, PolicyType::Session, "SessionPolicyInputList")?;
    let mut labelled: Vec<(String, String)> = Vec::new();
    for key in [
        "PolicyInputList",
        "PermissionsBoundaryPolicyInputList",
        "ServiceControlPolicyInputList",
        "ResourceControlPolicyInputList",
        "SessionPolicyInputList",
    ] {
        for (i, d) in str_list(input, key)?.into_iter().enumerate() {
            labelled.push((format!("{key}.{}", i + 1), d));
        }
    }
    if let Some(d) = opt_str(input, "ResourcePolicy")? {
        labelled.push(("ResourcePolicy".into(), d.to_string()));
    }
    let mut spans: std::collections::HashMap<String, Spans> = std::collections::HashMap::new();
    let actions = str_list(input, "ActionNames")?;
    if actions.is_empty() {
        return Err(SimulateError::invalid("ActionNames is required"));
    }
    let mut resources = str_list(input, "ResourceArns")?;
    if resources.is_empty() {
        resources.push("*".into());
    }
    let owner = opt_str(input, "ResourceOwner")?.map(account_of);
    let caller_arn = match opt_str(input, "CallerArn")? {
        Some(a) => a.to_string(),
        None => format!("arn:aws:iam::{}:user/SimulatedUser", owner.as_deref().unwrap_or("123456789012")),
    };
    let principal = simulated_principal(&caller_arn)
        .ok_or_else(|| SimulateError::invalid(format!("Invalid CallerArn: {caller_arn}")))?;
    let mut ctx = Context::new();
    context_entries(input, &mut ctx)?;
    caller_context(&principal, &mut ctx);
    let resource_doc = opt_str(input, "ResourcePolicy")?;

    let mut results = Vec::new();
    for action in &actions {
        let is_assume = action.to_ascii_lowercase().starts_with("sts:assumerole");
        let trust = is_assume && resource_doc.is_some_and(resource_policy_is_trust);
        let resource_policy = match resource_doc {
            Some(d) => Some(
                cache
                    .get(d, if trust { PolicyType::Trust } else { PolicyType::Resource })?
                    .with_label("ResourcePolicy"),
            ),
            None => None,
        };
        for resource in &resources {
            let set = PolicySet {
                identity: identity.iter().collect(),
                boundary: boundaries.first(),
                session: if sessions.is_empty() { None } else { Some(sessions.iter().collect()) },
                scps: scps.iter().map(|p| vec![p]).collect(),
                rcps: rcps.iter().map(|p| vec![p]).collect(),
                resource: resource_policy.as_ref(),
                resource_is_trust: trust,
            };
            // Additional boundaries (AWS accepts one) are treated as further levels: all must allow.
            let req =
                Request { principal: &principal, action, resource, resource_account: owner.as_deref(), context: &ctx };
            let mut d = evaluate(&set, &req);
            if d.decision == EvalDecision::Allowed && boundaries.len() > 1 {
                for b in &boundaries[1..] {
                    let set2 = PolicySet { boundary: Some(b), ..set.clone() };
                    let d2 = evaluate(&set2, &req);
                    if !d2.is_allowed() {
                        d = d2;
                        break;
                    }
                }
            }
            let wanted = match d.decision {
                EvalDecision::Allowed => Some(crate::Effect::Allow),
                EvalDecision::ExplicitDeny => Some(crate::Effect::Deny),
                EvalDecision::ImplicitDeny => None,
            };
            let matched: Vec<Value> = d
                .matched
                .iter()
                .filter(|m| Some(m.effect) == wanted)
                .map(|m| {
                    let mut v = json!({
                        "SourcePolicyId": &*m.policy_label,
                        "SourcePolicyType": m.policy_type.source_policy_type(),
                        "StatementIndex": m.statement_index,
                        "Sid": m.sid.as_deref(),
                        "Effect": m.effect.as_str(),
                    });
                    if let Some((a, b)) = spans_for(&mut spans, &labelled, &m.policy_label).get(m.statement_index) {
                        v["StartPosition"] = json!({"Line": a.line, "Column": a.column});
                        v["EndPosition"] = json!({"Line": b.line, "Column": b.column});
                    }
                    v
                })
                .collect();
            let mut missing = BTreeSet::new();
            let all: Vec<&Policy> = identity
                .iter()
                .chain(boundaries.iter())
                .chain(scps.iter())
                .chain(rcps.iter())
                .chain(sessions.iter())
                .chain(resource_policy.iter())
                .collect();
            for p in all {
                for st in p.statements() {
                    for c in &st.conditions {
                        if !ctx.contains(&c.key) {
                            missing.insert(c.key.clone());
                        }
                    }
                }
            }
            let mut r = Map::new();
            r.insert("EvalActionName".into(), json!(action));
            r.insert("EvalResourceName".into(), json!(resource));
            r.insert("EvalDecision".into(), json!(d.decision.as_str()));
            r.insert("MatchedStatements".into(), Value::Array(matched));
            r.insert("MissingContextValues".into(), json!(missing.into_iter().collect::<Vec<_>>()));
            if let Some(by) = d.decided_by {
                if !d.is_allowed() {
                    r.insert("DenyReason".into(), json!(d.reason(action)));
                }
                r.insert("DecidedBy".into(), json!(by.phrase()));
            }
            if !scps.is_empty() {
                let ok = d.decided_by != Some(PolicyType::Scp) || d.is_allowed();
                r.insert("OrganizationsDecisionDetail".into(), json!({"AllowedByOrganizations": ok}));
            }
            if !boundaries.is_empty() {
                let ok = d.decided_by != Some(PolicyType::PermissionsBoundary) || d.is_allowed();
                r.insert("PermissionsBoundaryDecisionDetail".into(), json!({"AllowedByPermissionsBoundary": ok}));
            }
            if resource_policy.is_some() {
                let mut details = Map::new();
                details.insert(resource.clone(), json!(d.decision.as_str()));
                r.insert("EvalDecisionDetails".into(), Value::Object(details));
            }
            results.push(Value::Object(r));
        }
    }
    Ok(json!({"EvaluationResults": results, "IsTruncated": false}))
}

/// Evaluate a `SimulateCustomPolicy` request; the error is `"Code: message"`.
pub fn simulate_custom_policy(input: &Value) -> Result<Value, String> {
    simulate(input).map_err(|e| format!("{}: {}", e.code, e.message))
}

fn one(line: &str, cache: &mut PolicyCache) -> (Value, bool) {
    match serde_json::from_str::<Value>(line) {
        Ok(v) => match simulate_cached(&v, cache) {
            Ok(out) => (out, true),
            Err(e) => (e.to_json(), false),
        },
        Err(e) => (SimulateError::invalid(format!("input is not valid JSON: {e}")).to_json(), false),
    }
}

/// `tessera policy simulate [--jsonl]`: read one input (or, with `jsonl`, one input per line),
/// write one output per input (one line each with `jsonl`, pretty otherwise). Exit code 0 when
/// every input succeeded, 1 otherwise (errors are written as `{"Error":{...}}`).
pub fn run_cli(input: impl Read, mut output: impl Write, jsonl: bool) -> std::io::Result<i32> {
    let mut code = 0;
    let mut cache = PolicyCache::default();
    if jsonl {
        let reader = BufReader::new(input);
        for line in reader.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let (v, ok) = one(&line, &mut cache);
            if !ok {
                code = 1;
            }
            serde_json::to_writer(&mut output, &v)?;
            output.write_all(b"\n")?;
        }
    } else {
        let mut s = String::new();
        let mut input = input;
        input.read_to_string(&mut s)?;
        let (v, ok) = one(&s, &mut cache);
        if !ok {
            code = 1;
        }
        serde_json::to_writer_pretty(&mut output, &v)?;
        output.write_all(b"\n")?;
    }
    output.flush()?;
    Ok(code)
}
