//! Amazon EC2, the part identity needs: instances as records (no machines are started), their
//! instance profiles (which `iam:PassRole` guards) and regions. IMDS ([`imds`]) serves
//! the instances' role credentials.

pub mod imds;
pub mod records;

use rand::Rng;
use tessera_store::{ReadTxn, WriteTxn};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use tessera_core::authz::AuthzRequest;
use tessera_core::model::{InstanceProfile, Role, Tag};

// The paths these files had inside `tessera-services` (`crate::model`, `crate::ec2`, ...).
pub(crate) use crate as ec2;
use records::{instance_key, table, Instance, ProfileAssociation};
pub(crate) use tessera_core::{clock, ids, internal, model};
pub(crate) use tessera_core::{Call, CallerKind, Services, SessionInfo};
#[cfg(test)]
pub(crate) use tessera_core::{CallMeta, Caller};
pub(crate) use tessera_sts as sts;

/// How long a terminated instance stays visible (AWS: about an hour).
const TERMINATED_VISIBLE_SECS: i64 = 3600;
/// Most instances one RunInstances may launch.
const MAX_LAUNCH: i64 = 100;

/// The regions `DescribeRegions` lists (commercial partition, opt-in not required).
pub const REGIONS: &[&str] = &[
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-north-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// Run an EC2 operation.
pub fn handle(services: &Services, call: &Call, p: &QueryParams) -> Result<WireResponse, AwsError> {
    let cx = Cx { services, call, p };
    match call.operation.as_str() {
        "RunInstances" => run_instances(&cx),
        "DescribeInstances" => describe_instances(&cx),
        "TerminateInstances" => change_state(&cx, Change::Terminate),
        "StopInstances" => change_state(&cx, Change::Stop),
        "StartInstances" => change_state(&cx, Change::Start),
        "DescribeRegions" => describe_regions(&cx),
        "DescribeAvailabilityZones" => describe_availability_zones(&cx),
        "DescribeIamInstanceProfileAssociations" => describe_associations(&cx),
        "AssociateIamInstanceProfile" => associate(&cx),
        "ReplaceIamInstanceProfileAssociation" => replace_association(&cx),
        "DisassociateIamInstanceProfile" => disassociate(&cx),
        "CreateTags" => tags(&cx, true),
        "DeleteTags" => tags(&cx, false),
        op => Err(AwsError::not_implemented("ec2", op)),
    }
}

struct Cx<'a> {
    services: &'a Services,
    call: &'a Call,
    p: &'a QueryParams,
}

type Ctx = Vec<(String, Vec<String>)>;

fn invalid(msg: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValue", msg)
}

/// EC2's `UnauthorizedOperation` for an authorizer's `AccessDenied`.
fn unauthorized(e: AwsError) -> AwsError {
    if e.code == "AccessDenied" {
        AwsError::new(
            403,
            "UnauthorizedOperation",
            format!("You are not authorized to perform this operation. {}", e.message),
        )
    } else {
        e
    }
}

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|h| (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn malformed_instance_id(id: &str) -> AwsError {
    AwsError::new(400, "InvalidInstanceID.Malformed", format!("Invalid id: \"{id}\""))
}

fn not_found_ids(ids: &[String]) -> AwsError {
    if ids.len() == 1 {
        AwsError::new(400, "InvalidInstanceID.NotFound", format!("The instance ID '{}' does not exist", ids[0]))
    } else {
        AwsError::new(400, "InvalidInstanceID.NotFound", format!("The instance IDs '{}' do not exist", ids.join(", ")))
    }
}

impl Cx<'_> {
    fn account(&self) -> &str {
        &self.call.caller.account
    }

    fn region(&self) -> &str {
        &self.call.meta.region
    }

    fn dry_run(&self) -> bool {
        self.p.get("DryRun").is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn authorize(&self, action: &str, resource: &str, context: Ctx) -> Result<(), AwsError> {
        let mut context = context;
        context.push(("ec2:Region".into(), vec![self.region().to_string()]));
        let req = AuthzRequest { action, resource, context, ..Default::default() };
        self.services.authorize_request(self.call, &req).map_err(unauthorized)
    }

    /// After authorization: `DryRunOperation` when `DryRun` is set.
    fn check_dry_run(&self) -> Result<(), AwsError> {
        if self.dry_run() {
            return Err(AwsError::new(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."));
        }
        Ok(())
    }

    fn instance_wildcard(&self) -> String {
        format!("arn:aws:ec2:{}:{}:instance/*", self.region(), self.account())
    }

    fn visible(&self, i: &Instance) -> bool {
        i.terminated_at.is_none_or(|t| self.call.now_secs() - t < TERMINATED_VISIBLE_SECS)
    }

    /// The caller's visible instances in the request's region, by id.
    fn instances(&self, r: &dyn ReadTxn) -> Result<Vec<Instance>, AwsError> {
        let prefix = format!("{}/{}/", self.account(), self.region());
        let rows = r.scan(table::INSTANCE, &prefix, None, usize::MAX).map_err(internal)?;
        let all: Vec<(String, Instance)> = model::decode_rows(table::INSTANCE, rows).map_err(internal)?;
        Ok(all.into_iter().map(|(_, i)| i).filter(|i| self.visible(i)).collect())
    }

    fn load_instance(&self, r: &dyn ReadTxn, id: &str) -> Result<Option<Instance>, AwsError> {
        let i: Option<Instance> =
            model::load(r, table::INSTANCE, &instance_key(self.account(), self.region(), id)).map_err(internal)?;
        Ok(i.filter(|i| self.visible(i)))
    }

    /// Resolve `IamInstanceProfile.Arn` / `.Name` in the caller's account, and authorize
    /// `iam:PassRole` on its role.
    fn profile(&self, prefix: &str) -> Result<Option<(InstanceProfile, Option<Role>)>, AwsError> {
        let arn = self.p.get(&format!("{prefix}.Arn"));
        let name = self.p.get(&format!("{prefix}.Name"));
        let (lookup_name, shown, field) = match (arn, name) {
            (None, None) => return Ok(None),
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "The parameter 'iamInstanceProfile' may specify either an ARN or a name, not both.",
                ))
            }
            (Some(a), None) => {
                let rest = a
                    .strip_prefix(&format!("arn:aws:iam::{}:instance-profile/", self.account()))
                    .ok_or_else(|| {
                        invalid(format!("Value ({a}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN"))
                    })?;
                (rest.rsplit('/').next().unwrap_or(rest).to_string(), a, "arn")
            }
            (None, Some(n)) => (n.to_string(), n, "name"),
        };
        let r = self.services.store.read().map_err(internal)?;
        let profile: Option<InstanceProfile> =
            model::load(r.as_ref(), model::table::INSTANCE_PROFILE, &model::name_key(self.account(), &lookup_name))
                .map_err(internal)?;
        let profile = profile.filter(|p| field == "name" || p.arn() == shown).ok_or_else(|| {
            let what = if field == "arn" { "ARN" } else { "name" };
            invalid(format!(
                "Value ({shown}) for parameter iamInstanceProfile.{field} is invalid. Invalid IAM Instance Profile {what}"
            ))
        })?;
        let role: Option<Role> = match profile.roles.first() {
            None => None,
            Some(role_name) => model::load(r.as_ref(), model::table::ROLE, &model::name_key(self.account(), role_name))
                .map_err(internal)?,
        };
        drop(r);
        if let Some(role) = &role {
            let req = AuthzRequest {
                action: "iam:PassRole",
                resource: &role.arn(),
                context: vec![("iam:PassedToService".into(), vec!["ec2.amazonaws.com".into()])],
                ..Default::default()
            };
            self.services.authorize_request(self.call, &req).map_err(unauthorized)?;
        }
        Ok(Some((profile, role)))
    }

    fn association(&self, profile: &InstanceProfile) -> ProfileAssociation {
        ProfileAssociation {
            association_id: format!("iip-assoc-{}", crate::ids::lower_hex(17)),
            profile_arn: profile.arn(),
            profile_id: profile.instance_profile_id.clone(),
            profile_account: profile.account.clone(),
            profile_name: profile.name.clone(),
            since: self.call.now_secs(),
        }
    }
}

