//! Management policies (tag, backup, AI services opt-out, chat applications, declarative and the
//! other non-authorization types): their grammar with the inheritance operators, and the
//! effective policy of an account (AWS Organizations User Guide, "Understanding management
//! policy inheritance" (orgs_manage_policies_inheritance_mgmt.html), "Inheritance operators"
//! (policy-operators.html), "Inheritance examples" (inheritance-examples.html)).
//!
//! The effective policy is computed level by level, root first, then each OU down to the
//! account's parent, then the account; policies attached to one entity are applied one after
//! another in policy-id order (AWS applies them in attachment order, which Tessera does not
//! keep). `@@assign` replaces the inherited value, `@@append` adds to an inherited list,
//! `@@remove` takes values out of it. `@@operators_allowed_for_child_policies` in a policy limits
//! the value-setting operators of the policies attached *below* its level, for its own node and
//! every node under it; several policies at one level give the intersection of what they allow,
//! and a child can never widen what it inherits. An operator a child may not use is left out of
//! the effective policy and reported as a validation error
//! (`ListEffectivePolicyValidationErrors`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use tessera_wire::AwsError;

use super::accounts::{account_not_found, check_account_id, org_for, with_token};
use super::delegation::require_management_or_delegate;
use super::input::{self, In};
use super::*;

const ASSIGN: &str = "@@assign";
const APPEND: &str = "@@append";
const REMOVE: &str = "@@remove";
const CHILD_OPERATORS: &str = "@@operators_allowed_for_child_policies";

/// The `EffectivePolicyType` enum: every policy type but SCPs and RCPs.
pub(crate) fn is_management_type(policy_type: &str) -> bool {
    POLICY_TYPES.contains(&policy_type)
        && policy_type != SERVICE_CONTROL_POLICY
        && policy_type != RESOURCE_CONTROL_POLICY
}

