//! Questions asked of the graph: "who can do ACTION on RESOURCE" (every principal that can, as
//! it is or through moves, each with its shortest way) and "how can PRINCIPAL reach TARGET"
//! (the shortest paths, each step explained by the statements that allow it). See
//! docs/GRAPH.md, "Queries".

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tessera_policy::{Policy, PolicyType};
use tessera_services::authz::compiled;
use tessera_services::Services;

use crate::decide::{Ask, Grant};
use crate::inventory::Inventory;
use crate::{Edge, EdgeKind, Graph, GraphError};

/// The store table of S3 buckets (`tessera_s3::records::table::BUCKET`), read here for a
/// bucket's owner and policy without depending on the S3 crate.
const BUCKET_TABLE: &str = "s3_bucket";

/// The facts of a bucket record the graph needs.
#[derive(Deserialize)]
struct BucketFacts {
    owner: String,
    #[serde(default)]
    policy: Option<String>,
}

/// The resource of a who-can question: its account and its resource-based policy.
pub(crate) struct Resource {
    arn: String,
    /// `None`: the account of the principal asking (a resource ARN without an account).
    account: Option<String>,
    /// A role's trust policy, for `sts:AssumeRole` on a role.
    trust: Option<Arc<Policy>>,
    /// A bucket's policy, for a bucket or an object in it.
    policy: Option<Arc<Policy>>,
}

impl Resource {
    /// The resource's account (the ARN's, a bucket's owner) and resource-based policy (a
    /// role's trust policy for `sts:AssumeRole`, a bucket policy).
    pub fn resolve(services: &Services, inv: &Inventory, action: &str, arn: &str) -> Result<Resource, GraphError> {
        let mut r = Resource { arn: arn.to_string(), account: None, trust: None, policy: None };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if arn != "*" && (parts.len() != 6 || parts[0] != "arn") {
            return Err(GraphError(format!(
                "'{arn}' is not an ARN (arn:partition:service:region:account:resource) or *"
            )));
        }
        if let Some(account) = parts.get(4).filter(|a| !a.is_empty()) {
            r.account = Some(account.to_string());
        }
        if action.eq_ignore_ascii_case("sts:AssumeRole") {
            if let Some(role) = inv.roles.iter().find(|role| role.arn() == arn) {
                let trust = compiled(PolicyType::Trust, "trust policy", &role.assume_role_policy_document)?;
                r.trust = Some(trust);
            }
        }
        if parts.get(2) == Some(&"s3") {
            let bucket = parts[5].split('/').next().unwrap_or_default();
            let read = services.store.read()?;
            if let Some(b) = tessera_services::model::load::<BucketFacts>(read.as_ref(), BUCKET_TABLE, bucket)? {
                if let Some(doc) = &b.policy {
                    r.policy = Some(compiled(PolicyType::Resource, &format!("bucket policy of {bucket}"), doc)?);
                }
                r.account = Some(b.owner);
            }
        }
        Ok(r)
    }

    /// The question for a principal of `actor_account`.
    pub fn ask<'a>(&'a self, action: &'a str, actor_account: &'a str) -> Ask<'a> {
        let account = self.account.as_deref().unwrap_or(actor_account);
        Ask {
            trust: self.trust.as_deref(),
            resource_policy: self.policy.as_deref(),
            ..Ask::new(action, &self.arn, account)
        }
    }
}

/// One step of a path: an edge of the graph, with the statements that allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub actions: Vec<String>,
    pub conditions: Vec<String>,
    /// `<policy> (<policy type>) statement <Sid or #n>`, for each Allow statement that matched.
    pub because: Vec<String>,
}

impl From<&Edge> for Step {
    fn from(e: &Edge) -> Step {
        Step {
            from: e.from.clone(),
            to: e.to.clone(),
            kind: e.kind,
            actions: e.actions.clone(),
            conditions: e.conditions.clone(),
            because: e.because.clone(),
        }
    }
}

/// A principal that can do the action, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Able {
    pub arn: String,
    /// `true`: its own permissions allow it, with no move.
    pub direct: bool,
    /// Every condition key the way needs (the final question's and each step's), sorted.
    pub conditions: Vec<String>,
    /// The moves that get it there (empty when direct), fewest first.
    pub path: Vec<Step>,
    /// The statements that allow the action at the end of the path (empty when the end is a
    /// move that grants `*`: then the last step's statements are the reason).
    pub because: Vec<String>,
}

