//! The escalation graph page (`/console/iam/graph`, docs/CONSOLE.md): the graph of
//! `tessera graph` (crate `tessera-graph`) for the signed-in account, or for the whole
//! organization when the caller is in its management account and may list its accounts; drawn
//! as SVG with the principals that reach admin and the moves on those paths in red, and a table
//! of each principal's shortest path to admin.
//!
//! Who may see it: the graph shows every principal and what each can do, which is what
//! `GetAccountAuthorizationDetails` returns, so the page first makes that call as the caller
//! (authorized by the engine and audited like any call); the organization view also needs
//! Organizations' `DescribeOrganization` and `ListAccounts`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

use tessera_graph::{Edge, Graph, Step};
use tessera_services::ServiceName;

use super::html::{esc, table};
use super::{Console, Cx, Resp};

const TITLE: &str = "Escalation graph";
/// Most principals drawn; past it only those on a path to admin are.
const MAX_DRAWN: usize = 300;
/// Most rows of the paths table.
const MAX_ROWS: usize = 200;
const NODE_W: usize = 260;
const NODE_H: usize = 30;
const COL_GAP: usize = 120;
const ROW_GAP: usize = 14;
const MARGIN: usize = 20;

impl Console {
    /// `GET /console/iam/graph`.
    pub(super) fn graph_page(&self, cx: &Cx) -> Resp {
        if let Err(e) = self.call(cx, ServiceName::Iam, "GetAccountAuthorizationDetails", &[("MaxItems", "1")]) {
            return self.denied(cx, TITLE, "", &e);
        }
        let account = cx.caller.account.clone();
        let scope = self.organization_accounts(cx, &account);
        let mut graph = match tessera_graph::build(&self.services, self.services.clock.now_millis()) {
            Ok(g) => g,
            Err(e) => return self.denied(cx, TITLE, "", &tessera_wire::AwsError::new(500, "InternalFailure", e.0)),
        };
        let in_scope =
            |arn: &str| arn.split(':').nth(4).is_some_and(|a| scope.as_ref().map_or(a == account, |s| s.contains(a)));
        let admin_paths = tessera_graph::admin_paths(&graph);
        let moves: HashMap<String, usize> = admin_paths.iter().map(|(arn, p)| (arn.clone(), p.len())).collect();
        let paths_table = paths_table(&admin_paths, &in_scope);
        graph.principals.retain(|n| in_scope(&n.arn));
        graph.edges.retain(|e| in_scope(&e.from));
        let what = match &scope {
            Some(s) => format!("the organization ({} accounts)", s.len()),
            None => format!("account {account}"),
        };
        let admins = graph.principals.iter().filter(|n| n.admin).count();
        let reaching = graph.principals.iter().filter(|n| n.reaches_admin && !n.admin).count();
        let body = format!(
            r#"<h1>{TITLE}</h1><p>Every principal of {what}, the roles each can assume and the privilege-escalation moves each can make, each decided by the policy engine with SCPs, RCPs, boundaries and trust policies (as <code>tessera graph</code> prints them). <span class="legend-admin">Admin</span>: allowed <code>*</code> on <code>*</code> after every limit; <span class="legend-reach">reaches admin</span>: through the red moves.</p><dl class="facts"><dt>Principals</dt><dd id="graph-principals">{}</dd><dt>Admin</dt><dd id="graph-admins">{admins}</dd><dt>Reach admin through moves</dt><dd id="graph-reaching">{reaching}</dd><dt>Moves</dt><dd id="graph-edges">{}</dd></dl>{}<h2>Paths to admin</h2>{paths_table}"#,
            graph.principals.len(),
            graph.edges.len(),
            svg(&graph, &moves),
        );
        self.frame(cx, TITLE, &body)
    }

    /// The organization's account ids when the caller is in its management account and may list
    /// them; `None` otherwise (the page shows the caller's account).
    fn organization_accounts(&self, cx: &Cx, account: &str) -> Option<HashSet<String>> {
        let org = self.call_json(cx, ServiceName::Organizations, "DescribeOrganization", serde_json::json!({})).ok()?;
        if org["Organization"]["MasterAccountId"].as_str() != Some(account) {
            return None;
        }
        let accounts = self.org_list(cx, "ListAccounts", serde_json::json!({}), "Accounts").ok()?;
        let ids = accounts
            .iter()
            .filter(|a| a["Status"].as_str() == Some("ACTIVE"))
            .filter_map(|a| a["Id"].as_str().map(str::to_string))
            .collect();
        Some(ids)
    }
}

/// `user/name` or `role/name`, and the account.
fn short(arn: &str) -> (String, &str) {
    let account = arn.split(':').nth(4).unwrap_or_default();
    let rest = arn.splitn(6, ':').nth(5).unwrap_or(arn);
    (rest.to_string(), account)
}

/// Whether a move is on a path to admin: into a principal that reaches admin, or a rewrite
/// that makes its target admin.
fn on_admin_path(e: &Edge, moves: &HashMap<String, usize>) -> bool {
    if e.kind.rewrites() {
        e.makes_admin
    } else {
        moves.contains_key(&e.to)
    }
}

