//! Bucket configurations (`?encryption`, `?tagging`, `?lifecycle`, `?replication`, `?website`,
//! `?cors`, `?versioning`, `?logging`, `?notification`, `?object-lock`): each operation
//! authorizes with its own action of the Service Authorization Reference's S3 table, validates
//! as S3 does, and stores the configuration in table [`table::CONFIG`] under
//! `<bucket>/<kind>` in its XML form, one transaction per request. Which of them Tessera acts on
//! is in docs/S3.md ("stored only" / "enforced").

use s3s::dto::*;
use s3s::xml;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tessera_store::WriteTxn;

use crate::ops::{ctx, internal, load, no_such_bucket, save, store_err, write_txn, Backend};
use crate::records::{table, BucketRecord};
use crate::validate;
use crate::RequestCtx;

/// The kinds of stored configuration (the `<kind>` of a [`table::CONFIG`] key).
pub(crate) mod kind {
    pub const ENCRYPTION: &str = "encryption";
    pub const TAGGING: &str = "tagging";
    pub const LIFECYCLE: &str = "lifecycle";
    pub const REPLICATION: &str = "replication";
    pub const WEBSITE: &str = "website";
    pub const CORS: &str = "cors";
    pub const VERSIONING: &str = "versioning";
    pub const LOGGING: &str = "logging";
    pub const NOTIFICATION: &str = "notification";
    pub const OBJECT_LOCK: &str = "object-lock";
    pub const ACL: &str = "acl";
}

fn key(bucket: &str, kind: &str) -> String {
    format!("{bucket}/{kind}")
}

/// An S3 error with its own status (codes `s3s` does not know, or whose status differs).
pub(crate) fn s3_err(code: &str, status: u16, message: impl Into<String>) -> S3Error {
    let code = S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or_else(|| S3ErrorCode::Custom(code.to_string().into()));
    let mut e = S3Error::with_message(code, message.into());
    if let Ok(s) = http::StatusCode::from_u16(status) {
        e.set_status_code(s);
    }
    e
}

/// `value` in its XML form.
fn to_xml<T: xml::Serialize>(value: &T) -> S3Result<String> {
    let mut buf = Vec::new();
    value.serialize(&mut xml::Serializer::new(&mut buf)).map_err(internal)?;
    String::from_utf8(buf).map_err(internal)
}

/// A configuration back from its XML form.
fn from_xml<T: for<'x> xml::Deserialize<'x>>(text: &str) -> S3Result<T> {
    T::deserialize(&mut xml::Deserializer::new(text.as_bytes())).map_err(internal)
}

/// A stored configuration of `bucket`, read inside a transaction.
pub(crate) fn read_config<T: for<'x> xml::Deserialize<'x>>(
    r: &(impl tessera_store::ReadTxn + ?Sized),
    bucket: &str,
    kind: &str,
) -> S3Result<Option<T>> {
    match load::<String>(r, table::CONFIG, &key(bucket, kind))? {
        Some(text) => from_xml(&text).map(Some),
        None => Ok(None),
    }
}

/// Store (or with `None` remove) a configuration of `bucket` inside a transaction.
pub(crate) fn write_config<T: xml::Serialize>(
    w: &mut dyn WriteTxn,
    bucket: &str,
    kind: &str,
    value: Option<&T>,
) -> S3Result<()> {
    match value {
        Some(v) => save(w, table::CONFIG, &key(bucket, kind), &to_xml(v)?),
        None => w.delete(table::CONFIG, &key(bucket, kind)).map(|_| ()).map_err(store_err),
    }
}

/// Remove every configuration of `bucket` (DeleteBucket).
pub(crate) fn delete_all(w: &mut dyn WriteTxn, bucket: &str) -> S3Result<()> {
    let prefix = format!("{bucket}/");
    for (k, _) in w.scan(table::CONFIG, &prefix, None, usize::MAX).map_err(store_err)? {
        w.delete(table::CONFIG, &k).map_err(store_err)?;
    }
    Ok(())
}

/// The bucket as it is inside a transaction, if it is still the one the request authorized on.
pub(crate) fn same_bucket(w: &dyn WriteTxn, bucket: &BucketRecord) -> S3Result<BucketRecord> {
    match load::<BucketRecord>(w, table::BUCKET, &bucket.name)? {
        Some(b) if b.created_millis == bucket.created_millis => Ok(b),
        _ => Err(no_such_bucket()),
    }
}

/// The operation's 404 for a configuration the bucket does not have.
fn not_found<T>(code: &'static str, message: &'static str) -> impl Fn() -> S3Result<T> {
    move || Err(s3_err(code, 404, message))
}

