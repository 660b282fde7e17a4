//! Tessera's Amazon S3: path-style buckets and objects, through the `s3s` crate.
//!
//! The flow of one request ([`S3Endpoint::handle`]):
//! 1. Tessera resolves the credentials the request names (access key id and, for temporary
//!    credentials, `x-amz-security-token`) through [`Services::credentials`], exactly as for
//!    every other service; unknown keys and bad tokens get S3's error codes.
//! 2. `s3s` verifies the SigV4 signature (header, presigned query, `UNSIGNED-PAYLOAD` and
//!    `aws-chunked` streaming bodies chunk by chunk) with the secret resolved in step 1, which
//!    it receives through [`S3Auth`] from a task-local: no second lookup, no second source of
//!    truth.
//! 3. Each operation of [`ops`] authorizes through [`Services::authorize_request`] with the
//!    action and resource of S3's authorization table, the bucket owner as resource account and
//!    the bucket policy as resource policy, before it touches state.
//!
//! See `docs/S3.md`.

mod acl;
mod acl_authz;
pub mod acl_grants;
mod anonymous;
mod audit;
pub mod blobs;
mod bucket_access;
mod config;
pub mod control;
mod list;
pub mod ops;
pub mod public_access;
pub mod records;
pub mod trail;
mod validate;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use s3s::auth::{S3Auth, SecretKey};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s::{S3Error, S3ErrorCode, S3Result};
use tessera_services::{ids, CallMeta, Caller, Services};
use tessera_wire::AwsError;

pub use ops::Backend;
pub use trail::TrailBuckets;

tokio::task_local! {
    static SIGNER: Signer;
}

/// The credentials Tessera resolved for the request being verified.
#[derive(Clone)]
struct Signer {
    access_key_id: String,
    secret: String,
}

/// Hands `s3s` the secret Tessera already resolved for this request.
struct TaskAuth;

#[async_trait::async_trait]
impl S3Auth for TaskAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        SIGNER
            .try_with(|s| (s.access_key_id == access_key).then(|| SecretKey::from(s.secret.clone())))
            .ok()
            .flatten()
            .ok_or_else(invalid_access_key)
    }
}

/// Every request reaches the operations, which authorize themselves (anonymous included).
/// The access check runs once `s3s` has routed the request: it notes the operation and bucket
/// for the audit trail, and refuses a bucket-level call that could not be audited before it
/// changes anything.
struct OpAccess {
    services: Arc<Services>,
    audited: bool,
}

#[async_trait::async_trait]
impl s3s::access::S3Access for OpAccess {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> S3Result<()> {
        let operation = cx.s3_op().name();
        if !self.audited || audit::is_data_event(operation) {
            return Ok(());
        }
        tessera_services::cloudtrail::ready(&self.services).map_err(|e| s3_error(&e))?;
        let bucket = match cx.s3_path() {
            s3s::path::S3Path::Root => None,
            s3s::path::S3Path::Bucket { bucket } | s3s::path::S3Path::Object { bucket, .. } => Some(&**bucket),
        };
        audit::note(&self.services, operation, bucket);
        Ok(())
    }
}

/// How a request authenticated (`s3:authType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthType {
    /// `Authorization` header.
    Header,
    /// Presigned URL.
    Query,
    /// No credentials.
    Anonymous,
}

impl AuthType {
    /// The value of `s3:authType`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::Header => "REST-HEADER",
            AuthType::Query => "REST-QUERY-STRING",
            AuthType::Anonymous => "REST-ANONYMOUS",
        }
    }
}

/// Marks a request that arrived over TLS: the listener sets it (never a header), and
/// `aws:SecureTransport` is true exactly when it is present.
#[derive(Debug, Clone, Copy)]
pub struct TlsConnection;

/// What Tessera knows of a request beside its S3 input, passed to the operations in the
/// request extensions.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// The authenticated caller (`None`: anonymous).
    pub caller: Option<Caller>,
    /// Request facts.
    pub meta: CallMeta,
    /// `s3:authType`.
    pub auth_type: AuthType,
    /// `x-amz-content-sha256` as sent.
    pub content_sha256: Option<String>,
    /// Milliseconds between signing and receipt (`s3:signatureAge`).
    pub signature_age_millis: Option<i64>,
    /// `s3:signatureversion`: `AWS4-HMAC-SHA256`, or `AWS` for Signature Version 2.
    pub signature_version: &'static str,
}

