//! SigV4 presigned URLs: arbitrary query strings never panic the parser, parsed parameters
//! written back out (percent-encoded) parse to the same credentials, and a URL signed with the
//! right key verifies while one with a changed signature does not.
#![no_main]
use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tessera_fuzz::text_fields;
use tessera_sigv4::{ParsedAuth, Payload, RequestParts, VerifyOptions};

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// The `X-Amz-*` query parameters of `p`, with `signature`.
fn write_query(p: &ParsedAuth, signature: &str) -> String {
    let mut q = format!(
        "X-Amz-Algorithm={}&X-Amz-Credential={}&X-Amz-Date={}&X-Amz-Expires={}&X-Amz-SignedHeaders={}&X-Amz-Signature={}",
        tessera_sigv4::ALGORITHM,
        enc(&format!("{}/{}", p.access_key_id, p.scope.to_scope_string())),
        enc(&p.request_time.amz_date),
        p.presigned.unwrap_or(0),
        enc(&p.signed_headers_string()),
        enc(signature),
    );
    if let Some(t) = &p.security_token {
        q.push_str("&X-Amz-Security-Token=");
        q.push_str(&enc(t));
    }
    q
}

fuzz_target!(|data: &[u8]| {
    // query, host, path, service
    let f = text_fields(data, 4);
    let (query, path, service) = (&f[0], &f[2], &f[3]);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&f[1]) {
        headers.insert(http::header::HOST, v);
    }
    let _ = tessera_sigv4::has_presigned_params(query);
    let _ = tessera_sigv4::credential_scope_service(&headers, query);
    let request = RequestParts { method: &Method::GET, path, query, headers: &headers, payload: Payload::Unsigned };
    let parsed = tessera_sigv4::parse_presigned_query(query);
    let via_parse = tessera_sigv4::parse(&request);
    let Ok(parsed) = parsed else { return };
    assert_eq!(via_parse.as_ref().ok(), Some(&parsed));

    // Written back out, the parameters parse to the same credentials.
    let again = write_query(&parsed, &parsed.signature);
    assert_eq!(tessera_sigv4::parse_presigned_query(&again).ok().as_ref(), Some(&parsed), "{again}");

    // Signed with the right key (over the rewritten query), it verifies; changed, it does not.
    let opts = if service.is_empty() { VerifyOptions::for_service("s3") } else { VerifyOptions::for_service(service) };
    let now = UNIX_EPOCH + Duration::from_secs(u64::try_from(parsed.request_time.epoch_secs).unwrap_or(0));
    let unsigned = RequestParts { query: &again, ..request };
    let creq = tessera_sigv4::canonical_request(&unsigned, &parsed, &opts);
    let sts = tessera_sigv4::string_to_sign(&parsed, &creq);
    let s = &parsed.scope;
    let signature = tessera_sigv4::derive_signing_key(SECRET, &s.date, &s.region, &s.service).sign(sts.as_bytes());
    let signed_query = write_query(&parsed, &signature);
    let signed_request = RequestParts { query: &signed_query, ..request };
    let Ok(signed) = tessera_sigv4::parse(&signed_request) else {
        panic!("the signed query does not parse: {signed_query}");
    };
    let checks = tessera_sigv4::check_request(&signed, now, &opts)
        .and_then(|()| tessera_sigv4::check_payload(&signed_request, &signed, &opts));
    let verdict = tessera_sigv4::verify(&signed_request, &signed, SECRET, now, &opts);
    assert_eq!(verdict.is_ok(), checks.is_ok(), "{verdict:?} vs {checks:?}");
    let forged = ParsedAuth { signature: format!("0{}", &signature[1..]), ..signed.clone() };
    if forged.signature != signature {
        assert!(tessera_sigv4::verify(&signed_request, &forged, SECRET, now, &opts).is_err());
    }
});
