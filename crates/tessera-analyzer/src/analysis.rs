//! External-access analysis: which principals outside an analyzer's zone of trust (its account,
//! or its organization's accounts) or the public can reach the resources in that zone, decided
//! by the policy engine.
//!
//! For each resource policy (role trust policy, bucket policy) the principals it names in
//! `Allow` statements are probes: an outside caller with that principal's attributes
//! (`aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:PrincipalOrgID`, ...). Conditions on keys
//! a caller brings with the request (`aws:SourceIp`, `sts:ExternalId`, MFA, ...) can be met
//! by an outside caller, so they are taken out of the `Allow` statements before the engine is
//! asked, and reported as the finding's `condition` when a statement that had them is the one
//! that allows. Conditions on the principal's identity stay in, so a policy that pins
//! `aws:PrincipalOrgID` to the analyzer's organization grants nothing to an outsider.
//! A bucket's ACL grants to other accounts and to the public groups are findings too
//! (`sources` `BUCKET_ACL`), unless Block Public Access ignores public ACLs; a public bucket
//! policy grants nothing outside the owner's account under `RestrictPublicBuckets`.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};
use tessera_policy::{Context, PolicySet, PolicyType, Principal, PrincipalKind, Request};
use tessera_s3::acl_grants::{bucket_acl_grants, ALL_USERS, AUTHENTICATED_USERS};
use tessera_s3::public_access::{account_public_access_block, effective, policy_is_public};
use tessera_s3::records::{canonical_user_id, table as s3_table, BucketRecord};
use tessera_services::model;
use tessera_store::{ReadTxn, StoreError};

use crate::records::Analyzer;

/// `AWS::IAM::Role`.
pub const ROLE: &str = "AWS::IAM::Role";
/// `AWS::S3::Bucket`.
pub const BUCKET: &str = "AWS::S3::Bucket";
/// `AWS::IAM::User`.
pub const USER: &str = "AWS::IAM::User";

/// The account an outside caller of a public (`*`) grant is taken from: no Tessera account
/// has this id (ids are random 12-digit numbers that never start with 0).
const OUTSIDE_ACCOUNT: &str = "000000000000";

/// Condition keys that describe the calling principal itself: an outside caller has its own
/// values, so statements conditioned on them are evaluated, not assumed satisfiable.
const IDENTITY_KEYS: &[&str] = &[
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principaltype",
    "aws:principalisawsservice",
    "aws:principalservicename",
    "aws:userid",
    "aws:username",
];

/// The actions asked of a role trust policy.
const ROLE_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:SetSourceIdentity",
    "sts:TagSession",
];

/// Bucket-level actions asked of a bucket policy (on the bucket ARN).
pub(crate) const BUCKET_ACTIONS: &[&str] = &[
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:GetBucketAcl",
    "s3:PutBucketAcl",
    "s3:DeleteBucket",
    "s3:GetBucketTagging",
    "s3:PutBucketTagging",
];

/// Object-level actions asked of a bucket policy (on the object ARNs it names).
pub(crate) const OBJECT_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:GetObjectAcl",
    "s3:PutObjectAcl",
    "s3:AbortMultipartUpload",
    "s3:GetObjectTagging",
    "s3:PutObjectTagging",
];

/// A finding as the analysis sees it (no id, status or times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub resource: String,
    pub resource_type: &'static str,
    pub owner: String,
    pub principal: BTreeMap<String, String>,
    pub action: Vec<String>,
    pub condition: BTreeMap<String, String>,
    pub is_public: bool,
    pub sources: Vec<String>,
    /// The indexes of the policy statements that allow it.
    pub statements: BTreeSet<usize>,
    /// `ExternalAccess` or an unused access type.
    pub finding_type: &'static str,
    /// The access key id of an unused key finding.
    pub subject: String,
    /// The `FindingDetails` member of an unused access finding.
    pub details: Value,
}

impl Candidate {
    /// An external-access finding.
    #[allow(clippy::too_many_arguments)]
    fn external(
        resource: &Resource<'_>,
        principal: BTreeMap<String, String>,
        action: Vec<String>,
        condition: BTreeMap<String, String>,
        is_public: bool,
        source: &str,
        statements: BTreeSet<usize>,
    ) -> Candidate {
        Candidate {
            resource: resource.arn.to_string(),
            resource_type: resource.resource_type,
            owner: resource.owner.to_string(),
            principal,
            action,
            condition,
            is_public,
            sources: vec![source.to_string()],
            statements,
            finding_type: "ExternalAccess",
            subject: String::new(),
            details: Value::Null,
        }
    }