/// S3 on one endpoint: resolves credentials, lets `s3s` verify and decode, runs [`ops`].
pub struct S3Endpoint {
    services: Arc<Services>,
    service: S3Service,
    audited: bool,
}

impl std::fmt::Debug for S3Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Endpoint").finish_non_exhaustive()
    }
}

fn invalid_access_key() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidAccessKeyId,
        "The AWS Access Key Id you provided does not exist in our records.",
    )
}

/// An [`AwsError`] in S3's shape (code, status and message kept).
pub fn s3_error(e: &AwsError) -> S3Error {
    let code = S3ErrorCode::from_bytes(e.code.as_bytes()).unwrap_or(S3ErrorCode::InternalError);
    let mut err = S3Error::with_message(code, e.message.clone());
    if let Ok(status) = http::StatusCode::from_u16(e.status) {
        err.set_status_code(status);
    }
    err
}

/// Whether a request to the endpoint is an S3 request: signed for `s3`, or unsigned and not an
/// STS call (`Action=` in the query, or a form body) nor a Tessera path.
pub fn is_s3_request(parts: &http::request::Parts) -> bool {
    let query = parts.uri.query().unwrap_or("");
    // The SigV4 crate's reading of the credential scope (a reading of this crate's own took a
    // non-ASCII `Authorization` signed for another service as S3's: found by fuzzing).
    if let Some(service) = tessera_sigv4::credential_scope_service(&parts.headers, query) {
        return service == "s3";
    }
    let v2 = parts.headers.get(http::header::AUTHORIZATION).is_some_and(|a| a.as_bytes().starts_with(b"AWS "))
        || query.split('&').any(|p| p.starts_with("AWSAccessKeyId="));
    if v2 {
        // Signature Version 2 exists only in S3.
        return true;
    }
    let path = parts.uri.path();
    // Smithy RPC v2 CBOR (`POST /service/<Service>/operation/<Op>`, unsigned here) is no S3 call.
    if path == "/" || path.starts_with("/_tessera/") || parts.headers.contains_key("smithy-protocol") {
        return false;
    }
    let has_action = query.split('&').any(|p| p.starts_with("Action="));
    let is_form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    !has_action && !is_form
}

impl S3Endpoint {
    /// S3 over `services`, with object bytes under `root` (`DIR/s3`).
    pub fn open(services: Arc<Services>, root: &Path) -> std::io::Result<S3Endpoint> {
        S3Endpoint::open_audited(services, root, true)
    }

    /// As [`S3Endpoint::open`]; with `audited` false (benchmarks only, `--unaudited-benchmark-only`)
    /// bucket-level calls are not recorded.
    pub fn open_audited(services: Arc<Services>, root: &Path, audited: bool) -> std::io::Result<S3Endpoint> {
        let backend = Backend::open(services.clone(), root)?;
        let mut builder = S3ServiceBuilder::new(backend);
        builder.set_auth(TaskAuth);
        builder.set_access(OpAccess { services: services.clone(), audited });
        Ok(S3Endpoint { services, service: builder.build(), audited })
    }

