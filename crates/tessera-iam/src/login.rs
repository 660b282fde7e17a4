//! Console passwords: login profiles (`Create/Get/Update/DeleteLoginProfile`, `ChangePassword`)
//! and the account password policy (`Update/Get/DeleteAccountPasswordPolicy`).
//!
//! Passwords are hashed with argon2id (PHC string on the user's [`LoginProfile`]); the clear
//! password is never stored, logged or returned. Without a custom policy, AWS's default password
//! policy applies: 8 to 128 characters, at least three of upper case, lower case, digits and
//! symbols, and not the account's name, email or the user's name.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, StoreError, WriteTxn};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::{
    load_user, no_such_entity, no_such_user, optional_bool, optional_int, read, resolve_subject, respond, write,
    StoreResultExt, Subject,
};
use crate::clock::iso8601;
use crate::model::{self, table, Account, LoginProfile, User};
use crate::validate::{self, Checks};
use crate::{Call, CallerKind, Services};

/// [`PasswordPolicy`] by account id.
pub const PASSWORD_POLICY: &str = "iam_password_policy";
/// [`PasswordState`] by `<acct>/<lower user name>`.
pub const PASSWORD_STATE: &str = "iam_password_state";

/// Symbols that count as non-alphanumeric characters in password policies.
pub const PASSWORD_SYMBOLS: &str = "!@#$%^&*()_+-=[]{}|'";

/// The account password policy (`UpdateAccountPasswordPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    /// 6-128.
    pub minimum_password_length: i64,
    /// At least one of [`PASSWORD_SYMBOLS`].
    pub require_symbols: bool,
    /// At least one digit.
    pub require_numbers: bool,
    /// At least one of A-Z.
    pub require_uppercase_characters: bool,
    /// At least one of a-z.
    pub require_lowercase_characters: bool,
    /// Whether users may change their own password.
    pub allow_users_to_change_password: bool,
    /// Days a password is valid (1-1095); `None`: passwords do not expire.
    #[serde(default)]
    pub max_password_age: Option<i64>,
    /// How many previous passwords may not be reused (1-24).
    #[serde(default)]
    pub password_reuse_prevention: Option<i64>,
    /// Whether an expired password can only be reset by an administrator.
    #[serde(default)]
    pub hard_expiry: Option<bool>,
}

/// Bookkeeping of a user's password beside the hash on the user record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordState {
    /// When the password was last set (epoch seconds).
    pub changed: i64,
    /// argon2id hashes of earlier passwords, newest first (at most 24).
    #[serde(default)]
    pub history: Vec<String>,
}

/// Most previous passwords kept for reuse prevention.
const HISTORY_MAX: usize = 24;

fn state_key(account: &str, user: &str) -> String {
    model::name_key(account, user)
}

/// The account's password policy, if one is set.
pub fn password_policy(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<Option<PasswordPolicy>, StoreError> {
    model::load(r, PASSWORD_POLICY, account)
}

/// A user's password bookkeeping.
pub fn password_state(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
    user: &str,
) -> Result<Option<PasswordState>, StoreError> {
    model::load(r, PASSWORD_STATE, &state_key(account, user))
}

/// Hash a password with argon2id (PHC string, random salt).
pub fn hash_password(password: &str) -> Result<String, AwsError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| {
        tracing::error!(error = %e, "argon2 hashing failed");
        AwsError::internal()
    })
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

fn violation() -> AwsError {
    AwsError::new(400, "PasswordPolicyViolation", "Password does not conform to the account password policy.")
}

