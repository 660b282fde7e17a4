//! `GetHumanReadableSummary` and `ListDelegationRequests` of delegation requests.
//!
//! AWS writes the summary with a large language model; Tessera answers a deterministic
//! plain-language summary built from the request's permission policy (each statement's effect,
//! actions, resources and whether it has conditions) and its session duration, in English
//! (`en*` locales; any other locale is `NOT_SUPPORTED`). The read rules are
//! GetDelegationRequest's.

use std::cell::RefCell;

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::super::entities::{invalid_input, scan_page, Cx, StoreResultExt};
use super::{
    authorized, index, parse_request_arn, request_arn, write_request, DelegationRequest, ACCOUNT_INDEX, TABLE,
};
use crate::model;
use crate::validate::Checks;

/// The plain-language summary of a request's permissions (Tessera's deterministic stand-in for
/// AWS's generated summary).
pub fn summarize(r: &DelegationRequest) -> String {
    let mut out = format!(
        "Delegation request {} from account {} asks for temporary access for {} (session of {} seconds).\n",
        r.id,
        r.requestor_account,
        duration_words(r.session_duration),
        r.session_duration
    );
    let doc: serde_json::Value = serde_json::from_str(&r.permission_policy).unwrap_or_default();
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        v @ serde_json::Value::Object(_) => vec![v.clone()],
        _ => Vec::new(),
    };
    let words = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "),
        _ => "(none)".to_string(),
    };
    for s in statements {
        let effect = if s["Effect"].as_str() == Some("Deny") { "Denies" } else { "Allows" };
        let actions = if s.get("NotAction").is_some() {
            format!("every action except {}", words(&s["NotAction"]))
        } else {
            words(&s["Action"])
        };
        let resources = if s.get("NotResource").is_some() {
            format!("every resource except {}", words(&s["NotResource"]))
        } else {
            words(&s["Resource"])
        };
        let condition = if s.get("Condition").is_some() { " when its conditions are met" } else { "" };
        out.push_str(&format!("- {effect} {actions} on {resources}{condition}.\n"));
    }
    out
}

/// A duration in hours and minutes.
fn duration_words(secs: i64) -> String {
    let unit = |n: i64, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    match (secs / 3600, secs % 3600 / 60) {
        (0, m) => unit(m, "minute"),
        (h, 0) => unit(h, "hour"),
        (h, m) => format!("{} {}", unit(h, "hour"), unit(m, "minute")),
    }
}

/// `GetHumanReadableSummary` for a `delegation-request` ARN, with GetDelegationRequest's read
/// rules.
pub(crate) fn summary(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let arn = cx.arn(&mut c, "EntityArn");
    let locale = cx.params.get("Locale");
    c.length_opt("locale", locale, 2, 12);
    c.finish()?;
    let id = parse_request_arn(&arn)
        .ok_or_else(|| invalid_input(format!("Entity {arn} is not supported: only delegation-request ARNs are.")))?;
    let r = authorized(cx, "iam:GetHumanReadableSummary", id)?;
    let locale = locale.unwrap_or("en-US");
    let mut w = XmlWriter::fragment();
    if locale.to_ascii_lowercase().starts_with("en") {
        w.elem("SummaryContent", &summarize(&r)).elem("Locale", locale).elem("SummaryState", "AVAILABLE");
    } else {
        w.elem("SummaryContent", "").elem("Locale", locale).elem("SummaryState", "NOT_SUPPORTED");
    }
    Ok(cx.respond(Some(w.finish())))
}

/// The row of [`ACCOUNT_INDEX`] saying that every request is in it (account ids are digits, so
/// no account's scan reads it).
const INDEX_COMPLETE: &str = "!complete";

/// Put the requests stored before [`ACCOUNT_INDEX`] existed into it, once per store (one read
/// of the marker row afterwards).
fn ensure_index(cx: &Cx<'_>) -> Result<(), AwsError> {
    if cx.read()?.get(ACCOUNT_INDEX, INDEX_COMPLETE).st()?.is_some() {
        return Ok(());
    }
    cx.write(|txn| {
        if txn.get(ACCOUNT_INDEX, INDEX_COMPLETE).st()?.is_some() {
            return Ok(());
        }
        let rows = txn.scan(TABLE, "", None, usize::MAX).st()?;
        for (_, r) in model::decode_rows::<DelegationRequest>(TABLE, rows).st()? {
            index(txn, &r.requestor_account, &r)?;
            match (&r.owner_account, &r.owner_id) {
                (Some(owner), Some(_)) if *owner != r.requestor_account => index(txn, owner, &r)?,
                _ => {}
            }
        }
        txn.put(ACCOUNT_INDEX, INDEX_COMPLETE, b"true").st()
    })
}

/// `ListDelegationRequests`: the requests the caller's account made, and those it owns (a
/// request associated with no owner is not listed), oldest first. Reads the caller's account's
/// rows of [`ACCOUNT_INDEX`] from the marker on, and the requests they name, until the page is
/// full.
pub(crate) fn list(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let owner = cx.params.get("OwnerId");
    c.length_opt("ownerId", owner, 20, 2048);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    cx.authorize("iam:ListDelegationRequests", &request_arn(account, "*"), Vec::new())?;
    ensure_index(cx)?;
    let read = cx.read()?;
    // The requests `keep` accepted, in index order (one more than the page, at most).
    let found: RefCell<Vec<DelegationRequest>> = RefCell::new(Vec::new());
    let failure: RefCell<Option<AwsError>> = RefCell::new(None);
    let keep = |id: &String| match model::load::<DelegationRequest>(read.as_ref(), TABLE, id).st() {
        Ok(Some(r)) if owner.is_none_or(|o| r.owner_id.as_deref() == Some(o)) => {
            found.borrow_mut().push(r);
            true
        }
        Ok(_) => false,
        Err(e) => {
            failure.borrow_mut().get_or_insert(e);
            false
        }
    };
    let (ids, next) = scan_page::<String>(read.as_ref(), ACCOUNT_INDEX, &format!("{account}/"), &page, keep)?;
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    let mut items = found.into_inner();
    items.truncate(ids.len());
    let now = cx.now();
    let mut w = XmlWriter::fragment();
    w.open("DelegationRequests", None);
    for r in &items {
        w.open("member", None);
        write_request(&mut w, r, now);
        w.close();
    }
    w.close();
    w.elem("isTruncated", if next.is_some() { "true" } else { "false" }).opt("Marker", next.as_deref());
    Ok(cx.respond(Some(w.finish())))
}
