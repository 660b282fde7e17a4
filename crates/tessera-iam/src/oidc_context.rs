//! The trusted identity propagation configuration of an OIDC provider: its `ContextProvider` and
//! the IAM Identity Center instance associated with it (IAM API reference,
//! `UpdateOpenIDConnectProvider`, `CreateOpenIDConnectProvider`, `GetOpenIDConnectProvider`).
//!
//! Tessera stores and returns this configuration and evaluates the condition keys AWS defines for
//! changing it (`iam:EnableIdentityPropagation`, `iam:EnableIdentityCenterAssociation`,
//! `iam:ResourceIdentityProviderIssuers`, `iam:RequestIdentityCenterInstanceArn`,
//! `iam:ResourceIdentityCenterInstanceArn`). IAM Identity Center is not served, so no STS flow
//! injects trusted context from it and `GetOpenIDConnectProvider` has no `IdentityStoreArn`.
//! Records: the table `oidc_provider_context`, by provider ARN, removed with the provider.

use serde::{Deserialize, Serialize};
use tessera_store::{ReadTxn, WriteTxn};
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, QueryParams, WireResponse};

use super::credentials::providers::{oidc_for, OidcProvider};
use super::entities::{invalid_input, StoreResultExt};
use crate::model;
use crate::validate::Checks;
use crate::{Call, Services};

/// Configurations by provider ARN.
const OIDC_PROVIDER_CONTEXT: &str = "oidc_provider_context";

/// A `ContextProvider`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ContextProvider {
    subject_source_key: String,
    subject_type_value: Option<String>,
    subject_type_source_key: Option<String>,
    /// (source key, target key).
    keys: Vec<(String, Option<String>)>,
}

/// What a provider has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Propagation {
    context_provider: Option<ContextProvider>,
    identity_center_instance_arn: Option<String>,
}

/// `contextProviderSourceKeyType`: 1-128 of ASCII letters, digits, single spaces and
/// `_ . : / = + - @ #`, not starting or ending with a space.
fn is_context_key(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || "_.:/=+-@#".contains(c))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.contains("  ")
}

/// `arn:aws:sso:::instance/ssoins-<16 hex>` (IAM Identity Center, `InstanceMetadata`), 1-1224.
fn is_instance_arn(s: &str) -> bool {
    s.strip_prefix("arn:aws:sso:::instance/").is_some_and(|i| {
        i.strip_prefix("ssoins-").is_some_and(|h| h.len() == 16 && h.bytes().all(|c| c.is_ascii_hexdigit()))
    })
}

/// The `ContextProvider` of a request, if it has one.
pub(crate) fn context_provider_param(params: &QueryParams) -> Result<Option<ContextProvider>, AwsError> {
    let subject = params.get("ContextProvider.SubjectSourceKey");
    let type_value = params.get("ContextProvider.SubjectTypeValue");
    let type_key = params.get("ContextProvider.SubjectTypeSourceKey");
    let mut keys = Vec::new();
    for n in 1.. {
        let Some(source) = params.get(&format!("ContextProvider.KeyDefinitionList.member.{n}.SourceKey")) else {
            break;
        };
        let target = params.get(&format!("ContextProvider.KeyDefinitionList.member.{n}.TargetKey"));
        keys.push((source.to_string(), target.map(str::to_string)));
        if n > 11 {
            break;
        }
    }
    if subject.is_none() && type_value.is_none() && type_key.is_none() && keys.is_empty() {
        return Ok(None);
    }
    let key_pattern = "[A-Za-z0-9_.:/=+\\-@# ]+";
    let mut c = Checks::new();
    c.not_null("contextProvider.subjectSourceKey", subject.is_some());
    if let Some(s) = subject {
        c.pattern("contextProvider.subjectSourceKey", s, key_pattern, is_context_key);
    }
    if let Some(k) = type_key {
        c.pattern("contextProvider.subjectTypeSourceKey", k, key_pattern, is_context_key);
    }
    if let Some(v) = type_value {
        c.length("contextProvider.subjectTypeValue", v, 0, 128);
    }
    if keys.len() > 10 {
        c.length("contextProvider.keyDefinitionList", &"x".repeat(keys.len()), 0, 10);
    }
    for (i, (source, target)) in keys.iter().enumerate() {
        c.pattern(
            &format!("contextProvider.keyDefinitionList.{}.member.sourceKey", i + 1),
            source,
            key_pattern,
            is_context_key,
        );
        if let Some(t) = target {
            c.pattern(
                &format!("contextProvider.keyDefinitionList.{}.member.targetKey", i + 1),
                t,
                key_pattern,
                is_context_key,
            );
        }
    }
    c.finish()?;
    if type_value.is_some() && type_key.is_some() {
        return Err(invalid_input("Specify either SubjectTypeValue or SubjectTypeSourceKey, but not both."));
    }
    Ok(Some(ContextProvider {
        subject_source_key: subject.unwrap_or_default().to_string(),
        subject_type_value: type_value.map(str::to_string),
        subject_type_source_key: type_key.map(str::to_string),
        keys,
    }))
}