/// Check `password` against `policy` (or AWS's default policy when `None`).
pub fn check_password(
    policy: Option<&PasswordPolicy>,
    password: &str,
    user_name: &str,
    account: Option<&Account>,
) -> Result<(), AwsError> {
    let len = password.chars().count();
    let upper = password.chars().any(|c| c.is_ascii_uppercase());
    let lower = password.chars().any(|c| c.is_ascii_lowercase());
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let symbol = password.chars().any(|c| PASSWORD_SYMBOLS.contains(c));
    let ok = match policy {
        Some(p) => {
            usize::try_from(p.minimum_password_length).is_ok_and(|min| len >= min)
                && (!p.require_uppercase_characters || upper)
                && (!p.require_lowercase_characters || lower)
                && (!p.require_numbers || digit)
                && (!p.require_symbols || symbol)
        }
        None => {
            let classes = [upper, lower, digit, symbol].iter().filter(|b| **b).count();
            let same_as = |s: &str| !s.is_empty() && password.eq_ignore_ascii_case(s);
            len >= 8
                && classes >= 3
                && !same_as(user_name)
                && !account.is_some_and(|a| same_as(&a.name) || same_as(&a.email))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(violation())
    }
}

/// A password parameter, checked against the model (1-128 characters of its pattern) without
/// echoing it.
pub(crate) fn password_param<'a>(params: &'a QueryParams, name: &str) -> Result<Option<&'a str>, AwsError> {
    let value = params.get(name);
    let field = super::lower_first(name);
    // The value is a secret: AWS's messages for it do not echo it, nor do ours.
    if let Some(v) = value {
        let n = v.chars().count();
        let pattern_ok = validate::is_policy_document_text(v);
        let constraint = if n < 1 {
            Some("have length greater than or equal to 1")
        } else if n > 128 {
            Some("have length less than or equal to 128")
        } else if !pattern_ok {
            Some(r"satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+")
        } else {
            None
        };
        if let Some(c) = constraint {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value at '{field}' failed to satisfy constraint: Member must {c}"
            )));
        }
    }
    Ok(value)
}

/// Everything a password change needs to know, read before hashing (which is slow) so that no
/// transaction is held meanwhile.
fn check_new_password(
    services: &Services,
    account: &str,
    user_name: &str,
    password: &str,
) -> Result<(String, Option<PasswordPolicy>), AwsError> {
    let (policy, state, acct) = read(services, |r| {
        Ok((
            password_policy(r, account).ise()?,
            password_state(r, account, user_name).ise()?,
            model::load::<Account>(r, table::ACCOUNT, account).ise()?,
        ))
    })?;
    check_password(policy.as_ref(), password, user_name, acct.as_ref())?;
    if let (Some(p), Some(state)) = (&policy, &state) {
        let n = usize::try_from(p.password_reuse_prevention.unwrap_or(0)).unwrap_or(0);
        if state.history.iter().take(n).any(|h| verify_password(password, h)) {
            return Err(violation());
        }
    }
    Ok((hash_password(password)?, policy))
}

fn save_password(
    txn: &mut dyn WriteTxn,
    user: &mut User,
    hash: String,
    reset_required: Option<bool>,
    now: i64,
) -> Result<(), AwsError> {
    let key = state_key(&user.account, &user.name);
    let mut state: PasswordState = model::load(txn, PASSWORD_STATE, &key).ise()?.unwrap_or_default();
    state.changed = now;
    state.history.insert(0, hash.clone());
    state.history.truncate(HISTORY_MAX);
    model::save(txn, PASSWORD_STATE, &key, &state).ise()?;
    let profile = user.login_profile.get_or_insert(LoginProfile {
        password_hash: String::new(),
        created: now,
        password_reset_required: false,
    });
    profile.password_hash = hash;
    if let Some(r) = reset_required {
        profile.password_reset_required = r;
    }
    model::save(txn, table::USER, &model::name_key(&user.account, &user.name), user).ise()
}

fn no_login_profile(user: &str) -> AwsError {
    no_such_entity(format!("Login Profile for User {user} cannot be found."))
}

fn profile_xml(user: &User, profile: &LoginProfile) -> String {
    let mut w = XmlWriter::fragment();
    w.open("LoginProfile", None);
    w.elem("UserName", &user.name)
        .elem("CreateDate", &iso8601(profile.created))
        .elem("PasswordResetRequired", if profile.password_reset_required { "true" } else { "false" });
    w.close();
    w.finish()
}

fn login_subject(
    services: &Services,
    call: &Call,
    params: &QueryParams,
    action: &str,
    required: bool,
) -> Result<Box<User>, AwsError> {
    let name = if required { Some(super::required_user_name(params, 64)?) } else { user_name_64(params)? };
    match resolve_subject(services, call, name, action, false)? {
        Subject::User(u) => Ok(u),
        Subject::Root => Err(super::must_specify_user_name()),
    }
}

