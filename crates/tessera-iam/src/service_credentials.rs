//! Service-specific credentials (`id_credentials_ssh-keys.html`, `id_credentials_keyspaces.html`,
//! `id_credentials_api_keys_for_aws_services.html`): CreateServiceSpecificCredential,
//! ListServiceSpecificCredentials, ResetServiceSpecificCredential,
//! UpdateServiceSpecificCredential, DeleteServiceSpecificCredential.
//!
//! The password (or API key secret) is shown once, by Create and Reset, and kept only as an
//! argon2id hash: Tessera serves none of these services, so it never needs the clear value.
//! At most two credentials per user per service.

use tessera_store::{ReadTxn, StoreError, WriteTxn};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::credentials::login::hash_password;
use super::credentials::{
    optional_user_name, read, required_user_name, resolve_subject, respond, write, StoreResultExt,
};
use crate::clock;
use crate::ids;
use crate::model::{self, table, ServiceSpecificCredential};
use crate::validate::{self, Checks, Page};
use crate::{Call, Services};

/// Credentials per user per service.
pub const PER_USER_PER_SERVICE: usize = 2;

/// Services with user name and password credentials.
const PASSWORD_SERVICES: &[&str] = &["codecommit.amazonaws.com", "cassandra.amazonaws.com"];
/// Services with long-term API keys.
const API_KEY_SERVICES: &[&str] = &["bedrock.amazonaws.com"];

fn is_supported(service: &str) -> bool {
    PASSWORD_SERVICES.contains(&service) || API_KEY_SERVICES.contains(&service)
}

fn not_supported(service: &str) -> AwsError {
    AwsError::new(
        404,
        "NotSupportedService",
        format!("No such service {service} is supported for Service-Specific Credentials"),
    )
}

fn user_prefix(account: &str, user: &str) -> String {
    format!("{account}/{}/", user.to_ascii_lowercase())
}

fn key(account: &str, user: &str, id: &str) -> String {
    format!("{}{id}", user_prefix(account, user))
}

fn no_such_credential(id: &str) -> AwsError {
    AwsError::new(404, "NoSuchEntity", format!("No such credential {id} exists"))
}

/// The credentials of a user, in id order.
fn of_user(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
    user: &str,
) -> Result<Vec<ServiceSpecificCredential>, StoreError> {
    let rows = r.scan(table::SERVICE_CREDENTIAL, &user_prefix(account, user), None, usize::MAX)?;
    Ok(model::decode_rows(table::SERVICE_CREDENTIAL, rows)?.into_iter().map(|(_, c)| c).collect())
}

/// Whether a user still has service-specific credentials (DeleteUser refuses then).
pub fn user_has_credentials(r: &(impl ReadTxn + ?Sized), account: &str, user: &str) -> Result<bool, StoreError> {
    Ok(r.count(table::SERVICE_CREDENTIAL, &user_prefix(account, user))? > 0)
}

/// Move a user's credentials to its new name (`UpdateUser` with `NewUserName`), in its transaction.
pub fn rename_user(txn: &mut dyn WriteTxn, account: &str, old: &str, new: &str) -> Result<(), StoreError> {
    for mut c in of_user(txn, account, old)? {
        txn.delete(table::SERVICE_CREDENTIAL, &key(account, old, &c.id))?;
        c.user_name = new.to_string();
        model::save(txn, table::SERVICE_CREDENTIAL, &key(account, new, &c.id), &c)?;
    }
    Ok(())
}

fn status(c: &ServiceSpecificCredential, now: i64) -> &str {
    if c.expires.is_some_and(|e| e <= now) {
        "Expired"
    } else {
        &c.status
    }
}

/// The members of a credential; `secret` is the clear password or API key (Create, Reset).
fn write_credential(w: &mut XmlWriter, c: &ServiceSpecificCredential, now: i64, secret: Option<&str>) {
    let api_key = API_KEY_SERVICES.contains(&c.service_name.as_str());
    w.elem("CreateDate", &clock::iso8601(c.created));
    if let Some(e) = c.expires {
        w.elem("ExpirationDate", &clock::iso8601(e));
    }
    w.elem("ServiceName", &c.service_name);
    if api_key {
        w.elem("ServiceCredentialAlias", &c.service_user_name);
        if let Some(s) = secret {
            w.elem("ServiceCredentialSecret", s);
        }
    } else {
        w.elem("ServiceUserName", &c.service_user_name);
        if let Some(s) = secret {
            w.elem("ServicePassword", s);
        }
    }
    w.elem("ServiceSpecificCredentialId", &c.id).elem("UserName", &c.user_name).elem("Status", status(c, now));
}

