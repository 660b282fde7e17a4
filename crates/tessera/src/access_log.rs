//! The access log: one line per request at `info`, target `tessera::access`, written by a
//! middleware in front of every route from the request's [`AccessRecord`] (which the server,
//! the resource routes and the authorizer fill in) and the response. It never holds a secret:
//! no header but the user agent, no query string, no body; the access key id but never its
//! secret, a session token or a signature.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use tessera_policy::{EvalDecision, PolicyType};
use tessera_services::access_record::AccessRecord;

/// Largest error body read for its error code (AWS's error documents are a few hundred bytes).
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// Longest user agent logged (longer ones are cut).
const MAX_USER_AGENT: usize = 256;

/// One request's access-log line.
#[derive(Debug)]
pub struct Line<'a> {
    pub request_id: &'a str,
    pub service: &'a str,
    pub operation: &'a str,
    pub principal: &'a str,
    pub account: &'a str,
    pub access_key_id: &'a str,
    pub source_ip: &'a str,
    pub user_agent: &'a str,
    pub status: u16,
    pub error_code: Option<&'a str>,
    pub decision: Option<&'static str>,
    pub policy_type: Option<&'static str>,
    pub latency_us: u128,
}

/// The request's record: made by [`log_request`], found by the handlers in the request's
/// extensions (to make it current on a blocking thread).
pub fn record_of(parts: &http::request::Parts) -> Option<Arc<AccessRecord>> {
    parts.extensions.get::<Arc<AccessRecord>>().cloned()
}

/// Middleware in front of every route: serve the request with its record current, then write
/// its line and count it.
pub async fn log_request(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let record = AccessRecord::new();
    let source_ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "-".to_string());
    let user_agent: String = req
        .headers()
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).chars().take(MAX_USER_AGENT).collect())
        .unwrap_or_default();
    let path = req.uri().path().to_string();
    let signed_by = signing_key_id(req.headers(), req.uri().query().unwrap_or(""));
    req.extensions_mut().insert(Arc::clone(&record));
    let response = Current { record: Arc::clone(&record), inner: Box::pin(next.run(req)) }.await;
    let (response, error_code) = error_code(response).await;
    let f = record.fields();
    let (default_service, default_operation) = route_of(&path);
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    let request_id = f
        .request_id
        .as_deref()
        .or_else(|| header("x-amzn-requestid"))
        .or_else(|| header("x-amz-request-id"))
        .unwrap_or("-")
        .to_string();
    let line = Line {
        request_id: &request_id,
        service: f.service.as_deref().unwrap_or(default_service),
        operation: f.operation.as_deref().unwrap_or(default_operation),
        // A signed request whose caller was not resolved (a bad signature, an unknown key, an S3
        // error before authorization) is not anonymous: its principal is unknown.
        principal: f.principal.as_deref().filter(|p| !p.is_empty()).unwrap_or(if signed_by.is_some() {
            "-"
        } else {
            "anonymous"
        }),
        account: f.account.as_deref().filter(|a| !a.is_empty()).unwrap_or("-"),
        access_key_id: f.access_key_id.as_deref().filter(|a| !a.is_empty()).or(signed_by.as_deref()).unwrap_or("-"),
        source_ip: &source_ip,
        user_agent: &user_agent,
        status: response.status().as_u16(),
        error_code: error_code.as_deref(),
        decision: f.decision.map(decision_name),
        policy_type: match f.decision {
            Some(EvalDecision::ExplicitDeny | EvalDecision::ImplicitDeny) => {
                Some(policy_type_name(f.decided_by.unwrap_or(PolicyType::Identity)))
            }
            _ => None,
        },
        latency_us: started.elapsed().as_micros(),
    };
    write(&line);
    crate::metrics::record(&line);
    response
}

/// Write the line (the subscriber chooses text or JSON).
fn write(l: &Line<'_>) {
    tracing::info!(
        target: "tessera::access",
        request_id = l.request_id,
        service = l.service,
        operation = l.operation,
        principal = l.principal,
        account = l.account,
        access_key_id = l.access_key_id,
        source_ip = l.source_ip,
        user_agent = l.user_agent,
        status = l.status,
        error_code = l.error_code.unwrap_or("-"),
        decision = l.decision.unwrap_or("none"),
        policy_type = l.policy_type.unwrap_or("-"),
        latency_us = u64::try_from(l.latency_us).unwrap_or(u64::MAX),
        "request"
    );
}

