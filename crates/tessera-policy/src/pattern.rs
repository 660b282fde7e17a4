//! Wildcard patterns (`*`, `?`), policy variables (`${aws:username}`, `${aws:PrincipalTag/k, 'dflt'}`,
//! `${*}`, `${?}`, `${$}`) and ARN-segment matching.
//!
//! IAM User Guide, "IAM JSON policy elements: Resource": each of the first five colon-separated
//! ARN segments is matched on its own (a wildcard does not cross `:`); the resource part may hold
//! colons and a wildcard in it matches across them. "IAM policy elements: Variables and tags":
//! a substituted value is literal (a `*` in a user name is not a wildcard).

use std::borrow::Cow;

use crate::context::Context;

/// A policy variable reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VarRef {
    /// Lower-cased key.
    pub key: Box<str>,
    pub default: Option<Box<str>>,
}

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(Box<str>),
    /// `?`: exactly one character.
    One,
    /// `*`: any run of characters.
    Star,
    Var(VarRef),
}

/// Fast path classification of a pattern without variables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fast {
    Exact(Box<str>),
    Prefix(Box<str>),
    AnyString,
    General,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    toks: Vec<Tok>,
    fast: Fast,
    has_vars: bool,
}

/// Parse `${...}` at the start of `s` (which begins with `${`). Returns the token and the bytes used.
fn parse_var(s: &str) -> Option<(Tok, usize)> {
    let end = s.find('}')?;
    let inner = &s[2..end];
    let tok = match inner {
        "*" => Tok::Lit("*".into()),
        "?" => Tok::Lit("?".into()),
        "$" => Tok::Lit("$".into()),
        _ => {
            let (key, default) = match inner.find(',') {
                Some(c) => {
                    let d = inner[c + 1..].trim();
                    let d = d.strip_prefix('\'')?.strip_suffix('\'')?;
                    (inner[..c].trim(), Some(d.into()))
                }
                None => (inner.trim(), None),
            };
            if key.is_empty() || key.contains(['$', '{', '\'']) {
                return None;
            }
            Tok::Var(VarRef { key: key.to_ascii_lowercase().into(), default })
        }
    };
    Some((tok, end + 1))
}

/// Tokenize. `wild`: `*` and `?` are wildcards; `vars`: `${...}` are variables (Version 2012-10-17).
pub(crate) fn tokenize(s: &str, wild: bool, vars: bool) -> Vec<Tok> {
    let special = |b: u8| (wild && (b == b'*' || b == b'?')) || (vars && b == b'$');
    if !s.bytes().any(special) {
        return if s.is_empty() { Vec::new() } else { vec![Tok::Lit(s.into())] };
    }
    let mut toks = Vec::new();
    let mut lit = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let rest = &s[i..];
        if vars && rest.starts_with("${") {
            if let Some((tok, used)) = parse_var(rest) {
                match tok {
                    Tok::Lit(l) => lit.push_str(&l),
                    t => {
                        if !lit.is_empty() {
                            toks.push(Tok::Lit(std::mem::take(&mut lit).into()));
                        }
                        toks.push(t);
                    }
                }
                i += used;
                continue;
            }
        }
        let Some(c) = rest.chars().next() else { break };
        if wild && (c == '*' || c == '?') {
            if !lit.is_empty() {
                toks.push(Tok::Lit(std::mem::take(&mut lit).into()));
            }
            if c == '*' {
                if toks.last() != Some(&Tok::Star) {
                    toks.push(Tok::Star);
                }
            } else {
                toks.push(Tok::One);
            }
        } else {
            lit.push(c);
        }
        i += c.len_utf8();
    }
    if !lit.is_empty() {
        toks.push(Tok::Lit(lit.into()));
    }
    toks
}

impl Glob {
    /// Compile `s`. `lower`: lower-case literal parts (case-insensitive matching against lower-cased text).
    pub(crate) fn new(s: &str, wild: bool, vars: bool, lower: bool) -> Glob {
        let src: Cow<str> =
            if lower && (s.bytes().any(|b| b.is_ascii_uppercase()) || (!s.is_ascii() && s.to_lowercase() != s)) {
                Cow::Owned(s.to_lowercase())
            } else {
                Cow::Borrowed(s)
            };
        // Variables keep their key case-insensitive; with `lower` a default value would be lowered too, fine.
        let toks = tokenize(&src, wild, vars);
        Glob::from_toks(toks)
    }

    pub(crate) fn from_toks(toks: Vec<Tok>) -> Glob {
        let has_vars = toks.iter().any(|t| matches!(t, Tok::Var(_)));
        let fast = if has_vars {
            Fast::General
        } else {
            match toks.as_slice() {
                [] => Fast::Exact("".into()),
                [Tok::Lit(l)] => Fast::Exact(l.clone()),
                [Tok::Star] => Fast::AnyString,
                [Tok::Lit(l), Tok::Star] => Fast::Prefix(l.clone()),
                _ => Fast::General,
            }
        };
        Glob { toks, fast, has_vars }
    }

