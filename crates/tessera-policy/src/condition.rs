//! Condition operators (IAM User Guide, "IAM JSON policy elements: Condition operators") and the
//! set operators `ForAllValues:` / `ForAnyValue:` ("Set operators for multivalued context keys").

use std::borrow::Cow;
use std::net::IpAddr;

use crate::context::Context;
use crate::pattern::{ArnPattern, Glob, SplitArn};

/// The base operator of a condition clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionOperator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

use ConditionOperator as O;

/// Every base operator, in documentation order.
pub const ALL_OPERATORS: &[ConditionOperator] = &[
    O::StringEquals,
    O::StringNotEquals,
    O::StringEqualsIgnoreCase,
    O::StringNotEqualsIgnoreCase,
    O::StringLike,
    O::StringNotLike,
    O::NumericEquals,
    O::NumericNotEquals,
    O::NumericLessThan,
    O::NumericLessThanEquals,
    O::NumericGreaterThan,
    O::NumericGreaterThanEquals,
    O::DateEquals,
    O::DateNotEquals,
    O::DateLessThan,
    O::DateLessThanEquals,
    O::DateGreaterThan,
    O::DateGreaterThanEquals,
    O::Bool,
    O::BinaryEquals,
    O::IpAddress,
    O::NotIpAddress,
    O::ArnEquals,
    O::ArnLike,
    O::ArnNotEquals,
    O::ArnNotLike,
    O::Null,
];

impl ConditionOperator {
    /// The operator's name as written in policies.
    pub fn name(self) -> &'static str {
        match self {
            O::StringEquals => "StringEquals",
            O::StringNotEquals => "StringNotEquals",
            O::StringEqualsIgnoreCase => "StringEqualsIgnoreCase",
            O::StringNotEqualsIgnoreCase => "StringNotEqualsIgnoreCase",
            O::StringLike => "StringLike",
            O::StringNotLike => "StringNotLike",
            O::NumericEquals => "NumericEquals",
            O::NumericNotEquals => "NumericNotEquals",
            O::NumericLessThan => "NumericLessThan",
            O::NumericLessThanEquals => "NumericLessThanEquals",
            O::NumericGreaterThan => "NumericGreaterThan",
            O::NumericGreaterThanEquals => "NumericGreaterThanEquals",
            O::DateEquals => "DateEquals",
            O::DateNotEquals => "DateNotEquals",
            O::DateLessThan => "DateLessThan",
            O::DateLessThanEquals => "DateLessThanEquals",
            O::DateGreaterThan => "DateGreaterThan",
            O::DateGreaterThanEquals => "DateGreaterThanEquals",
            O::Bool => "Bool",
            O::BinaryEquals => "BinaryEquals",
            O::IpAddress => "IpAddress",
            O::NotIpAddress => "NotIpAddress",
            O::ArnEquals => "ArnEquals",
            O::ArnLike => "ArnLike",
            O::ArnNotEquals => "ArnNotEquals",
            O::ArnNotLike => "ArnNotLike",
            O::Null => "Null",
        }
    }

    /// Negated operators match when no policy value matches; they are true for a missing key.
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            O::StringNotEquals
                | O::StringNotEqualsIgnoreCase
                | O::StringNotLike
                | O::NumericNotEquals
                | O::DateNotEquals
                | O::NotIpAddress
                | O::ArnNotEquals
                | O::ArnNotLike
        )
    }

    fn from_name(s: &str) -> Option<Self> {
        ALL_OPERATORS.iter().copied().find(|o| o.name().eq_ignore_ascii_case(s))
    }
}

/// `ForAllValues:` / `ForAnyValue:` qualifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// No qualifier (single-valued use).
    None,
    ForAllValues,
    ForAnyValue,
}

/// A parsed operator string such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operator {
    pub base: ConditionOperator,
    pub set: SetQualifier,
    pub if_exists: bool,
}

