//! A plain reference evaluator: the documented flow transcribed as directly as possible, with
//! naive matching (dynamic-programming wildcards over characters, variables substituted into
//! text, no precompilation, no fast paths). It shares only the parser (and the date/number
//! parsers) with the fast evaluator in `eval.rs`; the differential tests hold the two equal.
//!
//! Not for production use: it is slow on purpose.

use crate::condition::{parse_date, parse_number, ConditionOperator as O, SetQualifier};
use crate::policy::{Effect, PrincipalType, Statement, Version};
use crate::{Context, EvalDecision, Policy, PolicySet, PolicyType, Principal, PrincipalKind, Request};

/// One pattern character: a literal, or a wildcard.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Pc {
    Lit(char),
    Star,
    One,
}

/// Substitute policy variables; `None` if a variable has no value and no default.
/// `wild`: unescaped `*`/`?` in the policy text are wildcards.
fn substitute(text: &str, ctx: &Context, vars: bool, wild: bool) -> Option<Vec<Pc>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if vars && chars[i] == '$' && chars.get(i + 1) == Some(&'{') {
            if let Some(close) = chars[i..].iter().position(|&c| c == '}') {
                let inner: String = chars[i + 2..i + close].iter().collect();
                let literal: Option<String> = match inner.as_str() {
                    "*" | "?" | "$" => Some(inner.clone()),
                    _ => {
                        let (key, default) = match inner.split_once(',') {
                            Some((k, d)) => {
                                let d = d.trim();
                                if d.len() >= 2 && d.starts_with('\'') && d.ends_with('\'') {
                                    (k.trim().to_string(), Some(d[1..d.len() - 1].to_string()))
                                } else {
                                    (String::new(), None)
                                }
                            }
                            None => (inner.trim().to_string(), None),
                        };
                        if key.is_empty() || key.contains(['$', '{', '\'']) {
                            None // not a variable: literal text
                        } else {
                            match ctx.get(&key) {
                                Some(vals) if vals.len() == 1 => Some(vals[0].clone()),
                                _ => match default {
                                    Some(d) => Some(d),
                                    None => return None,
                                },
                            }
                        }
                    }
                };
                if let Some(l) = literal {
                    out.extend(l.chars().map(Pc::Lit));
                    i += close + 1;
                    continue;
                }
            }
        }
        let c = chars[i];
        out.push(match c {
            '*' if wild => Pc::Star,
            '?' if wild => Pc::One,
            _ => Pc::Lit(c),
        });
        i += 1;
    }
    Some(out)
}

/// Classic dynamic-programming wildcard match.
fn wild_match(pat: &[Pc], text: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let (n, m) = (pat.len(), t.len());
    let mut dp = vec![vec![false; m + 1]; n + 1];
    dp[0][0] = true;
    for i in 1..=n {
        if pat[i - 1] == Pc::Star {
            dp[i][0] = dp[i - 1][0];
        }
        for j in 1..=m {
            dp[i][j] = match pat[i - 1] {
                Pc::Star => dp[i - 1][j] || dp[i][j - 1],
                Pc::One => dp[i - 1][j - 1],
                Pc::Lit(c) => dp[i - 1][j - 1] && c == t[j - 1],
            };
        }
    }
    dp[n][m]
}

fn lower(p: Vec<Pc>) -> Vec<Pc> {
    p.into_iter()
        .flat_map(|c| match c {
            Pc::Lit(ch) => ch.to_lowercase().map(Pc::Lit).collect::<Vec<_>>(),
            other => vec![other],
        })
        .collect()
}