    /// An unused access finding.
    fn unused(
        arn: String,
        resource_type: &'static str,
        owner: &str,
        finding_type: &'static str,
        details: Value,
    ) -> Candidate {
        Candidate {
            resource: arn,
            resource_type,
            owner: owner.to_string(),
            principal: BTreeMap::new(),
            action: Vec::new(),
            condition: BTreeMap::new(),
            is_public: false,
            sources: Vec::new(),
            statements: BTreeSet::new(),
            finding_type,
            subject: String::new(),
            details,
        }
    }
}

/// The zone of trust of an analyzer: its account, or every account of its organization.
pub fn zone(r: &(impl ReadTxn + ?Sized), analyzer: &Analyzer) -> Result<BTreeSet<String>, StoreError> {
    let mut accounts = BTreeSet::from([analyzer.account.clone()]);
    if let Some(org) = &analyzer.organization_id {
        for (_, v) in r.scan(model::table::ACCOUNT, "", None, usize::MAX)? {
            if let Ok(a) = serde_json::from_slice::<model::Account>(&v) {
                if a.organization_id.as_deref() == Some(org.as_str()) {
                    accounts.insert(a.id);
                }
            }
        }
    }
    Ok(accounts)
}

/// The organization an account belongs to, if any.
fn org_of(r: &(impl ReadTxn + ?Sized), account: &str) -> Option<String> {
    model::load::<model::Account>(r, model::table::ACCOUNT, account).ok().flatten().and_then(|a| a.organization_id)
}

/// A resource in an analyzer's zone of trust.
pub struct ZoneResource {
    pub arn: String,
    pub resource_type: &'static str,
    pub owner: String,
    /// Creation time (epoch milliseconds).
    pub created_millis: i64,
    source: Source,
}

enum Source {
    Role(Box<model::Role>),
    Bucket(Box<BucketRecord>),
}

impl ZoneResource {
    /// A bucket's policy document (`Some(None)`: a bucket without one); `None` for a role.
    pub fn policy_document(&self) -> Option<Option<&str>> {
        match &self.source {
            Source::Bucket(b) => Some(b.policy.as_deref()),
            Source::Role(_) => None,
        }
    }
}

/// The resources an analyzer covers: the roles of its zone of trust (roles are global) and the
/// buckets of its zone in its Region.
pub fn resources(
    r: &(impl ReadTxn + ?Sized),
    analyzer: &Analyzer,
    zone: &BTreeSet<String>,
) -> Result<Vec<ZoneResource>, StoreError> {
    let mut out = Vec::new();
    for account in zone {
        for (_, v) in r.scan(model::table::ROLE, &format!("{account}/"), None, usize::MAX)? {
            let Ok(role) = serde_json::from_slice::<model::Role>(&v) else { continue };
            out.push(ZoneResource {
                arn: format!("arn:aws:iam::{}:role{}{}", role.account, role.path, role.name),
                resource_type: ROLE,
                owner: role.account.clone(),
                created_millis: role.created.saturating_mul(1000),
                source: Source::Role(Box::new(role)),
            });
        }
    }
    for (_, v) in r.scan(s3_table::BUCKET, "", None, usize::MAX)? {
        let Ok(bucket) = serde_json::from_slice::<BucketRecord>(&v) else { continue };
        if zone.contains(&bucket.owner) && bucket.region == analyzer.region {
            out.push(ZoneResource {
                arn: bucket.arn(),
                resource_type: BUCKET,
                owner: bucket.owner.clone(),
                created_millis: bucket.created_millis,
                source: Source::Bucket(Box::new(bucket)),
            });
        }
    }
    Ok(out)
}

