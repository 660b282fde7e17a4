//! Turning requests and responses into the JSON of `requestParameters` / `responseElements`.
//!
//! CloudTrail records members under their API-model names with the first letter lowered
//! (`RoleArn` → `roleArn`, `SAMLAssertion` → `sAMLAssertion`), lists as arrays, numbers and
//! booleans as JSON numbers and booleans, and timestamps of query-protocol services as
//! `Jan 2, 2024, 3:04:05 AM`. The query protocol carries no types, so the member names that are
//! not strings come from the IAM and STS API models (tables below).

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use crate::event::{element_date, parse_iso8601};

/// Integer members of the IAM and STS models (lowerCamel).
const INT_MEMBERS: &[&str] = &[
    "attachmentCount",
    "column",
    "credentialAgeDays",
    "defaultMinorVersion",
    "durationSeconds",
    "line",
    "maxItems",
    "maxPasswordAge",
    "majorVersion",
    "maxSessionDuration",
    "minimumPasswordLength",
    "minorVersion",
    "numberOfServicesAccessible",
    "numberOfServicesNotAccessed",
    "packedPolicySize",
    "passwordReusePrevention",
    "permissionsBoundaryUsageCount",
    "sessionDuration",
    "templateMinorVersion",
    "totalAuthenticatedEntities",
];

/// Boolean members of the IAM and STS models.
const BOOL_MEMBERS: &[&str] = &[
    "allUsers",
    "allowUsersToChangePassword",
    "allowedByOrganizations",
    "allowedByPermissionsBoundary",
    "delegationPermissionCheck",
    "expirePasswords",
    "hardExpiry",
    "isAttachable",
    "isDefaultVersion",
    "isTruncated",
    "jwtVendingEnabled",
    "onlyAttached",
    "onlySendByOwner",
    "passwordResetRequired",
    "requireLowercaseCharacters",
    "requireNumbers",
    "requireSymbols",
    "requireUppercaseCharacters",
    "setAsDefault",
];

/// List members of the IAM and STS models (an empty XML element of these names is `[]`).
const LIST_MEMBERS: &[&str] = &[
    "accessDetails",
    "accessKeyMetadata",
    "accountAliases",
    "actionNames",
    "attachedManagedPolicies",
    "attachedPolicies",
    "certificates",
    "clientIDList",
    "contextEntries",
    "contextKeyNames",
    "contextKeyValues",
    "entityDetailsList",
    "evaluationResults",
    "groupDetailList",
    "groupList",
    "groupPolicyList",
    "groups",
    "instanceProfileList",
    "instanceProfiles",
    "mFADevices",
    "matchedStatements",
    "missingContextValues",
    "openIDConnectProviderList",
    "permissionsBoundaryPolicyInputList",
    "policies",
    "policiesGrantingServiceAccess",
    "policyArns",
    "policyGroups",
    "policyInputList",
    "policyNames",
    "policyRoles",
    "policyUsers",
    "policyVersionList",
    "resourceArns",
    "resourceSpecificResults",
    "roleDetailList",
    "rolePolicyList",
    "roleUsageList",
    "roles",
    "sAMLProviderList",
    "sSHPublicKeys",
    "serverCertificateMetadataList",
    "serviceNamespaces",
    "serviceSpecificCredentials",
    "servicesLastAccessed",
    "tagKeys",
    "tags",
    "thumbprintList",
    "trackedActionsLastAccessed",
    "transitiveTagKeys",
    "userDetailList",
    "userPolicyList",
    "users",
    "versions",
    "virtualMFADevices",
];

/// Timestamp members of the IAM and STS models.
const TIMESTAMP_MEMBERS: &[&str] = &[
    "createDate",
    "enableDate",
    "expiration",
    "expirationDate",
    "expirationTime",
    "generatedTime",
    "jobCompletionDate",
    "jobCreationDate",
    "lastAccessedTime",
    "lastAuthenticated",
    "lastAuthenticatedTime",
    "lastUsedDate",
    "passwordLastUsed",
    "timestamp",
    "updateDate",
    "updatedTime",
    "uploadDate",
    "validUntil",
];

/// Parameters of a query request that are protocol, not operation input.
fn is_protocol_parameter(name: &str) -> bool {
    name == "Action" || name == "Version" || name.starts_with("X-Amz-") || name.starts_with("x-amz-")
}

/// Deepest member path kept as structure; deeper keys are recorded flat.
const MAX_DEPTH: usize = 16;

