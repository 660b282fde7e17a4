//! `GetCertificate` (STS API Reference, `API_GetCertificate.html`): an X509-SVID for the
//! workload identity of the calling role session, signed by the X.509 signer of its provider.
//!
//! An X.509 signer is an AWS Private CA certificate authority, and Tessera does not serve AWS
//! Private CA, so no provider can have one (docs/WORKLOAD_IDENTITY.md). Everything before the
//! signing is checked as AWS checks it: the permission (`sts:GetCertificate`), a role session
//! with a workload identity of a SPIFFE provider whose template and provider still exist, and the
//! certificate signing request (a PEM PKCS #10 request whose signature verifies with its own
//! public key, of a key type a signer could sign: RSA 2048-4096, ECDSA P-256 or P-384). Then the
//! request ends with `SignerNotConfiguredException`, what AWS answers for a provider without an
//! X.509 signer.

use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use tessera_wire::{AwsError, QueryParams, WireResponse};
use x509_cert::der::{DecodePem, Encode};
use x509_cert::request::CertReq;

use super::params::{self, Check};
use super::workload_context;
use crate::{Call, Services};

/// `MaxDurationSeconds` bounds.
pub const MIN_CERTIFICATE_SECS: i64 = 3600;
/// The longest (and default) certificate lifetime.
pub const MAX_CERTIFICATE_SECS: i64 = 43200;

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const RSA_SHA512: &str = "1.2.840.113549.1.1.13";

fn malformed(why: &str) -> AwsError {
    AwsError::new(
        400,
        "MalformedCertificateSigningRequestException",
        format!("The certificate signing request is not valid: {why}."),
    )
}

/// The verification algorithm for a CSR signed with `signature_oid` by a key of `key_oid`
/// (with curve `curve` for EC keys), when a signer could sign for that key.
fn verification(signature_oid: &str, key_oid: &str, curve: Option<&str>) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match (key_oid, curve, signature_oid) {
        (ID_EC_PUBLIC_KEY, Some(P256), ECDSA_SHA256) => &signature::ECDSA_P256_SHA256_ASN1,
        (ID_EC_PUBLIC_KEY, Some(P256), ECDSA_SHA384) => &signature::ECDSA_P256_SHA384_ASN1,
        (ID_EC_PUBLIC_KEY, Some(P384), ECDSA_SHA256) => &signature::ECDSA_P384_SHA256_ASN1,
        (ID_EC_PUBLIC_KEY, Some(P384), ECDSA_SHA384) => &signature::ECDSA_P384_SHA384_ASN1,
        (RSA_ENCRYPTION, _, RSA_SHA256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (RSA_ENCRYPTION, _, RSA_SHA384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (RSA_ENCRYPTION, _, RSA_SHA512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

/// The RSA modulus length in bits of a DER `RSAPublicKey`, if it parses.
fn rsa_bits(der: &[u8]) -> Option<usize> {
    use x509_cert::der::asn1::UintRef;
    use x509_cert::der::{Decode, Reader, SliceReader};
    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let _e = UintRef::decode(r)?;
            Ok((n.as_bytes().len() * 8).saturating_sub(n.as_bytes().first().map_or(8, |b| b.leading_zeros() as usize)))
        })
        .ok()
}

/// Parse a PEM PKCS #10 request and check that its signature verifies with its own key, and
/// that the key is of a type and size a signer supports.
pub fn check_csr(pem: &str) -> Result<(), AwsError> {
    if pem.trim().is_empty() {
        return Err(malformed("it is blank"));
    }
    let csr =
        CertReq::from_pem(pem.trim().as_bytes()).map_err(|_| malformed("it is not a PEM-encoded PKCS #10 request"))?;
    let key = &csr.info.public_key;
    let key_oid = key.algorithm.oid.to_string();
    let curve = key
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string());
    let key_bytes = key.subject_public_key.as_bytes().ok_or_else(|| malformed("its public key cannot be read"))?;
    if key_oid == RSA_ENCRYPTION && !rsa_bits(key_bytes).is_some_and(|b| (2048..=4096).contains(&b)) {
        return Err(malformed("its RSA key size is not supported (2048 to 4096 bits)"));
    }
    let algorithm = verification(&csr.algorithm.oid.to_string(), &key_oid, curve.as_deref())
        .ok_or_else(|| malformed("its key type or signature algorithm is not supported"))?;
    let signed = csr.info.to_der().map_err(|_| malformed("it cannot be re-encoded"))?;
    let sig = csr.signature.as_bytes().ok_or_else(|| malformed("its signature cannot be read"))?;
    UnparsedPublicKey::new(algorithm, key_bytes)
        .verify(&signed, sig)
        .map_err(|_| malformed("its signature does not verify"))
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
    if let Some(d) = params::integer(p, "MaxDurationSeconds")? {
        check.range("maxDurationSeconds", d, MIN_CERTIFICATE_SECS, MAX_CERTIFICATE_SECS);
    }
    check.finish()?;
    services.authorize(call, "sts:GetCertificate", "*")?;
    let (_, provider) = workload_context::session_workload(services, call, "sts:GetCertificate", "*")?;
    check_csr(csr)?;
    Err(workload_context::signer_not_configured(format!(
        "The workload identity provider {} has no X.509 signer: an X.509 signer is an AWS Private CA certificate authority, and AWS Private CA is not served by Tessera.",
        provider.arn()
    )))
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
            let e = check_csr(bad).err().map(|e| e.code);
            assert_eq!(e.as_deref(), Some("MalformedCertificateSigningRequestException"), "{bad}");
        }
    }

    #[test]
    fn rsa_key_sizes_never_underflow() {
        // SEQUENCE { INTEGER 0, INTEGER 3 }: a zero modulus is 0 bits, not a panic.
        assert_eq!(rsa_bits(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x03]), Some(0));
        assert_eq!(rsa_bits(&[0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03]), Some(3));
        assert_eq!(rsa_bits(&[0x30]), None);
    }

    #[test]
    fn csrs_made_with_ring_keys_verify_and_tampering_is_caught() {
        let csr = test_csr::p256();
        assert!(check_csr(&csr).is_ok(), "{csr}");
        // Flip one byte of the signed part.
        let tampered = test_csr::p256_tampered();
        assert!(check_csr(&tampered).is_err());
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
