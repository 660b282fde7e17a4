//! The policy simulator page (`/console/simulator`, docs/CONSOLE.md): a principal of the
//! account (user, group or role), actions, resources and context keys; the decision of each
//! action on each resource from `iam:SimulatePrincipalPolicy` (the engine that decides every
//! request, over the principal's identity policies, its groups' and its permissions boundary),
//! with the matching statements and the reason in the words of Tessera's AccessDenied messages.

use std::fmt::Write;

use tessera_services::ServiceName;

use super::html::{esc, table};
use super::xml::Node;
use super::{Console, Cx, Resp};

const TITLE: &str = "Policy simulator";
/// Most actions, resources and context entries one simulation takes.
const MAX_ITEMS: usize = 50;

/// The non-empty lines (or comma-separated items) of a text area.
fn items(text: &str) -> Vec<String> {
    text.split(['\n', ',']).map(str::trim).filter(|s| !s.is_empty()).take(MAX_ITEMS).map(str::to_string).collect()
}

/// What a matched statement's `SourcePolicyType` is called in AccessDenied messages.
fn phrase(source_type: &str) -> &'static str {
    match source_type {
        "user" | "group" | "role" | "aws-managed" | "user-managed" | "IAM Policy" => "identity-based policy",
        "permissions-boundary" | "boundary" => "permissions boundary",
        "organizations" | "scp" => "service control policy",
        "resource" => "resource-based policy",
        _ => "policy",
    }
}

/// The reason a decision was reached, as AWS's (and Tessera's) AccessDenied messages say it.
fn reason(result: &Node, action: &str) -> String {
    let decision = result.child_text("EvalDecision");
    let matched = result.list("MatchedStatements", "member");
    match decision.as_str() {
        "allowed" => "allowed".into(),
        "explicitDeny" => {
            let ty = matched.first().map(|m| phrase(&m.child_text("SourcePolicyType"))).unwrap_or("policy");
            let article = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            format!("with an explicit deny in {article} {ty}")
        }
        _ => {
            let by = |path: &str, key: &str| result.find(path).map(|n| n.child_text(key) == "false").unwrap_or(false);
            let ty = if by("OrganizationsDecisionDetail", "AllowedByOrganizations") {
                "service control policy"
            } else if by("PermissionsBoundaryDecisionDetail", "AllowedByPermissionsBoundary") {
                "permissions boundary"
            } else {
                "identity-based policy"
            };
            format!("because no {ty} allows the {action} action")
        }
    }
}

