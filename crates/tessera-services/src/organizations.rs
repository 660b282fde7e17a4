//! AWS Organizations.

use tessera_wire::{AwsError, WireResponse};

use crate::{Call, Services};

/// Run an Organizations operation.
pub fn handle(services: &Services, call: &Call, input: &serde_json::Value) -> Result<WireResponse, AwsError> {
    let _ = (services, input);
    Err(AwsError::not_implemented("organizations", &call.operation))
}
