//! Instance profiles: CreateInstanceProfile, GetInstanceProfile, DeleteInstanceProfile,
//! ListInstanceProfiles, AddRoleToInstanceProfile, RemoveRoleFromInstanceProfile,
//! ListInstanceProfilesForRole.

use tessera_store::ReadTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    already_exists, arn_or_default, check_tag_rules, delete_conflict, entity_arn, entity_context, load_named,
    new_unique_id, no_such, no_such_entity, parse_tags, quota, quota_exceeded, release_unique_id, request_tags_context,
    require, resource_tags_context, scan_page, write_role, write_tags, Cx, StoreResultExt,
};
use super::roles::role_profiles_prefix;
use crate::clock;
use crate::ids::IdKind;
use crate::model::{self, table, EntityKind, InstanceProfile, Role};
use crate::validate::{self, Checks};

/// `NoSuchEntity` for an instance profile.
pub fn no_such_profile(name: &str) -> AwsError {
    no_such_entity(format!("Instance Profile {name} cannot be found."))
}

fn profile_arn(account: &str, p: Option<&InstanceProfile>, name: &str) -> String {
    match p {
        Some(p) => p.arn(),
        None => entity_arn(account, "instance-profile", "/", name),
    }
}

/// Write the members of an `InstanceProfile` element, with its roles. `detail` adds tags.
pub fn write_instance_profile(
    w: &mut XmlWriter,
    r: &(impl ReadTxn + ?Sized),
    p: &InstanceProfile,
    detail: bool,
) -> Result<(), AwsError> {
    w.elem("Path", &p.path)
        .elem("InstanceProfileName", &p.name)
        .elem("InstanceProfileId", &p.instance_profile_id)
        .elem("Arn", &p.arn())
        .elem("CreateDate", &clock::iso8601(p.created));
    w.open("Roles", None);
    for name in &p.roles {
        if let Some(role) = load_named::<Role>(r, table::ROLE, &p.account, name)? {
            w.open("member", None);
            write_role(w, &role, false);
            w.close();
        }
    }
    w.close();
    if detail {
        write_tags(w, &p.tags);
    }
    Ok(())
}

fn profile_xml(r: &(impl ReadTxn + ?Sized), p: &InstanceProfile) -> Result<String, AwsError> {
    let mut w = XmlWriter::fragment();
    w.open("InstanceProfile", None);
    write_instance_profile(&mut w, r, p, true)?;
    w.close();
    Ok(w.finish())
}

fn load_profile(cx: &Cx<'_>, name: &str) -> Result<Option<InstanceProfile>, AwsError> {
    let read = cx.read()?;
    load_named(read.as_ref(), table::INSTANCE_PROFILE, cx.account(), name)
}

fn require_profile(r: &(impl ReadTxn + ?Sized), account: &str, name: &str) -> Result<InstanceProfile, AwsError> {
    load_named(r, table::INSTANCE_PROFILE, account, name)?.ok_or_else(|| no_such_profile(name))
}

fn profile_context(p: Option<&InstanceProfile>) -> Vec<(String, Vec<String>)> {
    p.map(|p| resource_tags_context(&p.tags)).unwrap_or_default()
}

/// `CreateInstanceProfile`.
pub(crate) fn create(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "InstanceProfileName", 128);
    let path = cx.path_opt(&mut c, "Path").unwrap_or_else(|| "/".into());
    let tags = parse_tags(&mut c, cx.params, "Tags");
    c.finish()?;
    check_tag_rules(&tags, false)?;
    let account = cx.account();
    let arn = entity_arn(account, "instance-profile", &path, &name);
    cx.authorize("iam:CreateInstanceProfile", &arn, request_tags_context(&tags))?;
    if !tags.is_empty() {
        cx.authorize("iam:TagInstanceProfile", &arn, request_tags_context(&tags))?;
    }
    let profile = cx.write(|txn| {
        let key = model::name_key(account, &name);
        if txn.get(table::INSTANCE_PROFILE, &key).st()?.is_some() {
            return Err(already_exists(format!("Instance Profile {name} already exists.")));
        }
        if txn.count(table::INSTANCE_PROFILE, &format!("{account}/")).st()? >= quota::INSTANCE_PROFILES_PER_ACCOUNT {
            return Err(quota_exceeded("InstanceProfilesPerAccount", quota::INSTANCE_PROFILES_PER_ACCOUNT));
        }
        let profile = InstanceProfile {
            account: account.to_string(),
            name: name.clone(),
            path: path.clone(),
            instance_profile_id: new_unique_id(txn, IdKind::InstanceProfile, table::INSTANCE_PROFILE, &key)?,
            created: cx.now(),
            roles: Vec::new(),
            tags: tags.clone(),
        };
        model::save(txn, table::INSTANCE_PROFILE, &key, &profile).st()?;
        Ok(profile)
    })?;
    let read = cx.read()?;
    Ok(cx.respond(Some(profile_xml(read.as_ref(), &profile)?)))
}

/// `GetInstanceProfile`.
pub(crate) fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "InstanceProfileName", 128);
    c.finish()?;
    let account = cx.account();
    let profile = load_profile(cx, &name)?;
    cx.authorize(
        "iam:GetInstanceProfile",
        &profile_arn(account, profile.as_ref(), &name),
        profile_context(profile.as_ref()),
    )?;
    let read = cx.read()?;
    let profile = require_profile(read.as_ref(), account, &name)?;
    Ok(cx.respond(Some(profile_xml(read.as_ref(), &profile)?)))
}

