//! A small JSON reader for policy documents: bounded depth and size, ordered object members,
//! duplicate keys kept (the grammar layer decides), positions for error messages.

/// Maximum nesting depth of a policy document. Real policies nest at most 5 deep.
pub const MAX_DEPTH: usize = 32;
/// Maximum length in bytes of a document this reader accepts (far above every IAM quota).
pub const MAX_BYTES: usize = 1 << 20;

/// A JSON value with object members in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text as written.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// A syntax error with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

/// Parse a document. Never panics; depth is bounded by [`MAX_DEPTH`].
pub fn parse(text: &str) -> Result<Json, JsonError> {
    let mut r = Reader { s: text.as_bytes(), i: 0 };
    if text.len() > MAX_BYTES {
        return Err(r.err());
    }
    r.ws();
    let v = r.value(0)?;
    r.ws();
    if r.i != r.s.len() {
        return Err(r.err());
    }
    Ok(v)
}

impl Reader<'_> {
    fn err(&self) -> JsonError {
        let upto = &self.s[..self.i.min(self.s.len())];
        let line = upto.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = upto.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        JsonError { line, column: col }
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn lit(&mut self, word: &[u8], v: Json) -> Result<Json, JsonError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        if depth > MAX_DEPTH {
            return Err(self.err());
        }
        match self.peek() {
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.err());
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.peek() != Some(b':') {
                        return Err(self.err());
                    }
                    self.i += 1;
                    self.ws();
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') => self.lit(b"true", Json::Bool(true)),
            Some(b'f') => self.lit(b"false", Json::Bool(false)),
            Some(b'n') => self.lit(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let digits = |r: &mut Self| {
            let st = r.i;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.i += 1;
            }
            r.i > st
        };
        if self.peek() == Some(b'0') {
            self.i += 1;
        } else if !digits(self) {
            return Err(self.err());
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !digits(self) {
                return Err(self.err());
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digits(self) {
                return Err(self.err());
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.err())?;
        Ok(Json::Num(text.to_string()))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let c = self.peek().ok_or_else(|| self.err())?;
            let d = (c as char).to_digit(16).ok_or_else(|| self.err())?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        // at the opening quote
        self.i += 1;
        // Fast path: no escapes before the closing quote.
        let start = self.i;
        let mut j = start;
        while j < self.s.len() && self.s[j] != b'"' && self.s[j] != b'\\' && self.s[j] >= 0x20 {
            j += 1;
        }
        if j < self.s.len() && self.s[j] == b'"' {
            self.i = j + 1;
            return std::str::from_utf8(&self.s[start..j]).map(str::to_string).map_err(|_| self.err());
        }
        let mut out = Vec::with_capacity(j - start + 16);
        loop {
            let c = self.peek().ok_or_else(|| self.err())?;
            match c {
                b'"' => {
                    self.i += 1;
                    return String::from_utf8(out).map_err(|_| self.err());
                }
                b'\\' => {
                    self.i += 1;
                    let e = self.peek().ok_or_else(|| self.err())?;
                    self.i += 1;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.s[self.i..].starts_with(b"\\u") {
                                    self.i += 2;
                                    let lo = self.hex4()?;
                                    if !(0xDC00..0xE000).contains(&lo) {
                                        return Err(self.err());
                                    }
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                } else {
                                    return Err(self.err());
                                }
                            }
                            let ch = char::from_u32(cp).ok_or_else(|| self.err())?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Err(self.err()),
                    }
                }
                0..=0x1f => return Err(self.err()),
                _ => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

/// A 1-based line and column in a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// The spans of the statements of a policy document, in order: the position of each statement's
/// opening brace and the position just past its closing brace. Empty if the document does not parse.
pub fn statement_spans(text: &str) -> Vec<(Position, Position)> {
    let mut r = Reader { s: text.as_bytes(), i: 0 };
    let mut out = Vec::new();
    if text.len() > MAX_BYTES || r.statement_spans(&mut out).is_err() {
        return Vec::new();
    }
    // The offsets increase: one sweep turns them into lines and columns.
    let bytes = text.as_bytes();
    let (mut line, mut line_start, mut scanned) = (1, 0, 0);
    let mut at = |i: usize| {
        for (k, &b) in bytes[scanned..i].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = scanned + k + 1;
            }
        }
        scanned = i;
        Position { line, column: i - line_start + 1 }
    };
    out.into_iter().map(|(a, b)| (at(a), at(b))).collect()
}

impl Reader<'_> {
    fn statement_spans(&mut self, out: &mut Vec<(usize, usize)>) -> Result<(), JsonError> {
        self.ws();
        if self.peek() != Some(b'{') {
            return Err(self.err());
        }
        self.i += 1;
        loop {
            self.ws();
            match self.peek() {
                Some(b'}') => return Ok(()),
                Some(b',') => {
                    self.i += 1;
                    continue;
                }
                Some(b'"') => {}
                _ => return Err(self.err()),
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err());
            }
            self.i += 1;
            self.ws();
            if key != "Statement" {
                self.value(1)?;
                continue;
            }
            match self.peek() {
                Some(b'{') => {
                    let start = self.i;
                    self.value(1)?;
                    out.push((start, self.i));
                }
                Some(b'[') => {
                    self.i += 1;
                    loop {
                        self.ws();
                        match self.peek() {
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            Some(b',') => self.i += 1,
                            _ => {
                                let start = self.i;
                                self.value(2)?;
                                out.push((start, self.i));
                            }
                        }
                    }
                }
                _ => {
                    self.value(1)?;
                }
            }
        }
    }
}

