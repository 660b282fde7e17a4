//! AWS Private CA operation tests, on an in-memory `Services`.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};
use serde_json::{json, Value};
use tessera_core::clock::{Clock, ManualClock};
use tessera_core::{bootstrap, CallMeta, Caller, CallerKind};
use tessera_wire::AwsError;
use x509_cert::der::DecodePem;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};

use super::*;

const T0: i64 = 1_700_000_000_000;
const ACCOUNT: &str = "111122223333";
const OTHER: &str = "444455556666";

struct Env {
    services: Services,
    clock: Arc<ManualClock>,
}

fn env() -> Env {
    let clock = Arc::new(ManualClock::new(T0));
    let services = Services::in_memory(clock.clone()).expect("services");
    let mut w = services.store.write().expect("write");
    bootstrap::create_account(w.as_mut(), ACCOUNT, "a", "a@example.com", 0).expect("account");
    bootstrap::create_account(w.as_mut(), OTHER, "b", "b@example.com", 0).expect("account");
    w.commit().expect("commit");
    Env { services, clock }
}

fn root_of(account: &str) -> Caller {
    Caller::root(account, "AKIAROOTROOTROOTROOT")
}

fn alice() -> Caller {
    Caller {
        account: ACCOUNT.into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        user_id: "AIDAALICEALICEALICE00".into(),
        kind: CallerKind::User { name: "alice".into(), path: "/".into(), user_id: "AIDAALICEALICEALICE00".into() },
        access_key_id: "AKIAALICEALICEALICE0".into(),
        session: None,
    }
}

fn call_as(env: &Env, caller: Caller, op: &str, body: Value) -> Result<Value, AwsError> {
    let call = Call {
        caller,
        operation: op.into(),
        meta: CallMeta {
            request_id: tessera_core::ids::request_id(),
            region: "us-east-1".into(),
            source_ip: "127.0.0.1".into(),
            user_agent: "aws-cli/2 test".into(),
            secure_transport: false,
            now_millis: env.clock.now_millis(),
        },
    };
    handle(&env.services, &call, &body)
}

fn pca(env: &Env, op: &str, body: Value) -> Result<Value, AwsError> {
    call_as(env, root_of(ACCOUNT), op, body)
}

fn code(r: Result<Value, AwsError>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v}"),
        Err(e) => e.code,
    }
}

fn config(key: &str, sig: &str) -> Value {
    json!({"KeyAlgorithm": key, "SigningAlgorithm": sig,
           "Subject": {"CommonName": "Example CA", "Country": "US", "Organization": "Example"}})
}

fn create(env: &Env, ty: &str, extra: Value) -> String {
    let mut body = json!({"CertificateAuthorityType": ty, "CertificateAuthorityConfiguration": config("EC_prime256v1", "SHA256WITHECDSA")});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    pca(env, "CreateCertificateAuthority", body).expect("create")["CertificateAuthorityArn"]
        .as_str()
        .expect("arn")
        .to_string()
}

fn b64(s: &str) -> String {
    B64.encode(s)
}

fn days(n: i64) -> Value {
    json!({"Type": "DAYS", "Value": n})
}

/// Issue a root CA's certificate from its own CSR and import it; the certificate.
fn activate_root(env: &Env, arn: &str) -> String {
    let csr = pca(env, "GetCertificateAuthorityCsr", json!({"CertificateAuthorityArn": arn})).expect("csr")["Csr"]
        .as_str()
        .expect("csr")
        .to_string();
    let sig =
        describe(env, arn)["CertificateAuthorityConfiguration"]["SigningAlgorithm"].as_str().unwrap_or("").to_string();
    let issued = pca(
        env,
        "IssueCertificate",
        json!({"CertificateAuthorityArn": arn, "Csr": b64(&csr), "SigningAlgorithm": sig,
               "TemplateArn": "arn:aws:acm-pca:::template/RootCACertificate/V1", "Validity": {"Type": "YEARS", "Value": 10}}),
    )
    .expect("issue root");
    let cert = get_cert(env, arn, issued["CertificateArn"].as_str().expect("arn"))["Certificate"]
        .as_str()
        .expect("pem")
        .to_string();
    pca(
        env,
        "ImportCertificateAuthorityCertificate",
        json!({"CertificateAuthorityArn": arn, "Certificate": b64(&cert)}),
    )
    .expect("import");
    cert
}

fn describe(env: &Env, arn: &str) -> Value {
    pca(env, "DescribeCertificateAuthority", json!({"CertificateAuthorityArn": arn})).expect("describe")
        ["CertificateAuthority"]
        .clone()
}

fn get_cert(env: &Env, ca: &str, cert: &str) -> Value {
    pca(env, "GetCertificate", json!({"CertificateAuthorityArn": ca, "CertificateArn": cert})).expect("get")
}

/// A P-256 CSR for `cn` with a DNS name.
fn leaf_csr(cn: &str) -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.subject_alt_names = vec![SanType::DnsName(cn.try_into().expect("dns"))];
    p.serialize_request(&key).expect("csr").pem().expect("pem")
}

fn issue_leaf(env: &Env, ca: &str, template: &str, validity: Value) -> Result<Value, AwsError> {
    pca(
        env,
        "IssueCertificate",
        json!({"CertificateAuthorityArn": ca, "Csr": b64(&leaf_csr("www.example.com")), "SigningAlgorithm": "SHA256WITHECDSA",
               "TemplateArn": format!("arn:aws:acm-pca:::template/{template}"), "Validity": validity}),
    )
}

fn parsed(pem: &str) -> x509_cert::Certificate {
    x509_cert::Certificate::from_pem(pem.trim().as_bytes()).expect("certificate")
}

fn basic_constraints(c: &x509_cert::Certificate) -> Option<BasicConstraints> {
    c.tbs_certificate.get::<BasicConstraints>().ok().flatten().map(|(_, b)| b)
}

