//! Console sessions (in memory), CSRF tokens and sign-in lockout.
//!
//! A session is a random 256-bit id in the `tessera-console` cookie; the server keeps what the
//! session is (anonymous, waiting for an MFA code, signed in) in a map. Every session has a
//! synchronizer CSRF token that each POST must echo. A restart forgets every session.

use std::collections::HashMap;
use std::sync::Mutex;

use rand::RngCore;
use subtle::ConstantTimeEq;
use tessera_services::Caller;

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
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
#[derive(Debug, Clone)]
pub struct Identity {
    /// The signed-in principal (IAM user or root), with the console session's facts.
    pub base: Caller,
    /// `Sandy` or `root`.
    pub label: String,
    /// The role switched to, if any.
    pub role: Option<ActiveRole>,
}

/// What a session is.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
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

#[derive(Debug, Default, Clone)]
struct Failures {
    count: u32,
    locked_until: i64,
}

/// Sessions, lockouts and recent roles, all in memory.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<String, Failures>>,
    recent: Mutex<HashMap<String, Vec<RoleEntry>>>,
}

impl Sessions {
    /// The live session `id`, if any (an expired one is removed).
    pub fn get(&self, id: &str, now: i64) -> Option<Session> {
        let mut map = self.map.lock().ok()?;
        match map.get(id) {
            Some(s) if s.expires > now => Some(s.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Store a new session; returns its id.
    pub fn create(&self, state: State, now: i64, expires: i64) -> String {
        let id = random_token();
        let session = Session { csrf: random_token(), created: now, expires, state, flash: None };
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= MAX_SESSIONS {
                map.retain(|_, s| s.expires > now);
            }
            if map.len() >= MAX_SESSIONS {
                if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone()) {
                    map.remove(&oldest);
                }
            }
            map.insert(id.clone(), session);
        }
        id
    }

    /// Change session `id` in place.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Session)) {
        if let Ok(mut map) = self.map.lock() {
            if let Some(s) = map.get_mut(id) {
                f(s);
            }
        }
    }

    /// End session `id`.
    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }

    /// Take the flash message of session `id`.
    pub fn take_flash(&self, id: &str) -> Option<String> {
        self.map.lock().ok()?.get_mut(id)?.flash.take()
    }

    /// Whether sign-in as `who` (`account/user`) is locked at `now`.
    pub fn locked(&self, who: &str, now: i64) -> bool {
        self.failures.lock().ok().and_then(|f| f.get(who).map(|f| f.locked_until > now)).unwrap_or(false)
    }

    /// Count a failed sign-in of `who`; the fifth in a row locks it for [`LOCKOUT_SECS`].
    pub fn fail(&self, who: &str, now: i64) {
        if let Ok(mut map) = self.failures.lock() {
            if map.len() >= MAX_SESSIONS {
                map.retain(|_, f| f.locked_until > now);
            }
            let f = map.entry(who.to_string()).or_default();
            if f.locked_until != 0 && f.locked_until <= now {
                *f = Failures::default();
            }
            f.count += 1;
            if f.count >= LOCKOUT_FAILURES {
                f.locked_until = now + LOCKOUT_SECS;
            }
        }
    }

    /// Forget the failures of `who` after a successful sign-in.
    pub fn succeed(&self, who: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(who);
        }
    }

    /// The recent roles of principal `arn`, newest first.
    pub fn recent(&self, arn: &str) -> Vec<RoleEntry> {
        self.recent.lock().ok().and_then(|m| m.get(arn).cloned()).unwrap_or_default()
    }

    /// Put `entry` first in the recent roles of `arn` (at most [`RECENT_ROLES`]).
    pub fn add_recent(&self, arn: &str, entry: RoleEntry) {
        if let Ok(mut m) = self.recent.lock() {
            let list = m.entry(arn.to_string()).or_default();
            list.retain(|e| !(e.account == entry.account && e.role == entry.role));
            list.insert(0, entry);
            list.truncate(RECENT_ROLES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let s = Sessions::default();
        let id = s.create(State::Anonymous, 100, 200);
        assert!(s.get(&id, 150).is_some());
        assert!(s.get(&id, 200).is_none());
        assert!(s.get(&id, 150).is_none(), "removed once expired");
        for _ in 0..4 {
            s.fail("1/u", 10);
        }
        assert!(!s.locked("1/u", 10));
        s.fail("1/u", 10);
        assert!(s.locked("1/u", 10));
        assert!(s.locked("1/u", 10 + LOCKOUT_SECS - 1));
        assert!(!s.locked("1/u", 10 + LOCKOUT_SECS));
        s.fail("1/u", 10 + LOCKOUT_SECS);
        assert!(!s.locked("1/u", 10 + LOCKOUT_SECS), "a new count after the lockout");
        s.succeed("1/u");
        assert!(!s.locked("1/u", 10));
    }

    #[test]
    fn recent_roles() {
        let s = Sessions::default();
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
