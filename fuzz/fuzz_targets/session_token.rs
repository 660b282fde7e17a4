//! STS session tokens: no string opens as a token unless it is one that was issued. The input
//! is either a whole token or edits (byte XORs, a cut) applied to a valid token, presented for
//! its own access key id or another; anything accepted must decode to the issued bytes, for
//! the access key id it was issued to. Encoded authorization messages are fuzzed the same way.
#![no_main]
use std::sync::OnceLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use tessera_fuzz::{text_fields, world, ACCOUNT, NOW};
use tessera_services::caller::{CallerKind, SessionInfo};
use tessera_services::sts::{self, tokens};

const AKID: &str = "ASIAFUZZFUZZFUZZFUZZ";

struct Issued {
    raw: Vec<u8>,
    message: String,
}

fn issued() -> &'static Issued {
    static ISSUED: OnceLock<Issued> = OnceLock::new();
    ISSUED.get_or_init(|| {
        let services = &world().services;
        let info = SessionInfo { issued_at: NOW, expires_at: NOW + 3600, ..SessionInfo::default() };
        let kind = CallerKind::AssumedRole {
            role_name: "reader".into(),
            role_path: "/".into(),
            role_id: "AROAFUZZFUZZFUZZFUZZ".into(),
            session_name: "fuzz".into(),
        };
        let claims = tokens::Claims::new("s".repeat(40), ACCOUNT, &kind, &info);
        let token = tokens::issue_token(services, AKID, &claims).expect("issuing a token");
        let raw = B64.decode(&token).expect("a token is base64url");
        assert!(sts::session_credentials(services, AKID, Some(&token)).is_ok());
        let message = sts::encode_authorization_message(services, "{}").expect("sealing a message");
        Issued { raw, message }
    })
}

fn accepted(akid: &str, token: &str) -> bool {
    sts::session_credentials(&world().services, akid, Some(token)).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let issued = issued();
    let services = &world().services;
    let Some((&mode, rest)) = data.split_first() else { return };
    let candidate = if mode & 1 == 0 {
        // A whole token, as given.
        String::from_utf8_lossy(rest).into_owned()
    } else {
        // Edits of the valid token: XOR the input over its bytes from an offset, then cut.
        let mut raw = issued.raw.clone();
        let offset = usize::from(rest.first().copied().unwrap_or(0)) % raw.len();
        for (b, x) in raw[offset..].iter_mut().zip(rest.iter().skip(2)) {
            *b ^= x;
        }
        let cut = usize::from(rest.get(1).copied().unwrap_or(0));
        if cut > 0 {
            raw.truncate(raw.len().saturating_sub(cut));
        }
        B64.encode(raw)
    };
    let akid = if mode & 2 == 0 { AKID.to_string() } else { text_fields(rest, 2)[1].clone() };
    if accepted(&akid, &candidate) {
        let decoded = B64.decode(candidate.trim_end_matches('='));
        assert_eq!(decoded.ok().as_deref(), Some(issued.raw.as_slice()), "a forged token was accepted");
        assert_eq!(akid, AKID, "a token was accepted for another access key id");
    }
    assert!(tokens::open_token(services, &akid, &issued.message).is_none());
    if let Some(m) = tokens::decode_authorization_message(services, &candidate) {
        assert_eq!(m, "{}");
        assert_eq!(B64.decode(candidate.trim().trim_end_matches('=')).ok(), B64.decode(&issued.message).ok());
    }
    let _ = tokens::account_of_temporary_key(&candidate);
});
