//! Pure AWS Signature Version 4 verification.
//!
//! No I/O, no async, no clock: the current time is a parameter. The flow is
//! [`parse`] (which credentials does the request carry?) → the caller looks up
//! the secret for [`ParsedAuth::access_key_id`] → [`verify`].
//!
//! See `docs/SIGV4.md` for the choices made where AWS documents nothing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod encoding;
mod error;
mod key;
mod parse;
mod time;

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, Method};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use error::{ErrorCode, SigV4Error, SIGNATURE_MISMATCH_HINT};
pub use key::{derive_signing_key, SigningKey, SigningKeyCache};
pub use parse::{
    credential_scope_service, has_presigned_params, parse, parse_authorization_header, parse_presigned_query,
    CredentialScope, ParsedAuth, RequestTime, ALGORITHM, DEFAULT_PRESIGNED_EXPIRES_SECS, MAX_PRESIGNED_EXPIRES_SECS,
    TERMINATOR,
};
pub use time::{format_amz_date, parse_amz_date, parse_http_date};

/// `UNSIGNED-PAYLOAD`, the payload hash of presigned S3 URLs.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Allowed clock skew between a request and the server (15 minutes).
pub const MAX_CLOCK_SKEW_SECS: i64 = 900;

/// What the caller knows of the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The whole body; its SHA-256 is computed here.
    Bytes(&'a [u8]),
    /// The lowercase hex SHA-256 of the body, computed by the caller.
    Sha256Hex(&'a str),
    /// Use `UNSIGNED-PAYLOAD` (presigned S3 URLs).
    Unsigned,
}

/// The parts of an HTTP request that SigV4 covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Path exactly as received on the wire (still percent-encoded), without the query.
    pub path: &'a str,
    /// Raw query string without `?` (`""` if none).
    pub query: &'a str,
    /// Request headers. HTTP/2 callers must copy `:authority` into `host`.
    pub headers: &'a HeaderMap,
    /// The body, or its hash. Ignored when `x-amz-content-sha256` is sent.
    pub payload: Payload<'a>,
}

impl<'a> RequestParts<'a> {
    /// Builds the parts from an `http` request head.
    pub fn from_http(parts: &'a http::request::Parts, payload: Payload<'a>) -> Self {
        RequestParts {
            method: &parts.method,
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            payload,
        }
    }
}

/// Service-dependent verification settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Normalize the path and URI-encode it a second time: every service but S3.
    pub double_encode_path: bool,
    /// If set, the credential scope's service must be this.
    pub expected_service: Option<String>,
    /// If set, the credential scope's region must be one of these.
    pub allowed_regions: Option<Vec<String>>,
    /// Allowed clock skew in seconds (AWS: 900).
    pub max_skew_secs: i64,
    /// Accept `UNSIGNED-PAYLOAD` and `STREAMING-*` payload hashes (S3 only by
    /// default: elsewhere they would leave the body unauthenticated).
    pub allow_unsigned_payload: bool,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            double_encode_path: true,
            expected_service: None,
            allowed_regions: None,
            max_skew_secs: MAX_CLOCK_SKEW_SECS,
            allow_unsigned_payload: false,
        }
    }
}

impl VerifyOptions {
    /// Options for `service`: the scope must name it, and the path is
    /// double-encoded unless it is `s3`.
    pub fn for_service(service: &str) -> Self {
        VerifyOptions {
            double_encode_path: service != "s3",
            allow_unsigned_payload: service == "s3",
            expected_service: Some(service.to_string()),
            ..Self::default()
        }
    }

    /// Restricts the scope's region to `regions`.
    pub fn with_regions<I, S>(mut self, regions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_regions = Some(regions.into_iter().map(Into::into).collect());
        self
    }
}

fn sha256_hex(data: &[u8]) -> String {
    lower_hex(&Sha256::digest(data))
}

