//! The organization's entities, read once from the store: accounts, users, roles, groups,
//! customer managed policies and which roles sit in instance profiles.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use tessera_services::model::{self, table, Account, Group, InstanceProfile, ManagedPolicy, Role, User};
use tessera_store::{ReadTxn, StoreError};

/// Every entity the graph looks at.
#[derive(Debug, Default)]
pub(crate) struct Inventory {
    /// Active accounts, by id.
    pub accounts: Vec<Account>,
    pub users: Vec<User>,
    pub roles: Vec<Role>,
    /// Groups by `model::name_key`.
    pub groups: HashMap<String, Group>,
    /// Customer managed policies by ARN.
    pub policies: HashMap<String, ManagedPolicy>,
    /// `model::name_key` of every role that is in an instance profile.
    pub roles_in_profiles: HashSet<String>,
}

/// Every record of `table`, in key order.
fn scan_all<T: DeserializeOwned>(read: &dyn ReadTxn, table: &str) -> Result<Vec<T>, StoreError> {
    const PAGE: usize = 1000;
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = read.scan(table, "", after.as_deref(), PAGE)?;
        let full = rows.len() == PAGE;
        after = rows.last().map(|(k, _)| k.clone());
        out.extend(model::decode_rows::<T>(table, rows)?.into_iter().map(|(_, v)| v));
        if !full {
            return Ok(out);
        }
    }
}

impl Inventory {
    /// Read the inventory in one read transaction.
    pub fn load(read: &dyn ReadTxn) -> Result<Inventory, StoreError> {
        let accounts: Vec<Account> =
            scan_all::<Account>(read, table::ACCOUNT)?.into_iter().filter(|a| a.status == "ACTIVE").collect();
        let active: HashSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        let users: Vec<User> =
            scan_all::<User>(read, table::USER)?.into_iter().filter(|u| active.contains(u.account.as_str())).collect();
        let roles: Vec<Role> =
            scan_all::<Role>(read, table::ROLE)?.into_iter().filter(|r| active.contains(r.account.as_str())).collect();
        let groups = scan_all::<Group>(read, table::GROUP)?
            .into_iter()
            .map(|g| (model::name_key(&g.account, &g.name), g))
            .collect();
        let policies = scan_all::<ManagedPolicy>(read, table::POLICY)?.into_iter().map(|p| (p.arn(), p)).collect();
        let roles_in_profiles = scan_all::<InstanceProfile>(read, table::INSTANCE_PROFILE)?
            .into_iter()
            .flat_map(|p| p.roles.iter().map(|r| model::name_key(&p.account, r)).collect::<Vec<_>>())
            .collect();
        Ok(Inventory { accounts, users, roles, groups, policies, roles_in_profiles })
    }
}
