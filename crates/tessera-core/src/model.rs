//! Records the services keep in the [`Store`](tessera_store::Store), their tables and keys.
//!
//! Every record is JSON. Keys of per-account entities are `<account-id>/<lower-case name>`,
//! because IAM names are unique case-insensitively within an account while keeping their case.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, StoreError, WriteTxn};

/// Table names.
pub mod table {
    /// [`super::Account`] by account id.
    pub const ACCOUNT: &str = "account";
    /// [`super::AccessKey`] by access key id.
    pub const ACCESS_KEY: &str = "access_key";
    /// [`super::User`] by `<acct>/<lower name>`.
    pub const USER: &str = "iam_user";
    /// [`super::Role`] by `<acct>/<lower name>`.
    pub const ROLE: &str = "iam_role";
    /// [`super::Group`] by `<acct>/<lower name>`.
    pub const GROUP: &str = "iam_group";
    /// Group membership: key `<acct>/<lower group>/<lower user>`, value the user name.
    pub const GROUP_MEMBER: &str = "iam_group_member";
    /// [`super::ManagedPolicy`] by `<acct>/<lower name>` (customer managed only).
    pub const POLICY: &str = "iam_policy";
    /// [`super::InstanceProfile`] by `<acct>/<lower name>`.
    pub const INSTANCE_PROFILE: &str = "iam_instance_profile";
    /// Roles in instance profiles: key `<acct>/<lower role>/<lower profile>`, value the profile name.
    pub const ROLE_INSTANCE_PROFILE: &str = "iam_role_instance_profile";
    /// Uses of managed policies (AWS and customer) by users, groups and roles, as permissions
    /// policy or as permissions boundary: key [`super::attachment_key`], value
    /// [`super::PolicyAttachment`].
    pub const POLICY_ATTACHMENT: &str = "iam_policy_attachment";
    /// Unique id (AIDA/AROA/...) → `<table>\n<key>`.
    pub const UNIQUE_ID: &str = "iam_unique_id";
    /// Singletons: `bootstrap`, `organization`.
    pub const META: &str = "meta";
    /// [`super::Organization`] by organization id.
    pub const ORGANIZATION: &str = "org";
    /// Organizations entities by id: [`super::OrganizationalUnit`] (`ou-...`),
    /// [`super::OrgPolicy`] (`p-...`), [`super::CreateAccountRequest`] (`car-...`).
    pub const ORG_ENTITY: &str = "org_entity";
    /// Policy attachments: `<org>/t/<target>/<policy>` and `<org>/p/<policy>/<target>`, value the policy type.
    pub const ORG_ATTACHMENT: &str = "org_attachment";
    /// Organizations tags ([`super::Tag`] list) by resource id (account, root, OU, policy).
    pub const ORG_TAG: &str = "org_tag";
    /// [`super::AccessReport`] (service last accessed jobs) by `<acct>/<job id>`.
    pub const ACCESS_REPORT: &str = "iam_access_report";
    /// [`super::ServiceSpecificCredential`] by `<acct>/<lower user>/<credential id>`.
    pub const SERVICE_CREDENTIAL: &str = "iam_service_credential";
    /// [`super::ServerCertificate`] by `<acct>/<lower name>`.
    pub const SERVER_CERTIFICATE: &str = "iam_server_certificate";
    /// [`super::SshPublicKey`] by `<acct>/<lower user>/<key id>`.
    pub const SSH_PUBLIC_KEY: &str = "iam_ssh_public_key";
    /// [`super::SigningCertificate`] by `<acct>/<lower user or :root>/<certificate id>`.
    pub const SIGNING_CERTIFICATE: &str = "iam_signing_certificate";
}

/// Key of a per-account, case-insensitively named entity.
pub fn name_key(account: &str, name: &str) -> String {
    format!("{account}/{}", name.to_ascii_lowercase())
}

/// Read and decode a record.
pub fn load<T: DeserializeOwned>(r: &(impl ReadTxn + ?Sized), table: &str, key: &str) -> Result<Option<T>, StoreError> {
    match r.get(table, key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| StoreError::Corrupt {
            table: table.into(),
            key: key.into(),
            reason: e.to_string(),
        }),
    }
}

/// Encode and write a record.
pub fn save<T: Serialize>(
    w: &mut (impl WriteTxn + ?Sized),
    table: &str,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(value).map_err(|e| StoreError::Backend(e.to_string()))?;
    w.put(table, key, &bytes)
}

