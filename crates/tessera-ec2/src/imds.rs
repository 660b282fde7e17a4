//! IMDSv2: the instance metadata service of each EC2 instance, at
//! `<endpoint>/imds/<instance-id>/latest/...`.
//!
//! A session token (`PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`,
//! 1-21,600) is required on every read: IMDSv1 requests get 401, as on an instance whose
//! `HttpTokens` is `required`. Tokens are sealed `(instance id, expiry)` pairs, so they survive
//! restarts and are useless for another instance.
//!
//! `meta-data/iam/security-credentials/<role>` hands out the credentials of a session of the
//! instance profile's role named after the instance id
//! (`arn:aws:sts::<acct>:assumed-role/<role>/<instance id>`), issued through STS
//! ([`issue_session`]) once the role's trust policy lets `ec2.amazonaws.com` assume it
//! ([`ec2_trusts_role`]). The same credentials are returned until they come within
//! [`REFRESH_BEFORE_SECS`] of expiring, or the association changes.

use serde::Serialize;
use tessera_wire::AwsError;

use crate::ec2::records::{table, ImdsCredentials, Instance};
use crate::model::{self, InstanceProfile, Role};
use crate::{internal, CallerKind, Services, SessionInfo};

/// Lifetime of instance role credentials (EC2 issues roughly six-hour credentials).
pub const CREDENTIALS_SECS: i64 = 6 * 3600;
/// Credentials are replaced once they are this close to expiry (AWS: at least five minutes).
pub const REFRESH_BEFORE_SECS: i64 = 15 * 60;
/// Longest token lifetime.
pub const MAX_TOKEN_TTL: i64 = 21_600;

/// One request to IMDS.
#[derive(Debug, Clone, Default)]
pub struct ImdsRequest {
    /// `GET`, `PUT`, ...
    pub method: String,
    /// The instance id from the URL.
    pub instance_id: String,
    /// The path after the instance id, without the leading `/` (`latest/meta-data/...`).
    pub path: String,
    /// `X-aws-ec2-metadata-token`.
    pub token: Option<String>,
    /// `X-aws-ec2-metadata-token-ttl-seconds`.
    pub token_ttl: Option<String>,
    /// Whether `X-Forwarded-For` was present (token requests through a proxy are refused).
    pub forwarded: bool,
}

/// IMDS's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdsResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: String,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

fn text(status: u16, body: impl Into<String>) -> ImdsResponse {
    ImdsResponse { status, content_type: "text/plain", body: body.into(), headers: Vec::new() }
}

fn status_page(status: u16, title: &str) -> ImdsResponse {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n"
    );
    ImdsResponse { status, content_type: "text/html", body, headers: Vec::new() }
}

fn not_found() -> ImdsResponse {
    status_page(404, "404 - Not Found")
}

fn token_context(instance_id: &str) -> String {
    format!("imds-token/{instance_id}")
}

/// Serve one IMDS request.
pub fn handle(services: &Services, req: &ImdsRequest) -> ImdsResponse {
    match serve(services, req) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(instance = %req.instance_id, error = %e, "IMDS request failed");
            status_page(500, "500 - Internal Server Error")
        }
    }
}

fn load_instance(services: &Services, instance_id: &str) -> Result<Option<Instance>, AwsError> {
    let r = services.store.read().map_err(internal)?;
    let Some(key) = r.get(table::INSTANCE_ID, instance_id).map_err(internal)? else { return Ok(None) };
    let key = String::from_utf8(key).map_err(|_| AwsError::internal())?;
    model::load(r.as_ref(), table::INSTANCE, &key).map_err(internal)
}

fn serve(services: &Services, req: &ImdsRequest) -> Result<ImdsResponse, AwsError> {
    let now = services.clock.now_secs();
    let Some(instance) = load_instance(services, &req.instance_id)? else { return Ok(not_found()) };
    if instance.state != "running" {
        // A stopped or terminated instance has no metadata service to reach.
        return Ok(status_page(503, "503 - Service Unavailable"));
    }
    let path = req.path.trim_start_matches('/');
    if path == "latest/api/token" {
        if req.method != "PUT" {
            return Ok(status_page(405, "405 - Method Not Allowed"));
        }
        if req.forwarded {
            return Ok(status_page(403, "403 - Forbidden"));
        }
        let ttl = match req.token_ttl.as_deref().map(str::trim) {
            None | Some("") => return Ok(status_page(400, "400 - Missing or Invalid Parameters")),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=MAX_TOKEN_TTL).contains(&n) => n,
                _ => return Ok(status_page(400, "400 - Missing or Invalid Parameters")),
            },
        };
        let token = services
            .secrets
            .seal(&token_context(&instance.instance_id), format!("{}\n{}", instance.instance_id, now + ttl).as_bytes());
        let mut r = text(200, token);
        r.headers.push(("x-aws-ec2-metadata-token-ttl-seconds", ttl.to_string()));
        return Ok(r);
    }
    if req.method != "GET" && req.method != "HEAD" {
        return Ok(status_page(405, "405 - Method Not Allowed"));
    }
    if !token_valid(services, &instance.instance_id, req.token.as_deref(), now) {
        return Ok(status_page(401, "401 - Unauthorized"));
    }
    metadata(services, &instance, path, now)
}

