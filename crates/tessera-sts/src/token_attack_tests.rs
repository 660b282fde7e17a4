//! Session tokens under attack: forged, truncated, bit-flipped, edited, cross-key, rebound,
//! expired and cross-purpose tokens, presented to [`session_credentials`] (the path every
//! `ASIA...` request takes), none accepted. `cargo test` runs 10,000; `bench/token_attack.sh`
//! runs the ignored test with 1,000,000 (docs/BENCHMARKS.md, "Session tokens under attack").

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;

use super::session_credentials;
use super::tokens::{self, Claims, CurrentKey, TokenKeyRecord, TOKEN_KEY_TABLE};
use crate::caller::{CallerKind, SessionInfo};
use crate::clock::ManualClock;
use crate::model::{self, Tag};
use crate::{Config, Services};

const ACCT: &str = "111122223333";
const T0: i64 = 1_700_000_000;
/// Fixed so that a failure can be replayed.
const SEED: u64 = 0x7e55_e7a0_5e55_1011;

/// Header bytes (format and key id) and nonce bytes in front of the ciphertext.
const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The kinds of attack, taken in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    /// Random bytes in the token envelope (a real format byte and key id, or random ones).
    Forged,
    /// A valid token cut at a boundary of its layout (header, nonce, tag) or anywhere.
    Truncated,
    /// A valid token with one bit flipped.
    BitFlip,
    /// A valid token with 2 to 16 bits flipped.
    MultiBitFlip,
    /// A valid token's text with one character replaced, removed or inserted.
    TextEdit,
    /// A token sealed by another Tessera (another key id).
    CrossKeyOtherId,
    /// A token sealed under the same key id with other key bytes.
    CrossKeySameId,
    /// A valid token presented with another access key id.
    OtherAccessKey,
    /// A token that was valid and has expired.
    Expired,
    /// An encoded authorization message (same keys, other purpose) presented as a token.
    AuthzMessage,
}

const ATTACKS: [Attack; 10] = [
    Attack::Forged,
    Attack::Truncated,
    Attack::BitFlip,
    Attack::MultiBitFlip,
    Attack::TextEdit,
    Attack::CrossKeyOtherId,
    Attack::CrossKeySameId,
    Attack::OtherAccessKey,
    Attack::Expired,
    Attack::AuthzMessage,
];

fn services(store: Arc<SqliteStore>, kek: &[u8; 32]) -> Services {
    let clock = Arc::new(ManualClock::new(T0 * 1000));
    Services::new(store, SecretBox::new(kek), clock, Config { endpoint: "http://127.0.0.1:1".into() })
}

fn in_memory(kek: &[u8; 32]) -> Services {
    services(Arc::new(SqliteStore::open_in_memory().unwrap()), kek)
}

/// Claims of a role session; `tags` tags make the claims large enough to be deflated.
fn claims(rng: &mut StdRng, expires_at: i64, tags: usize) -> Claims {
    let kind = CallerKind::AssumedRole {
        role_name: "reader".into(),
        role_path: "/".into(),
        role_id: "AROAAAAAAAAAAAAAAAAAA".into(),
        session_name: format!("s{}", rng.gen::<u32>()),
    };
    let info = SessionInfo {
        issued_at: T0 - 60,
        expires_at,
        tags: (0..tags).map(|i| Tag { key: format!("k{i}"), value: "v".repeat(40) }).collect(),
        issued_by: "AssumeRole".into(),
        ..SessionInfo::default()
    };
    let mut secret = [0u8; 30];
    rng.fill_bytes(&mut secret);
    Claims::new(B64.encode(secret), ACCT, &kind, &info)
}

/// A fresh token of `services` for a fresh access key id.
fn issue(services: &Services, rng: &mut StdRng, expires_at: i64) -> (String, String) {
    let akid = tokens::temporary_access_key_id(ACCT);
    let tags = if rng.gen_bool(0.3) { 12 } else { 0 };
    let token = tokens::issue_token(services, &akid, &claims(rng, expires_at, tags)).unwrap();
    (akid, token)
}

/// The Tessera under attack, and the tokens the attacks start from.
struct Arena {
    /// The target.
    target: Services,
    /// Valid tokens of the target, plain and deflated: `(access key id, token)`.
    valid: Vec<(String, String)>,
    /// The target's current key id (4 bytes).
    key_id: [u8; 4],
    /// Another Tessera (its own key id).
    other: Services,
    /// A Tessera whose key has the target's key id and other bytes.
    twin: Services,
    /// An encoded authorization message of the target.
    message: String,
}