impl Console {
    /// `GET /console/simulator`: the form, and with `run` the results.
    pub(super) fn simulator_page(&self, cx: &Cx) -> Resp {
        let principal = cx.req.q("principal");
        let (actions, resources, context) = (cx.req.q("actions"), cx.req.q("resources"), cx.req.q("context"));
        let form = format!(
            r#"<h1>{TITLE}</h1><p>What the policy engine decides for a principal of this account, over its identity policies, its groups' and its permissions boundary, as <code>iam:SimulatePrincipalPolicy</code> answers.</p><form method="get" action="/console/simulator" class="simulator"><p><label for="sim-principal">Principal ARN (user, group or role)</label><br><input id="sim-principal" name="principal" size="80" value="{}" required></p><p><label for="sim-actions">Actions, one a line</label><br><textarea id="sim-actions" name="actions" rows="4" cols="60" required>{}</textarea></p><p><label for="sim-resources">Resource ARNs, one a line (empty: <code>*</code>)</label><br><textarea id="sim-resources" name="resources" rows="3" cols="60">{}</textarea></p><p><label for="sim-context">Context keys, <code>key=value</code> one a line (e.g. <code>aws:MultiFactorAuthPresent=true</code>)</label><br><textarea id="sim-context" name="context" rows="3" cols="60">{}</textarea></p><p><button type="submit" name="run" value="1">Run simulation</button></p></form>"#,
            esc(&principal),
            esc(&actions),
            esc(&resources),
            esc(&context)
        );
        if cx.req.q("run").is_empty() || principal.is_empty() || items(&actions).is_empty() {
            return self.frame(cx, TITLE, &form);
        }
        let mut params: Vec<(String, String)> = vec![("PolicySourceArn".into(), principal.clone())];
        for (i, a) in items(&actions).into_iter().enumerate() {
            params.push((format!("ActionNames.member.{}", i + 1), a));
        }
        for (i, r) in items(&resources).into_iter().enumerate() {
            params.push((format!("ResourceArns.member.{}", i + 1), r));
        }
        let entries: Vec<(String, String)> = context
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .filter(|(k, _)| !k.is_empty())
            .take(MAX_ITEMS)
            .collect();
        for (i, (k, v)) in entries.into_iter().enumerate() {
            let n = i + 1;
            params.push((format!("ContextEntries.member.{n}.ContextKeyName"), k));
            params.push((format!("ContextEntries.member.{n}.ContextKeyValues.member.1"), v));
            params.push((format!("ContextEntries.member.{n}.ContextKeyType"), "string".into()));
        }
        params.push(("MaxItems".into(), "1000".into()));
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let answer = match self.call(cx, ServiceName::Iam, "SimulatePrincipalPolicy", &refs) {
            Ok(a) => a,
            Err(e) => return self.denied(cx, TITLE, &form, &e),
        };
        let rows: Vec<Vec<String>> = answer
            .list("EvaluationResults", "member")
            .into_iter()
            .map(|r| {
                let action = r.child_text("EvalActionName");
                let decision = r.child_text("EvalDecision");
                let mut statements = String::new();
                for m in r.list("MatchedStatements", "member") {
                    let _ = write!(
                        statements,
                        "<li>{} <small>({})</small></li>",
                        esc(&m.child_text("SourcePolicyId")),
                        esc(&m.child_text("SourcePolicyType"))
                    );
                }
                let missing: Vec<String> =
                    r.list("MissingContextValues", "member").into_iter().map(|m| esc(&m.text)).collect();
                vec![
                    esc(&action),
                    esc(&r.child_text("EvalResourceName")),
                    format!(r#"<span class="decision {}">{}</span>"#, esc(&decision), esc(&decision)),
                    esc(&reason(r, &action)),
                    if statements.is_empty() { String::new() } else { format!("<ul>{statements}</ul>") },
                    missing.join(", "),
                ]
            })
            .collect();
        let results = table(
            "simulation",
            &["Action", "Resource", "Decision", "Reason", "Matching statements", "Missing context keys"],
            &rows,
            "No result.",
        );
        self.frame(cx, TITLE, &format!("{form}<h2>Results</h2>{results}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_lines_and_commas() {
        assert_eq!(
            items("s3:GetObject\n iam:ListUsers, ,sts:AssumeRole\n"),
            ["s3:GetObject", "iam:ListUsers", "sts:AssumeRole"]
        );
        assert_eq!(items(&"a,".repeat(100)).len(), MAX_ITEMS);
    }

    #[test]
    fn reasons_use_the_denial_messages_words() {
        let doc = "<r><EvalDecision>implicitDeny</EvalDecision><PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>false</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail></r>";
        let n = super::super::xml::parse(doc).unwrap();
        let r = n.find("r").unwrap();
        assert_eq!(reason(r, "s3:GetObject"), "because no permissions boundary allows the s3:GetObject action");
        let doc = "<r><EvalDecision>explicitDeny</EvalDecision><MatchedStatements><member><SourcePolicyId>p</SourcePolicyId><SourcePolicyType>user</SourcePolicyType></member></MatchedStatements></r>";
        let n = super::super::xml::parse(doc).unwrap();
        assert_eq!(reason(n.find("r").unwrap(), "x:Y"), "with an explicit deny in an identity-based policy");
    }
}
