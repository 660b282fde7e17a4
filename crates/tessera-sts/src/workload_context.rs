//! `IssueWorkloadIdentityContext` (STS API Reference, `API_IssueWorkloadIdentityContext.html`;
//! IAM User Guide, `workload-identity-attestation-policies.html`) and the context assertion that
//! `AssumeRole` redeems in `ProvidedContexts`.
//!
//! On AWS the operation is called by a service that runs workloads (Amazon EKS Pod Identity as
//! `pods.eks.amazonaws.com`, ...) with its own service credentials. Tessera runs no such service,
//! so a Tessera principal acts as the service: a caller whose policies allow
//! `sts:IssueWorkloadIdentityContext` on the template speaks for the attesting service named by
//! the attestation document's keys ([`ATTESTING_SERVICES`]), for its own account (the source
//! account) and the resource the document names (the source ARN). The template's attestation
//! policy is then evaluated by the engine with the service as the principal, exactly as AWS
//! evaluates it. docs/WORKLOAD_IDENTITY.md gives the reasons.
//!
//! The assertion is the context's claims (compact JSON, deflated), sealed like a session token
//! with the current token key (`tokens::seal_context_assertion`), bound to the provider ARN,
//! short-lived (`DurationSeconds` 60-300) and redeemable only by the principal that asked for it,
//! for the role it names.

use serde::{Deserialize, Serialize};
use tessera_policy::{Context, PolicySet, PolicyType, Principal, PrincipalKind, Request};
use tessera_wire::response::STS_XMLNS;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::params::{self, Check};
use super::tokens;
use crate::authz::AuthzRequest;
use crate::caller::WorkloadIdentity;
use crate::iam_workload::workload_identity::templates::{self, PatternSegment, WorkloadIdentityTemplate};
use crate::iam_workload::workload_identity::WorkloadIdentityProvider;
use crate::model::{self, table, Role};
use crate::{internal, Call, Services};

/// `DurationSeconds` when omitted.
pub const DEFAULT_CONTEXT_SECS: i64 = 60;
/// Longest attestation document, in characters.
pub const MAX_DOCUMENT_CHARS: usize = 2048;
/// Longest context assertion `AssumeRole` accepts (`contextAssertionType`).
pub const MAX_ASSERTION_CHARS: usize = 3072;
/// Longest workload identifier.
pub const MAX_SUBJECT_CHARS: usize = 256;
/// The prefix of the condition keys attested values become.
pub const ATTESTATION_KEY_PREFIX: &str = "aws:WorkloadAttestation/aws/";
const ACTION: &str = "sts:IssueWorkloadIdentityContext";

/// A service that attests workloads: the namespace of its document keys, its service
/// principal, the keys it attests, and how the resource it acts for (the source ARN) is named.
#[derive(Debug)]
pub struct AttestingService {
    /// The first segment of every key it attests (`eks` in `eks/ClusterName`).
    pub namespace: &'static str,
    /// Its service principal.
    pub principal: &'static str,
    /// The keys it attests, after the namespace.
    pub keys: &'static [&'static str],
    /// The attested key whose value names the resource, and the ARN built from it
    /// (`{region}`, `{account}` and `{value}` replaced).
    pub source: (&'static str, &'static str),
}

/// The attesting services Tessera knows. Amazon EKS Pod Identity attests the pod's cluster,
/// namespace and service account (the identifiers of the user guide's EKS template
/// definitions are built from them); the source ARN is the cluster's.
pub const ATTESTING_SERVICES: &[AttestingService] = &[AttestingService {
    namespace: "eks",
    principal: "pods.eks.amazonaws.com",
    keys: &["ClusterName", "Namespace", "ServiceAccount", "PodName", "PodUid"],
    source: ("ClusterName", "arn:aws:eks:{region}:{account}:cluster/{value}"),
}];

fn attestation_error(reason: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidAttestationDocument", message).with_reason(reason)
}

