//! Parse (and validate) arbitrary bytes as every policy type: no panic, bounded depth.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_policy::{parse, reference, validate};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for ty in reference::TYPES {
        let _ = parse(&text, *ty);
    }
    let _ = validate::validate_policy(&text, tessera_policy::PolicyType::Identity);
    let _ = tessera_policy::non_whitespace_len(&text);
});
