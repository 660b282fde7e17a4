//! Contact information and alternate contacts, stored in the services store (table
//! [`ACCOUNT_CONTACT`]): `<account>/contact` ([`ContactInformation`]) and
//! `<account>/alternate/<TYPE>` ([`AlternateContact`]).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tessera_wire::AwsError;

use super::input::{is_contact_phone, is_email, is_phone, Fields, Rule};
use super::{authorize, Target};
use crate::{internal, model, Call, Services};

/// Contact information and alternate contacts, by account (see the module comment).
pub(crate) const ACCOUNT_CONTACT: &str = "account_contact";

/// The model's `AlternateContactType` values.
const ALTERNATE_CONTACT_TYPES: &[&str] = &["BILLING", "OPERATIONS", "SECURITY"];

/// `ContactInformation`'s members with their model constraints, in the model's order
/// (name, required, min, max).
const CONTACT_FIELDS: &[(&str, bool, usize, usize)] = &[
    ("FullName", true, 1, 50),
    ("AddressLine1", true, 1, 60),
    ("AddressLine2", false, 1, 60),
    ("AddressLine3", false, 1, 60),
    ("City", true, 1, 50),
    ("StateOrRegion", false, 1, 50),
    ("DistrictOrCounty", false, 1, 50),
    ("PostalCode", true, 1, 20),
    ("CountryCode", true, 2, 2),
    ("PhoneNumber", true, 1, 20),
    ("CompanyName", false, 1, 50),
    ("WebsiteUrl", false, 1, 256),
];

/// A stored `ContactInformation`: its members by name, as given.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContactInformation {
    fields: Vec<(String, String)>,
}

/// A stored `AlternateContact`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AlternateContact {
    name: String,
    title: String,
    email_address: String,
    phone_number: String,
}

fn contact_key(account: &str) -> String {
    format!("{account}/contact")
}

fn alternate_key(account: &str, kind: &str) -> String {
    format!("{account}/alternate/{kind}")
}

fn not_found(message: &str) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message)
}

fn alternate_not_found() -> AwsError {
    not_found("No contact of the inputted alternate contact type found.")
}

fn types_context(kind: &str) -> Vec<(String, Vec<String>)> {
    vec![("account:AlternateContactTypes".into(), vec![kind.to_string()])]
}

fn load<T: serde::de::DeserializeOwned>(s: &Services, key: &str) -> Result<Option<T>, AwsError> {
    let r = s.store.read().map_err(internal)?;
    model::load(&*r, ACCOUNT_CONTACT, key).map_err(internal)
}

/// `GetContactInformation`: `ResourceNotFoundException` until contact information is put.
pub(super) fn get_contact_information(s: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let account_id = f.account_id(input);
    f.finish()?;
    let Target { account, .. } = authorize(s, call, "account:GetContactInformation", account_id, vec![])?;
    let info: ContactInformation =
        load(s, &contact_key(&account))?.ok_or_else(|| not_found("No contact information found for this account."))?;
    let members: serde_json::Map<String, Value> = info.fields.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    Ok(json!({ "ContactInformation": members }))
}

/// `PutContactInformation`: replaces the account's contact information.
pub(super) fn put_contact_information(s: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let account_id = f.account_id(input);
    let mut fields = Vec::new();
    match input.get("ContactInformation") {
        Some(obj @ Value::Object(_)) => {
            for &(name, required, min, max) in CONTACT_FIELDS {
                let pattern: Option<fn(&str) -> bool> = (name == "PhoneNumber").then_some(is_contact_phone);
                if let Some(v) = f.string(obj, name, required, Rule { min, max, pattern }) {
                    fields.push((name.to_string(), v.to_string()));
                }
            }
        }
        None | Some(Value::Null) => f.push("ContactInformation", "Member must not be null".into()),
        Some(_) => f.push("ContactInformation", "Member must be a structure".into()),
    }
    f.finish()?;
    let Target { account, .. } = authorize(s, call, "account:PutContactInformation", account_id, vec![])?;
    let mut txn = s.store.write().map_err(internal)?;
    model::save(txn.as_mut(), ACCOUNT_CONTACT, &contact_key(&account), &ContactInformation { fields })
        .map_err(internal)?;
    txn.commit().map_err(internal)?;
    Ok(json!({}))
}

/// The account and `AlternateContactType` of `Get/DeleteAlternateContact`, `action` authorized.
fn alternate_target<'a>(
    s: &Services,
    call: &Call,
    input: &'a Value,
    action: &str,
) -> Result<(String, &'a str), AwsError> {
    let mut f = Fields::default();
    let account_id = f.account_id(input);
    let kind = f.one_of(input, "AlternateContactType", ALTERNATE_CONTACT_TYPES);
    f.finish()?;
    let kind = kind.ok_or_else(AwsError::internal)?;
    let Target { account, .. } = authorize(s, call, action, account_id, types_context(kind))?;
    Ok((account, kind))
}

/// `GetAlternateContact`.
pub(super) fn get_alternate_contact(s: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (account, kind) = alternate_target(s, call, input, "account:GetAlternateContact")?;
    let c: AlternateContact = load(s, &alternate_key(&account, kind))?.ok_or_else(alternate_not_found)?;
    Ok(json!({"AlternateContact": {
        "Name": c.name,
        "Title": c.title,
        "EmailAddress": c.email_address,
        "PhoneNumber": c.phone_number,
        "AlternateContactType": kind,
    }}))
}

/// `PutAlternateContact`: creates or replaces the contact of that type.
pub(super) fn put_alternate_contact(s: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let mut f = Fields::default();
    let account_id = f.account_id(input);
    let kind = f.one_of(input, "AlternateContactType", ALTERNATE_CONTACT_TYPES);
    let name = f.string(input, "Name", true, Rule { min: 1, max: 64, pattern: None });
    let title = f.string(input, "Title", true, Rule { min: 1, max: 50, pattern: None });
    let email = f.string(input, "EmailAddress", true, Rule { min: 1, max: 254, pattern: Some(is_email) });
    let phone = f.string(input, "PhoneNumber", true, Rule { min: 1, max: 25, pattern: Some(is_phone) });
    f.finish()?;
    let (Some(kind), Some(name), Some(title), Some(email), Some(phone)) = (kind, name, title, email, phone) else {
        return Err(AwsError::internal());
    };
    let Target { account, .. } = authorize(s, call, "account:PutAlternateContact", account_id, types_context(kind))?;
    let contact = AlternateContact {
        name: name.to_string(),
        title: title.to_string(),
        email_address: email.to_string(),
        phone_number: phone.to_string(),
    };
    let mut txn = s.store.write().map_err(internal)?;
    model::save(txn.as_mut(), ACCOUNT_CONTACT, &alternate_key(&account, kind), &contact).map_err(internal)?;
    txn.commit().map_err(internal)?;
    Ok(json!({}))
}

/// `DeleteAlternateContact`: `ResourceNotFoundException` when none of that type is set.
pub(super) fn delete_alternate_contact(s: &Services, call: &Call, input: &Value) -> Result<Value, AwsError> {
    let (account, kind) = alternate_target(s, call, input, "account:DeleteAlternateContact")?;
    let mut txn = s.store.write().map_err(internal)?;
    if !txn.delete(ACCOUNT_CONTACT, &alternate_key(&account, kind)).map_err(internal)? {
        return Err(alternate_not_found());
    }
    txn.commit().map_err(internal)?;
    Ok(json!({}))
}
