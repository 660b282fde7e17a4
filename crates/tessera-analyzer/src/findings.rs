//! Findings: kept current with the store (a background thread re-analyzes when the store's
//! generation changes, and every findings read first catches up the same way), read with
//! `ListFindings`/`ListFindingsV2`/`GetFinding`/`GetFindingV2`/`GetFindingsStatistics`,
//! archived by hand (`UpdateFindings`) or by archive rules.
//!
//! A finding is identified by its resource, principal, conditions, publicness and sources: an
//! analysis that no longer gives it marks it `RESOLVED`; one that gives it again makes it
//! `ACTIVE` again (or `ARCHIVED`, if an archive rule matches); a new one is `ACTIVE` unless an
//! archive rule matches it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tessera_services::account::input::{invalid_field, Fields, Rule};
use tessera_services::{model, Call, Services};
use tessera_store::{ReadTxn, WriteTxn};
use tessera_wire::AwsError;

use crate::analysis::{analyze, analyze_unused, resources, zone, Candidate, Memo, ZoneResource};
use crate::analyzers::{all_analyzers, analyzer_by_arn, archive_rules};
use crate::records::{table, Analyzer, Finding, Identity};
use crate::{internal, invalid, not_found, timestamp};

/// How often the background thread looks at the store generation.
pub const POLL: Duration = Duration::from_millis(100);

/// The store generation each store's findings were last brought up to date at (keyed by the
/// store's address: one entry per `Services` in the process).
static ANALYZED_AT: Mutex<Vec<(usize, u64)>> = Mutex::new(Vec::new());

/// The per-role memo of each external access analyzer's last analysis (by store address,
/// analyzer ARN and creation time, so a deleted and re-created analyzer starts afresh).
static MEMOS: LazyLock<Mutex<HashMap<MemoKey, Memo>>> = LazyLock::new(Default::default);

/// (store address, analyzer ARN, analyzer creation time).
type MemoKey = (usize, String, i64);

/// Start the thread that keeps every analyzer's findings current: each time the store's
/// generation changes, every analyzer is analyzed again (within [`POLL`] of the change).
pub fn start_background(services: Arc<Services>) -> std::io::Result<()> {
    std::thread::Builder::new().name("access-analyzer".into()).spawn(move || {
        for tick in 0u64.. {
            std::thread::sleep(POLL);
            // Unused access depends on the time too: once a minute even without a change.
            if let Err(e) = analyze_if_stale(&services, tick % UNUSED_EVERY_TICKS == 0) {
                tracing::warn!(code = %e.code, message = %e.message, "access analyzer: analysis failed");
            }
        }
    })?;
    Ok(())
}

/// How many [`POLL`]s apart unused access analyzers are analyzed when the store did not change.
const UNUSED_EVERY_TICKS: u64 = 600;

/// Bring every analyzer's findings up to date before a read: external access when the store
/// changed, unused access always (it depends on the time).
pub fn catch_up(services: &Services) -> Result<(), AwsError> {
    analyze_if_stale(services, true)
}

/// Analyze every analyzer when the store changed since the last analysis, and the unused access
/// analyzers also when `unused` says so.
fn analyze_if_stale(services: &Services, unused: bool) -> Result<(), AwsError> {
    let store_id = Arc::as_ptr(&services.store) as *const () as usize;
    let mut seen = ANALYZED_AT.lock().map_err(|_| AwsError::internal())?;
    let generation = services.store.generation();
    let fresh = seen.iter().any(|(s, g)| *s == store_id && *g == generation);
    if fresh && !unused {
        return Ok(());
    }
    let analyzers: Vec<Analyzer> = {
        let r = services.store.read().map_err(internal)?;
        all_analyzers(&*r)?.into_iter().filter(|a| !fresh || a.is_unused_access()).collect()
    };
    if !fresh {
        // Analyzers deleted since leave the memo.
        let mut memos = MEMOS.lock().map_err(|_| AwsError::internal())?;
        memos.retain(|(s, arn, created), _| {
            *s != store_id || analyzers.iter().any(|a| a.arn == *arn && a.created_millis == *created)
        });
    }
    let now = services.clock.now_millis();
    for a in &analyzers {
        refresh_analyzer(services, a, now)?;
    }
    seen.retain(|(s, _)| *s != store_id);
    seen.push((store_id, generation));
    Ok(())
}