/// The top-level key of a document of `policy_type`, for the types whose syntax page names one
/// ("Tag policy syntax", "Backup policy syntax", "AI services opt-out policy syntax", "Chat
/// applications policy syntax", "Declarative policy syntax").
fn top_level_key(policy_type: &str) -> Option<&'static str> {
    match policy_type {
        "TAG_POLICY" => Some("tags"),
        "BACKUP_POLICY" => Some("plans"),
        "AISERVICES_OPT_OUT_POLICY" => Some("services"),
        "CHATBOT_POLICY" => Some("chatbot"),
        "DECLARATIVE_POLICY_EC2" => Some("ec2_attributes"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Grammar

/// Check a management policy document of `policy_type`; the error is the reason, for
/// `MalformedPolicyDocumentException`.
pub(crate) fn check_document(content: &str, policy_type: &str) -> Result<(), String> {
    let doc: Value = serde_json::from_str(content).map_err(|e| format!("The policy is not valid JSON: {e}"))?;
    let Value::Object(top) = &doc else { return Err("The policy must be a JSON object.".into()) };
    if top.is_empty() {
        return Err("The policy must not be empty.".into());
    }
    if let Some(key) = top_level_key(policy_type) {
        if let Some(other) = top.keys().find(|k| k.as_str() != key) {
            return Err(format!("Unexpected top-level element {other}: a {policy_type} has only \"{key}\"."));
        }
    }
    check_node(&doc, "", 0)
}

fn check_node(node: &Value, path: &str, depth: usize) -> Result<(), String> {
    if depth > 32 {
        return Err("The policy is nested too deeply.".into());
    }
    let Value::Object(map) = node else { return Ok(()) };
    let setting = map.keys().any(|k| k == ASSIGN || k == APPEND || k == REMOVE);
    for (key, value) in map {
        let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
        match key.as_str() {
            ASSIGN => {}
            APPEND | REMOVE => {
                if !value.is_array() {
                    return Err(format!("{key} at {here} takes a list of values."));
                }
            }
            CHILD_OPERATORS => check_child_operators(value, &here)?,
            k if k.starts_with("@@") => return Err(format!("Unknown operator {k} at {here}.")),
            _ if setting => {
                return Err(format!("{here}: an element with a value-setting operator can't have child elements."))
            }
            _ => check_node(value, &here, depth + 1)?,
        }
    }
    Ok(())
}

fn check_child_operators(value: &Value, path: &str) -> Result<(), String> {
    let bad = || format!("{CHILD_OPERATORS} at {path} takes a list of @@all, @@none, @@assign, @@append, @@remove.");
    let Value::Array(list) = value else { return Err(bad()) };
    let names: Vec<&str> = list.iter().map(|v| v.as_str().ok_or_else(bad)).collect::<Result<_, _>>()?;
    if names.is_empty() || names.iter().any(|n| ![ASSIGN, APPEND, REMOVE, "@@all", "@@none"].contains(n)) {
        return Err(bad());
    }
    if names.len() > 1 && names.iter().any(|n| *n == "@@all" || *n == "@@none") {
        return Err(format!("{CHILD_OPERATORS} at {path}: @@all and @@none stand alone."));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Inheritance

/// A validation error of an effective policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValidationError {
    /// `OPERATOR_NOT_ALLOWED`.
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The element, dot-separated (`tags.costcenter.tag_value`).
    pub path: String,
    /// The policy that used the operator, then the policies that forbade it.
    pub policies: Vec<String>,
}

impl ValidationError {
    fn json(&self) -> Value {
        json!({
            "ErrorCode": self.code,
            "ErrorMessage": self.message,
            "PathToError": self.path,
            "ContributingPolicies": self.policies,
        })
    }
}

/// The operators a lock allows, and the policies that set it.
#[derive(Debug, Clone)]
struct Lock {
    allowed: BTreeSet<&'static str>,
    policies: Vec<String>,
}

fn operator_set(value: &Value) -> BTreeSet<&'static str> {
    let mut set = BTreeSet::new();
    for v in value.as_array().into_iter().flatten() {
        match v.as_str() {
            Some("@@all") => set.extend([ASSIGN, APPEND, REMOVE]),
            Some(ASSIGN) => {
                set.insert(ASSIGN);
            }
            Some(APPEND) => {
                set.insert(APPEND);
            }
            Some(REMOVE) => {
                set.insert(REMOVE);
            }
            _ => {}
        }
    }
    set
}

/// The result of merging an account's policies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Effective {
    /// The effective document, operators removed.
    pub policy: Map<String, Value>,
    /// The operators that were left out.
    pub errors: Vec<ValidationError>,
}

/// Merge `levels` (root first, the account last; each level's policies as (policy id,
/// document)) into the effective policy.
pub(crate) fn merge(levels: &[Vec<(String, Value)>]) -> Effective {
    let mut out = Effective::default();
    let mut locks: BTreeMap<Vec<String>, Lock> = BTreeMap::new();
    for level in levels {
        let mut pending: BTreeMap<Vec<String>, Lock> = BTreeMap::new();
        for (id, doc) in level {
            apply(doc, &mut Vec::new(), id, &locks, &mut pending, &mut out, 0);
        }
        for (path, lock) in pending {
            match locks.get_mut(&path) {
                Some(existing) => {
                    existing.allowed = existing.allowed.intersection(&lock.allowed).copied().collect();
                    existing.policies.extend(lock.policies);
                }
                None => {
                    locks.insert(path, lock);
                }
            }
        }
    }
    out
}

/// The first lock on `path` or above it that forbids `op`.
fn forbidding<'a>(locks: &'a BTreeMap<Vec<String>, Lock>, path: &[String], op: &str) -> Option<&'a Lock> {
    (0..=path.len()).filter_map(|n| locks.get(&path[..n])).find(|l| !l.allowed.contains(op))
}

fn apply(
    node: &Value,
    path: &mut Vec<String>,
    id: &str,
    locks: &BTreeMap<Vec<String>, Lock>,
    pending: &mut BTreeMap<Vec<String>, Lock>,
    out: &mut Effective,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let Value::Object(map) = node else {
        // A bare value (no operator) is taken as `@@assign`.
        set_value(path, id, ASSIGN, node, locks, out);
        return;
    };
    for (key, value) in map {
        match key.as_str() {
            CHILD_OPERATORS => {
                let lock = Lock { allowed: operator_set(value), policies: vec![id.to_string()] };
                match pending.get_mut(path.as_slice()) {
                    Some(p) => {
                        p.allowed = p.allowed.intersection(&lock.allowed).copied().collect();
                        p.policies.push(id.to_string());
                    }
                    None => {
                        pending.insert(path.clone(), lock);
                    }
                }
            }
            ASSIGN | APPEND | REMOVE => set_value(path, id, key, value, locks, out),
            k if k.starts_with("@@") => {}
            _ => {
                path.push(key.clone());
                apply(value, path, id, locks, pending, out, depth + 1);
                path.pop();
            }
        }
    }
}

