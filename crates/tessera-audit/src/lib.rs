//! Tessera's audit trail, in CloudTrail's formats.
//!
//! - [`event`]: the CloudTrail record (`eventVersion` 1.09) and the indexed [`AuditEvent`].
//! - [`shape`] and [`redact`]: `requestParameters`/`responseElements` as AWS records them,
//!   with secrets hidden or left out.
//! - [`store`]: the [`AuditStore`] trait; [`sqlite`]: its embedded implementation in
//!   `DIR/audit.db` with group commit, LookupEvents indexes and retention/size bounds.
//! - [`delivery`]: trails' gzip log files and signed digest files with AWS's S3 key layout,
//!   through the [`delivery::TrailDelivery`] trait (the server's target is `tessera_s3::TrailBuckets`).
//! - [`verify`]: checks a trail's digest chain like `aws cloudtrail validate-logs`.

pub mod delivery;
pub mod digest;
pub mod event;
mod front;
mod journal;
pub mod last_access;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod redact;
pub mod shape;
pub mod sqlite;
pub mod store;
pub mod verify;

#[cfg(test)]
mod tests;

pub use event::{AuditEvent, CloudTrailRecord, LookupResource, UserIdentity};
pub use store::{AuditError, AuditLimits, AuditStore, LookupAttribute, LookupQuery, NotConfigured, Receipt, Trail};
