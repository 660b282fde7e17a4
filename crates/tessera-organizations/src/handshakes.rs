//! Handshakes: inviting an account into the organization (Organizations User Guide, "Inviting
//! an AWS account to join your organization"): `InviteAccountToOrganization` by the management
//! account, `AcceptHandshake` / `DeclineHandshake` by the invited account, `CancelHandshake` by
//! the management account, `DescribeHandshake` by either party, `ListHandshakesForAccount`,
//! `ListHandshakesForOrganization`.
//!
//! The invited account must be one Tessera knows (by id, or by its root user's email) and not in
//! an organization. An open handshake expires after 15 days; handshakes are kept (and listed)
//! until 30 days after they closed. Accepting joins the account to the root with
//! `JoinedMethod` `INVITED`; unlike `CreateAccount`, no `OrganizationAccountAccessRole` is made
//! (AWS: the invited account's administrator creates it).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use super::accounts::{check_account_id, org_for, same_org, with_token};
use super::input::{self, In};
use super::*;

/// Handshakes by id.
pub(crate) const ORG_HANDSHAKE: &str = "org_handshake";
/// An open invitation lasts 15 days.
pub(super) const OPEN_SECONDS: i64 = 15 * 86_400;
/// Closed handshakes are listed for 30 days.
const KEPT_SECONDS: i64 = 30 * 86_400;

/// A stored handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Handshake {
    pub id: String,
    pub organization_id: String,
    pub management_account: String,
    pub management_email: String,
    pub management_name: String,
    pub feature_set: String,
    /// The invited account (the account that may accept).
    pub target: String,
    /// `ACCOUNT` or `EMAIL`, as the invitation named it.
    pub target_type: String,
    pub target_value: String,
    pub notes: Option<String>,
    /// `OPEN`, `ACCEPTED`, `DECLINED`, `CANCELED` (`EXPIRED` is computed).
    pub state: String,
    pub requested: i64,
    pub expires: i64,
    /// When it left `OPEN`.
    pub closed: Option<i64>,
    /// `INVITE`, `ENABLE_ALL_FEATURES`, `APPROVE_ALL_FEATURES`, `TRANSFER_RESPONSIBILITY`.
    #[serde(default = "invite_action")]
    pub action: String,
    /// The `ENABLE_ALL_FEATURES` handshake an `APPROVE_ALL_FEATURES` one belongs to.
    #[serde(default)]
    pub parent: Option<String>,
    /// The responsibility transfer a `TRANSFER_RESPONSIBILITY` handshake invites to, and its start.
    #[serde(default)]
    pub transfer: Option<String>,
    #[serde(default)]
    pub transfer_start: Option<i64>,
}

fn invite_action() -> String {
    "INVITE".into()
}

impl Handshake {
    pub(super) fn state(&self, now: i64) -> &str {
        if self.state == "OPEN" && now >= self.expires {
            "EXPIRED"
        } else {
            &self.state
        }
    }

    pub(super) fn json(&self, now: i64) -> Value {
        match self.action.as_str() {
            "INVITE" => {}
            super::transfers::TRANSFER_RESPONSIBILITY => return super::transfers::handshake_json(self, now),
            _ => return super::all_features::handshake_json(self, now),
        }
        let resources = vec![
            json!({"Value": self.organization_id, "Type": "ORGANIZATION", "Resources": [
                {"Value": self.management_email, "Type": "MASTER_EMAIL"},
                {"Value": self.management_name, "Type": "MASTER_NAME"},
                {"Value": self.feature_set, "Type": "ORGANIZATION_FEATURE_SET"},
            ]}),
            json!({"Value": self.target_value, "Type": self.target_type}),
        ];
        self.envelope(self.inviter_and_invited(), resources, now)
    }

    /// `Parties` of an invitation: the inviting organization and the account as it was named.
    pub(super) fn inviter_and_invited(&self) -> Vec<Value> {
        vec![
            json!({"Id": self.organization_id, "Type": "ORGANIZATION"}),
            json!({"Id": self.target_value, "Type": self.target_type}),
        ]
    }

