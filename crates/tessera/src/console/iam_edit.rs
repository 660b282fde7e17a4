//! IAM editing in the console (docs/CONSOLE.md): a user's access keys (create with the secret
//! shown once and a CSV download, activate, deactivate, delete, last used) and console password
//! (set, reset, require a reset, remove); deleting a user with what AWS's console removes first;
//! a role's "Revoke active sessions" and deletion; deleting a group. Every change is an IAM call
//! as the caller, so the engine decides and the trail records it.

use std::fmt::Write;

use tessera_services::ServiceName;
use tessera_wire::AwsError;

use super::html::{csrf_field, enc, error_box, esc, link, table};
use super::xml::Node;
use super::{Console, Cx, Resp};

/// The inline policy AWS's console puts on a role to revoke its sessions (IAM User Guide,
/// "Revoking IAM role temporary security credentials").
pub const REVOKE_POLICY_NAME: &str = "AWSRevokeOlderSessions";

/// The revocation policy: deny everything to sessions issued before `now_iso`.
fn revoke_policy(now_iso: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Deny",
            "Action": ["*"],
            "Resource": ["*"],
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": now_iso}}
        }]
    })
    .to_string()
}

/// What deleting a user removes first, in AWS console order, and the calls that remove it.
struct Dependents {
    keys: Vec<String>,
    login_profile: bool,
    mfa: Vec<String>,
    inline: Vec<String>,
    attached: Vec<String>,
    groups: Vec<String>,
}

impl Dependents {
    fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |n: usize, what: &str| {
            if n > 0 {
                out.push(format!("{n} {what}"));
            }
        };
        add(self.keys.len(), "access key(s)");
        add(usize::from(self.login_profile), "console password");
        add(self.mfa.len(), "MFA device(s) (deactivated)");
        add(self.inline.len(), "inline policy(ies)");
        add(self.attached.len(), "attached policy(ies) (detached)");
        add(self.groups.len(), "group membership(s)");
        out
    }
}

impl Console {
    /// One field of every item of an IAM list call (all its pages, through
    /// [`Console::call_all`]); `field` empty: the items are plain strings (`PolicyNames`).
    pub(super) fn texts(
        &self,
        cx: &Cx,
        op: &str,
        params: &[(&str, &str)],
        list: &str,
        field: &str,
    ) -> Result<Vec<String>, AwsError> {
        let items = self.call_all(cx, ServiceName::Iam, op, params, (list, "member"))?;
        Ok(items.iter().map(|m| if field.is_empty() { m.text.clone() } else { m.child_text(field) }).collect())
    }

    fn dependents(&self, cx: &Cx, name: &str) -> Result<Dependents, AwsError> {
        let p = [("UserName", name)];
        let login_profile = match self.call(cx, ServiceName::Iam, "GetLoginProfile", &p) {
            Ok(_) => true,
            Err(e) if e.code == "NoSuchEntity" => false,
            Err(e) => return Err(e),
        };
        Ok(Dependents {
            keys: self.texts(cx, "ListAccessKeys", &p, "AccessKeyMetadata", "AccessKeyId")?,
            login_profile,
            mfa: self.texts(cx, "ListMFADevices", &p, "MFADevices", "SerialNumber")?,
            inline: self.texts(cx, "ListUserPolicies", &p, "PolicyNames", "")?,
            attached: self.texts(cx, "ListAttachedUserPolicies", &p, "AttachedPolicies", "PolicyArn")?,
            groups: self.texts(cx, "ListGroupsForUser", &p, "Groups", "GroupName")?,
        })
    }

    /// Where a user's credential forms post and come back to: the user's IAM page, or the
    /// signed-in user's own "Security credentials" page.
    fn credentials_base(cx: &Cx, name: &str) -> String {
        if cx.req.path.starts_with("/security-credentials") {
            "/console/security-credentials".to_string()
        } else {
            format!("/console/iam/users/{}", enc(name))
        }
    }

