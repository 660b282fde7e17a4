//! Sign-in (IAM user with password and MFA code, root user with email and password), and
//! Switch Role.

use std::sync::OnceLock;

use http::StatusCode;
use tessera_services::iam::credentials::{account as iam_account, login, mfa};
use tessera_services::model::{self, table, Account, User};
use tessera_services::{Caller, CallerKind, ServiceName, SessionInfo};
use tessera_wire::AwsError;

use super::html::{csrf_field, error_box, esc, page};
use super::session::{self, ActiveRole, Identity, RoleEntry, Session, State};
use super::{clear_cookie, session_cookie, Console, Cx, Req, Resp};

/// AWS's answer to a wrong account, user name or password.
const BAD_CREDENTIALS: &str = "Your authentication information is incorrect. Please try again.";
/// The lockout message, with when it ends.
fn locked_message(until: i64) -> String {
    format!(
        "Too many failed sign-in attempts: sign-in for this user is locked for 15 minutes, until {} UTC. Try again then.",
        tessera_services::clock::iso8601(until).replace('T', " ").trim_end_matches('Z')
    )
}

/// A hash to verify against when the user does not exist, so that the answer takes as long.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| login::hash_password("tessera-console-no-such-user").unwrap_or_default())
}

/// What the account's password policy says of a password last set at `changed` (IAM User
/// Guide, "Set an account password policy for IAM users": password expiration).
#[derive(Debug, PartialEq, Eq)]
enum Expiry {
    /// Not expired (or the policy sets no maximum age).
    Valid,
    /// Expired: the user must choose a new one at sign-in.
    Expired,
    /// Expired, and the policy's "require administrator reset" (`HardExpiry`) holds.
    AdministratorReset,
}

fn expiry(policy: Option<&login::PasswordPolicy>, changed: i64, now: i64) -> Expiry {
    let Some(days) = policy.and_then(|p| p.max_password_age).filter(|d| *d > 0) else { return Expiry::Valid };
    if changed.saturating_add(days.saturating_mul(86_400)) > now {
        Expiry::Valid
    } else if policy.and_then(|p| p.hard_expiry).unwrap_or(false) {
        Expiry::AdministratorReset
    } else {
        Expiry::Expired
    }
}

