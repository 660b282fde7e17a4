//! Direct access to one resource: which IAM users and roles of some accounts the engine allows
//! actions on it, as they stand (no escalation moves). IAM Access Analyzer's internal access
//! findings ask this; the same [`Decider`] as the graph answers, with identity policies,
//! boundaries, the resource's policy and (unless left out) SCPs and RCPs.

use std::collections::{BTreeMap, BTreeSet};

use tessera_policy::{Effect, Policy, PrincipalType};
use tessera_services::Services;

use crate::build::{actor, may_allow, role_caller, user_caller};
use crate::decide::{Actor, Ask, Decider};
use crate::inventory::Inventory;
use crate::GraphError;

/// The principals of some accounts, gathered once, and the engine to ask about them.
pub struct Reach<'s> {
    decider: Decider<'s>,
    actors: Vec<Actor>,
    /// Whether each actor is a role (else a user).
    roles: Vec<bool>,
}

/// One resource and the questions asked about it.
pub struct Target<'a> {
    /// The account owning the resource.
    pub account: &'a str,
    /// Its resource-based policy (a bucket policy), if any.
    pub policy: Option<&'a Policy>,
    /// (action, resource ARN) pairs: an object-level action on an object ARN, ...
    pub questions: &'a [(&'a str, String)],
}

/// What one principal may do on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The user's or role's ARN.
    pub principal: String,
    /// Its account.
    pub account: String,
    /// A role (else an IAM user).
    pub is_role: bool,
    /// The actions allowed, sorted.
    pub actions: Vec<String>,
    /// Condition keys the Allow needs, with a value that meets each (empty: none).
    pub conditions: BTreeMap<String, String>,
}

impl<'s> Reach<'s> {
    /// Gather the users and roles of `accounts` (sessions of roles as `AssumeRole` makes them).
    pub fn new(services: &'s Services, now_millis: i64, accounts: &BTreeSet<String>) -> Result<Reach<'s>, GraphError> {
        let inv = {
            let read = services.store.read()?;
            Inventory::load(read.as_ref())?
        };
        let now = now_millis.div_euclid(1000);
        let (mut actors, mut roles) = (Vec::new(), Vec::new());
        for u in inv.users.iter().filter(|u| accounts.contains(&u.account)) {
            actors.push(actor(services, u.arn(), user_caller(u), now_millis)?);
            roles.push(false);
        }
        for r in inv.roles.iter().filter(|r| accounts.contains(&r.account)) {
            if r.path.starts_with("/aws-service-role/") {
                continue;
            }
            actors.push(actor(services, r.arn(), role_caller(r, now), now_millis)?);
            roles.push(true);
        }
        Ok(Reach { decider: Decider::new(services), actors, roles })
    }

    /// Leave SCPs and RCPs out of the questions (`true`) or apply them (the default).
    pub fn without_control_policies(&mut self, without: bool) {
        self.decider.without_control_policies = without;
    }

    /// Every principal the engine allows at least one question of `target`, with what it is
    /// allowed. A question is asked only when an identity policy of the principal could allow
    /// the action or the resource policy names the principal (or everyone): otherwise nothing
    /// could allow it.
    pub fn who(&mut self, target: &Target<'_>) -> Result<Vec<Access>, GraphError> {
        let mut out = Vec::new();
        for (i, actor) in self.actors.iter().enumerate() {
            let named = target.policy.is_some_and(|p| names(p, actor));
            let mut actions = BTreeSet::new();
            let mut conditions = BTreeMap::new();
            for (action, resource) in target.questions {
                if actions.contains(*action) || !(named || may_allow(actor, action)) {
                    continue;
                }
                let ask = Ask { resource_policy: target.policy, ..Ask::new(action, resource, target.account) };
                if let Some(grant) = self.decider.ask(actor, &ask)? {
                    actions.insert(action.to_string());
                    conditions.extend(grant.values);
                }
            }
            if !actions.is_empty() {
                out.push(Access {
                    principal: actor.arn.clone(),
                    account: actor.account.clone(),
                    is_role: self.roles[i],
                    actions: actions.into_iter().collect(),
                    conditions,
                });
            }
        }
        Ok(out)
    }
}

/// Whether an Allow statement of a resource policy names `actor`: its ARN, its account, or
/// everyone (`*`, `NotPrincipal`).
fn names(policy: &Policy, actor: &Actor) -> bool {
    let root = format!("arn:aws:iam::{}:root", actor.account);
    policy.statements().iter().filter(|s| s.effect == Effect::Allow).any(|st| {
        let Some(block) = &st.principal else { return false };
        block.not
            || block.entries.iter().any(|e| match e.ty {
                PrincipalType::Star => true,
                PrincipalType::Aws => {
                    e.value == "*" || e.value == actor.arn || e.value == actor.account || e.value == root
                }
                _ => false,
            })
    })
}
