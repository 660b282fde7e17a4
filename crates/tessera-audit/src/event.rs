//! The CloudTrail record (`eventVersion` 1.09) and the event the store indexes.
//!
//! Field names and order follow AWS's record contents reference; optional fields are left out
//! of the JSON when absent, as AWS does, except `requestParameters` and `responseElements`,
//! which are always present (`null` when there are none).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The record format version Tessera writes.
pub const EVENT_VERSION: &str = "1.09";

/// AWS's placeholder for a request member that is recorded but never shown.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// `userIdentity.sessionContext.sessionIssuer`: where temporary credentials came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    /// `Role`, `IAMUser` or `Root`.
    #[serde(rename = "type")]
    pub issuer_type: String,
    /// Unique id of the issuer (`AROA...`, `AIDA...`, account id).
    pub principal_id: String,
    /// ARN of the issuer.
    pub arn: String,
    /// Account of the issuer.
    pub account_id: String,
    /// Friendly name (role or user name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    /// When the credentials were issued (`2024-01-02T03:04:05Z`).
    pub creation_date: String,
    /// `"true"` or `"false"`, a string as in AWS's records.
    pub mfa_authenticated: String,
}

/// `userIdentity.sessionContext.webIdFederationData`: `{}` for sessions not from web identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebIdFederationData {
    /// ARN of the OIDC provider the session came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federated_provider: Option<String>,
    /// Claims AWS records for the provider (empty here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<serde_json::Map<String, Value>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    /// The principal that obtained the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_issuer: Option<SessionIssuer>,
    /// Web identity federation facts (role sessions only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_id_federation_data: Option<WebIdFederationData>,
    /// Creation date and MFA flag.
    pub attributes: SessionAttributes,
    /// `sts:SourceIdentity` of the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

/// `userIdentity`: who made the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `WebIdentityUser`, `SAMLUser`, `AWSAccount`.
    #[serde(rename = "type")]
    pub identity_type: String,
    /// Unique id of the principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// ARN of the principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Account owning the principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Access key id that signed the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// Friendly name (IAM user, web identity subject).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Temporary-credential facts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_context: Option<SessionContext>,
    /// OIDC issuer or SAML provider for `WebIdentityUser` / `SAMLUser`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_provider: Option<String>,
}

/// An entry of the record's top-level `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResource {
    /// Resource ARN.
    #[serde(rename = "ARN")]
    pub arn: String,
    /// Owning account.
    #[serde(rename = "accountId")]
    pub account_id: String,
    /// `AWS::IAM::Role`, ...
    #[serde(rename = "type")]
    pub resource_type: String,
}

/// One CloudTrail record, serialized exactly as delivered and as `CloudTrailEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailRecord {
    /// `1.09`.
    pub event_version: String,
    /// Who.
    pub user_identity: UserIdentity,
    /// `2024-01-02T03:04:05Z`.
    pub event_time: String,
    /// `sts.amazonaws.com`, ...
    pub event_source: String,
    /// The operation.
    pub event_name: String,
    /// Region the call was recorded in.
    pub aws_region: String,
    /// Client address.
    #[serde(rename = "sourceIPAddress")]
    pub source_ip_address: String,
    /// `User-Agent` of the request.
    pub user_agent: String,
    /// AWS error code of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Error message of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Request members (lowerCamel), redacted; `null` for calls without any.
    pub request_parameters: Value,
    /// Response members (lowerCamel), redacted; `null` for read-only and failed calls.
    pub response_elements: Value,
    /// Extra facts (e.g. truncated request parameters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_event_data: Option<Value>,
    /// `x-amzn-RequestId` of the response.
    #[serde(rename = "requestID")]
    pub request_id: String,
    /// Unique id of this record.
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// Whether the call only reads.
    pub read_only: bool,
    /// Resources the call acted on (cross-account calls).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<RecordResource>>,
    /// `AwsApiCall`.
    pub event_type: String,
    /// `true`: every recorded call is a management event.
    pub management_event: bool,
    /// Account whose trail/event history holds this record.
    pub recipient_account_id: String,
    /// Shared by the copies of one cross-account call.
    #[serde(rename = "sharedEventID", skip_serializing_if = "Option::is_none")]
    pub shared_event_id: Option<String>,
    /// `Management`.
    pub event_category: String,
}

