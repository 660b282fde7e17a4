//! The policy simulator: `SimulateCustomPolicy`, `SimulatePrincipalPolicy`,
//! `GetContextKeysForCustomPolicy`, `GetContextKeysForPrincipalPolicy`.
//!
//! The context keys of a policy are the keys its `Condition` elements test and the policy
//! variables (`${aws:username}`) its `Resource`/`NotResource` elements use, each once, in the
//! order they first appear. The simulations run the policy engine (`tessera-policy`), the one
//! that decides every request, over the policies of the request or of the principal.

use serde_json::{json, Map, Value};
use tessera_store::ReadTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::{arn_param, invalid_input, load_user, no_such_entity, read, respond, split_iam_arn, StoreResultExt};
use crate::model::{self, table, Group, ManagedPolicy, Role};
use crate::validate::{self, Checks, Page};
use crate::{managed, Call, Services};

/// `PolicyInputList.member.N`, each checked against `policyDocumentType`.
fn policy_inputs<'a>(params: &'a QueryParams, name: &str) -> Result<Vec<&'a str>, AwsError> {
    let docs = params.list(name);
    let field = super::lower_first(name);
    for (i, d) in docs.iter().enumerate() {
        let n = d.chars().count();
        if n == 0 || n > 131_072 || !crate::validate::is_policy_document_text(d) {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value at '{field}.{}.member' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                i + 1,
                crate::validate::POLICY_DOCUMENT_PATTERN
            )));
        }
    }
    Ok(docs)
}

/// Context keys a policy document refers to, appended to `out` (deduplicated case-insensitively).
pub fn context_keys_of(document: &str, out: &mut Vec<String>) -> Result<(), AwsError> {
    let doc: Value = serde_json::from_str(document).map_err(|_| invalid_input("Syntax errors in policy."))?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => return Err(invalid_input("Syntax errors in policy.")),
    };
    let mut push = |k: &str| {
        if !out.iter().any(|x| x.eq_ignore_ascii_case(k)) {
            out.push(k.to_string());
        }
    };
    for st in statements {
        for field in ["Resource", "NotResource"] {
            let values: Vec<&str> = match st.get(field) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for v in values {
                let mut rest = v;
                while let Some(start) = rest.find("${") {
                    let after = &rest[start + 2..];
                    let Some(end) = after.find('}') else { break };
                    let var = &after[..end];
                    let key = var.split_once(", ").map_or(var, |(k, _)| k).trim();
                    if !matches!(key, "*" | "?" | "$") && key.contains(':') {
                        push(key);
                    }
                    rest = &after[end + 1..];
                }
            }
        }
        if let Some(Value::Object(conditions)) = st.get("Condition") {
            for keys in conditions.values() {
                if let Value::Object(keys) = keys {
                    for k in keys.keys() {
                        push(k);
                    }
                }
            }
        }
    }
    Ok(())
}

fn keys_response(call: &Call, keys: &[String]) -> Result<WireResponse, AwsError> {
    let mut w = XmlWriter::fragment();
    w.open("ContextKeyNames", None);
    for k in keys {
        w.elem("member", k);
    }
    w.close();
    respond(call, Some(w.finish()))
}

/// `GetContextKeysForCustomPolicy`.
pub fn get_context_keys_for_custom_policy(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    if !params.has_list("PolicyInputList") {
        return Err(tessera_wire::query::null_member("PolicyInputList"));
    }
    let docs = policy_inputs(params, "PolicyInputList")?;
    services.authorize(call, "iam:GetContextKeysForCustomPolicy", "*")?;
    let mut keys = Vec::new();
    for d in docs {
        context_keys_of(d, &mut keys)?;
    }
    keys_response(call, &keys)
}

/// One identity policy of a principal, as the simulator labels it.
pub(crate) struct SourcePolicy {
    /// `SourcePolicyId`: the policy's name.
    pub id: String,
    /// `SourcePolicyType`: `user`, `group`, `role` (inline), `aws-managed`, `user-managed`.
    pub kind: &'static str,
    /// The document.
    pub document: String,
}

