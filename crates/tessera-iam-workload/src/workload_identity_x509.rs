//! The X.509 outbound signers of a workload identity provider:
//! `Create/Update/Delete/Enable/DisableWorkloadIdentityProviderOutboundSigner` (IAM API
//! Reference).
//!
//! An X.509 signer is an AWS Private CA certificate authority attached to the provider, in the
//! slot of its key algorithm (`workload_identity_x509_signer.rs` holds the entry,
//! `workload_identity_x509_slots.rs` what each operation does to a slot's entries). Each
//! operation authorizes `iam:<Operation>` on the provider first. `Create` and `Update` then look
//! the certificate authority up in us-east-1: one that does not exist (or is deleted) is
//! `InvalidInput` "cannot be found"; IAM calls AWS Private CA with the caller's credentials, so
//! `acm-pca:CreateCertificateAuthorityAssociation` is authorized on it (its resource policy
//! counts for another account's CA: a CA of another account the caller may not use reads as not
//! found, a CA of the caller's own account as `AccessDenied`); then every requirement of the
//! documentation is checked (`InvalidInput` naming the one that failed). The association (the
//! provider's ARN) is recorded on the CA in the same transaction as the entry. `Delete` releases
//! it (`acm-pca:DeleteCertificateAuthorityAssociation`; already gone: it goes ahead).
//! `SignerType` `JWT` is `InvalidInput` ("IAM rejects JWT, because IAM manages the outbound
//! signers for JWT credentials").

use tessera_pca::model::{load_ca, save_ca, CertificateAuthority};
use tessera_store::WriteTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::entities::{already_exists, invalid_input, no_such_entity, Cx, StoreResultExt};
use super::x509_signer::{X509Signer, SLOT_KEY_ALGORITHMS};
use super::{authorized_provider, update_provider_with, x509_slots, WorkloadIdentityProvider};
use crate::validate::Checks;

/// The action IAM calls AWS Private CA with to attach a certificate authority.
pub const ASSOCIATE_ACTION: &str = "acm-pca:CreateCertificateAuthorityAssociation";
/// The action IAM calls AWS Private CA with to release it.
pub const DISASSOCIATE_ACTION: &str = "acm-pca:DeleteCertificateAuthorityAssociation";

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
        tessera_pca::model::ca_arn(CA_REGION, &self.account, &self.id)
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
    invalid_input(format!("The certificate authority {} cannot be found.", ca.arn()))
}

/// Check the documentation's requirements on a certificate authority, in its order; the first
/// that fails is `InvalidInput` naming it.
pub fn check_requirements(ca: &CertificateAuthority) -> Result<(), AwsError> {
    let arn = ca.arn();
    let fail = |what: String| {
        Err(invalid_input(format!(
            "The certificate authority {arn} cannot be used as an X.509 outbound signer: {what}"
        )))
    };
    if ca.status != "ACTIVE" {
        return fail(format!("its status must be ACTIVE, not {}.", ca.status));
    }
    if !matches!(ca.ca_type.as_str(), "ROOT" | "SUBORDINATE") {
        return fail(format!("its type must be ROOT or SUBORDINATE, not {}.", ca.ca_type));
    }
    if !SLOT_KEY_ALGORITHMS.contains(&ca.key_algorithm.as_str()) {
        return fail(format!(
            "its key algorithm must be one of {}, not {}.",
            SLOT_KEY_ALGORITHMS.join(", "),
            ca.key_algorithm
        ));
    }
    if ca.usage_mode != "SERVICE_AFFILIATED" {
        return fail(format!("its UsageMode must be SERVICE_AFFILIATED, not {}.", ca.usage_mode));
    }
    if ca.service_affiliation.as_deref() != Some(tessera_pca::IAM_WORKLOAD_IDENTITY) {
        return fail(format!(
            "its service affiliation code must be {}, not {}.",
            tessera_pca::IAM_WORKLOAD_IDENTITY,
            ca.service_affiliation.as_deref().unwrap_or("none")
        ));
    }
    Ok(())
}

/// Load the certificate authority a request names, if it exists and is not deleted.
fn load_live(
    r: &(impl tessera_store::ReadTxn + ?Sized),
    ca: &PrivateCa,
) -> Result<Option<CertificateAuthority>, AwsError> {
    Ok(load_ca(r, CA_REGION, &ca.account, &ca.id).st()?.filter(|c| c.status != "DELETED"))
}

/// The certificate authority `Create`/`Update` name: found, usable by the caller
/// ([`ASSOCIATE_ACTION`]) and meeting every requirement.
fn usable_ca(cx: &Cx<'_>, ca: &PrivateCa) -> Result<CertificateAuthority, AwsError> {
    let found = load_live(cx.read()?.as_ref(), ca)?.ok_or_else(|| ca_not_found(ca))?;
    if let Err(e) = tessera_pca::authorize_on_ca(cx.services, cx.call, ASSOCIATE_ACTION, &found) {
        // A CA of another account that does not share itself with the caller is not visible.
        return Err(if found.account == cx.account() { e } else { ca_not_found(ca) });
    }
    check_requirements(&found)?;
    Ok(found)
}

