//! Parameters STS operations share: validation with AWS's messages, session policies, session
//! tags, durations, MFA, and the packed size of policies and tags.

use tessera_wire::{AwsError, QueryParams};

use crate::authz::{self, PolicyDocKind};
use crate::model::Tag;
use crate::validate;

/// Constraint failures of one request, reported together as AWS does
/// (`N validation errors detected: Value 'x' at 'field' failed to satisfy constraint: ...`).
#[derive(Debug, Default)]
pub struct Check {
    errors: Vec<String>,
}

impl Check {
    fn fail(&mut self, field: &str, value: &str, constraint: &str) {
        self.errors
            .push(format!("Value '{value}' at '{field}' failed to satisfy constraint: Member must {constraint}"));
    }

    /// Length in characters between `min` and `max`.
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) -> &mut Self {
        let n = value.chars().count();
        if n < min {
            self.fail(field, value, &format!("have length greater than or equal to {min}"));
        } else if n > max {
            self.fail(field, value, &format!("have length less than or equal to {max}"));
        }
        self
    }

    /// Length between `min` and `max` of a secret value (a web identity token, a SAML
    /// assertion), which the message shows as `***`.
    pub fn secret_length(&mut self, field: &str, value: &str, min: usize, max: usize) -> &mut Self {
        let n = value.chars().count();
        if n < min {
            self.fail(field, "***", &format!("have length greater than or equal to {min}"));
        } else if n > max {
            self.fail(field, "***", &format!("have length less than or equal to {max}"));
        }
        self
    }

    /// Matches the model's `pattern` (printed as AWS prints it).
    pub fn pattern(&mut self, field: &str, value: &str, pattern: &str, ok: bool) -> &mut Self {
        if !ok {
            self.fail(field, value, &format!("satisfy regular expression pattern: {pattern}"));
        }
        self
    }

    /// Integer between `min` and `max`.
    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) -> &mut Self {
        if value < min {
            self.fail(field, &value.to_string(), &format!("have value greater than or equal to {min}"));
        } else if value > max {
            self.fail(field, &value.to_string(), &format!("have value less than or equal to {max}"));
        }
        self
    }

    /// A list of at most `max` members (`rendered` is how the value is shown).
    pub fn count(&mut self, field: &str, rendered: &str, n: usize, max: usize) -> &mut Self {
        if n > max {
            self.fail(field, rendered, &format!("have length less than or equal to {max}"));
        }
        self
    }

    /// `ValidationError` listing every failure, or `Ok`.
    pub fn finish(&mut self) -> Result<(), AwsError> {
        match self.errors.len() {
            0 => Ok(()),
            n => {
                let noun = if n == 1 { "error" } else { "errors" };
                Err(AwsError::validation(format!("{n} validation {noun} detected: {}", self.errors.join("; "))))
            }
        }
    }
}

/// `[\w+=,.@-]*` (session names, source identity, federated user names).
pub const SESSION_NAME_PATTERN: &str = r"[\w+=,.@-]*";
/// `[\w+=,.@:\/-]*` (external id).
pub const EXTERNAL_ID_PATTERN: &str = r"[\w+=,.@:\/-]*";
/// `[\w+=/:,.@-]*` (MFA serial number).
pub const SERIAL_NUMBER_PATTERN: &str = r"[\w+=/:,.@-]*";
/// `[\d]*` (MFA code).
pub const TOKEN_CODE_PATTERN: &str = r"[\d]*";
/// The `arnType` pattern.
pub const ARN_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+";
/// Tag keys.
pub const TAG_KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
/// Tag values.
pub const TAG_VALUE_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";
/// Policy documents.
pub const POLICY_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";
/// `[\w]*` (access key ids).
pub const ACCESS_KEY_ID_PATTERN: &str = r"[\w]*";

/// Characters of `[\w+=,.@-]`.
pub fn is_session_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Whether `s` matches `[\w+=,.@-]*`.
pub fn is_session_name(s: &str) -> bool {
    s.chars().all(is_session_name_char)
}

/// Whether `s` matches the `arnType` pattern.
pub fn is_arn_text(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
                || c >= '\u{10000}'
        })
}

/// Whether `s` matches the tag pattern (keys additionally need one character).
pub fn is_tag_text(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// A parsed ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    /// Service (`iam`).
    pub service: &'a str,
    /// Region (empty for IAM).
    pub region: &'a str,
    /// Account id.
    pub account: &'a str,
    /// Resource (`role/path/name`).
    pub resource: &'a str,
}

