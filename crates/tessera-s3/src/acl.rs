//! Access control lists as S3 takes them (S3 User Guide, acl-overview.html): canned ACLs,
//! `x-amz-grant-*` headers and `AccessControlPolicy` documents, all turned into one list of
//! grants; whether a list is public; and what Object Ownership allows a request to set
//! (about-object-ownership.html). Pure: no state here.

use s3s::dto::*;
use s3s::{S3Error, S3Result};

use crate::config::s3_err;
use crate::records::{canonical_user_id, AclGrant};

/// The `AllUsers` group (anyone, anonymous included).
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The `AuthenticatedUsers` group (any AWS account).
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// The `LogDelivery` group.
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";
/// Most grants in one ACL (acl-overview.html: "up to 100 grants").
pub const MAX_GRANTS: usize = 100;
/// The canned ACL that is allowed even with ACLs disabled.
pub const BUCKET_OWNER_FULL_CONTROL: &str = "bucket-owner-full-control";

/// 400 `AccessControlListNotSupported`: a request sets an ACL on a bucket whose Object
/// Ownership is `BucketOwnerEnforced`.
pub fn acls_not_supported() -> S3Error {
    s3_err("AccessControlListNotSupported", 400, "The bucket does not allow ACLs")
}

/// 400 `InvalidBucketAclWithObjectOwnership` (CreateBucket / PutBucketOwnershipControls).
pub fn invalid_acl_with_ownership() -> S3Error {
    s3_err(
        "InvalidBucketAclWithObjectOwnership",
        400,
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
    )
}

fn grant(grantee: Grantee, permission: &str) -> Grant {
    Grant { grantee: Some(grantee), permission: Some(Permission::from(permission.to_string())) }
}

fn canonical(account: &str) -> Grantee {
    Grantee {
        display_name: None,
        email_address: None,
        id: Some(canonical_user_id(account)),
        type_: Type::from_static(Type::CANONICAL_USER),
        uri: None,
    }
}

fn group(uri: &str) -> Grantee {
    Grantee {
        display_name: None,
        email_address: None,
        id: None,
        type_: Type::from_static(Type::GROUP),
        uri: Some(uri.into()),
    }
}

/// The ACL of a resource owned by `owner` with nothing else granted: owner FULL_CONTROL.
pub fn owner_full_control(owner: &str) -> AccessControlPolicy {
    AccessControlPolicy {
        grants: Some(vec![grant(canonical(owner), Permission::FULL_CONTROL)]),
        owner: Some(Owner { display_name: None, id: Some(canonical_user_id(owner)) }),
    }
}

/// The grants of a canned ACL (acl-overview.html, "Canned ACL"); `bucket_owner` is the
/// bucket's owner for the `bucket-owner-*` ones.
pub fn canned(acl: &str, owner: &str, bucket_owner: &str) -> S3Result<AccessControlPolicy> {
    let mut policy = owner_full_control(owner);
    let extra: Vec<Grant> = match acl {
        "private" => vec![],
        "public-read" => vec![grant(group(ALL_USERS), Permission::READ)],
        "public-read-write" => {
            vec![grant(group(ALL_USERS), Permission::READ), grant(group(ALL_USERS), Permission::WRITE)]
        }
        "authenticated-read" => vec![grant(group(AUTHENTICATED_USERS), Permission::READ)],
        "log-delivery-write" => {
            vec![grant(group(LOG_DELIVERY), Permission::WRITE), grant(group(LOG_DELIVERY), Permission::READ_ACP)]
        }
        "aws-exec-read" => vec![],
        "bucket-owner-read" if owner != bucket_owner => vec![grant(canonical(bucket_owner), Permission::READ)],
        "bucket-owner-full-control" if owner != bucket_owner => {
            vec![grant(canonical(bucket_owner), Permission::FULL_CONTROL)]
        }
        "bucket-owner-read" | "bucket-owner-full-control" => vec![],
        _ => return Err(s3_err("InvalidArgument", 400, "Invalid canned ACL")),
    };
    if let Some(g) = policy.grants.as_mut() {
        g.extend(extra);
    }
    Ok(policy)
}

/// The `x-amz-grant-*` headers of a request, by permission.
#[derive(Debug, Default, Clone)]
pub struct GrantHeaders {
    /// `x-amz-grant-full-control`.
    pub full_control: Option<String>,
    /// `x-amz-grant-read`.
    pub read: Option<String>,
    /// `x-amz-grant-read-acp`.
    pub read_acp: Option<String>,
    /// `x-amz-grant-write`.
    pub write: Option<String>,
    /// `x-amz-grant-write-acp`.
    pub write_acp: Option<String>,
}

impl GrantHeaders {
    /// The grant headers of an object-writing request (objects take no `x-amz-grant-write`).
    pub fn object(
        full_control: Option<&String>,
        read: Option<&String>,
        read_acp: Option<&String>,
        write_acp: Option<&String>,
    ) -> GrantHeaders {
        GrantHeaders {
            full_control: full_control.cloned(),
            read: read.cloned(),
            read_acp: read_acp.cloned(),
            write: None,
            write_acp: write_acp.cloned(),
        }
    }

