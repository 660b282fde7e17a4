//! Smithy RPC v2 CBOR bodies (AWS Private CA in current SDKs), through the `ciborium` crate.
//!
//! A request body decodes into the same JSON form a JSON 1.1 request of the operation has, so
//! the operations read one form: text keys, byte strings as standard base64 strings (as JSON 1.1
//! sends blobs), tag 1 epoch timestamps as JSON numbers, other tags as their content. A JSON
//! answer encodes back as CBOR, the members named as timestamps written as tag 1.

use base64::Engine;
use ciborium::value::{Integer, Value as Cbor};
use serde_json::{Map, Number, Value};

use crate::AwsError;

/// Deepest nesting of arrays, maps and tags a request body may have.
pub const MAX_DEPTH: usize = 64;
/// Largest request body decoded (AWS Private CA's largest input, a CA certificate with its
/// chain, is about 2 MB).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// CBOR tag of an epoch-based date/time (RFC 8949 §3.4.2).
const EPOCH_TAG: u64 = 1;

/// The error of a body that is not a CBOR map (botocore reads `__type` and `message`).
fn serialization(message: &str) -> AwsError {
    AwsError::new(400, "SerializationException", message)
}

/// Decode a request body into its JSON form; an empty body is `{}`. A body that is not one
/// well-formed CBOR map (with text keys), is nested deeper than [`MAX_DEPTH`] or is larger than
/// [`MAX_BODY`] is a `SerializationException` (400).
pub fn decode_body(body: &[u8]) -> Result<Value, AwsError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    if body.len() > MAX_BODY {
        return Err(serialization("The request body is too large."));
    }
    let mut rest = body;
    let item: Cbor = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|_| serialization("The request body is not well-formed CBOR."))?;
    if !rest.is_empty() {
        return Err(serialization("The request body holds more than one CBOR data item."));
    }
    if !item.is_map() {
        return Err(serialization("Start of structure or map found where not expected."));
    }
    to_json(item, 0)
}

/// One CBOR data item in its JSON form.
fn to_json(item: Cbor, depth: usize) -> Result<Value, AwsError> {
    if depth > MAX_DEPTH {
        return Err(serialization("The request body is nested too deeply."));
    }
    Ok(match item {
        Cbor::Null => Value::Null,
        Cbor::Bool(b) => Value::Bool(b),
        Cbor::Integer(i) => integer(i),
        Cbor::Float(f) => float(f),
        Cbor::Text(s) => Value::String(s),
        Cbor::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Tag(_, content) => to_json(*content, depth + 1)?,
        Cbor::Array(items) => Value::Array(items.into_iter().map(|i| to_json(i, depth + 1)).collect::<Result<_, _>>()?),
        Cbor::Map(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let Cbor::Text(key) = key else {
                    return Err(serialization("A map key is not a text string."));
                };
                map.insert(key, to_json(value, depth + 1)?);
            }
            Value::Object(map)
        }
        _ => return Err(serialization("The request body holds an unsupported CBOR item.")),
    })
}

/// A CBOR integer as a JSON number: exact within `i64`/`u64`, else the nearest float (CBOR's
/// negative integers reach -2^64).
fn integer(i: Integer) -> Value {
    let wide = i128::from(i);
    if let Ok(u) = u64::try_from(wide) {
        Value::Number(u.into())
    } else if let Ok(s) = i64::try_from(wide) {
        Value::Number(s.into())
    } else {
        float(wide as f64)
    }
}

/// A float as a JSON number; NaN and the infinities, which JSON has no number for, as the
/// strings JSON 1.1 sends them as (`"NaN"`, `"Infinity"`, `"-Infinity"`).
fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".into()),
        None if f > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// Encode a JSON answer as CBOR. An object member whose name is in `timestamp_members` and
