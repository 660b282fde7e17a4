//! X.509-SVIDs that STS `GetCertificate` asks a CA to sign for IAM workload identity.

use tessera_core::Services;
use tessera_store::WriteTxn;
use tessera_wire::AwsError;

use crate::certificates::{sign_and_record, Signing};
use crate::model::{CertificateAuthority, IssuedCertificate};
use crate::{invalid_state, keys, x509};

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
    if ca.certificate_pem.is_none() {
        return Err(invalid_state(format!("The certificate authority {} has no certificate.", ca.arn())));
    }
    let key_algorithm = keys::KeyAlgorithm::parse(&ca.key_algorithm)?;
    sign_and_record(
        services,
        w,
        ca,
        &Signing {
            issue: x509::Issue {
                request: svid.request,
                profile: x509::Profile::Svid { spiffe_id: svid.spiffe_id.to_string() },
                not_before: svid.not_before,
                not_after: svid.not_after,
                serial: x509::new_serial(),
            },
            signature: key_algorithm.workload_identity_signature(),
            self_signed: false,
            template_arn: "arn:aws:acm-pca:::template/EndEntityCertificate/V1",
            now_millis,
        },
    )
}
