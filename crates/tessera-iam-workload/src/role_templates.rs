//! The catalogue of AWS-provided IAM role templates (`data/role_templates.json`, shipped in the
//! binary like the AWS managed policies of `tessera-core`) and the rendering of a template
//! version with `AcquireRole`'s `ReplacementValues`.
//!
//! IAM User Guide, "Overview of role templates" (`id_roles_create_role-template.html`): a role
//! template sets a role's trust policy and permissions; it may take parameters that are
//! substituted into the role's name, path, policies and tags. Placeholders are written
//! `@{Name}`, as in the API Reference's `GetRoleTemplateVersion` example
//! (`RoleNamePattern` `Example-@{Department}`).
//!
//! Rendering never builds JSON from text: a policy document is a JSON value whose strings (and
//! object keys) get their placeholders replaced, so a replacement value cannot change the
//! document's structure; a string that is exactly `@{Name}` of a list parameter becomes an
//! array. An inline policy may carry a switch (`when`): the role gets it only when that
//! parameter is `true`. See docs/ROLE_MANAGER.md.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tessera_wire::AwsError;

use crate::model::{Role, Tag};

/// The catalogue file, embedded in the binary.
static DATA: &str = include_str!("../data/role_templates.json");

/// First line's `format` value of the catalogue.
const FORMAT: &str = "tessera-role-templates 1";

/// The most values one replacement value entry takes (`replacementValueListType`).
pub const MAX_VALUES_PER_PARAMETER: usize = 20;

/// The longest replacement value (as long as a parameter's `DefaultValue` may be).
pub const MAX_VALUE_LENGTH: usize = 1024;

#[derive(Debug, Deserialize)]
struct CatalogueFile {
    format: String,
    templates: Vec<Template>,
}

/// An AWS-provided role template (every minor version of one major version).
#[derive(Debug, Deserialize)]
pub struct Template {
    /// `arn:aws:iam::aws:role-template/<service principal>/<name>:<major version>`.
    pub arn: String,
    /// `TemplateName`.
    pub name: String,
    /// `Description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `ManagedByValue` (`ManagedByType` is `Service`): the service principal of the ARN.
    pub managed_by: String,
    /// `Enabled`.
    pub enabled: bool,
    /// `CreateTimestamp` (ISO 8601).
    #[serde(default)]
    pub created: Option<String>,
    /// `DefaultMinorVersion`.
    #[serde(default)]
    pub default_minor: i64,
    /// The parameter names AWS documents, for a template whose content it does not publish.
    #[serde(default)]
    pub parameter_names: Vec<String>,
    /// The minor versions; empty when AWS does not publish the template's content.
    #[serde(default)]
    pub versions: Vec<TemplateVersion>,
    /// The service documentation page whose role this template's content renders: the content
    /// is Tessera's rendering of that documented role, not AWS's template text. `None` for
    /// content taken from IAM's own pages, and for a template without content.
    #[serde(default)]
    pub documented_role: Option<String>,
    /// Where each fact comes from.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// One minor version of a template.
#[derive(Debug, Deserialize)]
pub struct TemplateVersion {
    /// `MinorVersion`.
    pub minor: i64,
    /// `TemplateVersionId`.
    pub version_id: String,
    /// `VersionEnabled`.
    pub enabled: bool,
    /// `RoleNamePattern`.
    pub role_name_pattern: String,
    /// `RolePathPattern`.
    pub role_path_pattern: String,
    /// `RoleDescriptionPattern`.
    #[serde(default)]
    pub role_description_pattern: Option<String>,
    /// `AssumeRolePolicyDocumentTemplate`.
    pub assume_role_policy_document: Value,
    /// `InlinePolicyTemplates`.
    #[serde(default)]
    pub inline_policies: Vec<InlinePolicyTemplate>,
    /// `ManagedPolicyArns`.
    #[serde(default)]
    pub managed_policy_arns: Vec<String>,
    /// `PermissionBoundaryArn`.
    #[serde(default)]
    pub permissions_boundary_arn: Option<String>,
    /// `ParametersDefinition`.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// `RoleTagsTemplate`.
    #[serde(default)]
    pub tags: Vec<TagTemplate>,
    /// `MaxSessionDuration`.
    pub max_session_duration: i64,
}

/// An inline policy of a template.
#[derive(Debug, Deserialize)]
pub struct InlinePolicyTemplate {
    /// `PolicyName`.
    pub name: String,
    /// `PolicyDocument`.
    pub document: Value,
    /// The parameter that switches this policy on: the role gets the policy only when that
    /// parameter's value is `true` (a template's `*_ENABLED` parameters; docs/ROLE_MANAGER.md).
    #[serde(default)]
    pub when: Option<String>,
}

/// A tag of a template.
#[derive(Debug, Deserialize)]
pub struct TagTemplate {
    /// `Key`.
    pub key: String,
    /// `Value`.
    pub value: String,
}

/// A parameter of a template version (`ParameterDefinition`).
#[derive(Debug, Deserialize)]
pub struct Parameter {
    /// `Name`.
    pub name: String,
    /// `Type`: `String`, `StringList`, `Number`, `NumberList`, `Arn` or `ArnList`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `SubType`.
    #[serde(default)]
    pub sub_type: Option<String>,
    /// `Description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `IsRequired`.
    #[serde(default)]
    pub is_required: bool,
    /// `DefaultValue`.
    #[serde(default)]
    pub default_value: Option<String>,
    /// `Immutable`: the default value is the only one accepted.
    #[serde(default)]
    pub immutable: bool,
}

impl Parameter {
    fn is_list(&self) -> bool {
        self.kind.ends_with("List")
    }
}

impl Template {
    /// `MajorVersion`: the number after the ARN's last `:`.
    pub fn major_version(&self) -> i64 {
        self.arn.rsplit_once(':').and_then(|(_, v)| v.parse().ok()).unwrap_or(1)
    }
}

static CATALOGUE: LazyLock<Vec<Template>> = LazyLock::new(|| match parse(DATA) {
    Ok(t) => t,
    Err(e) => {
        tracing::error!(error = %e, "the role template catalogue does not parse");
        Vec::new()
    }
});

fn parse(data: &str) -> Result<Vec<Template>, String> {
    let file: CatalogueFile = serde_json::from_str(data).map_err(|e| e.to_string())?;
    if file.format != FORMAT {
        return Err(format!("unknown catalogue format {}", file.format));
    }
    Ok(file.templates)
}

/// Every template of the catalogue.
pub fn all() -> &'static [Template] {
    &CATALOGUE
}

