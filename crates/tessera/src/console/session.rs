//! Console sessions, CSRF tokens and sign-in lockout, in the store.
//!
//! A session is a random 256-bit id in the `tessera-console` cookie; the server keeps what the
//! session is (anonymous, waiting for an MFA code, signed in) in the store's
//! [`table::SESSION`], keyed by the SHA-256 of the id (the id itself is never stored), its
//! contents sealed with the master key (they hold a role session's token). Failed sign-ins and
//! recent roles are store tables too. So every server on a shared store (PostgreSQL) knows every
//! session, a lockout counts sign-ins through all of them, and a restart keeps sessions. Every
//! session has a synchronizer CSRF token that each POST must echo.
//!
//! A store failure reads as "no session" (the user is sent to sign in) and is logged.

use std::sync::Arc;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_services::{Caller, Services};
use tessera_store::{ReadTxn, StoreError, WriteTxn};

/// Name of the session cookie.
pub const COOKIE: &str = "tessera-console";
/// How long an anonymous (not yet signed-in) session lives.
pub const ANONYMOUS_SECS: i64 = 1800;
/// How long the MFA step may take after the password was accepted.
pub const MFA_STEP_SECS: i64 = 300;
/// Default length of a signed-in session (12 hours, as AWS's console sessions).
pub const DEFAULT_SESSION_SECS: i64 = 43_200;
/// Failed sign-ins (password or MFA code) in a row that lock a user out.
pub const LOCKOUT_FAILURES: u32 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_SECS: i64 = 900;
/// Most sessions kept at once; past that, expired ones are dropped and then the oldest.
const MAX_SESSIONS: usize = 20_000;
/// Most roles in a user's recent-roles list.
pub const RECENT_ROLES: usize = 5;
/// Rows a new session looks at to drop expired ones (the table stays near its live size).
const SWEEP_ROWS: usize = 64;

/// The console's store tables.
pub mod table {
    /// Sessions: SHA-256 (hex) of the id -> [`super::StoredSession`].
    pub const SESSION: &str = "console_session";
    /// Failed sign-ins: SHA-256 (hex) of `account/user` -> count and lockout end.
    pub const SIGNIN_FAILURE: &str = "console_signin_failure";
    /// Recent roles: principal ARN -> list, newest first.
    pub const RECENT_ROLE: &str = "console_recent_role";
}

/// A random token: 32 bytes from the OS, hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two tokens.
pub fn tokens_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A role the user switched to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActiveRole {
    /// `ASIA...` of the AssumeRole credentials.
    pub access_key_id: String,
    /// Their session token (the console resolves the caller from it on every request, so the
    /// role session expires with the credentials).
    pub session_token: String,
    /// The role's entry in the recent list.
    pub entry: RoleEntry,
}

/// What identifies a role in the Switch Role form and the recent list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleEntry {
    /// Account id.
    pub account: String,
    /// Role name, possibly with a path (`path/name`).
    pub role: String,
    /// Display name.
    pub display: String,
    /// Colour name (one of [`COLOURS`]).
    pub colour: String,
}

/// The colours the Switch Role form offers (name, CSS class suffix is the name).
pub const COLOURS: &[&str] = &["red", "orange", "yellow", "green", "blue"];

/// Who is signed in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// The signed-in principal (IAM user or root), with the console session's facts.
    pub base: Caller,
    /// `Sandy` or `root`.
    pub label: String,
    /// The role switched to, if any.
    pub role: Option<ActiveRole>,
    /// The IAM user's login profile has `PasswordResetRequired`: every page but the password
    /// change is refused until the user has chosen a new password.
    #[serde(default)]
    pub password_reset: bool,
}

/// What a session is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum State {
    /// Not signed in (has a CSRF token for the sign-in form).
    Anonymous,
    /// Password accepted; waiting for the code of MFA device `serial`.
    MfaPending {
        /// Account id.
        account: String,
        /// User name.
        user: String,
        /// Device serial.
        serial: String,
        /// The root user (then `user` is the email it signed in with).
        #[serde(default)]
        root: bool,
    },
    /// Signed in.
    SignedIn(Box<Identity>),
    /// A verified SAML response offering several roles: the user picks one
    /// (`/console/saml/choose`).
    SamlPending {
        /// The response, base64, as the IdP posted it (not spent yet).
        response: String,
        /// `(role ARN, provider ARN)` pairs offered.
        roles: Vec<(String, String)>,
        /// Console session length asked for (`SessionDuration`).
        secs: i64,
    },
}

/// One console session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// Synchronizer CSRF token.
    pub csrf: String,
    /// When it was created (epoch seconds).
    pub created: i64,
    /// When it ends (epoch seconds).
    pub expires: i64,
    /// What it is.
    pub state: State,
    /// A message for the next page.
    pub flash: Option<String>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Failures {
    count: u32,
    locked_until: i64,
}

