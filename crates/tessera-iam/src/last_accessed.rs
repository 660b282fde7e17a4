//! Service last accessed data: `GenerateServiceLastAccessedDetails`,
//! `GetServiceLastAccessedDetails`, `GetServiceLastAccessedDetailsWithEntities`
//! (IAM User Guide, `access_policies_last-accessed.html`).
//!
//! The data comes from Tessera's own audit trail, through the audit store's last-access index
//! ([`tessera_audit::last_access`]): every authenticated call of an IAM user, or of a session of
//! a role (counted for the role), allowed or not, within the 400-day tracking window. A report
//! covers the services Tessera serves that the entity's permissions policies could allow (its
//! inline and attached policies; a user's groups' policies too), and is computed when it is
//! generated, so that a job is `COMPLETED` by the time its id is returned. Reports are kept
//! for [`JOB_LIFETIME_SECS`] and only the principal that generated one may read it.

use std::collections::BTreeMap;

use tessera_store::ReadTxn;
use tessera_wire::operations;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    invalid_input, load_named, no_such_entity, page_by_index, resolve_policy, Cx, Entity, StoreResultExt,
};
use super::groups::members;
use crate::clock;
use crate::model::{
    self, table, AccessReport, ActionAccess, EntityAccess, EntityKind, Group, LastAuthenticated, PolicyAttachment,
    PolicyUsage, Role, ServiceAccess, User,
};
use crate::validate::Checks;

/// How long a report job can be read after it was generated (AWS does not say; 30 days).
pub const JOB_LIFETIME_SECS: i64 = 30 * 86_400;

/// The services Tessera serves: namespace, name as IAM reports it, and the actions tracked at
/// `ACTION_LEVEL` (the service's API operations, the names CloudTrail records as `eventName`).
pub const SERVICES: &[(&str, &str, &[&str])] = &[
    ("cloudtrail", "AWS CloudTrail", operations::CLOUDTRAIL_OPERATIONS),
    ("ec2", "Amazon EC2", operations::EC2_OPERATIONS),
    ("iam", "AWS Identity and Access Management", operations::IAM_OPERATIONS),
    ("organizations", "AWS Organizations", operations::ORGANIZATIONS_OPERATIONS),
    ("s3", "Amazon S3", operations::S3_OPERATIONS),
    ("sts", "AWS Security Token Service", operations::STS_OPERATIONS),
];

/// What a report is about: the entities whose calls count, and the policies that say which
/// services it covers.
struct Subject {
    entities: Vec<EntityAccess>,
    documents: Vec<String>,
}

fn entity_of<E: Entity>(e: &E) -> EntityAccess {
    EntityAccess {
        kind: E::KIND,
        name: e.name().to_string(),
        path: e.path().to_string(),
        id: e.id().to_string(),
        arn: e.arn(),
        last: None,
    }
}

/// The permissions policy documents of an entity: inline and attached (default versions).
fn documents_of<E: Entity>(r: &(impl ReadTxn + ?Sized), account: &str, e: &E) -> Result<Vec<String>, AwsError> {
    let mut docs: Vec<String> = e.inline_policies().iter().map(|(_, d)| d.clone()).collect();
    for arn in e.attached() {
        if let Some(p) = resolve_policy(r, account, arn)? {
            docs.extend(p.default_document().map(str::to_string));
        }
    }
    Ok(docs)
}

fn load_users(r: &(impl ReadTxn + ?Sized), account: &str, names: &[String]) -> Result<Vec<User>, AwsError> {
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        out.extend(load_named::<User>(r, table::USER, account, n)?);
    }
    Ok(out)
}