/// A fresh secret for `service`: a password, or an API key (`ABSK` + base64-like characters).
fn new_secret(service: &str) -> String {
    if API_KEY_SERVICES.contains(&service) {
        format!("ABSK{}", ids::secret_access_key())
    } else {
        ids::secret_access_key()
    }
}

fn credential_id(params: &QueryParams) -> Result<&str, AwsError> {
    let id = params.required("ServiceSpecificCredentialId")?;
    Checks::new()
        .length("serviceSpecificCredentialId", id, 20, 128)
        .pattern("serviceSpecificCredentialId", id, r"[\w]+", |s| s.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .finish()?;
    Ok(id)
}

/// `CreateServiceSpecificCredential`.
pub(crate) fn create(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user_name = required_user_name(params, 128)?;
    let service = params.required("ServiceName")?;
    let age = match params.get("CredentialAgeDays") {
        None => None,
        Some(v) => {
            let n = v
                .trim()
                .parse::<i64>()
                .map_err(|_| AwsError::validation(format!("Invalid value for CredentialAgeDays: {v}")))?;
            Checks::new().range("credentialAgeDays", n, 1, 36_600).finish()?;
            Some(n)
        }
    };
    let user = super::per_user::subject_user(resolve_subject(
        services,
        call,
        Some(user_name),
        "iam:CreateServiceSpecificCredential",
        false,
    )?)?;
    if !is_supported(service) {
        return Err(not_supported(service));
    }
    if age.is_some() && !API_KEY_SERVICES.contains(&service) {
        return Err(AwsError::new(
            400,
            "InvalidInput",
            format!("CredentialAgeDays is not supported for service {service}."),
        ));
    }
    let account = call.caller.account.as_str();
    let now = call.now_secs();
    let secret = new_secret(service);
    let hash = hash_password(&secret)?;
    let cred = write(services, |txn| {
        let existing = of_user(txn, account, &user.name).ise()?;
        if existing.iter().filter(|c| c.service_name == service).count() >= PER_USER_PER_SERVICE {
            return Err(AwsError::new(
                409,
                "LimitExceeded",
                format!("Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {PER_USER_PER_SERVICE}"),
            ));
        }
        let cred = ServiceSpecificCredential {
            id: format!("ACCA{}", ids::key_characters(17)),
            account: account.to_string(),
            user_name: user.name.clone(),
            service_name: service.to_string(),
            service_user_name: format!("{}-at-{account}", user.name),
            secret_hash: hash,
            status: "Active".into(),
            created: now,
            expires: age.map(|d| now + d * 86_400),
        };
        model::save(txn, table::SERVICE_CREDENTIAL, &key(account, &user.name, &cred.id), &cred).ise()?;
        Ok(cred)
    })?;
    let mut w = XmlWriter::fragment();
    w.open("ServiceSpecificCredential", None);
    write_credential(&mut w, &cred, now, Some(&secret));
    w.close();
    respond(call, Some(w.finish()))
}

/// `ListServiceSpecificCredentials`.
pub(crate) fn list(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user_name = optional_user_name(params, "UserName")?;
    let service = params.get("ServiceName");
    let all_users = match params.get("AllUsers") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => return Err(AwsError::validation(format!("Invalid value for AllUsers: {v}"))),
    };
    let page = Page::from_params(params)?;
    if all_users && user_name.is_some() {
        return Err(AwsError::new(400, "InvalidInput", "UserName and AllUsers cannot be specified together."));
    }
    let account = call.caller.account.as_str();
    let creds = if all_users {
        services.authorize(call, "iam:ListServiceSpecificCredentials", &format!("arn:aws:iam::{account}:user/*"))?;
        read(services, |r| {
            let rows = r.scan(table::SERVICE_CREDENTIAL, &format!("{account}/"), None, usize::MAX).ise()?;
            model::decode_rows::<ServiceSpecificCredential>(table::SERVICE_CREDENTIAL, rows).ise()
        })?
        .into_iter()
        .map(|(_, c)| c)
        .collect::<Vec<_>>()
    } else {
        let user = super::per_user::subject_user(resolve_subject(
            services,
            call,
            user_name,
            "iam:ListServiceSpecificCredentials",
            false,
        )?)?;
        read(services, |r| of_user(r, account, &user.name).ise())?
    };
    if let Some(s) = service {
        if !is_supported(s) {
            return Err(not_supported(s));
        }
    }
    let creds: Vec<ServiceSpecificCredential> =
        creds.into_iter().filter(|c| service.is_none_or(|s| c.service_name == s)).collect();
    let (creds, marker) = page.apply(creds, |c| format!("{}/{}", c.user_name.to_ascii_lowercase(), c.id));
    let now = call.now_secs();
    let mut w = XmlWriter::fragment();
    w.open("ServiceSpecificCredentials", None);
    for c in &creds {
        w.open("member", None);
        write_credential(&mut w, c, now, None);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    respond(call, Some(w.finish()))
}

/// Resolve the user and load one of its credentials, authorized with `action`.
fn target(
    services: &Services,
    call: &Call,
    params: &QueryParams,
    action: &str,
) -> Result<(Box<model::User>, ServiceSpecificCredential), AwsError> {
    let user_name = optional_user_name(params, "UserName")?;
    let id = credential_id(params)?;
    super::per_user::user_and_record(services, call, user_name, id, action, table::SERVICE_CREDENTIAL, || {
        no_such_credential(id)
    })
}

/// `ResetServiceSpecificCredential`: a new password (or API key secret), shown once.
pub(crate) fn reset(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let (user, cred) = target(services, call, params, "iam:ResetServiceSpecificCredential")?;
    let account = call.caller.account.as_str();
    let secret = new_secret(&cred.service_name);
    let hash = hash_password(&secret)?;
    let cred = write(services, |txn| {
        let k = key(account, &user.name, &cred.id);
        let mut c: ServiceSpecificCredential =
            model::load(txn, table::SERVICE_CREDENTIAL, &k).ise()?.ok_or_else(|| no_such_credential(&cred.id))?;
        c.secret_hash = hash;
        model::save(txn, table::SERVICE_CREDENTIAL, &k, &c).ise()?;
        Ok(c)
    })?;
    let mut w = XmlWriter::fragment();
    w.open("ServiceSpecificCredential", None);
    write_credential(&mut w, &cred, call.now_secs(), Some(&secret));
    w.close();
    respond(call, Some(w.finish()))
}

/// `UpdateServiceSpecificCredential`: `Active` / `Inactive`.
pub(crate) fn update(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let new_status = params.required("Status")?;
    Checks::new().one_of("status", Some(new_status), &["Active", "Inactive", "Expired"]).finish()?;
    if new_status == "Expired" {
        return Err(AwsError::new(400, "InvalidInput", "Status can only be set to Active or Inactive."));
    }
    let (user, cred) = target(services, call, params, "iam:UpdateServiceSpecificCredential")?;
    let account = call.caller.account.as_str();
    write(services, |txn| {
        let k = key(account, &user.name, &cred.id);
        let mut c: ServiceSpecificCredential =
            model::load(txn, table::SERVICE_CREDENTIAL, &k).ise()?.ok_or_else(|| no_such_credential(&cred.id))?;
        c.status = new_status.to_string();
        model::save(txn, table::SERVICE_CREDENTIAL, &k, &c).ise()
    })?;
    respond(call, None)
}

/// `DeleteServiceSpecificCredential`.
pub(crate) fn delete(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let (user, cred) = target(services, call, params, "iam:DeleteServiceSpecificCredential")?;
    let account = call.caller.account.as_str();
    write(services, |txn| {
        if !txn.delete(table::SERVICE_CREDENTIAL, &key(account, &user.name, &cred.id)).ise()? {
            return Err(no_such_credential(&cred.id));
        }
        Ok(())
    })?;
    respond(call, None)
}
