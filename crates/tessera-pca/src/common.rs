//! What every operation family reads and answers with: input members as the model constrains
//! them, AWS Private CA's errors, the certificate authority an operation acts on (authorized
//! before anything is read from it), writes of a CA, timestamps and paging.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use tessera_core::authz::AuthzRequest;
use tessera_core::validate::Checks;
use tessera_core::{internal, Call, Services};
use tessera_store::WriteTxn;
use tessera_wire::AwsError;

use crate::authorize_on_ca;
use crate::model::{self, CertificateAuthority};

/// An AWS Private CA error (400).
pub(crate) fn err(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, code, message)
}

/// `InvalidArgsException`.
pub(crate) fn invalid_args(message: impl Into<String>) -> AwsError {
    err("InvalidArgsException", message)
}

/// `InvalidRequestException`.
pub(crate) fn invalid_request(message: impl Into<String>) -> AwsError {
    err("InvalidRequestException", message)
}

/// `ResourceNotFoundException` for a CA.
pub(crate) fn ca_not_found(arn: &str) -> AwsError {
    err("ResourceNotFoundException", format!("Could not find certificate authority with ARN {arn}."))
}

/// `ValidationException` from the model's constraints, AWS's message shape.
pub(crate) fn finish(checks: &mut Checks) -> Result<(), AwsError> {
    checks.finish().map_err(|e| err("ValidationException", e.message))
}

fn type_error(name: &str) -> AwsError {
    err("SerializationException", format!("Invalid type for member {name}"))
}

/// `ValidationException` for a required member that is absent.
pub(crate) fn missing(name: &str) -> AwsError {
    let mut c = Checks::new();
    c.not_null(&lower_first(name), false);
    finish(&mut c).err().unwrap_or_else(AwsError::internal)
}

/// `camelCase` of a member name, as AWS names members in validation messages.
pub(crate) fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// `ValidationException` for an empty list whose model minimum is one member.
pub(crate) fn empty_list(field: &str) -> AwsError {
    err(
        "ValidationException",
        format!(
            "1 validation error detected: Value '[]' at '{field}' failed to satisfy constraint: Member must have length greater than or equal to 1"
        ),
    )
}

/// A required string member.
pub(crate) fn required_str<'a>(input: &'a Value, name: &str) -> Result<&'a str, AwsError> {
    optional_str(input, name)?.ok_or_else(|| missing(name))
}

/// An optional string member.
pub(crate) fn optional_str<'a>(input: &'a Value, name: &str) -> Result<Option<&'a str>, AwsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(type_error(name)),
    }
}

/// An enum member checked against the model's values.
pub(crate) fn enum_member<'a>(
    input: &'a Value,
    name: &str,
    field: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, AwsError> {
    let v = optional_str(input, name)?;
    let mut c = Checks::new();
    c.one_of(field, v, allowed);
    finish(&mut c)?;
    Ok(v)
}

/// An optional integer member.
pub(crate) fn optional_i64(input: &Value, name: &str) -> Result<Option<i64>, AwsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| type_error(name)),
    }
}

/// An optional boolean member.
pub(crate) fn optional_bool(input: &Value, name: &str) -> Result<Option<bool>, AwsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(type_error(name)),
    }
}

/// An optional structure member.
pub(crate) fn optional_object<'a>(input: &'a Value, name: &str) -> Result<Option<&'a Value>, AwsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(type_error(name)),
    }
}

/// An optional list member.
pub(crate) fn optional_list<'a>(input: &'a Value, name: &str) -> Result<Option<&'a Vec<Value>>, AwsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(type_error(name)),
    }
}

/// A blob member (base64 in JSON), at most `max` bytes once decoded.
pub(crate) fn optional_blob(input: &Value, name: &str, max: usize) -> Result<Option<Vec<u8>>, AwsError> {
    let Some(text) = optional_str(input, name)? else { return Ok(None) };
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| err("SerializationException", format!("Invalid base64 for member {name}")))?;
    if bytes.len() > max {
        return Err(err(
            "ValidationException",
            format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                lower_first(name)
            ),
        ));
    }
    Ok(Some(bytes))
}

/// Epoch seconds as JSON timestamps are written.
pub(crate) fn epoch(millis: i64) -> Value {
    json!(millis / 1000)
}

/// `IdempotencyToken`: 1-36 characters of `[\t\n\r\u0020-\u00FF]`.
pub(crate) fn idempotency_token(input: &Value) -> Result<Option<&str>, AwsError> {
    let token = optional_str(input, "IdempotencyToken")?;
    let mut c = Checks::new();
    c.length_opt("idempotencyToken", token, 1, 36).pattern_opt(
        "idempotencyToken",
        token,
        r"[\u0009\u000A\u000D\u0020-\u00FF]*",
        |t| t.chars().all(|ch| matches!(ch, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}')),
    );
    finish(&mut c)?;
    Ok(token)
}

/// How long an idempotency token stands for the call that used it.
pub(crate) const IDEMPOTENCY_MILLIS: i64 = 5 * 60 * 1000;

/// The CA ARN in member `name`: `InvalidArnException` unless it is one.
pub(crate) fn ca_arn_member<'a>(input: &'a Value, name: &str) -> Result<&'a str, AwsError> {
    let arn = required_str(input, name)?;
    if model::parse_ca_arn(arn).is_none() || arn.len() > 200 {
        return Err(err("InvalidArnException", format!("The ARN {arn} is not valid.")));
    }
    Ok(arn)
}

