//! Trail delivery into Tessera's own buckets: CloudTrail's log and digest files become S3
//! objects of the trail's bucket, written as the service principal `cloudtrail.amazonaws.com`,
//! which the bucket policy must allow, as on AWS (AWS CloudTrail User Guide, "Amazon S3 bucket
//! policy for CloudTrail", create-s3-bucket-policy-for-cloudtrail.html):
//! `s3:GetBucketAcl` on the bucket and `s3:PutObject` on `[prefix/]AWSLogs/<account>/*` with
//! `s3:x-amz-acl` = `bucket-owner-full-control`; `aws:SourceArn` / `aws:SourceAccount` name the
//! trail. The objects belong to the bucket owner.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use tessera_audit::delivery::{BucketProblem, StoredObject, TrailDelivery};
use tessera_audit::store::Trail;
use tessera_services::Clock;
use tessera_store::{Store, StoreError};

use crate::blobs::Blobs;
use crate::list::{self, Entry};
use crate::records::{self, table, BucketRecord, ObjectMeta, ObjectRecord, Segment};

/// The service principal CloudTrail writes as.
const CLOUDTRAIL: &str = "cloudtrail.amazonaws.com";
/// The canned ACL CloudTrail sets on every object (the documented policy requires it).
const OWNER_FULL_CONTROL: &str = "bucket-owner-full-control";
/// User metadata keeps the same limit as a PutObject (2 KB).
const MAX_USER_METADATA: usize = 2048;

/// Trail files as objects of Tessera's S3 (same store records and blob files as the S3 API).
pub struct TrailBuckets {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    blobs: Blobs,
}

impl std::fmt::Debug for TrailBuckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrailBuckets").finish_non_exhaustive()
    }
}

fn store_io(e: StoreError) -> io::Error {
    io::Error::other(e.to_string())
}

/// The error GetTrailStatus shows (`LatestDeliveryError`) is the S3 error code.
fn s3_code(code: &str) -> io::Error {
    io::Error::other(code.to_string())
}

impl TrailBuckets {
    /// Over the S3 records in `store` and the blob directory `root` (`DIR/s3`), which the S3
    /// endpoint of the same server also uses.
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>, root: &Path) -> io::Result<TrailBuckets> {
        let blobs = Blobs::attach_for(store.as_ref(), root)?;
        Ok(TrailBuckets { store, clock, blobs })
    }

    fn bucket(&self, name: &str) -> io::Result<Option<BucketRecord>> {
        let r = self.store.read().map_err(store_io)?;
        tessera_services::model::load(r.as_ref(), table::BUCKET, name).map_err(store_io)
    }

    /// Whether the bucket policy lets CloudTrail, writing for `trail`, do `action` on `resource`.
    fn cloudtrail_may(&self, bucket: &BucketRecord, trail: &Trail, action: &str, resource: &str) -> bool {
        let Some(doc) = bucket.policy.as_deref() else { return false };
        let Ok(policy) = tessera_policy::parse(doc, tessera_policy::PolicyType::Resource) else { return false };
        let principal = tessera_policy::Principal {
            arn: CLOUDTRAIL.into(),
            account: String::new(),
            kind: tessera_policy::PrincipalKind::Service { name: CLOUDTRAIL.into() },
        };
        let now = self.clock.now_millis();
        let mut ctx = tessera_policy::Context::new();
        ctx.insert_one("aws:CurrentTime", tessera_services::clock::iso8601(now / 1000));
        ctx.insert_one("aws:EpochTime", (now / 1000).to_string());
        ctx.insert_one("aws:PrincipalServiceName", CLOUDTRAIL);
        ctx.insert_one("aws:PrincipalIsAWSService", "true");
        ctx.insert_one("aws:SourceArn", trail.arn());
        ctx.insert_one("aws:SourceAccount", trail.account.clone());
        ctx.insert_one("aws:ResourceAccount", bucket.owner.clone());
        ctx.insert_one("aws:SecureTransport", "true");
        if action == "s3:PutObject" {
            ctx.insert_one("s3:x-amz-acl", OWNER_FULL_CONTROL);
        }
        let set = tessera_policy::PolicySet { resource: Some(&policy), ..Default::default() };
        let request = tessera_policy::Request {
            principal: &principal,
            action,
            resource,
            resource_account: Some(&bucket.owner),
            context: &ctx,
        };
        tessera_policy::evaluate(&set, &request).is_allowed()
    }

    /// Write an object as its bucket's owner (the S3 API's PutObject record, without the
    /// caller's authorization: the caller is CloudTrail, checked by the callers of this).
    fn write(
        &self,
        bucket: &BucketRecord,
        key: &str,
        body: &[u8],
        metadata: &BTreeMap<String, String>,
    ) -> io::Result<()> {
        let user: BTreeMap<String, String> =
            metadata.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
        if user.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > MAX_USER_METADATA {
            return Err(s3_code("MetadataTooLarge"));
        }
        let written = self.blobs.write_bytes(body)?;
        let record = ObjectRecord {
            size: written.size,
            etag: hex::encode(written.md5),
            last_modified_millis: self.clock.now_millis(),
            meta: ObjectMeta {
                content_type: Some("application/json".into()),
                content_encoding: Some("gzip".into()),
                user,
                ..Default::default()
            },
            segments: vec![Segment { blob: written.blob.clone(), size: written.size }],
            parts_count: None,
            owner: bucket.owner.clone(),
            acl: None,
        };
        let okey = records::object_key(&bucket.name, key);
        let committed = (|| -> io::Result<Option<ObjectRecord>> {
            let mut w = self.store.write().map_err(store_io)?;
            let current: Option<BucketRecord> =
                tessera_services::model::load(w.as_ref(), table::BUCKET, &bucket.name).map_err(store_io)?;
            if current.is_none_or(|b| b.created_millis != bucket.created_millis) {
                return Err(s3_code("NoSuchBucket"));
            }
            let old: Option<ObjectRecord> =
                tessera_services::model::load(w.as_ref(), table::OBJECT, &okey).map_err(store_io)?;
            tessera_services::model::save(w.as_mut(), table::OBJECT, &okey, &record).map_err(store_io)?;
            w.commit().map_err(store_io)?;
            Ok(old)
        })();
        self.blobs.settle(committed, [written.blob])
    }
}

