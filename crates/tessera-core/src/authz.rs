//! Authorization of every call: the caller's policies, the account's SCPs and the resource's
//! policy, decided by the policy engine.
//!
//! Operations use three entry points, and nothing else, so that the engine can be swapped in
//! behind them:
//! - [`Services::authorize`] / [`Services::authorize_request`] before an operation touches state;
//! - [`validate_policy_document`] on every write of a policy document (MalformedPolicyDocument,
//!   size quotas);
//! - trust evaluation for `sts:AssumeRole*` is an [`AuthzRequest`] whose `resource_policy` is the
//!   role's trust policy and whose `resource_account` is the role's account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tessera_policy::{
    Context, Decision, EvalDecision, Policy, PolicySet, PolicyType, Principal, PrincipalKind, Request,
};
use tessera_store::{ReadTxn, Store, StoreError};
use tessera_wire::AwsError;

use crate::model::{self, Tag};
use crate::{internal, Call, Caller, CallerKind, Services};

/// What an operation asks permission for.
#[derive(Debug, Clone, Default)]
pub struct AuthzRequest<'a> {
    /// `service:Action`.
    pub action: &'a str,
    /// Resource ARN (`*` where the Service Authorization Reference names none).
    pub resource: &'a str,
    /// Account owning the resource; `None` means the caller's account.
    pub resource_account: Option<&'a str>,
    /// The resource-based policy (trust policy, bucket policy), if the resource has one.
    pub resource_policy: Option<&'a str>,
    /// Whether `resource_policy` is a role trust policy (evaluated for `sts:AssumeRole*`).
    pub is_trust_policy: bool,
    /// Operation-specific condition keys (`sts:ExternalId`, `aws:RequestTag/k`, `aws:TagKeys`,
    /// `iam:PermissionsBoundary`, `s3:prefix`, ...). Global keys (`aws:PrincipalArn`,
    /// `aws:CurrentTime`, `aws:SourceIp`, `aws:MultiFactorAuthPresent`, ...) are derived from the
    /// call by the authorizer. Keys are case-insensitive; each key has one or more values.
    pub context: Vec<(String, Vec<String>)>,
}

/// The kind of a policy document being written, which fixes its grammar and its size quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDocKind {
    /// Customer managed policy version (6,144 non-whitespace characters).
    Managed,
    /// Inline policy of a user (2,048, summed over the user's inline policies).
    InlineUser,
    /// Inline policy of a group (5,120).
    InlineGroup,
    /// Inline policy of a role (10,240).
    InlineRole,
    /// Role trust policy (2,048).
    Trust,
    /// Session policy of `AssumeRole*` / `GetFederationToken` (2,048).
    Session,
    /// Service control policy (5,120).
    Scp,
    /// Resource control policy (5,120).
    Rcp,
    /// Resource-based policy (bucket policy: 20 KiB).
    Resource,
}

/// Validate a policy document before it is stored. `entity` names the user, group or role for
/// the inline-policy size messages.
///
/// Errors: `MalformedPolicyDocument` (400) with IAM's message, or `LimitExceeded` (409) for the
/// size quota of `kind` (IAM User Guide, "IAM and AWS STS quotas": counted without whitespace).
pub fn validate_policy_document(document: &str, kind: PolicyDocKind, entity: &str) -> Result<(), AwsError> {
    use tessera_policy::SizeQuota;
    let (ty, quota) = match kind {
        PolicyDocKind::Managed => (PolicyType::Identity, Some(SizeQuota::Managed)),
        PolicyDocKind::InlineUser => (PolicyType::Identity, Some(SizeQuota::InlineUser)),
        PolicyDocKind::InlineGroup => (PolicyType::Identity, Some(SizeQuota::InlineGroup)),
        PolicyDocKind::InlineRole => (PolicyType::Identity, Some(SizeQuota::InlineRole)),
        PolicyDocKind::Trust => (PolicyType::Trust, Some(SizeQuota::Trust)),
        PolicyDocKind::Session => (PolicyType::Session, Some(SizeQuota::Session)),
        PolicyDocKind::Scp => (PolicyType::Scp, Some(SizeQuota::Scp)),
        PolicyDocKind::Rcp => (PolicyType::Rcp, Some(SizeQuota::Rcp)),
        PolicyDocKind::Resource => (PolicyType::Resource, None),
    };
    if let Some(quota) = quota {
        let limit = tessera_policy::size_limit(quota);
        if tessera_policy::non_whitespace_len(document) > limit {
            let message = match kind {
                PolicyDocKind::InlineUser => format!("Maximum policy size of {limit} bytes exceeded for user {entity}"),
                PolicyDocKind::InlineGroup => {
                    format!("Maximum policy size of {limit} bytes exceeded for group {entity}")
                }
                PolicyDocKind::InlineRole => format!("Maximum policy size of {limit} bytes exceeded for role {entity}"),
                PolicyDocKind::Trust => format!("Cannot exceed quota for ACLSizePerRole: {limit}"),
                _ => format!("Cannot exceed quota for PolicySize: {limit}"),
            };
            return Err(AwsError::new(409, "LimitExceeded", message));
        }
    }
    tessera_policy::parse(document, ty)
        .map(|_| ())
        .map_err(|e| AwsError::new(400, "MalformedPolicyDocument", e.message))
}

