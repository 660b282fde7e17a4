//! The policy grammar (IAM User Guide, "Grammar of the IAM JSON policy language" and "IAM JSON
//! policy element reference"), compiled for fast evaluation.

use std::sync::Arc;

use crate::condition::{Clause, Operator};
use crate::json::{self, Json};
use crate::pattern::{ArnPattern, Glob};
use crate::{PolicyError, PolicyType};

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    /// As written in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// The `Version` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: policy variables are substituted.
    V2012_10_17,
    /// `2008-10-17`: no policy variables.
    V2008_10_17,
    /// No `Version` element: treated as 2008-10-17.
    Missing,
}

/// The kind of a principal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `"Principal": "*"`.
    Star,
    Aws,
    Service,
    Federated,
    CanonicalUser,
}

/// One principal named by a `Principal` / `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalEntry {
    pub ty: PrincipalType,
    pub value: String,
}

/// A `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalBlock {
    /// `NotPrincipal`.
    pub not: bool,
    pub entries: Vec<PrincipalEntry>,
}

/// An `Action` / `NotAction` element.
#[derive(Debug, Clone)]
pub struct ActionBlock {
    pub not: bool,
    /// The actions as written.
    pub values: Vec<String>,
    pub(crate) pats: Vec<Glob>,
    /// Bloom mask of the literal service prefixes of `pats` (all ones when a prefix has a
    /// wildcard, or for `NotAction`): a request whose service bit is not set cannot match `Action`.
    pub(crate) service_mask: u64,
}

impl ActionBlock {
    /// Whether this `Action` (or `NotAction`) element covers `action`: one of its values matches
    /// it ([`crate::action_matches`]), or, for `NotAction`, none does.
    pub fn covers(&self, action: &str) -> bool {
        self.values.iter().any(|v| crate::action_matches(v, action)) != self.not
    }
}

/// The bloom bit of a (lower-cased) service prefix.
pub(crate) fn service_bit(service: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in service.bytes() {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    1u64 << (h % 64)
}

fn service_mask(actions: &[String], not: bool) -> u64 {
    if not {
        return u64::MAX;
    }
    let mut mask = 0u64;
    for a in actions {
        match a.split_once(':') {
            Some((svc, _)) if !svc.contains(['*', '?']) => mask |= service_bit(svc),
            _ => return u64::MAX,
        }
    }
    mask
}

/// A `Resource` / `NotResource` element.
#[derive(Debug, Clone)]
pub struct ResourceBlock {
    pub not: bool,
    /// The resources as written.
    pub values: Vec<String>,
    pub(crate) pats: Vec<ArnPattern>,
}

/// One compiled statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
    pub principal: Option<PrincipalBlock>,
    pub action: ActionBlock,
    /// `None` where the policy type has no Resource element (trust policies).
    pub resource: Option<ResourceBlock>,
    pub conditions: Vec<Clause>,
}

#[derive(Debug)]
struct Inner {
    ty: PolicyType,
    version: Version,
    id: Option<String>,
    statements: Vec<Statement>,
}

/// A parsed, validated and compiled policy. Cheap to clone (shared); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Policy {
    inner: Arc<Inner>,
    label: Arc<str>,
}

impl Policy {
    /// Name the policy for explanations (a policy name or ARN).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Arc::from(label.into());
        self
    }

    /// The label given by [`Policy::with_label`] (empty by default).
    pub fn label(&self) -> &str {
        &self.label
    }

    pub(crate) fn label_arc(&self) -> &Arc<str> {
        &self.label
    }

    /// The statements in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.inner.statements
    }

    /// The policy type it was parsed as.
    pub fn policy_type(&self) -> PolicyType {
        self.inner.ty
    }

    /// The `Version` element.
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.inner.id.as_deref()
    }

    /// Every ARN named in `Principal`/`NotPrincipal` `AWS` entries (IAM checks that these exist
    /// when a trust policy is written, answering `Invalid principal in policy`).
    pub fn principal_arns(&self) -> Vec<&str> {
        self.statements()
            .iter()
            .filter_map(|s| s.principal.as_ref())
            .flat_map(|p| p.entries.iter())
            .filter(|e| e.ty == PrincipalType::Aws && e.value.starts_with("arn:"))
            .map(|e| e.value.as_str())
            .collect()
    }
}

const SYNTAX: &str = "Syntax errors in policy.";
const LEGACY: &str = "The policy failed legacy parsing";

fn err(msg: impl Into<String>) -> PolicyError {
    PolicyError { message: msg.into() }
}

fn obj_get<'a>(members: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn no_duplicates(members: &[(String, Json)]) -> Result<(), PolicyError> {
    for (i, (k, _)) in members.iter().enumerate() {
        if members[..i].iter().any(|(k2, _)| k2 == k) {
            return Err(err(SYNTAX));
        }
    }
    Ok(())
}

