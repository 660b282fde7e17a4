//! AWS STS: temporary credentials (see `docs/SESSION_TOKENS.md`).
//!
//! - [`session_credentials`] authenticates `ASIA...` keys from their self-contained token;
//! - [`check_session_scope`] applies what each kind of temporary credentials may call;
//! - [`rotate_token_key`] rotates the key that seals new tokens (`tessera keys rotate`);
//! - [`encode_authorization_message`] seals what `DecodeAuthorizationMessage` reveals.

pub mod assume_role;
pub mod assume_root;
pub mod certificate;
pub mod delegated_access;
pub mod federated_role;
pub mod federation;
pub mod oidc;
pub mod params;
pub mod saml;
pub mod saml_decrypt;
pub mod scoped_credentials;
pub mod trust_bundles;
pub mod web_identity;
pub mod web_identity_token;
pub mod workload_context;

use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

pub use tessera_core::sts::{
    check_session_scope, encode_authorization_message, invalid_token, rotate_token_key, session_credentials, tokens,
    StsState,
};
/// SAML metadata and assertions: parsed next to the IAM SAML providers that store them.
pub use tessera_iam::saml_xml;

pub(crate) use tessera_core::org as organizations;
pub(crate) use tessera_core::{authz, caller, clock, ids, internal, model, validate, Call, Caller, CallerKind};
#[cfg(test)]
pub(crate) use tessera_core::{Config, ServiceName};
pub(crate) use tessera_core::{Services, SessionInfo};
pub(crate) use tessera_iam as iam;
pub(crate) use tessera_iam_workload as iam_workload;

use crate::model::table;

/// Run an STS operation.
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    match call.operation.as_str() {
        "GetCallerIdentity" => Ok(get_caller_identity(call)),
        "AssumeRole" => assume_role::assume_role(services, call, params),
        "AssumeRoleWithWebIdentity" => web_identity::assume_role_with_web_identity(services, call, params),
        "AssumeRoleWithSAML" => saml::assume_role_with_saml(services, call, params),
        "AssumeRoot" => assume_root::assume_root(services, call, params),
        "GetWebIdentityToken" => web_identity_token::get_web_identity_token(services, call, params),
        "GetSessionToken" => federation::get_session_token(services, call, params),
        "GetFederationToken" => federation::get_federation_token(services, call, params),
        "GetScopedCredentials" => scoped_credentials::get_scoped_credentials(services, call, params),
        "GetAccessKeyInfo" => get_access_key_info(services, call, params),
        "DecodeAuthorizationMessage" => decode_authorization_message(services, call, params),
        "GetDelegatedAccessToken" => delegated_access::get_delegated_access_token(services, call, params),
        "GetTrustBundles" => trust_bundles::get_trust_bundles(services, call, params),
        "IssueWorkloadIdentityContext" => workload_context::issue_workload_identity_context(services, call, params),
        "GetCertificate" => certificate::get_certificate(services, call, params),
        op => Err(AwsError::not_implemented("sts", op)),
    }
}

/// The STS operations AWS accepts unsigned: the token or assertion in the request is the
/// credential. The server routes an unsigned request here only for these.
pub const UNSIGNED_OPERATIONS: &[&str] = &["AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"];

/// STS operations that only read what is in memory (no network, no durable write): the server
/// runs them on its async threads instead of handing them to a blocking thread.
pub const IN_MEMORY_OPERATIONS: &[&str] = &[
    "GetCallerIdentity",
    "AssumeRole",
    "GetSessionToken",
    "GetAccessKeyInfo",
    "GetFederationToken",
    "DecodeAuthorizationMessage",
    "GetScopedCredentials",
];

