//! Certificates: reading certificate signing requests, making a CA's own request, and issuing a
//! certificate from a CA under one of the profiles Tessera serves (AWS Private CA's templates
//! and the X.509-SVIDs of IAM workload identity).
//!
//! Requests are read with `x509-cert` and their signature is checked with `ring` against their
//! own public key; certificates are written by `rcgen`. Nothing here reads a clock: times come
//! in as epoch seconds.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm,
};
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde_json::Value;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, DecodePem, Encode, Tag, Tagged};
use x509_cert::request::CertReq;

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const RSA_SHA256: &str = "1.2.840.113549.1.1.11";
const RSA_SHA384: &str = "1.2.840.113549.1.1.12";
const RSA_SHA512: &str = "1.2.840.113549.1.1.13";

/// Why a certificate signing request cannot be used; the text completes "The certificate
/// signing request is not valid: ...".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrError(pub &'static str);

/// The public key of a request: the raw `subjectPublicKey` bits and the algorithm `rcgen`
/// writes its `SubjectPublicKeyInfo` with.
#[derive(Debug, Clone)]
pub struct RequestKey {
    raw: Vec<u8>,
    alg: &'static SignatureAlgorithm,
    /// `RSA_2048`... or `EC_prime256v1`/`EC_secp384r1`.
    pub key_algorithm: String,
}

impl PublicKeyData for RequestKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &SignatureAlgorithm {
        self.alg
    }
}

/// A request whose signature verified.
#[derive(Debug, Clone)]
pub struct Request {
    /// Its public key.
    pub key: RequestKey,
    /// Its subject, as `rcgen` writes it again.
    pub subject: DistinguishedName,
    /// Its subject, DER (to compare with a CA's).
    pub subject_der: Vec<u8>,
    /// The subject alternative names it asks for (DNS names, e-mail addresses, URIs and IP
    /// addresses of its `extensionRequest`), which end-entity certificates carry over.
    pub subject_alt_names: Vec<SanType>,
}

/// The subject alternative names of a request's `extensionRequest` attribute (the kinds
/// `rcgen` writes; others are left out).
fn requested_alt_names(csr: &CertReq) -> Result<Vec<SanType>, CsrError> {
    use x509_cert::der::oid::AssociatedOid;
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::request::ExtensionReq;
    let mut out = Vec::new();
    for attr in csr.info.attributes.iter().filter(|a| a.oid == ExtensionReq::OID) {
        for value in attr.values.iter() {
            let req: ExtensionReq = value.decode_as().map_err(|_| CsrError("its extension request cannot be read"))?;
            for ext in req.0.iter().filter(|e| e.extn_id == SubjectAltName::OID) {
                let names = SubjectAltName::from_der(ext.extn_value.as_bytes())
                    .map_err(|_| CsrError("its subject alternative names cannot be read"))?;
                for name in names.0 {
                    let san = match name {
                        GeneralName::DnsName(n) => n.to_string().try_into().ok().map(SanType::DnsName),
                        GeneralName::Rfc822Name(n) => n.to_string().try_into().ok().map(SanType::Rfc822Name),
                        GeneralName::UniformResourceIdentifier(n) => n.to_string().try_into().ok().map(SanType::URI),
                        GeneralName::IpAddress(ip) => match ip.as_bytes().len() {
                            4 => <[u8; 4]>::try_from(ip.as_bytes()).ok().map(|b| SanType::IpAddress(b.into())),
                            16 => <[u8; 16]>::try_from(ip.as_bytes()).ok().map(|b| SanType::IpAddress(b.into())),
                            _ => None,
                        },
                        _ => None,
                    };
                    out.extend(san);
                }
            }
        }
    }
    Ok(out)
}

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
pub fn rsa_bits(der: &[u8]) -> Option<usize> {
    use x509_cert::der::asn1::UintRef;
    use x509_cert::der::{Reader, SliceReader};
    let mut reader = SliceReader::new(der).ok()?;
    reader
        .sequence(|r| {
            let n = UintRef::decode(r)?;
            let _e = UintRef::decode(r)?;
            Ok((n.as_bytes().len() * 8).saturating_sub(n.as_bytes().first().map_or(8, |b| b.leading_zeros() as usize)))
        })
        .ok()
}

