//! Encrypted SAML assertions (`saml:EncryptedAssertion`, W3C XML Encryption) for
//! `AssumeRoleWithSAML` (see `docs/SAML.md`, "Encrypted assertions").
//!
//! A SAML provider made with `AddPrivateKey` decrypts them with its private keys (at most two,
//! for rotation), as the IAM User Guide describes ("Manage SAML encryption keys"): the content
//! key is transported with RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, or `xmlenc11#rsa-oaep` with its
//! digest and mask generation function), the assertion is encrypted with AES-GCM or AES-CBC
//! (128, 192 or 256 bits), which are the algorithms IAM names for these keys. RSA PKCS#1 v1.5
//! key transport is refused: its padding is open to Bleichenbacher's attack. The primitives are
//! RustCrypto's (`rsa`, `aes-gcm`, `cbc`); only the XML Encryption framing is read here.
//!
//! Decryption is not authentication: the decrypted assertion is used only if an IdP signing
//! certificate signs it, either inside the encryption (a signed `Assertion`) or outside (a
//! signed `Response` that holds the `EncryptedAssertion`); what is read comes from the signed
//! content only, as for an unencrypted assertion ([`saml_xml`]).

use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine;
use roxmltree::Node;
use rsa::{Oaep, RsaPrivateKey};
use tessera_wire::AwsError;

use super::oidc::invalid_identity_token;
use super::saml_xml::{self, Assertion, ASSERTION_NS, DSIG_NS, PROTOCOL_NS, SIGNATURE_INVALID};

/// The XML Encryption namespace (`xenc:`).
pub const XENC_NS: &str = "http://www.w3.org/2001/04/xmlenc#";
/// The XML Encryption 1.1 namespace (`xenc11:`).
pub const XENC11_NS: &str = "http://www.w3.org/2009/xmlenc11#";

/// Most `EncryptedKey` elements tried for one assertion.
const MAX_ENCRYPTED_KEYS: usize = 4;

/// The answer to an encrypted assertion that none of the provider's keys decrypts (the reason
/// is not told: which step failed is no business of the sender).
pub fn undecryptable() -> AwsError {
    invalid_identity_token("The SAML assertion could not be decrypted with the SAML provider's private keys")
}

/// The signed assertion of a response that carries an `EncryptedAssertion`, decrypted with one
/// of `keys` and verified with one of `certificates` (the provider's IdP signing certificates).
pub fn encrypted_assertion(xml: &str, certificates: &[Vec<u8>], keys: &[RsaPrivateKey]) -> Result<Assertion, AwsError> {
    if keys.is_empty() {
        return Err(invalid_identity_token(
            "The SAML assertion is encrypted but the SAML provider has no private key to decrypt it",
        ));
    }
    let doc = saml_xml::parse(xml)?;
    let root = doc.root_element();
    let response_signed = saml_xml::child(root, DSIG_NS, "Signature").is_some();
    if response_signed {
        // The signature covers the response and so the EncryptedAssertion: read it from the
        // signed content, then use the assertion it holds (verified too when it is signed).
        let signed = saml_xml::verify_signature(xml, certificates)?;
        let signed_doc = saml_xml::parse(&signed)?;
        let response = signed_doc.root_element();
        if !saml_xml::is(&response, PROTOCOL_NS, "Response") {
            return Err(invalid_identity_token(SIGNATURE_INVALID));
        }
        let plain = decrypt(only_encrypted_assertion(response)?, keys)?;
        let inner = saml_xml::parse(&plain)?;
        let assertion = inner.root_element();
        if !saml_xml::is(&assertion, ASSERTION_NS, "Assertion") {
            return Err(undecryptable());
        }
        if assertion.descendants().any(|n| saml_xml::is(&n, DSIG_NS, "Signature")) {
            let verified = saml_xml::verify_signature(&plain, certificates)?;
            let verified_doc = saml_xml::parse(&verified)?;
            let a = verified_doc.root_element();
            if !saml_xml::is(&a, ASSERTION_NS, "Assertion") {
                return Err(invalid_identity_token(SIGNATURE_INVALID));
            }
            return saml_xml::read_assertion(a, Some(response));
        }
        return saml_xml::read_assertion(assertion, Some(response));
    }
    // An unsigned response: the decrypted assertion must carry the IdP's signature itself.
    let plain = decrypt(only_encrypted_assertion(root)?, keys)?;
    let inner = saml_xml::parse(&plain)?;
    if !inner.descendants().any(|n| saml_xml::is(&n, DSIG_NS, "Signature")) {
        return Err(invalid_identity_token(SIGNATURE_INVALID));
    }
    let verified = saml_xml::verify_signature(&plain, certificates)?;
    let assertion = saml_xml::signed_assertion(&verified)?;
    Ok(assertion)
}

