//! Account-level IAM: the account alias (`Create/Delete/ListAccountAliases`), `GetAccountSummary`,
//! `GetAccountAuthorizationDetails` and the credential report (`Generate/GetCredentialReport`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, StoreError};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::{
    access_keys, already_exists, login, mfa, no_such_entity, providers, read, respond, write, write_tags,
    StoreResultExt,
};
use crate::clock::iso8601;
use crate::managed;
use crate::model::{self, table, AccessKey, Account, Group, InstanceProfile, KeyOwner, ManagedPolicy, Role, User};
use crate::validate::{self, Checks, Page};
use crate::{Call, Services};

/// Account aliases, globally unique: key the alias, value the account id.
pub const ACCOUNT_ALIAS: &str = "iam_account_alias";
/// [`CredentialReport`] by account id.
pub const CREDENTIAL_REPORT: &str = "iam_credential_report";

/// How long a credential report is served before it must be generated again (seconds).
pub const REPORT_LIFETIME_SECS: i64 = 4 * 3600;

/// IAM quotas reported by `GetAccountSummary` (defaults of the IAM quotas page).
pub mod quota {
    /// Users per account.
    pub const USERS: u64 = 5000;
    /// Groups per account.
    pub const GROUPS: u64 = 300;
    /// Roles per account.
    pub const ROLES: u64 = 1000;
    /// Customer managed policies per account.
    pub const POLICIES: u64 = 1500;
    /// Managed policy attachments in use per account.
    pub const POLICY_VERSIONS_IN_USE: u64 = 10000;
    /// Server certificates per account.
    pub const SERVER_CERTIFICATES: u64 = 20;
    /// Instance profiles per account.
    pub const INSTANCE_PROFILES: u64 = 1000;
    /// Inline policy size of a user (characters).
    pub const USER_POLICY_SIZE: u64 = 2048;
    /// Inline policy size of a group.
    pub const GROUP_POLICY_SIZE: u64 = 5120;
    /// Inline policy size of a role.
    pub const ROLE_POLICY_SIZE: u64 = 10240;
    /// Managed policy document size.
    pub const POLICY_SIZE: u64 = 6144;
    /// Trust policy size.
    pub const ASSUME_ROLE_POLICY_SIZE: u64 = 2048;
    /// Groups per user.
    pub const GROUPS_PER_USER: u64 = 10;
    /// Signing certificates per user.
    pub const SIGNING_CERTIFICATES_PER_USER: u64 = 2;
    /// Access keys per user.
    pub const ACCESS_KEYS_PER_USER: u64 = 2;
    /// Managed policies attached to one group / role / user.
    pub const ATTACHED_POLICIES_PER_ENTITY: u64 = 10;
    /// Versions of a managed policy.
    pub const VERSIONS_PER_POLICY: u64 = 5;
}

// ---------------------------------------------------------------------------------------------
// Account alias.

/// `^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$`.
const ALIAS_PATTERN: &str = "^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$";

fn is_alias(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.len() >= 3
        && b.len() <= 63
        && b.first().is_some_and(ok)
        && b.last().is_some_and(ok)
        && b.iter().all(|c| ok(c) || *c == b'-')
        && !s.contains("--")
}

fn alias_param(params: &QueryParams) -> Result<&str, AwsError> {
    let alias = params.required("AccountAlias")?;
    Checks::new()
        .length("accountAlias", alias, 3, 63)
        .pattern("accountAlias", alias, ALIAS_PATTERN, is_alias)
        .finish()?;
    Ok(alias)
}

/// `CreateAccountAlias`: aliases are unique across every account of this Tessera. An account has
/// at most one alias; a new one replaces the old, as the IAM user guide describes.
pub fn create_account_alias(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let alias = alias_param(params)?;
    services.authorize(call, "iam:CreateAccountAlias", "*")?;
    let account_id = call.caller.account.as_str();
    write(services, |txn| {
        if let Some(owner) = txn.get(ACCOUNT_ALIAS, alias).ise()? {
            if owner != account_id.as_bytes() {
                return Err(already_exists(format!("The account alias {alias} already exists.")));
            }
        }
        let mut account: Account =
            model::load(txn, table::ACCOUNT, account_id).ise()?.ok_or_else(AwsError::internal)?;
        if let Some(old) = account.alias.take() {
            txn.delete(ACCOUNT_ALIAS, &old).ise()?;
        }
        account.alias = Some(alias.to_string());
        txn.put(ACCOUNT_ALIAS, alias, account_id.as_bytes()).ise()?;
        model::save(txn, table::ACCOUNT, account_id, &account).ise()
    })?;
    respond(call, None)
}

