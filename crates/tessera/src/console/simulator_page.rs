//! The policy simulator page (`/console/simulator`, docs/CONSOLE.md): a principal of the
//! account (user, group or role), actions, resources and context keys; the decision of each
//! action on each resource from `iam:SimulatePrincipalPolicy` (the engine that decides every
//! request, over the principal's identity policies, its groups' and its permissions boundary),
//! with the matching statements and the reason in the words of Tessera's AccessDenied messages.

use std::fmt::Write;

use tessera_services::ServiceName;

use super::html::{esc, table};
use super::iam_more::{policy_text, pretty_json, Kind};
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

/// `key=value` lines of the context text area.
fn context_entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .take(MAX_ITEMS)
        .collect()
}

/// Byte offset of a 1-based line and column (columns count bytes, as the engine's spans do).
fn offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let mut start = 0;
    for _ in 1..line {
        start += text.get(start..)?.find('\n')? + 1;
    }
    let at = start + column.checked_sub(1)?;
    text.is_char_boundary(at).then_some(at)
}

/// A statement's start and end (1-based line and column, end exclusive) and what it decided.
type Span = ((usize, usize), (usize, usize), String);

/// `text` as HTML with the statements at `spans` (the engine's 1-based start and end-exclusive
/// positions) wrapped in `<mark>`, each opening with a label that says what it decided (read
/// by screen readers too).
fn mark_spans(text: &str, spans: &[Span]) -> String {
    let mut ranges: Vec<(usize, usize, &str)> = spans
        .iter()
        .filter_map(|((l1, c1), (l2, c2), why)| {
            let (a, b) = (offset(text, *l1, *c1)?, offset(text, *l2, *c2)?);
            (a < b && b <= text.len()).then_some((a, b, why.as_str()))
        })
        .collect();
    ranges.sort();
    ranges.dedup_by(|x, y| x.0 < y.1);
    let mut out = String::new();
    let mut at = 0;
    for (a, b, why) in ranges {
        out.push_str(&esc(&text[at..a]));
        let effect = if why.starts_with("allowed") { "allow" } else { "deny" };
        let _ = write!(
            out,
            r#"<mark class="deciding {effect}"><span class="why">Deciding statement ({}):</span> {}</mark>"#,
            esc(why),
            esc(&text[a..b])
        );
        at = b;
    }
    out.push_str(&esc(&text[at..]));
    out
}

/// A policy shown with its deciding statements marked.
struct Shown {
    /// `SourcePolicyId` in the simulation's answer.
    id: String,
    /// `SourcePolicyType` in the simulation's answer.
    source_type: String,
    /// The policy's name (a boundary's `SourcePolicyId` is its place in the input list).
    name: String,
    /// The pretty-printed document.
    text: String,
    /// The marked statements.
    spans: Vec<Span>,
}

/// The engine's `SourcePolicyType` of a permissions boundary.
const BOUNDARY: &str = "PermissionsBoundaryPolicy";

/// Whether a `SourcePolicyType` names a policy the page can show: an identity-based policy or
/// the principal's permissions boundary.
fn is_shown(source_type: &str) -> bool {
    matches!(source_type, "user" | "group" | "role" | "aws-managed" | "user-managed" | "IAM Policy" | BOUNDARY)
}

impl Console {
    /// The text of identity policy `id` (of `source_type`) of `principal` (a user, group or role
    /// ARN), read as the caller; `None` when it cannot be read.
    fn principal_policy_text(&self, cx: &Cx, principal: &str, id: &str, source_type: &str) -> Option<(String, String)> {
        let resource = principal.splitn(6, ':').nth(5)?;
        let (kind, rest) = resource.split_once('/')?;
        let name = rest.rsplit('/').next()?;
        let kind = match kind {
            "user" => Kind::User,
            "group" => Kind::Group,
            "role" => Kind::Role,
            _ => return None,
        };
        let p = |k: Kind, n: &str| vec![(k.param().to_string(), n.to_string())];
        // The principal and, for a user, its groups: where the policy may come from.
        let mut holders = vec![(kind, name.to_string())];
        if kind == Kind::User {
            for g in self.texts(cx, "ListGroupsForUser", &[("UserName", name)], "Groups", "GroupName").ok()? {
                holders.push((Kind::Group, g));
            }
        }
        if source_type == BOUNDARY {
            if kind == Kind::Group {
                return None;
            }
            let entity =
                self.call(cx, ServiceName::Iam, &format!("Get{}", kind.noun()), &[(kind.param(), name)]).ok()?;
            let arn = entity.find("PermissionsBoundary")?.child_text("PermissionsBoundaryArn");
            let text = self.managed_policy_text(cx, &arn)?;
            return Some((arn.rsplit('/').next().unwrap_or_default().to_string(), text));
        }
        for (k, n) in holders {
            let params = p(k, &n);
            let refs: Vec<(&str, &str)> = params.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            if source_type == k.noun().to_ascii_lowercase() {
                let mut q = refs.clone();
                q.push(("PolicyName", id));
                if let Ok(n) = self.call(cx, ServiceName::Iam, &format!("Get{}Policy", k.noun()), &q) {
                    return Some((id.to_string(), policy_text(&n.text_of("PolicyDocument"))));
                }
            } else if source_type.ends_with("managed") {
                let op = format!("ListAttached{}Policies", k.noun());
                let attached = self.call_all(cx, ServiceName::Iam, &op, &refs, ("AttachedPolicies", "member")).ok()?;
                if let Some(a) = attached.iter().find(|a| a.child_text("PolicyName") == id) {
                    return Some((id.to_string(), self.managed_policy_text(cx, &a.child_text("PolicyArn"))?));
                }
            }
        }
        None
    }