/// Analyze `analyzer`'s zone of trust and write what changed in its findings (nothing when
/// nothing did, so the store generation stays put).
pub fn refresh_analyzer(services: &Services, analyzer: &Analyzer, now: i64) -> Result<(), AwsError> {
    // Internal access asks the engine through the authorizer's caches, which read the store
    // on their own: no read transaction of ours is open meanwhile.
    let internal_candidates = if analyzer.is_internal_access() {
        Some(crate::internal::analyze_internal(services, analyzer, now)?)
    } else {
        None
    };
    let (candidates, rules) = {
        let r = services.store.read().map_err(internal)?;
        let candidates = if let Some(c) = internal_candidates {
            c
        } else if analyzer.is_unused_access() {
            let audit = |ids: &[String]| {
                services.audit.last_accessed(ids, 0).map_err(|e| tessera_store::StoreError::Backend(e.to_string()))
            };
            analyze_unused(&*r, analyzer, now, &audit).map_err(internal)?
        } else {
            let mut memos = MEMOS.lock().map_err(|_| AwsError::internal())?;
            let store_id = Arc::as_ptr(&services.store) as *const () as usize;
            let memo = memos.entry((store_id, analyzer.arn.clone(), analyzer.created_millis)).or_default();
            analyze(&*r, analyzer, memo).map_err(internal)?
        };
        let rules = archive_rules(&*r, &analyzer.arn)?;
        if diff(&findings_of(&*r, &analyzer.arn)?, &candidates, &rules, now).is_empty() {
            return Ok(());
        }
        (candidates, rules)
    };
    crate::transact(services, |w| {
        // The analyzer may have been deleted since.
        let key = Analyzer::key(&analyzer.account, &analyzer.region, &analyzer.name);
        if w.get(table::ANALYZER, &key).map_err(internal)?.is_none() {
            return Ok(());
        }
        for f in diff(&findings_of(w, &analyzer.arn)?, &candidates, &rules, now) {
            model::save(w, table::FINDING, &format!("{}/{}", analyzer.arn, f.id), &f).map_err(internal)?;
        }
        Ok(())
    })
}

/// Every finding of an analyzer.
pub(crate) fn findings_of(r: &(impl ReadTxn + ?Sized), analyzer_arn: &str) -> Result<Vec<Finding>, AwsError> {
    let rows = r.scan(table::FINDING, &format!("{analyzer_arn}/"), None, usize::MAX).map_err(internal)?;
    Ok(rows.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect())
}

/// A new finding (no id or status yet) for what the analysis found.
pub(crate) fn candidate_finding(c: &Candidate, now: i64) -> Finding {
    Finding {
        id: String::new(),
        resource: c.resource.clone(),
        resource_type: c.resource_type.to_string(),
        resource_owner_account: c.owner.clone(),
        principal: c.principal.clone(),
        action: c.action.clone(),
        condition: c.condition.clone(),
        is_public: c.is_public,
        sources: c.sources.clone(),
        status: String::new(),
        created_millis: now,
        updated_millis: now,
        analyzed_millis: now,
        finding_type: c.finding_type.to_string(),
        subject: c.subject.clone(),
        details: c.details.clone(),
    }
}

