//! Session tokens: self-contained, authenticated-encrypted, with rotating keys.
//!
//! A token is `base64url(header || nonce || ciphertext)`:
//! - header (5 bytes): a format byte ([`FORMAT_PLAIN`] or [`FORMAT_DEFLATE`]) and the 4-byte
//!   id of the token key that sealed it;
//! - nonce: 24 random bytes (XChaCha20-Poly1305, so random nonces never collide in practice);
//! - ciphertext: the [`Claims`] (compact JSON, deflated when that is smaller), sealed with the
//!   token key, with associated data binding the header and the temporary access key id.
//!
//! Nothing is written per session: the token carries the secret access key, the principal and
//! the session facts. Token keys are 32 random bytes, stored in table [`TOKEN_KEY_TABLE`] sealed
//! by the data dir's [`SecretBox`](tessera_store::secrets::SecretBox), and cached in memory
//! ([`StsState`]) so that verifying a token touches no storage. Rotation
//! ([`rotate_token_key`]) makes a new current key and keeps the old ones for verification until
//! every token they sealed has expired.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex, RwLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use tessera_store::{transact, ReadTxn, StoreError};
use tessera_wire::AwsError;

use crate::caller::{Caller, CallerKind, SessionInfo, WorkloadIdentity};
use crate::ids::ALNUM_UPPER as BASE32;
use crate::model::{self, Tag};
use crate::{internal, Services};

/// Table of token keys: `k/<key id>` → [`TokenKeyRecord`], `current` → [`CurrentKey`].
pub const TOKEN_KEY_TABLE: &str = "sts_token_key";

/// Format byte of a token whose claims are plain compact JSON.
pub const FORMAT_PLAIN: u8 = 0x01;
/// Format byte of a token whose claims are deflated compact JSON.
pub const FORMAT_DEFLATE: u8 = 0x02;
/// Format byte of an encoded authorization message (DecodeAuthorizationMessage).
const FORMAT_AUTHZ_MESSAGE: u8 = 0x11;
/// Format byte of a workload identity context assertion (IssueWorkloadIdentityContext).
const FORMAT_WORKLOAD_CONTEXT: u8 = 0x21;

/// The longest any session lives (GetSessionToken / GetFederationToken: 36 hours). A retired
/// key is kept this long after it stops sealing tokens.
pub const MAX_SESSION_SECS: i64 = 129_600;

/// Claims are deflated when their JSON is longer than this (session policies, many tags).
const DEFLATE_ABOVE: usize = 320;
/// Longest claims JSON accepted after inflating (a bound against inflation bombs).
const MAX_CLAIMS: usize = 64 * 1024;
/// How long the in-memory idea of the current key is trusted before the store is asked again
/// (a `tessera keys rotate` from another process is seen within this time).
const CURRENT_KEY_TTL_MILLIS: i64 = 60_000;
/// Least time between two store reloads caused by an unknown key id in a presented token.
const MISS_RELOAD_MILLIS: i64 = 1_000;

const HEADER_LEN: usize = 5;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const TOKEN_AAD: &[u8] = b"tessera/sts-session-token/v1";
const AUTHZ_AAD: &[u8] = b"tessera/sts-authorization-message/v1";
const WORKLOAD_CONTEXT_AAD: &[u8] = b"tessera/sts-workload-context/v1";

/// A stored token key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenKeyRecord {
    /// 8 hex digits (the 4 bytes in the token header).
    pub key_id: String,
    /// When it was made (epoch seconds).
    pub created: i64,
    /// The 32 key bytes, sealed by the SecretBox under context `sts-token-key/<key id>`.
    pub sealed: String,
    /// When it stopped being the current key, if it has.
    #[serde(default)]
    pub retired: Option<i64>,
}

impl TokenKeyRecord {
    fn verify_until(&self) -> Option<i64> {
        self.retired.map(|r| r + MAX_SESSION_SECS)
    }
}

/// The `current` row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurrentKey {
    /// Id of the key that seals new tokens.
    pub key_id: String,
}

fn seal_context(key_id: &str) -> String {
    format!("sts-token-key/{key_id}")
}

fn row_key(key_id: &str) -> String {
    format!("k/{key_id}")
}

