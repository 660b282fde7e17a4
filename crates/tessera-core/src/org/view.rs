//! What the authorizer asks of Organizations on every request: the SCPs/RCPs that bound an
//! account, level by level, and the account's organization and OU path.
//!
//! Answers come from an in-memory snapshot of every organization, keyed by a random generation
//! token that each Organizations write transaction replaces ([`super::touch`]). A request reads
//! one key to validate the cached snapshot; only the first request after a write rebuilds it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use tessera_store::{ReadTxn, StoreError};

use super::{builtin, GENERATION_KEY};
use crate::model::{self, table, Account, OrgPolicy, Organization, OrganizationalUnit};

/// One organization, as the authorizer needs it.
#[derive(Debug)]
struct OrgView {
    management: String,
    root_id: String,
    enabled: Vec<String>,
}

/// Every organization at one generation.
#[derive(Debug, Default)]
struct Snapshot {
    orgs: HashMap<String, OrgView>,
    /// Account → (organization, parent).
    accounts: HashMap<String, (String, String)>,
    /// OU → parent.
    ous: HashMap<String, String>,
    /// Target → [(policy id, type)], by policy id.
    attachments: HashMap<String, Vec<(String, String)>>,
    /// Customer managed policy → document.
    documents: HashMap<String, String>,
}

/// Snapshots by generation token.
type Cache = Mutex<Vec<(String, Arc<Snapshot>)>>;

/// The policies attached at one level (root, an OU, the account): (policy id, document).
pub type PolicyLevel = Vec<(String, String)>;

/// The last few snapshots, by generation token (several stores may live in one process).
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(Vec::new()))
}

const CACHE_ENTRIES: usize = 4;

fn snapshot(read: &dyn ReadTxn) -> Result<Option<Arc<Snapshot>>, StoreError> {
    let Some(generation) = model::load::<String>(read, table::META, GENERATION_KEY)? else {
        return Ok(None);
    };
    {
        let entries = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, snap)) = entries.iter().find(|(g, _)| *g == generation) {
            return Ok(Some(snap.clone()));
        }
    }
    let snap = Arc::new(build(read)?);
    let mut entries = cache().lock().unwrap_or_else(|e| e.into_inner());
    if !entries.iter().any(|(g, _)| *g == generation) {
        if entries.len() >= CACHE_ENTRIES {
            entries.remove(0);
        }
        entries.push((generation, snap.clone()));
    }
    Ok(Some(snap))
}