fn set_value(
    path: &[String],
    id: &str,
    op: &str,
    value: &Value,
    locks: &BTreeMap<Vec<String>, Lock>,
    out: &mut Effective,
) {
    if path.is_empty() {
        return;
    }
    if let Some(lock) = forbidding(locks, path, op) {
        let mut policies = vec![id.to_string()];
        policies.extend(lock.policies.iter().cloned());
        out.errors.push(ValidationError {
            code: "OPERATOR_NOT_ALLOWED".into(),
            message: format!("The operator {op} is not allowed here by the inherited {CHILD_OPERATORS}."),
            path: path.join("."),
            policies,
        });
        return;
    }
    let Some(mut slot) = slot(&mut out.policy, path) else { return };
    let values: &[Value] = value.as_array().map(Vec::as_slice).unwrap_or(std::slice::from_ref(value));
    match op {
        APPEND => {
            let mut list = match slot.take() {
                Some(Value::Array(a)) => a,
                Some(other) => vec![other],
                None => Vec::new(),
            };
            for v in values {
                if !list.contains(v) {
                    list.push(v.clone());
                }
            }
            slot.set(Value::Array(list));
        }
        REMOVE => {
            if let Some(Value::Array(list)) = slot.as_mut() {
                list.retain(|v| !values.contains(v));
            }
        }
        _ => slot.set(value.clone()),
    }
}

/// The place of `path` in `root`, made of objects on the way (a value in the way is replaced).
fn slot<'a>(root: &'a mut Map<String, Value>, path: &[String]) -> Option<SlotRef<'a>> {
    let (last, parents) = path.split_last()?;
    let mut map = root;
    for key in parents {
        let entry = map.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        map = entry.as_object_mut()?;
    }
    Some(SlotRef { map, key: last.clone() })
}

/// One member of an object, present or not.
struct SlotRef<'a> {
    map: &'a mut Map<String, Value>,
    key: String,
}

impl SlotRef<'_> {
    fn take(&mut self) -> Option<Value> {
        self.map.remove(&self.key)
    }
    fn as_mut(&mut self) -> Option<&mut Value> {
        self.map.get_mut(&self.key)
    }
    fn set(&mut self, value: Value) {
        self.map.insert(self.key.clone(), value);
    }
}

// ---------------------------------------------------------------------------------------------
// Operations

fn check_effective_type(policy_type: &str) -> Result<(), AwsError> {
    if is_management_type(policy_type) {
        Ok(())
    } else {
        Err(input::invalid("INVALID_ENUM_POLICY_TYPE", "You specified an invalid policy type string."))
    }
}

fn not_found() -> AwsError {
    err(
        "EffectivePolicyNotFoundException",
        "We can't find an effective policy of the specified type for the specified target.",
    )
}

/// The policies of `policy_type` that apply to `account`, level by level (root, OUs, the
/// account), each level by policy id.
fn levels<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    account: &Account,
    policy_type: &str,
) -> Result<Vec<Vec<(String, Value)>>, AwsError> {
    let parent = account.parent_id.as_deref().unwrap_or(&org.root_id);
    let mut targets = vec![org.root_id.clone()];
    targets.extend(ou_chain(r, org, parent)?);
    targets.push(account.id.clone());
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let mut level = Vec::new();
        for (policy, ty) in attachments_of(r, org, &t)? {
            if ty != policy_type {
                continue;
            }
            if let Some(p) = load_policy(r, org, &policy)? {
                // Stored documents were checked on write; one that no longer parses adds nothing.
                if let Ok(doc) = serde_json::from_str::<Value>(p.content()) {
                    level.push((policy, doc));
                }
            }
        }
        out.push(level);
    }
    Ok(out)
}

/// The effective policy of `account`, `None` when no policy of the type applies to it.
fn effective_of<R: ReadTxn + ?Sized>(
    r: &R,
    org: &Organization,
    account: &Account,
    policy_type: &str,
) -> Result<Option<Effective>, AwsError> {
    if !org.enabled_policy_types.iter().any(|t| t == policy_type) {
        return Ok(None);
    }
    let levels = levels(r, org, account, policy_type)?;
    if levels.iter().all(Vec::is_empty) {
        return Ok(None);
    }
    Ok(Some(merge(&levels)))
}