    /// Serve one S3 request.
    pub async fn handle<B>(&self, req: http::Request<B>, peer: SocketAddr) -> http::Response<s3s::Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let request_id = ids::request_id();
        let (mut parts, body) = req.into_parts();
        let has_body = has_body(&parts.headers);
        let mut resp = match self.authenticate(&parts, peer, &request_id) {
            Err(e) => error_response(e, &request_id),
            Ok((ctx, signer)) => {
                let facts = AuditFacts::of(&parts.headers, &parts.uri);
                parts.extensions.insert(ctx.clone());
                let req = http::Request::from_parts(parts, s3s::Body::http_body_unsync(body));
                let (result, routed) = audit::with_slot(async {
                    match signer {
                        Some(s) => SIGNER.scope(s, self.service.call(req)).await,
                        None => self.service.call(req).await,
                    }
                })
                .await;
                match result {
                    Ok(mut r) => {
                        finish(&mut r, &request_id);
                        self.audit(r, &ctx, routed, &facts).await
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "s3 request failed");
                        error_response(S3Error::new(S3ErrorCode::InternalError), &request_id)
                    }
                }
            }
        };
        // An error answered before the request's body was read (a denied PutObject): the client
        // may or may not send that body (with `Expect: 100-continue` it does not, since no 100
        // came; without, it already has), so the connection cannot carry another request: the
        // next one would either find it closed or lose its first bytes to the unread body (a
        // `SignatureDoesNotMatch` on a request the client signed correctly). Close it, and say so.
        if has_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
            resp.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        }
        resp
    }

    /// Serve one S3 request made in-process on behalf of `caller` (the web console), whose
    /// identity Tessera established itself: no signature is verified, and the operations
    /// authorize `caller` exactly as for a signed request (`s3:authType` `REST-HEADER`).
    /// `path_and_query` is path-style (`/bucket?list-type=2`). The request must carry no
    /// credentials of its own.
    pub async fn handle_as(
        &self,
        method: http::Method,
        path_and_query: &str,
        body: Bytes,
        caller: Caller,
        meta: CallMeta,
    ) -> http::Response<s3s::Body> {
        let request_id = meta.request_id.clone();
        let mut req = match http::Request::builder().method(method).uri(path_and_query).body(s3s::Body::from(body)) {
            Ok(r) => r,
            Err(_) => return error_response(S3Error::new(S3ErrorCode::InvalidRequest), &request_id),
        };
        req.headers_mut().insert(http::header::HOST, http::HeaderValue::from_static("localhost"));
        let ctx = RequestCtx {
            caller: Some(caller),
            meta,
            auth_type: AuthType::Header,
            content_sha256: None,
            signature_age_millis: Some(0),
            signature_version: "AWS4-HMAC-SHA256",
        };
        req.extensions_mut().insert(ctx.clone());
        let facts = AuditFacts::of(req.headers(), req.uri());
        let (result, routed) = audit::with_slot(self.service.call(req)).await;
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = ?e, "s3 request failed");
                return error_response(S3Error::new(S3ErrorCode::InternalError), &request_id);
            }
        };
        finish(&mut resp, &request_id);
        self.audit(resp, &ctx, routed, &facts).await
    }

    /// Record a bucket-level call's event(s) and hold the response until they are durable; if
    /// they cannot be made durable the caller gets `503 ServiceUnavailable` instead, as for
    /// every other service.
    async fn audit(
        &self,
        resp: http::Response<s3s::Body>,
        ctx: &RequestCtx,
        routed: Option<audit::Routed>,
        facts: &AuditFacts,
    ) -> http::Response<s3s::Body> {
        let Some(routed) = routed else {
            return resp;
        };
        let body = resp.body().bytes();
        let events = audit::events(
            &self.services,
            ctx,
            &routed,
            &audit::RequestFacts { host: &facts.host, query: &facts.query, bytes_in: facts.bytes_in },
            &audit::Outcome { status: resp.status().as_u16(), body: body.as_deref() },
        );
        if events.is_empty() {
            return resp;
        }
        let receipt = match self.services.audit.submit(events) {
            Ok(r) => r,
            Err(e) => return audit_failed(&tessera_services::cloudtrail::audit_failure(&e), &ctx.meta.request_id),
        };
        match receipt.durable().await {
            Ok(()) => resp,
            Err(e) => audit_failed(&tessera_services::cloudtrail::audit_failure(&e), &ctx.meta.request_id),
        }
    }

    /// The caller and secret behind an access key id (and session token), with S3's error codes.
    fn resolve(&self, access_key_id: &str, token: Option<&str>) -> Result<(Caller, String), S3Error> {
        self.services.credentials(access_key_id, token).map_err(|e| match e.code.as_str() {
            "ExpiredToken" => S3Error::with_message(S3ErrorCode::ExpiredToken, "The provided token has expired."),
            "InvalidClientTokenId" if access_key_id.starts_with("ASIA") => S3Error::with_message(
                S3ErrorCode::InvalidToken,
                "The provided token is malformed or otherwise invalid.",
            ),
            "InvalidClientTokenId" => invalid_access_key(),
            _ => s3_error(&e),
        })
    }

    fn authenticate(
        &self,
        parts: &http::request::Parts,
        peer: SocketAddr,
        request_id: &str,
    ) -> Result<(RequestCtx, Option<Signer>), S3Error> {
        let query = parts.uri.query().unwrap_or("");
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let now_millis = self.services.clock.now_millis();
        let mut meta = CallMeta {
            request_id: request_id.to_string(),
            region: "us-east-1".to_string(),
            source_ip: peer.ip().to_string(),
            user_agent: header("user-agent").unwrap_or_default(),
            secure_transport: parts.extensions.get::<TlsConnection>().is_some(),
            now_millis,
        };
        let v2_header = header("authorization").filter(|a| a.starts_with("AWS "));
        let v2_query = query_param(query, "AWSAccessKeyId");
        if v2_header.is_some() || v2_query.is_some() {
            // Signature Version 2 (what `aws s3 presign` still produces in us-east-1).
            let (access_key_id, auth_type) = match (&v2_header, v2_query) {
                (Some(h), _) => {
                    let rest = h.trim_start_matches("AWS ").trim();
                    (rest.split(':').next().unwrap_or_default().to_string(), AuthType::Header)
                }
                (None, Some(q)) => (q, AuthType::Query),
                (None, None) => (String::new(), AuthType::Anonymous),
            };
            let token = header("x-amz-security-token").or_else(|| query_param(query, "x-amz-security-token"));
            let (caller, secret) = self.resolve(&access_key_id, token.as_deref())?;
            let ctx = RequestCtx {
                caller: Some(caller),
                meta,
                auth_type,
                content_sha256: None,
                signature_age_millis: None,
                signature_version: "AWS",
            };
            return Ok((ctx, Some(Signer { access_key_id, secret })));
        }
        let signed =
            parts.headers.contains_key(http::header::AUTHORIZATION) || tessera_sigv4::has_presigned_params(query);
        if !signed {
            let ctx = RequestCtx {
                caller: None,
                meta,
                auth_type: AuthType::Anonymous,
                content_sha256: header("x-amz-content-sha256"),
                signature_age_millis: None,
                signature_version: "",
            };
            return Ok((ctx, None));
        }
        let request = tessera_sigv4::RequestParts::from_http(parts, tessera_sigv4::Payload::Unsigned);
        let parsed = tessera_sigv4::parse(&request).map_err(|e| {
            let code = S3ErrorCode::from_bytes(e.code.as_str().as_bytes()).unwrap_or(S3ErrorCode::InvalidRequest);
            let mut err = S3Error::with_message(code, e.message.clone());
            if let Ok(s) = http::StatusCode::from_u16(e.code.http_status()) {
                err.set_status_code(s);
            }
            err
        })?;
        meta.region = parsed.scope.region.clone();
        let (caller, secret) = self.resolve(&parsed.access_key_id, parsed.security_token.as_deref())?;
        let ctx = RequestCtx {
            caller: Some(caller),
            meta,
            auth_type: if parsed.presigned.is_some() { AuthType::Query } else { AuthType::Header },
            content_sha256: header("x-amz-content-sha256"),
            signature_age_millis: Some(now_millis - parsed.request_time.epoch_secs * 1000),
            signature_version: "AWS4-HMAC-SHA256",
        };
        Ok((ctx, Some(Signer { access_key_id: parsed.access_key_id, secret })))
    }
}