/// The optional `UserName` of the operations whose model caps it at 64 (`userNameType`).
pub(crate) fn user_name_64(params: &QueryParams) -> Result<Option<&str>, AwsError> {
    let name = params.get("UserName");
    Checks::new()
        .length_opt("userName", name, 1, 64)
        .pattern_opt("userName", name, validate::NAME_PATTERN, validate::is_name)
        .finish()?;
    Ok(name)
}

/// `CreateLoginProfile`: give a user a console password.
pub fn create_login_profile(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let password = password_param(params, "Password")?;
    let reset = optional_bool(params, "PasswordResetRequired")?.unwrap_or(false);
    let user = login_subject(services, call, params, "iam:CreateLoginProfile", false)?;
    let password = password.ok_or_else(|| tessera_wire::query::null_member("Password"))?;
    if user.login_profile.is_some() {
        return Err(super::already_exists(format!("Login Profile for user {} already exists.", user.name)));
    }
    let account = call.caller.account.as_str();
    let (hash, _) = check_new_password(services, account, &user.name, password)?;
    let now = call.now_secs();
    let (user, profile) = write(services, |txn| {
        let mut user = load_user(txn, account, &user.name)?.ok_or_else(|| no_such_user(&user.name))?;
        if user.login_profile.is_some() {
            return Err(super::already_exists(format!("Login Profile for user {} already exists.", user.name)));
        }
        user.login_profile =
            Some(LoginProfile { password_hash: String::new(), created: now, password_reset_required: reset });
        save_password(txn, &mut user, hash, Some(reset), now)?;
        let profile = user.login_profile.clone().ok_or_else(AwsError::internal)?;
        Ok((user, profile))
    })?;
    respond(call, Some(profile_xml(&user, &profile)))
}

/// `GetLoginProfile`: the user's login profile (never the password).
pub fn get_login_profile(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user = login_subject(services, call, params, "iam:GetLoginProfile", false)?;
    match &user.login_profile {
        Some(p) => respond(call, Some(profile_xml(&user, p))),
        None => Err(no_login_profile(&user.name)),
    }
}

/// `UpdateLoginProfile`: set a new password and/or the reset-required flag.
pub fn update_login_profile(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let password = password_param(params, "Password")?;
    let reset = optional_bool(params, "PasswordResetRequired")?;
    let user = login_subject(services, call, params, "iam:UpdateLoginProfile", true)?;
    if user.login_profile.is_none() {
        return Err(no_login_profile(&user.name));
    }
    let account = call.caller.account.as_str();
    let hash = match password {
        Some(p) => Some(check_new_password(services, account, &user.name, p)?.0),
        None => None,
    };
    let now = call.now_secs();
    write(services, |txn| {
        let mut user = load_user(txn, account, &user.name)?.ok_or_else(|| no_such_user(&user.name))?;
        let Some(profile) = user.login_profile.as_mut() else {
            return Err(no_login_profile(&user.name));
        };
        match hash {
            Some(h) => save_password(txn, &mut user, h, reset, now),
            None => {
                if let Some(r) = reset {
                    profile.password_reset_required = r;
                }
                model::save(txn, table::USER, &model::name_key(account, &user.name), &user).ise()
            }
        }
    })?;
    respond(call, None)
}

/// `DeleteLoginProfile`: remove the user's console password.
pub fn delete_login_profile(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user = login_subject(services, call, params, "iam:DeleteLoginProfile", false)?;
    let account = call.caller.account.as_str();
    write(services, |txn| {
        let mut user = load_user(txn, account, &user.name)?.ok_or_else(|| no_such_user(&user.name))?;
        if user.login_profile.take().is_none() {
            return Err(no_login_profile(&user.name));
        }
        model::save(txn, table::USER, &model::name_key(account, &user.name), &user).ise()
    })?;
    respond(call, None)
}

