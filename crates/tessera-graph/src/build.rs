//! Building the graph: gather each principal once, prefilter the targets cheaply (trust
//! policies indexed by the principals they name, identity policies by the actions they could
//! allow), then ask the engine every remaining question exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use tessera_policy::{evaluate, Context, Effect, Policy, PolicySet, PolicyType, PrincipalType};
use tessera_services::authz::compiled;
use tessera_services::model::{self, Role, User};
use tessera_services::{Call, CallMeta, Caller, CallerKind, Services, SessionInfo};

use crate::decide::{Actor, Ask, Decider, Grant};
use crate::inventory::Inventory;
use crate::query::WhoCan;
use crate::{Edge, EdgeKind, Graph, GraphError, Node};

/// The region the graph's questions are asked in (ARNs of launched resources, `aws:RequestedRegion`).
const REGION: &str = "us-east-1";
/// The role session name the graph's role sessions and `sts:AssumeRole` questions use.
const SESSION: &str = "tessera-graph";
/// AWS managed `AdministratorAccess`: the policy an attach move attaches (`iam:PolicyARN`).
const ADMIN_POLICY_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// What "`*` on `*`" is checked with: actions that control an account's identities and data,
/// and one no policy names (only `*` grants it), each on resource `*` in the principal's
/// account. Every one must be allowed, with no condition key supplied.
const ADMIN_PROBES: &[&str] = &[
    "iam:CreateUser",
    "iam:PutRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:PassRole",
    "s3:GetObject",
    "s3:PutBucketPolicy",
    "ec2:RunInstances",
    "kms:Decrypt",
    "tessera-graph:AnyAction",
];

/// Services a role can be passed to, and the actions (with their resource, `{account}` being
/// the principal's) that launch something running as the role.
const LAUNCHERS: &[(&str, &[(&str, &str)])] = &[
    ("ec2.amazonaws.com", &[("ec2:RunInstances", "arn:aws:ec2:us-east-1:{account}:instance/*")]),
    (
        "lambda.amazonaws.com",
        &[
            ("lambda:CreateFunction", "arn:aws:lambda:us-east-1:{account}:function:*"),
            ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:{account}:function:*"),
        ],
    ),
    (
        "cloudformation.amazonaws.com",
        &[("cloudformation:CreateStack", "arn:aws:cloudformation:us-east-1:{account}:stack/*/*")],
    ),
];

/// A role as a target: its trust policy compiled, and the services that may assume it.
struct Target {
    trust: Arc<Policy>,
    services: Vec<&'static str>,
}

/// Roles indexed by the principals their trust policies name.
#[derive(Default)]
struct TrustIndex {
    /// Trusting `*` (or using `NotPrincipal`): every principal is a candidate.
    open: Vec<usize>,
    by_account: HashMap<String, Vec<usize>>,
    by_arn: HashMap<String, Vec<usize>>,
}

