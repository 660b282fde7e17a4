//! IAM temporary delegation requests (IAM User Guide `access_policies-temporary-delegation.html`
//! and `temporary-delegation-building-integration.html`): CreateDelegationRequest,
//! GetDelegationRequest, AssociateDelegationRequest, AcceptDelegationRequest,
//! RejectDelegationRequest, UpdateDelegationRequest and SendDelegationToken. STS
//! `GetDelegatedAccessToken` (tessera-sts `delegated_access.rs`) exchanges the token.
//!
//! A partner account creates a request naming a managed policy (`PolicyTemplateArn`: an AWS
//! managed policy or one of the partner's own) and a session duration. An identity of the owner
//! account associates it (UNASSIGNED → ASSIGNED), may forward it (`UpdateDelegationRequest`, →
//! PENDING_APPROVAL), accepts it (→ ACCEPTED; the accepting identity is recorded) or rejects it;
//! `SendDelegationToken` finalizes it (→ FINALIZED) and hands the exchange token to the partner.
//! Tessera has no SNS, so the token is delivered once to the requestor account in its next
//! `GetDelegationRequest` answer (docs/DELEGATION_REQUESTS.md). The token is stored sealed until
//! delivered and as a SHA-256 digest until exchanged; it is never logged.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{
    already_exists, invalid_input, is_role_description, resolve_policy, Context, Cx, StoreResultExt,
};
use crate::authz::AuthzRequest;
use crate::caller::CallerKind;
use crate::model;
use crate::validate::Checks;
use crate::{clock, ids};

/// Delegation requests by id.
pub const TABLE: &str = "iam_delegation_request";
/// Workflow ids in use: `<requestor account>/<workflow id>` → request id.
pub const WORKFLOW_TABLE: &str = "iam_delegation_request_workflow";
/// Delegation requests by account: `<account>/<created, 20 digits>/<id>` → the request id, for
/// the requestor account and (once the request is owned) the owner account, so that
/// `ListDelegationRequests` reads only the rows of the caller's account, in creation order.
pub const ACCOUNT_INDEX: &str = "iam_delegation_request_by_account";
/// How long a rejected request stays readable ("Rejected requests expire after 7 days").
pub const REJECTED_TTL_SECS: i64 = 7 * 24 * 3600;
/// How long a request waits in `UNASSIGNED`, `ASSIGNED`, `PENDING_APPROVAL` or `ACCEPTED`
/// without a step before it expires. AWS expires such requests "due to inactivity or timeout"
/// (User Guide, `temporary-delegation-building-integration.html`, "Request States") without a
/// documented duration; Tessera uses the documented lifetime of a rejected request, counted
/// from the last step (docs/DELEGATION_REQUESTS.md).
pub const INACTIVITY_TTL_SECS: i64 = 7 * 24 * 3600;
/// The model's `descriptionType`-like pattern of free texts.
const TEXT_PATTERN: &str = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*";

/// The states of `stateType`.
pub mod state {
    /// Created, not associated.
    pub const UNASSIGNED: &str = "UNASSIGNED";
    /// Associated with an owner.
    pub const ASSIGNED: &str = "ASSIGNED";
    /// Forwarded for approval (`UpdateDelegationRequest`).
    pub const PENDING_APPROVAL: &str = "PENDING_APPROVAL";
    /// Accepted, token not yet sent.
    pub const ACCEPTED: &str = "ACCEPTED";
    /// Token sent.
    pub const FINALIZED: &str = "FINALIZED";
    /// Rejected.
    pub const REJECTED: &str = "REJECTED";
    /// Past its expiry.
    pub const EXPIRED: &str = "EXPIRED";
}

/// One policy parameter (`PolicyParameter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyParameter {
    /// `Name`.
    pub name: String,
    /// `Values`.
    pub values: Vec<String>,
    /// `string` or `stringList`.
    pub kind: Option<String>,
}

