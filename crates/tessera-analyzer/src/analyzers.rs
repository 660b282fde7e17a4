//! Analyzers (`CreateAnalyzer`, `GetAnalyzer`, `ListAnalyzers`, `DeleteAnalyzer`), their tags
//! and their archive rules.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tessera_services::account::input::{invalid_field, Fields, Rule};
use tessera_services::organizations::is_delegated_administrator;
use tessera_services::{model, Call, Services};
use tessera_store::{ReadTxn, WriteTxn};
use tessera_wire::AwsError;

use crate::records::{table, Analyzer, ArchiveRule};
use crate::{authorize, conflict, internal, invalid, not_found, timestamp, SERVICE_PRINCIPAL};

/// Analyzers of type `ACCOUNT` per account per Region (the model's `CreateAnalyzer` page).
pub const MAX_ACCOUNT_ANALYZERS: usize = 1;
/// Analyzers of type `ORGANIZATION` per organization per Region.
pub const MAX_ORGANIZATION_ANALYZERS: usize = 5;
/// Archive rules per analyzer (IAM Access Analyzer quotas).
pub const MAX_ARCHIVE_RULES: usize = 100;
/// Tags per analyzer.
const MAX_TAGS: usize = 50;

/// The analyzer types the model lists, and the ones Tessera builds.
const TYPES: &[&str] = &[
    "ACCOUNT",
    "ORGANIZATION",
    "ACCOUNT_UNUSED_ACCESS",
    "ORGANIZATION_UNUSED_ACCESS",
    "ACCOUNT_INTERNAL_ACCESS",
    "ORGANIZATION_INTERNAL_ACCESS",
];
const BUILT_TYPES: &[&str] = TYPES;

/// The model's `ResourceType` values.
const RESOURCE_TYPES: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::IAM::Role",
    "AWS::SQS::Queue",
    "AWS::Lambda::Function",
    "AWS::Lambda::LayerVersion",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::EFS::FileSystem",
    "AWS::EC2::Snapshot",
    "AWS::ECR::Repository",
    "AWS::RDS::DBSnapshot",
    "AWS::RDS::DBClusterSnapshot",
    "AWS::SNS::Topic",
    "AWS::S3Express::DirectoryBucket",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::Stream",
    "AWS::IAM::User",
];

/// The `internalAccess` member of a `configuration` (`InternalAccessConfiguration`), checked:
/// `analysisRule.inclusions`, each with `accountIds` (organization analyzers only),
/// `resourceTypes` (of the ones internal access analyzers support) and `resourceArns`. Errors
/// are pushed to `f`.
fn internal_access_config(f: &mut Fields, internal: &Value, organization: bool) -> Value {
    const AT: &str = "configuration.internalAccess.analysisRule.inclusions";
    let inclusions = match internal.get("analysisRule").map(|r| r.get("inclusions")) {
        None | Some(None) | Some(Some(Value::Null)) => return json!({}),
        Some(Some(Value::Array(a))) => a,
        Some(Some(_)) => {
            f.push(AT, "Member must be a list".into());
            return json!({});
        }
    };
    let strings = |f: &mut Fields, c: &Value, name: &str| -> Vec<String> {
        match c.get(name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
                a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
            }
            Some(_) => {
                f.push(&format!("{AT}.{name}"), "Member must be a list of strings".into());
                Vec::new()
            }
        }
    };
    let mut out = Vec::new();
    for c in inclusions {
        if !c.is_object() {
            f.push(AT, "Member must be a list of InternalAccessAnalysisRuleCriteria".into());
            continue;
        }
        let accounts = strings(f, c, "accountIds");
        let types = strings(f, c, "resourceTypes");
        let arns = strings(f, c, "resourceArns");
        if !accounts.is_empty() && !organization {
            f.push(
                &format!("{AT}.accountIds"),
                "Account IDs can only be applied to the analysis rule criteria for organization-level analyzers."
                    .into(),
            );
        }
        for a in &accounts {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                f.push(&format!("{AT}.accountIds"), format!("'{a}' is not an AWS account ID"));
            }
        }
        for t in &types {
            if !RESOURCE_TYPES.contains(&t.as_str()) {
                f.push(&format!("{AT}.resourceTypes"), format!("Member must satisfy enum value set: '{t}'"));
            } else if !crate::internal::INTERNAL_TYPES.contains(&t.as_str()) {
                f.push(
                    &format!("{AT}.resourceTypes"),
                    format!(
                        "Resource type {t} is not supported for internal access analysis (supported: {})",
                        crate::internal::INTERNAL_TYPES.join(", ")
                    ),
                );
            }
        }
        let mut criterion = Map::new();
        for (name, list) in [("accountIds", accounts), ("resourceTypes", types), ("resourceArns", arns)] {
            if !list.is_empty() {
                criterion.insert(name.into(), json!(list));
            }
        }
        out.push(Value::Object(criterion));
    }
    json!({"analysisRule": {"inclusions": out}})
}