/// The policies in force for a user, group or role.
pub(crate) struct PrincipalPolicies {
    /// Identity-based policies: inline, attached managed, and (for a user) its groups'.
    pub policies: Vec<SourcePolicy>,
    /// The permissions boundary's document, if one is set.
    pub boundary: Option<String>,
    /// Whether the source is an IAM user.
    pub is_user: bool,
}

fn managed_document(r: &(impl ReadTxn + ?Sized), arn: &str) -> Result<Option<SourcePolicy>, AwsError> {
    if let Some(p) = managed::by_arn(arn) {
        return Ok(Some(SourcePolicy {
            id: p.name.to_string(),
            kind: "aws-managed",
            document: p.document.to_string(),
        }));
    }
    let Some((account, rest)) = split_iam_arn(arn, "policy/") else {
        return Ok(None);
    };
    let name = rest.rsplit('/').next().unwrap_or(rest);
    let policy: Option<ManagedPolicy> = model::load(r, table::POLICY, &model::name_key(account, name)).ise()?;
    Ok(policy.and_then(|p| {
        p.default_document().map(|d| SourcePolicy { id: p.name.clone(), kind: "user-managed", document: d.to_string() })
    }))
}

fn add_policies(
    r: &(impl ReadTxn + ?Sized),
    kind: &'static str,
    inline: &[(String, String)],
    attached: &[String],
    out: &mut Vec<SourcePolicy>,
) -> Result<(), AwsError> {
    out.extend(inline.iter().map(|(n, d)| SourcePolicy { id: n.clone(), kind, document: d.clone() }));
    for arn in attached {
        if let Some(p) = managed_document(r, arn)? {
            out.push(p);
        }
    }
    Ok(())
}

fn boundary_document(r: &(impl ReadTxn + ?Sized), arn: Option<&str>) -> Result<Option<String>, AwsError> {
    match arn {
        Some(a) => Ok(managed_document(r, a)?.map(|p| p.document)),
        None => Ok(None),
    }
}

/// Gather the policies of the user, group or role `arn` in `account` (`NoSuchEntity` when it
/// does not exist).
pub(crate) fn principal_policies(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
    arn: &str,
) -> Result<PrincipalPolicies, AwsError> {
    let invalid = || invalid_input(format!("Invalid ARN: {arn}. Must be the ARN of an IAM user, group or role."));
    let (arn_account, resource) = split_iam_arn(arn, "").ok_or_else(invalid)?;
    let (kind, rest) = resource.split_once('/').ok_or_else(invalid)?;
    let name = rest.rsplit('/').next().unwrap_or(rest);
    let missing = || no_such_entity(format!("The {kind} with name {name} cannot be found."));
    if arn_account != account || name.is_empty() {
        return Err(match kind {
            "user" | "group" | "role" => missing(),
            _ => invalid(),
        });
    }
    let mut policies = Vec::new();
    match kind {
        "user" => {
            let user = load_user(r, account, name)?.ok_or_else(missing)?;
            add_policies(r, "user", &user.inline_policies, &user.attached_policies, &mut policies)?;
            for g in &user.groups {
                let group: Option<Group> = model::load(r, table::GROUP, &model::name_key(account, g)).ise()?;
                if let Some(group) = group {
                    add_policies(r, "group", &group.inline_policies, &group.attached_policies, &mut policies)?;
                }
            }
            let boundary = boundary_document(r, user.permissions_boundary.as_deref())?;
            Ok(PrincipalPolicies { policies, boundary, is_user: true })
        }
        "group" => {
            let group: Group =
                model::load(r, table::GROUP, &model::name_key(account, name)).ise()?.ok_or_else(missing)?;
            add_policies(r, "group", &group.inline_policies, &group.attached_policies, &mut policies)?;
            Ok(PrincipalPolicies { policies, boundary: None, is_user: false })
        }
        "role" => {
            let role: Role = model::load(r, table::ROLE, &model::name_key(account, name)).ise()?.ok_or_else(missing)?;
            add_policies(r, "role", &role.inline_policies, &role.attached_policies, &mut policies)?;
            let boundary = boundary_document(r, role.permissions_boundary.as_deref())?;
            Ok(PrincipalPolicies { policies, boundary, is_user: false })
        }
        _ => Err(invalid()),
    }
}