/// A resource as LookupEvents reports and filters it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LookupResource {
    /// `AWS::IAM::User`, ...
    #[serde(rename = "ResourceType")]
    pub resource_type: String,
    /// Name or ARN.
    #[serde(rename = "ResourceName")]
    pub resource_name: String,
}

/// An event handed to the store: the record plus the facts LookupEvents indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// The record.
    pub record: CloudTrailRecord,
    /// Event time in epoch milliseconds (the record's `eventTime` has whole seconds).
    pub event_time_millis: i64,
    /// LookupEvents `Username`.
    pub username: Option<String>,
    /// LookupEvents `Resources`.
    pub resources: Vec<LookupResource>,
}

impl AuditEvent {
    /// The access key id of the caller, if any.
    pub fn access_key_id(&self) -> Option<&str> {
        self.record.user_identity.access_key_id.as_deref().filter(|k| !k.is_empty())
    }
}

/// A fresh event id in AWS's UUID form (8-4-4-4-12 hex). Tessera's are version 7 UUIDs
/// (RFC 9562: 48 bits of Unix milliseconds, then 74 random bits), so ids sort by time and the
/// store's event-id index grows at its end instead of at random pages; clients see a UUID as on
/// AWS (whose ids are version 4).
pub fn new_event_id() -> String {
    use rand::RngCore;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
    let mut random = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut random);
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid().hyphenated().to_string()
}

/// `2024-01-02T03:04:05Z` for epoch milliseconds.
pub fn event_time(millis: i64) -> String {
    let t = datetime(millis);
    let f = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(&f).unwrap_or_default()
}

/// The UTC date-time of epoch milliseconds.
pub fn datetime(millis: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The date format AWS uses for timestamps inside `requestParameters`/`responseElements` of
/// query-protocol services: `Jan 2, 2024, 3:04:05 AM`.
pub fn element_date(millis: i64) -> String {
    let t = datetime(millis);
    let f = time::macros::format_description!(
        "[month repr:short] [day padding:none], [year], [hour repr:12 padding:none]:[minute]:[second] [period]"
    );
    t.format(&f).unwrap_or_default()
}

/// Parse an ISO 8601 timestamp as AWS writes it in XML (`2024-01-02T03:04:05Z`, optionally
/// with fractional seconds) to epoch milliseconds.
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(event_time(1_700_000_000_123), "2023-11-14T22:13:20Z");
        assert_eq!(element_date(1_700_000_000_000), "Nov 14, 2023, 10:13:20 PM");
        assert_eq!(element_date(0), "Jan 1, 1970, 12:00:00 AM");
        assert_eq!(parse_iso8601("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(parse_iso8601("2023-11-14T22:13:20.5Z"), Some(1_700_000_000_500));
        assert_eq!(parse_iso8601("nope"), None);
        let id = new_event_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "7");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(new_event_id(), new_event_id());
        // Time-ordered: a later id sorts after (the millisecond prefix grows).
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(new_event_id()[..13] > id[..13]);
    }

    #[test]
    fn record_field_order_and_nulls() {
        let r = CloudTrailRecord {
            event_version: EVENT_VERSION.into(),
            user_identity: UserIdentity { identity_type: "Root".into(), ..Default::default() },
            event_time: "t".into(),
            event_source: "sts.amazonaws.com".into(),
            event_name: "GetCallerIdentity".into(),
            aws_region: "us-east-1".into(),
            source_ip_address: "127.0.0.1".into(),
            user_agent: "ua".into(),
            error_code: None,
            error_message: None,
            request_parameters: Value::Null,
            response_elements: Value::Null,
            additional_event_data: None,
            request_id: "r".into(),
            event_id: "e".into(),
            read_only: true,
            resources: None,
            event_type: "AwsApiCall".into(),
            management_event: true,
            recipient_account_id: "123456789012".into(),
            shared_event_id: None,
            event_category: "Management".into(),
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.starts_with("{\"eventVersion\":\"1.09\",\"userIdentity\":{\"type\":\"Root\"},\"eventTime\""));
        assert!(s.contains("\"sourceIPAddress\":\"127.0.0.1\""));
        assert!(
            s.contains("\"requestParameters\":null,\"responseElements\":null,\"requestID\":\"r\",\"eventID\":\"e\"")
        );
        assert!(!s.contains("errorCode"));
        let back: CloudTrailRecord = serde_json::from_str(&s).unwrap();
        assert_eq!(back, r);
    }
}