fn token_valid(services: &Services, instance_id: &str, token: Option<&str>, now: i64) -> bool {
    let Some(token) = token else { return false };
    let Ok(plain) = services.secrets.open(&token_context(instance_id), token.trim()) else { return false };
    let Ok(plain) = String::from_utf8(plain) else { return false };
    let Some((id, expires)) = plain.split_once('\n') else { return false };
    id == instance_id && expires.parse::<i64>().is_ok_and(|e| now < e)
}

fn listing(items: &[&str]) -> ImdsResponse {
    text(200, items.join("\n"))
}

/// The instance's profile and role as they are now.
fn profile_and_role(
    services: &Services,
    instance: &Instance,
) -> Result<Option<(InstanceProfile, Option<Role>)>, AwsError> {
    let Some(assoc) = &instance.profile else { return Ok(None) };
    let r = services.store.read().map_err(internal)?;
    let profile: Option<InstanceProfile> = model::load(
        r.as_ref(),
        model::table::INSTANCE_PROFILE,
        &model::name_key(&assoc.profile_account, &assoc.profile_name),
    )
    .map_err(internal)?;
    let Some(profile) = profile.filter(|p| p.instance_profile_id == assoc.profile_id) else { return Ok(None) };
    let role = match profile.roles.first() {
        None => None,
        Some(name) => {
            model::load(r.as_ref(), model::table::ROLE, &model::name_key(&profile.account, name)).map_err(internal)?
        }
    };
    Ok(Some((profile, role)))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IamInfo {
    code: &'static str,
    last_updated: String,
    instance_profile_arn: String,
    instance_profile_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsDoc {
    code: &'static str,
    last_updated: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    access_key_id: String,
    secret_access_key: String,
    token: String,
    expiration: String,
}

fn json(v: &impl Serialize) -> Result<ImdsResponse, AwsError> {
    let body = serde_json::to_string_pretty(v).map_err(|_| AwsError::internal())?;
    Ok(ImdsResponse { status: 200, content_type: "text/plain", body, headers: Vec::new() })
}

fn metadata(services: &Services, instance: &Instance, path: &str, now: i64) -> Result<ImdsResponse, AwsError> {
    let path = path.strip_prefix("latest/").unwrap_or(if path == "latest" { "" } else { path });
    if path.is_empty() {
        return Ok(listing(&["dynamic", "meta-data"]));
    }
    if let Some(rest) = path.strip_prefix("dynamic") {
        return Ok(match rest.trim_matches('/') {
            "" => listing(&["instance-identity/"]),
            "instance-identity" => listing(&["document"]),
            "instance-identity/document" => json(&serde_json::json!({
                "accountId": instance.account,
                "architecture": "x86_64",
                "availabilityZone": instance.availability_zone,
                "imageId": instance.image_id,
                "instanceId": instance.instance_id,
                "instanceType": instance.instance_type,
                "pendingTime": crate::clock::iso8601(instance.launch_time),
                "privateIp": instance.private_ip,
                "region": instance.region,
                "version": "2017-09-30",
            }))?,
            _ => not_found(),
        });
    }
    let Some(md) = path.strip_prefix("meta-data") else { return Ok(not_found()) };
    let md = md.trim_start_matches('/');
    let leaf = md.trim_end_matches('/');
    let hostname = instance.private_dns();
    let one = |s: &str| Ok(text(200, s.to_string()));
    match leaf {
        "" => {
            let mut items = vec![
                "ami-id",
                "ami-launch-index",
                "hostname",
                "instance-id",
                "instance-type",
                "local-hostname",
                "local-ipv4",
                "placement/",
                "reservation-id",
                "security-groups",
            ];
            if instance.profile.is_some() {
                items.insert(4, "iam/");
            }
            Ok(listing(&items))
        }
        "ami-id" => one(&instance.image_id),
        "ami-launch-index" => one(&instance.ami_launch_index.to_string()),
        "hostname" | "local-hostname" => one(&hostname),
        "instance-id" => one(&instance.instance_id),
        "instance-type" => one(&instance.instance_type),
        "local-ipv4" => one(&instance.private_ip),
        "reservation-id" => one(&instance.reservation_id),
        "security-groups" => one("default"),
        "placement" => Ok(listing(&["availability-zone", "availability-zone-id", "region"])),
        "placement/availability-zone" => one(&instance.availability_zone),
        "placement/availability-zone-id" => {
            let letter = instance.availability_zone.chars().last().unwrap_or('a');
            one(&format!("{}-az{}", instance.region, u32::from(letter).saturating_sub(u32::from('a')) + 1))
        }
        "placement/region" => one(&instance.region),
        "iam" | "iam/info" | "iam/security-credentials" => {
            let Some((profile, role)) = profile_and_role(services, instance)? else { return Ok(not_found()) };
            match leaf {
                "iam" => Ok(listing(&["info", "security-credentials/"])),
                "iam/info" => json(&IamInfo {
                    code: "Success",
                    last_updated: crate::clock::iso8601(now),
                    instance_profile_arn: profile.arn(),
                    instance_profile_id: profile.instance_profile_id,
                }),
                _ => match role {
                    Some(role) => one(&role.name),
                    None => Ok(not_found()),
                },
            }
        }
        other => {
            let Some(role_name) = other.strip_prefix("iam/security-credentials/") else { return Ok(not_found()) };
            let Some((_, Some(role))) = profile_and_role(services, instance)? else { return Ok(not_found()) };
            if role.name != role_name {
                return Ok(not_found());
            }
            match credentials(services, instance, &role, now) {
                Ok(c) => json(&c),
                Err(e) if e.code == "AccessDenied" => {
                    // EC2 cannot assume the role: the instance sees an error document, not keys.
                    json(&serde_json::json!({
                        "Code": "AssumeRoleUnauthorizedAccess",
                        "Message": format!("EC2 cannot assume the role {}. Please see documentation at https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html#troubleshoot_roles_ec2-instances.", role.name),
                        "LastUpdated": crate::clock::iso8601(now),
                    }))
                    .map(|mut r| {
                        r.status = 200;
                        r
                    })
                }
                Err(e) => Err(e),
            }
        }
    }
}

fn secret_context(instance_id: &str, what: &str) -> String {
    format!("imds/{instance_id}/{what}")
}

/// The instance's current role credentials: the stored ones while fresh, else new ones.
fn credentials(services: &Services, instance: &Instance, role: &Role, now: i64) -> Result<CredentialsDoc, AwsError> {
    let Some(assoc) = &instance.profile else { return Err(AwsError::internal()) };
    let role_arn = role.arn();
    let stored: Option<ImdsCredentials> = {
        let r = services.store.read().map_err(internal)?;
        model::load(r.as_ref(), table::IMDS_CREDENTIALS, &instance.instance_id).map_err(internal)?
    };
    if let Some(c) = stored.filter(|c| {
        c.association_id == assoc.association_id && c.role_arn == role_arn && now < c.expires_at - REFRESH_BEFORE_SECS
    }) {
        let secret = services.secrets.open(&secret_context(&instance.instance_id, "secret"), &c.secret_sealed);
        let token = services.secrets.open(&secret_context(&instance.instance_id, "token"), &c.token_sealed);
        if let (Ok(secret), Ok(token)) = (secret, token) {
            return Ok(CredentialsDoc {
                code: "Success",
                last_updated: crate::clock::iso8601(c.issued_at),
                kind: "AWS-HMAC",
                access_key_id: c.access_key_id,
                secret_access_key: String::from_utf8_lossy(&secret).into_owned(),
                token: String::from_utf8_lossy(&token).into_owned(),
                expiration: crate::clock::iso8601(c.expires_at),
            });
        }
    }
    ec2_trusts_role(services, role, instance, now)?;
    let issued = issue_session(services, role, &instance.instance_id, now)?;
    let record = ImdsCredentials {
        association_id: assoc.association_id.clone(),
        role_arn,
        access_key_id: issued.access_key_id.clone(),
        secret_sealed: services
            .secrets
            .seal(&secret_context(&instance.instance_id, "secret"), issued.secret.as_bytes()),
        token_sealed: services
            .secrets
            .seal(&secret_context(&instance.instance_id, "token"), issued.session_token.as_bytes()),
        issued_at: now,
        expires_at: issued.expires_at,
    };
    let mut w = services.store.write().map_err(internal)?;
    model::save(w.as_mut(), table::IMDS_CREDENTIALS, &instance.instance_id, &record).map_err(internal)?;
    w.commit().map_err(internal)?;
    Ok(CredentialsDoc {
        code: "Success",
        last_updated: crate::clock::iso8601(now),
        kind: "AWS-HMAC",
        access_key_id: issued.access_key_id,
        secret_access_key: issued.secret,
        token: issued.session_token,
        expiration: crate::clock::iso8601(issued.expires_at),
    })
}

/// Whether `role`'s trust policy lets the EC2 service principal (`ec2.amazonaws.com`) call
/// `sts:AssumeRole` — what EC2 checks before it delivers a role's credentials to an instance.
///
/// The principal is a service, not a caller with an account, so this asks the policy engine
/// directly with `PrincipalKind::Service`: only the trust policy applies (service principals
/// carry no identity policies, and SCPs and RCPs do not apply to them). Context:
/// `aws:PrincipalServiceName`, `aws:PrincipalIsAWSService`, `aws:SourceArn` (the instance ARN),
/// `aws:SourceAccount`, `aws:CurrentTime`/`aws:EpochTime`.
pub fn ec2_trusts_role(services: &Services, role: &Role, instance: &Instance, now: i64) -> Result<(), AwsError> {
    let _ = services;
    let role_arn = role.arn();
    let denied = || {
        AwsError::access_denied(format!(
            "User: ec2.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        ))
    };
    let trust = tessera_policy::parse(&role.assume_role_policy_document, tessera_policy::PolicyType::Trust)
        .map_err(|_| denied())?;
    let principal = tessera_policy::Principal {
        arn: "ec2.amazonaws.com".into(),
        account: String::new(),
        kind: tessera_policy::PrincipalKind::Service { name: "ec2.amazonaws.com".into() },
    };
    let mut ctx = tessera_policy::Context::new();
    ctx.insert_one("aws:CurrentTime", crate::clock::iso8601(now));
    ctx.insert_one("aws:EpochTime", now.to_string());
    ctx.insert_one("aws:PrincipalServiceName", "ec2.amazonaws.com");
    ctx.insert_one("aws:PrincipalIsAWSService", "true");
    ctx.insert_one("aws:SourceArn", instance.arn());
    ctx.insert_one("aws:SourceAccount", instance.account.clone());
    ctx.insert_one("aws:ResourceAccount", role.account.clone());
    ctx.insert_one("aws:RequestedRegion", instance.region.clone());
    ctx.insert_one("sts:RoleSessionName", instance.instance_id.clone());
    let set = tessera_policy::PolicySet { resource: Some(&trust), resource_is_trust: true, ..Default::default() };
    let request = tessera_policy::Request {
        principal: &principal,
        action: "sts:AssumeRole",
        resource: &role_arn,
        resource_account: Some(&role.account),
        context: &ctx,
    };
    if tessera_policy::evaluate(&set, &request).is_allowed() {
        Ok(())
    } else {
        Err(denied())
    }
}

/// Credentials issued for an instance.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// `ASIA...`.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: String,
    /// Session token.
    pub session_token: String,
    /// Expiry (epoch seconds).
    pub expires_at: i64,
}

/// Issue a session of `role` named `instance_id` through STS's session-token machinery
/// (`arn:aws:sts::<acct>:assumed-role/<role>/<instance id>`, issued by `AssumeRole` of the EC2
/// service, source principal `ec2.amazonaws.com`).
pub fn issue_session(services: &Services, role: &Role, instance_id: &str, now: i64) -> Result<IssuedSession, AwsError> {
    let info = SessionInfo {
        issued_at: now,
        expires_at: now + CREDENTIALS_SECS,
        issued_by: "AssumeRole".into(),
        source_principal_arn: Some("ec2.amazonaws.com".into()),
        ..Default::default()
    };
    let kind = CallerKind::AssumedRole {
        role_name: role.name.clone(),
        role_path: role.path.clone(),
        role_id: role.role_id.clone(),
        session_name: instance_id.to_string(),
    };
    let c = crate::sts::assume_role::issue(services, &role.account, &kind, &info)?;
    Ok(IssuedSession {
        access_key_id: c.access_key_id,
        secret: c.secret,
        session_token: c.session_token,
        expires_at: c.expires_at,
    })
}