/// Record the provider's association on the certificate authority in `txn` (re-read there and
/// checked again; already recorded: nothing to do).
fn associate(txn: &mut dyn WriteTxn, ca: &PrivateCa, provider_arn: &str, now_millis: i64) -> Result<(), AwsError> {
    let mut record = load_live(&*txn, ca)?.ok_or_else(|| ca_not_found(ca))?;
    check_requirements(&record)?;
    if !record.associate(provider_arn, now_millis) {
        return Ok(());
    }
    save_ca(txn, &record).st()
}

/// Whether AWS Private CA lets the caller release `entry`'s association ([`DISASSOCIATE_ACTION`]):
/// an association (or certificate authority) that is already gone needs nothing.
fn may_release(cx: &Cx<'_>, entry: &X509Signer, provider_arn: &str) -> Result<(), AwsError> {
    let record = load_ca(cx.read()?.as_ref(), &entry.ca_region, &entry.ca_account, &entry.ca_id).st()?;
    match record {
        Some(ca) if ca.is_associated(provider_arn) => {
            tessera_pca::authorize_on_ca(cx.services, cx.call, DISASSOCIATE_ACTION, &ca)
        }
        _ => Ok(()),
    }
}

/// Remove the provider's association from `entry`'s certificate authority in `txn`.
fn release(txn: &mut dyn WriteTxn, entry: &X509Signer, provider_arn: &str) -> Result<(), AwsError> {
    let Some(mut ca) = load_ca(&*txn, &entry.ca_region, &entry.ca_account, &entry.ca_id).st()? else {
        return Ok(());
    };
    if !ca.disassociate(provider_arn) {
        return Ok(());
    }
    save_ca(txn, &ca).st()
}

/// `SigningDelayInHours` (1-48) in seconds, `default_hours` when omitted.
fn signing_delay(cx: &Cx<'_>, c: &mut Checks, default_hours: i64) -> Result<i64, AwsError> {
    Ok(cx.int_opt(c, "SigningDelayInHours", 1, 48)?.unwrap_or(default_hours).saturating_mul(3600))
}

/// The checked request of `Create`/`Update`: the provider, the certificate authority and the
/// delay in seconds.
fn attach_request(cx: &Cx<'_>, default_hours: i64) -> Result<(WorkloadIdentityProvider, PrivateCa, i64), AwsError> {
    let mut ca = None;
    let mut delay = Ok(0);
    let action = format!("iam:{}", cx.call.operation);
    let p = authorized_provider(cx, &action, Vec::new(), |c| {
        ca = Some(check_ca(|k| cx.params.get(k).map(str::to_string), c));
        delay = signing_delay(cx, c, default_hours);
    })?;
    let delay = delay?;
    Ok((p, ca.unwrap_or(PrivateCa { id: String::new(), account: String::new() }), delay))
}

/// A new entry for `ca` (its slot: `found`'s key algorithm) starting at `start`.
fn entry_for(ca: &PrivateCa, found: &CertificateAuthority, start: i64) -> X509Signer {
    X509Signer {
        ca_id: ca.id.clone(),
        ca_account: ca.account.clone(),
        ca_region: CA_REGION.to_string(),
        key_algorithm: found.key_algorithm.clone(),
        start,
        end: None,
        discovery_expiration: None,
        cancelled: false,
    }
}

/// `CreateWorkloadIdentityProviderOutboundSigner`: fill the empty slot of the certificate
/// authority's key algorithm; the entry starts `IN_TRANSITION` (default delay: 1 hour).
pub(crate) fn create(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let (p, ca, delay) = attach_request(cx, 1)?;
    let found = usable_ca(cx, &ca)?;
    let now = cx.now();
    let entry = entry_for(&ca, &found, now.saturating_add(delay));
    let arn = p.arn();
    update_provider_with(cx, &p, |txn, provider| {
        if provider.x509_signers.iter().any(|s| s.key_algorithm == entry.key_algorithm) {
            return Err(already_exists(format!(
                "The workload identity provider {arn} already has an X.509 outbound signer with key algorithm {}. Use UpdateWorkloadIdentityProviderOutboundSigner to rotate it.",
                entry.key_algorithm
            )));
        }
        associate(txn, &ca, &arn, cx.call.meta.now_millis)?;
        provider.x509_signers.push(entry);
        Ok(())
    })?;
    Ok(cx.respond(Some(String::new())))
}

