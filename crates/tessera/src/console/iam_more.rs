//! IAM editing beyond keys and passwords (docs/CONSOLE.md): inline policies of users, groups
//! and roles (add, edit, delete), tags of users, roles and policies, permissions boundaries of
//! users and roles, a role's trust policy editor, a user's MFA devices (resync, remove), and
//! managed policies' versions (view, create, set default, delete) and deletion with what AWS
//! requires first. Every change is one IAM call as the caller, so the engine decides and the
//! trail records it; a refusal shows AWS's error and changes nothing.

use std::fmt::Write;

use http::{Method, StatusCode};
use tessera_services::ServiceName;
use tessera_wire::AwsError;

use super::html::{csrf_field, enc, error_box, esc, link, table};
use super::{Console, Cx, Resp};

/// An IAM principal kind whose page has these sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// IAM user.
    User,
    /// IAM group.
    Group,
    /// IAM role.
    Role,
}

impl Kind {
    pub(super) fn noun(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
            Kind::Role => "Role",
        }
    }
    pub(super) fn slug(self) -> &'static str {
        match self {
            Kind::User => "users",
            Kind::Group => "groups",
            Kind::Role => "roles",
        }
    }
    /// `UserName`, `GroupName`, `RoleName`.
    pub(super) fn param(self) -> &'static str {
        match self {
            Kind::User => "UserName",
            Kind::Group => "GroupName",
            Kind::Role => "RoleName",
        }
    }
    pub(super) fn page(self, name: &str) -> String {
        format!("/console/iam/{}/{}", self.slug(), enc(name))
    }
}

/// A URL-encoded policy document (as IAM returns them), pretty-printed when it is JSON.
pub(super) fn policy_text(encoded: &str) -> String {
    pretty_json(&percent_encoding::percent_decode_str(encoded).decode_utf8_lossy())
}

/// A document pretty-printed when it is JSON, else as it is.
pub(super) fn pretty_json(doc: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(doc) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_else(|_| doc.to_string()),
        Err(_) => doc.to_string(),
    }
}

/// The validating policy editor: a labelled text area that `console.js` checks as the user
/// types against `/console/api/validate-policy` (`trust`: as a role trust policy).
pub(super) fn policy_editor(label: &str, document: &str, trust: bool) -> String {
    let url = if trust { "/console/api/validate-policy?type=trust" } else { "/console/api/validate-policy" };
    format!(
        r#"<label>{}<textarea name="document" id="policy-document" class="code" rows="18" spellcheck="false" data-validate="{url}">{}</textarea></label>
<div id="policy-findings" class="findings" aria-live="polite"></div>"#,
        esc(label),
        esc(document)
    )
}

/// Most versions IAM keeps of a managed policy (IAM quotas: "Managed policy versions").
const MAX_POLICY_VERSIONS: usize = 5;

/// What deleting a managed policy removes first: the entities it is attached to, and its
/// non-default version ids.
type PolicyDependents = (Vec<(Kind, String)>, Vec<String>);

/// A one-button form posting `fields` (already-escaped hidden inputs) to `action`.
fn button_form(action: &str, csrf: &str, fields: &str, label: &str, class: &str) -> String {
    format!(
        r#"<form method="post" action="{}" class="inline">{csrf}{fields}<button type="submit" class="{class}">{}</button></form>"#,
        esc(action),
        esc(label)
    )
}

