//! Smithy RPC v2 CBOR (AWS Private CA): arbitrary bodies never panic the decoder, a decoded body
//! is a JSON object that encodes back to CBOR and decodes to the same value, and every acm-pca
//! operation's own input reading (run by `Services::handle` as an account's root user, in
//! memory, answering in CBOR) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::world;
use tessera_services::{Call, Dispatch, Input, ServiceName};
use tessera_wire::cbor;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let Ok(input) = cbor::decode_body(body) else { return };
    assert!(input.is_object());

    // Encoded (timestamps as tag 1) and decoded again: the same JSON.
    let again = cbor::encode(&input, tessera_services::pca::TIMESTAMP_MEMBERS);
    assert_eq!(cbor::decode_body(&again).ok().as_ref(), Some(&input));
    assert_eq!(cbor::decode_answer(&again).as_ref(), Some(&input));

    let ops = ServiceName::PrivateCa.operations();
    let operation = ops[usize::from(selector) % ops.len()].to_string();
    let w = world();
    let call = Call { caller: w.root(), operation, meta: w.meta() };
    if let Ok(answer) = w.services.handle(ServiceName::PrivateCa, &call, &Input::Cbor(input)) {
        assert_eq!(answer.content_type, "application/cbor");
        assert!(cbor::decode_answer(&answer.body).is_some());
    }
});