#[test]
fn create_describe_and_list() {
    let env = env();
    let arn = create(&env, "ROOT", json!({"Tags": [{"Key": "team", "Value": "pki"}], "IdempotencyToken": "tok-1"}));
    let (_, account, id) = model::parse_ca_arn(&arn).expect("ca arn");
    assert_eq!(account, ACCOUNT);
    assert_eq!(id.len(), 36);
    assert_eq!(id, id.to_ascii_lowercase());
    let ca = describe(&env, &arn);
    assert_eq!(ca["Status"], "PENDING_CERTIFICATE");
    assert_eq!(ca["Type"], "ROOT");
    assert_eq!(ca["OwnerAccount"], ACCOUNT);
    assert_eq!(ca["UsageMode"], "GENERAL_PURPOSE");
    assert_eq!(ca["KeyStorageSecurityStandard"], "FIPS_140_2_LEVEL_3_OR_HIGHER");
    assert_eq!(ca["CreatedAt"], json!(T0 / 1000));
    assert_eq!(ca["CertificateAuthorityConfiguration"]["Subject"]["CommonName"], "Example CA");
    assert!(ca.get("Serial").is_none() && ca.get("NotAfter").is_none());
    assert!(!ca.to_string().contains("PRIVATE KEY"));
    // The stored key is sealed: not the PKCS #8 in the clear.
    let stored = {
        let r = env.services.store.read().expect("read");
        model::load_ca_by_arn(r.as_ref(), &arn).expect("load").expect("ca")
    };
    let pkcs8 = env.services.secrets.open(&stored.seal_context(), &stored.sealed_private_key).expect("opens");
    assert!(KeyPair::try_from(pkcs8.as_slice()).is_ok());
    assert!(!stored.sealed_private_key.contains(&B64.encode(&pkcs8)[8..40]));
    assert!(env.services.secrets.open("acm-pca/other", &stored.sealed_private_key).is_err());
    // The CSR names the subject and verifies.
    let csr = pca(&env, "GetCertificateAuthorityCsr", json!({"CertificateAuthorityArn": arn})).expect("csr");
    let request = x509::read_request(csr["Csr"].as_str().expect("pem").as_bytes()).expect("a valid CSR");
    assert_eq!(request.key.key_algorithm, "EC_prime256v1");
    // The same idempotency token within five minutes is the same CA; after, a new one.
    let again = create(&env, "ROOT", json!({"IdempotencyToken": "tok-1"}));
    assert_eq!(again, arn);
    env.clock.advance_secs(301);
    let later = create(&env, "ROOT", json!({"IdempotencyToken": "tok-1"}));
    assert_ne!(later, arn);
    // Paging.
    let page1 = pca(&env, "ListCertificateAuthorities", json!({"MaxResults": 1})).expect("list");
    assert_eq!(page1["CertificateAuthorities"].as_array().map(Vec::len), Some(1));
    let token = page1["NextToken"].as_str().expect("token");
    let page2 = pca(&env, "ListCertificateAuthorities", json!({"MaxResults": 1, "NextToken": token})).expect("list");
    assert_eq!(page2["CertificateAuthorities"].as_array().map(Vec::len), Some(1));
    assert!(page2.get("NextToken").is_none());
    assert_ne!(page1["CertificateAuthorities"][0]["Arn"], page2["CertificateAuthorities"][0]["Arn"]);
    assert_eq!(code(pca(&env, "ListCertificateAuthorities", json!({"NextToken": "!!"}))), "InvalidNextTokenException");
    assert_eq!(code(pca(&env, "ListCertificateAuthorities", json!({"MaxResults": 0}))), "ValidationException");
    assert_eq!(code(pca(&env, "ListCertificateAuthorities", json!({"ResourceOwner": "ME"}))), "ValidationException");
    // Another account sees none of them, and none shared with it.
    let theirs = call_as(&env, root_of(OTHER), "ListCertificateAuthorities", json!({})).expect("list");
    assert_eq!(theirs["CertificateAuthorities"], json!([]));
    let shared =
        call_as(&env, root_of(OTHER), "ListCertificateAuthorities", json!({"ResourceOwner": "OTHER_ACCOUNTS"}))
            .expect("list");
    assert_eq!(shared["CertificateAuthorities"], json!([]));
}

#[test]
fn create_validation_errors_change_nothing() {
    let env = env();
    let ok = config("EC_prime256v1", "SHA256WITHECDSA");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"CertificateAuthorityConfiguration": ok}), "ValidationException"),
        (
            json!({"CertificateAuthorityType": "INTERMEDIATE", "CertificateAuthorityConfiguration": ok}),
            "ValidationException",
        ),
        (json!({"CertificateAuthorityType": "ROOT"}), "ValidationException"),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": config("EC_secp521r1", "SHA512WITHECDSA")}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": config("EC_prime256v1", "SHA256WITHRSA")}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": config("RSA_2048", "SHA256WITHRSA_PSS")}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": config("DSA", "SHA256WITHRSA")}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration":
            {"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA", "Subject": {"Country": "USA"}}}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration":
            {"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA", "Subject": {}}}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration":
            {"KeyAlgorithm": "EC_prime256v1", "SigningAlgorithm": "SHA256WITHECDSA", "Subject": {"CustomAttributes": [{"ObjectIdentifier": "9.9", "Value": "x"}]}}}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok, "UsageMode": "SERVICE_AFFILIATED"}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok, "UsageMode": "SERVICE_AFFILIATED",
                "ServiceAffiliation": {"ServiceAffiliationCode": "ACM"}}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok,
                "ServiceAffiliation": {"ServiceAffiliationCode": "IAM_WORKLOAD_IDENTITY"}}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok, "KeyStorageSecurityStandard": "NONE"}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok, "Tags": [{"Key": "aws:x", "Value": "v"}]}),
            "InvalidTagException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok, "Tags": [{"Key": "a#b", "Value": "v"}]}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok, "Tags": []}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok,
                "Tags": (0..51).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect::<Vec<_>>()}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok,
                "RevocationConfiguration": {"CrlConfiguration": {"Enabled": true}}}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok,
                "RevocationConfiguration": {"CrlConfiguration": {"Enabled": false, "ExpirationInDays": 0}}}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok,
                "RevocationConfiguration": {"OcspConfiguration": {}}}),
            "ValidationException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok,
                "RevocationConfiguration": {"OcspConfiguration": {"Enabled": true, "OcspCustomCname": "http://ocsp.example.com"}}}),
            "InvalidArgsException",
        ),
        (
            json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": ok, "IdempotencyToken": "x".repeat(37)}),
            "ValidationException",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(code(pca(&env, "CreateCertificateAuthority", body.clone())), expected, "{body}");
    }
    let list = pca(&env, "ListCertificateAuthorities", json!({})).expect("list");
    assert_eq!(list["CertificateAuthorities"], json!([]));
    // With a CRL bucket and an OCSP CNAME it is kept as given.
    let rc = json!({"CrlConfiguration": {"Enabled": true, "S3BucketName": "crl-bucket", "ExpirationInDays": 7},
                    "OcspConfiguration": {"Enabled": true, "OcspCustomCname": "ocsp.example.com"}});
    let arn = create(&env, "ROOT", json!({"RevocationConfiguration": rc}));
    assert_eq!(describe(&env, &arn)["RevocationConfiguration"], rc);
}