/// `arn:<partition>:iam::<owner>:role-template/<path>:<major>`, the ARN format of role
/// templates (`iam_role_template` in the Service Authorization Reference).
fn is_template_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [arn_word, partition, service, region, owner, rest] = parts.as_slice() else { return false };
    let Some((path, major)) = rest.rsplit_once(':') else { return false };
    *arn_word == "arn"
        && !partition.is_empty()
        && *service == "iam"
        && region.is_empty()
        && !owner.is_empty()
        && path.strip_prefix("role-template/").is_some_and(|p| !p.is_empty())
        && !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
}

/// The template `arn` names and its minor version `minor` (the default when `None`):
/// `InvalidInput` for a malformed ARN, `NoSuchEntity` for a template or version the catalogue
/// does not have, `NotImplemented` for an AWS template whose content AWS does not publish.
pub fn lookup(arn: &str, minor: Option<i64>) -> Result<(&'static Template, &'static TemplateVersion), AwsError> {
    if !is_template_arn(arn) {
        return Err(AwsError::new(400, "InvalidInput", format!("ARN {arn} is not valid.")));
    }
    let Some(template) = all().iter().find(|t| t.arn == arn) else {
        return Err(AwsError::new(404, "NoSuchEntity", format!("The role template with ARN {arn} cannot be found.")));
    };
    if template.versions.is_empty() {
        return Err(AwsError::new(
            501,
            "NotImplemented",
            format!(
                "Tessera's role template catalogue has no content for {arn}: AWS documents its ARN and parameters ({}) \
                 but not its trust policy and permissions (docs/ROLE_MANAGER.md)",
                template.parameter_names.join(", ")
            ),
        ));
    }
    let wanted = minor.unwrap_or(template.default_minor);
    let version = template.versions.iter().find(|v| v.minor == wanted).ok_or_else(|| {
        AwsError::new(404, "NoSuchEntity", format!("The role template with ARN {arn} has no minor version {wanted}."))
    })?;
    Ok((template, version))
}

fn invalid(message: String) -> AwsError {
    AwsError::new(400, "InvalidInput", message)
}