fn configuration_error(reason: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidWorkloadIdentityConfiguration", message).with_reason(reason)
}

/// A parsed attestation document: the attesting service and the attested values, each under
/// its full condition key (`aws:WorkloadAttestation/aws/eks/ClusterName`).
#[derive(Debug)]
pub struct Attestation {
    /// The service that attests.
    pub service: &'static AttestingService,
    /// `(condition key, value)`, in document order, keys spelled as the service spells them.
    pub values: Vec<(String, String)>,
}

/// The members of a JSON object in order, duplicates kept (serde_json's map would keep only
/// the last of two equal keys).
struct Members(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn is_key_segment(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parse and check an attestation document (the reasons are the API reference's).
pub fn parse_attestation(document: &str) -> Result<Attestation, AwsError> {
    if document.chars().count() > MAX_DOCUMENT_CHARS {
        return Err(attestation_error("tooLarge", "The attestation document is longer than 2048 characters."));
    }
    let members = serde_json::from_str::<Members>(document)
        .map_err(|_| attestation_error("cannotParse", "The attestation document is not a single JSON object."))?
        .0;
    if members.is_empty() {
        return Err(attestation_error("invalidValue", "The attestation document has no keys."));
    }
    let mut service: Option<&'static AttestingService> = None;
    let mut values: Vec<(String, String)> = Vec::with_capacity(members.len());
    for (key, value) in members {
        let Some((namespace, name)) = key
            .split_once('/')
            .filter(|(n, rest)| is_key_segment(n) && rest.split('/').all(is_key_segment) && key.len() <= 128)
        else {
            return Err(attestation_error("invalidKey", format!("The attestation key '{key}' is not valid.")));
        };
        let Some(s) = ATTESTING_SERVICES.iter().find(|s| s.namespace.eq_ignore_ascii_case(namespace)) else {
            return Err(attestation_error(
                "providerNotFound",
                format!("No service attests workloads under the attestation namespace '{namespace}'."),
            ));
        };
        if service.is_some_and(|known| !std::ptr::eq(known, s)) {
            return Err(attestation_error(
                "unexpectedAttestation",
                format!("The attestation key '{key}' belongs to another service than the document's first key."),
            ));
        }
        service = Some(s);
        let Some(canonical) = s.keys.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
            return Err(attestation_error(
                "unexpectedAttestation",
                format!("The service {} cannot attest the key '{key}'.", s.principal),
            ));
        };
        let serde_json::Value::String(value) = value else {
            return Err(attestation_error("invalidValue", format!("The value of '{key}' is not a string.")));
        };
        if value.is_empty() || value.chars().any(|c| c.is_control()) {
            return Err(attestation_error(
                "invalidValue",
                format!("The value of '{key}' is empty or has characters that are not allowed."),
            ));
        }
        let full = format!("{ATTESTATION_KEY_PREFIX}{}/{canonical}", s.namespace);
        if values.iter().any(|(k, _)| k.eq_ignore_ascii_case(&full)) {
            return Err(attestation_error(
                "duplicateKey",
                format!(
                    "The attestation key '{key}' appears more than once (keys are compared without regard to case)."
                ),
            ));
        }
        values.push((full, value));
    }
    let service = service.ok_or_else(|| attestation_error("invalidValue", "The attestation document has no keys."))?;
    Ok(Attestation { service, values })
}

impl Attestation {
    fn value(&self, key: &str) -> Option<&str> {
        self.values.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    /// The source ARN: the resource the service acts for, built from the attested values.
    pub fn source_arn(&self, region: &str, account: &str) -> Option<String> {
        let (key, pattern) = self.service.source;
        let value = self.value(&format!("{ATTESTATION_KEY_PREFIX}{}/{key}", self.service.namespace))?;
        Some(pattern.replace("{region}", region).replace("{account}", account).replace("{value}", value))
    }
}

/// The engine's principal for an AWS service.
pub fn service_principal(service: &str) -> Principal {
    Principal {
        arn: service.to_string(),
        account: String::new(),
        kind: PrincipalKind::Service { name: service.into() },
    }
}

/// The request context a service principal's request carries: time, region, the service's
/// keys, and `extra` (the source account and ARN, attested values, ...).
pub fn service_context(call: &Call, service: &str, extra: &[(String, String)]) -> Context {
    let mut ctx = Context::new();
    let now = call.now_secs();
    ctx.insert_one("aws:CurrentTime", crate::clock::iso8601(now));
    ctx.insert_one("aws:EpochTime", now.to_string());
    ctx.insert_one("aws:RequestedRegion", call.meta.region.clone());
    ctx.insert_one("aws:SecureTransport", call.meta.secure_transport.to_string());
    ctx.insert_one("aws:PrincipalServiceName", service.to_string());
    ctx.insert_one("aws:PrincipalIsAWSService", "true");
    for (k, v) in extra {
        ctx.insert_one(k, v.clone());
    }
    ctx
}

/// A request a service principal makes, decided by one resource-based (or trust) policy.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRequest<'a> {
    /// The service principal (`pods.eks.amazonaws.com`).
    pub service: &'a str,
    /// The policy document.
    pub document: &'a str,
    /// Whether it is a role trust policy (else an attestation policy).
    pub trust: bool,
    /// The action.
    pub action: &'a str,
    /// The resource ARN.
    pub resource: &'a str,
    /// The resource's account.
    pub resource_account: &'a str,
}

/// Whether the policy of `req` lets its service perform its action with `ctx`. Only that
/// policy applies: a service principal has no identity policies, and SCPs and RCPs do not apply
/// to AWS service principals.
pub fn service_allowed(call: &Call, req: &ServiceRequest<'_>, ctx: &Context) -> Result<bool, AwsError> {
    let (ty, label) =
        if req.trust { (PolicyType::Trust, "trust policy") } else { (PolicyType::Resource, "attestation policy") };
    let policy = crate::authz::compiled(ty, label, req.document)?;
    let principal = service_principal(req.service);
    let set = PolicySet { resource: Some(&policy), resource_is_trust: req.trust, ..Default::default() };
    let request = Request {
        principal: &principal,
        action: req.action,
        resource: req.resource,
        resource_account: Some(req.resource_account),
        context: ctx,
    };
    let decision = tessera_policy::evaluate(&set, &request);
    tessera_core::access_record::note_decision(call, &decision);
    Ok(decision.is_allowed())
}

/// What a context assertion carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextClaims {
    /// The workload identity.
    #[serde(rename = "w")]
    pub identity: WorkloadIdentity,
    /// The service that asked for the context (the audience).
    #[serde(rename = "svc")]
    pub service: String,
    /// `aws:SourceAccount`.
    #[serde(rename = "sa")]
    pub source_account: String,
    /// `aws:SourceArn`.
    #[serde(rename = "sarn")]
    pub source_arn: String,
    /// The Tessera principal that spoke for the service (a role session is its role).
    #[serde(rename = "by")]
    pub requester: String,
    /// `TargetRoleArn`.
    #[serde(rename = "r")]
    pub role_arn: String,
    /// Issue time, epoch seconds.
    #[serde(rename = "i")]
    pub issued_at: i64,
    /// Until when `AssumeRole` accepts it.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// The latest end of a role session from it (`SessionDurationSeconds`).
    #[serde(rename = "se", default, skip_serializing_if = "Option::is_none")]
    pub session_expires_at: Option<i64>,
}

/// The principal a context is bound to: the caller's ARN, or a role session's role ARN.
pub fn requester(call: &Call) -> String {
    call.caller.role_arn().unwrap_or_else(|| call.caller.arn.clone())
}

/// The validated request.
struct IssueRequest<'a> {
    template_arn: &'a str,
    document: &'a str,
    role_arn: Option<&'a str>,
    duration: i64,
    session_duration: Option<i64>,
}

