//! Service-linked roles (`using-service-linked-roles.html`): CreateServiceLinkedRole,
//! DeleteServiceLinkedRole, GetServiceLinkedRoleDeletionStatus, and the protection AWS gives
//! them: a role under `/aws-service-role/` can only be changed by its service, so
//! `UpdateAssumeRolePolicy`, `DeleteRole`, the inline and attached policy operations and the
//! permissions boundary operations answer `UnmodifiableEntity` for it.
//!
//! Each supported service has the role name, the AWS managed policy and the custom-suffix rule
//! its "Using service-linked roles" page documents ([`SERVICES`]); the role trusts the service
//! alone and lives at `/aws-service-role/<service>/`. Tessera runs none of these services, so
//! nothing ever uses a service-linked role and a deletion completes at once (`SUCCEEDED`), unless
//! the role is still in an instance profile (`FAILED`, and the role is kept).

use serde::{Deserialize, Serialize};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    entity_context, invalid_input, load_named, no_such, no_such_entity, release_unique_id, unindex_use, Cx,
    StoreResultExt,
};
use super::roles::{self, NewRole, SERVICE_LINKED_PATH};
use crate::authz::AuthzRequest;
use crate::model::{self, table, EntityKind, PolicyUsage, Role};
use crate::validate::Checks;
use crate::CallerKind;
use tessera_policy::{Effect, EvalDecision, PolicyType};

/// Deletion tasks by `<acct>/<task id>`.
pub const DELETION_TASK: &str = "iam_slr_deletion_task";

/// A service that can have a service-linked role.
#[derive(Debug, Clone, Copy)]
pub struct LinkedService {
    /// `AWSServiceName`, e.g. `autoscaling.amazonaws.com`.
    pub service: &'static str,
    /// The fixed role name.
    pub role_name: &'static str,
    /// The AWS managed policy attached (name under `aws-service-role/`).
    pub policy: &'static str,
    /// Whether `CustomSuffix` is allowed (the role is then `<role_name>_<suffix>`).
    pub custom_suffix: bool,
}

const fn svc(
    service: &'static str,
    role_name: &'static str,
    policy: &'static str,
    custom_suffix: bool,
) -> LinkedService {
    LinkedService { service, role_name, policy, custom_suffix }
}

