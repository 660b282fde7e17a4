//! Tessera's IAM policy engine: the policy language (parse, validate, compile) and AWS's
//! evaluation logic, with explanations. Pure: no I/O (except [`simulate::run_cli`], which takes
//! a reader and a writer), no async, no clock (time arrives in the request context as
//! `aws:CurrentTime` / `aws:EpochTime`).
//!
//! ```
//! use tessera_policy::*;
//! let policy = parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#,
//!     PolicyType::Identity).unwrap().with_label("read");
//! let alice = Principal::from_arn("arn:aws:iam::111122223333:user/alice").unwrap();
//! let ctx = Context::new();
//! let set = PolicySet { identity: vec![&policy], ..Default::default() };
//! let req = Request { principal: &alice, action: "s3:GetObject", resource: "arn:aws:s3:::b/k",
//!     resource_account: None, context: &ctx };
//! assert!(evaluate(&set, &req).is_allowed());
//! ```

pub mod aws_rules;
pub mod condition;
mod context;
mod eval;
pub mod json;
mod pattern;
mod policy;
pub mod reference;
pub mod simulate;
#[doc(hidden)]
pub mod testgen;
pub mod validate;

pub use condition::{ConditionOperator, Operator, SetQualifier};
pub use context::Context;
pub use eval::{evaluate, Decision, EvalDecision, MatchedStatement, PolicySet, Principal, PrincipalKind, Request};
pub use pattern::{action_matches, wildcard_match};
pub use policy::{
    parse, ActionBlock, Effect, Policy, PrincipalBlock, PrincipalEntry, PrincipalType, ResourceBlock, Statement,
    Version,
};

/// The policy types of the IAM User Guide, "Policies and permissions in IAM".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyType {
    /// Identity-based policy (user, group or role; inline or managed).
    Identity,
    /// Resource-based policy (bucket policy, ...).
    Resource,
    /// Role trust policy (a resource-based policy on the role).
    Trust,
    /// Permissions boundary.
    PermissionsBoundary,
    /// Session policy (`AssumeRole*`, `GetFederationToken`).
    Session,
    /// Service control policy.
    Scp,
    /// Resource control policy.
    Rcp,
}

impl PolicyType {
    /// The noun AWS uses in AccessDenied messages (`identity-based policy`, ...).
    pub fn phrase(self) -> &'static str {
        match self {
            PolicyType::Identity => "identity-based policy",
            PolicyType::Resource | PolicyType::Trust => "resource-based policy",
            PolicyType::PermissionsBoundary => "permissions boundary",
            PolicyType::Session => "session policy",
            PolicyType::Scp => "service control policy",
            PolicyType::Rcp => "resource control policy",
        }
    }

    /// The phrase with its article (`an identity-based policy`, `a session policy`).
    pub fn article_phrase(self) -> String {
        let p = self.phrase();
        let article = if p.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        format!("{article} {p}")
    }

    /// `SimulateCustomPolicy`'s `SourcePolicyType` word for matched statements.
    pub fn source_policy_type(self) -> &'static str {
        match self {
            PolicyType::Identity => "IAM Policy",
            PolicyType::Resource | PolicyType::Trust => "Resource Policy",
            PolicyType::PermissionsBoundary => "PermissionsBoundaryPolicy",
            PolicyType::Session => "SessionPolicy",
            PolicyType::Scp => "Organizations Service Control Policy",
            PolicyType::Rcp => "Organizations Resource Control Policy",
        }
    }
}

/// A `MalformedPolicyDocument` error with IAM's message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

/// The policy-size quotas of "IAM and AWS STS quotas" and the Organizations quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SizeQuota {
    /// Customer managed policy: 6,144.
    Managed,
    /// Inline policies of one user, summed: 2,048.
    InlineUser,
    /// Inline policies of one group, summed: 5,120.
    InlineGroup,
    /// Inline policies of one role, summed: 10,240.
    InlineRole,
    /// Role trust policy: 2,048.
    Trust,
    /// Session policy passed to `AssumeRole*` / `GetFederationToken`: 2,048.
    Session,
    /// Service control policy: 5,120.
    Scp,
    /// Resource control policy: 5,120.
    Rcp,
}

/// The maximum number of non-whitespace characters for `quota`.
pub fn size_limit(quota: SizeQuota) -> usize {
    match quota {
        SizeQuota::Managed => 6144,
        SizeQuota::InlineUser | SizeQuota::Trust | SizeQuota::Session => 2048,
        SizeQuota::InlineGroup | SizeQuota::Scp | SizeQuota::Rcp => 5120,
        SizeQuota::InlineRole => 10240,
    }
}

/// The length of `document` as IAM counts it for quotas: characters that are not whitespace.
pub fn non_whitespace_len(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// Whether `document` fits `quota`.
pub fn within_size_limit(document: &str, quota: SizeQuota) -> bool {
    non_whitespace_len(document) <= size_limit(quota)
}