    /// Whether this pattern is exactly `*`.
    pub(crate) fn is_any(&self) -> bool {
        self.fast == Fast::AnyString
    }

    /// Match `text`; variables resolve from `ctx` (an unresolvable variable never matches).
    /// With `lower_values`, substituted values are lower-cased (case-insensitive matching).
    pub(crate) fn matches(&self, text: &str, ctx: &Context, lower_values: bool) -> bool {
        match &self.fast {
            Fast::Exact(l) => &**l == text,
            Fast::Prefix(p) => text.starts_with(&**p),
            Fast::AnyString => true,
            Fast::General if !self.has_vars => glob_match(&self.toks, text),
            Fast::General => match resolve(&self.toks, ctx, lower_values) {
                Some(toks) => glob_match(&toks, text),
                None => false,
            },
        }
    }

    /// The pattern with variables resolved as a plain string (for equality operators).
    pub(crate) fn resolve_string(&self, ctx: &Context) -> Option<Cow<'_, str>> {
        if let Fast::Exact(l) = &self.fast {
            return Some(Cow::Borrowed(l));
        }
        let mut out = String::new();
        for t in &self.toks {
            match t {
                Tok::Lit(l) => out.push_str(l),
                Tok::One => out.push('?'),
                Tok::Star => out.push('*'),
                Tok::Var(v) => out.push_str(&var_value(v, ctx)?),
            }
        }
        Some(Cow::Owned(out))
    }
}

fn var_value<'c>(v: &VarRef, ctx: &'c Context) -> Option<Cow<'c, str>> {
    match ctx.get_lower(&v.key) {
        Some([one]) => Some(Cow::Borrowed(one.as_str())),
        Some(_) | None => v.default.as_ref().map(|d| Cow::Owned(d.to_string())),
    }
}

fn resolve<'a>(toks: &'a [Tok], ctx: &Context, lower: bool) -> Option<Cow<'a, [Tok]>> {
    if !toks.iter().any(|t| matches!(t, Tok::Var(_))) {
        return Some(Cow::Borrowed(toks));
    }
    let mut out = Vec::with_capacity(toks.len());
    for t in toks {
        match t {
            Tok::Var(v) => {
                let val = var_value(v, ctx)?;
                let val = if lower { val.to_lowercase() } else { val.into_owned() };
                out.push(Tok::Lit(val.into()));
            }
            other => out.push(other.clone()),
        }
    }
    Some(Cow::Owned(out))
}

/// Whether `text` matches `pattern`, where `*` is any run of characters and `?` exactly one
/// and everything else is literal (no policy variables): the plain wildcard of EC2 filter
/// values, S3 bucket-policy resources and action names. Case-sensitive; lower-case both sides
/// for a case-insensitive match.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether the action pattern `pattern` (`*`/`?` wildcards) matches `action`, compared
/// case-insensitively as IAM compares action names.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    wildcard_match(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

fn char_len_at(text: &str, pos: usize) -> usize {
    text[pos..].chars().next().map_or(1, char::len_utf8)
}

/// Iterative glob matching with a single backtrack point (linear in practice, no recursion).
pub(crate) fn glob_match(toks: &[Tok], text: &str) -> bool {
    let (mut ti, mut pos) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if ti < toks.len() {
            let advanced = match &toks[ti] {
                Tok::Star => {
                    star = Some((ti + 1, pos));
                    ti += 1;
                    continue;
                }
                Tok::One => {
                    if pos < text.len() {
                        pos += char_len_at(text, pos);
                        true
                    } else {
                        false
                    }
                }
                Tok::Lit(l) => {
                    if text[pos..].starts_with(&**l) {
                        pos += l.len();
                        true
                    } else {
                        false
                    }
                }
                Tok::Var(_) => false,
            };
            if advanced {
                ti += 1;
                continue;
            }
        } else if pos == text.len() {
            return true;
        }
        match star {
            Some((sti, spos)) if spos < text.len() => {
                let np = spos + char_len_at(text, spos);
                star = Some((sti, np));
                ti = sti;
                pos = np;
            }
            _ => return false,
        }
    }
}

