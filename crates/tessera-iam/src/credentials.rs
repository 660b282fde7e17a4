//! Access keys, login profiles and the password policy, MFA devices, OIDC and SAML providers,
//! account alias and summary, authorization details, credential reports and the policy simulator.
//!
//! Each area lives in a file of its own beside this one; this module dispatches to them and holds
//! what they share (who the target user is, tags, store access, response helpers).
//!
//! Every operation follows the same order: validate input → read what authorization needs (the
//! target's ARN and tags) → authorize → one write transaction (re-reading what it changes) → respond.
//! No transaction is held while authorizing, so that the authorizer can read the store.

#[path = "access_keys.rs"]
pub mod access_keys;
#[path = "account.rs"]
pub mod account;
#[path = "login.rs"]
pub mod login;
#[path = "mfa.rs"]
pub mod mfa;
#[path = "providers.rs"]
pub mod providers;
#[path = "simulate.rs"]
pub mod simulate;

use tessera_store::{ReadTxn, StoreError, WriteTxn};
use tessera_wire::response::IAM_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::service_credentials;
use crate::authz::AuthzRequest;
use crate::model::{self, table, Tag, User};
use crate::validate::{self, Checks};
use crate::{Call, CallerKind, Services};

pub use access_keys::record_access_key_use;
pub use mfa::mfa_device_owner;
pub use providers::{find_oidc_provider, find_saml_provider};