    /// A user's access keys with their forms (create, activate/deactivate, delete).
    pub(super) fn access_keys_section(&self, cx: &Cx, name: &str) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let base = Self::credentials_base(cx, name);
        let keys = match self.call(cx, ServiceName::Iam, "ListAccessKeys", &[("UserName", name)]) {
            Ok(n) => {
                let rows: Vec<Vec<String>> =
                    n.list("AccessKeyMetadata", "member").iter().map(|k| self.key_row(cx, &base, &csrf, k)).collect();
                table(
                    "access-keys",
                    &["Access key ID", "Status", "Created", "Last used", "Actions"],
                    &rows,
                    "No access keys",
                )
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        format!(
            r#"<h2>Access keys</h2>{keys}<form method="post" action="{base}/keys/create" class="inline">{csrf}<button type="submit" id="create-access-key">Create access key</button></form>"#
        )
    }

    /// The user page's "Security credentials" section: access keys and console password.
    pub(super) fn user_credentials(&self, cx: &Cx, name: &str) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let base = format!("/console/iam/users/{}", enc(name));
        format!(
            r#"{}
<h2>Console password</h2><form method="post" action="{base}/password" class="card" id="password-form">{csrf}<label>New password<input type="password" name="password" id="set-password" autocomplete="new-password" required maxlength="128"></label><label class="check"><input type="checkbox" name="reset_required" id="set-password-reset" value="1"> User must create a new password at next sign-in</label><button type="submit" id="set-password-submit">Set console password</button></form><form method="post" action="{base}/password/delete" class="inline">{csrf}<button type="submit" id="remove-console-access">Remove console access</button></form>
<h2>Delete user</h2><p><a href="{base}/delete" id="delete-user">Delete this user…</a></p>"#,
            self.access_keys_section(cx, name)
        )
    }

    /// As AWS's console does with "User must create a new password at next sign-in": attach
    /// `IAMUserChangePassword`, so that the user may choose the new password (IAM User Guide,
    /// "Create an IAM user in your AWS account").
    pub(super) fn allow_password_change(&self, cx: &Cx, name: &str, reset: bool) -> Result<(), AwsError> {
        if !reset {
            return Ok(());
        }
        let arn = "arn:aws:iam::aws:policy/IAMUserChangePassword";
        self.call(cx, ServiceName::Iam, "AttachUserPolicy", &[("UserName", name), ("PolicyArn", arn)]).map(|_| ())
    }

    fn key_row(&self, cx: &Cx, base: &str, csrf: &str, k: &Node) -> Vec<String> {
        let id = k.child_text("AccessKeyId");
        let status = k.child_text("Status");
        let last = match self.call(cx, ServiceName::Iam, "GetAccessKeyLastUsed", &[("AccessKeyId", &id)]) {
            Ok(n) => {
                let date = n.text_of("LastUsedDate");
                if date.is_empty() {
                    "Never".to_string()
                } else {
                    format!("{} ({} in {})", date, n.text_of("ServiceName"), n.text_of("Region"))
                }
            }
            Err(e) => e.code,
        };
        let flip = if status == "Active" { "Inactive" } else { "Active" };
        let label = if status == "Active" { "Deactivate" } else { "Activate" };
        vec![
            format!("<code>{}</code>", esc(&id)),
            esc(&status),
            esc(&k.child_text("CreateDate")),
            esc(&last),
            format!(
                r#"<form method="post" action="{base}/keys/{id}/status" class="inline">{csrf}<input type="hidden" name="status" value="{flip}"><button type="submit">{label}</button></form> <form method="post" action="{base}/keys/{id}/delete" class="inline">{csrf}<button type="submit">Delete</button></form>"#,
                id = enc(&id)
            ),
        ]
    }

    fn back_to_user(&self, cx: &Cx, name: &str, result: Result<String, AwsError>) -> Resp {
        match result {
            Ok(done) => {
                self.flash(cx, done);
                Resp::redirect(&Self::credentials_base(cx, name))
            }
            // The failed call's own error (the user page may not even be readable).
            Err(e) => {
                let back = format!("<p>{}</p>", link(&Self::credentials_base(cx, name), "Back"));
                self.denied(cx, &format!("User {name}"), &back, &e)
            }
        }
    }

    /// POST routes under `/console/iam/users/<name>/`.
    pub(super) fn user_edit(&self, cx: &Cx, name: &str, rest: &[&str]) -> Resp {
        let f = |k: &str| cx.req.f(k);
        match rest {
            ["keys", "create"] => match self.call(cx, ServiceName::Iam, "CreateAccessKey", &[("UserName", name)]) {
                Ok(n) => self.new_key_page(cx, name, &n),
                Err(e) => self.back_to_user(cx, name, Err(e)),
            },
            ["keys", id, "status"] => {
                let status = if f("status") == "Active" { "Active" } else { "Inactive" };
                let r = self.call(
                    cx,
                    ServiceName::Iam,
                    "UpdateAccessKey",
                    &[("UserName", name), ("AccessKeyId", id), ("Status", status)],
                );
                self.back_to_user(cx, name, r.map(|_| format!("Access key {id} is now {status}.")))
            }
            ["keys", id, "delete"] => {
                let r = self.call(cx, ServiceName::Iam, "DeleteAccessKey", &[("UserName", name), ("AccessKeyId", id)]);
                self.back_to_user(cx, name, r.map(|_| format!("Access key {id} deleted.")))
            }
            ["password"] => {
                let password = cx.req.raw("password");
                let reset = if f("reset_required") == "1" { "true" } else { "false" };
                let p = [("UserName", name), ("Password", password.as_str()), ("PasswordResetRequired", reset)];
                let r = match self.call(cx, ServiceName::Iam, "UpdateLoginProfile", &p) {
                    Err(e) if e.code == "NoSuchEntity" => self.call(cx, ServiceName::Iam, "CreateLoginProfile", &p),
                    other => other,
                };
                let r = r.and_then(|_| self.allow_password_change(cx, name, reset == "true"));
                self.back_to_user(cx, name, r.map(|_| "Console password set.".to_string()))
            }
            ["password", "delete"] => {
                let r = self.call(cx, ServiceName::Iam, "DeleteLoginProfile", &[("UserName", name)]);
                self.back_to_user(cx, name, r.map(|_| "Console access removed.".to_string()))
            }
            ["delete"] => self.delete_user(cx, name),
            _ => self.entity_edit(cx, super::iam_more::Kind::User, name, rest),
        }
    }