/// Read a PEM (or, when `pem` is not PEM, DER) PKCS #10 request; check that its signature
/// verifies with its own key and that the key is RSA 2048 to 4096 bits, ECDSA P-256 or P-384.
pub fn read_request(bytes: &[u8]) -> Result<Request, CsrError> {
    let text = std::str::from_utf8(bytes).ok().map(str::trim);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CsrError("it is blank"));
    }
    let csr = match text {
        Some(t) if t.starts_with("-----BEGIN") => {
            CertReq::from_pem(t.as_bytes()).map_err(|_| CsrError("it is not a PEM-encoded PKCS #10 request"))?
        }
        _ => CertReq::from_der(bytes).map_err(|_| CsrError("it is not a PKCS #10 request"))?,
    };
    let key = &csr.info.public_key;
    let key_oid = key.algorithm.oid.to_string();
    let curve =
        key.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok()).map(|o| o.to_string());
    let raw = key.subject_public_key.as_bytes().ok_or(CsrError("its public key cannot be read"))?;
    let (alg, key_algorithm): (&'static SignatureAlgorithm, String) = match (key_oid.as_str(), curve.as_deref()) {
        (RSA_ENCRYPTION, _) => {
            let bits = rsa_bits(raw).filter(|b| (2048..=4096).contains(b));
            let bits = bits.ok_or(CsrError("its RSA key size is not supported (2048 to 4096 bits)"))?;
            (&rcgen::PKCS_RSA_SHA256, format!("RSA_{bits}"))
        }
        (ID_EC_PUBLIC_KEY, Some(P256)) => (&rcgen::PKCS_ECDSA_P256_SHA256, "EC_prime256v1".into()),
        (ID_EC_PUBLIC_KEY, Some(P384)) => (&rcgen::PKCS_ECDSA_P384_SHA384, "EC_secp384r1".into()),
        _ => return Err(CsrError("its key type is not supported")),
    };
    let algorithm = verification(&csr.algorithm.oid.to_string(), &key_oid, curve.as_deref())
        .ok_or(CsrError("its signature algorithm is not supported"))?;
    let signed = csr.info.to_der().map_err(|_| CsrError("it cannot be re-encoded"))?;
    let sig = csr.signature.as_bytes().ok_or(CsrError("its signature cannot be read"))?;
    UnparsedPublicKey::new(algorithm, raw)
        .verify(&signed, sig)
        .map_err(|_| CsrError("its signature does not verify"))?;
    let subject_der = csr.info.subject.to_der().map_err(|_| CsrError("its subject cannot be re-encoded"))?;
    let subject = distinguished_name(&csr.info.subject).ok_or(CsrError("its subject cannot be read"))?;
    let subject_alt_names = requested_alt_names(&csr)?;
    Ok(Request { key: RequestKey { raw: raw.to_vec(), alg, key_algorithm }, subject, subject_der, subject_alt_names })
}

/// An `x509-cert` name as an `rcgen` one (attribute by attribute, keeping printable strings).
fn distinguished_name(name: &x509_cert::name::Name) -> Option<DistinguishedName> {
    let mut dn = DistinguishedName::new();
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            let arcs: Vec<u64> = atv.oid.arcs().map(u64::from).collect();
            let bytes = atv.value.value();
            let text = String::from_utf8(bytes.to_vec()).ok()?;
            let value = match atv.value.tag() {
                Tag::PrintableString => DnValue::PrintableString(text.try_into().ok()?),
                Tag::Ia5String => DnValue::Ia5String(text.try_into().ok()?),
                _ => DnValue::Utf8String(text),
            };
            dn.push(DnType::from_oid(&arcs), value);
        }
    }
    Some(dn)
}

/// The `ASN1Subject` members and their attribute types, in the order a CA's subject is written.
const SUBJECT_MEMBERS: &[(&str, &[u64])] = &[
    ("Country", &[2, 5, 4, 6]),
    ("Organization", &[2, 5, 4, 10]),
    ("OrganizationalUnit", &[2, 5, 4, 11]),
    ("DistinguishedNameQualifier", &[2, 5, 4, 46]),
    ("State", &[2, 5, 4, 8]),
    ("CommonName", &[2, 5, 4, 3]),
    ("SerialNumber", &[2, 5, 4, 5]),
    ("Locality", &[2, 5, 4, 7]),
    ("Title", &[2, 5, 4, 12]),
    ("Surname", &[2, 5, 4, 4]),
    ("GivenName", &[2, 5, 4, 42]),
    ("Initials", &[2, 5, 4, 43]),
    ("Pseudonym", &[2, 5, 4, 65]),
    ("GenerationQualifier", &[2, 5, 4, 44]),
];

