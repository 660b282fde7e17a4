//! AWS's published SigV4 example (IAM ListUsers, 2015-08-30).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method};
use tessera_sigv4::*;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SIG: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

fn at(amz: &str) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(parse_amz_date(amz).unwrap() as u64)
}

fn headers(sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("iam.amazonaws.com"));
    h.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded; charset=utf-8"));
    h.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={sig}"
        ))
        .unwrap(),
    );
    h
}

fn req<'a>(h: &'a HeaderMap) -> RequestParts<'a> {
    RequestParts {
        method: &Method::GET,
        path: "/",
        query: "Action=ListUsers&Version=2010-05-08",
        headers: h,
        payload: Payload::Bytes(b""),
    }
}

#[test]
fn published_example_verifies() {
    let h = headers(SIG);
    let r = req(&h);
    let parsed = parse(&r).unwrap();
    assert_eq!(parsed.access_key_id, "AKIDEXAMPLE");
    assert_eq!(parsed.scope.service, "iam");
    assert_eq!(parsed.scope.region, "us-east-1");
    assert_eq!(parsed.scope.date, "20150830");
    assert_eq!(parsed.signed_headers, ["content-type", "host", "x-amz-date"]);
    assert_eq!(parsed.presigned, None);
    let opts = VerifyOptions::for_service("iam").with_regions(["us-east-1"]);
    verify(&r, &parsed, SECRET, at("20150830T123600Z"), &opts).unwrap();
    // The documented intermediate values.
    let creq = canonical_request(&r, &parsed, &opts);
    assert_eq!(
        creq,
        "GET\n/\nAction=ListUsers&Version=2010-05-08\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        string_to_sign(&parsed, &creq),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/iam/aws4_request\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    );
    let key = derive_signing_key(SECRET, "20150830", "us-east-1", "iam");
    assert_eq!(hex::encode(key.0), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

#[test]
fn published_example_with_cache_and_skew_edges() {
    let h = headers(SIG);
    let r = req(&h);
    let parsed = parse(&r).unwrap();
    let cache = SigningKeyCache::new(2);
    let key = cache.get_or_derive("AKIDEXAMPLE", SECRET, &parsed.scope);
    assert_eq!(cache.len(), 1);
    let opts = VerifyOptions::for_service("iam");
    for now in ["20150830T122100Z", "20150830T125100Z"] {
        verify_with_signing_key(&r, &parsed, &key, at(now), &opts).unwrap();
    }
    let e = verify(&r, &parsed, SECRET, at("20150830T125101Z"), &opts).unwrap_err();
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(
        e.message,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T125101Z - 15 min.)"
    );
    let e = verify(&r, &parsed, SECRET, at("20150830T122059Z"), &opts).unwrap_err();
    assert_eq!(
        e.message,
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z (20150830T122059Z + 15 min.)"
    );
    assert_eq!(e.http_status, 403);
}

#[test]
fn published_example_wrong_signature_reports_canonical_strings() {
    let h = headers(&SIG.replace("5d67", "5d68"));
    let r = req(&h);
    let parsed = parse(&r).unwrap();
    let e = verify(&r, &parsed, SECRET, at("20150830T123600Z"), &VerifyOptions::for_service("iam")).unwrap_err();
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert_eq!(e.http_status, 403);
    assert!(e.message.starts_with(SIGNATURE_MISMATCH_HINT));
    let creq = e.canonical_request.clone().unwrap();
    let sts = e.string_to_sign.clone().unwrap();
    assert!(e.message.ends_with(&format!(
        "\n\nThe Canonical String for this request should have been\n'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
    )));
    assert!(sts.ends_with("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"));
}
