//! JSON 1.1 protocol helpers (Organizations, CloudTrail): `X-Amz-Target: Prefix.Operation`.

use crate::AwsError;

/// Split `X-Amz-Target` into (prefix, operation).
pub fn split_target(target: &str) -> Option<(&str, &str)> {
    target.rsplit_once('.')
}

/// Parse a JSON 1.1 request body; an empty body is `{}`.
pub fn parse_body(body: &[u8]) -> Result<serde_json::Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Value::Object(Default::default()));
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v),
        _ => Err(AwsError::new(400, "SerializationException", "Start of structure or map found where not expected.")),
    }
}

/// A required string member of a JSON input.
pub fn required_str<'a>(input: &'a serde_json::Value, name: &str) -> Result<&'a str, AwsError> {
    match input.get(name) {
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(AwsError::new(400, "SerializationException", format!("Invalid type for member {name}"))),
        None => Err(AwsError::new(400, "InvalidInputException", format!("You must specify a value for {name}."))),
    }
}

/// An optional string member of a JSON input.
pub fn optional_str<'a>(input: &'a serde_json::Value, name: &str) -> Result<Option<&'a str>, AwsError> {
    match input.get(name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AwsError::new(400, "SerializationException", format!("Invalid type for member {name}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `json_body` fuzz target: without correctly rounded float parsing, `4.7e98`
    /// parsed, written back out and parsed again was a different number.
    #[test]
    fn a_float_written_back_out_parses_to_the_same_value() {
        for text in
            [&br#"{"Atee":4.7e98}"#[..], br#"{"a":1.7976931348623157e308}"#, br#"{"a":5e-324}"#, br#"{"a":0.1}"#]
        {
            let body = parse_body(text).expect("an object");
            let again = serde_json::to_vec(&body).expect("serializes");
            assert_eq!(parse_body(&again).ok(), Some(body), "{}", String::from_utf8_lossy(text));
        }
    }
}
