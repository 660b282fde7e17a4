//! IAM groups and membership: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups,
//! AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser.

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    already_exists, arn_or_default, delete_conflict, entity_arn, entity_context, load_named, move_unique_id,
    new_unique_id, page_by_index, quota, quota_exceeded, reindex_entity, release_unique_id, require, save_entity,
    scan_page, write_group, write_user, Cx, StoreResultExt,
};
use super::users::member_key;
use crate::ids::IdKind;
use crate::model::{self, table, Group, User};
use crate::validate::{self, Checks};

/// `CreateGroup`.
pub(crate) fn create_group(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "GroupName", 128);
    let path = cx.path_opt(&mut c, "Path").unwrap_or_else(|| "/".into());
    c.finish()?;
    let account = cx.account();
    cx.authorize("iam:CreateGroup", &entity_arn(account, "group", &path, &name), Vec::new())?;
    let group = cx.write(|txn| {
        let key = model::name_key(account, &name);
        if txn.get(table::GROUP, &key).st()?.is_some() {
            return Err(already_exists(format!("Group with name {name} already exists.")));
        }
        if txn.count(table::GROUP, &format!("{account}/")).st()? >= quota::GROUPS_PER_ACCOUNT {
            return Err(quota_exceeded("GroupsPerAccount", quota::GROUPS_PER_ACCOUNT));
        }
        let group = Group {
            account: account.to_string(),
            name: name.clone(),
            path: path.clone(),
            group_id: new_unique_id(txn, IdKind::Group, table::GROUP, &key)?,
            created: cx.now(),
            inline_policies: Vec::new(),
            attached_policies: Vec::new(),
        };
        save_entity(txn, account, &group)?;
        Ok(group)
    })?;
    let mut w = XmlWriter::fragment();
    w.open("Group", None);
    write_group(&mut w, &group);
    w.close();
    Ok(cx.respond(Some(w.finish())))
}

/// The names of the users in `group`.
pub(crate) fn members(
    r: &(impl tessera_store::ReadTxn + ?Sized),
    account: &str,
    group: &str,
) -> Result<Vec<String>, AwsError> {
    let prefix = format!("{account}/{}/", group.to_ascii_lowercase());
    let rows = r.scan(table::GROUP_MEMBER, &prefix, None, usize::MAX).st()?;
    Ok(model::decode_rows::<String>(table::GROUP_MEMBER, rows).st()?.into_iter().map(|(_, n)| n).collect())
}