/// The values of a version's parameters for one request: given, else default; checked
/// against `ParametersDefinition`.
pub fn resolve_values(
    version: &TemplateVersion,
    given: &[(String, Vec<String>)],
) -> Result<HashMap<String, (bool, Vec<String>)>, AwsError> {
    for (name, _) in given {
        if !version.parameters.iter().any(|p| p.name == *name) {
            return Err(invalid(format!("The role template has no parameter named {name}.")));
        }
    }
    let mut out = HashMap::new();
    for p in &version.parameters {
        let values = match given.iter().find(|(n, _)| *n == p.name) {
            Some((_, values)) => {
                check_values(p, values)?;
                if p.immutable && p.default_value.as_ref().is_none_or(|d| values.len() != 1 || values[0] != *d) {
                    return Err(invalid(format!("The parameter {} is immutable: it takes its default value.", p.name)));
                }
                values.clone()
            }
            None => match &p.default_value {
                Some(d) if p.is_list() => d.split(',').map(str::to_string).collect(),
                Some(d) => vec![d.clone()],
                None if p.is_required => {
                    return Err(invalid(format!("The required parameter {} has no replacement value.", p.name)));
                }
                None => Vec::new(),
            },
        };
        out.insert(p.name.clone(), (p.is_list(), values));
    }
    Ok(out)
}

/// A parameter's given values against its `Type`.
fn check_values(p: &Parameter, values: &[String]) -> Result<(), AwsError> {
    if !p.is_list() && values.len() != 1 {
        return Err(invalid(format!("The parameter {} of type {} takes exactly one value.", p.name, p.kind)));
    }
    if values.len() > MAX_VALUES_PER_PARAMETER {
        return Err(invalid(format!("The parameter {} takes at most {MAX_VALUES_PER_PARAMETER} values.", p.name)));
    }
    for v in values {
        if v.is_empty() || v.chars().count() > MAX_VALUE_LENGTH {
            return Err(invalid(format!(
                "A value of the parameter {} must have 1 to {MAX_VALUE_LENGTH} characters.",
                p.name
            )));
        }
        let ok = match p.kind.trim_end_matches("List") {
            "Number" => v.trim().parse::<f64>().is_ok_and(f64::is_finite),
            "Arn" => v.starts_with("arn:") && v.split(':').count() >= 6,
            _ => true,
        };
        if !ok {
            return Err(invalid(format!("The value {v} of the parameter {} is not of type {}.", p.name, p.kind)));
        }
    }
    Ok(())
}

/// `text` with each `@{Name}` replaced by its value (list values joined with `,`); unknown
/// names are left as written.
pub fn substitute(text: &str, values: &HashMap<String, (bool, Vec<String>)>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if values.contains_key(&after[..end]) => {
                if let Some((_, v)) = values.get(&after[..end]) {
                    out.push_str(&v.join(","));
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("@{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A policy document template rendered: placeholders replaced inside strings and object keys.
pub fn render_document(doc: &Value, values: &HashMap<String, (bool, Vec<String>)>) -> Value {
    match doc {
        Value::String(s) => whole_list(s, values)
            .map(|v| Value::Array(v.iter().cloned().map(Value::String).collect()))
            .unwrap_or_else(|| Value::String(substitute(s, values))),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match render_document(item, values) {
                    // A list parameter in an array's place adds its values to the array.
                    Value::Array(inner) if item.is_string() => out.extend(inner),
                    v => out.push(v),
                }
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (substitute(k, values), render_document(v, values))).collect())
        }
        other => other.clone(),
    }
}

/// The values of the list parameter a string is exactly the placeholder of.
fn whole_list<'a>(s: &str, values: &'a HashMap<String, (bool, Vec<String>)>) -> Option<&'a Vec<String>> {
    let name = s.strip_prefix("@{")?.strip_suffix('}')?;
    values.get(name).filter(|(list, _)| *list).map(|(_, v)| v)
}

/// A role as a template version renders it for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Role name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Description.
    pub description: Option<String>,
    /// Trust policy.
    pub trust_policy: String,
    /// Inline policies (name, document).
    pub inline_policies: Vec<(String, String)>,
    /// Managed policy ARNs.
    pub managed_policies: Vec<String>,
    /// Permissions boundary ARN.
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Maximum session duration.
    pub max_session_duration: i64,
}

/// The names of the `@{Name}` placeholders in `text`, in order.
fn placeholders(text: &str) -> impl Iterator<Item = &str> {
    text.split("@{").skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name))
}

/// Whether a switched policy is on: its switch parameter's value is `true` (`false` or no value:
/// off); every parameter an included policy uses must then have a value.
fn switched_on(policy: &InlinePolicyTemplate, values: &HashMap<String, (bool, Vec<String>)>) -> Result<bool, AwsError> {
    let Some(switch) = &policy.when else { return Ok(true) };
    let on = match values.get(switch).map(|(_, v)| v.as_slice()) {
        Some([v]) if v == "true" => true,
        Some([v]) if v == "false" => false,
        None | Some([]) => false,
        Some(_) => return Err(invalid(format!("The parameter {switch} takes true or false."))),
    };
    if on {
        let text = policy.document.to_string();
        let missing =
            placeholders(&text).find(|n| values.get(*n).is_none_or(|(_, v)| v.is_empty())).map(str::to_string);
        if let Some(name) = missing {
            return Err(invalid(format!("The parameter {name} needs a value when {switch} is true.")));
        }
    }
    Ok(on)
}