/// A delegation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationRequest {
    /// `DelegationRequestId`.
    pub id: String,
    /// The partner's account (`RequestorId`).
    pub requestor_account: String,
    /// `OwnerAccountId`.
    pub owner_account: Option<String>,
    /// `OwnerId`: the ARN of the identity that associated it.
    pub owner_id: Option<String>,
    /// `ApproverId`: the ARN of the identity that accepted it.
    pub approver_id: Option<String>,
    /// The accepting identity, as the delegated credentials will carry it.
    pub approver_kind: Option<CallerKind>,
    /// `Description`.
    pub description: String,
    /// `RequestMessage`.
    pub request_message: Option<String>,
    /// `Permissions.PolicyTemplateArn`.
    pub policy_template_arn: String,
    /// `Permissions.Parameters`.
    pub parameters: Vec<PolicyParameter>,
    /// `PermissionPolicy`: the template's document with the parameters substituted.
    pub permission_policy: String,
    /// `RequestorWorkflowId`.
    pub workflow_id: String,
    /// `RedirectUrl`.
    pub redirect_url: Option<String>,
    /// `NotificationChannel`.
    pub notification_channel: String,
    /// `SessionDuration`, seconds.
    pub session_duration: i64,
    /// `OnlySendByOwner`.
    pub only_send_by_owner: bool,
    /// Stored state (see [`DelegationRequest::state_at`]).
    pub state: String,
    /// `Notes`.
    pub notes: Option<String>,
    /// `RejectionReason`.
    pub rejection_reason: Option<String>,
    /// Creation time, epoch seconds.
    pub created: i64,
    /// Last update, epoch seconds.
    pub updated: i64,
    /// When it expires (finalized: the end of the delegated session; rejected: 7 days later).
    pub expires: Option<i64>,
    /// The exchange token, sealed, until delivered to the requestor.
    pub sealed_token: Option<String>,
    /// SHA-256 of the exchange token, hex, until exchanged.
    pub token_digest: Option<String>,
    /// Whether the token was exchanged.
    pub token_used: bool,
}

impl DelegationRequest {
    /// `arn:aws:iam::<requestor account>:delegation-request/<id>`.
    pub fn arn(&self) -> String {
        request_arn(&self.requestor_account, &self.id)
    }

    /// When it expires: `expires` as the last step set it (a record written before inactivity
    /// expiry existed has none while open: [`INACTIVITY_TTL_SECS`] after its last step).
    pub fn expiry(&self) -> i64 {
        self.expires.unwrap_or_else(|| self.updated.saturating_add(INACTIVITY_TTL_SECS))
    }

    /// The state at `now`: a request past its expiry reads `EXPIRED`.
    pub fn state_at(&self, now: i64) -> &str {
        if self.expiry() <= now {
            state::EXPIRED
        } else {
            &self.state
        }
    }

    /// Whether `account` may see it (GetDelegationRequest's rules): the requestor; anyone
    /// while no owner account is set; then only the owner account.
    pub fn visible_to(&self, account: &str) -> bool {
        account == self.requestor_account || self.owner_account.as_deref().is_none_or(|o| o == account)
    }
}

/// The ARN of a delegation request.
pub fn request_arn(account: &str, id: &str) -> String {
    format!("arn:aws:iam::{account}:delegation-request/{id}")
}

/// The id of a delegation request ARN.
pub fn parse_request_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let id = resource.strip_prefix("delegation-request/")?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && is_request_id(id)).then_some(id)
}

