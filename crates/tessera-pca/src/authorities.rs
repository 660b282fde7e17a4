//! The certificate authorities' own lifecycle: `CreateCertificateAuthority`,
//! `DescribeCertificateAuthority`, `ListCertificateAuthorities`, `UpdateCertificateAuthority`,
//! `DeleteCertificateAuthority`, `RestoreCertificateAuthority`, `GetCertificateAuthorityCsr`,
//! `GetCertificateAuthorityCertificate` and `ImportCertificateAuthorityCertificate`.

use rcgen::PublicKeyData;
use serde_json::{json, Value};
use tessera_core::authz::AuthzRequest;
use tessera_core::validate::Checks;
use tessera_core::{internal, Call, Services};
use tessera_wire::AwsError;

use crate::common::{
    authorized_ca, ca_not_found, enum_member, epoch, err, finish, idempotency_token, invalid_args, invalid_request,
    missing, object, optional_blob, optional_bool, optional_i64, optional_list, optional_object, optional_str, paged,
    purged, require_status, required_str, update_ca, IDEMPOTENCY_MILLIS,
};
use crate::keys::{self, KeyAlgorithm};
use crate::model::{self, CertificateAuthority};
use crate::tags::parse_tags;
use crate::{invalid_state, x509, IAM_WORKLOAD_IDENTITY};

/// Private CAs per Region and account (AWS Private CA's default quota).
const MAX_CAS_PER_REGION: u64 = 200;
/// Largest certificate (`CertificateBodyBlob`) and chain (`CertificateChainBlob`) blobs.
const MAX_CERTIFICATE: usize = 32 * 1024;
const MAX_CHAIN: usize = 2 * 1024 * 1024;

const CA_TYPES: &[&str] = &["ROOT", "SUBORDINATE"];
const USAGE_MODES: &[&str] = &["GENERAL_PURPOSE", "SHORT_LIVED_CERTIFICATE", "SERVICE_AFFILIATED"];
const KEY_STORAGE: &[&str] =
    &["FIPS_140_2_LEVEL_2_OR_HIGHER", "FIPS_140_2_LEVEL_3_OR_HIGHER", "CCPC_LEVEL_1_OR_HIGHER"];

/// `ASN1Subject` members that are plain strings: (member, min, max).
const SUBJECT_LENGTHS: &[(&str, usize, usize)] = &[
    ("Organization", 0, 64),
    ("OrganizationalUnit", 0, 64),
    ("DistinguishedNameQualifier", 0, 64),
    ("State", 0, 128),
    ("CommonName", 0, 64),
    ("SerialNumber", 0, 64),
    ("Locality", 0, 128),
    ("Title", 0, 64),
    ("Surname", 0, 40),
    ("GivenName", 0, 16),
    ("Initials", 0, 5),
    ("Pseudonym", 0, 128),
    ("GenerationQualifier", 0, 3),
];

fn printable(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || "'()+-.?:/= ".contains(c) || c == ',')
}

fn is_oid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2
        && parts.len() <= 128
        && matches!(parts[0], "0" | "1" | "2")
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Check an `ASN1Subject` against the model; it must name at least one attribute.
fn validate_subject(subject: &Value) -> Result<(), AwsError> {
    let field = "certificateAuthorityConfiguration.subject";
    let mut c = Checks::new();
    let country = optional_str(subject, "Country")?;
    c.length_opt(&format!("{field}.country"), country, 2, 2).pattern_opt(
        &format!("{field}.country"),
        country,
        "[A-Za-z]{2}",
        |v| v.chars().all(|ch| ch.is_ascii_alphabetic()),
    );
    let mut named = country.is_some();
    for (member, min, max) in SUBJECT_LENGTHS {
        let v = optional_str(subject, member)?;
        let f = format!("{field}.{}", crate::common::lower_first(member));
        c.length_opt(&f, v, *min, *max);
        if matches!(*member, "DistinguishedNameQualifier" | "SerialNumber") {
            c.pattern_opt(&f, v, "[a-zA-Z0-9'()+-.?:/= ]*", printable);
        }
        named |= v.is_some_and(|v| !v.is_empty());
    }
    if let Some(attrs) = optional_list(subject, "CustomAttributes")? {
        c.list_length(&format!("{field}.customAttributes"), "[...]", attrs.len(), 150);
        for (i, a) in attrs.iter().enumerate() {
            let f = format!("{field}.customAttributes.{}.member", i + 1);
            let oid = a.get("ObjectIdentifier").and_then(Value::as_str);
            let value = a.get("Value").and_then(Value::as_str);
            c.not_null(&format!("{f}.objectIdentifier"), oid.is_some())
                .not_null(&format!("{f}.value"), value.is_some())
                .pattern_opt(
                    &format!("{f}.objectIdentifier"),
                    oid,
                    r"([0-2])\.([0-9]|([0-3][0-9]))((\.([0-9]+)){0,126})",
                    is_oid,
                )
                .length_opt(&format!("{f}.value"), value, 1, 256);
            named = true;
        }
    }
    finish(&mut c)?;
    if !named {
        return Err(invalid_args("The certificate authority's Subject must name at least one attribute."));
    }
    Ok(())
}

