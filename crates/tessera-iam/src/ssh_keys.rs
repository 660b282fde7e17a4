//! SSH public keys of IAM users (`id_credentials_ssh-keys.html`, used by CodeCommit):
//! UploadSSHPublicKey, GetSSHPublicKey, ListSSHPublicKeys, UpdateSSHPublicKey,
//! DeleteSSHPublicKey.
//!
//! A key is accepted in OpenSSH `ssh-rsa` form or as a PEM RSA public key (`PUBLIC KEY` or
//! `RSA PUBLIC KEY`), of at least 2048 bits, as the API reference documents; any other encoding
//! is `UnrecognizedPublicKeyEncoding`, a recognized encoding that does not hold a usable RSA key
//! is `InvalidPublicKey`. The fingerprint is the MD5 of the SSH key blob in colon-separated hex
//! (what `ssh-keygen -l -E md5` shows). At most five keys per user; the same key twice on one
//! user is `DuplicateSSHPublicKey`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::credentials::{read, resolve_subject, respond, write, StoreResultExt};
use super::per_user::{self, UserRecord};
use super::x509::{is_pem_text, PEM_PATTERN};
use crate::clock;
use crate::model::{self, table, SshPublicKey, User};
use crate::validate::{self, Checks, Page};
use crate::{ids, Call, Services};

/// SSH public keys per user (IAM quotas).
pub const PER_USER: usize = 5;
/// The smallest RSA modulus AWS accepts, in bits.
const MIN_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits.
const MAX_BITS: usize = 16_384;

impl UserRecord for SshPublicKey {
    fn id(&self) -> &str {
        &self.id
    }
    fn set_status(&mut self, status: &str) {
        self.status = status.to_string();
    }
    fn set_owner(&mut self, name: &str) {
        self.user_name = name.to_string();
    }
}

fn unrecognized() -> AwsError {
    AwsError::new(
        400,
        "UnrecognizedPublicKeyEncoding",
        "The public key encoding format is unsupported or unrecognized: use ssh-rsa or PEM.",
    )
}

fn invalid(message: &str) -> AwsError {
    AwsError::new(400, "InvalidPublicKey", message)
}

fn no_such_key(id: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("The Public Key with id {id} cannot be found."))
}

/// Read one `string` of the SSH wire format (u32 big-endian length, then the bytes).
fn take_string<'a>(blob: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let value = blob.get(4..4usize.checked_add(len)?)?;
    *blob = &blob[4 + len..];
    Some(value)
}

/// Append one `string` (or `mpint`, given its bytes) of the SSH wire format.
fn put_string(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(value);
}

/// An unsigned integer as an SSH `mpint`: big-endian, a leading zero when the top bit is set.
fn mpint(n: &BigUint) -> Vec<u8> {
    let bytes = n.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v = vec![0];
        v.extend_from_slice(&bytes);
        v
    } else {
        bytes
    }
}

/// The RSA key of an OpenSSH `ssh-rsa` key blob.
fn rsa_from_blob(mut blob: &[u8]) -> Result<RsaPublicKey, AwsError> {
    let bad = || invalid("The SSH public key is malformed.");
    if take_string(&mut blob).ok_or_else(bad)? != b"ssh-rsa" {
        return Err(bad());
    }
    let e = take_string(&mut blob).ok_or_else(bad)?;
    let n = take_string(&mut blob).ok_or_else(bad)?;
    if !blob.is_empty() || e.first().is_some_and(|b| b & 0x80 != 0) || n.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(bad());
    }
    RsaPublicKey::new_with_max_size(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e), MAX_BITS).map_err(|_| bad())
}

/// A parsed, accepted key: `(ssh form, PEM form, fingerprint)`.
struct ParsedKey {
    ssh: String,
    pem: String,
    fingerprint: String,
}

/// Parse and check an uploaded key body.
fn parse_key(body: &str) -> Result<ParsedKey, AwsError> {
    let text = body.trim();
    let key = if let Some(rest) = text.strip_prefix("ssh-rsa ") {
        let b64 = rest.split_whitespace().next().unwrap_or_default();
        let blob = STANDARD.decode(b64).map_err(|_| invalid("The SSH public key is not valid base64."))?;
        rsa_from_blob(&blob)?
    } else if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        RsaPublicKey::from_public_key_pem(text)
            .map_err(|_| invalid("The PEM public key is malformed or is not an RSA key."))?
    } else if text.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        RsaPublicKey::from_pkcs1_pem(text).map_err(|_| invalid("The PEM RSA public key is malformed."))?
    } else {
        return Err(unrecognized());
    };
    let bits = key.n().bits();
    if bits < MIN_BITS {
        return Err(invalid(&format!(
            "The public key is {bits} bits long: the minimum bit-length of the public key is {MIN_BITS} bits."
        )));
    }
    let mut blob = Vec::new();
    put_string(&mut blob, b"ssh-rsa");
    put_string(&mut blob, &mpint(key.e()));
    put_string(&mut blob, &mpint(key.n()));
    let digest = Md5::digest(&blob);
    let fingerprint = digest.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    let pem = key.to_public_key_pem(LineEnding::LF).map_err(|_| invalid("The public key cannot be encoded."))?;
    Ok(ParsedKey { ssh: format!("ssh-rsa {}", STANDARD.encode(&blob)), pem, fingerprint })
}

/// `userNameType` (1-64), required.
fn user_name(params: &QueryParams) -> Result<&str, AwsError> {
    super::credentials::required_user_name(params, 64)
}

fn key_id(params: &QueryParams) -> Result<&str, AwsError> {
    per_user::id_param(params, "SSHPublicKeyId", "sSHPublicKeyId", 20)
}

