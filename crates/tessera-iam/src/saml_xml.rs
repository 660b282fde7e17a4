//! SAML 2.0 documents for `AssumeRoleWithSAML` (see `docs/SAML.md`): the IdP metadata of a SAML
//! provider, the `Response` envelope, the XML signature (verified by libxmlsec1 through
//! `samael`, never canonicalized here), and the checks of the signed assertion.
//!
//! Every function takes untrusted text and answers an [`AwsError`] for anything it cannot use;
//! none panics. What is read from an assertion is read only from the content the signature
//! covers (xmlsec's pre-digest output), never from the document as sent, so that an unsigned
//! element wrapped around or beside the signed one is never consulted.

use base64::Engine;
use roxmltree::{Document, Node, ParsingOptions};
use tessera_wire::AwsError;

use tessera_core::sts::oidc::{invalid_identity_token, LEEWAY_SECS};

/// The SAML 2.0 protocol namespace (`samlp:`).
pub const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The SAML 2.0 assertion namespace (`saml:`).
pub const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The SAML 2.0 metadata namespace (`md:`).
pub const METADATA_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The XML-DSig namespace (`ds:`).
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// The status of a successful response.
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
/// The bearer subject confirmation method.
pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// The attribute naming the roles a user may take: `role-arn,provider-arn` pairs.
pub const ROLE_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/Role";
/// The attribute giving the session name.
pub const ROLE_SESSION_NAME_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/RoleSessionName";
/// The attribute giving a console session's length.
pub const SESSION_DURATION_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/SessionDuration";
/// The prefix of session tag attributes (`...PrincipalTag:<key>`).
pub const PRINCIPAL_TAG_PREFIX: &str = "https://aws.amazon.com/SAML/Attributes/PrincipalTag:";
/// The attribute listing transitive session tag keys.
pub const TRANSITIVE_TAG_KEYS_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/TransitiveTagKeys";
/// The attribute giving the source identity.
pub const SOURCE_IDENTITY_ATTRIBUTE: &str = "https://aws.amazon.com/SAML/Attributes/SourceIdentity";

/// Most nodes of a parsed document (a 100,000-character assertion has far fewer).
const NODES_LIMIT: u32 = 50_000;
/// Most certificates taken from one metadata document.
const MAX_CERTIFICATES: usize = 20;

/// `ExpiredTokenException` (400).
pub fn expired_token(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "ExpiredTokenException", message)
}

/// `IDPRejectedClaim` (403).
pub fn idp_rejected_claim(message: impl Into<String>) -> AwsError {
    AwsError::new(403, "IDPRejectedClaim", message)
}

fn malformed(what: &str) -> AwsError {
    invalid_identity_token(format!("Invalid SAML response: {what}"))
}

/// Parse XML strictly: no DTD (hence no entities), a bounded number of nodes.
pub fn parse(text: &str) -> Result<Document<'_>, AwsError> {
    let options = ParsingOptions { allow_dtd: false, nodes_limit: NODES_LIMIT };
    Document::parse_with_options(text, options).map_err(|_| malformed("not well-formed XML"))
}

pub fn is(node: &Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().namespace() == Some(ns) && node.tag_name().name() == name
}

pub fn children<'a, 'i>(node: Node<'a, 'i>, ns: &'a str, name: &'a str) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(c, ns, name))
}

pub fn child<'a, 'i>(node: Node<'a, 'i>, ns: &'a str, name: &'a str) -> Option<Node<'a, 'i>> {
    children(node, ns, name).next()
}

/// The text of an element (its text children joined, trimmed).
fn text_of(node: Node<'_, '_>) -> String {
    let s: String = node.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect();
    s.trim().to_string()
}

