//! X.509-SVIDs (`GetCertificate`), the trust bundle's `x509-svid` and `jwt-svid` keys, and
//! RS256 JWT-SVIDs, over an in-memory store: the CA records and the provider's signer entries
//! are written directly, as AWS Private CA and IAM would leave them.

use std::sync::Arc;

use base64::Engine;
use serde_json::Value;
use tessera_pca::keys::{signing_key, KeyAlgorithm};
use tessera_pca::model::{self as pca, CertificateAuthority};
use tessera_pca::x509::{self, Issue, Profile};
use tessera_store::secrets::SecretBox;
use tessera_store::sqlite::SqliteStore;
use tessera_wire::{AwsError, QueryParams};
use x509_cert::der::DecodePem;

use super::*;
use crate::caller::WorkloadIdentity;
use crate::clock::ManualClock;
use crate::iam_workload::workload_identity::templates::{template_key, WorkloadIdentityTemplate, TEMPLATE_TABLE};
use crate::iam_workload::workload_identity::x509_signer::{X509Signer, VALIDATING_SECS};
use crate::iam_workload::workload_identity::{provider_key, signers, WorkloadIdentityProvider, PROVIDER_TABLE};
use crate::model::{self, table, Role};
use crate::tests::xml_value;
use crate::{Call, CallerKind, Config, Services};

const ACCT: &str = "111122223333";
const T0: i64 = 1_800_000_000;
const SPIFFE_ID: &str = "spiffe://example.org/ns/payments/sa/checkout";
const ALL: &str = r#"["sts:GetCertificate","sts:GetWebIdentityToken","sts:GetTrustBundles","acm-pca:IssueCertificate","acm-pca:GetCertificate"]"#;

fn provider_arn() -> String {
    format!("arn:aws:iam::{ACCT}:workload-identity-provider/p")
}

fn save<T: serde::Serialize>(services: &Services, table: &str, key: &str, value: &T) {
    let mut w = services.store.write().unwrap_or_else(|_| panic!("write"));
    model::save(w.as_mut(), table, key, value).unwrap_or_else(|_| panic!("save"));
    w.commit().unwrap_or_else(|_| panic!("commit"));
}

/// The workload role's permissions: an Allow of `actions` (a JSON array).
fn allow(services: &Services, actions: &str) {
    let role = Role {
        account: ACCT.into(),
        name: "wl".into(),
        path: "/".into(),
        role_id: "AROAWORKLOADROLE00001".into(),
        created: T0,
        assume_role_policy_document: r#"{"Version":"2012-10-17","Statement":[]}"#.into(),
        description: None,
        max_session_duration: 3600,
        tags: vec![],
        permissions_boundary: None,
        inline_policies: vec![(
            "p".into(),
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":{actions},"Resource":"*"}}]}}"#
            ),
        )],
        attached_policies: vec![],
        last_used: None,
        source_role_template: None,
    };
    save(services, table::ROLE, &model::name_key(ACCT, "wl"), &role);
}

/// Services with the workload role, a SPIFFE provider (JWT signers made) and its template.
fn env() -> (Services, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0 * 1000));
    let store = Arc::new(SqliteStore::open_in_memory().unwrap_or_else(|_| panic!("store")));
    let services = Services::new(
        store,
        SecretBox::new(&[9u8; 32]),
        clock.clone(),
        Config { endpoint: "http://127.0.0.1:1".into() },
    );
    allow(&services, ALL);
    let provider = WorkloadIdentityProvider {
        account: ACCT.into(),
        name: "p".into(),
        id: "AWPAEXAMPLEEXAMPLE1".into(),
        scope: "ACCOUNT".into(),
        scheme: "SPIFFE".into(),
        domain: Some("example.org".into()),
        description: None,
        tags: vec![],
        resource_policy: None,
        jwt_signers: signers::generate(&services.secrets, "AWPAEXAMPLEEXAMPLE1", "SPIFFE", T0).unwrap_or_default(),
        x509_signers: vec![],
        created: T0,
    };
    save(&services, PROVIDER_TABLE, &provider_key(ACCT, "p"), &provider);
    let template = WorkloadIdentityTemplate {
        owner: ACCT.into(),
        created_by: ACCT.into(),
        name: "t".into(),
        id: "AWTAEXAMPLEEXAMPLE1".into(),
        scope: "ACCOUNT".into(),
        provider_arn: provider_arn(),
        description: None,
        path_prefix: None,
        path_pattern: "ns/{aws:WorkloadAttestation/aws/eks/Namespace}".into(),
        attestation_policy: None,
        tags: vec![],
        template_definition_arn: None,
        created: T0,
    };
    save(&services, TEMPLATE_TABLE, &template_key(ACCT, "t"), &template);
    (services, clock)
}

