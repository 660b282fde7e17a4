//! Long-term access keys of IAM users and of the root user: `CreateAccessKey`, `UpdateAccessKey`,
//! `DeleteAccessKey`, `ListAccessKeys`, `GetAccessKeyLastUsed`, and the record of last use.
//!
//! Keys live in [`table::ACCESS_KEY`] by id (what authentication reads); [`USER_ACCESS_KEY`]
//! indexes them by owner so that a user's keys are listed and counted without a full scan.

use tessera_store::{ReadTxn, StoreError, WriteTxn};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::{
    limit_exceeded, no_such_entity, no_such_user, optional_user_name, read, resolve_subject, respond, write,
    StoreResultExt, Subject,
};
use crate::bootstrap;
use crate::bootstrap::owner_prefix;
pub use crate::bootstrap::{index_access_key, USER_ACCESS_KEY};
use crate::clock::iso8601;
use crate::model::{self, table, AccessKey, KeyOwner};
use crate::validate::{self, Checks, Page};
use crate::{Call, Services};

/// Most access keys a user (or the root user) may have, active or not.
pub const ACCESS_KEYS_PER_USER: u64 = 2;

/// How long a recorded last use stays fresh enough not to be written again (seconds).
pub const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// The key prefix of `user_name`'s rows in [`USER_ACCESS_KEY`].
pub fn user_prefix(account: &str, user_name: &str) -> String {
    format!("{account}/{}/", user_name.to_ascii_lowercase())
}

/// Every access key of `owner`, oldest first.
pub fn keys_of(r: &(impl ReadTxn + ?Sized), account: &str, owner: &KeyOwner) -> Result<Vec<AccessKey>, StoreError> {
    let rows = r.scan(USER_ACCESS_KEY, &owner_prefix(account, owner), None, usize::MAX)?;
    let mut keys = Vec::with_capacity(rows.len());
    for (_, id) in rows {
        let id = String::from_utf8_lossy(&id).into_owned();
        if let Some(k) = model::load::<AccessKey>(r, table::ACCESS_KEY, &id)? {
            keys.push(k);
        }
    }
    keys.sort_by(|a, b| (a.created, &a.access_key_id).cmp(&(b.created, &b.access_key_id)));
    Ok(keys)
}

fn owner_of(subject: &Subject) -> KeyOwner {
    match subject {
        Subject::Root => KeyOwner::Root,
        Subject::User(u) => KeyOwner::User { name: u.name.clone() },
    }
}

fn same_owner(a: &KeyOwner, b: &KeyOwner) -> bool {
    match (a, b) {
        (KeyOwner::Root, KeyOwner::Root) => true,
        (KeyOwner::User { name: x }, KeyOwner::User { name: y }) => x.eq_ignore_ascii_case(y),
        _ => false,
    }
}

fn no_such_key(id: &str) -> AwsError {
    no_such_entity(format!("The Access Key with id {id} cannot be found."))
}