/// The `unusedAccessAge` of an `unusedAccess` configuration (1 to 365 days), if given.
fn unused_access_age(f: &mut Fields, unused: Option<&Value>) -> Option<i64> {
    match unused.and_then(|u| u.get("unusedAccessAge")) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=365).contains(&n) => Some(n),
            _ => {
                f.push("configuration.unusedAccess.unusedAccessAge", "Member must be between 1 and 365".into());
                None
            }
        },
    }
}

/// Unused access `analysisRule` exclusions are not built: `NotImplemented`.
fn unused_rule_not_built(unused: Option<&Value>, op: &str) -> Result<(), AwsError> {
    if unused.and_then(|u| u.get("analysisRule")).is_some_and(|r| !r.is_null()) {
        return Err(AwsError::new(
            501,
            "NotImplemented",
            format!("access-analyzer:{op} with an unused access analysisRule is not implemented by Tessera"),
        ));
    }
    Ok(())
}

/// `AnalyzerName` / `Name`: 1-255 of `[A-Za-z_][A-Za-z0-9_.-]*`.
const NAME: Rule = Rule { min: 1, max: 255, pattern: Some(is_name) };

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `arn:aws:access-analyzer:<region>:<account>:analyzer/<name>`.
pub fn analyzer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:access-analyzer:{region}:{account}:analyzer/{name}")
}

/// The analyzer an ARN names, if it is the caller's (account and Region).
pub fn parse_analyzer_arn<'a>(call: &Call, arn: &'a str) -> Option<&'a str> {
    let rest = arn.strip_prefix("arn:aws:access-analyzer:")?;
    let mut it = rest.splitn(3, ':');
    let (region, account, res) = (it.next()?, it.next()?, it.next()?);
    let name = res.strip_prefix("analyzer/")?;
    (region == call.meta.region && account == call.caller.account && !name.contains('/')).then_some(name)
}

fn region(call: &Call) -> &str {
    if call.meta.region.is_empty() {
        "us-east-1"
    } else {
        &call.meta.region
    }
}

/// The caller's analyzer `name` in the request's Region.
pub fn load_analyzer(r: &(impl ReadTxn + ?Sized), call: &Call, name: &str) -> Result<Analyzer, AwsError> {
    model::load::<Analyzer>(r, table::ANALYZER, &Analyzer::key(&call.caller.account, region(call), name))
        .map_err(internal)?
        .ok_or_else(|| not_found("Analyzer not found"))
}

/// The analyzer an `analyzerArn` member names (authorized first on that ARN).
pub fn analyzer_by_arn(services: &Services, call: &Call, arn: &str) -> Result<Analyzer, AwsError> {
    authorize(services, call, arn)?;
    let name = parse_analyzer_arn(call, arn).ok_or_else(|| not_found("Analyzer not found"))?;
    let r = services.store.read().map_err(internal)?;
    load_analyzer(&*r, call, name)
}