/// Whether `s` is a `delegationRequestIdType` (`[\w-]+`, 16-128).
pub fn is_request_id(s: &str) -> bool {
    (16..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// SHA-256 of an exchange token, hex.
pub fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `token` hashes to `digest`, compared in constant time.
pub fn token_matches(digest: &str, token: &str) -> bool {
    let a = token_digest(token);
    a.len() == digest.len() && a.bytes().zip(digest.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request id an exchange token names (`<id>.<secret>`).
pub fn token_request_id(token: &str) -> Option<&str> {
    token.split_once('.').map(|(id, _)| id).filter(|id| is_request_id(id))
}

/// The seal context of a request's exchange token.
fn seal_context(id: &str) -> String {
    format!("delegation-request-token/{id}")
}

/// Run the operation if it is one of delegation requests.
pub fn handle(cx: &Cx<'_>) -> Option<Result<WireResponse, AwsError>> {
    let result = match cx.call.operation.as_str() {
        "CreateDelegationRequest" => create(cx),
        "GetDelegationRequest" => get(cx),
        "AssociateDelegationRequest" => transition(cx, Step::Associate),
        "AcceptDelegationRequest" => transition(cx, Step::Accept),
        "RejectDelegationRequest" => transition(cx, Step::Reject),
        "UpdateDelegationRequest" => transition(cx, Step::Update),
        "SendDelegationToken" => transition(cx, Step::Send),
        "ListDelegationRequests" => reads::list(cx),
        "GetHumanReadableSummary" => reads::summary(cx),
        _ => return None,
    };
    Some(result)
}

/// Substitute `${Name}` in a policy template with string parameters; `stringList` parameters
/// replace a quoted `"${Name}"` with a JSON array.
pub fn apply_parameters(template: &str, parameters: &[PolicyParameter]) -> Result<String, AwsError> {
    let mut doc = template.to_string();
    for p in parameters {
        let placeholder = format!("${{{}}}", p.name);
        if p.kind.as_deref() == Some("stringList") {
            let list = serde_json::to_string(&p.values).map_err(|_| AwsError::internal())?;
            doc = doc.replace(&format!("\"{placeholder}\""), &list);
        } else {
            let [value] = p.values.as_slice() else {
                return Err(invalid_input(format!(
                    "Policy parameter {} of type string takes exactly one value.",
                    p.name
                )));
            };
            let quoted = serde_json::to_string(value).map_err(|_| AwsError::internal())?;
            doc = doc.replace(&placeholder, quoted.trim_matches('"'));
        }
    }
    Ok(doc)
}

/// `CreateDelegationRequest`.
fn create(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let p = cx.params;
    let mut c = Checks::new();
    let owner = p.get("OwnerAccountId");
    c.pattern_opt("ownerAccountId", owner, r"\d{12}", |s| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()));
    let description = p.get("Description");
    c.not_null("description", description.is_some()).length_opt("description", description, 0, 1000).pattern_opt(
        "description",
        description,
        TEXT_PATTERN,
        is_role_description,
    );
    let message = p.get("RequestMessage");
    c.length_opt("requestMessage", message, 0, 200).pattern_opt(
        "requestMessage",
        message,
        TEXT_PATTERN,
        is_role_description,
    );
    let workflow = p.get("RequestorWorkflowId");
    c.not_null("requestorWorkflowId", workflow.is_some())
        .length_opt("requestorWorkflowId", workflow, 5, 400)
        .pattern_opt("requestorWorkflowId", workflow, TEXT_PATTERN, is_role_description);
    let redirect = p.get("RedirectUrl");
    c.length_opt("redirectUrl", redirect, 1, 255).pattern_opt("redirectUrl", redirect, "^http(s?)://...", |s| {
        (s.starts_with("http://") || s.starts_with("https://")) && s.is_ascii() && !s.contains(char::is_whitespace)
    });
    let channel = p.get("NotificationChannel");
    c.not_null("notificationChannel", channel.is_some())
        .length_opt("notificationChannel", channel, 2, 400)
        .pattern_opt("notificationChannel", channel, "^[a-zA-Z0-9:_.-]+$", |s| {
            s.bytes().all(|b| b.is_ascii_alphanumeric() || b":_.-".contains(&b))
        });
    let template = p.get("Permissions.PolicyTemplateArn");
    c.not_null("permissions.policyTemplateArn", template.is_some()).length_opt(
        "permissions.policyTemplateArn",
        template,
        20,
        2048,
    );
    let raw_params = p.structs("Permissions.Parameters");
    if raw_params.len() > 50 {
        return Err(AwsError::validation(
            "1 validation error detected: Value at 'permissions.parameters' failed to satisfy constraint: Member must have length less than or equal to 50",
        ));
    }
    let mut parameters = Vec::new();
    for (i, rp) in raw_params.iter().enumerate() {
        let field = format!("permissions.parameters.{}.member.name", i + 1);
        let name = rp.get("Name");
        c.not_null(&field, name.is_some())
            .length_opt(&field, name, 5, 256)
            .pattern_opt(&field, name, "[ -~]+", |s| s.bytes().all(|b| (b' '..=b'~').contains(&b)));
        let kind = rp.get("Type");
        c.one_of(&format!("permissions.parameters.{}.member.type", i + 1), kind, &["string", "stringList"]);
        parameters.push(PolicyParameter {
            name: name.unwrap_or_default().to_string(),
            values: rp.list("Values").into_iter().map(str::to_string).collect(),
            kind: kind.map(str::to_string),
        });
    }
    let duration = cx.int_opt(&mut c, "SessionDuration", 300, 43_200)?;
    c.not_null("sessionDuration", duration.is_some());
    let only_owner = cx.bool_opt("OnlySendByOwner")?.unwrap_or(false);
    c.finish()?;
    let (Some(description), Some(workflow), Some(channel), Some(template), Some(duration)) =
        (description, workflow, channel, template, duration)
    else {
        return Err(AwsError::internal());
    };
    let account = cx.account();
    let id = format!("dr-{}", ids::lower_hex(32));
    let arn = request_arn(account, &id);
    cx.authorize("iam:CreateDelegationRequest", &arn, Vec::new())?;
    let policy = resolve_policy(cx.read()?.as_ref(), account, template)?
        .ok_or_else(|| super::entities::policy_not_attachable(template))?;
    let document = policy.default_document().ok_or_else(AwsError::internal)?;
    let permission_policy = apply_parameters(document, &parameters)?;
    let now = cx.now();
    let request = DelegationRequest {
        id: id.clone(),
        requestor_account: account.to_string(),
        owner_account: owner.map(str::to_string),
        owner_id: None,
        approver_id: None,
        approver_kind: None,
        description: description.to_string(),
        request_message: message.map(str::to_string),
        policy_template_arn: template.to_string(),
        parameters,
        permission_policy,
        workflow_id: workflow.to_string(),
        redirect_url: redirect.map(str::to_string),
        notification_channel: channel.to_string(),
        session_duration: duration,
        only_send_by_owner: only_owner,
        state: state::UNASSIGNED.into(),
        notes: None,
        rejection_reason: None,
        created: now,
        updated: now,
        expires: Some(now.saturating_add(INACTIVITY_TTL_SECS)),
        sealed_token: None,
        token_digest: None,
        token_used: false,
    };
    let workflow_key = format!("{account}/{workflow}");
    cx.write(|txn| {
        if txn.get(WORKFLOW_TABLE, &workflow_key).st()?.is_some() {
            return Err(already_exists(format!("A delegation request with workflow id {workflow} already exists.")));
        }
        txn.put(WORKFLOW_TABLE, &workflow_key, id.as_bytes()).st()?;
        index(txn, account, &request)?;
        model::save(txn, TABLE, &id, &request).st()
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("ConsoleDeepLink", &format!("/iam/delegation-requests/{id}")).elem("DelegationRequestId", &id);
    Ok(cx.respond(Some(w.finish())))
}

/// The [`ACCOUNT_INDEX`] key of request `r` under `account`.
pub fn index_key(account: &str, r: &DelegationRequest) -> String {
    format!("{account}/{:020}/{}", r.created.max(0), r.id)
}

/// List `r` under `account` in [`ACCOUNT_INDEX`].
fn index(txn: &mut dyn tessera_store::WriteTxn, account: &str, r: &DelegationRequest) -> Result<(), AwsError> {
    let id = serde_json::to_vec(&r.id).map_err(|_| AwsError::internal())?;
    txn.put(ACCOUNT_INDEX, &index_key(account, r), &id).st()
}

/// The default permissions the owner gets once the request is owned ("Managing Permissions for
/// Delegation Requests"), as a resource policy the engine evaluates beside the caller's own.
fn default_permissions(r: &DelegationRequest) -> Option<String> {
    let owner = r.owner_id.as_ref()?;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": owner},
            "Action": ["iam:GetDelegationRequest", "iam:UpdateDelegationRequest", "iam:GetHumanReadableSummary"],
            "Resource": r.arn(),
        }]
    });
    Some(policy.to_string())
}

/// Authorize `action` on the request the `DelegationRequestId` parameter names, then load it.
/// An unknown id, or a request the caller's account may not see, is `NoSuchEntity` after the
/// authorization (so nothing is learnt without the permission).
pub(crate) fn authorized(cx: &Cx<'_>, action: &str, id: &str) -> Result<DelegationRequest, AwsError> {
    let found: Option<DelegationRequest> = model::load(cx.read()?.as_ref(), TABLE, id).st()?;
    let found = found.filter(|r| r.visible_to(cx.account()));
    let arn = found.as_ref().map_or_else(|| request_arn(cx.account(), id), DelegationRequest::arn);
    let policy = found.as_ref().and_then(default_permissions);
    cx.services.authorize_request(
        cx.call,
        &AuthzRequest {
            action,
            resource: &arn,
            resource_account: Some(cx.account()),
            resource_policy: policy.as_deref(),
            context: Context::new(),
            ..Default::default()
        },
    )?;
    found.ok_or_else(|| no_such_request(id))
}

pub(crate) fn no_such_request(id: &str) -> AwsError {
    super::entities::no_such_entity(format!("The delegation request with id {id} cannot be found."))
}

/// The checked `DelegationRequestId` parameter.
fn request_id<'a>(cx: &Cx<'a>, c: &mut Checks) -> &'a str {
    let id = cx.params.get("DelegationRequestId");
    c.not_null("delegationRequestId", id.is_some()).pattern_opt("delegationRequestId", id, r"[\w-]+", is_request_id);
    id.unwrap_or_default()
}

