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

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value};

use crate::json::{Position, RawStr, Scanner};
use crate::{
    evaluate, parse, Context, Decision, EvalDecision, MatchedStatement, Policy, PolicySet, PolicyType, Principal,
    PrincipalKind, Request,
};

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

fn str_list<'a>(input: &'a Value, key: &str) -> Result<Vec<&'a str>, SimulateError> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| SimulateError::invalid(format!("{key} must hold strings"))))
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

/// The policy lists of the input, in the order they are read (and their errors reported).
const LISTS: [(&str, PolicyType); 5] = [
    ("PolicyInputList", PolicyType::Identity),
    ("PermissionsBoundaryPolicyInputList", PolicyType::PermissionsBoundary),
    ("ServiceControlPolicyInputList", PolicyType::Scp),
    ("ResourceControlPolicyInputList", PolicyType::Rcp),
    ("SessionPolicyInputList", PolicyType::Session),
];

/// A policy document of the input.
#[derive(Debug, Clone)]
enum Doc<'a> {
    /// As written in a `--jsonl` line: a JSON string, escapes in place.
    Raw(RawStr<'a>),
    /// The document's text.
    Text(&'a str),
    /// Written exactly as a document of the same list in the previous `--jsonl` line: that text
    /// (escaped) and its entry.
    Known(Arc<str>, Arc<Entry>),
}

/// A field of the input, or the error reading it answers (reported in the order of [`run`]).
type Field<T> = Result<T, SimulateError>;

/// A `ContextEntries` item: the key's name and values.
type ContextEntry<'a> = (Cow<'a, str>, Vec<Cow<'a, str>>);

/// The input's fields, borrowed from a `serde_json::Value` ([`Input::from_value`]) or straight
/// from a `--jsonl` line ([`Input::from_line`]).
struct Input<'a> {
    lists: [Field<Vec<Doc<'a>>>; 5],
    resource_policy: Field<Option<Doc<'a>>>,
    actions: Field<Vec<Cow<'a, str>>>,
    resources: Field<Vec<Cow<'a, str>>>,
    owner: Field<Option<Cow<'a, str>>>,
    caller: Field<Option<Cow<'a, str>>>,
    context: Field<Vec<ContextEntry<'a>>>,
}

impl<'a> Input<'a> {
    fn from_value(input: &'a Value) -> Result<Input<'a>, SimulateError> {
        if !input.is_object() {
            return Err(SimulateError::invalid("input must be a JSON object"));
        }
        let strings = |key: &str| str_list(input, key).map(|v| v.into_iter().map(Cow::Borrowed).collect());
        let opt = |key: &str| opt_str(input, key).map(|v| v.map(Cow::Borrowed));
        Ok(Input {
            lists: LISTS.map(|(key, _)| str_list(input, key).map(|v| v.into_iter().map(Doc::Text).collect())),
            resource_policy: opt_str(input, "ResourcePolicy").map(|d| d.map(Doc::Text)),
            actions: strings("ActionNames"),
            resources: strings("ResourceArns"),
            owner: opt("ResourceOwner"),
            caller: opt("CallerArn"),
            context: context_entries(input),
        })
    }

    /// The fields of a `--jsonl` line, read without building a `Value`: policy documents stay
    /// escaped (they are looked up in the [`PolicyCache`] as written). `None` when the line holds
    /// anything this reader does not vouch for (invalid JSON, a field of the wrong type, a
    /// repeated field, an escaped key, a non-string context value, ...): the caller then reads it
    /// with serde_json, which gives the same result or the error.
    fn from_line(line: &'a str, cache: &PolicyCache) -> Option<Input<'a>> {
        const FIELDS: [&str; 11] = [
            "PolicyInputList",
            "PermissionsBoundaryPolicyInputList",
            "ServiceControlPolicyInputList",
            "ResourceControlPolicyInputList",
            "SessionPolicyInputList",
            "ResourcePolicy",
            "ActionNames",
            "ResourceArns",
            "ResourceOwner",
            "CallerArn",
            "ContextEntries",
        ];
        let mut input = Input {
            lists: std::array::from_fn(|_| Ok(Vec::new())),
            resource_policy: Ok(None),
            actions: Ok(Vec::new()),
            resources: Ok(Vec::new()),
            owner: Ok(None),
            caller: Ok(None),
            context: Ok(Vec::new()),
        };
        let mut seen = 0u32;
        let mut sc = Scanner::new(line);
        sc.object(|sc, key| {
            let field = if key.escaped { None } else { FIELDS.iter().position(|f| *f == key.raw()) };
            let Some(field) = field else { return sc.skip_value(1) };
            if seen & (1 << field) != 0 {
                return None;
            }
            seen |= 1 << field;
            match field {
                0..=4 => input.lists[field] = Ok(if sc.null() { Vec::new() } else { docs(sc, &cache.recent[field])? }),
                5 => input.resource_policy = Ok(if sc.null() { None } else { Some(Doc::Raw(sc.string()?)) }),
                6 | 7 => {
                    let values = if sc.null() { Vec::new() } else { values(sc)? };
                    if field == 6 {
                        input.actions = Ok(values);
                    } else {
                        input.resources = Ok(values);
                    }
                }
                8 | 9 => {
                    let value = if sc.null() { None } else { Some(sc.string()?.value()?) };
                    if field == 8 {
                        input.owner = Ok(value);
                    } else {
                        input.caller = Ok(value);
                    }
                }
                _ => input.context = Ok(line_context_entries(sc)?),
            }
            Some(())
        })?;
        sc.at_end().then_some(input)
    }
}

/// A list of policy documents. A document written as one of the same list in the previous line
/// (`recent`: the one at the same place is tried first) is recognised by compares, without being
/// scanned or hashed.
fn docs<'a>(sc: &mut Scanner<'a>, recent: &[(Arc<str>, Arc<Entry>)]) -> Option<Vec<Doc<'a>>> {
    let mut out = Vec::new();
    sc.array(|sc| {
        let i = out.len();
        let candidates =
            recent.get(i).into_iter().chain(recent.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, r)| r));
        let doc = match candidates.into_iter().find(|(raw, _)| sc.string_as(raw)) {
            Some((raw, entry)) => Doc::Known(raw.clone(), entry.clone()),
            None => Doc::Raw(sc.string()?),
        };
        out.push(doc);
        Some(())
    })?;
    Some(out)
}

