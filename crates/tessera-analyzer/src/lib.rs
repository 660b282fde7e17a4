//! IAM Access Analyzer (`access-analyzer`, REST-JSON) over Tessera's store: external access,
//! internal access and unused access analyzers, their tags and archive rules; external-access
//! findings for IAM role trust policies and S3 buckets (bucket policy, ACL, Block Public Access),
//! each decided by asking the policy engine whether a caller outside the zone of trust would be
//! allowed; internal-access findings (who inside the zone can reach a bucket, through
//! `tessera_graph::Reach`); access previews, recommendations, policy checks and generation. See
//! `docs/ACCESS_ANALYZER.md`.
//!
//! The server decodes a request with [`decode`] (method and path against the model's routes,
//! URI labels and query members merged into the JSON body) and runs it with [`handle`]; every
//! operation authorizes `access-analyzer:<Operation>` through [`Services::authorize_request`]
//! before it reads or writes. [`start_background`] keeps findings current as the store changes.

mod analysis;
mod analyzers;
mod checks;
mod findings;
mod generation;
mod internal;
mod previews;
mod recommendations;
mod records;

use serde_json::{Map, Value};
use tessera_services::authz::AuthzRequest;
use tessera_services::{Call, Input, ServiceName, Services};
use tessera_wire::operations::ACCESSANALYZER_ROUTES;
use tessera_wire::{AwsError, WireResponse};

pub use findings::start_background;

/// The service principal of IAM Access Analyzer (trusted access, delegated administrators).
pub const SERVICE_PRINCIPAL: &str = "access-analyzer.amazonaws.com";

/// Query-string members that are lists in the model (`UntagResource`'s `tagKeys`).
const LIST_QUERY_MEMBERS: &[&str] = &["tagKeys"];
/// Query-string members that are integers in the model.
const INTEGER_QUERY_MEMBERS: &[&str] = &["maxResults"];

/// The operation a request names and its input: the JSON body with the URI labels of the
/// matched route (`{analyzerName}`, `{id}`, `{resourceArn}`, ...) and the query-string members
/// added.
pub fn decode(method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Result<(String, Value), AwsError> {
    let (op, labels) = route(method, path).ok_or_else(|| tessera_wire::rest_json::unknown_route(method, path))?;
    let mut input = tessera_wire::json::parse_body(body)?;
    if !input.is_object() {
        input = Value::Object(Map::new());
    }
    let Value::Object(members) = &mut input else { return Err(AwsError::internal()) };
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (Some(name), Some(value)) =
                (percent_decode(&name.replace('+', " ")), percent_decode(&value.replace('+', " ")))
            else {
                return Err(AwsError::new(400, "SerializationException", "The query string is not valid"));
            };
            let (name, value) = (name.as_str(), value.as_str());
            if LIST_QUERY_MEMBERS.contains(&name) {
                let entry = members.entry(name.to_string()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entry {
                    a.push(Value::String(value.to_string()));
                }
            } else if INTEGER_QUERY_MEMBERS.contains(&name) {
                let v = value.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(value.to_string()));
                members.insert(name.to_string(), v);
            } else {
                members.insert(name.to_string(), Value::String(value.to_string()));
            }
        }
    }
    for (name, value) in labels {
        members.insert(name, Value::String(value));
    }
    Ok((op.to_string(), input))
}

/// An operation and the URI labels of its route.
type Routed = (&'static str, Vec<(String, String)>);

/// The operation of the model's routes that `method` and `path` name, with its URI labels
/// (percent-decoded). A route whose segments are all literal wins over one with labels.
fn route(method: &str, path: &str) -> Option<Routed> {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let segments: Vec<&str> = path.split('/').collect();
    let mut best: Option<(usize, Routed)> = None;
    for (m, uri, op) in ACCESSANALYZER_ROUTES {
        if !m.eq_ignore_ascii_case(method) {
            continue;
        }
        let template: Vec<&str> = uri.split('/').collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut labels = Vec::new();
        let mut literals = 0;
        let mut matched = true;
        for (t, s) in template.iter().zip(&segments) {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                let Some(value) = percent_decode(s).filter(|v| !v.is_empty()) else {
                    matched = false;
                    break;
                };
                labels.push((name.to_string(), value));
            } else if t == s {
                literals += 1;
            } else {
                matched = false;
                break;
            }
        }
        if matched && best.as_ref().is_none_or(|(n, _)| literals > *n) {
            best = Some((literals, (op, labels)));
        }
    }
    best.map(|(_, routed)| routed)
}

