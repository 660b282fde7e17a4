//! Building the CloudTrail event of a call and recording it before the response is sent.
//!
//! The server calls [`ready`] before it runs an operation and [`submit_call`] after, whether
//! the operation succeeded, failed or was denied; if the event cannot be made durable the
//! request fails with `503 ServiceUnavailable` instead of answering unaudited.

use serde_json::Value;
use tessera_audit::event::{
    event_time, new_event_id, CloudTrailRecord, RecordResource, SessionAttributes, SessionContext, SessionIssuer,
    UserIdentity, WebIdFederationData, EVENT_VERSION,
};
use tessera_audit::redact::{redact_request, redact_response, Secrets};
use tessera_audit::{shape, AuditError, AuditEvent, LookupResource};
use tessera_wire::{AwsError, Protocol, WireResponse};

use crate::{model, Call, Caller, CallerKind, Input, ServiceName, Services};

/// Largest `requestParameters` recorded (serialized); larger ones are left out and flagged.
const MAX_REQUEST_PARAMETERS: usize = 100 * 1024;
/// Longest `userAgent` recorded.
const MAX_USER_AGENT: usize = 1024;

/// The error a request gets when its event cannot be recorded.
pub fn audit_failure(e: &AuditError) -> AwsError {
    tracing::error!(error = %e, "audit event not recorded; failing the request");
    AwsError::unavailable("The audit log could not record this request; it was not acknowledged. Retry later.")
}

/// Whether events can be recorded now; checked before an operation runs, so that a request
/// that could not be audited is refused before it changes anything.
pub fn ready(services: &Services) -> Result<(), AwsError> {
    services.audit.ready().map_err(|e| audit_failure(&e))
}

/// `eventSource` of a service.
pub fn event_source(service: ServiceName) -> String {
    format!("{}.amazonaws.com", service.signing_name())
}

/// Whether CloudTrail marks the operation read-only.
pub fn is_read_only(service: ServiceName, operation: &str) -> bool {
    if service == ServiceName::Sts {
        // Every STS operation only reads IAM state (AWS records AssumeRole as readOnly true).
        return true;
    }
    ["Get", "List", "Describe", "Lookup", "Simulate", "Search"].iter().any(|p| operation.starts_with(p))
}

/// STS operations whose response elements are recorded although they are read-only.
fn issues_credentials(service: ServiceName, operation: &str) -> bool {
    service == ServiceName::Sts
        && matches!(
            operation,
            "AssumeRole"
                | "AssumeRoot"
                | "AssumeRoleWithSAML"
                | "AssumeRoleWithWebIdentity"
                | "GetSessionToken"
                | "GetFederationToken"
                | "GetScopedCredentials"
        )
}

/// S3 object-level operations are data events, not recorded without data event selectors.
fn is_data_event(service: ServiceName, operation: &str) -> bool {
    service == ServiceName::S3
        && matches!(
            operation,
            "GetObject"
                | "PutObject"
                | "DeleteObject"
                | "DeleteObjects"
                | "HeadObject"
                | "CopyObject"
                | "GetObjectAttributes"
                | "UploadPart"
                | "CreateMultipartUpload"
                | "CompleteMultipartUpload"
                | "AbortMultipartUpload"
                | "ListParts"
        )
}

/// Region an event is recorded in: IAM and Organizations are global services recorded in
/// us-east-1; the others in the region the request was signed for.
fn event_region(service: ServiceName, call: &Call) -> String {
    match service {
        ServiceName::Iam | ServiceName::Organizations | ServiceName::Account => "us-east-1".into(),
        _ if call.meta.region.is_empty() => "us-east-1".into(),
        _ => call.meta.region.clone(),
    }
}

