//! IAM's newer feature families (query protocol), over `tessera-iam`: workload identity
//! (`workload_identity*.rs`), the role manager (`role_manager.rs` over the role templates of
//! `role_templates.rs` and the account properties of `account_properties.rs`), outbound web
//! identity federation (`outbound_federation.rs`, `outbound_keys.rs`) and delegation requests
//! (`delegation_requests*.rs`). They use `tessera-iam`'s request context, tags and checks; IAM
//! itself does not call into them. `tessera-services` routes their operations here first
//! ([`handle`]) and re-exports these modules under `tessera_services::iam`.

pub mod account_properties;
pub mod delegation_requests;
pub mod outbound_federation;
pub mod outbound_keys;
pub mod role_manager;
pub mod role_templates;
pub mod workload_identity;

use tessera_wire::{AwsError, QueryParams, WireResponse};

// The paths these files had inside `tessera-iam` (`super::entities`, `crate::model`, ...).
pub(crate) use tessera_core::org as organizations;
pub(crate) use tessera_core::{authz, caller, clock, ids, internal, model, validate};
pub(crate) use tessera_core::{Call, Services};
pub(crate) use tessera_iam::{credentials, entities, org_features, roles};

use entities::Cx;

/// Run the operation if it belongs to one of this crate's families; `None` for every other IAM
/// operation (`tessera_iam::handle` answers those).
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Option<Result<WireResponse, AwsError>> {
    let cx = Cx { services, call, params };
    match call.operation.as_str() {
        "EnableOutboundWebIdentityFederation" => return Some(outbound_federation::enable(&cx)),
        "DisableOutboundWebIdentityFederation" => return Some(outbound_federation::disable(&cx)),
        "GetOutboundWebIdentityFederationInfo" => return Some(outbound_federation::get_info(&cx)),
        _ => {}
    }
    workload_identity::handle(services, call, params)
        .or_else(|| delegation_requests::handle(&cx))
        .or_else(|| role_manager::handle(&cx))
}

/// Run any IAM operation: this crate's if it owns it, else `tessera_iam::handle`'s (the
/// dispatcher's `tessera_services::iam::handle`).
pub fn handle_iam(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    handle(services, call, params).unwrap_or_else(|| tessera_iam::handle(services, call, params))
}

#[cfg(test)]
pub(crate) mod iam {
    //! IAM as the dispatcher serves it, for the tests (`crate::iam::handle`).
    pub use super::handle_iam as handle;
}