impl Operator {
    /// Parse an operator name (case-insensitive). `None` for an unknown operator.
    pub fn parse(s: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = strip_prefix_ci(s, "ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else if let Some(r) = strip_prefix_ci(s, "ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else {
            (SetQualifier::None, s)
        };
        let (base, if_exists) = match ConditionOperator::from_name(rest) {
            Some(b) => (b, false),
            None => {
                let n = rest.len().checked_sub("IfExists".len())?;
                if !rest.is_char_boundary(n) || !rest[n..].eq_ignore_ascii_case("IfExists") {
                    return None;
                }
                (ConditionOperator::from_name(&rest[..n])?, true)
            }
        };
        if base == O::Null && if_exists {
            return None;
        }
        Some(Operator { base, set, if_exists })
    }

    /// The operator as written.
    pub fn name(&self) -> String {
        let set = match self.set {
            SetQualifier::None => "",
            SetQualifier::ForAllValues => "ForAllValues:",
            SetQualifier::ForAnyValue => "ForAnyValue:",
        };
        format!("{set}{}{}", self.base.name(), if self.if_exists { "IfExists" } else { "" })
    }
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    if s.len() >= p.len() && s.is_char_boundary(p.len()) && s[..p.len()].eq_ignore_ascii_case(p) {
        Some(&s[p.len()..])
    } else {
        None
    }
}

/// A compiled policy value of a clause.
#[derive(Debug, Clone)]
enum Val {
    Text(Glob),
    Num(Option<f64>),
    Date(Option<i64>),
    Ip(Option<Cidr>),
    Arn(ArnPattern),
    /// A value with variables for a typed operator: resolved and parsed per request.
    Deferred(Glob),
}

/// One `operator: { key: values }` entry of a Condition block.
#[derive(Debug, Clone)]
pub struct Clause {
    pub op: Operator,
    /// The key as written.
    pub key: String,
    key_lower: String,
    /// The values as written.
    pub values: Vec<String>,
    vals: Vec<Val>,
}

impl Clause {
    /// Compile a clause. `vars`: policy variables are substituted (Version 2012-10-17).
    pub fn new(op: Operator, key: &str, values: Vec<String>, vars: bool) -> Clause {
        let vals = values.iter().map(|v| compile_value(op.base, v, vars)).collect();
        Clause { op, key: key.to_string(), key_lower: key.to_ascii_lowercase(), values, vals }
    }

    /// Evaluate against the request context.
    pub fn matches(&self, ctx: &Context) -> bool {
        let present = ctx.get_lower(&self.key_lower).filter(|v| !v.is_empty());
        if self.op.base == O::Null {
            let absent = present.is_none();
            return self.values.iter().any(|v| v.eq_ignore_ascii_case(if absent { "true" } else { "false" }));
        }
        let negated = self.op.base.is_negated();
        match (self.op.set, present) {
            (_, None) if self.op.if_exists => true,
            (SetQualifier::None, None) => negated,
            (SetQualifier::ForAllValues, None) => true,
            (SetQualifier::ForAnyValue, None) => false,
            (SetQualifier::None, Some(vals)) => {
                if negated {
                    vals.iter().all(|v| self.value_matches(v, ctx))
                } else {
                    vals.iter().any(|v| self.value_matches(v, ctx))
                }
            }
            (SetQualifier::ForAllValues, Some(vals)) => vals.iter().all(|v| self.value_matches(v, ctx)),
            (SetQualifier::ForAnyValue, Some(vals)) => vals.iter().any(|v| self.value_matches(v, ctx)),
        }
    }

    /// Whether one context value satisfies the operator (negated operators: no policy value matches).
    fn value_matches(&self, v: &str, ctx: &Context) -> bool {
        let base = self.op.base;
        match base {
            O::StringNotEquals | O::StringNotEqualsIgnoreCase | O::StringNotLike | O::ArnNotEquals | O::ArnNotLike => {
                !self.any_positive(positive_of(base), v, ctx)
            }
            O::NumericNotEquals => parse_number(v).is_some() && !self.any_positive(O::NumericEquals, v, ctx),
            O::DateNotEquals => parse_date(v).is_some() && !self.any_positive(O::DateEquals, v, ctx),
            O::NotIpAddress => parse_ip(v).is_some() && !self.any_positive(O::IpAddress, v, ctx),
            _ => self.any_positive(base, v, ctx),
        }
    }