/// `RoleArn` → `roleArn`, as CloudTrail names members.
pub fn lower_camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) if f.is_ascii_uppercase() => f.to_ascii_lowercase().to_string() + c.as_str(),
        Some(_) => name.to_string(),
        None => String::new(),
    }
}

fn typed_leaf(name: &str, text: &str) -> Value {
    if INT_MEMBERS.contains(&name) {
        if let Ok(n) = text.trim().parse::<i64>() {
            return Value::Number(Number::from(n));
        }
    } else if BOOL_MEMBERS.contains(&name) {
        match text.trim() {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    Value::String(text.to_string())
}

#[derive(Debug)]
enum Tree {
    Leaf(String),
    Map(BTreeMap<String, Tree>),
    List(BTreeMap<u64, Tree>),
}

enum Seg<'a> {
    Name(&'a str),
    Index(u64),
}

fn insert(node: &mut Tree, path: &[Seg<'_>], value: &str) {
    let Some((first, rest)) = path.split_first() else {
        if !matches!(node, Tree::Map(_) | Tree::List(_)) {
            *node = Tree::Leaf(value.to_string());
        }
        return;
    };
    match first {
        Seg::Name(n) => {
            if !matches!(node, Tree::Map(_)) {
                *node = Tree::Map(BTreeMap::new());
            }
            if let Tree::Map(m) = node {
                let child = m.entry(lower_camel(n)).or_insert_with(|| Tree::Leaf(String::new()));
                insert(child, rest, value);
            }
        }
        Seg::Index(i) => {
            if !matches!(node, Tree::List(_)) {
                *node = Tree::List(BTreeMap::new());
            }
            if let Tree::List(l) = node {
                let child = l.entry(*i).or_insert_with(|| Tree::Leaf(String::new()));
                insert(child, rest, value);
            }
        }
    }
}

fn tree_to_value(name: &str, t: Tree) -> Value {
    match t {
        Tree::Leaf(s) => {
            if s.is_empty() && LIST_MEMBERS.contains(&name) {
                Value::Array(Vec::new())
            } else {
                typed_leaf(name, &s)
            }
        }
        Tree::List(l) => Value::Array(l.into_values().map(|c| tree_to_value(name, c)).collect()),
        Tree::Map(mut m) => {
            // A query-protocol map: `Name.entry.N.key` / `Name.entry.N.value`; a value may be a
            // structure (`AcquireRole`'s `ReplacementValues.entry.N.value.Values.member.M`).
            if m.len() == 1 && matches!(m.get("entry"), Some(Tree::List(_))) {
                if let Some(Tree::List(entries)) = m.remove("entry") {
                    let mut out = Map::new();
                    for e in entries.into_values() {
                        if let Tree::Map(mut kv) = e {
                            if let (Some(Tree::Leaf(k)), Some(v)) = (kv.remove("key"), kv.remove("value")) {
                                let v = match v {
                                    Tree::Leaf(s) => Value::String(s),
                                    v => tree_to_value("value", v),
                                };
                                out.insert(k, v);
                            }
                        }
                    }
                    return Value::Object(out);
                }
            }
            Value::Object(m.into_iter().map(|(k, v)| (k.clone(), tree_to_value(&k, v))).collect())
        }
    }
}

/// `requestParameters` of a query/EC2-protocol request: `Name.member.N.Field` becomes
/// `{"name": [{"field": ...}]}`. `None` when the operation has no parameters.
pub fn query_request_parameters<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let mut root = Tree::Map(BTreeMap::new());
    let mut any = false;
    for (key, value) in params {
        if is_protocol_parameter(key) {
            continue;
        }
        any = true;
        let parts: Vec<&str> = key.split('.').collect();
        if parts.len() > MAX_DEPTH || parts.iter().any(|p| p.is_empty()) {
            insert(&mut root, &[Seg::Name(key)], value);
            continue;
        }
        let path: Vec<Seg<'_>> = parts
            .iter()
            .filter(|p| **p != "member")
            .map(|p| match p.parse::<u64>() {
                Ok(i) if p.bytes().all(|b| b.is_ascii_digit()) => Seg::Index(i),
                _ => Seg::Name(p),
            })
            .collect();
        if matches!(path.first(), Some(Seg::Index(_))) {
            insert(&mut root, &[Seg::Name(key)], value);
        } else {
            insert(&mut root, &path, value);
        }
    }
    if !any {
        return Value::Null;
    }
    tree_to_value("", root)
}

/// `requestParameters` / `responseElements` of a JSON-protocol call: the body with member names
/// lowered. An empty object is `null`.
pub fn json_members(body: &Value) -> Value {
    match body {
        Value::Object(m) if m.is_empty() => Value::Null,
        other => lower_keys(other),
    }
}

fn lower_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (lower_camel(k), lower_keys(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(lower_keys).collect()),
        other => other.clone(),
    }
}

/// A parsed XML element (only what Tessera's own responses contain: elements and text).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Element {
    /// Tag name (without namespace prefix).
    pub name: String,
    /// Child elements.
    pub children: Vec<Element>,
    /// Concatenated text content.
    pub text: String,
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let ent = &tail[1..end];
        let decoded = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let num = ent
                    .strip_prefix("#x")
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse::<u32>().ok()));
                num.and_then(char::from_u32)
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parse an XML document into its root element. `None` if it is not well formed.
pub fn parse_xml(doc: &str) -> Option<Element> {
    let mut stack: Vec<Element> = Vec::new();
    let mut rest = doc;
    let mut root = None;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            if let Some(r) = after.strip_prefix('?') {
                rest = &r[r.find("?>")? + 2..];
            } else if let Some(r) = after.strip_prefix("!--") {
                rest = &r[r.find("-->")? + 3..];
            } else if let Some(r) = after.strip_prefix("![CDATA[") {
                let end = r.find("]]>")?;
                stack.last_mut()?.text.push_str(&r[..end]);
                rest = &r[end + 3..];
            } else if let Some(r) = after.strip_prefix('/') {
                let end = r.find('>')?;
                let name = r[..end].trim();
                let el = stack.pop()?;
                if el.name != local_name(name) {
                    return None;
                }
                rest = &r[end + 1..];
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            } else {
                let end = after.find('>')?;
                let tag = &after[..end];
                let (tag, empty) = match tag.strip_suffix('/') {
                    Some(t) => (t, true),
                    None => (tag, false),
                };
                let name = local_name(tag.split_whitespace().next()?).to_string();
                rest = &after[end + 1..];
                let el = Element { name, ..Default::default() };
                if empty {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                } else {
                    if stack.len() > 64 {
                        return None;
                    }
                    stack.push(el);
                }
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&decode_entities(&rest[..end]));
            }
            rest = &rest[end..];
        }
    }
    if stack.is_empty() {
        root
    } else {
        None
    }
}

fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// JSON of an XML element's content, as CloudTrail records response members.
pub fn element_to_value(el: &Element) -> Value {
    let name = lower_camel(&el.name);
    if el.children.is_empty() {
        if el.text.is_empty() && LIST_MEMBERS.contains(&name.as_str()) {
            return Value::Array(Vec::new());
        }
        if TIMESTAMP_MEMBERS.contains(&name.as_str()) {
            if let Some(ms) = parse_iso8601(el.text.trim()) {
                return Value::String(element_date(ms));
            }
        }
        return typed_leaf(&name, &el.text);
    }
    if el.children.iter().all(|c| c.name == "member" || c.name == "item") {
        return Value::Array(el.children.iter().map(element_to_value_named).collect());
    }
    if el.children.iter().all(|c| c.name == "entry") {
        let mut out = Map::new();
        for e in &el.children {
            let k = e.children.iter().find(|c| c.name == "key").map(|c| c.text.clone());
            let v = e.children.iter().find(|c| c.name == "value").map(element_to_value_named);
            if let (Some(k), Some(v)) = (k, v) {
                out.insert(k, v);
            }
        }
        return Value::Object(out);
    }
    let mut out = Map::new();
    for c in &el.children {
        let key = lower_camel(&c.name);
        let v = element_to_value(c);
        match out.get_mut(&key) {
            Some(Value::Array(a)) if c.name == "member" => a.push(v),
            Some(existing) => {
                let prev = existing.take();
                *existing = match prev {
                    Value::Array(mut a) => {
                        a.push(v);
                        Value::Array(a)
                    }
                    p => Value::Array(vec![p, v]),
                };
            }
            None => {
                out.insert(key, v);
            }
        }
    }
    Value::Object(out)
}

fn element_to_value_named(el: &Element) -> Value {
    element_to_value(el)
}

/// `responseElements` of a query-protocol response: the `<OpResult>` content; `null` when the
/// response has no result element or an empty one.
pub fn query_response_elements(body: &str) -> Value {
    let Some(root) = parse_xml(body) else {
        return Value::Null;
    };
    match root.children.iter().find(|c| c.name.ends_with("Result")) {
        Some(result) if !result.children.is_empty() => element_to_value(result),
        _ => Value::Null,
    }
}

