//! The S3 operations: each authorizes (S3's authorization table, bucket policy as the
//! resource policy, bucket owner as the resource account) before it touches state.

use std::path::Path;
use std::sync::Arc;

use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tessera_services::authz::{self, AuthzRequest, PolicyDocKind};
use tessera_services::{Call, Caller, Services};
use tessera_store::{StoreError, WriteTxn};

use crate::acl::GrantHeaders;
use crate::blobs::{is_gone, Blobs, Pinned, WriteError, Written};
use crate::list::{self, Entry};
use crate::records::{self, table, BucketRecord, ObjectMeta, ObjectRecord, PartRecord, Segment, UploadRecord};
use crate::{s3_error, RequestCtx};

/// Largest object of one PUT or CopyObject (5 GiB), and largest part.
const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest part but the last (5 MiB).
const MIN_PART: u64 = 5 * 1024 * 1024;
/// Objects up to this size are read into memory on GET; larger ones stream.
const SMALL_READ: u64 = 256 * 1024;
/// How often a read takes a fresh record when a concurrent write removed the blobs of the one it
/// read (see [`Pinned`]); each retry means another write committed in between.
const STALE_RECORD_RETRIES: usize = 16;

/// An object's record, its opened blobs, and the byte range `(offset, len)` to read from them.
pub(crate) type PinnedRead = (ObjectRecord, Pinned, (u64, u64));
/// User metadata limit (2 KB).
const MAX_USER_METADATA: usize = 2048;
/// Longest key (bytes).
const MAX_KEY: usize = 1024;

/// The S3 operations over the store and the blob directory.
#[derive(Clone)]
pub struct Backend {
    pub(crate) services: Arc<Services>,
    blobs: Blobs,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").finish_non_exhaustive()
    }
}

pub(crate) type Ctx = Vec<(String, Vec<String>)>;

pub(crate) fn err(code: S3ErrorCode, msg: &'static str) -> S3Error {
    S3Error::with_message(code, msg)
}

pub(crate) fn internal(e: impl std::fmt::Display) -> S3Error {
    tracing::error!(error = %e, "s3 internal failure");
    S3Error::with_message(S3ErrorCode::InternalError, "We encountered an internal error. Please try again.")
}

pub(crate) fn no_such_bucket() -> S3Error {
    err(S3ErrorCode::NoSuchBucket, "The specified bucket does not exist")
}