/// What the audit event records of the request itself.
struct AuditFacts {
    host: String,
    query: String,
    bytes_in: u64,
}

impl AuditFacts {
    fn of(headers: &http::HeaderMap, uri: &http::Uri) -> AuditFacts {
        AuditFacts {
            host: headers.get(http::header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
            query: uri.query().unwrap_or_default().to_string(),
            bytes_in: headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        }
    }
}

/// The response of a call whose event could not be recorded.
fn audit_failed(e: &AwsError, request_id: &str) -> http::Response<s3s::Body> {
    let mut err = S3Error::with_message(S3ErrorCode::ServiceUnavailable, e.message.clone());
    err.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
    error_response(err, request_id)
}

/// Whether a request carries a body (`Content-Length` above zero, or `Transfer-Encoding`).
fn has_body(headers: &http::HeaderMap) -> bool {
    headers.contains_key(http::header::TRANSFER_ENCODING)
        || headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
}

fn query_param(query: &str, name: &str) -> Option<String> {
    let raw = query.split('&').find_map(|p| p.strip_prefix(name).and_then(|r| r.strip_prefix('=')))?;
    percent_encoding::percent_decode_str(&raw.replace('+', " ")).decode_utf8().ok().map(|s| s.into_owned())
}

/// S3's default messages for the codes `s3s` raises without one.
fn default_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        "AccessDenied" => "Access Denied",
        "NoSuchBucket" => "The specified bucket does not exist",
        "NoSuchKey" => "The specified key does not exist.",
        "MethodNotAllowed" => "The specified method is not allowed against this resource.",
        "InvalidBucketName" => "The specified bucket is not valid.",
        "RequestTimeTooSkewed" => "The difference between the request time and the current time is too large.",
        "MissingContentLength" => "You must provide the Content-Length HTTP header.",
        "InvalidRange" => "The requested range is not satisfiable",
        "MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        "XAmzContentSHA256Mismatch" => "The provided 'x-amz-content-sha256' header does not match what was computed.",
        "IncompleteBody" => "You did not provide the number of bytes specified by the Content-Length HTTP header",
        "NotImplemented" => "A header you provided implies functionality that is not implemented",
        "InternalError" => "We encountered an internal error. Please try again.",
        _ => return None,
    })
}

