//! What `Update`, `Disable` and `EnableWorkloadIdentityProviderOutboundSigner` do to a
//! provider's X.509 signer entries (IAM API Reference), as pure functions of the entries and
//! the time, so each rule is tested without a store.
//!
//! A slot is the entries of one key algorithm. At any moment a slot holds at most one `ACTIVE`
//! entry (the current signer) and at most one `IN_TRANSITION` entry (the incoming one); a
//! rotation gives the current signer an end equal to the incoming one's start, so there is no
//! gap and no overlap. Each certificate authority has at most one entry per provider: an
//! authority whose entry stopped attaches again through that same entry.

use tessera_wire::AwsError;

use super::super::entities::{invalid_input, limit_exceeded};
use super::x509_signer::{X509Signer, VALIDATING_SECS};

/// Entries a slot holds at most.
pub const ENTRIES_PER_SLOT: usize = 5;

/// What a rotation request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The authority is the current signer and no rotation was pending.
    Unchanged,
    /// The authority is the current signer: the pending rotation was cancelled.
    Cancelled,
    /// The authority is the incoming one: its start (and the current signer's end) moved.
    Retimed,
    /// The authority attaches as the incoming signer: a new entry, or a stopped one resumed.
    Attached {
        /// Whether a new entry was added (else a stopped entry attached again).
        added: bool,
    },
}

/// The outcome of [`rotate`]: what happened, and the `INACTIVE` entries it deleted to stay
/// within [`ENTRIES_PER_SLOT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationOutcome {
    /// See [`Rotation`].
    pub rotation: Rotation,
    /// Entries removed to make room (oldest `INACTIVE` first).
    pub removed: Vec<X509Signer>,
}

fn slot(entries: &[X509Signer], key_algorithm: &str) -> Vec<usize> {
    entries.iter().enumerate().filter(|(_, e)| e.key_algorithm == key_algorithm).map(|(i, _)| i).collect()
}

fn with_status(entries: &[X509Signer], indices: &[usize], now: i64, status: &str) -> Option<usize> {
    indices.iter().copied().find(|&i| entries.get(i).is_some_and(|e| e.status(now) == status))
}

/// Stop `e` at `now`: its end is now and its trust material stays published 12 hours more.
fn stop(e: &mut X509Signer, now: i64) {
    e.end = Some(now);
    e.discovery_expiration = Some(now.saturating_add(VALIDATING_SECS));
}

/// Whether `e` is the same certificate authority as `ca`.
pub fn same_ca(e: &X509Signer, ca: &X509Signer) -> bool {
    e.ca_id == ca.ca_id && e.ca_account == ca.ca_account && e.ca_region == ca.ca_region
}

/// `UpdateWorkloadIdentityProviderOutboundSigner` with certificate authority `ca` (an entry
/// as it would be attached: its start is ignored) at `now`, the incoming signer starting
/// `delay_secs` later. The slot is `ca`'s key algorithm; an empty slot is `InvalidInput`, a full
/// slot without enough `INACTIVE` entries `LimitExceeded` (nothing changed).
pub fn rotate(
    entries: &mut Vec<X509Signer>,
    ca: &X509Signer,
    now: i64,
    delay_secs: i64,
) -> Result<RotationOutcome, AwsError> {
    let indices = slot(entries, &ca.key_algorithm);
    if indices.is_empty() {
        return Err(invalid_input(format!(
            "The workload identity provider has no X.509 outbound signer with key algorithm {}, so there is no slot to rotate. Use CreateWorkloadIdentityProviderOutboundSigner to fill that slot.",
            ca.key_algorithm
        )));
    }
    let current = with_status(entries, &indices, now, "ACTIVE").and_then(|i| entries.get(i)).cloned();
    let incoming = with_status(entries, &indices, now, "IN_TRANSITION").and_then(|i| entries.get(i)).cloned();
    let is = |e: &Option<X509Signer>| e.as_ref().is_some_and(|e| same_ca(e, ca));
    let start = now.saturating_add(delay_secs);
    let mut removed = Vec::new();
    if is(&current) {
        let rotation = match &incoming {
            Some(i) => {
                if let Some(e) = find(entries, i) {
                    stop(e, now);
                    e.cancelled = true;
                }
                if let Some(e) = find(entries, ca) {
                    e.end = None;
                    e.discovery_expiration = None;
                }
                Rotation::Cancelled
            }
            None => Rotation::Unchanged,
        };
        return Ok(RotationOutcome { rotation, removed });
    }
    let rotation = if is(&incoming) {
        if let Some(e) = find(entries, ca) {
            e.start = start;
        }
        Rotation::Retimed
    } else {
        let added = !indices.iter().any(|&i| entries.get(i).is_some_and(|e| same_ca(e, ca)));
        if added && indices.len() >= ENTRIES_PER_SLOT {
            removed = make_room(entries, &indices, now)?;
        }
        if let Some(e) = incoming.as_ref().and_then(|i| find(entries, i)) {
            stop(e, now);
            e.cancelled = true;
        }
        let fresh = X509Signer { start, end: None, discovery_expiration: None, cancelled: false, ..ca.clone() };
        match find(entries, ca) {
            Some(e) => *e = fresh,
            None => entries.push(fresh),
        }
        Rotation::Attached { added }
    };
    // The current signer signs until the incoming one starts, then validates for 12 hours.
    if let Some(e) = current.as_ref().and_then(|c| find(entries, c)) {
        e.end = Some(start);
        e.discovery_expiration = Some(start.saturating_add(VALIDATING_SECS));
    }
    Ok(RotationOutcome { rotation, removed })
}