/// Write a `DelegationRequest` structure's members.
pub(crate) fn write_request(w: &mut XmlWriter, r: &DelegationRequest, now: i64) {
    w.elem("DelegationRequestId", &r.id)
        .opt("OwnerAccountId", r.owner_account.as_deref())
        .elem("Description", &r.description)
        .opt("RequestMessage", r.request_message.as_deref());
    w.open("Permissions", None).elem("PolicyTemplateArn", &r.policy_template_arn);
    if !r.parameters.is_empty() {
        w.open("Parameters", None);
        for p in &r.parameters {
            w.open("member", None).elem("Name", &p.name).open("Values", None);
            for v in &p.values {
                w.elem("member", v);
            }
            w.close().opt("Type", p.kind.as_deref()).close();
        }
        w.close();
    }
    w.close()
        .elem("PermissionPolicy", &r.permission_policy)
        .opt("OwnerId", r.owner_id.as_deref())
        .opt("ApproverId", r.approver_id.as_deref())
        .elem("State", r.state_at(now))
        .elem("ExpirationTime", &clock::iso8601(r.expiry()))
        .elem("RequestorId", &r.requestor_account)
        .elem("CreateDate", &clock::iso8601(r.created))
        .elem("SessionDuration", &r.session_duration.to_string())
        .opt("RedirectUrl", r.redirect_url.as_deref())
        .opt("Notes", r.notes.as_deref())
        .opt("RejectionReason", r.rejection_reason.as_deref())
        .elem("OnlySendByOwner", if r.only_send_by_owner { "true" } else { "false" })
        .elem("UpdatedTime", &clock::iso8601(r.updated));
}

