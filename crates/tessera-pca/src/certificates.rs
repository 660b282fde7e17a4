//! The certificates a CA issues: `IssueCertificate`, `GetCertificate`, `RevokeCertificate`.
//!
//! Tessera serves AWS's base templates (docs/PRIVATE_CA.md): `EndEntityCertificate/V1`,
//! `EndEntityClientAuthCertificate/V1`, `EndEntityServerAuthCertificate/V1`,
//! `RootCACertificate/V1` and `SubordinateCACertificate_PathLen0..3/V1`. Issuance is
//! synchronous: the certificate exists when `IssueCertificate` returns.

use rcgen::PublicKeyData;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_core::validate::Checks;
use tessera_core::{internal, Call, Services};
use tessera_store::WriteTxn;
use tessera_wire::AwsError;

use crate::common::{
    authorized_ca, enum_member, err, finish, idempotency_token, invalid_args, invalid_request, missing, object,
    optional_blob, optional_i64, optional_object, optional_str, require_status, required_str, IDEMPOTENCY_MILLIS,
    NOT_DELETED,
};
use crate::keys::{self, KeyAlgorithm};
use crate::model::{self, CertificateAuthority, IssuedCertificate};
use crate::{authorize_on_ca, chain_of, x509, IAM_WORKLOAD_IDENTITY};

/// `IssueCertificate` idempotency tokens: `<CA store key>/<token>` → what was issued.
pub const IDEMPOTENCY_TABLE: &str = "pca_issue_idempotency";

/// The templates Tessera serves, by the name after `template/`.
pub const SERVED_TEMPLATES: &[&str] = &[
    "EndEntityCertificate/V1",
    "EndEntityClientAuthCertificate/V1",
    "EndEntityServerAuthCertificate/V1",
    "RootCACertificate/V1",
    "SubordinateCACertificate_PathLen0/V1",
    "SubordinateCACertificate_PathLen1/V1",
    "SubordinateCACertificate_PathLen2/V1",
    "SubordinateCACertificate_PathLen3/V1",
];

/// Longest validity a `SHORT_LIVED_CERTIFICATE` CA issues: 7 days.
const SHORT_LIVED_SECONDS: i64 = 7 * 86_400;
/// How far before issuance `NotBefore` is by default (AWS: 60 minutes, for clock skew).
const BACKDATE_SECONDS: i64 = 3_600;

#[derive(Debug, Serialize, Deserialize)]
struct IdempotentIssue {
    serial: String,
    at: i64,
}

/// A served template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Template {
    Root,
    Subordinate(u8),
    EndEntity { server_auth: bool, client_auth: bool },
}

impl Template {
    /// The template of a `TemplateArn` (`arn:aws:acm-pca:::template/<name>`).
    fn parse(arn: &str) -> Result<Template, AwsError> {
        let name = arn
            .strip_prefix("arn:")
            .and_then(|rest| rest.split_once(":acm-pca:::template/"))
            .map(|(_, name)| name)
            .unwrap_or("");
        Ok(match name {
            "EndEntityCertificate/V1" => Template::EndEntity { server_auth: true, client_auth: true },
            "EndEntityClientAuthCertificate/V1" => Template::EndEntity { server_auth: false, client_auth: true },
            "EndEntityServerAuthCertificate/V1" => Template::EndEntity { server_auth: true, client_auth: false },
            "RootCACertificate/V1" => Template::Root,
            "SubordinateCACertificate_PathLen0/V1" => Template::Subordinate(0),
            "SubordinateCACertificate_PathLen1/V1" => Template::Subordinate(1),
            "SubordinateCACertificate_PathLen2/V1" => Template::Subordinate(2),
            "SubordinateCACertificate_PathLen3/V1" => Template::Subordinate(3),
            _ => {
                return Err(invalid_args(format!(
                "The template {arn} is not served by Tessera. Use arn:aws:acm-pca:::template/ followed by one of: {}.",
                SERVED_TEMPLATES.join(", ")
            )))
            }
        })
    }

    fn profile(self) -> x509::Profile {
        match self {
            Template::Root => x509::Profile::Authority { path_len: None },
            Template::Subordinate(n) => x509::Profile::Authority { path_len: Some(n) },
            Template::EndEntity { server_auth, client_auth } => x509::Profile::EndEntity { server_auth, client_auth },
        }
    }
}

/// Epoch seconds `months` months after `at` (the day clamped to the month's length).
fn add_months(at: i64, months: i64) -> Option<i64> {
    let t = time::OffsetDateTime::from_unix_timestamp(at).ok()?;
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let year = i32::try_from(total.div_euclid(12)).ok()?;
    let month = time::Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
    let day = t.day().min(month.length(year));
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    Some(t.replace_date(date).unix_timestamp())
}

