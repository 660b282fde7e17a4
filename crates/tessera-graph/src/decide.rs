//! Asking the engine one question for one principal, and finding the condition keys an Allow
//! needs.
//!
//! Each question is first decided on the baseline context: the global keys the authorizer
//! derives for a call of the principal (`Services`' `PrincipalSide::context`, as on the
//! server), with `aws:SourceIp` left out (unknown) and the move's own keys. When that is denied,
//! the keys the deciding policies test that the caller or its circumstances could supply (MFA,
//! `sts:ExternalId`, source IP, request and resource tags, ...: everything but the facts about
//! the principal, the resource and their organizations) get a value that satisfies them, taken
//! from the policies; if the engine then allows, each key is dropped in turn and kept only if
//! the Allow needs it. The keys kept label the edge.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tessera_policy::{evaluate, ConditionOperator, Decision, Effect, Policy, PolicySet, Request};
use tessera_services::authz::{AuthzRequest, OrgView, PrincipalSide};
use tessera_services::{Call, Services};
use tessera_wire::AwsError;

/// One principal of the graph, with its policies gathered once.
pub(crate) struct Actor {
    /// The principal's ARN as the graph names it (a role's ARN, not a session's).
    pub arn: String,
    pub account: String,
    /// The call the questions are asked in.
    pub call: Call,
    pub side: PrincipalSide,
}

/// One question: may the actor do `action` on `resource`?
pub(crate) struct Ask<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub resource_account: &'a str,
    /// The role's trust policy, for `sts:AssumeRole`.
    pub trust: Option<&'a Policy>,
    /// A resource-based policy that is not a trust policy (a bucket policy).
    pub resource_policy: Option<&'a Policy>,
    /// The move's own condition keys (fixed, never labels).
    pub context: Vec<(String, Vec<String>)>,
}

impl<'a> Ask<'a> {
    /// A question without a trust policy or keys of its own.
    pub fn new(action: &'a str, resource: &'a str, resource_account: &'a str) -> Ask<'a> {
        Ask { action, resource, resource_account, trust: None, resource_policy: None, context: Vec::new() }
    }

    /// With the move's condition key `key` = `value`.
    pub fn with(mut self, key: &str, value: &str) -> Ask<'a> {
        self.context.push((key.to_string(), vec![value.to_string()]));
        self
    }
}

/// Facts about a principal, its resource and their organizations: the caller cannot change
/// them, so a condition on them is never a label (an Allow that needs them is simply denied).
const FACT_KEYS: &[&str] = &[
    "aws:principalarn",
    "aws:principalaccount",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principaltype",
    "aws:principalisawsservice",
    "aws:userid",
    "aws:username",
    "aws:resourceaccount",
    "aws:resourceorgid",
    "aws:resourceorgpaths",
    "aws:viaawsservice",
    "aws:currenttime",
    "aws:epochtime",
    "aws:tokenissuetime",
];

/// Whether a condition on `key` can be satisfied by the caller or its circumstances.
fn labelable(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    !FACT_KEYS.contains(&lower.as_str()) && !lower.starts_with("aws:principaltag/")
}

/// A value of `key` that satisfies `clause` in a statement of `effect`, if one can be read
/// off the policy: the listed value for an Allow with a positive operator (or a Deny with a
/// negated one: it denies outside the listed values).
fn favourable_value(effect: Effect, op: ConditionOperator, key: &str, value: &str) -> Option<String> {
    let lower = key.to_ascii_lowercase();
    if lower == "aws:multifactorauthpresent" {
        return Some("true".into());
    }
    if lower == "aws:multifactorauthage" {
        return Some("0".into());
    }
    let allow = effect == Effect::Allow;
    use ConditionOperator as O;
    match op {
        O::Bool => {
            let v = value.eq_ignore_ascii_case("true");
            Some(if v == allow { "true" } else { "false" }.into())
        }
        O::Null => {
            // Allow when not null / Deny when null: the key must be present.
            let wants_null = value.eq_ignore_ascii_case("true");
            (wants_null != allow).then(|| "true".into())
        }
        _ if op.is_negated() == allow => None,
        O::IpAddress | O::NotIpAddress => Some(value.split('/').next().unwrap_or(value).to_string()),
        O::NumericLessThan | O::NumericLessThanEquals => Some("0".into()),
        O::StringLike | O::ArnLike | O::StringNotLike | O::ArnNotLike => Some(value.replace('*', "").replace('?', "a")),
        _ => Some(value.to_string()),
    }
}