fn key_id_bytes(key_id: &str) -> Option<[u8; 4]> {
    if key_id.len() != 8 {
        return None;
    }
    let mut out = [0u8; 4];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(key_id.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn key_id_hex(id: [u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

struct LoadedKey {
    cipher: XChaCha20Poly1305,
    verify_until: Option<i64>,
}

type KeyMap = HashMap<[u8; 4], Arc<LoadedKey>>;

#[derive(Default)]
struct KeyCache {
    current: Option<[u8; 4]>,
    keys: KeyMap,
    /// When `current` was last read from the store (clock millis).
    loaded_at: i64,
    /// When an unknown key id last caused a reload.
    miss_reload_at: i64,
}

/// STS state kept in memory for the life of the process: the decrypted token keys, the
/// throttle of `RoleLastUsed` writes and the OIDC issuers' keys. Safe to share between threads.
#[derive(Default)]
pub struct StsState {
    cache: RwLock<KeyCache>,
    /// Role key → last time RoleLastUsed was written (epoch seconds).
    pub role_last_used: Mutex<HashMap<String, i64>>,
    /// OIDC issuers' keys (`AssumeRoleWithWebIdentity`).
    pub oidc: super::oidc::OidcState,
}

impl std::fmt::Debug for StsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StsState(..)")
    }
}

fn load_all(services: &Services, r: &dyn ReadTxn) -> Result<(Option<[u8; 4]>, KeyMap), AwsError> {
    let current: Option<CurrentKey> = model::load(r, TOKEN_KEY_TABLE, "current").map_err(internal)?;
    let rows = r.scan(TOKEN_KEY_TABLE, "k/", None, usize::MAX).map_err(internal)?;
    let mut keys = HashMap::new();
    for (_, rec) in model::decode_rows::<TokenKeyRecord>(TOKEN_KEY_TABLE, rows).map_err(internal)? {
        let Some(id) = key_id_bytes(&rec.key_id) else { continue };
        let raw = services.secrets.open(&seal_context(&rec.key_id), &rec.sealed).map_err(internal)?;
        let Ok(raw) = <[u8; 32]>::try_from(raw.as_slice()) else {
            return Err(internal(StoreError::Unseal));
        };
        keys.insert(
            id,
            Arc::new(LoadedKey { cipher: XChaCha20Poly1305::new(&raw.into()), verify_until: rec.verify_until() }),
        );
    }
    Ok((current.and_then(|c| key_id_bytes(&c.key_id)), keys))
}

fn new_key_record(services: &Services, now: i64, taken: &dyn Fn(&str) -> bool) -> TokenKeyRecord {
    let mut rng = rand::rngs::OsRng;
    let key_id = loop {
        let candidate = key_id_hex(rng.gen());
        if !taken(&candidate) {
            break candidate;
        }
    };
    let mut raw = [0u8; 32];
    rng.fill_bytes(&mut raw);
    let sealed = services.secrets.seal(&seal_context(&key_id), &raw);
    TokenKeyRecord { key_id, created: now, sealed, retired: None }
}

impl StsState {
    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, KeyCache> {
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }

    fn reload(&self, services: &Services, now_millis: i64) -> Result<(), AwsError> {
        let (current, keys) = {
            let r = services.store.read().map_err(internal)?;
            load_all(services, r.as_ref())?
        };
        let mut cache = self.write_cache();
        cache.current = current;
        cache.keys = keys;
        cache.loaded_at = now_millis;
        Ok(())
    }

    /// The key that seals new tokens, creating the first one on first use.
    fn current_key(&self, services: &Services) -> Result<([u8; 4], Arc<LoadedKey>), AwsError> {
        let now_millis = services.clock.now_millis();
        {
            let cache = self.read_cache();
            if let Some(id) = cache.current {
                if now_millis - cache.loaded_at < CURRENT_KEY_TTL_MILLIS {
                    if let Some(k) = cache.keys.get(&id) {
                        return Ok((id, k.clone()));
                    }
                }
            }
        }
        self.reload(services, now_millis)?;
        {
            let cache = self.read_cache();
            if let Some(id) = cache.current {
                if let Some(k) = cache.keys.get(&id) {
                    return Ok((id, k.clone()));
                }
            }
        }
        // First use: make the first key (inside the write transaction, so two threads racing
        // here end with one key).
        let now = services.clock.now_secs();
        transact(services.store.as_ref(), |txn| -> Result<(), StoreError> {
            if model::load::<CurrentKey>(txn, TOKEN_KEY_TABLE, "current")?.is_some() {
                return Ok(());
            }
            let rec = new_key_record(services, now, &|_| false);
            model::save(txn, TOKEN_KEY_TABLE, &row_key(&rec.key_id), &rec)?;
            model::save(txn, TOKEN_KEY_TABLE, "current", &CurrentKey { key_id: rec.key_id.clone() })
        })
        .map_err(internal)?;
        self.reload(services, now_millis)?;
        let cache = self.read_cache();
        let id = cache.current.ok_or_else(AwsError::internal)?;
        let key = cache.keys.get(&id).cloned().ok_or_else(AwsError::internal)?;
        Ok((id, key))
    }

    /// The key with id `id`, if it is known and still verifies tokens at `now` (seconds).
    fn verification_key(&self, services: &Services, id: [u8; 4]) -> Option<Arc<LoadedKey>> {
        let now_millis = services.clock.now_millis();
        let found = {
            let cache = self.read_cache();
            match cache.keys.get(&id) {
                Some(k) => Some(k.clone()),
                None if now_millis - cache.miss_reload_at < MISS_RELOAD_MILLIS && cache.miss_reload_at != 0 => {
                    return None
                }
                None => None,
            }
        };
        let key = match found {
            Some(k) => k,
            None => {
                // Perhaps another process rotated; look once (rate-limited).
                self.write_cache().miss_reload_at = now_millis.max(1);
                if self.reload(services, now_millis).is_err() {
                    return None;
                }
                self.read_cache().keys.get(&id).cloned()?
            }
        };
        match key.verify_until {
            Some(until) if now_millis.div_euclid(1000) > until => None,
            _ => Some(key),
        }
    }
}

/// Make a new current token key; the previous one keeps verifying the tokens it sealed until
/// they have all expired ([`MAX_SESSION_SECS`]), and keys past that are deleted. Returns the
/// new key id. (`tessera keys rotate`.)
pub fn rotate_token_key(services: &Services) -> Result<String, AwsError> {
    let now = services.clock.now_secs();
    let new_id = transact(services.store.as_ref(), |txn| -> Result<String, StoreError> {
        let rows = txn.scan(TOKEN_KEY_TABLE, "k/", None, usize::MAX)?;
        let existing = model::decode_rows::<TokenKeyRecord>(TOKEN_KEY_TABLE, rows)?;
        let current: Option<CurrentKey> = model::load(txn, TOKEN_KEY_TABLE, "current")?;
        for (row, mut rec) in existing.iter().cloned() {
            if current.as_ref().is_some_and(|c| c.key_id == rec.key_id) {
                rec.retired = Some(now);
                model::save(txn, TOKEN_KEY_TABLE, &row, &rec)?;
            } else if rec.verify_until().is_some_and(|until| until < now) {
                txn.delete(TOKEN_KEY_TABLE, &row)?;
            }
        }
        let taken = |id: &str| existing.iter().any(|(_, r)| r.key_id == id);
        let rec = new_key_record(services, now, &taken);
        model::save(txn, TOKEN_KEY_TABLE, &row_key(&rec.key_id), &rec)?;
        model::save(txn, TOKEN_KEY_TABLE, "current", &CurrentKey { key_id: rec.key_id.clone() })?;
        Ok(rec.key_id)
    })
    .map_err(internal)?;
    services.sts.reload(services, services.clock.now_millis())?;
    tracing::info!(key_id = %new_id, "rotated the STS token key");
    Ok(new_id)
}

/// The id of the key that seals new tokens (made on first use).
pub fn current_token_key_id(services: &Services) -> Result<String, AwsError> {
    services.sts.current_key(services).map(|(id, _)| key_id_hex(id))
}

/// What a token carries, in a compact form (short field names, empty fields left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Secret access key.
    #[serde(rename = "s")]
    pub secret: String,
    /// Account of the principal.
    #[serde(rename = "a")]
    pub account: String,
    /// The principal.
    #[serde(rename = "p")]
    pub principal: Principal,
    /// Issue time (epoch seconds).
    #[serde(rename = "i")]
    pub issued_at: i64,
    /// Expiry (epoch seconds).
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// When MFA was presented, if it was.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub mfa_at: Option<i64>,
    /// Source identity.
    #[serde(rename = "si", default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Session tags.
    #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Transitive tag keys.
    #[serde(rename = "tt", default, skip_serializing_if = "Vec::is_empty")]
    pub transitive_tag_keys: Vec<String>,
    /// Inline session policy (minified).
    #[serde(rename = "sp", default, skip_serializing_if = "Option::is_none")]
    pub session_policy: Option<String>,
    /// Managed session policy ARNs.
    #[serde(rename = "pa", default, skip_serializing_if = "Vec::is_empty")]
    pub session_policy_arns: Vec<String>,
    /// Role chaining.
    #[serde(rename = "c", default, skip_serializing_if = "is_false")]
    pub chained: bool,
    /// Federated provider.
    #[serde(rename = "fp", default, skip_serializing_if = "Option::is_none")]
    pub federated_provider: Option<String>,
    /// The STS operation that issued it.
    #[serde(rename = "o", default, skip_serializing_if = "String::is_empty")]
    pub issued_by: String,
    /// The principal that called STS.
    #[serde(rename = "src", default, skip_serializing_if = "Option::is_none")]
    pub source_principal_arn: Option<String>,
    /// The session's workload identity.
    #[serde(rename = "wi", default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentity>,
    /// Scope-down policies of `GetScopedCredentials` (minified, oldest first).
    #[serde(rename = "sc", default, skip_serializing_if = "Vec::is_empty")]
    pub scope_policies: Vec<String>,
    /// Filler that makes the token at least `MinimumSessionTokenSize` long (never read).
    #[serde(rename = "z", default, skip_serializing_if = "String::is_empty")]
    pub padding: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The principal of a session, compactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Principal {
    /// Account root (GetSessionToken).
    #[serde(rename = "R")]
    Root,
    /// IAM user (GetSessionToken): name, path, user id.
    #[serde(rename = "U")]
    User(String, String, String),
    /// Role session: role name, role path, role id, session name.
    #[serde(rename = "A")]
    AssumedRole(String, String, String, String),
    /// Federated user: name, IAM user name ("" for the account root).
    #[serde(rename = "F")]
    FederatedUser(String, String),
}

impl Claims {
    /// Claims from the caller a session will have and its session facts.
    pub fn new(secret: String, account: &str, kind: &CallerKind, info: &SessionInfo) -> Claims {
        let SessionInfo {
            issued_at,
            expires_at,
            mfa_authenticated,
            mfa_authenticated_at,
            source_identity,
            tags,
            transitive_tag_keys,
            session_policy,
            session_policy_arns,
            chained,
            federated_provider,
            issued_by,
            source_principal_arn,
            workload_identity,
            scope_policies,
        } = info.clone();
        let principal = match kind.clone() {
            CallerKind::Root => Principal::Root,
            CallerKind::User { name, path, user_id } => Principal::User(name, path, user_id),
            CallerKind::AssumedRole { role_name, role_path, role_id, session_name } => {
                Principal::AssumedRole(role_name, role_path, role_id, session_name)
            }
            CallerKind::FederatedUser { name, user_name } => Principal::FederatedUser(name, user_name),
        };
        Claims {
            secret,
            account: account.to_string(),
            principal,
            issued_at,
            expires_at,
            mfa_at: if mfa_authenticated { Some(mfa_authenticated_at.unwrap_or(issued_at)) } else { None },
            source_identity,
            tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
            transitive_tag_keys,
            session_policy,
            session_policy_arns,
            chained,
            federated_provider,
            issued_by,
            source_principal_arn,
            workload_identity,
            scope_policies,
            padding: String::new(),
        }
    }

    /// The session facts.
    pub fn session_info(&self) -> SessionInfo {
        SessionInfo {
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            mfa_authenticated: self.mfa_at.is_some(),
            mfa_authenticated_at: self.mfa_at,
            source_identity: self.source_identity.clone(),
            tags: self.tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect(),
            transitive_tag_keys: self.transitive_tag_keys.clone(),
            session_policy: self.session_policy.clone(),
            session_policy_arns: self.session_policy_arns.clone(),
            chained: self.chained,
            federated_provider: self.federated_provider.clone(),
            issued_by: self.issued_by.clone(),
            source_principal_arn: self.source_principal_arn.clone(),
            workload_identity: self.workload_identity.clone(),
            scope_policies: self.scope_policies.clone(),
        }
    }

    /// The caller that signs with these credentials.
    pub fn caller(&self, access_key_id: &str) -> Caller {
        let account = &self.account;
        let (arn, user_id, kind) = match &self.principal {
            Principal::Root => (format!("arn:aws:iam::{account}:root"), account.clone(), CallerKind::Root),
            Principal::User(name, path, id) => (
                format!("arn:aws:iam::{account}:user{path}{name}"),
                id.clone(),
                CallerKind::User { name: name.clone(), path: path.clone(), user_id: id.clone() },
            ),
            Principal::AssumedRole(role, path, id, session) => (
                format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
                format!("{id}:{session}"),
                CallerKind::AssumedRole {
                    role_name: role.clone(),
                    role_path: path.clone(),
                    role_id: id.clone(),
                    session_name: session.clone(),
                },
            ),
            Principal::FederatedUser(name, user) => (
                format!("arn:aws:sts::{account}:federated-user/{name}"),
                format!("{account}:{name}"),
                CallerKind::FederatedUser { name: name.clone(), user_name: user.clone() },
            ),
        };
        Caller {
            account: account.clone(),
            arn,
            user_id,
            kind,
            access_key_id: access_key_id.to_string(),
            session: Some(self.session_info()),
        }
    }
}

fn aad(domain: &[u8], header: &[u8], bound: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(domain.len() + header.len() + bound.len() + 1);
    v.extend_from_slice(domain);
    v.extend_from_slice(header);
    v.push(0);
    v.extend_from_slice(bound.as_bytes());
    v
}

fn seal_blob(services: &Services, format: u8, domain: &[u8], bound: &str, body: &[u8]) -> Result<String, AwsError> {
    let (id, key) = services.sts.current_key(services)?;
    let mut header = [0u8; HEADER_LEN];
    header[0] = format;
    header[1..].copy_from_slice(&id);
    let mut nonce = [0u8; NONCE_LEN];
    rand::thread_rng().fill_bytes(&mut nonce);
    let ct = key
        .cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: body, aad: &aad(domain, &header, bound) })
        .map_err(|_| AwsError::internal())?;
    let mut raw = Vec::with_capacity(HEADER_LEN + NONCE_LEN + ct.len());
    raw.extend_from_slice(&header);
    raw.extend_from_slice(&nonce);
    raw.extend_from_slice(&ct);
    Ok(B64.encode(raw))
}

