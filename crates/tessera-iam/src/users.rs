//! IAM users: CreateUser, GetUser, UpdateUser, DeleteUser, ListUsers.

use tessera_store::WriteTxn;
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
use crate::model::{self, table, Account, EntityKind, PolicyUsage, Tag, User};
use crate::validate::{self, Checks};

/// What a new user is made of.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Permissions boundary ARN (already checked).
    pub permissions_boundary: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// Create a user inside a transaction: name uniqueness, the account's user quota, a unique id,
/// the boundary index. No authorization: for the IAM API after it authorized.
pub fn create_user_in_txn(txn: &mut dyn WriteTxn, account: &str, new: NewUser, now: i64) -> Result<User, AwsError> {
    create_user_with_quota(txn, account, new, now, Some(quota::USERS_PER_ACCOUNT))
}

/// [`create_user_in_txn`] with the account's user quota given, `None` for no quota: for bulk
/// loads past IAM's default quotas (the IAM scale benchmark's fill). The records are the same.
pub fn create_user_with_quota(
    txn: &mut dyn WriteTxn,
    account: &str,
    new: NewUser,
    now: i64,
    max_users: Option<u64>,
) -> Result<User, AwsError> {
    let key = model::name_key(account, &new.name);
    if txn.get(table::USER, &key).st()?.is_some() {
        return Err(already_exists(format!("User with name {} already exists.", new.name)));
    }
    if let Some(max) = max_users {
        if txn.count(table::USER, &format!("{account}/")).st()? >= max {
            return Err(quota_exceeded("UsersPerAccount", max));
        }
    }
    let user = User {
        account: account.to_string(),
        name: new.name,
        path: new.path,
        user_id: new_unique_id(txn, IdKind::User, table::USER, &key)?,
        created: now,
        tags: new.tags,
        permissions_boundary: new.permissions_boundary,
        inline_policies: Vec::new(),
        attached_policies: Vec::new(),
        groups: Vec::new(),
        login_profile: None,
        password_last_used: None,
    };
    save_entity(txn, account, &user)?;
    if let Some(b) = user.boundary() {
        index_use(txn, account, b, PolicyUsage::PermissionsBoundary, &user)?;
    }
    Ok(user)
}

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
        // A taken name is reported before a bad boundary (the helper checks the name again).
        if txn.get(table::USER, &model::name_key(account, &name)).st()?.is_some() {
            return Err(already_exists(format!("User with name {name} already exists.")));
        }
        if let Some(b) = &boundary {
            check_boundary(txn, account, b)?;
        }
        let new = NewUser {
            name: name.clone(),
            path: path.clone(),
            permissions_boundary: boundary.clone(),
            tags: tags.clone(),
        };
        create_user_in_txn(txn, account, new, cx.now())
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

#[cfg(test)]
mod tests {
    use super::super::credentials::test_support::*;
    use super::super::entities::attach_policy_in_txn;
    use super::super::roles::{create_role_with_quota, NewRole, DEFAULT_MAX_SESSION_DURATION};
    use super::*;
    use crate::Services;

    fn run(s: &Services, op: &str, p: &[(&str, &str)]) {
        let r = super::super::handle(s, &root_call(op, 1_700_000_000), &params(p));
        assert!(r.is_ok(), "{op}: {:?}", r.err());
    }

    /// A record as stored, without what differs between two entities (name, id).
    fn stored(s: &Services, tbl: &str, name: &str) -> serde_json::Value {
        let r = s.store.read().unwrap();
        let mut v: serde_json::Value = model::load(r.as_ref(), tbl, &model::name_key(ACCOUNT, name)).unwrap().unwrap();
        let obj = v.as_object_mut().unwrap();
        for k in ["name", "user_id", "role_id"] {
            obj.remove(k);
        }
        v
    }

