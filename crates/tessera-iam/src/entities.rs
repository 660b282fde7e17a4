//! Users, groups, roles, policies (inline, customer managed, AWS managed), permissions
//! boundaries, instance profiles and tags.
//!
//! This file dispatches the operations of the area to its submodules (`users`, `groups`,
//! `roles`, `inline`, `policies`, `instance_profiles`, `tags`) and holds what they share:
//! parameter checks, loaders, errors with AWS's wording, XML shapes, the policy attachment
//! index and authorization contexts. Other IAM code may use the `pub` helpers.
//!
//! Every operation follows the same steps: check the input (ValidationError), read a snapshot
//! to learn the resource's ARN, path, tags and boundary, authorize, then change state in one
//! write transaction, re-checking there everything the change depends on.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tessera_store::{ReadTxn, StoreError, WriteTxn};
use tessera_wire::query::lower_first;
use tessera_wire::response::IAM_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::{
    groups, inline, instance_profiles, last_accessed, org_features, policies, roles, server_certificates,
    service_linked_roles, tags, users,
};
use crate::authz::AuthzRequest;
use crate::ids::{self, IdKind};
use crate::managed::{self, AwsManagedPolicy};
use crate::model::{self, table, EntityKind, Group, ManagedPolicy, PolicyAttachment, PolicyUsage, Role, Tag, User};
use crate::validate::{self, Checks, Page};
use crate::{clock, Call, Services};

/// Run the operation if it belongs to this area.
pub fn handle(services: &Services, call: &Call, params: &QueryParams) -> Option<Result<WireResponse, AwsError>> {
    let cx = Cx { services, call, params };
    if let Err(e) = service_linked_roles::refuse_protected(&cx) {
        return Some(Err(e));
    }
    let result = match call.operation.as_str() {
        "CreateUser" => users::create_user(&cx),
        "GetUser" => users::get_user(&cx),
        "UpdateUser" => users::update_user(&cx),
        "DeleteUser" => users::delete_user(&cx),
        "ListUsers" => users::list_users(&cx),
        "CreateGroup" => groups::create_group(&cx),
        "GetGroup" => groups::get_group(&cx),
        "UpdateGroup" => groups::update_group(&cx),
        "DeleteGroup" => groups::delete_group(&cx),
        "ListGroups" => groups::list_groups(&cx),
        "AddUserToGroup" => groups::add_user_to_group(&cx),
        "RemoveUserFromGroup" => groups::remove_user_from_group(&cx),
        "ListGroupsForUser" => groups::list_groups_for_user(&cx),
        "CreateRole" => roles::create_role(&cx),
        "GetRole" => roles::get_role(&cx),
        "UpdateRole" => roles::update_role(&cx, false),
        "UpdateRoleDescription" => roles::update_role(&cx, true),
        "UpdateAssumeRolePolicy" => roles::update_assume_role_policy(&cx),
        "DeleteRole" => roles::delete_role(&cx),
        "ListRoles" => roles::list_roles(&cx),
        "ListPoliciesGrantingServiceAccess" => super::policies_granting::list(&cx),
        "CreateServiceLinkedRole" => service_linked_roles::create(&cx),
        "DeleteServiceLinkedRole" => service_linked_roles::delete(&cx),
        "GetServiceLinkedRoleDeletionStatus" => service_linked_roles::deletion_status(&cx),
        "PutUserPolicy" => inline::put::<User>(&cx),
        "GetUserPolicy" => inline::get::<User>(&cx),
        "DeleteUserPolicy" => inline::delete::<User>(&cx),
        "ListUserPolicies" => inline::list::<User>(&cx),
        "PutGroupPolicy" => inline::put::<Group>(&cx),
        "GetGroupPolicy" => inline::get::<Group>(&cx),
        "DeleteGroupPolicy" => inline::delete::<Group>(&cx),
        "ListGroupPolicies" => inline::list::<Group>(&cx),
        "PutRolePolicy" => inline::put::<Role>(&cx),
        "GetRolePolicy" => inline::get::<Role>(&cx),
        "DeleteRolePolicy" => inline::delete::<Role>(&cx),
        "ListRolePolicies" => inline::list::<Role>(&cx),
        "CreatePolicy" => policies::create_policy(&cx),
        "GetPolicy" => policies::get_policy(&cx),
        "DeletePolicy" => policies::delete_policy(&cx),
        "ListPolicies" => policies::list_policies(&cx),
        "CreatePolicyVersion" => policies::create_policy_version(&cx),
        "GetPolicyVersion" => policies::get_policy_version(&cx),
        "ListPolicyVersions" => policies::list_policy_versions(&cx),
        "DeletePolicyVersion" => policies::delete_policy_version(&cx),
        "SetDefaultPolicyVersion" => policies::set_default_policy_version(&cx),
        "AttachUserPolicy" => policies::attach::<User>(&cx),
        "AttachGroupPolicy" => policies::attach::<Group>(&cx),
        "AttachRolePolicy" => policies::attach::<Role>(&cx),
        "DetachUserPolicy" => policies::detach::<User>(&cx),
        "DetachGroupPolicy" => policies::detach::<Group>(&cx),
        "DetachRolePolicy" => policies::detach::<Role>(&cx),
        "ListAttachedUserPolicies" => policies::list_attached::<User>(&cx),
        "ListAttachedGroupPolicies" => policies::list_attached::<Group>(&cx),
        "ListAttachedRolePolicies" => policies::list_attached::<Role>(&cx),
        "ListEntitiesForPolicy" => policies::list_entities_for_policy(&cx),
        "PutUserPermissionsBoundary" => policies::put_boundary::<User>(&cx),
        "PutRolePermissionsBoundary" => policies::put_boundary::<Role>(&cx),
        "DeleteUserPermissionsBoundary" => policies::delete_boundary::<User>(&cx),
        "DeleteRolePermissionsBoundary" => policies::delete_boundary::<Role>(&cx),
        "CreateInstanceProfile" => instance_profiles::create(&cx),
        "GetInstanceProfile" => instance_profiles::get(&cx),
        "DeleteInstanceProfile" => instance_profiles::delete(&cx),
        "ListInstanceProfiles" => instance_profiles::list(&cx),
        "AddRoleToInstanceProfile" => instance_profiles::add_role(&cx),
        "RemoveRoleFromInstanceProfile" => instance_profiles::remove_role(&cx),
        "ListInstanceProfilesForRole" => instance_profiles::list_for_role(&cx),
        "TagUser" => tags::tag::<User>(&cx),
        "UntagUser" => tags::untag::<User>(&cx),
        "ListUserTags" => tags::list::<User>(&cx),
        "TagRole" => tags::tag::<Role>(&cx),
        "UntagRole" => tags::untag::<Role>(&cx),
        "ListRoleTags" => tags::list::<Role>(&cx),
        "TagPolicy" => tags::tag_policy(&cx),
        "UntagPolicy" => tags::untag_policy(&cx),
        "ListPolicyTags" => tags::list_policy_tags(&cx),
        "TagInstanceProfile" => tags::tag::<model::InstanceProfile>(&cx),
        "UntagInstanceProfile" => tags::untag::<model::InstanceProfile>(&cx),
        "ListInstanceProfileTags" => tags::list::<model::InstanceProfile>(&cx),
        "GenerateServiceLastAccessedDetails" => last_accessed::generate(&cx),
        "GetServiceLastAccessedDetails" => last_accessed::get(&cx),
        "GetServiceLastAccessedDetailsWithEntities" => last_accessed::get_with_entities(&cx),
        "ListOrganizationsFeatures" => org_features::list_organizations_features(&cx),
        "EnableOrganizationsRootCredentialsManagement" => org_features::enable_root_credentials_management(&cx),
        "DisableOrganizationsRootCredentialsManagement" => org_features::disable_root_credentials_management(&cx),
        "EnableOrganizationsRootSessions" => org_features::enable_root_sessions(&cx),
        "DisableOrganizationsRootSessions" => org_features::disable_root_sessions(&cx),
        "UploadServerCertificate" => server_certificates::upload(&cx),
        "GetServerCertificate" => server_certificates::get(&cx),
        "ListServerCertificates" => server_certificates::list(&cx),
        "UpdateServerCertificate" => server_certificates::update(&cx),
        "DeleteServerCertificate" => server_certificates::delete(&cx),
        "TagServerCertificate" => tags::tag::<model::ServerCertificate>(&cx),
        "UntagServerCertificate" => tags::untag::<model::ServerCertificate>(&cx),
        "ListServerCertificateTags" => tags::list::<model::ServerCertificate>(&cx),
        _ => return None,
    };
    Some(result)
}