/// `%XX`-decoded UTF-8, or `None` for a malformed escape.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Run an Access Analyzer operation.
pub fn handle(services: &Services, call: &Call, input: &Input) -> Result<WireResponse, AwsError> {
    let op = call.operation.as_str();
    if !ServiceName::AccessAnalyzer.operations().contains(&op) {
        return Err(tessera_wire::rest_json::unknown_route("POST", op));
    }
    tessera_services::sts::check_session_scope(&call.caller, ServiceName::AccessAnalyzer, op)?;
    let input = input.json()?;
    let s = services;
    let out = match op {
        "CreateAnalyzer" => analyzers::create_analyzer(s, call, input),
        "GetAnalyzer" => analyzers::get_analyzer(s, call, input),
        "ListAnalyzers" => analyzers::list_analyzers(s, call, input),
        "DeleteAnalyzer" => analyzers::delete_analyzer(s, call, input),
        "UpdateAnalyzer" => analyzers::update_analyzer(s, call, input),
        "CreateAccessPreview" => previews::create(s, call, input),
        "GetAccessPreview" => previews::get(s, call, input),
        "ListAccessPreviews" => previews::list(s, call, input),
        "ListAccessPreviewFindings" => previews::list_findings(s, call, input),
        "GenerateFindingRecommendation" => recommendations::generate(s, call, input),
        "GetFindingRecommendation" => recommendations::get(s, call, input),
        "TagResource" => analyzers::tag_resource(s, call, input),
        "UntagResource" => analyzers::untag_resource(s, call, input),
        "ListTagsForResource" => analyzers::list_tags_for_resource(s, call, input),
        "CreateArchiveRule" => analyzers::create_archive_rule(s, call, input),
        "GetArchiveRule" => analyzers::get_archive_rule(s, call, input),
        "ListArchiveRules" => analyzers::list_archive_rules(s, call, input),
        "UpdateArchiveRule" => analyzers::update_archive_rule(s, call, input),
        "DeleteArchiveRule" => analyzers::delete_archive_rule(s, call, input),
        "ApplyArchiveRule" => findings::apply_archive_rule(s, call, input),
        "ListFindings" => findings::list_findings(s, call, input, false),
        "ListFindingsV2" => findings::list_findings(s, call, input, true),
        "GetFinding" => findings::get_finding(s, call, input),
        "GetFindingV2" => findings::get_finding_v2(s, call, input),
        "UpdateFindings" => findings::update_findings(s, call, input),
        "GetFindingsStatistics" => findings::get_findings_statistics(s, call, input),
        "StartResourceScan" => findings::start_resource_scan(s, call, input),
        "ListAnalyzedResources" => findings::list_analyzed_resources(s, call, input),
        "GetAnalyzedResource" => findings::get_analyzed_resource(s, call, input),
        "StartPolicyGeneration" => generation::start(s, call, input),
        "GetGeneratedPolicy" => generation::get(s, call, input),
        "ListPolicyGenerations" => generation::list(s, call, input),
        "CancelPolicyGeneration" => generation::cancel(s, call, input),
        "ValidatePolicy" => checks::validate(s, call, input),
        "CheckNoPublicAccess" => checks::check_no_public_access(s, call, input),
        "CheckAccessNotGranted" => checks::check_access_not_granted(s, call, input),
        "CheckNoNewAccess" => checks::check_no_new_access(s, call, input),
        _ => Err(AwsError::not_implemented("access-analyzer", op)),
    }?;
    Ok(WireResponse::rest_json(&out, &call.meta.request_id))
}

/// `maxResults` (default 100) and the offset a `nextToken` carries.
pub(crate) fn page(input: &Value) -> Result<(usize, usize), AwsError> {
    let max = match input.get("maxResults") {
        None | Some(Value::Null) => 100,
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => usize::try_from(n.min(1000)).unwrap_or(1000),
            _ => {
                return Err(tessera_services::account::input::invalid_field(
                    "maxResults",
                    "Member must be a positive integer",
                ))
            }
        },
    };
    let start = match input.get("nextToken").and_then(Value::as_str) {
        None => 0,
        Some(t) => t.parse::<usize>().map_err(|_| {
            tessera_services::account::input::invalid_field("nextToken", "The pagination token is not valid")
        })?,
    };
    Ok((max, start))
}