/// Open a sealed blob; `None` for anything malformed, unknown or tampered.
fn open_blob(services: &Services, text: &str, domain: &[u8], bound: &str) -> Option<(u8, Vec<u8>)> {
    let raw = B64.decode(text.trim_end_matches('=')).ok()?;
    if raw.len() < HEADER_LEN + NONCE_LEN + TAG_LEN {
        return None;
    }
    let (header, rest) = raw.split_at(HEADER_LEN);
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let id: [u8; 4] = header[1..].try_into().ok()?;
    let key = services.sts.verification_key(services, id)?;
    let body =
        key.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad(domain, header, bound) }).ok()?;
    Some((header[0], body))
}

fn deflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

fn inflate(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut dec = flate2::read::DeflateDecoder::new(bytes).take(MAX_CLAIMS as u64 + 1);
    dec.read_to_end(&mut out).ok()?;
    (out.len() <= MAX_CLAIMS).then_some(out)
}

/// Deflated length of `bytes` (PackedPolicySize).
pub fn deflated_len(bytes: &[u8]) -> usize {
    deflate(bytes).map_or(bytes.len(), |d| d.len())
}

/// Seal `claims` into a session token bound to `access_key_id`.
pub fn issue_token(services: &Services, access_key_id: &str, claims: &Claims) -> Result<String, AwsError> {
    let json = serde_json::to_vec(claims).map_err(|_| AwsError::internal())?;
    let (format, body) = if json.len() > DEFLATE_ABOVE {
        match deflate(&json) {
            Some(d) if d.len() < json.len() => (FORMAT_DEFLATE, d),
            _ => (FORMAT_PLAIN, json),
        }
    } else {
        (FORMAT_PLAIN, json)
    };
    seal_blob(services, format, TOKEN_AAD, access_key_id, &body)
}