#[test]
fn a_root_lifecycle_issues_end_entity_certificates_that_chain_to_it() {
    let env = env();
    let root = create(&env, "ROOT", json!({}));
    assert_eq!(
        code(pca(&env, "GetCertificateAuthorityCertificate", json!({"CertificateAuthorityArn": root}))),
        "InvalidStateException"
    );
    assert_eq!(code(issue_leaf(&env, &root, "EndEntityCertificate/V1", days(30))), "InvalidStateException");
    let root_pem = activate_root(&env, &root);
    let root_cert = parsed(&root_pem);
    let bc = basic_constraints(&root_cert).expect("basic constraints");
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, None);
    assert!(x509::is_signed_by(&root_pem, &root_pem));
    let ca = describe(&env, &root);
    assert_eq!(ca["Status"], "ACTIVE");
    let facts = x509::certificate_facts(&root_pem).expect("facts");
    assert_eq!(ca["Serial"], json!(facts.serial));
    assert_eq!(ca["NotAfter"], json!(facts.not_after));
    assert_eq!(ca["NotBefore"], json!(T0 / 1000 - 3600));
    let got = pca(&env, "GetCertificateAuthorityCertificate", json!({"CertificateAuthorityArn": root})).expect("get");
    assert_eq!(got["Certificate"], json!(root_pem));
    assert!(got.get("CertificateChain").is_none());

    let issued = issue_leaf(&env, &root, "EndEntityServerAuthCertificate/V1", days(30)).expect("issue");
    let cert_arn = issued["CertificateArn"].as_str().expect("arn");
    let serial = cert_arn.rsplit('/').next().expect("serial");
    assert!(cert_arn.starts_with(&format!("{root}/certificate/")));
    assert!(serial.len() == 32 && serial.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    let got = get_cert(&env, &root, cert_arn);
    let leaf_pem = got["Certificate"].as_str().expect("pem");
    assert_eq!(got["CertificateChain"], json!(root_pem));
    assert!(x509::is_signed_by(leaf_pem, &root_pem));
    let leaf = parsed(leaf_pem);
    assert_eq!(basic_constraints(&leaf).map(|b| (b.ca, b.path_len_constraint)), Some((false, None)));
    // DER leaves out `cA`'s DEFAULT: the extension value is an empty SEQUENCE.
    let bc_der =
        leaf.tbs_certificate.extensions.iter().flatten().find(|e| e.extn_id.to_string() == "2.5.29.19").expect("bc");
    assert_eq!((bc_der.critical, bc_der.extn_value.as_bytes()), (true, &[0x30, 0x00][..]));
    let ku = leaf.tbs_certificate.get::<KeyUsage>().ok().flatten().expect("key usage").1;
    assert!(ku.0.contains(KeyUsages::DigitalSignature) && !ku.0.contains(KeyUsages::KeyCertSign));
    let eku = leaf.tbs_certificate.get::<ExtendedKeyUsage>().ok().flatten().expect("eku").1;
    let ekus: Vec<String> = eku.0.iter().map(|o| o.to_string()).collect();
    assert_eq!(ekus, vec!["1.3.6.1.5.5.7.3.1".to_string()]);
    assert!(leaf.tbs_certificate.subject.to_string().contains("CN=www.example.com"));
    let san = leaf.tbs_certificate.get::<SubjectAltName>().ok().flatten().expect("san").1;
    assert_eq!(san.0.len(), 1);
    assert!(matches!(&san.0[0], GeneralName::DnsName(n) if n.to_string() == "www.example.com"));
    let f = x509::certificate_facts(leaf_pem).expect("facts");
    assert_eq!((f.not_before, f.not_after), (T0 / 1000 - 3600, T0 / 1000 + 30 * 86_400));
    assert_eq!(hex::encode(leaf.tbs_certificate.serial_number.as_bytes()), serial);

    // Client-auth template, and ReturnValues CERTIFICATE.
    let out = pca(
        &env,
        "IssueCertificate",
        json!({"CertificateAuthorityArn": root, "Csr": b64(&leaf_csr("client")), "SigningAlgorithm": "SHA256WITHECDSA",
               "TemplateArn": "arn:aws:acm-pca:::template/EndEntityClientAuthCertificate/V1", "Validity": days(1),
               "ReturnValues": "CERTIFICATE"}),
    )
    .expect("issue");
    let eku = parsed(out["Certificate"].as_str().expect("pem"))
        .tbs_certificate
        .get::<ExtendedKeyUsage>()
        .ok()
        .flatten()
        .expect("eku")
        .1;
    assert_eq!(eku.0.iter().map(|o| o.to_string()).collect::<Vec<_>>(), vec!["1.3.6.1.5.5.7.3.2".to_string()]);
    assert_eq!(out["CertificateChain"], json!(root_pem));
}

