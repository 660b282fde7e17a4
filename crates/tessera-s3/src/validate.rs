//! S3's checks of the bucket configurations it is given (limits from the Amazon S3 API
//! Reference and User Guide, cited at each), pure: no state is read or changed here.

use std::collections::HashSet;

use s3s::dto::*;
use s3s::{S3Error, S3Result};

use crate::config::s3_err;

/// Tags per bucket (S3 User Guide, CostAllocTagging.html: "up to 50 tags").
pub const MAX_BUCKET_TAGS: usize = 50;
/// Tag key length (Unicode characters).
pub const MAX_TAG_KEY: usize = 128;
/// Tag value length (Unicode characters).
pub const MAX_TAG_VALUE: usize = 256;
/// Lifecycle rules per bucket ("A lifecycle configuration can have up to 1,000 rules",
/// intro-lifecycle-rules.html).
pub const MAX_LIFECYCLE_RULES: usize = 1000;
/// Longest lifecycle rule ID ("The ID can be up to 255 characters", LifecycleRule).
pub const MAX_RULE_ID: usize = 255;
/// CORS rules per bucket ("can have up to 100 rules", ManageCorsUsing.html).
pub const MAX_CORS_RULES: usize = 100;
/// Replication rules per bucket ("up to 1,000 rules", replication-add-config.html).
pub const MAX_REPLICATION_RULES: usize = 1000;
/// Website routing rules ("limited to 50 routing rules", how-to-page-redirect.html).
pub const MAX_ROUTING_RULES: usize = 50;