/// Run the operation if it belongs to this area.
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Option<Result<WireResponse, AwsError>> {
    let result = match call.operation.as_str() {
        "CreateAccessKey" => access_keys::create_access_key(services, call, params),
        "UpdateAccessKey" => access_keys::update_access_key(services, call, params),
        "DeleteAccessKey" => access_keys::delete_access_key(services, call, params),
        "ListAccessKeys" => access_keys::list_access_keys(services, call, params),
        "GetAccessKeyLastUsed" => access_keys::get_access_key_last_used(services, call, params),

        "CreateLoginProfile" if super::root_login::creates(call, params) => {
            super::root_login::create(services, call, params)
        }
        "CreateLoginProfile" => login::create_login_profile(services, call, params),
        "GetLoginProfile" if super::root_login::applies(call, params) => super::root_login::get(services, call),
        "GetLoginProfile" => login::get_login_profile(services, call, params),
        "UpdateLoginProfile" => login::update_login_profile(services, call, params),
        "DeleteLoginProfile" if super::root_login::applies(call, params) => super::root_login::delete(services, call),
        "DeleteLoginProfile" => login::delete_login_profile(services, call, params),
        "ChangePassword" => login::change_password(services, call, params),
        "UpdateAccountPasswordPolicy" => login::update_account_password_policy(services, call, params),
        "GetAccountPasswordPolicy" => login::get_account_password_policy(services, call),
        "DeleteAccountPasswordPolicy" => login::delete_account_password_policy(services, call),

        "CreateVirtualMFADevice" => mfa::create_virtual_mfa_device(services, call, params),
        "EnableMFADevice" => mfa::enable_mfa_device(services, call, params),
        "DeactivateMFADevice" => mfa::deactivate_mfa_device(services, call, params),
        "ResyncMFADevice" => mfa::resync_mfa_device(services, call, params),
        "DeleteVirtualMFADevice" => mfa::delete_virtual_mfa_device(services, call, params),
        "ListMFADevices" => mfa::list_mfa_devices(services, call, params),
        "ListVirtualMFADevices" => mfa::list_virtual_mfa_devices(services, call, params),
        "GetMFADevice" => mfa::get_mfa_device(services, call, params),
        "TagMFADevice" => mfa::tag_mfa_device(services, call, params),
        "UntagMFADevice" => mfa::untag_mfa_device(services, call, params),
        "ListMFADeviceTags" => mfa::list_mfa_device_tags(services, call, params),

        "CreateOpenIDConnectProvider" => providers::create_oidc_provider(services, call, params),
        "GetOpenIDConnectProvider" => providers::get_oidc_provider(services, call, params),
        "ListOpenIDConnectProviders" => providers::list_oidc_providers(services, call),
        "DeleteOpenIDConnectProvider" => providers::delete_oidc_provider(services, call, params),
        "AddClientIDToOpenIDConnectProvider" => providers::add_client_id(services, call, params),
        "RemoveClientIDFromOpenIDConnectProvider" => providers::remove_client_id(services, call, params),
        "UpdateOpenIDConnectProvider" => super::oidc_context::update(services, call, params),
        "UpdateOpenIDConnectProviderThumbprint" => providers::update_thumbprint(services, call, params),
        "TagOpenIDConnectProvider" => providers::tag_oidc_provider(services, call, params),
        "UntagOpenIDConnectProvider" => providers::untag_oidc_provider(services, call, params),
        "ListOpenIDConnectProviderTags" => providers::list_oidc_provider_tags(services, call, params),
        "CreateSAMLProvider" => providers::create_saml_provider(services, call, params),
        "GetSAMLProvider" => providers::get_saml_provider(services, call, params),
        "UpdateSAMLProvider" => providers::update_saml_provider(services, call, params),
        "DeleteSAMLProvider" => providers::delete_saml_provider(services, call, params),
        "ListSAMLProviders" => providers::list_saml_providers(services, call),
        "TagSAMLProvider" => providers::tag_saml_provider(services, call, params),
        "UntagSAMLProvider" => providers::untag_saml_provider(services, call, params),
        "ListSAMLProviderTags" => providers::list_saml_provider_tags(services, call, params),

        "CreateAccountAlias" => account::create_account_alias(services, call, params),
        "DeleteAccountAlias" => account::delete_account_alias(services, call, params),
        "ListAccountAliases" => account::list_account_aliases(services, call, params),
        "GetAccountSummary" => account::get_account_summary(services, call),
        "GetAccountAuthorizationDetails" => account::get_account_authorization_details(services, call, params),
        "GenerateCredentialReport" => account::generate_credential_report(services, call),
        "GetCredentialReport" => account::get_credential_report(services, call),

        "CreateServiceSpecificCredential" => service_credentials::create(services, call, params),
        "ListServiceSpecificCredentials" => service_credentials::list(services, call, params),
        "ResetServiceSpecificCredential" => service_credentials::reset(services, call, params),
        "UpdateServiceSpecificCredential" => service_credentials::update(services, call, params),
        "DeleteServiceSpecificCredential" => service_credentials::delete(services, call, params),

        "UploadSSHPublicKey" => super::ssh_keys::upload(services, call, params),
        "GetSSHPublicKey" => super::ssh_keys::get(services, call, params),
        "ListSSHPublicKeys" => super::ssh_keys::list(services, call, params),
        "UpdateSSHPublicKey" => super::ssh_keys::update(services, call, params),
        "DeleteSSHPublicKey" => super::ssh_keys::delete(services, call, params),
        "UploadSigningCertificate" => super::signing_certificates::upload(services, call, params),
        "ListSigningCertificates" => super::signing_certificates::list(services, call, params),
        "UpdateSigningCertificate" => super::signing_certificates::update(services, call, params),
        "DeleteSigningCertificate" => super::signing_certificates::delete(services, call, params),

        "SetSecurityTokenServicePreferences" => super::sts_preferences::set(services, call, params),

        "SimulateCustomPolicy" => simulate::simulate_custom_policy(services, call, params),
        "SimulatePrincipalPolicy" => simulate::simulate_principal_policy(services, call, params),
        "GetContextKeysForCustomPolicy" => simulate::get_context_keys_for_custom_policy(services, call, params),
        "GetContextKeysForPrincipalPolicy" => simulate::get_context_keys_for_principal_policy(services, call, params),
        _ => return None,
    };
    Some(result)
}