fn no_such_key() -> S3Error {
    err(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
}

fn no_such_upload() -> S3Error {
    err(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

fn write_error(e: WriteError) -> S3Error {
    match e {
        WriteError::Body(m) => {
            if m.contains("SHA256") || m.contains("sha256") || m.contains("checksum") {
                {
                    let mut e = S3Error::with_message(
                        S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                        "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    );
                    e.set_status_code(http::StatusCode::BAD_REQUEST);
                    e
                }
            } else if m.contains("signature") || m.contains("Signature") {
                err(
                    S3ErrorCode::SignatureDoesNotMatch,
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                )
            } else {
                tracing::debug!(error = %m, "request body failed");
                err(
                    S3ErrorCode::IncompleteBody,
                    "You did not provide the number of bytes specified by the Content-Length HTTP header",
                )
            }
        }
        WriteError::Length { expected, got } if got < expected => err(
            S3ErrorCode::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        ),
        WriteError::Length { .. } => {
            err(S3ErrorCode::InvalidRequest, "The request body is longer than the Content-Length HTTP header.")
        }
        WriteError::Io(e) => internal(e),
    }
}

pub(crate) fn ctx<T>(req: &S3Request<T>) -> S3Result<RequestCtx> {
    req.extensions.get::<RequestCtx>().cloned().ok_or_else(|| internal("request context missing"))
}

fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

fn ts(millis: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::from(t)
}

fn millis_of(t: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = t.clone().into();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

pub(crate) fn store_err(e: StoreError) -> S3Error {
    internal(e)
}

/// Run a write transaction off the async threads.
pub(crate) async fn write_txn<R: Send + 'static>(
    services: &Arc<Services>,
    f: impl FnOnce(&mut dyn WriteTxn) -> Result<R, S3Error> + Send + 'static,
) -> S3Result<R> {
    let services = services.clone();
    tokio::task::spawn_blocking(move || {
        let mut txn = services.store.write().map_err(store_err)?;
        let out = f(txn.as_mut())?;
        txn.commit().map_err(store_err)?;
        Ok(out)
    })
    .await
    .map_err(internal)?
}

pub(crate) fn load<T: serde::de::DeserializeOwned>(
    r: &(impl tessera_store::ReadTxn + ?Sized),
    table: &str,
    key: &str,
) -> S3Result<Option<T>> {
    tessera_services::model::load(r, table, key).map_err(store_err)
}

pub(crate) fn save<T: serde::Serialize>(w: &mut dyn WriteTxn, table: &str, key: &str, v: &T) -> S3Result<()> {
    tessera_services::model::save(w, table, key, v).map_err(store_err)
}

fn etag(s: &str) -> ETag {
    ETag::Strong(s.to_string())
}

fn is_url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/')
}

/// S3's `EncodingType=url` encoding.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if is_url_safe(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encoder(encoding: Option<&EncodingType>) -> S3Result<fn(&str) -> String> {
    match encoding.map(EncodingType::as_str) {
        None => Ok(str::to_string),
        Some("url") => Ok(url_encode),
        Some(_) => Err(err(S3ErrorCode::InvalidArgument, "Invalid Encoding Method specified in Request")),
    }
}

fn meta_from(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<&Timestamp>,
    metadata: Option<Metadata>,
) -> S3Result<ObjectMeta> {
    let user: std::collections::BTreeMap<String, String> =
        metadata.unwrap_or_default().into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
    let size: usize = user.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA {
        return Err(err(
            S3ErrorCode::MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    Ok(ObjectMeta {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires: expires.map(|t| millis_of(t) / 1000),
        user,
    })
}

fn check_key(key: &str) -> S3Result<()> {
    if key.len() > MAX_KEY {
        return Err(err(S3ErrorCode::KeyTooLongError, "Your key is too long"));
    }
    if key.is_empty() {
        return Err(err(S3ErrorCode::InvalidArgument, "The key must not be empty."));
    }
    Ok(())
}

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(1000),
        Some(n) if n < 0 => {
            Err(err(S3ErrorCode::InvalidArgument, "Argument maxKeys must be an integer between 0 and 2147483647"))
        }
        Some(n) => Ok(usize::try_from(n).unwrap_or(1000).min(1000)),
    }
}

pub(crate) fn owner(account: &str) -> Owner {
    Owner { display_name: None, id: Some(records::canonical_user_id(account)) }
}

/// Verify `Content-MD5` (base64) against what was written.
fn check_content_md5(content_md5: Option<&str>, written: &Written) -> S3Result<()> {
    let Some(expected) = content_md5 else { return Ok(()) };
    let decoded = base64_decode(expected)
        .filter(|d| d.len() == 16)
        .ok_or_else(|| err(S3ErrorCode::InvalidDigest, "The Content-MD5 you specified was invalid."))?;
    if decoded != written.md5 {
        return Err(err(S3ErrorCode::BadDigest, "The Content-MD5 you specified did not match what we received."));
    }
    Ok(())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)?;
        acc = (acc << 6) | u32::try_from(v).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// A glob with `*` and `?`, as policy resources use.
fn glob(pattern: &str, text: &str) -> bool {
    tessera_policy::wildcard_match(pattern, text)
}

/// S3's checks of a bucket policy beyond the policy grammar: every statement names a
/// principal, and every resource is this bucket or its objects.
fn check_bucket_policy(doc: &str, bucket: &str) -> S3Result<()> {
    let malformed = |m: &'static str| err(S3ErrorCode::MalformedPolicy, m);
    let v: serde_json::Value = serde_json::from_str(doc)
        .map_err(|_| malformed("Policies must be valid JSON and the first byte must be '{'"))?;
    let statements = match v.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(o @ serde_json::Value::Object(_)) => vec![o.clone()],
        _ => return Err(malformed("Missing required field Statement")),
    };
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    for s in &statements {
        if s.get("Principal").is_none() && s.get("NotPrincipal").is_none() {
            return Err(malformed("Missing required field Principal"));
        }
        // "NotPrincipal must be used with "Effect":"Deny". Using it with "Effect":"Allow" is not
        // supported" (IAM User Guide, reference_policies_elements_notprincipal.html): S3 answers 400
        // MalformedPolicy (docs/S3.md says which message Tessera chose).
        if s.get("NotPrincipal").is_some() && s.get("Effect").and_then(|e| e.as_str()) == Some("Allow") {
            return Err(malformed("Invalid principal in policy"));
        }
        let resources = s.get("Resource").or_else(|| s.get("NotResource"));
        let list: Vec<&str> = match resources {
            Some(serde_json::Value::String(r)) => vec![r.as_str()],
            Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str()).collect(),
            _ => return Err(malformed("Missing required field Resource")),
        };
        for r in list {
            let ok = r == bucket_arn
                || r.starts_with(&format!("{bucket_arn}/"))
                || (r.contains(['*', '?']) && (glob(r, &bucket_arn) || glob(r, &format!("{bucket_arn}/x"))));
            if !ok {
                return Err(malformed("Policy has invalid resource"));
            }
        }
    }
    Ok(())
}

impl Backend {
    /// The operations over `services`, bytes under `root`.
    pub fn open(services: Arc<Services>, root: &Path) -> std::io::Result<Backend> {
        let blobs = Blobs::open_for(services.store.as_ref(), root)?;
        Ok(Backend { services, blobs })
    }

    fn read_bucket(&self, name: &str) -> S3Result<Option<BucketRecord>> {
        let r = self.services.store.read().map_err(store_err)?;
        load(r.as_ref(), table::BUCKET, name)
    }

    pub(crate) fn bucket(&self, name: &str) -> S3Result<BucketRecord> {
        self.read_bucket(name)?.ok_or_else(no_such_bucket)
    }

    pub(crate) fn read_object(&self, bucket: &str, key: &str) -> S3Result<Option<ObjectRecord>> {
        let r = self.services.store.read().map_err(store_err)?;
        load(r.as_ref(), table::OBJECT, &records::object_key(bucket, key))
    }

    /// Read `key`'s record, check it and choose the byte range `(offset, len)` to read with
    /// `check`, and open those bytes' blob files ([`Blobs::pin`]) — reading the record again when
    /// a concurrent overwrite or delete removed its blobs in between, so that a read returns the
    /// old object or the new one, never an error. `Ok(None)`: no such key (any more).
    pub(crate) fn read_object_pinned(
        &self,
        bucket: &str,
        key: &str,
        check: impl Fn(&ObjectRecord) -> S3Result<(u64, u64)>,
    ) -> S3Result<Option<PinnedRead>> {
        let mut attempt = 0;
        loop {
            let Some(o) = self.read_object(bucket, key)? else { return Ok(None) };
            let (offset, len) = check(&o)?;
            match self.blobs.pin(&o.segments, offset, len) {
                Ok(pinned) => return Ok(Some((o, pinned, (offset, len)))),
                Err(e) if is_gone(&e) && attempt < STALE_RECORD_RETRIES => attempt += 1,
                Err(e) => return Err(internal(e)),
            }
        }
    }

    pub(crate) fn caller<'a>(&self, cx: &'a RequestCtx) -> S3Result<&'a Caller> {
        cx.caller.as_ref().ok_or_else(|| err(S3ErrorCode::AccessDenied, "Access Denied"))
    }

    /// Authorize `action` on `resource` for the request's caller, the bucket's owner and
    /// policy standing in for the resource.
    pub(crate) fn authorize(
        &self,
        cx: &RequestCtx,
        operation: &str,
        action: &str,
        resource: &str,
        bucket: Option<&BucketRecord>,
        mut context: Ctx,
    ) -> S3Result<()> {
        context.push(("s3:authType".into(), vec![cx.auth_type.as_str().into()]));
        if !cx.signature_version.is_empty() {
            context.push(("s3:signatureversion".into(), vec![cx.signature_version.into()]));
        }
        if let Some(age) = cx.signature_age_millis {
            context.push(("s3:signatureAge".into(), vec![age.max(0).to_string()]));
        }
        if let Some(h) = &cx.content_sha256 {
            context.push(("s3:x-amz-content-sha256".into(), vec![h.clone()]));
        }
        if let Some(b) = bucket {
            context.push(("s3:ResourceAccount".into(), vec![b.owner.clone()]));
        }
        let Some(caller) = &cx.caller else {
            return self.authorize_anonymous(cx, operation, action, resource, bucket, context);
        };
        let resource_policy = match bucket {
            Some(b) => self.resource_policy(Some(&caller.account), b, resource)?,
            None => None,
        };
        let call = Call { caller: caller.clone(), operation: operation.to_string(), meta: cx.meta.clone() };
        let req = AuthzRequest {
            action,
            resource,
            resource_account: bucket.map(|b| b.owner.as_str()),
            resource_policy: resource_policy.as_deref(),
            is_trust_policy: false,
            context,
        };
        self.services.authorize_request(&call, &req).map_err(|e| s3_error(&e))
    }

    /// After a missing key: `NoSuchKey` for callers who may list the bucket, `AccessDenied`
    /// for the others, as S3 answers.
    fn missing_key(&self, cx: &RequestCtx, op: &str, bucket: &BucketRecord) -> S3Error {
        match self.authorize(cx, op, "s3:ListBucket", &bucket.arn(), Some(bucket), Vec::new()) {
            Ok(()) => no_such_key(),
            Err(_) => err(S3ErrorCode::AccessDenied, "Access Denied"),
        }
    }

    /// Bucket-policy operations are for the owner account only (S3 answers 405 otherwise).
    pub(crate) fn owner_only(&self, cx: &RequestCtx, bucket: &BucketRecord) -> S3Result<()> {
        if self.caller(cx)?.account != bucket.owner {
            return Err(err(
                S3ErrorCode::MethodNotAllowed,
                "The specified method is not allowed against this resource.",
            ));
        }
        Ok(())
    }

    /// Commit an object record (if the bucket still exists) and drop the blobs it replaces.
    async fn commit_object(&self, bucket: &BucketRecord, key: &str, record: ObjectRecord) -> S3Result<()> {
        let (bname, created, okey) =
            (bucket.name.clone(), bucket.created_millis, records::object_key(&bucket.name, key));
        let new_blobs: Vec<String> = record.segments.iter().map(|s| s.blob.clone()).collect();
        let result = write_txn(&self.services, move |w| {
            let current: Option<BucketRecord> = load(w, table::BUCKET, &bname)?;
            if current.is_none_or(|b| b.created_millis != created) {
                return Err(no_such_bucket());
            }
            let old: Option<ObjectRecord> = load(w, table::OBJECT, &okey)?;
            save(w, table::OBJECT, &okey, &record)?;
            Ok(old)
        })
        .await;
        self.blobs.settle(result, new_blobs)
    }

    fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> S3Result<list::Page> {
        let r = self.services.store.read().map_err(store_err)?;
        list::list(r.as_ref(), bucket, prefix, delimiter, after, max).map_err(store_err)
    }

    fn list_context(prefix: Option<&str>, delimiter: Option<&str>, max: Option<i32>) -> Ctx {
        let mut c: Ctx = vec![("s3:prefix".into(), vec![prefix.unwrap_or("").into()])];
        if let Some(d) = delimiter {
            c.push(("s3:delimiter".into(), vec![d.into()]));
        }
        c.push(("s3:max-keys".into(), vec![max.unwrap_or(1000).to_string()]));
        c
    }
}

