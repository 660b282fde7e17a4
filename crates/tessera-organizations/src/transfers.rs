//! Responsibility transfers (Organizations API reference, `InviteOrganizationToTransferResponsibility`,
//! `DescribeResponsibilityTransfer`, `ListInboundResponsibilityTransfers`,
//! `ListOutboundResponsibilityTransfers`, `UpdateResponsibilityTransfer`,
//! `TerminateResponsibilityTransfer`; Billing User Guide, "Billing transfer": viewing, updating
//! and withdrawing transfers).
//!
//! The management account of one organization (the *bill-transfer* account, the transfer's
//! `Target`) invites the management account of another organization (the *bill-source* account,
//! the transfer's `Source`) to let it manage that organization's consolidated bill. The invitation
//! is a `TRANSFER_RESPONSIBILITY` handshake the invited account accepts or declines with
//! `AcceptHandshake` / `DeclineHandshake` (the inviter may cancel it with `CancelHandshake`), and
//! the transfer follows it: `REQUESTED`, then `ACCEPTED`, `DECLINED`, `CANCELED` or `EXPIRED`.
//! Either side may withdraw an accepted transfer (`WITHDRAWN`); it ends at the end of a month.
//!
//! Tessera has no billing: the transfer and its lifecycle are recorded and reported, and no bill
//! moves (docs/ORGANIZATIONS.md, "Responsibility transfers").

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_store::ReadTxn;
use tessera_wire::AwsError;

use super::accounts::{org_for, same_org, with_token};
use super::handshakes::{self as hs, handshake_constraint, Handshake, ORG_HANDSHAKE};
use super::input::{self, In};
use super::*;

/// Transfers by id.
pub(crate) const ORG_TRANSFER: &str = "org_transfer";
/// The handshake action of a transfer invitation.
pub(super) const TRANSFER_RESPONSIBILITY: &str = "TRANSFER_RESPONSIBILITY";
/// The only `ResponsibilityTransferType` of the model.
const BILLING: &str = "BILLING";
/// How many months ahead a transfer may start or end (Tessera's choice; AWS does not say).
const MONTHS_AHEAD: i64 = 12;

/// A stored transfer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Transfer {
    /// `rt-` + 10.
    pub id: String,
    /// `BILLING`.
    pub kind: String,
    /// The name the bill-transfer account gave it (`SourceName`, `UpdateResponsibilityTransfer`).
    pub name: String,
    /// The bill-source account: the invited management account, whose bill would move.
    pub source_account: String,
    pub source_email: String,
    pub source_org: String,
    /// The bill-transfer account: the inviting management account.
    pub target_account: String,
    pub target_email: String,
    pub target_org: String,
    /// `REQUESTED`, `ACCEPTED`, `DECLINED`, `CANCELED`, `WITHDRAWN` (`EXPIRED` is computed).
    pub status: String,
    pub start: i64,
    pub end: Option<i64>,
    /// The invitation's handshake and when it expires.
    pub handshake: String,
    pub invitation_expires: i64,
    pub tags: Vec<Tag>,
}

impl Transfer {
    fn status(&self, now: i64) -> &str {
        if self.status == "REQUESTED" && now >= self.invitation_expires {
            "EXPIRED"
        } else {
            &self.status
        }
    }

    /// Still binding at `now`: an invitation not yet answered, or an accepted transfer that has
    /// not reached its end.
    fn in_progress(&self, now: i64) -> bool {
        match self.status(now) {
            "REQUESTED" => true,
            "ACCEPTED" | "WITHDRAWN" => self.end.is_none_or(|end| end >= now),
            _ => false,
        }
    }

    /// The side `viewer` (a management account) is on: inbound for the bill-transfer account.
    fn side(&self, viewer: &str) -> Option<Side> {
        if viewer == self.target_account {
            Some(Side::Inbound)
        } else if viewer == self.source_account {
            Some(Side::Outbound)
        } else {
            None
        }
    }