/// Check a TOTP code of the MFA device `serial_number` (virtual MFA ARN) at `now_secs`, for
/// `sts:AssumeRole`/`GetSessionToken` with `SerialNumber` + `TokenCode`. `Ok(false)` when the
/// device does not exist, is not enabled, or the code is wrong.
///
/// Codes of the current 30-second step and of one step either side are accepted (after the
/// device's drift as learnt by `ResyncMFADevice`); a code is accepted once per device. The
/// device's owner is not checked here: see [`mfa_device_owner`].
pub fn verify_mfa_token(
    services: &Services,
    serial_number: &str,
    token_code: &str,
    now_secs: i64,
) -> Result<bool, AwsError> {
    mfa::verify_token(services, serial_number, token_code, now_secs)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers of the credentials area.

/// A storage failure as AWS's generic 500 (details logged, never returned).
pub(crate) trait StoreResultExt<T> {
    /// Map a [`StoreError`] to `InternalFailure`.
    fn ise(self) -> Result<T, AwsError>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    fn ise(self) -> Result<T, AwsError> {
        self.map_err(crate::internal)
    }
}

/// Run `f` over a read snapshot.
pub(crate) fn read<T>(services: &Services, f: impl FnOnce(&dyn ReadTxn) -> Result<T, AwsError>) -> Result<T, AwsError> {
    let txn = services.store.read().ise()?;
    f(txn.as_ref())
}

/// Run `f` in one write transaction: commit when it returns `Ok`, roll back otherwise.
pub fn write<T>(services: &Services, f: impl FnOnce(&mut dyn WriteTxn) -> Result<T, AwsError>) -> Result<T, AwsError> {
    let mut txn = services.store.write().ise()?;
    let out = f(txn.as_mut())?;
    txn.commit().ise()?;
    Ok(out)
}

/// A successful query-protocol response; `None` for operations without output.
pub(crate) fn respond(call: &Call, result: Option<String>) -> Result<WireResponse, AwsError> {
    Ok(WireResponse::query(IAM_XMLNS, &call.operation, result.as_deref(), &call.meta.request_id))
}

/// `NoSuchEntity` (404).
pub(crate) fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NoSuchEntity", message)
}

/// `EntityAlreadyExists` (409).
pub(crate) fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "EntityAlreadyExists", message)
}

/// `LimitExceeded` (409).
pub(crate) fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "LimitExceeded", message)
}

/// `InvalidInput` (400).
pub(crate) fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidInput", message)
}

/// `DeleteConflict` (409).
pub(crate) fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "DeleteConflict", message)
}

/// AWS's message for a user that does not exist.
pub(crate) fn no_such_user(name: &str) -> AwsError {
    no_such_entity(format!("The user with name {name} cannot be found."))
}

/// `arn:aws:iam::<acct>:user<path><name>`, for a user that may not exist (path `/`).
pub(crate) fn user_arn_guess(account: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user/{name}")
}

/// Load a user of `account` by name (case-insensitively).
pub(crate) fn load_user(r: &(impl ReadTxn + ?Sized), account: &str, name: &str) -> Result<Option<User>, AwsError> {
    model::load(r, table::USER, &model::name_key(account, name)).ise()
}

/// Authorize `action` on `resource`, with the resource's tags as `aws:ResourceTag/...` and any
/// extra condition keys.
pub(crate) fn authorize_with(
    services: &Services,
    call: &Call,
    action: &str,
    resource: &str,
    resource_tags: &[Tag],
    mut context: Vec<(String, Vec<String>)>,
) -> Result<(), AwsError> {
    context.extend(resource_tags.iter().map(|t| (format!("aws:ResourceTag/{}", t.key), vec![t.value.clone()])));
    services.authorize_request(call, &AuthzRequest { action, resource, context, ..Default::default() })
}

/// Whose credentials an operation acts on.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    /// The account's root user.
    Root,
    /// An IAM user.
    User(Box<User>),
}

impl Subject {
    /// The user name, `None` for root.
    pub(crate) fn user_name(&self) -> Option<&str> {
        match self {
            Subject::Root => None,
            Subject::User(u) => Some(&u.name),
        }
    }
}

/// Check the optional `UserName` parameter (`existingUserNameType`: 1-128, `[\w+=,.@-]+`).
pub(crate) fn optional_user_name<'a>(params: &'a QueryParams, field: &str) -> Result<Option<&'a str>, AwsError> {
    let name = params.get(field);
    Checks::new()
        .length_opt(&lower_first(field), name, 1, 128)
        .pattern_opt(&lower_first(field), name, validate::NAME_PATTERN, validate::is_name)
        .finish()?;
    Ok(name)
}

/// Check a required user name (`userNameType`/`existingUserNameType`, up to `max`).
pub(crate) fn required_user_name(params: &QueryParams, max: usize) -> Result<&str, AwsError> {
    let name = params.required("UserName")?;
    Checks::new()
        .length("userName", name, 1, max)
        .pattern("userName", name, validate::NAME_PATTERN, validate::is_name)
        .finish()?;
    Ok(name)
}

/// `RoleName` → `roleName`.
pub(crate) fn lower_first(name: &str) -> String {
    tessera_wire::query::lower_first(name)
}

/// The message AWS gives when an operation that defaults to the caller's own user is called
/// without `UserName` by something that is not an IAM user.
pub(crate) fn must_specify_user_name() -> AwsError {
    AwsError::validation("Must specify userName when calling with non-User credentials")
}

