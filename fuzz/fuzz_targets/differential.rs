//! Differential: generated (policies, request) pairs; fast evaluator == reference evaluator.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tessera_policy::testgen::{self, Rng};
use tessera_policy::{evaluate, reference, Request};

fuzz_target!(|seed: u64| {
    let principals = testgen::principals();
    let mut rng = Rng::new(seed);
    let s = testgen::scenario(&mut rng, &principals);
    let set = s.set();
    let req = Request {
        principal: &s.principal,
        action: s.action,
        resource: s.resource_arn,
        resource_account: s.resource_account,
        context: &s.context,
    };
    assert_eq!(evaluate(&set, &req).decision, reference::evaluate(&set, &req));
});