#[test]
fn a_subordinate_ca_is_signed_by_the_root_and_issues_under_it() {
    let env = env();
    let root = create(&env, "ROOT", json!({}));
    let root_pem = activate_root(&env, &root);
    let sub = create(&env, "SUBORDINATE", json!({}));
    let csr = pca(&env, "GetCertificateAuthorityCsr", json!({"CertificateAuthorityArn": sub})).expect("csr")["Csr"]
        .as_str()
        .expect("pem")
        .to_string();
    // RootCACertificate/V1 signs only the CA's own CSR, and only for a root.
    let as_root = json!({"CertificateAuthorityArn": root, "Csr": b64(&csr), "SigningAlgorithm": "SHA256WITHECDSA",
                         "TemplateArn": "arn:aws:acm-pca:::template/RootCACertificate/V1", "Validity": days(30)});
    assert_eq!(code(pca(&env, "IssueCertificate", as_root)), "InvalidArgsException");
    let issued = pca(
        &env,
        "IssueCertificate",
        json!({"CertificateAuthorityArn": root, "Csr": b64(&csr), "SigningAlgorithm": "SHA256WITHECDSA",
               "TemplateArn": "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1", "Validity": {"Type": "YEARS", "Value": 5}}),
    )
    .expect("issue sub");
    let sub_pem = get_cert(&env, &root, issued["CertificateArn"].as_str().expect("arn"))["Certificate"]
        .as_str()
        .expect("pem")
        .to_string();
    let bc = basic_constraints(&parsed(&sub_pem)).expect("bc");
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let ku = parsed(&sub_pem).tbs_certificate.get::<KeyUsage>().ok().flatten().expect("ku").1;
    assert!(ku.0.contains(KeyUsages::KeyCertSign) && ku.0.contains(KeyUsages::CRLSign));
    assert!(x509::is_signed_by(&sub_pem, &root_pem));
    // Import errors: no chain, a chain that did not sign it, the root's certificate on the sub.
    let import = |cert: &str, chain: Option<&str>| {
        let mut body = json!({"CertificateAuthorityArn": sub, "Certificate": b64(cert)});
        if let Some(c) = chain {
            body["CertificateChain"] = json!(b64(c));
        }
        pca(&env, "ImportCertificateAuthorityCertificate", body)
    };
    assert_eq!(code(import(&sub_pem, None)), "InvalidRequestException");
    let other_root = create(&env, "ROOT", json!({}));
    let other_pem = activate_root(&env, &other_root);
    assert_eq!(code(import(&sub_pem, Some(&other_pem))), "CertificateMismatchException");
    assert_eq!(code(import(&root_pem, Some(&root_pem))), "CertificateMismatchException");
    assert_eq!(code(import("not a certificate", None)), "MalformedCertificateException");
    assert_eq!(describe(&env, &sub)["Status"], "PENDING_CERTIFICATE");
    import(&sub_pem, Some(&root_pem)).expect("import");
    assert_eq!(describe(&env, &sub)["Status"], "ACTIVE");
    let got = pca(&env, "GetCertificateAuthorityCertificate", json!({"CertificateAuthorityArn": sub})).expect("get");
    assert_eq!(got["CertificateChain"], json!(root_pem));

    // The subordinate issues end-entity certificates whose chain is it, then the root.
    let leaf = issue_leaf(&env, &sub, "EndEntityCertificate/V1", days(10)).expect("leaf");
    let got = get_cert(&env, &sub, leaf["CertificateArn"].as_str().expect("arn"));
    let chain = x509::split_pem_certificates(got["CertificateChain"].as_str().expect("chain"));
    assert_eq!(chain, vec![sub_pem.clone(), root_pem.clone()]);
    assert!(x509::is_signed_by(got["Certificate"].as_str().expect("pem"), &sub_pem));
    // Path length 0: no CA below it.
    assert_eq!(code(issue_leaf(&env, &sub, "SubordinateCACertificate_PathLen0/V1", days(10))), "InvalidArgsException");
    // Not past its CA's end.
    assert_eq!(
        code(issue_leaf(&env, &sub, "EndEntityCertificate/V1", json!({"Type": "YEARS", "Value": 6}))),
        "InvalidArgsException"
    );
    // A root certificate imported as a root must be self-signed.
    let fresh_root = create(&env, "ROOT", json!({}));
    assert_eq!(
        code(pca(
            &env,
            "ImportCertificateAuthorityCertificate",
            json!({"CertificateAuthorityArn": fresh_root, "Certificate": b64(&sub_pem)})
        )),
        "CertificateMismatchException"
    );
}

