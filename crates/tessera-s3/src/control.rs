//! S3 Control's account-level calls (`/v20180820/...`, REST-XML, signed for `s3`): the
//! account's Block Public Access settings, and the (empty) lists of access points.
//!
//! AWS SDKs send S3 Control requests to `https://<account-id>.<endpoint host>` with the account
//! id also in the `x-amz-account-id` header. Tessera takes the account from that header, or
//! else from a 12-digit first label of the `Host`; a client whose SDK cannot resolve
//! `<account-id>.127.0.0.1` turns host prefixes off (`AWS_DISABLE_HOST_PREFIX_INJECTION=true`
//! for botocore, the AWS CLI and boto3). See `docs/S3.md`, "S3 Control".

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, StatusCode};
use s3s::{S3Error, S3ErrorCode};
use tessera_services::authz::AuthzRequest;
use tessera_services::{ids, Call, CallMeta};

use crate::{audit, error_response, s3_error, AuthType, RequestCtx, S3Endpoint};

/// Where S3 Control's operations live.
pub const PATH_PREFIX: &str = "/v20180820/";

/// S3 Control's XML namespace.
const XMLNS: &str = "http://awss3control.amazonaws.com/doc/2018-08-20/";

/// Largest request body accepted (the largest account-level document here is a few hundred
/// bytes).
const MAX_BODY: usize = 64 * 1024;

/// Whether a request is for S3 Control: signed for `s3` (the caller checked) under
/// `/v20180820/`.
pub fn is_control_path(path: &str) -> bool {
    path.starts_with(PATH_PREFIX)
}

/// One S3 Control operation Tessera knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    ListAccessPoints,
    ListMultiRegionAccessPoints,
}

impl Operation {
    fn route(method: &Method, path: &str) -> Option<Operation> {
        let rest = path.strip_prefix(PATH_PREFIX)?.trim_end_matches('/');
        Some(match (method.as_str(), rest) {
            ("GET", "configuration/publicAccessBlock") => Operation::GetPublicAccessBlock,
            ("PUT", "configuration/publicAccessBlock") => Operation::PutPublicAccessBlock,
            ("DELETE", "configuration/publicAccessBlock") => Operation::DeletePublicAccessBlock,
            ("GET", "accesspoint") => Operation::ListAccessPoints,
            ("GET", "mrap/instances") => Operation::ListMultiRegionAccessPoints,
            _ => return None,
        })
    }

    /// The CloudTrail `eventName` and IAM action (Service Authorization Reference, S3 table).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Operation::GetPublicAccessBlock => ("GetAccountPublicAccessBlock", "s3:GetAccountPublicAccessBlock"),
            Operation::PutPublicAccessBlock => ("PutAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"),
            Operation::DeletePublicAccessBlock => ("DeleteAccountPublicAccessBlock", "s3:PutAccountPublicAccessBlock"),
            Operation::ListAccessPoints => ("ListAccessPoints", "s3:ListAccessPoints"),
            Operation::ListMultiRegionAccessPoints => ("ListMultiRegionAccessPoints", "s3:ListMultiRegionAccessPoints"),
        }
    }
}

/// The account a request names: `x-amz-account-id`, else a 12-digit first label of `Host`.
pub fn account_id(headers: &http::HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("x-amz-account-id").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    let host = headers.get(http::header::HOST).and_then(|v| v.to_str().ok())?;
    let label = host.split('.').next()?;
    (host.contains('.') && label.len() == 12 && label.bytes().all(|b| b.is_ascii_digit())).then(|| label.to_string())
}

