//! The root user's console password: `tessera console set-root-password`.
//!
//! Stored as an argon2id PHC string (the hashing of IAM login profiles) in the store's
//! `console_root_password` table, keyed by account id.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use tessera_services::iam::credentials::login;
use tessera_services::model::{self, table, Account};
use tessera_store::{ReadTxn, Store, StoreError};

/// Table of root passwords by account id.
pub const TABLE: &str = tessera_services::iam::root_login::ROOT_PASSWORD_TABLE;

/// The root password hash of `account`, if one is set.
pub fn hash_of(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<Option<String>, StoreError> {
    let v: Option<serde_json::Value> = model::load(r, TABLE, account)?;
    Ok(v.and_then(|v| v.get("hash").and_then(|h| h.as_str()).map(str::to_string)))
}

/// Set the root password of `account` in `store` (the account must exist; the password must
/// meet AWS's rules for root passwords: 8 to 128 characters, three of upper case, lower case,
/// digits and symbols, not the account's name or email).
pub fn set(store: &dyn Store, account: &str, password: &str, now: i64) -> anyhow::Result<()> {
    let acct: Option<Account> = model::load(store.read()?.as_ref(), table::ACCOUNT, account)?;
    let acct = acct.with_context(|| format!("no account {account} in this store"))?;
    if password.chars().count() > 128 {
        anyhow::bail!("the password is longer than 128 characters");
    }
    login::check_password(None, password, "root", Some(&acct)).map_err(|_| {
        anyhow::anyhow!(
            "the password does not meet the root password rules: 8 to 128 characters, with at least three of \
             upper case letters, lower case letters, digits and symbols, and not the account's name or email"
        )
    })?;
    let hash = login::hash_password(password).map_err(|e| anyhow::anyhow!("hashing failed: {}", e.message))?;
    let record = serde_json::json!({ "hash": hash, "changed": now });
    tessera_store::transact(store, |t| model::save(t, TABLE, account, &record))?;
    Ok(())
}

/// `tessera console set-root-password`: read the password from stdin (its first line).
pub fn run_cli(data_dir: &Path, store_url: Option<&str>, account: &str) -> anyhow::Result<()> {
    let store = crate::server::open_existing_store(data_dir, store_url)?;
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).context("reading the password from stdin")?;
    let password = input.lines().next().unwrap_or("");
    let now = i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs())?;
    set(store.as_ref(), account, password, now)?;
    eprintln!("console password set for the root user of account {account}");
    Ok(())
}
