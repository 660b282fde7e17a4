//! Centralized root access for member accounts (IAM User Guide, "Centrally manage root access
//! for member accounts", `id_root-user.html#id_root-user-access-management`):
//! `ListOrganizationsFeatures`, `EnableOrganizationsRootCredentialsManagement`,
//! `DisableOrganizationsRootCredentialsManagement`, `EnableOrganizationsRootSessions` and
//! `DisableOrganizationsRootSessions`.
//!
//! The enabled features of an organization live in table [`ROOT_ACCESS_TABLE`], keyed by the
//! organization id. Every operation needs an organization in all-features mode with trusted
//! access for `iam.amazonaws.com` (`EnableAWSServiceAccess`); the enable operations run only in
//! the management account (`CallerIsNotManagementAccountException` for IAM's delegated
//! administrator), the others in the management account or IAM's delegated administrator.
//! `sts:AssumeRoot` reads [`root_sessions_enabled`]. See `docs/ROOT_ACCESS.md`.

use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, WriteTxn};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{Cx, StoreResultExt};
use crate::model::{self, Organization};
use crate::organizations::org_of;

/// IAM's service principal, for trusted access and delegated administration.
pub const IAM_PRINCIPAL: &str = "iam.amazonaws.com";

/// Table of the organizations' centralized root access features: organization id →
/// [`RootAccessFeatures`].
pub const ROOT_ACCESS_TABLE: &str = "iam_org_root_access";

/// The centralized root access features enabled in one organization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootAccessFeatures {
    /// `RootCredentialsManagement`.
    #[serde(default)]
    pub credentials_management: bool,
    /// `RootSessions`.
    #[serde(default)]
    pub sessions: bool,
    /// `OrganizationIamResources` (`EnableOrganizationLevelResources`): organization-scoped
    /// workload identity providers and templates.
    #[serde(default)]
    pub organization_resources: bool,
}

/// Which feature an operation switches.
#[derive(Debug, Clone, Copy)]
enum Feature {
    CredentialsManagement,
    Sessions,
    OrganizationResources,
}

fn load_features<R: ReadTxn + ?Sized>(r: &R, org_id: &str) -> Result<RootAccessFeatures, AwsError> {
    Ok(model::load(r, ROOT_ACCESS_TABLE, org_id).st()?.unwrap_or_default())
}

/// Whether `OrganizationIamResources` is enabled in organization `org_id` (organization-scoped
/// workload identity providers and templates).
pub fn organization_resources_enabled<R: ReadTxn + ?Sized>(r: &R, org_id: &str) -> Result<bool, AwsError> {
    Ok(load_features(r, org_id)?.organization_resources)
}

/// Whether `RootSessions` is enabled in organization `org_id` (`sts:AssumeRoot`).
pub fn root_sessions_enabled<R: ReadTxn + ?Sized>(r: &R, org_id: &str) -> Result<bool, AwsError> {
    Ok(load_features(r, org_id)?.sessions)
}

/// The caller's organization, checked as AWS checks it for these operations (API reference of
/// each: `OrganizationNotFoundException`, `OrganizationNotInAllFeaturesModeException`,
/// `AccountNotManagementOrDelegatedAdministratorException`, `CallerIsNotManagementAccountException`
/// when `management_only`, `ServiceAccessNotEnabledException`).
fn checked_org<R: ReadTxn + ?Sized>(cx: &Cx<'_>, read: &R, management_only: bool) -> Result<Organization, AwsError> {
    checked_org_for(cx, read, management_only, false)
}

/// [`checked_org`]; `strict`: only the management account, any other account (a delegated
/// administrator too) is `CallerIsNotManagementAccountException` (the organization-level
/// resources operations, whose errors have no `AccountNotManagementOrDelegatedAdministrator`).
fn checked_org_for<R: ReadTxn + ?Sized>(
    cx: &Cx<'_>,
    read: &R,
    management_only: bool,
    strict: bool,
) -> Result<Organization, AwsError> {
    let org = org_of(read, cx.account())?.ok_or_else(|| {
        AwsError::new(400, "OrganizationNotFoundException", "No organization is associated with your account.")
    })?;
    if org.feature_set != "ALL" {
        return Err(AwsError::new(
            400,
            "OrganizationNotInAllFeaturesModeException",
            "The organization does not have all features enabled.",
        ));
    }
    if org.management_account != cx.account() && strict {
        return Err(AwsError::new(
            400,
            "CallerIsNotManagementAccountException",
            "The account making the request is not the management account for the organization.",
        ));
    }
    if org.management_account != cx.account() {
        let delegated = crate::organizations::is_delegated_administrator(read, cx.account(), IAM_PRINCIPAL)?;
        if !delegated {
            return Err(AwsError::new(
                400,
                "AccountNotManagementOrDelegatedAdministratorException",
                "The account is not the management account or a delegated administrator of the organization.",
            ));
        }
        if management_only {
            return Err(AwsError::new(
                400,
                "CallerIsNotManagementAccountException",
                "The account making the request is not the management account for the organization.",
            ));
        }
    }
    // API_ListOrganizationsFeatures.html: "ServiceAccessNotEnabled ... trusted access is not
    // enabled for IAM in AWS Organizations".
    if !crate::organizations::trusted_access_enabled(read, cx.account(), IAM_PRINCIPAL)? {
        return Err(AwsError::new(
            400,
            "ServiceAccessNotEnabledException",
            "The request was rejected because trusted access is not enabled for IAM in Organizations.",
        ));
    }
    Ok(org)
}