/// Render `version` with the request's replacement values.
pub fn render(version: &TemplateVersion, given: &[(String, Vec<String>)]) -> Result<Rendered, AwsError> {
    let values = resolve_values(version, given)?;
    let doc = |v: &Value| render_document(v, &values).to_string();
    let mut inline_policies = Vec::with_capacity(version.inline_policies.len());
    for p in &version.inline_policies {
        if switched_on(p, &values)? {
            inline_policies.push((substitute(&p.name, &values), doc(&p.document)));
        }
    }
    Ok(Rendered {
        name: substitute(&version.role_name_pattern, &values),
        path: substitute(&version.role_path_pattern, &values),
        description: version.role_description_pattern.as_ref().map(|d| substitute(d, &values)),
        trust_policy: doc(&version.assume_role_policy_document),
        inline_policies,
        managed_policies: version.managed_policy_arns.iter().map(|a| substitute(a, &values)).collect(),
        permissions_boundary: version.permissions_boundary_arn.as_ref().map(|b| substitute(b, &values)),
        tags: version
            .tags
            .iter()
            .map(|t| Tag { key: substitute(&t.key, &values), value: substitute(&t.value, &values) })
            .collect(),
        max_session_duration: version.max_session_duration,
    })
}

impl Rendered {
    /// The digest [`role_fingerprint`] gives a role made of this rendering.
    pub fn fingerprint(&self) -> String {
        fingerprint(
            &self.path,
            &self.trust_policy,
            &self.inline_policies,
            &self.managed_policies,
            self.permissions_boundary.as_deref(),
        )
    }
}

/// A digest of what role manager manages on a role: its path, trust policy and permissions
/// ("After you change a role's policies or trust policies, role manager no longer manages
/// that role", IAM User Guide, `id_roles_create_role-manager_least-privilege.html`). Documents
/// are compared as JSON values, inline policies by name regardless of order.
pub fn role_fingerprint(role: &Role) -> String {
    fingerprint(
        &role.path,
        &role.assume_role_policy_document,
        &role.inline_policies,
        &role.attached_policies,
        role.permissions_boundary.as_deref(),
    )
}

