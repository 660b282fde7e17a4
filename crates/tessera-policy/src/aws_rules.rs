//! Rules AWS applies to a request before, and above, any policy: actions that need no permission,
//! and resources that no customer account's policy can change. They live here, in the decider,
//! so that the server and `tessera policy simulate` answer the same (docs/POLICY_ENGINE.md,
//! "Rules above the policies").

/// `sts:GetCallerIdentity` needs no permission, and an explicit deny does not block it: "No
/// permissions are required to perform this operation. If an administrator attaches a policy to
/// your identity that explicitly denies access to the sts:GetCallerIdentity action, you can still
/// perform this operation" (AWS STS API Reference, GetCallerIdentity).
pub fn needs_no_permission(action: &str) -> bool {
    action.eq_ignore_ascii_case("sts:GetCallerIdentity")
}

/// The services whose resources RCPs govern (AWS Organizations User Guide, "Resource control
/// policies (RCPs)", list of AWS services that support RCPs: Amazon S3, AWS STS, AWS KMS, Amazon SQS,
/// AWS Secrets Manager). An RCP never limits an action of another service (IAM, Organizations, EC2,
/// CloudTrail...), whatever it lists.
pub const RCP_SERVICES: &[&str] = &["s3", "sts", "kms", "sqs", "secretsmanager"];

/// Whether RCPs apply to `action`: its service is one of [`RCP_SERVICES`].
pub fn rcps_apply_to(action: &str) -> bool {
    let service = action.split_once(':').map_or("", |(service, _)| service);
    RCP_SERVICES.iter().any(|s| s.eq_ignore_ascii_case(service))
}

/// Whether the resource-based policy of a request must itself allow it, even inside the resource's
/// account, as a role trust policy must: a KMS key policy. "No AWS principal, including the account
/// root user or key creator, has any permissions to a KMS key unless they are explicitly allowed, and
/// never denied, in a key policy, IAM policy, or grant. Unless the key policy explicitly allows it, you
/// cannot use IAM policies to allow access to a KMS key" (AWS KMS Developer Guide, "Key policies in
/// AWS KMS"). IAM policies count only where the key policy delegates to the account. "Every KMS key
/// must have exactly one key policy", so a `kms:` request on a key given without its key policy is
/// decided as by a key policy that allows nothing. `has_resource_policy`: one was given.
pub fn resource_policy_must_allow(action: &str, resource: &str, has_resource_policy: bool) -> bool {
    let kms = action.split_once(':').is_some_and(|(service, _)| service.eq_ignore_ascii_case("kms"));
    kms && (has_resource_policy || is_kms_key(resource))
}

/// `arn:PARTITION:kms:REGION:ACCOUNT:key/ID`.
fn is_kms_key(resource: &str) -> bool {
    let mut parts = resource.splitn(6, ':');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("arn"), Some(_), Some("kms"), Some(_), Some(_), Some(rest)) if rest.starts_with("key/")
    )
}

/// The root user cannot call `AssumeRole` (or assume a role any other way): "You cannot call
/// AssumeRole by using AWS account root user credentials; access is denied" (AWS STS API Reference,
/// AssumeRole).
pub fn root_cannot_assume(action: &str) -> bool {
    ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
}

/// Whether an action only reads its resource (`Get*`, `List*`, `Describe*`), by AWS's naming.
fn reads_only(action_name: &str) -> bool {
    ["get", "list", "describe"]
        .iter()
        .any(|p| action_name.len() >= p.len() && action_name.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes()))
}

