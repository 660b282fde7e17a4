//! Organizations pages (`/console/organizations`, docs/CONSOLE.md), as the caller (the
//! management account or a delegated administrator; the engine and Organizations' own rules
//! decide): the tree of root, OUs and accounts with create/rename/delete OU, move and create
//! account; the policies of each type with create, attach and detach; each account's effective
//! policies along its path; enabling and disabling policy types.

use std::fmt::Write;

use serde_json::{json, Value};
use tessera_services::ServiceName;
use tessera_wire::AwsError;

use super::html::{csrf_field, enc, error_box, esc, link, table};
use super::{Console, Cx, Resp};

const TITLE: &str = "AWS Organizations";
/// The policy types the pages offer (Organizations' `PolicyType` enum, the ones Tessera enforces
/// first).
const POLICY_TYPES: &[(&str, &str)] = &[
    ("SERVICE_CONTROL_POLICY", "Service control policies"),
    ("RESOURCE_CONTROL_POLICY", "Resource control policies"),
    ("TAG_POLICY", "Tag policies"),
    ("BACKUP_POLICY", "Backup policies"),
    ("AISERVICES_OPT_OUT_POLICY", "AI services opt-out policies"),
];
/// Most OUs and accounts the tree walks.
const MAX_NODES: usize = 2000;

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// One node of the tree: an OU (with children) or an account.
struct TreeNode {
    id: String,
    name: String,
    ous: Vec<TreeNode>,
    accounts: Vec<Value>,
}

impl Console {
    /// Every page of a paginated Organizations list (`NextToken`).
    pub(super) fn org_list(&self, cx: &Cx, operation: &str, body: Value, list: &str) -> Result<Vec<Value>, AwsError> {
        let mut out = Vec::new();
        let mut body = body;
        for _ in 0..100 {
            let page = self.call_json(cx, ServiceName::Organizations, operation, body.clone())?;
            out.extend(page[list].as_array().cloned().unwrap_or_default());
            match page["NextToken"].as_str() {
                Some(t) => body["NextToken"] = json!(t),
                None => break,
            }
        }
        Ok(out)
    }

    fn org_tree(&self, cx: &Cx, id: &str, name: &str, budget: &mut usize) -> Result<TreeNode, AwsError> {
        let accounts = self.org_list(cx, "ListAccountsForParent", json!({"ParentId": id}), "Accounts")?;
        let mut node = TreeNode { id: id.to_string(), name: name.to_string(), ous: Vec::new(), accounts };
        *budget = budget.saturating_sub(node.accounts.len() + 1);
        for ou in
            self.org_list(cx, "ListOrganizationalUnitsForParent", json!({"ParentId": id}), "OrganizationalUnits")?
        {
            if *budget == 0 {
                break;
            }
            node.ous.push(self.org_tree(cx, &s(&ou, "Id"), &s(&ou, "Name"), budget)?);
        }
        Ok(node)
    }