    /// The ARN as `side` sees it: under its own account and organization.
    fn arn(&self, side: Side) -> String {
        let (account, org, dir) = match side {
            Side::Inbound => (&self.target_account, &self.target_org, "inbound"),
            Side::Outbound => (&self.source_account, &self.source_org, "outbound"),
        };
        format!("arn:aws:organizations::{account}:transfer/{org}/{}/{dir}/{}", self.kind.to_ascii_lowercase(), self.id)
    }

    /// `ResponsibilityTransfer` as `side` sees it. The name is the bill-transfer account's
    /// (Billing User Guide, "Updating transfers": "only visible to you").
    fn json(&self, side: Side, now: i64) -> Value {
        let mut v = json!({
            "Arn": self.arn(side),
            "Id": self.id,
            "Type": self.kind,
            "Status": self.status(now),
            "Source": {"ManagementAccountId": self.source_account, "ManagementAccountEmail": self.source_email},
            "Target": {"ManagementAccountId": self.target_account, "ManagementAccountEmail": self.target_email},
            "StartTimestamp": self.start,
            "ActiveHandshakeId": self.handshake,
        });
        if side == Side::Inbound {
            v["Name"] = json!(self.name);
        }
        if let Some(end) = self.end {
            v["EndTimestamp"] = json!(end);
        }
        v
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The caller's organization manages the other's responsibility.
    Inbound,
    /// Another organization manages the caller's.
    Outbound,
}

fn not_found() -> AwsError {
    err("ResponsibilityTransferNotFoundException", "We can't find a transfer that you specified.")
}

/// `^rt-[0-9a-z]{8,32}$`.
fn check_id(id: &str) -> Result<(), AwsError> {
    input::pattern(id.strip_prefix("rt-").is_some_and(|r| {
        (8..=32).contains(&r.len()) && r.bytes().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    }))
}

/// `Type`: required, `BILLING`.
fn check_type(i: In) -> Result<(), AwsError> {
    input::one_of(i.req_str("Type")?, &[BILLING])
}

/// A transfer name: 1-128 printable ASCII characters.
fn check_name(name: &str) -> Result<(), AwsError> {
    input::length(name, 1, 128)?;
    input::pattern(input::is_printable_ascii(name))
}

fn load<R: ReadTxn + ?Sized>(r: &R, id: &str) -> Result<Option<Transfer>, AwsError> {
    st(model::load(r, ORG_TRANSFER, id))
}

fn all<R: ReadTxn + ?Sized>(r: &R) -> Result<Vec<Transfer>, AwsError> {
    let rows = st(r.scan(ORG_TRANSFER, "rt-", None, usize::MAX))?;
    let list: Vec<(String, Transfer)> = st(model::decode_rows(ORG_TRANSFER, rows))?;
    Ok(list.into_iter().map(|(_, t)| t).collect())
}

fn save(txn: &mut dyn WriteTxn, t: &Transfer) -> Result<(), AwsError> {
    st(model::save(txn, ORG_TRANSFER, &t.id, t))
}

// ---------------------------------------------------------------------------------------------
// Months (UTC)

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The month of `secs` as `year * 12 + month - 1`.
fn month_index(secs: i64) -> i64 {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    year * 12 + month - 1
}

/// 00:00:00 UTC on the first day of month `index`.
fn month_start(index: i64) -> i64 {
    days_from_civil(index.div_euclid(12), index.rem_euclid(12) + 1, 1) * 86_400
}

/// 23:59:59 UTC on the last day of month `index`.
fn month_end(index: i64) -> i64 {
    month_start(index + 1) - 1
}

/// `StartTimestamp`: 00:00:00 UTC on the first day of a month, from the current month up to
/// [`MONTHS_AHEAD`] months ahead.
fn check_start(start: i64, now: i64) -> Result<(), AwsError> {
    let bad = |reason: &str| input::invalid(reason, "You provided an invalid start date.");
    if start != month_start(month_index(start)) {
        return Err(bad("START_DATE_NOT_BEGINNING_OF_MONTH"));
    }
    if month_index(start) < month_index(now) {
        return Err(bad("START_DATE_TOO_EARLY"));
    }
    if month_index(start) > month_index(now) + MONTHS_AHEAD {
        return Err(bad("START_DATE_TOO_LATE"));
    }
    Ok(())
}

/// `EndTimestamp` (default: the end of the current month): 23:59:59 UTC on the last day of a
/// month, not before the current month nor the transfer's first month, up to [`MONTHS_AHEAD`]
/// months ahead.
fn check_end(end: Option<i64>, start: i64, now: i64) -> Result<i64, AwsError> {
    let bad = |reason: &str| input::invalid(reason, "You provided an invalid end date.");
    let first = month_index(now).max(month_index(start));
    let Some(end) = end else { return Ok(month_end(first)) };
    if end != month_end(month_index(end)) {
        return Err(bad("END_DATE_NOT_END_OF_MONTH"));
    }
    if month_index(end) < first {
        return Err(bad("END_DATE_TOO_EARLY"));
    }
    if month_index(end) > month_index(now) + MONTHS_AHEAD {
        return Err(bad("END_DATE_TOO_LATE"));
    }
    Ok(end)
}

// ---------------------------------------------------------------------------------------------
// The invitation

/// `InviteOrganizationToTransferResponsibility` (management account): invite another
/// organization's management account to let the caller's account manage its bill.
pub(super) fn invite(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    check_type(i)?;
    let (ty, value) = hs::party(i)?;
    let notes = i.opt_str("Notes")?;
    if let Some(n) = notes {
        input::length(n, 0, 1024)?;
    }
    let start = i.opt_timestamp("StartTimestamp")?.ok_or_else(|| {
        input::invalid(
            "INPUT_REQUIRED",
            "You must specify a value for StartTimestamp. Include a value for all required parameters.",
        )
    })?;
    let name = i.req_str("SourceName")?;
    check_name(name)?;
    let tags = i.tags("Tags")?.unwrap_or_default();
    let org = org_for(s, call)?;
    let grant =
        authorize(s, call, "organizations:InviteOrganizationToTransferResponsibility", "*", tag_context(&tags))?;
    let now = s.clock.now_secs();
    let mut txn = st(s.store.write())?;
    let org = same_org(&*txn, call, &org)?;
    require_management(call, &org, grant)?;
    check_start(start, now)?;
    let source = hs::resolve_party(&*txn, ty, value)?;
    if source.id == org.management_account {
        return Err(handshake_constraint(
            "SOURCE_AND_TARGET_CANNOT_MATCH",
            "An account can't accept a transfer invitation if it is both the sender and recipient of the invitation.",
        ));
    }
    // Only the management account of another organization can hand its bill over.
    let source_org = org_of(&*txn, &source.id)?.filter(|o| o.management_account == source.id && o.id != org.id);
    let Some(source_org) = source_org else {
        return Err(handshake_constraint(
            "TARGET_ACCOUNT_VALIDATION_FAILURE",
            "Billing transfer is not available for the invited account: it is not the management account of another organization.",
        ));
    };
    let open = hs::all(&*txn, now)?.into_iter().any(|h| {
        h.action == TRANSFER_RESPONSIBILITY
            && h.organization_id == org.id
            && h.target == source.id
            && h.state(now) == "OPEN"
    });
    if open {
        return Err(err("DuplicateHandshakeException", "A handshake with the same action and target already exists."));
    }
    // One organization's bill has one manager at a time, and two organizations cannot manage
    // each other's.
    let taken = all(&*txn)?.into_iter().any(|t| {
        t.in_progress(now)
            && t.status(now) != "REQUESTED"
            && (t.source_account == source.id
                || (t.source_account == org.management_account && t.target_account == source.id))
    });
    if taken {
        return Err(handshake_constraint(
            "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS",
            "You cannot perform this operation with the current transfer.",
        ));
    }
    let management = load_account(&*txn, &org.management_account)?.ok_or_else(AwsError::internal)?;
    let h = Handshake {
        id: format!("h-{}", crate::ids::lower_alnum(10)),
        organization_id: org.id.clone(),
        management_account: org.management_account.clone(),
        management_email: management.email.clone(),
        management_name: management.name,
        feature_set: org.feature_set.clone(),
        target: source.id.clone(),
        target_type: ty.to_string(),
        target_value: value.to_string(),
        notes: notes.map(str::to_string),
        state: "OPEN".into(),
        requested: now,
        expires: now + hs::OPEN_SECONDS,
        closed: None,
        action: TRANSFER_RESPONSIBILITY.into(),
        parent: None,
        transfer: Some(format!("rt-{}", crate::ids::lower_alnum(10))),
        transfer_start: Some(start),
    };
    let t = Transfer {
        id: h.transfer.clone().unwrap_or_default(),
        kind: BILLING.into(),
        name: name.to_string(),
        source_account: source.id.clone(),
        source_email: source.email,
        source_org: source_org.id,
        target_account: org.management_account.clone(),
        target_email: management.email,
        target_org: org.id.clone(),
        status: "REQUESTED".into(),
        start,
        end: None,
        handshake: h.id.clone(),
        invitation_expires: h.expires,
        tags,
    };
    st(model::save(txn.as_mut(), ORG_HANDSHAKE, &h.id, &h))?;
    save(txn.as_mut(), &t)?;
    st(txn.commit())?;
    Ok(json!({"Handshake": h.json(now)}))
}

/// `Handshake` of a transfer invitation: the inviting organization and the invited party, the
/// transfer, its type and start, and the inviting management account.
pub(super) fn handshake_json(h: &Handshake, now: i64) -> Value {
    let resources = vec![
        json!({"Value": h.transfer.clone().unwrap_or_default(), "Type": "RESPONSIBILITY_TRANSFER"}),
        json!({"Value": BILLING, "Type": "TRANSFER_TYPE"}),
        json!({"Value": h.transfer_start.unwrap_or_default().to_string(), "Type": "TRANSFER_START_TIMESTAMP"}),
        json!({"Value": h.management_account, "Type": "MANAGEMENT_ACCOUNT"}),
        json!({"Value": h.management_email, "Type": "MANAGEMENT_EMAIL"}),
        json!({"Value": h.management_name, "Type": "MANAGEMENT_NAME"}),
    ];
    h.envelope(h.inviter_and_invited(), resources, now)
}

/// What answering a transfer invitation `h` (still open) with `state` does to its transfer:
/// accepting starts it (the invited account must still be a management account whose bill has
/// no other manager, and the inviting organization must still exist); declining and cancelling
/// close it.
pub(super) fn on_transition(txn: &mut dyn WriteTxn, h: &Handshake, state: &str, now: i64) -> Result<(), AwsError> {
    let Some(mut t) = load(txn, h.transfer.as_deref().unwrap_or_default())? else {
        return Err(AwsError::internal());
    };
    if state == "ACCEPTED" {
        let source_org = org_of(txn, &t.source_account)?.filter(|o| o.management_account == t.source_account);
        let Some(source_org) = source_org else {
            return Err(handshake_constraint(
                "TARGET_ACCOUNT_VALIDATION_FAILURE",
                "Billing transfer is not available for your account: it is not the management account of an organization.",
            ));
        };
        let inviter = org_of(txn, &t.target_account)?.filter(|o| o.management_account == t.target_account);
        if inviter.is_none() {
            return Err(constraint("TRANSFER_RESPONSIBILITY_TARGET_DELETION_IN_PROGRESS"));
        }
        let managed = all(txn)?.into_iter().any(|o| {
            o.id != t.id && o.source_account == t.source_account && o.status(now) != "REQUESTED" && o.in_progress(now)
        });
        if managed {
            return Err(handshake_constraint(
                "RESPONSIBILITY_TRANSFER_ALREADY_EXISTS",
                "You cannot perform this operation with the current transfer.",
            ));
        }
        t.source_org = source_org.id;
    }
    t.status = state.to_string();
    save(txn, &t)
}

/// `DeleteOrganization` is refused while the organization is in a transfer (an invitation not
/// answered, or a transfer that has not ended), on either side.
pub(super) fn check_no_transfer<R: ReadTxn + ?Sized>(r: &R, org: &Organization, now: i64) -> Result<(), AwsError> {
    let busy = all(r)?.into_iter().any(|t| {
        t.in_progress(now) && (t.source_account == org.management_account || t.target_account == org.management_account)
    });
    if busy {
        return Err(constraint("ACTIVE_RESPONSIBILITY_TRANSFER_PROCESS"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading and changing a transfer

/// The transfer `id` as the caller's organization sees it, authorized as `action` on its ARN
/// (on `*` when the caller's organization is on neither side: then
/// `ResponsibilityTransferNotFoundException`). Only the management account (or a member
/// account the organization's resource policy grants the operation to) may ask.
fn visible(s: &Services, call: &Call, action: &str, id: &str) -> Result<(Organization, Transfer, Side), AwsError> {
    check_id(id)?;
    let org = org_for(s, call)?;
    let found = {
        let r = st(s.store.read())?;
        load(&*r, id)?.and_then(|t| t.side(&org.management_account).map(|side| (t, side)))
    };
    let resource = found.as_ref().map_or_else(|| "*".to_string(), |(t, side)| t.arn(*side));
    let grant = authorize(s, call, action, &resource, vec![])?;
    require_management(call, &org, grant)?;
    let (t, side) = found.ok_or_else(not_found)?;
    Ok((org, t, side))
}

/// `DescribeResponsibilityTransfer`, by either side.
pub(super) fn describe(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let (_, t, side) = visible(s, call, "organizations:DescribeResponsibilityTransfer", i.req_str("Id")?)?;
    Ok(json!({"ResponsibilityTransfer": t.json(side, s.clock.now_secs())}))
}

/// The transfer again inside the write transaction.
fn reload<R: ReadTxn + ?Sized>(r: &R, id: &str) -> Result<Transfer, AwsError> {
    load(r, id)?.ok_or_else(not_found)
}

/// `UpdateResponsibilityTransfer`: renames it; by the bill-transfer account (the name is its),
/// while the transfer is requested or in force.
pub(super) fn update(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("Id")?;
    let name = i.req_str("Name")?;
    check_id(id)?;
    check_name(name)?;
    let (org, _, side) = visible(s, call, "organizations:UpdateResponsibilityTransfer", id)?;
    if side != Side::Inbound {
        return Err(err(
            "AccessDeniedException",
            "Only the account that manages the transfer's responsibilities can rename the transfer.",
        ));
    }
    let now = s.clock.now_secs();
    let mut txn = st(s.store.write())?;
    same_org(&*txn, call, &org)?;
    let mut t = reload(&*txn, id)?;
    if !matches!(t.status(now), "REQUESTED" | "ACCEPTED") {
        return Err(constraint("TRANSFER_RESPONSIBILITY_UPDATE_NOT_ALLOWED"));
    }
    t.name = name.to_string();
    save(txn.as_mut(), &t)?;
    st(txn.commit())?;
    Ok(json!({"ResponsibilityTransfer": t.json(side, now)}))
}

/// `TerminateResponsibilityTransfer`: either side withdraws an accepted transfer; it ends at
/// the end of the month given (by default the current one).
pub(super) fn terminate(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let id = i.req_str("Id")?;
    check_id(id)?;
    let end = i.opt_timestamp("EndTimestamp")?;
    let (org, _, side) = visible(s, call, "organizations:TerminateResponsibilityTransfer", id)?;
    let now = s.clock.now_secs();
    let mut txn = st(s.store.write())?;
    same_org(&*txn, call, &org)?;
    let mut t = reload(&*txn, id)?;
    match t.status(now) {
        "ACCEPTED" => {}
        "WITHDRAWN" => {
            return Err(err(
                "ResponsibilityTransferAlreadyInStatusException",
                "The responsibility transfer is already in the status that you specified.",
            ))
        }
        _ => {
            return Err(err(
                "InvalidResponsibilityTransferTransitionException",
                "The responsibility transfer can't transition to the requested state because it's not in a valid state for this operation.",
            ))
        }
    }
    t.end = Some(check_end(end, t.start, now)?);
    t.status = "WITHDRAWN".into();
    save(txn.as_mut(), &t)?;
    st(txn.commit())?;
    Ok(json!({"ResponsibilityTransfer": t.json(side, now)}))
}

/// The two lists: the caller's organization's transfers on `side`, invitations included, by id.
fn list(s: &Services, call: &Call, i: In, action: &str, side: Side, only: Option<&str>) -> Result<Value, AwsError> {
    check_type(i)?;
    let page = i.page()?;
    let org = org_for(s, call)?;
    let grant = authorize(s, call, action, "*", vec![])?;
    require_management(call, &org, grant)?;
    let now = s.clock.now_secs();
    let r = st(s.store.read())?;
    let mut mine: Vec<Transfer> = all(&*r)?
        .into_iter()
        .filter(|t| t.side(&org.management_account) == Some(side) && only.is_none_or(|id| t.id == id))
        .collect();
    if only.is_some() && mine.is_empty() {
        return Err(not_found());
    }
    mine.sort_by(|a, b| a.id.cmp(&b.id));
    let (items, next) = page.apply(mine, |t| t.id.clone());
    let list: Vec<Value> = items.iter().map(|t| t.json(side, now)).collect();
    Ok(with_token(json!({"ResponsibilityTransfers": list}), next))
}

/// `ListInboundResponsibilityTransfers`: those in which the caller's account manages another
/// organization's responsibility (`Id` narrows to one).
pub(super) fn list_inbound(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    let only = i.opt_str("Id")?;
    if let Some(id) = only {
        check_id(id)?;
    }
    list(s, call, i, "organizations:ListInboundResponsibilityTransfers", Side::Inbound, only)
}

/// `ListOutboundResponsibilityTransfers`: those in which another account manages the caller's
/// organization's responsibility.
pub(super) fn list_outbound(s: &Services, call: &Call, i: In) -> Result<Value, AwsError> {
    list(s, call, i, "organizations:ListOutboundResponsibilityTransfers", Side::Outbound, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_in_utc() {
        // 2026-12-07T02:50:00Z
        let now = 1_796_611_800;
        let dec = month_index(now);
        assert_eq!(dec, 2026 * 12 + 11);
        assert_eq!(month_start(dec), 1_796_083_200); // 2026-12-01T00:00:00Z
        assert_eq!(month_end(dec), 1_798_761_599); // 2026-12-31T23:59:59Z
        assert_eq!(month_start(dec + 1), 1_798_761_600); // 2027-01-01
        assert_eq!(month_index(month_start(2024 * 12 + 1) + 28 * 86_400), 2024 * 12 + 1); // 2024-02-29
        assert_eq!(month_index(0), 1970 * 12);
        assert_eq!(month_index(-1), 1969 * 12 + 11);
    }

    fn reason<T>(r: Result<T, AwsError>) -> String {
        r.err().and_then(|e| e.reason).unwrap_or_default()
    }

    #[test]
    fn start_and_end_dates() {
        let now = 1_796_611_800;
        let dec = month_index(now);
        assert!(check_start(month_start(dec), now).is_ok());
        assert!(check_start(month_start(dec + 12), now).is_ok());
        assert_eq!(reason(check_start(month_start(dec) + 1, now)), "START_DATE_NOT_BEGINNING_OF_MONTH");
        assert_eq!(reason(check_start(month_start(dec - 1), now)), "START_DATE_TOO_EARLY");
        assert_eq!(reason(check_start(month_start(dec + 13), now)), "START_DATE_TOO_LATE");
        assert_eq!(check_end(None, month_start(dec), now).ok(), Some(month_end(dec)));
        assert_eq!(check_end(None, month_start(dec + 2), now).ok(), Some(month_end(dec + 2)));
        assert_eq!(check_end(Some(month_end(dec + 3)), month_start(dec), now).ok(), Some(month_end(dec + 3)));
        assert_eq!(reason(check_end(Some(month_end(dec) - 1), month_start(dec), now)), "END_DATE_NOT_END_OF_MONTH");
        assert_eq!(reason(check_end(Some(month_end(dec - 1)), month_start(dec), now)), "END_DATE_TOO_EARLY");
        assert_eq!(reason(check_end(Some(month_end(dec + 1)), month_start(dec + 2), now)), "END_DATE_TOO_EARLY");
        assert_eq!(reason(check_end(Some(month_end(dec + 13)), month_start(dec), now)), "END_DATE_TOO_LATE");
    }
}
