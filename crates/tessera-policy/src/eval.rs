//! The evaluation logic of the IAM User Guide, "Policy evaluation logic"
//! (reference_policies_evaluation-logic.html), "Cross-account policy evaluation logic"
//! (reference_policies_evaluation-logic-cross-account.html), "Permissions boundaries for IAM
//! entities" (access_policies_boundaries.html), "Session policies" (access_policies.html#policies_session),
//! and the AWS Organizations pages on SCPs and RCPs.

use std::borrow::Cow;
use std::sync::Arc;

use crate::context::Context;
use crate::pattern::SplitArn;
use crate::policy::{Effect, Policy, PrincipalBlock, PrincipalType, Statement};
use crate::PolicyType;

/// What kind of principal makes the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// The account's root user (`arn:aws:iam::ACCOUNT:root`).
    Root,
    /// An IAM user.
    User,
    /// A role session; `role_arn` is the role's ARN with its path.
    AssumedRole { role_arn: String },
    /// A `GetFederationToken` session (`arn:aws:sts::ACCOUNT:federated-user/NAME`).
    FederatedUser,
    /// A web identity (OIDC) principal calling `AssumeRoleWithWebIdentity`; `provider` is the
    /// value a trust policy's `Federated` names (OIDC provider ARN, or `accounts.google.com`...).
    WebIdentity { provider: String },
    /// A SAML principal calling `AssumeRoleWithSAML`; `provider` is the SAML provider ARN.
    Saml { provider: String },
    /// An AWS service principal (`ec2.amazonaws.com`).
    Service { name: String },
    /// An unauthenticated caller.
    Anonymous,
}

/// The principal making a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The principal's ARN (the session ARN for role sessions; the service name for services).
    pub arn: String,
    /// The principal's account id (empty for services and anonymous callers).
    pub account: String,
    pub kind: PrincipalKind,
}

impl Principal {
    /// Derive a principal from an ARN: account root, IAM user, assumed-role session (the role
    /// ARN is taken without a path) or federated user. `None` for anything else.
    pub fn from_arn(arn: &str) -> Option<Principal> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            return None;
        }
        let (partition, service, account, res) = (parts[1], parts[2], parts[4], parts[5]);
        let kind = match service {
            "iam" if res == "root" => PrincipalKind::Root,
            "iam" if res.starts_with("user/") => PrincipalKind::User,
            "sts" if res.starts_with("assumed-role/") => {
                let mut it = res["assumed-role/".len()..].splitn(2, '/');
                let role = it.next().filter(|r| !r.is_empty())?;
                it.next().filter(|s| !s.is_empty())?;
                PrincipalKind::AssumedRole { role_arn: format!("arn:{partition}:iam::{account}:role/{role}") }
            }
            "sts" if res.starts_with("federated-user/") => PrincipalKind::FederatedUser,
            _ => return None,
        };
        Some(Principal { arn: arn.to_string(), account: account.to_string(), kind })
    }

    /// Whether this principal carries identity-based permissions of an account (root, users,
    /// role sessions, federated users).
    pub fn has_identity_side(&self) -> bool {
        matches!(
            self.kind,
            PrincipalKind::Root
                | PrincipalKind::User
                | PrincipalKind::AssumedRole { .. }
                | PrincipalKind::FederatedUser
        )
    }
}

/// One authorization question.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `service:Action` (case-insensitive).
    pub action: &'a str,
    /// The resource ARN, or `*`.
    pub resource: &'a str,
    /// The account owning the resource; `None` means the principal's account.
    pub resource_account: Option<&'a str>,
    pub context: &'a Context,
}

/// The policies that apply to a request.
#[derive(Debug, Clone, Default)]
pub struct PolicySet<'a> {
    /// Identity-based policies: a user's inline, attached and group policies, or a role's policies.
    pub identity: Vec<&'a Policy>,
    /// The permissions boundary (`None`: no boundary).
    pub boundary: Option<&'a Policy>,
    /// `Some` when the session was created with session policies (inline and/or `PolicyArns`):
    /// the session-policy gate applies and every listed policy is consulted (any Allow counts).
    pub session: Option<Vec<&'a Policy>>,
    /// SCPs of the principal's account, one entry per level from the root to the account; each
    /// level must allow. Empty: not in an organization, or the management account (exempt).
    pub scps: Vec<Vec<&'a Policy>>,
    /// RCPs of the resource's account, per level like `scps`; only their denies count (every level
    /// also holds `RCPFullAWSAccess`, which cannot be detached).
    pub rcps: Vec<Vec<&'a Policy>>,
    /// The resource-based policy, or the role trust policy.
    pub resource: Option<&'a Policy>,
    /// `resource` is a role trust policy (it must allow explicitly).
    pub resource_is_trust: bool,
}

