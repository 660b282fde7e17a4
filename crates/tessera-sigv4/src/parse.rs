//! Extracting the SigV4 credentials of a request, without verifying them.

use http::HeaderMap;

use crate::error::{ErrorCode, SigV4Error};
use crate::time::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{encoding, RequestParts};

/// The only algorithm this crate verifies.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The credential scope terminator.
pub const TERMINATOR: &str = "aws4_request";
/// Largest `X-Amz-Expires` accepted (seven days).
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;
/// `X-Amz-Expires` assumed for a presigned request that does not carry one.
pub const DEFAULT_PRESIGNED_EXPIRES_SECS: u64 = 900;

/// `date/region/service` of a credential (the terminator is always `aws4_request`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialScope {
    /// `YYYYMMDD`, as sent by the client.
    pub date: String,
    /// Signing region, e.g. `us-east-1`.
    pub region: String,
    /// Signing service name, e.g. `sts`, `iam`.
    pub service: String,
}

impl CredentialScope {
    /// `date/region/service/aws4_request`.
    pub fn to_scope_string(&self) -> String {
        format!("{}/{}/{}/{TERMINATOR}", self.date, self.region, self.service)
    }
}

/// The time of a request, from `X-Amz-Date` or `Date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTime {
    /// Seconds since the Unix epoch.
    pub epoch_secs: i64,
    /// The same instant as `YYYYMMDD'T'HHMMSS'Z'` (the form used in the string to sign).
    pub amz_date: String,
}

/// Everything SigV4 carries in a request, parsed but not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuth {
    /// The access key id from the credential.
    pub access_key_id: String,
    /// The credential scope.
    pub scope: CredentialScope,
    /// Signed header names, in the order and spelling the client sent them.
    pub signed_headers: Vec<String>,
    /// The signature as sent (hex).
    pub signature: String,
    /// The request time.
    pub request_time: RequestTime,
    /// `X-Amz-Security-Token` (header, or query parameter when presigned).
    pub security_token: Option<String>,
    /// `Some(expires_secs)` when authenticated by presigned query parameters.
    pub presigned: Option<u64>,
}

impl ParsedAuth {
    /// The `SignedHeaders` value as sent (`;`-joined).
    pub fn signed_headers_string(&self) -> String {
        self.signed_headers.join(";")
    }
}

fn incomplete(msg: impl Into<String>) -> SigV4Error {
    SigV4Error::new(ErrorCode::IncompleteSignature, msg)
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Splits `key/date/region/service/terminator`.
fn parse_credential(cred: &str) -> Result<(String, CredentialScope), SigV4Error> {
    let parts: Vec<&str> = cred.split('/').collect();
    if parts.len() != 5 {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{cred}'"
        )));
    }
    if parts[4] != TERMINATOR {
        return Err(SigV4Error::new(
            ErrorCode::SignatureDoesNotMatch,
            format!("Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'. ", parts[4]),
        ));
    }
    Ok((
        parts[0].to_string(),
        CredentialScope { date: parts[1].to_string(), region: parts[2].to_string(), service: parts[3].to_string() },
    ))
}

fn parse_amz_date_value(value: &str) -> Result<RequestTime, SigV4Error> {
    match parse_amz_date(value) {
        Some(epoch_secs) => Ok(RequestTime { epoch_secs, amz_date: value.to_string() }),
        None => Err(incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))),
    }
}

fn parse_date_header(value: &str) -> Result<RequestTime, SigV4Error> {
    match parse_http_date(value) {
        Some(epoch_secs) => Ok(RequestTime { epoch_secs, amz_date: format_amz_date(epoch_secs) }),
        None => Err(incomplete(format!(
            "Date must be in ISO-8601 'basic format' or RFC 7231 IMF-fixdate format. Got '{value}'."
        ))),
    }
}

/// The request time from the `X-Amz-Date` header, else the `Date` header.
fn header_request_time(headers: &HeaderMap) -> Option<Result<RequestTime, SigV4Error>> {
    if let Some(v) = header_str(headers, "x-amz-date") {
        return Some(parse_amz_date_value(v.trim()));
    }
    header_str(headers, "date").map(|v| parse_date_header(&v))
}

fn split_signed_headers(value: &str) -> Vec<String> {
    value.split(';').map(str::to_string).collect()
}

