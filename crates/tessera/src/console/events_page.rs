//! CloudTrail event history (`/console/cloudtrail`, docs/CONSOLE.md): the `LookupEvents`
//! filters (one lookup attribute, a time range), the list of events, and each event's record
//! (`/console/cloudtrail/events/<id>`), as the caller: the engine decides
//! `cloudtrail:LookupEvents`, and the records are the audit trail's, secrets already redacted.

use std::fmt::Write;

use serde_json::{json, Value};
use tessera_services::ServiceName;

use super::html::{enc, esc, table};
use super::{Console, Cx, Resp};

const TITLE: &str = "Event history";

/// The lookup attributes of `LookupEvents`, with the labels AWS's console gives them.
const ATTRIBUTES: &[(&str, &str)] = &[
    ("EventName", "Event name"),
    ("Username", "User name"),
    ("ResourceType", "Resource type"),
    ("ResourceName", "Resource name"),
    ("EventSource", "Event source"),
    ("AccessKeyId", "AWS access key"),
    ("ReadOnly", "Read-only"),
    ("EventId", "Event ID"),
];

/// Seconds since the epoch of an HTML `datetime-local` value (taken as UTC), if it is one.
fn parse_local(s: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let with_seconds = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(s, &fmt)
        .or_else(|_| time::PrimitiveDateTime::parse(s, &with_seconds))
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// `2026-12-06 20:17:48 UTC` from epoch seconds.
fn shown_time(secs: f64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(secs as i64).ok().and_then(|t| t.format(&fmt).ok()).unwrap_or_default()
}

impl Console {
    /// `GET /console/cloudtrail`: the filter form and one page of events.
    pub(super) fn events_page(&self, cx: &Cx) -> Resp {
        let (key, value) = (cx.req.q("attribute"), cx.req.q("value"));
        let (start, end, token) = (cx.req.q("start"), cx.req.q("end"), cx.req.q("token"));
        let mut body = json!({"MaxResults": 50});
        if !value.is_empty() {
            let key = if ATTRIBUTES.iter().any(|(k, _)| *k == key) { key.as_str() } else { "EventName" };
            body["LookupAttributes"] = json!([{"AttributeKey": key, "AttributeValue": value}]);
        }
        for (field, text) in [("StartTime", &start), ("EndTime", &end)] {
            if let Some(secs) = parse_local(text) {
                body[field] = json!(secs);
            }
        }
        if !token.is_empty() {
            body["NextToken"] = Value::String(token.clone());
        }
        let form = filter_form(&key, &value, &start, &end);
        let answer = match self.call_json(cx, ServiceName::CloudTrail, "LookupEvents", body) {
            Ok(a) => a,
            Err(e) => return self.denied(cx, TITLE, &form, &e),
        };
        let rows: Vec<Vec<String>> = answer["Events"].as_array().into_iter().flatten().map(event_row).collect();
        let mut out = format!(
            r#"<h1>{TITLE}</h1><p>The account's management events of the last 90 days (<code>LookupEvents</code>), newest first.</p>{form}{}"#,
            table(
                "events",
                &["Event time", "Event name", "User name", "Event source", "Resources", "Error"],
                &rows,
                "No events match."
            )
        );
        if let Some(next) = answer["NextToken"].as_str() {
            let _ = write!(
                out,
                r#"<p><a id="events-next" href="/console/cloudtrail?attribute={}&amp;value={}&amp;start={}&amp;end={}&amp;token={}">Older events</a></p>"#,
                enc(&key),
                enc(&value),
                enc(&start),
                enc(&end),
                enc(next)
            );
        }
        self.frame(cx, TITLE, &out)
    }

    /// `GET /console/cloudtrail/events/<id>`: one event's record.
    pub(super) fn event_page(&self, cx: &Cx, id: &str) -> Resp {
        let body = json!({"LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": id}], "MaxResults": 1});
        let answer = match self.call_json(cx, ServiceName::CloudTrail, "LookupEvents", body) {
            Ok(a) => a,
            Err(e) => return self.denied(cx, "Event", "", &e),
        };
        let Some(event) = answer["Events"].as_array().and_then(|e| e.first()) else {
            return self
                .frame(cx, "Event", "<h1>Event not found</h1><p>No event of this account has that ID.</p>")
                .status(http::StatusCode::NOT_FOUND);
        };
        let record = event["CloudTrailEvent"].as_str().unwrap_or("{}");
        let pretty = serde_json::from_str::<Value>(record)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| record.to_string());
        let name = event["EventName"].as_str().unwrap_or_default();
        let out = format!(
            r#"<p><a href="/console/cloudtrail">Event history</a></p><h1>{}</h1><dl class="facts"><dt>Event time</dt><dd>{}</dd><dt>User name</dt><dd>{}</dd><dt>Event source</dt><dd>{}</dd><dt>Access key</dt><dd>{}</dd><dt>Event ID</dt><dd>{}</dd></dl><h2>Event record</h2><pre id="event-record" tabindex="0">{}</pre>"#,
            esc(name),
            esc(&shown_time(event["EventTime"].as_f64().unwrap_or_default())),
            esc(event["Username"].as_str().unwrap_or_default()),
            esc(event["EventSource"].as_str().unwrap_or_default()),
            esc(event["AccessKeyId"].as_str().unwrap_or_default()),
            esc(event["EventId"].as_str().unwrap_or_default()),
            esc(&pretty)
        );
        self.frame(cx, name, &out)
    }
}