/// The findings to write so that `existing` agrees with `candidates`.
fn diff(
    existing: &[Finding],
    candidates: &[Candidate],
    rules: &[crate::records::ArchiveRule],
    now: i64,
) -> Vec<Finding> {
    let mut by_identity: HashMap<Identity, &Finding> = existing.iter().map(|f| (f.identity(), f)).collect();
    let mut out = Vec::new();
    let opened = |f: &Finding| {
        if rules.iter().any(|r| matches(f, &r.filter)) {
            "ARCHIVED"
        } else {
            "ACTIVE"
        }
    };
    for c in candidates {
        let mut f = candidate_finding(c, now);
        match by_identity.remove(&f.identity()) {
            Some(old) if old.status != "RESOLVED" && old.action == f.action && old.details == f.details => {}
            Some(old) => {
                let reopened = old.status == "RESOLVED";
                f.id = old.id.clone();
                f.created_millis = old.created_millis;
                f.status = if reopened { opened(&f).to_string() } else { old.status.clone() };
                out.push(f);
            }
            None => {
                f.id = crate::uuid();
                f.status = opened(&f).to_string();
                out.push(f);
            }
        }
    }
    for old in by_identity.into_values() {
        if old.status != "RESOLVED" {
            let mut f = old.clone();
            f.status = "RESOLVED".into();
            f.updated_millis = now;
            f.analyzed_millis = now;
            out.push(f);
        }
    }
    out
}

/// The values of a finding for a filter key (`status`, `resourceType`, `principal.AWS`,
/// `condition.aws:SourceIp`, `action`, ...); `None` when the finding has no such field.
fn field(f: &Finding, key: &str) -> Option<Vec<String>> {
    let one = |s: &str| Some(vec![s.to_string()]);
    match key {
        "id" => one(&f.id),
        "status" => one(&f.status),
        "resource" => one(&f.resource),
        "resourceType" => one(&f.resource_type),
        "resourceOwnerAccount" => one(&f.resource_owner_account),
        "isPublic" => one(if f.is_public { "true" } else { "false" }),
        "action" => Some(f.action.clone()),
        "findingType" => one(&f.finding_type),
        "sources" | "source" => Some(f.sources.clone()),
        k => {
            if let Some(p) = k.strip_prefix("principal.") {
                return f.principal.get(p).map(|v| vec![v.clone()]);
            }
            if let Some(c) = k.strip_prefix("condition.") {
                return f.condition.iter().find(|(ck, _)| ck.eq_ignore_ascii_case(c)).map(|(_, v)| vec![v.clone()]);
            }
            None
        }
    }
}

/// Whether a finding matches a `FilterCriteriaMap` (every criterion).
pub fn matches(f: &Finding, filter: &Value) -> bool {
    let Some(criteria) = filter.as_object() else { return true };
    criteria.iter().all(|(key, c)| {
        let values = field(f, key);
        let list = |name: &str| -> Vec<&str> {
            c.get(name)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        let have = values.clone().unwrap_or_default();
        if let Some(exists) = c.get("exists").and_then(Value::as_bool) {
            if values.is_some() != exists {
                return false;
            }
        }
        let eq = list("eq");
        if !eq.is_empty() && !have.iter().any(|v| eq.contains(&v.as_str())) {
            return false;
        }
        let neq = list("neq");
        if have.iter().any(|v| neq.contains(&v.as_str())) {
            return false;
        }
        let contains = list("contains");
        contains.is_empty() || have.iter().any(|v| contains.iter().any(|c| v.contains(c)))
    })
}

/// Archive the analyzer's active findings that match `filter` (a new or applied archive rule).
pub fn archive_matching(w: &mut dyn WriteTxn, analyzer_arn: &str, filter: &Value, now: i64) -> Result<(), AwsError> {
    for mut f in findings_of(w, analyzer_arn)? {
        if f.status == "ACTIVE" && matches(&f, filter) {
            f.status = "ARCHIVED".into();
            f.updated_millis = now;
            model::save(w, table::FINDING, &format!("{analyzer_arn}/{}", f.id), &f).map_err(internal)?;
        }
    }
    Ok(())
}

/// The `analyzerArn` member.
fn analyzer_arn(input: &Value) -> Result<&str, AwsError> {
    let mut f = Fields::default();
    let arn = f.string(input, "analyzerArn", true, Rule { min: 1, max: 2048, pattern: Some(is_analyzer_arn) });
    f.finish()?;
    arn.ok_or_else(AwsError::internal)
}

/// `AnalyzerArn`: `[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:analyzer/.{1,255}`.
fn is_analyzer_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6 && parts[5].strip_prefix("analyzer/").is_some_and(|n| !n.is_empty() && n.len() <= 255)
}