fn dns_chars(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || "-;/?:@&=+$,%_.!~*()'".contains(c))
}

/// Check a `RevocationConfiguration`: kept as given (Tessera publishes no CRL and answers no
/// OCSP, docs/PRIVATE_CA.md), but shaped as AWS would accept it.
fn validated_revocation(input: &Value) -> Result<Option<Value>, AwsError> {
    let Some(rc) = optional_object(input, "RevocationConfiguration")? else { return Ok(None) };
    let mut c = Checks::new();
    if let Some(crl) = optional_object(rc, "CrlConfiguration")? {
        let f = "revocationConfiguration.crlConfiguration";
        let enabled = optional_bool(crl, "Enabled")?;
        c.not_null(&format!("{f}.enabled"), enabled.is_some());
        if let Some(days) = optional_i64(crl, "ExpirationInDays")? {
            c.range(&format!("{f}.expirationInDays"), days, 1, 5000);
        }
        let cname = optional_str(crl, "CustomCname")?;
        c.length_opt(&format!("{f}.customCname"), cname, 0, 253).pattern_opt(
            &format!("{f}.customCname"),
            cname,
            "[-a-zA-Z0-9;/?:@&=+$,%_.!~*()']*",
            dns_chars,
        );
        let bucket = optional_str(crl, "S3BucketName")?;
        c.length_opt(&format!("{f}.s3BucketName"), bucket, 3, 255).pattern_opt(
            &format!("{f}.s3BucketName"),
            bucket,
            "[-a-zA-Z0-9._/]+",
            |b| b.chars().all(|ch| ch.is_ascii_alphanumeric() || "-._/".contains(ch)),
        );
        c.one_of(
            &format!("{f}.s3ObjectAcl"),
            optional_str(crl, "S3ObjectAcl")?,
            &["PUBLIC_READ", "BUCKET_OWNER_FULL_CONTROL"],
        )
        .one_of(&format!("{f}.crlType"), optional_str(crl, "CrlType")?, &["COMPLETE", "PARTITIONED"]);
        if let Some(dp) = optional_object(crl, "CrlDistributionPointExtensionConfiguration")? {
            c.not_null(
                &format!("{f}.crlDistributionPointExtensionConfiguration.omitExtension"),
                optional_bool(dp, "OmitExtension")?.is_some(),
            );
        }
        finish(&mut c)?;
        if enabled == Some(true) && bucket.is_none() {
            return Err(invalid_args("A CRL configuration that is enabled needs an S3BucketName."));
        }
        if cname.is_some_and(|n| n.starts_with("http://") || n.starts_with("https://")) {
            return Err(invalid_args("CustomCname must not include a protocol prefix such as http://."));
        }
    }
    if let Some(ocsp) = optional_object(rc, "OcspConfiguration")? {
        let f = "revocationConfiguration.ocspConfiguration";
        c.not_null(&format!("{f}.enabled"), optional_bool(ocsp, "Enabled")?.is_some());
        let cname = optional_str(ocsp, "OcspCustomCname")?;
        c.length_opt(&format!("{f}.ocspCustomCname"), cname, 0, 253).pattern_opt(
            &format!("{f}.ocspCustomCname"),
            cname,
            "[-a-zA-Z0-9;/?:@&=+$,%_.!~*()']*",
            dns_chars,
        );
        finish(&mut c)?;
        if cname.is_some_and(|n| n.starts_with("http://") || n.starts_with("https://")) {
            return Err(invalid_args("OcspCustomCname must not include a protocol prefix such as http://."));
        }
    }
    Ok(Some(rc.clone()))
}