/// An array of strings, escapes in place.
fn strings<'a>(sc: &mut Scanner<'a>) -> Option<Vec<RawStr<'a>>> {
    let mut out = Vec::new();
    sc.array(|sc| {
        out.push(sc.string()?);
        Some(())
    })?;
    Some(out)
}

/// An array of strings, unescaped.
fn values<'a>(sc: &mut Scanner<'a>) -> Option<Vec<Cow<'a, str>>> {
    strings(sc)?.into_iter().map(RawStr::value).collect()
}

/// `ContextEntries` of a `--jsonl` line (only string values; see [`Input::from_line`]).
fn line_context_entries<'a>(sc: &mut Scanner<'a>) -> Option<Vec<ContextEntry<'a>>> {
    let mut entries = Vec::new();
    sc.array(|sc| {
        let (mut name, mut vals) = (None, None);
        sc.object(|sc, key| {
            match (key.escaped, key.raw()) {
                (false, "ContextKeyName") if name.is_none() => name = Some(sc.string()?.value()?),
                (false, "ContextKeyValues") if vals.is_none() => vals = Some(values(sc)?),
                (false, "ContextKeyName" | "ContextKeyValues") | (true, _) => return None,
                _ => sc.skip_value(3)?,
            }
            Some(())
        })?;
        entries.push((name?, vals.unwrap_or_default()));
        Some(())
    })?;
    Some(entries)
}

/// Statement spans of a document, for `StartPosition` / `EndPosition`.
type Spans = Vec<(Position, Position)>;

/// One document compiled as one policy type, with what the simulator's output needs of it.
#[derive(Debug)]
struct Entry {
    compiled: Result<Policy, SimulateError>,
    /// The document, for its statement spans.
    text: Box<str>,
    /// Statement spans, computed when a statement of the document is first reported.
    spans: OnceLock<Spans>,
    /// The condition keys of its statements: (as written, lower-cased), sorted, unique.
    keys: Vec<(String, String)>,
    /// A resource policy with no `Resource`/`NotResource` anywhere (a trust policy when simulated
    /// for `sts:AssumeRole*`).
    trust_shape: bool,
}

impl Entry {
    fn new(text: &str, ty: PolicyType) -> Entry {
        let compiled =
            parse(text, ty).map_err(|e| SimulateError { code: "MalformedPolicyDocument".into(), message: e.message });
        let mut keys: Vec<(String, String)> = match &compiled {
            Ok(p) => p
                .statements()
                .iter()
                .flat_map(|st| st.conditions.iter())
                .map(|c| (c.key.clone(), c.key.to_ascii_lowercase()))
                .collect(),
            Err(_) => Vec::new(),
        };
        keys.sort();
        keys.dedup_by(|a, b| a.0 == b.0);
        Entry {
            compiled,
            text: text.into(),
            spans: OnceLock::new(),
            keys,
            trust_shape: ty == PolicyType::Resource && resource_policy_is_trust(text),
        }
    }

    fn span(&self, statement: usize) -> Option<(Position, Position)> {
        self.spans.get_or_init(|| crate::json::statement_spans(&self.text)).get(statement).copied()
    }
}