/// The tags of a request (`TagsMap`): keys 1-128 not starting with `aws:`, values 0-256.
fn tags(fields: &mut Fields, input: &Value, name: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match input.get(name) {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let Some(v) = v.as_str() else {
                    fields.push(name, "Member must be a map of strings".into());
                    continue;
                };
                if k.is_empty() || k.chars().count() > 128 || k.to_ascii_lowercase().starts_with("aws:") {
                    fields.push(name, format!("Tag key '{k}' must be 1 to 128 characters and not start with aws:"));
                } else if v.chars().count() > 256 {
                    fields.push(name, format!("Tag value of '{k}' must be at most 256 characters"));
                } else {
                    out.insert(k.clone(), v.to_string());
                }
            }
        }
        Some(_) => fields.push(name, "Member must be a map of strings".into()),
    }
    out
}

/// A `FilterCriteriaMap`: each criterion has `eq`, `neq` or `contains` (1-20 strings) or
/// `exists`.
fn filter(fields: &mut Fields, input: &Value, name: &str, required: bool) -> Value {
    match input.get(name) {
        None | Some(Value::Null) if !required => Value::Object(Map::new()),
        None | Some(Value::Null) => {
            fields.push(name, "Member must not be null".into());
            Value::Null
        }
        Some(Value::Object(m)) => {
            for (key, c) in m {
                let ok = c.as_object().is_some_and(|c| {
                    !c.is_empty()
                        && c.iter().all(|(op, v)| match op.as_str() {
                            "eq" | "neq" | "contains" => v
                                .as_array()
                                .is_some_and(|a| (1..=20).contains(&a.len()) && a.iter().all(Value::is_string)),
                            "exists" => v.is_boolean(),
                            _ => false,
                        })
                });
                if !ok {
                    fields.push(
                        name,
                        format!("Criterion '{key}' must have eq, neq or contains (1 to 20 strings) or exists"),
                    );
                }
            }
            Value::Object(m.clone())
        }
        Some(_) => {
            fields.push(name, "Member must be a map".into());
            Value::Null
        }
    }
}

fn summary(a: &Analyzer) -> Value {
    let mut v = json!({
        "arn": a.arn,
        "name": a.name,
        "type": a.analyzer_type,
        "createdAt": timestamp(a.created_millis),
        "tags": a.tags,
        "status": "ACTIVE",
    });
    if let Some((res, at)) = &a.last_resource_analyzed {
        v["lastResourceAnalyzed"] = json!(res);
        v["lastResourceAnalyzedAt"] = timestamp(*at);
    }
    if let Some(c) = configuration(a) {
        v["configuration"] = c;
    }
    v
}

/// An analyzer's `configuration` (`AnalyzerConfiguration`), for unused and internal access
/// analyzers.
fn configuration(a: &Analyzer) -> Option<Value> {
    if let Some(age) = a.unused_access_age {
        return Some(json!({"unusedAccess": {"unusedAccessAge": age}}));
    }
    a.is_internal_access().then(|| json!({"internalAccess": a.internal_access.clone().unwrap_or_else(|| json!({}))}))
}