fn set_x509_signers(services: &Services, entries: Vec<X509Signer>) {
    let key = provider_key(ACCT, "p");
    let r = services.store.read().unwrap_or_else(|_| panic!("read"));
    let p: Option<WorkloadIdentityProvider> = model::load(r.as_ref(), PROVIDER_TABLE, &key).unwrap_or_default();
    drop(r);
    let mut p = p.unwrap_or_else(|| panic!("provider"));
    p.x509_signers = entries;
    save(services, PROVIDER_TABLE, &key, &p);
}

/// The role session with the workload identity.
fn session(services: &Services, op: &str) -> Call {
    let caller = Caller {
        account: ACCT.into(),
        arn: format!("arn:aws:sts::{ACCT}:assumed-role/wl/s"),
        user_id: "AROAWORKLOADROLE00001:s".into(),
        kind: CallerKind::AssumedRole {
            role_name: "wl".into(),
            role_path: "/".into(),
            role_id: "AROAWORKLOADROLE00001".into(),
            session_name: "s".into(),
        },
        access_key_id: "ASIAWORKLOAD00000001".into(),
        session: Some(SessionInfo {
            issued_at: T0,
            expires_at: T0 + 100_000,
            issued_by: "AssumeRole".into(),
            workload_identity: Some(WorkloadIdentity {
                subject: SPIFFE_ID.into(),
                provider_arn: provider_arn(),
                template_arn: format!("arn:aws:iam::{ACCT}:workload-identity-template/t"),
                provider_account: ACCT.into(),
                scheme: "SPIFFE".into(),
            }),
            ..Default::default()
        }),
    };
    crate::tests::call_at(services, caller, op)
}

fn run(services: &Services, op: &str, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
    let call = session(services, op);
    handle(services, &call, &QueryParams::from_pairs(pairs.iter().copied()))
        .map(|r| String::from_utf8(r.body.to_vec()).unwrap_or_default())
}

/// A CA key: its algorithm, the signature it makes, its PKCS #8.
#[derive(Clone)]
struct CaKey {
    alg: KeyAlgorithm,
    signature: &'static str,
    pkcs8: Vec<u8>,
}

/// Make a CA as AWS Private CA leaves an `ACTIVE` one, and store it: its key sealed, its
/// certificate self-signed (a root) or signed by `parent` (a subordinate, whose chain is then
/// the parent's certificate).
fn make_ca(
    services: &Services,
    id: &str,
    alg: KeyAlgorithm,
    signature: &'static str,
    parent: Option<(&CertificateAuthority, &CaKey)>,
) -> (CertificateAuthority, CaKey) {
    let pkcs8 = alg.generate_pkcs8().unwrap_or_else(|_| panic!("key"));
    let sig = alg.signature(signature).unwrap_or_else(|_| panic!("signature"));
    let key = signing_key(&pkcs8, sig).unwrap_or_else(|_| panic!("load"));
    let subject = serde_json::json!({ "CommonName": format!("CA {id}"), "Organization": "Example" });
    let csr = x509::ca_request(&subject, &key).unwrap_or_else(|_| panic!("csr"));
    let request = x509::read_request(csr.as_bytes()).unwrap_or_else(|_| panic!("request"));
    let issue = Issue {
        request: &request,
        profile: Profile::Authority { path_len: None },
        not_before: T0 - 86_400,
        not_after: T0 + 10 * 365 * 86_400,
        serial: x509::new_serial(),
    };
    let certificate = match parent {
        None => x509::issue(&issue, None, &key),
        Some((p, pk)) => {
            let parent_key = signing_key(&pk.pkcs8, pk.alg.signature(pk.signature).unwrap_or_else(|_| panic!("sig")))
                .unwrap_or_else(|_| panic!("parent key"));
            x509::issue(&issue, p.certificate_pem.as_deref(), &parent_key)
        }
    }
    .unwrap_or_else(|e| panic!("certificate: {e}"));
    let mut ca = CertificateAuthority {
        ca_type: if parent.is_some() { "SUBORDINATE" } else { "ROOT" }.into(),
        status: "ACTIVE".into(),
        key_algorithm: alg.name().into(),
        signing_algorithm: signature.into(),
        subject,
        usage_mode: "SERVICE_AFFILIATED".into(),
        service_affiliation: Some(tessera_pca::IAM_WORKLOAD_IDENTITY.into()),
        csr_pem: csr,
        certificate_pem: Some(certificate),
        chain_pem: parent.map(|(p, _)| tessera_pca::chain_of(p)),
        not_before: Some((T0 - 86_400) * 1000),
        not_after: Some((T0 + 10 * 365 * 86_400) * 1000),
        ..CertificateAuthority::pending(id, ACCT, "us-east-1", T0 * 1000)
    };
    ca.sealed_private_key = services.secrets.seal(&ca.seal_context(), &pkcs8);
    save_ca(services, &ca);
    (ca, CaKey { alg, signature, pkcs8 })
}