/// `DescribeEffectivePolicy`: any account of the organization for itself (no `TargetId`, or its
/// own id); the management account and delegated administrators for any account. A root or
/// OU as target is `InvalidInputException` `TARGET_NOT_SUPPORTED`.
pub(super) fn describe_effective_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let policy_type = i.req_str("PolicyType")?;
    let target = i.opt_str("TargetId")?;
    check_effective_type(policy_type)?;
    if let Some(t) = target {
        input::length(t, 0, 100)?;
        if input::is_root_id(t) || input::is_ou_id(t) {
            return Err(input::invalid(
                "TARGET_NOT_SUPPORTED",
                "You specified a target that is not supported: specify an account.",
            ));
        }
        if !input::is_account_id(t) {
            return Err(input::invalid(
                "INVALID_PATTERN_TARGET_ID",
                "You specified a policy target ID that doesn't match the required pattern.",
            ));
        }
    }
    let org = org_for(s, call)?;
    let account = target.unwrap_or(&call.caller.account).to_string();
    let grant = authorize(
        s,
        call,
        "organizations:DescribeEffectivePolicy",
        &account_arn(&org, &account),
        policy_type_context(policy_type),
    )?;
    if account != call.caller.account {
        require_management_or_delegate(s, call, &org, grant)?;
    }
    let r = st(s.store.read())?;
    let a = load_member(&*r, &org, &account)?.ok_or_else(|| {
        err(
            "TargetNotFoundException",
            "We can't find a root, OU, account, or policy with the TargetId that you specified.",
        )
    })?;
    let eff = effective_of(&*r, &org, &a, policy_type)?.ok_or_else(not_found)?;
    let content = serde_json::to_string(&Value::Object(eff.policy)).map_err(|_| AwsError::internal())?;
    Ok(json!({"EffectivePolicy": {
        "PolicyContent": content,
        "LastUpdatedTimestamp": s.clock.now_secs(),
        "TargetId": account,
        "PolicyType": policy_type,
    }}))
}

/// `ListEffectivePolicyValidationErrors` (management account or a delegated administrator).
pub(super) fn list_effective_policy_validation_errors(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let account = i.req_str("AccountId")?;
    let policy_type = i.req_str("PolicyType")?;
    check_account_id(account)?;
    check_effective_type(policy_type)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(
        s,
        call,
        "organizations:ListEffectivePolicyValidationErrors",
        &account_arn(&org, account),
        policy_type_context(policy_type),
    )?;
    require_management_or_delegate(s, call, &org, grant)?;
    let r = st(s.store.read())?;
    let a = load_member(&*r, &org, account)?.ok_or_else(account_not_found)?;
    let eff = effective_of(&*r, &org, &a, policy_type)?.ok_or_else(not_found)?;
    let numbered: Vec<(usize, ValidationError)> = eff.errors.into_iter().enumerate().collect();
    let (items, next) = page.apply(numbered, |(n, _)| format!("{n:08}"));
    let parent = a.parent_id.as_deref().unwrap_or(&org.root_id);
    let path = format!("{}{}/", path_under(&*r, &org, parent)?, a.id);
    Ok(with_token(
        json!({
            "AccountId": a.id,
            "PolicyType": policy_type,
            "Path": path,
            "EvaluationTimestamp": s.clock.now_secs(),
            "EffectivePolicyValidationErrors": items.iter().map(|(_, e)| e.json()).collect::<Vec<_>>(),
        }),
        next,
    ))
}

