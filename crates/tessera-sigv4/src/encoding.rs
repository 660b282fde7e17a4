//! URI encoding per SigV4: everything but `A-Za-z0-9-_.~` is `%XX`-encoded (uppercase hex).

use percent_encoding::{percent_decode, percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Characters encoded in query keys and values.
pub const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Characters encoded in a path (as `QUERY_SET`, but `/` is kept).
pub const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

/// Decoded `(key, value)` pairs of a raw query string. `+` is read as a space,
/// a pair without `=` has an empty value, empty pairs are skipped, malformed
/// `%` escapes are kept literally.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_component(k), decode_component(v))
    })
}

fn decode_component(s: &str) -> Vec<u8> {
    let plus: Vec<u8> = s.bytes().map(|b| if b == b'+' { b' ' } else { b }).collect();
    percent_decode(&plus).collect()
}

/// Encodes bytes with `QUERY_SET`.
pub fn encode_query(bytes: &[u8]) -> String {
    percent_encode(bytes, QUERY_SET).to_string()
}

/// Encodes a path with `PATH_SET` (used for the second encoding of non-S3 paths).
pub fn encode_path(path: &str) -> String {
    percent_encode(path.as_bytes(), PATH_SET).to_string()
}

/// Removes `.` and `..` segments and empty segments (`//`), as AWS SDKs do
/// for every service but S3. Keeps a trailing slash.
pub fn normalize_path(path: &str) -> String {
    let absolute = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
    if !(absolute.contains('.') || absolute.contains("//")) {
        return absolute;
    }
    let mut segments: Vec<&str> = Vec::new();
    for segment in absolute.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(absolute.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let trailing = ["/", "/.", "/..", "/./", "/../"].iter().any(|t| absolute.ends_with(t));
    if out.is_empty() || (trailing && !out.ends_with('/')) {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        for (i, o) in [
            ("", "/"),
            ("/", "/"),
            ("a", "/a"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../a", "/a"),
            ("/a/b/..", "/a/"),
            ("/a//b/", "/a/b/"),
            ("/a/.", "/a/"),
            ("/..", "/"),
            ("/a%2F../b", "/a%2F../b"),
        ] {
            assert_eq!(normalize_path(i), o, "{i}");
        }
    }

    #[test]
    fn encodes() {
        assert_eq!(encode_query(b"a b+c/~"), "a%20b%2Bc%2F~");
        assert_eq!(encode_path("/a b/%20/\u{e9}"), "/a%20b/%2520/%C3%A9");
        let pairs: Vec<_> = query_pairs("a=1&&b&c=x+y%2B%zz").collect();
        assert_eq!(
            pairs,
            vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"".to_vec()), (b"c".to_vec(), b"x y+%zz".to_vec()),]
        );
    }
}