/// Resolve and authorize the user an operation acts on: `user_name` when given, else the
/// caller's own IAM user, or the root user when `allow_root` and the caller is root.
///
/// Authorization comes before the existence check, as on AWS: an unauthorized caller learns
/// nothing about whether the user exists.
pub(crate) fn resolve_subject(
    services: &Services,
    call: &Call,
    user_name: Option<&str>,
    action: &str,
    allow_root: bool,
) -> Result<Subject, AwsError> {
    let account = call.caller.account.as_str();
    let name = match (user_name, &call.caller.kind) {
        (Some(n), _) => n.to_string(),
        (None, CallerKind::User { name, .. }) => name.clone(),
        (None, CallerKind::Root) if allow_root => {
            services.authorize(call, action, &format!("arn:aws:iam::{account}:root"))?;
            return Ok(Subject::Root);
        }
        (None, _) => return Err(must_specify_user_name()),
    };
    let user = read(services, |r| load_user(r, account, &name))?;
    match user {
        Some(u) => {
            authorize_with(services, call, action, &u.arn(), &u.tags, Vec::new())?;
            Ok(Subject::User(Box::new(u)))
        }
        None => {
            services.authorize(call, action, &user_arn_guess(account, &name))?;
            Err(no_such_user(&name))
        }
    }
}

/// Parse and check `Tags.member.N.Key/Value` (at most 50; keys unique case-insensitively).
pub fn parse_tags(params: &QueryParams) -> Result<Vec<Tag>, AwsError> {
    let items = params.structs("Tags");
    let mut checks = Checks::new();
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let key_field = format!("tags.{}.member.key", i + 1);
        let value_field = format!("tags.{}.member.value", i + 1);
        let key = match item.get("Key") {
            Some(k) => k,
            None => return Err(tessera_wire::query::null_member(&key_field)),
        };
        let value = match item.get("Value") {
            Some(v) => v,
            None => return Err(tessera_wire::query::null_member(&value_field)),
        };
        checks
            .length(&key_field, key, 1, 128)
            .pattern(&key_field, key, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", validate::is_tag_text)
            .length(&value_field, value, 0, 256)
            .pattern(&value_field, value, validate::TAG_PATTERN, validate::is_tag_text);
        tags.push(Tag { key: key.to_string(), value: value.to_string() });
    }
    if tags.len() > 50 {
        return Err(limit_exceeded("The number of tags has reached the maximum limit."));
    }
    checks.finish()?;
    check_duplicate_keys(tags.iter().map(|t| t.key.as_str()))?;
    Ok(tags)
}

fn check_duplicate_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Result<(), AwsError> {
    let mut seen = std::collections::HashSet::new();
    for k in keys {
        if !seen.insert(k.to_lowercase()) {
            return Err(invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive."));
        }
    }
    Ok(())
}

/// Parse and check `TagKeys.member.N` (at most 50).
pub fn parse_tag_keys(params: &QueryParams) -> Result<Vec<String>, AwsError> {
    if !params.has_list("TagKeys") {
        return Err(tessera_wire::query::null_member("TagKeys"));
    }
    let keys = params.list("TagKeys");
    let mut checks = Checks::new();
    if keys.len() > 50 {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '[{}]' at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to 50",
            keys.join(", ")
        )));
    }
    for (i, k) in keys.iter().enumerate() {
        let field = format!("tagKeys.{}.member", i + 1);
        checks.length(&field, k, 1, 128).pattern(&field, k, r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+", validate::is_tag_text);
    }
    checks.finish()?;
    Ok(keys.into_iter().map(str::to_string).collect())
}

pub use tessera_core::model::request_tag_context;

/// Add or replace tags (keys compared case-insensitively, as IAM does); at most 50 in all.
pub(crate) fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>) -> Result<(), AwsError> {
    let mut merged = existing.clone();
    for tag in new {
        match merged.iter_mut().find(|t| t.key.eq_ignore_ascii_case(&tag.key)) {
            Some(t) => *t = tag,
            None => merged.push(tag),
        }
    }
    if merged.len() > 50 {
        return Err(limit_exceeded("The number of tags has reached the maximum limit."));
    }
    *existing = merged;
    Ok(())
}

/// Remove tags by key (case-insensitively).
pub(crate) fn remove_tags(existing: &mut Vec<Tag>, keys: &[String]) {
    existing.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
}

