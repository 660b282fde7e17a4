//! Server certificates (`id_credentials_server-certs.html`): UploadServerCertificate,
//! GetServerCertificate, ListServerCertificates, UpdateServerCertificate,
//! DeleteServerCertificate.
//!
//! The body and chain must be PEM X.509 certificates (`MalformedCertificate` otherwise); the
//! private key must be a PEM RSA key (PKCS#1 or PKCS#8) whose public key is the certificate's
//! (`KeyPairMismatch` otherwise). The private key is sealed at rest with the data dir's key,
//! bound to the certificate's id, and never returned; the audit trail hides it as AWS does
//! (`PrivateKey` is recorded as `HIDDEN_DUE_TO_SECURITY_REASONS`).

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{RsaPrivateKey, RsaPublicKey};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};
use x509_cert::der::Encode;
use x509_cert::Certificate;

use super::entities::{
    already_exists, check_tag_rules, entity_arn, load_named, no_such_entity, parse_tags, quota_exceeded,
    request_tags_context, resource_tags_context, scan_page, write_tags, Cx, StoreResultExt,
};
use super::x509::parse_certificates;
use crate::clock;
use crate::model::{self, table, ServerCertificate};
use crate::validate::{self, Checks};

/// Server certificates per account (IAM quotas).
pub const PER_ACCOUNT: u64 = 20;

fn malformed(message: &str) -> AwsError {
    AwsError::new(400, "MalformedCertificate", message)
}

fn no_such_certificate(name: &str) -> AwsError {
    no_such_entity(format!("The Server Certificate with name {name} cannot be found."))
}

impl super::tags::Taggable for ServerCertificate {
    const TABLE: &'static str = table::SERVER_CERTIFICATE;
    const OP_WORD: &'static str = "ServerCertificate";
    const ARN_WORD: &'static str = "server-certificate";
    const NAME_MAX: usize = 128;
    const CASE_INSENSITIVE: bool = false;
    fn name(&self) -> &str {
        &self.name
    }
    fn arn(&self) -> String {
        ServerCertificate::arn(self)
    }
    fn tags_mut(&mut self) -> &mut Vec<model::Tag> {
        &mut self.tags
    }
    fn not_found(name: &str) -> AwsError {
        no_such_certificate(name)
    }
}

/// The RSA public key of a certificate.
fn certificate_key(cert: &Certificate) -> Option<RsaPublicKey> {
    let der = cert.tbs_certificate.subject_public_key_info.to_der().ok()?;
    RsaPublicKey::from_public_key_der(&der).ok()
}

/// Check the upload: (notAfter epoch seconds).
fn check_material(body: &str, key: &str, chain: Option<&str>) -> Result<i64, AwsError> {
    let certs = parse_certificates(body)
        .filter(|c| c.len() == 1)
        .ok_or_else(|| malformed("Unable to parse certificate. Please ensure the certificate is in PEM format."))?;
    let cert = &certs[0];
    if let Some(chain) = chain {
        parse_certificates(chain)
            .ok_or_else(|| malformed("Unable to parse certificate chain. Please ensure the chain is in PEM format."))?;
    }
    let private =
        RsaPrivateKey::from_pkcs1_pem(key.trim()).or_else(|_| RsaPrivateKey::from_pkcs8_pem(key.trim())).map_err(
            |_| malformed("Unable to parse private key. Please ensure the private key is an RSA key in PEM format."),
        )?;
    let public = certificate_key(cert)
        .ok_or_else(|| malformed("Unable to parse the certificate's public key: only RSA keys are supported."))?;
    if private.to_public_key() != public {
        return Err(AwsError::new(
            400,
            "KeyPairMismatch",
            "The public key certificate and the private key do not match.",
        ));
    }
    let not_after = cert.tbs_certificate.validity.not_after.to_unix_duration().as_secs();
    Ok(i64::try_from(not_after).unwrap_or(i64::MAX))
}

