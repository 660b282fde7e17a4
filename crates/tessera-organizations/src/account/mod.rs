//! AWS Account Management (REST-JSON, `POST /getContactInformation` etc., SigV4 service
//! `account`): the contact information and alternate contacts of an account.
//!
//! Every operation takes an optional `AccountId`. Without it the call acts on the caller's own
//! account (resource `arn:aws:account::<account>:account`). With it, the caller must be in the
//! management account of an organization with all features and trusted access for
//! `account.amazonaws.com` enabled, or in a member account registered as delegated
//! administrator for `account.amazonaws.com`, and `AccountId` must name another member account
//! of that organization (resource
//! `arn:aws:account::<management>:account/<organization>/<member>`); the management account
//! cannot name itself. Order: input, IAM authorization (`account:<Operation>` on that ARN),
//! the organization checks, then the store. See `docs/ACCOUNT.md`.

mod contacts;
pub mod input;

#[cfg(test)]
mod tests;

use serde_json::Value;
use tessera_wire::{AwsError, WireResponse};

use crate::authz::AuthzRequest;
use crate::organizations::{is_delegated_administrator, trusted_access_enabled};
use crate::{internal, model, Call, Services};

/// The service principal of AWS Account Management (trusted access, delegated administrators).
pub const SERVICE_PRINCIPAL: &str = "account.amazonaws.com";

/// Run an Account operation.
pub fn handle(services: &Services, call: &Call, input: &Value) -> Result<WireResponse, AwsError> {
    let s = services;
    let out = match call.operation.as_str() {
        "GetContactInformation" => contacts::get_contact_information(s, call, input),
        "PutContactInformation" => contacts::put_contact_information(s, call, input),
        "GetAlternateContact" => contacts::get_alternate_contact(s, call, input),
        "PutAlternateContact" => contacts::put_alternate_contact(s, call, input),
        "DeleteAlternateContact" => contacts::delete_alternate_contact(s, call, input),
        op => Err(AwsError::not_implemented("account", op)),
    }?;
    Ok(WireResponse::rest_json(&out, &call.meta.request_id))
}

/// `AccessDeniedException` (403).
pub(crate) fn access_denied(message: impl Into<String>) -> AwsError {
    AwsError::new(403, "AccessDeniedException", message)
}

/// The account an operation acts on, and its resource ARN.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The 12-digit account id.
    pub account: String,
    /// `arn:aws:account::<account>:account` or `arn:aws:account::<mgmt>:account/<org>/<member>`.
    pub arn: String,
    /// The caller's organization when `AccountId` was given (the organization checks apply).
    pub organization: Option<model::Organization>,
}

/// The target of a call from its (already validated) `AccountId`.
fn target(services: &Services, call: &Call, account_id: Option<&str>) -> Result<Target, AwsError> {
    let own = &call.caller.account;
    let Some(id) = account_id else {
        return Ok(Target { account: own.clone(), arn: format!("arn:aws:account::{own}:account"), organization: None });
    };
    let r = services.store.read().map_err(internal)?;
    let org_id = model::load::<model::Account>(&*r, model::table::ACCOUNT, own)
        .map_err(internal)?
        .and_then(|a| a.organization_id);
    let org: Option<model::Organization> = match org_id {
        Some(o) => model::load(&*r, model::table::ORGANIZATION, &o).map_err(internal)?,
        None => None,
    };
    let Some(org) = org else {
        return Err(access_denied(
            "The AccountId parameter can be used only by the management account or a delegated administrator of an organization.",
        ));
    };
    if id == own && *own == org.management_account {
        return Err(input::invalid_field(
            "AccountId",
            "The management account can't specify its own AccountId; call the operation without it.",
        ));
    }
    Ok(Target {
        account: id.to_string(),
        arn: format!("arn:aws:account::{}:account/{}/{id}", org.management_account, org.id),
        organization: Some(org),
    })
}

/// Authorize `action` on the target, then (for a member account named by `AccountId`) check
/// the organization: trusted access for Account Management, a management-account or
/// delegated-administrator caller, a target that is another member of the same organization.
fn authorize(
    services: &Services,
    call: &Call,
    action: &str,
    account_id: Option<&str>,
    context: Vec<(String, Vec<String>)>,
) -> Result<Target, AwsError> {
    let target = target(services, call, account_id)?;
    services
        .authorize_request(call, &AuthzRequest { action, resource: &target.arn, context, ..Default::default() })
        .map_err(
            |e| if e.code == "AccessDenied" { AwsError { code: "AccessDeniedException".into(), ..e } } else { e },
        )?;
    let Some(org) = &target.organization else { return Ok(target) };
    let own = &call.caller.account;
    let r = services.store.read().map_err(internal)?;
    let delegated = is_delegated_administrator(&*r, own, SERVICE_PRINCIPAL)?;
    if *own != org.management_account && !delegated {
        return Err(access_denied(
            "The AccountId parameter can be used only by the management account or a delegated administrator for account.amazonaws.com.",
        ));
    }
    if !trusted_access_enabled(&*r, own, SERVICE_PRINCIPAL)? {
        return Err(access_denied(
            "Trusted access for AWS Account Management (account.amazonaws.com) is not enabled for your organization.",
        ));
    }
    let member = model::load::<model::Account>(&*r, model::table::ACCOUNT, &target.account)
        .map_err(internal)?
        .is_some_and(|a| a.organization_id.as_deref() == Some(org.id.as_str()));
    if !member || target.account == org.management_account || target.account == *own {
        return Err(access_denied(format!(
            "Account {} is not a member account of your organization that you can manage.",
            target.account
        )));
    }
    Ok(target)
}
