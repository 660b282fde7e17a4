//! S3 Block Public Access (S3 User Guide, access-control-block-public-access.html): the four
//! settings of a bucket and of an account, how they combine, and whether a bucket policy is
//! "public" by the page's section "The meaning of public".
//!
//! The account-level settings (S3 Control `PutPublicAccessBlock`) live in table
//! [`ACCOUNT_TABLE`], keyed by the 12-digit account id; S3 Control reads and writes them through
//! [`account_public_access_block`], [`put_account_public_access_block`] and
//! [`delete_account_public_access_block`].

use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, StoreError, WriteTxn};

/// Table of account-level settings: key the account id, value [`PublicAccessBlock`] as JSON.
pub const ACCOUNT_TABLE: &str = "s3_account_public_access_block";

/// The four Block Public Access settings (`PublicAccessBlockConfiguration`), of a bucket or
/// an account. A missing member reads as `false`, as S3 stores it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    /// Refuse requests that set a public ACL.
    #[serde(rename = "BlockPublicAcls", default)]
    pub block_public_acls: bool,
    /// Ignore public ACLs when authorizing.
    #[serde(rename = "IgnorePublicAcls", default)]
    pub ignore_public_acls: bool,
    /// Refuse PutBucketPolicy with a public policy.
    #[serde(rename = "BlockPublicPolicy", default)]
    pub block_public_policy: bool,
    /// Limit what a public policy grants to the owner's account and AWS service principals.
    #[serde(rename = "RestrictPublicBuckets", default)]
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// All four settings on (a new bucket's default since April 2023).
    pub const ALL_ON: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    /// The setting in force where both apply: each one on if it is on in either ("Amazon S3
    /// applies the most restrictive combination of the access point, bucket, and account
    /// settings").
    pub fn or(self, other: PublicAccessBlock) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: self.block_public_acls || other.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || other.ignore_public_acls,
            block_public_policy: self.block_public_policy || other.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || other.restrict_public_buckets,
        }
    }
}

/// The settings in force for a bucket: its own (if any) combined with its owner account's
/// (if any); absent settings are all off.
pub fn effective(bucket: Option<PublicAccessBlock>, account: Option<PublicAccessBlock>) -> PublicAccessBlock {
    bucket.unwrap_or_default().or(account.unwrap_or_default())
}

/// The account-level settings of `account` (`None`: none were put).
pub fn account_public_access_block(
    read: &(impl ReadTxn + ?Sized),
    account: &str,
) -> Result<Option<PublicAccessBlock>, StoreError> {
    tessera_services::model::load(read, ACCOUNT_TABLE, account)
}

/// Store the account-level settings of `account`.
pub fn put_account_public_access_block(
    write: &mut (impl WriteTxn + ?Sized),
    account: &str,
    settings: &PublicAccessBlock,
) -> Result<(), StoreError> {
    tessera_services::model::save(write, ACCOUNT_TABLE, account, settings)
}

/// Remove the account-level settings of `account`; whether there were any.
pub fn delete_account_public_access_block(
    write: &mut (impl WriteTxn + ?Sized),
    account: &str,
) -> Result<bool, StoreError> {
    write.delete(ACCOUNT_TABLE, account)
}

/// Condition keys whose fixed values make a statement granting to everyone non-public
/// (access-control-block-public-access.html, "The meaning of public"), lower-case.
const FIXING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// Whether a bucket policy is public: some `Allow` statement grants to a principal that is not
/// fixed (`*`, or any principal value with a wildcard, or `NotPrincipal`) and no condition of
/// that statement pins it to fixed values of the keys the page lists. An unreadable document
/// counts as public (it never passes PutBucketPolicy's validation anyway).
pub fn policy_is_public(doc: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else { return true };
    let statements: Vec<&serde_json::Value> = match v.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(o @ serde_json::Value::Object(_)) => vec![o],
        _ => return true,
    };
    statements.into_iter().any(statement_is_public)
}

fn statement_is_public(s: &serde_json::Value) -> bool {
    if s.get("Effect").and_then(|e| e.as_str()) != Some("Allow") {
        return false;
    }
    let open = match (s.get("Principal"), s.get("NotPrincipal")) {
        (_, Some(_)) => true,
        (Some(p), None) => principal_is_open(p),
        (None, None) => true,
    };
    open && !s.get("Condition").is_some_and(condition_fixes)
}