/// An `xs:dateTime` in UTC (`2024-05-01T12:00:00Z`, fractional seconds allowed).
pub fn parse_instant(value: &str) -> Option<i64> {
    time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn instant_attr(node: Node<'_, '_>, name: &str) -> Result<Option<i64>, AwsError> {
    match node.attribute(name) {
        None => Ok(None),
        Some(v) => parse_instant(v).map(Some).ok_or_else(|| malformed(&format!("{name} is not a valid date/time"))),
    }
}

// ---------------------------------------------------------------------------------------------
// The request's SAMLAssertion and the response envelope.

/// The `SAMLAssertion` parameter: the base64 of a `samlp:Response` (line breaks and spaces,
/// as IdPs wrap it, are ignored). Returns the XML text.
pub fn decode_response(encoded: &str) -> Result<String, AwsError> {
    let compact: String = encoded.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| malformed("the SAMLAssertion is not base64"))?;
    String::from_utf8(bytes).map_err(|_| malformed("the SAML response is not UTF-8 text"))
}

/// What the (unsigned) envelope of a response says before its signature is verified. Nothing
/// here is trusted: it only lets a failure be reported as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The top-level `StatusCode` value, when there is one.
    pub status: Option<String>,
    /// Whether the response carries an `EncryptedAssertion`.
    pub encrypted: bool,
    /// Whether the document holds any `ds:Signature` element.
    pub signed: bool,
}

/// Read the envelope of a SAML response (the document element must be `samlp:Response`).
pub fn envelope(xml: &str) -> Result<Envelope, AwsError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if !is(&root, PROTOCOL_NS, "Response") {
        return Err(malformed("the document is not a samlp:Response"));
    }
    let status = child(root, PROTOCOL_NS, "Status")
        .and_then(|s| child(s, PROTOCOL_NS, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .map(str::to_string);
    let encrypted = children(root, ASSERTION_NS, "EncryptedAssertion").next().is_some();
    let signed = root.descendants().any(|n| is(&n, DSIG_NS, "Signature"));
    Ok(Envelope { status, encrypted, signed })
}

// ---------------------------------------------------------------------------------------------
// IdP metadata.

/// What `AssumeRoleWithSAML` uses of a provider's metadata document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `entityID`: the issuer the assertions must name.
    pub entity_id: String,
    /// The DER of every signing certificate of the `IDPSSODescriptor` (several during a
    /// rotation; a key with `use="encryption"` is not one).
    pub certificates: Vec<Vec<u8>>,
}

/// Read an IdP metadata document (`md:EntityDescriptor`, or an `md:EntitiesDescriptor` holding
/// one entity with an `IDPSSODescriptor`).
pub fn idp_metadata(metadata: &str) -> Result<IdpMetadata, AwsError> {
    let bad = || invalid_identity_token("The SAML provider's metadata document could not be read.");
    let doc = parse(metadata.trim_start_matches('\u{feff}')).map_err(|_| bad())?;
    let entity = doc
        .descendants()
        .find(|n| is(n, METADATA_NS, "EntityDescriptor") && child(*n, METADATA_NS, "IDPSSODescriptor").is_some())
        .ok_or_else(bad)?;
    let entity_id = entity.attribute("entityID").filter(|e| !e.is_empty()).ok_or_else(bad)?.to_string();
    let mut certificates = Vec::new();
    for idp in children(entity, METADATA_NS, "IDPSSODescriptor") {
        for key in children(idp, METADATA_NS, "KeyDescriptor") {
            if key.attribute("use").is_some_and(|u| u != "signing") {
                continue;
            }
            let certs = key.descendants().filter(|n| is(n, DSIG_NS, "X509Certificate"));
            for cert in certs {
                let b64: String = text_of(cert).chars().filter(|c| !c.is_ascii_whitespace()).collect();
                let der = base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()).map_err(|_| bad())?;
                if !certificates.contains(&der) && certificates.len() < MAX_CERTIFICATES {
                    certificates.push(der);
                }
            }
        }
    }
    if certificates.is_empty() {
        return Err(bad());
    }
    Ok(IdpMetadata { entity_id, certificates })
}

// ---------------------------------------------------------------------------------------------
// The signature.

/// The signature algorithms accepted (SHA-2 RSA and ECDSA; SHA-1 and DSA are refused).
const ALLOWED_ALGORITHMS: &[samael::crypto::AllowedSignatureAlgorithm] = {
    use samael::crypto::AllowedSignatureAlgorithm as A;
    &[A::RsaSha256, A::RsaSha384, A::RsaSha512, A::EcdsaSha256, A::EcdsaSha384, A::EcdsaSha512]
};

