//! The operations on who may reach a bucket, beside its policy: Block Public Access
//! (`?publicAccessBlock`), Object Ownership (`?ownershipControls`), `?policyStatus`, and ACLs
//! (`?acl` of buckets and objects); and the enforcement hooks the other operations call:
//! BlockPublicPolicy on PutBucketPolicy, RestrictPublicBuckets when authorizing, and
//! Object Ownership / BlockPublicAcls on requests that set ACLs (S3 User Guide,
//! access-control-block-public-access.html and about-object-ownership.html).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::acl::{self, GrantHeaders};
use crate::config::{kind, read_config, s3_err, same_bucket, write_config};
use crate::ops::{ctx, load, no_such_bucket, save, store_err, write_txn, Backend};
use crate::public_access::{self, PublicAccessBlock};
use crate::records::{self, table, AclGrant, BucketRecord, ObjectRecord};
use crate::validate::malformed_xml;
use crate::RequestCtx;

/// The known Object Ownership values.
const OWNERSHIPS: [&str; 3] =
    [ObjectOwnership::BUCKET_OWNER_ENFORCED, ObjectOwnership::BUCKET_OWNER_PREFERRED, ObjectOwnership::OBJECT_WRITER];

impl Backend {
    /// The Block Public Access settings in force for `bucket`: its own OR its owner account's.
    pub(crate) fn effective_public_access(&self, bucket: &BucketRecord) -> S3Result<PublicAccessBlock> {
        let r = self.services.store.read().map_err(store_err)?;
        let account = public_access::account_public_access_block(r.as_ref(), &bucket.owner).map_err(store_err)?;
        Ok(public_access::effective(bucket.public_access_block, account))
    }