/// The labelable keys the policies of `set` test, each with a favourable value (the first
/// found), in first-seen order; keys in `fixed` are left alone.
fn candidates(set: &PolicySet<'_>, fixed: &[(String, Vec<String>)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let levels = set.scps.iter().chain(set.rcps.iter()).flatten();
    let all = set.identity.iter().chain(set.boundary.iter()).chain(set.resource.iter()).chain(levels);
    let sessions = set.session.iter().flatten();
    for policy in all.chain(sessions) {
        for st in policy.statements() {
            for clause in &st.conditions {
                let key = clause.key.as_str();
                if !labelable(key)
                    || fixed.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
                    || out.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
                {
                    continue;
                }
                let value = clause
                    .values
                    .iter()
                    .find_map(|v| favourable_value(st.effect, clause.op.base, key, v))
                    .or_else(|| clause.values.is_empty().then(String::new));
                if let Some(v) = value {
                    out.push((key.to_string(), v));
                }
            }
        }
    }
    out
}

/// Asks the engine, for many principals, through the same gathering as the server.
pub(crate) struct Decider<'s> {
    services: &'s Services,
    orgs: HashMap<String, Arc<OrgView>>,
    /// Leave SCPs and RCPs out of every question (an account-level Access Analyzer zone of
    /// trust does not evaluate them).
    pub without_control_policies: bool,
}

/// An Allow of the engine: the condition keys it needs and the statements that granted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grant {
    /// Condition keys that must be supplied (empty: allowed as is), sorted.
    pub conditions: Vec<String>,
    /// The Allow statements that matched, as [`statement_name`] writes them.
    pub because: Vec<String>,
    /// Each key of `conditions` with the value that satisfied it.
    pub values: BTreeMap<String, String>,
}

impl Grant {
    /// Add another Allow's keys and statements (a move of several actions needs them all).
    pub fn extend(&mut self, other: Grant) {
        self.conditions.extend(other.conditions);
        self.conditions.sort();
        self.conditions.dedup();
        self.values.extend(other.values);
        for b in other.because {
            if !self.because.contains(&b) {
                self.because.push(b);
            }
        }
    }
}

/// What the engine answered: `None` denied, `Some(grant)` allowed.
pub(crate) type Answer = Option<Grant>;

/// `<policy> (<its type>) statement <Sid or #index>`: a statement that allowed, for a path's
/// explanation.
fn statement_name(d: &Decision) -> Vec<String> {
    d.matched
        .iter()
        .filter(|m| m.effect == Effect::Allow)
        .map(|m| {
            let which = match &m.sid {
                Some(sid) if !sid.is_empty() => format!("\"{sid}\""),
                _ => format!("#{}", m.statement_index + 1),
            };
            format!("{} ({}) statement {which}", m.policy_label, m.policy_type.phrase())
        })
        .collect()
}