const EXPIRED_ADMIN_RESET: &str =
    "Your password has expired. The account's password policy requires an administrator to reset it.";

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Console {
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&dyn tessera_store::ReadTxn) -> Result<T, tessera_store::StoreError>,
    ) -> Option<T> {
        let r = self.services.store.read().ok()?;
        match f(r.as_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(error = %e, "console: storage failure");
                None
            }
        }
    }

    /// An account id from an id or an alias.
    fn resolve_account(&self, input: &str) -> Option<String> {
        let input = input.trim();
        if is_account_id(input) {
            let acct: Option<Account> = self.read(|r| model::load(r, table::ACCOUNT, input)).flatten();
            return acct.map(|a| a.id);
        }
        self.read(|r| iam_account::account_by_alias(r, &input.to_ascii_lowercase())).flatten()
    }

    fn signin_page(&self, csrf: &str, root: bool, error: Option<&str>, account: &str, user: &str) -> String {
        let err = error.map(|e| error_box("Sign-in failed", e)).unwrap_or_default();
        let form = if root {
            format!(
                r#"<h1>Root user sign-in</h1>{err}<form method="post" action="/console/signin" class="card" id="signin-form">{}<input type="hidden" name="kind" value="root">
<label>Root user email address<input name="email" id="email" type="email" autocomplete="username" required value="{}"></label>
<label>Password<input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="signin">Sign in</button></form>
<p><a href="/console/signin">Sign in as an IAM user</a></p>"#,
                csrf_field(csrf),
                esc(user)
            )
        } else {
            format!(
                r#"<h1>Sign in as IAM user</h1>{err}<form method="post" action="/console/signin" class="card" id="signin-form">{}<input type="hidden" name="kind" value="iam">
<label>Account ID (12 digits) or account alias<input name="account" id="account" required value="{}"></label>
<label>IAM user name<input name="username" id="username" autocomplete="username" required value="{}"></label>
<label>Password<input name="password" id="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="signin">Sign in</button></form>
<p><a href="/console/signin?root=1" id="root-signin">Sign in using root user email</a></p>"#,
                csrf_field(csrf),
                esc(account),
                esc(user)
            )
        };
        page("Sign in", None, None, &form)
    }

    /// `GET/POST /console/signin`.
    pub(super) fn signin(&self, req: &Req, found: Option<(String, Session)>, now: i64) -> Resp {
        if req.method == http::Method::GET {
            if let Some((_, s)) = &found {
                if matches!(s.state, State::SignedIn(_)) {
                    return Resp::redirect("/console");
                }
            }
            // A fresh anonymous session carries the form's CSRF token.
            let (id, csrf) = match found {
                Some((id, s)) if matches!(s.state, State::Anonymous) => (id, s.csrf),
                _ => {
                    let id = self.sessions.create(State::Anonymous, now, now + session::ANONYMOUS_SECS);
                    let csrf = self.sessions.get(&id, now).map(|s| s.csrf).unwrap_or_default();
                    (id, csrf)
                }
            };
            let root = !req.q("root").is_empty();
            let account = req.q("account");
            return Resp::html(self.signin_page(&csrf, root, None, &account, ""))
                .with_cookie(session_cookie(&id, req.secure));
        }
        let Some((old_id, session)) = found else { return Resp::redirect("/console/signin") };
        let root = req.f("kind") == "root";
        let password = req.raw("password");
        let fail_page = |who: &str, msg: &str, account: &str, user: &str| {
            self.sessions.fail(who, now);
            Resp::html(self.signin_page(&session.csrf, root, Some(msg), account, user)).status(StatusCode::UNAUTHORIZED)
        };
        if root {
            let email = req.f("email");
            let who = format!("root/{}", email.to_ascii_lowercase());
            if let Some(until) = self.sessions.locked_until(&who, now) {
                return Resp::html(self.signin_page(&session.csrf, true, Some(&locked_message(until)), "", &email))
                    .status(StatusCode::TOO_MANY_REQUESTS);
            }
            let account = self
                .read(|r| {
                    let rows = r.scan(table::ACCOUNT, "", None, usize::MAX)?;
                    let accounts: Vec<(String, Account)> = model::decode_rows(table::ACCOUNT, rows)?;
                    Ok(accounts.into_iter().map(|(_, a)| a).find(|a| a.email.eq_ignore_ascii_case(&email)))
                })
                .flatten();
            let hash = account.as_ref().and_then(|a| self.read(|r| super::root_password::hash_of(r, &a.id)).flatten());
            let ok = match (&account, &hash) {
                (Some(_), Some(h)) => login::verify_password(&password, h),
                _ => {
                    let _ = login::verify_password(&password, dummy_hash());
                    false
                }
            };
            let Some(account) = account.filter(|_| ok) else {
                return fail_page(&who, BAD_CREDENTIALS, "", &email);
            };
            // A root MFA device means the same second step as for IAM users (IAM User Guide,
            // "Enable a virtual MFA device for the root user (console)").
            let serial = self
                .read(|r| mfa::root_devices(r, &account.id))
                .and_then(|devices| devices.into_iter().find(|d| d.enabled.is_some()))
                .map(|d| d.serial());
            if let Some(serial) = serial {
                return self.mfa_step(
                    req,
                    &old_id,
                    State::MfaPending { account: account.id, user: email, serial, root: true },
                    now,
                );
            }
            self.sessions.succeed(&who);
            return self.start_session(req, &old_id, self.root_identity(&account.id, now, false), now);
        }
        let account_in = req.f("account");
        let user_name = req.f("username");
        let account = self.resolve_account(&account_in);
        let who = format!(
            "{}/{}",
            account.clone().unwrap_or_else(|| account_in.to_ascii_lowercase()),
            user_name.to_ascii_lowercase()
        );
        if let Some(until) = self.sessions.locked_until(&who, now) {
            let msg = locked_message(until);
            return Resp::html(self.signin_page(&session.csrf, false, Some(&msg), &account_in, &user_name))
                .status(StatusCode::TOO_MANY_REQUESTS);
        }
        let user: Option<User> = match &account {
            Some(a) if !user_name.is_empty() && user_name.len() <= 64 => {
                self.read(|r| model::load(r, table::USER, &model::name_key(a, &user_name))).flatten()
            }
            _ => None,
        };
        let hash = user.as_ref().and_then(|u| u.login_profile.as_ref()).map(|p| p.password_hash.clone());
        let ok = match &hash {
            Some(h) => login::verify_password(&password, h),
            None => {
                let _ = login::verify_password(&password, dummy_hash());
                false
            }
        };
        let Some(user) = user.filter(|_| ok) else {
            return fail_page(&who, BAD_CREDENTIALS, &account_in, &user_name);
        };
        if self.password_expiry(&user, now) == Expiry::AdministratorReset {
            return Resp::html(self.signin_page(
                &session.csrf,
                false,
                Some(EXPIRED_ADMIN_RESET),
                &account_in,
                &user_name,
            ))
            .status(StatusCode::FORBIDDEN);
        }
        // An enabled MFA device means a second step.
        let serial = self
            .read(|r| {
                let rows =
                    r.scan(mfa::USER_MFA_DEVICE, &mfa::user_prefix(&user.account, &user.name), None, usize::MAX)?;
                for (_, serial) in rows {
                    let serial = String::from_utf8_lossy(&serial).into_owned();
                    if let Some(d) = mfa::load_device(r, &serial)? {
                        if d.enabled.is_some() {
                            return Ok(Some(serial));
                        }
                    }
                }
                Ok(None)
            })
            .flatten();
        if let Some(serial) = serial {
            return self.mfa_step(
                req,
                &old_id,
                State::MfaPending { account: user.account.clone(), user: user.name.clone(), serial, root: false },
                now,
            );
        }
        self.sessions.succeed(&who);
        let identity = Identity {
            base: self.user_caller(&user, now, false),
            label: user.name.clone(),
            role: None,
            password_reset: self.must_change_password(&user, now),
        };
        self.start_session(req, &old_id, identity, now)
    }

    /// The password was right and an MFA device is enabled: a new session waits for its code
    /// at `/console/mfa`.
    fn mfa_step(&self, req: &Req, old_id: &str, state: State, now: i64) -> Resp {
        self.sessions.remove(old_id);
        let id = self.sessions.create(state, now, now + session::MFA_STEP_SECS);
        Resp::redirect("/console/mfa").with_cookie(session_cookie(&id, req.secure))
    }

    /// The root user as the console's caller (`aws:MultiFactorAuthPresent` true when signed in
    /// with its MFA device).
    fn root_identity(&self, account: &str, now: i64, mfa: bool) -> Identity {
        let mut caller = Caller::root(account, &tessera_services::sts::tokens::temporary_access_key_id(account));
        caller.session = Some(self.console_session_info(now, mfa, &caller.arn));
        Identity { base: caller, label: "root".into(), role: None, password_reset: false }
    }

    /// The expiry of `user`'s password under the account's policy (last set: the password
    /// bookkeeping's time, else the login profile's creation).
    fn password_expiry(&self, user: &User, now: i64) -> Expiry {
        let found = self.read(|r| {
            Ok((login::password_policy(r, &user.account)?, login::password_state(r, &user.account, &user.name)?))
        });
        let Some((policy, state)) = found else { return Expiry::Valid };
        let created = user.login_profile.as_ref().map_or(now, |p| p.created);
        expiry(policy.as_ref(), state.map_or(created, |s| s.changed), now)
    }

    /// Whether `user` must choose a new password before anything else: the login profile's
    /// `PasswordResetRequired`, or a password the account's policy says has expired.
    fn must_change_password(&self, user: &User, now: i64) -> bool {
        user.login_profile.as_ref().is_some_and(|p| p.password_reset_required)
            || self.password_expiry(user, now) != Expiry::Valid
    }

    fn console_session_info(&self, now: i64, mfa: bool, arn: &str) -> SessionInfo {
        SessionInfo {
            issued_at: now,
            expires_at: now + self.session_secs,
            mfa_authenticated: mfa,
            mfa_authenticated_at: mfa.then_some(now),
            issued_by: "ConsoleLogin".into(),
            source_principal_arn: Some(arn.to_string()),
            ..SessionInfo::default()
        }
    }

    /// The IAM user as the console's caller: the user itself, with a console session's facts
    /// (`aws:MultiFactorAuthPresent` true when signed in with MFA).
    fn user_caller(&self, user: &User, now: i64, mfa: bool) -> Caller {
        let arn = user.arn();
        Caller {
            account: user.account.clone(),
            arn: arn.clone(),
            user_id: user.user_id.clone(),
            kind: CallerKind::User { name: user.name.clone(), path: user.path.clone(), user_id: user.user_id.clone() },
            access_key_id: tessera_services::sts::tokens::temporary_access_key_id(&user.account),
            session: Some(self.console_session_info(now, mfa, &arn)),
        }
    }

    /// A new signed-in session (a new id: the pre-sign-in one is dropped).
    fn start_session(&self, req: &Req, old_id: &str, identity: Identity, now: i64) -> Resp {
        self.sessions.remove(old_id);
        let id = self.sessions.create(State::SignedIn(Box::new(identity)), now, now + self.session_secs);
        Resp::redirect("/console").with_cookie(session_cookie(&id, req.secure))
    }

    fn mfa_page(&self, csrf: &str, error: Option<&str>) -> String {
        let err = error.map(|e| error_box("Sign-in failed", e)).unwrap_or_default();
        page(
            "Multi-factor authentication",
            None,
            None,
            &format!(
                r#"<h1>Multi-factor authentication</h1>{err}<p>Enter the code from your MFA device.</p>
<form method="post" action="/console/mfa" class="card" id="mfa-form">{}<label>MFA code<input name="code" id="mfa-code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" required></label>
<button type="submit" id="mfa-submit">Submit</button></form><p><a href="/console/signin">Cancel</a></p>"#,
                csrf_field(csrf)
            ),
        )
    }

    /// `GET/POST /console/mfa`: the second sign-in step.
    pub(super) fn mfa(&self, req: &Req, found: Option<(String, Session)>, now: i64) -> Resp {
        let Some((id, session)) = found else {
            return Resp::redirect("/console/signin").with_cookie(clear_cookie(req.secure));
        };
        let State::MfaPending { account, user, serial, root } = &session.state else {
            return Resp::redirect("/console/signin");
        };
        if req.method == http::Method::GET {
            return Resp::html(self.mfa_page(&session.csrf, None));
        }
        // The lockout counts as at the password step: account + user name, or root email.
        let who = if *root {
            format!("root/{}", user.to_ascii_lowercase())
        } else {
            format!("{account}/{}", user.to_ascii_lowercase())
        };
        if let Some(until) = self.sessions.locked_until(&who, now) {
            return Resp::html(self.mfa_page(&session.csrf, Some(&locked_message(until))))
                .status(StatusCode::TOO_MANY_REQUESTS);
        }
        let code = req.f("code");
        let valid = code.len() == 6
            && code.bytes().all(|b| b.is_ascii_digit())
            && mfa::verify_token(&self.services, serial, &code, now).unwrap_or(false);
        if valid && *root {
            self.sessions.succeed(&who);
            return self.start_session(req, &id, self.root_identity(account, now, true), now);
        }
        let record: Option<User> = if valid && !*root {
            self.read(|r| model::load(r, table::USER, &model::name_key(account, user))).flatten()
        } else {
            None
        };
        let Some(record) = record else {
            self.sessions.fail(&who, now);
            return Resp::html(self.mfa_page(&session.csrf, Some("The MFA code is not valid. Please try again.")))
                .status(StatusCode::UNAUTHORIZED);
        };
        self.sessions.succeed(&who);
        let identity = Identity {
            base: self.user_caller(&record, now, true),
            label: record.name.clone(),
            role: None,
            password_reset: self.must_change_password(&record, now),
        };
        self.start_session(req, &id, identity, now)
    }

    fn switch_form(&self, cx: &Cx, error: Option<&AwsError>) -> String {
        let r = cx.req;
        let pick = |form: &str, query: &str| {
            let v = r.f(form);
            if v.is_empty() {
                r.q(query)
            } else {
                v
            }
        };
        let account = pick("account", "account");
        let role = pick("role", "roleName");
        let display = pick("display", "displayName");
        let colour = pick("colour", "color");
        let colour = if session::COLOURS.contains(&colour.as_str()) { colour } else { "blue".to_string() };
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let mut swatches = String::new();
        for c in session::COLOURS {
            let checked = if *c == colour { " checked" } else { "" };
            swatches.push_str(&format!(
                r#"<label class="swatch swatch-{c}"><input type="radio" name="colour" value="{c}" id="colour-{c}"{checked}> {c}</label>"#
            ));
        }
        format!(
            r#"<h1>Switch Role</h1>{err}<p>Switch to a role in an account that trusts you. Permissions are those of the role; your own come back when you switch back.</p>
<form method="post" action="/console/switchrole" class="card" id="switch-form">{}
<label>Account ID or alias<input name="account" id="sr-account" required value="{}"></label>
<label>Role name<input name="role" id="sr-role" required value="{}"></label>
<label>Display name (optional)<input name="display" id="sr-display" maxlength="64" value="{}"></label>
<fieldset class="colours"><legend>Colour (optional)</legend>{swatches}</fieldset>
<button type="submit" id="sr-submit">Switch Role</button></form>"#,
            csrf_field(&cx.session.csrf),
            esc(&account),
            esc(&role),
            esc(&display)
        )
    }

    /// `GET/POST /console/switchrole`: AssumeRole as the signed-in principal.
    pub(super) fn switch_role(&self, cx: &Cx) -> Resp {
        if cx.req.method == http::Method::GET {
            return self.frame(cx, "Switch Role", &self.switch_form(cx, None));
        }
        let req = cx.req;
        let account_in = req.f("account");
        let role = req.f("role").trim_matches('/').to_string();
        let account =
            if is_account_id(&account_in) { Some(account_in.clone()) } else { self.resolve_account(&account_in) };
        let valid_role = !role.is_empty()
            && role.len() <= 512
            && role.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
        let Some(account) = account.filter(|_| valid_role) else {
            let e = AwsError::validation("Enter a 12-digit account ID (or an alias) and a valid role name.");
            return self.frame(cx, "Switch Role", &self.switch_form(cx, Some(&e))).status(StatusCode::BAD_REQUEST);
        };
        let display: String = {
            let d = req.f("display");
            let d = if d.is_empty() { format!("{role} @ {account}") } else { d };
            d.chars().take(64).collect()
        };
        let colour = req.f("colour");
        let colour = if session::COLOURS.contains(&colour.as_str()) { colour } else { "blue".to_string() };
        let role_arn = match role.rsplit_once('/') {
            Some((path, name)) => format!("arn:aws:iam::{account}:role/{path}/{name}"),
            None => format!("arn:aws:iam::{account}:role/{role}"),
        };
        let session_name: String = cx
            .identity
            .label
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c))
            .take(64)
            .collect();
        let session_name = if session_name.len() < 2 { "console".to_string() } else { session_name };
        let base = cx.identity.base.clone();
        let result = self.call_as(
            cx,
            &base,
            ServiceName::Sts,
            "AssumeRole",
            &[("RoleArn", &role_arn), ("RoleSessionName", &session_name), ("DurationSeconds", "3600")],
        );
        let node = match result {
            Ok(n) => n,
            Err(e) => {
                let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::FORBIDDEN);
                return self.frame(cx, "Switch Role", &self.switch_form(cx, Some(&e))).status(status);
            }
        };
        let access_key_id = node.text_of("AccessKeyId");
        let session_token = node.text_of("SessionToken");
        if access_key_id.is_empty() || session_token.is_empty() {
            return self.frame(cx, "Switch Role", &self.switch_form(cx, Some(&AwsError::internal())));
        }
        let entry = RoleEntry { account, role, display, colour };
        self.sessions.add_recent(&cx.identity.base.arn, entry.clone());
        let mut identity = cx.identity.clone();
        identity.role = Some(ActiveRole { access_key_id, session_token, entry });
        self.sessions.update(&cx.sid, |s| s.state = State::SignedIn(Box::new(identity)));
        Resp::redirect("/console")
    }

    /// `POST /console/switchback`.
    pub(super) fn switch_back(&self, cx: &Cx) -> Resp {
        let mut identity = cx.identity.clone();
        identity.role = None;
        self.sessions.update(&cx.sid, |s| s.state = State::SignedIn(Box::new(identity)));
        Resp::redirect("/console")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_expire_by_the_policy() {
        let mut p = login::PasswordPolicy {
            minimum_password_length: 8,
            require_symbols: false,
            require_numbers: false,
            require_uppercase_characters: false,
            require_lowercase_characters: false,
            allow_users_to_change_password: true,
            max_password_age: None,
            password_reuse_prevention: None,
            hard_expiry: None,
        };
        assert_eq!(expiry(None, 0, i64::MAX), Expiry::Valid);
        assert_eq!(expiry(Some(&p), 0, 10 * 86_400), Expiry::Valid, "no maximum age");
        p.max_password_age = Some(2);
        assert_eq!(expiry(Some(&p), 100, 100 + 2 * 86_400 - 1), Expiry::Valid);
        assert_eq!(expiry(Some(&p), 100, 100 + 2 * 86_400), Expiry::Expired);
        p.hard_expiry = Some(true);
        assert_eq!(expiry(Some(&p), 100, 100 + 3 * 86_400), Expiry::AdministratorReset);
        assert_eq!(expiry(Some(&p), i64::MAX, 0), Expiry::Valid, "no overflow");
    }
}
