//! IAM users: CreateUser, GetUser, UpdateUser, DeleteUser, ListUsers.

use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    already_exists, arn_or_default, boundary_context, check_boundary, check_tag_rules, delete_conflict, entity_arn,
    entity_context, index_use, load_named, move_unique_id, new_unique_id, parse_tags, quota, quota_exceeded,
    reindex_entity, release_unique_id, request_tags_context, require, save_entity, scan_page, unindex_use, write_user,
    Cx, Entity, StoreResultExt,
};
use crate::caller::CallerKind;
use crate::clock;
use crate::ids::IdKind;
use crate::model::{self, table, Account, EntityKind, PolicyUsage, User};
use crate::validate::{self, Checks};

/// `CreateUser`.
pub(crate) fn create_user(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "UserName", 64);
    let path = cx.path_opt(&mut c, "Path").unwrap_or_else(|| "/".into());
    let boundary = cx.arn_opt(&mut c, "PermissionsBoundary");
    let tags = parse_tags(&mut c, cx.params, "Tags");
    c.finish()?;
    check_tag_rules(&tags, true)?;
    let account = cx.account();
    let arn = entity_arn(account, "user", &path, &name);
    let mut ctx = request_tags_context(&tags);
    ctx.extend(boundary_context(boundary.as_deref()));
    cx.authorize("iam:CreateUser", &arn, ctx)?;
    if !tags.is_empty() {
        cx.authorize("iam:TagUser", &arn, request_tags_context(&tags))?;
    }
    let user = cx.write(|txn| {
        let key = model::name_key(account, &name);
        if txn.get(table::USER, &key).st()?.is_some() {
            return Err(already_exists(format!("User with name {name} already exists.")));
        }
        if let Some(b) = &boundary {
            check_boundary(txn, account, b)?;
        }
        if txn.count(table::USER, &format!("{account}/")).st()? >= quota::USERS_PER_ACCOUNT {
            return Err(quota_exceeded("UsersPerAccount", quota::USERS_PER_ACCOUNT));
        }
        let user = User {
            account: account.to_string(),
            name: name.clone(),
            path: path.clone(),
            user_id: new_unique_id(txn, IdKind::User, table::USER, &key)?,
            created: cx.now(),
            tags: tags.clone(),
            permissions_boundary: boundary.clone(),
            inline_policies: Vec::new(),
            attached_policies: Vec::new(),
            groups: Vec::new(),
            login_profile: None,
            password_last_used: None,
        };
        save_entity(txn, account, &user)?;
        if let Some(b) = &boundary {
            index_use(txn, account, b, PolicyUsage::PermissionsBoundary, &user)?;
        }
        Ok(user)
    })?;
    let mut w = XmlWriter::fragment();
    w.open("User", None);
    write_user(&mut w, &user, true);
    w.close();
    Ok(cx.respond(Some(w.finish())))
}

/// `GetUser`: the named user, or without `UserName` the caller's own user (root: the
/// account's root user, as AWS answers).
pub(crate) fn get_user(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name_opt(&mut c, "UserName", 128);
    c.finish()?;
    let account = cx.account();
    let name = match (name, &cx.call.caller.kind) {
        (Some(n), _) => n,
        (None, CallerKind::User { name, .. }) => name.clone(),
        (None, CallerKind::Root) => return get_root_user(cx),
        (None, _) => {
            return Err(AwsError::validation("Must specify userName when calling with non-User credentials"));
        }
    };
    let read = cx.read()?;
    let user: Option<User> = load_named(read.as_ref(), table::USER, account, &name)?;
    drop(read);
    cx.authorize("iam:GetUser", &arn_or_default(account, user.as_ref(), &name), entity_context(user.as_ref()))?;
    let user = user.ok_or_else(|| super::entities::no_such(EntityKind::User, &name))?;
    let mut w = XmlWriter::fragment();
    w.open("User", None);
    write_user(&mut w, &user, true);
    w.close();
    Ok(cx.respond(Some(w.finish())))
}

fn get_root_user(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let account = cx.account();
    let root_arn = format!("arn:aws:iam::{account}:root");
    cx.authorize("iam:GetUser", &root_arn, Vec::new())?;
    let read = cx.read()?;
    let acct: Option<Account> = model::load(read.as_ref(), table::ACCOUNT, account).st()?;
    let created = acct.map(|a| a.created).unwrap_or_default();
    let mut w = XmlWriter::fragment();
    w.open("User", None)
        .elem("UserId", account)
        .elem("Arn", &root_arn)
        .elem("CreateDate", &clock::iso8601(created))
        .close();
    Ok(cx.respond(Some(w.finish())))
}