/// A multiply-rotate hash over 8-byte words (FxHash's step): cache keys are whole policy
/// documents, hashed on every input line, where SipHash's DoS resistance buys nothing.
#[derive(Default)]
struct WordHash(u64);

impl Hasher for WordHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        for &b in words.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }
}

type EntryMap = HashMap<Box<str>, Arc<Entry>, BuildHasherDefault<WordHash>>;

/// Compiled policies by (type, document), reused across the inputs of one `--jsonl` stream. A
/// document read from a `--jsonl` line is keyed as written (escaped), so that a repeated
/// document costs one hash and one compare, with no unescaping and no allocation.
#[derive(Debug, Default)]
pub struct PolicyCache {
    /// By [`PolicyCache::slot`]: policy type × (escaped, text).
    maps: [EntryMap; 14],
    len: usize,
    /// The escaped documents of the last `--jsonl` line's lists (as [`LISTS`]) and their entries.
    recent: [Vec<(Arc<str>, Arc<Entry>)>; 5],
}

impl PolicyCache {
    /// The most documents kept; the cache is emptied when it would grow past this.
    pub const MAX_ENTRIES: usize = 4096;

    fn slot(ty: PolicyType, escaped: bool) -> usize {
        let t = match ty {
            PolicyType::Identity => 0,
            PolicyType::Resource => 1,
            PolicyType::Trust => 2,
            PolicyType::PermissionsBoundary => 3,
            PolicyType::Session => 4,
            PolicyType::Scp => 5,
            PolicyType::Rcp => 6,
        };
        t * 2 + usize::from(escaped)
    }

    /// The entry of `doc` as `ty`. Fails only for an escaped document serde_json would refuse.
    fn entry<'d>(&mut self, doc: &Doc<'d>, ty: PolicyType) -> Result<Arc<Entry>, SimulateError> {
        let (key, slot) = match *doc {
            Doc::Raw(r) => (r.raw(), Self::slot(ty, true)),
            Doc::Text(t) => (t, Self::slot(ty, false)),
            Doc::Known(_, ref e) => return Ok(e.clone()),
        };
        if let Some(e) = self.maps[slot].get(key) {
            return Ok(e.clone());
        }
        let text = match *doc {
            Doc::Raw(r) => r.value().ok_or_else(|| SimulateError::invalid("a policy document is not a JSON string"))?,
            _ => Cow::Borrowed(key),
        };
        let e = Arc::new(Entry::new(&text, ty));
        if self.len >= Self::MAX_ENTRIES {
            self.maps.iter_mut().for_each(HashMap::clear);
            self.len = 0;
        }
        self.maps[slot].insert(key.into(), e.clone());
        self.len += 1;
        Ok(e)
    }
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

/// A session ARN (`arn:aws:sts::A:assumed-role/NAME/SESSION`) does not carry its role's path; an
/// `aws:PrincipalArn` context entry naming a role of the same account and name
/// (`arn:aws:iam::A:role/PATH/NAME`) supplies it, so that a `Principal` naming the role with its path
/// matches the session, as on the server.
fn with_role_path(principal: &mut Principal, ctx: &Context) {
    let PrincipalKind::AssumedRole { role_arn } = &mut principal.kind else { return };
    let Some([given]) = ctx.get("aws:PrincipalArn") else { return };
    let (Some((prefix, name)), Some((given_prefix, given_name))) =
        (role_arn.split_once(":role/"), given.split_once(":role/"))
    else {
        return;
    };
    if prefix == given_prefix && given_name.rsplit('/').next() == Some(name) {
        *role_arn = given.clone();
    }
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
    // A federated user has no `aws:username` ("(not present)" for an AWS STS federated user
    // principal: IAM User Guide, "IAM policy elements: Variables and tags"), as in the server.
}

/// `aws:PrincipalArn` is the role ARN for role sessions.
fn principal_arn_key(p: &Principal) -> String {
    match &p.kind {
        PrincipalKind::AssumedRole { role_arn } => role_arn.clone(),
        _ => p.arn.clone(),
    }
}

fn context_entries(input: &Value) -> Field<Vec<ContextEntry<'_>>> {
    let Some(entries) = input.get("ContextEntries") else { return Ok(Vec::new()) };
    let Some(entries) = entries.as_array() else {
        return Err(SimulateError::invalid("ContextEntries must be a list"));
    };
    entries
        .iter()
        .map(|e| {
            let name = e
                .get("ContextKeyName")
                .and_then(Value::as_str)
                .ok_or_else(|| SimulateError::invalid("ContextKeyName is required"))?;
            let values = match e.get("ContextKeyValues") {
                Some(Value::Array(vs)) => vs
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Cow::Borrowed(s.as_str()),
                        other => Cow::Owned(other.to_string()),
                    })
                    .collect(),
                None => Vec::new(),
                Some(_) => return Err(SimulateError::invalid("ContextKeyValues must be a list")),
            };
            Ok((Cow::Borrowed(name), values))
        })
        .collect()
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
    let mut results = Vec::new();
    run(Input::from_value(input)?, cache, &mut |row| results.push(row.to_value()))?;
    Ok(json!({"EvaluationResults": results, "IsTruncated": false}))
}

