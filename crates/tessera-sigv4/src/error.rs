//! Error type carrying AWS's error codes, messages and HTTP statuses.

use std::fmt;

/// The AWS error code of a SigV4 failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No `Authorization` header and no presigned query parameters (HTTP 403).
    MissingAuthenticationToken,
    /// The signature information is malformed or incomplete (HTTP 400).
    IncompleteSignature,
    /// The signature, its scope or its time window is wrong (HTTP 403).
    SignatureDoesNotMatch,
    /// A presigned request is past `X-Amz-Date + X-Amz-Expires` (HTTP 400).
    RequestExpired,
    /// A presigned request's `X-Amz-Expires` is malformed or too large (HTTP 400).
    AuthorizationQueryParametersError,
    /// The body does not hash to the signed `x-amz-content-sha256` (HTTP 400).
    XAmzContentSHA256Mismatch,
    /// The access key is unknown. Never produced by this crate; the server
    /// decides it after looking the key up (HTTP 403).
    InvalidClientTokenId,
}

impl ErrorCode {
    /// The code as AWS spells it on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingAuthenticationToken => "MissingAuthenticationToken",
            ErrorCode::IncompleteSignature => "IncompleteSignature",
            ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorCode::RequestExpired => "RequestExpired",
            ErrorCode::AuthorizationQueryParametersError => "AuthorizationQueryParametersError",
            ErrorCode::XAmzContentSHA256Mismatch => "XAmzContentSHA256Mismatch",
            ErrorCode::InvalidClientTokenId => "InvalidClientTokenId",
        }
    }

    /// The HTTP status AWS returns with this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MissingAuthenticationToken
            | ErrorCode::SignatureDoesNotMatch
            | ErrorCode::InvalidClientTokenId => 403,
            ErrorCode::IncompleteSignature
            | ErrorCode::RequestExpired
            | ErrorCode::XAmzContentSHA256Mismatch
            | ErrorCode::AuthorizationQueryParametersError => 400,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SigV4 authentication failure, ready to be rendered as an AWS error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4Error {
    /// AWS error code.
    pub code: ErrorCode,
    /// The message, as AWS words it. For `SignatureDoesNotMatch` caused by a
    /// wrong signature it already contains the canonical request and string to
    /// sign, like AWS query-protocol services do.
    pub message: String,
    /// HTTP status to answer with.
    pub http_status: u16,
    /// The canonical request the server computed (only for signature mismatches).
    pub canonical_request: Option<String>,
    /// The string to sign the server computed (only for signature mismatches).
    pub string_to_sign: Option<String>,
}

impl SigV4Error {
    /// An error with `code`'s usual HTTP status and no canonical strings.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        SigV4Error {
            code,
            message: message.into(),
            http_status: code.http_status(),
            canonical_request: None,
            string_to_sign: None,
        }
    }

    /// `MissingAuthenticationToken`: "Request is missing Authentication Token".
    pub fn missing_authentication_token() -> Self {
        Self::new(ErrorCode::MissingAuthenticationToken, "Request is missing Authentication Token")
    }

    /// `InvalidClientTokenId` for an unknown access key id, worded as STS/IAM do.
    pub fn invalid_client_token_id() -> Self {
        Self::new(ErrorCode::InvalidClientTokenId, "The security token included in the request is invalid.")
    }

    /// `SignatureDoesNotMatch` for a wrong signature, with AWS's hint and the
    /// canonical request and string to sign appended.
    pub fn signature_mismatch(canonical_request: String, string_to_sign: String) -> Self {
        let message = format!(
            "{SIGNATURE_MISMATCH_HINT}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
        );
        SigV4Error {
            code: ErrorCode::SignatureDoesNotMatch,
            message,
            http_status: 403,
            canonical_request: Some(canonical_request),
            string_to_sign: Some(string_to_sign),
        }
    }
}

/// The first sentence(s) of AWS's wrong-signature message.
pub const SIGNATURE_MISMATCH_HINT: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

impl fmt::Display for SigV4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SigV4Error {}