    pub(super) fn not_found(&self, cx: &Cx) -> Resp {
        self.frame(cx, "Not found", "<h1>Not found</h1><p>There is no such console page.</p>")
            .status(http::StatusCode::NOT_FOUND)
    }

    /// The one time a new key's secret is shown, with a CSV to download (AWS's columns).
    fn new_key_page(&self, cx: &Cx, name: &str, n: &Node) -> Resp {
        let (id, secret) = (n.text_of("AccessKeyId"), n.text_of("SecretAccessKey"));
        let csv = format!("Access key ID,Secret access key\n{id},{secret}\n");
        let body = format!(
            r#"<h1>Access key created</h1><p>This is the only time the secret access key can be viewed or downloaded. You cannot recover it later; you can create a new access key at any time.</p><dl class="facts"><dt>Access key ID</dt><dd id="new-key-id"><code>{}</code></dd><dt>Secret access key</dt><dd id="new-key-secret"><code>{}</code></dd></dl><p><a id="download-key" download="{}_accessKeys.csv" href="data:text/csv;charset=utf-8,{}">Download .csv file</a></p><p><a href="{}" id="new-key-done">Done</a></p>"#,
            esc(&id),
            esc(&secret),
            esc(name),
            enc(&csv),
            esc(&Self::credentials_base(cx, name))
        );
        // Every console answer is `Cache-Control: no-store` (mod.rs), so the secret is not cached.
        self.frame(cx, "Access key created", &body)
    }

    /// `GET`: what deleting the user removes first, and a form to confirm by typing its name;
    /// `POST` with the name: remove them, then `DeleteUser`.
    fn delete_user(&self, cx: &Cx, name: &str) -> Resp {
        let title = format!("Delete user {name}");
        let deps = match self.dependents(cx, name) {
            Ok(d) => d,
            Err(e) => return self.denied(cx, &title, "", &e),
        };
        if cx.req.method == http::Method::GET || cx.req.f("confirm") != name {
            let list: String = deps.describe().iter().map(|d| format!("<li>{}</li>", esc(d))).collect();
            let removes = if list.is_empty() {
                "<p>Nothing else is attached to it.</p>".into()
            } else {
                format!("<p>Deleting it first removes:</p><ul id=\"delete-removes\">{list}</ul>")
            };
            let body = format!(
                r#"<h1>{}</h1>{removes}<form method="post" action="/console/iam/users/{}/delete" class="card" id="delete-user-form">{}<label>To confirm, type the user name<input name="confirm" required autocomplete="off"></label><button type="submit" class="danger">Delete user</button></form>"#,
                esc(&title),
                enc(name),
                csrf_field(&cx.session.csrf)
            );
            return self.frame(cx, &title, &body);
        }
        let run = || -> Result<(), AwsError> {
            let iam = |op: &str, p: &[(&str, &str)]| self.call(cx, ServiceName::Iam, op, p).map(|_| ());
            for k in &deps.keys {
                iam("DeleteAccessKey", &[("UserName", name), ("AccessKeyId", k)])?;
            }
            if deps.login_profile {
                iam("DeleteLoginProfile", &[("UserName", name)])?;
            }
            for s in &deps.mfa {
                iam("DeactivateMFADevice", &[("UserName", name), ("SerialNumber", s)])?;
            }
            for p in &deps.inline {
                iam("DeleteUserPolicy", &[("UserName", name), ("PolicyName", p)])?;
            }
            for a in &deps.attached {
                iam("DetachUserPolicy", &[("UserName", name), ("PolicyArn", a)])?;
            }
            for g in &deps.groups {
                iam("RemoveUserFromGroup", &[("UserName", name), ("GroupName", g)])?;
            }
            iam("DeleteUser", &[("UserName", name)])
        };
        match run() {
            Ok(()) => {
                self.flash(cx, format!("User {name} deleted."));
                Resp::redirect("/console/iam/users")
            }
            Err(e) => self.denied(cx, &title, "", &e),
        }
    }