#[test]
fn issue_certificate_validation() {
    let env = env();
    let root = create(&env, "ROOT", json!({}));
    activate_root(&env, &root);
    let csr = b64(&leaf_csr("svc"));
    let base = json!({"CertificateAuthorityArn": root, "Csr": csr, "SigningAlgorithm": "SHA256WITHECDSA", "Validity": days(1)});
    let with = |patch: Value| {
        let mut b = base.clone();
        if let (Value::Object(m), Value::Object(p)) = (&mut b, patch) {
            m.extend(p);
        }
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(json!({"TemplateArn": "arn:aws:acm-pca:::template/CodeSigningCertificate/V1"})), "InvalidArgsException"),
        (
            with(json!({"Csr": b64("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")})),
            "MalformedCSRException",
        ),
        (with(json!({"Csr": "%%%"})), "SerializationException"),
        (with(json!({"SigningAlgorithm": "SHA256WITHRSA"})), "InvalidArgsException"),
        (with(json!({"SigningAlgorithm": "MD5"})), "ValidationException"),
        (with(json!({"Validity": {"Type": "DAYS", "Value": 0}})), "ValidationException"),
        (with(json!({"Validity": {"Type": "WEEKS", "Value": 1}})), "ValidationException"),
        (with(json!({"Validity": {"Type": "END_DATE", "Value": 20231399000000_i64}})), "InvalidArgsException"),
        (with(json!({"Validity": {"Type": "ABSOLUTE", "Value": 1_600_000_000}})), "InvalidArgsException"),
        (with(json!({"Validity": {"Type": "YEARS", "Value": 11}})), "InvalidArgsException"),
        (with(json!({"ApiPassthrough": {"Subject": {"CommonName": "x"}}})), "InvalidArgsException"),
        (with(json!({"ReturnValues": "BOTH"})), "ValidationException"),
        (
            with(json!({"CertificateAuthorityArn": "arn:aws:acm-pca:us-east-1:111122223333:bogus/x"})),
            "InvalidArnException",
        ),
        (
            json!({"CertificateAuthorityArn": root, "SigningAlgorithm": "SHA256WITHECDSA", "Validity": days(1)}),
            "ValidationException",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(code(pca(&env, "IssueCertificate", body.clone())), expected, "{body}");
    }
    let e = pca(
        &env,
        "IssueCertificate",
        with(json!({"TemplateArn": "arn:aws:acm-pca:::template/BlankEndEntityCertificate_APIPassthrough/V1"})),
    )
    .expect_err("unknown template");
    assert!(
        e.message.contains("SubordinateCACertificate_PathLen3/V1") && e.message.contains("EndEntityCertificate/V1"),
        "{}",
        e.message
    );
    // Validity types.
    let end = |validity: Value, not_before: Option<Value>| {
        let mut b = with(json!({"Validity": validity}));
        if let Some(nb) = not_before {
            b["ValidityNotBefore"] = nb;
        }
        let out = pca(&env, "IssueCertificate", b).expect("issue");
        let pem = get_cert(&env, &root, out["CertificateArn"].as_str().expect("arn"))["Certificate"]
            .as_str()
            .expect("pem")
            .to_string();
        let f = x509::certificate_facts(&pem).expect("facts");
        (f.not_before, f.not_after)
    };
    let now = T0 / 1000;
    assert_eq!(end(json!({"Type": "ABSOLUTE", "Value": now + 500}), None), (now - 3600, now + 500));
    assert_eq!(end(json!({"Type": "END_DATE", "Value": 20231201000000_i64}), None).1, 1_701_388_800);
    assert_eq!(end(json!({"Type": "END_DATE", "Value": 231201000000_i64}), None).1, 1_701_388_800);
    // 2023-11-14 plus one month is 2023-12-14, plus one year 2024-11-14 (same time of day).
    assert_eq!(end(json!({"Type": "MONTHS", "Value": 1}), None).1, now + 30 * 86_400);
    assert_eq!(end(json!({"Type": "YEARS", "Value": 1}), None).1, now + 366 * 86_400);
    assert_eq!(end(days(2), Some(json!({"Type": "ABSOLUTE", "Value": now + 60}))), (now + 60, now + 2 * 86_400));
    // The same idempotency token is the same certificate.
    let one = pca(&env, "IssueCertificate", with(json!({"IdempotencyToken": "abc"}))).expect("issue");
    let two = pca(&env, "IssueCertificate", with(json!({"IdempotencyToken": "abc"}))).expect("issue");
    let three = pca(&env, "IssueCertificate", with(json!({"IdempotencyToken": "abd"}))).expect("issue");
    assert_eq!(one, two);
    assert_ne!(one, three);
}

#[test]
fn usage_modes_limit_what_is_issued() {
    let env = env();
    let short = create(&env, "ROOT", json!({"UsageMode": "SHORT_LIVED_CERTIFICATE"}));
    activate_root(&env, &short);
    assert!(issue_leaf(&env, &short, "EndEntityCertificate/V1", days(7)).is_ok());
    assert_eq!(code(issue_leaf(&env, &short, "EndEntityCertificate/V1", days(8))), "InvalidArgsException");
    let affiliated = create(
        &env,
        "ROOT",
        json!({"UsageMode": "SERVICE_AFFILIATED", "ServiceAffiliation": {"ServiceAffiliationCode": IAM_WORKLOAD_IDENTITY}}),
    );
    assert_eq!(
        describe(&env, &affiliated)["ServiceAffiliation"],
        json!({"ServiceAffiliationCode": "IAM_WORKLOAD_IDENTITY"})
    );
    activate_root(&env, &affiliated);
    let e = issue_leaf(&env, &affiliated, "EndEntityCertificate/V1", days(1)).expect_err("refused");
    assert_eq!(e.code, "InvalidRequestException");
    assert!(e.message.contains("IAM_WORKLOAD_IDENTITY"));
    assert!(issue_leaf(&env, &affiliated, "SubordinateCACertificate_PathLen0/V1", days(1)).is_ok());
}

