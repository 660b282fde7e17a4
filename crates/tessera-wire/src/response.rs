//! Encoding responses and errors in each protocol's shape.

use bytes::Bytes;

use crate::error::Fault;
use crate::xml::{escape_into, XmlWriter};
use crate::AwsError;

/// The wire protocol of a service (`metadata.protocol` in botocore's models).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `query`: STS and IAM. `xmlns` is the service's XML namespace.
    Query {
        /// XML namespace of response documents.
        xmlns: &'static str,
    },
    /// `ec2`.
    Ec2,
    /// `json` 1.1 (Organizations, CloudTrail).
    Json,
    /// `rest-xml` (S3).
    RestXml,
    /// `rest-json` (the Account service): the operation from method and path, JSON bodies,
    /// errors named by the `x-amzn-ErrorType` header.
    RestJson,
    /// `smithy-rpc-v2-cbor` (AWS Private CA in current SDKs): `POST /service/<Prefix>/operation/<Op>`,
    /// CBOR bodies, `smithy-protocol: rpc-v2-cbor` on every answer.
    RpcV2Cbor,
}

/// XML namespace of STS documents.
pub const STS_XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// XML namespace of IAM documents.
pub const IAM_XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// XML namespace of EC2 documents.
pub const EC2_XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// An encoded HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body bytes.
    pub body: Bytes,
}

impl WireResponse {
    fn new(status: u16, content_type: &'static str, request_id: &str, body: String) -> Self {
        WireResponse {
            status,
            content_type,
            headers: vec![("x-amzn-RequestId", request_id.to_string())],
            body: Bytes::from(body),
        }
    }

    /// A query-protocol success: `<OpResponse><OpResult>inner</OpResult><ResponseMetadata>...`.
    /// `result` of `None` omits the `<OpResult>` element, as AWS does for operations without output.
    pub fn query(xmlns: &str, operation: &str, result: Option<&str>, request_id: &str) -> Self {
        let mut b = String::with_capacity(256 + result.map_or(0, str::len));
        b.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        b.push_str(operation);
        b.push_str("Response xmlns=\"");
        b.push_str(xmlns);
        b.push_str("\">");
        if let Some(inner) = result {
            b.push('<');
            b.push_str(operation);
            b.push_str("Result>");
            b.push_str(inner);
            b.push_str("</");
            b.push_str(operation);
            b.push_str("Result>");
        }
        b.push_str("<ResponseMetadata><RequestId>");
        escape_into(&mut b, request_id);
        b.push_str("</RequestId></ResponseMetadata></");
        b.push_str(operation);
        b.push_str("Response>");
        Self::new(200, "text/xml", request_id, b)
    }

    /// An EC2-protocol success: `<OpResponse xmlns=...><requestId>..</requestId>inner</OpResponse>`.
    pub fn ec2(operation: &str, inner: &str, request_id: &str) -> Self {
        let mut b = String::with_capacity(256 + inner.len());
        b.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
        b.push_str(operation);
        b.push_str("Response xmlns=\"");
        b.push_str(EC2_XMLNS);
        b.push_str("\"><requestId>");
        escape_into(&mut b, request_id);
        b.push_str("</requestId>");
        b.push_str(inner);
        b.push_str("</");
        b.push_str(operation);
        b.push_str("Response>");
        Self::new(200, "text/xml;charset=UTF-8", request_id, b)
    }

    /// A JSON 1.1 success.
    pub fn json(body: &serde_json::Value, request_id: &str) -> Self {
        Self::new(200, "application/x-amz-json-1.1", request_id, body.to_string())
    }

    /// A Smithy RPC v2 CBOR success: `answer` encoded by [`crate::cbor::encode`] with the
    /// members named in `timestamp_members` as tag 1 timestamps (`null`: an empty body).
    pub fn cbor(answer: &serde_json::Value, timestamp_members: &[&str], request_id: &str) -> Self {
        Self::cbor_with_status(200, crate::cbor::encode(answer, timestamp_members), request_id)
    }

    /// A CBOR body with `status`, its content type and the `smithy-protocol` header.
    pub(crate) fn cbor_with_status(status: u16, body: Vec<u8>, request_id: &str) -> Self {
        WireResponse {
            status,
            content_type: "application/cbor",
            headers: vec![("x-amzn-RequestId", request_id.to_string()), ("smithy-protocol", "rpc-v2-cbor".to_string())],
            body: Bytes::from(body),
        }
    }

    /// A Smithy RPC v2 CBOR error: a map of `__type` (the plain code, which botocore and the
    /// other SDKs read as they read a `namespace#Code` shape id) and `message`.
    pub fn cbor_error(status: u16, code: &str, message: &str, request_id: &str) -> Self {
        let body = serde_json::json!({"__type": code, "message": message});
        Self::cbor_with_status(status, crate::cbor::encode(&body, &[]), request_id)
    }

    /// A REST-JSON success (`application/json`).
    pub fn rest_json(body: &serde_json::Value, request_id: &str) -> Self {
        Self::new(200, "application/json", request_id, body.to_string())
    }

