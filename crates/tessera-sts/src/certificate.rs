//! `GetCertificate` (STS API Reference, `API_GetCertificate.html`): an X509-SVID for the
//! workload identity of the calling role session, signed by the X.509 signer of its provider.
//!
//! The order of the checks: the request's shapes (`ValidationError`); `sts:GetCertificate`; a
//! role session with a workload identity of a SPIFFE provider whose template and provider still
//! exist (`AccessDenied`); the certificate signing request, read by
//! [`tessera_pca::x509::read_request`] (`MalformedCertificateSigningRequestException`); the
//! provider's X.509 signer entry that signs now ([`signing_entry`]: when several slots hold one,
//! the first in [`SLOT_KEY_ALGORITHMS`] order), or `SignerNotConfiguredException` when it has
//! none, `RegionalSignerUnavailableException` when its only entries have not started signing;
//! the signer's AWS Private CA certificate authority, which must exist
//! (`RegionalSignerUnavailableException`); the caller's `acm-pca:IssueCertificate` and
//! `acm-pca:GetCertificate` on it ([`tessera_pca::authorize_on_ca`], its resource policy
//! included; a denial is STS's `AccessDenied`); the CA `ACTIVE` and unexpired
//! (`RegionalSignerUnavailableException`, read again in the write transaction). Then
//! [`tessera_pca::issue_svid`] signs and records the certificate in one store write transaction.
//! docs/WORKLOAD_IDENTITY.md gives the reasons for each choice.

use tessera_pca::model::{load_ca, CertificateAuthority};
use tessera_pca::SvidRequest;
use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::params::{self, Check};
use super::workload_context;
use crate::iam_workload::workload_identity::x509_signer::{X509Signer, SLOT_KEY_ALGORITHMS};
use crate::iam_workload::workload_identity::WorkloadIdentityProvider;
use crate::{clock, internal, Call, Services};

/// `MaxDurationSeconds` bounds.
pub const MIN_CERTIFICATE_SECS: i64 = 3600;
/// The longest (and default) certificate lifetime.
pub const MAX_CERTIFICATE_SECS: i64 = 43200;
/// How long before its issue a certificate becomes valid ("to allow for differences between
/// clocks, AWS STS sets this to five minutes before it issues the certificate").
pub const BACKDATE_SECS: i64 = 300;

fn malformed(why: &str) -> AwsError {
    AwsError::new(
        400,
        "MalformedCertificateSigningRequestException",
        format!("The certificate signing request is not valid: {why}."),
    )
}

/// `RegionalSignerUnavailableException` (404).
fn signer_unavailable(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "RegionalSignerUnavailableException", message)
}

/// Read a certificate signing request (PEM PKCS #10, its signature verified with its own key,
/// a key a signer can sign for); `MalformedCertificateSigningRequestException` otherwise.
pub fn read_csr(pem: &str) -> Result<tessera_pca::x509::Request, AwsError> {
    tessera_pca::x509::read_request(pem.as_bytes()).map_err(|e| malformed(e.0))
}

/// The X.509 signer entry that signs at `now`: among the entries signing then, the one whose
/// slot comes first in [`SLOT_KEY_ALGORITHMS`] (a slot Tessera does not know comes last), the
/// first recorded on a tie.
pub fn signing_entry(signers: &[X509Signer], now: i64) -> Option<&X509Signer> {
    let rank = |s: &X509Signer| {
        SLOT_KEY_ALGORITHMS.iter().position(|k| *k == s.key_algorithm).unwrap_or(SLOT_KEY_ALGORITHMS.len())
    };
    signers.iter().filter(|s| s.is_signing(now)).min_by_key(|s| rank(s))
}