/// A session's row: when it ends and was made (readable for expiry sweeps), and the
/// [`Session`] sealed with the master key, bound to the row's key.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredSession {
    created: i64,
    expires: i64,
    sealed: String,
}

/// The store key of session `id` (or of a sign-in name): its SHA-256, hex.
fn key_of(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn seal_context(key: &str) -> String {
    format!("{}/{key}", table::SESSION)
}

fn decode<T: serde::de::DeserializeOwned>(table: &str, key: &str, v: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        table: table.into(),
        key: key.into(),
        reason: e.to_string(),
    })
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Backend(format!("encoding a console record: {e}")))
}

fn logged<T>(what: &str, r: Result<T, StoreError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(error = %e, "console {what} failed");
            None
        }
    }
}

/// Sessions, lockouts and recent roles, in the store of `services`.
pub struct Sessions {
    services: Arc<Services>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").finish_non_exhaustive()
    }
}

impl Sessions {
    /// The sessions kept in `services`' store, sealed with its master key.
    pub fn new(services: Arc<Services>) -> Sessions {
        Sessions { services }
    }

    fn transact<R>(&self, f: impl FnOnce(&mut dyn WriteTxn) -> Result<R, StoreError>) -> Result<R, StoreError> {
        tessera_store::transact(self.services.store.as_ref(), f)
    }

    fn load(&self, r: &(impl ReadTxn + ?Sized), key: &str) -> Result<Option<(StoredSession, Session)>, StoreError> {
        let Some(v) = r.get(table::SESSION, key)? else { return Ok(None) };
        let stored: StoredSession = decode(table::SESSION, key, &v)?;
        let plain = self.services.secrets.open(&seal_context(key), &stored.sealed)?;
        let session = decode(table::SESSION, key, &plain)?;
        Ok(Some((stored, session)))
    }

    fn save(&self, w: &mut dyn WriteTxn, key: &str, session: &Session) -> Result<(), StoreError> {
        let sealed = self.services.secrets.seal(&seal_context(key), &encode(session)?);
        let stored = StoredSession { created: session.created, expires: session.expires, sealed };
        w.put(table::SESSION, key, &encode(&stored)?)
    }

    /// The live session `id`, if any (an expired one is removed).
    pub fn get(&self, id: &str, now: i64) -> Option<Session> {
        let key = key_of(id);
        let found = logged("session read", self.services.store.read().and_then(|r| self.load(r.as_ref(), &key)))?;
        match found {
            Some((_, s)) if s.expires > now => Some(s),
            Some(_) => {
                self.remove(id);
                None
            }
            None => None,
        }
    }

    /// Store a new session; returns its id.
    pub fn create(&self, state: State, now: i64, expires: i64) -> String {
        let id = random_token();
        let key = key_of(&id);
        let session = Session { csrf: random_token(), created: now, expires, state, flash: None };
        logged(
            "session write",
            self.transact(|w| {
                sweep(w, now, &random_token(), SWEEP_ROWS)?;
                if usize::try_from(w.count(table::SESSION, "")?).unwrap_or(usize::MAX) >= MAX_SESSIONS {
                    sweep(w, now, "", usize::MAX)?;
                    if usize::try_from(w.count(table::SESSION, "")?).unwrap_or(usize::MAX) >= MAX_SESSIONS {
                        drop_oldest(w)?;
                    }
                }
                self.save(w, &key, &session)
            }),
        );
        id
    }