/// The one `EncryptedAssertion` of a response that holds no plain `Assertion` beside it.
fn only_encrypted_assertion<'a, 'i>(response: Node<'a, 'i>) -> Result<Node<'a, 'i>, AwsError> {
    let bad = || invalid_identity_token("Invalid SAML response: it must hold exactly one assertion");
    if saml_xml::child(response, ASSERTION_NS, "Assertion").is_some() {
        return Err(bad());
    }
    let mut encrypted = saml_xml::children(response, ASSERTION_NS, "EncryptedAssertion");
    match (encrypted.next(), encrypted.next()) {
        (Some(e), None) => Ok(e),
        _ => Err(bad()),
    }
}

/// Base64 text of an element (whitespace ignored).
fn base64_of(node: Node<'_, '_>) -> Option<Vec<u8>> {
    let text: String =
        node.children().filter_map(|c| c.text()).flat_map(str::chars).filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).ok()
}

/// `CipherData/CipherValue` of an `EncryptedData` or `EncryptedKey`, decoded.
fn cipher_value(node: Node<'_, '_>) -> Option<Vec<u8>> {
    let data = saml_xml::child(node, XENC_NS, "CipherData")?;
    base64_of(saml_xml::child(data, XENC_NS, "CipherValue")?)
}

/// The `EncryptionMethod` of an `EncryptedData` or `EncryptedKey`.
fn algorithm<'a, 'i>(node: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    saml_xml::child(node, XENC_NS, "EncryptionMethod")
}

/// Decrypt an `EncryptedAssertion`: its `EncryptedData` (the assertion's XML text) with the
/// content key of one of its `EncryptedKey`s (inside `EncryptedData/KeyInfo` or beside it).
pub fn decrypt(encrypted: Node<'_, '_>, keys: &[RsaPrivateKey]) -> Result<String, AwsError> {
    let data = saml_xml::child(encrypted, XENC_NS, "EncryptedData").ok_or_else(undecryptable)?;
    let data_method = algorithm(data).and_then(|m| m.attribute("Algorithm")).ok_or_else(undecryptable)?;
    let cipher = DataCipher::from_uri(data_method).ok_or_else(|| {
        invalid_identity_token(format!(
            "The SAML assertion is encrypted with {data_method}, which is not supported: use AES-GCM or AES-CBC"
        ))
    })?;
    let ciphertext = cipher_value(data).ok_or_else(undecryptable)?;
    let in_key_info = saml_xml::child(data, DSIG_NS, "KeyInfo")
        .into_iter()
        .flat_map(|k| saml_xml::children(k, XENC_NS, "EncryptedKey"));
    let beside = saml_xml::children(encrypted, XENC_NS, "EncryptedKey");
    for encrypted_key in in_key_info.chain(beside).take(MAX_ENCRYPTED_KEYS) {
        let transport = KeyTransport::of(encrypted_key)?;
        let Some(wrapped) = cipher_value(encrypted_key) else { continue };
        for key in keys {
            let Ok(content_key) = transport.unwrap(key, &wrapped) else { continue };
            if content_key.len() != cipher.key_len() {
                continue;
            }
            if let Some(plain) = cipher.decrypt(&content_key, &ciphertext) {
                return String::from_utf8(plain).map_err(|_| undecryptable());
            }
        }
    }
    Err(undecryptable())
}

/// How the content key is transported: RSA-OAEP with its digest and mask generation hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyTransport {
    /// OAEP with SHA-1 / SHA-256 / SHA-512 digest, MGF1 with SHA-1 / SHA-256 / SHA-512.
    Oaep { digest: Hash, mgf: Hash },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

