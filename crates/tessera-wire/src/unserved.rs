//! The answer to a signed request for a service Tessera does not serve (`kms`, `lambda`,
//! `dynamodb`, ...), in a shape that service's SDK client parses: graph builders and security
//! scanners probe dozens of services, and a raw XML body sent to a JSON client surfaces as a
//! parse failure instead of an error they can skip.
//!
//! The protocol comes from the request itself where it says (`smithy-protocol: rpc-v2-cbor` or
//! an `application/cbor` body → Smithy RPC v2 CBOR; `X-Amz-Target` → JSON 1.0/1.1 by its content
//! type; a form body → query), else from [`SIGNING_NAME_PROTOCOLS`], a small
//! table of common services, else from the content type (`application/json` → REST-JSON,
//! XML → REST-XML), else REST-JSON with an `__type` member too, which every JSON client reads.
//!
//! Every answer is HTTP 400 (a client error SDKs do not retry) with the code
//! [`SERVICE_NOT_SERVED`].

use bytes::Bytes;

use crate::xml::XmlWriter;
use crate::WireResponse;

/// The error code of every such answer.
pub const SERVICE_NOT_SERVED: &str = "ServiceNotServed";

/// The protocol families an unserved-service answer can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `smithy-rpc-v2-cbor` (CloudWatch, CodeBuild, Shield, ... in current SDKs): a CBOR map.
    Cbor,
    /// `json` 1.0 (`application/x-amz-json-1.0`: DynamoDB, SQS, Step Functions, ...).
    Json10,
    /// `json` 1.1 (`application/x-amz-json-1.1`: KMS, Logs, SSM, ...).
    Json11,
    /// `rest-json` (Lambda, API Gateway, EKS, ...).
    RestJson,
    /// `query` (SNS, RDS, CloudFormation, ...) and `ec2`: `<ErrorResponse>` XML.
    Query,
    /// `rest-xml` (Route 53, CloudFront): `<ErrorResponse>` XML too, which botocore's REST-XML
    /// parser reads.
    RestXml,
}

/// Common signing names whose protocol a request does not always show (REST protocols send no
/// `X-Amz-Target`, and a GET carries no content type). Not a catalogue: a name missing here
/// falls back to the request's content type.
pub const SIGNING_NAME_PROTOCOLS: &[(&str, Family)] = &[
    ("acm", Family::Json11),
    ("apigateway", Family::RestJson),
    ("appsync", Family::RestJson),
    ("athena", Family::Json11),
    ("autoscaling", Family::Query),
    ("backup", Family::RestJson),
    ("batch", Family::RestJson),
    ("cloudformation", Family::Query),
    ("cloudfront", Family::RestXml),
    ("codebuild", Family::Json11),
    ("cognito-idp", Family::Json11),
    ("config", Family::Json11),
    ("dynamodb", Family::Json10),
    ("ecr", Family::Json11),
    ("ecs", Family::Json11),
    ("eks", Family::RestJson),
    ("elasticache", Family::Query),
    ("elasticfilesystem", Family::RestJson),
    ("elasticloadbalancing", Family::Query),
    ("email", Family::Query),
    ("es", Family::RestJson),
    ("events", Family::Json11),
    ("firehose", Family::Json11),
    ("glacier", Family::RestJson),
    ("glue", Family::Json11),
    ("guardduty", Family::RestJson),
    ("inspector2", Family::RestJson),
    ("kinesis", Family::Json11),
    ("kms", Family::Json11),
    ("lambda", Family::RestJson),
    ("logs", Family::Json11),
    ("monitoring", Family::Query),
    ("rds", Family::Query),
    ("redshift", Family::Query),
    ("route53", Family::RestXml),
    ("sagemaker", Family::Json11),
    ("secretsmanager", Family::Json11),
    ("securityhub", Family::RestJson),
    ("sns", Family::Query),
    ("sqs", Family::Json10),
    ("ssm", Family::Json11),
    ("states", Family::Json10),
    ("xray", Family::RestJson),
];