/// `CreateAnalyzer`.
pub fn create_analyzer(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let name = f.string(input, "analyzerName", true, NAME);
    let ty = f.one_of(input, "type", TYPES);
    let tags = tags(&mut f, input, "tags");
    let mut rules = Vec::new();
    match input.get("archiveRules") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for r in a {
                let rule_name = f.string(r, "ruleName", true, NAME).map(str::to_string);
                let flt = filter(&mut f, r, "filter", true);
                if let Some(n) = rule_name {
                    rules.push((n, flt));
                }
            }
        }
        Some(_) => f.push("archiveRules", "Member must be a list".into()),
    }
    if tags.len() > MAX_TAGS {
        f.push("tags", format!("Member must have at most {MAX_TAGS} entries"));
    }
    let unused = input.get("configuration").and_then(|c| c.get("unusedAccess"));
    let unused_access_age = unused_access_age(&mut f, unused);
    let internal_cfg = input.get("configuration").and_then(|c| c.get("internalAccess")).filter(|v| !v.is_null());
    let organization = ty.is_some_and(|t| t.starts_with("ORGANIZATION"));
    let internal_access = internal_cfg.map(|i| internal_access_config(&mut f, i, organization));
    f.finish()?;
    let (Some(name), Some(ty)) = (name, ty) else { return Err(AwsError::internal()) };
    let region = region(call).to_string();
    let account = call.caller.account.clone();
    let arn = analyzer_arn(&region, &account, name);
    let action = "access-analyzer:CreateAnalyzer";
    let mut context: Vec<(String, Vec<String>)> =
        tags.iter().map(|(k, v)| (format!("aws:RequestTag/{k}"), vec![v.clone()])).collect();
    if !tags.is_empty() {
        context.push(("aws:TagKeys".into(), tags.keys().cloned().collect()));
    }
    services
        .authorize_request(
            call,
            &tessera_services::authz::AuthzRequest { action, resource: &arn, context, ..Default::default() },
        )
        .map_err(
            |e| if e.code == "AccessDenied" { AwsError { code: "AccessDeniedException".into(), ..e } } else { e },
        )?;
    if !BUILT_TYPES.contains(&ty) {
        return Err(AwsError::new(
            501,
            "NotImplemented",
            format!(
                "access-analyzer:CreateAnalyzer of type {ty} is not implemented by Tessera (it builds {})",
                BUILT_TYPES.join(", ")
            ),
        ));
    }
    unused_rule_not_built(unused, "CreateAnalyzer")?;
    let is_unused = ty.ends_with("_UNUSED_ACCESS");
    if unused.is_some() && !is_unused {
        return Err(invalid("An unusedAccess configuration is valid only for an unused access analyzer."));
    }
    let is_internal = ty.ends_with("_INTERNAL_ACCESS");
    if internal_cfg.is_some() && !is_internal {
        return Err(invalid("An internalAccess configuration is valid only for an internal access analyzer."));
    }
    let organization_id = if ty.starts_with("ORGANIZATION") { Some(organization_for(services, call)?) } else { None };
    let now = call.meta.now_millis;
    let analyzer = Analyzer {
        arn: arn.clone(),
        name: name.to_string(),
        account: account.clone(),
        region: region.clone(),
        analyzer_type: ty.to_string(),
        organization_id,
        created_millis: now,
        tags,
        last_resource_analyzed: None,
        unused_access_age: is_unused.then_some(unused_access_age.unwrap_or(90)),
        internal_access: if is_internal { Some(internal_access.unwrap_or_else(|| json!({}))) } else { None },
    };
    crate::transact(services, |w| {
        let key = Analyzer::key(&account, &region, name);
        if w.get(table::ANALYZER, &key).map_err(internal)?.is_some() {
            return Err(conflict(format!("Analyzer {name} already exists")));
        }
        let same_kind = |a: &Analyzer| a.region == region && a.analyzer_type == analyzer.analyzer_type;
        let existing = all_analyzers(w)?;
        let count = match &analyzer.organization_id {
            None => existing.iter().filter(|a| a.account == account && same_kind(a)).count(),
            Some(org) => existing.iter().filter(|a| a.organization_id.as_ref() == Some(org) && same_kind(a)).count(),
        };
        let limit = if analyzer.organization_id.is_some() { MAX_ORGANIZATION_ANALYZERS } else { MAX_ACCOUNT_ANALYZERS };
        if count >= limit {
            return Err(AwsError::new(
                402,
                "ServiceQuotaExceededException",
                format!("You have reached the limit of {limit} analyzers of type {ty} in {region}"),
            ));
        }
        model::save(w, table::ANALYZER, &key, &analyzer).map_err(internal)?;
        for (rule, flt) in &rules {
            let r = ArchiveRule { name: rule.clone(), filter: flt.clone(), created_millis: now, updated_millis: now };
            model::save(w, table::ARCHIVE_RULE, &format!("{arn}/{rule}"), &r).map_err(internal)?;
        }
        Ok(())
    })?;
    crate::findings::refresh_analyzer(services, &analyzer, now)?;
    Ok(json!({ "arn": arn }))
}

