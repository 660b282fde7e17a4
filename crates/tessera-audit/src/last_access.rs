//! The last-access index: for each IAM user and role (by unique id), each service namespace and
//! each action, when the principal last made an authenticated call and in which Region. IAM's
//! service last accessed data (`GenerateServiceLastAccessedDetails`) reads it.
//!
//! The indexer keeps it beside `events`, in the same transaction: one upsert per event into a
//! table of one row per (principal, service, action), small enough to stay in SQLite's page
//! cache, so writes stay cheap. Rows outlive the events (whose retention is 90 days) and are
//! kept for [`TRACKING_WINDOW_DAYS`], the tracking period of IAM's last accessed data.
//!
//! A call counts whatever its outcome (allowed, denied, failed), as AWS counts authenticated
//! attempts. A role session's calls count for its role (`sessionContext.sessionIssuer`); the
//! root user, federated users and web identity or SAML sessions without a role are not tracked.

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use crate::event::UserIdentity;
use crate::store::AuditError;

/// Days of access the index keeps: the tracking period of IAM's last accessed data (400 days).
pub const TRACKING_WINDOW_DAYS: i64 = 400;

/// The table.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS last_access(
    principal TEXT NOT NULL,
    service TEXT NOT NULL,
    action TEXT NOT NULL,
    last_time INTEGER NOT NULL,
    region TEXT NOT NULL,
    PRIMARY KEY (principal, service, action)
) WITHOUT ROWID;
";

/// The upsert the indexer runs for each tracked event: a later time replaces an earlier one.
pub(crate) const UPSERT: &str = "INSERT INTO last_access(principal, service, action, last_time, region)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT(principal, service, action) DO UPDATE
       SET last_time = excluded.last_time, region = excluded.region
       WHERE excluded.last_time >= last_access.last_time";

/// One row of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAccess {
    /// Unique id of the user (`AIDA...`) or role (`AROA...`).
    pub principal: String,
    /// Service namespace (`iam`, `s3`, ...).
    pub service: String,
    /// Action name (`CreateUser`).
    pub action: String,
    /// Last authenticated call (epoch ms).
    pub last_millis: i64,
    /// Its Region.
    pub region: String,
}

/// The unique id the index tracks a call under: the IAM user's, or for a role session its
/// role's; `None` for calls of other principals.
pub fn tracked_principal(identity: &UserIdentity) -> Option<String> {
    match identity.identity_type.as_str() {
        "IAMUser" => identity.principal_id.clone().filter(|p| !p.is_empty()),
        "AssumedRole" => {
            let issuer = identity.session_context.as_ref()?.session_issuer.as_ref()?;
            (issuer.issuer_type == "Role" && !issuer.principal_id.is_empty()).then(|| issuer.principal_id.clone())
        }
        _ => None,
    }
}

/// The service namespace of an event source (`iam.amazonaws.com` → `iam`).
pub fn service_namespace(event_source: &str) -> &str {
    event_source.strip_suffix(".amazonaws.com").unwrap_or(event_source)
}

/// Record one event in the index (inside the indexer's transaction).
pub(crate) fn upsert(
    stmt: &mut rusqlite::CachedStatement<'_>,
    principal: &str,
    event_source: &str,
    event_name: &str,
    event_time: i64,
    region: &str,
) -> Result<(), AuditError> {
    stmt.execute(params![principal, service_namespace(event_source), event_name, event_time, region])?;
    Ok(())
}

/// Rows of `principals` with a call at or after `since_millis`.
pub(crate) fn query(
    conn: &Connection,
    principals: &[String],
    since_millis: i64,
) -> Result<Vec<LastAccess>, AuditError> {
    let mut stmt = conn.prepare_cached(
        "SELECT principal, service, action, last_time, region FROM last_access
         WHERE principal = ?1 AND last_time >= ?2",
    )?;
    let mut out = Vec::new();
    for p in principals {
        let rows = stmt
            .query_map(params![p, since_millis], |r| {
                Ok(LastAccess {
                    principal: r.get(0)?,
                    service: r.get(1)?,
                    action: r.get(2)?,
                    last_millis: r.get(3)?,
                    region: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        out.extend(rows);
    }
    Ok(out)
}

/// Delete rows older than the tracking window.
pub(crate) fn prune(conn: &Connection, now_millis: i64) -> Result<usize, AuditError> {
    let cutoff = now_millis.saturating_sub(TRACKING_WINDOW_DAYS * 86_400_000);
    Ok(conn.execute("DELETE FROM last_access WHERE last_time < ?1", params![cutoff])?)
}