/// The services Tessera knows, from each service's "Using service-linked roles" page.
pub const SERVICES: &[LinkedService] = &[
    svc("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling", "AutoScalingServiceRolePolicy", true),
    svc(
        "elasticloadbalancing.amazonaws.com",
        "AWSServiceRoleForElasticLoadBalancing",
        "AWSElasticLoadBalancingServiceRolePolicy",
        false,
    ),
    svc("ecs.amazonaws.com", "AWSServiceRoleForECS", "AmazonECSServiceRolePolicy", false),
    svc("eks.amazonaws.com", "AWSServiceRoleForAmazonEKS", "AmazonEKSServiceRolePolicy", false),
    svc(
        "eks-nodegroup.amazonaws.com",
        "AWSServiceRoleForAmazonEKSNodegroup",
        "AWSServiceRoleForAmazonEKSNodegroup",
        false,
    ),
    svc("rds.amazonaws.com", "AWSServiceRoleForRDS", "AmazonRDSServiceRolePolicy", false),
    svc("redshift.amazonaws.com", "AWSServiceRoleForRedshift", "AmazonRedshiftServiceLinkedRolePolicy", false),
    svc("organizations.amazonaws.com", "AWSServiceRoleForOrganizations", "AWSOrganizationsServiceTrustPolicy", false),
    svc("sso.amazonaws.com", "AWSServiceRoleForSSO", "AWSSSOServiceRolePolicy", false),
    svc("config.amazonaws.com", "AWSServiceRoleForConfig", "AWSConfigServiceRolePolicy", false),
    svc("guardduty.amazonaws.com", "AWSServiceRoleForAmazonGuardDuty", "AmazonGuardDutyServiceRolePolicy", false),
    svc("securityhub.amazonaws.com", "AWSServiceRoleForSecurityHub", "AWSSecurityHubServiceRolePolicy", false),
    svc("access-analyzer.amazonaws.com", "AWSServiceRoleForAccessAnalyzer", "AccessAnalyzerServiceRolePolicy", false),
    svc("cloudtrail.amazonaws.com", "AWSServiceRoleForCloudTrail", "CloudTrailServiceRolePolicy", false),
    svc("trustedadvisor.amazonaws.com", "AWSServiceRoleForTrustedAdvisor", "AWSTrustedAdvisorServiceRolePolicy", false),
    svc("support.amazonaws.com", "AWSServiceRoleForSupport", "AWSSupportServiceRolePolicy", false),
    svc("spot.amazonaws.com", "AWSServiceRoleForEC2Spot", "AWSEC2SpotServiceRolePolicy", false),
    svc("spotfleet.amazonaws.com", "AWSServiceRoleForEC2SpotFleet", "AWSEC2SpotFleetServiceRolePolicy", false),
    svc("elasticache.amazonaws.com", "AWSServiceRoleForElastiCache", "ElastiCacheServiceRolePolicy", false),
    svc(
        "opensearchservice.amazonaws.com",
        "AWSServiceRoleForAmazonOpenSearchService",
        "AmazonOpenSearchServiceRolePolicy",
        false,
    ),
    svc("ssm.amazonaws.com", "AWSServiceRoleForAmazonSSM", "AmazonSSMServiceRolePolicy", false),
    svc("backup.amazonaws.com", "AWSServiceRoleForBackup", "AWSBackupServiceLinkedRolePolicyForBackup", false),
    svc("kafka.amazonaws.com", "AWSServiceRoleForKafka", "KafkaServiceRolePolicy", false),
    svc(
        "ecs.application-autoscaling.amazonaws.com",
        "AWSServiceRoleForApplicationAutoScaling_ECSService",
        "AWSApplicationAutoscalingECSServicePolicy",
        false,
    ),
    svc(
        "dynamodb.application-autoscaling.amazonaws.com",
        "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable",
        "AWSApplicationAutoscalingDynamoDBTablePolicy",
        false,
    ),
];

/// The known service named `name` (exactly, as AWS matches it).
pub fn linked_service(name: &str) -> Option<&'static LinkedService> {
    SERVICES.iter().find(|s| s.service == name)
}

impl LinkedService {
    /// ARN of its AWS managed policy.
    pub fn policy_arn(&self) -> String {
        format!("{}{}{}", crate::managed::ARN_PREFIX, SERVICE_LINKED_PATH, self.policy)
    }
    /// The role's path.
    pub fn path(&self) -> String {
        format!("{SERVICE_LINKED_PATH}{}/", self.service)
    }
    /// The trust policy: the service may assume the role.
    pub fn trust_policy(&self) -> String {
        serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": self.service}, "Action": "sts:AssumeRole"}]
        })
        .to_string()
    }
}

/// Whether a role is service-linked (only `CreateServiceLinkedRole` makes roles on that path).
pub fn is_service_linked(role: &Role) -> bool {
    role.path.starts_with(SERVICE_LINKED_PATH)
}

/// `UnmodifiableEntity` for a service-linked role, AWS's words.
pub fn unmodifiable(role: &str) -> AwsError {
    AwsError::new(
        400,
        "UnmodifiableEntity",
        format!("Cannot perform the operation on the protected role '{role}' - this role is only modifiable by AWS"),
    )
}

/// The operations a user may not run on a service-linked role.
const PROTECTED_OPERATIONS: &[&str] = &[
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
];

