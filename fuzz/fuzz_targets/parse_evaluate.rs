//! Parse arbitrary bytes as identity and resource policies and evaluate generated requests with
//! them: no panic, and the fast evaluator agrees with the reference evaluator.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_policy::testgen::{self, Rng};
use tessera_policy::{evaluate, parse, reference, PolicyType, Request};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (seed, rest) = data.split_at(8);
    let mut rng = Rng::new(u64::from_le_bytes(seed.try_into().unwrap_or([0; 8])));
    let text = String::from_utf8_lossy(rest);
    let principals = testgen::principals();
    let mut s = testgen::scenario(&mut rng, &principals);
    if let Ok(p) = parse(&text, PolicyType::Identity) {
        s.identity.push(p);
    }
    if let Ok(p) = parse(&text, PolicyType::Resource) {
        s.resource = Some(p);
        s.resource_is_trust = false;
    }
    if let Ok(p) = parse(&text, PolicyType::Trust) {
        s.resource = Some(p);
        s.resource_is_trust = true;
    }
    let set = s.set();
    let req = Request {
        principal: &s.principal,
        action: s.action,
        resource: s.resource_arn,
        resource_account: s.resource_account,
        context: &s.context,
    };
    let fast = evaluate(&set, &req);
    assert_eq!(fast.decision, reference::evaluate(&set, &req));
    let _ = fast.reason(s.action);
});
