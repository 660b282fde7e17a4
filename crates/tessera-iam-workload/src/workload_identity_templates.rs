//! Workload identity templates (IAM API Reference `API_CreateWorkloadIdentityTemplate.html` and
//! its neighbours; IAM User Guide `workload-identity-attestation-policies.html`): the template
//! record, its store layout and the lookups other crates use (STS `IssueWorkloadIdentityContext`
//! reads a template's `PathPattern`, attestation policy, provider and scope through
//! [`load_template`]).
//!
//! Store layout: table [`TEMPLATE_TABLE`], key `<owner>/<lowercased name>`, where `<owner>` is the
//! account segment of the template's ARN: the 12-digit account for an `ACCOUNT`-scoped template,
//! the organization id (`o-...`) for an `ORGANIZATION`-scoped one. The value is a
//! [`WorkloadIdentityTemplate`] in JSON. A template's name is unique for its owner, compared
//! without regard to case like every IAM name.

use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, StoreError};

use crate::model::{self, Tag};

/// Templates by `<owner>/<lowercased name>` (`<owner>`: account id, or organization id for an
/// organization-scoped template).
pub const TEMPLATE_TABLE: &str = "iam_workload_identity_template";

/// A workload identity template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadIdentityTemplate {
    /// The account segment of the template's ARN: the owning account (12 digits) for an
    /// `ACCOUNT`-scoped template, the organization id (`o-...`) for an `ORGANIZATION`-scoped one.
    pub owner: String,
    /// The account that created the template (the management account for an
    /// organization-scoped one).
    pub created_by: String,
    /// `Name`, as given (or rendered from a template definition).
    pub name: String,
    /// `TemplateId`: `AWTA` + 17 characters (`ACCOUNT` scope) or `AWTO` + 17 (`ORGANIZATION`).
    pub id: String,
    /// `ACCOUNT` or `ORGANIZATION`.
    pub scope: String,
    /// `WorkloadIdentityProviderArn`: the provider the template was created under.
    pub provider_arn: String,
    /// `Description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `PathPrefix`: namespace segments between the provider's naming root and the pattern.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// `PathPattern`: slash-delimited segments, each a literal or one `{context-key}` placeholder.
    pub path_pattern: String,
    /// The attestation policy, exactly as given (or rendered from a definition); `None` admits
    /// nothing.
    #[serde(default)]
    pub attestation_policy: Option<String>,
    /// Tags, in the order they were added (keys case sensitive).
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The service-owned definition the template was rendered from (template definition mode).
    #[serde(default)]
    pub template_definition_arn: Option<String>,
    /// Creation time, epoch seconds.
    pub created: i64,
}

impl WorkloadIdentityTemplate {
    /// `arn:aws:iam::<owner>:workload-identity-template/<name>`.
    pub fn arn(&self) -> String {
        template_arn(&self.owner, &self.name)
    }

    /// The attestation policy, if one is set (a template without one admits nothing).
    pub fn attestation_policy(&self) -> Option<&str> {
        self.attestation_policy.as_deref()
    }

    /// The context keys named by the placeholders of the path pattern, in order.
    pub fn placeholders(&self) -> Vec<&str> {
        pattern_placeholders(&self.path_pattern).unwrap_or_default()
    }

    /// Whether the template belongs to an organization (`ResourceScope` `ORGANIZATION`).
    pub fn is_organization_scoped(&self) -> bool {
        self.scope == "ORGANIZATION"
    }
}

/// The ARN of the template named `name` owned by `owner` (an account id or organization id).
pub fn template_arn(owner: &str, name: &str) -> String {
    format!("arn:aws:iam::{owner}:workload-identity-template/{name}")
}

/// The store key of a template.
pub fn template_key(owner: &str, name: &str) -> String {
    model::name_key(owner, name)
}

/// Whether `s` is an ARN owner segment: 12 digits, or an organization id
/// (`^o-[a-z0-9]{10,32}$`).
pub fn is_owner(s: &str) -> bool {
    is_account_id(s) || is_organization_id(s)
}

/// Whether `s` is 12 digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` matches `^o-[a-z0-9]{10,32}$`.
pub fn is_organization_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Whether `s` matches `WorkloadIdentityTemplateNameType` (`^[A-Za-z0-9_-]+$`, 1-128).
pub fn is_template_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The owner (account id or organization id) and name of a template ARN, or `None` when it is
/// not one.
pub fn parse_template_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (owner, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("workload-identity-template/")?;
    (is_owner(owner) && is_template_name(name)).then_some((owner, name))
}

/// The template `arn` names, if it exists. `Ok(None)` for an ARN that is not a template's or a
/// template that does not exist. No authorization: the caller decides who may read it.
pub fn load_template(r: &(impl ReadTxn + ?Sized), arn: &str) -> Result<Option<WorkloadIdentityTemplate>, StoreError> {
    let Some((owner, name)) = parse_template_arn(arn) else {
        return Ok(None);
    };
    let t: Option<WorkloadIdentityTemplate> = model::load(r, TEMPLATE_TABLE, &template_key(owner, name))?;
    // The key is case-insensitive; the ARN must spell the name exactly.
    Ok(t.filter(|t| t.name == name && t.owner == owner))
}