/// Whether a deleted CA's restoration period is over (it is then gone, as if purged).
pub(crate) fn purged(ca: &CertificateAuthority, now_millis: i64) -> bool {
    ca.status == "DELETED" && ca.restorable_until.is_some_and(|t| t <= now_millis)
}

/// The CA named by `CertificateAuthorityArn` (or `member`), once the caller is allowed
/// `action` on it. A CA that does not exist (or whose restoration period is over) is
/// authorized as its ARN without a resource policy, so a caller of another account is denied
/// before it could learn whether it exists; the caller's own account gets
/// `ResourceNotFoundException`.
pub(crate) fn authorized_ca(
    services: &Services,
    call: &Call,
    input: &Value,
    member: &str,
    action: &str,
) -> Result<CertificateAuthority, AwsError> {
    let arn = ca_arn_member(input, member)?;
    let found = {
        let read = services.store.read().map_err(internal)?;
        model::load_ca_by_arn(read.as_ref(), arn).map_err(internal)?
    };
    match found.filter(|ca| !purged(ca, call.meta.now_millis)) {
        Some(ca) => {
            authorize_on_ca(services, call, action, &ca)?;
            Ok(ca)
        }
        None => {
            let account = model::parse_ca_arn(arn).map(|p| p.1);
            services.authorize_request(
                call,
                &AuthzRequest { action, resource: arn, resource_account: account, ..Default::default() },
            )?;
            Err(ca_not_found(arn))
        }
    }
}

/// `InvalidStateException` unless the CA's status is one of `allowed`.
pub(crate) fn require_status(ca: &CertificateAuthority, allowed: &[&str]) -> Result<(), AwsError> {
    if allowed.contains(&ca.status.as_str()) {
        return Ok(());
    }
    Err(crate::invalid_state(format!(
        "The certificate authority {} is in the {} state; this operation needs it {}.",
        ca.arn(),
        ca.status,
        allowed.join(" or ")
    )))
}

/// Every status but `DELETED`.
pub(crate) const NOT_DELETED: &[&str] = &["PENDING_CERTIFICATE", "ACTIVE", "DISABLED", "EXPIRED"];

/// Change the CA `ca` was read as, in one write transaction: `change` sees the stored record
/// (`ConcurrentModificationException` when it is gone or was deleted meanwhile).
pub(crate) fn update_ca<R>(
    services: &Services,
    ca: &CertificateAuthority,
    change: impl FnOnce(&mut dyn WriteTxn, &mut CertificateAuthority) -> Result<R, AwsError>,
) -> Result<R, AwsError> {
    let mut w = services.store.write().map_err(internal)?;
    let mut current = model::load_ca(w.as_ref(), &ca.region, &ca.account, &ca.id)
        .map_err(internal)?
        .filter(|c| c.status == ca.status)
        .ok_or_else(|| {
            err(
                "ConcurrentModificationException",
                format!("The certificate authority {} was changed by another request; try again.", ca.arn()),
            )
        })?;
    let out = change(w.as_mut(), &mut current)?;
    model::save_ca(w.as_mut(), &current).map_err(internal)?;
    w.commit().map_err(internal)?;
    Ok(out)
}

/// `MaxResults` (1-1000); `default` when absent.
pub(crate) fn max_results(input: &Value, default: usize) -> Result<usize, AwsError> {
    match optional_i64(input, "MaxResults")? {
        None => Ok(default),
        Some(n) => {
            let mut c = Checks::new();
            c.range("maxResults", n, 1, 1000);
            finish(&mut c)?;
            Ok(n as usize)
        }
    }
}

/// One page of `items` (sorted by their key) after the input's `NextToken`, at most
/// `MaxResults` (`default`, and never more than `cap`), and the next token.
pub(crate) fn page(
    input: &Value,
    items: Vec<(String, Value)>,
    default: usize,
    cap: usize,
) -> Result<(Vec<Value>, Option<String>), AwsError> {
    let limit = max_results(input, default)?.min(cap);
    let bad_token = || err("InvalidNextTokenException", "The token is not valid.");
    let after = match optional_str(input, "NextToken")? {
        None => None,
        Some(t) => {
            let raw = URL_SAFE_NO_PAD.decode(t).map_err(|_| bad_token())?;
            Some(String::from_utf8(raw).map_err(|_| bad_token())?)
        }
    };
    let mut rest: Vec<(String, Value)> =
        items.into_iter().filter(|(k, _)| after.as_deref().is_none_or(|a| k.as_str() > a)).collect();
    let next = (rest.len() > limit).then(|| URL_SAFE_NO_PAD.encode(&rest[limit - 1].0));
    rest.truncate(limit);
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

/// A JSON object with `members`, leaving out the `None`s.
pub(crate) fn object(members: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(members.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect())
}

/// A list output `{member: [...], NextToken}`: one [`page`] of `items`.
pub(crate) fn paged(
    input: &Value,
    member: &str,
    items: Vec<(String, Value)>,
    default: usize,
    cap: usize,
) -> Result<Value, AwsError> {
    let (list, next) = page(input, items, default, cap)?;
    Ok(object(vec![(member, Some(Value::Array(list))), ("NextToken", next.map(Value::String))]))
}