/// `ApplyArchiveRule`.
pub fn apply_archive_rule(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let arn = analyzer_arn(input)?;
    let mut f = Fields::default();
    let rule = f.string(input, "ruleName", true, Rule { min: 1, max: 255, pattern: None });
    f.finish()?;
    let rule = rule.ok_or_else(AwsError::internal)?;
    let analyzer = analyzer_by_arn(services, call, arn)?;
    catch_up(services)?;
    let now = call.meta.now_millis;
    crate::transact(services, |w| {
        let r = model::load::<crate::records::ArchiveRule>(w, table::ARCHIVE_RULE, &format!("{}/{rule}", analyzer.arn))
            .map_err(internal)?
            .ok_or_else(|| not_found("Archive rule not found"))?;
        archive_matching(w, &analyzer.arn, &r.filter, now)
    })?;
    Ok(json!({}))
}

/// A finding in the shape of `FindingSummary` / `Finding` (V1).
fn finding_v1(f: &Finding) -> Value {
    let mut v = finding_v1_members(f);
    if let Some(r) = f.details.get("resourceControlPolicyRestriction") {
        v["resourceControlPolicyRestriction"] = r.clone();
    }
    v
}

fn finding_v1_members(f: &Finding) -> Value {
    json!({
        "id": f.id,
        "principal": f.principal,
        "action": f.action,
        "resource": f.resource,
        "isPublic": f.is_public,
        "resourceType": f.resource_type,
        "condition": f.condition,
        "createdAt": timestamp(f.created_millis),
        "analyzedAt": timestamp(f.analyzed_millis),
        "updatedAt": timestamp(f.updated_millis),
        "status": f.status,
        "resourceOwnerAccount": f.resource_owner_account,
        "sources": sources(f),
    })
}

pub(crate) fn sources(f: &Finding) -> Value {
    Value::Array(f.sources.iter().map(|s| json!({ "type": s })).collect())
}

/// A finding in the shape of `FindingSummaryV2`.
fn finding_v2(f: &Finding) -> Value {
    json!({
        "analyzedAt": timestamp(f.analyzed_millis),
        "createdAt": timestamp(f.created_millis),
        "id": f.id,
        "resource": f.resource,
        "resourceType": f.resource_type,
        "resourceOwnerAccount": f.resource_owner_account,
        "status": f.status,
        "updatedAt": timestamp(f.updated_millis),
        "findingType": f.finding_type,
    })
}

/// The attribute values findings sort by.
fn sort_key(f: &Finding, attribute: &str) -> Result<String, AwsError> {
    Ok(match attribute {
        "createdAt" => format!("{:020}", f.created_millis),
        "updatedAt" => format!("{:020}", f.updated_millis),
        "analyzedAt" => format!("{:020}", f.analyzed_millis),
        "resource" => f.resource.clone(),
        "resourceType" => f.resource_type.clone(),
        "resourceOwnerAccount" => f.resource_owner_account.clone(),
        "status" => f.status.clone(),
        "id" => f.id.clone(),
        "findingType" => f.finding_type.clone(),
        other => return Err(invalid(format!("Cannot sort findings by '{other}'"))),
    })
}

