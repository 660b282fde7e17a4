//! Trails: CreateTrail, UpdateTrail, DeleteTrail, GetTrail, DescribeTrails, ListTrails,
//! GetTrailStatus, StartLogging, StopLogging, GetEventSelectors, ListPublicKeys (insight
//! selectors are in `insights.rs`, tags in `tags.rs`).
//!
//! A trail belongs to an account and a home region; a multi-region trail is visible (as a shadow
//! trail) in every region, but changed only from its home region. Trail names are unique per
//! account. Delivery itself is done by the server's [`tessera_audit::delivery::Deliverer`].

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};
use tessera_audit::delivery::BucketProblem;
use tessera_audit::store::{DigestChain, Trail, TrailState};
use tessera_wire::AwsError;

use super::{epoch, err, store_failure, timestamp_millis};
use crate::authz::AuthzRequest;
use crate::{Call, Services};

/// Trails per account per region (AWS's quota).
const MAX_TRAILS_PER_REGION: usize = 5;
/// Tags per trail.
pub(super) const MAX_TAGS: usize = 50;

pub(super) fn not_found(name_or_arn: &str, account: &str) -> AwsError {
    err("TrailNotFoundException", format!("Unknown trail: {name_or_arn} for the user: {account}"))
}

/// Validate a trail name as CloudTrail does.
pub(crate) fn validate_trail_name(name: &str) -> Result<(), AwsError> {
    let invalid = |m: String| Err(err("InvalidTrailNameException", m));
    let n = name.chars().count();
    if n < 3 {
        return invalid(format!(
            "Trail name too short. Minimum allowed length: 3 characters. Specified name length: {n} characters."
        ));
    }
    if n > 128 {
        return invalid(format!(
            "Trail name too long. Maximum allowed length: 128 characters. Specified name length: {n} characters."
        ));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) {
        return invalid(
            "Trail name or ARN can only contain uppercase letters, lowercase letters, numbers, periods (.), \
             hyphens (-), and underscores (_)."
                .into(),
        );
    }
    let first = name.chars().next().unwrap_or('.');
    let last = name.chars().last().unwrap_or('.');
    if !first.is_ascii_alphanumeric() {
        return invalid("Trail name must starts with a letter or number.".into());
    }
    if !last.is_ascii_alphanumeric() {
        return invalid("Trail name must ends with a letter or number.".into());
    }
    let b = name.as_bytes();
    if b.windows(2).any(|w| !w[0].is_ascii_alphanumeric() && !w[1].is_ascii_alphanumeric()) {
        return invalid("Trail name cannot have adjacent periods, underscores or dashes.".into());
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return invalid("Trail name cannot be formatted as an IP address.".into());
    }
    Ok(())
}

fn validate_bucket(bucket: &str) -> Result<(), AwsError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && bucket.as_bytes().first().is_some_and(|c| c.is_ascii_alphanumeric())
        && bucket.as_bytes().last().is_some_and(|c| c.is_ascii_alphanumeric())
        && !bucket.contains("..")
        && !(bucket.split('.').count() == 4 && bucket.split('.').all(|p| p.parse::<u8>().is_ok()));
    if ok {
        Ok(())
    } else {
        Err(err("InvalidS3BucketNameException", format!("Bucket name is not valid: {bucket}")))
    }
}

fn validate_prefix(prefix: &str) -> Result<(), AwsError> {
    if prefix.chars().count() > 200 || prefix.contains("..") || prefix.starts_with('/') || prefix.contains("//") {
        return Err(err("InvalidS3PrefixException", format!("Prefix is not valid: {prefix}")));
    }
    Ok(())
}

fn optional_bool(input: &Value, member: &str) -> Result<Option<bool>, AwsError> {
    match input.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(err("SerializationException", format!("Invalid type for member {member}"))),
    }
}

fn optional_str<'a>(input: &'a Value, member: &str) -> Result<Option<&'a str>, AwsError> {
    tessera_wire::json::optional_str(input, member)
        .map_err(|_| err("SerializationException", format!("Invalid type for member {member}")))
}