/// `TagSpecification.N` entries for `instance`.
fn tag_specifications(p: &QueryParams) -> Result<Vec<Tag>, AwsError> {
    let mut tags = Vec::new();
    for spec in p.ec2_structs("TagSpecification") {
        let ty = spec.get("ResourceType").unwrap_or("");
        if ty != "instance" {
            return Err(invalid(format!("'{ty}' is not a valid taggable resource type for this operation.")));
        }
        tags.extend(read_tags(&spec)?);
    }
    check_tags(&tags)?;
    Ok(tags)
}

fn read_tags(p: &QueryParams) -> Result<Vec<Tag>, AwsError> {
    let mut tags = Vec::new();
    for t in p.ec2_structs("Tag") {
        let key = t.get("Key").ok_or_else(|| AwsError::missing_parameter("Tag.Key"))?.to_string();
        let value = t.get("Value").unwrap_or("").to_string();
        tags.push(Tag { key, value });
    }
    Ok(tags)
}

fn check_tags(tags: &[Tag]) -> Result<(), AwsError> {
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 {
            return Err(invalid("Tag keys must be between 1 and 128 characters."));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("Tag keys starting with 'aws:' are reserved for internal use"));
        }
        if t.value.chars().count() > 256 {
            return Err(invalid("Tag values must be at most 256 characters."));
        }
    }
    if tags.len() > 50 {
        return Err(AwsError::new(
            400,
            "TagLimitExceeded",
            "The maximum number of Tags for a resource has been reached.",
        ));
    }
    Ok(())
}

use tessera_core::model::request_tag_context as tag_context;

fn resource_tag_context(i: &Instance) -> Ctx {
    let mut c: Ctx = i.tags.iter().map(|t| (format!("ec2:ResourceTag/{}", t.key), vec![t.value.clone()])).collect();
    c.extend(i.tags.iter().map(|t| (format!("aws:ResourceTag/{}", t.key), vec![t.value.clone()])));
    if let Some(p) = &i.profile {
        c.push(("ec2:InstanceProfile".into(), vec![p.profile_arn.clone()]));
    }
    c.push(("ec2:InstanceType".into(), vec![i.instance_type.clone()]));
    c
}

