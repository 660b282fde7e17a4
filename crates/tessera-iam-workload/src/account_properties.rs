//! Account properties: `GetAccountProperties` and `PutAccountProperties` (IAM API Reference,
//! `API_GetAccountProperties.html`, `API_PutAccountProperties.html`).
//!
//! Properties are `Namespace/PropertyName` keys with string values, stored per account in
//! [`TABLE`] (`<account>` → the properties set). The properties are those AWS documents:
//! `RoleManager/Enabled` (IAM User Guide, "Create roles automatically with role manager":
//! `true` enables role manager, `false` disables it; disabled by default). A key of another
//! namespace or property is `InvalidInput`. See docs/ROLE_MANAGER.md.

use std::collections::BTreeMap;

use tessera_store::ReadTxn;
use tessera_wire::xml::XmlWriter;
use tessera_wire::{AwsError, WireResponse};

use super::entities::{invalid_input, Cx, StoreResultExt};
use crate::model;
use crate::validate::Checks;

/// The account properties of each account, by account id.
pub const TABLE: &str = "iam_account_properties";

/// The role manager switch.
pub const ROLE_MANAGER_ENABLED: &str = "RoleManager/Enabled";

/// A property AWS documents: its key and its value when never set.
struct Property {
    key: &'static str,
    default: &'static str,
}

/// Every property (all boolean today: `true` or `false`).
const PROPERTIES: &[Property] = &[Property { key: ROLE_MANAGER_ENABLED, default: "false" }];

/// `^[A-Za-z][A-Za-z0-9/_-]*$`: property keys.
const KEY_PATTERN: &str = "^[A-Za-z][A-Za-z0-9/_-]*$";

fn is_key(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'))
}

/// The properties an account set (documented keys only).
fn stored(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<BTreeMap<String, String>, AwsError> {
    Ok(model::load(r, TABLE, account).st()?.unwrap_or_default())
}

/// Every documented property of `account` with its value (the default when never set).
pub fn properties(r: &(impl ReadTxn + ?Sized), account: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let set = stored(r, account)?;
    Ok(PROPERTIES
        .iter()
        .map(|p| (p.key.to_string(), set.get(p.key).cloned().unwrap_or_else(|| p.default.to_string())))
        .collect())
}

/// `GetAccountProperties`.
pub(crate) fn get(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    cx.authorize("iam:GetAccountProperties", "*", Vec::new())?;
    let read = cx.read()?;
    let props = properties(read.as_ref(), cx.account())?;
    let mut w = XmlWriter::fragment();
    w.open("Properties", None);
    for (k, v) in &props {
        w.open("entry", None).elem("key", k).elem("value", v).close();
    }
    w.close();
    Ok(cx.respond(Some(w.finish())))
}

/// `PutAccountProperties`: every key of one namespace, each a documented property with a value
/// of its type. Authorized with `iam:AccountPropertyNamespaces` (the condition key of the User
/// Guide's `DenyRoleManagerEnablement` SCP).
pub(crate) fn put(cx: &Cx<'_>) -> Result<WireResponse, AwsError> {
    let entries = cx.params.map("Properties");
    let mut c = Checks::new();
    c.not_null("properties", !entries.is_empty() || cx.params.get("Properties").is_some());
    for (i, (k, v)) in entries.iter().enumerate() {
        let n = i + 1;
        let key_field = format!("properties.{n}.member.key");
        c.length(&key_field, k, 1, 50).pattern(&key_field, k, KEY_PATTERN, is_key);
        c.length(&format!("properties.{n}.member.value"), v, 1, 1024);
    }
    c.finish()?;
    if entries.is_empty() {
        return Err(invalid_input("Properties must contain at least one property."));
    }
    let mut namespace: Option<&str> = None;
    for (key, value) in &entries {
        let Some((ns, name)) = key.split_once('/').filter(|(ns, name)| !ns.is_empty() && !name.is_empty()) else {
            return Err(invalid_input(format!(
                "Invalid property key {key}: a key is Namespace/PropertyName, with exactly one '/'."
            )));
        };
        if name.contains('/') {
            return Err(invalid_input(format!(
                "Invalid property key {key}: a key is Namespace/PropertyName, with exactly one '/'."
            )));
        }
        match namespace {
            Some(first) if first != ns => {
                return Err(invalid_input("All properties in a single request must belong to the same namespace."))
            }
            _ => namespace = Some(ns),
        }
        if !PROPERTIES.iter().any(|p| p.key.split('/').next() == Some(ns)) {
            return Err(invalid_input(format!("Unknown account property namespace {ns}.")));
        }
        if !PROPERTIES.iter().any(|p| p.key == key.as_str()) {
            return Err(invalid_input(format!("Unknown account property {key}.")));
        }
        if value != "true" && value != "false" {
            return Err(invalid_input(format!(
                "Invalid value {value} for account property {key}: expected true or false."
            )));
        }
    }
    let ns = namespace.unwrap_or_default().to_string();
    cx.authorize("iam:PutAccountProperties", "*", vec![("iam:AccountPropertyNamespaces".to_string(), vec![ns])])?;
    let account = cx.account();
    cx.write(|txn| {
        let mut set = stored(&*txn, account)?;
        for (k, v) in &entries {
            set.insert(k.clone(), v.clone());
        }
        model::save(txn, TABLE, account, &set).st()
    })?;
    // The model wraps the (empty) output in `PutAccountPropertiesResult`; SDKs look for it.
    Ok(cx.respond(Some(String::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_model_pattern() {
        assert!(is_key("RoleManager/Enabled") && is_key("a_b-c/d"));
        assert!(!is_key("") && !is_key("1a") && !is_key("/a") && !is_key("a b") && !is_key("a.b"));
    }

    #[test]
    fn every_property_has_a_boolean_default() {
        for p in PROPERTIES {
            assert_eq!(p.key.matches('/').count(), 1, "{}", p.key);
            assert!(p.default == "true" || p.default == "false", "{}", p.key);
        }
    }
}