/// AWS's AccessDenied message, without the reason clause.
pub fn denied_message(call: &Call, action: &str, resource: &str) -> String {
    format!(
        "{}: {} is not authorized to perform: {} on resource: {}",
        call.caller.denial_subject(),
        call.caller.arn,
        action,
        resource
    )
}

impl Services {
    /// Authorize `action` on `resource` for the caller of `call`.
    pub fn authorize(&self, call: &Call, action: &str, resource: &str) -> Result<(), AwsError> {
        self.authorize_request(call, &AuthzRequest { action, resource, ..Default::default() })
    }

    /// Authorize a request with a resource account, resource policy and condition keys:
    /// `AccessDenied` with AWS's message and reason clause unless the engine allows it.
    pub fn authorize_request(&self, call: &Call, req: &AuthzRequest<'_>) -> Result<(), AwsError> {
        let decision = self.decide(call, req)?;
        crate::access_record::note_decision(call, &decision);
        if decision.is_allowed() {
            return Ok(());
        }
        let mut message = denied_message(call, req.action, req.resource);
        let reason = decision.reason(req.action);
        if !reason.is_empty() {
            message.push(' ');
            message.push_str(&reason);
        }
        Err(AwsError::access_denied(message))
    }

    /// The engine's decision, with its explanation, for `req` made by the caller of `call`.
    pub fn decide(&self, call: &Call, req: &AuthzRequest<'_>) -> Result<Decision, AwsError> {
        let side = self.principal_side(call)?;
        let resource_account = req.resource_account.unwrap_or(&call.caller.account);
        let resource_org = if resource_account == call.caller.account {
            side.org.clone()
        } else {
            // At the generation the caller's side was read at: one generation read (a round trip
            // on PostgreSQL) per decision.
            self.org_view_at(side.generation, resource_account)?
        };
        let resource = resource_policy(req)?;
        let context = side.context(call, &resource_org, req);
        let set = side.policy_set(&resource_org, resource.as_deref(), req.is_trust_policy);
        let request = Request {
            principal: &side.principal,
            action: req.action,
            resource: req.resource,
            resource_account: req.resource_account,
            context: &context,
        };
        let decision = tessera_policy::evaluate(&set, &request);
        Ok(scope_down(decision, &side.scopes, &request))
    }

    /// Everything on the caller's side that decides its requests (identity policies, boundary,
    /// session policies, its account's SCPs and organization keys), gathered through the caches
    /// as [`Services::decide`] gathers it. For callers that decide many requests of one
    /// principal, such as the escalation graph (`tessera-graph`).
    pub fn principal_side(&self, call: &Call) -> Result<PrincipalSide, AwsError> {
        let generation = self.store.generation();
        let read = LazyRead::new(self.store.as_ref());
        let caller = &call.caller;
        let identity = self.caches.identity.get_or_load(generation, &identity_cache_key(caller), || {
            read.get().and_then(|r| load_identity(r, caller)).map(Arc::new).map_err(internal)
        })?;
        let session = session_policies(&read, caller).map_err(internal)?;
        let scopes = scope_policies(caller)?;
        let org = self.caches.organization.get_or_load(generation, &caller.account, || {
            org_view(read.get().map_err(internal)?, &caller.account).map(Arc::new)
        })?;
        let tags = principal_tags(&identity, caller);
        Ok(PrincipalSide { principal: engine_principal(caller), identity, session, scopes, org, tags, generation })
    }

    /// What Organizations says about `account` (its SCPs, RCPs and organization keys), through
    /// the cache.
    pub fn org_view(&self, account: &str) -> Result<Arc<OrgView>, AwsError> {
        self.org_view_at(self.store.generation(), account)
    }

    /// [`Services::org_view`] through the cache entries of store generation `generation`.
    fn org_view_at(&self, generation: u64, account: &str) -> Result<Arc<OrgView>, AwsError> {
        self.caches.organization.get_or_load(generation, account, || {
            let read = self.store.read().map_err(internal)?;
            org_view(read.as_ref(), account).map(Arc::new)
        })
    }
}

/// The caller's side of its requests, from [`Services::principal_side`].
#[derive(Debug, Clone)]
pub struct PrincipalSide {
    /// The engine's view of the caller.
    pub principal: Principal,
    identity: Arc<Identity>,
    session: Option<Vec<Arc<Policy>>>,
    /// The scope-down layers of `GetScopedCredentials` sessions ([`scope_down`]).
    scopes: Vec<Arc<Policy>>,
    org: Arc<OrgView>,
    tags: Vec<Tag>,
    /// The store generation everything here was read at.
    generation: u64,
}

impl PrincipalSide {
    /// The identity-based policies (inline, attached, and a user's groups').
    pub fn identity_policies(&self) -> &[Arc<Policy>] {
        &self.identity.policies
    }

    /// The permissions boundary, if one is set.
    pub fn boundary(&self) -> Option<&Policy> {
        self.identity.boundary.as_deref()
    }

    /// The caller's account as Organizations sees it.
    pub fn org(&self) -> &Arc<OrgView> {
        &self.org
    }