/// Split at the first five colons that are outside `${...}`; returns up to six pieces.
fn split_arn_pattern(s: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(6);
    let b = s.as_bytes();
    let (mut start, mut i, mut in_var) = (0, 0, false);
    while i < b.len() && out.len() < 5 {
        if !in_var && b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            in_var = true;
            i += 2;
            continue;
        }
        if in_var && b[i] == b'}' {
            in_var = false;
        } else if !in_var && b[i] == b':' {
            out.push(&s[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// A resource (or ARN condition) pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArnPattern {
    /// The whole pattern (used when the text has fewer segments than the pattern).
    whole: Glob,
    /// Per-segment patterns (1..=6 of them); empty when `whole` is literal or `prefix` is set.
    segs: Vec<Glob>,
    /// Fast form when the first five segments are literal: `arn:p:s:r:a:` and the resource part.
    prefix: Option<(Box<str>, Glob)>,
}

/// A resource ARN split once per request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitArn<'a> {
    pub full: &'a str,
    /// Byte offsets where each of up to six segments starts, and the segment count.
    starts: [usize; 6],
    n: usize,
}

impl<'a> SplitArn<'a> {
    pub(crate) fn new(full: &'a str) -> Self {
        let mut starts = [0usize; 6];
        let mut n = 1;
        for (i, b) in full.bytes().enumerate() {
            if n == 6 {
                break;
            }
            if b == b':' {
                starts[n] = i + 1;
                n += 1;
            }
        }
        SplitArn { full, starts, n }
    }

    fn seg(&self, i: usize) -> &'a str {
        let st = self.starts[i];
        if i + 1 < self.n {
            &self.full[st..self.starts[i + 1] - 1]
        } else {
            &self.full[st..]
        }
    }

    fn rest_from(&self, i: usize) -> &'a str {
        &self.full[self.starts[i]..]
    }
}

impl ArnPattern {
    pub(crate) fn new(s: &str, vars: bool) -> ArnPattern {
        let whole = Glob::new(s, true, vars, false);
        // A literal ARN is compared as a whole; segments matter only with wildcards or variables.
        if matches!(whole.fast, Fast::Exact(_)) {
            return ArnPattern { whole, segs: Vec::new(), prefix: None };
        }
        let pieces = split_arn_pattern(s);
        let special = |p: &str| p.contains(['*', '?']) || (vars && p.contains("${"));
        if pieces.len() == 6 && !pieces[..5].iter().any(|p| special(p)) {
            let cut = s.len() - pieces[5].len();
            let prefix = (Box::from(&s[..cut]), Glob::new(pieces[5], true, vars, false));
            return ArnPattern { whole, segs: Vec::new(), prefix: Some(prefix) };
        }
        let segs = pieces.into_iter().map(|p| Glob::new(p, true, vars, false)).collect();
        ArnPattern { whole, segs, prefix: None }
    }

    pub(crate) fn matches(&self, arn: &SplitArn<'_>, ctx: &Context) -> bool {
        if self.whole.is_any() {
            return true;
        }
        if let Some((pre, rest)) = &self.prefix {
            return if arn.n == 6 {
                arn.full.starts_with(&**pre) && rest.matches(&arn.full[pre.len()..], ctx, false)
            } else {
                self.whole.matches(arn.full, ctx, false)
            };
        }
        let np = self.segs.len();
        if arn.n < np || np <= 1 {
            return self.whole.matches(arn.full, ctx, false);
        }
        for (i, g) in self.segs.iter().enumerate() {
            let text = if i + 1 == np { arn.rest_from(i) } else { arn.seg(i) };
            if !g.matches(text, ctx, false) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str, t: &str) -> bool {
        Glob::new(p, true, true, false).matches(t, &Context::new(), false)
    }

    #[test]
    fn action_patterns_match_without_regard_to_case() {
        assert!(action_matches("iam:*", "iam:CreateUser") && action_matches("*", "s3:GetObject"));
        assert!(action_matches("IAM:get*", "iam:GetUser") && action_matches("i?m:*", "iam:x"));
        assert!(!action_matches("iam:Get*", "iam:CreateUser") && !action_matches("s3:*", "sts:GetCallerIdentity"));
    }

    #[test]
    fn plain_wildcards_have_no_variables() {
        assert!(wildcard_match("i-*", "i-0abc") && wildcard_match("a?c", "abc") && wildcard_match("*", ""));
        assert!(wildcard_match("arn:aws:s3:::b*/x", "arn:aws:s3:::b1/x"));
        assert!(!wildcard_match("a?c", "ac") && !wildcard_match("A*", "abc"));
        assert!(wildcard_match("${aws:username}", "${aws:username}"));
        assert!(!wildcard_match("${aws:username}", "alice"));
    }

    #[test]
    fn globbing() {
        assert!(g("*", ""));
        assert!(g("a*c", "abbbc"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("*a*b*", "xxaxxbxx"));
        assert!(!g("*a*b", "xxaxxbxx"));
        assert!(g("é?", "éü"));
        assert!(g("${*}x", "*x"));
        assert!(!g("${*}x", "ax"));
    }

    #[test]
    fn arn_segments_do_not_cross_colons() {
        let ctx = Context::new();
        let m = |p: &str, r: &str| ArnPattern::new(p, true).matches(&SplitArn::new(r), &ctx);
        assert!(m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b"));
        assert!(!m("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket"));
        assert!(m("arn:aws:logs:*:*:log-group:*", "arn:aws:logs:us-east-1:1:log-group:g:log-stream:s"));
        assert!(m("arn:aws:iam::*", "arn:aws:iam::1:user/u"));
        assert!(!m("arn:aws:*:123456789012:x", "arn:aws:s3:us-east-1:123456789012:x"));
        assert!(!m("arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::1:user/${aws:username}"));
        assert!(m("*", "anything"));
        assert!(!m("arn:aws:s3:::*", "*"));
    }
}