    /// The bucket policy that takes part in authorizing `caller_account`: none for a caller
    /// outside the owner's account when RestrictPublicBuckets is in force and the policy is
    /// public ("only AWS service principals and authorized users within the bucket owner's
    /// account").
    pub(crate) fn policy_for<'b>(&self, caller_account: &str, bucket: &'b BucketRecord) -> S3Result<Option<&'b str>> {
        let Some(policy) = bucket.policy.as_deref() else { return Ok(None) };
        if caller_account == bucket.owner {
            return Ok(Some(policy));
        }
        if self.effective_public_access(bucket)?.restrict_public_buckets && public_access::policy_is_public(policy) {
            return Ok(None);
        }
        Ok(Some(policy))
    }

    /// BlockPublicPolicy: a public policy is refused with 403 `AccessDenied`.
    pub(crate) fn check_block_public_policy(
        &self,
        cx: &RequestCtx,
        bucket: &BucketRecord,
        policy: &str,
    ) -> S3Result<()> {
        if !self.effective_public_access(bucket)?.block_public_policy || !public_access::policy_is_public(policy) {
            return Ok(());
        }
        let who = cx.caller.as_ref().map(|c| c.arn.clone()).unwrap_or_else(|| "anonymous".into());
        Err(s3_err(
            "AccessDenied",
            403,
            format!(
                "User: {who} is not authorized to perform: s3:PutBucketPolicy on resource: \"{}\" because public policies are blocked by the BlockPublicPolicy block public access setting.",
                bucket.arn()
            ),
        ))
    }

    /// Object Ownership and BlockPublicAcls for a request that writes an object with ACL headers;
    /// the ACL the object keeps (`None`: the default, or ACLs disabled). `writer` owns the object.
    pub(crate) fn object_write_acl(
        &self,
        bucket: &BucketRecord,
        writer: &str,
        canned: Option<&str>,
        headers: &GrantHeaders,
    ) -> S3Result<Option<Vec<AclGrant>>> {
        if !bucket.acls_disabled() && canned.is_none() && !headers.any() {
            return Ok(None);
        }
        let block = !bucket.acls_disabled() && self.effective_public_access(bucket)?.block_public_acls;
        acl::check_write_acl(bucket.acls_disabled(), block, canned, headers)?;
        if bucket.acls_disabled() {
            return Ok(None);
        }
        let policy = acl::requested(canned, headers, None, writer, &bucket.owner)?;
        Ok(policy.map(|p| acl::to_stored(p.grants.as_deref().unwrap_or(&[]))))
    }

    pub(crate) async fn op_get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let cx = ctx(&req)?;
        let b =
            self.authorized_bucket(&cx, "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", &req.input.bucket)?;
        let p = b.public_access_block.ok_or_else(|| {
            s3_err("NoSuchPublicAccessBlockConfiguration", 404, "The public access block configuration was not found")
        })?;
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(p.block_public_acls),
                block_public_policy: Some(p.block_public_policy),
                ignore_public_acls: Some(p.ignore_public_acls),
                restrict_public_buckets: Some(p.restrict_public_buckets),
            }),
        }))
    }

    /// Change the bucket record after authorizing `action`, in one transaction.
    async fn update_bucket(
        &self,
        cx: &RequestCtx,
        operation: &str,
        action: &str,
        bucket: &str,
        f: impl FnOnce(&mut dyn tessera_store::WriteTxn, &mut BucketRecord) -> S3Result<()> + Send + 'static,
    ) -> S3Result<()> {
        let bucket = self.authorized_bucket(cx, operation, action, bucket)?;
        write_txn(&self.services, move |w| {
            let mut current = same_bucket(w, &bucket)?;
            f(w, &mut current)?;
            save(w, table::BUCKET, &current.name, &current)
        })
        .await
    }

    pub(crate) async fn op_put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let cx = ctx(&req)?;
        let c = req.input.public_access_block_configuration;
        let settings = PublicAccessBlock {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        self.update_bucket(
            &cx,
            "PutPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
            &req.input.bucket,
            move |_, b| {
                b.public_access_block = Some(settings);
                Ok(())
            },
        )
        .await?;
        Ok(S3Response::new(PutPublicAccessBlockOutput::default()))
    }

    pub(crate) async fn op_delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        let cx = ctx(&req)?;
        let op = ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock");
        self.update_bucket(&cx, op.0, op.1, &req.input.bucket, |_, b| {
            b.public_access_block = None;
            Ok(())
        })
        .await?;
        Ok(S3Response::new(DeletePublicAccessBlockOutput::default()))
    }

    pub(crate) async fn op_get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let cx = ctx(&req)?;
        let op = ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls");
        let b = self.authorized_bucket(&cx, op.0, op.1, &req.input.bucket)?;
        let o = b.object_ownership.ok_or_else(|| {
            s3_err("OwnershipControlsNotFoundError", 404, "The bucket ownership controls were not found")
        })?;
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule { object_ownership: ObjectOwnership::from(o) }],
            }),
        }))
    }

    pub(crate) async fn op_put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let cx = ctx(&req)?;
        let rules = req.input.ownership_controls.rules;
        let [rule] = rules.as_slice() else { return Err(malformed_xml()) };
        let ownership = rule.object_ownership.as_str().to_string();
        if !OWNERSHIPS.contains(&ownership.as_str()) {
            return Err(malformed_xml());
        }
        let op = ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls");
        self.update_bucket(&cx, op.0, op.1, &req.input.bucket, move |w, b| {
            if ownership == records::OBJECT_OWNERSHIP_ENFORCED {
                // ACLs can be disabled only once the bucket ACL grants nothing beyond the owner
                // (about-object-ownership.html, "Prerequisites for disabling ACLs").
                let stored: Option<AccessControlPolicy> = read_config(w, &b.name, kind::ACL)?;
                if stored
                    .is_some_and(|p| !acl::is_owner_full_control_only(p.grants.as_deref().unwrap_or(&[]), &b.owner))
                {
                    return Err(acl::invalid_acl_with_ownership());
                }
                write_config::<AccessControlPolicy>(w, &b.name, kind::ACL, None)?;
            }
            b.object_ownership = Some(ownership);
            Ok(())
        })
        .await?;
        Ok(S3Response::new(PutBucketOwnershipControlsOutput::default()))
    }

    pub(crate) async fn op_delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        let cx = ctx(&req)?;
        let op = ("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls");
        self.update_bucket(&cx, op.0, op.1, &req.input.bucket, |_, b| {
            b.object_ownership = None;
            Ok(())
        })
        .await?;
        Ok(S3Response::new(DeleteBucketOwnershipControlsOutput::default()))
    }

    pub(crate) async fn op_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let cx = ctx(&req)?;
        let b = self.authorized_bucket(&cx, "GetBucketPolicyStatus", "s3:GetBucketPolicyStatus", &req.input.bucket)?;
        let policy = b.policy.ok_or_else(|| s3_err("NoSuchBucketPolicy", 404, "The bucket policy does not exist"))?;
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus { is_public: Some(public_access::policy_is_public(&policy)) }),
        }))
    }

    pub(crate) async fn op_get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let cx = ctx(&req)?;
        let b = self.authorized_bucket(&cx, "GetBucketAcl", "s3:GetBucketAcl", &req.input.bucket)?;
        let stored: Option<AccessControlPolicy> = if b.acls_disabled() {
            None
        } else {
            let r = self.services.store.read().map_err(store_err)?;
            read_config(r.as_ref(), &b.name, kind::ACL)?
        };
        let p = stored.unwrap_or_else(|| acl::owner_full_control(&b.owner));
        Ok(S3Response::new(GetBucketAclOutput { grants: p.grants, owner: p.owner }))
    }

    pub(crate) async fn op_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let cx = ctx(&req)?;
        let input = req.input;
        let headers = GrantHeaders {
            full_control: input.grant_full_control,
            read: input.grant_read,
            read_acp: input.grant_read_acp,
            write: input.grant_write,
            write_acp: input.grant_write_acp,
        };
        let b = self.authorized_bucket(&cx, "PutBucketAcl", "s3:PutBucketAcl", &input.bucket)?;
        let canned = input.acl.as_ref().map(|c| c.as_str());
        let policy = acl::requested(canned, &headers, input.access_control_policy.as_ref(), &b.owner, &b.owner)?
            .ok_or_else(acl::malformed_acl)?;
        let grants = policy.grants.clone().unwrap_or_default();
        if b.acls_disabled() {
            // "bucket-owner-full-control canned ACL or an equivalent form" only
            // (about-object-ownership.html).
            let canned_ok = input.acl.as_ref().is_some_and(|c| c.as_str() == acl::BUCKET_OWNER_FULL_CONTROL);
            if !canned_ok && !acl::is_owner_full_control_only(&grants, &b.owner) {
                return Err(acl::acls_not_supported());
            }
            return Ok(S3Response::new(PutBucketAclOutput::default()));
        }
        if acl::is_public(&grants) && self.effective_public_access(&b)?.block_public_acls {
            return Err(s3_err("AccessDenied", 403, "Access Denied"));
        }
        let name = b.name.clone();
        let created = b.created_millis;
        write_txn(&self.services, move |w| {
            still_acls_enabled(w, &name, created)?;
            write_config(w, &name, kind::ACL, Some(&policy))
        })
        .await?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    pub(crate) async fn op_get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let cx = ctx(&req)?;
        let b = self.bucket(&req.input.bucket)?;
        let arn = format!("arn:aws:s3:::{}/{}", b.name, req.input.key);
        self.authorize(&cx, "GetObjectAcl", "s3:GetObjectAcl", &arn, Some(&b), Vec::new())?;
        let o = self
            .read_object(&b.name, &req.input.key)?
            .ok_or_else(|| s3_err("NoSuchKey", 404, "The specified key does not exist."))?;
        // With ACLs disabled the bucket owner owns every object; otherwise the writer does.
        let owner = if b.acls_disabled() { &b.owner } else { &o.owner };
        let mut p = acl::owner_full_control(owner);
        if let (false, Some(stored)) = (b.acls_disabled(), &o.acl) {
            p.grants = Some(acl::from_stored(stored));
        }
        Ok(S3Response::new(GetObjectAclOutput { grants: p.grants, owner: p.owner, request_charged: None }))
    }

    pub(crate) async fn op_put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let cx = ctx(&req)?;
        let input = req.input;
        let b = self.bucket(&input.bucket)?;
        let arn = format!("arn:aws:s3:::{}/{}", b.name, input.key);
        let mut context = Vec::new();
        if let Some(a) = &input.acl {
            context.push(("s3:x-amz-acl".to_string(), vec![a.as_str().to_string()]));
        }
        self.authorize(&cx, "PutObjectAcl", "s3:PutObjectAcl", &arn, Some(&b), context)?;
        let Some(object) = self.read_object(&b.name, &input.key)? else {
            return Err(s3_err("NoSuchKey", 404, "The specified key does not exist."));
        };
        let headers = GrantHeaders {
            full_control: input.grant_full_control,
            read: input.grant_read,
            read_acp: input.grant_read_acp,
            write: input.grant_write,
            write_acp: input.grant_write_acp,
        };
        if b.acls_disabled() {
            let canned_ok = input.acl.as_ref().is_none_or(|c| c.as_str() == acl::BUCKET_OWNER_FULL_CONTROL);
            let xml_ok = input
                .access_control_policy
                .as_ref()
                .is_none_or(|p| acl::is_owner_full_control_only(p.grants.as_deref().unwrap_or(&[]), &b.owner));
            if !canned_ok || !xml_ok || headers.any() {
                return Err(acl::acls_not_supported());
            }
            return Ok(S3Response::new(PutObjectAclOutput::default()));
        }
        let canned = input.acl.as_ref().map(|c| c.as_str());
        let policy = acl::requested(canned, &headers, input.access_control_policy.as_ref(), &object.owner, &b.owner)?
            .ok_or_else(acl::malformed_acl)?;
        let grants = policy.grants.unwrap_or_default();
        if acl::is_public(&grants) && self.effective_public_access(&b)?.block_public_acls {
            return Err(s3_err("AccessDenied", 403, "Access Denied"));
        }
        let stored = acl::to_stored(&grants);
        let (name, created, okey) = (b.name.clone(), b.created_millis, records::object_key(&b.name, &input.key));
        write_txn(&self.services, move |w| {
            still_acls_enabled(w, &name, created)?;
            let Some(mut o) = load::<ObjectRecord>(w, table::OBJECT, &okey)? else {
                return Err(s3_err("NoSuchKey", 404, "The specified key does not exist."));
            };
            o.acl = Some(stored);
            save(w, table::OBJECT, &okey, &o)
        })
        .await?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }
}

