//! Internal access analysis (`ACCOUNT_INTERNAL_ACCESS`, `ORGANIZATION_INTERNAL_ACCESS`): which
//! IAM users and roles inside the zone of trust can reach the resources the analysis rule
//! names, each (principal, resource, action) decided by the engine through
//! `tessera_graph::Reach` (identity policies, boundaries, the bucket policy; SCPs and RCPs
//! for an organization zone of trust). IAM User Guide, "IAM Access Analyzer internal access
//! findings"; API reference, `InternalAccessDetails` and `InternalAccessAnalysisRuleCriteria`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};
use tessera_policy::PolicyType;
use tessera_services::organizations::scp_levels;
use tessera_services::Services;
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use crate::analysis::{object_resources, resources, statements, zone, Candidate, BUCKET_ACTIONS, OBJECT_ACTIONS};
use crate::records::Analyzer;

/// The resource types internal access analyzers cover (API reference,
/// `InternalAccessAnalysisRuleCriteria`). Tessera serves S3 buckets of them; rules naming the
/// others are accepted and match nothing here.
pub const INTERNAL_TYPES: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::RDS::DBSnapshot",
    "AWS::RDS::DBClusterSnapshot",
    "AWS::S3Express::DirectoryBucket",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::Stream",
];

/// Whether a resource matches one inclusion criterion (every member it gives).
fn included(criterion: &Value, arn: &str, ty: &str, owner: &str) -> bool {
    let list = |name: &str| -> Option<Vec<&str>> {
        criterion.get(name).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect())
    };
    list("accountIds").is_none_or(|a| a.contains(&owner))
        && list("resourceTypes").is_none_or(|t| t.contains(&ty))
        && list("resourceArns").is_none_or(|r| r.contains(&arn))
}

/// Whether the analyzer's analysis rule takes in the resource: every supported resource when the
/// rule has no inclusions, else those matching one of them.
fn in_scope(analyzer: &Analyzer, arn: &str, ty: &str, owner: &str) -> bool {
    let inclusions = analyzer
        .internal_access
        .as_ref()
        .and_then(|c| c.get("analysisRule"))
        .and_then(|r| r.get("inclusions"))
        .and_then(Value::as_array);
    match inclusions {
        Some(list) if !list.is_empty() => list.iter().any(|c| included(c, arn, ty, owner)),
        _ => true,
    }
}

/// `APPLIED` / `APPLICABLE` when control policies of `policy_type` bound `account` (applied for
/// an organization zone of trust, present but left out for an account one), else
/// `NOT_APPLICABLE` (the restriction members of `InternalAccessDetails`).
fn restriction(r: &dyn ReadTxn, account: &str, policy_type: &str, org_zone: bool) -> Result<&'static str, AwsError> {
    let present = scp_levels(r, account, policy_type).map_err(crate::internal)?.is_some();
    Ok(match (present, org_zone) {
        (false, _) => "NOT_APPLICABLE",
        (true, true) => "APPLIED",
        (true, false) => "APPLICABLE",
    })
}

/// Every internal access finding of `analyzer` as the store stands.
pub fn analyze_internal(services: &Services, analyzer: &Analyzer, now: i64) -> Result<Vec<Candidate>, AwsError> {
    let org_zone = analyzer.organization_id.is_some();
    // What the store says, read first (the engine's questions read through caches of their own).
    let (zone, in_rule, scp, rcp) = {
        let read = services.store.read().map_err(crate::internal)?;
        let r: &dyn ReadTxn = read.as_ref();
        let zone = zone(r, analyzer).map_err(crate::internal)?;
        let mut in_rule = Vec::new();
        for res in resources(r, analyzer, &zone).map_err(crate::internal)? {
            let Some(doc) = res.policy_document() else { continue };
            if in_scope(analyzer, &res.arn, res.resource_type, &res.owner) {
                in_rule.push((res.arn.clone(), res.owner.clone(), res.resource_type, doc.map(str::to_string)));
            }
        }
        let mut scp = BTreeMap::new();
        let mut rcp = BTreeMap::new();
        for account in &zone {
            scp.insert(account.clone(), restriction(r, account, "SERVICE_CONTROL_POLICY", org_zone)?);
            rcp.insert(account.clone(), restriction(r, account, "RESOURCE_CONTROL_POLICY", org_zone)?);
        }
        (zone, in_rule, scp, rcp)
    };
    if in_rule.is_empty() {
        return Ok(Vec::new());
    }
    let mut reach = tessera_graph::Reach::new(services, now, &zone).map_err(crate::graph_error)?;
    reach.without_control_policies(!org_zone);
    let mut out = Vec::new();
    for (arn, owner, resource_type, doc) in in_rule {
        let parsed = doc.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok());
        let policy = match &doc {
            Some(d) => tessera_services::authz::compiled(PolicyType::Resource, "bucket policy", d).ok(),
            None => None,
        };
        let mut questions: Vec<(&str, String)> = BUCKET_ACTIONS.iter().map(|a| (*a, arn.clone())).collect();
        let objects = object_resources(&parsed.as_ref().map(statements).unwrap_or_default(), &arn);
        for a in OBJECT_ACTIONS {
            questions.extend(objects.iter().map(|o| (*a, o.clone())));
        }
        let rcp = rcp.get(&owner).copied().unwrap_or("NOT_APPLICABLE");
        let target = tessera_graph::Target { account: &owner, policy: policy.as_deref(), questions: &questions };
        for access in reach.who(&target).map_err(crate::graph_error)? {
            let access_type = if access.account == owner { "INTRA_ACCOUNT" } else { "INTRA_ORG" };
            let principal = BTreeMap::from([("AWS".to_string(), access.principal.clone())]);
            let details = json!({"internalAccessDetails": {
                "action": access.actions,
                "condition": access.conditions,
                "principal": principal,
                "principalOwnerAccount": access.account,
                "accessType": access_type,
                "principalType": if access.is_role { "IAM_ROLE" } else { "IAM_USER" },
                "serviceControlPolicyRestriction": scp.get(&access.account).copied().unwrap_or("NOT_APPLICABLE"),
                "resourceControlPolicyRestriction": rcp,
            }});
            out.push(Candidate {
                resource: arn.clone(),
                resource_type,
                owner: owner.clone(),
                principal,
                action: access.actions,
                condition: access.conditions,
                is_public: false,
                sources: Vec::new(),
                statements: BTreeSet::new(),
                finding_type: "InternalAccess",
                subject: String::new(),
                details,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusions_match_every_member_they_give() {
        let c = json!({"resourceTypes": ["AWS::S3::Bucket"], "accountIds": ["111111111111"]});
        assert!(included(&c, "arn:aws:s3:::b", "AWS::S3::Bucket", "111111111111"));
        assert!(!included(&c, "arn:aws:s3:::b", "AWS::S3::Bucket", "222222222222"));
        let c = json!({"resourceArns": ["arn:aws:s3:::b"]});
        assert!(included(&c, "arn:aws:s3:::b", "AWS::S3::Bucket", "1"));
        assert!(!included(&c, "arn:aws:s3:::c", "AWS::S3::Bucket", "1"));
    }
}
