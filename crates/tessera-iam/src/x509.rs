//! PEM text shared by the certificate operations (server certificates, signing certificates)
//! and SSH public keys: the model's pattern for key and certificate material, and X.509 parsing.

use x509_cert::der::DecodePem;
use x509_cert::Certificate;

/// `[\u0009\u000A\u000D\u0020-\u00FF]+`: certificate bodies, chains and key material.
pub const PEM_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";

/// Whether `s` matches [`PEM_PATTERN`].
pub fn is_pem_text(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
}

/// The certificates of a PEM text: one or more `CERTIFICATE` blocks and nothing else but
/// whitespace. (`Certificate::load_pem_chain` is not used: it panics on empty input.)
pub fn parse_certificates(pem: &str) -> Option<Vec<Certificate>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = pem.trim();
    while !rest.is_empty() {
        let block = rest.strip_prefix(BEGIN)?;
        let end = block.find(END)? + END.len();
        certs.push(Certificate::from_pem(&rest[..BEGIN.len() + end]).ok()?);
        rest = block[end..].trim_start();
    }
    (!certs.is_empty()).then_some(certs)
}