fn read_issue_request(p: &QueryParams) -> Result<IssueRequest<'_>, AwsError> {
    let document = p.required("AttestationDocument")?;
    let template_arn = p.get("WorkloadIdentityTemplateArn");
    let role_arn = p.get("TargetRoleArn");
    let mut check = Check::default();
    check.length("attestationDocument", document, 1, usize::MAX);
    if let Some(t) = template_arn {
        check.length("workloadIdentityTemplateArn", t, 20, 2048).pattern(
            "workloadIdentityTemplateArn",
            t,
            r"arn:[^:]+:iam::(\d{12}|o-[a-z0-9]{10,32}):workload-identity-template/[\w+=,.@/-]+",
            is_template_arn_text(t),
        );
    }
    if let Some(r) = role_arn {
        check.length("targetRoleArn", r, 20, 2048).pattern(
            "targetRoleArn",
            r,
            params::ARN_PATTERN,
            params::is_arn_text(r),
        );
    }
    let duration = params::duration(p)?;
    if let Some(d) = duration {
        check.range("durationSeconds", d, 60, 300);
    }
    let session_duration = params::integer(p, "SessionDurationSeconds")?;
    if let Some(d) = session_duration {
        check.range("sessionDurationSeconds", d, 900, 43200);
    }
    check.finish()?;
    let template_arn = template_arn.ok_or_else(|| {
        AwsError::validation("WorkloadIdentityTemplateArn is required: name the workload identity template.")
    })?;
    Ok(IssueRequest {
        template_arn,
        document,
        role_arn,
        duration: duration.unwrap_or(DEFAULT_CONTEXT_SECS),
        session_duration,
    })
}