/// For the operations AWS refuses on service-linked roles: when `RoleName` names one, answer
/// `UnmodifiableEntity` to a caller whose own policies allow the operation (the root user, or a
/// matching identity-policy Allow, with no explicit deny and no SCP in the way), and
/// `AccessDenied` to any other: the engine itself never allows changing a service-linked role
/// (docs/POLICY_ENGINE.md, "resource AWS owns"). `Ok` when the operation may go on.
pub(crate) fn refuse_protected(cx: &Cx<'_>) -> Result<(), AwsError> {
    if !PROTECTED_OPERATIONS.contains(&cx.call.operation.as_str()) {
        return Ok(());
    }
    let Some(name) = cx.params.get("RoleName") else { return Ok(()) };
    let read = cx.read()?;
    let role: Option<Role> = load_named(read.as_ref(), table::ROLE, cx.account(), name)?;
    drop(read);
    let Some(role) = role.filter(is_service_linked) else { return Ok(()) };
    let action = format!("iam:{}", cx.call.operation);
    let arn = role.arn();
    let request =
        AuthzRequest { action: &action, resource: &arn, context: entity_context(Some(&role)), ..Default::default() };
    let decision = cx.services.decide(cx.call, &request)?;
    let own_policies_allow = decision.decision == EvalDecision::ImplicitDeny
        && decision.decided_by == Some(PolicyType::Resource)
        && (matches!(cx.call.caller.kind, CallerKind::Root)
            || decision.matched.iter().any(|m| m.policy_type == PolicyType::Identity && m.effect == Effect::Allow));
    if own_policies_allow {
        crate::access_record::note_decision(cx.call, &decision);
        return Err(unmodifiable(&role.name));
    }
    cx.services.authorize_request(cx.call, &request)?;
    Err(unmodifiable(&role.name))
}

/// `CreateServiceLinkedRole`.
pub(crate) fn create(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let service_name = cx.name(&mut c, "AWSServiceName", 128);
    let suffix = cx.name_opt(&mut c, "CustomSuffix", 64);
    let description = roles::description_opt(cx, &mut c);
    c.finish()?;
    let service = linked_service(&service_name).ok_or_else(|| {
        invalid_input(format!("Service {service_name} is not supported for service-linked roles in Tessera."))
    })?;
    let name = match &suffix {
        Some(_) if !service.custom_suffix => {
            return Err(invalid_input(format!("Custom suffix is not allowed for {}", service.role_name)));
        }
        Some(s) => format!("{}_{s}", service.role_name),
        None => service.role_name.to_string(),
    };
    if name.len() > 64 {
        return Err(invalid_input(format!("The role name {name} is longer than 64 characters.")));
    }
    let account = cx.account();
    let path = service.path();
    let arn = super::entities::entity_arn(account, "role", &path, &name);
    cx.authorize(
        "iam:CreateServiceLinkedRole",
        &arn,
        vec![("iam:AWSServiceName".to_string(), vec![service.service.to_string()])],
    )?;
    let policy_arn = service.policy_arn();
    let role = cx.write(|txn| {
        if load_named::<Role>(txn, table::ROLE, account, &name)?.is_some() {
            return Err(invalid_input(format!(
                "Service role name {name} has been taken in this account, please try a different suffix."
            )));
        }
        let new = NewRole {
            name: name.clone(),
            path: path.clone(),
            trust_policy: service.trust_policy(),
            description: description.clone().filter(|d| !d.is_empty()),
            max_session_duration: roles::DEFAULT_MAX_SESSION_DURATION,
            permissions_boundary: None,
            tags: Vec::new(),
        };
        let mut role = roles::create_role_in_txn(txn, account, new, cx.now())?;
        super::entities::attach_policy_in_txn(txn, account, &mut role, &policy_arn)?;
        Ok(role)
    })?;
    Ok(cx.respond(Some(roles::role_xml(&role))))
}

/// A deletion task of `DeleteServiceLinkedRole`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionTask {
    /// `task/aws-service-role/<service>/<role>/<uuid>`.
    pub id: String,
    /// The role's ARN (what `GetServiceLinkedRoleDeletionStatus` authorizes on).
    pub role_arn: String,
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// Why it failed.
    #[serde(default)]
    pub reason: Option<String>,
}

