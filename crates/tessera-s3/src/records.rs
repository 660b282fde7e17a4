//! What S3 keeps in the [`Store`](tessera_store::Store): buckets, object index, multipart
//! uploads and their parts. Object bytes live in blob files (see [`crate::blobs`]); a record
//! names its blobs, so a record committed is an object acknowledged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Table names.
pub mod table {
    /// [`super::BucketRecord`] by bucket name (names are global, as on AWS).
    pub const BUCKET: &str = "s3_bucket";
    /// [`super::ObjectRecord`] by `<bucket>/<key>`.
    pub const OBJECT: &str = "s3_object";
    /// [`super::UploadRecord`] by `<bucket>/<upload id>`.
    pub const UPLOAD: &str = "s3_upload";
    /// [`super::PartRecord`] by `<upload id>/<part number, 5 digits>`.
    pub const PART: &str = "s3_part";
    /// A bucket's stored configurations (`s3s` shapes as JSON) by `<bucket>/<kind>` (see
    /// [`crate::config`]).
    pub const CONFIG: &str = "s3_bucket_config";
}

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Name.
    pub name: String,
    /// Owning account id.
    pub owner: String,
    /// Creation time (epoch milliseconds).
    pub created_millis: i64,
    /// Region it was created in (`us-east-1` when no LocationConstraint was given).
    pub region: String,
    /// Bucket policy document, as stored.
    #[serde(default)]
    pub policy: Option<String>,
    /// Object Ownership (`BucketOwnerEnforced`, `BucketOwnerPreferred`, `ObjectWriter`);
    /// `None` after DeleteBucketOwnershipControls. A record written before Tessera knew Object
    /// Ownership reads as `BucketOwnerEnforced`: those buckets never honoured ACLs (docs/S3.md).
    #[serde(default = "legacy_object_ownership")]
    pub object_ownership: Option<String>,
    /// The bucket's Block Public Access settings (`None`: no configuration, as for a record
    /// written before Tessera knew them, or after DeletePublicAccessBlock).
    #[serde(default)]
    pub public_access_block: Option<crate::public_access::PublicAccessBlock>,
    /// Created with `x-amz-bucket-object-lock-enabled: true`.
    #[serde(default)]
    pub object_lock_enabled: bool,
}

/// What a bucket record without `object_ownership` reads as.
fn legacy_object_ownership() -> Option<String> {
    Some(OBJECT_OWNERSHIP_ENFORCED.to_string())
}

/// `BucketOwnerEnforced`: ACLs disabled, the bucket owner owns every object.
pub const OBJECT_OWNERSHIP_ENFORCED: &str = "BucketOwnerEnforced";

impl BucketRecord {
    /// `arn:aws:s3:::<bucket>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:s3:::{}", self.name)
    }

    /// Whether ACLs are disabled (Object Ownership `BucketOwnerEnforced`).
    pub fn acls_disabled(&self) -> bool {
        self.object_ownership.as_deref() == Some(OBJECT_OWNERSHIP_ENFORCED)
    }
}

/// One stored run of bytes of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Blob id (file name under `data/`).
    pub blob: String,
    /// Length in bytes.
    pub size: u64,
}

/// HTTP metadata kept with an object and returned on GET/HEAD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ObjectMeta {
    /// `Content-Type`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    #[serde(default)]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(default)]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(default)]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(default)]
    pub cache_control: Option<String>,
    /// `Expires` (epoch seconds).
    #[serde(default)]
    pub expires: Option<i64>,
    /// `x-amz-meta-*` (lower-case names).
    #[serde(default)]
    pub user: BTreeMap<String, String>,
}

/// An object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes (MD5 hex, or `<md5 of part md5s>-<n>` for multipart).
    pub etag: String,
    /// Last modification (epoch milliseconds).
    pub last_modified_millis: i64,
    /// HTTP metadata.
    pub meta: ObjectMeta,
    /// The bytes, in order.
    pub segments: Vec<Segment>,
    /// Number of parts when completed from a multipart upload.
    #[serde(default)]
    pub parts_count: Option<u32>,
    /// Account that wrote it.
    pub owner: String,
    /// Its ACL when the bucket has ACLs enabled and one was set (`None`: the owner's
    /// FULL_CONTROL only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclGrant>>,
}

/// One stored ACL grant: to a canonical user (`id`) or a group (`uri`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclGrant {
    /// Canonical user id of the grantee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Group URI of the grantee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `FULL_CONTROL`, `READ`, `WRITE`, `READ_ACP` or `WRITE_ACP`.
    pub permission: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// When it was created (epoch milliseconds).
    pub initiated_millis: i64,
    /// Account that created it.
    pub owner: String,
    /// ARN of the principal that created it.
    pub initiator_arn: String,
    /// `aws:userid` of that principal.
    pub initiator_id: String,
    /// Metadata the completed object gets.
    pub meta: ObjectMeta,
    /// The ACL the completed object gets (see [`ObjectRecord::acl`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<Vec<AclGrant>>,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Part number (1-10,000).
    pub number: i32,
    /// Size in bytes.
    pub size: u64,
    /// MD5 hex (no quotes).
    pub etag: String,
    /// Upload time (epoch milliseconds).
    pub last_modified_millis: i64,
    /// Blob holding the bytes.
    pub blob: String,
}

/// Key of an object record.
pub fn object_key(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// Key of an upload record.
pub fn upload_key(bucket: &str, upload_id: &str) -> String {
    format!("{bucket}/{upload_id}")
}

/// Key of a part record.
pub fn part_key(upload_id: &str, number: i32) -> String {
    format!("{upload_id}/{number:05}")
}

/// The canonical user id AWS shows for an account (64 hex): derived from the account id, stable.
pub fn canonical_user_id(account: &str) -> String {
    use md5::Digest;
    let a = md5::Md5::digest(format!("tessera-canonical-user/{account}").as_bytes());
    let b = md5::Md5::digest(format!("{account}/tessera-canonical-user").as_bytes());
    format!("{}{}", hex::encode(a), hex::encode(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_record_of_an_older_tessera_reads_as_acls_disabled_without_block_public_access() {
        let old = r#"{"name":"b","owner":"111122223333","created_millis":1,"region":"us-east-1","policy":null}"#;
        let b: BucketRecord = serde_json::from_str(old).unwrap();
        assert_eq!(b.object_ownership.as_deref(), Some(OBJECT_OWNERSHIP_ENFORCED));
        assert!(b.acls_disabled());
        assert_eq!(b.public_access_block, None);
        assert!(!b.object_lock_enabled);
        // DeleteBucketOwnershipControls is kept as such, not read back as the legacy default.
        let deleted = r#"{"name":"b","owner":"1","created_millis":1,"region":"us-east-1","object_ownership":null}"#;
        let b: BucketRecord = serde_json::from_str(deleted).unwrap();
        assert_eq!(b.object_ownership, None);
    }
}
