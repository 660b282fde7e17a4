//! AWS wire protocols as botocore's service models define them.
//!
//! - [`query`]: the query protocol (STS, IAM) and the EC2 protocol: form-encoded `Action=...`
//!   requests with `member.N` / `.N` list flattening.
//! - [`xml`]: a small XML writer for query/EC2 responses and error documents.
//! - [`cbor`]: Smithy RPC v2 CBOR bodies (AWS Private CA) to and from their JSON form.
//! - [`error::AwsError`]: one error type that every protocol can encode in its own shape.
//! - [`rest_json`]: the REST-JSON protocol's routing (the Account service).
//! - [`unserved`]: the answer to a request for a service Tessera does not serve, in that
//!   service's own protocol.
//! - [`operations`]: the operation names of each service, generated from botocore.

pub mod cbor;
pub mod error;
pub mod json;
#[rustfmt::skip]
pub mod operations;
pub mod query;
pub mod response;
pub mod rest_json;
pub mod unserved;
pub mod xml;

pub use error::AwsError;
pub use query::QueryParams;
pub use response::{Protocol, WireResponse};