/// The entity an ARN names, or `NoSuchEntity` / `InvalidInput`.
fn subject(r: &(impl ReadTxn + ?Sized), account: &str, arn: &str) -> Result<Subject, AwsError> {
    let bad = || invalid_input(format!("ARN {arn} is not valid."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
    let (owner, resource) = rest.split_once(':').ok_or_else(bad)?;
    let (kind, path_name) = resource.split_once('/').ok_or_else(bad)?;
    let name = path_name.rsplit('/').next().unwrap_or_default();
    if name.is_empty() {
        return Err(bad());
    }
    let missing = || no_such_entity(format!("The entity with ARN {arn} cannot be found."));
    if kind == "policy" {
        let policy = resolve_policy(r, account, arn)?.ok_or_else(missing)?;
        let mut entities = Vec::new();
        let prefix = model::attachment_usage_prefix(account, &policy.arn(), PolicyUsage::PermissionsPolicy);
        let rows = r.scan(table::POLICY_ATTACHMENT, &prefix, None, usize::MAX).st()?;
        for (_, a) in model::decode_rows::<PolicyAttachment>(table::POLICY_ATTACHMENT, rows).st()? {
            match a.kind {
                EntityKind::User => entities.extend(load_users(r, account, &[a.name])?.iter().map(entity_of)),
                EntityKind::Role => {
                    entities.extend(load_named::<Role>(r, table::ROLE, account, &a.name)?.iter().map(entity_of))
                }
                EntityKind::Group => {
                    entities.extend(load_users(r, account, &members(r, account, &a.name)?)?.iter().map(entity_of))
                }
            }
        }
        entities.sort_by(|a, b| a.arn.cmp(&b.arn));
        entities.dedup_by(|a, b| a.id == b.id);
        return Ok(Subject {
            entities,
            documents: policy.default_document().map(str::to_string).into_iter().collect(),
        });
    }
    if owner != account {
        return Err(missing());
    }
    let matches = |e_arn: String| e_arn == arn;
    match kind {
        "user" => {
            let u: User =
                load_named(r, table::USER, account, name)?.filter(|u: &User| matches(u.arn())).ok_or_else(missing)?;
            let mut documents = documents_of(r, account, &u)?;
            for g in &u.groups {
                if let Some(g) = load_named::<Group>(r, table::GROUP, account, g)? {
                    documents.extend(documents_of(r, account, &g)?);
                }
            }
            Ok(Subject { entities: vec![entity_of(&u)], documents })
        }
        "role" => {
            let role: Role =
                load_named(r, table::ROLE, account, name)?.filter(|x: &Role| matches(x.arn())).ok_or_else(missing)?;
            Ok(Subject { entities: vec![entity_of(&role)], documents: documents_of(r, account, &role)? })
        }
        "group" => {
            let g: Group =
                load_named(r, table::GROUP, account, name)?.filter(|x: &Group| matches(x.arn())).ok_or_else(missing)?;
            let entities = load_users(r, account, &members(r, account, &g.name)?)?.iter().map(entity_of).collect();
            Ok(Subject { entities, documents: documents_of(r, account, &g)? })
        }
        _ => Err(bad()),
    }
}

/// The `Action`/`NotAction` blocks of the `Allow` statements of the documents: (not, patterns).
pub fn allow_blocks(documents: &[String]) -> Vec<(bool, Vec<String>)> {
    let strings = |v: &serde_json::Value| -> Vec<String> {
        match v {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    };
    let mut out = Vec::new();
    for doc in documents {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else { continue };
        let statements = match v.get("Statement") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            Some(s) => vec![s.clone()],
            None => continue,
        };
        for s in statements {
            if s.get("Effect").and_then(|e| e.as_str()) != Some("Allow") {
                continue;
            }
            if let Some(a) = s.get("Action") {
                out.push((false, strings(a)));
            } else if let Some(a) = s.get("NotAction") {
                out.push((true, strings(a)));
            }
        }
    }
    out
}

/// Whether some `Allow` statement could grant `namespace:action`.
pub fn allowed(blocks: &[(bool, Vec<String>)], namespace: &str, action: &str) -> bool {
    let full = format!("{namespace}:{action}");
    blocks.iter().any(|(not, pats)| pats.iter().any(|p| tessera_policy::action_matches(p, &full)) != *not)
}

/// The report of `subject`'s entities from the last-access rows, at `granularity`.
fn build(subject: Subject, rows: &[tessera_audit::last_access::LastAccess], action_level: bool) -> Vec<ServiceAccess> {
    let blocks = allow_blocks(&subject.documents);
    let by_id: BTreeMap<&str, &EntityAccess> = subject.entities.iter().map(|e| (e.id.as_str(), e)).collect();
    let newer = |a: &Option<LastAuthenticated>, t: i64| a.as_ref().is_none_or(|(at, _, _)| t > *at);
    let mut out = Vec::new();
    for (namespace, name, catalog) in SERVICES {
        let mut actions: BTreeMap<String, Option<LastAuthenticated>> =
            catalog.iter().filter(|a| allowed(&blocks, namespace, a)).map(|a| (a.to_string(), None)).collect();
        if actions.is_empty() {
            continue;
        }
        let mut last: Option<LastAuthenticated> = None;
        let mut per_entity: BTreeMap<&str, i64> = BTreeMap::new();
        for row in rows.iter().filter(|r| r.service == *namespace) {
            let Some(entity) = by_id.get(row.principal.as_str()) else { continue };
            let t = row.last_millis.div_euclid(1000);
            if newer(&last, t) {
                last = Some((t, entity.arn.clone(), row.region.clone()));
            }
            let e = per_entity.entry(entity.id.as_str()).or_insert(t);
            *e = (*e).max(t);
            let slot = actions.entry(row.action.clone()).or_insert(None);
            if newer(slot, t) {
                *slot = Some((t, entity.arn.clone(), row.region.clone()));
            }
        }
        let entities = subject
            .entities
            .iter()
            .map(|e| EntityAccess { last: per_entity.get(e.id.as_str()).copied(), ..e.clone() })
            .collect();
        out.push(ServiceAccess {
            namespace: namespace.to_string(),
            name: name.to_string(),
            last,
            total_entities: u32::try_from(per_entity.len()).unwrap_or(u32::MAX),
            actions: if action_level {
                actions.into_iter().map(|(action, last)| ActionAccess { action, last }).collect()
            } else {
                Vec::new()
            },
            entities,
        });
    }
    // In namespace order (the order of `SERVICES`).
    out
}

/// `GenerateServiceLastAccessedDetails`.
pub(crate) fn generate(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "Arn");
    let granularity = cx.params.get("Granularity");
    c.one_of("granularity", granularity, &["SERVICE_LEVEL", "ACTION_LEVEL"]);
    c.finish()?;
    let job_type = granularity.unwrap_or("SERVICE_LEVEL").to_string();
    let account = cx.account();
    cx.authorize("iam:GenerateServiceLastAccessedDetails", &arn, Vec::new())?;
    let read = cx.read()?;
    let subject = subject(read.as_ref(), account, &arn)?;
    drop(read);
    let ids: Vec<String> = subject.entities.iter().map(|e| e.id.clone()).collect();
    let now = cx.now();
    let since = (now - tessera_audit::last_access::TRACKING_WINDOW_DAYS * 86_400) * 1000;
    let rows = cx.services.audit.last_accessed(&ids, since).map_err(|e| {
        tracing::error!(error = %e, "reading the last-access index failed");
        AwsError::internal()
    })?;
    let services = build(subject, &rows, job_type == "ACTION_LEVEL");
    let job_id = crate::ids::request_id();
    let report = AccessReport {
        job_id: job_id.clone(),
        account: account.to_string(),
        entity_arn: arn,
        job_type,
        requester: cx.call.caller.arn.clone(),
        created: now,
        completed: now,
        services,
    };
    cx.write(|w| {
        // Reports past their lifetime go as new ones are made.
        let prefix = format!("{account}/");
        let rows = w.scan(table::ACCESS_REPORT, &prefix, None, usize::MAX).st()?;
        for (key, old) in model::decode_rows::<AccessReport>(table::ACCESS_REPORT, rows).st()? {
            if old.created + JOB_LIFETIME_SECS < now {
                w.delete(table::ACCESS_REPORT, &key).st()?;
            }
        }
        model::save(w, table::ACCESS_REPORT, &format!("{account}/{job_id}"), &report).st()
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("JobId", &job_id);
    Ok(cx.respond(Some(w.finish())))
}

/// The report a `JobId` names, readable by its requester within its lifetime.
fn load_report(cx: &Cx<'_>, action: &str) -> Result<AccessReport, AwsError> {
    let mut c = Checks::new();
    let job_id = cx.params.get("JobId");
    c.not_null("jobId", job_id.is_some());
    if let Some(j) = job_id {
        c.length("jobId", j, 36, 36);
    }
    c.finish()?;
    let job_id = job_id.unwrap_or_default();
    cx.authorize(action, "*", Vec::new())?;
    let read = cx.read()?;
    let report: Option<AccessReport> =
        model::load(read.as_ref(), table::ACCESS_REPORT, &format!("{}/{job_id}", cx.account())).st()?;
    report
        .filter(|r| r.requester == cx.call.caller.arn && r.created + JOB_LIFETIME_SECS >= cx.now())
        .ok_or_else(|| no_such_entity(format!("No report found for JobId {job_id}.")))
}

fn write_job_head(w: &mut XmlWriter, r: &AccessReport) {
    w.elem("JobStatus", "COMPLETED")
        .elem("JobCreationDate", &clock::iso8601(r.created))
        .elem("JobCompletionDate", &clock::iso8601(r.completed));
}

/// `GetServiceLastAccessedDetails`.
pub(crate) fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let report = load_report(cx, "iam:GetServiceLastAccessedDetails")?;
    let page = cx.page()?;
    let (services, marker) = page_by_index(&page, report.services.clone());
    let mut w = XmlWriter::fragment();
    write_job_head(&mut w, &report);
    w.elem("JobType", &report.job_type);
    w.open("ServicesLastAccessed", None);
    for s in &services {
        w.open("member", None).elem("ServiceName", &s.name);
        if let Some((at, entity, region)) = &s.last {
            w.elem("LastAuthenticated", &clock::iso8601(*at))
                .elem("LastAuthenticatedEntity", entity)
                .elem("LastAuthenticatedRegion", region);
        }
        w.elem("ServiceNamespace", &s.namespace).elem("TotalAuthenticatedEntities", &s.total_entities.to_string());
        if report.job_type == "ACTION_LEVEL" {
            w.open("TrackedActionsLastAccessed", None);
            for a in &s.actions {
                w.open("member", None).elem("ActionName", &a.action);
                if let Some((at, entity, region)) = &a.last {
                    w.elem("LastAccessedEntity", entity)
                        .elem("LastAccessedTime", &clock::iso8601(*at))
                        .elem("LastAccessedRegion", region);
                }
                w.close();
            }
            w.close();
        }
        w.close();
    }
    w.close();
    crate::validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// `GetServiceLastAccessedDetailsWithEntities`.
pub(crate) fn get_with_entities(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let namespace = cx.params.get("ServiceNamespace");
    c.not_null("serviceNamespace", namespace.is_some());
    if let Some(n) = namespace {
        c.length("serviceNamespace", n, 1, 64).pattern("serviceNamespace", n, "[\\w-]*", |s| {
            s.chars().all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '-')
        });
    }
    c.finish()?;
    let namespace = namespace.unwrap_or_default();
    let report = load_report(cx, "iam:GetServiceLastAccessedDetailsWithEntities")?;
    let page = cx.page()?;
    let mut entities: Vec<EntityAccess> =
        report.services.iter().find(|s| s.namespace == namespace).map(|s| s.entities.clone()).unwrap_or_default();
    // Most recent first; entities that never called it last.
    entities.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.arn.cmp(&b.arn)));
    let (entities, marker) = page_by_index(&page, entities);
    let mut w = XmlWriter::fragment();
    write_job_head(&mut w, &report);
    w.open("EntityDetailsList", None);
    for e in &entities {
        let kind = match e.kind {
            EntityKind::User => "USER",
            EntityKind::Role => "ROLE",
            EntityKind::Group => "GROUP",
        };
        w.open("member", None)
            .open("EntityInfo", None)
            .elem("Arn", &e.arn)
            .elem("Name", &e.name)
            .elem("Type", kind)
            .elem("Id", &e.id)
            .elem("Path", &e.path)
            .close();
        if let Some(at) = e.last {
            w.elem("LastAuthenticated", &clock::iso8601(at));
        }
        w.close();
    }
    w.close();
    crate::validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_blocks_with_wildcards_and_not_action() {
        let docs = vec![
            r#"{"Statement":[{"Effect":"Allow","Action":["iam:Get*","sts:*"],"Resource":"*"},{"Effect":"Deny","Action":"ec2:*","Resource":"*"}]}"#.to_string(),
            r#"{"Statement":{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}}"#.to_string(),
        ];
        let b = allow_blocks(&docs);
        assert!(allowed(&b, "iam", "GetUser") && allowed(&b, "sts", "AssumeRole"));
        assert!(allowed(&b, "ec2", "RunInstances"), "NotAction s3:* allows ec2");
        assert!(!allowed(&b, "s3", "GetObject"));
    }
}