/// Length of the base64url (unpadded) text of `n` bytes.
fn b64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}

/// [`issue_token`], made at least `min_len` characters long (`MinimumSessionTokenSize` of
/// `GetScopedCredentials`). A shorter token is sealed again with its claims in plain form (not
/// deflated, so the filler counts whole) and filler in [`Claims::padding`] sized so that the
/// token reaches `min_len`: one character over when base64 cannot end there, at most eight
/// over when fewer than eight were missing (the filler field's own length).
pub fn issue_token_with_min_len(
    services: &Services,
    access_key_id: &str,
    claims: &Claims,
    min_len: usize,
) -> Result<String, AwsError> {
    let token = issue_token(services, access_key_id, claims)?;
    if token.len() >= min_len {
        return Ok(token);
    }
    let mut padded = claims.clone();
    padded.padding.clear();
    let plain = serde_json::to_vec(&padded).map_err(|_| AwsError::internal())?.len();
    let overhead = HEADER_LEN + NONCE_LEN + TAG_LEN;
    // The fewest claims bytes whose sealed token reaches `min_len`.
    let mut json_len = (min_len * 3 / 4).saturating_sub(overhead);
    while b64_len(overhead + json_len) < min_len {
        json_len += 1;
    }
    // `,"z":"<filler>"` adds the filler's length and 7.
    const FIELD: usize = 7;
    if json_len > plain {
        let filler = (json_len - plain).saturating_sub(FIELD).max(1);
        padded.padding = "0".repeat(filler);
    }
    let json = serde_json::to_vec(&padded).map_err(|_| AwsError::internal())?;
    seal_blob(services, FORMAT_PLAIN, TOKEN_AAD, access_key_id, &json)
}

