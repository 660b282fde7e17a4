//! One test per error code / message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method};
use tessera_sigv4::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SIG: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
const GOOD_CRED: &str = "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_440_938_160) // 20150830T123600Z
}

fn headers(auth: Option<&str>, date: Option<(&'static str, &str)>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("iam.amazonaws.com"));
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
    if let Some((k, v)) = date {
        h.insert(k, HeaderValue::from_str(v).unwrap());
    }
    if let Some(a) = auth {
        h.insert("authorization", HeaderValue::from_str(a).unwrap());
    }
    h
}

fn auth(cred: &str, signed: &str) -> String {
    format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature={SIG}")
}

const XDATE: Option<(&str, &str)> = Some(("x-amz-date", "20150830T123600Z"));

fn run(h: &HeaderMap, query: &str, opts: &VerifyOptions) -> Result<(), SigV4Error> {
    let r = RequestParts { method: &Method::GET, path: "/", query, headers: h, payload: Payload::Bytes(b"") };
    let p = parse(&r)?;
    verify(&r, &p, SECRET, now(), opts)
}

const Q: &str = "Action=ListUsers&Version=2010-05-08";

fn err(h: &HeaderMap, query: &str, opts: &VerifyOptions) -> SigV4Error {
    run(h, query, opts).expect_err("should fail")
}

fn iam() -> VerifyOptions {
    VerifyOptions::for_service("iam").with_regions(["us-east-1"])
}

#[test]
fn baseline_verifies() {
    run(&headers(Some(&auth(GOOD_CRED, "content-type;host;x-amz-date")), XDATE), Q, &iam()).unwrap();
}

#[test]
fn missing_authentication_token() {
    let e = err(&headers(None, XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::MissingAuthenticationToken);
    assert_eq!(e.code.as_str(), "MissingAuthenticationToken");
    assert_eq!(e.message, "Request is missing Authentication Token");
    assert_eq!(e.http_status, 403);
}

#[test]
fn incomplete_signature_lists_every_missing_part() {
    let e = err(&headers(Some("Basic dXNlcjpwYXNz"), None), Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    assert_eq!(e.http_status, 400);
    assert_eq!(
        e.message,
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Basic dXNlcjpwYXNz"
    );
    let a = format!("AWS4-HMAC-SHA256 Credential={GOOD_CRED}");
    let e = err(&headers(Some(&a), XDATE), Q, &iam());
    assert_eq!(
        e.message,
        format!("Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={a}")
    );
}

#[test]
fn incomplete_signature_missing_date() {
    let e = err(&headers(Some(&auth(GOOD_CRED, "host")), None), Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    assert!(e.message.starts_with(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 "
    ));
}

#[test]
fn date_header_is_accepted() {
    let h = headers(Some(&auth(GOOD_CRED, "content-type;date;host")), Some(("date", "Sun, 30 Aug 2015 12:36:00 GMT")));
    let r = RequestParts { method: &Method::GET, path: "/", query: Q, headers: &h, payload: Payload::Bytes(b"") };
    let p = parse(&r).unwrap();
    assert_eq!(p.request_time.amz_date, "20150830T123600Z");
    // Parses and checks fine; the signature (made for x-amz-date) differs.
    assert_eq!(verify(&r, &p, SECRET, now(), &iam()).unwrap_err().code, ErrorCode::SignatureDoesNotMatch);
}

#[test]
fn malformed_date_and_pairs() {
    let e = err(&headers(Some(&auth(GOOD_CRED, "host")), Some(("x-amz-date", "2015-08-30T12:36:00Z"))), Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    assert!(e.message.starts_with("Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'."));

    let a = format!("AWS4-HMAC-SHA256 Credential={GOOD_CRED}, SignedHeaders, Signature={SIG}");
    let e = err(&headers(Some(&a), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    assert_eq!(
        e.message,
        format!("'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization header: '{a}'.")
    );

    let a = format!("{}, Signature={SIG}", auth(GOOD_CRED, "host"));
    let e = err(&headers(Some(&a), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
}

#[test]
fn unknown_algorithm() {
    let a = auth(GOOD_CRED, "host").replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
    let e = err(&headers(Some(&a), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    assert_eq!(e.message, "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'");
    let e = err(&headers(None, None), "X-Amz-Algorithm=AWS4-HMAC-SHA512&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiam%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00", &iam());
    assert_eq!(e.message, "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'");
}

#[test]
fn malformed_credential_scope() {
    let e = err(&headers(Some(&auth("AKIDEXAMPLE/20150830/us-east-1/iam", "host")), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    assert_eq!(
        e.message,
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDEXAMPLE/20150830/us-east-1/iam'"
    );

    let e = err(&headers(Some(&auth("AKIDEXAMPLE/20150830/us-east-1/iam/aws4_reqest", "host")), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(e.http_status, 403);
    assert_eq!(e.message, "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_reqest'. ");

    let e = err(&headers(Some(&auth("AKIDEXAMPLE/20150830/us-west-2/iam/aws4_request", "host")), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(e.message, "Credential should be scoped to a valid region, not 'us-west-2'. ");

    let e = err(&headers(Some(&auth("AKIDEXAMPLE/20150830/us-east-1/sts/aws4_request", "host")), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(e.message, "Credential should be scoped to correct service: 'iam'. ");

    let e = err(&headers(Some(&auth("AKIDEXAMPLE/20150831/us-east-1/iam/aws4_request", "host")), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(
        e.message,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
}

#[test]
fn host_must_be_signed() {
    let e = err(&headers(Some(&auth(GOOD_CRED, "content-type;x-amz-date")), XDATE), Q, &iam());
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(e.message, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
}

#[test]
fn signature_does_not_match() {
    let h = headers(Some(&auth(GOOD_CRED, "content-type;host;x-amz-date")), XDATE);
    let e = err(&h, "Action=ListUsers&Version=2010-05-09", &iam());
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(e.code.as_str(), "SignatureDoesNotMatch");
    assert!(e.message.starts_with(SIGNATURE_MISMATCH_HINT));
    assert!(e.message.contains(
        "\n\nThe Canonical String for this request should have been\n'GET\n/\nAction=ListUsers&Version=2010-05-09\n"
    ));
    assert!(e.canonical_request.is_some() && e.string_to_sign.is_some());
}

#[test]
fn request_expired_and_skew() {
    let h = headers(Some(&auth(GOOD_CRED, "content-type;host;x-amz-date")), Some(("x-amz-date", "20150830T120000Z")));
    let e = err(&h, Q, &iam());
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert!(e.message.starts_with(
        "Signature expired: 20150830T120000Z is now earlier than 20150830T122100Z (20150830T123600Z - 15 min.)"
    ));
}

fn presigned(extra: &str) -> String {
    format!("Action=ListUsers&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fiam%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00{extra}")
}

#[test]
fn presigned_errors() {
    let h = headers(None, None);
    let e = err(&h, &presigned("&X-Amz-Expires=604801"), &iam());
    assert_eq!(e.code, ErrorCode::AuthorizationQueryParametersError);
    assert_eq!(e.http_status, 400);
    assert!(e.message.starts_with("X-Amz-Expires must be less than a week"));
    let e = err(&h, &presigned("&X-Amz-Expires=-5"), &iam());
    assert_eq!(e.message, "X-Amz-Expires should be a number");
    let e = err(&h, &presigned("&X-Amz-Signature=11"), &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    let e = err(&h, "X-Amz-Signature=00&Action=ListUsers", &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    assert_eq!(
        e.message,
        "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Date'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters."
    );
    let e = err(&h, &presigned("&X-Amz-Expires=10"), &iam());
    // Ten seconds after 12:36:00, it is 12:36:00 now: still valid, so the
    // (fake) signature is what fails.
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    let r = RequestParts {
        method: &Method::GET,
        path: "/",
        query: &presigned("&X-Amz-Expires=10"),
        headers: &h,
        payload: Payload::Bytes(b""),
    };
    let p = parse(&r).unwrap();
    assert_eq!(p.presigned, Some(10));
    let e = verify(&r, &p, SECRET, now() + Duration::from_secs(11), &iam()).unwrap_err();
    assert_eq!(e.code, ErrorCode::RequestExpired);
    assert_eq!(e.code.as_str(), "RequestExpired");
    assert_eq!(e.http_status, 400);
    assert_eq!(
        e.message,
        "Request has expired. X-Amz-Date: 20150830T123600Z, X-Amz-Expires: 10, expired at: 20150830T123610Z, now: 20150830T123611Z."
    );
}

#[test]
fn both_mechanisms_or_two_headers_are_rejected() {
    let mut h = headers(Some(&auth(GOOD_CRED, "host")), XDATE);
    let e = err(&h, &presigned(""), &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    h.append("authorization", HeaderValue::from_static("AWS4-HMAC-SHA256 x=y"));
    let e = err(&h, Q, &iam());
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
}

#[test]
fn invalid_client_token_id_helper() {
    let e = SigV4Error::invalid_client_token_id();
    assert_eq!(e.code.as_str(), "InvalidClientTokenId");
    assert_eq!(e.http_status, 403);
    assert_eq!(e.message, "The security token included in the request is invalid.");
}

#[test]
fn credential_scope_service_is_cheap_and_lenient() {
    let h = headers(Some(&auth(GOOD_CRED, "host")), None);
    assert_eq!(credential_scope_service(&h, "").as_deref(), Some("iam"));
    let h = headers(None, None);
    assert_eq!(credential_scope_service(&h, &presigned("")).as_deref(), Some("iam"));
    assert_eq!(credential_scope_service(&h, "Action=ListUsers"), None);
    let h = headers(Some("AWS4-HMAC-SHA256 Credential=a/b/c"), None);
    assert_eq!(credential_scope_service(&h, ""), None);
}