/// The three outcomes of IAM evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvalDecision {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl EvalDecision {
    /// As `SimulateCustomPolicy` writes it (`allowed`, `explicitDeny`, `implicitDeny`).
    pub fn as_str(self) -> &'static str {
        match self {
            EvalDecision::Allowed => "allowed",
            EvalDecision::ExplicitDeny => "explicitDeny",
            EvalDecision::ImplicitDeny => "implicitDeny",
        }
    }
}

/// A statement whose action, resource, principal and conditions all matched the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub policy_label: Arc<str>,
    pub policy_type: PolicyType,
    /// Zero-based index of the statement in its policy.
    pub statement_index: usize,
    pub sid: Option<Arc<str>>,
    pub effect: Effect,
}

/// The decision with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub decision: EvalDecision,
    /// The policy type that denied (or, for `Allowed`, that granted).
    pub decided_by: Option<PolicyType>,
    /// Every statement that matched, in evaluation order.
    pub matched: Vec<MatchedStatement>,
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.decision == EvalDecision::Allowed
    }

    /// AWS's enriched clause for an AccessDenied message (IAM User Guide, "Troubleshoot access
    /// denied error messages"), e.g. `because no identity-based policy allows the s3:GetObject
    /// action` or `with an explicit deny in a service control policy`. Empty when allowed.
    pub fn reason(&self, action: &str) -> String {
        let ty = self.decided_by.unwrap_or(PolicyType::Identity);
        match self.decision {
            EvalDecision::Allowed => String::new(),
            EvalDecision::ExplicitDeny => format!("with an explicit deny in {}", ty.article_phrase()),
            EvalDecision::ImplicitDeny => format!("because no {} allows the {action} action", ty.phrase()),
        }
    }

    fn new(decision: EvalDecision, by: PolicyType, matched: Vec<MatchedStatement>) -> Decision {
        Decision { decision, decided_by: Some(by), matched }
    }
}

/// How a resource-based policy's Allow names the requester: this decides whether implicit
/// denies elsewhere still apply (policy evaluation logic, "Resource-based policies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Grant {
    None,
    /// The account (`123456789012` or `arn:aws:iam::123456789012:root`): delegation to the
    /// account's identity policies.
    Account,
    /// The role ARN for a role session: limited by boundary and session policies.
    Role,
    /// The user, session or federated-user ARN itself, `*`, a service or a federated provider.
    Direct,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Outcome {
    pub allow: bool,
    pub deny: bool,
    pub grant: Option<Grant>,
}

impl Outcome {
    fn merge(&mut self, o: Outcome) {
        self.allow |= o.allow;
        self.deny |= o.deny;
        self.grant = self.grant.max(o.grant);
    }
}

struct Ev<'r> {
    action: Cow<'r, str>,
    /// Bloom bit of the request's service prefix.
    service_bit: u64,
    arn: SplitArn<'r>,
    ctx: &'r Context,
    principal: &'r Principal,
    /// The caller has a permissions boundary (`PolicySet::boundary`).
    has_boundary: bool,
    matched: Vec<MatchedStatement>,
}

/// Whether a `NotPrincipal` element lists the caller's account and the caller itself.
struct NotPrincipalLayers {
    account: bool,
    itself: bool,
}

fn is_account_principal(v: &str, account: &str) -> bool {
    if account.is_empty() {
        return false;
    }
    if v == account {
        return true;
    }
    // arn:PARTITION:iam::ACCOUNT:root
    v.strip_suffix(":root")
        .and_then(|r| r.strip_prefix("arn:"))
        .and_then(|r| r.split_once(':'))
        .is_some_and(|(_, rest)| rest.strip_prefix("iam::") == Some(account))
}