    fn any_positive(&self, base: ConditionOperator, v: &str, ctx: &Context) -> bool {
        // Parse the context value once for typed operators.
        match base {
            O::NumericEquals
            | O::NumericLessThan
            | O::NumericLessThanEquals
            | O::NumericGreaterThan
            | O::NumericGreaterThanEquals => {
                let Some(x) = parse_number(v) else { return false };
                self.vals.iter().any(|p| {
                    let pv = match p {
                        Val::Num(n) => *n,
                        Val::Deferred(g) => g.resolve_string(ctx).and_then(|s| parse_number(&s)),
                        _ => None,
                    };
                    pv.is_some_and(|y| match base {
                        O::NumericEquals => x == y,
                        O::NumericLessThan => x < y,
                        O::NumericLessThanEquals => x <= y,
                        O::NumericGreaterThan => x > y,
                        _ => x >= y,
                    })
                })
            }
            O::DateEquals | O::DateLessThan | O::DateLessThanEquals | O::DateGreaterThan | O::DateGreaterThanEquals => {
                let Some(x) = parse_date(v) else { return false };
                self.vals.iter().any(|p| {
                    let pv = match p {
                        Val::Date(d) => *d,
                        Val::Deferred(g) => g.resolve_string(ctx).and_then(|s| parse_date(&s)),
                        _ => None,
                    };
                    pv.is_some_and(|y| match base {
                        O::DateEquals => x == y,
                        O::DateLessThan => x < y,
                        O::DateLessThanEquals => x <= y,
                        O::DateGreaterThan => x > y,
                        _ => x >= y,
                    })
                })
            }
            O::IpAddress => {
                let Some(ip) = parse_ip(v) else { return false };
                self.vals.iter().any(|p| {
                    let c = match p {
                        Val::Ip(c) => *c,
                        Val::Deferred(g) => g.resolve_string(ctx).and_then(|s| parse_cidr(&s)),
                        _ => None,
                    };
                    c.is_some_and(|c| c.contains(&ip))
                })
            }
            O::ArnEquals | O::ArnLike => {
                let arn = SplitArn::new(v);
                self.vals.iter().any(|p| matches!(p, Val::Arn(a) if a.matches(&arn, ctx)))
            }
            O::StringEquals | O::BinaryEquals => self.vals.iter().any(|p| match p {
                Val::Text(g) => g.matches(v, ctx, false),
                _ => false,
            }),
            O::StringLike => self.vals.iter().any(|p| matches!(p, Val::Text(g) if g.matches(v, ctx, false))),
            O::StringEqualsIgnoreCase => {
                let lv = v.to_lowercase();
                self.vals.iter().any(|p| matches!(p, Val::Text(g) if g.matches(&lv, ctx, true)))
            }
            O::Bool => self.vals.iter().any(|p| match p {
                Val::Text(g) => g.resolve_string(ctx).is_some_and(|s| s.eq_ignore_ascii_case(v)),
                _ => false,
            }),
            _ => false,
        }
    }
}

fn positive_of(base: ConditionOperator) -> ConditionOperator {
    match base {
        O::StringNotEquals => O::StringEquals,
        O::StringNotEqualsIgnoreCase => O::StringEqualsIgnoreCase,
        O::StringNotLike => O::StringLike,
        O::ArnNotEquals => O::ArnEquals,
        O::ArnNotLike => O::ArnLike,
        O::NumericNotEquals => O::NumericEquals,
        O::DateNotEquals => O::DateEquals,
        O::NotIpAddress => O::IpAddress,
        b => b,
    }
}

fn compile_value(base: ConditionOperator, v: &str, vars: bool) -> Val {
    let deferred = vars && v.contains("${");
    match positive_of(base) {
        O::StringEquals | O::BinaryEquals | O::Bool | O::Null => Val::Text(Glob::new(v, false, vars, false)),
        O::StringEqualsIgnoreCase => Val::Text(Glob::new(v, false, vars, true)),
        O::StringLike => Val::Text(Glob::new(v, true, vars, false)),
        O::ArnEquals | O::ArnLike => Val::Arn(ArnPattern::new(v, vars)),
        _ if deferred => Val::Deferred(Glob::new(v, false, true, false)),
        O::IpAddress => Val::Ip(parse_cidr(v)),
        O::DateEquals | O::DateLessThan | O::DateLessThanEquals | O::DateGreaterThan | O::DateGreaterThanEquals => {
            Val::Date(parse_date(v))
        }
        _ => Val::Num(parse_number(v)),
    }
}

/// Parse a number as the Numeric operators do (integers and decimals).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E')) {
        return None;
    }
    t.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parse a date: ISO 8601 (`2024-01-02`, `2024-01-02T03:04:05Z`, fractions, offsets) or epoch
