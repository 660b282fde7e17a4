//! Insight selectors of trails: `PutInsightSelectors`, `GetInsightSelectors`.
//!
//! Stored only: Tessera computes no Insights events (`LookupEvents` with `EventCategory`
//! `insight` answers an empty list). The selectors live in the services store, table
//! [`INSIGHT_SELECTORS`], keyed `<account>/<trail name>`; `DeleteTrail` removes them.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_audit::store::Trail;
use tessera_wire::AwsError;

use super::err;
use super::trails::{authorized_trail_in, require_home_region};
use crate::{internal, model, Call, Services};

/// Insight selectors by `<account>/<trail name>`.
pub(crate) const INSIGHT_SELECTORS: &str = "cloudtrail_insight_selectors";

/// The model's `InsightType` values.
const INSIGHT_TYPES: &[&str] = &["ApiCallRateInsight", "ApiErrorRateInsight"];
/// The model's `SourceEventCategory` values.
const EVENT_CATEGORIES: &[&str] = &["Management", "Data"];

/// One `InsightSelector`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Selector {
    insight_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_categories: Option<Vec<String>>,
}

fn key(t: &Trail) -> String {
    format!("{}/{}", t.account, t.name)
}

fn invalid(message: impl Into<String>) -> AwsError {
    err("InvalidInsightSelectorsException", message)
}

fn selectors_json(list: &[Selector]) -> Value {
    Value::Array(
        list.iter()
            .map(|s| {
                let mut o = json!({"InsightType": s.insight_type});
                if let Some(c) = &s.event_categories {
                    o["EventCategories"] = json!(c);
                }
                o
            })
            .collect(),
    )
}

/// The stored selectors of trail `t` (empty: Insights off).
fn load(services: &Services, t: &Trail) -> Result<Vec<Selector>, AwsError> {
    let r = services.store.read().map_err(internal)?;
    Ok(model::load(&*r, INSIGHT_SELECTORS, &key(t)).map_err(internal)?.unwrap_or_default())
}

/// Whether trail `t` has insight selectors (`HasInsightSelectors`).
pub(super) fn has_selectors(services: &Services, t: &Trail) -> Result<bool, AwsError> {
    Ok(!load(services, t)?.is_empty())
}

/// Forget the selectors of a deleted trail.
pub(super) fn forget(services: &Services, t: &Trail) -> Result<(), AwsError> {
    let mut txn = services.store.write().map_err(internal)?;
    if txn.delete(INSIGHT_SELECTORS, &key(t)).map_err(internal)? {
        txn.commit().map_err(internal)?;
    }
    Ok(())
}

/// Event data stores are not served: a request naming one is refused.
fn refuse_event_data_store(input: &Value) -> Result<(), AwsError> {
    for member in ["EventDataStore", "InsightsDestination"] {
        if input.get(member).is_some_and(|v| !v.is_null()) {
            return Err(err(
                "UnsupportedOperationException",
                format!("{member}: Tessera has no CloudTrail Lake event data stores."),
            ));
        }
    }
    if input.get("TrailName").is_none_or(Value::is_null) {
        return Err(err("InvalidParameterCombinationException", "You must specify a TrailName or an EventDataStore."));
    }
    Ok(())
}

/// The `InsightSelectors` member: each type once, from the model's enums; empty turns Insights off.
fn parse(input: &Value) -> Result<Vec<Selector>, AwsError> {
    let list = match input.get("InsightSelectors") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => return Err(invalid("InsightSelectors is required.")),
        Some(_) => return Err(err("SerializationException", "Invalid type for member InsightSelectors")),
    };
    let mut out: Vec<Selector> = Vec::with_capacity(list.len());
    for item in list {
        let Some(obj) = item.as_object() else {
            return Err(err("SerializationException", "Invalid type for member InsightSelectors"));
        };
        let insight_type = match obj.get("InsightType") {
            Some(Value::String(t)) if INSIGHT_TYPES.contains(&t.as_str()) => t.clone(),
            Some(Value::String(t)) => {
                return Err(invalid(format!(
                    "Insight type {t} is not valid. Valid values: ApiCallRateInsight, ApiErrorRateInsight."
                )))
            }
            Some(_) => return Err(err("SerializationException", "Invalid type for member InsightType")),
            None => return Err(invalid("Each insight selector must specify an InsightType.")),
        };
        if out.iter().any(|s| s.insight_type == insight_type) {
            return Err(invalid(format!("Insight type {insight_type} is specified more than once.")));
        }
        let event_categories = match obj.get("EventCategories") {
            None | Some(Value::Null) => None,
            Some(Value::Array(c)) => {
                let mut cats: Vec<String> = Vec::with_capacity(c.len());
                for v in c {
                    match v.as_str() {
                        Some(x) if EVENT_CATEGORIES.contains(&x) => {
                            if !cats.iter().any(|y| y == x) {
                                cats.push(x.to_string());
                            }
                        }
                        Some(x) => {
                            return Err(invalid(format!(
                                "Event category {x} is not valid. Valid values: Management, Data."
                            )))
                        }
                        None => return Err(err("SerializationException", "Invalid type for member EventCategories")),
                    }
                }
                Some(cats)
            }
            Some(_) => return Err(err("SerializationException", "Invalid type for member EventCategories")),
        };
        out.push(Selector { insight_type, event_categories });
    }
    Ok(out)
}

/// `PutInsightSelectors`: replaces the trail's selectors (an empty list turns Insights off);
/// from the trail's home region.
pub fn put_insight_selectors(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    refuse_event_data_store(input)?;
    let trail = authorized_trail_in(services, call, input, "TrailName", "cloudtrail:PutInsightSelectors")?;
    let selectors = parse(input)?;
    require_home_region(call, &trail)?;
    let mut txn = services.store.write().map_err(internal)?;
    if selectors.is_empty() {
        txn.delete(INSIGHT_SELECTORS, &key(&trail)).map_err(internal)?;
    } else {
        model::save(txn.as_mut(), INSIGHT_SELECTORS, &key(&trail), &selectors).map_err(internal)?;
    }
    txn.commit().map_err(internal)?;
    Ok(json!({"TrailARN": trail.arn(), "InsightSelectors": selectors_json(&selectors)}))
}

/// `GetInsightSelectors`: `InsightNotEnabledException` for a trail without selectors.
pub fn get_insight_selectors(services: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    refuse_event_data_store(input)?;
    let trail = authorized_trail_in(services, call, input, "TrailName", "cloudtrail:GetInsightSelectors")?;
    let selectors = load(services, &trail)?;
    if selectors.is_empty() {
        return Err(err("InsightNotEnabledException", format!("Trail {} does not have Insights enabled.", trail.name)));
    }
    Ok(json!({"TrailARN": trail.arn(), "InsightSelectors": selectors_json(&selectors)}))
}