/// The organization an `ORGANIZATION` analyzer of the caller covers: the caller must be its
/// management account or a delegated administrator for Access Analyzer.
fn organization_for(services: &Services, call: &Call) -> Result<String, AwsError> {
    let own = &call.caller.account;
    let r = services.store.read().map_err(internal)?;
    let Some(org) = tessera_services::organizations::org_of(&*r, own)? else {
        return Err(invalid("An analyzer of type ORGANIZATION can be created only in an account of an organization."));
    };
    if org.management_account != *own && !is_delegated_administrator(&*r, own, SERVICE_PRINCIPAL)? {
        return Err(AwsError::new(
            403,
            "AccessDeniedException",
            "An analyzer of type ORGANIZATION can be created only by the management account or a delegated administrator for access-analyzer.amazonaws.com.",
        ));
    }
    Ok(org.id)
}

/// Every analyzer in the store.
pub fn all_analyzers(r: &(impl ReadTxn + ?Sized)) -> Result<Vec<Analyzer>, AwsError> {
    let rows = r.scan(table::ANALYZER, "", None, usize::MAX).map_err(internal)?;
    Ok(rows.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect())
}

/// `GetAnalyzer`.
pub fn get_analyzer(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let name = analyzer_name(input)?;
    authorize(services, call, &analyzer_arn(region(call), &call.caller.account, name))?;
    let r = services.store.read().map_err(internal)?;
    let a = load_analyzer(&*r, call, name)?;
    Ok(json!({ "analyzer": summary(&a) }))
}

fn analyzer_name(input: &Value) -> Result<&str, AwsError> {
    let mut f = Fields::default();
    let name = f.string(input, "analyzerName", true, NAME);
    f.finish()?;
    name.ok_or_else(AwsError::internal)
}

/// `maxResults` (1-1000 where given) and `nextToken`.
fn page(input: &Value) -> Result<(usize, Option<String>), AwsError> {
    let max = match input.get("maxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=1000).contains(&n) => usize::try_from(n).unwrap_or(100),
            _ => {
                return Err(invalid_field("maxResults", "Member must be an integer between 1 and 1000"));
            }
        },
    };
    let token = input.get("nextToken").and_then(Value::as_str).map(str::to_string);
    Ok((max, token))
}

/// `ListAnalyzers`.
pub fn list_analyzers(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let ty = if input.get("type").is_some() { f.one_of(input, "type", TYPES) } else { None };
    f.finish()?;
    let (max, token) = page(input)?;
    let region = region(call);
    authorize(services, call, &analyzer_arn(region, &call.caller.account, "*"))?;
    let r = services.store.read().map_err(internal)?;
    let prefix = format!("{}/{region}/", call.caller.account);
    let rows = r.scan(table::ANALYZER, &prefix, token.as_deref(), usize::MAX).map_err(internal)?;
    let mut out = Vec::new();
    let mut next = None;
    for (k, v) in rows {
        let Ok(a) = serde_json::from_slice::<Analyzer>(&v) else { continue };
        if ty.is_some_and(|t| t != a.analyzer_type) {
            continue;
        }
        if out.len() == max {
            next = out.last().map(|(k, _): &(String, Value)| k.clone());
            break;
        }
        out.push((k, summary(&a)));
    }
    let mut v = json!({ "analyzers": out.into_iter().map(|(_, a)| a).collect::<Vec<_>>() });
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    Ok(v)
}