/// Members naming services Tessera does not have (SNS, CloudWatch Logs, KMS): such resources
/// cannot exist, so AWS's "does not exist" errors apply.
fn refuse_unavailable_integrations(input: &Value) -> Result<(), AwsError> {
    if let Some(t) = optional_str(input, "SnsTopicName")?.filter(|t| !t.is_empty()) {
        return Err(err("InsufficientSnsTopicPolicyException", format!("SNS topic {t} does not exist.")));
    }
    if optional_str(input, "CloudWatchLogsLogGroupArn")?.is_some_and(|t| !t.is_empty()) {
        return Err(err("InvalidCloudWatchLogsLogGroupArnException", "CloudWatch Logs log group does not exist."));
    }
    if optional_str(input, "CloudWatchLogsRoleArn")?.is_some_and(|t| !t.is_empty()) {
        return Err(err("InvalidCloudWatchLogsRoleArnException", "CloudWatch Logs role cannot be used."));
    }
    if let Some(k) = optional_str(input, "KmsKeyId")?.filter(|t| !t.is_empty()) {
        return Err(err("KmsKeyNotFoundException", format!("KMS key {k} does not exist.")));
    }
    if optional_bool(input, "IsOrganizationTrail")? == Some(true) {
        return Err(AwsError::not_implemented("cloudtrail", "organization trails"));
    }
    Ok(())
}

/// The trail name the string `member` designates (a name, or the ARN of one of the caller's trails).
fn trail_name_in(call: &Call, input: &Value, member: &str) -> Result<String, AwsError> {
    let raw = match input.get(member) {
        Some(Value::String(s)) => s.as_str(),
        None | Some(Value::Null) => {
            return Err(err("InvalidTrailNameException", "Trail name or ARN can not be empty."));
        }
        Some(_) => return Err(err("SerializationException", format!("Invalid type for member {member}"))),
    };
    name_of(call, raw)
}

fn name_of(call: &Call, raw: &str) -> Result<String, AwsError> {
    if let Some(rest) = raw.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let name = match parts.as_slice() {
            [_, "cloudtrail", region, account, resource] if !region.is_empty() && account.len() == 12 => {
                if *account != call.caller.account {
                    return Err(not_found(raw, &call.caller.account));
                }
                resource.strip_prefix("trail/")
            }
            _ => None,
        };
        let name = name.ok_or_else(|| err("CloudTrailARNInvalidException", format!("Invalid ARN: {raw}")))?;
        validate_trail_name(name)?;
        return Ok(name.to_string());
    }
    validate_trail_name(raw)?;
    Ok(raw.to_string())
}

fn requested_arn(call: &Call, name: &str) -> String {
    format!("arn:aws:cloudtrail:{}:{}:trail/{name}", call.meta.region, call.caller.account)
}

/// The caller's trail `name` as seen from the call's region: a single-region trail only in its
/// home region, a multi-region trail everywhere.
fn find(services: &Services, call: &Call, name: &str) -> Result<Option<Trail>, AwsError> {
    Ok(services
        .audit
        .trails(Some(&call.caller.account))
        .map_err(store_failure)?
        .into_iter()
        .find(|t| t.name == name && (t.home_region == call.meta.region || t.is_multi_region_trail)))
}

/// Look up, authorize (on the trail's ARN), and require existence.
fn authorized_trail(services: &Services, call: &Call, input: &Value, action: &str) -> Result<Trail, AwsError> {
    authorized_trail_in(services, call, input, "Name", action)
}

/// [`authorized_trail`] for the trail named by `member` (`TrailName` in the selector operations).
pub(super) fn authorized_trail_in(
    services: &Services,
    call: &Call,
    input: &Value,
    member: &str,
    action: &str,
) -> Result<Trail, AwsError> {
    let name = trail_name_in(call, input, member)?;
    let found = find(services, call, &name)?;
    let arn = found.as_ref().map_or_else(|| requested_arn(call, &name), Trail::arn);
    services.authorize(call, action, &arn)?;
    found.ok_or_else(|| not_found(&arn, &call.caller.account))
}