/// Decode scanned rows.
pub fn decode_rows<T: DeserializeOwned>(
    table: &str,
    rows: Vec<tessera_store::Row>,
) -> Result<Vec<(String, T)>, StoreError> {
    rows.into_iter()
        .map(|(k, v)| match serde_json::from_slice(&v) {
            Ok(t) => Ok((k, t)),
            Err(e) => Err(StoreError::Corrupt { table: table.into(), key: k, reason: e.to_string() }),
        })
        .collect()
}

/// The condition keys of a request that carries `tags`: `aws:RequestTag/<key>` for each and
/// `aws:TagKeys` (none for no tags).
pub fn request_tag_context(tags: &[Tag]) -> Vec<(String, Vec<String>)> {
    let mut ctx: Vec<(String, Vec<String>)> =
        tags.iter().map(|t| (format!("aws:RequestTag/{}", t.key), vec![t.value.clone()])).collect();
    if !tags.is_empty() {
        ctx.push(("aws:TagKeys".into(), tags.iter().map(|t| t.key.clone()).collect()));
    }
    ctx
}

/// A tag, as IAM and STS carry them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Key (1-128).
    pub key: String,
    /// Value (0-256).
    pub value: String,
}

/// An AWS account of this Tessera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// 12-digit id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Email of the root user.
    pub email: String,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// `ACTIVE` / `SUSPENDED`.
    pub status: String,
    /// The organization it belongs to, if any.
    #[serde(default)]
    pub organization_id: Option<String>,
    /// Its parent in the organization (root `r-...` or OU `ou-...`).
    #[serde(default)]
    pub parent_id: Option<String>,
    /// `CREATED` or `INVITED`.
    #[serde(default)]
    pub joined_method: Option<String>,
    /// When it joined its organization.
    #[serde(default)]
    pub joined: Option<i64>,
    /// Account alias (IAM `CreateAccountAlias`).
    #[serde(default)]
    pub alias: Option<String>,
    /// When Organizations' `CloseAccount` closed it (epoch seconds); its status is then
    /// `SUSPENDED` and its principals no longer authenticate.
    #[serde(default)]
    pub closed: Option<i64>,
}

impl Account {
    /// `arn:aws:iam::<id>:root`.
    pub fn root_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.id)
    }
}

/// Who owns an access key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum KeyOwner {
    /// The account's root user.
    Root,
    /// An IAM user, by name (case as created).
    User {
        /// User name.
        name: String,
    },
}

/// A long-term access key (`AKIA...`). The secret is sealed at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKey {
    /// `AKIA...`.
    pub access_key_id: String,
    /// Owning account.
    pub account: String,
    /// Owner.
    pub owner: KeyOwner,
    /// Secret access key, sealed with [`tessera_store::secrets::SecretBox`] under context
    /// [`AccessKey::seal_context`].
    pub secret_sealed: String,
    /// `Active` / `Inactive`.
    pub status: String,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Last use: (epoch seconds, service, region).
    #[serde(default)]
    pub last_used: Option<(i64, String, String)>,
}

impl AccessKey {
    /// The context a key's secret is sealed under.
    pub fn seal_context(access_key_id: &str) -> String {
        format!("access-key/{access_key_id}")
    }
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Account id.
    pub account: String,
    /// Name, case as created.
    pub name: String,
    /// Path (`/` by default).
    pub path: String,
    /// `AIDA...`.
    pub user_id: String,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// ARN of the managed policy used as permissions boundary.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// Inline policies: (name, document).
    #[serde(default)]
    pub inline_policies: Vec<(String, String)>,
    /// ARNs of attached managed policies.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Names of the groups the user is in.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Console password hash (argon2id PHC string), if a login profile exists.
    #[serde(default)]
    pub login_profile: Option<LoginProfile>,
    /// When the password was last used (epoch seconds).
    #[serde(default)]
    pub password_last_used: Option<i64>,
}

impl User {
    /// `arn:aws:iam::<acct>:user<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:user{}{}", self.account, self.path, self.name)
    }
}