/// Every finding of `analyzer` as the store stands.
pub fn analyze(
    r: &(impl ReadTxn + ?Sized),
    analyzer: &Analyzer,
    memo: &mut Memo,
) -> Result<Vec<Candidate>, StoreError> {
    let zone = zone(r, analyzer)?;
    let zone_org = analyzer.organization_id.as_deref();
    // What every role's findings depend on besides its trust policy: the zone of trust and
    // the accounts (and their organizations) the probes are taken from.
    let mut h = DefaultHasher::new();
    (&zone, zone_org).hash(&mut h);
    for (k, v) in r.scan(model::table::ACCOUNT, "", None, usize::MAX)? {
        (k, v).hash(&mut h);
    }
    let context = h.finish();
    if memo.context != Some(context) {
        *memo = Memo { context: Some(context), roles: HashMap::new() };
    }
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for res in resources(r, analyzer, &zone)? {
        match &res.source {
            Source::Role(role) => {
                let doc = &role.assume_role_policy_document;
                let mut h = DefaultHasher::new();
                doc.hash(&mut h);
                let fingerprint = h.finish();
                let found = match memo.roles.remove(&res.arn) {
                    Some((f, found)) if f == fingerprint => found,
                    _ => {
                        let resource = Resource { arn: &res.arn, owner: &res.owner, resource_type: ROLE };
                        policy_findings(r, &zone, zone_org, &resource, doc, PolicyType::Trust)
                    }
                };
                out.extend(found.iter().cloned());
                seen.insert(res.arn.clone(), (fingerprint, found));
            }
            Source::Bucket(bucket) => out.extend(bucket_findings(r, &zone, zone_org, bucket)?),
        }
    }
    // Roles deleted since drop out of the memo.
    memo.roles = seen;
    // RCPs are not evaluated for external access (AWS: `APPLIED` "is not currently available for
    // external access findings"); a finding says whether one bounds the resource's account.
    let mut rcp: HashMap<String, &'static str> = HashMap::new();
    for c in &mut out {
        if !rcp.contains_key(&c.owner) {
            let levels = tessera_services::organizations::scp_levels(&Reader(r), &c.owner, "RESOURCE_CONTROL_POLICY")?;
            rcp.insert(c.owner.clone(), if levels.is_some() { "APPLICABLE" } else { "NOT_APPLICABLE" });
        }
        let restriction = rcp.get(&c.owner).copied().unwrap_or("NOT_APPLICABLE");
        c.details = serde_json::json!({ "resourceControlPolicyRestriction": restriction });
    }
    Ok(out)
}

/// What an external access analysis of one analyzer found per role, kept between analyses so
/// that only the roles whose trust policy changed are asked again (all of them when the zone of
/// trust or the accounts changed). Buckets are few and their findings depend on more records
/// (ACL, Block Public Access): they are analyzed every time.
#[derive(Debug, Default)]
pub struct Memo {
    /// The fingerprint of the zone of trust and the accounts the roles were analyzed with.
    context: Option<u64>,
    /// Role ARN → (fingerprint of its trust policy, its findings).
    roles: HashMap<String, (u64, Vec<Candidate>)>,
}

