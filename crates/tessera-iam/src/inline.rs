//! Inline policies of users, groups and roles: Put/Get/Delete/List{User,Group,Role}Policy.

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    arn_or_default, entity_context, limit_exceeded, load_named, no_such, no_such_entity, page_by_index, policy_size,
    quota, require, save_entity, url_encode, Cx, Entity,
};
use crate::authz::{validate_policy_document, PolicyDocKind};
use crate::model::EntityKind;
use crate::validate::{self, Checks};

/// Longest entity name the inline-policy operations accept for `E`.
fn name_max<E: Entity>() -> usize {
    match E::KIND {
        EntityKind::Role => 64,
        EntityKind::User | EntityKind::Group => 128,
    }
}

/// The summed inline policy quota of `E`.
pub fn inline_quota(kind: EntityKind) -> usize {
    match kind {
        EntityKind::User => quota::USER_INLINE_BYTES,
        EntityKind::Group => quota::GROUP_INLINE_BYTES,
        EntityKind::Role => quota::ROLE_INLINE_BYTES,
    }
}

fn doc_kind(kind: EntityKind) -> PolicyDocKind {
    match kind {
        EntityKind::User => PolicyDocKind::InlineUser,
        EntityKind::Group => PolicyDocKind::InlineGroup,
        EntityKind::Role => PolicyDocKind::InlineRole,
    }
}

fn no_such_policy<E: Entity>(policy: &str) -> AwsError {
    no_such_entity(format!("The {} policy with name {policy} cannot be found.", E::KIND.word()))
}

/// The `UserName` / `GroupName` / `RoleName` parameter.
fn entity_name<E: Entity>(cx: &Cx<'_>, c: &mut Checks) -> String {
    cx.name(c, &format!("{}Name", E::OP_WORD), name_max::<E>())
}

fn load_and_authorize<E: Entity>(cx: &Cx<'_>, name: &str, action: &str) -> Result<Option<E>, AwsError> {
    let account = cx.account();
    let read = cx.read()?;
    let e: Option<E> = load_named(read.as_ref(), E::TABLE, account, name)?;
    drop(read);
    cx.authorize(action, &arn_or_default(account, e.as_ref(), name), entity_context(e.as_ref()))?;
    Ok(e)
}

/// `Put{User,Group,Role}Policy`: add or replace an inline policy; the summed size of the
/// entity's inline policies stays within its quota.
pub(crate) fn put<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = entity_name::<E>(cx, &mut c);
    let policy_name = cx.name(&mut c, "PolicyName", 128);
    let doc = cx.document(&mut c, "PolicyDocument");
    c.finish()?;
    let account = cx.account();
    let e: Option<E> = load_and_authorize(cx, &name, &format!("iam:Put{}Policy", E::OP_WORD))?;
    if e.is_none() {
        return Err(no_such(E::KIND, &name));
    }
    validate_policy_document(&doc, doc_kind(E::KIND), &name)?;
    cx.write(|txn| {
        let mut e: E = require(txn, account, &name)?;
        let others: usize = e
            .inline_policies()
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case(&policy_name))
            .map(|(_, d)| policy_size(d))
            .sum();
        let limit = inline_quota(E::KIND);
        if others + policy_size(&doc) > limit {
            return Err(limit_exceeded(format!(
                "Maximum policy size of {limit} bytes exceeded for {} {}",
                E::KIND.word(),
                e.name()
            )));
        }
        let policies = e.inline_policies_mut();
        match policies.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(&policy_name)) {
            Some(p) => *p = (policy_name.clone(), doc.clone()),
            None => policies.push((policy_name.clone(), doc.clone())),
        }
        save_entity(txn, account, &e)
    })?;
    Ok(cx.respond(None))
}

/// `Get{User,Group,Role}Policy`: the document URL-encoded, as AWS returns it.
pub(crate) fn get<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = entity_name::<E>(cx, &mut c);
    let policy_name = cx.name(&mut c, "PolicyName", 128);
    c.finish()?;
    let e: E = load_and_authorize(cx, &name, &format!("iam:Get{}Policy", E::OP_WORD))?
        .ok_or_else(|| no_such(E::KIND, &name))?;
    let (pname, doc) = e
        .inline_policies()
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(&policy_name))
        .ok_or_else(|| no_such_policy::<E>(&policy_name))?;
    let mut w = XmlWriter::fragment();
    w.elem(&format!("{}Name", E::OP_WORD), e.name()).elem("PolicyName", pname).elem("PolicyDocument", &url_encode(doc));
    Ok(cx.respond(Some(w.finish())))
}

/// `Delete{User,Group,Role}Policy`.
pub(crate) fn delete<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = entity_name::<E>(cx, &mut c);
    let policy_name = cx.name(&mut c, "PolicyName", 128);
    c.finish()?;
    let account = cx.account();
    load_and_authorize::<E>(cx, &name, &format!("iam:Delete{}Policy", E::OP_WORD))?;
    cx.write(|txn| {
        let mut e: E = require(txn, account, &name)?;
        let policies = e.inline_policies_mut();
        let i = policies
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&policy_name))
            .ok_or_else(|| no_such_policy::<E>(&policy_name))?;
        policies.remove(i);
        save_entity(txn, account, &e)
    })?;
    Ok(cx.respond(None))
}

/// `List{User,Group,Role}Policies`: inline policy names, sorted.
pub(crate) fn list<E: Entity>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = entity_name::<E>(cx, &mut c);
    c.finish()?;
    let page = cx.page()?;
    let e: E = load_and_authorize(cx, &name, &format!("iam:List{}Policies", E::OP_WORD))?
        .ok_or_else(|| no_such(E::KIND, &name))?;
    let mut names: Vec<String> = e.inline_policies().iter().map(|(n, _)| n.clone()).collect();
    names.sort_by_key(|n| n.to_ascii_lowercase());
    let (names, marker) = page_by_index(&page, names);
    let mut w = XmlWriter::fragment();
    w.open("PolicyNames", None);
    for n in &names {
        w.elem("member", n);
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}