/// `[prefix/]AWSLogs/<account>/`: where a trail's files go.
fn trail_root(trail: &Trail) -> String {
    match trail.s3_key_prefix.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}/AWSLogs/{}/", trail.account),
        None => format!("AWSLogs/{}/", trail.account),
    }
}

impl TrailDelivery for TrailBuckets {
    /// Write without CloudTrail's checks (the trait's plain write; delivery uses
    /// [`TrailDelivery::put_trail_file`]).
    fn put_object(&self, bucket: &str, key: &str, body: &[u8], metadata: &BTreeMap<String, String>) -> io::Result<()> {
        let record = self.bucket(bucket)?.ok_or_else(|| s3_code("NoSuchBucket"))?;
        self.write(&record, key, body, metadata)
    }

    fn put_trail_file(
        &self,
        trail: &Trail,
        key: &str,
        body: &[u8],
        metadata: &BTreeMap<String, String>,
    ) -> io::Result<()> {
        let bucket = self.bucket(&trail.s3_bucket_name)?.ok_or_else(|| s3_code("NoSuchBucket"))?;
        let object = format!("arn:aws:s3:::{}/{key}", bucket.name);
        if !self.cloudtrail_may(&bucket, trail, "s3:PutObject", &object) {
            return Err(s3_code("AccessDenied"));
        }
        self.write(&bucket, key, body, metadata)
    }

    fn get_object(&self, bucket: &str, key: &str) -> io::Result<Option<StoredObject>> {
        let record: Option<ObjectRecord> = {
            let r = self.store.read().map_err(store_io)?;
            tessera_services::model::load(r.as_ref(), table::OBJECT, &records::object_key(bucket, key))
                .map_err(store_io)?
        };
        let Some(record) = record else { return Ok(None) };
        let body = self.blobs.read_small(&record.segments, crate::blobs::Pinned::none(), 0, record.size)?.to_vec();
        Ok(Some(StoredObject { body, metadata: record.meta.user }))
    }

