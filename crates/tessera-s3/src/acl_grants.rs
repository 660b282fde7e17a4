//! A bucket's ACL grants as readers outside S3 see them (IAM Access Analyzer's findings): each
//! grant with the actions it gives ("Mapping of ACL permissions and access policy permissions").

use s3s::dto::AccessControlPolicy;
use tessera_store::{ReadTxn, StoreError};

pub use crate::acl::{ALL_USERS, AUTHENTICATED_USERS};
use crate::config::{kind, read_config};
use crate::records::{canonical_user_id, AclGrant, BucketRecord};

/// The grants of `bucket`'s ACL (the owner's FULL_CONTROL when none was put), each with the
/// actions it gives. Empty when ACLs are disabled (Object Ownership `BucketOwnerEnforced`).
pub fn bucket_acl_grants(
    r: &(impl ReadTxn + ?Sized),
    bucket: &BucketRecord,
) -> Result<Vec<(AclGrant, Vec<&'static str>)>, StoreError> {
    if bucket.acls_disabled() {
        return Ok(Vec::new());
    }
    let acl: Option<AccessControlPolicy> = read_config(r, &bucket.name, kind::ACL)
        .map_err(|e| StoreError::Backend(format!("reading the ACL of {}: {e:?}", bucket.name)))?;
    let grants = match acl {
        Some(p) => crate::acl::to_stored(p.grants.as_deref().unwrap_or(&[])),
        None => {
            vec![AclGrant { id: Some(canonical_user_id(&bucket.owner)), uri: None, permission: "FULL_CONTROL".into() }]
        }
    };
    Ok(grants
        .into_iter()
        .map(|g| {
            let actions = crate::acl_authz::bucket_actions(&g.permission, &bucket.name)
                .into_iter()
                .flat_map(|(a, _)| a.iter().copied())
                .collect();
            (g, actions)
        })
        .collect())
}
