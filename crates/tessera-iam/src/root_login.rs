//! The root user's console password as IAM shows it: `GetLoginProfile` and `DeleteLoginProfile`
//! called by a root user without `UserName` act on the root user's own password, as they do in
//! a privileged root session (`sts:AssumeRoot` with `IAMAuditRootUserCredentials` or
//! `IAMDeleteRootUserCredentials`; IAM User Guide, `id_root-user-privileged-task.html`).
//! `CreateLoginProfile` without `UserName` in an `AssumeRoot` session (task policy
//! `IAMCreateRootUserPassword`) gives the member account's root user a login profile again
//! ([`create`]); a root user's own long-term credentials cannot omit `UserName` (the API
//! reference: "you must use an AssumeRoot session to omit the user name").
//!
//! The password is the console's (`tessera console set-root-password`): an argon2id hash in
//! table [`ROOT_PASSWORD_TABLE`], keyed by account id (`{"hash": ..., "changed": <epoch s>}`;
//! `"hash": null` for a profile made without a password, whose password is still to be set).
//! Nothing here reads or returns the hash. See `docs/ROOT_ACCESS.md`.

use serde_json::Value;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::credentials::{login, optional_bool};
use super::entities::StoreResultExt;
use crate::clock::iso8601;
use crate::model::{self, table, Account};
use crate::{Call, Services};

/// Table of the root users' console passwords, by account id.
pub const ROOT_PASSWORD_TABLE: &str = "console_root_password";

/// Whether a login profile operation acts on the root user's password: a root caller that
/// names no user.
pub(crate) fn applies(call: &Call, params: &QueryParams) -> bool {
    call.caller.is_root() && params.get("UserName").is_none()
}

/// Whether `CreateLoginProfile` acts on the root user's password: a privileged root session
/// (`AssumeRoot`) that names no user. Other root callers keep IAM's answer for a missing
/// `UserName`.
pub(crate) fn creates(call: &Call, params: &QueryParams) -> bool {
    applies(call, params) && call.caller.session.as_ref().is_some_and(|s| s.issued_by == "AssumeRoot")
}

fn no_root_password() -> AwsError {
    AwsError::new(404, "NoSuchEntity", "Login Profile for the root user cannot be found.")
}

fn authorize(services: &Services, call: &Call, action: &str) -> Result<(), AwsError> {
    services.authorize(call, action, &format!("arn:aws:iam::{}:root", call.caller.account))
}

/// The `LoginProfile` element of a root password record: when it was set, and
/// `PasswordResetRequired` while no password is set yet (never the hash).
fn profile_response(call: &Call, record: &Value) -> WireResponse {
    let changed = record.get("changed").and_then(Value::as_i64).unwrap_or(0);
    let pending = record.get("hash").is_none_or(Value::is_null);
    let mut w = XmlWriter::fragment();
    w.open("LoginProfile", None)
        .elem("CreateDate", &iso8601(changed))
        .elem("PasswordResetRequired", if pending { "true" } else { "false" })
        .close();
    WireResponse::query(tessera_wire::response::IAM_XMLNS, &call.operation, Some(&w.finish()), &call.meta.request_id)
}

/// `GetLoginProfile` for the root user: when the password was set, never the password.
pub(crate) fn get(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    authorize(services, call, "iam:GetLoginProfile")?;
    let r = services.store.read().st()?;
    let record: Value =
        model::load(r.as_ref(), ROOT_PASSWORD_TABLE, &call.caller.account).st()?.ok_or_else(no_root_password)?;
    Ok(profile_response(call, &record))
}

/// `CreateLoginProfile` in a privileged root session (`IAMCreateRootUserPassword`): the member
/// account's root user gets a login profile again (IAM User Guide,
/// `id_root-user-privileged-task.html`). AWS takes no `Password` here and lets the root user
/// set one through the sign-in page's password recovery, which mails the account's address;
/// Tessera sends no mail, so without `Password` the profile waits for its password
/// (`tessera console set-root-password`, the operator's stand-in for that mail), and with one
/// (Tessera's addition) the password is set at once, checked against AWS's root password rules.
/// `EntityAlreadyExists` (409) when the root user has a login profile.
pub(crate) fn create(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let password = login::password_param(params, "Password")?;
    // Validated as for any caller; a root login profile has no forced reset in Tessera.
    optional_bool(params, "PasswordResetRequired")?;
    authorize(services, call, "iam:CreateLoginProfile")?;
    let account = call.caller.account.as_str();
    let hash = match password {
        Some(p) => {
            let r = services.store.read().st()?;
            let acct: Option<Account> = model::load(r.as_ref(), table::ACCOUNT, account).st()?;
            drop(r);
            login::check_password(None, p, "root", acct.as_ref())?;
            Some(login::hash_password(p)?)
        }
        None => None,
    };
    let record = serde_json::json!({ "hash": hash, "changed": call.now_secs() });
    let mut txn = services.store.write().st()?;
    if txn.get(ROOT_PASSWORD_TABLE, account).st()?.is_some() {
        return Err(AwsError::new(409, "EntityAlreadyExists", "Login Profile for the root user already exists."));
    }
    model::save(txn.as_mut(), ROOT_PASSWORD_TABLE, account, &record).st()?;
    txn.commit().st()?;
    Ok(profile_response(call, &record))
}

/// `DeleteLoginProfile` for the root user: the console password is removed.
pub(crate) fn delete(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    authorize(services, call, "iam:DeleteLoginProfile")?;
    let account = call.caller.account.as_str();
    let mut txn = services.store.write().st()?;
    if !txn.delete(ROOT_PASSWORD_TABLE, account).st()? {
        return Err(no_root_password());
    }
    txn.commit().st()?;
    Ok(WireResponse::query(tessera_wire::response::IAM_XMLNS, "DeleteLoginProfile", None, &call.meta.request_id))
}