impl Hash {
    fn of_digest_uri(uri: &str) -> Option<Hash> {
        match uri {
            "http://www.w3.org/2000/09/xmldsig#sha1" => Some(Hash::Sha1),
            "http://www.w3.org/2001/04/xmlenc#sha256" => Some(Hash::Sha256),
            "http://www.w3.org/2001/04/xmlenc#sha512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn of_mgf_uri(uri: &str) -> Option<Hash> {
        match uri {
            "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Some(Hash::Sha1),
            "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Some(Hash::Sha256),
            "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Some(Hash::Sha512),
            _ => None,
        }
    }
}

impl KeyTransport {
    fn of(encrypted_key: Node<'_, '_>) -> Result<KeyTransport, AwsError> {
        let method = algorithm(encrypted_key).ok_or_else(undecryptable)?;
        let uri = method.attribute("Algorithm").unwrap_or_default();
        let unsupported = || {
            invalid_identity_token(format!(
                "The SAML assertion's key is transported with {uri}, which is not supported: use RSA-OAEP"
            ))
        };
        let digest = match saml_xml::child(method, DSIG_NS, "DigestMethod") {
            None => Hash::Sha1,
            Some(d) => d.attribute("Algorithm").and_then(Hash::of_digest_uri).ok_or_else(unsupported)?,
        };
        // OAEPparams (a label) is not used by IdPs; one would change the padding's hash input.
        if saml_xml::child(method, XENC_NS, "OAEPparams").is_some() {
            return Err(unsupported());
        }
        match uri {
            "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p" => Ok(KeyTransport::Oaep { digest, mgf: Hash::Sha1 }),
            "http://www.w3.org/2009/xmlenc11#rsa-oaep" => {
                let mgf = match saml_xml::child(method, XENC11_NS, "MGF") {
                    None => Hash::Sha1,
                    Some(m) => m.attribute("Algorithm").and_then(Hash::of_mgf_uri).ok_or_else(unsupported)?,
                };
                Ok(KeyTransport::Oaep { digest, mgf })
            }
            _ => Err(unsupported()),
        }
    }

    fn unwrap(self, key: &RsaPrivateKey, wrapped: &[u8]) -> Result<Vec<u8>, rsa::Error> {
        use sha1::Sha1;
        use sha2::{Sha256, Sha512};
        let KeyTransport::Oaep { digest, mgf } = self;
        let padding = match (digest, mgf) {
            (Hash::Sha1, Hash::Sha1) => Oaep::new::<Sha1>(),
            (Hash::Sha1, Hash::Sha256) => Oaep::new_with_mgf_hash::<Sha1, Sha256>(),
            (Hash::Sha1, Hash::Sha512) => Oaep::new_with_mgf_hash::<Sha1, Sha512>(),
            (Hash::Sha256, Hash::Sha1) => Oaep::new_with_mgf_hash::<Sha256, Sha1>(),
            (Hash::Sha256, Hash::Sha256) => Oaep::new::<Sha256>(),
            (Hash::Sha256, Hash::Sha512) => Oaep::new_with_mgf_hash::<Sha256, Sha512>(),
            (Hash::Sha512, Hash::Sha1) => Oaep::new_with_mgf_hash::<Sha512, Sha1>(),
            (Hash::Sha512, Hash::Sha256) => Oaep::new_with_mgf_hash::<Sha512, Sha256>(),
            (Hash::Sha512, Hash::Sha512) => Oaep::new::<Sha512>(),
        };
        key.decrypt(padding, wrapped)
    }
}

/// The assertion's cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataCipher {
    /// AES-GCM (XML Encryption 1.1): a 12-byte IV, the ciphertext, a 16-byte tag.
    Gcm(usize),
    /// AES-CBC: a 16-byte IV, then the ciphertext with XML Encryption's padding (the last byte
    /// gives the padding length; the other padding bytes are arbitrary).
    Cbc(usize),
}

impl DataCipher {
    fn from_uri(uri: &str) -> Option<DataCipher> {
        Some(match uri {
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => DataCipher::Gcm(16),
            "http://www.w3.org/2009/xmlenc11#aes192-gcm" => DataCipher::Gcm(24),
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => DataCipher::Gcm(32),
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => DataCipher::Cbc(16),
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => DataCipher::Cbc(24),
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => DataCipher::Cbc(32),
            _ => return None,
        })
    }

