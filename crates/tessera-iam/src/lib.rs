//! AWS IAM (query protocol). Operations live in submodules by area; each submodule's `handle`
//! answers `None` for operations it does not own.

pub mod credentials;
pub mod entities;
pub mod groups;
pub mod inline;
pub mod instance_profiles;
pub mod last_accessed;
pub mod oidc_context;
pub mod org_features;
pub mod per_user;
pub mod policies;
pub mod policies_granting;
pub mod principal;
pub mod roles;
pub mod root_login;
pub mod saml_xml;
pub mod server_certificates;
pub mod service_credentials;
pub mod service_linked_roles;
pub mod signing_certificates;
pub mod ssh_keys;
pub mod sts_preferences;
pub mod tags;
pub mod users;
pub mod x509;

use tessera_wire::{AwsError, QueryParams, WireResponse};

// The paths these files had inside `tessera-services` (`crate::model`, `crate::iam`, ...).
pub(crate) use crate as iam;
pub(crate) use tessera_core::org as organizations;
#[cfg(test)]
pub(crate) use tessera_core::Caller;
pub(crate) use tessera_core::{
    access_record, authz, bootstrap, caller, clock, ids, internal, managed, model, validate,
};
pub(crate) use tessera_core::{Call, CallerKind, Services};

/// Run an IAM operation.
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    if let Some(result) = entities::handle(services, call, params) {
        return result;
    }
    if let Some(result) = credentials::handle(services, call, params) {
        return result;
    }
    Err(AwsError::not_implemented("iam", &call.operation))
}