impl TrustIndex {
    fn add(&mut self, role: usize, trust: &Policy) {
        let push = |list: &mut Vec<usize>| {
            if list.last() != Some(&role) {
                list.push(role);
            }
        };
        for st in trust.statements().iter().filter(|s| s.effect == Effect::Allow) {
            let Some(block) = &st.principal else { continue };
            if block.not {
                push(&mut self.open);
                continue;
            }
            for e in &block.entries {
                match e.ty {
                    PrincipalType::Star => push(&mut self.open),
                    PrincipalType::Aws if e.value == "*" => push(&mut self.open),
                    PrincipalType::Aws => {
                        let account = if e.value.len() == 12 && e.value.bytes().all(|b| b.is_ascii_digit()) {
                            Some(e.value.as_str())
                        } else if e.value.starts_with("arn:aws:iam::") && !e.value.ends_with(":root") {
                            push(self.by_arn.entry(e.value.clone()).or_default());
                            None
                        } else {
                            e.value.split(':').nth(4)
                        };
                        if let Some(a) = account {
                            push(self.by_account.entry(a.to_string()).or_default());
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Roles whose trust policy could allow `actor`, sorted and unique.
    fn candidates(&self, actor: &Actor, identity_may_assume: bool) -> Vec<usize> {
        let mut out: Vec<usize> = self.open.clone();
        out.extend(self.by_arn.get(&actor.arn).into_iter().flatten());
        if identity_may_assume {
            out.extend(self.by_account.get(&actor.account).into_iter().flatten());
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// Whether any Allow statement of the actor's identity policies names `action` (ignoring
/// resources and conditions): a same-account IAM move needs one, since users, groups, roles
/// and policies have no resource-based policy that could allow it instead.
pub(crate) fn may_allow(actor: &Actor, action: &str) -> bool {
    actor
        .side
        .identity_policies()
        .iter()
        .any(|p| p.statements().iter().any(|st| st.effect == Effect::Allow && st.action.covers(action)))
}

/// The services (of [`LAUNCHERS`]) that `trust` lets assume the role, as the engine decides.
fn trusted_services(trust: &Policy, account: &str) -> Vec<&'static str> {
    LAUNCHERS
        .iter()
        .map(|(svc, _)| *svc)
        .filter(|svc| {
            let principal = tessera_policy::Principal {
                arn: svc.to_string(),
                account: String::new(),
                kind: tessera_policy::PrincipalKind::Service { name: svc.to_string() },
            };
            let mut ctx = Context::new();
            ctx.insert_one("aws:SourceAccount", account);
            ctx.insert_one("aws:PrincipalIsAWSService", "true");
            let set = PolicySet { resource: Some(trust), resource_is_trust: true, ..Default::default() };
            let req = tessera_policy::Request {
                principal: &principal,
                action: "sts:AssumeRole",
                resource: "*",
                resource_account: Some(account),
                context: &ctx,
            };
            evaluate(&set, &req).is_allowed()
        })
        .collect()
}

fn meta(now_millis: i64) -> CallMeta {
    CallMeta {
        request_id: "tessera-graph".into(),
        region: REGION.into(),
        source_ip: String::new(),
        user_agent: "tessera-graph".into(),
        secure_transport: true,
        now_millis,
    }
}

pub(crate) fn user_caller(u: &User) -> Caller {
    Caller {
        account: u.account.clone(),
        arn: u.arn(),
        user_id: u.user_id.clone(),
        kind: CallerKind::User { name: u.name.clone(), path: u.path.clone(), user_id: u.user_id.clone() },
        access_key_id: String::new(),
        session: None,
    }
}

/// A session of `r` made by `AssumeRole` without MFA, session policies or tags.
pub(crate) fn role_caller(r: &Role, now: i64) -> Caller {
    Caller {
        account: r.account.clone(),
        arn: format!("arn:aws:sts::{}:assumed-role/{}/{SESSION}", r.account, r.name),
        user_id: format!("{}:{SESSION}", r.role_id),
        kind: CallerKind::AssumedRole {
            role_name: r.name.clone(),
            role_path: r.path.clone(),
            role_id: r.role_id.clone(),
            session_name: SESSION.into(),
        },
        access_key_id: String::new(),
        session: Some(SessionInfo {
            issued_at: now,
            expires_at: now + 3600,
            issued_by: "AssumeRole".into(),
            ..Default::default()
        }),
    }
}

pub(crate) fn actor(services: &Services, arn: String, caller: Caller, now_millis: i64) -> Result<Actor, GraphError> {
    let call = Call { caller, operation: "Graph".into(), meta: meta(now_millis) };
    let side = services.principal_side(&call)?;
    Ok(Actor { arn, account: call.caller.account.clone(), call, side })
}

/// Edges as they are found, merged by (from, to, kind, conditions): actions, whether the move
/// makes the target admin, the statements that allowed it.
#[derive(Default)]
struct Edges(BTreeMap<EdgeKey, (BTreeSet<String>, bool, Vec<String>)>);

/// (from, to, kind, conditions).
type EdgeKey = (String, String, EdgeKind, Vec<String>);

impl Edges {
    fn add(&mut self, from: &str, to: &str, kind: EdgeKind, actions: &[&str], grant: Grant, makes_admin: bool) {
        let e = self.0.entry((from.to_string(), to.to_string(), kind, grant.conditions)).or_default();
        e.0.extend(actions.iter().map(|a| a.to_string()));
        e.1 |= makes_admin;
        for b in grant.because {
            if !e.2.contains(&b) {
                e.2.push(b);
            }
        }
    }
}

/// The union of the answers' grants, or `None` if any was denied.
fn all_of(answers: impl IntoIterator<Item = Option<Grant>>) -> Option<Grant> {
    let mut out = Grant::default();
    for a in answers {
        out.extend(a?);
    }
    Some(out)
}

struct Builder<'s> {
    services: &'s Services,
    inv: Inventory,
    actors: Vec<Actor>,
    targets: Vec<Option<Target>>,
    index: TrustIndex,
    decider: Decider<'s>,
    admin: Vec<bool>,
    ceiling: Vec<bool>,
    group_policies: HashMap<String, Vec<Arc<Policy>>>,
    edges: Edges,
    /// `Allow * on *`: what a rewrite move adds, for what-if questions.
    allow_all: Arc<Policy>,
}

/// Build the graph of every active account in the store, deciding at `now_millis`.
pub fn build(services: &Services, now_millis: i64) -> Result<Graph, GraphError> {
    Builder::new(services, now_millis)?.finish(now_millis)
}

/// Build the graph, then answer "who can do `action` on `resource`" (see [`crate::query`]).
pub fn who_can(services: &Services, now_millis: i64, action: &str, resource: &str) -> Result<WhoCan, GraphError> {
    let mut b = Builder::new(services, now_millis)?;
    let graph = b.finish(now_millis)?;
    let target = crate::query::Resource::resolve(services, &b.inv, action, resource)?;
    let mut direct: HashMap<String, Grant> = HashMap::new();
    let mut after_rewrite: HashSet<String> = HashSet::new();
    let rewritten: HashSet<&str> = graph
        .edges
        .iter()
        .filter(|e| e.makes_admin || e.kind.grants_anything(&e.actions))
        .map(|e| e.to.as_str())
        .collect();
    for i in 0..b.actors.len() {
        let (arn, account) = (b.actors[i].arn.clone(), b.actors[i].account.clone());
        let ask = target.ask(action, &account);
        if let Some(grant) = b.decider.ask(&b.actors[i], &ask)? {
            direct.insert(arn, grant);
        } else if rewritten.contains(arn.as_str())
            && b.decider.allows_as_is(&b.actors[i], &ask, Some(&[&*b.allow_all]))?
        {
            after_rewrite.insert(arn);
        }
    }
    Ok(crate::query::who_can(&graph, action, resource, &direct, &after_rewrite))
}

impl<'s> Builder<'s> {
    /// Gather every principal, decide who is admin and every move.
    fn new(services: &'s Services, now_millis: i64) -> Result<Builder<'s>, GraphError> {
        let inv = {
            let read = services.store.read()?;
            Inventory::load(read.as_ref())?
        };
        let now = now_millis.div_euclid(1000);
        let mut actors = Vec::with_capacity(inv.users.len() + inv.roles.len());
        for u in &inv.users {
            actors.push(actor(services, u.arn(), user_caller(u), now_millis)?);
        }
        for r in &inv.roles {
            actors.push(actor(services, r.arn(), role_caller(r, now), now_millis)?);
        }
        let mut index = TrustIndex::default();
        let mut targets = Vec::with_capacity(inv.roles.len());
        for (i, r) in inv.roles.iter().enumerate() {
            // A stored trust policy that no longer parses allows nothing: no edge into the role.
            let target =
                compiled(PolicyType::Trust, "trust policy", &r.assume_role_policy_document).ok().map(|trust| {
                    index.add(i, &trust);
                    Target { services: trusted_services(&trust, &r.account), trust }
                });
            targets.push(target);
        }
        let allow_all = Arc::new(
            tessera_policy::parse(ALLOW_ALL, PolicyType::Identity)
                .map_err(|e| GraphError(e.message))?
                .with_label("after the move"),
        );
        let mut b = Builder {
            services,
            inv,
            actors,
            targets,
            index,
            decider: Decider::new(services),
            admin: Vec::new(),
            ceiling: Vec::new(),
            group_policies: HashMap::new(),
            edges: Edges::default(),
            allow_all: allow_all.clone(),
        };
        for i in 0..b.actors.len() {
            let admin = b.is_admin(i, None)?;
            let ceiling = admin || b.is_admin(i, Some(&[&*allow_all]))?;
            b.admin.push(admin);
            b.ceiling.push(ceiling);
        }
        for i in 0..b.actors.len() {
            b.moves_of(i)?;
        }
        Ok(b)
    }

    /// Whether the engine allows actor `i` every admin probe on `*`, with `extra` policies.
    fn is_admin(&mut self, i: usize, extra: Option<&[&Policy]>) -> Result<bool, GraphError> {
        let actor = &self.actors[i];
        for action in ADMIN_PROBES {
            if !self.decider.allows_as_is(actor, &Ask::new(action, "*", &actor.account), extra)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn user_of(&self, i: usize) -> Option<&User> {
        self.inv.users.get(i)
    }

    fn role_of(&self, i: usize) -> Option<&Role> {
        i.checked_sub(self.inv.users.len()).and_then(|r| self.inv.roles.get(r))
    }

    /// Every edge leaving actor `i`.
    fn moves_of(&mut self, i: usize) -> Result<(), GraphError> {
        let assumable = self.assume_role_edges(i)?;
        if self.admin[i] {
            // An admin needs no escalation: its moves inside its account would be every move.
            return Ok(());
        }
        self.rewrite_edges(i, i)?;
        let own_account = self.actors[i].account.clone();
        for r in assumable {
            if self.inv.roles[r].account == own_account {
                self.rewrite_edges(i, self.inv.users.len() + r)?;
            }
        }
        self.user_edges(i)?;
        self.role_edges(i)?;
        Ok(())
    }

    /// `assume-role` edges; returns the roles assumable (by index into `inv.roles`).
    fn assume_role_edges(&mut self, i: usize) -> Result<Vec<usize>, GraphError> {
        let actor = &self.actors[i];
        let candidates = self.index.candidates(actor, may_allow(actor, "sts:AssumeRole"));
        let name = actor.arn.rsplit('/').next().unwrap_or_default().to_string();
        let mut out = Vec::new();
        for r in candidates {
            let role = &self.inv.roles[r];
            let Some(target) = &self.targets[r] else { continue };
            let arn = role.arn();
            if arn == actor.arn {
                continue;
            }
            let ask = Ask {
                trust: Some(target.trust.as_ref()),
                ..Ask::new("sts:AssumeRole", &arn, &role.account).with("sts:RoleSessionName", &name)
            };
            if let Some(labels) = self.decider.ask(actor, &ask)? {
                self.edges.add(&actor.arn, &arn, EdgeKind::AssumeRole, &["sts:AssumeRole"], labels, false);
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Moves of actor `i` that rewrite the permissions of actor `t` (itself, or a role it can
    /// assume): put / attach a policy on it or its groups, new default versions of the
    /// customer managed policies attached to them.
    fn rewrite_edges(&mut self, i: usize, t: usize) -> Result<(), GraphError> {
        // (resource ARN, put action, attach action) of the target and its groups.
        let mut holders: Vec<(String, &'static str, &'static str)> = Vec::new();
        let mut attached: Vec<String> = Vec::new();
        if let Some(u) = self.user_of(t) {
            holders.push((u.arn(), "iam:PutUserPolicy", "iam:AttachUserPolicy"));
            attached.extend(u.attached_policies.iter().cloned());
            for g in &u.groups {
                if let Some(g) = self.inv.groups.get(&model::name_key(&u.account, g)) {
                    holders.push((g.arn(), "iam:PutGroupPolicy", "iam:AttachGroupPolicy"));
                    attached.extend(g.attached_policies.iter().cloned());
                }
            }
        } else if let Some(r) = self.role_of(t) {
            holders.push((r.arn(), "iam:PutRolePolicy", "iam:AttachRolePolicy"));
            attached.extend(r.attached_policies.iter().cloned());
        }
        let (from, to, account) =
            (self.actors[i].arn.clone(), self.actors[t].arn.clone(), self.actors[t].account.clone());
        let ceiling = self.ceiling[t];
        for (arn, put, attach) in &holders {
            if may_allow(&self.actors[i], put) {
                if let Some(labels) = self.decider.ask(&self.actors[i], &Ask::new(put, arn, &account))? {
                    self.edges.add(&from, &to, EdgeKind::PutPolicy, &[*put], labels, ceiling);
                }
            }
            if may_allow(&self.actors[i], attach) {
                let ask = Ask::new(attach, arn, &account).with("iam:PolicyARN", ADMIN_POLICY_ARN);
                if let Some(labels) = self.decider.ask(&self.actors[i], &ask)? {
                    self.edges.add(&from, &to, EdgeKind::AttachPolicy, &[*attach], labels, ceiling);
                }
            }
        }
        attached.sort();
        attached.dedup();
        for arn in attached {
            let Some(policy) = self.inv.policies.get(&arn) else { continue };
            let older: Vec<String> = policy
                .versions
                .iter()
                .filter(|v| v.version_id != policy.default_version_id)
                .map(|v| v.document.clone())
                .collect();
            if may_allow(&self.actors[i], "iam:CreatePolicyVersion") {
                let ask = Ask::new("iam:CreatePolicyVersion", &arn, &account);
                if let Some(labels) = self.decider.ask(&self.actors[i], &ask)? {
                    self.edges.add(&from, &to, EdgeKind::PolicyVersion, &["iam:CreatePolicyVersion"], labels, ceiling);
                }
            }
            if !older.is_empty() && may_allow(&self.actors[i], "iam:SetDefaultPolicyVersion") {
                let ask = Ask::new("iam:SetDefaultPolicyVersion", &arn, &account);
                if let Some(labels) = self.decider.ask(&self.actors[i], &ask)? {
                    let extra: Vec<Arc<Policy>> =
                        older.iter().filter_map(|d| compiled(PolicyType::Identity, &arn, d).ok()).collect();
                    let extra: Vec<&Policy> = extra.iter().map(Arc::as_ref).collect();
                    let makes_admin = self.is_admin(t, Some(&extra))?;
                    self.edges.add(
                        &from,
                        &to,
                        EdgeKind::PolicyVersion,
                        &["iam:SetDefaultPolicyVersion"],
                        labels,
                        makes_admin,
                    );
                }
            }
        }
        Ok(())
    }

    /// Moves on other users of the actor's account: access keys, login profiles; and, for a
    /// user, joining groups.
    fn user_edges(&mut self, i: usize) -> Result<(), GraphError> {
        let actor = &self.actors[i];
        let (key, create_login, update_login, join) = (
            may_allow(actor, "iam:CreateAccessKey"),
            may_allow(actor, "iam:CreateLoginProfile"),
            may_allow(actor, "iam:UpdateLoginProfile"),
            self.user_of(i).is_some() && may_allow(actor, "iam:AddUserToGroup"),
        );
        if key || create_login || update_login {
            for q in 0..self.inv.users.len() {
                let user = &self.inv.users[q];
                if q == i || user.account != actor.account {
                    continue;
                }
                let arn = user.arn();
                if key {
                    if let Some(l) = self.decider.ask(actor, &Ask::new("iam:CreateAccessKey", &arn, &user.account))? {
                        self.edges.add(&actor.arn, &arn, EdgeKind::AccessKey, &["iam:CreateAccessKey"], l, false);
                    }
                }
                let (wanted, action) = match user.login_profile {
                    Some(_) => (update_login, "iam:UpdateLoginProfile"),
                    None => (create_login, "iam:CreateLoginProfile"),
                };
                if wanted {
                    if let Some(l) = self.decider.ask(actor, &Ask::new(action, &arn, &user.account))? {
                        self.edges.add(&actor.arn, &arn, EdgeKind::LoginProfile, &[action], l, false);
                    }
                }
            }
        }
        if join {
            let Some(user) = self.user_of(i) else { return Ok(()) };
            let mine: Vec<String> = user.groups.iter().map(|g| model::name_key(&user.account, g)).collect();
            let mut groups: Vec<(&String, &model::Group)> =
                self.inv.groups.iter().filter(|(k, g)| g.account == actor.account && !mine.contains(*k)).collect();
            groups.sort_by(|a, b| a.0.cmp(b.0));
            let groups: Vec<(String, String)> = groups.into_iter().map(|(k, g)| (k.clone(), g.arn())).collect();
            for (key, arn) in groups {
                let ask = Ask::new("iam:AddUserToGroup", &arn, &self.actors[i].account);
                let Some(labels) = self.decider.ask(&self.actors[i], &ask)? else { continue };
                let policies = match self.group_policies.get(&key) {
                    Some(p) => p.clone(),
                    None => {
                        let name = &self.inv.groups[&key].name;
                        let p = self.services.group_policies(&self.actors[i].account, name)?;
                        self.group_policies.insert(key.clone(), p.clone());
                        p
                    }
                };
                let extra: Vec<&Policy> = policies.iter().map(Arc::as_ref).collect();
                let makes_admin = self.is_admin(i, Some(&extra))?;
                let me = self.actors[i].arn.clone();
                self.edges.add(&me, &me, EdgeKind::Group, &["iam:AddUserToGroup"], labels, makes_admin);
            }
        }
        Ok(())
    }

    /// Moves on other roles of the actor's account: rewriting their trust policy, passing them
    /// to a service.
    fn role_edges(&mut self, i: usize) -> Result<(), GraphError> {
        let actor = &self.actors[i];
        let trust_move = may_allow(actor, "iam:UpdateAssumeRolePolicy");
        let pass = may_allow(actor, "iam:PassRole");
        if !trust_move && !pass {
            return Ok(());
        }
        let trusting_me = if trust_move {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": actor.arn}, "Action": "sts:AssumeRole"}]})
            .to_string();
            tessera_policy::parse(&doc, PolicyType::Trust).ok().map(|p| p.with_label("trust policy after the move"))
        } else {
            None
        };
        let name = actor.arn.rsplit('/').next().unwrap_or_default().to_string();
        for r in 0..self.inv.roles.len() {
            let role = &self.inv.roles[r];
            let arn = role.arn();
            if role.account != actor.account || arn == actor.arn {
                continue;
            }
            if let Some(trust) = &trusting_me {
                let update = self.decider.ask(actor, &Ask::new("iam:UpdateAssumeRolePolicy", &arn, &role.account))?;
                let labels = match update {
                    None => None,
                    Some(u) => {
                        let assume = Ask {
                            trust: Some(trust),
                            ..Ask::new("sts:AssumeRole", &arn, &role.account).with("sts:RoleSessionName", &name)
                        };
                        all_of([Some(u), self.decider.ask(actor, &assume)?])
                    }
                };
                if let Some(labels) = labels {
                    let actions = ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"];
                    self.edges.add(&actor.arn, &arn, EdgeKind::TrustPolicy, &actions, labels, false);
                }
            }
            if !pass {
                continue;
            }
            let Some(target) = &self.targets[r] else { continue };
            for svc in &target.services {
                let Some((_, launch)) = LAUNCHERS.iter().find(|(s, _)| s == svc) else { continue };
                let pass_ask = Ask::new("iam:PassRole", &arn, &role.account).with("iam:PassedToService", svc);
                let Some(mut grant) = self.decider.ask(actor, &pass_ask)? else { continue };
                let mut actions: Vec<&str> = vec!["iam:PassRole"];
                let mut open = true;
                for (action, resource) in launch.iter() {
                    let resource = resource.replace("{account}", &actor.account);
                    match self.decider.ask(actor, &Ask::new(action, &resource, &actor.account))? {
                        Some(g) => grant.extend(g),
                        None => open = false,
                    }
                    actions.push(*action);
                }
                if open
                    && *svc == "ec2.amazonaws.com"
                    && !self.inv.roles_in_profiles.contains(&model::name_key(&role.account, &role.name))
                {
                    // No instance profile holds the role: the actor must make one.
                    let profile = format!("arn:aws:iam::{}:instance-profile/{SESSION}", actor.account);
                    for action in ["iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"] {
                        match self.decider.ask(actor, &Ask::new(action, &profile, &actor.account))? {
                            Some(g) => grant.extend(g),
                            None => open = false,
                        }
                        actions.push(action);
                    }
                }
                if open {
                    self.edges.add(&actor.arn, &arn, EdgeKind::Passrole, &actions, grant, false);
                }
            }
        }
        Ok(())
    }

    /// Account roots (added to the actors), reachability, sorting.
    fn finish(&mut self, now_millis: i64) -> Result<Graph, GraphError> {
        let mut nodes: Vec<Node> = Vec::new();
        for (i, a) in self.actors.iter().enumerate() {
            nodes.push(Node { arn: a.arn.clone(), admin: self.admin[i], reaches_admin: self.admin[i] });
        }
        let accounts: Vec<String> = self.inv.accounts.iter().map(|a| a.id.clone()).collect();
        for account in accounts {
            // The root user: all of its account's permissions, limited by the SCPs of a member
            // account (the engine applies them; the management account is exempt).
            let root =
                actor(self.services, format!("arn:aws:iam::{account}:root"), Caller::root(&account, ""), now_millis)?;
            self.actors.push(root);
            let admin = self.is_admin(self.actors.len() - 1, None)?;
            nodes.push(Node { arn: format!("arn:aws:iam::{account}:root"), admin, reaches_admin: admin });
        }
        let edges: Vec<Edge> = std::mem::take(&mut self.edges.0)
            .into_iter()
            .map(|((from, to, kind, conditions), (actions, makes_admin, because))| Edge {
                from,
                to,
                kind,
                actions: actions.into_iter().collect(),
                conditions,
                makes_admin,
                because,
            })
            .collect();
        mark_reaching(&mut nodes, &edges);
        nodes.sort_by(|a, b| a.arn.cmp(&b.arn));
        Ok(Graph { principals: nodes, edges })
    }
}

/// `reaches_admin`: admin, or a move that makes itself (or a role it can assume) admin, or an
/// edge that gives it the identity of a principal that reaches admin.
fn mark_reaching(nodes: &mut [Node], edges: &[Edge]) {
    let at: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.arn.as_str(), i)).collect();
    let mut reaches: Vec<bool> = nodes.iter().map(|n| n.admin).collect();
    for e in edges.iter().filter(|e| e.kind.rewrites() && e.makes_admin) {
        if let Some(&f) = at.get(e.from.as_str()) {
            reaches[f] = true;
        }
    }
    let becomes: Vec<(usize, usize)> = edges
        .iter()
        .filter(|e| !e.kind.rewrites())
        .filter_map(|e| Some((*at.get(e.from.as_str())?, *at.get(e.to.as_str())?)))
        .collect();
    loop {
        let mut changed = false;
        for &(f, t) in &becomes {
            if reaches[t] && !reaches[f] {
                reaches[f] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (n, r) in nodes.iter_mut().zip(reaches) {
        n.reaches_admin = r;
    }
}

#[cfg(test)]
mod tests;