    /// The `Handshake` shape around `parties` and `resources` (the notes, if any, appended);
    /// the ARN names the action in lower case (`invite`, `transfer_responsibility`, ...).
    pub(super) fn envelope(&self, parties: Vec<Value>, mut resources: Vec<Value>, now: i64) -> Value {
        if let Some(n) = &self.notes {
            resources.push(json!({"Value": n, "Type": "NOTES"}));
        }
        json!({
            "Id": self.id,
            "Arn": format!(
                "arn:aws:organizations::{}:handshake/{}/{}/{}",
                self.management_account,
                self.organization_id,
                self.action.to_ascii_lowercase(),
                self.id
            ),
            "Parties": parties,
            "State": self.state(now),
            "RequestedTimestamp": self.requested,
            "ExpirationTimestamp": self.expires,
            "Action": self.action,
            "Resources": resources,
        })
    }
}

fn not_found() -> AwsError {
    err("HandshakeNotFoundException", "We can't find a handshake with the HandshakeId that you specified.")
}

pub(super) fn handshake_constraint(reason: &str, message: &str) -> AwsError {
    AwsError::new(400, "HandshakeConstraintViolationException", message).with_reason(reason)
}

/// `^h-[0-9a-z]{8,32}$`.
pub(super) fn check_handshake_id(id: &str) -> Result<(), AwsError> {
    input::pattern(id.strip_prefix("h-").is_some_and(|r| {
        (8..=32).contains(&r.len()) && r.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    }))
}

pub(super) fn load<R: ReadTxn + ?Sized>(r: &R, id: &str) -> Result<Handshake, AwsError> {
    st(model::load(r, ORG_HANDSHAKE, id))?.ok_or_else(not_found)
}

pub(super) fn all<R: ReadTxn + ?Sized>(r: &R, now: i64) -> Result<Vec<Handshake>, AwsError> {
    let rows = st(r.scan(ORG_HANDSHAKE, "", None, usize::MAX))?;
    let list: Vec<(String, Handshake)> = st(model::decode_rows(ORG_HANDSHAKE, rows))?;
    Ok(list
        .into_iter()
        .map(|(_, h)| h)
        .filter(|h| h.closed.unwrap_or(h.expires.max(now)) + KEPT_SECONDS > now)
        .collect())
}

/// The `Target` of an invitation: (`ACCOUNT` or `EMAIL`, its id or address).
pub(super) fn party<'a>(i: In<'a>) -> Result<(&'a str, &'a str), AwsError> {
    let target = i.0.get("Target").filter(|t| t.is_object()).ok_or_else(|| {
        input::invalid(
            "INPUT_REQUIRED",
            "You must specify a value for Target. Include a value for all required parameters.",
        )
    })?;
    let t = In(target);
    let (value, ty) = (t.req_str("Id")?, t.req_str("Type")?);
    input::one_of(ty, &["ACCOUNT", "EMAIL"])?;
    input::length(value, 1, 64)?;
    if ty == "ACCOUNT" {
        check_account_id(value)?;
    }
    Ok((ty, value))
}

/// The account an invitation names, by id or by its root user's email. An account Tessera does
/// not know could never answer: it is refused plainly.
pub(super) fn resolve_party<R: ReadTxn + ?Sized>(r: &R, ty: &str, value: &str) -> Result<Account, AwsError> {
    let found = if ty == "ACCOUNT" {
        load_account(r, value)?
    } else {
        let rows = st(r.scan(table::ACCOUNT, "", None, usize::MAX))?;
        let accounts: Vec<(String, Account)> = st(model::decode_rows(table::ACCOUNT, rows))?;
        accounts.into_iter().map(|(_, a)| a).find(|a| a.email.eq_ignore_ascii_case(value))
    };
    found.ok_or_else(|| {
        input::invalid("INVALID_PARTY_TYPE_TARGET", "You specified the wrong type for the handshake's target.")
    })
}

