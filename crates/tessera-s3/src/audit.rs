//! S3 bucket-level calls in the audit trail, as CloudTrail records them: management events
//! with `eventSource` `s3.amazonaws.com`, `requestParameters.bucketName` and `Host`,
//! `additionalEventData` (signature version, authentication method, bytes transferred) and the
//! bucket as an `AWS::S3::Bucket` resource (S3 User Guide, `cloudtrail-logging-s3-info.html`
//! and `cloudtrail-logging-understanding-s3-entries.html`).
//!
//! Object-level calls are data events, which CloudTrail records only for trails with data event
//! selectors; Tessera does not record them (see `docs/AUDIT.md`).
//!
//! The operation and bucket of a request are known once `s3s` has routed it: [`note`] keeps
//! them (from the access check, before the operation runs) in a task-local [`Slot`]; after the
//! operation, [`events`] builds the event(s) from the slot, the caller and the response.

use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};
use tessera_audit::event::{event_time, new_event_id, CloudTrailRecord, RecordResource, UserIdentity, EVENT_VERSION};
use tessera_audit::{AuditEvent, LookupResource};
use tessera_services::{cloudtrail, Services};

use crate::records::{table, BucketRecord};
use crate::{AuthType, RequestCtx};

/// What the access check learnt of a request: its operation and bucket.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routed {
    /// The S3 operation (`PutBucketPolicy`, ...).
    pub operation: String,
    /// The bucket the request names, if any.
    pub bucket: Option<String>,
    /// The bucket's owner when the request was routed (before the operation ran).
    pub owner: Option<String>,
}

/// The per-request place where the access check leaves [`Routed`].
pub(crate) type Slot = Arc<Mutex<Option<Routed>>>;

tokio::task_local! {
    static ROUTED: Slot;
}

/// Run `f` with a fresh slot; returns its output and what the access check noted.
pub(crate) async fn with_slot<F: std::future::Future>(f: F) -> (F::Output, Option<Routed>) {
    let slot: Slot = Arc::default();
    let out = ROUTED.scope(slot.clone(), f).await;
    let routed = slot.lock().map(|mut g| g.take()).unwrap_or(None);
    (out, routed)
}

/// S3 operations CloudTrail records as data events (object-level, and the listing of a
/// bucket's objects); every other S3 operation is a management event. `HeadBucket` is here
/// too: it reads nothing of the bucket's configuration (Tessera's choice, docs/AUDIT.md).
pub(crate) fn is_data_event(operation: &str) -> bool {
    matches!(
        operation,
        "GetObject"
            | "PutObject"
            | "DeleteObject"
            | "DeleteObjects"
            | "HeadObject"
            | "CopyObject"
            | "GetObjectAttributes"
            | "GetObjectAcl"
            | "PutObjectAcl"
            | "GetObjectTagging"
            | "PutObjectTagging"
            | "DeleteObjectTagging"
            | "GetObjectRetention"
            | "PutObjectRetention"
            | "GetObjectLegalHold"
            | "PutObjectLegalHold"
            | "RestoreObject"
            | "SelectObjectContent"
            | "UploadPart"
            | "UploadPartCopy"
            | "CreateMultipartUpload"
            | "CompleteMultipartUpload"
            | "AbortMultipartUpload"
            | "ListParts"
            | "ListObjects"
            | "ListObjectsV2"
            | "ListObjectVersions"
            | "HeadBucket"
            | "WriteGetObjectResponse"
    )
}

/// Note the routed request (called from the access check). Reads the bucket's owner now, so a
/// `DeleteBucket` still knows whose bucket it was.
pub(crate) fn note(services: &Services, operation: &str, bucket: Option<&str>) {
    if is_data_event(operation) {
        return;
    }
    let owner = bucket.and_then(|b| {
        let r = services.store.read().ok()?;
        tessera_services::model::load::<BucketRecord>(r.as_ref(), table::BUCKET, b).ok().flatten().map(|b| b.owner)
    });
    let routed = Routed { operation: operation.to_string(), bucket: bucket.map(str::to_string), owner };
    let _ = ROUTED.try_with(|slot| {
        if let Ok(mut g) = slot.lock() {
            *g = Some(routed);
        }
    });
}