    fn list_objects(&self, bucket: &str, prefix: &str) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = {
                let r = self.store.read().map_err(store_io)?;
                list::list(r.as_ref(), bucket, prefix, None, after.as_deref(), 1000).map_err(store_io)?
            };
            for e in &page.entries {
                if let Entry::Object(k, _) = e {
                    out.push(k.clone());
                }
            }
            after = page.entries.last().map(|e| e.name().to_string());
            if !page.truncated || after.is_none() {
                return Ok(out);
            }
        }
    }

    fn locate(&self, bucket: &str, key: &str) -> String {
        format!("s3://{bucket}/{key}")
    }

    fn check_trail_bucket(&self, trail: &Trail) -> Result<(), BucketProblem> {
        let bucket = match self.bucket(&trail.s3_bucket_name) {
            Ok(Some(b)) => b,
            Ok(None) => return Err(BucketProblem::NoSuchBucket),
            Err(e) => return Err(BucketProblem::Unavailable(e.to_string())),
        };
        let root = trail_root(trail);
        let arn = bucket.arn();
        let may_write = |sub: &str| {
            let region = &trail.home_region;
            self.cloudtrail_may(&bucket, trail, "s3:PutObject", &format!("{arn}/{root}{sub}/{region}/"))
        };
        if self.cloudtrail_may(&bucket, trail, "s3:GetBucketAcl", &arn)
            && may_write("CloudTrail")
            && (!trail.log_file_validation_enabled || may_write("CloudTrail-Digest"))
        {
            Ok(())
        } else {
            Err(BucketProblem::InsufficientPolicy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_services::SystemClock;
    use tessera_store::sqlite::SqliteStore;

    const ACCOUNT: &str = "111122223333";

    fn setup(policy: Option<String>) -> (tempfile::TempDir, TrailBuckets, Trail) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
        let bucket = BucketRecord {
            name: "trail-logs".into(),
            owner: ACCOUNT.into(),
            created_millis: 1,
            region: "us-east-1".into(),
            policy,
            object_ownership: Some(records::OBJECT_OWNERSHIP_ENFORCED.into()),
            public_access_block: Some(crate::public_access::PublicAccessBlock::ALL_ON),
            object_lock_enabled: false,
        };
        let mut w = store.write().unwrap();
        tessera_services::model::save(w.as_mut(), table::BUCKET, &bucket.name, &bucket).unwrap();
        w.commit().unwrap();
        let target = TrailBuckets::open(store, Arc::new(SystemClock), dir.path()).unwrap();
        let trail = Trail {
            account: ACCOUNT.into(),
            name: "audit".into(),
            home_region: "us-east-1".into(),
            s3_bucket_name: "trail-logs".into(),
            s3_key_prefix: Some("p".into()),
            include_global_service_events: true,
            is_multi_region_trail: true,
            log_file_validation_enabled: true,
            tags: Vec::new(),
            created_millis: 1,
            state: Default::default(),
        };
        (dir, target, trail)
    }

    /// The bucket policy of the CloudTrail User Guide's "Amazon S3 bucket policy for
    /// CloudTrail" (create-s3-bucket-policy-for-cloudtrail.html), for `trail_arn` and `prefix`.
    fn documented_policy(trail_arn: &str, prefix: &str) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow",
                 "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
                 "Resource": "arn:aws:s3:::trail-logs",
                 "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
                {"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
                 "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
                 "Resource": format!("arn:aws:s3:::trail-logs/{prefix}AWSLogs/{ACCOUNT}/*"),
                 "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail_arn}}}
            ]
        })
        .to_string()
    }

    #[test]
    fn documented_policy_lets_cloudtrail_write_and_files_read_back() {
        let arn = format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit");
        let (_dir, target, trail) = setup(Some(documented_policy(&arn, "p/")));
        assert_eq!(target.check_trail_bucket(&trail), Ok(()));
        let mut md = BTreeMap::new();
        md.insert("signature".to_string(), "abc".to_string());
        let key = format!("p/AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2026/11/23/x.json.gz");
        target.put_trail_file(&trail, &key, b"gz", &md).unwrap();
        let got = target.get_object("trail-logs", &key).unwrap().unwrap();
        assert_eq!(got.body, b"gz");
        assert_eq!(got.metadata.get("signature").map(String::as_str), Some("abc"));
        assert_eq!(target.list_objects("trail-logs", "p/AWSLogs/").unwrap(), vec![key.clone()]);
        assert!(target.list_objects("trail-logs", "q/").unwrap().is_empty());
        assert_eq!(target.locate("trail-logs", &key), format!("s3://trail-logs/{key}"));
        // Outside AWSLogs/<account>/ the policy does not allow CloudTrail.
        let e = target.put_trail_file(&trail, "elsewhere.json.gz", b"gz", &md).unwrap_err();
        assert_eq!(e.to_string(), "AccessDenied");
    }

    #[test]
    fn missing_bucket_and_insufficient_policies_are_refused() {
        let arn = format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/audit");
        let (_dir, target, mut trail) = setup(None);
        assert_eq!(target.check_trail_bucket(&trail), Err(BucketProblem::InsufficientPolicy));
        let e = target.put_trail_file(&trail, "p/AWSLogs/x", b"gz", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.to_string(), "AccessDenied");
        // A policy naming another trail, or another prefix, is not enough.
        let other = documented_policy(&arn.replace("/audit", "/other"), "p/");
        let (_d2, target2, _) = setup(Some(other));
        assert_eq!(target2.check_trail_bucket(&trail), Err(BucketProblem::InsufficientPolicy));
        let (_d3, target3, _) = setup(Some(documented_policy(&arn, "")));
        assert_eq!(target3.check_trail_bucket(&trail), Err(BucketProblem::InsufficientPolicy));
        trail.s3_key_prefix = None;
        assert_eq!(target3.check_trail_bucket(&trail), Ok(()));
        trail.s3_bucket_name = "no-such-bucket".into();
        assert_eq!(target3.check_trail_bucket(&trail), Err(BucketProblem::NoSuchBucket));
        let e = target3.put_trail_file(&trail, "AWSLogs/x", b"gz", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.to_string(), "NoSuchBucket");
    }
}