/// A console password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginProfile {
    /// argon2id PHC string.
    pub password_hash: String,
    /// Creation time.
    pub created: i64,
    /// Whether the user must change it at next sign-in.
    pub password_reset_required: bool,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Account id.
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `AGPA...`.
    pub group_id: String,
    /// Creation time.
    pub created: i64,
    /// Inline policies: (name, document).
    #[serde(default)]
    pub inline_policies: Vec<(String, String)>,
    /// ARNs of attached managed policies.
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

impl Group {
    /// `arn:aws:iam::<acct>:group<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:group{}{}", self.account, self.path, self.name)
    }
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Account id.
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `AROA...`.
    pub role_id: String,
    /// Creation time.
    pub created: i64,
    /// The trust policy.
    pub assume_role_policy_document: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Max session duration in seconds (3,600-43,200).
    pub max_session_duration: i64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// ARN of the permissions boundary policy.
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// Inline policies: (name, document).
    #[serde(default)]
    pub inline_policies: Vec<(String, String)>,
    /// ARNs of attached managed policies.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Last use: (epoch seconds, region).
    #[serde(default)]
    pub last_used: Option<(i64, String)>,
    /// The role template `AcquireRole` created the role from (docs/ROLE_MANAGER.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_role_template: Option<SourceRoleTemplate>,
}

/// Where a role created by `AcquireRole` came from (the API's `SourceRoleTemplate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRoleTemplate {
    /// The role template's ARN.
    pub template_arn: String,
    /// The minor version used.
    pub template_minor_version: i64,
    /// Digest of the role's trust policy and permissions as created, so that a later change
    /// by hand can be told from a role still as the template made it.
    #[serde(default)]
    pub fingerprint: String,
}

impl Role {
    /// `arn:aws:iam::<acct>:role<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:role{}{}", self.account, self.path, self.name)
    }
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// `v1`, `v2`, ...
    pub version_id: String,
    /// The document.
    pub document: String,
    /// Creation time.
    pub created: i64,
}

/// A customer managed policy (AWS managed policies come from [`crate::managed`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    /// Account id.
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `ANPA...`.
    pub policy_id: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Creation time.
    pub created: i64,
    /// Last update.
    pub updated: i64,
    /// Default version id.
    pub default_version_id: String,
    /// Versions (at most 5), oldest first.
    pub versions: Vec<PolicyVersion>,
    /// Next version number to hand out.
    pub next_version: u32,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    /// `arn:aws:iam::<acct>:policy<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:policy{}{}", self.account, self.path, self.name)
    }
    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        self.versions.iter().find(|v| v.version_id == self.default_version_id).map(|v| v.document.as_str())
    }
}

/// An instance profile: a container for one role that EC2 instances are launched with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceProfile {
    /// Account id.
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `AIPA...`.
    pub instance_profile_id: String,
    /// Creation time.
    pub created: i64,
    /// Names of its roles (at most one).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl InstanceProfile {
    /// `arn:aws:iam::<acct>:instance-profile<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:instance-profile{}{}", self.account, self.path, self.name)
    }
}

/// How a managed policy is used by an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyUsage {
    /// Attached as a permissions policy.
    PermissionsPolicy,
    /// Set as the permissions boundary.
    PermissionsBoundary,
}

impl PolicyUsage {
    fn letter(self) -> char {
        match self {
            PolicyUsage::PermissionsPolicy => 'P',
            PolicyUsage::PermissionsBoundary => 'B',
        }
    }
}

/// The kinds of IAM identity a policy attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityKind {
    /// IAM group.
    Group,
    /// IAM role.
    Role,
    /// IAM user.
    User,
}

impl EntityKind {
    fn letter(self) -> char {
        match self {
            EntityKind::Group => 'G',
            EntityKind::Role => 'R',
            EntityKind::User => 'U',
        }
    }
    /// The word of the ARN resource type and of messages: `user`, `group`, `role`.
    pub fn word(self) -> &'static str {
        match self {
            EntityKind::Group => "group",
            EntityKind::Role => "role",
            EntityKind::User => "user",
        }
    }
}

/// One use of a managed policy by a user, group or role (an index row; the entity records
/// hold the truth in `attached_policies` / `permissions_boundary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAttachment {
    /// Kind of entity.
    pub kind: EntityKind,
    /// Entity name (case as created).
    pub name: String,
    /// Entity path.
    pub path: String,
    /// Entity unique id.
    pub id: String,
    /// How the policy is used.
    pub usage: PolicyUsage,
}