/// `CreateCertificateAuthority`: a new key (sealed), its CSR, status `PENDING_CERTIFICATE`.
pub fn create(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let tags = parse_tags(input, false)?.unwrap_or_default();
    let tags: Vec<tessera_core::model::Tag> = tags
        .into_iter()
        .map(|(key, value)| tessera_core::model::Tag { key, value: value.unwrap_or_default() })
        .collect();
    let context = tessera_core::model::request_tag_context(&tags);
    services.authorize_request(
        call,
        &AuthzRequest { action: "acm-pca:CreateCertificateAuthority", resource: "*", context, ..Default::default() },
    )?;
    let ca_type = enum_member(input, "CertificateAuthorityType", "certificateAuthorityType", CA_TYPES)?
        .ok_or_else(|| missing("CertificateAuthorityType"))?;
    let config = optional_object(input, "CertificateAuthorityConfiguration")?
        .ok_or_else(|| missing("CertificateAuthorityConfiguration"))?;
    let key_name = enum_member(
        config,
        "KeyAlgorithm",
        "certificateAuthorityConfiguration.keyAlgorithm",
        keys::MODEL_KEY_ALGORITHMS,
    )?
    .ok_or_else(|| missing("CertificateAuthorityConfiguration.KeyAlgorithm"))?;
    let signing = enum_member(
        config,
        "SigningAlgorithm",
        "certificateAuthorityConfiguration.signingAlgorithm",
        keys::MODEL_SIGNING_ALGORITHMS,
    )?
    .ok_or_else(|| missing("CertificateAuthorityConfiguration.SigningAlgorithm"))?;
    let subject =
        optional_object(config, "Subject")?.ok_or_else(|| missing("CertificateAuthorityConfiguration.Subject"))?;
    validate_subject(subject)?;
    let csr_extensions = optional_object(config, "CsrExtensions")?.cloned();
    let revocation = validated_revocation(input)?;
    let usage_mode = enum_member(input, "UsageMode", "usageMode", USAGE_MODES)?.unwrap_or("GENERAL_PURPOSE");
    let affiliation = match optional_object(input, "ServiceAffiliation")? {
        None => None,
        Some(a) => Some(required_str(a, "ServiceAffiliationCode")?),
    };
    match (usage_mode, affiliation) {
        ("SERVICE_AFFILIATED", None) => {
            return Err(invalid_args("A SERVICE_AFFILIATED certificate authority needs a ServiceAffiliation."))
        }
        ("SERVICE_AFFILIATED", Some(code)) if code != IAM_WORKLOAD_IDENTITY => {
            return Err(invalid_args(format!(
                "The service affiliation {code} is not supported by Tessera: use {IAM_WORKLOAD_IDENTITY}."
            )))
        }
        (mode, Some(_)) if mode != "SERVICE_AFFILIATED" => {
            return Err(invalid_args("ServiceAffiliation is allowed only with the SERVICE_AFFILIATED usage mode."))
        }
        _ => {}
    }
    let key_storage = enum_member(input, "KeyStorageSecurityStandard", "keyStorageSecurityStandard", KEY_STORAGE)?
        .unwrap_or("FIPS_140_2_LEVEL_3_OR_HIGHER");
    let key_algorithm = KeyAlgorithm::parse(key_name)?;
    let signature = key_algorithm.signature(signing)?;
    let token = idempotency_token(input)?;
    let (region, account, now) = (call.meta.region.as_str(), call.caller.account.as_str(), call.meta.now_millis);
    let prefix = format!("{region}/{account}/");
    {
        let read = services.store.read().map_err(internal)?;
        let cas = model::scan_cas(read.as_ref(), &prefix).map_err(internal)?;
        if let Some(t) = token {
            let again = cas.iter().find(|ca| {
                ca.idempotency_token.as_ref().is_some_and(|(tok, at)| tok == t && now - at < IDEMPOTENCY_MILLIS)
            });
            if let Some(ca) = again {
                return Ok(json!({"CertificateAuthorityArn": ca.arn()}));
            }
        }
        if cas.iter().filter(|ca| !purged(ca, now)).count() as u64 >= MAX_CAS_PER_REGION {
            return Err(err(
                "LimitExceededException",
                format!("You have reached the limit of {MAX_CAS_PER_REGION} certificate authorities in {region}."),
            ));
        }
    }
    let pkcs8 = key_algorithm.generate_pkcs8()?;
    let key_pair = keys::signing_key(&pkcs8, signature)?;
    let csr_pem = x509::ca_request(subject, &key_pair).map_err(|e| {
        tracing::error!(error = %e, "making a certificate authority's CSR failed");
        AwsError::internal()
    })?;
    let mut ca = CertificateAuthority {
        ca_type: ca_type.to_string(),
        key_algorithm: key_algorithm.name().into(),
        signing_algorithm: signing.to_string(),
        subject: subject.clone(),
        csr_extensions,
        revocation_configuration: revocation,
        usage_mode: usage_mode.to_string(),
        service_affiliation: affiliation.map(str::to_string),
        key_storage_security_standard: key_storage.to_string(),
        csr_pem,
        tags,
        idempotency_token: token.map(|t| (t.to_string(), now)),
        ..CertificateAuthority::pending(&tessera_core::ids::request_id(), account, region, now)
    };
    ca.sealed_private_key = services.secrets.seal(&ca.seal_context(), &pkcs8);
    tessera_store::transact(services.store.as_ref(), |w| model::save_ca(w, &ca)).map_err(internal)?;
    Ok(json!({"CertificateAuthorityArn": ca.arn()}))
}

