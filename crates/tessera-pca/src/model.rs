//! The records of AWS Private CA: certificate authorities (with their sealed private keys,
//! certificates, policies, associations and permissions) and the certificates they issued.
//!
//! A certificate authority lives in [`CA_TABLE`] under `<region>/<account>/<id>`; an issued
//! certificate in [`CERTIFICATE_TABLE`] under `<region>/<account>/<id>/<serial>`, so a CA's
//! certificates are one prefix scan.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::model::{self, Tag};
use tessera_store::{ReadTxn, StoreError, WriteTxn};

/// Certificate authorities.
pub const CA_TABLE: &str = "pca_certificate_authorities";
/// Certificates issued by them.
pub const CERTIFICATE_TABLE: &str = "pca_certificates";

/// A resource associated with a service-affiliated CA (`CreateCertificateAuthorityAssociation`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Association {
    /// `AssociatedResourceArn`.
    pub resource_arn: String,
    /// When it was made, epoch milliseconds.
    pub created_at: i64,
}

/// A permission granted to an AWS service principal (`CreatePermission`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Permission {
    /// `Principal` (`acm.amazonaws.com`).
    pub principal: String,
    /// `SourceAccount`.
    #[serde(default)]
    pub source_account: Option<String>,
    /// `Actions` (`IssueCertificate`, `GetCertificate`, `ListPermissions`).
    pub actions: Vec<String>,
    /// When it was granted, epoch milliseconds.
    pub created_at: i64,
}

/// A private certificate authority.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateAuthority {
    /// The last segment of the ARN (a UUID).
    pub id: String,
    /// The owning account.
    pub account: String,
    /// The Region it was created in.
    pub region: String,
    /// `ROOT` or `SUBORDINATE`.
    pub ca_type: String,
    /// `PENDING_CERTIFICATE`, `ACTIVE`, `DISABLED`, `EXPIRED` or `DELETED`.
    pub status: String,
    /// `CertificateAuthorityConfiguration.KeyAlgorithm` (`EC_prime256v1`, `RSA_2048`, ...).
    pub key_algorithm: String,
    /// `CertificateAuthorityConfiguration.SigningAlgorithm` (`SHA256WITHECDSA`, ...).
    pub signing_algorithm: String,
    /// `CertificateAuthorityConfiguration.Subject`, as given (an `ASN1Subject`).
    pub subject: Value,
    /// `CertificateAuthorityConfiguration.CsrExtensions`, as given.
    #[serde(default)]
    pub csr_extensions: Option<Value>,
    /// `RevocationConfiguration`, as given.
    #[serde(default)]
    pub revocation_configuration: Option<Value>,
    /// `GENERAL_PURPOSE`, `SHORT_LIVED_CERTIFICATE` or `SERVICE_AFFILIATED`.
    pub usage_mode: String,
    /// `ServiceAffiliation.ServiceAffiliationCode` of a `SERVICE_AFFILIATED` CA.
    #[serde(default)]
    pub service_affiliation: Option<String>,
    /// `KeyStorageSecurityStandard`.
    pub key_storage_security_standard: String,
    /// The CA's private key (PKCS #8), sealed with the data dir's SecretBox under
    /// [`CertificateAuthority::seal_context`]; never returned, logged or audited.
    pub sealed_private_key: String,
    /// The CA's certificate signing request (PEM), made at creation.
    pub csr_pem: String,
    /// The CA certificate, once imported (PEM).
    #[serde(default)]
    pub certificate_pem: Option<String>,
    /// The chain above the CA certificate, as imported (PEM; none for a root).
    #[serde(default)]
    pub chain_pem: Option<String>,
    /// The CA certificate's serial number (colon-separated lowercase hex, as AWS shows it).
    #[serde(default)]
    pub serial: Option<String>,
    /// The CA certificate's validity, epoch milliseconds.
    #[serde(default)]
    pub not_before: Option<i64>,
    /// See `not_before`.
    #[serde(default)]
    pub not_after: Option<i64>,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds.
    pub last_state_change_at: i64,
    /// For a `DELETED` CA: until when `RestoreCertificateAuthority` brings it back.
    #[serde(default)]
    pub restorable_until: Option<i64>,
    /// The status a deleted CA returns to when restored (`DISABLED` or `PENDING_CERTIFICATE`).
    #[serde(default)]
    pub status_before_delete: Option<String>,
    /// Tags, in the order they were added.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The resource-based policy (`PutPolicy`), if any.
    #[serde(default)]
    pub policy: Option<String>,
    /// Resources associated with a service-affiliated CA.
    #[serde(default)]
    pub associations: Vec<Association>,
    /// Permissions granted to AWS service principals.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// `IdempotencyToken` of the `CreateCertificateAuthority` call that made it, and when
    /// (epoch milliseconds): the same token within five minutes returns this CA again.
    #[serde(default)]
    pub idempotency_token: Option<(String, i64)>,
}

