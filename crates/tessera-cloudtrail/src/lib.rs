//! AWS CloudTrail (JSON 1.1, `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.*`):
//! event history (`LookupEvents`) and trails, over the [`tessera_audit::AuditStore`] of
//! [`Services::audit`].

mod insights;
mod record;
mod tags;
mod trails;

#[cfg(test)]
mod tests;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use serde_json::{json, Value};
use tessera_audit::store::{Cursor, LookupPage};
use tessera_audit::{AuditError, LookupAttribute, LookupQuery};
use tessera_wire::{AwsError, WireResponse};

pub use record::{
    audit_failure, build_events, event_source, is_read_only, lookup_username, ready, record_call, recorded_user_agent,
    seen_from_another_account, submit_call, user_identity,
};

// The paths these files had inside `tessera-services` (`crate::model`, `crate::Call`, ...).
pub(crate) use tessera_core::{authz, internal, model};
#[cfg(test)]
pub(crate) use tessera_core::{bootstrap, clock, ids, CallMeta, SessionInfo};
pub(crate) use tessera_core::{Call, Caller, CallerKind, Input, ServiceName, Services};

/// Days of event history LookupEvents searches when no StartTime is given.
const HISTORY_DAYS: i64 = 90;

/// A CloudTrail error (400 unless said otherwise).
pub(crate) fn err(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

/// A store failure: logged, answered with a generic 500.
pub(crate) fn store_failure(e: AuditError) -> AwsError {
    tracing::error!(error = %e, "audit store failure");
    AwsError::internal()
}

/// Run a CloudTrail operation.
pub fn handle(services: &Services, call: &Call, input: &Value) -> Result<WireResponse, AwsError> {
    let result = match call.operation.as_str() {
        "LookupEvents" => lookup_events(services, call, input),
        "CreateTrail" => trails::create_trail(services, call, input),
        "UpdateTrail" => trails::update_trail(services, call, input),
        "DeleteTrail" => trails::delete_trail(services, call, input),
        "GetTrail" => trails::get_trail(services, call, input),
        "DescribeTrails" => trails::describe_trails(services, call, input),
        "ListTrails" => trails::list_trails(services, call, input),
        "GetTrailStatus" => trails::get_trail_status(services, call, input),
        "StartLogging" => trails::start_logging(services, call, input),
        "StopLogging" => trails::stop_logging(services, call, input),
        "GetEventSelectors" => trails::get_event_selectors(services, call, input),
        "ListPublicKeys" => trails::list_public_keys(services, call, input),
        "PutInsightSelectors" => insights::put_insight_selectors(services, call, input),
        "GetInsightSelectors" => insights::get_insight_selectors(services, call, input),
        "AddTags" => tags::add_tags(services, call, input),
        "RemoveTags" => tags::remove_tags(services, call, input),
        "ListTags" => tags::list_tags(services, call, input),
        op => Err(AwsError::not_implemented("cloudtrail", op)),
    };
    result.map(|body| WireResponse::json(&body, &call.meta.request_id)).map_err(AwsError::named_for_json)
}

/// A JSON timestamp (epoch seconds, number or numeric string, or ISO 8601) in milliseconds.
pub(crate) fn timestamp_millis(v: &Value, member: &str) -> Result<Option<i64>, AwsError> {
    let bad = || err("SerializationException", format!("Invalid timestamp for member {member}"));
    match v.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(|f| Some((f * 1000.0).round() as i64)).ok_or_else(bad),
        Some(Value::String(s)) => {
            if let Ok(f) = s.parse::<f64>() {
                return Ok(Some((f * 1000.0).round() as i64));
            }
            tessera_audit::event::parse_iso8601(s).map(Some).ok_or_else(bad)
        }
        Some(_) => Err(bad()),
    }
}

/// Epoch seconds as JSON 1.1 timestamps are written.
pub(crate) fn epoch(millis: i64) -> Value {
    json!(millis as f64 / 1000.0)
}