fn build(read: &dyn ReadTxn) -> Result<Snapshot, StoreError> {
    let mut snap = Snapshot::default();
    let orgs: Vec<(String, Organization)> =
        model::decode_rows(table::ORGANIZATION, read.scan(table::ORGANIZATION, "", None, usize::MAX)?)?;
    for (_, o) in orgs {
        snap.orgs.insert(
            o.id.clone(),
            OrgView { management: o.management_account, root_id: o.root_id, enabled: o.enabled_policy_types },
        );
    }
    let accounts: Vec<(String, Account)> =
        model::decode_rows(table::ACCOUNT, read.scan(table::ACCOUNT, "", None, usize::MAX)?)?;
    for (_, a) in accounts {
        if let Some(org) = a.organization_id {
            let root = snap.orgs.get(&org).map(|o| o.root_id.clone()).unwrap_or_default();
            snap.accounts.insert(a.id, (org, a.parent_id.unwrap_or(root)));
        }
    }
    let ous: Vec<(String, OrganizationalUnit)> =
        model::decode_rows(table::ORG_ENTITY, read.scan(table::ORG_ENTITY, "ou-", None, usize::MAX)?)?;
    for (_, ou) in ous {
        snap.ous.insert(ou.id, ou.parent_id);
    }
    let policies: Vec<(String, OrgPolicy)> =
        model::decode_rows(table::ORG_ENTITY, read.scan(table::ORG_ENTITY, "p-", None, usize::MAX)?)?;
    for (_, p) in policies {
        snap.documents.insert(p.id, p.content);
    }
    let rows: Vec<(String, String)> =
        model::decode_rows(table::ORG_ATTACHMENT, read.scan(table::ORG_ATTACHMENT, "", None, usize::MAX)?)?;
    for (key, policy_type) in rows {
        // `<org>/t/<target>/<policy>`; the `<org>/p/...` rows are the reverse index.
        let mut parts = key.splitn(4, '/');
        if let (Some(_), Some("t"), Some(target), Some(policy)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        {
            snap.attachments.entry(target.to_string()).or_default().push((policy.to_string(), policy_type));
        }
    }
    Ok(snap)
}

impl Snapshot {
    /// The OU chain from the root down to `parent` (inclusive).
    fn chain(&self, root: &str, parent: &str) -> Vec<String> {
        let mut chain = Vec::new();
        let mut at = parent.to_string();
        while at != root && chain.len() <= 64 {
            let Some(up) = self.ous.get(&at) else { break };
            chain.push(at.clone());
            at = up.clone();
        }
        chain.reverse();
        chain
    }

    fn documents_at(&self, target: &str, policy_type: &str) -> PolicyLevel {
        let mut out = Vec::new();
        for (policy, t) in self.attachments.get(target).map(Vec::as_slice).unwrap_or_default() {
            if t != policy_type {
                continue;
            }
            let doc = match builtin(policy) {
                Some(b) => Some(b.content.to_string()),
                None => self.documents.get(policy).cloned(),
            };
            if let Some(doc) = doc {
                out.push((policy.clone(), doc));
            }
        }
        out
    }
}

/// The policies of `policy_type` (`SERVICE_CONTROL_POLICY` or `RESOURCE_CONTROL_POLICY`) that
/// bound `account_id`: one list per level, from the root through each OU down to the account
/// itself, each entry (policy id, document). An action is allowed only if every level allows it.
///
/// `None` when the account is in no organization, the type is not enabled on the root, or the
/// account is the management account: SCPs do not restrict the management account, and RCPs
/// do not apply to its resources (AWS, "SCP/RCP effects on permissions").
pub fn scp_levels(
    read: &dyn ReadTxn,
    account_id: &str,
    policy_type: &str,
) -> Result<Option<Vec<PolicyLevel>>, StoreError> {
    let Some(snap) = snapshot(read)? else { return Ok(None) };
    let Some((org_id, parent)) = snap.accounts.get(account_id) else { return Ok(None) };
    let Some(org) = snap.orgs.get(org_id) else { return Ok(None) };
    if org.management == account_id || !org.enabled.iter().any(|t| t == policy_type) {
        return Ok(None);
    }
    let mut levels = vec![snap.documents_at(&org.root_id, policy_type)];
    for ou in snap.chain(&org.root_id, parent) {
        levels.push(snap.documents_at(&ou, policy_type));
    }
    levels.push(snap.documents_at(account_id, policy_type));
    Ok(Some(levels))
}

/// The organization of `account_id` and its path for `aws:PrincipalOrgPaths` / `aws:ResourceOrgPaths`
/// (`o-x/r-x/ou-a/ou-b/`: root and OUs down to the account's parent), or `None` outside any
/// organization. The management account is in its organization too.
pub fn organization_of(read: &dyn ReadTxn, account_id: &str) -> Result<Option<(String, String)>, StoreError> {
    let Some(snap) = snapshot(read)? else { return Ok(None) };
    let Some((org_id, parent)) = snap.accounts.get(account_id) else { return Ok(None) };
    let Some(org) = snap.orgs.get(org_id) else { return Ok(None) };
    let mut path = format!("{org_id}/{}/", org.root_id);
    for ou in snap.chain(&org.root_id, parent) {
        path.push_str(&ou);
        path.push('/');
    }
    Ok(Some((org_id.clone(), path)))
}
