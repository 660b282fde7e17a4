//! Input decoding and the model's constraints, reported as Organizations reports them:
//! `InvalidInputException` with a `Reason` (`INVALID_PATTERN`, `MAX_LENGTH_EXCEEDED`, ...).

use serde_json::Value;
use tessera_wire::AwsError;

use crate::model::Tag;

/// `InvalidInputException` with `reason`.
pub(super) fn invalid(reason: &str, message: &str) -> AwsError {
    AwsError::new(400, "InvalidInputException", message).with_reason(reason)
}

fn wrong_type(name: &str) -> AwsError {
    AwsError::new(400, "SerializationException", format!("Invalid type for member {name}"))
}

/// The decoded JSON body of a request.
#[derive(Debug, Clone, Copy)]
pub(super) struct In<'a>(pub &'a Value);

impl<'a> In<'a> {
    /// An optional string member.
    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, AwsError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name)),
        }
    }

    /// A required string member.
    pub fn req_str(&self, name: &str) -> Result<&'a str, AwsError> {
        self.opt_str(name)?.ok_or_else(|| {
            invalid(
                "INPUT_REQUIRED",
                &format!("You must specify a value for {name}. Include a value for all required parameters."),
            )
        })
    }

    /// An optional integer member.
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, AwsError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| wrong_type(name)),
            Some(_) => Err(wrong_type(name)),
        }
    }

    /// An optional timestamp member (epoch seconds, as the JSON protocol sends it; a fraction
    /// is dropped).
    pub fn opt_timestamp(&self, name: &str) -> Result<Option<i64>, AwsError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Ok(Some(i)),
                (None, Some(f)) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
                _ => Err(wrong_type(name)),
            },
            Some(_) => Err(wrong_type(name)),
        }
    }

    /// An optional list of strings.
    pub fn opt_str_list(&self, name: &str) -> Result<Option<Vec<&'a str>>, AwsError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => {
                items.iter().map(|v| v.as_str().ok_or_else(|| wrong_type(name))).collect::<Result<_, _>>().map(Some)
            }
            Some(_) => Err(wrong_type(name)),
        }
    }

    /// An optional `Tags` list, checked: keys 1-128, values 0-256, AWS's tag pattern, unique keys,
    /// at most [`MAX_TAGS`].
    pub fn tags(&self, name: &str) -> Result<Option<Vec<Tag>>, AwsError> {
        let items = match self.0.get(name) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(wrong_type(name)),
        };
        let mut tags: Vec<Tag> = Vec::with_capacity(items.len());
        for item in items {
            let t = In(item);
            if !item.is_object() {
                return Err(wrong_type(name));
            }
            let key = t.req_str("Key")?;
            let value = t.req_str("Value")?;
            check_tag_key(key)?;
            length(value, 0, 256)?;
            pattern(crate::validate::is_tag_text(value))?;
            if tags.iter().any(|x| x.key == key) {
                return Err(invalid(
                    "DUPLICATE_TAG_KEY",
                    "Tag keys must be unique among the tags attached to the same entity.",
                ));
            }
            tags.push(Tag { key: key.to_string(), value: value.to_string() });
        }
        if tags.len() > MAX_TAGS {
            return Err(super::constraint("MAX_TAG_LIMIT_EXCEEDED"));
        }
        Ok(Some(tags))
    }

    /// `MaxResults` (1-20) and `NextToken`.
    pub fn page(&self) -> Result<Page, AwsError> {
        let max = match self.opt_int("MaxResults")? {
            None => MAX_RESULTS,
            Some(n) if n < 1 => {
                return Err(invalid(
                    "MIN_VALUE_EXCEEDED",
                    "You provided a value that is less than the minimum allowed value.",
                ))
            }
            Some(n) if n > MAX_RESULTS as i64 => {
                return Err(invalid(
                    "MAX_VALUE_EXCEEDED",
                    "You provided a value that exceeds the maximum allowed value.",
                ))
            }
            Some(n) => n as usize,
        };
        let after = match self.opt_str("NextToken")? {
            None => None,
            Some(t) => Some(decode_token(t).ok_or_else(bad_token)?),
        };
        Ok(Page { max, after })
    }
}

