//! The signed-in user's own credentials: the password change AWS's sign-in forces when the
//! login profile has `PasswordResetRequired` (`/console/password`), and the "Security
//! credentials" page (`/console/security-credentials`: change password, own access keys).
//! The change is `iam:ChangePassword` as the user, so the account's password policy and the
//! user's permissions decide, with AWS's messages. Signed in as root, the page assigns and
//! removes the root user's virtual MFA device (IAM User Guide, "Enable a virtual MFA device for
//! the root user (console)").

use http::{Method, StatusCode};
use tessera_services::iam::credentials::login::{self, PasswordPolicy};
use tessera_services::iam::credentials::mfa;
use tessera_services::{CallerKind, Input, ServiceName};
use tessera_wire::{AwsError, QueryParams};

use super::html::{csrf_field, error_box, esc, table};
use super::iam_more::hidden;
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

    /// Signed in as the root user itself (not a role it switched to: root cannot).
    fn is_root(cx: &Cx) -> bool {
        matches!(cx.identity.base.kind, CallerKind::Root) && cx.identity.role.is_none()
    }

    /// The root user's MFA devices (`ListMFADevices` as root, no user name), each with
    /// "Remove" (a current code confirms it), and "Assign MFA device".
    fn root_mfa_section(&self, cx: &Cx, error: Option<&AwsError>) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let devices = match self.call_all(cx, ServiceName::Iam, "ListMFADevices", &[], ("MFADevices", "member")) {
            Ok(devices) => {
                let rows: Vec<Vec<String>> = devices
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let serial = d.child_text("SerialNumber");
                        vec![
                            format!("<code>{}</code>", esc(&serial)),
                            esc(&d.child_text("EnableDate")),
                            format!(
                                r#"<form method="post" action="/console/security-credentials/mfa/remove" class="inline">{csrf}{}<label>Current MFA code<input name="code" id="root-mfa-remove-code-{i}" required pattern="[0-9]{{6}}" inputmode="numeric" autocomplete="one-time-code" size="6"></label><button type="submit" class="danger" id="root-mfa-remove-{i}">Remove</button></form>"#,
                                hidden("serial", &serial)
                            ),
                        ]
                    })
                    .collect();
                table("root-mfa-devices", &["Serial number", "Enabled", "Actions"], &rows, "No MFA devices")
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        format!(
            r#"<h2>Multi-factor authentication (MFA)</h2>{err}<p>With an MFA device assigned, the root user's sign-in asks for its code after the password.</p>{devices}
<form method="post" action="/console/security-credentials/mfa" class="inline" id="root-assign-mfa">{csrf}<input type="hidden" name="step" value="create"><label>Device name<input name="device" id="root-mfa-device-name" required maxlength="128"></label><button type="submit" id="root-assign-mfa-submit">Assign MFA device</button></form>"#
        )
    }

    /// `POST /console/security-credentials/mfa[/remove]`: the root user's MFA device. Assign:
    /// `CreateVirtualMFADevice`, then two consecutive codes enable it for the root user (the IAM
    /// API cannot: `EnableMFADevice` requires a user name). Remove: a current code of the device
    /// (spent like a sign-in code), then `DeactivateMFADevice` and `DeleteVirtualMFADevice` as
    /// root, as AWS's console does.
    pub(super) fn root_mfa(&self, cx: &Cx, rest: &[&str]) -> Resp {
        const TITLE: &str = "My security credentials";
        if !Self::is_root(cx) {
            return self.not_found(cx);
        }
        let r = cx.req;
        let account = cx.identity.base.account.clone();
        let failed = |e: &AwsError| {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            self.frame(cx, TITLE, &self.root_page(cx, Some(e))).status(status)
        };
        let serial = r.f("serial");
        let own_serial = serial.starts_with(&format!("arn:aws:iam::{account}:mfa/"));
        let result = match (rest, r.f("step").as_str()) {
            (["remove"], _) => {
                // The code is checked only for a device of this account, and spent once.
                let code = r.f("code");
                let now = self.now();
                let valid = own_serial && mfa::verify_token(&self.services, &serial, &code, now).unwrap_or(false);
                if !valid {
                    return failed(&AwsError::new(
                        403,
                        "InvalidAuthenticationCode",
                        "Authentication code for device is not valid.",
                    ));
                }
                self.call(cx, ServiceName::Iam, "DeactivateMFADevice", &[("SerialNumber", &serial)])
                    .and_then(|_| {
                        self.call(cx, ServiceName::Iam, "DeleteVirtualMFADevice", &[("SerialNumber", &serial)])
                    })
                    .map(|_| "MFA device removed.")
            }
            ([], "enable") => {
                // Recorded as AWS's console call is: `EnableMFADevice` by root (codes not kept).
                let input = Input::Query(QueryParams::from_pairs([
                    ("Action", "EnableMFADevice"),
                    ("SerialNumber", serial.as_str()),
                ]));
                let (code1, code2) = (r.f("code1"), r.f("code2"));
                self.run_audited(r, &cx.identity.base, ServiceName::Iam, "EnableMFADevice", &input, |call| {
                    mfa::enable_root_mfa_device(&self.services, call, &serial, &code1, &code2)
                })
                .map(|_| "MFA device assigned.")
            }
            ([], "create") => {
                let created = self.call(
                    cx,
                    ServiceName::Iam,
                    "CreateVirtualMFADevice",
                    &[("VirtualMFADeviceName", &r.f("device"))],
                );
                return match created {
                    Ok(node) => self.mfa_setup_page(cx, &node, "/console/security-credentials/mfa", ""),
                    Err(e) => failed(&e),
                };
            }
            _ => return self.not_found(cx),
        };
        match result {
            Ok(message) => {
                self.flash(cx, message);
                Resp::redirect("/console/security-credentials")
            }
            Err(e) => failed(&e),
        }
    }

    /// The root user's page: where its password is set, and its MFA devices.
    fn root_page(&self, cx: &Cx, error: Option<&AwsError>) -> String {
        format!(
            r#"<h1>My security credentials</h1><dl class="facts"><dt>User</dt><dd id="own-arn">{}</dd></dl><p id="root-password">The root user's console password is set with <code>tessera console set-root-password</code> (docs/CONSOLE.md).</p>{}"#,
            esc(&cx.identity.base.arn),
            self.root_mfa_section(cx, error)
        )
    }

    /// `GET /console/security-credentials`: the signed-in user's password and access keys.
    pub(super) fn security_credentials(&self, cx: &Cx) -> Resp {
        const TITLE: &str = "My security credentials";
        if Self::is_root(cx) {
            return self.frame(cx, TITLE, &self.root_page(cx, None));
        }
        let Some(name) = Self::own_user_name(cx) else {
            let body = format!(
                "<h1>{TITLE}</h1><p id=\"not-a-user\">This page manages an IAM user's own credentials. {}</p>",
                if cx.identity.role.is_some() { "Switch back to your user first." } else { "" }
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
