//! Tags of users, roles, customer managed policies, instance profiles and server certificates:
//! Tag*/Untag*/List*Tags.
//!
//! Tag keys of users and roles are case-insensitive (a new `dept` replaces `Dept`); keys of
//! policies and instance profiles are case-sensitive, as the IAM User Guide describes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    check_tag_rules, entity_arn, load_named, merge_tags, no_such, page_by_index, parse_tag_keys, parse_tags,
    remove_tags, request_tags_context, resource_tags_context, Context, Cx, StoreResultExt,
};
use super::instance_profiles::no_such_profile;
use crate::model::{self, table, EntityKind, InstanceProfile, Role, Tag, User};
use crate::validate::{self, Checks};

/// A taggable named IAM resource.
pub trait Taggable: Serialize + DeserializeOwned {
    /// Its table.
    const TABLE: &'static str;
    /// The word in operation names (`User`, `Role`, `InstanceProfile`).
    const OP_WORD: &'static str;
    /// The word of its ARN (`user`, `role`, `instance-profile`).
    const ARN_WORD: &'static str;
    /// Longest name the tag operations accept.
    const NAME_MAX: usize;
    /// Whether tag keys are case-insensitive.
    const CASE_INSENSITIVE: bool;
    /// Name.
    fn name(&self) -> &str;
    /// ARN.
    fn arn(&self) -> String;
    /// Tags, to change.
    fn tags_mut(&mut self) -> &mut Vec<Tag>;
    /// `NoSuchEntity` for `name`.
    fn not_found(name: &str) -> AwsError;
}

impl Taggable for User {
    const TABLE: &'static str = table::USER;
    const OP_WORD: &'static str = "User";
    const ARN_WORD: &'static str = "user";
    const NAME_MAX: usize = 128;
    const CASE_INSENSITIVE: bool = true;
    fn name(&self) -> &str {
        &self.name
    }
    fn arn(&self) -> String {
        User::arn(self)
    }
    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
    fn not_found(name: &str) -> AwsError {
        no_such(EntityKind::User, name)
    }
}

impl Taggable for Role {
    const TABLE: &'static str = table::ROLE;
    const OP_WORD: &'static str = "Role";
    const ARN_WORD: &'static str = "role";
    const NAME_MAX: usize = 64;
    const CASE_INSENSITIVE: bool = true;
    fn name(&self) -> &str {
        &self.name
    }
    fn arn(&self) -> String {
        Role::arn(self)
    }
    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
    fn not_found(name: &str) -> AwsError {
        no_such(EntityKind::Role, name)
    }
}

impl Taggable for InstanceProfile {
    const TABLE: &'static str = table::INSTANCE_PROFILE;
    const OP_WORD: &'static str = "InstanceProfile";
    const ARN_WORD: &'static str = "instance-profile";
    const NAME_MAX: usize = 128;
    const CASE_INSENSITIVE: bool = false;
    fn name(&self) -> &str {
        &self.name
    }
    fn arn(&self) -> String {
        InstanceProfile::arn(self)
    }
    fn tags_mut(&mut self) -> &mut Vec<Tag> {
        &mut self.tags
    }
    fn not_found(name: &str) -> AwsError {
        no_such_profile(name)
    }
}

/// Load the resource, authorize `action` with `ctx` plus its resource tags.
fn authorized<T: Taggable>(cx: &Cx<'_>, name: &str, action: &str, mut ctx: Context) -> Result<Option<T>, AwsError> {
    let account = cx.account();
    let read = cx.read()?;
    let mut found: Option<T> = load_named(read.as_ref(), T::TABLE, account, name)?;
    drop(read);
    let arn = match found.as_mut() {
        Some(t) => {
            ctx.extend(resource_tags_context(t.tags_mut()));
            t.arn()
        }
        None => entity_arn(account, T::ARN_WORD, "/", name),
    };
    cx.authorize(action, &arn, ctx)?;
    Ok(found)
}

fn name_param<T: Taggable>(cx: &Cx<'_>, c: &mut Checks) -> String {
    cx.name(c, &format!("{}Name", T::OP_WORD), T::NAME_MAX)
}

/// `TagUser`, `TagRole`, `TagInstanceProfile`: add or replace tags (at most 50 in all).
pub(crate) fn tag<T: Taggable>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = name_param::<T>(cx, &mut c);
    c.not_null("tags", cx.params.has_list("Tags"));
    let tags = parse_tags(&mut c, cx.params, "Tags");
    c.finish()?;
    check_tag_rules(&tags, T::CASE_INSENSITIVE)?;
    authorized::<T>(cx, &name, &format!("iam:Tag{}", T::OP_WORD), request_tags_context(&tags))?;
    let account = cx.account();
    cx.write(|txn| {
        let mut t: T = load_named(txn, T::TABLE, account, &name)?.ok_or_else(|| T::not_found(&name))?;
        merge_tags(t.tags_mut(), tags.clone(), T::CASE_INSENSITIVE)?;
        model::save(txn, T::TABLE, &model::name_key(account, t.name()), &t).st()
    })?;
    Ok(cx.respond(None))
}