/// `{member: <the page of items from start>, nextToken}` (the token is the next offset).
pub(crate) fn paged(member: &str, items: Vec<Value>, max: usize, start: usize) -> Value {
    let total = items.len();
    let mut v = serde_json::json!({ member: items.into_iter().skip(start).take(max).collect::<Vec<_>>() });
    let next = start.saturating_add(max);
    if next < total {
        v["nextToken"] = Value::String(next.to_string());
    }
    v
}

/// Authorize `access-analyzer:<operation>` on `resource` (AWS's `AccessDeniedException`).
pub(crate) fn authorize(services: &Services, call: &Call, resource: &str) -> Result<(), AwsError> {
    let action = format!("access-analyzer:{}", call.operation);
    services.authorize_request(call, &AuthzRequest { action: &action, resource, ..Default::default() }).map_err(|e| {
        if e.code == "AccessDenied" {
            AwsError { code: "AccessDeniedException".into(), ..e }
        } else {
            e
        }
    })
}

/// `ResourceNotFoundException` (404).
pub(crate) fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message)
}

/// `ConflictException` (409).
pub(crate) fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ConflictException", message)
}

/// `ValidationException` (400) with `reason` `other` (a request that is well formed member by
/// member but not as a whole).
pub(crate) fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ValidationException", message).with_reason("other")
}

/// A store failure as `InternalServerException`-free `InternalFailure` (details logged).
pub(crate) fn internal(e: tessera_store::StoreError) -> AwsError {
    tessera_services::internal(e)
}

/// A failure of the engine's questions (`tessera_graph`) as `InternalFailure` (details logged).
pub(crate) fn graph_error(e: tessera_graph::GraphError) -> AwsError {
    tracing::error!(error = %e, "access analyzer: internal access analysis failed");
    AwsError::internal()
}

/// Run `f` in one write transaction: committed when it returns `Ok`, rolled back otherwise.
pub(crate) fn transact<R>(
    services: &Services,
    f: impl FnOnce(&mut dyn tessera_store::WriteTxn) -> Result<R, AwsError>,
) -> Result<R, AwsError> {
    let mut txn = services.store.write().map_err(internal)?;
    let out = f(txn.as_mut())?;
    txn.commit().map_err(internal)?;
    Ok(out)
}

/// A random UUID (version 4 form): finding ids, policy generation job ids.
pub(crate) fn uuid() -> String {
    let h = tessera_services::ids::lower_hex(32);
    format!("{}-{}-4{}-a{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// ISO 8601 with milliseconds (the model's `Timestamp` format).
pub(crate) fn timestamp(millis: i64) -> Value {
    Value::String(tessera_services::clock::iso8601_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_labels() {
        assert_eq!(route("GET", "/analyzer/a1").map(|r| r.0), Some("GetAnalyzer"));
        assert_eq!(route("POST", "/analyzer/findings/statistics").map(|r| r.0), Some("GetFindingsStatistics"));
        assert_eq!(route("GET", "/analyzer").map(|r| r.0), Some("ListAnalyzers"));
        assert_eq!(route("PUT", "/analyzer").map(|r| r.0), Some("CreateAnalyzer"));
        let (op, labels) = route("GET", "/tags/arn%3Aaws%3Aaccess-analyzer%3Aus-east-1%3A1%3Aanalyzer%2Fa").unwrap();
        assert_eq!(op, "ListTagsForResource");
        assert_eq!(labels, vec![("resourceArn".to_string(), "arn:aws:access-analyzer:us-east-1:1:analyzer/a".into())]);
        assert_eq!(route("GET", "/nothing"), None);
        assert_eq!(route("GET", "/analyzer/%zz"), None);
    }

    #[test]
    fn decode_merges_labels_and_query() {
        let (op, v) = decode("DELETE", "/tags/x", Some("tagKeys=a&tagKeys=b"), b"").unwrap();
        assert_eq!(op, "UntagResource");
        assert_eq!(v["tagKeys"], serde_json::json!(["a", "b"]));
        assert_eq!(v["resourceArn"], "x");
        let (_, v) = decode("GET", "/analyzer", Some("maxResults=5&type=ACCOUNT"), b"").unwrap();
        assert_eq!((v["maxResults"].as_i64(), v["type"].as_str()), (Some(5), Some("ACCOUNT")));
    }
}
