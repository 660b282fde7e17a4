//! Table-driven cases from AWS documentation pages: `tests/cases/*.json`.
//!
//! Each file has a `page` (the documentation page the cases transcribe) and `cases`. A case is one of:
//! - an evaluation: `principal`, `action`, `resource`, optional `resource_account`, `context`,
//!   `identity`, `boundary`, `session`, `scps`, `rcps`, `resource_policy` or `trust`, and
//!   `expect` (`allowed` / `explicitDeny` / `implicitDeny`), optional `decided_by` and `reason`;
//! - a statement check: `statement` (defaults: Effect Allow, Action `*`, Resource `*`), optional
//!   `version`, request fields, and `matches` (bool);
//! - a parse check: `parse` (a document, as a JSON value or a raw string), `type`, and `error`
//!   (the exact MalformedPolicyDocument message, or null when the document is valid);
//! - a size check: `size_of` (document string), `quota`, `fits` (bool).
//!
//! Every case may override `page`. Policies are JSON values or names of the file's `policies`.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};
use tessera_policy::*;

fn policy_type(s: &str) -> PolicyType {
    match s {
        "identity" => PolicyType::Identity,
        "resource" => PolicyType::Resource,
        "trust" => PolicyType::Trust,
        "boundary" => PolicyType::PermissionsBoundary,
        "session" => PolicyType::Session,
        "scp" => PolicyType::Scp,
        "rcp" => PolicyType::Rcp,
        other => panic!("unknown policy type {other}"),
    }
}

fn principal(v: Option<&Value>) -> Principal {
    match v {
        None => Principal::from_arn("arn:aws:iam::111122223333:user/alice").unwrap(),
        Some(Value::String(s)) if s == "anonymous" => {
            Principal { arn: "*".into(), account: String::new(), kind: PrincipalKind::Anonymous }
        }
        Some(Value::String(s)) => Principal::from_arn(s).unwrap_or_else(|| panic!("bad principal {s}")),
        Some(Value::Object(o)) => {
            if let Some(s) = o.get("service").and_then(Value::as_str) {
                return Principal {
                    arn: s.into(),
                    account: String::new(),
                    kind: PrincipalKind::Service { name: s.into() },
                };
            }
            if let Some(s) = o.get("web_identity").and_then(Value::as_str) {
                return Principal {
                    arn: s.into(),
                    account: String::new(),
                    kind: PrincipalKind::WebIdentity { provider: s.into() },
                };
            }
            if let Some(s) = o.get("saml").and_then(Value::as_str) {
                return Principal {
                    arn: s.into(),
                    account: String::new(),
                    kind: PrincipalKind::Saml { provider: s.into() },
                };
            }
            let arn = o["arn"].as_str().unwrap();
            let mut p = Principal::from_arn(arn).unwrap();
            if let Some(r) = o.get("role_arn").and_then(Value::as_str) {
                p.kind = PrincipalKind::AssumedRole { role_arn: r.into() };
            }
            p
        }
        Some(other) => panic!("bad principal {other}"),
    }
}

fn context(v: Option<&Value>) -> Context {
    let mut ctx = Context::new();
    if let Some(Value::Object(o)) = v {
        for (k, val) in o {
            match val {
                Value::Array(items) => ctx.insert(k, items.iter().map(scalar)),
                other => ctx.insert_one(k, scalar(other)),
            }
        }
    }
    ctx
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Pols<'a> {
    named: &'a serde_json::Map<String, Value>,
}

impl Pols<'_> {
    fn get(&self, v: &Value, ty: PolicyType, label: &str) -> Policy {
        let doc = match v {
            Value::String(name) if self.named.contains_key(name) => self.named[name].clone(),
            Value::String(raw) => return parse(raw, ty).unwrap_or_else(|e| panic!("{label}: {e}")).with_label(label),
            other => other.clone(),
        };
        let text = doc.to_string();
        parse(&text, ty).unwrap_or_else(|e| panic!("{label}: {e} in {text}")).with_label(label)
    }

    fn list(&self, v: Option<&Value>, ty: PolicyType, label: &str) -> Vec<Policy> {
        match v {
            None => vec![],
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, p)| self.get(p, ty, &format!("{label}{i}"))).collect()
            }
            Some(one) => vec![self.get(one, ty, label)],
        }
    }
}