/// An `IdentityCenterInstanceArn` parameter, checked.
pub(crate) fn instance_arn_param(params: &QueryParams) -> Result<Option<String>, AwsError> {
    let Some(arn) = params.get("IdentityCenterInstanceArn") else { return Ok(None) };
    let mut c = Checks::new();
    c.length("identityCenterInstanceArn", arn, 1, 1224);
    c.finish()?;
    if !is_instance_arn(arn) {
        return Err(invalid_input(format!("{arn} is not a valid IAM Identity Center instance ARN.")));
    }
    Ok(Some(arn.to_string()))
}

/// The configuration of the provider `arn`.
pub(crate) fn load(r: &(impl ReadTxn + ?Sized), arn: &str) -> Result<Propagation, AwsError> {
    Ok(model::load(r, OIDC_PROVIDER_CONTEXT, arn).st()?.unwrap_or_default())
}

/// Store (or, when empty, remove) the configuration of the provider `arn`.
pub(crate) fn save(w: &mut (impl WriteTxn + ?Sized), arn: &str, p: &Propagation) -> Result<(), AwsError> {
    if *p == Propagation::default() {
        w.delete(OIDC_PROVIDER_CONTEXT, arn).st().map(|_| ())
    } else {
        model::save(w, OIDC_PROVIDER_CONTEXT, arn, p).st()
    }
}

/// A new provider's configuration from `CreateOpenIDConnectProvider`'s parameters.
pub(crate) fn from_create(params: &QueryParams) -> Result<Propagation, AwsError> {
    let p = Propagation {
        context_provider: context_provider_param(params)?,
        identity_center_instance_arn: instance_arn_param(params)?,
    };
    if p.identity_center_instance_arn.is_some() && p.context_provider.is_none() {
        return Err(invalid_input("An IAM Identity Center instance can be associated only with a context provider."));
    }
    Ok(p)
}

/// The `ContextProvider` and `IdentityCenterInstanceArn` elements of `GetOpenIDConnectProvider`.
pub(crate) fn write(w: &mut XmlWriter, p: &Propagation) {
    if let Some(c) = &p.context_provider {
        w.open("ContextProvider", None);
        if !c.keys.is_empty() {
            w.open("KeyDefinitionList", None);
            for (source, target) in &c.keys {
                w.open("member", None).elem("SourceKey", source);
                w.opt("TargetKey", target.as_deref());
                w.close();
            }
            w.close();
        }
        w.elem("SubjectSourceKey", &c.subject_source_key);
        w.opt("SubjectTypeValue", c.subject_type_value.as_deref());
        w.opt("SubjectTypeSourceKey", c.subject_type_source_key.as_deref());
        w.close();
    }
    w.opt("IdentityCenterInstanceArn", p.identity_center_instance_arn.as_deref());
}

fn flag(params: &QueryParams, name: &str) -> Result<bool, AwsError> {
    match params.get(name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(AwsError::validation(format!("Invalid value for {name}: {v}"))),
    }
}