    /// The policies that decide a request to a resource of an account whose view is
    /// `resource_org`, with the resource's policy (a trust policy when `is_trust`).
    pub fn policy_set<'a>(
        &'a self,
        resource_org: &'a OrgView,
        resource: Option<&'a Policy>,
        is_trust: bool,
    ) -> PolicySet<'a> {
        PolicySet {
            identity: self.identity.policies.iter().map(Arc::as_ref).collect(),
            boundary: self.identity.boundary.as_deref(),
            session: self.session.as_ref().map(|s| s.iter().map(Arc::as_ref).collect()),
            scps: self.org.scps.iter().map(|level| level.iter().map(Arc::as_ref).collect()).collect(),
            rcps: resource_org.rcps.iter().map(|level| level.iter().map(Arc::as_ref).collect()).collect(),
            resource,
            resource_is_trust: is_trust,
        }
    }

    /// The request context of `req` made in `call`: the global keys derived from the call, then
    /// `req.context`. `resource_org` is the view of `req`'s resource account.
    pub fn context(&self, call: &Call, resource_org: &OrgView, req: &AuthzRequest<'_>) -> Context {
        let resource_account = req.resource_account.unwrap_or(&call.caller.account);
        request_context(
            call,
            &self.tags,
            self.org.organization.clone(),
            resource_account,
            resource_org.organization.clone(),
            req,
        )
    }
}

impl Services {
    /// The engine's decision for a principal with no identity side in Tessera: a web identity
    /// (or SAML) principal calling `AssumeRoleWith*`, or an anonymous S3 request, unsigned. Only `req`'s resource policy
    /// (the trust policy) and the resource account's RCPs apply; the context holds the request's
    /// global keys (time, source IP, region, user agent, resource account and organization) and
    /// `req.context` (the provider's keys, `aws:FederatedProvider`, `sts:RoleSessionName`, ...).
    pub fn decide_federated(
        &self,
        call: &Call,
        principal: &Principal,
        req: &AuthzRequest<'_>,
    ) -> Result<Decision, AwsError> {
        let resource_account = req.resource_account.unwrap_or("");
        let resource_org = self.org_view(resource_account)?;
        let resource = resource_policy(req)?;
        let mut ctx = Context::new();
        let now = call.now_secs();
        ctx.insert_one("aws:CurrentTime", crate::clock::iso8601(now));
        ctx.insert_one("aws:EpochTime", now.to_string());
        ctx.insert_one("aws:SourceIp", call.meta.source_ip.clone());
        ctx.insert_one("aws:SecureTransport", call.meta.secure_transport.to_string());
        ctx.insert_one("aws:RequestedRegion", call.meta.region.clone());
        ctx.insert_one("aws:UserAgent", call.meta.user_agent.clone());
        ctx.insert_one("aws:PrincipalIsAWSService", "false");
        ctx.insert_one("aws:ViaAWSService", "false");
        ctx.insert_one("aws:ResourceAccount", resource_account.to_string());
        if let Some((org_id, path)) = resource_org.organization.clone() {
            ctx.insert_one("aws:ResourceOrgID", org_id);
            ctx.insert_one("aws:ResourceOrgPaths", path);
        }
        for (key, values) in &req.context {
            ctx.insert(key, values.iter().cloned());
        }
        let set = PolicySet {
            rcps: resource_org.rcps.iter().map(|level| level.iter().map(Arc::as_ref).collect()).collect(),
            resource: resource.as_deref(),
            resource_is_trust: req.is_trust_policy,
            ..Default::default()
        };
        let request = Request {
            principal,
            action: req.action,
            resource: req.resource,
            resource_account: req.resource_account,
            context: &ctx,
        };
        let decision = tessera_policy::evaluate(&set, &request);
        crate::access_record::note_decision(call, &decision);
        Ok(decision)
    }
}

/// `req`'s resource-based policy (or trust policy), compiled.
fn resource_policy(req: &AuthzRequest<'_>) -> Result<Option<Arc<Policy>>, AwsError> {
    let Some(doc) = req.resource_policy else { return Ok(None) };
    let (ty, label) = if req.is_trust_policy {
        (PolicyType::Trust, "trust policy")
    } else {
        (PolicyType::Resource, "resource policy")
    };
    compiled(ty, label, doc).map(Some)
}

/// The engine's view of the caller.
fn engine_principal(caller: &Caller) -> Principal {
    let kind = match &caller.kind {
        CallerKind::Root => PrincipalKind::Root,
        CallerKind::User { .. } => PrincipalKind::User,
        CallerKind::AssumedRole { .. } => {
            PrincipalKind::AssumedRole { role_arn: caller.role_arn().unwrap_or_default() }
        }
        CallerKind::FederatedUser { .. } => PrincipalKind::FederatedUser,
    };
    Principal { arn: caller.arn.clone(), account: caller.account.clone(), kind }
}