/// IAM quotas (the defaults of the IAM quotas page).
pub mod quota {
    /// Users per account.
    pub const USERS_PER_ACCOUNT: u64 = 5000;
    /// Groups per account.
    pub const GROUPS_PER_ACCOUNT: u64 = 300;
    /// Roles per account.
    pub const ROLES_PER_ACCOUNT: u64 = 1000;
    /// Customer managed policies per account.
    pub const POLICIES_PER_ACCOUNT: u64 = 1500;
    /// Instance profiles per account.
    pub const INSTANCE_PROFILES_PER_ACCOUNT: u64 = 1000;
    /// Groups a user can be a member of.
    pub const GROUPS_PER_USER: usize = 10;
    /// Managed policies attached to one user, group or role.
    pub const MANAGED_POLICIES_PER_ENTITY: usize = 10;
    /// Versions of a customer managed policy.
    pub const VERSIONS_PER_POLICY: usize = 5;
    /// Tags of one entity.
    pub const TAGS_PER_ENTITY: usize = 50;
    /// Roles in an instance profile.
    pub const ROLES_PER_INSTANCE_PROFILE: usize = 1;
    /// Summed size of a user's inline policies (characters, whitespace excluded).
    pub const USER_INLINE_BYTES: usize = 2048;
    /// Summed size of a group's inline policies.
    pub const GROUP_INLINE_BYTES: usize = 5120;
    /// Summed size of a role's inline policies.
    pub const ROLE_INLINE_BYTES: usize = 10240;
}

/// One request of this area: the services, the call and its parameters.
pub struct Cx<'a> {
    /// The services.
    pub services: &'a Services,
    /// The call.
    pub call: &'a Call,
    /// Its parameters.
    pub params: &'a QueryParams,
}

/// Store results as AWS errors (a store failure is an internal error).
pub trait StoreResultExt<T> {
    /// Map a [`StoreError`] to `InternalFailure`.
    fn st(self) -> Result<T, AwsError>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    fn st(self) -> Result<T, AwsError> {
        self.map_err(crate::internal)
    }
}

/// Authorization context: condition keys and their values.
pub type Context = Vec<(String, Vec<String>)>;

