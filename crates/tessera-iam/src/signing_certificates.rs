//! X.509 signing certificates (`id_credentials_signing-certificates`, for the SOAP-era services
//! that sign with them): UploadSigningCertificate, ListSigningCertificates,
//! UpdateSigningCertificate, DeleteSigningCertificate.
//!
//! Without `UserName` the operations act on the caller's own IAM user, or on the root user's
//! certificates when the caller is root, as the API reference documents. The body must be one PEM
//! X.509 certificate (`MalformedCertificate` otherwise) that is valid now (`InvalidCertificate`
//! otherwise); the same certificate cannot be on two users of an account
//! (`DuplicateCertificate`). At most two certificates per user.

use sha2::{Digest, Sha256};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};
use x509_cert::der::Encode;

use super::credentials::{optional_user_name, read, resolve_subject, respond, write, StoreResultExt, Subject};
use super::per_user::{self, UserRecord, ROOT_OWNER};
use super::x509::{is_pem_text, parse_certificates, PEM_PATTERN};
use crate::clock;
use crate::model::{self, table, SigningCertificate};
use crate::validate::{self, Checks, Page};
use crate::{ids, Call, Services};

/// Signing certificates per user (IAM quotas).
pub const PER_USER: usize = 2;

impl UserRecord for SigningCertificate {
    fn id(&self) -> &str {
        &self.id
    }
    fn set_status(&mut self, status: &str) {
        self.status = status.to_string();
    }
    fn set_owner(&mut self, name: &str) {
        self.user_name = Some(name.to_string());
    }
}

/// The owner segment of a subject's keys.
fn owner(s: &Subject) -> &str {
    s.user_name().unwrap_or(ROOT_OWNER)
}

fn no_such_certificate(id: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("The Certificate with id {id} cannot be found."))
}

fn certificate_id(params: &QueryParams) -> Result<&str, AwsError> {
    per_user::id_param(params, "CertificateId", "certificateId", 24)
}

/// Check an uploaded body at `now`: the hex SHA-256 of its DER.
fn check_body(body: &str, now: i64) -> Result<String, AwsError> {
    let malformed = || {
        AwsError::new(
            400,
            "MalformedCertificate",
            "Unable to parse certificate. Please ensure the certificate is in PEM format.",
        )
    };
    let certs = parse_certificates(body).filter(|c| c.len() == 1).ok_or_else(malformed)?;
    let cert = &certs[0];
    let validity = &cert.tbs_certificate.validity;
    let secs = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    if now < secs(&validity.not_before) || now > secs(&validity.not_after) {
        return Err(AwsError::new(400, "InvalidCertificate", "The certificate is not valid at this time."));
    }
    let der = cert.to_der().map_err(|_| malformed())?;
    Ok(Sha256::digest(&der).iter().map(|b| format!("{b:02x}")).collect())
}

fn write_certificate(w: &mut XmlWriter, c: &SigningCertificate) {
    w.opt("UserName", c.user_name.as_deref())
        .elem("CertificateId", &c.id)
        .elem("CertificateBody", &c.body)
        .elem("Status", &c.status)
        .elem("UploadDate", &clock::iso8601(c.uploaded));
}

/// `UploadSigningCertificate`.
pub(crate) fn upload(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let name = optional_user_name(params, "UserName")?;
    let body = params.required("CertificateBody")?;
    Checks::new()
        .length("certificateBody", body, 1, 16_384)
        .pattern("certificateBody", body, PEM_PATTERN, is_pem_text)
        .finish()?;
    let subject = resolve_subject(services, call, name, "iam:UploadSigningCertificate", true)?;
    let now = call.now_secs();
    let digest = check_body(body, now)?;
    let account = call.caller.account.as_str();
    let cert = write(services, |txn| {
        let all: Vec<SigningCertificate> = per_user::of_account(txn, table::SIGNING_CERTIFICATE, account).ise()?;
        if all.iter().any(|c| c.der_sha256 == digest) {
            return Err(AwsError::new(
                409,
                "DuplicateCertificate",
                "The same certificate is already associated with an IAM user in the account.",
            ));
        }
        let owner_key = per_user::owner_prefix(account, owner(&subject));
        let mine = all
            .iter()
            .filter(|c| per_user::owner_prefix(account, c.user_name.as_deref().unwrap_or(ROOT_OWNER)) == owner_key)
            .count();
        if mine >= PER_USER {
            return Err(super::entities::quota_exceeded("SigningCertificatesPerUser", PER_USER));
        }
        let cert = SigningCertificate {
            id: ids::key_characters(28),
            user_name: subject.user_name().map(str::to_string),
            body: body.to_string(),
            der_sha256: digest,
            status: "Active".into(),
            uploaded: now,
        };
        model::save(txn, table::SIGNING_CERTIFICATE, &per_user::key(account, owner(&subject), &cert.id), &cert)
            .ise()?;
        Ok(cert)
    })?;
    let mut w = XmlWriter::fragment();
    w.open("Certificate", None);
    write_certificate(&mut w, &cert);
    w.close();
    respond(call, Some(w.finish()))
}

/// `ListSigningCertificates`.
pub(crate) fn list(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let name = optional_user_name(params, "UserName")?;
    let page = Page::from_params(params)?;
    let subject = resolve_subject(services, call, name, "iam:ListSigningCertificates", true)?;
    let certs: Vec<SigningCertificate> = read(services, |r| {
        per_user::of_owner(r, table::SIGNING_CERTIFICATE, &call.caller.account, owner(&subject)).ise()
    })?;
    let (certs, marker) = page.apply(certs, |c| c.id.clone());
    let mut w = XmlWriter::fragment();
    w.open("Certificates", None);
    for c in &certs {
        w.open("member", None);
        write_certificate(&mut w, c);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    respond(call, Some(w.finish()))
}

/// Resolve the owner and the store key of one certificate, authorized with `action`.
fn target(services: &Services, call: &Call, params: &QueryParams, action: &str) -> Result<(String, String), AwsError> {
    let name = optional_user_name(params, "UserName")?;
    let id = certificate_id(params)?;
    let subject = resolve_subject(services, call, name, action, true)?;
    Ok((id.to_string(), per_user::key(&call.caller.account, owner(&subject), id)))
}

/// `UpdateSigningCertificate`: `Active` / `Inactive`.
pub(crate) fn update(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let status = per_user::status_param(params)?;
    let (id, k) = target(services, call, params, "iam:UpdateSigningCertificate")?;
    per_user::set_status::<SigningCertificate>(services, table::SIGNING_CERTIFICATE, &k, status, || {
        no_such_certificate(&id)
    })?;
    respond(call, None)
}

/// `DeleteSigningCertificate`.
pub(crate) fn delete(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let (id, k) = target(services, call, params, "iam:DeleteSigningCertificate")?;
    per_user::delete(services, table::SIGNING_CERTIFICATE, &k, || no_such_certificate(&id))?;
    respond(call, None)
}