/// Whether `s` matches the model's template ARN pattern
/// (`arn:[^:]+:iam::(\d{12}|o-[a-z0-9]{10,32}):workload-identity-template/[\w+=,.@/-]+`).
fn is_template_arn_text(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("arn:") else { return false };
    let Some((partition, rest)) = rest.split_once(':') else { return false };
    let Some(rest) = rest.strip_prefix("iam::") else { return false };
    let Some((owner, rest)) = rest.split_once(':') else { return false };
    let Some(name) = rest.strip_prefix("workload-identity-template/") else { return false };
    !partition.is_empty()
        && templates::is_owner(owner)
        && !name.is_empty()
        && name.chars().all(|c| c.is_alphanumeric() || "_+=,.@/-".contains(c))
}

/// The workload identifier a template renders for the values in `ctx`: the provider's naming
/// root (`spiffe://<domain>/` under `SPIFFE`, nothing under `NONE`), the template's
/// `PathPrefix`, then its `PathPattern` with every placeholder replaced by the single value of
/// its condition key.
pub fn render_subject(
    provider: &WorkloadIdentityProvider,
    template: &WorkloadIdentityTemplate,
    attestation: &Attestation,
    ctx: &Context,
) -> Result<String, AwsError> {
    let unrenderable = |why: String| configuration_error("unrenderableTemplate", why);
    let segments = templates::parse_pattern(&template.path_pattern)
        .ok_or_else(|| unrenderable("The template's path pattern cannot be rendered.".into()))?;
    let mut path: Vec<String> = template.path_prefix.iter().cloned().collect();
    for segment in segments {
        match segment {
            PatternSegment::Literal(l) => path.push(l.to_string()),
            PatternSegment::Placeholder(key) => {
                let attested = key.len() > ATTESTATION_KEY_PREFIX.len()
                    && key
                        .get(..ATTESTATION_KEY_PREFIX.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(ATTESTATION_KEY_PREFIX));
                if attested && attestation.value(key).is_none() {
                    return Err(attestation_error(
                        "unresolvedTemplateVariable",
                        format!("The workload identity template uses {key}, which the attestation document does not contain."),
                    ));
                }
                let value = match ctx.get(key) {
                    Some([one]) => one,
                    Some(_) => return Err(unrenderable(format!("The condition key {key} has more than one value."))),
                    None => {
                        return Err(unrenderable(format!("The condition key {key} is not available for this request.")))
                    }
                };
                if !templates::is_path_segment(value) {
                    return Err(unrenderable(format!("The value of {key} is not a valid path segment.")));
                }
                path.push(value.clone());
            }
        }
    }
    let path = path.join("/");
    let subject = match (provider.scheme.as_str(), provider.domain.as_deref()) {
        ("SPIFFE", Some(domain)) if crate::iam_workload::workload_identity::is_workload_identity_domain(domain) => {
            format!("spiffe://{domain}/{path}")
        }
        ("SPIFFE", _) => {
            return Err(unrenderable("The workload identity provider's domain is not a valid trust domain.".into()))
        }
        _ => path,
    };
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(configuration_error(
            "identifierTooLarge",
            "The workload identifier is longer than 256 characters.",
        ));
    }
    Ok(subject)
}

