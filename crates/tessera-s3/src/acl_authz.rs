//! ACL grants taking part in authorization (S3 User Guide, how-s3-evaluates-access-control.html
//! and acl-overview.html, "Mapping of ACL permissions and access policy permissions"). Only on
//! buckets with ACLs enabled: the bucket's ACL for bucket operations (and WRITE for writing
//! objects), the object's ACL for object operations. The grants that apply to the caller are
//! translated into Allow statements added to the bucket policy the policy engine evaluates, so
//! explicit denies, SCPs, RCPs and permissions boundaries still apply as for any policy grant:
//! - a grant to a canonical user acts like a grant to `arn:aws:iam::ACCOUNT:root` (the account's
//!   IAM identities still need their own identity policy);
//! - `AllUsers` acts like `"Principal": "*"`, anonymous callers included;
//! - `AuthenticatedUsers` acts like `"Principal": "*"` for signed requests only;
//! - under IgnorePublicAcls both groups are ignored (access-control-block-public-access.html).

use serde_json::{json, Value};
use tessera_store::ReadTxn;

use crate::acl::{self, ALL_USERS, AUTHENTICATED_USERS};
use crate::config::{kind, read_config};
use crate::ops::{load, store_err, Backend};
use crate::records::{self, canonical_user_id, table, AclGrant, BucketRecord, ObjectRecord};
use s3s::dto::AccessControlPolicy;
use s3s::S3Result;

/// What an ACL is attached to.
#[derive(Debug, Clone, Copy)]
pub enum AclResource<'a> {
    /// The bucket named.
    Bucket(&'a str),
    /// An object: bucket and key.
    Object(&'a str, &'a str),
}

/// Who is asking, as far as ACL grantees go.
#[derive(Debug, Clone, Copy)]
pub struct AclCaller<'a> {
    /// The caller's account; `None` for an anonymous request.
    pub account: Option<&'a str>,
    /// The bucket owner's account: its own grants add nothing to what its IAM policies allow.
    pub bucket_owner: &'a str,
    /// IgnorePublicAcls is in force.
    pub ignore_public_acls: bool,
}

/// The actions a permission gives on a bucket, and the resource they are on (acl-overview.html,
/// "Mapping of ACL permissions and access policy permissions").
pub(crate) fn bucket_actions(permission: &str, bucket: &str) -> Vec<(&'static [&'static str], String)> {
    let arn = format!("arn:aws:s3:::{bucket}");
    let read: &[&str] = &["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"];
    let write: &[&str] = &["s3:PutObject", "s3:DeleteObject"];
    let read_acp: &[&str] = &["s3:GetBucketAcl"];
    let write_acp: &[&str] = &["s3:PutBucketAcl"];
    match permission {
        "READ" => vec![(read, arn)],
        "WRITE" => vec![(write, format!("{arn}/*"))],
        "READ_ACP" => vec![(read_acp, arn)],
        "WRITE_ACP" => vec![(write_acp, arn)],
        "FULL_CONTROL" => {
            vec![(read, arn.clone()), (write, format!("{arn}/*")), (read_acp, arn.clone()), (write_acp, arn)]
        }
        _ => vec![],
    }
}

/// The actions a permission gives on an object (WRITE is not applicable to objects).
fn object_actions(permission: &str) -> Vec<&'static str> {
    let read = ["s3:GetObject", "s3:GetObjectVersion"];
    let read_acp = ["s3:GetObjectAcl", "s3:GetObjectVersionAcl"];
    let write_acp = ["s3:PutObjectAcl", "s3:PutObjectVersionAcl"];
    match permission {
        "READ" => read.to_vec(),
        "READ_ACP" => read_acp.to_vec(),
        "WRITE_ACP" => write_acp.to_vec(),
        "FULL_CONTROL" => [read, read_acp, write_acp].concat(),
        _ => vec![],
    }
}