impl<'a> Cx<'a> {
    /// The caller's account, where every entity of the request lives.
    pub fn account(&self) -> &'a str {
        &self.call.caller.account
    }

    /// Request time, epoch seconds.
    pub fn now(&self) -> i64 {
        self.call.now_secs()
    }

    /// A read snapshot.
    pub fn read(&self) -> Result<Box<dyn ReadTxn + 'a>, AwsError> {
        self.services.store.read().st()
    }

    /// Run `f` in one write transaction; commit when it returns `Ok`.
    pub fn write<R>(&self, f: impl FnOnce(&mut dyn WriteTxn) -> Result<R, AwsError>) -> Result<R, AwsError> {
        let mut txn = self.services.store.write().st()?;
        let out = f(txn.as_mut())?;
        txn.commit().st()?;
        Ok(out)
    }

    /// Authorize `action` on `resource` with condition keys.
    pub fn authorize(&self, action: &str, resource: &str, context: Context) -> Result<(), AwsError> {
        self.services.authorize_request(self.call, &AuthzRequest { action, resource, context, ..Default::default() })
    }

    /// The response of this operation with a result element (`None`: no result element).
    pub fn respond(&self, result: Option<String>) -> WireResponse {
        WireResponse::query(IAM_XMLNS, &self.call.operation, result.as_deref(), &self.call.meta.request_id)
    }

    /// A required name parameter (`[\w+=,.@-]+`, 1..=`max`).
    pub fn name(&self, c: &mut Checks, param: &str, max: usize) -> String {
        let field = lower_first(param);
        match self.params.get(param) {
            None => {
                c.not_null(&field, false);
                String::new()
            }
            Some(v) => {
                c.length(&field, v, 1, max).pattern(&field, v, validate::NAME_PATTERN, validate::is_name);
                v.to_string()
            }
        }
    }

    /// An optional name parameter.
    pub fn name_opt(&self, c: &mut Checks, param: &str, max: usize) -> Option<String> {
        self.params.get(param)?;
        Some(self.name(c, param, max))
    }

    /// An optional entity path (`Path`, `NewPath`).
    pub fn path_opt(&self, c: &mut Checks, param: &str) -> Option<String> {
        let v = self.params.get(param)?;
        let field = lower_first(param);
        c.length(&field, v, 1, 512).pattern(&field, v, validate::PATH_PATTERN, validate::is_path);
        Some(v.to_string())
    }

    /// An optional `PathPrefix` of a list call (`\u002F[\u0021-\u007F]*`).
    pub fn path_prefix_opt(&self, c: &mut Checks) -> Option<String> {
        let v = self.params.get("PathPrefix")?;
        c.length("pathPrefix", v, 1, 512).pattern("pathPrefix", v, PATH_PREFIX_PATTERN, is_path_prefix);
        Some(v.to_string())
    }

    /// A required ARN parameter (20-2048 characters).
    pub fn arn(&self, c: &mut Checks, param: &str) -> String {
        let field = lower_first(param);
        match self.params.get(param) {
            None => {
                c.not_null(&field, false);
                String::new()
            }
            Some(v) => {
                c.length(&field, v, 20, 2048);
                v.to_string()
            }
        }
    }

    /// An optional ARN parameter.
    pub fn arn_opt(&self, c: &mut Checks, param: &str) -> Option<String> {
        self.params.get(param)?;
        Some(self.arn(c, param))
    }

    /// A required policy document parameter (1-131072 characters of the document pattern).
    pub fn document(&self, c: &mut Checks, param: &str) -> String {
        let field = lower_first(param);
        match self.params.get(param) {
            None => {
                c.not_null(&field, false);
                String::new()
            }
            Some(v) => {
                c.length(&field, v, 1, 131_072).pattern(
                    &field,
                    v,
                    validate::POLICY_DOCUMENT_PATTERN,
                    validate::is_policy_document_text,
                );
                v.to_string()
            }
        }
    }

    /// An optional integer parameter in `min..=max`.
    pub fn int_opt(&self, c: &mut Checks, param: &str, min: i64, max: i64) -> Result<Option<i64>, AwsError> {
        let Some(v) = self.params.get(param) else {
            return Ok(None);
        };
        let n = v.trim().parse::<i64>().map_err(|_| AwsError::validation(format!("Invalid value for {param}: {v}")))?;
        c.range(&lower_first(param), n, min, max);
        Ok(Some(n))
    }

    /// An optional boolean parameter (`true`/`false`).
    pub fn bool_opt(&self, param: &str) -> Result<Option<bool>, AwsError> {
        match self.params.get(param) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(AwsError::validation(format!("Invalid value for {param}: {v}"))),
        }
    }

    /// `Marker` / `MaxItems`.
    pub fn page(&self) -> Result<Page, AwsError> {
        Page::from_params(self.params)
    }
}

/// `\u002F[\u0021-\u007F]*`: `PathPrefix` of list calls.
pub const PATH_PREFIX_PATTERN: &str = r"\u002F[\u0021-\u007F]*";

/// Whether `s` matches [`PATH_PREFIX_PATTERN`].
pub fn is_path_prefix(s: &str) -> bool {
    s.starts_with('/') && s.chars().all(|c| ('\u{21}'..='\u{7f}').contains(&c))
}

/// `((/[A-Za-z0-9\.,\+@=_-]+)*)/`: paths of managed policies.
pub const POLICY_PATH_PATTERN: &str = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/";

/// Whether `s` matches [`POLICY_PATH_PATTERN`].
pub fn is_policy_path(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('/') else {
        return false;
    };
    if inner.is_empty() {
        return true;
    }
    let Some(inner) = inner.strip_suffix('/') else {
        return false;
    };
    inner
        .split('/')
        .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || ".,+@=_-".contains(c)))
}

/// `[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*`: role descriptions.
pub const ROLE_DESCRIPTION_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*";

/// Whether `s` matches [`ROLE_DESCRIPTION_PATTERN`].
pub fn is_role_description(s: &str) -> bool {
    s.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{a1}'..='\u{ff}'))
}

// ---------------------------------------------------------------------------------------------
// Errors, in AWS's words.

/// `NoSuchEntity` (404).
pub fn no_such_entity(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "NoSuchEntity", message)
}