pub(super) fn hidden(name: &str, value: &str) -> String {
    format!(r#"<input type="hidden" name="{}" value="{}">"#, esc(name), esc(value))
}

impl Console {
    /// The sections of a user's, group's or role's page: inline policies, and for users and
    /// roles the permissions boundary and tags.
    pub(super) fn entity_sections(&self, cx: &Cx, kind: Kind, name: &str) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let base = kind.page(name);
        let p = [(kind.param(), name)];
        let mut out = String::new();
        let inline = match self.texts(cx, &format!("List{}Policies", kind.noun()), &p, "PolicyNames", "") {
            Ok(names) => {
                let rows: Vec<Vec<String>> = names
                    .iter()
                    .map(|n| {
                        vec![
                            link(&format!("{base}/inline?policy={}", enc(n)), n),
                            button_form(
                                &format!("{base}/inline/delete"),
                                &csrf,
                                &hidden("policy_name", n),
                                "Delete",
                                "",
                            ),
                        ]
                    })
                    .collect();
                table("inline-policies", &["Policy name", "Actions"], &rows, "No inline policies")
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        let _ = write!(
            out,
            r#"<h2>Inline policies</h2>{inline}<p><a href="{base}/inline" id="add-inline-policy">Create inline policy</a></p>"#
        );
        if kind == Kind::Group {
            return out;
        }
        let boundary = match self.call(cx, ServiceName::Iam, &format!("Get{}", kind.noun()), &p) {
            Ok(n) => {
                let arn = n.find("PermissionsBoundary").map(|b| b.child_text("PermissionsBoundaryArn"));
                match arn.filter(|a| !a.is_empty()) {
                    Some(a) => format!(
                        r#"<p>Set: <span id="boundary-arn">{}</span></p>{}"#,
                        link(&format!("/console/iam/policies/view?arn={}", enc(&a)), &a),
                        button_form(&format!("{base}/boundary/delete"), &csrf, "", "Remove boundary", "")
                    ),
                    None => r#"<p id="boundary-arn" class="muted">Not set</p>"#.to_string(),
                }
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        let _ = write!(
            out,
            r#"<h2>Permissions boundary</h2>{boundary}<form method="post" action="{base}/boundary" class="inline" id="set-boundary">{csrf}<label>Boundary policy ARN<input name="policy_arn" id="boundary-policy-arn" required></label><button type="submit" id="set-boundary-submit">Set boundary</button></form>"#
        );
        out.push_str(&self.tags_section(cx, kind.noun(), (kind.param(), name), &base, ""));
        out
    }

    /// Tags of a user, role or policy (`noun`), with add/edit and remove forms posting to
    /// `<action_base>/tags` (with `extra` hidden fields).
    fn tags_section(&self, cx: &Cx, noun: &str, id: (&str, &str), action_base: &str, extra: &str) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let list = match self.call_all(cx, ServiceName::Iam, &format!("List{noun}Tags"), &[id], ("Tags", "member")) {
            Ok(tags) => {
                let rows: Vec<Vec<String>> = tags
                    .iter()
                    .map(|t| {
                        let key = t.child_text("Key");
                        vec![
                            esc(&key),
                            esc(&t.child_text("Value")),
                            button_form(
                                &format!("{action_base}/tags/delete"),
                                &csrf,
                                &format!("{extra}{}", hidden("key", &key)),
                                "Remove",
                                "",
                            ),
                        ]
                    })
                    .collect();
                table("tags", &["Key", "Value", "Actions"], &rows, "No tags")
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        format!(
            r#"<h2>Tags</h2>{list}<form method="post" action="{}/tags" class="inline" id="add-tag">{csrf}{extra}<label>Key<input name="key" id="tag-key" required maxlength="128"></label><label>Value<input name="value" id="tag-value" maxlength="256"></label><button type="submit" id="add-tag-submit">Add or edit tag</button></form>"#,
            esc(action_base)
        )
    }

    /// A tag change of `noun` (`User`, `Role`, `Policy`): `TagX` with one tag, or `UntagX`.
    fn tag_call(&self, cx: &Cx, noun: &str, id: (&str, &str), remove: bool) -> Result<String, AwsError> {
        let key = cx.req.f("key");
        if remove {
            self.call(cx, ServiceName::Iam, &format!("Untag{noun}"), &[id, ("TagKeys.member.1", &key)])
                .map(|_| format!("Tag {key} removed."))
        } else {
            let value = cx.req.f("value");
            self.call(
                cx,
                ServiceName::Iam,
                &format!("Tag{noun}"),
                &[id, ("Tags.member.1.Key", &key), ("Tags.member.1.Value", &value)],
            )
            .map(|_| format!("Tag {key} saved."))
        }
    }

    /// `GET /console/iam/<kind>/<name>/inline[?policy=]`: the inline policy editor.
    pub(super) fn inline_editor(&self, cx: &Cx, kind: Kind, name: &str, error: Option<&AwsError>) -> Resp {
        let policy = if cx.req.method == Method::POST { cx.req.f("policy_name") } else { cx.req.q("policy") };
        let document = if cx.req.method == Method::POST {
            cx.req.raw("document")
        } else if policy.is_empty() {
            super::pages::EMPTY_POLICY.to_string()
        } else {
            let p = [(kind.param(), name), ("PolicyName", policy.as_str())];
            match self.call(cx, ServiceName::Iam, &format!("Get{}Policy", kind.noun()), &p) {
                Ok(n) => policy_text(&n.text_of("PolicyDocument")),
                Err(e) => return self.denied(cx, &format!("{} {name}", kind.noun()), "", &e),
            }
        };
        let title = format!("Inline policy of {} {name}", kind.noun().to_ascii_lowercase());
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let body = format!(
            r#"<p>{}</p><h1>{}</h1>{err}<form method="post" action="{}/inline" class="card" id="inline-policy-form">{}
<label>Policy name<input name="policy_name" id="inline-policy-name" required maxlength="128" value="{}"></label>
{}<button type="submit" id="inline-policy-submit">Save policy</button></form>"#,
            link(&kind.page(name), &format!("Back to {name}")),
            esc(&title),
            kind.page(name),
            csrf_field(&cx.session.csrf),
            esc(&policy),
            policy_editor("Policy editor (JSON)", &document, false)
        );
        let status =
            error.map_or(StatusCode::OK, |e| StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST));
        self.frame(cx, &title, &body).status(status)
    }

    /// `GET /console/iam/roles/<name>/trust`: the trust policy editor.
    pub(super) fn trust_editor(&self, cx: &Cx, name: &str, error: Option<&AwsError>) -> Resp {
        let document = if cx.req.method == Method::POST {
            cx.req.raw("document")
        } else {
            match self.call(cx, ServiceName::Iam, "GetRole", &[("RoleName", name)]) {
                Ok(n) => policy_text(&n.text_of("AssumeRolePolicyDocument")),
                Err(e) => return self.denied(cx, &format!("Role {name}"), "", &e),
            }
        };
        let title = format!("Edit trust policy of {name}");
        let err = error.map(|e| error_box(&e.code, &e.message)).unwrap_or_default();
        let body = format!(
            r#"<p>{}</p><h1>{}</h1>{err}<form method="post" action="{}/trust" class="card" id="trust-policy-form">{}
{}<button type="submit" id="trust-policy-submit">Update policy</button></form>"#,
            link(&Kind::Role.page(name), &format!("Back to {name}")),
            esc(&title),
            Kind::Role.page(name),
            csrf_field(&cx.session.csrf),
            policy_editor("Trust policy (JSON)", &document, true)
        );
        let status =
            error.map_or(StatusCode::OK, |e| StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST));
        self.frame(cx, &title, &body).status(status)
    }

    /// POST routes of the sections above, under `/console/iam/<kind>/<name>/`.
    pub(super) fn entity_edit(&self, cx: &Cx, kind: Kind, name: &str, rest: &[&str]) -> Resp {
        let noun = kind.noun();
        let id = (kind.param(), name);
        let f = |k: &str| cx.req.f(k);
        let result = match (kind, rest) {
            (_, ["inline"]) => {
                let doc = cx.req.raw("document");
                let policy = f("policy_name");
                let p = [id, ("PolicyName", policy.as_str()), ("PolicyDocument", doc.as_str())];
                match self.call(cx, ServiceName::Iam, &format!("Put{noun}Policy"), &p) {
                    Ok(_) => Ok(format!("Inline policy {policy} saved.")),
                    Err(e) => return self.inline_editor(cx, kind, name, Some(&e)),
                }
            }
            (_, ["inline", "delete"]) => {
                let policy = f("policy_name");
                self.call(cx, ServiceName::Iam, &format!("Delete{noun}Policy"), &[id, ("PolicyName", &policy)])
                    .map(|_| format!("Inline policy {policy} deleted."))
            }
            (Kind::User | Kind::Role, ["tags"]) => self.tag_call(cx, noun, id, false),
            (Kind::User | Kind::Role, ["tags", "delete"]) => self.tag_call(cx, noun, id, true),
            (Kind::User | Kind::Role, ["boundary"]) => {
                let arn = f("policy_arn");
                self.call(
                    cx,
                    ServiceName::Iam,
                    &format!("Put{noun}PermissionsBoundary"),
                    &[id, ("PermissionsBoundary", &arn)],
                )
                .map(|_| "Permissions boundary set.".to_string())
            }
            (Kind::User | Kind::Role, ["boundary", "delete"]) => self
                .call(cx, ServiceName::Iam, &format!("Delete{noun}PermissionsBoundary"), &[id])
                .map(|_| "Permissions boundary removed.".to_string()),
            (Kind::Role, ["trust"]) => {
                let doc = cx.req.raw("document");
                match self.call(cx, ServiceName::Iam, "UpdateAssumeRolePolicy", &[id, ("PolicyDocument", &doc)]) {
                    Ok(_) => Ok("Trust policy updated.".to_string()),
                    Err(e) => return self.trust_editor(cx, name, Some(&e)),
                }
            }
            (Kind::User, ["mfa", "resync"]) => {
                let serial = f("serial");
                let p = [
                    id,
                    ("SerialNumber", serial.as_str()),
                    ("AuthenticationCode1", &f("code1")),
                    ("AuthenticationCode2", &f("code2")),
                ];
                self.call(cx, ServiceName::Iam, "ResyncMFADevice", &p).map(|_| "MFA device resynchronized.".to_string())
            }
            (Kind::User, ["mfa", "remove"]) => {
                // As AWS's console "Remove": deactivate, then delete the virtual device.
                let serial = f("serial");
                self.call(cx, ServiceName::Iam, "DeactivateMFADevice", &[id, ("SerialNumber", &serial)])
                    .and_then(|_| {
                        self.call(cx, ServiceName::Iam, "DeleteVirtualMFADevice", &[("SerialNumber", &serial)])
                    })
                    .map(|_| "MFA device removed.".to_string())
            }
            _ => return self.not_found(cx),
        };
        match result {
            Ok(done) => {
                self.flash(cx, done);
                Resp::redirect(&kind.page(name))
            }
            Err(e) => {
                let back = format!("<p>{}</p>", link(&kind.page(name), &format!("Back to {name}")));
                self.denied(cx, &format!("{noun} {name}"), &back, &e)
            }
        }
    }

    /// A user's MFA devices, each with resync (two codes) and remove.
    pub(super) fn mfa_section(&self, cx: &Cx, name: &str) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let base = Kind::User.page(name);
        match self.call_all(cx, ServiceName::Iam, "ListMFADevices", &[("UserName", name)], ("MFADevices", "member")) {
            Ok(devices) => {
                let rows: Vec<Vec<String>> = devices
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let serial = d.child_text("SerialNumber");
                        let h = hidden("serial", &serial);
                        vec![
                            format!("<code>{}</code>", esc(&serial)),
                            esc(&d.child_text("EnableDate")),
                            format!(
                                r#"<form method="post" action="{base}/mfa/resync" class="inline">{csrf}{h}<label>Code 1<input name="code1" id="resync-code1-{i}" required pattern="[0-9]{{6}}" inputmode="numeric" size="6"></label><label>Code 2<input name="code2" id="resync-code2-{i}" required pattern="[0-9]{{6}}" inputmode="numeric" size="6"></label><button type="submit">Resync</button></form>{}"#,
                                button_form(&format!("{base}/mfa/remove"), &csrf, &h, "Remove", "danger")
                            ),
                        ]
                    })
                    .collect();
                table("mfa-devices", &["Serial number", "Enabled", "Actions"], &rows, "No MFA devices")
            }
            Err(e) => error_box(&e.code, &e.message),
        }
    }

    // ---- managed policies: versions, tags, delete ------------------------------------------

    /// A managed policy's versions (view, set default, delete), the new-version editor, tags
    /// and the delete link. `shown` is the version on the page.
    pub(super) fn policy_versions_sections(&self, cx: &Cx, arn: &str, shown: &str, document: &str) -> String {
        let csrf = csrf_field(&cx.session.csrf);
        let h = hidden("policy_arn", arn);
        let edit = "/console/iam/policies/edit";
        // At IAM's limit of versions, AWS's console asks which older version to delete first.
        let mut make_room = String::new();
        let versions = match self.call_all(
            cx,
            ServiceName::Iam,
            "ListPolicyVersions",
            &[("PolicyArn", arn)],
            ("Versions", "member"),
        ) {
            Ok(vs) => {
                if vs.len() >= MAX_POLICY_VERSIONS {
                    let options: String = vs
                        .iter()
                        .filter(|v| v.child_text("IsDefaultVersion") != "true")
                        .map(|v| {
                            let id = esc(&v.child_text("VersionId"));
                            format!(r#"<option value="{id}">{id}</option>"#)
                        })
                        .collect();
                    make_room = format!(
                        r#"<label>This policy has the maximum of {MAX_POLICY_VERSIONS} versions: version to delete before saving<select name="delete_version" id="delete-version" required>{options}</select></label>"#
                    );
                }
                let rows: Vec<Vec<String>> = vs
                    .iter()
                    .map(|v| {
                        let id = v.child_text("VersionId");
                        let default = v.child_text("IsDefaultVersion") == "true";
                        let fields = format!("{h}{}", hidden("version", &id));
                        let actions = if default {
                            "Default version".to_string()
                        } else {
                            format!(
                                "{}{}",
                                button_form(&format!("{edit}/version-default"), &csrf, &fields, "Set as default", ""),
                                button_form(&format!("{edit}/version-delete"), &csrf, &fields, "Delete", "danger")
                            )
                        };
                        let label = if id == shown { format!("{id} (shown)") } else { id.clone() };
                        vec![
                            link(&format!("/console/iam/policies/view?arn={}&version={}", enc(arn), enc(&id)), &label),
                            esc(&v.child_text("CreateDate")),
                            actions,
                        ]
                    })
                    .collect();
                table("policy-versions", &["Version", "Created", "Actions"], &rows, "No versions")
            }
            Err(e) => error_box(&e.code, &e.message),
        };
        format!(
            r#"<h2>Policy versions</h2>{versions}
<h2>Edit policy (new version)</h2><form method="post" action="{edit}/version-create" class="card" id="new-version-form">{csrf}{h}
{}{make_room}<label class="check"><input type="checkbox" name="set_default" id="set-default" value="1" checked> Set as default version</label>
<button type="submit" id="new-version-submit">Save changes</button></form>
{}
<h2>Delete policy</h2><p><a href="/console/iam/policies/delete?arn={}" id="delete-policy">Delete this policy…</a></p>"#,
            policy_editor("Policy editor (JSON)", document, false),
            self.tags_section(cx, "Policy", ("PolicyArn", arn), edit, &h),
            enc(arn)
        )
    }

    /// What deleting policy `arn` removes first, as AWS requires: every attachment
    /// (`ListEntitiesForPolicy`) and the non-default versions.
    fn policy_dependents(&self, cx: &Cx, arn: &str) -> Result<PolicyDependents, AwsError> {
        let p = [("PolicyArn", arn)];
        let mut attached = Vec::new();
        for kind in [Kind::Group, Kind::User, Kind::Role] {
            let list = format!("Policy{}s", kind.noun());
            for n in self.texts(cx, "ListEntitiesForPolicy", &p, &list, kind.param())? {
                attached.push((kind, n));
            }
        }
        let versions = self
            .call_all(cx, ServiceName::Iam, "ListPolicyVersions", &p, ("Versions", "member"))?
            .iter()
            .filter(|v| v.child_text("IsDefaultVersion") != "true")
            .map(|v| v.child_text("VersionId"))
            .collect();
        Ok((attached, versions))
    }

    /// `GET /console/iam/policies/delete?arn=`: what goes first, and the confirmation form.
    pub(super) fn delete_policy_page(&self, cx: &Cx) -> Resp {
        let arn = cx.req.q("arn");
        let title = "Delete policy";
        let (attached, versions) = match self.policy_dependents(cx, &arn) {
            Ok(d) => d,
            Err(e) => return self.denied(cx, title, "", &e),
        };
        let mut list = String::new();
        for (kind, n) in &attached {
            let _ = write!(list, "<li>Detach from {} {}</li>", kind.noun().to_ascii_lowercase(), esc(n));
        }
        for v in &versions {
            let _ = write!(list, "<li>Delete version {}</li>", esc(v));
        }
        let removes = if list.is_empty() {
            "<p>It is not attached to anything and has no other versions.</p>".to_string()
        } else {
            format!("<p>AWS deletes a policy only when it is detached from every entity and has no non-default versions. Deleting it first does:</p><ul id=\"delete-removes\">{list}</ul>")
        };
        let body = format!(
            r#"<h1>{title}</h1><p><code>{}</code></p>{removes}<form method="post" action="/console/iam/policies/edit/delete" class="card" id="delete-policy-form">{}{}<label>To confirm, type the policy name<input name="confirm" id="delete-policy-confirm" required autocomplete="off"></label><button type="submit" class="danger" id="delete-policy-submit">Delete policy</button></form>"#,
            esc(&arn),
            csrf_field(&cx.session.csrf),
            hidden("policy_arn", &arn)
        );
        self.frame(cx, title, &body)
    }

    /// `POST /console/iam/policies/edit/<action>` with `policy_arn`.
    pub(super) fn policy_edit(&self, cx: &Cx, action: &str) -> Resp {
        let arn = cx.req.f("policy_arn");
        let view = format!("/console/iam/policies/view?arn={}", enc(&arn));
        let version = cx.req.f("version");
        let id = ("PolicyArn", arn.as_str());
        let result = match action {
            "version-create" => {
                let doc = cx.req.raw("document");
                let default = if cx.req.checked("set_default") { "true" } else { "false" };
                let old = cx.req.f("delete_version");
                let room = if old.is_empty() {
                    Ok(())
                } else {
                    self.call(cx, ServiceName::Iam, "DeletePolicyVersion", &[id, ("VersionId", &old)]).map(|_| ())
                };
                room.and_then(|()| {
                    let p = [id, ("PolicyDocument", &doc), ("SetAsDefault", default)];
                    self.call(cx, ServiceName::Iam, "CreatePolicyVersion", &p)
                })
                .map(|n| format!("Version {} created.", n.text_of("VersionId")))
            }
            "version-default" => self
                .call(cx, ServiceName::Iam, "SetDefaultPolicyVersion", &[id, ("VersionId", &version)])
                .map(|_| format!("Version {version} is now the default.")),
            "version-delete" => self
                .call(cx, ServiceName::Iam, "DeletePolicyVersion", &[id, ("VersionId", &version)])
                .map(|_| format!("Version {version} deleted.")),
            "tags" => self.tag_call(cx, "Policy", id, false),
            "tags/delete" => self.tag_call(cx, "Policy", id, true),
            "delete" => {
                let name = arn.rsplit('/').next().unwrap_or_default();
                if cx.req.f("confirm") != name {
                    Err(AwsError::validation("Type the policy name to confirm."))
                } else {
                    return match self.delete_policy(cx, &arn) {
                        Ok(()) => {
                            self.flash(cx, format!("Policy {name} deleted."));
                            Resp::redirect("/console/iam/policies")
                        }
                        Err(e) => self.denied(cx, "Delete policy", "", &e),
                    };
                }
            }
            _ => return self.not_found(cx),
        };
        match result {
            Ok(done) => {
                self.flash(cx, done);
                Resp::redirect(&view)
            }
            Err(e) => self.denied(cx, "Policy", &format!("<p>{}</p>", link(&view, "Back to the policy")), &e),
        }
    }

    /// Detach `arn` everywhere, delete its non-default versions, then `DeletePolicy`.
    fn delete_policy(&self, cx: &Cx, arn: &str) -> Result<(), AwsError> {
        let (attached, versions) = self.policy_dependents(cx, arn)?;
        let iam = |op: &str, p: &[(&str, &str)]| self.call(cx, ServiceName::Iam, op, p).map(|_| ());
        for (kind, n) in &attached {
            iam(&format!("Detach{}Policy", kind.noun()), &[(kind.param(), n), ("PolicyArn", arn)])?;
        }
        for v in &versions {
            iam("DeletePolicyVersion", &[("PolicyArn", arn), ("VersionId", v)])?;
        }
        iam("DeletePolicy", &[("PolicyArn", arn)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editor_and_forms_escape() {
        let e = policy_editor("L", "</textarea><script>", true);
        assert!(e.contains("&lt;/textarea&gt;") && e.contains("type=trust"));
        assert!(hidden("a\"", "<b>").contains("a&quot;") && hidden("a", "<b>").contains("&lt;b&gt;"));
        assert_eq!(Kind::Role.page("a b"), "/console/iam/roles/a%20b");
        assert_eq!(policy_text("%7B%22a%22%3A1%7D"), "{\n  \"a\": 1\n}");
    }
}