fn save_ca(services: &Services, ca: &CertificateAuthority) {
    let mut w = services.store.write().unwrap_or_else(|_| panic!("write"));
    pca::save_ca(w.as_mut(), ca).unwrap_or_else(|_| panic!("save"));
    w.commit().unwrap_or_else(|_| panic!("commit"));
}

fn p384_root(services: &Services, id: &str) -> CertificateAuthority {
    make_ca(services, id, KeyAlgorithm::EcP384, "SHA384WITHECDSA", None).0
}

/// An entry for `ca` in `ca`'s slot, signing from `start` until `end`.
fn entry(ca: &CertificateAuthority, start: i64, end: Option<i64>) -> X509Signer {
    X509Signer {
        ca_id: ca.id.clone(),
        ca_account: ca.account.clone(),
        ca_region: ca.region.clone(),
        key_algorithm: ca.key_algorithm.clone(),
        start,
        end,
        discovery_expiration: end.map(|e| e + VALIDATING_SECS),
        cancelled: false,
    }
}

/// A workload's request for a P-256 key, made with `tessera_pca` as any CSR builder would.
fn workload_csr() -> String {
    let alg = KeyAlgorithm::EcP256;
    let key = signing_key(&alg.generate_pkcs8().unwrap_or_else(|_| panic!("key")), alg.workload_identity_signature())
        .unwrap_or_else(|_| panic!("load"));
    x509::ca_request(&serde_json::json!({ "CommonName": "ignored" }), &key).unwrap_or_else(|_| panic!("csr"))
}

fn get_certificate(services: &Services, extra: &[(&str, &str)]) -> Result<String, AwsError> {
    let csr = workload_csr();
    let mut pairs = vec![("CertificateSigningRequest", csr.as_str())];
    pairs.extend_from_slice(extra);
    run(services, "GetCertificate", &pairs)
}

fn code(r: Result<String, AwsError>) -> (String, String) {
    match r {
        Ok(xml) => ("ok".into(), xml),
        Err(e) => (e.code, e.message),
    }
}

#[test]
fn the_signing_entry_is_the_first_slot_that_signs_now() {
    let (services, _) = env();
    let rsa = X509Signer { key_algorithm: "RSA_2048".into(), ..entry(&p384_root(&services, "r"), T0 - 10, None) };
    let p256 = X509Signer { key_algorithm: "EC_prime256v1".into(), ca_id: "p256".into(), ..rsa.clone() };
    let p384 = X509Signer { key_algorithm: "EC_secp384r1".into(), ca_id: "p384".into(), ..rsa.clone() };
    let pending = X509Signer { start: T0 + 100, ..p256.clone() };
    let stopped = X509Signer { end: Some(T0 - 1), ..p256.clone() };
    let ids = |v: &[X509Signer]| certificate::signing_entry(v, T0).map(|s| s.ca_id.clone());
    assert_eq!(ids(&[rsa.clone(), p384.clone(), p256.clone()]), Some("p256".into()));
    assert_eq!(ids(&[rsa.clone(), p384.clone()]), Some("p384".into()));
    // Not yet signing, or no longer: the next slot that signs is chosen.
    assert_eq!(ids(&[rsa.clone(), pending.clone(), stopped.clone()]), Some("r".into()));
    assert_eq!(ids(&[pending.clone(), stopped.clone()]), None);
    assert_eq!(ids(&[]), None);
    // The start time signs, the end time does not.
    assert_eq!(certificate::signing_entry(std::slice::from_ref(&pending), T0 + 100).map(|s| s.start), Some(T0 + 100));
    assert_eq!(certificate::signing_entry(&[stopped], T0 - 1), None);
}