/// The claims of `token`, if it was sealed by a known key for `access_key_id` and is intact.
/// Expiry is not checked here.
pub fn open_token(services: &Services, access_key_id: &str, token: &str) -> Option<Claims> {
    let (format, body) = open_blob(services, token, TOKEN_AAD, access_key_id)?;
    let json = match format {
        FORMAT_PLAIN => body,
        FORMAT_DEFLATE => inflate(&body)?,
        _ => return None,
    };
    serde_json::from_slice(&json).ok()
}

/// Seal an authorization-failure description (JSON) into the opaque message that
/// `DecodeAuthorizationMessage` opens. Messages stay decodable while their key verifies tokens.
pub fn encode_authorization_message(services: &Services, json: &str) -> Result<String, AwsError> {
    let body = deflate(json.as_bytes()).ok_or_else(AwsError::internal)?;
    seal_blob(services, FORMAT_AUTHZ_MESSAGE, AUTHZ_AAD, "", &body)
}

/// Open a message made by [`encode_authorization_message`].
pub fn decode_authorization_message(services: &Services, message: &str) -> Option<String> {
    let (format, body) = open_blob(services, message.trim(), AUTHZ_AAD, "")?;
    if format != FORMAT_AUTHZ_MESSAGE {
        return None;
    }
    String::from_utf8(inflate(&body)?).ok()
}

