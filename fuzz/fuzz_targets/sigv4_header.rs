//! The SigV4 `Authorization` header: arbitrary header values never panic the parser, a parsed
//! header written back out parses to the same credentials, and a request signed with the right
//! key verifies while the same request with one signature character changed does not.
#![no_main]
use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::text_fields;
use tessera_sigv4::{ParsedAuth, Payload, RequestParts, VerifyOptions};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn header_value(s: &str) -> Option<HeaderValue> {
    HeaderValue::from_bytes(s.as_bytes()).ok()
}

/// `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...` of `p`.
fn write_header(p: &ParsedAuth) -> String {
    format!(
        "{} Credential={}/{}, SignedHeaders={}, Signature={}",
        tessera_sigv4::ALGORITHM,
        p.access_key_id,
        p.scope.to_scope_string(),
        p.signed_headers_string(),
        p.signature
    )
}

fuzz_target!(|data: &[u8]| {
    // authorization, x-amz-date, date, x-amz-security-token, host, path, query, body, service
    let f = text_fields(data, 9);
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("authorization", &f[0]),
        ("x-amz-date", &f[1]),
        ("date", &f[2]),
        ("x-amz-security-token", &f[3]),
        ("host", &f[4]),
    ] {
        if let (false, Some(v)) = (value.is_empty(), header_value(value)) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let (path, query, body, service) = (&f[5], &f[6], f[7].as_bytes(), &f[8]);
    let _ = tessera_sigv4::credential_scope_service(&headers, query);
    let _ = tessera_sigv4::parse_authorization_header(&f[0], &headers);
    let request = RequestParts { method: &Method::POST, path, query, headers: &headers, payload: Payload::Bytes(body) };
    let Ok(parsed) = tessera_sigv4::parse(&request) else { return };
    if parsed.presigned.is_some() {
        return;
    }

    // Written back out, the header parses to the same credentials.
    let again = write_header(&parsed);
    if let Some(v) = header_value(&again) {
        let mut h2 = headers.clone();
        h2.insert(http::header::AUTHORIZATION, v);
        let reparsed = tessera_sigv4::parse_authorization_header(&again, &h2);
        assert_eq!(reparsed.as_ref().ok(), Some(&parsed), "{again:?}");
    }

    // Signed with the right key, the request verifies; one changed character and it does not.
    let opts = if service.is_empty() { VerifyOptions::default() } else { VerifyOptions::for_service(service) };
    let now = UNIX_EPOCH + Duration::from_secs(u64::try_from(parsed.request_time.epoch_secs).unwrap_or(0));
    let creq = tessera_sigv4::canonical_request(&request, &parsed, &opts);
    let sts = tessera_sigv4::string_to_sign(&parsed, &creq);
    let s = &parsed.scope;
    let key = tessera_sigv4::derive_signing_key(SECRET, &s.date, &s.region, &s.service);
    let signature = key.sign(sts.as_bytes());
    let signed = ParsedAuth { signature: signature.clone(), ..parsed.clone() };
    let checks = tessera_sigv4::check_request(&signed, now, &opts)
        .and_then(|()| tessera_sigv4::check_payload(&request, &signed, &opts));
    let verdict = tessera_sigv4::verify(&request, &signed, SECRET, now, &opts);
    assert_eq!(verdict.is_ok(), checks.is_ok(), "{verdict:?} vs {checks:?}");
    let mut forged = signature.into_bytes();
    forged[0] = if forged[0] == b'0' { b'1' } else { b'0' };
    let forged = ParsedAuth { signature: String::from_utf8_lossy(&forged).into_owned(), ..parsed };
    assert!(tessera_sigv4::verify(&request, &forged, SECRET, now, &opts).is_err());
});
