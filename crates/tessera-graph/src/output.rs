//! Graphviz DOT output.

use std::collections::HashSet;
use std::fmt::Write;

use crate::Graph;

/// DOT-quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A node's label: `user/name` (or `role/...`, `root`) over its account.
fn label(arn: &str) -> String {
    let mut parts = arn.splitn(6, ':');
    let account = parts.nth(4).unwrap_or_default();
    let resource = parts.next().unwrap_or(arn);
    format!("{resource}\\n{account}")
}

/// The graph in DOT: admin principals filled red, principals that can reach admin orange, and
/// the edges on a path to admin (into a principal that reaches admin, or a move that makes its
/// target admin) drawn red and bold. Edge labels are the kind, then the condition keys.
pub fn dot(g: &Graph) -> String {
    let reaching: HashSet<&str> = g.principals.iter().filter(|n| n.reaches_admin).map(|n| n.arn.as_str()).collect();
    let mut out = String::from("digraph tessera {\n  rankdir=LR;\n  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=Helvetica];\n  edge [fontname=Helvetica, fontsize=10];\n");
    for n in &g.principals {
        let fill = if n.admin {
            "#e06666"
        } else if n.reaches_admin {
            "#f6b26b"
        } else {
            "white"
        };
        let _ = writeln!(
            out,
            "  {} [label={}, fillcolor=\"{fill}\"];",
            quote(&n.arn),
            quote(&label(&n.arn)).replace("\\\\n", "\\n")
        );
    }
    for e in &g.edges {
        let mut text = e.kind.as_str().to_string();
        if !e.conditions.is_empty() {
            text.push_str("\\n");
            text.push_str(&e.conditions.join(", "));
        }
        let hot = if e.kind.rewrites() { e.makes_admin } else { reaching.contains(e.to.as_str()) };
        let style = if hot { ", color=\"#cc0000\", penwidth=2" } else { "" };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}{style}];",
            quote(&e.from),
            quote(&e.to),
            quote(&text).replace("\\\\n", "\\n")
        );
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use crate::{Edge, EdgeKind, Graph, Node};

    #[test]
    fn admin_paths_are_highlighted() {
        let g = Graph {
            principals: vec![
                Node { arn: "arn:aws:iam::111122223333:role/admin".into(), admin: true, reaches_admin: true },
                Node { arn: "arn:aws:iam::111122223333:user/a\"b".into(), admin: false, reaches_admin: true },
            ],
            edges: vec![Edge {
                from: "arn:aws:iam::111122223333:user/a\"b".into(),
                to: "arn:aws:iam::111122223333:role/admin".into(),
                kind: EdgeKind::AssumeRole,
                actions: vec!["sts:AssumeRole".into()],
                conditions: vec!["aws:MultiFactorAuthPresent".into()],
                makes_admin: false,
                because: Vec::new(),
            }],
        };
        let dot = g.to_dot();
        assert!(dot.starts_with("digraph tessera {"));
        assert!(dot.contains("[label=\"role/admin\\n111122223333\", fillcolor=\"#e06666\"]"), "{dot}");
        assert!(dot.contains("\"arn:aws:iam::111122223333:user/a\\\"b\" -> "), "{dot}");
        assert!(dot.contains("label=\"assume-role\\naws:MultiFactorAuthPresent\", color=\"#cc0000\""), "{dot}");
        let json: serde_json::Value = serde_json::from_str(&g.to_json()).unwrap();
        assert_eq!(json["edges"][0]["kind"], "assume-role");
        assert_eq!(json["principals"][1]["reaches_admin"], true);
        assert!(json["edges"][0].get("makes_admin").is_none());
    }
}