/// `InviteAccountToOrganization`.
pub(super) fn invite(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let (ty, value) = party(i)?;
    let notes = i.opt_str("Notes")?;
    if let Some(n) = notes {
        input::length(n, 0, 1024)?;
    }
    let tags = i.tags("Tags")?.unwrap_or_default();
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:InviteAccountToOrganization", "*", tag_context(&tags))?;
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    super::all_features::check_not_pending(&*txn, &org, s.clock.now_secs())?;
    let target = resolve_party(&*txn, ty, value)?;
    if target.organization_id.is_some() {
        return Err(handshake_constraint(
            "ALREADY_IN_AN_ORGANIZATION",
            "The account is already a member of an organization.",
        ));
    }
    let now = s.clock.now_secs();
    if all(&*txn, now)?
        .iter()
        .any(|h| h.action == "INVITE" && h.organization_id == org.id && h.target == target.id && h.state(now) == "OPEN")
    {
        return Err(err("DuplicateHandshakeException", "A handshake with the same action and target already exists."));
    }
    let management = load_account(&*txn, &org.management_account)?.ok_or_else(AwsError::internal)?;
    let h = Handshake {
        id: format!("h-{}", crate::ids::lower_alnum(10)),
        organization_id: org.id.clone(),
        management_account: org.management_account.clone(),
        management_email: management.email,
        management_name: management.name,
        feature_set: org.feature_set.clone(),
        target: target.id,
        target_type: ty.to_string(),
        target_value: value.to_string(),
        notes: notes.map(str::to_string),
        state: "OPEN".into(),
        requested: now,
        expires: now + OPEN_SECONDS,
        closed: None,
        action: invite_action(),
        parent: None,
        transfer: None,
        transfer_start: None,
    };
    st(model::save(txn.as_mut(), ORG_HANDSHAKE, &h.id, &h))?;
    st(txn.commit())?;
    Ok(json!({"Handshake": h.json(now)}))
}

/// Move an open handshake to `state`, if the caller is the party that may.
fn transition(s: &Services, call: &Call, i: In, action: &str, state: &str) -> Result<Value, AwsError> {
    let id = i.req_str("HandshakeId")?;
    check_handshake_id(id)?;
    authorize(s, call, action, "*", vec![])?;
    let now = s.clock.now_secs();
    let mut txn = st(s.store.write())?;
    let mut h = load(&*txn, id)?;
    let by_target = call.caller.account == h.target;
    let allowed = if state == "CANCELED" { call.caller.account == h.management_account } else { by_target };
    if !allowed {
        return Err(not_found());
    }
    match h.state(now) {
        "OPEN" => {}
        current if current == state => {
            return Err(err(
                "HandshakeAlreadyInStateException",
                "The specified handshake is already in the requested state.",
            ))
        }
        _ => {
            return Err(err(
                "InvalidHandshakeTransitionException",
                "You can't perform the operation on the handshake in its current state.",
            ))
        }
    }
    if h.action == super::transfers::TRANSFER_RESPONSIBILITY {
        super::transfers::on_transition(txn.as_mut(), &h, state, now)?;
    } else if h.action != "INVITE" {
        super::all_features::on_transition(txn.as_mut(), &h, state, now)?;
    } else if state == "ACCEPTED" {
        let mut acct = load_account(&*txn, &h.target)?.ok_or_else(AwsError::internal)?;
        if acct.organization_id.is_some() {
            return Err(handshake_constraint(
                "ALREADY_IN_AN_ORGANIZATION",
                "The account is already a member of an organization.",
            ));
        }
        let org: Organization = st(model::load(&*txn, table::ORGANIZATION, &h.organization_id))?.ok_or_else(|| {
            handshake_constraint(
                "ORGANIZATION_MEMBERSHIP_CHANGE_RATE_LIMIT_EXCEEDED",
                "The organization no longer exists.",
            )
        })?;
        acct.organization_id = Some(org.id.clone());
        acct.parent_id = Some(org.root_id.clone());
        acct.joined_method = Some("INVITED".into());
        acct.joined = Some(now);
        st(model::save(txn.as_mut(), table::ACCOUNT, &acct.id, &acct))?;
        attach_defaults(txn.as_mut(), &org, &acct.id)?;
        touch(txn.as_mut())?;
    }
    h.state = state.to_string();
    h.closed = Some(now);
    st(model::save(txn.as_mut(), ORG_HANDSHAKE, &h.id, &h))?;
    st(txn.commit())?;
    Ok(json!({"Handshake": h.json(now)}))
}