impl Ev<'_> {
    fn entry_grant(&self, ty: PrincipalType, value: &str) -> Grant {
        let p = self.principal;
        match ty {
            PrincipalType::Star => Grant::Direct,
            PrincipalType::Aws => {
                if value == "*" {
                    return Grant::Direct;
                }
                if p.has_identity_side() && is_account_principal(value, &p.account) {
                    return Grant::Account;
                }
                if p.has_identity_side() && value == p.arn {
                    return Grant::Direct;
                }
                match &p.kind {
                    PrincipalKind::AssumedRole { role_arn } if role_arn == value => Grant::Role,
                    _ => Grant::None,
                }
            }
            PrincipalType::Service => match &p.kind {
                PrincipalKind::Service { name } if name.eq_ignore_ascii_case(value) => Grant::Direct,
                _ => Grant::None,
            },
            PrincipalType::Federated => match &p.kind {
                PrincipalKind::WebIdentity { provider } | PrincipalKind::Saml { provider } if provider == value => {
                    Grant::Direct
                }
                _ => Grant::None,
            },
            PrincipalType::CanonicalUser => Grant::None,
        }
    }

    /// Which layers of the caller's identity a `NotPrincipal` element lists. IAM User Guide,
    /// "AWS JSON policy elements: NotPrincipal" (reference_policies_elements_notprincipal.html):
    /// AWS checks the account, then the user; or the account, then the role, then the session.
    /// For a role session, the role's ARN or the session's ARN lists the principal itself; for
    /// the root user the account is the principal itself; principals without an account (services,
    /// federated providers, anonymous callers) have only themselves to be listed.
    fn not_principal_layers(&self, pb: &PrincipalBlock) -> NotPrincipalLayers {
        let p = self.principal;
        let listed = |f: &dyn Fn(PrincipalType, &str) -> bool| pb.entries.iter().any(|e| f(e.ty, &e.value));
        let aws = |t: PrincipalType| t == PrincipalType::Aws || t == PrincipalType::Star;
        let account_listed = || listed(&|t, v| aws(t) && (v == "*" || is_account_principal(v, &p.account)));
        let (account, itself) = match &p.kind {
            PrincipalKind::Root => {
                let a = account_listed();
                (a, a)
            }
            PrincipalKind::User | PrincipalKind::FederatedUser => {
                (account_listed(), listed(&|t, v| aws(t) && (v == p.arn || v == "*")))
            }
            PrincipalKind::AssumedRole { role_arn } => {
                (account_listed(), listed(&|t, v| aws(t) && (v == p.arn || v == role_arn || v == "*")))
            }
            PrincipalKind::Service { name } => {
                (true, listed(&|t, v| v == "*" || (t == PrincipalType::Service && v.eq_ignore_ascii_case(name))))
            }
            PrincipalKind::WebIdentity { provider } | PrincipalKind::Saml { provider } => {
                (true, listed(&|t, v| v == "*" || (t == PrincipalType::Federated && v == provider)))
            }
            PrincipalKind::Anonymous => (true, listed(&|_, v| v == "*")),
        };
        NotPrincipalLayers { account, itself }
    }

    /// How a statement's `Principal` or `NotPrincipal` names the caller (`Grant::None`: the
    /// statement does not apply to it).
    ///
    /// `NotPrincipal` with `Deny` applies unless every layer is listed, and always applies to an
    /// IAM user or role session that has a permissions boundary, whatever the element lists
    /// (reference_policies_elements_notprincipal.html, "Key points").
    ///
    /// `NotPrincipal` with `Allow` is not supported by AWS (same page), so services refuse it; where
    /// such a stored or simulated statement is still evaluated, it grants each layer it does not
    /// list and nothing more: a caller listed itself but not its account gets at most an account
    /// grant (which needs the caller's own identity policy), never a direct grant.
    fn principal_grant(&self, pb: &PrincipalBlock, effect: Effect) -> Grant {
        if !pb.not {
            return pb.entries.iter().map(|e| self.entry_grant(e.ty, &e.value)).max().unwrap_or(Grant::None);
        }
        let layers = self.not_principal_layers(pb);
        match effect {
            Effect::Deny => {
                let bounded = self.has_boundary
                    && matches!(self.principal.kind, PrincipalKind::User | PrincipalKind::AssumedRole { .. });
                if bounded || !(layers.account && layers.itself) {
                    Grant::Direct
                } else {
                    Grant::None
                }
            }
            Effect::Allow => {
                if !layers.itself {
                    Grant::Direct
                } else if !layers.account {
                    Grant::Account
                } else {
                    Grant::None
                }
            }
        }
    }

    /// Whether the statement applies; `Some(grant)` (grant is `Direct` where there is no principal).
    fn statement(&self, st: &Statement) -> Option<Grant> {
        if st.action.service_mask & self.service_bit == 0 {
            return None;
        }
        let a = st.action.pats.iter().any(|g| g.matches(&self.action, self.ctx, true));
        if a == st.action.not {
            return None;
        }
        if let Some(r) = &st.resource {
            let m = r.pats.iter().any(|p| p.matches(&self.arn, self.ctx));
            if m == r.not {
                return None;
            }
        }
        let grant = match &st.principal {
            None => Grant::Direct,
            Some(pb) => match self.principal_grant(pb, st.effect) {
                Grant::None => return None,
                g => g,
            },
        };
        if st.conditions.iter().all(|c| c.matches(self.ctx)) {
            Some(grant)
        } else {
            None
        }
    }

    fn policy(&mut self, p: &Policy, ty: PolicyType) -> Outcome {
        let mut out = Outcome::default();
        for (i, st) in p.statements().iter().enumerate() {
            let Some(grant) = self.statement(st) else { continue };
            self.matched.push(MatchedStatement {
                policy_label: p.label_arc().clone(),
                policy_type: ty,
                statement_index: i,
                sid: st.sid.clone(),
                effect: st.effect,
            });
            match st.effect {
                Effect::Allow => {
                    out.allow = true;
                    out.grant = out.grant.max(Some(grant));
                }
                Effect::Deny => out.deny = true,
            }
        }
        out
    }

    fn policies(&mut self, ps: &[&Policy], ty: PolicyType) -> Outcome {
        let mut out = Outcome::default();
        for p in ps {
            let o = self.policy(p, ty);
            out.merge(o);
        }
        out
    }

    fn levels(&mut self, levels: &[Vec<&Policy>], ty: PolicyType) -> (bool, bool) {
        // (every level allows, any deny)
        let (mut all_allow, mut deny) = (true, false);
        for level in levels {
            let o = self.policies(level, ty);
            all_allow &= o.allow;
            deny |= o.deny;
        }
        (all_allow, deny)
    }
}