/// Most tags on one resource.
pub(super) const MAX_TAGS: usize = 50;
/// `MaxResults` maximum and default.
const MAX_RESULTS: usize = 20;

fn bad_token() -> AwsError {
    invalid(
        "INVALID_NEXT_TOKEN",
        "The specified NextToken is not valid. Get the value from the response to a previous call of the operation.",
    )
}

/// Check a tag key.
pub(super) fn check_tag_key(key: &str) -> Result<(), AwsError> {
    length(key, 1, 128)?;
    pattern(crate::validate::is_tag_text(key))
}

/// A length constraint in characters.
pub(super) fn length(value: &str, min: usize, max: usize) -> Result<(), AwsError> {
    let n = value.chars().count();
    if n < min {
        return Err(invalid(
            "MIN_LENGTH_EXCEEDED",
            "You provided a string value that is shorter than the minimum length.",
        ));
    }
    if n > max {
        return Err(invalid(
            "MAX_LENGTH_EXCEEDED",
            "You provided a string value that is longer than the maximum length.",
        ));
    }
    Ok(())
}

/// A pattern constraint.
pub(super) fn pattern(ok: bool) -> Result<(), AwsError> {
    if ok {
        Ok(())
    } else {
        Err(invalid("INVALID_PATTERN", "You provided a value that does not match the required pattern."))
    }
}

/// An enum constraint.
pub(super) fn one_of(value: &str, allowed: &[&str]) -> Result<(), AwsError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(invalid("INVALID_ENUM", "You specified an invalid value."))
    }
}

/// A `PolicyType` / `Filter` value.
pub(super) fn policy_type(value: &str) -> Result<(), AwsError> {
    if super::POLICY_TYPES.contains(&value) {
        Ok(())
    } else {
        Err(invalid("INVALID_ENUM_POLICY_TYPE", "You specified an invalid policy type string."))
    }
}

fn lower_alnum(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// `^\d{12}$`.
pub(super) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit())
}

/// `^r-[0-9a-z]{4,32}$`.
pub(super) fn is_root_id(s: &str) -> bool {
    s.strip_prefix("r-").is_some_and(|r| lower_alnum(r, 4, 32))
}

/// `^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`.
pub(super) fn is_ou_id(s: &str) -> bool {
    s.strip_prefix("ou-")
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(a, b)| lower_alnum(a, 4, 32) && lower_alnum(b, 8, 32))
}

/// `^p-[0-9a-zA-Z_]{8,128}$`.
pub(super) fn is_policy_id(s: &str) -> bool {
    s.strip_prefix("p-")
        .is_some_and(|r| (8..=128).contains(&r.len()) && r.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'))
}

/// `^car-[a-z0-9]{8,32}$`.
pub(super) fn is_create_account_request_id(s: &str) -> bool {
    s.strip_prefix("car-").is_some_and(|r| lower_alnum(r, 8, 32))
}

/// The model's `Email` pattern `[^\s@]+@[^\s@]+\.[^\s@]+`, matched against the whole value.
pub(super) fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    let plain = |x: &str| !x.is_empty() && !x.chars().any(|c| c.is_whitespace() || c == '@');
    plain(local) && plain(domain) && domain.rsplit_once('.').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
}

/// The stricter rules of `CreateAccount`'s documentation (7-bit ASCII, no special characters in
/// the local part, a domain of letters, digits, `-` and `.` not starting or ending with either).
/// An address that passes [`is_email`] but not this fails asynchronously with `INVALID_EMAIL`.
pub(super) fn is_deliverable_email(s: &str) -> bool {
    if !s.is_ascii() || !is_email(s) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else { return false };
    let local_ok = !local.starts_with('.') && !local.chars().any(|c| "\"'()<>[]:;,\\|%&".contains(c));
    let domain_ok = domain.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        && !domain.starts_with(['-', '.'])
        && !domain.ends_with(['-', '.'])
        && domain.contains('.');
    local_ok && domain_ok
}