/// The provider `arn` names (account- or organization-scoped), if it exists.
pub fn load_provider(
    r: &(impl ReadTxn + ?Sized),
    arn: &str,
) -> Result<Option<super::WorkloadIdentityProvider>, StoreError> {
    let Some((owner, name)) = super::parse_provider_arn(arn) else {
        return Ok(None);
    };
    let p: Option<super::WorkloadIdentityProvider> =
        model::load(r, super::PROVIDER_TABLE, &super::provider_key(owner, name))?;
    Ok(p.filter(|p| p.name == name))
}

/// One segment of a path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternSegment<'a> {
    /// A literal segment.
    Literal(&'a str),
    /// A `{context-key}` placeholder; the key without braces.
    Placeholder(&'a str),
}

/// A workload identifier path segment: `[A-Za-z0-9._-]+`, neither `.` nor `..` (the model's
/// path prefix and path pattern grammar, and what a rendered placeholder value must be).
pub fn is_path_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Split a path pattern into its segments (`WorkloadIdentityTemplatePathPatternType`): literals
/// of `[A-Za-z0-9._-]+` other than `.` and `..`, and whole placeholders `{[A-Za-z0-9:/._-]+}`,
/// which may contain slashes; at least one placeholder. `None` when the pattern does not follow
/// the grammar.
pub fn parse_pattern(pattern: &str) -> Option<Vec<PatternSegment<'_>>> {
    let mut out = Vec::new();
    let mut rest = pattern;
    loop {
        let (segment, tail) = if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}')?;
            let key = &inner[..end];
            if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b":/._-".contains(&b)) {
                return None;
            }
            (PatternSegment::Placeholder(key), &inner[end + 1..])
        } else {
            let end = rest.find('/').unwrap_or(rest.len());
            let lit = &rest[..end];
            if !is_path_segment(lit) {
                return None;
            }
            (PatternSegment::Literal(lit), &rest[end..])
        };
        out.push(segment);
        if tail.is_empty() {
            break;
        }
        rest = tail.strip_prefix('/')?;
        if rest.is_empty() {
            return None;
        }
    }
    out.iter().any(|s| matches!(s, PatternSegment::Placeholder(_))).then_some(out)
}

/// The context keys of a pattern's placeholders, in order; `None` when the pattern does not
/// follow the grammar.
pub fn pattern_placeholders(pattern: &str) -> Option<Vec<&str>> {
    Some(
        parse_pattern(pattern)?
            .into_iter()
            .filter_map(|s| match s {
                PatternSegment::Placeholder(k) => Some(k),
                PatternSegment::Literal(_) => None,
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_arns_accept_accounts_and_organizations() {
        assert_eq!(
            parse_template_arn("arn:aws:iam::111122223333:workload-identity-template/PaymentsFleet"),
            Some(("111122223333", "PaymentsFleet"))
        );
        assert_eq!(
            parse_template_arn("arn:aws:iam::o-abc123def4:workload-identity-template/PaymentsFleet"),
            Some(("o-abc123def4", "PaymentsFleet"))
        );
        assert_eq!(parse_template_arn("arn:aws:iam::o-abc:workload-identity-template/x"), None);
        assert_eq!(parse_template_arn("arn:aws:iam::111122223333:workload-identity-template/a.b"), None);
        assert_eq!(parse_template_arn("arn:aws:iam::111122223333:workload-identity-provider/x"), None);
        assert_eq!(parse_template_arn("arn:aws:iam::111122223333:workload-identity-template/"), None);
        assert_eq!(parse_template_arn("ééé"), None);
    }

    #[test]
    fn path_segments() {
        assert!(is_path_segment("checkout-sa.v1_2"));
        for bad in ["", ".", "..", "a/b", "a b", "arn:aws:eks", "é"] {
            assert!(!is_path_segment(bad), "{bad}");
        }
    }

    #[test]
    fn patterns_follow_the_grammar() {
        let p = "{aws:WorkloadAttestation/aws/eks/ClusterName}/prod/{aws:WorkloadAttestation/aws/eks/Namespace}";
        assert_eq!(
            pattern_placeholders(p),
            Some(vec!["aws:WorkloadAttestation/aws/eks/ClusterName", "aws:WorkloadAttestation/aws/eks/Namespace"])
        );
        assert_eq!(parse_pattern("a/{k}").map(|s| s.len()), Some(2));
        for bad in ["prod", "/{k}", "{k}/", "a//{k}", "{k}x", "x{k}", "./{k}", "../{k}", "{}", "{k", "{a b}", "é/{k}"]
        {
            assert_eq!(parse_pattern(bad), None, "{bad}");
        }
    }
}
