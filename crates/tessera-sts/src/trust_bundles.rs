//! `GetTrustBundles` (STS API Reference, `API_GetTrustBundles.html`): the SPIFFE trust bundle of
//! a workload identity provider, which relying parties use to verify its X509-SVIDs and
//! JWT-SVIDs.
//!
//! The bundle (SPIFFE Trust Domain and Bundle, section 4) is a JWK Set (RFC 7517) with
//! `spiffe_refresh_hint` and:
//! - one `jwt-svid` key per JWT outbound signer the provider holds (`kid` is the signer's RFC
//!   7638 thumbprint);
//! - one `x509-svid` key per trust anchor of its X.509 signer entries whose trust material is
//!   published (every status but `INACTIVE`, so a signer's root is there before it signs and
//!   after it stops): `x5c` holds exactly one certificate, the root the entry's CA chains up to
//!   (the CA's own certificate for a root CA, the last certificate of its chain for a
//!   subordinate), and the JWK members are that certificate's public key. An entry whose CA no
//!   longer exists is skipped; two entries that chain up to one root give one key.
//!
//! [`bundle`] is the one builder of the document. The action has no resource-level permissions
//! (`sts:GetTrustBundles` on `*`). A provider that does not exist, or that belongs to another
//! account (or to an organization the caller's account is not a member of), is
//! `ResourceNotFoundException`; an ARN that is not a workload identity provider's is a
//! validation error. The trust domain is the provider's `WorkloadIdentityDomain`; a
//! `NONE`-scheme provider has none, and reports its `ProviderId`.

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use base64::Engine;
use serde_json::{json, Value};
use tessera_pca::model::load_ca;
use tessera_pca::x509::split_pem_certificates;
use tessera_store::ReadTxn;

use super::params;
use crate::iam_workload::workload_identity::{
    parse_provider_arn, provider_key, signers, templates, WorkloadIdentityProvider, PROVIDER_TABLE,
};
use crate::{internal, model, Call, Services};

/// `spiffe_refresh_hint`, seconds: how often a relying party should fetch the bundle again.
pub const REFRESH_HINT_SECS: u64 = 300;

const ID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

/// The trust bundle document of a provider at `now` (epoch seconds).
pub fn bundle(r: &dyn ReadTxn, p: &WorkloadIdentityProvider, now: i64) -> Result<String, AwsError> {
    let mut anchors: Vec<String> = Vec::new();
    for s in p.x509_signers.iter().filter(|s| s.publishes(now)) {
        let Some(ca) = load_ca(r, &s.ca_region, &s.ca_account, &s.ca_id).map_err(internal)? else { continue };
        if ca.certificate_pem.is_none() {
            continue;
        }
        if let Some(root) = split_pem_certificates(&tessera_pca::chain_of(&ca)).pop() {
            if !anchors.contains(&root) {
                anchors.push(root);
            }
        }
    }
    let mut keys: Vec<Value> = anchors.iter().filter_map(|pem| anchor_key(pem)).collect();
    keys.extend(p.jwt_signers.iter().filter_map(|s| s.jwk("jwt-svid")));
    Ok(json!({ "keys": keys, "spiffe_refresh_hint": REFRESH_HINT_SECS }).to_string())
}

/// The `x509-svid` JWK of a trust anchor (PEM): `use`, `x5c` (the certificate, base64 DER) and
/// its public key's members (`kty` with `crv`/`x`/`y` or `n`/`e`); `None` for a certificate
/// that does not parse or a key no CA of Tessera has.
pub fn anchor_key(pem: &str) -> Option<Value> {
    use x509_cert::der::asn1::ObjectIdentifier;
    use x509_cert::der::{DecodePem, Encode};
    let cert = x509_cert::Certificate::from_pem(pem.trim().as_bytes()).ok()?;
    let der = cert.to_der().ok()?;
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let raw = spki.subject_public_key.as_bytes()?;
    let mut jwk = match spki.algorithm.oid.to_string().as_str() {
        ID_EC_PUBLIC_KEY => {
            let curve = spki.algorithm.parameters.as_ref()?.decode_as::<ObjectIdentifier>().ok()?.to_string();
            let (crv, len) = match curve.as_str() {
                "1.2.840.10045.3.1.7" => ("P-256", 32),
                "1.3.132.0.34" => ("P-384", 48),
                _ => return None,
            };
            let (x, y) = signers::ec_coordinates(raw, len)?;
            json!({ "kty": "EC", "crv": crv, "x": x, "y": y })
        }
        RSA_ENCRYPTION => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let key = rsa::RsaPublicKey::from_pkcs1_der(raw).ok()?;
            let (n, e) = crate::iam_workload::outbound_keys::rsa_jwk_members(&key);
            json!({ "kty": "RSA", "n": n, "e": e })
        }
        _ => return None,
    };
    let obj = jwk.as_object_mut()?;
    obj.insert("use".into(), "x509-svid".into());
    obj.insert("x5c".into(), json!([base64::engine::general_purpose::STANDARD.encode(der)]));
    Some(jwk)
}

fn not_found(arn: &str) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", format!("The workload identity provider {arn} was not found."))
}

/// `GetTrustBundles`.
pub fn get_trust_bundles(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = p.required("ProviderArn")?;
    let mut check = params::Check::default();
    check.length("providerArn", arn, 20, 2048);
    check.finish()?;
    let (account, name) = parse_provider_arn(arn).ok_or_else(|| {
        AwsError::validation(format!("The value {arn} is not a valid workload identity provider ARN."))
    })?;
    services.authorize(call, "sts:GetTrustBundles", "*")?;
    let read = services.store.read().map_err(internal)?;
    // An account's provider is readable by that account; an organization's, by its members.
    let visible = account == call.caller.account
        || (templates::is_organization_id(account)
            && crate::organizations::organization_of(read.as_ref(), &call.caller.account)
                .map_err(internal)?
                .is_some_and(|(org, _)| org == account));
    if !visible {
        return Err(not_found(arn));
    }
    let provider: Option<WorkloadIdentityProvider> =
        model::load(read.as_ref(), PROVIDER_TABLE, &provider_key(account, name)).map_err(internal)?;
    let provider = provider.ok_or_else(|| not_found(arn))?;
    let mut w = XmlWriter::fragment();
    w.open("TrustBundles", None)
        .open("member", None)
        .elem("TrustDomain", provider.domain.as_deref().unwrap_or(&provider.id))
        .elem("Bundle", &bundle(read.as_ref(), &provider, call.now_secs())?)
        .close()
        .close();
    Ok(WireResponse::query(STS_XMLNS, "GetTrustBundles", Some(&w.finish()), &call.meta.request_id))
}
