//! Records that belong to one IAM user (or to the root user), kept by
//! `<acct>/<lower user>/<id>`: SSH public keys and signing certificates. What they share:
//! listing a user's records, whether any remain (`DeleteUser` refuses then), and carrying them
//! over when the user is renamed.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_store::{ReadTxn, StoreError, WriteTxn};

use crate::model;

/// The owner segment of the root user's records (IAM user names never contain `:`).
pub(crate) const ROOT_OWNER: &str = ":root";

/// A record owned by one user.
pub(crate) trait UserRecord: Serialize + DeserializeOwned {
    /// The record's id, last segment of its key.
    fn id(&self) -> &str;
    /// Give the record to the user `name` (a rename).
    fn set_owner(&mut self, name: &str);
    /// Set its `Active` / `Inactive` status.
    fn set_status(&mut self, status: &str);
}

/// `<acct>/<lower owner>/`.
pub(crate) fn owner_prefix(account: &str, owner: &str) -> String {
    format!("{account}/{}/", owner.to_ascii_lowercase())
}

/// `<acct>/<lower owner>/<id>`.
pub(crate) fn key(account: &str, owner: &str, id: &str) -> String {
    format!("{}{id}", owner_prefix(account, owner))
}

/// The records of `owner` in `table`, in id order.
pub(crate) fn of_owner<T: UserRecord>(
    r: &(impl ReadTxn + ?Sized),
    table: &str,
    account: &str,
    owner: &str,
) -> Result<Vec<T>, StoreError> {
    let rows = r.scan(table, &owner_prefix(account, owner), None, usize::MAX)?;
    Ok(model::decode_rows(table, rows)?.into_iter().map(|(_, t)| t).collect())
}

/// The records of every owner of `account` in `table`.
pub(crate) fn of_account<T: UserRecord>(
    r: &(impl ReadTxn + ?Sized),
    table: &str,
    account: &str,
) -> Result<Vec<T>, StoreError> {
    let rows = r.scan(table, &format!("{account}/"), None, usize::MAX)?;
    Ok(model::decode_rows(table, rows)?.into_iter().map(|(_, t)| t).collect())
}

/// Whether `owner` still has records in `table`.
pub(crate) fn has_any(
    r: &(impl ReadTxn + ?Sized),
    table: &str,
    account: &str,
    owner: &str,
) -> Result<bool, StoreError> {
    Ok(r.count(table, &owner_prefix(account, owner))? > 0)
}

/// Move the records of `old` in `table` to `new`, in the caller's transaction.
pub(crate) fn rename_owner<T: UserRecord>(
    txn: &mut dyn WriteTxn,
    table: &str,
    account: &str,
    old: &str,
    new: &str,
) -> Result<(), StoreError> {
    for mut record in of_owner::<T>(txn, table, account, old)? {
        txn.delete(table, &key(account, old, record.id()))?;
        record.set_owner(new);
        model::save(txn, table, &key(account, new, record.id()), &record)?;
    }
    Ok(())
}

/// A record id parameter (`[\w]+`, `min`-128 characters); `field` is the member's name in
/// validation messages.
pub(crate) fn id_param<'a>(
    params: &'a tessera_wire::QueryParams,
    member: &str,
    field: &str,
    min: usize,
) -> Result<&'a str, tessera_wire::AwsError> {
    let id = params.required(member)?;
    crate::validate::Checks::new()
        .length(field, id, min, 128)
        .pattern(field, id, r"[\w]+", |s| s.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .finish()?;
    Ok(id)
}

/// The `Status` parameter of the Update operations: `Active` or `Inactive` (the model's enum
/// also has `Expired`, which cannot be set: `InvalidInput`).
pub(crate) fn status_param(params: &tessera_wire::QueryParams) -> Result<&str, tessera_wire::AwsError> {
    let status = params.required("Status")?;
    crate::validate::Checks::new().one_of("status", Some(status), &["Active", "Inactive", "Expired"]).finish()?;
    if status == "Expired" {
        return Err(super::credentials::invalid_input("Status can only be set to Active or Inactive."));
    }
    Ok(status)
}

/// Set the `status` of the record at `key` in one write transaction (`missing` when it is gone).
pub(crate) fn set_status<T: UserRecord>(
    services: &crate::Services,
    table: &str,
    key: &str,
    status: &str,
    missing: impl FnOnce() -> tessera_wire::AwsError,
) -> Result<(), tessera_wire::AwsError> {
    use super::credentials::StoreResultExt;
    super::credentials::write(services, |txn| {
        let mut record: T = model::load(txn, table, key).ise()?.ok_or_else(missing)?;
        record.set_status(status);
        model::save(txn, table, key, &record).ise()
    })
}

/// Delete the record at `key` in one write transaction (`missing` when it is gone).
pub(crate) fn delete(
    services: &crate::Services,
    table: &str,
    key: &str,
    missing: impl FnOnce() -> tessera_wire::AwsError,
) -> Result<(), tessera_wire::AwsError> {
    use super::credentials::StoreResultExt;
    super::credentials::write(services, |txn| if txn.delete(table, key).ise()? { Ok(()) } else { Err(missing()) })
}

/// The IAM user of a resolved subject; root has no user here (`userName` must be given).
pub(crate) fn subject_user(s: super::credentials::Subject) -> Result<Box<model::User>, tessera_wire::AwsError> {
    match s {
        super::credentials::Subject::User(u) => Ok(u),
        super::credentials::Subject::Root => Err(super::credentials::must_specify_user_name()),
    }
}

/// Resolve the IAM user an operation acts on (`user_name`, else the caller's own), authorized
/// with `action`, and load its record `id` of `table` (`missing` when it has none).
pub(crate) fn user_and_record<T: DeserializeOwned>(
    services: &crate::Services,
    call: &crate::Call,
    user_name: Option<&str>,
    id: &str,
    action: &str,
    table: &str,
    missing: impl FnOnce() -> tessera_wire::AwsError,
) -> Result<(Box<model::User>, T), tessera_wire::AwsError> {
    use super::credentials::StoreResultExt;
    let user = subject_user(super::credentials::resolve_subject(services, call, user_name, action, false)?)?;
    let record: Option<T> = super::credentials::read(services, |r| {
        model::load(r, table, &key(&call.caller.account, &user.name, id)).ise()
    })?;
    Ok((user, record.ok_or_else(missing)?))
}