/// `GetGroup`: the group and its users, paginated over the users.
pub(crate) fn get_group(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "GroupName", 128);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    let read = cx.read()?;
    let group: Option<Group> = load_named(read.as_ref(), table::GROUP, account, &name)?;
    drop(read);
    cx.authorize("iam:GetGroup", &arn_or_default(account, group.as_ref(), &name), Vec::new())?;
    let read = cx.read()?;
    let group: Group = require(read.as_ref(), account, &name)?;
    let prefix = format!("{account}/{}/", group.name.to_ascii_lowercase());
    let (names, marker) = scan_page::<String>(read.as_ref(), table::GROUP_MEMBER, &prefix, &page, |_| true)?;
    let mut w = XmlWriter::fragment();
    w.open("Group", None);
    write_group(&mut w, &group);
    w.close();
    w.open("Users", None);
    for n in names {
        if let Some(u) = load_named::<User>(read.as_ref(), table::USER, account, &n)? {
            w.open("member", None);
            write_user(&mut w, &u, false);
            w.close();
        }
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// `UpdateGroup`: new name and/or path; memberships and attachments follow.
pub(crate) fn update_group(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "GroupName", 128);
    let new_path = cx.path_opt(&mut c, "NewPath");
    let new_name = cx.name_opt(&mut c, "NewGroupName", 128);
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let group: Option<Group> = load_named(read.as_ref(), table::GROUP, account, &name)?;
    drop(read);
    cx.authorize("iam:UpdateGroup", &arn_or_default(account, group.as_ref(), &name), Vec::new())?;
    if let Some(g) = &group {
        let target = entity_arn(
            account,
            "group",
            new_path.as_deref().unwrap_or(&g.path),
            new_name.as_deref().unwrap_or(&g.name),
        );
        if target != g.arn() {
            cx.authorize("iam:UpdateGroup", &target, Vec::new())?;
        }
    }
    cx.write(|txn| {
        let old: Group = require(txn, account, &name)?;
        let mut new = old.clone();
        if let Some(p) = &new_path {
            new.path = p.clone();
        }
        if let Some(n) = &new_name {
            new.name = n.clone();
        }
        let old_key = model::name_key(account, &old.name);
        let new_key = model::name_key(account, &new.name);
        if new_key != old_key {
            if txn.get(table::GROUP, &new_key).st()?.is_some() {
                return Err(already_exists(format!("Group with name {} already exists.", new.name)));
            }
            txn.delete(table::GROUP, &old_key).st()?;
            move_unique_id(txn, &new.group_id, table::GROUP, &new_key)?;
        }
        save_entity(txn, account, &new)?;
        if old.name != new.name || old.path != new.path {
            reindex_entity(txn, account, &old, &new)?;
        }
        if old.name != new.name {
            for user_name in members(txn, account, &old.name)? {
                txn.delete(table::GROUP_MEMBER, &member_key(account, &old.name, &user_name)).st()?;
                model::save(txn, table::GROUP_MEMBER, &member_key(account, &new.name, &user_name), &user_name).st()?;
                if let Some(mut u) = load_named::<User>(txn, table::USER, account, &user_name)? {
                    for g in u.groups.iter_mut() {
                        if g.eq_ignore_ascii_case(&old.name) {
                            *g = new.name.clone();
                        }
                    }
                    save_entity(txn, account, &u)?;
                }
            }
        }
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// `DeleteGroup`: refused while the group has users or policies.
pub(crate) fn delete_group(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "GroupName", 128);
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let group: Option<Group> = load_named(read.as_ref(), table::GROUP, account, &name)?;
    drop(read);
    cx.authorize("iam:DeleteGroup", &arn_or_default(account, group.as_ref(), &name), Vec::new())?;
    cx.write(|txn| {
        let group: Group = require(txn, account, &name)?;
        if !members(txn, account, &group.name)?.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must remove users from group first."));
        }
        if !group.inline_policies.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must delete policies first."));
        }
        if !group.attached_policies.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        txn.delete(table::GROUP, &model::name_key(account, &group.name)).st()?;
        release_unique_id(txn, &group.group_id)?;
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// `ListGroups`.
pub(crate) fn list_groups(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let prefix = cx.path_prefix_opt(&mut c);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    cx.authorize("iam:ListGroups", &entity_arn(account, "group", prefix.as_deref().unwrap_or("/"), ""), Vec::new())?;
    let read = cx.read()?;
    let (groups, marker) = scan_page::<Group>(read.as_ref(), table::GROUP, &format!("{account}/"), &page, |g| {
        prefix.as_deref().is_none_or(|p| g.path.starts_with(p))
    })?;
    Ok(cx.respond(Some(groups_xml(&groups, marker.as_deref()))))
}

fn groups_xml(groups: &[Group], marker: Option<&str>) -> String {
    let mut w = XmlWriter::fragment();
    w.open("Groups", None);
    for g in groups {
        w.open("member", None);
        write_group(&mut w, g);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker);
    w.finish()
}

/// `AddUserToGroup` (idempotent; at most 10 groups per user).
pub(crate) fn add_user_to_group(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    membership(cx, true)
}

/// `RemoveUserFromGroup`.
pub(crate) fn remove_user_from_group(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    membership(cx, false)
}

fn membership(cx: &Cx<'_>, add: bool) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let group_name = cx.name(&mut c, "GroupName", 128);
    let user_name = cx.name(&mut c, "UserName", 128);
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let group: Option<Group> = load_named(read.as_ref(), table::GROUP, account, &group_name)?;
    drop(read);
    let action = if add { "iam:AddUserToGroup" } else { "iam:RemoveUserFromGroup" };
    cx.authorize(action, &arn_or_default(account, group.as_ref(), &group_name), Vec::new())?;
    cx.write(|txn| {
        let group: Group = require(txn, account, &group_name)?;
        let mut user: User = require(txn, account, &user_name)?;
        let key = member_key(account, &group.name, &user.name);
        let member = user.groups.iter().position(|g| g.eq_ignore_ascii_case(&group.name));
        match (add, member) {
            (true, Some(_)) => return Ok(()),
            (true, None) => {
                if user.groups.len() >= quota::GROUPS_PER_USER {
                    return Err(quota_exceeded("GroupsPerUser", quota::GROUPS_PER_USER));
                }
                user.groups.push(group.name.clone());
                model::save(txn, table::GROUP_MEMBER, &key, &user.name).st()?;
            }
            (false, None) => {
                return Err(super::entities::no_such_entity(format!(
                    "The user with name {} cannot be found in group {}.",
                    user.name, group.name
                )));
            }
            (false, Some(i)) => {
                user.groups.remove(i);
                txn.delete(table::GROUP_MEMBER, &key).st()?;
            }
        }
        save_entity(txn, account, &user)?;
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// `ListGroupsForUser`.
pub(crate) fn list_groups_for_user(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "UserName", 128);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    let read = cx.read()?;
    let user: Option<User> = load_named(read.as_ref(), table::USER, account, &name)?;
    drop(read);
    cx.authorize(
        "iam:ListGroupsForUser",
        &arn_or_default(account, user.as_ref(), &name),
        entity_context(user.as_ref()),
    )?;
    let read = cx.read()?;
    let user: User = require(read.as_ref(), account, &name)?;
    let mut groups = Vec::new();
    for g in &user.groups {
        if let Some(g) = load_named::<Group>(read.as_ref(), table::GROUP, account, g)? {
            groups.push(g);
        }
    }
    groups.sort_by_key(|g| g.name.to_ascii_lowercase());
    let (groups, marker) = page_by_index(&page, groups);
    Ok(cx.respond(Some(groups_xml(&groups, marker.as_deref()))))
}
