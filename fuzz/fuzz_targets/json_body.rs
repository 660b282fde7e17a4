//! JSON 1.1 (Organizations, CloudTrail) and REST-JSON (Account): arbitrary bodies, targets and
//! routes never panic the decoders, a decoded body written back out decodes to the same value,
//! and every Organizations, CloudTrail and Account operation's own input decoding (run by
//! `Services::handle` as an account's root user, in memory) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{fields, world};
use tessera_services::{Call, Dispatch, Input, ServiceName};
use tessera_wire::json;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    // body, X-Amz-Target or REST-JSON path, method
    let f = fields(rest, 3);
    let target = String::from_utf8_lossy(f[1]);
    let method = String::from_utf8_lossy(f[2]);
    let split = json::split_target(&target);
    let route = tessera_wire::rest_json::route(ServiceName::Account.rest_routes(), &method, &target);
    let Ok(body) = json::parse_body(f[0]) else { return };
    assert!(body.is_object());

    // Written back out, the body decodes to the same value.
    let again = serde_json::to_vec(&body).expect("a decoded body serializes");
    assert_eq!(json::parse_body(&again).ok().as_ref(), Some(&body));
    if let Some(obj) = body.as_object() {
        for name in obj.keys() {
            let _ = json::required_str(&body, name);
            let _ = json::optional_str(&body, name);
        }
    }

    // The operations' own decoding.
    let services = [ServiceName::Organizations, ServiceName::CloudTrail, ServiceName::Account];
    let service = services[usize::from(selector % 3)];
    let ops = service.operations();
    let operation = match (service, route, split) {
        (ServiceName::Account, Some(op), _) => op.to_string(),
        (ServiceName::Organizations | ServiceName::CloudTrail, _, Some((_, op))) => op.to_string(),
        _ => ops[usize::from(selector / 3) % ops.len()].to_string(),
    };
    let w = world();
    let call = Call { caller: w.root(), operation, meta: w.meta() };
    let _ = w.services.handle(service, &call, &Input::Json(body));
});