/// The account of a template: its owner, or for an organization's template the account that
/// created it (`aws:OriginIdentity/IdentityProviderAccount`).
fn template_account(t: &WorkloadIdentityTemplate) -> &str {
    if templates::is_account_id(&t.owner) {
        &t.owner
    } else {
        &t.created_by
    }
}

/// Run `IssueWorkloadIdentityContext`.
pub fn issue_workload_identity_context(
    services: &Services,
    call: &Call,
    p: &QueryParams,
) -> Result<WireResponse, AwsError> {
    let req = read_issue_request(p)?;
    let attestation = parse_attestation(req.document)?;
    let service = attestation.service.principal;
    let source_account = call.caller.account.clone();
    let region = call.meta.region.clone();
    let source_arn = attestation.source_arn(&region, &source_account).unwrap_or_default();

    // The caller speaks for the service: its own policies must allow that first.
    let owner = templates::parse_template_arn(req.template_arn).map(|(o, _)| o.to_string());
    let resource_account = owner.as_deref().filter(|o| templates::is_account_id(o));
    services.authorize_request(
        call,
        &AuthzRequest {
            action: ACTION,
            resource: req.template_arn,
            resource_account,
            context: vec![
                ("aws:SourceAccount".into(), vec![source_account.clone()]),
                ("aws:SourceArn".into(), vec![source_arn.clone()]),
            ],
            ..Default::default()
        },
    )?;

    let denied = || {
        AwsError::access_denied(format!(
            "User: {service} is not authorized to perform: {ACTION} on resource: {}",
            req.template_arn
        ))
    };
    let now = call.now_secs();
    let (template, provider, source_org, role) = {
        let r = services.store.read().map_err(internal)?;
        let template = templates::load_template(r.as_ref(), req.template_arn).map_err(internal)?.ok_or_else(denied)?;
        let source_org = crate::organizations::organization_of(r.as_ref(), &source_account).map_err(internal)?;
        // An account's template serves that account; an organization's, its member accounts.
        let serves = if template.is_organization_scoped() {
            source_org.as_ref().is_some_and(|(org, _)| *org == template.owner)
        } else {
            template.owner == source_account
        };
        if !serves {
            return Err(denied());
        }
        let provider =
            templates::load_provider(r.as_ref(), &template.provider_arn).map_err(internal)?.ok_or_else(denied)?;
        let role = match req.role_arn {
            None => None,
            Some(arn) => Some(load_target_role(r.as_ref(), arn, &source_account)?.ok_or_else(|| {
                AwsError::access_denied(format!(
                    "User: {service} is not authorized to perform: {ACTION} on resource: {arn}: the target role does not exist in account {source_account}"
                ))
            })?),
        };
        (template, provider, source_org, role)
    };

    // The attestation policy decides, with the service as the principal.
    let mut keys: Vec<(String, String)> =
        vec![("aws:SourceAccount".into(), source_account.clone()), ("aws:SourceArn".into(), source_arn.clone())];
    if let Some((org, path)) = &source_org {
        keys.push(("aws:SourceOrgID".into(), org.clone()));
        keys.push(("aws:SourceOrgPaths".into(), path.clone()));
    }
    keys.push(("aws:ResourceAccount".into(), template_account(&template).to_string()));
    keys.extend(attestation.values.iter().cloned());
    let ctx = service_context(call, service, &keys);
    let policy = template.attestation_policy().ok_or_else(denied)?;
    let request = ServiceRequest {
        service,
        document: policy,
        trust: false,
        action: ACTION,
        resource: req.template_arn,
        resource_account: template_account(&template),
    };
    if !service_allowed(call, &request, &ctx)? {
        return Err(denied());
    }

    let subject = render_subject(&provider, &template, &attestation, &ctx)?;
    let provider_arn = provider.arn();
    let expires_at = now + req.duration;
    let session_expires_at = req.session_duration.map(|d| now + d);
    let mut w = XmlWriter::fragment();
    w.open("ProvidedContext", None).elem("ProviderArn", &provider_arn);
    if let Some(role) = &role {
        let claims = ContextClaims {
            identity: WorkloadIdentity {
                subject: subject.clone(),
                provider_arn: provider_arn.clone(),
                template_arn: template.arn(),
                provider_account: template_account(&template).to_string(),
                scheme: provider.scheme.clone(),
            },
            service: service.to_string(),
            source_account,
            source_arn,
            requester: requester(call),
            role_arn: role.arn(),
            issued_at: now,
            expires_at,
            session_expires_at,
        };
        let json = serde_json::to_vec(&claims).map_err(|_| AwsError::internal())?;
        let assertion = tokens::seal_context_assertion(services, &provider_arn, &json)?;
        if assertion.len() > MAX_ASSERTION_CHARS {
            return Err(attestation_error(
                "tooLarge",
                "The context assertion built from the attestation document is too large to pass to AssumeRole.",
            ));
        }
        w.elem("ContextAssertion", &assertion);
    }
    w.close();
    w.elem("Subject", &subject);
    if role.is_some() {
        w.elem("Audience", service).elem("Expiration", &crate::clock::iso8601(expires_at));
        if let Some(at) = session_expires_at {
            w.elem("SessionExpiration", &crate::clock::iso8601(at));
        }
    }
    Ok(WireResponse::query(STS_XMLNS, "IssueWorkloadIdentityContext", Some(&w.finish()), &call.meta.request_id))
}