/// whose value is a number (epoch seconds) is written as tag 1 around it. `null` encodes as an
/// empty body (an operation without output).
pub fn encode(value: &Value, timestamp_members: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    if value.is_null() {
        return out;
    }
    // Writing into a Vec cannot fail, and every JSON value has a CBOR form.
    if let Err(e) = ciborium::ser::into_writer(&to_cbor(value, timestamp_members, false), &mut out) {
        debug_assert!(false, "CBOR encoding into a Vec failed: {e}");
    }
    out
}

/// A JSON value as CBOR; `timestamp` when it is the value of a timestamp member.
fn to_cbor(value: &Value, timestamp_members: &[&str], timestamp: bool) -> Cbor {
    let item = match value {
        Value::Null => Cbor::Null,
        Value::Bool(b) => Cbor::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Cbor::Integer(u.into()),
            (None, Some(i)) => Cbor::Integer(i.into()),
            _ => Cbor::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Cbor::Text(s.clone()),
        Value::Array(items) => Cbor::Array(items.iter().map(|v| to_cbor(v, timestamp_members, false)).collect()),
        Value::Object(members) => Cbor::Map(
            members
                .iter()
                .map(|(k, v)| {
                    (Cbor::Text(k.clone()), to_cbor(v, timestamp_members, timestamp_members.contains(&k.as_str())))
                })
                .collect(),
        ),
    };
    match item {
        Cbor::Integer(_) | Cbor::Float(_) if timestamp => Cbor::Tag(EPOCH_TAG, Box::new(item)),
        other => other,
    }
}