    fn key_len(self) -> usize {
        match self {
            DataCipher::Gcm(n) | DataCipher::Cbc(n) => n,
        }
    }

    /// The plaintext, or `None` when it does not decrypt (wrong key, altered ciphertext).
    fn decrypt(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        match self {
            DataCipher::Gcm(n) => {
                if data.len() < 12 + 16 {
                    return None;
                }
                let (iv, sealed) = data.split_at(12);
                let nonce = aes_gcm::Nonce::from_slice(iv);
                match n {
                    16 => aes_gcm::Aes128Gcm::new_from_slice(key).ok()?.decrypt(nonce, sealed).ok(),
                    24 => aes_gcm::AesGcm::<aes::Aes192, aes_gcm::aead::consts::U12>::new_from_slice(key)
                        .ok()?
                        .decrypt(nonce, sealed)
                        .ok(),
                    _ => aes_gcm::Aes256Gcm::new_from_slice(key).ok()?.decrypt(nonce, sealed).ok(),
                }
            }
            DataCipher::Cbc(n) => {
                if data.len() < 32 || !data.len().is_multiple_of(16) {
                    return None;
                }
                let (iv, body) = data.split_at(16);
                let mut buf = body.to_vec();
                let plain_len = match n {
                    16 => cbc_decrypt::<aes::Aes128>(key, iv, &mut buf)?,
                    24 => cbc_decrypt::<aes::Aes192>(key, iv, &mut buf)?,
                    _ => cbc_decrypt::<aes::Aes256>(key, iv, &mut buf)?,
                };
                buf.truncate(plain_len);
                Some(buf)
            }
        }
    }
}