/// The entry that signs now, or the error AWS answers when none does.
fn chosen_entry(provider: &WorkloadIdentityProvider, now: i64) -> Result<&X509Signer, AwsError> {
    if let Some(entry) = signing_entry(&provider.x509_signers, now) {
        return Ok(entry);
    }
    let next = provider.x509_signers.iter().filter(|s| s.status(now) == "IN_TRANSITION").map(|s| s.start).min();
    Err(match next {
        Some(start) => signer_unavailable(format!(
            "The X.509 signer of the workload identity provider {} is not active yet: it starts signing at {}. Retry the request after that time.",
            provider.arn(),
            clock::iso8601(start)
        )),
        None => workload_context::signer_not_configured(format!(
            "The workload identity provider {} has no X.509 signer that is signing: attach an AWS Private CA certificate authority with CreateWorkloadIdentityProviderOutboundSigner, or enable its signer.",
            provider.arn()
        )),
    })
}

/// `RegionalSignerUnavailableException` unless `ca` can issue at `now` (epoch seconds):
/// `ACTIVE`, with a certificate that has not expired.
fn check_usable(ca: &CertificateAuthority, now: i64) -> Result<(), AwsError> {
    let why = if ca.status != "ACTIVE" {
        format!("is {}", ca.status)
    } else if ca.certificate_pem.is_none() {
        "has no certificate".to_string()
    } else if ca.not_after.is_some_and(|t| t / 1000 <= now) {
        "has expired".to_string()
    } else {
        return Ok(());
    };
    Err(signer_unavailable(format!(
        "The certificate authority {} of the workload identity provider's X.509 signer cannot issue certificates: it {why}.",
        ca.arn()
    )))
}

/// Load the CA of `entry`, or `RegionalSignerUnavailableException` when it is gone.
fn load_entry_ca(r: &dyn tessera_store::ReadTxn, entry: &X509Signer) -> Result<CertificateAuthority, AwsError> {
    load_ca(r, &entry.ca_region, &entry.ca_account, &entry.ca_id).map_err(internal)?.ok_or_else(|| {
        signer_unavailable(format!(
            "The certificate authority {} of the workload identity provider's X.509 signer does not exist.",
            entry.ca_arn()
        ))
    })
}