/// `YYMMDDHHMMSS` (UTCTime: YY ≥ 50 is 19YY) or `YYYYMMDDHHMMSS` (GeneralizedTime), UTC.
fn end_date(value: i64) -> Option<i64> {
    let digits = value.to_string();
    let (year, rest) = match digits.len() {
        12 => {
            let yy: i32 = digits[..2].parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        11 => {
            // A UTCTime year 00-09 loses its leading zero as a number.
            let yy: i32 = digits[..1].parse().ok()?;
            (2000 + yy, &digits[1..])
        }
        14 => (digits[..4].parse().ok()?, &digits[4..]),
        _ => return None,
    };
    let n = |i: usize| rest.get(i..i + 2).and_then(|s| s.parse::<u8>().ok());
    let date = time::Date::from_calendar_date(year, time::Month::try_from(n(0)?).ok()?, n(2)?).ok()?;
    let t = time::Time::from_hms(n(4)?, n(6)?, n(8)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, t).assume_utc().unix_timestamp())
}

/// A `Validity` structure as epoch seconds, relative types counted from `now`.
fn validity(v: &Value, field: &str, now: i64) -> Result<i64, AwsError> {
    let ty = enum_member(v, "Type", &format!("{field}.type"), &["END_DATE", "ABSOLUTE", "DAYS", "MONTHS", "YEARS"])?
        .ok_or_else(|| missing(&format!("{field}.Type")))?;
    let value = optional_i64(v, "Value")?.ok_or_else(|| missing(&format!("{field}.Value")))?;
    let mut c = Checks::new();
    c.range(&format!("{field}.value"), value, 1, i64::MAX);
    finish(&mut c)?;
    let bad = || invalid_args(format!("The {field} value {value} of type {ty} is not a valid time."));
    match ty {
        "DAYS" => value.checked_mul(86_400).and_then(|d| now.checked_add(d)).ok_or_else(bad),
        "MONTHS" => add_months(now, value).ok_or_else(bad),
        "YEARS" => value.checked_mul(12).and_then(|m| add_months(now, m)).ok_or_else(bad),
        "END_DATE" => end_date(value).ok_or_else(bad),
        _ => time::OffsetDateTime::from_unix_timestamp(value).map(|_| value).map_err(|_| bad()),
    }
}

/// `IssueCertificate`.
pub fn issue(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:IssueCertificate")?;
    let csr = optional_blob(input, "Csr", 32_768)?.ok_or_else(|| missing("Csr"))?;
    let signing = enum_member(input, "SigningAlgorithm", "signingAlgorithm", keys::MODEL_SIGNING_ALGORITHMS)?
        .ok_or_else(|| missing("SigningAlgorithm"))?;
    let validity_in = optional_object(input, "Validity")?.ok_or_else(|| missing("Validity"))?;
    let not_before_in = optional_object(input, "ValidityNotBefore")?;
    let template_arn =
        optional_str(input, "TemplateArn")?.unwrap_or("arn:aws:acm-pca:::template/EndEntityCertificate/V1");
    let return_values = enum_member(input, "ReturnValues", "returnValues", &["ARN", "CERTIFICATE"])?.unwrap_or("ARN");
    let token = idempotency_token(input)?;
    if optional_object(input, "ApiPassthrough")?.is_some() {
        return Err(invalid_args(
            "ApiPassthrough is not supported by Tessera: it serves no APIPassthrough templates (docs/PRIVATE_CA.md).",
        ));
    }
    let template = Template::parse(template_arn)?;
    if return_values == "CERTIFICATE" {
        authorize_on_ca(services, call, "acm-pca:GetCertificate", &ca)?;
    }
    let now = call.meta.now_millis.div_euclid(1000);
    if let Some(t) = token {
        let read = services.store.read().map_err(internal)?;
        let key = format!("{}/{t}", ca.key());
        let earlier: Option<IdempotentIssue> =
            tessera_core::model::load(read.as_ref(), IDEMPOTENCY_TABLE, &key).map_err(internal)?;
        if let Some(e) = earlier.filter(|e| call.meta.now_millis - e.at < IDEMPOTENCY_MILLIS) {
            if let Some(c) = model::load_certificate(read.as_ref(), &ca.key(), &e.serial).map_err(internal)? {
                return Ok(issued_json(&ca, &c, return_values == "CERTIFICATE"));
            }
        }
    }
    match template {
        Template::Root => {
            if ca.ca_type != "ROOT" {
                return Err(invalid_args(
                    "RootCACertificate/V1 issues a root CA's own certificate: this CA is SUBORDINATE.",
                ));
            }
            require_status(&ca, &["PENDING_CERTIFICATE", "ACTIVE"])?;
        }
        _ => require_status(&ca, &["ACTIVE"])?,
    }
    if ca.usage_mode == "SERVICE_AFFILIATED" && matches!(template, Template::EndEntity { .. }) {
        return Err(invalid_request(format!(
            "The certificate authority {} is affiliated with {}: only that service issues end-entity certificates from it.",
            ca.arn(),
            ca.service_affiliation.as_deref().unwrap_or(IAM_WORKLOAD_IDENTITY)
        )));
    }
    let signature = KeyAlgorithm::parse(&ca.key_algorithm)?.signature(signing)?;
    let request = x509::read_request(&csr)
        .map_err(|e| err("MalformedCSRException", format!("The certificate signing request is not valid: {}.", e.0)))?;
    if matches!(template, Template::EndEntity { .. })
        && request.subject.iter().next().is_none()
        && request.subject_alt_names.is_empty()
    {
        return Err(err(
            "MalformedCSRException",
            "The certificate signing request is not valid: it names neither a subject nor a subject alternative name.",
        ));
    }
    if template == Template::Root {
        let own = x509::read_request(ca.csr_pem.as_bytes()).map_err(|_| AwsError::internal())?;
        if own.key.der_bytes() != request.key.der_bytes() {
            return Err(invalid_args(
                "RootCACertificate/V1 signs only the CA's own CSR (from GetCertificateAuthorityCsr).",
            ));
        }
    }
    let not_after = validity(validity_in, "validity", now)?;
    let not_before = match not_before_in {
        Some(v) => validity(v, "validityNotBefore", now)?,
        None => (now - BACKDATE_SECONDS).max(ca.not_before.map_or(i64::MIN, |t| t.div_euclid(1000))),
    };
    check_validity(&ca, template, not_before, not_after, now)?;
    let mut w = services.store.write().map_err(internal)?;
    let issued = sign_and_record(
        services,
        w.as_mut(),
        &ca,
        &Signing {
            issue: x509::Issue {
                request: &request,
                profile: template.profile(),
                not_before,
                not_after,
                serial: x509::new_serial(),
            },
            signature,
            self_signed: template == Template::Root,
            template_arn,
            now_millis: call.meta.now_millis,
        },
    )?;
    if let Some(t) = token {
        let record = IdempotentIssue { serial: issued.serial.clone(), at: call.meta.now_millis };
        tessera_core::model::save(w.as_mut(), IDEMPOTENCY_TABLE, &format!("{}/{t}", ca.key()), &record)
            .map_err(internal)?;
    }
    w.commit().map_err(internal)?;
    Ok(issued_json(&ca, &issued, return_values == "CERTIFICATE"))
}