/// The caller of an unsigned request (one of [`UNSIGNED_OPERATIONS`]): no account, no ARN, no
/// key. Those operations never authorize as the caller (their trust evaluation uses the
/// federated principal), and the audit derives their `userIdentity` from the response. Should
/// anything authorize as this caller anyway, it fails closed: a federated user of no account
/// whose session policy denies every action (an explicit deny, which nothing overrides).
pub fn unsigned_caller() -> Caller {
    const DENY_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
    Caller {
        account: String::new(),
        arn: String::new(),
        user_id: String::new(),
        kind: crate::CallerKind::FederatedUser { name: String::new(), user_name: String::new() },
        access_key_id: String::new(),
        session: Some(crate::SessionInfo {
            session_policy: Some(DENY_ALL.into()),
            issued_by: "unsigned".into(),
            ..Default::default()
        }),
    }
}

/// `GetCallerIdentity`: needs no permission, as on AWS (an explicit deny cannot block it).
fn get_caller_identity(call: &Call) -> WireResponse {
    let mut w = XmlWriter::fragment();
    w.elem("Arn", &call.caller.arn).elem("UserId", &call.caller.user_id).elem("Account", &call.caller.account);
    WireResponse::query(STS_XMLNS, "GetCallerIdentity", Some(&w.finish()), &call.meta.request_id)
}

/// Issued temporary credentials.
#[derive(Debug, Clone)]
pub struct IssuedCredentials {
    /// `ASIA...`.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: String,
    /// Session token.
    pub session_token: String,
    /// Expiry (epoch seconds).
    pub expires_at: i64,
}

/// Write `<Credentials>`.
pub fn write_credentials(w: &mut XmlWriter, c: &IssuedCredentials) {
    w.open("Credentials", None)
        .elem("AccessKeyId", &c.access_key_id)
        .elem("SecretAccessKey", &c.secret)
        .elem("SessionToken", &c.session_token)
        .elem("Expiration", &crate::clock::iso8601(c.expires_at))
        .close();
}

/// `GetAccessKeyInfo`: the account of an access key id. Temporary key ids carry their account;
/// long-term ones are looked up. A long-term key id Tessera never issued gives
/// `InvalidParameterValue` (AWS decodes an account from any key id; Tessera's ids do not
/// encode one).
fn get_access_key_info(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let key_id = p.required("AccessKeyId")?;
    let mut check = params::Check::default();
    check.length("accessKeyId", key_id, 16, 128).pattern(
        "accessKeyId",
        key_id,
        params::ACCESS_KEY_ID_PATTERN,
        key_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
    );
    check.finish()?;
    services.authorize(call, "sts:GetAccessKeyInfo", "*")?;
    let account = if key_id.starts_with("ASIA") {
        tokens::account_of_temporary_key(key_id)
    } else {
        let r = services.store.read().map_err(internal)?;
        model::load::<model::AccessKey>(r.as_ref(), table::ACCESS_KEY, key_id).map_err(internal)?.map(|k| k.account)
    };
    let account = account.ok_or_else(|| {
        AwsError::invalid_parameter_value(format!("The access key ID '{key_id}' is not known to this Tessera."))
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("Account", &account);
    Ok(WireResponse::query(STS_XMLNS, "GetAccessKeyInfo", Some(&w.finish()), &call.meta.request_id))
}

/// `DecodeAuthorizationMessage` (needs `sts:DecodeAuthorizationMessage`).
fn decode_authorization_message(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let message = p.required("EncodedMessage")?;
    params::Check::default().length("encodedMessage", message, 1, 10240).finish()?;
    services.authorize(call, "sts:DecodeAuthorizationMessage", "*")?;
    let decoded = tokens::decode_authorization_message(services, message).ok_or_else(|| {
        AwsError::new(400, "InvalidAuthorizationMessageException", "The encoded authorization message is invalid.")
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("DecodedMessage", &decoded);
    Ok(WireResponse::query(STS_XMLNS, "DecodeAuthorizationMessage", Some(&w.finish()), &call.meta.request_id))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod web_identity_tests;

#[cfg(test)]
mod token_attack_tests;

#[cfg(test)]
mod saml_tests;

#[cfg(test)]
mod svid_tests;