/// `GetDelegationRequest`. To the requestor account, the first answer after the request is
/// finalized also carries the exchange token (`ExchangeToken`, Tessera's delivery in place of
/// the SNS notification), which is then forgotten.
fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let id = request_id(cx, &mut c);
    let check = cx.bool_opt("DelegationPermissionCheck")?.unwrap_or(false);
    c.finish()?;
    let r = authorized(cx, "iam:GetDelegationRequest", id)?;
    let now = cx.now();
    let mut token = None;
    if r.requestor_account == cx.account() && r.sealed_token.is_some() {
        token = cx.write(|txn| {
            let mut cur: DelegationRequest = model::load(txn, TABLE, id).st()?.ok_or_else(|| no_such_request(id))?;
            let Some(sealed) = cur.sealed_token.take() else { return Ok(None) };
            model::save(txn, TABLE, id, &cur).st()?;
            let plain = cx.services.secrets.open(&seal_context(id), &sealed).map_err(|_| AwsError::internal())?;
            Ok(String::from_utf8(plain).ok())
        })?;
    }
    let mut w = XmlWriter::fragment();
    w.open("DelegationRequest", None);
    write_request(&mut w, &r, now);
    w.close();
    if check {
        // Synchronous in Tessera: the answer is in this response.
        let verdict = check::permission_check(cx, &r)?;
        w.elem("PermissionCheckStatus", "COMPLETED").elem("PermissionCheckResult", verdict);
    }
    w.opt("ExchangeToken", token.as_deref());
    Ok(cx.respond(Some(w.finish())))
}

/// A change of state of the owner side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `AssociateDelegationRequest`.
    Associate,
    /// `AcceptDelegationRequest`.
    Accept,
    /// `RejectDelegationRequest`.
    Reject,
    /// `UpdateDelegationRequest`.
    Update,
    /// `SendDelegationToken`.
    Send,
}

impl Step {
    fn action(self) -> &'static str {
        match self {
            Step::Associate => "iam:AssociateDelegationRequest",
            Step::Accept => "iam:AcceptDelegationRequest",
            Step::Reject => "iam:RejectDelegationRequest",
            Step::Update => "iam:UpdateDelegationRequest",
            Step::Send => "iam:SendDelegationToken",
        }
    }

    /// The states the step starts from.
    pub fn from_states(self) -> &'static [&'static str] {
        match self {
            Step::Associate => &[state::UNASSIGNED],
            Step::Accept | Step::Update => &[state::ASSIGNED, state::PENDING_APPROVAL],
            Step::Reject => &[state::ASSIGNED, state::PENDING_APPROVAL, state::ACCEPTED],
            Step::Send => &[state::ACCEPTED],
        }
    }
}