/// The protocol to answer in: from the request's `X-Amz-Target` and `Content-Type`, then the
/// table, then the content type again, then REST-JSON.
pub fn family(
    signing_name: &str,
    smithy_protocol: Option<&str>,
    has_target: bool,
    content_type: Option<&str>,
) -> Family {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if smithy_protocol.is_some_and(|p| p.eq_ignore_ascii_case("rpc-v2-cbor")) || ct.starts_with("application/cbor") {
        return Family::Cbor;
    }
    if has_target {
        return if ct.contains("json-1.0") { Family::Json10 } else { Family::Json11 };
    }
    if ct.starts_with("application/x-www-form-urlencoded") {
        return Family::Query;
    }
    if let Some((_, f)) = SIGNING_NAME_PROTOCOLS.iter().find(|(n, _)| *n == signing_name) {
        return *f;
    }
    if ct.contains("xml") {
        Family::RestXml
    } else {
        Family::RestJson
    }
}

/// The answer: `ServiceNotServed` (400) with `message` in the shape of `family`.
pub fn response(family: Family, message: &str, request_id: &str) -> WireResponse {
    let json = |content_type: &'static str| {
        let body = serde_json::json!({"__type": SERVICE_NOT_SERVED, "message": message});
        WireResponse {
            status: 400,
            content_type,
            headers: vec![
                ("x-amzn-RequestId", request_id.to_string()),
                ("x-amzn-ErrorType", SERVICE_NOT_SERVED.to_string()),
            ],
            body: Bytes::from(body.to_string()),
        }
    };
    match family {
        Family::Cbor => WireResponse::cbor_error(400, SERVICE_NOT_SERVED, message, request_id),
        Family::Json10 => json("application/x-amz-json-1.0"),
        Family::Json11 => json("application/x-amz-json-1.1"),
        Family::RestJson => json("application/json"),
        Family::Query | Family::RestXml => {
            let mut w = XmlWriter::new();
            w.open("ErrorResponse", None).open("Error", None);
            w.elem("Type", "Sender").elem("Code", SERVICE_NOT_SERVED).elem("Message", message).close();
            w.elem("RequestId", request_id);
            WireResponse {
                status: 400,
                content_type: "text/xml",
                headers: vec![("x-amzn-RequestId", request_id.to_string())],
                body: Bytes::from(w.finish()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_decides_before_the_table() {
        assert_eq!(family("kms", None, true, Some("application/x-amz-json-1.1")), Family::Json11);
        assert_eq!(family("dynamodb", None, true, Some("application/x-amz-json-1.0")), Family::Json10);
        assert_eq!(family("sqs", None, false, Some("application/x-www-form-urlencoded; charset=utf-8")), Family::Query);
        assert_eq!(family("monitoring", Some("rpc-v2-cbor"), false, Some("application/cbor")), Family::Cbor);
        assert_eq!(family("lambda", None, false, None), Family::RestJson);
        assert_eq!(family("route53", None, false, None), Family::RestXml);
        assert_eq!(family("unheard-of", None, false, Some("application/xml")), Family::RestXml);
        assert_eq!(family("unheard-of", None, false, None), Family::RestJson);
    }

    #[test]
    fn shapes() {
        let r = response(Family::Json10, "m", "rid");
        assert_eq!((r.status, r.content_type), (400, "application/x-amz-json-1.0"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!((v["__type"].as_str(), v["message"].as_str()), (Some(SERVICE_NOT_SERVED), Some("m")));
        let r = response(Family::Query, "m", "rid");
        let s = std::str::from_utf8(&r.body).unwrap();
        assert!(s.contains("<Code>ServiceNotServed</Code><Message>m</Message>"), "{s}");
        let r = response(Family::Cbor, "m", "rid");
        assert_eq!(&r.body[..], b"\xa2\x66__type\x70ServiceNotServed\x67message\x61m");
        let long = response(Family::Cbor, &"x".repeat(300), "rid");
        assert_eq!(&long.body[long.body.len() - 303..long.body.len() - 300], &[0x79, 0x01, 0x2c]);
    }
}