    /// POST routes under `/console/iam/roles/<name>/`: revoke active sessions, delete.
    pub(super) fn role_edit(&self, cx: &Cx, name: &str, rest: &[&str]) -> Resp {
        let title = format!("Role {name}");
        let back = format!("/console/iam/roles/{}", enc(name));
        let result = match rest {
            ["revoke"] => {
                let now = tessera_services::clock::iso8601(self.services.clock.now_millis() / 1000);
                self.call(
                    cx,
                    ServiceName::Iam,
                    "PutRolePolicy",
                    &[("RoleName", name), ("PolicyName", REVOKE_POLICY_NAME), ("PolicyDocument", &revoke_policy(&now))],
                )
                .map(|_| (format!("Sessions of {name} issued before {now} are revoked."), back.clone()))
            }
            ["delete"] if cx.req.f("confirm") == name => {
                self.delete_role(cx, name).map(|()| (format!("Role {name} deleted."), "/console/iam/roles".to_string()))
            }
            ["delete"] => Err(AwsError::validation("Type the role name to confirm.")),
            _ => return self.entity_edit(cx, super::iam_more::Kind::Role, name, rest),
        };
        match result {
            Ok((done, to)) => {
                self.flash(cx, done);
                Resp::redirect(&to)
            }
            Err(e) => self.denied(cx, &title, "", &e),
        }
    }

    /// A role's policies and instance profiles removed, then `DeleteRole`.
    fn delete_role(&self, cx: &Cx, name: &str) -> Result<(), AwsError> {
        let p = [("RoleName", name)];
        let iam = |op: &str, p: &[(&str, &str)]| self.call(cx, ServiceName::Iam, op, p).map(|_| ());
        for policy in self.texts(cx, "ListRolePolicies", &p, "PolicyNames", "")? {
            iam("DeleteRolePolicy", &[("RoleName", name), ("PolicyName", &policy)])?;
        }
        for arn in self.texts(cx, "ListAttachedRolePolicies", &p, "AttachedPolicies", "PolicyArn")? {
            iam("DetachRolePolicy", &[("RoleName", name), ("PolicyArn", &arn)])?;
        }
        for profile in self.texts(cx, "ListInstanceProfilesForRole", &p, "InstanceProfiles", "InstanceProfileName")? {
            iam("RemoveRoleFromInstanceProfile", &[("RoleName", name), ("InstanceProfileName", &profile)])?;
        }
        iam("DeleteRole", &p)
    }

    /// The role page's actions: revoke sessions, delete.
    pub(super) fn role_actions(&self, cx: &Cx, name: &str) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let base = format!("/console/iam/roles/{}", enc(name));
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<h2>Revoke active sessions</h2><p>Denies every permission to the role's sessions issued before now (an inline policy named <code>{REVOKE_POLICY_NAME}</code>); new sessions are not affected.</p><form method="post" action="{base}/revoke" class="inline">{csrf}<button type="submit" id="revoke-sessions">Revoke active sessions</button></form>
<h2>Delete role</h2><form method="post" action="{base}/delete" class="card" id="delete-role-form">{csrf}<label>To confirm, type the role name<input name="confirm" required autocomplete="off"></label><button type="submit" class="danger">Delete role</button></form>"#
        );
        out
    }

    /// `POST /console/iam/groups/<name>/delete`: members removed, policies removed, then
    /// `DeleteGroup`.
    pub(super) fn delete_group(&self, cx: &Cx, name: &str) -> Resp {
        let title = format!("Group {name}");
        if cx.req.f("confirm") != name {
            return self.denied(cx, &title, "", &AwsError::validation("Type the group name to confirm."));
        }
        let run = || -> Result<(), AwsError> {
            let p = [("GroupName", name)];
            let iam = |op: &str, p: &[(&str, &str)]| self.call(cx, ServiceName::Iam, op, p).map(|_| ());
            for user in self.texts(cx, "GetGroup", &p, "Users", "UserName")? {
                iam("RemoveUserFromGroup", &[("GroupName", name), ("UserName", &user)])?;
            }
            for policy in self.texts(cx, "ListGroupPolicies", &p, "PolicyNames", "")? {
                iam("DeleteGroupPolicy", &[("GroupName", name), ("PolicyName", &policy)])?;
            }
            for arn in self.texts(cx, "ListAttachedGroupPolicies", &p, "AttachedPolicies", "PolicyArn")? {
                iam("DetachGroupPolicy", &[("GroupName", name), ("PolicyArn", &arn)])?;
            }
            iam("DeleteGroup", &p)
        };
        match run() {
            Ok(()) => {
                self.flash(cx, format!("Group {name} deleted."));
                Resp::redirect("/console/iam/groups")
            }
            Err(e) => self.denied(cx, &title, "", &e),
        }
    }
}
