//! The privilege-escalation graph of the organization (`tessera graph`): for every principal,
//! the roles it can assume and the escalation moves it can make, each decided by the policy
//! engine through the authorizer's own gathering (`Services::principal_side`), with SCPs,
//! RCPs, boundaries and trust policies, and labelled with the condition keys an Allow needs.
//! See docs/GRAPH.md.

mod build;
mod decide;
mod inventory;
mod output;
mod query;
mod reach;

use serde::Serialize;

pub use build::{build, who_can};
pub use query::{admin_paths, paths, Able, Paths, Step, WhoCan};
pub use reach::{Access, Reach, Target};

/// A principal of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The user's, role's or account root's ARN.
    pub arn: String,
    /// The engine allows it `*` on `*` after every limit that applies.
    pub admin: bool,
    /// It is admin, or can become one through edges.
    pub reaches_admin: bool,
}

/// What an edge does for its source principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// `sts:AssumeRole` on the target role (identity side and trust policy).
    AssumeRole,
    /// `iam:PassRole` of the target role to a service, plus the action that launches it.
    Passrole,
    /// `iam:CreatePolicyVersion` / `iam:SetDefaultPolicyVersion` on a customer managed policy
    /// attached to the target (or its groups).
    PolicyVersion,
    /// `iam:Attach{User,Group,Role}Policy` on the target (or its groups).
    AttachPolicy,
    /// `iam:Put{User,Group,Role}Policy` on the target (or its groups).
    PutPolicy,
    /// `iam:CreateAccessKey` on another user.
    AccessKey,
    /// `iam:CreateLoginProfile` / `iam:UpdateLoginProfile` on another user.
    LoginProfile,
    /// `iam:AddUserToGroup`: the source adds itself to a group.
    Group,
    /// `iam:UpdateAssumeRolePolicy` on the target role, then `sts:AssumeRole`.
    TrustPolicy,
}

impl EdgeKind {
    /// Whether the move rewrites the target's permissions (rather than giving the source the
    /// target's identity).
    pub fn rewrites(self) -> bool {
        matches!(self, EdgeKind::PolicyVersion | EdgeKind::AttachPolicy | EdgeKind::PutPolicy | EdgeKind::Group)
    }

    /// Whether the move can give its target any permission at all (a policy put or attached,
    /// `AdministratorAccess`, or a new default policy version), not only a fixed set.
    pub fn grants_anything(self, actions: &[String]) -> bool {
        match self {
            EdgeKind::PutPolicy | EdgeKind::AttachPolicy => true,
            EdgeKind::PolicyVersion => actions.iter().any(|a| a == "iam:CreatePolicyVersion"),
            _ => false,
        }
    }

    /// The contract's name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::AssumeRole => "assume-role",
            EdgeKind::Passrole => "passrole",
            EdgeKind::PolicyVersion => "policy-version",
            EdgeKind::AttachPolicy => "attach-policy",
            EdgeKind::PutPolicy => "put-policy",
            EdgeKind::AccessKey => "access-key",
            EdgeKind::LoginProfile => "login-profile",
            EdgeKind::Group => "group",
            EdgeKind::TrustPolicy => "trust-policy",
        }
    }
}

/// One move from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// The actions the engine allowed for the move, sorted.
    pub actions: Vec<String>,
    /// The condition keys the Allow needs (empty: none), sorted.
    pub conditions: Vec<String>,
    /// For a move that rewrites permissions: whether the target is admin after it (the engine
    /// decides with the added permissions, under the target's boundary and SCPs).
    #[serde(skip)]
    pub makes_admin: bool,
    /// The Allow statements that granted the move (`<policy> (<type>) statement <Sid>`), for
    /// a path's explanation; not in the graph's JSON (the contract's shape).
    #[serde(skip)]
    pub because: Vec<String>,
}

/// The graph: principals sorted by ARN, edges by (from, to, kind, conditions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Graph {
    pub principals: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// A failure reading the store or deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError(pub String);

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GraphError {}

impl From<tessera_wire::AwsError> for GraphError {
    fn from(e: tessera_wire::AwsError) -> Self {
        GraphError(format!("{}: {}", e.code, e.message))
    }
}

impl From<tessera_store::StoreError> for GraphError {
    fn from(e: tessera_store::StoreError) -> Self {
        GraphError(e.to_string())
    }
}

impl Graph {
    /// Keep the principals of `account` and the edges leaving them (edges may lead out of it).
    pub fn only_account(&mut self, account: &str) {
        let of = |arn: &str| arn.split(':').nth(4) == Some(account);
        self.principals.retain(|n| of(&n.arn));
        self.edges.retain(|e| of(&e.from));
    }

    /// The contract's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// Graphviz DOT; see [`output::dot`].
    pub fn to_dot(&self) -> String {
        output::dot(self)
    }
}