#[cfg(test)]
mod tests {
    use super::super::credentials::{handle, test_support::*};
    use super::*;

    fn run(services: &Services, op: &str) -> Result<WireResponse, AwsError> {
        handle(services, &root_call(op, 1_700_000_000), &params(&[])).expect("handled")
    }

    #[test]
    fn root_password_read_and_deleted_never_revealed() {
        let s = services_at(1_700_000_000);
        assert_eq!(run(&s, "GetLoginProfile").unwrap_err().code, "NoSuchEntity");
        assert_eq!(run(&s, "DeleteLoginProfile").unwrap_err().code, "NoSuchEntity");
        let record = serde_json::json!({"hash": "$argon2id$secret-hash", "changed": 1_600_000_000});
        let mut w = s.store.write().unwrap();
        model::save(w.as_mut(), ROOT_PASSWORD_TABLE, ACCOUNT, &record).unwrap();
        w.commit().unwrap();
        let got = body(&run(&s, "GetLoginProfile").unwrap());
        assert!(got.contains("<CreateDate>2020-09-13T12:26:40Z</CreateDate>"), "{got}");
        assert!(!got.contains("argon2id"), "{got}");
        run(&s, "DeleteLoginProfile").unwrap();
        assert_eq!(run(&s, "GetLoginProfile").unwrap_err().code, "NoSuchEntity");
        // A user named explicitly is still a user's login profile.
        let e = handle(&s, &root_call("GetLoginProfile", 1_700_000_000), &params(&[("UserName", "nobody")]))
            .expect("handled")
            .unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        assert!(e.message.contains("nobody"), "{}", e.message);
    }
}

#[cfg(test)]
mod create_tests {
    use super::super::credentials::{handle, test_support::*};
    use super::*;
    use crate::caller::SessionInfo;

    const T: i64 = 1_700_000_000;

    /// A call of `op` in an `AssumeRoot` session of [`ACCOUNT`]'s root user with `task`.
    fn root_session(op: &str, task: &str) -> Call {
        let mut call = root_call(op, T);
        call.caller.session = Some(SessionInfo {
            issued_at: T,
            expires_at: T + 900,
            session_policy: Some(
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.into(),
            ),
            session_policy_arns: vec![format!("arn:aws:iam::aws:policy/root-task/{task}")],
            issued_by: "AssumeRoot".into(),
            ..SessionInfo::default()
        });
        call
    }

    fn run(s: &Services, call: &Call, pairs: &[(&str, &str)]) -> Result<String, AwsError> {
        handle(s, call, &params(pairs)).expect("handled").map(|r| body(&r))
    }

    fn stored(s: &Services) -> Option<Value> {
        model::load(s.store.read().unwrap().as_ref(), ROOT_PASSWORD_TABLE, ACCOUNT).unwrap()
    }

    #[test]
    fn a_create_password_session_makes_the_root_login_profile_once() {
        let s = services_at(T);
        let create = root_session("CreateLoginProfile", "IAMCreateRootUserPassword");
        let got = run(&s, &create, &[]).unwrap();
        assert!(got.contains("<PasswordResetRequired>true</PasswordResetRequired>"), "{got}");
        assert!(stored(&s).is_some_and(|v| v["hash"].is_null()));
        let read = run(&s, &root_session("GetLoginProfile", "IAMCreateRootUserPassword"), &[]).unwrap();
        assert!(read.contains("<PasswordResetRequired>true</PasswordResetRequired>"), "{read}");
        assert_eq!(run(&s, &create, &[]).unwrap_err().code, "EntityAlreadyExists");
        assert_eq!(run(&s, &create, &[("Password", "Another-Pa55word")]).unwrap_err().code, "EntityAlreadyExists");
    }

    #[test]
    fn a_password_given_is_checked_and_set() {
        let s = services_at(T);
        let create = root_session("CreateLoginProfile", "IAMCreateRootUserPassword");
        assert_eq!(run(&s, &create, &[("Password", "weak")]).unwrap_err().code, "PasswordPolicyViolation");
        assert!(stored(&s).is_none(), "a refusal changes nothing");
        let got = run(&s, &create, &[("Password", "Recovered-Pa55word")]).unwrap();
        assert!(got.contains("<PasswordResetRequired>false</PasswordResetRequired>"), "{got}");
        assert!(!got.contains("Recovered"), "{got}");
        let hash = stored(&s).and_then(|v| v["hash"].as_str().map(str::to_string)).unwrap_or_default();
        assert!(login::verify_password("Recovered-Pa55word", &hash));
    }

    #[test]
    fn other_callers_get_what_aws_answers() {
        let s = services_at(T);
        // Another task policy denies it.
        let audit = root_session("CreateLoginProfile", "IAMAuditRootUserCredentials");
        assert_eq!(run(&s, &audit, &[]).unwrap_err().code, "AccessDenied");
        // The root user's own credentials must name a user.
        let e = run(&s, &root_call("CreateLoginProfile", T), &[("Password", "Recovered-Pa55word")]).unwrap_err();
        assert_eq!(e.status / 100, 4, "{e:?}");
        assert!(stored(&s).is_none());
        // A root session may not make an IAM user's password.
        let create = root_session("CreateLoginProfile", "IAMCreateRootUserPassword");
        let e = run(&s, &create, &[("UserName", "someone"), ("Password", "Recovered-Pa55word")]).unwrap_err();
        assert!(matches!(e.code.as_str(), "AccessDenied" | "NoSuchEntity"), "{e:?}");
    }
}