fn attribute(input: &Value) -> Result<Option<(String, String, LookupAttribute)>, AwsError> {
    let list = match input.get("LookupAttributes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(err("SerializationException", "Invalid type for member LookupAttributes")),
    };
    let invalid = |m: &str| err("InvalidLookupAttributesException", m);
    match list.len() {
        0 => return Ok(None),
        1 => {}
        _ => return Err(invalid("You can only specify one lookup attribute.")),
    }
    let a = &list[0];
    let key = a.get("AttributeKey").and_then(Value::as_str).ok_or_else(|| invalid("AttributeKey is required."))?;
    let value =
        a.get("AttributeValue").and_then(Value::as_str).ok_or_else(|| invalid("AttributeValue is required."))?;
    if value.is_empty() || value.chars().count() > 2000 {
        return Err(invalid("AttributeValue must be between 1 and 2000 characters long."));
    }
    let v = value.to_string();
    let attr = match key {
        "EventId" => LookupAttribute::EventId(v),
        "EventName" => LookupAttribute::EventName(v),
        "ReadOnly" => match value.to_ascii_lowercase().as_str() {
            "true" => LookupAttribute::ReadOnly(true),
            "false" => LookupAttribute::ReadOnly(false),
            _ => return Err(invalid("The value of the ReadOnly lookup attribute must be true or false.")),
        },
        "Username" => LookupAttribute::Username(v),
        "ResourceType" => LookupAttribute::ResourceType(v),
        "ResourceName" => LookupAttribute::ResourceName(v),
        "EventSource" => LookupAttribute::EventSource(v),
        "AccessKeyId" => LookupAttribute::AccessKeyId(v),
        other => {
            return Err(invalid(&format!(
                "Lookup attribute key {other} is not valid. Valid keys: EventId, EventName, ReadOnly, Username, \
                 ResourceType, ResourceName, EventSource, AccessKeyId."
            )))
        }
    };
    Ok(Some((key.to_string(), value.to_string(), attr)))
}

/// The NextToken of a LookupEvents page: the position plus the filter it belongs to.
fn encode_token(cursor: Cursor, filter: &str) -> String {
    B64.encode(format!("{}:{}:{}", cursor.event_time_millis, cursor.seq, filter))
}

fn decode_token(token: &str, filter: &str) -> Option<Cursor> {
    let raw = String::from_utf8(B64.decode(token).ok()?).ok()?;
    let mut parts = raw.splitn(3, ':');
    let t = parts.next()?.parse::<i64>().ok()?;
    let s = parts.next()?.parse::<i64>().ok()?;
    (parts.next()? == filter).then_some(Cursor { event_time_millis: t, seq: s })
}

/// `LookupEvents`: the caller's account's events, newest first.
fn lookup_events(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    services.authorize(call, "cloudtrail:LookupEvents", "*")?;
    let attr = attribute(input)?;
    if let Some(cat) = input.get("EventCategory").filter(|v| !v.is_null()) {
        if cat.as_str() != Some("insight") {
            return Err(err("InvalidEventCategoryException", "Event category is not valid. Valid value: insight."));
        }
        // Tessera produces no Insights events.
        return Ok(json!({"Events": []}));
    }
    let now = call.meta.now_millis;
    let start = timestamp_millis(input, "StartTime")?;
    let end = timestamp_millis(input, "EndTime")?;
    let end_millis = end.unwrap_or(now);
    let start_millis = start.unwrap_or(end_millis - HISTORY_DAYS * 86_400_000);
    if start_millis > end_millis {
        return Err(err("InvalidTimeRangeException", "Start time must be earlier than end time."));
    }
    let max_results = match input.get("MaxResults") {
        None | Some(Value::Null) => 50,
        Some(v) => match v.as_i64() {
            Some(n @ 1..=50) => n as usize,
            Some(n) => {
                return Err(err(
                    "InvalidMaxResultsException",
                    format!("Value {n} for MaxResults is invalid. It must be between 1 and 50."),
                ))
            }
            None => return Err(err("SerializationException", "Invalid type for member MaxResults")),
        },
    };
    let filter = format!(
        "{}={}|{}|{}",
        attr.as_ref().map_or("", |a| a.0.as_str()),
        attr.as_ref().map_or("", |a| a.1.as_str()),
        start.map_or(String::new(), |s| s.to_string()),
        end.map_or(String::new(), |s| s.to_string())
    );
    let after = match tessera_wire::json::optional_str(input, "NextToken")? {
        None => None,
        Some(t) => Some(decode_token(t, &filter).ok_or_else(|| err("InvalidNextTokenException", "Invalid NextToken"))?),
    };
    let query = LookupQuery {
        account: call.caller.account.clone(),
        attribute: attr.map(|a| a.2),
        start_millis,
        end_millis,
        max_results,
        after,
    };
    let LookupPage { events, next } = services.audit.lookup(&query).map_err(store_failure)?;
    let events: Vec<Value> = events
        .into_iter()
        .map(|e| {
            let mut o = json!({
                "EventId": e.event_id,
                "EventName": e.event_name,
                "ReadOnly": e.read_only.to_string(),
                "EventTime": epoch(e.event_time_millis),
                "EventSource": e.event_source,
                "Resources": e.resources.iter().map(|r| json!({"ResourceType": r.resource_type, "ResourceName": r.resource_name})).collect::<Vec<_>>(),
                "CloudTrailEvent": e.cloudtrail_event,
            });
            if let Some(k) = e.access_key_id {
                o["AccessKeyId"] = json!(k);
            }
            if let Some(u) = e.username {
                o["Username"] = json!(u);
            }
            o
        })
        .collect();
    let mut out = json!({ "Events": events });
    if let Some(c) = next {
        out["NextToken"] = json!(encode_token(c, &filter));
    }
    Ok(out)
}