/// The `CertificateAuthority` structure AWS describes a CA with.
fn describe_json(ca: &CertificateAuthority) -> Value {
    let config = object(vec![
        ("KeyAlgorithm", Some(json!(ca.key_algorithm))),
        ("SigningAlgorithm", Some(json!(ca.signing_algorithm))),
        ("Subject", Some(ca.subject.clone())),
        ("CsrExtensions", ca.csr_extensions.clone()),
    ]);
    object(vec![
        ("Arn", Some(json!(ca.arn()))),
        ("OwnerAccount", Some(json!(ca.account))),
        ("CreatedAt", Some(epoch(ca.created_at))),
        ("LastStateChangeAt", Some(epoch(ca.last_state_change_at))),
        ("Type", Some(json!(ca.ca_type))),
        ("Serial", ca.serial.as_ref().map(|s| json!(s))),
        ("Status", Some(json!(ca.status))),
        ("NotBefore", ca.not_before.map(epoch)),
        ("NotAfter", ca.not_after.map(epoch)),
        ("CertificateAuthorityConfiguration", Some(config)),
        ("RevocationConfiguration", ca.revocation_configuration.clone()),
        ("RestorableUntil", ca.restorable_until.filter(|_| ca.status == "DELETED").map(epoch)),
        ("KeyStorageSecurityStandard", Some(json!(ca.key_storage_security_standard))),
        ("UsageMode", Some(json!(ca.usage_mode))),
        ("ServiceAffiliation", ca.service_affiliation.as_ref().map(|c| json!({"ServiceAffiliationCode": c}))),
    ])
}

/// `DescribeCertificateAuthority` (a deleted CA too, with `RestorableUntil`).
pub fn describe(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:DescribeCertificateAuthority")?;
    Ok(json!({"CertificateAuthority": describe_json(&ca)}))
}

/// `ListCertificateAuthorities`: `ResourceOwner` `SELF` (default) lists the caller's CAs in the
/// Region; `OTHER_ACCOUNTS` the CAs of other accounts whose resource policy lets the caller
/// describe them (Tessera shares through `PutPolicy`, not AWS RAM). At most 100 a page.
pub fn list(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    services.authorize(call, "acm-pca:ListCertificateAuthorities", "*")?;
    let owner = enum_member(input, "ResourceOwner", "resourceOwner", &["SELF", "OTHER_ACCOUNTS"])?.unwrap_or("SELF");
    let (region, account, now) = (call.meta.region.as_str(), call.caller.account.as_str(), call.meta.now_millis);
    let prefix = if owner == "SELF" { format!("{region}/{account}/") } else { format!("{region}/") };
    let cas: Vec<CertificateAuthority> = {
        let read = services.store.read().map_err(internal)?;
        model::scan_cas(read.as_ref(), &prefix).map_err(internal)?
    };
    let mut items = Vec::new();
    for ca in cas.iter().filter(|ca| !purged(ca, now)) {
        if owner == "OTHER_ACCOUNTS" {
            if ca.account == account || ca.policy.is_none() {
                continue;
            }
            let arn = ca.arn();
            let req = AuthzRequest {
                action: "acm-pca:DescribeCertificateAuthority",
                resource: &arn,
                resource_account: Some(&ca.account),
                resource_policy: ca.policy.as_deref(),
                ..Default::default()
            };
            if !services.decide(call, &req)?.is_allowed() {
                continue;
            }
        }
        items.push((ca.key(), describe_json(ca)));
    }
    paged(input, "CertificateAuthorities", items, 100, 100)
}

