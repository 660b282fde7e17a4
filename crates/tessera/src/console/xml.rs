//! Reading the XML answers of the services (query, EC2 and S3 protocols) as a small tree.

use quick_xml::events::Event;
use quick_xml::Reader;

/// An element: local name, text, children.
#[derive(Debug, Default, Clone)]
pub struct Node {
    /// Local name (namespace prefix removed).
    pub name: String,
    /// Text content directly inside.
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Node>,
}

impl Node {
    /// The first descendant (depth first) named `name`.
    pub fn find(&self, name: &str) -> Option<&Node> {
        for c in &self.children {
            if c.name == name {
                return Some(c);
            }
            if let Some(n) = c.find(name) {
                return Some(n);
            }
        }
        None
    }

    /// The text of the first descendant named `name`, or empty.
    pub fn text_of(&self, name: &str) -> String {
        self.find(name).map(|n| n.text.clone()).unwrap_or_default()
    }

    /// The children of the first descendant named `list` that are named `item`
    /// (`Users` / `member`).
    pub fn list(&self, list: &str, item: &str) -> Vec<&Node> {
        self.find(list).map(|l| l.children.iter().filter(|c| c.name == item).collect()).unwrap_or_default()
    }

    /// Direct children named `name`.
    pub fn children_named(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }

    /// The text of the direct child `name`, or empty.
    pub fn child_text(&self, name: &str) -> String {
        self.children.iter().find(|c| c.name == name).map(|c| c.text.clone()).unwrap_or_default()
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => s.into_owned(),
    }
}

/// Parse `text` into a tree under an unnamed root; `None` if it is not well-formed.
pub fn parse(text: &str) -> Option<Node> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => stack.push(Node { name: local(e.name().as_ref()), ..Node::default() }),
            Event::Empty(e) => {
                let node = Node { name: local(e.name().as_ref()), ..Node::default() };
                stack.last_mut()?.children.push(node);
            }
            Event::End(_) => {
                let node = stack.pop()?;
                stack.last_mut()?.children.push(node);
            }
            Event::Text(t) => {
                let raw = String::from_utf8_lossy(t.as_ref()).into_owned();
                stack.last_mut()?.text.push_str(&unescape(&raw));
            }
            Event::CData(t) => stack.last_mut()?.text.push_str(&String::from_utf8_lossy(t.as_ref())),
            Event::GeneralRef(r) => {
                let name = String::from_utf8_lossy(r.as_ref()).into_owned();
                stack.last_mut()?.text.push_str(&unescape(&format!("&{name};")));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() == 1 {
        stack.pop()
    } else {
        None
    }
}

/// Replace XML's predefined and numeric character references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let num = if let Some(h) = entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else {
                    entity.strip_prefix('#').and_then(|d| d.parse().ok())
                };
                num.and_then(char::from_u32)
            }
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_list() {
        let xml = r#"<?xml version="1.0"?><ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult><Users><member><UserName>a&amp;b</UserName></member><member><UserName>c</UserName></member></Users><IsTruncated>false</IsTruncated></ListUsersResult></ListUsersResponse>"#;
        let n = parse(xml).unwrap();
        let users = n.list("Users", "member");
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].child_text("UserName"), "a&b");
        assert_eq!(n.text_of("IsTruncated"), "false");
        assert!(parse("<a><b></a>").is_none());
        assert_eq!(unescape("x &lt;&#65;&#x42;&bogus; y"), "x <AB&bogus; y");
    }
}