/// 400 `MalformedXML`.
pub fn malformed_xml() -> S3Error {
    s3_err(
        "MalformedXML",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn invalid_tag(message: &str) -> S3Error {
    s3_err("InvalidTag", 400, message)
}

fn invalid_argument(message: &str) -> S3Error {
    s3_err("InvalidArgument", 400, message)
}

fn invalid_request(message: &str) -> S3Error {
    s3_err("InvalidRequest", 400, message)
}

/// The configuration every bucket has without one of its own: SSE-S3 (`AES256`).
pub fn default_encryption() -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration {
        rules: vec![ServerSideEncryptionRule {
            apply_server_side_encryption_by_default: Some(ServerSideEncryptionByDefault {
                kms_master_key_id: None,
                sse_algorithm: ServerSideEncryption::from_static(ServerSideEncryption::AES256),
            }),
            bucket_key_enabled: Some(false),
        }],
    }
}

/// PutBucketEncryption: one rule with a known algorithm; a KMS key only with a KMS algorithm.
pub fn encryption(c: &ServerSideEncryptionConfiguration) -> S3Result<()> {
    if c.rules.len() != 1 {
        return Err(malformed_xml());
    }
    for rule in &c.rules {
        let Some(by_default) = &rule.apply_server_side_encryption_by_default else {
            return Err(malformed_xml());
        };
        let algorithm = by_default.sse_algorithm.as_str();
        let kms = matches!(algorithm, ServerSideEncryption::AWS_KMS | ServerSideEncryption::AWS_KMS_DSSE);
        if !kms && algorithm != ServerSideEncryption::AES256 {
            return Err(malformed_xml());
        }
        if by_default.kms_master_key_id.is_some() && !kms {
            return Err(invalid_argument(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            ));
        }
    }
    Ok(())
}

/// PutBucketTagging: at most 50 tags, keys 1-128 and values up to 256 characters, unique keys,
/// none with the reserved `aws:` prefix.
pub fn bucket_tags(tags: &[Tag]) -> S3Result<()> {
    if tags.len() > MAX_BUCKET_TAGS {
        return Err(invalid_tag("Bucket tag count cannot be greater than 50"));
    }
    let mut seen = HashSet::new();
    for t in tags {
        let key = t.key.as_deref().unwrap_or("");
        let value = t.value.as_deref().unwrap_or("");
        if key.is_empty() {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if key.chars().count() > MAX_TAG_KEY {
            return Err(invalid_tag("The TagKey you have provided is too long, max 128"));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            return Err(invalid_tag("The TagValue you have provided is too long, max 256"));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_tag("System tags cannot be added/updated by requester"));
        }
        if !seen.insert(key) {
            return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
}

/// PutBucketLifecycleConfiguration: 1 to 1,000 rules, unique IDs up to 255 characters, status
/// `Enabled` or `Disabled`, at least one action per rule.
pub fn lifecycle(c: &BucketLifecycleConfiguration) -> S3Result<()> {
    if c.rules.is_empty() {
        return Err(malformed_xml());
    }
    if c.rules.len() > MAX_LIFECYCLE_RULES {
        return Err(invalid_request("The number of lifecycle rules should not exceed allowed limit of 1000 rules"));
    }
    let mut ids = HashSet::new();
    for r in &c.rules {
        if !matches!(r.status.as_str(), ExpirationStatus::ENABLED | ExpirationStatus::DISABLED) {
            return Err(malformed_xml());
        }
        if let Some(id) = r.id.as_deref() {
            if id.chars().count() > MAX_RULE_ID {
                return Err(invalid_argument("ID length should not exceed allowed limit of 255"));
            }
            if !ids.insert(id) {
                return Err(invalid_argument("Rule ID must be unique. Found same ID for more than one rule"));
            }
        }
        let has_action = r.expiration.is_some()
            || r.transitions.as_ref().is_some_and(|t| !t.is_empty())
            || r.noncurrent_version_expiration.is_some()
            || r.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
            || r.abort_incomplete_multipart_upload.is_some();
        if !has_action {
            return Err(invalid_request("At least one action needs to be specified in a rule"));
        }
        if let Some(days) = r.expiration.as_ref().and_then(|e| e.days) {
            if days <= 0 {
                return Err(invalid_argument("'Days' for Expiration action must be a positive integer"));
            }
        }
    }
    Ok(())
}

/// PutBucketReplication: a role, 1 to 1,000 rules, destinations named by bucket ARN.
pub fn replication(c: &ReplicationConfiguration) -> S3Result<()> {
    if c.role.is_empty() || c.rules.is_empty() {
        return Err(malformed_xml());
    }
    if c.rules.len() > MAX_REPLICATION_RULES {
        return Err(invalid_request("Number of rules in the replication configuration exceeds the maximum of 1000"));
    }
    for r in &c.rules {
        if !c.role.starts_with("arn:") || !r.destination.bucket.starts_with("arn:aws:s3:::") {
            return Err(invalid_argument("Invalid ARN"));
        }
        if !matches!(r.status.as_str(), ReplicationRuleStatus::ENABLED | ReplicationRuleStatus::DISABLED) {
            return Err(malformed_xml());
        }
    }
    Ok(())
}

/// PutBucketWebsite: an index document suffix (not empty, no `/`) unless every request
/// redirects, and then nothing else; at most 50 routing rules.
pub fn website(c: &WebsiteConfiguration) -> S3Result<()> {
    if c.redirect_all_requests_to.is_some() {
        if c.index_document.is_some() || c.error_document.is_some() || c.routing_rules.is_some() {
            return Err(invalid_argument(
                "RedirectAllRequestsTo cannot be provided in conjunction with other Routing/Redirect configurations.",
            ));
        }
        return Ok(());
    }
    let Some(index) = &c.index_document else {
        return Err(invalid_argument(
            "A value for IndexDocument Suffix must be provided if RedirectAllRequestsTo is empty",
        ));
    };
    if index.suffix.is_empty() || index.suffix.contains('/') {
        return Err(invalid_argument("The IndexDocument Suffix is not well formed"));
    }
    if c.routing_rules.as_ref().is_some_and(|r| r.len() > MAX_ROUTING_RULES) {
        return Err(invalid_request("The number of routing rules must not exceed 50"));
    }
    Ok(())
}

/// PutBucketCors: 1 to 100 rules, each with origins and methods among GET, PUT, POST, DELETE,
/// HEAD.
pub fn cors(c: &CORSConfiguration) -> S3Result<()> {
    if c.cors_rules.is_empty() {
        return Err(malformed_xml());
    }
    if c.cors_rules.len() > MAX_CORS_RULES {
        return Err(invalid_request("The CORS configuration must not have more than 100 rules"));
    }
    for r in &c.cors_rules {
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return Err(malformed_xml());
        }
        for m in &r.allowed_methods {
            if !matches!(m.as_str(), "GET" | "PUT" | "POST" | "DELETE" | "HEAD") {
                return Err(S3Error::with_message(
                    s3s::S3ErrorCode::InvalidRequest,
                    format!("Found unsupported HTTP method in CORS config. Unsupported method is {}", m.as_str()),
                ));
            }
        }
    }
    Ok(())
}

/// PutBucketVersioning: `Status` `Enabled` or `Suspended`; MFA Delete `Enabled` or `Disabled`,
/// and changing it needs `x-amz-mfa`, which Tessera cannot verify (docs/S3.md).
pub fn versioning(c: &VersioningConfiguration, has_mfa: bool) -> S3Result<()> {
    if let Some(s) = &c.status {
        if !matches!(s.as_str(), BucketVersioningStatus::ENABLED | BucketVersioningStatus::SUSPENDED) {
            return Err(malformed_xml());
        }
    }
    if let Some(m) = &c.mfa_delete {
        if !matches!(m.as_str(), MFADelete::ENABLED | MFADelete::DISABLED) {
            return Err(malformed_xml());
        }
        if m.as_str() == MFADelete::ENABLED {
            if !has_mfa {
                return Err(s3_err("AccessDenied", 403, "Mfa Authentication must be used for this request"));
            }
            return Err(s3_err("NotImplemented", 501, "MFA Delete is not supported by Tessera"));
        }
    }
    Ok(())
}

/// PutObjectLockConfiguration: `ObjectLockEnabled` `Enabled`; a default retention has a mode
/// (`GOVERNANCE` or `COMPLIANCE`) and either positive `Days` or positive `Years`.
pub fn object_lock(c: &ObjectLockConfiguration) -> S3Result<()> {
    if c.object_lock_enabled.as_ref().map(|e| e.as_str()) != Some(ObjectLockEnabled::ENABLED) {
        return Err(malformed_xml());
    }
    let Some(retention) = c.rule.as_ref().and_then(|r| r.default_retention.as_ref()) else {
        if c.rule.is_some() {
            return Err(malformed_xml());
        }
        return Ok(());
    };
    let mode = retention.mode.as_ref().map(|m| m.as_str());
    if !matches!(mode, Some(ObjectLockRetentionMode::GOVERNANCE | ObjectLockRetentionMode::COMPLIANCE)) {
        return Err(malformed_xml());
    }
    match (retention.days, retention.years) {
        (Some(_), Some(_)) | (None, None) => Err(malformed_xml()),
        (Some(n), None) | (None, Some(n)) if n <= 0 => {
            Err(invalid_argument("Default retention period must be a positive integer value"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag { key: Some(k.into()), value: Some(v.into()) }
    }

    fn code(r: S3Result<()>) -> String {
        r.err().map(|e| e.code().as_str().to_string()).unwrap_or_default()
    }

    #[test]
    fn tag_limits_of_cost_alloc_tagging() {
        assert!(bucket_tags(&[tag("team", "blue")]).is_ok());
        let fifty: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(bucket_tags(&fifty).is_ok());
        let fifty_one: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert_eq!(code(bucket_tags(&fifty_one)), "InvalidTag");
        assert!(bucket_tags(&[tag(&"k".repeat(128), &"v".repeat(256))]).is_ok());
        assert_eq!(code(bucket_tags(&[tag(&"k".repeat(129), "v")])), "InvalidTag");
        assert_eq!(code(bucket_tags(&[tag("k", &"v".repeat(257))])), "InvalidTag");
        assert_eq!(code(bucket_tags(&[tag("aws:cloudformation:stack", "v")])), "InvalidTag");
        assert_eq!(code(bucket_tags(&[tag("a", "1"), tag("a", "2")])), "InvalidTag");
    }

    fn versioning_of(status: &str) -> VersioningConfiguration {
        VersioningConfiguration { mfa_delete: None, status: Some(BucketVersioningStatus::from(status.to_string())) }
    }

    #[test]
    fn versioning_status_is_enabled_or_suspended() {
        assert!(versioning(&versioning_of("Enabled"), false).is_ok());
        assert!(versioning(&versioning_of("Suspended"), false).is_ok());
        assert_eq!(code(versioning(&versioning_of("Disabled"), false)), "MalformedXML");
    }

    fn cors_rule(method: &str) -> CORSRule {
        CORSRule {
            allowed_headers: None,
            allowed_methods: vec![AllowedMethod::from(method.to_string())],
            allowed_origins: vec!["*".into()],
            expose_headers: None,
            id: None,
            max_age_seconds: None,
        }
    }

    #[test]
    fn cors_has_up_to_100_rules_of_known_methods() {
        assert!(cors(&CORSConfiguration { cors_rules: vec![cors_rule("GET")] }).is_ok());
        assert_eq!(code(cors(&CORSConfiguration { cors_rules: vec![cors_rule("PATCH")] })), "InvalidRequest");
        let many = CORSConfiguration { cors_rules: (0..101).map(|_| cors_rule("GET")).collect() };
        assert_eq!(code(cors(&many)), "InvalidRequest");
    }

    #[test]
    fn encryption_kms_key_only_with_kms() {
        assert!(encryption(&default_encryption()).is_ok());
        let mut c = default_encryption();
        if let Some(d) = c.rules[0].apply_server_side_encryption_by_default.as_mut() {
            d.kms_master_key_id = Some("k".into());
        }
        assert_eq!(code(encryption(&c)), "InvalidArgument");
    }

    #[test]
    fn object_lock_retention_needs_a_mode_and_one_positive_period() {
        let with = |days: Option<i32>, years: Option<i32>| ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule: Some(ObjectLockRule {
                default_retention: Some(DefaultRetention {
                    days,
                    mode: Some(ObjectLockRetentionMode::from_static(ObjectLockRetentionMode::GOVERNANCE)),
                    years,
                }),
            }),
        };
        assert!(object_lock(&with(Some(1), None)).is_ok());
        assert_eq!(code(object_lock(&with(Some(1), Some(1)))), "MalformedXML");
        assert_eq!(code(object_lock(&with(Some(0), None))), "InvalidArgument");
    }
}