/// Parsed policies, shared across requests: stored documents were validated on write, so
/// parsing is a cache miss only on first use. Bounded; cleared when full. `label` names the
/// policy in explanations.
pub fn compiled(ty: PolicyType, label: &str, document: &str) -> Result<Arc<Policy>, AwsError> {
    type Cache = Mutex<HashMap<(PolicyType, String, String), Arc<Policy>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    const MAX_ENTRIES: usize = 8192;
    let cache = CACHE.get_or_init(Default::default);
    let key = (ty, label.to_string(), document.to_string());
    if let Some(p) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(p);
    }
    let policy = tessera_policy::parse(document, ty).map_err(|e| {
        // A stored document that no longer parses must not be skipped (it could hold a Deny).
        tracing::error!(policy = label, error = %e, "stored policy does not parse");
        AwsError::internal()
    })?;
    let policy = Arc::new(policy.with_label(label));
    if let Ok(mut c) = cache.lock() {
        if c.len() >= MAX_ENTRIES {
            c.clear();
        }
        c.insert(key, policy.clone());
    }
    Ok(policy)
}

/// The identity side of a principal: its policies, boundary and tags.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    policies: Vec<Arc<Policy>>,
    boundary: Option<Arc<Policy>>,
    tags: Vec<Tag>,
    /// The IAM user's unique id (`AIDA...`), for users.
    user_id: Option<String>,
}

/// What the root user may do in its own account, as an identity policy (for sessions the root
/// user made, which are limited further by their session policy).
const ROOT_EQUIVALENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn store_err(e: AwsError) -> StoreError {
    StoreError::Backend(e.message)
}

/// The document of a managed policy ARN (AWS managed or customer managed in `account`).
fn managed_document(read: &dyn ReadTxn, arn: &str) -> Result<Option<String>, StoreError> {
    if let Some(p) = crate::managed::by_arn(arn) {
        return Ok(Some(p.document.to_string()));
    }
    let Some((account, name)) = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":policy/"))
        .map(|(acct, path_name)| (acct, path_name.rsplit('/').next().unwrap_or(path_name)))
    else {
        return Ok(None);
    };
    let policy: Option<model::ManagedPolicy> =
        model::load(read, model::table::POLICY, &model::name_key(account, name))?;
    Ok(policy.filter(|p| p.arn() == arn).and_then(|p| p.default_document().map(str::to_string)))
}

fn add_managed(read: &dyn ReadTxn, arns: &[String], out: &mut Vec<Arc<Policy>>) -> Result<(), StoreError> {
    for arn in arns {
        if let Some(doc) = managed_document(read, arn)? {
            out.push(compiled(PolicyType::Identity, arn, &doc).map_err(store_err)?);
        }
    }
    Ok(())
}

fn add_inline(owner: &str, inline: &[(String, String)], out: &mut Vec<Arc<Policy>>) -> Result<(), StoreError> {
    for (name, doc) in inline {
        out.push(compiled(PolicyType::Identity, &format!("{owner}/{name}"), doc).map_err(store_err)?);
    }
    Ok(())
}

fn boundary(read: &dyn ReadTxn, arn: Option<&String>) -> Result<Option<Arc<Policy>>, StoreError> {
    let Some(arn) = arn else { return Ok(None) };
    // A boundary whose policy vanished allows nothing (IAM refuses to delete a policy in use).
    let doc = managed_document(read, arn)?.unwrap_or_else(|| {
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"*","Resource":"*"}}"#.into()
    });
    Ok(Some(compiled(PolicyType::PermissionsBoundary, arn, &doc).map_err(store_err)?))
}

/// The policies of group `name` of `account` (none if there is no such group), appended to `out`.
fn add_group(read: &dyn ReadTxn, account: &str, name: &str, out: &mut Vec<Arc<Policy>>) -> Result<(), StoreError> {
    if let Some(group) = model::load::<model::Group>(read, model::table::GROUP, &model::name_key(account, name))? {
        add_inline(&format!("group/{}", group.name), &group.inline_policies, out)?;
        add_managed(read, &group.attached_policies, out)?;
    }
    Ok(())
}

impl Services {
    /// The identity policies a member of group `name` of `account` gets from it (inline and
    /// attached), compiled as the authorizer compiles them: for what-if questions such as
    /// "would this user be admin in that group" (the escalation graph).
    pub fn group_policies(&self, account: &str, name: &str) -> Result<Vec<Arc<Policy>>, AwsError> {
        let read = self.store.read().map_err(internal)?;
        let mut out = Vec::new();
        add_group(read.as_ref(), account, name, &mut out).map_err(internal)?;
        Ok(out)
    }
}

/// An IAM user's policies: inline, attached, and those of its groups; its boundary and tags.
fn user_identity(read: &dyn ReadTxn, account: &str, name: &str) -> Result<Identity, StoreError> {
    let Some(user) = model::load::<model::User>(read, model::table::USER, &model::name_key(account, name))? else {
        return Ok(Identity::default());
    };
    let mut policies = Vec::new();
    add_inline(&format!("user/{}", user.name), &user.inline_policies, &mut policies)?;
    add_managed(read, &user.attached_policies, &mut policies)?;
    for group_name in &user.groups {
        add_group(read, account, group_name, &mut policies)?;
    }
    let boundary = boundary(read, user.permissions_boundary.as_ref())?;
    Ok(Identity { policies, boundary, tags: user.tags, user_id: Some(user.user_id) })
}

