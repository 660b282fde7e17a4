//! Authorization of every call: the caller's policies, the account's SCPs and the resource's
//! policy, decided by the policy engine.

use tessera_wire::AwsError;

use crate::{Call, Services};

/// What an operation asks permission for.
#[derive(Debug, Clone, Default)]
pub struct AuthzRequest<'a> {
    /// `service:Action`.
    pub action: &'a str,
    /// Resource ARN (`*` where the Service Authorization Reference names none).
    pub resource: &'a str,
    /// Account owning the resource; `None` means the caller's account.
    pub resource_account: Option<&'a str>,
    /// The resource-based policy (trust policy, bucket policy), if the resource has one.
    pub resource_policy: Option<&'a str>,
}

/// AWS's AccessDenied message, without the reason clause.
pub fn denied_message(call: &Call, action: &str, resource: &str) -> String {
    format!(
        "{}: {} is not authorized to perform: {} on resource: {}",
        call.caller.denial_subject(),
        call.caller.arn,
        action,
        resource
    )
}

impl Services {
    /// Authorize `action` on `resource` for the caller of `call`.
    pub fn authorize(&self, call: &Call, action: &str, resource: &str) -> Result<(), AwsError> {
        self.authorize_request(call, &AuthzRequest { action, resource, ..Default::default() })
    }

    /// Authorize a request with a resource account and resource policy.
    pub fn authorize_request(&self, call: &Call, req: &AuthzRequest<'_>) -> Result<(), AwsError> {
        let same_account = req.resource_account.is_none_or(|a| a == call.caller.account);
        // Until the policy engine is wired in: the root user may act in its own account only.
        if call.caller.is_root() && same_account {
            return Ok(());
        }
        Err(AwsError::access_denied(denied_message(call, req.action, req.resource)))
    }
}