/// `<Tags><member><Key/><Value/></member>...</Tags>` (always written, possibly empty).
pub fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    w.open("Tags", None);
    for t in tags {
        w.open("member", None).elem("Key", &t.key).elem("Value", &t.value).close();
    }
    w.close();
}

/// A `ListXxxTags` response body: a page of tags, `IsTruncated` and `Marker`.
pub fn tags_page(params: &QueryParams, tags: &[Tag]) -> Result<String, AwsError> {
    let page = validate::Page::from_params(params)?;
    let mut indexed: Vec<(usize, &Tag)> = tags.iter().enumerate().collect();
    indexed.sort_by_key(|(i, _)| *i);
    let (items, next) = page.apply(indexed, |(i, _)| format!("{i:08}"));
    let mut w = XmlWriter::fragment();
    let chosen: Vec<Tag> = items.into_iter().map(|(_, t)| t.clone()).collect();
    write_tags(&mut w, &chosen);
    validate::write_truncation(&mut w, next.as_deref());
    Ok(w.finish())
}

/// Parse an optional boolean parameter (`true`/`false`, as the SDKs send them).
pub(crate) fn optional_bool(params: &QueryParams, name: &str) -> Result<Option<bool>, AwsError> {
    match params.get(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(AwsError::validation(format!(
            "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be a boolean",
            lower_first(name)
        ))),
    }
}

/// Parse an optional integer parameter within `min..=max`.
pub(crate) fn optional_int(params: &QueryParams, name: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) => {
                Checks::new().range(&lower_first(name), n, min, max).finish()?;
                Ok(Some(n))
            }
            Err(_) => Err(AwsError::validation(format!(
                "1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be an integer",
                lower_first(name)
            ))),
        },
    }
}

/// Check an ARN parameter against `arnType` (20-2048 characters).
pub(crate) fn arn_param<'a>(params: &'a QueryParams, name: &str) -> Result<&'a str, AwsError> {
    let arn = params.required(name)?;
    Checks::new().length(&lower_first(name), arn, 20, 2048).finish()?;
    Ok(arn)
}

/// The account id and resource part of `arn:aws:iam::<account>:<kind><rest>`.
pub(crate) fn split_iam_arn<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let tail = resource.strip_prefix(kind)?;
    Some((account, tail))
}

/// The `<User>` element of IAM responses (`Path`, `UserName`, `UserId`, `Arn`, `CreateDate`,
/// `PasswordLastUsed`, `Tags`).
pub(crate) fn write_user(w: &mut XmlWriter, element: &'static str, user: &User) {
    w.open(element, None);
    w.elem("Path", &user.path)
        .elem("UserName", &user.name)
        .elem("UserId", &user.user_id)
        .elem("Arn", &user.arn())
        .elem("CreateDate", &crate::clock::iso8601(user.created));
    if let Some(t) = user.password_last_used {
        w.elem("PasswordLastUsed", &crate::clock::iso8601(t));
    }
    if let Some(b) = &user.permissions_boundary {
        w.open("PermissionsBoundary", None)
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", b)
            .close();
    }
    if !user.tags.is_empty() {
        write_tags(w, &user.tags);
    }
    w.close();
}

/// What still hangs off a user in this area and blocks `DeleteUser` (`DeleteConflict`), with
/// AWS's message; `None` when nothing does. The login profile is on the user record itself.
pub fn user_delete_conflict(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
    user_name: &str,
) -> Result<Option<&'static str>, StoreError> {
    let user: Option<User> = model::load(r, table::USER, &model::name_key(account, user_name))?;
    if user.as_ref().is_some_and(|u| u.login_profile.is_some()) {
        return Ok(Some("Cannot delete entity, must delete login profile first."));
    }
    if r.count(access_keys::USER_ACCESS_KEY, &access_keys::user_prefix(account, user_name))? > 0 {
        return Ok(Some("Cannot delete entity, must delete access keys first."));
    }
    if r.count(mfa::USER_MFA_DEVICE, &mfa::user_prefix(account, user_name))? > 0 {
        return Ok(Some("Cannot delete entity, must remove MFA devices first."));
    }
    if super::service_credentials::user_has_credentials(r, account, user_name)? {
        return Ok(Some("Cannot delete entity, must remove service specific credentials first."));
    }
    if super::per_user::has_any(r, table::SSH_PUBLIC_KEY, account, user_name)? {
        return Ok(Some("Cannot delete entity, must delete SSH public keys first."));
    }
    if super::per_user::has_any(r, table::SIGNING_CERTIFICATE, account, user_name)? {
        return Ok(Some("Cannot delete entity, must delete signing certificates first."));
    }
    Ok(None)
}