impl CertificateAuthority {
    /// A new `ROOT` CA in `PENDING_CERTIFICATE`, `GENERAL_PURPOSE`, with an `EC_prime256v1` key
    /// signing `SHA256WITHECDSA`, made at `now` (epoch milliseconds), with no key, CSR,
    /// certificate, tags or policy yet: callers set what differs with struct update syntax.
    pub fn pending(id: &str, account: &str, region: &str, now: i64) -> Self {
        CertificateAuthority {
            id: id.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            ca_type: "ROOT".into(),
            status: "PENDING_CERTIFICATE".into(),
            key_algorithm: "EC_prime256v1".into(),
            signing_algorithm: "SHA256WITHECDSA".into(),
            subject: Value::Object(Default::default()),
            csr_extensions: None,
            revocation_configuration: None,
            usage_mode: "GENERAL_PURPOSE".into(),
            service_affiliation: None,
            key_storage_security_standard: "FIPS_140_2_LEVEL_3_OR_HIGHER".into(),
            sealed_private_key: String::new(),
            csr_pem: String::new(),
            certificate_pem: None,
            chain_pem: None,
            serial: None,
            not_before: None,
            not_after: None,
            created_at: now,
            last_state_change_at: now,
            restorable_until: None,
            status_before_delete: None,
            tags: Vec::new(),
            policy: None,
            associations: Vec::new(),
            permissions: Vec::new(),
            idempotency_token: None,
        }
    }

    /// `arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>`.
    pub fn arn(&self) -> String {
        ca_arn(&self.region, &self.account, &self.id)
    }

    /// The store key.
    pub fn key(&self) -> String {
        ca_key(&self.region, &self.account, &self.id)
    }

    /// Associate `resource_arn` with the CA (`CreateCertificateAuthorityAssociation`); whether
    /// that changed anything (associating an associated resource is a no-op).
    pub fn associate(&mut self, resource_arn: &str, now_millis: i64) -> bool {
        if self.associations.iter().any(|a| a.resource_arn == resource_arn) {
            return false;
        }
        self.associations.push(Association { resource_arn: resource_arn.to_string(), created_at: now_millis });
        true
    }

    /// Remove the association of `resource_arn`; whether there was one.
    pub fn disassociate(&mut self, resource_arn: &str) -> bool {
        let before = self.associations.len();
        self.associations.retain(|a| a.resource_arn != resource_arn);
        self.associations.len() != before
    }

    /// Whether `resource_arn` is associated with the CA.
    pub fn is_associated(&self, resource_arn: &str) -> bool {
        self.associations.iter().any(|a| a.resource_arn == resource_arn)
    }

    /// The SecretBox context its private key is sealed under.
    pub fn seal_context(&self) -> String {
        format!("acm-pca/{}", self.arn())
    }
}

/// An issued certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedCertificate {
    /// The issuing CA's store key.
    pub ca_key: String,
    /// The serial number, lowercase hex without separators (the last segment of its ARN).
    pub serial: String,
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// The chain of the issuing CA at issuance (PEM): its certificate, then its own chain.
    pub chain_pem: String,
    /// The template it was issued with (`arn:aws:acm-pca:::template/EndEntityCertificate/V1`).
    pub template_arn: String,
    /// Epoch milliseconds.
    pub issued_at: i64,
    /// Epoch milliseconds.
    pub not_after: i64,
    /// `RevokeCertificate`: the reason and when, epoch milliseconds.
    #[serde(default)]
    pub revoked: Option<(String, i64)>,
}

/// `arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>`.
pub fn ca_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:acm-pca:{region}:{account}:certificate-authority/{id}")
}

/// A certificate's ARN: the CA's ARN, then `/certificate/<serial>`.
pub fn certificate_arn(ca_arn: &str, serial: &str) -> String {
    format!("{ca_arn}/certificate/{serial}")
}

