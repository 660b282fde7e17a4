//! Policy generation (`StartPolicyGeneration`, `GetGeneratedPolicy`, `ListPolicyGenerations`,
//! `CancelPolicyGeneration`) from Tessera's own CloudTrail events: the identity-based policy that
//! allows exactly the actions a role or user called successfully in the period.
//!
//! The events are read from the audit store that `LookupEvents` reads (the account's events in
//! the period, every Region); a role's events are its sessions' (`sessionIssuer.arn`). A job runs
//! to completion inside `StartPolicyGeneration`, so it is `SUCCEEDED` when first read.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_audit::LookupQuery;
use tessera_services::account::input::{invalid_field, Fields, Rule};
use tessera_services::{model, Call, Services};
use tessera_wire::AwsError;

use crate::{authorize, internal, invalid, not_found, timestamp};

/// [`Generation`] by `<account>/<job id>`.
const TABLE: &str = "aa_policy_generation";

/// How far back events are kept for `LookupEvents`, and the longest period a job may cover.
const MAX_PERIOD_DAYS: i64 = 90;

/// A policy generation job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Generation {
    job_id: String,
    principal_arn: String,
    status: String,
    started_millis: i64,
    completed_millis: i64,
    period: (i64, i64),
    trails: Value,
    /// The generated policy document.
    policy: String,
}

/// A timestamp member: epoch seconds (a number) or ISO 8601 (a string).
fn time_millis(input: &Value, name: &str) -> Result<Option<i64>, AwsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|s| Some((s * 1000.0) as i64))
            .ok_or_else(|| invalid_field(name, "Member must be a timestamp")),
        Some(Value::String(s)) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map(|t| Some((t.unix_timestamp_nanos() / 1_000_000) as i64))
            .map_err(|_| invalid_field(name, "Member must be a timestamp")),
        Some(_) => Err(invalid_field(name, "Member must be a timestamp")),
    }
}

/// The `service:Action` an event records (`iam.amazonaws.com` + `CreateUser` → `iam:CreateUser`).
fn action_of(event: &Value) -> Option<String> {
    let source = event.get("eventSource")?.as_str()?;
    let name = event.get("eventName")?.as_str()?;
    let service = source.strip_suffix(".amazonaws.com")?;
    Some(format!("{service}:{name}"))
}

/// Whether an event is a call of `principal` (a user's ARN, or a role's through its sessions).
fn made_by(event: &Value, principal: &str) -> bool {
    let id = &event["userIdentity"];
    id["arn"].as_str() == Some(principal) || id["sessionContext"]["sessionIssuer"]["arn"].as_str() == Some(principal)
}