/// `UntagUser`, `UntagRole`, `UntagInstanceProfile`.
pub(crate) fn untag<T: Taggable>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = name_param::<T>(cx, &mut c);
    let keys = parse_tag_keys(&mut c, cx.params);
    c.finish()?;
    let ctx = vec![("aws:TagKeys".to_string(), keys.clone())];
    authorized::<T>(cx, &name, &format!("iam:Untag{}", T::OP_WORD), ctx)?;
    let account = cx.account();
    cx.write(|txn| {
        let mut t: T = load_named(txn, T::TABLE, account, &name)?.ok_or_else(|| T::not_found(&name))?;
        remove_tags(t.tags_mut(), &keys, T::CASE_INSENSITIVE);
        model::save(txn, T::TABLE, &model::name_key(account, t.name()), &t).st()
    })?;
    Ok(cx.respond(None))
}

fn tags_xml(tags: Vec<Tag>, page: &validate::Page) -> String {
    let (tags, marker) = page_by_index(page, tags);
    let mut w = XmlWriter::fragment();
    w.open("Tags", None);
    for t in &tags {
        w.open("member", None).elem("Key", &t.key).elem("Value", &t.value).close();
    }
    w.close();
    validate::write_truncation(&mut w, marker.as_deref());
    w.finish()
}

/// `ListUserTags`, `ListRoleTags`, `ListInstanceProfileTags`.
pub(crate) fn list<T: Taggable>(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = name_param::<T>(cx, &mut c);
    c.finish()?;
    let page = cx.page()?;
    let mut t = authorized::<T>(cx, &name, &format!("iam:List{}Tags", T::OP_WORD), Context::new())?
        .ok_or_else(|| T::not_found(&name))?;
    let tags = std::mem::take(t.tags_mut());
    Ok(cx.respond(Some(tags_xml(tags, &page))))
}

/// The customer managed policy of `PolicyArn` for a tag operation, authorized.
fn policy_for_tags(
    cx: &Cx<'_>,
    c: &mut Checks,
    action: &str,
    mut ctx: Context,
) -> Result<(String, Option<super::entities::PolicyRef>), AwsError> {
    let arn = cx.arn(c, "PolicyArn");
    c.finish()?;
    super::entities::parse_policy_arn(&arn)?;
    let read = cx.read()?;
    let found = super::entities::resolve_policy(read.as_ref(), cx.account(), &arn)?;
    drop(read);
    if let Some(super::entities::PolicyRef::Local(p)) = &found {
        ctx.extend(resource_tags_context(&p.tags));
    }
    cx.authorize(action, &arn, ctx)?;
    Ok((arn, found))
}

fn tag_policy_common(cx: &Cx<'_>, untag: bool) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let (tags, keys) = if untag {
        (Vec::new(), parse_tag_keys(&mut c, cx.params))
    } else {
        c.not_null("tags", cx.params.has_list("Tags"));
        (parse_tags(&mut c, cx.params, "Tags"), Vec::new())
    };
    let (action, ctx) = if untag {
        ("iam:UntagPolicy", vec![("aws:TagKeys".to_string(), keys.clone())])
    } else {
        ("iam:TagPolicy", request_tags_context(&tags))
    };
    let (arn, _) = policy_for_tags(cx, &mut c, action, ctx)?;
    check_tag_rules(&tags, false)?;
    let account = cx.account();
    cx.write(|txn| {
        let mut policy = match super::entities::resolve_policy(txn, account, &arn)? {
            Some(super::entities::PolicyRef::Local(p)) => *p,
            Some(super::entities::PolicyRef::Aws(_)) => {
                return Err(super::entities::aws_managed_read_only(cx, action, &arn));
            }
            None => return Err(super::entities::no_such_entity(format!("Policy {arn} was not found."))),
        };
        if untag {
            remove_tags(&mut policy.tags, &keys, false);
        } else {
            merge_tags(&mut policy.tags, tags.clone(), false)?;
        }
        model::save(txn, table::POLICY, &model::name_key(account, &policy.name), &policy).st()
    })?;
    Ok(cx.respond(None))
}

/// `TagPolicy` (customer managed policies only).
pub(crate) fn tag_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    tag_policy_common(cx, false)
}

/// `UntagPolicy`.
pub(crate) fn untag_policy(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    tag_policy_common(cx, true)
}

/// `ListPolicyTags` (AWS managed policies have none).
pub(crate) fn list_policy_tags(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let (arn, found) = policy_for_tags(cx, &mut c, "iam:ListPolicyTags", Context::new())?;
    let page = cx.page()?;
    let tags = match found {
        Some(super::entities::PolicyRef::Local(p)) => p.tags,
        Some(super::entities::PolicyRef::Aws(_)) => Vec::new(),
        None => return Err(super::entities::no_such_entity(format!("Policy {arn} was not found."))),
    };
    Ok(cx.respond(Some(tags_xml(tags, &page))))
}