/// `UpdateAnalyzer`: replace the `configuration` of an unused access analyzer
/// (`unusedAccessAge`) or an internal access analyzer (`analysisRule`), then analyze it again.
/// Other analyzers have no configuration to update (`ValidationException`).
pub fn update_analyzer(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let name = analyzer_name(input)?;
    authorize(services, call, &analyzer_arn(region(call), &call.caller.account, name))?;
    let config = match input.get("configuration") {
        None | Some(Value::Null) => json!({}),
        Some(c @ Value::Object(_)) => c.clone(),
        Some(_) => return Err(invalid_field("configuration", "Member must be a structure")),
    };
    let unused = config.get("unusedAccess").filter(|v| !v.is_null());
    let internal_cfg = config.get("internalAccess").filter(|v| !v.is_null());
    let key = Analyzer::key(&call.caller.account, region(call), name);
    let current = {
        let r = services.store.read().map_err(internal)?;
        load_analyzer(&*r, call, name)?
    };
    let mut f = Fields::default();
    let age = unused_access_age(&mut f, unused);
    let organization = current.analyzer_type.starts_with("ORGANIZATION");
    let internal_access = internal_cfg.map(|i| internal_access_config(&mut f, i, organization));
    f.finish()?;
    unused_rule_not_built(unused, "UpdateAnalyzer")?;
    let applies = match (current.is_unused_access(), current.is_internal_access()) {
        (true, _) => internal_cfg.is_none(),
        (_, true) => unused.is_none(),
        _ => false,
    };
    if !applies {
        return Err(invalid(format!(
            "The configuration does not apply to analyzer {name} of type {}.",
            current.analyzer_type
        )));
    }
    let mut analyzer = current.clone();
    change_analyzer(services, &key, |a| {
        if a.is_unused_access() {
            a.unused_access_age = age.or(a.unused_access_age);
        } else {
            a.internal_access = Some(internal_access.clone().unwrap_or_else(|| json!({})));
        }
        analyzer = a.clone();
        Ok(())
    })?;
    crate::findings::refresh_analyzer(services, &analyzer, call.meta.now_millis)?;
    Ok(json!({ "configuration": configuration(&analyzer).unwrap_or_else(|| json!({})) }))
}

/// `DeleteAnalyzer`: the analyzer, its archive rules and its findings.
pub fn delete_analyzer(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let name = analyzer_name(input)?;
    let arn = analyzer_arn(region(call), &call.caller.account, name);
    authorize(services, call, &arn)?;
    crate::transact(services, |w| {
        let key = Analyzer::key(&call.caller.account, region(call), name);
        if !w.delete(table::ANALYZER, &key).map_err(internal)? {
            return Err(not_found("Analyzer not found"));
        }
        for t in [table::ARCHIVE_RULE, table::FINDING] {
            delete_prefix(w, t, &format!("{arn}/"))?;
        }
        Ok(())
    })?;
    Ok(json!({}))
}

fn delete_prefix(w: &mut dyn WriteTxn, table: &str, prefix: &str) -> Result<(), AwsError> {
    for (k, _) in w.scan(table, prefix, None, usize::MAX).map_err(internal)? {
        w.delete(table, &k).map_err(internal)?;
    }
    Ok(())
}

/// The analyzer a tagging call's `resourceArn` names.
fn tagged(services: &Services, call: &Call, input: &Value) -> Result<(String, String), AwsError> {
    let mut f = Fields::default();
    let arn = f.string(input, "resourceArn", true, Rule { min: 1, max: 2048, pattern: None });
    f.finish()?;
    let arn = arn.ok_or_else(AwsError::internal)?;
    authorize(services, call, arn)?;
    let name = parse_analyzer_arn(call, arn).ok_or_else(|| not_found("Resource not found"))?;
    Ok((arn.to_string(), Analyzer::key(&call.caller.account, region(call), name)))
}