/// Split into at most six ARN pieces at colons outside `${...}`.
fn arn_pieces(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_var = false;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if out.len() < 5 {
            if !in_var && c == '$' && chars.get(i + 1) == Some(&'{') {
                in_var = true;
            } else if in_var && c == '}' {
                in_var = false;
            } else if !in_var && c == ':' {
                out.push(std::mem::take(&mut cur));
                i += 1;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    out.push(cur);
    out
}

/// ARN matching: each of the six segments on its own; the last pattern piece takes the rest.
fn arn_match(pattern: &str, arn: &str, ctx: &Context, vars: bool) -> bool {
    if pattern == "*" {
        return true;
    }
    let pp = arn_pieces(pattern);
    let ap: Vec<&str> = arn.splitn(6, ':').collect();
    if ap.len() < pp.len() || pp.len() == 1 {
        return substitute(pattern, ctx, vars, true).is_some_and(|p| wild_match(&p, arn));
    }
    for (i, piece) in pp.iter().enumerate() {
        let text = if i + 1 == pp.len() { ap[i..].join(":") } else { ap[i].to_string() };
        match substitute(piece, ctx, vars, true) {
            Some(p) if wild_match(&p, &text) => {}
            _ => return false,
        }
    }
    true
}

fn ip_in(cidr: &str, ip: &str) -> Option<bool> {
    use std::net::IpAddr;
    let to_bits = |a: IpAddr| -> (u32, u128) {
        match a {
            IpAddr::V4(v) => (32, u128::from(u32::from(v))),
            IpAddr::V6(v) => match v.to_ipv4_mapped() {
                Some(v4) => (32, u128::from(u32::from(v4))),
                None => (128, u128::from(v)),
            },
        }
    };
    let (net, len) = match cidr.trim().split_once('/') {
        Some((n, l)) => (n, Some(l)),
        None => (cidr.trim(), None),
    };
    let (w1, n) = to_bits(net.parse().ok()?);
    let len: u32 = match len {
        Some(l) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => l.parse().ok()?,
        Some(_) => return None,
        None => w1,
    };
    if len > w1 {
        return None;
    }
    let (w2, a) = to_bits(ip.trim().parse().ok()?);
    if w1 != w2 {
        return Some(false);
    }
    for bit in 0..len {
        let shift = w1 - 1 - bit;
        if (n >> shift) & 1 != (a >> shift) & 1 {
            return Some(false);
        }
    }
    Some(true)
}

/// Does one request value match one policy value under a positive operator?
fn positive(op: O, policy_value: &str, v: &str, ctx: &Context, vars: bool) -> bool {
    let text = |wild: bool| substitute(policy_value, ctx, vars, wild);
    let plain = || {
        text(false).map(|p| {
            p.iter()
                .map(|c| match c {
                    Pc::Lit(ch) => *ch,
                    Pc::Star => '*',
                    Pc::One => '?',
                })
                .collect::<String>()
        })
    };
    match op {
        O::StringEquals | O::BinaryEquals => plain().is_some_and(|p| p == v),
        O::StringEqualsIgnoreCase => plain().is_some_and(|p| p.to_lowercase() == v.to_lowercase()),
        O::StringLike => text(true).is_some_and(|p| wild_match(&p, v)),
        O::Bool => plain().is_some_and(|p| p.to_lowercase() == v.to_lowercase()),
        O::ArnEquals | O::ArnLike => arn_match(policy_value, v, ctx, vars),
        O::IpAddress => plain().and_then(|p| ip_in(&p, v)).unwrap_or(false),
        O::NumericEquals
        | O::NumericLessThan
        | O::NumericLessThanEquals
        | O::NumericGreaterThan
        | O::NumericGreaterThanEquals => {
            let (Some(p), Some(x)) = (plain().and_then(|p| parse_number(&p)), parse_number(v)) else { return false };
            match op {
                O::NumericEquals => x == p,
                O::NumericLessThan => x < p,
                O::NumericLessThanEquals => x <= p,
                O::NumericGreaterThan => x > p,
                _ => x >= p,
            }
        }
        O::DateEquals | O::DateLessThan | O::DateLessThanEquals | O::DateGreaterThan | O::DateGreaterThanEquals => {
            let (Some(p), Some(x)) = (plain().and_then(|p| parse_date(&p)), parse_date(v)) else { return false };
            match op {
                O::DateEquals => x == p,
                O::DateLessThan => x < p,
                O::DateLessThanEquals => x <= p,
                O::DateGreaterThan => x > p,
                _ => x >= p,
            }
        }
        _ => false,
    }
}

/// The positive operator behind a negated one, and whether the request value must be well formed.
/// A check that a request value is well formed.
type WellFormed = Option<fn(&str) -> bool>;

fn negation(op: O) -> Option<(O, WellFormed)> {
    Some(match op {
        O::StringNotEquals => (O::StringEquals, None),
        O::StringNotEqualsIgnoreCase => (O::StringEqualsIgnoreCase, None),
        O::StringNotLike => (O::StringLike, None),
        O::ArnNotEquals => (O::ArnEquals, None),
        O::ArnNotLike => (O::ArnLike, None),
        O::NumericNotEquals => (O::NumericEquals, Some(|v| parse_number(v).is_some())),
        O::DateNotEquals => (O::DateEquals, Some(|v| parse_date(v).is_some())),
        O::NotIpAddress => (O::IpAddress, Some(|v| v.trim().parse::<std::net::IpAddr>().is_ok())),
        _ => return None,
    })
}

/// Whether one request value satisfies the clause's operator against the policy values.
fn value_ok(op: O, values: &[String], v: &str, ctx: &Context, vars: bool) -> bool {
    match negation(op) {
        Some((pos, wf)) => wf.is_none_or(|f| f(v)) && !values.iter().any(|p| positive(pos, p, v, ctx, vars)),
        None => values.iter().any(|p| positive(op, p, v, ctx, vars)),
    }
}

fn conditions_hold(st: &Statement, ctx: &Context, vars: bool) -> bool {
    st.conditions.iter().all(|c| {
        let present: Option<&[String]> = ctx.get(&c.key).filter(|v| !v.is_empty());
        if c.op.base == O::Null {
            // "Null": true means the key is absent.
            let want = if present.is_none() { "true" } else { "false" };
            return c.values.iter().any(|v| v.to_lowercase() == want);
        }
        let negated = negation(c.op.base).is_some();
        match present {
            None => {
                if c.op.if_exists {
                    true
                } else {
                    match c.op.set {
                        SetQualifier::ForAllValues => true,
                        SetQualifier::ForAnyValue => false,
                        SetQualifier::None => negated,
                    }
                }
            }
            Some(vals) => match c.op.set {
                SetQualifier::ForAllValues => vals.iter().all(|v| value_ok(c.op.base, &c.values, v, ctx, vars)),
                SetQualifier::ForAnyValue => vals.iter().any(|v| value_ok(c.op.base, &c.values, v, ctx, vars)),
                SetQualifier::None if negated => vals.iter().all(|v| value_ok(c.op.base, &c.values, v, ctx, vars)),
                SetQualifier::None => vals.iter().any(|v| value_ok(c.op.base, &c.values, v, ctx, vars)),
            },
        }
    })
}

/// How a principal entry names the caller: 3 = the caller itself, 2 = its role, 1 = its account.
fn names(ty: PrincipalType, value: &str, p: &Principal) -> u8 {
    let has_account = matches!(
        p.kind,
        PrincipalKind::Root | PrincipalKind::User | PrincipalKind::AssumedRole { .. } | PrincipalKind::FederatedUser
    );
    match ty {
        PrincipalType::Star => 3,
        PrincipalType::Aws if value == "*" => 3,
        PrincipalType::Aws => {
            if has_account && (value == p.account || value.ends_with(&format!(":iam::{}:root", p.account))) {
                1
            } else if has_account && value == p.arn {
                3
            } else if matches!(&p.kind, PrincipalKind::AssumedRole { role_arn } if role_arn == value) {
                2
            } else {
                0
            }
        }
        PrincipalType::Service => match &p.kind {
            PrincipalKind::Service { name } if name.to_lowercase() == value.to_lowercase() => 3,
            _ => 0,
        },
        PrincipalType::Federated => match &p.kind {
            PrincipalKind::WebIdentity { provider } | PrincipalKind::Saml { provider } if provider == value => 3,
            _ => 0,
        },
        PrincipalType::CanonicalUser => 0,
    }
}

/// 0 = statement does not apply to the principal; otherwise the strength of the naming.
/// `bounded`: the caller has a permissions boundary.
fn principal_level(st: &Statement, p: &Principal, bounded: bool) -> u8 {
    let Some(pb) = &st.principal else { return 3 };
    if !pb.not {
        return pb.entries.iter().map(|e| names(e.ty, &e.value, p)).max().unwrap_or(0);
    }
    // NotPrincipal (reference_policies_elements_notprincipal.html): AWS looks at the account,
    // then at the user (or the role, then the session). Which of those layers are listed?
    let star = |e: &crate::policy::PrincipalEntry| e.ty == PrincipalType::Star || e.value == "*";
    let acct = pb.entries.iter().any(|e| star(e) || (e.ty == PrincipalType::Aws && names(e.ty, &e.value, p) == 1));
    let itself = pb.entries.iter().any(|e| star(e) || (e.ty == PrincipalType::Aws && names(e.ty, &e.value, p) >= 2));
    let (acct_listed, itself_listed) = match &p.kind {
        PrincipalKind::Root => (acct, acct),
        PrincipalKind::User | PrincipalKind::FederatedUser | PrincipalKind::AssumedRole { .. } => (acct, itself),
        _ => (true, pb.entries.iter().any(|e| star(e) || names(e.ty, &e.value, p) == 3)),
    };
    match st.effect {
        // Deny: denies every layer not listed, and always an IAM user or role with a boundary.
        Effect::Deny => {
            let iam_with_boundary =
                bounded && matches!(p.kind, PrincipalKind::User | PrincipalKind::AssumedRole { .. });
            if iam_with_boundary || !(acct_listed && itself_listed) {
                3
            } else {
                0
            }
        }
        // Allow (unsupported by AWS, still evaluated offline): the principal itself when it is not
        // listed; otherwise its account when that is not listed; otherwise nothing.
        Effect::Allow => {
            if !itself_listed {
                3
            } else if !acct_listed {
                1
            } else {
                0
            }
        }
    }
}

/// For one policy: (some Allow applies, some Deny applies, strongest principal naming of an Allow).
fn check(policy: &Policy, req: &Request<'_>, bounded: bool) -> (bool, bool, u8) {
    let vars = policy.version() == Version::V2012_10_17;
    let (mut allow, mut deny, mut level) = (false, false, 0);
    for st in policy.statements() {
        let action = req.action.to_lowercase();
        let action_listed = st.action.values.iter().any(|a| {
            let pat = lower(substitute(a, req.context, false, true).unwrap_or_default());
            wild_match(&pat, &action)
        });
        if action_listed == st.action.not {
            continue;
        }
        if let Some(r) = &st.resource {
            let listed = r.values.iter().any(|pat| arn_match(pat, req.resource, req.context, vars));
            if listed == r.not {
                continue;
            }
        }
        let lv = principal_level(st, req.principal, bounded);
        if lv == 0 {
            continue;
        }
        if !conditions_hold(st, req.context, vars) {
            continue;
        }
        match st.effect {
            Effect::Allow => {
                allow = true;
                level = level.max(lv);
            }
            Effect::Deny => deny = true,
        }
    }
    (allow, deny, level)
}

/// The documented flow, step by step.
pub fn evaluate(set: &PolicySet<'_>, req: &Request<'_>) -> EvalDecision {
    let p = req.principal;
    let account_principal = matches!(
        p.kind,
        PrincipalKind::Root | PrincipalKind::User | PrincipalKind::AssumedRole { .. } | PrincipalKind::FederatedUser
    );
    // 0. Rules above the policies: GetCallerIdentity needs no permission.
    if account_principal && !p.account.is_empty() && crate::aws_rules::needs_no_permission(req.action) {
        return EvalDecision::Allowed;
    }
    let is_service = matches!(p.kind, PrincipalKind::Service { .. });
    // A root principal has session policies only in a privileged root session (`sts:AssumeRoot`).
    let is_session =
        matches!(p.kind, PrincipalKind::AssumedRole { .. } | PrincipalKind::FederatedUser | PrincipalKind::Root);
    let bounded = set.boundary.is_some();

    // Gather each policy type's answer.
    let mut any_deny = false;
    let mut level_ok = |levels: &Vec<Vec<&Policy>>| -> bool {
        let mut all = true;
        for level in levels {
            let mut allowed = false;
            for pol in level {
                let (a, d, _) = check(pol, req, bounded);
                allowed |= a;
                any_deny |= d;
            }
            all &= allowed;
        }
        all
    };
    let scps_allow = is_service || level_ok(&set.scps);
    // RCPs: RCPFullAWSAccess sits on every level, so only their denies count.
    if !is_service && crate::aws_rules::rcps_apply_to(req.action) {
        level_ok(&set.rcps);
    }
    let (res_allow, res_deny, res_level) = set.resource.map(|r| check(r, req, bounded)).unwrap_or((false, false, 0));
    let mut id_allow = p.kind == PrincipalKind::Root;
    let mut id_deny = false;
    if account_principal {
        for pol in &set.identity {
            let (a, d, _) = check(pol, req, bounded);
            id_allow |= a;
            id_deny |= d;
        }
    }
    let (b_allow, b_deny) = match set.boundary {
        Some(b) if account_principal && p.kind != PrincipalKind::Root => {
            let (a, d, _) = check(b, req, bounded);
            (a, d)
        }
        _ => (true, false),
    };
    let (s_allow, s_deny) = match &set.session {
        Some(list) if is_session => {
            let (mut a, mut d) = (false, false);
            for pol in list {
                let (x, y, _) = check(pol, req, bounded);
                a |= x;
                d |= y;
            }
            (a, d)
        }
        _ => (p.kind != PrincipalKind::FederatedUser, false),
    };

    // 1. Deny evaluation.
    if any_deny || res_deny || id_deny || b_deny || s_deny {
        return EvalDecision::ExplicitDeny;
    }
    // 2. RCPs, 3. SCPs.
    if !scps_allow {
        return EvalDecision::ImplicitDeny;
    }
    // A resource AWS owns cannot be changed by any customer policy.
    if crate::aws_rules::aws_owned_change(req.action, req.resource) {
        return EvalDecision::ImplicitDeny;
    }
    // The root user cannot assume roles.
    if p.kind == PrincipalKind::Root && crate::aws_rules::root_cannot_assume(req.action) {
        return EvalDecision::ImplicitDeny;
    }
    let res_allow_level = if res_allow { res_level } else { 0 };
    // Principals that are not IAM identities need the resource (trust) policy.
    if !account_principal {
        return if res_allow_level > 0 { EvalDecision::Allowed } else { EvalDecision::ImplicitDeny };
    }
    let same_account = req.resource_account.is_none_or(|a| a == p.account);
    if !same_account {
        // Cross-account: both sides must allow.
        let ok = res_allow_level > 0 && id_allow && b_allow && s_allow;
        return if ok { EvalDecision::Allowed } else { EvalDecision::ImplicitDeny };
    }
    // 4. Resource-based policies (same account).
    if res_allow_level == 3 {
        return EvalDecision::Allowed;
    }
    // A trust policy or a KMS key policy must allow even inside the account.
    let must_allow = set.resource_is_trust
        || crate::aws_rules::resource_policy_must_allow(req.action, req.resource, set.resource.is_some());
    if must_allow && res_allow_level == 0 {
        return EvalDecision::ImplicitDeny;
    }
    // 5. Identity-based policies (a grant to the role ARN stands in for them).
    if !(id_allow || res_allow_level == 2) {
        return EvalDecision::ImplicitDeny;
    }
    // 6. Permissions boundary, 7. session policies.
    if !b_allow || !s_allow {
        return EvalDecision::ImplicitDeny;
    }
    EvalDecision::Allowed
}

/// Which policy types exist, for documentation.
pub const TYPES: &[PolicyType] = &[
    PolicyType::Identity,
    PolicyType::Resource,
    PolicyType::Trust,
    PolicyType::PermissionsBoundary,
    PolicyType::Session,
    PolicyType::Scp,
    PolicyType::Rcp,
];