/// One result of the response, borrowed from the evaluation.
struct Row<'r> {
    action: &'r str,
    resource: &'r str,
    decision: &'r Decision,
    /// The statements that decided, with their spans.
    matched: &'r [(&'r MatchedStatement, Option<(Position, Position)>)],
    missing: &'r [&'r str],
    /// `OrganizationsDecisionDetail` (when SCPs were given).
    organizations: Option<bool>,
    /// `PermissionsBoundaryDecisionDetail` (when a boundary was given).
    boundary: Option<bool>,
    /// `EvalDecisionDetails` (when a resource policy was given).
    details: bool,
}

/// A compiled policy of the input, labelled, with its cache entry.
struct Given {
    policy: Policy,
    entry: Arc<Entry>,
}

fn given(cache: &mut PolicyCache, doc: &Doc<'_>, ty: PolicyType, label: String) -> Result<Given, SimulateError> {
    let entry = cache.entry(doc, ty)?;
    let policy = entry.compiled.clone()?.with_label(label);
    Ok(Given { policy, entry })
}

/// Evaluate `input`, handing each result to `emit` in order (actions × resources). Errors are
/// checked in the order they always were: each policy list (its shape, then its documents), the
/// resource policy's shape, `ActionNames`, `ResourceArns`, `ResourceOwner`, `CallerArn`,
/// `ContextEntries`, then the resource policy's document.
fn run(input: Input<'_>, cache: &mut PolicyCache, emit: &mut dyn FnMut(&Row<'_>)) -> Result<(), SimulateError> {
    let mut lists: [Vec<Given>; 5] = Default::default();
    for (k, docs) in input.lists.into_iter().enumerate() {
        let (name, ty) = LISTS[k];
        let docs = docs?;
        for (i, doc) in docs.iter().enumerate() {
            lists[k].push(given(cache, doc, ty, format!("{name}.{}", i + 1))?);
        }
        // A line's documents are what the next line is compared with.
        let written: Option<Vec<(Arc<str>, Arc<Entry>)>> = docs
            .iter()
            .zip(&lists[k])
            .map(|(doc, g)| match doc {
                Doc::Raw(r) => Some((Arc::from(r.raw()), g.entry.clone())),
                Doc::Known(raw, _) => Some((raw.clone(), g.entry.clone())),
                Doc::Text(_) => None,
            })
            .collect();
        if let Some(written) = written.filter(|w| !w.is_empty()) {
            cache.recent[k] = written;
        }
    }
    let [identity, boundaries, scps, rcps, sessions] = &lists;
    let resource_doc = input.resource_policy?;
    let actions = input.actions?;
    if actions.is_empty() {
        return Err(SimulateError::invalid("ActionNames is required"));
    }
    let mut resources = input.resources?;
    if resources.is_empty() {
        resources.push(Cow::Borrowed("*"));
    }
    let owner = input.owner?.map(|o| account_of(&o));
    let caller_arn = match input.caller? {
        Some(a) => a,
        None => Cow::Owned(format!("arn:aws:iam::{}:user/SimulatedUser", owner.as_deref().unwrap_or("123456789012"))),
    };
    let mut principal = simulated_principal(&caller_arn)
        .ok_or_else(|| SimulateError::invalid(format!("Invalid CallerArn: {caller_arn}")))?;
    let mut ctx = Context::new();
    for (key, values) in input.context? {
        ctx.insert(&key, values);
    }
    with_role_path(&mut principal, &ctx);
    caller_context(&principal, &mut ctx);

    let identity_set: Vec<&Policy> = identity.iter().map(|g| &g.policy).collect();
    let session_set: Option<Vec<&Policy>> =
        if sessions.is_empty() { None } else { Some(sessions.iter().map(|g| &g.policy).collect()) };
    let scp_levels: Vec<Vec<&Policy>> = scps.iter().map(|g| vec![&g.policy]).collect();
    let rcp_levels: Vec<Vec<&Policy>> = rcps.iter().map(|g| vec![&g.policy]).collect();
    for action in &actions {
        let is_assume = action.as_bytes().get(..14).is_some_and(|p| p.eq_ignore_ascii_case(b"sts:assumerole"));
        let resource_policy = match &resource_doc {
            Some(doc) => {
                let trust = is_assume && cache.entry(doc, PolicyType::Resource)?.trust_shape;
                let ty = if trust { PolicyType::Trust } else { PolicyType::Resource };
                Some((given(cache, doc, ty, "ResourcePolicy".into())?, trust))
            }
            None => None,
        };
        let all = || lists.iter().flatten().chain(resource_policy.iter().map(|(g, _)| g));
        let mut missing: Vec<&str> = Vec::new();
        for g in all() {
            let absent = g.entry.keys.iter().filter(|(_, lower)| ctx.get_lower(lower).is_none());
            missing.extend(absent.map(|(key, _)| key.as_str()));
        }
        missing.sort_unstable();
        missing.dedup();
        for resource in &resources {
            let set = PolicySet {
                identity: identity_set.clone(),
                boundary: boundaries.first().map(|g| &g.policy),
                session: session_set.clone(),
                scps: scp_levels.clone(),
                rcps: rcp_levels.clone(),
                resource: resource_policy.as_ref().map(|(g, _)| &g.policy),
                resource_is_trust: resource_policy.as_ref().is_some_and(|(_, trust)| *trust),
            };
            // Additional boundaries (AWS accepts one) are treated as further levels: all must allow.
            let req =
                Request { principal: &principal, action, resource, resource_account: owner.as_deref(), context: &ctx };
            let mut d = evaluate(&set, &req);
            if d.decision == EvalDecision::Allowed && boundaries.len() > 1 {
                for b in &boundaries[1..] {
                    let set2 = PolicySet { boundary: Some(&b.policy), ..set.clone() };
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
            let mut matched = Vec::new();
            for m in d.matched.iter().filter(|m| Some(m.effect) == wanted) {
                let span =
                    all().find(|g| g.policy.label() == &*m.policy_label).and_then(|g| g.entry.span(m.statement_index));
                matched.push((m, span));
            }
            emit(&Row {
                action,
                resource,
                decision: &d,
                matched: &matched,
                missing: &missing,
                organizations: (!scps.is_empty()).then(|| d.decided_by != Some(PolicyType::Scp) || d.is_allowed()),
                boundary: (!boundaries.is_empty())
                    .then(|| d.decided_by != Some(PolicyType::PermissionsBoundary) || d.is_allowed()),
                details: resource_policy.is_some(),
            });
        }
    }
    Ok(())
}

impl Row<'_> {
    /// The result as a `Value` (`simulate`'s output, the pretty CLI output).
    fn to_value(&self) -> Value {
        let d = self.decision;
        let matched: Vec<Value> = self
            .matched
            .iter()
            .map(|(m, span)| {
                let mut v = json!({
                    "SourcePolicyId": &*m.policy_label,
                    "SourcePolicyType": m.policy_type.source_policy_type(),
                    "StatementIndex": m.statement_index,
                    "Sid": m.sid.as_deref(),
                    "Effect": m.effect.as_str(),
                });
                if let Some((a, b)) = span {
                    v["StartPosition"] = json!({"Line": a.line, "Column": a.column});
                    v["EndPosition"] = json!({"Line": b.line, "Column": b.column});
                }
                v
            })
            .collect();
        let mut r = Map::new();
        r.insert("EvalActionName".into(), json!(self.action));
        r.insert("EvalResourceName".into(), json!(self.resource));
        r.insert("EvalDecision".into(), json!(d.decision.as_str()));
        r.insert("MatchedStatements".into(), Value::Array(matched));
        r.insert("MissingContextValues".into(), json!(self.missing));
        if let Some(by) = d.decided_by {
            if !d.is_allowed() {
                r.insert("DenyReason".into(), json!(d.reason(self.action)));
            }
            r.insert("DecidedBy".into(), json!(by.phrase()));
        }
        if let Some(ok) = self.organizations {
            r.insert("OrganizationsDecisionDetail".into(), json!({"AllowedByOrganizations": ok}));
        }
        if let Some(ok) = self.boundary {
            r.insert("PermissionsBoundaryDecisionDetail".into(), json!({"AllowedByPermissionsBoundary": ok}));
        }
        if self.details {
            let mut details = Map::new();
            details.insert(self.resource.to_string(), json!(d.decision.as_str()));
            r.insert("EvalDecisionDetails".into(), Value::Object(details));
        }
        Value::Object(r)
    }

    /// The result as compact JSON, byte for byte what `serde_json::to_writer(self.to_value())`
    /// writes (members in serde_json's sorted order), without building the `Value`.
    fn write(&self, out: &mut Vec<u8>) {
        let d = self.decision;
        out.push(b'{');
        if let Some(by) = d.decided_by {
            out.extend_from_slice(b"\"DecidedBy\":");
            write_str(out, by.phrase());
            if !d.is_allowed() {
                out.extend_from_slice(b",\"DenyReason\":");
                write_str(out, &d.reason(self.action));
            }
            out.push(b',');
        }
        out.extend_from_slice(b"\"EvalActionName\":");
        write_str(out, self.action);
        out.extend_from_slice(b",\"EvalDecision\":");
        write_str(out, d.decision.as_str());
        if self.details {
            out.extend_from_slice(b",\"EvalDecisionDetails\":{");
            write_str(out, self.resource);
            out.push(b':');
            write_str(out, d.decision.as_str());
            out.push(b'}');
        }
        out.extend_from_slice(b",\"EvalResourceName\":");
        write_str(out, self.resource);
        out.extend_from_slice(b",\"MatchedStatements\":[");
        for (i, (m, span)) in self.matched.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"Effect\":");
            write_str(out, m.effect.as_str());
            if let Some((_, end)) = span {
                out.extend_from_slice(b",\"EndPosition\":");
                write_position(out, *end);
            }
            out.extend_from_slice(b",\"Sid\":");
            match &m.sid {
                Some(sid) => write_str(out, sid),
                None => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"SourcePolicyId\":");
            write_str(out, &m.policy_label);
            out.extend_from_slice(b",\"SourcePolicyType\":");
            write_str(out, m.policy_type.source_policy_type());
            if let Some((start, _)) = span {
                out.extend_from_slice(b",\"StartPosition\":");
                write_position(out, *start);
            }
            out.extend_from_slice(b",\"StatementIndex\":");
            write_uint(out, m.statement_index);
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"MissingContextValues\":[");
        for (i, key) in self.missing.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, key);
        }
        out.push(b']');
        if let Some(ok) = self.organizations {
            out.extend_from_slice(b",\"OrganizationsDecisionDetail\":{\"AllowedByOrganizations\":");
            out.extend_from_slice(if ok { b"true}" } else { b"false}" });
        }
        if let Some(ok) = self.boundary {
            out.extend_from_slice(b",\"PermissionsBoundaryDecisionDetail\":{\"AllowedByPermissionsBoundary\":");
            out.extend_from_slice(if ok { b"true}" } else { b"false}" });
        }
        out.push(b'}');
    }
}

