//! Anonymous (unsigned) S3 requests. The caller is the anonymous principal, which only a
//! resource-based policy naming `"Principal": "*"` (or `{"AWS": "*"}`) can allow: no identity
//! policy exists for it (IAM User Guide, `reference_policies_elements_principal.html`,
//! "Anonymous (public) principals"). The bucket owner's RCPs still apply, and under
//! RestrictPublicBuckets a public bucket policy grants nothing to anyone outside the owner's
//! account, anonymous callers included (S3 User Guide, `access-control-block-public-access.html`).
//! On a bucket with ACLs enabled, a grant to `AllUsers` allows too (see [`crate::acl_authz`]).

use s3s::{S3ErrorCode, S3Result};
use tessera_policy::{Principal, PrincipalKind};
use tessera_services::authz::AuthzRequest;
use tessera_services::Call;

use crate::ops::{err, Backend, Ctx};
use crate::records::BucketRecord;
use crate::{s3_error, RequestCtx};

impl Backend {
    /// Authorize `action` on `resource` for an anonymous request; S3's `403 AccessDenied`
    /// (message `Access Denied`) unless the bucket policy allows it.
    pub(crate) fn authorize_anonymous(
        &self,
        cx: &RequestCtx,
        operation: &str,
        action: &str,
        resource: &str,
        bucket: Option<&BucketRecord>,
        context: Ctx,
    ) -> S3Result<()> {
        let denied = || err(S3ErrorCode::AccessDenied, "Access Denied");
        // Account-level calls (ListBuckets, CreateBucket) have no resource policy to allow them.
        let Some(bucket) = bucket else { return Err(denied()) };
        // The anonymous principal belongs to no account: never the owner's.
        // The bucket policy, and the ACL grants to AllUsers (acl_authz.rs).
        let Some(policy) = self.resource_policy(None, bucket, resource)? else { return Err(denied()) };
        let principal = Principal { arn: "*".into(), account: String::new(), kind: PrincipalKind::Anonymous };
        let call = Call {
            caller: tessera_services::sts::unsigned_caller(),
            operation: operation.to_string(),
            meta: cx.meta.clone(),
        };
        let req = AuthzRequest {
            action,
            resource,
            resource_account: Some(&bucket.owner),
            resource_policy: Some(&policy),
            is_trust_policy: false,
            context,
        };
        let decision = self.services.decide_federated(&call, &principal, &req).map_err(|e| s3_error(&e))?;
        if decision.is_allowed() {
            Ok(())
        } else {
            Err(denied())
        }
    }
}
