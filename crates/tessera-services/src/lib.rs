//! Tessera's AWS services over the `Store`.
//!
//! The server hands each request here after authenticating it. The flow is always
//! authenticate ([`Services::credentials`]) → authorize ([`Services::authorize`], inside each
//! operation, before it touches state) → operate (one store transaction) → respond.
//!
//! The services live in crates of their own over `tessera-core` (which holds [`Services`], the
//! caller, records, authorization and first start): `tessera-iam` (with its newer feature
//! families in `tessera-iam-workload`), `tessera-sts`,
//! `tessera-organizations` (with the Account service), `tessera-ec2` (with IMDS),
//! `tessera-cloudtrail` and `tessera-pca` (AWS Private CA). This crate dispatches a request to
//! them ([`Dispatch::handle`]) and re-exports them under the paths they had when they were one
//! crate.

use tessera_wire::{AwsError, Protocol, WireResponse};

pub use tessera_cloudtrail as cloudtrail;
pub use tessera_core::{access_record, authz, bootstrap, cache, caller, clock, ids, managed, model, validate};
pub use tessera_core::{internal, Config, Input, ServiceName, Services};
pub use tessera_core::{Call, CallMeta, Caller, CallerKind, Clock, SessionInfo, SystemClock};
pub use tessera_ec2 as ec2;
pub use tessera_ec2::imds;
pub use tessera_organizations as organizations;
pub use tessera_organizations::account;
pub use tessera_pca as pca;
pub use tessera_sts as sts;

/// IAM as it was in one crate: `tessera-iam` and the families of `tessera-iam-workload`
/// (workload identity, role manager, outbound federation, delegation requests) under one path.
pub mod iam {
    pub use tessera_iam::*;
    pub use tessera_iam_workload::{
        account_properties, delegation_requests, outbound_federation, outbound_keys, role_manager, role_templates,
        workload_identity,
    };

    /// Run an IAM operation: `tessera-iam-workload`'s if it owns it, else `tessera-iam`'s.
    pub use tessera_iam_workload::handle_iam as handle;
}

/// What [`Services`] does above the service crates: run an operation of any service, and note
/// the use of the access key that signed it. `use tessera_services::Dispatch` to call them.
pub trait Dispatch {
    /// Run one operation of `service`.
    fn handle(&self, service: ServiceName, call: &Call, input: &Input) -> Result<WireResponse, AwsError>;

    /// Note that the long-term access key of `call` signed a request to `service`, for
    /// `GetAccessKeyLastUsed`: written to the store at most once per key, service and region
    /// per [`iam::credentials::access_keys::LAST_USED_GRANULARITY_SECS`].
    fn note_access_key_use(&self, call: &Call, service: ServiceName);
}

/// An AWS Private CA operation: its JSON answer in the request's protocol (CBOR for a CBOR
/// request, JSON 1.1 otherwise; an operation without output answers `{}` in JSON 1.1 and an
/// empty body in CBOR).
fn private_ca(services: &Services, call: &Call, input: &Input) -> Result<WireResponse, AwsError> {
    sts::check_session_scope(&call.caller, ServiceName::PrivateCa, &call.operation)?;
    let answer = tessera_pca::handle(services, call, input.json()?)?;
    let request_id = &call.meta.request_id;
    Ok(match input {
        Input::Cbor(_) => WireResponse::cbor(&answer, tessera_pca::TIMESTAMP_MEMBERS, request_id),
        _ if answer.is_null() => WireResponse::json(&serde_json::json!({}), request_id),
        _ => WireResponse::json(&answer, request_id),
    })
}

impl Dispatch for Services {
    fn handle(&self, service: ServiceName, call: &Call, input: &Input) -> Result<WireResponse, AwsError> {
        if !service.operations().contains(&call.operation.as_str()) {
            return Err(match service.protocol() {
                Protocol::Json | Protocol::RpcV2Cbor => AwsError::new(400, "UnknownOperationException", ""),
                Protocol::RestJson => tessera_wire::rest_json::unknown_route("POST", &call.operation),
                _ => AwsError::invalid_action(&call.operation),
            });
        }
        if service == ServiceName::PrivateCa {
            return private_ca(self, call, input).map_err(AwsError::named_for_json);
        }
        sts::check_session_scope(&call.caller, service, &call.operation)?;
        match service {
            ServiceName::Sts => sts::handle(self, call, input.query()?),
            ServiceName::Iam => match call.operation.as_str() {
                // IAM operations that read the organization: beside what they read.
                "GenerateOrganizationsAccessReport" | "GetOrganizationsAccessReport" => {
                    organizations::access_report::handle(self, call, input.query()?)
                }
                _ => iam::handle(self, call, input.query()?),
            },
            ServiceName::Organizations => organizations::handle(self, call, input.json()?),
            ServiceName::CloudTrail => cloudtrail::handle(self, call, input.json()?),
            ServiceName::Ec2 => ec2::handle(self, call, input.query()?),
            ServiceName::Account => account::handle(self, call, input.json()?),
            _ => Err(AwsError::not_implemented(service.signing_name(), &call.operation)),
        }
    }

    fn note_access_key_use(&self, call: &Call, service: ServiceName) {
        let key = &call.caller.access_key_id;
        if !key.starts_with("AKIA") {
            return;
        }
        let now = call.now_secs();
        let svc = service.signing_name();
        let region = &call.meta.region;
        if let Ok(mut seen) = self.caches.key_use.lock() {
            if let Some((at, s, r)) = seen.get(key) {
                if now - at < iam::credentials::access_keys::LAST_USED_GRANULARITY_SECS
                    && *at <= now
                    && s == svc
                    && r == region
                {
                    return;
                }
            }
            if seen.len() >= 65_536 {
                seen.clear();
            }
            seen.insert(key.clone(), (now, svc.to_string(), region.clone()));
        }
        iam::credentials::access_keys::record_access_key_use(self, key, svc, region, now);
    }
}
