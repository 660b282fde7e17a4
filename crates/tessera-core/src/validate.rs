//! Input constraints as the API models state them, with AWS's `ValidationError` message shape:
//! `1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint: Member must ...`.

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams};

/// Collects constraint failures of one request and reports them together, as AWS does.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<String>,
}

impl Checks {
    /// No failures yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, field: &str, value: &str, constraint: &str) {
        self.errors
            .push(format!("Value '{value}' at '{field}' failed to satisfy constraint: Member must {constraint}"));
    }

    /// Length in characters between `min` and `max` (inclusive).
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) -> &mut Self {
        let n = value.chars().count();
        if n < min {
            self.fail(field, value, &format!("have length greater than or equal to {min}"));
        } else if n > max {
            self.fail(field, value, &format!("have length less than or equal to {max}"));
        }
        self
    }

    /// Optional value: checked only when present.
    pub fn length_opt(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) -> &mut Self {
        if let Some(v) = value {
            self.length(field, v, min, max);
        }
        self
    }

    /// Matches the model's pattern, described by `pattern` (the regex text AWS prints).
    pub fn pattern(&mut self, field: &str, value: &str, pattern: &str, ok: impl Fn(&str) -> bool) -> &mut Self {
        if !ok(value) {
            self.fail(field, value, &format!("satisfy regular expression pattern: {pattern}"));
        }
        self
    }

    /// Optional value: checked only when present.
    pub fn pattern_opt(
        &mut self,
        field: &str,
        value: Option<&str>,
        pattern: &str,
        ok: impl Fn(&str) -> bool,
    ) -> &mut Self {
        if let Some(v) = value {
            self.pattern(field, v, pattern, ok);
        }
        self
    }

    /// Integer between `min` and `max` (inclusive).
    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) -> &mut Self {
        if value < min {
            self.fail(field, &value.to_string(), &format!("have value greater than or equal to {min}"));
        } else if value > max {
            self.fail(field, &value.to_string(), &format!("have value less than or equal to {max}"));
        }
        self
    }

    /// A required member inside a structure (`tags.1.member.value`) that is absent.
    pub fn not_null(&mut self, field: &str, present: bool) -> &mut Self {
        if !present {
            self.errors.push(format!("Value null at '{field}' failed to satisfy constraint: Member must not be null"));
        }
        self
    }

    /// A list of `len` members (shown as `shown`) with at most `max` members.
    pub fn list_length(&mut self, field: &str, shown: &str, len: usize, max: usize) -> &mut Self {
        if len > max {
            self.fail(field, shown, &format!("have length less than or equal to {max}"));
        }
        self
    }

    /// One of the values of an enum.
    pub fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) -> &mut Self {
        if let Some(v) = value {
            if !allowed.contains(&v) {
                self.fail(field, v, &format!("satisfy enum value set: [{}]", allowed.join(", ")));
            }
        }
        self
    }

    /// Whether no failure was recorded so far.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `ValidationError` listing every failure, or `Ok` when there is none.
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

/// `[\w+=,.@-]+`: names of users, groups, roles, policies, sessions.
pub const NAME_PATTERN: &str = r"[\w+=,.@-]+";

/// Whether `s` matches [`NAME_PATTERN`].
pub fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// `(\u002F)|(\u002F[\u0021-\u007E]+\u002F)`: IAM paths.
pub const PATH_PATTERN: &str = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";

/// Whether `s` matches [`PATH_PATTERN`].
pub fn is_path(s: &str) -> bool {
    s == "/"
        || (s.len() > 2
            && s.starts_with('/')
            && s.ends_with('/')
            && s.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c)))
}

/// `[\u0009\u000A\u000D\u0020-\u00FF]+`: policy documents.
pub const POLICY_DOCUMENT_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u00FF]+";

