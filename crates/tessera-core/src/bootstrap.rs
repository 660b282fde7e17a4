//! First start: the management account and its root access key (shared/CONTRACT.md, "First start").

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_store::{transact, StoreError, WriteTxn};

use crate::model::{self, table, AccessKey, Account, KeyOwner};
use crate::{ids, Services};

/// The record that says bootstrap is done.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bootstrap {
    /// The management account id (never changes).
    pub management_account: String,
    /// When the data dir was first started.
    pub created: i64,
}

/// Create an account record (used by bootstrap and Organizations' CreateAccount).
pub fn create_account(
    txn: &mut dyn WriteTxn,
    id: &str,
    name: &str,
    email: &str,
    now: i64,
) -> Result<Account, StoreError> {
    let account = Account {
        id: id.to_string(),
        name: name.to_string(),
        email: email.to_string(),
        created: now,
        status: "ACTIVE".into(),
        organization_id: None,
        parent_id: None,
        joined_method: None,
        joined: None,
        alias: None,
        closed: None,
    };
    model::save(txn, table::ACCOUNT, id, &account)?;
    Ok(account)
}

/// A fresh account id not used yet.
pub fn unused_account_id(txn: &dyn WriteTxn) -> Result<String, StoreError> {
    loop {
        let id = ids::account_id();
        if txn.get(table::ACCOUNT, &id)?.is_none() {
            return Ok(id);
        }
    }
}

/// Index of access keys by owner: key `<acct>/<lower user name>/<key id>` (`<acct>/:root/<key id>`
/// for the root user's keys), value the key id.
pub const USER_ACCESS_KEY: &str = "iam_user_access_key";

/// The owner part of an index key: `:root`, or the lower-case user name.
pub fn owner_segment(owner: &KeyOwner) -> String {
    match owner {
        KeyOwner::Root => ":root".into(),
        KeyOwner::User { name } => name.to_ascii_lowercase(),
    }
}

/// The key prefix of `owner`'s rows in [`USER_ACCESS_KEY`].
pub fn owner_prefix(account: &str, owner: &KeyOwner) -> String {
    format!("{account}/{}/", owner_segment(owner))
}

/// Record `key` in the per-owner index (called wherever a key is created).
pub fn index_access_key(txn: &mut dyn WriteTxn, key: &AccessKey) -> Result<(), StoreError> {
    let k = format!("{}{}", owner_prefix(&key.account, &key.owner), key.access_key_id);
    txn.put(USER_ACCESS_KEY, &k, key.access_key_id.as_bytes())
}

/// Create an access key for `owner` and return (record, secret).
pub fn create_access_key(
    services: &Services,
    txn: &mut dyn WriteTxn,
    account: &str,
    owner: KeyOwner,
    now: i64,
) -> Result<(AccessKey, String), StoreError> {
    let mut id = ids::access_key_id();
    while txn.get(table::ACCESS_KEY, &id)?.is_some() {
        id = ids::access_key_id();
    }
    let secret = ids::secret_access_key();
    let key = AccessKey {
        access_key_id: id.clone(),
        account: account.to_string(),
        owner,
        secret_sealed: services.secrets.seal(&AccessKey::seal_context(&id), secret.as_bytes()),
        status: "Active".into(),
        created: now,
        last_used: None,
    };
    model::save(txn, table::ACCESS_KEY, &id, &key)?;
    index_access_key(txn, &key)?;
    Ok((key, secret))
}

/// The management account id, once bootstrapped.
pub fn management_account(services: &Services) -> Result<Option<String>, StoreError> {
    let r = services.store.read()?;
    Ok(model::load::<Bootstrap>(r.as_ref(), table::META, "bootstrap")?.map(|b| b.management_account))
}

/// Error of the first start.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The credentials file could not be written.
    #[error("writing {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// On a data dir with no state, create the management account and its root access key, and
/// write the key to `data_dir/credentials` (mode 0600). Returns the management account id.
///
/// The credentials file is written (atomically, fsynced) before the store commits: a crash in
/// between leaves no account, and the next start begins again and replaces the file.
pub fn first_start(services: &Services, data_dir: &Path) -> Result<String, BootstrapError> {
    if let Some(id) = management_account(services)? {
        return Ok(id);
    }
    let now = services.clock.now_secs();
    let result = transact(services.store.as_ref(), |txn| -> Result<String, BootstrapError> {
        let id = unused_account_id(txn)?;
        create_account(txn, &id, "Management", &format!("root@{id}.tessera.invalid"), now)?;
        let (key, secret) = create_access_key(services, txn, &id, KeyOwner::Root, now)?;
        model::save(txn, table::META, "bootstrap", &Bootstrap { management_account: id.clone(), created: now })?;
        let text = format!("[root]\naws_access_key_id = {}\naws_secret_access_key = {}\n", key.access_key_id, secret);
        write_private_file(&data_dir.join("credentials"), text.as_bytes())?;
        Ok(id)
    })?;
    Ok(result)
}

/// Write `bytes` to `path` atomically (temp file, fsync, rename, fsync dir) with mode 0600.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), BootstrapError> {
    let io = |source| BootstrapError::Io { path: path.display().to_string(), source };
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