    /// Whether any header was sent.
    pub fn any(&self) -> bool {
        self.full_control.is_some()
            || self.read.is_some()
            || self.read_acp.is_some()
            || self.write.is_some()
            || self.write_acp.is_some()
    }

    /// The grants the headers name (`id="…"`, `uri="…"`; `emailAddress` is refused, as S3
    /// does outside the regions that still take it).
    pub fn grants(&self) -> S3Result<Vec<Grant>> {
        let mut out = Vec::new();
        for (header, permission) in [
            (&self.full_control, Permission::FULL_CONTROL),
            (&self.read, Permission::READ),
            (&self.read_acp, Permission::READ_ACP),
            (&self.write, Permission::WRITE),
            (&self.write_acp, Permission::WRITE_ACP),
        ] {
            let Some(value) = header else { continue };
            for item in value.split(',') {
                let (k, v) = item.trim().split_once('=').ok_or_else(invalid_grant)?;
                let v = v.trim().trim_matches('"');
                let grantee = match k.trim().to_ascii_lowercase().as_str() {
                    "id" if !v.is_empty() => Grantee {
                        display_name: None,
                        email_address: None,
                        id: Some(v.into()),
                        type_: Type::from_static(Type::CANONICAL_USER),
                        uri: None,
                    },
                    "uri" if [ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY].contains(&v) => group(v),
                    "emailaddress" => {
                        return Err(s3_err(
                            "UnresolvableGrantByEmailAddress",
                            400,
                            "The e-mail address you provided does not match any account on record.",
                        ))
                    }
                    _ => return Err(invalid_grant()),
                };
                out.push(grant(grantee, permission));
            }
        }
        Ok(out)
    }
}