fn find<'a>(entries: &'a mut [X509Signer], ca: &X509Signer) -> Option<&'a mut X509Signer> {
    entries.iter_mut().find(|e| same_ca(e, ca))
}

/// Remove the oldest `INACTIVE` entries of a full slot (earliest `DiscoveryExpirationTime`
/// first, then the earliest recorded) so one more entry fits; `LimitExceeded`, nothing removed,
/// when there are not enough.
fn make_room(entries: &mut Vec<X509Signer>, indices: &[usize], now: i64) -> Result<Vec<X509Signer>, AwsError> {
    let need = indices.len() + 1 - ENTRIES_PER_SLOT;
    let mut inactive: Vec<usize> =
        indices.iter().copied().filter(|&i| entries.get(i).is_some_and(|e| e.status(now) == "INACTIVE")).collect();
    if inactive.len() < need {
        return Err(limit_exceeded(format!(
            "The slot for key algorithm {} already holds {ENTRIES_PER_SLOT} entries and only {} of them are INACTIVE: delete or retire entries first.",
            entries.get(indices[0]).map(|e| e.key_algorithm.as_str()).unwrap_or_default(),
            inactive.len()
        )));
    }
    inactive.sort_by_key(|&i| (entries.get(i).and_then(|e| e.discovery_expiration), i));
    let mut gone: Vec<usize> = inactive.into_iter().take(need).collect();
    gone.sort_unstable();
    let mut removed = Vec::new();
    for i in gone.into_iter().rev() {
        removed.insert(0, entries.remove(i));
    }
    Ok(removed)
}

/// `DisableWorkloadIdentityProviderOutboundSigner`: stop every entry that signs or waits to
/// sign, in every slot. Returns whether anything changed (a second call changes nothing).
pub fn disable(entries: &mut [X509Signer], now: i64) -> bool {
    let mut changed = false;
    for e in entries.iter_mut() {
        if matches!(e.status(now), "ACTIVE" | "IN_TRANSITION") {
            stop(e, now);
            changed = true;
        }
    }
    changed
}

/// `EnableWorkloadIdentityProviderOutboundSigner`: in each slot with nothing signing or waiting
/// to sign, resume the entry that stopped signing most recently (never one a cancelled rotation
/// stopped; of two stopped at the same moment, the one that was to start later, i.e. the
/// incoming half of a disabled rotation). It starts `delay_secs` after `now`, its end and
/// expiration cleared. Returns the resumed entries' indices.
pub fn enable(entries: &mut [X509Signer], now: i64, delay_secs: i64) -> Vec<usize> {
    let mut algorithms: Vec<String> = Vec::new();
    for e in entries.iter() {
        if !algorithms.contains(&e.key_algorithm) {
            algorithms.push(e.key_algorithm.clone());
        }
    }
    let mut resumed = Vec::new();
    for k in &algorithms {
        let indices = slot(entries, k);
        let busy = indices
            .iter()
            .any(|&i| entries.get(i).is_some_and(|e| matches!(e.status(now), "ACTIVE" | "IN_TRANSITION")));
        if busy {
            continue;
        }
        let pick = indices
            .iter()
            .copied()
            .filter_map(|i| entries.get(i).filter(|e| !e.cancelled).and_then(|e| e.end.map(|end| (end, e.start, i))))
            .max();
        if let Some(e) = pick.and_then(|(_, _, i)| entries.get_mut(i)) {
            e.start = now.saturating_add(delay_secs);
            e.end = None;
            e.discovery_expiration = None;
            resumed.extend(pick.map(|(_, _, i)| i));
        }
    }
    resumed
}

#[cfg(test)]
#[path = "workload_identity_x509_slots_tests.rs"]
mod tests;