/// `StartPolicyGeneration`.
pub fn start(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let details = input.get("policyGenerationDetails").cloned().unwrap_or(Value::Null);
    let principal = f.string(&details, "principalArn", true, Rule { min: 1, max: 2048, pattern: None });
    f.finish()?;
    let principal = principal.ok_or_else(AwsError::internal)?.to_string();
    authorize(services, call, "*")?;
    let own = &call.caller.account;
    let is_own_identity = principal
        .strip_prefix(&format!("arn:aws:iam::{own}:"))
        .is_some_and(|r| r.starts_with("role/") || r.starts_with("user/"));
    if !is_own_identity {
        return Err(invalid("principalArn must name an IAM role or user of the caller's account."));
    }
    let r = services.store.read().map_err(internal)?;
    let key = model::name_key(own, principal.rsplit('/').next().unwrap_or_default());
    let found = if principal.contains(":role/") {
        model::load::<model::Role>(&*r, model::table::ROLE, &key).map_err(internal)?.map(|x| x.arn())
    } else {
        model::load::<model::User>(&*r, model::table::USER, &key).map_err(internal)?.map(|x| x.arn())
    };
    drop(r);
    if found.as_deref() != Some(principal.as_str()) {
        return Err(not_found(format!("The principal {principal} does not exist")));
    }
    let trail = input.get("cloudTrailDetails").cloned().unwrap_or(Value::Null);
    let now = call.meta.now_millis;
    let end = time_millis(&trail, "endTime")?.unwrap_or(now).min(now);
    let start = time_millis(&trail, "startTime")?.unwrap_or(end.saturating_sub(MAX_PERIOD_DAYS * 86_400_000));
    if start > end || end.saturating_sub(start) > MAX_PERIOD_DAYS * 86_400_000 {
        return Err(invalid(format!("The period must start before it ends and span at most {MAX_PERIOD_DAYS} days.")));
    }
    let mut actions = BTreeSet::new();
    let mut after = None;
    loop {
        let q = LookupQuery {
            account: own.clone(),
            attribute: None,
            start_millis: start,
            end_millis: end,
            max_results: 50,
            after,
        };
        let page = services.audit.lookup(&q).map_err(|e| {
            tracing::error!(error = %e, "policy generation: reading the audit store");
            AwsError::internal()
        })?;
        for e in &page.events {
            let Ok(event) = serde_json::from_str::<Value>(&e.cloudtrail_event) else { continue };
            if made_by(&event, &principal) && event.get("errorCode").is_none_or(Value::is_null) {
                actions.extend(action_of(&event));
            }
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in actions {
        let service = a.split(':').next().unwrap_or_default().to_string();
        by_service.entry(service).or_default().push(a);
    }
    let statements: Vec<Value> =
        by_service.into_values().map(|a| json!({"Effect": "Allow", "Action": a, "Resource": "*"})).collect();
    let policy = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    let job_id = crate::uuid();
    let trails = trail.get("trails").cloned().unwrap_or(json!([]));
    let g = Generation {
        job_id: job_id.clone(),
        principal_arn: principal,
        status: "SUCCEEDED".into(),
        started_millis: now,
        completed_millis: services.clock.now_millis(),
        period: (start, end),
        trails,
        policy,
    };
    crate::transact(services, |w| model::save(w, TABLE, &format!("{own}/{job_id}"), &g).map_err(internal))?;
    Ok(json!({ "jobId": job_id }))
}

fn load(services: &Services, call: &Call, input: &Value) -> Result<Generation, AwsError> {
    let job =
        input.get("jobId").and_then(Value::as_str).ok_or_else(|| invalid_field("jobId", "Member must not be null"))?;
    authorize(services, call, "*")?;
    let r = services.store.read().map_err(internal)?;
    model::load::<Generation>(&*r, TABLE, &format!("{}/{job}", call.caller.account))
        .map_err(internal)?
        .ok_or_else(|| not_found(format!("Policy generation job {job} not found")))
}

/// `GetGeneratedPolicy`.
pub fn get(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let g = load(services, call, input)?;
    let trails: Vec<Value> = g
        .trails
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| json!({"cloudTrailArn": t["cloudTrailArn"], "regions": t.get("regions").cloned().unwrap_or(json!([])), "allRegions": t["allRegions"].as_bool().unwrap_or(false)}))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "jobDetails": {"jobId": g.job_id, "status": g.status, "startedOn": timestamp(g.started_millis), "completedOn": timestamp(g.completed_millis)},
        "generatedPolicyResult": {
            "properties": {
                "isComplete": true,
                "principalArn": g.principal_arn,
                "cloudTrailProperties": {"trailProperties": trails, "startTime": timestamp(g.period.0), "endTime": timestamp(g.period.1)},
            },
            "generatedPolicies": [{"policy": g.policy}],
        },
    }))
}

/// `ListPolicyGenerations` (`principalArn` filter, pages), newest job last.
pub fn list(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (max, start) = crate::page(input)?;
    let principal = input.get("principalArn").and_then(Value::as_str);
    authorize(services, call, "*")?;
    let r = services.store.read().map_err(internal)?;
    let rows = r.scan(TABLE, &format!("{}/", call.caller.account), None, usize::MAX).map_err(internal)?;
    let mut jobs: Vec<Generation> = rows.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect();
    jobs.retain(|g| principal.is_none_or(|p| p == g.principal_arn));
    jobs.sort_by(|a, b| a.started_millis.cmp(&b.started_millis).then_with(|| a.job_id.cmp(&b.job_id)));
    let all = jobs
        .iter()
        .map(|g| {
            json!({"jobId": g.job_id, "principalArn": g.principal_arn, "status": g.status,
                   "startedOn": timestamp(g.started_millis), "completedOn": timestamp(g.completed_millis)})
        })
        .collect();
    Ok(crate::paged("policyGenerations", all, max, start))
}

/// `CancelPolicyGeneration`: jobs finish inside `StartPolicyGeneration`, so there is never one
/// to stop; a known job is left as it is, an unknown one is `ResourceNotFoundException`.
pub fn cancel(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    load(services, call, input)?;
    Ok(json!({}))
}