/// A principal whose permissions are checked for use.
type Holder = (String, &'static str, String, String, i64, Vec<String>);

/// The audit trail's last-access rows of some principals (unique ids).
pub type LastAccessLookup<'a> =
    dyn Fn(&[String]) -> Result<Vec<tessera_audit::last_access::LastAccess>, StoreError> + 'a;

/// The unused access of an unused access analyzer's zone of trust at `now_millis`: roles not
/// assumed, active access keys not used, console passwords not used within the tracking period
/// (`unusedAccessAge` days, 90 by default), counted from creation when never used. Service-linked
/// roles are left out, as on AWS.
pub fn analyze_unused(
    r: &(impl ReadTxn + ?Sized),
    analyzer: &Analyzer,
    now_millis: i64,
    last_access: &LastAccessLookup<'_>,
) -> Result<Vec<Candidate>, StoreError> {
    let zone = zone(r, analyzer)?;
    let cutoff = now_millis / 1000 - analyzer.unused_access_age.unwrap_or(90).saturating_mul(86_400);
    let last_accessed = |last: Option<i64>| match last {
        Some(secs) => serde_json::json!({ "lastAccessed": crate::timestamp(secs.saturating_mul(1000)) }),
        None => serde_json::json!({}),
    };
    let mut out = Vec::new();
    for res in resources(r, analyzer, &zone)? {
        let Source::Role(role) = &res.source else { continue };
        let last = role.last_used.as_ref().map(|(t, _)| *t);
        if role.path.starts_with("/aws-service-role/") || last.unwrap_or(role.created) >= cutoff {
            continue;
        }
        let details = serde_json::json!({ "unusedIamRoleDetails": last_accessed(last) });
        out.push(Candidate::unused(res.arn.clone(), ROLE, &res.owner, "UnusedIAMRole", details));
    }
    // Permissions: the services a used role's or a user's identity policies grant, not called
    // within the period. (ARN, type, owner, unique id, creation, identity policy documents.)
    let mut holders: Vec<Holder> = Vec::new();
    for res in resources(r, analyzer, &zone)? {
        let Source::Role(role) = &res.source else { continue };
        let last = role.last_used.as_ref().map(|(t, _)| *t);
        if role.path.starts_with("/aws-service-role/") || last.unwrap_or(role.created) < cutoff {
            continue;
        }
        let docs = identity_documents(r, &role.account, &role.inline_policies, &role.attached_policies)?;
        holders.push((res.arn.clone(), ROLE, res.owner.clone(), role.role_id.clone(), role.created, docs));
    }
    let mut users = BTreeMap::new();
    for account in &zone {
        for (_, v) in r.scan(model::table::USER, &format!("{account}/"), None, usize::MAX)? {
            let Ok(user) = serde_json::from_slice::<model::User>(&v) else { continue };
            if let Some(profile) = &user.login_profile {
                if user.password_last_used.unwrap_or(profile.created) < cutoff {
                    let details =
                        serde_json::json!({ "unusedIamUserPasswordDetails": last_accessed(user.password_last_used) });
                    out.push(Candidate::unused(user.arn(), USER, account, "UnusedIAMUserPassword", details));
                }
            }
            users.insert((user.account.clone(), user.name.to_ascii_lowercase()), user.arn());
            let docs = identity_documents(r, &user.account, &user.inline_policies, &user.attached_policies)?;
            holders.push((user.arn(), USER, user.account.clone(), user.user_id.clone(), user.created, docs));
        }
    }
    let ids: Vec<String> = holders.iter().map(|h| h.3.clone()).collect();
    let mut last_by: BTreeMap<(String, String), i64> = BTreeMap::new();
    for a in last_access(&ids)? {
        let e = last_by.entry((a.principal, a.service)).or_insert(a.last_millis);
        *e = (*e).max(a.last_millis);
    }
    for (arn, ty, owner, id, created, docs) in holders {
        for service in granted_services(&docs) {
            let last = last_by.get(&(id.clone(), service.clone())).copied();
            // Counted from the principal's creation when never used, like keys and roles.
            if last.map_or(created, |l| l / 1000) >= cutoff {
                continue;
            }
            let mut detail = last_accessed(last.map(|l| l / 1000));
            detail["serviceNamespace"] = Value::String(service.clone());
            let details = serde_json::json!({ "unusedPermissionDetails": detail });
            let mut c = Candidate::unused(arn.clone(), ty, &owner, "UnusedPermission", details);
            c.subject = service;
            out.push(c);
        }
    }
    for (_, v) in r.scan(model::table::ACCESS_KEY, "", None, usize::MAX)? {
        let Ok(key) = serde_json::from_slice::<model::AccessKey>(&v) else { continue };
        let model::KeyOwner::User { name } = &key.owner else { continue };
        let Some(user_arn) = users.get(&(key.account.clone(), name.to_ascii_lowercase())) else { continue };
        let last = key.last_used.as_ref().map(|(t, _, _)| *t);
        if key.status != "Active" || last.unwrap_or(key.created) >= cutoff {
            continue;
        }
        let mut detail = last_accessed(last);
        detail["accessKeyId"] = Value::String(key.access_key_id.clone());
        let details = serde_json::json!({ "unusedIamUserAccessKeyDetails": detail });
        let mut c = Candidate::unused(user_arn.clone(), USER, &key.account, "UnusedIAMUserAccessKey", details);
        c.subject = key.access_key_id.clone();
        out.push(c);
    }
    Ok(out)
}

/// The identity policy documents of a role or user: inline, and attached managed ones.
fn identity_documents(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
    inline: &[(String, String)],
    attached: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut docs: Vec<String> = inline.iter().map(|(_, d)| d.clone()).collect();
    for arn in attached {
        let read: &dyn ReadTxn = &Reader(r);
        docs.extend(tessera_services::iam::principal::managed_policy_document(read, account, arn)?);
    }
    Ok(docs)
}

/// A `&dyn ReadTxn` over any reader.
struct Reader<'a, R: ReadTxn + ?Sized>(&'a R);

impl<R: ReadTxn + ?Sized> ReadTxn for Reader<'_, R> {
    fn get(&self, table: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(table, key)
    }
    fn scan(
        &self,
        table: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<tessera_store::Row>, StoreError> {
        self.0.scan(table, prefix, after, limit)
    }
    fn count(&self, table: &str, prefix: &str) -> Result<u64, StoreError> {
        self.0.count(table, prefix)
    }
}