/// The role `arn` names, if it exists in `account`.
fn load_target_role(r: &dyn tessera_store::ReadTxn, arn: &str, account: &str) -> Result<Option<Role>, AwsError> {
    let Ok(parsed) = params::parse_arn(arn) else { return Ok(None) };
    let Some((role_account, path, name)) = params::role_arn_parts(&parsed) else { return Ok(None) };
    if role_account != account {
        return Ok(None);
    }
    Ok(model::load::<Role>(r, table::ROLE, &model::name_key(account, &name))
        .map_err(internal)?
        .filter(|role| role.name == name && role.path == path))
}

/// `InvalidContextAssertion` (400).
pub fn invalid_assertion(message: &str) -> AwsError {
    AwsError::new(400, "InvalidContextAssertion", message)
}

/// Whether `arn` is a workload identity provider's ARN (a workload identity context).
pub fn is_workload_provider_arn(arn: &str) -> bool {
    crate::iam_workload::workload_identity::parse_provider_arn(arn).is_some()
}

/// Open and check the workload identity context `AssumeRole` was given for `role_arn`: intact,
/// sealed for `provider_arn`, not expired, asked for by this caller, for this role.
pub fn redeem(
    services: &Services,
    call: &Call,
    provider_arn: &str,
    assertion: &str,
    role_arn: &str,
) -> Result<ContextClaims, AwsError> {
    let json = tokens::open_context_assertion(services, provider_arn, assertion)
        .ok_or_else(|| invalid_assertion("The provided context assertion is invalid."))?;
    let claims: ContextClaims =
        serde_json::from_slice(&json).map_err(|_| invalid_assertion("The provided context assertion is invalid."))?;
    if claims.identity.provider_arn != provider_arn {
        return Err(invalid_assertion("The provided context assertion does not match the context provider."));
    }
    if call.now_secs() >= claims.expires_at {
        return Err(invalid_assertion("The provided context assertion has expired."));
    }
    if claims.requester != requester(call) {
        return Err(invalid_assertion(
            "The provided context assertion was issued to another principal: only the service that requested it can redeem it.",
        ));
    }
    if claims.role_arn != role_arn {
        return Err(invalid_assertion("The provided context assertion was issued for another role."));
    }
    Ok(claims)
}