/// The `[\u0020-\u007E]+` of `CreateAccountName`.
pub(super) fn is_printable_ascii(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| (' '..='~').contains(&c))
}

/// A page request: at most `max` items after the item whose sort key is `after`.
#[derive(Debug, Clone)]
pub(super) struct Page {
    /// Most items in the page.
    pub max: usize,
    /// Resume after this sort key.
    pub after: Option<String>,
}

impl Page {
    /// The page of `items` (sorted ascending by `key`) and the `NextToken` of the next one.
    pub fn apply<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
        let mut out = Vec::new();
        let mut next = None;
        for item in items {
            if let Some(after) = &self.after {
                if key(&item).as_str() <= after.as_str() {
                    continue;
                }
            }
            if out.len() == self.max {
                next = out.last().map(|last| encode_token(&key(last)));
                break;
            }
            out.push(item);
        }
        (out, next)
    }
}

const TOKEN_PREFIX: &str = "tsr1";

fn encode_token(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_PREFIX}{hex}")
}

fn decode_token(token: &str) -> Option<String> {
    let hex = token.strip_prefix(TOKEN_PREFIX)?;
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_patterns() {
        assert!(is_account_id("123456789012") && !is_account_id("12345678901") && !is_account_id("12345678901a"));
        assert!(is_root_id("r-ab12") && !is_root_id("r-ab1") && !is_root_id("r-AB12"));
        assert!(is_ou_id("ou-ab12-abcdefgh") && !is_ou_id("ou-ab12-abcdefg") && !is_ou_id("ou-ab12abcdefgh"));
        assert!(is_policy_id("p-FullAWSAccess") && is_policy_id("p-abcd1234") && !is_policy_id("p-abc"));
        assert!(is_create_account_request_id("car-0123456789abcdef") && !is_create_account_request_id("car-x"));
    }

    #[test]
    fn emails() {
        assert!(is_email("a@b.co") && !is_email("ab.co") && !is_email("a@bco") && !is_email("a b@c.de"));
        assert!(!is_email("a@b@c.de"));
        assert!(is_deliverable_email("sandy+1@example.com"));
        assert!(!is_deliverable_email(".a@example.com") && !is_deliverable_email("a(b@example.com"));
        assert!(!is_deliverable_email("a@-example.com") && !is_deliverable_email("a@ex_ample.com"));
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let page = Page { max: 2, after: None };
        let (items, next) = page.apply(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(items, vec!["a", "b"]);
        let token = next.unwrap();
        let v = serde_json::json!({"NextToken": token, "MaxResults": 2});
        let page = In(&v).page().unwrap();
        assert_eq!(page.apply(vec!["a", "b", "c"], |s| s.to_string()), (vec!["c"], None));
        let bad = serde_json::json!({"NextToken": "zz"});
        assert_eq!(In(&bad).page().unwrap_err().reason.as_deref(), Some("INVALID_NEXT_TOKEN"));
        let big = serde_json::json!({"MaxResults": 21});
        assert_eq!(In(&big).page().unwrap_err().reason.as_deref(), Some("MAX_VALUE_EXCEEDED"));
    }

    #[test]
    fn tags_are_checked() {
        let v = serde_json::json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]});
        assert_eq!(In(&v).tags("Tags").unwrap_err().reason.as_deref(), Some("DUPLICATE_TAG_KEY"));
        let v = serde_json::json!({"Tags": [{"Key": "", "Value": "1"}]});
        assert_eq!(In(&v).tags("Tags").unwrap_err().reason.as_deref(), Some("MIN_LENGTH_EXCEEDED"));
        let v = serde_json::json!({"Tags": [{"Key": "a*", "Value": "1"}]});
        assert_eq!(In(&v).tags("Tags").unwrap_err().reason.as_deref(), Some("INVALID_PATTERN"));
        let many: Vec<_> = (0..51).map(|i| serde_json::json!({"Key": format!("k{i}"), "Value": ""})).collect();
        let v = serde_json::json!({ "Tags": many });
        assert_eq!(In(&v).tags("Tags").unwrap_err().code, "ConstraintViolationException");
    }
}