pub(super) fn require_home_region(call: &Call, t: &Trail) -> Result<(), AwsError> {
    if t.home_region != call.meta.region {
        return Err(err(
            "InvalidHomeRegionException",
            format!("This operation must be called from the trail's home region, {}.", t.home_region),
        ));
    }
    Ok(())
}

fn trail_json(t: &Trail, describe: bool) -> Value {
    let mut o = json!({
        "Name": t.name,
        "S3BucketName": t.s3_bucket_name,
        "IncludeGlobalServiceEvents": t.include_global_service_events,
        "IsMultiRegionTrail": t.is_multi_region_trail,
        "TrailARN": t.arn(),
        "LogFileValidationEnabled": t.log_file_validation_enabled,
        "IsOrganizationTrail": false,
    });
    if let Some(p) = t.s3_key_prefix.as_ref().filter(|p| !p.is_empty()) {
        o["S3KeyPrefix"] = json!(p);
    }
    if describe {
        o["HomeRegion"] = json!(t.home_region);
        o["HasCustomEventSelectors"] = json!(false);
        o["HasInsightSelectors"] = json!(false);
    }
    o
}

pub(super) fn tags(input: &Value) -> Result<Vec<(String, String)>, AwsError> {
    let list = match input.get("TagsList") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(err("SerializationException", "Invalid type for member TagsList")),
    };
    if list.len() > MAX_TAGS {
        return Err(err("TagsLimitExceededException", format!("The number of tags exceeds the limit of {MAX_TAGS}.")));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for t in list {
        let key = t.get("Key").and_then(Value::as_str).unwrap_or("");
        let value = t.get("Value").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 || key.starts_with("aws:") {
            return Err(err("InvalidTagParameterException", format!("Tag {key} is not valid.")));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(err("InvalidTagParameterException", format!("Tag key {key} is duplicated.")));
        }
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// `CreateTrail`.
pub fn create_trail(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let name = match input.get("Name") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => return Err(err("InvalidTrailNameException", "Trail name can not be empty.")),
        Some(_) => return Err(err("SerializationException", "Invalid type for member Name")),
    };
    validate_trail_name(&name)?;
    let tags = tags(input)?;
    let arn = requested_arn(call, &name);
    let context = vec![("aws:TagKeys".to_string(), tags.iter().map(|(k, _)| k.clone()).collect())]
        .into_iter()
        .filter(|(_, v): &(String, Vec<String>)| !v.is_empty())
        .chain(tags.iter().map(|(k, v)| (format!("aws:RequestTag/{k}"), vec![v.clone()])))
        .collect();
    services.authorize_request(
        call,
        &AuthzRequest { action: "cloudtrail:CreateTrail", resource: &arn, context, ..Default::default() },
    )?;
    let bucket = match input.get("S3BucketName") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(err("InvalidS3BucketNameException", "S3 bucket name can not be empty."));
        }
        Some(_) => return Err(err("SerializationException", "Invalid type for member S3BucketName")),
    };
    validate_bucket(&bucket)?;
    let prefix = optional_str(input, "S3KeyPrefix")?.map(str::to_string).filter(|p| !p.is_empty());
    if let Some(p) = &prefix {
        validate_prefix(p)?;
    }
    refuse_unavailable_integrations(input)?;
    let include_global = optional_bool(input, "IncludeGlobalServiceEvents")?.unwrap_or(true);
    let multi_region = optional_bool(input, "IsMultiRegionTrail")?.unwrap_or(false);
    if multi_region && !include_global {
        return Err(err(
            "InvalidParameterCombinationException",
            "Multi-Region trail must include global service events.",
        ));
    }
    let validation = optional_bool(input, "EnableLogFileValidation")?.unwrap_or(false);
    let existing = services.audit.trails(Some(&call.caller.account)).map_err(store_failure)?;
    if existing.iter().any(|t| t.name == name) {
        return Err(err(
            "TrailAlreadyExistsException",
            format!("Trail {name} already exists for customer: {}", call.caller.account),
        ));
    }
    let in_region = existing.iter().filter(|t| t.home_region == call.meta.region || t.is_multi_region_trail).count();
    if in_region >= MAX_TRAILS_PER_REGION {
        return Err(err(
            "MaximumNumberOfTrailsExceededException",
            format!(
                "User: {} already has {MAX_TRAILS_PER_REGION} trails in {}.",
                call.caller.account, call.meta.region
            ),
        ));
    }
    let trail = Trail {
        account: call.caller.account.clone(),
        name: name.clone(),
        home_region: call.meta.region.clone(),
        s3_bucket_name: bucket,
        s3_key_prefix: prefix,
        include_global_service_events: include_global,
        is_multi_region_trail: multi_region,
        log_file_validation_enabled: validation,
        tags,
        created_millis: call.meta.now_millis,
        state: TrailState::default(),
    };
    check_bucket(services, &trail)?;
    if !services.audit.insert_trail(&trail).map_err(store_failure)? {
        return Err(err(
            "TrailAlreadyExistsException",
            format!("Trail {name} already exists for customer: {}", call.caller.account),
        ));
    }
    Ok(trail_json(&trail, false))
}