/// The workload identity of the calling role session and its provider, for `action`
/// (`GetCertificate`, `GetWebIdentityToken` with `TokenType` `JWT_SVID`): AWS STS "denies the
/// request if the calling session doesn't have a workload identity", if the provider does not use
/// the SPIFFE naming scheme, or if "the workload identity template or provider of the session
/// no longer exists".
pub fn session_workload(
    services: &Services,
    call: &Call,
    action: &str,
    resource: &str,
) -> Result<(WorkloadIdentity, WorkloadIdentityProvider), AwsError> {
    let denied =
        |why: &str| AwsError::access_denied(format!("{}: {why}", crate::authz::denied_message(call, action, resource)));
    let identity = match (&call.caller.kind, &call.caller.session) {
        (crate::CallerKind::AssumedRole { .. }, Some(s)) => s.workload_identity.clone(),
        _ => None,
    }
    .ok_or_else(|| denied("the calling session has no workload identity"))?;
    let r = services.store.read().map_err(internal)?;
    let template = templates::load_template(r.as_ref(), &identity.template_arn).map_err(internal)?;
    let provider = templates::load_provider(r.as_ref(), &identity.provider_arn).map_err(internal)?;
    let (Some(_), Some(provider)) = (template, provider) else {
        return Err(denied("the workload identity template or provider of the session no longer exists"));
    };
    if provider.scheme != "SPIFFE" {
        return Err(denied("the workload identity provider of the session does not use the SPIFFE naming scheme"));
    }
    Ok((identity, provider))
}

/// A JWT-SVID (SPIFFE JWT-SVID; STS API Reference, `GetWebIdentityToken` with `TokenType`
/// `JWT_SVID`) for the calling session's workload identity: only `sub` (the SPIFFE ID), `aud`,
/// `iss`, `iat`, `exp` and `jti`, signed with the provider's JWT signer for `alg` (`ES384` or
/// `RS256`; `kid` its thumbprint, verifiable against `GetTrustBundles`). `iss` is the provider's
/// ARN: Tessera publishes no discovery document for workload identity providers
/// (docs/WORKLOAD_IDENTITY.md).
pub fn jwt_svid(
    services: &Services,
    call: &Call,
    audience: &str,
    alg: &str,
    now: i64,
    expires: i64,
) -> Result<String, AwsError> {
    let (identity, provider) = session_workload(services, call, "sts:GetWebIdentityToken", "*")?;
    let signer = provider.jwt_signers.iter().find(|s| s.signing_algorithm == alg).ok_or_else(|| {
        signer_not_configured(format!(
            "The workload identity provider {} has no JWT signer for {alg}: its JWT signers sign with ES384 and RS256.",
            provider.arn()
        ))
    })?;
    let private = services
        .secrets
        .open(
            &crate::iam_workload::workload_identity::signers::seal_context(&provider.id, &signer.kid),
            &signer.sealed_private_key,
        )
        .map_err(internal)?;
    // ES384 keys are sealed as PKCS #8, RS256 keys as PKCS #1 (`signers`).
    let (algorithm, key) = match alg {
        "ES384" => (jsonwebtoken::Algorithm::ES384, jsonwebtoken::EncodingKey::from_ec_der(&private)),
        "RS256" => (jsonwebtoken::Algorithm::RS256, jsonwebtoken::EncodingKey::from_rsa_der(&private)),
        _ => return Err(signer_not_configured(format!("No JWT signer signs with {alg}."))),
    };
    let mut header = jsonwebtoken::Header::new(algorithm);
    header.kid = Some(signer.kid.clone());
    let claims = serde_json::json!({
        "sub": identity.subject,
        "aud": audience,
        "iss": identity.provider_arn,
        "iat": now,
        "exp": expires,
        "jti": crate::ids::request_id(),
    });
    jsonwebtoken::encode(&header, &claims, &key).map_err(crate::iam_workload::outbound_keys::signing_error)
}