/// Parses an `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`
/// header value, taking the date from `headers`.
pub fn parse_authorization_header(value: &str, headers: &HeaderMap) -> Result<ParsedAuth, SigV4Error> {
    let trimmed = value.trim();
    let (scheme, rest) = match trimmed.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, ""),
    };
    let is_sigv4 = scheme == ALGORITHM;
    if !is_sigv4 && scheme.starts_with("AWS4-") && rest.contains('=') {
        return Err(incomplete(format!("Unsupported AWS 'algorithm': '{scheme}'")));
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    if is_sigv4 {
        for part in rest.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((k, v)) = part.split_once('=') else {
                return Err(incomplete(format!(
                    "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
                )));
            };
            let slot = match k.trim() {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.is_some() {
                return Err(incomplete(format!(
                    "Authorization header has a duplicate '{}' parameter. Authorization={value}",
                    k.trim()
                )));
            }
            *slot = Some(v.trim().to_string());
        }
    }

    let time = header_request_time(headers);
    let mut missing = String::new();
    if credential.is_none() {
        missing.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if signature.is_none() {
        missing.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if signed_headers.is_none() {
        missing.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if time.is_none() {
        missing.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(time)) =
        (credential, signed_headers, signature, time)
    else {
        return Err(incomplete(format!("{missing}Authorization={value}")));
    };

    let (access_key_id, scope) = parse_credential(&credential)?;
    Ok(ParsedAuth {
        access_key_id,
        scope,
        signed_headers: split_signed_headers(&signed_headers),
        signature,
        request_time: time?,
        security_token: header_str(headers, "x-amz-security-token"),
        presigned: None,
    })
}

/// The `X-Amz-*` authentication parameters of a query string, decoded.
#[derive(Default)]
struct QueryAuth {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
}

const QUERY_AUTH_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

fn query_auth(query: &str) -> Result<QueryAuth, SigV4Error> {
    let mut qa = QueryAuth::default();
    for (k, v) in encoding::query_pairs(query) {
        let k = String::from_utf8_lossy(&k);
        let slot = match k.as_ref() {
            "X-Amz-Algorithm" => &mut qa.algorithm,
            "X-Amz-Credential" => &mut qa.credential,
            "X-Amz-Date" => &mut qa.date,
            "X-Amz-Expires" => &mut qa.expires,
            "X-Amz-SignedHeaders" => &mut qa.signed_headers,
            "X-Amz-Signature" => &mut qa.signature,
            "X-Amz-Security-Token" => &mut qa.security_token,
            _ => continue,
        };
        if slot.is_some() {
            return Err(incomplete(format!(
                "AWS query-string parameter '{k}' must not be repeated. Re-examine the query-string parameters."
            )));
        }
        *slot = Some(String::from_utf8_lossy(&v).into_owned());
    }
    Ok(qa)
}

/// Whether a query string carries presigned SigV4 parameters.
pub fn has_presigned_params(query: &str) -> bool {
    encoding::query_pairs(query).any(|(k, _)| QUERY_AUTH_PARAMS[..6].iter().any(|p| p.as_bytes() == k.as_slice()))
}

/// Parses presigned-URL query parameters (`X-Amz-Algorithm`, `X-Amz-Credential`, ...).
pub fn parse_presigned_query(query: &str) -> Result<ParsedAuth, SigV4Error> {
    let qa = query_auth(query)?;
    let mut missing = String::new();
    for (name, present) in [
        ("X-Amz-Algorithm", qa.algorithm.is_some()),
        ("X-Amz-Credential", qa.credential.is_some()),
        ("X-Amz-Signature", qa.signature.is_some()),
        ("X-Amz-Date", qa.date.is_some()),
        ("X-Amz-SignedHeaders", qa.signed_headers.is_some()),
    ] {
        if !present {
            missing.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
    }
    let (Some(algorithm), Some(credential), Some(signature), Some(date), Some(signed_headers)) =
        (qa.algorithm, qa.credential, qa.signature, qa.date, qa.signed_headers)
    else {
        return Err(incomplete(format!("{missing}Re-examine the query-string parameters.")));
    };
    if algorithm != ALGORITHM {
        return Err(incomplete(format!("Unsupported AWS 'algorithm': '{algorithm}'")));
    }
    let expires = match qa.expires {
        None => DEFAULT_PRESIGNED_EXPIRES_SECS,
        Some(e) => {
            let parsed =
                if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) { e.parse::<u64>().ok() } else { None };
            match parsed {
                None => {
                    return Err(SigV4Error::new(
                        ErrorCode::AuthorizationQueryParametersError,
                        "X-Amz-Expires should be a number",
                    ))
                }
                Some(n) if n > MAX_PRESIGNED_EXPIRES_SECS => {
                    return Err(SigV4Error::new(
                        ErrorCode::AuthorizationQueryParametersError,
                        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds",
                    ))
                }
                Some(n) => n,
            }
        }
    };
    let (access_key_id, scope) = parse_credential(&credential)?;
    Ok(ParsedAuth {
        access_key_id,
        scope,
        signed_headers: split_signed_headers(&signed_headers),
        signature,
        request_time: parse_amz_date_value(&date)?,
        security_token: qa.security_token,
        presigned: Some(expires),
    })
}

/// Parses the SigV4 credentials of a request: the `Authorization` header if
/// present, else presigned query parameters, else `MissingAuthenticationToken`.
pub fn parse(request: &RequestParts<'_>) -> Result<ParsedAuth, SigV4Error> {
    let mut auth = request.headers.get_all(http::header::AUTHORIZATION).iter();
    let first = auth.next();
    let presigned = has_presigned_params(request.query);
    match first {
        Some(value) => {
            if auth.next().is_some() {
                return Err(incomplete("Only one Authorization header may be specified."));
            }
            if presigned {
                return Err(incomplete(
                    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified",
                ));
            }
            let value = String::from_utf8_lossy(value.as_bytes());
            parse_authorization_header(&value, request.headers)
        }
        None if presigned => parse_presigned_query(request.query),
        None => Err(SigV4Error::missing_authentication_token()),
    }
}

/// Cheaply finds the service of the credential scope (from the `Authorization`
/// header or `X-Amz-Credential`), without validating anything else. Meant for
/// routing before verification.
pub fn credential_scope_service(headers: &HeaderMap, query: &str) -> Option<String> {
    if let Some(v) = headers.get(http::header::AUTHORIZATION) {
        let v = std::str::from_utf8(v.as_bytes()).ok()?;
        let start = v.find("Credential=")? + "Credential=".len();
        let cred = v[start..].split([',', ' ']).next()?;
        return service_of_credential(cred);
    }
    encoding::query_pairs(query)
        .find(|(k, _)| k.as_slice() == b"X-Amz-Credential")
        .and_then(|(_, v)| service_of_credential(std::str::from_utf8(&v).ok()?))
}

fn service_of_credential(cred: &str) -> Option<String> {
    let parts: Vec<&str> = cred.split('/').collect();
    (parts.len() == 5).then(|| parts[3].to_string())
}