/// The distinguished name of an `ASN1Subject` (its members, then its `CustomAttributes`).
pub fn subject_name(subject: &Value) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (member, oid) in SUBJECT_MEMBERS {
        if let Some(v) = subject.get(*member).and_then(Value::as_str) {
            let value = match *member {
                "Country" | "SerialNumber" | "DistinguishedNameQualifier" => v
                    .to_string()
                    .try_into()
                    .map(DnValue::PrintableString)
                    .unwrap_or_else(|_| DnValue::Utf8String(v.to_string())),
                _ => DnValue::Utf8String(v.to_string()),
            };
            dn.push(DnType::from_oid(oid), value);
        }
    }
    for a in subject.get("CustomAttributes").and_then(Value::as_array).into_iter().flatten() {
        let oid = a.get("ObjectIdentifier").and_then(Value::as_str).unwrap_or("");
        let arcs: Option<Vec<u64>> = oid.split('.').map(|p| p.parse().ok()).collect();
        if let (Some(arcs), Some(v)) = (arcs, a.get("Value").and_then(Value::as_str)) {
            if arcs.len() >= 2 {
                dn.push(DnType::from_oid(&arcs), DnValue::Utf8String(v.to_string()));
            }
        }
    }
    dn
}

/// A certificate authority's own signing request (PEM), for `subject`, signed by `key`.
pub fn ca_request(subject: &Value, key: &KeyPair) -> Result<String, rcgen::Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = subject_name(subject);
    params.serialize_request(key)?.pem()
}

/// What a certificate is for: AWS Private CA's templates and the workload identity SVID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Profile {
    /// `EndEntityCertificate/V1` (and `EndEntityClientAuthCertificate/V1`,
    /// `EndEntityServerAuthCertificate/V1` through `extended_key_usage`): the request's subject
    /// and subject alternative names, `CA:FALSE`, digital signature and key encipherment.
    EndEntity {
        /// Server and/or client authentication.
        server_auth: bool,
        /// See `server_auth`.
        client_auth: bool,
    },
    /// `RootCACertificate/V1`, `SubordinateCACertificate_PathLen*/V1`: `CA:TRUE` with the path
    /// length (`None`: unconstrained), certificate and CRL signing, digital signature.
    Authority {
        /// `pathLenConstraint`.
        path_len: Option<u8>,
    },
    /// An X.509-SVID (STS `GetCertificate`): an empty subject, one URI SAN (the SPIFFE ID),
    /// `CA:FALSE`, digital signature (and key encipherment for RSA keys), server and client
    /// authentication.
    Svid {
        /// `spiffe://<trust domain>/<path>`.
        spiffe_id: String,
    },
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct Issue<'a> {
    /// The request being signed.
    pub request: &'a Request,
    /// What the certificate is for.
    pub profile: Profile,
    /// Validity, epoch seconds.
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
    /// The serial number (at most 20 bytes, first bit clear).
    pub serial: Vec<u8>,
}

/// A new serial number: 16 random bytes, positive.
pub fn new_serial() -> Vec<u8> {
    let mut s: [u8; 16] = rand::random();
    s[0] &= 0x7f;
    if s[0] == 0 {
        s[0] = 1;
    }
    s.to_vec()
}

/// `basicConstraints` critical with `cA` absent (its DEFAULT, FALSE): DER leaves a DEFAULT value
/// out, which `rcgen`'s `IsCa::ExplicitNoCa` does not, and strict verifiers (`webpki`,
/// `cryptography`) refuse a certificate that encodes it.
fn not_a_ca(p: &mut CertificateParams) {
    p.is_ca = IsCa::NoCa;
    let mut ext = rcgen::CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
    ext.set_criticality(true);
    p.custom_extensions.push(ext);
}

