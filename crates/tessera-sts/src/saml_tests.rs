//! Unit tests of the SAML reader and checks (`saml_xml`): malformed input of every kind is an
//! `InvalidIdentityToken`, never a panic; the checks refuse what AWS refuses.

use base64::Engine;

use super::saml_xml::*;

const ISSUER: &str = "https://idp.example.com/metadata";
const UUID: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NOW: i64 = 1_800_000_000;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn instant(t: i64) -> String {
    crate::clock::iso8601(t)
}

/// An assertion as the IdP would sign it (no signature here: these tests read it directly).
fn assertion_xml(recipient: &str, audience: &str, not_before: i64, not_on_or_after: i64) -> String {
    format!(
        r#"<saml:Assertion xmlns:saml="{ASSERTION_NS}" ID="_a1" Version="2.0" IssueInstant="{now}">
<saml:Issuer>{ISSUER}</saml:Issuer>
<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient">u-1</saml:NameID>
<saml:SubjectConfirmation Method="{BEARER}"><saml:SubjectConfirmationData NotOnOrAfter="{exp}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject>
<saml:Conditions NotBefore="{nbf}" NotOnOrAfter="{exp}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AuthnStatement SessionNotOnOrAfter="{session}"/>
<saml:AttributeStatement>
<saml:Attribute Name="{ROLE_ATTRIBUTE}"><saml:AttributeValue>arn:aws:iam::111122223333:saml-provider/Idp,arn:aws:iam::111122223333:role/R</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.3"><saml:AttributeValue>o=Example</saml:AttributeValue></saml:Attribute>
<saml:Attribute Name="urn:oid:2.5.4.3"><saml:AttributeValue>Alice</saml:AttributeValue><saml:AttributeValue>A. Liddell</saml:AttributeValue></saml:Attribute>
</saml:AttributeStatement></saml:Assertion>"#,
        now = instant(NOW),
        nbf = instant(not_before),
        exp = instant(not_on_or_after),
        session = instant(NOW + 1800),
    )
}

fn good() -> String {
    assertion_xml("https://signin.aws.amazon.com/saml", "urn:amazon:webservices", NOW - 60, NOW + 300)
}

fn meta() -> IdpMetadata {
    IdpMetadata { entity_id: ISSUER.into(), certificates: vec![vec![1, 2, 3]] }
}

fn code(e: tessera_wire::AwsError) -> (u16, String) {
    (e.status, e.code)
}

#[test]
fn reads_the_signed_assertion() {
    let a = signed_assertion(&good()).unwrap();
    assert_eq!(a.id, "_a1");
    assert_eq!(a.issuer, ISSUER);
    assert_eq!(a.name_id, "u-1");
    assert_eq!(subject_type(a.name_id_format.as_deref()), "transient");
    assert_eq!(a.session_not_on_or_after, Some(NOW + 1800));
    assert_eq!(check_assertion(&a, &meta(), UUID, NOW).unwrap(), "https://signin.aws.amazon.com/saml");
    assert!(offers_role(&a, "arn:aws:iam::111122223333:role/R", "arn:aws:iam::111122223333:saml-provider/Idp"));
    assert!(!offers_role(&a, "arn:aws:iam::111122223333:role/Other", "arn:aws:iam::111122223333:saml-provider/Idp"));
    let keys = attribute_keys(&a);
    assert!(keys.contains(&("saml:edupersonorgdn".into(), vec!["o=Example".into()])));
    assert!(keys.contains(&("saml:cn".into(), vec!["Alice".into(), "A. Liddell".into()])));
    assert!(keys.contains(&("saml:commonName".into(), vec!["Alice".into()])));
    assert_eq!(replay_horizon(&a), NOW + 300 + 300);
}