    /// `GET /console/organizations`: the organization, its tree and the forms acting on it.
    pub(super) fn org_home(&self, cx: &Cx) -> Resp {
        let org = match self.call_json(cx, ServiceName::Organizations, "DescribeOrganization", json!({})) {
            Ok(o) => o,
            Err(e) if e.code == "AWSOrganizationsNotInUseException" => {
                let body = format!(
                    r#"<h1>{TITLE}</h1><p>This account is not in an organization.</p><form method="post" action="/console/organizations/create" class="card">{}<button type="submit" id="create-organization">Create an organization</button></form>"#,
                    csrf_field(&cx.session.csrf)
                );
                return self.frame(cx, TITLE, &body);
            }
            Err(e) => return self.denied(cx, TITLE, "", &e),
        };
        let roots = match self.org_list(cx, "ListRoots", json!({}), "Roots") {
            Ok(r) => r,
            Err(e) => return self.denied(cx, TITLE, "", &e),
        };
        let Some(root) = roots.first() else { return self.denied(cx, TITLE, "", &AwsError::internal()) };
        let mut budget = MAX_NODES;
        let tree = match self.org_tree(cx, &s(root, "Id"), "Root", &mut budget) {
            Ok(t) => t,
            Err(e) => return self.denied(cx, TITLE, "", &e),
        };
        let mut parents = Vec::new();
        collect_parents(&tree, 0, &mut parents);
        let csrf = csrf_field(&cx.session.csrf);
        let mut tree_html = String::new();
        render_tree(&tree, &parents, &csrf, &mut tree_html);
        let parent_options = options(&parents, "");
        let mut types = String::new();
        for t in root["PolicyTypes"].as_array().into_iter().flatten() {
            let _ = write!(types, "<li>{} <small>{}</small></li>", esc(&s(t, "Type")), esc(&s(t, "Status")));
        }
        let mut type_forms = String::new();
        for (ty, label) in POLICY_TYPES {
            let enabled = root["PolicyTypes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| s(t, "Type") == *ty && s(t, "Status") == "ENABLED");
            let _ = write!(
                type_forms,
                r#"<li><a href="/console/organizations/policies?type={ty}">{}</a> <form method="post" action="/console/organizations/policy-types" class="inline">{csrf}<input type="hidden" name="root" value="{}"><input type="hidden" name="type" value="{ty}"><input type="hidden" name="enable" value="{}"><button type="submit" id="{}-{ty}">{}</button></form></li>"#,
                esc(label),
                esc(&s(root, "Id")),
                if enabled { "0" } else { "1" },
                if enabled { "disable" } else { "enable" },
                if enabled { "Disable" } else { "Enable" },
            );
        }
        let o = &org["Organization"];
        let body = format!(
            r#"<h1>{TITLE}</h1><dl class="facts"><dt>Organization ID</dt><dd id="org-id">{}</dd><dt>Management account</dt><dd>{}</dd><dt>Feature set</dt><dd>{}</dd></dl><h2>Accounts and OUs</h2><ul class="org-tree" id="org-tree">{tree_html}</ul><div class="cards"><form method="post" action="/console/organizations/ous/create" class="card" id="create-ou-form">{csrf}<h3>Create organizational unit</h3><label>Parent<select name="parent">{parent_options}</select></label><label>Name<input name="name" required maxlength="128"></label><button type="submit">Create OU</button></form><form method="post" action="/console/organizations/accounts/create" class="card" id="create-account-form">{csrf}<h3>Create account</h3><label>Account name<input name="name" required maxlength="50"></label><label>Email of its root user<input name="email" type="email" required maxlength="64"></label><button type="submit">Create account</button></form></div><h2>Policies</h2><ul>{type_forms}</ul><p>Policy types enabled on the root:</p><ul id="policy-types">{types}</ul>"#,
            esc(&s(o, "Id")),
            esc(&s(o, "MasterAccountId")),
            esc(&s(o, "FeatureSet")),
        );
        self.frame(cx, TITLE, &body)
    }

    /// A POST form's Organizations call; back to `back` with a flash, or the error shown.
    fn org_post(&self, cx: &Cx, operation: &str, body: Value, done: &str, back: &str) -> Resp {
        match self.call_json(cx, ServiceName::Organizations, operation, body) {
            Ok(_) => {
                self.flash(cx, done);
                Resp::redirect(back)
            }
            Err(e) => self.org_post_error(cx, &e, back),
        }
    }

    /// The POST routes under `/console/organizations`.
    pub(super) fn org_action(&self, cx: &Cx, segs: &[&str]) -> Resp {
        let f = |k: &str| cx.req.f(k);
        let home = "/console/organizations";
        match segs {
            ["create"] => {
                self.org_post(cx, "CreateOrganization", json!({"FeatureSet": "ALL"}), "Organization created.", home)
            }
            ["ous", "create"] => self.org_post(
                cx,
                "CreateOrganizationalUnit",
                json!({"ParentId": f("parent"), "Name": f("name")}),
                &format!("Organizational unit {} created.", f("name")),
                home,
            ),
            ["ous", id, "rename"] => self.org_post(
                cx,
                "UpdateOrganizationalUnit",
                json!({"OrganizationalUnitId": id, "Name": f("name")}),
                "Organizational unit renamed.",
                home,
            ),
            ["ous", id, "delete"] => self.org_post(
                cx,
                "DeleteOrganizationalUnit",
                json!({"OrganizationalUnitId": id}),
                "Organizational unit deleted.",
                home,
            ),
            ["accounts", "create"] => {
                let answer = self.call_json(
                    cx,
                    ServiceName::Organizations,
                    "CreateAccount",
                    json!({"AccountName": f("name"), "Email": f("email")}),
                );
                match answer {
                    Ok(a) => Resp::redirect(&format!(
                        "/console/organizations/create-status/{}",
                        enc(a["CreateAccountStatus"]["Id"].as_str().unwrap_or_default())
                    )),
                    Err(e) => self.org_post_error(cx, &e, home),
                }
            }
            ["accounts", id, "move"] => self.org_post(
                cx,
                "MoveAccount",
                json!({"AccountId": id, "SourceParentId": f("from"), "DestinationParentId": f("to")}),
                &format!("Account {id} moved."),
                home,
            ),
            ["policy-types"] => {
                let (op, done) = if f("enable") == "1" {
                    ("EnablePolicyType", "Policy type enabled.")
                } else {
                    ("DisablePolicyType", "Policy type disabled.")
                };
                self.org_post(cx, op, json!({"RootId": f("root"), "PolicyType": f("type")}), done, home)
            }
            ["policies", "create"] => {
                let ty = f("type");
                let answer = self.call_json(
                    cx,
                    ServiceName::Organizations,
                    "CreatePolicy",
                    json!({"Name": f("name"), "Description": f("description"), "Type": ty, "Content": cx.req.raw("document")}),
                );
                match answer {
                    Ok(a) => {
                        self.flash(cx, format!("Policy {} created.", f("name")));
                        Resp::redirect(&format!(
                            "/console/organizations/policies/{}",
                            enc(a["Policy"]["PolicySummary"]["Id"].as_str().unwrap_or_default())
                        ))
                    }
                    Err(e) => {
                        self.org_post_error(cx, &e, &format!("/console/organizations/policies?type={}", enc(&ty)))
                    }
                }
            }
            ["policies", id, op @ ("attach" | "detach")] => {
                let back = format!("/console/organizations/policies/{}", enc(id));
                let (operation, done) = if *op == "attach" {
                    ("AttachPolicy", "Policy attached.")
                } else {
                    ("DetachPolicy", "Policy detached.")
                };
                self.org_post(cx, operation, json!({"PolicyId": id, "TargetId": f("target")}), done, &back)
            }
            _ => self
                .frame(cx, "Not found", "<h1>Not found</h1><p>There is no such console page.</p>")
                .status(http::StatusCode::NOT_FOUND),
        }
    }

    fn org_post_error(&self, cx: &Cx, e: &AwsError, back: &str) -> Resp {
        let status = http::StatusCode::from_u16(e.status).unwrap_or(http::StatusCode::BAD_REQUEST);
        let body = format!(r#"<h1>{TITLE}</h1>{}<p>{}</p>"#, error_box(&e.code, &e.message), link(back, "Back"));
        self.frame(cx, TITLE, &body).status(status)
    }

    /// `GET /console/organizations/create-status/<id>`: a CreateAccount request's state.
    pub(super) fn org_create_status(&self, cx: &Cx, id: &str) -> Resp {
        let answer = match self.call_json(
            cx,
            ServiceName::Organizations,
            "DescribeCreateAccountStatus",
            json!({"CreateAccountRequestId": id}),
        ) {
            Ok(a) => a,
            Err(e) => return self.denied(cx, "Create account", "", &e),
        };
        let st = &answer["CreateAccountStatus"];
        let state = s(st, "State");
        let more = match state.as_str() {
            "SUCCEEDED" => format!(
                "<p>Account {} is ready. {}</p>",
                esc(&s(st, "AccountId")),
                link("/console/organizations", "Back to the organization")
            ),
            "FAILED" => format!("<p>Failure reason: {}</p>", esc(&s(st, "FailureReason"))),
            _ => format!(
                r#"<p>Still in progress: {}.</p>"#,
                link(&format!("/console/organizations/create-status/{}", enc(id)), "refresh")
            ),
        };
        let body = format!(
            r#"<h1>Create account {}</h1><dl class="facts"><dt>State</dt><dd id="create-state">{}</dd></dl>{more}"#,
            esc(&s(st, "AccountName")),
            esc(&state)
        );
        self.frame(cx, "Create account", &body)
    }

    /// `GET /console/organizations/policies?type=T`: the policies of a type, and a create form
    /// with the validating policy editor.
    pub(super) fn org_policies(&self, cx: &Cx) -> Resp {
        let ty = cx.req.q("type");
        let ty = if POLICY_TYPES.iter().any(|(t, _)| *t == ty) { ty } else { POLICY_TYPES[0].0.to_string() };
        let label = POLICY_TYPES.iter().find(|(t, _)| *t == ty).map_or("", |(_, l)| *l);
        let policies = match self.org_list(cx, "ListPolicies", json!({"Filter": ty}), "Policies") {
            Ok(p) => p,
            Err(e) => return self.denied(cx, label, "", &e),
        };
        let rows: Vec<Vec<String>> = policies
            .iter()
            .map(|p| {
                vec![
                    link(&format!("/console/organizations/policies/{}", enc(&s(p, "Id"))), &s(p, "Name")),
                    esc(&s(p, "Id")),
                    esc(&s(p, "Description")),
                    if p["AwsManaged"].as_bool() == Some(true) {
                        "AWS managed".into()
                    } else {
                        "Customer managed".into()
                    },
                ]
            })
            .collect();
        let editor = if ty == "SERVICE_CONTROL_POLICY" || ty == "RESOURCE_CONTROL_POLICY" {
            r#" data-validate="/console/api/validate-policy""#
        } else {
            ""
        };
        let body = format!(
            r#"<p>{}</p><h1>{}</h1>{}<form method="post" action="/console/organizations/policies/create" class="card" id="create-org-policy-form">{}<input type="hidden" name="type" value="{}"><h3>Create policy</h3><label>Name<input name="name" required maxlength="128"></label><label>Description<input name="description" maxlength="512"></label><label>Policy (JSON)<textarea name="document" id="policy-document" class="code" rows="14" spellcheck="false"{editor}>{{"Version": "2012-10-17", "Statement": []}}</textarea></label><div id="policy-findings" class="findings" aria-live="polite"></div><button type="submit">Create policy</button></form>"#,
            link("/console/organizations", "Organization"),
            esc(label),
            table("org-policies", &["Name", "ID", "Description", "Type"], &rows, "No policies of this type."),
            csrf_field(&cx.session.csrf),
            esc(&ty),
        );
        self.frame(cx, label, &body)
    }

    /// `GET /console/organizations/policies/<id>`: a policy's content, its targets, attach and
    /// detach.
    pub(super) fn org_policy(&self, cx: &Cx, id: &str) -> Resp {
        let policy = match self.call_json(cx, ServiceName::Organizations, "DescribePolicy", json!({"PolicyId": id})) {
            Ok(p) => p,
            Err(e) => return self.denied(cx, "Policy", "", &e),
        };
        let targets = match self.org_list(cx, "ListTargetsForPolicy", json!({"PolicyId": id}), "Targets") {
            Ok(t) => t,
            Err(e) => return self.denied(cx, "Policy", "", &e),
        };
        let csrf = csrf_field(&cx.session.csrf);
        let rows: Vec<Vec<String>> = targets
            .iter()
            .map(|t| {
                vec![
                    esc(&s(t, "Name")),
                    esc(&s(t, "TargetId")),
                    esc(&s(t, "Type")),
                    format!(
                        r#"<form method="post" action="/console/organizations/policies/{}/detach" class="inline">{csrf}<input type="hidden" name="target" value="{}"><button type="submit">Detach</button></form>"#,
                        enc(id),
                        esc(&s(t, "TargetId"))
                    ),
                ]
            })
            .collect();
        let summary = &policy["Policy"]["PolicySummary"];
        let content = policy["Policy"]["Content"].as_str().unwrap_or_default();
        let pretty = serde_json::from_str::<Value>(content)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| content.to_string());
        let body = format!(
            r#"<p>{}</p><h1>{}</h1><p>{}</p><pre id="org-policy-content" tabindex="0">{}</pre><h2>Targets</h2>{}<form method="post" action="/console/organizations/policies/{}/attach" class="card" id="attach-form">{csrf}<label>Target ID (root <code>r-…</code>, OU <code>ou-…</code> or a 12-digit account)<input name="target" required maxlength="100"></label><button type="submit">Attach</button></form>"#,
            link(&format!("/console/organizations/policies?type={}", enc(&s(summary, "Type"))), "Policies"),
            esc(&s(summary, "Name")),
            esc(&s(summary, "Description")),
            esc(&pretty),
            table("org-policy-targets", &["Name", "ID", "Type", ""], &rows, "Not attached."),
            enc(id),
        );
        self.frame(cx, &s(summary, "Name"), &body)
    }

    /// `GET /console/organizations/accounts/<id>`: an account's place and the service control
    /// and resource control policies along its path, root first: the ones that apply to it.
    pub(super) fn org_account(&self, cx: &Cx, id: &str) -> Resp {
        let title = format!("Account {id}");
        let account = match self.call_json(cx, ServiceName::Organizations, "DescribeAccount", json!({"AccountId": id}))
        {
            Ok(a) => a,
            Err(e) => return self.denied(cx, &title, "", &e),
        };
        // The path from the account up to the root.
        let mut path = vec![id.to_string()];
        for _ in 0..10 {
            let Some(last) = path.last().cloned() else { break };
            let parents = match self.org_list(cx, "ListParents", json!({"ChildId": last}), "Parents") {
                Ok(p) => p,
                Err(e) => return self.denied(cx, &title, "", &e),
            };
            let Some(p) = parents.first() else { break };
            path.push(s(p, "Id"));
            if s(p, "Type") == "ROOT" {
                break;
            }
        }
        path.reverse();
        let mut sections = String::new();
        for (ty, label) in &POLICY_TYPES[..2] {
            let mut rows = Vec::new();
            for target in &path {
                let policies = match self.org_list(
                    cx,
                    "ListPoliciesForTarget",
                    json!({"TargetId": target, "Filter": ty}),
                    "Policies",
                ) {
                    Ok(p) => p,
                    Err(e) if e.code == "PolicyTypeNotEnabledException" => Vec::new(),
                    Err(e) => return self.denied(cx, &title, "", &e),
                };
                for p in policies {
                    rows.push(vec![
                        esc(target),
                        link(&format!("/console/organizations/policies/{}", enc(&s(&p, "Id"))), &s(&p, "Name")),
                    ]);
                }
            }
            let _ = write!(
                sections,
                "<h2>{}</h2>{}",
                esc(label),
                table(
                    &format!("effective-{}", ty.to_ascii_lowercase()),
                    &["Attached to", "Policy"],
                    &rows,
                    "None along the path."
                )
            );
        }
        let a = &account["Account"];
        let body = format!(
            r#"<p>{}</p><h1>{}</h1><dl class="facts"><dt>Account ID</dt><dd>{}</dd><dt>Email</dt><dd>{}</dd><dt>Status</dt><dd>{}</dd><dt>Path</dt><dd id="account-path">{}</dd></dl><p>An action is allowed only if every level of the path (root, each OU, the account) has a policy that allows it; the management account is exempt.</p>{sections}"#,
            link("/console/organizations", "Organization"),
            esc(&s(a, "Name")),
            esc(&s(a, "Id")),
            esc(&s(a, "Email")),
            esc(&s(a, "Status")),
            esc(&path.join(" / ")),
        );
        self.frame(cx, &title, &body)
    }
}

/// (id, indented label) of the root and every OU, depth first.
fn collect_parents(node: &TreeNode, depth: usize, out: &mut Vec<(String, String)>) {
    out.push((node.id.clone(), format!("{}{}", "  ".repeat(depth), node.name)));
    for ou in &node.ous {
        collect_parents(ou, depth + 1, out);
    }
}

fn options(parents: &[(String, String)], selected: &str) -> String {
    let mut out = String::new();
    for (id, label) in parents {
        let sel = if id == selected { " selected" } else { "" };
        let _ = write!(out, r#"<option value="{}"{sel}>{} ({})</option>"#, esc(id), esc(label.trim_start()), esc(id));
    }
    out
}

fn render_tree(node: &TreeNode, parents: &[(String, String)], csrf: &str, out: &mut String) {
    let is_root = node.id.starts_with("r-");
    let _ = write!(
        out,
        r#"<li class="{}" data-id="{}"><strong>{}</strong> <small>{}</small>"#,
        if is_root { "root" } else { "ou" },
        esc(&node.id),
        esc(&node.name),
        esc(&node.id)
    );
    if !is_root {
        let _ = write!(
            out,
            r#" <form method="post" action="/console/organizations/ous/{id}/rename" class="inline">{csrf}<input name="name" aria-label="New name of {name}" required maxlength="128" value="{name}"><button type="submit">Rename</button></form> <form method="post" action="/console/organizations/ous/{id}/delete" class="inline">{csrf}<button type="submit">Delete</button></form>"#,
            id = enc(&node.id),
            name = esc(&node.name),
        );
    }
    out.push_str("<ul>");
    for a in &node.accounts {
        let id = s(a, "Id");
        let _ = write!(
            out,
            r#"<li class="account" data-id="{}">{} <small>{}</small> {} <form method="post" action="/console/organizations/accounts/{}/move" class="inline">{csrf}<input type="hidden" name="from" value="{}"><select name="to" aria-label="Move {} to">{}</select><button type="submit">Move</button></form></li>"#,
            esc(&id),
            link(&format!("/console/organizations/accounts/{}", enc(&id)), &s(a, "Name")),
            esc(&id),
            esc(&s(a, "Status")),
            enc(&id),
            esc(&node.id),
            esc(&s(a, "Name")),
            options(parents, &node.id),
        );
    }
    for ou in &node.ous {
        render_tree(ou, parents, csrf, out);
    }
    out.push_str("</ul></li>");
}