fn write_key(w: &mut XmlWriter, k: &SshPublicKey, body: &str) {
    w.open("SSHPublicKey", None)
        .elem("UserName", &k.user_name)
        .elem("SSHPublicKeyId", &k.id)
        .elem("Fingerprint", &k.fingerprint)
        .elem("SSHPublicKeyBody", body)
        .elem("Status", &k.status)
        .elem("UploadDate", &clock::iso8601(k.uploaded))
        .close();
}

/// `UploadSSHPublicKey`.
pub(crate) fn upload(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let name = user_name(params)?;
    let body = params.required("SSHPublicKeyBody")?;
    Checks::new()
        .length("sSHPublicKeyBody", body, 1, 16_384)
        .pattern("sSHPublicKeyBody", body, PEM_PATTERN, is_pem_text)
        .finish()?;
    let user = per_user::subject_user(resolve_subject(services, call, Some(name), "iam:UploadSSHPublicKey", false)?)?;
    let parsed = parse_key(body)?;
    let account = call.caller.account.as_str();
    let now = call.now_secs();
    let key = write(services, |txn| {
        let existing: Vec<SshPublicKey> = per_user::of_owner(txn, table::SSH_PUBLIC_KEY, account, &user.name).ise()?;
        if existing.iter().any(|k| k.fingerprint == parsed.fingerprint) {
            return Err(AwsError::new(
                400,
                "DuplicateSSHPublicKey",
                "The SSH public key is already associated with the specified IAM user.",
            ));
        }
        if existing.len() >= PER_USER {
            return Err(super::entities::quota_exceeded("SSHPublicKeysPerUser", PER_USER));
        }
        let key = SshPublicKey {
            id: format!("APKA{}", ids::key_characters(16)),
            user_name: user.name.clone(),
            body: body.trim().to_string(),
            ssh: parsed.ssh,
            pem: parsed.pem,
            fingerprint: parsed.fingerprint,
            status: "Active".into(),
            uploaded: now,
        };
        model::save(txn, table::SSH_PUBLIC_KEY, &per_user::key(account, &user.name, &key.id), &key).ise()?;
        Ok(key)
    })?;
    let mut w = XmlWriter::fragment();
    write_key(&mut w, &key, &key.body);
    respond(call, Some(w.finish()))
}

/// Resolve the user and load one of its keys, authorized with `action`.
fn target(
    services: &Services,
    call: &Call,
    params: &QueryParams,
    action: &str,
) -> Result<(Box<User>, SshPublicKey), AwsError> {
    let name = user_name(params)?;
    let id = key_id(params)?;
    per_user::user_and_record(services, call, Some(name), id, action, table::SSH_PUBLIC_KEY, || no_such_key(id))
}

/// `GetSSHPublicKey` (`Encoding` `SSH` or `PEM`).
pub(crate) fn get(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let encoding = params.required("Encoding")?;
    Checks::new().one_of("encoding", Some(encoding), &["SSH", "PEM"]).finish()?;
    let (_, key) = target(services, call, params, "iam:GetSSHPublicKey")?;
    let body = if encoding == "PEM" { key.pem.trim_end() } else { key.ssh.as_str() };
    let mut w = XmlWriter::fragment();
    write_key(&mut w, &key, body);
    respond(call, Some(w.finish()))
}

/// `ListSSHPublicKeys` (metadata only).
pub(crate) fn list(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let name = super::credentials::login::user_name_64(params)?;
    let page = Page::from_params(params)?;
    let user = per_user::subject_user(resolve_subject(services, call, name, "iam:ListSSHPublicKeys", false)?)?;
    let keys: Vec<SshPublicKey> =
        read(services, |r| per_user::of_owner(r, table::SSH_PUBLIC_KEY, &call.caller.account, &user.name).ise())?;
    let (keys, marker) = page.apply(keys, |k| k.id.clone());
    let mut w = XmlWriter::fragment();
    w.open("SSHPublicKeys", None);
    for k in &keys {
        w.open("member", None)
            .elem("UserName", &k.user_name)
            .elem("SSHPublicKeyId", &k.id)
            .elem("Status", &k.status)
            .elem("UploadDate", &clock::iso8601(k.uploaded))
            .close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    respond(call, Some(w.finish()))
}

/// `UpdateSSHPublicKey`: `Active` / `Inactive`.
pub(crate) fn update(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let status = per_user::status_param(params)?;
    let (user, key) = target(services, call, params, "iam:UpdateSSHPublicKey")?;
    let k = per_user::key(&call.caller.account, &user.name, &key.id);
    per_user::set_status::<SshPublicKey>(services, table::SSH_PUBLIC_KEY, &k, status, || no_such_key(&key.id))?;
    respond(call, None)
}

/// `DeleteSSHPublicKey`.
pub(crate) fn delete(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let (user, key) = target(services, call, params, "iam:DeleteSSHPublicKey")?;
    let k = per_user::key(&call.caller.account, &user.name, &key.id);
    per_user::delete(services, table::SSH_PUBLIC_KEY, &k, || no_such_key(&key.id))?;
    respond(call, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for body in ["", "x", "ssh-rsa", "ssh-rsa !!!", "ssh-rsa AAAA", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB"] {
            assert!(parse_key(body).is_err(), "{body:?}");
        }
        assert_eq!(parse_key("ssh-ed25519 AAAA").err().map(|e| e.code), Some("UnrecognizedPublicKeyEncoding".into()));
        let mut blob = &[0u8, 0, 0, 9, b'x'][..];
        assert!(take_string(&mut blob).is_none());
        let mut huge = &[0xffu8, 0xff, 0xff, 0xff][..];
        assert!(take_string(&mut huge).is_none());
    }
}