/// What [`sign_and_record`] signs, and how.
pub(crate) struct Signing<'a> {
    /// The certificate.
    pub issue: x509::Issue<'a>,
    /// The signature the CA's key makes.
    pub signature: &'static rcgen::SignatureAlgorithm,
    /// A root CA's own certificate (signed by its key, not under its certificate; no chain).
    pub self_signed: bool,
    /// The template it is recorded with.
    pub template_arn: &'a str,
    /// Epoch milliseconds.
    pub now_millis: i64,
}

/// Sign a certificate with `ca`'s key and record it in `w` as one the CA issued (with the
/// CA's chain), so `GetCertificate` finds it.
pub(crate) fn sign_and_record(
    services: &Services,
    w: &mut dyn WriteTxn,
    ca: &CertificateAuthority,
    s: &Signing<'_>,
) -> Result<IssuedCertificate, AwsError> {
    let key = keys::open_ca_key(services, ca, s.signature)?;
    let issuer_pem = if s.self_signed { None } else { ca.certificate_pem.as_deref() };
    let pem = x509::issue(&s.issue, issuer_pem, &key).map_err(|e| {
        tracing::error!(error = %e, "issuing a certificate failed");
        AwsError::internal()
    })?;
    let issued = IssuedCertificate {
        ca_key: ca.key(),
        serial: hex::encode(&s.issue.serial),
        certificate_pem: pem,
        chain_pem: if s.self_signed { String::new() } else { chain_of(ca) },
        template_arn: s.template_arn.to_string(),
        issued_at: s.now_millis,
        not_after: s.issue.not_after.saturating_mul(1000),
        revoked: None,
    };
    model::save_certificate(w, &issued).map_err(internal)?;
    Ok(issued)
}