fn session_context(services: &Services, caller: &Caller) -> Option<SessionContext> {
    let s = caller.session.as_ref()?;
    let attributes = SessionAttributes {
        creation_date: event_time(s.issued_at.saturating_mul(1000)),
        mfa_authenticated: s.mfa_authenticated.to_string(),
    };
    let issuer = match &caller.kind {
        CallerKind::AssumedRole { role_name, role_id, .. } => Some(SessionIssuer {
            issuer_type: "Role".into(),
            principal_id: role_id.clone(),
            arn: caller.role_arn().unwrap_or_default(),
            account_id: caller.account.clone(),
            user_name: Some(role_name.clone()),
        }),
        CallerKind::FederatedUser { user_name, .. } => {
            let user: Option<model::User> = services
                .store
                .read()
                .ok()
                .and_then(|r| {
                    model::load(r.as_ref(), model::table::USER, &model::name_key(&caller.account, user_name)).ok()
                })
                .flatten();
            Some(SessionIssuer {
                issuer_type: "IAMUser".into(),
                principal_id: user.as_ref().map_or_else(|| user_name.clone(), |u| u.user_id.clone()),
                arn: user.as_ref().map_or_else(
                    || s.source_principal_arn.clone().unwrap_or_default(),
                    |u| format!("arn:aws:iam::{}:user{}{}", caller.account, u.path, u.name),
                ),
                account_id: caller.account.clone(),
                user_name: Some(user_name.clone()),
            })
        }
        CallerKind::Root | CallerKind::User { .. } => None,
    };
    let web = match &caller.kind {
        CallerKind::AssumedRole { .. } => Some(WebIdFederationData {
            federated_provider: s.federated_provider.clone().filter(|_| s.issued_by == "AssumeRoleWithWebIdentity"),
            attributes: s
                .federated_provider
                .as_ref()
                .filter(|_| s.issued_by == "AssumeRoleWithWebIdentity")
                .map(|_| serde_json::Map::new()),
        }),
        _ => None,
    };
    Some(SessionContext {
        session_issuer: issuer,
        web_id_federation_data: web,
        attributes,
        source_identity: s.source_identity.clone(),
    })
}

/// `userIdentity` of an authenticated caller.
pub fn user_identity(services: &Services, caller: &Caller) -> UserIdentity {
    let (identity_type, user_name) = match &caller.kind {
        CallerKind::Root => ("Root", None),
        CallerKind::User { name, .. } => ("IAMUser", Some(name.clone())),
        CallerKind::AssumedRole { .. } => ("AssumedRole", None),
        CallerKind::FederatedUser { .. } => ("FederatedUser", None),
    };
    UserIdentity {
        identity_type: identity_type.into(),
        principal_id: Some(caller.user_id.clone()),
        arn: Some(caller.arn.clone()),
        account_id: Some(caller.account.clone()),
        access_key_id: Some(caller.access_key_id.clone()).filter(|k| !k.is_empty()),
        user_name,
        session_context: session_context(services, caller),
        identity_provider: None,
    }
}

/// `userAgent` as recorded: at most 1,024 bytes, cut at a character boundary.
pub fn recorded_user_agent(user_agent: &str) -> String {
    let mut cut = user_agent.len().min(MAX_USER_AGENT);
    while !user_agent.is_char_boundary(cut) {
        cut -= 1;
    }
    user_agent[..cut].to_string()
}

/// The caller as the other account of a cross-account call records it: an `AWSAccount`, with
/// the principal id and account only.
pub fn seen_from_another_account(identity: &UserIdentity) -> UserIdentity {
    UserIdentity {
        identity_type: "AWSAccount".into(),
        principal_id: identity.principal_id.clone(),
        account_id: identity.account_id.clone(),
        ..Default::default()
    }
}

/// LookupEvents `Username` of a caller.
pub fn lookup_username(caller: &Caller) -> String {
    match &caller.kind {
        CallerKind::Root => "root".into(),
        CallerKind::User { name, .. } | CallerKind::FederatedUser { name, .. } => name.clone(),
        CallerKind::AssumedRole { session_name, .. } => session_name.clone(),
    }
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str().map(str::to_string)
}