/// 400 `MalformedACLError`.
pub fn malformed_acl() -> S3Error {
    s3_err(
        "MalformedACLError",
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn invalid_grant() -> S3Error {
    s3_err("InvalidArgument", 400, "Invalid id")
}

/// Whether a grant list gives anything to `AllUsers` or `AuthenticatedUsers` (the public ACLs
/// of access-control-block-public-access.html).
pub fn is_public(grants: &[Grant]) -> bool {
    grants.iter().any(|g| {
        g.grantee.as_ref().and_then(|e| e.uri.as_deref()).is_some_and(|u| u == ALL_USERS || u == AUTHENTICATED_USERS)
    })
}

/// Whether a canned ACL is public.
pub fn canned_is_public(acl: &str) -> bool {
    matches!(acl, "public-read" | "public-read-write" | "authenticated-read")
}

/// Whether `policy` grants nothing but FULL_CONTROL to `owner` (what `bucket-owner-full-control`
/// amounts to, allowed with ACLs disabled).
pub fn is_owner_full_control_only(grants: &[Grant], owner: &str) -> bool {
    let id = canonical_user_id(owner);
    grants.iter().all(|g| {
        g.permission.as_ref().is_some_and(|p| p.as_str() == Permission::FULL_CONTROL)
            && g.grantee.as_ref().and_then(|e| e.id.as_deref()) == Some(id.as_str())
    })
}

/// A well-formed ACL document: grants with a grantee and a known permission, at most 100.
pub fn check_policy(policy: &AccessControlPolicy) -> S3Result<()> {
    let grants = policy.grants.as_deref().unwrap_or(&[]);
    let malformed = malformed_acl;
    if grants.len() > MAX_GRANTS {
        return Err(malformed());
    }
    for g in grants {
        let Some(p) = &g.permission else { return Err(malformed()) };
        if !matches!(
            p.as_str(),
            Permission::FULL_CONTROL
                | Permission::READ
                | Permission::READ_ACP
                | Permission::WRITE
                | Permission::WRITE_ACP
        ) {
            return Err(malformed());
        }
        let Some(e) = &g.grantee else { return Err(malformed()) };
        if e.id.is_none() && e.uri.is_none() {
            return Err(malformed());
        }
    }
    Ok(())
}

/// What an object-writing request (PutObject, CopyObject, CreateMultipartUpload) may say about
/// ACLs: with ACLs disabled only `bucket-owner-full-control` (or nothing); with them enabled,
/// no public ACL while `BlockPublicAcls` is on (403 `AccessDenied`).
pub fn check_write_acl(
    acls_disabled: bool,
    block_public_acls: bool,
    canned: Option<&str>,
    headers: &GrantHeaders,
) -> S3Result<()> {
    if acls_disabled {
        if headers.any() || canned.is_some_and(|a| a != BUCKET_OWNER_FULL_CONTROL) {
            return Err(acls_not_supported());
        }
        return Ok(());
    }
    if block_public_acls && (canned.is_some_and(canned_is_public) || is_public(&headers.grants()?)) {
        return Err(s3_err("AccessDenied", 403, "Access Denied"));
    }
    Ok(())
}

/// The ACL a request sets, from exactly one of a canned ACL, `x-amz-grant-*` headers or an
/// `AccessControlPolicy` document (`None`: none of them). `owner` owns the resource (it gets the
/// canned ACLs' FULL_CONTROL and names the document's owner); `bucket_owner` is for the
/// `bucket-owner-*` canned ACLs. More than one is `InvalidRequest`, as S3 answers.
pub fn requested(
    canned_acl: Option<&str>,
    headers: &GrantHeaders,
    body: Option<&AccessControlPolicy>,
    owner: &str,
    bucket_owner: &str,
) -> S3Result<Option<AccessControlPolicy>> {
    let given = [canned_acl.is_some(), headers.any(), body.is_some()];
    if given.iter().filter(|x| **x).count() > 1 {
        return Err(s3_err("InvalidRequest", 400, "Specifying both Canned ACLs and Header Grants is not allowed"));
    }
    let owned = |grants| AccessControlPolicy {
        grants: Some(grants),
        owner: Some(Owner { display_name: None, id: Some(canonical_user_id(owner)) }),
    };
    Ok(match (canned_acl, body) {
        (Some(c), _) => Some(canned(c, owner, bucket_owner)?),
        (None, Some(p)) => {
            check_policy(p)?;
            Some(owned(p.grants.clone().unwrap_or_default()))
        }
        (None, None) if headers.any() => Some(owned(headers.grants()?)),
        (None, None) => None,
    })
}

/// Grants as stored with an object.
pub fn to_stored(grants: &[Grant]) -> Vec<AclGrant> {
    grants
        .iter()
        .filter_map(|g| {
            let e = g.grantee.as_ref()?;
            Some(AclGrant {
                id: e.id.clone(),
                uri: e.uri.clone(),
                permission: g.permission.as_ref()?.as_str().to_string(),
            })
        })
        .collect()
}

/// Stored grants as S3 returns them.
pub fn from_stored(grants: &[AclGrant]) -> Vec<Grant> {
    grants
        .iter()
        .map(|g| {
            let grantee = match (&g.id, &g.uri) {
                (_, Some(uri)) => group(uri),
                (id, None) => Grantee {
                    display_name: None,
                    email_address: None,
                    id: id.clone(),
                    type_: Type::from_static(Type::CANONICAL_USER),
                    uri: None,
                },
            };
            grant(grantee, &g.permission)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_public_read_grants_all_users_read() {
        let p = canned("public-read", "111122223333", "111122223333").unwrap();
        let grants = p.grants.unwrap();
        assert_eq!(grants.len(), 2);
        assert!(is_public(&grants));
        assert!(!is_public(&canned("private", "111122223333", "111122223333").unwrap().grants.unwrap()));
        assert!(canned("no-such-acl", "1", "1").is_err());
    }

    #[test]
    fn grant_headers_parse_ids_and_group_uris() {
        let h = GrantHeaders { read: Some(format!("uri=\"{ALL_USERS}\", id=\"abc\"")), ..Default::default() };
        let grants = h.grants().unwrap();
        assert_eq!(grants.len(), 2);
        assert!(is_public(&grants));
        let bad = GrantHeaders { read: Some("nonsense".into()), ..Default::default() };
        assert!(bad.grants().is_err());
    }

    #[test]
    fn acls_disabled_allow_only_bucket_owner_full_control() {
        let none = GrantHeaders::default();
        assert!(check_write_acl(true, false, None, &none).is_ok());
        assert!(check_write_acl(true, false, Some("bucket-owner-full-control"), &none).is_ok());
        let e = check_write_acl(true, false, Some("public-read"), &none).unwrap_err();
        assert_eq!(e.code().as_str(), "AccessControlListNotSupported");
        let h = GrantHeaders { read: Some("id=\"x\"".into()), ..Default::default() };
        assert!(check_write_acl(true, false, None, &h).is_err());
    }

    #[test]
    fn block_public_acls_refuses_public_acls_when_acls_are_enabled() {
        let none = GrantHeaders::default();
        assert!(check_write_acl(false, false, Some("public-read"), &none).is_ok());
        assert_eq!(
            check_write_acl(false, true, Some("public-read"), &none).unwrap_err().code().as_str(),
            "AccessDenied"
        );
        assert!(check_write_acl(false, true, Some("private"), &none).is_ok());
    }

    #[test]
    fn requested_takes_one_form_and_round_trips_through_storage() {
        let none = GrantHeaders::default();
        assert!(requested(None, &none, None, "1", "1").unwrap().is_none());
        let h = GrantHeaders { read: Some(format!("uri=\"{ALL_USERS}\"")), ..Default::default() };
        let e = requested(Some("private"), &h, None, "1", "1").unwrap_err();
        assert_eq!(e.code().as_str(), "InvalidRequest");
        let p = requested(None, &h, None, "1", "1").unwrap().unwrap();
        let grants = p.grants.unwrap();
        let stored = to_stored(&grants);
        assert_eq!(stored[0].uri.as_deref(), Some(ALL_USERS));
        assert_eq!(stored[0].permission, "READ");
        assert_eq!(from_stored(&stored), grants);
    }
}