/// The policy principal a grant stands for, for this caller; `None` when it does not apply.
fn principal(grant: &AclGrant, caller: &AclCaller<'_>) -> Option<Value> {
    match (&grant.uri, &grant.id, caller.account) {
        (Some(uri), _, _) if caller.ignore_public_acls && (uri == ALL_USERS || uri == AUTHENTICATED_USERS) => None,
        (Some(uri), _, _) if uri == ALL_USERS => Some(json!("*")),
        (Some(uri), _, Some(_)) if uri == AUTHENTICATED_USERS => Some(json!("*")),
        (None, Some(id), Some(account)) if account != caller.bucket_owner && *id == canonical_user_id(account) => {
            Some(json!({ "AWS": format!("arn:aws:iam::{account}:root") }))
        }
        _ => None,
    }
}

/// The Allow statements that `grants` on `on` amount to for `caller`. Pure.
pub fn grant_statements(grants: &[AclGrant], on: AclResource<'_>, caller: &AclCaller<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for g in grants {
        let Some(principal) = principal(g, caller) else { continue };
        let pieces: Vec<(Vec<&str>, String)> = match on {
            AclResource::Bucket(bucket) => {
                bucket_actions(&g.permission, bucket).into_iter().map(|(a, r)| (a.to_vec(), r)).collect()
            }
            AclResource::Object(bucket, key) => {
                let actions = object_actions(&g.permission);
                if actions.is_empty() {
                    vec![]
                } else {
                    vec![(actions, format!("arn:aws:s3:::{bucket}/{key}"))]
                }
            }
        };
        for (actions, resource) in pieces {
            out.push(json!({
                "Effect": "Allow",
                "Principal": principal.clone(),
                "Action": actions,
                "Resource": resource,
            }));
        }
    }
    out
}

/// `policy` with `extra` statements added (a new policy when there is none). A policy that does
/// not parse is returned as it is.
pub fn merge_statements(policy: Option<&str>, extra: Vec<Value>) -> Option<String> {
    if extra.is_empty() {
        return policy.map(str::to_string);
    }
    let Some(text) = policy else {
        return Some(json!({ "Version": "2012-10-17", "Statement": extra }).to_string());
    };
    let Ok(Value::Object(mut doc)) = serde_json::from_str::<Value>(text) else { return Some(text.to_string()) };
    let mut statements = match doc.remove("Statement") {
        Some(Value::Array(v)) => v,
        Some(one) => vec![one],
        None => vec![],
    };
    statements.extend(extra);
    doc.insert("Statement".into(), Value::Array(statements));
    Some(Value::Object(doc).to_string())
}

impl Backend {
    /// The resource policy that takes part in authorizing a request on `resource` of `bucket`:
    /// the bucket policy (see [`Backend::policy_for`]) plus, with ACLs enabled, the applicable
    /// ACL grants as Allow statements. `caller_account` is `None` for an anonymous request.
    pub(crate) fn resource_policy(
        &self,
        caller_account: Option<&str>,
        bucket: &BucketRecord,
        resource: &str,
    ) -> S3Result<Option<String>> {
        let policy = self.policy_for(caller_account.unwrap_or(""), bucket)?;
        if bucket.acls_disabled() {
            return Ok(policy.map(str::to_string));
        }
        let caller = AclCaller {
            account: caller_account,
            bucket_owner: &bucket.owner,
            ignore_public_acls: self.effective_public_access(bucket)?.ignore_public_acls,
        };
        let r = self.services.store.read().map_err(store_err)?;
        let bucket_acl: Option<AccessControlPolicy> = read_config(r.as_ref(), &bucket.name, kind::ACL)?;
        let bucket_grants = match bucket_acl {
            Some(p) => acl::to_stored(p.grants.as_deref().unwrap_or(&[])),
            None => owner_grants(&bucket.owner),
        };
        let mut extra = grant_statements(&bucket_grants, AclResource::Bucket(&bucket.name), &caller);
        if let Some(key) = resource.strip_prefix(&format!("{}/", bucket.arn())) {
            let object = object_grants(r.as_ref(), &bucket.name, key)?;
            extra.extend(grant_statements(&object, AclResource::Object(&bucket.name, key), &caller));
        }
        Ok(merge_statements(policy, extra))
    }
}