/// `ChangePassword`: an IAM user changes its own password, giving the old one.
pub fn change_password(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let old = password_param(params, "OldPassword")?;
    let new = password_param(params, "NewPassword")?;
    let old = old.ok_or_else(|| tessera_wire::query::null_member("OldPassword"))?;
    let new = new.ok_or_else(|| tessera_wire::query::null_member("NewPassword"))?;
    let CallerKind::User { name, .. } = &call.caller.kind else {
        return Err(AwsError::new(400, "InvalidUserType", "Only IAM Users can change their own password."));
    };
    let account = call.caller.account.as_str();
    let (user, policy) = read(services, |r| Ok((load_user(r, account, name)?, password_policy(r, account).ise()?)))?;
    let Some(user) = user else {
        services.authorize(call, "iam:ChangePassword", &super::user_arn_guess(account, name))?;
        return Err(no_such_user(name));
    };
    // A policy that lets users change their own password grants this without an IAM policy.
    if !policy.as_ref().is_some_and(|p| p.allow_users_to_change_password) {
        super::authorize_with(services, call, "iam:ChangePassword", &user.arn(), &user.tags, Vec::new())?;
    }
    let Some(profile) = &user.login_profile else {
        return Err(no_login_profile(&user.name));
    };
    if !verify_password(old, &profile.password_hash) {
        return Err(AwsError::access_denied("The old password is incorrect."));
    }
    let (hash, _) = check_new_password(services, account, &user.name, new)?;
    let now = call.now_secs();
    write(services, |txn| {
        let mut user = load_user(txn, account, &user.name)?.ok_or_else(|| no_such_user(&user.name))?;
        if user.login_profile.is_none() {
            return Err(no_login_profile(&user.name));
        }
        save_password(txn, &mut user, hash, Some(false), now)
    })?;
    respond(call, None)
}

/// `UpdateAccountPasswordPolicy`: parameters left out take their defaults, as on AWS.
pub fn update_account_password_policy(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let policy = PasswordPolicy {
        minimum_password_length: optional_int(params, "MinimumPasswordLength", 6, 128)?.unwrap_or(6),
        require_symbols: optional_bool(params, "RequireSymbols")?.unwrap_or(false),
        require_numbers: optional_bool(params, "RequireNumbers")?.unwrap_or(false),
        require_uppercase_characters: optional_bool(params, "RequireUppercaseCharacters")?.unwrap_or(false),
        require_lowercase_characters: optional_bool(params, "RequireLowercaseCharacters")?.unwrap_or(false),
        allow_users_to_change_password: optional_bool(params, "AllowUsersToChangePassword")?.unwrap_or(false),
        max_password_age: optional_int(params, "MaxPasswordAge", 1, 1095)?,
        password_reuse_prevention: optional_int(params, "PasswordReusePrevention", 1, 24)?,
        hard_expiry: optional_bool(params, "HardExpiry")?,
    };
    services.authorize(call, "iam:UpdateAccountPasswordPolicy", "*")?;
    let account = call.caller.account.as_str();
    write(services, |txn| model::save(txn, PASSWORD_POLICY, account, &policy).ise())?;
    respond(call, None)
}

fn no_policy(account: &str) -> AwsError {
    no_such_entity(format!("The Password Policy with domain name {account} cannot be found."))
}

/// `GetAccountPasswordPolicy`.
pub fn get_account_password_policy(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    services.authorize(call, "iam:GetAccountPasswordPolicy", "*")?;
    let account = call.caller.account.as_str();
    let policy = read(services, |r| password_policy(r, account).ise())?.ok_or_else(|| no_policy(account))?;
    let b = |v: bool| if v { "true" } else { "false" };
    let mut w = XmlWriter::fragment();
    w.open("PasswordPolicy", None);
    w.elem("MinimumPasswordLength", &policy.minimum_password_length.to_string())
        .elem("RequireSymbols", b(policy.require_symbols))
        .elem("RequireNumbers", b(policy.require_numbers))
        .elem("RequireUppercaseCharacters", b(policy.require_uppercase_characters))
        .elem("RequireLowercaseCharacters", b(policy.require_lowercase_characters))
        .elem("AllowUsersToChangePassword", b(policy.allow_users_to_change_password))
        .elem("ExpirePasswords", b(policy.max_password_age.is_some()));
    if let Some(age) = policy.max_password_age {
        w.elem("MaxPasswordAge", &age.to_string());
    }
    if let Some(n) = policy.password_reuse_prevention {
        w.elem("PasswordReusePrevention", &n.to_string());
    }
    if let Some(h) = policy.hard_expiry {
        w.elem("HardExpiry", b(h));
    }
    w.close();
    respond(call, Some(w.finish()))
}