fn has_wildcard(v: &str) -> bool {
    v.contains(['*', '?'])
}

/// Whether a `Principal` value names anyone at all (`*`, or a wildcard in any value).
fn principal_is_open(p: &serde_json::Value) -> bool {
    match p {
        serde_json::Value::String(s) => has_wildcard(s),
        serde_json::Value::Object(m) => m.values().any(|v| match v {
            serde_json::Value::String(s) => has_wildcard(s),
            serde_json::Value::Array(a) => a.iter().any(|x| x.as_str().is_none_or(has_wildcard)),
            _ => true,
        }),
        _ => true,
    }
}

/// Whether a `Condition` block pins the request to fixed values of one of [`FIXING_KEYS`]:
/// a positive operator (not `Not…`, not `…IfExists`, not `Null`), every value without a
/// wildcard (for `aws:userid`, that excludes the `AROLEID:*` pattern), and for
/// `aws:SourceIp` CIDRs no wider than /8 (IPv4) or /32 (IPv6), Tessera's bound where the page
/// gives none.
fn condition_fixes(c: &serde_json::Value) -> bool {
    let Some(ops) = c.as_object() else { return false };
    ops.iter().any(|(op, block)| {
        let op_l = op.to_ascii_lowercase();
        if op_l.contains("not") || op_l.ends_with("ifexists") || op_l == "null" || op_l.starts_with("forallvalues") {
            return false;
        }
        let Some(keys) = block.as_object() else { return false };
        keys.iter().any(|(key, values)| {
            let key = key.to_ascii_lowercase();
            if !FIXING_KEYS.contains(&key.as_str()) {
                return false;
            }
            let values: Vec<&str> = match values {
                serde_json::Value::String(s) => vec![s.as_str()],
                serde_json::Value::Array(a) => match a.iter().map(|x| x.as_str()).collect::<Option<Vec<_>>>() {
                    Some(v) if !v.is_empty() => v,
                    _ => return false,
                },
                _ => return false,
            };
            if key == "aws:sourceip" {
                op_l.ends_with("ipaddress") && values.iter().all(|v| narrow_cidr(v))
            } else {
                values.iter().all(|v| !v.is_empty() && !has_wildcard(v))
            }
        })
    })
}

