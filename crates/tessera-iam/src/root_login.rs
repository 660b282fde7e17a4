//! The root user's console password as IAM shows it: `GetLoginProfile` and `DeleteLoginProfile`
//! called by a root user without `UserName` act on the root user's own password, as they do in
//! a privileged root session (`sts:AssumeRoot` with `IAMAuditRootUserCredentials` or
//! `IAMDeleteRootUserCredentials`; IAM User Guide, `id_root-user-privileged-task.html`).
//!
//! The password is the console's (`tessera console set-root-password`): an argon2id hash in
//! table [`ROOT_PASSWORD_TABLE`], keyed by account id (`{"hash": ..., "changed": <epoch s>}`).
//! Nothing here reads or returns the hash. See `docs/ROOT_ACCESS.md`.

use serde_json::Value;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::entities::StoreResultExt;
use crate::clock::iso8601;
use crate::model;
use crate::{Call, Services};

/// Table of the root users' console passwords, by account id.
pub const ROOT_PASSWORD_TABLE: &str = "console_root_password";

/// Whether a login profile operation acts on the root user's password: a root caller that
/// names no user.
pub(crate) fn applies(call: &Call, params: &QueryParams) -> bool {
    call.caller.is_root() && params.get("UserName").is_none()
}

fn no_root_password() -> AwsError {
    AwsError::new(404, "NoSuchEntity", "Login Profile for the root user cannot be found.")
}

fn authorize(services: &Services, call: &Call, action: &str) -> Result<(), AwsError> {
    services.authorize(call, action, &format!("arn:aws:iam::{}:root", call.caller.account))
}

/// `GetLoginProfile` for the root user: when the password was set, never the password.
pub(crate) fn get(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    authorize(services, call, "iam:GetLoginProfile")?;
    let r = services.store.read().st()?;
    let record: Value =
        model::load(r.as_ref(), ROOT_PASSWORD_TABLE, &call.caller.account).st()?.ok_or_else(no_root_password)?;
    let changed = record.get("changed").and_then(Value::as_i64).unwrap_or(0);
    let mut w = XmlWriter::fragment();
    w.open("LoginProfile", None).elem("CreateDate", &iso8601(changed)).elem("PasswordResetRequired", "false").close();
    Ok(WireResponse::query(
        tessera_wire::response::IAM_XMLNS,
        "GetLoginProfile",
        Some(&w.finish()),
        &call.meta.request_id,
    ))
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
