//! The authenticated principal of a request, and the facts about the call that policies see.

use serde::{Deserialize, Serialize};

use crate::model::Tag;

/// What kind of principal signed the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum CallerKind {
    /// The account's root user.
    Root,
    /// An IAM user.
    User {
        /// Name.
        name: String,
        /// Path.
        path: String,
        /// `AIDA...`.
        user_id: String,
    },
    /// A role session (`sts:AssumeRole*`).
    AssumedRole {
        /// Role name.
        role_name: String,
        /// Role path.
        role_path: String,
        /// `AROA...`.
        role_id: String,
        /// Session name.
        session_name: String,
    },
    /// A federated user session (`sts:GetFederationToken`).
    FederatedUser {
        /// Federated user name.
        name: String,
        /// The IAM user that called GetFederationToken; empty when the account root user did.
        user_name: String,
    },
}

/// Facts carried by temporary credentials (from the session token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SessionInfo {
    /// When the session was issued (epoch seconds): `aws:TokenIssueTime`.
    pub issued_at: i64,
    /// When it expires (epoch seconds).
    pub expires_at: i64,
    /// Whether MFA was presented when it was issued: `aws:MultiFactorAuthPresent`.
    pub mfa_authenticated: bool,
    /// When MFA was presented (epoch seconds).
    #[serde(default)]
    pub mfa_authenticated_at: Option<i64>,
    /// `sts:SourceIdentity`.
    #[serde(default)]
    pub source_identity: Option<String>,
    /// Session tags (`aws:PrincipalTag/...` override the role's tags).
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Tag keys that pass on when this session assumes another role.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
    /// Inline session policy.
    #[serde(default)]
    pub session_policy: Option<String>,
    /// Managed session policy ARNs.
    #[serde(default)]
    pub session_policy_arns: Vec<String>,
    /// Whether the session came from role chaining (a role session assuming a role).
    #[serde(default)]
    pub chained: bool,
    /// Web identity / SAML provider ARN the session came from, with `aws:FederatedProvider`.
    #[serde(default)]
    pub federated_provider: Option<String>,
    /// Which STS call issued it (`AssumeRole`, `GetSessionToken`, ...).
    #[serde(default)]
    pub issued_by: String,
    /// The ARN of the principal that called STS (for audit `sessionIssuer`/`aws:SourceArn`-like uses).
    #[serde(default)]
    pub source_principal_arn: Option<String>,
    /// The workload identity the session carries (`AssumeRole` with a workload identity
    /// context from `IssueWorkloadIdentityContext`; kept through role chaining).
    #[serde(default)]
    pub workload_identity: Option<WorkloadIdentity>,
    /// Scope-down policies added by `GetScopedCredentials` (minified, oldest first): a request
    /// is allowed only if every one of them allows it too (docs/SESSION_TOKENS.md).
    #[serde(default)]
    pub scope_policies: Vec<String>,
}

/// The workload identity of a role session (IAM User Guide, "Condition keys for agent and
/// workload identity": the `aws:OriginIdentity/...` keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WorkloadIdentity {
    /// The workload identifier (a SPIFFE ID under a `SPIFFE` provider): `aws:OriginIdentity/Subject`.
    #[serde(rename = "s")]
    pub subject: String,
    /// The workload identity provider's ARN: `aws:OriginIdentity/Issuer`.
    #[serde(rename = "p")]
    pub provider_arn: String,
    /// The template that built the identity: `aws:OriginIdentity/WorkloadIdentityTemplateArn`.
    #[serde(rename = "t")]
    pub template_arn: String,
    /// The account that owns the template: `aws:OriginIdentity/IdentityProviderAccount`.
    #[serde(rename = "a")]
    pub provider_account: String,
    /// The provider's naming scheme when the identity was issued (`SPIFFE` or `NONE`).
    #[serde(rename = "n")]
    pub scheme: String,
}

impl WorkloadIdentity {
    /// The `aws:OriginIdentity/...` condition keys every request of the session carries.
    pub fn condition_keys(&self) -> [(&'static str, String); 5] {
        [
            ("aws:OriginIdentity/Subject", self.subject.clone()),
            ("aws:OriginIdentity/SubjectType", "workload".to_string()),
            ("aws:OriginIdentity/Issuer", self.provider_arn.clone()),
            ("aws:OriginIdentity/WorkloadIdentityTemplateArn", self.template_arn.clone()),
            ("aws:OriginIdentity/IdentityProviderAccount", self.provider_account.clone()),
        ]
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// Account the principal belongs to.
    pub account: String,
    /// Principal ARN (`arn:aws:iam::1:user/x`, `arn:aws:sts::1:assumed-role/r/s`, `arn:aws:iam::1:root`).
    pub arn: String,
    /// `aws:userid`: account id (root), `AIDA...` (user), `AROA...:session` (role session),
    /// `<account>:<name>` (federated user).
    pub user_id: String,
    /// Kind of principal.
    pub kind: CallerKind,
    /// Access key id used to sign.
    pub access_key_id: String,
    /// Present for temporary credentials.
    pub session: Option<SessionInfo>,
}

impl Caller {
    /// The root user of `account`, signing with `access_key_id`.
    pub fn root(account: &str, access_key_id: &str) -> Caller {
        Caller {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
            user_id: account.to_string(),
            kind: CallerKind::Root,
            access_key_id: access_key_id.to_string(),
            session: None,
        }
    }

    /// Whether this is the account root user.
    pub fn is_root(&self) -> bool {
        matches!(self.kind, CallerKind::Root)
    }

    /// The word AWS uses before the ARN in AccessDenied messages (`User`).
    pub fn denial_subject(&self) -> &'static str {
        "User"
    }

    /// `aws:PrincipalType`: `Account`, `User`, `AssumedRole`, `FederatedUser`.
    pub fn principal_type(&self) -> &'static str {
        match self.kind {
            CallerKind::Root => "Account",
            CallerKind::User { .. } => "User",
            CallerKind::AssumedRole { .. } => "AssumedRole",
            CallerKind::FederatedUser { .. } => "FederatedUser",
        }
    }

    /// ARN of the role behind a role session.
    pub fn role_arn(&self) -> Option<String> {
        match &self.kind {
            CallerKind::AssumedRole { role_name, role_path, .. } => {
                Some(format!("arn:aws:iam::{}:role{}{}", self.account, role_path, role_name))
            }
            _ => None,
        }
    }
}

/// Facts about one API call, beside the caller.
#[derive(Debug, Clone)]
pub struct CallMeta {
    /// `x-amzn-RequestId`.
    pub request_id: String,
    /// Region named in the credential scope (or `us-east-1`).
    pub region: String,
    /// Client address: `aws:SourceIp`.
    pub source_ip: String,
    /// `User-Agent`.
    pub user_agent: String,
    /// Whether the request came over TLS: `aws:SecureTransport`.
    pub secure_transport: bool,
    /// Request time, epoch milliseconds: `aws:CurrentTime`.
    pub now_millis: i64,
}

/// One authenticated call to a service operation.
#[derive(Debug, Clone)]
pub struct Call {
    /// Who.
    pub caller: Caller,
    /// Operation name as in the API model (`GetCallerIdentity`).
    pub operation: String,
    /// Request facts.
    pub meta: CallMeta,
}

impl Call {
    /// Current time in epoch seconds.
    pub fn now_secs(&self) -> i64 {
        self.meta.now_millis.div_euclid(1000)
    }
}