/// seconds. Returns milliseconds since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(secs) = num(s) {
        return secs.checked_mul(1000);
    }
    if s.len() < 10 || !s.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&date[0..4])?, num(&date[5..7])?, num(&date[8..10])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut ms = days_from_civil(y, m, d) * 86_400_000;
    if rest.is_empty() {
        return Some(ms);
    }
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    // time part up to the zone designator
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let (hms, frac) = match time.find('.') {
        Some(i) => (&time[..i], Some(&time[i + 1..])),
        None => (time, None),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    let (h, mi, se) = match parts.as_slice() {
        [h, mi] => (num(h)?, num(mi)?, 0),
        [h, mi, se] => (num(h)?, num(mi)?, num(se)?),
        _ => return None,
    };
    if h > 24 || mi > 59 || se > 60 {
        return None;
    }
    ms += (h * 3600 + mi * 60 + se) * 1000;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 9 {
            return None;
        }
        let digits = num(f)?;
        let scale = 10i64.pow(f.len() as u32);
        ms += digits * 1000 / scale;
    }
    match zone {
        "" | "Z" | "z" => {}
        z => {
            let sign = if z.starts_with('+') { -1 } else { 1 };
            let z = &z[1..];
            let (zh, zm) = match z.len() {
                2 => (num(z)?, 0),
                4 => (num(&z[..2])?, num(&z[2..])?),
                5 if z.as_bytes()[2] == b':' => (num(&z[..2])?, num(&z[3..])?),
                _ => return None,
            };
            ms += sign * (zh * 3600 + zm * 60) * 1000;
        }
    }
    Some(ms)
}

/// A v4 or v6 CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    v6: bool,
    addr: u128,
    prefix: u8,
}

impl Cidr {
    fn contains(&self, ip: &IpAddr) -> bool {
        let (v6, a) = ip_bits(ip);
        if v6 != self.v6 {
            return false;
        }
        let width = if v6 { 128 } else { 32 };
        if self.prefix == 0 {
            return true;
        }
        let shift = width - u32::from(self.prefix);
        (a >> shift) == (self.addr >> shift)
    }
}

fn ip_bits(ip: &IpAddr) -> (bool, u128) {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(*v4))),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (false, u128::from(u32::from(v4))),
            None => (true, u128::from(*v6)),
        },
    }
}

/// Parse an IP address as found in the request context (`aws:SourceIp`).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// Parse a CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
pub fn parse_cidr(s: &str) -> Option<Cidr> {
    let s = s.trim();
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, p)) => (ip, Some(p)),
        None => (s, None),
    };
    let ip: IpAddr = ip.parse().ok()?;
    let (v6, addr) = ip_bits(&ip);
    let width = if v6 { 128 } else { 32 };
    let prefix = match prefix {
        Some(p) => {
            let n = u8::try_from(num(p)?).ok()?;
            if u32::from(n) > width {
                return None;
            }
            n
        }
        None => width as u8,
    };
    Some(Cidr { v6, addr, prefix })
}

/// Convenience for `Cow` strings.
#[allow(dead_code)]
fn cow(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_date("1970-01-02"), Some(86_400_000));
        assert_eq!(parse_date("86400"), Some(86_400_000));
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_date("2020-02-29T12:00:00.5Z"), parse_date("2020-02-29T12:00:00Z").map(|x| x + 500));
        assert_eq!(parse_date("nope"), None);
    }

    #[test]
    fn cidrs() {
        let c = parse_cidr("203.0.113.0/24").unwrap();
        assert!(c.contains(&"203.0.113.9".parse().unwrap()));
        assert!(!c.contains(&"203.0.114.9".parse().unwrap()));
        let c6 = parse_cidr("2001:DB8:1234:5678::/64").unwrap();
        assert!(c6.contains(&"2001:db8:1234:5678::1".parse().unwrap()));
        assert!(!c6.contains(&"203.0.113.9".parse().unwrap()));
        assert!(parse_cidr("0.0.0.0/0").unwrap().contains(&"1.2.3.4".parse().unwrap()));
        assert!(parse_cidr("1.2.3.4/33").is_none());
    }

    #[test]
    fn operators_parse() {
        let o = Operator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!((o.base, o.set, o.if_exists), (O::StringLike, SetQualifier::ForAnyValue, true));
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("StringEqualz").is_none());
        assert_eq!(Operator::parse("stringequals").unwrap().base, O::StringEquals);
    }
}