fn error_response(mut e: S3Error, request_id: &str) -> http::Response<s3s::Body> {
    if e.message().is_none() {
        if let Some(m) = default_message(e.code().as_str()) {
            e.set_message(m);
        }
    }
    e.set_request_id(request_id);
    let mut resp = match e.to_http_response() {
        Ok(r) => r,
        Err(_) => {
            let mut r = http::Response::new(s3s::Body::empty());
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    };
    finish(&mut resp, request_id);
    resp
}

/// Request id headers on every response; messages and request ids in error documents that
/// `s3s` left without them.
fn finish(resp: &mut http::Response<s3s::Body>, request_id: &str) {
    if let Ok(v) = http::HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amz-request-id", v.clone());
        resp.headers_mut().insert("x-amz-id-2", v);
    }
    if !resp.status().is_client_error() && !resp.status().is_server_error() {
        return;
    }
    let Some(body) = resp.body().bytes() else { return };
    let Ok(text) = std::str::from_utf8(&body) else { return };
    if !text.contains("<Error>") {
        return;
    }
    let mut text = text.to_string();
    if !text.contains("<Message>") {
        let code =
            text.split("<Code>").nth(1).and_then(|s| s.split("</Code>").next()).map(str::to_string).unwrap_or_default();
        if let Some(m) = default_message(&code) {
            let at = text.find("</Code>").map(|i| i + "</Code>".len()).unwrap_or(text.len());
            text.insert_str(at, &format!("<Message>{m}</Message>"));
        }
    }
    if !text.contains("<RequestId>") {
        if let Some(at) = text.rfind("</Error>") {
            text.insert_str(at, &format!("<RequestId>{request_id}</RequestId>"));
        }
    }
    let len = text.len();
    *resp.body_mut() = s3s::Body::from(text);
    if let Ok(v) = http::HeaderValue::from_str(&len.to_string()) {
        resp.headers_mut().insert(http::header::CONTENT_LENGTH, v);
    }
}

#[cfg(test)]
mod routing_tests {
    use super::is_s3_request;

    fn parts(authorization: &[u8], uri: &str) -> http::request::Parts {
        let mut req = http::Request::builder().uri(uri).body(()).unwrap();
        if !authorization.is_empty() {
            let v = http::HeaderValue::from_bytes(authorization).unwrap();
            req.headers_mut().insert(http::header::AUTHORIZATION, v);
        }
        req.into_parts().0
    }

    #[test]
    fn the_credential_scope_decides() {
        let signed = |service: &str, extra: &str| {
            format!("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00{extra}")
        };
        assert!(is_s3_request(&parts(signed("s3", "").as_bytes(), "/bucket/key")));
        assert!(!is_s3_request(&parts(signed("kms", "").as_bytes(), "/bucket/key")));
        // A non-ASCII byte elsewhere in the header does not change the reading (fuzzing found
        // such a request signed for another service taken as S3's).
        assert!(!is_s3_request(&parts(signed("kms", "\u{fe}").as_bytes(), "/bucket/key")));
        assert!(is_s3_request(&parts(signed("s3", "\u{fe}").as_bytes(), "/")));
        let presigned = "/b/k?X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Signature=0";
        assert!(!is_s3_request(&parts(b"", presigned)));
        assert!(is_s3_request(&parts(b"", &presigned.replace("%2Fsts%2F", "%2Fs3%2F"))));
    }

    #[test]
    fn an_unsigned_smithy_rpc_v2_request_is_not_anonymous_s3() {
        let path = "/service/ACMPrivateCA/operation/ListCertificateAuthorities";
        assert!(is_s3_request(&parts(b"", path)), "without the header, a bucket and key");
        let mut p = parts(b"", path);
        p.headers.insert("smithy-protocol", http::HeaderValue::from_static("rpc-v2-cbor"));
        assert!(!is_s3_request(&p));
    }
}