impl Backend {
    /// The bucket of a request after authorizing `action` on it.
    pub(crate) fn authorized_bucket(
        &self,
        cx: &RequestCtx,
        operation: &str,
        action: &str,
        bucket: &str,
    ) -> S3Result<BucketRecord> {
        let bucket = self.bucket(bucket)?;
        self.authorize(cx, operation, action, &bucket.arn(), Some(&bucket), Vec::new())?;
        Ok(bucket)
    }

    /// Read one stored configuration after authorizing `action`.
    fn get_config<T: for<'x> xml::Deserialize<'x>>(
        &self,
        cx: &RequestCtx,
        operation: &str,
        action: &str,
        bucket: &str,
        kind: &str,
    ) -> S3Result<(BucketRecord, Option<T>)> {
        let bucket = self.authorized_bucket(cx, operation, action, bucket)?;
        let r = self.services.store.read().map_err(store_err)?;
        let value = read_config(r.as_ref(), &bucket.name, kind)?;
        Ok((bucket, value))
    }

    /// Store (`Some`) or remove (`None`) one configuration after authorizing `action` (for
    /// `operation`);
    /// `check` sees the bucket inside the transaction and may refuse.
    async fn put_config<T: xml::Serialize + Send + 'static>(
        &self,
        cx: &RequestCtx,
        (operation, action): (&str, &str),
        bucket: &str,
        kind: &'static str,
        value: Option<T>,
        check: impl FnOnce(&mut dyn WriteTxn, &BucketRecord) -> S3Result<()> + Send + 'static,
    ) -> S3Result<()> {
        let bucket = self.authorized_bucket(cx, operation, action, bucket)?;
        write_txn(&self.services, move |w| {
            let current = same_bucket(w, &bucket)?;
            check(w, &current)?;
            write_config(w, &current.name, kind, value.as_ref())
        })
        .await
    }

    pub(crate) async fn op_get_bucket_encryption(
        &self,
        req: S3Request<GetBucketEncryptionInput>,
    ) -> S3Result<S3Response<GetBucketEncryptionOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<ServerSideEncryptionConfiguration>(
            &cx,
            "GetBucketEncryption",
            "s3:GetEncryptionConfiguration",
            &req.input.bucket,
            kind::ENCRYPTION,
        )?;
        // Every bucket has SSE-S3 default encryption since January 2023 (S3 User Guide,
        // default-bucket-encryption.html).
        let config = stored.unwrap_or_else(validate::default_encryption);
        Ok(S3Response::new(GetBucketEncryptionOutput { server_side_encryption_configuration: Some(config) }))
    }

    pub(crate) async fn op_put_bucket_encryption(
        &self,
        req: S3Request<PutBucketEncryptionInput>,
    ) -> S3Result<S3Response<PutBucketEncryptionOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.server_side_encryption_configuration;
        validate::encryption(&config)?;
        let op = ("PutBucketEncryption", "s3:PutEncryptionConfiguration");
        self.put_config(&cx, op, &req.input.bucket, kind::ENCRYPTION, Some(config), |_, _| Ok(())).await?;
        Ok(S3Response::new(PutBucketEncryptionOutput::default()))
    }

    pub(crate) async fn op_delete_bucket_encryption(
        &self,
        req: S3Request<DeleteBucketEncryptionInput>,
    ) -> S3Result<S3Response<DeleteBucketEncryptionOutput>> {
        let cx = ctx(&req)?;
        let (op, action) = ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration");
        let none: Option<ServerSideEncryptionConfiguration> = None;
        self.put_config(&cx, (op, action), &req.input.bucket, kind::ENCRYPTION, none, |_, _| Ok(())).await?;
        Ok(S3Response::new(DeleteBucketEncryptionOutput::default()))
    }

    pub(crate) async fn op_get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<Tagging>(
            &cx,
            "GetBucketTagging",
            "s3:GetBucketTagging",
            &req.input.bucket,
            kind::TAGGING,
        )?;
        let tagging = stored.map_or_else(not_found("NoSuchTagSet", "The TagSet does not exist"), Ok)?;
        Ok(S3Response::new(GetBucketTaggingOutput { tag_set: tagging.tag_set }))
    }

    pub(crate) async fn op_put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let cx = ctx(&req)?;
        let tagging = req.input.tagging;
        validate::bucket_tags(&tagging.tag_set)?;
        let value = (!tagging.tag_set.is_empty()).then_some(tagging);
        self.put_config(
            &cx,
            ("PutBucketTagging", "s3:PutBucketTagging"),
            &req.input.bucket,
            kind::TAGGING,
            value,
            |_, _| Ok(()),
        )
        .await?;
        Ok(S3Response::new(PutBucketTaggingOutput::default()))
    }

    pub(crate) async fn op_delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let cx = ctx(&req)?;
        let none: Option<Tagging> = None;
        self.put_config(
            &cx,
            ("DeleteBucketTagging", "s3:PutBucketTagging"),
            &req.input.bucket,
            kind::TAGGING,
            none,
            |_, _| Ok(()),
        )
        .await?;
        Ok(S3Response::new(DeleteBucketTaggingOutput::default()))
    }

    pub(crate) async fn op_get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<BucketLifecycleConfiguration>(
            &cx,
            "GetBucketLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
            &req.input.bucket,
            kind::LIFECYCLE,
        )?;
        let config = stored
            .map_or_else(not_found("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist"), Ok)?;
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(config.rules),
            transition_default_minimum_object_size: Some(TransitionDefaultMinimumObjectSize::from_static(
                TransitionDefaultMinimumObjectSize::ALL_STORAGE_CLASSES_128K,
            )),
        }))
    }

    pub(crate) async fn op_put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.lifecycle_configuration.ok_or_else(validate::malformed_xml)?;
        validate::lifecycle(&config)?;
        self.put_config(
            &cx,
            ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
            &req.input.bucket,
            kind::LIFECYCLE,
            Some(config),
            |_, _| Ok(()),
        )
        .await?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput {
            transition_default_minimum_object_size: Some(TransitionDefaultMinimumObjectSize::from_static(
                TransitionDefaultMinimumObjectSize::ALL_STORAGE_CLASSES_128K,
            )),
        }))
    }

    pub(crate) async fn op_delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let cx = ctx(&req)?;
        let none: Option<BucketLifecycleConfiguration> = None;
        let op = ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration");
        self.put_config(&cx, op, &req.input.bucket, kind::LIFECYCLE, none, |_, _| Ok(())).await?;
        Ok(S3Response::new(DeleteBucketLifecycleOutput::default()))
    }

    pub(crate) async fn op_get_bucket_replication(
        &self,
        req: S3Request<GetBucketReplicationInput>,
    ) -> S3Result<S3Response<GetBucketReplicationOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<ReplicationConfiguration>(
            &cx,
            "GetBucketReplication",
            "s3:GetReplicationConfiguration",
            &req.input.bucket,
            kind::REPLICATION,
        )?;
        let config = stored.map_or_else(
            not_found("ReplicationConfigurationNotFoundError", "The replication configuration was not found"),
            Ok,
        )?;
        Ok(S3Response::new(GetBucketReplicationOutput { replication_configuration: Some(config) }))
    }

    pub(crate) async fn op_put_bucket_replication(
        &self,
        req: S3Request<PutBucketReplicationInput>,
    ) -> S3Result<S3Response<PutBucketReplicationOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.replication_configuration;
        validate::replication(&config)?;
        self.put_config(
            &cx,
            ("PutBucketReplication", "s3:PutReplicationConfiguration"),
            &req.input.bucket,
            kind::REPLICATION,
            Some(config),
            |w, b| {
                if !versioning_enabled(w, &b.name)? {
                    return Err(s3_err(
                        "InvalidRequest",
                        400,
                        "Versioning must be 'Enabled' on the bucket to apply a replication configuration",
                    ));
                }
                Ok(())
            },
        )
        .await?;
        Ok(S3Response::new(PutBucketReplicationOutput::default()))
    }

    pub(crate) async fn op_delete_bucket_replication(
        &self,
        req: S3Request<DeleteBucketReplicationInput>,
    ) -> S3Result<S3Response<DeleteBucketReplicationOutput>> {
        let cx = ctx(&req)?;
        let none: Option<ReplicationConfiguration> = None;
        let op = ("DeleteBucketReplication", "s3:PutReplicationConfiguration");
        self.put_config(&cx, op, &req.input.bucket, kind::REPLICATION, none, |_, _| Ok(())).await?;
        Ok(S3Response::new(DeleteBucketReplicationOutput::default()))
    }

    pub(crate) async fn op_get_bucket_website(
        &self,
        req: S3Request<GetBucketWebsiteInput>,
    ) -> S3Result<S3Response<GetBucketWebsiteOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<WebsiteConfiguration>(
            &cx,
            "GetBucketWebsite",
            "s3:GetBucketWebsite",
            &req.input.bucket,
            kind::WEBSITE,
        )?;
        let c = stored.map_or_else(
            not_found("NoSuchWebsiteConfiguration", "The specified bucket does not have a website configuration"),
            Ok,
        )?;
        Ok(S3Response::new(GetBucketWebsiteOutput {
            error_document: c.error_document,
            index_document: c.index_document,
            redirect_all_requests_to: c.redirect_all_requests_to,
            routing_rules: c.routing_rules,
        }))
    }

    pub(crate) async fn op_put_bucket_website(
        &self,
        req: S3Request<PutBucketWebsiteInput>,
    ) -> S3Result<S3Response<PutBucketWebsiteOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.website_configuration;
        validate::website(&config)?;
        let op = ("PutBucketWebsite", "s3:PutBucketWebsite");
        self.put_config(&cx, op, &req.input.bucket, kind::WEBSITE, Some(config), |_, _| Ok(())).await?;
        Ok(S3Response::new(PutBucketWebsiteOutput::default()))
    }

    pub(crate) async fn op_delete_bucket_website(
        &self,
        req: S3Request<DeleteBucketWebsiteInput>,
    ) -> S3Result<S3Response<DeleteBucketWebsiteOutput>> {
        let cx = ctx(&req)?;
        let none: Option<WebsiteConfiguration> = None;
        let op = ("DeleteBucketWebsite", "s3:DeleteBucketWebsite");
        self.put_config(&cx, op, &req.input.bucket, kind::WEBSITE, none, |_, _| Ok(())).await?;
        Ok(S3Response::new(DeleteBucketWebsiteOutput::default()))
    }

    pub(crate) async fn op_get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<CORSConfiguration>(
            &cx,
            "GetBucketCors",
            "s3:GetBucketCORS",
            &req.input.bucket,
            kind::CORS,
        )?;
        let c =
            stored.map_or_else(not_found("NoSuchCORSConfiguration", "The CORS configuration does not exist"), Ok)?;
        Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(c.cors_rules) }))
    }

    pub(crate) async fn op_put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.cors_configuration;
        validate::cors(&config)?;
        self.put_config(
            &cx,
            ("PutBucketCors", "s3:PutBucketCORS"),
            &req.input.bucket,
            kind::CORS,
            Some(config),
            |_, _| Ok(()),
        )
        .await?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    pub(crate) async fn op_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let cx = ctx(&req)?;
        let none: Option<CORSConfiguration> = None;
        self.put_config(&cx, ("DeleteBucketCors", "s3:PutBucketCORS"), &req.input.bucket, kind::CORS, none, |_, _| {
            Ok(())
        })
        .await?;
        Ok(S3Response::new(DeleteBucketCorsOutput::default()))
    }

    pub(crate) async fn op_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<VersioningConfiguration>(
            &cx,
            "GetBucketVersioning",
            "s3:GetBucketVersioning",
            &req.input.bucket,
            kind::VERSIONING,
        )?;
        let c = stored.unwrap_or_default();
        let mfa_delete = c.mfa_delete.map(|m| MFADeleteStatus::from(m.as_str().to_string()));
        Ok(S3Response::new(GetBucketVersioningOutput { mfa_delete, status: c.status }))
    }

    pub(crate) async fn op_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.versioning_configuration;
        validate::versioning(&config, req.input.mfa.is_some())?;
        let suspending = config.status.as_ref().is_some_and(|s| s.as_str() == BucketVersioningStatus::SUSPENDED);
        self.put_config(&cx, ("PutBucketVersioning", "s3:PutBucketVersioning"),
            &req.input.bucket,
            kind::VERSIONING,
            Some(config),
            move |_, b| {
                if suspending && b.object_lock_enabled {
                    return Err(s3_err(
                        "InvalidBucketState",
                        409,
                        "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
                    ));
                }
                Ok(())
            },
        )
        .await?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    pub(crate) async fn op_get_bucket_logging(
        &self,
        req: S3Request<GetBucketLoggingInput>,
    ) -> S3Result<S3Response<GetBucketLoggingOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<BucketLoggingStatus>(
            &cx,
            "GetBucketLogging",
            "s3:GetBucketLogging",
            &req.input.bucket,
            kind::LOGGING,
        )?;
        Ok(S3Response::new(GetBucketLoggingOutput { logging_enabled: stored.and_then(|s| s.logging_enabled) }))
    }

    pub(crate) async fn op_put_bucket_logging(
        &self,
        req: S3Request<PutBucketLoggingInput>,
    ) -> S3Result<S3Response<PutBucketLoggingOutput>> {
        let cx = ctx(&req)?;
        let status = req.input.bucket_logging_status;
        let target = status.logging_enabled.as_ref().map(|l| l.target_bucket.clone());
        let value = status.logging_enabled.is_some().then_some(status);
        self.put_config(
            &cx,
            ("PutBucketLogging", "s3:PutBucketLogging"),
            &req.input.bucket,
            kind::LOGGING,
            value,
            move |w, b| {
                let Some(target) = target else { return Ok(()) };
                match load::<BucketRecord>(w, table::BUCKET, &target)? {
                    // "The target bucket must be owned by the same account as the source bucket"
                    // (S3 User Guide, enable-server-access-logging.html).
                    Some(t) if t.owner == b.owner => Ok(()),
                    Some(_) => Err(s3_err(
                        "InvalidTargetBucketForLogging",
                        400,
                        "The owner for the bucket to be logged and the target bucket must be the same.",
                    )),
                    None => Err(s3_err(
                        "InvalidTargetBucketForLogging",
                        400,
                        "The target bucket for logging does not exist",
                    )),
                }
            },
        )
        .await?;
        Ok(S3Response::new(PutBucketLoggingOutput::default()))
    }

    pub(crate) async fn op_get_bucket_notification_configuration(
        &self,
        req: S3Request<GetBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketNotificationConfigurationOutput>> {
        let cx = ctx(&req)?;
        let (_, stored) = self.get_config::<NotificationConfiguration>(
            &cx,
            "GetBucketNotificationConfiguration",
            "s3:GetBucketNotification",
            &req.input.bucket,
            kind::NOTIFICATION,
        )?;
        let c = stored.unwrap_or_default();
        Ok(S3Response::new(GetBucketNotificationConfigurationOutput {
            event_bridge_configuration: c.event_bridge_configuration,
            lambda_function_configurations: c.lambda_function_configurations,
            queue_configurations: c.queue_configurations,
            topic_configurations: c.topic_configurations,
        }))
    }

    pub(crate) async fn op_put_bucket_notification_configuration(
        &self,
        req: S3Request<PutBucketNotificationConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketNotificationConfigurationOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.notification_configuration;
        let empty = config == NotificationConfiguration::default();
        let value = (!empty).then_some(config);
        self.put_config(
            &cx,
            ("PutBucketNotificationConfiguration", "s3:PutBucketNotification"),
            &req.input.bucket,
            kind::NOTIFICATION,
            value,
            |_, _| Ok(()),
        )
        .await?;
        Ok(S3Response::new(PutBucketNotificationConfigurationOutput::default()))
    }

    pub(crate) async fn op_get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let cx = ctx(&req)?;
        let (bucket, stored) = self.get_config::<ObjectLockConfiguration>(
            &cx,
            "GetObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
            &req.input.bucket,
            kind::OBJECT_LOCK,
        )?;
        let config = match stored {
            Some(c) => c,
            None if bucket.object_lock_enabled => ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
                rule: None,
            },
            None => {
                return Err(s3_err(
                    "ObjectLockConfigurationNotFoundError",
                    404,
                    "Object Lock configuration does not exist for this bucket",
                ))
            }
        };
        Ok(S3Response::new(GetObjectLockConfigurationOutput { object_lock_configuration: Some(config) }))
    }

    pub(crate) async fn op_put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let cx = ctx(&req)?;
        let config = req.input.object_lock_configuration.ok_or_else(validate::malformed_xml)?;
        validate::object_lock(&config)?;
        let bucket = self.authorized_bucket(
            &cx,
            "PutObjectLockConfiguration",
            "s3:PutBucketObjectLockConfiguration",
            &req.input.bucket,
        )?;
        write_txn(&self.services, move |w| {
            let mut current = same_bucket(w, &bucket)?;
            // "You can enable Object Lock for new or existing buckets" once versioning is
            // enabled (PutObjectLockConfiguration, API reference); Object Lock then stays on.
            if !current.object_lock_enabled {
                if !versioning_enabled(w, &current.name)? {
                    return Err(s3_err(
                        "InvalidBucketState",
                        409,
                        "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
                    ));
                }
                current.object_lock_enabled = true;
                save(w, table::BUCKET, &current.name, &current)?;
            }
            write_config(w, &current.name, kind::OBJECT_LOCK, Some(&config))
        })
        .await?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }
}

/// Whether the bucket's versioning is `Enabled` (inside a transaction).
fn versioning_enabled(w: &dyn WriteTxn, bucket: &str) -> S3Result<bool> {
    let v: Option<VersioningConfiguration> = read_config(w, bucket, kind::VERSIONING)?;
    Ok(v.and_then(|v| v.status).is_some_and(|s| s.as_str() == BucketVersioningStatus::ENABLED))
}

/// The versioning document a bucket created with Object Lock starts with.
pub(crate) fn versioning_enabled_config() -> VersioningConfiguration {
    VersioningConfiguration {
        mfa_delete: None,
        status: Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
    }
}