fn run_eval(c: &Value, pols: &Pols, name: &str) -> Result<(), String> {
    let p = principal(c.get("principal"));
    let ctx = context(c.get("context"));
    let identity = pols.list(c.get("identity"), PolicyType::Identity, "identity");
    let boundary = c.get("boundary").map(|b| pols.get(b, PolicyType::PermissionsBoundary, "boundary"));
    let session = c.get("session").map(|s| pols.list(Some(s), PolicyType::Session, "session"));
    let levels = |key: &str, ty: PolicyType| -> Vec<Vec<Policy>> {
        match c.get(key) {
            None => vec![],
            Some(Value::Array(levels)) => {
                levels.iter().enumerate().map(|(i, l)| pols.list(Some(l), ty, &format!("{key}{i}."))).collect()
            }
            Some(other) => panic!("{name}: {key} must be a list of levels, got {other}"),
        }
    };
    let scps = levels("scps", PolicyType::Scp);
    let rcps = levels("rcps", PolicyType::Rcp);
    let (resource, is_trust) = if let Some(t) = c.get("trust") {
        (Some(pols.get(t, PolicyType::Trust, "trust")), true)
    } else {
        (c.get("resource_policy").map(|r| pols.get(r, PolicyType::Resource, "resource")), false)
    };
    let set = PolicySet {
        identity: identity.iter().collect(),
        boundary: boundary.as_ref(),
        session: session.as_ref().map(|s| s.iter().collect()),
        scps: scps.iter().map(|l| l.iter().collect()).collect(),
        rcps: rcps.iter().map(|l| l.iter().collect()).collect(),
        resource: resource.as_ref(),
        resource_is_trust: is_trust,
    };
    let action = c["action"].as_str().ok_or("action missing")?;
    let resource_arn = c.get("resource").and_then(Value::as_str).unwrap_or("*");
    let req = Request {
        principal: &p,
        action,
        resource: resource_arn,
        resource_account: c.get("resource_account").and_then(Value::as_str),
        context: &ctx,
    };
    let d = evaluate(&set, &req);
    let want = c["expect"].as_str().ok_or("expect missing")?;
    if d.decision.as_str() != want {
        return Err(format!("expected {want}, got {:?} (decided by {:?})", d.decision, d.decided_by));
    }
    if let Some(by) = c.get("decided_by").and_then(Value::as_str) {
        let got = d.decided_by.map(|t| format!("{t:?}")).unwrap_or_default();
        if got != by {
            return Err(format!("expected decided_by {by}, got {got}"));
        }
    }
    if let Some(r) = c.get("reason").and_then(Value::as_str) {
        let got = d.reason(action);
        if got != r {
            return Err(format!("expected reason {r:?}, got {got:?}"));
        }
    }
    // Cross-check with the plain reference evaluator.
    let r = reference::evaluate(&set, &req);
    if r != d.decision {
        return Err(format!("reference evaluator disagrees: {r:?} vs {:?}", d.decision));
    }
    Ok(())
}

