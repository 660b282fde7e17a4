//! Property tests: the fast evaluator equals the plain reference evaluator (10,000 generated
//! scenarios), and the algebra of the policy language holds.

use proptest::prelude::*;
use serde_json::Value;
use tessera_policy::testgen::{self, Rng};
use tessera_policy::*;

fn request<'a>(s: &'a testgen::Scenario) -> Request<'a> {
    Request {
        principal: &s.principal,
        action: s.action,
        resource: s.resource_arn,
        resource_account: s.resource_account,
        context: &s.context,
    }
}

#[test]
fn differential_fast_equals_reference_10000() {
    let principals = testgen::principals();
    let mut counts = [0usize; 3];
    for seed in 0..10_000u64 {
        let mut rng = Rng::new(seed);
        let s = testgen::scenario(&mut rng, &principals);
        let set = s.set();
        let req = request(&s);
        let fast = evaluate(&set, &req);
        let slow = reference::evaluate(&set, &req);
        assert_eq!(fast.decision, slow, "seed {seed}: fast {fast:?} vs reference {slow:?}\n{s:#?}");
        counts[fast.decision as usize] += 1;
    }
    // The generator must exercise every outcome.
    assert!(counts.iter().all(|&c| c > 500), "outcome distribution too skewed: {counts:?}");
}