/// The CloudTrail event name of the S3 Control operation that `method` and `path` name, if
/// Tessera serves it: the routing step of [`S3Endpoint::handle_control`] on its own (pure; the
/// fuzz target `s3_routing` drives it).
pub fn operation_name(method: &Method, path: &str) -> Option<&'static str> {
    Operation::route(method, path).map(|op| op.names().0)
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn xml_response(status: StatusCode, body: String) -> http::Response<s3s::Body> {
    let mut r = http::Response::new(s3s::Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    r
}

fn empty_response(status: StatusCode) -> http::Response<s3s::Body> {
    let mut r = http::Response::new(s3s::Body::empty());
    *r.status_mut() = status;
    r
}

/// A failure of Tessera's own (store, task): `InternalError`, logged, never detailed to the caller.
fn internal(e: impl std::fmt::Display) -> S3Error {
    tracing::error!(error = %e, "s3 control request failed");
    S3Error::new(S3ErrorCode::InternalError)
}

fn malformed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// Parse a `PublicAccessBlockConfiguration` document; absent settings are `false`, as S3
/// Control stores them. `MalformedXML` for anything else (never a panic: fuzzed).
pub fn parse_configuration(body: &[u8]) -> Result<crate::public_access::PublicAccessBlock, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed())?;
    let start = text.find("<PublicAccessBlockConfiguration").ok_or_else(malformed)?;
    let inner_start = text[start..].find('>').ok_or_else(malformed)? + start + 1;
    let end = text.rfind("</PublicAccessBlockConfiguration>").ok_or_else(malformed)?;
    if end < inner_start {
        return Err(malformed());
    }
    let mut rest = text[inner_start..end].trim();
    let mut config = crate::public_access::PublicAccessBlock::default();
    while !rest.is_empty() {
        let open_end = rest.find('>').ok_or_else(malformed)?;
        if !rest.starts_with('<') {
            return Err(malformed());
        }
        let name = &rest[1..open_end];
        let close = format!("</{name}>");
        let value_end = rest.find(&close).ok_or_else(malformed)?;
        let value = rest[open_end + 1..value_end].trim();
        let flag = match value {
            "true" => true,
            "false" => false,
            _ => return Err(malformed()),
        };
        match name {
            "BlockPublicAcls" => config.block_public_acls = flag,
            "IgnorePublicAcls" => config.ignore_public_acls = flag,
            "BlockPublicPolicy" => config.block_public_policy = flag,
            "RestrictPublicBuckets" => config.restrict_public_buckets = flag,
            _ => return Err(malformed()),
        }
        rest = rest[value_end + close.len()..].trim_start();
    }
    Ok(config)
}

/// The `PublicAccessBlockConfiguration` document of `c`, as `GetPublicAccessBlock` answers;
/// [`parse_configuration`] reads it back to `c`.
pub fn configuration_xml(c: &crate::public_access::PublicAccessBlock) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PublicAccessBlockConfiguration xmlns=\"{XMLNS}\">\
         <BlockPublicAcls>{}</BlockPublicAcls><IgnorePublicAcls>{}</IgnorePublicAcls>\
         <BlockPublicPolicy>{}</BlockPublicPolicy><RestrictPublicBuckets>{}</RestrictPublicBuckets>\
         </PublicAccessBlockConfiguration>",
        c.block_public_acls, c.ignore_public_acls, c.block_public_policy, c.restrict_public_buckets
    )
}