/// `DeleteAccountAlias`.
pub fn delete_account_alias(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let alias = alias_param(params)?;
    services.authorize(call, "iam:DeleteAccountAlias", "*")?;
    let account_id = call.caller.account.as_str();
    write(services, |txn| {
        let mut account: Account =
            model::load(txn, table::ACCOUNT, account_id).ise()?.ok_or_else(AwsError::internal)?;
        if account.alias.as_deref() != Some(alias) {
            return Err(no_such_entity(format!("The account alias {alias} cannot be found.")));
        }
        account.alias = None;
        txn.delete(ACCOUNT_ALIAS, alias).ise()?;
        model::save(txn, table::ACCOUNT, account_id, &account).ise()
    })?;
    respond(call, None)
}

/// `ListAccountAliases`.
pub fn list_account_aliases(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let page = Page::from_params(params)?;
    services.authorize(call, "iam:ListAccountAliases", "*")?;
    let account_id = call.caller.account.as_str();
    let account: Option<Account> = read(services, |r| model::load(r, table::ACCOUNT, account_id).ise())?;
    let aliases: Vec<String> = account.and_then(|a| a.alias).into_iter().collect();
    let (aliases, next) = page.apply(aliases, Clone::clone);
    let mut w = XmlWriter::fragment();
    w.open("AccountAliases", None);
    for a in &aliases {
        w.elem("member", a);
    }
    w.close();
    validate::write_truncation(&mut w, next.as_deref());
    respond(call, Some(w.finish()))
}