/// Decrypt `buf` in place with AES-CBC and return the length without XML Encryption's padding.
fn cbc_decrypt<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Option<usize>
where
    C: aes::cipher::BlockDecryptMut + aes::cipher::BlockCipher + aes::cipher::KeyInit,
{
    use aes::cipher::block_padding::NoPadding;
    use aes::cipher::{BlockDecryptMut, KeyIvInit};
    let decryptor = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    let plain = decryptor.decrypt_padded_mut::<NoPadding>(buf).ok()?;
    let pad = usize::from(*plain.last()?);
    (1..=16).contains(&pad).then(|| plain.len().checked_sub(pad)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::block_padding::NoPadding;
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    use rsa::RsaPublicKey;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn rsa_key() -> RsaPrivateKey {
        RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap()
    }

    /// An `EncryptedAssertion` of `plain` under `cipher_uri`, its key wrapped for `to`.
    fn encrypted(plain: &[u8], cipher_uri: &str, key_len: usize, to: &RsaPublicKey, transport: &str) -> String {
        let content_key: Vec<u8> = (0..key_len).map(|i| i as u8 + 1).collect();
        let data = if cipher_uri.ends_with("gcm") {
            let iv = [7u8; 12];
            let sealed = match key_len {
                16 => aes_gcm::Aes128Gcm::new_from_slice(&content_key)
                    .unwrap()
                    .encrypt(aes_gcm::Nonce::from_slice(&iv), plain)
                    .unwrap(),
                _ => aes_gcm::Aes256Gcm::new_from_slice(&content_key)
                    .unwrap()
                    .encrypt(aes_gcm::Nonce::from_slice(&iv), plain)
                    .unwrap(),
            };
            [iv.as_slice(), &sealed].concat()
        } else {
            let iv = [9u8; 16];
            let pad = 16 - plain.len() % 16;
            let mut buf = plain.to_vec();
            buf.extend(std::iter::repeat_n(0xAA, pad - 1));
            buf.push(pad as u8);
            let n = buf.len();
            cbc::Encryptor::<aes::Aes128>::new_from_slices(&content_key, &iv)
                .unwrap()
                .encrypt_padded_mut::<NoPadding>(&mut buf, n)
                .unwrap();
            [iv.as_slice(), &buf].concat()
        };
        let wrapped = to.encrypt(&mut rand::thread_rng(), Oaep::new::<sha1::Sha1>(), &content_key).unwrap();
        format!(
            r#"<saml:EncryptedAssertion xmlns:saml="{ASSERTION_NS}"><xenc:EncryptedData xmlns:xenc="{XENC_NS}" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="{cipher_uri}"/><ds:KeyInfo xmlns:ds="{DSIG_NS}"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{transport}"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
            b64(&wrapped),
            b64(&data)
        )
    }

    fn decrypt_text(xml: &str, keys: &[RsaPrivateKey]) -> Result<String, AwsError> {
        let doc = saml_xml::parse(xml)?;
        decrypt(doc.root_element(), keys)
    }

    const PLAIN: &str = "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a\"/>";
    const OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";

    #[test]
    fn gcm_and_cbc_decrypt_with_the_right_key_only() {
        let (key, other) = (rsa_key(), rsa_key());
        for (uri, len) in [
            ("http://www.w3.org/2009/xmlenc11#aes128-gcm", 16),
            ("http://www.w3.org/2009/xmlenc11#aes256-gcm", 32),
            ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", 16),
        ] {
            let xml = encrypted(PLAIN.as_bytes(), uri, len, &key.to_public_key(), OAEP);
            assert_eq!(decrypt_text(&xml, &[other.clone(), key.clone()]).unwrap(), PLAIN, "{uri}");
            assert_eq!(decrypt_text(&xml, std::slice::from_ref(&other)).unwrap_err().code, "InvalidIdentityToken");
        }
    }

    #[test]
    fn altered_gcm_ciphertext_is_refused() {
        let key = rsa_key();
        let xml =
            encrypted(PLAIN.as_bytes(), "http://www.w3.org/2009/xmlenc11#aes128-gcm", 16, &key.to_public_key(), OAEP);
        // Flip one character of the data's base64 (the last CipherValue).
        let at = xml.rfind("</xenc:CipherValue>").unwrap() - 5;
        let mut bytes = xml.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let xml = String::from_utf8(bytes).unwrap();
        assert!(decrypt_text(&xml, &[key]).is_err());
    }

    #[test]
    fn pkcs1_v15_transport_and_unknown_ciphers_are_refused() {
        let key = rsa_key();
        let v15 = encrypted(
            PLAIN.as_bytes(),
            "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            16,
            &key.to_public_key(),
            "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
        );
        let e = decrypt_text(&v15, std::slice::from_ref(&key)).unwrap_err();
        assert!(e.message.contains("RSA-OAEP"), "{}", e.message);
        let des = encrypted(
            PLAIN.as_bytes(),
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
            16,
            &key.to_public_key(),
            OAEP,
        );
        assert!(decrypt_text(&des, &[key]).unwrap_err().message.contains("AES-GCM or AES-CBC"));
    }

    #[test]
    fn malformed_input_never_panics() {
        let key = rsa_key();
        for xml in [
            "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"/>",
            &format!("<e xmlns:xenc=\"{XENC_NS}\"><xenc:EncryptedData><xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes128-gcm\"/><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></e>"),
            &format!("<e xmlns:xenc=\"{XENC_NS}\"><xenc:EncryptedData><xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes128-cbc\"/><xenc:CipherData><xenc:CipherValue>!!</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></e>"),
        ] {
            assert!(decrypt_text(xml, std::slice::from_ref(&key)).is_err());
        }
        // CBC padding bytes out of range, short data.
        let k = [1u8; 16];
        assert!(DataCipher::Cbc(16).decrypt(&k, &[0u8; 16]).is_none());
        assert!(DataCipher::Cbc(16).decrypt(&k, &[0u8; 33]).is_none());
        assert!(DataCipher::Gcm(16).decrypt(&k, &[0u8; 20]).is_none());
    }

    #[test]
    fn private_keys_parse_from_pkcs8_and_pkcs1() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa_key();
        let p8 = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let p1 = key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).unwrap();
        let parse = crate::iam::credentials::providers::parse_saml_private_key;
        assert_eq!(parse(&p8).as_ref(), Some(&key));
        assert_eq!(parse(&p1).as_ref(), Some(&key));
        assert!(parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_none());
    }
}