/// `TagResource`.
pub fn tag_resource(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let new = tags(&mut f, input, "tags");
    if input.get("tags").is_none() {
        f.push("tags", "Member must not be null".into());
    }
    f.finish()?;
    let (_, key) = tagged(services, call, input)?;
    change_analyzer(services, &key, |a| {
        a.tags.extend(new.clone());
        if a.tags.len() > MAX_TAGS {
            return Err(invalid_field("tags", "An analyzer can have at most 50 tags"));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// `UntagResource`.
pub fn untag_resource(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let keys: Vec<String> = match input.get("tagKeys") {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => return Err(invalid_field("tagKeys", "Member must not be null")),
    };
    let (_, key) = tagged(services, call, input)?;
    change_analyzer(services, &key, |a| {
        for k in &keys {
            a.tags.remove(k);
        }
        Ok(())
    })?;
    Ok(json!({}))
}

fn change_analyzer(
    services: &Services,
    key: &str,
    mut change: impl FnMut(&mut Analyzer) -> Result<(), AwsError>,
) -> Result<(), AwsError> {
    crate::transact(services, |w| {
        let mut a = model::load::<Analyzer>(w, table::ANALYZER, key)
            .map_err(internal)?
            .ok_or_else(|| not_found("Resource not found"))?;
        change(&mut a)?;
        model::save(w, table::ANALYZER, key, &a).map_err(internal)
    })
}

/// `ListTagsForResource`.
pub fn list_tags_for_resource(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (_, key) = tagged(services, call, input)?;
    let r = services.store.read().map_err(internal)?;
    let a = model::load::<Analyzer>(&*r, table::ANALYZER, &key)
        .map_err(internal)?
        .ok_or_else(|| not_found("Resource not found"))?;
    Ok(json!({ "tags": a.tags }))
}

/// `arn:aws:access-analyzer:<region>:<account>:analyzer/<name>/archive-rule/<rule>`.
fn rule_arn(analyzer: &str, rule: &str) -> String {
    format!("{analyzer}/archive-rule/{rule}")
}

fn rule_summary(r: &ArchiveRule) -> Value {
    json!({
        "ruleName": r.name,
        "filter": r.filter,
        "createdAt": timestamp(r.created_millis),
        "updatedAt": timestamp(r.updated_millis),
    })
}

/// The analyzer and rule names of an archive-rule call, authorized on the rule's ARN.
fn rule_target<'a>(services: &Services, call: &Call, input: &'a Value) -> Result<(&'a str, &'a str, String), AwsError> {
    let mut f = Fields::default();
    let analyzer = f.string(input, "analyzerName", true, NAME);
    let rule = f.string(input, "ruleName", true, NAME);
    f.finish()?;
    let (Some(analyzer), Some(rule)) = (analyzer, rule) else { return Err(AwsError::internal()) };
    let arn = analyzer_arn(region(call), &call.caller.account, analyzer);
    authorize(services, call, &rule_arn(&arn, rule))?;
    Ok((analyzer, rule, arn))
}

/// The filter and target of `CreateArchiveRule` / `UpdateArchiveRule`.
fn rule_with_filter<'a>(
    services: &Services,
    call: &Call,
    input: &'a Value,
) -> Result<(Value, (&'a str, &'a str, String)), AwsError> {
    let mut f = Fields::default();
    let flt = filter(&mut f, input, "filter", true);
    f.finish()?;
    Ok((flt, rule_target(services, call, input)?))
}

/// `CreateArchiveRule`: the rule archives new findings that match it (existing ones stay as
/// they are until `ApplyArchiveRule`).
pub fn create_archive_rule(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (flt, (analyzer, rule, arn)) = rule_with_filter(services, call, input)?;
    let now = call.meta.now_millis;
    crate::transact(services, |w| {
        load_analyzer(w, call, analyzer)?;
        let key = format!("{arn}/{rule}");
        if w.get(table::ARCHIVE_RULE, &key).map_err(internal)?.is_some() {
            return Err(conflict(format!("Archive rule {rule} already exists")));
        }
        if w.count(table::ARCHIVE_RULE, &format!("{arn}/")).map_err(internal)? >= MAX_ARCHIVE_RULES as u64 {
            return Err(AwsError::new(
                402,
                "ServiceQuotaExceededException",
                format!("An analyzer can have at most {MAX_ARCHIVE_RULES} archive rules"),
            ));
        }
        let r = ArchiveRule { name: rule.to_string(), filter: flt.clone(), created_millis: now, updated_millis: now };
        model::save(w, table::ARCHIVE_RULE, &key, &r).map_err(internal)
    })?;
    Ok(json!({}))
}

/// `GetArchiveRule`.
pub fn get_archive_rule(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (analyzer, rule, arn) = rule_target(services, call, input)?;
    let r = services.store.read().map_err(internal)?;
    load_analyzer(&*r, call, analyzer)?;
    let rule = model::load::<ArchiveRule>(&*r, table::ARCHIVE_RULE, &format!("{arn}/{rule}"))
        .map_err(internal)?
        .ok_or_else(|| not_found("Archive rule not found"))?;
    Ok(json!({ "archiveRule": rule_summary(&rule) }))
}

/// `ListArchiveRules`.
pub fn list_archive_rules(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let name = analyzer_name(input)?;
    let (max, token) = page(input)?;
    let arn = analyzer_arn(region(call), &call.caller.account, name);
    authorize(services, call, &arn)?;
    let r = services.store.read().map_err(internal)?;
    load_analyzer(&*r, call, name)?;
    let rows = r.scan(table::ARCHIVE_RULE, &format!("{arn}/"), token.as_deref(), max + 1).map_err(internal)?;
    let mut rules = Vec::new();
    let mut next = None;
    for (i, (k, v)) in rows.iter().enumerate() {
        if i == max {
            next = rows.get(i - 1).map(|(k, _)| k.clone());
            break;
        }
        let _ = k;
        if let Ok(rule) = serde_json::from_slice::<ArchiveRule>(v) {
            rules.push(rule_summary(&rule));
        }
    }
    let mut v = json!({ "archiveRules": rules });
    if let Some(n) = next {
        v["nextToken"] = json!(n);
    }
    Ok(v)
}

/// `UpdateArchiveRule`.
pub fn update_archive_rule(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (flt, (analyzer, rule, arn)) = rule_with_filter(services, call, input)?;
    let now = call.meta.now_millis;
    crate::transact(services, |w| {
        load_analyzer(w, call, analyzer)?;
        let key = format!("{arn}/{rule}");
        let mut r = model::load::<ArchiveRule>(w, table::ARCHIVE_RULE, &key)
            .map_err(internal)?
            .ok_or_else(|| not_found("Archive rule not found"))?;
        r.filter = flt.clone();
        r.updated_millis = now;
        model::save(w, table::ARCHIVE_RULE, &key, &r).map_err(internal)
    })?;
    Ok(json!({}))
}

/// `DeleteArchiveRule`.
pub fn delete_archive_rule(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (analyzer, rule, arn) = rule_target(services, call, input)?;
    crate::transact(services, |w| {
        load_analyzer(w, call, analyzer)?;
        if !w.delete(table::ARCHIVE_RULE, &format!("{arn}/{rule}")).map_err(internal)? {
            return Err(not_found("Archive rule not found"));
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// The archive rules of an analyzer.
pub fn archive_rules(r: &(impl ReadTxn + ?Sized), analyzer_arn: &str) -> Result<Vec<ArchiveRule>, AwsError> {
    let rows = r.scan(table::ARCHIVE_RULE, &format!("{analyzer_arn}/"), None, usize::MAX).map_err(internal)?;
    Ok(rows.into_iter().filter_map(|(_, v)| serde_json::from_slice(&v).ok()).collect())
}