/// `GetContextKeysForPrincipalPolicy`: the keys of every policy of a user (its groups' too),
/// group or role, and of any extra `PolicyInputList`.
pub fn get_context_keys_for_principal_policy(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "PolicySourceArn")?;
    let extra = policy_inputs(params, "PolicyInputList")?;
    services.authorize(call, "iam:GetContextKeysForPrincipalPolicy", arn)?;
    let account = call.caller.account.as_str();
    let policies = read(services, |r| principal_policies(r, account, arn))?;
    let mut keys = Vec::new();
    for d in policies.policies.iter().map(|p| p.document.as_str()).chain(extra) {
        context_keys_of(d, &mut keys)?;
    }
    keys_response(call, &keys)
}

/// The simulation request shared by both operations, as the engine's JSON input (AWS's field
/// names), checked against the API model's constraints.
fn simulation_input(params: &QueryParams) -> Result<Map<String, Value>, AwsError> {
    if !params.has_list("ActionNames") {
        return Err(tessera_wire::query::null_member("ActionNames"));
    }
    let mut checks = Checks::new();
    let actions = params.list("ActionNames");
    for (i, a) in actions.iter().enumerate() {
        checks.length(&format!("actionNames.{}.member", i + 1), a, 3, 128);
    }
    let resources = params.list("ResourceArns");
    for (i, r) in resources.iter().enumerate() {
        checks.length(&format!("resourceArns.{}.member", i + 1), r, 1, 2048);
    }
    checks.length_opt("resourceOwner", params.get("ResourceOwner"), 1, 2048);
    checks.length_opt("callerArn", params.get("CallerArn"), 1, 2048);
    checks.length_opt("resourceHandlingOption", params.get("ResourceHandlingOption"), 1, 64);
    let mut entries = Vec::new();
    for (i, e) in params.structs("ContextEntries").iter().enumerate() {
        let name = e.get("ContextKeyName").unwrap_or_default();
        checks.length(&format!("contextEntries.{}.member.contextKeyName", i + 1), name, 5, 256);
        let ty = e.get("ContextKeyType");
        if let Some(t) = ty {
            if !CONTEXT_KEY_TYPES.contains(&t) {
                return Err(AwsError::validation(format!(
                    "1 validation error detected: Value '{t}' at 'contextEntries.{}.member.contextKeyType' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                    i + 1,
                    CONTEXT_KEY_TYPES.join(", ")
                )));
            }
        }
        let values: Vec<&str> = e.list("ContextKeyValues");
        let mut entry = Map::new();
        entry.insert("ContextKeyName".into(), json!(name));
        entry.insert("ContextKeyValues".into(), json!(values));
        if let Some(t) = ty {
            entry.insert("ContextKeyType".into(), json!(t));
        }
        entries.push(Value::Object(entry));
    }
    checks.finish()?;
    let resource_policy = params.get("ResourcePolicy");
    if let Some(d) = resource_policy {
        if d.is_empty() || d.chars().count() > 131_072 || !crate::validate::is_policy_document_text(d) {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value at 'resourcePolicy' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                crate::validate::POLICY_DOCUMENT_PATTERN
            )));
        }
    }
    let mut input = Map::new();
    input.insert("ActionNames".into(), json!(actions));
    if !resources.is_empty() {
        input.insert("ResourceArns".into(), json!(resources));
    }
    for name in ["ResourcePolicy", "ResourceOwner", "CallerArn"] {
        if let Some(v) = params.get(name) {
            input.insert(name.into(), json!(v));
        }
    }
    if !entries.is_empty() {
        input.insert("ContextEntries".into(), Value::Array(entries));
    }
    Ok(input)
}