/// The graph as SVG: a column per number of moves to admin (admin rightmost), principals that
/// do not reach admin in the leftmost column; each move an arrow, a move on oneself a loop.
fn svg(graph: &Graph, moves: &HashMap<String, usize>) -> String {
    let mut drawn: Vec<&tessera_graph::Node> = graph.principals.iter().collect();
    let mut note = String::new();
    if drawn.len() > MAX_DRAWN {
        drawn.retain(|n| moves.contains_key(&n.arn));
        drawn.truncate(MAX_DRAWN);
        note = format!(
            r#"<p class="note">{} principals: only those on a path to admin are drawn (at most {MAX_DRAWN}); <code>tessera graph --format dot</code> prints all of them.</p>"#,
            graph.principals.len()
        );
    }
    let deepest = drawn.iter().filter_map(|n| moves.get(&n.arn)).max().copied().unwrap_or(0);
    // Column 0: not reaching admin; then deepest .. 0 moves from the left.
    let column = |arn: &str| moves.get(arn).map_or(0, |d| 1 + deepest - d);
    let mut columns: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for n in &drawn {
        columns.entry(column(&n.arn)).or_default().push(&n.arn);
    }
    let mut at: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut height = 0;
    for (c, arns) in &columns {
        for (r, arn) in arns.iter().enumerate() {
            let x = MARGIN + c * (NODE_W + COL_GAP);
            let y = MARGIN + 20 + r * (NODE_H + ROW_GAP);
            at.insert(arn, (x, y));
            height = height.max(y + NODE_H + MARGIN + 20);
        }
    }
    let width = MARGIN * 2 + (deepest + 2) * (NODE_W + COL_GAP);
    let mut out = format!(
        r##"{note}<div class="graph-frame"><svg id="escalation-graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="Escalation graph"><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker><marker id="arrow-red" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#cc0000"/></marker></defs>"##
    );
    for c in columns.keys() {
        let label =
            if *c == 0 { "no path to admin".to_string() } else { format!("{} moves to admin", 1 + deepest - c) };
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="col">{}</text>"#,
            MARGIN + c * (NODE_W + COL_GAP),
            MARGIN,
            esc(&label)
        );
    }
    for e in &graph.edges {
        let (Some(&(fx, fy)), Some(&(tx, ty))) = (at.get(e.from.as_str()), at.get(e.to.as_str())) else { continue };
        let red = on_admin_path(e, moves);
        let (stroke, marker, class) =
            if red { ("#cc0000", "arrow-red", "edge admin-path") } else { ("#888", "arrow", "edge") };
        let mut tip = e.kind.as_str().to_string();
        if !e.conditions.is_empty() {
            let _ = write!(tip, " (needs {})", e.conditions.join(", "));
        }
        let d = if e.from == e.to {
            let (x, y) = (fx + NODE_W - 40, fy);
            format!("M{x},{y} C{},{} {},{} {},{y}", x - 10, y - 24, x + 30, y - 24, x + 20)
        } else {
            let (x1, y1, x2, y2) = (fx + NODE_W, fy + NODE_H / 2, tx, ty + NODE_H / 2);
            if x2 > x1 {
                let mid = (x1 + x2) / 2;
                format!("M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}")
            } else {
                // Same column or backwards: around the right of the source.
                let bend = x1 + COL_GAP / 2;
                format!("M{x1},{y1} C{bend},{y1} {bend},{y2} {},{y2}", tx + NODE_W)
            }
        };
        let _ = write!(
            out,
            r#"<path class="{class}" d="{d}" fill="none" stroke="{stroke}" stroke-width="{}" marker-end="url(#{marker})" data-from="{}" data-to="{}" data-kind="{}"><title>{}</title></path>"#,
            if red { 2 } else { 1 },
            esc(&e.from),
            esc(&e.to),
            e.kind.as_str(),
            esc(&tip)
        );
    }
    for n in &drawn {
        let Some(&(x, y)) = at.get(n.arn.as_str()) else { continue };
        let (fill, class) = if n.admin {
            ("#e06666", "node admin")
        } else if n.reaches_admin {
            ("#f6b26b", "node reaches-admin")
        } else {
            ("#eeeeee", "node")
        };
        let (name, account) = short(&n.arn);
        let _ = write!(
            out,
            r##"<g class="{class}" data-arn="{}"><title>{}</title><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="4" fill="{fill}" stroke="#555"/><text x="{}" y="{}" font-size="12">{}</text><text x="{}" y="{}" font-size="9" fill="#333">{}</text></g>"##,
            esc(&n.arn),
            esc(&n.arn),
            x + 6,
            y + 13,
            esc(&truncate(&name, 40)),
            x + 6,
            y + 25,
            esc(account)
        );
    }
    out.push_str("</svg></div>");
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// Each principal in scope that reaches admin through moves, with its shortest path.
fn paths_table(admin_paths: &HashMap<String, Vec<Step>>, in_scope: &dyn Fn(&str) -> bool) -> String {
    let mut reaching: Vec<(&String, &Vec<Step>)> =
        admin_paths.iter().filter(|(arn, p)| !p.is_empty() && in_scope(arn.as_str())).collect();
    reaching.sort_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(b.0)));
    let mut rows = Vec::new();
    for (arn, path) in reaching.into_iter().take(MAX_ROWS) {
        let mut steps = String::new();
        for s in path {
            let (to, account) = short(&s.to);
            let _ = write!(
                steps,
                "<li><code>{}</code> → {} <small>{}</small>",
                esc(s.kind.as_str()),
                esc(&to),
                esc(account)
            );
            if !s.conditions.is_empty() {
                let _ = write!(steps, " <em>needs {}</em>", esc(&s.conditions.join(", ")));
            }
            if !s.because.is_empty() {
                let _ = write!(steps, r#"<br><small class="because">{}</small>"#, esc(&s.because.join("; ")));
            }
            steps.push_str("</li>");
        }
        let (name, account) = short(arn);
        rows.push(vec![
            format!("{} <small>{}</small>", esc(&name), esc(account)),
            path.len().to_string(),
            format!("<ol>{steps}</ol>"),
        ]);
    }
    table("graph-paths", &["Principal", "Moves", "Shortest path"], &rows, "No principal reaches admin through moves.")
}