/// The service namespaces that `Allow` statements of the documents grant actions of, by a
/// literal prefix (`s3:Get*` grants `s3`; `*` and `NotAction` name no service and are left out).
fn granted_services(docs: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for doc in docs {
        let Ok(v) = serde_json::from_str::<Value>(doc) else { continue };
        for s in statements(&v) {
            if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
                continue;
            }
            for action in s.get("Action").map(strings).unwrap_or_default() {
                if let Some((service, _)) = action.split_once(':') {
                    if !service.is_empty() && !service.contains(['*', '?']) {
                        out.insert(service.to_ascii_lowercase());
                    }
                }
            }
        }
    }
    out
}

/// The findings of one bucket: its policy (unless Block Public Access restricts a public one)
/// and its ACL (unless ACLs are disabled, or public ones are ignored).
pub(crate) fn bucket_findings(
    r: &(impl ReadTxn + ?Sized),
    zone: &BTreeSet<String>,
    zone_org: Option<&str>,
    bucket: &BucketRecord,
) -> Result<Vec<Candidate>, StoreError> {
    let bpa = effective(bucket.public_access_block, account_public_access_block(r, &bucket.owner)?);
    let arn = bucket.arn();
    let resource = Resource { arn: &arn, owner: &bucket.owner, resource_type: BUCKET };
    let mut out = Vec::new();
    if let Some(doc) = &bucket.policy {
        if !(bpa.restrict_public_buckets && policy_is_public(doc)) {
            out.extend(policy_findings(r, zone, zone_org, &resource, doc, PolicyType::Resource));
        }
    }
    let zone_ids: BTreeSet<String> = zone.iter().map(|a| canonical_user_id(a)).collect();
    let mut by_grantee: BTreeMap<(String, String), (BTreeSet<&str>, bool)> = BTreeMap::new();
    for (grant, actions) in bucket_acl_grants(r, bucket)? {
        let (shown, is_public) = match (&grant.uri, &grant.id) {
            (Some(uri), _) if uri == ALL_USERS || uri == AUTHENTICATED_USERS => {
                (("AWS".to_string(), "*".to_string()), true)
            }
            (None, Some(id)) if !zone_ids.contains(id) => (("CanonicalUser".to_string(), id.clone()), false),
            _ => continue,
        };
        if is_public && bpa.ignore_public_acls {
            continue;
        }
        let entry = by_grantee.entry(shown).or_insert_with(|| (BTreeSet::new(), is_public));
        entry.0.extend(actions);
    }
    for ((ty, value), (actions, is_public)) in by_grantee {
        if actions.is_empty() {
            continue;
        }
        let action = actions.into_iter().map(str::to_string).collect();
        let principal = BTreeMap::from([(ty, value)]);
        let condition = BTreeMap::new();
        out.push(Candidate::external(
            &resource,
            principal,
            action,
            condition,
            is_public,
            "BUCKET_ACL",
            BTreeSet::new(),
        ));
    }
    Ok(out)
}

/// The resource a policy is attached to.
pub(crate) struct Resource<'a> {
    pub arn: &'a str,
    pub owner: &'a str,
    pub resource_type: &'static str,
}

/// One outside caller to ask the engine about.
pub(crate) struct Probe {
    /// The principal as a finding shows it.
    pub shown: BTreeMap<String, String>,
    pub principal: Principal,
    pub context: Context,
    pub is_public: bool,
}

