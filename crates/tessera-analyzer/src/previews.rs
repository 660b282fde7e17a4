//! Access previews (`CreateAccessPreview`, `GetAccessPreview`, `ListAccessPreviews`,
//! `ListAccessPreviewFindings`): the external access findings a proposed IAM role trust policy
//! or S3 bucket configuration (bucket policy, Block Public Access) would produce, decided by the
//! same analysis as the analyzer's findings, and compared with the analyzer's existing findings
//! of the resource (`changeType` `NEW`, `UNCHANGED`, `CHANGED`). IAM User Guide, "Previewing
//! access with IAM Access Analyzer APIs"; API reference, `AccessPreviewFinding`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tessera_policy::PolicyType;
use tessera_s3::public_access::PublicAccessBlock;
use tessera_s3::records::{table as s3_table, BucketRecord};
use tessera_services::account::input::{invalid_field, Fields, Rule};
use tessera_services::{model, Call, Services};
use tessera_wire::AwsError;

use crate::analysis::{bucket_findings, policy_findings, zone, Candidate, Resource, ROLE};
use crate::analyzers::{analyzer_by_arn, archive_rules};
use crate::findings::{candidate_finding, findings_of, matches, sources};
use crate::records::{Analyzer, Finding};
use crate::{internal, invalid, not_found, timestamp};

/// [`AccessPreview`] by `<analyzer arn>/<id>`.
const TABLE: &str = "aa_access_preview";

/// The configuration members of the model Tessera serves resources for.
const SERVED: &[&str] = &["iamRole", "s3Bucket"];

/// A stored access preview, with its findings.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccessPreview {
    id: String,
    analyzer_arn: String,
    configurations: Value,
    created_millis: i64,
    /// `AccessPreviewFinding`s, as answered.
    findings: Vec<(Finding, Value)>,
}

/// The `analyzerArn` member, and the analyzer (authorized on its ARN). Access previews are for
/// external access analyzers.
fn analyzer(services: &Services, call: &Call, input: &Value) -> Result<Analyzer, AwsError> {
    let mut f = Fields::default();
    let arn = f.string(input, "analyzerArn", true, Rule { min: 1, max: 2048, pattern: None });
    f.finish()?;
    let a = analyzer_by_arn(services, call, arn.ok_or_else(AwsError::internal)?)?;
    if a.is_unused_access() || a.is_internal_access() {
        return Err(invalid("Access previews are available for external access analyzers only."));
    }
    Ok(a)
}

