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

pub mod keys;
pub mod model;
pub mod x509;

use serde_json::Value;
use tessera_core::authz::AuthzRequest;
use tessera_core::{internal, Call, Services};
use tessera_store::WriteTxn;
use tessera_wire::AwsError;

use model::{CertificateAuthority, IssuedCertificate};

/// The output members of the model whose shape is a timestamp (they are written as CBOR tag 1
/// in Smithy RPC v2 CBOR, epoch seconds in JSON 1.1).
pub const TIMESTAMP_MEMBERS: &[&str] = &["CreatedAt", "LastStateChangeAt", "NotBefore", "NotAfter", "RestorableUntil"];

/// The `ServiceAffiliationCode` of a CA made for IAM workload identity.
pub const IAM_WORKLOAD_IDENTITY: &str = "IAM_WORKLOAD_IDENTITY";

/// Run an `acm-pca` operation on its JSON input; its JSON output.
pub fn handle(_services: &Services, call: &Call, _input: &Value) -> Result<Value, AwsError> {
    Err(AwsError::not_implemented("acm-pca", &call.operation))
}

/// Ask the engine whether the caller may run `action` (`acm-pca:IssueCertificate`, ...) on
/// `ca`: its identity policies and, for a CA of another account, the CA's resource policy
/// (`PutPolicy`), as for any resource-based policy.
pub fn authorize_on_ca(
    services: &Services,
    call: &Call,
    action: &str,
    ca: &CertificateAuthority,
) -> Result<(), AwsError> {
    let arn = ca.arn();
    services.authorize_request(
        call,
        &AuthzRequest {
            action,
            resource: &arn,
            resource_account: Some(&ca.account),
            resource_policy: ca.policy.as_deref(),
            ..Default::default()
        },
    )
}

/// `InvalidStateException`.
pub fn invalid_state(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidStateException", message)
}

/// What STS asks a CA to sign: an X.509-SVID.
#[derive(Debug, Clone, Copy)]
pub struct SvidRequest<'a> {
    /// The workload's request (only its public key is used).
    pub request: &'a x509::Request,
    /// `spiffe://<trust domain>/<path>`.
    pub spiffe_id: &'a str,
    /// Validity, epoch seconds.
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
}

/// Sign an X.509-SVID with `ca` (an `ACTIVE` CA; `InvalidStateException` otherwise), with the
/// signature IAM uses for the CA's key algorithm, and record it in `w` as a certificate the CA
/// issued (so `acm-pca` `GetCertificate` finds it).
pub fn issue_svid(
    services: &Services,
    w: &mut dyn WriteTxn,
    ca: &CertificateAuthority,
    svid: &SvidRequest<'_>,
    now_millis: i64,
) -> Result<IssuedCertificate, AwsError> {
    if ca.status != "ACTIVE" {
        return Err(invalid_state(format!(
            "The certificate authority {} is not in a valid state for issuing certificates.",
            ca.arn()
        )));
    }
    let issuer_pem = ca
        .certificate_pem
        .as_deref()
        .ok_or_else(|| invalid_state(format!("The certificate authority {} has no certificate.", ca.arn())))?;
    let key_algorithm = keys::KeyAlgorithm::parse(&ca.key_algorithm)?;
    let pkcs8 = services.secrets.open(&ca.seal_context(), &ca.sealed_private_key).map_err(internal)?;
    let key = keys::signing_key(&pkcs8, key_algorithm.workload_identity_signature())?;
    let serial = x509::new_serial();
    let pem = x509::issue(
        &x509::Issue {
            request: svid.request,
            profile: x509::Profile::Svid { spiffe_id: svid.spiffe_id.to_string() },
            not_before: svid.not_before,
            not_after: svid.not_after,
            serial: serial.clone(),
        },
        Some(issuer_pem),
        &key,
    )
    .map_err(|e| {
        tracing::error!(error = %e, "issuing an X.509-SVID failed");
        AwsError::internal()
    })?;
    let issued = IssuedCertificate {
        ca_key: ca.key(),
        serial: hex::encode(&serial),
        certificate_pem: pem,
        chain_pem: chain_of(ca),
        template_arn: "arn:aws:acm-pca:::template/EndEntityCertificate/V1".to_string(),
        issued_at: now_millis,
        not_after: svid.not_after.saturating_mul(1000),
        revoked: None,
    };
    model::save_certificate(w, &issued).map_err(internal)?;
    Ok(issued)
}

/// The chain a certificate issued by `ca` links up through: the CA's certificate, then the
/// chain imported with it (nothing above a root).
pub fn chain_of(ca: &CertificateAuthority) -> String {
    let mut chain = ca.certificate_pem.clone().unwrap_or_default();
    if let Some(above) = &ca.chain_pem {
        if !chain.ends_with('\n') && !chain.is_empty() {
            chain.push('\n');
        }
        chain.push_str(above);
    }
    chain
}