/// AWS's message for a response whose signature does not verify.
pub const SIGNATURE_INVALID: &str = "Response signature invalid";

/// Verify every XML signature of `xml` with one of `certificates` (libxmlsec1, through
/// `samael`) and return what the signature covers: xmlsec's pre-digest output of the signed
/// `Response` (when the response is signed) or of the signed `Assertion`.
pub fn verify_signature(xml: &str, certificates: &[Vec<u8>]) -> Result<String, AwsError> {
    use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};
    let certs: Vec<CertificateDer> = certificates.iter().cloned().map(CertificateDer::from).collect();
    // libxml2/xmlsec run behind an FFI boundary; should the binding ever panic on some input,
    // the request fails instead of the worker thread.
    let verified = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            xml,
            &certs,
            ReduceMode::PreDigest,
            Some(ALLOWED_ALGORITHMS),
        )
    }));
    match verified {
        Ok(Ok(signed)) => Ok(signed),
        _ => Err(invalid_identity_token(SIGNATURE_INVALID)),
    }
}

// ---------------------------------------------------------------------------------------------
// The signed assertion.

/// A `SubjectConfirmation` of the assertion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Confirmation {
    /// `Method`.
    pub method: String,
    /// `SubjectConfirmationData/@Recipient`.
    pub recipient: Option<String>,
    /// `SubjectConfirmationData/@NotBefore`.
    pub not_before: Option<i64>,
    /// `SubjectConfirmationData/@NotOnOrAfter`.
    pub not_on_or_after: Option<i64>,
}

/// What `AssumeRoleWithSAML` reads from the signed assertion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assertion {
    /// `ID` (the replay cache's key).
    pub id: String,
    /// `Issuer`.
    pub issuer: String,
    /// The signed response's `Issuer`, when the response itself is signed and names one.
    pub response_issuer: Option<String>,
    /// The signed response's `Destination`, when the response itself is signed and has one.
    pub response_destination: Option<String>,
    /// `Subject/NameID` value.
    pub name_id: String,
    /// `Subject/NameID/@Format`.
    pub name_id_format: Option<String>,
    /// `Subject/SubjectConfirmation`s.
    pub confirmations: Vec<Confirmation>,
    /// `Conditions/@NotBefore`.
    pub not_before: Option<i64>,
    /// `Conditions/@NotOnOrAfter`.
    pub not_on_or_after: Option<i64>,
    /// `Conditions/AudienceRestriction`s, each a list of `Audience` values.
    pub audience_restrictions: Vec<Vec<String>>,
    /// The earliest `AuthnStatement/@SessionNotOnOrAfter`.
    pub session_not_on_or_after: Option<i64>,
    /// `AttributeStatement/Attribute`s: name and values, in document order.
    pub attributes: Vec<(String, Vec<String>)>,
}

impl Assertion {
    /// The values of the attribute named `name` (all of them, when it is repeated).
    pub fn attribute(&self, name: &str) -> Vec<&str> {
        self.attributes.iter().filter(|(n, _)| n == name).flat_map(|(_, v)| v.iter().map(String::as_str)).collect()
    }
}

/// Read the assertion out of what the signature covers ([`verify_signature`]'s output): a
/// signed `Response` holding exactly one `Assertion`, or a signed `Assertion`.
pub fn signed_assertion(signed: &str) -> Result<Assertion, AwsError> {
    let doc = parse(signed)?;
    let root = doc.root_element();
    let (assertion, response) = if is(&root, PROTOCOL_NS, "Response") {
        let mut assertions = children(root, ASSERTION_NS, "Assertion");
        let (Some(a), None) = (assertions.next(), assertions.next()) else {
            return Err(malformed("the signed response must hold exactly one Assertion"));
        };
        (a, Some(root))
    } else if is(&root, ASSERTION_NS, "Assertion") {
        (root, None)
    } else {
        return Err(invalid_identity_token(SIGNATURE_INVALID));
    };
    read_assertion(assertion, response)
}