/// `UpdateWorkloadIdentityProviderOutboundSigner`: rotate, cancel or re-time within the slot
/// (default delay: 24 hours). The `INACTIVE` entries a full slot sheds are deleted as
/// `DeleteWorkloadIdentityProviderOutboundSigner` would (their associations released), in the
/// same transaction as the rotation.
pub(crate) fn update(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let (p, ca, delay) = attach_request(cx, 24)?;
    let found = usable_ca(cx, &ca)?;
    let now = cx.now();
    let entry = entry_for(&ca, &found, now);
    let arn = p.arn();
    // The deletions a full slot needs are authorized before anything is written.
    let plan = x509_slots::rotate(&mut p.x509_signers.clone(), &entry, now, delay)?;
    for gone in &plan.removed {
        may_release(cx, gone, &arn)?;
    }
    update_provider_with(cx, &p, |txn, provider| {
        let outcome = x509_slots::rotate(&mut provider.x509_signers, &entry, now, delay)?;
        if outcome.removed != plan.removed {
            return Err(AwsError::new(
                409,
                "ConcurrentModification",
                "The provider's X.509 outbound signers changed during the request. Try again.",
            ));
        }
        for gone in &outcome.removed {
            release(txn, gone, &arn)?;
        }
        if matches!(outcome.rotation, x509_slots::Rotation::Attached { .. }) {
            associate(txn, &ca, &arn, cx.call.meta.now_millis)?;
        }
        Ok(())
    })?;
    Ok(cx.respond(Some(String::new())))
}

/// `DeleteWorkloadIdentityProviderOutboundSigner`: remove one `VALIDATING` or `INACTIVE` entry
/// and release its association.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut ca = None;
    let p = authorized_provider(cx, "iam:DeleteWorkloadIdentityProviderOutboundSigner", Vec::new(), |c| {
        ca = Some(check_ca(|k| cx.params.get(k).map(str::to_string), c));
    })?;
    let ca = ca.unwrap_or(PrivateCa { id: String::new(), account: String::new() });
    let arn = p.arn();
    let now = cx.now();
    let deletable = |provider: &WorkloadIdentityProvider| -> Result<X509Signer, AwsError> {
        let entry = provider
            .x509_signers
            .iter()
            .find(|s| s.ca_id == ca.id && s.ca_account == ca.account && s.ca_region == CA_REGION)
            .ok_or_else(|| {
                no_such_entity(format!(
                    "The workload identity provider {arn} has no X.509 outbound signer for certificate authority {}.",
                    ca.arn()
                ))
            })?;
        let status = entry.status(now);
        if matches!(status, "ACTIVE" | "IN_TRANSITION") {
            return Err(invalid_input(format!(
                "The X.509 outbound signer for certificate authority {} is {status}: only a VALIDATING or INACTIVE signer can be deleted. Disable it first.",
                ca.arn()
            )));
        }
        Ok(entry.clone())
    };
    let entry = deletable(&p)?;
    may_release(cx, &entry, &arn)?;
    update_provider_with(cx, &p, |txn, provider| {
        let entry = deletable(provider)?;
        provider.x509_signers.retain(|s| !x509_slots::same_ca(s, &entry));
        release(txn, &entry, &arn)
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("WorkloadIdentityProviderArn", cx.params.get("WorkloadIdentityProviderArn").unwrap_or_default())
        .open("OutboundSigner", None)
        .open("X509", None)
        .elem("CertificateAuthorityId", &ca.id)
        .elem("AccountId", &ca.account)
        .close()
        .close()
        .elem("Status", "SUCCEEDED");
    Ok(cx.respond(Some(w.finish())))
}

/// `Enable/DisableWorkloadIdentityProviderOutboundSigner` (`X509` only): stop every signing or
/// incoming entry, or resume the most recently stopped entry of each idle slot (default delay:
/// 1 hour). Both are idempotent.
pub(crate) fn enable_or_disable(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut signer_type = None;
    let mut delay = Ok(0);
    let enabling = cx.call.operation.starts_with("Enable");
    let action = format!("iam:{}", cx.call.operation);
    let p = authorized_provider(cx, &action, Vec::new(), |c| {
        signer_type = cx.params.get("SignerType");
        c.not_null("signerType", signer_type.is_some()).one_of("signerType", signer_type, &["X509", "JWT"]);
        if enabling {
            delay = signing_delay(cx, c, 1);
        }
    })?;
    let delay = delay?;
    if signer_type == Some("JWT") {
        return Err(invalid_input(
            "SignerType JWT is not accepted: IAM manages the outbound signers for JWT credentials, and they cannot be disabled, enabled or deleted.",
        ));
    }
    let now = cx.now();
    update_provider_with(cx, &p, |_, provider| {
        if enabling {
            x509_slots::enable(&mut provider.x509_signers, now, delay);
        } else {
            x509_slots::disable(&mut provider.x509_signers, now);
        }
        Ok(())
    })?;
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

#[cfg(test)]
#[path = "workload_identity_x509_tests.rs"]
mod handler_tests;