fn params_for(issue: &Issue<'_>) -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::default();
    p.not_before = time::OffsetDateTime::from_unix_timestamp(issue.not_before).map_err(|_| rcgen::Error::Time)?;
    p.not_after = time::OffsetDateTime::from_unix_timestamp(issue.not_after).map_err(|_| rcgen::Error::Time)?;
    p.serial_number = Some(SerialNumber::from_slice(&issue.serial));
    p.use_authority_key_identifier_extension = true;
    match &issue.profile {
        Profile::EndEntity { server_auth, client_auth } => {
            p.distinguished_name = issue.request.subject.clone();
            p.subject_alt_names = issue.request.subject_alt_names.clone();
            not_a_ca(&mut p);
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
            if *server_auth {
                p.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
            }
            if *client_auth {
                p.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth);
            }
        }
        Profile::Authority { path_len } => {
            p.distinguished_name = issue.request.subject.clone();
            p.is_ca = IsCa::Ca(path_len.map_or(BasicConstraints::Unconstrained, BasicConstraints::Constrained));
            p.key_usages =
                vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        }
        Profile::Svid { spiffe_id } => {
            p.distinguished_name = DistinguishedName::new();
            not_a_ca(&mut p);
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            if issue.request.key.key_algorithm.starts_with("RSA") {
                p.key_usages.push(KeyUsagePurpose::KeyEncipherment);
            }
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
            p.subject_alt_names = vec![SanType::URI(spiffe_id.clone().try_into()?)];
        }
    }
    Ok(p)
}

/// Issue a certificate (PEM) signed by `issuer_key`: by the CA certificate `issuer_pem`, or,
/// when that is `None`, self-signed (a root CA's own certificate; the request must then carry
/// `issuer_key`'s public key, which the caller checks).
pub fn issue(issue: &Issue<'_>, issuer_pem: Option<&str>, issuer_key: &KeyPair) -> Result<String, rcgen::Error> {
    let params = params_for(issue)?;
    match issuer_pem {
        None => Ok(params.self_signed(issuer_key)?.pem()),
        Some(pem) => {
            let issuer = CertificateParams::from_ca_cert_pem(pem)?.self_signed(issuer_key)?;
            Ok(params.signed_by(&issue.request.key, &issuer, issuer_key)?.pem())
        }
    }
}

/// Facts of a certificate (PEM) that AWS Private CA reports and checks.
#[derive(Debug, Clone)]
pub struct CertificateFacts {
    /// Serial number, colon-separated lowercase hex.
    pub serial: String,
    /// Validity, epoch seconds.
    pub not_before: i64,
    /// See `not_before`.
    pub not_after: i64,
    /// `SubjectPublicKeyInfo`'s subject public key bits.
    pub public_key: Vec<u8>,
    /// Subject, DER.
    pub subject_der: Vec<u8>,
    /// Issuer, DER.
    pub issuer_der: Vec<u8>,
    /// `basicConstraints` `cA`.
    pub is_ca: bool,
    /// `basicConstraints` `pathLenConstraint` (`None`: unconstrained, or not a CA).
    pub path_len: Option<u8>,
}

/// Read the facts of one PEM certificate.
pub fn certificate_facts(pem: &str) -> Option<CertificateFacts> {
    use x509_cert::ext::pkix::BasicConstraints as Bc;
    let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes()).ok()?;
    let tbs = &cert.tbs_certificate;
    let serial = tbs.serial_number.as_bytes().iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    let epoch = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).ok();
    let bc = tbs.get::<Bc>().ok().flatten().map(|(_, bc)| bc);
    let is_ca = bc.as_ref().is_some_and(|bc| bc.ca);
    let path_len = bc.and_then(|bc| bc.path_len_constraint);
    Some(CertificateFacts {
        serial,
        not_before: epoch(&tbs.validity.not_before)?,
        not_after: epoch(&tbs.validity.not_after)?,
        public_key: tbs.subject_public_key_info.subject_public_key.as_bytes()?.to_vec(),
        subject_der: tbs.subject.to_der().ok()?,
        issuer_der: tbs.issuer.to_der().ok()?,
        is_ca,
        path_len,
    })
}

/// The PEM certificates of a bundle, in order (a chain).
pub fn split_pem_certificates(bundle: &str) -> Vec<String> {
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = bundle;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let Some(end) = rest[start..].find(END) else { break };
        out.push(format!("{}\n", &rest[start..start + end + END.len()]));
        rest = &rest[start + end + END.len()..];
    }
    out
}

