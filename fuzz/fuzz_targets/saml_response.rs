//! SAML responses (`AssumeRoleWithSAML`): arbitrary text never panics the readers of
//! `sts::saml_xml` (response envelope, signed assertion, IdP metadata) nor the checks, and no
//! document verifies against a certificate that signed nothing (libxmlsec1 through `samael`);
//! an `EncryptedAssertion` (`sts::saml_decrypt`) never panics the decryption and never yields an
//! assertion without a signature by that certificate.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

use tessera_services::sts::{saml_decrypt, saml_xml};

/// A syntactically valid certificate DER is not needed: whatever key xmlsec reads (or fails to
/// read) from these bytes, nothing the fuzzer writes can be signed by it.
const NOT_A_SIGNER: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];

/// The provider's decryption key (made once: key generation is slow).
fn provider_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("an RSA key"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match mode % 5 {
        0 => {
            let _ = saml_xml::decode_response(&text).and_then(|xml| saml_xml::envelope(&xml));
        }
        1 => {
            if let Ok(a) = saml_xml::signed_assertion(&text) {
                let meta = saml_xml::IdpMetadata { entity_id: a.issuer.clone(), certificates: Vec::new() };
                let _ = saml_xml::check_assertion(&a, &meta, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1_800_000_000);
                let _ = saml_xml::attribute_keys(&a);
                let _ = saml_xml::replay_horizon(&a);
            }
        }
        2 => {
            let _ = saml_xml::idp_metadata(&text);
        }
        3 => {
            let key = provider_key().clone();
            let found = saml_decrypt::encrypted_assertion(&text, &[NOT_A_SIGNER.to_vec()], &[key]);
            assert!(found.is_err(), "an encrypted assertion was accepted without a valid signature");
        }
        _ => {
            assert!(saml_xml::verify_signature(&text, &[NOT_A_SIGNER.to_vec()]).is_err(), "a forged signature verified");
        }
    }
});