/// The account of an IAM role ARN (`arn:aws:iam::<acct>:role/...`).
fn role_account(role_arn: &str) -> Option<String> {
    let mut parts = role_arn.splitn(6, ':');
    let (arn, _partition, service, _region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (arn == "arn"
        && service == "iam"
        && resource.starts_with("role/")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit()))
    .then(|| account.to_string())
}

fn account_exists(services: &Services, account: &str) -> bool {
    services.store.read().ok().and_then(|r| r.get(model::table::ACCOUNT, account).ok()).flatten().is_some()
}

/// Resources LookupEvents reports (and filters by) for a call.
fn lookup_resources(service: ServiceName, request: &Value, response: &Value) -> Vec<LookupResource> {
    let mut out = Vec::new();
    let mut add = |t: &str, n: Option<String>| {
        if let Some(n) = n.filter(|n| !n.is_empty()) {
            out.push(LookupResource { resource_type: t.into(), resource_name: n });
        }
    };
    match service {
        ServiceName::Iam => {
            add("AWS::IAM::User", text(request, &["userName"]));
            add("AWS::IAM::Group", text(request, &["groupName"]));
            add("AWS::IAM::Role", text(request, &["roleName"]));
            add("AWS::IAM::Policy", text(request, &["policyArn"]));
            add("AWS::IAM::InstanceProfile", text(request, &["instanceProfileName"]));
            add("AWS::IAM::AccessKey", text(request, &["accessKeyId"]));
            add("AWS::IAM::AccessKey", text(response, &["accessKey", "accessKeyId"]));
            add("AWS::IAM::OIDCProvider", text(request, &["openIDConnectProviderArn"]));
            add("AWS::IAM::SAMLProvider", text(request, &["sAMLProviderArn"]));
            add("AWS::IAM::User", text(response, &["user", "userName"]));
            add("AWS::IAM::Role", text(response, &["role", "roleName"]));
            add("AWS::IAM::Policy", text(response, &["policy", "arn"]));
        }
        ServiceName::Sts => {
            add("AWS::IAM::Role", text(request, &["roleArn"]));
            add("AWS::IAM::AccessKey", text(response, &["credentials", "accessKeyId"]));
            add("AWS::STS::AssumedRole", text(request, &["roleSessionName"]));
            add("AWS::STS::AssumedRole", text(response, &["assumedRoleUser", "assumedRoleId"]));
            add("AWS::STS::AssumedRole", text(response, &["assumedRoleUser", "arn"]));
            add("AWS::STS::FederatedUser", text(response, &["federatedUser", "arn"]));
        }
        ServiceName::CloudTrail => add("AWS::CloudTrail::Trail", text(request, &["name"])),
        ServiceName::Organizations => {
            add("AWS::Organizations::Account", text(request, &["accountId"]));
            add("AWS::Organizations::Policy", text(request, &["policyId"]));
            add("AWS::Organizations::OrganizationalUnit", text(request, &["organizationalUnitId"]));
        }
        ServiceName::PrivateCa => {
            add("AWS::ACMPCA::CertificateAuthority", text(request, &["certificateAuthorityArn"]));
            add("AWS::ACMPCA::CertificateAuthority", text(response, &["certificateAuthorityArn"]));
        }
        ServiceName::Ec2 | ServiceName::S3 | ServiceName::Account | ServiceName::AccessAnalyzer => {}
    }
    out
}

/// The Account API's contact members are sensitive in its model: CloudTrail records them as
/// `HIDDEN_DUE_TO_SECURITY_REASONS`, keeping only `accountId` and `alternateContactType`.
fn hide_contact_details(request: &mut Value) {
    if let Value::Object(members) = request {
        for (name, value) in members.iter_mut() {
            if name != "accountId" && name != "alternateContactType" {
                *value = Value::String("HIDDEN_DUE_TO_SECURITY_REASONS".into());
            }
        }
    }
}

