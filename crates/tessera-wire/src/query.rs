//! The query protocol (STS, IAM) and the EC2 protocol: flat `Name=value` parameters from the
//! form body and the URL query, with lists flattened as `Name.member.N` (query) or `Name.N` (EC2).

use std::collections::BTreeMap;

use crate::AwsError;

/// Most parameters a query request may carry; more is refused before decoding further.
pub const MAX_PARAMETERS: usize = 10_000;

/// The decoded parameters of one query-protocol request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    map: BTreeMap<String, String>,
}

impl QueryParams {
    /// Decode `application/x-www-form-urlencoded` bytes (URL query or form body), merged in order.
    pub fn parse(parts: &[&[u8]]) -> Result<Self, AwsError> {
        let mut map = BTreeMap::new();
        for part in parts {
            for (k, v) in form_urlencoded::parse(part) {
                if map.len() >= MAX_PARAMETERS {
                    return Err(AwsError::validation("Too many parameters in request"));
                }
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        Ok(QueryParams { map })
    }

    /// Build from pairs (tests, sub-structures).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        QueryParams { map: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// The value of a required parameter, or AWS's `ValidationError` for a null member.
    pub fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| null_member(name))
    }

    /// The `Action` parameter.
    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    /// Whether no parameter is present.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every parameter, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn indexed<'a>(&'a self, prefix: &str) -> Vec<(u32, &'a str, &'a str)> {
        // Returns (index, rest-after-index, value) for keys `prefix<N>` / `prefix<N>.rest`.
        let mut out = Vec::new();
        for (k, v) in self.map.range(prefix.to_string()..) {
            let Some(tail) = k.strip_prefix(prefix) else {
                break;
            };
            let (idx, rest) = match tail.find('.') {
                Some(dot) => (&tail[..dot], &tail[dot + 1..]),
                None => (tail, ""),
            };
            if let Ok(n) = idx.parse::<u32>() {
                out.push((n, rest, v.as_str()));
            }
        }
        out.sort_by_key(|(n, _, _)| *n);
        out
    }

    /// A query-protocol list of strings: `Name.member.1`, `Name.member.2`, ...
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.indexed(&format!("{name}.member."))
            .into_iter()
            .filter(|(_, rest, _)| rest.is_empty())
            .map(|(_, _, v)| v)
            .collect()
    }

    /// Whether a list parameter was given at all (even as an empty list `Name=`).
    pub fn has_list(&self, name: &str) -> bool {
        self.map.contains_key(name) || !self.list(name).is_empty() || !self.structs(name).is_empty()
    }

    /// A query-protocol list of structures: `Name.member.N.Field` → one [`QueryParams`] per N.
    pub fn structs(&self, name: &str) -> Vec<QueryParams> {
        group(self.indexed(&format!("{name}.member.")))
    }

    /// An EC2-protocol list of strings: `Name.1`, `Name.2`, ...
    pub fn ec2_list(&self, name: &str) -> Vec<&str> {
        self.indexed(&format!("{name}."))
            .into_iter()
            .filter(|(_, rest, _)| rest.is_empty())
            .map(|(_, _, v)| v)
            .collect()
    }

    /// An EC2-protocol list of structures: `Name.N.Field` → one [`QueryParams`] per N.
    pub fn ec2_structs(&self, name: &str) -> Vec<QueryParams> {
        group(self.indexed(&format!("{name}.")))
    }

    /// A query-protocol map: `Name.entry.N.key` / `Name.entry.N.value`.
    pub fn map(&self, name: &str) -> Vec<(String, String)> {
        self.structs_with(&format!("{name}.entry."))
            .into_iter()
            .filter_map(|s| Some((s.get("key")?.to_string(), s.get("value")?.to_string())))
            .collect()
    }

    fn structs_with(&self, prefix: &str) -> Vec<QueryParams> {
        group(self.indexed(prefix))
    }
}

fn group(items: Vec<(u32, &str, &str)>) -> Vec<QueryParams> {
    let mut out: Vec<(u32, QueryParams)> = Vec::new();
    for (n, rest, v) in items {
        if rest.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((m, p)) if *m == n => {
                p.map.insert(rest.to_string(), v.to_string());
            }
            _ => out.push((n, QueryParams::from_pairs([(rest, v)]))),
        }
    }
    out.into_iter().map(|(_, p)| p).collect()
}

/// AWS's validation message for a required member that is absent:
/// `1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null`.
pub fn null_member(name: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(name)
    ))
}

/// `RoleName` → `roleName`, as AWS names members in validation messages.
pub fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_lists_and_structs() {
        let q = QueryParams::parse(&[
            b"Action=AssumeRole&PolicyArns.member.2.arn=b&PolicyArns.member.1.arn=a&Tags.member.1.Key=k&Tags.member.1.Value=v&TransitiveTagKeys.member.10=z&TransitiveTagKeys.member.2=y",
        ])
        .unwrap();
        assert_eq!(q.action(), Some("AssumeRole"));
        let arns: Vec<_> = q.structs("PolicyArns").iter().map(|s| s.get("arn").unwrap().to_string()).collect();
        assert_eq!(arns, ["a", "b"]);
        assert_eq!(q.structs("Tags")[0].get("Value"), Some("v"));
        assert_eq!(q.list("TransitiveTagKeys"), ["y", "z"]);
        assert!(q.list("Missing").is_empty());
    }

    #[test]
    fn ec2_lists() {
        let q = QueryParams::parse(&[b"InstanceId.1=i-1&InstanceId.2=i-2&Filter.1.Name=n&Filter.1.Value.1=x"]).unwrap();
        assert_eq!(q.ec2_list("InstanceId"), ["i-1", "i-2"]);
        let f = q.ec2_structs("Filter");
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].ec2_list("Value"), ["x"]);
    }

    #[test]
    fn required_gives_aws_validation_message() {
        let q = QueryParams::default();
        let e = q.required("RoleArn").unwrap_err();
        assert_eq!(e.code, "ValidationError");
        assert!(e.message.contains("Value null at 'roleArn'"));
    }
}
