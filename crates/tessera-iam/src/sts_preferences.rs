//! `SetSecurityTokenServicePreferences` (`id_credentials_temp_enable-regions.html`): which
//! version of session token the global STS endpoint issues, `v1Token` (valid only in the Regions
//! enabled by default, AWS's default) or `v2Token` (valid in every Region). Tessera's tokens are
//! valid wherever Tessera answers, so the preference is kept and reported (`GetAccountSummary`'s
//! `GlobalEndpointTokenVersion`, 1 or 2), and changes nothing else.

use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, StoreError};
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::credentials::{respond, write, StoreResultExt};
use crate::model;
use crate::validate::Checks;
use crate::{Call, Services};

/// The preference of each account, by account id.
pub const TABLE: &str = "iam_sts_preferences";

/// An account's STS preferences.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StsPreferences {
    /// `v1Token` or `v2Token`.
    pub global_endpoint_token_version: String,
}

/// `GlobalEndpointTokenVersion` as `GetAccountSummary` shows it: 1 unless set to `v2Token`.
pub fn global_endpoint_token_version(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<u64, StoreError> {
    let prefs: Option<StsPreferences> = model::load(r, TABLE, account)?;
    Ok(if prefs.is_some_and(|p| p.global_endpoint_token_version == "v2Token") { 2 } else { 1 })
}

/// `SetSecurityTokenServicePreferences`.
pub(crate) fn set(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let version = params.required("GlobalEndpointTokenVersion")?;
    Checks::new().one_of("globalEndpointTokenVersion", Some(version), &["v1Token", "v2Token"]).finish()?;
    services.authorize(call, "iam:SetSecurityTokenServicePreferences", "*")?;
    let prefs = StsPreferences { global_endpoint_token_version: version.to_string() };
    write(services, |txn| model::save(txn, TABLE, &call.caller.account, &prefs).ise())?;
    respond(call, None)
}