fn filter_form(key: &str, value: &str, start: &str, end: &str) -> String {
    let mut options = String::new();
    for (k, label) in ATTRIBUTES {
        let selected = if *k == key { " selected" } else { "" };
        let _ = write!(options, r#"<option value="{k}"{selected}>{}</option>"#, esc(label));
    }
    format!(
        r#"<form method="get" action="/console/cloudtrail" class="filters"><label for="ev-attr">Lookup attribute</label> <select id="ev-attr" name="attribute">{options}</select> <label for="ev-value">Value</label> <input id="ev-value" name="value" value="{}"> <label for="ev-start">From (UTC)</label> <input id="ev-start" type="datetime-local" name="start" value="{}"> <label for="ev-end">To (UTC)</label> <input id="ev-end" type="datetime-local" name="end" value="{}"> <button type="submit">Look up</button></form>"#,
        esc(value),
        esc(start),
        esc(end)
    )
}

fn event_row(e: &Value) -> Vec<String> {
    let id = e["EventId"].as_str().unwrap_or_default();
    let record: Value = e["CloudTrailEvent"].as_str().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let error = record["errorCode"].as_str().unwrap_or_default();
    let resources: Vec<String> = e["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {}",
                r["ResourceType"].as_str().unwrap_or_default(),
                r["ResourceName"].as_str().unwrap_or_default()
            )
        })
        .collect();
    vec![
        format!(
            r#"<a href="/console/cloudtrail/events/{}">{}</a>"#,
            enc(id),
            esc(&shown_time(e["EventTime"].as_f64().unwrap_or_default()))
        ),
        esc(e["EventName"].as_str().unwrap_or_default()),
        esc(e["Username"].as_str().unwrap_or_default()),
        esc(e["EventSource"].as_str().unwrap_or_default()),
        esc(&resources.join(", ")),
        error_cell(e, &record, error),
    ]
}

/// The error code; for a denial, a link to the policy simulator with the principal (a session's
/// role) and the action of the call.
fn error_cell(e: &Value, record: &Value, error: &str) -> String {
    if error.is_empty() {
        return String::new();
    }
    let mut out = format!(r#"<span class="error-code">{}</span>"#, esc(error));
    let identity = &record["userIdentity"];
    let principal = match identity["type"].as_str() {
        Some("AssumedRole") => identity["sessionContext"]["sessionIssuer"]["arn"].as_str(),
        Some("IAMUser") => identity["arn"].as_str(),
        _ => None,
    };
    let service = e["EventSource"].as_str().and_then(|s| s.split('.').next()).unwrap_or_default();
    let name = e["EventName"].as_str().unwrap_or_default();
    if let (true, Some(principal)) =
        (error.starts_with("AccessDenied") || error.ends_with("UnauthorizedOperation"), principal)
    {
        let resources: Vec<&str> = e["Resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["ResourceName"].as_str())
            .filter(|n| n.starts_with("arn:"))
            .collect();
        let _ = write!(
            out,
            r#" <a class="simulate" href="/console/simulator?principal={}&amp;actions={}&amp;resources={}&amp;run=1">Simulate</a>"#,
            enc(principal),
            enc(&format!("{service}:{name}")),
            enc(&resources.join("\n"))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_are_utc_seconds() {
        assert_eq!(parse_local("2026-12-06T20:17"), Some(1_796_588_220));
        assert_eq!(parse_local("2026-12-06T20:17:48"), Some(1_796_588_268));
        assert_eq!(parse_local("yesterday"), None);
        assert_eq!(parse_local(""), None);
        assert_eq!(shown_time(1_796_588_268.0), "2026-12-06 20:17:48 UTC");
    }
}