/// `AcceptHandshake`, by the invited account: it joins the organization's root.
pub(super) fn accept(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    transition(s, call, i, "organizations:AcceptHandshake", "ACCEPTED")
}

/// `DeclineHandshake`, by the invited account.
pub(super) fn decline(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    transition(s, call, i, "organizations:DeclineHandshake", "DECLINED")
}

/// `CancelHandshake`, by the management account that sent it.
pub(super) fn cancel(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    transition(s, call, i, "organizations:CancelHandshake", "CANCELED")
}

/// `DescribeHandshake`, by either party.
pub(super) fn describe(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("HandshakeId")?;
    check_handshake_id(id)?;
    authorize(s, call, "organizations:DescribeHandshake", "*", vec![])?;
    let r = st(s.store.read())?;
    let h = load(&*r, id)?;
    if call.caller.account != h.target && call.caller.account != h.management_account {
        return Err(not_found());
    }
    Ok(json!({"Handshake": h.json(s.clock.now_secs())}))
}

/// The `Filter` of the two lists: `ActionType` or `ParentHandshakeId` (at most one).
fn filter(i: In) -> Result<impl Fn(&Handshake) -> bool, AwsError> {
    let mut action = None;
    let mut parent = None;
    if let Some(f) = i.0.get("Filter").filter(|f| f.is_object()) {
        let f = In(f);
        if let Some(a) = f.opt_str("ActionType")? {
            input::one_of(
                a,
                &[
                    "INVITE",
                    "ENABLE_ALL_FEATURES",
                    "APPROVE_ALL_FEATURES",
                    "ADD_ORGANIZATIONS_SERVICE",
                    "TRANSFER_RESPONSIBILITY",
                ],
            )?;
            action = Some(a.to_string());
        }
        if let Some(p) = f.opt_str("ParentHandshakeId")? {
            if action.is_some() {
                return Err(input::invalid(
                    "MAX_LIMIT_EXCEEDED_FILTER",
                    "You can specify only one filter parameter for the operation.",
                ));
            }
            check_handshake_id(p)?;
            parent = Some(p.to_string());
        }
    }
    Ok(move |h: &Handshake| {
        action.as_ref().is_none_or(|a| *a == h.action) && parent.as_ref().is_none_or(|p| h.parent.as_ref() == Some(p))
    })
}

fn list(s: &Services, i: In, keep: impl Fn(&Handshake) -> bool) -> Result<Value, AwsError> {
    let page = i.page()?;
    let now = s.clock.now_secs();
    let wanted = filter(i)?;
    let r = st(s.store.read())?;
    let mut mine: Vec<Handshake> = all(&*r, now)?.into_iter().filter(|h| keep(h) && wanted(h)).collect();
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    let (items, next) = page.apply(mine, |h| h.id.clone());
    Ok(with_token(json!({"Handshakes": items.iter().map(|h| h.json(now)).collect::<Vec<_>>()}), next))
}

/// `ListHandshakesForAccount`: the handshakes the caller's account was sent.
pub(super) fn list_for_account(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    authorize(s, call, "organizations:ListHandshakesForAccount", "*", vec![])?;
    let me = call.caller.account.clone();
    list(s, i, |h| h.target == me)
}

/// `ListHandshakesForOrganization`: those the organization sent (management account).
pub(super) fn list_for_organization(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let org = org_for(s, call)?;
    let grant = authorize(s, call, "organizations:ListHandshakesForOrganization", "*", vec![])?;
    require_management(call, &org, grant)?;
    list(s, i, |h| h.organization_id == org.id)
}
