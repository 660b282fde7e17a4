//! Service last accessed data for Organizations: `GenerateOrganizationsAccessReport` and
//! `GetOrganizationsAccessReport` (IAM API reference; IAM User Guide,
//! "Refining permissions in AWS using last accessed information").
//!
//! A report is about an Organizations entity path (`o-.../r-...[/ou-...][/<account>]`): the
//! services Tessera serves that the SCPs applying to the entity allow (every level from the root
//! down to the entity must have an SCP whose `Allow` statements could grant some action of the
//! service; the management account is not restricted by SCPs), or, with `OrganizationsPolicyId`,
//! that this SCP allows; and for each, the most recent call by an IAM user or role (the
//! audit trail's last-access index, as `GenerateServiceLastAccessedDetails` reads it) of any
//! account in or under the entity. It is computed when generated, so a job is `COMPLETED` (or
//! `FAILED` with `ErrorDetails`) by the time its id is returned. Management account only; SCPs
//! must be enabled. Reports are kept for [`super::last_accessed::JOB_LIFETIME_SECS`], readable by
//! the principal that generated them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use crate::{Call, Services};

use crate::iam::entities::{no_such_entity, page_by_index, Cx, Entity, StoreResultExt};
use crate::iam::last_accessed::{allow_blocks, allowed, JOB_LIFETIME_SECS, SERVICES};
use crate::model::{self, table, Account, Organization, Role, User};
use crate::{self as orgs, SERVICE_CONTROL_POLICY};
use crate::{clock, validate::Checks};

/// Reports by `<account>/<job id>`.
const ORG_ACCESS_REPORT: &str = "org_access_report";

/// One service of a report.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Access {
    namespace: String,
    name: String,
    /// (epoch seconds, Region, entity path of the account) of the most recent call.
    last: Option<(i64, String, String)>,
    /// Accounts with principals that called it.
    accounts: u32,
}

/// A stored report.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Report {
    requester: String,
    created: i64,
    /// `(code, message)` when the job failed.
    error: Option<(String, String)>,
    services: Vec<Access>,
}

/// `organizationsEntityPathType`: `^o-[0-9a-z]{10,32}\/r-[0-9a-z]{4,32}[0-9a-z-\/]*`.
fn is_entity_path(s: &str) -> bool {
    let lower = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let Some((org, rest)) = s.split_once('/') else { return false };
    let Some(root) = rest.strip_prefix("r-") else { return false };
    org.strip_prefix("o-").is_some_and(|o| (10..=32).contains(&o.len()) && o.bytes().all(lower))
        && root.bytes().take_while(|c| lower(*c)).count() >= 4
        && root.bytes().all(|c| lower(c) || c == b'-' || c == b'/')
}

/// The accounts in a report (each with its entity path) and the SCP documents of each level.
type Scope = (Vec<(Account, String)>, Vec<Vec<String>>);

/// The accounts under `path` (the entity and its children) and the SCP levels of the entity,
/// or the reason the job fails.
fn resolve(
    r: &dyn tessera_store::ReadTxn,
    org: &Organization,
    path: &str,
) -> Result<Result<Scope, (String, String)>, AwsError> {
    let fail = |m: &str| Ok(Err(("InvalidInput".to_string(), m.to_string())));
    if !org.enabled_policy_types.iter().any(|t| t == SERVICE_CONTROL_POLICY) {
        return fail("Service control policies must be enabled for the organization root.");
    }
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if segments.len() < 2 || segments[0] != org.id || segments[1] != org.root_id {
        return fail("The entity path does not name an entity of your organization.");
    }
    let mut levels = Vec::new();
    let mut accounts = Vec::new();
    for (n, seg) in segments.iter().enumerate().skip(1) {
        let mut docs = Vec::new();
        for (policy, ty) in orgs::attachments_of(r, org, seg)? {
            if ty == SERVICE_CONTROL_POLICY {
                docs.extend(orgs::load_policy(r, org, &policy)?.map(|p| p.content().to_string()));
            }
        }
        levels.push(docs);
        let parent = segments[n - 1];
        let is_last = n == segments.len() - 1;
        if seg.len() == 12 && seg.bytes().all(|c| c.is_ascii_digit()) {
            let Some(a) = orgs::load_member(r, org, seg)? else { return fail("The entity path names no account.") };
            if !is_last || a.parent_id.as_deref() != Some(parent) {
                return fail("The entity path does not match the account's place in the organization.");
            }
            if a.id == org.management_account {
                levels.clear();
            }
            accounts.push((a, path.trim_end_matches('/').to_string()));
        } else if n > 1 {
            let Some(ou) = orgs::load_ou(r, org, seg)? else {
                return fail("The entity path names no organizational unit.");
            };
            if ou.parent_id != parent {
                return fail("The entity path does not match the organizational unit's place in the organization.");
            }
        }
    }
    if accounts.is_empty() {
        // A root or OU: every account at or under it.
        let prefix = format!("{}/", segments.join("/"));
        for a in orgs::org_accounts(r, org)? {
            let parent = a.parent_id.clone().unwrap_or_else(|| org.root_id.clone());
            let account_path = format!("{}{}", orgs::path_under(r, org, &parent)?, a.id);
            if format!("{account_path}/").starts_with(&prefix) {
                accounts.push((a, account_path));
            }
        }
    }
    Ok(Ok((accounts, levels)))
}