    /// The default version's text of managed policy `arn`, read as the caller.
    fn managed_policy_text(&self, cx: &Cx, arn: &str) -> Option<String> {
        let v = self.call(cx, ServiceName::Iam, "GetPolicy", &[("PolicyArn", arn)]).ok()?.text_of("DefaultVersionId");
        let n = self.call(cx, ServiceName::Iam, "GetPolicyVersion", &[("PolicyArn", arn), ("VersionId", &v)]).ok()?;
        Some(policy_text(&n.text_of("Document")))
    }

    /// The policies with deciding statements, each statement marked inside the policy text. The
    /// statements are the engine's: each policy is evaluated alone for the request of each
    /// result it decided, and the statements it reports (with their positions) are marked.
    fn deciding_statements(
        &self,
        cx: &Cx,
        answer: &Node,
        principal: Option<&str>,
        pasted: &str,
        context: &[(String, String)],
    ) -> String {
        let context: Vec<serde_json::Value> = context
            .iter()
            .map(|(k, v)| serde_json::json!({"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}))
            .collect();
        let mut policies: Vec<Shown> = Vec::new();
        for r in answer.list("EvaluationResults", "member") {
            let (action, resource) = (r.child_text("EvalActionName"), r.child_text("EvalResourceName"));
            let decision = r.child_text("EvalDecision");
            for m in r.list("MatchedStatements", "member") {
                let (id, ty) = (m.child_text("SourcePolicyId"), m.child_text("SourcePolicyType"));
                if !is_shown(&ty) {
                    continue;
                }
                let i = match policies.iter().position(|p| p.id == id && p.source_type == ty) {
                    Some(i) => i,
                    None => {
                        let found = match principal {
                            Some(p) => self.principal_policy_text(cx, p, &id, &ty),
                            None => Some((id.clone(), pretty_json(pasted))),
                        };
                        let Some((name, text)) = found else { continue };
                        policies.push(Shown { id: id.clone(), source_type: ty.clone(), name, text, spans: Vec::new() });
                        policies.len() - 1
                    }
                };
                let mut input = serde_json::json!({
                    "PolicyInputList": [policies[i].text],
                    "ActionNames": [action],
                    "ResourceArns": [if resource.is_empty() { "*".to_string() } else { resource.clone() }],
                    "ContextEntries": context,
                });
                if let Some(p) = principal.filter(|p| p.contains(":user/")) {
                    input["CallerArn"] = serde_json::json!(p);
                }
                let Ok(out) = tessera_policy::simulate::simulate(&input) else { continue };
                let matched = out.pointer("/EvaluationResults/0/MatchedStatements").and_then(|v| v.as_array()).cloned();
                for s in matched.unwrap_or_default() {
                    let pos = |k: &str| {
                        let line = s.pointer(&format!("/{k}/Line")).and_then(serde_json::Value::as_u64)?;
                        let col = s.pointer(&format!("/{k}/Column")).and_then(serde_json::Value::as_u64)?;
                        Some((usize::try_from(line).ok()?, usize::try_from(col).ok()?))
                    };
                    if let (Some(a), Some(b)) = (pos("StartPosition"), pos("EndPosition")) {
                        policies[i].spans.push((a, b, format!("{decision} of {action}")));
                    }
                }
            }
        }
        if policies.is_empty() {
            return String::new();
        }
        let mut out = String::from("<h2>Deciding statements</h2><p>Each policy with a statement that decided a result, the statement marked.</p>");
        for (n, p) in policies.iter().enumerate() {
            let _ = write!(
                out,
                r#"<h3>{} <small>({})</small></h3><pre class="policy" id="deciding-{n}" tabindex="0">{}</pre>"#,
                esc(&p.name),
                esc(&p.source_type),
                mark_spans(&p.text, &p.spans)
            );
        }
        out
    }

    /// `GET /console/simulator`: the form, and with `run` the results.
    pub(super) fn simulator_page(&self, cx: &Cx) -> Resp {
        let principal = cx.req.q("principal");
        let pasted = cx.req.q("policy");
        let (actions, resources, context) = (cx.req.q("actions"), cx.req.q("resources"), cx.req.q("context"));
        let form = format!(
            r#"<h1>{TITLE}</h1><p>What the policy engine decides for a principal of this account, over its identity policies, its groups' and its permissions boundary, as <code>iam:SimulatePrincipalPolicy</code> answers.</p><form method="get" action="/console/simulator" class="simulator"><p><label for="sim-principal">Principal ARN (user, group or role)</label><br><input id="sim-principal" name="principal" size="80" value="{}"></p><p><label for="sim-policy">Or paste a policy (simulated alone, as <code>iam:SimulateCustomPolicy</code>)</label><br><textarea id="sim-policy" name="policy" rows="6" cols="60" class="code" spellcheck="false">{}</textarea></p><p><label for="sim-actions">Actions, one a line</label><br><textarea id="sim-actions" name="actions" rows="4" cols="60" required>{}</textarea></p><p><label for="sim-resources">Resource ARNs, one a line (empty: <code>*</code>)</label><br><textarea id="sim-resources" name="resources" rows="3" cols="60">{}</textarea></p><p><label for="sim-context">Context keys, <code>key=value</code> one a line (e.g. <code>aws:MultiFactorAuthPresent=true</code>)</label><br><textarea id="sim-context" name="context" rows="3" cols="60">{}</textarea></p><p><button type="submit" name="run" value="1">Run simulation</button></p></form>"#,
            esc(&principal),
            esc(&pasted),
            esc(&actions),
            esc(&resources),
            esc(&context)
        );
        let custom = principal.is_empty() && !pasted.trim().is_empty();
        if cx.req.q("run").is_empty() || (principal.is_empty() && !custom) || items(&actions).is_empty() {
            return self.frame(cx, TITLE, &form);
        }
        let mut params: Vec<(String, String)> = if custom {
            vec![("PolicyInputList.member.1".into(), pasted.clone())]
        } else {
            vec![("PolicySourceArn".into(), principal.clone())]
        };
        for (i, a) in items(&actions).into_iter().enumerate() {
            params.push((format!("ActionNames.member.{}", i + 1), a));
        }
        for (i, r) in items(&resources).into_iter().enumerate() {
            params.push((format!("ResourceArns.member.{}", i + 1), r));
        }
        let entries: Vec<(String, String)> = context_entries(&context);
        for (i, (k, v)) in entries.iter().cloned().enumerate() {
            let n = i + 1;
            params.push((format!("ContextEntries.member.{n}.ContextKeyName"), k));
            params.push((format!("ContextEntries.member.{n}.ContextKeyValues.member.1"), v));
            params.push((format!("ContextEntries.member.{n}.ContextKeyType"), "string".into()));
        }
        params.push(("MaxItems".into(), "1000".into()));
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let op = if custom { "SimulateCustomPolicy" } else { "SimulatePrincipalPolicy" };
        let answer = match self.call(cx, ServiceName::Iam, op, &refs) {
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
        let deciding =
            self.deciding_statements(cx, &answer, if custom { None } else { Some(&principal) }, &pasted, &entries);
        self.frame(cx, TITLE, &format!("{form}<h2>Results</h2>{results}{deciding}"))
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
    fn statements_are_marked() {
        let text = "{\n  \"Statement\": [\n    {\"Effect\": \"Deny\"}\n  ]\n}";
        let html = mark_spans(text, &[((3, 5), (3, 23), "explicitDeny of s3:X".into())]);
        assert!(html.contains(r#"<mark class="deciding deny"><span class="why">Deciding statement (explicitDeny of s3:X):</span> {&quot;Effect&quot;: &quot;Deny&quot;}</mark>"#), "{html}");
        assert_eq!(
            mark_spans("abc", &[((9, 1), (9, 2), String::new())]),
            "abc",
            "a span outside the text marks nothing"
        );
        assert_eq!(offset("ab\ncd", 2, 2), Some(4));
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