fn response_elements(service: ServiceName, response: &WireResponse) -> Value {
    // AWS Private CA answers in the request's protocol: CBOR or JSON 1.1.
    if response.content_type == "application/cbor" {
        return tessera_wire::cbor::decode_answer(&response.body)
            .map(|v| shape::json_members(&v))
            .unwrap_or(Value::Null);
    }
    let Ok(body) = std::str::from_utf8(&response.body) else {
        return Value::Null;
    };
    match service.protocol() {
        Protocol::Query { .. } => shape::query_response_elements(body),
        Protocol::Ec2 => shape::ec2_response_elements(body),
        Protocol::Json | Protocol::RestJson | Protocol::RpcV2Cbor => {
            serde_json::from_str::<Value>(body).map(|v| shape::json_members(&v)).unwrap_or(Value::Null)
        }
        Protocol::RestXml => Value::Null,
    }
}

/// Build and durably record the event(s) of one call: one in the caller's account, and for a
/// cross-account `AssumeRole` a second in the role's account with the same `sharedEventID`.
pub fn record_call(
    services: &Services,
    service: ServiceName,
    call: &Call,
    input: &Input,
    outcome: &Result<WireResponse, AwsError>,
) -> Result<(), AwsError> {
    submit_call(services, service, call, input, outcome)?.wait().map_err(|e| audit_failure(&e))
}

/// Build the event(s) of one call and queue them to be made durable; the response may be sent
/// only after the receipt says they are (the server waits for it without holding a thread).
pub fn submit_call(
    services: &Services,
    service: ServiceName,
    call: &Call,
    input: &Input,
    outcome: &Result<WireResponse, AwsError>,
) -> Result<tessera_audit::Receipt, AwsError> {
    let events = build_events(services, service, call, input, outcome);
    if events.is_empty() {
        return Ok(tessera_audit::Receipt::done(Ok(())));
    }
    services.audit.submit(events).map_err(|e| audit_failure(&e))
}

