//! Differential tests: sign with the real `aws-sigv4` signer, verify with ours.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use proptest::prelude::*;
use tessera_sigv4::*;

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const T0: u64 = 1_735_689_600; // 2025-01-01T00:00:00Z

struct Case {
    method: &'static str,
    /// Wire path + query, already percent-encoded as a client would send it.
    path_and_query: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    service: &'static str,
    region: &'static str,
    token: Option<&'static str>,
    presign: Option<u64>,
    content_sha_header: bool,
    unsigned_payload: bool,
}

impl Case {
    fn new(method: &'static str, path_and_query: &str) -> Self {
        Case {
            method,
            path_and_query: path_and_query.to_string(),
            headers: vec![],
            body: vec![],
            service: "sts",
            region: "us-east-1",
            token: None,
            presign: None,
            content_sha_header: false,
            unsigned_payload: false,
        }
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Signs `case` at `T0` with `secret` and returns the request as sent.
fn sign_case(case: &Case, secret: &str) -> http::Request<Vec<u8>> {
    let host = format!("{}.amazonaws.com", case.service);
    let uri = format!("https://{host}{}", case.path_and_query);
    let mut req = http::Request::builder().method(case.method).uri(&uri).body(case.body.clone()).unwrap();
    req.headers_mut().insert("host", host.parse().unwrap());
    for (k, v) in &case.headers {
        req.headers_mut().append(*k, v.parse().unwrap());
    }
    let creds = Credentials::new(AKID, secret, case.token.map(str::to_string), None, "test");
    let identity: Identity = creds.into();
    let mut settings = SigningSettings::default();
    if case.service == "s3" {
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    if case.content_sha_header {
        settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    }
    if let Some(e) = case.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(e));
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(case.region)
        .name(case.service)
        .time(at(T0))
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let header_pairs: Vec<(String, String)> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string())).collect();
    let body = if case.unsigned_payload { SignableBody::UnsignedPayload } else { SignableBody::Bytes(&case.body) };
    let signable = SignableRequest::new(
        case.method,
        uri.clone(),
        header_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .unwrap();
    let (instructions, _sig) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(&mut req);
    req
}

fn check(req: &http::Request<Vec<u8>>, case: &Case, secret: &str) -> Result<ParsedAuth, SigV4Error> {
    let payload = if case.unsigned_payload { Payload::Unsigned } else { Payload::Bytes(req.body()) };
    let parts = RequestParts {
        method: req.method(),
        path: req.uri().path(),
        query: req.uri().query().unwrap_or(""),
        headers: req.headers(),
        payload,
    };
    let parsed = parse(&parts)?;
    let opts = VerifyOptions::for_service(case.service).with_regions([case.region]);
    verify(&parts, &parsed, secret, at(T0 + 60), &opts)?;
    Ok(parsed)
}

fn assert_mismatch(r: Result<ParsedAuth, SigV4Error>, what: &str) {
    match r {
        Err(e) => assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch, "{what}: {e}"),
        Ok(_) => panic!("{what}: tampered request verified"),
    }
}

fn cases() -> Vec<Case> {
    let mut v = vec![
        Case::new("GET", "/?Action=GetCallerIdentity&Version=2011-06-15"),
        Case::new("GET", "/"),
        Case::new("GET", ""),
        Case::new("DELETE", "/a/b/c"),
        Case::new("GET", "/a%20b/c%2Fd/%E2%82%AC/~x"),
        Case::new("GET", "/a/./b/../c//d/"),
        Case::new("GET", "/../x/%2E%2E/y"),
        Case::new("GET", "/?b=2&a=1&a=0&c&d=&e=%20x%2By"),
        Case::new("GET", "/?z=1&Z=2&y=%C3%A9&x=a%2Fb&w=!%27()*"),
        Case::new("PUT", "/path?list-type=2&prefix=a%2Fb%20c"),
        Case::new("HEAD", "/?k=v+w"),
    ];
    let mut c = Case::new("POST", "/");
    c.headers = vec![("content-type", "application/x-www-form-urlencoded; charset=utf-8".into())];
    c.body =
        b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s&Version=2011-06-15"
            .to_vec();
    v.push(c);
    let mut c = Case::new("POST", "/");
    c.service = "iam";
    c.headers = vec![
        ("x-custom", "  spaced    out   value  ".into()),
        ("x-multi", "one".into()),
        ("x-multi", "two  three".into()),
        ("user-agent", "aws-cli/2 not-signed".into()),
        ("x-amzn-trace-id", "Root=1-unsigned".into()),
    ];
    c.body = "Action=ListUsers&Version=2010-05-08&Marker=ü".as_bytes().to_vec();
    v.push(c);
    let mut c = Case::new("POST", "/");
    c.token = Some("FwoGZXIvYXdzEJr//////////session+token/=");
    c.content_sha_header = true;
    c.body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
    v.push(c);
    let mut c = Case::new("GET", "/?Action=GetCallerIdentity&Version=2011-06-15");
    c.presign = Some(900);
    v.push(c);
    let mut c = Case::new("GET", "/?Action=GetCallerIdentity&Version=2011-06-15&a=b&a=a");
    c.presign = Some(604_800);
    c.token = Some("session/token+with=chars");
    c.headers = vec![("x-k8s-aws-id", "my-cluster".into())];
    v.push(c);
    let mut c = Case::new("GET", "/bucket/key%20with%20spaces/%E2%9C%93/a%2Fb");
    c.service = "s3";
    c.content_sha_header = true;
    v.push(c);
    let mut c = Case::new("GET", "/bucket/obj.txt?x-id=GetObject&response-content-type=text%2Fplain");
    c.service = "s3";
    c.presign = Some(3600);
    c.unsigned_payload = true;
    v.push(c);
    let mut c = Case::new("PUT", "/bucket/a/../b");
    c.service = "s3";
    c.unsigned_payload = true;
    c.content_sha_header = true;
    v.push(c);
    let mut c = Case::new("POST", "/");
    c.region = "eu-west-3";
    c.body = vec![0, 159, 146, 150, 255];
    v.push(c);
    v
}