/// The account id owning `alias`, if any (for sign-in URLs and the like).
pub fn account_by_alias(r: &(impl ReadTxn + ?Sized), alias: &str) -> Result<Option<String>, StoreError> {
    Ok(r.get(ACCOUNT_ALIAS, alias)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

// ---------------------------------------------------------------------------------------------
// Entities of an account, as GetAccountSummary and GetAccountAuthorizationDetails see them.

struct Entities {
    users: Vec<User>,
    groups: Vec<Group>,
    roles: Vec<Role>,
    policies: Vec<ManagedPolicy>,
}

fn load_entities(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<Entities, StoreError> {
    let prefix = format!("{account}/");
    let all = |t: &str| r.scan(t, &prefix, None, usize::MAX);
    Ok(Entities {
        users: model::decode_rows(table::USER, all(table::USER)?)?.into_iter().map(|(_, v)| v).collect(),
        groups: model::decode_rows(table::GROUP, all(table::GROUP)?)?.into_iter().map(|(_, v)| v).collect(),
        roles: model::decode_rows(table::ROLE, all(table::ROLE)?)?.into_iter().map(|(_, v)| v).collect(),
        policies: model::decode_rows(table::POLICY, all(table::POLICY)?)?.into_iter().map(|(_, v)| v).collect(),
    })
}

impl Entities {
    /// Every managed policy ARN attached (as permissions policy) to a user, group or role.
    fn attachments(&self) -> impl Iterator<Item = &String> {
        self.users
            .iter()
            .flat_map(|u| u.attached_policies.iter())
            .chain(self.groups.iter().flat_map(|g| g.attached_policies.iter()))
            .chain(self.roles.iter().flat_map(|r| r.attached_policies.iter()))
    }
    fn attachment_count(&self, arn: &str) -> usize {
        self.attachments().filter(|a| a.as_str() == arn).count()
    }
    fn boundary_count(&self, arn: &str) -> usize {
        self.users.iter().filter_map(|u| u.permissions_boundary.as_deref()).filter(|b| *b == arn).count()
            + self.roles.iter().filter_map(|r| r.permissions_boundary.as_deref()).filter(|b| *b == arn).count()
    }
}

/// `GetAccountSummary`: counts from the store and the quotas in force.
pub fn get_account_summary(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    services.authorize(call, "iam:GetAccountSummary", "*")?;
    let account = call.caller.account.as_str();
    let prefix = format!("{account}/");
    let (entities, counts) = read(services, |r| {
        let entities = load_entities(r, account).ise()?;
        let (mfa_all, mfa_in_use) = mfa::count_devices(r, account).ise()?;
        let providers = providers::count_providers(r, account).ise()?;
        let instance_profiles = r.count(table::INSTANCE_PROFILE, &prefix).ise()?;
        let root_keys = r.count(access_keys::USER_ACCESS_KEY, &format!("{account}/:root/")).ise()?;
        let root_certs = r.count(table::SIGNING_CERTIFICATE, &format!("{account}/:root/")).ise()?;
        let server_certs = r.count(table::SERVER_CERTIFICATE, &prefix).ise()?;
        let token_version = crate::iam::sts_preferences::global_endpoint_token_version(r, account).ise()?;
        let root_mfa = u64::from(mfa::root_mfa_enabled(r, account).ise()?);
        Ok((
            entities,
            [
                mfa_all,
                mfa_in_use,
                providers,
                instance_profiles,
                root_keys,
                root_certs,
                server_certs,
                token_version,
                root_mfa,
            ],
        ))
    })?;
    let [mfa_all, mfa_in_use, providers, instance_profiles, root_keys, root_certs, server_certs, token_version, root_mfa] =
        counts;
    let n = |v: usize| v as u64;
    let entries: Vec<(&str, u64)> = vec![
        ("Users", n(entities.users.len())),
        ("UsersQuota", quota::USERS),
        ("Groups", n(entities.groups.len())),
        ("GroupsQuota", quota::GROUPS),
        ("Roles", n(entities.roles.len())),
        ("RolesQuota", quota::ROLES),
        ("Policies", n(entities.policies.len())),
        ("PoliciesQuota", quota::POLICIES),
        ("PolicyVersionsInUse", n(entities.attachments().count())),
        ("PolicyVersionsInUseQuota", quota::POLICY_VERSIONS_IN_USE),
        ("ServerCertificates", server_certs),
        ("ServerCertificatesQuota", quota::SERVER_CERTIFICATES),
        ("InstanceProfiles", instance_profiles),
        ("InstanceProfilesQuota", quota::INSTANCE_PROFILES),
        ("MFADevices", mfa_all),
        ("MFADevicesInUse", mfa_in_use),
        ("AccountMFAEnabled", root_mfa),
        ("AccountAccessKeysPresent", u64::from(root_keys > 0)),
        ("AccountSigningCertificatesPresent", u64::from(root_certs > 0)),
        ("Providers", providers),
        ("UserPolicySizeQuota", quota::USER_POLICY_SIZE),
        ("GroupPolicySizeQuota", quota::GROUP_POLICY_SIZE),
        ("RolePolicySizeQuota", quota::ROLE_POLICY_SIZE),
        ("PolicySizeQuota", quota::POLICY_SIZE),
        ("AssumeRolePolicySizeQuota", quota::ASSUME_ROLE_POLICY_SIZE),
        ("GroupsPerUserQuota", quota::GROUPS_PER_USER),
        ("SigningCertificatesPerUserQuota", quota::SIGNING_CERTIFICATES_PER_USER),
        ("AccessKeysPerUserQuota", quota::ACCESS_KEYS_PER_USER),
        ("AttachedPoliciesPerGroupQuota", quota::ATTACHED_POLICIES_PER_ENTITY),
        ("AttachedPoliciesPerRoleQuota", quota::ATTACHED_POLICIES_PER_ENTITY),
        ("AttachedPoliciesPerUserQuota", quota::ATTACHED_POLICIES_PER_ENTITY),
        ("VersionsPerPolicyQuota", quota::VERSIONS_PER_POLICY),
        ("GlobalEndpointTokenVersion", token_version),
    ];
    let mut w = XmlWriter::fragment();
    w.open("SummaryMap", None);
    for (k, v) in entries {
        w.open("entry", None).elem("key", k).elem("value", &v.to_string()).close();
    }
    w.close();
    respond(call, Some(w.finish()))
}

// ---------------------------------------------------------------------------------------------
// GetAccountAuthorizationDetails.

/// Policy documents in IAM responses are URL-encoded (RFC 3986 unreserved characters kept), as
/// AWS sends them; the SDKs decode them.
pub fn url_encode_document(doc: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    utf8_percent_encode(doc, KEEP).to_string()
}

fn policy_name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn write_inline(w: &mut XmlWriter, element: &'static str, policies: &[(String, String)]) {
    w.open(element, None);
    for (name, doc) in policies {
        w.open("member", None).elem("PolicyName", name).elem("PolicyDocument", &url_encode_document(doc)).close();
    }
    w.close();
}

fn write_attached(w: &mut XmlWriter, arns: &[String]) {
    w.open("AttachedManagedPolicies", None);
    for arn in arns {
        w.open("member", None).elem("PolicyName", policy_name_of(arn)).elem("PolicyArn", arn).close();
    }
    w.close();
}

fn write_boundary(w: &mut XmlWriter, boundary: Option<&str>) {
    if let Some(b) = boundary {
        w.open("PermissionsBoundary", None)
            .elem("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
            .elem("PermissionsBoundaryArn", b)
            .close();
    }
}

/// One item of the combined, ordered sequence the details are paged over.
enum Detail<'a> {
    User(&'a User),
    Group(&'a Group),
    Role(&'a Role),
    Local(&'a ManagedPolicy),
    Aws(&'static managed::AwsManagedPolicy),
}

impl Detail<'_> {
    fn sort_key(&self) -> String {
        match self {
            Detail::User(u) => format!("1/{}", u.name.to_ascii_lowercase()),
            Detail::Group(g) => format!("2/{}", g.name.to_ascii_lowercase()),
            Detail::Role(r) => format!("3/{}", r.name.to_ascii_lowercase()),
            Detail::Local(p) => format!("4/{}", p.name.to_ascii_lowercase()),
            Detail::Aws(p) => format!("5/{}", p.arn()),
        }
    }
}

/// `GetAccountAuthorizationDetails`: every user, group, role and managed policy in use, with
/// their policies, `Filter`ed and paged (`MaxItems` counts entities of every kind together).
pub fn get_account_authorization_details(
    services: &Services,
    call: &Call,
    params: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let filter = params.list("Filter");
    for f in &filter {
        if !matches!(*f, "User" | "Role" | "Group" | "LocalManagedPolicy" | "AWSManagedPolicy") {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '[{}]' at 'filter' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [User, Role, Group, LocalManagedPolicy, AWSManagedPolicy]]",
                filter.join(", ")
            )));
        }
    }
    let wants = |kind: &str| filter.is_empty() || filter.contains(&kind);
    let page = Page::from_params(params)?;
    services.authorize(call, "iam:GetAccountAuthorizationDetails", "*")?;
    let account = call.caller.account.as_str();
    let (entities, profiles) = read(services, |r| {
        let entities = load_entities(r, account).ise()?;
        let rows = r.scan(table::INSTANCE_PROFILE, &format!("{account}/"), None, usize::MAX).ise()?;
        let profiles = model::decode_rows::<InstanceProfile>(table::INSTANCE_PROFILE, rows).ise()?;
        Ok((entities, profiles.into_iter().map(|(_, p)| p).collect::<Vec<_>>()))
    })?;

    let mut items: Vec<Detail<'_>> = Vec::new();
    if wants("User") {
        items.extend(entities.users.iter().map(Detail::User));
    }
    if wants("Group") {
        items.extend(entities.groups.iter().map(Detail::Group));
    }
    if wants("Role") {
        items.extend(entities.roles.iter().map(Detail::Role));
    }
    if wants("LocalManagedPolicy") {
        items.extend(entities.policies.iter().map(Detail::Local));
    }
    if wants("AWSManagedPolicy") {
        let used: std::collections::BTreeSet<&str> = entities
            .attachments()
            .map(String::as_str)
            .chain(entities.users.iter().filter_map(|u| u.permissions_boundary.as_deref()))
            .chain(entities.roles.iter().filter_map(|r| r.permissions_boundary.as_deref()))
            .collect();
        items.extend(used.into_iter().filter_map(managed::by_arn).map(Detail::Aws));
    }
    items.sort_by_key(Detail::sort_key);
    let (items, next) = page.apply(items, Detail::sort_key);

    let mut users = XmlWriter::fragment();
    let mut groups = XmlWriter::fragment();
    let mut roles = XmlWriter::fragment();
    let mut policies = XmlWriter::fragment();
    for item in &items {
        match item {
            Detail::User(u) => {
                let w = &mut users;
                w.open("member", None);
                w.elem("Path", &u.path)
                    .elem("UserName", &u.name)
                    .elem("UserId", &u.user_id)
                    .elem("Arn", &u.arn())
                    .elem("CreateDate", &iso8601(u.created));
                write_inline(w, "UserPolicyList", &u.inline_policies);
                w.open("GroupList", None);
                for g in &u.groups {
                    w.elem("member", g);
                }
                w.close();
                write_attached(w, &u.attached_policies);
                write_boundary(w, u.permissions_boundary.as_deref());
                write_tags(w, &u.tags);
                w.close();
            }
            Detail::Group(g) => {
                let w = &mut groups;
                w.open("member", None);
                w.elem("Path", &g.path)
                    .elem("GroupName", &g.name)
                    .elem("GroupId", &g.group_id)
                    .elem("Arn", &g.arn())
                    .elem("CreateDate", &iso8601(g.created));
                write_inline(w, "GroupPolicyList", &g.inline_policies);
                write_attached(w, &g.attached_policies);
                w.close();
            }
            Detail::Role(r) => {
                let w = &mut roles;
                w.open("member", None);
                w.elem("Path", &r.path)
                    .elem("RoleName", &r.name)
                    .elem("RoleId", &r.role_id)
                    .elem("Arn", &r.arn())
                    .elem("CreateDate", &iso8601(r.created))
                    .elem("AssumeRolePolicyDocument", &url_encode_document(&r.assume_role_policy_document));
                w.open("InstanceProfileList", None);
                for p in profiles.iter().filter(|p| p.roles.iter().any(|n| n.eq_ignore_ascii_case(&r.name))) {
                    write_instance_profile(w, p, r);
                }
                w.close();
                write_inline(w, "RolePolicyList", &r.inline_policies);
                write_attached(w, &r.attached_policies);
                write_boundary(w, r.permissions_boundary.as_deref());
                write_tags(w, &r.tags);
                w.open("RoleLastUsed", None);
                if let Some((at, region)) = &r.last_used {
                    w.elem("LastUsedDate", &iso8601(*at)).elem("Region", region);
                }
                w.close();
                w.close();
            }
            Detail::Local(p) => {
                let arn = p.arn();
                let w = &mut policies;
                w.open("member", None);
                w.elem("PolicyName", &p.name)
                    .elem("PolicyId", &p.policy_id)
                    .elem("Arn", &arn)
                    .elem("Path", &p.path)
                    .elem("DefaultVersionId", &p.default_version_id)
                    .elem("AttachmentCount", &entities.attachment_count(&arn).to_string())
                    .elem("PermissionsBoundaryUsageCount", &entities.boundary_count(&arn).to_string())
                    .elem("IsAttachable", "true");
                w.opt("Description", p.description.as_deref());
                w.elem("CreateDate", &iso8601(p.created)).elem("UpdateDate", &iso8601(p.updated));
                w.open("PolicyVersionList", None);
                for v in &p.versions {
                    w.open("member", None)
                        .elem("Document", &url_encode_document(&v.document))
                        .elem("VersionId", &v.version_id)
                        .elem("IsDefaultVersion", if v.version_id == p.default_version_id { "true" } else { "false" })
                        .elem("CreateDate", &iso8601(v.created))
                        .close();
                }
                w.close();
                w.close();
            }
            Detail::Aws(p) => {
                let arn = p.arn();
                let w = &mut policies;
                w.open("member", None);
                w.elem("PolicyName", p.name)
                    .elem("PolicyId", p.policy_id)
                    .elem("Arn", arn)
                    .elem("Path", p.path)
                    .elem("DefaultVersionId", p.version_id)
                    .elem("AttachmentCount", &entities.attachment_count(arn).to_string())
                    .elem("PermissionsBoundaryUsageCount", &entities.boundary_count(arn).to_string())
                    .elem("IsAttachable", "true");
                w.opt("Description", p.description);
                w.elem("CreateDate", &iso8601(p.created)).elem("UpdateDate", &iso8601(p.updated));
                w.open("PolicyVersionList", None)
                    .open("member", None)
                    .elem("Document", &url_encode_document(p.document))
                    .elem("VersionId", p.version_id)
                    .elem("IsDefaultVersion", "true")
                    .elem("CreateDate", &iso8601(p.updated))
                    .close()
                    .close();
                w.close();
            }
        }
    }
    let mut w = XmlWriter::fragment();
    w.open("UserDetailList", None).raw(&users.finish()).close();
    w.open("GroupDetailList", None).raw(&groups.finish()).close();
    w.open("RoleDetailList", None).raw(&roles.finish()).close();
    w.open("Policies", None).raw(&policies.finish()).close();
    validate::write_truncation(&mut w, next.as_deref());
    respond(call, Some(w.finish()))
}

/// An instance profile of a role, as `RoleDetail.InstanceProfileList` shows it.
fn write_instance_profile(w: &mut XmlWriter, profile: &InstanceProfile, role: &Role) {
    w.open("member", None);
    w.elem("Path", &profile.path)
        .elem("InstanceProfileName", &profile.name)
        .elem("InstanceProfileId", &profile.instance_profile_id)
        .elem("Arn", &profile.arn())
        .elem("CreateDate", &iso8601(profile.created));
    w.open("Roles", None).open("member", None);
    w.elem("Path", &role.path)
        .elem("RoleName", &role.name)
        .elem("RoleId", &role.role_id)
        .elem("Arn", &role.arn())
        .elem("CreateDate", &iso8601(role.created))
        .elem("AssumeRolePolicyDocument", &url_encode_document(&role.assume_role_policy_document));
    w.close().close();
    if !profile.tags.is_empty() {
        write_tags(w, &profile.tags);
    }
    w.close();
}

// ---------------------------------------------------------------------------------------------
// Credential report.

/// A generated credential report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialReport {
    /// When it was generated.
    pub generated: i64,
    /// The CSV.
    pub csv: String,
}

/// Dates in the report: `2024-01-02T03:04:05+00:00`.
fn report_date(secs: i64) -> String {
    let iso = iso8601(secs);
    format!("{}+00:00", iso.trim_end_matches('Z'))
}

/// The access key and signing certificate columns (`cert_N_last_rotated` is the upload date).
fn key_columns(out: &mut Vec<String>, keys: &[AccessKey], certs: &[crate::model::SigningCertificate]) {
    for i in 0..2 {
        match keys.get(i) {
            Some(k) => {
                out.push((k.status == "Active").to_string());
                out.push(report_date(k.created));
                match &k.last_used {
                    Some((at, service, region)) => {
                        out.push(report_date(*at));
                        out.push(region.clone());
                        out.push(service.clone());
                    }
                    None => out.extend(["N/A".to_string(), "N/A".to_string(), "N/A".to_string()]),
                }
            }
            None => {
                out.push("false".into());
                out.extend(std::iter::repeat_n("N/A".to_string(), 4));
            }
        }
    }
    for i in 0..2 {
        match certs.get(i) {
            Some(c) => out.extend([(c.status == "Active").to_string(), report_date(c.uploaded)]),
            None => out.extend(["false".to_string(), "N/A".to_string()]),
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// Build the CSV of `account` as it stands.
fn build_report(r: &(impl ReadTxn + ?Sized), account_id: &str) -> Result<String, StoreError> {
    let account: Option<Account> = model::load(r, table::ACCOUNT, account_id)?;
    let policy = login::password_policy(r, account_id)?;
    let mut lines = vec![REPORT_HEADER.to_string()];

    let mut root = vec![
        "<root_account>".to_string(),
        format!("arn:aws:iam::{account_id}:root"),
        report_date(account.as_ref().map_or(0, |a| a.created)),
        "not_supported".into(),
        "no_information".into(),
        "not_supported".into(),
        "not_supported".into(),
        mfa::root_mfa_enabled(r, account_id)?.to_string(),
    ];
    let root_certs =
        crate::iam::per_user::of_owner(r, table::SIGNING_CERTIFICATE, account_id, crate::iam::per_user::ROOT_OWNER)?;
    key_columns(&mut root, &access_keys::keys_of(r, account_id, &KeyOwner::Root)?, &root_certs);
    lines.push(root.join(","));

    let rows = r.scan(table::USER, &format!("{account_id}/"), None, usize::MAX)?;
    for (_, user) in model::decode_rows::<User>(table::USER, rows)? {
        let state = login::password_state(r, account_id, &user.name)?;
        let has_password = user.login_profile.is_some();
        let changed = state.as_ref().map(|s| s.changed).filter(|_| has_password);
        let next_rotation = match (changed, policy.as_ref().and_then(|p| p.max_password_age)) {
            (Some(c), Some(days)) => report_date(c + days * 86_400),
            _ => "N/A".into(),
        };
        let mfa_active = r.count(mfa::USER_MFA_DEVICE, &mfa::user_prefix(account_id, &user.name))? > 0;
        let mut row = vec![
            csv_field(&user.name),
            csv_field(&user.arn()),
            report_date(user.created),
            has_password.to_string(),
            match (has_password, user.password_last_used) {
                (false, _) => "N/A".into(),
                (true, Some(t)) => report_date(t),
                (true, None) => "no_information".into(),
            },
            changed.map_or_else(|| "N/A".into(), report_date),
            next_rotation,
            mfa_active.to_string(),
        ];
        let keys = access_keys::keys_of(r, account_id, &KeyOwner::User { name: user.name.clone() })?;
        let certs = crate::iam::per_user::of_owner(r, table::SIGNING_CERTIFICATE, account_id, &user.name)?;
        key_columns(&mut row, &keys, &certs);
        lines.push(row.join(","));
    }
    let mut csv = lines.join("\n");
    csv.push('\n');
    Ok(csv)
}

/// `GenerateCredentialReport`: the report is built at once; the first call answers `STARTED` as
/// AWS does for a new report, later calls `COMPLETE` until the report is four hours old.
pub fn generate_credential_report(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    services.authorize(call, "iam:GenerateCredentialReport", "*")?;
    let account = call.caller.account.as_str();
    let now = call.now_secs();
    let fresh = read(services, |r| {
        let existing: Option<CredentialReport> = model::load(r, CREDENTIAL_REPORT, account).ise()?;
        Ok(existing.is_some_and(|rep| now - rep.generated < REPORT_LIFETIME_SECS))
    })?;
    let mut w = XmlWriter::fragment();
    if fresh {
        w.elem("State", "COMPLETE");
    } else {
        write(services, |txn| {
            let csv = build_report(txn, account).ise()?;
            model::save(txn, CREDENTIAL_REPORT, account, &CredentialReport { generated: now, csv }).ise()
        })?;
        w.elem("State", "STARTED").elem("Description", "No report exists. Starting a new report generation task");
    }
    respond(call, Some(w.finish()))
}

/// `GetCredentialReport`: the CSV, base64 in the XML as every blob is.
pub fn get_credential_report(services: &Services, call: &Call) -> Result<WireResponse, AwsError> {
    services.authorize(call, "iam:GetCredentialReport", "*")?;
    let account = call.caller.account.as_str();
    let report: Option<CredentialReport> = read(services, |r| model::load(r, CREDENTIAL_REPORT, account).ise())?;
    let Some(report) = report else {
        return Err(AwsError::new(
            410,
            "ReportNotPresent",
            "Credential report does not exist. Use GenerateCredentialReport to generate a report.",
        ));
    };
    if call.now_secs() - report.generated >= REPORT_LIFETIME_SECS {
        return Err(AwsError::new(
            410,
            "ReportExpired",
            "The credential report has expired. Use GenerateCredentialReport to generate a new report.",
        ));
    }
    let mut w = XmlWriter::fragment();
    w.elem("Content", &B64.encode(report.csv.as_bytes()))
        .elem("ReportFormat", "text/csv")
        .elem("GeneratedTime", &iso8601(report.generated));
    respond(call, Some(w.finish()))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn run(services: &Services, call: &Call, p: &[(&str, &str)]) -> Result<String, AwsError> {
        let r = super::super::handle(services, call, &params(p)).expect("handled")?;
        Ok(body(&r))
    }

    fn with_account(s: &Services, id: &str) {
        let mut txn = s.store.write().unwrap();
        crate::bootstrap::create_account(txn.as_mut(), id, "acct", &format!("{id}@example.com"), 1_600_000_000)
            .unwrap();
        txn.commit().unwrap();
    }

    #[test]
    fn aliases_are_unique_and_replaced() {
        let s = services_at(1);
        with_account(&s, ACCOUNT);
        with_account(&s, "210987654321");
        let c = |op| root_call(op, 1);
        for bad in ["ab", "-abc", "abc-", "a--b", "ABC", "a_b"] {
            let e = run(&s, &c("CreateAccountAlias"), &[("AccountAlias", bad)]).unwrap_err();
            assert_eq!(e.code, "ValidationError", "{bad}");
        }
        run(&s, &c("CreateAccountAlias"), &[("AccountAlias", "my-corp")]).unwrap();
        let mut other = c("CreateAccountAlias");
        other.caller = crate::Caller::root("210987654321", "AKIAOTHER");
        let e = run(&s, &other, &[("AccountAlias", "my-corp")]).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("EntityAlreadyExists", 409));
        run(&s, &c("CreateAccountAlias"), &[("AccountAlias", "my-corp-2")]).unwrap();
        let list = run(&s, &c("ListAccountAliases"), &[]).unwrap();
        assert!(list.contains("<AccountAliases><member>my-corp-2</member></AccountAliases>"), "{list}");
        run(&s, &other, &[("AccountAlias", "my-corp")]).unwrap();
        let e = run(&s, &c("DeleteAccountAlias"), &[("AccountAlias", "my-corp")]).unwrap_err();
        assert_eq!(e.code, "NoSuchEntity");
        run(&s, &c("DeleteAccountAlias"), &[("AccountAlias", "my-corp-2")]).unwrap();
        let list = run(&s, &c("ListAccountAliases"), &[]).unwrap();
        assert!(list.contains("<AccountAliases></AccountAliases>"));
    }

    #[test]
    fn summary_counts() {
        let s = services_at(1);
        with_account(&s, ACCOUNT);
        put_user(&s, "a");
        put_user(&s, "b");
        run(&s, &root_call("CreateAccessKey", 1), &[]).unwrap();
        run(&s, &root_call("CreateVirtualMFADevice", 1), &[("VirtualMFADeviceName", "d")]).unwrap();
        let got = run(&s, &root_call("GetAccountSummary", 1), &[]).unwrap();
        assert!(got.contains("<entry><key>Users</key><value>2</value></entry>"), "{got}");
        assert!(got.contains("<entry><key>UsersQuota</key><value>5000</value></entry>"));
        assert!(got.contains("<entry><key>MFADevices</key><value>1</value></entry>"));
        assert!(got.contains("<entry><key>MFADevicesInUse</key><value>0</value></entry>"));
        assert!(got.contains("<entry><key>AccountAccessKeysPresent</key><value>1</value></entry>"));
    }

    #[test]
    fn authorization_details_pages_and_filters() {
        let s = services_at(1);
        with_account(&s, ACCOUNT);
        for n in ["u1", "u2", "u3"] {
            put_user(&s, n);
        }
        let got = run(&s, &root_call("GetAccountAuthorizationDetails", 1), &[("MaxItems", "2")]).unwrap();
        assert_eq!(got.matches("<UserName>").count(), 2);
        assert_eq!(elem(&got, "IsTruncated").as_deref(), Some("true"));
        let marker = elem(&got, "Marker").unwrap();
        let got = run(&s, &root_call("GetAccountAuthorizationDetails", 1), &[("MaxItems", "2"), ("Marker", &marker)])
            .unwrap();
        assert_eq!(got.matches("<UserName>").count(), 1);
        assert!(got.contains("<UserName>u3</UserName>"));
        assert_eq!(elem(&got, "IsTruncated").as_deref(), Some("false"));
        let got = run(&s, &root_call("GetAccountAuthorizationDetails", 1), &[("Filter.member.1", "Role")]).unwrap();
        assert!(!got.contains("<UserName>"));
        let e = run(&s, &root_call("GetAccountAuthorizationDetails", 1), &[("Filter.member.1", "Users")]).unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert_eq!(url_encode_document("{\"a\": \"b c\"}"), "%7B%22a%22%3A%20%22b%20c%22%7D");
    }

    #[test]
    fn credential_report() {
        let t = 1_700_000_000;
        let s = services_at(t);
        with_account(&s, ACCOUNT);
        put_user(&s, "alice");
        run(&s, &root_call("CreateAccessKey", t), &[("UserName", "alice")]).unwrap();
        let e = run(&s, &root_call("GetCredentialReport", t), &[]).unwrap_err();
        assert_eq!((e.code.as_str(), e.status), ("ReportNotPresent", 410));
        let g = run(&s, &root_call("GenerateCredentialReport", t), &[]).unwrap();
        assert_eq!(elem(&g, "State").as_deref(), Some("STARTED"));
        let g = run(&s, &root_call("GenerateCredentialReport", t + 1), &[]).unwrap();
        assert_eq!(elem(&g, "State").as_deref(), Some("COMPLETE"));
        let got = run(&s, &root_call("GetCredentialReport", t + 2), &[]).unwrap();
        let csv = String::from_utf8(B64.decode(elem(&got, "Content").unwrap()).unwrap()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], REPORT_HEADER);
        assert!(lines[1].starts_with(&format!("<root_account>,arn:aws:iam::{ACCOUNT}:root,")));
        let alice: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(alice.len(), 22);
        assert_eq!(&alice[..2], &["alice", "arn:aws:iam::123456789012:user/alice"]);
        assert_eq!(alice[3], "false");
        assert_eq!(alice[8], "true");
        assert_eq!(alice[9], report_date(t));
        assert_eq!(alice[13], "false");
        let e = run(&s, &root_call("GetCredentialReport", t + REPORT_LIFETIME_SECS), &[]).unwrap_err();
        assert_eq!(e.code, "ReportExpired");
    }
}