/// The findings a resource policy gives: one per outside principal it allows.
pub(crate) fn policy_findings(
    r: &(impl ReadTxn + ?Sized),
    zone: &BTreeSet<String>,
    zone_org: Option<&str>,
    resource: &Resource<'_>,
    document: &str,
    ty: PolicyType,
) -> Vec<Candidate> {
    let Ok(doc) = serde_json::from_str::<Value>(document) else { return Vec::new() };
    let statements = statements(&doc);
    let (relaxed, reported) = relax(&doc);
    let Ok(policy) = tessera_policy::parse(&relaxed.to_string(), ty) else { return Vec::new() };
    let allow_all = tessera_policy::parse(
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        PolicyType::Identity,
    );
    let Ok(allow_all) = allow_all else { return Vec::new() };
    let (actions, resources): (&[&str], Vec<String>) = match ty {
        PolicyType::Trust => (ROLE_ACTIONS, vec![resource.arn.to_string()]),
        _ => (BUCKET_ACTIONS, vec![resource.arn.to_string()]),
    };
    let object_resources = object_resources(&statements, resource.arn);
    let mut out: Vec<Candidate> = Vec::new();
    for probe in probes(r, zone, zone_org, &statements) {
        let mut allowed = BTreeSet::new();
        let mut condition = BTreeMap::new();
        let mut allowing = BTreeSet::new();
        let set = PolicySet {
            identity: if probe.principal.has_identity_side() { vec![&allow_all] } else { Vec::new() },
            resource: Some(&policy),
            resource_is_trust: ty == PolicyType::Trust,
            ..Default::default()
        };
        let mut ask = |action: &str, res: &str| {
            let req = Request {
                principal: &probe.principal,
                action,
                resource: res,
                resource_account: Some(resource.owner),
                context: &probe.context,
            };
            let d = tessera_policy::evaluate(&set, &req);
            if d.is_allowed() {
                allowed.insert(action.to_string());
                for m in d.matched.iter().filter(|m| m.policy_type == ty) {
                    allowing.insert(m.statement_index);
                    if let Some(c) = reported.get(&m.statement_index) {
                        condition.extend(c.clone());
                    }
                }
            }
        };
        for action in actions {
            for res in &resources {
                ask(action, res);
            }
        }
        if ty != PolicyType::Trust {
            for action in OBJECT_ACTIONS {
                for res in &object_resources {
                    ask(action, res);
                }
            }
        }
        if allowed.is_empty() {
            continue;
        }
        let action = allowed.into_iter().collect();
        out.push(Candidate::external(resource, probe.shown, action, condition, probe.is_public, "POLICY", allowing));
    }
    out
}

/// The statements of a policy document (one object or a list).
pub(crate) fn statements(doc: &Value) -> Vec<Value> {
    match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(o @ Value::Object(_)) => vec![o.clone()],
        _ => Vec::new(),
    }
}

/// Strings of a value that is a string or a list of strings.
pub(crate) fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The object ARNs a bucket policy's statements name for `bucket_arn` (each asked as
/// written, so `arn:aws:s3:::b/public/*` is asked as itself), and `bucket_arn/*`.
pub(crate) fn object_resources(statements: &[Value], bucket_arn: &str) -> Vec<String> {
    let prefix = format!("{bucket_arn}/");
    let mut out = BTreeSet::from([format!("{bucket_arn}/*")]);
    for s in statements {
        if let Some(res) = s.get("Resource") {
            out.extend(strings(res).into_iter().filter(|r| r.starts_with(&prefix)));
        }
    }
    out.into_iter().collect()
}

/// The document with every condition on a caller-supplied key taken out of its `Allow`
/// statements, and the conditions of each `Allow` statement as a finding reports them, by
/// statement index (key → values joined by `,`).
pub(crate) fn relax(doc: &Value) -> (Value, BTreeMap<usize, BTreeMap<String, String>>) {
    let mut removed = BTreeMap::new();
    let mut doc = doc.clone();
    let single = doc.get("Statement").is_some_and(Value::is_object);
    let list: Vec<&mut Value> = match doc.get_mut("Statement") {
        Some(Value::Array(a)) => a.iter_mut().collect(),
        Some(o @ Value::Object(_)) if single => vec![o],
        _ => Vec::new(),
    };
    for (i, s) in list.into_iter().enumerate() {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let Some(Value::Object(cond)) = s.get_mut("Condition") else { continue };
        let mut taken = BTreeMap::new();
        let mut kept = Map::new();
        for (op, block) in cond.iter() {
            let Value::Object(keys) = block else {
                kept.insert(op.clone(), block.clone());
                continue;
            };
            let mut left = Map::new();
            for (key, values) in keys {
                if IDENTITY_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
                    left.insert(key.clone(), values.clone());
                }
                taken.insert(key.clone(), strings(values).join(","));
            }
            if !left.is_empty() {
                kept.insert(op.clone(), Value::Object(left));
            }
        }
        *cond = kept;
        if !taken.is_empty() {
            removed.insert(i, taken);
        }
    }
    (doc, removed)
}