/// Seal the claims of a workload identity context (JSON, deflated) into the `ContextAssertion`
/// that `AssumeRole` accepts in `ProvidedContexts`: sealed like a session token (XChaCha20-Poly1305
/// under the current token key, whose id is in the header), bound to the provider ARN the
/// context names, so it opens under no other `ProviderArn`.
pub fn seal_context_assertion(services: &Services, provider_arn: &str, json: &[u8]) -> Result<String, AwsError> {
    let body = deflate(json).ok_or_else(AwsError::internal)?;
    seal_blob(services, FORMAT_WORKLOAD_CONTEXT, WORKLOAD_CONTEXT_AAD, provider_arn, &body)
}

/// The JSON sealed by [`seal_context_assertion`] for `provider_arn`; `None` for anything
/// malformed, tampered, sealed by an unknown or retired key, or bound to another provider.
pub fn open_context_assertion(services: &Services, provider_arn: &str, assertion: &str) -> Option<Vec<u8>> {
    let (format, body) = open_blob(services, assertion.trim(), WORKLOAD_CONTEXT_AAD, provider_arn)?;
    (format == FORMAT_WORKLOAD_CONTEXT).then_some(())?;
    inflate(&body)
}

/// A new temporary access key id: `ASIA`, the account id in 8 base-32 characters (40 bits),
/// then 8 random base-32 characters. `GetAccessKeyInfo` reads the account back from it.
pub fn temporary_access_key_id(account: &str) -> String {
    let n: u64 = account.parse().unwrap_or(0) & ((1 << 40) - 1);
    let mut id = String::with_capacity(20);
    id.push_str("ASIA");
    for i in (0..8).rev() {
        id.push(BASE32[((n >> (5 * i)) & 31) as usize] as char);
    }
    id.push_str(&crate::ids::key_characters(8));
    id
}

/// The account id encoded in a temporary access key id made by [`temporary_access_key_id`].
pub fn account_of_temporary_key(access_key_id: &str) -> Option<String> {
    let rest = access_key_id.strip_prefix("ASIA")?;
    if rest.len() != 16 {
        return None;
    }
    let mut n: u64 = 0;
    for c in rest.bytes().take(8) {
        let v = BASE32.iter().position(|&b| b == c)?;
        n = (n << 5) | v as u64;
    }
    (n <= 999_999_999_999).then(|| format!("{n:012}"))
}