/// The store key of a CA.
pub fn ca_key(region: &str, account: &str, id: &str) -> String {
    format!("{region}/{account}/{id}")
}

/// The parts of a certificate authority ARN: (region, account, id).
pub fn parse_ca_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:aws:acm-pca:")?;
    let mut parts = rest.splitn(3, ':');
    let region = parts.next()?;
    let account = parts.next()?;
    let id = parts.next()?.strip_prefix("certificate-authority/")?;
    let ok = !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !id.is_empty()
        && id.len() <= 200
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some((region, account, id))
}

/// The parts of a certificate ARN: (the CA's ARN, serial).
pub fn parse_certificate_arn(arn: &str) -> Option<(&str, &str)> {
    let (ca, serial) = arn.rsplit_once("/certificate/")?;
    parse_ca_arn(ca)?;
    (!serial.is_empty() && serial.len() <= 64 && serial.bytes().all(|b| b.is_ascii_hexdigit())).then_some((ca, serial))
}

/// Load a certificate authority by its ARN's parts.
pub fn load_ca(
    r: &(impl ReadTxn + ?Sized),
    region: &str,
    account: &str,
    id: &str,
) -> Result<Option<CertificateAuthority>, StoreError> {
    model::load(r, CA_TABLE, &ca_key(region, account, id))
}

/// Load a certificate authority by ARN (`None` for an ARN that is not a CA's).
pub fn load_ca_by_arn(r: &(impl ReadTxn + ?Sized), arn: &str) -> Result<Option<CertificateAuthority>, StoreError> {
    match parse_ca_arn(arn) {
        Some((region, account, id)) => load_ca(r, region, account, id),
        None => Ok(None),
    }
}

/// The certificate authorities whose store key starts with `prefix` (`<region>/` or
/// `<region>/<account>/`), in key order.
pub fn scan_cas(r: &(impl ReadTxn + ?Sized), prefix: &str) -> Result<Vec<CertificateAuthority>, StoreError> {
    let rows = r.scan(CA_TABLE, prefix, None, usize::MAX)?;
    Ok(model::decode_rows(CA_TABLE, rows)?.into_iter().map(|(_, ca)| ca).collect())
}

/// Write a certificate authority.
pub fn save_ca(w: &mut (impl WriteTxn + ?Sized), ca: &CertificateAuthority) -> Result<(), StoreError> {
    model::save(w, CA_TABLE, &ca.key(), ca)
}

/// The store key of an issued certificate.
pub fn certificate_key(ca_key: &str, serial: &str) -> String {
    format!("{ca_key}/{serial}")
}

/// Load an issued certificate.
pub fn load_certificate(
    r: &(impl ReadTxn + ?Sized),
    ca_key: &str,
    serial: &str,
) -> Result<Option<IssuedCertificate>, StoreError> {
    model::load(r, CERTIFICATE_TABLE, &certificate_key(ca_key, &serial.to_ascii_lowercase()))
}

/// Write an issued certificate.
pub fn save_certificate(w: &mut (impl WriteTxn + ?Sized), c: &IssuedCertificate) -> Result<(), StoreError> {
    model::save(w, CERTIFICATE_TABLE, &certificate_key(&c.ca_key, &c.serial), c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse_back() {
        let arn = ca_arn("us-east-1", "111122223333", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111");
        assert_eq!(parse_ca_arn(&arn), Some(("us-east-1", "111122223333", "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111")));
        let cert = certificate_arn(&arn, "e8cbd2bedb122329f97706bcfec990f8");
        assert_eq!(parse_certificate_arn(&cert), Some((arn.as_str(), "e8cbd2bedb122329f97706bcfec990f8")));
        for bad in [
            "arn:aws:acm-pca:us-east-1:1111222233:certificate-authority/x",
            "arn:aws:acm-pca:us-east-1:111122223333:certificate/x",
            "arn:aws:acm-pca::111122223333:certificate-authority/x",
            "arn:aws:acm-pca:us-east-1:111122223333:certificate-authority/a/b",
            "arn:aws:acm:us-east-1:111122223333:certificate-authority/x",
        ] {
            assert_eq!(parse_ca_arn(bad), None, "{bad}");
        }
        assert_eq!(parse_certificate_arn(&format!("{arn}/certificate/zz")), None);
    }
}