impl S3Endpoint {
    /// Serve one S3 Control request (see the module documentation).
    pub async fn handle_control<B>(&self, req: http::Request<B>, peer: SocketAddr) -> http::Response<s3s::Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let request_id = ids::request_id();
        let (parts, body) = req.into_parts();
        if body.size_hint().lower() > MAX_BODY as u64 {
            return error_response(S3Error::new(S3ErrorCode::EntityTooLarge), &request_id);
        }
        let mut body = s3s::Body::http_body_unsync(body);
        let body = match body.store_all_limited(MAX_BODY).await {
            Ok(b) => b,
            Err(_) => return error_response(S3Error::new(S3ErrorCode::EntityTooLarge), &request_id),
        };
        let ctx = match self.authenticate_control(&parts, &body, peer, &request_id) {
            Ok(ctx) => ctx,
            Err(e) => return error_response(e, &request_id),
        };
        let Some(op) = Operation::route(&parts.method, parts.uri.path()) else {
            let e = S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "Tessera does not implement this S3 Control operation",
            );
            return error_response(e, &request_id);
        };
        let (event_name, _) = op.names();
        let (result, routed) = audit::with_slot(async {
            if self.audited {
                if let Err(e) = tessera_services::cloudtrail::ready(&self.services) {
                    return Err(s3_error(&e));
                }
                audit::note(&self.services, event_name, None);
            }
            self.control_operation(op, &ctx, &parts.headers, &body).await
        })
        .await;
        let mut resp = match result {
            Ok(r) => r,
            Err(e) => error_response(e, &request_id),
        };
        crate::finish(&mut resp, &request_id);
        let facts = crate::AuditFacts::of(&parts.headers, &parts.uri);
        self.audit(resp, &ctx, routed, &facts).await
    }

    /// Verify the signature (over the whole body) and resolve the caller.
    fn authenticate_control(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        peer: SocketAddr,
        request_id: &str,
    ) -> Result<RequestCtx, S3Error> {
        let request = tessera_sigv4::RequestParts::from_http(parts, tessera_sigv4::Payload::Bytes(body));
        let sig_error = |e: tessera_sigv4::SigV4Error| {
            let code = S3ErrorCode::from_bytes(e.code.as_str().as_bytes()).unwrap_or(S3ErrorCode::InvalidRequest);
            let mut err = S3Error::with_message(code, e.message.clone());
            if let Ok(s) = StatusCode::from_u16(e.code.http_status()) {
                err.set_status_code(s);
            }
            err
        };
        let parsed = tessera_sigv4::parse(&request).map_err(sig_error)?;
        let (caller, secret) = self.resolve(&parsed.access_key_id, parsed.security_token.as_deref())?;
        let now_millis = self.services.clock.now_millis();
        let now = UNIX_EPOCH + Duration::from_millis(u64::try_from(now_millis).unwrap_or(0));
        tessera_sigv4::verify(&request, &parsed, &secret, now, &tessera_sigv4::VerifyOptions::for_service("s3"))
            .map_err(sig_error)?;
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok(RequestCtx {
            caller: Some(caller),
            meta: CallMeta {
                request_id: request_id.to_string(),
                region: parsed.scope.region.clone(),
                source_ip: peer.ip().to_string(),
                user_agent: header("user-agent").unwrap_or_default(),
                secure_transport: parts.extensions.get::<crate::TlsConnection>().is_some(),
                now_millis,
            },
            auth_type: if parsed.presigned.is_some() { AuthType::Query } else { AuthType::Header },
            content_sha256: header("x-amz-content-sha256"),
            signature_age_millis: Some(now_millis - parsed.request_time.epoch_secs * 1000),
            signature_version: "AWS4-HMAC-SHA256",
        })
    }

    async fn control_operation(
        &self,
        op: Operation,
        ctx: &RequestCtx,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<http::Response<s3s::Body>, S3Error> {
        let caller = ctx.caller.as_ref().ok_or_else(|| S3Error::new(S3ErrorCode::AccessDenied))?;
        let account = account_id(headers).ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "Missing required header for this request: x-amz-account-id",
            )
        })?;
        if !is_account_id(&account) {
            return Err(S3Error::with_message(S3ErrorCode::InvalidRequest, "Account id is not valid"));
        }
        let (event_name, action) = op.names();
        let call = Call { caller: caller.clone(), operation: event_name.to_string(), meta: ctx.meta.clone() };
        let authz = AuthzRequest {
            action,
            resource: "*",
            resource_account: None,
            resource_policy: None,
            is_trust_policy: false,
            context: vec![("s3:authType".into(), vec![ctx.auth_type.as_str().into()])],
        };
        self.services.authorize_request(&call, &authz).map_err(|e| s3_error(&e))?;
        // An account's settings are its own: a caller of another account is denied, as S3 does.
        if caller.account != account {
            return Err(S3Error::with_message(S3ErrorCode::AccessDenied, "Access Denied"));
        }
        match op {
            Operation::GetPublicAccessBlock => {
                let r = self.services.store.read().map_err(internal)?;
                match crate::public_access::account_public_access_block(r.as_ref(), &account).map_err(internal)? {
                    Some(c) => Ok(xml_response(StatusCode::OK, configuration_xml(&c))),
                    None => Err(S3Error::with_message(
                        S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
                        "The public access block configuration was not found",
                    ))
                    .map_err(|mut e| {
                        e.set_status_code(StatusCode::NOT_FOUND);
                        e
                    }),
                }
            }
            Operation::PutPublicAccessBlock => {
                let config = parse_configuration(body)?;
                let services = self.services.clone();
                tokio::task::spawn_blocking(move || {
                    let mut w = services.store.write()?;
                    crate::public_access::put_account_public_access_block(w.as_mut(), &account, &config)?;
                    w.commit()
                })
                .await
                .map_err(internal)?
                .map_err(internal)?;
                Ok(empty_response(StatusCode::OK))
            }
            Operation::DeletePublicAccessBlock => {
                let services = self.services.clone();
                tokio::task::spawn_blocking(move || {
                    let mut w = services.store.write()?;
                    crate::public_access::delete_account_public_access_block(w.as_mut(), &account)?;
                    w.commit()
                })
                .await
                .map_err(internal)?
                .map_err(internal)?;
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            // Tessera serves no access points (CreateAccessPoint is not implemented): the lists
            // are truly empty.
            Operation::ListAccessPoints => Ok(xml_response(
                StatusCode::OK,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAccessPointsResult xmlns=\"{XMLNS}\">\
                     <AccessPointList></AccessPointList></ListAccessPointsResult>"
                ),
            )),
            Operation::ListMultiRegionAccessPoints => Ok(xml_response(
                StatusCode::OK,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListMultiRegionAccessPointsResult xmlns=\"{XMLNS}\">\
                     <AccessPoints></AccessPoints></ListMultiRegionAccessPointsResult>"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_method_and_path() {
        let p = "/v20180820/configuration/publicAccessBlock";
        assert_eq!(Operation::route(&Method::GET, p), Some(Operation::GetPublicAccessBlock));
        assert_eq!(Operation::route(&Method::PUT, p), Some(Operation::PutPublicAccessBlock));
        assert_eq!(Operation::route(&Method::DELETE, p), Some(Operation::DeletePublicAccessBlock));
        assert_eq!(Operation::route(&Method::POST, p), None);
        assert_eq!(Operation::route(&Method::GET, "/v20180820/accesspoint"), Some(Operation::ListAccessPoints));
        assert_eq!(Operation::route(&Method::GET, "/v20180820/jobs"), None);
    }

    #[test]
    fn account_from_header_or_host_prefix() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::HOST, http::HeaderValue::from_static("123456789012.localhost:8750"));
        assert_eq!(account_id(&h).as_deref(), Some("123456789012"));
        h.insert("x-amz-account-id", http::HeaderValue::from_static("210987654321"));
        assert_eq!(account_id(&h).as_deref(), Some("210987654321"));
        let mut h = http::HeaderMap::new();
        h.insert(http::header::HOST, http::HeaderValue::from_static("127.0.0.1:8750"));
        assert_eq!(account_id(&h), None);
    }

    #[test]
    fn configuration_documents() {
        let doc = format!(
            "<PublicAccessBlockConfiguration xmlns=\"{XMLNS}\"><BlockPublicAcls>true</BlockPublicAcls>\
             <RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
        );
        let c = parse_configuration(doc.as_bytes()).expect("parses");
        assert!(c.block_public_acls && c.restrict_public_buckets);
        assert!(!c.ignore_public_acls && !c.block_public_policy);
        assert!(configuration_xml(&c).contains("<BlockPublicPolicy>false</BlockPublicPolicy>"));
        for bad in [
            "<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>",
            "<PublicAccessBlockConfiguration><Other>true</Other></PublicAccessBlockConfiguration>",
            "<PublicAccessBlockConfiguration><BlockPublicAcls>true</PublicAccessBlockConfiguration>",
            "not xml",
        ] {
            assert!(parse_configuration(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