/// Whether `child` (PEM) is signed by the key of `parent` (PEM) and names it as issuer.
pub fn is_signed_by(child: &str, parent: &str) -> bool {
    let (Ok(c), Some(p)) = (x509_cert::Certificate::from_pem(child.trim().as_bytes()), certificate_facts(parent))
    else {
        return false;
    };
    let Ok(issuer) = c.tbs_certificate.issuer.to_der() else { return false };
    if issuer != p.subject_der {
        return false;
    }
    let parent_cert = match x509_cert::Certificate::from_pem(parent.trim().as_bytes()) {
        Ok(p) => p,
        Err(_) => return false,
    };
    let spki = &parent_cert.tbs_certificate.subject_public_key_info;
    let curve =
        spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok()).map(|o| o.to_string());
    let Some(alg) =
        verification(&c.signature_algorithm.oid.to_string(), &spki.algorithm.oid.to_string(), curve.as_deref())
    else {
        return false;
    };
    let (Ok(tbs), Some(sig)) = (c.tbs_certificate.to_der(), c.signature.as_bytes()) else { return false };
    UnparsedPublicKey::new(alg, &p.public_key).verify(&tbs, sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{signing_key, KeyAlgorithm};

    fn ca(k: KeyAlgorithm, sig: &str) -> (KeyPair, String) {
        let key = signing_key(&k.generate_pkcs8().expect("key"), k.signature(sig).expect("sig")).expect("load");
        let csr = ca_request(
            &serde_json::json!({"CommonName": "Example Root", "Country": "US", "Organization": "Example"}),
            &key,
        )
        .expect("csr");
        (key, csr)
    }

    #[test]
    fn a_root_issues_itself_then_an_svid_that_chains_to_it() {
        let (root_key, root_csr) = ca(KeyAlgorithm::EcP384, "SHA384WITHECDSA");
        let req = read_request(root_csr.as_bytes()).expect("own request verifies");
        assert_eq!(req.key.key_algorithm, "EC_secp384r1");
        let root = issue(
            &Issue {
                request: &req,
                profile: Profile::Authority { path_len: None },
                not_before: 1_700_000_000,
                not_after: 2_000_000_000,
                serial: new_serial(),
            },
            None,
            &root_key,
        )
        .expect("root");
        let facts = certificate_facts(&root).expect("facts");
        assert!(facts.is_ca);
        assert_eq!(facts.subject_der, facts.issuer_der);
        assert!(is_signed_by(&root, &root));

        let (leaf_key, _) = ca(KeyAlgorithm::EcP256, "SHA256WITHECDSA");
        let mut lp = CertificateParams::default();
        lp.distinguished_name = DistinguishedName::new();
        let leaf_csr = lp.serialize_request(&leaf_key).expect("csr").pem().expect("pem");
        let leaf_req = read_request(leaf_csr.as_bytes()).expect("leaf request");
        let svid = issue(
            &Issue {
                request: &leaf_req,
                profile: Profile::Svid { spiffe_id: "spiffe://example.org/payments".into() },
                not_before: 1_700_000_000,
                not_after: 1_700_043_200,
                serial: new_serial(),
            },
            Some(&root),
            &root_key,
        )
        .expect("svid");
        let f = certificate_facts(&svid).expect("facts");
        assert!(!f.is_ca);
        assert_eq!(f.issuer_der, facts.subject_der);
        assert_eq!((f.not_before, f.not_after), (1_700_000_000, 1_700_043_200));
        assert!(is_signed_by(&svid, &root));
        assert!(!is_signed_by(&root, &svid));
    }

    #[test]
    fn rsa_authorities_sign_too() {
        let (key, csr) = ca(KeyAlgorithm::Rsa(2048), "SHA256WITHRSA");
        let req = read_request(csr.as_bytes()).expect("request");
        assert_eq!(req.key.key_algorithm, "RSA_2048");
        let root = issue(
            &Issue {
                request: &req,
                profile: Profile::Authority { path_len: Some(0) },
                not_before: 0,
                not_after: 4_000_000_000,
                serial: new_serial(),
            },
            None,
            &key,
        )
        .expect("root");
        assert!(is_signed_by(&root, &root));
    }

    #[test]
    fn garbage_requests_are_refused_never_a_panic() {
        for bad in ["", "  ", "not a csr", "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----"] {
            assert!(read_request(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(read_request(&[0x30, 0x03, 0x02, 0x01]).is_err());
        assert!(certificate_facts("nope").is_none());
        assert_eq!(split_pem_certificates("x"), Vec::<String>::new());
    }

    #[test]
    fn rsa_key_sizes_never_underflow() {
        assert_eq!(rsa_bits(&[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x03]), Some(0));
        assert_eq!(rsa_bits(&[0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03]), Some(3));
        assert_eq!(rsa_bits(&[0x30]), None);
    }
}