/// `UpdateCertificateAuthority`: `Status` `ACTIVE` or `DISABLED`, only from `ACTIVE` or
/// `DISABLED`; a new `RevocationConfiguration`.
pub fn update(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:UpdateCertificateAuthority")?;
    let status = enum_member(
        input,
        "Status",
        "status",
        &["CREATING", "PENDING_CERTIFICATE", "ACTIVE", "DELETED", "DISABLED", "EXPIRED", "FAILED"],
    )?;
    let revocation = validated_revocation(input)?;
    if let Some(s) = status {
        if s != "ACTIVE" && s != "DISABLED" {
            return Err(invalid_args(format!(
                "The status of a certificate authority can be set only to ACTIVE or DISABLED, not {s}."
            )));
        }
    }
    match ca.status.as_str() {
        "ACTIVE" | "DISABLED" => {}
        "DELETED" => require_status(&ca, &["ACTIVE", "DISABLED"])?,
        _ if status.is_some() => require_status(&ca, &["ACTIVE", "DISABLED"])?,
        _ => {}
    }
    let now = call.meta.now_millis;
    update_ca(services, &ca, |_, stored| {
        if let Some(s) = status {
            if s == "ACTIVE" && stored.not_after.is_some_and(|t| t <= now) {
                return Err(invalid_state(format!("The certificate of {} has expired.", stored.arn())));
            }
            if stored.status != s {
                stored.status = s.to_string();
                stored.last_state_change_at = now;
            }
        }
        if revocation.is_some() {
            stored.revocation_configuration = revocation;
        }
        Ok(())
    })?;
    Ok(json!({}))
}

/// `DeleteCertificateAuthority`: from any state but `ACTIVE` (disable it first) and `DELETED`;
/// restorable for `PermanentDeletionTimeInDays` (7-30, default 30).
pub fn delete(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:DeleteCertificateAuthority")?;
    let days = optional_i64(input, "PermanentDeletionTimeInDays")?;
    if let Some(d) = days {
        let mut c = Checks::new();
        c.range("permanentDeletionTimeInDays", d, 7, 30);
        finish(&mut c)?;
    }
    require_status(&ca, &["PENDING_CERTIFICATE", "DISABLED", "EXPIRED"])?;
    let now = call.meta.now_millis;
    update_ca(services, &ca, |_, stored| {
        stored.status_before_delete = Some(stored.status.clone());
        stored.status = "DELETED".into();
        stored.last_state_change_at = now;
        stored.restorable_until = Some(now + days.unwrap_or(30) * 86_400_000);
        Ok(())
    })?;
    Ok(json!({}))
}

/// `RestoreCertificateAuthority`: a `DELETED` CA within its restoration period returns to the
/// status it had.
pub fn restore(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:RestoreCertificateAuthority")?;
    require_status(&ca, &["DELETED"])?;
    let now = call.meta.now_millis;
    update_ca(services, &ca, |_, stored| {
        stored.status = stored.status_before_delete.take().unwrap_or_else(|| "DISABLED".into());
        stored.restorable_until = None;
        stored.last_state_change_at = now;
        Ok(())
    })?;
    Ok(json!({}))
}

/// `GetCertificateAuthorityCsr`.
pub fn get_csr(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:GetCertificateAuthorityCsr")?;
    require_status(&ca, &["PENDING_CERTIFICATE", "ACTIVE", "DISABLED", "EXPIRED"])?;
    Ok(json!({"Csr": ca.csr_pem}))
}

/// `GetCertificateAuthorityCertificate`: the CA certificate and the chain above it (none for a
/// root).
pub fn get_certificate(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca =
        authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:GetCertificateAuthorityCertificate")?;
    require_status(&ca, &["ACTIVE", "DISABLED", "EXPIRED"])?;
    let Some(certificate) = &ca.certificate_pem else { return Err(ca_not_found(&ca.arn())) };
    Ok(object(vec![
        ("Certificate", Some(json!(certificate))),
        ("CertificateChain", ca.chain_pem.as_ref().filter(|c| !c.is_empty()).map(|c| json!(c))),
    ]))
}

fn malformed(message: &str) -> AwsError {
    err("MalformedCertificateException", message)
}

fn utf8_pem(bytes: &[u8], what: &str) -> Result<String, AwsError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed(&format!("The {what} is not PEM-encoded.")))
}

