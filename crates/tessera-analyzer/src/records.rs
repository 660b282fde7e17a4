//! What Access Analyzer keeps in the store: analyzers, archive rules and findings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Table names.
pub mod table {
    /// [`super::Analyzer`] by `<account>/<region>/<name>`.
    pub const ANALYZER: &str = "aa_analyzer";
    /// [`super::ArchiveRule`] by `<analyzer arn>/<rule name>`.
    pub const ARCHIVE_RULE: &str = "aa_archive_rule";
    /// [`super::Finding`] by `<analyzer arn>/<finding id>`.
    pub const FINDING: &str = "aa_finding";
}

/// An analyzer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Analyzer {
    /// `arn:aws:access-analyzer:<region>:<account>:analyzer/<name>`.
    pub arn: String,
    /// Name.
    pub name: String,
    /// The account that made it.
    pub account: String,
    /// Region.
    pub region: String,
    /// `ACCOUNT` or `ORGANIZATION`.
    #[serde(rename = "type")]
    pub analyzer_type: String,
    /// The organization of an `ORGANIZATION` analyzer.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Creation time (epoch milliseconds).
    pub created_millis: i64,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The last resource analyzed and when (epoch milliseconds).
    #[serde(default)]
    pub last_resource_analyzed: Option<(String, i64)>,
    /// The tracking period of an unused access analyzer, in days (`unusedAccessAge`).
    #[serde(default)]
    pub unused_access_age: Option<i64>,
    /// The `internalAccess` configuration of an internal access analyzer (as sent, validated).
    #[serde(default)]
    pub internal_access: Option<Value>,
}

impl Analyzer {
    /// Whether it is an unused access analyzer (`ACCOUNT_UNUSED_ACCESS`,
    /// `ORGANIZATION_UNUSED_ACCESS`).
    pub fn is_unused_access(&self) -> bool {
        self.analyzer_type.ends_with("_UNUSED_ACCESS")
    }

    /// Whether it is an internal access analyzer (`ACCOUNT_INTERNAL_ACCESS`,
    /// `ORGANIZATION_INTERNAL_ACCESS`).
    pub fn is_internal_access(&self) -> bool {
        self.analyzer_type.ends_with("_INTERNAL_ACCESS")
    }

    /// The store key.
    pub fn key(account: &str, region: &str, name: &str) -> String {
        format!("{account}/{region}/{name}")
    }
}

/// An archive rule of an analyzer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRule {
    /// Name.
    pub name: String,
    /// The filter (`FilterCriteriaMap` as sent).
    pub filter: Value,
    /// Creation time (epoch milliseconds).
    pub created_millis: i64,
    /// Last update (epoch milliseconds).
    pub updated_millis: i64,
}

/// What identifies a finding across analyses (see [`Finding::identity`]).
pub type Identity = (String, BTreeMap<String, String>, BTreeMap<String, String>, bool, Vec<String>, String, String);

/// A finding of an analyzer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// A UUID.
    pub id: String,
    /// The resource ARN.
    pub resource: String,
    /// `AWS::IAM::Role`, `AWS::S3::Bucket`.
    pub resource_type: String,
    /// The account owning the resource.
    pub resource_owner_account: String,
    /// The external principal (`{"AWS": "..."}`, `{"Federated": "..."}`, ...).
    pub principal: BTreeMap<String, String>,
    /// The actions it is allowed.
    pub action: Vec<String>,
    /// The conditions the access needs (key → value), empty when none.
    pub condition: BTreeMap<String, String>,
    /// The access is public.
    pub is_public: bool,
    /// Where the access comes from (`POLICY`, `BUCKET_ACL`).
    pub sources: Vec<String>,
    /// `ACTIVE`, `ARCHIVED` or `RESOLVED`.
    pub status: String,
    /// Epoch milliseconds.
    pub created_millis: i64,
    /// Epoch milliseconds.
    pub updated_millis: i64,
    /// Epoch milliseconds.
    pub analyzed_millis: i64,
    /// `ExternalAccess`, `UnusedIAMRole`, `UnusedIAMUserAccessKey`, `UnusedIAMUserPassword`.
    #[serde(default = "external_access")]
    pub finding_type: String,
    /// What an unused access finding is about beyond its resource (the access key id).
    #[serde(default)]
    pub subject: String,
    /// The `FindingDetails` member of an unused access finding (`unusedIamRoleDetails`, ...).
    #[serde(default)]
    pub details: Value,
}

fn external_access() -> String {
    "ExternalAccess".to_string()
}

impl Finding {
    /// What identifies a finding across analyses: the resource, the principal, the
    /// conditions, whether it is public, where the access comes from, the finding type and its
    /// subject.
    pub fn identity(&self) -> Identity {
        (
            self.resource.clone(),
            self.principal.clone(),
            self.condition.clone(),
            self.is_public,
            self.sources.clone(),
            self.finding_type.clone(),
            self.subject.clone(),
        )
    }
}