/// Whether every level allows some action of `namespace` (no levels: not restricted).
fn levels_allow(levels: &[Vec<(bool, Vec<String>)>], namespace: &str, actions: &[&str]) -> bool {
    levels.iter().all(|blocks| actions.iter().any(|a| allowed(blocks, namespace, a)))
}

/// Run IAM's `GenerateOrganizationsAccessReport` / `GetOrganizationsAccessReport` (IAM
/// operations that read the organization's tree and SCPs: they live here, beside what they
/// read, and the dispatcher routes them here).
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let cx = Cx { services, call, params };
    match call.operation.as_str() {
        "GenerateOrganizationsAccessReport" => generate(&cx),
        _ => get(&cx),
    }
}

/// `GenerateOrganizationsAccessReport`.
fn generate(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let path = cx.params.get("EntityPath");
    let policy_id = cx.params.get("OrganizationsPolicyId");
    c.not_null("entityPath", path.is_some());
    if let Some(p) = path {
        c.length("entityPath", p, 19, 427).pattern(
            "entityPath",
            p,
            r"^o-[0-9a-z]{10,32}\/r-[0-9a-z]{4,32}[0-9a-z-\/]*",
            is_entity_path,
        );
    }
    if let Some(p) = policy_id {
        c.pattern("organizationsPolicyId", p, "^p-[0-9a-zA-Z_]{8,128}$", |p| {
            p.strip_prefix("p-").is_some_and(|r| {
                (8..=128).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
        });
    }
    c.finish()?;
    let path = path.unwrap_or_default().to_string();
    let account = cx.account();
    cx.authorize(
        "iam:GenerateOrganizationsAccessReport",
        &format!("arn:aws:iam::{account}:access-report/{path}"),
        Vec::new(),
    )?;
    let read = cx.read()?;
    let org = orgs::org_of(read.as_ref(), account)?.filter(|o| o.management_account == account).ok_or_else(|| {
        AwsError::access_denied(
            "To generate an Organizations access report you must be signed in to the organization's management account.",
        )
    })?;
    let now = cx.now();
    let mut report = Report { requester: cx.call.caller.arn.clone(), created: now, error: None, services: Vec::new() };
    match resolve(read.as_ref(), &org, &path)? {
        Err(e) => report.error = Some(e),
        Ok((accounts, mut levels)) => {
            if let Some(id) = policy_id {
                match orgs::load_policy(read.as_ref(), &org, id)?.filter(|p| p.policy_type() == SERVICE_CONTROL_POLICY)
                {
                    Some(p) => levels = vec![vec![p.content().to_string()]],
                    None => {
                        report.error =
                            Some(("InvalidInput".into(), format!("The organization has no SCP with the id {id}.")))
                    }
                }
            }
            if report.error.is_none() {
                let blocks: Vec<_> = levels.iter().map(|docs| allow_blocks(docs)).collect();
                let mut ids: BTreeMap<String, String> = BTreeMap::new();
                for (a, account_path) in &accounts {
                    let prefix = format!("{}/", a.id);
                    let users = model::decode_rows::<User>(
                        table::USER,
                        read.scan(table::USER, &prefix, None, usize::MAX).st()?,
                    )
                    .st()?;
                    let roles = model::decode_rows::<Role>(
                        table::ROLE,
                        read.scan(table::ROLE, &prefix, None, usize::MAX).st()?,
                    )
                    .st()?;
                    ids.extend(users.iter().map(|(_, u)| (u.id().to_string(), account_path.clone())));
                    ids.extend(roles.iter().map(|(_, r)| (r.id().to_string(), account_path.clone())));
                }
                let list: Vec<String> = ids.keys().cloned().collect();
                let since = (now - tessera_audit::last_access::TRACKING_WINDOW_DAYS * 86_400) * 1000;
                let rows = cx.services.audit.last_accessed(&list, since).map_err(|e| {
                    tracing::error!(error = %e, "reading the last-access index failed");
                    AwsError::internal()
                })?;
                for (namespace, name, actions) in SERVICES {
                    if !levels_allow(&blocks, namespace, actions) {
                        continue;
                    }
                    let mut last: Option<(i64, String, String)> = None;
                    let mut callers: BTreeSet<&str> = BTreeSet::new();
                    for row in rows.iter().filter(|r| r.service == *namespace) {
                        let Some(entity_path) = ids.get(&row.principal) else { continue };
                        callers.insert(entity_path);
                        let t = row.last_millis.div_euclid(1000);
                        if last.as_ref().is_none_or(|(at, _, _)| t > *at) {
                            last = Some((t, row.region.clone(), entity_path.clone()));
                        }
                    }
                    report.services.push(Access {
                        namespace: namespace.to_string(),
                        name: name.to_string(),
                        last,
                        accounts: u32::try_from(callers.len()).unwrap_or(u32::MAX),
                    });
                }
            }
        }
    }
    drop(read);
    let job_id = crate::ids::request_id();
    cx.write(|w| {
        let prefix = format!("{account}/");
        let rows = w.scan(ORG_ACCESS_REPORT, &prefix, None, usize::MAX).st()?;
        for (key, old) in model::decode_rows::<Report>(ORG_ACCESS_REPORT, rows).st()? {
            if old.created + JOB_LIFETIME_SECS < now {
                w.delete(ORG_ACCESS_REPORT, &key).st()?;
            }
        }
        model::save(w, ORG_ACCESS_REPORT, &format!("{account}/{job_id}"), &report).st()
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("JobId", &job_id);
    Ok(cx.respond(Some(w.finish())))
}

/// `GetOrganizationsAccessReport`.
fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let job_id = cx.params.get("JobId");
    let sort = cx.params.get("SortKey");
    c.not_null("jobId", job_id.is_some());
    if let Some(j) = job_id {
        c.length("jobId", j, 36, 36);
    }
    c.one_of(
        "sortKey",
        sort,
        &[
            "SERVICE_NAMESPACE_ASCENDING",
            "SERVICE_NAMESPACE_DESCENDING",
            "LAST_AUTHENTICATED_TIME_ASCENDING",
            "LAST_AUTHENTICATED_TIME_DESCENDING",
        ],
    );
    c.finish()?;
    let job_id = job_id.unwrap_or_default();
    let page = cx.page()?;
    cx.authorize("iam:GetOrganizationsAccessReport", "*", Vec::new())?;
    let read = cx.read()?;
    let report: Report = model::load(read.as_ref(), ORG_ACCESS_REPORT, &format!("{}/{job_id}", cx.account()))
        .st()?
        .filter(|r: &Report| r.requester == cx.call.caller.arn && r.created + JOB_LIFETIME_SECS >= cx.now())
        .ok_or_else(|| no_such_entity(format!("No report found for JobId {job_id}.")))?;
    let mut services = report.services.clone();
    let time = |a: &Access| a.last.as_ref().map(|l| l.0);
    match sort.unwrap_or("SERVICE_NAMESPACE_ASCENDING") {
        "SERVICE_NAMESPACE_DESCENDING" => services.reverse(),
        "LAST_AUTHENTICATED_TIME_ASCENDING" => services.sort_by_key(time),
        "LAST_AUTHENTICATED_TIME_DESCENDING" => services.sort_by_key(|a| std::cmp::Reverse(time(a))),
        _ => {}
    }
    let accessed = report.services.iter().filter(|s| s.last.is_some()).count();
    let (services, marker) = page_by_index(&page, services);
    let mut w = XmlWriter::fragment();
    w.elem("JobStatus", if report.error.is_some() { "FAILED" } else { "COMPLETED" })
        .elem("JobCreationDate", &clock::iso8601(report.created))
        .elem("JobCompletionDate", &clock::iso8601(report.created));
    if let Some((code, message)) = &report.error {
        w.open("ErrorDetails", None).elem("Message", message).elem("Code", code).close();
    } else {
        w.elem("NumberOfServicesAccessible", &report.services.len().to_string())
            .elem("NumberOfServicesNotAccessed", &(report.services.len() - accessed).to_string());
        w.open("AccessDetails", None);
        for s in &services {
            w.open("member", None).elem("ServiceName", &s.name).elem("ServiceNamespace", &s.namespace);
            if let Some((at, region, path)) = &s.last {
                w.elem("Region", region)
                    .elem("EntityPath", path)
                    .elem("LastAuthenticatedTime", &clock::iso8601(*at))
                    .elem("TotalAuthenticatedEntities", &s.accounts.to_string());
            }
            w.close();
        }
        w.close();
    }
    crate::validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_paths_of_the_model_pattern() {
        assert!(is_entity_path("o-a1b2c3d4e5/r-f6g7h8i9j0example/ou-1a2b3c-k9l8m7n6o5example/111111111111"));
        assert!(is_entity_path("o-a1b2c3d4e5/r-ab12"));
        assert!(!is_entity_path("o-short/r-ab12"));
        assert!(!is_entity_path("o-a1b2c3d4e5/x-ab12"));
        assert!(!is_entity_path("o-a1b2c3d4e5/r-ab12/OU"));
    }
}