/// `ImportCertificateAuthorityCertificate`: the CA certificate (its key the CA's, `CA:TRUE`);
/// a root's self-signed, a subordinate's with a chain whose first certificate signed it, each
/// signed by the next. Activates a `PENDING_CERTIFICATE` CA, renews an `ACTIVE` or `DISABLED`
/// one (keeping its status).
pub fn import_certificate(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(
        services,
        call,
        input,
        "CertificateAuthorityArn",
        "acm-pca:ImportCertificateAuthorityCertificate",
    )?;
    let cert_bytes = optional_blob(input, "Certificate", MAX_CERTIFICATE)?.ok_or_else(|| missing("Certificate"))?;
    let chain_bytes = optional_blob(input, "CertificateChain", MAX_CHAIN)?;
    require_status(&ca, &["PENDING_CERTIFICATE", "ACTIVE", "DISABLED"])?;
    let cert_text = utf8_pem(&cert_bytes, "certificate")?;
    let certs = x509::split_pem_certificates(&cert_text);
    let [certificate] = certs.as_slice() else {
        return Err(malformed("The certificate must be one PEM-encoded X.509 certificate."));
    };
    let facts = x509::certificate_facts(certificate).ok_or_else(|| malformed("The certificate cannot be parsed."))?;
    let chain_text = match &chain_bytes {
        Some(b) => utf8_pem(b, "certificate chain")?,
        None => String::new(),
    };
    let chain = x509::split_pem_certificates(&chain_text);
    if !chain_text.trim().is_empty() && chain.is_empty() {
        return Err(malformed("The certificate chain is not PEM-encoded."));
    }
    if chain.iter().any(|c| x509::certificate_facts(c).is_none()) {
        return Err(malformed("A certificate of the chain cannot be parsed."));
    }
    let own = x509::read_request(ca.csr_pem.as_bytes()).map_err(|_| AwsError::internal())?;
    if facts.public_key != own.key.der_bytes() {
        return Err(err(
            "CertificateMismatchException",
            "The certificate's public key is not the certificate authority's: sign the CSR from GetCertificateAuthorityCsr.",
        ));
    }
    if !facts.is_ca {
        return Err(invalid_request("The certificate is not a CA certificate (basic constraints CA:TRUE)."));
    }
    if call.meta.now_millis >= facts.not_after.saturating_mul(1000) {
        return Err(invalid_request("The certificate has expired."));
    }
    let self_signed = facts.subject_der == facts.issuer_der && x509::is_signed_by(certificate, certificate);
    if ca.ca_type == "ROOT" {
        if !self_signed {
            return Err(invalid_request("Only a self-signed certificate can be imported as a root CA."));
        }
        if !chain.is_empty() {
            return Err(invalid_request("A root CA's certificate is imported without a certificate chain."));
        }
    } else {
        if self_signed {
            return Err(invalid_request("A self-signed certificate cannot be imported as a subordinate CA."));
        }
        let Some(parent) = chain.first() else {
            return Err(invalid_request("A subordinate CA's certificate needs the CertificateChain that signed it."));
        };
        if !x509::is_signed_by(certificate, parent) {
            return Err(err(
                "CertificateMismatchException",
                "The certificate was not signed by the first certificate of the chain.",
            ));
        }
        if chain.windows(2).any(|w| !x509::is_signed_by(&w[0], &w[1])) {
            return Err(err(
                "CertificateMismatchException",
                "Each certificate of the chain must be signed by the next one, up to the root.",
            ));
        }
        if chain.iter().any(|c| x509::certificate_facts(c).is_some_and(|f| !f.is_ca)) {
            return Err(invalid_request("Every certificate of the chain must be a CA certificate."));
        }
    }
    let now = call.meta.now_millis;
    let chain_pem = (!chain.is_empty()).then(|| chain.concat());
    update_ca(services, &ca, |_, stored| {
        if stored.status == "PENDING_CERTIFICATE" {
            stored.status = "ACTIVE".into();
            stored.last_state_change_at = now;
        }
        stored.certificate_pem = Some(certificate.clone());
        stored.chain_pem = chain_pem;
        stored.serial = Some(facts.serial.clone());
        stored.not_before = Some(facts.not_before.saturating_mul(1000));
        stored.not_after = Some(facts.not_after.saturating_mul(1000));
        Ok(())
    })?;
    Ok(json!({}))
}