/// The outside callers a policy's `Allow` statements name. `*` (and `NotPrincipal`) is the
/// public, asked as a caller from an unknown account, and as a caller from each account or
/// organization an identity condition names.
pub(crate) fn probes(
    r: &(impl ReadTxn + ?Sized),
    zone: &BTreeSet<String>,
    zone_org: Option<&str>,
    statements: &[Value],
) -> Vec<Probe> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |type_: &str, value: &str, out: &mut Vec<Probe>| {
        if !seen.insert((type_.to_string(), value.to_string())) {
            return;
        }
        if let Some(p) = probe(r, zone, zone_org, type_, value) {
            out.push(p);
        }
    };
    for s in statements {
        if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        if s.get("NotPrincipal").is_some() {
            add("AWS", "*", &mut out);
            continue;
        }
        match s.get("Principal") {
            Some(Value::String(v)) if v == "*" => add("AWS", "*", &mut out),
            Some(Value::Object(m)) => {
                for (ty, v) in m {
                    for value in strings(v) {
                        add(ty, &value, &mut out);
                    }
                }
            }
            _ => {}
        }
        // A public grant pinned to outside accounts or organizations by identity conditions.
        if let Some(Value::Object(cond)) = s.get("Condition") {
            for block in cond.values() {
                let Value::Object(keys) = block else { continue };
                for (key, values) in keys {
                    match key.to_ascii_lowercase().as_str() {
                        "aws:principalaccount" => {
                            for a in strings(values) {
                                add("AWS", &a, &mut out);
                            }
                        }
                        "aws:principalorgid" => {
                            for o in strings(values) {
                                add("OrgID", &o, &mut out);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    out
}

/// The outside caller for one principal entry, or `None` when it is inside the zone of trust
/// (or a service principal, which AWS treats as trusted).
fn probe(
    r: &(impl ReadTxn + ?Sized),
    zone: &BTreeSet<String>,
    zone_org: Option<&str>,
    ty: &str,
    value: &str,
) -> Option<Probe> {
    let shown = BTreeMap::from([(ty.to_string(), value.to_string())]);
    let mut context = Context::new();
    let principal = match ty {
        "AWS" if value == "*" => root(OUTSIDE_ACCOUNT),
        "OrgID" => {
            // A caller of an organization (outside the zone of trust unless the zone is that
            // organization): an account of it that is not in the zone will do.
            if zone_org == Some(value) {
                return None;
            }
            context.insert_one("aws:PrincipalOrgID", value);
            let p = root(OUTSIDE_ACCOUNT);
            return Some(Probe {
                shown: BTreeMap::from([("AWS".to_string(), "*".to_string())]),
                context: identity_context(&p, context),
                principal: p,
                is_public: false,
            });
        }
        "AWS" => {
            let account = account_of(value)?;
            if zone.contains(&account) {
                return None;
            }
            if let Some(org) = org_of(r, &account) {
                context.insert_one("aws:PrincipalOrgID", org);
            }
            principal_of(value, &account)?
        }
        "Federated" => {
            let kind = if value.contains(":saml-provider/") {
                PrincipalKind::Saml { provider: value.to_string() }
            } else {
                PrincipalKind::WebIdentity { provider: value.to_string() }
            };
            Principal { arn: value.to_string(), account: String::new(), kind }
        }
        "CanonicalUser" => root(OUTSIDE_ACCOUNT),
        _ => return None,
    };
    let is_public = value == "*";
    Some(Probe { shown, context: identity_context(&principal, context), principal, is_public })
}

/// The identity keys of a caller.
pub(crate) fn identity_context(p: &Principal, mut context: Context) -> Context {
    if !p.account.is_empty() {
        context.insert_one("aws:PrincipalAccount", p.account.clone());
    }
    let arn = match &p.kind {
        PrincipalKind::AssumedRole { role_arn } => role_arn.clone(),
        _ => p.arn.clone(),
    };
    context.insert_one("aws:PrincipalArn", arn);
    context.insert_one("aws:PrincipalIsAWSService", "false");
    let ty = match &p.kind {
        PrincipalKind::Root => "Account",
        PrincipalKind::User => "User",
        PrincipalKind::AssumedRole { .. } => "AssumedRole",
        PrincipalKind::FederatedUser => "FederatedUser",
        _ => "WebIdentityUser",
    };
    context.insert_one("aws:PrincipalType", ty);
    context
}

/// A caller of `account` granted whatever its account allows: an IAM user (the root user
/// cannot assume roles, so it would not stand for the account in a trust policy).
pub(crate) fn root(account: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::{account}:user/access-analyzer-probe"),
        account: account.to_string(),
        kind: PrincipalKind::User,
    }
}

/// The account of an `AWS` principal value (an account id or an ARN).
fn account_of(value: &str) -> Option<String> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.to_string());
    }
    let account = value.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.to_string())
}

/// The caller an `AWS` principal value stands for: the account's root, a user, or a session
/// of a role.
fn principal_of(value: &str, account: &str) -> Option<Principal> {
    if !value.starts_with("arn:") || value.ends_with(":root") {
        return Some(root(account));
    }
    let resource = value.splitn(6, ':').nth(5)?;
    if let Some(rest) = resource.strip_prefix("role/") {
        let name = rest.rsplit('/').next()?;
        return Some(Principal {
            arn: format!("arn:aws:sts::{account}:assumed-role/{name}/access-analyzer"),
            account: account.to_string(),
            kind: PrincipalKind::AssumedRole { role_arn: value.to_string() },
        });
    }
    Principal::from_arn(value)
}

/// A store that holds nothing: policies checked on their own (`CheckNoPublicAccess`, ...) know
/// no accounts or organizations.
pub(crate) struct NoStore;

impl ReadTxn for NoStore {
    fn get(&self, _: &str, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }
    fn scan(&self, _: &str, _: &str, _: Option<&str>, _: usize) -> Result<Vec<tessera_store::Row>, StoreError> {
        Ok(Vec::new())
    }
    fn count(&self, _: &str, _: &str) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relax_takes_out_caller_keys_only() {
        let doc: Value = serde_json::from_str(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*",
                "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"StringEquals":{"aws:PrincipalOrgID":"o-1"}}},
                {"Effect":"Deny","Principal":"*","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        )
        .unwrap();
        let (relaxed, reported) = relax(&doc);
        assert_eq!(reported.get(&0).and_then(|m| m.get("aws:SourceIp")).map(String::as_str), Some("10.0.0.0/8"));
        assert_eq!(reported.get(&0).and_then(|m| m.get("aws:PrincipalOrgID")).map(String::as_str), Some("o-1"));
        assert!(relaxed["Statement"][0]["Condition"].get("IpAddress").is_none());
        assert_eq!(relaxed["Statement"][0]["Condition"]["StringEquals"]["aws:PrincipalOrgID"], "o-1");
        assert_eq!(relaxed["Statement"][1]["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert!(!reported.contains_key(&1));
    }

    #[test]
    fn principal_values() {
        assert_eq!(account_of("111122223333").as_deref(), Some("111122223333"));
        assert_eq!(account_of("arn:aws:iam::111122223333:role/x").as_deref(), Some("111122223333"));
        assert_eq!(account_of("arn:aws:iam::bad:root"), None);
        let p = principal_of("arn:aws:iam::111122223333:role/path/x", "111122223333").unwrap();
        assert_eq!(p.kind, PrincipalKind::AssumedRole { role_arn: "arn:aws:iam::111122223333:role/path/x".into() });
        assert_eq!(principal_of("111122223333", "111122223333").unwrap().kind, PrincipalKind::User);
    }
}

#[cfg(test)]
mod engine_tests {
    use super::*;
    use std::collections::BTreeMap;

    fn findings(doc: &str, ty: PolicyType, arn: &str) -> Vec<Candidate> {
        let zone = BTreeSet::from(["111111111111".to_string()]);
        let resource = Resource { arn, owner: "111111111111", resource_type: ROLE };
        policy_findings(&NoStore, &zone, None, &resource, doc, ty)
    }

    #[test]
    fn trust_of_an_outside_account_is_a_finding_and_of_the_own_account_is_not() {
        let arn = "arn:aws:iam::111111111111:role/r";
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root","arn:aws:iam::111111111111:root"]},"Action":"sts:AssumeRole"}]}"#;
        let f = findings(doc, PolicyType::Trust, arn);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].principal, BTreeMap::from([("AWS".to_string(), "arn:aws:iam::123456789012:root".to_string())]));
        assert_eq!(f[0].action, vec!["sts:AssumeRole".to_string()]);
    }

    #[test]
    fn public_bucket_policy_with_a_condition() {
        let arn = "arn:aws:s3:::b";
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#;
        let f = findings(doc, PolicyType::Resource, arn);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].is_public);
        assert_eq!(f[0].action, vec!["s3:GetObject".to_string()]);
        assert_eq!(f[0].condition.get("aws:SourceIp").map(String::as_str), Some("10.0.0.0/8"));
    }
}