    /// Change session `id` in place.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Session)) {
        let key = key_of(id);
        logged(
            "session write",
            self.transact(|w| {
                if let Some((_, mut s)) = self.load(w, &key)? {
                    f(&mut s);
                    self.save(w, &key, &s)?;
                }
                Ok(())
            }),
        );
    }

    /// End session `id`.
    pub fn remove(&self, id: &str) {
        let key = key_of(id);
        logged("session write", self.transact(|w| w.delete(table::SESSION, &key).map(|_| ())));
    }

    /// Take the flash message of `session`, whose id is `id` (stored only when it had one).
    pub fn take_flash(&self, id: &str, session: &Session) -> Option<String> {
        session.flash.as_ref()?;
        let key = key_of(id);
        logged(
            "session write",
            self.transact(|w| {
                let Some((_, mut s)) = self.load(w, &key)? else { return Ok(None) };
                let flash = s.flash.take();
                if flash.is_some() {
                    self.save(w, &key, &s)?;
                }
                Ok(flash)
            }),
        )
        .flatten()
    }

    /// The failures of `who`, under its store key ([`key_of`]: the name comes from the form).
    fn failures(&self, r: &(impl ReadTxn + ?Sized), who: &str) -> Result<Option<Failures>, StoreError> {
        let key = key_of(who);
        r.get(table::SIGNIN_FAILURE, &key)?.map(|v| decode(table::SIGNIN_FAILURE, &key, &v)).transpose()
    }

    /// When the lockout of sign-in as `who` (`account/user`) in force at `now` ends, if any.
    pub fn locked_until(&self, who: &str, now: i64) -> Option<i64> {
        let f = logged("lockout read", self.services.store.read().and_then(|r| self.failures(r.as_ref(), who)));
        // Unknown (the store failed): not locked; the sign-in itself needs the store anyway.
        f.flatten().map(|f| f.locked_until).filter(|until| *until > now)
    }

    /// Count a failed sign-in of `who`; the fifth in a row locks it for [`LOCKOUT_SECS`].
    pub fn fail(&self, who: &str, now: i64) {
        logged(
            "lockout write",
            self.transact(|w| {
                if usize::try_from(w.count(table::SIGNIN_FAILURE, "")?).unwrap_or(usize::MAX) >= MAX_SESSIONS {
                    // Full (names that do not exist count too): keep only the lockouts in force.
                    drop_unlocked(w, now)?;
                }
                let mut f = self.failures(w, who)?.unwrap_or_default();
                if f.locked_until != 0 && f.locked_until <= now {
                    f = Failures::default();
                }
                f.count += 1;
                if f.count >= LOCKOUT_FAILURES {
                    f.locked_until = now + LOCKOUT_SECS;
                }
                w.put(table::SIGNIN_FAILURE, &key_of(who), &encode(&f)?)
            }),
        );
    }

    /// Forget the failures of `who` after a successful sign-in.
    pub fn succeed(&self, who: &str) {
        let key = key_of(who);
        let had = logged("lockout read", self.services.store.read().and_then(|r| r.get(table::SIGNIN_FAILURE, &key)));
        if had.flatten().is_some() {
            logged("lockout write", self.transact(|w| w.delete(table::SIGNIN_FAILURE, &key).map(|_| ())));
        }
    }

    /// The recent roles of principal `arn`, newest first.
    pub fn recent(&self, arn: &str) -> Vec<RoleEntry> {
        let v = logged("recent roles read", self.services.store.read().and_then(|r| r.get(table::RECENT_ROLE, arn)));
        v.flatten().and_then(|v| logged("recent roles read", decode(table::RECENT_ROLE, arn, &v))).unwrap_or_default()
    }

    /// Put `entry` first in the recent roles of `arn` (at most [`RECENT_ROLES`]).
    pub fn add_recent(&self, arn: &str, entry: RoleEntry) {
        logged(
            "recent roles write",
            self.transact(|w| {
                let mut list: Vec<RoleEntry> = match w.get(table::RECENT_ROLE, arn)? {
                    Some(v) => decode(table::RECENT_ROLE, arn, &v).unwrap_or_default(),
                    None => Vec::new(),
                };
                list.retain(|e| !(e.account == entry.account && e.role == entry.role));
                list.insert(0, entry);
                list.truncate(RECENT_ROLES);
                w.put(table::RECENT_ROLE, arn, &encode(&list)?)
            }),
        );
    }
}

/// Drop expired sessions among at most `rows` rows after `after` (wrapping to the start).
fn sweep(w: &mut dyn WriteTxn, now: i64, after: &str, rows: usize) -> Result<(), StoreError> {
    let mut expired = Vec::new();
    let mut seen = 0;
    let mut cursor = after.to_string();
    let mut wrapped = after.is_empty();
    loop {
        let page = w.scan(table::SESSION, "", (!cursor.is_empty()).then_some(cursor.as_str()), 256)?;
        for (k, v) in &page {
            seen += 1;
            // A row that does not decode is dropped as well: no session can use it.
            if decode::<StoredSession>(table::SESSION, k, v).map_or(true, |s| s.expires <= now) {
                expired.push(k.clone());
            }
            if seen >= rows {
                break;
            }
        }
        match page.last() {
            Some((k, _)) if page.len() == 256 && seen < rows => cursor = k.clone(),
            _ if !wrapped && seen < rows => {
                wrapped = true;
                cursor.clear();
            }
            _ => break,
        }
    }
    for k in expired {
        w.delete(table::SESSION, &k)?;
    }
    Ok(())
}

/// Drop every failure count that holds no lockout in force at `now`.
fn drop_unlocked(w: &mut dyn WriteTxn, now: i64) -> Result<(), StoreError> {
    let mut unlocked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = w.scan(table::SIGNIN_FAILURE, "", after.as_deref(), 1024)?;
        for (k, v) in &page {
            if decode::<Failures>(table::SIGNIN_FAILURE, k, v).map_or(true, |f| f.locked_until <= now) {
                unlocked.push(k.clone());
            }
        }
        match page.last() {
            Some((k, _)) if page.len() == 1024 => after = Some(k.clone()),
            _ => break,
        }
    }
    for k in unlocked {
        w.delete(table::SIGNIN_FAILURE, &k)?;
    }
    Ok(())
}