/// Whether `operation` only reads (CloudTrail's `readOnly`).
fn is_read_only(operation: &str) -> bool {
    ["Get", "List", "Head"].iter().any(|p| operation.starts_with(p))
}

/// The error code in an S3 error body (`<Error><Code>...</Code>`), if any.
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].to_string()).filter(|c| !c.is_empty())
}

/// The error message in an S3 error body, if any.
fn error_message(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Message>")? + "<Message>".len();
    let end = text[start..].find("</Message>")? + start;
    Some(unescape(&text[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// What the response said, for the event.
pub(crate) struct Outcome<'a> {
    /// HTTP status.
    pub status: u16,
    /// The response body when it is in memory (every error, and bucket-level results).
    pub body: Option<&'a [u8]>,
}

/// The facts of the request beside the caller.
pub(crate) struct RequestFacts<'a> {
    /// `Host` header as sent.
    pub host: &'a str,
    /// The query string (subresources such as `policy`, `encryption`).
    pub query: &'a str,
    /// Request body length, if known.
    pub bytes_in: u64,
}

/// The event(s) of one routed bucket-level call: one in the caller's account, and when the
/// bucket belongs to another account (or the caller is anonymous) one in the bucket owner's,
/// with the same `sharedEventID`.
pub(crate) fn events(
    services: &Services,
    ctx: &RequestCtx,
    routed: &Routed,
    request: &RequestFacts<'_>,
    outcome: &Outcome<'_>,
) -> Vec<AuditEvent> {
    let op = routed.operation.as_str();
    let failed = outcome.status >= 400;
    let body = outcome.body.unwrap_or_default();
    let (error_code, error_message) = if failed {
        let code = error_code(body).unwrap_or_else(|| format!("HTTP{}", outcome.status));
        (Some(code), error_message(body))
    } else {
        (None, None)
    };
    let params = request_parameters(routed.bucket.as_deref(), request);
    let mut additional = Map::new();
    additional.insert(
        "SignatureVersion".into(),
        json!(match ctx.signature_version {
            "AWS4-HMAC-SHA256" => "SigV4",
            "AWS" => "SigV2",
            _ => "",
        }),
    );
    if ctx.auth_type != AuthType::Anonymous {
        let method = if ctx.auth_type == AuthType::Query { "QueryString" } else { "AuthHeader" };
        additional.insert("AuthenticationMethod".into(), json!(method));
    }
    additional.insert("bytesTransferredIn".into(), json!(request.bytes_in));
    additional.insert("bytesTransferredOut".into(), json!(if failed { 0 } else { body.len() }));
    // A CreateBucket is about the caller's own bucket, even when the name is taken.
    let bucket_owner = match (&ctx.caller, op) {
        (Some(c), "CreateBucket") => Some(c.account.clone()),
        _ => routed.owner.clone(),
    };
    let resources = routed.bucket.as_ref().zip(bucket_owner.as_ref()).map(|(b, owner)| {
        vec![RecordResource {
            arn: format!("arn:aws:s3:::{b}"),
            account_id: owner.clone(),
            resource_type: "AWS::S3::Bucket".into(),
        }]
    });
    let lookup: Vec<LookupResource> = routed
        .bucket
        .iter()
        .map(|b| LookupResource { resource_type: "AWS::S3::Bucket".into(), resource_name: b.clone() })
        .collect();
    let (identity, username, home) = match &ctx.caller {
        Some(c) => {
            (cloudtrail::user_identity(services, c), Some(cloudtrail::lookup_username(c)), Some(c.account.clone()))
        }
        None => (
            UserIdentity {
                identity_type: "AWSAccount".into(),
                principal_id: Some(String::new()),
                account_id: Some("anonymous".into()),
                ..Default::default()
            },
            None,
            None,
        ),
    };
    let user_agent = cloudtrail::recorded_user_agent(&ctx.meta.user_agent);
    let base = CloudTrailRecord {
        event_version: EVENT_VERSION.into(),
        user_identity: identity,
        event_time: event_time(ctx.meta.now_millis),
        event_source: "s3.amazonaws.com".into(),
        event_name: op.to_string(),
        aws_region: if ctx.meta.region.is_empty() { "us-east-1".into() } else { ctx.meta.region.clone() },
        source_ip_address: ctx.meta.source_ip.clone(),
        user_agent,
        error_code,
        error_message,
        request_parameters: Value::Object(params),
        response_elements: Value::Null,
        additional_event_data: Some(Value::Object(additional)),
        request_id: ctx.meta.request_id.clone(),
        event_id: new_event_id(),
        read_only: is_read_only(op),
        resources,
        event_type: "AwsApiCall".into(),
        management_event: true,
        recipient_account_id: String::new(),
        shared_event_id: None,
        event_category: "Management".into(),
    };
    let event = |mut record: CloudTrailRecord, account: String| {
        record.recipient_account_id = account;
        AuditEvent {
            record,
            event_time_millis: ctx.meta.now_millis,
            username: username.clone(),
            resources: lookup.clone(),
        }
    };
    let owner = bucket_owner.filter(|o| Some(o) != home.as_ref());
    match (home, owner) {
        (Some(home), None) => vec![event(base, home)],
        (Some(home), Some(owner)) => {
            // The bucket owner's copy shows the caller as an account, as for AssumeRole.
            let shared = new_event_id();
            let mut theirs = base.clone();
            theirs.user_identity = cloudtrail::seen_from_another_account(&base.user_identity);
            theirs.event_id = new_event_id();
            theirs.shared_event_id = Some(shared.clone());
            let mut ours = base;
            ours.shared_event_id = Some(shared);
            vec![event(ours, home), event(theirs, owner)]
        }
        (None, Some(owner)) => vec![event(base, owner)],
        (None, None) => Vec::new(),
    }
}

/// `requestParameters`: the bucket, the `Host` header and the query's parameters (the
/// subresource, e.g. `"policy": ""`), without a presigned URL's signature parameters.
fn request_parameters(bucket: Option<&str>, request: &RequestFacts<'_>) -> Map<String, Value> {
    let mut params = Map::new();
    if let Some(b) = bucket {
        params.insert("bucketName".into(), Value::String(b.to_string()));
    }
    params.insert("Host".into(), Value::String(request.host.to_string()));
    for (name, value) in form_pairs(request.query) {
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-amz-") || lower == "awsaccesskeyid" || lower == "signature" {
            continue;
        }
        params.insert(name, Value::String(value));
    }
    params
}

/// `name=value` pairs of a query string, percent-decoded.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            let dec =
                |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
            (dec(n), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_fields_come_from_s3_error_xml() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>NoSuchBucketPolicy</Code><Message>The bucket policy does not exist &amp; never did</Message></Error>";
        assert_eq!(error_code(body).as_deref(), Some("NoSuchBucketPolicy"));
        assert_eq!(error_message(body).as_deref(), Some("The bucket policy does not exist & never did"));
        assert_eq!(error_code(b"not xml"), None);
    }

    #[test]
    fn object_level_calls_are_data_events() {
        for op in ["GetObject", "PutObject", "ListObjectsV2", "UploadPart", "HeadBucket"] {
            assert!(is_data_event(op), "{op}");
        }
        for op in ["CreateBucket", "PutBucketPolicy", "ListBuckets", "GetBucketEncryption", "DeleteBucket"] {
            assert!(!is_data_event(op), "{op}");
        }
    }

    #[test]
    fn presigned_signature_parameters_are_not_request_parameters() {
        let facts = RequestFacts {
            host: "127.0.0.1:8750",
            query: "policy=&X-Amz-Signature=abc&X-Amz-Credential=AKIA&prefix=a%2Fb",
            bytes_in: 0,
        };
        let params = request_parameters(Some("b1"), &facts);
        assert_eq!(params.get("bucketName"), Some(&json!("b1")));
        assert_eq!(params.get("Host"), Some(&json!("127.0.0.1:8750")));
        assert_eq!(params.get("policy"), Some(&json!("")));
        assert_eq!(params.get("prefix"), Some(&json!("a/b")));
        assert!(params.keys().all(|k| !k.starts_with("X-Amz")), "{params:?}");
    }
}