/// `DeleteInstanceProfile`: refused while it holds a role.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "InstanceProfileName", 128);
    c.finish()?;
    let account = cx.account();
    let profile = load_profile(cx, &name)?;
    cx.authorize(
        "iam:DeleteInstanceProfile",
        &profile_arn(account, profile.as_ref(), &name),
        profile_context(profile.as_ref()),
    )?;
    cx.write(|txn| {
        let profile = require_profile(txn, account, &name)?;
        if !profile.roles.is_empty() {
            return Err(delete_conflict("Cannot delete entity, must remove roles from instance profile first."));
        }
        txn.delete(table::INSTANCE_PROFILE, &model::name_key(account, &profile.name)).st()?;
        release_unique_id(txn, &profile.instance_profile_id)
    })?;
    Ok(cx.respond(None))
}

fn profiles_xml(
    r: &(impl ReadTxn + ?Sized),
    profiles: &[InstanceProfile],
    marker: Option<&str>,
) -> Result<String, AwsError> {
    let mut w = XmlWriter::fragment();
    w.open("InstanceProfiles", None);
    for p in profiles {
        w.open("member", None);
        write_instance_profile(&mut w, r, p, false)?;
        w.close();
    }
    w.close();
    validate::write_truncation(&mut w, marker);
    Ok(w.finish())
}

/// `ListInstanceProfiles`.
pub(crate) fn list(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let prefix = cx.path_prefix_opt(&mut c);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    cx.authorize(
        "iam:ListInstanceProfiles",
        &entity_arn(account, "instance-profile", prefix.as_deref().unwrap_or("/"), ""),
        Vec::new(),
    )?;
    let read = cx.read()?;
    let (profiles, marker) =
        scan_page::<InstanceProfile>(read.as_ref(), table::INSTANCE_PROFILE, &format!("{account}/"), &page, |p| {
            prefix.as_deref().is_none_or(|pre| p.path.starts_with(pre))
        })?;
    Ok(cx.respond(Some(profiles_xml(read.as_ref(), &profiles, marker.as_deref())?)))
}

fn role_member_key(account: &str, role: &str, profile: &str) -> String {
    format!("{}{}", role_profiles_prefix(account, role), profile.to_ascii_lowercase())
}

/// `AddRoleToInstanceProfile` (one role per profile; needs `iam:PassRole` on the role).
pub(crate) fn add_role(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    membership(cx, true)
}

/// `RemoveRoleFromInstanceProfile`.
pub(crate) fn remove_role(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    membership(cx, false)
}

fn membership(cx: &Cx<'_>, add: bool) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "InstanceProfileName", 128);
    let role_name = cx.name(&mut c, "RoleName", 64);
    c.finish()?;
    let account = cx.account();
    let profile = load_profile(cx, &name)?;
    let action = if add { "iam:AddRoleToInstanceProfile" } else { "iam:RemoveRoleFromInstanceProfile" };
    cx.authorize(action, &profile_arn(account, profile.as_ref(), &name), profile_context(profile.as_ref()))?;
    if add {
        let read = cx.read()?;
        let role: Option<Role> = load_named(read.as_ref(), table::ROLE, account, &role_name)?;
        drop(read);
        let mut ctx = entity_context(role.as_ref());
        ctx.push(("iam:PassedToService".into(), vec!["ec2.amazonaws.com".into()]));
        cx.authorize("iam:PassRole", &arn_or_default(account, role.as_ref(), &role_name), ctx)?;
    }
    cx.write(|txn| {
        let mut profile = require_profile(txn, account, &name)?;
        let role: Role = require(txn, account, &role_name)?;
        let pos = profile.roles.iter().position(|r| r.eq_ignore_ascii_case(&role.name));
        let key = role_member_key(account, &role.name, &profile.name);
        if add {
            if profile.roles.len() >= quota::ROLES_PER_INSTANCE_PROFILE {
                return Err(quota_exceeded("InstanceSessionsPerInstanceProfile", quota::ROLES_PER_INSTANCE_PROFILE));
            }
            profile.roles.push(role.name.clone());
            model::save(txn, table::ROLE_INSTANCE_PROFILE, &key, &profile.name).st()?;
        } else {
            let i = pos.ok_or_else(|| no_such(EntityKind::Role, &role.name))?;
            profile.roles.remove(i);
            txn.delete(table::ROLE_INSTANCE_PROFILE, &key).st()?;
        }
        model::save(txn, table::INSTANCE_PROFILE, &model::name_key(account, &profile.name), &profile).st()
    })?;
    Ok(cx.respond(None))
}

/// `ListInstanceProfilesForRole`.
pub(crate) fn list_for_role(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let role_name = cx.name(&mut c, "RoleName", 64);
    c.finish()?;
    let page = cx.page()?;
    let account = cx.account();
    let read = cx.read()?;
    let role: Option<Role> = load_named(read.as_ref(), table::ROLE, account, &role_name)?;
    drop(read);
    cx.authorize(
        "iam:ListInstanceProfilesForRole",
        &arn_or_default(account, role.as_ref(), &role_name),
        entity_context(role.as_ref()),
    )?;
    let read = cx.read()?;
    let role: Role = require(read.as_ref(), account, &role_name)?;
    let (names, marker) = scan_page::<String>(
        read.as_ref(),
        table::ROLE_INSTANCE_PROFILE,
        &role_profiles_prefix(account, &role.name),
        &page,
        |_| true,
    )?;
    let mut profiles = Vec::new();
    for n in names {
        if let Some(p) = load_named::<InstanceProfile>(read.as_ref(), table::INSTANCE_PROFILE, account, &n)? {
            profiles.push(p);
        }
    }
    Ok(cx.respond(Some(profiles_xml(read.as_ref(), &profiles, marker.as_deref())?)))
}