fn write_metadata(w: &mut XmlWriter, c: &ServerCertificate) {
    w.elem("Path", &c.path)
        .elem("ServerCertificateName", &c.name)
        .elem("ServerCertificateId", &c.id)
        .elem("Arn", &c.arn())
        .elem("UploadDate", &clock::iso8601(c.uploaded))
        .elem("Expiration", &clock::iso8601(c.expiration));
}

/// The certificate `name` (ARN for authorization: its own, or at `/` when absent).
fn lookup(cx: &Cx<'_>, name: &str) -> Result<(Option<ServerCertificate>, String), AwsError> {
    let read = cx.read()?;
    let cert: Option<ServerCertificate> = load_named(read.as_ref(), table::SERVER_CERTIFICATE, cx.account(), name)?;
    let arn =
        cert.as_ref().map_or_else(|| entity_arn(cx.account(), "server-certificate", "/", name), ServerCertificate::arn);
    Ok((cert, arn))
}

/// `UploadServerCertificate`.
pub(crate) fn upload(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "ServerCertificateName", 128);
    let path = cx.path_opt(&mut c, "Path").unwrap_or_else(|| "/".into());
    let mut pem = |param: &str, max: usize, required: bool| -> Option<String> {
        let field = tessera_wire::query::lower_first(param);
        match cx.params.get(param) {
            None => {
                if required {
                    c.not_null(&field, false);
                }
                None
            }
            Some(v) => {
                c.length(&field, v, 1, max).pattern(&field, v, super::x509::PEM_PATTERN, super::x509::is_pem_text);
                Some(v.to_string())
            }
        }
    };
    let body = pem("CertificateBody", 16_384, true).unwrap_or_default();
    let key = pem("PrivateKey", 16_384, true).unwrap_or_default();
    let chain = pem("CertificateChain", 2_097_152, false);
    let tags = parse_tags(&mut c, cx.params, "Tags");
    c.finish()?;
    check_tag_rules(&tags, false)?;
    let account = cx.account();
    let arn = entity_arn(account, "server-certificate", &path, &name);
    cx.authorize("iam:UploadServerCertificate", &arn, request_tags_context(&tags))?;
    if !tags.is_empty() {
        cx.authorize("iam:TagServerCertificate", &arn, request_tags_context(&tags))?;
    }
    let expiration = check_material(&body, &key, chain.as_deref())?;
    let now = cx.now();
    let cert = cx.write(|txn| {
        let k = model::name_key(account, &name);
        if txn.get(table::SERVER_CERTIFICATE, &k).st()?.is_some() {
            return Err(already_exists(format!("The Server Certificate with name {name} already exists.")));
        }
        if txn.count(table::SERVER_CERTIFICATE, &format!("{account}/")).st()? >= PER_ACCOUNT {
            return Err(quota_exceeded("ServerCertificatesPerAccount", PER_ACCOUNT));
        }
        let id = format!("ASCA{}", crate::ids::key_characters(17));
        let cert = ServerCertificate {
            account: account.to_string(),
            name: name.clone(),
            path: path.clone(),
            private_key_sealed: cx.services.secrets.seal(&ServerCertificate::seal_context(&id), key.as_bytes()),
            id,
            body: body.clone(),
            chain: chain.clone(),
            uploaded: now,
            expiration,
            tags: tags.clone(),
        };
        model::save(txn, table::SERVER_CERTIFICATE, &k, &cert).st()?;
        Ok(cert)
    })?;
    let mut w = XmlWriter::fragment();
    w.open("ServerCertificateMetadata", None);
    write_metadata(&mut w, &cert);
    w.close();
    write_tags(&mut w, &cert.tags);
    Ok(cx.respond(Some(w.finish())))
}

/// `GetServerCertificate` (never the private key).
pub(crate) fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "ServerCertificateName", 128);
    c.finish()?;
    let (cert, arn) = lookup(cx, &name)?;
    let ctx = cert.as_ref().map(|c| resource_tags_context(&c.tags)).unwrap_or_default();
    cx.authorize("iam:GetServerCertificate", &arn, ctx)?;
    let cert = cert.ok_or_else(|| no_such_certificate(&name))?;
    let mut w = XmlWriter::fragment();
    w.open("ServerCertificate", None).open("ServerCertificateMetadata", None);
    write_metadata(&mut w, &cert);
    w.close().elem("CertificateBody", &cert.body);
    w.opt("CertificateChain", cert.chain.as_deref());
    write_tags(&mut w, &cert.tags);
    w.close();
    Ok(cx.respond(Some(w.finish())))
}

