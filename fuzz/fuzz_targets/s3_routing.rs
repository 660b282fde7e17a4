//! Routing: which service a request goes to (S3 by its credential scope, Signature Version 2 or
//! path; S3 Control by path; the API services by the scope's signing name, REST-JSON by method
//! and path; an unserved service's error shape), and S3 Control's account and
//! `PublicAccessBlockConfiguration` parsing. Arbitrary requests never panic any of it; the S3
//! decision agrees with the SigV4 parser's credential scope; a parsed configuration written
//! back out parses to the same settings.
#![no_main]
use http::{HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{fields, text_fields};
use tessera_s3::control;
use tessera_services::ServiceName;

fuzz_target!(|data: &[u8]| {
    // method, path and query, authorization, content-type, host, x-amz-account-id,
    // x-amz-target, smithy-protocol, body
    let f = fields(data, 9);
    let t = text_fields(data, 8);
    let method = Method::from_bytes(f[0]).unwrap_or(Method::GET);
    let Ok(mut req) = http::Request::builder().method(method).uri(f[1]).body(()) else { return };
    for (name, value) in [
        ("authorization", f[2]),
        ("content-type", f[3]),
        ("host", f[4]),
        ("x-amz-account-id", f[5]),
        ("x-amz-target", f[6]),
        ("smithy-protocol", f[7]),
    ] {
        if let (false, Ok(v)) = (value.is_empty(), HeaderValue::from_bytes(value)) {
            req.headers_mut().insert(HeaderName::from_static(name), v);
        }
    }
    let (parts, ()) = req.into_parts();
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");

    // S3 or not: when the SigV4 parser finds a credential scope, S3 takes exactly `s3`'s.
    let is_s3 = tessera_s3::is_s3_request(&parts);
    let scope = tessera_sigv4::credential_scope_service(&parts.headers, query);
    if let Some(service) = &scope {
        assert_eq!(is_s3, service == "s3", "S3 routing disagrees with the credential scope {service:?}");
    }
    let _ = control::is_control_path(path);
    let _ = control::operation_name(&parts.method, path);
    let _ = control::account_id(&parts.headers);

    // The API services: signing name, then protocol (or the unserved service's error shape).
    if let Some(name) = scope {
        match ServiceName::from_signing_name(&name) {
            Some(service) => {
                assert_eq!(service.signing_name(), name);
                let _ = tessera_wire::rest_json::route(service.rest_routes(), parts.method.as_str(), path);
            }
            None => {
                let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
                let family = tessera_wire::unserved::family(
                    &name,
                    header("smithy-protocol"),
                    header("x-amz-target").is_some(),
                    header("content-type"),
                );
                let _ = tessera_wire::unserved::response(family, &t[7], "fuzz");
            }
        }
    }

    // S3 Control's settings document.
    if let Ok(config) = control::parse_configuration(f[8]) {
        let again = control::configuration_xml(&config);
        assert_eq!(control::parse_configuration(again.as_bytes()).ok(), Some(config));
    }
});