/// Whether `action` would change a resource that AWS owns, which no policy of a customer account
/// can allow:
/// - an IAM resource whose ARN names the account `aws` (AWS managed policies,
///   `arn:aws:iam::aws:policy/...`): "You cannot change the permissions defined in AWS managed
///   policies" (IAM User Guide, "AWS managed policies"); reading them needs only an identity policy.
///   (Organizations' AWS managed policies, `arn:aws:organizations::aws:policy/...`, are attached and
///   detached by customers; changing them is refused by Organizations itself with
///   `IMMUTABLE_POLICY`, an input error rather than a decision.)
/// - a service-linked role (path `/aws-service-role/`): "you cannot change the trust or permissions
///   policies of a service-linked role" (IAM User Guide, "Using service-linked roles"); its
///   description may be edited ("You can edit the description of any role from the IAM console,
///   API, or CLI", IAM User Guide, "Update a service-linked role": `UpdateRoleDescription` and
///   `UpdateRole`, whose other change, `MaxSessionDuration`, IAM refuses as `UnmodifiableEntity`),
///   and it is created and deleted through the service-linked role operations.
pub fn aws_owned_change(action: &str, resource: &str) -> bool {
    let Some((service, name)) = action.split_once(':') else { return false };
    if reads_only(name) {
        return false;
    }
    let mut parts = resource.splitn(6, ':');
    let (Some("arn"), Some(_), Some(arn_service), Some(_), Some(account), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if account == "aws" && arn_service == "iam" {
        return true;
    }
    let service_linked = arn_service == "iam" && rest.starts_with("role/aws-service-role/");
    service_linked
        && service.eq_ignore_ascii_case("iam")
        && !["PassRole", "UpdateRoleDescription", "UpdateRole", "CreateServiceLinkedRole", "DeleteServiceLinkedRole"]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_managed_policies_are_read_only() {
        let p = "arn:aws:iam::aws:policy/ReadOnlyAccess";
        for a in ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion", "iam:TagPolicy"] {
            assert!(aws_owned_change(a, p), "{a}");
        }
        for a in ["iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListEntitiesForPolicy"] {
            assert!(!aws_owned_change(a, p), "{a}");
        }
        assert!(!aws_owned_change("iam:DeletePolicy", "arn:aws:iam::111122223333:policy/mine"));
        let scp = "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess";
        assert!(!aws_owned_change("organizations:DetachPolicy", scp));
        assert!(!aws_owned_change("organizations:AttachPolicy", scp));
    }

    #[test]
    fn service_linked_roles_keep_their_policies() {
        let r = "arn:aws:iam::111122223333:role/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForX";
        for a in ["iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRole"] {
            assert!(aws_owned_change(a, r), "{a}");
        }
        for a in [
            "iam:GetRole",
            "iam:PassRole",
            "iam:UpdateRoleDescription",
            "iam:UpdateRole",
            "iam:DeleteServiceLinkedRole",
            "sts:AssumeRole",
        ] {
            assert!(!aws_owned_change(a, r), "{a}");
        }
        assert!(!aws_owned_change("iam:PutRolePolicy", "arn:aws:iam::111122223333:role/service-role/x"));
    }

    #[test]
    fn rcps_govern_the_services_that_support_them() {
        assert!(rcps_apply_to("s3:GetObject") && rcps_apply_to("STS:AssumeRole") && rcps_apply_to("kms:Decrypt"));
        assert!(!rcps_apply_to("iam:GetUser") && !rcps_apply_to("ec2:RunInstances") && !rcps_apply_to("*"));
    }

    #[test]
    fn key_policies_must_allow() {
        let key = "arn:aws:kms:us-east-1:111122223333:key/k1";
        assert!(resource_policy_must_allow("kms:Decrypt", key, true));
        assert!(resource_policy_must_allow("KMS:encrypt", key, false));
        assert!(resource_policy_must_allow("kms:Decrypt", "*", true));
        assert!(!resource_policy_must_allow("kms:ListKeys", "*", false));
        assert!(!resource_policy_must_allow("s3:GetObject", "arn:aws:s3:::b/k", true));
    }

    #[test]
    fn root_cannot_assume_roles() {
        assert!(root_cannot_assume("sts:assumerole") && root_cannot_assume("sts:AssumeRoleWithWebIdentity"));
        assert!(!root_cannot_assume("sts:GetSessionToken"));
    }

    #[test]
    fn get_caller_identity_needs_no_permission() {
        assert!(needs_no_permission("sts:getcalleridentity"));
        assert!(!needs_no_permission("sts:GetSessionToken"));
    }
}