fn task_key(account: &str, id: &str) -> String {
    format!("{account}/{id}")
}

/// `DeleteServiceLinkedRole`: the role goes at once unless an instance profile still holds it.
pub(crate) fn delete(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let name = cx.name(&mut c, "RoleName", 64);
    c.finish()?;
    let account = cx.account();
    let role = roles::authorized_role(cx, &name, "iam:DeleteServiceLinkedRole")?;
    let role = role.ok_or_else(|| no_such(EntityKind::Role, &name))?;
    if !is_service_linked(&role) {
        return Err(invalid_input(format!("Role {} is not a service-linked role.", role.name)));
    }
    let service = role.path.trim_start_matches(SERVICE_LINKED_PATH).trim_end_matches('/').to_string();
    let id = format!("task/aws-service-role/{service}/{}/{}", role.name, crate::ids::request_id());
    let task = cx.write(|txn| {
        let role: Role = super::entities::require(txn, account, &name)?;
        let in_profile =
            txn.count(table::ROLE_INSTANCE_PROFILE, &roles::role_profiles_prefix(account, &role.name)).st()? > 0;
        let mut task = DeletionTask { id: id.clone(), role_arn: role.arn(), status: "SUCCEEDED".into(), reason: None };
        if in_profile {
            task.status = "FAILED".into();
            task.reason = Some("The role is in use: remove it from its instance profiles first.".into());
        } else {
            for arn in &role.attached_policies {
                unindex_use(txn, account, arn, PolicyUsage::PermissionsPolicy, &role)?;
            }
            txn.delete(table::ROLE, &model::name_key(account, &role.name)).st()?;
            release_unique_id(txn, &role.role_id)?;
        }
        model::save(txn, DELETION_TASK, &task_key(account, &id), &task).st()?;
        Ok(task)
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("DeletionTaskId", &task.id);
    Ok(cx.respond(Some(w.finish())))
}

/// `GetServiceLinkedRoleDeletionStatus`.
pub(crate) fn deletion_status(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let id = cx.params.required("DeletionTaskId")?;
    Checks::new().length("deletionTaskId", id, 1, 1000).finish()?;
    let parts: Vec<&str> = id.split('/').collect();
    let [task, slr, service, role_name, _uuid] = parts.as_slice() else {
        return Err(invalid_input(format!("Invalid deletion task id: {id}")));
    };
    if *task != "task" || *slr != "aws-service-role" {
        return Err(invalid_input(format!("Invalid deletion task id: {id}")));
    }
    let account = cx.account();
    let role_arn = format!("arn:aws:iam::{account}:role/aws-service-role/{service}/{role_name}");
    cx.authorize("iam:GetServiceLinkedRoleDeletionStatus", &role_arn, Vec::new())?;
    let read = cx.read()?;
    let task: Option<DeletionTask> = model::load(read.as_ref(), DELETION_TASK, &task_key(account, id)).st()?;
    drop(read);
    let task = task.ok_or_else(|| no_such_entity(format!("Deletion task {id} cannot be found.")))?;
    let mut w = XmlWriter::fragment();
    w.elem("Status", &task.status);
    if let Some(r) = &task.reason {
        w.open("Reason", None).elem("Reason", r).open("RoleUsageList", None).close().close();
    }
    Ok(cx.respond(Some(w.finish())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_is_in_the_catalogue_and_names_fit() {
        for s in SERVICES {
            assert!(crate::managed::by_arn(&s.policy_arn()).is_some(), "{}", s.policy_arn());
            assert!(s.role_name.len() <= 64, "{}", s.role_name);
            assert!(crate::validate::is_name(s.role_name), "{}", s.role_name);
        }
        assert!(linked_service("autoscaling.amazonaws.com").is_some_and(|s| s.custom_suffix));
        assert!(linked_service("nope.amazonaws.com").is_none());
    }
}