/// `NoSuchEntity` for a user, group or role: `The user with name X cannot be found.`
pub fn no_such(kind: EntityKind, name: &str) -> AwsError {
    no_such_entity(format!("The {} with name {name} cannot be found.", kind.word()))
}

/// `EntityAlreadyExists` (409).
pub fn already_exists(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "EntityAlreadyExists", message)
}

/// `DeleteConflict` (409).
pub fn delete_conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "DeleteConflict", message)
}

/// `LimitExceeded` (409).
pub fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "LimitExceeded", message)
}

/// `LimitExceeded` with the quotas page's wording: `Cannot exceed quota for X: N`.
pub fn quota_exceeded(quota: &str, limit: impl std::fmt::Display) -> AwsError {
    limit_exceeded(format!("Cannot exceed quota for {quota}: {limit}"))
}

/// `InvalidInput` (400).
pub fn invalid_input(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidInput", message)
}

/// `NoSuchEntity` for a managed policy that cannot be attached: absent, or of another account.
pub fn policy_not_attachable(arn: &str) -> AwsError {
    no_such_entity(format!("Policy {arn} does not exist or is not attachable."))
}

/// `NoSuchEntity` for a permissions boundary that does not exist.
pub fn boundary_not_attachable(arn: &str) -> AwsError {
    no_such_entity(format!("Scope ARN: {arn} does not exist or is not attachable."))
}

/// `AccessDenied` for a change to an AWS managed policy, which no policy can allow.
pub fn aws_managed_read_only(cx: &Cx<'_>, action: &str, arn: &str) -> AwsError {
    AwsError::access_denied(crate::authz::denied_message(cx.call, action, arn))
}

// ---------------------------------------------------------------------------------------------
// Entities.

/// `arn:aws:iam::<acct>:<word><path><name>`.
pub fn entity_arn(account: &str, word: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{word}{path}{name}")
}

/// The records of users, groups and roles, seen alike by policy operations.
pub trait Entity: Serialize + DeserializeOwned + Clone {
    /// Which kind.
    const KIND: EntityKind;
    /// Its table.
    const TABLE: &'static str;
    /// The word in operation names (`User`).
    const OP_WORD: &'static str;
    /// Name.
    fn name(&self) -> &str;
    /// Path.
    fn path(&self) -> &str;
    /// Unique id.
    fn id(&self) -> &str;
    /// ARN.
    fn arn(&self) -> String;
    /// Inline policies (name, document).
    fn inline_policies(&self) -> &Vec<(String, String)>;
    /// Inline policies, to change.
    fn inline_policies_mut(&mut self) -> &mut Vec<(String, String)>;
    /// Attached managed policy ARNs.
    fn attached(&self) -> &Vec<String>;
    /// Attached managed policy ARNs, to change.
    fn attached_mut(&mut self) -> &mut Vec<String>;
    /// Permissions boundary ARN (groups have none).
    fn boundary(&self) -> Option<&str>;
    /// Set the boundary (no-op for groups).
    fn set_boundary(&mut self, arn: Option<String>);
    /// Tags (groups have none).
    fn tags(&self) -> &[Tag];
}

macro_rules! entity_common {
    () => {
        fn name(&self) -> &str {
            &self.name
        }
        fn path(&self) -> &str {
            &self.path
        }
        fn arn(&self) -> String {
            Self::arn(self)
        }
        fn inline_policies(&self) -> &Vec<(String, String)> {
            &self.inline_policies
        }
        fn inline_policies_mut(&mut self) -> &mut Vec<(String, String)> {
            &mut self.inline_policies
        }
        fn attached(&self) -> &Vec<String> {
            &self.attached_policies
        }
        fn attached_mut(&mut self) -> &mut Vec<String> {
            &mut self.attached_policies
        }
    };
}