/// Who is acting, for [`apply`].
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    /// Account.
    pub account: &'a str,
    /// ARN.
    pub arn: &'a str,
    /// Kind.
    pub kind: &'a CallerKind,
}

/// Apply `step` to `r` at `now` (the state machine; no storage). `notes` is the `Notes`
/// parameter. Errors change nothing.
pub fn apply(
    r: &mut DelegationRequest,
    step: Step,
    actor: &Actor<'_>,
    notes: Option<&str>,
    now: i64,
) -> Result<(), AwsError> {
    let current = r.state_at(now).to_string();
    if !step.from_states().contains(&current.as_str()) {
        return Err(invalid_input(format!("The delegation request {} is in state {current}.", r.id)));
    }
    if step == Step::Associate {
        if r.owner_account.as_deref().is_some_and(|o| o != actor.account) {
            return Err(no_such_request(&r.id));
        }
    } else if r.owner_account.as_deref() != Some(actor.account) {
        return Err(no_such_request(&r.id));
    }
    match step {
        Step::Associate => {
            r.owner_account = Some(actor.account.to_string());
            r.owner_id = Some(actor.arn.to_string());
            r.state = state::ASSIGNED.into();
            r.expires = Some(now.saturating_add(INACTIVITY_TTL_SECS));
        }
        Step::Update => {
            r.notes = notes.map(str::to_string).or(r.notes.take());
            r.state = state::PENDING_APPROVAL.into();
            r.expires = Some(now.saturating_add(INACTIVITY_TTL_SECS));
        }
        Step::Accept => {
            r.approver_id = Some(actor.arn.to_string());
            r.approver_kind = Some(actor.kind.clone());
            r.state = state::ACCEPTED.into();
            r.expires = Some(now.saturating_add(INACTIVITY_TTL_SECS));
        }
        Step::Reject => {
            r.rejection_reason = notes.map(str::to_string);
            r.state = state::REJECTED.into();
            r.expires = Some(now.saturating_add(REJECTED_TTL_SECS));
        }
        Step::Send => {
            if r.only_send_by_owner && r.owner_id.as_deref() != Some(actor.arn) {
                return Err(invalid_input(format!(
                    "Only the owner of delegation request {} may send its token.",
                    r.id
                )));
            }
            r.state = state::FINALIZED.into();
            r.expires = Some(now.saturating_add(r.session_duration));
        }
    }
    r.updated = now;
    Ok(())
}

/// Run one of the owner-side steps in one transaction.
fn transition(cx: &Cx<'_>, step: Step) -> Result<WireResponse, AwsError> {
    let mut c = Checks::new();
    let id = request_id(cx, &mut c);
    let notes = cx.params.get("Notes");
    c.length_opt("notes", notes, 0, 500).pattern_opt("notes", notes, TEXT_PATTERN, is_role_description);
    c.finish()?;
    authorized(cx, step.action(), id)?;
    let caller = &cx.call.caller;
    let actor = Actor { account: &caller.account, arn: &caller.arn, kind: &caller.kind };
    let now = cx.now();
    cx.write(|txn| {
        let mut r: DelegationRequest = model::load(txn, TABLE, id).st()?.ok_or_else(|| no_such_request(id))?;
        apply(&mut r, step, &actor, notes, now)?;
        if step == Step::Associate && r.owner_account.as_deref() != Some(r.requestor_account.as_str()) {
            index(txn, actor.account, &r)?;
        }
        if step == Step::Send {
            let token = format!("{id}.{}", ids::key_characters(48));
            r.token_digest = Some(token_digest(&token));
            r.sealed_token = Some(cx.services.secrets.seal(&seal_context(id), token.as_bytes()));
        }
        model::save(txn, TABLE, id, &r).st()
    })?;
    Ok(cx.respond(None))
}

#[path = "delegation_requests_reads.rs"]
pub mod reads;

#[path = "delegation_requests_check.rs"]
pub mod check;

#[cfg(test)]
#[path = "delegation_requests_tests.rs"]
mod tests;
