//! `CreateGovCloudAccount` (Organizations API reference): AWS creates a pair of accounts, one in
//! the commercial Regions and one in AWS GovCloud (US), and only for a management account that is
//! associated with an account in AWS GovCloud (US-West). Tessera has no GovCloud partition, so no
//! management account is associated with one: after the input checks of `CreateAccount`,
//! authorization and the management-account check, the answer is the one AWS gives such an
//! organization, `ConstraintViolationException` `MASTER_ACCOUNT_NOT_GOVCLOUD_ENABLED`. Nothing is
//! created.

use serde_json::Value;
use tessera_wire::AwsError;

use super::accounts::org_for;
use super::*;

/// The rest of `CreateGovCloudAccount`, once its input passed `CreateAccount`'s checks.
pub(super) fn create_gov_cloud_account(s: &Services, call: &Call, tags: &[Tag]) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:CreateGovCloudAccount", "*", tag_context(tags))?;
    require_management(call, &org, grant)?;
    Err(err(
        "ConstraintViolationException",
        "To complete this operation, the management account must have an associated account in the AWS GovCloud (US-West) Region.",
    )
    .with_reason("MASTER_ACCOUNT_NOT_GOVCLOUD_ENABLED"))
}
