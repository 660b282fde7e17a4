//! `GetDelegationRequest` with `DelegationPermissionCheck=true`: does the caller hold the
//! permissions the request asks for? (IAM API Reference, `API_GetDelegationRequest.html`:
//! "calculates whether the caller has sufficient permissions to cover the asks from this
//! delegation request"; `PermissionCheckResult` is "an approximate result": `ALLOWED`, `DENIED`,
//! or `UNSURE`, "most likely for cases when the caller has permissions with conditions".)
//!
//! Each `Allow` statement of the request's `PermissionPolicy` is an ask: every action it names
//! (a wildcard expanded over the known actions of the generated service reference) on every
//! resource it names. The policy engine decides each ask for the caller with the caller's own
//! policies, boundary, session policies and SCPs (the authorizer's own gathering,
//! [`crate::Services::principal_side`]) in the context of this call. An ask refused is `DENIED`
//! unless conditions could change the answer (the ask is conditional, or a conditional `Allow`
//! of the caller's could grant it): then `UNSURE`. `NotAction`/`NotResource` asks, and asks
//! that expand past [`MAX_DECISIONS`], are `UNSURE`. `Deny` statements only narrow the request
//! and ask for nothing. The check is synchronous: the status is always `COMPLETED`.

use tessera_policy::{evaluate, Effect, EvalDecision, PolicyType, Request, Statement};
use tessera_wire::AwsError;

use super::super::entities::Cx;
use super::DelegationRequest;
use crate::authz::AuthzRequest;

/// `PermissionCheckResult` values.
pub mod result {
    /// The caller holds every permission asked for.
    pub const ALLOWED: &str = "ALLOWED";
    /// The caller lacks at least one.
    pub const DENIED: &str = "DENIED";
    /// Conditions (or unbounded asks) keep the answer open.
    pub const UNSURE: &str = "UNSURE";
}

/// Most engine decisions one check makes (`*` on one resource is about one per known action).
pub const MAX_DECISIONS: usize = 30_000;

/// The concrete actions an `Action` value names: itself without wildcards; else the known
/// actions it matches (the value itself when it matches none, for services the reference does
/// not know).
pub fn expand_action(value: &str) -> Vec<String> {
    if !value.contains(['*', '?']) {
        return vec![value.to_string()];
    }
    let known: Vec<String> =
        tessera_policy::validate::known_actions_matching(value).into_iter().map(str::to_string).collect();
    if known.is_empty() {
        vec![value.to_string()]
    } else {
        known
    }
}

/// Whether a conditional `Allow` statement could grant `action` (its conditions failed in this
/// call's context, but may hold in another).
fn conditional_grant(s: &Statement, action: &str) -> bool {
    s.effect == Effect::Allow && !s.conditions.is_empty() && s.action.covers(action)
}

/// The check for the caller of `cx` against request `r`: one of [`result`].
pub(crate) fn permission_check(cx: &Cx<'_>, r: &DelegationRequest) -> Result<&'static str, AwsError> {
    let Ok(asked) = tessera_policy::parse(&r.permission_policy, PolicyType::Identity) else {
        return Ok(result::UNSURE);
    };
    let side = cx.services.principal_side(cx.call)?;
    let org = side.org().clone();
    let context = side.context(cx.call, &org, &AuthzRequest::default());
    let set = side.policy_set(&org, None, false);
    let account = cx.account();
    let mut unsure = false;
    let mut decisions = 0usize;
    for s in asked.statements().iter().filter(|s| s.effect == Effect::Allow) {
        let resources = match &s.resource {
            Some(res) if !res.not && !s.action.not => &res.values,
            _ => {
                unsure = true;
                continue;
            }
        };
        let actions: Vec<String> = s.action.values.iter().flat_map(|v| expand_action(v)).collect();
        for action in &actions {
            for resource in resources {
                decisions += 1;
                if decisions > MAX_DECISIONS {
                    return Ok(result::UNSURE);
                }
                let request = Request {
                    principal: &side.principal,
                    action,
                    resource,
                    resource_account: Some(account),
                    context: &context,
                };
                let d = evaluate(&set, &request);
                if d.is_allowed() {
                    continue;
                }
                let open = !s.conditions.is_empty()
                    || (d.decision == EvalDecision::ImplicitDeny
                        && side
                            .identity_policies()
                            .iter()
                            .flat_map(|p| p.statements())
                            .any(|cs| conditional_grant(cs, action)));
                if !open {
                    return Ok(result::DENIED);
                }
                unsure = true;
            }
        }
    }
    Ok(if unsure { result::UNSURE } else { result::ALLOWED })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_expand_over_known_actions() {
        assert_eq!(expand_action("iam:ListUsers"), vec!["iam:ListUsers".to_string()]);
        let lists = expand_action("iam:ListUser*");
        assert!(lists.iter().any(|a| a == "iam:ListUsers"), "{lists:?}");
        assert!(lists.iter().all(|a| a.to_ascii_lowercase().starts_with("iam:listuser")), "{lists:?}");
        assert_eq!(expand_action("nosuchservice:Do*"), vec!["nosuchservice:Do*".to_string()]);
    }
}