/// `ListFindings` and `ListFindingsV2`: the analyzer's findings matching `filter`, sorted by
/// `sort` (default: creation time, oldest first), a page of `maxResults` (default 100).
pub fn list_findings(services: &Services, call: &Call, input: &Value, v2: bool) -> Result<Value, AwsError> {
    let arn = analyzer_arn(input)?;
    let analyzer = analyzer_by_arn(services, call, arn)?;
    if !v2 && (analyzer.is_unused_access() || analyzer.is_internal_access()) {
        return Err(v1_only_external());
    }
    let filter = input.get("filter").cloned().unwrap_or(Value::Null);
    if !(filter.is_null() || filter.is_object()) {
        return Err(invalid_field("filter", "Member must be a map"));
    }
    let (max, start) = crate::page(input)?;
    let (attribute, descending) = match input.get("sort") {
        None | Some(Value::Null) => ("createdAt".to_string(), false),
        Some(s) => {
            let a = s.get("attributeName").and_then(Value::as_str).unwrap_or("createdAt").to_string();
            let order = s.get("orderBy").and_then(Value::as_str).unwrap_or("ASC");
            if order != "ASC" && order != "DESC" {
                return Err(invalid_field("sort.orderBy", "Member must satisfy enum value set: [ASC, DESC]"));
            }
            (a, order == "DESC")
        }
    };
    catch_up(services)?;
    let r = services.store.read().map_err(internal)?;
    let mut found: Vec<(String, Finding)> = Vec::new();
    for f in findings_of(&*r, &analyzer.arn)? {
        if matches(&f, &filter) {
            found.push((sort_key(&f, &attribute)?, f));
        }
    }
    found.sort_by(|(a, fa), (b, fb)| a.cmp(b).then_with(|| fa.id.cmp(&fb.id)));
    if descending {
        found.reverse();
    }
    let all: Vec<Value> = found.into_iter().map(|(_, f)| if v2 { finding_v2(&f) } else { finding_v1(&f) }).collect();
    Ok(crate::paged("findings", all, max, start))
}

/// `ListFindings` and `GetFinding` answer external access findings only (AWS's V2 operations
/// carry the other types).
fn v1_only_external() -> AwsError {
    invalid("ListFindings and GetFinding return external access findings only; use ListFindingsV2 and GetFindingV2 for internal and unused access findings.")
}

/// The finding `id` of the analyzer `analyzerArn`.
fn one_finding(services: &Services, call: &Call, input: &Value) -> Result<Finding, AwsError> {
    let arn = analyzer_arn(input)?;
    let mut f = Fields::default();
    let id = f.string(input, "id", true, Rule { min: 1, max: 2048, pattern: None });
    f.finish()?;
    let id = id.ok_or_else(AwsError::internal)?;
    let analyzer = analyzer_by_arn(services, call, arn)?;
    catch_up(services)?;
    let r = services.store.read().map_err(internal)?;
    model::load::<Finding>(&*r, table::FINDING, &format!("{}/{id}", analyzer.arn))
        .map_err(internal)?
        .ok_or_else(|| not_found("Finding not found"))
}

/// `GetFinding`.
pub fn get_finding(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let f = one_finding(services, call, input)?;
    if f.finding_type != "ExternalAccess" {
        return Err(v1_only_external());
    }
    Ok(json!({ "finding": finding_v1(&f) }))
}

/// `GetFindingV2`: the finding with its `externalAccessDetails`.
pub fn get_finding_v2(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let f = one_finding(services, call, input)?;
    let mut v = finding_v2(&f);
    if f.finding_type != "ExternalAccess" {
        v["findingDetails"] = json!([f.details]);
        return Ok(v);
    }
    v["findingDetails"] = json!([{
        "externalAccessDetails": {
            "action": f.action,
            "condition": f.condition,
            "isPublic": f.is_public,
            "principal": f.principal,
            "sources": sources(&f),
        }
    }]);
    if let Some(r) = f.details.get("resourceControlPolicyRestriction") {
        v["findingDetails"][0]["externalAccessDetails"]["resourceControlPolicyRestriction"] = r.clone();
    }
    Ok(v)
}