fn run_statement(c: &Value, name: &str) -> Result<(), String> {
    let mut st = c["statement"].as_object().ok_or("statement must be an object")?.clone();
    st.entry("Effect").or_insert(json!("Allow"));
    if !st.contains_key("NotAction") {
        st.entry("Action").or_insert(json!("*"));
    }
    let has_principal = st.contains_key("Principal") || st.contains_key("NotPrincipal");
    let ty = if has_principal { PolicyType::Resource } else { PolicyType::Identity };
    if !st.contains_key("NotResource") {
        st.entry("Resource").or_insert(json!("*"));
    }
    let mut doc = json!({"Statement": [Value::Object(st)]});
    match c.get("version") {
        Some(Value::Null) => {}
        Some(v) => doc["Version"] = v.clone(),
        None => doc["Version"] = json!("2012-10-17"),
    }
    let pol = parse(&doc.to_string(), ty).map_err(|e| format!("{name}: parse: {e}"))?;
    let p = principal(c.get("principal"));
    let ctx = context(c.get("context"));
    let action = c.get("action").and_then(Value::as_str).unwrap_or("s3:GetObject");
    let resource = c.get("resource").and_then(Value::as_str).unwrap_or("arn:aws:s3:::bucket/key");
    let set = if has_principal {
        PolicySet { resource: Some(&pol), ..Default::default() }
    } else {
        PolicySet { identity: vec![&pol], ..Default::default() }
    };
    let req = Request { principal: &p, action, resource, resource_account: None, context: &ctx };
    let d = evaluate(&set, &req);
    let matched = !d.matched.is_empty();
    let want = c["matches"].as_bool().ok_or("matches must be a bool")?;
    if matched != want {
        return Err(format!("expected matches={want}, got {matched} for {doc}"));
    }
    let r = reference::evaluate(&set, &req);
    if r != d.decision {
        return Err(format!("reference evaluator disagrees: {r:?} vs {:?}", d.decision));
    }
    Ok(())
}

fn run_parse(c: &Value) -> Result<(), String> {
    let text = match &c["parse"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let ty = policy_type(c.get("type").and_then(Value::as_str).unwrap_or("identity"));
    let got = parse(&text, ty).err().map(|e| e.message);
    let want = c["error"].as_str().map(str::to_string);
    if got != want {
        return Err(format!("expected {want:?}, got {got:?} for {text}"));
    }
    Ok(())
}

fn run_size(c: &Value) -> Result<(), String> {
    let doc = c["size_of"].as_str().ok_or("size_of must be a string")?;
    let quota = match c["quota"].as_str().unwrap_or("") {
        "managed" => SizeQuota::Managed,
        "inline_user" => SizeQuota::InlineUser,
        "inline_group" => SizeQuota::InlineGroup,
        "inline_role" => SizeQuota::InlineRole,
        "trust" => SizeQuota::Trust,
        "session" => SizeQuota::Session,
        "scp" => SizeQuota::Scp,
        "rcp" => SizeQuota::Rcp,
        q => return Err(format!("unknown quota {q}")),
    };
    let doc = expand(doc);
    let fits = within_size_limit(&doc, quota);
    if Some(fits) != c["fits"].as_bool() {
        return Err(format!("expected fits={}, got {fits} (len {})", c["fits"], non_whitespace_len(&doc)));
    }
    Ok(())
}

/// `{{x*N}}` in a size case expands to N copies of x.
fn expand(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else { break };
        let inner = &rest[i + 2..i + j];
        let (x, n) = inner.rsplit_once('*').unwrap();
        out.push_str(&x.repeat(n.parse().unwrap()));
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

#[test]
fn documentation_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let (mut total, mut failures) = (0, Vec::new());
    let mut per_page: HashMap<String, usize> = HashMap::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "json")) {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let empty = serde_json::Map::new();
        let pols = Pols { named: v.get("policies").and_then(Value::as_object).unwrap_or(&empty) };
        let page = v["page"].as_str().unwrap_or_else(|| panic!("{}: page missing", f.display()));
        for (i, c) in v["cases"].as_array().unwrap().iter().enumerate() {
            total += 1;
            let name = format!(
                "{}#{i} {}",
                f.file_name().unwrap().to_string_lossy(),
                c.get("name").and_then(Value::as_str).unwrap_or("")
            );
            let cpage = c.get("page").and_then(Value::as_str).unwrap_or(page);
            assert!(cpage.starts_with("https://docs.aws.amazon.com/"), "{name}: page must be an AWS doc URL");
            *per_page.entry(cpage.to_string()).or_default() += 1;
            let r = if c.get("parse").is_some() {
                run_parse(c)
            } else if c.get("statement").is_some() {
                run_statement(c, &name)
            } else if c.get("size_of").is_some() {
                run_size(c)
            } else {
                run_eval(c, &pols, &name)
            };
            if let Err(e) = r {
                failures.push(format!("{name} [{cpage}]: {e}"));
            }
        }
    }
    println!("{total} documentation cases from {} pages", per_page.len());
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert!(total >= 250, "only {total} cases");
}