/// Carry this area's records over when a user is renamed (`UpdateUser` with `NewUserName`):
/// access keys (their owner and the per-user index), MFA devices and password history.
/// Call it in the same transaction that moves the user record.
pub fn rename_user_credentials(
    txn: &mut dyn WriteTxn,
    account: &str,
    old_name: &str,
    new_name: &str,
) -> Result<(), StoreError> {
    access_keys::rename_owner(txn, account, old_name, new_name)?;
    mfa::rename_user(txn, account, old_name, new_name)?;
    login::rename_user(txn, account, old_name, new_name)?;
    super::service_credentials::rename_user(txn, account, old_name, new_name)?;
    super::per_user::rename_owner::<model::SshPublicKey>(txn, table::SSH_PUBLIC_KEY, account, old_name, new_name)?;
    super::per_user::rename_owner::<model::SigningCertificate>(
        txn,
        table::SIGNING_CERTIFICATE,
        account,
        old_name,
        new_name,
    )?;
    Ok(())
}

#[cfg(any(test, feature = "test-support"))]
pub mod test_support {
    //! A `Services` over an in-memory store, and calls as root or as a user.

    use std::sync::Arc;

    use tessera_store::secrets::SecretBox;
    use tessera_store::sqlite::SqliteStore;
    use tessera_wire::QueryParams;

    use crate::clock::ManualClock;
    use crate::model::{self, table, User};
    use tessera_core::{Call, CallMeta, Caller, CallerKind, Config, Services};

    /// The test account.
    pub const ACCOUNT: &str = "123456789012";

    /// Services at time `secs`.
    pub fn services_at(secs: i64) -> Services {
        Services::new(
            Arc::new(SqliteStore::open_in_memory().expect("in-memory store")),
            SecretBox::new(&SecretBox::generate_key()),
            Arc::new(ManualClock::new(secs * 1000)),
            Config { endpoint: "http://127.0.0.1:1".into() },
        )
    }

    /// A call of `op` by the root user of [`ACCOUNT`] at `secs`.
    pub fn root_call(op: &str, secs: i64) -> Call {
        Call {
            caller: Caller::root(ACCOUNT, "AKIAROOTROOTROOTROOT"),
            operation: op.to_string(),
            meta: CallMeta {
                request_id: "req".into(),
                region: "us-east-1".into(),
                source_ip: "127.0.0.1".into(),
                user_agent: "test".into(),
                secure_transport: false,
                now_millis: secs * 1000,
            },
        }
    }

    /// A call of `op` by IAM user `name`.
    pub fn user_call(op: &str, name: &str, secs: i64) -> Call {
        let mut call = root_call(op, secs);
        call.caller = Caller {
            account: ACCOUNT.into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            user_id: "AIDAEXAMPLE".into(),
            kind: CallerKind::User { name: name.into(), path: "/".into(), user_id: "AIDAEXAMPLE".into() },
            access_key_id: "AKIAUSERUSERUSERUSER".into(),
            session: None,
        };
        call
    }

    /// Store a user.
    pub fn put_user(services: &Services, name: &str) -> User {
        let user = User {
            account: ACCOUNT.into(),
            name: name.into(),
            path: "/".into(),
            user_id: format!("AIDA{:0>17}", name.len()),
            created: 1_700_000_000,
            tags: vec![],
            permissions_boundary: None,
            inline_policies: vec![],
            attached_policies: vec![],
            groups: vec![],
            login_profile: None,
            password_last_used: None,
        };
        let mut txn = services.store.write().expect("write");
        model::save(txn.as_mut(), table::USER, &model::name_key(ACCOUNT, name), &user).expect("save");
        txn.commit().expect("commit");
        user
    }

    /// Query parameters from pairs.
    pub fn params(pairs: &[(&str, &str)]) -> QueryParams {
        QueryParams::from_pairs(pairs.iter().copied())
    }

    /// The body of a response as text.
    pub fn body(r: &tessera_wire::WireResponse) -> String {
        String::from_utf8_lossy(&r.body).into_owned()
    }

    /// The text of the first `<tag>...</tag>` in `xml`.
    pub fn elem(xml: &str, tag: &str) -> Option<String> {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find(&close)? + start;
        Some(xml[start..end].to_string())
    }
}