fn write_position(out: &mut Vec<u8>, p: Position) {
    out.extend_from_slice(b"{\"Column\":");
    write_uint(out, p.column);
    out.extend_from_slice(b",\"Line\":");
    write_uint(out, p.line);
    out.push(b'}');
}

fn write_uint(out: &mut Vec<u8>, mut n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A JSON string escaped as serde_json escapes it: `"`, `\` and control characters only
/// (`\b \t \n \f \r`, else `\u00xx` in lower-case hex).
fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0..=0x1f => &[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(short);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
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

/// One `--jsonl` line's output appended to `out` (without the newline); whether it succeeded.
/// The line is read in place ([`Input::from_line`]) and the output written directly; a line that
/// reader does not take, or that fails, goes through serde_json as in the single-input mode,
/// which gives the same output and the exact error.
fn one_jsonl(line: &str, cache: &mut PolicyCache, out: &mut Vec<u8>) -> std::io::Result<bool> {
    let start = out.len();
    if let Some(input) = Input::from_line(line, cache) {
        out.extend_from_slice(b"{\"EvaluationResults\":[");
        let mut first = true;
        let done = run(input, cache, &mut |row| {
            if !first {
                out.push(b',');
            }
            first = false;
            row.write(out);
        });
        if done.is_ok() {
            out.extend_from_slice(b"],\"IsTruncated\":false}");
            return Ok(true);
        }
        out.truncate(start);
    }
    let (v, ok) = one(line, cache);
    serde_json::to_writer(&mut *out, &v)?;
    Ok(ok)
}

/// `tessera policy simulate [--jsonl]`: read one input (or, with `jsonl`, one input per line),
/// write one output per input (one line each with `jsonl`, pretty otherwise). With `jsonl`, the
/// output is flushed whenever the input read so far is used up, so that a process that writes a
/// line and waits for its answer gets it. Exit code 0 when
/// every input succeeded, 1 otherwise (errors are written as `{"Error":{...}}`).
pub fn run_cli(input: impl Read, mut output: impl Write, jsonl: bool) -> std::io::Result<i32> {
    let mut code = 0;
    let mut cache = PolicyCache::default();
    if jsonl {
        let mut reader = BufReader::with_capacity(1 << 16, input);
        let mut line = String::new();
        let mut out = Vec::new();
        loop {
            // Answers already written reach the reader before this waits for more input, so that
            // a caller can also ask one line at a time.
            if reader.buffer().is_empty() {
                output.flush()?;
            }
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            // As `BufRead::lines` does: without the `\n` or `\r\n`.
            if line.ends_with('\n') {
                line.pop();
                if line.ends_with('\r') {
                    line.pop();
                }
            }
            if line.trim().is_empty() {
                continue;
            }
            out.clear();
            if !one_jsonl(&line, &mut cache, &mut out)? {
                code = 1;
            }
            out.push(b'\n');
            output.write_all(&out)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgen::{policy_doc, Rng};

    /// The `--jsonl` output through serde_json (`Value` in, `Value` out, fresh cache).
    fn slow(line: &str) -> String {
        serde_json::to_string(&one(line, &mut PolicyCache::default()).0).unwrap()
    }

    /// The direct path's output, if it takes the line.
    fn fast(line: &str, cache: &mut PolicyCache) -> Option<String> {
        let input = Input::from_line(line, cache)?;
        let mut out = Vec::new();
        out.extend_from_slice(b"{\"EvaluationResults\":[");
        let mut first = true;
        run(input, cache, &mut |row| {
            if !first {
                out.push(b',');
            }
            first = false;
            row.write(&mut out);
        })
        .ok()?;
        out.extend_from_slice(b"],\"IsTruncated\":false}");
        Some(String::from_utf8(out).unwrap())
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut all: String = (0u8..0x80).map(char::from).collect();
        all.push_str("é€😀\u{2028}/");
        for s in [all.as_str(), "", "plain", "a\"b\\c"] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap());
        }
    }

    const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;

    const ACTIONS: &[&str] =
        &["s3:GetObject", "s3:PutObject", "iam:GetUser", "sts:AssumeRole", "kms:Decrypt", "sts:GetCallerIdentity"];
    const RESOURCES: &[&str] = &[
        "arn:aws:s3:::bucket/key",
        "arn:aws:s3:::bucket/home/alice/x",
        "arn:aws:iam::111122223333:role/target",
        "arn:aws:kms:us-east-1:111122223333:key/k1",
        "*",
    ];
    const CALLERS: &[&str] = &[
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:sts::111122223333:assumed-role/dev/s1",
        "arn:aws:iam::111122223333:role/dev",
        "arn:aws:iam::444455556666:user/carol",
        "arn:aws:iam::111122223333:root",
    ];

    fn docs(rng: &mut Rng, ty: PolicyType, max: usize) -> Value {
        json!((0..rng.below(max + 1)).map(|_| policy_doc(rng, ty, 4)).collect::<Vec<_>>())
    }

    fn input(rng: &mut Rng) -> Value {
        let mut v = json!({
            "PolicyInputList": docs(rng, PolicyType::Identity, 3),
            "ActionNames": (0..1 + rng.below(2)).map(|_| *rng.pick(ACTIONS)).collect::<Vec<_>>(),
        });
        if rng.chance(30) {
            v["PermissionsBoundaryPolicyInputList"] = docs(rng, PolicyType::PermissionsBoundary, 2);
        }
        if rng.chance(20) {
            v["ServiceControlPolicyInputList"] = docs(rng, PolicyType::Scp, 2);
        }
        if rng.chance(20) {
            v["ResourceControlPolicyInputList"] = docs(rng, PolicyType::Rcp, 2);
        }
        if rng.chance(20) {
            v["SessionPolicyInputList"] = docs(rng, PolicyType::Session, 2);
        }
        if rng.chance(50) {
            let ty = if rng.chance(30) { PolicyType::Trust } else { PolicyType::Resource };
            v["ResourcePolicy"] = json!(policy_doc(rng, ty, 3));
        }
        if rng.chance(80) {
            v["ResourceArns"] = json!((0..1 + rng.below(2)).map(|_| *rng.pick(RESOURCES)).collect::<Vec<_>>());
        }
        if rng.chance(70) {
            v["CallerArn"] = json!(*rng.pick(CALLERS));
        }
        if rng.chance(40) {
            v["ResourceOwner"] = json!(*rng.pick(&["111122223333", "arn:aws:iam::444455556666:root"]));
        }
        if rng.chance(60) {
            let entries: Vec<Value> = (0..rng.below(4))
                .map(|_| {
                    let key =
                        *rng.pick(&["aws:SourceIp", "aws:PrincipalTag/team", "aws:username", "AWS:SecureTransport"]);
                    let vals = *rng.pick(&[&["10.1.2.3"][..], &["blue", "red"], &["alice"], &["true"], &[]]);
                    json!({"ContextKeyName": key, "ContextKeyValues": vals, "ContextKeyType": "string"})
                })
                .collect();
            v["ContextEntries"] = json!(entries);
        }
        v
    }

    /// Other spellings of the same input: the direct path must take them or hand them over.
    fn variants(v: &Value, rng: &mut Rng) -> Vec<String> {
        let compact = v.to_string();
        let mut out = vec![compact.clone(), serde_json::to_string_pretty(v).unwrap().replace('\n', " ")];
        // Escapes serde_json does not write: `\/`, `\u00XX`.
        out.push(compact.replace(":*", ":\\u002a").replace("/", "\\/"));
        // Pretty-printed documents (positions on several lines).
        let mut pretty = v.clone();
        if let Some(list) = pretty["PolicyInputList"].as_array_mut() {
            for d in list {
                let doc: Value = serde_json::from_str(d.as_str().unwrap()).unwrap();
                *d = json!(serde_json::to_string_pretty(&doc).unwrap());
            }
        }
        out.push(pretty.to_string());
        // The same documents in another order (recognised from the line before, at other places).
        let mut reversed = v.clone();
        if let Some(list) = reversed["PolicyInputList"].as_array_mut() {
            list.reverse();
        }
        out.push(reversed.to_string());
        // Shapes the direct path hands over (or errors): each must give serde_json's output.
        let mut odd = v.clone();
        match rng.below(9) {
            0 => odd["MaxItems"] = json!(100),
            1 => odd["Marker"] = json!({"a": [1.5e3, true, null, "x\u{1}"]}),
            2 => {
                odd["ContextEntries"] =
                    json!([{"ContextKeyName": "aws:MultiFactorAuthAge", "ContextKeyValues": [3600]}])
            }
            3 => odd["ActionNames"] = json!(null),
            4 => odd["PolicyInputList"] = json!([7]),
            5 => odd["ContextEntries"] = json!(null),
            6 => odd["CallerArn"] = json!("nope"),
            7 => odd["PolicyInputList"] = json!(["{\"Version\":\"2012-10-17\",\"Statement\":{}}"]),
            _ => odd["ResourcePolicy"] = json!(null),
        }
        out.push(odd.to_string());
        let s = compact.replacen("\"ActionNames\"", "\"ActionNames\":[\"iam:GetUser\"],\"ActionNames\"", 1);
        out.push(s);
        out.push(compact.replacen("\"ActionNames\"", "\"\\u0041ctionNames\"", 1));
        out.push(format!("{compact} x"));
        out.push(compact[..compact.len() / 2].to_string());
        out
    }

    #[test]
    fn direct_path_writes_what_serde_json_writes() {
        let mut rng = Rng::new(7);
        let mut cache = PolicyCache::default();
        let mut taken = 0;
        let mut lines = Vec::new();
        for _ in 0..400 {
            let v = input(&mut rng);
            for (i, line) in variants(&v, &mut rng).into_iter().enumerate() {
                let expected = slow(&line);
                // Twice: the second time its documents are the previous line's.
                for _ in 0..2 {
                    match fast(&line, &mut cache) {
                        Some(got) => {
                            assert_eq!(got, expected, "{line}");
                            taken += 1;
                        }
                        None => assert!(i >= 5 || expected.starts_with("{\"Error\""), "not taken: {line}"),
                    }
                }
                lines.push((line, expected));
            }
        }
        let positions = lines.iter().filter(|(_, e)| e.contains("StartPosition")).count();
        let errors = lines.iter().filter(|(_, e)| e.starts_with("{\"Error\"")).count();
        assert!(taken > 2000 && positions > 300 && errors < lines.len() / 2, "{taken} {positions} {errors}");
        // The whole CLI stream, in order.
        let text: String = lines.iter().map(|(l, _)| format!("{l}\n")).collect();
        let mut out = Vec::new();
        run_cli(text.as_bytes(), &mut out, true).unwrap();
        let got: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        let want: Vec<&str> = lines.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(got, want);
    }

    /// A reader that hands out one line per read and notes how many answers had been flushed by then.
    struct LineByLine {
        lines: Vec<String>,
        flushed: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
        answers_before_read: Vec<usize>,
    }

    impl Read for LineByLine {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let done = self.flushed.borrow().iter().filter(|&&b| b == b'\n').count();
            self.answers_before_read.push(done);
            if self.lines.is_empty() {
                return Ok(0);
            }
            let line = self.lines.remove(0);
            buf[..line.len()].copy_from_slice(line.as_bytes());
            Ok(line.len())
        }
    }

    struct Flushing {
        pending: Vec<u8>,
        flushed: std::rc::Rc<std::cell::RefCell<Vec<u8>>>,
    }

    impl Write for Flushing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.pending.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            self.flushed.borrow_mut().append(&mut self.pending);
            Ok(())
        }
    }

    #[test]
    fn jsonl_answers_each_line_before_reading_the_next() {
        let line = json!({"ActionNames": ["s3:GetObject"], "PolicyInputList": [ALLOW]}).to_string() + "\n";
        let flushed = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut reader = LineByLine {
            lines: vec![line.clone(), line.clone(), line],
            flushed: flushed.clone(),
            answers_before_read: Vec::new(),
        };
        let writer = Flushing { pending: Vec::new(), flushed: flushed.clone() };
        assert_eq!(run_cli(&mut reader, writer, true).unwrap(), 0);
        assert_eq!(reader.answers_before_read, vec![0, 1, 2, 3]);
        assert_eq!(flushed.borrow().iter().filter(|&&b| b == b'\n').count(), 3);
    }
}