/// Split an ARN, or AWS's `ValidationError` `"<arn> is invalid"`.
pub fn parse_arn(arn: &str) -> Result<Arn<'_>, AwsError> {
    let invalid = || AwsError::validation(format!("{arn} is invalid"));
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
        return Err(invalid());
    };
    if *prefix != "arn" || partition.is_empty() || service.is_empty() || resource.is_empty() {
        return Err(invalid());
    }
    Ok(Arn { service, region, account, resource })
}

/// An IAM role ARN's (account, path, name), when `arn` names one (`arn:aws:iam::<12 digits>:role<path><name>`).
pub fn role_arn_parts(arn: &Arn<'_>) -> Option<(String, String, String)> {
    if arn.service != "iam" || !arn.region.is_empty() {
        return None;
    }
    if arn.account.len() != 12 || !arn.account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = arn.resource.strip_prefix("role/")?;
    let (path, name) = match rest.rfind('/') {
        Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
        None => ("/".to_string(), rest),
    };
    if name.is_empty() || !validate::is_name(name) || !validate::is_path(&path) {
        return None;
    }
    Some((arn.account.to_string(), path, name.to_string()))
}

/// `DurationSeconds`, when given (an unparsable number is a `ValidationError`).
pub fn duration(p: &QueryParams) -> Result<Option<i64>, AwsError> {
    integer(p, "DurationSeconds")
}

/// The integer parameter `name`, when given (an unparsable number is a `ValidationError`).
pub fn integer(p: &QueryParams, name: &str) -> Result<Option<i64>, AwsError> {
    match p.get(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AwsError::validation(format!("Invalid value for {name}: {v}"))),
    }
}

/// Session policy, policy ARNs and tags of a request.
#[derive(Debug, Clone, Default)]
pub struct SessionInputs {
    /// Inline session policy, as given.
    pub policy: Option<String>,
    /// Managed session policy ARNs.
    pub policy_arns: Vec<String>,
    /// Session tags.
    pub tags: Vec<Tag>,
    /// Transitive tag keys (AssumeRole).
    pub transitive_tag_keys: Vec<String>,
}

fn render_tags(tags: &[Tag]) -> String {
    let inner: Vec<String> = tags.iter().map(|t| format!("Tag(key={}, value={})", t.key, t.value)).collect();
    format!("[{}]", inner.join(", "))
}

/// `RoleArn` (20-2,048, ARN characters) and `RoleSessionName` (2-64 of `[\w+=,.@-]`), as every
/// AssumeRole* operation's model constrains them.
pub fn role_and_session_name(check: &mut Check, role_arn: &str, session_name: &str) {
    check.length("roleArn", role_arn, 20, 2048).pattern("roleArn", role_arn, ARN_PATTERN, is_arn_text(role_arn));
    check.length("roleSessionName", session_name, 2, 64).pattern(
        "roleSessionName",
        session_name,
        SESSION_NAME_PATTERN,
        is_session_name(session_name),
    );
}

/// Read `Policy` (an inline session or scope-down policy) and add its model constraints
/// (1-2,048 characters of the policy pattern) to `check`.
pub fn policy_input(p: &QueryParams, check: &mut Check) -> Option<String> {
    let policy = p.get("Policy").map(str::to_string);
    if let Some(doc) = &policy {
        check.length("policy", doc, 1, 2048).pattern(
            "policy",
            doc,
            POLICY_PATTERN,
            validate::is_policy_document_text(doc),
        );
    }
    policy
}

