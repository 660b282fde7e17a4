//! HTML helpers: escaping, URL parts, the page frame.

use std::fmt::Write as _;

/// Escape text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Everything but RFC 3986's unreserved characters.
const COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encode one path segment or query value.
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, COMPONENT).to_string()
}

/// A hidden CSRF field.
pub fn csrf_field(token: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, esc(token))
}

/// An AWS error as the console shows it: the code and AWS's message.
pub fn error_box(code: &str, message: &str) -> String {
    format!(
        r#"<div class="alert error" role="alert"><strong>{}</strong><p class="aws-message">{}</p></div>"#,
        esc(code),
        esc(message)
    )
}

/// A success/info message.
pub fn info_box(message: &str) -> String {
    format!(r#"<div class="alert info" role="status">{}</div>"#, esc(message))
}

/// A table: header cells and rows of already-escaped HTML cells.
pub fn table(id: &str, headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let mut out = format!(r#"<table class="list" id="{}"><thead><tr>"#, esc(id));
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(out, r#"<tr class="empty"><td colspan="{}">{}</td></tr>"#, headers.len().max(1), esc(empty));
    }
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// A link.
pub fn link(href: &str, text: &str) -> String {
    format!(r#"<a href="{}">{}</a>"#, esc(href), esc(text))
}

/// What the frame shows about who is signed in.
pub struct Header {
    /// `Sandy @ 123456789012` or the role's display name.
    pub who: String,
    /// The signed-in principal's own label, for "Back to".
    pub base_label: String,
    /// The role banner colour (when a role is active).
    pub role_colour: Option<String>,
    /// CSRF token for the header's forms.
    pub csrf: String,
    /// Recent roles: (account, role, display, colour).
    pub recent: Vec<(String, String, String, String)>,
}

/// The whole page.
pub fn page(title: &str, header: Option<&Header>, flash: Option<&str>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} | Tessera console</title>
<link rel="stylesheet" href="/console/static/console.css"><script src="/console/static/console.js" defer></script>
</head><body>
<header class="top"><a class="brand" href="/console">Tessera</a>"#,
        esc(title)
    );
    if let Some(h) = header {
        out.push_str(
            r#"<nav><a href="/console/iam">IAM</a><a href="/console/s3">S3</a><a href="/console/ec2">EC2</a></nav>"#,
        );
        let banner_class = match &h.role_colour {
            Some(c) => format!("who role role-{}", esc(c)),
            None => "who".to_string(),
        };
        let _ = write!(
            out,
            r#"<details class="menu"><summary class="{banner_class}" id="identity">{}</summary><div class="menu-body">"#,
            esc(&h.who)
        );
        out.push_str(r#"<a href="/console/security-credentials" id="security-credentials-link">Security credentials</a><a href="/console/switchrole" id="switch-role-link">Switch role</a>"#);
        if h.role_colour.is_some() {
            let _ = write!(
                out,
                r#"<form method="post" action="/console/switchback">{}<button type="submit" id="switch-back">Back to {}</button></form>"#,
                csrf_field(&h.csrf),
                esc(&h.base_label)
            );
        }
        if !h.recent.is_empty() {
            out.push_str(r#"<div class="recent"><span>Role history</span>"#);
            for (account, role, display, colour) in &h.recent {
                let _ = write!(
                    out,
                    r#"<form method="post" action="/console/switchrole">{}<input type="hidden" name="account" value="{}"><input type="hidden" name="role" value="{}"><input type="hidden" name="display" value="{}"><input type="hidden" name="colour" value="{}"><button type="submit" class="recent-role swatch-{}">{}</button></form>"#,
                    csrf_field(&h.csrf),
                    esc(account),
                    esc(role),
                    esc(display),
                    esc(colour),
                    esc(colour),
                    esc(display)
                );
            }
            out.push_str("</div>");
        }
        let _ = write!(
            out,
            r#"<form method="post" action="/console/signout">{}<button type="submit" id="sign-out">Sign out</button></form></div></details>"#,
            csrf_field(&h.csrf)
        );
    }
    out.push_str("</header><main>");
    if let Some(f) = flash {
        out.push_str(&info_box(f));
    }
    out.push_str(body);
    out.push_str("</main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(esc(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(enc("a b/c+d_e.f~-"), "a%20b%2Fc%2Bd_e.f~-");
        let p = page("<t>", None, Some("<f>"), "");
        assert!(p.contains("&lt;t&gt;") && p.contains("&lt;f&gt;") && !p.contains("<t>"));
    }
}