/// `ListServerCertificates`.
pub(crate) fn list(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let prefix = cx.path_prefix_opt(&mut c);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    let resource = entity_arn(account, "server-certificate", prefix.as_deref().unwrap_or("/"), "*");
    cx.authorize("iam:ListServerCertificates", &resource, Vec::new())?;
    let read = cx.read()?;
    let (certs, marker) =
        scan_page::<ServerCertificate>(read.as_ref(), table::SERVER_CERTIFICATE, &format!("{account}/"), &page, |c| {
            prefix.as_deref().is_none_or(|p| c.path.starts_with(p))
        })?;
    let mut w = XmlWriter::fragment();
    w.open("ServerCertificateMetadataList", None);
    for c in &certs {
        w.open("member", None);
        write_metadata(&mut w, c);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// `UpdateServerCertificate`: new name and/or path.
pub(crate) fn update(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "ServerCertificateName", 128);
    let new_path = cx.path_opt(&mut c, "NewPath");
    let new_name = cx.name_opt(&mut c, "NewServerCertificateName", 128);
    c.finish()?;
    let account = cx.account();
    let (cert, arn) = lookup(cx, &name)?;
    let ctx = cert.as_ref().map(|c| resource_tags_context(&c.tags)).unwrap_or_default();
    cx.authorize("iam:UpdateServerCertificate", &arn, ctx)?;
    if let Some(old) = &cert {
        let target = entity_arn(
            account,
            "server-certificate",
            new_path.as_deref().unwrap_or(&old.path),
            new_name.as_deref().unwrap_or(&old.name),
        );
        if target != arn {
            cx.authorize("iam:UpdateServerCertificate", &target, Vec::new())?;
        }
    }
    cx.write(|txn| {
        let old_key = model::name_key(account, &name);
        let mut cert: ServerCertificate =
            model::load(txn, table::SERVER_CERTIFICATE, &old_key).st()?.ok_or_else(|| no_such_certificate(&name))?;
        if let Some(p) = &new_path {
            cert.path = p.clone();
        }
        if let Some(n) = &new_name {
            cert.name = n.clone();
        }
        let new_key = model::name_key(account, &cert.name);
        if new_key != old_key {
            if txn.get(table::SERVER_CERTIFICATE, &new_key).st()?.is_some() {
                return Err(already_exists(format!("The Server Certificate with name {} already exists.", cert.name)));
            }
            txn.delete(table::SERVER_CERTIFICATE, &old_key).st()?;
        }
        model::save(txn, table::SERVER_CERTIFICATE, &new_key, &cert).st()
    })?;
    Ok(cx.respond(None))
}

/// `DeleteServerCertificate`.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "ServerCertificateName", 128);
    c.finish()?;
    let (cert, arn) = lookup(cx, &name)?;
    let ctx = cert.as_ref().map(|c| resource_tags_context(&c.tags)).unwrap_or_default();
    cx.authorize("iam:DeleteServerCertificate", &arn, ctx)?;
    cx.write(|txn| {
        if !txn.delete(table::SERVER_CERTIFICATE, &model::name_key(cx.account(), &name)).st()? {
            return Err(no_such_certificate(&name));
        }
        Ok(())
    })?;
    Ok(cx.respond(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
        let bodies = ["", "\n", "x", block, "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"];
        for body in bodies {
            assert_eq!(check_material(body, "x", None).unwrap_err().code, "MalformedCertificate", "{body:?}");
            assert!(parse_certificates(body).is_none(), "{body:?}");
        }
        let two = format!("{block}\n{block}x");
        assert!(parse_certificates(&two).is_none());
    }
}
