//! AWS managed policies (`arn:aws:iam::aws:policy/...`).
//!
//! A minimal built-in catalog; the full set is generated into the repository by a script.

/// An AWS managed policy.
#[derive(Debug, Clone, Copy)]
pub struct AwsManagedPolicy {
    /// Name.
    pub name: &'static str,
    /// Path.
    pub path: &'static str,
    /// Policy id (`ANPA...`).
    pub policy_id: &'static str,
    /// Default version id.
    pub version_id: &'static str,
    /// The document.
    pub document: &'static str,
}

impl AwsManagedPolicy {
    /// `arn:aws:iam::aws:policy<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }
}

/// `AdministratorAccess`, the policy Organizations attaches to `OrganizationAccountAccessRole`.
pub const ADMINISTRATOR_ACCESS_ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

const BUILTIN: &[AwsManagedPolicy] = &[AwsManagedPolicy {
    name: "AdministratorAccess",
    path: "/",
    policy_id: "ANPAIWMBCKSKIEE64ZLYK",
    version_id: "v1",
    document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
}];

/// Look an AWS managed policy up by ARN.
pub fn by_arn(arn: &str) -> Option<&'static AwsManagedPolicy> {
    let rest = arn.strip_prefix("arn:aws:iam::aws:policy")?;
    BUILTIN.iter().find(|p| rest.len() == p.path.len() + p.name.len() && rest.starts_with(p.path) && rest.ends_with(p.name))
}

/// Every AWS managed policy.
pub fn all() -> &'static [AwsManagedPolicy] {
    BUILTIN
}