/// `ListAccountsWithInvalidEffectivePolicy` (management account or a delegated administrator):
/// the accounts whose effective policy of the type has validation errors, by account id.
pub(super) fn list_accounts_with_invalid_effective_policy(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let policy_type = i.req_str("PolicyType")?;
    check_effective_type(policy_type)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(
        s,
        call,
        "organizations:ListAccountsWithInvalidEffectivePolicy",
        "*",
        policy_type_context(policy_type),
    )?;
    require_management_or_delegate(s, call, &org, grant)?;
    if !org.enabled_policy_types.iter().any(|t| t == policy_type) {
        return Err(not_found());
    }
    let r = st(s.store.read())?;
    let mut invalid = Vec::new();
    for a in org_accounts(&*r, &org)? {
        if effective_of(&*r, &org, &a, policy_type)?.is_some_and(|e| !e.errors.is_empty()) {
            invalid.push(a);
        }
    }
    let (items, next) = page.apply(invalid, |a| a.id.clone());
    let accounts = items.iter().map(|a| super::accounts::account_json(&*r, &org, a)).collect::<Result<Vec<_>, _>>()?;
    Ok(with_token(json!({"Accounts": accounts, "PolicyType": policy_type}), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(policies: &[(&str, &str)]) -> Vec<(String, Value)> {
        policies.iter().map(|(id, doc)| (id.to_string(), serde_json::from_str(doc).unwrap())).collect()
    }

    fn effective(levels: &[Vec<(String, Value)>]) -> Value {
        Value::Object(merge(levels).policy)
    }

    const ROOT_A: &str = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"},"tag_value":{"@@assign":["Development","Support"]}}}}"#;

    #[test]
    fn inheritance_examples_1_assign_overwrites_inherited_tag_values() {
        let ou1 = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"},"tag_value":{"@@assign":["Sandbox"]},"enforced_for":{"@@assign":["redshift:*","dynamodb:table"]}}}}"#;
        let got = effective(&[level(&[("p-a", ROOT_A)]), level(&[("p-b", ou1)]), vec![]]);
        assert_eq!(
            got,
            json!({"tags":{"costcenter":{"tag_key":"CostCenter","tag_value":["Sandbox"],"enforced_for":["redshift:*","dynamodb:table"]}}})
        );
        // An account outside OU1 keeps the root's values.
        let other = effective(&[level(&[("p-a", ROOT_A)]), vec![]]);
        assert_eq!(
            other,
            json!({"tags":{"costcenter":{"tag_key":"CostCenter","tag_value":["Development","Support"]}}})
        );
    }

    #[test]
    fn inheritance_examples_2_append_adds_to_inherited_values() {
        let root = r#"{"tags":{"costcenter":{"tag_key":{"@@operators_allowed_for_child_policies":["@@none"],"@@assign":"CostCenter"},"tag_value":{"@@operators_allowed_for_child_policies":["@@append"],"@@assign":["Development","Support"]}}}}"#;
        let ou1 = r#"{"tags":{"costcenter":{"tag_value":{"@@append":["Marketing"]}}}}"#;
        let e = merge(&[level(&[("p-a", root)]), level(&[("p-c", ou1)])]);
        assert_eq!(
            Value::Object(e.policy),
            json!({"tags":{"costcenter":{"tag_key":"CostCenter","tag_value":["Development","Support","Marketing"]}}})
        );
        assert!(e.errors.is_empty());
    }

    #[test]
    fn inheritance_examples_3_remove_takes_inherited_values_out() {
        let root = r#"{"tags":{"costcenter":{"tag_key":{"@@assign":"CostCenter"},"tag_value":{"@@assign":["Development","Support","Marketing"]}}}}"#;
        let ou1 = r#"{"tags":{"costcenter":{"tag_value":{"@@remove":["Development","Marketing"]}}}}"#;
        let got = effective(&[level(&[("p-a", root)]), level(&[("p-d", ou1)])]);
        assert_eq!(got, json!({"tags":{"costcenter":{"tag_key":"CostCenter","tag_value":["Support"]}}}));
    }

    #[test]
    fn inheritance_examples_4_none_locks_values_and_reports_the_child() {
        let root = r#"{"tags":{"costcenter":{"@@operators_allowed_for_child_policies":["@@none"],"tag_key":{"@@assign":"CostCenter"},"tag_value":{"@@assign":["Development","Support"]}}}}"#;
        let ou1 = r#"{"tags":{"costcenter":{"tag_value":{"@@assign":["Sandbox"]},"enforced_for":{"@@assign":["ec2:instance"]}}}}"#;
        let e = merge(&[level(&[("p-a", root)]), level(&[("p-e", ou1)]), vec![]]);
        assert_eq!(
            Value::Object(e.policy),
            json!({"tags":{"costcenter":{"tag_key":"CostCenter","tag_value":["Development","Support"]}}})
        );
        assert_eq!(e.errors.len(), 2);
        assert_eq!(e.errors[0].path, "tags.costcenter.enforced_for");
        assert_eq!(e.errors[1].path, "tags.costcenter.tag_value");
        assert_eq!(e.errors[1].policies, vec!["p-e".to_string(), "p-a".to_string()]);
        // The lock applies to every level below, not only the next one.
        let deeper = merge(&[level(&[("p-a", root)]), vec![], level(&[("p-e", ou1)])]);
        assert_eq!(deeper.errors.len(), 2);
    }

    #[test]
    fn inheritance_examples_5_same_level_child_control_operators_intersect() {
        let a = r#"{"tags":{"costcenter":{"tag_value":{"@@operators_allowed_for_child_policies":["@@append","@@remove"],"@@assign":["Development"]}}}}"#;
        let b = r#"{"tags":{"costcenter":{"tag_value":{"@@operators_allowed_for_child_policies":["@@append"]}}}}"#;
        let child = r#"{"tags":{"costcenter":{"tag_value":{"@@append":["Support"],"@@remove":["Development"]}}}}"#;
        let e = merge(&[level(&[("p-a", a), ("p-b", b)]), level(&[("p-c", child)])]);
        assert_eq!(Value::Object(e.policy), json!({"tags":{"costcenter":{"tag_value":["Development","Support"]}}}));
        assert_eq!(e.errors.len(), 1);
        assert!(e.errors[0].message.contains("@@remove"));
        // A child cannot widen what it inherits.
        let widen = r#"{"tags":{"costcenter":{"tag_value":{"@@operators_allowed_for_child_policies":["@@all"]}}}}"#;
        let e = merge(&[level(&[("p-b", b)]), level(&[("p-w", widen)]), level(&[("p-c", child)])]);
        assert_eq!(e.errors.len(), 1);
    }

    #[test]
    fn inheritance_examples_6_appends_at_one_level_all_apply() {
        let b = r#"{"tags":{"costcenter":{"tag_value":{"@@append":["Marketing"]}}}}"#;
        let c = r#"{"tags":{"costcenter":{"tag_value":{"@@append":["Sandbox"]}}}}"#;
        let got = effective(&[level(&[("p-a", ROOT_A)]), level(&[("p-b", b), ("p-c", c)])]);
        assert_eq!(got["tags"]["costcenter"]["tag_value"], json!(["Development", "Support", "Marketing", "Sandbox"]));
    }

    #[test]
    fn ai_services_opt_out_policy_syntax_default_and_service_override() {
        let root = r#"{"services":{"default":{"opt_out_policy":{"@@assign":"optOut"}}}}"#;
        let acct = r#"{"services":{"rekognition":{"opt_out_policy":{"@@assign":"optIn"}}}}"#;
        let got = effective(&[level(&[("p-a", root)]), level(&[("p-b", acct)])]);
        assert_eq!(
            got,
            json!({"services":{"default":{"opt_out_policy":"optOut"},"rekognition":{"opt_out_policy":"optIn"}}})
        );
    }

    #[test]
    fn grammar_of_management_policy_types() {
        assert!(check_document(ROOT_A, "TAG_POLICY").is_ok());
        assert!(check_document(ROOT_A, "BACKUP_POLICY").is_err(), "a backup policy has only plans");
        assert!(check_document(r#"{"tags":{"x":{"@@append":"one"}}}"#, "TAG_POLICY").is_err());
        assert!(check_document(r#"{"tags":{"x":{"@@replace":["one"]}}}"#, "TAG_POLICY").is_err());
        assert!(check_document(r#"{"tags":{"x":{"@@assign":"a","y":1}}}"#, "TAG_POLICY").is_err());
        assert!(check_document(
            r#"{"tags":{"x":{"@@operators_allowed_for_child_policies":["@@none","@@assign"]}}}"#,
            "TAG_POLICY"
        )
        .is_err());
        assert!(check_document("[]", "CHATBOT_POLICY").is_err());
        assert!(check_document("{}", "CHATBOT_POLICY").is_err());
        assert!(check_document("{not json", "CHATBOT_POLICY").is_err());
        assert!(check_document(
            r#"{"ec2_attributes":{"image_block_public_access":{"state":{"@@assign":"block_new_sharing"}}}}"#,
            "DECLARATIVE_POLICY_EC2"
        )
        .is_ok());
        let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        assert!(check_document(&format!(r#"{{"s3":{deep}}}"#), "S3_POLICY").is_ok());
        let deep_obj = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
        assert!(check_document(&format!(r#"{{"s3":{deep_obj}}}"#), "S3_POLICY").is_err());
    }
}