fn is_ami_id(s: &str) -> bool {
    s.strip_prefix("ami-").is_some_and(|h| (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_instance_type(s: &str) -> bool {
    let Some((family, size)) = s.split_once('.') else { return false };
    !family.is_empty()
        && !size.is_empty()
        && family.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && size.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn write_state(w: &mut XmlWriter, tag: &'static str, state: &str) {
    w.open(tag, None).elem("code", &Instance::state_code(state).to_string()).elem("name", state).close();
}

fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    w.open("tagSet", None);
    for t in tags {
        w.open("item", None).elem("key", &t.key).elem("value", &t.value).close();
    }
    w.close();
}

/// One `<item>` of an `instancesSet`, showing `state` (RunInstances shows `pending`).
fn write_instance(w: &mut XmlWriter, i: &Instance, state: &str) {
    w.open("item", None);
    w.elem("instanceId", &i.instance_id).elem("imageId", &i.image_id);
    write_state(w, "instanceState", state);
    let running = state != "terminated";
    let dns = if running { i.private_dns() } else { String::new() };
    w.elem("privateDnsName", &dns);
    w.elem("dnsName", "");
    w.elem("reason", &i.state_reason);
    w.opt("keyName", i.key_name.as_deref());
    w.elem("amiLaunchIndex", &i.ami_launch_index.to_string());
    w.elem("productCodes", "");
    w.elem("instanceType", &i.instance_type);
    w.elem("launchTime", &crate::clock::iso8601(i.launch_time));
    w.open("placement", None)
        .elem("availabilityZone", &i.availability_zone)
        .elem("groupName", "")
        .elem("tenancy", "default")
        .close();
    w.open("monitoring", None).elem("state", "disabled").close();
    if running {
        w.elem("privateIpAddress", &i.private_ip);
    }
    w.elem("groupSet", "");
    if state == "terminated" || state == "stopped" {
        let (code, msg) = ("Client.UserInitiatedShutdown", "Client.UserInitiatedShutdown: User initiated shutdown");
        w.open("stateReason", None).elem("code", code).elem("message", msg).close();
    }
    w.elem("architecture", "x86_64");
    w.elem("rootDeviceType", "ebs");
    w.elem("rootDeviceName", "/dev/xvda");
    w.elem("blockDeviceMapping", "");
    w.elem("virtualizationType", "hvm");
    w.opt("clientToken", i.client_token.as_deref());
    write_tags(w, &i.tags);
    w.elem("hypervisor", "xen");
    if let Some(p) = &i.profile {
        w.open("iamInstanceProfile", None).elem("arn", &p.profile_arn).elem("id", &p.profile_id).close();
    }
    w.elem("ebsOptimized", "false");
    w.open("metadataOptions", None)
        .elem("state", "applied")
        .elem("httpTokens", "required")
        .elem("httpPutResponseHopLimit", "2")
        .elem("httpEndpoint", "enabled")
        .elem("httpProtocolIpv6", "disabled")
        .elem("instanceMetadataTags", "disabled")
        .close();
    w.close();
}

fn run_instances(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let p = cx.p;
    let image_id = p.get("ImageId").ok_or_else(|| AwsError::missing_parameter("ImageId"))?;
    if !is_ami_id(image_id) {
        return Err(AwsError::new(
            400,
            "InvalidAMIID.Malformed",
            format!("Invalid id: \"{image_id}\" (expecting \"ami-...\")"),
        ));
    }
    let count = |name: &str| -> Result<i64, AwsError> {
        let v = p.get(name).ok_or_else(|| AwsError::missing_parameter(name))?;
        v.parse::<i64>().map_err(|_| invalid(format!("Invalid value '{v}' for {name}")))
    };
    let (min, max) = (count("MinCount")?, count("MaxCount")?);
    if min < 1 {
        return Err(invalid(format!("Value ({min}) for parameter minCount is invalid. Expected a positive integer")));
    }
    if max < 1 {
        return Err(invalid(format!("Value ({max}) for parameter maxCount is invalid. Expected a positive integer")));
    }
    if min > max {
        return Err(invalid("The parameter minCount must be less than or equal to the parameter maxCount"));
    }
    if min > MAX_LAUNCH {
        return Err(AwsError::new(
            400,
            "InstanceLimitExceeded",
            format!("You have requested more instances ({min}) than your current instance limit of {MAX_LAUNCH} allows for the specified instance type."),
        ));
    }
    let launch = max.min(MAX_LAUNCH);
    let instance_type = p.get("InstanceType").unwrap_or("m1.small");
    if !is_instance_type(instance_type) {
        return Err(invalid(format!("Invalid value '{instance_type}' for InstanceType.")));
    }
    let region = cx.region().to_string();
    let az = match p.get("Placement.AvailabilityZone") {
        None => format!("{region}a"),
        Some(z)
            if z.len() == region.len() + 1
                && z.starts_with(&region)
                && z.as_bytes()[region.len()].is_ascii_lowercase() =>
        {
            z.to_string()
        }
        Some(z) => {
            return Err(invalid(format!("Invalid availability zone: [{z}]")));
        }
    };
    let key_name = p.get("KeyName").map(str::to_string);
    let client_token = p.get("ClientToken").map(str::to_string);
    if client_token.as_deref().is_some_and(|t| t.len() > 64) {
        return Err(invalid("Value for parameter clientToken is invalid. Length must not exceed 64 characters"));
    }
    let tags = tag_specifications(p)?;

    let mut context = vec![
        ("ec2:InstanceType".into(), vec![instance_type.to_string()]),
        ("ec2:AvailabilityZone".into(), vec![az.clone()]),
    ];
    context.extend(tag_context(&tags));
    let profile_arn_hint = p.get("IamInstanceProfile.Arn").map(str::to_string);
    if let Some(a) = &profile_arn_hint {
        context.push(("ec2:InstanceProfile".into(), vec![a.clone()]));
    }
    cx.authorize("ec2:RunInstances", &cx.instance_wildcard(), context.clone())?;
    cx.authorize("ec2:RunInstances", &format!("arn:aws:ec2:{region}::image/{image_id}"), Vec::new())?;
    if !tags.is_empty() {
        let mut c = tag_context(&tags);
        c.push(("ec2:CreateAction".into(), vec!["RunInstances".into()]));
        cx.authorize("ec2:CreateTags", &cx.instance_wildcard(), c)?;
    }
    let profile = cx.profile("IamInstanceProfile")?;
    cx.check_dry_run()?;

    // Idempotency: the same ClientToken returns the earlier reservation.
    if let Some(token) = &client_token {
        let r = cx.services.store.read().map_err(internal)?;
        let earlier: Vec<Instance> =
            cx.instances(r.as_ref())?.into_iter().filter(|i| i.client_token.as_deref() == Some(token)).collect();
        if !earlier.is_empty() {
            return Ok(reservation_response(cx, "RunInstances", &earlier, "pending"));
        }
    }

    let now = cx.call.now_secs();
    let reservation_id = format!("r-{}", crate::ids::lower_hex(17));
    let mut rng = rand::rngs::OsRng;
    let instances: Vec<Instance> = (0..launch)
        .map(|n| Instance {
            instance_id: format!("i-{}", crate::ids::lower_hex(17)),
            account: cx.account().to_string(),
            region: region.clone(),
            reservation_id: reservation_id.clone(),
            image_id: image_id.to_string(),
            instance_type: instance_type.to_string(),
            key_name: key_name.clone(),
            state: "running".into(),
            launch_time: now,
            state_reason: String::new(),
            availability_zone: az.clone(),
            private_ip: format!("172.31.{}.{}", rng.gen_range(0..=255), rng.gen_range(1..=254)),
            ami_launch_index: u32::try_from(n).unwrap_or(0),
            client_token: client_token.clone(),
            tags: tags.clone(),
            profile: profile.as_ref().map(|(p, _)| cx.association(p)),
            terminated_at: None,
        })
        .collect();
    write(cx.services, |w| -> Result<(), AwsError> {
        for i in &instances {
            save_instance(w, i)?;
        }
        Ok(())
    })?;
    Ok(reservation_response(cx, "RunInstances", &instances, "pending"))
}

/// Run `f` in one write transaction: commit on `Ok`, roll back otherwise.
fn write<R>(services: &Services, f: impl FnOnce(&mut dyn WriteTxn) -> Result<R, AwsError>) -> Result<R, AwsError> {
    let mut txn = services.store.write().map_err(internal)?;
    let out = f(txn.as_mut())?;
    txn.commit().map_err(internal)?;
    Ok(out)
}

fn save_instance(w: &mut dyn WriteTxn, i: &Instance) -> Result<(), AwsError> {
    let key = instance_key(&i.account, &i.region, &i.instance_id);
    model::save(w, table::INSTANCE, &key, i).map_err(internal)?;
    w.put(table::INSTANCE_ID, &i.instance_id, key.as_bytes()).map_err(internal)
}

fn reservation_response(cx: &Cx<'_>, op: &str, instances: &[Instance], state: &str) -> WireResponse {
    let mut w = XmlWriter::fragment();
    let first = &instances[0];
    w.elem("reservationId", &first.reservation_id).elem("ownerId", &first.account).elem("groupSet", "");
    w.open("instancesSet", None);
    for i in instances {
        write_instance(&mut w, i, state);
    }
    w.close();
    WireResponse::ec2(op, &w.finish(), &cx.call.meta.request_id)
}

/// A parsed `Filter.N`.
struct Filter {
    name: String,
    values: Vec<String>,
}

fn filters(p: &QueryParams) -> Vec<Filter> {
    p.ec2_structs("Filter")
        .into_iter()
        .map(|f| Filter {
            name: f.get("Name").unwrap_or("").to_string(),
            values: f.ec2_list("Value").into_iter().map(str::to_string).collect(),
        })
        .collect()
}

/// EC2 filter values match with `*` and `?` wildcards.
fn value_matches(pattern: &str, text: &str) -> bool {
    tessera_policy::wildcard_match(pattern, text)
}

fn instance_filter_values(i: &Instance, name: &str) -> Option<Vec<String>> {
    let one = |s: &str| Some(vec![s.to_string()]);
    if let Some(k) = name.strip_prefix("tag:") {
        return Some(i.tags.iter().filter(|t| t.key == k).map(|t| t.value.clone()).collect());
    }
    match name {
        "instance-id" => one(&i.instance_id),
        "instance-state-name" => one(&i.state),
        "instance-state-code" => one(&Instance::state_code(&i.state).to_string()),
        "instance-type" => one(&i.instance_type),
        "image-id" => one(&i.image_id),
        "reservation-id" => one(&i.reservation_id),
        "owner-id" => one(&i.account),
        "availability-zone" => one(&i.availability_zone),
        "key-name" => Some(i.key_name.iter().cloned().collect()),
        "private-ip-address" => one(&i.private_ip),
        "private-dns-name" => one(&i.private_dns()),
        "client-token" => Some(i.client_token.iter().cloned().collect()),
        "iam-instance-profile.arn" => Some(i.profile.iter().map(|p| p.profile_arn.clone()).collect()),
        "iam-instance-profile.id" => Some(i.profile.iter().map(|p| p.profile_id.clone()).collect()),
        "tag-key" => Some(i.tags.iter().map(|t| t.key.clone()).collect()),
        "tag-value" => Some(i.tags.iter().map(|t| t.value.clone()).collect()),
        _ => None,
    }
}

fn check_filters(fs: &[Filter], known: impl Fn(&str) -> bool) -> Result<(), AwsError> {
    for f in fs {
        if !known(&f.name) {
            return Err(invalid(format!("The filter '{}' is invalid", f.name)));
        }
    }
    Ok(())
}

fn page_params(p: &QueryParams, has_ids: bool, min: i64) -> Result<(usize, Option<String>), AwsError> {
    let max = match p.get("MaxResults") {
        None => usize::MAX,
        Some(v) => {
            if has_ids {
                return Err(invalid("The parameter instancesSet cannot be used with the parameter maxResults"));
            }
            let n: i64 = v.parse().map_err(|_| invalid(format!("Invalid value '{v}' for maxResults")))?;
            if !(min..=1000).contains(&n) {
                return Err(invalid(format!(
                    "Value ( {n} ) for parameter maxResults is invalid. Expecting a value greater than {}.",
                    min - 1
                )));
            }
            usize::try_from(n).unwrap_or(1000)
        }
    };
    let after = match p.get("NextToken") {
        None => None,
        Some(t) => Some(hex_decode(t).ok_or_else(|| invalid(format!("Invalid value '{t}' for nextToken")))?),
    };
    Ok((max, after))
}

fn hex_decode(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

fn hex_encode(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn describe_instances(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let ids: Vec<String> = cx.p.ec2_list("InstanceId").into_iter().map(str::to_string).collect();
    for id in &ids {
        if !is_instance_id(id) {
            return Err(malformed_instance_id(id));
        }
    }
    let fs = filters(cx.p);
    let probe = Instance {
        instance_id: String::new(),
        account: String::new(),
        region: String::new(),
        reservation_id: String::new(),
        image_id: String::new(),
        instance_type: String::new(),
        key_name: None,
        state: String::new(),
        launch_time: 0,
        state_reason: String::new(),
        availability_zone: String::new(),
        private_ip: String::new(),
        ami_launch_index: 0,
        client_token: None,
        tags: Vec::new(),
        profile: None,
        terminated_at: None,
    };
    check_filters(&fs, |n| instance_filter_values(&probe, n).is_some())?;
    let (max, after) = page_params(cx.p, !ids.is_empty(), 5)?;
    cx.authorize("ec2:DescribeInstances", "*", Vec::new())?;
    cx.check_dry_run()?;
    let r = cx.services.store.read().map_err(internal)?;
    let all = cx.instances(r.as_ref())?;
    drop(r);
    if !ids.is_empty() {
        let missing: Vec<String> =
            ids.iter().filter(|id| !all.iter().any(|i| &i.instance_id == *id)).cloned().collect();
        if !missing.is_empty() {
            return Err(not_found_ids(&missing));
        }
    }
    let mut selected: Vec<Instance> = all
        .into_iter()
        .filter(|i| ids.is_empty() || ids.contains(&i.instance_id))
        .filter(|i| {
            fs.iter().all(|f| {
                let have = instance_filter_values(i, &f.name).unwrap_or_default();
                f.values.iter().any(|v| have.iter().any(|h| value_matches(v, h)))
            })
        })
        .filter(|i| after.as_deref().is_none_or(|a| i.instance_id.as_str() > a))
        .collect();
    selected.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    let next = if selected.len() > max {
        selected.truncate(max);
        selected.last().map(|i| hex_encode(&i.instance_id))
    } else {
        None
    };
    // Group into reservations, in order of first appearance.
    let mut reservations: Vec<(String, Vec<&Instance>)> = Vec::new();
    for i in &selected {
        match reservations.iter_mut().find(|(r, _)| *r == i.reservation_id) {
            Some((_, v)) => v.push(i),
            None => reservations.push((i.reservation_id.clone(), vec![i])),
        }
    }
    let mut w = XmlWriter::fragment();
    w.open("reservationSet", None);
    for (rid, instances) in &reservations {
        w.open("item", None).elem("reservationId", rid).elem("ownerId", cx.account()).elem("groupSet", "");
        w.open("instancesSet", None);
        for i in instances {
            write_instance(&mut w, i, &i.state);
        }
        w.close().close();
    }
    w.close();
    w.opt("nextToken", next.as_deref());
    Ok(WireResponse::ec2("DescribeInstances", &w.finish(), &cx.call.meta.request_id))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Terminate,
    Stop,
    Start,
}

fn change_state(cx: &Cx<'_>, change: Change) -> Result<WireResponse, AwsError> {
    let ids: Vec<String> = cx.p.ec2_list("InstanceId").into_iter().map(str::to_string).collect();
    if ids.is_empty() {
        return Err(AwsError::missing_parameter("InstanceId"));
    }
    for id in &ids {
        if !is_instance_id(id) {
            return Err(malformed_instance_id(id));
        }
    }
    let (op, action) = match change {
        Change::Terminate => ("TerminateInstances", "ec2:TerminateInstances"),
        Change::Stop => ("StopInstances", "ec2:StopInstances"),
        Change::Start => ("StartInstances", "ec2:StartInstances"),
    };
    let r = cx.services.store.read().map_err(internal)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in &ids {
        match cx.load_instance(r.as_ref(), id)? {
            Some(i) => found.push(i),
            None => missing.push(id.clone()),
        }
    }
    drop(r);
    if !missing.is_empty() {
        return Err(not_found_ids(&missing));
    }
    for i in &found {
        cx.authorize(action, &i.arn(), resource_tag_context(i))?;
    }
    cx.check_dry_run()?;
    for i in &found {
        let bad = match change {
            Change::Stop => i.state == "terminated",
            Change::Start => i.state == "terminated",
            Change::Terminate => false,
        };
        if bad {
            let verb = if change == Change::Stop { "stopped" } else { "started" };
            return Err(AwsError::new(
                400,
                "IncorrectInstanceState",
                format!("The instance '{}' is not in a state from which it can be {verb}.", i.instance_id),
            ));
        }
    }
    let now = cx.call.now_secs();
    let mut items = Vec::new();
    let ids_in_order = ids.clone();
    let changed = write(cx.services, |w| -> Result<Vec<(Instance, String, String)>, AwsError> {
        let mut out = Vec::new();
        for id in &ids_in_order {
            let key = instance_key(cx.account(), cx.region(), id);
            let Some(mut i) = model::load::<Instance>(w, table::INSTANCE, &key).map_err(internal)? else { continue };
            let previous = i.state.clone();
            let (shown, stored) = match change {
                Change::Terminate if previous == "terminated" => ("terminated", "terminated"),
                Change::Terminate => ("shutting-down", "terminated"),
                Change::Stop if previous == "stopped" => ("stopped", "stopped"),
                Change::Stop => ("stopping", "stopped"),
                Change::Start if previous == "running" => ("running", "running"),
                Change::Start => ("pending", "running"),
            };
            if previous != stored {
                i.state = stored.to_string();
                i.state_reason = match change {
                    Change::Start => String::new(),
                    _ => format!(
                        "User initiated ({})",
                        crate::clock::iso8601(now).replace('T', " ").replace('Z', " GMT")
                    ),
                };
                if change == Change::Terminate {
                    i.terminated_at = Some(now);
                    i.profile = None;
                    w.delete(table::IMDS_CREDENTIALS, &i.instance_id).map_err(internal)?;
                }
                save_instance(w, &i)?;
            }
            out.push((i, previous, shown.to_string()));
        }
        Ok(out)
    })?;
    items.extend(changed);
    let mut w = XmlWriter::fragment();
    w.open("instancesSet", None);
    for (i, previous, shown) in &items {
        w.open("item", None).elem("instanceId", &i.instance_id);
        write_state(&mut w, "currentState", shown);
        write_state(&mut w, "previousState", previous);
        w.close();
    }
    w.close();
    Ok(WireResponse::ec2(op, &w.finish(), &cx.call.meta.request_id))
}

fn describe_regions(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let names = cx.p.ec2_list("RegionName");
    let fs = filters(cx.p);
    check_filters(&fs, |n| matches!(n, "region-name" | "endpoint" | "opt-in-status"))?;
    for n in &names {
        if !REGIONS.contains(n) {
            return Err(AwsError::new(400, "InvalidParameterValue", format!("Invalid region name: {n}")));
        }
    }
    cx.authorize("ec2:DescribeRegions", "*", Vec::new())?;
    cx.check_dry_run()?;
    let mut w = XmlWriter::fragment();
    w.open("regionInfo", None);
    for r in REGIONS {
        if !names.is_empty() && !names.contains(r) {
            continue;
        }
        let endpoint = format!("ec2.{r}.amazonaws.com");
        let ok = fs.iter().all(|f| {
            let have = match f.name.as_str() {
                "region-name" => r.to_string(),
                "endpoint" => endpoint.clone(),
                _ => "opt-in-not-required".to_string(),
            };
            f.values.iter().any(|v| value_matches(v, &have))
        });
        if ok {
            w.open("item", None)
                .elem("regionName", r)
                .elem("regionEndpoint", &endpoint)
                .elem("optInStatus", "opt-in-not-required")
                .close();
        }
    }
    w.close();
    Ok(WireResponse::ec2("DescribeRegions", &w.finish(), &cx.call.meta.request_id))
}

fn describe_availability_zones(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.authorize("ec2:DescribeAvailabilityZones", "*", Vec::new())?;
    cx.check_dry_run()?;
    let region = cx.region();
    let mut w = XmlWriter::fragment();
    w.open("availabilityZoneInfo", None);
    for (n, letter) in ["a", "b", "c"].iter().enumerate() {
        w.open("item", None)
            .elem("zoneName", &format!("{region}{letter}"))
            .elem("zoneState", "available")
            .elem("regionName", region)
            .elem("zoneId", &format!("{}-az{}", zone_prefix(region), n + 1))
            .elem("zoneType", "availability-zone")
            .elem("optInStatus", "opt-in-not-required")
            .close();
    }
    w.close();
    Ok(WireResponse::ec2("DescribeAvailabilityZones", &w.finish(), &cx.call.meta.request_id))
}

/// AWS's short region form in zone ids: `us-east-1` → `use1`, `ap-northeast-1` → `apne1`.
fn zone_prefix(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i == 1 {
            for word in ["north", "south", "east", "west", "central"] {
                if let Some(rest) = p.strip_prefix(word) {
                    out.push_str(&word[..1]);
                    out.push_str(&rest[..rest.len().min(1)]);
                    break;
                }
            }
        } else {
            out.push_str(p);
        }
    }
    out
}

fn write_association(w: &mut XmlWriter, tag: &'static str, instance_id: &str, a: &ProfileAssociation, state: &str) {
    w.open(tag, None)
        .elem("associationId", &a.association_id)
        .elem("instanceId", instance_id)
        .open("iamInstanceProfile", None)
        .elem("arn", &a.profile_arn)
        .elem("id", &a.profile_id)
        .close()
        .elem("state", state)
        .elem("timestamp", &crate::clock::iso8601(a.since))
        .close();
}

fn describe_associations(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let ids: Vec<&str> = cx.p.ec2_list("AssociationId");
    let fs = filters(cx.p);
    check_filters(&fs, |n| matches!(n, "instance-id" | "state"))?;
    let (max, after) = page_params(cx.p, !ids.is_empty(), 5)?;
    cx.authorize("ec2:DescribeIamInstanceProfileAssociations", "*", Vec::new())?;
    cx.check_dry_run()?;
    let r = cx.services.store.read().map_err(internal)?;
    let all = cx.instances(r.as_ref())?;
    drop(r);
    let mut assoc: Vec<(String, ProfileAssociation)> =
        all.into_iter().filter_map(|i| i.profile.map(|p| (i.instance_id, p))).collect();
    for id in &ids {
        if !assoc.iter().any(|(_, a)| a.association_id == *id) {
            return Err(AwsError::new(
                400,
                "InvalidAssociationID.NotFound",
                format!("An association with ID {id} does not exist."),
            ));
        }
    }
    assoc.retain(|(iid, a)| {
        (ids.is_empty() || ids.contains(&a.association_id.as_str()))
            && fs.iter().all(|f| {
                let have = if f.name == "instance-id" { iid.clone() } else { "associated".to_string() };
                f.values.iter().any(|v| value_matches(v, &have))
            })
            && after.as_deref().is_none_or(|x| a.association_id.as_str() > x)
    });
    assoc.sort_by(|a, b| a.1.association_id.cmp(&b.1.association_id));
    let next = if assoc.len() > max {
        assoc.truncate(max);
        assoc.last().map(|(_, a)| hex_encode(&a.association_id))
    } else {
        None
    };
    let mut w = XmlWriter::fragment();
    w.open("iamInstanceProfileAssociationSet", None);
    for (iid, a) in &assoc {
        write_association(&mut w, "item", iid, a, "associated");
    }
    w.close();
    w.opt("nextToken", next.as_deref());
    Ok(WireResponse::ec2("DescribeIamInstanceProfileAssociations", &w.finish(), &cx.call.meta.request_id))
}

/// Find the instance holding association `id`.
fn instance_by_association(cx: &Cx<'_>, id: &str) -> Result<Instance, AwsError> {
    let r = cx.services.store.read().map_err(internal)?;
    cx.instances(r.as_ref())?
        .into_iter()
        .find(|i| i.profile.as_ref().is_some_and(|p| p.association_id == id))
        .ok_or_else(|| {
            AwsError::new(400, "InvalidAssociationID.NotFound", format!("An association with ID {id} does not exist."))
        })
}

fn associate(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let id = cx.p.get("InstanceId").ok_or_else(|| AwsError::missing_parameter("InstanceId"))?;
    if !is_instance_id(id) {
        return Err(malformed_instance_id(id));
    }
    if cx.p.get("IamInstanceProfile.Arn").is_none() && cx.p.get("IamInstanceProfile.Name").is_none() {
        return Err(AwsError::missing_parameter("IamInstanceProfile"));
    }
    let r = cx.services.store.read().map_err(internal)?;
    let instance = cx.load_instance(r.as_ref(), id)?.ok_or_else(|| not_found_ids(&[id.to_string()]))?;
    drop(r);
    cx.authorize("ec2:AssociateIamInstanceProfile", &instance.arn(), resource_tag_context(&instance))?;
    let (profile, _) =
        cx.profile("IamInstanceProfile")?.ok_or_else(|| AwsError::missing_parameter("IamInstanceProfile"))?;
    cx.check_dry_run()?;
    if instance.state == "terminated" {
        return Err(AwsError::new(
            400,
            "IncorrectState",
            format!("The instance '{id}' is not in a valid state for this operation."),
        ));
    }
    if instance.profile.is_some() {
        return Err(AwsError::new(
            400,
            "IncorrectState",
            format!("There is an existing association for instance {id}"),
        ));
    }
    let assoc = cx.association(&profile);
    let key = instance_key(cx.account(), cx.region(), id);
    let a = assoc.clone();
    write(cx.services, |w| -> Result<(), AwsError> {
        let mut i: Instance =
            model::load(w, table::INSTANCE, &key).map_err(internal)?.ok_or_else(|| not_found_ids(&[id.to_string()]))?;
        if i.profile.is_some() {
            return Err(AwsError::new(
                400,
                "IncorrectState",
                format!("There is an existing association for instance {id}"),
            ));
        }
        i.profile = Some(a);
        w.delete(table::IMDS_CREDENTIALS, id).map_err(internal)?;
        save_instance(w, &i)
    })?;
    let mut w = XmlWriter::fragment();
    write_association(&mut w, "iamInstanceProfileAssociation", id, &assoc, "associating");
    Ok(WireResponse::ec2("AssociateIamInstanceProfile", &w.finish(), &cx.call.meta.request_id))
}

fn replace_association(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let assoc_id = cx.p.get("AssociationId").ok_or_else(|| AwsError::missing_parameter("AssociationId"))?;
    if cx.p.get("IamInstanceProfile.Arn").is_none() && cx.p.get("IamInstanceProfile.Name").is_none() {
        return Err(AwsError::missing_parameter("IamInstanceProfile"));
    }
    let instance = instance_by_association(cx, assoc_id)?;
    cx.authorize("ec2:ReplaceIamInstanceProfileAssociation", &instance.arn(), resource_tag_context(&instance))?;
    let (profile, _) =
        cx.profile("IamInstanceProfile")?.ok_or_else(|| AwsError::missing_parameter("IamInstanceProfile"))?;
    cx.check_dry_run()?;
    let assoc = cx.association(&profile);
    let key = instance_key(cx.account(), cx.region(), &instance.instance_id);
    let a = assoc.clone();
    write(cx.services, |w| -> Result<(), AwsError> {
        let mut i: Instance = model::load(w, table::INSTANCE, &key).map_err(internal)?.ok_or_else(|| {
            AwsError::new(
                400,
                "InvalidAssociationID.NotFound",
                format!("An association with ID {assoc_id} does not exist."),
            )
        })?;
        if i.profile.as_ref().is_none_or(|p| p.association_id != assoc_id) {
            return Err(AwsError::new(
                400,
                "InvalidAssociationID.NotFound",
                format!("An association with ID {assoc_id} does not exist."),
            ));
        }
        i.profile = Some(a);
        w.delete(table::IMDS_CREDENTIALS, &i.instance_id).map_err(internal)?;
        save_instance(w, &i)
    })?;
    let mut w = XmlWriter::fragment();
    write_association(&mut w, "iamInstanceProfileAssociation", &instance.instance_id, &assoc, "associating");
    Ok(WireResponse::ec2("ReplaceIamInstanceProfileAssociation", &w.finish(), &cx.call.meta.request_id))
}

fn disassociate(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let assoc_id = cx.p.get("AssociationId").ok_or_else(|| AwsError::missing_parameter("AssociationId"))?;
    let instance = instance_by_association(cx, assoc_id)?;
    cx.authorize("ec2:DisassociateIamInstanceProfile", &instance.arn(), resource_tag_context(&instance))?;
    cx.check_dry_run()?;
    let key = instance_key(cx.account(), cx.region(), &instance.instance_id);
    let old = write(cx.services, |w| -> Result<ProfileAssociation, AwsError> {
        let mut i: Instance = model::load(w, table::INSTANCE, &key).map_err(internal)?.ok_or_else(|| {
            AwsError::new(
                400,
                "InvalidAssociationID.NotFound",
                format!("An association with ID {assoc_id} does not exist."),
            )
        })?;
        let old = i.profile.take().filter(|p| p.association_id == assoc_id).ok_or_else(|| {
            AwsError::new(
                400,
                "InvalidAssociationID.NotFound",
                format!("An association with ID {assoc_id} does not exist."),
            )
        })?;
        w.delete(table::IMDS_CREDENTIALS, &i.instance_id).map_err(internal)?;
        save_instance(w, &i)?;
        Ok(old)
    })?;
    let mut w = XmlWriter::fragment();
    write_association(&mut w, "iamInstanceProfileAssociation", &instance.instance_id, &old, "disassociating");
    Ok(WireResponse::ec2("DisassociateIamInstanceProfile", &w.finish(), &cx.call.meta.request_id))
}

/// `CreateTags` / `DeleteTags` on instances (the only taggable resources here).
fn tags(cx: &Cx<'_>, create: bool) -> Result<WireResponse, AwsError> {
    let ids: Vec<String> = cx.p.ec2_list("ResourceId").into_iter().map(str::to_string).collect();
    if ids.is_empty() {
        return Err(AwsError::missing_parameter("ResourceId"));
    }
    let given = read_tags(cx.p)?;
    if create {
        if given.is_empty() {
            return Err(AwsError::missing_parameter("Tag"));
        }
        check_tags(&given)?;
    }
    for id in &ids {
        if !is_instance_id(id) {
            return Err(AwsError::new(400, "InvalidID", format!("The ID '{id}' is not valid")));
        }
    }
    let r = cx.services.store.read().map_err(internal)?;
    let mut found = Vec::new();
    for id in &ids {
        found.push(cx.load_instance(r.as_ref(), id)?.ok_or_else(|| not_found_ids(std::slice::from_ref(id)))?);
    }
    drop(r);
    let (op, action) = if create { ("CreateTags", "ec2:CreateTags") } else { ("DeleteTags", "ec2:DeleteTags") };
    for i in &found {
        let mut c = resource_tag_context(i);
        c.extend(tag_context(&given));
        cx.authorize(action, &i.arn(), c)?;
    }
    cx.check_dry_run()?;
    write(cx.services, |w| -> Result<(), AwsError> {
        for id in &ids {
            let key = instance_key(cx.account(), cx.region(), id);
            let Some(mut i) = model::load::<Instance>(w, table::INSTANCE, &key).map_err(internal)? else { continue };
            if create {
                for t in &given {
                    match i.tags.iter_mut().find(|x| x.key == t.key) {
                        Some(x) => x.value = t.value.clone(),
                        None => i.tags.push(t.clone()),
                    }
                }
                check_tags(&i.tags)?;
            } else if given.is_empty() {
                i.tags.clear();
            } else {
                // A tag given with a value is deleted only if the value matches.
                let raw: Vec<(String, Option<String>)> =
                    cx.p.ec2_structs("Tag")
                        .iter()
                        .map(|t| (t.get("Key").unwrap_or("").to_string(), t.get("Value").map(str::to_string)))
                        .collect();
                i.tags.retain(|x| !raw.iter().any(|(k, v)| *k == x.key && v.as_ref().is_none_or(|v| *v == x.value)));
            }
            save_instance(w, &i)?;
        }
        Ok(())
    })?;
    let mut w = XmlWriter::fragment();
    w.elem("return", "true");
    Ok(WireResponse::ec2(op, &w.finish(), &cx.call.meta.request_id))
}

#[cfg(test)]
mod tests;
