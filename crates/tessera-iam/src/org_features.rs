//! `ListOrganizationsFeatures`: the centralized root access features of the caller's
//! organization (`id_root-user.html#id_root-user-access-management`).
//!
//! Tessera's IAM is always integrated with its Organizations (there is no trusted-access switch
//! to turn on), so `ServiceAccessNotEnabledException` is never returned. The features
//! (`RootCredentialsManagement`, `RootSessions`) are enabled by operations that are not built yet
//! (`EnableOrganizationsRootCredentialsManagement`, `EnableOrganizationsRootSessions` answer
//! `NotImplemented`), so the list is empty.

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::Cx;
use crate::organizations::org_of;

/// `ListOrganizationsFeatures`.
/// IAM's service principal, for trusted access and delegated administration.
const IAM_PRINCIPAL: &str = "iam.amazonaws.com";

pub(crate) fn list_organizations_features(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.authorize("iam:ListOrganizationsFeatures", "*", Vec::new())?;
    let read = cx.read()?;
    let org = org_of(read.as_ref(), cx.account())?.ok_or_else(|| {
        AwsError::new(400, "OrganizationNotFoundException", "No organization is associated with your account.")
    })?;
    if org.feature_set != "ALL" {
        return Err(AwsError::new(
            400,
            "OrganizationNotInAllFeaturesModeException",
            "The organization does not have all features enabled.",
        ));
    }
    let delegated = crate::organizations::is_delegated_administrator(read.as_ref(), cx.account(), IAM_PRINCIPAL)?;
    if org.management_account != cx.account() && !delegated {
        return Err(AwsError::new(
            400,
            "AccountNotManagementOrDelegatedAdministratorException",
            "The account is not the management account or a delegated administrator of the organization.",
        ));
    }
    // API_ListOrganizationsFeatures.html: "ServiceAccessNotEnabled ... trusted access is not
    // enabled for IAM in AWS Organizations".
    if !crate::organizations::trusted_access_enabled(read.as_ref(), cx.account(), IAM_PRINCIPAL)? {
        return Err(AwsError::new(
            400,
            "ServiceAccessNotEnabledException",
            "The request was rejected because trusted access is not enabled for IAM in Organizations.",
        ));
    }
    let mut w = XmlWriter::fragment();
    w.elem("OrganizationId", &org.id);
    w.open("EnabledFeatures", None).close();
    Ok(cx.respond(Some(w.finish())))
}