/// Decode a CBOR answer (as [`encode`] wrote it) into its JSON form, for the audit record's
/// response elements; an empty body is `null`, a malformed one `None`.
pub fn decode_answer(body: &[u8]) -> Option<Value> {
    if body.is_empty() {
        return Some(Value::Null);
    }
    decode_body(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn cbor(item: &Cbor) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(item, &mut out).expect("encodes");
        out
    }

    fn text(s: &str) -> Cbor {
        Cbor::Text(s.into())
    }

    #[test]
    fn an_empty_body_is_an_empty_object() {
        assert_eq!(decode_body(b"").ok(), Some(json!({})));
    }

    #[test]
    fn blobs_are_base64_timestamps_numbers_other_tags_their_content() {
        let body = cbor(&Cbor::Map(vec![
            (text("Csr"), Cbor::Bytes(b"-----BEGIN".to_vec())),
            (text("At"), Cbor::Tag(1, Box::new(Cbor::Float(1.5e9)))),
            (text("Whole"), Cbor::Tag(1, Box::new(Cbor::Integer(1_700_000_000.into())))),
            (text("Other"), Cbor::Tag(32, Box::new(text("https://x")))),
            (text("N"), Cbor::Integer((-3).into())),
            (text("Big"), Cbor::Integer(u64::MAX.into())),
            (text("F"), Cbor::Float(0.25)),
            (text("Nan"), Cbor::Float(f64::NAN)),
            (text("Inf"), Cbor::Float(f64::NEG_INFINITY)),
            (text("B"), Cbor::Bool(true)),
            (text("Z"), Cbor::Null),
            (text("L"), Cbor::Array(vec![text("a"), Cbor::Map(vec![])])),
        ]));
        let v = decode_body(&body).expect("decodes");
        assert_eq!(
            v,
            json!({
                "Csr": "LS0tLS1CRUdJTg==", "At": 1.5e9, "Whole": 1_700_000_000u64, "Other": "https://x",
                "N": -3, "Big": u64::MAX, "F": 0.25, "Nan": "NaN", "Inf": "-Infinity", "B": true, "Z": null,
                "L": ["a", {}]
            })
        );
    }

    #[test]
    fn undefined_and_indefinite_lengths_decode() {
        // {_ "a": [_ 1, undefined], "b": (_ "x", "y"), "c": (_ h'01', h'02') }
        let body = [
            0xbf, 0x61, b'a', 0x9f, 0x01, 0xf7, 0xff, 0x61, b'b', 0x7f, 0x61, b'x', 0x61, b'y', 0xff, 0x61, b'c', 0x5f,
            0x41, 0x01, 0x41, 0x02, 0xff, 0xff,
        ];
        assert_eq!(decode_body(&body).ok(), Some(json!({"a": [1, null], "b": "xy", "c": "AQI="})));
    }

    #[test]
    fn what_is_not_one_map_is_a_serialization_exception() {
        let not_maps: [&[u8]; 8] = [
            b"\x01",          // an integer
            b"\x80",          // an array
            b"\x61a",         // a text string
            b"\xa1\x61",      // truncated
            b"\xa1\x01\x02",  // an integer key
            b"\xa0\xa0",      // two items
            b"\xbf\x61a\x01", // an indefinite map without its break
            b"\xa1\x61a\xf0", // an unassigned simple value
        ];
        for body in not_maps {
            let e = decode_body(body).expect_err("not one map");
            assert_eq!((e.status, e.code.as_str()), (400, "SerializationException"), "{body:?}");
        }
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let mut deep = vec![0xa1, 0x61, b'a'];
        deep.extend(std::iter::repeat_n(0x81, 10_000));
        deep.push(0x01);
        assert_eq!(decode_body(&deep).map_err(|e| e.code).err().as_deref(), Some("SerializationException"));
        let mut within = vec![0xa1, 0x61, b'a'];
        within.extend(std::iter::repeat_n(0x81, MAX_DEPTH - 2));
        within.push(0x01);
        assert!(decode_body(&within).is_ok());
        let huge = vec![0u8; MAX_BODY + 1];
        assert_eq!(decode_body(&huge).map_err(|e| e.code).err().as_deref(), Some("SerializationException"));
        // A length far beyond the body is refused, not allocated.
        let lying = [0xa1, 0x61, b'a', 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(decode_body(&lying).is_err());
    }

    #[test]
    fn timestamp_members_are_tag_1() {
        let answer = json!({"CertificateAuthority": {"CreatedAt": 1.7e9, "NotAfter": 1800000000, "Arn": "a"}});
        let body = encode(&answer, &["CreatedAt", "NotAfter"]);
        let item: Cbor = ciborium::de::from_reader(&body[..]).expect("CBOR");
        let ca = item.as_map().and_then(|m| m[0].1.as_map()).expect("a map in a map");
        let find = |name: &str| ca.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v.clone());
        assert_eq!(find("CreatedAt"), Some(Cbor::Tag(1, Box::new(Cbor::Float(1.7e9)))));
        assert_eq!(find("NotAfter"), Some(Cbor::Tag(1, Box::new(Cbor::Integer(1_800_000_000.into())))));
        assert_eq!(find("Arn"), Some(text("a")));
        // Read back, a timestamp is its number again.
        assert_eq!(decode_answer(&body), Some(answer));
    }

    #[test]
    fn null_is_an_empty_body_and_an_empty_object_an_empty_map() {
        assert!(encode(&Value::Null, &[]).is_empty());
        assert_eq!(decode_answer(b""), Some(Value::Null));
        assert_eq!(encode(&json!({}), &[]), vec![0xa0]);
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<u64>().prop_map(|u| json!(u)),
            any::<f64>().prop_filter("finite", |f| f.is_finite() && f.fract() != 0.0).prop_map(|f| json!(f)),
            ".{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn a_json_answer_round_trips(members in prop::collection::btree_map("[A-Za-z]{1,8}", json_value(), 0..6)) {
            let answer = Value::Object(members.into_iter().collect());
            let body = encode(&answer, &["CreatedAt", "At"]);
            prop_assert_eq!(decode_body(&body).ok(), Some(answer));
        }

        #[test]
        fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(v) = decode_body(&body) {
                prop_assert!(v.is_object());
                // Decoded, written back out and decoded again: the same JSON.
                prop_assert_eq!(decode_body(&encode(&v, &[])).ok(), Some(v));
            }
        }
    }
}
