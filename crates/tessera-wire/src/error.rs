//! The AWS error every service returns: a code, a message, an HTTP status and a fault side.

use std::fmt;

/// Which side AWS blames for an error (`<Type>` in query-protocol error documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The caller's request was wrong (4xx).
    Sender,
    /// The service failed (5xx).
    Receiver,
}

/// An AWS API error, encoded by each protocol in its own shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// HTTP status code.
    pub status: u16,
    /// AWS error code, e.g. `AccessDenied`, `NoSuchEntity`.
    pub code: String,
    /// Human readable message, as AWS words it.
    pub message: String,
    /// Sender or Receiver.
    pub fault: Fault,
    /// JSON 1.1 exceptions with a `Reason` member (Organizations' `ConstraintViolationException`,
    /// `InvalidInputException`): the reason code.
    pub reason: Option<String>,
    /// REST-JSON `ValidationException`s (the Account service): the `fieldList` entries, each
    /// a field name and what is wrong with it.
    pub field_list: Vec<(String, String)>,
}

impl AwsError {
    /// A new error with an explicit status; 5xx statuses are receiver faults.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        AwsError {
            status,
            code: code.into(),
            message: message.into(),
            fault: if status >= 500 { Fault::Receiver } else { Fault::Sender },
            reason: None,
            field_list: Vec::new(),
        }
    }

    /// The same error with a `Reason` (JSON 1.1 only).
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The same error naming a field that failed validation (REST-JSON `fieldList`).
    pub fn with_field(mut self, name: impl Into<String>, message: impl Into<String>) -> Self {
        self.field_list.push((name.into(), message.into()));
        self
    }

    /// `AccessDenied` (403).
    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::new(403, "AccessDenied", message)
    }

    /// The same error as the JSON and CBOR protocols name it: their services call a denial
    /// `AccessDeniedException` where the query protocol says `AccessDenied`.
    pub fn named_for_json(self) -> Self {
        if self.code == "AccessDenied" {
            AwsError { code: "AccessDeniedException".to_string(), ..self }
        } else {
            self
        }
    }

    /// `ValidationError` (400), the query protocol's generic validation failure.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationError", message)
    }

    /// `InvalidParameterValue` (400).
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::new(400, "InvalidParameterValue", message)
    }

    /// `MissingParameter` (400) for a required parameter absent from the request.
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(400, "MissingParameter", format!("The request must contain the parameter {name}"))
    }

    /// `InvalidAction` (400): the operation does not exist in this service.
    pub fn invalid_action(action: &str) -> Self {
        Self::new(400, "InvalidAction", format!("Could not find operation {action} for version NO_VERSION_SPECIFIED"))
    }

    /// `NotImplemented` (501): an operation AWS has that Tessera does not (yet) implement.
    pub fn not_implemented(service: &str, action: &str) -> Self {
        Self::new(501, "NotImplemented", format!("{service}:{action} is not implemented by Tessera"))
    }

    /// `InternalFailure` (500) with a generic message; details go to the log, not the caller.
    pub fn internal() -> Self {
        Self::new(
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// `ServiceUnavailable` (503).
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(503, "ServiceUnavailable", message)
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}
