//! The part of AWS STS every service needs to authenticate a request: the self-contained sealed
//! session tokens of `ASIA...` keys ([`tokens`], see `docs/SESSION_TOKENS.md`), what each kind
//! of temporary credentials may call ([`check_session_scope`]), and the OIDC issuers' keys kept
//! in memory ([`oidc`]). The STS operations are in `tessera-sts`.

pub mod oidc;
pub mod tokens;

use tessera_wire::AwsError;

pub use tokens::{encode_authorization_message, rotate_token_key, StsState};

use crate::{Caller, ServiceName, Services};

/// `InvalidClientTokenId` (403): an unknown, inactive, tampered or closed account's credential.
pub fn invalid_token() -> AwsError {
    AwsError::new(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

/// What temporary credentials may call, as AWS limits them:
/// - from `GetSessionToken`: no IAM operation unless MFA was presented (`InvalidClientTokenId`,
///   as AWS answers), and no STS operation but `AssumeRole`, `GetScopedCredentials` and
///   `GetCallerIdentity`;
/// - from `GetFederationToken`: no IAM operation, and no STS operation but
///   `GetScopedCredentials` and `GetCallerIdentity`;
/// - from `AssumeRoot`: no STS operation but `GetCallerIdentity`.
///
/// Scoped credentials (`GetScopedCredentials`) keep the `issued_by` of the session they were
/// scoped from, so the same limits follow them.
///
/// The dispatcher calls this before every operation.
pub fn check_session_scope(caller: &Caller, service: ServiceName, operation: &str) -> Result<(), AwsError> {
    let Some(session) = &caller.session else {
        return Ok(());
    };
    let denied = || AwsError::access_denied(format!("Cannot call {operation} with session credentials"));
    match session.issued_by.as_str() {
        "GetSessionToken" => match service {
            ServiceName::Iam if !session.mfa_authenticated => Err(invalid_token()),
            ServiceName::Sts if !matches!(operation, "AssumeRole" | "GetScopedCredentials" | "GetCallerIdentity") => {
                Err(denied())
            }
            _ => Ok(()),
        },
        "GetFederationToken" => match service {
            ServiceName::Iam => Err(invalid_token()),
            ServiceName::Sts if !matches!(operation, "GetScopedCredentials" | "GetCallerIdentity") => Err(denied()),
            _ => Ok(()),
        },
        // A privileged root session acts only through its task policy; it starts no other session.
        "AssumeRoot" => match service {
            ServiceName::Sts if operation != "GetCallerIdentity" => Err(denied()),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The caller and secret behind temporary credentials (`ASIA...` + session token).
///
/// Errors: `InvalidClientTokenId` (403) when the token is missing, malformed, tampered, sealed
/// by an unknown key or bound to another access key id; `ExpiredToken` (400) once it expired.
pub fn session_credentials(
    services: &Services,
    access_key_id: &str,
    security_token: Option<&str>,
) -> Result<(Caller, String), AwsError> {
    let token = security_token.ok_or_else(invalid_token)?;
    let claims = tokens::open_token(services, access_key_id, token).ok_or_else(invalid_token)?;
    if services.clock.now_secs() >= claims.expires_at {
        return Err(AwsError::new(400, "ExpiredToken", "The security token included in the request is expired"));
    }
    let caller = claims.caller(access_key_id);
    Ok((caller, claims.secret))
}