/// `UpdateFindings`: set `ACTIVE` or `ARCHIVED` on the findings named by `ids`, or on every
/// finding of `resourceArn`. Resolved findings keep their status.
pub fn update_findings(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let arn = analyzer_arn(input)?;
    let mut fields = Fields::default();
    let status = fields.one_of(input, "status", &["ACTIVE", "ARCHIVED"]);
    let resource = fields.string(input, "resourceArn", false, Rule { min: 1, max: 2048, pattern: None });
    let ids: Option<Vec<String>> = match input.get("ids") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
            Some(a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        }
        Some(_) => {
            fields.push("ids", "Member must be a list of strings".into());
            None
        }
    };
    fields.finish()?;
    let status = status.ok_or_else(AwsError::internal)?;
    if ids.is_none() == resource.is_none() {
        return Err(invalid("Specify either ids or resourceArn, but not both."));
    }
    let analyzer = analyzer_by_arn(services, call, arn)?;
    catch_up(services)?;
    let now = call.meta.now_millis;
    crate::transact(services, |w| {
        let all = findings_of(w, &analyzer.arn)?;
        let by_id: BTreeMap<&str, &Finding> = all.iter().map(|f| (f.id.as_str(), f)).collect();
        let chosen: Vec<&Finding> = match (&ids, resource) {
            (Some(ids), _) => {
                let mut out = Vec::new();
                for id in ids {
                    out.push(*by_id.get(id.as_str()).ok_or_else(|| not_found(format!("Finding {id} not found")))?);
                }
                out
            }
            (None, Some(res)) => all.iter().filter(|f| f.resource == res).collect(),
            (None, None) => Vec::new(),
        };
        for f in chosen {
            if f.status == "RESOLVED" || f.status == status {
                continue;
            }
            let mut f = f.clone();
            f.status = status.to_string();
            f.updated_millis = now;
            model::save(w, table::FINDING, &format!("{}/{}", analyzer.arn, f.id), &f).map_err(internal)?;
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// `GetFindingsStatistics`: counts of the analyzer's findings by status, and of its active
/// ones by resource type (public, cross-account).
pub fn get_findings_statistics(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let arn = analyzer_arn(input)?;
    let analyzer = analyzer_by_arn(services, call, arn)?;
    catch_up(services)?;
    let r = services.store.read().map_err(internal)?;
    let findings = findings_of(&*r, &analyzer.arn)?;
    let count = |s: &str| findings.iter().filter(|f| f.status == s).count();
    let mut by_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.status == "ACTIVE") {
        let e = by_type.entry(f.resource_type.clone()).or_default();
        if f.is_public {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    let types: serde_json::Map<String, Value> = by_type
        .into_iter()
        .map(|(t, (public, cross))| {
            (t, json!({"totalActivePublic": public, "totalActiveCrossAccount": cross, "totalActiveErrors": 0}))
        })
        .collect();
    let last = findings.iter().map(|f| f.updated_millis).max().unwrap_or(analyzer.created_millis);
    if analyzer.is_internal_access() {
        let mut by_type: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
        for f in &findings {
            let e = by_type.entry(f.resource_type.as_str()).or_default();
            match f.status.as_str() {
                "ACTIVE" => e[0] += 1,
                "ARCHIVED" => e[1] += 1,
                _ => e[2] += 1,
            }
        }
        let types: serde_json::Map<String, Value> = by_type
            .into_iter()
            .map(|(t, [active, archived, resolved])| {
                let v = json!({"totalActiveFindings": active, "totalArchivedFindings": archived, "totalResolvedFindings": resolved});
                (t.to_string(), v)
            })
            .collect();
        return Ok(json!({
            "findingsStatistics": [{
                "internalAccessFindingsStatistics": {
                    "resourceTypeStatistics": types,
                    "totalActiveFindings": count("ACTIVE"),
                    "totalArchivedFindings": count("ARCHIVED"),
                    "totalResolvedFindings": count("RESOLVED"),
                }
            }],
            "lastUpdatedAt": timestamp(last),
        }));
    }
    if analyzer.is_unused_access() {
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for f in findings.iter().filter(|f| f.status == "ACTIVE") {
            *by_kind.entry(f.finding_type.as_str()).or_default() += 1;
        }
        let kinds: Vec<Value> = by_kind.into_iter().map(|(k, n)| json!({"unusedAccessType": k, "total": n})).collect();
        return Ok(json!({
            "findingsStatistics": [{
                "unusedAccessFindingsStatistics": {
                    "unusedAccessTypeStatistics": kinds,
                    "totalActiveFindings": count("ACTIVE"),
                    "totalArchivedFindings": count("ARCHIVED"),
                    "totalResolvedFindings": count("RESOLVED"),
                }
            }],
            "lastUpdatedAt": timestamp(last),
        }));
    }
    Ok(json!({
        "findingsStatistics": [{
            "externalAccessFindingsStatistics": {
                "resourceTypeStatistics": types,
                "totalActiveFindings": count("ACTIVE"),
                "totalArchivedFindings": count("ARCHIVED"),
                "totalResolvedFindings": count("RESOLVED"),
            }
        }],
        "lastUpdatedAt": timestamp(last),
    }))
}

/// The resources `analyzer` covers, as the store stands.
fn zone_resources(services: &Services, analyzer: &Analyzer) -> Result<Vec<ZoneResource>, AwsError> {
    let r = services.store.read().map_err(internal)?;
    let zone = zone(&*r, analyzer).map_err(internal)?;
    resources(&*r, analyzer, &zone).map_err(internal)
}

/// The resource `resourceArn` of the analyzer `analyzerArn` (`ResourceNotFoundException` when
/// the analyzer does not cover it).
fn analyzed_resource(services: &Services, call: &Call, input: &Value) -> Result<(Analyzer, ZoneResource), AwsError> {
    let arn = analyzer_arn(input)?;
    let mut f = Fields::default();
    let resource =
        f.string(input, "resourceArn", true, Rule { min: 1, max: 2048, pattern: Some(|s| s.starts_with("arn:")) });
    f.finish()?;
    let resource = resource.ok_or_else(AwsError::internal)?;
    let analyzer = analyzer_by_arn(services, call, arn)?;
    let found = zone_resources(services, &analyzer)?.into_iter().find(|r| r.arn == resource);
    let found =
        found.ok_or_else(|| not_found(format!("Resource {resource} has not been analyzed by this analyzer")))?;
    Ok((analyzer, found))
}

/// `StartResourceScan`: analyze the analyzer again now (its findings for the resource with it).
pub fn start_resource_scan(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (analyzer, _) = analyzed_resource(services, call, input)?;
    refresh_analyzer(services, &analyzer, call.meta.now_millis)?;
    Ok(json!({}))
}

/// `ListAnalyzedResources`: the resources the analyzer covers (`resourceType` filter, pages).
pub fn list_analyzed_resources(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let arn = analyzer_arn(input)?;
    let (max, start) = crate::page(input)?;
    let ty = input.get("resourceType").and_then(Value::as_str);
    let analyzer = analyzer_by_arn(services, call, arn)?;
    let all: Vec<Value> = zone_resources(services, &analyzer)?
        .into_iter()
        .filter(|r| ty.is_none_or(|t| t == r.resource_type))
        .map(|r| json!({"resourceArn": r.arn, "resourceOwnerAccount": r.owner, "resourceType": r.resource_type}))
        .collect();
    Ok(crate::paged("analyzedResources", all, max, start))
}

/// `GetAnalyzedResource`: the resource with what its active findings grant (`isPublic`,
/// `actions`, `sharedVia`, `status`).
pub fn get_analyzed_resource(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (analyzer, res) = analyzed_resource(services, call, input)?;
    catch_up(services)?;
    let r = services.store.read().map_err(internal)?;
    let mine: Vec<Finding> = findings_of(&*r, &analyzer.arn)?.into_iter().filter(|f| f.resource == res.arn).collect();
    let active: Vec<&Finding> = mine.iter().filter(|f| f.status == "ACTIVE").collect();
    let actions: std::collections::BTreeSet<&str> =
        active.iter().flat_map(|f| f.action.iter().map(String::as_str)).collect();
    let shared: std::collections::BTreeSet<&str> =
        active.iter().flat_map(|f| f.sources.iter().map(String::as_str)).collect();
    let analyzed = mine.iter().map(|f| f.analyzed_millis).max().unwrap_or(analyzer.created_millis);
    let updated = mine.iter().map(|f| f.updated_millis).max().unwrap_or(res.created_millis);
    let mut v = json!({
        "resourceArn": res.arn,
        "resourceType": res.resource_type,
        "createdAt": timestamp(res.created_millis),
        "analyzedAt": timestamp(analyzed),
        "updatedAt": timestamp(updated),
        "isPublic": active.iter().any(|f| f.is_public),
        "actions": actions,
        "sharedVia": shared,
        "resourceOwnerAccount": res.owner,
    });
    if !mine.is_empty() {
        v["status"] = json!(if active.is_empty() { "RESOLVED" } else { "ACTIVE" });
    }
    Ok(json!({ "resource": v }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            id: "f1".into(),
            resource: "arn:aws:s3:::b".into(),
            resource_type: "AWS::S3::Bucket".into(),
            resource_owner_account: "111111111111".into(),
            principal: BTreeMap::from([("AWS".into(), "*".into())]),
            action: vec!["s3:GetObject".into()],
            condition: BTreeMap::from([("aws:SourceIp".into(), "10.0.0.0/8".into())]),
            is_public: true,
            sources: vec!["POLICY".into()],
            status: "ACTIVE".into(),
            created_millis: 1,
            updated_millis: 1,
            analyzed_millis: 1,
            finding_type: "ExternalAccess".into(),
            subject: String::new(),
            details: Value::Null,
        }
    }

    #[test]
    fn filters() {
        let f = finding();
        assert!(matches(&f, &json!({"isPublic": {"eq": ["true"]}})));
        assert!(!matches(&f, &json!({"isPublic": {"eq": ["false"]}})));
        assert!(matches(&f, &json!({"principal.AWS": {"eq": ["*"]}, "resourceType": {"neq": ["AWS::IAM::Role"]}})));
        assert!(!matches(&f, &json!({"principal.Federated": {"exists": true}})));
        assert!(matches(&f, &json!({"condition.aws:SourceIp": {"contains": ["10."]}})));
        assert!(matches(&f, &json!({"action": {"eq": ["s3:GetObject"]}})));
    }

    #[test]
    fn diff_opens_and_resolves() {
        let c = Candidate {
            resource: "arn:aws:s3:::b".into(),
            resource_type: "AWS::S3::Bucket",
            owner: "111111111111".into(),
            principal: BTreeMap::from([("AWS".into(), "*".into())]),
            action: vec!["s3:GetObject".into()],
            condition: BTreeMap::new(),
            is_public: true,
            sources: vec!["POLICY".into()],
            statements: Default::default(),
            finding_type: "ExternalAccess",
            subject: String::new(),
            details: Value::Null,
        };
        let new = diff(&[], std::slice::from_ref(&c), &[], 5);
        assert_eq!((new.len(), new[0].status.as_str()), (1, "ACTIVE"));
        assert!(diff(&new, &[c], &[], 6).is_empty());
        let gone = diff(&new, &[], &[], 7);
        assert_eq!(
            (gone[0].status.as_str(), gone[0].updated_millis, gone[0].id.as_str()),
            ("RESOLVED", 7, new[0].id.as_str())
        );
    }
}