fn respond(cx: &Cx<'_>, org: &Organization, features: RootAccessFeatures) -> WireResponse {
    let mut w = XmlWriter::fragment();
    w.elem("OrganizationId", &org.id);
    w.open("EnabledFeatures", None);
    if features.credentials_management {
        w.elem("member", "RootCredentialsManagement");
    }
    if features.sessions {
        w.elem("member", "RootSessions");
    }
    if features.organization_resources {
        w.elem("member", "OrganizationIamResources");
    }
    w.close();
    cx.respond(Some(w.finish()))
}

/// `ListOrganizationsFeatures`.
pub(crate) fn list_organizations_features(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.authorize("iam:ListOrganizationsFeatures", "*", Vec::new())?;
    let read = cx.read()?;
    let org = checked_org(cx, read.as_ref(), false)?;
    let features = load_features(read.as_ref(), &org.id)?;
    Ok(respond(cx, &org, features))
}

/// `EnableOrganizationsRootCredentialsManagement`, `EnableOrganizationsRootSessions` and the
/// two `Disable...` operations: idempotent, as AWS's are (enabling an enabled feature answers
/// the same list).
fn switch(
    cx: &Cx<'_>,
    action: &str,
    feature: Feature,
    on: bool,
    resources_exist: OrganizationResourcesExist,
) -> Result<WireResponse, AwsError> {
    cx.authorize(action, "*", Vec::new())?;
    let (org, features) = cx.write(|txn| {
        let strict = matches!(feature, Feature::OrganizationResources);
        let org = checked_org_for(cx, &*txn, on, strict)?;
        let mut features = load_features(&*txn, &org.id)?;
        match feature {
            Feature::CredentialsManagement => features.credentials_management = on,
            Feature::Sessions => features.sessions = on,
            Feature::OrganizationResources => {
                // API_DisableOrganizationLevelResources.html: refused while any
                // organization-level resource (provider or template) exists.
                if !on && resources_exist(&*txn, &org.id)? {
                    return Err(AwsError::new(
                        400,
                        "OrganizationLevelResourcesExistException",
                        "The request was rejected because your organization still has organization-level resources. Delete them before you disable organization-level resources for your organization.",
                    ));
                }
                features.organization_resources = on;
            }
        }
        model::save(txn, ROOT_ACCESS_TABLE, &org.id, &features).st()?;
        Ok((org, features))
    })?;
    Ok(respond(cx, &org, features))
}

/// `EnableOrganizationsRootCredentialsManagement`.
pub(crate) fn enable_root_credentials_management(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    switch(cx, "iam:EnableOrganizationsRootCredentialsManagement", Feature::CredentialsManagement, true, no_resources)
}

/// `DisableOrganizationsRootCredentialsManagement`.
pub(crate) fn disable_root_credentials_management(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    switch(cx, "iam:DisableOrganizationsRootCredentialsManagement", Feature::CredentialsManagement, false, no_resources)
}

/// `EnableOrganizationsRootSessions`.
pub(crate) fn enable_root_sessions(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    switch(cx, "iam:EnableOrganizationsRootSessions", Feature::Sessions, true, no_resources)
}

/// `DisableOrganizationsRootSessions`.
pub(crate) fn disable_root_sessions(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    switch(cx, "iam:DisableOrganizationsRootSessions", Feature::Sessions, false, no_resources)
}

/// Whether an organization (the second argument, its id) owns organization-level resources:
/// asked by `DisableOrganizationLevelResources`, whose caller (the workload identity family in
/// `tessera-iam-workload`, which owns those resources) passes it in.
pub type OrganizationResourcesExist = fn(&dyn WriteTxn, &str) -> Result<bool, AwsError>;

/// For the switches that never disable organization-level resources.
fn no_resources(_: &dyn WriteTxn, _: &str) -> Result<bool, AwsError> {
    Ok(false)
}

/// `EnableOrganizationLevelResources` (management account only; all features; trusted access
/// for IAM): idempotent.
pub fn enable_organization_level_resources(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    switch(cx, "iam:EnableOrganizationLevelResources", Feature::OrganizationResources, true, no_resources)
}

/// `DisableOrganizationLevelResources`: `OrganizationLevelResourcesExistException` while the
/// organization owns a provider or template (`resources_exist` tells).
pub fn disable_organization_level_resources(
    cx: &Cx<'_>,
    resources_exist: OrganizationResourcesExist,
) -> Result<WireResponse, AwsError> {
    switch(cx, "iam:DisableOrganizationLevelResources", Feature::OrganizationResources, false, resources_exist)
}
