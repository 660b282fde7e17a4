//! `GetTrustBundles` (STS API Reference, `API_GetTrustBundles.html`): the SPIFFE trust bundle of
//! a workload identity provider, which relying parties use to verify its JWT-SVIDs.
//!
//! The bundle is a JWK Set (RFC 7517) with `spiffe_refresh_hint` and one `jwt-svid` key per JWT
//! outbound signer the provider holds (`kid` is the signer's RFC 7638 thumbprint). There is no
//! `x509-svid` key: X.509 signers need AWS Private CA, which Tessera does not serve. The action
//! has no resource-level permissions (`sts:GetTrustBundles` on `*`). A provider that does not
//! exist, or that belongs to another account (or to an organization the caller's account is not
//! a member of), is `ResourceNotFoundException`; an ARN that is not
//! a workload identity provider's is a validation error. The trust domain is the provider's
//! `WorkloadIdentityDomain`; a `NONE`-scheme provider has none, and reports its `ProviderId`.

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::params;
use crate::iam_workload::workload_identity::{
    parse_provider_arn, provider_key, templates, WorkloadIdentityProvider, PROVIDER_TABLE,
};
use crate::{internal, model, Call, Services};

/// `spiffe_refresh_hint`, seconds: how often a relying party should fetch the bundle again.
pub const REFRESH_HINT_SECS: u64 = 300;

/// The trust bundle document of a provider.
pub fn bundle(p: &WorkloadIdentityProvider) -> String {
    let keys: Vec<serde_json::Value> = p.jwt_signers.iter().filter_map(|s| s.jwk("jwt-svid")).collect();
    serde_json::json!({ "keys": keys, "spiffe_refresh_hint": REFRESH_HINT_SECS }).to_string()
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
        .elem("Bundle", &bundle(&provider))
        .close()
        .close();
    Ok(WireResponse::query(STS_XMLNS, "GetTrustBundles", Some(&w.finish()), &call.meta.request_id))
}