impl Arena {
    fn new(rng: &mut StdRng) -> Arena {
        let target = in_memory(&[7u8; 32]);
        let valid: Vec<_> = (0..16).map(|_| issue(&target, rng, T0 + 3600)).collect();
        let key_hex = tokens::current_token_key_id(&target).unwrap();
        let raw = B64.decode(&valid[0].1).unwrap();
        let key_id: [u8; 4] = raw[1..HEADER_LEN].try_into().unwrap();

        // Another Tessera with the same data-dir key: only the token key differs.
        let mut other = in_memory(&[7u8; 32]);
        while tokens::current_token_key_id(&other).unwrap() == key_hex {
            other = in_memory(&[7u8; 32]);
        }

        // A Tessera whose token key has the target's key id and other key bytes.
        let twin = in_memory(&[8u8; 32]);
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        let record = TokenKeyRecord {
            key_id: key_hex.clone(),
            created: T0,
            sealed: twin.secrets.seal(&format!("sts-token-key/{key_hex}"), &key),
            retired: None,
        };
        {
            let mut w = twin.store.write().unwrap();
            model::save(w.as_mut(), TOKEN_KEY_TABLE, &format!("k/{key_hex}"), &record).unwrap();
            model::save(w.as_mut(), TOKEN_KEY_TABLE, "current", &CurrentKey { key_id: key_hex.clone() }).unwrap();
            w.commit().unwrap();
        }
        assert_eq!(tokens::current_token_key_id(&twin).unwrap(), key_hex);

        let message = super::encode_authorization_message(&target, r#"{"allowed":false}"#).unwrap();
        Arena { target, valid, key_id, other, twin, message }
    }

    fn accepts(&self, akid: &str, token: &str) -> bool {
        session_credentials(&self.target, akid, Some(token)).is_ok()
    }

    fn pick_valid(&self, rng: &mut StdRng) -> (String, Vec<u8>) {
        let (akid, token) = &self.valid[rng.gen_range(0..self.valid.len())];
        (akid.clone(), B64.decode(token).unwrap())
    }

    /// One attacked token of kind `attack`: `(access key id, token)`.
    fn attack(&self, attack: Attack, rng: &mut StdRng) -> (String, String) {
        match attack {
            Attack::Forged => {
                let mut raw = vec![0u8; HEADER_LEN + NONCE_LEN + rng.gen_range(0..400)];
                rng.fill_bytes(&mut raw);
                if rng.gen_bool(0.75) {
                    raw[0] = [tokens::FORMAT_PLAIN, tokens::FORMAT_DEFLATE][rng.gen_range(0..2)];
                    raw[1..HEADER_LEN].copy_from_slice(&self.key_id);
                }
                let (akid, _) = self.pick_valid(rng);
                (akid, B64.encode(raw))
            }
            Attack::Truncated => {
                let (akid, raw) = self.pick_valid(rng);
                let boundaries = [
                    0,
                    1,
                    HEADER_LEN,
                    HEADER_LEN + NONCE_LEN,
                    HEADER_LEN + NONCE_LEN + TAG_LEN,
                    raw.len() - TAG_LEN,
                    raw.len() - 1,
                ];
                let at = match rng.gen_range(0..3) {
                    0 => boundaries[rng.gen_range(0..boundaries.len())],
                    1 => (boundaries[rng.gen_range(0..boundaries.len())] + 1).min(raw.len() - 1),
                    _ => rng.gen_range(0..raw.len()),
                };
                if rng.gen_bool(0.5) {
                    (akid, B64.encode(&raw[..at]))
                } else {
                    // The text cut instead: often not even valid base64.
                    let text = B64.encode(&raw);
                    let at = rng.gen_range(0..text.len());
                    (akid, text[..at].to_string())
                }
            }
            Attack::BitFlip | Attack::MultiBitFlip => {
                let (akid, mut raw) = self.pick_valid(rng);
                let bits = if attack == Attack::BitFlip { 1 } else { rng.gen_range(2..=16) };
                let mut flipped = std::collections::HashSet::new();
                while flipped.len() < bits {
                    flipped.insert(rng.gen_range(0..raw.len() * 8));
                }
                for bit in flipped {
                    raw[bit / 8] ^= 1 << (bit % 8);
                }
                (akid, B64.encode(raw))
            }
            Attack::TextEdit => {
                let (akid, raw) = self.pick_valid(rng);
                let original = B64.encode(&raw);
                let mut text = original.clone().into_bytes();
                const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.";
                loop {
                    let at = rng.gen_range(0..text.len());
                    let c = ALPHABET[rng.gen_range(0..ALPHABET.len())];
                    match rng.gen_range(0..3) {
                        0 => text[at] = c,
                        1 => {
                            text.remove(at);
                        }
                        _ => text.insert(at, c),
                    }
                    // `=` padding is ignored by design; an edit that only pads is no edit.
                    let edited = String::from_utf8(text.clone()).unwrap();
                    if edited.trim_end_matches('=') != original {
                        return (akid, edited);
                    }
                    text = original.clone().into_bytes();
                }
            }
            Attack::CrossKeyOtherId => issue(&self.other, rng, T0 + 3600),
            Attack::CrossKeySameId => issue(&self.twin, rng, T0 + 3600),
            Attack::OtherAccessKey => {
                let (akid, raw) = self.pick_valid(rng);
                let other = match rng.gen_range(0..5) {
                    0 => tokens::temporary_access_key_id(ACCT),
                    1 => akid.to_ascii_lowercase(),
                    2 => format!("{akid} "),
                    3 => String::new(),
                    _ => {
                        let mut b = akid.clone().into_bytes();
                        let at = rng.gen_range(4..b.len());
                        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
                        String::from_utf8(b).unwrap()
                    }
                };
                (other, B64.encode(raw))
            }
            Attack::Expired => {
                let expires_at = [T0, T0 - 1, T0 - 3600, T0 - tokens::MAX_SESSION_SECS][rng.gen_range(0..4)];
                issue(&self.target, rng, expires_at)
            }
            Attack::AuthzMessage => {
                let (akid, _) = self.pick_valid(rng);
                let akid = if rng.gen_bool(0.5) { akid } else { String::new() };
                (akid, self.message.clone())
            }
        }
    }
}

/// Runs `count` attacks (the kinds in turn); panics on the first accepted one. Returns how
/// many of each kind ran.
fn run_attacks(count: usize) -> Vec<(Attack, usize)> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let arena = Arena::new(&mut rng);
    // The untouched tokens are accepted (so that a verifier refusing everything fails here),
    // and the cross-key ones are valid where they were sealed.
    for (akid, token) in &arena.valid {
        assert!(arena.accepts(akid, token), "a valid token was refused");
    }
    for twin in [&arena.other, &arena.twin] {
        let (akid, token) = issue(twin, &mut rng, T0 + 3600);
        assert!(session_credentials(twin, &akid, Some(&token)).is_ok(), "a cross-key token is not valid at home");
    }
    assert!(super::tokens::decode_authorization_message(&arena.target, &arena.message).is_some());