#[test]
fn a_signed_response_must_hold_exactly_one_assertion() {
    let response = |inner: &str| {
        format!(
            r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}" Destination="https://signin.aws.amazon.com/saml"><saml:Issuer xmlns:saml="{ASSERTION_NS}">{ISSUER}</saml:Issuer>{inner}</samlp:Response>"#
        )
    };
    let one = signed_assertion(&response(&good())).unwrap();
    assert_eq!(one.response_issuer.as_deref(), Some(ISSUER));
    assert_eq!(code(signed_assertion(&response("")).unwrap_err()).1, "InvalidIdentityToken");
    let two = format!("{}{}", good(), good().replace("_a1", "_a2"));
    assert_eq!(code(signed_assertion(&response(&two)).unwrap_err()).1, "InvalidIdentityToken");
    // Signed content that is neither a Response nor an Assertion.
    assert_eq!(code(signed_assertion("<x/>").unwrap_err()).1, "InvalidIdentityToken");
}

#[test]
fn checks_refuse_what_aws_refuses() {
    let check = |xml: String, now: i64| check_assertion(&signed_assertion(&xml).unwrap(), &meta(), UUID, now);
    let signin = "https://signin.aws.amazon.com/saml";
    // Expired (past the 300 s skew), and still valid inside the skew.
    assert_eq!(code(check(good(), NOW + 600).unwrap_err()), (400, "ExpiredTokenException".into()));
    assert!(check(good(), NOW + 550).is_ok());
    // Not yet valid.
    let future = assertion_xml(signin, "urn:amazon:webservices", NOW + 900, NOW + 1800);
    assert_eq!(code(check(future, NOW).unwrap_err()), (400, "InvalidIdentityToken".into()));
    // Wrong audience, wrong recipient.
    let aud = assertion_xml(signin, "https://sp.example.com", NOW, NOW + 300);
    assert_eq!(code(check(aud, NOW).unwrap_err()), (400, "InvalidIdentityToken".into()));
    let rcpt = assertion_xml("https://evil.example.com/saml", "urn:amazon:webservices", NOW, NOW + 300);
    assert_eq!(code(check(rcpt, NOW).unwrap_err()), (400, "InvalidIdentityToken".into()));
    // Another issuer.
    let other = IdpMetadata { entity_id: "https://other.example.com".into(), certificates: vec![] };
    assert!(check_assertion(&signed_assertion(&good()).unwrap(), &other, UUID, NOW).is_err());
    // Regional endpoints and the provider's ACS URL are accepted; another provider's is not.
    for ok in [
        "https://eu-west-1.signin.aws.amazon.com/saml",
        format!("https://signin.aws.amazon.com/saml/acs/{UUID}").as_str(),
        "https://cn-north-1.signin.amazonaws.cn/saml",
    ] {
        assert!(check(assertion_xml(ok, ok, NOW, NOW + 300), NOW).is_ok(), "{ok}");
    }
    for bad in [
        "http://signin.aws.amazon.com/saml",
        "https://signin.aws.amazon.com/saml/acs/OTHER",
        "https://evil.signin.aws.amazon.com.example.com/saml",
        "https://Evil_Host.signin.aws.amazon.com/saml",
        "https://signin.aws.amazon.com/",
    ] {
        assert!(!is_signin_endpoint(bad, UUID), "{bad}");
    }
    // Two subject confirmations, or a holder-of-key one, are refused.
    let twice = good().replace("</saml:Subject>", "<saml:SubjectConfirmation Method=\"urn:x\"/></saml:Subject>");
    assert!(check(twice, NOW).is_err());
    let hok = good().replace(BEARER, "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key");
    assert!(check(hok, NOW).is_err());
    // No audience restriction at all.
    let open = good().replace(
        "<saml:AudienceRestriction><saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction>",
        "",
    );
    assert!(check(open, NOW).is_err());
}

