//! OIDC ID tokens (`AssumeRoleWithWebIdentity`): arbitrary tokens never panic the verifier, and
//! nothing but a token the issuer signed is accepted. The input is either a whole token, edits
//! of a valid token's text, or claims the fuzzer chose, signed by the issuer (those must pass or
//! fail by the claim checks alone: times, audience, subject).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tessera_fuzz::{world, ACCOUNT, CLIENT_ID, ISSUER, NOW};
use tessera_services::sts::oidc;

fn valid() -> &'static String {
    static VALID: OnceLock<String> = OnceLock::new();
    VALID.get_or_init(|| {
        let w = world();
        let token = w.sign(&w.claims());
        assert!(oidc::verify_token(&w.services, ACCOUNT, &token, NOW).is_ok(), "the valid token is refused");
        token
    })
}

/// `header.payload` of a JWT: what its signature covers.
fn signed_part(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(signed, _)| signed)
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let valid = valid();
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            if oidc::verify_token(&w.services, ACCOUNT, &token, NOW).is_ok() {
                assert_eq!(signed_part(&token), signed_part(valid), "an unsigned token was accepted");
            }
        }
        1 => {
            // Edits of the valid token's text: XOR from an offset, then cut.
            let mut bytes = valid.clone().into_bytes();
            let offset = usize::from(rest.first().copied().unwrap_or(0)) * 2 % bytes.len();
            for (b, x) in bytes[offset..].iter_mut().zip(rest.iter().skip(2)) {
                *b ^= x;
            }
            bytes.truncate(bytes.len().saturating_sub(usize::from(rest.get(1).copied().unwrap_or(0))));
            let token = String::from_utf8_lossy(&bytes);
            if oidc::verify_token(&w.services, ACCOUNT, &token, NOW).is_ok() {
                assert_eq!(signed_part(&token), signed_part(valid), "an edited token was accepted");
            }
        }
        _ => {
            // Claims the fuzzer chose, signed by the issuer.
            let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(rest) else { return };
            claims.insert("iss".into(), ISSUER.into());
            let token = w.sign(&Value::Object(claims.clone()));
            let verdict = oidc::verify_token(&w.services, ACCOUNT, &token, NOW);
            let auds: Vec<&str> = match claims.get("aud") {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let audience_ok = auds.contains(&CLIENT_ID) || claims.get("azp").and_then(Value::as_str) == Some(CLIENT_ID);
            let subject_ok = claims.get("sub").and_then(Value::as_str).is_some_and(|s| !s.is_empty());
            let date =
                |name: &str| claims.get(name).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f.floor() as i64)));
            let exp_ok = date("exp").is_some_and(|e| NOW < e.saturating_add(oidc::LEEWAY_SECS));
            if let Ok(t) = &verdict {
                assert!(audience_ok && subject_ok && exp_ok, "accepted without a valid audience, subject and expiry");
                assert_eq!(t.audience, CLIENT_ID);
            }
        }
    }
});