/// What a configuration of `resource_arn` would let in: the findings the analysis gives.
fn preview_candidates(
    services: &Services,
    analyzer: &Analyzer,
    resource_arn: &str,
    config: &Map<String, Value>,
) -> Result<Vec<Candidate>, AwsError> {
    let r = services.store.read().map_err(internal)?;
    let zone = zone(&*r, analyzer).map_err(internal)?;
    let zone_org = analyzer.organization_id.as_deref();
    let not_string = |name: &str| invalid_field(name, "Member must be a string");
    if let Some(role) = config.get("iamRole") {
        let Some(rest) = resource_arn.strip_prefix("arn:aws:iam::") else {
            return Err(invalid(format!("{resource_arn} is not an IAM role ARN (iamRole configuration).")));
        };
        let owner = rest.split(':').next().unwrap_or_default();
        if !rest.contains(":role/") || !zone.contains(owner) {
            return Err(invalid(format!("{resource_arn} is not an IAM role ARN of the analyzer's zone of trust.")));
        }
        let doc = match role.get("trustPolicy") {
            None | Some(Value::Null) => r
                .scan(model::table::ROLE, &format!("{owner}/"), None, usize::MAX)
                .map_err(internal)?
                .into_iter()
                .filter_map(|(_, v)| serde_json::from_slice::<model::Role>(&v).ok())
                .find(|x| x.arn() == resource_arn)
                .map(|x| x.assume_role_policy_document),
            Some(Value::String(d)) => Some(d.clone()),
            Some(_) => return Err(not_string("configurations.iamRole.trustPolicy")),
        };
        let Some(doc) = doc else { return Ok(Vec::new()) };
        let resource = Resource { arn: resource_arn, owner, resource_type: ROLE };
        return Ok(policy_findings(&*r, &zone, zone_org, &resource, &doc, PolicyType::Trust));
    }
    let Some(bucket_config) = config.get("s3Bucket").and_then(Value::as_object) else {
        return Err(invalid_field("configurations", "Member must be a Configuration structure"));
    };
    for unbuilt in ["bucketAclGrants", "accessPoints"] {
        if bucket_config.get(unbuilt).is_some_and(|v| !v.is_null()) {
            return Err(AwsError::new(
                501,
                "NotImplemented",
                format!("access-analyzer:CreateAccessPreview with s3Bucket.{unbuilt} is not implemented by Tessera"),
            ));
        }
    }
    let Some(name) = resource_arn.strip_prefix("arn:aws:s3:::").filter(|n| !n.is_empty() && !n.contains('/')) else {
        return Err(invalid(format!("{resource_arn} is not an S3 bucket ARN (s3Bucket configuration).")));
    };
    let existing = model::load::<BucketRecord>(&*r, s3_table::BUCKET, name).map_err(internal)?;
    let is_new = existing.is_none();
    let mut bucket = existing.unwrap_or_else(|| BucketRecord {
        name: name.to_string(),
        owner: analyzer.account.clone(),
        created_millis: 0,
        region: analyzer.region.clone(),
        policy: None,
        object_ownership: Some(tessera_s3::records::OBJECT_OWNERSHIP_ENFORCED.to_string()),
        public_access_block: None,
        object_lock_enabled: false,
    });
    if !zone.contains(&bucket.owner) {
        return Err(invalid(format!("Bucket {name} is not in the analyzer's zone of trust.")));
    }
    match bucket_config.get("bucketPolicy") {
        None | Some(Value::Null) => {}
        Some(Value::String(d)) => bucket.policy = Some(d.clone()),
        Some(_) => return Err(not_string("configurations.s3Bucket.bucketPolicy")),
    }
    match bucket_config.get("bucketPublicAccessBlock") {
        None | Some(Value::Null) if is_new => bucket.public_access_block = Some(PublicAccessBlock::default()),
        None | Some(Value::Null) => {}
        Some(b) => {
            let flag = |k: &str| b.get(k).and_then(Value::as_bool);
            let (Some(ignore), Some(restrict)) = (flag("ignorePublicAcls"), flag("restrictPublicBuckets")) else {
                return Err(invalid_field(
                    "configurations.s3Bucket.bucketPublicAccessBlock",
                    "ignorePublicAcls and restrictPublicBuckets must be booleans",
                ));
            };
            let mut block = bucket.public_access_block.unwrap_or_default();
            block.ignore_public_acls = ignore;
            block.restrict_public_buckets = restrict;
            bucket.public_access_block = Some(block);
        }
    }
    bucket_findings(&*r, &zone, zone_org, &bucket).map_err(internal)
}

/// `CreateAccessPreview`: analyze each proposed configuration now (the preview is `COMPLETED`
/// when the call returns) and keep the findings.
pub fn create(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let analyzer = analyzer(services, call, input)?;
    let Some(configs) = input.get("configurations").and_then(Value::as_object) else {
        return Err(invalid_field("configurations", "Member must be a map of Configuration"));
    };
    let now = call.meta.now_millis;
    let (existing, rules) = {
        let r = services.store.read().map_err(internal)?;
        (findings_of(&*r, &analyzer.arn)?, archive_rules(&*r, &analyzer.arn)?)
    };
    let mut out = Vec::new();
    for (resource_arn, config) in configs {
        let Some(config) = config.as_object() else {
            return Err(invalid_field("configurations", "Member must be a map of Configuration"));
        };
        let given: Vec<&String> = config.iter().filter(|(_, v)| !v.is_null()).map(|(k, _)| k).collect();
        if given.len() != 1 {
            return Err(invalid(format!("The configuration of {resource_arn} must name exactly one resource type.")));
        }
        if !SERVED.contains(&given[0].as_str()) {
            return Err(AwsError::new(400, "ValidationException", format!(
                "Access previews for configuration type {} are not supported: Tessera serves iamRole and s3Bucket resources only.",
                given[0]
            ))
            .with_reason("notSupported"));
        }
        let candidates = preview_candidates(services, &analyzer, resource_arn, config)?;
        let mut before: HashMap<_, &Finding> = existing
            .iter()
            .filter(|f| f.resource == *resource_arn && f.finding_type == "ExternalAccess" && f.status != "RESOLVED")
            .map(|f| (f.identity(), f))
            .collect();
        for c in &candidates {
            let mut f = candidate_finding(c, now);
            f.id = crate::uuid();
            let (change, old) = match before.remove(&f.identity()) {
                Some(old) if old.action == f.action => ("UNCHANGED", Some(old)),
                Some(old) => ("CHANGED", Some(old)),
                None => ("NEW", None),
            };
            f.status = match old {
                Some(old) => old.status.clone(),
                None if rules.iter().any(|r| matches(&f, &r.filter)) => "ARCHIVED".into(),
                None => "ACTIVE".into(),
            };
            let extra = match old {
                Some(old) => {
                    json!({"changeType": change, "existingFindingId": old.id, "existingFindingStatus": old.status})
                }
                None => json!({"changeType": change}),
            };
            out.push((f, extra));
        }
        // Existing findings the proposal would no longer give: resolved.
        for old in before.into_values() {
            let mut f = old.clone();
            f.id = crate::uuid();
            f.status = "RESOLVED".into();
            f.created_millis = now;
            let extra =
                json!({"changeType": "CHANGED", "existingFindingId": old.id, "existingFindingStatus": old.status});
            out.push((f, extra));
        }
    }
    let preview = AccessPreview {
        id: crate::uuid(),
        analyzer_arn: analyzer.arn.clone(),
        configurations: Value::Object(configs.clone()),
        created_millis: now,
        findings: out,
    };
    crate::transact(services, |w| {
        model::save(w, TABLE, &format!("{}/{}", analyzer.arn, preview.id), &preview).map_err(internal)
    })?;
    Ok(json!({ "id": preview.id }))
}

