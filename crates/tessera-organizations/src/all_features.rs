//! `EnableAllFeatures` (AWS Organizations User Guide, "Enabling all features for an
//! organization with AWS Organizations", orgs_manage_org_support-all-features.html): an
//! organization created with `FeatureSet` `CONSOLIDATED_BILLING` moves to `ALL` through
//! handshakes. The management account's call opens an `ENABLE_ALL_FEATURES` handshake (the
//! management account is its party) and sends every invited member account (`JoinedMethod`
//! `INVITED`) an `APPROVE_ALL_FEATURES` handshake whose parent it is; accounts created by the
//! organization approve implicitly. When every invited account has accepted its handshake, the
//! management account accepts the `ENABLE_ALL_FEATURES` one and the organization has all
//! features. Cancelling (or declining) the parent cancels the open approvals; while the parent is
//! open, `InviteAccountToOrganization` is refused. The handshakes last 90 days.

use serde_json::{json, Value};
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use super::accounts::{org_for, same_org};
use super::handshakes::{all, handshake_constraint, Handshake, ORG_HANDSHAKE};
use super::*;

const ENABLE: &str = "ENABLE_ALL_FEATURES";
const APPROVE: &str = "APPROVE_ALL_FEATURES";
/// How long the handshakes stay open.
const OPEN_SECONDS: i64 = 90 * 86_400;

/// The open `ENABLE_ALL_FEATURES` handshake of `org`, if any.
fn pending<R: ReadTxn + ?Sized>(r: &R, org: &Organization, now: i64) -> Result<Option<Handshake>, AwsError> {
    Ok(all(r, now)?.into_iter().find(|h| h.organization_id == org.id && h.action == ENABLE && h.state(now) == "OPEN"))
}

/// `InviteAccountToOrganization` is refused while all features are being enabled.
pub(super) fn check_not_pending<R: ReadTxn + ?Sized>(r: &R, org: &Organization, now: i64) -> Result<(), AwsError> {
    if pending(r, org, now)?.is_some() {
        return Err(handshake_constraint(
            "INVITE_DISABLED_DURING_ENABLE_ALL_FEATURES",
            "You can't issue new invitations to join an organization while it's in the process of enabling all features. You can resume inviting accounts after you finalize the process when all accounts have agreed to the change.",
        ));
    }
    Ok(())
}

/// `Handshake` of the two all-features actions.
pub(super) fn handshake_json(h: &Handshake, now: i64) -> Value {
    let mut parties = vec![json!({"Id": h.organization_id, "Type": "ORGANIZATION"})];
    let mut resources = vec![json!({"Value": h.organization_id, "Type": "ORGANIZATION"})];
    if h.action == APPROVE {
        parties.push(json!({"Id": h.target, "Type": "ACCOUNT"}));
        if let Some(p) = &h.parent {
            resources.push(json!({"Value": p, "Type": "PARENT_HANDSHAKE"}));
        }
    }
    h.envelope(parties, resources, now)
}

/// `EnableAllFeatures` (management account).
pub(super) fn enable_all_features(s: &Services, call: &Call, _i: In) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:EnableAllFeatures", "*", vec![])?;
    let now = s.clock.now_secs();
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    if org.feature_set == "ALL" {
        return Err(handshake_constraint(
            "ORGANIZATION_ALREADY_HAS_ALL_FEATURES",
            "The handshake request is invalid because the organization has already enabled all features.",
        ));
    }
    if pending(&*txn, &org, now)?.is_some() {
        return Err(handshake_constraint(
            "ORGANIZATION_IS_ALREADY_PENDING_ALL_FEATURES_MIGRATION",
            "The handshake request is invalid because the organization has already started the process to enable all features.",
        ));
    }
    let management = load_account(&*txn, &org.management_account)?.ok_or_else(AwsError::internal)?;
    let base = Handshake {
        id: String::new(),
        organization_id: org.id.clone(),
        management_account: org.management_account.clone(),
        management_email: management.email,
        management_name: management.name,
        feature_set: org.feature_set.clone(),
        target: org.management_account.clone(),
        target_type: "ACCOUNT".into(),
        target_value: org.management_account.clone(),
        notes: None,
        state: "OPEN".into(),
        requested: now,
        expires: now + OPEN_SECONDS,
        closed: None,
        action: ENABLE.into(),
        parent: None,
        transfer: None,
        transfer_start: None,
    };
    let parent = Handshake { id: new_id(), ..base.clone() };
    st(model::save(txn.as_mut(), ORG_HANDSHAKE, &parent.id, &parent))?;
    for a in org_accounts(&*txn, &org)? {
        if a.id == org.management_account || a.joined_method.as_deref() != Some("INVITED") {
            continue;
        }
        let child = Handshake {
            id: new_id(),
            target: a.id.clone(),
            target_value: a.id.clone(),
            action: APPROVE.into(),
            parent: Some(parent.id.clone()),
            ..base.clone()
        };
        st(model::save(txn.as_mut(), ORG_HANDSHAKE, &child.id, &child))?;
    }
    st(txn.commit())?;
    Ok(json!({"Handshake": parent.json(now)}))
}

fn new_id() -> String {
    format!("h-{}", crate::ids::lower_alnum(10))
}

/// What moving `h` (an all-features handshake, still open) to `state` does besides: accepting
/// the parent finalizes (every approval must be accepted); cancelling or declining it cancels
/// the open approvals.
pub(super) fn on_transition(txn: &mut dyn WriteTxn, h: &Handshake, state: &str, now: i64) -> Result<(), AwsError> {
    if h.action != ENABLE {
        return Ok(());
    }
    let children: Vec<Handshake> =
        all(txn, now)?.into_iter().filter(|c| c.parent.as_deref() == Some(h.id.as_str())).collect();
    if state == "ACCEPTED" {
        if children.iter().any(|c| c.state(now) != "ACCEPTED") {
            return Err(err(
                "InvalidHandshakeTransitionException",
                "You can't finalize enabling all features until every invited account in the organization has approved the change.",
            ));
        }
        let mut org: Organization = st(model::load(txn, table::ORGANIZATION, &h.organization_id))?
            .ok_or_else(|| err("HandshakeNotFoundException", "The organization no longer exists."))?;
        org.feature_set = "ALL".into();
        st(model::save(txn, table::ORGANIZATION, &org.id, &org))?;
        touch(txn)?;
        return Ok(());
    }
    for mut c in children {
        if c.state(now) == "OPEN" {
            c.state = "CANCELED".into();
            c.closed = Some(now);
            st(model::save(txn, ORG_HANDSHAKE, &c.id, &c))?;
        }
    }
    Ok(())
}