/// The default ACL: the owner's FULL_CONTROL.
fn owner_grants(owner: &str) -> Vec<AclGrant> {
    vec![AclGrant { id: Some(canonical_user_id(owner)), uri: None, permission: "FULL_CONTROL".into() }]
}

/// The stored object's grants (none when there is no such object).
fn object_grants(r: &dyn ReadTxn, bucket: &str, key: &str) -> S3Result<Vec<AclGrant>> {
    let o: Option<ObjectRecord> = load(r, table::OBJECT, &records::object_key(bucket, key))?;
    Ok(match o {
        Some(ObjectRecord { acl: Some(grants), .. }) => grants,
        Some(o) => owner_grants(&o.owner),
        None => vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "111111111111";
    const OTHER: &str = "222222222222";

    fn to_account(permission: &str, account: &str) -> AclGrant {
        AclGrant { id: Some(canonical_user_id(account)), uri: None, permission: permission.into() }
    }

    fn to_group(permission: &str, uri: &str) -> AclGrant {
        AclGrant { id: None, uri: Some(uri.into()), permission: permission.into() }
    }

    fn caller(account: Option<&str>) -> AclCaller<'_> {
        AclCaller { account, bucket_owner: OWNER, ignore_public_acls: false }
    }

    /// (principal, actions, resource) of each statement.
    fn summary(statements: &[Value]) -> Vec<(Value, Vec<String>, String)> {
        statements
            .iter()
            .map(|s| {
                let actions = s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
                (s["Principal"].clone(), actions, s["Resource"].as_str().unwrap().to_string())
            })
            .collect()
    }

    fn actions(statements: &[Value]) -> Vec<String> {
        summary(statements).into_iter().flat_map(|(_, a, _)| a).collect()
    }

    #[test]
    fn read_on_a_bucket_allows_list_bucket_list_bucket_versions_list_bucket_multipart_uploads() {
        let s = grant_statements(&[to_account("READ", OTHER)], AclResource::Bucket("b"), &caller(Some(OTHER)));
        assert_eq!(
            summary(&s),
            vec![(
                json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}),
                vec!["s3:ListBucket".into(), "s3:ListBucketVersions".into(), "s3:ListBucketMultipartUploads".into()],
                "arn:aws:s3:::b".into()
            )]
        );
    }

    #[test]
    fn read_on_an_object_allows_get_object_get_object_version() {
        let s = grant_statements(&[to_account("READ", OTHER)], AclResource::Object("b", "k"), &caller(Some(OTHER)));
        assert_eq!(summary(&s)[0].1, vec!["s3:GetObject", "s3:GetObjectVersion"]);
        assert_eq!(summary(&s)[0].2, "arn:aws:s3:::b/k");
    }

    #[test]
    fn write_on_a_bucket_allows_put_object_delete_object_on_its_objects() {
        let s = grant_statements(&[to_account("WRITE", OTHER)], AclResource::Bucket("b"), &caller(Some(OTHER)));
        assert_eq!(summary(&s)[0].1, vec!["s3:PutObject", "s3:DeleteObject"]);
        assert_eq!(summary(&s)[0].2, "arn:aws:s3:::b/*");
    }

    #[test]
    fn write_on_an_object_is_not_applicable() {
        let s = grant_statements(&[to_account("WRITE", OTHER)], AclResource::Object("b", "k"), &caller(Some(OTHER)));
        assert!(s.is_empty());
    }

    #[test]
    fn read_acp_allows_get_bucket_acl_and_get_object_acl() {
        let c = caller(Some(OTHER));
        let g = [to_account("READ_ACP", OTHER)];
        assert_eq!(actions(&grant_statements(&g, AclResource::Bucket("b"), &c)), vec!["s3:GetBucketAcl"]);
        assert_eq!(
            actions(&grant_statements(&g, AclResource::Object("b", "k"), &c)),
            vec!["s3:GetObjectAcl", "s3:GetObjectVersionAcl"]
        );
    }

    #[test]
    fn write_acp_allows_put_bucket_acl_and_put_object_acl() {
        let c = caller(Some(OTHER));
        let g = [to_account("WRITE_ACP", OTHER)];
        assert_eq!(actions(&grant_statements(&g, AclResource::Bucket("b"), &c)), vec!["s3:PutBucketAcl"]);
        assert_eq!(
            actions(&grant_statements(&g, AclResource::Object("b", "k"), &c)),
            vec!["s3:PutObjectAcl", "s3:PutObjectVersionAcl"]
        );
    }

    #[test]
    fn full_control_allows_all_of_them() {
        let c = caller(Some(OTHER));
        let g = [to_account("FULL_CONTROL", OTHER)];
        assert_eq!(
            actions(&grant_statements(&g, AclResource::Bucket("b"), &c)),
            vec![
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:ListBucketMultipartUploads",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:GetBucketAcl",
                "s3:PutBucketAcl"
            ]
        );
        assert_eq!(
            actions(&grant_statements(&g, AclResource::Object("b", "k"), &c)),
            vec![
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:GetObjectAcl",
                "s3:GetObjectVersionAcl",
                "s3:PutObjectAcl",
                "s3:PutObjectVersionAcl"
            ]
        );
    }

    #[test]
    fn a_canonical_user_grant_applies_only_to_that_account_and_not_to_the_bucket_owner() {
        let g = [to_account("READ", OTHER), to_account("FULL_CONTROL", OWNER)];
        let on = AclResource::Object("b", "k");
        assert_eq!(grant_statements(&g, on, &caller(Some(OTHER))).len(), 1);
        assert!(grant_statements(&g, on, &caller(Some(OWNER))).is_empty());
        assert!(grant_statements(&g, on, &caller(Some("333333333333"))).is_empty());
        assert!(grant_statements(&g, on, &caller(None)).is_empty());
    }

    #[test]
    fn all_users_is_everyone_and_authenticated_users_only_signed_requests() {
        let on = AclResource::Object("b", "k");
        let all = [to_group("READ", ALL_USERS)];
        let authenticated = [to_group("READ", AUTHENTICATED_USERS)];
        assert_eq!(summary(&grant_statements(&all, on, &caller(None)))[0].0, json!("*"));
        assert_eq!(grant_statements(&all, on, &caller(Some(OTHER))).len(), 1);
        assert!(grant_statements(&authenticated, on, &caller(None)).is_empty());
        assert_eq!(summary(&grant_statements(&authenticated, on, &caller(Some(OTHER))))[0].0, json!("*"));
    }

    #[test]
    fn ignore_public_acls_ignores_all_users_and_authenticated_users() {
        let on = AclResource::Object("b", "k");
        let c = AclCaller { account: Some(OTHER), bucket_owner: OWNER, ignore_public_acls: true };
        let g = [to_group("READ", ALL_USERS), to_group("READ", AUTHENTICATED_USERS), to_account("READ", OTHER)];
        let s = grant_statements(&g, on, &c);
        assert_eq!(s.len(), 1);
        assert_eq!(summary(&s)[0].0, json!({"AWS": format!("arn:aws:iam::{OTHER}:root")}));
    }

    #[test]
    fn grants_are_merged_into_the_bucket_policy() {
        let extra = grant_statements(&[to_group("READ", ALL_USERS)], AclResource::Bucket("b"), &caller(None));
        assert_eq!(merge_statements(None, vec![]), None);
        let fresh: Value = serde_json::from_str(&merge_statements(None, extra.clone()).unwrap()).unwrap();
        assert_eq!(fresh["Statement"].as_array().unwrap().len(), 1);
        let policy =
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
        let merged: Value = serde_json::from_str(&merge_statements(Some(policy), extra).unwrap()).unwrap();
        let statements = merged["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Effect"], "Deny");
        assert_eq!(statements[1]["Effect"], "Allow");
    }
}