/// `UpdateOpenIDConnectProvider`: sets or removes the context provider, or associates or
/// disassociates an IAM Identity Center instance; one of the two per request.
pub fn update(services: &Services, call: &Call, params: &QueryParams) -> Result<WireResponse, AwsError> {
    let arn = params.required("OpenIDConnectProviderArn")?;
    let mut c = Checks::new();
    c.length("openIDConnectProviderArn", arn, 20, 2048);
    c.finish()?;
    let context = context_provider_param(params)?;
    let instance = instance_arn_param(params)?;
    let remove_context = flag(params, "RemoveContextProvider")?;
    let remove_instance = flag(params, "RemoveIdentityCenterInstance")?;
    if context.is_some() && remove_context {
        return Err(invalid_input("Specify either ContextProvider or RemoveContextProvider, but not both."));
    }
    if instance.is_some() && remove_instance {
        return Err(invalid_input(
            "Specify either IdentityCenterInstanceArn or RemoveIdentityCenterInstance, but not both.",
        ));
    }
    let changes_context = context.is_some() || remove_context;
    let changes_instance = instance.is_some() || remove_instance;
    if changes_context && changes_instance {
        return Err(invalid_input(
            "A request can change either the context provider or the IAM Identity Center association, but not both.",
        ));
    }
    if !changes_context && !changes_instance {
        return Err(invalid_input(
            "Specify a ContextProvider, RemoveContextProvider, IdentityCenterInstanceArn or RemoveIdentityCenterInstance.",
        ));
    }
    let current = {
        let r = services.store.read().st()?;
        load(r.as_ref(), arn)?
    };
    let mut ctx: Vec<(String, Vec<String>)> = vec![
        ("iam:EnableIdentityPropagation".into(), vec![context.is_some().to_string()]),
        ("iam:EnableIdentityCenterAssociation".into(), vec![instance.is_some().to_string()]),
    ];
    if let Some(i) = &instance {
        ctx.push(("iam:RequestIdentityCenterInstanceArn".into(), vec![i.clone()]));
    }
    if let Some(i) = &current.identity_center_instance_arn {
        ctx.push(("iam:ResourceIdentityCenterInstanceArn".into(), vec![i.clone()]));
    }
    if let Some(url) = oidc_url(arn) {
        ctx.push(("iam:ResourceIdentityProviderIssuers".into(), vec![url]));
    }
    let provider: OidcProvider = oidc_for(services, call, arn, "iam:UpdateOpenIDConnectProvider", ctx)?;
    let mut txn = services.store.write().st()?;
    let mut p = load(txn.as_ref(), &provider.arn())?;
    if remove_context {
        if p.identity_center_instance_arn.is_some() {
            return Err(invalid_input(
                "Remove the IAM Identity Center association before you remove the context provider.",
            ));
        }
        p.context_provider = None;
    } else if context.is_some() {
        p.context_provider = context;
    } else if remove_instance {
        p.identity_center_instance_arn = None;
    } else {
        if p.context_provider.is_none() {
            return Err(invalid_input(
                "An IAM Identity Center instance can be associated only with a context provider.",
            ));
        }
        p.identity_center_instance_arn = instance;
    }
    save(txn.as_mut(), &provider.arn(), &p)?;
    txn.commit().st()?;
    Ok(WireResponse::query(tessera_wire::response::IAM_XMLNS, &call.operation, None, &call.meta.request_id))
}

/// `https://<host>/<path>` of a provider ARN `arn:aws:iam::<account>:oidc-provider/<host/path>`.
fn oidc_url(arn: &str) -> Option<String> {
    arn.split_once(":oidc-provider/").map(|(_, r)| format!("https://{r}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keys_and_instance_arns() {
        assert!(is_context_key("email") && is_context_key("https://idp.example.com/claims:group #1"));
        assert!(!is_context_key(" lead") && !is_context_key("trail ") && !is_context_key("two  spaces"));
        assert!(!is_context_key("") && !is_context_key("semi;colon") && !is_context_key(&"k".repeat(129)));
        assert!(is_instance_arn("arn:aws:sso:::instance/ssoins-1234567890abcdef"));
        assert!(!is_instance_arn("arn:aws:sso:::instance/ssoins-123") && !is_instance_arn("arn:aws:iam::1:role/x"));
    }
}