/// Lower-case hex of `bytes`, through a byte buffer (`hex::encode` collects `char`s one by
/// one, which showed in request profiles: three per signed request).
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    let mut buf = vec![0u8; bytes.len() * 2];
    // Fails only for a buffer of the wrong length; this one is exact.
    let _ = hex::encode_to_slice(bytes, &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

fn canonical_uri(path: &str, opts: &VerifyOptions) -> String {
    if opts.double_encode_path {
        encoding::encode_path(&encoding::normalize_path(path))
    } else if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

fn canonical_query(query: &str, presigned: bool) -> String {
    let mut pairs: Vec<(String, String)> = encoding::query_pairs(query)
        .filter(|(k, _)| !(presigned && k.as_slice() == b"X-Amz-Signature"))
        .map(|(k, v)| (encoding::encode_query(&k), encoding::encode_query(&v)))
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len() + 8);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Trims spaces and folds runs of spaces into one.
fn canonical_header_value(value: &[u8], out: &mut Vec<u8>) {
    let mut prev_space = false;
    let start = out.len();
    for &b in value.iter().skip_while(|b| **b == b' ') {
        if b == b' ' {
            if !prev_space {
                out.push(b' ');
            }
            prev_space = true;
        } else {
            out.push(b);
            prev_space = false;
        }
    }
    if prev_space && out.len() > start {
        out.pop();
    }
}

fn payload_hash(req: &RequestParts<'_>, parsed: &ParsedAuth) -> String {
    if parsed.presigned.is_some() {
        if let Some((_, v)) = encoding::query_pairs(req.query).find(|(k, _)| k.as_slice() == b"X-Amz-Content-Sha256") {
            return String::from_utf8_lossy(&v).into_owned();
        }
    }
    if let Some(v) = req.headers.get("x-amz-content-sha256") {
        return String::from_utf8_lossy(v.as_bytes()).into_owned();
    }
    match req.payload {
        Payload::Bytes(b) => sha256_hex(b),
        Payload::Sha256Hex(h) => h.to_string(),
        Payload::Unsigned => UNSIGNED_PAYLOAD.to_string(),
    }
}

/// The canonical request AWS would compute for `req` as signed per `parsed`.
pub fn canonical_request(req: &RequestParts<'_>, parsed: &ParsedAuth, opts: &VerifyOptions) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(512);
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.path, opts).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.query, parsed.presigned.is_some()).as_bytes());
    out.push(b'\n');
    for name in &parsed.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        if let Ok(hn) = HeaderName::from_bytes(name.as_bytes()) {
            for (i, v) in req.headers.get_all(&hn).iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_header_value(v.as_bytes(), &mut out);
            }
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(parsed.signed_headers_string().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash(req, parsed).as_bytes());
    // Header values may hold non-UTF-8 bytes; they then never match a real
    // client's signature, so a lossy conversion loses nothing that matters.
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256 of the canonical request>`.
pub fn string_to_sign(parsed: &ParsedAuth, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        parsed.request_time.amz_date,
        parsed.scope.to_scope_string(),
        sha256_hex(canonical_request.as_bytes())
    )
}

fn epoch_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

fn sig_mismatch(msg: String) -> SigV4Error {
    SigV4Error::new(ErrorCode::SignatureDoesNotMatch, msg)
}

/// Checks everything but the signature itself: scope, `host` signed, time window.
pub fn check_request(parsed: &ParsedAuth, now: SystemTime, opts: &VerifyOptions) -> Result<(), SigV4Error> {
    let scope = &parsed.scope;
    if let Some(regions) = &opts.allowed_regions {
        if !regions.contains(&scope.region) {
            return Err(sig_mismatch(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                scope.region
            )));
        }
    }
    if let Some(service) = &opts.expected_service {
        if *service != scope.service {
            return Err(sig_mismatch(format!("Credential should be scoped to correct service: '{service}'. ")));
        }
    }
    let amz_date = &parsed.request_time.amz_date;
    if amz_date.get(..8) != Some(scope.date.as_str()) {
        return Err(sig_mismatch(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            scope.date,
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    if !parsed.signed_headers.iter().any(|h| h.eq_ignore_ascii_case("host")) {
        return Err(sig_mismatch(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".to_string(),
        ));
    }

    let now = epoch_secs(now);
    let t = parsed.request_time.epoch_secs;
    let skew = opts.max_skew_secs;
    let minutes = skew / 60;
    if t > now.saturating_add(skew) {
        return Err(sig_mismatch(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + {minutes} min.)",
            format_amz_date(now.saturating_add(skew)),
            format_amz_date(now)
        )));
    }
    match parsed.presigned {
        Some(expires) => {
            let deadline = t.saturating_add(i64::try_from(expires).unwrap_or(i64::MAX));
            if now > deadline {
                return Err(SigV4Error::new(
                    ErrorCode::RequestExpired,
                    format!(
                        "Request has expired. X-Amz-Date: {amz_date}, X-Amz-Expires: {expires}, expired at: {}, now: {}.",
                        format_amz_date(deadline),
                        format_amz_date(now)
                    ),
                ));
            }
        }
        None => {
            if t < now.saturating_sub(skew) {
                return Err(sig_mismatch(format!(
                    "Signature expired: {amz_date} is now earlier than {} ({} - {minutes} min.)",
                    format_amz_date(now.saturating_sub(skew)),
                    format_amz_date(now)
                )));
            }
        }
    }
    Ok(())
}

/// Checks that the payload hash the client signed covers the body we got:
/// a hex `x-amz-content-sha256` must equal the SHA-256 of the body (when the
/// caller passed the body or its hash), and unsigned/streaming payloads are
/// refused unless `opts.allow_unsigned_payload`.
pub fn check_payload(request: &RequestParts<'_>, parsed: &ParsedAuth, opts: &VerifyOptions) -> Result<(), SigV4Error> {
    let claimed = payload_hash(request, parsed);
    let is_hex = claimed.len() == 64 && claimed.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex {
        if opts.allow_unsigned_payload {
            return Ok(());
        }
        return Err(SigV4Error::new(
            ErrorCode::IncompleteSignature,
            format!("The payload hash '{claimed}' is not allowed for this service; sign the SHA-256 of the body."),
        ));
    }
    let actual = match request.payload {
        Payload::Bytes(b) => sha256_hex(b),
        Payload::Sha256Hex(h) => h.to_ascii_lowercase(),
        Payload::Unsigned => return Ok(()),
    };
    if bool::from(actual.as_bytes().ct_eq(claimed.as_bytes())) {
        Ok(())
    } else {
        Err(SigV4Error::new(
            ErrorCode::XAmzContentSHA256Mismatch,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ))
    }
}

/// Verifies `parsed` against `request` with an already derived signing key
/// (see [`SigningKeyCache`]). Runs [`check_request`] first and, once the
/// signature matched, [`check_payload`].
pub fn verify_with_signing_key(
    request: &RequestParts<'_>,
    parsed: &ParsedAuth,
    key: &SigningKey,
    now: SystemTime,
    opts: &VerifyOptions,
) -> Result<(), SigV4Error> {
    check_request(parsed, now, opts)?;
    let creq = canonical_request(request, parsed, opts);
    let sts = string_to_sign(parsed, &creq);
    let expected = key.sign(sts.as_bytes());
    if bool::from(expected.as_bytes().ct_eq(parsed.signature.as_bytes())) {
        check_payload(request, parsed, opts)
    } else {
        Err(SigV4Error::signature_mismatch(creq, sts))
    }
}

/// Verifies `parsed` against `request` with the secret of `parsed.access_key_id`.
pub fn verify(
    request: &RequestParts<'_>,
    parsed: &ParsedAuth,
    secret_access_key: &str,
    now: SystemTime,
    opts: &VerifyOptions,
) -> Result<(), SigV4Error> {
    let s = &parsed.scope;
    let key = derive_signing_key(secret_access_key, &s.date, &s.region, &s.service);
    verify_with_signing_key(request, parsed, &key, now, opts)
}
