//! `GetScopedCredentials`: new temporary credentials for the calling session, with the same
//! identity, fewer permissions (a scope-down policy layer), a shorter life, or both.
//!
//! STS API Reference, "GetScopedCredentials"
//! (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetScopedCredentials.html), and
//! IAM User Guide, "Permissions for GetScopedCredentials"
//! (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getscopedcredentials.html).
//! The layers are carried in the sealed session token ([`SessionInfo::scope_policies`]) and
//! enforced by the authorizer's scope-down step (`tessera_core::authz::scope_down`).

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::params::{self, Check, SessionInputs};
use super::write_credentials;
use crate::tokens::{self, Claims};
use crate::{Call, IssuedCredentials, Services};

/// Longest `DurationSeconds` (36 hours).
pub const MAX_DURATION_SECS: i64 = 129_600;
/// Most scope-down layers a session may carry.
pub const MAX_SCOPE_LAYERS: usize = 3;
/// Largest `MinimumSessionTokenSize`.
pub const MAX_MINIMUM_TOKEN_SIZE: i64 = 4096;
/// The maximum allowed session token size, in bytes, that `SessionTokenUtilization` is a
/// percentage of and past which `PackedPolicyTooLarge` answers. AWS does not publish its own;
/// Tessera's is the largest `MinimumSessionTokenSize`, so that any size a caller may ask for fits.
pub const MAX_TOKEN_SIZE: usize = 4096;

/// The `scopedSessionDescriptionType` pattern.
const DESCRIPTION_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*";

fn is_description_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}')
}

/// `InvalidSubjectCredentials` (400): the caller has no session to scope down.
fn invalid_subject() -> AwsError {
    AwsError::new(
        400,
        "InvalidSubjectCredentials",
        "GetScopedCredentials must be called with temporary security credentials; \
         the credentials that signed this request are long-term credentials.",
    )
}

/// `SessionTokenUtilization`: the token's size as a percentage of [`MAX_TOKEN_SIZE`], rounded up.
pub fn token_utilization(token_len: usize) -> usize {
    (token_len * 100).div_ceil(MAX_TOKEN_SIZE)
}

/// Run `GetScopedCredentials`.
pub fn get_scoped_credentials(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let mut check = Check::default();
    let policy = params::policy_input(p, &mut check);
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 1, MAX_DURATION_SECS);
    }
    let min_size = params::integer(p, "MinimumSessionTokenSize")?;
    if let Some(n) = min_size {
        check.range("minimumSessionTokenSize", n, 0, MAX_MINIMUM_TOKEN_SIZE);
    }
    if let Some(d) = p.get("ScopedSessionDescription") {
        check.length("scopedSessionDescription", d, 2, 256).pattern(
            "scopedSessionDescription",
            d,
            DESCRIPTION_PATTERN,
            d.chars().all(is_description_char),
        );
    }
    check.finish()?;
    if policy.is_none() && duration.is_none() {
        return Err(AwsError::validation("A request must provide at least one of Policy or DurationSeconds."));
    }
    let caller = &call.caller;
    let Some(session) = &caller.session else {
        return Err(invalid_subject());
    };
    services.authorize(call, "sts:GetScopedCredentials", "*")?;
    let policy = params::check_session_inputs(&SessionInputs { policy, ..SessionInputs::default() })?;
    if policy.is_some() && session.scope_policies.len() >= MAX_SCOPE_LAYERS {
        return Err(AwsError::access_denied(format!(
            "The session already has the maximum of {MAX_SCOPE_LAYERS} scope-down policies; \
             GetScopedCredentials cannot add another."
        )));
    }
    let now = call.now_secs();
    let remaining = session.expires_at - now;
    let expires_at = match duration {
        Some(d) if d > remaining => {
            return Err(AwsError::new(
                400,
                "InsufficientSessionLifetime",
                format!(
                    "The requested DurationSeconds ({d}) exceeds the remaining lifetime of the calling session \
                     ({remaining} seconds). GetScopedCredentials cannot extend a session beyond its expiration."
                ),
            ))
        }
        Some(d) => now + d,
        None => session.expires_at,
    };

    // The same session: identity, tags, source identity, MFA, issue time (so that a revocation
    // by `aws:TokenIssueTime` reaches scoped credentials too) and the operation that issued it
    // (so that the same limits of `check_session_scope` follow); one more layer, a new expiry.
    let mut info = session.clone();
    info.expires_at = expires_at;
    info.scope_policies.extend(policy);
    let access_key_id = tokens::temporary_access_key_id(&caller.account);
    let secret = crate::ids::secret_access_key();
    let claims = Claims::new(secret.clone(), &caller.account, &caller.kind, &info);
    let min_len = usize::try_from(min_size.unwrap_or(0)).unwrap_or(0);
    let session_token = tokens::issue_token_with_min_len(services, &access_key_id, &claims, min_len)?;
    let size = session_token.len();
    if size > MAX_TOKEN_SIZE {
        return Err(AwsError::new(
            400,
            "PackedPolicyTooLarge",
            format!(
                "The session token would be {size} bytes, over the maximum allowed size of {MAX_TOKEN_SIZE} bytes. \
                 Reduce the size of the scope down policy."
            ),
        ));
    }
    let creds = IssuedCredentials { access_key_id, secret, session_token, expires_at };

    let mut w = XmlWriter::fragment();
    write_credentials(&mut w, &creds);
    w.open("SessionInfo", None).elem("ScopedSessionId", &caller.user_id).elem("Arn", &caller.arn).close();
    w.elem("SessionTokenUtilization", &token_utilization(size).to_string())
        .elem("SessionTokenSize", &size.to_string())
        .elem("ScopedPoliciesCount", &info.scope_policies.len().to_string());
    if let Some(source_identity) = &info.source_identity {
        w.elem("SourceIdentity", source_identity);
    }
    Ok(WireResponse::query(STS_XMLNS, "GetScopedCredentials", Some(&w.finish()), &call.meta.request_id))
}