/// The access preview `accessPreviewId` of the analyzer.
fn load(services: &Services, analyzer: &Analyzer, input: &Value) -> Result<AccessPreview, AwsError> {
    let mut f = Fields::default();
    let id = f.string(input, "accessPreviewId", true, Rule { min: 1, max: 64, pattern: None });
    f.finish()?;
    let id = id.ok_or_else(AwsError::internal)?;
    let r = services.store.read().map_err(internal)?;
    model::load::<AccessPreview>(&*r, TABLE, &format!("{}/{id}", analyzer.arn))
        .map_err(internal)?
        .ok_or_else(|| not_found(format!("Access preview {id} not found")))
}

fn summary(p: &AccessPreview) -> Value {
    json!({"id": p.id, "analyzerArn": p.analyzer_arn, "createdAt": timestamp(p.created_millis), "status": "COMPLETED"})
}

/// `GetAccessPreview`.
pub fn get(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let analyzer = analyzer(services, call, input)?;
    let p = load(services, &analyzer, input)?;
    let mut v = summary(&p);
    v["configurations"] = p.configurations.clone();
    Ok(json!({ "accessPreview": v }))
}

/// `ListAccessPreviews`: the analyzer's previews, oldest first.
pub fn list(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let analyzer = analyzer(services, call, input)?;
    let (max, start) = crate::page(input)?;
    let r = services.store.read().map_err(internal)?;
    let rows = r.scan(TABLE, &format!("{}/", analyzer.arn), None, usize::MAX).map_err(internal)?;
    let mut all: Vec<AccessPreview> = rows.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect();
    all.sort_by(|a, b| a.created_millis.cmp(&b.created_millis).then_with(|| a.id.cmp(&b.id)));
    Ok(crate::paged("accessPreviews", all.iter().map(summary).collect(), max, start))
}

/// `ListAccessPreviewFindings`: the preview's findings matching `filter` (the criteria of
/// `ListFindings`), pages.
pub fn list_findings(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let analyzer = analyzer(services, call, input)?;
    let p = load(services, &analyzer, input)?;
    let filter = input.get("filter").cloned().unwrap_or(Value::Null);
    if !(filter.is_null() || filter.is_object()) {
        return Err(invalid_field("filter", "Member must be a map"));
    }
    let (max, start) = crate::page(input)?;
    let all: Vec<Value> = p
        .findings
        .iter()
        .filter(|(f, _)| matches(f, &filter))
        .map(|(f, extra)| {
            let mut v = json!({
                "id": f.id,
                "principal": f.principal,
                "action": f.action,
                "condition": f.condition,
                "resource": f.resource,
                "isPublic": f.is_public,
                "resourceType": f.resource_type,
                "createdAt": timestamp(f.created_millis),
                "status": f.status,
                "resourceOwnerAccount": f.resource_owner_account,
                "sources": sources(f),
            });
            if let (Value::Object(v), Value::Object(extra)) = (&mut v, extra) {
                v.extend(extra.clone());
            }
            v
        })
        .collect();
    Ok(crate::paged("findings", all, max, start))
}