/// What the identity cache is keyed on: the principal and, for sessions, nothing of the
/// session (session tags are applied per session below, after the cache).
fn identity_cache_key(caller: &Caller) -> String {
    match &caller.kind {
        CallerKind::Root => format!("{}/root", caller.account),
        CallerKind::User { name, user_id, .. } => {
            format!("{}/user/{}/{}", caller.account, name.to_ascii_lowercase(), user_id)
        }
        CallerKind::FederatedUser { user_name, .. } => {
            format!("{}/federated-by/{}", caller.account, user_name.to_ascii_lowercase())
        }
        CallerKind::AssumedRole { role_name, role_id, .. } => {
            format!("{}/role/{}/{}", caller.account, role_name.to_ascii_lowercase(), role_id)
        }
    }
}

/// A read transaction opened on first use: a decision whose inputs are all in the caches (the
/// usual case) opens none.
struct LazyRead<'a> {
    store: &'a dyn Store,
    txn: std::cell::OnceCell<Box<dyn ReadTxn + 'a>>,
}

impl<'a> LazyRead<'a> {
    fn new(store: &'a dyn Store) -> Self {
        LazyRead { store, txn: std::cell::OnceCell::new() }
    }

    /// The transaction, opened now if it is not yet.
    fn get(&self) -> Result<&(dyn ReadTxn + 'a), StoreError> {
        if let Some(txn) = self.txn.get() {
            return Ok(txn.as_ref());
        }
        let txn = self.store.read()?;
        Ok(self.txn.get_or_init(|| txn).as_ref())
    }
}

/// The identity side of a caller. A principal is its unique id, as on AWS: an access key or a
/// session of a user or role that was deleted and then created again under the same name gets
/// nothing from the new entity's policies.
fn load_identity(read: &dyn ReadTxn, caller: &Caller) -> Result<Identity, StoreError> {
    let identity = match &caller.kind {
        CallerKind::Root => Identity::default(),
        CallerKind::User { name, user_id, .. } => {
            let identity = user_identity(read, &caller.account, name)?;
            if identity.user_id.as_deref() == Some(user_id.as_str()) {
                identity
            } else {
                Identity::default()
            }
        }
        // A federated user made by the root user has the root user's permissions, limited by
        // the session policy (IAM User Guide, "Permissions for GetFederationToken").
        CallerKind::FederatedUser { user_name, .. } if user_name.is_empty() => Identity {
            policies: vec![compiled(PolicyType::Identity, "root", ROOT_EQUIVALENT).map_err(store_err)?],
            ..Identity::default()
        },
        CallerKind::FederatedUser { user_name, .. } => user_identity(read, &caller.account, user_name)?,
        CallerKind::AssumedRole { role_name, role_id, .. } => {
            match model::load::<model::Role>(read, model::table::ROLE, &model::name_key(&caller.account, role_name))? {
                Some(role) if role.role_id != *role_id => Identity::default(),
                None => Identity::default(),
                Some(role) => {
                    let mut policies = Vec::new();
                    add_inline(&format!("role/{}", role.name), &role.inline_policies, &mut policies)?;
                    add_managed(read, &role.attached_policies, &mut policies)?;
                    let boundary = boundary(read, role.permissions_boundary.as_ref())?;
                    Identity { policies, boundary, tags: role.tags, user_id: None }
                }
            }
        }
    };
    Ok(identity)
}

/// The principal's tags with the session's tags in place of those of the same key
/// (case-insensitive), as `aws:PrincipalTag` sees them.
fn principal_tags(identity: &Identity, caller: &Caller) -> Vec<Tag> {
    let mut tags = identity.tags.clone();
    if let Some(session) = &caller.session {
        for tag in &session.tags {
            tags.retain(|t| !t.key.eq_ignore_ascii_case(&tag.key));
            tags.push(tag.clone());
        }
    }
    tags
}

/// Session policies of temporary credentials, when the session was created with any.
fn session_policies(read: &LazyRead<'_>, caller: &Caller) -> Result<Option<Vec<Arc<Policy>>>, StoreError> {
    let Some(session) = &caller.session else { return Ok(None) };
    if session.session_policy.is_none() && session.session_policy_arns.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    if let Some(doc) = &session.session_policy {
        out.push(compiled(PolicyType::Session, "session policy", doc).map_err(store_err)?);
    }
    for arn in &session.session_policy_arns {
        if let Some(doc) = managed_document(read.get()?, arn)? {
            out.push(compiled(PolicyType::Session, arn, &doc).map_err(store_err)?);
        }
    }
    Ok(Some(out))
}

/// The scope-down layers of scoped credentials (`GetScopedCredentials`), compiled; empty for
/// every other caller. Each was validated when the credentials were issued.
fn scope_policies(caller: &Caller) -> Result<Vec<Arc<Policy>>, AwsError> {
    let Some(session) = &caller.session else { return Ok(Vec::new()) };
    session
        .scope_policies
        .iter()
        .enumerate()
        .map(|(i, doc)| compiled(PolicyType::Session, &format!("scope-down policy {}", i + 1), doc))
        .collect()
}

