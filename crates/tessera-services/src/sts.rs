//! AWS STS.

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use crate::{Call, Caller, Services};

/// Run an STS operation.
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let _ = (services, params);
    match call.operation.as_str() {
        "GetCallerIdentity" => Ok(get_caller_identity(call)),
        op => Err(AwsError::not_implemented("sts", op)),
    }
}

/// `GetCallerIdentity`: needs no permission, as on AWS (an explicit deny cannot block it).
fn get_caller_identity(call: &Call) -> WireResponse {
    let mut w = XmlWriter::fragment();
    w.elem("Arn", &call.caller.arn)
        .elem("UserId", &call.caller.user_id)
        .elem("Account", &call.caller.account);
    WireResponse::query(STS_XMLNS, "GetCallerIdentity", Some(&w.finish()), &call.meta.request_id)
}

/// The caller and secret behind temporary credentials (`ASIA...` + session token).
pub fn session_credentials(
    _services: &Services,
    _access_key_id: &str,
    _security_token: Option<&str>,
) -> Result<(Caller, String), AwsError> {
    Err(AwsError::new(403, "InvalidClientTokenId", "The security token included in the request is invalid."))
}