/// Key prefix of every use of `policy_arn` in `account`.
pub fn attachment_prefix(account: &str, policy_arn: &str) -> String {
    format!("{account}/{policy_arn}\n")
}

/// Key prefix of the uses of `policy_arn` in `account` of one kind.
pub fn attachment_usage_prefix(account: &str, policy_arn: &str, usage: PolicyUsage) -> String {
    format!("{account}/{policy_arn}\n{}", usage.letter())
}

/// The policy ARN and usage of an attachment key of `account` (see [`attachment_key`]).
pub fn parse_attachment_key<'k>(account: &str, key: &'k str) -> Option<(&'k str, PolicyUsage)> {
    let (arn, rest) = key.strip_prefix(account)?.strip_prefix('/')?.split_once('\n')?;
    let usage = match rest.as_bytes().first()? {
        b'P' => PolicyUsage::PermissionsPolicy,
        b'B' => PolicyUsage::PermissionsBoundary,
        _ => return None,
    };
    Some((arn, usage))
}

/// Key of one use: `<acct>/<policy arn>\n<usage><kind>\n<lower entity name>`.
pub fn attachment_key(account: &str, policy_arn: &str, usage: PolicyUsage, kind: EntityKind, name: &str) -> String {
    format!("{account}/{policy_arn}\n{}{}\n{}", usage.letter(), kind.letter(), name.to_ascii_lowercase())
}

/// An AWS Organizations organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `o-` + 10.
    pub id: String,
    /// `ALL` or `CONSOLIDATED_BILLING`.
    pub feature_set: String,
    /// Management account id.
    pub management_account: String,
    /// Management account email.
    pub management_email: String,
    /// The root id `r-` + 4.
    pub root_id: String,
    /// Policy types enabled on the root (`SERVICE_CONTROL_POLICY`, `RESOURCE_CONTROL_POLICY`).
    #[serde(default)]
    pub enabled_policy_types: Vec<String>,
    /// Creation time (epoch seconds).
    #[serde(default)]
    pub created: i64,
}

impl Organization {
    /// `arn:aws:organizations::<mgmt>:organization/<id>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:organizations::{}:organization/{}", self.management_account, self.id)
    }
}

/// An organizational unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationalUnit {
    /// `ou-<root suffix>-<8>`.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// Parent: the root `r-...` or another OU.
    pub parent_id: String,
    /// Name (1-128).
    pub name: String,
    /// Creation time (epoch seconds).
    pub created: i64,
}

/// A customer managed Organizations policy (AWS managed ones, `p-FullAWSAccess` and
/// `p-RCPFullAWSAccess`, are built in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicy {
    /// `p-` + 8.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// `SERVICE_CONTROL_POLICY`, `RESOURCE_CONTROL_POLICY`, `TAG_POLICY`, ...
    pub policy_type: String,
    /// Name (1-128), unique per type in the organization.
    pub name: String,
    /// Description (0-512).
    pub description: String,
    /// The document.
    pub content: String,
    /// Creation time (epoch seconds).
    pub created: i64,
}

/// A `CreateAccount` request and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateAccountRequest {
    /// `car-` + 32.
    pub id: String,
    /// The organization.
    pub organization_id: String,
    /// The requested account name.
    pub account_name: String,
    /// Final state: `SUCCEEDED` or `FAILED` (reported as `IN_PROGRESS` in the `CreateAccount` response).
    pub state: String,
    /// When it was requested (epoch seconds).
    pub requested: i64,
    /// When it completed (epoch seconds).
    pub completed: i64,
    /// The new account's id, on success.
    #[serde(default)]
    pub account_id: Option<String>,
    /// `EMAIL_ALREADY_EXISTS`, `INVALID_EMAIL`, ... on failure.
    #[serde(default)]
    pub failure_reason: Option<String>,
}

/// When an entity last made an authenticated call: (epoch seconds, entity ARN, Region).
pub type LastAuthenticated = (i64, String, String);

/// An action of a service last accessed report (`ACTION_LEVEL`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionAccess {
    /// Action name (`CreateUser`).
    pub action: String,
    /// The last call, if any within the tracking window.
    #[serde(default)]
    pub last: Option<LastAuthenticated>,
}

/// An entity (user or role) of a service last accessed report, for `...WithEntities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityAccess {
    /// `User` or `Role`.
    pub kind: EntityKind,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// Unique id.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// Its last call to the service (epoch seconds), if any.
    #[serde(default)]
    pub last: Option<i64>,
}