/// The answer to "who can do ACTION on RESOURCE".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhoCan {
    pub action: String,
    pub resource: String,
    /// Sorted by ARN.
    pub principals: Vec<Able>,
}

/// The answer to "how can FROM reach TO".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paths {
    pub from: String,
    pub to: String,
    /// The fewest moves any path takes (absent: unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moves: Option<usize>,
    /// Every path of that length, up to the limit asked.
    pub paths: Vec<Vec<Step>>,
}

/// How a node leaves for the goal: the steps out of it, the node they lead to (`None`: the
/// goal itself).
#[derive(Clone)]
struct Way<'g> {
    steps: Vec<&'g Edge>,
    next: Option<usize>,
}

/// The graph's principals as indices, and the moves that give a principal another identity.
struct Search<'g> {
    at: HashMap<&'g str, usize>,
    names: Vec<&'g str>,
    /// Identity-giving edges into each node, by source.
    into: Vec<Vec<(usize, &'g Edge)>>,
}

impl<'g> Search<'g> {
    fn new(graph: &'g Graph) -> Search<'g> {
        let names: Vec<&str> = graph.principals.iter().map(|n| n.arn.as_str()).collect();
        let at: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut into = vec![Vec::new(); names.len()];
        for e in graph.edges.iter().filter(|e| !e.kind.rewrites()) {
            if let (Some(&f), Some(&t)) = (at.get(e.from.as_str()), at.get(e.to.as_str())) {
                if f != t {
                    into[t].push((f, e));
                }
            }
        }
        Search { at, names, into }
    }

    /// Shortest ways to the goal for every node (Dijkstra backwards from the exits; a move is
    /// one step). `exits` are the ways a node reaches the goal by itself. Each node keeps every
    /// way of the least length.
    fn ways(&self, exits: Vec<(usize, Vec<&'g Edge>)>) -> Vec<(usize, Vec<Way<'g>>)> {
        let mut best: Vec<(usize, Vec<Way<'g>>)> = vec![(usize::MAX, Vec::new()); self.names.len()];
        let mut heap = BinaryHeap::new();
        for (node, steps) in exits {
            let cost = steps.len();
            let slot = &mut best[node];
            if cost < slot.0 {
                *slot = (cost, Vec::new());
            }
            if cost == slot.0 {
                slot.1.push(Way { steps, next: None });
                heap.push(Reverse((cost, node)));
            }
        }
        let mut done = vec![false; self.names.len()];
        while let Some(Reverse((cost, node))) = heap.pop() {
            if done[node] || cost != best[node].0 {
                continue;
            }
            done[node] = true;
            for &(from, edge) in &self.into[node] {
                let c = cost + 1;
                let slot = &mut best[from];
                if c < slot.0 {
                    *slot = (c, Vec::new());
                    heap.push(Reverse((c, from)));
                }
                if c == slot.0 && !done[from] {
                    slot.1.push(Way { steps: vec![edge], next: Some(node) });
                }
            }
        }
        best
    }

    /// Up to `limit` paths of least length from `start`, as steps.
    fn paths(&self, best: &[(usize, Vec<Way<'g>>)], start: usize, limit: usize) -> Vec<Vec<&'g Edge>> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, Vec<&'g Edge>)> = vec![(start, Vec::new())];
        while let Some((node, so_far)) = stack.pop() {
            if out.len() >= limit {
                break;
            }
            for way in best[node].1.iter().rev() {
                let mut p = so_far.clone();
                p.extend(way.steps.iter().copied());
                match way.next {
                    None => out.push(p),
                    Some(n) => stack.push((n, p)),
                }
            }
        }
        out.truncate(limit);
        out
    }
}

/// The way a node reaches admin by rewriting permissions: a rewrite edge that makes its
/// target admin, then (for a role it can assume) the assumption.
fn rewrite_exits<'g>(
    graph: &'g Graph,
    search: &Search<'g>,
    makes: impl Fn(&Edge) -> bool,
) -> Vec<(usize, Vec<&'g Edge>)> {
    let mut out = Vec::new();
    for e in graph.edges.iter().filter(|e| e.kind.rewrites() && makes(e)) {
        let Some(&f) = search.at.get(e.from.as_str()) else { continue };
        if e.from == e.to {
            out.push((f, vec![e]));
        } else if let Some(assume) = graph.edges.iter().find(|a| {
            a.kind == EdgeKind::AssumeRole
                && a.from == e.from
                && a.to == e.to
                && a.conditions.len() <= e.conditions.len()
        }) {
            out.push((f, vec![e, assume]));
        }
    }
    out
}

/// All condition keys of a way: its steps' and the final question's.
fn conditions_of<'a>(steps: impl IntoIterator<Item = &'a Step>, last: &[String]) -> Vec<String> {
    let mut out: Vec<String> = steps.into_iter().flat_map(|s| s.conditions.iter().cloned()).collect();
    out.extend(last.iter().cloned());
    out.sort();
    out.dedup();
    out
}

/// The ways to admin: admin principals, and rewrite moves that make their target admin.
fn admin_exits<'g>(graph: &'g Graph, search: &Search<'g>) -> Vec<(usize, Vec<&'g Edge>)> {
    let mut exits: Vec<(usize, Vec<&Edge>)> =
        graph.principals.iter().enumerate().filter(|(_, n)| n.admin).map(|(i, _)| (i, Vec::new())).collect();
    exits.extend(rewrite_exits(graph, search, |e| e.makes_admin));
    exits
}

/// For each principal that reaches admin, one of its shortest paths there (empty for an admin
/// itself), from one search over the whole graph; the principals that do not reach it are absent.
pub fn admin_paths(graph: &Graph) -> HashMap<String, Vec<Step>> {
    let search = Search::new(graph);
    let best = search.ways(admin_exits(graph, &search));
    let mut out = HashMap::new();
    for (i, name) in search.names.iter().enumerate() {
        if let Some(path) = search.paths(&best, i, 1).into_iter().next() {
            out.insert(name.to_string(), path.into_iter().map(Step::from).collect());
        }
    }
    out
}

/// "How can `from` reach `to`": `to` is a principal's ARN (a role's, a user's, an account
/// root's) or `admin` (any principal the engine lets do `*` on `*`, or a move that makes one).
pub fn paths(graph: &Graph, from: &str, to: &str, limit: usize) -> Result<Paths, GraphError> {
    let search = Search::new(graph);
    let start = *search.at.get(from).ok_or_else(|| GraphError(format!("no principal {from} in the graph")))?;
    let exits: Vec<(usize, Vec<&Edge>)> = if to == "admin" {
        admin_exits(graph, &search)
    } else {
        let goal = *search.at.get(to).ok_or_else(|| GraphError(format!("no principal {to} in the graph")))?;
        vec![(goal, Vec::new())]
    };
    let best = search.ways(exits);
    let found = search.paths(&best, start, limit);
    let moves = (best[start].0 != usize::MAX).then_some(best[start].0);
    let paths = found.into_iter().map(|p| p.into_iter().map(Step::from).collect()).collect();
    Ok(Paths { from: from.to_string(), to: to.to_string(), moves, paths })
}

/// "Who can do `action` on `resource`": `direct` are the principals the engine allows as they
/// are (with their grants), `after_rewrite` those allowed once a rewrite move gives them `*`.
pub(crate) fn who_can(
    graph: &Graph,
    action: &str,
    resource: &str,
    direct: &HashMap<String, Grant>,
    after_rewrite: &HashSet<String>,
) -> WhoCan {
    let search = Search::new(graph);
    let mut exits: Vec<(usize, Vec<&Edge>)> =
        direct.keys().filter_map(|arn| search.at.get(arn.as_str()).map(|&i| (i, Vec::new()))).collect();
    // A move that grants anything gives the action when `*` would; one that adds a fixed set
    // of permissions (a group, an older policy version) only when it makes the target admin.
    exits.extend(rewrite_exits(graph, &search, |e| {
        after_rewrite.contains(&e.to) && (e.makes_admin || e.kind.grants_anything(&e.actions))
    }));
    let best = search.ways(exits);
    let mut principals = Vec::new();
    for (i, name) in search.names.iter().enumerate() {
        let Some(path) = search.paths(&best, i, 1).into_iter().next() else { continue };
        let steps: Vec<Step> = path.iter().map(|e| Step::from(*e)).collect();
        // The principal at the end of the path: the last step's target, or itself.
        let end = steps.iter().rev().find(|s| !s.kind.rewrites()).map_or(*name, |s| s.to.as_str());
        let rewritten = steps.iter().any(|s| s.kind.rewrites());
        let (last_conditions, because) = match direct.get(end) {
            Some(g) if !rewritten => (g.conditions.clone(), g.because.clone()),
            _ => (Vec::new(), Vec::new()),
        };
        principals.push(Able {
            arn: name.to_string(),
            direct: steps.is_empty(),
            conditions: conditions_of(&steps, &last_conditions),
            path: steps,
            because,
        });
    }
    principals.sort_by(|a, b| a.arn.cmp(&b.arn));
    WhoCan { action: action.to_string(), resource: resource.to_string(), principals }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;

    fn node(arn: &str, admin: bool) -> Node {
        Node { arn: arn.into(), admin, reaches_admin: admin }
    }

    fn edge(from: &str, to: &str, kind: EdgeKind, makes_admin: bool) -> Edge {
        Edge {
            from: from.into(),
            to: to.into(),
            kind,
            actions: vec!["sts:AssumeRole".into()],
            conditions: Vec::new(),
            makes_admin,
            because: vec![format!("{from}->{to}")],
        }
    }

    fn sample() -> Graph {
        // a -> r1 -> r2 (admin); a -> r3 -> r2; b rewrites itself to admin; c reaches nothing.
        Graph {
            principals: vec![
                node("a", false),
                node("b", false),
                node("c", false),
                node("r1", false),
                node("r2", true),
                node("r3", false),
            ],
            edges: vec![
                edge("a", "r1", EdgeKind::AssumeRole, false),
                edge("r1", "r2", EdgeKind::AssumeRole, false),
                edge("a", "r3", EdgeKind::AssumeRole, false),
                edge("r3", "r2", EdgeKind::AssumeRole, false),
                edge("b", "b", EdgeKind::PutPolicy, true),
                edge("c", "c", EdgeKind::PutPolicy, false),
            ],
        }
    }

    #[test]
    fn shortest_paths_to_a_principal_are_all_listed() {
        let p = paths(&sample(), "a", "r2", 10).unwrap();
        assert_eq!(p.moves, Some(2));
        assert_eq!(p.paths.len(), 2, "both two-step paths");
        for path in &p.paths {
            assert_eq!(path.first().map(|s| s.from.as_str()), Some("a"));
            assert_eq!(path.last().map(|s| s.to.as_str()), Some("r2"));
            assert!(path.iter().all(|s| !s.because.is_empty()));
        }
        assert_eq!(paths(&sample(), "a", "r2", 1).unwrap().paths.len(), 1, "the limit holds");
    }

    #[test]
    fn admin_is_reached_by_assuming_or_by_rewriting() {
        let p = paths(&sample(), "b", "admin", 10).unwrap();
        assert_eq!(p.moves, Some(1));
        assert_eq!(p.paths[0][0].kind, EdgeKind::PutPolicy);
        let c = paths(&sample(), "c", "admin", 10).unwrap();
        assert_eq!(c.moves, None, "a rewrite that does not make admin is no way");
        assert!(c.paths.is_empty());
        assert!(paths(&sample(), "nobody", "admin", 10).is_err());
    }

    #[test]
    fn admin_paths_take_the_fewest_moves() {
        let m = admin_paths(&sample());
        let moves = |n: &str| m.get(n).map(Vec::len);
        assert_eq!(moves("r2"), Some(0));
        assert_eq!(moves("a"), Some(2));
        assert_eq!(moves("b"), Some(1));
        assert_eq!(moves("c"), None);
        assert_eq!(m["b"][0].kind, EdgeKind::PutPolicy);
    }

    #[test]
    fn who_can_lists_direct_and_indirect_principals() {
        let mut direct = HashMap::new();
        direct.insert(
            "r2".to_string(),
            Grant {
                conditions: vec!["aws:MultiFactorAuthPresent".into()],
                because: vec!["p".into()],
                ..Grant::default()
            },
        );
        let w = who_can(&sample(), "s3:GetObject", "*", &direct, &HashSet::new());
        let arns: Vec<&str> = w.principals.iter().map(|a| a.arn.as_str()).collect();
        assert_eq!(arns, ["a", "r1", "r2", "r3"]);
        let a = &w.principals[0];
        assert!(!a.direct);
        assert_eq!(a.path.len(), 2);
        assert_eq!(a.conditions, ["aws:MultiFactorAuthPresent"]);
        assert!(w.principals[2].direct);
        let w = who_can(&sample(), "s3:GetObject", "*", &HashMap::new(), &HashSet::from(["b".to_string()]));
        assert_eq!(w.principals.len(), 1);
        assert_eq!(w.principals[0].path[0].kind, EdgeKind::PutPolicy);
    }
}
