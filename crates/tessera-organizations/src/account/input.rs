//! Input checks of the Account API model, reported as `ValidationException` (400) with
//! `reason` `fieldValidationFailed` and a `fieldList` naming every failing field.

use serde_json::Value;
use tessera_wire::AwsError;

/// A `ValidationException` for one field.
pub fn invalid_field(name: &str, message: &str) -> AwsError {
    Fields::default().fail(name, message).into_error().unwrap_or_else(AwsError::internal)
}

/// The failures found in one request.
#[derive(Debug, Default)]
pub struct Fields {
    failures: Vec<(String, String)>,
}

/// A string member's constraints.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub min: usize,
    pub max: usize,
    pub pattern: Option<fn(&str) -> bool>,
}

impl Fields {
    fn fail(mut self, name: &str, message: &str) -> Self {
        self.failures.push((name.to_string(), message.to_string()));
        self
    }

    /// Record a failure of `name`.
    pub fn push(&mut self, name: &str, message: String) {
        self.failures.push((name.to_string(), message));
    }

    /// A string member of `obj` (required or not) checked against `rule`.
    pub fn string<'a>(&mut self, obj: &'a Value, name: &str, required: bool, rule: Rule) -> Option<&'a str> {
        match obj.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.push(name, "Member must not be null".into());
                }
                None
            }
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n < rule.min || n > rule.max {
                    self.push(
                        name,
                        format!("Member must have length between {} and {}, inclusive", rule.min, rule.max),
                    );
                    None
                } else if rule.pattern.is_some_and(|p| !p(s)) {
                    self.push(name, "Member must satisfy the pattern of the API model".into());
                    None
                } else {
                    Some(s)
                }
            }
            Some(_) => {
                self.push(name, "Member must be a string".into());
                None
            }
        }
    }

    /// An enum member.
    pub fn one_of<'a>(&mut self, obj: &'a Value, name: &str, allowed: &[&str]) -> Option<&'a str> {
        let rule = Rule { min: 1, max: 64, pattern: None };
        let v = self.string(obj, name, true, rule)?;
        if allowed.contains(&v) {
            Some(v)
        } else {
            self.push(name, format!("Member must satisfy enum value set: [{}]", allowed.join(", ")));
            None
        }
    }

    /// The optional `AccountId` (`\d{12}`).
    pub fn account_id<'a>(&mut self, obj: &'a Value) -> Option<&'a str> {
        self.string(obj, "AccountId", false, Rule { min: 12, max: 12, pattern: Some(is_account_id) })
    }

    /// `Ok` when nothing failed, else the `ValidationException`.
    pub fn finish(self) -> Result<(), AwsError> {
        match self.into_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn into_error(self) -> Option<AwsError> {
        if self.failures.is_empty() {
            return None;
        }
        let n = self.failures.len();
        let detail: Vec<String> = self
            .failures
            .iter()
            .map(|(name, m)| format!("Value at '{name}' failed to satisfy constraint: {m}"))
            .collect();
        let message = format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, detail.join("; "));
        let mut e = AwsError::new(400, "ValidationException", message).with_reason("fieldValidationFailed");
        for (name, m) in self.failures {
            e = e.with_field(name, m);
        }
        Some(e)
    }
}

/// `\d{12}`.
fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// `EmailAddress`: `[\s]*[\w+=.#|!&-]+@[\w.-]+\.[\w]+[\s]*`.
pub(super) fn is_email(s: &str) -> bool {
    let s = s.trim();
    let Some((local, domain)) = s.split_once('@') else { return false };
    let Some((host, tld)) = domain.rsplit_once('.') else { return false };
    !local.is_empty()
        && local.chars().all(|c| is_word(c) || "+=.#|!&-".contains(c))
        && !host.is_empty()
        && host.chars().all(|c| is_word(c) || c == '.' || c == '-')
        && !tld.is_empty()
        && tld.chars().all(is_word)
}

/// `PhoneNumber` of an alternate contact: `[\s0-9()+-]+`.
pub(super) fn is_phone(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_whitespace() || c.is_ascii_digit() || "()+-".contains(c))
}

/// `ContactInformationPhoneNumber`: `[+][\s0-9()-]+`.
pub(super) fn is_contact_phone(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|r| {
        !r.is_empty() && r.chars().all(|c| c.is_whitespace() || c.is_ascii_digit() || "()-".contains(c))
    })
}