/// The trail's bucket must exist and let CloudTrail write (AWS checks at CreateTrail and
/// UpdateTrail; the messages are Tessera's wording, see docs/AUDIT.md).
fn check_bucket(services: &Services, trail: &Trail) -> Result<(), AwsError> {
    let Some(target) = services.trail_target.get() else { return Ok(()) };
    match target.check_trail_bucket(trail) {
        Ok(()) => Ok(()),
        Err(BucketProblem::NoSuchBucket) => {
            Err(err("S3BucketDoesNotExistException", format!("S3 bucket does not exist: {}", trail.s3_bucket_name)))
        }
        Err(BucketProblem::InsufficientPolicy) => Err(err(
            "InsufficientS3BucketPolicyException",
            format!("Incorrect S3 bucket policy is detected for bucket: {}", trail.s3_bucket_name),
        )),
        Err(BucketProblem::Unavailable(e)) => {
            tracing::error!(error = %e, "checking a trail bucket failed");
            Err(AwsError::internal())
        }
    }
}

/// `UpdateTrail`.
pub fn update_trail(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let trail = authorized_trail(services, call, input, "cloudtrail:UpdateTrail")?;
    require_home_region(call, &trail)?;
    let bucket = optional_str(input, "S3BucketName")?.map(str::to_string);
    if let Some(b) = &bucket {
        validate_bucket(b)?;
    }
    let prefix = optional_str(input, "S3KeyPrefix")?.map(str::to_string);
    if let Some(p) = &prefix {
        validate_prefix(p)?;
    }
    refuse_unavailable_integrations(input)?;
    let include_global = optional_bool(input, "IncludeGlobalServiceEvents")?;
    let multi_region = optional_bool(input, "IsMultiRegionTrail")?;
    let validation = optional_bool(input, "EnableLogFileValidation")?;
    let will_multi = multi_region.unwrap_or(trail.is_multi_region_trail);
    let will_global = include_global.unwrap_or(trail.include_global_service_events);
    if will_multi && !will_global {
        return Err(err(
            "InvalidParameterCombinationException",
            "Multi-Region trail must include global service events.",
        ));
    }
    if bucket.is_some() || prefix.is_some() || validation == Some(true) {
        let mut candidate = trail.clone();
        if let Some(b) = &bucket {
            candidate.s3_bucket_name = b.clone();
        }
        if let Some(p) = &prefix {
            candidate.s3_key_prefix = Some(p.clone()).filter(|p| !p.is_empty());
        }
        candidate.log_file_validation_enabled = validation.unwrap_or(trail.log_file_validation_enabled);
        check_bucket(services, &candidate)?;
    }
    let now = call.meta.now_millis;
    let updated = services
        .audit
        .update_trail(&trail.account, &trail.name, &mut |t| {
            if let Some(b) = &bucket {
                t.s3_bucket_name = b.clone();
            }
            if let Some(p) = &prefix {
                t.s3_key_prefix = Some(p.clone()).filter(|p| !p.is_empty());
            }
            t.include_global_service_events = will_global;
            t.is_multi_region_trail = will_multi;
            if let Some(v) = validation {
                if v && !t.log_file_validation_enabled {
                    // A new chain starts: its first digest has no previous digest.
                    t.state.chains = t
                        .state
                        .chains
                        .keys()
                        .map(|r| (r.clone(), DigestChain { start_millis: now, ..Default::default() }))
                        .collect();
                } else if !v {
                    t.state.chains.clear();
                }
                t.log_file_validation_enabled = v;
            }
        })
        .map_err(store_failure)?
        .ok_or_else(|| not_found(&trail.arn(), &call.caller.account))?;
    Ok(trail_json(&updated, false))
}

