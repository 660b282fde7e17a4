//! The REST-JSON protocol (botocore `rest-json`): the operation is named by the HTTP method and
//! the path (the model's `requestUri`), the input is a JSON body, errors carry their code in
//! the `x-amzn-ErrorType` header. Tessera serves one REST-JSON service, Account, whose every
//! operation is `POST /<operation in lower camel case>` without URI parameters.

use crate::AwsError;

/// The operation of `routes` (`(method, requestUri, operation)`) that `method` and `path` name.
/// Only literal request URIs are matched (the Account service has no URI parameters).
pub fn route(routes: &[(&str, &str, &'static str)], method: &str, path: &str) -> Option<&'static str> {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    routes.iter().find(|(m, uri, _)| m.eq_ignore_ascii_case(method) && *uri == path).map(|(_, _, op)| *op)
}

/// The error for a method and path that name no operation: `UnknownOperationException` (404),
/// as AWS's REST-JSON front ends answer an unknown route.
pub fn unknown_route(method: &str, path: &str) -> AwsError {
    AwsError::new(404, "UnknownOperationException", format!("No operation matches {method} {path}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::ACCOUNT_ROUTES;

    #[test]
    fn routes_by_method_and_path() {
        assert_eq!(route(ACCOUNT_ROUTES, "POST", "/getContactInformation"), Some("GetContactInformation"));
        assert_eq!(route(ACCOUNT_ROUTES, "post", "/putAlternateContact/"), Some("PutAlternateContact"));
        assert_eq!(route(ACCOUNT_ROUTES, "GET", "/getContactInformation"), None);
        assert_eq!(route(ACCOUNT_ROUTES, "POST", "/nothing"), None);
        assert_eq!(route(ACCOUNT_ROUTES, "POST", "/"), None);
    }
}