#[test]
fn without_a_signing_entry_the_answer_says_why() {
    let (services, _) = env();
    let (c, m) = code(get_certificate(&services, &[]));
    assert_eq!(c, "SignerNotConfiguredException", "{m}");
    assert!(m.contains(&provider_arn()), "{m}");
    let ca = p384_root(&services, "root1");
    // Attached, not signing yet: the signer exists but cannot sign now.
    set_x509_signers(&services, vec![entry(&ca, T0 + 3600, None)]);
    let (c, m) = code(get_certificate(&services, &[]));
    assert_eq!(c, "RegionalSignerUnavailableException", "{m}");
    assert!(m.contains(&crate::clock::iso8601(T0 + 3600)), "{m}");
    // Disabled (VALIDATING): no signer signs.
    set_x509_signers(&services, vec![entry(&ca, T0 - 3600, Some(T0 - 60))]);
    assert_eq!(code(get_certificate(&services, &[])).0, "SignerNotConfiguredException");
    // The CA gone, or not ACTIVE: the signer cannot sign in this Region.
    set_x509_signers(&services, vec![X509Signer { ca_id: "gone".into(), ..entry(&ca, T0 - 60, None) }]);
    assert_eq!(code(get_certificate(&services, &[])).0, "RegionalSignerUnavailableException");
    set_x509_signers(&services, vec![entry(&ca, T0 - 60, None)]);
    for status in ["DISABLED", "EXPIRED", "DELETED"] {
        save_ca(&services, &CertificateAuthority { status: status.into(), ..ca.clone() });
        let (c, m) = code(get_certificate(&services, &[]));
        assert_eq!((c.as_str(), m.contains(status)), ("RegionalSignerUnavailableException", true), "{m}");
    }
    save_ca(&services, &CertificateAuthority { not_after: Some((T0 - 1) * 1000), ..ca.clone() });
    assert!(code(get_certificate(&services, &[])).1.contains("expired"));
    save_ca(&services, &ca);
    assert_eq!(code(get_certificate(&services, &[])).0, "ok");
}

