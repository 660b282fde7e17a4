//! Tags of trails: `AddTags`, `RemoveTags`, `ListTags` (`ResourceId` is a trail ARN; Tessera
//! has no event data stores or channels). At most 50 tags per trail; keys 1-128 characters,
//! values 0-256, keys not starting with `aws:`.

use serde_json::{json, Value};
use tessera_audit::store::Trail;
use tessera_wire::AwsError;

use super::trails::{tags, MAX_TAGS};
use super::{err, store_failure};
use crate::authz::AuthzRequest;
use crate::{Call, Services};

/// Most ARNs in one `ListTags` request (CloudTrail's documented limit).
const MAX_LIST_RESOURCES: usize = 20;

fn not_found(arn: &str) -> AwsError {
    err("ResourceNotFoundException", format!("Resource not found: {arn}"))
}

fn required_resource_id(input: &Value) -> Result<&str, AwsError> {
    match input.get("ResourceId") {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(err("InvalidParameterException", "ResourceId is required.")),
        Some(_) => Err(err("SerializationException", "Invalid type for member ResourceId")),
    }
}

/// The trail a `ResourceId` ARN names, authorized with `action` on it: a CloudTrail trail ARN
/// (else `CloudTrailARNInvalidException`) of one of the caller's trails (else
/// `ResourceNotFoundException`).
fn authorized_trail(
    services: &Services,
    call: &Call,
    arn: &str,
    action: &str,
    context: Vec<(String, Vec<String>)>,
) -> Result<Trail, AwsError> {
    let is_trail_arn = arn
        .strip_prefix("arn:")
        .map(|rest| rest.splitn(5, ':').collect::<Vec<_>>())
        .is_some_and(|p| matches!(p.as_slice(), [_, "cloudtrail", r, a, res] if !r.is_empty() && a.len() == 12 && res.strip_prefix("trail/").is_some_and(|n| !n.is_empty())));
    if !is_trail_arn {
        return Err(err("CloudTrailARNInvalidException", format!("Invalid ARN: {arn}")));
    }
    services.authorize_request(call, &AuthzRequest { action, resource: arn, context, ..Default::default() })?;
    services
        .audit
        .trails(Some(&call.caller.account))
        .map_err(store_failure)?
        .into_iter()
        .find(|t| t.arn() == arn)
        .ok_or_else(|| not_found(arn))
}

fn tag_context(tags: &[(String, String)], with_values: bool) -> Vec<(String, Vec<String>)> {
    let mut ctx: Vec<(String, Vec<String>)> = Vec::new();
    if !tags.is_empty() {
        ctx.push(("aws:TagKeys".into(), tags.iter().map(|(k, _)| k.clone()).collect()));
    }
    if with_values {
        ctx.extend(tags.iter().map(|(k, v)| (format!("aws:RequestTag/{k}"), vec![v.clone()])));
    }
    ctx
}

/// `AddTags`: adds or overwrites; more than 50 tags on the trail is `TagsLimitExceededException`.
pub fn add_tags(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let arn = required_resource_id(input)?;
    let new = tags(input)?;
    let trail = authorized_trail(services, call, arn, "cloudtrail:AddTags", tag_context(&new, true))?;
    let mut merged = trail.tags.clone();
    for (k, v) in &new {
        match merged.iter_mut().find(|(mk, _)| mk == k) {
            Some(slot) => slot.1 = v.clone(),
            None => merged.push((k.clone(), v.clone())),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(err("TagsLimitExceededException", format!("The number of tags exceeds the limit of {MAX_TAGS}.")));
    }
    update_tags(services, &trail, merged)
}

/// `RemoveTags`: removes the listed keys (absent keys are ignored).
pub fn remove_tags(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let arn = required_resource_id(input)?;
    let gone = tags(input)?;
    let trail = authorized_trail(services, call, arn, "cloudtrail:RemoveTags", tag_context(&gone, false))?;
    let kept: Vec<(String, String)> =
        trail.tags.iter().filter(|(k, _)| !gone.iter().any(|(g, _)| g == k)).cloned().collect();
    update_tags(services, &trail, kept)
}

fn update_tags(services: &Services, trail: &Trail, tags: Vec<(String, String)>) -> Result<Value, AwsError> {
    services
        .audit
        .update_trail(&trail.account, &trail.name, &mut |t| t.tags = tags.clone())
        .map_err(store_failure)?
        .ok_or_else(|| not_found(&trail.arn()))?;
    Ok(json!({}))
}

/// `ListTags`: the tags of up to 20 trails, in request order; no paging.
pub fn list_tags(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let ids: Vec<&str> = match input.get("ResourceIdList") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().ok_or_else(|| err("SerializationException", "Invalid type for member ResourceIdList")))
            .collect::<Result<_, _>>()?,
        None | Some(Value::Null) => return Err(err("InvalidParameterException", "ResourceIdList is required.")),
        Some(_) => return Err(err("SerializationException", "Invalid type for member ResourceIdList")),
    };
    if ids.is_empty() || ids.len() > MAX_LIST_RESOURCES {
        return Err(err(
            "InvalidParameterException",
            format!("ResourceIdList must contain between 1 and {MAX_LIST_RESOURCES} trail ARNs."),
        ));
    }
    if input.get("NextToken").is_some_and(|v| !v.is_null()) {
        return Err(err("InvalidTokenException", "Invalid NextToken"));
    }
    let mut list = Vec::with_capacity(ids.len());
    for arn in ids {
        let trail = authorized_trail(services, call, arn, "cloudtrail:ListTags", vec![])?;
        let tags: Vec<Value> = trail.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        list.push(json!({"ResourceId": arn, "TagsList": tags}));
    }
    Ok(json!({ "ResourceTagList": list }))
}