fn fingerprint(
    path: &str,
    trust: &str,
    inline: &[(String, String)],
    managed: &[String],
    boundary: Option<&str>,
) -> String {
    let as_json = |d: &str| serde_json::from_str::<Value>(d).unwrap_or_else(|_| Value::String(d.to_string()));
    let mut inline: Vec<(String, Value)> = inline.iter().map(|(n, d)| (n.to_ascii_lowercase(), as_json(d))).collect();
    inline.sort_by(|a, b| a.0.cmp(&b.0));
    let mut managed = managed.to_vec();
    managed.sort();
    let canonical = serde_json::json!({
        "path": path,
        "trust": as_json(trust),
        "inline": inline,
        "managed": managed,
        "boundary": boundary,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POWER: &str = "arn:aws:iam::aws:role-template/iam.amazonaws.com/PowerUserRoleTemplate:1";
    const SECRETS: &str =
        "arn:aws:iam::aws:role-template/secretsmanager.amazonaws.com/AWSSecretsManagerRotationRoleTemplate:1";
    const SAGEMAKER_USER: &str =
        "arn:aws:iam::aws:role-template/datazone.amazonaws.com/AmazonSageMakerUserIAMPermissiveExecutionRoleTemplate:1";

    fn given(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect()
    }

    #[test]
    fn the_catalogue_parses_and_every_placeholder_is_a_parameter() {
        let all = parse(DATA).expect("catalogue");
        assert!(all.len() >= 12, "the templates of the User Guide's directory");
        for t in &all {
            assert!(is_template_arn(&t.arn), "{}", t.arn);
            assert!(t.arn.contains(&format!("/{}/{}:", t.managed_by, t.name)), "{}", t.arn);
            if t.versions.is_empty() {
                assert!(!t.parameter_names.is_empty(), "{}", t.arn);
                continue;
            }
            assert!(t.versions.iter().any(|v| v.minor == t.default_minor), "{}", t.arn);
            for v in &t.versions {
                assert!(v.version_id.len() >= 16 && v.version_id.chars().all(|c| c.is_alphanumeric() || c == '_'));
                assert!(v.managed_policy_arns.len() <= 10);
                let text = serde_json::to_string(&serde_json::json!([
                    v.role_name_pattern,
                    v.role_path_pattern,
                    v.role_description_pattern,
                    v.assume_role_policy_document,
                    v.inline_policies.iter().map(|p| (&p.name, &p.document)).collect::<Vec<_>>(),
                    v.managed_policy_arns,
                    v.permissions_boundary_arn,
                    v.tags.iter().map(|t| (&t.key, &t.value)).collect::<Vec<_>>(),
                ]))
                .expect("json");
                for name in placeholders(&text) {
                    assert!(v.parameters.iter().any(|p| p.name == name), "{}: @{{{name}}}", t.arn);
                }
                for switch in v.inline_policies.iter().filter_map(|p| p.when.as_ref()) {
                    assert!(v.parameters.iter().any(|p| p.name == *switch), "{}: switch {switch}", t.arn);
                }
                for m in &v.managed_policy_arns {
                    assert!(tessera_core::managed::by_arn(m).is_some(), "{m} is in the managed policy catalogue");
                }
            }
        }
    }

    #[test]
    fn lookup_tells_malformed_unknown_and_unpublished_apart() {
        assert_eq!(lookup("xxxxxxxxxxxxxxxxxxxx", None).unwrap_err().code, "InvalidInput");
        assert_eq!(lookup("arn:aws:iam::aws:role-template/x/Nope:1", None).unwrap_err().code, "NoSuchEntity");
        assert_eq!(lookup(POWER, Some(7)).unwrap_err().code, "NoSuchEntity");
        let e = lookup(SAGEMAKER_USER, None).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (501, "NotImplemented"));
        assert!(e.message.contains("RoleName, accountId"), "{}", e.message);
        let (t, v) = lookup(POWER, None).expect("power user");
        assert_eq!((t.name.as_str(), t.major_version(), v.minor), ("PowerUserRoleTemplate", 1, 0));
    }

    #[test]
    fn the_power_user_template_renders_as_the_cloudtrail_example_shows() {
        let (_, v) = lookup(POWER, None).expect("template");
        let r = render(v, &given(&[("AWSServiceName", &["iam.amazonaws.com"])])).expect("render");
        assert_eq!((r.name.as_str(), r.path.as_str()), ("PowerUserRole", "/"));
        let trust: Value = serde_json::from_str(&r.trust_policy).expect("json");
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], "iam.amazonaws.com");
        assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
        assert_eq!(r.managed_policies, vec!["arn:aws:iam::aws:policy/PowerUserAccess".to_string()]);
        let named = render(v, &given(&[("AWSServiceName", &["lambda.amazonaws.com"]), ("RoleName", &["fn-role"])]))
            .expect("render");
        assert_eq!(named.name, "fn-role");
        assert_ne!(named.fingerprint(), r.fingerprint());
    }

    #[test]
    fn parameters_are_checked_against_their_definition() {
        let (_, v) = lookup(POWER, None).expect("template");
        let code = |g: &[(&str, &[&str])]| render(v, &given(g)).unwrap_err().code;
        assert_eq!(code(&[]), "InvalidInput", "AWSServiceName is required");
        assert_eq!(code(&[("AWSServiceName", &["a", "b"])]), "InvalidInput", "a String takes one value");
        assert_eq!(code(&[("AWSServiceName", &["a"]), ("Department", &["x"])]), "InvalidInput", "no such parameter");
        assert_eq!(code(&[("AWSServiceName", &[""])]), "InvalidInput");
    }

    #[test]
    fn values_cannot_change_a_documents_structure() {
        let values: HashMap<String, (bool, Vec<String>)> = [
            ("S".to_string(), (false, vec![r#"x"},"Effect":"Deny"#.to_string()])),
            ("L".to_string(), (true, vec!["a".to_string(), "b".to_string()])),
        ]
        .into_iter()
        .collect();
        let doc = serde_json::json!({"A": "@{S}", "B": ["@{L}", "c"], "C": "p-@{L}", "@{S}k": 1, "D": "@{Unknown}"});
        let out = render_document(&doc, &values);
        assert_eq!(out["A"], r#"x"},"Effect":"Deny"#);
        assert_eq!(out["B"], serde_json::json!(["a", "b", "c"]));
        assert_eq!(out["C"], "p-a,b");
        assert_eq!(out["D"], "@{Unknown}");
        assert_eq!(out.as_object().map(|m| m.len()), Some(5));
        assert_eq!(substitute("@{S", &values), "@{S");
    }

    #[test]
    fn fingerprints_ignore_order_and_whitespace_but_not_content() {
        let a = fingerprint("/", r#"{"a": 1}"#, &[("P".into(), "{}".into()), ("q".into(), "[]".into())], &[], None);
        let b = fingerprint("/", r#"{"a":1}"#, &[("Q".into(), "[]".into()), ("p".into(), "{}".into())], &[], None);
        assert_eq!(a, b);
        assert_ne!(
            a,
            fingerprint("/", r#"{"a":2}"#, &[("P".into(), "{}".into()), ("q".into(), "[]".into())], &[], None)
        );
        assert_ne!(a, fingerprint("/", r#"{"a":1}"#, &[("P".into(), "{}".into())], &[], None));
    }

    /// Sample values for every parameter a template declares: names end in what they are.
    fn sample_values(v: &TemplateVersion) -> Vec<(String, Vec<String>)> {
        v.parameters
            .iter()
            .map(|p| {
                let value = match p.name.as_str() {
                    "RoleName" => "sample-role",
                    n if n.starts_with("account") => "123456789012",
                    n if n.starts_with("region") => "eu-west-1",
                    "identityPool" => "eu-west-1:12345678-1234-1234-1234-123456789012",
                    "kmsKeyArn" => "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                    n if n.ends_with("_ENABLED") => "true",
                    _ => "sample-value",
                };
                (p.name.clone(), vec![value.to_string()])
            })
            .collect()
    }

    #[test]
    fn every_rendered_template_makes_a_valid_role_from_sample_values() {
        use tessera_core::authz::{validate_policy_document, PolicyDocKind};
        let all = parse(DATA).expect("catalogue");
        let mut rendered = Vec::new();
        for t in all.iter().filter(|t| !t.versions.is_empty()) {
            if t.name != "PowerUserRoleTemplate" {
                // Everything but IAM's own template is Tessera's rendering of a documented role.
                assert!(t.documented_role.is_some(), "{}", t.arn);
                assert!(t.sources.iter().any(|s| s.starts_with("Tessera's rendering")), "{}", t.arn);
            }
            let (_, v) = lookup(&t.arn, None).expect("published");
            let r = render(v, &sample_values(v)).unwrap_or_else(|e| panic!("{}: {}", t.arn, e.message));
            assert_eq!(r.name, "sample-role", "{}", t.arn);
            validate_policy_document(&r.trust_policy, PolicyDocKind::Trust, &r.name)
                .unwrap_or_else(|e| panic!("{} trust policy: {}", t.arn, e.message));
            for (name, document) in &r.inline_policies {
                assert!(!name.contains("@{"), "{}: {name}", t.arn);
                validate_policy_document(document, PolicyDocKind::InlineRole, &r.name)
                    .unwrap_or_else(|e| panic!("{} policy {name}: {}", t.arn, e.message));
            }
            let all_text = format!("{}{:?}{:?}{:?}", r.trust_policy, r.inline_policies, r.description, r.path);
            assert!(!all_text.contains("@{"), "{}: a placeholder is left in {all_text}", t.arn);
            assert!(!r.inline_policies.is_empty() || !r.managed_policies.is_empty(), "{} grants nothing", t.arn);
            rendered.push(t.name.as_str());
        }
        rendered.sort_unstable();
        assert_eq!(
            rendered,
            [
                "AWSBackupDefaultServiceRoleTemplate",
                "AWSSecretsManagerRotationRoleTemplate",
                "AmazonCloudWatchLogsScheduledQueryExecutionRoleTemplate",
                "AmazonCloudWatchMetricStreamsFirehosePutRecordsRoleTemplate",
                "AmazonCloudWatchMetricStreamsFirehoseToS3RoleTemplate",
                "AmazonCloudWatchRUMPutEventsRoleTemplate",
                "AmazonCloudWatchSyntheticsExecutionRoleTemplate",
                "AmazonCloudWatchSyntheticsKmsExecutionRoleTemplate",
                "AmazonCloudWatchSyntheticsVpcExecutionRoleTemplate",
                "PowerUserRoleTemplate",
            ]
        );
    }

    fn statements(document: &str) -> Vec<Value> {
        let v: Value = serde_json::from_str(document).expect("json");
        v["Statement"].as_array().cloned().unwrap_or_default()
    }

    /// `name` rendered with the sample values, `overrides` replacing some of them.
    fn rendered_by(name: &str, overrides: &[(&str, &str)]) -> Rendered {
        let all = parse(DATA).expect("catalogue");
        let t = all.iter().find(|t| t.name == name).expect("template");
        let (_, v) = lookup(&t.arn, None).expect("published");
        let mut values = sample_values(v);
        for (k, value) in overrides {
            let slot = values.iter_mut().find(|(n, _)| n == k).expect("a parameter of the template");
            slot.1 = vec![value.to_string()];
        }
        render(v, &values).expect("render")
    }

    #[test]
    fn backup_renders_the_default_service_role() {
        let arn = "arn:aws:iam::aws:role-template/backup.amazonaws.com/AWSBackupDefaultServiceRoleTemplate:1";
        let (_, v) = lookup(arn, None).expect("published");
        let r = render(v, &[]).expect("render");
        assert_eq!((r.name.as_str(), r.path.as_str()), ("AWSBackupDefaultServiceRole", "/service-role/"));
        assert_eq!(statements(&r.trust_policy)[0]["Principal"]["Service"], "backup.amazonaws.com");
        assert_eq!(
            r.managed_policies,
            [
                "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
                "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores"
            ]
        );
        assert!(r.inline_policies.is_empty());
    }

    #[test]
    fn synthetics_variants_add_kms_or_eni_statements_to_the_canary_policy() {
        let values: &[(&str, &str)] = &[("canary_name", "shop"), ("role_uuid", "1a2b")];
        let actions = |name: &str| -> Vec<String> {
            let r = rendered_by(name, values);
            assert_eq!(r.path, "/service-role/");
            assert_eq!(statements(&r.trust_policy)[0]["Principal"]["Service"], "lambda.amazonaws.com");
            assert_eq!(r.inline_policies.len(), 1);
            assert_eq!(r.inline_policies[0].0, "CloudWatchSyntheticsPolicy-shop-1a2b");
            let s = statements(&r.inline_policies[0].1);
            assert_eq!(s[2]["Resource"][0], "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/cwsyn-shop-*");
            assert_eq!(
                s[0]["Resource"][0],
                "arn:aws:s3:::cw-syn-results-123456789012-eu-west-1/canary/eu-west-1/shop-*"
            );
            assert_eq!(s[4]["Condition"]["StringEquals"]["cloudwatch:namespace"], "CloudWatchSynthetics");
            s.iter()
                .flat_map(|st| match &st["Action"] {
                    Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
                    Value::String(x) => vec![x.clone()],
                    _ => Vec::new(),
                })
                .collect()
        };
        let basic = actions("AmazonCloudWatchSyntheticsExecutionRoleTemplate");
        let kms = actions("AmazonCloudWatchSyntheticsKmsExecutionRoleTemplate");
        let vpc = actions("AmazonCloudWatchSyntheticsVpcExecutionRoleTemplate");
        assert!(!basic.iter().any(|a| a.starts_with("kms:") || a.starts_with("ec2:")), "{basic:?}");
        assert_eq!(kms[basic.len()..], ["kms:Decrypt", "kms:GenerateDataKey"]);
        assert_eq!(
            vpc[basic.len()..],
            ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface"]
        );
        let r = rendered_by("AmazonCloudWatchSyntheticsKmsExecutionRoleTemplate", values);
        let s = statements(&r.inline_policies[0].1);
        assert_eq!(s[5]["Condition"]["StringEquals"]["kms:ViaService"][0], "s3.eu-west-1.amazonaws.com");
    }

    #[test]
    fn rum_trusts_the_identity_pools_unauthenticated_identities() {
        let r = rendered_by(
            "AmazonCloudWatchRUMPutEventsRoleTemplate",
            &[("appMonitor", "shop-web"), ("identityPool", "eu-west-1:0000-pool")],
        );
        let t = &statements(&r.trust_policy)[0];
        assert_eq!(t["Principal"]["Federated"], "cognito-identity.amazonaws.com");
        assert_eq!(t["Action"], "sts:AssumeRoleWithWebIdentity");
        assert_eq!(t["Condition"]["StringEquals"]["cognito-identity.amazonaws.com:aud"], "eu-west-1:0000-pool");
        assert_eq!(t["Condition"]["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"], "unauthenticated");
        let p = &statements(&r.inline_policies[0].1)[0];
        assert_eq!(p["Action"], "rum:PutRumEvents");
        assert_eq!(p["Resource"], "arn:aws:rum:eu-west-1:123456789012:appmonitor/shop-web");
    }

    #[test]
    fn metric_stream_roles_are_limited_to_their_stream_bucket_and_log_stream() {
        let put = rendered_by(
            "AmazonCloudWatchMetricStreamsFirehosePutRecordsRoleTemplate",
            &[("deliveryStreamName", "metrics")],
        );
        assert_eq!(
            statements(&put.trust_policy)[0]["Principal"]["Service"],
            "streams.metrics.cloudwatch.amazonaws.com"
        );
        assert_eq!(put.path, "/service-role/");
        let p = &statements(&put.inline_policies[0].1)[0];
        assert_eq!(p["Action"], serde_json::json!(["firehose:PutRecord", "firehose:PutRecordBatch"]));
        assert_eq!(p["Resource"], "arn:aws:firehose:eu-west-1:123456789012:deliverystream/metrics");
        let s3 = rendered_by(
            "AmazonCloudWatchMetricStreamsFirehoseToS3RoleTemplate",
            &[
                ("bucketName", "metrics-bucket"),
                ("logGroupName", "/aws/kinesisfirehose/metrics"),
                ("logStreamName", "DestinationDelivery"),
            ],
        );
        let t = &statements(&s3.trust_policy)[0];
        assert_eq!(t["Principal"]["Service"], "firehose.amazonaws.com");
        assert_eq!(t["Condition"]["StringEquals"]["sts:ExternalId"], "123456789012");
        let s = statements(&s3.inline_policies[0].1);
        assert_eq!(
            s[0]["Resource"],
            serde_json::json!(["arn:aws:s3:::metrics-bucket", "arn:aws:s3:::metrics-bucket/*"])
        );
        assert_eq!(
            s[1]["Resource"],
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesisfirehose/metrics:log-stream:DestinationDelivery"
        );
    }

    #[test]
    fn scheduled_query_role_reads_the_accounts_log_groups_in_its_region() {
        let r = rendered_by("AmazonCloudWatchLogsScheduledQueryExecutionRoleTemplate", &[]);
        assert_eq!(statements(&r.trust_policy)[0]["Principal"]["Service"], "logs.amazonaws.com");
        let s = statements(&r.inline_policies[0].1);
        assert_eq!(s[0]["Action"], serde_json::json!(["logs:StartQuery", "logs:DescribeLogGroups"]));
        assert_eq!(s[0]["Resource"], "arn:aws:logs:eu-west-1:123456789012:log-group:*");
        assert_eq!((s[1]["Action"].as_str(), s[1]["Resource"].as_str()), (Some("logs:GetQueryResults"), Some("*")));
        let arn = "arn:aws:iam::aws:role-template/logs.amazonaws.com/AmazonCloudWatchLogsScheduledQueryExecutionRoleTemplate:1";
        let (_, v) = lookup(arn, None).expect("published");
        assert_eq!(render(v, &given(&[("RoleName", &["x"])])).unwrap_err().code, "InvalidInput", "account is required");
    }

    #[test]
    fn secrets_manager_switches_turn_the_key_and_admin_statements_on() {
        let (_, v) = lookup(SECRETS, None).expect("published");
        let base: &[(&str, &[&str])] =
            &[("RoleName", &["rotation"]), ("accountId", &["123456789012"]), ("region", &["eu-west-1"])];
        let with = |extra: &[(&str, &[&str])]| render(v, &given(&[base, extra].concat()));
        let names = |r: &Rendered| r.inline_policies.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        // Off by default: the rotation statements alone.
        let plain = with(&[]).expect("render");
        assert_eq!(names(&plain), ["SecretsManagerRotation"]);
        assert_eq!(statements(&plain.trust_policy)[0]["Principal"]["Service"], "lambda.amazonaws.com");
        let s = statements(&plain.inline_policies[0].1);
        assert_eq!(s[0]["Resource"], "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*");
        // A switch takes true or false; the key's statement needs the key.
        assert_eq!(with(&[("CMK_ENABLED", &["yes"])]).unwrap_err().code, "InvalidInput");
        let e = with(&[("CMK_ENABLED", &["true"])]).unwrap_err();
        assert!(e.message.contains("kmsKeyArn"), "{}", e.message);
        assert_eq!(names(&with(&[("CMK_ENABLED", &["false"])]).expect("render")), ["SecretsManagerRotation"]);
        let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let r = with(&[("CMK_ENABLED", &["true"]), ("kmsKeyArn", &[key])]).expect("render");
        assert_eq!(names(&r), ["SecretsManagerRotation", "SecretsManagerRotationCustomerManagedKey"]);
        let k = &statements(&r.inline_policies[1].1)[0];
        assert_eq!(k["Resource"], key);
        assert_eq!(
            k["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"],
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:*"
        );
        let admin = with(&[("ADMIN_RESOURCE_ENABLED", &["true"])]).expect("render");
        assert_eq!(names(&admin), ["SecretsManagerRotation", "SecretsManagerRotationAdminSecret"]);
        assert_ne!(admin.fingerprint(), plain.fingerprint());
    }
}