/// Decide a request. Pure; never panics.
pub fn evaluate(set: &PolicySet<'_>, req: &Request<'_>) -> Decision {
    let p = req.principal;
    if p.has_identity_side() && !p.account.is_empty() && crate::aws_rules::needs_no_permission(req.action) {
        return Decision { decision: EvalDecision::Allowed, decided_by: None, matched: Vec::new() };
    }
    // Lower-case the action once, on the stack when it is short ASCII (it always is for AWS).
    let mut buf = [0u8; 128];
    let action: Cow<str> = if !req.action.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(req.action)
    } else if req.action.len() <= buf.len() && req.action.is_ascii() {
        let n = req.action.len();
        for (d, s) in buf.iter_mut().zip(req.action.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        match std::str::from_utf8(&buf[..n]) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(req.action.to_ascii_lowercase()),
        }
    } else {
        Cow::Owned(req.action.to_ascii_lowercase())
    };
    let service_bit = crate::policy::service_bit(action.split_once(':').map_or("", |(s, _)| s));
    let mut ev = Ev {
        action,
        service_bit,
        arn: SplitArn::new(req.resource),
        ctx: req.context,
        principal: p,
        has_boundary: set.boundary.is_some(),
        matched: Vec::new(),
    };

    let identity_side = p.has_identity_side();
    let is_root = p.kind == PrincipalKind::Root;
    let is_service = matches!(p.kind, PrincipalKind::Service { .. });

    // Evaluate every applicable policy once, collecting matched statements.
    let (scp_allow, scp_deny) =
        if set.scps.is_empty() || is_service { (true, false) } else { ev.levels(&set.scps, PolicyType::Scp) };
    // RCPs only ever deny: `RCPFullAWSAccess` is attached to every level and cannot be detached
    // (AWS Organizations, "RCP syntax" and "Resource control policies (RCPs)"), so a level whose
    // listed RCPs do not mention the action still allows it. SCPs differ: every level must allow.
    // They govern only the services that support them (`aws_rules::RCP_SERVICES`).
    let rcp_deny = if set.rcps.is_empty() || is_service || !crate::aws_rules::rcps_apply_to(&ev.action) {
        false
    } else {
        ev.levels(&set.rcps, PolicyType::Rcp).1
    };
    let res_ty = if set.resource_is_trust { PolicyType::Trust } else { PolicyType::Resource };
    let resource = set.resource.map(|r| ev.policy(r, res_ty));
    let identity = if identity_side { ev.policies(&set.identity, PolicyType::Identity) } else { Outcome::default() };
    let boundary = match set.boundary {
        Some(b) if identity_side && !is_root => Some(ev.policy(b, PolicyType::PermissionsBoundary)),
        _ => None,
    };
    let session = match (&set.session, &p.kind) {
        // A root user with session policies is a privileged root session (`sts:AssumeRoot`),
        // limited by its task policy.
        (Some(s), PrincipalKind::AssumedRole { .. } | PrincipalKind::FederatedUser | PrincipalKind::Root) => {
            Some(ev.policies(s, PolicyType::Session))
        }
        _ => None,
    };
    let matched = std::mem::take(&mut ev.matched);
    let ev_action = ev.action;

    // 1. Explicit deny in any policy.
    let denies = [
        (scp_deny, PolicyType::Scp),
        (rcp_deny, PolicyType::Rcp),
        (resource.is_some_and(|o| o.deny), res_ty),
        (identity.deny, PolicyType::Identity),
        (boundary.is_some_and(|o| o.deny), PolicyType::PermissionsBoundary),
        (session.is_some_and(|o| o.deny), PolicyType::Session),
    ];
    if let Some((_, ty)) = denies.iter().find(|(d, _)| *d) {
        return Decision::new(EvalDecision::ExplicitDeny, *ty, matched);
    }
    // 2. RCPs of the resource's account only deny (above); 3. SCPs of the principal's account.
    if !scp_allow {
        return Decision::new(EvalDecision::ImplicitDeny, PolicyType::Scp, matched);
    }

    // A resource AWS owns: no customer policy allows changing it (the resource-based side is AWS's).
    if crate::aws_rules::aws_owned_change(&ev_action, req.resource) {
        return Decision::new(EvalDecision::ImplicitDeny, res_ty, matched);
    }
    if is_root && crate::aws_rules::root_cannot_assume(&ev_action) {
        return Decision::new(EvalDecision::ImplicitDeny, PolicyType::Identity, matched);
    }

    let grant = resource.filter(|o| o.allow).and_then(|o| o.grant).unwrap_or(Grant::None);
    // A trust policy, or a KMS key policy, must allow even inside the account.
    let must_allow = set.resource_is_trust
        || crate::aws_rules::resource_policy_must_allow(&ev_action, req.resource, resource.is_some());

    // Principals without an identity side (services, web identity and SAML principals,
    // anonymous callers) are allowed only by a resource-based (or trust) policy naming them.
    if !identity_side {
        return if grant != Grant::None {
            Decision::new(EvalDecision::Allowed, res_ty, matched)
        } else {
            Decision::new(EvalDecision::ImplicitDeny, res_ty, matched)
        };
    }

    let identity_allows = is_root || identity.allow;
    let boundary_ok = boundary.is_none_or(|o| o.allow);
    let session_ok = match (&p.kind, session) {
        (_, Some(o)) => o.allow,
        // A federated user session without a session policy has no permissions of its own.
        (PrincipalKind::FederatedUser, None) => false,
        _ => true,
    };
    let resource_account = req.resource_account.unwrap_or(&p.account);
    let cross_account = resource_account != p.account;

    if cross_account {
        // Cross-account: the principal's account must allow (identity, boundary, session) and
        // the resource's policy must allow.
        if must_allow && grant == Grant::None {
            return Decision::new(EvalDecision::ImplicitDeny, res_ty, matched);
        }
        if !identity_allows {
            return Decision::new(EvalDecision::ImplicitDeny, PolicyType::Identity, matched);
        }
        if grant == Grant::None {
            return Decision::new(EvalDecision::ImplicitDeny, res_ty, matched);
        }
        if !boundary_ok {
            return Decision::new(EvalDecision::ImplicitDeny, PolicyType::PermissionsBoundary, matched);
        }
        if !session_ok {
            return Decision::new(EvalDecision::ImplicitDeny, PolicyType::Session, matched);
        }
        return Decision::new(EvalDecision::Allowed, res_ty, matched);
    }

    // Same account.
    if grant == Grant::Direct {
        // Granted to the user / session principal itself: implicit denies in identity,
        // boundary and session policies do not apply.
        return Decision::new(EvalDecision::Allowed, res_ty, matched);
    }
    if must_allow && grant == Grant::None {
        return Decision::new(EvalDecision::ImplicitDeny, res_ty, matched);
    }
    // A grant to the role ARN stands in for the identity allow but is limited by the boundary
    // and the session policies; an account grant delegates to identity policies.
    let role_grant = grant == Grant::Role;
    if !identity_allows && !role_grant {
        return Decision::new(EvalDecision::ImplicitDeny, PolicyType::Identity, matched);
    }
    if !boundary_ok {
        return Decision::new(EvalDecision::ImplicitDeny, PolicyType::PermissionsBoundary, matched);
    }
    if !session_ok {
        return Decision::new(EvalDecision::ImplicitDeny, PolicyType::Session, matched);
    }
    let by = if identity_allows && !(set.resource_is_trust) { PolicyType::Identity } else { res_ty };
    Decision::new(EvalDecision::Allowed, by, matched)
}