/// Read `Policy`, `PolicyArns`, `Tags` (and `TransitiveTagKeys` when `transitive`) and add their
/// model constraints to `check`. `policy_max` is the policy length limit (2,048).
pub fn session_inputs(p: &QueryParams, check: &mut Check, transitive: bool) -> SessionInputs {
    let policy = policy_input(p, check);
    let arn_structs = p.structs("PolicyArns");
    let mut policy_arns = Vec::new();
    for (i, s) in arn_structs.iter().enumerate() {
        let arn = s.get("arn").unwrap_or("");
        let field = format!("policyArns.{}.member.arn", i + 1);
        check.length(&field, arn, 20, 2048).pattern(&field, arn, ARN_PATTERN, is_arn_text(arn));
        policy_arns.push(arn.to_string());
    }
    let rendered: Vec<String> = policy_arns.iter().map(|a| format!("PolicyDescriptorType(arn={a})")).collect();
    check.count("policyArns", &format!("[{}]", rendered.join(", ")), policy_arns.len(), 10);

    let mut tags = Vec::new();
    for (i, s) in p.structs("Tags").iter().enumerate() {
        let key = s.get("Key").unwrap_or("");
        let value = s.get("Value").unwrap_or("");
        let kf = format!("tags.{}.member.key", i + 1);
        let vf = format!("tags.{}.member.value", i + 1);
        check.length(&kf, key, 1, 128).pattern(&kf, key, TAG_KEY_PATTERN, !key.is_empty() && is_tag_text(key));
        check.length(&vf, value, 0, 256).pattern(&vf, value, TAG_VALUE_PATTERN, is_tag_text(value));
        tags.push(Tag { key: key.to_string(), value: value.to_string() });
    }
    check.count("tags", &render_tags(&tags), tags.len(), 50);

    let mut transitive_tag_keys = Vec::new();
    if transitive {
        let keys = p.list("TransitiveTagKeys");
        for (i, k) in keys.iter().enumerate() {
            let f = format!("transitiveTagKeys.{}.member", i + 1);
            check.length(&f, k, 1, 128).pattern(&f, k, TAG_KEY_PATTERN, !k.is_empty() && is_tag_text(k));
        }
        check.count("transitiveTagKeys", &format!("[{}]", keys.join(", ")), keys.len(), 50);
        transitive_tag_keys = keys.into_iter().map(str::to_string).collect();
    }
    SessionInputs { policy, policy_arns, tags, transitive_tag_keys }
}