/// The scope-down step of scoped credentials (IAM User Guide, "Permissions for
/// GetScopedCredentials"): their permissions are the intersection of the calling session's
/// effective permissions (`decision`, everything else already decided) and every scope-down
/// layer, each on its own. A layer allows a request only with an Allow statement that matches
/// it; an explicit deny in any layer denies it, and is reported as the explicit deny it is even
/// when the session itself would not have allowed the request. A resource-based policy naming
/// the session cannot widen them (unlike ordinary session policies): scoped credentials never
/// do more than their layers allow. Actions that need no permission (`sts:GetCallerIdentity`)
/// stay allowed.
pub fn scope_down(decision: Decision, layers: &[Arc<Policy>], request: &Request<'_>) -> Decision {
    if layers.is_empty() || decision.decision == EvalDecision::ExplicitDeny {
        return decision;
    }
    // Each layer is asked alone, as the only policy of a principal of the caller's account (so
    // only its own statements decide, with the request's context for its conditions).
    let principal = Principal {
        arn: request.principal.arn.clone(),
        account: request.principal.account.clone(),
        kind: PrincipalKind::User,
    };
    let alone = Request { principal: &principal, resource_account: None, ..*request };
    let mut matched = decision.matched.clone();
    let mut explicit_deny = false;
    let mut all_allow = true;
    for layer in layers {
        let set = PolicySet { identity: vec![layer.as_ref()], ..Default::default() };
        let d = tessera_policy::evaluate(&set, &alone);
        explicit_deny |= d.decision == EvalDecision::ExplicitDeny;
        all_allow &= d.decision == EvalDecision::Allowed;
        matched.extend(d.matched.into_iter().map(|mut m| {
            m.policy_type = PolicyType::Session;
            m
        }));
    }
    let outcome = if explicit_deny {
        EvalDecision::ExplicitDeny
    } else if decision.decision != EvalDecision::Allowed {
        return decision;
    } else if !all_allow {
        EvalDecision::ImplicitDeny
    } else {
        return Decision { matched, ..decision };
    };
    Decision { decision: outcome, decided_by: Some(PolicyType::Session), matched }
}

/// What Organizations says about an account: its SCP and RCP levels and its organization keys.
#[derive(Debug, Default)]
pub struct OrgView {
    scps: Vec<Vec<Arc<Policy>>>,
    rcps: Vec<Vec<Arc<Policy>>>,
    /// (organization id, `aws:PrincipalOrgPaths` path).
    organization: Option<(String, String)>,
}

fn org_view(read: &dyn ReadTxn, account: &str) -> Result<OrgView, AwsError> {
    Ok(OrgView {
        scps: control_policies(read, account, "SERVICE_CONTROL_POLICY", PolicyType::Scp)?,
        rcps: control_policies(read, account, "RESOURCE_CONTROL_POLICY", PolicyType::Rcp)?,
        organization: crate::org::organization_of(read, account).map_err(internal)?,
    })
}

/// SCPs or RCPs per level from the organization root down to `account` (empty when none apply).
fn control_policies(
    read: &dyn ReadTxn,
    account: &str,
    org_policy_type: &str,
    ty: PolicyType,
) -> Result<Vec<Vec<Arc<Policy>>>, AwsError> {
    let Some(levels) = crate::org::scp_levels(read, account, org_policy_type).map_err(internal)? else {
        return Ok(Vec::new());
    };
    levels.iter().map(|level| level.iter().map(|(label, doc)| compiled(ty, label, doc)).collect()).collect()
}