/// `UpdateUser`: new name and/or path. Everything that names the user follows: group
/// memberships, the policy attachment index, access keys, the unique-id index.
pub(crate) fn update_user(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "UserName", 128);
    let new_path = cx.path_opt(&mut c, "NewPath");
    let new_name = cx.name_opt(&mut c, "NewUserName", 64);
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let user: Option<User> = load_named(read.as_ref(), table::USER, account, &name)?;
    drop(read);
    cx.authorize("iam:UpdateUser", &arn_or_default(account, user.as_ref(), &name), entity_context(user.as_ref()))?;
    if let Some(u) = &user {
        let target =
            entity_arn(account, "user", new_path.as_deref().unwrap_or(&u.path), new_name.as_deref().unwrap_or(&u.name));
        if target != u.arn() {
            cx.authorize("iam:UpdateUser", &target, Vec::new())?;
        }
    }
    cx.write(|txn| {
        let old: User = require(txn, account, &name)?;
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
            if txn.get(table::USER, &new_key).st()?.is_some() {
                return Err(already_exists(format!("User with name {} already exists.", new.name)));
            }
            txn.delete(table::USER, &old_key).st()?;
            move_unique_id(txn, &new.user_id, table::USER, &new_key)?;
        }
        save_entity(txn, account, &new)?;
        if old.name != new.name || old.path != new.path {
            reindex_entity(txn, account, &old, &new)?;
        }
        if old.name != new.name {
            for g in &old.groups {
                txn.delete(table::GROUP_MEMBER, &member_key(account, g, &old.name)).st()?;
                model::save(txn, table::GROUP_MEMBER, &member_key(account, g, &new.name), &new.name).st()?;
            }
            // Access keys, MFA devices and password history follow the new name.
            super::credentials::rename_user_credentials(txn, account, &old.name, &new.name).st()?;
        }
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// Key of a group membership row.
pub(crate) fn member_key(account: &str, group: &str, user: &str) -> String {
    format!("{account}/{}/{}", group.to_ascii_lowercase(), user.to_ascii_lowercase())
}

/// `DeleteUser`: refused while anything is attached to the user, as AWS refuses it.
pub(crate) fn delete_user(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "UserName", 128);
    c.finish()?;
    let account = cx.account();
    let read = cx.read()?;
    let user: Option<User> = load_named(read.as_ref(), table::USER, account, &name)?;
    drop(read);
    cx.authorize("iam:DeleteUser", &arn_or_default(account, user.as_ref(), &name), entity_context(user.as_ref()))?;
    cx.write(|txn| {
        let user: User = require(txn, account, &name)?;
        if user.login_profile.is_some() {
            return Err(delete_conflict("Cannot delete entity, must delete login profile first."));
        }
        // Access keys and MFA devices (the login profile is checked above).
        if let Some(message) = super::credentials::user_delete_conflict(txn, account, &user.name).st()? {
            return Err(delete_conflict(message));
        }
        if !user.inline_policies.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must delete policies first."));
        }
        if !user.attached_policies.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must detach all policies first."));
        }
        if !user.groups.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must remove users from group first."));
        }
        if let Some(b) = user.boundary() {
            unindex_use(txn, account, b, PolicyUsage::PermissionsBoundary, &user)?;
        }
        txn.delete(table::USER, &model::name_key(account, &user.name)).st()?;
        release_unique_id(txn, &user.user_id)?;
        Ok(())
    })?;
    Ok(cx.respond(None))
}

/// `ListUsers` (without tags and boundaries, as AWS lists them).
pub(crate) fn list_users(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let prefix = cx.path_prefix_opt(&mut c);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    cx.authorize("iam:ListUsers", &entity_arn(account, "user", prefix.as_deref().unwrap_or("/"), ""), Vec::new())?;
    let read = cx.read()?;
    let (users, marker) = scan_page::<User>(read.as_ref(), table::USER, &format!("{account}/"), &page, |u| {
        prefix.as_deref().is_none_or(|p| u.path.starts_with(p))
    })?;
    let mut w = XmlWriter::fragment();
    w.open("Users", None);
    for u in &users {
        w.open("member", None);
        write_user(&mut w, u, false);
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    Ok(cx.respond(Some(w.finish())))
}