const CONTEXT_KEY_TYPES: &[&str] = &[
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
];

/// Run the engine and write `EvaluationResults` (paged by `MaxItems`/`Marker`). `relabel` maps
/// the engine's `SourcePolicyId` (`PolicyInputList.N`) to the id and type AWS reports.
fn simulate_and_respond(
    call: &Call,
    params: &QueryParams,
    input: Map<String, Value>,
    relabel: &dyn Fn(&str) -> Option<(String, String)>,
) -> Result<WireResponse, AwsError> {
    let page = Page::from_params(params)?;
    let output = tessera_policy::simulate::simulate(&Value::Object(input)).map_err(|e| {
        let status = if e.code == "PolicyEvaluation" { 500 } else { 400 };
        AwsError::new(status, e.code, e.message)
    })?;
    let results: Vec<(usize, Value)> = output
        .get("EvaluationResults")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .collect();
    let (results, next) = page.apply(results, |(i, _)| format!("{i:08}"));
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let mut w = XmlWriter::fragment();
    w.open("EvaluationResults", None);
    for (_, r) in &results {
        w.open("member", None);
        w.elem("EvalActionName", &text(r, "EvalActionName").unwrap_or_default());
        w.opt("EvalResourceName", text(r, "EvalResourceName").as_deref());
        w.elem("EvalDecision", &text(r, "EvalDecision").unwrap_or_default());
        w.open("MatchedStatements", None);
        for m in r.get("MatchedStatements").and_then(Value::as_array).into_iter().flatten() {
            let id = text(m, "SourcePolicyId").unwrap_or_default();
            let ty = text(m, "SourcePolicyType").unwrap_or_default();
            let (id, ty) = relabel(&id).unwrap_or((id, ty));
            w.open("member", None).elem("SourcePolicyId", &id).elem("SourcePolicyType", &ty).close();
        }
        w.close();
        w.open("MissingContextValues", None);
        for k in r.get("MissingContextValues").and_then(Value::as_array).into_iter().flatten() {
            if let Some(k) = k.as_str() {
                w.elem("member", k);
            }
        }
        w.close();
        if let Some(b) = r.pointer("/OrganizationsDecisionDetail/AllowedByOrganizations").and_then(Value::as_bool) {
            w.open("OrganizationsDecisionDetail", None).elem("AllowedByOrganizations", &b.to_string()).close();
        }
        if let Some(b) =
            r.pointer("/PermissionsBoundaryDecisionDetail/AllowedByPermissionsBoundary").and_then(Value::as_bool)
        {
            w.open("PermissionsBoundaryDecisionDetail", None)
                .elem("AllowedByPermissionsBoundary", &b.to_string())
                .close();
        }
        if let Some(details) = r.get("EvalDecisionDetails").and_then(Value::as_object) {
            w.open("EvalDecisionDetails", None);
            for (k, v) in details {
                w.open("entry", None).elem("key", k).elem("value", v.as_str().unwrap_or_default()).close();
            }
            w.close();
        }
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    respond(call, Some(w.finish()))
}

/// `SimulateCustomPolicy`: evaluate the given policies, as the policy engine decides requests.
pub fn simulate_custom_policy(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    if !params.has_list("PolicyInputList") {
        return Err(tessera_wire::query::null_member("PolicyInputList"));
    }
    let docs = policy_inputs(params, "PolicyInputList")?;
    let boundaries = policy_inputs(params, "PermissionsBoundaryPolicyInputList")?;
    let mut input = simulation_input(params)?;
    Page::from_params(params)?;
    services.authorize(call, "iam:SimulateCustomPolicy", "*")?;
    input.insert("PolicyInputList".into(), json!(docs));
    if !boundaries.is_empty() {
        input.insert("PermissionsBoundaryPolicyInputList".into(), json!(boundaries));
    }
    simulate_and_respond(call, params, input, &|_| None)
}

/// `SimulatePrincipalPolicy`: evaluate the policies of a user (its groups' too), group or role,
/// plus any `PolicyInputList`, under its permissions boundary.
pub fn simulate_principal_policy(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let arn = arn_param(params, "PolicySourceArn")?;
    let extra = policy_inputs(params, "PolicyInputList")?;
    let boundaries = policy_inputs(params, "PermissionsBoundaryPolicyInputList")?;
    let mut input = simulation_input(params)?;
    Page::from_params(params)?;
    services.authorize(call, "iam:SimulatePrincipalPolicy", arn)?;
    let account = call.caller.account.as_str();
    let principal = read(services, |r| principal_policies(r, account, arn))?;
    if !principal.is_user && input.contains_key("ResourcePolicy") && !input.contains_key("CallerArn") {
        return Err(invalid_input(
            "Invalid input: CallerArn must be provided when PolicySourceArn is not a user and ResourcePolicy is given.",
        ));
    }
    if principal.is_user && !input.contains_key("CallerArn") {
        input.insert("CallerArn".into(), json!(arn));
    }
    let mut docs: Vec<&str> = principal.policies.iter().map(|p| p.document.as_str()).collect();
    let own = docs.len();
    docs.extend(extra);
    input.insert("PolicyInputList".into(), json!(docs));
    let boundaries: Vec<String> = if boundaries.is_empty() {
        principal.boundary.clone().into_iter().collect()
    } else {
        boundaries.into_iter().map(str::to_string).collect()
    };
    if !boundaries.is_empty() {
        input.insert("PermissionsBoundaryPolicyInputList".into(), json!(boundaries));
    }
    let relabel = |id: &str| -> Option<(String, String)> {
        let n: usize = id.strip_prefix("PolicyInputList.")?.parse().ok()?;
        if n >= 1 && n <= own {
            let p = &principal.policies[n - 1];
            Some((p.id.clone(), p.kind.to_string()))
        } else {
            Some((format!("PolicyInputList.{}", n - own), "IAM Policy".to_string()))
        }
    };
    simulate_and_respond(call, params, input, &relabel)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn run(services: &Services, call: &Call, p: &[(&str, &str)]) -> Result<String, AwsError> {
        let r = super::super::handle(services, call, &params(p)).expect("handled")?;
        Ok(body(&r))
    }

    const DOC: &str = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iam:*AccessKey*","Resource":"arn:aws:iam::*:user/${aws:username}"},
        {"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{
            "StringNotEquals":{"aws:RequestedRegion":["us-east-1"],"s3:prefix":"home/"},
            "Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#;

    #[test]
    fn keys_of_conditions_and_variables() {
        let mut keys = Vec::new();
        context_keys_of(DOC, &mut keys).unwrap();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(sorted, ["aws:MultiFactorAuthPresent", "aws:RequestedRegion", "aws:username", "s3:prefix"]);
        context_keys_of(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"AWS:USERNAME":"a*"}}}}"#, &mut keys).unwrap();
        assert_eq!(keys.len(), 4, "case-insensitive duplicates collapse");
        assert_eq!(context_keys_of("{", &mut keys).unwrap_err().code, "InvalidInput");
    }

    #[test]
    fn custom_and_principal() {
        let s = services_at(1);
        let got =
            run(&s, &root_call("GetContextKeysForCustomPolicy", 1), &[("PolicyInputList.member.1", DOC)]).unwrap();
        assert_eq!(got.matches("<member>").count(), 4);
        let mut user = put_user(&s, "alice");
        user.inline_policies.push(("p".into(), DOC.into()));
        {
            let mut txn = s.store.write().unwrap();
            model::save(txn.as_mut(), table::USER, &model::name_key(ACCOUNT, "alice"), &user).unwrap();
            txn.commit().unwrap();
        }
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/alice");
        let got = run(&s, &root_call("GetContextKeysForPrincipalPolicy", 1), &[("PolicySourceArn", &arn)]).unwrap();
        assert!(got.contains("<member>aws:username</member>") && got.contains("<member>s3:prefix</member>"));
        let e = run(
            &s,
            &root_call("GetContextKeysForPrincipalPolicy", 1),
            &[("PolicySourceArn", &format!("arn:aws:iam::{ACCOUNT}:role/none"))],
        )
        .unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("NoSuchEntity", "The role with name none cannot be found."));
        let e = run(
            &s,
            &root_call("GetContextKeysForPrincipalPolicy", 1),
            &[("PolicySourceArn", "arn:aws:s3:::bucket-name")],
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidInput");
    }

    #[test]
    fn simulate_custom_policy_decisions() {
        let s = services_at(1);
        let allow_s3 = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}"#;
        let got = run(
            &s,
            &root_call("SimulateCustomPolicy", 1),
            &[
                ("PolicyInputList.member.1", allow_s3),
                ("ActionNames.member.1", "s3:GetObject"),
                ("ActionNames.member.2", "s3:PutObject"),
                ("ActionNames.member.3", "s3:DeleteObject"),
            ],
        )
        .unwrap();
        let decisions: Vec<&str> = got.split("<EvalDecision>").skip(1).filter_map(|x| x.split('<').next()).collect();
        assert_eq!(decisions, ["allowed", "implicitDeny", "explicitDeny"], "{got}");
        assert!(got.contains("<SourcePolicyId>PolicyInputList.1</SourcePolicyId>"));
        assert!(got.contains("<EvalResourceName>*</EvalResourceName>"));
        let paged = run(
            &s,
            &root_call("SimulateCustomPolicy", 1),
            &[
                ("PolicyInputList.member.1", allow_s3),
                ("ActionNames.member.1", "s3:GetObject"),
                ("ActionNames.member.2", "s3:PutObject"),
                ("MaxItems", "1"),
            ],
        )
        .unwrap();
        assert_eq!(paged.matches("<EvalActionName>").count(), 1);
        assert_eq!(elem(&paged, "IsTruncated").as_deref(), Some("true"));
        let e = run(&s, &root_call("SimulateCustomPolicy", 1), &[("PolicyInputList.member.1", allow_s3)]).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        let e = run(
            &s,
            &root_call("SimulateCustomPolicy", 1),
            &[("PolicyInputList.member.1", "{nope"), ("ActionNames.member.1", "s3:GetObject")],
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn simulate_principal_policy_uses_the_users_policies_and_boundary() {
        let s = services_at(1);
        let mut user = put_user(&s, "bob");
        user.inline_policies.push((
            "s3-all".into(),
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.into(),
        ));
        user.permissions_boundary = Some(crate::managed::ADMINISTRATOR_ACCESS_ARN.into());
        {
            let mut txn = s.store.write().unwrap();
            model::save(txn.as_mut(), table::USER, &model::name_key(ACCOUNT, "bob"), &user).unwrap();
            txn.commit().unwrap();
        }
        let arn = format!("arn:aws:iam::{ACCOUNT}:user/bob");
        let got = run(
            &s,
            &root_call("SimulatePrincipalPolicy", 1),
            &[
                ("PolicySourceArn", &arn),
                ("ActionNames.member.1", "s3:ListBucket"),
                ("ActionNames.member.2", "ec2:RunInstances"),
            ],
        )
        .unwrap();
        assert!(
            got.contains("<SourcePolicyId>s3-all</SourcePolicyId><SourcePolicyType>user</SourcePolicyType>"),
            "{got}"
        );
        let decisions: Vec<&str> = got.split("<EvalDecision>").skip(1).filter_map(|x| x.split('<').next()).collect();
        assert_eq!(decisions, ["allowed", "implicitDeny"]);
        assert!(got.contains("<AllowedByPermissionsBoundary>true</AllowedByPermissionsBoundary>"));
        let e = run(
            &s,
            &root_call("SimulatePrincipalPolicy", 1),
            &[
                ("PolicySourceArn", &format!("arn:aws:iam::{ACCOUNT}:user/nobody")),
                ("ActionNames.member.1", "s3:ListBucket"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
    }
}