impl<'s> Decider<'s> {
    pub fn new(services: &'s Services) -> Decider<'s> {
        Decider { services, orgs: HashMap::new(), without_control_policies: false }
    }

    fn org(&mut self, account: &str) -> Result<Arc<OrgView>, AwsError> {
        if let Some(o) = self.orgs.get(account) {
            return Ok(o.clone());
        }
        let o = self.services.org_view(account)?;
        self.orgs.insert(account.to_string(), o.clone());
        Ok(o)
    }

    /// Ask `ask` for `actor`, labelling the Allow with the keys it needs.
    pub fn ask(&mut self, actor: &Actor, ask: &Ask<'_>) -> Result<Answer, AwsError> {
        self.ask_as(actor, ask, None, true)
    }

    /// Whether the engine allows `ask` as is (no condition key supplied), with `extra`
    /// identity policies added to the actor's (a what-if: "after this move").
    pub fn allows_as_is(&mut self, actor: &Actor, ask: &Ask<'_>, extra: Option<&[&Policy]>) -> Result<bool, AwsError> {
        Ok(self.ask_as(actor, ask, extra, false)?.is_some())
    }

    fn ask_as(
        &mut self,
        actor: &Actor,
        ask: &Ask<'_>,
        extra: Option<&[&Policy]>,
        label: bool,
    ) -> Result<Answer, AwsError> {
        let org = self.org(ask.resource_account)?;
        let req = AuthzRequest {
            action: ask.action,
            resource: ask.resource,
            resource_account: Some(ask.resource_account),
            resource_policy: None,
            is_trust_policy: ask.trust.is_some(),
            context: ask.context.clone(),
        };
        let mut ctx = actor.side.context(&actor.call, &org, &req);
        ctx.remove("aws:SourceIp");
        let mut set = actor.side.policy_set(&org, ask.trust.or(ask.resource_policy), ask.trust.is_some());
        if let Some(extra) = extra {
            set.identity.extend_from_slice(extra);
        }
        if self.without_control_policies {
            set.scps.clear();
            set.rcps.clear();
        }
        let allowed = |ctx: &tessera_policy::Context| {
            let request = Request {
                principal: &actor.side.principal,
                action: ask.action,
                resource: ask.resource,
                resource_account: Some(ask.resource_account),
                context: ctx,
            };
            evaluate(&set, &request)
        };
        let first = allowed(&ctx);
        if first.is_allowed() {
            return Ok(Some(Grant { because: statement_name(&first), ..Grant::default() }));
        }
        if !label {
            return Ok(None);
        }
        let keys = candidates(&set, &ask.context);
        if keys.is_empty() {
            return Ok(None);
        }
        let baseline: Vec<Option<Vec<String>>> = keys.iter().map(|(k, _)| ctx.get(k).map(<[String]>::to_vec)).collect();
        for (k, v) in &keys {
            ctx.insert_one(k, v.clone());
        }
        let with_all = allowed(&ctx);
        if !with_all.is_allowed() {
            return Ok(None);
        }
        let because = statement_name(&with_all);
        let mut needed = Vec::new();
        let mut values = BTreeMap::new();
        for ((k, v), base) in keys.iter().zip(baseline) {
            match &base {
                Some(b) => ctx.insert(k, b.iter().cloned()),
                None => ctx.remove(k),
            }
            if !allowed(&ctx).is_allowed() {
                ctx.insert_one(k, v.clone());
                needed.push(k.clone());
                values.insert(k.clone(), v.clone());
            }
        }
        needed.sort();
        Ok(Some(Grant { conditions: needed, because, values }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn favourable_values_follow_the_effect() {
        use ConditionOperator as O;
        assert_eq!(favourable_value(Effect::Allow, O::StringEquals, "sts:ExternalId", "x1").as_deref(), Some("x1"));
        assert_eq!(favourable_value(Effect::Deny, O::StringEquals, "aws:RequestTag/k", "v"), None);
        assert_eq!(
            favourable_value(Effect::Deny, O::NotIpAddress, "aws:SourceIp", "10.0.0.0/8").as_deref(),
            Some("10.0.0.0")
        );
        assert_eq!(favourable_value(Effect::Deny, O::Bool, "aws:SecureTransport", "false").as_deref(), Some("true"));
        assert_eq!(
            favourable_value(Effect::Deny, O::Bool, "aws:MultiFactorAuthPresent", "false").as_deref(),
            Some("true")
        );
        assert_eq!(
            favourable_value(Effect::Allow, O::StringLike, "sts:RoleSessionName", "ops-*").as_deref(),
            Some("ops-")
        );
        assert_eq!(favourable_value(Effect::Allow, O::Null, "aws:TagKeys", "false").as_deref(), Some("true"));
        assert_eq!(favourable_value(Effect::Allow, O::Null, "aws:TagKeys", "true"), None);
    }

    #[test]
    fn facts_are_not_labels() {
        assert!(labelable("aws:MultiFactorAuthPresent"));
        assert!(labelable("sts:ExternalId"));
        assert!(labelable("aws:ResourceTag/team"));
        assert!(!labelable("aws:PrincipalOrgID"));
        assert!(!labelable("aws:PrincipalTag/team"));
    }
}