/// Re-serialize a parsed document's statements in another order.
fn reorder(doc: &str, perm_seed: u64) -> String {
    let mut v: Value = serde_json::from_str(doc).unwrap();
    if let Some(Value::Array(sts)) = v.get_mut("Statement") {
        let mut rng = Rng::new(perm_seed);
        for i in (1..sts.len()).rev() {
            let j = rng.below(i + 1);
            sts.swap(i, j);
        }
    }
    v.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Adding a Deny statement never grants.
    #[test]
    fn adding_a_deny_never_grants(seed in any::<u64>(), where_ in 0usize..4) {
        let principals = testgen::principals();
        let mut rng = Rng::new(seed);
        let s = testgen::scenario(&mut rng, &principals);
        let before = evaluate(&s.set(), &request(&s));
        let mut t = s.clone();
        let deny_doc = {
            let mut d: Value = serde_json::from_str(&testgen::policy_doc(&mut rng, PolicyType::Identity, 2)).unwrap();
            for st in d["Statement"].as_array_mut().unwrap() { st["Effect"] = "Deny".into(); }
            d.to_string()
        };
        let deny = parse(&deny_doc, PolicyType::Identity);
        prop_assume!(deny.is_ok());
        let deny = deny.unwrap();
        let as_ty = |ty| parse(&deny_doc, ty).unwrap_or_else(|_| deny.clone());
        match where_ {
            0 => t.identity.push(deny.clone()),
            1 => { if let Some(sess) = t.session.as_mut() { sess.push(as_ty(PolicyType::Session)) } else { t.identity.push(deny.clone()) } }
            2 => { if let Some(l) = t.scps.first_mut() { l.push(as_ty(PolicyType::Scp)) } else { t.identity.push(deny.clone()) } }
            _ => t.boundary = t.boundary.take().or(Some(as_ty(PolicyType::PermissionsBoundary))),
        }
        let after = evaluate(&t.set(), &request(&t));
        prop_assert!(!after.is_allowed() || before.is_allowed(), "a Deny granted: before {:?} after {:?}", before, after);
    }

    /// Statement order never matters.
    #[test]
    fn statement_order_never_matters(seed in any::<u64>(), perm in any::<u64>()) {
        let principals = testgen::principals();
        let mut rng = Rng::new(seed);
        let docs: Vec<String> = (0..3).map(|_| testgen::policy_doc(&mut rng, PolicyType::Identity, 6)).collect();
        let rdoc = testgen::policy_doc(&mut rng, PolicyType::Resource, 6);
        let ctx = testgen::context(&mut rng);
        let p = rng.pick(&principals).clone();
        let action = *rng.pick(testgen::ACTIONS);
        let resource = *rng.pick(testgen::RESOURCES);
        let parse_all = |docs: &[String]| docs.iter().filter_map(|d| parse(d, PolicyType::Identity).ok()).collect::<Vec<_>>();
        let a = parse_all(&docs);
        let b = parse_all(&docs.iter().map(|d| reorder(d, perm)).collect::<Vec<_>>());
        let ra = parse(&rdoc, PolicyType::Resource).ok();
        let rb = parse(&reorder(&rdoc, perm), PolicyType::Resource).ok();
        let req = Request { principal: &p, action, resource, resource_account: None, context: &ctx };
        let da = evaluate(&PolicySet { identity: a.iter().collect(), resource: ra.as_ref(), ..Default::default() }, &req);
        let db = evaluate(&PolicySet { identity: b.iter().collect(), resource: rb.as_ref(), ..Default::default() }, &req);
        prop_assert_eq!(da.decision, db.decision);
        prop_assert_eq!(da.decided_by, db.decided_by);
        prop_assert_eq!(da.matched.len(), db.matched.len());
    }

    /// Parsing never panics on arbitrary text.
    #[test]
    fn parse_never_panics(s in ".{0,400}") {
        for ty in reference::TYPES { let _ = parse(&s, *ty); }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// `NotAction: X` equals `Action: all-but-X` over the known action set (from iam-data).
    #[test]
    fn not_action_equals_complement(xs in proptest::sample::subsequence(validate::known_action_patterns_sample(), 1..4), start in any::<prop::sample::Index>()) {
        let known = validate::known_actions();
        let p = Principal::from_arn("arn:aws:iam::111122223333:user/alice").unwrap();
        let ctx = Context::new();
        let doc = |key: &str, list: &Value| serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow", key: list,"Resource":"*"}]}).to_string();
        let not_pol = parse(&doc("NotAction", &serde_json::json!(xs)), PolicyType::Identity).unwrap();
        let x_pol = parse(&doc("Action", &serde_json::json!(xs)), PolicyType::Identity).unwrap();
        let allowed = |pol: &Policy, a: &str| evaluate(&PolicySet { identity: vec![pol], ..Default::default() }, &Request { principal: &p, action: a, resource: "*", resource_account: None, context: &ctx }).decision;
        // The complement: every known action that no pattern in X matches.
        let complement: Vec<&str> = known.iter().copied().filter(|a| allowed(&x_pol, a) != EvalDecision::Allowed).collect();
        let comp_pol = (!complement.is_empty()).then(|| parse(&doc("Action", &serde_json::json!(complement)), PolicyType::Identity).unwrap());
        // With no complement, the principal has no identity policy (actions that need no
        // permission, such as sts:GetCallerIdentity, are still allowed).
        let allowed_by = |pol: Option<&Policy>, a: &str| evaluate(&PolicySet { identity: pol.into_iter().collect(), ..Default::default() }, &Request { principal: &p, action: a, resource: "*", resource_account: None, context: &ctx }).decision;
        for k in 0..256 {
            let a = known[(start.index(known.len()) + k * 7919) % known.len()];
            let x = allowed(&not_pol, a);
            let y = allowed_by(comp_pol.as_ref(), a);
            prop_assert_eq!(x, y, "action {}", a);
        }
    }
}

/// The same differential check over 1,000,000 scenarios. Run with
/// `cargo test --release -p tessera-policy --test properties -- --ignored differential_1m`
/// (or `DIFF_N=... DIFF_SEED=...` to change the count and the first seed).
#[test]
#[ignore]
fn differential_1m() {
    let n: u64 = std::env::var("DIFF_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let first: u64 = std::env::var("DIFF_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1 << 32);
    let principals = testgen::principals();
    for seed in first..first + n {
        let mut rng = Rng::new(seed);
        let s = testgen::scenario(&mut rng, &principals);
        let set = s.set();
        let req = request(&s);
        let fast = evaluate(&set, &req);
        let slow = reference::evaluate(&set, &req);
        assert_eq!(fast.decision, slow, "seed {seed}: fast {fast:?} vs reference {slow:?}\n{s:#?}");
    }
    println!("{n} scenarios: fast == reference");
}