/// A string or a non-empty... list of strings (`Action`, `Resource`, principal values).
fn string_list(v: &Json) -> Result<Vec<String>, PolicyError> {
    match v {
        Json::Str(s) => Ok(vec![s.clone()]),
        Json::Arr(items) => items.iter().map(|i| i.as_str().map(str::to_string).ok_or_else(|| err(SYNTAX))).collect(),
        _ => Err(err(SYNTAX)),
    }
}

/// Condition values may be strings, numbers or booleans, or lists of them.
fn condition_values(v: &Json) -> Result<Vec<String>, PolicyError> {
    fn one(v: &Json) -> Result<String, PolicyError> {
        match v {
            Json::Str(s) => Ok(s.clone()),
            Json::Num(n) => Ok(n.clone()),
            Json::Bool(b) => Ok(b.to_string()),
            _ => Err(err(SYNTAX)),
        }
    }
    match v {
        Json::Arr(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn is_iam_type(ty: PolicyType) -> bool {
    matches!(ty, PolicyType::Identity | PolicyType::PermissionsBoundary | PolicyType::Session | PolicyType::Trust)
}

const PARTITIONS: &[&str] =
    &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];

fn has_pattern(s: &str) -> bool {
    s.contains(['*', '?']) || s.contains("${")
}

/// Validate an `Action` value: `*` or `vendor:action`.
fn check_action(a: &str) -> Result<(), PolicyError> {
    if a == "*" {
        return Ok(());
    }
    let parts: Vec<&str> = a.split(':').collect();
    match parts.len() {
        1 => Err(err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")),
        2 => {
            let vendor = parts[0];
            if vendor.is_empty() || !vendor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
                Err(err(format!("Vendor {vendor} is not valid")))
            } else {
                Ok(())
            }
        }
        _ => Err(err("Actions/Condition can contain only one colon.")),
    }
}

/// Validate a `Resource` value: `*` or an ARN.
fn check_resource(r: &str) -> Result<(), PolicyError> {
    if r == "*" {
        return Ok(());
    }
    let not_arn = || err(format!("Resource {r} must be in ARN format or \"*\"."));
    let parts: Vec<&str> = r.splitn(6, ':').collect();
    if parts.len() < 2 || parts[0] != "arn" {
        return Err(not_arn());
    }
    let partition = parts[1];
    if !PARTITIONS.contains(&partition) && !has_pattern(partition) {
        let seg = |i: usize| parts.get(i).copied().filter(|s| !s.is_empty()).unwrap_or("*");
        return Err(err(format!(
            "Partition \"{partition}\" is not valid for resource \"arn:{partition}:{}:{}:{}:{}\".",
            seg(2),
            seg(3),
            seg(4),
            seg(5)
        )));
    }
    if parts.len() < 3 {
        return Err(err("Resource vendor must be fully qualified and cannot contain regexes."));
    }
    let service = parts[2];
    let region = parts.get(3).copied().unwrap_or("");
    if service == "iam" && !region.is_empty() {
        return Err(err(format!("IAM resource {r} cannot contain region information.")));
    }
    // Buckets and objects (`arn:aws:s3:::b/k`) have no region; access points, access grants,
    // jobs and Storage Lens ARNs (`arn:aws:s3:REGION:ACCOUNT:accesspoint/...`) have one and an account.
    let account = parts.get(4).copied().unwrap_or("");
    if service == "s3" && !region.is_empty() && account.is_empty() {
        return Err(err(format!("Resource {r} can not contain region information.")));
    }
    Ok(())
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether an `AWS` principal value is well formed: `*`, an account id, or an IAM/STS principal ARN.
pub(crate) fn valid_aws_principal(v: &str) -> bool {
    if v == "*" || is_account_id(v) {
        return true;
    }
    let parts: Vec<&str> = v.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || !PARTITIONS.contains(&parts[1]) || !parts[3].is_empty() {
        return false;
    }
    if !is_account_id(parts[4]) || v.contains(['*', '?']) {
        return false;
    }
    let res = parts[5];
    match parts[2] {
        "iam" => res == "root" || res.starts_with("user/") || res.starts_with("role/"),
        "sts" => res.starts_with("assumed-role/") || res.starts_with("federated-user/"),
        _ => false,
    }
}

fn invalid_principal(key: &str, value: &str) -> PolicyError {
    err(format!("Invalid principal in policy: \"{key}\":\"{value}\""))
}

fn parse_principal(v: &Json, not: bool, ty: PolicyType) -> Result<PrincipalBlock, PolicyError> {
    let mut entries = Vec::new();
    match v {
        Json::Str(s) if s == "*" => entries.push(PrincipalEntry { ty: PrincipalType::Star, value: "*".into() }),
        Json::Str(s) => return Err(invalid_principal("AWS", s)),
        Json::Obj(members) => {
            no_duplicates(members)?;
            if members.is_empty() {
                return Err(err(SYNTAX));
            }
            for (k, val) in members {
                let pty = match k.as_str() {
                    "AWS" => PrincipalType::Aws,
                    "Service" => PrincipalType::Service,
                    "Federated" => PrincipalType::Federated,
                    "CanonicalUser" => PrincipalType::CanonicalUser,
                    other => {
                        let shown = val.as_str().unwrap_or("");
                        return Err(invalid_principal(other, shown));
                    }
                };
                let values = string_list(val)?;
                if values.is_empty() {
                    return Err(err(SYNTAX));
                }
                for value in values {
                    let ok = match pty {
                        PrincipalType::Aws => valid_aws_principal(&value),
                        PrincipalType::Service => {
                            !value.is_empty()
                                && value != "*"
                                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
                        }
                        PrincipalType::Federated => !value.is_empty() && !value.contains(['*', ' ']),
                        _ => !value.is_empty(),
                    };
                    if !ok {
                        let key = if pty == PrincipalType::Service { "SERVICE" } else { k.as_str() };
                        return Err(invalid_principal(key, &value));
                    }
                    entries.push(PrincipalEntry { ty: pty, value });
                }
            }
        }
        _ => return Err(err(SYNTAX)),
    }
    if ty == PolicyType::Rcp && (not || entries.iter().any(|e| e.ty != PrincipalType::Star)) {
        // RCPs accept only "Principal": "*" (AWS Organizations User Guide, "RCP syntax").
        return Err(err(SYNTAX));
    }
    Ok(PrincipalBlock { not, entries })
}

/// Parse and validate `document` as a policy of type `ty`. The size quota is checked separately
/// (see [`crate::non_whitespace_len`] and [`crate::size_limit`]).
pub fn parse(document: &str, ty: PolicyType) -> Result<Policy, PolicyError> {
    let root = json::parse(document).map_err(|_| err(SYNTAX))?;
    let Json::Obj(top) = &root else { return Err(err(SYNTAX)) };
    no_duplicates(top)?;
    for (k, _) in top {
        if !matches!(k.as_str(), "Version" | "Id" | "Statement") {
            return Err(err(SYNTAX));
        }
    }
    let version = match obj_get(top, "Version") {
        None => Version::Missing,
        Some(Json::Str(v)) if v == "2012-10-17" => Version::V2012_10_17,
        Some(Json::Str(v)) if v == "2008-10-17" => Version::V2008_10_17,
        Some(Json::Str(_)) => return Err(err(LEGACY)),
        Some(_) => return Err(err(SYNTAX)),
    };
    // "Every RCP must include a Version element with the value "2012-10-17"" (AWS Organizations,
    // "RCP syntax").
    if ty == PolicyType::Rcp && version != Version::V2012_10_17 {
        return Err(err("RCPs must have the Version 2012-10-17."));
    }
    let id = match obj_get(top, "Id") {
        None => None,
        Some(Json::Str(s)) => Some(s.clone()),
        Some(_) => return Err(err(SYNTAX)),
    };
    let raw_statements: Vec<&Json> = match obj_get(top, "Statement") {
        Some(Json::Arr(items)) if !items.is_empty() => items.iter().collect(),
        // An SCP or RCP with no statements is a document Organizations keeps; it allows nothing
        // (an SCP level that holds only it denies everything) and denies nothing (docs/POLICY_ENGINE.md).
        Some(Json::Arr(_)) if matches!(ty, PolicyType::Scp | PolicyType::Rcp) => Vec::new(),
        Some(s @ Json::Obj(_)) => vec![s],
        _ => return Err(err(SYNTAX)),
    };
    let vars = version == Version::V2012_10_17;
    let mut statements = Vec::with_capacity(raw_statements.len());
    for raw in raw_statements {
        statements.push(parse_statement(raw, ty, vars)?);
    }
    if is_iam_type(ty) {
        for (i, s) in statements.iter().enumerate() {
            if let Some(sid) = &s.sid {
                if statements[..i].iter().any(|o| o.sid.as_deref() == Some(&**sid)) {
                    return Err(err("Statement IDs (SID) in a single policy must be unique."));
                }
            }
        }
    }
    Ok(Policy { inner: Arc::new(Inner { ty, version, id, statements }), label: Arc::from("") })
}

fn parse_statement(raw: &Json, ty: PolicyType, vars: bool) -> Result<Statement, PolicyError> {
    let Json::Obj(m) = raw else { return Err(err(SYNTAX)) };
    no_duplicates(m)?;
    for (k, _) in m {
        if !matches!(
            k.as_str(),
            "Sid"
                | "Effect"
                | "Principal"
                | "NotPrincipal"
                | "Action"
                | "NotAction"
                | "Resource"
                | "NotResource"
                | "Condition"
        ) {
            return Err(err(SYNTAX));
        }
    }
    let sid = match obj_get(m, "Sid") {
        None => None,
        Some(Json::Str(s)) => {
            if is_iam_type(ty) && !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(err(
                    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
                ));
            }
            Some(Arc::from(s.as_str()))
        }
        Some(_) => return Err(err(SYNTAX)),
    };
    let effect = match obj_get(m, "Effect") {
        Some(Json::Str(e)) if e == "Allow" => Effect::Allow,
        Some(Json::Str(e)) if e == "Deny" => Effect::Deny,
        Some(Json::Str(_)) => return Err(err(LEGACY)),
        _ => return Err(err(SYNTAX)),
    };

    // Principal
    let p = obj_get(m, "Principal");
    let np = obj_get(m, "NotPrincipal");
    if p.is_some() && np.is_some() {
        return Err(err(SYNTAX));
    }
    let principal = match ty {
        PolicyType::Identity | PolicyType::PermissionsBoundary | PolicyType::Session | PolicyType::Scp => {
            if p.is_some() || np.is_some() {
                return Err(err("Policy document should not specify a principal."));
            }
            None
        }
        // "You cannot use the NotPrincipal element in ... an IAM role trust policy", and "SCPs and
        // RCPs don't support the NotPrincipal element" (reference_policies_elements_notprincipal.html).
        PolicyType::Trust | PolicyType::Rcp if np.is_some() => return Err(err("Has prohibited field NotPrincipal")),
        PolicyType::Trust | PolicyType::Resource | PolicyType::Rcp => match (p, np) {
            (Some(v), None) => Some(parse_principal(v, false, ty)?),
            (None, Some(v)) => Some(parse_principal(v, true, ty)?),
            _ => return Err(err("Missing required field Principal")),
        },
    };

    // Action
    let a = obj_get(m, "Action");
    let na = obj_get(m, "NotAction");
    // The RCP syntax has no NotAction element (AWS Organizations, "RCP syntax", element table).
    if ty == PolicyType::Rcp && na.is_some() {
        return Err(err("Has prohibited field NotAction"));
    }
    let (not_action, action_values) = match (a, na) {
        (Some(_), Some(_)) => return Err(err(SYNTAX)),
        (Some(v), None) => (false, string_list(v)?),
        (None, Some(v)) => (true, string_list(v)?),
        (None, None) => return Err(err("Policy statement must contain actions.")),
    };
    if action_values.is_empty() {
        return Err(err("Policy statement must contain actions."));
    }
    for a in &action_values {
        check_action(a)?;
    }
    let action_pats = action_values.iter().map(|a| Glob::new(a, true, false, true)).collect();
    let mask = service_mask(&action_values, not_action);
    let action = ActionBlock { not: not_action, values: action_values, pats: action_pats, service_mask: mask };

    // Resource
    let r = obj_get(m, "Resource");
    let nr = obj_get(m, "NotResource");
    if r.is_some() && nr.is_some() {
        return Err(err(SYNTAX));
    }
    let resource = if ty == PolicyType::Trust {
        if r.is_some() {
            return Err(err("Has prohibited field Resource"));
        }
        if nr.is_some() {
            return Err(err("Has prohibited field NotResource"));
        }
        None
    } else {
        let (not, values) = match (r, nr) {
            (Some(v), None) => (false, string_list(v)?),
            (None, Some(v)) => (true, string_list(v)?),
            _ => return Err(err("Policy statement must contain resources.")),
        };
        if values.is_empty() {
            return Err(err("Policy statement must contain resources."));
        }
        for v in &values {
            check_resource(v)?;
        }
        let pats = values.iter().map(|v| ArnPattern::new(v, vars)).collect();
        Some(ResourceBlock { not, values, pats })
    };

    // Condition
    let mut conditions = Vec::new();
    match obj_get(m, "Condition") {
        None => {}
        Some(Json::Obj(ops)) => {
            no_duplicates(ops)?;
            for (op_name, block) in ops {
                let op = Operator::parse(op_name).ok_or_else(|| err(SYNTAX))?;
                let Json::Obj(keys) = block else { return Err(err(SYNTAX)) };
                no_duplicates(keys)?;
                for (key, vals) in keys {
                    if !key.contains(':') {
                        return Err(err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."));
                    }
                    let values = condition_values(vals)?;
                    conditions.push(Clause::new(op, key, values, vars));
                }
            }
        }
        Some(_) => return Err(err(SYNTAX)),
    }
    Ok(Statement { sid, effect, principal, action, resource, conditions })
}
