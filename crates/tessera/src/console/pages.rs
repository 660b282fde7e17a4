//! The console's pages: home, IAM, S3, EC2. Each page calls the services as the current
//! principal; a refused call shows AWS's error instead of the content.

use http::{Method, StatusCode};
use tessera_services::ServiceName;
use tessera_wire::AwsError;

use super::html::{csrf_field, enc, error_box, esc, link, table};
use super::iam_more::{policy_text, Kind};
use super::xml::Node;
use super::{Console, Cx, Resp};

/// The policy editor's starting document.
pub(super) const EMPTY_POLICY: &str = "{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Effect\": \"Allow\",\n            \"Action\": [],\n            \"Resource\": []\n        }\n    ]\n}";

fn decode_segment(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A JSON string literal.
fn js(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// The trust policy the AWS console writes for the trusted entity "AWS account": the account's
/// root as principal, and the conditions for "Require external ID" and "Require MFA".
pub fn trust_policy(account: &str, external_id: Option<&str>, require_mfa: bool) -> String {
    let mut conditions = Vec::new();
    if let Some(x) = external_id {
        conditions.push(format!(
            "                \"StringEquals\": {{\n                    \"sts:ExternalId\": {}\n                }}",
            js(x)
        ));
    }
    if require_mfa {
        conditions.push(
            "                \"Bool\": {\n                    \"aws:MultiFactorAuthPresent\": \"true\"\n                }".to_string(),
        );
    }
    let condition = if conditions.is_empty() {
        String::new()
    } else {
        format!(",\n            \"Condition\": {{\n{}\n            }}", conditions.join(",\n"))
    };
    format!(
        "{{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {{\n            \"Effect\": \"Allow\",\n            \"Principal\": {{\n                \"AWS\": {}\n            }},\n            \"Action\": \"sts:AssumeRole\"{condition}\n        }}\n    ]\n}}",
        js(&format!("arn:aws:iam::{account}:root"))
    )
}

impl Console {
    /// Route a signed-in request.
    pub(super) fn route(&self, cx: &Cx) -> Resp {
        let segs: Vec<String> = cx.req.path.split('/').filter(|s| !s.is_empty()).map(decode_segment).collect();
        let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let post = cx.req.method == Method::POST;
        match (post, segs.as_slice()) {
            (false, []) => self.home(cx),
            (_, ["switchrole"]) => self.switch_role(cx),
            (true, ["switchback"]) => self.switch_back(cx),
            (false, ["iam"]) => self.iam_home(cx),
            (false, ["iam", "users"]) => self.users(cx),
            (_, ["iam", "users", "create"]) => self.create_user(cx),
            (_, ["password"]) => self.password_page(cx),
            (false, ["security-credentials"]) => self.security_credentials(cx),
            (true, ["security-credentials", "keys", rest @ ..]) => self.own_keys(cx, rest),
            (true, ["security-credentials", "mfa", rest @ ..]) => self.root_mfa(cx, rest),
            (false, ["iam", "users", name]) => self.user(cx, name, None),
            (false, ["iam", "users", name, "inline"]) => self.inline_editor(cx, Kind::User, name, None),
            (false, ["iam", "groups", name, "inline"]) => self.inline_editor(cx, Kind::Group, name, None),
            (false, ["iam", "roles", name, "inline"]) => self.inline_editor(cx, Kind::Role, name, None),
            (false, ["iam", "roles", name, "trust"]) => self.trust_editor(cx, name, None),
            (true, ["iam", "users", name, "groups"]) => self.user_add_group(cx, name),
            (true, ["iam", "users", name, "mfa"]) => self.user_mfa(cx, name),
            (_, ["iam", "users", name, "delete"]) => self.user_edit(cx, name, &["delete"]),
            (true, ["iam", "users", name, rest @ ..]) => self.user_edit(cx, name, rest),
            (false, ["iam", "groups"]) => self.groups(cx),
            (_, ["iam", "groups", "create"]) => self.create_group(cx),
            (false, ["iam", "groups", name]) => self.group(cx, name, None),
            (true, ["iam", "groups", name, "users"]) => self.group_add_user(cx, name),
            (true, ["iam", "groups", name, "delete"]) => self.delete_group(cx, name),
            (true, ["iam", "groups", name, rest @ ..]) => self.entity_edit(cx, Kind::Group, name, rest),
            (false, ["iam", "roles"]) => self.roles(cx),
            (_, ["iam", "roles", "create"]) => self.create_role(cx),
            (false, ["iam", "roles", name]) => self.role(cx, name),
            (true, ["iam", "roles", name, rest @ ..]) => self.role_edit(cx, name, rest),
            (false, ["iam", "policies"]) => self.policies(cx),
            (false, ["iam", "graph"]) => self.graph_page(cx),
            (_, ["iam", "policies", "create"]) => self.create_policy(cx),
            (false, ["iam", "policies", "view"]) => self.policy(cx, None),
            (true, ["iam", "policies", "attach"]) => self.attach_policy(cx),
            (false, ["iam", "policies", "delete"]) => self.delete_policy_page(cx),
            (true, ["iam", "policies", "edit", action]) => self.policy_edit(cx, action),
            (true, ["iam", "policies", "edit", "tags", "delete"]) => self.policy_edit(cx, "tags/delete"),
            (true, ["api", "validate-policy"]) => self.validate_policy(cx),
            (false, ["s3"]) => self.buckets(cx, None),
            (true, ["s3", "create"]) => self.create_bucket(cx),
            (false, ["s3", "buckets", bucket]) => self.objects(cx, bucket),
            (false, ["ec2"]) => self.instances(cx),
            (false, ["cloudtrail"]) => self.events_page(cx),
            (false, ["simulator"]) => self.simulator_page(cx),
            (false, ["organizations"]) => self.org_home(cx),
            (false, ["organizations", "policies"]) => self.org_policies(cx),
            (false, ["organizations", "policies", id]) => self.org_policy(cx, id),
            (false, ["organizations", "accounts", id]) => self.org_account(cx, id),
            (false, ["organizations", "create-status", id]) => self.org_create_status(cx, id),
            (true, ["organizations", rest @ ..]) => self.org_action(cx, rest),
            (false, ["cloudtrail", "events", id]) => self.event_page(cx, id),
            _ => self
                .frame(cx, "Not found", "<h1>Not found</h1><p>There is no such console page.</p>")
                .status(StatusCode::NOT_FOUND),
        }
    }

    pub(super) fn denied(&self, cx: &Cx, title: &str, before: &str, e: &AwsError) -> Resp {
        let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
        self.frame(cx, title, &format!("{before}<h1>{}</h1>{}", esc(title), error_box(&e.code, &e.message)))
            .status(status)
    }

    fn home(&self, cx: &Cx) -> Resp {
        let who = match self.call(cx, ServiceName::Sts, "GetCallerIdentity", &[]) {
            Ok(n) => format!(
                r#"<dl class="facts"><dt>Account</dt><dd id="who-account">{}</dd><dt>ARN</dt><dd id="who-arn">{}</dd><dt>User ID</dt><dd>{}</dd></dl>"#,
                esc(&n.text_of("Account")),
                esc(&n.text_of("Arn")),
                esc(&n.text_of("UserId"))
            ),
            Err(e) => error_box(&e.code, &e.message),
        };
        let body = format!(
            r#"<h1>Console home</h1>{who}<ul class="tiles"><li><a href="/console/iam">IAM</a><span>Users, groups, roles and policies</span></li><li><a href="/console/s3">S3</a><span>Buckets and objects</span></li><li><a href="/console/ec2">EC2</a><span>Instances</span></li><li><a href="/console/cloudtrail">CloudTrail</a><span>Event history</span></li><li><a href="/console/simulator">Policy simulator</a><span>What the engine decides</span></li><li><a href="/console/organizations">Organizations</a><span>Accounts, OUs and policies</span></li><li><a href="/console/switchrole">Switch role</a><span>Act as a role in another account</span></li><li><a href="/console/security-credentials" id="my-credentials">My security credentials</a><span>Your password and access keys</span></li></ul>"#
        );
        self.frame(cx, "Console home", &body)
    }

    fn iam_home(&self, cx: &Cx) -> Resp {
        let body = r#"<h1>Identity and Access Management (IAM)</h1><ul class="tiles"><li><a href="/console/iam/users">Users</a></li><li><a href="/console/iam/groups">User groups</a></li><li><a href="/console/iam/roles">Roles</a></li><li><a href="/console/iam/policies">Policies</a></li><li><a href="/console/iam/graph">Escalation graph</a></li></ul>"#;
        self.frame(cx, "IAM", body)
    }

    fn iam_nav(active: &str) -> String {
        let items = [("users", "Users"), ("groups", "User groups"), ("roles", "Roles"), ("policies", "Policies")];
        let mut out = String::from(r#"<nav class="sub">"#);
        for (slug, label) in items {
            let class = if slug == active { r#" class="active""# } else { "" };
            out.push_str(&format!(r#"<a href="/console/iam/{slug}"{class}>{label}</a>"#));
        }
        out.push_str("</nav>");
        out
    }

    // ---- users ---------------------------------------------------------------------------

    fn users(&self, cx: &Cx) -> Resp {
        let nav = Self::iam_nav("users");
        let n = match self.call(cx, ServiceName::Iam, "ListUsers", &[("MaxItems", "1000")]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, "Users", &nav, &e),
        };
        let rows: Vec<Vec<String>> = n
            .list("Users", "member")
            .iter()
            .map(|u| {
                let name = u.child_text("UserName");
                vec![
                    link(&format!("/console/iam/users/{}", enc(&name)), &name),
                    esc(&u.child_text("Arn")),
                    esc(&u.child_text("CreateDate")),
                ]
            })
            .collect();
        let body = format!(
            r#"{nav}<h1>Users</h1><p><a class="button" href="/console/iam/users/create" id="create-user">Create user</a></p>{}"#,
            table("users", &["User name", "ARN", "Created"], &rows, "No users")
        );
        self.frame(cx, "Users", &body)
    }

    fn group_options(&self, cx: &Cx) -> String {
        match self.call(cx, ServiceName::Iam, "ListGroups", &[("MaxItems", "1000")]) {
            Ok(n) => n
                .list("Groups", "member")
                .iter()
                .map(|g| {
                    let name = g.child_text("GroupName");
                    format!(r#"<option value="{}">{}</option>"#, esc(&name), esc(&name))
                })
                .collect(),
            Err(_) => String::new(),
        }
    }

    fn create_user_form(&self, cx: &Cx, error: Option<&AwsError>) -> String {
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        format!(
            r#"{}<h1>Create user</h1>{err}<form method="post" action="/console/iam/users/create" class="card" id="create-user-form">{}
<label>User name<input name="user_name" id="user-name" required maxlength="64" value="{}"></label>
<label class="check"><input type="checkbox" name="console_access" id="console-access" value="1" checked> Provide user access to the AWS Management Console</label>
<label>Console password (custom)<input name="password" id="user-password" type="password" autocomplete="new-password"></label>
<label class="check"><input type="checkbox" name="reset_required" id="reset-required" value="1"> User must create a new password at next sign-in</label>
<label>Add to group (optional)<select name="group" id="user-group"><option value="">(none)</option>{}</select></label>
<button type="submit" id="create-user-submit">Create user</button></form>"#,
            Self::iam_nav("users"),
            csrf_field(&cx.session.csrf),
            esc(&cx.req.f("user_name")),
            self.group_options(cx)
        )
    }

    fn create_user(&self, cx: &Cx) -> Resp {
        if cx.req.method == Method::GET {
            return self.frame(cx, "Create user", &self.create_user_form(cx, None));
        }
        let r = cx.req;
        let name = r.f("user_name");
        let fail = |e: AwsError| {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            self.frame(cx, "Create user", &self.create_user_form(cx, Some(&e))).status(status)
        };
        if let Err(e) = self.call(cx, ServiceName::Iam, "CreateUser", &[("UserName", &name)]) {
            return fail(e);
        }
        let mut problems = Vec::new();
        if r.checked("console_access") {
            let reset = if r.checked("reset_required") { "true" } else { "false" };
            let password = r.raw("password");
            let created = self.call(
                cx,
                ServiceName::Iam,
                "CreateLoginProfile",
                &[("UserName", &name), ("Password", &password), ("PasswordResetRequired", reset)],
            );
            let changed = created.and_then(|_| self.allow_password_change(cx, &name, reset == "true"));
            if let Err(e) = changed {
                problems.push(format!("Console password: {}: {}", e.code, e.message));
            }
        }
        let group = r.f("group");
        if !group.is_empty() {
            if let Err(e) =
                self.call(cx, ServiceName::Iam, "AddUserToGroup", &[("UserName", &name), ("GroupName", &group)])
            {
                problems.push(format!("Group {group}: {}: {}", e.code, e.message));
            }
        }
        if problems.is_empty() {
            self.flash(cx, format!("User {name} created."));
        } else {
            self.flash(cx, format!("User {name} created, but: {}", problems.join("; ")));
        }
        Resp::redirect(&format!("/console/iam/users/{}", enc(&name)))
    }

    pub(super) fn user(&self, cx: &Cx, name: &str, extra: Option<String>) -> Resp {
        let nav = Self::iam_nav("users");
        let title = format!("User {name}");
        let u = match self.call(cx, ServiceName::Iam, "GetUser", &[("UserName", name)]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, &title, &nav, &e),
        };
        let section = |op: &str, list: &str, item: &str, field: &str, href: &dyn Fn(&Node) -> Option<String>| match self
            .call(cx, ServiceName::Iam, op, &[("UserName", name)])
        {
            Ok(n) => {
                let items: Vec<String> = n
                    .list(list, item)
                    .iter()
                    .map(|m| match href(m) {
                        Some(h) => format!("<li>{}</li>", link(&h, &m.child_text(field))),
                        None => format!("<li>{}</li>", esc(&m.child_text(field))),
                    })
                    .collect();
                if items.is_empty() {
                    "<p class=\"muted\">None</p>".to_string()
                } else {
                    format!("<ul>{}</ul>", items.concat())
                }
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        let groups = section("ListGroupsForUser", "Groups", "member", "GroupName", &|m| {
            Some(format!("/console/iam/groups/{}", enc(&m.child_text("GroupName"))))
        });
        let policies = section("ListAttachedUserPolicies", "AttachedPolicies", "member", "PolicyName", &|m| {
            Some(format!("/console/iam/policies/view?arn={}", enc(&m.child_text("PolicyArn"))))
        });
        let mfa = self.mfa_section(cx, name);
        let console_access = match self.call(cx, ServiceName::Iam, "GetLoginProfile", &[("UserName", name)]) {
            Ok(_) => "Enabled".to_string(),
            Err(e) if e.code == "NoSuchEntity" => "Disabled".to_string(),
            Err(e) => format!("{}: {}", e.code, e.message),
        };
        let csrf = csrf_field(&cx.session.csrf);
        let body = format!(
            r#"{nav}<h1>{}</h1>{}<dl class="facts"><dt>ARN</dt><dd id="user-arn">{}</dd><dt>Created</dt><dd>{}</dd><dt>Console access</dt><dd id="console-access-state">{}</dd></dl>
<h2>Groups</h2>{groups}<form method="post" action="/console/iam/users/{}/groups" class="inline">{csrf}<select name="group" id="add-to-group" aria-label="Group to add the user to">{}</select><button type="submit">Add user to group</button></form>
<h2>Attached policies</h2>{policies}
{}
<h2>MFA devices</h2>{mfa}<form method="post" action="/console/iam/users/{}/mfa" class="inline" id="assign-mfa">{csrf}<input type="hidden" name="step" value="create"><label>Device name<input name="device" id="mfa-device-name" required maxlength="128"></label><button type="submit" id="assign-mfa-submit">Assign MFA device</button></form>{}"#,
            esc(&title),
            extra.unwrap_or_default(),
            esc(&u.text_of("Arn")),
            esc(&u.text_of("CreateDate")),
            esc(&console_access),
            enc(name),
            self.group_options(cx),
            self.entity_sections(cx, Kind::User, name),
            enc(name),
            self.user_credentials(cx, name),
        );
        self.frame(cx, &title, &body)
    }

    fn user_add_group(&self, cx: &Cx, name: &str) -> Resp {
        let group = cx.req.f("group");
        match self.call(cx, ServiceName::Iam, "AddUserToGroup", &[("UserName", name), ("GroupName", &group)]) {
            Ok(_) => {
                self.flash(cx, format!("Added {name} to {group}."));
                Resp::redirect(&format!("/console/iam/users/{}", enc(name)))
            }
            Err(e) => self.user(cx, name, Some(error_box(&e.code, &e.message))),
        }
    }

    /// Assign a virtual MFA device: create it and show its QR code, then enable it with two
    /// consecutive codes.
    fn user_mfa(&self, cx: &Cx, name: &str) -> Resp {
        let r = cx.req;
        if r.f("step") == "enable" {
            let serial = r.f("serial");
            let result = self.call(
                cx,
                ServiceName::Iam,
                "EnableMFADevice",
                &[
                    ("UserName", name),
                    ("SerialNumber", &serial),
                    ("AuthenticationCode1", &r.f("code1")),
                    ("AuthenticationCode2", &r.f("code2")),
                ],
            );
            return match result {
                Ok(_) => {
                    self.flash(cx, "MFA device assigned.");
                    Resp::redirect(&format!("/console/iam/users/{}", enc(name)))
                }
                Err(e) => self.user(cx, name, Some(error_box(&e.code, &e.message))),
            };
        }
        let device = r.f("device");
        let created =
            match self.call(cx, ServiceName::Iam, "CreateVirtualMFADevice", &[("VirtualMFADeviceName", &device)]) {
                Ok(n) => n,
                Err(e) => return self.user(cx, name, Some(error_box(&e.code, &e.message))),
            };
        self.mfa_setup_page(cx, &created, &format!("/console/iam/users/{}/mfa", enc(name)), &Self::iam_nav("users"))
    }

    /// The QR code and seed of a device `CreateVirtualMFADevice` just made (shown this once),
    /// and the form that enables it with two consecutive codes, posted to `action`.
    pub(super) fn mfa_setup_page(&self, cx: &Cx, created: &Node, action: &str, nav: &str) -> Resp {
        let serial = created.text_of("SerialNumber");
        let qr = created.text_of("QRCodePNG");
        let seed = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(created.text_of("Base32StringSeed"))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let body = format!(
            r#"{nav}<h1>Set up virtual MFA device</h1><p>Scan the QR code with an authenticator app, then enter two consecutive codes.</p>
<img class="qr" id="mfa-qr" alt="QR code of the MFA device" src="data:image/png;base64,{}">
<details><summary>Show secret key</summary><code id="mfa-secret">{}</code></details>
<form method="post" action="{}" class="card" id="enable-mfa">{}<input type="hidden" name="step" value="enable"><input type="hidden" name="serial" value="{}">
<label>MFA code 1<input name="code1" id="mfa-code1" required pattern="[0-9]{{6}}"></label><label>MFA code 2<input name="code2" id="mfa-code2" required pattern="[0-9]{{6}}"></label>
<button type="submit" id="enable-mfa-submit">Add MFA</button></form>"#,
            esc(&qr),
            esc(&seed),
            esc(action),
            csrf_field(&cx.session.csrf),
            esc(&serial)
        );
        self.frame(cx, "Set up MFA", &body)
    }

    // ---- groups --------------------------------------------------------------------------

    fn groups(&self, cx: &Cx) -> Resp {
        let nav = Self::iam_nav("groups");
        let n = match self.call(cx, ServiceName::Iam, "ListGroups", &[("MaxItems", "1000")]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, "User groups", &nav, &e),
        };
        let rows: Vec<Vec<String>> = n
            .list("Groups", "member")
            .iter()
            .map(|g| {
                let name = g.child_text("GroupName");
                vec![
                    link(&format!("/console/iam/groups/{}", enc(&name)), &name),
                    esc(&g.child_text("Arn")),
                    esc(&g.child_text("CreateDate")),
                ]
            })
            .collect();
        let body = format!(
            r#"{nav}<h1>User groups</h1><p><a class="button" href="/console/iam/groups/create" id="create-group">Create group</a></p>{}"#,
            table("groups", &["Group name", "ARN", "Created"], &rows, "No groups")
        );
        self.frame(cx, "User groups", &body)
    }

    fn create_group(&self, cx: &Cx) -> Resp {
        let form = |err: String| {
            format!(
                r#"{}<h1>Create user group</h1>{err}<form method="post" action="/console/iam/groups/create" class="card" id="create-group-form">{}<label>User group name<input name="group_name" id="group-name" required maxlength="128" value="{}"></label><button type="submit" id="create-group-submit">Create group</button></form>"#,
                Self::iam_nav("groups"),
                csrf_field(&cx.session.csrf),
                esc(&cx.req.f("group_name"))
            )
        };
        if cx.req.method == Method::GET {
            return self.frame(cx, "Create group", &form(String::new()));
        }
        let name = cx.req.f("group_name");
        match self.call(cx, ServiceName::Iam, "CreateGroup", &[("GroupName", &name)]) {
            Ok(_) => {
                self.flash(cx, format!("Group {name} created."));
                Resp::redirect(&format!("/console/iam/groups/{}", enc(&name)))
            }
            Err(e) => {
                let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
                self.frame(cx, "Create group", &form(error_box(&e.code, &e.message))).status(status)
            }
        }
    }

    fn group(&self, cx: &Cx, name: &str, extra: Option<String>) -> Resp {
        let nav = Self::iam_nav("groups");
        let title = format!("Group {name}");
        let g = match self.call(cx, ServiceName::Iam, "GetGroup", &[("GroupName", name)]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, &title, &nav, &e),
        };
        let members: Vec<Vec<String>> = g
            .list("Users", "member")
            .iter()
            .map(|u| {
                let n = u.child_text("UserName");
                vec![link(&format!("/console/iam/users/{}", enc(&n)), &n)]
            })
            .collect();
        let policies = match self.call(cx, ServiceName::Iam, "ListAttachedGroupPolicies", &[("GroupName", name)]) {
            Ok(n) => {
                let rows: Vec<Vec<String>> = n
                    .list("AttachedPolicies", "member")
                    .iter()
                    .map(|p| {
                        vec![link(
                            &format!("/console/iam/policies/view?arn={}", enc(&p.child_text("PolicyArn"))),
                            &p.child_text("PolicyName"),
                        )]
                    })
                    .collect();
                table("group-policies", &["Policy"], &rows, "No policies attached")
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        let users = match self.call(cx, ServiceName::Iam, "ListUsers", &[("MaxItems", "1000")]) {
            Ok(n) => n
                .list("Users", "member")
                .iter()
                .map(|u| {
                    let n = u.child_text("UserName");
                    format!(r#"<option value="{}">{}</option>"#, esc(&n), esc(&n))
                })
                .collect::<String>(),
            Err(_) => String::new(),
        };
        let csrf = csrf_field(&cx.session.csrf);
        let body = format!(
            r#"{nav}<h1>{}</h1>{}<dl class="facts"><dt>ARN</dt><dd>{}</dd></dl>
<h2>Users</h2>{}<form method="post" action="/console/iam/groups/{}/users" class="inline" id="add-users">{csrf}<select name="user" id="add-user-select" aria-label="User to add">{users}</select><button type="submit" id="add-user-submit">Add user to group</button></form>
<h2>Permissions</h2>{policies}
<form method="post" action="/console/iam/policies/attach" class="inline">{csrf}<input type="hidden" name="target_type" value="group"><input type="hidden" name="target" value="{}"><input type="hidden" name="back" value="group"><label>Policy ARN<input name="policy_arn" id="group-policy-arn" required></label><button type="submit">Attach policy</button></form>
{}
<h2>Delete group</h2><p>Removes its users and policies first, as AWS's console does.</p><form method="post" action="/console/iam/groups/{}/delete" class="card" id="delete-group-form">{csrf}<label>To confirm, type the group name<input name="confirm" required autocomplete="off"></label><button type="submit" class="danger">Delete group</button></form>"#,
            esc(&title),
            extra.unwrap_or_default(),
            esc(&g.text_of("Arn")),
            table("group-users", &["User name"], &members, "No users in this group"),
            enc(name),
            esc(name),
            self.entity_sections(cx, Kind::Group, name),
            enc(name),
        );
        self.frame(cx, &title, &body)
    }

    fn group_add_user(&self, cx: &Cx, name: &str) -> Resp {
        let user = cx.req.f("user");
        match self.call(cx, ServiceName::Iam, "AddUserToGroup", &[("UserName", &user), ("GroupName", name)]) {
            Ok(_) => {
                self.flash(cx, format!("Added {user} to {name}."));
                Resp::redirect(&format!("/console/iam/groups/{}", enc(name)))
            }
            Err(e) => self.group(cx, name, Some(error_box(&e.code, &e.message))),
        }
    }

    // ---- roles ---------------------------------------------------------------------------

    fn roles(&self, cx: &Cx) -> Resp {
        let nav = Self::iam_nav("roles");
        let n = match self.call(cx, ServiceName::Iam, "ListRoles", &[("MaxItems", "1000")]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, "Roles", &nav, &e),
        };
        let rows: Vec<Vec<String>> = n
            .list("Roles", "member")
            .iter()
            .map(|r| {
                let name = r.child_text("RoleName");
                vec![
                    link(&format!("/console/iam/roles/{}", enc(&name)), &name),
                    esc(&r.child_text("Arn")),
                    esc(&r.child_text("CreateDate")),
                ]
            })
            .collect();
        let body = format!(
            r#"{nav}<h1>Roles</h1><p><a class="button" href="/console/iam/roles/create" id="create-role">Create role</a></p>{}"#,
            table("roles", &["Role name", "ARN", "Created"], &rows, "No roles")
        );
        self.frame(cx, "Roles", &body)
    }

    fn role(&self, cx: &Cx, name: &str) -> Resp {
        let nav = Self::iam_nav("roles");
        let title = format!("Role {name}");
        let r = match self.call(cx, ServiceName::Iam, "GetRole", &[("RoleName", name)]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, &title, &nav, &e),
        };
        let policies = match self.call(cx, ServiceName::Iam, "ListAttachedRolePolicies", &[("RoleName", name)]) {
            Ok(n) => {
                let rows: Vec<Vec<String>> = n
                    .list("AttachedPolicies", "member")
                    .iter()
                    .map(|p| {
                        vec![
                            link(
                                &format!("/console/iam/policies/view?arn={}", enc(&p.child_text("PolicyArn"))),
                                &p.child_text("PolicyName"),
                            ),
                            esc(&p.child_text("PolicyArn")),
                        ]
                    })
                    .collect();
                table("role-policies", &["Policy", "ARN"], &rows, "No policies attached")
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        let arn = r.text_of("Arn");
        let account = arn.split(':').nth(4).unwrap_or("");
        let switch_link = format!(
            "/console/switchrole?account={}&roleName={}&displayName={}",
            enc(account),
            enc(name),
            enc(&format!("{name} @ {account}"))
        );
        let body = format!(
            r#"{nav}<h1>{}</h1><dl class="facts"><dt>ARN</dt><dd id="role-arn">{}</dd><dt>Created</dt><dd>{}</dd><dt>Maximum session duration</dt><dd>{} seconds</dd><dt>Link to switch roles in console</dt><dd>{}</dd></dl>
<h2>Permissions policies</h2>{policies}{}<h2>Trust relationships</h2><pre class="policy" id="trust-policy" tabindex="0">{}</pre><p><a href="/console/iam/roles/{}/trust" id="edit-trust-policy">Edit trust policy</a></p>{}"#,
            esc(&title),
            esc(&arn),
            esc(&r.text_of("CreateDate")),
            esc(&r.text_of("MaxSessionDuration")),
            link(&switch_link, "Switch role link"),
            self.entity_sections(cx, Kind::Role, name),
            esc(&policy_text(&r.text_of("AssumeRolePolicyDocument"))),
            enc(name),
            self.role_actions(cx, name),
        );
        self.frame(cx, &title, &body)
    }

    fn policy_checkboxes(&self, cx: &Cx, selected: &[String]) -> String {
        // More than a thousand AWS managed policies: follow the markers.
        match self.call_all(cx, ServiceName::Iam, "ListPolicies", &[("Scope", "All")], ("Policies", "member")) {
            Ok(policies) => {
                let rows: Vec<Vec<String>> = policies
                    .iter()
                    .map(|p| {
                        let arn = p.child_text("Arn");
                        let name = p.child_text("PolicyName");
                        let checked = if selected.contains(&arn) { " checked" } else { "" };
                        let kind = if arn.starts_with("arn:aws:iam::aws:") { "AWS managed" } else { "Customer managed" };
                        vec![
                            format!(
                                r#"<input type="checkbox" name="policy" value="{}" id="policy-{}" aria-label="{}"{checked}>"#,
                                esc(&arn),
                                esc(&name),
                                esc(&name)
                            ),
                            format!(r#"<label for="policy-{}">{}</label>"#, esc(&name), esc(&name)),
                            kind.to_string(),
                        ]
                    })
                    .collect();
                format!(
                    r#"<input type="search" class="filter" data-filter="pick-policies" placeholder="Filter policies" aria-label="Filter policies" id="policy-filter">{}"#,
                    table("pick-policies", &["", "Policy name", "Type"], &rows, "No policies")
                )
            }
            Err(e) => error_box(&e.code, &e.message),
        }
    }

    fn create_role_form(&self, cx: &Cx, error: Option<&AwsError>) -> String {
        let r = cx.req;
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let trusted = if r.f("trusted_account").is_empty() { String::new() } else { r.f("trusted_account") };
        let checked = |n: &str| if r.checked(n) { " checked" } else { "" };
        format!(
            r#"{}<h1>Create role</h1>{err}<form method="post" action="/console/iam/roles/create" class="wizard" id="create-role-form">{}
<section class="step" data-step="1" id="step-1"><h2>Step 1: Select trusted entity</h2>
<fieldset><legend>Trusted entity type</legend><label class="check"><input type="radio" name="entity" value="account" checked> AWS account <span class="muted">Allow entities in other AWS accounts belonging to you or a 3rd party to perform actions in this account.</span></label></fieldset>
<fieldset><legend>An AWS account</legend>
<label class="check"><input type="radio" name="which" value="this" id="this-account" data-account="{}"> This account ({})</label>
<label class="check"><input type="radio" name="which" value="another" id="another-account" checked> Another AWS account</label>
<label>Account ID<input name="trusted_account" id="trusted-account" pattern="[0-9]{{12}}" value="{}"></label></fieldset>
<fieldset><legend>Options</legend>
<label class="check"><input type="checkbox" name="require_external_id" id="require-external-id" value="1"{}> Require external ID (Best practice when a third party will assume this role)</label>
<label>External ID<input name="external_id" id="external-id" maxlength="1224" value="{}"></label>
<label class="check"><input type="checkbox" name="require_mfa" id="require-mfa" value="1"{}> Require MFA</label></fieldset>
<div class="buttons"><button type="button" class="next" id="next-1">Next</button></div></section>
<section class="step" data-step="2" id="step-2"><h2>Step 2: Add permissions</h2>{}
<div class="buttons"><button type="button" class="prev">Previous</button><button type="button" class="next" id="next-2">Next</button></div></section>
<section class="step" data-step="3" id="step-3"><h2>Step 3: Name, review, and create</h2>
<label>Role name<input name="role_name" id="role-name" maxlength="64" value="{}"></label>
<label>Description<textarea name="description" id="role-description" maxlength="1000">{}</textarea></label>
<div class="buttons"><button type="button" class="prev">Previous</button><button type="submit" id="create-role-submit">Create role</button></div></section></form>"#,
            Self::iam_nav("roles"),
            csrf_field(&cx.session.csrf),
            esc(&cx.caller.account),
            esc(&cx.caller.account),
            esc(&trusted),
            checked("require_external_id"),
            esc(&r.f("external_id")),
            checked("require_mfa"),
            self.policy_checkboxes(cx, &r.all("policy")),
            esc(&r.f("role_name")),
            esc(&r.f("description")),
        )
    }

    fn create_role(&self, cx: &Cx) -> Resp {
        if cx.req.method == Method::GET {
            return self.frame(cx, "Create role", &self.create_role_form(cx, None));
        }
        let r = cx.req;
        let fail = |e: AwsError| {
            let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
            self.frame(cx, "Create role", &self.create_role_form(cx, Some(&e))).status(status)
        };
        let account = if r.f("which") == "this" { cx.caller.account.clone() } else { r.f("trusted_account") };
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return fail(AwsError::validation("Enter a 12-digit AWS account ID."));
        }
        let external_id = r.checked("require_external_id").then(|| r.f("external_id"));
        if external_id.as_deref() == Some("") {
            return fail(AwsError::validation("Enter an external ID, or clear \"Require external ID\"."));
        }
        let trust = trust_policy(&account, external_id.as_deref(), r.checked("require_mfa"));
        let name = r.f("role_name");
        let description = r.f("description");
        let mut params = vec![("RoleName", name.as_str()), ("AssumeRolePolicyDocument", trust.as_str())];
        if !description.is_empty() {
            params.push(("Description", description.as_str()));
        }
        if let Err(e) = self.call(cx, ServiceName::Iam, "CreateRole", &params) {
            return fail(e);
        }
        let mut problems = Vec::new();
        for arn in r.all("policy") {
            if let Err(e) =
                self.call(cx, ServiceName::Iam, "AttachRolePolicy", &[("RoleName", &name), ("PolicyArn", &arn)])
            {
                problems.push(format!("{arn}: {}: {}", e.code, e.message));
            }
        }
        if problems.is_empty() {
            self.flash(cx, format!("Role {name} created."));
        } else {
            self.flash(cx, format!("Role {name} created, but attaching failed: {}", problems.join("; ")));
        }
        Resp::redirect(&format!("/console/iam/roles/{}", enc(&name)))
    }

    // ---- policies ------------------------------------------------------------------------

    fn policies(&self, cx: &Cx) -> Resp {
        let nav = Self::iam_nav("policies");
        let scope = match cx.req.q("scope").as_str() {
            "AWS" => "AWS",
            "All" => "All",
            _ => "Local",
        };
        let policies =
            match self.call_all(cx, ServiceName::Iam, "ListPolicies", &[("Scope", scope)], ("Policies", "member")) {
                Ok(p) => p,
                Err(e) => return self.denied(cx, "Policies", &nav, &e),
            };
        let rows: Vec<Vec<String>> = policies
            .iter()
            .map(|p| {
                let arn = p.child_text("Arn");
                vec![
                    link(&format!("/console/iam/policies/view?arn={}", enc(&arn)), &p.child_text("PolicyName")),
                    esc(&arn),
                    esc(&p.child_text("AttachmentCount")),
                ]
            })
            .collect();
        let body = format!(
            r#"{nav}<h1>Policies</h1><p><a class="button" href="/console/iam/policies/create" id="create-policy">Create policy</a> Show: <a href="/console/iam/policies?scope=Local">Customer managed</a> · <a href="/console/iam/policies?scope=AWS">AWS managed</a> · <a href="/console/iam/policies?scope=All">All</a></p>{}"#,
            table("policies", &["Policy name", "ARN", "Attachments"], &rows, "No policies")
        );
        self.frame(cx, "Policies", &body)
    }

    fn create_policy_form(&self, cx: &Cx, error: Option<&AwsError>) -> String {
        let r = cx.req;
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let doc = if r.raw("document").is_empty() { EMPTY_POLICY.to_string() } else { r.raw("document") };
        format!(
            r#"{}<h1>Create policy</h1>{err}<form method="post" action="/console/iam/policies/create" class="card" id="create-policy-form">{}
{}
<label>Policy name<input name="policy_name" id="policy-name" required maxlength="128" value="{}"></label>
<label>Description<input name="description" id="policy-description" maxlength="1000" value="{}"></label>
<button type="submit" id="create-policy-submit">Create policy</button></form>"#,
            Self::iam_nav("policies"),
            csrf_field(&cx.session.csrf),
            super::iam_more::policy_editor("Policy editor (JSON)", &doc, false),
            esc(&r.f("policy_name")),
            esc(&r.f("description")),
        )
    }

    fn create_policy(&self, cx: &Cx) -> Resp {
        if cx.req.method == Method::GET {
            return self.frame(cx, "Create policy", &self.create_policy_form(cx, None));
        }
        let r = cx.req;
        let name = r.f("policy_name");
        let doc = r.raw("document");
        let description = r.f("description");
        let mut params = vec![("PolicyName", name.as_str()), ("PolicyDocument", doc.as_str())];
        if !description.is_empty() {
            params.push(("Description", description.as_str()));
        }
        match self.call(cx, ServiceName::Iam, "CreatePolicy", &params) {
            Ok(n) => {
                self.flash(cx, format!("Policy {name} created."));
                Resp::redirect(&format!("/console/iam/policies/view?arn={}", enc(&n.text_of("Arn"))))
            }
            Err(e) => {
                let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
                self.frame(cx, "Create policy", &self.create_policy_form(cx, Some(&e))).status(status)
            }
        }
    }

    /// `POST /console/api/validate-policy`: the policy engine's findings for the editor, as JSON.
    fn validate_policy(&self, cx: &Cx) -> Resp {
        let doc = cx.req.raw("document");
        let ty = if cx.req.q("type") == "trust" {
            tessera_policy::PolicyType::Trust
        } else {
            tessera_policy::PolicyType::Identity
        };
        let findings = tessera_policy::validate::validate_policy(&doc, ty);
        let errors = findings.iter().any(|f| f.severity == tessera_policy::validate::Severity::Error);
        let list: Vec<serde_json::Value> = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "severity": f.severity.as_str(),
                    "code": f.code,
                    "message": f.message,
                    "location": f.location,
                })
            })
            .collect();
        Resp::json(&serde_json::json!({ "valid": !errors, "findings": list }))
    }

    fn policy(&self, cx: &Cx, extra: Option<String>) -> Resp {
        let nav = Self::iam_nav("policies");
        let arn = cx.req.q("arn");
        let arn = if arn.is_empty() { cx.req.f("policy_arn") } else { arn };
        let p = match self.call(cx, ServiceName::Iam, "GetPolicy", &[("PolicyArn", &arn)]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, "Policy", &nav, &e),
        };
        let name = p.text_of("PolicyName");
        let default_version = p.text_of("DefaultVersionId");
        let version = if cx.req.q("version").is_empty() { default_version.clone() } else { cx.req.q("version") };
        let (document, text) = match self.call(
            cx,
            ServiceName::Iam,
            "GetPolicyVersion",
            &[("PolicyArn", &arn), ("VersionId", &version)],
        ) {
            Ok(n) => {
                let text = policy_text(&n.text_of("Document"));
                (
                    format!(
                        r#"<p>Version <strong id="policy-version">{}</strong>{}</p><pre class="policy" id="policy-json" tabindex="0">{}</pre>"#,
                        esc(&version),
                        if version == default_version { " (default)" } else { "" },
                        esc(&text)
                    ),
                    text,
                )
            }
            Err(e) => (error_box(&e.code, &e.message), String::new()),
        };
        // AWS managed policies cannot be changed.
        let edit = if arn.starts_with("arn:aws:iam::aws:") {
            String::new()
        } else {
            self.policy_versions_sections(cx, &arn, &version, &text)
        };
        let title = format!("Policy {name}");
        let body = format!(
            r#"{nav}<h1>{}</h1>{}<dl class="facts"><dt>ARN</dt><dd id="policy-arn">{}</dd><dt>Description</dt><dd>{}</dd><dt>Attachments</dt><dd>{}</dd></dl>
<h2>Permissions</h2>{document}
<h2>Policy usage</h2><form method="post" action="/console/iam/policies/attach" class="inline" id="attach-policy">{}<input type="hidden" name="policy_arn" value="{}">
<label>Attach to<select name="target_type" id="attach-type"><option value="group">User group</option><option value="user">User</option><option value="role">Role</option></select></label>
<label>Name<input name="target" id="attach-target" required></label><button type="submit" id="attach-submit">Attach</button></form>{edit}"#,
            esc(&title),
            extra.unwrap_or_default(),
            esc(&arn),
            esc(&p.text_of("Description")),
            esc(&p.text_of("AttachmentCount")),
            csrf_field(&cx.session.csrf),
            esc(&arn),
        );
        self.frame(cx, &title, &body)
    }

    fn attach_policy(&self, cx: &Cx) -> Resp {
        let r = cx.req;
        let arn = r.f("policy_arn");
        let target = r.f("target");
        let (op, field, page) = match r.f("target_type").as_str() {
            "user" => ("AttachUserPolicy", "UserName", "users"),
            "role" => ("AttachRolePolicy", "RoleName", "roles"),
            _ => ("AttachGroupPolicy", "GroupName", "groups"),
        };
        match self.call(cx, ServiceName::Iam, op, &[(field, &target), ("PolicyArn", &arn)]) {
            Ok(_) => {
                self.flash(cx, format!("Policy attached to {target}."));
                if r.f("back") == "group" {
                    Resp::redirect(&format!("/console/iam/groups/{}", enc(&target)))
                } else {
                    Resp::redirect(&format!("/console/iam/{page}/{}", enc(&target)))
                }
            }
            Err(e) if r.f("back") == "group" => self.group(cx, &target, Some(error_box(&e.code, &e.message))),
            Err(e) => self.policy(cx, Some(error_box(&e.code, &e.message))),
        }
    }

    // ---- S3 and EC2 ----------------------------------------------------------------------

    fn buckets(&self, cx: &Cx, error: Option<&AwsError>) -> Resp {
        let create = format!(
            r#"<form method="post" action="/console/s3/create" class="inline" id="create-bucket">{}<label>Bucket name<input name="bucket" id="bucket-name" required maxlength="63"></label><button type="submit" id="create-bucket-submit">Create bucket</button></form>"#,
            csrf_field(&cx.session.csrf)
        );
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let list = match self.s3(cx, Method::GET, "/") {
            Ok(n) => {
                let rows: Vec<Vec<String>> = n
                    .list("Buckets", "Bucket")
                    .iter()
                    .map(|b| {
                        let name = b.child_text("Name");
                        vec![
                            link(&format!("/console/s3/buckets/{}", enc(&name)), &name),
                            esc(&b.child_text("CreationDate")),
                        ]
                    })
                    .collect();
                table("buckets", &["Name", "Created"], &rows, "No buckets")
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        let status =
            error.map(|e| StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST)).unwrap_or(StatusCode::OK);
        self.frame(cx, "S3 buckets", &format!("<h1>Amazon S3: buckets</h1>{err}{create}{list}")).status(status)
    }

    fn create_bucket(&self, cx: &Cx) -> Resp {
        let bucket = cx.req.f("bucket");
        let valid = !bucket.is_empty()
            && bucket.len() <= 63
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return self
                .buckets(cx, Some(&AwsError::new(400, "InvalidBucketName", "The specified bucket is not valid.")));
        }
        match self.s3(cx, Method::PUT, &format!("/{bucket}")) {
            Ok(_) => {
                self.flash(cx, format!("Bucket {bucket} created."));
                Resp::redirect("/console/s3")
            }
            Err(e) => self.buckets(cx, Some(&e)),
        }
    }

    fn objects(&self, cx: &Cx, bucket: &str) -> Resp {
        let title = format!("Bucket {bucket}");
        let prefix = cx.req.q("prefix");
        let path = format!("/{}?list-type=2&delimiter=%2F&prefix={}", enc(bucket), enc(&prefix));
        let n = match self.s3(cx, Method::GET, &path) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, &title, r#"<p><a href="/console/s3">Buckets</a></p>"#, &e),
        };
        let mut rows: Vec<Vec<String>> = n
            .children_named("ListBucketResult")
            .iter()
            .flat_map(|r| r.children_named("CommonPrefixes"))
            .map(|p| {
                let pre = p.child_text("Prefix");
                vec![
                    link(&format!("/console/s3/buckets/{}?prefix={}", enc(bucket), enc(&pre)), &pre),
                    "Folder".into(),
                    String::new(),
                ]
            })
            .collect();
        rows.extend(
            n.children_named("ListBucketResult").iter().flat_map(|r| r.children_named("Contents")).map(|o| {
                vec![esc(&o.child_text("Key")), esc(&o.child_text("Size")), esc(&o.child_text("LastModified"))]
            }),
        );
        let body = format!(
            r#"<p><a href="/console/s3">Buckets</a></p><h1>{}</h1><p>Prefix: <code>{}</code></p>{}"#,
            esc(&title),
            esc(if prefix.is_empty() { "/" } else { &prefix }),
            table("objects", &["Key", "Size", "Last modified"], &rows, "No objects")
        );
        self.frame(cx, &title, &body)
    }

    fn instances(&self, cx: &Cx) -> Resp {
        let n = match self.call(cx, ServiceName::Ec2, "DescribeInstances", &[]) {
            Ok(n) => n,
            Err(e) => return self.denied(cx, "EC2 instances", "", &e),
        };
        let mut rows = Vec::new();
        for reservation in n.list("reservationSet", "item") {
            for i in reservation.list("instancesSet", "item") {
                let state = i.find("instanceState").map(|s| s.child_text("name")).unwrap_or_default();
                let profile = i.find("iamInstanceProfile").map(|p| p.child_text("arn")).unwrap_or_default();
                rows.push(vec![
                    esc(&i.child_text("instanceId")),
                    esc(&i.child_text("instanceType")),
                    esc(&state),
                    esc(&i.child_text("imageId")),
                    esc(&profile),
                    esc(&i.child_text("launchTime")),
                ]);
            }
        }
        let body = format!(
            "<h1>Amazon EC2: instances</h1>{}",
            table(
                "instances",
                &["Instance ID", "Type", "State", "AMI", "Instance profile", "Launched"],
                &rows,
                "No instances"
            )
        );
        self.frame(cx, "EC2 instances", &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policies_as_the_aws_console_writes_them() {
        let plain: serde_json::Value = serde_json::from_str(&trust_policy("123456789012", None, false)).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]})
        );
        let both: serde_json::Value = serde_json::from_str(&trust_policy("123456789012", Some("x\"y"), true)).unwrap();
        assert_eq!(
            both["Statement"][0]["Condition"],
            serde_json::json!({"StringEquals": {"sts:ExternalId": "x\"y"}, "Bool": {"aws:MultiFactorAuthPresent": "true"}})
        );
        let mfa: serde_json::Value = serde_json::from_str(&trust_policy("123456789012", None, true)).unwrap();
        assert_eq!(
            mfa["Statement"][0]["Condition"],
            serde_json::json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
        );
        for doc in [trust_policy("123456789012", Some("ext"), true), trust_policy("123456789012", None, false)] {
            let findings = tessera_policy::validate::validate_policy(&doc, tessera_policy::PolicyType::Trust);
            assert!(findings.iter().all(|f| f.severity != tessera_policy::validate::Severity::Error), "{findings:?}");
        }
    }
}
