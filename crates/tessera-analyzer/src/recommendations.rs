//! Finding recommendations (`GenerateFindingRecommendation`, `GetFindingRecommendation`) for
//! unused permission findings: for each identity policy of the role or user (inline, attached
//! managed) that grants actions of the unused service, the policy without them
//! (`CREATE_POLICY`), or `DETACH_POLICY` when nothing would be left. IAM User Guide, "Remediate
//! unused access findings"; API reference, `UnusedPermissionsRecommendedStep`.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_services::account::input::{Fields, Rule};
use tessera_services::{model, Call, Services};
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use crate::analysis::{statements, strings};
use crate::analyzers::analyzer_by_arn;
use crate::records::{table, Finding};
use crate::{internal, invalid, not_found, timestamp};

/// A recommendation by `<analyzer arn>/<finding id>`.
const TABLE: &str = "aa_recommendation";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Recommendation {
    resource_arn: String,
    started_millis: i64,
    completed_millis: i64,
    /// `UnusedPermissionsRecommendedStep`s.
    steps: Vec<Value>,
}

/// The analyzer and finding named by `analyzerArn` and `id` (authorized on the analyzer).
fn finding(services: &Services, call: &Call, input: &Value) -> Result<(String, Finding), AwsError> {
    let mut f = Fields::default();
    let arn = f.string(input, "analyzerArn", true, Rule { min: 1, max: 2048, pattern: None });
    let id = f.string(input, "id", true, Rule { min: 1, max: 2048, pattern: None });
    f.finish()?;
    let (Some(arn), Some(id)) = (arn, id) else { return Err(AwsError::internal()) };
    let analyzer = analyzer_by_arn(services, call, arn)?;
    let r = services.store.read().map_err(internal)?;
    let found = model::load::<Finding>(&*r, table::FINDING, &format!("{}/{id}", analyzer.arn))
        .map_err(internal)?
        .ok_or_else(|| not_found(format!("Finding {id} not found")))?;
    Ok((analyzer.arn, found))
}

/// The document without the `service:` actions of its `Allow` statements (`None`: unchanged);
/// statements left without actions go.
fn without_service(doc: &str, service: &str) -> Option<Value> {
    let mut v: Value = serde_json::from_str(doc).ok()?;
    let prefix = format!("{}:", service.to_ascii_lowercase());
    let of_service = |a: &str| a.to_ascii_lowercase().starts_with(&prefix);
    let mut changed = false;
    let mut kept = Vec::new();
    for mut s in statements(&v) {
        let is_allow = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let actions = s.get("Action").map(strings).unwrap_or_default();
        if !is_allow || !actions.iter().any(|a| of_service(a)) {
            kept.push(s);
            continue;
        }
        changed = true;
        let left: Vec<String> = actions.into_iter().filter(|a| !of_service(a)).collect();
        if !left.is_empty() {
            s["Action"] = json!(left);
            kept.push(s);
        }
    }
    if !changed {
        return None;
    }
    v["Statement"] = Value::Array(kept);
    Some(v)
}

/// The role or user `arn` of account `owner` in `table`.
fn find<T: serde::de::DeserializeOwned>(
    r: &dyn ReadTxn,
    table: &str,
    owner: &str,
    arn: &str,
    arn_of: fn(&T) -> String,
) -> Result<T, AwsError> {
    let rows = r.scan(table, &format!("{owner}/"), None, usize::MAX).map_err(internal)?;
    rows.into_iter()
        .filter_map(|(_, v)| serde_json::from_slice::<T>(&v).ok())
        .find(|x| arn_of(x) == arn)
        .ok_or_else(|| not_found(format!("{arn} no longer exists")))
}

/// The steps for the unused `service` of the principal `arn`.
fn steps(r: &dyn ReadTxn, arn: &str, owner: &str, service: &str) -> Result<Vec<Value>, AwsError> {
    let (inline, attached) = if arn.contains(":role/") {
        let role = find::<model::Role>(r, model::table::ROLE, owner, arn, model::Role::arn)?;
        (role.inline_policies, role.attached_policies)
    } else {
        let user = find::<model::User>(r, model::table::USER, owner, arn, model::User::arn)?;
        (user.inline_policies, user.attached_policies)
    };
    let mut out = Vec::new();
    let mut step = |id: &str, doc: &str| {
        let Some(new) = without_service(doc, service) else { return };
        let step = if statements(&new).is_empty() {
            json!({"recommendedAction": "DETACH_POLICY", "existingPolicyId": id})
        } else {
            json!({"recommendedAction": "CREATE_POLICY", "existingPolicyId": id, "recommendedPolicy": new.to_string()})
        };
        out.push(json!({ "unusedPermissionsRecommendedStep": step }));
    };
    for (name, doc) in &inline {
        step(name, doc);
    }
    for policy_arn in &attached {
        if let Some(doc) =
            tessera_services::iam::principal::managed_policy_document(r, owner, policy_arn).map_err(internal)?
        {
            step(policy_arn, &doc);
        }
    }
    Ok(out)
}

/// `GenerateFindingRecommendation`: work out the recommendation of an unused permission finding
/// now (it has `SUCCEEDED` when the call returns).
pub fn generate(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (analyzer_arn, f) = finding(services, call, input)?;
    if f.finding_type != "UnusedPermission" {
        return Err(invalid("Recommendations are available for unused permission findings only."));
    }
    let now = call.meta.now_millis;
    let steps = {
        let r = services.store.read().map_err(internal)?;
        steps(r.as_ref(), &f.resource, &f.resource_owner_account, &f.subject)?
    };
    let rec = Recommendation { resource_arn: f.resource.clone(), started_millis: now, completed_millis: now, steps };
    crate::transact(services, |w| model::save(w, TABLE, &format!("{analyzer_arn}/{}", f.id), &rec).map_err(internal))?;
    Ok(json!({}))
}

/// `GetFindingRecommendation`: the recommendation made by `GenerateFindingRecommendation`,
/// its steps in pages.
pub fn get(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (analyzer_arn, f) = finding(services, call, input)?;
    let (max, start) = crate::page(input)?;
    let r = services.store.read().map_err(internal)?;
    let rec = model::load::<Recommendation>(&*r, TABLE, &format!("{analyzer_arn}/{}", f.id))
        .map_err(internal)?
        .ok_or_else(|| not_found(format!("No recommendation has been generated for finding {}", f.id)))?;
    let mut v = crate::paged("recommendedSteps", rec.steps, max, start);
    v["startedAt"] = timestamp(rec.started_millis);
    v["completedAt"] = timestamp(rec.completed_millis);
    v["resourceArn"] = json!(rec.resource_arn);
    v["recommendationType"] = json!("UnusedPermissionRecommendation");
    v["status"] = json!("SUCCEEDED");
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_the_service_and_drops_empty_statements() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","sqs:SendMessage"],"Resource":"*"},{"Effect":"Allow","Action":"S3:PutObject","Resource":"*"}]}"#;
        let v = without_service(doc, "s3").unwrap();
        assert_eq!(v["Statement"].as_array().map(Vec::len), Some(1));
        assert_eq!(v["Statement"][0]["Action"], json!(["sqs:SendMessage"]));
        assert!(without_service(doc, "kms").is_none());
        let only = r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        assert!(statements(&without_service(only, "s3").unwrap()).is_empty());
    }
}
