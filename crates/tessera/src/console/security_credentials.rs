//! The signed-in user's own credentials: the password change AWS's sign-in forces when the
//! login profile has `PasswordResetRequired` (`/console/password`), and the "Security
//! credentials" page (`/console/security-credentials`: change password, own access keys).
//! The change is `iam:ChangePassword` as the user, so the account's password policy and the
//! user's permissions decide, with AWS's messages.

use http::{Method, StatusCode};
use tessera_services::iam::credentials::login::{self, PasswordPolicy};
use tessera_services::{CallerKind, ServiceName};
use tessera_wire::AwsError;

use super::html::{csrf_field, error_box, esc};
use super::session::State;
use super::{Console, Cx, Resp};

/// The rules of the account's password policy (or AWS's default one), as AWS's console lists
/// them beside the password fields.
fn policy_rules(policy: Option<&PasswordPolicy>) -> Vec<String> {
    match policy {
        None => vec![
            "At least 8 characters".into(),
            "At least three of: upper case letters, lower case letters, numbers, symbols".into(),
            "Not your user name, the account name or its email address".into(),
        ],
        Some(p) => {
            let mut rules = vec![format!("At least {} characters", p.minimum_password_length)];
            let mut need = |on: bool, what: &str| {
                if on {
                    rules.push(format!("At least one {what}"));
                }
            };
            need(p.require_uppercase_characters, "upper case letter (A-Z)");
            need(p.require_lowercase_characters, "lower case letter (a-z)");
            need(p.require_numbers, "number (0-9)");
            need(p.require_symbols, "symbol (! @ # $ % ^ & * ( ) _ + - = [ ] { } | ')");
            if let Some(n) = p.password_reuse_prevention {
                rules.push(format!("Not one of your last {n} passwords"));
            }
            rules
        }
    }
}

impl Console {
    /// The signed-in IAM user's name (not when switched to a role, nor for root).
    fn own_user_name(cx: &Cx) -> Option<String> {
        match (&cx.identity.base.kind, &cx.identity.role) {
            (CallerKind::User { name, .. }, None) => Some(name.clone()),
            _ => None,
        }
    }

    fn change_password_form(&self, cx: &Cx, forced: bool, error: Option<&AwsError>) -> String {
        let account = cx.identity.base.account.clone();
        let policy = self.read(|r| login::password_policy(r, &account)).flatten();
        let rules: String = policy_rules(policy.as_ref()).iter().map(|r| format!("<li>{}</li>", esc(r))).collect();
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let intro = if forced {
            "<p id=\"reset-required\">Your administrator requires you to choose a new password before you continue.</p>"
        } else {
            ""
        };
        format!(
            r#"{intro}{err}<form method="post" action="/console/password" class="card" id="change-password-form">{}
<label>Old password<input type="password" name="old_password" id="old-password" autocomplete="current-password" required maxlength="128"></label>
<label>New password<input type="password" name="new_password" id="new-password" autocomplete="new-password" required maxlength="128" aria-describedby="password-rules"></label>
<label>Retype new password<input type="password" name="confirm_password" id="confirm-password" autocomplete="new-password" required maxlength="128"></label>
<div id="password-rules"><p>The password must meet the account's password policy:</p><ul>{rules}</ul></div>
<button type="submit" id="change-password-submit">Change password</button></form>"#,
            csrf_field(&cx.session.csrf)
        )
    }

    /// `GET/POST /console/password`: change the signed-in user's password (`iam:ChangePassword`
    /// with the old one). Forced after a sign-in whose login profile has `PasswordResetRequired`.
    pub(super) fn password_page(&self, cx: &Cx) -> Resp {
        let forced = cx.identity.password_reset;
        let title = if forced { "Password change required" } else { "Change password" };
        if Self::own_user_name(cx).is_none() {
            let e = AwsError::new(400, "InvalidUserType", "Only IAM Users can change their own password.");
            return self.denied(cx, title, "", &e);
        }
        let page = |error: Option<&AwsError>| {
            let status =
                error.map_or(StatusCode::OK, |e| StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST));
            self.frame(cx, title, &format!("<h1>{title}</h1>{}", self.change_password_form(cx, forced, error)))
                .status(status)
        };
        if cx.req.method == Method::GET {
            return page(None);
        }
        let (old, new) = (cx.req.raw("old_password"), cx.req.raw("new_password"));
        if new != cx.req.raw("confirm_password") {
            return page(Some(&AwsError::validation("The new passwords do not match.")));
        }
        // As the signed-in user itself (never a role it switched to).
        let base = cx.identity.base.clone();
        let p = [("OldPassword", old.as_str()), ("NewPassword", new.as_str())];
        if let Err(e) = self.call_as(cx, &base, ServiceName::Iam, "ChangePassword", &p) {
            return page(Some(&e));
        }
        if forced {
            let mut identity = cx.identity.clone();
            identity.password_reset = false;
            self.sessions.update(&cx.sid, |s| s.state = State::SignedIn(Box::new(identity)));
        }
        self.flash(cx, "Your password has been changed.");
        Resp::redirect(if forced { "/console" } else { "/console/security-credentials" })
    }

    /// `GET /console/security-credentials`: the signed-in user's password and access keys.
    pub(super) fn security_credentials(&self, cx: &Cx) -> Resp {
        const TITLE: &str = "My security credentials";
        let Some(name) = Self::own_user_name(cx) else {
            let body = format!(
                "<h1>{TITLE}</h1><p id=\"not-a-user\">This page manages an IAM user's own credentials. {}</p>",
                if cx.identity.role.is_some() {
                    "Switch back to your user first."
                } else {
                    "The root user's console password is set with <code>tessera console set-root-password</code> (docs/CONSOLE.md)."
                }
            );
            return self.frame(cx, TITLE, &body);
        };
        let body = format!(
            r#"<h1>{TITLE}</h1><dl class="facts"><dt>User</dt><dd id="own-arn">{}</dd></dl><h2>Console password</h2>{}{}"#,
            esc(&cx.identity.base.arn),
            self.change_password_form(cx, false, None),
            self.access_keys_section(cx, &name)
        );
        self.frame(cx, TITLE, &body)
    }

    /// `POST /console/security-credentials/keys/...`: the signed-in user's own access keys.
    pub(super) fn own_keys(&self, cx: &Cx, rest: &[&str]) -> Resp {
        match Self::own_user_name(cx) {
            Some(name) => {
                let mut path = vec!["keys"];
                path.extend_from_slice(rest);
                self.user_edit(cx, &name, &path)
            }
            None => self.not_found(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_follow_the_policy() {
        assert_eq!(policy_rules(None).len(), 3);
        let p = PasswordPolicy {
            minimum_password_length: 14,
            require_symbols: true,
            require_numbers: false,
            require_uppercase_characters: true,
            require_lowercase_characters: false,
            allow_users_to_change_password: true,
            max_password_age: None,
            password_reuse_prevention: Some(3),
            hard_expiry: None,
        };
        let rules = policy_rules(Some(&p));
        assert_eq!(rules[0], "At least 14 characters");
        assert!(rules.iter().any(|r| r.contains("upper case")) && !rules.iter().any(|r| r.contains("lower case")));
        assert!(rules.iter().any(|r| r.contains("last 3 passwords")));
    }
}