#[test]
fn name_qualifier_follows_the_user_guide() {
    // base64(sha1("https://example.com/saml" + "123456789012" + "/MySAMLIdP")).
    assert_eq!(name_qualifier("https://example.com/saml", "123456789012", "MySAMLIdP"), "1uAJanUnBc2XeUkHURMht+xam2c=");
    assert_eq!(subject_type(Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")), "persistent");
    assert_eq!(
        subject_type(Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")),
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    );
}

#[test]
fn metadata_certificates() {
    let cert = |b: &str| {
        format!("<ds:KeyInfo xmlns:ds=\"{DSIG_NS}\"><ds:X509Data><ds:X509Certificate>\n{b}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo>")
    };
    let doc = format!(
        r#"<md:EntityDescriptor xmlns:md="{METADATA_NS}" entityID="{ISSUER}"><md:IDPSSODescriptor>
<md:KeyDescriptor use="signing">{}</md:KeyDescriptor><md:KeyDescriptor>{}</md:KeyDescriptor>
<md:KeyDescriptor use="encryption">{}</md:KeyDescriptor></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        cert("AQID"),
        cert("BAUG"),
        cert("BwgJ")
    );
    let m = idp_metadata(&doc).unwrap();
    assert_eq!(m.entity_id, ISSUER);
    assert_eq!(m.certificates, vec![vec![1, 2, 3], vec![4, 5, 6]]);
    assert!(idp_metadata("<md:EntityDescriptor/>").is_err());
    assert!(idp_metadata(&doc.replace("AQID", "!!")).is_err());
}

#[test]
fn malformed_responses_are_invalid_identity_tokens() {
    let doctype =
        format!("<!DOCTYPE r [<!ENTITY x \"y\">]><samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\">&x;</samlp:Response>");
    for junk in ["", "%%%", "<<<", "<a>", doctype.as_str(), "<samlp:Response xmlns:samlp=\"urn:other\"/>"] {
        let result = decode_response(&b64(junk)).and_then(|xml| envelope(&xml));
        assert_eq!(code(result.unwrap_err()), (400, "InvalidIdentityToken".into()), "{junk}");
    }
    assert!(decode_response("not base64!").is_err());
    assert!(decode_response(&base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe])).is_err());
    // Line-wrapped base64, as IdPs post it, is fine.
    let wrapped: String = b64("<x/>").chars().flat_map(|c| [c, '\n']).collect();
    assert_eq!(decode_response(&wrapped).unwrap(), "<x/>");
    let env = envelope(&format!(
        "<samlp:Response xmlns:samlp=\"{PROTOCOL_NS}\"><samlp:Status><samlp:StatusCode Value=\"urn:x:Requester\"/></samlp:Status></samlp:Response>"
    ))
    .unwrap();
    assert_eq!(env, Envelope { status: Some("urn:x:Requester".into()), encrypted: false, signed: false });
    // Dates that are not dates.
    assert!(signed_assertion(&good().replace(&instant(NOW + 300), "tomorrow")).is_err());
}

#[test]
fn signature_verification_fails_closed() {
    for doc in ["", "<x/>", "garbage", good().as_str(), format!("<ds:Signature xmlns:ds=\"{DSIG_NS}\"/>").as_str()] {
        let e = verify_signature(doc, &[vec![0x30, 0x03, 0x02, 0x01, 0x01]]).unwrap_err();
        assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidIdentityToken", SIGNATURE_INVALID));
        assert!(verify_signature(doc, &[]).is_err());
    }
}

/// Every prefix and a family of byte flips of a valid document go through every reader without
/// a panic (a poor man's fuzzer; `fuzz/fuzz_targets/saml_response.rs` is the real one).
#[test]
fn truncated_and_mangled_documents_never_panic() {
    let doc = format!(r#"<samlp:Response xmlns:samlp="{PROTOCOL_NS}">{}</samlp:Response>"#, good());
    let bytes = doc.as_bytes();
    let mut seed: u64 = 0x5eed;
    for i in 0..bytes.len() {
        let mut mangled = bytes.to_vec();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        mangled[i] = (seed >> 33) as u8;
        for candidate in [&bytes[..i], &mangled[..]] {
            let text = String::from_utf8_lossy(candidate);
            let _ = envelope(&text);
            let _ = signed_assertion(&text).map(|a| check_assertion(&a, &meta(), UUID, NOW));
            let _ = idp_metadata(&text);
        }
    }
}