/// In an ACL-writing transaction: the bucket is still the one authorized and still has ACLs
/// enabled.
fn still_acls_enabled(w: &mut dyn tessera_store::WriteTxn, name: &str, created: i64) -> S3Result<()> {
    match load::<BucketRecord>(w, table::BUCKET, name)? {
        Some(cur) if cur.created_millis == created && !cur.acls_disabled() => Ok(()),
        Some(cur) if cur.created_millis == created => Err(acl::acls_not_supported()),
        _ => Err(no_such_bucket()),
    }
}

/// What CreateBucket sets up beside the bucket record: Object Ownership (default
/// `BucketOwnerEnforced` since April 2023), the bucket ACL when ACLs are enabled and one was
/// given, and versioning for a bucket created with Object Lock.
pub(crate) struct NewBucket {
    /// The bucket's Object Ownership.
    pub object_ownership: String,
    acl: Option<AccessControlPolicy>,
    object_lock: bool,
}

impl NewBucket {
    /// Check CreateBucket's ACL and ownership headers (CreateBucket, API reference): with
    /// `BucketOwnerEnforced` only `private` / `bucket-owner-full-control` or no ACL at all
    /// (`InvalidBucketAclWithObjectOwnership`); a public ACL is refused because a new bucket's
    /// Block Public Access settings are all on (`InvalidBucketAclWithBlockPublicAccessError`).
    pub(crate) fn from_input(input: &CreateBucketInput, owner: &str) -> S3Result<NewBucket> {
        let object_ownership =
            input.object_ownership.as_ref().map_or(records::OBJECT_OWNERSHIP_ENFORCED, |o| o.as_str()).to_string();
        if !OWNERSHIPS.contains(&object_ownership.as_str()) {
            return Err(s3_err("InvalidArgument", 400, "Invalid x-amz-object-ownership header"));
        }
        let headers = GrantHeaders {
            full_control: input.grant_full_control.clone(),
            read: input.grant_read.clone(),
            read_acp: input.grant_read_acp.clone(),
            write: input.grant_write.clone(),
            write_acp: input.grant_write_acp.clone(),
        };
        let canned = input.acl.as_ref().map(|a| a.as_str());
        if canned.is_some() && headers.any() {
            return Err(s3_err("InvalidRequest", 400, "Specifying both Canned ACLs and Header Grants is not allowed"));
        }
        let policy = match canned {
            Some(c) => Some(acl::canned(c, owner, owner)?),
            None if headers.any() => Some(AccessControlPolicy {
                grants: Some(headers.grants()?),
                owner: Some(Owner { display_name: None, id: Some(records::canonical_user_id(owner)) }),
            }),
            None => None,
        };
        let grants = policy.as_ref().and_then(|p| p.grants.clone()).unwrap_or_default();
        if object_ownership == records::OBJECT_OWNERSHIP_ENFORCED {
            if !acl::is_owner_full_control_only(&grants, owner) {
                return Err(acl::invalid_acl_with_ownership());
            }
            return Ok(NewBucket {
                object_ownership,
                acl: None,
                object_lock: input.object_lock_enabled_for_bucket == Some(true),
            });
        }
        if acl::is_public(&grants) {
            return Err(s3_err(
                "InvalidBucketAclWithBlockPublicAccessError",
                400,
                "Bucket cannot have public ACLs set with BlockPublicAccess enabled",
            ));
        }
        Ok(NewBucket { object_ownership, acl: policy, object_lock: input.object_lock_enabled_for_bucket == Some(true) })
    }

    /// Store what goes with the new bucket `record`, in CreateBucket's transaction.
    pub(crate) fn store(&self, w: &mut dyn tessera_store::WriteTxn, record: &BucketRecord) -> S3Result<()> {
        if let Some(p) = &self.acl {
            write_config(w, &record.name, kind::ACL, Some(p))?;
        }
        if self.object_lock {
            write_config(w, &record.name, kind::VERSIONING, Some(&crate::config::versioning_enabled_config()))?;
        }
        Ok(())
    }
}
