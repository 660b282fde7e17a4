//! The X.509 outbound signers of a workload identity provider:
//! `Create/Update/Delete/Enable/DisableWorkloadIdentityProviderOutboundSigner` (IAM API
//! Reference).
//!
//! An X.509 signer is an AWS Private CA certificate authority attached to the provider, and the
//! certificate authority "must meet all of the following requirements, and a certificate
//! authority that fails any of them returns InvalidInputException" (it exists in us-east-1, is
//! ACTIVE, ...). Tessera does not serve AWS Private CA, so no certificate authority can ever be
//! found: `Create` and `Update` answer `InvalidInput` naming the certificate authority's ARN and
//! change nothing, as AWS answers for an authority it cannot find. No X.509 signer can therefore
//! exist: `Delete` answers `NoSuchEntity`, `Disable` ("idempotent ... removes nothing") stops
//! nothing and `Enable` resumes nothing, both succeeding without a change. `SignerType` `JWT` is
//! `InvalidInput` ("IAM rejects JWT, because IAM manages the outbound signers for JWT
//! credentials"). Each operation authorizes `iam:<Operation>` on the provider first.

use tessera_wire::{AwsError, WireResponse};

use super::super::entities::{invalid_input, no_such_entity, Cx};
use super::authorized_provider;
use crate::validate::Checks;

/// The Region IAM looks certificate authorities up in (the API reference's requirement).
const CA_REGION: &str = "us-east-1";
/// `^[a-zA-Z0-9_-]+$`.
const CA_ID_PATTERN: &str = "^[a-zA-Z0-9_-]+$";

/// A certificate authority named by `OutboundSigner.X509`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateCa {
    /// `CertificateAuthorityId`.
    pub id: String,
    /// `AccountId`.
    pub account: String,
}

impl PrivateCa {
    /// `arn:aws:acm-pca:us-east-1:<account>:certificate-authority/<id>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:acm-pca:{CA_REGION}:{}:certificate-authority/{}", self.account, self.id)
    }
}

fn is_ca_id(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Check `OutboundSigner.X509.{CertificateAuthorityId,AccountId}` (the union's one member).
pub fn check_ca(get: impl Fn(&str) -> Option<String>, c: &mut Checks) -> PrivateCa {
    let id = get("OutboundSigner.X509.CertificateAuthorityId");
    let account = get("OutboundSigner.X509.AccountId");
    match &id {
        None => c.not_null("outboundSigner.x509.certificateAuthorityId", false),
        Some(v) => c.length("outboundSigner.x509.certificateAuthorityId", v, 1, 256).pattern(
            "outboundSigner.x509.certificateAuthorityId",
            v,
            CA_ID_PATTERN,
            is_ca_id,
        ),
    };
    match &account {
        None => c.not_null("outboundSigner.x509.accountId", false),
        Some(v) => c.pattern("outboundSigner.x509.accountId", v, r"\d{12}", |s| {
            s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
        }),
    };
    PrivateCa { id: id.unwrap_or_default(), account: account.unwrap_or_default() }
}

/// `InvalidInput` for a certificate authority IAM cannot find.
pub fn ca_not_found(ca: &PrivateCa) -> AwsError {
    invalid_input(format!(
        "The certificate authority {} cannot be found: AWS Private CA (acm-pca) is not served by Tessera.",
        ca.arn()
    ))
}

fn signing_delay(cx: &Cx<'_>, c: &mut Checks) -> Result<(), AwsError> {
    cx.int_opt(c, "SigningDelayInHours", 1, 48).map(|_| ())
}

/// `CreateWorkloadIdentityProviderOutboundSigner` and `UpdateWorkloadIdentityProviderOutboundSigner`:
/// the certificate authority cannot be found.
pub(crate) fn attach(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut ca = None;
    let mut delay = Ok(());
    let action = format!("iam:{}", cx.call.operation);
    authorized_provider(cx, &action, Vec::new(), |c| {
        ca = Some(check_ca(|k| cx.params.get(k).map(str::to_string), c));
        delay = signing_delay(cx, c);
    })?;
    delay?;
    Err(ca_not_found(&ca.unwrap_or(PrivateCa { id: String::new(), account: String::new() })))
}

/// `DeleteWorkloadIdentityProviderOutboundSigner`: no X.509 signer exists.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut ca = None;
    let p = authorized_provider(cx, "iam:DeleteWorkloadIdentityProviderOutboundSigner", Vec::new(), |c| {
        ca = Some(check_ca(|k| cx.params.get(k).map(str::to_string), c));
    })?;
    let ca = ca.unwrap_or(PrivateCa { id: String::new(), account: String::new() });
    Err(no_such_entity(format!(
        "The workload identity provider {} has no X.509 outbound signer for certificate authority {}.",
        p.arn(),
        ca.arn()
    )))
}

/// `Enable/DisableWorkloadIdentityProviderOutboundSigner`: `X509` only; there is no X.509 signer
/// to stop or resume, so the call succeeds and changes nothing.
pub(crate) fn enable_or_disable(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut signer_type = None;
    let mut delay = Ok(());
    let enabling = cx.call.operation.starts_with("Enable");
    let action = format!("iam:{}", cx.call.operation);
    authorized_provider(cx, &action, Vec::new(), |c| {
        signer_type = cx.params.get("SignerType");
        c.not_null("signerType", signer_type.is_some()).one_of("signerType", signer_type, &["X509", "JWT"]);
        if enabling {
            delay = signing_delay(cx, c);
        }
    })?;
    delay?;
    if signer_type == Some("JWT") {
        return Err(invalid_input(
            "SignerType JWT is not accepted: IAM manages the outbound signers for JWT credentials, and they cannot be disabled, enabled or deleted.",
        ));
    }
    Ok(cx.respond(Some(String::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca(id: Option<&str>, account: Option<&str>) -> (PrivateCa, bool) {
        let mut c = Checks::new();
        let get = |k: &str| match k {
            "OutboundSigner.X509.CertificateAuthorityId" => id.map(str::to_string),
            "OutboundSigner.X509.AccountId" => account.map(str::to_string),
            _ => None,
        };
        let out = check_ca(get, &mut c);
        (out, c.is_ok())
    }

    #[test]
    fn certificate_authorities_follow_the_model() {
        let (good, ok) = ca(Some("a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"), Some("111122223333"));
        assert!(ok);
        assert_eq!(
            good.arn(),
            "arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
        );
        assert!(!ca(None, Some("111122223333")).1);
        assert!(!ca(Some("x"), None).1);
        assert!(!ca(Some("bad/id"), Some("111122223333")).1);
        assert!(!ca(Some("x"), Some("1111222233334")).1);
        assert!(!ca(Some("x"), Some("11112222333é")).1);
        assert!(!ca(Some(&"x".repeat(257)), Some("111122223333")).1);
        assert!(ca_not_found(&good).message.contains(&good.arn()));
    }
}