/// `DeleteAccountPasswordPolicy`: back to AWS's default policy.
pub fn delete_account_password_policy(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    services.authorize(call, "iam:DeleteAccountPasswordPolicy", "*")?;
    let account = call.caller.account.as_str();
    write(services, |txn| if txn.delete(PASSWORD_POLICY, account).ise()? { Ok(()) } else { Err(no_policy(account)) })?;
    respond(call, None)
}

/// Move a user's password bookkeeping to its new name.
pub(crate) fn rename_user(
    txn: &mut dyn WriteTxn,
    account: &str,
    old_name: &str,
    new_name: &str,
) -> Result<(), StoreError> {
    let old_key = state_key(account, old_name);
    if let Some(state) = model::load::<PasswordState>(txn, PASSWORD_STATE, &old_key)? {
        txn.delete(PASSWORD_STATE, &old_key)?;
        model::save(txn, PASSWORD_STATE, &state_key(account, new_name), &state)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn run(services: &Services, call: &Call, p: &[(&str, &str)]) -> Result<String, AwsError> {
        let r = super::super::handle(services, call, &params(p)).expect("handled")?;
        Ok(body(&r))
    }

    #[test]
    fn argon2id_hashes_verify() {
        let h = hash_password("Corr3ct-Horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("Corr3ct-Horse"));
        assert!(verify_password("Corr3ct-Horse", &h));
        assert!(!verify_password("corr3ct-horse", &h));
        assert!(!verify_password("x", "not a phc string"));
        assert_ne!(h, hash_password("Corr3ct-Horse").unwrap(), "salted");
    }

    #[test]
    fn default_and_custom_policies() {
        assert!(check_password(None, "redhat", "sandy", None).is_err());
        assert!(check_password(None, "Redhat12", "sandy", None).is_ok());
        assert!(check_password(None, "Redhat!!", "sandy", None).is_ok());
        assert!(check_password(None, "redhat12", "sandy", None).is_err(), "two classes");
        assert!(check_password(None, "Sandy123", "sandy123", None).is_err(), "same as user name");
        let mut p = PasswordPolicy {
            minimum_password_length: 6,
            require_symbols: false,
            require_numbers: false,
            require_uppercase_characters: false,
            require_lowercase_characters: false,
            allow_users_to_change_password: false,
            max_password_age: None,
            password_reuse_prevention: None,
            hard_expiry: None,
        };
        assert!(check_password(Some(&p), "redhat", "sandy", None).is_ok());
        p.require_symbols = true;
        let e = check_password(Some(&p), "redhat", "sandy", None).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("PasswordPolicyViolation", 400));
        assert!(check_password(Some(&p), "red|hat", "sandy", None).is_ok());
        p.minimum_password_length = 10;
        assert!(check_password(Some(&p), "red|hat", "sandy", None).is_err());
    }

    #[test]
    fn login_profile_lifecycle_and_reuse_prevention() {
        let s = services_at(1_700_000_000);
        put_user(&s, "sandy");
        let root = |op| root_call(op, 1_700_000_000);
        let e = run(&s, &root("CreateLoginProfile"), &[("UserName", "sandy"), ("Password", "redhat")]).unwrap_err();
        assert_eq!(e.code, "PasswordPolicyViolation");
        assert!(!e.message.contains("redhat"));
        run(
            &s,
            &root("UpdateAccountPasswordPolicy"),
            &[("MinimumPasswordLength", "6"), ("PasswordReusePrevention", "2")],
        )
        .unwrap();
        let created = run(&s, &root("CreateLoginProfile"), &[("UserName", "sandy"), ("Password", "redhat")]).unwrap();
        assert_eq!(elem(&created, "PasswordResetRequired").as_deref(), Some("false"));
        assert!(!created.contains("redhat"));
        let e = run(&s, &root("CreateLoginProfile"), &[("UserName", "sandy"), ("Password", "redhat")]).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("EntityAlreadyExists", 409));
        let stored = {
            let r = s.store.read().unwrap();
            load_user(r.as_ref(), ACCOUNT, "sandy").unwrap().unwrap()
        };
        let hash = &stored.login_profile.as_ref().unwrap().password_hash;
        assert!(hash.starts_with("$argon2id$") && verify_password("redhat", hash));

        // Reuse of the current password is refused while PasswordReusePrevention covers it.
        let e = run(&s, &root("UpdateLoginProfile"), &[("UserName", "sandy"), ("Password", "redhat")]).unwrap_err();
        assert_eq!(e.code, "PasswordPolicyViolation");
        run(
            &s,
            &root("UpdateLoginProfile"),
            &[("UserName", "sandy"), ("Password", "fedora"), ("PasswordResetRequired", "true")],
        )
        .unwrap();
        let got = run(&s, &root("GetLoginProfile"), &[("UserName", "sandy")]).unwrap();
        assert_eq!(elem(&got, "PasswordResetRequired").as_deref(), Some("true"));

        // The user changes its own password (the policy does not allow it: needs iam:ChangePassword,
        // which the stub authorizer refuses to non-root callers).
        let e =
            run(&s, &user_call("ChangePassword", "sandy", 1), &[("OldPassword", "fedora"), ("NewPassword", "debian")])
                .unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        run(&s, &root("UpdateAccountPasswordPolicy"), &[("AllowUsersToChangePassword", "true")]).unwrap();
        let e =
            run(&s, &user_call("ChangePassword", "sandy", 1), &[("OldPassword", "wrong!"), ("NewPassword", "debian")])
                .unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("AccessDenied", "The old password is incorrect."));
        run(&s, &user_call("ChangePassword", "sandy", 1), &[("OldPassword", "fedora"), ("NewPassword", "debian")])
            .unwrap();
        let got = run(&s, &root("GetLoginProfile"), &[("UserName", "sandy")]).unwrap();
        assert_eq!(elem(&got, "PasswordResetRequired").as_deref(), Some("false"));
        let e = run(&s, &root_call("ChangePassword", 1), &[("OldPassword", "a"), ("NewPassword", "b")]).unwrap_err();
        assert_eq!(e.code, "InvalidUserType");

        run(&s, &root("DeleteLoginProfile"), &[("UserName", "sandy")]).unwrap();
        let e = run(&s, &root("GetLoginProfile"), &[("UserName", "sandy")]).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("NoSuchEntity", "Login Profile for User sandy cannot be found.")
        );
        let e = run(&s, &root("DeleteLoginProfile"), &[("UserName", "sandy")]).unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        let e = run(&s, &root("GetLoginProfile"), &[("UserName", "ghost")]).unwrap_err();
        assert_eq!(e.message, "The user with name ghost cannot be found.");
    }

    #[test]
    fn password_policy_get_update_delete() {
        let s = services_at(1);
        let e = run(&s, &root_call("GetAccountPasswordPolicy", 1), &[]).unwrap_err();
        assert_eq!(e.message, format!("The Password Policy with domain name {ACCOUNT} cannot be found."));
        let e = run(&s, &root_call("UpdateAccountPasswordPolicy", 1), &[("MinimumPasswordLength", "5")]).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(e.message.contains("at 'minimumPasswordLength'"), "{}", e.message);
        run(&s, &root_call("UpdateAccountPasswordPolicy", 1), &[("MaxPasswordAge", "90"), ("RequireNumbers", "true")])
            .unwrap();
        let got = run(&s, &root_call("GetAccountPasswordPolicy", 1), &[]).unwrap();
        assert_eq!(elem(&got, "MinimumPasswordLength").as_deref(), Some("6"));
        assert_eq!(elem(&got, "ExpirePasswords").as_deref(), Some("true"));
        assert_eq!(elem(&got, "MaxPasswordAge").as_deref(), Some("90"));
        assert_eq!(elem(&got, "RequireNumbers").as_deref(), Some("true"));
        run(&s, &root_call("DeleteAccountPasswordPolicy", 1), &[]).unwrap();
        let e = run(&s, &root_call("DeleteAccountPasswordPolicy", 1), &[]).unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
    }
}