/// `DeleteTrail`.
pub fn delete_trail(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let trail = authorized_trail(services, call, input, "cloudtrail:DeleteTrail")?;
    require_home_region(call, &trail)?;
    services.audit.delete_trail(&trail.account, &trail.name).map_err(store_failure)?;
    super::insights::forget(services, &trail)?;
    Ok(json!({}))
}

/// `GetTrail`.
pub fn get_trail(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let trail = authorized_trail(services, call, input, "cloudtrail:GetTrail")?;
    let mut out = trail_json(&trail, true);
    out["HasInsightSelectors"] = json!(super::insights::has_selectors(services, &trail)?);
    Ok(json!({ "Trail": out }))
}

/// `DescribeTrails`: trails of the call's region (and shadow copies of multi-region trails).
pub fn describe_trails(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    services.authorize(call, "cloudtrail:DescribeTrails", "*")?;
    let include_shadow = optional_bool(input, "includeShadowTrails")?.unwrap_or(true);
    let names: Option<Vec<String>> = match input.get("trailNameList") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) if a.is_empty() => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| match v.as_str() {
                    Some(s) => name_of(call, s),
                    None => Err(err("SerializationException", "Invalid type for member trailNameList")),
                })
                .filter(|r| !matches!(r, Err(e) if e.code == "TrailNotFoundException"))
                .collect::<Result<_, _>>()?,
        ),
        Some(_) => return Err(err("SerializationException", "Invalid type for member trailNameList")),
    };
    let list: Vec<Value> = services
        .audit
        .trails(Some(&call.caller.account))
        .map_err(store_failure)?
        .iter()
        .filter(|t| t.home_region == call.meta.region || (include_shadow && t.is_multi_region_trail))
        .filter(|t| names.as_ref().is_none_or(|n| n.contains(&t.name)))
        .map(|t| {
            let mut o = trail_json(t, true);
            o["HasInsightSelectors"] = json!(super::insights::has_selectors(services, t)?);
            Ok(o)
        })
        .collect::<Result<_, AwsError>>()?;
    Ok(json!({ "trailList": list }))
}

/// `ListTrails`: every trail of the account, in every region.
pub fn list_trails(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    services.authorize(call, "cloudtrail:ListTrails", "*")?;
    if optional_str(input, "NextToken")?.is_some() {
        return Err(err("InvalidTokenException", "Invalid NextToken"));
    }
    let trails: Vec<Value> = services
        .audit
        .trails(Some(&call.caller.account))
        .map_err(store_failure)?
        .iter()
        .map(|t| json!({"TrailARN": t.arn(), "Name": t.name, "HomeRegion": t.home_region}))
        .collect();
    Ok(json!({ "Trails": trails }))
}

fn iso(millis: Option<i64>) -> Value {
    json!(millis.map(tessera_audit::event::event_time).unwrap_or_default())
}