    let mut counts = vec![0usize; ATTACKS.len()];
    for i in 0..count {
        let kind = ATTACKS[i % ATTACKS.len()];
        let (akid, token) = arena.attack(kind, &mut rng);
        assert!(!arena.accepts(&akid, &token), "attack {i} ({kind:?}) was accepted: {akid} {token}");
        counts[i % ATTACKS.len()] += 1;
        if i % 1000 == 999 {
            let (akid, token) = &arena.valid[i % arena.valid.len()];
            assert!(arena.accepts(akid, token), "a valid token was refused after {i} attacks");
        }
    }
    ATTACKS.iter().copied().zip(counts).collect()
}

#[test]
fn ten_thousand_attacked_tokens_are_all_refused() {
    let counts = run_attacks(10_000);
    assert!(counts.iter().all(|(_, n)| *n == 1_000), "{counts:?}");
}

/// The bench-suite run (`bench/token_attack.sh`): `TESSERA_TOKEN_ATTACKS` attacks (default
/// 1,000,000).
#[test]
#[ignore = "bench suite: bench/token_attack.sh"]
fn a_million_attacked_tokens_are_all_refused() {
    let count = std::env::var("TESSERA_TOKEN_ATTACKS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let counts = run_attacks(count);
    let total: usize = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(total, count);
    println!("token attacks refused: {total} ({counts:?})");
}