#[test]
fn rsa_2048_authorities_issue_rsa_signed_certificates() {
    let env = env();
    let body = json!({"CertificateAuthorityType": "ROOT", "CertificateAuthorityConfiguration": config("RSA_2048", "SHA256WITHRSA")});
    let arn = pca(&env, "CreateCertificateAuthority", body).expect("create")["CertificateAuthorityArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let root_pem = activate_root(&env, &arn);
    let out = pca(
        &env,
        "IssueCertificate",
        json!({"CertificateAuthorityArn": arn, "Csr": b64(&leaf_csr("rsa.example")), "SigningAlgorithm": "SHA512WITHRSA", "Validity": days(1)}),
    )
    .expect("issue");
    let pem = get_cert(&env, &arn, out["CertificateArn"].as_str().expect("arn"))["Certificate"]
        .as_str()
        .expect("pem")
        .to_string();
    assert_eq!(parsed(&pem).signature_algorithm.oid.to_string(), "1.2.840.113549.1.1.13");
    assert!(x509::is_signed_by(&pem, &root_pem));
    assert_eq!(code(issue_leaf(&env, &arn, "EndEntityCertificate/V1", days(1))), "InvalidArgsException");
}

#[test]
fn update_delete_and_restore() {
    let env = env();
    let arn = create(&env, "ROOT", json!({}));
    let status = |s: &str| json!({"CertificateAuthorityArn": arn, "Status": s});
    assert_eq!(code(pca(&env, "UpdateCertificateAuthority", status("DISABLED"))), "InvalidStateException");
    activate_root(&env, &arn);
    assert_eq!(code(pca(&env, "UpdateCertificateAuthority", status("PENDING_CERTIFICATE"))), "InvalidArgsException");
    assert_eq!(code(pca(&env, "UpdateCertificateAuthority", status("PAUSED"))), "ValidationException");
    assert_eq!(
        code(pca(&env, "DeleteCertificateAuthority", json!({"CertificateAuthorityArn": arn}))),
        "InvalidStateException"
    );
    env.clock.advance_secs(1);
    pca(&env, "UpdateCertificateAuthority", status("DISABLED")).expect("disable");
    let ca = describe(&env, &arn);
    assert_eq!(ca["Status"], "DISABLED");
    assert_eq!(ca["LastStateChangeAt"], json!(T0 / 1000 + 1));
    assert_eq!(code(issue_leaf(&env, &arn, "EndEntityCertificate/V1", days(1))), "InvalidStateException");
    let rc = json!({"CrlConfiguration": {"Enabled": false}});
    pca(&env, "UpdateCertificateAuthority", json!({"CertificateAuthorityArn": arn, "RevocationConfiguration": rc}))
        .expect("update");
    assert_eq!(describe(&env, &arn)["RevocationConfiguration"], rc);
    let bad_days = json!({"CertificateAuthorityArn": arn, "PermanentDeletionTimeInDays": 6});
    assert_eq!(code(pca(&env, "DeleteCertificateAuthority", bad_days)), "ValidationException");
    assert_eq!(describe(&env, &arn)["Status"], "DISABLED");
    pca(&env, "DeleteCertificateAuthority", json!({"CertificateAuthorityArn": arn, "PermanentDeletionTimeInDays": 7}))
        .expect("delete");
    let ca = describe(&env, &arn);
    assert_eq!(ca["Status"], "DELETED");
    assert_eq!(ca["RestorableUntil"], json!(T0 / 1000 + 1 + 7 * 86_400));
    assert_eq!(code(pca(&env, "UpdateCertificateAuthority", status("ACTIVE"))), "InvalidStateException");
    assert_eq!(
        code(pca(&env, "DeleteCertificateAuthority", json!({"CertificateAuthorityArn": arn}))),
        "InvalidStateException"
    );
    assert_eq!(
        code(pca(&env, "GetCertificateAuthorityCsr", json!({"CertificateAuthorityArn": arn}))),
        "InvalidStateException"
    );
    pca(&env, "RestoreCertificateAuthority", json!({"CertificateAuthorityArn": arn})).expect("restore");
    assert_eq!(describe(&env, &arn)["Status"], "DISABLED");
    assert!(describe(&env, &arn).get("RestorableUntil").is_none());
    assert_eq!(
        code(pca(&env, "RestoreCertificateAuthority", json!({"CertificateAuthorityArn": arn}))),
        "InvalidStateException"
    );
    pca(&env, "UpdateCertificateAuthority", status("ACTIVE")).expect("enable");
    assert!(issue_leaf(&env, &arn, "EndEntityCertificate/V1", days(1)).is_ok());

    // A pending CA is deleted too (default 30 days), restored pending, and gone after its period.
    let pending = create(&env, "ROOT", json!({}));
    pca(&env, "DeleteCertificateAuthority", json!({"CertificateAuthorityArn": pending})).expect("delete");
    pca(&env, "RestoreCertificateAuthority", json!({"CertificateAuthorityArn": pending})).expect("restore");
    assert_eq!(describe(&env, &pending)["Status"], "PENDING_CERTIFICATE");
    pca(&env, "DeleteCertificateAuthority", json!({"CertificateAuthorityArn": pending})).expect("delete");
    env.clock.advance_secs(30 * 86_400);
    for op in ["DescribeCertificateAuthority", "RestoreCertificateAuthority"] {
        assert_eq!(code(pca(&env, op, json!({"CertificateAuthorityArn": pending}))), "ResourceNotFoundException");
    }
}

#[test]
fn revoke_certificate() {
    let env = env();
    let arn = create(&env, "ROOT", json!({}));
    activate_root(&env, &arn);
    let cert_arn = issue_leaf(&env, &arn, "EndEntityCertificate/V1", days(1)).expect("issue")["CertificateArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let serial = cert_arn.rsplit('/').next().expect("serial").to_string();
    let colons: String =
        serial.as_bytes().chunks(2).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect::<Vec<_>>().join(":");
    let revoke = |s: &str, reason: &str| {
        pca(
            &env,
            "RevokeCertificate",
            json!({"CertificateAuthorityArn": arn, "CertificateSerial": s, "RevocationReason": reason}),
        )
    };
    assert_eq!(code(revoke(&serial, "BORED")), "ValidationException");
    assert_eq!(code(revoke("zz", "KEY_COMPROMISE")), "InvalidRequestException");
    assert_eq!(code(revoke("0123abcd", "KEY_COMPROMISE")), "ResourceNotFoundException");
    let root_serial = describe(&env, &arn)["Serial"].as_str().expect("serial").to_string();
    assert_eq!(code(revoke(&root_serial, "SUPERSEDED")), "InvalidRequestException");
    revoke(&colons, "KEY_COMPROMISE").expect("revoke");
    assert_eq!(code(revoke(&serial, "KEY_COMPROMISE")), "RequestAlreadyProcessedException");
    let stored = {
        let r = env.services.store.read().expect("read");
        let ca = model::load_ca_by_arn(r.as_ref(), &arn).expect("load").expect("ca");
        model::load_certificate(r.as_ref(), &ca.key(), &serial).expect("load").expect("cert")
    };
    assert_eq!(stored.revoked, Some(("KEY_COMPROMISE".to_string(), T0)));
    // Revoked certificates can still be read back.
    assert!(get_cert(&env, &arn, &cert_arn).get("Certificate").is_some());
    assert_eq!(
        code(pca(
            &env,
            "GetCertificate",
            json!({"CertificateAuthorityArn": arn, "CertificateArn": format!("{arn}/certificate/abcdef")})
        )),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(pca(
            &env,
            "GetCertificate",
            json!({"CertificateAuthorityArn": arn, "CertificateArn": "arn:aws:acm-pca:x"})
        )),
        "InvalidArnException"
    );
}

#[test]
fn tags() {
    let env = env();
    let arn = create(&env, "ROOT", json!({"Tags": [{"Key": "a", "Value": "1"}]}));
    pca(
        &env,
        "TagCertificateAuthority",
        json!({"CertificateAuthorityArn": arn, "Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "3"}]}),
    )
    .expect("tag");
    let list = pca(&env, "ListTags", json!({"CertificateAuthorityArn": arn})).expect("list");
    assert_eq!(list["Tags"], json!([{"Key": "a", "Value": "3"}, {"Key": "b", "Value": "2"}]));
    let page = pca(&env, "ListTags", json!({"CertificateAuthorityArn": arn, "MaxResults": 1})).expect("list");
    assert_eq!(page["Tags"], json!([{"Key": "a", "Value": "3"}]));
    let rest =
        pca(&env, "ListTags", json!({"CertificateAuthorityArn": arn, "NextToken": page["NextToken"]})).expect("list");
    assert_eq!(rest["Tags"], json!([{"Key": "b", "Value": "2"}]));
    // A value that does not match keeps the tag; a key alone removes it.
    pca(
        &env,
        "UntagCertificateAuthority",
        json!({"CertificateAuthorityArn": arn, "Tags": [{"Key": "a", "Value": "x"}, {"Key": "b"}]}),
    )
    .expect("untag");
    let list = pca(&env, "ListTags", json!({"CertificateAuthorityArn": arn})).expect("list");
    assert_eq!(list["Tags"], json!([{"Key": "a", "Value": "3"}]));
    let many: Vec<Value> = (0..50).map(|i| json!({"Key": format!("k{i}"), "Value": "v"})).collect();
    assert_eq!(
        code(pca(&env, "TagCertificateAuthority", json!({"CertificateAuthorityArn": arn, "Tags": many}))),
        "TooManyTagsException"
    );
    assert_eq!(
        code(pca(
            &env,
            "TagCertificateAuthority",
            json!({"CertificateAuthorityArn": arn, "Tags": [{"Key": "aws:x", "Value": "v"}]})
        )),
        "InvalidTagException"
    );
    assert_eq!(
        code(pca(&env, "TagCertificateAuthority", json!({"CertificateAuthorityArn": arn, "Tags": [{"Key": "k"}]}))),
        "ValidationException"
    );
    assert_eq!(
        code(pca(&env, "TagCertificateAuthority", json!({"CertificateAuthorityArn": arn}))),
        "ValidationException"
    );
    let list = pca(&env, "ListTags", json!({"CertificateAuthorityArn": arn})).expect("list");
    assert_eq!(list["Tags"], json!([{"Key": "a", "Value": "3"}]));
}

#[test]
fn denials_and_cross_account_through_the_resource_policy() {
    let env = env();
    let arn = create(&env, "ROOT", json!({}));
    let root_pem = activate_root(&env, &arn);
    let describe_body = json!({"CertificateAuthorityArn": arn});
    // A user of the owning account without policies, and another account, are denied.
    assert_eq!(
        code(call_as(&env, alice(), "DescribeCertificateAuthority", describe_body.clone())),
        "AccessDeniedException"
    );
    assert_eq!(code(call_as(&env, alice(), "CreateCertificateAuthority", json!({}))), "AccessDeniedException");
    let issue_body = json!({"CertificateAuthorityArn": arn, "Csr": b64(&leaf_csr("partner")), "SigningAlgorithm": "SHA256WITHECDSA", "Validity": days(1)});
    assert_eq!(code(call_as(&env, root_of(OTHER), "IssueCertificate", issue_body.clone())), "AccessDeniedException");
    assert_eq!(
        code(call_as(&env, root_of(OTHER), "DescribeCertificateAuthority", describe_body.clone())),
        "AccessDeniedException"
    );
    // A CA that does not exist: denied to another account, not found in one's own.
    let missing = model::ca_arn("us-east-1", ACCOUNT, "00000000-0000-0000-0000-000000000000");
    assert_eq!(
        code(call_as(
            &env,
            root_of(OTHER),
            "DescribeCertificateAuthority",
            json!({"CertificateAuthorityArn": missing})
        )),
        "AccessDeniedException"
    );
    assert_eq!(
        code(pca(&env, "DescribeCertificateAuthority", json!({"CertificateAuthorityArn": missing}))),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(pca(
            &env,
            "DescribeCertificateAuthority",
            json!({"CertificateAuthorityArn": "arn:aws:acm-pca:us-east-1:1:certificate-authority/x"})
        )),
        "InvalidArnException"
    );
    // Policies: errors first.
    assert_eq!(code(pca(&env, "GetPolicy", json!({"ResourceArn": arn}))), "ResourceNotFoundException");
    assert_eq!(code(pca(&env, "DeletePolicy", json!({"ResourceArn": arn}))), "ResourceNotFoundException");
    assert_eq!(
        code(pca(&env, "PutPolicy", json!({"ResourceArn": arn, "Policy": "{not json"}))),
        "InvalidPolicyException"
    );
    assert_eq!(code(pca(&env, "PutPolicy", json!({"ResourceArn": arn, "Policy": ""}))), "ValidationException");
    let lockout = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "acm-pca:*", "Resource": arn}]});
    assert_eq!(
        code(pca(&env, "PutPolicy", json!({"ResourceArn": arn, "Policy": lockout.to_string()}))),
        "LockoutPreventedException"
    );
    assert_eq!(code(pca(&env, "GetPolicy", json!({"ResourceArn": arn}))), "ResourceNotFoundException");
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
        "Action": ["acm-pca:IssueCertificate", "acm-pca:GetCertificate", "acm-pca:DescribeCertificateAuthority"], "Resource": arn}]})
    .to_string();
    pca(&env, "PutPolicy", json!({"ResourceArn": arn, "Policy": policy})).expect("put");
    assert_eq!(pca(&env, "GetPolicy", json!({"ResourceArn": arn})).expect("get")["Policy"], json!(policy));
    let issued = call_as(&env, root_of(OTHER), "IssueCertificate", issue_body.clone()).expect("cross-account issue");
    let got = call_as(
        &env,
        root_of(OTHER),
        "GetCertificate",
        json!({"CertificateAuthorityArn": arn, "CertificateArn": issued["CertificateArn"]}),
    )
    .expect("cross-account get");
    assert!(x509::is_signed_by(got["Certificate"].as_str().expect("pem"), &root_pem));
    // Only what the policy grants.
    assert_eq!(
        code(call_as(
            &env,
            root_of(OTHER),
            "RevokeCertificate",
            json!({"CertificateAuthorityArn": arn, "CertificateSerial": "01", "RevocationReason": "UNSPECIFIED"})
        )),
        "AccessDeniedException"
    );
    assert_eq!(code(call_as(&env, root_of(OTHER), "GetPolicy", json!({"ResourceArn": arn}))), "AccessDeniedException");
    let shared =
        call_as(&env, root_of(OTHER), "ListCertificateAuthorities", json!({"ResourceOwner": "OTHER_ACCOUNTS"}))
            .expect("list");
    assert_eq!(shared["CertificateAuthorities"].as_array().map(Vec::len), Some(1));
    assert_eq!(shared["CertificateAuthorities"][0]["Arn"], json!(arn));
    pca(&env, "DeletePolicy", json!({"ResourceArn": arn})).expect("delete");
    assert_eq!(code(call_as(&env, root_of(OTHER), "IssueCertificate", issue_body)), "AccessDeniedException");
}