/// The events of one call (empty for calls that are not recorded).
pub fn build_events(
    services: &Services,
    service: ServiceName,
    call: &Call,
    input: &Input,
    outcome: &Result<WireResponse, AwsError>,
) -> Vec<AuditEvent> {
    let op = call.operation.as_str();
    if !service.operations().contains(&op) || is_data_event(service, op) {
        return Vec::new();
    }
    let read_only = is_read_only(service, op);
    let mut secrets = Secrets::default();
    let mut request = match input {
        Input::Query(q) => shape::query_request_parameters(q.iter()),
        Input::Json(v) | Input::Cbor(v) => shape::json_members(v),
    };
    redact_request(&mut request, &mut secrets);
    if service == ServiceName::Account {
        hide_contact_details(&mut request);
    }
    let (error_code, error_message, mut response) = match outcome {
        Ok(r) if r.status < 400 => {
            let wants = !read_only || issues_credentials(service, op);
            (None, None, if wants { response_elements(service, r) } else { Value::Null })
        }
        Ok(r) => (Some(format!("HTTP{}", r.status)), None, Value::Null),
        Err(e) => (Some(e.code.clone()), Some(e.message.clone()), Value::Null),
    };
    redact_response(&mut response, &mut secrets);
    secrets.scrub_value(&mut request);
    secrets.scrub_value(&mut response);
    let error_message = error_message.map(|m| secrets.scrub(&m));
    let resources = lookup_resources(service, &request, &response);
    let mut additional = None;
    if serde_json::to_string(&request).map_or(0, |s| s.len()) > MAX_REQUEST_PARAMETERS {
        request = Value::Null;
        additional = Some(serde_json::json!({"requestParametersTruncated": true}));
    }

    // Who: the signer, or for the unsigned federation calls the federated identity.
    let role_arn = text(&request, &["roleArn"]);
    let (identity, username, home) = match op {
        "AssumeRoleWithWebIdentity" if service == ServiceName::Sts => {
            let sub = text(&response, &["subjectFromWebIdentityToken"]);
            let provider = text(&response, &["provider"]);
            let audience = text(&response, &["audience"]);
            let principal = match (&provider, &audience, &sub) {
                (Some(p), Some(a), Some(s)) => Some(format!("{p}:{a}:{s}")),
                _ => None,
            };
            let id = UserIdentity {
                identity_type: "WebIdentityUser".into(),
                principal_id: principal,
                user_name: sub.clone(),
                identity_provider: provider,
                ..Default::default()
            };
            (id, sub, role_arn.as_deref().and_then(role_account))
        }
        "AssumeRoleWithSAML" if service == ServiceName::Sts => {
            let subject = text(&response, &["subject"]);
            let qualifier = text(&response, &["nameQualifier"]);
            let principal = match (&qualifier, &subject) {
                (Some(q), Some(s)) => Some(format!("{q}:{s}")),
                _ => None,
            };
            let id = UserIdentity {
                identity_type: "SAMLUser".into(),
                principal_id: principal,
                user_name: subject.clone(),
                identity_provider: text(&request, &["principalArn"]),
                ..Default::default()
            };
            (id, subject, role_arn.as_deref().and_then(role_account))
        }
        _ => (
            user_identity(services, &call.caller),
            Some(lookup_username(&call.caller)),
            Some(call.caller.account.clone()),
        ),
    };
    let Some(home) = home.filter(|a| !a.is_empty()) else {
        return Vec::new();
    };
    let is_assume = service == ServiceName::Sts && op.starts_with("AssumeRole");
    let role_account = if is_assume { role_arn.as_deref().and_then(role_account) } else { None };
    let record_resources = match (&role_arn, &role_account) {
        (Some(arn), Some(acct)) => Some(vec![RecordResource {
            arn: arn.clone(),
            account_id: acct.clone(),
            resource_type: "AWS::IAM::Role".into(),
        }]),
        _ => None,
    };
    let user_agent = recorded_user_agent(&call.meta.user_agent);
    let base = CloudTrailRecord {
        event_version: EVENT_VERSION.into(),
        user_identity: identity,
        event_time: event_time(call.meta.now_millis),
        event_source: event_source(service),
        event_name: op.to_string(),
        aws_region: event_region(service, call),
        source_ip_address: call.meta.source_ip.clone(),
        user_agent,
        error_code,
        error_message,
        request_parameters: request,
        response_elements: response,
        additional_event_data: additional,
        request_id: call.meta.request_id.clone(),
        event_id: new_event_id(),
        read_only,
        resources: record_resources,
        event_type: "AwsApiCall".into(),
        management_event: true,
        recipient_account_id: home.clone(),
        shared_event_id: None,
        event_category: "Management".into(),
    };
    let mut events = Vec::with_capacity(2);
    // A role in another account: that account records the call too, seeing the caller as an
    // `AWSAccount` (principal id and account only).
    if let Some(other) = role_account.filter(|a| *a != home && account_exists(services, a)) {
        let shared = new_event_id();
        let mut theirs = base.clone();
        theirs.user_identity = seen_from_another_account(&base.user_identity);
        theirs.event_id = new_event_id();
        theirs.recipient_account_id = other;
        theirs.shared_event_id = Some(shared.clone());
        let mut ours = base;
        ours.shared_event_id = Some(shared);
        events.push(event(ours, call, &username, &resources));
        events.push(event(theirs, call, &username, &resources));
    } else {
        events.push(event(base, call, &username, &resources));
    }
    events
}

fn event(record: CloudTrailRecord, call: &Call, username: &Option<String>, resources: &[LookupResource]) -> AuditEvent {
    AuditEvent {
        record,
        event_time_millis: call.meta.now_millis,
        username: username.clone(),
        resources: resources.to_vec(),
    }
}