/// The business rules of session inputs past the model: the policy document's grammar,
/// managed policy ARNs, and tag keys unique regardless of case. Returns the minified policy.
pub fn check_session_inputs(inputs: &SessionInputs) -> Result<Option<String>, AwsError> {
    let mut seen = std::collections::HashSet::new();
    for t in &inputs.tags {
        if !seen.insert(t.key.to_lowercase()) {
            return Err(AwsError::invalid_parameter_value(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    for k in &inputs.transitive_tag_keys {
        if !seen.contains(&k.to_lowercase()) {
            return Err(AwsError::invalid_parameter_value(
                "The specified transitive tag key must be included in the requested tags.",
            ));
        }
    }
    for arn in &inputs.policy_arns {
        let parsed = parse_arn(arn)?;
        let account_ok = parsed.account == "aws"
            || (parsed.account.len() == 12 && parsed.account.bytes().all(|b| b.is_ascii_digit()));
        if parsed.service != "iam"
            || !parsed.region.is_empty()
            || !account_ok
            || !parsed.resource.starts_with("policy/")
        {
            return Err(AwsError::validation(format!("{arn} is invalid")));
        }
    }
    match &inputs.policy {
        None => Ok(None),
        Some(doc) => {
            authz::validate_policy_document(doc, PolicyDocKind::Session, "")?;
            Ok(Some(minify_json(doc)))
        }
    }
}

/// The JSON text without insignificant whitespace (the document as given when it is not JSON).
pub fn minify_json(doc: &str) -> String {
    let mut out = String::with_capacity(doc.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in doc.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// The packed binary limit, in bytes, that `PackedPolicySize` is a percentage of.
pub const PACKED_LIMIT: usize = 2048;

/// `PackedPolicySize`: the deflated size of the session policy, policy ARNs and session tags,
/// as a percentage of [`PACKED_LIMIT`] (rounded up), or `PackedPolicyTooLarge` past 100%.
pub fn packed_policy_size(policy: Option<&str>, policy_arns: &[String], tags: &[Tag]) -> Result<u32, AwsError> {
    if policy.is_none() && policy_arns.is_empty() && tags.is_empty() {
        return Ok(0);
    }
    let mut packed = String::new();
    if let Some(p) = policy {
        packed.push_str(p);
    }
    for a in policy_arns {
        packed.push('\n');
        packed.push_str(a);
    }
    for t in tags {
        packed.push('\n');
        packed.push_str(&t.key);
        packed.push('=');
        packed.push_str(&t.value);
    }
    let size = super::tokens::deflated_len(packed.as_bytes());
    let percent = (size * 100).div_ceil(PACKED_LIMIT);
    if percent > 100 {
        return Err(AwsError::new(
            400,
            "PackedPolicyTooLarge",
            format!("Packed policy consumes {percent}% of allotted space, please use smaller policy."),
        ));
    }
    Ok(percent as u32)
}

/// `SerialNumber` and `TokenCode`, model-checked.
pub fn mfa_inputs<'a>(p: &'a QueryParams, check: &mut Check) -> (Option<&'a str>, Option<&'a str>) {
    let serial = p.get("SerialNumber");
    let code = p.get("TokenCode");
    if let Some(s) = serial {
        check.length("serialNumber", s, 9, 256).pattern(
            "serialNumber",
            s,
            SERIAL_NUMBER_PATTERN,
            s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c)),
        );
    }
    if let Some(c) = code {
        check.length("tokenCode", c, 6, 6).pattern(
            "tokenCode",
            c,
            TOKEN_CODE_PATTERN,
            c.bytes().all(|b| b.is_ascii_digit()),
        );
    }
    (serial, code)
}

/// Check an MFA code: `Ok(true)` when verified, `Ok(false)` when no MFA was given,
/// `AccessDenied` as AWS words it otherwise.
///
/// The device must be in the caller's account, and the caller an IAM user or the account root
/// user (role sessions and federated users have no MFA devices of their own).
pub fn verify_mfa(
    services: &crate::Services,
    caller: &crate::Caller,
    serial: Option<&str>,
    code: Option<&str>,
    now: i64,
) -> Result<bool, AwsError> {
    match (serial, code) {
        (None, None) => Ok(false),
        (Some(serial), Some(code)) => {
            // The device must be the caller's own: an IAM user's assigned device, or the root
            // user's (never an IAM user's device of the root's account).
            let own_device = match &caller.kind {
                crate::CallerKind::User { name, .. } => {
                    crate::iam::credentials::mfa_device_owner(services, serial)?
                        == Some((caller.account.clone(), name.clone()))
                }
                crate::CallerKind::Root => {
                    crate::iam::credentials::mfa::is_root_device(services, serial, &caller.account)?
                }
                _ => false,
            };
            if own_device && crate::iam::credentials::verify_mfa_token(services, serial, code, now)? {
                Ok(true)
            } else {
                Err(AwsError::access_denied("MultiFactorAuthentication failed with invalid MFA one time pass code."))
            }
        }
        _ => Err(AwsError::access_denied(
            "MultiFactorAuthentication failed, must provide both MFA serial number and one time pass code.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns() {
        assert_eq!(parse_arn("nothing-valid-in-here").unwrap_err().message, "nothing-valid-in-here is invalid");
        assert!(parse_arn("arn::b:::something/test-role").is_err());
        assert!(parse_arn("arn:a::::something/test-role").is_err());
        assert!(parse_arn("arn:a:::something/test-role").is_err());
        assert!(parse_arn("arn:a:a::aaaaaaaaaa:").is_err());
        let a = parse_arn("arn:aws:iam::123456789012:role/a/b/Name").unwrap();
        assert_eq!(role_arn_parts(&a), Some(("123456789012".into(), "/a/b/".into(), "Name".into())));
        let a = parse_arn("arn:aws:iam::123456789012:role/Name").unwrap();
        assert_eq!(role_arn_parts(&a), Some(("123456789012".into(), "/".into(), "Name".into())));
        for bad in
            ["arn:aws:iam::123456789012:user/Name", "arn:aws:s3::123456789012:role/Name", "arn:aws:iam::12345:role/N"]
        {
            assert_eq!(role_arn_parts(&parse_arn(bad).unwrap()), None, "{bad}");
        }
    }

    #[test]
    fn minify_keeps_strings() {
        assert_eq!(minify_json("{ \"a b\" : [ 1 , \"x \\\" y\" ] }\n"), "{\"a b\":[1,\"x \\\" y\"]}");
    }

    #[test]
    fn packed_size() {
        assert_eq!(packed_policy_size(None, &[], &[]).unwrap(), 0);
        let small = packed_policy_size(Some(r#"{"Version":"2012-10-17","Statement":[]}"#), &[], &[]).unwrap();
        assert!(small > 0 && small < 10, "{small}");
        let big: Vec<Tag> = (0..50)
            .map(|i| Tag {
                key: format!("k{i}{}", crate::ids::secret_access_key()),
                value: crate::ids::secret_access_key().repeat(6),
            })
            .collect();
        assert_eq!(packed_policy_size(None, &[], &big).unwrap_err().code, "PackedPolicyTooLarge");
    }
}