/// A JSON string as written inside a larger text (`tessera policy simulate --jsonl` input lines):
/// borrowed, escapes left in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawStr<'a> {
    /// The string with its quotes.
    quoted: &'a str,
    /// Whether it holds a backslash escape.
    pub(crate) escaped: bool,
}

impl<'a> RawStr<'a> {
    /// The text between the quotes, escapes included.
    pub(crate) fn raw(self) -> &'a str {
        self.quoted.get(1..self.quoted.len() - 1).unwrap_or_default()
    }

    /// The string's value, unescaped by serde_json (so that what it accepts and how it reads
    /// escapes are the same as for a `serde_json::Value`); `None` for an escape it refuses.
    pub(crate) fn value(self) -> Option<std::borrow::Cow<'a, str>> {
        if self.escaped {
            serde_json::from_str::<String>(self.quoted).ok().map(std::borrow::Cow::Owned)
        } else {
            Some(std::borrow::Cow::Borrowed(self.raw()))
        }
    }
}

/// The high bit of each byte of `w` that is a quote, a backslash or a control character; exact
/// for the lowest such byte (a borrow can only mark bytes above it).
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\'))) | (w.wrapping_sub(ONES * 0x20) & !w & HIGH)
}

/// A borrowing JSON scanner for the simulator's input lines. It accepts a subset of what
/// serde_json accepts and answers `None` for anything else (numbers it cannot vouch for, invalid
/// text, nesting beyond [`Scanner::MAX_DEPTH`]): the caller then reads the text with serde_json.
/// Escapes inside strings are located, not checked: [`RawStr::value`] checks them.
pub(crate) struct Scanner<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Scanner<'a> {
    /// Below serde_json's recursion limit (128).
    pub(crate) const MAX_DEPTH: usize = 64;

    pub(crate) fn new(s: &'a str) -> Self {
        Scanner { s, i: 0 }
    }

    /// Skip JSON whitespace.
    pub(crate) fn ws(&mut self) {
        let b = self.s.as_bytes();
        while matches!(b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.as_bytes().get(self.i).copied()
    }

    /// Whether only whitespace is left.
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// `null`, consumed if it is next.
    pub(crate) fn null(&mut self) -> bool {
        let is_null = self.peek() == Some(b'n') && self.s.as_bytes()[self.i..].starts_with(b"null");
        if is_null {
            self.i += 4;
        }
        is_null
    }

    /// A string. Control characters are refused, as JSON requires.
    pub(crate) fn string(&mut self) -> Option<RawStr<'a>> {
        self.eat(b'"')?;
        let start = self.i - 1;
        let b = self.s.as_bytes();
        let mut j = self.i;
        let mut escaped = false;
        loop {
            // Eight bytes at a time up to the next quote, backslash or control character.
            while let Some(word) = b.get(j..j + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(word);
                let special = special_bytes(u64::from_le_bytes(w));
                if special != 0 {
                    j += (special.trailing_zeros() / 8) as usize;
                    break;
                }
                j += 8;
            }
            match *b.get(j)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    j += 2;
                }
                0..=0x1f => return None,
                _ => j += 1,
            }
        }
        self.i = j + 1;
        Some(RawStr { quoted: self.s.get(start..self.i)?, escaped })
    }

    /// A string whose text between the quotes is `expected` (the text of a string this scanner
    /// read before, so known to be well formed), consumed if it is next; else nothing is consumed.
    pub(crate) fn string_as(&mut self, expected: &str) -> bool {
        if self.peek() != Some(b'"') {
            return false;
        }
        let from = self.i + 1;
        let to = from + expected.len();
        let b = self.s.as_bytes();
        let same = b.get(from..to) == Some(expected.as_bytes()) && b.get(to) == Some(&b'"');
        if same {
            self.i = to + 1;
        }
        same
    }

    /// An object: `member` is called at each value with its key and must consume the value.
    pub(crate) fn object(&mut self, mut member: impl FnMut(&mut Self, RawStr<'a>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            self.ws();
            member(self, key)?;
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array: `item` is called at each element and must consume it.
    pub(crate) fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            item(self)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Skip any value, checking it as serde_json would (its strings' escapes and its numbers
    /// are handed to serde_json).
    pub(crate) fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > Self::MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => self.object(|sc, _| sc.skip_value(depth + 1)),
            b'[' => self.array(|sc| sc.skip_value(depth + 1)),
            b'"' => self.string()?.value().map(drop),
            b't' | b'f' | b'n' => {
                let rest = &self.s.as_bytes()[self.i..];
                let len = [&b"true"[..], b"false", b"null"].into_iter().find(|w| rest.starts_with(w))?.len();
                self.i += len;
                Some(())
            }
            b'-' | b'0'..=b'9' => {
                let b = self.s.as_bytes();
                let start = self.i;
                while matches!(b.get(self.i), Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')) {
                    self.i += 1;
                }
                serde_json::from_str::<serde_json::Value>(self.s.get(start..self.i)?).ok().map(drop)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds_depth() {
        assert!(parse(r#"{"a":[1,-2.5e3,"x\u00e9\ud83d\ude00",true,null]}"#).is_ok());
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse(&deep).is_err());
        assert!(parse("{\"a\":1,}").is_err());
        assert!(parse("01").is_err());
        let e = parse("{\n  \"a\": x}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }

    #[test]
    fn statement_spans_are_positions() {
        let doc = "{\"Version\":\"2012-10-17\",\n\"Statement\":[{\"A\":1},\n  {\"B\":2}]}";
        let spans = statement_spans(doc);
        assert_eq!(spans.len(), 2);
        assert_eq!(spans[0].0, Position { line: 2, column: 14 });
        assert_eq!(spans[0].1, Position { line: 2, column: 21 });
        assert_eq!(spans[1].0, Position { line: 3, column: 3 });
        assert_eq!(statement_spans("{\"Statement\":{\"x\":1}}").len(), 1);
        assert!(statement_spans("nope").is_empty());
        let doc = "{\"Statement\": [\n  {\"A\": 1},\r\n\n {\"B\":\n2}\n ]}";
        let slow = |i: usize| {
            let e = Reader { s: doc.as_bytes(), i }.err();
            Position { line: e.line, column: e.column }
        };
        let spans = statement_spans(doc);
        assert_eq!(spans, vec![(slow(18), slow(26)), (slow(31), slow(39))]);
        assert_eq!(spans[1], (Position { line: 4, column: 2 }, Position { line: 5, column: 3 }));
    }

    #[test]
    fn keeps_duplicate_keys_in_order() {
        let v = parse(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(v, Json::Obj(vec![("a".into(), Json::Num("1".into())), ("a".into(), Json::Num("2".into()))]));
    }
}