#[test]
fn real_signer_requests_verify() {
    for (i, case) in cases().iter().enumerate() {
        let req = sign_case(case, SECRET);
        let parsed = check(&req, case, SECRET).unwrap_or_else(|e| panic!("case {i} {}: {e}", case.path_and_query));
        assert_eq!(parsed.access_key_id, AKID);
        assert_eq!(parsed.scope.service, case.service);
        assert_eq!(parsed.security_token.as_deref(), case.token);
        assert_eq!(parsed.presigned, case.presign, "case {i}");
        let headers = req.headers();
        let q = req.uri().query().unwrap_or("");
        assert_eq!(credential_scope_service(headers, q).as_deref(), Some(case.service));
    }
}

#[test]
fn wrong_secret_is_rejected() {
    for case in cases() {
        let req = sign_case(&case, SECRET);
        assert_mismatch(check(&req, &case, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ"), "secret");
        let req = sign_case(&case, "another-secret");
        assert_mismatch(check(&req, &case, SECRET), "secret2");
    }
}

fn flip_hex(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = if b[i] == b'0' { b'1' } else { b'0' };
    String::from_utf8(b).unwrap()
}

#[test]
fn flipped_signature_is_rejected() {
    for case in cases() {
        let mut req = sign_case(&case, SECRET);
        if case.presign.is_some() {
            let pq = req.uri().path_and_query().unwrap().as_str().to_string();
            let start = pq.find("X-Amz-Signature=").unwrap() + 16;
            let end = pq[start..].find('&').map_or(pq.len(), |e| start + e);
            let new = format!("{}{}{}", &pq[..start], flip_hex(&pq[start..end]), &pq[end..]);
            *req.uri_mut() = new.parse().unwrap();
        } else {
            let auth = req.headers()["authorization"].to_str().unwrap().to_string();
            let start = auth.find("Signature=").unwrap() + 10;
            let new = format!("{}{}", &auth[..start], flip_hex(&auth[start..]));
            req.headers_mut().insert("authorization", new.parse().unwrap());
        }
        assert_mismatch(check(&req, &case, SECRET), "signature");
    }
}

#[test]
fn tampered_body_is_rejected() {
    for case in cases() {
        if case.unsigned_payload {
            continue;
        }
        let mut req = sign_case(&case, SECRET);
        req.body_mut().push(b'x');
        if case.content_sha_header {
            // The header still claims the old hash: the server must compare the
            // body to it (outside this crate); here we tamper the header too.
            let h = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(req.body()));
            req.headers_mut().insert("x-amz-content-sha256", h.parse().unwrap());
        }
        assert_mismatch(check(&req, &case, SECRET), "body");
    }
}

#[test]
fn tampered_signed_header_path_and_query_are_rejected() {
    for case in cases() {
        let req = sign_case(&case, SECRET);
        let mut r = req.clone();
        r.headers_mut().insert("host", "evil.example.com".parse().unwrap());
        assert_mismatch(check(&r, &case, SECRET), "host");

        let mut r = req.clone();
        let pq = r.uri().path_and_query().unwrap().as_str().to_string();
        let new = if let Some(i) = pq.find('?') {
            format!("{}?extra=1&{}", &pq[..i], &pq[i + 1..])
        } else {
            format!("{pq}?extra=1")
        };
        *r.uri_mut() = new.parse().unwrap();
        assert_mismatch(check(&r, &case, SECRET), "query");

        let mut r = req.clone();
        let q = r.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        *r.uri_mut() = format!("/tampered{q}").parse().unwrap();
        assert_mismatch(check(&r, &case, SECRET), "path");

        let mut r = req.clone();
        *r.method_mut() = http::Method::PATCH;
        assert_mismatch(check(&r, &case, SECRET), "method");

        if !case.headers.is_empty() {
            let mut r = req.clone();
            r.headers_mut().append(case.headers[0].0, "injected".parse().unwrap());
            if case.headers[0].0 != "user-agent" {
                assert_mismatch(check(&r, &case, SECRET), "extra header value");
            }
        }
    }
}

#[test]
fn unsigned_extra_headers_do_not_matter() {
    for case in cases() {
        let mut req = sign_case(&case, SECRET);
        req.headers_mut().insert("x-forwarded-for", "10.0.0.1".parse().unwrap());
        req.headers_mut().insert("user-agent", "changed".parse().unwrap());
        check(&req, &case, SECRET).unwrap();
    }
}

#[test]
fn unsigned_payload_only_where_allowed() {
    let mut case = Case::new("POST", "/");
    case.content_sha_header = true;
    case.unsigned_payload = true;
    case.body = b"Action=GetCallerIdentity&Version=2011-06-15".to_vec();
    let req = sign_case(&case, SECRET);
    let e = check(&req, &case, SECRET).unwrap_err();
    assert_eq!(e.code, ErrorCode::IncompleteSignature);
    case.service = "s3";
    let req = sign_case(&case, SECRET);
    check(&req, &case, SECRET).unwrap();
}

#[test]
fn presigned_expiry_is_enforced() {
    let mut case = Case::new("GET", "/?Action=GetCallerIdentity&Version=2011-06-15");
    case.presign = Some(60);
    let req = sign_case(&case, SECRET);
    let parts = RequestParts {
        method: req.method(),
        path: req.uri().path(),
        query: req.uri().query().unwrap(),
        headers: req.headers(),
        payload: Payload::Bytes(b""),
    };
    let parsed = parse(&parts).unwrap();
    let opts = VerifyOptions::for_service("sts");
    verify(&parts, &parsed, SECRET, at(T0 + 60), &opts).unwrap();
    let e = verify(&parts, &parsed, SECRET, at(T0 + 61), &opts).unwrap_err();
    assert_eq!(e.code, ErrorCode::RequestExpired);
    assert_eq!(e.http_status, 400);
    assert!(e.message.starts_with("Request has expired."), "{}", e.message);
    // Not usable long before it was signed either.
    let e = verify(&parts, &parsed, SECRET, at(T0 - 901), &opts).unwrap_err();
    assert_eq!(e.code, ErrorCode::SignatureDoesNotMatch);
    assert!(e.message.starts_with("Signature not yet current"));
}

fn seg_char() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('a', 'z'),
        Just(' '),
        Just('.'),
        Just('~'),
        Just('%'),
        Just('+'),
        Just('='),
        Just('&'),
        Just('é'),
        Just('€'),
        Just('/'),
        Just('!'),
    ]
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QS).to_string()
}