impl Entity for User {
    const KIND: EntityKind = EntityKind::User;
    const TABLE: &'static str = table::USER;
    const OP_WORD: &'static str = "User";
    entity_common!();
    fn id(&self) -> &str {
        &self.user_id
    }
    fn boundary(&self) -> Option<&str> {
        self.permissions_boundary.as_deref()
    }
    fn set_boundary(&mut self, arn: Option<String>) {
        self.permissions_boundary = arn;
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

impl Entity for Group {
    const KIND: EntityKind = EntityKind::Group;
    const TABLE: &'static str = table::GROUP;
    const OP_WORD: &'static str = "Group";
    entity_common!();
    fn id(&self) -> &str {
        &self.group_id
    }
    fn boundary(&self) -> Option<&str> {
        None
    }
    fn set_boundary(&mut self, _arn: Option<String>) {}
    fn tags(&self) -> &[Tag] {
        &[]
    }
}

impl Entity for Role {
    const KIND: EntityKind = EntityKind::Role;
    const TABLE: &'static str = table::ROLE;
    const OP_WORD: &'static str = "Role";
    entity_common!();
    fn id(&self) -> &str {
        &self.role_id
    }
    fn boundary(&self) -> Option<&str> {
        self.permissions_boundary.as_deref()
    }
    fn set_boundary(&mut self, arn: Option<String>) {
        self.permissions_boundary = arn;
    }
    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// Load a per-account, case-insensitively named record.
pub fn load_named<T: DeserializeOwned>(
    r: &(impl ReadTxn + ?Sized),
    table: &str,
    account: &str,
    name: &str,
) -> Result<Option<T>, AwsError> {
    model::load(r, table, &model::name_key(account, name)).st()
}

/// Load an entity, or `NoSuchEntity`.
pub fn require<E: Entity>(r: &(impl ReadTxn + ?Sized), account: &str, name: &str) -> Result<E, AwsError> {
    load_named(r, E::TABLE, account, name)?.ok_or_else(|| no_such(E::KIND, name))
}

/// Save an entity under its name key.
pub fn save_entity<E: Entity>(w: &mut (impl WriteTxn + ?Sized), account: &str, e: &E) -> Result<(), AwsError> {
    model::save(w, E::TABLE, &model::name_key(account, e.name()), e).st()
}

/// The ARN to authorize an operation on a named entity with: the entity's own ARN when it
/// exists, else the ARN it would have at path `/` (AWS authorizes before looking up).
pub fn arn_or_default<E: Entity>(account: &str, e: Option<&E>, name: &str) -> String {
    match e {
        Some(e) => e.arn(),
        None => entity_arn(account, E::KIND.word(), "/", name),
    }
}

/// A fresh unique id of `kind`, reserved in the unique-id table for `<table>\n<key>`.
pub fn new_unique_id(w: &mut (impl WriteTxn + ?Sized), kind: IdKind, tbl: &str, key: &str) -> Result<String, AwsError> {
    loop {
        let id = ids::unique_id(kind);
        if w.get(table::UNIQUE_ID, &id).st()?.is_none() {
            w.put(table::UNIQUE_ID, &id, format!("{tbl}\n{key}").as_bytes()).st()?;
            return Ok(id);
        }
    }
}

/// Point a unique id at its entity's new key (after a rename).
pub fn move_unique_id(w: &mut (impl WriteTxn + ?Sized), id: &str, tbl: &str, key: &str) -> Result<(), AwsError> {
    w.put(table::UNIQUE_ID, id, format!("{tbl}\n{key}").as_bytes()).st()
}

/// Release a unique id when its entity is deleted.
pub fn release_unique_id(w: &mut (impl WriteTxn + ?Sized), id: &str) -> Result<(), AwsError> {
    w.delete(table::UNIQUE_ID, id).st().map(|_| ())
}

/// Records of `table` under `prefix` in key order, filtered by `keep`, one page of `page`.
/// The marker is the key with `prefix` removed.
pub fn scan_page<T: DeserializeOwned>(
    r: &(impl ReadTxn + ?Sized),
    tbl: &str,
    prefix: &str,
    page: &Page,
    keep: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let mut after = page.after.as_ref().map(|a| format!("{prefix}{a}"));
    let mut out: Vec<(String, T)> = Vec::new();
    let chunk = (page.max_items + 1).max(256);
    loop {
        let rows = r.scan(tbl, prefix, after.as_deref(), chunk).st()?;
        let done = rows.len() < chunk;
        after = rows.last().map(|(k, _)| k.clone());
        for (key, value) in model::decode_rows::<T>(tbl, rows).st()? {
            if keep(&value) {
                out.push((key, value));
                if out.len() > page.max_items {
                    out.pop();
                    let last = out.last().map(|(k, _)| k.strip_prefix(prefix).unwrap_or(k).to_string());
                    return Ok((out.into_iter().map(|(_, v)| v).collect(), last.map(|k| validate::marker_for(&k))));
                }
            }
        }
        if done {
            return Ok((out.into_iter().map(|(_, v)| v).collect(), None));
        }
    }
}

/// Page through an in-memory list in its order, the marker being the position.
pub fn page_by_index<T>(page: &Page, items: Vec<T>) -> (Vec<T>, Option<String>) {
    let indexed: Vec<(String, T)> = items.into_iter().enumerate().map(|(i, t)| (format!("{i:08}"), t)).collect();
    let (out, next) = page.apply(indexed, |(k, _)| k.clone());
    (out.into_iter().map(|(_, t)| t).collect(), next)
}

// ---------------------------------------------------------------------------------------------
// Managed policies: AWS's and the account's.

/// A managed policy an ARN names.
#[derive(Debug, Clone)]
pub enum PolicyRef {
    /// An AWS managed policy.
    Aws(&'static AwsManagedPolicy),
    /// A customer managed policy of the account.
    Local(Box<ManagedPolicy>),
}

impl PolicyRef {
    /// The policy's ARN.
    pub fn arn(&self) -> String {
        match self {
            PolicyRef::Aws(p) => p.arn().to_string(),
            PolicyRef::Local(p) => p.arn(),
        }
    }
    /// The policy's path.
    pub fn path(&self) -> &str {
        match self {
            PolicyRef::Aws(p) => p.path,
            PolicyRef::Local(p) => &p.path,
        }
    }
    /// The policy's name.
    pub fn name(&self) -> &str {
        match self {
            PolicyRef::Aws(p) => p.name,
            PolicyRef::Local(p) => &p.name,
        }
    }
    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        match self {
            PolicyRef::Aws(p) => Some(p.document),
            PolicyRef::Local(p) => p.default_document(),
        }
    }
}

/// A policy ARN taken apart: (account or `aws`, path, name).
pub fn parse_policy_arn(arn: &str) -> Result<(String, String, String), AwsError> {
    let bad = || invalid_input(format!("ARN {arn} is not valid."));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
    let (account, rest) = rest.split_once(':').ok_or_else(bad)?;
    let rest = rest.strip_prefix("policy").ok_or_else(bad)?;
    if !(account == "aws" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))) {
        return Err(bad());
    }
    let slash = rest.rfind('/').ok_or_else(bad)?;
    let (path, name) = (&rest[..=slash], &rest[slash + 1..]);
    if !rest.starts_with('/') || !validate::is_name(name) || name.len() > 128 || !is_policy_path(path) {
        return Err(bad());
    }
    Ok((account.to_string(), path.to_string(), name.to_string()))
}

/// The managed policy `arn` names, when it exists and `account` may use it. Malformed ARNs
/// are `InvalidInput`.
pub fn resolve_policy(r: &(impl ReadTxn + ?Sized), account: &str, arn: &str) -> Result<Option<PolicyRef>, AwsError> {
    let (owner, path, name) = parse_policy_arn(arn)?;
    if owner == "aws" {
        return Ok(managed::by_arn(arn).map(PolicyRef::Aws));
    }
    if owner != account {
        return Ok(None);
    }
    let policy: Option<ManagedPolicy> = load_named(r, table::POLICY, account, &name)?;
    Ok(policy.filter(|p| p.path == path && p.name == name).map(|p| PolicyRef::Local(Box::new(p))))
}

/// How often `arn` is used in `account`: (as permissions policy, as permissions boundary).
pub fn usage_counts(r: &(impl ReadTxn + ?Sized), account: &str, arn: &str) -> Result<(u64, u64), AwsError> {
    let attached = r
        .count(table::POLICY_ATTACHMENT, &model::attachment_usage_prefix(account, arn, PolicyUsage::PermissionsPolicy))
        .st()?;
    let boundary = r
        .count(
            table::POLICY_ATTACHMENT,
            &model::attachment_usage_prefix(account, arn, PolicyUsage::PermissionsBoundary),
        )
        .st()?;
    Ok((attached, boundary))
}

/// `usage_counts` of every managed policy used in `account` (one scan of the account's uses;
/// policies it does not name are used nowhere).
pub fn usage_counts_by_policy(
    r: &(impl ReadTxn + ?Sized),
    account: &str,
) -> Result<std::collections::HashMap<String, (u64, u64)>, AwsError> {
    let mut counts = std::collections::HashMap::<String, (u64, u64)>::new();
    for (key, _) in r.scan(table::POLICY_ATTACHMENT, &format!("{account}/"), None, usize::MAX).st()? {
        let Some((arn, usage)) = model::parse_attachment_key(account, &key) else { continue };
        let c = counts.entry(arn.to_string()).or_default();
        match usage {
            PolicyUsage::PermissionsPolicy => c.0 += 1,
            PolicyUsage::PermissionsBoundary => c.1 += 1,
        }
    }
    Ok(counts)
}

/// Record that `e` uses `arn` as `usage`.
pub fn index_use<E: Entity>(
    w: &mut (impl WriteTxn + ?Sized),
    account: &str,
    arn: &str,
    usage: PolicyUsage,
    e: &E,
) -> Result<(), AwsError> {
    let row = PolicyAttachment {
        kind: E::KIND,
        name: e.name().to_string(),
        path: e.path().to_string(),
        id: e.id().to_string(),
        usage,
    };
    model::save(w, table::POLICY_ATTACHMENT, &model::attachment_key(account, arn, usage, E::KIND, e.name()), &row).st()
}

/// Forget that `e` uses `arn` as `usage`.
pub fn unindex_use<E: Entity>(
    w: &mut (impl WriteTxn + ?Sized),
    account: &str,
    arn: &str,
    usage: PolicyUsage,
    e: &E,
) -> Result<(), AwsError> {
    w.delete(table::POLICY_ATTACHMENT, &model::attachment_key(account, arn, usage, E::KIND, e.name())).st().map(|_| ())
}

/// Re-index every policy use of `old` under the name and path of `new` (after a rename).
pub fn reindex_entity<E: Entity>(
    w: &mut (impl WriteTxn + ?Sized),
    account: &str,
    old: &E,
    new: &E,
) -> Result<(), AwsError> {
    for arn in old.attached() {
        unindex_use(w, account, arn, PolicyUsage::PermissionsPolicy, old)?;
        index_use(w, account, arn, PolicyUsage::PermissionsPolicy, new)?;
    }
    if let Some(arn) = old.boundary() {
        unindex_use(w, account, arn, PolicyUsage::PermissionsBoundary, old)?;
        index_use(w, account, arn, PolicyUsage::PermissionsBoundary, new)?;
    }
    Ok(())
}

/// Attach managed policy `arn` to an entity inside a transaction (for code that creates
/// entities outside the IAM API, such as Organizations' `OrganizationAccountAccessRole`): keeps
/// the entity record and the attachment index together. No authorization, no quota.
pub fn attach_policy_in_txn<E: Entity>(
    w: &mut (impl WriteTxn + ?Sized),
    account: &str,
    entity: &mut E,
    arn: &str,
) -> Result<(), AwsError> {
    if !entity.attached().iter().any(|a| a == arn) {
        entity.attached_mut().push(arn.to_string());
        save_entity(w, account, entity)?;
    }
    index_use(w, account, arn, PolicyUsage::PermissionsPolicy, entity)
}

/// Check that a permissions boundary ARN names a managed policy the account may use.
pub fn check_boundary(r: &(impl ReadTxn + ?Sized), account: &str, arn: &str) -> Result<(), AwsError> {
    match resolve_policy(r, account, arn) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(boundary_not_attachable(arn)),
        Err(e) if e.code == "InvalidInput" => Err(invalid_input(format!("ARN {arn} is not valid."))),
        Err(e) => Err(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Tags.

/// Read a `Tags` list (`Tags.member.N.Key` / `.Value`) with the model's constraints.
pub fn parse_tags(c: &mut Checks, params: &QueryParams, param: &str) -> Vec<Tag> {
    let items = params.structs(param);
    let field = lower_first(param);
    let shown: Vec<String> = items
        .iter()
        .map(|t| format!("{}={}", t.get("Key").unwrap_or("null"), t.get("Value").unwrap_or("null")))
        .collect();
    c.list_length(&field, &format!("[{}]", shown.join(", ")), items.len(), quota::TAGS_PER_ENTITY);
    let mut tags = Vec::with_capacity(items.len());
    for (i, t) in items.iter().enumerate() {
        let n = i + 1;
        let key_field = format!("{field}.{n}.member.key");
        let value_field = format!("{field}.{n}.member.value");
        c.not_null(&key_field, t.get("Key").is_some()).not_null(&value_field, t.get("Value").is_some());
        let key = t.get("Key").unwrap_or_default();
        let value = t.get("Value").unwrap_or_default();
        if t.get("Key").is_some() {
            c.length(&key_field, key, 1, 128)
                .pattern(&key_field, key, TAG_KEY_PATTERN, |s| !s.is_empty() && validate::is_tag_text(s));
        }
        if t.get("Value").is_some() {
            c.length(&value_field, value, 0, 256).pattern(
                &value_field,
                value,
                validate::TAG_PATTERN,
                validate::is_tag_text,
            );
        }
        tags.push(Tag { key: key.to_string(), value: value.to_string() });
    }
    tags
}

/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`: tag keys.
pub const TAG_KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";

/// Read a `TagKeys` list with the model's constraints.
pub fn parse_tag_keys(c: &mut Checks, params: &QueryParams) -> Vec<String> {
    let keys = params.list("TagKeys");
    c.not_null("tagKeys", params.has_list("TagKeys"));
    c.list_length("tagKeys", &format!("[{}]", keys.join(", ")), keys.len(), quota::TAGS_PER_ENTITY);
    for (i, k) in keys.iter().enumerate() {
        let f = format!("tagKeys.{}.member", i + 1);
        c.length(&f, k, 1, 128).pattern(&f, k, TAG_KEY_PATTERN, |s| !s.is_empty() && validate::is_tag_text(s));
    }
    keys.into_iter().map(str::to_string).collect()
}

/// IAM's rules beyond the model: no `aws:` keys, no key twice in one request. Keys of users
/// and roles are case-insensitive (`case_insensitive`); of policies and instance profiles not.
pub fn check_tag_rules(tags: &[Tag], case_insensitive: bool) -> Result<(), AwsError> {
    for (i, t) in tags.iter().enumerate() {
        if t.key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(invalid_input("Tag keys starting with 'aws:' are reserved for AWS use."));
        }
        let dup =
            tags[..i]
                .iter()
                .any(|o| if case_insensitive { o.key.eq_ignore_ascii_case(&t.key) } else { o.key == t.key });
        if dup {
            return Err(invalid_input("Duplicate tag keys found. Please note that Tag keys are case insensitive."));
        }
    }
    Ok(())
}

/// Add or replace `new` tags on `existing`; `LimitExceeded` past 50 tags.
pub fn merge_tags(existing: &mut Vec<Tag>, new: Vec<Tag>, case_insensitive: bool) -> Result<(), AwsError> {
    let mut merged = existing.clone();
    for t in new {
        let same = |o: &Tag| if case_insensitive { o.key.eq_ignore_ascii_case(&t.key) } else { o.key == t.key };
        match merged.iter_mut().find(|o| same(o)) {
            Some(o) => *o = t,
            None => merged.push(t),
        }
    }
    if merged.len() > quota::TAGS_PER_ENTITY {
        return Err(limit_exceeded(format!(
            "The number of tags has reached the maximum limit of {}.",
            quota::TAGS_PER_ENTITY
        )));
    }
    *existing = merged;
    Ok(())
}

/// Remove tags by key.
pub fn remove_tags(existing: &mut Vec<Tag>, keys: &[String], case_insensitive: bool) {
    existing
        .retain(|t| !keys.iter().any(|k| if case_insensitive { k.eq_ignore_ascii_case(&t.key) } else { *k == t.key }));
}

// ---------------------------------------------------------------------------------------------
// Authorization contexts.

pub use tessera_core::model::request_tag_context as request_tags_context;

/// `aws:ResourceTag/<key>` (and IAM's older `iam:ResourceTag/<key>`) of an existing resource.
pub fn resource_tags_context(tags: &[Tag]) -> Context {
    let mut ctx = Context::new();
    for t in tags {
        ctx.push((format!("aws:ResourceTag/{}", t.key), vec![t.value.clone()]));
        ctx.push((format!("iam:ResourceTag/{}", t.key), vec![t.value.clone()]));
    }
    ctx
}

/// `iam:PermissionsBoundary` when a boundary is set or requested.
pub fn boundary_context(boundary: Option<&str>) -> Context {
    boundary.map(|b| vec![("iam:PermissionsBoundary".to_string(), vec![b.to_string()])]).unwrap_or_default()
}

/// The context of an operation on an existing entity: its tags and its boundary.
pub fn entity_context<E: Entity>(e: Option<&E>) -> Context {
    match e {
        None => Context::new(),
        Some(e) => {
            let mut ctx = resource_tags_context(e.tags());
            ctx.extend(boundary_context(e.boundary()));
            ctx
        }
    }
}

// ---------------------------------------------------------------------------------------------
// XML shapes.

/// Percent-encode a policy document as IAM returns documents (RFC 3986 unreserved kept).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `<Tags>` with members (nothing when empty).
pub fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags", None);
    for t in tags {
        w.open("member", None).elem("Key", &t.key).elem("Value", &t.value).close();
    }
    w.close();
}

/// `<PermissionsBoundary>`.
pub fn write_boundary(w: &mut XmlWriter, arn: Option<&str>) {
    if let Some(arn) = arn {
        w.open("PermissionsBoundary", None)
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", arn)
            .close();
    }
}

/// The members of a `User` element. `detail` adds the boundary and tags (GetUser, CreateUser).
pub fn write_user(w: &mut XmlWriter, u: &User, detail: bool) {
    w.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.user_id)
        .elem("Arn", &u.arn())
        .elem("CreateDate", &clock::iso8601(u.created));
    if let Some(t) = u.password_last_used {
        w.elem("PasswordLastUsed", &clock::iso8601(t));
    }
    if detail {
        write_boundary(w, u.permissions_boundary.as_deref());
        write_tags(w, &u.tags);
    }
}

/// The members of a `Group` element.
pub fn write_group(w: &mut XmlWriter, g: &Group) {
    w.elem("Path", &g.path)
        .elem("GroupName", &g.name)
        .elem("GroupId", &g.group_id)
        .elem("Arn", &g.arn())
        .elem("CreateDate", &clock::iso8601(g.created));
}

/// The members of a `Role` element. `detail` adds the boundary, tags and `RoleLastUsed`
/// (GetRole, CreateRole); list calls leave them out, as AWS does.
pub fn write_role(w: &mut XmlWriter, r: &Role, detail: bool) {
    w.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.role_id)
        .elem("Arn", &r.arn())
        .elem("CreateDate", &clock::iso8601(r.created))
        .elem("AssumeRolePolicyDocument", &url_encode(&r.assume_role_policy_document));
    w.opt("Description", r.description.as_deref());
    w.elem("MaxSessionDuration", &r.max_session_duration.to_string());
    if detail {
        write_boundary(w, r.permissions_boundary.as_deref());
        write_tags(w, &r.tags);
        w.open("RoleLastUsed", None);
        if let Some((at, region)) = &r.last_used {
            w.elem("LastUsedDate", &clock::iso8601(*at)).elem("Region", region);
        }
        w.close();
    }
    // Roles made by `AcquireRole` name their template, in GetRole and ListRoles alike.
    if let Some(t) = &r.source_role_template {
        w.open("SourceRoleTemplate", None)
            .elem("TemplateArn", &t.template_arn)
            .elem("TemplateMinorVersion", &t.template_minor_version.to_string())
            .close();
    }
}

/// Non-whitespace characters of a document: what IAM's size quotas count.
pub fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_paths() {
        assert!(is_policy_path("/") && is_policy_path("/a/") && is_policy_path("/a.b/c-d/"));
        assert!(!is_policy_path("") && !is_policy_path("/a") && !is_policy_path("//") && !is_policy_path("/a b/"));
    }

    #[test]
    fn policy_arns() {
        let (acct, path, name) = parse_policy_arn("arn:aws:iam::123456789012:policy/a/b/Name").unwrap();
        assert_eq!((acct.as_str(), path.as_str(), name.as_str()), ("123456789012", "/a/b/", "Name"));
        let (acct, path, _) = parse_policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert_eq!((acct.as_str(), path.as_str()), ("aws", "/"));
        for bad in [
            "arn:aws:iam::123:policy/x",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:iam::123456789012:policy/",
            "arn:aws:iam::123456789012:policyx",
            "nope",
        ] {
            let e = parse_policy_arn(bad).unwrap_err();
            assert_eq!(e.code, "InvalidInput", "{bad}");
            assert_eq!(e.message, format!("ARN {bad} is not valid."));
        }
    }

    #[test]
    fn documents_are_percent_encoded_as_iam_returns_them() {
        assert_eq!(url_encode(r#"{"A": "b c"}"#), "%7B%22A%22%3A%20%22b%20c%22%7D");
        assert_eq!(url_encode("a-_.~Z9"), "a-_.~Z9");
    }

    #[test]
    fn tags_rules() {
        let t = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
        assert_eq!(check_tag_rules(&[t("aws:x", "")], true).unwrap_err().code, "InvalidInput");
        assert_eq!(check_tag_rules(&[t("AWS:x", "")], false).unwrap_err().code, "InvalidInput");
        assert!(check_tag_rules(&[t("a\u{e9}\u{e9}", ""), t("\u{e9}", "")], true).is_ok());
        assert_eq!(check_tag_rules(&[t("A", ""), t("a", "")], true).unwrap_err().code, "InvalidInput");
        assert!(check_tag_rules(&[t("A", ""), t("a", "")], false).is_ok());
        let mut tags = vec![t("Dept", "x")];
        merge_tags(&mut tags, vec![t("dept", "y"), t("Team", "z")], true).unwrap();
        assert_eq!(tags, vec![t("dept", "y"), t("Team", "z")]);
        let mut many: Vec<Tag> = (0..50).map(|i| t(&format!("k{i}"), "")).collect();
        assert_eq!(merge_tags(&mut many, vec![t("k50", "")], true).unwrap_err().code, "LimitExceeded");
        assert_eq!(many.len(), 50);
        remove_tags(&mut tags, &["TEAM".into()], true);
        assert_eq!(tags, vec![t("dept", "y")]);
    }

    #[test]
    fn tag_parsing_reports_each_failure() {
        let p = QueryParams::from_pairs([
            ("Tags.member.1.Key", "ok"),
            ("Tags.member.1.Value", "v"),
            ("Tags.member.2.Key", "bad*"),
        ]);
        let mut c = Checks::new();
        let tags = parse_tags(&mut c, &p, "Tags");
        assert_eq!(tags.len(), 2);
        let e = c.finish().unwrap_err();
        assert!(e.message.starts_with("2 validation errors detected"), "{}", e.message);
        assert!(e.message.contains("Value null at 'tags.2.member.value'"), "{}", e.message);
        assert!(e.message.contains("Value 'bad*' at 'tags.2.member.key'"), "{}", e.message);
    }

    #[test]
    fn sizes_ignore_whitespace() {
        assert_eq!(policy_size("{ \"a\" :\n 1 }"), 7);
    }
}