/// `GetTrailStatus`.
pub fn get_trail_status(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let trail = authorized_trail(services, call, input, "cloudtrail:GetTrailStatus")?;
    let s = &trail.state;
    let mut o = json!({
        "IsLogging": s.is_logging,
        "LatestDeliveryAttemptTime": iso(s.latest_delivery_attempt_millis),
        "LatestDeliveryAttemptSucceeded": iso(s.latest_delivery_attempt_succeeded_millis),
        "LatestNotificationAttemptTime": "",
        "LatestNotificationAttemptSucceeded": "",
        "TimeLoggingStarted": iso(s.start_logging_millis),
        "TimeLoggingStopped": iso(s.stop_logging_millis),
    });
    let mut set = |k: &str, v: Option<i64>| {
        if let Some(v) = v {
            o[k] = epoch(v);
        }
    };
    set("LatestDeliveryTime", s.latest_delivery_millis);
    set("LatestDigestDeliveryTime", s.latest_digest_millis);
    set("StartLoggingTime", s.start_logging_millis);
    set("StopLoggingTime", s.stop_logging_millis);
    if let Some(e) = &s.latest_delivery_error {
        o["LatestDeliveryError"] = json!(e);
    }
    if let Some(e) = &s.latest_digest_error {
        o["LatestDigestDeliveryError"] = json!(e);
    }
    Ok(o)
}

/// `StartLogging`: events recorded from now on are delivered.
pub fn start_logging(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let trail = authorized_trail(services, call, input, "cloudtrail:StartLogging")?;
    require_home_region(call, &trail)?;
    let cursor = services.audit.max_seq().map_err(store_failure)?;
    let now = call.meta.now_millis;
    services
        .audit
        .update_trail(&trail.account, &trail.name, &mut |t| {
            if !t.state.is_logging {
                t.state.is_logging = true;
                t.state.start_logging_millis = Some(now);
                t.state.final_delivery_pending = false;
                t.state.cursor = t.state.cursor.max(cursor);
            }
        })
        .map_err(store_failure)?;
    Ok(json!({}))
}

/// `StopLogging`: events up to now are still delivered, then the digest chain is closed.
pub fn stop_logging(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let trail = authorized_trail(services, call, input, "cloudtrail:StopLogging")?;
    require_home_region(call, &trail)?;
    let now = call.meta.now_millis;
    services
        .audit
        .update_trail(&trail.account, &trail.name, &mut |t| {
            if t.state.is_logging {
                t.state.is_logging = false;
                t.state.stop_logging_millis = Some(now);
                t.state.final_delivery_pending = true;
            }
        })
        .map_err(store_failure)?;
    Ok(json!({}))
}

/// `GetEventSelectors`: every trail logs all management events and no data events.
pub fn get_event_selectors(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let trail = authorized_trail_in(services, call, input, "TrailName", "cloudtrail:GetEventSelectors")?;
    Ok(json!({
        "TrailARN": trail.arn(),
        "EventSelectors": [{
            "ReadWriteType": "All",
            "IncludeManagementEvents": true,
            "DataResources": [],
            "ExcludeManagementEventSources": [],
        }],
    }))
}

/// `ListPublicKeys`: the keys that sign digest files, valid in the requested range.
pub fn list_public_keys(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    services.authorize(call, "cloudtrail:ListPublicKeys", "*")?;
    let start = timestamp_millis(input, "StartTime")?.unwrap_or(i64::MIN);
    let end = timestamp_millis(input, "EndTime")?.unwrap_or(i64::MAX);
    if start > end {
        return Err(err("InvalidTimeRangeException", "Start time must be earlier than end time."));
    }
    if optional_str(input, "NextToken")?.is_some() {
        return Err(err("InvalidTokenException", "Invalid NextToken"));
    }
    let keys: Vec<Value> = services
        .audit
        .public_keys()
        .map_err(store_failure)?
        .into_iter()
        .filter(|k| k.valid_from_millis <= end && k.valid_to_millis.is_none_or(|t| t >= start))
        .map(|k| {
            let mut o = json!({
                "Value": STANDARD.encode(&k.der),
                "ValidityStartTime": epoch(k.valid_from_millis),
                "Fingerprint": k.fingerprint,
            });
            if let Some(t) = k.valid_to_millis {
                o["ValidityEndTime"] = epoch(t);
            }
            o
        })
        .collect();
    Ok(json!({ "PublicKeyList": keys }))
}