/// Run `GetCertificate`.
pub fn get_certificate(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let csr = p.required("CertificateSigningRequest")?;
    let mut check = Check::default();
    check.length("certificateSigningRequest", csr, 1, 32768).pattern(
        "certificateSigningRequest",
        csr,
        params::POLICY_PATTERN,
        tessera_iam::x509::is_pem_text(csr),
    );
    let duration = params::integer(p, "MaxDurationSeconds")?;
    if let Some(d) = duration {
        check.range("maxDurationSeconds", d, MIN_CERTIFICATE_SECS, MAX_CERTIFICATE_SECS);
    }
    check.finish()?;
    services.authorize(call, "sts:GetCertificate", "*")?;
    let (identity, provider) = workload_context::session_workload(services, call, "sts:GetCertificate", "*")?;
    let request = read_csr(csr)?;
    let now = call.now_secs();
    let entry = chosen_entry(&provider, now)?;
    let ca = {
        let r = services.store.read().map_err(internal)?;
        load_entry_ca(r.as_ref(), entry)?
    };
    // "You must also have permission for the acm-pca:IssueCertificate and acm-pca:GetCertificate
    // actions on the certificate authority."
    tessera_pca::authorize_on_ca(services, call, "acm-pca:IssueCertificate", &ca)?;
    tessera_pca::authorize_on_ca(services, call, "acm-pca:GetCertificate", &ca)?;

    let mut w = services.store.write().map_err(internal)?;
    let ca = load_entry_ca(w.as_ref(), entry)?;
    check_usable(&ca, now)?;
    // A certificate never outlives the authority that signs it.
    let mut not_after = now + duration.unwrap_or(MAX_CERTIFICATE_SECS);
    if let Some(ca_end) = ca.not_after {
        not_after = not_after.min(ca_end / 1000);
    }
    let svid =
        SvidRequest { request: &request, spiffe_id: &identity.subject, not_before: now - BACKDATE_SECS, not_after };
    let issued = tessera_pca::issue_svid(services, w.as_mut(), &ca, &svid, call.meta.now_millis)?;
    w.commit().map_err(internal)?;

    let mut x = XmlWriter::fragment();
    x.elem("Certificate", &issued.certificate_pem)
        .elem("CertificateChain", &issued.chain_pem)
        .elem("NotBefore", &clock::iso8601(svid.not_before))
        .elem("NotAfter", &clock::iso8601(svid.not_after))
        .elem("Subject", &identity.subject);
    Ok(WireResponse::query(STS_XMLNS, "GetCertificate", Some(&x.finish()), &call.meta.request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A request cut short: PEM framing around DER that ends mid-signature.
    const P256_CSR: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIHKMHICAQAwDDEKMAgGA1UEAwwBdzBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IA
BDzs1HZ7v2i+1R0Zx1bQWQJ3e2iXxn0gJq5+2F5bkJ3m4zRgx1+6v9g1m3zZ1TqP
KjDe7bN+7pYgkYf3yU5h4r+gADAKBggqhkjOPQQDAgNIADBFAiEA0w3tq1p5y0Xn
-----END CERTIFICATE REQUEST-----";

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        for bad in
            ["", "   ", "not a csr", P256_CSR, "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----"]
        {
            let e = read_csr(bad).err().map(|e| e.code);
            assert_eq!(e.as_deref(), Some("MalformedCertificateSigningRequestException"), "{bad}");
        }
    }

    #[test]
    fn csrs_made_with_ring_keys_verify_and_tampering_is_caught() {
        let csr = test_csr::p256();
        assert!(read_csr(&csr).is_ok(), "{csr}");
        // Flip one byte of the signed part.
        let tampered = test_csr::p256_tampered();
        assert!(read_csr(&tampered).is_err());
    }

    /// CSRs built here from a `ring` key pair (DER by hand: no CSR builder is a dependency).
    mod test_csr {
        use base64::Engine;
        use ring::rand::SystemRandom;
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            let n = body.len();
            if n < 128 {
                out.push(n as u8);
            } else if n < 256 {
                out.extend([0x81, n as u8]);
            } else {
                out.extend([0x82, (n >> 8) as u8, n as u8]);
            }
            out.extend_from_slice(body);
            out
        }

        fn build(tamper: bool) -> String {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                .map_err(|_| ())
                .unwrap_or_else(|_| panic!());
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                .unwrap_or_else(|_| panic!());
            let oid = |bytes: &[u8]| tlv(0x06, bytes);
            let alg = tlv(
                0x30,
                &[
                    oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                    oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
                ]
                .concat(),
            );
            let mut bits = vec![0u8];
            bits.extend_from_slice(pair.public_key().as_ref());
            let spki = tlv(0x30, &[alg, tlv(0x03, &bits)].concat());
            let cn = tlv(0x30, &tlv(0x31, &tlv(0x30, &[oid(&[0x55, 0x04, 0x03]), tlv(0x0c, b"w")].concat())));
            let info = tlv(0x30, &[tlv(0x02, &[0]), cn, spki, tlv(0xa0, &[])].concat());
            let sig = pair.sign(&rng, &info).unwrap_or_else(|_| panic!());
            let mut info_out = info.clone();
            if tamper {
                let last = info_out.len() - 3;
                info_out[last] ^= 1;
            }
            let sig_alg = tlv(0x30, &oid(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]));
            let mut sig_bits = vec![0u8];
            sig_bits.extend_from_slice(sig.as_ref());
            let der = tlv(0x30, &[info_out, sig_alg, tlv(0x03, &sig_bits)].concat());
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<String> =
                b64.as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
            format!("-----BEGIN CERTIFICATE REQUEST-----\n{}\n-----END CERTIFICATE REQUEST-----\n", lines.join("\n"))
        }

        pub fn p256() -> String {
            build(false)
        }

        pub fn p256_tampered() -> String {
            build(true)
        }
    }
}