/// The CA's limits on a validity: after its start, within the CA certificate's, at most seven
/// days for what a short-lived CA issues (its own root certificate aside), and a path length
/// within the CA's.
fn check_validity(
    ca: &CertificateAuthority,
    template: Template,
    not_before: i64,
    not_after: i64,
    now: i64,
) -> Result<(), AwsError> {
    if not_after <= not_before || not_after <= now {
        return Err(invalid_args("The certificate's validity must end after it starts and in the future."));
    }
    if template != Template::Root {
        if let Some(ca_end) = ca.not_after.map(|t| t.div_euclid(1000)) {
            if not_after > ca_end {
                return Err(invalid_args(format!(
                    "The certificate's validity ends after its CA certificate's ({ca_end}, epoch seconds)."
                )));
            }
        }
        if let Some(ca_start) = ca.not_before.map(|t| t.div_euclid(1000)) {
            if not_before < ca_start {
                return Err(invalid_args("The certificate's validity starts before its CA certificate's."));
            }
        }
    }
    if ca.usage_mode == "SHORT_LIVED_CERTIFICATE" && template != Template::Root && not_after - now > SHORT_LIVED_SECONDS
    {
        return Err(invalid_args(
            "A SHORT_LIVED_CERTIFICATE certificate authority issues certificates valid for at most 7 days.",
        ));
    }
    if let Template::Subordinate(n) = template {
        let ca_path = ca.certificate_pem.as_deref().and_then(x509::certificate_facts).and_then(|f| f.path_len);
        if ca_path.is_some_and(|p| n >= p) {
            return Err(invalid_args(format!(
                "The path length {n} is not below the CA certificate's path length constraint ({}).",
                ca_path.unwrap_or(0)
            )));
        }
    }
    Ok(())
}

fn issued_json(ca: &CertificateAuthority, c: &IssuedCertificate, with_certificate: bool) -> Value {
    let arn = model::certificate_arn(&ca.arn(), &c.serial);
    if !with_certificate {
        return json!({ "CertificateArn": arn });
    }
    object(vec![
        ("CertificateArn", Some(json!(arn))),
        ("Certificate", Some(json!(c.certificate_pem))),
        ("CertificateChain", (!c.chain_pem.is_empty()).then(|| json!(c.chain_pem))),
    ])
}

/// `GetCertificate`: the certificate and its chain.
pub fn get(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:GetCertificate")?;
    let arn = required_str(input, "CertificateArn")?;
    let Some((ca_arn, serial)) = model::parse_certificate_arn(arn) else {
        return Err(err("InvalidArnException", format!("The ARN {arn} is not valid.")));
    };
    require_status(&ca, NOT_DELETED)?;
    let not_found = || err("ResourceNotFoundException", format!("Could not find certificate {arn}."));
    if ca_arn != ca.arn() {
        return Err(not_found());
    }
    let read = services.store.read().map_err(internal)?;
    let c = model::load_certificate(read.as_ref(), &ca.key(), serial).map_err(internal)?.ok_or_else(not_found)?;
    Ok(object(vec![
        ("Certificate", Some(json!(c.certificate_pem))),
        ("CertificateChain", (!c.chain_pem.is_empty()).then(|| json!(c.chain_pem))),
    ]))
}

const REVOCATION_REASONS: &[&str] = &[
    "UNSPECIFIED",
    "KEY_COMPROMISE",
    "CERTIFICATE_AUTHORITY_COMPROMISE",
    "AFFILIATION_CHANGED",
    "SUPERSEDED",
    "CESSATION_OF_OPERATION",
    "PRIVILEGE_WITHDRAWN",
    "A_A_COMPROMISE",
];

/// `RevokeCertificate`: recorded (Tessera publishes no CRL and answers no OCSP).
pub fn revoke(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:RevokeCertificate")?;
    let serial_in = required_str(input, "CertificateSerial")?;
    let mut c = Checks::new();
    c.length("certificateSerial", serial_in, 0, 128);
    finish(&mut c)?;
    let reason = enum_member(input, "RevocationReason", "revocationReason", REVOCATION_REASONS)?
        .ok_or_else(|| missing("RevocationReason"))?;
    let serial: String = serial_in.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    if serial.is_empty() || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid_request(format!("The certificate serial {serial_in} is not hexadecimal.")));
    }
    let serial = match serial.trim_start_matches("00") {
        "" => serial.clone(),
        s => s.to_string(),
    };
    require_status(&ca, &["ACTIVE", "DISABLED"])?;
    if ca.ca_type == "ROOT" && ca.serial.as_deref().map(|s| s.replace(':', "")) == Some(serial.clone()) {
        return Err(invalid_request("A root CA's own self-signed certificate cannot be revoked."));
    }
    let mut w = services.store.write().map_err(internal)?;
    let mut cert = model::load_certificate(w.as_ref(), &ca.key(), &serial).map_err(internal)?.ok_or_else(|| {
        err(
            "ResourceNotFoundException",
            format!("Could not find a certificate with serial {serial_in} issued by {}.", ca.arn()),
        )
    })?;
    if cert.revoked.is_some() {
        return Err(err(
            "RequestAlreadyProcessedException",
            format!("The certificate {serial_in} is already revoked."),
        ));
    }
    cert.revoked = Some((reason.to_string(), call.meta.now_millis));
    model::save_certificate(w.as_mut(), &cert).map_err(internal)?;
    w.commit().map_err(internal)?;
    Ok(json!({}))
}