/// A service of a service last accessed report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccess {
    /// Namespace (`iam`).
    pub namespace: String,
    /// Name (`AWS Identity and Access Management`).
    pub name: String,
    /// The last call by any of the report's entities.
    #[serde(default)]
    pub last: Option<LastAuthenticated>,
    /// How many of the report's entities called it.
    pub total_entities: u32,
    /// Tracked actions (`ACTION_LEVEL` reports).
    #[serde(default)]
    pub actions: Vec<ActionAccess>,
    /// The report's users and roles with their last call.
    #[serde(default)]
    pub entities: Vec<EntityAccess>,
}

/// A service last accessed report job (`GenerateServiceLastAccessedDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessReport {
    /// Job id (36 characters).
    pub job_id: String,
    /// Account.
    pub account: String,
    /// ARN of the user, group, role or policy reported on.
    pub entity_arn: String,
    /// `SERVICE_LEVEL` or `ACTION_LEVEL`.
    pub job_type: String,
    /// ARN of the principal that generated it (only it may read it).
    pub requester: String,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Completion time (epoch seconds).
    pub completed: i64,
    /// The services, by namespace.
    pub services: Vec<ServiceAccess>,
}

/// A service-specific credential of an IAM user (CodeCommit, Keyspaces, Bedrock API key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpecificCredential {
    /// `ACCA...`.
    pub id: String,
    /// Account.
    pub account: String,
    /// The user's name (case as created).
    pub user_name: String,
    /// `codecommit.amazonaws.com`, ...
    pub service_name: String,
    /// `<user>-at-<account>` (user name and password services) or the API key's alias.
    pub service_user_name: String,
    /// argon2id PHC string of the password or API key secret (the clear value is shown once).
    pub secret_hash: String,
    /// `Active` / `Inactive`.
    pub status: String,
    /// Creation time (epoch seconds).
    pub created: i64,
    /// Expiry (epoch seconds), for API keys created with `CredentialAgeDays`.
    #[serde(default)]
    pub expires: Option<i64>,
}

/// A server certificate. The private key is sealed at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCertificate {
    /// Account.
    pub account: String,
    /// Name.
    pub name: String,
    /// Path.
    pub path: String,
    /// `ASCA...`.
    pub id: String,
    /// The certificate (PEM).
    pub body: String,
    /// The chain (PEM), if given.
    #[serde(default)]
    pub chain: Option<String>,
    /// The private key (PEM), sealed with [`tessera_store::secrets::SecretBox`] under
    /// [`ServerCertificate::seal_context`].
    pub private_key_sealed: String,
    /// Upload time (epoch seconds).
    pub uploaded: i64,
    /// The certificate's notAfter (epoch seconds).
    pub expiration: i64,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ServerCertificate {
    /// `arn:aws:iam::<acct>:server-certificate<path><name>`.
    pub fn arn(&self) -> String {
        format!("arn:aws:iam::{}:server-certificate{}{}", self.account, self.path, self.name)
    }
    /// The context the private key is sealed under (its id: a rename keeps it).
    pub fn seal_context(id: &str) -> String {
        format!("server-certificate/{id}")
    }
}

/// An SSH public key of an IAM user (`UploadSSHPublicKey`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshPublicKey {
    /// `APKA...`.
    pub id: String,
    /// The user's name (case as created).
    pub user_name: String,
    /// The key as uploaded (ssh-rsa or PEM text).
    pub body: String,
    /// The key in OpenSSH `ssh-rsa <base64>` form.
    pub ssh: String,
    /// The key as a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub pem: String,
    /// MD5 of the SSH key blob, colon-separated hex.
    pub fingerprint: String,
    /// `Active` / `Inactive`.
    pub status: String,
    /// Upload time (epoch seconds).
    pub uploaded: i64,
}

/// An X.509 signing certificate of an IAM user or of the root user (`UploadSigningCertificate`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningCertificate {
    /// Certificate id (28 characters).
    pub id: String,
    /// The user's name (case as created); `None` for the root user.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The certificate (PEM).
    pub body: String,
    /// SHA-256 of the certificate's DER, hex (duplicates are refused account-wide).
    pub der_sha256: String,
    /// `Active` / `Inactive`.
    pub status: String,
    /// Upload time (epoch seconds).
    pub uploaded: i64,
}
