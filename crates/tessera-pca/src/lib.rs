//! AWS Private CA (`acm-pca`, API version 2017-08-22): private certificate authorities, their
//! keys and the certificates they issue (docs/PRIVATE_CA.md).
//!
//! Current SDKs speak Smithy RPC v2 CBOR to it and older ones JSON 1.1; the server decodes
//! either into the JSON form the operations here read (blobs base64, timestamps epoch seconds)
//! and encodes their JSON answer back in the request's protocol, writing the members named in
//! [`TIMESTAMP_MEMBERS`] as timestamps.
//!
//! IAM workload identity uses a CA as an X.509 outbound signer and STS issues X.509-SVIDs from
//! it: they use [`model`] to find a CA, [`authorize_on_ca`] to ask for the caller's `acm-pca`
//! permissions on it (its resource policy included), and [`issue_svid`] to sign.

mod access;
mod associations;
mod authorities;
mod certificates;
mod common;
pub mod keys;
pub mod model;
mod policies;
mod svid;
mod tags;
pub mod x509;

#[cfg(test)]
mod tests;

use serde_json::Value;
use tessera_core::{Call, Services};
use tessera_wire::AwsError;

pub use access::{authorize_on_ca, chain_of, invalid_state};
pub use svid::{issue_svid, SvidRequest};

/// The output members of the model whose shape is a timestamp (they are written as CBOR tag 1
/// in Smithy RPC v2 CBOR, epoch seconds in JSON 1.1).
pub const TIMESTAMP_MEMBERS: &[&str] = &["CreatedAt", "LastStateChangeAt", "NotBefore", "NotAfter", "RestorableUntil"];

/// The `ServiceAffiliationCode` of a CA made for IAM workload identity.
pub const IAM_WORKLOAD_IDENTITY: &str = "IAM_WORKLOAD_IDENTITY";

/// Run an `acm-pca` operation on its JSON input; its JSON output. A denial is answered as
/// `AccessDeniedException`, as JSON-protocol services name it.
pub fn handle(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let s = services;
    let result = match call.operation.as_str() {
        "CreateCertificateAuthority" => authorities::create(s, call, input),
        "DescribeCertificateAuthority" => authorities::describe(s, call, input),
        "ListCertificateAuthorities" => authorities::list(s, call, input),
        "UpdateCertificateAuthority" => authorities::update(s, call, input),
        "DeleteCertificateAuthority" => authorities::delete(s, call, input),
        "RestoreCertificateAuthority" => authorities::restore(s, call, input),
        "GetCertificateAuthorityCsr" => authorities::get_csr(s, call, input),
        "GetCertificateAuthorityCertificate" => authorities::get_certificate(s, call, input),
        "ImportCertificateAuthorityCertificate" => authorities::import_certificate(s, call, input),
        "IssueCertificate" => certificates::issue(s, call, input),
        "GetCertificate" => certificates::get(s, call, input),
        "RevokeCertificate" => certificates::revoke(s, call, input),
        "TagCertificateAuthority" => tags::tag(s, call, input),
        "UntagCertificateAuthority" => tags::untag(s, call, input),
        "ListTags" => tags::list(s, call, input),
        "PutPolicy" => policies::put_policy(s, call, input),
        "GetPolicy" => policies::get_policy(s, call, input),
        "DeletePolicy" => policies::delete_policy(s, call, input),
        "CreatePermission" => policies::create_permission(s, call, input),
        "DeletePermission" => policies::delete_permission(s, call, input),
        "ListPermissions" => policies::list_permissions(s, call, input),
        "CreateCertificateAuthorityAssociation" => associations::create(s, call, input),
        "DeleteCertificateAuthorityAssociation" => associations::delete(s, call, input),
        "ListCertificateAuthorityAssociations" => associations::list(s, call, input),
        // Audit reports and replicas: docs/PRIVATE_CA.md.
        op => Err(AwsError::not_implemented("acm-pca", op)),
    };
    result.map_err(AwsError::named_for_json)
}