/// The request context: global condition keys derived from the call (IAM User Guide, "AWS
/// global condition context keys"), then the operation's own keys.
fn request_context(
    call: &Call,
    principal_tags: &[Tag],
    org: Option<(String, String)>,
    resource_account: &str,
    resource_org: Option<(String, String)>,
    req: &AuthzRequest<'_>,
) -> Context {
    let caller = &call.caller;
    let mut ctx = Context::new();
    let now = call.now_secs();
    ctx.insert_one("aws:CurrentTime", crate::clock::iso8601(now));
    ctx.insert_one("aws:EpochTime", now.to_string());
    ctx.insert_one("aws:SourceIp", call.meta.source_ip.clone());
    ctx.insert_one("aws:SecureTransport", call.meta.secure_transport.to_string());
    ctx.insert_one("aws:RequestedRegion", call.meta.region.clone());
    ctx.insert_one("aws:UserAgent", call.meta.user_agent.clone());
    ctx.insert_one("aws:PrincipalAccount", caller.account.clone());
    ctx.insert_one("aws:PrincipalArn", caller.role_arn().unwrap_or_else(|| caller.arn.clone()));
    ctx.insert_one("aws:PrincipalType", caller.principal_type());
    ctx.insert_one("aws:userid", caller.user_id.clone());
    ctx.insert_one("aws:PrincipalIsAWSService", "false");
    ctx.insert_one("aws:ViaAWSService", "false");
    if let CallerKind::User { name, .. } = &caller.kind {
        ctx.insert_one("aws:username", name.clone());
    }
    for tag in principal_tags {
        ctx.insert_one(&format!("aws:PrincipalTag/{}", tag.key), tag.value.clone());
    }
    if let Some((org_id, path)) = org {
        ctx.insert_one("aws:PrincipalOrgID", org_id);
        ctx.insert_one("aws:PrincipalOrgPaths", path);
    }
    ctx.insert_one("aws:ResourceAccount", resource_account.to_string());
    if let Some((org_id, path)) = resource_org {
        ctx.insert_one("aws:ResourceOrgID", org_id);
        ctx.insert_one("aws:ResourceOrgPaths", path);
    }
    if let Some(session) = &caller.session {
        // Present only for temporary credentials ("aws:MultiFactorAuthPresent").
        ctx.insert_one("aws:MultiFactorAuthPresent", session.mfa_authenticated.to_string());
        if let Some(at) = session.mfa_authenticated_at.filter(|_| session.mfa_authenticated) {
            ctx.insert_one("aws:MultiFactorAuthAge", (now - at).max(0).to_string());
        }
        ctx.insert_one("aws:TokenIssueTime", crate::clock::iso8601(session.issued_at));
        if let Some(source_identity) = &session.source_identity {
            ctx.insert_one("aws:SourceIdentity", source_identity.clone());
        }
        if let Some(provider) = &session.federated_provider {
            ctx.insert_one("aws:FederatedProvider", provider.clone());
        }
        for (key, value) in session.workload_identity.iter().flat_map(|w| w.condition_keys()) {
            ctx.insert_one(key, value);
        }
    }
    for (key, values) in &req.context {
        ctx.insert(key, values.iter().cloned());
    }
    ctx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::{CallMeta, SessionInfo};

    const ACCT: &str = "111122223333";
    const OTHER: &str = "444455556666";

    fn services() -> Services {
        Services::in_memory(Arc::new(ManualClock::new(1_700_000_000_000))).unwrap()
    }

    fn call(caller: Caller) -> Call {
        Call {
            caller,
            operation: "Test".into(),
            meta: CallMeta {
                request_id: "r".into(),
                region: "us-east-1".into(),
                source_ip: "127.0.0.1".into(),
                user_agent: "test".into(),
                secure_transport: false,
                now_millis: 1_700_000_000_000,
            },
        }
    }

    fn put_user(s: &Services, name: &str, inline: &[&str], boundary: Option<&str>) -> Caller {
        let user = model::User {
            account: ACCT.into(),
            name: name.into(),
            path: "/".into(),
            user_id: format!("AIDA{}", name.to_uppercase()),
            created: 0,
            tags: vec![Tag { key: "team".into(), value: "blue".into() }],
            permissions_boundary: boundary.map(str::to_string),
            inline_policies: inline.iter().enumerate().map(|(i, d)| (format!("p{i}"), d.to_string())).collect(),
            attached_policies: vec![],
            groups: vec![],
            login_profile: None,
            password_last_used: None,
        };
        let mut w = s.store.write().unwrap();
        model::save(w.as_mut(), model::table::USER, &model::name_key(ACCT, name), &user).unwrap();
        w.commit().unwrap();
        Caller {
            account: ACCT.into(),
            arn: user.arn(),
            user_id: user.user_id.clone(),
            kind: CallerKind::User { name: name.into(), path: "/".into(), user_id: user.user_id },
            access_key_id: "AKIATEST".into(),
            session: None,
        }
    }

    const ALLOW_ALL_S3: &str =
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;

    #[test]
    fn root_may_act_in_its_own_account_but_needs_a_resource_policy_across_accounts() {
        let s = services();
        let c = call(Caller::root(ACCT, "AKIAROOT"));
        assert!(s.authorize(&c, "iam:CreateUser", "arn:aws:iam::111122223333:user/x").is_ok());
        let cross = AuthzRequest {
            action: "s3:GetObject",
            resource: "arn:aws:s3:::b/k",
            resource_account: Some(OTHER),
            ..Default::default()
        };
        assert_eq!(s.authorize_request(&c, &cross).unwrap_err().code, "AccessDenied");
    }

    /// IAM User Guide, "Troubleshoot access denied error messages": the enriched reason clause.
    #[test]
    fn a_user_without_policies_gets_awss_message() {
        let s = services();
        let c = call(put_user(&s, "alice", &[], None));
        let err = s.authorize(&c, "s3:GetObject", "arn:aws:s3:::b/k").unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (403, "AccessDenied"));
        assert_eq!(
            err.message,
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: s3:GetObject on resource: \
             arn:aws:s3:::b/k because no identity-based policy allows the s3:GetObject action"
        );
    }

    #[test]
    fn inline_policy_allows_and_boundary_limits() {
        let s = services();
        let c = call(put_user(&s, "bob", &[ALLOW_ALL_S3], None));
        assert!(s.authorize(&c, "s3:GetObject", "arn:aws:s3:::b/k").is_ok());
        assert!(s.authorize(&c, "iam:ListUsers", "*").is_err());
        // A boundary whose policy does not exist allows nothing.
        let c = call(put_user(&s, "carol", &[ALLOW_ALL_S3], Some("arn:aws:iam::111122223333:policy/missing")));
        let err = s.authorize(&c, "s3:GetObject", "arn:aws:s3:::b/k").unwrap_err();
        assert!(
            err.message.ends_with("because no permissions boundary allows the s3:GetObject action"),
            "{}",
            err.message
        );
    }

    #[test]
    fn principal_tags_and_variables_reach_the_engine() {
        let s = services();
        let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject",
            "Resource":"arn:aws:s3:::home/${aws:username}/*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blue"}}}}"#;
        let c = call(put_user(&s, "dave", &[doc], None));
        assert!(s.authorize(&c, "s3:GetObject", "arn:aws:s3:::home/dave/x").is_ok());
        assert!(s.authorize(&c, "s3:GetObject", "arn:aws:s3:::home/erin/x").is_err());
    }

    #[test]
    fn trust_policy_decides_assume_role() {
        let s = services();
        let allow_assume =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#;
        let c = call(put_user(&s, "frank", &[allow_assume], None));
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCT}:root"}},"Action":"sts:AssumeRole"}}}}"#
        );
        let req = |policy: Option<&'static str>, account: &'static str| AuthzRequest {
            action: "sts:AssumeRole",
            resource: "arn:aws:iam::444455556666:role/r",
            resource_account: Some(account),
            resource_policy: policy,
            is_trust_policy: true,
            context: vec![],
        };
        let trust: &'static str = Box::leak(trust.into_boxed_str());
        assert!(s.authorize_request(&c, &req(Some(trust), OTHER)).is_ok());
        // A missing role is evaluated against no trust policy: AccessDenied, never NoSuchEntity.
        assert_eq!(s.authorize_request(&c, &req(None, OTHER)).unwrap_err().code, "AccessDenied");
    }

    #[test]
    fn session_context_keys() {
        let s = services();
        let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*",
            "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#;
        let mut caller = put_user(&s, "gina", &[doc], None);
        let c = call(caller.clone());
        assert!(s.authorize(&c, "s3:GetObject", "*").is_err(), "long-term keys carry no MFA key");
        caller.session =
            Some(SessionInfo { mfa_authenticated: true, mfa_authenticated_at: Some(1), ..Default::default() });
        assert!(s.authorize(&call(caller), "s3:GetObject", "*").is_ok());
    }

    /// The scope-down step (IAM User Guide, "Permissions for GetScopedCredentials"): a request
    /// of scoped credentials is allowed only when the session allows it and every layer does.
    #[test]
    fn scope_down_layers_each_must_allow() {
        let s = services();
        let identity = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:*","iam:ListUsers"],"Resource":"*"}}"#;
        let mut caller = put_user(&s, "hank", &[identity], None);
        let layer1 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","ec2:*"],"Resource":"*"},
            {"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret"}]}"#;
        let layer2 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","ec2:*"],"Resource":"*"},
            {"Effect":"Deny","Action":"ec2:TerminateInstances","Resource":"*"}]}"#;
        let reason = |c: &Call, action: &str, resource: &str| s.authorize(c, action, resource).unwrap_err().message;

        // Without layers the session may do what its identity allows.
        caller.session = Some(SessionInfo { issued_by: "GetSessionToken".into(), ..Default::default() });
        let c = call(caller.clone());
        assert!(s.authorize(&c, "s3:PutObject", "arn:aws:s3:::b/k").is_ok());
        assert!(s.authorize(&c, "iam:ListUsers", "*").is_ok());

        caller.session.as_mut().unwrap().scope_policies = vec![layer1.into(), layer2.into()];
        let c = call(caller);
        // Both layers and the identity allow.
        assert!(s.authorize(&c, "s3:GetObject", "arn:aws:s3:::b/k").is_ok());
        // The identity and the first layer allow, the second does not.
        assert!(reason(&c, "s3:PutObject", "arn:aws:s3:::b/k")
            .ends_with("because no session policy allows the s3:PutObject action"));
        // The identity allows, no layer does.
        assert!(reason(&c, "iam:ListUsers", "*").ends_with("because no session policy allows the iam:ListUsers action"));
        // Both layers allow, the identity does not: layers never grant.
        assert!(reason(&c, "ec2:DescribeInstances", "*")
            .ends_with("because no identity-based policy allows the ec2:DescribeInstances action"));
        // An explicit deny in a layer denies, also where the identity alone would have denied.
        assert!(
            reason(&c, "s3:GetObject", "arn:aws:s3:::b/secret").ends_with("with an explicit deny in a session policy")
        );
        assert!(reason(&c, "ec2:TerminateInstances", "*").ends_with("with an explicit deny in a session policy"));
        // What needs no permission stays allowed.
        assert!(s.authorize(&c, "sts:GetCallerIdentity", "*").is_ok());
        // The decision explains itself with the layers' statements.
        let d = s
            .decide(&c, &AuthzRequest { action: "s3:GetObject", resource: "arn:aws:s3:::b/k", ..Default::default() })
            .unwrap();
        let labels: Vec<&str> = d.matched.iter().map(|m| m.policy_label.as_ref()).collect();
        assert!(labels.contains(&"scope-down policy 1") && labels.contains(&"scope-down policy 2"), "{labels:?}");
        assert!(d
            .matched
            .iter()
            .filter(|m| m.policy_label.starts_with("scope-down"))
            .all(|m| m.policy_type == PolicyType::Session));
    }

    #[test]
    fn validation_maps_to_iam_errors() {
        let err = validate_policy_document("{", PolicyDocKind::Managed, "p").unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (400, "MalformedPolicyDocument"));
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{}"}}}}"#,
            "a".repeat(2100)
        );
        let err = validate_policy_document(&big, PolicyDocKind::InlineUser, "alice").unwrap_err();
        assert_eq!(err.code, "LimitExceeded");
        assert_eq!(err.message, "Maximum policy size of 2048 bytes exceeded for user alice");
        assert!(validate_policy_document(&big, PolicyDocKind::InlineRole, "r").is_ok());
    }
}