const QS: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_requests_verify(
        segs in proptest::collection::vec(proptest::collection::vec(seg_char(), 0..6), 0..4),
        dots in proptest::collection::vec(prop_oneof![Just(""), Just("."), Just("..")], 0..3),
        params in proptest::collection::vec(
            (proptest::collection::vec(seg_char(), 0..4), proptest::collection::vec(seg_char(), 0..4)), 0..5),
        s3 in any::<bool>(),
        presign in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        header in "[ -~]{0,20}",
    ) {
        let mut path = String::new();
        for s in &segs {
            path.push('/');
            path.push_str(&enc(&s.iter().collect::<String>()));
        }
        for d in &dots {
            path.push('/');
            path.push_str(d);
        }
        let q: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{}={}", enc(&k.iter().collect::<String>()), enc(&v.iter().collect::<String>())))
            .collect();
        let pq = if q.is_empty() { path.clone() } else { format!("{path}?{}", q.join("&")) };
        let mut case = Case::new("POST", &pq);
        if s3 { case.service = "s3"; }
        if presign { case.presign = Some(300); }
        case.body = body;
        case.headers = vec![("x-random", header.clone())];
        if header.trim().is_empty() { case.headers.clear(); }
        let req = sign_case(&case, SECRET);
        prop_assert!(check(&req, &case, SECRET).is_ok(), "{:?}", check(&req, &case, SECRET).err());
        prop_assert!(check(&req, &case, "x").is_err());
    }
}