/// Drop the oldest session (the table is full of live ones).
fn drop_oldest(w: &mut dyn WriteTxn) -> Result<(), StoreError> {
    let mut oldest: Option<(i64, String)> = None;
    let mut after: Option<String> = None;
    loop {
        let page = w.scan(table::SESSION, "", after.as_deref(), 1024)?;
        for (k, v) in &page {
            let created = decode::<StoredSession>(table::SESSION, k, v).map_or(i64::MIN, |s| s.created);
            if oldest.as_ref().is_none_or(|(c, _)| created < *c) {
                oldest = Some((created, k.clone()));
            }
        }
        match page.last() {
            Some((k, _)) if page.len() == 1024 => after = Some(k.clone()),
            _ => break,
        }
    }
    if let Some((_, k)) = oldest {
        w.delete(table::SESSION, &k)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        let clock = Arc::new(tessera_services::clock::ManualClock::new(0));
        Sessions::new(Arc::new(Services::in_memory(clock).unwrap()))
    }

    #[test]
    fn tokens() {
        let a = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, random_token());
        assert!(tokens_equal(&a, &a.clone()));
        assert!(!tokens_equal(&a, &random_token()));
        assert!(!tokens_equal(&a, ""));
    }

    #[test]
    fn expiry_and_lockout() {
        let s = sessions();
        let id = s.create(State::Anonymous, 100, 200);
        assert!(s.get(&id, 150).is_some());
        assert!(s.get(&id, 200).is_none());
        assert!(s.get(&id, 150).is_none(), "removed once expired");
        for _ in 0..4 {
            s.fail("1/u", 10);
        }
        assert!(s.locked_until("1/u", 10).is_none());
        s.fail("1/u", 10);
        assert_eq!(s.locked_until("1/u", 10), Some(10 + LOCKOUT_SECS));
        assert!(s.locked_until("1/u", 10 + LOCKOUT_SECS - 1).is_some());
        assert!(s.locked_until("1/u", 10 + LOCKOUT_SECS).is_none());
        s.fail("1/u", 10 + LOCKOUT_SECS);
        assert!(s.locked_until("1/u", 10 + LOCKOUT_SECS).is_none(), "a new count after the lockout");
        s.succeed("1/u");
        assert!(s.locked_until("1/u", 10).is_none());
    }

    #[test]
    fn sessions_are_stored_by_hash_sealed_and_shared() {
        let s = sessions();
        let id = s.create(
            State::MfaPending {
                account: "1".into(),
                user: "u".into(),
                serial: "the-device-serial".into(),
                root: false,
            },
            10,
            1000,
        );
        s.update(&id, |x| x.flash = Some("hello".into()));
        // Another handle on the same store (another server) sees the session and its flash.
        let other = Sessions::new(s.services.clone());
        let got = other.get(&id, 20).expect("the session");
        assert!(matches!(got.state, State::MfaPending { ref serial, .. } if serial == "the-device-serial"));
        assert_eq!(other.take_flash(&id, &got).as_deref(), Some("hello"));
        assert_eq!(s.get(&id, 20).and_then(|x| x.flash), None, "a flash is shown once");
        let r = s.services.store.read().unwrap();
        let rows = r.scan(table::SESSION, "", None, 10).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, key_of(&id));
        assert_ne!(rows[0].0, id, "the id itself is not stored");
        let text = String::from_utf8_lossy(&rows[0].1);
        assert!(
            !text.contains(&id) && !text.contains("the-device-serial") && !text.contains(&got.csrf),
            "sealed: {text}"
        );
        drop(r);
        s.remove(&id);
        assert!(other.get(&id, 20).is_none());
    }

    #[test]
    fn expired_sessions_are_swept() {
        let s = sessions();
        for _ in 0..10 {
            s.create(State::Anonymous, 0, 5);
        }
        let live = s.create(State::Anonymous, 10, 100);
        let r = s.services.store.read().unwrap();
        assert_eq!(r.count(table::SESSION, "").unwrap(), 1, "the ten expired ones were dropped");
        drop(r);
        assert!(s.get(&live, 20).is_some());
    }

    #[test]
    fn recent_roles() {
        let s = sessions();
        let e = |n: usize| RoleEntry {
            account: "1".into(),
            role: format!("r{n}"),
            display: String::new(),
            colour: "red".into(),
        };
        for n in 0..7 {
            s.add_recent("u", e(n));
        }
        s.add_recent("u", e(4));
        let list = s.recent("u");
        assert_eq!(list.len(), RECENT_ROLES);
        assert_eq!(list[0].role, "r4");
        assert_eq!(list[1].role, "r6");
    }
}