#[test]
fn permissions_for_acm() {
    let env = env();
    let arn = create(&env, "ROOT", json!({}));
    let grant = json!({"CertificateAuthorityArn": arn, "Principal": "acm.amazonaws.com", "SourceAccount": ACCOUNT,
                       "Actions": ["IssueCertificate", "GetCertificate", "ListPermissions"]});
    pca(&env, "CreatePermission", grant.clone()).expect("create");
    assert_eq!(code(pca(&env, "CreatePermission", grant.clone())), "PermissionAlreadyExistsException");
    let mut other = grant.clone();
    other["Principal"] = json!("ec2.amazonaws.com");
    assert_eq!(code(pca(&env, "CreatePermission", other)), "InvalidRequestException");
    let mut bad = grant.clone();
    bad["Actions"] = json!(["DeleteCertificateAuthority"]);
    assert_eq!(code(pca(&env, "CreatePermission", bad)), "ValidationException");
    let mut bad = grant.clone();
    bad["Actions"] = json!([]);
    assert_eq!(code(pca(&env, "CreatePermission", bad)), "ValidationException");
    let mut bad = grant.clone();
    bad["SourceAccount"] = json!("12");
    assert_eq!(code(pca(&env, "CreatePermission", bad)), "ValidationException");
    let list = pca(&env, "ListPermissions", json!({"CertificateAuthorityArn": arn})).expect("list");
    let p = &list["Permissions"][0];
    assert_eq!(p["Principal"], "acm.amazonaws.com");
    assert_eq!(p["SourceAccount"], ACCOUNT);
    assert_eq!(p["CreatedAt"], json!(T0 / 1000));
    assert_eq!(p["Actions"], json!(["IssueCertificate", "GetCertificate", "ListPermissions"]));
    let doc: Value = serde_json::from_str(p["Policy"].as_str().expect("policy")).expect("json");
    assert_eq!(doc["Statement"][0]["Resource"], json!(arn));
    let del = json!({"CertificateAuthorityArn": arn, "Principal": "acm.amazonaws.com", "SourceAccount": ACCOUNT});
    pca(&env, "DeletePermission", del.clone()).expect("delete");
    assert_eq!(code(pca(&env, "DeletePermission", del)), "ResourceNotFoundException");
    assert_eq!(
        pca(&env, "ListPermissions", json!({"CertificateAuthorityArn": arn})).expect("list")["Permissions"],
        json!([])
    );
}