/// The access key id a request is signed with (SigV4 header or query, or S3's SigV2), without
/// checking anything: the id only, never the signature.
fn signing_key_id(headers: &http::HeaderMap, query: &str) -> Option<String> {
    let id = if let Some(auth) = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(v2) = auth.strip_prefix("AWS ") {
            v2.split(':').next()?.to_string()
        } else {
            let start = auth.find("Credential=")? + "Credential=".len();
            auth[start..].split('/').next()?.to_string()
        }
    } else {
        let raw = query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Credential=").or_else(|| p.strip_prefix("AWSAccessKeyId=")))?;
        raw.split(['/', '%']).next()?.to_string()
    };
    let plain = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric());
    plain.then_some(id)
}

/// Service and operation of the routes that are not AWS APIs.
fn route_of(path: &str) -> (&'static str, &str) {
    if let Some(rest) = path.strip_prefix("/_tessera/") {
        ("tessera", rest.split('/').next().unwrap_or(""))
    } else if path == "/console" || path.starts_with("/console/") {
        ("console", path)
    } else if path.starts_with("/imds/") {
        ("imds", "GetMetadata")
    } else {
        ("-", "-")
    }
}

/// `allow`, `explicit-deny` or `implicit-deny`.
fn decision_name(d: EvalDecision) -> &'static str {
    match d {
        EvalDecision::Allowed => "allow",
        EvalDecision::ExplicitDeny => "explicit-deny",
        EvalDecision::ImplicitDeny => "implicit-deny",
    }
}

/// The deciding policy type's name in the log.
fn policy_type_name(t: PolicyType) -> &'static str {
    match t {
        PolicyType::Identity => "identity",
        PolicyType::Resource => "resource",
        PolicyType::Trust => "trust",
        PolicyType::PermissionsBoundary => "boundary",
        PolicyType::Session => "session",
        PolicyType::Scp => "scp",
        PolicyType::Rcp => "rcp",
    }
}

/// The AWS error code of an error response: `x-amzn-ErrorType`, else the body's `<Code>`
/// (Query, EC2, S3) or `__type` (JSON). The body is read only when it is small and whole.
async fn error_code(response: Response) -> (Response, Option<String>) {
    if response.status().as_u16() < 400 {
        return (response, None);
    }
    if let Some(t) = response.headers().get("x-amzn-errortype").and_then(|v| v.to_str().ok()) {
        let code = t.split(':').next().unwrap_or(t).to_string();
        return (response, Some(code));
    }
    let small = response.body().size_hint().upper().is_some_and(|n| n <= MAX_ERROR_BODY);
    if !small {
        return (response, None);
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ERROR_BODY as usize).await else {
        return (Response::from_parts(parts, Body::empty()), None);
    };
    let code = code_in(&bytes);
    (Response::from_parts(parts, Body::from(bytes)), code)
}

/// The error code in an XML (`<Code>X</Code>`) or JSON (`"__type":"ns#X"`) error document.
fn code_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let code = if let Some(start) = text.find("<Code>") {
        let rest = &text[start + "<Code>".len()..];
        rest[..rest.find("</Code>")?].to_string()
    } else {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let t = v.get("__type")?.as_str()?;
        t.rsplit('#').next().unwrap_or(t).split(':').next().unwrap_or(t).to_string()
    };
    let plain = !code.is_empty() && code.len() <= 128 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    plain.then_some(code)
}

/// Polls the inner future with the record current on the polling thread (the authorizer of an
/// operation that runs on the async thread writes into it).
struct Current<F> {
    record: Arc<AccessRecord>,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for Current<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _current = this.record.enter();
        this.inner.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_are_read_from_xml_and_json_documents() {
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>m</Message></Error></ErrorResponse>";
        assert_eq!(code_in(xml).as_deref(), Some("AccessDenied"));
        assert_eq!(
            code_in(br#"{"__type":"com.amazonaws#ResourceNotFoundException","Message":"m"}"#).as_deref(),
            Some("ResourceNotFoundException")
        );
        assert_eq!(code_in(b"<Code>a b</Code>"), None);
        assert_eq!(code_in(b"not an error"), None);
    }

    #[test]
    fn the_signing_key_id_is_read_without_the_signature() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=abc",
            ),
        );
        assert_eq!(signing_key_id(&h, "").as_deref(), Some("AKIAEXAMPLE"));
        let q = "X-Amz-Credential=ASIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc";
        assert_eq!(signing_key_id(&http::HeaderMap::new(), q).as_deref(), Some("ASIAEXAMPLE"));
        assert_eq!(signing_key_id(&http::HeaderMap::new(), ""), None);
    }

    #[test]
    fn routes_outside_the_apis_are_named() {
        assert_eq!(route_of("/_tessera/health"), ("tessera", "health"));
        assert_eq!(route_of("/imds/i-1/latest/meta-data"), ("imds", "GetMetadata"));
        assert_eq!(route_of("/console/login").0, "console");
    }
}
