//! Who may act on a certificate authority, and what a CA's certificates chain to.

use tessera_core::authz::AuthzRequest;
use tessera_core::{Call, Services};
use tessera_wire::AwsError;

use crate::model::CertificateAuthority;

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