#[test]
fn associations_of_service_affiliated_cas() {
    let env = env();
    let general = create(&env, "ROOT", json!({}));
    let resource = "arn:aws:iam::111122223333:workload-identity-provider/example";
    let body = |ca: &str, r: &str| json!({"CertificateAuthorityArn": ca, "AssociatedResourceArn": r});
    assert_eq!(
        code(pca(&env, "CreateCertificateAuthorityAssociation", body(&general, resource))),
        "InvalidRequestException"
    );
    let ca = create(
        &env,
        "ROOT",
        json!({"UsageMode": "SERVICE_AFFILIATED", "ServiceAffiliation": {"ServiceAffiliationCode": "IAM_WORKLOAD_IDENTITY"}}),
    );
    assert_eq!(
        code(pca(&env, "CreateCertificateAuthorityAssociation", body(&ca, "not-an-arn"))),
        "ValidationException"
    );
    pca(&env, "CreateCertificateAuthorityAssociation", body(&ca, resource)).expect("create");
    pca(&env, "CreateCertificateAuthorityAssociation", body(&ca, resource)).expect("again");
    let list = pca(&env, "ListCertificateAuthorityAssociations", json!({"CertificateAuthorityArn": ca})).expect("list");
    assert_eq!(
        list["Associations"],
        json!([{"CertificateAuthorityArn": ca, "AssociatedResourceArn": resource, "CreatedAt": T0 / 1000}])
    );
    assert_eq!(list["ServiceAffiliation"], json!({"ServiceAffiliationCode": "IAM_WORKLOAD_IDENTITY"}));
    pca(&env, "DeleteCertificateAuthorityAssociation", body(&ca, resource)).expect("delete");
    pca(&env, "DeleteCertificateAuthorityAssociation", body(&ca, resource)).expect("again");
    let list = pca(&env, "ListCertificateAuthorityAssociations", json!({"CertificateAuthorityArn": ca})).expect("list");
    assert_eq!(list["Associations"], json!([]));
}

#[test]
fn audit_reports_and_replicas_are_not_implemented() {
    let env = env();
    let arn = create(&env, "ROOT", json!({}));
    for op in [
        "CreateCertificateAuthorityAuditReport",
        "DescribeCertificateAuthorityAuditReport",
        "BatchCreateCertificateAuthorityReplica",
        "CreateCertificateAuthorityReplica",
        "ListCertificateAuthorityReplicas",
    ] {
        let e = pca(&env, op, json!({"CertificateAuthorityArn": arn})).expect_err("not implemented");
        assert_eq!((e.status, e.code.as_str()), (501, "NotImplemented"), "{op}");
    }
}