fn object_entry(key: &str, o: &ObjectRecord, enc: fn(&str) -> String, with_owner: bool) -> Object {
    Object {
        checksum_algorithm: None,
        checksum_type: None,
        e_tag: Some(etag(&o.etag)),
        key: Some(enc(key)),
        last_modified: Some(ts(o.last_modified_millis)),
        owner: with_owner.then(|| owner(&o.owner)),
        restore_status: None,
        size: Some(i64::try_from(o.size).unwrap_or(i64::MAX)),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
    }
}

fn split_page(page: &list::Page, enc: fn(&str) -> String, with_owner: bool) -> (Vec<Object>, Vec<CommonPrefix>) {
    let mut objects = Vec::new();
    let mut prefixes = Vec::new();
    for e in &page.entries {
        match e {
            Entry::Object(k, o) => objects.push(object_entry(k, o, enc, with_owner)),
            Entry::Prefix(p) => prefixes.push(CommonPrefix { prefix: Some(enc(p)) }),
        }
    }
    (objects, prefixes)
}

/// Evaluate GET/HEAD preconditions.
fn preconditions(
    o: &ObjectRecord,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(t) => t.value() == o.etag,
    };
    let modified = o.last_modified_millis / 1000;
    if let Some(c) = if_match {
        if !matches(c) {
            return Err(err(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
    } else if let Some(t) = if_unmodified_since {
        if modified > millis_of(t) / 1000 {
            return Err(err(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold",
            ));
        }
    }
    let not_modified = || {
        let mut e = S3Error::new(S3ErrorCode::NotModified);
        e.set_status_code(http::StatusCode::NOT_MODIFIED);
        e
    };
    if let Some(c) = if_none_match {
        if matches(c) {
            return Err(not_modified());
        }
    } else if let Some(t) = if_modified_since {
        if modified <= millis_of(t) / 1000 {
            return Err(not_modified());
        }
    }
    Ok(())
}

fn expires_ts(secs: Option<i64>) -> Option<Timestamp> {
    secs.map(|s| ts(s * 1000))
}

#[async_trait::async_trait]
impl s3s::S3 for Backend {
    // Bucket configurations and access settings: crate::config and crate::bucket_access.

    async fn get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        self.op_get_public_access_block(req).await
    }

    async fn put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        self.op_put_public_access_block(req).await
    }

    async fn delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        self.op_delete_public_access_block(req).await
    }

    async fn get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        self.op_get_bucket_ownership_controls(req).await
    }

    async fn put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        self.op_put_bucket_ownership_controls(req).await
    }

    async fn delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        self.op_delete_bucket_ownership_controls(req).await
    }

    async fn get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        self.op_get_bucket_policy_status(req).await
    }

    async fn get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
        self.op_get_bucket_acl(req).await
    }

    async fn put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
        self.op_put_bucket_acl(req).await
    }

    async fn get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
        self.op_get_object_acl(req).await
    }

    async fn put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
        self.op_put_object_acl(req).await
    }

    async fn get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        self.op_get_bucket_encryption(req).await
    }

    async fn put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        self.op_put_bucket_encryption(req).await
    }

    async fn delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        self.op_delete_bucket_encryption(req).await
    }

    async fn get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        self.op_get_bucket_tagging(req).await
    }

    async fn put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        self.op_put_bucket_tagging(req).await
    }

    async fn delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        self.op_delete_bucket_tagging(req).await
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        self.op_get_bucket_lifecycle_configuration(req).await
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        self.op_put_bucket_lifecycle_configuration(req).await
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        self.op_delete_bucket_lifecycle(req).await
    }

    async fn get_bucket_replication(
        &self,
        req: S3Request<GetBucketReplicationInput>,
    ) -> S3Result<S3Response<GetBucketReplicationOutput>> {
        self.op_get_bucket_replication(req).await
    }

    async fn put_bucket_replication(
        &self,
        req: S3Request<PutBucketReplicationInput>,
    ) -> S3Result<S3Response<PutBucketReplicationOutput>> {
        self.op_put_bucket_replication(req).await
    }

    async fn delete_bucket_replication(
        &self,
        req: S3Request<DeleteBucketReplicationInput>,
    ) -> S3Result<S3Response<DeleteBucketReplicationOutput>> {
        self.op_delete_bucket_replication(req).await
    }

    async fn get_bucket_website(
        &self,
        req: S3Request<GetBucketWebsiteInput>,
    ) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
        self.op_get_bucket_website(req).await
    }

    async fn put_bucket_website(
        &self,
        req: S3Request<PutBucketWebsiteInput>,
    ) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
        self.op_put_bucket_website(req).await
    }

    async fn delete_bucket_website(
        &self,
        req: S3Request<DeleteBucketWebsiteInput>,
    ) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
        self.op_delete_bucket_website(req).await
    }

    async fn get_bucket_cors(&self, req: S3Request<GetBucketCorsInput>) -> S3Result<S3Response<GetBucketCorsOutput>> {
        self.op_get_bucket_cors(req).await
    }

    async fn put_bucket_cors(&self, req: S3Request<PutBucketCorsInput>) -> S3Result<S3Response<PutBucketCorsOutput>> {
        self.op_put_bucket_cors(req).await
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        self.op_delete_bucket_cors(req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        self.op_get_bucket_versioning(req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        self.op_put_bucket_versioning(req).await
    }

    async fn get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> S3Result<S3Response<GetBucketLoggingOutput>> {
        self.op_get_bucket_logging(req).await
    }

    async fn put_bucket_logging(
        &self,
        req: S3Request<PutBucketLoggingInput>,
    ) -> S3Result<S3Response<PutBucketLoggingOutput>> {
        self.op_put_bucket_logging(req).await
    }

    async fn get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        self.op_get_bucket_notification_configuration(req).await
    }

    async fn put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        self.op_put_bucket_notification_configuration(req).await
    }

    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        self.op_get_object_lock_configuration(req).await
    }

    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        self.op_put_object_lock_configuration(req).await
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let cx = ctx(&req)?;
        let caller = self.caller(&cx)?.clone();
        let name = req.input.bucket.clone();
        let constraint = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_string())
            .filter(|l| !l.is_empty());
        let endpoint_region = cx.meta.region.clone();
        let region = match &constraint {
            None if endpoint_region == "us-east-1" => "us-east-1".to_string(),
            None => {
                return Err(err(
                    S3ErrorCode::IllegalLocationConstraintException,
                    "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.",
                ))
            }
            Some(l) if l == "us-east-1" => {
                return Err(err(S3ErrorCode::InvalidLocationConstraint, "The specified location-constraint is not valid"))
            }
            Some(l) if *l != endpoint_region => {
                return Err(S3Error::with_message(
                    S3ErrorCode::IllegalLocationConstraintException,
                    format!("The {l} location constraint is incompatible for the region specific endpoint this request was sent to."),
                ))
            }
            Some(l) => l.clone(),
        };
        let mut context: Ctx = Vec::new();
        if let Some(l) = &constraint {
            context.push(("s3:LocationConstraint".into(), vec![l.clone()]));
        }
        if let Some(acl) = &req.input.acl {
            context.push(("s3:x-amz-acl".into(), vec![acl.as_str().to_string()]));
        }
        if let Some(o) = &req.input.object_ownership {
            context.push(("s3:x-amz-object-ownership".into(), vec![o.as_str().to_string()]));
        }
        self.authorize(&cx, "CreateBucket", "s3:CreateBucket", &format!("arn:aws:s3:::{name}"), None, context)?;
        let object_lock_enabled = req.input.object_lock_enabled_for_bucket.unwrap_or(false);
        if object_lock_enabled {
            self.authorize(
                &cx,
                "CreateBucket",
                "s3:PutBucketObjectLockConfiguration",
                &format!("arn:aws:s3:::{name}"),
                None,
                Vec::new(),
            )?;
            self.authorize(
                &cx,
                "CreateBucket",
                "s3:PutBucketVersioning",
                &format!("arn:aws:s3:::{name}"),
                None,
                Vec::new(),
            )?;
        }
        if req.input.object_ownership.is_some() {
            // "the s3:PutBucketOwnershipControls permission is required" (CreateBucket).
            let arn = format!("arn:aws:s3:::{name}");
            self.authorize(&cx, "CreateBucket", "s3:PutBucketOwnershipControls", &arn, None, Vec::new())?;
        }
        let new_bucket = crate::bucket_access::NewBucket::from_input(&req.input, &caller.account)?;
        let record = BucketRecord {
            name: name.clone(),
            owner: caller.account.clone(),
            created_millis: cx.meta.now_millis,
            region: region.clone(),
            policy: None,
            object_ownership: Some(new_bucket.object_ownership.clone()),
            public_access_block: Some(crate::public_access::PublicAccessBlock::ALL_ON),
            object_lock_enabled,
        };
        write_txn(&self.services, move |w| {
            if let Some(existing) = load::<BucketRecord>(w, table::BUCKET, &record.name)? {
                if existing.owner != record.owner {
                    return Err(err(
                        S3ErrorCode::BucketAlreadyExists,
                        "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.",
                    ));
                }
                // us-east-1 answers 200 to its owner (legacy behaviour); other regions 409.
                if existing.region == "us-east-1" && record.region == "us-east-1" {
                    return Ok(());
                }
                return Err(err(
                    S3ErrorCode::BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it.",
                ));
            }
            save(w, table::BUCKET, &record.name, &record)?;
            new_bucket.store(w, &record)
        })
        .await?;
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{name}")) }))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        self.authorize(&cx, "DeleteBucket", "s3:DeleteBucket", &bucket.arn(), Some(&bucket), Vec::new())?;
        let name = bucket.name.clone();
        let blobs = write_txn(&self.services, move |w| {
            if load::<BucketRecord>(w, table::BUCKET, &name)?.is_none() {
                return Err(no_such_bucket());
            }
            if w.count(table::OBJECT, &format!("{name}/")).map_err(store_err)? > 0 {
                return Err(err(S3ErrorCode::BucketNotEmpty, "The bucket you tried to delete is not empty"));
            }
            let mut blobs = Vec::new();
            let uploads = w.scan(table::UPLOAD, &format!("{name}/"), None, usize::MAX).map_err(store_err)?;
            for (k, v) in uploads {
                let u: UploadRecord = serde_json::from_slice(&v).map_err(internal)?;
                for (pk, pv) in
                    w.scan(table::PART, &format!("{}/", u.upload_id), None, usize::MAX).map_err(store_err)?
                {
                    let p: PartRecord = serde_json::from_slice(&pv).map_err(internal)?;
                    blobs.push(p.blob);
                    w.delete(table::PART, &pk).map_err(store_err)?;
                }
                w.delete(table::UPLOAD, &k).map_err(store_err)?;
            }
            crate::config::delete_all(w, &name)?;
            w.delete(table::BUCKET, &name).map_err(store_err)?;
            Ok(blobs)
        })
        .await?;
        self.blobs.remove(blobs);
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        self.authorize(&cx, "HeadBucket", "s3:ListBucket", &bucket.arn(), Some(&bucket), Vec::new())?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(bucket.region), ..Default::default() }))
    }

    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let cx = ctx(&req)?;
        let account = self.caller(&cx)?.account.clone();
        self.authorize(&cx, "ListBuckets", "s3:ListAllMyBuckets", "*", None, Vec::new())?;
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let max = match req.input.max_buckets {
            None => usize::MAX,
            Some(n) if !(1..=10_000).contains(&n) => {
                return Err(err(
                    S3ErrorCode::InvalidArgument,
                    "Argument max-buckets must be an integer between 1 and 10000",
                ))
            }
            Some(n) => usize::try_from(n).unwrap_or(10_000),
        };
        let after =
            match &req.input.continuation_token {
                Some(t) => Some(hex::decode(t).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
                    err(S3ErrorCode::InvalidArgument, "The continuation token provided is incorrect")
                })?),
                None => None,
            };
        let rows = {
            let r = self.services.store.read().map_err(store_err)?;
            r.scan(table::BUCKET, &prefix, after.as_deref(), usize::MAX).map_err(store_err)?
        };
        let mut buckets = Vec::new();
        let mut next = None;
        for (name, v) in rows {
            let b: BucketRecord = serde_json::from_slice(&v).map_err(internal)?;
            if b.owner != account {
                continue;
            }
            if buckets.len() == max {
                next = buckets.last().and_then(|x: &Bucket| x.name.as_ref()).map(|n| hex::encode(n.as_bytes()));
                break;
            }
            buckets.push(Bucket {
                bucket_region: Some(b.region.clone()),
                creation_date: Some(ts(b.created_millis)),
                name: Some(name),
            });
        }
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            continuation_token: next,
            owner: Some(owner(&account)),
            prefix: req.input.prefix,
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        self.authorize(&cx, "GetBucketLocation", "s3:GetBucketLocation", &bucket.arn(), Some(&bucket), Vec::new())?;
        let location_constraint = (bucket.region != "us-east-1").then(|| BucketLocationConstraint::from(bucket.region));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }

    async fn put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        self.authorize(&cx, "PutBucketPolicy", "s3:PutBucketPolicy", &bucket.arn(), Some(&bucket), Vec::new())?;
        self.owner_only(&cx, &bucket)?;
        let policy = req.input.policy;
        authz::validate_policy_document(&policy, PolicyDocKind::Resource, &bucket.name).map_err(|e| {
            let mut s = S3Error::with_message(S3ErrorCode::MalformedPolicy, e.message.clone());
            s.set_status_code(http::StatusCode::BAD_REQUEST);
            s
        })?;
        check_bucket_policy(&policy, &bucket.name)?;
        self.check_block_public_policy(&cx, &bucket, &policy)?;
        let name = bucket.name.clone();
        write_txn(&self.services, move |w| {
            let mut b: BucketRecord = load(w, table::BUCKET, &name)?.ok_or_else(no_such_bucket)?;
            b.policy = Some(policy);
            save(w, table::BUCKET, &name, &b)
        })
        .await?;
        Ok(S3Response::new(PutBucketPolicyOutput::default()))
    }

    async fn get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        self.authorize(&cx, "GetBucketPolicy", "s3:GetBucketPolicy", &bucket.arn(), Some(&bucket), Vec::new())?;
        self.owner_only(&cx, &bucket)?;
        let policy =
            bucket.policy.ok_or_else(|| err(S3ErrorCode::NoSuchBucketPolicy, "The bucket policy does not exist"))?;
        Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
    }

    async fn delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        self.authorize(&cx, "DeleteBucketPolicy", "s3:DeleteBucketPolicy", &bucket.arn(), Some(&bucket), Vec::new())?;
        self.owner_only(&cx, &bucket)?;
        let name = bucket.name.clone();
        write_txn(&self.services, move |w| {
            let mut b: BucketRecord = load(w, table::BUCKET, &name)?.ok_or_else(no_such_bucket)?;
            b.policy = None;
            save(w, table::BUCKET, &name, &b)
        })
        .await?;
        Ok(S3Response::new(DeleteBucketPolicyOutput::default()))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let cx = ctx(&req)?;
        let caller = self.caller(&cx)?.clone();
        let input = req.input;
        check_key(&input.key)?;
        let bucket = self.bucket(&input.bucket)?;
        let mut context: Ctx = Vec::new();
        if let Some(acl) = &input.acl {
            context.push(("s3:x-amz-acl".into(), vec![acl.as_str().to_string()]));
        }
        if let Some(sse) = &input.server_side_encryption {
            context.push(("s3:x-amz-server-side-encryption".into(), vec![sse.as_str().to_string()]));
        }
        if let Some(sc) = &input.storage_class {
            context.push(("s3:x-amz-storage-class".into(), vec![sc.as_str().to_string()]));
        }
        self.authorize(
            &cx,
            "PutObject",
            "s3:PutObject",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            context,
        )?;
        let acl = self.object_write_acl(
            &bucket,
            &caller.account,
            input.acl.as_ref().map(|a| a.as_str()),
            &GrantHeaders::object(
                input.grant_full_control.as_ref(),
                input.grant_read.as_ref(),
                input.grant_read_acp.as_ref(),
                input.grant_write_acp.as_ref(),
            ),
        )?;
        let expected = input.content_length.and_then(|n| u64::try_from(n).ok());
        if expected.is_some_and(|n| n > MAX_PUT) {
            return Err(err(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"));
        }
        let meta = meta_from(
            input.content_type.clone(),
            input.content_encoding.clone(),
            input.content_disposition.clone(),
            input.content_language.clone(),
            input.cache_control.clone(),
            input.expires.as_ref(),
            input.metadata.clone(),
        )?;
        let written = match input.body {
            Some(body) => self.blobs.write(body, expected).await.map_err(write_error)?,
            None => self
                .blobs
                .write(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>(), Some(0))
                .await
                .map_err(write_error)?,
        };
        if let Err(e) = check_content_md5(input.content_md5.as_deref(), &written) {
            self.blobs.remove([written.blob]);
            return Err(e);
        }
        if written.size > MAX_PUT {
            self.blobs.remove([written.blob]);
            return Err(err(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"));
        }
        let tag = hex::encode(written.md5);
        let record = ObjectRecord {
            size: written.size,
            etag: tag.clone(),
            last_modified_millis: self.services.clock.now_millis(),
            meta,
            segments: vec![Segment { blob: written.blob, size: written.size }],
            parts_count: None,
            owner: caller.account,
            acl,
        };
        self.commit_object(&bucket, &input.key, record).await?;
        Ok(S3Response::new(PutObjectOutput { e_tag: Some(etag(&tag)), ..Default::default() }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let cx = ctx(&req)?;
        let input = &req.input;
        let bucket = self.bucket(&input.bucket)?;
        self.authorize(
            &cx,
            "GetObject",
            "s3:GetObject",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            Vec::new(),
        )?;
        if input.part_number.is_some() || input.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(err(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
            ));
        }
        let read = self.read_object_pinned(&bucket.name, &input.key, |o| {
            preconditions(
                o,
                input.if_match.as_ref(),
                input.if_none_match.as_ref(),
                input.if_modified_since.as_ref(),
                input.if_unmodified_since.as_ref(),
            )?;
            match &input.range {
                None => Ok((0, o.size)),
                Some(r) => {
                    let range = r
                        .check(o.size)
                        .map_err(|_| err(S3ErrorCode::InvalidRange, "The requested range is not satisfiable"))?;
                    Ok((range.start, range.end - range.start))
                }
            }
        })?;
        let Some((o, pinned, (start, len))) = read else {
            return Err(self.missing_key(&cx, "GetObject", &bucket));
        };
        let content_range =
            input.range.is_some().then(|| format!("bytes {}-{}/{}", start, (start + len).saturating_sub(1), o.size));
        let body = if len <= SMALL_READ {
            let bytes = self.blobs.read_small(&o.segments, pinned, start, len).map_err(internal)?;
            StreamingBlob::from(s3s::Body::from(bytes))
        } else {
            StreamingBlob::new(self.blobs.read_stream(o.segments.clone(), pinned, start, len).map_err(internal)?)
        };
        let m = o.meta;
        let output = GetObjectOutput {
            accept_ranges: Some("bytes".into()),
            body: Some(body),
            cache_control: m.cache_control,
            content_disposition: m.content_disposition,
            content_encoding: m.content_encoding,
            content_language: m.content_language,
            content_length: Some(i64::try_from(len).unwrap_or(i64::MAX)),
            content_range,
            content_type: Some(m.content_type.unwrap_or_else(|| "binary/octet-stream".into())),
            e_tag: Some(etag(&o.etag)),
            expires: expires_ts(m.expires),
            last_modified: Some(ts(o.last_modified_millis)),
            metadata: (!m.user.is_empty()).then(|| m.user.into_iter().collect()),
            ..Default::default()
        };
        Ok(S3Response::new(output))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let cx = ctx(&req)?;
        let input = &req.input;
        let bucket = self.bucket(&input.bucket)?;
        self.authorize(
            &cx,
            "HeadObject",
            "s3:GetObject",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            Vec::new(),
        )?;
        if input.part_number.is_some() || input.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(err(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
            ));
        }
        let o = match self.read_object(&bucket.name, &input.key)? {
            Some(o) => o,
            None => return Err(self.missing_key(&cx, "HeadObject", &bucket)),
        };
        preconditions(
            &o,
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
            input.if_modified_since.as_ref(),
            input.if_unmodified_since.as_ref(),
        )?;
        let (len, content_range) = match &input.range {
            None => (o.size, None),
            Some(r) => {
                let range = r
                    .check(o.size)
                    .map_err(|_| err(S3ErrorCode::InvalidRange, "The requested range is not satisfiable"))?;
                (
                    range.end - range.start,
                    Some(format!("bytes {}-{}/{}", range.start, range.end.saturating_sub(1), o.size)),
                )
            }
        };
        let m = o.meta;
        Ok(S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            cache_control: m.cache_control,
            content_disposition: m.content_disposition,
            content_encoding: m.content_encoding,
            content_language: m.content_language,
            content_length: Some(i64::try_from(len).unwrap_or(i64::MAX)),
            content_range,
            content_type: Some(m.content_type.unwrap_or_else(|| "binary/octet-stream".into())),
            e_tag: Some(etag(&o.etag)),
            expires: expires_ts(m.expires),
            last_modified: Some(ts(o.last_modified_millis)),
            metadata: (!m.user.is_empty()).then(|| m.user.into_iter().collect()),
            parts_count: None,
            ..Default::default()
        }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        let key = req.input.key.clone();
        self.authorize(
            &cx,
            "DeleteObject",
            "s3:DeleteObject",
            &object_arn(&bucket.name, &key),
            Some(&bucket),
            Vec::new(),
        )?;
        if req.input.version_id.as_deref().is_some_and(|v| v != "null") {
            return Err(err(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
            ));
        }
        let okey = records::object_key(&bucket.name, &key);
        let old = write_txn(&self.services, move |w| {
            let old: Option<ObjectRecord> = load(w, table::OBJECT, &okey)?;
            if old.is_some() {
                w.delete(table::OBJECT, &okey).map_err(store_err)?;
            }
            Ok(old)
        })
        .await?;
        if let Some(o) = old {
            self.blobs.remove(o.segments.into_iter().map(|s| s.blob));
        }
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let cx = ctx(&req)?;
        let bucket = self.bucket(&req.input.bucket)?;
        let delete = req.input.delete;
        if delete.objects.len() > 1000 {
            return Err(err(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        let quiet = delete.quiet.unwrap_or(false);
        let mut allowed = Vec::new();
        let mut errors = Vec::new();
        for o in delete.objects {
            let denied = self
                .authorize(
                    &cx,
                    "DeleteObjects",
                    "s3:DeleteObject",
                    &object_arn(&bucket.name, &o.key),
                    Some(&bucket),
                    Vec::new(),
                )
                .err();
            match denied {
                None => allowed.push(o.key),
                Some(e) => errors.push(Error {
                    code: Some("AccessDenied".into()),
                    key: Some(o.key),
                    message: Some(e.message().unwrap_or("Access Denied").to_string()),
                    version_id: None,
                }),
            }
        }
        let name = bucket.name.clone();
        let keys = allowed.clone();
        let blobs = write_txn(&self.services, move |w| {
            let mut blobs = Vec::new();
            for k in &keys {
                let okey = records::object_key(&name, k);
                if let Some(o) = load::<ObjectRecord>(w, table::OBJECT, &okey)? {
                    w.delete(table::OBJECT, &okey).map_err(store_err)?;
                    blobs.extend(o.segments.into_iter().map(|s| s.blob));
                }
            }
            Ok(blobs)
        })
        .await?;
        self.blobs.remove(blobs);
        let deleted = if quiet {
            Vec::new()
        } else {
            allowed.into_iter().map(|k| DeletedObject { key: Some(k), ..Default::default() }).collect()
        };
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            request_charged: None,
        }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let cx = ctx(&req)?;
        let caller = self.caller(&cx)?.clone();
        let input = req.input;
        check_key(&input.key)?;
        let (src_bucket, src_key, version) = match &input.copy_source {
            CopySource::Bucket { bucket, key, version_id } => (bucket.to_string(), key.to_string(), version_id.clone()),
            _ => return Err(err(S3ErrorCode::NotImplemented, "Copying from an access point is not implemented")),
        };
        if version.as_deref().is_some_and(|v| v != "null") {
            return Err(err(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
            ));
        }
        let dest = self.bucket(&input.bucket)?;
        let source_bucket = self.bucket(&src_bucket)?;
        self.authorize(
            &cx,
            "CopyObject",
            "s3:GetObject",
            &object_arn(&source_bucket.name, &src_key),
            Some(&source_bucket),
            Vec::new(),
        )?;
        let directive = input.metadata_directive.as_ref().map(|d| d.as_str().to_string());
        let mut context: Ctx = vec![("s3:x-amz-copy-source".into(), vec![format!("{src_bucket}/{src_key}")])];
        if let Some(d) = &directive {
            context.push(("s3:x-amz-metadata-directive".into(), vec![d.clone()]));
        }
        self.authorize(&cx, "CopyObject", "s3:PutObject", &object_arn(&dest.name, &input.key), Some(&dest), context)?;
        let acl = self.object_write_acl(
            &dest,
            &caller.account,
            input.acl.as_ref().map(|a| a.as_str()),
            &GrantHeaders::object(
                input.grant_full_control.as_ref(),
                input.grant_read.as_ref(),
                input.grant_read_acp.as_ref(),
                input.grant_write_acp.as_ref(),
            ),
        )?;
        let read = self.read_object_pinned(&source_bucket.name, &src_key, |src| {
            if src.size > MAX_PUT {
                return Err(err(
                    S3ErrorCode::InvalidRequest,
                    "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120",
                ));
            }
            preconditions(
                src,
                input.copy_source_if_match.as_ref(),
                input.copy_source_if_none_match.as_ref(),
                input.copy_source_if_modified_since.as_ref(),
                input.copy_source_if_unmodified_since.as_ref(),
            )
            .map_err(|e| {
                if *e.code() == S3ErrorCode::NotModified {
                    err(
                        S3ErrorCode::PreconditionFailed,
                        "At least one of the pre-conditions you specified did not hold",
                    )
                } else {
                    e
                }
            })?;
            Ok((0, src.size))
        })?;
        let Some((src, src_pinned, _)) = read else {
            return Err(self.missing_key(&cx, "CopyObject", &source_bucket));
        };
        let replace = match directive.as_deref() {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(_) => return Err(err(S3ErrorCode::InvalidArgument, "Unknown metadata directive.")),
        };
        if !replace && src_bucket == dest.name && src_key == input.key {
            return Err(err(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let meta = if replace {
            meta_from(
                input.content_type.clone(),
                input.content_encoding.clone(),
                input.content_disposition.clone(),
                input.content_language.clone(),
                input.cache_control.clone(),
                input.expires.as_ref(),
                input.metadata.clone(),
            )?
        } else {
            src.meta.clone()
        };
        let written = self.blobs.copy(&src.segments, src_pinned).await.map_err(write_error)?;
        let tag = hex::encode(written.md5);
        let now = self.services.clock.now_millis();
        let record = ObjectRecord {
            size: written.size,
            etag: tag.clone(),
            last_modified_millis: now,
            meta,
            segments: vec![Segment { blob: written.blob, size: written.size }],
            parts_count: None,
            owner: caller.account,
            acl,
        };
        self.commit_object(&dest, &input.key, record).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&tag)),
                last_modified: Some(ts(now)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let cx = ctx(&req)?;
        let input = &req.input;
        let bucket = self.bucket(&input.bucket)?;
        let context = Backend::list_context(input.prefix.as_deref(), input.delimiter.as_deref(), input.max_keys);
        self.authorize(&cx, "ListObjects", "s3:ListBucket", &bucket.arn(), Some(&bucket), context)?;
        let enc = encoder(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let page = self.list_page(&bucket.name, &prefix, input.delimiter.as_deref(), input.marker.as_deref(), max)?;
        let next_marker =
            if page.truncated && input.delimiter.is_some() { page.entries.last().map(|e| enc(e.name())) } else { None };
        let (objects, prefixes) = split_page(&page, enc, true);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(bucket.name),
            prefix: Some(enc(&prefix)),
            marker: Some(input.marker.as_deref().map(enc).unwrap_or_default()),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            is_truncated: Some(page.truncated),
            contents: (!objects.is_empty()).then_some(objects),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delimiter: input.delimiter.as_deref().map(enc),
            next_marker,
            encoding_type: input.encoding_type.clone(),
            request_charged: None,
        }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let cx = ctx(&req)?;
        let input = &req.input;
        let bucket = self.bucket(&input.bucket)?;
        let context = Backend::list_context(input.prefix.as_deref(), input.delimiter.as_deref(), input.max_keys);
        self.authorize(&cx, "ListObjectsV2", "s3:ListBucket", &bucket.arn(), Some(&bucket), context)?;
        let enc = encoder(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after =
            match &input.continuation_token {
                Some(t) => Some(hex::decode(t).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
                    err(S3ErrorCode::InvalidArgument, "The continuation token provided is incorrect")
                })?),
                None => input.start_after.clone(),
            };
        let page = self.list_page(&bucket.name, &prefix, input.delimiter.as_deref(), after.as_deref(), max)?;
        let next = if page.truncated { page.entries.last().map(|e| hex::encode(e.name().as_bytes())) } else { None };
        let (objects, prefixes) = split_page(&page, enc, input.fetch_owner.unwrap_or(false));
        let count = objects.len() + prefixes.len();
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(bucket.name),
            prefix: Some(enc(&prefix)),
            max_keys: Some(i32::try_from(max).unwrap_or(1000)),
            key_count: Some(i32::try_from(count).unwrap_or(0)),
            continuation_token: input.continuation_token.clone(),
            is_truncated: Some(page.truncated),
            next_continuation_token: next,
            contents: (!objects.is_empty()).then_some(objects),
            common_prefixes: (!prefixes.is_empty()).then_some(prefixes),
            delimiter: input.delimiter.as_deref().map(enc),
            encoding_type: input.encoding_type.clone(),
            start_after: input.start_after.as_deref().map(enc),
            request_charged: None,
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let cx = ctx(&req)?;
        let caller = self.caller(&cx)?.clone();
        let input = req.input;
        check_key(&input.key)?;
        let bucket = self.bucket(&input.bucket)?;
        self.authorize(
            &cx,
            "CreateMultipartUpload",
            "s3:PutObject",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            Vec::new(),
        )?;
        let acl = self.object_write_acl(
            &bucket,
            &caller.account,
            input.acl.as_ref().map(|a| a.as_str()),
            &GrantHeaders::object(
                input.grant_full_control.as_ref(),
                input.grant_read.as_ref(),
                input.grant_read_acp.as_ref(),
                input.grant_write_acp.as_ref(),
            ),
        )?;
        let meta = meta_from(
            input.content_type.clone(),
            input.content_encoding.clone(),
            input.content_disposition.clone(),
            input.content_language.clone(),
            input.cache_control.clone(),
            input.expires.as_ref(),
            input.metadata.clone(),
        )?;
        let upload_id = {
            use rand::Rng;
            let mut b = [0u8; 24];
            rand::rngs::OsRng.fill(&mut b);
            hex::encode(b)
        };
        let record = UploadRecord {
            bucket: bucket.name.clone(),
            key: input.key.clone(),
            upload_id: upload_id.clone(),
            initiated_millis: cx.meta.now_millis,
            owner: caller.account.clone(),
            initiator_arn: caller.arn.clone(),
            initiator_id: caller.user_id.clone(),
            meta,
            acl,
        };
        let name = bucket.name.clone();
        write_txn(&self.services, move |w| {
            if load::<BucketRecord>(w, table::BUCKET, &name)?.is_none() {
                return Err(no_such_bucket());
            }
            save(w, table::UPLOAD, &records::upload_key(&name, &record.upload_id), &record)
        })
        .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(bucket.name),
            key: Some(input.key),
            upload_id: Some(upload_id),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let cx = ctx(&req)?;
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        self.authorize(
            &cx,
            "UploadPart",
            "s3:PutObject",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            Vec::new(),
        )?;
        if !(1..=10_000).contains(&input.part_number) {
            return Err(err(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        let ukey = records::upload_key(&bucket.name, &input.upload_id);
        let upload: UploadRecord = {
            let r = self.services.store.read().map_err(store_err)?;
            load(r.as_ref(), table::UPLOAD, &ukey)?.ok_or_else(no_such_upload)?
        };
        if upload.key != input.key {
            return Err(no_such_upload());
        }
        let expected = input.content_length.and_then(|n| u64::try_from(n).ok());
        if expected.is_some_and(|n| n > MAX_PUT) {
            return Err(err(S3ErrorCode::EntityTooLarge, "Your proposed upload exceeds the maximum allowed size"));
        }
        let written = match input.body {
            Some(body) => self.blobs.write(body, expected).await.map_err(write_error)?,
            None => self
                .blobs
                .write(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>(), Some(0))
                .await
                .map_err(write_error)?,
        };
        if let Err(e) = check_content_md5(input.content_md5.as_deref(), &written) {
            self.blobs.remove([written.blob]);
            return Err(e);
        }
        let tag = hex::encode(written.md5);
        let part = PartRecord {
            number: input.part_number,
            size: written.size,
            etag: tag.clone(),
            last_modified_millis: self.services.clock.now_millis(),
            blob: written.blob.clone(),
        };
        let pkey = records::part_key(&input.upload_id, input.part_number);
        let result = write_txn(&self.services, move |w| {
            if load::<UploadRecord>(w, table::UPLOAD, &ukey)?.is_none() {
                return Err(no_such_upload());
            }
            let old: Option<PartRecord> = load(w, table::PART, &pkey)?;
            save(w, table::PART, &pkey, &part)?;
            Ok(old)
        })
        .await;
        match result {
            Ok(old) => {
                if let Some(old) = old {
                    self.blobs.remove([old.blob]);
                }
            }
            Err(e) => {
                self.blobs.remove([written.blob]);
                return Err(e);
            }
        }
        Ok(S3Response::new(UploadPartOutput { e_tag: Some(etag(&tag)), ..Default::default() }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let cx = ctx(&req)?;
        let caller = self.caller(&cx)?.clone();
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        self.authorize(
            &cx,
            "CompleteMultipartUpload",
            "s3:PutObject",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            Vec::new(),
        )?;
        let wanted: Vec<(i32, String)> = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default()
            .into_iter()
            .map(|p| (p.part_number.unwrap_or(0), p.e_tag.map(|t| t.value().to_string()).unwrap_or_default()))
            .collect();
        if wanted.is_empty() {
            return Err(err(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        if wanted.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(err(
                S3ErrorCode::InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
            ));
        }
        let ukey = records::upload_key(&bucket.name, &input.upload_id);
        let upload_id = input.upload_id.clone();
        let key = input.key.clone();
        let bname = bucket.name.clone();
        let created = bucket.created_millis;
        let now = self.services.clock.now_millis();
        let account = caller.account.clone();
        let (tag, drop_blobs) = write_txn(&self.services, move |w| {
            let upload: UploadRecord = load(w, table::UPLOAD, &ukey)?.ok_or_else(no_such_upload)?;
            if upload.key != key {
                return Err(no_such_upload());
            }
            if load::<BucketRecord>(w, table::BUCKET, &bname)?.is_none_or(|b| b.created_millis != created) {
                return Err(no_such_bucket());
            }
            let rows = w.scan(table::PART, &format!("{upload_id}/"), None, usize::MAX).map_err(store_err)?;
            let mut parts = Vec::new();
            for (k, v) in rows {
                let p: PartRecord = serde_json::from_slice(&v).map_err(internal)?;
                parts.push((k, p));
            }
            let invalid_part = || {
                err(
                    S3ErrorCode::InvalidPart,
                    "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                )
            };
            let mut chosen = Vec::new();
            for (i, (n, t)) in wanted.iter().enumerate() {
                let p = parts.iter().find(|(_, p)| p.number == *n).map(|(_, p)| p.clone()).ok_or_else(invalid_part)?;
                if p.etag != t.trim_matches('"') {
                    return Err(invalid_part());
                }
                if i + 1 < wanted.len() && p.size < MIN_PART {
                    return Err(err(S3ErrorCode::EntityTooSmall, "Your proposed upload is smaller than the minimum allowed object size."));
                }
                chosen.push(p);
            }
            let mut md5 = Md5::new();
            for p in &chosen {
                md5.update(hex::decode(&p.etag).map_err(internal)?);
            }
            let tag = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
            let size = chosen.iter().map(|p| p.size).sum();
            let mut drop_blobs: Vec<String> = parts
                .iter()
                .filter(|(_, p)| !chosen.iter().any(|c| c.blob == p.blob))
                .map(|(_, p)| p.blob.clone())
                .collect();
            for (k, _) in &parts {
                w.delete(table::PART, k).map_err(store_err)?;
            }
            w.delete(table::UPLOAD, &ukey).map_err(store_err)?;
            let okey = records::object_key(&bname, &key);
            if let Some(old) = load::<ObjectRecord>(w, table::OBJECT, &okey)? {
                drop_blobs.extend(old.segments.into_iter().map(|s| s.blob));
            }
            let record = ObjectRecord {
                size,
                etag: tag.clone(),
                last_modified_millis: now,
                meta: upload.meta,
                segments: chosen.iter().map(|p| Segment { blob: p.blob.clone(), size: p.size }).collect(),
                parts_count: Some(u32::try_from(chosen.len()).unwrap_or(u32::MAX)),
                owner: account,
                acl: upload.acl,
            };
            save(w, table::OBJECT, &okey, &record)?;
            Ok((tag, drop_blobs))
        })
        .await?;
        self.blobs.remove(drop_blobs);
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(bucket.name.clone()),
            key: Some(input.key.clone()),
            e_tag: Some(etag(&tag)),
            location: Some(format!("{}/{}/{}", self.services.config.endpoint, bucket.name, input.key)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let cx = ctx(&req)?;
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        self.authorize(
            &cx,
            "AbortMultipartUpload",
            "s3:AbortMultipartUpload",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            Vec::new(),
        )?;
        let ukey = records::upload_key(&bucket.name, &input.upload_id);
        let upload_id = input.upload_id.clone();
        let key = input.key.clone();
        let blobs = write_txn(&self.services, move |w| {
            let upload: UploadRecord = load(w, table::UPLOAD, &ukey)?.ok_or_else(no_such_upload)?;
            if upload.key != key {
                return Err(no_such_upload());
            }
            let mut blobs = Vec::new();
            for (k, v) in w.scan(table::PART, &format!("{upload_id}/"), None, usize::MAX).map_err(store_err)? {
                let p: PartRecord = serde_json::from_slice(&v).map_err(internal)?;
                blobs.push(p.blob);
                w.delete(table::PART, &k).map_err(store_err)?;
            }
            w.delete(table::UPLOAD, &ukey).map_err(store_err)?;
            Ok(blobs)
        })
        .await?;
        self.blobs.remove(blobs);
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let cx = ctx(&req)?;
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        self.authorize(
            &cx,
            "ListParts",
            "s3:ListMultipartUploadParts",
            &object_arn(&bucket.name, &input.key),
            Some(&bucket),
            Vec::new(),
        )?;
        let max = match input.max_parts {
            None => 1000,
            Some(n) if n < 0 => {
                return Err(err(
                    S3ErrorCode::InvalidArgument,
                    "Argument max-parts must be an integer between 0 and 2147483647",
                ))
            }
            Some(n) => usize::try_from(n).unwrap_or(1000).min(1000),
        };
        let marker = input.part_number_marker.unwrap_or(0);
        let r = self.services.store.read().map_err(store_err)?;
        let upload: UploadRecord =
            load(r.as_ref(), table::UPLOAD, &records::upload_key(&bucket.name, &input.upload_id))?
                .ok_or_else(no_such_upload)?;
        if upload.key != input.key {
            return Err(no_such_upload());
        }
        let after = (marker > 0).then(|| records::part_key(&input.upload_id, marker));
        let rows =
            r.scan(table::PART, &format!("{}/", input.upload_id), after.as_deref(), max + 1).map_err(store_err)?;
        let truncated = rows.len() > max;
        let mut parts = Vec::new();
        for (_, v) in rows.into_iter().take(max) {
            let p: PartRecord = serde_json::from_slice(&v).map_err(internal)?;
            parts.push(Part {
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.last_modified_millis)),
                part_number: Some(p.number),
                size: Some(i64::try_from(p.size).unwrap_or(i64::MAX)),
                ..Default::default()
            });
        }
        let next = parts.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(bucket.name),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            initiator: Some(Initiator { display_name: None, id: Some(upload.initiator_arn.clone()) }),
            owner: Some(owner(&upload.owner)),
            is_truncated: Some(truncated),
            max_parts: Some(i32::try_from(max).unwrap_or(1000)),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: if truncated { next } else { None },
            parts: Some(parts),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let cx = ctx(&req)?;
        let input = req.input;
        let bucket = self.bucket(&input.bucket)?;
        let context = Backend::list_context(input.prefix.as_deref(), input.delimiter.as_deref(), input.max_uploads);
        self.authorize(
            &cx,
            "ListMultipartUploads",
            "s3:ListBucketMultipartUploads",
            &bucket.arn(),
            Some(&bucket),
            context,
        )?;
        if input.delimiter.is_some() || input.key_marker.is_some() || input.upload_id_marker.is_some() {
            return Err(err(
                S3ErrorCode::NotImplemented,
                "A header you provided implies functionality that is not implemented",
            ));
        }
        let enc = encoder(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_uploads)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let rows = {
            let r = self.services.store.read().map_err(store_err)?;
            r.scan(table::UPLOAD, &format!("{}/", bucket.name), None, usize::MAX).map_err(store_err)?
        };
        let mut uploads: Vec<UploadRecord> = Vec::new();
        for (_, v) in rows {
            let u: UploadRecord = serde_json::from_slice(&v).map_err(internal)?;
            if u.key.starts_with(&prefix) {
                uploads.push(u);
            }
        }
        uploads.sort_by(|a, b| a.key.cmp(&b.key).then(a.initiated_millis.cmp(&b.initiated_millis)));
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        let next = if truncated { uploads.last().map(|u| (enc(&u.key), u.upload_id.clone())) } else { None };
        let list = uploads
            .into_iter()
            .map(|u| MultipartUpload {
                initiated: Some(ts(u.initiated_millis)),
                initiator: Some(Initiator { display_name: None, id: Some(u.initiator_arn.clone()) }),
                key: Some(enc(&u.key)),
                owner: Some(owner(&u.owner)),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                upload_id: Some(u.upload_id),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(bucket.name),
            encoding_type: input.encoding_type.clone(),
            is_truncated: Some(truncated),
            max_uploads: Some(i32::try_from(max).unwrap_or(1000)),
            next_key_marker: next.as_ref().map(|n| n.0.clone()),
            next_upload_id_marker: next.map(|n| n.1),
            prefix: Some(enc(&prefix)),
            uploads: Some(list),
            ..Default::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoding_keeps_slashes() {
        assert_eq!(url_encode("a b/c+d"), "a%20b/c%2Bd");
    }

    #[test]
    fn base64_md5() {
        assert_eq!(
            base64_decode("1B2M2Y8AsgTpgAmY7PhCfg=="),
            Some(hex::decode("d41d8cd98f00b204e9800998ecf8427e").unwrap())
        );
    }

    #[test]
    fn bucket_policy_resources() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*"}]}"#;
        assert!(check_bucket_policy(ok, "b1").is_ok());
        let other = ok.replace("b1/*", "b2/*");
        assert!(check_bucket_policy(&other, "b1").is_err());
        let no_principal = r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b1"}]}"#;
        assert!(check_bucket_policy(no_principal, "b1").is_err());
        let allow_not_principal = r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/u1"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b1/*"}]}"#;
        assert!(check_bucket_policy(allow_not_principal, "b1").is_err());
        let deny_not_principal = allow_not_principal.replace("Allow", "Deny");
        assert!(check_bucket_policy(&deny_not_principal, "b1").is_ok());
        assert!(glob("arn:aws:s3:::b*", "arn:aws:s3:::b1"));
    }
}