    /// The attachment index rows of an entity, its name replaced by `*`.
    fn index_rows(s: &Services, name: &str) -> Vec<String> {
        let r = s.store.read().unwrap();
        let mut rows: Vec<String> = r
            .scan(table::POLICY_ATTACHMENT, "", None, 1000)
            .unwrap()
            .into_iter()
            .filter(|(k, _)| k.ends_with(&format!("\n{name}")))
            .map(|(k, v)| format!("{k} {}", String::from_utf8(v).unwrap()).replace(name, "*"))
            .collect();
        rows.sort();
        rows
    }

    /// The bulk path (no quota, used by the IAM scale benchmark's fill) stores what CreateUser,
    /// CreateRole and Attach{User,Role}Policy store.
    #[test]
    fn records_without_quota_are_those_of_the_api() {
        let s = services_at(1_700_000_000);
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let arns: Vec<String> = ["pa", "pb"].iter().map(|p| format!("arn:aws:iam::{ACCOUNT}:policy/{p}")).collect();
        for p in ["pa", "pb"] {
            run(&s, "CreatePolicy", &[("PolicyName", p), ("PolicyDocument", doc)]);
        }
        run(&s, "CreateUser", &[("UserName", "api")]);
        run(&s, "CreateRole", &[("RoleName", "api"), ("AssumeRolePolicyDocument", &trust)]);
        for arn in &arns {
            run(&s, "AttachUserPolicy", &[("UserName", "api"), ("PolicyArn", arn)]);
            run(&s, "AttachRolePolicy", &[("RoleName", "api"), ("PolicyArn", arn)]);
        }
        let mut txn = s.store.write().unwrap();
        let new = NewUser { name: "bulk".into(), path: "/".into(), permissions_boundary: None, tags: vec![] };
        let mut user = create_user_with_quota(txn.as_mut(), ACCOUNT, new, 1_700_000_000, None).unwrap();
        let new = NewRole {
            name: "bulk".into(),
            path: "/".into(),
            trust_policy: trust.clone(),
            description: None,
            max_session_duration: DEFAULT_MAX_SESSION_DURATION,
            permissions_boundary: None,
            tags: vec![],
        };
        let mut role = create_role_with_quota(txn.as_mut(), ACCOUNT, new, 1_700_000_000, None).unwrap();
        for arn in &arns {
            attach_policy_in_txn(txn.as_mut(), ACCOUNT, &mut user, arn).unwrap();
            attach_policy_in_txn(txn.as_mut(), ACCOUNT, &mut role, arn).unwrap();
        }
        txn.commit().unwrap();

        assert_eq!(stored(&s, table::USER, "bulk"), stored(&s, table::USER, "api"));
        assert_eq!(stored(&s, table::ROLE, "bulk"), stored(&s, table::ROLE, "api"));
        let api_rows = index_rows(&s, "api");
        assert_eq!(api_rows.len(), 4, "{api_rows:?}");
        let bulk_rows: Vec<String> = index_rows(&s, "bulk")
            .into_iter()
            .map(|r| r.replace(&user.user_id, "UID").replace(&role.role_id, "RID"))
            .collect();
        let api_user: User =
            load_named(s.store.read().unwrap().as_ref(), table::USER, ACCOUNT, "api").unwrap().unwrap();
        let api_role: model::Role =
            load_named(s.store.read().unwrap().as_ref(), table::ROLE, ACCOUNT, "api").unwrap().unwrap();
        let api_rows: Vec<String> = api_rows
            .into_iter()
            .map(|r| r.replace(&api_user.user_id, "UID").replace(&api_role.role_id, "RID"))
            .collect();
        assert_eq!(bulk_rows, api_rows);
        // Both ids are reserved in the unique-id index, pointing at their records.
        let r = s.store.read().unwrap();
        for (id, tbl) in [(&user.user_id, table::USER), (&role.role_id, table::ROLE)] {
            let v = r.get(table::UNIQUE_ID, id).unwrap().unwrap();
            assert_eq!(String::from_utf8(v).unwrap(), format!("{tbl}\n{ACCOUNT}/bulk"));
        }
    }
}