pub fn read_assertion(a: Node<'_, '_>, response: Option<Node<'_, '_>>) -> Result<Assertion, AwsError> {
    let mut out = Assertion {
        id: a.attribute("ID").filter(|i| !i.is_empty()).ok_or_else(|| malformed("the assertion has no ID"))?.into(),
        issuer: child(a, ASSERTION_NS, "Issuer")
            .map(text_of)
            .ok_or_else(|| malformed("the assertion has no Issuer"))?,
        ..Default::default()
    };
    if let Some(r) = response {
        out.response_issuer = child(r, ASSERTION_NS, "Issuer").map(text_of);
        out.response_destination = r.attribute("Destination").map(str::to_string);
    }
    let subject = child(a, ASSERTION_NS, "Subject").ok_or_else(|| malformed("the assertion has no Subject"))?;
    let name_id = child(subject, ASSERTION_NS, "NameID").ok_or_else(|| malformed("the Subject has no NameID"))?;
    out.name_id = text_of(name_id);
    out.name_id_format = name_id.attribute("Format").map(str::to_string);
    for c in children(subject, ASSERTION_NS, "SubjectConfirmation") {
        let mut conf =
            Confirmation { method: c.attribute("Method").unwrap_or_default().to_string(), ..Default::default() };
        if let Some(data) = child(c, ASSERTION_NS, "SubjectConfirmationData") {
            conf.recipient = data.attribute("Recipient").map(str::to_string);
            conf.not_before = instant_attr(data, "NotBefore")?;
            conf.not_on_or_after = instant_attr(data, "NotOnOrAfter")?;
        }
        out.confirmations.push(conf);
    }
    if let Some(cond) = child(a, ASSERTION_NS, "Conditions") {
        out.not_before = instant_attr(cond, "NotBefore")?;
        out.not_on_or_after = instant_attr(cond, "NotOnOrAfter")?;
        for r in children(cond, ASSERTION_NS, "AudienceRestriction") {
            out.audience_restrictions.push(children(r, ASSERTION_NS, "Audience").map(text_of).collect());
        }
    }
    for s in children(a, ASSERTION_NS, "AuthnStatement") {
        if let Some(t) = instant_attr(s, "SessionNotOnOrAfter")? {
            out.session_not_on_or_after = Some(out.session_not_on_or_after.map_or(t, |u| u.min(t)));
        }
    }
    for s in children(a, ASSERTION_NS, "AttributeStatement") {
        for attr in children(s, ASSERTION_NS, "Attribute") {
            let name = attr.attribute("Name").unwrap_or_default().to_string();
            let values = children(attr, ASSERTION_NS, "AttributeValue").map(text_of).collect();
            out.attributes.push((name, values));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Checks.

/// Whether `host` looks like a region code (`us-east-1`, `eu-central-2`).
fn is_region(host: &str) -> bool {
    !host.is_empty()
        && host.contains('-')
        && host.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Whether `url` is an AWS sign-in SAML endpoint AWS accepts as `Recipient` / `Destination`:
/// `https://[<region>.]signin.aws.amazon.com/saml`, optionally followed by `/acs/<provider
/// UUID>` (AWS's form when assertions are encrypted), also for the China and GovCloud
/// partitions' sign-in hosts.
pub fn is_signin_endpoint(url: &str, provider_uuid: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let host_ok = ["signin.aws.amazon.com", "signin.amazonaws.cn", "signin.amazonaws-us-gov.com"]
        .iter()
        .any(|base| host == *base || host.strip_suffix(base).and_then(|r| r.strip_suffix('.')).is_some_and(is_region));
    let path = path.trim_end_matches('/');
    host_ok && (path == "saml" || path.strip_prefix("saml/acs/").is_some_and(|id| id == provider_uuid))
}

/// Whether `audience` is one AWS accepts: `urn:amazon:webservices` (AWS's service provider
/// entity id; also with a partition or region suffix: `urn:amazon:webservices:cn-north-1`,
/// `urn:amazon:webservices:govcloud`) or a sign-in SAML endpoint ([`is_signin_endpoint`]).
pub fn is_aws_audience(audience: &str, provider_uuid: &str) -> bool {
    audience == "urn:amazon:webservices"
        || audience.strip_prefix("urn:amazon:webservices:").is_some_and(is_region_or_partition)
        || is_signin_endpoint(audience, provider_uuid)
}

fn is_region_or_partition(s: &str) -> bool {
    s == "govcloud" || is_region(s)
}

fn iso(t: i64) -> String {
    crate::clock::iso8601(t)
}

/// The checks of a signed assertion against the provider and the clock (AWS's order where it
/// shows; the first failure is answered). Returns the `Recipient` of the bearer confirmation
/// (AssumeRoleWithSAML's `Audience`).
pub fn check_assertion(a: &Assertion, meta: &IdpMetadata, provider_uuid: &str, now: i64) -> Result<String, AwsError> {
    if a.issuer != meta.entity_id || a.response_issuer.as_ref().is_some_and(|i| *i != meta.entity_id) {
        return Err(invalid_identity_token(
            "Issuer of the SAML assertion does not match the entityID of the SAML provider's metadata",
        ));
    }
    if let Some(d) = &a.response_destination {
        if !is_signin_endpoint(d, provider_uuid) {
            return Err(invalid_identity_token(format!("Invalid Destination in the SAML response: {d}")));
        }
    }
    // Exactly one SubjectConfirmation, bearer, with a Recipient and a NotOnOrAfter (IAM User
    // Guide, "Configure SAML assertions for the authentication response").
    let [conf] = a.confirmations.as_slice() else {
        return Err(invalid_identity_token("The SAML assertion must have exactly one SubjectConfirmation element"));
    };
    if conf.method != BEARER {
        return Err(invalid_identity_token("The SubjectConfirmation Method must be bearer"));
    }
    let (Some(recipient), Some(conf_expiry)) = (&conf.recipient, conf.not_on_or_after) else {
        return Err(invalid_identity_token(
            "The SubjectConfirmationData must have both a Recipient and a NotOnOrAfter attribute",
        ));
    };
    if !is_signin_endpoint(recipient, provider_uuid) {
        return Err(invalid_identity_token(format!("Invalid Recipient in the SAML assertion: {recipient}")));
    }
    for not_before in [a.not_before, conf.not_before].into_iter().flatten() {
        if now + LEEWAY_SECS < not_before {
            return Err(invalid_identity_token(format!(
                "Assertion not yet valid: current date/time {} must be after the NotBefore date/time {}",
                iso(now),
                iso(not_before)
            )));
        }
    }
    for expiry in [Some(conf_expiry), a.not_on_or_after].into_iter().flatten() {
        if now >= expiry + LEEWAY_SECS {
            return Err(expired_token(format!(
                "Token expired: current date/time {} must be before the expiration date/time {}",
                iso(now),
                iso(expiry)
            )));
        }
    }
    for restriction in &a.audience_restrictions {
        if !restriction.iter().any(|aud| is_aws_audience(aud, provider_uuid)) {
            return Err(invalid_identity_token("Incorrect audience in the SAML assertion"));
        }
    }
    if a.audience_restrictions.is_empty() {
        return Err(invalid_identity_token("The SAML assertion has no AudienceRestriction"));
    }
    if a.name_id.is_empty() {
        return Err(invalid_identity_token("The SAML assertion's NameID is empty"));
    }
    Ok(recipient.clone())
}

/// When the replay record of an assertion may be forgotten: once every expiry it carries has
/// passed, clock skew included.
pub fn replay_horizon(a: &Assertion) -> i64 {
    let expiries = [a.not_on_or_after].into_iter().chain(a.confirmations.iter().map(|c| c.not_on_or_after));
    expiries.flatten().max().unwrap_or(0) + LEEWAY_SECS
}

/// The `(role ARN, provider ARN)` pairs of the `Role` attribute (each value `role-arn,provider-arn`,
/// in either order; spaces around the comma ignored; a value naming no `:saml-provider/` is
/// skipped).
pub fn role_pairs(a: &Assertion) -> Vec<(String, String)> {
    role_pairs_of(a.attribute(ROLE_ATTRIBUTE))
}

fn role_pairs_of<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for v in values {
        let Some((x, y)) = v.split_once(',') else { continue };
        let (x, y) = (x.trim(), y.trim());
        let pair = if y.contains(":saml-provider/") { (x, y) } else { (y, x) };
        if pair.1.contains(":saml-provider/") && !out.iter().any(|(r, p)| r == pair.0 && p == pair.1) {
            out.push((pair.0.to_string(), pair.1.to_string()));
        }
    }
    out
}

/// Whether the `Role` attribute offers `role_arn` with `provider_arn`.
pub fn offers_role(a: &Assertion, role_arn: &str, provider_arn: &str) -> bool {
    role_pairs(a).iter().any(|(r, p)| r == role_arn && p == provider_arn)
}

/// The provider ARNs the `Role` attributes of a response name, read **before** any signature
/// is checked: only to know which providers to verify the response against.
pub fn named_providers(xml: &str) -> Vec<String> {
    let Ok(doc) = parse(xml) else { return Vec::new() };
    let values: Vec<String> = doc
        .descendants()
        .filter(|n| is(n, ASSERTION_NS, "Attribute") && n.attribute("Name") == Some(ROLE_ATTRIBUTE))
        .flat_map(|n| children(n, ASSERTION_NS, "AttributeValue").map(text_of).collect::<Vec<_>>())
        .collect();
    let mut providers: Vec<String> = Vec::new();
    for (_, p) in role_pairs_of(values.iter().map(String::as_str)) {
        if !providers.contains(&p) {
            providers.push(p);
        }
    }
    providers
}

/// `saml:sub_type`: `persistent`, `transient`, or the `Format` URI as given.
pub fn subject_type(format: Option<&str>) -> String {
    match format {
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent") => "persistent".into(),
        Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient") => "transient".into(),
        Some(other) => other.into(),
        None => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".into(),
    }
}

/// `saml:namequalifier`: `base64(sha1(issuer + account id + "/" + provider name))`, the
/// formula the IAM User Guide gives.
pub fn name_qualifier(issuer: &str, account: &str, provider_name: &str) -> String {
    use sha1::Digest;
    let digest = sha1::Sha1::digest(format!("{issuer}{account}/{provider_name}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// The attributes AWS maps to `saml:` condition keys (IAM User Guide, "Available keys for
/// SAML-based federation"): attribute name, key, and whether the key takes several values.
pub const ATTRIBUTE_KEYS: &[(&str, &str, bool)] = &[
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "saml:edupersonaffiliation", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.2", "saml:edupersonnickname", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.3", "saml:edupersonorgdn", false),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.4", "saml:edupersonorgunitdn", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.5", "saml:edupersonprimaryaffiliation", false),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "saml:edupersonprincipalname", false),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.7", "saml:edupersonentitlement", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.8", "saml:edupersonprimaryorgunitdn", false),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.9", "saml:edupersonscopedaffiliation", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.10", "saml:edupersontargetedid", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.11", "saml:edupersonassurance", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.2", "saml:eduorghomepageuri", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.3", "saml:eduorgidentityauthnpolicyuri", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.4", "saml:eduorglegalname", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.5", "saml:eduorgsuperioruri", true),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.6", "saml:eduorgwhitepagesuri", true),
    ("urn:oid:2.5.4.3", "saml:cn", true),
    ("urn:oid:2.5.4.3", "saml:commonName", false),
    ("urn:oid:2.5.4.42", "saml:givenName", false),
    ("urn:oid:2.5.4.4", "saml:surname", false),
    ("urn:oid:0.9.2342.19200300.100.1.3", "saml:mail", false),
    ("urn:oid:2.5.4.41", "saml:name", false),
    ("urn:oid:0.9.2342.19200300.100.1.1", "saml:uid", false),
    ("urn:oid:2.5.4.45", "saml:x500UniqueIdentifier", false),
];

/// The `saml:` condition keys an assertion's attributes give (single-valued keys take the
/// first value).
pub fn attribute_keys(a: &Assertion) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (attr, key, multi) in ATTRIBUTE_KEYS {
        let values: Vec<String> = a.attribute(attr).into_iter().map(str::to_string).collect();
        if values.is_empty() {
            continue;
        }
        let values = if *multi { values } else { values.into_iter().take(1).collect() };
        out.push((key.to_string(), values));
    }
    out
}