#[test]
fn issuing_needs_sts_and_both_acm_pca_permissions_on_the_ca() {
    let (services, _) = env();
    let ca = p384_root(&services, "root1");
    set_x509_signers(&services, vec![entry(&ca, T0 - 60, None)]);
    let count = || {
        let r = services.store.read().unwrap_or_else(|_| panic!("read"));
        r.count(pca::CERTIFICATE_TABLE, "").unwrap_or(99)
    };
    for (actions, missing) in [
        (r#"["acm-pca:IssueCertificate","acm-pca:GetCertificate"]"#, "sts:GetCertificate"),
        (r#"["sts:GetCertificate","acm-pca:GetCertificate"]"#, "acm-pca:IssueCertificate"),
        (r#"["sts:GetCertificate","acm-pca:IssueCertificate"]"#, "acm-pca:GetCertificate"),
    ] {
        allow(&services, actions);
        let (c, m) = code(get_certificate(&services, &[]));
        assert_eq!(c, "AccessDenied", "{m}");
        assert!(m.contains(missing), "{missing}: {m}");
        if missing.starts_with("acm-pca") {
            assert!(m.contains(&ca.arn()), "{m}");
        }
        assert_eq!(count(), 0, "a refused request issues nothing");
    }
    allow(&services, ALL);
    assert_eq!(code(get_certificate(&services, &[])).0, "ok");
    assert_eq!(count(), 1, "the certificate is recorded as the CA's");
}

#[test]
fn the_certificate_is_an_x509_svid_that_chains_to_the_ca() {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};
    let (services, clock) = env();
    let (root, root_key) = make_ca(&services, "root1", KeyAlgorithm::EcP384, "SHA384WITHECDSA", None);
    let (sub, _) = make_ca(&services, "sub1", KeyAlgorithm::Rsa(2048), "SHA256WITHRSA", Some((&root, &root_key)));
    set_x509_signers(&services, vec![entry(&sub, T0 - 60, None)]);
    clock.advance_secs(10);
    let now = T0 + 10;
    for (extra, lifetime) in [(vec![("MaxDurationSeconds", "3600")], 3600), (vec![], 43_200)] {
        let xml = get_certificate(&services, &extra).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(xml_value(&xml, "Subject"), SPIFFE_ID);
        assert_eq!(xml_value(&xml, "NotBefore"), crate::clock::iso8601(now - 300));
        assert_eq!(xml_value(&xml, "NotAfter"), crate::clock::iso8601(now + lifetime));
        let pem = xml_value(&xml, "Certificate");
        let chain = xml_value(&xml, "CertificateChain");
        let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes()).unwrap_or_else(|_| panic!("{pem}"));
        let tbs = &cert.tbs_certificate;
        assert!(tbs.subject.0.is_empty(), "empty subject");
        let validity = (tbs.validity.not_before.to_unix_duration(), tbs.validity.not_after.to_unix_duration());
        assert_eq!((validity.0.as_secs() as i64, validity.1.as_secs() as i64), (now - 300, now + lifetime));
        let san = tbs.get::<SubjectAltName>().ok().flatten().map(|(_, s)| s.0).unwrap_or_default();
        assert_eq!(san.len(), 1);
        assert!(matches!(&san[0], GeneralName::UniformResourceIdentifier(u) if u.as_str() == SPIFFE_ID), "{san:?}");
        let bc = tbs.get::<BasicConstraints>().ok().flatten().map(|(_, b)| b.ca);
        assert_eq!(bc, Some(false), "CA:FALSE");
        let eku: Vec<String> = tbs
            .get::<ExtendedKeyUsage>()
            .ok()
            .flatten()
            .map(|(_, e)| e.0.iter().map(|o| o.to_string()).collect())
            .unwrap_or_default();
        assert!(eku.contains(&"1.3.6.1.5.5.7.3.1".to_string()) && eku.contains(&"1.3.6.1.5.5.7.3.2".to_string()));
        // Signed by the subordinate, whose certificate is first in the chain and chains to the root.
        let sub_pem = sub.certificate_pem.clone().unwrap_or_default();
        assert!(x509::is_signed_by(&pem, &sub_pem));
        assert!(!x509::is_signed_by(&pem, root.certificate_pem.as_deref().unwrap_or_default()));
        let links = x509::split_pem_certificates(&chain);
        assert_eq!(links.len(), 2);
        assert!(x509::is_signed_by(&links[0], &links[1]) && x509::is_signed_by(&links[1], &links[1]));
        assert!(x509::is_signed_by(&pem, &links[0]));
    }
}

#[test]
fn a_certificate_never_outlives_its_ca() {
    let (services, _) = env();
    let ca = p384_root(&services, "short");
    save_ca(&services, &CertificateAuthority { not_after: Some((T0 + 7200) * 1000), ..ca.clone() });
    set_x509_signers(&services, vec![entry(&ca, T0 - 60, None)]);
    let xml = get_certificate(&services, &[]).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(xml_value(&xml, "NotAfter"), crate::clock::iso8601(T0 + 7200));
}

fn bundle_keys(services: &Services) -> Vec<Value> {
    let arn = provider_arn();
    let xml = run(services, "GetTrustBundles", &[("ProviderArn", &arn)]).unwrap_or_else(|e| panic!("{e:?}"));
    let doc: Value = serde_json::from_str(&xml_value(&xml, "Bundle")).unwrap_or_default();
    doc["keys"].as_array().cloned().unwrap_or_default()
}

fn x5c_der(pem: &str) -> String {
    use x509_cert::der::Encode;
    let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes()).unwrap_or_else(|_| panic!("pem"));
    base64::engine::general_purpose::STANDARD.encode(cert.to_der().unwrap_or_default())
}

