//! Garbage in, an error (or a verdict) out, never a panic.

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use tessera_sigv4::*;

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AWS4-HMAC-SHA256".to_string()),
        Just("Credential=".to_string()),
        Just("AKID/20250101/us-east-1/sts/aws4_request".to_string()),
        Just("SignedHeaders=".to_string()),
        Just("host;x-amz-date".to_string()),
        Just("Signature=".to_string()),
        Just(", ".to_string()),
        Just("=".to_string()),
        Just("/".to_string()),
        Just("%".to_string()),
        Just("&".to_string()),
        Just("X-Amz-Algorithm=".to_string()),
        Just("X-Amz-Credential=".to_string()),
        Just("X-Amz-Date=".to_string()),
        Just("X-Amz-Expires=".to_string()),
        Just("X-Amz-SignedHeaders=".to_string()),
        Just("X-Amz-Signature=".to_string()),
        Just("20250101T000000Z".to_string()),
        Just("99999999999999999999999".to_string()),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn garbage() -> impl Strategy<Value = String> {
    proptest::collection::vec(piece(), 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics(
        auth in proptest::option::of(garbage()),
        auth_bytes in proptest::collection::vec(any::<u8>(), 0..40),
        use_bytes in any::<bool>(),
        date in proptest::option::of(garbage()),
        query in garbage(),
        path in "\\PC{0,30}",
        extra in proptest::collection::vec(("[a-z-]{1,10}", proptest::collection::vec(any::<u8>(), 0..30)), 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..30),
        now in any::<u32>(),
        double in any::<bool>(),
    ) {
        let mut h = HeaderMap::new();
        if let Some(a) = &auth {
            let v = if use_bytes { HeaderValue::from_bytes(&auth_bytes) } else { HeaderValue::from_str(a) };
            if let Ok(v) = v { h.insert("authorization", v); }
        }
        if let Some(d) = &date {
            if let Ok(v) = HeaderValue::from_str(d) { h.insert("x-amz-date", v); }
        }
        for (k, v) in &extra {
            if let (Ok(k), Ok(v)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_bytes(v)) {
                h.append(k, v);
            }
        }
        let r = RequestParts { method: &Method::POST, path: &path, query: &query, headers: &h, payload: Payload::Bytes(&body) };
        let _ = credential_scope_service(&h, &query);
        let _ = has_presigned_params(&query);
        if let Ok(p) = parse(&r) {
            let opts = VerifyOptions { double_encode_path: double, ..VerifyOptions::for_service("sts") };
            let t = UNIX_EPOCH + Duration::from_secs(u64::from(now));
            let _ = verify(&r, &p, "secret", t, &opts);
            let _ = verify(&r, &p, "secret", UNIX_EPOCH, &VerifyOptions::default());
        }
    }

    #[test]
    fn date_parsers_never_panic(s in "\\PC{0,40}", t in any::<i64>()) {
        let _ = parse_amz_date(&s);
        let _ = parse_http_date(&s);
        let t = t.clamp(-(1 << 40), 1 << 40);
        prop_assert_eq!(parse_amz_date(&format_amz_date(t)).is_some(), (0..253_402_300_800).contains(&t));
    }
}

#[test]
fn huge_and_extreme_values() {
    let big = "a".repeat(1 << 20);
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("h"));
    h.insert("x-amz-date", HeaderValue::from_static("99991231T235959Z"));
    let a = format!(
        "AWS4-HMAC-SHA256 Credential={big}/99991231/r/sts/aws4_request, SignedHeaders=host;{big}, Signature={big}"
    );
    h.insert("authorization", HeaderValue::from_str(&a).unwrap());
    let q = format!("{big}=1&{}", "x&".repeat(10_000));
    let r = RequestParts {
        method: &Method::GET,
        path: &"/..".repeat(10_000),
        query: &q,
        headers: &h,
        payload: Payload::Sha256Hex("zz"),
    };
    let p = parse(&r).unwrap();
    let opts = VerifyOptions::for_service("sts");
    for now in [UNIX_EPOCH, UNIX_EPOCH - Duration::from_secs(1 << 40), UNIX_EPOCH + Duration::from_secs(1 << 40)] {
        assert!(verify(&r, &p, "s", now, &opts).is_err());
    }
    let mut p2 = p.clone();
    p2.presigned = Some(u64::MAX);
    p2.request_time.epoch_secs = i64::MAX;
    assert!(check_request(&p2, UNIX_EPOCH, &VerifyOptions::default()).is_err());
    p2.request_time.epoch_secs = i64::MIN;
    p2.request_time.amz_date = String::new();
    assert!(check_request(&p2, UNIX_EPOCH, &VerifyOptions::default()).is_err());
}