    /// Encode `err` in the shape of `protocol`.
    pub fn error(protocol: Protocol, err: &AwsError, request_id: &str) -> Self {
        match protocol {
            Protocol::Query { xmlns } => {
                let mut w = XmlWriter::new();
                w.open("ErrorResponse", Some(xmlns)).open("Error", None);
                w.elem(
                    "Type",
                    match err.fault {
                        Fault::Sender => "Sender",
                        Fault::Receiver => "Receiver",
                    },
                );
                w.elem("Code", &err.code).elem("Message", &err.message);
                // Query exceptions with a `reason` member (STS `InvalidAttestationDocument`).
                if let Some(reason) = &err.reason {
                    w.elem("reason", reason);
                }
                w.close();
                w.elem("RequestId", request_id);
                Self::new(err.status, "text/xml", request_id, w.finish())
            }
            Protocol::Ec2 => {
                let mut w = XmlWriter::new();
                w.open("Response", None).open("Errors", None).open("Error", None);
                w.elem("Code", &err.code).elem("Message", &err.message).close().close();
                w.elem("RequestID", request_id);
                Self::new(err.status, "text/xml;charset=UTF-8", request_id, w.finish())
            }
            Protocol::Json => {
                let mut body = serde_json::json!({"__type": err.code, "Message": err.message});
                if let Some(reason) = &err.reason {
                    body["Reason"] = serde_json::Value::String(reason.clone());
                }
                let mut r = Self::new(err.status, "application/x-amz-json-1.1", request_id, body.to_string());
                r.headers.push(("x-amzn-ErrorType", err.code.clone()));
                r
            }
            Protocol::RestJson => {
                // The REST-JSON error members are lower case (`message`, `reason`, `fieldList`);
                // the code travels in `x-amzn-ErrorType` (and `__type`, which botocore also reads).
                let mut body = serde_json::json!({"__type": err.code, "message": err.message});
                if let Some(reason) = &err.reason {
                    body["reason"] = serde_json::Value::String(reason.clone());
                }
                if !err.field_list.is_empty() {
                    body["fieldList"] = err
                        .field_list
                        .iter()
                        .map(|(name, message)| serde_json::json!({"name": name, "message": message}))
                        .collect();
                }
                let mut r = Self::new(err.status, "application/json", request_id, body.to_string());
                r.headers.push(("x-amzn-ErrorType", err.code.clone()));
                r
            }
            Protocol::RpcV2Cbor => Self::cbor_error(err.status, &err.code, &err.message, request_id),
            Protocol::RestXml => {
                let mut w = XmlWriter::new();
                w.open("Error", None);
                w.elem("Code", &err.code).elem("Message", &err.message);
                w.elem("RequestId", request_id);
                let mut r = Self::new(err.status, "application/xml", request_id, w.finish());
                r.headers = vec![("x-amz-request-id", request_id.to_string())];
                r
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_error_shape() {
        let e = AwsError::access_denied("User: x is not authorized");
        let r = WireResponse::error(Protocol::Query { xmlns: STS_XMLNS }, &e, "rid");
        assert_eq!(r.status, 403);
        let s = std::str::from_utf8(&r.body).unwrap();
        assert!(s.contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>AccessDenied</Code>"));
        assert!(s.ends_with("<RequestId>rid</RequestId></ErrorResponse>"));
    }

    #[test]
    fn json_error_shape() {
        let e = AwsError::new(400, "AWSOrganizationsNotInUseException", "m");
        let r = WireResponse::error(Protocol::Json, &e, "rid");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["__type"], "AWSOrganizationsNotInUseException");
        // The Organizations and CloudTrail models name the member `Message`.
        assert_eq!(v["Message"], "m");
        assert!(v.get("Reason").is_none());
        let e = AwsError::new(400, "ConstraintViolationException", "m").with_reason("POLICY_CONTENT_LIMIT_EXCEEDED");
        let r = WireResponse::error(Protocol::Json, &e, "rid");
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["Reason"], "POLICY_CONTENT_LIMIT_EXCEEDED");
    }

    #[test]
    fn rest_json_error_shape() {
        let e = AwsError::new(400, "ValidationException", "bad")
            .with_reason("fieldValidationFailed")
            .with_field("AccountId", "must be 12 digits");
        let r = WireResponse::error(Protocol::RestJson, &e, "rid");
        assert_eq!(r.status, 400);
        assert!(r.headers.contains(&("x-amzn-ErrorType", "ValidationException".to_string())));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["message"], "bad");
        assert_eq!(v["reason"], "fieldValidationFailed");
        assert_eq!(v["fieldList"][0]["name"], "AccountId");
    }

    #[test]
    fn cbor_shapes() {
        let e = AwsError::new(404, "ResourceNotFoundException", "no such CA");
        let r = WireResponse::error(Protocol::RpcV2Cbor, &e, "rid");
        assert_eq!((r.status, r.content_type), (404, "application/cbor"));
        assert!(r.headers.contains(&("smithy-protocol", "rpc-v2-cbor".to_string())));
        assert!(r.headers.contains(&("x-amzn-RequestId", "rid".to_string())));
        assert_eq!(
            crate::cbor::decode_answer(&r.body),
            Some(serde_json::json!({"__type": "ResourceNotFoundException", "message": "no such CA"}))
        );
        let ok = WireResponse::cbor(&serde_json::json!({"NotAfter": 5}), &["NotAfter"], "rid");
        assert_eq!((ok.status, &ok.body[..]), (200, &b"\xa1\x68NotAfter\xc1\x05"[..]));
        assert!(ok.headers.contains(&("smithy-protocol", "rpc-v2-cbor".to_string())));
        assert!(WireResponse::cbor(&serde_json::Value::Null, &[], "rid").body.is_empty());
    }

    #[test]
    fn query_success_without_result() {
        let r = WireResponse::query(IAM_XMLNS, "DeleteUser", None, "r1");
        let s = std::str::from_utf8(&r.body).unwrap();
        assert!(!s.contains("DeleteUserResult"));
        assert!(s.contains("<RequestId>r1</RequestId>"));
    }
}