/// `responseElements` of an EC2-protocol response: the whole response element.
pub fn ec2_response_elements(body: &str) -> Value {
    match parse_xml(body) {
        Some(root) if !root.children.is_empty() => element_to_value(&root),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_parameters_nest_and_type() {
        let v = query_request_parameters([
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::1:role/r"),
            ("RoleSessionName", "s"),
            ("DurationSeconds", "900"),
            ("PolicyArns.member.2.arn", "b"),
            ("PolicyArns.member.1.arn", "a"),
            ("Tags.member.1.Key", "k"),
            ("Tags.member.1.Value", "v"),
            ("TransitiveTagKeys.member.1", "k"),
            ("SAMLAssertionID", "x"),
        ]);
        assert_eq!(
            v,
            json!({
                "roleArn": "arn:aws:iam::1:role/r",
                "roleSessionName": "s",
                "durationSeconds": 900,
                "policyArns": [{"arn": "a"}, {"arn": "b"}],
                "tags": [{"key": "k", "value": "v"}],
                "transitiveTagKeys": ["k"],
                "sAMLAssertionID": "x",
            })
        );
        assert_eq!(query_request_parameters([("Action", "GetCallerIdentity"), ("Version", "x")]), Value::Null);
        let b = query_request_parameters([("SetAsDefault", "true"), ("MaxItems", "oops")]);
        assert_eq!(b, json!({"setAsDefault": true, "maxItems": "oops"}));
        let ec2 = query_request_parameters([("InstanceId.1", "i-1"), ("InstanceId.2", "i-2")]);
        assert_eq!(ec2, json!({"instanceId": ["i-1", "i-2"]}));
        let weird = query_request_parameters([("1.x", "a"), ("a..b", "c")]);
        assert_eq!(weird, json!({"1.x": "a", "a..b": "c"}));
        let deep = "a.".repeat(100) + "b";
        let d = query_request_parameters([(deep.as_str(), "v")]);
        assert_eq!(d[deep.as_str()], "v");
        let map = query_request_parameters([("Attrs.entry.1.key", "k1"), ("Attrs.entry.1.value", "v1")]);
        assert_eq!(map, json!({"attrs": {"k1": "v1"}}));
        let values = query_request_parameters([
            ("TemplateMinorVersion", "0"),
            ("ReplacementValues.entry.1.key", "AWSServiceName"),
            ("ReplacementValues.entry.1.value.Values.member.1", "iam.amazonaws.com"),
        ]);
        assert_eq!(
            values,
            json!({"templateMinorVersion": 0, "replacementValues": {"AWSServiceName": {"values": ["iam.amazonaws.com"]}}})
        );
    }

    #[test]
    fn xml_responses() {
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken><Expiration>2023-11-14T22:13:20Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROAX:s</AssumedRoleId><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>"#;
        let v = query_response_elements(body);
        assert_eq!(
            v,
            json!({
                "credentials": {"accessKeyId": "ASIAX", "secretAccessKey": "s", "sessionToken": "t",
                                "expiration": "Nov 14, 2023, 10:13:20 PM"},
                "assumedRoleUser": {"assumedRoleId": "AROAX:s", "arn": "arn:aws:sts::1:assumed-role/r/s"},
                "packedPolicySize": 6,
            })
        );
        let list = r#"<ListUsersResponse><ListUsersResult><Users><member><UserName>a&amp;b</UserName></member></Users><IsTruncated>false</IsTruncated><Tags/></ListUsersResult></ListUsersResponse>"#;
        assert_eq!(
            query_response_elements(list),
            json!({"users": [{"userName": "a&b"}], "isTruncated": false, "tags": []})
        );
        let none = r#"<DeleteUserResponse xmlns="x"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"#;
        assert_eq!(query_response_elements(none), Value::Null);
        assert_eq!(query_response_elements("<a><b></a>"), Value::Null);
        assert_eq!(query_response_elements("not xml <"), Value::Null);
        assert_eq!(decode_entities("&#x41;&#66;&bogus;&"), "AB&bogus;&");
    }

    #[test]
    fn json_members_lower_keys() {
        assert_eq!(json_members(&json!({})), Value::Null);
        assert_eq!(
            json_members(&json!({"LookupAttributes": [{"AttributeKey": "EventName"}], "MaxResults": 5})),
            json!({"lookupAttributes": [{"attributeKey": "EventName"}], "maxResults": 5})
        );
    }
}