/// A CIDR (or single address) no wider than /8 (IPv4) or /32 (IPv6).
fn narrow_cidr(v: &str) -> bool {
    let (addr, len) = match v.split_once('/') {
        Some((a, l)) => match l.parse::<u8>() {
            Ok(l) => (a, Some(l)),
            Err(_) => return false,
        },
        None => (v, None),
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len.is_none_or(|l| (8..=32).contains(&l)),
        Ok(std::net::IpAddr::V6(_)) => len.is_none_or(|l| (32..=128).contains(&l)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(statement: serde_json::Value) -> String {
        serde_json::json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
    }

    fn allow_all(condition: Option<serde_json::Value>) -> String {
        let mut s = serde_json::json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*"});
        if let Some(c) = condition {
            s["Condition"] = c;
        }
        doc(s)
    }

    #[test]
    fn principal_star_without_conditions_is_public() {
        assert!(policy_is_public(&allow_all(None)));
        assert!(policy_is_public(&doc(serde_json::json!({"Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}))));
    }

    #[test]
    fn a_fixed_aws_principal_user_role_or_service_principal_is_not_public() {
        for p in [
            serde_json::json!({"AWS": "arn:aws:iam::111122223333:root"}),
            serde_json::json!({"AWS": ["111122223333", "arn:aws:iam::444455556666:role/r"]}),
            serde_json::json!({"Service": "cloudtrail.amazonaws.com"}),
        ] {
            let d = doc(serde_json::json!({"Effect": "Allow", "Principal": p, "Action": "s3:*",
                "Resource": "arn:aws:s3:::b/*"}));
            assert!(!policy_is_public(&d), "{d}");
        }
        let wild = doc(serde_json::json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:root"},
            "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}));
        assert!(policy_is_public(&wild));
    }

    #[test]
    fn deny_statements_are_never_public() {
        let d = doc(serde_json::json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::b/*"}));
        assert!(!policy_is_public(&d));
    }

    #[test]
    fn the_policy_limits_access_to_a_set_of_cidrs_using_aws_source_ip() {
        let narrow = serde_json::json!({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.7"]}});
        assert!(!policy_is_public(&allow_all(Some(narrow))));
        for wide in ["0.0.0.0/0", "0.0.0.0/1", "::/0"] {
            let c = serde_json::json!({"IpAddress": {"aws:SourceIp": wide}});
            assert!(policy_is_public(&allow_all(Some(c))), "{wide}");
        }
        let not = serde_json::json!({"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}});
        assert!(policy_is_public(&allow_all(Some(not))));
    }

    #[test]
    fn a_fixed_aws_source_arn_source_vpc_source_vpce_source_owner_source_account() {
        for (op, key, value) in [
            ("ArnEquals", "aws:SourceArn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/t"),
            ("StringEquals", "aws:SourceVpc", "vpc-1a2b3c4d"),
            ("StringEquals", "aws:SourceVpce", "vpce-1a2b3c4d"),
            ("StringEquals", "aws:SourceOwner", "111122223333"),
            ("StringEquals", "aws:SourceAccount", "111122223333"),
            ("StringEquals", "aws:PrincipalOrgID", "o-abcdefghij"),
            ("StringEquals", "aws:PrincipalAccount", "111122223333"),
            ("StringEquals", "s3:DataAccessPointAccount", "111122223333"),
            (
                "StringEquals",
                "s3:x-amz-server-side-encryption-aws-kms-key-id",
                "arn:aws:kms:us-east-1:111122223333:key/k",
            ),
        ] {
            let fixed = serde_json::json!({op: {key: value}});
            assert!(!policy_is_public(&allow_all(Some(fixed))), "{key}");
            let wild = serde_json::json!({"StringLike": {key: "*"}});
            assert!(policy_is_public(&allow_all(Some(wild))), "{key} *");
            let negated = serde_json::json!({"StringNotEquals": {key: value}});
            assert!(policy_is_public(&allow_all(Some(negated))), "{key} not");
        }
    }

    #[test]
    fn a_fixed_value_of_aws_userid_outside_the_pattern_aroleid_star() {
        let fixed = serde_json::json!({"StringEquals": {"aws:userid": "AIDAEXAMPLE"}});
        assert!(!policy_is_public(&allow_all(Some(fixed))));
        let pattern = serde_json::json!({"StringLike": {"aws:userid": "AROAEXAMPLE:*"}});
        assert!(policy_is_public(&allow_all(Some(pattern))));
    }

    #[test]
    fn other_condition_keys_do_not_make_a_policy_non_public() {
        let c = serde_json::json!({"StringEquals": {"aws:UserAgent": "curl"}, "Bool": {"aws:SecureTransport": "true"}});
        assert!(policy_is_public(&allow_all(Some(c))));
    }

    #[test]
    fn effective_settings_are_the_or_of_bucket_and_account() {
        let bucket = PublicAccessBlock { block_public_policy: true, ..Default::default() };
        let account = PublicAccessBlock { restrict_public_buckets: true, ..Default::default() };
        let e = effective(Some(bucket), Some(account));
        assert!(e.block_public_policy && e.restrict_public_buckets);
        assert!(!e.block_public_acls && !e.ignore_public_acls);
        assert_eq!(effective(None, None), PublicAccessBlock::default());
        assert_eq!(effective(None, Some(PublicAccessBlock::ALL_ON)), PublicAccessBlock::ALL_ON);
        assert_eq!(effective(Some(PublicAccessBlock::ALL_ON), None), PublicAccessBlock::ALL_ON);
    }

    #[test]
    fn account_settings_round_trip_in_the_store_with_aws_member_names() {
        let store = tessera_store::sqlite::SqliteStore::open_in_memory().unwrap();
        use tessera_store::Store;
        let mut w = store.write().unwrap();
        assert_eq!(account_public_access_block(w.as_ref(), "111122223333").unwrap(), None);
        let s = PublicAccessBlock { block_public_policy: true, ..Default::default() };
        put_account_public_access_block(w.as_mut(), "111122223333", &s).unwrap();
        let raw = w.get(ACCOUNT_TABLE, "111122223333").unwrap().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(json["BlockPublicPolicy"], true);
        assert_eq!(json["RestrictPublicBuckets"], false);
        assert_eq!(account_public_access_block(w.as_ref(), "111122223333").unwrap(), Some(s));
        assert!(delete_account_public_access_block(w.as_mut(), "111122223333").unwrap());
        assert_eq!(account_public_access_block(w.as_ref(), "111122223333").unwrap(), None);
    }
}