fn access_key_id_param(params: &QueryParams) -> Result<&str, AwsError> {
    let id = params.required("AccessKeyId")?;
    Checks::new()
        .length("accessKeyId", id, 16, 128)
        .pattern("accessKeyId", id, r"[\w]+", |s| s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .finish()?;
    Ok(id)
}

/// Re-check inside the write transaction that the user still exists.
fn ensure_subject(txn: &dyn ReadTxn, account: &str, subject: &Subject) -> Result<(), AwsError> {
    if let Subject::User(u) = subject {
        if super::load_user(txn, account, &u.name)?.is_none() {
            return Err(no_such_user(&u.name));
        }
    }
    Ok(())
}

/// Load `id` and check that it belongs to `subject` in `account`.
fn owned_key(txn: &dyn ReadTxn, account: &str, subject: &Subject, id: &str) -> Result<AccessKey, AwsError> {
    let key: AccessKey = model::load(txn, table::ACCESS_KEY, id).ise()?.ok_or_else(|| no_such_key(id))?;
    if key.account != account || !same_owner(&key.owner, &owner_of(subject)) {
        return Err(no_such_key(id));
    }
    Ok(key)
}

/// `CreateAccessKey`: a new key for `UserName` (or the caller's own user, or root's own key);
/// the secret is returned here and never again.
pub fn create_access_key(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user_name = optional_user_name(params, "UserName")?;
    let subject = resolve_subject(services, call, user_name, "iam:CreateAccessKey", true)?;
    let account = call.caller.account.as_str();
    let owner = owner_of(&subject);
    let now = call.now_secs();
    let (key, secret) = write(services, |txn| {
        ensure_subject(txn, account, &subject)?;
        if txn.count(USER_ACCESS_KEY, &owner_prefix(account, &owner)).ise()? >= ACCESS_KEYS_PER_USER {
            return Err(limit_exceeded(format!("Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")));
        }
        bootstrap::create_access_key(services, txn, account, owner.clone(), now).ise()
    })?;
    let mut w = XmlWriter::fragment();
    w.open("AccessKey", None);
    w.opt("UserName", subject.user_name())
        .elem("AccessKeyId", &key.access_key_id)
        .elem("Status", &key.status)
        .elem("SecretAccessKey", &secret)
        .elem("CreateDate", &iso8601(key.created));
    w.close();
    respond(call, Some(w.finish()))
}

/// `UpdateAccessKey`: make a key `Active` or `Inactive`.
pub fn update_access_key(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user_name = optional_user_name(params, "UserName")?;
    let id = access_key_id_param(params)?;
    let status = params.required("Status")?;
    if !matches!(status, "Active" | "Inactive" | "Expired") {
        return Err(AwsError::validation(format!(
            "1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive, Expired]"
        )));
    }
    if status == "Expired" {
        return Err(super::invalid_input("Access keys can only be made Active or Inactive."));
    }
    let subject = resolve_subject(services, call, user_name, "iam:UpdateAccessKey", true)?;
    let account = call.caller.account.as_str();
    write(services, |txn| {
        ensure_subject(txn, account, &subject)?;
        let mut key = owned_key(txn, account, &subject, id)?;
        if key.status != status {
            key.status = status.to_string();
            model::save(txn, table::ACCESS_KEY, id, &key).ise()?;
        }
        Ok(())
    })?;
    respond(call, None)
}

/// `DeleteAccessKey`.
pub fn delete_access_key(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user_name = optional_user_name(params, "UserName")?;
    let id = access_key_id_param(params)?;
    let subject = resolve_subject(services, call, user_name, "iam:DeleteAccessKey", true)?;
    let account = call.caller.account.as_str();
    write(services, |txn| {
        ensure_subject(txn, account, &subject)?;
        let key = owned_key(txn, account, &subject, id)?;
        txn.delete(table::ACCESS_KEY, id).ise()?;
        txn.delete(USER_ACCESS_KEY, &format!("{}{}", owner_prefix(account, &key.owner), id)).ise()?;
        Ok(())
    })?;
    respond(call, None)
}

/// `ListAccessKeys`: the keys of `UserName` (or the caller's own), without secrets.
pub fn list_access_keys(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let user_name = optional_user_name(params, "UserName")?;
    let page = Page::from_params(params)?;
    let subject = resolve_subject(services, call, user_name, "iam:ListAccessKeys", true)?;
    let account = call.caller.account.as_str();
    let keys = read(services, |r| keys_of(r, account, &owner_of(&subject)).ise())?;
    let (keys, next) = page.apply(keys, |k| format!("{:020}/{}", k.created, k.access_key_id));
    let mut w = XmlWriter::fragment();
    w.open("AccessKeyMetadata", None);
    for k in &keys {
        w.open("member", None);
        w.opt("UserName", subject.user_name())
            .elem("AccessKeyId", &k.access_key_id)
            .elem("Status", &k.status)
            .elem("CreateDate", &iso8601(k.created));
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    respond(call, Some(w.finish()))
}

/// `GetAccessKeyLastUsed`: when, where and with which service a key of the caller's account was
/// last used. A key that does not exist in the caller's account is refused as AWS refuses it:
/// `AccessDenied` on resource `access key <id>`.
pub fn get_access_key_last_used(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let id = access_key_id_param(params)?;
    let account = call.caller.account.as_str();
    let found = read(services, |r| {
        let key: Option<AccessKey> = model::load(r, table::ACCESS_KEY, id).ise()?;
        let Some(key) = key.filter(|k| k.account == account) else {
            return Ok(None);
        };
        let user = match &key.owner {
            KeyOwner::Root => None,
            KeyOwner::User { name } => super::load_user(r, account, name)?,
        };
        Ok(Some((key, user)))
    })?;
    let Some((key, user)) = found else {
        return Err(AwsError::access_denied(format!(
            "{}: {} is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key {id}",
            call.caller.denial_subject(),
            call.caller.arn
        )));
    };
    match (&key.owner, &user) {
        (KeyOwner::User { .. }, Some(u)) => {
            super::authorize_with(services, call, "iam:GetAccessKeyLastUsed", &u.arn(), &u.tags, Vec::new())?
        }
        (KeyOwner::User { name }, None) => {
            services.authorize(call, "iam:GetAccessKeyLastUsed", &super::user_arn_guess(account, name))?
        }
        (KeyOwner::Root, _) => {
            services.authorize(call, "iam:GetAccessKeyLastUsed", &format!("arn:aws:iam::{account}:root"))?
        }
    }
    let mut w = XmlWriter::fragment();
    if let Some(u) = &user {
        w.elem("UserName", &u.name);
    }
    w.open("AccessKeyLastUsed", None);
    match &key.last_used {
        Some((at, service, region)) => {
            w.elem("LastUsedDate", &iso8601(*at)).elem("ServiceName", service).elem("Region", region);
        }
        None => {
            w.elem("ServiceName", "N/A").elem("Region", "N/A");
        }
    }
    w.close();
    respond(call, Some(w.finish()))
}

/// Record that the long-term key `access_key_id` signed a request to `service` (the signing
/// name, `iam`, `s3`, ...) in `region` at `now` (epoch seconds), for `GetAccessKeyLastUsed`
/// and the credential report.
///
/// Call it after a request authenticated with an `AKIA` key. It is cheap: one read, and a write
/// only when the recorded use is older than [`LAST_USED_GRANULARITY_SECS`] or names another
/// service or region. Temporary (`ASIA`) keys are ignored. Failures are logged, never returned:
/// bookkeeping must not fail a request. Must not be called while holding a store transaction.
pub fn record_access_key_use(services: &Services, access_key_id: &str, service: &str, region: &str, now: i64) {
    if !access_key_id.starts_with("AKIA") {
        return;
    }
    let fresh = |key: &AccessKey| match &key.last_used {
        Some((at, s, r)) => now - *at < LAST_USED_GRANULARITY_SECS && *at <= now && s == service && r == region,
        None => false,
    };
    let current =
        services.store.read().and_then(|r| model::load::<AccessKey>(r.as_ref(), table::ACCESS_KEY, access_key_id));
    match current {
        Ok(Some(key)) if !fresh(&key) => {}
        Ok(_) => return,
        Err(e) => {
            tracing::warn!(error = %e, "reading access key for last-used bookkeeping");
            return;
        }
    }
    let result = (|| -> Result<(), StoreError> {
        let mut txn = services.store.write()?;
        let Some(mut key) = model::load::<AccessKey>(txn.as_ref(), table::ACCESS_KEY, access_key_id)? else {
            return Ok(());
        };
        if fresh(&key) {
            return Ok(());
        }
        key.last_used = Some((now, service.to_string(), region.to_string()));
        model::save(txn.as_mut(), table::ACCESS_KEY, access_key_id, &key)?;
        txn.commit()
    })();
    if let Err(e) = result {
        tracing::warn!(error = %e, "recording access key last use");
    }
}

/// Move `old_name`'s keys to `new_name` (owner and index), for a user rename.
pub(crate) fn rename_owner(
    txn: &mut dyn WriteTxn,
    account: &str,
    old_name: &str,
    new_name: &str,
) -> Result<(), StoreError> {
    let old_owner = KeyOwner::User { name: old_name.to_string() };
    let keys = keys_of(txn, account, &old_owner)?;
    for mut key in keys {
        txn.delete(USER_ACCESS_KEY, &format!("{}{}", owner_prefix(account, &old_owner), key.access_key_id))?;
        key.owner = KeyOwner::User { name: new_name.to_string() };
        model::save(txn, table::ACCESS_KEY, &key.access_key_id.clone(), &key)?;
        index_access_key(txn, &key)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn run(services: &Services, call: &Call, p: &[(&str, &str)]) -> Result<String, AwsError> {
        let r = super::super::handle(services, call, &params(p)).expect("handled")?;
        Ok(body(&r))
    }

    #[test]
    fn two_keys_per_user_secret_sealed_and_shown_once() {
        let s = services_at(1_700_000_000);
        put_user(&s, "alice");
        let c = root_call("CreateAccessKey", 1_700_000_000);
        let first = run(&s, &c, &[("UserName", "alice")]).unwrap();
        let id = elem(&first, "AccessKeyId").unwrap();
        let secret = elem(&first, "SecretAccessKey").unwrap();
        assert_eq!(secret.len(), 40);
        assert_eq!(elem(&first, "UserName").as_deref(), Some("alice"));
        // Sealed at rest: the stored record does not hold the secret, and opens to it.
        let stored: AccessKey = model::load(s.store.read().unwrap().as_ref(), table::ACCESS_KEY, &id).unwrap().unwrap();
        assert!(!stored.secret_sealed.contains(&secret));
        let opened = s.secrets.open(&AccessKey::seal_context(&id), &stored.secret_sealed).unwrap();
        assert_eq!(opened, secret.as_bytes());
        // Authentication sees it.
        let (caller, sec) = s.credentials(&id, None).unwrap();
        assert_eq!(sec, secret);
        assert!(caller.arn.ends_with(":user/alice"));

        run(&s, &c, &[("UserName", "ALICE")]).unwrap();
        let err = run(&s, &c, &[("UserName", "alice")]).unwrap_err();
        assert_eq!((err.code.as_str(), err.status), ("LimitExceeded", 409));
        assert_eq!(err.message, "Cannot exceed quota for AccessKeysPerUser: 2");

        let list = run(&s, &root_call("ListAccessKeys", 1), &[("UserName", "alice")]).unwrap();
        assert_eq!(list.matches("<member>").count(), 2);
        assert!(!list.contains("SecretAccessKey"));
        assert!(!list.contains(&secret));
    }

    #[test]
    fn update_delete_and_ownership() {
        let s = services_at(1_700_000_000);
        put_user(&s, "alice");
        put_user(&s, "bob");
        let created = run(&s, &root_call("CreateAccessKey", 1), &[("UserName", "alice")]).unwrap();
        let id = elem(&created, "AccessKeyId").unwrap();
        // bob does not own it
        let err = run(
            &s,
            &root_call("UpdateAccessKey", 1),
            &[("UserName", "bob"), ("AccessKeyId", &id), ("Status", "Inactive")],
        )
        .unwrap_err();
        assert_eq!(err.code, "NoSuchEntity");
        assert_eq!(err.message, format!("The Access Key with id {id} cannot be found."));
        run(
            &s,
            &root_call("UpdateAccessKey", 1),
            &[("UserName", "alice"), ("AccessKeyId", &id), ("Status", "Inactive")],
        )
        .unwrap();
        assert_eq!(s.credentials(&id, None).unwrap_err().code, "InvalidClientTokenId");
        let err =
            run(&s, &root_call("UpdateAccessKey", 1), &[("UserName", "alice"), ("AccessKeyId", &id), ("Status", "On")])
                .unwrap_err();
        assert_eq!(err.code, "ValidationError");
        // Without UserName a user acts on its own keys: authorized on its own ARN (a user without
        // policies is denied, which shows the resource).
        let e = run(&s, &user_call("UpdateAccessKey", "alice", 1), &[("AccessKeyId", &id), ("Status", "Active")])
            .unwrap_err();
        assert_eq!(e.code, "AccessDenied");
        assert!(e.message.contains("iam:UpdateAccessKey on resource: arn:aws:iam::123456789012:user/alice because no identity-based policy allows"));
        run(&s, &root_call("UpdateAccessKey", 1), &[("UserName", "alice"), ("AccessKeyId", &id), ("Status", "Active")])
            .unwrap();
        assert!(s.credentials(&id, None).is_ok());
        let err = run(&s, &root_call("DeleteAccessKey", 1), &[("AccessKeyId", &id)]).unwrap_err();
        assert_eq!(err.code, "NoSuchEntity", "root's own keys do not include alice's");
        run(&s, &root_call("DeleteAccessKey", 1), &[("UserName", "alice"), ("AccessKeyId", &id)]).unwrap();
        assert!(s.credentials(&id, None).is_err());
        let list = run(&s, &root_call("ListAccessKeys", 1), &[("UserName", "alice")]).unwrap();
        assert!(!list.contains("<member>"));
        let err = run(&s, &root_call("ListAccessKeys", 1), &[("UserName", "nobody")]).unwrap_err();
        assert_eq!((err.code.as_str(), err.status), ("NoSuchEntity", 404));
    }

    #[test]
    fn root_keys_and_last_used() {
        let s = services_at(1_700_000_000);
        let created = run(&s, &root_call("CreateAccessKey", 1_700_000_000), &[]).unwrap();
        assert!(elem(&created, "UserName").is_none());
        let id = elem(&created, "AccessKeyId").unwrap();
        let (caller, _) = s.credentials(&id, None).unwrap();
        assert!(caller.is_root());
        let got = run(&s, &root_call("GetAccessKeyLastUsed", 1), &[("AccessKeyId", &id)]).unwrap();
        assert_eq!(elem(&got, "ServiceName").as_deref(), Some("N/A"));
        assert!(elem(&got, "LastUsedDate").is_none());
        record_access_key_use(&s, &id, "iam", "us-east-1", 1_700_000_100);
        record_access_key_use(&s, &id, "iam", "us-east-1", 1_700_000_130); // within a minute: not written
        let got = run(&s, &root_call("GetAccessKeyLastUsed", 1), &[("AccessKeyId", &id)]).unwrap();
        assert_eq!(elem(&got, "LastUsedDate").as_deref(), Some(iso8601(1_700_000_100).as_str()));
        assert_eq!(elem(&got, "ServiceName").as_deref(), Some("iam"));
        record_access_key_use(&s, &id, "s3", "eu-west-1", 1_700_000_140); // another service: written
        let got = run(&s, &root_call("GetAccessKeyLastUsed", 1), &[("AccessKeyId", &id)]).unwrap();
        assert_eq!(elem(&got, "Region").as_deref(), Some("eu-west-1"));
        let err =
            run(&s, &root_call("GetAccessKeyLastUsed", 1), &[("AccessKeyId", "AKIAXXXXXXXXXXXXXXXX")]).unwrap_err();
        assert_eq!(err.code, "AccessDenied");
    }

    #[test]
    fn non_user_callers_must_name_the_user() {
        let s = services_at(1);
        let mut call = root_call("ListAccessKeys", 1);
        call.caller.kind = crate::CallerKind::AssumedRole {
            role_name: "r".into(),
            role_path: "/".into(),
            role_id: "AROAX".into(),
            session_name: "s".into(),
        };
        let err = run(&s, &call, &[]).unwrap_err();
        assert_eq!(err.message, "Must specify userName when calling with non-User credentials");
    }

    #[test]
    fn rename_moves_keys() {
        let s = services_at(1);
        put_user(&s, "alice");
        let created = run(&s, &root_call("CreateAccessKey", 1), &[("UserName", "alice")]).unwrap();
        let id = elem(&created, "AccessKeyId").unwrap();
        let mut txn = s.store.write().unwrap();
        super::super::rename_user_credentials(txn.as_mut(), ACCOUNT, "alice", "alicia").unwrap();
        txn.commit().unwrap();
        let r = s.store.read().unwrap();
        let keys = keys_of(r.as_ref(), ACCOUNT, &KeyOwner::User { name: "alicia".into() }).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].access_key_id, id);
        assert!(keys_of(r.as_ref(), ACCOUNT, &KeyOwner::User { name: "alice".into() }).unwrap().is_empty());
    }
}
