//! Tags of certificate authorities: `TagCertificateAuthority`, `UntagCertificateAuthority`,
//! `ListTags`. At most 50 tags on a CA; keys 1-128 and values 0-256 characters of
//! `[\p{L}\p{Z}\p{N}_.:/=+\-@]`; keys starting with `aws:` are reserved (`InvalidTagException`).

use serde_json::{json, Value};
use tessera_core::model::Tag;
use tessera_core::validate::Checks;
use tessera_core::{Call, Services};
use tessera_wire::AwsError;

use crate::common::{
    authorized_ca, empty_list, err, finish, optional_list, paged, require_status, update_ca, NOT_DELETED,
};

/// Most tags on one CA.
pub(crate) const MAX_TAGS: usize = 50;

const TAG_PATTERN: &str = r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)";

fn tag_chars(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// A tag of a request: its key and, when given, its value.
pub(crate) type RequestTag = (String, Option<String>);

/// The `Tags` member: each tag's key (and value, unless `values_optional` lets it be absent)
/// checked against the model; `None` when absent.
pub(crate) fn parse_tags(input: &Value, values_optional: bool) -> Result<Option<Vec<RequestTag>>, AwsError> {
    let Some(list) = optional_list(input, "Tags")? else { return Ok(None) };
    if list.is_empty() {
        return Err(empty_list("tags"));
    }
    let mut c = Checks::new();
    c.list_length("tags", "[...]", list.len(), MAX_TAGS);
    let mut out = Vec::new();
    for (i, t) in list.iter().enumerate() {
        let field = format!("tags.{}.member", i + 1);
        let key = t.get("Key").and_then(Value::as_str);
        let value = t.get("Value").and_then(Value::as_str);
        c.not_null(&format!("{field}.key"), key.is_some());
        if !values_optional {
            c.not_null(&format!("{field}.value"), value.is_some());
        }
        c.length_opt(&format!("{field}.key"), key, 1, 128)
            .pattern_opt(&format!("{field}.key"), key, TAG_PATTERN, tag_chars)
            .length_opt(&format!("{field}.value"), value, 0, 256)
            .pattern_opt(&format!("{field}.value"), value, TAG_PATTERN, tag_chars);
        if let Some(k) = key {
            out.push((k.to_string(), value.map(str::to_string)));
        }
    }
    finish(&mut c)?;
    for (k, _) in &out {
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(err(
                "InvalidTagException",
                format!("The tag key {k} is not valid: the prefix aws: is reserved."),
            ));
        }
    }
    Ok(Some(out))
}

/// Tags to add (values required) merged into `existing`: a new value for a known key replaces
/// it. `TooManyTagsException` past [`MAX_TAGS`].
pub(crate) fn merged(existing: &[Tag], new: &[RequestTag]) -> Result<Vec<Tag>, AwsError> {
    let mut all = existing.to_vec();
    for (k, v) in new {
        let value = v.clone().unwrap_or_default();
        match all.iter_mut().find(|t| &t.key == k) {
            Some(t) => t.value = value,
            None => all.push(Tag { key: k.clone(), value }),
        }
    }
    if all.len() > MAX_TAGS {
        return Err(err("TooManyTagsException", format!("A certificate authority can have at most {MAX_TAGS} tags.")));
    }
    Ok(all)
}

/// `TagCertificateAuthority`.
pub fn tag(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:TagCertificateAuthority")?;
    let new = parse_tags(input, false)?.ok_or_else(|| crate::common::missing("Tags"))?;
    require_status(&ca, NOT_DELETED)?;
    update_ca(services, &ca, |_, stored| {
        stored.tags = merged(&stored.tags, &new)?;
        Ok(())
    })?;
    Ok(json!({}))
}

/// `UntagCertificateAuthority`: a tag given with a value is removed only when the value matches.
pub fn untag(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:UntagCertificateAuthority")?;
    let gone = parse_tags(input, true)?.ok_or_else(|| crate::common::missing("Tags"))?;
    require_status(&ca, NOT_DELETED)?;
    update_ca(services, &ca, |_, stored| {
        stored.tags.retain(|t| !gone.iter().any(|(k, v)| *k == t.key && v.as_ref().is_none_or(|v| *v == t.value)));
        Ok(())
    })?;
    Ok(json!({}))
}

/// `ListTags`: in the order they were added.
pub fn list(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ca = authorized_ca(services, call, input, "CertificateAuthorityArn", "acm-pca:ListTags")?;
    let items =
        ca.tags.iter().enumerate().map(|(i, t)| (format!("{i:04}"), json!({"Key": t.key, "Value": t.value}))).collect();
    paged(input, "Tags", items, 1000, 1000)
}