#[test]
fn the_bundle_publishes_each_published_entrys_trust_anchor() {
    let (services, _) = env();
    let (root, root_key) = make_ca(&services, "root", KeyAlgorithm::EcP384, "SHA384WITHECDSA", None);
    let (sub, _) = make_ca(&services, "sub", KeyAlgorithm::EcP256, "SHA256WITHECDSA", Some((&root, &root_key)));
    let (rsa_root, _) = make_ca(&services, "rsa", KeyAlgorithm::Rsa(2048), "SHA256WITHRSA", None);
    let pending = p384_root(&services, "pending");
    let validating = p384_root(&services, "validating");
    let inactive = p384_root(&services, "inactive");
    set_x509_signers(
        &services,
        vec![
            entry(&sub, T0 - 60, None),                                     // ACTIVE, chains up to `root`
            entry(&root, T0 - 60, None),                                    // ACTIVE, the same root: one key
            entry(&rsa_root, T0 - 60, None),                                // ACTIVE, RSA
            entry(&pending, T0 + 3600, None),                               // IN_TRANSITION
            entry(&validating, T0 - 7200, Some(T0 - 60)),                   // VALIDATING
            entry(&inactive, T0 - 100_000, Some(T0 - VALIDATING_SECS - 1)), // INACTIVE
            X509Signer { ca_id: "gone".into(), ..entry(&root, T0 - 60, None) }, // CA deleted for good
        ],
    );
    let keys = bundle_keys(&services);
    let x509: Vec<&Value> = keys.iter().filter(|k| k["use"] == "x509-svid").collect();
    let anchors: Vec<&str> = x509.iter().filter_map(|k| k["x5c"][0].as_str()).collect();
    let pem = |ca: &CertificateAuthority| x5c_der(ca.certificate_pem.as_deref().unwrap_or_default());
    assert_eq!(anchors, [pem(&root), pem(&rsa_root), pem(&pending), pem(&validating)]);
    assert!(x509.iter().all(|k| k["x5c"].as_array().map(Vec::len) == Some(1)));
    assert!(!anchors.contains(&pem(&sub).as_str()) && !anchors.contains(&pem(&inactive).as_str()));
    // The key members are the anchor's public key.
    assert_eq!((x509[0]["kty"].as_str(), x509[0]["crv"].as_str()), (Some("EC"), Some("P-384")));
    let root_point = x509::certificate_facts(root.certificate_pem.as_deref().unwrap_or_default())
        .map(|f| f.public_key)
        .unwrap_or_default();
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(v.as_str().unwrap_or("")).unwrap_or_default()
    };
    assert_eq!([vec![4u8], b64(&x509[0]["x"]), b64(&x509[0]["y"])].concat(), root_point);
    assert_eq!((x509[1]["kty"].as_str(), x509[1]["e"].as_str()), (Some("RSA"), Some("AQAB")));
    assert_eq!(b64(&x509[1]["n"]).len(), 256);
    // The JWT signers are there as before, each with its kid.
    let jwt: Vec<&str> = keys.iter().filter(|k| k["use"] == "jwt-svid").filter_map(|k| k["alg"].as_str()).collect();
    assert_eq!(jwt, ["ES384", "RS256"]);
}

#[test]
fn rs256_and_es384_jwt_svids_verify_against_the_bundle() {
    use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
    let (services, _) = env();
    let keys = bundle_keys(&services);
    for alg in ["RS256", "ES384"] {
        let xml = run(
            &services,
            "GetWebIdentityToken",
            &[("Audience.member.1", "spiffe://example.org/rp"), ("SigningAlgorithm", alg), ("TokenType", "JWT_SVID")],
        )
        .unwrap_or_else(|e| panic!("{alg}: {e:?}"));
        let token = xml_value(&xml, "WebIdentityToken");
        let header = decode_header(&token).unwrap_or_else(|_| panic!("header"));
        let kid = header.kid.unwrap_or_default();
        let jwk =
            keys.iter().find(|k| k["kid"] == kid.as_str()).unwrap_or_else(|| panic!("{alg}: kid {kid} published"));
        assert_eq!(jwk["alg"], alg);
        let s = |k: &str| jwk[k].as_str().unwrap_or_default();
        let (key, algorithm) = if alg == "RS256" {
            (DecodingKey::from_rsa_components(s("n"), s("e")), Algorithm::RS256)
        } else {
            (DecodingKey::from_ec_components(s("x"), s("y")), Algorithm::ES384)
        };
        let key = key.unwrap_or_else(|_| panic!("key"));
        let mut validation = Validation::new(algorithm);
        validation.set_audience(&["spiffe://example.org/rp"]);
        validation.validate_exp = false;
        let claims = decode::<Value>(&token, &key, &validation).unwrap_or_else(|e| panic!("{alg}: {e}")).claims;
        assert_eq!(claims["sub"], SPIFFE_ID);
        // A token signed by the other algorithm's key does not verify with this one.
        let mut wrong = Validation::new(algorithm);
        wrong.validate_aud = false;
        let other = keys.iter().find(|k| k["use"] == "jwt-svid" && k["alg"] != alg).cloned().unwrap_or_default();
        let other_key = if alg == "RS256" {
            DecodingKey::from_ec_components(other["x"].as_str().unwrap_or(""), other["y"].as_str().unwrap_or(""))
        } else {
            DecodingKey::from_rsa_components(other["n"].as_str().unwrap_or(""), other["e"].as_str().unwrap_or(""))
        };
        assert!(other_key.is_ok_and(|k| decode::<Value>(&token, &k, &Validation::new(algorithm)).is_err()));
    }
}