/// Whether `s` matches [`POLICY_DOCUMENT_PATTERN`].
pub fn is_policy_document_text(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{ff}'))
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: tag keys and values.
pub const TAG_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";

/// Whether `s` matches [`TAG_PATTERN`].
pub fn is_tag_text(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// `Marker`/`MaxItems` of an IAM list call.
#[derive(Debug, Clone)]
pub struct Page {
    /// At most this many items (1-1000, default 100).
    pub max_items: usize,
    /// Resume after the item whose sort key this marker encodes.
    pub after: Option<String>,
}

impl Page {
    /// Read and check `Marker` and `MaxItems`.
    pub fn from_params(p: &QueryParams) -> Result<Page, AwsError> {
        let mut checks = Checks::new();
        let max_items = match p.get("MaxItems") {
            None => 100,
            Some(v) => match v.parse::<i64>() {
                Ok(n) => {
                    checks.range("maxItems", n, 1, 1000);
                    n.clamp(1, 1000) as usize
                }
                Err(_) => return Err(AwsError::validation(format!("Invalid value for MaxItems: {v}"))),
            },
        };
        let marker = p.get("Marker");
        checks.length_opt("marker", marker, 1, 320);
        checks.finish()?;
        let after = match marker {
            None => None,
            Some(m) => Some(decode_marker(m).ok_or_else(|| AwsError::validation("Invalid Marker."))?),
        };
        Ok(Page { max_items, after })
    }

    /// The page of `items` (sorted by `key`) after the marker, and the marker of the next page.
    pub fn apply<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
        let mut out = Vec::new();
        let mut next = None;
        for item in items {
            if let Some(after) = &self.after {
                if key(&item).as_str() <= after.as_str() {
                    continue;
                }
            }
            if out.len() == self.max_items {
                next = out.last().map(|last| encode_marker(&key(last)));
                break;
            }
            out.push(item);
        }
        (out, next)
    }
}

/// The opaque marker that resumes a listing after the item with sort key `key`.
pub fn marker_for(key: &str) -> String {
    encode_marker(key)
}

/// Write `<IsTruncated>` and, when truncated, `<Marker>`.
pub fn write_truncation(w: &mut XmlWriter, next_marker: Option<&str>) {
    w.elem("IsTruncated", if next_marker.is_some() { "true" } else { "false" });
    w.opt("Marker", next_marker);
}

fn encode_marker(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_marker(marker: &str) -> Option<String> {
    if !marker.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..marker.len()).step_by(2).map(|i| u8::from_str_radix(marker.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_and_many_errors_are_reported_as_aws_does() {
        let err = Checks::new().length("userName", "", 1, 64).finish().unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert_eq!(
            err.message,
            "1 validation error detected: Value '' at 'userName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let err = Checks::new()
            .pattern("userName", "a b", NAME_PATTERN, is_name)
            .range("maxItems", 0, 1, 1000)
            .finish()
            .unwrap_err();
        assert!(err.message.starts_with("2 validation errors detected: Value 'a b' at 'userName'"), "{}", err.message);
        assert!(err.message.contains(
            "; Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ));
    }

    #[test]
    fn patterns() {
        assert!(is_name("Sandy+1@x.com") && !is_name("a/b") && !is_name(""));
        assert!(
            is_path("/")
                && is_path("/a/b/")
                && !is_path("a/")
                && !is_path("//x")
                && !is_path("/a")
                && !is_path("/a b/")
        );
        assert!(is_policy_document_text("{\n}") && !is_policy_document_text("\u{100}"));
        assert!(is_tag_text("team:a b") && !is_tag_text("a*"));
    }

    #[test]
    fn pages_resume_after_the_marker() {
        let page = Page { max_items: 2, after: None };
        let (first, marker) = page.apply(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(first, vec!["a", "b"]);
        let marker = marker.unwrap();
        let page =
            Page::from_params(&QueryParams::from_pairs([("Marker", marker.as_str()), ("MaxItems", "2")])).unwrap();
        let (second, marker) = page.apply(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(second, vec!["c"]);
        assert!(marker.is_none());
        assert!(Page::from_params(&QueryParams::from_pairs([("MaxItems", "1001")])).is_err());
        assert!(Page::from_params(&QueryParams::from_pairs([("Marker", "zz")])).is_err());
    }
}