/// `SignerNotConfiguredException` (404).
pub fn signer_not_configured(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "SignerNotConfiguredException", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(e: AwsError) -> (String, Option<String>) {
        (e.code, e.reason)
    }

    #[test]
    fn documents_parse_with_the_api_reference_reasons() {
        let a = parse_attestation(r#"{"eks/ClusterName":"c1","eks/namespace":"payments"}"#)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(a.service.principal, "pods.eks.amazonaws.com");
        assert_eq!(
            a.values,
            vec![
                ("aws:WorkloadAttestation/aws/eks/ClusterName".to_string(), "c1".to_string()),
                ("aws:WorkloadAttestation/aws/eks/Namespace".to_string(), "payments".to_string()),
            ]
        );
        assert_eq!(
            a.source_arn("us-east-1", "111122223333").as_deref(),
            Some("arn:aws:eks:us-east-1:111122223333:cluster/c1")
        );
        let cases: &[(&str, &str)] = &[
            ("", "cannotParse"),
            ("[1]", "cannotParse"),
            ("{\"eks/ClusterName\":\"a\"} x", "cannotParse"),
            ("{}", "invalidValue"),
            (r#"{"ClusterName":"a"}"#, "invalidKey"),
            (r#"{"eks/Cluster Name":"a"}"#, "invalidKey"),
            (r#"{"ecs/TaskArn":"a"}"#, "providerNotFound"),
            (r#"{"eks/Secret":"a"}"#, "unexpectedAttestation"),
            (r#"{"eks/ClusterName":1}"#, "invalidValue"),
            (r#"{"eks/ClusterName":""}"#, "invalidValue"),
            ("{\"eks/ClusterName\":\"a\\u0007\"}", "invalidValue"),
            (r#"{"eks/ClusterName":"a","eks/clustername":"b"}"#, "duplicateKey"),
            (r#"{"eks/ClusterName":"a","eks/ClusterName":"b"}"#, "duplicateKey"),
        ];
        for (doc, want) in cases {
            let e = parse_attestation(doc).map(|_| ()).map_err(reason);
            assert_eq!(e, Err(("InvalidAttestationDocument".to_string(), Some(want.to_string()))), "{doc}");
        }
        let long = format!(r#"{{"eks/ClusterName":"{}"}}"#, "a".repeat(2100));
        assert_eq!(
            parse_attestation(&long).map(|_| ()).map_err(reason).err().and_then(|e| e.1).as_deref(),
            Some("tooLarge")
        );
    }

    #[test]
    fn template_arns_follow_the_model_pattern() {
        assert!(is_template_arn_text("arn:aws:iam::111122223333:workload-identity-template/Payments"));
        assert!(is_template_arn_text("arn:aws:iam::o-abc123def4:workload-identity-template/a/b"));
        assert!(!is_template_arn_text("arn:aws:iam::1111:workload-identity-template/x"));
        assert!(!is_template_arn_text("arn:aws:iam::111122223333:role/x"));
        assert!(!is_template_arn_text("arn:aws:iam::111122223333:workload-identity-template/"));
    }
}
